//! NEWS2 points at every band boundary of CLINICAL.md's table.

use crate::rules::news2::*;

#[test]
fn respiration_bands() {
    for (v, p) in [(8.0, 3), (9.0, 1), (11.0, 1), (12.0, 0), (20.0, 0), (21.0, 2), (24.0, 2), (25.0, 3)] {
        assert_eq!(score_respiration(v), p, "respiration {v}");
    }
}

#[test]
fn spo2_scale_1_bands() {
    for (v, p) in [(91.0, 3), (92.0, 2), (93.0, 2), (94.0, 1), (95.0, 1), (96.0, 0), (100.0, 0), (85.0, 3)] {
        assert_eq!(score_spo2_scale1(v), p, "SpO2 {v}");
    }
}

#[test]
fn spo2_scale_2_bands_on_air_and_on_oxygen() {
    let both = [(83.0, 3), (84.0, 2), (85.0, 2), (86.0, 1), (87.0, 1), (88.0, 0), (92.0, 0)];
    for (v, p) in both {
        assert_eq!(score_spo2_scale2(v, false), p, "SpO2 {v} on air");
        assert_eq!(score_spo2_scale2(v, true), p, "SpO2 {v} on oxygen");
    }
    for v in [93.0, 95.0, 97.0, 100.0] {
        assert_eq!(score_spo2_scale2(v, false), 0, "SpO2 {v} on air");
    }
    for (v, p) in [(93.0, 1), (94.0, 1), (95.0, 2), (96.0, 2), (97.0, 3), (100.0, 3)] {
        assert_eq!(score_spo2_scale2(v, true), p, "SpO2 {v} on oxygen");
    }
}

#[test]
fn air_or_oxygen_and_consciousness() {
    assert_eq!(score_air_or_oxygen(true), 2);
    assert_eq!(score_air_or_oxygen(false), 0);
    assert_eq!(score_consciousness(true), 0);
    assert_eq!(score_consciousness(false), 3);
}

#[test]
fn systolic_bands() {
    for (v, p) in [(90.0, 3), (91.0, 2), (100.0, 2), (101.0, 1), (110.0, 1), (111.0, 0), (219.0, 0), (220.0, 3)] {
        assert_eq!(score_systolic(v), p, "systolic {v}");
    }
}

#[test]
fn pulse_bands() {
    let bands = [
        (40.0, 3),
        (41.0, 1),
        (50.0, 1),
        (51.0, 0),
        (90.0, 0),
        (91.0, 1),
        (110.0, 1),
        (111.0, 2),
        (130.0, 2),
        (131.0, 3),
    ];
    for (v, p) in bands {
        assert_eq!(score_pulse(v), p, "pulse {v}");
    }
}

#[test]
fn temperature_bands() {
    let bands = [(35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2), (41.0, 2)];
    for (v, p) in bands {
        assert_eq!(score_temperature(v), p, "temperature {v}");
    }
}

#[test]
fn values_between_integer_bands_fall_in_the_milder_band() {
    assert_eq!(score_spo2_scale1(91.5), 2);
    assert_eq!(score_pulse(90.5), 1);
    assert_eq!(score_systolic(219.5), 0);
    assert_eq!(score_temperature(36.05), 0);
}
