//! SSO/OIDC access tokens, stored under `oidc:<start URL>` (docs/compatibility.md §4.3.3).
use jiff::{tz::TimeZone, Timestamp, Zoned};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::gofmt::time as timefmt;
use crate::keyring::{self, Item, Keyring};

use super::json;
use crate::gofmt::json::quote as json_str;

pub const KEY_PREFIX: &str = "oidc:";

/// Prefix of cached SSO-OIDC client registrations: `oidc:client:<flow>:<start URL>`.
///
/// Nested under `oidc:` on purpose: the Go tool never mistakes such an item for long-term
/// credentials (it would for any other prefix), and its `clear` removes it. A start URL is an
/// `https://` URL, so it can never begin with `client:`.
pub const CLIENT_PREFIX: &str = "oidc:client:";

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
            .filter(|k| !k.starts_with(CLIENT_PREFIX))
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

    /// The token for `start_url` whatever its expiry (an expired token may still carry a
    /// usable refresh token). Unreadable items read as absent.
    pub fn get_any(&self, start_url: &str) -> keyring::Result<Option<OidcToken>> {
        match self.keyring.get(&format!("{KEY_PREFIX}{start_url}")) {
            Ok(item) => Ok(decode(&item.data).ok()),
            Err(keyring::Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A cached client registration under `key` (see [`client_key`]), if readable.
    pub fn get_client(&self, key: &str) -> keyring::Result<Option<ClientRegistration>> {
        match self.keyring.get(key) {
            Ok(item) => Ok(decode_client(&item.data).ok()),
            Err(keyring::Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn set_client(&self, key: &str, reg: &ClientRegistration) -> keyring::Result<()> {
        let local = reg.expires.to_zoned(TimeZone::system());
        self.keyring.set(&Item {
            key: key.to_string(),
            data: encode_client(reg),
            label: format!(
                "aws-vault oidc client registration (expires {})",
                timefmt::go_rfc3339(&local)
            ),
            description: "aws-vault oidc client".to_string(),
            keychain_not_trust_application: false,
            keychain_not_synchronizable: false,
        })
    }

    pub fn remove_client(&self, key: &str) -> keyring::Result<()> {
        match self.keyring.remove(key) {
            Ok(()) | Err(keyring::Error::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
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

/// An SSO-OIDC client (RegisterClient result), cached until it expires so that a login does
/// not register a new client every time (docs/compatibility.md §7.8). `region`, `scopes` and `endpoint` record
/// what it was registered for: a registration made for other values is not reused.
#[derive(Clone, Debug)]
pub struct ClientRegistration {
    pub client_id: String,
    pub client_secret: SecretString,
    pub expires: Timestamp,
    pub region: String,
    pub scopes: Vec<String>,
    pub endpoint: String,
}

/// The keyring key of the registration used by `flow` (`pkce` or `device`) for `start_url`.
pub fn client_key(flow: &str, start_url: &str) -> String {
    format!("{CLIENT_PREFIX}{flow}:{start_url}")
}

fn encode_client(reg: &ClientRegistration) -> Zeroizing<Vec<u8>> {
    let value = serde_json::json!({
        "ClientId": reg.client_id,
        "ClientSecret": reg.client_secret.expose_secret(),
        "Expiration": timefmt::go_rfc3339nano_utc(reg.expires),
        "Region": reg.region,
        "Scopes": reg.scopes,
        "Endpoint": reg.endpoint,
    });
    Zeroizing::new(value.to_string().into_bytes())
}

fn decode_client(data: &[u8]) -> Result<ClientRegistration, String> {
    let map = json::object(data)?;
    let id = json::string(&map, "ClientId")
        .filter(|s| !s.is_empty())
        .ok_or("missing ClientId")?;
    let secret = json::string(&map, "ClientSecret")
        .filter(|s| !s.is_empty())
        .ok_or("missing ClientSecret")?;
    let expires = json::string(&map, "Expiration")
        .and_then(|s| timefmt::parse_rfc3339(&s))
        .ok_or("missing Expiration")?;
    let scopes = json::field(&map, "Scopes")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(ClientRegistration {
        client_id: id,
        client_secret: SecretString::from(secret),
        expires,
        region: json::string(&map, "Region").unwrap_or_default(),
        scopes,
        endpoint: json::string(&map, "Endpoint").unwrap_or_default(),
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

    #[test]
    fn client_registrations_are_not_tokens() {
        let reg = ClientRegistration {
            client_id: "cid".into(),
            client_secret: SecretString::from("cs".to_string()),
            expires: "2025-04-01T00:00:00Z".parse().unwrap(),
            region: "eu-west-1".into(),
            scopes: vec!["sso:account:access".into()],
            endpoint: String::new(),
        };
        let back = decode_client(&encode_client(&reg)).unwrap();
        assert_eq!(back.client_id, "cid");
        assert_eq!(back.client_secret.expose_secret(), "cs");
        assert_eq!(back.expires, reg.expires);
        assert_eq!(back.scopes, reg.scopes);
        assert!(decode_client(b"{\"ClientId\":\"x\"}").is_err());
        let key = client_key("pkce", "https://x.awsapps.com/start");
        assert_eq!(key, "oidc:client:pkce:https://x.awsapps.com/start");
        assert!(key.starts_with(KEY_PREFIX));
    }
}
