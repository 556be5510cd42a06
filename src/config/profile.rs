//! The values a resolved profile carries, and the small value parsers for profile settings
//! (`session_tags`, `transitive_session_tags`, `duration_seconds`).
//!
//! Kept apart from the resolution walk (`resolve.rs`) so that the record other modules build on
//! reads on its own, like aws-vault's `ProfileConfig` struct.

use std::time::Duration;

use super::duration;

/// Values from the command line that apply to every profile of a chain (docs/compatibility.md §2.5 step 1).
#[derive(Debug, Clone, Default)]
pub struct BaseValues {
    pub region: Option<String>,
    /// `--duration`: copied into assume-role and both get-session-token durations (and
    /// federation when `duration_sets_federation`).
    pub duration: Option<Duration>,
    pub duration_sets_federation: bool,
}

/// A resolved profile (docs/compatibility.md §2.5). String fields are `None` when unset or empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileConfig {
    pub name: String,
    pub mfa_serial: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub region: Option<String>,
    pub role_session_name: Option<String>,
    pub source_profile_name: Option<String>,
    pub include_profile: Option<String>,
    pub sso_session: Option<String>,
    pub sso_start_url: Option<String>,
    pub sso_region: Option<String>,
    pub sso_account_id: Option<String>,
    pub sso_role_name: Option<String>,
    pub sso_registration_scopes: Option<String>,
    pub web_identity_token_file: Option<String>,
    pub web_identity_token_process: Option<String>,
    pub sts_regional_endpoints: Option<String>,
    pub endpoint_url: Option<String>,
    /// Tag key and value pairs in first-seen order; a repeated key keeps its first position and
    /// takes the last value (Go stores them in a map).
    pub session_tags: Vec<(String, String)>,
    pub transitive_session_tags: Vec<String>,
    pub source_identity: Option<String>,
    pub credential_process: Option<String>,
    pub mfa_process: Option<String>,
    pub assume_role_duration: Duration,
    /// Non-chained GetSessionToken, default 1h.
    pub get_session_token_duration: Duration,
    /// GetSessionToken when this profile is the source of another, default 8h.
    pub chained_get_session_token_duration: Duration,
    /// GetFederationToken (`login`), default 1h.
    pub get_federation_token_duration: Duration,
    /// The resolved source profile (recursively resolved), if `source_profile` is set.
    pub source: Option<Box<ProfileConfig>>,
    /// Name of the profile that uses this one as its source (None for the target profile).
    pub chained_from: Option<String>,
}

impl ProfileConfig {
    /// True when another profile uses this one as its `source_profile`.
    pub fn is_chained(&self) -> bool {
        self.chained_from.is_some()
    }

    /// The GetSessionToken duration that applies: chained when another profile sources this one.
    pub fn session_token_duration(&self) -> Duration {
        if self.is_chained() {
            self.chained_get_session_token_duration
        } else {
            self.get_session_token_duration
        }
    }
}

/// The error text of a malformed session tag string (aws-vault's wording).
pub const SESSION_TAGS_SYNTAX: &str =
    "session tags string must be <key1>=<value1>,[<key2>=<value2>[,...]]";

/// docs/compatibility.md §2.7: split on `,`; each part split on the first `=`; key and value trimmed; a part
/// without `=` is an error (so `""` and a trailing comma are errors too).
pub fn parse_session_tags(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for part in s.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            return Err(SESSION_TAGS_SYNTAX.to_string());
        };
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        match tags.iter_mut().find(|(existing, _)| *existing == k) {
            Some(slot) => slot.1 = v,
            None => tags.push((k, v)),
        }
    }
    Ok(tags)
}

