//! `aws-vault exec [profile] [cmd] [args...]`: run a command with credentials in its
//! environment (compat §1.4).
use std::io::IsTerminal;

use anyhow::bail;
use clap::Args;

use super::export::{self, Format};
use super::{picker, CommandResult, Settings};
use crate::config::BaseValues;
use crate::process::{self, ChildEnv};

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Name of the profile [$AWS_PROFILE]
    profile: Option<String>,
    /// Command to execute, defaults to $SHELL, followed by its arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    command: Vec<String>,
    /// Duration of the temporary or assume-role session. Defaults to 1h [$AWS_VAULT_DURATION]
    #[arg(short = 'd', long, value_name = "DURATION")]
    duration: Option<String>,
    /// Skip creating STS session with GetSessionToken
    #[arg(short = 'n', long)]
    no_session: bool,
    /// The AWS region
    #[arg(long)]
    region: Option<String>,
    /// The MFA token to use
    #[arg(short = 't', long, value_name = "TOKEN")]
    mfa_token: Option<String>,
    /// Output credentials in JSON that can be used by credential_process
    #[arg(short = 'j', long, hide = true)]
    json: bool,
    /// Print the SSO link to the terminal without automatically opening the browser [$AWS_VAULT_STDOUT]
    #[arg(long)]
    stdout: bool,
    /// Set AWS_PROFILE instead of credential variables, after checking the credentials work [$AWS_VAULT_PROFILE_ENV]
    #[arg(long)]
    profile_env: bool,
}

pub fn run(settings: &Settings, args: ExecArgs) -> CommandResult {
    let show_help = !settings.debug
        && args.command.is_empty()
        && std::io::stdout().is_terminal()
        && settings
            .env
            .get("AWS_VAULT_DISABLE_HELP_MESSAGE")
            .map(String::as_str)
            != Some("1");
    let help = |msg: &str| {
        if show_help {
            eprintln!("{msg}");
        } else {
            crate::debug!("{msg}");
        }
    };

    let config = settings.config()?;
    let keyring = settings.open_keyring()?;
    let profile = match args.profile.or_else(|| {
        settings
            .env
            .get("AWS_PROFILE")
            .filter(|p| !p.is_empty())
            .cloned()
    }) {
        Some(p) => p,
        None => picker::pick_profile(&config)?,
    };
    let base = BaseValues {
        region: args.region,
        mfa_token: args.mfa_token,
        prompt: settings.prompt.clone(),
        duration: export::parse_duration_flag(settings, args.duration)?,
        duration_sets_federation: false,
        sso_use_stdout: settings.flag_or_env(args.stdout, "stdout", "AWS_VAULT_STDOUT")?,
    };

    if args.json {
        if settings.env.get("AWS_VAULT").is_some_and(|v| !v.is_empty()) {
            bail!("in an existing aws-vault subshell; 'exit' from the subshell or unset AWS_VAULT to force");
        }
        let resolved = export::resolve_credentials(
            settings,
            keyring.as_ref(),
            &profile,
            &base,
            args.no_session,
        )?;
        print!("{}", export::render(Format::Json, &profile, &resolved));
        return Ok(0);
    }
    if settings.env.get("AWS_VAULT").is_some_and(|v| !v.is_empty()) {
        bail!("running in an existing aws-vault subshell; 'exit' from the subshell or unset AWS_VAULT to force");
    }

    let profile_env =
        settings.flag_or_env(args.profile_env, "profile-env", "AWS_VAULT_PROFILE_ENV")?;
    let resolved =
        export::resolve_credentials(settings, keyring.as_ref(), &profile, &base, args.no_session)
            .map_err(|e| {
            // The Go tool's two wordings, kept for scripts that match on them.
            let verb = if profile_env { "failed" } else { "Failed" };
            anyhow::anyhow!("{verb} to get credentials for {profile}: {e:#}")
        })?;

    let mut command = args.command;
    let (cmd, cmd_args) = if command.is_empty() {
        let shell = settings
            .env
            .get("SHELL")
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| if cfg!(windows) { "cmd.exe" } else { "/bin/sh" }.to_string());
        help(&format!(
            "Starting subshell {shell}, use `exit` to exit the subshell"
        ));
        (shell, Vec::new())
    } else {
        let cmd = command.remove(0);
        (cmd, command)
    };

    let mut env = ChildEnv::from_parent(std::env::vars_os());
    env.set_profile(
        &profile,
        resolved.profile.region.as_deref(),
        resolved.profile.endpoint_url.as_deref(),
    );
    if profile_env {
        // The SDK in the child reads the profile itself; the credentials were checked above.
        env.set("AWS_PROFILE", profile.as_str());
    } else {
        env.set_credentials(&resolved.creds);
    }
    drop(keyring);

    match process::exec_replace(&cmd, &cmd_args, &env) {
        Ok(never) => match never {},
        Err(e) => Err(e.into()),
    }
}
