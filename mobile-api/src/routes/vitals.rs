//! Vitals: the newest value of each metric of one resident or of many (the caregiver's
//! dashboard), and the history of one metric, raw (paged by cursor) or rolled up per hour or
//! day, chosen by the range unless the caller says which.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use eldercare_schema::Metric;
use eldercare_schema::api::{Problem, VitalPoint};
use eldercare_store::VitalRow;
use eldercare_store::vitals::{RollupRow, VitalCursor};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{Path, Query};
use crate::params::parse_time;
use crate::rfc3339::format_ms;
use crate::{ApiError, ApiState, AuthUser, scope};

const HOUR_MS: i64 = 3600 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The widest history range one request may ask for.
const MAX_RANGE_DAYS: i64 = 400;
const DEFAULT_LIMIT: i64 = 1000;
const MAX_LIMIT: i64 = 10_000;
/// `auto` resolution: raw up to this range, hourly up to [`AUTO_HOURLY_UP_TO`], daily beyond.
const AUTO_RAW_UP_TO: i64 = 2 * DAY_MS;
const AUTO_HOURLY_UP_TO: i64 = 31 * DAY_MS;
/// Residents per dashboard call.
const MAX_DASHBOARD: i64 = 500;

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/residents/{resident_id}/vitals/latest", get(latest_vitals))
        .route("/api/v1/residents/{resident_id}/vitals", get(vitals_history))
        .route("/api/v1/vitals/latest", get(dashboard))
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
        (status = 404, description = "No such resident in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn latest_vitals(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
) -> Result<Json<Vec<VitalPoint>>, ApiError> {
    scope::visible_resident(&state, &user, resident_id).await?;
    let rows = state.store.latest_vitals(resident_id).await?;
    let points = rows.into_iter().map(to_point).collect::<Result<Vec<_>, _>>()?;
    state.audit(Some(user.user_id), "vitals.latest.read", Some(resident_id), "").await?;
    Ok(Json(points))
}

/// How a history is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Resolution {
    /// Every reading.
    Raw,
    /// Count, min, max and mean per hour (UTC).
    Hour,
    /// Count, min, max and mean per day (UTC).
    Day,
}

/// The query of [`vitals_history`]. Fields are read as text and checked here, so each error
/// names its parameter and says what is expected.
#[derive(Debug, Deserialize, IntoParams)]
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
    /// `raw`, `hour`, `day`, or `auto` (the default): raw up to 2 days, hourly up to 31 days,
    /// daily beyond.
    #[param(value_type = Option<String>, pattern = "^(auto|raw|hour|day)$")]
    resolution: Option<String>,
    /// Raw only: most points per page, oldest first. Default 1000.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    limit: Option<String>,
    /// Raw only: the `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A checked [`HistoryQuery`].
#[derive(Debug, PartialEq)]
struct HistoryRange {
    metric: Metric,
    from_ms: i64,
    to_ms: i64,
    resolution: Resolution,
    limit: i64,
    after: Option<VitalCursor>,
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
        let limit = crate::params::parse_int("limit", self.limit.as_deref(), DEFAULT_LIMIT, 1, MAX_LIMIT)?;
        let span = to_ms - from_ms;
        let resolution = match self.resolution.as_deref() {
            None | Some("auto") if span <= AUTO_RAW_UP_TO => Resolution::Raw,
            None | Some("auto") if span <= AUTO_HOURLY_UP_TO => Resolution::Hour,
            None | Some("auto") => Resolution::Day,
            Some("raw") => Resolution::Raw,
            Some("hour") => Resolution::Hour,
            Some("day") => Resolution::Day,
            Some(other) => {
                return Err(ApiError::BadRequest(format!("resolution: one of auto, raw, hour, day; got {other:?}")));
            }
        };
        let after = self.cursor.as_deref().map(parse_cursor).transpose()?;
        if after.is_some() && resolution != Resolution::Raw {
            return Err(ApiError::BadRequest("cursor: only raw histories have pages".into()));
        }
        Ok(HistoryRange { metric, from_ms, to_ms, resolution, limit, after })
    }
}

/// `<measured_ms>.<seq>.<device id as hex>`: opaque to clients, URL-safe.
fn encode_cursor(c: &VitalCursor) -> String {
    format!("{}.{}.{}", c.measured_ms, c.seq, hex::encode(c.device_id.as_bytes()))
}

fn parse_cursor(s: &str) -> Result<VitalCursor, ApiError> {
    let bad = || ApiError::BadRequest(format!("cursor: not a cursor of this API: {s:?}"));
    let mut parts = s.splitn(3, '.');
    let measured_ms = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let seq = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let device = parts.next().and_then(|p| hex::decode(p).ok()).ok_or_else(bad)?;
    let device_id = String::from_utf8(device).map_err(|_| bad())?;
    Ok(VitalCursor { measured_ms, device_id, seq })
}

