//! `aws-vault export [profile]`: print credentials as env lines, JSON (`credential_process`)
//! or INI.
use anyhow::bail;
use clap::{Args, ValueEnum};

use super::{picker, CommandResult, Settings};
use crate::config::{BaseValues, ProfileConfig};
use std::io::IsTerminal;

use crate::creds::{self, chain, Credentials};
use crate::gofmt::time as timefmt;
use crate::keyring::Keyring;
use crate::mfa::MfaSource;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Name of the profile
    profile: Option<String>,
    /// Format to output credentials
    #[arg(long, value_enum, default_value_t = Format::Env)]
    format: Format,
    #[command(flatten)]
    creds: CredentialArgs,
}

/// The flags `exec` and `export` share: how to get the credentials.
#[derive(Args, Debug)]
pub struct CredentialArgs {
    /// Duration of the temporary or assume-role session. Defaults to 1h [$AWS_VAULT_DURATION]
    #[arg(short = 'd', long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Skip creating STS session with GetSessionToken
    #[arg(short = 'n', long)]
    pub no_session: bool,
    /// The AWS region
    #[arg(long)]
    pub region: Option<String>,
    /// The MFA token to use
    #[arg(short = 't', long, value_name = "TOKEN")]
    pub mfa_token: Option<String>,
    /// Print the SSO link to the terminal without automatically opening the browser [$AWS_VAULT_STDOUT]
    #[arg(long)]
    pub stdout: bool,
    /// Log in to IAM Identity Center with the device-code flow instead of the browser redirect
    #[arg(long)]
    pub use_device_code: bool,
}

