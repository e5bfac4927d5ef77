//! Personal baselines: robust median/MAD over a trailing window, Hampel spikes, EWMA drift, and
//! "sustained for N periods" before an alert.
//!
//! Incremental and bounded: today's readings go into a histogram (a few dozen bins); when the day
//! ends it becomes a summary (median, MAD, count), and at most `baseline_window_days` summaries
//! are kept. The baseline is recomputed from those summaries once a day, not per reading:
//! its median is the median of the daily medians, its spread combines the typical within-day
//! spread (median daily MAD) with the between-day spread (MAD of the daily medians), each scaled
//! by 1.4826 — the pooled median/MAD of the window, approximated from daily summaries.
//!
//! Readings are averaged per period (`baseline_period_min`). A period deviates when its mean is a
//! Hampel outlier (beyond `hampel_k` σ) or when the EWMA of period means leaves its ±L·σ_EWMA
//! limits; each side also needs a clinically meaningful minimum deviation. Readings feed the EWMA
//! clipped to the Hampel band, so one spike cannot trip it. An alert needs `sustained_periods`
//! deviating periods in a row, and clears after as many normal ones. The period in progress
//! counts provisionally, so sparse readings (a daily blood pressure) alert on the N-th reading.

use std::collections::VecDeque;

use eldercare_schema::Metric;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::level::Level;
use super::state::{MINUTE_MS, ResidentState, local_day, q};
use super::{Context, Effect, Thresholds};

/// Scales a MAD to a standard deviation for normally distributed data.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// The median, or `None` for no values. Sorts `values`.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

/// The median absolute deviation from `center`, unscaled.
pub fn mad(values: &[f64], center: f64) -> Option<f64> {
    let mut dev: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    median(&mut dev)
}

/// Hampel rule: `x` is an outlier when it lies more than `k` robust standard deviations from the
/// median.
pub fn hampel_outlier(x: f64, median: f64, sigma: f64, k: f64) -> bool {
    (x - median).abs() > k * sigma
}

/// One EWMA step: z ← λ·x + (1 − λ)·z.
pub fn ewma_step(prev: f64, x: f64, lambda: f64) -> f64 {
    lambda * x + (1.0 - lambda) * prev
}

/// The half-width of the asymptotic EWMA control limits: L·σ·√(λ / (2 − λ)).
pub fn ewma_limit(sigma: f64, lambda: f64, l: f64) -> f64 {
    l * sigma * (lambda / (2.0 - lambda)).sqrt()
}

/// How a metric's baseline works.
#[derive(Debug, Clone, Copy)]
struct Spec {
    /// Histogram bin width, in the metric's unit.
    bin: f64,
    /// A floor under the robust σ (all-identical readings give a MAD of 0).
    min_sigma: f64,
    /// The smallest deviation worth an alert, whatever the statistics say.
    min_dev: f64,
    low: bool,
    high: bool,
    key: &'static str,
}

fn spec(metric: Metric, th: &Thresholds) -> Option<Spec> {
    let s = |bin, min_sigma, min_dev, low, high, key| Some(Spec { bin, min_sigma, min_dev, low, high, key });
    match metric {
        Metric::HeartRate => s(1.0, 2.0, 10.0, true, true, "baseline:heart_rate"),
        // Only a fall matters; BTS: a fall of ≥ 3 points from the usual value warrants assessment.
        Metric::Spo2 => s(1.0, 0.5, th.spo2_drop_points, true, false, "baseline:spo2"),
        Metric::BpSystolic => s(1.0, 3.0, 15.0, true, true, "baseline:bp_systolic"),
        Metric::BpDiastolic => s(1.0, 2.0, 10.0, true, true, "baseline:bp_diastolic"),
        // The high side is the fever rule's; a sustained fall can be hypothermia or sepsis.
        Metric::BodyTemperature => s(0.05, 0.1, 0.5, true, false, "baseline:body_temperature"),
        Metric::Glucose => s(0.1, 0.3, 1.5, true, true, "baseline:glucose"),
        _ => None,
    }
}

/// A histogram of one local day's (or night's) readings: sorted (bin, count).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DayHist {
    pub day: i64,
    pub bins: Vec<(i32, u32)>,
}

impl DayHist {
    pub(crate) fn new(day: i64) -> DayHist {
        DayHist { day, bins: Vec::new() }
    }

