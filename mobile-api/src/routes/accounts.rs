//! Accounts: administrators create staff accounts scoped to units in their own scope, and family
//! accounts (which see nothing until invited into a care circle).

use std::fmt;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use eldercare_schema::api::Problem;
use eldercare_store::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::hash_blocking;
use crate::params::text;
use crate::{ApiError, ApiState, AuthUser, extract, password};

pub(crate) fn router() -> Router<ApiState> {
    Router::new().route("/api/v1/accounts", post(create_account))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AccountRole {
    Admin,
    Caregiver,
    Family,
}

impl AccountRole {
    fn role(self) -> Role {
        match self {
            AccountRole::Admin => Role::Admin,
            AccountRole::Caregiver => Role::Caregiver,
            AccountRole::Family => Role::Family,
        }
    }
}

/// A new account.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAccount {
    /// 3 to 64 of `a-z`, `0-9`, `.`, `_`, `-`.
    #[schema(pattern = "^[a-z0-9._-]{3,64}$", example = "nurse.li")]
    username: String,
    #[schema(min_length = 1, max_length = 200)]
    display_name: String,
    role: AccountRole,
    /// The initial password: 12 to 128 characters, not containing the username.
    #[schema(format = Password)]
    password: String,
    /// Staff only: the organisation units (in the administrator's scope) the account sees.
    #[serde(default)]
    org_unit_ids: Vec<i64>,
}

impl fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount").field("username", &self.username).field("role", &self.role).finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Account {
    user_id: i64,
    username: String,
    display_name: String,
    role: AccountRole,
    org_unit_ids: Vec<i64>,
}

fn valid_username(s: &str) -> bool {
    (3..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Creates an account (administrators only).
#[utoipa::path(
    post,
    path = "/api/v1/accounts",
    tag = "accounts",
    security(("bearer" = [])),
    request_body = NewAccount,
    responses(
        (status = 201, description = "Created", body = Account),
        (status = 400, description = "The password does not meet the policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A unit is not in the caller's scope, or the caller is not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The username is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_account(
    State(state): State<ApiState>,
    user: AuthUser,
    extract::Json(req): extract::Json<NewAccount>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    if user.role != Role::Admin {
        return Err(ApiError::NotFound("no accounts to manage".into()));
    }
    if !valid_username(&req.username) {
        return Err(ApiError::Unprocessable("username: 3 to 64 of a-z, 0-9, '.', '_', '-'".into()));
    }
    let display_name = text("display_name", &req.display_name, 200)?;
    password::check_new_password(&req.username, &req.password)
        .map_err(|e| ApiError::BadRequest(e.replacen("new_password", "password", 1)))?;
    let staff = req.role != AccountRole::Family;
    if staff == req.org_unit_ids.is_empty() {
        let why = if staff { "staff accounts need at least one unit" } else { "family accounts have no units" };
        return Err(ApiError::Unprocessable(format!("org_unit_ids: {why}")));
    }
    let mut units = req.org_unit_ids.clone();
    units.sort_unstable();
    units.dedup();
    for &unit in &units {
        if state.store.org_unit_in_scope(&user.viewer(), unit).await?.is_none() {
            return Err(ApiError::NotFound(format!("organisation unit {unit} not found")));
        }
    }
    let hash = hash_blocking(&state, req.password.clone()).await?;
    let id = state.store.create_user(&req.username, &hash, req.role.role(), &display_name).await?;
    for &unit in &units {
        state.store.grant_scope(id, unit).await?;
    }
    let detail = format!("account={id} role={}", req.role.role().as_str());
    state.audit(Some(user.user_id), "account.create", None, &detail).await?;
    let account = Account { user_id: id, username: req.username, display_name, role: req.role, org_unit_ids: units };
    Ok((StatusCode::CREATED, Json(account)))
}
