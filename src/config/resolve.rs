//! Resolution of one profile into a [`ProfileConfig`] (docs/compatibility.md §2.5–§2.7).
//!
//! Every field is "first non-empty value wins", filled in this order: command-line base values,
//! the environment (§2.6), then the config file walked level by level: the profile's own
//! section, then its `include_profile` (recursively), and at the end of that chain `[default]`.
//! Then defaults, then the `source_profile` chain, each hop resolved the same way.
//!
//! Both walks are loops over a visited set rather than recursion, so no configuration, however
//! long or cyclic, can exhaust the stack. Deliberate fixes of Go bugs (docs/compatibility.md §7):
//! * §7.4: a `source_profile` cycle (`a` -> `b` -> `a`) is reported as
//!   `Loop detected in config file for profile 'a'` instead of recursing until a crash;
//! * §7.5: `duration_seconds = 1h` is a duration, not a crash (see `parse_duration_seconds`);
//! * §7.6: an `sso_session` reached only through the include/default walk does not replace a
//!   start URL the profile (or a closer level) sets inline;
//! * §7.14: a malformed `AWS_SESSION_TAGS` is an error with a message, not a silent exit.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use super::duration;
use super::error::ConfigError;
use super::profile::{
    parse_duration_seconds, parse_session_tags, parse_transitive_session_tags, BaseValues,
    ProfileConfig,
};
use super::{ConfigFile, Env};

/// `[default]` profile name: it reads the `[default]` section, never `[profile default]`.
pub(crate) const DEFAULT_PROFILE: &str = "default";

/// AssumeRole, GetFederationToken and non-chained GetSessionToken default.
const DEFAULT_SESSION_DURATION: Duration = Duration::from_secs(3600);
/// GetSessionToken default when the profile is the source of another one.
const DEFAULT_CHAINED_SESSION_DURATION: Duration = Duration::from_secs(8 * 3600);

/// Longest `source_profile` chain we resolve. Real chains are a handful of hops; the cap keeps
/// the nested result (and its recursive `Drop`/`Clone`) far from any stack limit.
pub const MAX_SOURCE_CHAIN: usize = 256;

/// The section that holds a profile: `[default]` for `default`, `[profile NAME]` otherwise.
pub(crate) fn section_name(profile: &str) -> String {
    if profile == DEFAULT_PROFILE {
        DEFAULT_PROFILE.to_string()
    } else {
        format!("profile {profile}")
    }
}

/// The recognised keys of one profile section, as aws-vault's `ProfileSection` struct reads them
/// (empty string = absent or empty).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ProfileSection {
    pub mfa_serial: String,
    pub role_arn: String,
    pub external_id: String,
    pub region: String,
    pub role_session_name: String,
    pub duration_seconds: Option<Duration>,
    pub source_profile: String,
    pub include_profile: String,
    pub sso_session: String,
    pub sso_start_url: String,
    pub sso_region: String,
    pub sso_account_id: String,
    pub sso_role_name: String,
    pub web_identity_token_file: String,
    pub web_identity_token_process: String,
    pub sts_regional_endpoints: String,
    pub endpoint_url: String,
    pub session_tags: String,
    pub transitive_session_tags: String,
    pub source_identity: String,
    pub credential_process: String,
    pub mfa_process: String,
}

impl ProfileSection {
    /// aws-vault's `IsEmpty`: no recognised key has a non-empty value. Decides whether
    /// `[default]` is listed as a profile.
    pub fn is_empty(&self) -> bool {
        *self == ProfileSection::default()
    }
}

/// An `[sso-session NAME]` section.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct SsoSessionSection {
    pub sso_start_url: String,
    pub sso_region: String,
    pub sso_registration_scopes: String,
}

/// How the file walk treats problems: `Strict` for credential resolution (errors are fatal);
/// `Lenient` for display-only lookups (`list`), which want whatever can be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Lenient,
}

/// A profile being resolved: the record plus the durations, `None` until some level sets them
/// (Go uses 0 for "unset").
#[derive(Debug, Default)]
struct Draft {
    cfg: ProfileConfig,
    assume_role: Option<Duration>,
    session_token: Option<Duration>,
    chained_session_token: Option<Duration>,
    federation_token: Option<Duration>,
}

/// Stores `value` into an empty field; empty values never count.
fn fill(field: &mut Option<String>, value: &str) {
    if field.is_none() && !value.is_empty() {
        *field = Some(value.to_string());
    }
}

