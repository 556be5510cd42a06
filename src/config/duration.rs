//! Go duration syntax: parsing (`time.ParseDuration`, go-str2duration) and printing
//! (`Duration.String()`).
//!
//! Why a hand port: aws-vault reads durations from environment variables (`AWS_MIN_TTL`,
//! `AWS_ASSUME_ROLE_TTL`, ...) with Go's `time.ParseDuration`, and from flags (`--duration 1d`) with
//! go-str2duration. Scripts depend on exactly which strings are accepted, and the crates that claim
//! Go compatibility differ from Go on edge cases (some panic or hang, some reject `"0"`, as measured when choosing
//! dependencies). This file copies Go's algorithm byte for byte, including its use of
//! `f64` for fractions so `0.3333333333333333333h` is exactly 20 minutes, and its overflow rules.
//!
//! Durations are returned as signed nanoseconds (`i64`), Go's `time.Duration` representation.

/// One nanosecond, in nanoseconds (Go's `time.Nanosecond`).
const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;

/// `1 << 63`: the magnitude of `i64::MIN`, the overflow bound Go uses while accumulating.
const LIMIT: u64 = 1 << 63;

/// Units of Go's `time.ParseDuration`. `µs` is U+00B5 (micro sign), `μs` U+03BC (Greek mu).
const GO_UNITS: &[(&str, u64)] = &[
    ("ns", NANOSECOND),
    ("us", MICROSECOND),
    ("\u{b5}s", MICROSECOND),
    ("\u{3bc}s", MICROSECOND),
    ("ms", MILLISECOND),
    ("s", SECOND),
    ("m", MINUTE),
    ("h", HOUR),
];

/// Units of go-str2duration (aws-vault's duration *flags*): Go's plus days and weeks.
const FLAG_UNITS: &[(&str, u64)] = &[
    ("ns", NANOSECOND),
    ("us", MICROSECOND),
    ("\u{b5}s", MICROSECOND),
    ("\u{3bc}s", MICROSECOND),
    ("ms", MILLISECOND),
    ("s", SECOND),
    ("m", MINUTE),
    ("h", HOUR),
    ("d", DAY),
    ("w", WEEK),
];

/// Parses a duration exactly like Go's `time.ParseDuration`.
///
/// Grammar: an optional `+`/`-`, then one or more `<number><unit>` groups where the number may
/// have a fraction (`1.5h`, `.5s`, `5.s`); units `ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`.
/// The bare string `0` (optionally signed) is allowed; no whitespace anywhere; no days.
///
/// Errors carry Go's message text, e.g. `time: unknown unit "d" in duration "1d"`.
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    parse_with(s, GO_UNITS, true)
}

/// Parses aws-vault's *flag* duration syntax (go-str2duration v2): Go's grammar plus the units
/// `d` (24h) and `w` (7 days), as used by `--duration 1d` and the env vars backing duration flags.
///
/// Error texts follow go-str2duration, which does not quote the input
/// (`time: unknown unit x in duration 1x`).
pub fn parse_flag_duration(s: &str) -> Result<i64, String> {
    parse_with(s, FLAG_UNITS, false)
}

/// Converts a parsed Go duration to a `std::time::Duration`; `None` for zero or negative values,
/// which aws-vault treats as "unset" wherever it reads a duration setting.
pub fn positive_std(nanos: i64) -> Option<std::time::Duration> {
    u64::try_from(nanos)
        .ok()
        .filter(|n| *n > 0)
        .map(std::time::Duration::from_nanos)
}

