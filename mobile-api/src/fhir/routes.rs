//! The FHIR endpoints: search and read of Patient, Observation and Device; the
//! CapabilityStatement.

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use eldercare_schema::Metric;
use eldercare_store::fhir::ObservationQuery;
use serde_json::Value;

use super::ids::{self, DeviceRef};
use super::resources::{self, LOINC, exported};
use super::search::{self, Window};
use super::{Bundle, Fhir, FhirError, FhirResource, FhirUser, OperationOutcome};
use crate::routes::devices::ONLINE_WITHIN_MS;
use crate::{ApiError, ApiState, AuthUser};

const DEFAULT_COUNT: i64 = 100;
const MAX_COUNT: i64 = 1000;

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/fhir/r4/metadata", get(capability_statement))
        .route("/fhir/r4/Patient", get(patient_search))
        .route("/fhir/r4/Patient/{id}", get(patient_read))
        .route("/fhir/r4/Observation", get(observation_search))
        .route("/fhir/r4/Observation/{id}", get(observation_read))
        .route("/fhir/r4/Device", get(device_search))
        .route("/fhir/r4/Device/{id}", get(device_read))
}

type FhirResult<T> = Result<Fhir<T>, FhirError>;

fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)));
    format!("http://{}/fhir/r4", host.unwrap_or("localhost"))
}

fn self_url(base: &str, kind: &str, raw: Option<&str>) -> String {
    match raw {
        Some(q) if !q.is_empty() => format!("{base}/{kind}?{q}"),
        _ => format!("{base}/{kind}"),
    }
}

/// Refuses parameters this server does not support, rather than silently ignoring a filter.
fn only_known(params: &[(String, String)], known: &[&str]) -> Result<(), FhirError> {
    for (name, _) in params {
        if !known.contains(&name.as_str()) {
            return Err(FhirError(ApiError::BadRequest(format!(
                "unsupported search parameter {name:?}; supported: {}",
                known.join(", ")
            ))));
        }
    }
    Ok(())
}

fn values<'a>(params: &'a [(String, String)], names: &[&str]) -> Vec<&'a str> {
    params.iter().filter(|(n, _)| names.contains(&n.as_str())).flat_map(|(_, v)| v.split(',')).collect()
}

/// The id is not repeated back.
fn not_found(kind: &str, _id: &str) -> FhirError {
    FhirError(ApiError::NotFound(format!("{kind} not found")))
}

/// The resident ids named by `patient`/`subject` values; `None` when none were given. A value
/// that names no resident of ours matches nothing.
fn requested_patients(params: &[(String, String)]) -> Option<Vec<i64>> {
    let vals = values(params, &["patient", "subject"]);
    if vals.is_empty() {
        return None;
    }
    Some(vals.into_iter().filter_map(search::patient_ref).collect())
}

/// This server's capabilities (public, as FHIR clients expect).
#[utoipa::path(
    get,
    path = "/fhir/r4/metadata",
    tag = "fhir",
    responses((status = 200, description = "The CapabilityStatement", body = FhirResource, content_type = "application/fhir+json"))
)]
pub(crate) async fn capability_statement(headers: HeaderMap) -> Fhir<Value> {
    Fhir(resources::capability_statement(&base(&headers)))
}

