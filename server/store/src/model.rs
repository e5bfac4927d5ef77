use eldercare_schema::Metric;
use serde::Serialize;

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Caregiver,
    Family,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Caregiver => "caregiver",
            Role::Family => "family",
        }
    }

    pub fn parse(s: &str) -> Result<Role, StoreError> {
        match s {
            "admin" => Ok(Role::Admin),
            "caregiver" => Ok(Role::Caregiver),
            "family" => Ok(Role::Family),
            other => Err(StoreError::Invalid(format!("role {other:?}"))),
        }
    }
}

/// Who is asking: decides which residents a query may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: i64,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user_id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ResidentRow {
    pub resident_id: i64,
    pub full_name: String,
    pub birth_year: Option<i64>,
    pub household_id: i64,
    pub household_name: String,
    pub grid_id: i64,
    pub grid_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DeviceRow {
    pub device_id: String,
    pub gateway_id: String,
    pub resident_id: i64,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VitalRow {
    pub metric: Metric,
    pub value: f64,
    pub measured_ms: i64,
    pub device_id: String,
}
