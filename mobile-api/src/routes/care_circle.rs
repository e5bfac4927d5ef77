//! Care circles: the family members who follow a resident, by invitation and with consent.
//!
//! 1. Staff in scope, or a guardian of the resident, invite a family account (only staff may
//!    invite a guardian: guardianship is a legal fact that staff check).
//! 2. Consent is given on the resident's behalf: by a guardian through the app (method
//!    `guardian`), or recorded by staff in scope who obtained it (`resident_in_person`,
//!    `resident_written`, `guardian_in_person`, `legal_authority`, with a note saying how).
//! 3. The invitee accepts (or declines). Membership starts when both consent and acceptance are
//!    there, in the same transaction as the last of them.
//!
//! Staff in scope, a guardian, or the member themselves can end a membership: access ends with
//! that commit, since every request checks the care circle afresh. Everything is audited.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use eldercare_schema::api::Problem;
use eldercare_store::Role;
use eldercare_store::care_circle::{CareMember, Consent, InvitationRow, NewInvitation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{self, Path};
use crate::params::text;
use crate::rfc3339::format_ms;
use crate::{ApiError, ApiState, AuthUser, scope};

pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/residents/{resident_id}/care-circle", get(list_members))
        .route("/api/v1/residents/{resident_id}/care-circle/{user_id}", put(update_member).delete(remove_member))
        .route("/api/v1/residents/{resident_id}/care-circle/invitations", get(list_invitations).post(invite))
        .route("/api/v1/care-circle/invitations", get(my_invitations))
        .route("/api/v1/care-circle/invitations/{invitation_id}/consent", post(consent))
        .route("/api/v1/care-circle/invitations/{invitation_id}/accept", post(accept))
        .route("/api/v1/care-circle/invitations/{invitation_id}/decline", post(decline))
        .route("/api/v1/care-circle/invitations/{invitation_id}/cancel", post(cancel))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Member {
    user_id: i64,
    display_name: String,
    /// e.g. `son`, `daughter`, `neighbour`.
    relationship: String,
    /// May consent to invitations and read the resident's audit trail.
    guardian: bool,
    #[schema(format = DateTime)]
    since: String,
}

/// How consent was given on the resident's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ConsentMethod {
    /// A guardian of the resident consented through the app.
    Guardian,
    /// Recorded by staff: the resident said yes in person.
    ResidentInPerson,
    /// Recorded by staff: the resident signed a consent form.
    ResidentWritten,
    /// Recorded by staff: a guardian said yes in person.
    GuardianInPerson,
    /// Recorded by staff: a court order or power of attorney.
    LegalAuthority,
}

