//! The alert inbox and what people do with alerts: acknowledge ("I'm on it", "I'm calling
//! her"), resolve with a note, snooze; each alert's history and the notifications it caused.
//! Scope as everywhere: staff see alerts under their units, families their relatives' (and
//! their homes'); anything else is 404.
//!
//! People are named by id and, where the caller may know it, display name (`*_name`): staff
//! names for anyone who sees the alert; a family member's name for staff, for themselves and
//! for the members of a care circle they share; never another family's names to a family.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use eldercare_schema::api::Problem;
use eldercare_store::alerts::{ActionRefused, AlertEventRow, AlertFilter, AlertRow, NotificationRow};
use eldercare_store::{Role, Viewer};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::extract::{Json as JsonBody, Path, Query};
use crate::rfc3339;
use crate::{ApiError, ApiState, AuthUser};

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/alerts/{alert_id}", get(get_alert))
        .route("/api/v1/alerts/{alert_id}/acknowledge", post(acknowledge))
        .route("/api/v1/alerts/{alert_id}/resolve", post(resolve))
        .route("/api/v1/alerts/{alert_id}/snooze", post(snooze))
        .route("/api/v1/residents/{resident_id}/silences", post(add_silence))
}

#[derive(OpenApi)]
#[openapi(
    paths(list_alerts, get_alert, acknowledge, resolve, snooze, add_silence),
    components(schemas(Alert, AlertDetail, AlertEvent, Notification, AcknowledgeRequest, ResolveRequest, SnoozeRequest, SilenceRequest, Silence)),
    tags((name = "alerts", description = "The alert inbox and actions on alerts"))
)]
pub struct AlertsDoc;

