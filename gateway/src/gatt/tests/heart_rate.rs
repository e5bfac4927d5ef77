//! Heart Rate Measurement 0x2A37. Source: Heart Rate Service 1.0, section "Heart Rate
//! Measurement", and the GATT Specification Supplement's field table: flags bit 0 uint8/uint16
//! value, bits 1–2 sensor contact, bit 3 energy expended (uint16 kJ), bit 4 RR intervals
//! (uint16, 1/1024 s). Layout cross-checked against Nordic's Android-BLE-Common-Library
//! `HeartRateMeasurementDataCallbackTest` (our vectors are our own).

use super::*;

const HR: Characteristic = Characteristic::HeartRateMeasurement;

fn detail(d: &Decoded) -> &HeartRateDetail {
    match &d.detail {
        Detail::HeartRate(h) => h,
        other => panic!("not a heart rate detail: {other:?}"),
    }
}

#[test]
fn uint8_value_without_contact_support() {
    // flags 0x00: uint8 value 0x48 = 72 /min, contact detection not supported.
    let d = ok(HR, "00 48");
    assert_samples(&d, &[(Metric::HeartRate, 72.0)]);
    assert_eq!(detail(&d).value_format, "uint8");
    assert_eq!(detail(&d).sensor_contact, SensorContact::NotSupported);
    assert_eq!(d.device_time_ms, None);
}

#[test]
fn uint16_value() {
    // flags 0x01: uint16 value 0x012C = 300 /min.
    let d = ok(HR, "01 2c 01");
    assert_samples(&d, &[(Metric::HeartRate, 300.0)]);
    assert_eq!(detail(&d).value_format, "uint16");
}

#[test]
fn contact_detected_with_rr_intervals() {
    // flags 0x16: RR present, contact supported and detected; 75 /min; RR 0x0400 = 1024/1024 s
    // = 1000 ms and 0x03A0 = 928/1024 s = 906.25 ms, oldest first.
    let d = ok(HR, "16 4b 00 04 a0 03");
    assert_samples(&d, &[(Metric::HeartRate, 75.0), (Metric::RrInterval, 1000.0), (Metric::RrInterval, 906.25)]);
    assert_eq!(detail(&d).sensor_contact, SensorContact::Detected);
    assert_eq!(detail(&d).rr_intervals_1024ths, [1024, 928]);
}

#[test]
fn no_contact_with_energy_expended_still_reports_zero() {
    // flags 0x0C: energy present, contact supported but not detected; value 0 (straps send 0
    // without skin contact: returned anyway, the server judges plausibility); 0x03E8 = 1000 kJ.
    let d = ok(HR, "0c 00 e8 03");
    assert_samples(&d, &[(Metric::HeartRate, 0.0)]);
    assert_eq!(detail(&d).sensor_contact, SensorContact::NotDetected);
    assert_eq!(detail(&d).energy_expended_kj, Some(1000));
    assert_eq!(json(&d)["sensor_contact"], "not_detected");
}

#[test]
fn contact_bit_without_support_bit_means_not_supported() {
    // Sensor contact value 0b01 (bit 1 only) is "not supported", like 0b00.
    let d = ok(HR, "02 3c");
    assert_eq!(detail(&d).sensor_contact, SensorContact::NotSupported);
}

#[test]
fn all_fields_uint16() {
    // flags 0x1F: uint16 0x0050 = 80, contact detected, energy 0xFFFF (the spec's "65535 kJ or
    // more"), one RR 0x0300 = 768/1024 s = 750 ms.
    let d = ok(HR, "1f 50 00 ff ff 00 03");
    assert_samples(&d, &[(Metric::HeartRate, 80.0), (Metric::RrInterval, 750.0)]);
    assert_eq!(detail(&d).energy_expended_kj, Some(0xFFFF));
}

#[test]
fn reserved_flag_bits_and_trailing_bytes_are_ignored() {
    // flags 0xE0: bits 5–7 are reserved; without the RR flag, extra bytes are ignored.
    let d = ok(HR, "e0 48 99");
    assert_samples(&d, &[(Metric::HeartRate, 72.0)]);
    assert_eq!(detail(&d).flags, 0xE0);
    assert_eq!(detail(&d).trailing_bytes, 1);
}

#[test]
fn rr_flag_with_no_intervals_is_accepted() {
    let d = ok(HR, "10 48");
    assert_samples(&d, &[(Metric::HeartRate, 72.0)]);
}

#[test]
fn truncated_packets() {
    assert_eq!(too_short(HR, ""), ("flags", 1, 0));
    assert_eq!(too_short(HR, "00"), ("heart rate", 2, 1));
    assert_eq!(too_short(HR, "01 2c"), ("heart rate", 3, 2));
    assert_eq!(too_short(HR, "08 48 e8"), ("energy expended", 4, 3));
    // An odd number of RR bytes: the last interval is cut.
    assert_eq!(too_short(HR, "10 48 00 04 a0"), ("RR interval", 6, 5));
}

#[test]
fn error_message_is_readable() {
    let err = decode(HR, &hex("01 2c")).unwrap_err();
    assert_eq!(err.to_string(), "heart_rate_measurement: packet too short: the heart rate field needs 3 bytes, got 2");
}

#[test]
fn encoder_produces_the_vectors() {
    assert_eq!(encode::heart_rate(72, &[], None, None), hex("00 48"));
    assert_eq!(encode::heart_rate(300, &[], None, None), hex("01 2c 01"));
    assert_eq!(encode::heart_rate(75, &[1000.0, 906.25], Some(true), None), hex("16 4b 00 04 a0 03"));
    assert_eq!(encode::heart_rate(0, &[], Some(false), Some(1000)), hex("0c 00 e8 03"));
}
