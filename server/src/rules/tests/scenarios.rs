//! The scenarios: simulated residents over simulated days, each asserting exactly which
//! alerts are raised, at which level, when (silence scenarios are in `silence.rs`).

use eldercare_schema::Metric::*;

use super::sim::{DAY, HOUR, MIN, Sim, T0, XorShift, ob, raised};
use crate::rules::{Context, Effect, Level, ResidentState, Thresholds, evaluate};

/// SpO2 every 5 minutes from `start`: 97, falling one point every 20 minutes, holding at 85.
fn spo2_decline(sim: &mut Sim, start: i64, readings: i64) {
    for i in 0..readings {
        let v = (97 - (i / 4).min(12)) as f64;
        sim.feed(&[ob("ox-1", Spo2, v, start + i * 5 * MIN)]);
    }
}

/// Hourly SpO2 spot checks cycling 96, 97, 98, 97 for `days` days from T0: a usual SpO2 of 97.
fn learn_spo2(sim: &mut Sim, days: i64) {
    for h in 0..days * 24 {
        let v = [96.0, 97.0, 98.0, 97.0][(h % 4) as usize];
        sim.feed(&[ob("ox-1", Spo2, v, T0 + h * HOUR)]);
    }
}

#[test]
fn a_slow_spo2_decline_without_baseline_is_urgent_at_91_then_critical_below_88() {
    let mut sim = Sim::new(Thresholds::default());
    let start = T0 + 10 * HOUR;
    spo2_decline(&mut sim, start, 61);
    assert_eq!(
        sim.raised,
        vec![
            // 91 % scores 3 on scale 1: a single parameter scoring 3 is urgent.
            raised(start + 120 * MIN, "news2", Level::Urgent),
            // 87 %: below the guard-rail; then each new low is sent as new evidence.
            raised(start + 200 * MIN, "spo2_low", Level::Critical),
            raised(start + 220 * MIN, "spo2_low", Level::Critical),
            raised(start + 240 * MIN, "spo2_low", Level::Critical),
        ]
    );
    assert!(sim.cleared.is_empty());
    let news2 = sim.finding("news2", 0);
    assert_eq!(news2.evidence["partial"], true);
    assert_eq!(news2.evidence["score"], 3);
    assert!(news2.title.contains("Partial NEWS2"), "{}", news2.title);
    let missing = news2.evidence["missing"].as_array().unwrap();
    for m in ["systolic_bp", "pulse", "temperature", "respiration_rate", "consciousness", "air_or_oxygen"] {
        assert!(missing.iter().any(|x| x == m), "{m} missing from {missing:?}");
    }
    assert_eq!(sim.finding("spo2_low", 0).evidence["spo2"], 87.0);
    assert_eq!(sim.finding("spo2_low", 2).evidence["spo2"], 85.0);
}

#[test]
fn a_slow_spo2_decline_with_a_learnt_baseline_adds_the_sustained_baseline_alert() {
    let mut sim = Sim::new(Thresholds::default());
    learn_spo2(&mut sim, 15);
    assert_eq!(sim.state.baseline(Spo2), Some((97.0, 0.7413)));
    assert!(sim.raised.is_empty(), "learning raised {:?}", sim.raised);
    let start = T0 + 15 * DAY;
    spo2_decline(&mut sim, start, 61);
    assert_eq!(
        sim.raised,
        vec![
            raised(start + 120 * MIN, "news2", Level::Urgent),
            // Hours 1 and 2 averaged more than 3 points below 97; the third hour's first reading
            // makes three periods in a row.
            raised(start + 180 * MIN, "baseline:spo2", Level::Urgent),
            raised(start + 200 * MIN, "spo2_low", Level::Critical),
            raised(start + 220 * MIN, "spo2_low", Level::Critical),
            raised(start + 240 * MIN, "spo2_low", Level::Critical),
        ]
    );
    let b = sim.finding("baseline:spo2", 0);
    assert_eq!(b.evidence["direction"], "below");
    assert_eq!(b.evidence["baseline_median"], 97.0);
    assert_eq!(b.evidence["periods"], 3);
}

