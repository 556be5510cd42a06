//! `aws-vault agent start|status|stop`: the credential agent of [`crate::agent`].
use clap::{Args, Subcommand};

use super::{CommandResult, Settings};

#[derive(Args, Debug)]
pub struct AgentArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Unlock the backend once (asks for the file passphrase), then serve its items from memory in the background.
    Start(StartArgs),
    /// Show whether an agent serves the selected backend, its state and timeouts.
    Status,
    /// Wipe everything the agent holds and stop it.
    Stop,
    /// The agent process itself, as `start` runs it for the D-Bus and platform backends.
    #[command(hide = true)]
    Serve(StartArgs),
}

#[derive(Args, Debug)]
struct StartArgs {
    /// Wipe everything after this long without a request; 0 for never [15m] [$AWS_VAULT_AGENT_IDLE_TIMEOUT]
    #[arg(long, value_name = "DURATION")]
    idle_timeout: Option<String>,
    /// Wipe everything and exit this long after starting; 0 for never [8h] [$AWS_VAULT_AGENT_MAX_LIFETIME]
    #[arg(long, value_name = "DURATION")]
    max_lifetime: Option<String>,
    /// Ask before each use, in a dialog of the --prompt driver (zenity, kdialog, osascript, wincredui) [$AWS_VAULT_AGENT_CONFIRM]
    #[arg(long)]
    confirm: bool,
    /// `serve` on Windows: the file passphrase arrives on stdin (from `agent start`).
    #[arg(long, hide = true)]
    passphrase_stdin: bool,
}

/// Takes the settings by value: `start` scrubs the passphrase out of its copy of the environment
/// before the agent detaches.
pub fn run(settings: Settings, args: AgentArgs) -> CommandResult {
    imp::run(settings, args)
}

#[cfg(not(any(unix, windows)))]
mod imp {
    use super::*;
    pub fn run(_settings: Settings, _args: AgentArgs) -> CommandResult {
        anyhow::bail!(crate::agent::NOT_AVAILABLE)
    }
}

#[cfg(any(unix, windows))]
mod imp {
    use super::*;
    use crate::agent::confirm::Confirmer;
    use crate::agent::{self, client, server, Limits};
    use crate::config::duration::format_go_duration_secs;

    fn limit(
        settings: &Settings,
        given: Option<String>,
        var: &str,
        flag: &str,
        default: Option<std::time::Duration>,
    ) -> anyhow::Result<Option<std::time::Duration>> {
        match settings.value_or_env(given, var) {
            None => Ok(default),
            Some(text) => agent::parse_limit(&text).map_err(|e| {
                super::super::UsageFailure(format!("invalid value '{text}' for --{flag}: {e}"))
                    .into()
            }),
        }
    }

    /// `--confirm` or `AWS_VAULT_AGENT_CONFIRM`: the dialog that asks, checked now (while the
    /// error can still reach a terminal).
    fn confirmer(settings: &Settings, flag: bool) -> anyhow::Result<Option<Confirmer>> {
        let on = settings
            .flag_or_env(flag, "confirm", agent::confirm::ENV_CONFIRM)
            .map_err(|e| super::super::UsageFailure(format!("{e:#}")))?;
        if !on {
            return Ok(None);
        }
        let path = settings.env.get("PATH").map(String::as_str).unwrap_or("");
        Confirmer::choose(settings.prompt.as_deref(), path)
            .map(|c| Some(c.describing(crate::store::describe_key)))
            .map_err(|e| super::super::UsageFailure(e).into())
    }

