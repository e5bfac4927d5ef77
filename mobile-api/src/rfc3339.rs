//! Times on the wire: RFC 3339, shown in UTC; stored as Unix milliseconds.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ApiError;

/// Unix milliseconds as RFC 3339 in UTC (`2024-05-01T08:00:00Z`, `2024-05-01T08:00:00.25Z`).
pub(crate) fn format_ms(ms: i64) -> Result<String, ApiError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| ApiError::Internal(format!("timestamp {ms} ms out of range")))
}

/// An RFC 3339 time, in any offset, as Unix milliseconds (sub-millisecond digits dropped).
pub(crate) fn parse_ms(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_714_550_400_000; // 2024-05-01T08:00:00Z

    #[test]
    fn formats_in_utc_with_only_the_digits_needed() {
        assert_eq!(format_ms(T).unwrap(), "2024-05-01T08:00:00Z");
        assert_eq!(format_ms(T + 250).unwrap(), "2024-05-01T08:00:00.25Z");
        assert_eq!(format_ms(0).unwrap(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn parses_any_offset() {
        assert_eq!(parse_ms("2024-05-01T08:00:00Z"), Some(T));
        assert_eq!(parse_ms("2024-05-01T16:00:00+08:00"), Some(T));
        assert_eq!(parse_ms("2024-05-01T08:00:00.5Z"), Some(T + 500));
        assert_eq!(parse_ms("1969-12-31T23:59:59.9995Z"), Some(-1));
        assert_eq!(parse_ms("2024-05-01 08:00:00Z"), Some(T), "RFC 3339 allows a space for the T");
        for bad in ["2024-05-01", "2024-05-01T08:00Z", "yesterday", ""] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }
}
