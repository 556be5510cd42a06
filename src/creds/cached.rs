//! Executing a [`Plan`]: each link is served from the session cache when it still has
//! `AWS_MIN_TTL` to live, otherwise computed from the link below it and cached (docs/compatibility.md §3.4).
//!
//! A refresh holds the link's cross-process lock ([`super::lock`]) and re-reads the cache once
//! the lock is held, so N parallel invocations make one STS call and show one MFA prompt.
//! Locks are always taken from the top link down, in the same order by every process, so two
//! processes can never wait on each other.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context};
use jiff::Timestamp;

use super::chain::{Base, CacheKey, Hop, Plan, Step};
use super::{credential_process, lock, sso, sts, web_identity, Credentials};
use crate::keyring::Keyring;
use crate::mfa::MfaSource;
use crate::store::{CredentialStore, SessionStore};

/// Runs plans against one keyring.
pub struct Executor<'a> {
    pub keyring: &'a dyn Keyring,
    pub mfa: &'a MfaSource,
    /// A cached credential must live at least this long to be used.
    pub min_ttl: Duration,
    /// Where lock files go; `None` disables cross-process locking.
    pub lock_dir: Option<PathBuf>,
    /// How an IAM Identity Center login may interact with the user.
    pub sso_login: sso::LoginOptions,
    /// How long `credential_process` and token processes may run before they are killed.
    pub process_timeout: Duration,
    /// Who makes the calls: [`Live`] in the program, a recording fake in the tests.
    pub calls: &'a dyn Calls,
    /// A key listing read just before the executor was made (by the planner), used once, by
    /// the first cache lookup; every later lookup, and every lookup after waiting for a lock,
    /// lists the keyring again, since another process may have written in the meantime.
    pub listed: std::cell::RefCell<Option<Vec<String>>>,
}

/// The boundary between the cache policy (here) and the providers that reach AWS or run
/// programs. The executor decides *whether* to call; an implementation only *makes* the call.
pub trait Calls {
    /// The credentials of a base source (stored keys, SSO, web identity, `credential_process`).
    fn base(&self, base: &Base, ctx: &BaseContext<'_>) -> anyhow::Result<Credentials>;
    /// One hop made with `source`, and with an MFA code when the hop needs one.
    fn hop(
        &self,
        hop: &Hop,
        source: &Credentials,
        mfa: Option<sts::Mfa>,
    ) -> anyhow::Result<Credentials>;
}

/// What a base source may need beyond its own parameters.
pub struct BaseContext<'a> {
    pub keyring: &'a dyn Keyring,
    pub lock_dir: Option<&'a std::path::Path>,
    pub sso_login: sso::LoginOptions,
    /// How long `credential_process` and token processes may run.
    pub process_timeout: Duration,
}

/// The real providers: STS through the AWS SDK, the SSO portal, external programs.
pub struct Live;

