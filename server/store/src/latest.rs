//! The newest value of each resident's vitals (`latest_vitals`), kept like the rollups.
//!
//! Ingest wrote it for every resident in every group: with a band measuring every 5 s that is
//! one row rewritten per reading, 12 % of the database's statement time at district scale. Now
//! the table is kept as the rollups are (`rollup.rs`): ingest writes the newest of its *late*
//! readings at once, and the rollup follower the newest of the others, once a pass. Every
//! reading measured before the follower's safe time is then in the table, so a query reads the
//! table and, per resident and metric, the newest raw reading measured from the safe time on
//! (one index descent each), in one statement, and keeps the newer of the two.

use std::collections::BTreeMap;

use eldercare_schema::Metric;
use sqlx::{Any, Transaction};

use crate::sql::Sql;
use crate::{Dialect, NewReading, Store, StoreError, VitalRow};

/// Newest readings being collected: (resident, metric) to (measured, value, device), in key
/// order (so two transactions writing the same rows can not deadlock).
#[derive(Debug, Default)]
pub(crate) struct Newest(BTreeMap<(i64, &'static str), (i64, f64, String)>);

impl Newest {
    pub(crate) fn add(&mut self, resident_id: i64, metric: Metric, value: f64, measured_ms: i64, device_id: &str) {
        keep_newer(&mut self.0, (resident_id, metric.code()), (measured_ms, value, device_id));
    }

    pub(crate) fn of(readings: &[&NewReading]) -> Newest {
        let mut n = Newest::default();
        for r in readings {
            n.add(r.resident_id, r.metric, r.value, r.measured_ms, &r.device_id);
        }
        n
    }

    /// Writes these values where they are newer than the stored ones: in one statement, or,
    /// `paced` (the follower), in chunks as the rollups' upsert does.
    pub(crate) async fn write(
        self,
        tx: &mut Transaction<'static, Any>,
        dialect: Dialect,
        paced: bool,
    ) -> Result<(), StoreError> {
        crate::rollup::write_in_chunks(tx, self.0, paced, |tx, rows| {
            Box::pin(write_rows(tx, dialect, rows.into_iter()))
        })
        .await
    }
}

/// Keeps in `map` the value measured last for `key`: (measured, value, device).
fn keep_newer<K: Ord>(
    map: &mut BTreeMap<K, (i64, f64, String)>,
    key: K,
    (measured_ms, value, device_id): (i64, f64, &str),
) {
    match map.get_mut(&key) {
        Some(held) if held.0 >= measured_ms => {}
        Some(held) => *held = (measured_ms, value, device_id.to_owned()),
        None => {
            map.insert(key, (measured_ms, value, device_id.to_owned()));
        }
    }
}

async fn write_rows(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    rows: impl Iterator<Item = ((i64, &'static str), (i64, f64, String))>,
) -> Result<(), StoreError> {
    #[derive(serde::Serialize)]
    struct Row {
        resident_id: i64,
        metric: &'static str,
        value: f64,
        measured_ms: i64,
        device_id: String,
    }
    let rows: Vec<Row> = rows
        .map(|((resident_id, metric), (measured_ms, value, device_id))| Row {
            resident_id,
            metric,
            value,
            measured_ms,
            device_id,
        })
        .collect();
    let mut q = Sql::new("");
    let p = q.json_arg(&rows);
    q.push(format!(
        "insert into latest_vitals (resident_id, metric, value, measured_ms, device_id) \
         select resident_id, metric, value, measured_ms, device_id from {} where true \
         on conflict (resident_id, metric) do update set value = excluded.value, \
         measured_ms = excluded.measured_ms, device_id = excluded.device_id \
         where excluded.measured_ms > latest_vitals.measured_ms",
        dialect.json_table(
            &p,
            "j",
            &[
                ("resident_id", "bigint"),
                ("metric", "text"),
                ("value", "double precision"),
                ("measured_ms", "bigint"),
                ("device_id", "text"),
            ],
        )
    ));
    q.query().execute(&mut **tx).await?;
    Ok(())
}

/// Residents per query (times 13 metrics, the raw descents of one statement).
const RESIDENTS_PER_QUERY: usize = 500;

impl Store {
    /// The newest value of each metric of each of `resident_ids`, by resident then metric code:
    /// the table's, or a newer raw reading measured from the safe time on (module docs).
    pub(crate) async fn newest_vitals(&self, resident_ids: &[i64]) -> Result<Vec<(i64, VitalRow)>, StoreError> {
        #[derive(serde::Serialize)]
        struct Key {
            resident_id: i64,
            metric: &'static str,
        }
        let mut out = Vec::new();
        for chunk in resident_ids.chunks(RESIDENTS_PER_QUERY) {
            let keys: Vec<Key> = chunk
                .iter()
                .flat_map(|&resident_id| Metric::ALL.iter().map(move |m| Key { resident_id, metric: m.code() }))
                .collect();
            let mut q = Sql::new("");
            let k = q.json_arg(&keys);
            let keys = self.dialect.json_table(&k, "k", &[("resident_id", "bigint"), ("metric", "text")]);
            // In one statement, so the table and the raw readings are read as of one moment: a
            // pass committing in between can not hide a reading from both.
            q.push(match self.dialect {
                Dialect::Postgres => format!(
                    "select k.resident_id, k.metric, x.value, x.measured_ms, x.device_id from {keys} \
                     cross join lateral (select value, measured_ms, device_id from readings \
                     where resident_id = k.resident_id and metric = k.metric \
                     and measured_ms >= (select safe_ms from rollup_cursor) \
                     order by measured_ms desc limit 1) as x"
                ),
                Dialect::Sqlite => format!(
                    "select k.resident_id, k.metric, x.value, x.measured_ms, x.device_id from {keys} \
                     join readings x on x.rowid = (select y.rowid from readings y \
                     where y.resident_id = k.resident_id and y.metric = k.metric \
                     and y.measured_ms >= (select safe_ms from rollup_cursor) \
                     order by y.measured_ms desc limit 1)"
                ),
            });
            q.push(" union all select resident_id, metric, value, measured_ms, device_id from latest_vitals where resident_id in (");
            q.list(chunk.iter().copied()).push(")");
            let rows: Vec<(i64, String, f64, i64, String)> = q.query_as().fetch_all(&self.pool).await?;
            let mut newest: BTreeMap<(i64, String), (i64, f64, String)> = BTreeMap::new();
            for (resident_id, metric, value, measured_ms, device_id) in rows {
                keep_newer(&mut newest, (resident_id, metric), (measured_ms, value, &device_id));
            }
            for ((resident_id, m), (measured_ms, value, device_id)) in newest {
                let metric =
                    Metric::from_code(&m).ok_or_else(|| StoreError::Invalid(format!("stored metric {m:?}")))?;
                out.push((resident_id, VitalRow { metric, value, measured_ms, device_id }));
            }
        }
        Ok(out)
    }
}
