//! A simulated resident and the caller around the engine: a seeded PRNG, effect recording, rule
//! timers fired on simulated time, and the state stored as JSON between batches like the lead does.

use std::collections::BTreeMap;

use eldercare_schema::Metric;

use crate::rules::{Context, Effect, Finding, Level, Observation, ResidentState, Thresholds, evaluate, on_timer};

pub(super) const MIN: i64 = 60_000;
pub(super) const HOUR: i64 = 60 * MIN;
pub(super) const DAY: i64 = 24 * HOUR;
/// 2024-10-04 00:00 UTC: a midnight, so day and hour boundaries are easy to read in tests.
pub(super) const T0: i64 = 20_000 * DAY;

/// xorshift64: a tiny seeded PRNG, so simulated noise is the same on every run.
pub(super) struct XorShift(u64);

impl XorShift {
    pub(super) fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub(super) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform, rounded to a multiple of `step`.
    pub(super) fn stepped(&mut self, lo: f64, hi: f64, step: f64) -> f64 {
        ((self.range(lo, hi) / step).round() * step * 1e6).round() / 1e6
    }
}

pub(super) fn ob(device: &str, metric: Metric, value: f64, time_ms: i64) -> Observation {
    Observation { device_id: device.to_owned(), metric, value, time_ms }
}

pub(super) fn raised(t: i64, condition: &str, level: Level) -> (i64, String, Level) {
    (t, condition.to_owned(), level)
}

pub(super) struct Sim {
    pub th: Thresholds,
    pub offset: i32,
    pub state: ResidentState,
    /// (when, condition, level) of every Raise.
    pub raised: Vec<(i64, String, Level)>,
    pub findings: Vec<Finding>,
    pub cleared: Vec<(i64, String)>,
    pub started: Vec<(String, i64)>,
    pub cancelled: Vec<String>,
    timers: BTreeMap<String, i64>,
}

impl Sim {
    pub(super) fn new(th: Thresholds) -> Sim {
        Sim {
            th,
            offset: 0,
            state: ResidentState::default(),
            raised: Vec::new(),
            findings: Vec::new(),
            cleared: Vec::new(),
            started: Vec::new(),
            cancelled: Vec::new(),
            timers: BTreeMap::new(),
        }
    }

    /// Fires the timers due at or before `t`, in due order, as the sweeper would.
    pub(super) fn advance(&mut self, t: i64) {
        while let Some((key, due)) =
            self.timers.iter().filter(|(_, d)| **d <= t).min_by_key(|(_, d)| **d).map(|(k, d)| (k.clone(), *d))
        {
            self.timers.remove(&key);
            let th = self.th.clone();
            let ctx = Context { thresholds: &th, now_ms: due, utc_offset_minutes: self.offset };
            let fx = on_timer(&mut self.state, &ctx, &key);
            self.apply(due, fx);
        }
    }

    /// One batch: each observation evaluated in turn (after the timers due before it), so every
    /// effect is recorded with the time of the reading that caused it; then the state goes
    /// through JSON, as the lead stores it.
    pub(super) fn feed(&mut self, batch: &[Observation]) {
        for o in batch {
            self.advance(o.time_ms);
            let th = self.th.clone();
            let ctx = Context { thresholds: &th, now_ms: o.time_ms, utc_offset_minutes: self.offset };
            let fx = evaluate(&mut self.state, &ctx, std::slice::from_ref(o));
            self.apply(o.time_ms, fx);
        }
        self.store_and_load();
    }

    pub(super) fn store_and_load(&mut self) {
        let json = serde_json::to_string(&self.state).unwrap();
        let back: ResidentState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, self.state, "state must round-trip through JSON");
        self.state = back;
    }

    fn apply(&mut self, t: i64, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::Raise(f) => {
                    self.raised.push((t, f.condition.clone(), f.level));
                    self.findings.push(f);
                }
                Effect::Clear { condition } => self.cleared.push((t, condition)),
                Effect::StartTimer { key, due_ms } => {
                    self.timers.insert(key.clone(), due_ms);
                    self.started.push((key, due_ms));
                }
                Effect::CancelTimer { key } => {
                    self.timers.remove(&key);
                    self.cancelled.push(key);
                }
            }
        }
    }

    /// The finding of the `i`-th Raise of `condition`.
    pub(super) fn finding(&self, condition: &str, i: usize) -> &Finding {
        self.findings.iter().filter(|f| f.condition == condition).nth(i).unwrap()
    }
}