#[test]
fn spo2_settling_four_points_below_usual_raises_only_the_baseline_alert_and_clears_it() {
    let mut sim = Sim::new(Thresholds::default());
    learn_spo2(&mut sim, 15);
    let start = T0 + 15 * DAY;
    // 93 % for five hours (NEWS2 scores 2: no guard-rail), then back to 97 %.
    for i in 0..9 * 12 {
        let v = if i < 60 { 93.0 } else { 97.0 };
        sim.feed(&[ob("ox-1", Spo2, v, start + i * 5 * MIN)]);
    }
    assert_eq!(sim.raised, vec![raised(start + 2 * HOUR, "baseline:spo2", Level::Urgent)]);
    // Normal in hours 5 and 6, and provisionally at the first reading of hour 7.
    assert_eq!(sim.cleared, vec![(start + 7 * HOUR, "baseline:spo2".to_owned())]);
}

#[test]
fn b_a_fall_cancelled_within_30_s_raises_nothing() {
    let mut sim = Sim::new(Thresholds::default());
    let t = T0 + 9 * HOUR;
    sim.feed(&[ob("pendant-1", Fall, 1.0, t)]);
    assert_eq!(sim.started, vec![("fall:pendant-1".to_owned(), t + 30_000)]);
    sim.feed(&[ob("pendant-1", Fall, 0.0, t + 10_000)]);
    assert_eq!(sim.cancelled, vec!["fall:pendant-1".to_owned()]);
    sim.feed(&[ob("band-1", HeartRate, 72.0, t + 40_000)]);
    sim.advance(t + 10 * MIN);
    assert!(sim.raised.is_empty(), "{:?}", sim.raised);

    // Fall and cancel in one batch (a backlog after an outage): no timer at all.
    let th = Thresholds::default();
    let ctx = Context { thresholds: &th, now_ms: t + HOUR, utc_offset_minutes: 0 };
    let mut state = ResidentState::default();
    let fx = evaluate(&mut state, &ctx, &[ob("pendant-1", Fall, 1.0, t), ob("pendant-1", Fall, 0.0, t + 12_000)]);
    assert_eq!(fx, vec![]);
    assert_eq!(state, ResidentState::default());
}

#[test]
fn c_a_fall_not_cancelled_is_critical_at_exactly_30_s() {
    let mut sim = Sim::new(Thresholds::default());
    let t = T0 + 9 * HOUR + 17_250;
    sim.feed(&[ob("pendant-1", Fall, 1.0, t)]);
    for s in [5, 15, 29] {
        sim.feed(&[ob("band-1", HeartRate, 75.0, t + s * 1000)]);
    }
    assert!(sim.raised.is_empty());
    sim.feed(&[ob("band-1", HeartRate, 75.0, t + 45_000)]);
    assert_eq!(sim.raised, vec![raised(t + 30_000, "fall", Level::Critical)]);
    let f = sim.finding("fall", 0);
    assert_eq!(f.evidence["device_id"], "pendant-1");
    assert_eq!(f.evidence["detected_ms"], t);
    assert!(sim.cancelled.is_empty());
}

#[test]
fn a_fall_and_a_late_cancel_in_one_backlog_batch_is_still_raised() {
    let th = Thresholds::default();
    let t = T0 + 9 * HOUR;
    let ctx = Context { thresholds: &th, now_ms: t + HOUR, utc_offset_minutes: 0 };
    let mut state = ResidentState::default();
    let fx = evaluate(&mut state, &ctx, &[ob("pendant-1", Fall, 1.0, t), ob("pendant-1", Fall, 0.0, t + 45_000)]);
    let [Effect::Raise(f)] = fx.as_slice() else { panic!("{fx:?}") };
    assert_eq!((f.condition.as_str(), f.level), ("fall", Level::Critical));
    assert_eq!(f.evidence["cancelled_after_s"], 45);
    // Cancelled at exactly 30 s is in time.
    let fx = evaluate(
        &mut state,
        &ctx,
        &[ob("pendant-1", Fall, 1.0, t + MIN), ob("pendant-1", Fall, 0.0, t + MIN + 30_000)],
    );
    assert_eq!(fx, vec![]);
}

