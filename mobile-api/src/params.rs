//! Checks of query parameters and body fields shared by the routes. Each error names the
//! parameter and says what is expected.

use crate::{ApiError, rfc3339};

/// An RFC 3339 time as Unix milliseconds.
pub(crate) fn parse_time(name: &str, s: &str) -> Result<i64, ApiError> {
    rfc3339::parse_ms(s).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{name}: expected an RFC 3339 time such as 2024-05-01T08:00:00Z (encode + as %2B), got {s:?}"
        ))
    })
}

/// An integer in `min..=max`, or `default` when absent.
pub(crate) fn parse_int(name: &str, s: Option<&str>, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    match s {
        None => Ok(default),
        Some(s) => {
            s.parse().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| {
                ApiError::BadRequest(format!("{name}: expected an integer from {min} to {max}, got {s:?}"))
            })
        }
    }
}

/// A trimmed, non-empty text of at most `max` characters without control characters.
pub(crate) fn text(name: &str, s: &str, max: usize) -> Result<String, ApiError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ApiError::Unprocessable(format!("{name}: must not be empty")));
    }
    if t.chars().count() > max {
        return Err(ApiError::Unprocessable(format!("{name}: at most {max} characters")));
    }
    if t.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(format!("{name}: must not contain control characters")));
    }
    Ok(t.to_owned())
}

/// Deserialises a field that may be absent (outer `None`), `null` (`Some(None)`) or a value.
pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_within_bounds() {
        assert_eq!(parse_int("limit", None, 50, 1, 100).unwrap(), 50);
        assert_eq!(parse_int("limit", Some("100"), 50, 1, 100).unwrap(), 100);
        for bad in ["0", "101", "x", "", "1.5"] {
            let e = parse_int("limit", Some(bad), 50, 1, 100).unwrap_err().to_problem().detail;
            assert!(e.starts_with("limit: expected an integer from 1 to 100"), "{e}");
        }
    }

    #[test]
    fn texts_are_trimmed_bounded_and_printable() {
        assert_eq!(text("name", "  Ann  ", 10).unwrap(), "Ann");
        assert!(text("name", "   ", 10).is_err());
        assert!(text("name", "abcdefghijk", 10).is_err());
        assert!(text("name", "a\u{0}b", 10).is_err());
        assert_eq!(text("name", "王秀英", 3).unwrap(), "王秀英");
    }
}
