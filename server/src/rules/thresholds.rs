//! Per-resident thresholds: defaults from CLINICAL.md, every field overridable by a clinician.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::level::Level;

/// The numbers the rules use. Defaults follow `shared/CLINICAL.md`; a resident's overrides are a
/// partial JSON object applied with [`Thresholds::with_overrides`]. Comparison directions are part
/// of each field's meaning ("below" is `<`, "at most" is `≤`, "above" is `>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thresholds {
    // --- guard-rails (always on) -------------------------------------------------------------
    /// NEWS2 SpO2 scale: 1, or 2 for hypercapnic respiratory failure (COPD, target 88–92 %).
    pub spo2_scale: u8,
    /// Scale 1: SpO2 below this (%) is critical.
    pub spo2_critical_below: f64,
    /// Scale 2: SpO2 below this (%) is critical (NEWS2 scale 2 scores 3 at ≤ 83).
    pub spo2_scale2_critical_below: f64,
    /// A sustained fall of this many points from the resident's usual SpO2 is a baseline deviation
    /// even when the statistics would allow more (BTS 2017).
    pub spo2_drop_points: f64,
    /// Pulse at most this (/min) is critical.
    pub pulse_critical_low: f64,
    /// Pulse at least this (/min) is critical.
    pub pulse_critical_high: f64,
    /// Systolic at most this (mmHg) is critical.
    pub systolic_critical_low: f64,
    /// Systolic above this (mmHg) is a hypertensive crisis (critical).
    pub bp_crisis_systolic: f64,
    /// Diastolic above this (mmHg) is a hypertensive crisis (critical).
    pub bp_crisis_diastolic: f64,
    /// One temperature above this (°C) is a fever (IDSA, older adults).
    pub fever_single_c: f64,
    /// Two temperatures above this (°C) within `fever_repeat_hours` are a fever.
    pub fever_repeated_c: f64,
    pub fever_repeat_hours: f64,
    /// A temperature more than this (°C) above the personal baseline is a fever.
    pub fever_above_baseline_c: f64,
    /// A condition opened by single readings is cleared after `sustained_periods` normal readings
    /// in a row spanning at least this many minutes.
    pub clear_min: u32,

    // --- partial NEWS2 ------------------------------------------------------------------------
    /// Vitals older than this (minutes) before a reading do not count in its partial score.
    pub news2_window_min: u32,
    pub news2_urgent_score: u32,
    pub news2_critical_score: u32,

    // --- personal baselines ---------------------------------------------------------------------
    /// Days with data needed before baseline rules go live (guard-rails apply from day one).
    pub baseline_learning_days: u32,
    /// The trailing window of the baseline, in days.
    pub baseline_window_days: u32,
    /// The length of one period (minutes): readings are averaged per period.
    pub baseline_period_min: u32,
    /// Periods in a row that must deviate before an alert, and be normal before it clears.
    pub sustained_periods: u32,
    /// Hampel rule: a deviation beyond this many robust standard deviations (1.4826 × MAD).
    pub hampel_k: f64,
    /// EWMA weight of the newest period (NIST: 0.2–0.3).
    pub ewma_lambda: f64,
    /// EWMA control limits, in standard deviations of the EWMA.
    pub ewma_limit_sigma: f64,

    // --- trends ---------------------------------------------------------------------------------
    /// A weight gain of at least this (kg) within `weight_gain_days` is a warning.
    pub weight_gain_kg: f64,
    pub weight_gain_days: f64,
    /// Night resting heart rate at least this (/min) above its baseline …
    pub resting_hr_rise: f64,
    /// … on this many nights running is a warning.
    pub resting_hr_nights: u32,
    /// Daily steps below (1 − this fraction) × the usual daily steps …
    pub activity_drop_fraction: f64,
    /// … on this many days running is a warning.
    pub activity_days: u32,

    // --- events ---------------------------------------------------------------------------------
    /// Seconds the wearer has to cancel a detected fall before it becomes a critical alert.
    pub fall_cancel_s: u32,

    // --- silence ----------------------------------------------------------------------------------
    /// Hours without a reading, per device kind, before a no-data alert (0 turns it off).
    pub no_data_hours: BTreeMap<String, f64>,
    /// Hours for a device kind missing from `no_data_hours`.
    pub no_data_default_hours: f64,
    /// The level of a no-data alert: info, or urgent for someone living alone.
    pub no_data_level: Level,
    /// Minutes a gateway may be offline before it is an alert.
    pub gateway_offline_min: u32,
    /// Battery below this (%) is an info alert.
    pub low_battery_pct: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        let no_data_hours = [
            ("heart_rate_band", 2.0),
            ("pulse_oximeter", 6.0),
            ("thermometer", 24.0),
            ("blood_pressure_cuff", 48.0),
            ("scale", 72.0),
            ("glucose_meter", 48.0),
            ("fall_pendant", 24.0),
        ]
        .into_iter()
        .map(|(k, h)| (k.to_owned(), h))
        .collect();
        Thresholds {
            spo2_scale: 1,
            spo2_critical_below: 88.0,
            spo2_scale2_critical_below: 84.0,
            spo2_drop_points: 3.0,
            pulse_critical_low: 40.0,
            pulse_critical_high: 131.0,
            systolic_critical_low: 90.0,
            bp_crisis_systolic: 180.0,
            bp_crisis_diastolic: 120.0,
            fever_single_c: 37.8,
            fever_repeated_c: 37.2,
            fever_repeat_hours: 24.0,
            fever_above_baseline_c: 1.1,
            clear_min: 15,
            news2_window_min: 60,
            news2_urgent_score: 5,
            news2_critical_score: 7,
            baseline_learning_days: 14,
            baseline_window_days: 28,
            baseline_period_min: 60,
            sustained_periods: 3,
            hampel_k: 3.0,
            ewma_lambda: 0.2,
            ewma_limit_sigma: 3.0,
            weight_gain_kg: 2.0,
            weight_gain_days: 2.0,
            resting_hr_rise: 4.0,
            resting_hr_nights: 2,
            activity_drop_fraction: 0.5,
            activity_days: 3,
            fall_cancel_s: 30,
            no_data_hours,
            no_data_default_hours: 24.0,
            no_data_level: Level::Info,
            gateway_offline_min: 10,
            low_battery_pct: 15.0,
        }
    }
}

