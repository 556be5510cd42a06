//! From a resolved profile to a credential [`Plan`]: which source, which STS calls, which
//! cache keys (docs/compatibility.md §3.1–3.2).
//!
//! Modelled on the AWS SDK's `aws-config` profile provider: first resolve the profile into a
//! flat, inspectable value (a base source plus a list of hops), then execute it
//! ([`super::cached`]). This module is pure: it never touches a keyring or the network, so the
//! decision table of §3.2 is unit-tested here, and `--debug` can print the plan before anything
//! runs.
use std::fmt;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::aws::Endpoint;
use crate::config::ProfileConfig;
use crate::store::sessions::kind;

/// AWS's cap on role chaining: an AssumeRole made with role credentials lasts at most 1 hour.
pub const ROLE_CHAINING_MAX: Duration = Duration::from_secs(3600);

/// The first link: credentials that need no other credentials.
#[derive(Debug, Clone, PartialEq)]
pub enum Base {
    /// Long-term keys stored in the keyring under this name.
    Stored { name: String },
    /// IAM Identity Center role credentials.
    Sso {
        profile: String,
        start_url: String,
        region: Option<String>,
        account_id: Option<String>,
        role_name: Option<String>,
        /// The `[sso-session]` name, if the profile uses one (AWS CLI token cache key).
        session: Option<String>,
        /// `sso_registration_scopes`, comma-separated as configured.
        scopes: Option<String>,
        /// `endpoint_url` / `AWS_ENDPOINT_URL`: redirects SSO and SSO-OIDC too.
        endpoint_url: Option<String>,
    },
    /// `AssumeRoleWithWebIdentity` with a token from a file or a process.
    WebIdentity {
        profile: String,
        role_arn: String,
        session_name: Option<String>,
        duration: Duration,
        token_file: Option<String>,
        token_process: Option<String>,
        endpoint: Endpoint,
    },
    /// An external `credential_process`.
    Process { profile: String, command: String },
}

/// A call that turns the previous link's credentials into new ones.
#[derive(Debug, Clone, PartialEq)]
pub enum Hop {
    GetSessionToken {
        profile: String,
        mfa_serial: Option<String>,
        mfa_process: Option<String>,
        duration: Duration,
        endpoint: Endpoint,
    },
    AssumeRole {
        profile: String,
        role_arn: String,
        session_name: Option<String>,
        external_id: Option<String>,
        mfa_serial: Option<String>,
        mfa_process: Option<String>,
        duration: Duration,
        tags: Vec<(String, String)>,
        transitive_tag_keys: Vec<String>,
        source_identity: Option<String>,
        endpoint: Endpoint,
    },
}

/// Where a link's result is cached: the Go tool's session key fields plus a fingerprint of
/// every parameter that shapes the credential, so that a change of role, duration, tags or
/// endpoint can never return a stale credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    pub kind: &'static str,
    pub profile: String,
    pub serial: String,
    pub fingerprint: String,
}

/// One link with its cache key (`None`: not cached).
#[derive(Debug, Clone, PartialEq)]
pub struct Step<T> {
    pub what: T,
    pub cache: Option<CacheKey>,
}

/// A base source followed by zero or more hops, executed left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub base: Step<Base>,
    pub hops: Vec<Step<Hop>>,
}

impl Plan {
    /// The cache key the executor looks up first: the last link's.
    pub fn first_lookup(&self) -> Option<&CacheKey> {
        match self.hops.last() {
            Some(hop) => hop.cache.as_ref(),
            None => self.base.cache.as_ref(),
        }
    }
}

/// Switches that change the plan (docs/compatibility.md §3.1 inputs).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--no-session`: never prime with GetSessionToken.
    pub no_session: bool,
    /// No cache at all (`rotate`, and `--no-cache`).
    pub no_cache: bool,
    /// `login`: this profile never uses GetSessionToken.
    pub no_session_for: Option<String>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("profile {0}: credentials missing")]
    CredentialsMissing(String),
    #[error("profile {0}: web identity needs role_arn")]
    WebIdentityWithoutRole(String),
}

