//! Retention of raw readings: old ones are deleted in batches, each its own short transaction,
//! so ingest is never blocked for long. What summarises them stays: the rollups, the newest value
//! per vital, alerts and their evidence. A purged reading is also gone from the FHIR export.

use crate::{Store, StoreError};

impl Store {
    /// Deletes raw readings measured before `before_ms`, at most `batch` per transaction, until
    /// none is left; returns how many were deleted.
    ///
    /// The reading with the greatest `rowid` is always kept: SQLite would otherwise hand its
    /// rowid to the next reading, and FHIR ids and the live feed's positions must never repeat.
    /// Nor is any reading measured after the rollups' safe time purged (`rollup.rs`): it may not
    /// be in the rollups yet.
    pub async fn purge_raw_readings(&self, before_ms: i64, batch: i64) -> Result<u64, StoreError> {
        if batch <= 0 {
            return Err(StoreError::Invalid(format!("purge batch of {batch}")));
        }
        let safe_ms = self.rollup_safe_ms().await?;
        if safe_ms < before_ms {
            tracing::warn!(before_ms, safe_ms, "retention: the rollups are behind; purging only what they hold");
        }
        let before_ms = before_ms.min(safe_ms);
        let mut total = 0;
        loop {
            let done = sqlx::query(
                "delete from readings where rowid in (select rowid from readings where measured_ms < $1 \
                 and rowid < (select max(rowid) from readings) limit $2)",
            )
            .bind(before_ms)
            .bind(batch)
            .execute(&self.pool)
            .await?
            .rows_affected();
            total += done;
            if done < batch as u64 {
                return Ok(total);
            }
            tracing::debug!(deleted = total, "purging raw readings");
        }
    }
}
