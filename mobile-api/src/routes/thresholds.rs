//! Per-resident overrides of the rules' default thresholds (e.g. an SpO2 floor of 88 % for a
//! resident with COPD). Anyone who may see the resident may read them; only staff in scope may
//! change them; every change is kept with who made it and when, before and after.
//!
//! The API checks the shape (a flat-ish JSON object of named numbers, booleans or short
//! strings); the rules engine, which reads `resident_thresholds.overrides`, owns their meaning:
//! the server passes its check in ([`crate::ApiState::with_threshold_check`]), so that overrides
//! the engine would not apply are refused with 422 instead of stored and ignored.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use eldercare_schema::api::Problem;
use eldercare_store::thresholds::ThresholdChangeRow;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{self, Path, Query};
use crate::params::parse_int;
use crate::rfc3339::format_ms;
use crate::{ApiError, ApiState, AuthUser, scope};

/// Most overrides per resident, and longest encoded object.
const MAX_KEYS: usize = 64;
const MAX_BYTES: usize = 8 * 1024;

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/residents/{resident_id}/thresholds", get(get_thresholds).put(put_thresholds))
        .route("/api/v1/residents/{resident_id}/thresholds/history", get(threshold_history))
}

/// A resident's overrides.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Thresholds {
    resident_id: i64,
    /// Names to values, e.g. `{"spo2_scale": 2, "fever_single_c": 37.5}`; `{}` when the defaults
    /// apply.
    #[schema(value_type = Object)]
    overrides: Map<String, Value>,
    /// When they last changed (`null`: never).
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    updated_by: Option<i64>,
}

/// One change of a resident's overrides.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ThresholdChange {
    change_id: i64,
    #[schema(format = DateTime)]
    changed_at: String,
    changed_by: Option<i64>,
    #[schema(value_type = Object)]
    overrides: Map<String, Value>,
    /// Before the change (`null` for the first).
    #[schema(value_type = Option<Object>)]
    previous: Option<Map<String, Value>>,
}

/// The new overrides, replacing the old ones (send `{}` to return to the defaults).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct ThresholdsUpdate(Map<String, Value>);

impl utoipa::PartialSchema for ThresholdsUpdate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Names (snake_case) to numbers, booleans, short strings, or one level of objects of those; \
                 replaces all overrides (`{}`: back to the defaults).",
            ))
            .examples([serde_json::json!({"spo2_scale": 2, "fever_single_c": 37.5, "no_data_hours": {"scale": 96}})])
            .into()
    }
}

impl ToSchema for ThresholdsUpdate {}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryPage {
    /// Most changes returned, newest first. Default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
}

fn check_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_scalar(path: &str, v: &Value) -> Result<(), ApiError> {
    match v {
        Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => Ok(()),
        Value::Bool(_) => Ok(()),
        Value::String(s) if s.chars().count() <= 64 => Ok(()),
        _ => Err(ApiError::Unprocessable(format!(
            "{path}: expected a number, a boolean or a string of 64 characters at most"
        ))),
    }
}

/// Keys are `snake_case`; values numbers, booleans, short strings, or one level of objects of
/// those (per device kind, per metric).
fn check_overrides(map: &Map<String, Value>) -> Result<(), ApiError> {
    if map.len() > MAX_KEYS {
        return Err(ApiError::Unprocessable(format!("at most {MAX_KEYS} overrides")));
    }
    for (key, value) in map {
        if !check_key(key) {
            return Err(ApiError::Unprocessable(format!("{key:?}: names are snake_case, 64 characters at most")));
        }
        match value {
            Value::Object(inner) => {
                if inner.len() > MAX_KEYS {
                    return Err(ApiError::Unprocessable(format!("{key}: at most {MAX_KEYS} entries")));
                }
                for (k, v) in inner {
                    if !check_key(k) {
                        return Err(ApiError::Unprocessable(format!("{key}.{k:?}: names are snake_case")));
                    }
                    check_scalar(&format!("{key}.{k}"), v)?;
                }
            }
            other => check_scalar(key, other)?,
        }
    }
    Ok(())
}

fn parse_object(json: &str) -> Result<Map<String, Value>, ApiError> {
    serde_json::from_str(json).map_err(|e| ApiError::Internal(format!("stored thresholds: {e}")))
}

fn to_change(c: ThresholdChangeRow) -> Result<ThresholdChange, ApiError> {
    Ok(ThresholdChange {
        change_id: c.change_id,
        changed_at: format_ms(c.changed_ms)?,
        changed_by: c.changed_by,
        overrides: parse_object(&c.overrides)?,
        previous: c.previous.as_deref().map(parse_object).transpose()?,
    })
}

