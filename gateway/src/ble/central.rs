//! The adapter side: finding the adapter, routing its events to device tasks, and keeping
//! discovery alive.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use btleplug::api::{Central, CentralEvent, Manager as _, Peripheral as _, ScanFilter};
use btleplug::platform::{Adapter, Manager, PeripheralId};
use futures::StreamExt;

use super::{BleError, Ctx, Seen};
use crate::config::BleAddress;

/// Connects to BlueZ and finds the adapter named `wanted` (e.g. `hci0`), or the first one.
pub async fn open_adapter(wanted: Option<&str>) -> Result<Adapter, BleError> {
    let manager = Manager::new().await.map_err(BleError::NoBluez)?;
    let adapters = manager.adapters().await.map_err(BleError::NoBluez)?;
    if adapters.is_empty() {
        return Err(BleError::NoAdapter);
    }
    let Some(wanted) = wanted else {
        return Ok(adapters.into_iter().next().expect("not empty"));
    };
    let mut present = Vec::new();
    for a in adapters {
        // "hci0 (usb:v1D6Bp0246d0548)"
        let info = a.adapter_info().await.unwrap_or_default();
        if info.split_whitespace().next() == Some(wanted) {
            return Ok(a);
        }
        present.push(info);
    }
    Err(BleError::AdapterNotFound { wanted: wanted.to_owned(), present: present.join(", ") })
}

/// Which allowlisted device (if any) a peripheral is; cached per peripheral id.
async fn resolve(ctx: &Ctx, known: &mut HashMap<PeripheralId, Option<usize>>, id: &PeripheralId) -> Option<usize> {
    if let Some(found) = known.get(id) {
        return *found;
    }
    // The device may already be gone again; then we learn who it is next time.
    let peripheral = ctx.adapter.peripheral(id).await.ok()?;
    let address = BleAddress(peripheral.address().into_inner());
    let found = ctx.by_address.get(&address).copied();
    if found.is_none() {
        ctx.stats.ignored_devices.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%address, "ignoring a device that is not on the allowlist");
    }
    known.insert(id.clone(), found);
    found
}

/// Reads the adapter's events and routes them to the device tasks. Returns when `shutdown` is
/// cancelled, or with an error when the event stream ends.
pub async fn event_pump(ctx: Arc<Ctx>) -> Result<(), BleError> {
    let mut events = ctx.adapter.events().await?;
    let mut known: HashMap<PeripheralId, Option<usize>> = HashMap::new();
    loop {
        let event = tokio::select! {
            _ = ctx.shutdown.cancelled() => return Ok(()),
            e = events.next() => e,
        };
        let Some(event) = event else { return Err(BleError::EventsEnded) };
        match event {
            CentralEvent::DeviceDiscovered(id)
            | CentralEvent::DeviceUpdated(id)
            | CentralEvent::ServicesAdvertisement { id, .. }
            | CentralEvent::ServiceDataAdvertisement { id, .. }
            | CentralEvent::ManufacturerDataAdvertisement { id, .. } => advert(&ctx, &mut known, id, None).await,
            CentralEvent::RssiUpdate { id, rssi } => advert(&ctx, &mut known, id, Some(rssi)).await,
            CentralEvent::DeviceDisconnected(id) => {
                if let Some(i) = resolve(&ctx, &mut known, &id).await {
                    ctx.devices[i].disconnects.send_modify(|n| *n += 1);
                }
            }
            CentralEvent::StateUpdate(state) => tracing::info!(?state, "Bluetooth adapter state changed"),
            CentralEvent::DeviceConnected(_) | CentralEvent::DeviceServicesModified(_) => {}
        }
    }
}

async fn advert(ctx: &Ctx, known: &mut HashMap<PeripheralId, Option<usize>>, id: PeripheralId, rssi: Option<i16>) {
    ctx.heard_something();
    let Some(i) = resolve(ctx, known, &id).await else { return };
    let dev = &ctx.devices[i];
    dev.advert.send_modify(|seen| {
        let count = seen.as_ref().map_or(0, |s| s.count) + 1;
        *seen = Some(Seen { id, count });
    });
    crate::forward::note_radio(&ctx.board, &dev.entry.device_id, rssi, crate::now_ms());
}

/// Keeps discovery running: starts it, and restarts it when nothing at all was heard for
/// `scan_watchdog_s` while some device waits to be connected.
pub async fn scanner(ctx: Arc<Ctx>) -> Result<(), BleError> {
    let watchdog = ctx.settings.scan_watchdog();
    let check = (watchdog / 4).clamp(Duration::from_millis(20), Duration::from_secs(5));
    loop {
        start_discovery(&ctx.adapter).await?;
        ctx.stats.scan_starts.fetch_add(1, Ordering::Relaxed);
        ctx.heard_something();
        loop {
            tokio::select! {
                _ = ctx.shutdown.cancelled() => {
                    let _ = ctx.adapter.stop_scan().await;
                    return Ok(());
                }
                _ = tokio::time::sleep(check) => {}
            }
            let quiet = ctx.quiet_for();
            if quiet >= watchdog && ctx.any_device_waiting() {
                tracing::warn!(quiet_s = quiet.as_secs_f64(), "no advertisement heard: restarting discovery");
                ctx.stats.scan_restarts.fetch_add(1, Ordering::Relaxed);
                let _ = ctx.adapter.stop_scan().await;
                break;
            }
        }
    }
}

/// Starts discovery; if BlueZ says one is already running (ours, from before a restart), stops
/// it and starts again.
pub async fn start_discovery(adapter: &Adapter) -> Result<(), BleError> {
    if let Err(first) = adapter.start_scan(ScanFilter::default()).await {
        tracing::debug!(error = %first, "starting discovery failed; stopping and starting again");
        let _ = adapter.stop_scan().await;
        adapter.start_scan(ScanFilter::default()).await?;
    }
    Ok(())
}
