//! Battery Level 0x2A19. Source: Battery Service 1.0, section "Battery Level": one uint8,
//! percent 0–100.

use super::*;

const BAT: Characteristic = Characteristic::BatteryLevel;

#[test]
fn levels() {
    assert_samples(&ok(BAT, "64"), &[(Metric::Battery, 100.0)]);
    assert_samples(&ok(BAT, "00"), &[(Metric::Battery, 0.0)]);
    assert_samples(&ok(BAT, "2a"), &[(Metric::Battery, 42.0)]);
}

#[test]
fn prohibited_values_are_passed_on_for_the_server_to_judge() {
    // 101–255 are prohibited by the specification; the server refuses implausible values.
    assert_samples(&ok(BAT, "65"), &[(Metric::Battery, 101.0)]);
}

#[test]
fn empty_and_trailing() {
    assert_eq!(too_short(BAT, ""), ("battery level", 1, 0));
    let d = ok(BAT, "50 00");
    assert_eq!(json(&d)["trailing_bytes"], 1);
    assert_eq!(json(&d)["level_percent"], 80);
}

#[test]
fn encoder() {
    assert_eq!(encode::battery(42), hex("2a"));
    assert_eq!(encode::battery(250), hex("64"));
}
