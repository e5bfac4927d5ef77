//! The organisation, people and equipment: created by the demo seed and by administrators.

use crate::{Role, Store, StoreError, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgKind {
    District,
    Community,
    Grid,
}

impl OrgKind {
    fn as_str(self) -> &'static str {
        match self {
            OrgKind::District => "district",
            OrgKind::Community => "community",
            OrgKind::Grid => "grid",
        }
    }
}

impl Store {
    /// Adds an organisation unit under `parent` (or a root when `None`); returns its id.
    /// A write transaction (immediate on SQLite): it reads the parent's path before writing, and
    /// a deferred one that must upgrade its read to a write fails at once (`SQLITE_BUSY`, no busy
    /// wait) when another connection wrote in between, as concurrent API requests do. Paths never
    /// change once set, so on PostgreSQL concurrent creations need no lock.
    pub async fn create_org_unit(&self, parent: Option<i64>, kind: OrgKind, name: &str) -> Result<i64, StoreError> {
        let mut tx = self.write_tx().await?;
        let parent_path: String = match parent {
            Some(p) => sqlx::query_scalar("select path from org_units where org_unit_id = $1")
                .bind(p)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("organisation unit {p}")))?,
            None => "/".to_owned(),
        };
        // The path needs the new id; insert with a unique placeholder, then set it. (Random, so
        // two creations under one parent in the same millisecond do not collide.)
        let placeholder = format!("{parent_path}?{}-{:016x}", now_ms(), rand::random::<u64>());
        let id: i64 = sqlx::query_scalar(
            "insert into org_units (parent_id, kind, name, path) values ($1, $2, $3, $4) returning org_unit_id",
        )
        .bind(parent)
        .bind(kind.as_str())
        .bind(name)
        .bind(&placeholder)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("update org_units set path = $1 where org_unit_id = $2")
            .bind(format!("{parent_path}{id}/"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn create_household(&self, grid_id: i64, name: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("insert into households (org_unit_id, name) values ($1, $2) returning household_id")
            .bind(grid_id)
            .bind(name)
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn create_resident(
        &self,
        household_id: i64,
        full_name: &str,
        birth_year: Option<i64>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "insert into residents (household_id, full_name, birth_year, created_ms) values ($1, $2, $3, $4) \
             returning resident_id",
        )
        .bind(household_id)
        .bind(full_name)
        .bind(birth_year)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?)
    }

    /// Creates an account; `password_hash` is a PHC string (argon2id), never a password.
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        display_name: &str,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "insert into users (username, password_hash, role, display_name, created_ms) values ($1, $2, $3, $4, $5) \
             returning user_id",
        )
        .bind(username)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(display_name)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, format!("user {username:?}")))
    }

    /// Lets a staff member or administrator see everything under `org_unit_id`.
    pub async fn grant_scope(&self, user_id: i64, org_unit_id: i64) -> Result<(), StoreError> {
        sqlx::query("insert into staff_scopes (user_id, org_unit_id) values ($1, $2) on conflict do nothing")
            .bind(user_id)
            .bind(org_unit_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Puts a family member in a resident's care circle.
    pub async fn add_to_care_circle(
        &self,
        user_id: i64,
        resident_id: i64,
        relationship: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into care_circle (user_id, resident_id, relationship, created_ms) values ($1, $2, $3, $4) \
             on conflict do nothing",
        )
        .bind(user_id)
        .bind(resident_id)
        .bind(relationship)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn register_gateway(&self, gateway_id: &str, household_id: i64) -> Result<(), StoreError> {
        eldercare_schema::topic::validate_gateway_id(gateway_id).map_err(|e| StoreError::Invalid(e.to_string()))?;
        sqlx::query("insert into gateways (gateway_id, household_id, created_ms) values ($1, $2, $3)")
            .bind(gateway_id)
            .bind(household_id)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::conflict_on_unique(e, format!("gateway {gateway_id:?}")))?;
        Ok(())
    }

    /// Binds a device to the gateway that forwards it and the resident who wears it.
    pub async fn register_device(
        &self,
        device_id: &str,
        gateway_id: &str,
        resident_id: i64,
        kind: &str,
    ) -> Result<(), StoreError> {
        self.register_devices(&[(device_id, gateway_id, resident_id, kind)]).await
    }

    /// Registers several devices (id, gateway, resident, kind) in one transaction: all or none.
    /// Provisioning a home's devices one commit each cost ~1 ms a device on PostgreSQL (each
    /// insert stamps the binding clock, one row every insert waits its turn on).
    pub async fn register_devices(&self, devices: &[(&str, &str, i64, &str)]) -> Result<(), StoreError> {
        for (device_id, ..) in devices {
            if device_id.is_empty() || device_id.len() > eldercare_schema::payload::MAX_DEVICE_ID_LEN {
                return Err(StoreError::Invalid(format!("device id {device_id:?}")));
            }
        }
        let mut tx = self.write_tx().await?;
        let now = now_ms();
        for (device_id, gateway_id, resident_id, kind) in devices {
            sqlx::query(
                "insert into devices (device_id, gateway_id, resident_id, kind, created_ms) values ($1, $2, $3, $4, $5)",
            )
            .bind(*device_id)
            .bind(*gateway_id)
            .bind(*resident_id)
            .bind(*kind)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_on_unique(e, format!("device {device_id:?}")))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records the newest status a gateway published (its retained status or last will).
    pub async fn set_gateway_status(&self, gateway_id: &str, status: &str, at_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("update gateways set status = $1, status_ms = $2 where gateway_id = $3")
            .bind(status)
            .bind(at_ms)
            .bind(gateway_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether any user exists (the demo seeds only an empty database).
    pub async fn has_users(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("select count(*) from users").fetch_one(&self.pool).await?;
        Ok(n > 0)
    }

    /// Replaces a user's password hash (the demo's `--demo-password` on an existing database).
    pub async fn set_password_hash(&self, username: &str, password_hash: &str) -> Result<(), StoreError> {
        let done = sqlx::query("update users set password_hash = $1 where username = $2")
            .bind(password_hash)
            .bind(username)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {username:?}")));
        }
        Ok(())
    }
}
