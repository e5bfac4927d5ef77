//! The rules engine: turns a resident's readings into alert decisions.
//!
//! Pure: no database, no I/O, no clock. Time comes in as arguments (each observation's own
//! `time_ms` for every window, so a backlog after an outage is judged as it happened; `now_ms`
//! only stamps timers). The caller keeps one [`ResidentState`] per resident as JSON, loads it,
//! calls [`evaluate`] (inside the transaction that stores the readings) or [`on_timer`], applies
//! the [`Effect`]s and saves the state back; so server instances stay stateless.
//!
//! Rules (numbers from `shared/CLINICAL.md`, all in [`Thresholds`]):
//!
//! | condition | level | rule |
//! |---|---|---|
//! | `spo2_low` | critical | SpO2 < 88 % (scale 1) or < 84 % (scale 2, COPD) |
//! | `pulse_extreme` | critical | pulse ≤ 40 or ≥ 131 /min |
//! | `systolic_low` | critical | systolic ≤ 90 mmHg; "repeat the measurement" |
//! | `bp_crisis` | critical | > 180 systolic and/or > 120 diastolic; "repeat the measurement" |
//! | `fever` | urgent | one > 37.8 °C, two > 37.2 °C within 24 h, or > 1.1 °C above baseline |
//! | `news2` | critical / urgent | partial NEWS2 ≥ 7 / 5–6 or a parameter scoring 3 |
//! | `baseline:<metric>` | urgent | sustained deviation from the personal baseline |
//! | `weight_gain` | warning | ≥ 2 kg within 2 days |
//! | `resting_hr_drift` | warning | night resting HR ≥ 4 /min above baseline, 2 nights running |
//! | `activity_falling` | warning | daily steps below half the usual, 3 days running |
//! | `fall` | critical | a fall not cancelled within 30 s (timer `fall:<device>`) |
//! | `help_button` | critical | every press |
//! | `no_data:<device>` | `no_data_level` | no reading for the kind's `no_data_hours` ([`evaluate_silence`]) |
//! | `gateway_offline:<gateway>` | info (or the household's `no_data_level`) | offline > 10 min |
//! | `low_battery:<device>` | info | battery < 15 % |
//!
//! An open condition is raised again only when its level rises or its evidence gets materially
//! worse; it clears only after being normal for `sustained_periods` readings (past a hysteresis
//! margin) or periods, so noise near a threshold does not flap between Raise and Clear.

mod baseline;
mod events;
mod guardrails;
mod level;
pub mod news2;
mod silence;
mod state;
mod thresholds;
mod trend;

#[cfg(test)]
mod tests;

use eldercare_schema::Metric;
use serde::{Deserialize, Serialize};

pub use baseline::{BaselineBand, MAD_TO_SIGMA, ewma_limit, ewma_step, hampel_outlier, mad, median};
pub use level::Level;
pub use silence::{DeviceSeen, GatewaySeen, Subject, evaluate_silence};
pub use state::ResidentState;
pub use thresholds::Thresholds;

/// One reading of one resident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub device_id: String,
    pub metric: Metric,
    pub value: f64,
    /// When it was measured, milliseconds since the Unix epoch.
    pub time_ms: i64,
}

/// What an alert says. `title` is short English without names; `evidence` holds the values,
/// thresholds and scores behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub condition: String,
    pub level: Level,
    pub title: String,
    pub evidence: serde_json::Value,
}

/// A decision for the caller to apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Effect {
    /// Open the one open alert of this subject and condition, or update it with the new evidence
    /// (raising its level if this one is higher).
    Raise(Finding),
    /// The condition no longer holds: mark the open alert "condition cleared" (a person resolves
    /// it); a later Raise of the same condition is a new episode.
    Clear {
        condition: String,
    },
    /// Call [`on_timer`] with `key` at `due_ms`, unless cancelled first. Starting a key that is
    /// already running replaces it.
    StartTimer {
        key: String,
        due_ms: i64,
    },
    CancelTimer {
        key: String,
    },
}

/// What every call needs besides the state.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub thresholds: &'a Thresholds,
    /// The caller's clock, milliseconds since the Unix epoch.
    pub now_ms: i64,
    /// The community's offset from UTC, for nights (00:00–06:00 local) and day boundaries.
    pub utc_offset_minutes: i32,
}

/// Evaluates new observations of one resident, sorted by time (possibly a backlog of hours).
/// Implausible values (outside the metric catalogue's range, not finite) are ignored.
pub fn evaluate(state: &mut ResidentState, ctx: &Context, obs: &[Observation]) -> Vec<Effect> {
    let mut fx = Vec::new();
    for o in obs {
        observe(state, ctx, o, &mut fx);
    }
    fx
}

/// A timer started by an earlier [`Effect::StartTimer`] fired.
pub fn on_timer(state: &mut ResidentState, ctx: &Context, key: &str) -> Vec<Effect> {
    match key.strip_prefix("fall:") {
        Some(device_id) => events::fall_timer(state, ctx, device_id),
        None => Vec::new(),
    }
}

fn observe(state: &mut ResidentState, ctx: &Context, o: &Observation, fx: &mut Vec<Effect>) {
    if !o.metric.is_plausible(o.value) {
        return;
    }
    let (m, t, v) = (o.metric, o.time_ms, o.value);
    baseline::roll(state, ctx, m, t);
    match m {
        Metric::Spo2 => {
            news2::record(&mut state.vitals.spo2, t, v);
            guardrails::spo2(state, ctx, t, v, fx);
            news2::evaluate(state, ctx, t, fx);
        }
        Metric::HeartRate => {
            news2::record(&mut state.vitals.pulse, t, v);
            guardrails::pulse(state, ctx, t, v, fx);
            news2::evaluate(state, ctx, t, fx);
            trend::resting_hr(state, ctx, t, v, fx);
            if state::is_night(t, ctx) {
                return; // nights belong to the resting heart rate, not the daytime baseline
            }
        }
        Metric::BpSystolic => {
            news2::record(&mut state.vitals.systolic, t, v);
            guardrails::systolic(state, ctx, t, v, fx);
            news2::evaluate(state, ctx, t, fx);
        }
        Metric::BpDiastolic => {
            news2::record(&mut state.vitals.diastolic, t, v);
            guardrails::diastolic(state, ctx, t, v, fx);
        }
        Metric::BodyTemperature => {
            news2::record(&mut state.vitals.temperature, t, v);
            guardrails::fever(state, ctx, t, v, fx);
            news2::evaluate(state, ctx, t, fx);
        }
        Metric::BodyWeight => trend::weight(state, ctx, t, v, fx),
        Metric::Steps => trend::activity(state, ctx, t, v, fx),
        Metric::Fall => events::fall(state, ctx, &o.device_id, t, v, fx),
        Metric::HelpButton => events::help_button(&o.device_id, t, fx),
        Metric::Glucose | Metric::RrInterval | Metric::BpMean | Metric::Battery => {}
    }
    baseline::observe(state, ctx, m, t, v, fx);
}
