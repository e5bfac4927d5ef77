//! The organisation tree (district → community → grid → household): staff see the subtrees they
//! are scoped to; administrators add units under them; staff add households to their grids.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use eldercare_schema::api::Problem;
use eldercare_store::Role;
use eldercare_store::admin::{HouseholdRow, OrgUnitRow};
use eldercare_store::org::OrgKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract;
use crate::params::text;
use crate::{ApiError, ApiState, AuthUser, scope};

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/org-units", get(list_org_units).post(create_org_unit))
        .route("/api/v1/households", get(list_households).post(create_household))
}

/// The level of an organisation unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum UnitKind {
    District,
    Community,
    Grid,
}

impl UnitKind {
    fn parse(s: &str) -> Option<UnitKind> {
        match s {
            "district" => Some(UnitKind::District),
            "community" => Some(UnitKind::Community),
            "grid" => Some(UnitKind::Grid),
            _ => None,
        }
    }

    /// What may be created under a unit of this kind.
    fn child(self) -> Option<UnitKind> {
        match self {
            UnitKind::District => Some(UnitKind::Community),
            UnitKind::Community => Some(UnitKind::Grid),
            UnitKind::Grid => None,
        }
    }

    fn store_kind(self) -> OrgKind {
        match self {
            UnitKind::District => OrgKind::District,
            UnitKind::Community => OrgKind::Community,
            UnitKind::Grid => OrgKind::Grid,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrgUnit {
    org_unit_id: i64,
    /// `null` for a root (a district).
    parent_id: Option<i64>,
    kind: UnitKind,
    name: String,
}

/// A unit to add under `parent_id`: a community under a district, a grid under a community.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrgUnit {
    parent_id: i64,
    kind: UnitKind,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Household {
    household_id: i64,
    /// The grid it belongs to.
    org_unit_id: i64,
    name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewHousehold {
    /// A grid in the caller's scope.
    org_unit_id: i64,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
}

fn to_unit(r: OrgUnitRow) -> Result<OrgUnit, ApiError> {
    let kind = UnitKind::parse(&r.kind).ok_or_else(|| ApiError::Internal(format!("stored unit kind {:?}", r.kind)))?;
    Ok(OrgUnit { org_unit_id: r.org_unit_id, parent_id: r.parent_id, kind, name: r.name })
}

fn to_household(h: HouseholdRow) -> Household {
    Household { household_id: h.household_id, org_unit_id: h.org_unit_id, name: h.name }
}

/// The organisation units in the caller's subtrees, parents before children (families: none).
#[utoipa::path(
    get,
    path = "/api/v1/org-units",
    tag = "organisation",
    security(("bearer" = [])),
    responses((status = 200, description = "Units in scope", body = Vec<OrgUnit>))
)]
pub(crate) async fn list_org_units(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<Json<Vec<OrgUnit>>, ApiError> {
    let rows = state.store.visible_org_units(&user.viewer()).await?;
    Ok(Json(rows.into_iter().map(to_unit).collect::<Result<_, _>>()?))
}

/// Adds an organisation unit under one in the caller's scope (administrators only).
#[utoipa::path(
    post,
    path = "/api/v1/org-units",
    tag = "organisation",
    security(("bearer" = [])),
    request_body = NewOrgUnit,
    responses(
        (status = 201, description = "Added", body = OrgUnit),
        (status = 404, description = "No such parent in the caller's scope, or the caller is not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "That kind of unit cannot go under that parent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_org_unit(
    State(state): State<ApiState>,
    user: AuthUser,
    extract::Json(req): extract::Json<NewOrgUnit>,
) -> Result<(StatusCode, Json<OrgUnit>), ApiError> {
    let name = text("name", &req.name, 200)?;
    let not_found = || ApiError::NotFound(format!("organisation unit {} not found", req.parent_id));
    if user.role != Role::Admin {
        return Err(not_found());
    }
    let parent = state.store.org_unit_in_scope(&user.viewer(), req.parent_id).await?.ok_or_else(not_found)?;
    let parent_kind = to_unit(parent)?.kind;
    if parent_kind.child() != Some(req.kind) {
        return Err(ApiError::Unprocessable(format!("kind: a {:?} cannot go under a {:?}", req.kind, parent_kind)));
    }
    let id = state.store.add_org_unit(req.parent_id, req.kind.store_kind(), &name).await?;
    state
        .audit(Some(user.user_id), "org_unit.create", None, &format!("org_unit={id} parent={}", req.parent_id))
        .await?;
    Ok((StatusCode::CREATED, Json(OrgUnit { org_unit_id: id, parent_id: Some(req.parent_id), kind: req.kind, name })))
}

/// The households the caller may see: staff, those in their subtrees; families, those their
/// relatives live in.
#[utoipa::path(
    get,
    path = "/api/v1/households",
    tag = "organisation",
    security(("bearer" = [])),
    responses((status = 200, description = "Households in scope", body = Vec<Household>))
)]
pub(crate) async fn list_households(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<Json<Vec<Household>>, ApiError> {
    let rows = state.store.visible_households(&user.viewer()).await?;
    Ok(Json(rows.into_iter().map(to_household).collect()))
}

/// Adds a household to a grid in the caller's scope (staff only).
#[utoipa::path(
    post,
    path = "/api/v1/households",
    tag = "organisation",
    security(("bearer" = [])),
    request_body = NewHousehold,
    responses(
        (status = 201, description = "Added", body = Household),
        (status = 404, description = "No such grid in the caller's scope, or the caller is not staff", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_household(
    State(state): State<ApiState>,
    user: AuthUser,
    extract::Json(req): extract::Json<NewHousehold>,
) -> Result<(StatusCode, Json<Household>), ApiError> {
    let name = text("name", &req.name, 200)?;
    let not_found = || ApiError::NotFound(format!("grid {} not found", req.org_unit_id));
    if !scope::is_staff(&user) {
        return Err(not_found());
    }
    let unit = state.store.org_unit_in_scope(&user.viewer(), req.org_unit_id).await?.ok_or_else(not_found)?;
    if unit.kind != "grid" {
        return Err(ApiError::Unprocessable(format!(
            "org_unit_id: unit {} is a {}, not a grid",
            unit.org_unit_id, unit.kind
        )));
    }
    let id = state.store.create_household(req.org_unit_id, &name).await?;
    state.audit(Some(user.user_id), "household.create", None, &format!("household={id}")).await?;
    Ok((StatusCode::CREATED, Json(Household { household_id: id, org_unit_id: req.org_unit_id, name })))
}
