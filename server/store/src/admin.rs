//! The organisation, households, gateways and devices as the API shows and manages them, always
//! through the caller's scope: staff and administrators see the subtrees they are scoped to,
//! families what belongs to the residents in their care circle.

use serde::Serialize;

use crate::{Role, Store, StoreError, Viewer};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct OrgUnitRow {
    pub org_unit_id: i64,
    pub parent_id: Option<i64>,
    pub kind: String,
    pub name: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct HouseholdRow {
    pub household_id: i64,
    pub org_unit_id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct GatewayStatusRow {
    pub gateway_id: String,
    pub household_id: i64,
    pub created_ms: i64,
    pub status: Option<String>,
    pub status_ms: Option<i64>,
    pub device_count: i64,
    pub last_reading_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DeviceDetailRow {
    pub device_id: String,
    pub gateway_id: String,
    pub resident_id: i64,
    pub household_id: i64,
    pub kind: String,
    pub created_ms: i64,
    pub last_reading_ms: Option<i64>,
    pub battery_pct: Option<f64>,
}

/// `g` (a grid, or any unit) lies in a subtree the staff member `?` is scoped to.
pub(crate) const STAFF_SCOPE_OF_G: &str = "exists (select 1 from staff_scopes s join org_units su \
     on su.org_unit_id = s.org_unit_id where s.user_id = $1 and substr(g.path, 1, length(su.path)) = su.path)";

/// Someone in the care circle `?` lives in household `h`.
const FAMILY_SCOPE_OF_H: &str = "exists (select 1 from care_circle c join residents rr on rr.resident_id = c.resident_id \
     where c.user_id = $1 and rr.household_id = h.household_id)";

fn household_scope(viewer: &Viewer) -> &'static str {
    match viewer.role {
        Role::Admin | Role::Caregiver => STAFF_SCOPE_OF_G,
        Role::Family => FAMILY_SCOPE_OF_H,
    }
}

const GATEWAY_COLUMNS: &str = "select gw.gateway_id, gw.household_id, gw.created_ms, gw.status, gw.status_ms, \
     (select count(*) from devices d where d.gateway_id = gw.gateway_id) as device_count, \
     (select max(d.last_reading_ms) from devices d where d.gateway_id = gw.gateway_id) as last_reading_ms \
     from gateways gw join households h on h.household_id = gw.household_id \
     join org_units g on g.org_unit_id = h.org_unit_id";

const DEVICE_COLUMNS: &str = "select d.device_id, d.gateway_id, d.resident_id, r.household_id, d.kind, d.created_ms, \
     d.last_reading_ms, d.battery_pct from devices d join residents r on r.resident_id = d.resident_id \
     join households h on h.household_id = r.household_id join org_units g on g.org_unit_id = h.org_unit_id";

fn device_scope(viewer: &Viewer) -> &'static str {
    match viewer.role {
        Role::Admin | Role::Caregiver => STAFF_SCOPE_OF_G,
        Role::Family => "exists (select 1 from care_circle c where c.user_id = $1 and c.resident_id = d.resident_id)",
    }
}

impl Store {
    /// The organisation units in the subtrees a staff member is scoped to (families: none), by
    /// path, so parents come before their children.
    pub async fn visible_org_units(&self, viewer: &Viewer) -> Result<Vec<OrgUnitRow>, StoreError> {
        if viewer.role == Role::Family {
            return Ok(Vec::new());
        }
        let sql = format!(
            "select g.org_unit_id, g.parent_id, g.kind, g.name, g.path from org_units g where {STAFF_SCOPE_OF_G} \
             order by g.path"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(viewer.user_id).fetch_all(&self.pool).await?)
    }

    /// One organisation unit, if it is in a staff member's scope.
    pub async fn org_unit_in_scope(&self, viewer: &Viewer, org_unit_id: i64) -> Result<Option<OrgUnitRow>, StoreError> {
        if viewer.role == Role::Family {
            return Ok(None);
        }
        let sql = format!(
            "select g.org_unit_id, g.parent_id, g.kind, g.name, g.path from org_units g \
             where g.org_unit_id = $2 and {STAFF_SCOPE_OF_G}"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(viewer.user_id)
            .bind(org_unit_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn visible_households(&self, viewer: &Viewer) -> Result<Vec<HouseholdRow>, StoreError> {
        let sql = format!(
            "select h.household_id, h.org_unit_id, h.name from households h \
             join org_units g on g.org_unit_id = h.org_unit_id where {} order by h.household_id",
            household_scope(viewer)
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(viewer.user_id).fetch_all(&self.pool).await?)
    }

    pub async fn visible_household(
        &self,
        viewer: &Viewer,
        household_id: i64,
    ) -> Result<Option<HouseholdRow>, StoreError> {
        let sql = format!(
            "select h.household_id, h.org_unit_id, h.name from households h \
             join org_units g on g.org_unit_id = h.org_unit_id where h.household_id = $2 and {}",
            household_scope(viewer)
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(viewer.user_id)
            .bind(household_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Changes a resident's name, birth year or household; returns whether the resident exists.
    pub async fn update_resident(
        &self,
        resident_id: i64,
        full_name: Option<&str>,
        birth_year: Option<Option<i64>>,
        household_id: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update residents set full_name = coalesce($1, full_name), \
             birth_year = case when $2 then $3 else birth_year end, household_id = coalesce($4, household_id) \
             where resident_id = $5",
        )
        .bind(full_name)
        .bind(birth_year.is_some())
        .bind(birth_year.flatten())
        .bind(household_id)
        .bind(resident_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn visible_gateways(&self, viewer: &Viewer) -> Result<Vec<GatewayStatusRow>, StoreError> {
        let sql = format!("{GATEWAY_COLUMNS} where {} order by gw.gateway_id", household_scope(viewer));
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(viewer.user_id).fetch_all(&self.pool).await?)
    }

    pub async fn visible_gateway(
        &self,
        viewer: &Viewer,
        gateway_id: &str,
    ) -> Result<Option<GatewayStatusRow>, StoreError> {
        let sql = format!("{GATEWAY_COLUMNS} where gw.gateway_id = $2 and {}", household_scope(viewer));
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(viewer.user_id)
            .bind(gateway_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Devices the viewer may see, optionally only those of one resident.
    pub async fn visible_devices(
        &self,
        viewer: &Viewer,
        resident_id: Option<i64>,
    ) -> Result<Vec<DeviceDetailRow>, StoreError> {
        let sql = format!(
            "{DEVICE_COLUMNS} where {} and ($2 is null or d.resident_id = $2) order by d.device_id",
            device_scope(viewer)
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(viewer.user_id)
            .bind(resident_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn visible_device(
        &self,
        viewer: &Viewer,
        device_id: &str,
    ) -> Result<Option<DeviceDetailRow>, StoreError> {
        let sql = format!("{DEVICE_COLUMNS} where d.device_id = $2 and {}", device_scope(viewer));
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(viewer.user_id)
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Binds a device to another gateway and/or wearer.
    pub async fn rebind_device(&self, device_id: &str, gateway_id: &str, resident_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("update devices set gateway_id = $1, resident_id = $2 where device_id = $3")
            .bind(gateway_id)
            .bind(resident_id)
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Adds an organisation unit under `parent`; returns its id.
    pub async fn add_org_unit(&self, parent: i64, kind: crate::org::OrgKind, name: &str) -> Result<i64, StoreError> {
        self.create_org_unit(Some(parent), kind, name).await
    }

    /// The household a resident lives in.
    pub async fn household_of_resident(&self, resident_id: i64) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("select household_id from residents where resident_id = $1")
            .bind(resident_id)
            .fetch_optional(&self.pool)
            .await?)
    }
}