/// The profile names whose stored keys [`plan`] may look for: `profile` and its source
/// profiles, nearest first.
pub fn names(profile: &ProfileConfig) -> Vec<&str> {
    std::iter::successors(Some(profile), |c| c.source.as_deref())
        .map(|c| c.name.as_str())
        .collect()
}

/// The session-key prefix the executor will probably look up first, guessed before the
/// keyring has said which of [`names`] hold stored keys: the plan's when no keys are stored
/// (a chain ending in SSO, web identity or `credential_process`), else when they sit at the
/// end of the source chain. A backend that searches can look for it in the same round trip as
/// the names; a wrong guess costs that one search.
pub fn likely_first_lookup(profile: &ProfileConfig, opts: &Options) -> Option<String> {
    let root = names(profile).last().map(|n| n.to_string());
    let plan = plan(profile, &[], opts)
        .or_else(|_| plan(profile, &Vec::from_iter(root), opts))
        .ok()?;
    let key = plan.first_lookup()?;
    Some(crate::store::SessionKey::prefix(
        key.kind,
        &key.profile,
        &key.serial,
    ))
}

/// Build the plan for `profile`. `stored` is the keyring's key list (only exact matches count
/// as stored credentials).
pub fn plan(profile: &ProfileConfig, stored: &[String], opts: &Options) -> Result<Plan, PlanError> {
    let mut builder = Builder {
        stored,
        opts,
        chained_mfa: None,
    };
    builder.provider(profile, &mut Vec::new())
}

struct Builder<'a> {
    stored: &'a [String],
    opts: &'a Options,
    /// The MFA serial a GetSessionToken already used; a role with the same serial skips MFA.
    chained_mfa: Option<String>,
}