#[test]
fn a_cancel_after_the_window_updates_the_fall_alert_and_does_not_withdraw_it() {
    let mut sim = Sim::new(Thresholds::default());
    let t = T0 + 9 * HOUR;
    sim.feed(&[ob("pendant-1", Fall, 1.0, t)]);
    sim.advance(t + 30_000);
    sim.feed(&[ob("pendant-1", Fall, 0.0, t + 45_000)]);
    assert_eq!(
        sim.raised,
        vec![raised(t + 30_000, "fall", Level::Critical), raised(t + 45_000, "fall", Level::Critical)]
    );
    assert_eq!(sim.finding("fall", 1).evidence["cancelled_after_s"], 45);
    assert!(sim.cleared.is_empty() && sim.cancelled.is_empty());
}

/// Four temperatures a day (08:00, 12:00, 16:00, 20:00) cycling through `pattern`, for `days` days.
fn temperatures(sim: &mut Sim, pattern: [f64; 4], days: i64) {
    for d in 0..days {
        for (i, v) in pattern.iter().enumerate() {
            sim.feed(&[ob("thermo-1", BodyTemperature, *v, T0 + d * DAY + (8 + 4 * i as i64) * HOUR)]);
        }
    }
}

#[test]
fn d_fever_by_baseline_only() {
    let at = T0 + 15 * DAY + 10 * HOUR;

    // Runs cool: baseline 36.0 °C; 37.2 °C is more than 1.1 °C above it.
    let mut cool = Sim::new(Thresholds::default());
    temperatures(&mut cool, [35.9, 36.0, 36.0, 36.1], 15);
    cool.feed(&[ob("thermo-1", BodyTemperature, 37.2, at)]);
    assert_eq!(cool.raised, vec![raised(at, "fever", Level::Urgent)]);
    let f = cool.finding("fever", 0);
    assert_eq!(f.evidence["rules"], serde_json::json!(["above_baseline"]));
    assert_eq!(f.evidence["baseline_median"], 36.0);

    // Baseline 36.8 °C: one 37.2 °C is neither > 37.8, repeated > 37.2, nor > 1.1 above baseline.
    let mut warm = Sim::new(Thresholds::default());
    temperatures(&mut warm, [36.7, 36.8, 36.8, 36.9], 15);
    warm.feed(&[ob("thermo-1", BodyTemperature, 37.2, at)]);
    assert!(warm.raised.is_empty(), "{:?}", warm.raised);

    // The same cool resident before the learning period is over: no baseline, no fever.
    let mut learning = Sim::new(Thresholds::default());
    temperatures(&mut learning, [35.9, 36.0, 36.0, 36.1], 10);
    learning.feed(&[ob("thermo-1", BodyTemperature, 37.2, T0 + 10 * DAY + 10 * HOUR)]);
    assert!(learning.raised.is_empty(), "{:?}", learning.raised);
}

#[test]
fn e_weight_gain_of_2_2_kg_in_40_h_is_a_warning() {
    let mut sim = Sim::new(Thresholds::default());
    for d in 0..10 {
        let v = if d % 2 == 0 { 69.9 } else { 70.1 };
        sim.feed(&[ob("scale-1", BodyWeight, v, T0 + d * DAY + 8 * HOUR)]);
    }
    let w = T0 + 10 * DAY + 8 * HOUR;
    for (h, v) in [(0, 70.0), (16, 70.8), (24, 71.3), (32, 71.7), (40, 72.2)] {
        sim.feed(&[ob("scale-1", BodyWeight, v, w + h * HOUR)]);
    }
    assert_eq!(sim.raised, vec![raised(w + 40 * HOUR, "weight_gain", Level::Warning)]);
    let f = sim.finding("weight_gain", 0);
    assert_eq!(f.evidence["gain_kg"], 2.2);
    assert_eq!(f.evidence["from_kg"], 70.0);
    assert_eq!(f.evidence["hours"], 40.0);
}

/// Heart rate every 5 minutes for `days` days from `from`: nights (00:00–06:00) around
/// `night_hr`, days around 75, with a little seeded noise.
fn heart_rate_days(sim: &mut Sim, rng: &mut XorShift, from: i64, days: i64, night_hr: impl Fn(i64) -> f64) {
    for i in 0..days * 288 {
        let t = from + i * 5 * MIN;
        let night = (t - T0).rem_euclid(DAY) < 6 * HOUR;
        let center = if night { night_hr((t - T0).div_euclid(DAY)) } else { 75.0 };
        sim.feed(&[ob("band-1", HeartRate, (center + rng.range(-3.0, 3.0)).round(), t)]);
    }
}

