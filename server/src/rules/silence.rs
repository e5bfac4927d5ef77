//! Silence rules, evaluated by the sweeper over all households: a device with no reading for its
//! kind's `no_data_hours`, a gateway offline, a low battery.
//!
//! Stateless: every call returns the whole picture — a Raise for each condition that holds and a
//! Clear for each that does not — and the caller opens, updates or marks cleared. A gateway
//! offline for longer than `gateway_offline_min` is one alert on the household; its devices'
//! no-data conditions are cleared instead of raised (one alert, not six). So that silence stays
//! an emergency for someone living alone, the gateway alert takes the highest `no_data_level`
//! of the devices that would have been silent.

use std::collections::HashMap;

use serde_json::json;

use super::level::Level;
use super::state::{HOUR_MS, MINUTE_MS, q};
use super::{Effect, Finding, Thresholds};

/// A low-battery alert clears only once the battery is this many points above the threshold.
const BATTERY_MARGIN_PCT: f64 = 5.0;

/// What the sweeper knows of one registered device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSeen {
    pub device_id: String,
    pub resident_id: i64,
    /// The device kind, e.g. `heart_rate_band` (keys of `Thresholds::no_data_hours`).
    pub kind: String,
    pub gateway_id: String,
    /// Measurement time of its latest stored reading.
    pub last_reading_ms: Option<i64>,
    pub registered_ms: i64,
    pub battery_pct: Option<f64>,
}

/// What the sweeper knows of one gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewaySeen {
    pub gateway_id: String,
    pub household_id: i64,
    pub online: bool,
    /// Since when it has been in its current state (online or offline).
    pub since_ms: i64,
}

/// Who an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Resident(i64),
    Household(i64),
}

/// Evaluates the silence rules at `now_ms`. Output order: per device (no-data, then battery) in
/// the order given, then per gateway.
pub fn evaluate_silence(
    thresholds_of: &dyn Fn(i64) -> Thresholds,
    gateways: &[GatewaySeen],
    devices: &[DeviceSeen],
    now_ms: i64,
) -> Vec<(Subject, Effect)> {
    let mut cache: HashMap<i64, Thresholds> = HashMap::new();
    for d in devices {
        cache.entry(d.resident_id).or_insert_with(|| thresholds_of(d.resident_id));
    }
    let default = Thresholds::default();
    let th = |resident: i64| cache.get(&resident).unwrap_or(&default);

    // A gateway's offline limit is the strictest among the residents it serves.
    let mut offline_min: HashMap<&str, u32> = HashMap::new();
    for d in devices {
        let m = th(d.resident_id).gateway_offline_min;
        offline_min.entry(d.gateway_id.as_str()).and_modify(|x| *x = (*x).min(m)).or_insert(m);
    }
    let default_min = default.gateway_offline_min;
    let down: HashMap<&str, &GatewaySeen> = gateways
        .iter()
        .filter(|g| {
            let min = offline_min.get(g.gateway_id.as_str()).copied().unwrap_or(default_min);
            !g.online && now_ms.saturating_sub(g.since_ms) >= i64::from(min) * MINUTE_MS
        })
        .map(|g| (g.gateway_id.as_str(), g))
        .collect();

    let mut out = Vec::new();
    // Per offline gateway: the level it takes and the devices it silences.
    let mut escalation: HashMap<&str, (Level, Vec<&str>)> = HashMap::new();
    for d in devices {
        let t = th(d.resident_id);
        let subject = Subject::Resident(d.resident_id);
        let key = format!("no_data:{}", d.device_id);
        let since = d.last_reading_ms.unwrap_or(d.registered_ms);
        let silent_ms = now_ms.saturating_sub(since);
        let limit_h = t.no_data_hours_for(&d.kind);
        let silent = limit_h.is_some_and(|h| silent_ms as f64 >= h * HOUR_MS as f64);
        if down.contains_key(d.gateway_id.as_str()) {
            if silent {
                let e = escalation.entry(d.gateway_id.as_str()).or_insert((Level::Info, Vec::new()));
                e.0 = e.0.max(t.no_data_level);
                e.1.push(d.device_id.as_str());
            }
            out.push((subject, Effect::Clear { condition: key }));
        } else if let (true, Some(h)) = (silent, limit_h) {
            let hours = q(silent_ms as f64 / HOUR_MS as f64);
            let finding = Finding {
                condition: key,
                level: t.no_data_level,
                title: format!("No reading from the {} for {hours} h", d.kind.replace('_', " ")),
                evidence: json!({"device_id": d.device_id, "kind": d.kind, "last_reading_ms": d.last_reading_ms,
                                 "registered_ms": d.registered_ms, "silent_hours": hours, "limit_hours": h,
                                 "gateway_id": d.gateway_id}),
            };
            out.push((subject, Effect::Raise(finding)));
        } else {
            out.push((subject, Effect::Clear { condition: key }));
        }

        let Some(battery) = d.battery_pct else { continue };
        let key = format!("low_battery:{}", d.device_id);
        if battery < t.low_battery_pct {
            let finding = Finding {
                condition: key,
                level: Level::Info,
                title: format!("Battery of the {} at {battery} %", d.kind.replace('_', " ")),
                evidence: json!({"device_id": d.device_id, "kind": d.kind, "battery_pct": battery,
                                 "below_pct": t.low_battery_pct}),
            };
            out.push((subject, Effect::Raise(finding)));
        } else if battery >= t.low_battery_pct + BATTERY_MARGIN_PCT {
            out.push((subject, Effect::Clear { condition: key }));
        }
    }

    for g in gateways {
        let subject = Subject::Household(g.household_id);
        let key = format!("gateway_offline:{}", g.gateway_id);
        if down.contains_key(g.gateway_id.as_str()) {
            let (level, silenced) = escalation.remove(g.gateway_id.as_str()).unwrap_or((Level::Info, Vec::new()));
            let minutes = now_ms.saturating_sub(g.since_ms) / MINUTE_MS;
            let finding = Finding {
                condition: key,
                level,
                title: format!("Home gateway offline for {minutes} min"),
                evidence: json!({"gateway_id": g.gateway_id, "offline_since_ms": g.since_ms, "offline_min": minutes,
                                 "devices_past_no_data_limit": silenced,
                                 "note": "no-data alerts of this home are suppressed while the gateway is offline"}),
            };
            out.push((subject, Effect::Raise(finding)));
        } else {
            out.push((subject, Effect::Clear { condition: key }));
        }
    }
    out
}
