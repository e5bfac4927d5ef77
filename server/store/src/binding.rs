//! What the server pushes to each gateway as its device binding: every registered gateway with
//! the devices bound to it. Portable SQL (SQLite and PostgreSQL alike).

use crate::{Store, StoreError};

/// One device of a gateway, or a gateway without devices (`device_id` and the rest `None`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BindingRow {
    pub gateway_id: String,
    pub device_id: Option<String>,
    pub kind: Option<String>,
    pub resident_id: Option<i64>,
}

impl Store {
    /// Every gateway with its devices, ordered by gateway and device: one query over the
    /// devices table, cheap enough to poll every few seconds for change detection.
    pub async fn gateway_bindings(&self) -> Result<Vec<BindingRow>, StoreError> {
        Ok(sqlx::query_as::<_, BindingRow>(
            "select g.gateway_id, d.device_id, d.kind, d.resident_id \
             from gateways g left join devices d on d.gateway_id = g.gateway_id \
             order by g.gateway_id, d.device_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
