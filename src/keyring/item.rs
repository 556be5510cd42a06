//! The Go tool's `keyring.Item` and its JSON form (docs/compatibility.md §4.2).
//!
//! The writer reproduces Go `encoding/json` byte for byte (field order, padded standard base64 for
//! `Data`, Go's HTML-safe string escaping) so that a file written here is indistinguishable from one
//! written by the Go tool. The reader is as lenient as Go's: field names match case-insensitively,
//! unknown fields are ignored, missing fields keep their defaults, and `null` leaves a field unset.
use std::fmt;

use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

/// One keyring entry. `data` holds the secret payload and is wiped on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub data: Zeroizing<Vec<u8>>,
    pub label: String,
    pub description: String,
    pub keychain_not_trust_application: bool,
    pub keychain_not_synchronizable: bool,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item")
            .field("key", &self.key)
            .field("data", &"<redacted>")
            .field("label", &self.label)
            .field("description", &self.description)
            .finish()
    }
}

/// Go's `base64.StdEncoding` for decoding: padded standard alphabet, but (like Go's non-strict
/// decoder) tolerant of non-zero trailing bits. Missing padding is tolerated as well.
const STD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl Item {
    /// The Go `encoding/json` serialisation of `keyring.Item`:
    /// `{"Key":…,"Data":"<std base64>","Label":…,"Description":…,"KeychainNotTrustApplication":…,"KeychainNotSynchronizable":…}`.
    ///
    /// The buffer is sized up front so the base64 of the secret is never copied by a reallocation.
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let mut key = Vec::new();
        crate::gofmt::json::push_quoted(&mut key, self.key.as_bytes());
        let mut label = Vec::new();
        crate::gofmt::json::push_quoted(&mut label, self.label.as_bytes());
        let mut description = Vec::new();
        crate::gofmt::json::push_quoted(&mut description, self.description.as_bytes());
        let b64_len = base64::encoded_len(self.data.len(), true).unwrap_or(0);
        let flag = |b: bool| if b { &b"true"[..] } else { &b"false"[..] };

        const PARTS: &[&str] = &[
            "{\"Key\":",
            ",\"Data\":\"",
            "\",\"Label\":",
            ",\"Description\":",
            ",\"KeychainNotTrustApplication\":",
            ",\"KeychainNotSynchronizable\":",
            "}",
        ];
        let fixed: usize = PARTS.iter().map(|p| p.len()).sum();
        let capacity = fixed + key.len() + b64_len + label.len() + description.len() + 10;
        let mut out = Zeroizing::new(Vec::with_capacity(capacity));
        out.extend_from_slice(PARTS[0].as_bytes());
        out.extend_from_slice(&key);
        out.extend_from_slice(PARTS[1].as_bytes());
        let start = out.len();
        out.resize(start + b64_len, 0);
        // The length was computed by the same engine, so this cannot fail.
        let written = general_purpose::STANDARD
            .encode_slice(&self.data[..], &mut out[start..])
            .unwrap_or(0);
        out.truncate(start + written);
        out.extend_from_slice(PARTS[2].as_bytes());
        out.extend_from_slice(&label);
        out.extend_from_slice(PARTS[3].as_bytes());
        out.extend_from_slice(&description);
        out.extend_from_slice(PARTS[4].as_bytes());
        out.extend_from_slice(flag(self.keychain_not_trust_application));
        out.extend_from_slice(PARTS[5].as_bytes());
        out.extend_from_slice(flag(self.keychain_not_synchronizable));
        out.extend_from_slice(PARTS[6].as_bytes());
        debug_assert!(out.len() <= capacity);
        out
    }

    /// Parse Item JSON the way Go's `json.Unmarshal` into `keyring.Item` does. The error message
    /// never contains any part of the input.
    pub fn from_json(bytes: &[u8]) -> Result<Item, String> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let item = ItemSeed
            .deserialize(&mut de)
            .map_err(|e| sanitize_json_error(&e))?;
        de.end().map_err(|e| sanitize_json_error(&e))?;
        Ok(item)
    }
}

