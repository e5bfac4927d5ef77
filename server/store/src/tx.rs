//! A write transaction of ingest: readings, dead letters, and what the rules decide (rule state,
//! alerts, timers) commit together, so a crash can not lose an alert whose reading was stored.

use sqlx::{Any, Transaction};

use crate::ingest::insert_dead_letter;
use crate::sql::Sql;
use crate::{DeadLetter, Dialect, IngestOutcome, NewReading, Store, StoreError};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Resident(i64),
    /// A whole home (its gateway went offline).
    Household(i64),
}

impl Subject {
    pub fn key(self) -> String {
        match self {
            Subject::Resident(id) => format!("r:{id}"),
            Subject::Household(id) => format!("h:{id}"),
        }
    }
}

/// What raising a condition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub alert_id: i64,
    /// A new alert was opened (none was open for this subject and condition).
    pub opened: bool,
    /// An open alert's level went up.
    pub level_raised: bool,
}

/// What the rules engine needs of one resident (see [`StoreTx::rule_inputs`]).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RuleRow {
    pub resident_id: i64,
    /// The stored rule state, JSON (`{}` for a resident never evaluated).
    pub state: String,
    /// Threshold overrides, JSON.
    pub overrides: Option<String>,
    /// The IANA time zone of the resident's community (for night-time and daily rules).
    pub time_zone: String,
}

pub struct StoreTx {
    tx: Transaction<'static, Any>,
    dialect: Dialect,
    /// SQLite: this process's turn to write, held until the transaction ends.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// The devices' last contacts this transaction stored, learnt when it commits.
    contacts: crate::contacts::Contacts,
    stored_contacts: Vec<(String, i64)>,
}

impl Store {
    /// Starts a write transaction (readings, rules, alerts, timers).
    ///
    /// On SQLite, these transactions (ingest, the alert sweeper, escalation) first queue in
    /// this process and only then ask for the write lock. Left to SQLite, a transaction that
    /// finds the lock taken sleeps in growing steps (1, 2, 5, 10, 15, 20, 25 ms...) and was
    /// seen to wait 80 ms for a lock held 2 ms: the largest part of the alert latency tail.
    pub async fn begin(&self) -> Result<StoreTx, StoreError> {
        let turn = match self.dialect {
            Dialect::Sqlite => Some(self.write_turn.clone().lock_owned().await),
            Dialect::Postgres => None,
        };
        Ok(StoreTx {
            tx: self.write_tx().await?,
            dialect: self.dialect,
            _turn: turn,
            contacts: self.contacts.clone(),
            stored_contacts: Vec::new(),
        })
    }

    /// A transaction that will write.
    ///
    /// SQLite: it takes the write lock at once (`begin immediate`): a deferred one that reads
    /// before writing fails outright in WAL mode when another connection commits in between,
    /// instead of waiting its turn. Holding the one write lock also serialises every
    /// read-modify-write.
    ///
    /// PostgreSQL: a plain `begin` (READ COMMITTED), so writers run in parallel, also across
    /// server instances. Each read-modify-write is made safe on its own: unique keys with
    /// `on conflict`, compare-and-set updates (`update ... where <old state>`; a concurrent one
    /// waits for the row and re-checks), and row locks (`for update`, `for no key update`) where
    /// a decision reads state first (rule state per resident, thresholds, invitations, open
    /// alerts).
    pub(crate) async fn write_tx(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("begin immediate").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }
}

/// The columns of `readings` that ingest writes (`rowid` is the table's default).
const READING_COLUMNS: &str =
    "gateway_id, device_id, seq, resident_id, metric, value, measured_ms, received_ms, time_source";

const READING_TYPES: [(&str, &str); 9] = [
    ("gateway_id", "text"),
    ("device_id", "text"),
    ("seq", "bigint"),
    ("resident_id", "bigint"),
    ("metric", "text"),
    ("value", "double precision"),
    ("measured_ms", "bigint"),
    ("received_ms", "bigint"),
    ("time_source", "text"),
];

