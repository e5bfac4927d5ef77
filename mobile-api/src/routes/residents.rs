//! Residents the caller may see.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use eldercare_schema::api::{Problem, Resident};
use eldercare_store::ResidentRow;

use crate::extract::Path;
use crate::{ApiError, ApiState, AuthUser};

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/residents", get(list_residents))
        .route("/api/v1/residents/{resident_id}", get(get_resident))
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
    match state.store.visible_resident(&user.viewer(), resident_id).await? {
        Some(row) => Ok(row),
        None => {
            state.audit(Some(user.user_id), "resident.not_visible", Some(resident_id), "").await?;
            Err(ApiError::NotFound(format!("resident {resident_id} not found")))
        }
    }
}

fn to_resident(r: ResidentRow) -> Resident {
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
