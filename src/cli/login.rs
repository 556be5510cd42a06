//! `aws-vault login [profile]`: open (or print) an AWS console sign-in URL (compat §3.8, with
//! the §7.13 fixes; URL building in [`crate::login`]).
use std::io::IsTerminal;

use anyhow::anyhow;
use clap::Args;
use secrecy::SecretString;

use super::export::parse_duration_flag;
use super::{picker, CommandResult, Settings};
use crate::aws::Endpoint;
use crate::config::{BaseValues, ProfileConfig};
use crate::creds::chain::{self, Base, Hop};
use crate::creds::{self, sts, Credentials};
use crate::login;
use crate::mfa::MfaSource;

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Name of the profile. If none given, credentials will be sourced from env vars
    profile: Option<String>,
    /// Duration of the assume-role or federated session. Defaults to 1h [$AWS_VAULT_DURATION]
    #[arg(short = 'd', long, value_name = "DURATION")]
    duration: Option<String>,
    /// Skip creating STS session with GetSessionToken
    #[arg(short = 'n', long)]
    no_session: bool,
    /// Use auto-logout for the console session [$AWS_VAULT_AUTO_LOGOUT]
    #[arg(short = 'a', long)]
    auto_logout: bool,
    /// The MFA token to use
    #[arg(short = 't', long, value_name = "TOKEN")]
    mfa_token: Option<String>,
    /// The AWS service you would like access
    #[arg(long)]
    path: Option<String>,
    /// The AWS region
    #[arg(long)]
    region: Option<String>,
    /// Print login URL to stdout instead of opening in default browser [$AWS_VAULT_STDOUT]
    #[arg(short = 's', long)]
    stdout: bool,
}

/// Where the credentials come from.
enum Source {
    /// A profile from the config file (named, `$AWS_PROFILE`, or picked).
    Profile(String),
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) with no profile.
    Environment(Credentials),
}

pub fn run(settings: &Settings, args: LoginArgs) -> CommandResult {
    let use_stdout = settings.flag_or_env(args.stdout, "stdout", "AWS_VAULT_STDOUT")?;
    let auto_logout =
        settings.flag_or_env(args.auto_logout, "auto-logout", "AWS_VAULT_AUTO_LOGOUT")?;
    let base = BaseValues {
        region: args.region.clone(),
        mfa_token: args.mfa_token.clone(),
        prompt: settings.prompt.clone(),
        duration: parse_duration_flag(settings, args.duration.clone())?,
        duration_sets_federation: true,
        // compat §7.13: --stdout also keeps the SSO flow from opening a browser.
        sso_use_stdout: use_stdout,
    };
    crate::creds::sso::set_login_options(crate::creds::sso::LoginOptions {
        use_stdout,
        ..Default::default()
    });
    let config = settings.config()?;

    let named = args.profile.clone().or_else(|| {
        settings
            .env
            .get("AWS_PROFILE")
            .filter(|p| !p.is_empty())
            .cloned()
    });
    let source = match (named, env_credentials(&settings.env)) {
        (Some(name), _) => Source::Profile(name),
        (None, Some(c)) => Source::Environment(c),
        (None, None) => Source::Profile(picker::pick_profile(&config).map_err(|e| {
            let text = e.to_string();
            let inner = text
                .strip_prefix("unable to select a 'profile'. Try --help: ")
                .unwrap_or(&text)
                .to_string();
            anyhow!("unable to select a 'profile', nor any AWS env vars found. Try --help: {inner}")
        })?),
    };

    // The picked or named profile's own settings decide the region and endpoints (fix of
    // compat §7.13); environment credentials use the profile-less resolution and need no
    // keyring.
    let (profile, creds) = match source {
        Source::Environment(c) => {
            let profile = config.resolve("", &settings.env, &base)?;
            let creds = federate_unless_role(&profile, c)?;
            (profile, creds)
        }
        Source::Profile(name) => {
            let keyring = settings.open_keyring()?;
            picker::ensure_profile_exists(&config, keyring.as_ref(), &name)?;
            let profile = config.resolve(&name, &settings.env, &base)?;
            let options = chain::Options {
                no_session: args.no_session,
                no_cache: false,
                no_session_for: Some(name.clone()),
            };
            let stored = keyring.keys()?;
            let plan = chain::plan(&profile, &stored, &options)?;
            let mfa = MfaSource::new(
                args.mfa_token.clone(),
                settings.prompt.clone(),
                false,
                std::io::stdout().is_terminal(),
                &settings.env,
            );
            let creds = creds::retrieve(&creds::Request {
                profile: &profile,
                keyring: keyring.as_ref(),
                options,
                mfa: &mfa,
                env: &settings.env,
            })?;
            let creds = if usable_for_console(&plan) {
                creds
            } else {
                federate_unless_role(&profile, creds)?
            };
            (profile, creds)
        }
    };

    let federation_override = settings
        .env
        .get(login::FEDERATION_URL_ENV)
        .map(String::as_str);
    let console = login::console(
        profile.region.as_deref(),
        args.path.as_deref(),
        federation_override,
    );
    crate::debug!("requesting a sign-in token from {}", console.federation);
    let token = login::request_signin_token(&console.federation, &creds)?;
    let url = login::login_url(&console, &token, auto_logout);
    if use_stdout {
        println!("{url}");
    } else {
        let browser = settings.env.get("BROWSER").map(String::as_str);
        login::open_in_browser(browser, &url)?;
    }
    Ok(0)
}

