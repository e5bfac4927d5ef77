//! One device's task: wait until it is worth connecting, take a connection slot, connect,
//! discover, subscribe, read, forward notifications until the link ends; then again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use btleplug::api::{Central as _, CharPropFlags, Characteristic as GattChar, Peripheral as _, ValueNotification};
use btleplug::platform::{Peripheral, PeripheralId};
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::Instant;

use super::forwarder::Job;
use super::records::{self, Transfer};
use super::{Allowed, BleError, Ctx, Received, Seen};
use crate::config::ConnectionMode;
use crate::gatt::racp::RACP_UUID;
use crate::gatt::{Characteristic, sig_uuid};

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Shutdown,
    LinkLost,
    Idle,
    Stale,
}

/// 1, 10, 100...: when a repeated failure is worth a warning.
fn power_of_ten(mut n: u64) -> bool {
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

/// Device Information strings read on connection.
const MANUFACTURER: u16 = 0x2A29;
const MODEL: u16 = 0x2A24;
const SERIAL: u16 = 0x2A25;
const FIRMWARE: u16 = 0x2A26;

/// Runs device `i` until shutdown. Errors of one connection are handled here (backoff, retry);
/// an error returned means something unexpected, and the supervisor restarts the task.
pub async fn run(ctx: Arc<Ctx>, i: usize) -> Result<(), BleError> {
    let dev = &ctx.devices[i];
    let device_id = dev.entry.device_id.clone();
    let mode = dev.entry.mode();
    let mut adverts = dev.advert.subscribe();
    let mut backoff = ctx.backoff();
    // The advertisement count already acted on: a connection needs a newer one...
    let mut used: u64 = 0;
    // ...except that a persistent device is retried blind (with its last known id) at this time.
    let mut blind_at: Option<Instant> = None;
    let mut failures_in_a_row: u64 = 0;
    loop {
        let Some(seen) = wait_for_reason(&ctx, &mut adverts, used, blind_at).await else { return Ok(()) };
        used = seen.count;
        let Some(permits) = take_slot(&ctx, mode).await else { return Ok(()) };
        let outcome = session(&ctx, i, &seen.id).await;
        drop(permits);
        dev.connected.store(false, Ordering::Relaxed);
        ctx.stats.update(&device_id, |d| d.connected = false);
        // Adverts heard during the session are no reason to connect again.
        used = used.max(adverts.borrow().as_ref().map_or(0, |s| s.count));
        match outcome {
            Ok(End::Shutdown) => return Ok(()),
            Ok(end) => {
                backoff.reset();
                failures_in_a_row = 0;
                blind_at = match (mode, end) {
                    (ConnectionMode::Persistent, End::Stale) => Some(Instant::now()),
                    (ConnectionMode::Persistent, _) => Some(Instant::now() + ctx.settings.backoff_max()),
                    (ConnectionMode::OnDemand, _) => None,
                };
                if end == End::LinkLost {
                    tracing::info!(device = %device_id, "link lost; reconnecting when the device is back");
                }
                if end == End::Idle {
                    // Some devices keep advertising for a while after handing their data over:
                    // a pause, so that they are not reconnected in a loop.
                    tokio::select! {
                        _ = ctx.shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(ctx.settings.idle_disconnect()) => {}
                    }
                }
            }
            Err(e) => {
                ctx.stats.connect_failures.fetch_add(1, Ordering::Relaxed);
                ctx.stats.update(&device_id, |d| d.last_error = Some(e.to_string()));
                let delay = backoff.next_delay();
                failures_in_a_row += 1;
                // A device away for days must not flood the log: the 1st, 10th, 100th... failure.
                if power_of_ten(failures_in_a_row) {
                    tracing::warn!(device = %device_id, error = %e, failures_in_a_row, retry_in_s = delay.as_secs_f64(), "connection failed");
                } else {
                    tracing::debug!(device = %device_id, error = %e, failures_in_a_row, "connection failed");
                }
                tokio::select! {
                    _ = ctx.shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(delay) => {}
                }
                // Persistent devices try again now (with their last id) even without an advert.
                blind_at = (mode == ConnectionMode::Persistent).then(Instant::now);
            }
        }
    }
}

/// Waits for an advertisement newer than `used`, or until `blind_at` (then reuses the last one
/// heard). `None` on shutdown.
async fn wait_for_reason(
    ctx: &Ctx,
    adverts: &mut watch::Receiver<Option<Seen>>,
    used: u64,
    blind_at: Option<Instant>,
) -> Option<Seen> {
    loop {
        let current = adverts.borrow_and_update().clone();
        if let Some(seen) = &current
            && (seen.count > used || blind_at.is_some_and(|t| t <= Instant::now()))
        {
            return current;
        }
        let blind = async {
            match (blind_at, &current) {
                (Some(t), Some(_)) => tokio::time::sleep_until(t).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return None,
            r = adverts.changed() => if r.is_err() { return None },
            _ = blind => {}
        }
    }
}

/// A connection slot (and, for persistent devices, one of theirs). `None` on shutdown.
async fn take_slot(ctx: &Ctx, mode: ConnectionMode) -> Option<(OwnedSemaphorePermit, Option<OwnedSemaphorePermit>)> {
    let own = match mode {
        ConnectionMode::Persistent => tokio::select! {
            _ = ctx.shutdown.cancelled() => return None,
            p = ctx.persistent_slots.clone().acquire_owned() => Some(p.ok()?),
        },
        ConnectionMode::OnDemand => None,
    };
    let any = tokio::select! {
        _ = ctx.shutdown.cancelled() => return None,
        p = ctx.slots.clone().acquire_owned() => p.ok()?,
    };
    Some((any, own))
}

async fn within<T, E>(what: &'static str, limit: Duration, f: impl Future<Output = Result<T, E>>) -> Result<T, BleError>
where
    BleError: From<E>,
{
    match tokio::time::timeout(limit, f).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(BleError::Timeout { what, secs: limit.as_secs_f64() }),
    }
}

/// One connection, from Connect to its end. Whatever happens, the link is closed afterwards.
async fn session(ctx: &Ctx, i: usize, id: &PeripheralId) -> Result<End, BleError> {
    let dev = &ctx.devices[i];
    let limit = ctx.settings.connect_timeout();
    let peripheral = within("looking the device up", limit, ctx.adapter.peripheral(id)).await?;
    let mut disconnects = dev.disconnects.subscribe();
    disconnects.borrow_and_update();
    {
        let _one_at_a_time = ctx.connect_lock.lock().await;
        if ctx.shutdown.is_cancelled() {
            return Ok(End::Shutdown);
        }
        if let Err(e) = within("connecting", limit, peripheral.connect()).await {
            // A half-made connection would hold the device; close it.
            let _ = tokio::time::timeout(Duration::from_secs(5), peripheral.disconnect()).await;
            return Err(e);
        }
    }
    let outcome = connected(ctx, i, &peripheral, &mut disconnects).await;
    if outcome.is_err() {
        let _ = tokio::time::timeout(Duration::from_secs(5), peripheral.disconnect()).await;
    }
    outcome
}

async fn connected(
    ctx: &Ctx,
    i: usize,
    peripheral: &Peripheral,
    disconnects: &mut watch::Receiver<u64>,
) -> Result<End, BleError> {
    let dev = &ctx.devices[i];
    let device_id = dev.entry.device_id.as_str();
    dev.connected.store(true, Ordering::Relaxed);
    ctx.stats.connects.fetch_add(1, Ordering::Relaxed);
    let limit = ctx.settings.connect_timeout();
    within("service discovery", limit, peripheral.discover_services()).await?;
    let chars = peripheral.characteristics();

    // Reads first: BlueZ reports a read value as a change of `Value` too, and that must not
    // come back through the notification stream as a second reading.
    if let Some(c) = find(&chars, sig_uuid(0x2A19)).filter(|c| c.properties.contains(CharPropFlags::READ)) {
        match within("reading the battery level", limit, peripheral.read(c)).await {
            Ok(bytes) => {
                ctx.stats.reads.fetch_add(1, Ordering::Relaxed);
                forward(ctx, device_id, Characteristic::BatteryLevel, bytes, Vec::new()).await;
            }
            Err(e) => tracing::debug!(device = %device_id, error = %e, "battery level not readable"),
        }
    }
    let mut info = [None, None, None, None];
    for (slot, short) in info.iter_mut().zip([MANUFACTURER, MODEL, SERIAL, FIRMWARE]) {
        if let Some(c) = find(&chars, sig_uuid(short)).filter(|c| c.properties.contains(CharPropFlags::READ))
            && let Ok(bytes) = within("reading device information", limit, peripheral.read(c)).await
        {
            *slot = Some(String::from_utf8_lossy(&bytes).trim_end_matches('\0').trim().to_owned());
        }
    }
    let rssi = peripheral.properties().await.ok().flatten().and_then(|p| p.rssi);
    crate::forward::note_radio(&ctx.board, device_id, rssi, crate::now_ms());

    // The stream before the subscriptions, so that nothing sent in between is missed.
    let mut notifications = peripheral.notifications().await?;
    let mut subscribed = Vec::new();
    for c in &chars {
        let Some(known) = Characteristic::from_uuid(c.uuid.as_u128()) else { continue };
        if c.properties.intersects(CharPropFlags::NOTIFY | CharPropFlags::INDICATE) {
            within("subscribing", limit, peripheral.subscribe(c)).await?;
            ctx.stats.subscriptions.fetch_add(1, Ordering::Relaxed);
            subscribed.push(known);
        }
    }
    let sessions = {
        let mut n = 0;
        ctx.stats.update(device_id, |d| {
            d.connected = true;
            d.sessions += 1;
            n = d.sessions;
            d.subscribed = subscribed.clone();
            let [m, mo, s, f] = info.clone();
            d.manufacturer = m.or(d.manufacturer.take());
            d.model = mo.or(d.model.take());
            d.serial = s.or(d.serial.take());
            d.firmware = f.or(d.firmware.take());
            d.last_error = None;
        });
        n
    };
    if sessions == 1 {
        tracing::info!(
            device = %device_id,
            model = info[1].as_deref().unwrap_or("?"),
            firmware = info[3].as_deref().unwrap_or("?"),
            subscribed = subscribed.len(),
            "device connected for the first time"
        );
    } else {
        tracing::debug!(device = %device_id, subscribed = subscribed.len(), "device connected");
    }

    // Stored records (glucose meters, some oximeters): ask for those not forwarded yet.
    let mut transfer: Option<Transfer> = None;
    if let Some((cp, profile)) = records::control_point(&chars) {
        match within("subscribing", limit, peripheral.subscribe(&cp)).await {
            Ok(()) => {
                ctx.stats.subscriptions.fetch_add(1, Ordering::Relaxed);
                let request = records::request_for(ctx, dev, profile);
                transfer = records::start(ctx, dev, peripheral, &cp, profile, request).await;
            }
            Err(e) => {
                tracing::warn!(device = %device_id, error = %e, "cannot subscribe to the record access control point; stored records not fetched")
            }
        }
    }

    let idle = match dev.entry.mode() {
        ConnectionMode::OnDemand => Some((ctx.settings.idle_disconnect(), End::Idle)),
        ConnectionMode::Persistent => ctx.settings.stale_after().map(|s| (s, End::Stale)),
    };
    let mut last_data = Instant::now();
    loop {
        let racp_deadline = transfer.as_ref().map(|t| t.deadline);
        let quiet = async {
            match (racp_deadline, idle) {
                // Not let go while the device is handing its stored records over.
                (Some(deadline), _) => tokio::time::sleep_until(deadline).await,
                (None, Some((limit, _))) => tokio::time::sleep_until(last_data + limit).await,
                (None, None) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ctx.shutdown.cancelled() => {
                let _ = tokio::time::timeout(Duration::from_secs(5), peripheral.disconnect()).await;
                drain(ctx, dev, &mut transfer, &mut notifications).await;
                return Ok(End::Shutdown);
            }
            n = notifications.next() => match n {
                Some(v) => {
                    last_data = Instant::now();
                    on_value(ctx, dev, &mut transfer, v).await;
                }
                None => return Err(BleError::EventsEnded),
            },
            changed = disconnects.changed() => {
                if changed.is_err() {
                    return Ok(End::Shutdown);
                }
                // A late event from an earlier link is no reason to give this one up.
                if !peripheral.is_connected().await.unwrap_or(false) {
                    ctx.stats.link_losses.fetch_add(1, Ordering::Relaxed);
                    drain(ctx, dev, &mut transfer, &mut notifications).await;
                    return Ok(End::LinkLost);
                }
            }
            _ = quiet => {
                if let Some(t) = transfer.take() {
                    records::timed_out(ctx, device_id, t);
                    last_data = Instant::now();
                    continue;
                }
                let end = idle.map_or(End::Idle, |(_, end)| end);
                let counter = if end == End::Idle { &ctx.stats.idle_disconnects } else { &ctx.stats.stale_disconnects };
                counter.fetch_add(1, Ordering::Relaxed);
                if end == End::Stale {
                    tracing::warn!(device = %device_id, "no data for a long time on a live link; reconnecting");
                }
                let _ = tokio::time::timeout(Duration::from_secs(5), peripheral.disconnect()).await;
                drain(ctx, dev, &mut transfer, &mut notifications).await;
                return Ok(end);
            }
        }
    }
}

fn find(chars: &std::collections::BTreeSet<GattChar>, uuid: u128) -> Option<&GattChar> {
    chars.iter().find(|c| c.uuid.as_u128() == uuid)
}

/// Forwards what the notification stream already holds (values sent before the link went
/// down arrive before the news of it, but may still be queued; stored records among them are
/// still recognised as such).
async fn drain(
    ctx: &Ctx,
    dev: &Allowed,
    transfer: &mut Option<Transfer>,
    notifications: &mut (impl Stream<Item = ValueNotification> + Unpin),
) {
    while let Some(Some(v)) = notifications.next().now_or_never() {
        on_value(ctx, dev, transfer, v).await;
    }
}

/// A notification or indication: the answer of the record access control point, or a value to
/// forward (unless it is a stored record forwarded before).
async fn on_value(ctx: &Ctx, dev: &Allowed, transfer: &mut Option<Transfer>, v: ValueNotification) {
    let device_id = dev.entry.device_id.as_str();
    if v.uuid.as_u128() == RACP_UUID {
        if let Some(update) = records::answer(ctx, dev, transfer, &v.value)
            && ctx.packets.send(Job::Marks(update)).await.is_err()
        {
            tracing::error!(device = %device_id, "the forwarder is gone; stored-record marks not kept");
        }
        return;
    }
    ctx.stats.notifications.fetch_add(1, Ordering::Relaxed);
    let Some(c) = Characteristic::from_uuid(v.uuid.as_u128()) else {
        tracing::debug!(device = %device_id, uuid = %v.uuid, "ignoring a value of a characteristic we do not decode");
        return;
    };
    let Some(marks) = records::measurement(ctx, dev, transfer, c, &v.value) else { return };
    if c == Characteristic::GlucoseMeasurement {
        records::note_glucose_record(dev, &v.value);
    }
    forward(ctx, device_id, c, v.value, marks).await
}

async fn forward(
    ctx: &Ctx,
    device_id: &str,
    characteristic: Characteristic,
    bytes: Vec<u8>,
    marks: Vec<(String, u64)>,
) {
    let received =
        Received { device_id: device_id.to_owned(), characteristic, bytes, received_ms: crate::now_ms(), marks };
    // Bounded: a slow disk slows the radio side down rather than filling memory.
    if ctx.packets.send(Job::Packet(received)).await.is_err() {
        tracing::error!(device = %device_id, "the forwarder is gone; a packet was lost");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn warns_on_the_1st_10th_100th_failure() {
        let warned: Vec<u64> = (1..=1000).filter(|n| super::power_of_ten(*n)).collect();
        assert_eq!(warned, vec![1, 10, 100, 1000]);
    }
}
