//! Thresholds: CLINICAL.md defaults and per-resident overrides.

use serde_json::json;

use crate::rules::{Level, Thresholds};

#[test]
fn defaults_follow_the_clinical_reference() {
    let t = Thresholds::default();
    assert_eq!((t.spo2_scale, t.spo2_critical_below), (1, 88.0));
    assert_eq!((t.pulse_critical_low, t.pulse_critical_high, t.systolic_critical_low), (40.0, 131.0, 90.0));
    assert_eq!((t.bp_crisis_systolic, t.bp_crisis_diastolic), (180.0, 120.0));
    assert_eq!((t.fever_single_c, t.fever_repeated_c, t.fever_above_baseline_c), (37.8, 37.2, 1.1));
    assert_eq!((t.baseline_learning_days, t.baseline_window_days), (14, 28));
    assert_eq!((t.weight_gain_kg, t.resting_hr_rise, t.resting_hr_nights, t.fall_cancel_s), (2.0, 4.0, 2, 30));
    assert_eq!(t.no_data_hours["heart_rate_band"], 2.0);
    assert_eq!(t.no_data_level, Level::Info);
    assert_eq!(t.validate(), Ok(()));
}

#[test]
fn overrides_change_only_the_fields_given_and_merge_device_kinds() {
    let base = Thresholds::default();
    let t = base
        .with_overrides(
            &json!({"spo2_scale": 2, "no_data_level": "urgent", "no_data_hours": {"scale": 96, "cgm": 1.5}}),
        )
        .unwrap();
    assert_eq!(t.spo2_scale, 2);
    assert_eq!(t.no_data_level, Level::Urgent);
    assert_eq!(t.no_data_hours["scale"], 96.0);
    assert_eq!(t.no_data_hours["cgm"], 1.5);
    assert_eq!(t.no_data_hours["heart_rate_band"], 2.0);
    let mut expected = base.clone();
    expected.spo2_scale = 2;
    expected.no_data_level = Level::Urgent;
    expected.no_data_hours.insert("scale".to_owned(), 96.0);
    expected.no_data_hours.insert("cgm".to_owned(), 1.5);
    assert_eq!(t, expected);
    assert_eq!(base.with_overrides(&json!({})).unwrap(), base);
}

#[test]
fn an_unknown_field_is_an_error_naming_it() {
    let e = Thresholds::default().with_overrides(&json!({"spo2_scael": 2})).unwrap_err();
    assert_eq!(e, "unknown field `spo2_scael`");
}

#[test]
fn a_wrong_type_or_range_is_an_error_naming_the_field() {
    let t = Thresholds::default();
    let e = t.with_overrides(&json!({"fever_single_c": "high"})).unwrap_err();
    assert!(e.starts_with("field `fever_single_c`:"), "{e}");
    let e = t.with_overrides(&json!({"sustained_periods": 2.5})).unwrap_err();
    assert!(e.starts_with("field `sustained_periods`:"), "{e}");
    let e = t.with_overrides(&json!({"no_data_level": "loud"})).unwrap_err();
    assert!(e.starts_with("field `no_data_level`:"), "{e}");
    let e = t.with_overrides(&json!({"spo2_scale": 3})).unwrap_err();
    assert!(e.starts_with("field `spo2_scale`:"), "{e}");
    let e = t.with_overrides(&json!({"no_data_hours": {"scale": -1}})).unwrap_err();
    assert!(e.starts_with("field `no_data_hours.scale`:"), "{e}");
    let e = t.with_overrides(&json!({"baseline_learning_days": 40})).unwrap_err();
    assert!(e.starts_with("field `baseline_learning_days`:"), "{e}");
    assert!(t.with_overrides(&json!([1, 2])).is_err());
}

#[test]
fn thresholds_round_trip_through_json() {
    let t = Thresholds::default().with_overrides(&json!({"ewma_lambda": 0.3, "spo2_scale": 2})).unwrap();
    let back: Thresholds = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(back, t);
}
