//! The Bluetooth Date Time field (GATT Specification Supplement, "Date Time", 0x2A08), embedded
//! as a time stamp in most health measurements: 7 bytes, little-endian.
//!
//! | bytes | field   | range                  |
//! |-------|---------|------------------------|
//! | 0–1   | year    | 1582–9999, 0 = unknown |
//! | 2     | month   | 1–12, 0 = unknown      |
//! | 3     | day     | 1–31, 0 = unknown      |
//! | 4     | hours   | 0–23                   |
//! | 5     | minutes | 0–59                   |
//! | 6     | seconds | 0–59                   |
//!
//! The field carries no time zone. **We assume UTC** when converting to Unix time: the
//! simulator and our own devices set their clocks in UTC, and the Current Time Service lets a
//! gateway set a device's clock. A device that keeps local time will be off by its UTC offset;
//! the gateway still records its own receive time next to it.

use serde::Serialize;

/// One Date Time as sent. Fields are kept raw, so unknown (0) and out-of-range values survive
/// for debugging; [`DateTime::to_unix_ms`] says whether it is a usable instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hours: u8,
    pub minutes: u8,
    pub seconds: u8,
}

const MS_PER_DAY: i64 = 86_400_000;
const FIRST_YEAR: i64 = 1582;
const LAST_YEAR: i64 = 9999;

impl DateTime {
    /// Its size on the wire.
    pub const LEN: usize = 7;

    pub const fn new(year: u16, month: u8, day: u8, hours: u8, minutes: u8, seconds: u8) -> Self {
        DateTime { year, month, day, hours, minutes, seconds }
    }

    /// All fields 0: year, month and day unknown.
    pub const UNKNOWN: DateTime = DateTime::new(0, 0, 0, 0, 0, 0);

    /// The UTC calendar time of a Unix timestamp, truncated to the whole second (towards the
    /// past). A time outside the years 1582–9999, which the field cannot carry, gives
    /// [`DateTime::UNKNOWN`], as a device without a valid clock sends.
    pub fn from_unix_ms(ms: i64) -> Self {
        let days = ms.div_euclid(MS_PER_DAY);
        let second_of_day = ms.rem_euclid(MS_PER_DAY) / 1000;
        let (year, month, day) = civil_from_days(days);
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return DateTime::UNKNOWN;
        }
        // All of these are range-checked above or by construction, so the casts are lossless.
        DateTime::new(
            year as u16,
            month as u8,
            day as u8,
            (second_of_day / 3600) as u8,
            (second_of_day / 60 % 60) as u8,
            (second_of_day % 60) as u8,
        )
    }

    /// Milliseconds since the Unix epoch, reading the fields as UTC. `None` if the year, month
    /// or day is unknown (0), or if any field is out of range (month 13, 30 February, hour 24).
    pub fn to_unix_ms(self) -> Option<i64> {
        let year = i64::from(self.year);
        let valid = (FIRST_YEAR..=LAST_YEAR).contains(&year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(year, self.month)
            && self.hours < 24
            && self.minutes < 60
            && self.seconds < 60;
        if !valid {
            return None;
        }
        let days = days_from_civil(year, i64::from(self.month), i64::from(self.day));
        let seconds = i64::from(self.hours) * 3600 + i64::from(self.minutes) * 60 + i64::from(self.seconds);
        Some(days * MS_PER_DAY + seconds * 1000)
    }

    /// Reads the 7-byte wire form.
    pub fn from_bytes(b: [u8; 7]) -> Self {
        DateTime::new(u16::from_le_bytes([b[0], b[1]]), b[2], b[3], b[4], b[5], b[6])
    }

    /// The 7-byte wire form.
    pub fn to_bytes(self) -> [u8; 7] {
        let [y0, y1] = self.year.to_le_bytes();
        [y0, y1, self.month, self.day, self.hours, self.minutes, self.seconds]
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar. Years are counted from March, so
/// that the leap day falls at the end of a 400-year era of 146 097 days.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