/// docs/compatibility.md §2.7: split on `,`, trimmed, empty parts dropped.
pub fn parse_transitive_session_tags(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// `duration_seconds` as aws-vault reads it through go-ini's struct mapping, minus the crash.
///
/// go-ini first tries the value as a Go duration and, when that gives a positive duration,
/// stores it into the `uint` field, which panics (docs/compatibility.md §7.5). We accept it instead: `1h`,
/// `3600s`, `90m` mean what they say. Otherwise the value is a Go unsigned integer literal of
/// seconds (`strconv.ParseUint(s, 0, 64)`: `0x`, `0o`, `0b`, leading-`0` octal, `_` separators).
/// Anything else, zero, and negative durations are "unset" (`None`), as in Go.
pub fn parse_duration_seconds(s: &str) -> Option<Duration> {
    if let Ok(nanos) = duration::parse_go_duration(s) {
        if let Some(d) = duration::positive_std(nanos) {
            return Some(d);
        }
    }
    parse_go_uint(s)
        .filter(|secs| *secs > 0)
        .map(Duration::from_secs)
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
fn parse_go_uint(s0: &str) -> Option<u64> {
    if s0.is_empty() {
        return None;
    }
    let (base, digits): (u32, &str) = match s0.strip_prefix('0') {
        Some(rest) => {
            let prefixed = |base| rest.get(1..).filter(|d| !d.is_empty()).map(|d| (base, d));
            match rest.as_bytes().first().map(u8::to_ascii_lowercase) {
                Some(b'b') => prefixed(2),
                Some(b'o') => prefixed(8),
                Some(b'x') => prefixed(16),
                _ => None,
            }
            .unwrap_or((8, rest))
        }
        None => (10, s0),
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.chars() {
        if c == '_' {
            underscores = true;
            continue;
        }
        let d = c.to_digit(base)?;
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    if underscores && !underscore_ok(s0) {
        return None;
    }
    Some(n)
}

/// Go's `strconv.underscoreOK`: underscores only between digits or after a base prefix.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    // '^' start, '0' digit or prefix, '_' underscore, '!' other
    let mut saw = b'^';
    let mut i = 0;
    let b = match b.first() {
        Some(b'+' | b'-') => &b[1..],
        _ => b,
    };
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c.is_ascii_digit() || (hex && c.to_ascii_lowercase().is_ascii_hexdigit()) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// aws-vault's `TestSetSessionTags` table.
    #[test]
    fn session_tags_table() {
        let ok: &[(&str, &[(&str, &str)])] = &[
            ("tag1=value1", &[("tag1", "value1")]),
            (
                "tag2=value2,tag3=value3,tag4=value4",
                &[("tag2", "value2"), ("tag3", "value3"), ("tag4", "value4")],
            ),
            (
                " tagA = valueA ,  tagB  =  valueB  ,  tagC   =   valueC  ",
                &[("tagA", "valueA"), ("tagB", "valueB"), ("tagC", "valueC")],
            ),
            ("a=b=c", &[("a", "b=c")]),
            ("k=1,k=2", &[("k", "2")]),
            ("=", &[("", "")]),
        ];
        for (input, want) in ok {
            assert_eq!(parse_session_tags(input), Ok(tags(want)), "{input:?}");
        }
        for bad in [
            "",
            "tag1=value1,",
            "tagA=valueA,tagB",
            "tagOne,tagTwo=valueTwo",
            "tagI=valueI,tagII,tagIII=valueIII",
        ] {
            assert_eq!(
                parse_session_tags(bad),
                Err(SESSION_TAGS_SYNTAX.to_string()),
                "{bad:?}"
            );
        }
    }

    /// aws-vault's `TestSetTransitiveSessionTags` table.
    #[test]
    fn transitive_tags_table() {
        let cases: &[(&str, &[&str])] = &[
            ("tag1", &["tag1"]),
            ("tag2,tag3,tag4", &["tag2", "tag3", "tag4"]),
            (" tagA ,  tagB  ,   tagC   ", &["tagA", "tagB", "tagC"]),
            ("tag1,", &["tag1"]),
            (",tagA", &["tagA"]),
            ("", &[]),
            (",", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(parse_transitive_session_tags(input), *want, "{input:?}");
        }
    }

    #[test]
    fn duration_seconds_values() {
        let secs = |s: u64| Some(Duration::from_secs(s));
        let cases: &[(&str, Option<Duration>)] = &[
            ("3600", secs(3600)),
            ("1200", secs(1200)),
            ("0x10", secs(16)),
            ("0X10", secs(16)),
            ("0o17", secs(15)),
            ("0b101", secs(5)),
            ("017", secs(15)),
            ("1_000", secs(1000)),
            ("0x_1F", secs(31)),
            // Go-duration forms: a crash in Go, accepted here (docs/compatibility.md §7.5)
            ("1h", secs(3600)),
            ("3600s", secs(3600)),
            ("1h30m", secs(5400)),
            ("1.5h", secs(5400)),
            // unset
            ("0", None),
            ("00", None),
            ("-0", None),
            ("-1h", None),
            ("-5", None),
            ("+5", None),
            ("", None),
            ("08", None),
            ("0x", None),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("abc", None),
            ("1 h", None),
            ("12.5", None),
            ("99999999999999999999", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration_seconds(input), *want, "{input:?}");
        }
    }

    #[test]
    fn session_token_duration_depends_on_chaining() {
        let mut p = ProfileConfig {
            get_session_token_duration: Duration::from_secs(1),
            chained_get_session_token_duration: Duration::from_secs(2),
            ..Default::default()
        };
        assert_eq!(p.session_token_duration(), Duration::from_secs(1));
        p.chained_from = Some("x".into());
        assert_eq!(p.session_token_duration(), Duration::from_secs(2));
    }
}