    pub(crate) fn add(&mut self, v: f64, width: f64) {
        let bin = (v / width).round() as i32;
        match self.bins.binary_search_by_key(&bin, |b| b.0) {
            Ok(i) => self.bins[i].1 = self.bins[i].1.saturating_add(1),
            Err(i) => self.bins.insert(i, (bin, 1)),
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.bins.iter().map(|b| u64::from(b.1)).sum()
    }

    /// (value, count) pairs in increasing order.
    fn values(&self, width: f64) -> Vec<(f64, u32)> {
        self.bins.iter().map(|&(b, c)| (f64::from(b) * width, c)).collect()
    }

    /// Median and MAD of the readings (to the bin width).
    pub(crate) fn median_mad(&self, width: f64) -> Option<(f64, f64)> {
        let values = self.values(width);
        let med = weighted_median(&values)?;
        let mut dev: Vec<(f64, u32)> = values.iter().map(|&(v, c)| ((v - med).abs(), c)).collect();
        dev.sort_by(|a, b| a.0.total_cmp(&b.0));
        Some((med, weighted_median(&dev)?))
    }

    /// The mean of the middle half of the readings (interquartile mean): robust like a median,
    /// steadier than one.
    pub(crate) fn interquartile_mean(&self, width: f64) -> Option<f64> {
        let n = self.count();
        let (lo, hi) = (n / 4, n - n / 4);
        if hi <= lo {
            return None;
        }
        let (mut seen, mut sum) = (0u64, 0.0);
        for (v, c) in self.values(width) {
            let (start, end) = (seen, seen + u64::from(c));
            let overlap = end.min(hi).saturating_sub(start.max(lo));
            sum += v * overlap as f64;
            seen = end;
        }
        Some(sum / (hi - lo) as f64)
    }
}

/// The median of sorted (value, count) pairs.
fn weighted_median(sorted: &[(f64, u32)]) -> Option<f64> {
    let n: u64 = sorted.iter().map(|p| u64::from(p.1)).sum();
    if n == 0 {
        return None;
    }
    let at = |rank: u64| {
        let mut seen = 0;
        for &(v, c) in sorted {
            seen += u64::from(c);
            if rank < seen {
                return v;
            }
        }
        sorted[sorted.len() - 1].0
    };
    Some(if n % 2 == 1 { at(n / 2) } else { (at(n / 2 - 1) + at(n / 2)) / 2.0 })
}

/// One closed day. Stored as a JSON array `[day, median, mad, n]`: there are up to 28 per metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "(i64, f64, f64, u64)", into = "(i64, f64, f64, u64)")]
pub(crate) struct DaySummary {
    pub day: i64,
    pub median: f64,
    pub mad: f64,
    pub n: u64,
}

impl From<(i64, f64, f64, u64)> for DaySummary {
    fn from((day, median, mad, n): (i64, f64, f64, u64)) -> Self {
        DaySummary { day, median, mad, n }
    }
}

impl From<DaySummary> for (i64, f64, f64, u64) {
    fn from(d: DaySummary) -> Self {
        (d.day, d.median, d.mad, d.n)
    }
}

/// The live baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stat {
    pub median: f64,
    pub sigma: f64,
    pub days: u32,
}

/// The period in progress: raw sum for the Hampel test, clipped sum for the EWMA.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Period {
    pub idx: i64,
    pub n: u32,
    pub sum: f64,
    pub clipped: f64,
}

/// Direction of a deviation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Low,
    Normal,
    High,
}

/// One metric's baseline and sustained-deviation counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct MetricBaseline {
    #[serde(skip_serializing_if = "Option::is_none")]
    today: Option<DayHist>,
    /// Closed days with readings, oldest first, within the window.
    #[serde(skip_serializing_if = "VecDeque::is_empty")]
    days: VecDeque<DaySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stat: Option<Stat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ewma: Option<f64>,
    /// Closed periods in a row deviating: > 0 high, < 0 low.
    #[serde(skip_serializing_if = "is_zero_i32")]
    run: i32,
    /// Closed normal periods in a row.
    #[serde(skip_serializing_if = "is_zero_u32")]
    normal_run: u32,
}

fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// What one reading decided.
enum Decision {
    None,
    Raise { dir: Dir, mean: f64, ewma: f64, periods: u32, stat: Stat },
    Clear,
}

impl MetricBaseline {
    pub(crate) fn stat(&self) -> Option<&Stat> {
        self.stat.as_ref()
    }

    /// Closes today when `day` is later, drops days out of the window, recomputes the baseline.
    fn roll(&mut self, day: i64, spec: Spec, th: &Thresholds) {
        let mut changed = false;
        if self.today.as_ref().is_some_and(|h| h.day < day) {
            let h = self.today.take().unwrap_or_default();
            if let Some((median, mad)) = h.median_mad(spec.bin) {
                self.days.push_back(DaySummary { day: h.day, median: q(median), mad: q(mad), n: h.count() });
                changed = true;
            }
        }
        let oldest = day.saturating_sub(i64::from(th.baseline_window_days));
        while self.days.front().is_some_and(|d| d.day < oldest) {
            self.days.pop_front();
            changed = true;
        }
        if changed {
            self.stat = self.compute(spec, th);
        }
    }

