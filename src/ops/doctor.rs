//! `aws-vault doctor [profile]`: explain the setup and what is wrong with it.
//!
//! Each check yields findings of one line, with the fix when there is one. Nothing here
//! changes state: no login, no credential refresh, no session written. The only network call
//! (with `--network`) is one unauthenticated GET to the STS endpoint, for its `Date` header.
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::{BaseValues, ConfigFile, Env};
use crate::creds::chain::{self, Base, Hop, Plan, PlanError};
use crate::keyring::{self, Keyring};
use crate::store::{CredentialStore, OidcStore};

/// How bad a finding is. Only `Warn` and `Error` make `doctor` exit non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Works as it should.
    Ok,
    /// Worth knowing, not a problem (a backend skipped during automatic selection, say).
    Info,
    /// Works now but will bite (lax permissions, an expired SSO token without refresh).
    Warn,
    /// Broken: a command will fail.
    Error,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub level: Level,
    /// Which check: `backend`, `keyring`, `config`, `profile`, `mfa`, `sso`, `clock`, `lock`,
    /// `permissions`.
    pub check: &'static str,
    pub message: String,
    pub fix: Option<String>,
}

impl Finding {
    fn new(level: Level, check: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            level,
            check,
            message: message.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            Level::Ok => "ok",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        write!(f, "{level:<5} {}: {}", self.check, self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, " — fix: {fix}")?;
        }
        Ok(())
    }
}

/// What `doctor` looks at; the command file fills it from the settings.
pub struct Inputs<'a> {
    pub keyring: &'a keyring::Config,
    pub env: &'a Env,
    pub config_path: &'a Path,
    /// The MFA prompt driver (`--prompt`), already validated.
    pub prompt: Option<&'a str>,
    pub profile: Option<&'a str>,
    /// Allow the one network call (clock skew against STS).
    pub network: bool,
    pub now: Timestamp,
}

/// Whether a report means "nothing is wrong".
pub fn healthy(findings: &[Finding]) -> bool {
    findings
        .iter()
        .all(|f| matches!(f.level, Level::Ok | Level::Info))
}

/// Run every check, in the order a reader would fix things.
pub fn run(inp: &Inputs<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let keyring = check_backend(inp, &mut out);
    check_key_dir(inp, &mut out);
    let config = check_config(inp, &mut out);
    check_lock_dir(inp, &mut out);
    check_mfa_helpers(inp, &mut out);
    let profile = match (inp.profile, &config, &keyring) {
        (Some(name), Some(config), Some(kr)) => {
            check_profile(inp, name, config, kr.as_ref(), &mut out)
        }
        (Some(name), None, _) | (Some(name), _, None) => {
            out.push(Finding::new(
                Level::Error,
                "profile",
                format!("profile {name} not checked: the config file or the keyring is broken (see above)"),
            ));
            None
        }
        _ => None,
    };
    if inp.network {
        check_clock(inp, profile.as_ref(), &mut out);
    }
    out
}

fn check_backend(inp: &Inputs<'_>, out: &mut Vec<Finding>) -> Option<Box<dyn Keyring>> {
    let sel =
        match keyring::open_explained(inp.keyring) {
            Ok(sel) => sel,
            Err(e) => {
                out.push(Finding::new(Level::Error, "backend", e.to_string()).fix(
                    "set up that backend, or choose another with --backend / AWS_VAULT_BACKEND",
                ));
                return None;
            }
        };
    for (name, reason) in &sel.skipped {
        out.push(Finding::new(
            Level::Info,
            "backend",
            format!("{name} skipped: {reason}"),
        ));
    }
    let why = if sel.named {
        "named by --backend or AWS_VAULT_BACKEND"
    } else {
        "the first in the default order that opens"
    };
    out.push(Finding::new(
        Level::Ok,
        "backend",
        format!("using {} ({why})", sel.name),
    ));
    let keyring = sel.keyring;
    let keys = match keyring.keys() {
        Ok(k) => k,
        Err(e) => {
            out.push(
                Finding::new(Level::Error, "keyring", format!("cannot list items: {e}"))
                    .fix("unlock or repair the backend, or choose another"),
            );
            return None;
        }
    };
    let creds = CredentialStore::new(keyring.as_ref());
    let names = creds.names().unwrap_or_default();
    out.push(Finding::new(
        Level::Ok,
        "keyring",
        format!(
            "{} items; long-term keys for: {}",
            keys.len(),
            if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(", ")
            }
        ),
    ));
    // Read one item, to prove the passphrase or unlock works: the profile's own keys if any.
    let probe = inp
        .profile
        .filter(|p| names.iter().any(|n| n == p))
        .or_else(|| names.first().map(String::as_str));
    if let Some(name) = probe {
        match creds.get(name) {
            Ok(_) => out.push(Finding::new(
                Level::Ok,
                "keyring",
                format!("read the keys of {name}"),
            )),
            Err(e) => out.push(
                Finding::new(
                    Level::Error,
                    "keyring",
                    format!("cannot read {name}: {e:#}"),
                )
                .fix("check the passphrase (AWS_VAULT_FILE_PASSPHRASE) or unlock the backend"),
            ),
        }
    }
    Some(keyring)
}

