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

use crate::routes::{
    accounts, audit, auth, baselines, care_circle, devices, docs, health, org, residents, stats, thresholds, vitals,
};
use crate::{ApiState, fhir};

#[derive(OpenApi)]
#[openapi(
    info(title = "eldercare API", description = "Residents, vitals and accounts for the eldercare apps and console. Errors are application/problem+json."),
    paths(
        auth::login,
        auth::refresh,
        auth::logout,
        auth::change_password,
        auth::me,
        accounts::create_account,
        org::list_org_units,
        org::create_org_unit,
        org::update_org_unit,
        org::list_households,
        org::create_household,
        residents::list_residents,
        residents::create_resident,
        residents::get_resident,
        residents::update_resident,
        vitals::latest_vitals,
        vitals::vitals_history,
        vitals::dashboard,
        devices::list_devices,
        devices::register_device,
        devices::get_device,
        devices::bind_device,
        devices::list_gateways,
        devices::register_gateway,
        devices::get_gateway,
        care_circle::list_members,
        care_circle::update_member,
        care_circle::remove_member,
        care_circle::list_invitations,
        care_circle::invite,
        care_circle::my_invitations,
        care_circle::consent,
        care_circle::accept,
        care_circle::decline,
        care_circle::cancel,
        thresholds::get_thresholds,
        thresholds::put_thresholds,
        thresholds::threshold_history,
        baselines::get_baselines,
        stats::stats,
        audit::audit_log,
        audit::resident_audit,
        fhir::routes::capability_statement,
        fhir::routes::patient_search,
        fhir::routes::patient_read,
        fhir::routes::observation_search,
        fhir::routes::observation_read,
        fhir::routes::device_search,
        fhir::routes::device_read,
        health::healthz,
        health::readyz,
        docs::docs_page,
        openapi_json,
    ),
    components(schemas(LoginRequest, RefreshRequest, TokenResponse, Me, Resident, VitalPoint, VitalHistory, Metric, Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign in, refresh tokens, the signed-in account"),
        (name = "residents", description = "Residents in the caller's scope"),
        (name = "vitals", description = "Vital signs of a resident"),
        (name = "accounts", description = "Accounts, created by administrators"),
        (name = "organisation", description = "The organisation tree: districts, communities, grids, households"),
        (name = "devices", description = "Home gateways and wearables, their status and binding"),
        (name = "care circle", description = "Family members following a resident: invitations, consent, membership"),
        (name = "thresholds", description = "Per-resident overrides of the alert thresholds, and their history"),
        (name = "statistics", description = "Statistics of a part of the organisation"),
        (name = "audit", description = "Who read or did what, when, from where"),
        (name = "fhir", description = "FHIR R4, read-only: Patient, Observation, Device (application/fhir+json)"),
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
    complete_responses(&mut doc);
    doc
}

/// Adds the answers every operation of a kind can give, so no handler can forget them: 401 and
/// 429 where a token is needed; 400, 413, 415 and 422 where there is a body; 400 where there
/// are parameters (404 for FHIR ids); 500 everywhere. FHIR operations answer OperationOutcomes.
fn complete_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

    let problem = |description: &str, fhir: bool| -> RefOr<utoipa::openapi::Response> {
        let (media, schema) =
            if fhir { (fhir::FHIR_JSON, "OperationOutcome") } else { (crate::error::PROBLEM_JSON, "Problem") };
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build();
        ResponseBuilder::new().description(description).content(media, content).build().into()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let is_fhir = path.starts_with("/fhir/");
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            let params = op.parameters.as_deref().unwrap_or_default();
            let in_path = params.iter().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path));
            let in_query = params.iter().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let body = op.request_body.is_some();
            let mut add = |status: &str, description: &str| {
                op.responses.responses.entry(status.to_owned()).or_insert_with(|| problem(description, is_fhir));
            };
            if secured {
                add("401", "Missing, invalid or expired token, or an ended session");
                add("429", "Too many requests for this account; see Retry-After");
            }
            if body {
                add("400", "Malformed JSON");
                add("413", "Body larger than 64 KiB");
                add("415", "Not application/json");
                add("422", "A field is missing, of the wrong type, or out of range; the detail names it");
            }
            if in_path && is_fhir {
                add("404", "No such resource in the caller's scope");
            } else if in_path || in_query {
                add("400", "A malformed parameter; the detail names it");
            }
            add("500", "Internal error (details are logged, never sent)");
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in [
        ("Problem", <Problem as utoipa::PartialSchema>::schema()),
        ("OperationOutcome", <fhir::OperationOutcome as utoipa::PartialSchema>::schema()),
    ] {
        components.schemas.entry(name.to_owned()).or_insert(schema);
    }
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
#[utoipa::path(get, path = "/api/openapi.json", tag = "health", responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
#[allow(dead_code)] // Documents the route served by `router`; never called.
async fn openapi_json() -> impl IntoResponse {}
