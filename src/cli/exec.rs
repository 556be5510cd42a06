//! `aws-vault exec [profile] [cmd] [args...]`: run a command with credentials in its
//! environment (compat §1.4).
use std::io::IsTerminal;

use anyhow::{anyhow, bail};
use clap::Args;

use super::export::{self, Format};
use super::{picker, CommandResult, Settings};
use crate::config::BaseValues;
use crate::creds::chain;
use crate::keyring::Keyring;
use crate::mfa::MfaSource;
use crate::process::{self, ChildEnv};
use crate::server;

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
    let base = args.creds.base_values(settings)?;

    if args.json {
        if settings.env.get("AWS_VAULT").is_some_and(|v| !v.is_empty()) {
            bail!("in an existing aws-vault subshell; 'exit' from the subshell or unset AWS_VAULT to force");
        }
        let resolved = export::resolve_credentials(
            settings,
            keyring.as_ref(),
            &profile,
            &base,
            args.creds.no_session,
        )?;
        print!("{}", export::render(Format::Json, &profile, &resolved));
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
        let server = ServerRun {
            settings,
            keyring: keyring.as_ref(),
            profile: &profile,
            base: &base,
            mode,
        };
        return server.run(&help, &subshell_help, cmd, cmd_args);
    }

    let profile_env =
        settings.flag_or_env(args.profile_env, "profile-env", "AWS_VAULT_PROFILE_ENV")?;
    let resolved = export::resolve_credentials(
        settings,
        keyring.as_ref(),
        &profile,
        &base,
        args.creds.no_session,
    )
    .map_err(|e| {
        // The Go tool's two wordings, kept for scripts that match on them.
        let verb = if profile_env { "failed" } else { "Failed" };
        anyhow::anyhow!("{verb} to get credentials for {profile}: {e:#}")
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

/// The server-flag rules of compat §1.4 step 6 (the prompt rule comes later, once the profile
/// is known: only a profile that needs an MFA code from a prompt driver is refused).
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

#[derive(Debug, Clone, Copy)]
enum Mode {
    Ec2,
    Ecs { lazy: bool },
}

impl Mode {
    fn flag(self) -> &'static str {
        match self {
            Mode::Ec2 => "--ec2-server",
            Mode::Ecs { .. } => "--ecs-server",
        }
    }
}

/// `exec --ecs-server` / `--ec2-server`: serve credentials for as long as the child runs.
struct ServerRun<'a> {
    settings: &'a Settings,
    keyring: &'a dyn Keyring,
    profile: &'a str,
    base: &'a BaseValues,
    mode: Mode,
}

impl ServerRun<'_> {
    fn run(
        self,
        help: &dyn Fn(&str),
        subshell_help: &dyn Fn(),
        cmd: String,
        cmd_args: Vec<String>,
    ) -> CommandResult {
        let settings = self.settings;
        let config = settings.config()?;
        picker::ensure_profile_exists(&config, self.keyring, self.profile)?;
        let resolved = config
            .resolve(self.profile, &settings.env, self.base)
            .map_err(|e| anyhow!("Error loading config: {e:#}"))?;
        let mfa = MfaSource::new(
            self.base.mfa_token.clone(),
            settings.prompt.clone(),
            true,
            std::io::stdout().is_terminal(),
            &settings.env,
        );
        let options = chain::Options::default();
        let plan = chain::plan(&resolved, &self.keyring.keys()?, &options)
            .map_err(|e| anyhow!("Error getting temporary credentials: {e}"))?;
        // Unlike the Go tool, a terminal-only prompt is refused only when a prompt is needed.
        if mfa.driver() == "terminal" && server::needs_mfa_prompt(&plan, &mfa) {
            bail!(
                "Can't use --prompt=terminal with {}. Specify a different prompt driver",
                self.mode.flag()
            );
        }
        let wait = match self.mode {
            Mode::Ec2 => server::ec2::WAIT,
            Mode::Ecs { .. } => server::ecs::WAIT,
        };
        let (broker, jobs) =
            server::Broker::new(self.profile, crate::config::min_ttl(&settings.env), wait);
        let mut fetcher = server::ProfileFetcher {
            profile: &resolved,
            keyring: self.keyring,
            mfa: &mfa,
            env: &settings.env,
            options,
        };

        let mut env = ChildEnv::from_parent(std::env::vars_os());
        env.set_profile(
            self.profile,
            resolved.region.as_deref(),
            resolved.endpoint_url.as_deref(),
        );
        // Started in this order so that nothing privileged runs before the unprivileged
        // listener is known to work; stopped in reverse order when they drop.
        let mut proxy = None;
        let running = match self.mode {
            Mode::Ec2 => {
                if server::proxy::is_listening(std::time::Duration::from_millis(10)) {
                    bail!("Another process is already bound to 169.254.169.254:80");
                }
                help("Warning: Starting a local EC2 credential server on 169.254.169.254:80; AWS credentials will be accessible to any process while it is running");
                let listener = server::ec2::bind()?;
                proxy = Some(server::proxy::start(settings.debug)?);
                if let Err(e) = broker.prefetch(&mut fetcher, &server::Target::Base) {
                    crate::debug!("pre-fetching credentials failed: {e:#}");
                }
                server::ec2::start(listener, broker.clone(), resolved.region.clone())?
            }
            Mode::Ecs { lazy } => {
                help("Starting a local ECS credential server; your app's AWS sdk must support AWS_CONTAINER_CREDENTIALS_FULL_URI.");
                if !lazy {
                    broker
                        .prefetch(&mut fetcher, &server::Target::Base)
                        .map_err(|e| anyhow!("Retrieving creds: {e:#}"))?;
                }
                let ecs = server::ecs::start(broker.clone())?;
                // Both would win over the FULL_URI/token pair in the SDKs.
                env.remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
                env.remove("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
                env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url());
                env.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", ecs.token.as_str());
                ecs.running
            }
        };
        subshell_help();

        let stop = broker.sender();
        let child = process::spawn_subprocess(cmd, cmd_args, env, move || {
            let _ = stop.send(server::Job::Stop);
        });
        server::work(&jobs, &broker, &mut fetcher);
        let result = child
            .join()
            .map_err(|_| anyhow!("the thread running the command panicked"));
        running.stop();
        if let Some(p) = proxy {
            p.stop();
        }
        Ok(result??)
    }
}
