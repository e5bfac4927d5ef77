//! The rollup follower: once a minute (`--rollup-every-secs`), adds the readings stored since
//! its last pass to the minute, hour and day rollups (`eldercare_store::rollup`). Every instance
//! runs it; a pass that finds the cursor moved by another instance's pass gives up, and one that
//! finds nothing new does nothing.

use std::time::Duration;

use eldercare_store::Store;
use tokio_util::sync::CancellationToken;

use crate::alerts::Clock;

/// How often a pass runs by default (`--rollup-every-secs`): long enough that most residents'
/// readings of a pass share their buckets (one upsert for many readings), short enough that
/// history queries read little raw data (the safe time trails the clock by about 11 minutes plus
/// this).
pub const EVERY: Duration = Duration::from_secs(60);

/// Runs a pass `every` until `shutdown`.
pub async fn run(store: Store, every: Duration, clock: Clock, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let started = std::time::Instant::now();
        // A pass waits for running transactions to end; shutdown does not wait for it.
        let pass = tokio::select! {
            _ = shutdown.cancelled() => return,
            p = store.roll_up(clock()) => p,
        };
        match pass {
            Ok(Some(p)) => {
                metrics::counter!("eldercare_rollup_added_total").increment(p.added);
                metrics::gauge!("eldercare_rollup_safe_lag_seconds").set((clock() - p.safe_ms).max(0) as f64 / 1000.0);
                tracing::debug!(added = p.added, position = p.position, took = ?started.elapsed(), "rollups: pass");
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "rollups: pass failed; retried in a minute"),
        }
    }
}
