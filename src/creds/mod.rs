//! The `Credentials` value and the ways of getting credentials.
//!
//! * [`chain`] turns a resolved profile into a [`chain::Plan`] (pure, unit-tested);
//! * [`cached`] executes a plan through the session cache, one refresh at a time;
//! * [`sts`], [`web_identity`], [`credential_process`] are the providers, one file each;
//! * [`sso`] (with [`sso_login`] and [`sso_cache`]) is IAM Identity Center;
//! * [`lock`] is the cross-process single-flight lock.
pub mod cached;
pub mod chain;
pub mod credential_process;
pub mod lock;
pub mod sso;
pub mod sso_cache;
pub mod sso_login;
pub mod sts;
pub mod web_identity;

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

/// Everything needed to get credentials for one resolved profile.
pub struct Request<'a> {
    pub profile: &'a crate::config::ProfileConfig,
    pub keyring: &'a dyn crate::keyring::Keyring,
    pub options: chain::Options,
    pub mfa: &'a crate::mfa::MfaSource,
    pub env: &'a crate::config::Env,
}

/// Plan and retrieve the credentials for a profile (the whole chain of compat §3).
pub fn retrieve(req: &Request<'_>) -> anyhow::Result<Credentials> {
    let stored = req.keyring.keys()?;
    let plan = chain::plan(req.profile, &stored, &req.options)?;
    let executor = cached::Executor {
        keyring: req.keyring,
        mfa: req.mfa,
        min_ttl: crate::config::min_ttl(req.env),
        lock_dir: match lock::lock_dir(req.env) {
            Ok(dir) => Some(dir),
            Err(e) => {
                crate::debug!("no cross-process lock directory ({e}); refreshing without a lock");
                None
            }
        },
    };
    executor.retrieve(&plan)
}
