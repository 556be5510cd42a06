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
