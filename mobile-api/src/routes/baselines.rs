//! A resident's personal baselines, as the rules engine uses them: per metric the usual value
//! (median), the spread, the band inside which a level is usual, and how many days and readings
//! they rest on, or that the engine is still learning.
//!
//! The engine lives in the server, which depends on this crate, not the reverse; its state is
//! stored as JSON whose layout is the engine's business. So the server passes in a
//! [`BaselineSource`] ([`crate::ApiState::with_baselines`]) that turns the stored state and the
//! resident's threshold overrides into [`Baseline`]s with the engine's own code, exactly as the
//! next reading would be judged; this route does the scope check, the audit and the wire format.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use eldercare_schema::Metric;
use eldercare_schema::api::Problem;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::Path;
use crate::rfc3339::format_ms;
use crate::{ApiError, ApiState, AuthUser, scope};

pub(crate) fn router() -> Router<ApiState> {
    Router::new().route("/api/v1/residents/{resident_id}/baselines", get(get_baselines))
}

/// One metric's personal baseline, in the metric's unit. While `learning`, the statistics and
/// bands are `null`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Baseline {
    pub metric: Metric,
    /// UCUM code of the unit, e.g. `/min`.
    pub unit: String,
    /// Too few days with readings yet (fewer than the resident's `baseline_learning_days`): the
    /// baseline rules are not live for this metric.
    pub learning: bool,
    /// Days with readings the resident's baseline needs before it is live.
    pub learning_days: u32,
    /// Local days with readings behind the baseline (the trailing window; today counts once
    /// it is over).
    pub days: u32,
    /// Readings in those days.
    pub samples: u64,
    /// The usual value: the median of the daily medians.
    pub median: Option<f64>,
    /// Robust standard deviation (1.4826 × MAD, within-day and between-day spread pooled).
    pub sigma: Option<f64>,
    /// The Hampel factor the rules use (`hampel_k`).
    pub k: f64,
    /// The smallest deviation the rules act on, whatever the statistics say.
    pub min_deviation: f64,
    /// The usual band of a period's mean, `median ± max(k·sigma, min_deviation)`: sustained
    /// periods outside it raise a `baseline:<metric>` alert (on the sides in `alerts_below` /
    /// `alerts_above`).
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// The tighter limits of the smoothed level (EWMA of period means): a level that settles
    /// outside them deviates too.
    pub drift_low: Option<f64>,
    pub drift_high: Option<f64>,
    pub alerts_below: bool,
    pub alerts_above: bool,
}

/// A resident's baselines.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Baselines {
    resident_id: i64,
    /// When the rules last stored this resident's state (`null`: no reading judged yet).
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    /// One per metric with a personal baseline that has readings (pulse: daytime readings).
    baselines: Vec<Baseline>,
}

/// The engine's reading of a resident's (by id) stored state (JSON, `None` if none yet) with
/// their threshold overrides (a JSON object, `None` if none).
pub type BaselineSource = std::sync::Arc<dyn Fn(i64, Option<&str>, Option<&str>) -> Vec<Baseline> + Send + Sync>;

/// A resident's personal baselines as the rules engine uses them (anyone who may see the
/// resident; a read of health data, audited).
#[utoipa::path(
    get,
    path = "/api/v1/residents/{resident_id}/baselines",
    tag = "residents",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id")),
    responses(
        (status = 200, description = "The baselines", body = Baselines),
        (status = 404, description = "No such resident in the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "This server runs no rules engine", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_baselines(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
) -> Result<Json<Baselines>, ApiError> {
    scope::visible_resident(&state, &user, resident_id).await?;
    let Some(source) = state.baselines.clone() else {
        return Err(ApiError::NotReady("baselines come from the rules engine, which this server does not run".into()));
    };
    let inputs = state.store.rule_inputs_of(resident_id).await?;
    let baselines = source(resident_id, inputs.state.as_deref(), inputs.overrides.as_deref());
    state.audit(Some(user.user_id), "baselines.read", Some(resident_id), "").await?;
    Ok(Json(Baselines { resident_id, updated_at: inputs.updated_ms.map(format_ms).transpose()?, baselines }))
}
