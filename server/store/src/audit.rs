//! The audit log: who read or did what, when. Append-only: there is no update or delete here.

use crate::{Store, StoreError};

impl Store {
    pub async fn audit(
        &self,
        at_ms: i64,
        user_id: Option<i64>,
        action: &str,
        resident_id: Option<i64>,
        detail: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("insert into audit_log (at_ms, user_id, action, resident_id, detail) values ($1, $2, $3, $4, $5)")
            .bind(at_ms)
            .bind(user_id)
            .bind(action)
            .bind(resident_id)
            .bind(detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Audit entries about a resident, newest first: (at_ms, user_id, action).
    pub async fn audit_for_resident(&self, resident_id: i64) -> Result<Vec<(i64, Option<i64>, String)>, StoreError> {
        Ok(sqlx::query_as("select at_ms, user_id, action from audit_log where resident_id = $1 order by audit_id desc")
            .bind(resident_id)
            .fetch_all(&self.pool)
            .await?)
    }
}