impl Builder<'_> {
    /// §3.1 for `c`. `parents` holds the profiles that use `c` (closest last).
    fn provider<'p>(
        &mut self,
        c: &'p ProfileConfig,
        parents: &mut Vec<&'p ProfileConfig>,
    ) -> Result<Plan, PlanError> {
        let has_creds = self.stored.contains(&c.name);
        if has_creds || c.source.is_some() {
            return self.source_path(c, has_creds, parents);
        }
        let base = if let Some(start_url) = &c.sso_start_url {
            let b = Base::Sso {
                profile: c.name.clone(),
                start_url: start_url.clone(),
                region: c.sso_region.clone(),
                account_id: c.sso_account_id.clone(),
                role_name: c.sso_role_name.clone(),
                session: c.sso_session.clone(),
                scopes: c.sso_registration_scopes.clone(),
                endpoint_url: c.endpoint_url.clone(),
            };
            let key = self.key(
                kind::SSO_GET_ROLE_CREDENTIALS,
                c,
                start_url,
                b.fingerprint(),
            );
            Step {
                what: b,
                cache: key,
            }
        } else if c.web_identity_token_file.is_some() || c.web_identity_token_process.is_some() {
            let role_arn = c
                .role_arn
                .clone()
                .ok_or_else(|| PlanError::WebIdentityWithoutRole(c.name.clone()))?;
            let b = Base::WebIdentity {
                profile: c.name.clone(),
                role_arn,
                session_name: c.role_session_name.clone(),
                duration: c.assume_role_duration,
                token_file: c.web_identity_token_file.clone(),
                token_process: c.web_identity_token_process.clone(),
                endpoint: Endpoint::from_profile(c),
            };
            let key = self.key(kind::ASSUME_ROLE_WITH_WEB_IDENTITY, c, "", b.fingerprint());
            Step {
                what: b,
                cache: key,
            }
        } else if let Some(command) = &c.credential_process {
            let b = Base::Process {
                profile: c.name.clone(),
                command: command.clone(),
            };
            let key = self.key(kind::CREDENTIAL_PROCESS, c, "", b.fingerprint());
            Step {
                what: b,
                cache: key,
            }
        } else {
            return Err(PlanError::CredentialsMissing(c.name.clone()));
        };
        Ok(Plan {
            base,
            hops: Vec::new(),
        })
    }

    /// §3.2: stored keys or a source profile, maybe primed with GetSessionToken, then maybe a role.
    fn source_path<'p>(
        &mut self,
        c: &'p ProfileConfig,
        has_creds: bool,
        parents: &mut Vec<&'p ProfileConfig>,
    ) -> Result<Plan, PlanError> {
        let mut plan = if has_creds {
            Plan {
                base: Step {
                    what: Base::Stored {
                        name: c.name.clone(),
                    },
                    cache: None,
                },
                hops: Vec::new(),
            }
        } else {
            let source = c
                .source
                .as_deref()
                .ok_or_else(|| PlanError::CredentialsMissing(c.name.clone()))?;
            parents.push(c);
            let plan = self.provider(source, parents);
            parents.pop();
            plan?
        };

        let parent = parents.last().copied();
        let is_source_for_role = parent.is_some_and(|p| p.role_arn.is_some());
        let keeps_full = {
            let with_role: Vec<&ProfileConfig> = std::iter::once(c)
                .chain(parents.iter().rev().copied())
                .filter(|p| p.role_arn.is_some())
                .collect();
            with_role.len() == 1 && with_role[0].assume_role_duration > ROLE_CHAINING_MAX
        };
        let should_prime = (c.role_arn.is_none() || is_source_for_role) && !keeps_full;
        let source_is_master =
            plan.hops.is_empty() && matches!(plan.base.what, Base::Stored { .. });

        let assume_role = if !should_prime || !source_is_master {
            true
        } else if !self.can_use_get_session_token(c, parent) {
            c.role_arn.is_some()
        } else {
            self.chained_mfa = c.mfa_serial.clone();
            let duration = if parent.is_some() {
                c.chained_get_session_token_duration
            } else {
                c.get_session_token_duration
            };
            let hop = Hop::GetSessionToken {
                profile: c.name.clone(),
                mfa_serial: c.mfa_serial.clone(),
                mfa_process: c.mfa_process.clone(),
                duration,
                endpoint: Endpoint::from_profile(c),
            };
            let serial = c.mfa_serial.clone().unwrap_or_default();
            let cache = self.key(kind::GET_SESSION_TOKEN, c, &serial, hop.fingerprint());
            plan.hops.push(Step { what: hop, cache });
            c.role_arn.is_some()
        };

        let Some(role_arn) = c.role_arn.clone().filter(|_| assume_role) else {
            return Ok(plan);
        };

        // Role chaining (docs/compatibility.md §3.2 step 4, and §7.9: SSO and web-identity sources are role
        // credentials too, so AWS caps those chains as well).
        let source_is_role_like = !plan.hops.is_empty()
            || matches!(plan.base.what, Base::Sso { .. } | Base::WebIdentity { .. });
        let duration = if source_is_role_like && c.assume_role_duration > ROLE_CHAINING_MAX {
            ROLE_CHAINING_MAX
        } else {
            c.assume_role_duration
        };
        // MFA chaining: a GetSessionToken made with this serial already proved possession.
        let mfa_serial = c
            .mfa_serial
            .clone()
            .filter(|s| self.chained_mfa.as_deref() != Some(s.as_str()));
        let hop = Hop::AssumeRole {
            profile: c.name.clone(),
            role_arn,
            session_name: c.role_session_name.clone(),
            external_id: c.external_id.clone(),
            mfa_serial: mfa_serial.clone(),
            mfa_process: c.mfa_process.clone(),
            duration,
            tags: c.session_tags.clone(),
            transitive_tag_keys: c.transitive_session_tags.clone(),
            source_identity: c.source_identity.clone(),
            endpoint: Endpoint::from_profile(c),
        };
        // Unlike the Go tool, role credentials are cached with or without MFA
        // (99designs/aws-vault#1222); the fingerprint keeps a changed role from matching.
        let cache = self.key(
            kind::ASSUME_ROLE,
            c,
            &mfa_serial.unwrap_or_default(),
            hop.fingerprint(),
        );
        plan.hops.push(Step { what: hop, cache });
        Ok(plan)
    }

    /// docs/compatibility.md §3.2 `canUseGetSessionToken`.
    fn can_use_get_session_token(&self, c: &ProfileConfig, parent: Option<&ProfileConfig>) -> bool {
        if self.opts.no_session || self.opts.no_session_for.as_deref() == Some(c.name.as_str()) {
            return false;
        }
        if let Some(p) = parent {
            match (&p.mfa_serial, &c.mfa_serial) {
                (Some(a), Some(b)) if a == b => {}
                _ => return false,
            }
        }
        true
    }

    fn key(
        &self,
        kind: &'static str,
        c: &ProfileConfig,
        serial: &str,
        fingerprint: String,
    ) -> Option<CacheKey> {
        if self.opts.no_cache {
            return None;
        }
        Some(CacheKey {
            kind,
            profile: c.name.clone(),
            serial: serial.to_string(),
            fingerprint,
        })
    }
}

