use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid value: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Maps a unique-key violation to [`StoreError::Conflict`] naming `what`.
    pub(crate) fn conflict_on_unique(e: sqlx::Error, what: impl Into<String>) -> StoreError {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.into()),
            _ => StoreError::Db(e),
        }
    }
}