impl Executor<'_> {
    /// The credentials at the end of `plan`.
    pub fn retrieve(&self, plan: &Plan) -> anyhow::Result<Credentials> {
        crate::debug!("credential plan: {plan}");
        self.level(plan, plan.hops.len())
    }

    /// Credentials of link `level` (0 = base, i = `hops[i - 1]`).
    fn level(&self, plan: &Plan, level: usize) -> anyhow::Result<Credentials> {
        let cache = if level == 0 {
            plan.base.cache.as_ref()
        } else {
            plan.hops[level - 1].cache.as_ref()
        };
        let Some(key) = cache else {
            return self.compute(plan, level);
        };
        if let Some(creds) = self.cached(key)? {
            return Ok(creds);
        }
        let _lock = match &self.lock_dir {
            Some(dir) => {
                let lock_name =
                    crate::store::SessionKey::prefix(key.kind, &key.profile, &key.serial);
                let msg = format!(
                    "Waiting for another aws-vault process to refresh {} credentials for profile {}...",
                    key.kind, key.profile
                );
                let again = msg.clone();
                match lock::acquire_or_wait(dir, &lock_name, move || eprintln!("{msg}"))
                    .context("cannot take the refresh lock")?
                {
                    Some(lock) => Some(lock),
                    None => {
                        // Another process held the lock: it was refreshing this link, and
                        // its result is in the cache unless it failed.
                        if let Some(creds) = self.cached(key)? {
                            return Ok(creds);
                        }
                        Some(
                            lock::acquire(dir, &lock_name, move || eprintln!("{again}"))
                                .context("cannot take the refresh lock")?,
                        )
                    }
                }
            }
            None => None,
        };
        // Someone else may have refreshed it while we waited.
        if let Some(creds) = self.cached(key)? {
            return Ok(creds);
        }
        let creds = self.compute(plan, level)?;
        if creds.expires.is_some() {
            let store = SessionStore::new(self.keyring);
            store
                .set_with_fingerprint(
                    key.kind,
                    &key.profile,
                    &key.serial,
                    &creds,
                    Some(&key.fingerprint),
                )
                .with_context(|| {
                    format!(
                        "cannot cache the {} session for profile {}",
                        key.kind, key.profile
                    )
                })?;
            if let Err(e) = store.remove_old(Timestamp::now()) {
                crate::debug!("removing expired sessions failed: {e}");
            }
        }
        Ok(creds)
    }

    /// A cached credential that is still good for `min_ttl`, if any.
    fn cached(&self, key: &CacheKey) -> anyhow::Result<Option<Credentials>> {
        let listed = self.listed.borrow_mut().take();
        let found = match SessionStore::new(self.keyring).get_listed(
            listed,
            key.kind,
            &key.profile,
            &key.serial,
            Some(&key.fingerprint),
        ) {
            Ok(found) => found,
            Err(e) => {
                crate::debug!("reading the session cache failed: {e}");
                None
            }
        };
        let fresh = found.filter(|c| {
            c.expires.is_some_and(|exp| {
                let left = exp.as_second() - Timestamp::now().as_second();
                left >= self.min_ttl.as_secs() as i64
            })
        });
        if fresh.is_some() {
            crate::debug!(
                "re-using cached {} credentials for profile {}",
                key.kind,
                key.profile
            );
        }
        Ok(fresh)
    }

    fn compute(&self, plan: &Plan, level: usize) -> anyhow::Result<Credentials> {
        if level == 0 {
            return self.base(&plan.base);
        }
        // Every hop is an AWS call: let the TLS set-up run while the source is read.
        crate::aws::warm_up();
        let source = self.level(plan, level - 1)?;
        let hop = &plan.hops[level - 1].what;
        let (profile, serial, process) = match hop {
            Hop::GetSessionToken {
                profile,
                mfa_serial,
                mfa_process,
                ..
            }
            | Hop::AssumeRole {
                profile,
                mfa_serial,
                mfa_process,
                ..
            } => (profile, mfa_serial, mfa_process),
        };
        let mfa = self.mfa_for(serial.as_deref(), process.as_deref())?;
        self.calls
            .hop(hop, &source, mfa)
            .map_err(|e| anyhow!("profile {profile}: {e:#}"))
    }

    fn base(&self, step: &Step<Base>) -> anyhow::Result<Credentials> {
        self.calls.base(
            &step.what,
            &BaseContext {
                keyring: self.keyring,
                lock_dir: self.lock_dir.as_deref(),
                sso_login: self.sso_login,
                process_timeout: self.process_timeout,
            },
        )
    }

    fn mfa_for(
        &self,
        serial: Option<&str>,
        process: Option<&str>,
    ) -> anyhow::Result<Option<sts::Mfa>> {
        let Some(serial) = serial else {
            return Ok(None);
        };
        let code = self.mfa.code(serial, process)?;
        Ok(Some(sts::Mfa {
            serial: serial.to_string(),
            code,
        }))
    }
}

