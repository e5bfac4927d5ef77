//! Login, token refresh and the signed-in account.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use eldercare_schema::api::{LoginRequest, Me, Problem, RefreshRequest, TokenResponse};
use eldercare_store::UserRecord;

use crate::auth::{new_refresh_token, refresh_token_hash};
use crate::{ApiError, ApiState, AuthUser, extract, password};

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/me", get(me))
}

/// Exchanges a username and password for an access token and a refresh token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong username or password (the same answer for both)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or of the wrong type", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn login(
    State(state): State<ApiState>,
    extract::Json(req): extract::Json<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let user = state.store.user_by_username(&req.username).await?;
    // Unknown users are verified against a dummy hash: both failures cost the same time.
    let hash = user.as_ref().map_or(password::DUMMY_HASH.to_owned(), |u| u.password_hash.clone());
    let matches = verify_blocking(&state, req.password, hash).await?;
    match user {
        Some(user) if matches => {
            state.audit(Some(user.user_id), "auth.login", None, "").await?;
            tracing::info!(user_id = user.user_id, "login");
            Ok(Json(issue_pair(&state, &user).await?))
        }
        Some(user) => {
            state.audit(Some(user.user_id), "auth.login_failed", None, "wrong password").await?;
            tracing::info!(user_id = user.user_id, "login failed: wrong password");
            Err(ApiError::InvalidCredentials)
        }
        None => {
            // The attempted name is not kept: people type passwords into the username field.
            state.audit(None, "auth.login_failed", None, "unknown user").await?;
            tracing::info!("login failed: unknown user");
            Err(ApiError::InvalidCredentials)
        }
    }
}

/// Exchanges a refresh token for a new pair. Each refresh token works once.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the refresh token sent is now spent", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown, spent or expired refresh token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or of the wrong type", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn refresh(
    State(state): State<ApiState>,
    extract::Json(req): extract::Json<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let spent = state.store.use_refresh_token(&refresh_token_hash(&req.refresh_token), state.now_ms()).await?;
    let Some(user_id) = spent else {
        tracing::info!("refresh refused: unknown, spent or expired token");
        return Err(ApiError::InvalidToken("invalid refresh token"));
    };
    let Some(user) = state.store.user_by_id(user_id).await? else {
        return Err(ApiError::InvalidToken("invalid refresh token"));
    };
    tracing::debug!(user_id, "token refreshed");
    Ok(Json(issue_pair(&state, &user).await?))
}

/// The signed-in account.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn me(user: AuthUser) -> Json<Me> {
    Json(Me {
        user_id: user.user_id,
        username: user.username,
        role: user.role.as_str().to_owned(),
        display_name: user.display_name,
    })
}

async fn issue_pair(state: &ApiState, user: &UserRecord) -> Result<TokenResponse, ApiError> {
    let now = state.now_ms();
    let access_token = state.tokens.issue_access(user.user_id, user.role, now)?;
    let (refresh_token, hash) = new_refresh_token();
    let refresh_ttl_ms = i64::try_from(state.tokens.config.refresh_ttl.as_millis()).unwrap_or(i64::MAX);
    state.store.save_refresh_token(&hash, user.user_id, now.saturating_add(refresh_ttl_ms)).await?;
    Ok(TokenResponse {
        access_token,
        refresh_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.config.access_ttl.as_secs(),
    })
}

/// Argon2 verification on the blocking pool, a bounded number at a time.
async fn verify_blocking(state: &ApiState, password: String, hash: String) -> Result<bool, ApiError> {
    let _permit = state.hashing.acquire().await.map_err(|_| ApiError::Internal("hashing semaphore closed".into()))?;
    tokio::task::spawn_blocking(move || password::verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(format!("password verification task: {e}")))
}
