//! Blood Pressure Measurement 0x2A35 and Intermediate Cuff Pressure 0x2A36. Source: Blood
//! Pressure Service 1.0 and Blood Pressure Profile 1.0, sections on both characteristics, and the
//! GATT Specification Supplement's field tables: flags bit 0 unit mmHg/kPa, bit 1 time stamp,
//! bit 2 pulse rate, bit 3 user id, bit 4 measurement status; three SFLOAT pressures first.
//! Layout cross-checked against Nordic's `BloodPressureMeasurementDataCallbackTest`.

use super::*;

const BP: Characteristic = Characteristic::BloodPressureMeasurement;
const CUFF: Characteristic = Characteristic::IntermediateCuffPressure;

fn detail(d: &Decoded) -> &BloodPressureDetail {
    match &d.detail {
        Detail::BloodPressure(b) => b,
        other => panic!("not a blood pressure detail: {other:?}"),
    }
}

#[test]
fn minimal_mmhg() {
    // flags 0x00: 0x0079 = 121, 0x0051 = 81, 0x005F = 95 mmHg (SFLOAT exponent 0).
    let d = ok(BP, "00 79 00 51 00 5f 00");
    assert_samples(&d, &[(Metric::BpSystolic, 121.0), (Metric::BpDiastolic, 81.0), (Metric::BpMean, 95.0)]);
    assert_eq!(detail(&d).unit, "mmHg");
    assert_eq!(d.device_time_ms, None);
}

#[test]
fn all_optional_fields() {
    // flags 0x1E: time stamp 2024-03-15 08:30:00, pulse 0x0048 = 72, user 1, status 0x0004
    // (irregular pulse).
    let d = ok(BP, "1e 78 00 50 00 5d 00 e8 07 03 0f 08 1e 00 48 00 01 04 00");
    assert_samples(
        &d,
        &[(Metric::BpSystolic, 120.0), (Metric::BpDiastolic, 80.0), (Metric::BpMean, 93.0), (Metric::HeartRate, 72.0)],
    );
    assert_eq!(d.device_time_ms, Some(1_710_491_400_000));
    let b = detail(&d);
    assert_eq!(b.user_id, Some(1));
    let status = b.measurement_status.as_ref().unwrap();
    assert_eq!(status.raw, 4);
    assert_eq!(status.set, ["irregular_pulse_detected"]);
}

#[test]
fn kpa_is_converted_to_mmhg() {
    // flags 0x01 (kPa): 0xF0A0 = 160e-1 = 16.0, 0xF06B = 10.7, 0xF07D = 12.5 kPa; ×7.500617.
    let d = ok(BP, "01 a0 f0 6b f0 7d f0");
    assert_samples(
        &d,
        &[(Metric::BpSystolic, 120.009872), (Metric::BpDiastolic, 80.2566019), (Metric::BpMean, 93.7577125)],
    );
    assert_eq!(detail(&d).unit, "kPa");
    assert_eq!(json(&d)["systolic"], 16.0);
}

#[test]
fn special_values_give_no_samples() {
    // flags 0x04: MAP 0x07FF (NaN: the cuff does not compute it), pulse 0x0800 (NRes).
    let d = ok(BP, "04 78 00 50 00 ff 07 00 08");
    assert_samples(&d, &[(Metric::BpSystolic, 120.0), (Metric::BpDiastolic, 80.0)]);
    assert_eq!(json(&d)["mean_arterial_pressure"], "NaN");
    assert_eq!(json(&d)["pulse_rate"], "NRes");
}

#[test]
fn unknown_year_gives_no_device_time() {
    // Time stamp with year 0 (unknown), as cuffs whose clock was never set send.
    let d = ok(BP, "02 78 00 50 00 5d 00 00 00 03 0f 08 1e 00");
    assert_eq!(d.device_time_ms, None);
    assert_eq!(detail(&d).timestamp, Some(DateTime::new(0, 3, 15, 8, 30, 0)));
    assert_eq!(d.samples.len(), 3);
}

#[test]
fn status_bits_and_pulse_rate_range() {
    // 0x0009: body movement (bit 0) and pulse rate range 0b01 (bits 3–4: above upper limit).
    let d = ok(BP, "10 78 00 50 00 5d 00 09 00");
    let status = detail(&d).measurement_status.clone().unwrap();
    assert_eq!(status.set, ["body_movement_detected", "pulse_rate_exceeds_upper_limit"]);
    // 0x0038: range 0b11 (reserved) and improper position (bit 5).
    let d = ok(BP, "10 78 00 50 00 5d 00 38 00");
    let status = detail(&d).measurement_status.clone().unwrap();
    assert_eq!(status.set, ["improper_measurement_position", "pulse_rate_range_reserved"]);
}

#[test]
fn unknown_user_is_255() {
    let d = ok(BP, "08 78 00 50 00 5d 00 ff");
    assert_eq!(detail(&d).user_id, Some(255));
}

#[test]
fn truncated_packets() {
    assert_eq!(too_short(BP, "00 78 00 50"), ("diastolic", 5, 4));
    assert_eq!(too_short(BP, "02 78 00 50 00 5d 00 e8 07 03"), ("time stamp", 14, 10));
    assert_eq!(too_short(BP, "04 78 00 50 00 5d 00 48"), ("pulse rate", 9, 8));
    assert_eq!(too_short(BP, "10 78 00 50 00 5d 00 04"), ("measurement status", 9, 8));
}

#[test]
fn intermediate_cuff_pressure_gives_no_samples() {
    // BLS: the current cuff pressure sits in the systolic position, the other two are NaN.
    let d = ok(CUFF, "00 50 00 ff 07 ff 07");
    assert!(d.samples.is_empty());
    match &d.detail {
        Detail::IntermediateCuffPressure(c) => {
            assert_eq!(c.current_cuff_pressure, Float11073::Value(80.0));
            assert_eq!(c.unit, "mmHg");
        }
        other => panic!("{other:?}"),
    }
    // kPa, with a pulse rate: still no samples (a progress report, not a result).
    let d = ok(CUFF, "05 6b f0 ff 07 ff 07 48 00");
    assert!(d.samples.is_empty());
    assert_eq!(json(&d)["current_cuff_pressure"], 10.7);
    assert_eq!(json(&d)["unit"], "kPa");
    assert_eq!(too_short(CUFF, "00 50 00 ff 07"), ("mean arterial pressure", 7, 5));
}

#[test]
fn encoder_produces_the_vectors() {
    assert_eq!(encode::blood_pressure_mmhg(121.0, 81.0, 95.0, None, None), hex("00 79 00 51 00 5f 00"));
    let time = DateTime::new(2024, 3, 15, 8, 30, 0);
    assert_eq!(
        encode::blood_pressure_mmhg(120.0, 80.0, 93.0, Some(72.0), Some(time)),
        hex("06 78 00 50 00 5d 00 e8 07 03 0f 08 1e 00 48 00")
    );
}