impl Thresholds {
    /// Applies a partial JSON object of overrides (`no_data_hours` merges per device kind).
    /// An unknown field, a value of the wrong type or out of range is an error naming the field.
    pub fn with_overrides(&self, overrides: &Value) -> Result<Thresholds, String> {
        let Value::Object(changes) = overrides else {
            return Err("overrides must be a JSON object".to_owned());
        };
        let Ok(Value::Object(mut merged)) = serde_json::to_value(self) else {
            return Err("thresholds do not serialise".to_owned());
        };
        for (field, value) in changes {
            let Some(slot) = merged.get_mut(field) else {
                return Err(format!("unknown field `{field}`"));
            };
            match (field.as_str(), slot, value) {
                ("no_data_hours", Value::Object(kinds), Value::Object(new)) => {
                    kinds.extend(new.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                (_, slot, value) => *slot = value.clone(),
            }
            // Check this field alone, so that a type error names it.
            let single = Value::Object(Map::from_iter([(field.clone(), merged[field].clone())]));
            serde_json::from_value::<Thresholds>(single).map_err(|e| format!("field `{field}`: {e}"))?;
        }
        let t: Thresholds = serde_json::from_value(Value::Object(merged)).map_err(|e| e.to_string())?;
        t.validate()?;
        Ok(t)
    }

    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let non_negative = [
            ("spo2_critical_below", self.spo2_critical_below),
            ("spo2_scale2_critical_below", self.spo2_scale2_critical_below),
            ("spo2_drop_points", self.spo2_drop_points),
            ("pulse_critical_low", self.pulse_critical_low),
            ("pulse_critical_high", self.pulse_critical_high),
            ("systolic_critical_low", self.systolic_critical_low),
            ("bp_crisis_systolic", self.bp_crisis_systolic),
            ("bp_crisis_diastolic", self.bp_crisis_diastolic),
            ("fever_single_c", self.fever_single_c),
            ("fever_repeated_c", self.fever_repeated_c),
            ("fever_repeat_hours", self.fever_repeat_hours),
            ("fever_above_baseline_c", self.fever_above_baseline_c),
            ("hampel_k", self.hampel_k),
            ("ewma_limit_sigma", self.ewma_limit_sigma),
            ("weight_gain_kg", self.weight_gain_kg),
            ("weight_gain_days", self.weight_gain_days),
            ("resting_hr_rise", self.resting_hr_rise),
            ("no_data_default_hours", self.no_data_default_hours),
            ("low_battery_pct", self.low_battery_pct),
        ];
        for (name, v) in non_negative {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("field `{name}`: must be a finite number, at least 0"));
            }
        }
        for (kind, h) in &self.no_data_hours {
            if !h.is_finite() || *h < 0.0 {
                return Err(format!("field `no_data_hours.{kind}`: must be a finite number of hours, at least 0"));
            }
        }
        let at_least_one = [
            ("news2_window_min", self.news2_window_min),
            ("news2_urgent_score", self.news2_urgent_score),
            ("baseline_learning_days", self.baseline_learning_days),
            ("baseline_window_days", self.baseline_window_days),
            ("baseline_period_min", self.baseline_period_min),
            ("sustained_periods", self.sustained_periods),
            ("resting_hr_nights", self.resting_hr_nights),
            ("activity_days", self.activity_days),
        ];
        for (name, v) in at_least_one {
            if v < 1 {
                return Err(format!("field `{name}`: must be at least 1"));
            }
        }
        if !matches!(self.spo2_scale, 1 | 2) {
            return Err("field `spo2_scale`: must be 1 or 2".to_owned());
        }
        if !(self.ewma_lambda > 0.0 && self.ewma_lambda <= 1.0) {
            return Err("field `ewma_lambda`: must be in (0, 1]".to_owned());
        }
        if !(self.activity_drop_fraction > 0.0 && self.activity_drop_fraction < 1.0) {
            return Err("field `activity_drop_fraction`: must be in (0, 1)".to_owned());
        }
        if self.baseline_learning_days > self.baseline_window_days {
            return Err("field `baseline_learning_days`: must not exceed baseline_window_days".to_owned());
        }
        if self.pulse_critical_low >= self.pulse_critical_high {
            return Err("field `pulse_critical_low`: must be below pulse_critical_high".to_owned());
        }
        if self.news2_urgent_score > self.news2_critical_score {
            return Err("field `news2_urgent_score`: must not exceed news2_critical_score".to_owned());
        }
        if self.low_battery_pct > 100.0 {
            return Err("field `low_battery_pct`: must be at most 100".to_owned());
        }
        Ok(())
    }

    /// Hours without a reading before a device of `kind` is silent; `None` when switched off.
    pub fn no_data_hours_for(&self, kind: &str) -> Option<f64> {
        let h = self.no_data_hours.get(kind).copied().unwrap_or(self.no_data_default_hours);
        (h > 0.0).then_some(h)
    }
}
