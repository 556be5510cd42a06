//! SSO/OIDC access tokens, stored under `oidc:<start URL>` (compat §4.3.3).
use jiff::{tz::TimeZone, Timestamp, Zoned};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::keyring::{self, Item, Keyring};
use crate::timefmt;

use super::credentials::json_str;
use super::json;

pub const KEY_PREFIX: &str = "oidc:";

/// An SSO-OIDC token as aws-vault caches it.
#[derive(Clone, Debug)]
pub struct OidcToken {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub token_type: String,
    pub expires: Timestamp,
}

/// OIDC tokens in a keyring.
pub struct OidcStore<'a> {
    keyring: &'a dyn Keyring,
}

impl<'a> OidcStore<'a> {
    pub fn new(keyring: &'a dyn Keyring) -> Self {
        OidcStore { keyring }
    }

    /// Start URLs of every cached token, in keyring order.
    pub fn start_urls(&self) -> keyring::Result<Vec<String>> {
        Ok(self
            .keyring
            .keys()?
            .iter()
            .filter_map(|k| k.strip_prefix(KEY_PREFIX).map(str::to_string))
            .collect())
    }

    pub fn has(&self, start_url: &str) -> keyring::Result<bool> {
        Ok(self.start_urls()?.iter().any(|u| u == start_url))
    }

    /// The token for `start_url`, if present and not expired. An expired token is deleted;
    /// an unreadable one is treated as absent (and left alone).
    pub fn get(&self, start_url: &str, now: Timestamp) -> keyring::Result<Option<OidcToken>> {
        let key = format!("{KEY_PREFIX}{start_url}");
        let item = match self.keyring.get(&key) {
            Ok(item) => item,
            Err(keyring::Error::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Ok(token) = decode(&item.data) else {
            return Ok(None);
        };
        if now > token.expires {
            let _ = self.keyring.remove(&key);
            return Ok(None);
        }
        Ok(Some(token))
    }

    pub fn set(&self, start_url: &str, token: &OidcToken, now: Timestamp) -> keyring::Result<()> {
        let local = token.expires.to_zoned(TimeZone::system());
        let item = Item {
            key: format!("{KEY_PREFIX}{start_url}"),
            data: encode(token, now),
            label: format!(
                "aws-vault oidc token for {start_url} (expires {})",
                timefmt::go_rfc3339(&local)
            ),
            description: "aws-vault oidc token".to_string(),
            keychain_not_trust_application: false,
            keychain_not_synchronizable: false,
        };
        self.keyring.set(&item)
    }

    pub fn remove(&self, start_url: &str) -> keyring::Result<()> {
        self.keyring.remove(&format!("{KEY_PREFIX}{start_url}"))
    }
}

/// The Go payload: `{"Token":{...CreateTokenOutput...},"Expiration":"<local RFC3339Nano>"}`.
pub fn encode(token: &OidcToken, now: Timestamp) -> Zeroizing<Vec<u8>> {
    let expires_in = token
        .expires
        .as_second()
        .saturating_sub(now.as_second())
        .max(0);
    let refresh = token
        .refresh_token
        .as_ref()
        .map(|r| json_str(r.expose_secret()))
        .unwrap_or_else(|| "null".to_string());
    let expiration: Zoned = token.expires.to_zoned(TimeZone::system());
    let text = Zeroizing::new(format!(
        "{{\"Token\":{{\"AccessToken\":{},\"ExpiresIn\":{expires_in},\"IdToken\":null,\"RefreshToken\":{refresh},\"TokenType\":{},\"ResultMetadata\":{{}}}},\"Expiration\":\"{}\"}}",
        json_str(token.access_token.expose_secret()),
        json_str(&token.token_type),
        timefmt::go_rfc3339nano(&expiration),
    ));
    Zeroizing::new(text.as_bytes().to_vec())
}

pub fn decode(data: &[u8]) -> Result<OidcToken, String> {
    let map = json::object(data)?;
    let token = json::field(&map, "Token")
        .and_then(|v| v.as_object())
        .ok_or("missing Token")?;
    let access = json::string(token, "AccessToken")
        .filter(|s| !s.is_empty())
        .ok_or("missing AccessToken")?;
    let expires = json::string(&map, "Expiration")
        .and_then(|s| timefmt::parse_rfc3339(&s))
        .ok_or("missing Expiration")?;
    Ok(OidcToken {
        access_token: SecretString::from(access),
        refresh_token: json::string(token, "RefreshToken")
            .filter(|s| !s.is_empty())
            .map(SecretString::from),
        token_type: json::string(token, "TokenType").unwrap_or_else(|| "Bearer".into()),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_go_shape() {
        let now: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let t = OidcToken {
            access_token: SecretString::from("at".to_string()),
            refresh_token: None,
            token_type: "Bearer".into(),
            expires: now + jiff::SignedDuration::from_hours(8),
        };
        let data = encode(&t, now);
        let text = std::str::from_utf8(&data).unwrap();
        assert!(text.starts_with(r#"{"Token":{"AccessToken":"at","ExpiresIn":28800,"IdToken":null,"RefreshToken":null,"TokenType":"Bearer","ResultMetadata":{}},"Expiration":""#), "{text}");
        let back = decode(&data).unwrap();
        assert_eq!(back.expires, t.expires);
        assert!(decode(b"{}").is_err());
    }
}
