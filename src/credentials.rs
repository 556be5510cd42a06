//! The `Credentials` value: a leaf type that every layer (keyring stores, AWS clients, the
//! credential chain, the servers) can name without importing the layers above it.
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};

/// An AWS credential set. Secret parts are zeroized on drop and redacted in `Debug`.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// Empty for long-term IAM user keys.
    pub session_token: Option<SecretString>,
    /// `None` when the credentials never expire (long-term keys).
    pub expires: Option<Timestamp>,
}

impl Credentials {
    /// Long-term IAM user keys: no session token, no expiry.
    pub fn long_term(access_key_id: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: SecretString::from(secret.into()),
            session_token: None,
            expires: None,
        }
    }

    pub fn secret(&self) -> &str {
        self.secret_access_key.expose_secret()
    }

    pub fn token(&self) -> Option<&str> {
        self.session_token
            .as_ref()
            .map(|t| t.expose_secret())
            .filter(|t| !t.is_empty())
    }
}
