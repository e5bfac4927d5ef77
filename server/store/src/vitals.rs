//! Vitals for the API beyond the basics of `query.rs`: raw history by cursor, rollups (see
//! `rollup.rs`), and the newest vitals of many residents at once (the
//! caregiver's dashboard). Callers check scope first, or pass the viewer.

use crate::admin::STAFF_SCOPE_OF_G;
use crate::sql::Sql;
use crate::{Role, Store, StoreError, Viewer, VitalRow};
use eldercare_schema::Metric;

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

/// `select r.resident_id ... where <scope>`, the scope taking the viewer's user id as `$1`.
pub(crate) fn scoped_resident_ids_sql(viewer: &Viewer) -> String {
    let scope = match viewer.role {
        Role::Admin | Role::Caregiver => STAFF_SCOPE_OF_G,
        Role::Family => "exists (select 1 from care_circle c where c.user_id = $1 and c.resident_id = r.resident_id)",
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
             where resident_id = $1 and metric = $2 and measured_ms >= $3 and measured_ms < $4 \
             and (measured_ms, device_id, seq) > ($5, $6, $7) \
             order by measured_ms, device_id, seq limit $8",
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

    /// The residents `viewer` may see among `only` (all of them when `None`), by id.
    pub async fn visible_resident_ids(&self, viewer: &Viewer, only: Option<&[i64]>) -> Result<Vec<i64>, StoreError> {
        let mut q = Sql::default();
        q.arg(viewer.user_id);
        q.push(scoped_resident_ids_sql(viewer));
        if let Some(ids) = only {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            q.push(" and r.resident_id in (").list(ids.iter().copied()).push(")");
        }
        q.push(" order by r.resident_id");
        Ok(q.query_scalar().fetch_all(&self.pool).await?)
    }

    /// The newest value of each metric of each of `resident_ids`, by resident then metric. Check
    /// scope first ([`Store::visible_resident_ids`]).
    pub async fn latest_vitals_of(&self, resident_ids: &[i64]) -> Result<Vec<(i64, VitalRow)>, StoreError> {
        self.newest_vitals(resident_ids).await
    }
}
