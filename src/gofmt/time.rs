//! Time formats shared with the Go tool.
//!
//! * ISO-UTC (`2025-01-01T00:00:00Z`, whole seconds) is what aws-vault prints for every expiration.
//! * Go's JSON encoding of `time.Time` (RFC 3339 with nanoseconds, trailing zeros trimmed, and the
//!   value's own offset) is what it stores inside keyring payloads.
use jiff::{tz::TimeZone, Timestamp, Zoned};

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC, fraction dropped (Go's `iso8601.Format`).
pub fn iso_utc(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Go's `time.Time.MarshalJSON` text for a UTC instant: RFC3339Nano with `Z`.
pub fn go_rfc3339nano_utc(ts: Timestamp) -> String {
    go_rfc3339nano(&ts.to_zoned(TimeZone::UTC))
}

/// Go's RFC3339Nano for a zoned value: fraction only when non-zero (trailing zeros trimmed),
/// `Z` for UTC, otherwise `±hh:mm`.
pub fn go_rfc3339nano(z: &Zoned) -> String {
    let mut out = z.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = z.subsec_nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    let offset = z.offset().seconds();
    if offset == 0 {
        out.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60));
    }
    out
}

/// Go's RFC3339 (no fraction) for a zoned value, used in keyring labels.
pub fn go_rfc3339(z: &Zoned) -> String {
    let truncated = z.timestamp().as_second();
    let ts = Timestamp::from_second(truncated).unwrap_or(z.timestamp());
    go_rfc3339nano(&ts.to_zoned(z.time_zone().clone()))
}

/// Parse any RFC 3339 timestamp (with or without fraction, `Z` or an offset).
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    s.trim().parse::<Timestamp>().ok()
}

/// Go's zero `time.Time`, which is how a never-expiring credential's `Expires` is written.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_drops_fraction() {
        let ts: Timestamp = "2025-01-01T00:00:00.5Z".parse().unwrap();
        assert_eq!(iso_utc(ts), "2025-01-01T00:00:00Z");
    }

    #[test]
    fn go_nano_trims_zeros_and_keeps_offset() {
        let ts: Timestamp = "2025-01-01T00:00:00.123400Z".parse().unwrap();
        assert_eq!(go_rfc3339nano_utc(ts), "2025-01-01T00:00:00.1234Z");
        let z = ts.to_zoned(TimeZone::fixed(jiff::tz::offset(10)));
        assert_eq!(go_rfc3339nano(&z), "2025-01-01T10:00:00.1234+10:00");
        assert_eq!(go_rfc3339(&z), "2025-01-01T10:00:00+10:00");
        let whole: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(go_rfc3339nano_utc(whole), "2025-01-01T00:00:00Z");
    }

    #[test]
    fn parses_offsets_and_fractions() {
        assert!(parse_rfc3339("2026-11-29T08:03:10.894469Z").is_some());
        assert!(parse_rfc3339("2025-01-01T10:00:00+10:00").is_some());
        assert!(parse_rfc3339("garbage").is_none());
    }
}
