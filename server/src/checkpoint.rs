//! SQLite write-ahead-log checkpoints beside ingest, once a second, so that an ingest commit
//! never has to copy the log back itself (that stall, tens of milliseconds every ~4 MB of log,
//! was the largest part of the alert latency tail). PostgreSQL checkpoints by itself.

use std::time::Duration;

use eldercare_store::{Dialect, Store};
use tokio_util::sync::CancellationToken;

const EVERY: Duration = Duration::from_secs(1);

/// Checkpoints every second until `shutdown` (returns at once on PostgreSQL).
pub async fn run(store: Store, shutdown: CancellationToken) {
    if store.dialect() != Dialect::Sqlite {
        return;
    }
    let mut interval = tokio::time::interval(EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        match store.checkpoint().await {
            Ok(pages) => metrics::gauge!("eldercare_sqlite_wal_pages").set(pages as f64),
            Err(e) => tracing::warn!(error = %e, "checkpoint failed; the next commit past the limit does it"),
        }
    }
}
