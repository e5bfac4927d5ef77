//! Reading the audit log by account (who signed in, who failed to), for administrators and tests.

use crate::{Store, StoreError};

/// (at_ms, user_id, action, resident_id, detail)
pub type AuditRow = (i64, Option<i64>, String, Option<i64>, String);

impl Store {
    /// The newest `limit` audit entries, newest first.
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        Ok(sqlx::query_as(
            "select at_ms, user_id, action, resident_id, detail from audit_log order by audit_id desc limit $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
