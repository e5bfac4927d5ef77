//! Property tests: for any sequence of plausible (and some implausible) observations, `evaluate`
//! never panics, the state round-trips through JSON at every step, and the effects are coherent.

use std::collections::{BTreeMap, BTreeSet};

use eldercare_schema::Metric;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use super::sim::{MIN, T0};
use crate::rules::{Context, Effect, Level, Observation, ResidentState, Thresholds, evaluate, on_timer};

const METRICS: [Metric; 13] = Metric::ALL;

/// A value for `metric`: mostly clinically plausible, sometimes anywhere in the catalogue's range,
/// rarely outside it.
fn value(metric: Metric, pick: u8, unit: f64) -> f64 {
    let info = metric.info();
    let (lo, hi) = match (metric, pick % 10) {
        (_, 9) => (info.min - 10.0, info.max + 10.0),
        (_, 7 | 8) => (info.min, info.max),
        (Metric::HeartRate, _) => (35.0, 140.0),
        (Metric::Spo2, _) => (80.0, 100.0),
        (Metric::BpSystolic, _) => (80.0, 200.0),
        (Metric::BpDiastolic, _) => (50.0, 130.0),
        (Metric::BodyTemperature, _) => (34.5, 40.0),
        (Metric::BodyWeight, _) => (60.0, 64.0),
        (Metric::Steps, _) => (0.0, 9000.0),
        (Metric::Fall, _) => return f64::from(pick % 2),
        (Metric::HelpButton, _) => return 1.0,
        _ => (info.min, info.max),
    };
    lo + (hi - lo) * unit
}

fn observations() -> impl Strategy<Value = Vec<Observation>> {
    let one = (
        0usize..METRICS.len(),
        any::<u8>(),
        0.0f64..1.0,
        0u8..6,
        prop::sample::select(vec![0i64, 1, 5, 30, 180, 1440]),
    );
    prop::collection::vec(one, 1..400).prop_map(|items| {
        let mut t = T0;
        items
            .into_iter()
            .map(|(m, pick, unit, dev, gap_min)| {
                t += gap_min * MIN;
                let metric = METRICS[m];
                Observation { device_id: format!("dev-{dev}"), metric, value: value(metric, pick, unit), time_ms: t }
            })
            .collect()
    })
}

fn thresholds() -> impl Strategy<Value = Thresholds> {
    // Short learning periods and periods, so the baseline and trend rules go live quickly.
    (1u32..4, prop::sample::select(vec![5u32, 30, 60]), 1u32..4, 1u8..3).prop_map(|(learn, period, n, scale)| {
        Thresholds::default()
            .with_overrides(&serde_json::json!({
                "baseline_learning_days": learn, "baseline_period_min": period, "sustained_periods": n,
                "resting_hr_nights": n, "activity_days": n, "spo2_scale": scale,
            }))
            .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn evaluate_never_panics_and_the_state_round_trips(
        obs in observations(),
        th in thresholds(),
        batch in 1usize..40,
        offset in prop::sample::select(vec![-300i32, 0, 60, 480, 330]),
    ) {
        let mut state = ResidentState::default();
        let mut open: BTreeMap<String, Level> = BTreeMap::new();
        let mut timers: BTreeSet<String> = BTreeSet::new();
        for chunk in obs.chunks(batch) {
            let now = chunk.last().unwrap().time_ms;
            let ctx = Context { thresholds: &th, now_ms: now, utc_offset_minutes: offset };
            let mut fx = evaluate(&mut state, &ctx, chunk);
            let mut fired = false;
            while !fx.is_empty() {
                for e in std::mem::take(&mut fx) {
                    match e {
                        Effect::Raise(f) => {
                            prop_assert!(!f.title.is_empty());
                            prop_assert!(f.evidence.is_object());
                            open.insert(f.condition, f.level);
                        }
                        Effect::Clear { condition } => {
                            prop_assert!(open.remove(&condition).is_some(), "cleared {} which was not raised", condition);
                        }
                        Effect::StartTimer { key, due_ms } => {
                            prop_assert!(key.starts_with("fall:"));
                            prop_assert!(due_ms >= chunk[0].time_ms);
                            timers.insert(key);
                        }
                        Effect::CancelTimer { key } => {
                            prop_assert!(timers.remove(&key), "cancelled {} which was not started", key);
                        }
                    }
                }
                // Then every timer still running fires, as the sweeper eventually would.
                if !fired {
                    fired = true;
                    for key in std::mem::take(&mut timers) {
                        fx.extend(on_timer(&mut state, &ctx, &key));
                    }
                }
            }
            let json = serde_json::to_string(&state).unwrap();
            let back: ResidentState = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &state);
            state = back;
        }
        // Every condition the state holds open was raised (and not cleared) through effects.
        for (k, _) in state.open_conditions() {
            prop_assert!(open.contains_key(k), "{} open in the state but never raised", k);
        }
    }
}