/// The file backend's key directory and files: private to the user (0700 / 0600).
fn check_key_dir(inp: &Inputs<'_>, out: &mut Vec<Finding>) {
    let dir = keyring::file::FileKeyring::new(inp.keyring)
        .dir()
        .to_path_buf();
    let dir = dir.as_path();
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return; // No file backend in use.
    };
    if !meta.is_dir() {
        out.push(
            Finding::new(
                Level::Error,
                "permissions",
                format!("{} is not a directory", dir.display()),
            )
            .fix("move it away, or point --file-dir / AWS_VAULT_FILE_DIR elsewhere"),
        );
        return;
    }
    // Only Unix has permission bits to find lax.
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut lax = 0;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            lax += 1;
            out.push(
                Finding::new(
                    Level::Warn,
                    "permissions",
                    format!(
                        "key directory {} is mode {mode:o}, readable by others",
                        dir.display()
                    ),
                )
                .fix(format!("chmod 700 {}", dir.display())),
            );
        }
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let Ok(m) = entry.metadata() else { continue };
            let mode = m.permissions().mode() & 0o777;
            if m.is_file() && mode & 0o077 != 0 {
                lax += 1;
                let path = entry.path();
                out.push(
                    Finding::new(
                        Level::Warn,
                        "permissions",
                        format!(
                            "key file {} is mode {mode:o}, readable by others",
                            path.display()
                        ),
                    )
                    .fix(format!("chmod 600 {}", path.display())),
                );
            }
        }
    }
    if lax == 0 {
        out.push(Finding::new(
            Level::Ok,
            "permissions",
            format!("key directory {} and its files are private", dir.display()),
        ));
    }
}

fn check_config(inp: &Inputs<'_>, out: &mut Vec<Finding>) -> Option<ConfigFile> {
    match ConfigFile::load(inp.config_path) {
        Ok(c) => {
            out.push(Finding::new(
                Level::Ok,
                "config",
                format!("{} parses", inp.config_path.display()),
            ));
            Some(c)
        }
        Err(e) => {
            out.push(
                Finding::new(Level::Error, "config", e.to_string())
                    .fix("correct that line of the file"),
            );
            None
        }
    }
}

fn check_lock_dir(inp: &Inputs<'_>, out: &mut Vec<Finding>) {
    let dir = match crate::creds::lock::lock_dir(inp.env) {
        Ok(d) => d,
        Err(e) => {
            out.push(
                Finding::new(
                    Level::Error,
                    "lock",
                    format!("no refresh-lock directory: {e}"),
                )
                .fix("remove or fix that path (under $XDG_RUNTIME_DIR or the temp directory)"),
            );
            return;
        }
    };
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            out.push(Finding::new(
                Level::Ok,
                "lock",
                format!(
                    "refresh-lock directory {} is private and writable",
                    dir.display()
                ),
            ));
        }
        Err(e) => out.push(
            Finding::new(
                Level::Error,
                "lock",
                format!("cannot create files in {}: {e}", dir.display()),
            )
            .fix(format!("chmod 700 {}", dir.display())),
        ),
    }
}

fn check_mfa_helpers(inp: &Inputs<'_>, out: &mut Vec<Finding>) {
    let drivers = crate::mfa::available_drivers(inp.env);
    out.push(Finding::new(
        Level::Info,
        "mfa",
        format!(
            "prompt drivers available: {}; selected: {}",
            drivers.join(", "),
            inp.prompt.unwrap_or("terminal (default)")
        ),
    ));
}

