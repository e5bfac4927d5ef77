//! The API's one error type, answered as `application/problem+json` (RFC 9457).
//!
//! Internal errors (storage, hashing, anything unexpected) become a 500 whose detail is only
//! "internal error"; the real error goes to the log, never to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eldercare_schema::api::Problem;
use eldercare_store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The `WWW-Authenticate` challenge sent with every 401.
const CHALLENGE: &str = "Bearer realm=\"eldercare\"";
const CHALLENGE_INVALID_TOKEN: &str = "Bearer realm=\"eldercare\", error=\"invalid_token\"";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Login failed. The same answer whether the user exists or not.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The current password given to change it is wrong (the token itself is fine: not a 401,
    /// which would make an app sign out).
    #[error("the current password is wrong")]
    WrongPassword,
    /// No bearer token was sent.
    #[error("missing bearer token")]
    MissingToken,
    /// A bearer or refresh token that is malformed, forged, expired, spent or whose user is gone.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// Absent or outside the caller's scope: the answer never says which.
    #[error("{0}")]
    NotFound(String),
    /// Bad input: a query parameter, path parameter or malformed JSON, named in the message.
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed JSON that does not fit the expected shape (a missing or mistyped field).
    #[error("{0}")]
    Unprocessable(String),
    /// The request clashes with the current state (a duplicate, an invitation already closed).
    #[error("{0}")]
    Conflict(String),
    /// Too many requests (per account), or too many failed logins (per account name or client
    /// address): try again after `retry_after_s` seconds.
    #[error("{detail}")]
    TooManyRequests { detail: &'static str, retry_after_s: u64 },
    #[error("expected a body of type application/json")]
    UnsupportedMediaType,
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// `/readyz`: what is not ready.
    #[error("not ready: {0}")]
    NotReady(String),
    /// A bare status from the framework (405, a timeout) given our error format.
    #[error("{}", .0.canonical_reason().unwrap_or("error"))]
    Status(StatusCode),
    #[error("storage: {0}")]
    Store(StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    /// A unique-key clash is the client's 409 and a missing row its 404; anything else stays an
    /// internal error.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ApiError::Conflict(format!("{what} already exists")),
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            other => ApiError::Store(other),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidCredentials | ApiError::MissingToken | ApiError::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::WrongPassword => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Status(s) => *s,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The last part of the problem's `type` URI.
    fn slug(&self) -> &'static str {
        match self {
            ApiError::InvalidCredentials => "invalid-credentials",
            ApiError::MissingToken => "missing-token",
            ApiError::InvalidToken(_) => "invalid-token",
            ApiError::WrongPassword => "wrong-password",
            ApiError::NotFound(_) => "not-found",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooManyRequests { .. } => "too-many-requests",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::NotReady(_) => "not-ready",
            ApiError::Status(_) => "http",
            ApiError::Store(_) | ApiError::Internal(_) => "internal",
        }
    }

    /// What the client is told: never the inside of an internal error.
    fn detail(&self) -> String {
        match self {
            ApiError::Store(_) | ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }

    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        Problem {
            type_: format!("urn:eldercare:problem:{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() && !matches!(self, ApiError::NotReady(_) | ApiError::Status(_)) {
            tracing::error!(error = %self, "request failed");
        }
        let body = serde_json::to_vec(&self.to_problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let ApiError::TooManyRequests { retry_after_s, .. } = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
        }
        let challenge = match self {
            ApiError::InvalidCredentials | ApiError::MissingToken => Some(CHALLENGE),
            ApiError::InvalidToken(_) => Some(CHALLENGE_INVALID_TOKEN),
            _ => None,
        };
        if let Some(c) = challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        response
    }
}

/// Gives error responses the framework made itself (an unmatched method, a timeout) our problem
/// format, keeping their headers (`Allow`, ...). Responses that are already problems pass.
pub(crate) async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // Problems, and FHIR's OperationOutcomes, are already in their final format.
    let formatted = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()) || v.as_bytes().starts_with(crate::fhir::FHIR_JSON.as_bytes())
    });
    if formatted {
        return response;
    }
    let (mut parts, _body) = response.into_parts();
    let fresh = ApiError::Status(status).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    Response::from_parts(parts, fresh.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak() {
        let e = ApiError::Internal("password hash of user 7 is corrupt".into());
        let p = e.to_problem();
        assert_eq!((p.status, p.detail.as_str()), (500, "internal error"));
        let e = ApiError::Store(StoreError::Config("sqlite:/secret/path".into()));
        assert_eq!(e.to_problem().detail, "internal error");
    }

    #[test]
    fn problems_name_their_kind_and_status() {
        let p = ApiError::NotFound("resident not found".into()).to_problem();
        assert_eq!(p.type_, "urn:eldercare:problem:not-found");
        assert_eq!((p.status, p.title.as_str(), p.detail.as_str()), (404, "Not Found", "resident not found"));
        let p = ApiError::Status(StatusCode::METHOD_NOT_ALLOWED).to_problem();
        assert_eq!((p.status, p.detail.as_str()), (405, "Method Not Allowed"));
    }
}
