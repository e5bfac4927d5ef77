//! Guard-rails, NEWS2 combinations, hysteresis and events, one rule at a time.

use eldercare_schema::Metric::*;

use super::sim::{MIN, Sim, T0, ob, raised};
use crate::rules::{Context, Level, ResidentState, Thresholds, on_timer};

fn th(overrides: serde_json::Value) -> Thresholds {
    Thresholds::default().with_overrides(&overrides).unwrap()
}

#[test]
fn pulse_guard_rails_are_inclusive_at_40_and_131() {
    let t = T0 + 10 * 60 * MIN;
    for (v, expect) in [(40.0, true), (41.0, false), (130.0, false), (131.0, true)] {
        let mut sim = Sim::new(Thresholds::default());
        sim.feed(&[ob("band-1", HeartRate, v, t)]);
        let got = sim.raised.iter().any(|r| r.1 == "pulse_extreme" && r.2 == Level::Critical);
        assert_eq!(got, expect, "pulse {v}");
    }
}

#[test]
fn systolic_at_90_is_critical_and_asks_for_a_repeat() {
    let mut sim = Sim::new(Thresholds::default());
    sim.feed(&[ob("cuff-1", BpSystolic, 90.0, T0), ob("cuff-1", BpDiastolic, 60.0, T0)]);
    // 90 mmHg also scores 3 in NEWS2.
    assert_eq!(sim.raised, vec![raised(T0, "systolic_low", Level::Critical), raised(T0, "news2", Level::Urgent)]);
    assert!(sim.finding("systolic_low", 0).title.contains("repeat the measurement"));
    let mut sim = Sim::new(Thresholds::default());
    sim.feed(&[ob("cuff-1", BpSystolic, 91.0, T0)]);
    assert!(sim.raised.is_empty());
}

#[test]
fn hypertensive_crisis_on_either_side_pairs_the_measurement_and_clears_after_three_normal_ones() {
    let mut sim = Sim::new(Thresholds::default());
    sim.feed(&[ob("cuff-1", BpSystolic, 186.0, T0), ob("cuff-1", BpDiastolic, 95.0, T0)]);
    assert_eq!(sim.raised, vec![raised(T0, "bp_crisis", Level::Critical)]);
    let f = sim.finding("bp_crisis", 0);
    assert_eq!(f.evidence["action"], "repeat the measurement to confirm");
    assert!(f.title.contains("186/?"), "{}", f.title);

    // Diastolic alone: 180/121 is a crisis, 180/120 is not.
    let mut sim = Sim::new(Thresholds::default());
    sim.feed(&[ob("cuff-1", BpSystolic, 180.0, T0), ob("cuff-1", BpDiastolic, 120.0, T0)]);
    assert!(sim.raised.is_empty());
    sim.feed(&[ob("cuff-1", BpSystolic, 180.0, T0 + 10 * MIN), ob("cuff-1", BpDiastolic, 121.0, T0 + 10 * MIN)]);
    assert_eq!(sim.raised, vec![raised(T0 + 10 * MIN, "bp_crisis", Level::Critical)]);
    assert_eq!(sim.finding("bp_crisis", 0).evidence["systolic"], 180.0);

    // Repeats at 10-minute intervals: 175/100 is inside the margin (holds), then three normal.
    for (i, (s, d)) in [(175.0, 100.0), (140.0, 85.0), (138.0, 84.0), (135.0, 82.0)].into_iter().enumerate() {
        let t = T0 + (20 + 10 * i as i64) * MIN;
        sim.feed(&[ob("cuff-1", BpSystolic, s, t), ob("cuff-1", BpDiastolic, d, t)]);
    }
    assert_eq!(sim.cleared, vec![(T0 + 50 * MIN, "bp_crisis".to_owned())]);
}

