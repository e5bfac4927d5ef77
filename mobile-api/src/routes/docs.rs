//! The browsable API documentation: Swagger UI at `/api/docs/`, reading `/api/openapi.json`.
//!
//! Swagger UI's files are compiled into the binary (`utoipa-swagger-ui` with `vendored`): the
//! page loads nothing from other hosts, and its online validator badge is turned off (it would
//! send the document to validator.swagger.io). utoipa-scalar was not chosen because its page
//! loads Scalar from a CDN.

use axum::Router;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::ApiState;

pub(crate) fn router() -> Router<ApiState> {
    let config = Config::new(["/api/openapi.json"]).validator_url("none").try_it_out_enabled(true);
    Router::from(SwaggerUi::new("/api/docs").config(config))
}

/// The API documentation to browse and try (HTML; its scripts and styles are under `/api/docs/`).
#[utoipa::path(get, path = "/api/docs/", tag = "health", responses((status = 200, description = "Swagger UI", content_type = "text/html", body = String)))]
#[allow(dead_code)] // Documents the page `router` serves; never called.
pub(crate) async fn docs_page() {}
