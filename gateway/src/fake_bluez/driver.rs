//! Moves the simulated radio along: story time advances, wearables measure (the simulator's
//! [`Wearable`]s, so the bytes are the ones the built-in simulator sends), links drop and come
//! back, devices advertise, values go out as `PropertiesChanged` of `Value`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use zbus::Connection;

use super::layout;
use super::objects::{Device, GattCharacteristic, Shared, link_down_state, unexport_gatt};
use super::state::{Delivered, RacpExchange};
use crate::gatt::Characteristic;
use crate::gatt::racp::RACP_UUID;
use crate::sim::Wearable;

/// Indications a device keeps while disconnected (a cuff's memory).
const DEVICE_MEMORY: usize = 1000;

enum Action {
    Export(usize),
    Advert(usize),
    LinkDown(usize),
    Emit {
        idx: usize,
        characteristic: Characteristic,
        bytes: Vec<u8>,
    },
    /// An indication of the Record Access Control Point.
    Answer {
        idx: usize,
        bytes: Vec<u8>,
    },
}

pub async fn drive(
    shared: Arc<Shared>,
    conn: Connection,
    mut wearables: Vec<Wearable>,
    tick: Duration,
    advert_every: Duration,
    shutdown: CancellationToken,
) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        if let Err(e) = step(&shared, &conn, &mut wearables, advert_every).await {
            tracing::warn!(error = %e, "simulated BlueZ: a step failed");
        }
    }
}