    fn backend(settings: &Settings) -> anyhow::Result<&'static str> {
        crate::keyring::open_named(&settings.keyring)
            .map(|(name, _)| name)
            .map_err(|e| super::super::UsageFailure(e.to_string()).into())
    }

    fn human(secs: &str) -> String {
        secs.parse::<i64>()
            .map(format_go_duration_secs)
            .unwrap_or_else(|_| secs.to_string())
    }

    pub fn run(settings: Settings, args: AgentArgs) -> CommandResult {
        match args.action {
            Action::Start(a) => {
                let limits = Limits {
                    idle: limit(
                        &settings,
                        a.idle_timeout,
                        agent::ENV_IDLE,
                        "idle-timeout",
                        Some(agent::DEFAULT_IDLE),
                    )?,
                    max_lifetime: limit(
                        &settings,
                        a.max_lifetime,
                        agent::ENV_MAX_LIFETIME,
                        "max-lifetime",
                        Some(agent::DEFAULT_MAX_LIFETIME),
                    )?,
                };
                let confirm = confirmer(&settings, a.confirm)?;
                let asks = confirm.as_ref().map(|c| c.driver());
                let Settings { keyring, env, .. } = settings;
                let started = server::start(server::StartOptions {
                    cfg: keyring,
                    env,
                    limits,
                    confirm: confirm.clone(),
                })?;
                if let Some(old) = &started.replaced {
                    eprintln!("Replaced {old}.");
                }
                let show = |d: Option<std::time::Duration>| {
                    d.map(|d| format_go_duration_secs(d.as_secs() as i64))
                        .unwrap_or_else(|| "none".into())
                };
                eprintln!(
                    "aws-vault agent started for the {} backend (pid {}, idle timeout {}, maximum lifetime {}{}).",
                    started.backend,
                    started.pid,
                    show(limits.idle),
                    show(limits.max_lifetime),
                    asks.map(|d| format!(", asks before each use with {d}"))
                        .unwrap_or_default()
                );
                Ok(0)
            }
            Action::Serve(a) => {
                let limits = Limits {
                    idle: limit(
                        &settings,
                        a.idle_timeout,
                        agent::ENV_IDLE,
                        "idle-timeout",
                        None,
                    )?,
                    max_lifetime: limit(
                        &settings,
                        a.max_lifetime,
                        agent::ENV_MAX_LIFETIME,
                        "max-lifetime",
                        None,
                    )?,
                };
                let confirm = confirmer(&settings, a.confirm)?;
                let Settings {
                    mut keyring, env, ..
                } = settings;
                if a.passphrase_stdin {
                    let mut text = zeroize::Zeroizing::new(String::new());
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
                    keyring.file_passphrase = Some(text);
                }
                Ok(server::serve(server::StartOptions {
                    cfg: keyring,
                    env,
                    limits,
                    confirm,
                }))
            }
            Action::Status => {
                let name = backend(&settings)?;
                let path = agent::socket_path(&settings.env, name);
                let (hello, fields) = client::status(&path).map_err(anyhow::Error::msg)?;
                let get = |k: &str| {
                    fields
                        .iter()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                println!(
                    "agent for the {} backend ({}): pid {}, protocol {}",
                    hello.backend, hello.identity, hello.pid, hello.version
                );
                println!("socket: {}", path.display());
                match get("state").as_str() {
                    "ready" => println!("state: ready"),
                    other => println!("state: {other} ({})", get("locked_reason")),
                }
                let timeout = |total: String, left: String, what: &str| {
                    if total.is_empty() {
                        "none".to_string()
                    } else if left.is_empty() {
                        human(&total)
                    } else {
                        format!("{} ({what} in {})", human(&total), human(&left))
                    }
                };
                println!(
                    "idle timeout: {}",
                    timeout(get("idle_timeout"), get("idle_left"), "wipes")
                );
                println!(
                    "maximum lifetime: {}",
                    timeout(get("max_lifetime"), get("lifetime_left"), "exits")
                );
                let unlocked = get("unlocked_items");
                println!(
                    "items held: {}{}",
                    get("items"),
                    match unlocked.as_str() {
                        "" | "0" => String::new(),
                        n =>
                            format!(" ({n} could not be locked against swap: raise RLIMIT_MEMLOCK)"),
                    }
                );
                match get("confirm").as_str() {
                    "" => println!("confirmation: none (every request of yours is served)"),
                    driver => println!("confirmation: asks before each use ({driver} dialog)"),
                }
                let hardening = get("hardening_failures");
                if !hardening.is_empty() {
                    println!("hardening not applied: {hardening}");
                }
                Ok(0)
            }
            Action::Stop => {
                let name = backend(&settings)?;
                let path = agent::socket_path(&settings.env, name);
                let pid = client::stop(&path).map_err(anyhow::Error::msg)?;
                eprintln!("aws-vault agent stopped (pid {pid}); everything it held is wiped.");
                Ok(0)
            }
        }
    }
}