/// The shared Go algorithm. `quoted` selects Go's `time` error style (`"1x"`) over
/// go-str2duration's bare style (`1x`).
fn parse_with(orig: &str, units: &[(&str, u64)], quoted: bool) -> Result<i64, String> {
    let q = |s: &str| if quoted { go_quote(s) } else { s.to_string() };
    let invalid = || format!("time: invalid duration {}", q(orig));

    let mut s = orig.as_bytes();
    let mut d: u64 = 0;
    let mut neg = false;

    // Consume [-+]?
    if let Some(&c) = s.first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = &s[1..];
        }
    }
    // Special case: if all that is left is "0", this is zero.
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    while !s.is_empty() {
        // The next character must be [0-9.]
        let c = s[0];
        if !(c == b'.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        // Consume [0-9]*
        let before = s.len();
        let (mut v, rest) = leading_int(s).ok_or_else(invalid)?;
        s = rest;
        let pre = before != s.len();

        // Consume (\.[0-9]*)?
        let mut post = false;
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let before = s.len();
            let (ff, sc, rest) = leading_fraction(s);
            f = ff;
            scale = sc;
            s = rest;
            post = before != s.len();
        }
        if !pre && !post {
            // no digits (e.g. ".s" or "-.s")
            return Err(invalid());
        }

        // Consume unit: everything up to the next '.' or digit.
        let i = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if i == 0 {
            return Err(format!("time: missing unit in duration {}", q(orig)));
        }
        let (u, rest) = s.split_at(i);
        s = rest;
        let unit = match units.iter().find(|(name, _)| name.as_bytes() == u) {
            Some((_, unit)) => *unit,
            None => {
                let u = String::from_utf8_lossy(u);
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    q(&u),
                    q(orig)
                ));
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            // float64 is needed to be nanosecond accurate for fractions of hours.
            // v >= 0 && (f*unit/scale) <= 3.6e+12 (ns/h, h is the largest Go unit)
            v = v.saturating_add((f as f64 * (unit as f64 / scale)) as u64);
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d = d.saturating_add(v);
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        // d <= 1<<63 here; 1<<63 is exactly i64::MIN once negated.
        return Ok(if d == LIMIT { i64::MIN } else { -(d as i64) });
    }
    i64::try_from(d).map_err(|_| invalid())
}

/// Go's `leadingInt`: consumes `[0-9]*`; `None` on overflow past `1 << 63`.
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut x: u64 = 0;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if !c.is_ascii_digit() {
            break;
        }
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(c - b'0');
        if x > LIMIT {
            return None;
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

/// Go's `leadingFraction`: consumes `[0-9]*`, returning the digits as an integer and the power
/// of ten they are scaled by. On overflow it stops accumulating precision (never an error).
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let mut x: u64 = 0;
    let mut scale: f64 = 1.0;
    let mut overflow = false;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if !c.is_ascii_digit() {
            break;
        }
        i += 1;
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            // It's possible for overflow to give a positive number, so take care.
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(c - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[i..])
}

