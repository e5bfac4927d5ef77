//! Readings as the FHIR export needs them: each with a stable row id (the Observation id), and
//! blood pressure paired (systolic with the diastolic of the same device and time) so one panel
//! Observation carries both. Callers pass only residents the viewer may see.

use crate::sql::Sql;
use crate::{Store, StoreError};
use eldercare_schema::Metric;

/// One exported reading; for a systolic pressure, its diastolic partner if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationRow {
    /// The reading's `rowid` (SQLite's implicit one; a column of that name on PostgreSQL): stable
    /// for the life of the database.
    pub row_id: i64,
    pub resident_id: i64,
    pub gateway_id: String,
    pub device_id: String,
    pub metric: Metric,
    pub value: f64,
    pub measured_ms: i64,
    /// The diastolic value paired with a systolic one.
    pub diastolic: Option<f64>,
}

/// A search over readings.
#[derive(Debug, Clone, Default)]
pub struct ObservationQuery {
    pub resident_ids: Vec<i64>,
    pub metrics: Vec<Metric>,
    pub from_ms: Option<i64>,
    /// Exclusive.
    pub to_ms: Option<i64>,
    /// Continue after this (measured_ms, row_id).
    pub after: Option<(i64, i64)>,
    pub limit: i64,
}

type Tuple = (i64, i64, String, String, String, f64, i64, Option<f64>);

const COLUMNS: &str = "select r.rowid, r.resident_id, r.gateway_id, r.device_id, r.metric, r.value, r.measured_ms, \
     case when r.metric = 'bp_systolic' then (select p.value from readings p where p.resident_id = r.resident_id \
       and p.metric = 'bp_diastolic' and p.measured_ms = r.measured_ms and p.device_id = r.device_id limit 1) end \
     from readings r where ";

/// A diastolic reading that is part of a panel is exported inside its systolic's Observation.
const NOT_PAIRED_DIASTOLIC: &str = " and not (r.metric = 'bp_diastolic' and exists (select 1 from readings p \
     where p.resident_id = r.resident_id and p.metric = 'bp_systolic' and p.measured_ms = r.measured_ms \
     and p.device_id = r.device_id))";

fn to_row(
    (row_id, resident_id, gateway_id, device_id, m, value, measured_ms, diastolic): Tuple,
) -> Result<ObservationRow, StoreError> {
    let metric = Metric::from_code(&m).ok_or_else(|| StoreError::Invalid(format!("stored metric {m:?}")))?;
    Ok(ObservationRow { row_id, resident_id, gateway_id, device_id, metric, value, measured_ms, diastolic })
}

impl Store {
    /// Readings matching `q`, by (measured_ms, row id).
    pub async fn observations(&self, q: &ObservationQuery) -> Result<Vec<ObservationRow>, StoreError> {
        if q.resident_ids.is_empty() || q.metrics.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = Sql::new(COLUMNS);
        qb.push("r.resident_id in (").list(q.resident_ids.iter().copied());
        qb.push(") and r.metric in (").list(q.metrics.iter().map(|m| m.code()));
        qb.push(")");
        if let Some(f) = q.from_ms {
            qb.push(" and r.measured_ms >= ").bind(f);
        }
        if let Some(t) = q.to_ms {
            qb.push(" and r.measured_ms < ").bind(t);
        }
        if let Some((ms, row)) = q.after {
            qb.push(" and (r.measured_ms, r.rowid) > (").bind(ms).push(", ").bind(row).push(")");
        }
        qb.push(NOT_PAIRED_DIASTOLIC);
        qb.push(" order by r.measured_ms, r.rowid limit ").bind(q.limit);
        let rows: Vec<Tuple> = qb.query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(to_row).collect()
    }

    /// One exported reading by row id (a diastolic that belongs to a panel is not one).
    pub async fn observation(&self, row_id: i64) -> Result<Option<ObservationRow>, StoreError> {
        let sql = format!("{COLUMNS}r.rowid = $1{NOT_PAIRED_DIASTOLIC}");
        let row: Option<Tuple> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(row_id).fetch_optional(&self.pool).await?;
        row.map(to_row).transpose()
    }
}
