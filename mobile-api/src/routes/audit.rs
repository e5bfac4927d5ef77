//! Reading the audit log: administrators for their part of the organisation, a resident's
//! guardian for that resident. There is no route that changes or deletes an entry, and the
//! database refuses it too. Guardians see who did what and when, not staff's addresses.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use eldercare_schema::api::Problem;
use eldercare_store::Role;
use eldercare_store::audit_trail::{AuditQuery, AuditRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{Path, Query};
use crate::params::parse_int;
use crate::rfc3339::format_ms;
use crate::{ApiError, ApiState, AuthUser, scope};

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/audit", get(audit_log))
        .route("/api/v1/residents/{resident_id}/audit", get(resident_audit))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditFilter {
    /// Only what this account did.
    user_id: Option<i64>,
    /// Only entries about this resident (administrators' log only).
    resident_id: Option<i64>,
    /// Only actions starting with this, e.g. `auth.` or `vitals.`.
    #[param(max_length = 64)]
    action: Option<String>,
    /// Only entries older than this id (the `audit_id` of the last entry of the previous page).
    before_id: Option<i64>,
    /// Most entries returned, newest first. Default 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditEntry {
    audit_id: i64,
    #[schema(format = DateTime)]
    at: String,
    /// Who (`null`: not signed in, e.g. a failed login).
    user_id: Option<i64>,
    user_display_name: Option<String>,
    user_role: Option<String>,
    /// What, e.g. `vitals.history.read`, `thresholds.update`, `care_circle.remove`.
    action: String,
    resident_id: Option<i64>,
    detail: String,
    /// From where (administrators only).
    client_ip: Option<String>,
}

impl AuditFilter {
    fn query(&self) -> Result<AuditQuery, ApiError> {
        if self.action.as_ref().is_some_and(|a| a.chars().count() > 64) {
            return Err(ApiError::BadRequest("action: at most 64 characters".into()));
        }
        Ok(AuditQuery {
            user_id: self.user_id,
            resident_id: self.resident_id,
            action_prefix: self.action.clone(),
            before_id: self.before_id,
            limit: parse_int("limit", self.limit.as_deref(), 100, 1, 1000)?,
        })
    }
}

fn to_entry(r: AuditRecord, with_ip: bool) -> Result<AuditEntry, ApiError> {
    Ok(AuditEntry {
        audit_id: r.audit_id,
        at: format_ms(r.at_ms)?,
        user_id: r.user_id,
        user_display_name: r.user_display_name,
        user_role: r.user_role,
        action: r.action,
        resident_id: r.resident_id,
        detail: r.detail,
        client_ip: if with_ip { r.client_ip } else { None },
    })
}

/// The audit log of the administrator's part of the organisation: entries about residents in
/// scope and about the accounts of that part, newest first (administrators only).
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    security(("bearer" = [])),
    params(AuditFilter),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<AuditEntry>),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller is not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn audit_log(
    State(state): State<ApiState>,
    user: AuthUser,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let q = filter.query()?;
    if user.role != Role::Admin {
        return Err(ApiError::NotFound("no audit log for this account".into()));
    }
    let rows = state.store.audit_for_admin(user.user_id, &q).await?;
    state.audit(Some(user.user_id), "audit.read", q.resident_id, &format!("entries={}", rows.len())).await?;
    Ok(Json(rows.into_iter().map(|r| to_entry(r, true)).collect::<Result<_, _>>()?))
}

/// Who read or changed what about a resident, newest first (administrators in scope and the
/// resident's guardians).
#[utoipa::path(
    get,
    path = "/api/v1/residents/{resident_id}/audit",
    tag = "audit",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id"), AuditFilter),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<AuditEntry>),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resident in the caller's scope, or the caller is neither an administrator nor a guardian", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn resident_audit(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let q = AuditQuery { resident_id: None, ..filter.query()? };
    scope::visible_resident(&state, &user, resident_id).await?;
    let admin = user.role == Role::Admin;
    if !admin && !state.store.is_guardian(user.user_id, resident_id).await? {
        state.audit(Some(user.user_id), "resident.not_guardian", Some(resident_id), "").await?;
        return Err(scope::resident_not_found(resident_id));
    }
    let rows = state.store.audit_of_resident(resident_id, &q).await?;
    state.audit(Some(user.user_id), "audit.read", Some(resident_id), &format!("entries={}", rows.len())).await?;
    Ok(Json(rows.into_iter().map(|r| to_entry(r, admin)).collect::<Result<_, _>>()?))
}
