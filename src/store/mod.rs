//! Typed views over a [`Keyring`](crate::keyring::Keyring): long-term credentials, cached
//! sessions and SSO/OIDC tokens share one flat key namespace (docs/compatibility.md §4.1). This module decides
//! which key is which; it never talks to AWS.

pub mod credentials;
pub mod oidc;
pub mod sessions;

mod json;

pub use credentials::CredentialStore;
pub use oidc::OidcStore;
pub use sessions::{SessionKey, SessionStore};

/// The names of long-term credentials among `keys`: every key that is neither a session key
/// (current or legacy format) nor an OIDC token key (docs/compatibility.md §4.4).
pub fn credential_names(keys: &[String]) -> Vec<String> {
    keys.iter()
        .filter(|k| reserved_kind(k).is_none())
        .cloned()
        .collect()
}

/// What kind of internal item a key of this shape is (`"a cached session"`, `"an SSO token"`),
/// or `None` for a name long-term credentials may use. Credentials stored under such a name
/// would be invisible to `list` and deleted by the next session sweep, so `add` refuses them.
pub fn reserved_kind(key: &str) -> Option<&'static str> {
    if SessionKey::parse(key).is_some() || sessions::is_legacy_session_key(key) {
        Some("a cached session")
    } else if key.starts_with(oidc::KEY_PREFIX) {
        Some("an SSO token")
    } else {
        None
    }
}

/// What an item is, in words for a person (the agent's confirmation question): "the cached
/// sts.AssumeRole session of profile "admin"", "the SSO token for https://…", "the stored
/// credentials of profile "prod"".
pub fn describe_key(key: &str) -> String {
    if let Some(s) = SessionKey::parse(key) {
        return format!("the cached {} session of profile \"{}\"", s.kind, s.profile);
    }
    if let Some(rest) = key.strip_prefix(oidc::KEY_PREFIX) {
        return match rest.strip_prefix("client:") {
            Some(client) => format!("the SSO client registration {client}"),
            None => format!("the SSO token for {rest}"),
        };
    }
    format!("the stored credentials of profile \"{key}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_described_for_people() {
        assert_eq!(
            describe_key("prod"),
            "the stored credentials of profile \"prod\""
        );
        let key = SessionKey {
            kind: "sts.AssumeRole".into(),
            profile: "admin".into(),
            serial: String::new(),
            expiry: 1,
        }
        .to_key();
        assert_eq!(
            describe_key(&key),
            "the cached sts.AssumeRole session of profile \"admin\""
        );
        assert!(describe_key("oidc:https://x.awsapps.com/start").contains("SSO token"));
    }

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
        assert_eq!(reserved_kind("prod session (1)"), Some("a cached session"));
        assert_eq!(reserved_kind("oidc:x"), Some("an SSO token"));
        assert_eq!(reserved_kind("prod session"), None);
    }
}
