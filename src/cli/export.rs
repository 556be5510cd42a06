//! `aws-vault export [profile]`: print credentials as env lines, JSON (`credential_process`),
//! INI, or assignments for fish, PowerShell and cmd.
use anyhow::bail;
use clap::{Args, ValueEnum};

use zeroize::Zeroizing;

use super::{picker, CommandResult, Settings, UsageFailure};
use crate::config::{BaseValues, ConfigFile};
use crate::creds::{self, sso::LoginOptions, Resolved};
use crate::gofmt::time as timefmt;
use crate::keyring::Keyring;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Name of the profile
    pub(super) profile: Option<String>,
    /// Format to output credentials
    #[arg(long, value_enum, default_value_t = Format::Env)]
    pub(super) format: Format,
    #[command(flatten)]
    pub(super) creds: CredentialArgs,
}

/// The flags `exec` and `export` share: how to get the credentials.
#[derive(Args, Debug, Default)]
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
    /// The command-line values that apply to every profile of the chain.
    pub fn base_values(&self, settings: &Settings) -> anyhow::Result<BaseValues> {
        Ok(BaseValues {
            region: self.region.clone(),
            duration: parse_duration_flag(settings, self.duration.clone())?,
            duration_sets_federation: false,
        })
    }

    /// How an IAM Identity Center login may interact with the user.
    pub fn sso_login(&self, settings: &Settings) -> anyhow::Result<LoginOptions> {
        Ok(LoginOptions {
            use_stdout: settings.flag_or_env(self.stdout, "stdout", "AWS_VAULT_STDOUT")?,
            use_device_code: self.use_device_code,
        })
    }

    /// `--mfa-token`, kept in memory that is wiped on drop.
    pub fn mfa_token(&self) -> Option<Zeroizing<String>> {
        self.mfa_token.clone().map(Zeroizing::new)
    }

    /// Resolve `profile` and fetch its credentials, the way `export` and `exec` do. The error
    /// says which stage failed, worded as the Go tool words it (see [`RetrieveError`]).
    pub fn retrieve(
        &self,
        settings: &Settings,
        config: &ConfigFile,
        keyring: &dyn Keyring,
        profile: &str,
    ) -> Result<Resolved, RetrieveError> {
        let base = self.base_values(settings).map_err(RetrieveError::Setup)?;
        let sso_login = self.sso_login(settings).map_err(RetrieveError::Setup)?;
        let resolved = creds::resolve_profile(config, keyring, profile, &settings.env, &base)
            .map_err(RetrieveError::Setup)?;
        let mfa = settings.mfa_source(self.mfa_token(), false);
        let mut req = creds::Request::new(&resolved, keyring, &mfa, &settings.env);
        req.options.no_session = self.no_session;
        req.sso_login = sso_login;
        let plan = req.plan().map_err(RetrieveError::Plan)?;
        let creds = req
            .executor()
            .and_then(|executor| executor.retrieve(&plan))
            .map_err(|cause| RetrieveError::Retrieve {
                profile: profile.to_string(),
                cause,
            })?;
        Ok(Resolved {
            profile: resolved,
            creds,
        })
    }
}

/// Why `export` or `exec` got no credentials. The Go tool words each stage differently, and
/// scripts match on those words (docs/compatibility.md §1.4 step 7 and the `default` mode of step 10):
#[derive(Debug, thiserror::Error)]
pub enum RetrieveError {
    /// Flags, the profile guard, resolving the profile: the error is already worded
    /// (`profile 'x' not found …`, `Error loading config: …`).
    #[error("{0:#}")]
    Setup(anyhow::Error),
    /// Building the credential chain failed (`profile x: credentials missing`).
    #[error("Error getting temporary credentials: {0:#}")]
    Plan(anyhow::Error),
    /// Walking the chain failed (an STS call, `credential_process`, SSO, a keyring read).
    #[error("Failed to get credentials for {profile}: {cause:#}")]
    Retrieve {
        profile: String,
        cause: anyhow::Error,
    },
}

impl RetrieveError {
    /// Back to an `anyhow::Error`, keeping a [`super::UsageFailure`] recognisable.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            RetrieveError::Setup(e) => e,
            other => other.into(),
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Env,
    ExportEnv,
    Json,
    Ini,
    /// `set -gx NAME 'value';` lines for `| source` (or `eval`) in fish.
    Fish,
    /// `$Env:NAME = 'value'` lines for `| Out-String | Invoke-Expression`.
    Powershell,
    /// `@set "NAME=value"` lines of a batch file, for `call`.
    Cmd,
}

