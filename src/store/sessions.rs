//! Cached temporary credentials (docs/compatibility.md §4.1, §4.3.2, §4.5).
//!
//! A session lives under a key that encodes what it is for and when it expires:
//! `<type>,<b64url(profile)>,<b64url(serial)>,<unix expiry>`. Lookups match on the prefix
//! before the expiry, so a refreshed session replaces the old one instead of piling up.
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use jiff::{tz::TimeZone, Timestamp};
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::credentials::Credentials;
use crate::gofmt::time as timefmt;
use crate::keyring::{self, Item, Keyring};

use super::json;
use crate::gofmt::json::quote as json_str;

/// URL-safe base64 without padding, tolerant on decode like Go's `RawURLEncoding`
/// (which ignores `\r`/`\n` and non-canonical trailing bits).
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

fn b64_decode(s: &str) -> Option<String> {
    let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let bytes = B64.decode(cleaned).ok()?;
    String::from_utf8(bytes).ok()
}

/// The session types of docs/compatibility.md §3.4.
pub mod kind {
    pub const GET_SESSION_TOKEN: &str = "sts.GetSessionToken";
    pub const ASSUME_ROLE: &str = "sts.AssumeRole";
    pub const ASSUME_ROLE_WITH_WEB_IDENTITY: &str = "sts.AssumeRoleWithWebIdentity";
    pub const SSO_GET_ROLE_CREDENTIALS: &str = "sso.GetRoleCredentials";
    pub const CREDENTIAL_PROCESS: &str = "credential_process";
}

/// A parsed current-format session key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    pub kind: String,
    pub profile: String,
    /// MFA serial, SSO start URL, or empty.
    pub serial: String,
    /// Unix seconds.
    pub expiry: i64,
}

impl SessionKey {
    /// Parse `^([^,]+),([^,]+),([^,]*),([0-9]{1,})$` with both base64 fields decodable.
    pub fn parse(key: &str) -> Option<SessionKey> {
        let parts: Vec<&str> = key.split(',').collect();
        let [kind, profile, serial, expiry] = parts.as_slice() else {
            return None;
        };
        if kind.is_empty()
            || profile.is_empty()
            || expiry.is_empty()
            || !expiry.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(SessionKey {
            kind: kind.to_string(),
            profile: b64_decode(profile)?,
            serial: b64_decode(serial)?,
            expiry: expiry.parse().unwrap_or(i64::MAX),
        })
    }

    /// The key text without the expiry, used to find a session whatever its expiry.
    pub fn prefix(kind: &str, profile: &str, serial: &str) -> String {
        format!("{kind},{},{},", B64.encode(profile), B64.encode(serial))
    }

    pub fn to_key(&self) -> String {
        format!(
            "{}{}",
            Self::prefix(&self.kind, &self.profile, &self.serial),
            self.expiry
        )
    }

    /// `<type>:<remaining>` as shown by `list` (docs/compatibility.md §1.3). The remaining time is truncated
    /// toward zero to whole seconds, as Go's `time.Until(exp).Truncate(time.Second)`: with
    /// 3551.7 s left this is `59m11s`, not `59m12s`.
    pub fn label(&self, now: Timestamp) -> String {
        let remaining_nanos = i128::from(self.expiry) * 1_000_000_000 - now.as_nanosecond();
        let remaining = i64::try_from(remaining_nanos / 1_000_000_000).unwrap_or(i64::MAX);
        format!(
            "{}:{}",
            self.kind,
            crate::config::duration::format_go_duration_secs(remaining)
        )
    }
}

/// Keys written by older aws-vault versions; never read, only deleted.
pub fn is_legacy_session_key(key: &str) -> bool {
    // ^session,([^,]+),([^,]*),([0-9]{2,})$
    if let Some(rest) = key.strip_prefix("session,") {
        let parts: Vec<&str> = rest.split(',').collect();
        if let [a, _b, n] = parts.as_slice() {
            if !a.is_empty() && n.len() >= 2 && n.bytes().all(|b| b.is_ascii_digit()) {
                return true;
            }
        }
    }
    // ^session:([^ ]+):([^ ]*):([^:]+)$
    if let Some(rest) = key.strip_prefix("session:") {
        if let Some(last) = rest.rfind(':') {
            let (head, tail) = (&rest[..last], &rest[last + 1..]);
            if !tail.is_empty()
                && !head.contains(' ')
                && head.get(1..).is_some_and(|h| h.contains(':'))
            {
                return true;
            }
        }
    }
    // ^(.+?) session \((\d+)\)$
    if let Some(rest) = key.strip_suffix(')') {
        if let Some(open) = rest.rfind(" session (") {
            let digits = &rest[open + " session (".len()..];
            if open > 0 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return true;
            }
        }
    }
    false
}