#[test]
fn spo2_hovering_at_the_threshold_is_one_alert_and_clears_only_after_15_min_of_normal_readings() {
    let mut sim = Sim::new(Thresholds::default());
    let values = [87.0, 89.0, 87.0, 88.0, 89.0, 87.0, 89.0, 95.0, 95.0, 95.0, 95.0, 95.0];
    for (i, v) in values.into_iter().enumerate() {
        sim.feed(&[ob("ox-1", Spo2, v, T0 + i as i64 * 5 * MIN)]);
    }
    // 87, 88 and 89 all score 3 (news2 urgent); SpO2 < 88 is critical; nothing re-raised at 87.
    assert_eq!(sim.raised, vec![raised(T0, "spo2_low", Level::Critical), raised(T0, "news2", Level::Urgent)]);
    // 95 % first at 35 min: three normal readings by 45 min, spanning 15 min at 50 min. NEWS2
    // scores 95 % as 1, so it is normal again too.
    assert_eq!(sim.cleared, vec![(T0 + 50 * MIN, "spo2_low".to_owned()), (T0 + 50 * MIN, "news2".to_owned())]);
    assert_eq!(sim.state.open_conditions().count(), 0);
}

#[test]
fn a_copd_resident_on_scale_2_is_not_alerted_at_88_but_is_at_83() {
    let mut sim = Sim::new(th(serde_json::json!({"spo2_scale": 2})));
    for (i, v) in [90.0, 88.0, 86.0, 84.0].into_iter().enumerate() {
        sim.feed(&[ob("ox-1", Spo2, v, T0 + i as i64 * 5 * MIN)]);
    }
    assert!(sim.raised.is_empty(), "{:?}", sim.raised);
    sim.feed(&[ob("ox-1", Spo2, 83.0, T0 + 20 * MIN)]);
    assert_eq!(
        sim.raised,
        vec![raised(T0 + 20 * MIN, "spo2_low", Level::Critical), raised(T0 + 20 * MIN, "news2", Level::Urgent)]
    );
    assert_eq!(sim.finding("news2", 0).evidence["spo2_scale"], 2);
}

#[test]
fn partial_news2_rises_from_urgent_to_critical_as_parameters_add_up() {
    let mut sim = Sim::new(Thresholds::default());
    sim.feed(&[
        ob("ox-1", Spo2, 91.0, T0),
        ob("band-1", HeartRate, 131.0, T0 + MIN),
        ob("thermo-1", BodyTemperature, 39.1, T0 + 2 * MIN),
    ]);
    assert_eq!(
        sim.raised,
        vec![
            raised(T0, "news2", Level::Urgent),
            raised(T0 + MIN, "pulse_extreme", Level::Critical),
            raised(T0 + MIN, "news2", Level::Urgent),
            raised(T0 + 2 * MIN, "fever", Level::Urgent),
            raised(T0 + 2 * MIN, "news2", Level::Critical),
        ]
    );
    let f = sim.finding("news2", 2);
    assert_eq!(f.evidence["score"], 8);
    assert_eq!(f.evidence["risk"], "high");
    assert_eq!(
        f.evidence["missing"],
        serde_json::json!(["systolic_bp", "respiration_rate", "consciousness", "air_or_oxygen"])
    );
}

#[test]
fn partial_news2_of_5_without_a_3_is_urgent() {
    let mut sim = Sim::new(Thresholds::default());
    // SpO2 92 (2), pulse 115 (2), systolic 105 (1): 5.
    sim.feed(&[ob("ox-1", Spo2, 92.0, T0), ob("band-1", HeartRate, 115.0, T0), ob("cuff-1", BpSystolic, 105.0, T0)]);
    assert_eq!(sim.raised, vec![raised(T0, "news2", Level::Urgent)]);
    assert_eq!(sim.finding("news2", 0).evidence["risk"], "medium");
}

#[test]
fn a_news2_alert_does_not_clear_because_a_probe_was_taken_off() {
    let mut sim = Sim::new(Thresholds::default());
    sim.feed(&[ob("ox-1", Spo2, 90.0, T0)]);
    // Only heart rate afterwards (normal): the SpO2 leaves the window, but that is no recovery.
    for i in 1..30 {
        sim.feed(&[ob("band-1", HeartRate, 70.0, T0 + i * 5 * MIN)]);
    }
    assert!(sim.cleared.is_empty(), "{:?}", sim.cleared);
    for i in 30..34 {
        sim.feed(&[ob("ox-1", Spo2, 97.0, T0 + i * 5 * MIN)]);
    }
    assert_eq!(sim.cleared, vec![(T0 + 165 * MIN, "news2".to_owned())]);
}