/// A non-empty value (Go's `!= ""`).
fn non_empty(value: Option<&String>) -> Option<&str> {
    value.map(String::as_str).filter(|v| !v.is_empty())
}

impl ConfigFile {
    /// aws-vault's `ProfileSection(name)`: the profile's recognised keys, with go-ini
    /// inheritance and interpolation; `None` when the section does not exist.
    pub(crate) fn profile_section(&self, name: &str) -> Option<ProfileSection> {
        let section = section_name(name);
        self.ini.section(&section)?;
        let get = |key: &str| self.ini.get(&section, key).unwrap_or_default();
        Some(ProfileSection {
            mfa_serial: get("mfa_serial"),
            role_arn: get("role_arn"),
            external_id: get("external_id"),
            region: get("region"),
            role_session_name: get("role_session_name"),
            duration_seconds: self
                .ini
                .get(&section, "duration_seconds")
                .and_then(|v| parse_duration_seconds(&v)),
            source_profile: get("source_profile"),
            include_profile: get("include_profile"),
            sso_session: get("sso_session"),
            sso_start_url: get("sso_start_url"),
            sso_region: get("sso_region"),
            sso_account_id: get("sso_account_id"),
            sso_role_name: get("sso_role_name"),
            web_identity_token_file: get("web_identity_token_file"),
            web_identity_token_process: get("web_identity_token_process"),
            sts_regional_endpoints: get("sts_regional_endpoints"),
            endpoint_url: get("endpoint_url"),
            session_tags: get("session_tags"),
            transitive_session_tags: get("transitive_session_tags"),
            source_identity: get("source_identity"),
            credential_process: get("credential_process"),
            mfa_process: get("mfa_process"),
        })
    }

    /// The `[sso-session NAME]` section, if it exists.
    pub(crate) fn sso_session_section(&self, name: &str) -> Option<SsoSessionSection> {
        let section = format!("sso-session {name}");
        self.ini.section(&section)?;
        let get = |key: &str| self.ini.get(&section, key).unwrap_or_default();
        Some(SsoSessionSection {
            sso_start_url: get("sso_start_url"),
            sso_region: get("sso_region"),
            sso_registration_scopes: get("sso_registration_scopes"),
        })
    }

    /// docs/compatibility.md §2.5: resolves `name` and its `source_profile` chain.
    pub fn resolve(
        &self,
        name: &str,
        env: &Env,
        base: &BaseValues,
    ) -> Result<ProfileConfig, ConfigError> {
        // Resolve each hop flat, target first, then nest them from the far end.
        let mut chain: Vec<ProfileConfig> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut current = name.to_string();
        loop {
            if !seen.insert(current.clone()) {
                return Err(ConfigError::loop_detected(&current));
            }
            if chain.len() >= MAX_SOURCE_CHAIN {
                return Err(ConfigError::chain_too_long(name, MAX_SOURCE_CHAIN));
            }
            let cfg = self.resolve_one(&current, env, base, chain.is_empty())?;
            let next = cfg.source_profile_name.clone();
            chain.push(cfg);
            match next {
                Some(next) => current = next,
                None => break,
            }
        }

        let mut source: Option<ProfileConfig> = None;
        while let Some(mut cfg) = chain.pop() {
            if let Some(mut src) = source.take() {
                src.chained_from = Some(cfg.name.clone());
                if cfg.mfa_process.is_none() {
                    cfg.mfa_process = src.mfa_process.clone();
                }
                cfg.source = Some(Box::new(src));
            }
            source = Some(cfg);
        }
        // `chain` held at least the target, so `source` is set.
        source.ok_or_else(|| ConfigError::loop_detected(name))
    }

    /// One profile without its source: base values, environment, file walk, defaults.
    fn resolve_one(
        &self,
        name: &str,
        env: &Env,
        base: &BaseValues,
        is_target: bool,
    ) -> Result<ProfileConfig, ConfigError> {
        let mut d = Draft::default();
        d.cfg.name = name.to_string();
        apply_base(&mut d, base);
        apply_env(&mut d, env, is_target)?;
        self.walk(&mut d, name, Mode::Strict)?;

        let mut cfg = d.cfg;
        cfg.assume_role_duration = d.assume_role.unwrap_or(DEFAULT_SESSION_DURATION);
        cfg.get_federation_token_duration = d.federation_token.unwrap_or(DEFAULT_SESSION_DURATION);
        cfg.get_session_token_duration = d.session_token.unwrap_or(DEFAULT_SESSION_DURATION);
        cfg.chained_get_session_token_duration = d
            .chained_session_token
            .unwrap_or(DEFAULT_CHAINED_SESSION_DURATION);
        Ok(cfg)
    }