/// serde_json's messages can quote input (e.g. "invalid type: string \"…\""); keep only the
/// category and the position, or one of our own field messages (which start with "field ").
fn sanitize_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let msg = e.to_string();
    if msg.starts_with("field ") {
        return format!("invalid item JSON: {msg}");
    }
    let what = match e.classify() {
        Category::Io => "I/O error",
        Category::Syntax => "syntax error",
        Category::Data => "unexpected value",
        Category::Eof => "unexpected end of input",
    };
    if e.line() == 0 {
        format!("invalid item JSON: {what}")
    } else {
        format!(
            "invalid item JSON: {what} at line {} column {}",
            e.line(),
            e.column()
        )
    }
}

struct ItemSeed;

impl<'de> de::DeserializeSeed<'de> for ItemSeed {
    type Value = Item;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Item, D::Error> {
        d.deserialize_map(ItemVisitor)
    }
}

#[derive(Clone, Copy)]
enum Field {
    Key,
    Data,
    Label,
    Description,
    NotTrust,
    NotSync,
}

const FIELDS: &[(&str, Field)] = &[
    ("Key", Field::Key),
    ("Data", Field::Data),
    ("Label", Field::Label),
    ("Description", Field::Description),
    ("KeychainNotTrustApplication", Field::NotTrust),
    ("KeychainNotSynchronizable", Field::NotSync),
];

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Key => "Key",
            Field::Data => "Data",
            Field::Label => "Label",
            Field::Description => "Description",
            Field::NotTrust => "KeychainNotTrustApplication",
            Field::NotSync => "KeychainNotSynchronizable",
        }
    }
}

/// Go matches an exact field name first, then a case-insensitive one.
fn match_field(name: &str) -> Option<Field> {
    FIELDS
        .iter()
        .find(|(n, _)| *n == name)
        .or_else(|| {
            let lower = name.to_lowercase();
            FIELDS.iter().find(|(n, _)| n.to_lowercase() == lower)
        })
        .map(|(_, f)| *f)
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut item = Item::default();
        while let Some(name) = map.next_key::<String>()? {
            let Some(field) = match_field(&name) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            // `null` leaves the field as it is (Go), except `Data` which becomes nil.
            match field {
                Field::Key | Field::Label | Field::Description => {
                    if let Some(v) = map.next_value::<Option<String>>().map_err(|_| {
                        de::Error::custom(format!("field {} is not a string", field.name()))
                    })? {
                        match field {
                            Field::Key => item.key = v,
                            Field::Label => item.label = v,
                            _ => item.description = v,
                        }
                    }
                }
                Field::NotTrust | Field::NotSync => {
                    if let Some(v) = map.next_value::<Option<bool>>().map_err(|_| {
                        de::Error::custom(format!("field {} is not a boolean", field.name()))
                    })? {
                        match field {
                            Field::NotTrust => item.keychain_not_trust_application = v,
                            _ => item.keychain_not_synchronizable = v,
                        }
                    }
                }
                Field::Data => {
                    let v = map
                        .next_value::<Option<SecretString>>()
                        .map_err(|_| de::Error::custom("field Data is not a string"))?;
                    item.data = match v {
                        None => Zeroizing::new(Vec::new()),
                        Some(s) => decode_data(&s.0)
                            .ok_or_else(|| de::Error::custom("field Data is not valid base64"))?,
                    };
                }
            }
        }
        Ok(item)
    }
}

