//! The escalation worker: for each open alert whose next step is due, claim the step in the
//! database (compare-and-set on the step number, so it happens once across instances and
//! restarts), notify that step's people on the live stream and the webhooks, and schedule the
//! next step. An acknowledgement clears the schedule, which stops it.

use eldercare_store::escalation::DueAlert;
use eldercare_store::{Store, StoreError};
use serde_json::json;

use super::AlertSettings;
use super::policy::{self, Target};
use super::zones::Zones;
use crate::rules::Level;

const MINUTE_MS: i64 = 60_000;

/// Handles every escalation due at `now_ms`; returns how many steps were taken.
pub async fn run_once(store: &Store, settings: &AlertSettings, now_ms: i64) -> Result<usize, StoreError> {
    let mut taken = 0;
    let mut zones = Zones::default();
    for alert in store.due_escalations(now_ms, 100).await? {
        if step(store, settings, &mut zones, &alert, now_ms).await? {
            taken += 1;
        }
    }
    Ok(taken)
}

fn local_minute(now_ms: i64, utc_offset_minutes: i32) -> i64 {
    (now_ms / MINUTE_MS + utc_offset_minutes as i64).rem_euclid(1440)
}

async fn step(
    store: &Store,
    settings: &AlertSettings,
    zones: &mut Zones,
    a: &DueAlert,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let Some(level) = Level::parse(&a.level) else {
        tracing::error!(alert_id = a.alert_id, level = %a.level, "alert with an unknown level: not escalated");
        return Ok(false);
    };
    // A silenced resident (charging, in hospital) is not notified until the silence ends.
    if let Some(resident) = a.resident_id {
        if let Some(until) = store.silenced_until(resident, now_ms).await? {
            let mut tx = store.begin().await?;
            if tx.postpone_escalation(a.alert_id, a.escalation_step, until).await? {
                tx.event(a.alert_id, now_ms, "silenced", None, None, &json!({"until_ms": until}).to_string()).await?;
            }
            tx.commit().await?;
            return Ok(false);
        }
    }
    let (targets, next_in_min) = policy::at_step(level, a.escalation_step);
    // Shifts are in the local time of the home's community.
    let offset = match store.household_time_zone(a.household_id).await? {
        Some(tz) => zones.offset_minutes(&tz, now_ms, settings.utc_offset_minutes),
        None => settings.utc_offset_minutes,
    };
    let minute = local_minute(now_ms, offset);
    let mut users: Vec<(i64, &'static str)> = Vec::new();
    for t in targets {
        let found = match (t, t.tier()) {
            (Target::Family, _) => store.family_of(a.resident_id, a.household_id).await?,
            (_, Some(tier)) => {
                let on_duty = store.on_duty(a.household_id, tier, minute).await?;
                if on_duty.is_empty() && *t == Target::Primary {
                    store.caregivers_of(a.household_id).await?
                } else {
                    on_duty
                }
            }
            (_, None) => Vec::new(),
        };
        let label = t.tier().unwrap_or("family");
        for u in found {
            if !users.iter().any(|(x, _)| *x == u) {
                users.push((u, label));
            }
        }
    }
    let webhooks: Vec<i64> = store
        .active_webhooks()
        .await?
        .into_iter()
        .filter(|(_, min)| Level::parse(min).is_some_and(|m| level >= m))
        .map(|(id, _)| id)
        .collect();

    let next_ms = next_in_min.map(|m| now_ms + m * MINUTE_MS);
    let mut tx = store.begin().await?;
    if !tx.claim_escalation(a.alert_id, a.escalation_step, next_ms).await? {
        // Another instance took this step, or someone acknowledged meanwhile.
        return Ok(false);
    }
    let payload = json!({
        "alert_id": a.alert_id,
        "level": a.level,
        "condition": a.condition,
        "title": a.title,
        "step": a.escalation_step,
        "resident_id": a.resident_id,
        "household_id": a.household_id,
        "opened_ms": a.opened_ms,
        "notified_user_ids": users.iter().map(|(u, _)| u).collect::<Vec<_>>(),
    })
    .to_string();
    for (user, _) in &users {
        tx.add_notification(a.alert_id, a.escalation_step, "live", Some(*user), None, &payload, now_ms).await?;
    }
    for w in &webhooks {
        tx.add_notification(a.alert_id, a.escalation_step, "webhook", None, Some(*w), &payload, now_ms).await?;
    }
    let kind = if a.escalation_step == 0 { "notified" } else { "escalated" };
    let detail = json!({
        "step": a.escalation_step,
        "users": users.iter().map(|(u, tier)| json!({"user_id": u, "as": tier})).collect::<Vec<_>>(),
        "webhooks": webhooks,
        "next_ms": next_ms,
    });
    tx.event(a.alert_id, now_ms, kind, None, None, &detail.to_string()).await?;
    tx.commit().await?;
    if users.is_empty() && webhooks.is_empty() {
        tracing::warn!(alert_id = a.alert_id, step = a.escalation_step, "escalation step reached nobody");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_minute_wraps() {
        // 2026-01-01T16:30Z is 00:30 in UTC+8.
        let t = 1_767_285_000_000;
        assert_eq!(local_minute(t, 8 * 60), 30);
        assert_eq!(local_minute(t, 0), 16 * 60 + 30);
        assert_eq!(local_minute(t, -17 * 60), (16 * 60 + 30 - 17 * 60 + 1440) % 1440);
    }
}