impl ConsentMethod {
    fn as_str(self) -> &'static str {
        match self {
            ConsentMethod::Guardian => "guardian",
            ConsentMethod::ResidentInPerson => "resident_in_person",
            ConsentMethod::ResidentWritten => "resident_written",
            ConsentMethod::GuardianInPerson => "guardian_in_person",
            ConsentMethod::LegalAuthority => "legal_authority",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InvitationStatus {
    /// Waiting for consent and acceptance.
    Pending,
    /// Consent given; waiting for the invitee.
    Consented,
    /// The invitee accepted; waiting for consent.
    Accepted,
    /// Both: the invitee is a member (or was, until revoked).
    Active,
    Declined,
    Cancelled,
    /// The membership it created has ended.
    Revoked,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConsentRecord {
    method: String,
    /// Who gave it (a guardian) or recorded it (staff).
    by: i64,
    #[schema(format = DateTime)]
    at: String,
    note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Invitation {
    invitation_id: i64,
    resident_id: i64,
    resident_name: String,
    invitee_id: i64,
    invitee_name: String,
    relationship: String,
    guardian: bool,
    invited_by: i64,
    #[schema(format = DateTime)]
    created_at: String,
    status: InvitationStatus,
    consent: Option<ConsentRecord>,
    #[schema(format = DateTime)]
    accepted_at: Option<String>,
    #[schema(format = DateTime)]
    closed_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewInvitationRequest {
    /// The family account to invite.
    #[schema(example = "family2")]
    username: String,
    #[schema(min_length = 1, max_length = 50, example = "daughter")]
    relationship: String,
    /// Invite as a guardian (staff only).
    #[serde(default)]
    guardian: bool,
}

/// A member's standing in the circle.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberUpdate {
    /// Whether the member is the resident's guardian (may consent to invitations and read the
    /// resident's audit trail).
    guardian: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsentRequest {
    method: ConsentMethod,
    /// How and when consent was obtained (required when staff record it).
    #[serde(default)]
    #[schema(max_length = 500)]
    note: String,
}

fn to_member(m: CareMember) -> Result<Member, ApiError> {
    Ok(Member {
        since: format_ms(m.since_ms)?,
        user_id: m.user_id,
        display_name: m.display_name,
        relationship: m.relationship,
        guardian: m.guardian,
    })
}

fn status(s: &str) -> Result<InvitationStatus, ApiError> {
    Ok(match s {
        "pending" => InvitationStatus::Pending,
        "consented" => InvitationStatus::Consented,
        "accepted" => InvitationStatus::Accepted,
        "active" => InvitationStatus::Active,
        "declined" => InvitationStatus::Declined,
        "cancelled" => InvitationStatus::Cancelled,
        "revoked" => InvitationStatus::Revoked,
        other => return Err(ApiError::Internal(format!("stored invitation status {other:?}"))),
    })
}

fn to_invitation(i: InvitationRow) -> Result<Invitation, ApiError> {
    let consent = match (i.consent_method, i.consent_by, i.consent_ms) {
        (Some(method), Some(by), Some(ms)) => {
            Some(ConsentRecord { method, by, at: format_ms(ms)?, note: i.consent_note.unwrap_or_default() })
        }
        _ => None,
    };
    Ok(Invitation {
        status: status(&i.status)?,
        created_at: format_ms(i.created_ms)?,
        accepted_at: i.accepted_ms.map(format_ms).transpose()?,
        closed_at: i.closed_ms.map(format_ms).transpose()?,
        consent,
        invitation_id: i.invitation_id,
        resident_id: i.resident_id,
        resident_name: i.resident_name,
        invitee_id: i.invitee_id,
        invitee_name: i.invitee_name,
        relationship: i.relationship,
        guardian: i.guardian,
        invited_by: i.invited_by,
    })
}

fn invitation_not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("invitation {id} not found"))
}

/// How the caller stands to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Party {
    Invitee,
    /// Staff with the resident in scope.
    Staff,
    Guardian,
}

/// The invitation and the caller's part in it; 404 when the caller has none.
async fn invitation_for(state: &ApiState, user: &AuthUser, id: i64) -> Result<(InvitationRow, Party), ApiError> {
    let Some(inv) = state.store.invitation(id).await? else {
        return Err(invitation_not_found(id));
    };
    let party = if inv.invitee_id == user.user_id {
        Some(Party::Invitee)
    } else if scope::is_staff(user) {
        state.store.visible_resident(&user.viewer(), inv.resident_id).await?.map(|_| Party::Staff)
    } else if state.store.is_guardian(user.user_id, inv.resident_id).await? {
        Some(Party::Guardian)
    } else {
        None
    };
    match party {
        Some(p) => Ok((inv, p)),
        None => Err(invitation_not_found(id)),
    }
}

/// Who follows a resident (anyone who may see the resident).
#[utoipa::path(
    get,
    path = "/api/v1/residents/{resident_id}/care-circle",
    tag = "care circle",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id")),
    responses(
        (status = 200, description = "The members", body = Vec<Member>),
        (status = 404, description = "No such resident in the caller's scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_members(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
) -> Result<Json<Vec<Member>>, ApiError> {
    scope::visible_resident(&state, &user, resident_id).await?;
    let members = state.store.care_circle_members(resident_id).await?;
    state.audit(Some(user.user_id), "care_circle.read", Some(resident_id), "").await?;
    Ok(Json(members.into_iter().map(to_member).collect::<Result<_, _>>()?))
}

/// Ends a membership: staff in scope, a guardian of the resident, or the member themselves.
/// The member loses access at once.
#[utoipa::path(
    delete,
    path = "/api/v1/residents/{resident_id}/care-circle/{user_id}",
    tag = "care circle",
    security(("bearer" = [])),
    params(
        ("resident_id" = i64, Path, description = "The resident's id"),
        ("user_id" = i64, Path, description = "The member's account id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such resident or member in the caller's reach", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn remove_member(
    State(state): State<ApiState>,
    user: AuthUser,
    Path((resident_id, member_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    if member_id == user.user_id {
        scope::visible_resident(&state, &user, resident_id).await?;
    } else {
        scope::resident_for_guardian_or_staff(&state, &user, resident_id).await?;
    }
    if !state.store.remove_care_member(resident_id, member_id, user.user_id, state.now_ms()).await? {
        return Err(ApiError::NotFound(format!("member {member_id} not found")));
    }
    state.audit(Some(user.user_id), "care_circle.remove", Some(resident_id), &format!("member={member_id}")).await?;
    tracing::info!(resident_id, member_id, by = user.user_id, "care circle membership ended");
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a member the resident's guardian, or no longer (staff in scope only: guardianship is a
/// legal fact that staff check, e.g. a court order or a power of attorney).
#[utoipa::path(
    put,
    path = "/api/v1/residents/{resident_id}/care-circle/{user_id}",
    tag = "care circle",
    security(("bearer" = [])),
    params(
        ("resident_id" = i64, Path, description = "The resident's id"),
        ("user_id" = i64, Path, description = "The member's account id"),
    ),
    request_body = MemberUpdate,
    responses(
        (status = 200, description = "The member as updated", body = Member),
        (status = 404, description = "No such resident or member in the caller's scope, or the caller is not staff", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn update_member(
    State(state): State<ApiState>,
    user: AuthUser,
    Path((resident_id, member_id)): Path<(i64, i64)>,
    extract::Json(req): extract::Json<MemberUpdate>,
) -> Result<Json<Member>, ApiError> {
    scope::managed_resident(&state, &user, resident_id).await?;
    let not_member = || ApiError::NotFound(format!("member {member_id} not found"));
    if !state.store.set_guardian(member_id, resident_id, req.guardian).await? {
        return Err(not_member());
    }
    let detail = format!("member={member_id} guardian={}", req.guardian);
    state.audit(Some(user.user_id), "care_circle.guardian", Some(resident_id), &detail).await?;
    let members = state.store.care_circle_members(resident_id).await?;
    let member = members.into_iter().find(|m| m.user_id == member_id).ok_or_else(not_member)?;
    Ok(Json(to_member(member)?))
}

/// Every invitation about a resident, newest first (staff in scope and guardians).
#[utoipa::path(
    get,
    path = "/api/v1/residents/{resident_id}/care-circle/invitations",
    tag = "care circle",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id")),
    responses(
        (status = 200, description = "The invitations", body = Vec<Invitation>),
        (status = 404, description = "No such resident in the caller's scope, or the caller is neither staff nor guardian", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_invitations(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
) -> Result<Json<Vec<Invitation>>, ApiError> {
    scope::resident_for_guardian_or_staff(&state, &user, resident_id).await?;
    let rows = state.store.invitations_of_resident(resident_id).await?;
    state.audit(Some(user.user_id), "care_circle.invitations.read", Some(resident_id), "").await?;
    Ok(Json(rows.into_iter().map(to_invitation).collect::<Result<_, _>>()?))
}

/// Invites a family account into a resident's care circle (staff in scope and guardians; only
/// staff may invite a guardian).
#[utoipa::path(
    post,
    path = "/api/v1/residents/{resident_id}/care-circle/invitations",
    tag = "care circle",
    security(("bearer" = [])),
    params(("resident_id" = i64, Path, description = "The resident's id")),
    request_body = NewInvitationRequest,
    responses(
        (status = 201, description = "Invited; waiting for consent and acceptance", body = Invitation),
        (status = 404, description = "No such resident in the caller's reach, or no such family account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member, or already invited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn invite(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(resident_id): Path<i64>,
    extract::Json(req): extract::Json<NewInvitationRequest>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let relationship = text("relationship", &req.relationship, 50)?;
    scope::resident_for_guardian_or_staff(&state, &user, resident_id).await?;
    if req.guardian && !scope::is_staff(&user) {
        return Err(ApiError::Unprocessable("guardian: only staff may invite a guardian".into()));
    }
    let invitee = match state.store.user_by_username(&req.username).await? {
        Some(u) if u.role == Role::Family => u,
        _ => return Err(ApiError::NotFound(format!("no family account named {:?}", req.username))),
    };
    let new = NewInvitation {
        resident_id,
        invitee_id: invitee.user_id,
        relationship: &relationship,
        guardian: req.guardian,
        invited_by: user.user_id,
    };
    let row = state.store.create_invitation(&new, state.now_ms()).await?;
    let detail = format!("invitation={} invitee={} guardian={}", row.invitation_id, invitee.user_id, req.guardian);
    state.audit(Some(user.user_id), "care_circle.invite", Some(resident_id), &detail).await?;
    Ok((StatusCode::CREATED, Json(to_invitation(row)?)))
}

/// The open invitations addressed to the caller.
#[utoipa::path(
    get,
    path = "/api/v1/care-circle/invitations",
    tag = "care circle",
    security(("bearer" = [])),
    responses((status = 200, description = "Open invitations to the caller, newest first", body = Vec<Invitation>))
)]
pub(crate) async fn my_invitations(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<Json<Vec<Invitation>>, ApiError> {
    let rows = state.store.invitations_for(user.user_id).await?;
    Ok(Json(rows.into_iter().map(to_invitation).collect::<Result<_, _>>()?))
}

/// Gives consent on the resident's behalf (a guardian, method `guardian`) or records consent
/// obtained otherwise (staff in scope, any other method, with a note).
#[utoipa::path(
    post,
    path = "/api/v1/care-circle/invitations/{invitation_id}/consent",
    tag = "care circle",
    security(("bearer" = [])),
    params(("invitation_id" = i64, Path, description = "The invitation's id")),
    request_body = ConsentRequest,
    responses(
        (status = 200, description = "Consent recorded; active if the invitee had accepted", body = Invitation),
        (status = 404, description = "No such invitation the caller may consent to", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The invitation is not waiting for consent", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A method the caller may not use, or a missing note", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn consent(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(invitation_id): Path<i64>,
    extract::Json(req): extract::Json<ConsentRequest>,
) -> Result<Json<Invitation>, ApiError> {
    let (inv, party) = invitation_for(&state, &user, invitation_id).await?;
    let note = req.note.trim();
    match party {
        Party::Invitee => return Err(invitation_not_found(invitation_id)),
        Party::Guardian if req.method != ConsentMethod::Guardian => {
            return Err(ApiError::Unprocessable("method: a guardian consents with method guardian".into()));
        }
        Party::Staff if req.method == ConsentMethod::Guardian => {
            return Err(ApiError::Unprocessable("method: staff record how consent was obtained".into()));
        }
        Party::Staff if note.is_empty() => {
            return Err(ApiError::Unprocessable("note: say how and when consent was obtained".into()));
        }
        _ => {}
    }
    let note = if note.is_empty() { String::new() } else { text("note", note, 500)? };
    let c = Consent { by: user.user_id, method: req.method.as_str(), note: &note };
    let Some(row) = state.store.record_consent(invitation_id, &c, state.now_ms()).await? else {
        return Err(ApiError::Conflict(format!("invitation {invitation_id} is not waiting for consent")));
    };
    let detail = format!("invitation={invitation_id} method={} status={}", c.method, row.status);
    state.audit(Some(user.user_id), "care_circle.consent", Some(inv.resident_id), &detail).await?;
    Ok(Json(to_invitation(row)?))
}

/// The invitee accepts; active if consent had been given.
#[utoipa::path(
    post,
    path = "/api/v1/care-circle/invitations/{invitation_id}/accept",
    tag = "care circle",
    security(("bearer" = [])),
    params(("invitation_id" = i64, Path, description = "The invitation's id")),
    responses(
        (status = 200, description = "Accepted", body = Invitation),
        (status = 404, description = "No such invitation to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The invitation is not waiting for the invitee", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn accept(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(invitation_id): Path<i64>,
) -> Result<Json<Invitation>, ApiError> {
    let (inv, party) = invitation_for(&state, &user, invitation_id).await?;
    if party != Party::Invitee {
        return Err(invitation_not_found(invitation_id));
    }
    let Some(row) = state.store.accept_invitation(invitation_id, user.user_id, state.now_ms()).await? else {
        return Err(ApiError::Conflict(format!("invitation {invitation_id} is not waiting for acceptance")));
    };
    let detail = format!("invitation={invitation_id} status={}", row.status);
    state.audit(Some(user.user_id), "care_circle.accept", Some(inv.resident_id), &detail).await?;
    Ok(Json(to_invitation(row)?))
}

/// The invitee declines.
#[utoipa::path(
    post,
    path = "/api/v1/care-circle/invitations/{invitation_id}/decline",
    tag = "care circle",
    security(("bearer" = [])),
    params(("invitation_id" = i64, Path, description = "The invitation's id")),
    responses(
        (status = 200, description = "Declined", body = Invitation),
        (status = 404, description = "No such invitation to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The invitation is no longer open", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn decline(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(invitation_id): Path<i64>,
) -> Result<Json<Invitation>, ApiError> {
    close(state, user, invitation_id, true).await
}

/// The inviting side (staff in scope, a guardian) withdraws an open invitation.
#[utoipa::path(
    post,
    path = "/api/v1/care-circle/invitations/{invitation_id}/cancel",
    tag = "care circle",
    security(("bearer" = [])),
    params(("invitation_id" = i64, Path, description = "The invitation's id")),
    responses(
        (status = 200, description = "Cancelled", body = Invitation),
        (status = 404, description = "No such invitation the caller may cancel", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The invitation is no longer open", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn cancel(
    State(state): State<ApiState>,
    user: AuthUser,
    Path(invitation_id): Path<i64>,
) -> Result<Json<Invitation>, ApiError> {
    close(state, user, invitation_id, false).await
}

async fn close(
    state: ApiState,
    user: AuthUser,
    invitation_id: i64,
    declined: bool,
) -> Result<Json<Invitation>, ApiError> {
    let (inv, party) = invitation_for(&state, &user, invitation_id).await?;
    if (party == Party::Invitee) != declined {
        return Err(invitation_not_found(invitation_id));
    }
    let Some(row) = state.store.close_invitation(invitation_id, user.user_id, declined, state.now_ms()).await? else {
        return Err(ApiError::Conflict(format!("invitation {invitation_id} is no longer open")));
    };
    let action = if declined { "care_circle.decline" } else { "care_circle.cancel" };
    state.audit(Some(user.user_id), action, Some(inv.resident_id), &format!("invitation={invitation_id}")).await?;
    Ok(Json(to_invitation(row)?))
}
