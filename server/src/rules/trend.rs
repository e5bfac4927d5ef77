//! Trends over days: weight gain, resting (night) heart rate drifting up, activity falling.
//! Each keeps a few values per day, never the readings themselves.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::baseline::{DayHist, median};
use super::level::Level;
use super::state::{DAY_MS, NIGHT_END_MS, ResidentState, Sample, local_ms, q};
use super::{Context, Effect, Thresholds};

/// Weight readings kept at most (a scale reports a few times a day).
const MAX_WEIGHTS: usize = 256;
/// Night heart-rate readings needed for a night's resting heart rate.
const MIN_NIGHT_READINGS: u64 = 12;
/// Weight gain hysteresis: the gain must fall this far below the threshold to count as normal.
const WEIGHT_MARGIN_KG: f64 = 0.5;

/// One value per local day (or night), stored as a JSON array `[day, value]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "(i64, f64)", into = "(i64, f64)")]
pub(crate) struct DayValue {
    pub d: i64,
    pub v: f64,
}

impl From<(i64, f64)> for DayValue {
    fn from((d, v): (i64, f64)) -> Self {
        DayValue { d, v }
    }
}

impl From<DayValue> for (i64, f64) {
    fn from(x: DayValue) -> Self {
        (x.d, x.v)
    }
}

fn prune(days: &mut VecDeque<DayValue>, oldest: i64) {
    while days.front().is_some_and(|d| d.d < oldest) {
        days.pop_front();
    }
}

fn usual(days: &VecDeque<DayValue>, th: &Thresholds) -> Option<f64> {
    if days.len() < th.baseline_learning_days.max(1) as usize {
        return None;
    }
    let mut values: Vec<f64> = days.iter().map(|d| d.v).collect();
    median(&mut values)
}

/// Weight readings of the last `weight_gain_days`, as a monotonic queue: values increase from
/// front to back, so the front is the window's minimum (a sliding-window minimum in O(1)
/// amortised per reading).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct WeightTrend {
    #[serde(skip_serializing_if = "VecDeque::is_empty")]
    window: VecDeque<Sample>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_ms: Option<i64>,
}

pub(crate) fn weight(state: &mut ResidentState, ctx: &Context, t: i64, v: f64, fx: &mut Vec<Effect>) {
    let th = ctx.thresholds;
    let w = &mut state.weight;
    if w.last_ms.is_some_and(|last| t < last) {
        return; // a late reading: the window has moved on
    }
    w.last_ms = Some(t);
    let span = (th.weight_gain_days * DAY_MS as f64) as i64;
    while w.window.front().is_some_and(|s| s.t < t.saturating_sub(span)) {
        w.window.pop_front();
    }
    let from = w.window.front().copied();
    while w.window.back().is_some_and(|s| s.v >= v) {
        w.window.pop_back();
    }
    w.window.push_back(Sample::new(t, v));
    if w.window.len() > MAX_WEIGHTS {
        w.window.pop_front();
    }
    let Some(from) = from else { return };
    let gain = q(v - from.v);
    if gain + 1e-9 >= th.weight_gain_kg {
        state.raise(fx, "weight_gain", Level::Warning, gain, 0.5, || {
            let hours = q((t - from.t) as f64 / 3_600_000.0);
            (
                format!("Weight up {gain} kg in {hours} h"),
                json!({"gain_kg": gain, "from_kg": from.v, "from_ms": from.t, "to_kg": v, "at_ms": t,
                       "hours": hours, "threshold_kg": th.weight_gain_kg, "within_days": th.weight_gain_days}),
            )
        });
    } else if gain < th.weight_gain_kg - WEIGHT_MARGIN_KG {
        state.normal(fx, "weight_gain", t, th);
    } else {
        state.hold("weight_gain");
    }
}

/// Night resting heart rate: the interquartile mean of each night's readings (00:00–06:00
/// local), compared with the median of the previous nights (a streaming-median baseline).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RestingHrTrend {
    #[serde(skip_serializing_if = "Option::is_none")]
    night: Option<DayHist>,
    #[serde(skip_serializing_if = "VecDeque::is_empty")]
    nights: VecDeque<DayValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_night: Option<i64>,
    #[serde(skip_serializing_if = "is_zero")]
    elevated_run: u32,
    #[serde(skip_serializing_if = "is_zero")]
    normal_run: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A heart-rate reading: closes the night once its 06:00 has passed, and adds night readings.
pub(crate) fn resting_hr(state: &mut ResidentState, ctx: &Context, t: i64, v: f64, fx: &mut Vec<Effect>) {
    let local = local_ms(t, ctx);
    let day = local.div_euclid(DAY_MS);
    if let Some(h) = state.resting_hr.night.take_if(|h| local >= h.day * DAY_MS + NIGHT_END_MS) {
        close_night(state, ctx, t, h, fx);
    }
    if local.rem_euclid(DAY_MS) < NIGHT_END_MS {
        let tr = &mut state.resting_hr;
        if tr.last_night.is_some_and(|n| n >= day) {
            return; // a late reading of a night already evaluated
        }
        tr.night.get_or_insert_with(|| DayHist::new(day)).add(v, 1.0);
    }
}

