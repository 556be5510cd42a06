//! JSON string literals exactly as Go's `encoding/json` writes them (`json.Marshal`,
//! `MarshalIndent` and `Encoder` with its default HTML escaping), so the bytes we store in a
//! keyring or serve from the credential servers are the bytes the Go tool would produce.
//!
//! The rules, from Go's `appendString` (Go 1.22 and later, which the Go tool is built with):
//!
//! * `"` and `\` are backslash-escaped;
//! * `\n`, `\r`, `\t`, and since Go 1.22 also `\b` and `\f`, get their short escapes;
//! * every other byte below 0x20 becomes `\u00xx` (lowercase hex);
//! * `<`, `>` and `&` become `\u003c`, `\u003e` and `\u0026` (HTML escaping is on by default);
//! * U+2028 and U+2029 become `\u2028` and `\u2029` (they break JSONP);
//! * each byte that does not start a valid UTF-8 sequence becomes `\ufffd`;
//! * everything else, DEL (0x7f) and all other non-ASCII characters included, is written as is.
//!
//! `serde_json` differs on HTML characters and U+2028/U+2029, which is why this exists.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `s` as a quoted JSON string literal with Go's escaping.
pub fn quote(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_quoted(&mut out, s.as_bytes());
    // Only ASCII escapes and whole UTF-8 sequences of `s` were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Append `s` to `out` as a quoted JSON string literal with Go's escaping. `s` may hold invalid
/// UTF-8, which is written as `\ufffd` per offending byte, as Go does.
pub fn push_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut rest = s;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                push_valid(out, valid);
                rest = &[];
            }
            Err(e) => {
                let (valid, bad) = rest.split_at(e.valid_up_to());
                // `valid_up_to` guarantees this prefix is UTF-8.
                push_valid(out, std::str::from_utf8(valid).unwrap_or_default());
                out.extend_from_slice(b"\\ufffd");
                // Go's decoder reports an invalid sequence one byte at a time.
                rest = &bad[1..];
            }
        }
    }
    out.push(b'"');
}

fn push_valid(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let short: &[u8] = match c {
            '"' => b"\\\"",
            '\\' => b"\\\\",
            '\n' => b"\\n",
            '\r' => b"\\r",
            '\t' => b"\\t",
            '\u{8}' => b"\\b",
            '\u{c}' => b"\\f",
            '\u{2028}' => b"\\u2028",
            '\u{2029}' => b"\\u2029",
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                out.extend_from_slice(&bytes[start..i]);
                let b = c as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(short);
        start = i + c.len_utf8();
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &[u8]) -> String {
        let mut out = Vec::new();
        push_quoted(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    /// Expected values are what Go 1.22+ `json.Marshal` prints for the same Go string.
    #[test]
    fn matches_go_encoding_json() {
        let table: &[(&str, &str)] = &[
            ("", r#""""#),
            ("prod", r#""prod""#),
            ("q\"\\/", r#""q\"\\/""#),
            ("\n\r\t", r#""\n\r\t""#),
            ("\u{8}\u{c}", r#""\b\f""#),
            ("\u{0}\u{1}\u{b}\u{1f}", r#""\u0000\u0001\u000b\u001f""#),
            ("\u{7f}", "\"\u{7f}\""),
            ("a<b>&c", r#""a\u003cb\u003e\u0026c""#),
            ("\u{2028}\u{2029}", r#""\u2028\u2029""#),
            ("\u{85}\u{a0}é€😀", "\"\u{85}\u{a0}é€😀\""),
            ("eu-west-1\"}", r#""eu-west-1\"}""#),
        ];
        for (input, want) in table {
            assert_eq!(&quote(input), want, "quote({input:?})");
            assert_eq!(&bytes(input.as_bytes()), want, "push_quoted({input:?})");
        }
    }

    #[test]
    fn invalid_utf8_is_one_replacement_per_byte() {
        assert_eq!(bytes(b"a\xffb"), r#""a\ufffdb""#);
        // A truncated sequence: Go decodes E2 and 80 separately, each as an error.
        assert_eq!(bytes(b"\xe2\x80A"), r#""\ufffd\ufffdA""#);
        // An encoded surrogate is not UTF-8.
        assert_eq!(bytes(b"\xed\xa0\x80"), r#""\ufffd\ufffd\ufffd""#);
        assert_eq!(bytes(b"<\xc3"), r#""\u003c\ufffd""#);
    }

    #[test]
    fn appends_to_what_is_there() {
        let mut out = b"{\"k\":".to_vec();
        push_quoted(&mut out, b"v");
        assert_eq!(out, b"{\"k\":\"v\"");
    }
}
