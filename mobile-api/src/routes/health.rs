//! Liveness and readiness for load balancers and orchestrators.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use eldercare_schema::api::Problem;

use crate::{ApiError, ApiState};

pub(crate) fn router() -> Router<ApiState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Alive", body = String, example = "ok")))]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// The database answers and the server's other dependencies (its MQTT broker link) are ready.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Ready", body = String, example = "ready"),
        (status = 503, description = "What is not ready", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn readyz(State(state): State<ApiState>) -> Result<&'static str, ApiError> {
    let mut not_ready = Vec::new();
    if let Err(e) = state.store.ping().await {
        tracing::warn!(error = %e, "not ready: database");
        not_ready.push("database unreachable".to_owned());
    }
    if let Some(check) = &state.readiness
        && let Err(why) = check()
    {
        tracing::warn!(reason = %why, "not ready");
        not_ready.push(why);
    }
    if not_ready.is_empty() { Ok("ready") } else { Err(ApiError::NotReady(not_ready.join("; "))) }
}
