//! `aws-vault login [profile]`: open (or print) an AWS console sign-in URL (docs/compatibility.md §3.8, with
//! the §7.13 fixes; URL building in [`crate::ops::login`]).
use anyhow::anyhow;
use clap::Args;
use zeroize::Zeroizing;

use super::export::parse_duration_flag;
use super::{picker, CommandResult, Settings};
use crate::config::BaseValues;
use crate::creds::{self, Credentials};
use crate::ops::login;

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
        duration: parse_duration_flag(settings, args.duration.clone())?,
        duration_sets_federation: true,
    };
    let config = settings.config()?;

    let named = args
        .profile
        .clone()
        .or_else(|| picker::named_by_env(&settings.env));
    let source = match (named, login::env_credentials(&settings.env)) {
        (Some(name), _) => Source::Profile(name),
        (None, Some(c)) => Source::Environment(c),
        (None, None) => Source::Profile(picker::pick(&config).map_err(|e| {
            anyhow!("unable to select a 'profile', nor any AWS env vars found. Try --help: {e}")
        })?),
    };

    // The picked or named profile's own settings decide the region and endpoints (fix of
    // docs/compatibility.md §7.13); environment credentials use the profile-less resolution and need no
    // keyring.
    let (profile, creds) = match source {
        Source::Environment(c) => {
            let profile = config.resolve("", &settings.env, &base)?;
            let creds = login::federate_unless_role(&profile, c)?;
            (profile, creds)
        }
        Source::Profile(name) => {
            let keyring = settings.open_keyring()?;
            let profile =
                creds::resolve_profile(&config, keyring.as_ref(), &name, &settings.env, &base)?;
            let mfa = settings.mfa_source(args.mfa_token.clone().map(Zeroizing::new), false);
            let mut req = creds::Request::new(&profile, keyring.as_ref(), &mfa, &settings.env);
            req.options.no_session = args.no_session;
            req.options.no_session_for = Some(name.clone());
            // --stdout also keeps the SSO flow from opening a browser.
            req.sso_login.use_stdout = use_stdout;
            let plan = req.plan()?;
            let creds = req.executor()?.retrieve(&plan)?;
            let creds = login::console_credentials(&plan, &profile, creds)?;
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
