//! Accounts and refresh tokens (stored hashed; the API hashes them before they get here).

use crate::{Role, Store, StoreError, UserRecord};

type UserTuple = (i64, String, String, String, String);

fn to_record((user_id, username, password_hash, role, display_name): UserTuple) -> Result<UserRecord, StoreError> {
    Ok(UserRecord { user_id, username, password_hash, role: Role::parse(&role)?, display_name })
}

impl Store {
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserTuple> = sqlx::query_as(
            "select user_id, username, password_hash, role, display_name from users where username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.map(to_record).transpose()
    }

    pub async fn user_by_id(&self, user_id: i64) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserTuple> =
            sqlx::query_as("select user_id, username, password_hash, role, display_name from users where user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(to_record).transpose()
    }

    pub async fn save_refresh_token(&self, token_hash: &str, user_id: i64, expires_ms: i64) -> Result<(), StoreError> {
        sqlx::query("insert into refresh_tokens (token_hash, user_id, expires_ms) values ($1, $2, $3)")
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a refresh token used and returns its user, if it was valid, unused and unexpired at
    /// `now_ms`. A token can be used once: rotation issues a new one.
    pub async fn use_refresh_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "update refresh_tokens set used = 1 where token_hash = $1 and used = 0 and expires_ms > $2 \
             returning user_id",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?)
    }
}