    fn compute(&self, spec: Spec, th: &Thresholds) -> Option<Stat> {
        if self.days.len() < th.baseline_learning_days.max(1) as usize {
            return None;
        }
        let mut medians: Vec<f64> = self.days.iter().map(|d| d.median).collect();
        let mut mads: Vec<f64> = self.days.iter().map(|d| d.mad).collect();
        let center = median(&mut medians)?;
        let between = MAD_TO_SIGMA * mad(&medians, center)?;
        let within = MAD_TO_SIGMA * median(&mut mads)?;
        let sigma = (between * between + within * within).sqrt().max(spec.min_sigma);
        Some(Stat { median: q(center), sigma: q(sigma), days: self.days.len() as u32 })
    }

    fn classify(&self, spec: Spec, th: &Thresholds, stat: Stat, mean: f64, ewma: f64) -> Dir {
        // The Hampel band and the EWMA limit, each at least the clinically meaningful deviation.
        let k = th.hampel_k.max(0.1);
        let sigma = stat.sigma.max(spec.min_dev / k);
        let limit = ewma_limit(stat.sigma, th.ewma_lambda, th.ewma_limit_sigma).max(spec.min_dev);
        let out = hampel_outlier(mean, stat.median, sigma, k);
        if spec.low && ((out && mean < stat.median) || ewma < stat.median - limit) {
            Dir::Low
        } else if spec.high && ((out && mean > stat.median) || ewma > stat.median + limit) {
            Dir::High
        } else {
            Dir::Normal
        }
    }

    /// Adds a reading to the period logic and decides.
    fn sustained(&mut self, spec: Spec, th: &Thresholds, t: i64, v: f64) -> Decision {
        let Some(stat) = self.stat else {
            self.period = None;
            return Decision::None;
        };
        let k = th.hampel_k.max(0.1);
        let clipped = v.clamp(stat.median - k * stat.sigma, stat.median + k * stat.sigma);
        let lambda = th.ewma_lambda;
        let idx = t.div_euclid(i64::from(th.baseline_period_min.max(1)) * MINUTE_MS);
        match self.period {
            Some(ref mut p) if p.idx == idx => {
                p.n = p.n.saturating_add(1);
                p.sum = q(p.sum + v);
                p.clipped = q(p.clipped + clipped);
            }
            // A late reading: it counts in the day's histogram only.
            Some(p) if p.idx > idx => return Decision::None,
            previous => {
                if let Some(p) = previous {
                    let n = f64::from(p.n.max(1));
                    let e = q(ewma_step(self.ewma.unwrap_or(stat.median), p.clipped / n, lambda));
                    self.ewma = Some(e);
                    match self.classify(spec, th, stat, p.sum / n, e) {
                        Dir::High => self.run = self.run.max(0).saturating_add(1).min(10_000),
                        Dir::Low => self.run = self.run.min(0).saturating_sub(1).max(-10_000),
                        Dir::Normal => self.run = 0,
                    }
                    self.normal_run = if self.run == 0 { self.normal_run.saturating_add(1).min(10_000) } else { 0 };
                }
                self.period = Some(Period { idx, n: 1, sum: q(v), clipped: q(clipped) });
            }
        }
        // The period in progress counts provisionally.
        let Some(p) = self.period else { return Decision::None };
        let n = f64::from(p.n.max(1));
        let (mean, e) = (p.sum / n, ewma_step(self.ewma.unwrap_or(stat.median), p.clipped / n, lambda));
        let need = th.sustained_periods.max(1);
        match self.classify(spec, th, stat, mean, e) {
            dir @ (Dir::High | Dir::Low) => {
                let before = if dir == Dir::High { self.run.max(0) } else { -self.run.min(0) };
                let periods = before.unsigned_abs() + 1;
                if periods >= need {
                    return Decision::Raise { dir, mean, ewma: e, periods, stat };
                }
                Decision::None
            }
            Dir::Normal if self.normal_run + 1 >= need => Decision::Clear,
            Dir::Normal => Decision::None,
        }
    }
}

