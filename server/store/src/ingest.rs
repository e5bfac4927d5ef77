//! The write side of ingest: one transaction per batch, idempotent on the reading's identity.

use eldercare_schema::Metric;

use crate::{DeviceRow, Store, StoreError};

/// A validated reading, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReading {
    pub device_id: String,
    pub seq: i64,
    pub resident_id: i64,
    pub metric: Metric,
    pub value: f64,
    pub measured_ms: i64,
    pub time_source: &'static str,
}

/// Something ingest refused, kept with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub topic: String,
    pub gateway_id: Option<String>,
    pub device_id: Option<String>,
    pub seq: Option<i64>,
    pub reason: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Readings stored by this call.
    pub inserted: u64,
    /// Readings that were already stored (a resend).
    pub duplicates: u64,
    /// Dead letters written by this call.
    pub dead_lettered: u64,
}

impl Store {
    /// The devices bound to `gateway_id`.
    pub async fn devices_of_gateway(&self, gateway_id: &str) -> Result<Vec<DeviceRow>, StoreError> {
        Ok(sqlx::query_as::<_, DeviceRow>(
            "select device_id, gateway_id, resident_id, kind from devices where gateway_id = $1",
        )
        .bind(gateway_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The devices among `device_ids` (each given once) that are registered, with the gateway
    /// each is bound to, in one query. Ingest asks for the devices a group's batches name, not
    /// for every device of their gateways: a care home's gateway has hundreds, a batch a few.
    pub async fn devices_by_id(&self, device_ids: &[&str]) -> Result<Vec<DeviceRow>, StoreError> {
        if device_ids.is_empty() {
            return Ok(Vec::new());
        }
        // One statement text whatever the number of devices (see `Dialect::json_table`).
        let mut q = crate::sql::Sql::new("");
        let p = q.json_arg(&device_ids);
        let list = self.dialect.json_list(&p, "text");
        q.push(match self.dialect {
            // One index probe per device. A plain `in (...)` lets PostgreSQL hash the list,
            // which it estimates at 100 rows, against a sequential scan of every device;
            // `offset 0` keeps the lateral subquery from being flattened into such a join.
            crate::Dialect::Postgres => format!(
                "select d.device_id, d.gateway_id, d.resident_id, d.kind from ({list}) as k (id) \
                 cross join lateral (select device_id, gateway_id, resident_id, kind from devices \
                 where device_id = k.id offset 0) as d"
            ),
            crate::Dialect::Sqlite => {
                format!("select device_id, gateway_id, resident_id, kind from devices where device_id in ({list})")
            }
        });
        Ok(q.query_as::<DeviceRow>().fetch_all(&self.pool).await?)
    }

    /// Stores a batch's accepted readings and its refused ones in one transaction. When this
    /// returns `Ok`, everything is durable and the gateway may be acknowledged.
    pub async fn ingest(
        &self,
        gateway_id: &str,
        readings: &[NewReading],
        dead: &[DeadLetter],
        received_ms: i64,
    ) -> Result<IngestOutcome, StoreError> {
        let mut tx = self.begin().await?;
        let mut outcome = tx.insert_readings(gateway_id, readings, received_ms).await?.0;
        outcome.dead_lettered = tx.dead_letters(dead, received_ms).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Keeps a payload that could not be accepted at all (it has no readings to store).
    pub async fn dead_letter(&self, d: &DeadLetter, received_ms: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_dead_letter(&mut tx, d, received_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn count_readings(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("select count(*) from readings").fetch_one(&self.pool).await?)
    }

    /// Dead letters, newest first: (reason, gateway id, device id, seq).
    pub async fn recent_dead_letters(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, Option<String>, Option<String>, Option<i64>)>, StoreError> {
        Ok(sqlx::query_as(
            "select reason, gateway_id, device_id, seq from dead_letters \
             order by dead_letter_id desc limit $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

pub(crate) async fn insert_dead_letter(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    d: &DeadLetter,
    received_ms: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "insert into dead_letters (received_ms, topic, gateway_id, device_id, seq, reason, payload) \
         values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing",
    )
    .bind(received_ms)
    .bind(&d.topic)
    .bind(&d.gateway_id)
    .bind(&d.device_id)
    .bind(d.seq)
    .bind(&d.reason)
    .bind(&d.payload)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}
