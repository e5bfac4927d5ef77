//! Retention of raw readings: once an hour, raw readings measured more than the configured number
//! of days ago are deleted in batches. Rollups (minute, hour, day), the newest vitals and alerts
//! stay, so long-range history and the dashboards keep working.

use std::time::Duration;

use eldercare_store::Store;
use tokio_util::sync::CancellationToken;

use crate::alerts::Clock;

/// How often the purge runs.
const EVERY: Duration = Duration::from_secs(3600);
/// Readings deleted per transaction: small enough not to hold the write lock for long.
const BATCH: i64 = 5_000;
const DAY_MS: i64 = 86_400_000;

/// The cut-off: readings measured before it are purged.
pub fn cutoff_ms(now_ms: i64, days: u32) -> i64 {
    now_ms - i64::from(days) * DAY_MS
}

/// Purges now, then every hour, until `shutdown`.
pub async fn run(store: Store, days: u32, clock: Clock, shutdown: CancellationToken) {
    loop {
        let before = cutoff_ms(clock(), days);
        match store.purge_raw_readings(before, BATCH).await {
            Ok(0) => tracing::debug!(days, "retention: no raw readings to purge"),
            Ok(n) => {
                metrics::counter!("eldercare_retention_purged_total").increment(n);
                tracing::info!(purged = n, days, "retention: raw readings purged");
            }
            Err(e) => tracing::warn!(error = %e, "retention: purge failed; retried in an hour"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_whole_days_before_now() {
        assert_eq!(cutoff_ms(10 * DAY_MS + 5, 7), 3 * DAY_MS + 5);
        assert_eq!(cutoff_ms(0, 0), 0);
    }
}
