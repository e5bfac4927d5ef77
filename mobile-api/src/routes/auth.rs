//! Sign in, rotate refresh tokens, sign out, change the password; the signed-in account.
//!
//! A login starts a session: a family of refresh tokens, each usable once. Refreshing spends the
//! token and issues the next one of the family; presenting a spent token again means two parties
//! hold it, so the whole session ends (the thief's and the owner's tokens alike, and the access
//! tokens of the session with them). Failed logins are throttled per account name and per client
//! address; while locked, even the right password is refused.

use std::fmt;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use eldercare_schema::api::{LoginRequest, Me, Problem, RefreshRequest, TokenResponse};
use eldercare_store::UserRecord;
use eldercare_store::session::{RevokeReason, Rotation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::{new_refresh_token, refresh_token_hash};
use crate::{ApiError, ApiState, AuthUser, client_ip, extract, password};

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/password", post(change_password))
        .route("/api/v1/me", get(me))
}

/// Changes the caller's password.
#[derive(Clone, Deserialize, ToSchema)]
pub(crate) struct PasswordChange {
    #[schema(format = Password)]
    current_password: String,
    /// 12 to 128 characters, not containing the username.
    #[schema(format = Password)]
    new_password: String,
}

impl fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordChange { <redacted> }")
    }
}

/// The throttle keys of a login: the account name typed (hashed: people type passwords into the
/// username field) and the client address.
fn throttle_keys(username: &str) -> (String, Option<String>) {
    let account = format!("account:{}", hex::encode(Sha256::digest(username.to_lowercase().as_bytes())));
    (account, client_ip::current().map(|ip| format!("ip:{ip}")))
}

fn retry_after_s(until_ms: i64, now_ms: i64) -> u64 {
    u64::try_from((until_ms - now_ms + 999) / 1000).unwrap_or(1).max(1)
}

/// Exchanges a username and password for an access token and a refresh token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in: a new session", body = TokenResponse),
        (status = 401, description = "Wrong username or password (the same answer for both)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins for this account name or from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn login(
    State(state): State<ApiState>,
    extract::Json(req): extract::Json<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let now = state.now_ms();
    let (account_key, ip_key) = throttle_keys(&req.username);
    let user = state.store.user_by_username(&req.username).await?;
    let user_id = user.as_ref().map(|u| u.user_id);
    let mut locked = state.store.login_locked_until(&account_key, now).await?;
    if let Some(ip_key) = &ip_key {
        locked = locked.max(state.store.login_locked_until(ip_key, now).await?);
    }
    if let Some(until) = locked {
        state.audit(user_id, "auth.login_throttled", None, "").await?;
        tracing::info!(?user_id, "login refused: throttled");
        return Err(ApiError::TooManyRequests {
            detail: "too many failed logins; try again later",
            retry_after_s: retry_after_s(until, now),
        });
    }
    // Unknown users are verified against a dummy hash: both failures cost the same time.
    let hash = user.as_ref().map_or(password::DUMMY_HASH.to_owned(), |u| u.password_hash.clone());
    let matches = verify_blocking(&state, req.password, hash).await?;
    match user {
        Some(user) if matches => {
            state.store.clear_login_failures(&account_key).await?;
            let tokens = start_session(&state, &user).await?;
            state.audit(Some(user.user_id), "auth.login", None, "").await?;
            tracing::info!(user_id = user.user_id, "login");
            Ok(Json(tokens))
        }
        _ => {
            let policy = state.login_throttle;
            state.store.record_login_failure(&account_key, policy.per_account, now).await?;
            if let Some(ip_key) = &ip_key {
                state.store.record_login_failure(ip_key, policy.per_client, now).await?;
            }
            // The attempted name is not kept: people type passwords into the username field.
            let why = if user_id.is_some() { "wrong password" } else { "unknown user" };
            state.audit(user_id, "auth.login_failed", None, why).await?;
            tracing::info!(?user_id, "login failed: {why}");
            Err(ApiError::InvalidCredentials)
        }
    }
}

