//! Rollups of readings: count, sum, min and max per resident, metric and minute / hour / day
//! (`readings_rollup`, migration 0004). Rollup queries whose bucket is a multiple of a stored
//! span read the table for whole buckets measured before the *safe time*, and raw readings for
//! the rest, so they keep working after raw readings are purged.
//!
//! # Who writes them
//!
//! A reading is *late* when it was measured more than [`LATE_MS`] before it was received (a
//! gateway uploading what it kept while offline). Ingest adds late readings in its own
//! transaction. All others are added by the *follower* ([`Store::roll_up`], run by the server
//! every minute), which reads the readings stored since its last pass by position and adds them
//! with one upsert per resident, metric and bucket: at district scale ingest's three upserts per
//! reading (one per span) were a quarter of the database's time. Both decide lateness from the
//! stored row (`measured_ms < received_ms - LATE_MS`), so each reading is added exactly once.
//!
//! # The safe time
//!
//! The cursor (`rollup_cursor`, migration 0007) holds the follower's position (every reading at
//! or below it is added) and its *announced* time: ingest stores no reading with a received time
//! below the announcement (it raises the time to it, in the statement that inserts). A reading
//! the follower has not added yet is above its position and not late, so it was measured at or
//! after `announced - LATE_MS` if it read that announcement. The follower makes sure it did:
//!
//! 1. it raises the announcement to its clock minus [`ANNOUNCE_BEHIND_MS`] and commits;
//! 2. it takes a transaction id and waits until every transaction begun before it has ended
//!    (a snapshot's `xmin` reaches it, as in `feed.rs`): any transaction still inserting took its
//!    id after the announcement, and its insert, a later statement, reads it;
//! 3. it reads the last position given out, takes another id and waits again, so every reading
//!    at or below that position is committed (or rolled back);
//! 4. it reads the readings between its old and new position (committed, so they no longer
//!    change), aggregates them, and in one transaction that locks the cursor first adds them and
//!    moves the cursor there, with `safe_ms = announced - LATE_MS`. If another instance's pass
//!    moved the cursor meanwhile, it gives up: that pass added them.
//!
//! So every reading measured before `safe_ms` is in the table. The same pass, and ingest for
//! late readings, keep the newest value of each vital (`latest_vitals`, see `latest.rs`), with
//! the same guarantee. On SQLite one transaction at a time writes, so steps 1 to 3 are one
//! write transaction: every later one reads the announcement, and every earlier one has
//! committed.
//!
//! Retention never purges readings measured after `safe_ms`: they may not be added yet.

use std::collections::BTreeMap;
use std::time::Duration;

use eldercare_schema::Metric;
use sqlx::{Any, Transaction};

use crate::sql::Sql;
use crate::vitals::RollupRow;
use crate::{Dialect, NewReading, Store, StoreError};

/// The stored spans, largest first.
pub const SPANS_MS: [i64; 3] = [86_400_000, 3_600_000, 60_000];

/// A reading measured more than this before it was received is late: ingest adds it to the
/// rollups itself.
pub const LATE_MS: i64 = 10 * 60_000;

/// How far behind its clock the follower announces the received time (room for the clocks of
/// several server instances to differ).
pub const ANNOUNCE_BEHIND_MS: i64 = 60_000;

/// Positions read per statement by a pass of the follower.
const PASS_CHUNK: i64 = 10_000;

/// After each of its statements a pass pauses this many times as long as the statement took,
/// so that it uses at most a third of a core and ingest keeps the rest.
pub(crate) const PAUSE_FACTOR: u32 = 2;

/// How long a pass waits for transactions begun before it to end before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(120);

/// The safe time before the first pass: nothing is known to be in the table.
pub const NEVER_MS: i64 = -(1 << 62);

/// Whether ingest adds a reading to the rollups itself (the follower adds the others).
pub(crate) fn is_late(measured_ms: i64, received_ms: i64) -> bool {
    measured_ms < received_ms.saturating_sub(LATE_MS)
}