#[test]
fn fever_single_and_repeated() {
    let mut sim = Sim::new(Thresholds::default());
    sim.feed(&[ob("thermo-1", BodyTemperature, 37.8, T0)]);
    assert!(sim.raised.is_empty(), "37.8 is not above 37.8");
    // 37.8 was above 37.2; a second one within 24 h is a fever.
    sim.feed(&[ob("thermo-1", BodyTemperature, 37.3, T0 + 20 * 60 * MIN)]);
    assert_eq!(sim.raised, vec![raised(T0 + 20 * 60 * MIN, "fever", Level::Urgent)]);
    assert_eq!(sim.finding("fever", 0).evidence["rules"], serde_json::json!(["repeated_readings"]));

    let mut sim = Sim::new(Thresholds::default());
    sim.feed(&[ob("thermo-1", BodyTemperature, 37.3, T0), ob("thermo-1", BodyTemperature, 37.3, T0 + 25 * 60 * MIN)]);
    assert!(sim.raised.is_empty(), "25 h apart is not repeated: {:?}", sim.raised);
    sim.feed(&[ob("thermo-1", BodyTemperature, 37.9, T0 + 26 * 60 * MIN)]);
    assert_eq!(sim.raised, vec![raised(T0 + 26 * 60 * MIN, "fever", Level::Urgent)]);
    assert_eq!(sim.finding("fever", 0).evidence["rules"], serde_json::json!(["single_reading", "repeated_readings"]));
}

#[test]
fn the_help_button_is_critical_at_once_on_every_press() {
    let mut sim = Sim::new(Thresholds::default());
    sim.feed(&[ob("pendant-1", HelpButton, 1.0, T0)]);
    sim.feed(&[ob("pendant-1", HelpButton, 1.0, T0 + 3 * MIN)]);
    assert_eq!(
        sim.raised,
        vec![raised(T0, "help_button", Level::Critical), raised(T0 + 3 * MIN, "help_button", Level::Critical)]
    );
}

#[test]
fn a_repeated_fall_detection_keeps_the_first_window_and_unknown_timers_do_nothing() {
    let mut sim = Sim::new(Thresholds::default());
    sim.feed(&[ob("pendant-1", Fall, 1.0, T0), ob("pendant-1", Fall, 1.0, T0 + 5_000)]);
    assert_eq!(sim.started, vec![("fall:pendant-1".to_owned(), T0 + 30_000)]);
    let th = Thresholds::default();
    let ctx = Context { thresholds: &th, now_ms: T0, utc_offset_minutes: 0 };
    assert!(on_timer(&mut ResidentState::default(), &ctx, "fall:pendant-1").is_empty(), "no pending fall");
    assert!(on_timer(&mut sim.state, &ctx, "something:else").is_empty());
}

#[test]
fn implausible_values_are_ignored() {
    let mut sim = Sim::new(Thresholds::default());
    sim.feed(&[
        ob("ox-1", Spo2, f64::NAN, T0),
        ob("ox-1", Spo2, 20.0, T0),
        ob("band-1", HeartRate, f64::INFINITY, T0),
        ob("pendant-1", HelpButton, 0.0, T0),
    ]);
    assert!(sim.raised.is_empty());
    assert_eq!(sim.state, ResidentState::default());
}

#[test]
fn levels_are_ordered_and_named() {
    assert!(Level::Critical > Level::Urgent && Level::Urgent > Level::Warning && Level::Warning > Level::Info);
    for l in Level::ALL {
        assert_eq!(Level::parse(l.as_str()), Some(l));
        assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
        assert_eq!(l.as_str().parse::<Level>(), Ok(l));
    }
    assert_eq!(Level::parse("severe"), None);
}