/// Exchanges a refresh token for a new pair of the same session. Each refresh token works once;
/// presenting one again ends its session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the refresh token sent is now spent", body = TokenResponse),
        (status = 401, description = "Unknown, expired or spent refresh token, or an ended session. A spent one also ends its session.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn refresh(
    State(state): State<ApiState>,
    extract::Json(req): extract::Json<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let now = state.now_ms();
    let (refresh_token, new_hash) = new_refresh_token();
    let old_hash = refresh_token_hash(&req.refresh_token);
    let rotation = state.store.rotate_refresh_token(&old_hash, &new_hash, refresh_expiry(&state, now), now).await?;
    let (user_id, session_id) = match rotation {
        Rotation::Rotated { user_id, session_id } => (user_id, session_id),
        Rotation::Reused { user_id, session_id } => {
            state.audit(Some(user_id), "auth.refresh_reused", None, &format!("session={session_id} ended")).await?;
            tracing::warn!(user_id, session_id, "a spent refresh token was presented again: session ended");
            return Err(ApiError::InvalidToken("refresh token already used; the session has ended"));
        }
        Rotation::Invalid => {
            tracing::info!("refresh refused: unknown, expired or ended");
            return Err(ApiError::InvalidToken("invalid refresh token"));
        }
    };
    let Some(user) = state.store.user_by_id(user_id).await? else {
        return Err(ApiError::InvalidToken("invalid refresh token"));
    };
    tracing::debug!(user_id, "token refreshed");
    let access_token = state.tokens.issue_access(user.user_id, user.role, session_id, now)?;
    Ok(Json(token_response(&state, access_token, refresh_token)))
}

/// Ends the caller's session: its refresh token and every access token of it stop working.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out")),
)]
pub(crate) async fn logout(State(state): State<ApiState>, user: AuthUser) -> Result<StatusCode, ApiError> {
    state.store.revoke_session(user.session_id, RevokeReason::Logout, state.now_ms()).await?;
    state.audit(Some(user.user_id), "auth.logout", None, &format!("session={}", user.session_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the caller's password (the current one is required) and ends every other session
/// of the account.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    tag = "auth",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; other sessions have ended"),
        (status = 400, description = "The new password does not meet the policy", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The current password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong current passwords (or requests); see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn change_password(
    State(state): State<ApiState>,
    user: AuthUser,
    extract::Json(req): extract::Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let now = state.now_ms();
    let (account_key, _) = throttle_keys(&user.username);
    if let Some(until) = state.store.login_locked_until(&account_key, now).await? {
        return Err(ApiError::TooManyRequests {
            detail: "too many failed password checks; try again later",
            retry_after_s: retry_after_s(until, now),
        });
    }
    password::check_new_password(&user.username, &req.new_password).map_err(ApiError::BadRequest)?;
    let Some(record) = state.store.user_by_id(user.user_id).await? else {
        return Err(ApiError::InvalidToken("session ended"));
    };
    if !verify_blocking(&state, req.current_password, record.password_hash).await? {
        state.store.record_login_failure(&account_key, state.login_throttle.per_account, now).await?;
        state.audit(Some(user.user_id), "account.password_change_failed", None, "wrong current password").await?;
        return Err(ApiError::WrongPassword);
    }
    let hash = hash_blocking(&state, req.new_password).await?;
    let ended = state.store.change_password(user.user_id, &hash, Some(user.session_id), now).await?;
    state.audit(Some(user.user_id), "account.password_changed", None, &format!("sessions_ended={ended}")).await?;
    tracing::info!(user_id = user.user_id, ended, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = Me))
)]
pub(crate) async fn me(user: AuthUser) -> Json<Me> {
    Json(Me {
        user_id: user.user_id,
        username: user.username,
        role: user.role.as_str().to_owned(),
        display_name: user.display_name,
    })
}

fn refresh_expiry(state: &ApiState, now_ms: i64) -> i64 {
    let ttl_ms = i64::try_from(state.tokens.config.refresh_ttl.as_millis()).unwrap_or(i64::MAX);
    now_ms.saturating_add(ttl_ms)
}

fn token_response(state: &ApiState, access_token: String, refresh_token: String) -> TokenResponse {
    TokenResponse {
        access_token,
        refresh_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.config.access_ttl.as_secs(),
    }
}

async fn start_session(state: &ApiState, user: &UserRecord) -> Result<TokenResponse, ApiError> {
    let now = state.now_ms();
    let (refresh_token, hash) = new_refresh_token();
    let ip = client_ip::current().map(|ip| ip.to_string());
    let session_id =
        state.store.start_session(user.user_id, &hash, refresh_expiry(state, now), now, ip.as_deref()).await?;
    let access_token = state.tokens.issue_access(user.user_id, user.role, session_id, now)?;
    Ok(token_response(state, access_token, refresh_token))
}

/// Argon2 verification on the blocking pool, a bounded number at a time.
pub(crate) async fn verify_blocking(state: &ApiState, password: String, hash: String) -> Result<bool, ApiError> {
    let _permit = state.hashing.acquire().await.map_err(|_| ApiError::Internal("hashing semaphore closed".into()))?;
    tokio::task::spawn_blocking(move || password::verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(format!("password verification task: {e}")))
}

/// Argon2 hashing on the blocking pool, a bounded number at a time.
pub(crate) async fn hash_blocking(state: &ApiState, password: String) -> Result<String, ApiError> {
    let _permit = state.hashing.acquire().await.map_err(|_| ApiError::Internal("hashing semaphore closed".into()))?;
    tokio::task::spawn_blocking(move || password::hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing task: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}
