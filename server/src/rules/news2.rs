//! NEWS2 (Royal College of Physicians, 2017): points per parameter, and the partial score the
//! rules compute from the vitals a wearable gives.
//!
//! Bands are read as cut points, so a value between two integer bands (91.5 % SpO2) falls in the
//! milder one. A partial score is never a full one: respiration, consciousness and air/oxygen
//! never come from wearables and are always listed as missing.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::level::Level;
use super::state::{MINUTE_MS, ResidentState, Sample};
use super::{Context, Effect};

/// Respiration rate, /min.
pub fn score_respiration(v: f64) -> u8 {
    match v {
        v if v <= 8.0 => 3,
        v if v <= 11.0 => 1,
        v if v <= 20.0 => 0,
        v if v <= 24.0 => 2,
        _ => 3,
    }
}

/// SpO2 on scale 1, %.
pub fn score_spo2_scale1(v: f64) -> u8 {
    match v {
        v if v <= 91.0 => 3,
        v if v <= 93.0 => 2,
        v if v <= 95.0 => 1,
        _ => 0,
    }
}

/// SpO2 on scale 2 (hypercapnic respiratory failure), %. Above 92 % it scores only on oxygen.
pub fn score_spo2_scale2(v: f64, on_oxygen: bool) -> u8 {
    match v {
        v if v <= 83.0 => 3,
        v if v <= 85.0 => 2,
        v if v <= 87.0 => 1,
        v if v <= 92.0 || !on_oxygen => 0,
        v if v <= 94.0 => 1,
        v if v <= 96.0 => 2,
        _ => 3,
    }
}

/// Air or supplemental oxygen.
pub fn score_air_or_oxygen(on_oxygen: bool) -> u8 {
    if on_oxygen { 2 } else { 0 }
}

/// Systolic blood pressure, mmHg.
pub fn score_systolic(v: f64) -> u8 {
    match v {
        v if v <= 90.0 => 3,
        v if v <= 100.0 => 2,
        v if v <= 110.0 => 1,
        v if v < 220.0 => 0,
        _ => 3,
    }
}

/// Pulse, /min.
pub fn score_pulse(v: f64) -> u8 {
    match v {
        v if v <= 40.0 => 3,
        v if v <= 50.0 => 1,
        v if v <= 90.0 => 0,
        v if v <= 110.0 => 1,
        v if v <= 130.0 => 2,
        _ => 3,
    }
}

/// Consciousness: alert, or new confusion / voice / pain / unresponsive.
pub fn score_consciousness(alert: bool) -> u8 {
    if alert { 0 } else { 3 }
}

/// Temperature, °C.
pub fn score_temperature(v: f64) -> u8 {
    match v {
        v if v <= 35.0 => 3,
        v if v <= 36.0 => 1,
        v if v <= 38.0 => 0,
        v if v <= 39.0 => 1,
        _ => 2,
    }
}

/// The parameters no wearable measures.
pub const ALWAYS_MISSING: [&str; 3] = ["respiration_rate", "consciousness", "air_or_oxygen"];

/// The latest value of each vital the rules pair or score.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Vitals {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spo2: Option<Sample>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub systolic: Option<Sample>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diastolic: Option<Sample>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pulse: Option<Sample>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Sample>,
}

/// Keeps the newer of the stored sample and (`t`, `v`).
pub(crate) fn record(slot: &mut Option<Sample>, t: i64, v: f64) {
    if slot.is_none_or(|s| s.t <= t) {
        *slot = Some(Sample::new(t, v));
    }
}

