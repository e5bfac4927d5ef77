//! Types of the HTTP API shared by the server and its clients (apps, console, tests).
//! The OpenAPI document is generated from the handlers in `eldercare-mobile-api`; with the
//! `openapi` feature these types also describe themselves to it (`utoipa::ToSchema`).
//!
//! Types that carry a password or a token print it as `<redacted>` in `Debug`, so a stray
//! `{:?}` in a log line cannot leak a secret.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::metric::Metric;

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    #[cfg_attr(feature = "openapi", schema(example = "caregiver"))]
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(format = Password))]
    pub password: String,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// Exchanges a refresh token for a new token pair; the old refresh token is then spent.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

impl fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshRequest").field("refresh_token", &"<redacted>").finish()
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque, single use: exchange it at `/api/v1/auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    #[cfg_attr(feature = "openapi", schema(example = "Bearer"))]
    pub token_type: String,
    /// Lifetime of the access token, seconds.
    pub expires_in: u64,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The signed-in account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub user_id: i64,
    pub username: String,
    /// `admin`, `caregiver` or `family`.
    #[cfg_attr(feature = "openapi", schema(example = "caregiver"))]
    pub role: String,
    pub display_name: String,
}

/// A resident the caller may see, with where they live in the organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resident {
    pub resident_id: i64,
    pub full_name: String,
    pub birth_year: Option<i64>,
    pub household_id: i64,
    pub household_name: String,
    pub grid_id: i64,
    pub grid_name: String,
}

/// One vital value as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VitalPoint {
    pub metric: Metric,
    pub value: f64,
    /// UCUM code of the metric's unit, e.g. `%` or `/min`.
    pub unit: String,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub measured_at: String,
    pub device_id: String,
}

/// A resident's readings of one metric in `[from, to)`, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VitalHistory {
    pub resident_id: i64,
    pub metric: Metric,
    pub unit: String,
    /// RFC 3339, UTC; inclusive.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub from: String,
    /// RFC 3339, UTC; exclusive.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub to: String,
    pub points: Vec<VitalPoint>,
}

/// An error, as `application/problem+json` (RFC 9457).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `urn:eldercare:problem:invalid-token`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    /// What went wrong with this request, for a person to read.
    pub detail: String,
}

/// The metric catalogue as an OpenAPI string enum, built from [`Metric::ALL`] so it cannot drift.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Metric {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A metric of the catalogue (its code)."))
            .enum_values(Some(Metric::ALL.iter().map(|m| m.code())))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Metric {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let login = LoginRequest { username: "ann".into(), password: "hunter2".into() };
        let tokens = TokenResponse {
            access_token: "aaa.bbb.ccc".into(),
            refresh_token: "r3fr35h".into(),
            token_type: "Bearer".into(),
            expires_in: 900,
        };
        let refresh = RefreshRequest { refresh_token: "r3fr35h".into() };
        let printed = format!("{login:?} {tokens:?} {refresh:?}");
        assert!(printed.contains("ann"));
        for secret in ["hunter2", "aaa.bbb.ccc", "r3fr35h"] {
            assert!(!printed.contains(secret), "{secret} printed in {printed}");
        }
    }

    #[test]
    fn problem_serialises_its_type_field_as_type() {
        let p = Problem { type_: "about:blank".into(), title: "Not Found".into(), status: 404, detail: "x".into() };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["type"], "about:blank");
        assert_eq!(serde_json::from_value::<Problem>(v).unwrap(), p);
    }
}