/// An alert as the apps show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alert {
    pub alert_id: i64,
    /// The resident, or absent for an alert about a whole home (its gateway went offline).
    pub resident_id: Option<i64>,
    pub household_id: i64,
    /// What the rules found, e.g. `spo2_low`, `fall`, `no_data:<device>`.
    pub condition: String,
    /// `critical`, `urgent`, `warning` or `info`.
    pub level: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    pub title: String,
    /// The values, thresholds and scores behind the alert.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    pub opened_at: String,
    pub updated_at: String,
    /// When the condition stopped holding (the alert stays until a person resolves it).
    pub cleared_at: Option<String>,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<i64>,
    /// The display name of `acknowledged_by`, when the caller may know it.
    pub acknowledged_by_name: Option<String>,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<i64>,
    /// The display name of `resolved_by`, when the caller may know it.
    pub resolved_by_name: Option<String>,
    pub resolution_note: Option<String>,
    pub snoozed_until: Option<String>,
    /// How far the escalation chain has gone (0 = nobody notified yet).
    pub escalation_step: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertEvent {
    pub event_id: i64,
    pub at: String,
    /// `opened`, `updated`, `level_raised`, `cleared`, `notified`, `escalated`, `acknowledged`,
    /// `snoozed`, `silenced`, `resolved`.
    pub kind: String,
    /// Who acted (acknowledged, resolved, …) or was notified.
    pub user_id: Option<i64>,
    /// Their display name, when the caller may know it.
    pub user_name: Option<String>,
    pub note: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Notification {
    pub notification_id: i64,
    pub step: i64,
    /// `live` (the app's live stream) or `webhook`.
    pub channel: String,
    /// The person notified (none for a webhook).
    pub user_id: Option<i64>,
    /// Their display name, when the caller may know it.
    pub user_name: Option<String>,
    pub webhook_id: Option<i64>,
    pub created_at: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
}

/// An alert with its history and notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDetail {
    pub alert: Alert,
    pub events: Vec<AlertEvent>,
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AcknowledgeRequest {
    /// Optional, e.g. "calling her now".
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResolveRequest {
    /// What was done; required.
    pub note: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SnoozeRequest {
    /// Minutes, 1 to 1440.
    pub minutes: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AlertQuery {
    /// `open`, `acknowledged` or `resolved`; default: everything not resolved.
    status: Option<String>,
    /// `critical`, `urgent`, `warning` or `info`.
    level: Option<String>,
    resident_id: Option<i64>,
    /// Paging: only alerts with a smaller id (newest first).
    before: Option<i64>,
    /// 1 to 1000, default 100.
    limit: Option<i64>,
}

/// RFC 3339 of a stored time (stored times are always in range).
fn format_ms(ms: i64) -> String {
    rfc3339::format_ms(ms).unwrap_or_else(|_| ms.to_string())
}

fn json_or_null(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

/// Display names of the people an answer names, as far as the caller may know them; each asked
/// for once per request.
struct Names<'a> {
    state: &'a ApiState,
    viewer: Viewer,
    known: HashMap<i64, Option<String>>,
}

impl<'a> Names<'a> {
    fn new(state: &'a ApiState, user: &AuthUser) -> Self {
        Names { state, viewer: user.viewer(), known: HashMap::new() }
    }

    async fn of(&mut self, user_id: Option<i64>) -> Result<Option<String>, ApiError> {
        let Some(id) = user_id else { return Ok(None) };
        if let Some(name) = self.known.get(&id) {
            return Ok(name.clone());
        }
        let name = self.state.store.display_name_for(&self.viewer, id).await?;
        self.known.insert(id, name.clone());
        Ok(name)
    }
}

async fn named_alert(a: AlertRow, names: &mut Names<'_>) -> Result<Alert, ApiError> {
    let acknowledged_by_name = names.of(a.acknowledged_by).await?;
    let resolved_by_name = names.of(a.resolved_by).await?;
    Ok(Alert { acknowledged_by_name, resolved_by_name, ..to_alert(a) })
}

async fn named_alerts(rows: Vec<AlertRow>, names: &mut Names<'_>) -> Result<Vec<Alert>, ApiError> {
    let mut out = Vec::with_capacity(rows.len());
    for a in rows {
        out.push(named_alert(a, names).await?);
    }
    Ok(out)
}

/// An alert without names (see [`named_alert`]).
fn to_alert(a: AlertRow) -> Alert {
    Alert {
        alert_id: a.alert_id,
        resident_id: a.resident_id,
        household_id: a.household_id,
        condition: a.condition,
        level: a.level,
        status: a.status,
        title: a.title,
        evidence: json_or_null(&a.evidence),
        opened_at: format_ms(a.opened_ms),
        updated_at: format_ms(a.updated_ms),
        cleared_at: a.cleared_ms.map(format_ms),
        acknowledged_at: a.acknowledged_ms.map(format_ms),
        acknowledged_by: a.acknowledged_by,
        acknowledged_by_name: None,
        resolved_at: a.resolved_ms.map(format_ms),
        resolved_by: a.resolved_by,
        resolved_by_name: None,
        resolution_note: a.resolution_note,
        snoozed_until: a.snoozed_until_ms.map(format_ms),
        escalation_step: a.escalation_step,
    }
}

fn to_event(e: AlertEventRow, user_name: Option<String>) -> AlertEvent {
    AlertEvent {
        event_id: e.event_id,
        at: format_ms(e.at_ms),
        kind: e.kind,
        user_id: e.user_id,
        user_name,
        note: e.note,
        detail: json_or_null(&e.detail),
    }
}

fn to_notification(n: NotificationRow, user_name: Option<String>) -> Notification {
    Notification {
        notification_id: n.notification_id,
        step: n.step,
        channel: n.channel,
        user_id: n.user_id,
        user_name,
        webhook_id: n.webhook_id,
        created_at: format_ms(n.created_ms),
        status: n.status,
        attempts: n.attempts,
    }
}

fn check_one_of(name: &str, value: &Option<String>, allowed: &[&str]) -> Result<(), ApiError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => {
            Err(ApiError::BadRequest(format!("query parameter {name}: expected one of {}", allowed.join(", "))))
        }
        _ => Ok(()),
    }
}

fn refused(r: ActionRefused, alert_id: i64) -> ApiError {
    match r {
        ActionRefused::NotFound => ApiError::NotFound(format!("alert {alert_id} not found")),
        ActionRefused::Resolved => ApiError::Status(StatusCode::CONFLICT),
    }
}

/// The alerts in the caller's scope, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    security(("bearer" = [])),
    params(AlertQuery),
    responses(
        (status = 200, description = "Alerts, newest first", body = Vec<Alert>),
        (status = 400, description = "A query parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_alerts(
    State(state): State<ApiState>,
    user: AuthUser,
    Query(q): Query<AlertQuery>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    check_one_of("status", &q.status, &["open", "acknowledged", "resolved"])?;
    check_one_of("level", &q.level, &["critical", "urgent", "warning", "info"])?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("query parameter limit: expected 1 to 1000".into()));
    }
    let filter =
        AlertFilter { status: q.status, level: q.level, resident_id: q.resident_id, before_id: q.before, limit };
    let rows = state.store.list_alerts(&user.viewer(), &filter).await?;
    state.audit(Some(user.user_id), "alerts.list", q.resident_id, &format!("count={}", rows.len())).await?;
    Ok(Json(named_alerts(rows, &mut Names::new(&state, &user)).await?))
}

/// One alert with its history (escalation steps, who acknowledged) and its notifications.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{alert_id}",
    tag = "alerts",
    security(("bearer" = [])),
    params(("alert_id" = i64, Path, description = "The alert's id")),
    responses(
        (status = 200, description = "The alert", body = AlertDetail),
        (status = 400, description = "The id is not an integer", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such alert in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_alert(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(alert_id): Path<i64>,
) -> Result<Json<AlertDetail>, ApiError> {
    let (alert, events, notifications) = state
        .store
        .alert_detail(&user.viewer(), alert_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("alert {alert_id} not found")))?;
    state.audit(Some(user.user_id), "alert.read", alert.resident_id, &format!("alert={alert_id}")).await?;
    let mut names = Names::new(&state, &user);
    let mut detail = AlertDetail {
        alert: named_alert(alert, &mut names).await?,
        events: Vec::with_capacity(events.len()),
        notifications: Vec::with_capacity(notifications.len()),
    };
    for e in events {
        let name = names.of(e.user_id).await?;
        detail.events.push(to_event(e, name));
    }
    for n in notifications {
        let name = names.of(n.user_id).await?;
        detail.notifications.push(to_notification(n, name));
    }
    Ok(Json(detail))
}

/// Acknowledge: someone is on it. Stops the escalation. Families may acknowledge too.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{alert_id}/acknowledge",
    tag = "alerts",
    security(("bearer" = [])),
    params(("alert_id" = i64, Path, description = "The alert's id")),
    request_body(content = AcknowledgeRequest, description = "An optional note"),
    responses(
        (status = 200, description = "The acknowledged alert", body = Alert),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such alert in the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The alert is already resolved", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn acknowledge(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(alert_id): Path<i64>,
    JsonBody(body): JsonBody<AcknowledgeRequest>,
) -> Result<Json<Alert>, ApiError> {
    let note = body.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let row = state
        .store
        .acknowledge_alert(&user.viewer(), alert_id, note, state.now_ms())
        .await?
        .map_err(|r| refused(r, alert_id))?;
    state.audit(Some(user.user_id), "alert.acknowledge", row.resident_id, &format!("alert={alert_id}")).await?;
    Ok(Json(named_alert(row, &mut Names::new(&state, &user)).await?))
}

fn staff_only(user: &AuthUser) -> Result<(), ApiError> {
    if user.role == Role::Family { Err(ApiError::Status(StatusCode::FORBIDDEN)) } else { Ok(()) }
}

/// Resolve with a note of what was done (staff only). A later return of the condition opens a
/// new alert.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{alert_id}/resolve",
    tag = "alerts",
    security(("bearer" = [])),
    params(("alert_id" = i64, Path, description = "The alert's id")),
    request_body = ResolveRequest,
    responses(
        (status = 200, description = "The resolved alert", body = Alert),
        (status = 400, description = "The note is empty", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Families cannot resolve alerts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such alert in the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The alert is already resolved", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn resolve(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(alert_id): Path<i64>,
    JsonBody(body): JsonBody<ResolveRequest>,
) -> Result<Json<Alert>, ApiError> {
    let note = body.note.trim();
    if note.is_empty() {
        return Err(ApiError::BadRequest("note: say what was done".into()));
    }
    if state.store.visible_alert(&user.viewer(), alert_id).await?.is_none() {
        return Err(ApiError::NotFound(format!("alert {alert_id} not found")));
    }
    staff_only(&user)?;
    let row = state
        .store
        .resolve_alert(&user.viewer(), alert_id, note, state.now_ms())
        .await?
        .map_err(|r| refused(r, alert_id))?;
    state.audit(Some(user.user_id), "alert.resolve", row.resident_id, &format!("alert={alert_id}")).await?;
    Ok(Json(named_alert(row, &mut Names::new(&state, &user)).await?))
}

/// Snooze reminders and escalation for a while (staff only).
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{alert_id}/snooze",
    tag = "alerts",
    security(("bearer" = [])),
    params(("alert_id" = i64, Path, description = "The alert's id")),
    request_body = SnoozeRequest,
    responses(
        (status = 200, description = "The snoozed alert", body = Alert),
        (status = 400, description = "minutes is not 1 to 1440", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Families cannot snooze alerts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such alert in the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The alert is already resolved", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn snooze(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(alert_id): Path<i64>,
    JsonBody(body): JsonBody<SnoozeRequest>,
) -> Result<Json<Alert>, ApiError> {
    if !(1..=1440).contains(&body.minutes) {
        return Err(ApiError::BadRequest("minutes: expected 1 to 1440".into()));
    }
    if state.store.visible_alert(&user.viewer(), alert_id).await?.is_none() {
        return Err(ApiError::NotFound(format!("alert {alert_id} not found")));
    }
    staff_only(&user)?;
    let now = state.now_ms();
    let row = state
        .store
        .snooze_alert(&user.viewer(), alert_id, now + body.minutes * 60_000, now)
        .await?
        .map_err(|r| refused(r, alert_id))?;
    state.audit(Some(user.user_id), "alert.snooze", row.resident_id, &format!("alert={alert_id}")).await?;
    Ok(Json(named_alert(row, &mut Names::new(&state, &user)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SilenceRequest {
    /// Minutes, 1 to 43200 (30 days).
    pub minutes: i64,
    /// Why, e.g. "in hospital", "charging the devices".
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Silence {
    pub silence_id: i64,
    pub resident_id: i64,
    pub until: String,
    pub reason: String,
}

/// Silence a resident's notifications for a while (a hospital stay, devices charging): alerts
/// still open and show in the inbox, but nobody is notified until the silence ends, when the
/// escalation resumes. Staff only.
#[utoipa::path(
    post,
    path = "/api/v1/residents/{resident_id}/silences",
    tag = "alerts",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id")),
    request_body = SilenceRequest,
    responses(
        (status = 201, description = "The silence", body = Silence),
        (status = 400, description = "minutes is not 1 to 43200, or the reason is empty", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Families cannot silence notifications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resident in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn add_silence(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
    JsonBody(body): JsonBody<SilenceRequest>,
) -> Result<(StatusCode, Json<Silence>), ApiError> {
    if !(1..=43_200).contains(&body.minutes) {
        return Err(ApiError::BadRequest("minutes: expected 1 to 43200".into()));
    }
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::BadRequest("reason: say why".into()));
    }
    if state.store.visible_resident(&user.viewer(), resident_id).await?.is_none() {
        return Err(ApiError::NotFound(format!("resident {resident_id} not found")));
    }
    staff_only(&user)?;
    let now = state.now_ms();
    let until = now + body.minutes * 60_000;
    let silence_id = state.store.add_silence(resident_id, until, reason, Some(user.user_id), now).await?;
    state.audit(Some(user.user_id), "silence.create", Some(resident_id), &format!("until_ms={until}")).await?;
    Ok((
        StatusCode::CREATED,
        Json(Silence { silence_id, resident_id, until: format_ms(until), reason: reason.to_owned() }),
    ))
}