/// The `--duration` flag or `AWS_VAULT_DURATION`, in flag duration syntax. Zero means "not
/// set" (each session then gets its default), as in the Go tool, where zero is the unset
/// value of a duration. A value that does not parse, or a negative one (which AWS would
/// refuse), is a usage error.
pub fn parse_duration_flag(
    settings: &Settings,
    given: Option<String>,
) -> anyhow::Result<Option<std::time::Duration>> {
    let Some(text) = settings.value_or_env(given, "AWS_VAULT_DURATION") else {
        return Ok(None);
    };
    let nanos = crate::config::duration::parse_flag_duration(&text)
        .map_err(|e| UsageFailure(format!("invalid duration '{text}': {e}")))?;
    match nanos {
        0 => Ok(None),
        n if n < 0 => {
            Err(UsageFailure(format!("invalid duration '{text}': must not be negative")).into())
        }
        n => Ok(Some(std::time::Duration::from_nanos(n as u64))),
    }
}

pub fn run(settings: &Settings, args: ExportArgs) -> CommandResult {
    refuse_nested(settings)?;
    let config = settings.config()?;
    let keyring = settings.open_keyring()?;
    // Unlike the Go tool, export defaults to $AWS_PROFILE like exec does.
    let profile = picker::profile_or_pick(args.profile, &settings.env, &config)?;
    let resolved = args
        .creds
        .retrieve(settings, &config, keyring.as_ref(), &profile)
        .map_err(RetrieveError::into_anyhow)?;
    print!("{}", *render(args.format, &profile, &resolved)?);
    Ok(0)
}

/// `export` and `exec --json` refuse to run inside an `aws-vault exec` subshell.
pub fn refuse_nested(settings: &Settings) -> anyhow::Result<()> {
    if settings.env.get("AWS_VAULT").is_some_and(|v| !v.is_empty()) {
        bail!("in an existing aws-vault subshell; 'exit' from the subshell or unset AWS_VAULT to force");
    }
    Ok(())
}

/// The text `export` prints for one format. It holds the secret, so it lives in memory that
/// is wiped when dropped, and is built in place (no intermediate copies).
///
/// Fails only for `cmd`, which cannot express a line break inside a value.
pub fn render(format: Format, profile: &str, r: &Resolved) -> anyhow::Result<Zeroizing<String>> {
    use std::fmt::Write;
    let c = &r.creds;
    let region = r.profile.region.as_deref();
    let expiration = c.expires.map(timefmt::iso_utc);
    let mut out = Zeroizing::new(String::with_capacity(1024));
    let o: &mut String = &mut out;
    // The variables every shell format sets, in the `env` format's order.
    let mut vars: Vec<(&str, &str)> = vec![
        ("AWS_ACCESS_KEY_ID", &c.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", c.secret()),
    ];
    if let Some(t) = c.token() {
        vars.push(("AWS_SESSION_TOKEN", t));
    }
    if let Some(e) = &expiration {
        vars.push(("AWS_CREDENTIAL_EXPIRATION", e));
    }
    if let Some(r) = region {
        vars.push(("AWS_REGION", r));
        vars.push(("AWS_DEFAULT_REGION", r));
    }
    match format {
        Format::Fish => {
            for (k, v) in &vars {
                let _ = write!(o, "set -gx {k} ");
                fish_quote(o, v);
                o.push_str(";\n");
            }
        }
        Format::Powershell => {
            for (k, v) in &vars {
                let _ = write!(o, "$Env:{k} = ");
                powershell_quote(o, v);
                o.push('\n');
            }
        }
        Format::Cmd => {
            for (k, v) in &vars {
                cmd_set(o, k, v)?;
            }
        }
        Format::Env | Format::ExportEnv => {
            let prefix = if format == Format::ExportEnv {
                "export "
            } else {
                ""
            };
            for (k, v) in &vars {
                let _ = writeln!(o, "{prefix}{k}={v}");
            }
        }
        Format::Json => {
            let q = crate::gofmt::json::quote;
            o.push_str("{\n  \"Version\": 1,\n");
            o.push_str("  \"AccessKeyId\": ");
            o.push_str(&q(&c.access_key_id));
            o.push_str(",\n  \"SecretAccessKey\": ");
            o.push_str(&Zeroizing::new(q(c.secret())));
            if let Some(t) = c.token() {
                o.push_str(",\n  \"SessionToken\": ");
                o.push_str(&Zeroizing::new(q(t)));
            }
            if let Some(e) = &expiration {
                o.push_str(",\n  \"Expiration\": ");
                o.push_str(&q(e));
            }
            o.push_str("\n}\n");
        }
        Format::Ini => {
            let nl = if cfg!(windows) { "\r\n" } else { "\n" };
            let _ = write!(o, "[{profile}]{nl}");
            let mut kv = |k: &str, v: Option<&str>| {
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    let _ = write!(o, "{k}=");
                    ini_value(o, v);
                    o.push_str(nl);
                }
            };
            kv("aws_access_key_id", Some(&c.access_key_id));
            kv("aws_secret_access_key", Some(c.secret()));
            kv("aws_session_token", c.token());
            kv("aws_credential_expiration", expiration.as_deref());
            kv("region", region);
        }
    }
    Ok(out)
}

