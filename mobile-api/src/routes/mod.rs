//! One module and one `router()` per resource.

pub(crate) mod alerts;
pub(crate) mod auth;
pub(crate) mod health;
pub(crate) mod live;
pub(crate) mod residents;
pub(crate) mod vitals;

use axum::Router;
use axum::http::Uri;

use crate::{ApiError, ApiState};

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .merge(auth::router())
        .merge(residents::router())
        .merge(vitals::router())
        .merge(health::router())
        .merge(alerts::router())
}

/// Any path no route matches.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
