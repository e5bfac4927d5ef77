//! Weight Measurement 0x2A9D. Source: Weight Scale Service 1.0, section "Weight Measurement",
//! and the GATT Specification Supplement: flags bit 0 SI/imperial, bit 1 time stamp, bit 2 user
//! id, bit 3 BMI and height; weight uint16 in 0.005 kg or 0.01 lb, 0xFFFF "measurement
//! unsuccessful"; BMI 0.1 kg/m²; height 0.001 m or 0.1 in. Pounds at 0.45359237 kg (exact by
//! definition).

use super::*;

const WS: Characteristic = Characteristic::WeightMeasurement;

fn detail(d: &Decoded) -> &WeightDetail {
    match &d.detail {
        Detail::Weight(w) => w,
        other => panic!("not a weight detail: {other:?}"),
    }
}

#[test]
fn si_minimal() {
    // 0x36B0 = 14000 × 0.005 kg = 70.0 kg.
    let d = ok(WS, "00 b0 36");
    assert_samples(&d, &[(Metric::BodyWeight, 70.0)]);
    assert_eq!(detail(&d).unit, "SI");
}

#[test]
fn imperial_is_converted() {
    // flags 0x01: 0x3C48 = 15432 × 0.01 lb = 154.32 lb = 69.9983745384 kg.
    let d = ok(WS, "01 48 3c");
    assert_samples(&d, &[(Metric::BodyWeight, 69.998_374_538_4)]);
    assert_eq!(detail(&d).weight, Some(154.32));
    assert_eq!(detail(&d).unit, "imperial");
}

#[test]
fn si_all_fields() {
    // flags 0x0E: 0x3EE4 = 80.5 kg; 2024-06-01 06:00:00; user 2; BMI 0x00F8 = 24.8;
    // height 0x070A = 1802 mm = 1.802 m.
    let d = ok(WS, "0e e4 3e e8 07 06 01 06 00 00 02 f8 00 0a 07");
    assert_samples(&d, &[(Metric::BodyWeight, 80.5)]);
    assert_eq!(d.device_time_ms, Some(1_717_221_600_000));
    let w = detail(&d);
    assert_eq!((w.user_id, w.bmi, w.height), (Some(2), Some(24.8), Some(1.802)));
}

#[test]
fn imperial_height_is_in_tenths_of_an_inch() {
    // flags 0x09: BMI 24.8, height 0x02BC = 700 × 0.1 in = 70.0 in.
    let d = ok(WS, "09 48 3c f8 00 bc 02");
    assert_eq!(detail(&d).height, Some(70.0));
    assert_eq!(d.samples.len(), 1);
}

#[test]
fn measurement_unsuccessful_gives_no_sample() {
    let d = ok(WS, "00 ff ff");
    assert!(d.samples.is_empty());
    assert_eq!(detail(&d).weight, None);
    assert_eq!(json(&d)["weight"], serde_json::Value::Null);
}

#[test]
fn unknown_day_gives_no_device_time() {
    let d = ok(WS, "02 b0 36 e8 07 06 00 06 00 00");
    assert_eq!(d.device_time_ms, None);
}

#[test]
fn truncated_packets() {
    assert_eq!(too_short(WS, "00 b0"), ("weight", 3, 2));
    assert_eq!(too_short(WS, "04 b0 36"), ("user id", 4, 3));
    assert_eq!(too_short(WS, "08 b0 36 f8 00"), ("height", 7, 5));
}

#[test]
fn encoder_produces_the_vectors() {
    assert_eq!(encode::weight_kg(70.0, None), hex("00 b0 36"));
    assert_eq!(encode::weight_kg(80.5, Some(DateTime::new(2024, 6, 1, 6, 0, 0))), hex("02 e4 3e e8 07 06 01 06 00 00"));
    // Beyond the field (327.67 kg), negative or NaN: "measurement unsuccessful".
    for kg in [400.0, -1.0, f64::NAN] {
        assert_eq!(encode::weight_kg(kg, None), hex("00 ff ff"), "{kg}");
    }
}
