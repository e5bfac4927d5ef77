//! Absolute guard-rails, on from day one whatever the baseline: low SpO2 on the resident's scale,
//! extreme pulse, low systolic, hypertensive crisis, and fever by the IDSA older-adult rules.
//!
//! Each fires on a single reading (with "repeat the measurement" in the evidence where a home
//! device may be wrong) and clears only after `sustained_periods` normal readings spanning
//! `clear_min`, each past a hysteresis margin, so a value hovering at a threshold stays one alert.

use eldercare_schema::Metric;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::level::Level;
use super::state::{HOUR_MS, MINUTE_MS, ResidentState, Sample};
use super::{Context, Effect};

/// Margins a value must clear before a reading counts as normal again.
const SPO2_MARGIN: f64 = 2.0;
const PULSE_MARGIN: f64 = 5.0;
const SYSTOLIC_LOW_MARGIN: f64 = 5.0;
const BP_CRISIS_MARGIN: f64 = 10.0;
const FEVER_MARGIN_C: f64 = 0.2;
/// Systolic and diastolic readings this close in time are one measurement.
const BP_PAIR_MS: i64 = 2 * MINUTE_MS;

const REPEAT: &str = "repeat the measurement to confirm";

/// What the fever rules remember.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct FeverState {
    /// The last temperature above `fever_repeated_c`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_above_repeated: Option<Sample>,
}

pub(crate) fn spo2(state: &mut ResidentState, ctx: &Context, t: i64, v: f64, fx: &mut Vec<Effect>) {
    let th = ctx.thresholds;
    let limit = if th.spo2_scale == 2 { th.spo2_scale2_critical_below } else { th.spo2_critical_below };
    if v < limit {
        state.raise(fx, "spo2_low", Level::Critical, -v, 1.0, || {
            (
                format!("SpO2 {v} % (below {limit} %, scale {}): check now", th.spo2_scale),
                json!({"spo2": v, "below": limit, "spo2_scale": th.spo2_scale, "at_ms": t, "action": REPEAT}),
            )
        });
    } else if v >= limit + SPO2_MARGIN {
        state.normal(fx, "spo2_low", t, th);
    } else {
        state.hold("spo2_low");
    }
}

pub(crate) fn pulse(state: &mut ResidentState, ctx: &Context, t: i64, v: f64, fx: &mut Vec<Effect>) {
    let th = ctx.thresholds;
    let (low, high) = (th.pulse_critical_low, th.pulse_critical_high);
    if v <= low || v >= high {
        let severity = (low - v).max(v - high);
        state.raise(fx, "pulse_extreme", Level::Critical, severity, 5.0, || {
            let side = if v <= low { format!("at most {low}") } else { format!("at least {high}") };
            (
                format!("Pulse {v} /min ({side} /min)"),
                json!({"pulse": v, "critical_at_or_below": low, "critical_at_or_above": high, "at_ms": t,
                       "action": REPEAT}),
            )
        });
    } else if v > low + PULSE_MARGIN && v < high - PULSE_MARGIN {
        state.normal(fx, "pulse_extreme", t, th);
    } else {
        state.hold("pulse_extreme");
    }
}

/// A systolic reading: low systolic and the systolic side of a hypertensive crisis. The systolic
/// reading also decides whether the crisis is over (one decision per measurement).
pub(crate) fn systolic(state: &mut ResidentState, ctx: &Context, t: i64, v: f64, fx: &mut Vec<Effect>) {
    let th = ctx.thresholds;
    let low = th.systolic_critical_low;
    if v <= low {
        state.raise(fx, "systolic_low", Level::Critical, low - v, 5.0, || {
            (
                format!("Systolic blood pressure {v} mmHg (at most {low}): {REPEAT}"),
                json!({"systolic": v, "critical_at_or_below": low, "at_ms": t, "action": REPEAT}),
            )
        });
    } else if v >= low + SYSTOLIC_LOW_MARGIN {
        state.normal(fx, "systolic_low", t, th);
    } else {
        state.hold("systolic_low");
    }

    let diastolic = paired(state.vitals.diastolic, t);
    let dia_crisis = diastolic.is_some_and(|d| d > th.bp_crisis_diastolic);
    if v > th.bp_crisis_systolic || dia_crisis {
        bp_crisis(state, ctx, t, Some(v), diastolic, fx);
    } else if v <= th.bp_crisis_systolic - BP_CRISIS_MARGIN
        && diastolic.is_none_or(|d| d <= th.bp_crisis_diastolic - BP_CRISIS_MARGIN)
    {
        state.normal(fx, "bp_crisis", t, th);
    } else {
        state.hold("bp_crisis");
    }
}