impl CredentialArgs {
    /// The command-line values for profile resolution; also sets this process's SSO login
    /// options (`--stdout`, `--use-device-code`).
    pub fn base_values(&self, settings: &Settings) -> anyhow::Result<BaseValues> {
        let base = BaseValues {
            region: self.region.clone(),
            mfa_token: self.mfa_token.clone(),
            prompt: settings.prompt.clone(),
            duration: parse_duration_flag(settings, self.duration.clone())?,
            duration_sets_federation: false,
            sso_use_stdout: settings.flag_or_env(self.stdout, "stdout", "AWS_VAULT_STDOUT")?,
        };
        crate::creds::sso::set_login_options(crate::creds::sso::LoginOptions {
            use_stdout: base.sso_use_stdout,
            use_device_code: self.use_device_code,
        });
        Ok(base)
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Env,
    ExportEnv,
    Json,
    Ini,
}

/// What `export` and `exec --json` share: the profile's resolved config and credentials.
pub struct Resolved {
    pub profile: ProfileConfig,
    pub creds: Credentials,
}

/// Resolve the profile and fetch its credentials (compat §1.3 export steps, §3 chain).
pub fn resolve_credentials(
    settings: &Settings,
    keyring: &dyn Keyring,
    profile: &str,
    base: &BaseValues,
    no_session: bool,
) -> anyhow::Result<Resolved> {
    let config = settings.config()?;
    picker::ensure_profile_exists(&config, keyring, profile)?;
    let resolved = config.resolve(profile, &settings.env, base)?;
    let mfa = MfaSource::new(
        base.mfa_token.clone(),
        settings.prompt.clone(),
        false,
        std::io::stdout().is_terminal(),
        &settings.env,
    );
    let creds = creds::retrieve(&creds::Request {
        profile: &resolved,
        keyring,
        options: chain::Options {
            no_session,
            ..Default::default()
        },
        mfa: &mfa,
        env: &settings.env,
    })?;
    Ok(Resolved {
        profile: resolved,
        creds,
    })
}

/// The `--duration` flag or `AWS_VAULT_DURATION`, in flag duration syntax.
pub fn parse_duration_flag(
    settings: &Settings,
    given: Option<String>,
) -> anyhow::Result<Option<std::time::Duration>> {
    let Some(text) = settings.value_or_env(given, "AWS_VAULT_DURATION") else {
        return Ok(None);
    };
    let nanos = crate::config::duration::parse_flag_duration(&text)
        .map_err(|e| anyhow::anyhow!("invalid duration '{text}': {e}"))?;
    if nanos <= 0 {
        bail!("invalid duration '{text}': must be positive");
    }
    Ok(Some(std::time::Duration::from_nanos(nanos as u64)))
}

pub fn run(settings: &Settings, args: ExportArgs) -> CommandResult {
    if settings.env.get("AWS_VAULT").is_some_and(|v| !v.is_empty()) {
        bail!("in an existing aws-vault subshell; 'exit' from the subshell or unset AWS_VAULT to force");
    }
    let keyring = settings.open_keyring()?;
    // Unlike the Go tool, export defaults to $AWS_PROFILE like exec does (compat §7.27).
    let profile = match args.profile.or_else(|| {
        settings
            .env
            .get("AWS_PROFILE")
            .filter(|p| !p.is_empty())
            .cloned()
    }) {
        Some(p) => p,
        None => picker::pick_profile(&settings.config()?)?,
    };
    let base = args.creds.base_values(settings)?;
    let resolved = resolve_credentials(
        settings,
        keyring.as_ref(),
        &profile,
        &base,
        args.creds.no_session,
    )?;
    print!("{}", render(args.format, &profile, &resolved));
    Ok(0)
}

/// The text `export` prints for one format (compat §1.3).
pub fn render(format: Format, profile: &str, r: &Resolved) -> String {
    let c = &r.creds;
    let region = r.profile.region.as_deref();
    let expiration = c.expires.map(timefmt::iso_utc);
    match format {
        Format::Env | Format::ExportEnv => {
            let prefix = if format == Format::ExportEnv {
                "export "
            } else {
                ""
            };
            let mut lines = vec![
                format!("AWS_ACCESS_KEY_ID={}", c.access_key_id),
                format!("AWS_SECRET_ACCESS_KEY={}", c.secret()),
            ];
            if let Some(t) = c.token() {
                lines.push(format!("AWS_SESSION_TOKEN={t}"));
            }
            if let Some(e) = &expiration {
                lines.push(format!("AWS_CREDENTIAL_EXPIRATION={e}"));
            }
            if let Some(r) = region {
                lines.push(format!("AWS_REGION={r}"));
                lines.push(format!("AWS_DEFAULT_REGION={r}"));
            }
            lines.iter().map(|l| format!("{prefix}{l}\n")).collect()
        }
        Format::Json => {
            let q = crate::gofmt::json::quote;
            let mut out = String::from("{\n  \"Version\": 1,\n");
            out.push_str(&format!("  \"AccessKeyId\": {},\n", q(&c.access_key_id)));
            out.push_str(&format!("  \"SecretAccessKey\": {}", q(c.secret())));
            if let Some(t) = c.token() {
                out.push_str(&format!(",\n  \"SessionToken\": {}", q(t)));
            }
            if let Some(e) = &expiration {
                out.push_str(&format!(",\n  \"Expiration\": {}", q(e)));
            }
            out.push_str("\n}\n");
            out
        }
        Format::Ini => {
            let nl = if cfg!(windows) { "\r\n" } else { "\n" };
            let mut out = format!("[{profile}]{nl}");
            let mut kv = |k: &str, v: Option<&str>| {
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    out.push_str(&format!("{k}={}{nl}", ini_value(v)));
                }
            };
            kv("aws_access_key_id", Some(&c.access_key_id));
            kv("aws_secret_access_key", Some(c.secret()));
            kv("aws_session_token", c.token());
            kv("aws_credential_expiration", expiration.as_deref());
            kv("region", region);
            out
        }
    }
}

/// go-ini's value quoting: backticks around values with `#` or `;`, double quotes around
/// values with leading or trailing spaces.
fn ini_value(v: &str) -> String {
    if v.contains('#') || v.contains(';') {
        format!("`{v}`")
    } else if v.starts_with(' ') || v.ends_with(' ') {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}
