//! `aws-vault exec [profile] [cmd] [args...]`: run a command with credentials in its
//! environment (docs/compatibility.md §1.4).
use std::io::IsTerminal;

use anyhow::bail;
use clap::Args;

use super::export::{self, Format, RetrieveError};
use super::{picker, CommandResult, Settings};
use crate::creds;
use crate::process::{self, ChildEnv};
use crate::server::{Mode, ServerRun};

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
    #[command(flatten)]
    creds: export::CredentialArgs,
    /// Output credentials in JSON that can be used by credential_process
    #[arg(short = 'j', long, hide = true)]
    json: bool,
    /// Set AWS_PROFILE instead of credential variables, after checking the credentials work [$AWS_VAULT_PROFILE_ENV]
    #[arg(long)]
    profile_env: bool,
    /// Alias for --ecs-server
    #[arg(short = 's', long)]
    server: bool,
    /// Run a EC2 metadata server in the background for credentials
    #[arg(long)]
    ec2_server: bool,
    /// Run a ECS credential server in the background for credentials (the SDK or app must support AWS_CONTAINER_CREDENTIALS_FULL_URI)
    #[arg(long)]
    ecs_server: bool,
    /// When using --ecs-server, lazily fetch credentials
    #[arg(long)]
    lazy: bool,
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
    let profile = picker::profile_or_pick(args.profile, &settings.env, &config)?;

    if args.json {
        export::refuse_nested(settings)?;
        let resolved = args
            .creds
            .retrieve(settings, &config, keyring.as_ref(), &profile)
            .map_err(RetrieveError::into_anyhow)?;
        print!("{}", *export::render(Format::Json, &profile, &resolved)?);
        return Ok(0);
    }
    if settings.env.get("AWS_VAULT").is_some_and(|v| !v.is_empty()) {
        bail!("running in an existing aws-vault subshell; 'exit' from the subshell or unset AWS_VAULT to force");
    }
    let ecs_server = args.ecs_server || args.server;
    validate_servers(args.ec2_server, ecs_server, args.creds.no_session)?;

    let mut command = args.command;
    let (cmd, cmd_args, subshell) = if command.is_empty() {
        let shell = settings
            .env
            .get("SHELL")
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| if cfg!(windows) { "cmd.exe" } else { "/bin/sh" }.to_string());
        (shell, Vec::new(), true)
    } else {
        let cmd = command.remove(0);
        (cmd, command, false)
    };
    let shell_name = cmd.clone();
    let subshell_help = || {
        if subshell {
            help(&format!(
                "Starting subshell {shell_name}, use `exit` to exit the subshell"
            ));
        }
    };

    if args.ec2_server || ecs_server {
        let mode = if args.ec2_server {
            Mode::Ec2
        } else {
            Mode::Ecs { lazy: args.lazy }
        };
        let base = args.creds.base_values(settings)?;
        let resolved =
            creds::resolve_profile(&config, keyring.as_ref(), &profile, &settings.env, &base)?;
        let mfa = settings.mfa_source(args.creds.mfa_token(), true);
        let mut request = creds::Request::new(&resolved, keyring.as_ref(), &mfa, &settings.env);
        request.sso_login = args.creds.sso_login(settings)?;
        let run = ServerRun {
            request,
            mode,
            debug: settings.debug,
        };
        return run.run(&help, &subshell_help, cmd, cmd_args);
    }

    let profile_env =
        settings.flag_or_env(args.profile_env, "profile-env", "AWS_VAULT_PROFILE_ENV")?;
    let resolved = args
        .creds
        .retrieve(settings, &config, keyring.as_ref(), &profile)
        .map_err(|e| match e {
            // The Go tool words this one in lower case with --profile-env.
            RetrieveError::Retrieve { profile, cause } if profile_env => {
                anyhow::anyhow!("failed to get credentials for {profile}: {cause:#}")
            }
            e => e.into_anyhow(),
        })?;

    let mut env = ChildEnv::from_parent(std::env::vars_os());
    env.set_profile(
        &profile,
        resolved.profile.region.as_deref(),
        resolved.profile.endpoint_url.as_deref(),
    );
    if profile_env {
        // The SDK in the child reads the profile itself; the credentials were checked above.
        env.set("AWS_PROFILE", profile.as_str());
        crate::creds::sso::sync_aws_cli_cache(keyring.as_ref(), &resolved.profile);
    } else {
        env.set_credentials(&resolved.creds);
    }
    drop(keyring);

    subshell_help();
    match process::exec_replace(&cmd, &cmd_args, &env) {
        Ok(never) => match never {},
        Err(e) => Err(e.into()),
    }
}

/// The server-flag rules (the prompt rule comes later, once the profile is known: only a
/// profile that needs an MFA code from a prompt driver is refused).
fn validate_servers(ec2: bool, ecs: bool, no_session: bool) -> anyhow::Result<()> {
    if ec2 && ecs {
        bail!("Can't use --ec2-server with --ecs-server");
    }
    if ec2 && no_session {
        bail!("Can't use --ec2-server with --no-session");
    }
    if ecs && no_session {
        bail!("Can't use --ecs-server with --no-session");
    }
    Ok(())
}