    /// The start URL `list` and `clear <profile>` use to find a profile's OIDC token.
    ///
    /// Deliberate fix of docs/compatibility.md §7.26: the Go tool reads only the profile's own section; we
    /// resolve through `include_profile` / `[default]` exactly like credential resolution, so
    /// the token `exec` stored is the one `list` shows and `clear` removes (an `[sso-session]`
    /// URL still wins over an inline one). Problems that would fail resolution (loops, bad
    /// session tags) do not matter here: whatever was found before them is used.
    pub fn sso_start_url_for(&self, profile: &str) -> Option<String> {
        let mut d = Draft::default();
        d.cfg.name = profile.to_string();
        // Lenient mode never fails.
        let _ = self.walk(&mut d, profile, Mode::Lenient);
        d.cfg.sso_start_url
    }

    /// [`ConfigFile::sso_start_url_for`] of every profile in `profiles`, in one pass over the
    /// config rather than one walk per profile.
    ///
    /// Why: `list` needs the start URL of every profile, and a walk is as long as the profile's
    /// `include_profile` chain, so one walk per profile costs the square of the chain's length
    /// (a 4,000-deep chain took half a minute). Here each level of the include/default walk is
    /// read once and its result shared by every profile whose walk passes through it.
    ///
    /// The walk goes from a level to its `include_profile`, else to `[default]`: every level has
    /// at most one successor. Along that walk the start URL is decided by the first level that
    /// names an `sso_session` or sets `sso_start_url`, so a level's answer follows from its own
    /// keys and its successor's answer, computed from the far end back. A level on a loop has
    /// no far end; its walk goes once round the loop, and going round twice from the same
    /// starting point gives the same answer (a second pass meets the same levels again, and a
    /// level that decided nothing the first time decides nothing the second), so each loop is
    /// unrolled twice and computed backwards from there.
    pub fn sso_start_urls_for(&self, profiles: &[String]) -> Vec<Option<Rc<str>>> {
        /// One level of the walk: the keys that decide the start URL.
        struct Level {
            next: Option<usize>,
            /// Names an `sso_session` (the first such level decides the session).
            session: bool,
            /// That session's `sso_start_url`, if it has one.
            session_url: Option<Rc<str>>,
            /// The level's own `sso_start_url`.
            inline_url: Option<Rc<str>>,
        }
        /// The answer from a level given its successor's. `url` is the walk's answer starting
        /// fresh; `inline` the answer once a session was chosen (then only an inline URL can
        /// still fill in), as in [`ConfigFile::apply_section`].
        fn step(
            l: &Level,
            next_url: Option<Rc<str>>,
            next_inline: Option<Rc<str>>,
        ) -> (Option<Rc<str>>, Option<Rc<str>>) {
            let inline = l.inline_url.clone().or(next_inline);
            let url = if l.session {
                l.session_url.clone().or_else(|| inline.clone())
            } else {
                l.inline_url.clone().or(next_url)
            };
            (url, inline)
        }
        let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty()).map(Rc::<str>::from);

        // Read every level reachable from the profiles, once.
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut levels: Vec<Level> = Vec::new();
        let mut next_names: Vec<Option<String>> = Vec::new();
        let mut pending: Vec<String> = profiles.to_vec();
        while let Some(name) = pending.pop() {
            if ids.contains_key(&name) {
                continue;
            }
            super::work::add(1);
            let section = section_name(&name);
            let get = |key: &str| self.ini.get(&section, key).unwrap_or_default();
            let sso_session = get("sso_session");
            let include = get("include_profile");
            let session_url = if sso_session.is_empty() {
                None
            } else {
                self.sso_session_section(&sso_session)
                    .and_then(|s| non_empty(Some(s.sso_start_url)))
            };
            let next = if !include.is_empty() {
                Some(include)
            } else if name != DEFAULT_PROFILE {
                Some(DEFAULT_PROFILE.to_string())
            } else {
                None
            };
            if let Some(n) = &next {
                pending.push(n.clone());
            }
            levels.push(Level {
                next: None,
                session: !sso_session.is_empty(),
                session_url,
                inline_url: non_empty(Some(get("sso_start_url"))),
            });
            next_names.push(next);
            ids.insert(name, levels.len() - 1);
        }
        for (level, next) in levels.iter_mut().zip(&next_names) {
            level.next = next.as_ref().and_then(|n| ids.get(n).copied());
        }

