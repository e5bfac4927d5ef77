//! Our Fall Event. Source: our own specification in `gatt/fall.rs` (module documentation).

use super::*;

const FALL: Characteristic = Characteristic::FallEvent;

fn detail(d: &Decoded) -> &FallDetail {
    match &d.detail {
        Detail::Fall(f) => f,
        other => panic!("not a fall detail: {other:?}"),
    }
}

#[test]
fn the_three_events() {
    assert_samples(&ok(FALL, "00 01"), &[(Metric::Fall, 1.0)]);
    assert_samples(&ok(FALL, "00 02"), &[(Metric::Fall, 0.0)]);
    assert_samples(&ok(FALL, "00 03"), &[(Metric::HelpButton, 1.0)]);
    assert_eq!(json(&ok(FALL, "00 02"))["event"], "fall_cancelled");
}

#[test]
fn time_stamp_and_confidence() {
    // The example in the specification: fall on 2024-03-15 08:30:00 UTC, 90 % confidence.
    let d = ok(FALL, "03 01 e8 07 03 0f 08 1e 00 5a");
    assert_samples(&d, &[(Metric::Fall, 1.0)]);
    assert_eq!(d.device_time_ms, Some(1_710_491_400_000));
    assert_eq!(detail(&d).confidence_percent, Some(90));
}

#[test]
fn confidence_without_time_stamp() {
    let d = ok(FALL, "02 01 5f");
    assert_eq!(detail(&d).confidence_percent, Some(95));
    assert_eq!(d.device_time_ms, None);
}

#[test]
fn unknown_date_gives_no_device_time() {
    let d = ok(FALL, "01 03 00 00 00 00 0e 00 00");
    assert_eq!(d.device_time_ms, None);
    assert_samples(&d, &[(Metric::HelpButton, 1.0)]);
}

#[test]
fn reserved_flags_and_trailing_bytes_are_ignored() {
    // A later version may set new flag bits and append fields: the event still gets through.
    let d = ok(FALL, "fc 01 aa bb");
    assert_samples(&d, &[(Metric::Fall, 1.0)]);
    assert_eq!(detail(&d).trailing_bytes, 2);
}

#[test]
fn unknown_event_type_is_an_error() {
    for code in [0x00u8, 0x04, 0xFF] {
        let err = decode(FALL, &[0x00, code]).unwrap_err();
        assert_eq!(
            err,
            DecodeError::InvalidValue {
                characteristic: FALL,
                field: "event type",
                value: u32::from(code),
                expected: "0x01 fall detected, 0x02 fall cancelled, 0x03 help button",
            }
        );
    }
    let message = decode(FALL, &[0x00, 0x04]).unwrap_err().to_string();
    assert_eq!(
        message,
        "fall_event: event type 0x04 is not defined \
         (0x01 fall detected, 0x02 fall cancelled, 0x03 help button)"
    );
}

#[test]
fn truncated_packets() {
    assert_eq!(too_short(FALL, ""), ("flags", 1, 0));
    assert_eq!(too_short(FALL, "00"), ("event type", 2, 1));
    assert_eq!(too_short(FALL, "01 01 e8 07 03"), ("time stamp", 9, 5));
    assert_eq!(too_short(FALL, "03 01 e8 07 03 0f 08 1e 00"), ("confidence", 10, 9));
}

#[test]
fn encoder() {
    assert_eq!(encode::fall(FallEventKind::FallDetected, None), hex("00 01"));
    assert_eq!(
        encode::fall(FallEventKind::HelpButton, Some(DateTime::new(2024, 3, 15, 8, 30, 0))),
        hex("01 03 e8 07 03 0f 08 1e 00")
    );
}