impl Calls for Live {
    fn base(&self, base: &Base, ctx: &BaseContext<'_>) -> anyhow::Result<Credentials> {
        match base {
            Base::Stored { name } => CredentialStore::new(ctx.keyring).get(name),
            // The command and web identity errors name the command or file; the caller names
            // the profile ("Failed to get credentials for <profile>: …", as the Go tool does).
            Base::Process { command, .. } => credential_process::run(command, ctx.process_timeout),
            Base::WebIdentity {
                profile,
                role_arn,
                session_name,
                duration,
                token_file,
                token_process,
                endpoint,
            } => {
                let token = web_identity::token(
                    token_file.as_deref(),
                    token_process.as_deref(),
                    ctx.process_timeout,
                )?;
                sts::assume_role_with_web_identity(
                    endpoint,
                    role_arn,
                    session_name.as_deref(),
                    *duration,
                    &token,
                )
                .map_err(|e| anyhow!("profile {profile}: {e:#}"))
            }
            Base::Sso {
                profile,
                start_url,
                region,
                account_id,
                role_name,
                session,
                scopes,
                endpoint_url,
            } => sso::role_credentials(
                ctx.keyring,
                &sso::Role {
                    profile,
                    start_url,
                    region: region.as_deref(),
                    account_id: account_id.as_deref(),
                    role_name: role_name.as_deref(),
                    session: session.as_deref(),
                    scopes: scopes.as_deref(),
                    endpoint_url: endpoint_url.as_deref(),
                },
                ctx.lock_dir,
                ctx.sso_login,
            ),
        }
    }

