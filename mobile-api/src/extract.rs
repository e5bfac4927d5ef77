//! axum's extractors, with their rejections turned into our problem format: a malformed body,
//! query string or path answers `application/problem+json` naming what was wrong, never axum's
//! plain text.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;

use crate::BODY_LIMIT;
use crate::error::ApiError;

/// A JSON request body.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

/// A query string.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// Path parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => ApiError::Unprocessable(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge(BODY_LIMIT)
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        let PathRejection::FailedToDeserializePathParams(e) = &rejection else {
            // Only a routing mistake of ours gets here (the route has no such parameters).
            return ApiError::Internal(rejection.body_text());
        };
        let kind_of = |t: &str| {
            if t.starts_with(['i', 'u']) { "an integer" } else { "a valid value" }
        };
        match e.kind() {
            ErrorKind::ParseErrorAtKey { key, value, expected_type } => ApiError::BadRequest(format!(
                "path parameter {key}: expected {}, got {value:?}",
                kind_of(expected_type)
            )),
            ErrorKind::ParseError { value, expected_type }
            | ErrorKind::ParseErrorAtIndex { value, expected_type, .. } => {
                ApiError::BadRequest(format!("path parameter: expected {}, got {value:?}", kind_of(expected_type)))
            }
            _ if e.status().is_server_error() => ApiError::Internal(e.body_text()),
            _ => ApiError::BadRequest(e.body_text()),
        }
    }
}
