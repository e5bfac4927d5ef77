//! Vitals for the API beyond the basics of `query.rs`: raw history by cursor, hourly and daily
//! rollups computed by SQL aggregation, and the newest vitals of many residents at once (the
//! caregiver's dashboard). Callers check scope first, or pass the viewer.

use eldercare_schema::Metric;
use sqlx::{QueryBuilder, Sqlite};

use crate::admin::STAFF_SCOPE_OF_G;
use crate::{Role, Store, StoreError, Viewer, VitalRow};

/// Where a page of raw history ended: the sort key of its last reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VitalCursor {
    pub measured_ms: i64,
    pub device_id: String,
    pub seq: i64,
}

/// A reading with its position in the history's order.
#[derive(Debug, Clone, PartialEq)]
pub struct RawVital {
    pub row: VitalRow,
    pub seq: i64,
}

/// One bucket of a rollup.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RollupRow {
    pub bucket_ms: i64,
    pub count: i64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// `select r.resident_id ... where <scope>`, the scope taking the viewer's user id as its only
/// parameter.
pub(crate) fn scoped_resident_ids_sql(viewer: &Viewer) -> String {
    let scope = match viewer.role {
        Role::Admin | Role::Caregiver => STAFF_SCOPE_OF_G,
        Role::Family => "exists (select 1 from care_circle c where c.user_id = ? and c.resident_id = r.resident_id)",
    };
    format!(
        "select r.resident_id from residents r join households h on h.household_id = r.household_id \
         join org_units g on g.org_unit_id = h.org_unit_id where {scope}"
    )
}

type RawTuple = (String, f64, i64, String, i64);

impl Store {
    /// A resident's readings of `metric` with `from_ms <= measured_ms < to_ms` after `after`,
    /// oldest first, at most `limit`. Check scope first.
    pub async fn vitals_page(
        &self,
        resident_id: i64,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
        after: Option<&VitalCursor>,
        limit: i64,
    ) -> Result<Vec<RawVital>, StoreError> {
        let (a_ms, a_dev, a_seq) = match after {
            Some(c) => (c.measured_ms, c.device_id.as_str(), c.seq),
            None => (i64::MIN, "", i64::MIN),
        };
        let rows: Vec<RawTuple> = sqlx::query_as(
            "select metric, value, measured_ms, device_id, seq from readings \
             where resident_id = ? and metric = ? and measured_ms >= ? and measured_ms < ? \
             and (measured_ms, device_id, seq) > (?, ?, ?) \
             order by measured_ms, device_id, seq limit ?",
        )
        .bind(resident_id)
        .bind(metric.code())
        .bind(from_ms)
        .bind(to_ms)
        .bind(a_ms)
        .bind(a_dev)
        .bind(a_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(m, value, measured_ms, device_id, seq)| {
                let metric =
                    Metric::from_code(&m).ok_or_else(|| StoreError::Invalid(format!("stored metric {m:?}")))?;
                Ok(RawVital { row: VitalRow { metric, value, measured_ms, device_id }, seq })
            })
            .collect()
    }

    /// Count, min, max and mean of a resident's `metric` per bucket of `bucket_ms` (aligned to
    /// the Unix epoch, so hours and days in UTC), for buckets with readings in `[from_ms, to_ms)`.
    pub async fn vitals_rollup(
        &self,
        resident_id: i64,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<RollupRow>, StoreError> {
        if bucket_ms <= 0 {
            return Err(StoreError::Invalid(format!("bucket of {bucket_ms} ms")));
        }
        Ok(sqlx::query_as(
            "select (measured_ms - (measured_ms % ?1 + ?1) % ?1) as bucket_ms, count(*) as count, \
             min(value) as min, max(value) as max, avg(value) as mean from readings \
             where resident_id = ?2 and metric = ?3 and measured_ms >= ?4 and measured_ms < ?5 \
             group by 1 order by 1",
        )
        .bind(bucket_ms)
        .bind(resident_id)
        .bind(metric.code())
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The residents `viewer` may see among `only` (all of them when `None`), by id.
    pub async fn visible_resident_ids(&self, viewer: &Viewer, only: Option<&[i64]>) -> Result<Vec<i64>, StoreError> {
        let sql = scoped_resident_ids_sql(viewer);
        let (head, tail) = sql.split_once('?').expect("the scope has one placeholder");
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
        qb.push_bind(viewer.user_id);
        qb.push(tail);
        if let Some(ids) = only {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            qb.push(" and r.resident_id in (");
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            qb.push(")");
        }
        qb.push(" order by r.resident_id");
        Ok(qb.build_query_scalar().fetch_all(&self.pool).await?)
    }

    /// The newest value of each metric of each of `resident_ids`, by resident then metric. Check
    /// scope first ([`Store::visible_resident_ids`]).
    pub async fn latest_vitals_of(&self, resident_ids: &[i64]) -> Result<Vec<(i64, VitalRow)>, StoreError> {
        let mut out = Vec::new();
        // SQLite allows 32,766 parameters; stay far below.
        for chunk in resident_ids.chunks(1000) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "select resident_id, metric, value, measured_ms, device_id from latest_vitals where resident_id in (",
            );
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            qb.push(") order by resident_id, metric");
            let rows: Vec<(i64, String, f64, i64, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
            for (resident_id, m, value, measured_ms, device_id) in rows {
                let metric =
                    Metric::from_code(&m).ok_or_else(|| StoreError::Invalid(format!("stored metric {m:?}")))?;
                out.push((resident_id, VitalRow { metric, value, measured_ms, device_id }));
            }
        }
        Ok(out)
    }
}
