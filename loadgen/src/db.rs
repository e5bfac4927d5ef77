//! Direct database access of the load generator: the exactly-once check and the raw-write
//! baseline. SQLite (`sqlite:`) and PostgreSQL (`postgres://`), chosen by the URL.
//!
//! The check reads the `readings` table (`gateway_id`, `device_id`, `seq`, keyed on the three).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, QueryBuilder, Row};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL {0:?} is neither sqlite:... nor postgres://...")]
    Scheme(String),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// What is stored for one gateway's readings of this run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub rows: i64,
    pub distinct: i64,
    pub min_seq: i64,
    pub max_seq: i64,
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30));
            Ok(Db::Sqlite(SqlitePoolOptions::new().max_connections(2).connect_with(opts).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Db::Postgres(PgPoolOptions::new().max_connections(2).connect(url).await?))
        } else {
            Err(DbError::Scheme(url.to_owned()))
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Stored readings with `seq >= seq_base` per gateway whose id starts with `prefix-`.
    pub async fn stored(&self, prefix: &str, seq_base: u64) -> Result<HashMap<String, Stored>, DbError> {
        // A range on the key's first column, so the primary-key index serves it.
        let (lo, hi) = (format!("{prefix}-"), format!("{prefix}."));
        let base = seq_base as i64;
        let rows: Vec<(String, i64, i64, i64, i64)> = match self {
            Db::Sqlite(p) => sqlx::query_as(
                "select gateway_id, count(*), count(distinct device_id || ':' || seq), min(seq), max(seq) \
                 from readings where gateway_id >= ? and gateway_id < ? and seq >= ? group by gateway_id",
            )
            .bind(&lo)
            .bind(&hi)
            .bind(base)
            .fetch_all(p)
            .await?,
            Db::Postgres(p) => sqlx::query_as(
                "select gateway_id::text, count(*), count(distinct (device_id, seq)), min(seq)::bigint, max(seq)::bigint \
                 from readings where gateway_id >= $1 and gateway_id < $2 and seq >= $3 group by gateway_id",
            )
            .bind(&lo)
            .bind(&hi)
            .bind(base)
            .fetch_all(p)
            .await?,
        };
        Ok(rows
            .into_iter()
            .map(|(g, rows, distinct, min_seq, max_seq)| (g, Stored { rows, distinct, min_seq, max_seq }))
            .collect())
    }

    /// The alerts of a resident as (condition, status), oldest first.
    pub async fn alerts_of(&self, resident_id: i64) -> Result<Vec<(String, String)>, DbError> {
        Ok(match self {
            Db::Sqlite(p) => {
                sqlx::query_as("select condition, status from alerts where resident_id = ? order by alert_id")
                    .bind(resident_id)
                    .fetch_all(p)
                    .await?
            }
            Db::Postgres(p) => {
                sqlx::query_as("select condition, status from alerts where resident_id = $1 order by alert_id")
                    .bind(resident_id)
                    .fetch_all(p)
                    .await?
            }
        })
    }

    /// The resident who wears `device_id`.
    pub async fn resident_of_device(&self, device_id: &str) -> Result<Option<i64>, DbError> {
        Ok(match self {
            Db::Sqlite(p) => {
                sqlx::query_scalar("select resident_id from devices where device_id = ?")
                    .bind(device_id)
                    .fetch_optional(p)
                    .await?
            }
            Db::Postgres(p) => {
                sqlx::query_scalar("select resident_id from devices where device_id = $1")
                    .bind(device_id)
                    .fetch_optional(p)
                    .await?
            }
        })
    }

    /// The raw-write baseline: `rows` readings-shaped rows into a scratch table with the same
    /// key, as fast as this database takes them with nothing else around them. PostgreSQL:
    /// `COPY ... FROM STDIN` in chunks of 10,000 rows; SQLite: multi-row INSERTs of 500 rows
    /// in one transaction. Returns rows per second. The table is dropped afterwards.
    pub async fn raw_write_baseline(&self, rows: u64) -> Result<f64, DbError> {
        let table = format!("loadgen_baseline_{}", std::process::id());
        let create = format!(
            "create table {table} (gateway_id text not null, device_id text not null, seq bigint not null, \
             resident_id bigint not null, metric text not null, value double precision not null, \
             measured_ms bigint not null, received_ms bigint not null, time_source text not null, \
             primary key (gateway_id, device_id, seq))"
        );
        let drop = format!("drop table if exists {table}");
        let now = crate::now_ms();
        let elapsed = match self {
            Db::Sqlite(p) => {
                sqlx::query(AssertSqlSafe(drop.clone())).execute(p).await?;
                sqlx::query(AssertSqlSafe(create)).execute(p).await?;
                let t = Instant::now();
                let mut tx = p.begin().await?;
                let mut done = 0u64;
                while done < rows {
                    let n = (rows - done).min(500);
                    let mut q = QueryBuilder::new(format!(
                        "insert into {table} (gateway_id, device_id, seq, resident_id, metric, value, measured_ms, received_ms, time_source) "
                    ));
                    q.push_values(done..done + n, |mut b, i| {
                        b.push_bind(format!("base-g{}", i % 1000))
                            .push_bind(format!("base-g{}-r0-hr", i % 1000))
                            .push_bind(i as i64)
                            .push_bind((i % 1000) as i64)
                            .push_bind("heart_rate")
                            .push_bind(72.0)
                            .push_bind(now)
                            .push_bind(now)
                            .push_bind("device");
                    });
                    q.push(" on conflict do nothing");
                    q.build().execute(&mut *tx).await?;
                    done += n;
                }
                tx.commit().await?;
                let e = t.elapsed();
                sqlx::query(AssertSqlSafe(drop)).execute(p).await?;
                e
            }
            Db::Postgres(p) => {
                sqlx::query(AssertSqlSafe(drop.clone())).execute(p).await?;
                sqlx::query(AssertSqlSafe(create)).execute(p).await?;
                let mut conn = p.acquire().await?;
                let t = Instant::now();
                let mut done = 0u64;
                while done < rows {
                    let n = (rows - done).min(10_000);
                    let mut text = String::with_capacity(n as usize * 80);
                    for i in done..done + n {
                        use std::fmt::Write;
                        let _ = writeln!(
                            text,
                            "base-g{g}\tbase-g{g}-r0-hr\t{i}\t{g}\theart_rate\t72\t{now}\t{now}\tdevice",
                            g = i % 1000
                        );
                    }
                    let mut copy = conn
                        .copy_in_raw(&format!(
                            "copy {table} (gateway_id, device_id, seq, resident_id, metric, value, measured_ms, received_ms, time_source) from stdin"
                        ))
                        .await?;
                    copy.send(text.into_bytes()).await?;
                    copy.finish().await?;
                    done += n;
                }
                let e = t.elapsed();
                drop_conn(conn);
                sqlx::query(AssertSqlSafe(drop)).execute(p).await?;
                e
            }
        };
        Ok(rows as f64 / elapsed.as_secs_f64().max(1e-9))
    }

    /// Bytes the readings table takes, indexes included (PostgreSQL only; SQLite cannot say
    /// per table without the dbstat extension).
    pub async fn readings_bytes(&self) -> Result<Option<i64>, DbError> {
        match self {
            Db::Sqlite(_) => Ok(None),
            Db::Postgres(p) => {
                // A partitioned table's size is the sum of its partitions'.
                let row = sqlx::query(
                    "select (pg_total_relation_size('readings') + coalesce((select sum(pg_total_relation_size(inhrelid)) \
                     from pg_inherits where inhparent = 'readings'::regclass), 0))::bigint",
                )
                .fetch_one(p)
                .await?;
                Ok(Some(row.try_get(0)?))
            }
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

fn drop_conn<T>(c: T) {
    drop(c)
}
