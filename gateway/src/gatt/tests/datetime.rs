//! Date Time. Source: GATT Specification Supplement, "Date Time" (0x2A08): year uint16
//! 1582–9999 with 0 = unknown, month 1–12 with 0 = unknown, day 1–31 with 0 = unknown, then
//! hours, minutes, seconds. Unix times were computed independently (Python `calendar.timegm`).

use super::*;

#[test]
fn wire_form_reads_little_endian_year_first() {
    // 0x07E8 = 2024, March 15th, 08:30:00.
    let t = DateTime::from_bytes([0xE8, 0x07, 0x03, 0x0F, 0x08, 0x1E, 0x00]);
    assert_eq!(t, DateTime::new(2024, 3, 15, 8, 30, 0));
    assert_eq!(t.to_unix_ms(), Some(1_710_491_400_000));
    assert_eq!(t.to_bytes(), [0xE8, 0x07, 0x03, 0x0F, 0x08, 0x1E, 0x00]);
}

#[test]
fn unknown_year_month_or_day_is_no_instant() {
    assert_eq!(DateTime::new(0, 3, 15, 8, 30, 0).to_unix_ms(), None);
    assert_eq!(DateTime::new(2024, 0, 15, 8, 30, 0).to_unix_ms(), None);
    assert_eq!(DateTime::new(2024, 3, 0, 8, 30, 0).to_unix_ms(), None);
    assert_eq!(DateTime::UNKNOWN.to_unix_ms(), None);
}

#[test]
fn impossible_dates_are_no_instant() {
    assert_eq!(DateTime::new(2024, 13, 1, 0, 0, 0).to_unix_ms(), None);
    assert_eq!(DateTime::new(2023, 2, 29, 0, 0, 0).to_unix_ms(), None);
    assert_eq!(DateTime::new(1900, 2, 29, 0, 0, 0).to_unix_ms(), None);
    assert_eq!(DateTime::new(2024, 4, 31, 0, 0, 0).to_unix_ms(), None);
    assert_eq!(DateTime::new(2024, 3, 15, 24, 0, 0).to_unix_ms(), None);
    assert_eq!(DateTime::new(2024, 3, 15, 8, 60, 0).to_unix_ms(), None);
    assert_eq!(DateTime::new(2024, 3, 15, 8, 0, 60).to_unix_ms(), None);
    assert_eq!(DateTime::new(1581, 12, 31, 0, 0, 0).to_unix_ms(), None);
    assert_eq!(DateTime::new(10000, 1, 1, 0, 0, 0).to_unix_ms(), None);
}

#[test]
fn leap_days_and_the_ends_of_the_range() {
    let cases = [
        (DateTime::new(2024, 2, 29, 9, 15, 0), 1_709_198_100_000),
        (DateTime::new(2000, 2, 29, 0, 0, 0), 951_782_400_000),
        (DateTime::new(1970, 1, 1, 0, 0, 0), 0),
        (DateTime::new(1582, 1, 1, 0, 0, 0), -12_244_089_600_000),
        (DateTime::new(9999, 12, 31, 23, 59, 59), 253_402_300_799_000),
    ];
    for (t, ms) in cases {
        assert_eq!(t.to_unix_ms(), Some(ms), "{t:?}");
        assert_eq!(DateTime::from_unix_ms(ms), t);
    }
}

#[test]
fn from_unix_ms_truncates_towards_the_past() {
    let t = DateTime::from_unix_ms(1_710_491_400_999);
    assert_eq!(t, DateTime::new(2024, 3, 15, 8, 30, 0));
    assert_eq!(DateTime::from_unix_ms(-1), DateTime::new(1969, 12, 31, 23, 59, 59));
}

#[test]
fn from_unix_ms_outside_the_field_range_is_unknown() {
    assert_eq!(DateTime::from_unix_ms(i64::MAX), DateTime::UNKNOWN);
    assert_eq!(DateTime::from_unix_ms(i64::MIN), DateTime::UNKNOWN);
    assert_eq!(DateTime::from_unix_ms(-12_244_089_600_001), DateTime::UNKNOWN);
}
