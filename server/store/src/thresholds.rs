//! Per-resident threshold overrides (a JSON object the rules engine reads) and the history of
//! every change: who, when, before and after.

use serde::Serialize;

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ThresholdsRow {
    pub resident_id: i64,
    /// JSON object.
    pub overrides: String,
    pub updated_ms: i64,
    pub updated_by: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ThresholdChangeRow {
    pub change_id: i64,
    pub resident_id: i64,
    pub changed_ms: i64,
    pub changed_by: Option<i64>,
    /// JSON object after the change.
    pub overrides: String,
    /// JSON object before the change; `None` for the first.
    pub previous: Option<String>,
}

impl Store {
    pub async fn resident_thresholds(&self, resident_id: i64) -> Result<Option<ThresholdsRow>, StoreError> {
        Ok(sqlx::query_as(
            "select resident_id, overrides, updated_ms, updated_by from resident_thresholds where resident_id = $1",
        )
        .bind(resident_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Replaces a resident's overrides (`overrides` is a JSON object) and records the change.
    pub async fn set_resident_thresholds(
        &self,
        resident_id: i64,
        overrides: &str,
        by: i64,
        now_ms: i64,
    ) -> Result<ThresholdsRow, StoreError> {
        let mut tx = self.write_tx().await?;
        if self.dialect == crate::Dialect::Postgres {
            // Changes of one resident's thresholds take turns, so each records the one before.
            sqlx::query("select resident_id from residents where resident_id = $1 for no key update")
                .bind(resident_id)
                .fetch_optional(&mut *tx)
                .await?;
        }
        let previous: Option<String> =
            sqlx::query_scalar("select overrides from resident_thresholds where resident_id = $1")
                .bind(resident_id)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "insert into resident_thresholds (resident_id, overrides, updated_ms, updated_by) values ($1, $2, $3, $4) \
             on conflict (resident_id) do update set overrides = excluded.overrides, \
             updated_ms = excluded.updated_ms, updated_by = excluded.updated_by",
        )
        .bind(resident_id)
        .bind(overrides)
        .bind(now_ms)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into threshold_changes (resident_id, changed_ms, changed_by, overrides, previous) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(resident_id)
        .bind(now_ms)
        .bind(by)
        .bind(overrides)
        .bind(previous)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ThresholdsRow { resident_id, overrides: overrides.to_owned(), updated_ms: now_ms, updated_by: Some(by) })
    }

    /// The changes of a resident's thresholds, newest first.
    pub async fn threshold_history(&self, resident_id: i64, limit: i64) -> Result<Vec<ThresholdChangeRow>, StoreError> {
        Ok(sqlx::query_as(
            "select change_id, resident_id, changed_ms, changed_by, overrides, previous from threshold_changes \
             where resident_id = $1 order by change_id desc limit $2",
        )
        .bind(resident_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