/// One bucket of a rollup.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VitalBucket {
    /// The bucket's start (UTC hour or day), RFC 3339.
    #[schema(format = DateTime)]
    start: String,
    count: i64,
    min: f64,
    max: f64,
    mean: f64,
}

/// A resident's history of one metric in `[from, to)`, oldest first: the readings themselves
/// (`raw`) or per-hour or per-day buckets.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VitalSeries {
    resident_id: i64,
    metric: Metric,
    /// UCUM code of the values' unit.
    unit: String,
    #[schema(format = DateTime)]
    from: String,
    #[schema(format = DateTime)]
    to: String,
    resolution: Resolution,
    /// The readings (raw resolution; empty otherwise).
    points: Vec<VitalPoint>,
    /// The buckets that have readings (hour and day resolutions; empty for raw).
    buckets: Vec<VitalBucket>,
    /// Raw only: pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// A resident's readings of one metric in `[from, to)`: raw (with cursor pagination) or rolled
/// up per hour or day.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{resident_id}/vitals",
    tag = "vitals",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id"), HistoryQuery),
    responses(
        (status = 200, description = "The history", body = VitalSeries),
        (status = 400, description = "A bad query parameter, named in the detail", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resident in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn vitals_history(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<VitalSeries>, ApiError> {
    let range = query.check(state.now_ms())?;
    scope::visible_resident(&state, &user, resident_id).await?;
    let (mut points, mut buckets, mut next_cursor) = (Vec::new(), Vec::new(), None);
    match range.resolution {
        Resolution::Raw => {
            let s = &state.store;
            let page = s
                .vitals_page(
                    resident_id,
                    range.metric,
                    range.from_ms,
                    range.to_ms,
                    range.after.as_ref(),
                    range.limit + 1,
                )
                .await?;
            let more = page.len() as i64 > range.limit;
            for raw in page.into_iter().take(range.limit as usize) {
                next_cursor = Some(VitalCursor {
                    measured_ms: raw.row.measured_ms,
                    device_id: raw.row.device_id.clone(),
                    seq: raw.seq,
                });
                points.push(to_point(raw.row)?);
            }
            next_cursor = next_cursor.filter(|_| more);
        }
        Resolution::Hour | Resolution::Day => {
            let size = if range.resolution == Resolution::Hour { HOUR_MS } else { DAY_MS };
            let rows = state.store.vitals_rollup(resident_id, range.metric, range.from_ms, range.to_ms, size).await?;
            buckets = rows.into_iter().map(to_bucket).collect::<Result<_, _>>()?;
        }
    }
    let from = format_ms(range.from_ms)?;
    let to = format_ms(range.to_ms)?;
    let detail = format!(
        "metric={} from={from} to={to} resolution={:?} points={}",
        range.metric,
        range.resolution,
        points.len() + buckets.len()
    );
    state.audit(Some(user.user_id), "vitals.history.read", Some(resident_id), &detail).await?;
    Ok(Json(VitalSeries {
        resident_id,
        metric: range.metric,
        unit: range.metric.info().ucum.to_owned(),
        from,
        to,
        resolution: range.resolution,
        points,
        buckets,
        next_cursor: next_cursor.as_ref().map(encode_cursor),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DashboardQuery {
    /// Only these residents (comma-separated ids, at most 500); default: everyone in scope.
    #[param(value_type = Option<String>, pattern = "^[0-9]{1,18}(,[0-9]{1,18}){0,499}$", example = "1,2,3")]
    resident_ids: Option<String>,
    /// Only residents with a larger id (the last `resident_id` of the previous page).
    after_id: Option<i64>,
    /// Most residents returned, by id. Default 200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
}

/// The newest vitals of one resident.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResidentVitals {
    resident_id: i64,
    /// One point per metric, by metric code (empty: nothing reported yet).
    vitals: Vec<VitalPoint>,
}

fn parse_ids(s: &str) -> Result<Vec<i64>, ApiError> {
    let ids: Vec<i64> = s
        .split(',')
        .map(|p| p.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::BadRequest(format!("resident_ids: expected comma-separated integers, got {s:?}")))?;
    if ids.len() as i64 > MAX_DASHBOARD {
        return Err(ApiError::BadRequest(format!("resident_ids: at most {MAX_DASHBOARD}")));
    }
    Ok(ids)
}

/// The caregiver's dashboard: the newest vitals of many residents in one call (those of the
/// residents asked for that are in scope; the others are left out, as if absent).
#[utoipa::path(
    get,
    path = "/api/v1/vitals/latest",
    tag = "vitals",
    security(("bearer" = [])),
    params(DashboardQuery),
    responses(
        (status = 200, description = "Residents in scope by id, each with their newest vitals", body = Vec<ResidentVitals>),
        (status = 400, description = "A bad query parameter, named in the detail", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn dashboard(
    State(state): State<ApiState>,
    user: AuthUser,
    Query(q): Query<DashboardQuery>,
) -> Result<Json<Vec<ResidentVitals>>, ApiError> {
    let only = q.resident_ids.as_deref().map(parse_ids).transpose()?;
    let limit = crate::params::parse_int("limit", q.limit.as_deref(), 200, 1, MAX_DASHBOARD)?;
    let visible = state.store.visible_resident_ids(&user.viewer(), only.as_deref()).await?;
    let ids: Vec<i64> =
        visible.into_iter().filter(|&id| q.after_id.is_none_or(|a| id > a)).take(limit as usize).collect();
    let rows = state.store.latest_vitals_of(&ids).await?;
    let mut out: Vec<ResidentVitals> =
        ids.iter().map(|&resident_id| ResidentVitals { resident_id, vitals: Vec::new() }).collect();
    let mut at = 0;
    for (resident_id, row) in rows {
        // Both lists are by resident id.
        while out[at].resident_id != resident_id {
            at += 1;
        }
        out[at].vitals.push(to_point(row)?);
    }
    let audited: Vec<Option<i64>> = ids.iter().map(|&id| Some(id)).collect();
    state.audit_residents(Some(user.user_id), "vitals.latest.read", &audited, "dashboard").await?;
    Ok(Json(out))
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

fn to_bucket(r: RollupRow) -> Result<VitalBucket, ApiError> {
    Ok(VitalBucket { start: format_ms(r.bucket_ms)?, count: r.count, min: r.min, max: r.max, mean: r.mean })
}

fn metric_codes() -> String {
    Metric::ALL.map(Metric::code).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(metric: Option<&str>, from: Option<&str>, to: Option<&str>, limit: Option<&str>) -> HistoryQuery {
        let s = |v: Option<&str>| v.map(str::to_owned);
        HistoryQuery { metric: s(metric), from: s(from), to: s(to), limit: s(limit), resolution: None, cursor: None }
    }

    const NOW: i64 = 1_714_550_400_000; // 2024-05-01T08:00:00Z

    #[test]
    fn defaults_are_the_last_day_raw_and_a_thousand_points() {
        let r = q(Some("spo2"), None, None, None).check(NOW).unwrap();
        let expected = HistoryRange {
            metric: Metric::Spo2,
            from_ms: NOW - DAY_MS,
            to_ms: NOW,
            resolution: Resolution::Raw,
            limit: 1000,
            after: None,
        };
        assert_eq!(r, expected);
    }

    #[test]
    fn auto_resolution_follows_the_range() {
        let with_from = |from: &str| q(Some("spo2"), Some(from), None, None).check(NOW).unwrap().resolution;
        assert_eq!(with_from("2024-04-29T08:00:00Z"), Resolution::Raw, "two days");
        assert_eq!(with_from("2024-04-29T07:59:59Z"), Resolution::Hour, "a second more");
        assert_eq!(with_from("2024-03-31T08:00:00Z"), Resolution::Hour, "31 days");
        assert_eq!(with_from("2024-03-01T00:00:00Z"), Resolution::Day);
        let mut explicit = q(Some("spo2"), Some("2024-03-01T00:00:00Z"), None, None);
        explicit.resolution = Some("raw".into());
        assert_eq!(explicit.check(NOW).unwrap().resolution, Resolution::Raw);
        explicit.resolution = Some("minute".into());
        assert!(explicit.check(NOW).unwrap_err().to_problem().detail.starts_with("resolution:"));
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = VitalCursor { measured_ms: NOW, device_id: "ox:a.b-1".into(), seq: 42 };
        assert_eq!(parse_cursor(&encode_cursor(&c)).unwrap(), c);
        for bad in ["", "1.2", "x.2.61", "1.2.zz", "1.2.ff"] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
        let mut day = q(Some("spo2"), Some("2024-03-01T00:00:00Z"), None, None);
        day.cursor = Some(encode_cursor(&c));
        assert!(day.check(NOW).unwrap_err().to_problem().detail.starts_with("cursor:"));
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

    #[test]
    fn dashboard_ids_are_a_bounded_list_of_integers() {
        assert_eq!(parse_ids("1, 2,3").unwrap(), vec![1, 2, 3]);
        assert!(parse_ids("1,,2").is_err());
        assert!(parse_ids("a").is_err());
        let many = (0..501).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        assert!(parse_ids(&many).is_err());
    }
}