/// The partial score at one moment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Partial {
    /// (parameter, value, points) for each parameter present, in the first `n` slots (no
    /// allocation: this runs on every vital reading).
    pub slots: [(&'static str, f64, u8); 4],
    pub n: usize,
    pub total: u32,
    pub max_single: u8,
    /// Bit mask of the parameters present (spo2, systolic, pulse, temperature).
    pub mask: u8,
}

/// The partial score from the vitals measured within the window around `t`.
pub(crate) fn partial(v: &Vitals, ctx: &Context, t: i64) -> Partial {
    let window = i64::from(ctx.thresholds.news2_window_min) * MINUTE_MS;
    let fresh = |s: Option<Sample>| s.filter(|s| t.saturating_sub(s.t).abs() <= window).map(|s| s.v);
    let spo2_points = |x: f64| {
        if ctx.thresholds.spo2_scale == 2 { score_spo2_scale2(x, false) } else { score_spo2_scale1(x) }
    };
    let mut p = Partial { slots: [("", 0.0, 0); 4], n: 0, total: 0, max_single: 0, mask: 0 };
    p.add("spo2", 1, fresh(v.spo2), spo2_points);
    p.add("systolic_bp", 2, fresh(v.systolic), score_systolic);
    p.add("pulse", 4, fresh(v.pulse), score_pulse);
    p.add("temperature", 8, fresh(v.temperature), score_temperature);
    p
}

impl Partial {
    pub(crate) fn scored(&self) -> &[(&'static str, f64, u8)] {
        &self.slots[..self.n]
    }

    fn add(&mut self, name: &'static str, bit: u8, value: Option<f64>, score: impl Fn(f64) -> u8) {
        if let Some(x) = value {
            let points = score(x);
            self.slots[self.n] = (name, x, points);
            self.n += 1;
            self.total += u32::from(points);
            self.max_single = self.max_single.max(points);
            self.mask |= bit;
        }
    }
}

/// Evaluates the partial NEWS2 after a NEWS2 vital measured at `t`.
pub(crate) fn evaluate(state: &mut ResidentState, ctx: &Context, t: i64, fx: &mut Vec<Effect>) {
    let th = ctx.thresholds;
    let p = partial(&state.vitals, ctx, t);
    if p.n == 0 {
        return;
    }
    let level = if p.total >= th.news2_critical_score {
        Some(Level::Critical)
    } else if p.total >= th.news2_urgent_score || p.max_single >= 3 {
        Some(Level::Urgent)
    } else {
        None
    };
    match level {
        Some(level) => {
            state.news2_params = p.mask;
            state.raise(fx, "news2", level, f64::from(p.total), 1.0, || finding(&p, ctx, t, level));
        }
        // Only an evaluation with at least the parameters of the alert counts towards clearing
        // (a probe taken off is not a recovery).
        None if p.mask & state.news2_params == state.news2_params => state.normal(fx, "news2", t, th),
        None => state.hold("news2"),
    }
}

fn finding(p: &Partial, ctx: &Context, t: i64, level: Level) -> (String, serde_json::Value) {
    let th = ctx.thresholds;
    let (risk, reason) = if p.total >= th.news2_critical_score {
        ("high", format!("{} or more", th.news2_critical_score))
    } else if p.total >= th.news2_urgent_score {
        ("medium", format!("{}–{}", th.news2_urgent_score, th.news2_critical_score.saturating_sub(1)))
    } else {
        let worst = p.scored().iter().find(|s| s.2 >= 3).map_or("a parameter", |s| s.0);
        ("low-medium", format!("{worst} scores 3"))
    };
    let mut missing: Vec<&str> = ["spo2", "systolic_bp", "pulse", "temperature"]
        .into_iter()
        .filter(|name| !p.scored().iter().any(|s| s.0 == *name))
        .collect();
    missing.extend(ALWAYS_MISSING);
    let scored: serde_json::Map<String, serde_json::Value> = p
        .scored()
        .iter()
        .map(|(name, v, points)| ((*name).to_owned(), json!({"value": v, "points": points})))
        .collect();
    let title = format!("Partial NEWS2 {} ({reason}), {} of 7 parameters missing", p.total, missing.len());
    let mut evidence = json!({
        "partial": true,
        "note": "partial NEWS2 from wearable readings only; not a full NEWS2 score",
        "score": p.total,
        "risk": risk,
        "level": level,
        "scored": scored,
        "missing": missing,
        "spo2_scale": th.spo2_scale,
        "window_min": th.news2_window_min,
        "at_ms": t,
    });
    if th.spo2_scale == 2 {
        evidence["assumption"] = json!("SpO2 scale 2 scored as on air (oxygen unknown)");
    }
    (title, evidence)
}
