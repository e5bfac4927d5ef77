//! FHIR R4, read-only, under `/fhir/r4/`: Patient (a resident), Observation (a reading, with the
//! vital-signs profile's codes and units; blood pressure as a panel), Device (each wearable and
//! each home gateway), as searchset Bundles, in `application/fhir+json`.
//!
//! Same accounts, scope and audit as the rest of the API: a search returns only what the caller
//! may see (an out-of-scope patient gives an empty Bundle), a direct read of something out of
//! scope is 404, and errors are OperationOutcomes. The resources are built as JSON by hand
//! (`resources.rs`): four resource types do not justify fhir-sdk's generated R4 model in build
//! time; their structure is checked by an independent validator (`scripts/fhir-validate`,
//! Python `fhir.resources`) and their codes and units by our tests.

mod ids;
mod resources;
pub(crate) mod routes;
mod search;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::{ApiError, ApiState, AuthUser};

/// The FHIR JSON media type.
pub const FHIR_JSON: &str = "application/fhir+json";

pub(crate) use routes::router;

/// An answer in FHIR JSON.
pub(crate) struct Fhir<T>(pub T);

impl<T: Serialize> IntoResponse for Fhir<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => {
                let mut res = Response::new(Body::from(body));
                res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
                res
            }
            Err(e) => FhirError(ApiError::Internal(format!("encoding a FHIR resource: {e}"))).into_response(),
        }
    }
}

/// An [`ApiError`] answered as an OperationOutcome, keeping its status and headers
/// (`WWW-Authenticate`, `Retry-After`).
#[derive(Debug)]
pub(crate) struct FhirError(pub ApiError);

impl From<ApiError> for FhirError {
    fn from(e: ApiError) -> Self {
        FhirError(e)
    }
}

impl From<eldercare_store::StoreError> for FhirError {
    fn from(e: eldercare_store::StoreError) -> Self {
        FhirError(e.into())
    }
}

/// The issue type (http://hl7.org/fhir/issue-type) of an error.
fn issue_code(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid",
        401 => "login",
        403 => "forbidden",
        404 => "not-found",
        409 => "conflict",
        413 => "too-long",
        429 => "throttled",
        _ => "exception",
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let problem = self.0.to_problem();
        let (mut parts, _) = self.0.into_response().into_parts();
        let outcome = json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": issue_code(problem.status), "diagnostics": problem.detail}],
        });
        parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(outcome.to_string()))
    }
}

/// [`AuthUser`], refused as an OperationOutcome.
pub(crate) struct FhirUser(pub AuthUser);

impl FromRequestParts<ApiState> for FhirUser {
    type Rejection = FhirError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        Ok(FhirUser(AuthUser::from_request_parts(parts, state).await?))
    }
}

/// A searchset Bundle (for the OpenAPI document; built as JSON).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bundle {
    /// Always `Bundle`.
    #[schema(example = "Bundle")]
    resource_type: String,
    /// Always `searchset`.
    #[serde(rename = "type")]
    #[schema(example = "searchset")]
    type_: String,
    /// How many match (Patient and Device searches; omitted for Observations).
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
    link: Vec<BundleLink>,
    entry: Vec<BundleEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BundleLink {
    /// `self` or `next`.
    relation: String,
    url: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BundleEntry {
    full_url: String,
    #[schema(value_type = FhirResource)]
    resource: Value,
    #[schema(value_type = Object)]
    search: Value,
}

/// A FHIR resource (Patient, Observation, Device, CapabilityStatement); see the FHIR R4
/// specification for its other elements.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FhirResource {
    resource_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

/// A FHIR error.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationOutcome {
    /// Always `OperationOutcome`.
    resource_type: String,
    #[schema(value_type = Vec<Object>)]
    issue: Vec<Value>,
}

impl Bundle {
    /// A searchset of `resources` (each with its relative `Type/id`), and its links.
    pub(crate) fn searchset(
        base: &str,
        self_url: String,
        next_url: Option<String>,
        total: Option<u64>,
        resources: Vec<Value>,
    ) -> Bundle {
        let mut link = vec![BundleLink { relation: "self".into(), url: self_url }];
        if let Some(next) = next_url {
            link.push(BundleLink { relation: "next".into(), url: next });
        }
        let entry = resources
            .into_iter()
            .map(|r| {
                let full_url = format!(
                    "{base}/{}/{}",
                    r["resourceType"].as_str().unwrap_or_default(),
                    r["id"].as_str().unwrap_or_default()
                );
                BundleEntry { full_url, resource: r, search: json!({"mode": "match"}) }
            })
            .collect();
        Bundle { resource_type: "Bundle".into(), type_: "searchset".into(), total, link, entry }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn errors_are_operation_outcomes_with_their_status_and_headers() {
        let res = FhirError(ApiError::InvalidToken("invalid access token")).into_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()[header::CONTENT_TYPE], FHIR_JSON);
        assert!(res.headers().contains_key(header::WWW_AUTHENTICATE));
        let res = FhirError(ApiError::Internal("secret".into())).into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