/// Cached sessions in a keyring.
pub struct SessionStore<'a> {
    keyring: &'a dyn Keyring,
}

impl<'a> SessionStore<'a> {
    pub fn new(keyring: &'a dyn Keyring) -> Self {
        SessionStore { keyring }
    }

    /// Every current-format session key, in keyring order.
    pub fn all(&self) -> keyring::Result<Vec<SessionKey>> {
        Ok(self
            .keyring
            .keys()?
            .iter()
            .filter_map(|k| SessionKey::parse(k))
            .collect())
    }

    /// The cached credentials for (kind, profile, serial) if present and readable.
    /// Unreadable payloads count as "not cached" (docs/compatibility.md §4.3.2). When `fingerprint` is given,
    /// a payload carrying a different fingerprint is not a match either (items written by the
    /// Go tool carry none and are accepted).
    pub fn get(
        &self,
        kind: &str,
        profile: &str,
        serial: &str,
        fingerprint: Option<&str>,
    ) -> keyring::Result<Option<Credentials>> {
        self.get_listed(None, kind, profile, serial, fingerprint)
    }

    /// [`get`](Self::get), looking the key up in `listed` (a listing of this keyring the
    /// caller has just read) instead of listing the keyring again, when one is given.
    pub fn get_listed(
        &self,
        listed: Option<Vec<String>>,
        kind: &str,
        profile: &str,
        serial: &str,
        fingerprint: Option<&str>,
    ) -> keyring::Result<Option<Credentials>> {
        let prefix = SessionKey::prefix(kind, profile, serial);
        let accept = |k: &str| SessionKey::parse(k).is_some();
        let found = match listed {
            Some(keys) => keyring::first_listed_with_prefix(self.keyring, &keys, &prefix, &accept)?,
            None => self.keyring.first_with_prefix(&prefix, &accept)?,
        };
        Ok(found.and_then(|item| {
            decode_with_fingerprint(&item.data)
                .ok()
                .filter(|(_, fp)| match (fingerprint, fp) {
                    (Some(want), Some(have)) => want == have,
                    _ => true,
                })
                .map(|(c, _)| c)
        }))
    }

    /// Store `creds` (which must expire) and drop the entry it replaces.
    pub fn set(
        &self,
        kind: &str,
        profile: &str,
        serial: &str,
        creds: &Credentials,
    ) -> keyring::Result<()> {
        self.set_with_fingerprint(kind, profile, serial, creds, None)
    }

    /// [`set`](Self::set), recording the parameters' fingerprint in the payload (an extra JSON
    /// field that the Go tool ignores).
    pub fn set_with_fingerprint(
        &self,
        kind: &str,
        profile: &str,
        serial: &str,
        creds: &Credentials,
        fingerprint: Option<&str>,
    ) -> keyring::Result<()> {
        let expires = creds.expires.ok_or_else(|| {
            keyring::Error::Backend("cannot cache credentials that never expire".into())
        })?;
        let key = SessionKey {
            kind: kind.to_string(),
            profile: profile.to_string(),
            serial: serial.to_string(),
            expiry: expires.as_second(),
        };
        let full = key.to_key();
        // The Go tool writes an SSO expiration in the local zone (it builds it from epoch
        // milliseconds with `time.Unix`) and the others in UTC (as the STS SDK returns them);
        // the payload and the label show that zone.
        let zone = if kind == self::kind::SSO_GET_ROLE_CREDENTIALS {
            TimeZone::system()
        } else {
            TimeZone::UTC
        };
        let zoned = expires.to_zoned(zone);
        let item = Item {
            key: full.clone(),
            data: encode_with_fingerprint(creds, Some(&zoned), fingerprint),
            label: format!(
                "aws-vault session for {profile} (expires {})",
                timefmt::go_rfc3339(&zoned)
            ),
            description: "aws-vault session".to_string(),
            keychain_not_trust_application: false,
            keychain_not_synchronizable: false,
        };
        self.keyring.set(&item)?;
        let prefix = SessionKey::prefix(kind, profile, serial);
        for old in self.keyring.keys()? {
            if old != full && old.starts_with(&prefix) && SessionKey::parse(&old).is_some() {
                let _ = self.keyring.remove(&old);
            }
        }
        Ok(())
    }

