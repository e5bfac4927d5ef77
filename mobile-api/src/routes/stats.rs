//! Statistics of a part of the organisation for staff: residents monitored, devices and gateways
//! online, alerts by level and the median time to acknowledge them.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use eldercare_schema::api::Problem;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::devices::ONLINE_WITHIN_MS;
use crate::extract::Query;
use crate::params::parse_time;
use crate::rfc3339::format_ms;
use crate::{ApiError, ApiState, AuthUser, scope};

const DAY_MS: i64 = 24 * 3600 * 1000;
const MAX_RANGE_DAYS: i64 = 400;

pub(crate) fn router() -> Router<ApiState> {
    Router::new().route("/api/v1/stats", get(stats))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsQuery {
    /// The unit whose subtree to count (default: every unit the caller is scoped to).
    org_unit_id: Option<i64>,
    /// Alerts opened from (inclusive, RFC 3339). Default: `to` minus 30 days.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Alerts opened until (exclusive, RFC 3339). Default: now.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
}

/// Alerts opened in the window, by level.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct AlertsByLevel {
    info: i64,
    warning: i64,
    urgent: i64,
    critical: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Stats {
    /// The unit counted, or `null` for all of the caller's scope.
    org_unit_id: Option<i64>,
    #[schema(format = DateTime)]
    from: String,
    #[schema(format = DateTime)]
    to: String,
    residents: i64,
    /// Residents wearing at least one registered device.
    residents_monitored: i64,
    devices: i64,
    /// Devices that sent a reading within the last hour.
    devices_online: i64,
    gateways: i64,
    /// Gateways whose last status is `online`.
    gateways_online: i64,
    alerts_by_level: AlertsByLevel,
    /// Alerts not resolved now.
    alerts_open: i64,
    /// Alerts opened in the window and acknowledged.
    alerts_acknowledged: i64,
    /// Median time from opening to acknowledgement of those, seconds (`null` when none).
    median_time_to_acknowledge_s: Option<f64>,
}

/// The median of sorted values.
fn median(sorted: &[i64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2] as f64),
        _ => Some((sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0),
    }
}

/// Statistics of the caller's scope or of one unit in it (staff only).
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "statistics",
    security(("bearer" = [])),
    params(StatsQuery),
    responses(
        (status = 200, description = "The statistics", body = Stats),
        (status = 400, description = "A bad time or range", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such unit in the caller's scope, or the caller is not staff", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn stats(
    State(state): State<ApiState>,
    user: AuthUser,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Stats>, ApiError> {
    let now = state.now_ms();
    let to_ms = q.to.as_deref().map(|s| parse_time("to", s)).transpose()?.unwrap_or(now);
    let from_ms = q.from.as_deref().map(|s| parse_time("from", s)).transpose()?.unwrap_or(to_ms - 30 * DAY_MS);
    if from_ms >= to_ms {
        return Err(ApiError::BadRequest("from must be earlier than to".into()));
    }
    if to_ms - from_ms > MAX_RANGE_DAYS * DAY_MS {
        return Err(ApiError::BadRequest(format!("from..to spans more than {MAX_RANGE_DAYS} days")));
    }
    if !scope::is_staff(&user) {
        return Err(ApiError::NotFound("no statistics for this account".into()));
    }
    let paths = match q.org_unit_id {
        Some(id) => {
            let unit = state.store.org_unit_in_scope(&user.viewer(), id).await?;
            vec![unit.ok_or_else(|| ApiError::NotFound(format!("organisation unit {id} not found")))?.path]
        }
        None => state.store.staff_scope_paths(user.user_id).await?,
    };
    let s = state.store.subtree_stats(&paths, now - ONLINE_WITHIN_MS, from_ms, to_ms).await?;
    let mut by_level = AlertsByLevel::default();
    for (level, n) in &s.alerts_by_level {
        match level.as_str() {
            "info" => by_level.info = *n,
            "warning" => by_level.warning = *n,
            "urgent" => by_level.urgent = *n,
            "critical" => by_level.critical = *n,
            other => tracing::warn!(level = other, "alert of an unknown level ignored in statistics"),
        }
    }
    let detail = format!("org_unit={}", q.org_unit_id.map_or("all".into(), |i| i.to_string()));
    state.audit(Some(user.user_id), "stats.read", None, &detail).await?;
    Ok(Json(Stats {
        org_unit_id: q.org_unit_id,
        from: format_ms(from_ms)?,
        to: format_ms(to_ms)?,
        residents: s.residents,
        residents_monitored: s.residents_monitored,
        devices: s.devices,
        devices_online: s.devices_online,
        gateways: s.gateways,
        gateways_online: s.gateways_online,
        alerts_by_level: by_level,
        alerts_open: s.alerts_open,
        alerts_acknowledged: s.ack_delays_ms.len() as i64,
        median_time_to_acknowledge_s: median(&s.ack_delays_ms).map(|ms| ms / 1000.0),
    }))
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5.0));
        assert_eq!(median(&[1, 3, 100]), Some(3.0));
        assert_eq!(median(&[1, 2, 3, 10]), Some(2.5));
    }
}
