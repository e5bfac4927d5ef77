//! A whole gateway in one handle: a producer (the simulator, or real Bluetooth) feeding the
//! outbox, and the uplink draining it. Used by `eldercare-gateway simulate` and `run`, the
//! server's demo and the tests.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::outbox::{Outbox, OutboxError};
use crate::sim::{self, SimulatorConfig};
use crate::uplink::{self, DeviceBoard, UplinkConfig, UplinkStats};

pub struct SimulatedGatewayConfig {
    pub uplink: UplinkConfig,
    pub outbox_dir: PathBuf,
    pub outbox_capacity: u64,
    pub simulator: SimulatorConfig,
}

/// What the producer did: packets received, readings put in the outbox, packets refused.
pub type ProducerStats = sim::run::SimStats;

pub struct GatewayHandle {
    pub outbox: Arc<Outbox>,
    pub stats: Arc<UplinkStats>,
    pub devices: DeviceBoard,
    /// Bluetooth counters and link states, when the producer is real Bluetooth.
    #[cfg(feature = "ble")]
    pub ble: Option<Arc<crate::ble::BleStats>>,
    shutdown: CancellationToken,
    producer: JoinHandle<anyhow::Result<ProducerStats>>,
    uplink: JoinHandle<Result<(), uplink::UplinkError>>,
}

/// Opens the outbox and starts the simulator and the uplink.
pub fn start_simulated(cfg: SimulatedGatewayConfig) -> Result<GatewayHandle, OutboxError> {
    let outbox = Arc::new(Outbox::open(&cfg.outbox_dir, cfg.outbox_capacity)?);
    let wake = Arc::new(Notify::new());
    let devices = DeviceBoard::default();
    let shutdown = CancellationToken::new();
    let sim = sim::run(cfg.simulator, outbox.clone(), wake.clone(), devices.clone(), shutdown.child_token());
    let producer = tokio::spawn(async move { Ok(sim.await?) });
    Ok(start_uplink(cfg.uplink, outbox, wake, devices, shutdown, producer))
}

fn start_uplink(
    cfg: UplinkConfig,
    outbox: Arc<Outbox>,
    wake: Arc<Notify>,
    devices: DeviceBoard,
    shutdown: CancellationToken,
    producer: JoinHandle<anyhow::Result<ProducerStats>>,
) -> GatewayHandle {
    let stats = Arc::new(UplinkStats::default());
    let uplink =
        tokio::spawn(uplink::run(cfg, outbox.clone(), wake, devices.clone(), stats.clone(), shutdown.child_token()));
    GatewayHandle {
        outbox,
        stats,
        devices,
        #[cfg(feature = "ble")]
        ble: None,
        shutdown,
        producer,
        uplink,
    }
}

/// A gateway on real Bluetooth.
#[cfg(feature = "ble")]
#[derive(Debug, Clone)]
pub struct BleGatewayConfig {
    pub uplink: UplinkConfig,
    pub outbox_dir: PathBuf,
    pub outbox_capacity: u64,
    pub ble: crate::ble::BleConfig,
}

#[cfg(feature = "ble")]
impl From<&crate::config::GatewayConfig> for BleGatewayConfig {
    fn from(cfg: &crate::config::GatewayConfig) -> Self {
        BleGatewayConfig {
            uplink: UplinkConfig::new(&cfg.gateway_id, cfg.mqtt_url.clone()),
            outbox_dir: cfg.outbox_dir.clone(),
            outbox_capacity: cfg.outbox_capacity,
            ble: cfg.into(),
        }
    }
}