#[test]
fn resting_heart_rate_up_6_on_two_nights_running_is_a_warning_after_the_second_night() {
    let mut sim = Sim::new(Thresholds::default());
    let mut rng = XorShift::new(7);
    heart_rate_days(&mut sim, &mut rng, T0, 20, |d| if d == 17 || d == 18 { 64.0 } else { 58.0 });
    // Night 17 is the first elevated night; night 18's 06:00 reading makes it two running.
    assert_eq!(sim.raised, vec![raised(T0 + 18 * DAY + 6 * HOUR, "resting_hr_drift", Level::Warning)]);
    // Night 19 is normal; clearing needs two normal nights, so not yet within 20 days.
    assert!(sim.cleared.is_empty());
    heart_rate_days(&mut sim, &mut rng, T0 + 20 * DAY, 2, |_| 58.0);
    assert_eq!(sim.cleared, vec![(T0 + 20 * DAY + 6 * HOUR, "resting_hr_drift".to_owned())]);
}

#[test]
fn one_elevated_night_alone_raises_nothing() {
    let mut sim = Sim::new(Thresholds::default());
    let mut rng = XorShift::new(11);
    heart_rate_days(&mut sim, &mut rng, T0, 20, |d| if d == 17 { 66.0 } else { 58.0 });
    assert!(sim.raised.is_empty(), "{:?}", sim.raised);
}

#[test]
fn daily_steps_at_a_third_of_usual_for_three_days_is_a_warning_when_the_third_day_ends() {
    let mut sim = Sim::new(Thresholds::default());
    for d in 0..20 {
        let total = if (16..19).contains(&d) { 1500.0 } else { 5000.0 };
        // "Steps today" every two hours from 08:00 to 20:00.
        for k in 0..7 {
            sim.feed(&[ob("band-1", Steps, total * (k + 1) as f64 / 7.0, T0 + d * DAY + (8 + 2 * k) * HOUR)]);
        }
    }
    // Day 18 (the third low day) is closed by day 19's first reading, at 08:00.
    assert_eq!(sim.raised, vec![raised(T0 + 19 * DAY + 8 * HOUR, "activity_falling", Level::Warning)]);
    assert_eq!(sim.finding("activity_falling", 0).evidence["days_running"], 3);
}

/// The healthy resident of the issue: 30 days of noisy but normal readings from day `first`.
fn noisy_healthy_month(sim: &mut Sim, seed: u64, first: i64) {
    let mut rng = XorShift::new(seed);
    for d in first..first + 30 {
        for h in 0..24 {
            let hour = T0 + d * DAY + h * HOUR;
            let mut batch = Vec::new();
            for k in 0..12 {
                batch.push(ob("band-1", HeartRate, rng.stepped(55.0, 95.0, 1.0), hour + k * 5 * MIN));
            }
            for k in 0..4 {
                batch.push(ob("ox-1", Spo2, rng.stepped(94.0, 99.0, 1.0), hour + k * 15 * MIN + 1000));
            }
            if matches!(h, 8 | 12 | 16 | 20) {
                batch.push(ob("thermo-1", BodyTemperature, rng.stepped(36.0, 37.1, 0.1), hour + 2 * MIN));
            }
            if matches!(h, 8 | 19) {
                batch.push(ob("cuff-1", BpSystolic, rng.stepped(112.0, 135.0, 1.0), hour + 3 * MIN));
                batch.push(ob("cuff-1", BpDiastolic, rng.stepped(65.0, 85.0, 1.0), hour + 3 * MIN));
            }
            if h == 7 {
                batch.push(ob("scale-1", BodyWeight, rng.stepped(69.6, 70.4, 0.1), hour + 4 * MIN));
            }
            if (8..=20).contains(&h) {
                let total = 3000.0 + 3000.0 * ((d * 7919) % 11) as f64 / 10.0;
                batch.push(ob("band-1", Steps, (total * (h - 7) as f64 / 13.0).round(), hour + 4 * MIN));
            }
            batch.sort_by_key(|o| o.time_ms);
            sim.feed(&batch);
        }
    }
}

