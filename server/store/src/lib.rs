//! Storage of eldercare through `sqlx`: the organisation tree, residents, users and their scopes,
//! gateways and devices, readings (idempotent on their source identity), the newest value per
//! vital, dead letters, refresh tokens and the audit log.
//!
//! SQLite is the embedded default (WAL, `synchronous=FULL`: a commit survives power loss, which
//! is what lets ingest acknowledge a reading to its gateway). Storage never knows about HTTP.

mod account;
pub mod admin;
pub mod alerts;
mod audit;
pub mod audit_trail;
mod auth;
pub mod binding;
pub mod care_circle;
mod error;
pub mod escalation;
pub mod fhir;
mod ingest;
mod model;
pub mod org;
mod query;
pub mod session;
pub mod stats;
pub mod thresholds;
mod tx;
pub mod vitals;

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use error::StoreError;
pub use ingest::{DeadLetter, IngestOutcome, NewReading};
pub use model::{DeviceRow, ResidentRow, Role, UserRecord, Viewer, VitalRow};
pub use tx::{Raised, StoreTx, Subject};

/// The handle every part shares; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database at `url` (`sqlite:path/to/file.db`) and brings its
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("database url {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.map_err(StoreError::Db)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Store { pool })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
