//! SFLOAT and FLOAT. Sources: IEEE 11073-20601 (Annex on MDER: SFLOAT-Type and FLOAT-Type,
//! exponent and mantissa as two's complement, reserved special values), and the example tables
//! in HL7's Personal Health Device FHIR IG, page "Mder FLOATs and SFLOATs", which we checked
//! our expectations against.

use super::*;

fn s(raw: u16) -> Float11073 {
    Float11073::from_sfloat(raw)
}

fn f(raw: u32) -> Float11073 {
    Float11073::from_float(raw)
}

#[test]
fn sfloat_values_from_the_hl7_table() {
    // HL7 PHD IG, "Mder FLOATs and SFLOATs", SFLOAT table.
    let table = [
        (0x0002, 2.0),
        (0xF014, 2.0),
        (0xE0C8, 2.0),
        (0x1002, 20.0),
        (0x2002, 200.0),
        (0x00C8, 200.0),
        (0x04D2, 1234.0),
        (0x0B2E, -1234.0),
    ];
    for (raw, value) in table {
        assert_eq!(s(raw), Float11073::Value(value), "{raw:#06x}");
    }
}

#[test]
fn float_values_from_the_hl7_table() {
    // HL7 PHD IG, "Mder FLOATs and SFLOATs", FLOAT table.
    let table = [
        (0x0000_0002, 2.0),
        (0xFF00_0014, 2.0),
        (0xFE00_00C8, 2.0),
        (0x0100_0002, 20.0),
        (0x0200_0002, 200.0),
        (0x0000_00C8, 200.0),
        (0x0000_04D2, 1234.0),
        (0x00FF_FB2E, -1234.0),
    ];
    for (raw, value) in table {
        assert_eq!(f(raw), Float11073::Value(value), "{raw:#010x}");
    }
}

#[test]
fn decimals_decode_to_the_nearest_f64() {
    // IEEE 11073-20601: value = mantissa × 10^exponent; 367 × 10^-1 is 36.7, not 36.700000000000003.
    assert_eq!(s(0xF16F), Float11073::Value(36.7));
    assert_eq!(f(0xFF00_016F), Float11073::Value(36.7));
    assert_eq!(s(0xFFFF), Float11073::Value(-0.1)); // mantissa -1, exponent -1
    assert_eq!(s(0x8001), Float11073::Value(1e-8)); // smallest exponent
    assert_eq!(s(0x07FD), Float11073::Value(2045.0)); // largest ordinary mantissa
    assert_eq!(s(0x0803), Float11073::Value(-2045.0));
    assert_eq!(s(0x77FD), Float11073::Value(2045e7));
    // 10^128 is not exact in f64: the extreme FLOAT is right to about 1e-15.
    let tiny = f(0x807F_FFFD).value().unwrap();
    assert!((tiny / 8_388_605e-128 - 1.0).abs() < 1e-14, "{tiny}");
}

#[test]
fn special_values_at_exponent_zero() {
    // IEEE 11073-20601 special values (exponent 0), SFLOAT and FLOAT.
    assert_eq!(s(0x07FF), Float11073::NaN);
    assert_eq!(s(0x0800), Float11073::NRes);
    assert_eq!(s(0x07FE), Float11073::PositiveInfinity);
    assert_eq!(s(0x0802), Float11073::NegativeInfinity);
    assert_eq!(s(0x0801), Float11073::Reserved);
    assert_eq!(f(0x007F_FFFF), Float11073::NaN);
    assert_eq!(f(0x0080_0000), Float11073::NRes);
    assert_eq!(f(0x007F_FFFE), Float11073::PositiveInfinity);
    assert_eq!(f(0x0080_0002), Float11073::NegativeInfinity);
    assert_eq!(f(0x0080_0001), Float11073::Reserved);
    for special in [s(0x07FF), s(0x0800), f(0x007F_FFFE), f(0x0080_0001)] {
        assert_eq!(special.value(), None);
    }
}

#[test]
fn special_values_are_matched_on_the_mantissa_whatever_the_exponent() {
    // Our documented choice (see sfloat.rs): a special mantissa is never a number.
    assert_eq!(s(0xF7FF), Float11073::NaN);
    assert_eq!(s(0x1800), Float11073::NRes);
    assert_eq!(s(0x87FE), Float11073::PositiveInfinity);
    assert_eq!(s(0xE802), Float11073::NegativeInfinity);
    assert_eq!(s(0x3801), Float11073::Reserved);
    assert_eq!(f(0xFF7F_FFFF), Float11073::NaN);
    assert_eq!(f(0x0580_0000), Float11073::NRes);
    assert_eq!(f(0x807F_FFFE), Float11073::PositiveInfinity);
    assert_eq!(f(0x0180_0002), Float11073::NegativeInfinity);
}

#[test]
fn special_values_serialise_as_strings() {
    let names: Vec<serde_json::Value> = [0x07FF, 0x0800, 0x07FE, 0x0802, 0x0801, 0xF16F]
        .into_iter()
        .map(|raw| serde_json::to_value(s(raw)).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            serde_json::json!("NaN"),
            serde_json::json!("NRes"),
            serde_json::json!("+INF"),
            serde_json::json!("-INF"),
            serde_json::json!("reserved"),
            serde_json::json!(36.7),
        ]
    );
}

#[test]
fn encoder_uses_the_fewest_decimals_that_carry_the_value() {
    assert_eq!(Float11073::sfloat_bits(120.0), 0x0078);
    assert_eq!(Float11073::sfloat_bits(36.7), 0xF16F);
    assert_eq!(Float11073::sfloat_bits(-1234.0), 0x0B2E); // HL7 table
    assert_eq!(Float11073::sfloat_bits(0.0055), 0xC037); // 55 × 10^-4
    assert_eq!(Float11073::sfloat_bits(0.0), 0x0000);
    assert_eq!(Float11073::float_bits(36.7), 0xFF00_016F);
    assert_eq!(Float11073::float_bits(2.0), 0x0000_0002);
}

#[test]
fn encoder_rounds_when_the_mantissa_would_overflow() {
    assert_eq!(Float11073::sfloat_bits(3000.0), 0x112C); // 300 × 10^1
    assert_eq!(Float11073::sfloat_bits(2045.4), 0x07FD); // 2045 × 10^0
    assert_eq!(Float11073::sfloat_bits(1.0 / 3.0), 0xD14D); // 333 × 10^-3
    // 2045.6 × 10^-1 would need mantissa 2046, one of the specials: 205 × 10^0 instead.
    assert_eq!(Float11073::sfloat_bits(204.56), 0x00CD);
}

#[test]
fn encoder_maps_non_finite_and_huge_values_to_specials() {
    assert_eq!(Float11073::sfloat_bits(f64::NAN), 0x07FF);
    assert_eq!(Float11073::sfloat_bits(f64::INFINITY), 0x07FE);
    assert_eq!(Float11073::sfloat_bits(f64::NEG_INFINITY), 0x0802);
    assert_eq!(Float11073::sfloat_bits(1e30), 0x07FE);
    assert_eq!(Float11073::sfloat_bits(-1e30), 0x0802);
    assert_eq!(Float11073::float_bits(f64::NAN), 0x007F_FFFF);
    assert_eq!(Float11073::float_bits(f64::NEG_INFINITY), 0x0080_0002);
}
