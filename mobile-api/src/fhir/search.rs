//! FHIR search parameters: `patient`/`subject` references, `date` with prefixes (repeatable),
//! `code` and `category` tokens, `_id`, `_count`, and our `_cursor` for the next page.

use time::{Date, Month, OffsetDateTime, Time};

use crate::{ApiError, rfc3339};

/// The name/value pairs of a query string, in order (names may repeat).
pub(crate) fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// `[from, to)` in Unix milliseconds; `None` ends are open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Window {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

impl Window {
    fn narrow_from(&mut self, ms: i64) {
        self.from_ms = Some(self.from_ms.map_or(ms, |f| f.max(ms)));
    }

    fn narrow_to(&mut self, ms: i64) {
        self.to_ms = Some(self.to_ms.map_or(ms, |t| t.min(ms)));
    }
}

fn bad(name: &str, value: &str, expected: &str) -> ApiError {
    ApiError::BadRequest(format!("{name}: expected {expected}, got {value:?}"))
}

/// A FHIR date or dateTime as the interval it stands for: `2024`, `2024-05`, `2024-05-01`
/// (days in UTC) or a full dateTime with a zone (one millisecond).
fn interval(s: &str) -> Option<(i64, i64)> {
    let ms = |d: OffsetDateTime| i64::try_from(d.unix_timestamp_nanos() / 1_000_000).ok();
    let day = |y: i32, m: u8, d: u8| -> Option<OffsetDateTime> {
        Some(Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()?.with_time(Time::MIDNIGHT).assume_utc())
    };
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [y] if digits(y, 4) => {
            let y: i32 = y.parse().ok()?;
            Some((ms(day(y, 1, 1)?)?, ms(day(y + 1, 1, 1)?)?))
        }
        [y, m] if digits(y, 4) && digits(m, 2) => {
            let (y, m): (i32, u8) = (y.parse().ok()?, m.parse().ok()?);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Some((ms(day(y, m, 1)?)?, ms(day(ny, nm, 1)?)?))
        }
        [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2) => {
            let start = day(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
            Some((ms(start)?, ms(start + time::Duration::DAY)?))
        }
        _ => {
            let t = rfc3339::parse_ms(s)?;
            Some((t, t + 1))
        }
    }
}

/// Narrows `window` by one `date` parameter (`ge2024-05-01`, `lt2024-05-01T08:00:00Z`, ...).
pub(crate) fn apply_date(window: &mut Window, value: &str) -> Result<(), ApiError> {
    let (prefix, rest) = match value.get(..2) {
        Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, &value[2..]),
        _ => ("eq", value),
    };
    let expected = "an optional prefix (eq, ge, gt, le, lt) and a date (2024-05-01) or dateTime with zone";
    let (start, end) = interval(rest).ok_or_else(|| bad("date", value, expected))?;
    match prefix {
        "eq" => {
            window.narrow_from(start);
            window.narrow_to(end);
        }
        "ge" => window.narrow_from(start),
        "gt" => window.narrow_from(end),
        "le" => window.narrow_to(end),
        _ => window.narrow_to(start),
    }
    Ok(())
}

/// A `patient` or `subject` value (`7`, `Patient/7`, or an absolute URL ending so) as a
/// resident id. Anything else names no resident of ours.
pub(crate) fn patient_ref(value: &str) -> Option<i64> {
    let id = match value.rsplit_once("Patient/") {
        Some((_, id)) => id,
        None => value,
    };
    id.parse().ok().filter(|n: &i64| *n > 0)
}

/// A token (`code`, `category`): `system|code`, `|code` (no system) or `code`.
pub(crate) fn token(value: &str) -> (Option<&str>, &str) {
    match value.split_once('|') {
        Some((system, code)) => (Some(system), code),
        None => (None, value),
    }
}

pub(crate) fn count(value: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => {
            v.parse().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| bad("_count", v, &format!("1 to {max}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const MAY1: i64 = 1_714_521_600_000; // 2024-05-01T00:00:00Z

    fn window(dates: &[&str]) -> Result<Window, String> {
        let mut w = Window::default();
        for d in dates {
            apply_date(&mut w, d).map_err(|e| e.to_problem().detail)?;
        }
        Ok(w)
    }

    #[test]
    fn prefixes_narrow_the_window() {
        assert_eq!(window(&["ge2024-05-01"]).unwrap(), Window { from_ms: Some(MAY1), to_ms: None });
        assert_eq!(window(&["le2024-05-01"]).unwrap(), Window { from_ms: None, to_ms: Some(MAY1 + DAY) });
        assert_eq!(window(&["lt2024-05-01"]).unwrap(), Window { from_ms: None, to_ms: Some(MAY1) });
        assert_eq!(window(&["gt2024-05-01"]).unwrap(), Window { from_ms: Some(MAY1 + DAY), to_ms: None });
        assert_eq!(window(&["2024-05-01"]).unwrap(), Window { from_ms: Some(MAY1), to_ms: Some(MAY1 + DAY) });
        assert_eq!(window(&["eq2024-05"]).unwrap(), Window { from_ms: Some(MAY1), to_ms: Some(MAY1 + 31 * DAY) });
        let both = window(&["ge2024-04-30T00:00:00Z", "le2024-05-01T08:00:00+08:00"]).unwrap();
        assert_eq!(both, Window { from_ms: Some(MAY1 - DAY), to_ms: Some(MAY1 + 1) });
        let year = window(&["2024"]).unwrap();
        assert_eq!(year.to_ms.unwrap() - year.from_ms.unwrap(), 366 * DAY);
    }

    #[test]
    fn bad_dates_name_the_parameter() {
        for bad in ["ge", "yesterday", "ge2024-13-01", "2024-02-30", "sa2024-05-01", "ge2024-05-01T08:00:00"] {
            assert!(window(&[bad]).unwrap_err().starts_with("date:"), "{bad}");
        }
    }

    #[test]
    fn patient_references_and_tokens() {
        assert_eq!(patient_ref("7"), Some(7));
        assert_eq!(patient_ref("Patient/7"), Some(7));
        assert_eq!(patient_ref("http://x/fhir/r4/Patient/7"), Some(7));
        assert_eq!(patient_ref("Device/7"), None);
        assert_eq!(patient_ref("-1"), None);
        assert_eq!(token("http://loinc.org|8867-4"), (Some("http://loinc.org"), "8867-4"));
        assert_eq!(token("8867-4"), (None, "8867-4"));
        assert_eq!(count(Some("5"), 100, 1000).unwrap(), 5);
        assert!(count(Some("0"), 100, 1000).is_err());
    }
}