/// Finds the Bluetooth adapter (failing now, with a clear error, when there is none), opens the
/// outbox, and starts Bluetooth and the uplink. With `cfg.uplink.bindings` set, the devices are
/// those of the server's binding (see [`crate::binding`]), and Bluetooth restarts with the new
/// list whenever a binding with other devices arrives.
#[cfg(feature = "ble")]
pub async fn start_ble(cfg: BleGatewayConfig) -> anyhow::Result<GatewayHandle> {
    use anyhow::Context;
    use std::sync::atomic::Ordering;

    let adapter = crate::ble::open_adapter(cfg.ble.settings.adapter.as_deref()).await?;
    let outbox = Arc::new(
        Outbox::open(&cfg.outbox_dir, cfg.outbox_capacity)
            .with_context(|| format!("opening the outbox in {}", cfg.outbox_dir.display()))?,
    );
    let wake = Arc::new(Notify::new());
    let devices = DeviceBoard::default();
    let shutdown = CancellationToken::new();
    let ble_stats = Arc::new(crate::ble::BleStats::default());
    let run = ble_following_bindings(
        adapter,
        cfg.ble,
        cfg.uplink.bindings.clone(),
        outbox.clone(),
        wake.clone(),
        devices.clone(),
        ble_stats.clone(),
        shutdown.child_token(),
    );
    let counters = ble_stats.clone();
    let producer = tokio::spawn(async move {
        run.await?;
        Ok(ProducerStats {
            packets: counters.packets.load(Ordering::Relaxed),
            readings: counters.readings.load(Ordering::Relaxed),
            undecodable: counters.undecodable.load(Ordering::Relaxed),
        })
    });
    let mut handle = start_uplink(cfg.uplink, outbox, wake, devices, shutdown, producer);
    handle.ble = Some(ble_stats);
    Ok(handle)
}

/// Runs Bluetooth on the allowlist the binding gives (or the configured one), restarting it
/// with the new list when the binding's devices change.
#[cfg(feature = "ble")]
#[allow(clippy::too_many_arguments)]
async fn ble_following_bindings(
    adapter: btleplug::platform::Adapter,
    cfg: crate::ble::BleConfig,
    bindings: Option<Arc<crate::binding::Bindings>>,
    outbox: Arc<Outbox>,
    wake: Arc<Notify>,
    board: DeviceBoard,
    stats: Arc<crate::ble::BleStats>,
    shutdown: CancellationToken,
) -> Result<(), crate::ble::BleError> {
    let Some(bindings) = bindings else {
        return crate::ble::run(adapter, cfg, outbox, wake, board, stats, shutdown).await;
    };
    let mut updates = bindings.subscribe();
    loop {
        let (devices, problems) = crate::binding::allowlist(&cfg.devices, updates.borrow_and_update().as_ref());
        for p in &problems {
            tracing::warn!("{p}");
        }
        if let Ok(mut b) = board.lock() {
            b.retain(|id, _| devices.iter().any(|d| &d.device_id == id));
        }
        tracing::info!(devices = devices.len(), "Bluetooth allowlist");
        let run_cfg = crate::ble::BleConfig { settings: cfg.settings.clone(), devices: devices.clone() };
        let stop = shutdown.child_token();
        let run = crate::ble::run(
            adapter.clone(),
            run_cfg,
            outbox.clone(),
            wake.clone(),
            board.clone(),
            stats.clone(),
            stop.clone(),
        );
        tokio::pin!(run);
        // Until the devices change (a binding with the same list changes nothing).
        loop {
            tokio::select! {
                r = &mut run => return r,
                changed = updates.changed() => {
                    if changed.is_err() {
                        return run.await;
                    }
                    let (next, _) = crate::binding::allowlist(&cfg.devices, updates.borrow().as_ref());
                    if next != devices {
                        break;
                    }
                }
            }
        }
        tracing::info!("the device binding changed: restarting Bluetooth with the new allowlist");
        stop.cancel();
        run.await?;
        if shutdown.is_cancelled() {
            return Ok(());
        }
    }
}

impl GatewayHandle {
    /// Stops producing, says offline, disconnects. Unacknowledged readings stay in the outbox.
    pub async fn stop(self) -> anyhow::Result<ProducerStats> {
        self.shutdown.cancel();
        let stats = self.producer.await??;
        self.uplink.await??;
        Ok(stats)
    }

    /// Ends the tasks where they are, like a power cut: no offline status, nothing flushed
    /// beyond what was already committed.
    pub fn kill(self) {
        self.producer.abort();
        self.uplink.abort();
    }

    /// Resolves when either task ends on its own (an error: they run until stopped).
    pub async fn failed(&mut self) -> anyhow::Result<()> {
        tokio::select! {
            r = &mut self.producer => { r??; anyhow::bail!("the producer (simulator or Bluetooth) stopped") }
            r = &mut self.uplink => { r??; anyhow::bail!("uplink stopped") }
        }
    }
}