        // Answers, from the far end of each walk back to its start.
        let n = levels.len();
        let mut url: Vec<Option<Rc<str>>> = vec![None; n];
        let mut inline: Vec<Option<Rc<str>>> = vec![None; n];
        // 0: not seen, 1: on the path being followed, 2: answered.
        let mut state = vec![0u8; n];
        let mut path: Vec<usize> = Vec::new();
        for start in 0..n {
            path.clear();
            let mut cur = Some(start);
            while let Some(c) = cur.filter(|&c| state[c] == 0) {
                state[c] = 1;
                path.push(c);
                cur = levels[c].next;
            }
            let mut tail = path.len();
            if let Some(c) = cur.filter(|&c| state[c] == 1) {
                // The path ran into itself: `path[pos..]` is a loop.
                let pos = path.iter().position(|&p| p == c).unwrap_or(0);
                let cycle = &path[pos..];
                let k = cycle.len();
                let (mut next_url, mut next_inline) = (None, None);
                for j in (0..2 * k).rev() {
                    super::work::add(1);
                    let id = cycle[j % k];
                    let (u, i) = step(&levels[id], next_url, next_inline);
                    if j < k {
                        url[id] = u.clone();
                        inline[id] = i.clone();
                        state[id] = 2;
                    }
                    (next_url, next_inline) = (u, i);
                }
                tail = pos;
            }
            for &id in path[..tail].iter().rev() {
                super::work::add(1);
                let (next_url, next_inline) = match levels[id].next {
                    Some(x) => (url[x].clone(), inline[x].clone()),
                    None => (None, None),
                };
                (url[id], inline[id]) = step(&levels[id], next_url, next_inline);
                state[id] = 2;
            }
        }
        profiles
            .iter()
            .map(|p| ids.get(p).and_then(|&id| url[id].clone()))
            .collect()
    }

    /// docs/compatibility.md §2.5 step 3: the profile's section, then `include_profile` (repeatedly), and when
    /// a level has no include and is not `default`, `[default]`. A profile visited twice in one
    /// walk is a loop. A missing section is just empty.
    fn walk(&self, d: &mut Draft, name: &str, mode: Mode) -> Result<(), ConfigError> {
        let mut visited: HashSet<String> = HashSet::new();
        let mut current = name.to_string();
        loop {
            if !visited.insert(current.clone()) {
                match mode {
                    Mode::Strict => return Err(ConfigError::loop_detected(&current)),
                    Mode::Lenient => break,
                }
            }
            super::work::add(1);
            let section = self.profile_section(&current).unwrap_or_default();
            self.apply_section(d, &section, mode)?;
            current = if !section.include_profile.is_empty() {
                section.include_profile
            } else if current != DEFAULT_PROFILE {
                DEFAULT_PROFILE.to_string()
            } else {
                break;
            };
        }
        // A source_profile naming the profile itself is ignored: "use my own credentials".
        if d.cfg.source_profile_name.as_deref() == Some(name) {
            d.cfg.source_profile_name = None;
        }
        Ok(())
    }

    /// Fills the draft's empty fields from one level of the walk.
    fn apply_section(
        &self,
        d: &mut Draft,
        p: &ProfileSection,
        mode: Mode,
    ) -> Result<(), ConfigError> {
        let c = &mut d.cfg;
        fill(&mut c.mfa_serial, &p.mfa_serial);
        fill(&mut c.role_arn, &p.role_arn);
        fill(&mut c.external_id, &p.external_id);
        fill(&mut c.region, &p.region);
        fill(&mut c.role_session_name, &p.role_session_name);
        if d.assume_role.is_none() {
            d.assume_role = p.duration_seconds;
        }
        fill(&mut c.source_profile_name, &p.source_profile);
        fill(&mut c.include_profile, &p.include_profile);

        // The first level naming an sso_session decides it. Its [sso-session] section, when it
        // exists, overwrites the URL, region and scopes (even with empty values), so within one
        // level the session beats inline keys. Fix of docs/compatibility.md §7.6: if a closer level already set
        // a start URL inline, the profile is an inline-SSO profile, and a session met later in
        // the walk (typically in [default]) is ignored as a whole.
        if c.sso_session.is_none() && !p.sso_session.is_empty() && c.sso_start_url.is_none() {
            c.sso_session = Some(p.sso_session.clone());
            if let Some(s) = self.sso_session_section(&p.sso_session) {
                c.sso_start_url = Some(s.sso_start_url).filter(|v| !v.is_empty());
                c.sso_region = Some(s.sso_region).filter(|v| !v.is_empty());
                c.sso_registration_scopes =
                    Some(s.sso_registration_scopes).filter(|v| !v.is_empty());
            }
        }
        fill(&mut c.sso_start_url, &p.sso_start_url);
        fill(&mut c.sso_region, &p.sso_region);
        fill(&mut c.sso_account_id, &p.sso_account_id);
        fill(&mut c.sso_role_name, &p.sso_role_name);
        fill(&mut c.web_identity_token_file, &p.web_identity_token_file);
        fill(
            &mut c.web_identity_token_process,
            &p.web_identity_token_process,
        );
        fill(&mut c.sts_regional_endpoints, &p.sts_regional_endpoints);
        fill(&mut c.endpoint_url, &p.endpoint_url);
        fill(&mut c.source_identity, &p.source_identity);
        fill(&mut c.credential_process, &p.credential_process);
        fill(&mut c.mfa_process, &p.mfa_process);

        if !p.session_tags.is_empty() && c.session_tags.is_empty() {
            match parse_session_tags(&p.session_tags) {
                Ok(tags) => c.session_tags = tags,
                Err(e) if mode == Mode::Strict => {
                    return Err(ConfigError::session_tags_setting(&e))
                }
                Err(_) => {}
            }
        }
        if !p.transitive_session_tags.is_empty() && c.transitive_session_tags.is_empty() {
            c.transitive_session_tags = parse_transitive_session_tags(&p.transitive_session_tags);
        }
        Ok(())
    }
}

