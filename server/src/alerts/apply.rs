//! Runs the rules inside the ingest transaction and applies what they decide, so an alert
//! commits with the reading that caused it (or neither does).

use std::collections::{BTreeMap, HashMap};

use eldercare_store::{NewReading, RuleRow, StoreError, StoreTx, Subject};

use super::zones::Zones;

use crate::rules::{self, Context, Effect, Observation, ResidentState, Thresholds};

/// What applying effects did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub opened: u64,
    pub updated: u64,
    pub cleared: u64,
}

impl Applied {
    fn add(&mut self, o: Applied) {
        self.opened += o.opened;
        self.updated += o.updated;
        self.cleared += o.cleared;
    }
}

/// A resident's rule state, thresholds, and offset from UTC now (of the community's time zone).
pub struct Loaded {
    pub state: ResidentState,
    pub thresholds: Thresholds,
    pub utc_offset_minutes: i32,
}

/// Loads a resident's rule state, thresholds and time zone (see [`parse`]); a resident not found
/// gets the defaults and `fallback_offset`.
pub async fn load(tx: &mut StoreTx, resident_id: i64, fallback_offset: i32, now_ms: i64) -> Result<Loaded, StoreError> {
    let row = tx.rule_inputs(&[resident_id]).await?.pop();
    Ok(loaded(resident_id, row.as_ref(), &mut Zones::default(), fallback_offset, now_ms))
}

fn loaded(resident_id: i64, row: Option<&RuleRow>, zones: &mut Zones, fallback_offset: i32, now_ms: i64) -> Loaded {
    let (state, thresholds) =
        parse(resident_id, row.map(|r| r.state.as_str()), row.and_then(|r| r.overrides.as_deref()));
    let utc_offset_minutes =
        row.map_or(fallback_offset, |r| zones.offset_minutes(&r.time_zone, now_ms, fallback_offset));
    Loaded { state, thresholds, utc_offset_minutes }
}

/// A stored rule state and threshold overrides (JSON), as [`load`] reads them.
pub fn parse(resident_id: i64, state: Option<&str>, overrides: Option<&str>) -> (ResidentState, Thresholds) {
    let state = match state.map(serde_json::from_str::<ResidentState>) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            tracing::error!(resident_id, error = %e, "stored rule state does not parse; starting afresh");
            ResidentState::default()
        }
        None => ResidentState::default(),
    };
    let thresholds = match overrides.map(|o| serde_json::from_str::<serde_json::Value>(o).map_err(|e| e.to_string())) {
        Some(Ok(v)) => Thresholds::default().with_overrides(&v).unwrap_or_else(|e| {
            tracing::error!(resident_id, error = %e, "threshold overrides do not apply; using defaults");
            Thresholds::default()
        }),
        Some(Err(e)) => {
            tracing::error!(resident_id, error = %e, "threshold overrides are not JSON; using defaults");
            Thresholds::default()
        }
        None => Thresholds::default(),
    };
    (state, thresholds)
}

pub async fn save(tx: &mut StoreTx, resident_id: i64, state: &ResidentState, now_ms: i64) -> Result<(), StoreError> {
    tx.save_rule_states(&[(resident_id, to_json(state))], now_ms).await
}

fn to_json(state: &ResidentState) -> String {
    serde_json::to_string(state).expect("rule state serialises")
}

/// Evaluates the rules on the readings this batch stored for the first time. The residents'
/// states are read (and, on PostgreSQL, locked) in one query and saved in one statement; only
/// what the rules decide (alerts, timers) costs statements of its own.
pub async fn on_readings(
    tx: &mut StoreTx,
    fresh: &[&NewReading],
    fallback_offset: i32,
    now_ms: i64,
) -> Result<Applied, StoreError> {
    let mut by_resident: BTreeMap<i64, Vec<Observation>> = BTreeMap::new();
    for r in fresh {
        by_resident.entry(r.resident_id).or_default().push(Observation {
            device_id: r.device_id.clone(),
            metric: r.metric,
            value: r.value,
            time_ms: r.measured_ms,
        });
    }
    if by_resident.is_empty() {
        return Ok(Applied::default());
    }
    let ids: Vec<i64> = by_resident.keys().copied().collect();
    let mut rows: HashMap<i64, RuleRow> = tx.rule_inputs(&ids).await?.into_iter().map(|r| (r.resident_id, r)).collect();
    let mut zones = Zones::default();
    let mut applied = Applied::default();
    let mut saved = Vec::with_capacity(by_resident.len());
    for (resident_id, mut obs) in by_resident {
        obs.sort_by_key(|o| o.time_ms);
        let row = rows.remove(&resident_id);
        let Loaded { mut state, thresholds, utc_offset_minutes } =
            loaded(resident_id, row.as_ref(), &mut zones, fallback_offset, now_ms);
        let ctx = Context { thresholds: &thresholds, now_ms, utc_offset_minutes };
        let effects = rules::evaluate(&mut state, &ctx, &obs);
        applied.add(apply(tx, Subject::Resident(resident_id), resident_id, &effects, now_ms).await?);
        saved.push((resident_id, to_json(&state)));
    }
    tx.save_rule_states(&saved, now_ms).await?;
    Ok(applied)
}

/// Applies effects about `subject` (timers belong to `resident_id`).
pub async fn apply(
    tx: &mut StoreTx,
    subject: Subject,
    resident_id: i64,
    effects: &[Effect],
    now_ms: i64,
) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    for e in effects {
        match e {
            Effect::Raise(f) => {
                let evidence = serde_json::to_string(&f.evidence).expect("evidence serialises");
                let r = tx.raise(subject, &f.condition, f.level.as_str(), &f.title, &evidence, now_ms).await?;
                if r.opened {
                    applied.opened += 1;
                    metrics::counter!("eldercare_alerts_opened_total", "level" => f.level.as_str()).increment(1);
                } else {
                    applied.updated += 1;
                }
            }
            Effect::Clear { condition } => {
                if tx.clear(subject, condition, now_ms).await?.is_some() {
                    applied.cleared += 1;
                }
            }
            Effect::StartTimer { key, due_ms } => tx.start_timer(resident_id, key, *due_ms).await?,
            Effect::CancelTimer { key } => tx.cancel_timer(resident_id, key).await?,
        }
    }
    Ok(applied)
}