impl Base {
    /// The parameters that decide what credential this source returns (see [`CacheKey`]).
    pub fn fingerprint(&self) -> String {
        match self {
            // Never cached: stored keys are read each time.
            Base::Stored { name } => fingerprint(&[("stored", Some(name))]),
            Base::Sso {
                start_url,
                region,
                account_id,
                role_name,
                endpoint_url,
                ..
            } => fingerprint(&[
                ("start_url", Some(start_url)),
                ("sso_region", region.as_deref()),
                ("account_id", account_id.as_deref()),
                ("role_name", role_name.as_deref()),
                ("endpoint_url", endpoint_url.as_deref()),
            ]),
            Base::WebIdentity {
                role_arn,
                session_name,
                duration,
                token_file,
                token_process,
                endpoint,
                ..
            } => fingerprint(&[
                ("role_arn", Some(role_arn)),
                ("session_name", session_name.as_deref()),
                ("duration", Some(&duration.as_secs().to_string())),
                ("token_file", token_file.as_deref()),
                ("token_process", token_process.as_deref()),
                ("endpoint_url", endpoint.endpoint_url.as_deref()),
            ]),
            Base::Process { command, .. } => fingerprint(&[("command", Some(command))]),
        }
    }
}

impl Hop {
    /// The parameters that decide what credential this call returns (see [`CacheKey`]).
    ///
    /// A GetSessionToken session depends only on the source keys and the MFA device (both in
    /// the session key) and on the service that issued it: like the Go tool, one session
    /// serves every profile built on the same source profile and MFA device, whatever their
    /// durations or regions. A role session depends on every AssumeRole parameter.
    pub fn fingerprint(&self) -> String {
        match self {
            Hop::GetSessionToken { endpoint, .. } => {
                fingerprint(&[("endpoint_url", endpoint.endpoint_url.as_deref())])
            }
            Hop::AssumeRole {
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
                let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}\u{1f}{v}")).collect();
                fingerprint(&[
                    ("role_arn", Some(role_arn)),
                    ("session_name", session_name.as_deref()),
                    ("external_id", external_id.as_deref()),
                    ("duration", Some(&duration.as_secs().to_string())),
                    ("tags", Some(&tags.join("\u{1e}"))),
                    (
                        "transitive_tag_keys",
                        Some(&transitive_tag_keys.join("\u{1e}")),
                    ),
                    ("source_identity", source_identity.as_deref()),
                    ("endpoint_url", endpoint.endpoint_url.as_deref()),
                ])
            }
        }
    }
}

