//! Access tokens (JWT, HS256), refresh tokens (random, stored as SHA-256) and the [`AuthUser`]
//! extractor that every protected handler takes.

use std::fmt;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use eldercare_store::{Role, Viewer};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{ApiError, ApiState};

/// Clock skew tolerated on `exp` and `nbf` between API instances, seconds.
const LEEWAY_S: i64 = 30;

/// The HMAC key that signs access tokens. Its `Debug` does not show it.
#[derive(Clone)]
pub struct JwtSecret {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the JWT secret must be at least {min} bytes (got {got})")]
pub struct WeakSecret {
    pub min: usize,
    pub got: usize,
}

impl JwtSecret {
    /// HS256 needs a key at least as long as its hash (RFC 7518 §3.2).
    pub const MIN_LEN: usize = 32;

    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, WeakSecret> {
        let secret = secret.as_ref();
        let weak = WeakSecret { min: Self::MIN_LEN, got: secret.len() };
        if secret.len() < Self::MIN_LEN {
            return Err(weak);
        }
        // `from_secret` refuses only an empty key, which the length check has excluded.
        let encoding = EncodingKey::from_secret(secret).map_err(|_| weak)?;
        let decoding = DecodingKey::from_secret(secret).map_err(|_| weak)?;
        Ok(JwtSecret { encoding, decoding })
    }

    /// A random 32-byte secret: tokens then die with the process (fine for a demo).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes[..]);
        Self::new(bytes).expect("32 bytes is long enough")
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}

/// How tokens are issued and checked.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: JwtSecret,
    /// `iss` of issued tokens; only this issuer is accepted.
    pub issuer: String,
    /// `aud` of issued tokens; only this audience is accepted.
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl AuthConfig {
    /// Issuer `eldercare`, audience `eldercare-api`, access tokens for 15 minutes, refresh tokens
    /// for 30 days.
    pub fn new(jwt_secret: JwtSecret) -> Self {
        AuthConfig {
            jwt_secret,
            issuer: "eldercare".to_owned(),
            audience: "eldercare-api".to_owned(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// The session (refresh-token family) the token belongs to: when it ends, so does the token.
    sid: i64,
    /// Informational for clients; the server reads the role from the database.
    role: String,
    iss: String,
    aud: String,
    exp: i64,
    nbf: i64,
    iat: i64,
}

/// Issues and checks tokens for one [`AuthConfig`].
pub(crate) struct Tokens {
    pub(crate) config: AuthConfig,
    validation: Validation,
}

impl Tokens {
    pub(crate) fn new(config: AuthConfig) -> Self {
        // Only HS256: `alg: none` and RS256/HS256 confusion are refused before any signature
        // check. `exp` and `nbf` are checked below against the injected clock, not the system's.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        Tokens { config, validation }
    }

    pub(crate) fn access_ttl_s(&self) -> i64 {
        self.config.access_ttl.as_secs() as i64
    }

    pub(crate) fn issue_access(
        &self,
        user_id: i64,
        role: Role,
        session_id: i64,
        now_ms: i64,
    ) -> Result<String, ApiError> {
        let now = now_ms.div_euclid(1000);
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id,
            role: role.as_str().to_owned(),
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            exp: now + self.access_ttl_s(),
            nbf: now,
            iat: now,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.config.jwt_secret.encoding)
            .map_err(|e| ApiError::Internal(format!("signing a token: {e}")))
    }

    /// The user id and session id of a valid access token.
    fn verify_access(&self, token: &str, now_ms: i64) -> Result<(i64, i64), ApiError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.config.jwt_secret.decoding, &self.validation).map_err(|e| {
                tracing::debug!(reason = ?e.kind(), "access token refused");
                ApiError::InvalidToken("invalid access token")
            })?;
        let now = now_ms.div_euclid(1000);
        if now >= data.claims.exp.saturating_add(LEEWAY_S) {
            return Err(ApiError::InvalidToken("access token expired"));
        }
        if now < data.claims.nbf.saturating_sub(LEEWAY_S) {
            return Err(ApiError::InvalidToken("access token not yet valid"));
        }
        let user_id = data.claims.sub.parse().map_err(|_| ApiError::InvalidToken("invalid access token"))?;
        Ok((user_id, data.claims.sid))
    }
}

/// A new refresh token and the SHA-256 (hex) under which it is stored. Only the client ever
/// holds the token itself.
pub(crate) fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes[..]);
    let token = hex::encode(bytes);
    let hash = refresh_token_hash(&token);
    (token, hash)
}

pub(crate) fn refresh_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The caller, authenticated by a bearer token and loaded from the database with its session
/// (so a deleted account, a changed role or an ended session takes effect at once, not when the
/// token expires). Extracting it also takes one request from the account's rate limit.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub display_name: String,
    /// The session the access token belongs to.
    pub session_id: i64,
}

impl AuthUser {
    pub fn viewer(&self) -> Viewer {
        Viewer { user_id: self.user_id, role: self.role }
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive).
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Err(ApiError::MissingToken);
    };
    let value = value.to_str().map_err(|_| ApiError::InvalidToken("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("bearer") => Err(ApiError::InvalidToken("empty bearer token")),
        _ => Err(ApiError::MissingToken),
    }
}

impl FromRequestParts<ApiState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        let now_ms = state.now_ms();
        let (user_id, session_id) = state.tokens.verify_access(token, now_ms)?;
        let Some(user) = state.store.user_in_session(user_id, session_id).await? else {
            tracing::info!(user_id, "token of an ended session or a deleted account refused");
            return Err(ApiError::InvalidToken("session ended"));
        };
        state.limiter.check(user_id, now_ms)?;
        Ok(AuthUser {
            user_id: user.user_id,
            username: user.username,
            role: user.role,
            display_name: user.display_name,
            session_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn secrets_are_long_and_never_printed() {
        assert_eq!(JwtSecret::new("short").unwrap_err().got, 5);
        let config = AuthConfig::new(JwtSecret::new(SECRET).unwrap());
        let printed = format!("{config:?}");
        assert!(!printed.contains(SECRET) && printed.contains("<redacted>"), "{printed}");
        assert_eq!((config.access_ttl.as_secs(), config.refresh_ttl.as_secs()), (900, 30 * 24 * 3600));
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let tokens = Tokens::new(AuthConfig::new(JwtSecret::new(SECRET).unwrap()));
        let t0 = 1_714_550_400_000;
        let token = tokens.issue_access(7, Role::Family, 3, t0).unwrap();
        assert_eq!(tokens.verify_access(&token, t0).unwrap(), (7, 3));
        let last_ok = t0 + (900 + LEEWAY_S) * 1000 - 1;
        assert_eq!(tokens.verify_access(&token, last_ok).unwrap(), (7, 3));
        assert!(matches!(
            tokens.verify_access(&token, last_ok + 1),
            Err(ApiError::InvalidToken("access token expired"))
        ));
        let early = t0 - (LEEWAY_S + 1) * 1000;
        assert!(matches!(
            tokens.verify_access(&token, early),
            Err(ApiError::InvalidToken("access token not yet valid"))
        ));
        let other = Tokens::new(AuthConfig::new(JwtSecret::generate()));
        assert!(other.verify_access(&token, t0).is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_as_sha256() {
        assert_eq!(refresh_token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let (token, hash) = new_refresh_token();
        assert_eq!((token.len(), hash), (64, refresh_token_hash(&token)));
        assert_ne!(token, new_refresh_token().0);
    }
}