fn check_profile(
    inp: &Inputs<'_>,
    name: &str,
    config: &ConfigFile,
    keyring: &dyn Keyring,
    out: &mut Vec<Finding>,
) -> Option<crate::config::ProfileConfig> {
    let base = BaseValues::default();
    let profile = match crate::creds::resolve_profile(config, keyring, name, inp.env, &base) {
        Ok(p) => p,
        Err(e) => {
            out.push(
                Finding::new(Level::Error, "profile", format!("{e:#}")).fix(format!(
                    "add a [profile {name}] section, or `aws-vault add {name}`"
                )),
            );
            return None;
        }
    };
    let stored = keyring.keys().unwrap_or_default();
    match chain::plan(&profile, &stored, &chain::Options::default()) {
        Ok(plan) => {
            out.push(Finding::new(
                Level::Ok,
                "profile",
                format!("{name}: plan {plan}"),
            ));
            check_mfa(inp, &profile, &plan, config, out);
            if let Base::Sso { start_url, .. } = &plan.base.what {
                check_sso(inp, start_url, keyring, out);
            }
        }
        Err(PlanError::CredentialsMissing(missing)) => {
            let how = if missing == name {
                format!("{name} has no source: no stored keys, source_profile, SSO, web identity or credential_process")
            } else {
                format!("{name}: source_profile chain ends at {missing}, which has no stored keys")
            };
            out.push(
                Finding::new(Level::Error, "profile", how).fix(format!("aws-vault add {missing}")),
            );
        }
        Err(e) => out.push(Finding::new(Level::Error, "profile", e.to_string())),
    }
    Some(profile)
}

/// MFA problems visible in the config. A role's trust policy cannot be read without IAM
/// permissions on the role's account, so "will require MFA" is inferred from the config: the
/// same role ARN is assumed with `mfa_serial` by another profile.
fn check_mfa(
    inp: &Inputs<'_>,
    profile: &crate::config::ProfileConfig,
    plan: &Plan,
    config: &ConfigFile,
    out: &mut Vec<Finding>,
) {
    let mut any_mfa = false;
    for hop in &plan.hops {
        let (p, role, serial, process) = match &hop.what {
            Hop::GetSessionToken {
                profile,
                mfa_serial,
                mfa_process,
                ..
            } => (profile, None, mfa_serial, mfa_process),
            Hop::AssumeRole {
                profile,
                role_arn,
                mfa_serial,
                mfa_process,
                ..
            } => (profile, Some(role_arn), mfa_serial, mfa_process),
        };
        any_mfa |= serial.is_some();
        if let (Some(cmd), Some(_)) = (process, serial) {
            let program = cmd.split_whitespace().next().unwrap_or_default();
            let path = inp.env.get("PATH").map(String::as_str).unwrap_or("");
            let found = if program.contains('/') {
                Path::new(program).is_file()
            } else {
                crate::which::look_path(program, path.as_ref()).is_some()
            };
            if !found {
                out.push(
                    Finding::new(
                        Level::Error,
                        "mfa",
                        format!("{p}: mfa_process program '{program}' is not on PATH"),
                    )
                    .fix(format!("install {program} or correct mfa_process")),
                );
            }
        }
        if let (Some(role), None) = (role, serial) {
            let others: Vec<String> = config
                .profile_names()
                .into_iter()
                .filter(|n| n != p)
                .filter(|n| {
                    config
                        .resolve(n, inp.env, &BaseValues::default())
                        .is_ok_and(|o| o.role_arn.as_ref() == Some(role) && o.mfa_serial.is_some())
                })
                .collect();
            if let Some(other) = others.first() {
                out.push(
                    Finding::new(
                        Level::Warn,
                        "mfa",
                        format!("{p}: assumes {role} without MFA, but profile {other} assumes it with mfa_serial (the role likely requires MFA)"),
                    )
                    .fix(format!("add mfa_serial to [profile {p}]")),
                );
            }
        }
    }
    if profile.mfa_process.is_some() && !any_mfa {
        out.push(
            Finding::new(
                Level::Warn,
                "mfa",
                format!(
                    "{}: mfa_process is set but no mfa_serial, so it is never run",
                    profile.name
                ),
            )
            .fix(format!("add mfa_serial to [profile {}]", profile.name)),
        );
    }
}