/// A device's stored last contact (`devices.last_reading_ms`) is moved only when a reading is at
/// least this much newer, so it may be up to this much older than the device's newest reading.
pub const LAST_CONTACT_STEP_MS: i64 = 60_000;

/// The idempotency keys (gateway, device, sequence number) of the readings a statement stored.
type NewKeys = std::collections::HashSet<(String, String, i64)>;

/// Rows per SQLite insert statement: a batch is cut into these sizes, largest first, so there
/// are only five statement texts (at most 2,304 parameters, under SQLite's 32,766).
const SQLITE_CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// A row of `readings` as [`Dialect::json_table`] reads it.
#[derive(serde::Serialize)]
struct ReadingJson<'a> {
    gateway_id: &'a str,
    device_id: &'a str,
    seq: i64,
    resident_id: i64,
    metric: &'static str,
    value: f64,
    measured_ms: i64,
    received_ms: i64,
    time_source: &'static str,
}

#[derive(serde::Serialize)]
struct DeviceJson<'a> {
    device_id: &'a str,
    last_ms: i64,
    battery: Option<f64>,
}

fn level_rank(level: &str) -> i32 {
    match level {
        "critical" => 3,
        "urgent" => 2,
        "warning" => 1,
        _ => 0,
    }
}

impl StoreTx {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        self.contacts.learn(self.stored_contacts);
        Ok(())
    }

    /// Inserts one gateway's readings idempotently; see [`StoreTx::insert_batches`].
    pub async fn insert_readings<'r>(
        &mut self,
        gateway_id: &str,
        readings: &'r [NewReading],
        received_ms: i64,
    ) -> Result<(IngestOutcome, Vec<&'r NewReading>), StoreError> {
        self.insert_batches(&[(gateway_id, readings)], received_ms).await
    }

    /// Inserts the readings of several gateways' batches idempotently; returns the counts and
    /// the readings that were new (a resend returns none, so rules see each reading once). The
    /// devices' last contact is kept in the same transaction, and the rollups and newest values
    /// of late readings; the rollup follower adds the others (`rollup.rs`, `latest.rs`).
    /// However many batches there are, this costs a fixed handful of statements (one per table,
    /// more only past ~1,000 rows per statement): on PostgreSQL each statement is a round trip,
    /// and round trips, not rows, were what limited ingest.
    ///
    /// Two transactions storing the same reading at once store it once: on PostgreSQL the second
    /// waits for the first's uniqueness entry and then skips the row. Rows are written in key
    /// order so two such batches can not deadlock on each other.
    pub async fn insert_batches<'r>(
        &mut self,
        batches: &[(&str, &'r [NewReading])],
        received_ms: i64,
    ) -> Result<(IngestOutcome, Vec<&'r NewReading>), StoreError> {
        let mut outcome = IngestOutcome::default();
        let mut ordered: Vec<(&str, &NewReading)> =
            batches.iter().flat_map(|(g, rs)| rs.iter().map(move |r| (*g, r))).collect();
        if ordered.is_empty() {
            return Ok((outcome, Vec::new()));
        }
        ordered.sort_by(|a, b| (a.0, &a.1.device_id, a.1.seq).cmp(&(b.0, &b.1.device_id, b.1.seq)));
        let (new_keys, received_ms) = match self.dialect {
            Dialect::Postgres => self.insert_readings_pg(&ordered, received_ms).await?,
            Dialect::Sqlite => self.insert_readings_sqlite(&ordered, received_ms).await?,
        };
        outcome.inserted = new_keys.as_ref().map_or(ordered.len(), |k| k.len()) as u64;
        outcome.duplicates = ordered.len() as u64 - outcome.inserted;
        let fresh: Vec<&'r NewReading> = batches
            .iter()
            .flat_map(|(g, rs)| rs.iter().map(move |r| (*g, r)))
            .filter(|(g, r)| {
                new_keys.as_ref().is_none_or(|k| k.contains(&((*g).to_owned(), r.device_id.clone(), r.seq)))
            })
            .map(|(_, r)| r)
            .collect();
        if fresh.is_empty() {
            return Ok((outcome, fresh));
        }

        // Per device: when it was last heard, and its battery, for the silence rules. One
        // `update ... from` for all devices, in device order. A device's row is written only
        // when its last contact moves by a step or more, or its battery changes: a band
        // measuring every few seconds otherwise rewrote its row (and the row's index entries)
        // with every reading, 8 % of the database's time at district scale. The silence rules
        // count in hours and "online" in an hour, so a contact up to a step old is as good.
        // Devices whose contact this process knows can not move yet are not even sent
        // (`contacts.rs`).
        let mut per_device: std::collections::BTreeMap<&str, (i64, Option<f64>)> = Default::default();
        for r in &fresh {
            let e = per_device.entry(r.device_id.as_str()).or_insert((r.measured_ms, None));
            e.0 = e.0.max(r.measured_ms);
            if r.metric == eldercare_schema::Metric::Battery {
                e.1 = Some(r.value);
            }
        }
        let rows: Vec<DeviceJson> = per_device
            .into_iter()
            .filter(|(device_id, (last_ms, battery))| battery.is_some() || !self.contacts.keeps(device_id, *last_ms))
            .map(|(device_id, (last_ms, battery))| DeviceJson { device_id, last_ms, battery })
            .collect();
        if !rows.is_empty() {
            self.update_contacts(&rows).await?;
        }

        // Late readings go into the rollups and the newest values now; the follower adds the
        // others (`rollup.rs`, `latest.rs`).
        let late: Vec<&NewReading> =
            fresh.iter().copied().filter(|r| crate::rollup::is_late(r.measured_ms, received_ms)).collect();
        crate::rollup::add_to_rollups(&mut self.tx, self.dialect, &late).await?;
        crate::latest::Newest::of(&late).write(&mut self.tx, self.dialect, false).await?;
        Ok((outcome, fresh))
    }

    /// Writes the devices' last contact and battery where they move (see `insert_batches`), and
    /// keeps the contacts written, to be learnt at commit.
    async fn update_contacts(&mut self, rows: &[DeviceJson<'_>]) -> Result<(), StoreError> {
        let mut q = Sql::new("");
        let p = q.json_arg(&rows);
        q.push(format!(
            "update devices set last_reading_ms = case when devices.last_reading_ms > v.last_ms \
             then devices.last_reading_ms else v.last_ms end, \
             battery_pct = coalesce(v.battery, devices.battery_pct) from {} where devices.device_id = v.device_id \
             and (devices.last_reading_ms is null or devices.last_reading_ms <= v.last_ms - {LAST_CONTACT_STEP_MS} \
             or v.battery <> coalesce(devices.battery_pct, -1)) \
             returning devices.device_id, devices.last_reading_ms",
            self.dialect.json_table(
                &p,
                "v",
                &[("device_id", "text"), ("last_ms", "bigint"), ("battery", "double precision")],
            )
        ));
        let stored: Vec<(String, i64)> = q.query_as().fetch_all(&mut *self.tx).await?;
        self.stored_contacts.extend(stored);
        Ok(())
    }

    /// PostgreSQL: all rows in one statement of fixed text (one JSON parameter). Returns `None`
    /// when every row was new, else the keys of those that were, and the received time stored:
    /// `received_ms`, or the rollup follower's announced time when that is later (`rollup.rs`),
    /// read in this statement, which comes after the one that took the transaction's id.
    async fn insert_readings_pg(
        &mut self,
        ordered: &[(&str, &NewReading)],
        received_ms: i64,
    ) -> Result<(Option<NewKeys>, i64), StoreError> {
        // The live feed needs each transaction to hold its id before it takes a position
        // (`feed.rs`); the positions come from the sequence, one per row.
        //
        // The same round trip turns hash and merge joins off for the rest of this transaction.
        // Its statements look up a few rows by key, but PostgreSQL estimates every JSON row set
        // at 100 rows, and against a table of some thousand rows (the devices of 1,000 homes,
        // their households) it then prefers hashing a sequential scan of the whole table to
        // 100 index probes: the devices' last-contact update took 3.7 ms a group that way, a
        // quarter of the database's time at 6,500 readings/s. Nested loops use the indexes.
        sqlx::query(
            "select 1 where pg_current_xact_id() is not null \
             and set_config('enable_hashjoin', 'off', true) = 'off' \
             and set_config('enable_mergejoin', 'off', true) = 'off'",
        )
        .execute(&mut *self.tx)
        .await?;
        let rows: Vec<ReadingJson> = ordered
            .iter()
            .map(|(gateway_id, r)| ReadingJson {
                gateway_id,
                device_id: &r.device_id,
                seq: r.seq,
                resident_id: r.resident_id,
                metric: r.metric.code(),
                value: r.value,
                measured_ms: r.measured_ms,
                received_ms,
                time_source: r.time_source,
            })
            .collect();
        let mut q = Sql::new("");
        let p = q.json_arg(&rows);
        q.push(format!(
            "insert into readings ({READING_COLUMNS}) select gateway_id, device_id, seq, resident_id, metric, \
             value, measured_ms, greatest(received_ms, (select announced_ms from rollup_cursor)), time_source \
             from {} where true on conflict do nothing returning gateway_id, device_id, seq, received_ms",
            self.dialect.json_table(&p, "j", &READING_TYPES)
        ));
        let inserted: Vec<(String, String, i64, i64)> = q.query_as().fetch_all(&mut *self.tx).await?;
        let stored_ms = inserted.first().map_or(received_ms, |r| r.3);
        if inserted.len() == ordered.len() {
            return Ok((None, stored_ms));
        }
        Ok((Some(inserted.into_iter().map(|(g, d, s, _)| (g, d, s)).collect()), stored_ms))
    }

    /// SQLite: multi-row inserts of a few fixed sizes (each prepared once per connection);
    /// `None` when every row was new, the usual case, else the keys of those that were.
    ///
    /// Not one JSON parameter as on PostgreSQL: SQLite re-reads an object's JSON text for
    /// every column taken from it, and `returning` hands rows one at a time across sqlx's
    /// worker thread; together those cost more than storing the rows. This transaction holds
    /// the write lock (`begin immediate`), so the rows new to it are the ones past the
    /// highest `rowid` it saw first.
    ///
    /// The received time stored is `received_ms`, or the rollup follower's announced time when
    /// that is later (`rollup.rs`); this transaction holds the write lock, so it is current.
    async fn insert_readings_sqlite(
        &mut self,
        ordered: &[(&str, &NewReading)],
        received_ms: i64,
    ) -> Result<(Option<NewKeys>, i64), StoreError> {
        let (before, announced): (i64, i64) = sqlx::query_as(
            "select coalesce((select max(rowid) from readings), 0), (select announced_ms from rollup_cursor)",
        )
        .fetch_one(&mut *self.tx)
        .await?;
        let received_ms = received_ms.max(announced);
        let mut inserted = 0u64;
        let mut rest = ordered;
        while !rest.is_empty() {
            let size = SQLITE_CHUNKS.into_iter().find(|&c| c <= rest.len()).expect("chunks end with 1");
            let (chunk, tail) = rest.split_at(size);
            let mut q = Sql::new(format!("insert into readings ({READING_COLUMNS}) values "));
            for (i, (gateway_id, r)) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" });
                q.bind(*gateway_id).push(", ").bind(r.device_id.as_str()).push(", ").bind(r.seq).push(", ");
                q.bind(r.resident_id).push(", ").bind(r.metric.code()).push(", ").bind(r.value).push(", ");
                q.bind(r.measured_ms).push(", ").bind(received_ms).push(", ").bind(r.time_source).push(")");
            }
            q.push(" on conflict do nothing");
            inserted += q.query().execute(&mut *self.tx).await?.rows_affected();
            rest = tail;
        }
        if inserted == ordered.len() as u64 {
            return Ok((None, received_ms));
        }
        let new: Vec<(String, String, i64)> =
            sqlx::query_as("select gateway_id, device_id, seq from readings where rowid > $1")
                .bind(before)
                .fetch_all(&mut *self.tx)
                .await?;
        Ok((Some(new.into_iter().collect()), received_ms))
    }

    pub async fn dead_letters(&mut self, dead: &[DeadLetter], received_ms: i64) -> Result<u64, StoreError> {
        let mut n = 0;
        for d in dead {
            n += insert_dead_letter(&mut self.tx, d, received_ms).await?;
        }
        Ok(n)
    }

    /// What the rules need of each of `resident_ids`, in ascending resident order: the stored
    /// rule state and threshold overrides (JSON) and the community's time zone. One query for
    /// all of them, and two more the first time a resident is seen. Unknown ids are left out.
    ///
    /// On PostgreSQL this locks the residents' rule-state rows until the transaction ends (in
    /// ascending order, so two transactions can not deadlock on them), so two instances
    /// evaluating the same resident's readings take turns instead of overwriting each other's
    /// state. A resident without a stored state first gets an empty one (`{}`), so that there
    /// is a row to lock. The lock is on the row the transaction then rewrites: an update of a
    /// row it holds writes nothing more for the lock. (Locking the resident's own row, as this
    /// did before, cost a lock record in the WAL and a dirtied `residents` page per resident
    /// and group, and the state's upsert locked the state row besides.)
    pub async fn rule_inputs(&mut self, resident_ids: &[i64]) -> Result<Vec<RuleRow>, StoreError> {
        let mut ids = resident_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows = self.locked_rule_inputs(&ids).await?;
        if rows.len() < ids.len() {
            let found: std::collections::HashSet<i64> = rows.iter().map(|r| r.resident_id).collect();
            let missing: Vec<i64> = ids.into_iter().filter(|id| !found.contains(id)).collect();
            // In ascending order: two transactions creating the same rows wait on each other's
            // in one order only.
            let mut q = Sql::new("");
            let p = q.json_arg(&missing);
            q.push(format!(
                "insert into resident_rule_state (resident_id, state, updated_ms) \
                 select r.resident_id, '{{}}', 0 from residents r where r.resident_id in ({}) \
                 order by r.resident_id on conflict do nothing",
                self.dialect.json_list(&p, "bigint")
            ));
            q.query().execute(&mut *self.tx).await?;
            rows.extend(self.locked_rule_inputs(&missing).await?);
            rows.sort_by_key(|r| r.resident_id);
        }
        Ok(rows)
    }

    /// [`StoreTx::rule_inputs`] of the residents (ascending, distinct) that have a stored rule
    /// state, locking that state on PostgreSQL.
    async fn locked_rule_inputs(&mut self, ids: &[i64]) -> Result<Vec<RuleRow>, StoreError> {
        let mut q = Sql::new("");
        let p = q.json_arg(&ids);
        q.push(format!(
            "select r.resident_id, s.state, t.overrides, o.time_zone from residents r \
             join households h on h.household_id = r.household_id \
             join org_units o on o.org_unit_id = h.org_unit_id \
             join resident_rule_state s on s.resident_id = r.resident_id \
             left join resident_thresholds t on t.resident_id = r.resident_id \
             where r.resident_id in ({}) order by r.resident_id",
            self.dialect.json_list(&p, "bigint")
        ));
        if self.dialect == Dialect::Postgres {
            q.push(" for no key update of s");
        }
        Ok(q.query_as::<RuleRow>().fetch_all(&mut *self.tx).await?)
    }

    /// Saves the rule state (JSON) of several residents in one statement.
    pub async fn save_rule_states(&mut self, states: &[(i64, String)], now_ms: i64) -> Result<(), StoreError> {
        if states.is_empty() {
            return Ok(());
        }
        #[derive(serde::Serialize)]
        struct Row<'a> {
            resident_id: i64,
            state: &'a str,
        }
        let rows: Vec<Row> =
            states.iter().map(|(resident_id, state)| Row { resident_id: *resident_id, state }).collect();
        let mut q = Sql::new("");
        let p = q.json_arg(&rows);
        let now = q.arg(now_ms);
        q.push(format!(
            "insert into resident_rule_state (resident_id, state, updated_ms) select resident_id, state, {now} \
             from {} where true \
             on conflict (resident_id) do update set state = excluded.state, updated_ms = excluded.updated_ms",
            self.dialect.json_table(&p, "j", &[("resident_id", "bigint"), ("state", "text")])
        ));
        q.query().execute(&mut *self.tx).await?;
        Ok(())
    }

    pub async fn save_rule_state(&mut self, resident_id: i64, state: &str, now_ms: i64) -> Result<(), StoreError> {
        self.save_rule_states(&[(resident_id, state.to_owned())], now_ms).await
    }

    async fn household_of(&mut self, subject: Subject) -> Result<(Option<i64>, i64), StoreError> {
        match subject {
            Subject::Household(h) => Ok((None, h)),
            Subject::Resident(r) => {
                let h: i64 = sqlx::query_scalar("select household_id from residents where resident_id = $1")
                    .bind(r)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("resident {r}")))?;
                Ok((Some(r), h))
            }
        }
    }

    /// Opens the alert of `subject` and `condition`, or updates the open one with new evidence
    /// (raising its level if higher). A newly opened alert is due for escalation at once.
    pub async fn raise(
        &mut self,
        subject: Subject,
        condition: &str,
        level: &str,
        title: &str,
        evidence: &str,
        now_ms: i64,
    ) -> Result<Raised, StoreError> {
        let key = subject.key();
        let find = format!(
            "select alert_id, level from alerts where subject = $1 and condition = $2 and status <> 'resolved'{}",
            self.dialect.for_update()
        );
        loop {
            let open: Option<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(find.clone()))
                .bind(&key)
                .bind(condition)
                .fetch_optional(&mut *self.tx)
                .await?;
            if let Some((alert_id, old_level)) = open {
                let level_raised = level_rank(level) > level_rank(&old_level);
                let new_level = if level_raised { level } else { old_level.as_str() };
                sqlx::query(
                    "update alerts set level = $1, title = $2, evidence = $3, updated_ms = $4, cleared_ms = null, \
                     next_escalation_ms = case when $5 and status = 'open' then $4 else next_escalation_ms end, \
                     escalation_step = case when $5 and status = 'open' then 0 else escalation_step end \
                     where alert_id = $6",
                )
                .bind(new_level)
                .bind(title)
                .bind(evidence)
                .bind(now_ms)
                .bind(level_raised)
                .bind(alert_id)
                .execute(&mut *self.tx)
                .await?;
                let kind = if level_raised { "level_raised" } else { "updated" };
                self.event(alert_id, now_ms, kind, None, None, evidence).await?;
                return Ok(Raised { alert_id, opened: false, level_raised });
            }
            let (resident_id, household_id) = self.household_of(subject).await?;
            // One open alert per subject and condition (a partial unique index): when another
            // transaction opened it in the meantime, update that one instead.
            let alert_id: Option<i64> = sqlx::query_scalar(
                "insert into alerts (subject, resident_id, household_id, condition, level, status, title, evidence, \
                 opened_ms, updated_ms, next_escalation_ms) values ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $8, $8) \
                 on conflict (subject, condition) where status <> 'resolved' do nothing returning alert_id",
            )
            .bind(&key)
            .bind(resident_id)
            .bind(household_id)
            .bind(condition)
            .bind(level)
            .bind(title)
            .bind(evidence)
            .bind(now_ms)
            .fetch_optional(&mut *self.tx)
            .await?;
            if let Some(alert_id) = alert_id {
                self.event(alert_id, now_ms, "opened", None, None, evidence).await?;
                return Ok(Raised { alert_id, opened: true, level_raised: false });
            }
        }
    }

    /// Notes that the condition no longer holds. The alert stays until a person resolves it; if
    /// the condition returns before that, the same alert is updated.
    pub async fn clear(&mut self, subject: Subject, condition: &str, now_ms: i64) -> Result<Option<i64>, StoreError> {
        let alert_id: Option<i64> = sqlx::query_scalar(
            "update alerts set cleared_ms = $1, updated_ms = $2 where subject = $3 and condition = $4 \
             and status <> 'resolved' and cleared_ms is null returning alert_id",
        )
        .bind(now_ms)
        .bind(now_ms)
        .bind(subject.key())
        .bind(condition)
        .fetch_optional(&mut *self.tx)
        .await?;
        if let Some(id) = alert_id {
            self.event(id, now_ms, "cleared", None, None, "{}").await?;
        }
        Ok(alert_id)
    }

    pub async fn start_timer(&mut self, resident_id: i64, key: &str, due_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "insert into rule_timers (timer_key, resident_id, due_ms) values ($1, $2, $3) \
             on conflict (resident_id, timer_key) do update set due_ms = excluded.due_ms",
        )
        .bind(key)
        .bind(resident_id)
        .bind(due_ms)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn cancel_timer(&mut self, resident_id: i64, key: &str) -> Result<(), StoreError> {
        sqlx::query("delete from rule_timers where resident_id = $1 and timer_key = $2")
            .bind(resident_id)
            .bind(key)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Claims one due timer of `resident_id` by deleting it; `false` when another instance (or
    /// a cancel) got there first.
    pub async fn claim_timer(&mut self, resident_id: i64, key: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("delete from rule_timers where resident_id = $1 and timer_key = $2 and due_ms <= $3")
            .bind(resident_id)
            .bind(key)
            .bind(now_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn event(
        &mut self,
        alert_id: i64,
        at_ms: i64,
        kind: &str,
        user_id: Option<i64>,
        note: Option<&str>,
        detail: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "insert into alert_events (alert_id, at_ms, kind, user_id, note, detail) values ($1, $2, $3, $4, $5, $6) \
             returning event_id",
        )
        .bind(alert_id)
        .bind(at_ms)
        .bind(kind)
        .bind(user_id)
        .bind(note)
        .bind(detail)
        .fetch_one(&mut *self.tx)
        .await?)
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// Open alerts (not resolved, condition not cleared) whose condition starts with one of
    /// `prefixes`: subject key and condition → level.
    pub async fn open_conditions(
        &mut self,
        prefixes: &[&str],
    ) -> Result<std::collections::HashMap<(String, String), String>, StoreError> {
        if prefixes.is_empty() {
            return Ok(Default::default());
        }
        let mut q = Sql::new(
            "select subject, condition, level from alerts where status <> 'resolved' and cleared_ms is null and (",
        );
        for (i, p) in prefixes.iter().enumerate() {
            let p = q.arg(p.to_string());
            q.push(format!("{}substr(condition, 1, length({p})) = {p}", if i == 0 { "" } else { " or " }));
        }
        q.push(")");
        let rows: Vec<(String, String, String)> = q.query_as().fetch_all(&mut *self.tx).await?;
        Ok(rows.into_iter().map(|(s, c, l)| ((s, c), l)).collect())
    }
}
