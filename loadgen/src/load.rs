//! Running the simulated gateways: start them all, let them measure for the duration, stop
//! measuring, wait until everything published is acknowledged (or the drain time is up).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::gateway::{self, Counters, GatewayOutcome, LinkConfig};
use crate::histogram::Histogram;
use crate::home::{Home, Rates};

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub link: LinkConfig,
    /// Gateway ids are `<prefix>-g<n>`.
    pub prefix: String,
    pub gateways: usize,
    pub residents_per_gateway: usize,
    pub rates: Rates,
    pub speedup: f64,
    /// How long the devices measure.
    pub duration: Duration,
    /// After measuring stops, how long to wait for the last acknowledgements.
    pub drain: Duration,
    /// In the first this many homes, resident 0's SpO2 reads 82 % (one critical alert each).
    pub low_spo2_homes: usize,
}

impl LoadConfig {
    /// Readings per second the simulated homes produce (wall time).
    pub fn offered_per_s(&self) -> f64 {
        (self.gateways * self.residents_per_gateway) as f64 * self.rates.per_resident_per_s() * self.speedup
    }
}

/// A load being generated.
pub struct Load {
    pub counters: Arc<Counters>,
    pub started: Instant,
    stop_measuring: CancellationToken,
    give_up: CancellationToken,
    tasks: JoinSet<GatewayOutcome>,
    cfg: LoadConfig,
}

/// What the whole load did.
#[derive(Debug, Clone)]
pub struct LoadOutcome {
    pub gateways: Vec<GatewayOutcome>,
    pub latency_us: Histogram,
    /// From the start to when measuring stopped.
    pub measuring: Duration,
    /// From the start to the last acknowledgement (or the end of the drain).
    pub total: Duration,
    /// Whether every published reading was acknowledged before the drain time ran out.
    pub drained: bool,
}

impl LoadOutcome {
    pub fn published(&self) -> u64 {
        self.gateways.iter().map(|g| g.published).sum()
    }
    pub fn acked(&self) -> u64 {
        self.gateways.iter().map(|g| g.acked).sum()
    }
    pub fn never_published(&self) -> u64 {
        self.gateways.iter().map(|g| g.never_published).sum()
    }
}

impl Load {
    /// Starts every gateway now; they connect, measure and publish.
    pub fn start(cfg: LoadConfig) -> Load {
        let counters = Arc::new(Counters::default());
        let stop_measuring = CancellationToken::new();
        let give_up = CancellationToken::new();
        let link = Arc::new(cfg.link.clone());
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for i in 0..cfg.gateways {
            let mut home = Home::new(&cfg.prefix, i, cfg.residents_per_gateway, &cfg.rates, cfg.speedup, started);
            if i < cfg.low_spo2_homes {
                home = home.with_low_spo2();
            }
            tasks.spawn(gateway::run(home, link.clone(), counters.clone(), stop_measuring.clone(), give_up.clone()));
        }
        Load { counters, started, stop_measuring, give_up, tasks, cfg }
    }

    /// Stops measuring now (before the duration is up); the gateways still drain.
    pub fn stop_measuring(&self) {
        self.stop_measuring.cancel();
    }

    /// Waits for the duration (unless stopped earlier), then for the drain, and collects.
    pub async fn finish(mut self) -> LoadOutcome {
        tokio::select! {
            _ = tokio::time::sleep_until((self.started + self.cfg.duration).into()) => {}
            _ = self.stop_measuring.cancelled() => {}
        }
        self.stop_measuring.cancel();
        let measuring = self.started.elapsed();
        let give_up = self.give_up.clone();
        let drain = self.cfg.drain;
        let timer = tokio::spawn(async move {
            tokio::time::sleep(drain).await;
            give_up.cancel();
        });
        let mut gateways = Vec::with_capacity(self.cfg.gateways);
        while let Some(r) = self.tasks.join_next().await {
            match r {
                Ok(o) => gateways.push(o),
                Err(e) => tracing::error!(error = %e, "a simulated gateway failed"),
            }
        }
        let total = self.started.elapsed();
        let drained = !self.give_up.is_cancelled();
        timer.abort();
        let mut latency_us = Histogram::default();
        for g in &gateways {
            latency_us.merge(&g.latency_us);
        }
        gateways.sort_by(|a, b| a.gateway_id.cmp(&b.gateway_id));
        LoadOutcome { gateways, latency_us, measuring, total, drained }
    }
}
