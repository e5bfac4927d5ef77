//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations and the
//! wire types of `eldercare_schema::api`, served at `/api/openapi.json`.

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use eldercare_schema::Metric;
use eldercare_schema::api::{
    LoginRequest, Me, Problem, RefreshRequest, Resident, TokenResponse, VitalHistory, VitalPoint,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::ApiState;
use crate::routes::{auth, health, residents, vitals};

#[derive(OpenApi)]
#[openapi(
    info(title = "eldercare API", description = "Residents, vitals and accounts for the eldercare apps and console. Errors are application/problem+json."),
    paths(
        auth::login,
        auth::refresh,
        auth::me,
        residents::list_residents,
        residents::get_resident,
        vitals::latest_vitals,
        vitals::vitals_history,
        health::healthz,
        health::readyz,
        openapi_json,
    ),
    components(schemas(LoginRequest, RefreshRequest, TokenResponse, Me, Resident, VitalPoint, VitalHistory, Metric, Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign in, refresh tokens, the signed-in account"),
        (name = "residents", description = "Residents in the caller's scope"),
        (name = "vitals", description = "Vital signs of a resident"),
        (name = "health", description = "Liveness, readiness and this document"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme the protected operations name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The whole document: the core routes and the alert routes.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::routes::alerts::AlertsDoc::openapi());
    doc.merge(LiveDoc::openapi());
    doc
}

#[derive(OpenApi)]
#[openapi(paths(crate::routes::live::live))]
struct LiveDoc;

pub(crate) fn router() -> Router<ApiState> {
    // Rendered once; every request gets the same bytes.
    let doc: Arc<str> = document().to_json().unwrap_or_default().into();
    Router::new().route(
        "/api/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], doc.to_string()) }
        }),
    )
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "health", responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
#[allow(dead_code)] // Documents the route served by `router`; never called.
async fn openapi_json() -> impl IntoResponse {}