/// Go's `time.quote`: double quotes around the input, `"` and `\` escaped, and every byte of a
/// non-ASCII or control character written as `\xNN` (Go does not try to print Unicode here).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if (c as u32) >= 0x80 || c < ' ' {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// Go's `Duration.String()` for a whole number of seconds: `1h0m0s`, `59m59s`, `45s`, `0s`,
/// `-5s`. Hours are never split into days (Go stops at hours because days vary in length).
///
/// `list` prints the remaining lifetime of cached sessions this way.
pub fn format_go_duration_secs(secs: i64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let u = secs.unsigned_abs();
    let (h, m, s) = (u / 3600, (u / 60) % 60, u % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// Go's `Duration.String()` for any duration in nanoseconds: `1.5s`, `1.1µs`, `2h45m0s`,
/// `-2562047h47m16.854775808s`. Used for log lines that echo a duration the way Go would.
pub fn format_go_duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    // Built back to front, like Go's fixed buffer.
    let mut rev: Vec<char> = Vec::with_capacity(32);
    if u < SECOND {
        rev.push('s');
        let prec;
        if u == 0 {
            return "0s".to_string();
        } else if u < MICROSECOND {
            prec = 0;
            rev.push('n');
        } else if u < MILLISECOND {
            prec = 3;
            rev.push('\u{b5}');
        } else {
            prec = 6;
            rev.push('m');
        }
        u = fmt_frac(&mut rev, u, prec);
        fmt_int(&mut rev, u);
    } else {
        rev.push('s');
        u = fmt_frac(&mut rev, u, 9);
        // u is now integer seconds
        fmt_int(&mut rev, u % 60);
        u /= 60;
        // u is now integer minutes
        if u > 0 {
            rev.push('m');
            fmt_int(&mut rev, u % 60);
            u /= 60;
            // u is now integer hours
            if u > 0 {
                rev.push('h');
                fmt_int(&mut rev, u);
            }
        }
    }
    if neg {
        rev.push('-');
    }
    rev.iter().rev().collect()
}

/// Go's `fmtFrac`: the fraction `v / 10^prec` without trailing zeros (and without the point when
/// the fraction is zero), pushed reversed. Returns `v / 10^prec`.
fn fmt_frac(rev: &mut Vec<char>, mut v: u64, prec: usize) -> u64 {
    let mut print = false;
    for _ in 0..prec {
        let digit = (v % 10) as u8;
        print = print || digit != 0;
        if print {
            rev.push(char::from(b'0' + digit));
        }
        v /= 10;
    }
    if print {
        rev.push('.');
    }
    v
}

/// Go's `fmtInt`: decimal digits of `v`, pushed reversed.
fn fmt_int(rev: &mut Vec<char>, mut v: u64) {
    if v == 0 {
        rev.push('0');
        return;
    }
    while v > 0 {
        rev.push(char::from(b'0' + (v % 10) as u8));
        v /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: i64 = 1;
    const US: i64 = 1_000;
    const MS: i64 = 1_000_000;
    const S: i64 = 1_000_000_000;
    const M: i64 = 60 * S;
    const H: i64 = 60 * M;

    /// Go's `parseDurationTests` (src/time/time_test.go).
    const VALID: &[(&str, i64)] = &[
        // simple
        ("0", 0),
        ("5s", 5 * S),
        ("30s", 30 * S),
        ("1478s", 1478 * S),
        // sign
        ("-5s", -5 * S),
        ("+5s", 5 * S),
        ("-0", 0),
        ("+0", 0),
        // decimal
        ("5.0s", 5 * S),
        ("5.6s", 5 * S + 600 * MS),
        ("5.s", 5 * S),
        (".5s", 500 * MS),
        ("1.0s", S),
        ("1.00s", S),
        ("1.004s", S + 4 * MS),
        ("1.0040s", S + 4 * MS),
        ("100.00100s", 100 * S + MS),
        // different units
        ("10ns", 10 * NS),
        ("11us", 11 * US),
        ("12\u{b5}s", 12 * US),
        ("12\u{3bc}s", 12 * US),
        ("13ms", 13 * MS),
        ("14s", 14 * S),
        ("15m", 15 * M),
        ("16h", 16 * H),
        // composite durations
        ("3h30m", 3 * H + 30 * M),
        ("10.5s4m", 4 * M + 10 * S + 500 * MS),
        ("-2m3.4s", -(2 * M + 3 * S + 400 * MS)),
        (
            "1h2m3s4ms5us6ns",
            H + 2 * M + 3 * S + 4 * MS + 5 * US + 6 * NS,
        ),
        ("39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS),
        // large value
        ("52763797000ns", 52763797000 * NS),
        // more than 9 digits after decimal point, see https://golang.org/issue/6617
        ("0.3333333333333333333h", 20 * M),
        // 9007199254740993 = 1<<53+1 cannot be stored precisely in a float64
        ("9007199254740993ns", (1 << 53) + 1),
        // largest duration that can be represented by int64 in nanoseconds
        ("9223372036854775807ns", i64::MAX),
        ("9223372036854775.807us", i64::MAX),
        ("9223372036s854ms775us807ns", i64::MAX),
        ("-9223372036854775808ns", i64::MIN),
        ("-9223372036854775.808us", i64::MIN),
        ("-9223372036s854ms775us808ns", i64::MIN),
        // largest negative round trip value, see https://golang.org/issue/48629
        ("-2562047h47m16.854775808s", i64::MIN),
        // huge string; issue 15011.
        ("0.100000000000000000000h", 6 * M),
        // This value tests the first overflow check in leadingFraction.
        ("0.830103483285477580700h", 49 * M + 48 * S + 372539827 * NS),
        // aws-vault forms
        ("1h30m", H + 30 * M),
        ("900s", 900 * S),
        ("15m0s", 15 * M),
        ("12h", 12 * H),
    ];

    /// Go's `parseDurationErrorTests`: input and a fragment the error must contain. Go's
    /// invalid-UTF-8 inputs cannot be a `&str`; their U+FFFD variants are kept.
    const INVALID: &[(&str, &str)] = &[
        ("", r#""""#),
        ("3", r#""3""#),
        ("-", r#""-""#),
        ("s", r#""s""#),
        (".", r#"".""#),
        ("-.", r#""-.""#),
        (".s", r#"".s""#),
        ("+.s", r#""+.s""#),
        ("1d", r#""1d""#),
        ("\u{FFFD}", r#""\xef\xbf\xbd""#),
        (
            "\u{FFFD} hello \u{FFFD} world",
            r#""\xef\xbf\xbd hello \xef\xbf\xbd world""#,
        ),
        // overflow
        ("9223372036854775810ns", r#""9223372036854775810ns""#),
        ("9223372036854775808ns", r#""9223372036854775808ns""#),
        ("-9223372036854775809ns", r#""-9223372036854775809ns""#),
        ("9223372036854776us", r#""9223372036854776us""#),
        ("3000000h", r#""3000000h""#),
        ("9223372036854775.808us", r#""9223372036854775.808us""#),
        (
            "9223372036854ms775us808ns",
            r#""9223372036854ms775us808ns""#,
        ),
        // forms people try that Go rejects
        ("1h 30m", r#""1h 30m""#),
        (" 1h", r#"" 1h""#),
        ("1H", r#""1H""#),
        ("1hr", r#""1hr""#),
        ("1w", r#""1w""#),
        ("--1s", r#""--1s""#),
    ];

    #[test]
    fn go_parse_duration_valid_table() {
        for (input, want) in VALID {
            assert_eq!(parse_go_duration(input), Ok(*want), "input {input:?}");
        }
    }

    #[test]
    fn go_parse_duration_error_table() {
        for (input, fragment) in INVALID {
            match parse_go_duration(input) {
                Ok(v) => panic!("{input:?} parsed as {v}"),
                Err(e) => assert!(e.contains(fragment), "{input:?}: {e} lacks {fragment}"),
            }
        }
    }

    #[test]
    fn go_error_texts_are_exact() {
        assert_eq!(
            parse_go_duration("1d").unwrap_err(),
            r#"time: unknown unit "d" in duration "1d""#
        );
        assert_eq!(
            parse_go_duration("3").unwrap_err(),
            r#"time: missing unit in duration "3""#
        );
        assert_eq!(
            parse_go_duration("").unwrap_err(),
            r#"time: invalid duration """#
        );
        assert_eq!(
            parse_go_duration("a\"b").unwrap_err(),
            r#"time: invalid duration "a\"b""#
        );
    }

    #[test]
    fn flag_duration_adds_days_and_weeks() {
        assert_eq!(parse_flag_duration("1d"), Ok(24 * H));
        assert_eq!(parse_flag_duration("1w"), Ok(7 * 24 * H));
        assert_eq!(parse_flag_duration("1w2d3h"), Ok(9 * 24 * H + 3 * H));
        assert_eq!(parse_flag_duration("1.5d"), Ok(36 * H));
        assert_eq!(parse_flag_duration("-1d"), Ok(-24 * H));
        for (input, want) in VALID {
            assert_eq!(parse_flag_duration(input), Ok(*want), "input {input:?}");
        }
        assert_eq!(
            parse_flag_duration("1y").unwrap_err(),
            "time: unknown unit y in duration 1y"
        );
        assert!(parse_flag_duration("1d 2h").is_err());
        assert!(parse_flag_duration("").is_err());
        assert!(parse_flag_duration("107000w").is_err(), "overflow");
    }

    #[test]
    fn positive_std_treats_zero_and_negative_as_unset() {
        assert_eq!(positive_std(0), None);
        assert_eq!(positive_std(-1), None);
        assert_eq!(
            positive_std(1_500_000_000),
            Some(std::time::Duration::from_millis(1500))
        );
    }

    #[test]
    fn format_whole_seconds_like_go() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (45, "45s"),
            (59 * 60 + 59, "59m59s"),
            (60, "1m0s"),
            (3600, "1h0m0s"),
            (3661, "1h1m1s"),
            (100 * 3600, "100h0m0s"),
            (-5, "-5s"),
            (-3600, "-1h0m0s"),
            (i64::MIN, "-2562047788015215h30m8s"),
        ];
        for (secs, want) in cases {
            assert_eq!(format_go_duration_secs(*secs), *want, "secs {secs}");
        }
    }

    #[test]
    fn format_any_duration_like_go() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1100, "1.1\u{b5}s"),
            (2_200_000, "2.2ms"),
            (3_300_000_000, "3.3s"),
            (4 * M + 5 * S, "4m5s"),
            (4 * M + 5001 * MS, "4m5.001s"),
            (5 * H + 6 * M + 7001 * MS, "5h6m7.001s"),
            (8 * M + 1, "8m0.000000001s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(format_go_duration(*nanos), *want, "nanos {nanos}");
        }
    }

    #[test]
    fn never_panics_on_random_input() {
        const TOKENS: &[&str] = &[
            "0",
            "1",
            "9",
            ".",
            "-",
            "+",
            "h",
            "m",
            "s",
            "ms",
            "\u{b5}",
            "\u{3bc}",
            "d",
            "w",
            "n",
            "u",
            "99999999999",
            " ",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5000 {
            let len = (next() % 12) as usize;
            let text: String = (0..len)
                .map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize])
                .collect();
            if let Ok(n) = parse_go_duration(&text) {
                let _ = format_go_duration(n);
            }
            let _ = parse_flag_duration(&text);
        }
    }

    #[test]
    fn parse_and_format_round_trip() {
        for (_, nanos) in VALID {
            let text = format_go_duration(*nanos);
            assert_eq!(parse_go_duration(&text), Ok(*nanos), "{text}");
        }
    }
}