/// A short hash of named parameters. Each is written as `name`, a marker for set/unset, and
/// the value, separated by bytes that cannot occur in config values, so no two different
/// parameter lists hash the same input.
fn fingerprint(fields: &[(&str, Option<&str>)]) -> String {
    let mut h = Sha256::new();
    for (name, value) in fields {
        h.update(name.as_bytes());
        match value {
            Some(v) => {
                h.update([0x01]);
                h.update(v.as_bytes());
            }
            None => h.update([0x02]),
        }
        h.update([0x00]);
    }
    let digest = h.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for Plan {
    /// One line for `--debug`, e.g. `stored(jonsmith) -> GetSessionToken(jonsmith, mfa) -> AssumeRole(foo)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.base.what {
            Base::Stored { name } => write!(f, "stored keys({name})")?,
            Base::Sso { profile, .. } => write!(f, "sso({profile})")?,
            Base::WebIdentity { profile, .. } => write!(f, "web identity({profile})")?,
            Base::Process { profile, .. } => write!(f, "credential_process({profile})")?,
        }
        if self.base.cache.is_some() {
            write!(f, " [cached]")?;
        }
        for hop in &self.hops {
            match &hop.what {
                Hop::GetSessionToken {
                    profile,
                    mfa_serial,
                    duration,
                    ..
                } => write!(
                    f,
                    " -> GetSessionToken({profile}, {}s{})",
                    duration.as_secs(),
                    if mfa_serial.is_some() { ", mfa" } else { "" }
                )?,
                Hop::AssumeRole {
                    profile,
                    role_arn,
                    mfa_serial,
                    duration,
                    ..
                } => write!(
                    f,
                    " -> AssumeRole({profile}, {role_arn}, {}s{})",
                    duration.as_secs(),
                    if mfa_serial.is_some() { ", mfa" } else { "" }
                )?,
            }
            if hop.cache.is_some() {
                write!(f, " [cached]")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BaseValues, ConfigFile, Env};

    const README_CONFIG: &str = "\
[profile jonsmith]
mfa_serial = arn:aws:iam::111111111111:mfa/jonsmith

[profile foo-readonly]
source_profile = jonsmith
role_arn = arn:aws:iam::22222222222:role/ReadOnly

[profile foo-admin]
source_profile = jonsmith
role_arn = arn:aws:iam::22222222222:role/Administrator
mfa_serial = arn:aws:iam::111111111111:mfa/jonsmith

[profile bar-role1]
source_profile = jonsmith
role_arn = arn:aws:iam::333333333333:role/Role1
mfa_serial = arn:aws:iam::111111111111:mfa/jonsmith

[profile bar-role2]
source_profile = bar-role1
role_arn = arn:aws:iam::333333333333:role/Role2
mfa_serial = arn:aws:iam::111111111111:mfa/jonsmith

[profile web]
role_arn = arn:aws:iam::444444444444:role/Web
web_identity_token_file = /tmp/token
duration_seconds = 7200

[profile from-web]
source_profile = web
role_arn = arn:aws:iam::444444444444:role/Next
duration_seconds = 7200

[profile proc]
credential_process = /bin/creds

[profile sso]
sso_start_url = https://x.awsapps.com/start
sso_region = us-east-1
sso_account_id = 1
sso_role_name = r

[profile empty]
";

    fn plan_for(name: &str, duration: Option<u64>, opts: Options) -> Result<Plan, PlanError> {
        let cfg = ConfigFile::parse(std::path::Path::new("/c"), README_CONFIG).unwrap();
        let base = BaseValues {
            duration: duration.map(Duration::from_secs),
            ..Default::default()
        };
        let p = cfg.resolve(name, &Env::new(), &base).unwrap();
        plan(&p, &["jonsmith".to_string()], &opts)
    }

    /// (calls, cached kinds, MFA calls) — the table of docs/compatibility.md §3.2.
    fn summary(plan: &Plan) -> (Vec<String>, Vec<&'static str>, usize) {
        let mut calls = Vec::new();
        let mut cached = Vec::new();
        let mut mfa = 0;
        if let Some(k) = &plan.base.cache {
            cached.push(k.kind);
        }
        for hop in &plan.hops {
            match &hop.what {
                Hop::GetSessionToken {
                    duration,
                    mfa_serial,
                    ..
                } => {
                    calls.push(format!("GetSessionToken({}s)", duration.as_secs()));
                    mfa += mfa_serial.is_some() as usize;
                }
                Hop::AssumeRole {
                    duration,
                    mfa_serial,
                    ..
                } => {
                    calls.push(format!("AssumeRole({}s)", duration.as_secs()));
                    mfa += mfa_serial.is_some() as usize;
                }
            }
            if let Some(k) = &hop.cache {
                cached.push(k.kind);
            }
        }
        (calls, cached, mfa)
    }

    /// (profile, --duration, options, calls, cached kinds, MFA calls)
    type Case = (
        &'static str,
        Option<u64>,
        Options,
        Vec<&'static str>,
        Vec<&'static str>,
        usize,
    );

    #[test]
    fn readme_decision_table() {
        let no_session = Options {
            no_session: true,
            ..Default::default()
        };
        let cases: Vec<Case> = vec![
            ("jonsmith", None, no_session.clone(), vec![], vec![], 0),
            (
                "jonsmith",
                None,
                Options::default(),
                vec!["GetSessionToken(3600s)"],
                vec!["sts.GetSessionToken"],
                1,
            ),
            // The Go tool does not cache role credentials without MFA; we do.
            (
                "foo-readonly",
                None,
                Options::default(),
                vec!["AssumeRole(3600s)"],
                vec!["sts.AssumeRole"],
                0,
            ),
            (
                "foo-admin",
                None,
                Options::default(),
                vec!["GetSessionToken(28800s)", "AssumeRole(3600s)"],
                vec!["sts.GetSessionToken", "sts.AssumeRole"],
                1,
            ),
            (
                "foo-admin",
                Some(7200),
                Options::default(),
                vec!["AssumeRole(7200s)"],
                vec!["sts.AssumeRole"],
                1,
            ),
            (
                "bar-role2",
                None,
                Options::default(),
                vec![
                    "GetSessionToken(28800s)",
                    "AssumeRole(3600s)",
                    "AssumeRole(3600s)",
                ],
                vec!["sts.GetSessionToken", "sts.AssumeRole", "sts.AssumeRole"],
                1,
            ),
            (
                "bar-role2",
                None,
                no_session.clone(),
                vec!["AssumeRole(3600s)", "AssumeRole(3600s)"],
                vec!["sts.AssumeRole", "sts.AssumeRole"],
                2,
            ),
        ];
        for (name, duration, opts, calls, cached, mfa) in cases {
            let plan = plan_for(name, duration, opts).unwrap();
            let (c, k, m) = summary(&plan);
            assert_eq!(c, calls, "{name} {duration:?}: {plan}");
            assert_eq!(k, cached, "{name} {duration:?}: {plan}");
            assert_eq!(m, mfa, "{name} {duration:?}: {plan}");
        }
    }

    #[test]
    fn role_chain_is_capped_with_a_duration_flag() {
        let plan = plan_for("bar-role2", Some(7200), Options::default()).unwrap();
        // keepsFull is false with two roles, so GetSessionToken primes and both roles are capped.
        assert_eq!(
            summary(&plan).0,
            [
                "GetSessionToken(7200s)",
                "AssumeRole(3600s)",
                "AssumeRole(3600s)"
            ]
        );
    }

    #[test]
    fn other_sources() {
        let plan = plan_for("web", None, Options::default()).unwrap();
        assert!(
            matches!(plan.base.what, Base::WebIdentity { duration, .. } if duration == Duration::from_secs(7200))
        );
        assert_eq!(
            plan.base.cache.as_ref().unwrap().kind,
            "sts.AssumeRoleWithWebIdentity"
        );
        // AssumeRole from web-identity credentials is role chaining: capped (docs/compatibility.md §7.9).
        let plan = plan_for("from-web", None, Options::default()).unwrap();
        assert_eq!(summary(&plan).0, ["AssumeRole(3600s)"]);

        let plan = plan_for("proc", None, Options::default()).unwrap();
        assert_eq!(plan.base.cache.as_ref().unwrap().kind, "credential_process");
        let plan = plan_for("sso", None, Options::default()).unwrap();
        let key = plan.base.cache.unwrap();
        assert_eq!(
            (key.kind, key.serial.as_str()),
            ("sso.GetRoleCredentials", "https://x.awsapps.com/start")
        );
        assert_eq!(
            plan_for("empty", None, Options::default()).unwrap_err(),
            PlanError::CredentialsMissing("empty".into())
        );
    }

    #[test]
    fn no_cache_and_login_switches() {
        let plan = plan_for(
            "foo-admin",
            None,
            Options {
                no_cache: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(plan.hops.iter().all(|h| h.cache.is_none()));
        let plan = plan_for(
            "jonsmith",
            None,
            Options {
                no_session_for: Some("jonsmith".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(plan.hops.is_empty());
    }

    #[test]
    fn cache_keys_follow_the_parameters() {
        let a = plan_for("foo-admin", None, Options::default()).unwrap();
        let b = plan_for("foo-admin", Some(1800), Options::default()).unwrap();
        let ka = a.hops.last().unwrap().cache.clone().unwrap();
        let kb = b.hops.last().unwrap().cache.clone().unwrap();
        assert_eq!(
            (ka.kind, &ka.profile, &ka.serial),
            (kb.kind, &kb.profile, &kb.serial)
        );
        assert_ne!(ka.fingerprint, kb.fingerprint);
        // MFA chaining: the role after a GetSessionToken with the same serial has no serial.
        assert_eq!(ka.serial, "");
        assert_eq!(
            a.hops[0].cache.as_ref().unwrap().serial,
            "arn:aws:iam::111111111111:mfa/jonsmith"
        );
    }

    fn resolve(name: &str) -> ProfileConfig {
        let cfg = ConfigFile::parse(std::path::Path::new("/c"), README_CONFIG).unwrap();
        cfg.resolve(name, &Env::new(), &BaseValues::default())
            .unwrap()
    }

    #[test]
    fn names_follow_the_source_chain() {
        assert_eq!(
            names(&resolve("bar-role2")),
            ["bar-role2", "bar-role1", "jonsmith"]
        );
        assert_eq!(names(&resolve("sso")), ["sso"]);
    }

    #[test]
    fn likely_first_lookup_guesses_the_plan_of_the_usual_keys() {
        let opts = Options::default();
        for (name, stored) in [
            ("foo-admin", &["jonsmith"][..]),
            ("bar-role2", &["jonsmith"][..]),
            ("jonsmith", &["jonsmith"][..]),
            ("sso", &[][..]),
            ("proc", &[][..]),
        ] {
            let p = resolve(name);
            let stored: Vec<String> = stored.iter().map(|s| s.to_string()).collect();
            // The guess is the real plan's first lookup when the keys sit at the end of the
            // source chain (or, for SSO and credential_process, nowhere).
            let real = plan(&p, &stored, &opts).unwrap();
            let key = real.first_lookup().unwrap();
            let want = crate::store::SessionKey::prefix(key.kind, &key.profile, &key.serial);
            assert_eq!(likely_first_lookup(&p, &opts), Some(want), "{name}");
        }
        // --no-session on stored keys: nothing is looked up first.
        let no_session = Options {
            no_session: true,
            ..Options::default()
        };
        assert_eq!(likely_first_lookup(&resolve("jonsmith"), &no_session), None);
    }
}