    /// Delete every session of `profile`; returns how many were deleted.
    pub fn remove_for_profile(&self, profile: &str) -> keyring::Result<usize> {
        let mut n = 0;
        for key in self.keyring.keys()? {
            if SessionKey::parse(&key).is_some_and(|s| s.profile == profile) {
                self.keyring.remove(&key)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Delete legacy-format keys and expired current-format keys; returns how many.
    pub fn remove_old(&self, now: Timestamp) -> keyring::Result<usize> {
        let mut n = 0;
        for key in self.keyring.keys()? {
            let stale = is_legacy_session_key(&key)
                || SessionKey::parse(&key).is_some_and(|s| s.expiry < now.as_second());
            if stale {
                self.keyring.remove(&key)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Delete every current-format session key; returns how many.
    pub fn remove_all(&self) -> keyring::Result<usize> {
        let mut n = 0;
        for key in self.keyring.keys()? {
            if SessionKey::parse(&key).is_some() {
                self.keyring.remove(&key)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// The STS credential JSON of a cached session, keys in Go's order.
pub fn encode(creds: &Credentials) -> Zeroizing<Vec<u8>> {
    encode_with_fingerprint(creds, None, None)
}

/// JSON field holding the fingerprint of the parameters a session was made with.
const FINGERPRINT_FIELD: &str = "AwsVaultParameters";

/// `expires` is the expiration in the zone to write it in; UTC when `None`.
fn encode_with_fingerprint(
    creds: &Credentials,
    expires: Option<&jiff::Zoned>,
    fingerprint: Option<&str>,
) -> Zeroizing<Vec<u8>> {
    let expiration = match expires {
        Some(zoned) => timefmt::go_rfc3339nano(zoned),
        None => creds
            .expires
            .map(timefmt::go_rfc3339nano_utc)
            .unwrap_or_else(|| timefmt::GO_ZERO_TIME.to_string()),
    };
    let text = Zeroizing::new(format!(
        "{{\"AccessKeyId\":{},\"Expiration\":\"{expiration}\",\"SecretAccessKey\":{},\"SessionToken\":{}}}",
        json_str(&creds.access_key_id),
        json_str(creds.secret()),
        json_str(creds.token().unwrap_or("")),
    ));
    let mut bytes = text.as_bytes().to_vec();
    if let Some(fp) = fingerprint {
        bytes.pop();
        bytes.extend_from_slice(format!(",\"{FINGERPRINT_FIELD}\":{}}}", json_str(fp)).as_bytes());
    }
    Zeroizing::new(bytes)
}

/// Read a cached session payload; a missing key id or expiration is an error, not a crash
/// (docs/compatibility.md §7.23).
pub fn decode(data: &[u8]) -> Result<Credentials, String> {
    decode_with_fingerprint(data).map(|(c, _)| c)
}

fn decode_with_fingerprint(data: &[u8]) -> Result<(Credentials, Option<String>), String> {
    let map = json::object(data)?;
    let fingerprint = json::string(&map, FINGERPRINT_FIELD);
    let id = json::string(&map, "AccessKeyId").filter(|s| !s.is_empty());
    let secret = json::string(&map, "SecretAccessKey").filter(|s| !s.is_empty());
    let expiration = json::string(&map, "Expiration").and_then(|s| timefmt::parse_rfc3339(&s));
    let (Some(id), Some(secret), Some(expires)) = (id, secret, expiration) else {
        return Err("cached session lacks AccessKeyId, SecretAccessKey or Expiration".into());
    };
    let creds = Credentials {
        access_key_id: id,
        secret_access_key: SecretString::from(secret),
        session_token: json::string(&map, "SessionToken")
            .filter(|t| !t.is_empty())
            .map(SecretString::from),
        expires: Some(expires),
    };
    Ok((creds, fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Secret Service finds a session by the attribute `keyring::lookup_prefix` derives
    /// from its key, with the prefix lookups ask for.
    #[test]
    fn the_keyrings_lookup_prefix_is_the_lookups_prefix() {
        for (kind, profile, serial) in [
            (kind::ASSUME_ROLE, "role", ""),
            (kind::GET_SESSION_TOKEN, "a,b c", "arn:aws:iam::1:mfa/x"),
            (
                kind::SSO_GET_ROLE_CREDENTIALS,
                "sso",
                "https://x.awsapps.com/start",
            ),
        ] {
            let key = SessionKey {
                kind: kind.into(),
                profile: profile.into(),
                serial: serial.into(),
                expiry: 1_700_000_000,
            };
            let prefix = SessionKey::prefix(kind, profile, serial);
            assert_eq!(keyring::lookup_prefix(&key.to_key()), Some(prefix.as_str()));
        }
    }

    #[test]
    fn key_format_matches_appendix_b() {
        let k = SessionKey {
            kind: kind::SSO_GET_ROLE_CREDENTIALS.into(),
            profile: "prod".into(),
            serial: "https://example.awsapps.com/start".into(),
            expiry: 1735689600,
        };
        assert_eq!(
            k.to_key(),
            "sso.GetRoleCredentials,cHJvZA,aHR0cHM6Ly9leGFtcGxlLmF3c2FwcHMuY29tL3N0YXJ0,1735689600"
        );
        assert_eq!(SessionKey::parse(&k.to_key()), Some(k));
        let k = SessionKey::parse(
            "sts.GetSessionToken,cHJvZA,YXJuOmF3czppYW06OjEyMzQ1Njc4OTAxMjptZmEvam9u,1735689600",
        )
        .unwrap();
        assert_eq!(k.serial, "arn:aws:iam::123456789012:mfa/jon");
        let k = SessionKey::parse("credential_process,cHJvZA,,1735689600").unwrap();
        assert_eq!(k.serial, "");
    }

    /// Found by the `session_key` fuzz target: a profile field of only newlines matches Go's
    /// `[^,]+` and decodes (newlines are skipped, as Go's decoder does) to an empty profile. It
    /// is a session key, as for the Go tool, so it is never shown as long-term credentials; but
    /// it cannot be written back, because a key we write always has a non-empty profile.
    #[test]
    fn a_profile_of_newlines_decodes_to_empty_and_is_still_a_session_key() {
        let k = SessionKey::parse("\u{fffd}2,\n\n\n\n,,000").unwrap();
        assert_eq!(k.profile, "");
        assert_eq!(k.expiry, 0);
        assert_eq!(SessionKey::parse(&k.to_key()), None);
        assert!(crate::store::reserved_kind("\u{fffd}2,\n\n\n\n,,000").is_some());
    }

    #[test]
    fn rejects_non_session_keys() {
        for k in [
            "prod",
            "a,b,c",
            "a,!!!,,12",
            "a,cHJvZA,,",
            "a,cHJvZA,,12x",
            ",cHJvZA,,1",
        ] {
            assert!(SessionKey::parse(k).is_none(), "{k}");
        }
    }

    #[test]
    fn legacy_keys() {
        for k in [
            "session,cHJvZA,,1735689600",
            "session:prod:arn:1735689600",
            "session:prod::1735689600",
            "prod session (1735689600)",
        ] {
            assert!(is_legacy_session_key(k), "{k}");
        }
        for k in [
            "prod",
            "session,a,,1",
            "session: x:y:z",
            "session:x:",
            " session (1)",
            "p session ()",
        ] {
            assert!(!is_legacy_session_key(k), "{k}");
        }
    }

    #[test]
    fn label_uses_go_duration() {
        let now = Timestamp::from_second(1000).unwrap();
        let k = SessionKey {
            kind: "sts.GetSessionToken".into(),
            profile: "p".into(),
            serial: String::new(),
            expiry: 1000 + 3552,
        };
        assert_eq!(k.label(now), "sts.GetSessionToken:59m12s");
        // Truncated toward zero, never rounded up.
        let later = Timestamp::from_nanosecond(1000 * 1_000_000_000 + 300_000_000).unwrap();
        assert_eq!(k.label(later), "sts.GetSessionToken:59m11s");
        let past = Timestamp::from_nanosecond((1000 + 3552) * 1_000_000_000 + 300_000_000).unwrap();
        assert_eq!(k.label(past), "sts.GetSessionToken:0s");
    }

    #[test]
    fn payload_round_trip() {
        let exp: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let c = Credentials {
            access_key_id: "ASIA".into(),
            secret_access_key: SecretString::from("s".to_string()),
            session_token: Some(SecretString::from("t".to_string())),
            expires: Some(exp),
        };
        let data = encode(&c);
        assert_eq!(
            std::str::from_utf8(&data).unwrap(),
            r#"{"AccessKeyId":"ASIA","Expiration":"2025-01-01T00:00:00Z","SecretAccessKey":"s","SessionToken":"t"}"#
        );
        let back = decode(&data).unwrap();
        assert_eq!(back.expires, Some(exp));
        assert_eq!(back.token(), Some("t"));
        assert!(decode(br#"{"AccessKeyId":"A","SecretAccessKey":"s"}"#).is_err());
        assert!(decode(br#"{"AccessKeyId":null,"Expiration":null}"#).is_err());
    }
}