/// What a pass of the follower did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupPass {
    /// Readings this pass added (another instance's pass may have added some of the range).
    pub added: u64,
    /// Every reading at or below this position is in the rollups.
    pub position: i64,
    /// Every reading measured before this time is in the rollups.
    pub safe_ms: i64,
}

/// The start of the bucket of `span` holding `t` (aligned to the epoch, also before it).
pub(crate) fn bucket_of(t: i64, span: i64) -> i64 {
    t - t.rem_euclid(span)
}

#[derive(Debug, Clone, Copy)]
struct Agg {
    n: i64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Agg {
    fn one(v: f64) -> Agg {
        Agg { n: 1, sum: v, min: v, max: v }
    }

    fn merge(&mut self, o: Agg) {
        self.n += o.n;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }
}

/// Rollup rows being built: (resident, metric, span, bucket) to its aggregate, in key order.
#[derive(Debug, Default)]
pub(crate) struct Buckets(BTreeMap<(i64, &'static str, i64, i64), Agg>);

impl Buckets {
    fn add(&mut self, resident_id: i64, metric: Metric, value: f64, measured_ms: i64) {
        for span in SPANS_MS {
            self.0
                .entry((resident_id, metric.code(), span, bucket_of(measured_ms, span)))
                .and_modify(|a| a.merge(Agg::one(value)))
                .or_insert(Agg::one(value));
        }
    }
}

/// Adds fresh readings to the rollups: one upsert row per (resident, metric, span, bucket).
pub(crate) async fn add_to_rollups(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    fresh: &[&NewReading],
) -> Result<(), StoreError> {
    let mut buckets = Buckets::default();
    for r in fresh {
        buckets.add(r.resident_id, r.metric, r.value, r.measured_ms);
    }
    upsert(tx, dialect, buckets, false).await
}

/// Rollup rows written per statement by the follower, which may have hundreds of thousands.
pub(crate) const UPSERT_CHUNK: usize = 10_000;

/// Adds `buckets` to the table in key order (so two transactions adding to the same rows can
/// not deadlock): in one statement, or, `paced` (the follower), [`UPSERT_CHUNK`] rows per
/// statement with a pause after each.
async fn upsert(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    buckets: Buckets,
    paced: bool,
) -> Result<(), StoreError> {
    write_in_chunks(tx, buckets.0, paced, |tx, rows| Box::pin(upsert_rows(tx, dialect, rows.into_iter()))).await
}

/// A statement writing rows in a transaction (see [`write_in_chunks`]).
pub(crate) type WriteFuture<'t> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StoreError>> + Send + 't>>;

/// Writes `rows` with `write`: all in one call, or, `paced` (the follower), [`UPSERT_CHUNK`]
/// rows per call with a pause of [`PAUSE_FACTOR`] times its duration after each. No call when
/// there are no rows.
pub(crate) async fn write_in_chunks<T>(
    tx: &mut Transaction<'static, Any>,
    rows: impl IntoIterator<Item = T>,
    paced: bool,
    write: impl for<'t> Fn(&'t mut Transaction<'static, Any>, Vec<T>) -> WriteFuture<'t>,
) -> Result<(), StoreError> {
    let chunk = if paced { UPSERT_CHUNK } else { usize::MAX };
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let started = std::time::Instant::now();
        write(tx, rows.by_ref().take(chunk).collect()).await?;
        if paced && rows.peek().is_some() {
            tokio::time::sleep(started.elapsed() * PAUSE_FACTOR).await;
        }
    }
    Ok(())
}

async fn upsert_rows(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    buckets: impl Iterator<Item = ((i64, &'static str, i64, i64), Agg)>,
) -> Result<(), StoreError> {
    #[derive(serde::Serialize)]
    struct Row {
        resident_id: i64,
        metric: &'static str,
        span_ms: i64,
        bucket_ms: i64,
        n: i64,
        sum_value: f64,
        min_value: f64,
        max_value: f64,
    }
    let rows: Vec<Row> = buckets
        .map(|((resident_id, metric, span_ms, bucket_ms), a)| Row {
            resident_id,
            metric,
            span_ms,
            bucket_ms,
            n: a.n,
            sum_value: a.sum,
            min_value: a.min,
            max_value: a.max,
        })
        .collect();
    let mut q = Sql::new("");
    let p = q.json_arg(&rows);
    q.push(format!(
        "insert into readings_rollup (resident_id, metric, span_ms, bucket_ms, n, sum_value, min_value, max_value) \
         select resident_id, metric, span_ms, bucket_ms, n, sum_value, min_value, max_value from {} where true \
         on conflict (resident_id, metric, span_ms, bucket_ms) do update set \
         n = readings_rollup.n + excluded.n, sum_value = readings_rollup.sum_value + excluded.sum_value, \
         min_value = case when excluded.min_value < readings_rollup.min_value \
           then excluded.min_value else readings_rollup.min_value end, \
         max_value = case when excluded.max_value > readings_rollup.max_value \
           then excluded.max_value else readings_rollup.max_value end",
        dialect.json_table(
            &p,
            "j",
            &[
                ("resident_id", "bigint"),
                ("metric", "text"),
                ("span_ms", "bigint"),
                ("bucket_ms", "bigint"),
                ("n", "bigint"),
                ("sum_value", "double precision"),
                ("min_value", "double precision"),
                ("max_value", "double precision"),
            ],
        )
    ));
    q.query().execute(&mut **tx).await?;
    Ok(())
}

type AggTuple = (i64, i64, f64, f64, f64);

impl Store {
    /// One pass of the follower (see the module docs): adds the readings stored since the last
    /// pass (by any instance) that ingest did not add as late, and moves the safe time to
    /// `now_ms - ANNOUNCE_BEHIND_MS - LATE_MS`. `None` when a transaction begun before the pass
    /// kept running for [`WAIT_LIMIT`]: nothing changed but the announcement; try again later.
    pub async fn roll_up(&self, now_ms: i64) -> Result<Option<RollupPass>, StoreError> {
        let wanted = now_ms.saturating_sub(ANNOUNCE_BEHIND_MS);
        match self.dialect {
            Dialect::Sqlite => {
                // Announced and the last position read in one write transaction: every later
                // one reads the announcement, and every earlier one has committed.
                let (announced, last) = {
                    let _turn = self.write_turn.clone().lock_owned().await;
                    let mut tx = self.write_tx().await?;
                    let announced: i64 = sqlx::query_scalar(
                        "update rollup_cursor set announced_ms = max(announced_ms, $1) returning announced_ms",
                    )
                    .bind(wanted)
                    .fetch_one(&mut *tx)
                    .await?;
                    let last: i64 =
                        sqlx::query_scalar("select coalesce(max(rowid), 0) from readings").fetch_one(&mut *tx).await?;
                    tx.commit().await?;
                    (announced, last)
                };
                Ok(Some(self.add_since_cursor(last, announced).await?))
            }
            Dialect::Postgres => {
                let announced: i64 = sqlx::query_scalar(
                    "update rollup_cursor set announced_ms = greatest(announced_ms, $1) returning announced_ms",
                )
                .bind(wanted)
                .fetch_one(&self.pool)
                .await?;
                if !self.wait_for_earlier_transactions().await? {
                    return Ok(None);
                }
                let last: i64 =
                    sqlx::query_scalar(crate::feed::Feed::Readings.last_position_sql()).fetch_one(&self.pool).await?;
                if !self.wait_for_earlier_transactions().await? {
                    return Ok(None);
                }
                Ok(Some(self.add_since_cursor(last, announced).await?))
            }
        }
    }

    /// PostgreSQL: takes a transaction id and waits until every transaction that took one before
    /// it has ended; `false` after [`WAIT_LIMIT`].
    async fn wait_for_earlier_transactions(&self) -> Result<bool, StoreError> {
        let (id, mut xmin) = self.new_xact_id().await?;
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(5);
        while xmin < id {
            if started.elapsed() > WAIT_LIMIT {
                tracing::warn!(waited = ?WAIT_LIMIT, "rollups: a transaction is still running; pass skipped");
                return Ok(false);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
            xmin = self.snapshot_xmin().await?;
        }
        Ok(true)
    }

    /// Adds the readings after the cursor's position up to `last` that are not late, and moves
    /// the cursor to `last` with the safe time `announced - LATE_MS`.
    ///
    /// The readings are read in chunks of [`PASS_CHUNK`] positions outside any transaction
    /// (they are committed and never change; retention purges none that are not late), and
    /// aggregated here. The rows are then written, [`UPSERT_CHUNK`] per statement, in one
    /// transaction that locks the cursor first and gives up if another instance moved it
    /// meanwhile. Each statement is followed by a pause ([`PAUSE_FACTOR`]): one statement over a
    /// minute of readings took a whole core for seconds (6.4 s at 20,000 readings/s), time
    /// ingest then waited for on a machine of two cores.
    async fn add_since_cursor(&self, last: i64, announced: i64) -> Result<RollupPass, StoreError> {
        let (position, safe_ms): (i64, i64) =
            sqlx::query_as("select position, safe_ms from rollup_cursor").fetch_one(&self.pool).await?;
        if last <= position {
            return Ok(RollupPass { added: 0, position, safe_ms });
        }
        let mut buckets = Buckets::default();
        let mut newest = crate::latest::Newest::default();
        let mut added = 0u64;
        let mut from = position;
        while from < last {
            let to = from.saturating_add(PASS_CHUNK).min(last);
            let started = std::time::Instant::now();
            let rows: Vec<(i64, String, f64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "select resident_id, metric, value, measured_ms, device_id from readings \
                 where rowid > $1 and rowid <= $2 and measured_ms >= received_ms - {LATE_MS}"
            )))
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
            for (resident_id, metric, value, measured_ms, device_id) in rows {
                let metric = Metric::from_code(&metric)
                    .ok_or_else(|| StoreError::Invalid(format!("metric {metric:?} in readings")))?;
                buckets.add(resident_id, metric, value, measured_ms);
                newest.add(resident_id, metric, value, measured_ms, &device_id);
                added += 1;
            }
            from = to;
            if from < last {
                tokio::time::sleep(started.elapsed() * PAUSE_FACTOR).await;
            }
        }
        let _turn = match self.dialect {
            Dialect::Sqlite => Some(self.write_turn.clone().lock_owned().await),
            Dialect::Postgres => None,
        };
        let mut tx = self.write_tx().await?;
        let (now_at, safe_ms): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select position, safe_ms from rollup_cursor{}",
            self.dialect.for_update()
        )))
        .fetch_one(&mut *tx)
        .await?;
        if now_at != position {
            // Another instance's pass got there first; it added these readings.
            return Ok(RollupPass { added: 0, position: now_at, safe_ms });
        }
        upsert(&mut tx, self.dialect, buckets, true).await?;
        newest.write(&mut tx, self.dialect, true).await?;
        let safe = announced.saturating_sub(LATE_MS).max(safe_ms);
        sqlx::query("update rollup_cursor set position = $1, safe_ms = $2")
            .bind(last)
            .bind(safe)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RollupPass { added, position: last, safe_ms: safe })
    }

    /// Every reading measured before this time is in the rollup table ([`NEVER_MS`] before the
    /// follower's first pass).
    pub async fn rollup_safe_ms(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("select safe_ms from rollup_cursor").fetch_one(&self.pool).await?)
    }

    /// Count, min, max and mean of a resident's `metric` per bucket of `bucket_ms` (aligned to
    /// the Unix epoch, so hours and days in UTC), for buckets with readings in `[from_ms, to_ms)`.
    ///
    /// When `bucket_ms` is a multiple of a stored span, whole spans inside the range measured
    /// before the safe time come from the rollup table, and the partial spans at its edges and
    /// the spans from the safe time on from raw readings; otherwise everything is aggregated from
    /// raw readings.
    pub async fn vitals_rollup(
        &self,
        resident_id: i64,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<RollupRow>, StoreError> {
        if bucket_ms <= 0 {
            return Err(StoreError::Invalid(format!("bucket of {bucket_ms} ms")));
        }
        if from_ms >= to_ms {
            return Ok(Vec::new());
        }
        let Some(span) = SPANS_MS.into_iter().find(|s| bucket_ms % s == 0) else {
            return self.rollup_raw(resident_id, metric, from_ms, to_ms, bucket_ms).await;
        };
        // Whole spans inside [from_ms, to_ms).
        let inner_from = from_ms.checked_add(span - 1).map(|t| bucket_of(t, span)).unwrap_or(i64::MAX);
        // Only spans that end by the safe time are complete in the table. A pass that moves
        // the safe time after this read adds only readings measured after the old one.
        let inner_to = bucket_of(to_ms, span).min(bucket_of(self.rollup_safe_ms().await?, span));
        if inner_from >= inner_to {
            return self.rollup_raw(resident_id, metric, from_ms, to_ms, bucket_ms).await;
        }
        let mut parts: Vec<AggTuple> = sqlx::query_as(
            "select bucket_ms, n, sum_value, min_value, max_value from readings_rollup \
             where resident_id = $1 and metric = $2 and span_ms = $3 and bucket_ms >= $4 and bucket_ms < $5 \
             order by bucket_ms",
        )
        .bind(resident_id)
        .bind(metric.code())
        .bind(span)
        .bind(inner_from)
        .bind(inner_to)
        .fetch_all(&self.pool)
        .await?;
        for (from, to) in [(from_ms, inner_from), (inner_to, to_ms)] {
            if from < to {
                parts.extend(self.raw_aggregates(resident_id, metric, from, to, span).await?);
            }
        }
        let mut out: BTreeMap<i64, Agg> = BTreeMap::new();
        for (bucket, n, sum, min, max) in parts {
            let a = Agg { n, sum, min, max };
            out.entry(bucket_of(bucket, bucket_ms)).and_modify(|o| o.merge(a)).or_insert(a);
        }
        Ok(out
            .into_iter()
            .map(|(bucket_ms, a)| RollupRow { bucket_ms, count: a.n, min: a.min, max: a.max, mean: a.sum / a.n as f64 })
            .collect())
    }

    /// Buckets computed from raw readings.
    async fn rollup_raw(
        &self,
        resident_id: i64,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<RollupRow>, StoreError> {
        Ok(self
            .raw_aggregates(resident_id, metric, from_ms, to_ms, bucket_ms)
            .await?
            .into_iter()
            .map(|(bucket_ms, count, sum, min, max)| RollupRow { bucket_ms, count, min, max, mean: sum / count as f64 })
            .collect())
    }

    /// (bucket, count, sum, min, max) of raw readings in `[from_ms, to_ms)`.
    async fn raw_aggregates(
        &self,
        resident_id: i64,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<AggTuple>, StoreError> {
        Ok(sqlx::query_as(
            "select measured_ms - (measured_ms % $1 + $1) % $1 as bucket_ms, count(*) as n, \
             cast(sum(value) as double precision), min(value), max(value) from readings \
             where resident_id = $2 and metric = $3 and measured_ms >= $4 and measured_ms < $5 \
             group by 1 order by 1",
        )
        .bind(bucket_ms)
        .bind(resident_id)
        .bind(metric.code())
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?)
    }
}
