//! PLX Spot-check 0x2A5E and Continuous 0x2A5F. Source: Pulse Oximeter Service 1.0 and Pulse
//! Oximeter Profile 1.0, sections on both measurements, and the GATT Specification Supplement:
//! field order, flag bits, Measurement Status (uint16, bits 5–15) and Device and Sensor Status
//! (uint24, bits 0–15). Flag and status bit positions cross-checked against Stanford Spezi's
//! `PLXContinuousMeasurement` / `PLXSpotCheckMeasurement` definitions.

use super::*;

const SPOT: Characteristic = Characteristic::PlxSpotCheck;
const CONT: Characteristic = Characteristic::PlxContinuous;

fn spot(d: &Decoded) -> &PlxSpotCheckDetail {
    match &d.detail {
        Detail::PlxSpotCheck(p) => p,
        other => panic!("not a spot-check detail: {other:?}"),
    }
}

fn cont(d: &Decoded) -> &PlxContinuousDetail {
    match &d.detail {
        Detail::PlxContinuous(p) => p,
        other => panic!("not a continuous detail: {other:?}"),
    }
}

#[test]
fn spot_check_minimal() {
    // SpO2 0x0061 = 97 %, PR 0x0048 = 72 /min.
    let d = ok(SPOT, "00 61 00 48 00");
    assert_samples(&d, &[(Metric::Spo2, 97.0), (Metric::HeartRate, 72.0)]);
    assert_eq!(d.device_time_ms, None);
}

#[test]
fn spot_check_all_fields() {
    // flags 0x0F: time 2024-01-31 23:59:59; status 0x0080 (validated data); device status
    // 0x000020 (low perfusion); pulse amplitude index 0xF01E = 3.0 %.
    let d = ok(SPOT, "0f 62 00 3c 00 e8 07 01 1f 17 3b 3b 80 00 20 00 00 1e f0");
    assert_samples(&d, &[(Metric::Spo2, 98.0), (Metric::HeartRate, 60.0)]);
    assert_eq!(d.device_time_ms, Some(1_706_745_599_000));
    let p = spot(&d);
    assert_eq!(p.measurement_status.as_ref().unwrap().set, ["validated_data"]);
    assert_eq!(p.device_and_sensor_status.as_ref().unwrap().set, ["low_perfusion_detected"]);
    assert_eq!(p.pulse_amplitude_index, Some(Float11073::Value(3.0)));
    assert_eq!(p.samples_withheld, None);
}

#[test]
fn spot_check_clock_not_set_gives_no_device_time() {
    // flags 0x11: time stamp present, but bit 4 says the device clock is not set.
    let d = ok(SPOT, "11 61 00 48 00 e8 07 01 1f 17 3b 3b");
    assert_eq!(d.device_time_ms, None);
    assert!(spot(&d).device_clock_not_set);
    assert_eq!(d.samples.len(), 2);
}

#[test]
fn spot_check_nan_spo2_keeps_the_pulse() {
    let d = ok(SPOT, "00 ff 07 48 00");
    assert_samples(&d, &[(Metric::HeartRate, 72.0)]);
    assert_eq!(json(&d)["spo2"], "NaN");
}

#[test]
fn spot_check_invalid_measurement_is_withheld() {
    // flags 0x02, status 0x8000: "invalid measurement detected".
    let d = ok(SPOT, "02 61 00 48 00 00 80");
    assert!(d.samples.is_empty());
    assert_eq!(spot(&d).samples_withheld, Some("invalid_measurement_detected"));
    // 0x2000 "measurement unavailable".
    let d = ok(SPOT, "02 61 00 48 00 00 20");
    assert!(d.samples.is_empty());
    // 0x4000 "questionable measurement" is a warning: samples kept.
    let d = ok(SPOT, "02 61 00 48 00 00 40");
    assert_eq!(d.samples.len(), 2);
}

#[test]
fn spot_check_truncated() {
    assert_eq!(too_short(SPOT, "00 61 00 48"), ("pulse rate", 5, 4));
    assert_eq!(too_short(SPOT, "01 61 00 48 00 e8 07"), ("time stamp", 12, 7));
    assert_eq!(too_short(SPOT, "04 61 00 48 00 20 00"), ("device and sensor status", 8, 7));
}

#[test]
fn continuous_minimal() {
    let d = ok(CONT, "00 60 00 4a 00");
    assert_samples(&d, &[(Metric::Spo2, 96.0), (Metric::HeartRate, 74.0)]);
}

#[test]
fn continuous_all_fields_samples_only_the_normal_pair() {
    // flags 0x1F: normal 97/72, fast 98/73, slow 96/71, status 0x0100 (fully qualified),
    // device status 0x000800 (sensor unconnected to user), PAI 0xF02E = 4.6 %.
    let d = ok(CONT, "1f 61 00 48 00 62 00 49 00 60 00 47 00 00 01 00 08 00 2e f0");
    assert_samples(&d, &[(Metric::Spo2, 97.0), (Metric::HeartRate, 72.0)]);
    let c = cont(&d);
    assert_eq!(c.fast.unwrap().spo2, Float11073::Value(98.0));
    assert_eq!(c.slow.unwrap().pulse_rate, Float11073::Value(71.0));
    assert_eq!(c.measurement_status.as_ref().unwrap().set, ["fully_qualified_data"]);
    assert_eq!(c.device_and_sensor_status.as_ref().unwrap().set, ["sensor_unconnected_to_user"]);
    assert_eq!(c.pulse_amplitude_index, Some(Float11073::Value(4.6)));
    assert_eq!(d.device_time_ms, None);
}

#[test]
fn continuous_nres_spo2_does_not_fall_back_to_fast() {
    // Normal SpO2 0x0800 (NRes); the Fast pair is present but is not a sample source.
    let d = ok(CONT, "01 00 08 48 00 62 00 49 00");
    assert_samples(&d, &[(Metric::HeartRate, 72.0)]);
}

#[test]
fn continuous_test_and_demo_data_are_withheld() {
    // flags 0x04; status 0x0800 (data for testing), 0x0400 (data for demonstration).
    let d = ok(CONT, "04 61 00 48 00 00 08");
    assert!(d.samples.is_empty());
    assert_eq!(cont(&d).samples_withheld, Some("data_for_testing"));
    let d = ok(CONT, "04 61 00 48 00 00 04");
    assert_eq!(json(&d)["samples_withheld"], "data_for_demonstration");
}

#[test]
fn continuous_reserved_status_bits_are_kept_raw() {
    // Device and sensor status 0xFF0000: only reserved bits 16–23.
    let d = ok(CONT, "08 61 00 48 00 00 00 ff");
    let status = cont(&d).device_and_sensor_status.clone().unwrap();
    assert_eq!(status.raw, 0xFF_0000);
    assert!(status.set.is_empty());
}

#[test]
fn continuous_truncated() {
    assert_eq!(too_short(CONT, "02 61 00 48 00 60 00"), ("SpO2PR-Slow pulse rate", 9, 7));
    assert_eq!(too_short(CONT, "10 61 00 48 00 2e"), ("pulse amplitude index", 7, 6));
}

#[test]
fn encoders_produce_the_vectors() {
    assert_eq!(encode::plx_spot_check(97.0, 72.0, None), hex("00 61 00 48 00"));
    assert_eq!(
        encode::plx_spot_check(98.0, 60.0, Some(DateTime::new(2024, 1, 31, 23, 59, 59))),
        hex("01 62 00 3c 00 e8 07 01 1f 17 3b 3b")
    );
    assert_eq!(encode::plx_continuous(96.0, 74.0), hex("00 60 00 4a 00"));
}