fn check_sso(inp: &Inputs<'_>, start_url: &str, keyring: &dyn Keyring, out: &mut Vec<Finding>) {
    match OidcStore::new(keyring).get_any(start_url) {
        Ok(None) => out.push(Finding::new(
            Level::Info,
            "sso",
            format!(
                "no SSO token for {start_url}; the next exec/export/login opens the sign-in page"
            ),
        )),
        Ok(Some(t)) => {
            let expires = crate::gofmt::time::iso_utc(t.expires);
            if t.expires > inp.now {
                let left = (t.expires.as_second() - inp.now.as_second()) / 60;
                out.push(Finding::new(
                    Level::Ok,
                    "sso",
                    format!("SSO token for {start_url} valid until {expires} ({left} min left)"),
                ));
            } else if t.refresh_token.is_some() {
                out.push(Finding::new(
                    Level::Info,
                    "sso",
                    format!("SSO token for {start_url} expired at {expires}; it will be refreshed without a browser"),
                ));
            } else {
                out.push(
                    Finding::new(
                        Level::Warn,
                        "sso",
                        format!("SSO token for {start_url} expired at {expires}"),
                    )
                    .fix("aws-vault login <profile> (or any exec) to sign in again"),
                );
            }
        }
        Err(e) => out.push(
            Finding::new(
                Level::Error,
                "sso",
                format!("cannot read the SSO token: {e}"),
            )
            .fix("aws-vault clear <profile> to drop it, then sign in again"),
        ),
    }
}

/// SigV4 requests fail when the clock is more than 5 minutes off.
const SKEW_ERROR: i64 = 300;
const SKEW_WARN: i64 = 60;

fn check_clock(
    inp: &Inputs<'_>,
    profile: Option<&crate::config::ProfileConfig>,
    out: &mut Vec<Finding>,
) {
    // Without a profile: the region and endpoint from the environment, as the SDKs read them.
    let ep = profile
        .map(crate::aws::Endpoint::from_profile)
        .unwrap_or_else(|| crate::aws::Endpoint {
            region: ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|v| inp.env.get(*v).filter(|r| !r.is_empty()).cloned()),
            endpoint_url: ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
                .iter()
                .find_map(|v| inp.env.get(*v).filter(|r| !r.is_empty()).cloned()),
            sts_regional_endpoints: None,
        });
    let url = ep
        .url_override(crate::aws::Service::Sts)
        .unwrap_or_else(|| match ep.region_or_default() {
            "aws-global" => "https://sts.amazonaws.com".to_string(),
            r => format!("https://sts.{r}.amazonaws.com"),
        });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let sent = Timestamp::now();
    let date = match agent.get(&url).call() {
        Ok(resp) => resp
            .headers()
            .get("date")
            .and_then(|d| d.to_str().ok())
            .map(str::to_string),
        Err(e) => {
            out.push(Finding::new(
                Level::Error,
                "clock",
                format!("cannot reach STS at {url}: {e}"),
            ));
            return;
        }
    };
    let Some(server) = date.as_deref().and_then(parse_http_date) else {
        out.push(Finding::new(
            Level::Warn,
            "clock",
            format!("STS at {url} sent no usable Date header"),
        ));
        return;
    };
    let skew = sent.as_second() - server.as_second();
    let (level, fix) = match skew.abs() {
        s if s >= SKEW_ERROR => (
            Level::Error,
            Some("synchronise the clock (NTP); AWS rejects requests more than 5 minutes off"),
        ),
        s if s >= SKEW_WARN => (Level::Warn, Some("synchronise the clock (NTP)")),
        _ => (Level::Ok, None),
    };
    let mut f = Finding::new(
        level,
        "clock",
        format!("local clock is {skew:+} s against STS at {url}"),
    );
    f.fix = fix.map(str::to_string);
    out.push(f);
}

/// An HTTP `Date` header (IMF-fixdate, RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(s: &str) -> Option<Timestamp> {
    jiff::fmt::rfc2822::parse(s.trim())
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.as_second(), 784111777);
        assert!(parse_http_date("yesterday").is_none());
    }

    #[test]
    fn only_ok_and_info_are_healthy() {
        let f = |level| vec![Finding::new(level, "x", "y")];
        assert!(healthy(&f(Level::Ok)) && healthy(&f(Level::Info)));
        assert!(!healthy(&f(Level::Warn)) && !healthy(&f(Level::Error)));
        assert_eq!(
            Finding::new(Level::Warn, "lock", "m").fix("f").to_string(),
            "warn  lock: m — fix: f"
        );
    }
}
