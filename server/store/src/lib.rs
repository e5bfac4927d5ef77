//! Storage of eldercare through `sqlx`: the organisation tree, residents, users and their scopes,
//! gateways and devices, readings (idempotent on their source identity), the newest value per
//! vital, dead letters, refresh tokens and the audit log.
//!
//! Two backends run the same SQL through sqlx's `Any` driver (see `README.md`): SQLite, the
//! embedded default (WAL, `synchronous=FULL`: a commit survives power loss, which is what lets
//! ingest acknowledge a reading to its gateway), and PostgreSQL, for several server instances
//! sharing one database. Storage never knows about HTTP.

mod account;
pub mod admin;
pub mod alerts;
mod audit;
pub mod audit_trail;
mod auth;
pub mod binding;
pub mod care_circle;
mod contacts;
mod error;
pub mod escalation;
mod feed;
pub mod fhir;
mod ingest;
mod latest;
mod model;
mod names;
pub mod org;
pub mod org_zones;
mod query;
pub mod retention;
pub mod rollup;
pub mod rule_state;
pub mod session;
mod sql;
pub mod stats;
pub mod thresholds;
mod tx;
pub mod vitals;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

pub use error::StoreError;
pub use ingest::{DeadLetter, IngestOutcome, NewReading};
pub use model::{DeviceRow, ResidentRow, Role, UserRecord, Viewer, VitalRow};
pub use sql::Dialect;
pub use tx::{LAST_CONTACT_STEP_MS, Raised, RuleRow, StoreTx, Subject};

/// The handle every part shares; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// How far the live feeds may read (PostgreSQL only, see `feed.rs`).
    horizons: Arc<Mutex<feed::Horizons>>,
    /// SQLite: the write transactions of [`Store::begin`] take turns here before asking for
    /// the database's write lock (see `tx.rs`).
    write_turn: Arc<tokio::sync::Mutex<()>>,
    /// The devices' last contact as this process last stored it (see `contacts.rs`).
    contacts: contacts::Contacts,
}

/// Connections of a PostgreSQL pool (each API request and the ingest workers take one).
const PG_POOL_SIZE: u32 = 16;
/// Connections of a SQLite pool (one writer at a time anyway; readers run in parallel in WAL).
const SQLITE_POOL_SIZE: u32 = 8;

impl Store {
    /// Opens the database at `url` and brings its schema up to date:
    /// `sqlite:path/to/file.db` (created if missing; WAL, `synchronous=FULL`, foreign keys, a
    /// busy timeout of 10 s) or `postgres://user@host:port/database` (the database must exist;
    /// commits are durable when acknowledged as long as the server keeps `synchronous_commit`
    /// on, its default).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            return Err(StoreError::Config(format!(
                "database url {:?}: expected sqlite:<path> or postgres://...",
                redact(url)
            )));
        };
        let pool = match dialect {
            Dialect::Sqlite => {
                // Create the file if missing unless the URL says otherwise.
                let url = if url.contains("mode=") {
                    url.to_owned()
                } else if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                };
                AnyPoolOptions::new()
                    .max_connections(SQLITE_POOL_SIZE)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // The busy timeout first: switching to WAL may have to wait for a lock.
                            for pragma in [
                                "pragma busy_timeout = 10000",
                                "pragma journal_mode = wal",
                                "pragma synchronous = full",
                                "pragma foreign_keys = on",
                                // Checkpoints are meant to run beside the writer
                                // (`Store::checkpoint`, which the server calls every second).
                                // This is the fallback for tools that do not: a commit that
                                // finds the WAL past ~40 MB copies it back itself, a stall of
                                // tens of milliseconds that ingest should not pay every ~4 MB.
                                "pragma wal_autocheckpoint = 10000",
                                // 16 MiB of page cache per connection (the default is 2 MiB):
                                // the readings indexes' upper levels stay in memory.
                                "pragma cache_size = -16384",
                            ] {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
            }
            Dialect::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(PG_POOL_SIZE)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await
            }
        }
        .map_err(|e| StoreError::Config(format!("database {}: {e}", redact(url))))?;
        match dialect {
            Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Store {
            pool,
            dialect,
            horizons: Default::default(),
            write_turn: Default::default(),
            contacts: Default::default(),
        })
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    /// SQLite: copies what the write-ahead log holds back into the database without waiting
    /// for readers or blocking the writer (a passive checkpoint), so that commits do not have
    /// to; returns the log's size in pages. PostgreSQL checkpoints by itself: nothing to do.
    pub async fn checkpoint(&self) -> Result<i64, StoreError> {
        match self.dialect {
            Dialect::Sqlite => {
                let (_busy, log, _done): (i64, i64, i64) =
                    sqlx::query_as("pragma wal_checkpoint(passive)").fetch_one(&self.pool).await?;
                Ok(log)
            }
            Dialect::Postgres => Ok(0),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A database setting as text (`pragma <name>` on SQLite, `show <name>` on PostgreSQL), for
    /// checks and diagnostics. `name` must be a plain identifier.
    pub async fn setting(&self, name: &str) -> Result<String, StoreError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(StoreError::Invalid(format!("setting name {name:?}")));
        }
        let sql = match self.dialect {
            Dialect::Sqlite => format!("pragma {name}"),
            Dialect::Postgres => format!("select current_setting('{name}')"),
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(&self.pool).await?;
        match row.try_get::<String, _>(0) {
            Ok(s) => Ok(s),
            Err(_) => Ok(row.try_get::<i64, _>(0)?.to_string()),
        }
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
