//! Time zones of communities (IANA names, `org_units.time_zone`) as offsets from UTC at an
//! instant, for the rules' local days and nights. The tz database is bundled (jiff), so a
//! server gives the same answers whatever the host has installed.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Looks up time zones by name, each once.
#[derive(Default)]
pub struct Zones {
    known: HashMap<String, Option<TimeZone>>,
}

impl Zones {
    /// The offset of `name` from UTC at `at_ms`, in minutes; `fallback` when the name is not a
    /// known time zone (said once per name in the log) or the instant is out of range.
    pub fn offset_minutes(&mut self, name: &str, at_ms: i64, fallback: i32) -> i32 {
        let zone = self.known.entry(name.to_owned()).or_insert_with(|| match TimeZone::get(name) {
            Ok(tz) => Some(tz),
            Err(e) => {
                tracing::warn!(time_zone = name, error = %e, fallback_minutes = fallback, "unknown time zone; using the server's offset");
                None
            }
        });
        match (zone, Timestamp::from_millisecond(at_ms)) {
            (Some(tz), Ok(t)) => tz.to_offset(t).seconds() / 60,
            _ => fallback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_zone_and_its_daylight_saving() {
        let mut z = Zones::default();
        // 2026-01-15 and 2026-07-15, 12:00 UTC.
        let (winter, summer) = (1_768_478_400_000, 1_784_116_800_000);
        assert_eq!(z.offset_minutes("Asia/Shanghai", winter, 0), 480);
        assert_eq!(z.offset_minutes("Asia/Kolkata", winter, 0), 330);
        assert_eq!(z.offset_minutes("Europe/Berlin", winter, 0), 60);
        assert_eq!(z.offset_minutes("Europe/Berlin", summer, 0), 120);
        assert_eq!(z.offset_minutes("America/New_York", summer, 0), -240);
        assert_eq!(z.offset_minutes("Not/AZone", summer, 480), 480);
    }
}
