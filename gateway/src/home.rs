//! A whole gateway in one handle: the simulator (or, later, BLE) feeding the outbox, and the
//! uplink draining it. Used by `eldercare-gateway simulate`, the server's demo and the tests.

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

pub struct GatewayHandle {
    pub outbox: Arc<Outbox>,
    pub stats: Arc<UplinkStats>,
    pub devices: DeviceBoard,
    shutdown: CancellationToken,
    sim: JoinHandle<Result<sim::run::SimStats, OutboxError>>,
    uplink: JoinHandle<Result<(), uplink::UplinkError>>,
}

/// Opens the outbox and starts the simulator and the uplink.
pub fn start_simulated(cfg: SimulatedGatewayConfig) -> Result<GatewayHandle, OutboxError> {
    let outbox = Arc::new(Outbox::open(&cfg.outbox_dir, cfg.outbox_capacity)?);
    let wake = Arc::new(Notify::new());
    let devices = DeviceBoard::default();
    let stats = Arc::new(UplinkStats::default());
    let shutdown = CancellationToken::new();
    let sim =
        tokio::spawn(sim::run(cfg.simulator, outbox.clone(), wake.clone(), devices.clone(), shutdown.child_token()));
    let uplink = tokio::spawn(uplink::run(
        cfg.uplink,
        outbox.clone(),
        wake,
        devices.clone(),
        stats.clone(),
        shutdown.child_token(),
    ));
    Ok(GatewayHandle { outbox, stats, devices, shutdown, sim, uplink })
}

impl GatewayHandle {
    /// Stops producing, says offline, disconnects. Unacknowledged readings stay in the outbox.
    pub async fn stop(self) -> anyhow::Result<sim::run::SimStats> {
        self.shutdown.cancel();
        let stats = self.sim.await??;
        self.uplink.await??;
        Ok(stats)
    }

    /// Ends the tasks where they are, like a power cut: no offline status, nothing flushed
    /// beyond what was already committed.
    pub fn kill(self) {
        self.sim.abort();
        self.uplink.abort();
    }

    /// Resolves when either task ends on its own (an error: they run until stopped).
    pub async fn failed(&mut self) -> anyhow::Result<()> {
        tokio::select! {
            r = &mut self.sim => { r??; anyhow::bail!("simulator stopped") }
            r = &mut self.uplink => { r??; anyhow::bail!("uplink stopped") }
        }
    }
}
