//! Glucose Measurement 0x2A18. Source: Glucose Service 1.0 / Glucose Profile 1.0, section
//! "Glucose Measurement", and the GATT Specification Supplement: flags bit 0 time offset, bit 1
//! concentration with type and sample location, bit 2 unit kg/L or mol/L, bit 3 sensor status
//! annunciation, bit 4 context follows; type in the low nibble, sample location in the high
//! nibble. Nibble order and field order cross-checked against Nordic's
//! `GlucoseMeasurementDataCallbackTest` (their 0x12 = capillary plasma, finger).
//! mg/dL → mmol/L at 18.0182 (molar mass of glucose 180.182 g/mol ÷ 10).

use super::*;

const GL: Characteristic = Characteristic::GlucoseMeasurement;
const BASE_MS: i64 = 1_709_198_100_000; // 2024-02-29 09:15:00 UTC

fn detail(d: &Decoded) -> &GlucoseDetail {
    match &d.detail {
        Detail::Glucose(g) => g,
        other => panic!("not a glucose detail: {other:?}"),
    }
}

#[test]
fn kg_per_litre_is_converted() {
    // flags 0x02; sequence 1; 2024-02-29 09:15:00; 0xB05F = 95 × 10^-5 kg/L = 95 mg/dL
    // = 5.2724 mmol/L; 0x11: capillary whole blood, finger.
    let d = ok(GL, "02 01 00 e8 07 02 1d 09 0f 00 5f b0 11");
    assert_samples(&d, &[(Metric::Glucose, 95.0 / 18.0182)]);
    assert_eq!(d.device_time_ms, Some(BASE_MS));
    let g = detail(&d);
    assert_eq!(g.sequence_number, 1);
    assert_eq!(g.unit, Some("kg/L"));
    assert_eq!(g.fluid_type, Some(Coded { code: 1, name: "capillary_whole_blood" }));
    assert_eq!(g.sample_location, Some(Coded { code: 1, name: "finger" }));
    assert_eq!(json(&d)["type"]["name"], "capillary_whole_blood");
}

#[test]
fn mol_per_litre_is_converted() {
    // flags 0x06; sequence 42; 0xC038 = 56 × 10^-4 mol/L = 5.6 mmol/L; 0x12: capillary plasma.
    let d = ok(GL, "06 2a 00 e8 07 02 1d 09 0f 00 38 c0 12");
    assert_samples(&d, &[(Metric::Glucose, 5.6)]);
    assert_eq!(detail(&d).unit, Some("mol/L"));
    assert_eq!(detail(&d).fluid_type.unwrap().name, "capillary_plasma");
}

#[test]
fn time_offset_and_sensor_status() {
    // flags 0x0B; base 2023-12-31 23:50:00 + 15 min = 2024-01-01 00:05:00; 120 mg/dL;
    // status 0x0001 (device battery low).
    let d = ok(GL, "0b 07 00 e7 07 0c 1f 17 32 00 0f 00 78 b0 12 01 00");
    assert_samples(&d, &[(Metric::Glucose, 120.0 / 18.0182)]);
    assert_eq!(d.device_time_ms, Some(1_704_067_500_000));
    let g = detail(&d);
    assert_eq!(g.time_offset_minutes, Some(15));
    assert_eq!(g.sensor_status.as_ref().unwrap().set, ["device_battery_low"]);
}

#[test]
fn negative_time_offset_without_concentration() {
    // flags 0x01: offset 0xFFFB = -5 minutes; no concentration, so no sample.
    let d = ok(GL, "01 01 00 e8 07 02 1d 09 0f 00 fb ff");
    assert!(d.samples.is_empty());
    assert_eq!(d.device_time_ms, Some(BASE_MS - 5 * 60_000));
    assert_eq!(detail(&d).unit, None);
}

#[test]
fn context_follows_flag() {
    let d = ok(GL, "10 03 00 e8 07 02 1d 09 0f 00");
    assert!(detail(&d).context_information_follows);
    assert!(d.samples.is_empty());
}

#[test]
fn control_solution_is_withheld() {
    // 0x4A: type 10 and location 4, both "control solution"; 0x1A and 0x42: one of the two.
    for type_location in ["4a", "1a", "42"] {
        let d = ok(GL, &format!("02 04 00 e8 07 02 1d 09 0f 00 5f b0 {type_location}"));
        assert!(d.samples.is_empty(), "{type_location}");
        assert_eq!(detail(&d).samples_withheld, Some("control_solution"));
    }
}

#[test]
fn unknown_base_time_keeps_the_sample() {
    // Base time with year, month and day 0.
    let d = ok(GL, "02 01 00 00 00 00 00 09 0f 00 5f b0 11");
    assert_eq!(d.device_time_ms, None);
    assert_eq!(d.samples.len(), 1);
}

#[test]
fn nan_concentration_gives_no_sample() {
    let d = ok(GL, "02 01 00 e8 07 02 1d 09 0f 00 ff 07 11");
    assert!(d.samples.is_empty());
    assert_eq!(detail(&d).samples_withheld, None);
    assert_eq!(json(&d)["concentration"], "NaN");
}

#[test]
fn reserved_and_unavailable_codes() {
    // 0xFB: type 11 (reserved), location 15 (not available).
    let d = ok(GL, "02 01 00 e8 07 02 1d 09 0f 00 5f b0 fb");
    let g = detail(&d);
    assert_eq!(g.fluid_type.unwrap().name, "reserved");
    assert_eq!(g.sample_location.unwrap().name, "not_available");
    assert_eq!(d.samples.len(), 1);
}

#[test]
fn truncated_packets() {
    assert_eq!(too_short(GL, "00 01 00 e8 07"), ("base time", 10, 5));
    assert_eq!(too_short(GL, "02 01 00 e8 07 02 1d 09 0f 00 5f b0"), ("type and sample location", 13, 12));
    assert_eq!(too_short(GL, "08 01 00 e8 07 02 1d 09 0f 00 01"), ("sensor status annunciation", 12, 11));
}

#[test]
fn encoder_produces_the_vectors() {
    let base = DateTime::new(2024, 2, 29, 9, 15, 0);
    assert_eq!(encode::glucose_mmol(42, base, 5.6), hex("06 2a 00 e8 07 02 1d 09 0f 00 38 c0 12"));
}
