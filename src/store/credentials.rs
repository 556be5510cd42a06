//! Long-term ("master") credentials, stored under the profile name (docs/compatibility.md §4.3.1).
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::credentials::Credentials;
use crate::gofmt::json::quote as json_str;
use crate::gofmt::time::GO_ZERO_TIME;
use crate::keyring::{self, Item, Keyring};

use super::json;

/// Master credentials in a keyring.
pub struct CredentialStore<'a> {
    keyring: &'a dyn Keyring,
}

impl<'a> CredentialStore<'a> {
    pub fn new(keyring: &'a dyn Keyring) -> Self {
        CredentialStore { keyring }
    }

    /// Names of all stored long-term credentials, in keyring order, for listing: entries of a
    /// shared store that are not aws-vault items are left out ([`Keyring::retain_own`]).
    pub fn names(&self) -> keyring::Result<Vec<String>> {
        self.keyring
            .retain_own(super::credential_names(&self.keyring.keys()?))
    }

    /// Whether credentials are stored under exactly `name` (docs/compatibility.md §4.4: raw key list).
    pub fn has(&self, name: &str) -> keyring::Result<bool> {
        Ok(self.keyring.keys()?.iter().any(|k| k == name))
    }

    /// Read the credentials stored under `name`.
    pub fn get(&self, name: &str) -> anyhow::Result<Credentials> {
        let item = self.keyring.get(name)?;
        decode(&item.data).map_err(|e| anyhow::anyhow!("Invalid data in keyring: {e}"))
    }

    /// Store credentials under `name` in the Go tool's format.
    pub fn set(&self, name: &str, creds: &Credentials) -> keyring::Result<()> {
        let item = Item {
            key: name.to_string(),
            data: encode(creds),
            label: format!("aws-vault ({name})"),
            description: String::new(),
            keychain_not_trust_application: true,
            keychain_not_synchronizable: false,
        };
        self.keyring.set(&item)
    }

    pub fn remove(&self, name: &str) -> keyring::Result<()> {
        self.keyring.remove(name)
    }
}

/// The aws-sdk-go-v2 `aws.Credentials` JSON, keys in Go's order.
pub fn encode(creds: &Credentials) -> Zeroizing<Vec<u8>> {
    let text = Zeroizing::new(format!(
        "{{\"AccessKeyID\":{},\"SecretAccessKey\":{},\"SessionToken\":{},\"Source\":\"\",\"CanExpire\":false,\"Expires\":\"{GO_ZERO_TIME}\",\"AccountID\":\"\"}}",
        json_str(&creds.access_key_id),
        json_str(creds.secret()),
        json_str(creds.token().unwrap_or("")),
    ));
    Zeroizing::new(text.as_bytes().to_vec())
}

/// Parse any of the credential JSON shapes older and newer Go versions wrote.
pub fn decode(data: &[u8]) -> Result<Credentials, String> {
    let map = json::object(data)?;
    let id = json::string(&map, "AccessKeyID").unwrap_or_default();
    let secret = json::string(&map, "SecretAccessKey").unwrap_or_default();
    if id.is_empty() || secret.is_empty() {
        return Err("AccessKeyID or SecretAccessKey is missing".to_string());
    }
    let token = json::string(&map, "SessionToken").filter(|t| !t.is_empty());
    Ok(Credentials {
        access_key_id: id,
        secret_access_key: SecretString::from(secret),
        session_token: token.map(SecretString::from),
        expires: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(id: &str, secret: &str) -> Credentials {
        Credentials::long_term(id, secret)
    }

    #[test]
    fn encodes_go_shape() {
        let data = encode(&creds("AKIAEXAMPLE", "se<cr>et"));
        assert_eq!(
            std::str::from_utf8(&data).unwrap(),
            r#"{"AccessKeyID":"AKIAEXAMPLE","SecretAccessKey":"se\u003ccr\u003eet","SessionToken":"","Source":"","CanExpire":false,"Expires":"0001-01-01T00:00:00Z","AccountID":""}"#
        );
        let back = decode(&data).unwrap();
        assert_eq!(back.access_key_id, "AKIAEXAMPLE");
        assert_eq!(back.secret(), "se<cr>et");
        assert!(back.token().is_none());
    }

    #[test]
    fn decodes_minimal_and_old_shapes() {
        let c = decode(br#"{"AccessKeyID":"ABC","SecretAccessKey":"XYZ"}"#).unwrap();
        assert_eq!(c.access_key_id, "ABC");
        let c =
            decode(br#"{"accesskeyid":"ABC","secretaccesskey":"XYZ","ProviderName":"x"}"#).unwrap();
        assert_eq!(c.secret(), "XYZ");
        assert!(decode(b"not json").is_err());
        assert!(decode(br#"{"AccessKeyID":"ABC"}"#).is_err());
    }
}
