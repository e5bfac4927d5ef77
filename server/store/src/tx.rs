//! A write transaction of ingest: readings, dead letters, and what the rules decide (rule state,
//! alerts, timers) commit together, so a crash can not lose an alert whose reading was stored.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite, Transaction};

use crate::ingest::{ROWS_PER_STATEMENT, insert_dead_letter, newest_per_vital};
use crate::{DeadLetter, IngestOutcome, NewReading, Store, StoreError};

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

pub struct StoreTx {
    tx: Transaction<'static, Sqlite>,
}

impl Store {
    /// Starts a write transaction. It takes the write lock at once (`begin immediate`): a
    /// deferred one that reads before writing fails outright in WAL mode when another
    /// connection commits in between, instead of waiting its turn.
    pub async fn begin(&self) -> Result<StoreTx, StoreError> {
        Ok(StoreTx { tx: self.pool.begin_with("begin immediate").await? })
    }
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
        Ok(self.tx.commit().await?)
    }

    /// Inserts readings idempotently; returns the counts and the readings that were new (a
    /// resend returns none, so rules see each reading once).
    pub async fn insert_readings<'r>(
        &mut self,
        gateway_id: &str,
        readings: &'r [NewReading],
        received_ms: i64,
    ) -> Result<(IngestOutcome, Vec<&'r NewReading>), StoreError> {
        let mut outcome = IngestOutcome::default();
        let mut new_keys: std::collections::HashSet<(String, i64)> = Default::default();
        for chunk in readings.chunks(ROWS_PER_STATEMENT) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "insert into readings (gateway_id, device_id, seq, resident_id, metric, value, \
                 measured_ms, received_ms, time_source) ",
            );
            qb.push_values(chunk, |mut row, r| {
                row.push_bind(gateway_id)
                    .push_bind(&r.device_id)
                    .push_bind(r.seq)
                    .push_bind(r.resident_id)
                    .push_bind(r.metric.code())
                    .push_bind(r.value)
                    .push_bind(r.measured_ms)
                    .push_bind(received_ms)
                    .push_bind(r.time_source);
            });
            qb.push(" on conflict do nothing returning device_id, seq");
            let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(&mut *self.tx).await?;
            outcome.inserted += rows.len() as u64;
            new_keys.extend(rows);
        }
        outcome.duplicates = readings.len() as u64 - outcome.inserted;
        let fresh: Vec<&NewReading> =
            readings.iter().filter(|r| new_keys.contains(&(r.device_id.clone(), r.seq))).collect();

        let owned: Vec<NewReading> = fresh.iter().map(|r| (*r).clone()).collect();
        let latest = newest_per_vital(&owned);
        for chunk in latest.chunks(ROWS_PER_STATEMENT) {
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("insert into latest_vitals (resident_id, metric, value, measured_ms, device_id) ");
            qb.push_values(chunk, |mut row, r| {
                row.push_bind(r.resident_id)
                    .push_bind(r.metric.code())
                    .push_bind(r.value)
                    .push_bind(r.measured_ms)
                    .push_bind(&r.device_id);
            });
            qb.push(
                " on conflict (resident_id, metric) do update set value = excluded.value, \
                 measured_ms = excluded.measured_ms, device_id = excluded.device_id \
                 where excluded.measured_ms > latest_vitals.measured_ms",
            );
            qb.build().execute(&mut *self.tx).await?;
        }

        // Per device: when it was last heard, and its battery, for the silence rules.
        let mut per_device: HashMap<&str, (i64, Option<f64>)> = HashMap::new();
        for r in &fresh {
            let e = per_device.entry(r.device_id.as_str()).or_insert((r.measured_ms, None));
            e.0 = e.0.max(r.measured_ms);
            if r.metric == eldercare_schema::Metric::Battery {
                e.1 = Some(r.value);
            }
        }
        for (device_id, (last, battery)) in per_device {
            sqlx::query(
                "update devices set last_reading_ms = max(coalesce(last_reading_ms, 0), ?), \
                 battery_pct = coalesce(?, battery_pct) where device_id = ?",
            )
            .bind(last)
            .bind(battery)
            .bind(device_id)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok((outcome, fresh))
    }

    pub async fn dead_letters(&mut self, dead: &[DeadLetter], received_ms: i64) -> Result<u64, StoreError> {
        let mut n = 0;
        for d in dead {
            n += insert_dead_letter(&mut self.tx, d, received_ms).await?;
        }
        Ok(n)
    }

    /// The stored rule state (JSON) and threshold overrides (JSON) of a resident.
    pub async fn rule_inputs(&mut self, resident_id: i64) -> Result<(Option<String>, Option<String>), StoreError> {
        let state: Option<String> = sqlx::query_scalar("select state from resident_rule_state where resident_id = ?")
            .bind(resident_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        let overrides: Option<String> =
            sqlx::query_scalar("select overrides from resident_thresholds where resident_id = ?")
                .bind(resident_id)
                .fetch_optional(&mut *self.tx)
                .await?;
        Ok((state, overrides))
    }

    pub async fn save_rule_state(&mut self, resident_id: i64, state: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "insert into resident_rule_state (resident_id, state, updated_ms) values (?, ?, ?) \
             on conflict (resident_id) do update set state = excluded.state, updated_ms = excluded.updated_ms",
        )
        .bind(resident_id)
        .bind(state)
        .bind(now_ms)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn household_of(&mut self, subject: Subject) -> Result<(Option<i64>, i64), StoreError> {
        match subject {
            Subject::Household(h) => Ok((None, h)),
            Subject::Resident(r) => {
                let h: i64 = sqlx::query_scalar("select household_id from residents where resident_id = ?")
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
        let open: Option<(i64, String)> = sqlx::query_as(
            "select alert_id, level from alerts where subject = ? and condition = ? and status <> 'resolved'",
        )
        .bind(&key)
        .bind(condition)
        .fetch_optional(&mut *self.tx)
        .await?;
        if let Some((alert_id, old_level)) = open {
            let level_raised = level_rank(level) > level_rank(&old_level);
            let new_level = if level_raised { level } else { old_level.as_str() };
            sqlx::query(
                "update alerts set level = ?, title = ?, evidence = ?, updated_ms = ?, cleared_ms = null, \
                 next_escalation_ms = case when ? and status = 'open' then ? else next_escalation_ms end, \
                 escalation_step = case when ? and status = 'open' then 0 else escalation_step end \
                 where alert_id = ?",
            )
            .bind(new_level)
            .bind(title)
            .bind(evidence)
            .bind(now_ms)
            .bind(level_raised)
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
        let alert_id: i64 = sqlx::query_scalar(
            "insert into alerts (subject, resident_id, household_id, condition, level, status, title, evidence, \
             opened_ms, updated_ms, next_escalation_ms) values (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?) returning alert_id",
        )
        .bind(&key)
        .bind(resident_id)
        .bind(household_id)
        .bind(condition)
        .bind(level)
        .bind(title)
        .bind(evidence)
        .bind(now_ms)
        .bind(now_ms)
        .bind(now_ms)
        .fetch_one(&mut *self.tx)
        .await?;
        self.event(alert_id, now_ms, "opened", None, None, evidence).await?;
        Ok(Raised { alert_id, opened: true, level_raised: false })
    }

    /// Notes that the condition no longer holds. The alert stays until a person resolves it; if
    /// the condition returns before that, the same alert is updated.
    pub async fn clear(&mut self, subject: Subject, condition: &str, now_ms: i64) -> Result<Option<i64>, StoreError> {
        let alert_id: Option<i64> = sqlx::query_scalar(
            "update alerts set cleared_ms = ?, updated_ms = ? where subject = ? and condition = ? \
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
            "insert into rule_timers (timer_key, resident_id, due_ms) values (?, ?, ?) \
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
        sqlx::query("delete from rule_timers where resident_id = ? and timer_key = ?")
            .bind(resident_id)
            .bind(key)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Claims one due timer of `resident_id` by deleting it; `false` when another instance (or
    /// a cancel) got there first.
    pub async fn claim_timer(&mut self, resident_id: i64, key: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("delete from rule_timers where resident_id = ? and timer_key = ? and due_ms <= ?")
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
            "insert into alert_events (alert_id, at_ms, kind, user_id, note, detail) values (?, ?, ?, ?, ?, ?) \
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

    pub(crate) fn conn(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.tx
    }

    /// Open alerts (not resolved, condition not cleared) whose condition starts with one of
    /// `prefixes`: subject key and condition → level.
    pub async fn open_conditions(
        &mut self,
        prefixes: &[&str],
    ) -> Result<std::collections::HashMap<(String, String), String>, StoreError> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "select subject, condition, level from alerts where status <> 'resolved' and cleared_ms is null and (",
        );
        let mut sep = qb.separated(" or ");
        for p in prefixes {
            sep.push("substr(condition, 1, ").push_bind_unseparated(p.len() as i64).push_unseparated(") = ");
            sep.push_bind_unseparated(p.to_string());
        }
        qb.push(")");
        let rows: Vec<(String, String, String)> = qb.build_query_as().fetch_all(&mut *self.tx).await?;
        Ok(rows.into_iter().map(|(s, c, l)| ((s, c), l)).collect())
    }
}
