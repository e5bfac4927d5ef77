//! Care circles: who follows a resident, how they were invited and who consented.
//!
//! Joining takes an invitation (staff in scope or a guardian), consent on the resident's behalf,
//! and the invitee's acceptance; the membership is created by whichever of the last two comes
//! last, in the same transaction. Removing a member deletes the membership row: scope checks read
//! it on every request, so access ends at once.

use serde::Serialize;

use crate::{Dialect, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct CareMember {
    pub user_id: i64,
    pub display_name: String,
    pub relationship: String,
    #[sqlx(try_from = "crate::sql::Flag")]
    pub guardian: bool,
    pub since_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct InvitationRow {
    pub invitation_id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub invitee_id: i64,
    pub invitee_name: String,
    pub relationship: String,
    #[sqlx(try_from = "crate::sql::Flag")]
    pub guardian: bool,
    pub invited_by: i64,
    pub created_ms: i64,
    pub consent_by: Option<i64>,
    pub consent_method: Option<String>,
    pub consent_note: Option<String>,
    pub consent_ms: Option<i64>,
    pub accepted_ms: Option<i64>,
    pub closed_ms: Option<i64>,
    pub status: String,
}

/// A new invitation.
#[derive(Debug, Clone)]
pub struct NewInvitation<'a> {
    pub resident_id: i64,
    pub invitee_id: i64,
    pub relationship: &'a str,
    pub guardian: bool,
    pub invited_by: i64,
}

/// How consent was given on the resident's behalf.
#[derive(Debug, Clone)]
pub struct Consent<'a> {
    pub by: i64,
    /// `guardian` (a guardian gave it through the app), or, recorded by staff:
    /// `resident_in_person`, `resident_written`, `guardian_in_person`, `legal_authority`.
    pub method: &'a str,
    pub note: &'a str,
}

const INVITATION_COLUMNS: &str = "select i.invitation_id, i.resident_id, r.full_name as resident_name, i.invitee_id, \
     u.display_name as invitee_name, i.relationship, i.guardian, i.invited_by, i.created_ms, i.consent_by, \
     i.consent_method, i.consent_note, i.consent_ms, i.accepted_ms, i.closed_ms, i.status \
     from care_invitations i join residents r on r.resident_id = i.resident_id \
     join users u on u.user_id = i.invitee_id";

/// Statuses of an invitation still waiting for something.
const OPEN: &str = "('pending', 'consented', 'accepted')";