/// Role, SSO and web-identity credentials go to the console as they are (compat §3.8 step 3).
fn usable_for_console(plan: &chain::Plan) -> bool {
    match plan.hops.last() {
        Some(hop) => matches!(hop.what, Hop::AssumeRole { .. }),
        None => matches!(plan.base.what, Base::Sso { .. } | Base::WebIdentity { .. }),
    }
}

/// GetCallerIdentity decides: assumed-role credentials are used as they are; anything else
/// (long-term IAM user keys) becomes a GetFederationToken session named after the IAM user.
fn federate_unless_role(
    profile: &ProfileConfig,
    creds: Credentials,
) -> anyhow::Result<Credentials> {
    let ep = Endpoint::from_profile(profile);
    let arn = sts::get_caller_identity(&ep, &creds)?;
    if login::is_assumed_role_arn(&arn)? {
        return Ok(creds);
    }
    let user = match crate::iam::get_user_name(&ep, &creds) {
        Ok(u) => u,
        // Without iam:GetUser the caller ARN still names an IAM user.
        Err(e) => crate::iam::user_name_from_arn(&arn).ok_or(e)?,
    };
    crate::debug!("Using GetFederationToken for credentials");
    sts::get_federation_token(
        &ep,
        &creds,
        login::federation_name(&user),
        profile.get_federation_token_duration,
    )
}

/// Credentials from the environment when no profile is given: an access key
/// (`AWS_ACCESS_KEY_ID` or `AWS_ACCESS_KEY`) and a secret (`AWS_SECRET_ACCESS_KEY` or
/// `AWS_SECRET_KEY`), plus `AWS_SESSION_TOKEN` if set.
fn env_credentials(env: &crate::config::Env) -> Option<Credentials> {
    let get = |a: &str, b: &str| {
        env.get(a)
            .filter(|v| !v.is_empty())
            .or_else(|| env.get(b).filter(|v| !v.is_empty()))
            .cloned()
    };
    let id = get("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY")?;
    let secret = get("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")?;
    let token = env
        .get("AWS_SESSION_TOKEN")
        .filter(|t| !t.is_empty())
        .map(|t| SecretString::from(t.clone()));
    Some(Credentials {
        access_key_id: id,
        secret_access_key: SecretString::from(secret),
        session_token: token,
        expires: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_credentials() {
        let env = |pairs: &[(&str, &str)]| -> crate::config::Env {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(env_credentials(&env(&[("AWS_ACCESS_KEY_ID", "A")])).is_none());
        let c = env_credentials(&env(&[("AWS_ACCESS_KEY", "A"), ("AWS_SECRET_KEY", "S")])).unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret(), c.token()),
            ("A", "S", None)
        );
        let c = env_credentials(&env(&[
            ("AWS_ACCESS_KEY_ID", "A"),
            ("AWS_ACCESS_KEY", "B"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
            ("AWS_SESSION_TOKEN", "T"),
        ]))
        .unwrap();
        assert_eq!((c.access_key_id.as_str(), c.token()), ("A", Some("T")));
    }
}
