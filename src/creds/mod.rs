//! The `Credentials` value and the ways of getting credentials.
//!
//! Today only stored long-term keys are served (`--no-session`); the STS providers, the chain
//! and the session cache arrive with the STS work and plug in here.
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

/// Credentials for `--no-session` when no AWS call is needed: the long-term keys stored for
/// the profile or, through `source_profile`, for the profile it draws on (compat §3.1–3.2 with
/// sessions disabled). Profiles that need STS (roles) or another source (SSO, web identity,
/// `credential_process`) are reported clearly: those providers arrive with the STS work.
pub fn without_sts(
    profile: &crate::config::ProfileConfig,
    keyring: &dyn crate::keyring::Keyring,
) -> anyhow::Result<Credentials> {
    let store = crate::store::CredentialStore::new(keyring);
    let mut current = profile;
    loop {
        let has_creds = store.has(&current.name)?;
        if has_creds || current.source.is_some() {
            if let Some(role) = &current.role_arn {
                anyhow::bail!(
                    "profile {}: assuming role {role} needs AWS STS, which this build of aws-vault does not support yet",
                    current.name
                );
            }
            if has_creds {
                return store.get(&current.name);
            }
            match &current.source {
                Some(source) => current = source,
                None => anyhow::bail!("profile {}: credentials missing", current.name),
            }
            continue;
        }
        let other = if current.sso_start_url.is_some() {
            Some("IAM Identity Center (SSO)")
        } else if current.web_identity_token_file.is_some()
            || current.web_identity_token_process.is_some()
        {
            Some("web identity")
        } else if current.credential_process.is_some() {
            Some("credential_process")
        } else {
            None
        };
        match other {
            Some(kind) => anyhow::bail!(
                "profile {}: {kind} credentials are not supported by this build of aws-vault yet",
                current.name
            ),
            None => anyhow::bail!("profile {}: credentials missing", current.name),
        }
    }
}