impl Store {
    pub async fn care_circle_members(&self, resident_id: i64) -> Result<Vec<CareMember>, StoreError> {
        Ok(sqlx::query_as(
            "select c.user_id, u.display_name, c.relationship, c.guardian, c.created_ms as since_ms \
             from care_circle c join users u on u.user_id = c.user_id where c.resident_id = $1 order by c.user_id",
        )
        .bind(resident_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether `user_id` is in the resident's care circle as a guardian.
    pub async fn is_guardian(&self, user_id: i64, resident_id: i64) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("select 1 from care_circle where user_id = $1 and resident_id = $2 and guardian = 1")
                .bind(user_id)
                .bind(resident_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Makes a family member a guardian (or not) of a resident they already follow.
    pub async fn set_guardian(&self, user_id: i64, resident_id: i64, guardian: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("update care_circle set guardian = $1 where user_id = $2 and resident_id = $3")
            .bind(i64::from(guardian))
            .bind(user_id)
            .bind(resident_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Creates an invitation. [`StoreError::Conflict`] when the invitee already follows the
    /// resident or has an open invitation for them.
    pub async fn create_invitation(&self, new: &NewInvitation<'_>, now_ms: i64) -> Result<InvitationRow, StoreError> {
        let mut tx = self.write_tx().await?;
        if self.dialect == Dialect::Postgres {
            // Serialise invitations and memberships of this resident (the check below reads
            // before the insert writes).
            sqlx::query("select resident_id from residents where resident_id = $1 for no key update")
                .bind(new.resident_id)
                .fetch_optional(&mut *tx)
                .await?;
        }
        let sql = format!(
            "select 1 from care_circle where user_id = $1 and resident_id = $2 union all \
             select 1 from care_invitations where invitee_id = $1 and resident_id = $2 and status in {OPEN}"
        );
        let clash: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(new.invitee_id)
            .bind(new.resident_id)
            .fetch_optional(&mut *tx)
            .await?;
        if clash.is_some() {
            return Err(StoreError::Conflict("a membership or open invitation for this person".into()));
        }
        let id: i64 = sqlx::query_scalar(
            "insert into care_invitations (resident_id, invitee_id, relationship, guardian, invited_by, created_ms) \
             values ($1, $2, $3, $4, $5, $6) returning invitation_id",
        )
        .bind(new.resident_id)
        .bind(new.invitee_id)
        .bind(new.relationship)
        .bind(i64::from(new.guardian))
        .bind(new.invited_by)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.invitation(id).await?.ok_or_else(|| StoreError::NotFound(format!("invitation {id}")))
    }

    pub async fn invitation(&self, invitation_id: i64) -> Result<Option<InvitationRow>, StoreError> {
        let sql = format!("{INVITATION_COLUMNS} where i.invitation_id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(invitation_id).fetch_optional(&self.pool).await?)
    }

    /// Every invitation about a resident, newest first.
    pub async fn invitations_of_resident(&self, resident_id: i64) -> Result<Vec<InvitationRow>, StoreError> {
        let sql = format!("{INVITATION_COLUMNS} where i.resident_id = $1 order by i.invitation_id desc");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(resident_id).fetch_all(&self.pool).await?)
    }

    /// The open invitations addressed to `user_id`, newest first.
    pub async fn invitations_for(&self, user_id: i64) -> Result<Vec<InvitationRow>, StoreError> {
        let sql = format!(
            "{INVITATION_COLUMNS} where i.invitee_id = $1 and i.status in {OPEN} order by i.invitation_id desc"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(&self.pool).await?)
    }

    /// Records consent. `None` when the invitation is not waiting for consent.
    pub async fn record_consent(
        &self,
        invitation_id: i64,
        consent: &Consent<'_>,
        now_ms: i64,
    ) -> Result<Option<InvitationRow>, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "update care_invitations set consent_by = $1, consent_method = $2, consent_note = $3, consent_ms = $4, \
             status = case status when 'accepted' then 'active' else 'consented' end \
             where invitation_id = $5 and status in ('pending', 'accepted')",
        )
        .bind(consent.by)
        .bind(consent.method)
        .bind(consent.note)
        .bind(now_ms)
        .bind(invitation_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        join_if_active(&mut tx, invitation_id, now_ms).await?;
        tx.commit().await?;
        self.invitation(invitation_id).await
    }

    /// The invitee accepts. `None` when the invitation is not theirs or not waiting for them.
    pub async fn accept_invitation(
        &self,
        invitation_id: i64,
        invitee_id: i64,
        now_ms: i64,
    ) -> Result<Option<InvitationRow>, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "update care_invitations set accepted_ms = $1, \
             status = case status when 'consented' then 'active' else 'accepted' end \
             where invitation_id = $2 and invitee_id = $3 and status in ('pending', 'consented')",
        )
        .bind(now_ms)
        .bind(invitation_id)
        .bind(invitee_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        join_if_active(&mut tx, invitation_id, now_ms).await?;
        tx.commit().await?;
        self.invitation(invitation_id).await
    }

    /// Closes an open invitation as `declined` (by the invitee) or `cancelled` (by the inviting
    /// side). `None` when it was not open.
    pub async fn close_invitation(
        &self,
        invitation_id: i64,
        by: i64,
        declined: bool,
        now_ms: i64,
    ) -> Result<Option<InvitationRow>, StoreError> {
        let sql = format!(
            "update care_invitations set status = $1, closed_ms = $2, closed_by = $3 \
             where invitation_id = $4 and status in {OPEN}"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(if declined { "declined" } else { "cancelled" })
            .bind(now_ms)
            .bind(by)
            .bind(invitation_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.invitation(invitation_id).await
    }

    /// Removes a member from a resident's care circle; their access ends with this commit.
    /// Returns whether they were a member.
    pub async fn remove_care_member(
        &self,
        resident_id: i64,
        user_id: i64,
        by: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("delete from care_circle where resident_id = $1 and user_id = $2")
            .bind(resident_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "update care_invitations set status = 'revoked', closed_ms = $1, closed_by = $2 \
             where resident_id = $3 and invitee_id = $4 and status = 'active'",
        )
        .bind(now_ms)
        .bind(by)
        .bind(resident_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Creates the membership of an invitation that has just become active.
async fn join_if_active(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invitation_id: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into care_circle (user_id, resident_id, relationship, created_ms, guardian) \
         select invitee_id, resident_id, relationship, $1, guardian from care_invitations \
         where invitation_id = $2 and status = 'active' \
         on conflict (user_id, resident_id) do update set relationship = excluded.relationship, \
         guardian = excluded.guardian",
    )
    .bind(now_ms)
    .bind(invitation_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
