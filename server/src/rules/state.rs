//! The per-resident state the rules keep between calls, and the bookkeeping of open conditions.
//!
//! The lead stores the state as JSON and loads it for every batch, so it stays small and bounded:
//! per-day summaries for the baseline window, today's histograms, a few latest values, counters.
//! Every stored float goes through [`q`], which keeps the JSON short and makes the state
//! round-trip exactly through `serde_json`.

use std::collections::BTreeMap;

use eldercare_schema::Metric;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::baseline::{self, MetricBaseline};
use super::events::{LastFall, PendingFall};
use super::guardrails::FeverState;
use super::level::Level;
use super::news2::Vitals;
use super::trend::{ActivityTrend, RestingHrTrend, WeightTrend};
use super::{Context, Effect, Finding, Thresholds};

pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const HOUR_MS: i64 = 60 * MINUTE_MS;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;
/// Night, for resting heart rate: 00:00–06:00 local time.
pub(crate) const NIGHT_END_MS: i64 = 6 * HOUR_MS;

/// Rounds to four decimals. Keeps the JSON short, and such a value prints as a short decimal that
/// `serde_json` parses back to exactly the same `f64`.
pub(crate) fn q(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Milliseconds since the epoch, shifted to the community's local time.
pub(crate) fn local_ms(t: i64, ctx: &Context) -> i64 {
    t.saturating_add(i64::from(ctx.utc_offset_minutes) * MINUTE_MS)
}

/// The local calendar day (days since 1970-01-01, local time).
pub(crate) fn local_day(t: i64, ctx: &Context) -> i64 {
    local_ms(t, ctx).div_euclid(DAY_MS)
}

/// Whether `t` falls in the night (00:00–06:00 local).
pub(crate) fn is_night(t: i64, ctx: &Context) -> bool {
    local_ms(t, ctx).rem_euclid(DAY_MS) < NIGHT_END_MS
}

/// One value and when it was measured, stored as a JSON array `[t, v]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "(i64, f64)", into = "(i64, f64)")]
pub(crate) struct Sample {
    pub t: i64,
    pub v: f64,
}

impl From<(i64, f64)> for Sample {
    fn from((t, v): (i64, f64)) -> Self {
        Sample { t, v }
    }
}

impl From<Sample> for (i64, f64) {
    fn from(s: Sample) -> Self {
        (s.t, s.v)
    }
}

impl Sample {
    pub(crate) fn new(t: i64, v: f64) -> Sample {
        Sample { t, v: q(v) }
    }
}

/// A condition raised and not cleared since.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Active {
    pub level: Level,
    /// How bad the worst evidence sent so far was (larger is worse); new evidence is sent when it
    /// is worse by a condition-specific step, or the level rises.
    pub worst: f64,
    /// Normal evaluations in a row, and the time of the first, for clearing with hysteresis.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub normal_n: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal_since: Option<i64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the rules remember about one resident between calls. Opaque to the caller: store it as
/// JSON (`serde_json`) and hand it back on the next call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResidentState {
    /// Conditions raised and not yet cleared, by condition key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) open: BTreeMap<String, Active>,
    /// The latest value of each vital the partial NEWS2 and blood-pressure pairing use.
    pub(crate) vitals: Vitals,
    /// Bit mask of the NEWS2 parameters present when the open `news2` alert was last raised.
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub(crate) news2_params: u8,
    pub(crate) fever: FeverState,
    /// Personal baselines, per metric.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) baselines: BTreeMap<Metric, MetricBaseline>,
    pub(crate) weight: WeightTrend,
    pub(crate) resting_hr: RestingHrTrend,
    pub(crate) activity: ActivityTrend,
    /// Falls detected and waiting for their cancel window, by device.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) falls: BTreeMap<String, PendingFall>,
    /// The last fall raised, so that a late "I'm fine" can be added to its evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_fall: Option<LastFall>,
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

impl ResidentState {
    /// The live personal baseline of `metric` (median, robust standard deviation), once the
    /// learning period is over. Heart rate is the daytime baseline.
    pub fn baseline(&self, metric: Metric) -> Option<(f64, f64)> {
        self.baselines.get(&metric).and_then(MetricBaseline::stat).map(|s| (s.median, s.sigma))
    }

    /// The personal baselines as the rules use them with thresholds `th` (the resident's, with
    /// overrides): median, spread, the usual band, days and readings behind them, or still
    /// learning. Only metrics with readings appear.
    pub fn baseline_bands(&self, th: &Thresholds) -> Vec<baseline::BaselineBand> {
        baseline::bands(self, th)
    }

    /// Conditions currently raised and not cleared, with their level.
    pub fn open_conditions(&self) -> impl Iterator<Item = (&str, Level)> {
        self.open.iter().map(|(k, a)| (k.as_str(), a.level))
    }

    /// Raises `key` at `level`. Emits a [`Effect::Raise`] when the condition is new, when the
    /// level rises, or when `severity` is worse than any sent so far by at least `step` (pass
    /// `f64::INFINITY` to send evidence once per episode). `finding` makes the title and the
    /// evidence, only when something is emitted.
    pub(crate) fn raise(
        &mut self,
        fx: &mut Vec<Effect>,
        key: &str,
        level: Level,
        severity: f64,
        step: f64,
        finding: impl FnOnce() -> (String, Value),
    ) {
        let severity = q(severity);
        let level = match self.open.get_mut(key) {
            Some(a) => {
                a.normal_n = 0;
                a.normal_since = None;
                if level <= a.level && severity < a.worst + step {
                    return;
                }
                a.level = a.level.max(level);
                a.worst = a.worst.max(severity);
                a.level
            }
            None => {
                let active = Active { level, worst: severity, normal_n: 0, normal_since: None };
                self.open.insert(key.to_owned(), active);
                level
            }
        };
        let (title, evidence) = finding();
        fx.push(Effect::Raise(Finding { condition: key.to_owned(), level, title, evidence }));
    }

    /// One evaluation found `key` normal (past any hysteresis margin). Clears it once
    /// `sustained_periods` evaluations in a row were normal, spanning at least `clear_min`.
    pub(crate) fn normal(&mut self, fx: &mut Vec<Effect>, key: &str, t: i64, th: &Thresholds) {
        let Some(a) = self.open.get_mut(key) else { return };
        let since = *a.normal_since.get_or_insert(t);
        a.normal_n = a.normal_n.saturating_add(1);
        let span = i64::from(th.clear_min) * MINUTE_MS;
        if a.normal_n >= th.sustained_periods.max(1) && t.saturating_sub(since) >= span {
            self.clear(fx, key);
        }
    }

    /// One evaluation found `key` neither abnormal nor clearly normal (inside the hysteresis
    /// margin): it stays open and the count towards clearing starts again.
    pub(crate) fn hold(&mut self, key: &str) {
        if let Some(a) = self.open.get_mut(key) {
            a.normal_n = 0;
            a.normal_since = None;
        }
    }

    /// Clears `key` now, if it is open.
    pub(crate) fn clear(&mut self, fx: &mut Vec<Effect>, key: &str) {
        if self.open.remove(key).is_some() {
            fx.push(Effect::Clear { condition: key.to_owned() });
        }
    }

    /// The median of the live temperature baseline, for fever by baseline.
    pub(crate) fn baseline_median(&self, metric: Metric) -> Option<f64> {
        self.baselines.get(&metric).and_then(baseline::MetricBaseline::stat).map(|s| s.median)
    }
}
