//! The organisation tree (district → community → grid → household): staff see the subtrees they
//! are scoped to, families the units their relatives live in; administrators add units under
//! theirs and change them (name, time zone); staff add households to their grids.
//!
//! Every unit has a time zone (an IANA name, `Asia/Shanghai` by default): the community's local
//! time is what the console shows. A new unit takes its parent's zone unless given one; changing
//! a unit's zone changes the zone of everything under it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use eldercare_schema::api::Problem;
use eldercare_store::Role;
use eldercare_store::admin::{HouseholdRow, OrgUnitRow};
use eldercare_store::org::OrgKind;
use eldercare_store::org_zones::ZonedOrgUnitRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{self, Path};
use crate::params::text;
use crate::{ApiError, ApiState, AuthUser, scope};

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/org-units", get(list_org_units).post(create_org_unit))
        .route("/api/v1/org-units/{org_unit_id}", patch(update_org_unit))
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
    /// The IANA time zone its local times are in.
    #[schema(example = "Asia/Shanghai")]
    time_zone: String,
}

/// A unit to add under `parent_id`: a community under a district, a grid under a community.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrgUnit {
    parent_id: i64,
    kind: UnitKind,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// An IANA time zone name; default: the parent's.
    #[serde(default)]
    #[schema(example = "Asia/Urumqi")]
    time_zone: Option<String>,
}

/// Changes to a unit (administrators with it in scope): only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrgUnitUpdate {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    /// An IANA time zone name; applies to the unit and every unit under it.
    #[serde(default)]
    #[schema(example = "Asia/Shanghai")]
    time_zone: Option<String>,
}

/// The IANA name of a time zone in its canonical spelling, or 422 naming the field.
fn check_time_zone(name: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::Unprocessable(format!(
            "time_zone: {name:?} is not an IANA time zone name (e.g. \"Asia/Shanghai\", \"Europe/London\")"
        ))
    };
    // Names only: no POSIX TZ strings, offsets or paths.
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b)) {
        return Err(bad());
    }
    let tz = jiff::tz::TimeZone::get(name).map_err(|_| bad())?;
    Ok(tz.iana_name().unwrap_or(name).to_owned())
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

fn unit_kind(kind: &str) -> Result<UnitKind, ApiError> {
    UnitKind::parse(kind).ok_or_else(|| ApiError::Internal(format!("stored unit kind {kind:?}")))
}

fn to_unit(r: ZonedOrgUnitRow) -> Result<OrgUnit, ApiError> {
    let kind = unit_kind(&r.kind)?;
    Ok(OrgUnit { org_unit_id: r.org_unit_id, parent_id: r.parent_id, kind, name: r.name, time_zone: r.time_zone })
}

/// A unit in an administrator's scope, or 404 (for anyone else too).
async fn administered_unit(state: &ApiState, user: &AuthUser, org_unit_id: i64) -> Result<OrgUnitRow, ApiError> {
    let not_found = || ApiError::NotFound(format!("organisation unit {org_unit_id} not found"));
    if user.role != Role::Admin {
        return Err(not_found());
    }
    state.store.org_unit_in_scope(&user.viewer(), org_unit_id).await?.ok_or_else(not_found)
}

fn to_household(h: HouseholdRow) -> Household {
    Household { household_id: h.household_id, org_unit_id: h.org_unit_id, name: h.name }
}

/// The organisation units in the caller's subtrees, parents before children, with their time
/// zones (families: the district, community and grid of each relative's home).
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
    let rows = state.store.visible_zoned_org_units(&user.viewer()).await?;
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
        (status = 422, description = "That kind of unit cannot go under that parent, or the time zone is not an IANA name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_org_unit(
    State(state): State<ApiState>,
    user: AuthUser,
    extract::Json(req): extract::Json<NewOrgUnit>,
) -> Result<(StatusCode, Json<OrgUnit>), ApiError> {
    let name = text("name", &req.name, 200)?;
    let zone = req.time_zone.as_deref().map(check_time_zone).transpose()?;
    let parent = administered_unit(&state, &user, req.parent_id).await?;
    let parent_kind = unit_kind(&parent.kind)?;
    if parent_kind.child() != Some(req.kind) {
        return Err(ApiError::Unprocessable(format!("kind: a {:?} cannot go under a {:?}", req.kind, parent_kind)));
    }
    let id = state.store.add_org_unit(req.parent_id, req.kind.store_kind(), &name).await?;
    // The parent's zone unless one was given (the column's default is Asia/Shanghai).
    let zone = match zone {
        Some(z) => z,
        None => state.store.zoned_org_unit(req.parent_id).await?.map(|p| p.time_zone).unwrap_or_default(),
    };
    if !zone.is_empty() {
        state.store.set_subtree_time_zone(id, &zone).await?;
    }
    state
        .audit(Some(user.user_id), "org_unit.create", None, &format!("org_unit={id} parent={}", req.parent_id))
        .await?;
    let row = state.store.zoned_org_unit(id).await?.ok_or_else(|| ApiError::Internal(format!("unit {id} gone")))?;
    Ok((StatusCode::CREATED, Json(to_unit(row)?)))
}

/// Renames a unit or changes its time zone, and that of every unit under it (administrators
/// with the unit in scope).
#[utoipa::path(
    patch,
    path = "/api/v1/org-units/{org_unit_id}",
    tag = "organisation",
    security(("bearer" = [])),
    params(("org_unit_id" = i64, Path, description = "The unit's id")),
    request_body = OrgUnitUpdate,
    responses(
        (status = 200, description = "The unit as changed", body = OrgUnit),
        (status = 404, description = "No such unit in the caller's scope, or the caller is not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An empty name, or the time zone is not an IANA name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn update_org_unit(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(org_unit_id): Path<i64>,
    extract::Json(req): extract::Json<OrgUnitUpdate>,
) -> Result<Json<OrgUnit>, ApiError> {
    let name = req.name.as_deref().map(|n| text("name", n, 200)).transpose()?;
    let zone = req.time_zone.as_deref().map(check_time_zone).transpose()?;
    administered_unit(&state, &user, org_unit_id).await?;
    if let Some(name) = &name {
        state.store.rename_org_unit(org_unit_id, name).await?;
    }
    let mut detail = format!("org_unit={org_unit_id}");
    if let Some(zone) = &zone {
        let n = state.store.set_subtree_time_zone(org_unit_id, zone).await?;
        detail.push_str(&format!(" time_zone={zone} units={n}"));
    }
    if name.is_some() {
        detail.push_str(" name");
    }
    state.audit(Some(user.user_id), "org_unit.update", None, &detail).await?;
    let row = state.store.zoned_org_unit(org_unit_id).await?.ok_or_else(|| ApiError::NotFound("gone".into()))?;
    Ok(Json(to_unit(row)?))
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
