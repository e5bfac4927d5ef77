//! Home gateways and the wearables they forward: their status, and which resident wears which
//! device through which gateway. Everyone sees those of the residents they may see; staff in
//! scope register and rebind them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use eldercare_schema::api::Problem;
use eldercare_store::admin::{DeviceDetailRow, GatewayStatusRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{self, Path, Query};
use crate::rfc3339::format_ms;
use crate::{ApiError, ApiState, AuthUser, scope};

/// A device is online when it sent a reading within this long.
pub(crate) const ONLINE_WITHIN_MS: i64 = 3600 * 1000;

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/devices", get(list_devices).post(register_device))
        .route("/api/v1/devices/{device_id}", get(get_device))
        .route("/api/v1/devices/{device_id}/binding", put(bind_device))
        .route("/api/v1/gateways", get(list_gateways).post(register_gateway))
        .route("/api/v1/gateways/{gateway_id}", get(get_gateway))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Device {
    device_id: String,
    /// e.g. `pulse_oximeter`, `heart_rate_band`, `blood_pressure_cuff`.
    kind: String,
    gateway_id: String,
    resident_id: i64,
    household_id: i64,
    #[schema(format = DateTime)]
    registered_at: String,
    #[schema(format = DateTime)]
    last_reading_at: Option<String>,
    /// A reading arrived within the last hour.
    online: bool,
    battery_pct: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewDevice {
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,64}$", example = "ox-wang-02")]
    device_id: String,
    #[schema(pattern = "^[a-z_]{1,40}$", example = "pulse_oximeter")]
    kind: String,
    gateway_id: String,
    resident_id: i64,
}

/// Which gateway forwards a device and who wears it; both must be of the same household.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeviceBinding {
    gateway_id: String,
    resident_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Gateway {
    gateway_id: String,
    household_id: i64,
    #[schema(format = DateTime)]
    registered_at: String,
    /// The gateway's last published status (`online`, `offline`), if any.
    status: Option<String>,
    #[schema(format = DateTime)]
    status_at: Option<String>,
    /// Its last status is `online`.
    online: bool,
    device_count: i64,
    #[schema(format = DateTime)]
    last_reading_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewGateway {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$", example = "gw-wang")]
    gateway_id: String,
    household_id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeviceFilter {
    /// Only the devices of this resident.
    resident_id: Option<i64>,
}

fn opt_time(ms: Option<i64>) -> Result<Option<String>, ApiError> {
    ms.map(format_ms).transpose()
}

fn to_device(d: DeviceDetailRow, now_ms: i64) -> Result<Device, ApiError> {
    Ok(Device {
        online: d.last_reading_ms.is_some_and(|t| t >= now_ms - ONLINE_WITHIN_MS),
        last_reading_at: opt_time(d.last_reading_ms)?,
        registered_at: format_ms(d.created_ms)?,
        device_id: d.device_id,
        kind: d.kind,
        gateway_id: d.gateway_id,
        resident_id: d.resident_id,
        household_id: d.household_id,
        battery_pct: d.battery_pct,
    })
}

fn to_gateway(g: GatewayStatusRow) -> Result<Gateway, ApiError> {
    Ok(Gateway {
        online: g.status.as_deref() == Some("online"),
        registered_at: format_ms(g.created_ms)?,
        status_at: opt_time(g.status_ms)?,
        last_reading_at: opt_time(g.last_reading_ms)?,
        gateway_id: g.gateway_id,
        household_id: g.household_id,
        status: g.status,
        device_count: g.device_count,
    })
}

/// The id is not repeated: a 404 says nothing, not even back, about what was asked.
fn device_not_found(_id: &str) -> ApiError {
    ApiError::NotFound("device not found".into())
}

fn gateway_not_found(_id: &str) -> ApiError {
    ApiError::NotFound("gateway not found".into())
}

fn valid_device_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// The devices of the residents the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "devices",
    security(("bearer" = [])),
    params(DeviceFilter),
    responses((status = 200, description = "Devices in scope, by id", body = Vec<Device>))
)]
pub(crate) async fn list_devices(
    State(state): State<ApiState>,
    user: AuthUser,
    Query(filter): Query<DeviceFilter>,
) -> Result<Json<Vec<Device>>, ApiError> {
    let rows = state.store.visible_devices(&user.viewer(), filter.resident_id).await?;
    let now = state.now_ms();
    Ok(Json(rows.into_iter().map(|d| to_device(d, now)).collect::<Result<_, _>>()?))
}

/// One device.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{device_id}",
    tag = "devices",
    security(("bearer" = [])),
    params(("device_id" = String, Path, description = "The device's id")),
    responses(
        (status = 200, description = "The device", body = Device),
        (status = 404, description = "No such device in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_device(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(device_id): Path<String>,
) -> Result<Json<Device>, ApiError> {
    let row =
        state.store.visible_device(&user.viewer(), &device_id).await?.ok_or_else(|| device_not_found(&device_id))?;
    Ok(Json(to_device(row, state.now_ms())?))
}

/// Checks that staff may bind devices to `resident_id` through `gateway_id`: both in scope and
/// of the same household.
async fn check_binding(state: &ApiState, user: &AuthUser, gateway_id: &str, resident_id: i64) -> Result<(), ApiError> {
    let resident = scope::managed_resident(state, user, resident_id).await?;
    let gateway =
        state.store.visible_gateway(&user.viewer(), gateway_id).await?.ok_or_else(|| gateway_not_found(gateway_id))?;
    if gateway.household_id != resident.household_id {
        return Err(ApiError::Unprocessable(format!(
            "gateway_id: gateway {gateway_id:?} serves another household than resident {resident_id}"
        )));
    }
    Ok(())
}

/// Registers a device worn by a resident and forwarded by their household's gateway (staff in
/// scope only).
#[utoipa::path(
    post,
    path = "/api/v1/devices",
    tag = "devices",
    security(("bearer" = [])),
    request_body = NewDevice,
    responses(
        (status = 201, description = "Registered", body = Device),
        (status = 404, description = "No such resident or gateway in the caller's scope, or the caller is not staff", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The device id is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad id or kind, or a gateway of another household", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn register_device(
    State(state): State<ApiState>,
    user: AuthUser,
    extract::Json(req): extract::Json<NewDevice>,
) -> Result<(StatusCode, Json<Device>), ApiError> {
    if !valid_device_id(&req.device_id) {
        return Err(ApiError::Unprocessable("device_id: 1 to 64 of A-Z, a-z, 0-9, '.', '_', ':', '-'".into()));
    }
    if req.kind.is_empty() || req.kind.len() > 40 || !req.kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return Err(ApiError::Unprocessable("kind: 1 to 40 of a-z and '_'".into()));
    }
    check_binding(&state, &user, &req.gateway_id, req.resident_id).await?;
    state.store.register_device(&req.device_id, &req.gateway_id, req.resident_id, &req.kind).await?;
    let detail = format!("device={} gateway={}", req.device_id, req.gateway_id);
    state.audit(Some(user.user_id), "device.register", Some(req.resident_id), &detail).await?;
    let row = state
        .store
        .visible_device(&user.viewer(), &req.device_id)
        .await?
        .ok_or_else(|| device_not_found(&req.device_id))?;
    Ok((StatusCode::CREATED, Json(to_device(row, state.now_ms())?)))
}

/// Moves a device to another wearer and/or gateway (staff with both the device and the new
/// binding in scope only). Readings already stored stay with the resident who wore it then.
#[utoipa::path(
    put,
    path = "/api/v1/devices/{device_id}/binding",
    tag = "devices",
    security(("bearer" = [])),
    params(("device_id" = String, Path, description = "The device's id")),
    request_body = DeviceBinding,
    responses(
        (status = 200, description = "The device as bound now", body = Device),
        (status = 404, description = "No such device, resident or gateway in the caller's scope, or the caller is not staff", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A gateway of another household", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn bind_device(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(device_id): Path<String>,
    extract::Json(req): extract::Json<DeviceBinding>,
) -> Result<Json<Device>, ApiError> {
    if !scope::is_staff(&user) {
        return Err(device_not_found(&device_id));
    }
    let current =
        state.store.visible_device(&user.viewer(), &device_id).await?.ok_or_else(|| device_not_found(&device_id))?;
    check_binding(&state, &user, &req.gateway_id, req.resident_id).await?;
    state.store.rebind_device(&device_id, &req.gateway_id, req.resident_id).await?;
    let detail = format!(
        "device={device_id} from resident={} gateway={} to resident={} gateway={}",
        current.resident_id, current.gateway_id, req.resident_id, req.gateway_id
    );
    state
        .audit_residents(
            Some(user.user_id),
            "device.rebind",
            &[Some(current.resident_id), Some(req.resident_id)],
            &detail,
        )
        .await?;
    let row =
        state.store.visible_device(&user.viewer(), &device_id).await?.ok_or_else(|| device_not_found(&device_id))?;
    Ok(Json(to_device(row, state.now_ms())?))
}

/// The gateways of the households the caller may see, with their status.
#[utoipa::path(
    get,
    path = "/api/v1/gateways",
    tag = "devices",
    security(("bearer" = [])),
    responses((status = 200, description = "Gateways in scope, by id", body = Vec<Gateway>))
)]
pub(crate) async fn list_gateways(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<Json<Vec<Gateway>>, ApiError> {
    let rows = state.store.visible_gateways(&user.viewer()).await?;
    Ok(Json(rows.into_iter().map(to_gateway).collect::<Result<_, _>>()?))
}

/// One gateway and its status.
#[utoipa::path(
    get,
    path = "/api/v1/gateways/{gateway_id}",
    tag = "devices",
    security(("bearer" = [])),
    params(("gateway_id" = String, Path, description = "The gateway's id")),
    responses(
        (status = 200, description = "The gateway", body = Gateway),
        (status = 404, description = "No such gateway in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_gateway(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(gateway_id): Path<String>,
) -> Result<Json<Gateway>, ApiError> {
    let row = state
        .store
        .visible_gateway(&user.viewer(), &gateway_id)
        .await?
        .ok_or_else(|| gateway_not_found(&gateway_id))?;
    Ok(Json(to_gateway(row)?))
}

/// Registers a household's gateway (staff with the household in scope only).
#[utoipa::path(
    post,
    path = "/api/v1/gateways",
    tag = "devices",
    security(("bearer" = [])),
    request_body = NewGateway,
    responses(
        (status = 201, description = "Registered", body = Gateway),
        (status = 404, description = "No such household in the caller's scope, or the caller is not staff", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The gateway id is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad gateway id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn register_gateway(
    State(state): State<ApiState>,
    user: AuthUser,
    extract::Json(req): extract::Json<NewGateway>,
) -> Result<(StatusCode, Json<Gateway>), ApiError> {
    if eldercare_schema::topic::validate_gateway_id(&req.gateway_id).is_err() {
        return Err(ApiError::Unprocessable("gateway_id: 1 to 64 of A-Z, a-z, 0-9, '_', '-'".into()));
    }
    scope::managed_household(&state, &user, req.household_id).await?;
    state.store.register_gateway(&req.gateway_id, req.household_id).await?;
    let detail = format!("gateway={} household={}", req.gateway_id, req.household_id);
    state.audit(Some(user.user_id), "gateway.register", None, &detail).await?;
    let row = state
        .store
        .visible_gateway(&user.viewer(), &req.gateway_id)
        .await?
        .ok_or_else(|| gateway_not_found(&req.gateway_id))?;
    Ok((StatusCode::CREATED, Json(to_gateway(row)?)))
}