    fn hop(
        &self,
        hop: &Hop,
        source: &Credentials,
        mfa: Option<sts::Mfa>,
    ) -> anyhow::Result<Credentials> {
        match hop {
            Hop::GetSessionToken {
                profile,
                duration,
                endpoint,
                ..
            } => {
                crate::debug!("calling GetSessionToken for profile {profile}");
                sts::get_session_token(endpoint, source, *duration, mfa)
            }
            Hop::AssumeRole {
                profile,
                role_arn,
                session_name,
                external_id,
                duration,
                tags,
                transitive_tag_keys,
                source_identity,
                endpoint,
                ..
            } => {
                let params = sts::AssumeRoleParams {
                    role_arn: role_arn.clone(),
                    session_name: session_name.clone(),
                    duration: *duration,
                    external_id: external_id.clone(),
                    tags: tags.clone(),
                    transitive_tag_keys: transitive_tag_keys.clone(),
                    source_identity: source_identity.clone(),
                };
                crate::debug!("calling AssumeRole {role_arn} for profile {profile}");
                sts::assume_role(endpoint, source, &params, mfa)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The cache policy, table-driven, with a fake [`Calls`] that records what it was asked and
    //! an in-memory keyring: which links are served from the cache, which are refreshed, and
    //! what is written back.
    use std::cell::RefCell;

    use secrecy::SecretString;

    use super::*;
    use crate::config::{BaseValues, ConfigFile, Env};
    use crate::creds::chain::{self, Options};
    use crate::store::sessions::kind;
    use crate::test_keyring::MemoryKeyring;

    const CONFIG: &str = "\
[profile base]
mfa_serial = arn:aws:iam::111111111111:mfa/base

[profile role]
source_profile = base
role_arn = arn:aws:iam::222222222222:role/r
mfa_serial = arn:aws:iam::111111111111:mfa/base

[profile other-role]
source_profile = base
role_arn = arn:aws:iam::222222222222:role/other
mfa_serial = arn:aws:iam::111111111111:mfa/base
region = eu-west-1
";

    /// Records every call; each answer expires `lifetime` seconds from now.
    struct Fake {
        calls: RefCell<Vec<String>>,
        lifetime: i64,
    }

    impl Fake {
        fn creds(&self, id: &str) -> Credentials {
            Credentials {
                access_key_id: id.to_string(),
                secret_access_key: SecretString::from("secret".to_string()),
                session_token: Some(SecretString::from("token".to_string())),
                expires: Some(Timestamp::now() + jiff::SignedDuration::from_secs(self.lifetime)),
            }
        }
    }

    impl Calls for Fake {
        fn base(&self, base: &Base, ctx: &BaseContext<'_>) -> anyhow::Result<Credentials> {
            self.calls.borrow_mut().push("base".into());
            Live.base(base, ctx)
        }
        fn hop(
            &self,
            hop: &Hop,
            _source: &Credentials,
            mfa: Option<sts::Mfa>,
        ) -> anyhow::Result<Credentials> {
            let (name, id) = match hop {
                Hop::GetSessionToken { .. } => ("GetSessionToken", "ASIASESSION"),
                Hop::AssumeRole { role_arn, .. } => (
                    if role_arn.ends_with("/r") {
                        "AssumeRole(r)"
                    } else {
                        "AssumeRole(other)"
                    },
                    "ASIAROLE",
                ),
            };
            let mfa = if mfa.is_some() { "+mfa" } else { "" };
            self.calls.borrow_mut().push(format!("{name}{mfa}"));
            Ok(self.creds(id))
        }
    }

    fn keyring() -> MemoryKeyring {
        let kr = MemoryKeyring::new();
        crate::store::CredentialStore::new(&kr)
            .set("base", &Credentials::long_term("AKIABASE", "s"))
            .unwrap();
        kr
    }

    /// Run `profiles` in order against one keyring; return the calls made by each.
    fn run(kr: &MemoryKeyring, fake: &Fake, profiles: &[(&str, Option<&str>)]) -> Vec<String> {
        run_listed(kr, fake, profiles, false)
    }

    /// [`run`], handing each executor the listing its plan was made from when `hand_over`.
    fn run_listed(
        kr: &MemoryKeyring,
        fake: &Fake,
        profiles: &[(&str, Option<&str>)],
        hand_over: bool,
    ) -> Vec<String> {
        let config = ConfigFile::parse(std::path::Path::new("config"), CONFIG).unwrap();
        let mfa = crate::mfa::MfaSource::new(
            Some(zeroize::Zeroizing::new("123456".into())),
            None,
            false,
            false,
            &Env::new(),
        );
        let mut out = Vec::new();
        for (name, region) in profiles {
            fake.calls.borrow_mut().clear();
            let base = BaseValues {
                region: region.map(str::to_string),
                ..Default::default()
            };
            let profile = config.resolve(name, &Env::new(), &base).unwrap();
            let listed = kr.keys_now();
            let plan = chain::plan(&profile, &listed, &Options::default()).unwrap();
            let exec = Executor {
                keyring: kr,
                mfa: &mfa,
                min_ttl: Duration::from_secs(300),
                lock_dir: None,
                sso_login: sso::LoginOptions::default(),
                process_timeout: Duration::from_secs(60),
                calls: fake,
                listed: RefCell::new(hand_over.then_some(listed)),
            };
            exec.retrieve(&plan).unwrap();
            out.push(fake.calls.borrow().join(" "));
        }
        out
    }

    #[test]
    fn cache_policy_table() {
        // (profiles run in order against one keyring, lifetime of every credential,
        //  the calls each run makes)
        /// (profiles run in order, lifetime of every credential, the calls each run makes)
        type Case<'a> = (&'a [(&'a str, Option<&'a str>)], i64, &'a [&'a str]);
        let cases: &[Case] = &[
            // One GetSessionToken (one MFA prompt) serves every profile built on `base`,
            // whatever its duration or region; each role is assumed once, then cached.
            (
                &[
                    ("role", None),
                    ("base", None),
                    ("other-role", None),
                    ("role", None),
                ],
                3600,
                &[
                    "base GetSessionToken+mfa AssumeRole(r)",
                    "",
                    "AssumeRole(other)",
                    "",
                ],
            ),
            // A region change does not invalidate the session.
            (
                &[
                    ("base", None),
                    ("base", Some("eu-central-1")),
                    ("base", Some("us-west-2")),
                ],
                3600,
                &["base GetSessionToken+mfa", "", ""],
            ),
            // Credentials inside the AWS_MIN_TTL window are refreshed each time.
            (
                &[("base", None), ("base", None)],
                60,
                &["base GetSessionToken+mfa", "base GetSessionToken+mfa"],
            ),
        ];
        for (profiles, lifetime, want) in cases {
            let kr = keyring();
            let fake = Fake {
                calls: RefCell::new(Vec::new()),
                lifetime: *lifetime,
            };
            assert_eq!(run(&kr, &fake, profiles), *want, "{profiles:?}");
        }
    }

    /// The hot path lists the keyring once: a cached role is found in the listing the plan
    /// was made from. A miss lists again (another process may have written in between).
    #[test]
    fn a_cached_link_is_found_in_the_planners_listing() {
        let kr = keyring();
        let fake = Fake {
            calls: RefCell::new(Vec::new()),
            lifetime: 3600,
        };
        run_listed(&kr, &fake, &[("role", None)], true);
        kr.lists.set(0);
        assert_eq!(run_listed(&kr, &fake, &[("role", None)], true), [""]);
        assert_eq!(
            kr.lists.get(),
            0,
            "the cached role was found without listing again"
        );
        assert_eq!(run_listed(&kr, &fake, &[("role", None)], false), [""]);
        assert_eq!(kr.lists.get(), 1);
        // A miss: the handed-over listing serves the first lookup only.
        kr.lists.set(0);
        assert_eq!(
            run_listed(&kr, &fake, &[("other-role", None)], true),
            ["AssumeRole(other)"]
        );
        assert!(kr.lists.get() >= 1);
    }

    /// A backend that searches instead of listing cheaply (the Secret Service) serves the hot
    /// path without a listing: the planner asks for the source chain's names only, with the
    /// cached role's prefix as a hint, and the role is then found by that prefix.
    #[test]
    fn a_searching_backend_is_never_listed_on_the_hot_path() {
        let kr = keyring();
        let fake = Fake {
            calls: RefCell::new(Vec::new()),
            lifetime: 3600,
        };
        run(&kr, &fake, &[("role", None)]);
        kr.searching.set(true);
        kr.lists.set(0);
        fake.calls.borrow_mut().clear();

        let config = ConfigFile::parse(std::path::Path::new("config"), CONFIG).unwrap();
        let env = Env::new();
        let profile = config
            .resolve("role", &env, &BaseValues::default())
            .unwrap();
        let mfa = crate::mfa::MfaSource::new(None, None, false, false, &env);
        // A backend that lists is never asked to guess.
        kr.searching.set(false);
        crate::creds::Request::new(&profile, &kr, &mfa, &env)
            .plan()
            .unwrap();
        assert!(kr.hinted.borrow().is_empty());
        kr.searching.set(true);
        kr.lists.set(0);
        let req = crate::creds::Request::new(&profile, &kr, &mfa, &env);
        let plan = req.plan().unwrap();
        let top = plan.first_lookup().unwrap();
        assert_eq!(
            *kr.hinted.borrow(),
            [crate::store::SessionKey::prefix(
                top.kind,
                &top.profile,
                &top.serial
            )]
        );
        assert!(
            req.listed.borrow().is_none(),
            "a partial answer is no listing"
        );
        let exec = Executor {
            keyring: &kr,
            mfa: &mfa,
            min_ttl: Duration::from_secs(300),
            lock_dir: None,
            sso_login: sso::LoginOptions::default(),
            process_timeout: Duration::from_secs(60),
            calls: &fake,
            listed: RefCell::new(None),
        };
        let creds = exec.retrieve(&plan).unwrap();
        assert!(creds.expires.is_some());
        assert!(fake.calls.borrow().is_empty(), "{:?}", fake.calls.borrow());
        assert_eq!(kr.lists.get(), 0, "the hot path listed the keyring");
    }

    #[test]
    fn refresh_replaces_the_cached_item() {
        let kr = keyring();
        let fake = Fake {
            calls: RefCell::new(Vec::new()),
            lifetime: 60,
        };
        run(&kr, &fake, &[("base", None), ("base", None)]);
        let sessions: Vec<String> = kr
            .keys_now()
            .into_iter()
            .filter(|k| k.starts_with(kind::GET_SESSION_TOKEN))
            .collect();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
    }

    #[test]
    fn a_changed_role_parameter_is_never_served_from_the_cache() {
        let a = chain::Hop::AssumeRole {
            profile: "p".into(),
            role_arn: "arn:aws:iam::1:role/a".into(),
            session_name: None,
            external_id: None,
            mfa_serial: None,
            mfa_process: None,
            duration: Duration::from_secs(3600),
            tags: vec![],
            transitive_tag_keys: vec![],
            source_identity: None,
            endpoint: crate::aws::Endpoint::default(),
        };
        let mut b = a.clone();
        if let chain::Hop::AssumeRole { external_id, .. } = &mut b {
            *external_id = Some("x".into());
        }
        assert_ne!(a.fingerprint(), b.fingerprint());
        // How the MFA code is obtained does not change the credential.
        let mut c = a.clone();
        if let chain::Hop::AssumeRole { mfa_process, .. } = &mut c {
            *mfa_process = Some("otp".into());
        }
        assert_eq!(a.fingerprint(), c.fingerprint());
    }
}
