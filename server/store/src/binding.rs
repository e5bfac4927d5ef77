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
    /// devices table.
    pub async fn gateway_bindings(&self) -> Result<Vec<BindingRow>, StoreError> {
        self.gateway_bindings_since(-1).await
    }

    /// The binding clock: it moves on whenever a gateway is registered or a device is
    /// registered, removed or rebound (not when ingest notes a device's last contact). Every
    /// gateway whose devices changed is stamped with the clock's new value, and stamps commit in
    /// order: once a reader has seen value `n`, no change stamped `n` or less is still to come.
    pub async fn binding_clock(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("select n from binding_clock where id = 1").fetch_one(&self.pool).await?)
    }

    /// Like [`Store::gateway_bindings`], only for the gateways whose devices changed after the
    /// binding clock read `clock` ([`Store::binding_clock`]).
    pub async fn gateway_bindings_since(&self, clock: i64) -> Result<Vec<BindingRow>, StoreError> {
        Ok(sqlx::query_as::<_, BindingRow>(
            "select g.gateway_id, d.device_id, d.kind, d.resident_id \
             from gateways g left join devices d on d.gateway_id = g.gateway_id \
             where g.binding_n > $1 order by g.gateway_id, d.device_id",
        )
        .bind(clock)
        .fetch_all(&self.pool)
        .await?)
    }
}
