//! Alerting around the rules engine: applying its decisions in the ingest transaction, the
//! sweeper (rule timers, silence rules), escalation along the duty chain, and webhook delivery.
//!
//! Time comes from an injected [`Clock`], so tests walk escalations through simulated minutes
//! without sleeping. Every piece of work that must happen once is claimed in the database, so
//! a restart changes nothing and several instances do each thing once.

pub mod apply;
pub mod baselines;
pub mod escalation;
pub mod policy;
pub mod sweeper;
pub mod webhook;
pub mod zones;

use std::sync::Arc;
use std::time::Duration;

use eldercare_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Milliseconds since the Unix epoch, injectable.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(eldercare_store::now_ms)
}

/// Settings of alerting.
#[derive(Clone)]
pub struct AlertSettings {
    pub clock: Clock,
    /// Offset from UTC where a community's time zone (`org_units.time_zone`, which the rules and
    /// the duty shifts use) is not known to the bundled tz database.
    pub utc_offset_minutes: i32,
    /// How often the workers look for due work.
    pub tick: Duration,
    /// Woken after a commit that opened, updated or cleared alerts (the live stream's feed).
    pub alerts_changed: Arc<tokio::sync::Notify>,
    /// The HTTP(S) client of webhook deliveries (its TLS trust: [`webhook::Client::new`]).
    pub webhook_client: webhook::Client,
}

impl AlertSettings {
    pub fn new(clock: Clock) -> Self {
        AlertSettings {
            clock,
            utc_offset_minutes: 8 * 60,
            tick: Duration::from_millis(200),
            alerts_changed: Arc::new(tokio::sync::Notify::new()),
            webhook_client: webhook::Client::platform(),
        }
    }
}

impl std::fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSettings")
            .field("utc_offset_minutes", &self.utc_offset_minutes)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

/// Starts the sweeper, the escalation worker and the webhook worker.
pub fn spawn_workers(store: Store, settings: AlertSettings, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    {
        let (store, settings, shutdown) = (store.clone(), settings.clone(), shutdown.clone());
        handles.push(tokio::spawn(async move {
            let mut sweeper = sweeper::Sweeper::default();
            let mut interval = tokio::time::interval(settings.tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = interval.tick() => {}
                }
                let now = (settings.clock)();
                if let Err(e) = sweeper.run_once(&store, &settings, now).await {
                    tracing::error!(error = %e, "alert sweeper failed; retrying");
                }
                if let Err(e) = escalation::run_once(&store, &settings, now).await {
                    tracing::error!(error = %e, "escalation failed; retrying");
                }
            }
        }));
    }
    {
        let (settings, shutdown) = (settings.clone(), shutdown.clone());
        let client = settings.webhook_client.clone();
        handles.push(tokio::spawn(async move {
            every(settings.tick, shutdown, || {
                let now = (settings.clock)();
                let (store, client) = (store.clone(), client.clone());
                async move {
                    if let Err(e) = webhook::run_once(&store, &client, now).await {
                        tracing::error!(error = %e, "webhook delivery failed; retrying");
                    }
                }
            })
            .await
        }));
    }
    handles
}

async fn every<F, Fut>(tick: Duration, shutdown: CancellationToken, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => work().await,
        }
    }
}
