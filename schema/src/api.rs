//! Types of the HTTP API shared by the server and its clients (apps, console, tests).
//! The OpenAPI document is generated from the handlers in `eldercare-mobile-api`.

use serde::{Deserialize, Serialize};

use crate::metric::Metric;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    /// Lifetime of the access token, seconds.
    pub expires_in: u64,
}

/// One vital value as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VitalPoint {
    pub metric: Metric,
    pub value: f64,
    pub unit: String,
    /// RFC 3339, UTC.
    pub measured_at: String,
    pub device_id: String,
}
