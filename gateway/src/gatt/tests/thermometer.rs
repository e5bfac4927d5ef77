//! Temperature Measurement 0x2A1C. Source: Health Thermometer Service 1.0, sections
//! "Temperature Measurement" and "Temperature Type", and the GATT Specification Supplement:
//! flags bit 0 Celsius/Fahrenheit, bit 1 time stamp, bit 2 temperature type; FLOAT value.
//! Layout (FLOAT little-endian, exponent in the last byte) cross-checked against Nordic's
//! `TemperatureMeasurementDataCallbackTest`.

use super::*;

const HT: Characteristic = Characteristic::TemperatureMeasurement;

fn detail(d: &Decoded) -> &TemperatureDetail {
    match &d.detail {
        Detail::Temperature(t) => t,
        other => panic!("not a temperature detail: {other:?}"),
    }
}

#[test]
fn celsius() {
    // FLOAT 0xFF00016F = 367 × 10^-1 = 36.7 °C.
    let d = ok(HT, "00 6f 01 00 ff");
    assert_samples(&d, &[(Metric::BodyTemperature, 36.7)]);
    assert_eq!(detail(&d).unit, "Celsius");
    assert_eq!(d.device_time_ms, None);
}

#[test]
fn fahrenheit_is_converted() {
    // flags 0x01: 0xFF0003DA = 98.6 °F = 37.0 °C.
    let d = ok(HT, "01 da 03 00 ff");
    assert_samples(&d, &[(Metric::BodyTemperature, 37.0)]);
    assert_eq!(detail(&d).unit, "Fahrenheit");
    assert_eq!(json(&d)["temperature"], 98.6);
}

#[test]
fn time_stamp_and_type() {
    // flags 0x06: 0xFE000E8D = 3725 × 10^-2 = 37.25 °C; 2023-11-02 07:05:09; type 3 (ear).
    let d = ok(HT, "06 8d 0e 00 fe e7 07 0b 02 07 05 09 03");
    assert_samples(&d, &[(Metric::BodyTemperature, 37.25)]);
    assert_eq!(d.device_time_ms, Some(1_698_908_709_000));
    assert_eq!(detail(&d).temperature_type, Some(Coded { code: 3, name: "ear" }));
}

#[test]
fn reserved_temperature_types() {
    let d = ok(HT, "04 6f 01 00 ff 0a");
    assert_eq!(json(&d)["temperature_type"]["name"], "reserved");
    let d = ok(HT, "04 6f 01 00 ff 00");
    assert_eq!(json(&d)["temperature_type"]["name"], "reserved");
    let d = ok(HT, "04 6f 01 00 ff 09");
    assert_eq!(json(&d)["temperature_type"]["name"], "tympanum");
}

#[test]
fn special_values_give_no_sample() {
    // FLOAT NaN 0x007FFFFF, NaN with exponent -1 (0xFF7FFFFF, our mantissa-only rule), +INF.
    for vector in ["00 ff ff 7f 00", "00 ff ff 7f ff", "00 fe ff 7f 00", "01 00 00 80 00"] {
        let d = ok(HT, vector);
        assert!(d.samples.is_empty(), "{vector}");
    }
    assert_eq!(json(&ok(HT, "00 ff ff 7f 00"))["temperature"], "NaN");
    assert_eq!(json(&ok(HT, "00 fe ff 7f 00"))["temperature"], "+INF");
}

#[test]
fn unknown_month_gives_no_device_time() {
    let d = ok(HT, "02 6f 01 00 ff e7 07 00 02 07 05 09");
    assert_eq!(d.device_time_ms, None);
    assert_samples(&d, &[(Metric::BodyTemperature, 36.7)]);
}

#[test]
fn truncated_packets() {
    assert_eq!(too_short(HT, "00 6f 01 00"), ("temperature", 5, 4));
    assert_eq!(too_short(HT, "02 6f 01 00 ff e7 07"), ("time stamp", 12, 7));
    assert_eq!(too_short(HT, "04 6f 01 00 ff"), ("temperature type", 6, 5));
}

#[test]
fn encoder_produces_the_vectors() {
    assert_eq!(encode::temperature_celsius(36.7, None), hex("00 6f 01 00 ff"));
    assert_eq!(
        encode::temperature_celsius(36.7, Some(DateTime::new(2023, 11, 2, 7, 5, 9))),
        hex("02 6f 01 00 ff e7 07 0b 02 07 05 09")
    );
}
