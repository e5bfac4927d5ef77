//! A resident's vitals: the newest value of each metric, and the history of one metric.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use eldercare_schema::Metric;
use eldercare_schema::api::{Problem, VitalHistory, VitalPoint};
use eldercare_store::VitalRow;
use serde::Deserialize;

use super::residents::visible_or_not_found;
use crate::extract::{Path, Query};
use crate::rfc3339::{self, format_ms};
use crate::{ApiError, ApiState, AuthUser};

const DAY_MS: i64 = 24 * 3600 * 1000;
/// The widest history range one request may ask for.
const MAX_RANGE_DAYS: i64 = 400;
const DEFAULT_LIMIT: i64 = 1000;
const MAX_LIMIT: i64 = 10_000;

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/residents/{resident_id}/vitals/latest", get(latest_vitals))
        .route("/api/v1/residents/{resident_id}/vitals", get(vitals_history))
}

/// The newest value of each metric the resident's devices have reported.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{resident_id}/vitals/latest",
    tag = "vitals",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id")),
    responses(
        (status = 200, description = "One point per metric, by metric code", body = Vec<VitalPoint>),
        (status = 400, description = "The id is not an integer", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resident in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn latest_vitals(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
) -> Result<Json<Vec<VitalPoint>>, ApiError> {
    visible_or_not_found(&state, &user, resident_id).await?;
    let rows = state.store.latest_vitals(resident_id).await?;
    let points = rows.into_iter().map(to_point).collect::<Result<Vec<_>, _>>()?;
    state.audit(Some(user.user_id), "vitals.latest.read", Some(resident_id), "").await?;
    Ok(Json(points))
}

/// The query of [`vitals_history`]. Fields are read as text and checked here, so each error
/// names its parameter and says what is expected.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// The metric's code.
    #[param(value_type = Metric, required = true)]
    metric: Option<String>,
    /// Start, inclusive (RFC 3339; encode `+` as `%2B`). Default: `to` minus 24 hours.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// End, exclusive (RFC 3339). Default: now. At most 400 days after `from`.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// Most points returned, oldest first. Default 1000.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    limit: Option<String>,
}

/// A checked [`HistoryQuery`].
#[derive(Debug, PartialEq)]
struct HistoryRange {
    metric: Metric,
    from_ms: i64,
    to_ms: i64,
    limit: i64,
}

impl HistoryQuery {
    fn check(&self, now_ms: i64) -> Result<HistoryRange, ApiError> {
        let metric = match self.metric.as_deref() {
            None => {
                return Err(ApiError::BadRequest(format!("metric is required; one of: {}", metric_codes())));
            }
            Some(code) => Metric::from_code(code).ok_or_else(|| {
                ApiError::BadRequest(format!("metric: unknown code {code:?}; one of: {}", metric_codes()))
            })?,
        };
        let to_ms = match &self.to {
            Some(s) => parse_time("to", s)?,
            None => now_ms,
        };
        let from_ms = match &self.from {
            Some(s) => parse_time("from", s)?,
            None => to_ms - DAY_MS,
        };
        if from_ms >= to_ms {
            return Err(ApiError::BadRequest("from must be earlier than to".into()));
        }
        if to_ms - from_ms > MAX_RANGE_DAYS * DAY_MS {
            return Err(ApiError::BadRequest(format!("from..to spans more than {MAX_RANGE_DAYS} days")));
        }
        let limit = match &self.limit {
            None => DEFAULT_LIMIT,
            Some(s) => s.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                ApiError::BadRequest(format!("limit: expected an integer from 1 to {MAX_LIMIT}, got {s:?}"))
            })?,
        };
        Ok(HistoryRange { metric, from_ms, to_ms, limit })
    }
}

