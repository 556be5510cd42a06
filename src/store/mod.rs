//! Typed views over a [`Keyring`](crate::keyring::Keyring): long-term credentials, cached
//! sessions and SSO/OIDC tokens share one flat key namespace (compat §4.1). This module decides
//! which key is which; it never talks to AWS.

pub mod credentials;
pub mod oidc;
pub mod sessions;

mod json;

pub use credentials::CredentialStore;
pub use oidc::OidcStore;
pub use sessions::{SessionKey, SessionStore};

/// The names of long-term credentials among `keys`: every key that is neither a session key
/// (current or legacy format) nor an OIDC token key (compat §4.4).
pub fn credential_names(keys: &[String]) -> Vec<String> {
    keys.iter()
        .filter(|k| {
            SessionKey::parse(k).is_none()
                && !sessions::is_legacy_session_key(k)
                && !k.starts_with(oidc::KEY_PREFIX)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_skip_sessions_and_tokens() {
        let keys: Vec<String> = [
            "prod",
            "sts.GetSessionToken,cHJvZA,,1735689600",
            "session,cHJvZA,,1735689600",
            "prod session (1234)",
            "oidc:https://example.awsapps.com/start",
            "oidc:client:pkce:https://example.awsapps.com/start",
            "dev",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(credential_names(&keys), vec!["prod", "dev"]);
    }
}