/// A resident's threshold overrides (anyone who may see the resident).
#[utoipa::path(
    get,
    path = "/api/v1/residents/{resident_id}/thresholds",
    tag = "thresholds",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id")),
    responses(
        (status = 200, description = "The overrides", body = Thresholds),
        (status = 404, description = "No such resident in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_thresholds(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
) -> Result<Json<Thresholds>, ApiError> {
    scope::visible_resident(&state, &user, resident_id).await?;
    let row = state.store.resident_thresholds(resident_id).await?;
    state.audit(Some(user.user_id), "thresholds.read", Some(resident_id), "").await?;
    Ok(Json(match row {
        Some(r) => Thresholds {
            resident_id,
            overrides: parse_object(&r.overrides)?,
            updated_at: Some(format_ms(r.updated_ms)?),
            updated_by: r.updated_by,
        },
        None => Thresholds { resident_id, overrides: Map::new(), updated_at: None, updated_by: None },
    }))
}

/// Replaces a resident's overrides (staff in scope only); the change is recorded.
#[utoipa::path(
    put,
    path = "/api/v1/residents/{resident_id}/thresholds",
    tag = "thresholds",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id")),
    request_body = ThresholdsUpdate,
    responses(
        (status = 200, description = "The overrides as stored", body = Thresholds),
        (status = 404, description = "No such resident in the caller's scope, or the caller is not staff", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an object of named values; the detail names the entry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn put_thresholds(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
    extract::Json(ThresholdsUpdate(overrides)): extract::Json<ThresholdsUpdate>,
) -> Result<Json<Thresholds>, ApiError> {
    check_overrides(&overrides)?;
    if let Some(check) = &state.threshold_check {
        check(&Value::Object(overrides.clone())).map_err(ApiError::Unprocessable)?;
    }
    let json = serde_json::to_string(&overrides).map_err(|e| ApiError::Internal(e.to_string()))?;
    if json.len() > MAX_BYTES {
        return Err(ApiError::Unprocessable(format!("at most {MAX_BYTES} bytes of overrides")));
    }
    scope::managed_resident(&state, &user, resident_id).await?;
    let row = state.store.set_resident_thresholds(resident_id, &json, user.user_id, state.now_ms()).await?;
    let keys: Vec<&str> = overrides.keys().map(String::as_str).collect();
    state
        .audit(Some(user.user_id), "thresholds.update", Some(resident_id), &format!("keys={}", keys.join(",")))
        .await?;
    tracing::info!(resident_id, by = user.user_id, "thresholds changed");
    Ok(Json(Thresholds {
        resident_id,
        overrides,
        updated_at: Some(format_ms(row.updated_ms)?),
        updated_by: row.updated_by,
    }))
}

/// Every change of a resident's overrides, newest first (anyone who may see the resident).
#[utoipa::path(
    get,
    path = "/api/v1/residents/{resident_id}/thresholds/history",
    tag = "thresholds",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id"), HistoryPage),
    responses(
        (status = 200, description = "The changes", body = Vec<ThresholdChange>),
        (status = 400, description = "A bad limit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resident in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn threshold_history(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
    Query(page): Query<HistoryPage>,
) -> Result<Json<Vec<ThresholdChange>>, ApiError> {
    let limit = parse_int("limit", page.limit.as_deref(), 50, 1, 500)?;
    scope::visible_resident(&state, &user, resident_id).await?;
    let rows = state.store.threshold_history(resident_id, limit).await?;
    state.audit(Some(user.user_id), "thresholds.history.read", Some(resident_id), "").await?;
    Ok(Json(rows.into_iter().map(to_change).collect::<Result<_, _>>()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Result<(), String> {
        let Value::Object(map) = v else { panic!("not an object") };
        check_overrides(&map).map_err(|e| e.to_problem().detail)
    }

    #[test]
    fn named_scalars_and_one_level_of_objects() {
        check(json!({})).unwrap();
        check(json!({"spo2_min": 88, "fever_c": 37.5, "copd": true, "note": "target 88-92"})).unwrap();
        check(json!({"no_data_hours": {"fall_pendant": 6, "scale": 48}})).unwrap();
        assert!(check(json!({"SpO2": 88})).unwrap_err().contains("snake_case"));
        assert!(check(json!({"a": {"b": {"c": 1}}})).unwrap_err().starts_with("a.b:"));
        assert!(check(json!({"a": [1, 2]})).unwrap_err().starts_with("a:"));
        assert!(check(json!({"a": null})).is_err());
        assert!(check(json!({"a": "x".repeat(65)})).is_err());
        let many: Map<String, Value> = (0..65).map(|i| (format!("k{i}"), json!(1))).collect();
        assert!(check(Value::Object(many)).unwrap_err().contains("at most 64"));
    }
}
