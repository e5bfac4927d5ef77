//! The read side the API uses. Every resident query takes the [`Viewer`], so scope is enforced
//! in SQL: staff and administrators see the subtrees they are scoped to, families their care
//! circle.

use eldercare_schema::Metric;

use crate::{ResidentRow, Role, Store, StoreError, Viewer, VitalRow};

const RESIDENT_COLUMNS: &str = "select r.resident_id, r.full_name, r.birth_year, h.household_id, \
     h.name as household_name, g.org_unit_id as grid_id, g.name as grid_name \
     from residents r join households h on h.household_id = r.household_id \
     join org_units g on g.org_unit_id = h.org_unit_id";

const STAFF_SCOPE: &str = " where exists (select 1 from staff_scopes s join org_units su \
     on su.org_unit_id = s.org_unit_id where s.user_id = $1 and substr(g.path, 1, length(su.path)) = su.path)";

const FAMILY_SCOPE: &str =
    " where exists (select 1 from care_circle c where c.user_id = $1 and c.resident_id = r.resident_id)";

fn scoped_sql(viewer: &Viewer, tail: &str) -> String {
    let scope = match viewer.role {
        Role::Admin | Role::Caregiver => STAFF_SCOPE,
        Role::Family => FAMILY_SCOPE,
    };
    format!("{RESIDENT_COLUMNS}{scope}{tail}")
}

type VitalTuple = (String, f64, i64, String);

fn to_vital((metric, value, measured_ms, device_id): VitalTuple) -> Result<VitalRow, StoreError> {
    let metric = Metric::from_code(&metric).ok_or_else(|| StoreError::Invalid(format!("stored metric {metric:?}")))?;
    Ok(VitalRow { metric, value, measured_ms, device_id })
}

impl Store {
    /// The residents `viewer` may see, by id.
    pub async fn visible_residents(&self, viewer: &Viewer) -> Result<Vec<ResidentRow>, StoreError> {
        let sql = scoped_sql(viewer, " order by r.resident_id");
        Ok(sqlx::query_as::<_, ResidentRow>(sqlx::AssertSqlSafe(sql))
            .bind(viewer.user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The resident, if it exists and `viewer` may see it. Callers answer "not found" either way.
    pub async fn visible_resident(&self, viewer: &Viewer, resident_id: i64) -> Result<Option<ResidentRow>, StoreError> {
        let sql = scoped_sql(viewer, " and r.resident_id = $2");
        Ok(sqlx::query_as::<_, ResidentRow>(sqlx::AssertSqlSafe(sql))
            .bind(viewer.user_id)
            .bind(resident_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The newest value of each metric of a resident. Check scope first.
    pub async fn latest_vitals(&self, resident_id: i64) -> Result<Vec<VitalRow>, StoreError> {
        Ok(self.newest_vitals(&[resident_id]).await?.into_iter().map(|(_, v)| v).collect())
    }

    /// A resident's readings of `metric` with `from_ms <= measured_ms < to_ms`, oldest first, at
    /// most `limit`. Check scope first.
    pub async fn vitals_history(
        &self,
        resident_id: i64,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<VitalRow>, StoreError> {
        let rows: Vec<VitalTuple> = sqlx::query_as(
            "select metric, value, measured_ms, device_id from readings \
             where resident_id = $1 and metric = $2 and measured_ms >= $3 and measured_ms < $4 \
             order by measured_ms, device_id, seq limit $5",
        )
        .bind(resident_id)
        .bind(metric.code())
        .bind(from_ms)
        .bind(to_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(to_vital).collect()
    }
}
