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

pub use crate::credentials::Credentials;

/// A profile's resolved config together with its credentials.
pub struct Resolved {
    pub profile: crate::config::ProfileConfig,
    pub creds: Credentials,
}

/// Resolve profile `name` for a command that needs its credentials. The profile must exist: a
/// config section, or long-term keys stored under exactly that name (the Go tool's guard).
pub fn resolve_profile(
    config: &crate::config::ConfigFile,
    keyring: &dyn crate::keyring::Keyring,
    name: &str,
    env: &crate::config::Env,
    base: &crate::config::BaseValues,
) -> anyhow::Result<crate::config::ProfileConfig> {
    ensure_profile_exists(config, keyring, name)?;
    config
        .resolve(name, env, base)
        .map_err(|e| anyhow::anyhow!("Error loading config: {e}"))
}

/// A profile is usable if the config has a section for it or the keyring holds long-term
/// credentials under exactly that name.
pub fn ensure_profile_exists(
    config: &crate::config::ConfigFile,
    keyring: &dyn crate::keyring::Keyring,
    profile: &str,
) -> anyhow::Result<()> {
    if config.has_profile(profile) || crate::store::CredentialStore::new(keyring).has(profile)? {
        return Ok(());
    }
    anyhow::bail!(
        "profile '{profile}' not found in ~/.aws/config and no stored credentials exist for it"
    )
}

/// Everything needed to get credentials for one resolved profile.
pub struct Request<'a> {
    pub profile: &'a crate::config::ProfileConfig,
    pub keyring: &'a dyn crate::keyring::Keyring,
    pub options: chain::Options,
    pub mfa: &'a crate::mfa::MfaSource,
    pub env: &'a crate::config::Env,
    /// How an IAM Identity Center login may interact with the user, if one is needed.
    pub sso_login: sso::LoginOptions,
    /// The key listing [`plan`](Self::plan) read, if the backend answered with all its keys,
    /// handed to the executor's first cache lookup so that the hot path lists the keyring once
    /// (a backend whose listing is expensive answers the plan and each lookup by search
    /// instead: [`Keyring::keys_among`](crate::keyring::Keyring::keys_among)).
    listed: std::cell::RefCell<Option<Vec<String>>>,
}

impl<'a> Request<'a> {
    /// A request with the default options (sessions allowed, cache on, browser login).
    pub fn new(
        profile: &'a crate::config::ProfileConfig,
        keyring: &'a dyn crate::keyring::Keyring,
        mfa: &'a crate::mfa::MfaSource,
        env: &'a crate::config::Env,
    ) -> Self {
        Request {
            profile,
            keyring,
            options: chain::Options::default(),
            mfa,
            env,
            sso_login: sso::LoginOptions::default(),
            listed: std::cell::RefCell::new(None),
        }
    }

    /// The plan for this request (pure but for one question to the keyring: which of the
    /// profile chain's names hold stored keys).
    pub fn plan(&self) -> anyhow::Result<chain::Plan> {
        let names = chain::names(self.profile);
        let likely = || chain::likely_first_lookup(self.profile, &self.options);
        let listing = self.keyring.keys_among(&names, &likely)?;
        let plan = chain::plan(self.profile, &listing.keys, &self.options)?;
        *self.listed.borrow_mut() = listing.complete.then_some(listing.keys);
        Ok(plan)
    }

    /// The executor that runs this request's plans through the session cache. Fails when no
    /// lock directory is usable: refreshing unlocked is exactly what someone who squats the
    /// lock directory would want, so it never happens silently.
    pub fn executor(&self) -> anyhow::Result<cached::Executor<'a>> {
        let lock_dir = lock::lock_dir(self.env)
            .map_err(|e| anyhow::anyhow!("cannot take the refresh lock: {e}"))?;
        Ok(cached::Executor {
            keyring: self.keyring,
            mfa: self.mfa,
            min_ttl: crate::config::min_ttl(self.env),
            lock_dir: Some(lock_dir),
            sso_login: self.sso_login,
            process_timeout: crate::config::process_timeout(self.env),
            calls: &cached::Live,
            listed: std::cell::RefCell::new(self.listed.borrow_mut().take()),
        })
    }
}

/// Plan and retrieve the credentials for a profile (the whole chain).
pub fn retrieve(req: &Request<'_>) -> anyhow::Result<Credentials> {
    let plan = req.plan()?;
    req.executor()?.retrieve(&plan)
}