#[test]
fn h_a_noisy_but_healthy_resident_raises_nothing_in_30_days() {
    for seed in [1, 42, 2024] {
        let mut sim = Sim::new(Thresholds::default());
        noisy_healthy_month(&mut sim, seed, 0);
        assert!(sim.raised.is_empty(), "seed {seed}: {:?}", sim.raised);
        assert!(sim.cleared.is_empty(), "seed {seed}: {:?}", sim.cleared);
        // The baselines went live, so the month exercised them.
        for m in [HeartRate, Spo2, BodyTemperature, BpSystolic, BpDiastolic] {
            assert!(sim.state.baseline(m).is_some(), "seed {seed}: no baseline for {m}");
        }
    }
}

#[test]
fn the_state_after_30_days_stays_small_and_bounded() {
    let mut sim = Sim::new(Thresholds::default());
    noisy_healthy_month(&mut sim, 3, 0);
    let size_30 = serde_json::to_string(&sim.state).unwrap().len();
    // Another month: the trailing windows drop old days, so the size does not grow.
    noisy_healthy_month(&mut sim, 4, 30);
    assert!(sim.raised.is_empty(), "{:?}", sim.raised);
    let size_60 = serde_json::to_string(&sim.state).unwrap().len();
    println!("rule state: {size_30} bytes after 30 days, {size_60} after 60");
    if std::env::var_os("SHOW_STATE").is_some() {
        println!("{}", serde_json::to_string_pretty(&sim.state).unwrap());
    }
    assert!(size_30 < 8_000, "{size_30} bytes after 30 days");
    assert!(size_60 < size_30 + 1_000, "{size_30} → {size_60} bytes");
}

/// `evaluate` on a batch spanning hours judges each reading at its own time, not `now_ms`.
#[test]
fn a_backlog_is_judged_by_each_readings_own_time() {
    let th = Thresholds::default();
    let t = T0 + 8 * HOUR;
    let ctx = Context { thresholds: &th, now_ms: t + 5 * HOUR, utc_offset_minutes: 0 };
    let mut state = ResidentState::default();
    // SpO2 91 (3 points) and pulse 131 (3 points) two hours apart: never in one partial score.
    let fx = evaluate(&mut state, &ctx, &[ob("ox-1", Spo2, 91.0, t), ob("band-1", HeartRate, 131.0, t + 2 * HOUR)]);
    let raised: Vec<(String, Level, i64)> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Raise(f) => Some((f.condition.clone(), f.level, f.evidence["at_ms"].as_i64().unwrap())),
            _ => None,
        })
        .collect();
    assert_eq!(
        raised,
        vec![("news2".to_owned(), Level::Urgent, t), ("pulse_extreme".to_owned(), Level::Critical, t + 2 * HOUR)]
    );
}

#[test]
fn a_single_wild_reading_is_not_a_baseline_alert_but_three_in_a_row_are() {
    let mut sim = Sim::new(Thresholds::default());
    // Systolic twice a day (08:00, 19:00) for 15 days, cycling 115, 120, 125, 120: baseline 117.5.
    for i in 0..30 {
        let t = T0 + (i / 2) * DAY + if i % 2 == 0 { 8 * HOUR } else { 19 * HOUR };
        sim.feed(&[ob("cuff-1", BpSystolic, [115.0, 120.0, 125.0, 120.0][(i % 4) as usize], t)]);
    }
    let day = |d: i64, h: i64| T0 + d * DAY + h * HOUR;
    // One reading 42 mmHg above usual, then normal ones, then three high ones in a row.
    for (t, v) in [(day(15, 8), 160.0), (day(15, 19), 120.0), (day(16, 8), 120.0)] {
        sim.feed(&[ob("cuff-1", BpSystolic, v, t)]);
    }
    assert!(sim.raised.is_empty(), "{:?}", sim.raised);
    for t in [day(16, 19), day(17, 8), day(17, 19)] {
        sim.feed(&[ob("cuff-1", BpSystolic, 150.0, t)]);
    }
    assert_eq!(sim.raised, vec![raised(day(17, 19), "baseline:bp_systolic", Level::Urgent)]);
    let f = sim.finding("baseline:bp_systolic", 0);
    // Days 15 and 16 (daily medians 140 and 135) have joined the window: the median of the
    // 17 daily medians is now 122.5, and 150 is still more than 3 σ above it.
    assert_eq!(f.evidence["baseline_median"], 122.5);
    assert_eq!(f.evidence["direction"], "above");
}