/// A resident's readings of one metric in `[from, to)`, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{resident_id}/vitals",
    tag = "vitals",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id"), HistoryQuery),
    responses(
        (status = 200, description = "The readings", body = VitalHistory),
        (status = 400, description = "A bad query parameter, named in the detail", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resident in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn vitals_history(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<VitalHistory>, ApiError> {
    let range = query.check(state.now_ms())?;
    visible_or_not_found(&state, &user, resident_id).await?;
    let rows = state.store.vitals_history(resident_id, range.metric, range.from_ms, range.to_ms, range.limit).await?;
    let points = rows.into_iter().map(to_point).collect::<Result<Vec<_>, _>>()?;
    let from = format_ms(range.from_ms)?;
    let to = format_ms(range.to_ms)?;
    let detail = format!("metric={} from={from} to={to} points={}", range.metric, points.len());
    state.audit(Some(user.user_id), "vitals.history.read", Some(resident_id), &detail).await?;
    Ok(Json(VitalHistory {
        resident_id,
        metric: range.metric,
        unit: range.metric.info().ucum.to_owned(),
        from,
        to,
        points,
    }))
}

fn to_point(row: VitalRow) -> Result<VitalPoint, ApiError> {
    Ok(VitalPoint {
        metric: row.metric,
        value: row.value,
        unit: row.metric.info().ucum.to_owned(),
        measured_at: format_ms(row.measured_ms)?,
        device_id: row.device_id,
    })
}

fn metric_codes() -> String {
    Metric::ALL.map(Metric::code).join(", ")
}

fn parse_time(name: &str, s: &str) -> Result<i64, ApiError> {
    rfc3339::parse_ms(s).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{name}: expected an RFC 3339 time such as 2024-05-01T08:00:00Z (encode + as %2B), got {s:?}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(metric: Option<&str>, from: Option<&str>, to: Option<&str>, limit: Option<&str>) -> HistoryQuery {
        let s = |v: Option<&str>| v.map(str::to_owned);
        HistoryQuery { metric: s(metric), from: s(from), to: s(to), limit: s(limit) }
    }

    const NOW: i64 = 1_714_550_400_000; // 2024-05-01T08:00:00Z

    #[test]
    fn defaults_are_the_last_day_and_a_thousand_points() {
        let r = q(Some("spo2"), None, None, None).check(NOW).unwrap();
        assert_eq!(r, HistoryRange { metric: Metric::Spo2, from_ms: NOW - DAY_MS, to_ms: NOW, limit: 1000 });
    }

    #[test]
    fn times_parse_with_offsets() {
        let r = q(Some("heart_rate"), Some("2024-05-01T09:00:00+08:00"), Some("2024-05-01T08:00:00.5Z"), Some("5"))
            .check(NOW)
            .unwrap();
        assert_eq!((r.from_ms, r.to_ms, r.limit), (NOW - 7 * 3600 * 1000, NOW + 500, 5));
    }

    #[test]
    fn bad_input_names_the_parameter() {
        let detail = |q: HistoryQuery| q.check(NOW).unwrap_err().to_problem().detail;
        assert!(detail(q(None, None, None, None)).starts_with("metric is required; one of: heart_rate,"));
        assert!(detail(q(Some("pulse"), None, None, None)).contains("spo2"));
        assert!(detail(q(Some("spo2"), Some("yesterday"), None, None)).starts_with("from:"));
        assert!(detail(q(Some("spo2"), None, Some("2024-05-01 08:00"), None)).starts_with("to:"));
        let same = Some("2024-05-01T08:00:00Z");
        assert_eq!(detail(q(Some("spo2"), same, same, None)), "from must be earlier than to");
        assert!(detail(q(Some("spo2"), Some("2023-01-01T00:00:00Z"), same, None)).contains("400 days"));
        for bad in ["0", "10001", "-1", "ten"] {
            assert!(detail(q(Some("spo2"), None, None, Some(bad))).starts_with("limit:"), "{bad}");
        }
        assert_eq!(q(Some("spo2"), None, None, Some("10000")).check(NOW).unwrap().limit, 10_000);
    }
}