/// A diastolic reading: the diastolic side of a hypertensive crisis.
pub(crate) fn diastolic(state: &mut ResidentState, ctx: &Context, t: i64, v: f64, fx: &mut Vec<Effect>) {
    let th = ctx.thresholds;
    if v > th.bp_crisis_diastolic {
        let systolic = paired(state.vitals.systolic, t);
        bp_crisis(state, ctx, t, systolic, Some(v), fx);
    } else if v > th.bp_crisis_diastolic - BP_CRISIS_MARGIN {
        state.hold("bp_crisis");
    }
}

fn paired(s: Option<Sample>, t: i64) -> Option<f64> {
    s.filter(|s| t.saturating_sub(s.t).abs() <= BP_PAIR_MS).map(|s| s.v)
}

fn bp_crisis(
    state: &mut ResidentState,
    ctx: &Context,
    t: i64,
    sys: Option<f64>,
    dia: Option<f64>,
    fx: &mut Vec<Effect>,
) {
    let th = ctx.thresholds;
    let severity = sys.map_or(0.0, |s| s - th.bp_crisis_systolic).max(dia.map_or(0.0, |d| d - th.bp_crisis_diastolic));
    state.raise(fx, "bp_crisis", Level::Critical, severity, 10.0, || {
        let show = |x: Option<f64>| x.map_or_else(|| "?".to_owned(), |x| x.to_string());
        (
            format!(
                "Blood pressure {}/{} mmHg (crisis above {}/{}): {REPEAT}",
                show(sys),
                show(dia),
                th.bp_crisis_systolic,
                th.bp_crisis_diastolic
            ),
            json!({"systolic": sys, "diastolic": dia, "crisis_systolic_above": th.bp_crisis_systolic,
                   "crisis_diastolic_above": th.bp_crisis_diastolic, "at_ms": t, "action": REPEAT}),
        )
    });
}

/// Fever in older adults (IDSA): one reading above `fever_single_c`, two above `fever_repeated_c`
/// within `fever_repeat_hours`, or one more than `fever_above_baseline_c` above the personal
/// baseline (once it is learnt): many frail residents never reach 37.8 °C.
pub(crate) fn fever(state: &mut ResidentState, ctx: &Context, t: i64, v: f64, fx: &mut Vec<Effect>) {
    let th = ctx.thresholds;
    let baseline = state.baseline_median(Metric::BodyTemperature);
    let window = (th.fever_repeat_hours * HOUR_MS as f64) as i64;
    let previous = state.fever.last_above_repeated.filter(|p| p.t < t && t - p.t <= window);
    let mut rules = Vec::new();
    if v > th.fever_single_c {
        rules.push("single_reading");
    }
    if v > th.fever_repeated_c && previous.is_some() {
        rules.push("repeated_readings");
    }
    if baseline.is_some_and(|b| v > b + th.fever_above_baseline_c) {
        rules.push("above_baseline");
    }
    if v > th.fever_repeated_c {
        state.fever.last_above_repeated = Some(Sample::new(t, v));
    }
    if !rules.is_empty() {
        state.raise(fx, "fever", Level::Urgent, v, 0.3, || {
            (
                format!("Fever {v} °C ({})", rules.join(", ").replace('_', " ")),
                json!({
                    "temperature": v,
                    "rules": rules,
                    "single_above": th.fever_single_c,
                    "repeated_above": th.fever_repeated_c,
                    "previous": previous.map(|p| json!({"temperature": p.v, "at_ms": p.t})),
                    "baseline_median": baseline,
                    "above_baseline_by": th.fever_above_baseline_c,
                    "at_ms": t,
                }),
            )
        });
        return;
    }
    let normal = v <= th.fever_repeated_c - FEVER_MARGIN_C
        && baseline.is_none_or(|b| v <= b + th.fever_above_baseline_c - FEVER_MARGIN_C);
    if normal {
        state.normal(fx, "fever", t, th);
    } else {
        state.hold("fever");
    }
}