/// One metric's personal baseline as the rules use it, for people to see (e.g. as a band on a
/// chart). Values in the metric's unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineBand {
    pub metric: Metric,
    /// No baseline yet: fewer than `baseline_learning_days` days with readings in the window.
    pub learning: bool,
    /// Days with readings needed before the baseline is live (`baseline_learning_days`).
    pub learning_days: u32,
    /// Closed local days with readings in the window (today counts once it is over).
    pub days: u32,
    /// Readings in those days.
    pub samples: u64,
    /// The median of the daily medians; `None` while learning.
    pub median: Option<f64>,
    /// The robust standard deviation (1.4826 × MAD, within-day and between-day spread pooled,
    /// at least a floor per metric); `None` while learning.
    pub sigma: Option<f64>,
    /// `hampel_k`: a period whose mean lies outside `median ± max(k·sigma, min_deviation)`
    /// deviates.
    pub k: f64,
    /// The smallest deviation the rules act on, whatever the statistics say.
    pub min_deviation: f64,
    /// The usual range of a period's mean: `median ± max(k·sigma, min_deviation)`.
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// The limits of the smoothed level (EWMA of period means): `median ± max(L·sigma·√(λ/(2−λ)),
    /// min_deviation)`; a level that settles outside them deviates too.
    pub drift_low: Option<f64>,
    pub drift_high: Option<f64>,
    /// Which sides the rules alert on (SpO2 and temperature: only below).
    pub alerts_below: bool,
    pub alerts_above: bool,
}

/// The baselines of every metric the rules learn one for and have readings of, in metric order.
pub(crate) fn bands(state: &ResidentState, th: &Thresholds) -> Vec<BaselineBand> {
    let mut out = Vec::new();
    for (&metric, b) in &state.baselines {
        let Some(spec) = spec(metric, th) else { continue };
        let k = th.hampel_k.max(0.1);
        let stat = b.stat;
        let half = stat.map(|s| (k * s.sigma).max(spec.min_dev));
        let drift = stat.map(|s| ewma_limit(s.sigma, th.ewma_lambda, th.ewma_limit_sigma).max(spec.min_dev));
        let at = |d: Option<f64>, sign: f64| Some(q(stat?.median + sign * d?));
        out.push(BaselineBand {
            metric,
            learning: stat.is_none(),
            learning_days: th.baseline_learning_days.max(1),
            days: b.days.len() as u32,
            samples: b.days.iter().map(|d| d.n).sum(),
            median: stat.map(|s| s.median),
            sigma: stat.map(|s| s.sigma),
            k,
            min_deviation: spec.min_dev,
            low: at(half, -1.0),
            high: at(half, 1.0),
            drift_low: at(drift, -1.0),
            drift_high: at(drift, 1.0),
            alerts_below: spec.low,
            alerts_above: spec.high,
        });
    }
    out
}

/// Closes finished days of `metric`'s baseline. Call before the rules that read the baseline.
pub(crate) fn roll(state: &mut ResidentState, ctx: &Context, metric: Metric, t: i64) {
    let Some(spec) = spec(metric, ctx.thresholds) else { return };
    let day = local_day(t, ctx);
    state.baselines.entry(metric).or_default().roll(day, spec, ctx.thresholds);
}

/// Adds a reading of `metric` to its baseline and raises or clears `baseline:<metric>`.
pub(crate) fn observe(state: &mut ResidentState, ctx: &Context, metric: Metric, t: i64, v: f64, fx: &mut Vec<Effect>) {
    let th = ctx.thresholds;
    let Some(spec) = spec(metric, th) else { return };
    let day = local_day(t, ctx);
    let b = state.baselines.entry(metric).or_default();
    b.roll(day, spec, th);
    match b.today {
        Some(ref mut h) => h.add(v, spec.bin),
        None => {
            let mut h = DayHist::new(day);
            h.add(v, spec.bin);
            b.today = Some(h);
        }
    }
    match b.sustained(spec, th, t, v) {
        Decision::None => {}
        Decision::Clear => state.clear(fx, spec.key),
        Decision::Raise { dir, mean, ewma, periods, stat } => {
            state.raise(fx, spec.key, Level::Urgent, 0.0, f64::INFINITY, || {
                let side = if dir == Dir::High { "above" } else { "below" };
                let name = metric.info().display;
                (
                    format!("{name} {side} the personal baseline ({periods} periods running)"),
                    json!({
                        "metric": metric.code(),
                        "direction": side,
                        "period_mean": q(mean),
                        "ewma": q(ewma),
                        "baseline_median": stat.median,
                        "baseline_sigma": stat.sigma,
                        "baseline_days": stat.days,
                        "hampel_k": th.hampel_k,
                        "ewma_lambda": th.ewma_lambda,
                        "min_deviation": spec.min_dev,
                        "periods": periods,
                        "period_min": th.baseline_period_min,
                        "at_ms": t,
                    }),
                )
            });
        }
    }
}