async fn step(
    shared: &Arc<Shared>,
    conn: &Connection,
    wearables: &mut [Wearable],
    advert_every: Duration,
) -> zbus::Result<()> {
    let _gate = shared.gate.lock().await;
    let now_ms = crate::now_ms();
    let now = Instant::now();
    let mut actions = Vec::new();
    {
        let mut w = shared.world();
        let t_s = w.t_s();
        while w.stalls.front().is_some_and(|&s| t_s >= s) {
            w.stalls.pop_front();
            if w.discovering {
                tracing::info!(t_s, "simulated BlueZ: discovery stalls (adverts stop, Discovering stays true)");
                w.stalled = true;
            }
        }
        let scanning = w.discovering && !w.stalled;
        let paused = w.paused;
        for (idx, r) in w.radios.iter_mut().enumerate() {
            while r.drops.front().is_some_and(|&d| t_s >= d) {
                r.drops.pop_front();
                r.out_until_s = Some(if r.plan.never_returns { f64::INFINITY } else { t_s + r.plan.out_of_range_s });
                if r.connected {
                    r.report.link_drops += 1;
                    link_down_state(r);
                    actions.push(Action::LinkDown(idx));
                }
            }
            let packets = if paused { Vec::new() } else { wearables[idx].poll(t_s, now_ms) };
            if r.connected {
                let mut keep = VecDeque::new();
                while let Some((c, bytes)) = r.queue.pop_front() {
                    if r.notifying.contains(&c.uuid()) {
                        actions.push(Action::Emit { idx, characteristic: c, bytes });
                    } else {
                        keep.push_back((c, bytes));
                    }
                }
                r.queue = keep;
            }
            // Requests on the control point: the records, then the answer.
            while r.connected
                && let Some(written) = r.racp_jobs.pop_front()
                && let Some(memory) = r.memory.as_mut()
            {
                let characteristic = memory.characteristic;
                let (mut records, answer) = memory.serve(&written);
                let cut =
                    r.plan.racp_drop_after_records.map(|n| n as usize).filter(|&n| !r.racp_cut && n < records.len());
                if let Some(n) = cut {
                    // The link drops in the middle of the transfer: n records, no answer.
                    tracing::info!(t_s, device = %r.device_id, records = n, "simulated BlueZ: link drops during a transfer of stored records");
                    r.racp_cut = true;
                    records.truncate(n);
                    r.report.racp.push(RacpExchange { request: written, records: n, response: Vec::new() });
                    for bytes in records {
                        actions.push(Action::Emit { idx, characteristic, bytes });
                    }
                    r.out_until_s = Some(t_s + r.plan.out_of_range_s);
                    r.report.link_drops += 1;
                    link_down_state(r);
                    actions.push(Action::LinkDown(idx));
                    break;
                }
                let response = answer.encode();
                r.report.racp.push(RacpExchange {
                    request: written,
                    records: records.len(),
                    response: response.clone(),
                });
                for bytes in records {
                    actions.push(Action::Emit { idx, characteristic, bytes });
                }
                actions.push(Action::Answer { idx, bytes: response });
            }
            for p in packets {
                let uuid = p.characteristic.uuid();
                if p.characteristic == Characteristic::BatteryLevel {
                    r.values.insert(uuid, p.bytes.clone());
                }
                let live = r.connected && r.notifying.contains(&uuid);
                if r.keeps_records
                    && let Some(memory) = r.memory.as_mut()
                    && memory.characteristic == p.characteristic
                    // Meters hand records over only when asked; oximeters send live when they can.
                    && (p.characteristic == Characteristic::GlucoseMeasurement || !live)
                {
                    memory.store(p.bytes);
                    continue;
                }
                if r.connected && r.notifying.contains(&uuid) {
                    actions.push(Action::Emit { idx, characteristic: p.characteristic, bytes: p.bytes });
                } else if layout::is_indicated(p.characteristic) && r.queue.len() < DEVICE_MEMORY {
                    r.queue.push_back((p.characteristic, p.bytes));
                } else {
                    r.report.dropped += 1;
                }
            }
            let in_range = r.in_range(t_s);
            let unreported = r.memory.as_ref().is_some_and(|m| m.unreported);
            let wants =
                !layout::advertises_only_with_data(r.kind) || !r.queue.is_empty() || !r.ever_connected || unreported;
            if scanning && in_range && !r.exported {
                r.exported = true;
                r.last_advert = Some(now);
                r.report.advertisements += 1;
                actions.push(Action::Export(idx));
            } else if scanning
                && in_range
                && r.exported
                && !r.connected
                && wants
                && r.last_advert.is_none_or(|a| now.duration_since(a) >= advert_every)
            {
                r.last_advert = Some(now);
                r.report.advertisements += 1;
                // Signal strength wanders a little, as it does.
                let wobble = (r.report.advertisements % 5) as i16 - 2;
                r.rssi = r.plan.rssi + wobble;
                actions.push(Action::Advert(idx));
            }
        }
    }
    let server = conn.object_server();
    for action in actions {
        match action {
            Action::Export(idx) => {
                let path = shared.world().radios[idx].path.clone();
                server.at(path.as_str(), Device { shared: shared.clone(), idx }).await?;
            }
            Action::Advert(idx) => {
                let path = shared.world().radios[idx].path.clone();
                let iface = server.interface::<_, Device>(path.as_str()).await?;
                iface.get().await.r_s_s_i_changed(iface.signal_emitter()).await?;
            }
            Action::LinkDown(idx) => {
                let path = shared.world().radios[idx].path.clone();
                let iface = server.interface::<_, Device>(path.as_str()).await?;
                {
                    let dev = iface.get().await;
                    dev.services_resolved_changed(iface.signal_emitter()).await?;
                    dev.connected_changed(iface.signal_emitter()).await?;
                }
                unexport_gatt(shared, server, idx).await?;
            }
            Action::Answer { idx, bytes } => {
                let path = {
                    let mut w = shared.world();
                    let r = &mut w.radios[idx];
                    r.values.insert(RACP_UUID, bytes);
                    r.char_path(RACP_UUID).expect("a device with a memory has a control point")
                };
                let iface = server.interface::<_, GattCharacteristic>(path.as_str()).await?;
                iface.get().await.value_changed(iface.signal_emitter()).await?;
            }
            Action::Emit { idx, characteristic, bytes } => {
                let uuid = characteristic.uuid();
                let path = {
                    let mut w = shared.world();
                    let r = &mut w.radios[idx];
                    r.values.insert(uuid, bytes.clone());
                    r.char_path(uuid).expect("the layout has every characteristic a wearable sends")
                };
                let iface = server.interface::<_, GattCharacteristic>(path.as_str()).await?;
                iface.get().await.value_changed(iface.signal_emitter()).await?;
                let mut w = shared.world();
                let at_s = w.t_s();
                let r = &w.radios[idx];
                let d = Delivered {
                    device_id: r.device_id.clone(),
                    characteristic,
                    bytes,
                    at_s,
                    session: r.report.connects,
                    read: false,
                };
                w.delivered.push(d);
            }
        }
    }
    Ok(())
}
