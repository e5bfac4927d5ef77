//! Runs a scenario: every tick, each wearable's due packets go through the real decoders into
//! the outbox, and the uplink is woken.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Scenario, Wearable};
use crate::forward::{note_seen, readings_from_packet};
use crate::outbox::{Outbox, OutboxError};
use crate::uplink::DeviceBoard;

#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub scenario: Scenario,
    /// How often wearables are polled.
    pub tick: Duration,
    /// Story time per wall-clock second (1 = real time; 60 = a minute a second).
    pub speed: f64,
}

impl SimulatorConfig {
    pub fn new(scenario: Scenario) -> Self {
        SimulatorConfig { scenario, tick: Duration::from_millis(500), speed: 1.0 }
    }
}

/// What the simulator did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SimStats {
    pub packets: u64,
    pub readings: u64,
    pub undecodable: u64,
}

pub async fn run(
    cfg: SimulatorConfig,
    outbox: Arc<Outbox>,
    wake: Arc<Notify>,
    devices: DeviceBoard,
    shutdown: CancellationToken,
) -> Result<SimStats, OutboxError> {
    let mut wearables: Vec<Wearable> = cfg.scenario.devices.iter().cloned().map(Wearable::new).collect();
    let start = Instant::now();
    let mut stats = SimStats::default();
    let mut tick = tokio::time::interval(cfg.tick);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(stats),
            _ = tick.tick() => {}
        }
        let t_s = start.elapsed().as_secs_f64() * cfg.speed;
        let now_ms = crate::now_ms();
        let mut batch = Vec::new();
        for w in &mut wearables {
            for p in w.poll(t_s, now_ms) {
                stats.packets += 1;
                match readings_from_packet(&p.device_id, p.characteristic, &p.bytes, now_ms) {
                    Ok(readings) => {
                        note_seen(&devices, &p.device_id, &readings, now_ms);
                        batch.extend(readings);
                    }
                    Err(e) => {
                        stats.undecodable += 1;
                        tracing::warn!(device = %p.device_id, error = %e, "undecodable packet dropped at the gateway");
                    }
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        stats.readings += batch.len() as u64;
        let ob = outbox.clone();
        tokio::task::spawn_blocking(move || ob.push(&batch)).await.expect("outbox task")?;
        wake.notify_one();
    }
}
