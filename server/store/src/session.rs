//! Sessions (families of rotating refresh tokens), password changes and failed-login throttling.
//!
//! Refresh tokens arrive here already hashed (SHA-256); the token itself only ever lives on the
//! client.

use crate::{Role, Store, StoreError, UserRecord};

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    /// A refresh token of the session was presented a second time.
    Reuse,
    PasswordChange,
    Admin,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Logout => "logout",
            RevokeReason::Reuse => "reuse",
            RevokeReason::PasswordChange => "password_change",
            RevokeReason::Admin => "admin",
        }
    }
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was valid: it is now spent and the new one (same session) is stored.
    Rotated { user_id: i64, session_id: i64 },
    /// The token had been used before: its whole session is now revoked.
    Reused { user_id: i64, session_id: i64 },
    /// Unknown, expired, or of a session that has ended.
    Invalid,
}

/// Limits on failed logins for one throttle key (an account name or a client address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures counted within this window...
    pub window_ms: i64,
    /// ...lock the key once they reach this many...
    pub max_failures: i64,
    /// ...for this long.
    pub lock_ms: i64,
}

type UserTuple = (i64, String, String, String, String);

impl Store {
    /// Starts a session for `user_id` with its first refresh token; returns the session id.
    pub async fn start_session(
        &self,
        user_id: i64,
        refresh_hash: &str,
        refresh_expires_ms: i64,
        now_ms: i64,
        client_ip: Option<&str>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write_tx().await?;
        let session_id: i64 = sqlx::query_scalar(
            "insert into sessions (user_id, created_ms, last_used_ms, client_ip) values ($1, $2, $3, $4) \
             returning session_id",
        )
        .bind(user_id)
        .bind(now_ms)
        .bind(now_ms)
        .bind(client_ip)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("insert into refresh_tokens (token_hash, user_id, expires_ms, session_id) values ($1, $2, $3, $4)")
            .bind(refresh_hash)
            .bind(user_id)
            .bind(refresh_expires_ms)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(session_id)
    }

    /// Spends the refresh token `old_hash` and stores `new_hash` in its session, or, if it was
    /// spent before, revokes the session. One transaction: of two concurrent uses of one token,
    /// exactly one rotates.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_expires_ms: i64,
        now_ms: i64,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.write_tx().await?;
        let spent: Option<(i64, i64)> = sqlx::query_as(
            "update refresh_tokens set used = 1 where token_hash = $1 and used = 0 and expires_ms > $2 \
             and session_id in (select session_id from sessions where revoked_ms is null) \
             returning user_id, session_id",
        )
        .bind(old_hash)
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((user_id, session_id)) = spent {
            sqlx::query(
                "insert into refresh_tokens (token_hash, user_id, expires_ms, session_id) values ($1, $2, $3, $4)",
            )
            .bind(new_hash)
            .bind(user_id)
            .bind(new_expires_ms)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("update sessions set last_used_ms = $1 where session_id = $2")
                .bind(now_ms)
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated { user_id, session_id });
        }
        let known: Option<(i64, Option<i64>, i64)> =
            sqlx::query_as("select user_id, session_id, used from refresh_tokens where token_hash = $1")
                .bind(old_hash)
                .fetch_optional(&mut *tx)
                .await?;
        let outcome = match known {
            Some((user_id, Some(session_id), 1)) => {
                revoke(&mut tx, session_id, RevokeReason::Reuse, now_ms).await?;
                Rotation::Reused { user_id, session_id }
            }
            _ => Rotation::Invalid,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// The account behind an access token, if its session is still open.
    pub async fn user_in_session(&self, user_id: i64, session_id: i64) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserTuple> = sqlx::query_as(
            "select u.user_id, u.username, u.password_hash, u.role, u.display_name from users u \
             join sessions s on s.user_id = u.user_id \
             where u.user_id = $1 and s.session_id = $2 and s.revoked_ms is null",
        )
        .bind(user_id)
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(user_id, username, password_hash, role, display_name)| {
            Ok(UserRecord { user_id, username, password_hash, role: Role::parse(&role)?, display_name })
        })
        .transpose()
    }

    /// Ends a session (if still open): its refresh tokens and access tokens stop working.
    pub async fn revoke_session(&self, session_id: i64, reason: RevokeReason, now_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = revoke(&mut tx, session_id, reason, now_ms).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Replaces a password hash and ends every other open session of the account; returns how
    /// many sessions ended.
    pub async fn change_password(
        &self,
        user_id: i64,
        password_hash: &str,
        keep_session: Option<i64>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("update users set password_hash = $1, password_changed_ms = $2 where user_id = $3")
            .bind(password_hash)
            .bind(now_ms)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let ended = sqlx::query(
            "update sessions set revoked_ms = $1, revoked_reason = 'password_change' \
             where user_id = $2 and revoked_ms is null and session_id is distinct from $3",
        )
        .bind(now_ms)
        .bind(user_id)
        .bind(keep_session)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(ended)
    }

    /// Open sessions of an account: (session_id, created_ms, last_used_ms).
    pub async fn open_sessions(&self, user_id: i64) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "select session_id, created_ms, last_used_ms from sessions \
             where user_id = $1 and revoked_ms is null order by session_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Until when `key` is locked out at `now_ms`, if it is.
    pub async fn login_locked_until(&self, key: &str, now_ms: i64) -> Result<Option<i64>, StoreError> {
        let until: Option<Option<i64>> =
            sqlx::query_scalar("select locked_until_ms from login_failures where throttle_key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(until.flatten().filter(|&u| u > now_ms))
    }

    /// Counts a failed login against `key`; returns until when it is now locked, if it is.
    pub async fn record_login_failure(
        &self,
        key: &str,
        policy: ThrottlePolicy,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        // A window that has passed starts again at one failure; a lock that has passed is lifted.
        let (failures, locked): (i64, Option<i64>) = sqlx::query_as(
            "insert into login_failures (throttle_key, failures, window_start_ms) values ($1, 1, $2) \
             on conflict (throttle_key) do update set \
               failures = case when login_failures.window_start_ms + $3 <= $2 then 1 \
                 else login_failures.failures + 1 end, \
               window_start_ms = case when login_failures.window_start_ms + $3 <= $2 then $2 \
                 else login_failures.window_start_ms end, \
               locked_until_ms = case when login_failures.locked_until_ms > $2 \
                 then login_failures.locked_until_ms else null end \
             returning failures, locked_until_ms",
        )
        .bind(key)
        .bind(now_ms)
        .bind(policy.window_ms)
        .fetch_one(&self.pool)
        .await?;
        if locked.is_some() || failures < policy.max_failures {
            return Ok(locked);
        }
        let until = now_ms + policy.lock_ms;
        sqlx::query(
            "update login_failures set locked_until_ms = $1, failures = 0, window_start_ms = $2 where throttle_key = $3",
        )
        .bind(until)
        .bind(now_ms)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(Some(until))
    }

    /// Forgets the failures of `key` (after a successful login).
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("delete from login_failures where throttle_key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }
}

async fn revoke(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    session_id: i64,
    reason: RevokeReason,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update sessions set revoked_ms = $1, revoked_reason = $2 where session_id = $3 and revoked_ms is null",
    )
    .bind(now_ms)
    .bind(reason.as_str())
    .bind(session_id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
