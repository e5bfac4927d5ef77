//! Rollups of readings: count, sum, min and max per resident, metric and minute / hour / day
//! (`readings_rollup`, migration 0004). Ingest adds each batch's fresh readings in the same
//! transaction, aggregated in memory first (one row per bucket, in key order). Rollup queries
//! whose bucket is a multiple of a stored span read the table (plus raw readings for partial
//! buckets at the edges of the range), so they keep working after raw readings are purged.

use std::collections::BTreeMap;

use eldercare_schema::Metric;
use sqlx::{Any, Transaction};

use crate::sql::Sql;
use crate::vitals::RollupRow;
use crate::{Dialect, NewReading, Store, StoreError};

/// The stored spans, largest first.
pub const SPANS_MS: [i64; 3] = [86_400_000, 3_600_000, 60_000];

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

/// Adds fresh readings to the rollups: one upsert row per (resident, metric, span, bucket).
pub(crate) async fn add_to_rollups(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    fresh: &[&NewReading],
) -> Result<(), StoreError> {
    let mut buckets: BTreeMap<(i64, &'static str, i64, i64), Agg> = BTreeMap::new();
    for r in fresh {
        for span in SPANS_MS {
            buckets
                .entry((r.resident_id, r.metric.code(), span, bucket_of(r.measured_ms, span)))
                .and_modify(|a| a.merge(Agg::one(r.value)))
                .or_insert(Agg::one(r.value));
        }
    }
    if buckets.is_empty() {
        return Ok(());
    }
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
        .into_iter()
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
    /// Count, min, max and mean of a resident's `metric` per bucket of `bucket_ms` (aligned to
    /// the Unix epoch, so hours and days in UTC), for buckets with readings in `[from_ms, to_ms)`.
    ///
    /// When `bucket_ms` is a multiple of a stored span, whole spans inside the range come from
    /// the rollup table and only the partial spans at its edges from raw readings; otherwise
    /// everything is aggregated from raw readings.
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
        let inner_to = bucket_of(to_ms, span);
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
