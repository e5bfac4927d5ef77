//! Residents the caller may see; staff in scope register them and keep them up to date.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use eldercare_schema::api::{Problem, Resident};
use eldercare_store::ResidentRow;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::extract::{self, Path};
use crate::params::{double_option, text};
use crate::{ApiError, ApiState, AuthUser, scope};

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/residents", get(list_residents).post(create_resident))
        .route("/api/v1/residents/{resident_id}", get(get_resident).patch(update_resident))
}

/// A resident to register in a household.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewResident {
    household_id: i64,
    #[schema(min_length = 1, max_length = 200, example = "Wang Jianguo")]
    full_name: String,
    #[schema(minimum = 1880, maximum = 2100, example = 1941)]
    birth_year: Option<i64>,
}

/// Changes to a resident: only the fields present change (`birth_year: null` clears it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResidentUpdate {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    full_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 1880, maximum = 2100)]
    birth_year: Option<Option<i64>>,
    /// Moves the resident to another household (also in the caller's scope).
    #[serde(default)]
    household_id: Option<i64>,
}

fn check_birth_year(year: Option<i64>) -> Result<Option<i64>, ApiError> {
    match year {
        Some(y) if !(1880..=2100).contains(&y) => {
            Err(ApiError::Unprocessable(format!("birth_year: expected 1880 to 2100, got {y}")))
        }
        other => Ok(other),
    }
}

/// The residents in the caller's scope: staff see the units they are scoped to, families their
/// care circle.
#[utoipa::path(
    get,
    path = "/api/v1/residents",
    tag = "residents",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Residents the caller may see, by id", body = Vec<Resident>),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_residents(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<Json<Vec<Resident>>, ApiError> {
    let rows = state.store.visible_residents(&user.viewer()).await?;
    let detail = format!("count={}", rows.len());
    state.audit(Some(user.user_id), "residents.list", None, &detail).await?;
    Ok(Json(rows.into_iter().map(to_resident).collect()))
}

/// One resident.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{resident_id}",
    tag = "residents",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id")),
    responses(
        (status = 200, description = "The resident", body = Resident),
        (status = 400, description = "The id is not an integer", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resident in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_resident(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
) -> Result<Json<Resident>, ApiError> {
    let row = visible_or_not_found(&state, &user, resident_id).await?;
    state.audit(Some(user.user_id), "resident.read", Some(resident_id), "").await?;
    Ok(Json(to_resident(row)))
}

/// The resident if the caller may see it; otherwise 404, whether it exists or not. A refused
/// attempt is audited too.
pub(crate) async fn visible_or_not_found(
    state: &ApiState,
    user: &AuthUser,
    resident_id: i64,
) -> Result<ResidentRow, ApiError> {
    scope::visible_resident(state, user, resident_id).await
}

/// Registers a resident in a household in the caller's scope (staff only).
#[utoipa::path(
    post,
    path = "/api/v1/residents",
    tag = "residents",
    security(("bearer" = [])),
    request_body = NewResident,
    responses(
        (status = 201, description = "Registered", body = Resident),
        (status = 404, description = "No such household in the caller's scope, or the caller is not staff", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_resident(
    State(state): State<ApiState>,
    user: AuthUser,
    extract::Json(req): extract::Json<NewResident>,
) -> Result<(StatusCode, Json<Resident>), ApiError> {
    let name = text("full_name", &req.full_name, 200)?;
    let birth_year = check_birth_year(req.birth_year)?;
    scope::managed_household(&state, &user, req.household_id).await?;
    let id = state.store.create_resident(req.household_id, &name, birth_year).await?;
    state.audit(Some(user.user_id), "resident.create", Some(id), &format!("household={}", req.household_id)).await?;
    let row = scope::visible_resident(&state, &user, id).await?;
    Ok((StatusCode::CREATED, Json(to_resident(row))))
}

/// Changes a resident's name, birth year or household (staff in scope only).
#[utoipa::path(
    patch,
    path = "/api/v1/residents/{resident_id}",
    tag = "residents",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id")),
    request_body = ResidentUpdate,
    responses(
        (status = 200, description = "The resident as changed", body = Resident),
        (status = 404, description = "No such resident (or new household) in the caller's scope, or the caller is not staff", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn update_resident(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
    extract::Json(req): extract::Json<ResidentUpdate>,
) -> Result<Json<Resident>, ApiError> {
    let name = req.full_name.as_deref().map(|n| text("full_name", n, 200)).transpose()?;
    let birth_year = req.birth_year.map(check_birth_year).transpose()?;
    scope::managed_resident(&state, &user, resident_id).await?;
    if let Some(h) = req.household_id {
        scope::managed_household(&state, &user, h).await?;
    }
    state.store.update_resident(resident_id, name.as_deref(), birth_year, req.household_id).await?;
    let mut changed = Vec::new();
    for (field, present) in [
        ("full_name", name.is_some()),
        ("birth_year", birth_year.is_some()),
        ("household_id", req.household_id.is_some()),
    ] {
        if present {
            changed.push(field);
        }
    }
    state
        .audit(Some(user.user_id), "resident.update", Some(resident_id), &format!("fields={}", changed.join(",")))
        .await?;
    let row = scope::visible_resident(&state, &user, resident_id).await?;
    Ok(Json(to_resident(row)))
}

pub(crate) fn to_resident(r: ResidentRow) -> Resident {
    Resident {
        resident_id: r.resident_id,
        full_name: r.full_name,
        birth_year: r.birth_year,
        household_id: r.household_id,
        household_name: r.household_name,
        grid_id: r.grid_id,
        grid_name: r.grid_name,
    }
}