/// A fish single-quoted string: inside `'…'` only `\\` and `\'` are escapes, so every other
/// character (`$`, spaces, `"`, line breaks) is literal.
fn fish_quote(out: &mut String, v: &str) {
    out.push('\'');
    for ch in v.chars() {
        if ch == '\\' || ch == '\'' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('\'');
}

/// A PowerShell single-quoted (verbatim) string: no expansion at all; a quote is written
/// twice. PowerShell also treats the typographic quotes U+2018–U+201B as single quotes, so
/// they are doubled too, or a pasted `’` would end the string early.
fn powershell_quote(out: &mut String, v: &str) {
    out.push('\'');
    for ch in v.chars() {
        if matches!(ch, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(ch);
        }
        out.push(ch);
    }
    out.push('\'');
}

/// One line of a batch file: `@set "NAME=value"` (`@`: never echoed, even with `echo on`).
///
/// `set "NAME=value"` keeps everything between the first and the last quote, so quotes inside
/// the value survive; but each of them flips cmd's quoting state, and outside quotes
/// `^ & | < > ( )` are special, so there they get a `^`. `%` is doubled because a batch file
/// expands `%…%` everywhere. A line break cannot be written at all. Delayed expansion (`!`)
/// is off unless the caller turned it on.
fn cmd_set(out: &mut String, name: &str, v: &str) -> anyhow::Result<()> {
    if v.contains(['\r', '\n']) {
        bail!("the value of {name} contains a line break, which cmd cannot set; use --format=powershell or --format=json");
    }
    out.push_str("@set \"");
    out.push_str(name);
    out.push('=');
    let mut quoted = true;
    for ch in v.chars() {
        match ch {
            '%' => out.push('%'),
            '"' => quoted = !quoted,
            '^' | '&' | '|' | '<' | '>' | '(' | ')' if !quoted => out.push('^'),
            _ => {}
        }
        out.push(ch);
    }
    out.push_str("\"\r\n");
    Ok(())
}

/// go-ini's value quoting: backticks around values with `#` or `;`, double quotes around
/// values with leading or trailing spaces.
fn ini_value(out: &mut String, v: &str) {
    let quote = if v.contains('#') || v.contains(';') {
        "`"
    } else if v.starts_with(' ') || v.ends_with(' ') {
        "\""
    } else {
        ""
    };
    out.push_str(quote);
    out.push_str(v);
    out.push_str(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(f: fn(&mut String, &str), v: &str) -> String {
        let mut s = String::new();
        f(&mut s, v);
        s
    }

    #[test]
    fn fish_quoting_table() {
        for (value, want) in [
            ("plain", "'plain'"),
            ("it's", r"'it\'s'"),
            (r"back\slash", r"'back\\slash'"),
            ("$HOME and \"dq\" ~ *", "'$HOME and \"dq\" ~ *'"),
            ("", "''"),
        ] {
            assert_eq!(quoted(fish_quote, value), want, "{value:?}");
        }
    }

    #[test]
    fn powershell_quoting_table() {
        for (value, want) in [
            ("plain", "'plain'"),
            ("it's", "'it''s'"),
            (
                "$Env:HOME `n $(x) \"dq\" \\",
                "'$Env:HOME `n $(x) \"dq\" \\'",
            ),
            (
                "smart\u{2019}quote\u{2018}",
                "'smart\u{2019}\u{2019}quote\u{2018}\u{2018}'",
            ),
            (
                "low\u{201A}high\u{201B}",
                "'low\u{201A}\u{201A}high\u{201B}\u{201B}'",
            ),
            ("line\nbreak", "'line\nbreak'"),
        ] {
            assert_eq!(quoted(powershell_quote, value), want, "{value:?}");
        }
    }

    #[test]
    fn cmd_quoting_table() {
        for (value, want) in [
            ("plain", r#"@set "K=plain""#),
            ("a b&c|d<e>f^g(h)", r#"@set "K=a b&c|d<e>f^g(h)""#),
            ("100%PATH%", r#"@set "K=100%%PATH%%""#),
            // After an odd number of quotes cmd is outside quotes: specials need a caret.
            (r#"x"&y"&z"#, r#"@set "K=x"^&y"&z""#),
            (r#"say "hi" & go"#, r#"@set "K=say "hi" & go""#),
            (r#"a"^|()"#, r#"@set "K=a"^^^|^(^)""#),
            (r"$x \y 'z' !w", r#"@set "K=$x \y 'z' !w""#),
        ] {
            let mut s = String::new();
            cmd_set(&mut s, "K", value).unwrap();
            assert_eq!(s, format!("{want}\r\n"), "{value:?}");
        }
        let mut s = String::new();
        let err = cmd_set(&mut s, "AWS_SESSION_TOKEN", "se\ncret").unwrap_err();
        assert!(!err.to_string().contains("cret"), "{err}");
        assert!(err.to_string().contains("AWS_SESSION_TOKEN"), "{err}");
    }
}
