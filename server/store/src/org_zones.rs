//! The organisation units with their time zones (`org_units.time_zone`, an IANA name such as
//! `Asia/Shanghai`): the times of a community are shown in its zone. A unit's zone is set when it
//! is created (its parent's, unless given) and changed for a whole subtree at once.

use serde::Serialize;

use crate::{Role, Store, StoreError, Viewer};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ZonedOrgUnitRow {
    pub org_unit_id: i64,
    pub parent_id: Option<i64>,
    pub kind: String,
    pub name: String,
    pub path: String,
    pub time_zone: String,
}

impl Store {
    /// The organisation units a caller may see, parents before children: staff, the subtrees
    /// they are scoped to; families, the units above the homes of the residents in their care
    /// circle (district, community, grid: where their relatives live, not what else is there).
    pub async fn visible_zoned_org_units(&self, viewer: &Viewer) -> Result<Vec<ZonedOrgUnitRow>, StoreError> {
        let query = match viewer.role {
            Role::Admin | Role::Caregiver => sqlx::query_as(
                "select g.org_unit_id, g.parent_id, g.kind, g.name, g.path, g.time_zone from org_units g \
                 where exists (select 1 from staff_scopes s join org_units su on su.org_unit_id = s.org_unit_id \
                 where s.user_id = $1 and substr(g.path, 1, length(su.path)) = su.path) order by g.path",
            ),
            Role::Family => sqlx::query_as(
                "select g.org_unit_id, g.parent_id, g.kind, g.name, g.path, g.time_zone from org_units g \
                 where exists (select 1 from care_circle c join residents r on r.resident_id = c.resident_id \
                 join households h on h.household_id = r.household_id \
                 join org_units hg on hg.org_unit_id = h.org_unit_id \
                 where c.user_id = $1 and substr(hg.path, 1, length(g.path)) = g.path) order by g.path",
            ),
        };
        Ok(query.bind(viewer.user_id).fetch_all(&self.pool).await?)
    }

    /// One unit with its zone (no scope check: callers check it first).
    pub async fn zoned_org_unit(&self, org_unit_id: i64) -> Result<Option<ZonedOrgUnitRow>, StoreError> {
        Ok(sqlx::query_as(
            "select org_unit_id, parent_id, kind, name, path, time_zone from org_units where org_unit_id = $1",
        )
        .bind(org_unit_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The time zone of the unit a household belongs to (`None`: no such household).
    pub async fn household_time_zone(&self, household_id: i64) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "select o.time_zone from households h join org_units o on o.org_unit_id = h.org_unit_id \
             where h.household_id = $1",
        )
        .bind(household_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Sets the time zone of a unit and of every unit under it; returns how many changed.
    pub async fn set_subtree_time_zone(&self, org_unit_id: i64, time_zone: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "update org_units set time_zone = $1 where org_unit_id in (select c.org_unit_id from org_units c \
             join org_units p on substr(c.path, 1, length(p.path)) = p.path where p.org_unit_id = $2)",
        )
        .bind(time_zone)
        .bind(org_unit_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Renames a unit.
    pub async fn rename_org_unit(&self, org_unit_id: i64, name: &str) -> Result<(), StoreError> {
        let done = sqlx::query("update org_units set name = $1 where org_unit_id = $2")
            .bind(name)
            .bind(org_unit_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("organisation unit {org_unit_id}")));
        }
        Ok(())
    }
}
