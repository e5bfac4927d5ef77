//! One module and one `router()` per resource.

pub(crate) mod accounts;
pub(crate) mod alerts;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod baselines;
pub(crate) mod care_circle;
pub(crate) mod devices;
pub(crate) mod docs;
pub(crate) mod health;
pub(crate) mod live;
pub(crate) mod org;
pub(crate) mod residents;
pub(crate) mod stats;
pub(crate) mod thresholds;
pub(crate) mod vitals;

use axum::Router;
use axum::http::Uri;

use crate::{ApiError, ApiState};

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .merge(auth::router())
        .merge(accounts::router())
        .merge(org::router())
        .merge(residents::router())
        .merge(vitals::router())
        .merge(devices::router())
        .merge(care_circle::router())
        .merge(thresholds::router())
        .merge(baselines::router())
        .merge(stats::router())
        .merge(audit::router())
        .merge(crate::fhir::router())
        .merge(docs::router())
        .merge(health::router())
        .merge(alerts::router())
}

/// Any path no route matches.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