/// A string that is wiped when dropped (the base64 of the secret payload).
struct SecretString(Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretString, E> {
                Ok(SecretString(Zeroizing::new(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<SecretString, E> {
                Ok(SecretString(Zeroizing::new(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Go's `base64.StdEncoding.DecodeString` as used by `encoding/json` for `[]byte`: `\r` and `\n`
/// are skipped.
fn decode_data(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut cleaned = Zeroizing::new(Vec::with_capacity(s.len()));
    cleaned.extend(s.bytes().filter(|b| *b != b'\r' && *b != b'\n'));
    let mut out = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(cleaned.len())]);
    match STD_LENIENT.decode_slice(&cleaned[..], &mut out[..]) {
        Ok(n) => {
            out.truncate(n);
            Some(out)
        }
        Err(_) => {
            out.zeroize();
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, data: &[u8]) -> Item {
        Item {
            key: key.into(),
            data: Zeroizing::new(data.to_vec()),
            ..Item::default()
        }
    }

    #[test]
    fn writes_go_field_order_and_base64() {
        let it = Item {
            key: "prod".into(),
            data: Zeroizing::new(b"{\"AccessKeyID\":\"AKIA\"}".to_vec()),
            label: "aws-vault (prod)".into(),
            description: String::new(),
            keychain_not_trust_application: true,
            keychain_not_synchronizable: false,
        };
        let json = it.to_json();
        assert_eq!(
            std::str::from_utf8(&json).unwrap(),
            r#"{"Key":"prod","Data":"eyJBY2Nlc3NLZXlJRCI6IkFLSUEifQ==","Label":"aws-vault (prod)","Description":"","KeychainNotTrustApplication":true,"KeychainNotSynchronizable":false}"#
        );
    }

    #[test]
    fn empty_item() {
        assert_eq!(
            std::str::from_utf8(&Item::default().to_json()).unwrap(),
            r#"{"Key":"","Data":"","Label":"","Description":"","KeychainNotTrustApplication":false,"KeychainNotSynchronizable":false}"#
        );
    }

    #[test]
    fn roundtrip() {
        for data in [&b""[..], b"x", b"xy", b"xyz", &[0u8, 255, 128, 10, 13][..]] {
            let it = Item {
                key: "sts.GetSessionToken,cHJvZA,,1735689600 <&>\u{2028}".into(),
                data: Zeroizing::new(data.to_vec()),
                label: "l\"a\\b\nel".into(),
                description: "d".into(),
                keychain_not_trust_application: true,
                keychain_not_synchronizable: true,
            };
            let back = Item::from_json(&it.to_json()).unwrap();
            assert_eq!(back, it);
            // serde_json agrees that it is valid JSON
            let v: serde_json::Value = serde_json::from_slice(&it.to_json()).unwrap();
            assert_eq!(v["Key"], it.key.as_str());
        }
    }

    #[test]
    fn reader_is_lenient_like_go() {
        let it = Item::from_json(
            br#"{"key":"k","DATA":"eA==","label":"L","Extra":{"a":[1,2]},"keychainnottrustapplication":true}"#,
        )
        .unwrap();
        assert_eq!(it.key, "k");
        assert_eq!(&it.data[..], b"x");
        assert_eq!(it.label, "L");
        assert_eq!(it.description, "");
        assert!(it.keychain_not_trust_application);
        assert!(!it.keychain_not_synchronizable);

        let it = Item::from_json(br#"{"Key":"k","Data":null,"Label":null}"#).unwrap();
        assert_eq!(it.key, "k");
        assert!(it.data.is_empty());

        let it = Item::from_json(br#"{}"#).unwrap();
        assert_eq!(it, Item::default());

        // Go skips \r and \n inside base64 and tolerates trailing bits; unpadded is accepted too.
        let it = Item::from_json(br#"{"Data":"eH\r\nk="}"#).unwrap();
        assert_eq!(&it.data[..], b"xy");
        assert_eq!(
            &Item::from_json(br#"{"Data":"eHk"}"#).unwrap().data[..],
            b"xy"
        );
        assert_eq!(
            &Item::from_json(br#"{"Data":"eB=="}"#).unwrap().data[..],
            b"x"
        );

        // Last occurrence wins, including a case-insensitive duplicate.
        let it = Item::from_json(br#"{"Key":"a","key":"b"}"#).unwrap();
        assert_eq!(it.key, "b");
        // Escapes in the input are understood.
        let it = Item::from_json(br#"{"Key":"\u003cx\u003e"}"#).unwrap();
        assert_eq!(it.key, "<x>");
        assert_eq!(
            item("a", b"b"),
            Item::from_json(&item("a", b"b").to_json()).unwrap()
        );
    }

    #[test]
    fn reader_errors_do_not_leak_input() {
        let secret = "c2VjcmV0LXNlY3JldA!!";
        for bad in [
            format!(r#"{{"Data":"{secret}"}}"#),
            format!(r#"{{"Data":5,"Key":"{secret}"}}"#),
            format!(r#"{{"Key":"{secret}","Label":7}}"#),
            format!(r#"{{"Key":"{secret}""#),
            format!(r#"{{"Key":"{secret}"}} trailing"#),
            format!(r#"["{secret}"]"#),
            format!(r#""{secret}""#),
            format!(r#"{{"KeychainNotSynchronizable":"{secret}"}}"#),
            String::new(),
            "null".into(),
        ] {
            let err = Item::from_json(bad.as_bytes()).unwrap_err();
            assert!(!err.contains("c2Vj"), "{err}");
            assert!(!err.contains("secret"), "{err}");
            assert!(err.starts_with("invalid item JSON"), "{err}");
        }
    }
}