fn close_night(state: &mut ResidentState, ctx: &Context, t: i64, h: DayHist, fx: &mut Vec<Effect>) {
    let th = ctx.thresholds;
    if h.count() < MIN_NIGHT_READINGS {
        return; // not enough of a night: nights "running" start again
    }
    let Some(resting) = h.interquartile_mean(1.0).map(q) else { return };
    let tr = &mut state.resting_hr;
    prune(&mut tr.nights, h.day.saturating_sub(i64::from(th.baseline_window_days)));
    let usual = usual(&tr.nights, th);
    if tr.last_night != Some(h.day - 1) {
        tr.elevated_run = 0;
        tr.normal_run = 0;
    }
    let elevated = usual.is_some_and(|u| resting >= u + th.resting_hr_rise);
    if usual.is_some() {
        if elevated {
            tr.elevated_run = tr.elevated_run.saturating_add(1);
            tr.normal_run = 0;
        } else {
            tr.normal_run = tr.normal_run.saturating_add(1);
            tr.elevated_run = 0;
        }
    }
    let recent: Vec<_> =
        tr.nights.iter().rev().take(tr.elevated_run.saturating_sub(1) as usize).rev().copied().collect();
    let (elevated_run, normal_run) = (tr.elevated_run, tr.normal_run);
    tr.nights.push_back(DayValue { d: h.day, v: resting });
    tr.last_night = Some(h.day);
    let need = th.resting_hr_nights.max(1);
    let Some(usual) = usual else { return };
    if elevated && elevated_run >= need {
        let offset_ms = i64::from(ctx.utc_offset_minutes) * 60_000;
        let night = |d: i64, v: f64| json!({"night_start_ms": d * DAY_MS - offset_ms, "resting_hr": v});
        let mut nights: Vec<_> = recent.iter().map(|n| night(n.d, n.v)).collect();
        nights.push(night(h.day, resting));
        state.raise(fx, "resting_hr_drift", Level::Warning, resting - usual, 2.0, || {
            (
                format!("Resting heart rate up {} /min for {elevated_run} nights", q(resting - usual)),
                json!({"resting_hr": resting, "baseline_median": usual, "rise": th.resting_hr_rise,
                       "nights_running": elevated_run, "nights": nights, "at_ms": t,
                       "method": "interquartile mean of 00:00–06:00 readings vs the median of previous nights"}),
            )
        });
    } else if !elevated && normal_run >= need {
        state.clear(fx, "resting_hr_drift");
    }
}

/// Daily steps: the day's total is its largest "steps today" reading; a day is low below
/// (1 − `activity_drop_fraction`) × the median of previous days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ActivityTrend {
    #[serde(skip_serializing_if = "Option::is_none")]
    today: Option<DayValue>,
    #[serde(skip_serializing_if = "VecDeque::is_empty")]
    days: VecDeque<DayValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_day: Option<i64>,
    #[serde(skip_serializing_if = "is_zero")]
    low_run: u32,
    #[serde(skip_serializing_if = "is_zero")]
    normal_run: u32,
}

pub(crate) fn activity(state: &mut ResidentState, ctx: &Context, t: i64, v: f64, fx: &mut Vec<Effect>) {
    let day = local_ms(t, ctx).div_euclid(DAY_MS);
    let tr = &mut state.activity;
    match tr.today {
        Some(ref mut d) if d.d == day => d.v = d.v.max(q(v)),
        Some(d) if d.d > day => {} // a late reading of a day already closed
        previous => {
            tr.today = Some(DayValue { d: day, v: q(v) });
            if let Some(done) = previous {
                close_day(state, ctx, t, done, fx);
            }
        }
    }
}

fn close_day(state: &mut ResidentState, ctx: &Context, t: i64, done: DayValue, fx: &mut Vec<Effect>) {
    let th = ctx.thresholds;
    let tr = &mut state.activity;
    prune(&mut tr.days, done.d.saturating_sub(i64::from(th.baseline_window_days)));
    let usual = usual(&tr.days, th);
    if tr.last_day != Some(done.d - 1) {
        tr.low_run = 0;
        tr.normal_run = 0;
    }
    let floor = usual.map(|u| q(u * (1.0 - th.activity_drop_fraction)));
    let low = floor.is_some_and(|f| done.v < f);
    if floor.is_some() {
        if low {
            tr.low_run = tr.low_run.saturating_add(1);
            tr.normal_run = 0;
        } else {
            tr.normal_run = tr.normal_run.saturating_add(1);
            tr.low_run = 0;
        }
    }
    let recent: Vec<f64> =
        tr.days.iter().rev().take(tr.low_run.saturating_sub(1) as usize).rev().map(|d| d.v).collect();
    let (low_run, normal_run) = (tr.low_run, tr.normal_run);
    tr.days.push_back(done);
    tr.last_day = Some(done.d);
    let need = th.activity_days.max(1);
    let (Some(usual), Some(floor)) = (usual, floor) else { return };
    if low && low_run >= need {
        let mut steps = recent;
        steps.push(done.v);
        state.raise(fx, "activity_falling", Level::Warning, 0.0, f64::INFINITY, || {
            (
                format!("Daily steps below {floor} for {low_run} days"),
                json!({"daily_steps": steps, "usual_daily_steps": usual, "below": floor,
                       "drop_fraction": th.activity_drop_fraction, "days_running": low_run, "at_ms": t}),
            )
        });
    } else if !low && normal_run >= need {
        state.clear(fx, "activity_falling");
    }
}
