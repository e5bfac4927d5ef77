//! The baselines as shown to people ([`ResidentState::baseline_bands`]) are the ones the rules
//! act on: a level inside the band raises nothing, one outside it raises `baseline:<metric>`.

use eldercare_schema::Metric::*;

use super::sim::{DAY, HOUR, MIN, Sim, T0, ob};
use crate::rules::{BaselineBand, Thresholds, ewma_limit};

/// Daytime (08:00–19:00) pulse every hour on days `days` from T0, cycling 66, 70, 74, 70.
fn learn_pulse(sim: &mut Sim, days: std::ops::Range<i64>) {
    for d in days {
        for h in 8..20 {
            let v = [66.0, 70.0, 74.0, 70.0][(h % 4) as usize];
            sim.feed(&[ob("band-1", HeartRate, v, T0 + d * DAY + h * HOUR)]);
        }
    }
}

fn pulse_band(sim: &Sim) -> BaselineBand {
    sim.state.baseline_bands(&sim.th).into_iter().find(|b| b.metric == HeartRate).expect("a pulse baseline")
}

/// A pulse of `v` every 10 minutes for `hours` hours from `start`; whether a baseline alert was raised.
fn hold(sim: &mut Sim, start: i64, hours: i64, v: f64) -> bool {
    for i in 0..hours * 6 {
        sim.feed(&[ob("band-1", HeartRate, v, start + i * 10 * MIN)]);
    }
    sim.raised.iter().any(|r| r.1 == "baseline:heart_rate")
}

#[test]
fn learning_until_enough_days_then_the_band_of_the_rules() {
    let mut sim = Sim::new(Thresholds::default());
    learn_pulse(&mut sim, 0..3);
    let b = pulse_band(&sim);
    // Two closed days (today is still open) of twelve readings.
    assert!(b.learning);
    assert_eq!((b.days, b.samples), (2, 24));
    assert_eq!((b.median, b.low, b.high), (None, None, None));

    learn_pulse(&mut sim, 3..15);
    let b = pulse_band(&sim);
    assert!(!b.learning);
    let (median, sigma) = sim.state.baseline(HeartRate).unwrap();
    assert_eq!((b.median, b.sigma), (Some(median), Some(sigma)));
    assert_eq!(median, 70.0);
    assert_eq!(b.days, 14, "the 14 closed days the statistics were computed from");
    assert_eq!(b.samples, 14 * 12);
    // Hampel: ±max(3σ, 10 /min); EWMA: ±max(3σ·√(0.2/1.8), 10 /min).
    let half = (3.0 * sigma).max(10.0);
    assert_eq!((b.low, b.high), (Some(median - half), Some(median + half)));
    let drift = ewma_limit(sigma, 0.2, 3.0).max(10.0);
    assert_eq!((b.drift_low, b.drift_high), (Some(median - drift), Some(median + drift)));
    assert_eq!((b.k, b.min_deviation, b.alerts_below, b.alerts_above), (3.0, 10.0, true, true));

    // Overrides change the band the way they change the rules.
    let th = Thresholds::default().with_overrides(&serde_json::json!({"hampel_k": 5.0})).unwrap();
    let wide = sim.state.baseline_bands(&th).into_iter().find(|b| b.metric == HeartRate).unwrap();
    assert_eq!(wide.high, Some(median + (5.0 * sigma).max(10.0)));
}

#[test]
fn a_level_inside_the_band_raises_nothing_and_one_above_it_raises_the_baseline_alert() {
    let mut sim = Sim::new(Thresholds::default());
    learn_pulse(&mut sim, 0..15);
    let b = pulse_band(&sim);
    let (drift_high, high) = (b.drift_high.unwrap(), b.high.unwrap());
    assert!(high >= drift_high);
    // Six hours just inside the tighter (drift) limit: usual.
    assert!(!hold(&mut sim, T0 + 15 * DAY + 8 * HOUR, 6, drift_high - 1.0), "{:?}", sim.raised);
    // Just above the band: three periods in a row deviate.
    assert!(hold(&mut sim, T0 + 16 * DAY + 8 * HOUR, 4, high + 1.0), "{:?}", sim.raised);

    // SpO2 is watched below only.
    let mut sim = Sim::new(Thresholds::default());
    for h in 0..15 * 24 {
        sim.feed(&[ob("ox-1", Spo2, [96.0, 97.0, 98.0, 97.0][(h % 4) as usize], T0 + h * HOUR)]);
    }
    let b = sim.state.baseline_bands(&sim.th).into_iter().find(|b| b.metric == Spo2).unwrap();
    assert_eq!((b.alerts_below, b.alerts_above, b.median), (true, false, Some(97.0)));
    assert_eq!(b.low, Some(94.0), "97 − max(3 × 0.7413, 3 points)");
}
