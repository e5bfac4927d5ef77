//! The sweeper: fires due rule timers (a fall's cancel window) and evaluates the silence rules
//! (no data from a worn device, a gateway offline, low battery) once a minute.

use std::collections::HashMap;

use eldercare_store::{Store, StoreError, Subject};

use super::AlertSettings;
use super::apply::{self, Applied};
use crate::rules::{self, Context, DeviceSeen, Effect, GatewaySeen, Level, Thresholds};

const SILENCE_EVERY_MS: i64 = 60_000;

#[derive(Debug, Default)]
pub struct Sweeper {
    last_silence_ms: Option<i64>,
}

impl Sweeper {
    pub async fn run_once(
        &mut self,
        store: &Store,
        settings: &AlertSettings,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        let mut applied = fire_timers(store, settings, now_ms).await?;
        if self.last_silence_ms.is_none_or(|t| now_ms - t >= SILENCE_EVERY_MS) {
            self.last_silence_ms = Some(now_ms);
            let s = silence(store, now_ms).await?;
            applied.opened += s.opened;
            applied.updated += s.updated;
            applied.cleared += s.cleared;
        }
        Ok(applied)
    }
}

/// Fires every rule timer due at `now_ms`, each in its own transaction that also deletes it.
pub async fn fire_timers(store: &Store, settings: &AlertSettings, now_ms: i64) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    for (resident_id, key) in store.due_timers(now_ms, 100).await? {
        let mut tx = store.begin().await?;
        if !tx.claim_timer(resident_id, &key, now_ms).await? {
            continue;
        }
        let apply::Loaded { mut state, thresholds, utc_offset_minutes } =
            apply::load(&mut tx, resident_id, settings.utc_offset_minutes, now_ms).await?;
        let ctx = Context { thresholds: &thresholds, now_ms, utc_offset_minutes };
        let effects = rules::on_timer(&mut state, &ctx, &key);
        let a = apply::apply(&mut tx, Subject::Resident(resident_id), resident_id, &effects, now_ms).await?;
        apply::save(&mut tx, resident_id, &state, now_ms).await?;
        tx.commit().await?;
        applied.opened += a.opened;
        applied.updated += a.updated;
    }
    Ok(applied)
}

/// Evaluates the silence rules over every gateway and device.
pub async fn silence(store: &Store, now_ms: i64) -> Result<Applied, StoreError> {
    let (gateways, devices) = store.silence_inputs().await?;
    let overrides: HashMap<i64, serde_json::Value> = store
        .all_threshold_overrides()
        .await?
        .into_iter()
        .filter_map(|(r, o)| serde_json::from_str(&o).ok().map(|v| (r, v)))
        .collect();
    let thresholds_of = |resident: i64| -> Thresholds {
        overrides.get(&resident).and_then(|o| Thresholds::default().with_overrides(o).ok()).unwrap_or_default()
    };
    let gateways: Vec<GatewaySeen> = gateways
        .into_iter()
        .map(|g| GatewaySeen {
            online: g.status.as_deref() != Some("offline"),
            since_ms: g.status_ms.unwrap_or(g.created_ms),
            gateway_id: g.gateway_id,
            household_id: g.household_id,
        })
        .collect();
    let devices: Vec<DeviceSeen> = devices
        .into_iter()
        .map(|d| DeviceSeen {
            device_id: d.device_id,
            resident_id: d.resident_id,
            kind: d.kind,
            gateway_id: d.gateway_id,
            last_reading_ms: d.last_reading_ms,
            registered_ms: d.created_ms,
            battery_pct: d.battery_pct,
        })
        .collect();
    let effects = rules::evaluate_silence(&thresholds_of, &gateways, &devices, now_ms);
    let mut applied = Applied::default();
    if effects.is_empty() {
        return Ok(applied);
    }
    let mut tx = store.begin().await?;
    // Silence findings repeat every sweep (the rules keep no state here): act only on a change,
    // i.e. a condition not open yet or open at a lower level, or a Clear of an open one.
    let open = tx.open_conditions(&["no_data:", "low_battery:", "gateway_offline:"]).await?;
    for (subject, effect) in effects {
        let (subject, resident) = match subject {
            rules::Subject::Resident(r) => (Subject::Resident(r), r),
            rules::Subject::Household(h) => (Subject::Household(h), 0),
        };
        let changes = match &effect {
            Effect::Raise(f) => match open.get(&(subject.key(), f.condition.clone())) {
                Some(level) => Level::parse(level).is_none_or(|l| f.level > l),
                None => true,
            },
            Effect::Clear { condition } => open.contains_key(&(subject.key(), condition.clone())),
            _ => true,
        };
        if !changes {
            continue;
        }
        let a = apply::apply(&mut tx, subject, resident, std::slice::from_ref(&effect), now_ms).await?;
        applied.opened += a.opened;
        applied.updated += a.updated;
        applied.cleared += a.cleared;
    }
    tx.commit().await?;
    Ok(applied)
}