/// Patients (residents) in the caller's scope.
#[utoipa::path(
    get,
    path = "/fhir/r4/Patient",
    tag = "fhir",
    security(("bearer" = [])),
    params(
        ("_id" = Option<String>, Query, description = "Only these ids (comma-separated)"),
    ),
    responses(
        (status = 200, description = "A searchset Bundle", body = Bundle, content_type = "application/fhir+json"),
        (status = 400, description = "An unsupported or malformed parameter", body = OperationOutcome, content_type = "application/fhir+json"),
    )
)]
pub(crate) async fn patient_search(
    State(state): State<ApiState>,
    FhirUser(user): FhirUser,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> FhirResult<Bundle> {
    let params = search::pairs(raw.as_deref());
    only_known(&params, &["_id"])?;
    let ids = values(&params, &["_id"]);
    let rows = state.store.visible_residents(&user.viewer()).await?;
    let rows: Vec<_> =
        rows.into_iter().filter(|r| ids.is_empty() || ids.contains(&r.resident_id.to_string().as_str())).collect();
    let audited: Vec<Option<i64>> = rows.iter().map(|r| Some(r.resident_id)).collect();
    state.audit_residents(Some(user.user_id), "fhir.patient.search", &audited, "").await?;
    let base = base(&headers);
    let resources: Vec<Value> = rows.iter().map(resources::patient).collect();
    let total = resources.len() as u64;
    Ok(Fhir(Bundle::searchset(&base, self_url(&base, "Patient", raw.as_deref()), None, Some(total), resources)))
}

/// One Patient.
#[utoipa::path(
    get,
    path = "/fhir/r4/Patient/{id}",
    tag = "fhir",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The resident's id")),
    responses(
        (status = 200, description = "The Patient", body = FhirResource, content_type = "application/fhir+json"),
        (status = 404, description = "No such patient in the caller's scope", body = OperationOutcome, content_type = "application/fhir+json"),
    )
)]
pub(crate) async fn patient_read(
    State(state): State<ApiState>,
    FhirUser(user): FhirUser,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> FhirResult<Value> {
    let resident_id = id.parse::<i64>().map_err(|_| not_found("Patient", &id))?;
    let row =
        crate::scope::visible_resident(&state, &user, resident_id).await.map_err(|_| not_found("Patient", &id))?;
    state.audit(Some(user.user_id), "fhir.patient.read", Some(resident_id), "").await?;
    Ok(Fhir(resources::patient(&row)))
}

/// The metrics a `code` or `category` token may match.
fn metrics_for(params: &[(String, String)]) -> Result<Vec<Metric>, FhirError> {
    let mut metrics: Vec<Metric> = Metric::ALL.into_iter().filter(|m| exported(*m)).collect();
    let codes = values(params, &["code"]);
    if !codes.is_empty() {
        metrics.retain(|m| {
            codes.iter().any(|c| {
                let (system, code) = search::token(c);
                let system_ok = system.is_none_or(|s| s.is_empty() || s == LOINC);
                let panel = *m == Metric::BpSystolic && code == resources::BP_PANEL.0;
                let own = resources::codings(*m).iter().any(|cd| cd["code"] == code);
                system_ok && (panel || own)
            })
        });
    }
    let categories = values(params, &["category"]);
    if !categories.is_empty() {
        metrics.retain(|m| {
            let cat = match m {
                Metric::Steps => "activity",
                Metric::Glucose => "laboratory",
                _ => "vital-signs",
            };
            categories.iter().any(|c| search::token(c).1 == cat)
        });
    }
    Ok(metrics)
}

/// Whether an Observation carries one of the `code` tokens (a search for the panel must not
/// return lone systolic readings, and one for 8480-6 not panels).
fn has_code(obs: &Value, codes: &[&str]) -> bool {
    codes.is_empty()
        || obs["code"]["coding"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| codes.iter().any(|t| c["code"] == search::token(t).1)))
}

fn parse_cursor(s: &str) -> Result<(i64, i64), FhirError> {
    let bad = || FhirError(ApiError::BadRequest(format!("_cursor: not a cursor of this server: {s:?}")));
    let (ms, row) = s.split_once('.').ok_or_else(bad)?;
    Ok((ms.parse().map_err(|_| bad())?, row.parse().map_err(|_| bad())?))
}