/// docs/compatibility.md §2.5 step 1: command-line values, for every profile of the chain.
fn apply_base(d: &mut Draft, base: &BaseValues) {
    let c = &mut d.cfg;
    fill(&mut c.region, base.region.as_deref().unwrap_or(""));
    if let Some(dur) = base.duration.filter(|d| !d.is_zero()) {
        d.assume_role = Some(dur);
        d.session_token = Some(dur);
        d.chained_session_token = Some(dur);
        if base.duration_sets_federation {
            d.federation_token = Some(dur);
        }
    }
}

/// A `*_TTL` variable: Go duration syntax; unparseable, zero or negative values are ignored.
fn env_ttl(env: &Env, var: &str) -> Option<Duration> {
    let v = non_empty(env.get(var))?;
    duration::parse_go_duration(v)
        .ok()
        .and_then(duration::positive_std)
}

/// docs/compatibility.md §2.6: environment overrides, each only into a still-empty field. The last group
/// applies to the target profile only, never to its source profiles.
fn apply_env(d: &mut Draft, env: &Env, is_target: bool) -> Result<(), ConfigError> {
    let get = |var: &str| non_empty(env.get(var)).unwrap_or("");
    let c = &mut d.cfg;
    fill(&mut c.region, get("AWS_REGION"));
    fill(&mut c.region, get("AWS_DEFAULT_REGION"));
    fill(
        &mut c.sts_regional_endpoints,
        get("AWS_STS_REGIONAL_ENDPOINTS"),
    );
    fill(&mut c.endpoint_url, get("AWS_ENDPOINT_URL"));
    fill(&mut c.mfa_serial, get("AWS_MFA_SERIAL"));
    if d.assume_role.is_none() {
        d.assume_role = env_ttl(env, "AWS_ASSUME_ROLE_TTL");
    }
    if d.session_token.is_none() {
        d.session_token = env_ttl(env, "AWS_SESSION_TOKEN_TTL");
    }
    if d.chained_session_token.is_none() {
        d.chained_session_token = env_ttl(env, "AWS_CHAINED_SESSION_TOKEN_TTL");
    }
    if d.federation_token.is_none() {
        d.federation_token = env_ttl(env, "AWS_FEDERATION_TOKEN_TTL");
    }

    if !is_target {
        return Ok(());
    }
    let c = &mut d.cfg;
    fill(&mut c.role_arn, get("AWS_ROLE_ARN"));
    fill(&mut c.role_session_name, get("AWS_ROLE_SESSION_NAME"));
    let tags = get("AWS_SESSION_TAGS");
    if !tags.is_empty() && c.session_tags.is_empty() {
        c.session_tags = parse_session_tags(tags).map_err(|e| ConfigError::session_tags_env(&e))?;
    }
    let transitive = get("AWS_TRANSITIVE_TAGS");
    if !transitive.is_empty() && c.transitive_session_tags.is_empty() {
        c.transitive_session_tags = parse_transitive_session_tags(transitive);
    }
    fill(&mut c.source_identity, get("AWS_SOURCE_IDENTITY"));
    Ok(())
}