/// Observations of the patients in the caller's scope, oldest first.
#[utoipa::path(
    get,
    path = "/fhir/r4/Observation",
    tag = "fhir",
    security(("bearer" = [])),
    params(
        ("patient" = Option<String>, Query, description = "The patient (`Patient/7` or `7`; comma-separated for several). Default: every patient in scope"),
        ("subject" = Option<String>, Query, description = "Same as patient"),
        ("date" = Option<Vec<String>>, Query, explode = true, description = "When measured, with a prefix: `ge2024-05-01`, `lt2024-05-02T08:00:00Z` (repeat for a range)"),
        ("code" = Option<String>, Query, description = "A LOINC code, optionally `http://loinc.org|8867-4`; comma-separated for several"),
        ("category" = Option<String>, Query, description = "`vital-signs`, `activity` or `laboratory`"),
        ("_count" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Most entries per page (default 100)"),
        ("_cursor" = Option<String>, Query, description = "From the `next` link of the previous page"),
    ),
    responses(
        (status = 200, description = "A searchset Bundle; a `next` link when there is more", body = Bundle, content_type = "application/fhir+json"),
        (status = 400, description = "An unsupported or malformed parameter", body = OperationOutcome, content_type = "application/fhir+json"),
    )
)]
pub(crate) async fn observation_search(
    State(state): State<ApiState>,
    FhirUser(user): FhirUser,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> FhirResult<Bundle> {
    let params = search::pairs(raw.as_deref());
    only_known(&params, &["patient", "subject", "date", "code", "category", "_count", "_cursor"])?;
    let mut window = Window::default();
    for d in values(&params, &["date"]) {
        search::apply_date(&mut window, d)?;
    }
    let count = search::count(values(&params, &["_count"]).last().copied(), DEFAULT_COUNT, MAX_COUNT)?;
    let after = values(&params, &["_cursor"]).last().map(|c| parse_cursor(c)).transpose()?;
    let metrics = metrics_for(&params)?;
    let requested = requested_patients(&params);
    let visible = state.store.visible_resident_ids(&user.viewer(), requested.as_deref()).await?;
    if let Some(req) = &requested {
        let hidden: Vec<Option<i64>> = req.iter().filter(|r| !visible.contains(r)).map(|&r| Some(r)).collect();
        state.audit_residents(Some(user.user_id), "resident.not_visible", &hidden, "fhir").await?;
    }
    let q = ObservationQuery {
        resident_ids: visible.clone(),
        metrics,
        from_ms: window.from_ms,
        to_ms: window.to_ms,
        after,
        limit: count + 1,
    };
    let mut rows = state.store.observations(&q).await?;
    let more = rows.len() as i64 > count;
    rows.truncate(count as usize);
    let codes = values(&params, &["code"]);
    let mut resources = Vec::with_capacity(rows.len());
    let mut read: BTreeSet<i64> = requested.map(|_| visible.iter().copied().collect()).unwrap_or_default();
    for row in &rows {
        let obs = resources::observation(row)?;
        if has_code(&obs, &codes) {
            read.insert(row.resident_id);
            resources.push(obs);
        }
    }
    let audited: Vec<Option<i64>> = read.into_iter().map(Some).collect();
    state
        .audit_residents(
            Some(user.user_id),
            "fhir.observation.search",
            &audited,
            &format!("entries={}", resources.len()),
        )
        .await?;
    let base = base(&headers);
    let next = match (more, rows.last()) {
        (true, Some(last)) => {
            let mut kept: Vec<(String, String)> = params.iter().filter(|(n, _)| n != "_cursor").cloned().collect();
            kept.push(("_cursor".into(), format!("{}.{}", last.measured_ms, last.row_id)));
            let q: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish();
            Some(format!("{base}/Observation?{q}"))
        }
        _ => None,
    };
    Ok(Fhir(Bundle::searchset(&base, self_url(&base, "Observation", raw.as_deref()), next, None, resources)))
}

/// One Observation.
#[utoipa::path(
    get,
    path = "/fhir/r4/Observation/{id}",
    tag = "fhir",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The Observation's id")),
    responses(
        (status = 200, description = "The Observation", body = FhirResource, content_type = "application/fhir+json"),
        (status = 404, description = "No such Observation of a patient in the caller's scope", body = OperationOutcome, content_type = "application/fhir+json"),
    )
)]
pub(crate) async fn observation_read(
    State(state): State<ApiState>,
    FhirUser(user): FhirUser,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> FhirResult<Value> {
    let row_id = id.parse::<i64>().map_err(|_| not_found("Observation", &id))?;
    let row = state.store.observation(row_id).await?.filter(|r| exported(r.metric));
    let Some(row) = row else { return Err(not_found("Observation", &id)) };
    if state.store.visible_resident(&user.viewer(), row.resident_id).await?.is_none() {
        state.audit(Some(user.user_id), "resident.not_visible", Some(row.resident_id), "fhir").await?;
        return Err(not_found("Observation", &id));
    }
    state
        .audit(Some(user.user_id), "fhir.observation.read", Some(row.resident_id), &format!("observation={id}"))
        .await?;
    Ok(Fhir(resources::observation(&row)?))
}

/// The wearables of the patients in scope (all, or those of `patient`) and the gateways that
/// forward them.
#[utoipa::path(
    get,
    path = "/fhir/r4/Device",
    tag = "fhir",
    security(("bearer" = [])),
    params(("patient" = Option<String>, Query, description = "Only this patient's wearables and their gateways (`Patient/7` or `7`)")),
    responses(
        (status = 200, description = "A searchset Bundle", body = Bundle, content_type = "application/fhir+json"),
        (status = 400, description = "An unsupported parameter", body = OperationOutcome, content_type = "application/fhir+json"),
    )
)]
pub(crate) async fn device_search(
    State(state): State<ApiState>,
    FhirUser(user): FhirUser,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> FhirResult<Bundle> {
    let params = search::pairs(raw.as_deref());
    only_known(&params, &["patient"])?;
    let requested = requested_patients(&params);
    let now = state.now_ms();
    let mut wearables = state.store.visible_devices(&user.viewer(), None).await?;
    if let Some(req) = &requested {
        wearables.retain(|d| req.contains(&d.resident_id));
    }
    let forwarding: BTreeSet<&str> = wearables.iter().map(|d| d.gateway_id.as_str()).collect();
    let mut gateways = state.store.visible_gateways(&user.viewer()).await?;
    if requested.is_some() {
        gateways.retain(|g| forwarding.contains(g.gateway_id.as_str()));
    }
    let mut resources: Vec<Value> = gateways.iter().map(resources::gateway).collect();
    resources.extend(
        wearables
            .iter()
            .map(|d| resources::wearable(d, d.last_reading_ms.is_some_and(|t| t >= now - ONLINE_WITHIN_MS))),
    );
    state.audit(Some(user.user_id), "fhir.device.search", None, &format!("entries={}", resources.len())).await?;
    let base = base(&headers);
    let total = resources.len() as u64;
    Ok(Fhir(Bundle::searchset(&base, self_url(&base, "Device", raw.as_deref()), None, Some(total), resources)))
}

/// One Device: a wearable (`d-...`) or a gateway (`g-...`).
#[utoipa::path(
    get,
    path = "/fhir/r4/Device/{id}",
    tag = "fhir",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The Device's id")),
    responses(
        (status = 200, description = "The Device", body = FhirResource, content_type = "application/fhir+json"),
        (status = 404, description = "No such Device in the caller's scope", body = OperationOutcome, content_type = "application/fhir+json"),
    )
)]
pub(crate) async fn device_read(
    State(state): State<ApiState>,
    FhirUser(user): FhirUser,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> FhirResult<Value> {
    let found = find_device(&state, &user, &id).await?;
    let resource = found.ok_or_else(|| not_found("Device", &id))?;
    state.audit(Some(user.user_id), "fhir.device.read", None, &format!("device={id}")).await?;
    Ok(Fhir(resource))
}

async fn find_device(state: &ApiState, user: &AuthUser, id: &str) -> Result<Option<Value>, FhirError> {
    let viewer = user.viewer();
    let now = state.now_ms();
    let online = |t: Option<i64>| t.is_some_and(|t| t >= now - ONLINE_WITHIN_MS);
    Ok(match ids::parse(id) {
        None => None,
        Some(DeviceRef::Wearable(device_id)) => state
            .store
            .visible_device(&viewer, &device_id)
            .await?
            .map(|d| resources::wearable(&d, online(d.last_reading_ms))),
        Some(DeviceRef::Gateway(gateway_id)) => {
            state.store.visible_gateway(&viewer, &gateway_id).await?.map(|g| resources::gateway(&g))
        }
        Some(DeviceRef::Hashed(false, hash)) => state
            .store
            .visible_devices(&viewer, None)
            .await?
            .into_iter()
            .find(|d| ids::hash_of(&d.device_id) == hash)
            .map(|d| resources::wearable(&d, online(d.last_reading_ms))),
        Some(DeviceRef::Hashed(true, hash)) => state
            .store
            .visible_gateways(&viewer)
            .await?
            .into_iter()
            .find(|g| ids::hash_of(&g.gateway_id) == hash)
            .map(|g| resources::gateway(&g)),
    })
}
