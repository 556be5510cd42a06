//! Global settings: the parsed global flags merged with their environment variables, the
//! environment itself (as a value, for the config resolver), and how to open the config file
//! and the keyring.
use std::path::PathBuf;

use anyhow::Context;
use zeroize::Zeroizing;

use super::{GlobalArgs, Negated};
use crate::config::{self, ConfigFile, Env};
use crate::keyring::{self, Keyring};

/// Everything a command needs from the command line and the environment.
#[derive(Clone)]
pub struct Settings {
    pub debug: bool,
    /// The process environment (UTF-8 variables only).
    pub env: Env,
    pub home: PathBuf,
    /// The `--prompt` driver, validated.
    pub prompt: Option<String>,
    pub keyring: keyring::Config,
    /// Flags negated with `--no-<name>` on the command line.
    pub negated: Negated,
}

/// The environment holds secrets (`AWS_SECRET_ACCESS_KEY`, `AWS_VAULT_FILE_PASSPHRASE`, …):
/// `Debug` shows only the variables' names.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("debug", &self.debug)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("home", &self.home)
            .field("prompt", &self.prompt)
            .field("keyring", &self.keyring)
            .field("negated", &self.negated)
            .finish()
    }
}

/// A problem found before any command runs.
#[derive(Debug)]
pub enum SetupError {
    /// Printed as `aws-vault: error: <msg>, try --help`.
    Usage(String),
    /// Printed as `aws-vault: error: <msg>` (used for the verbatim `--prompt=pass` message).
    Plain(String),
}

impl SetupError {
    pub fn report(&self) -> i32 {
        match self {
            SetupError::Usage(m) => super::usage_error(m),
            SetupError::Plain(m) => {
                eprintln!("aws-vault: error: {m}");
                1
            }
        }
    }
}

const PASS_PROMPT_REMOVED: &str = "--prompt=pass (or AWS_VAULT_PROMPT=pass) has been removed from aws-vault as using TOTPs without a dedicated device goes against security best practices. If you wish to continue using pass, add `mfa_process = pass otp <your mfa_serial>` to profiles in your ~/.aws/config file.";

fn non_empty(env: &Env, name: &str) -> Option<String> {
    env.get(name).filter(|v| !v.is_empty()).cloned()
}

/// `--file-kdf-iterations`: a whole number from the Go tool's count (anything lower would weaken
/// the store) to the most the Go tool's reader accepts (anything higher it could not open).
fn parse_kdf_iterations(value: &str) -> Result<u32, SetupError> {
    use crate::keyring::file::{DEFAULT_KDF_ITERATIONS as MIN, MAX_KDF_ITERATIONS as MAX};
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (MIN..=MAX).contains(n))
        .ok_or_else(|| {
            SetupError::Usage(format!(
                "--file-kdf-iterations must be a whole number from {MIN} to {MAX} \
                 (the most the Go tool reads), got '{value}'"
            ))
        })
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl Settings {
    /// Merge parsed flags with the process environment.
    pub fn from_process(args: GlobalArgs, negated: &Negated) -> Result<Settings, SetupError> {
        let env: Env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Settings::new(args, negated, env)
    }

    /// Merge parsed flags with an explicit environment.
    pub fn new(args: GlobalArgs, negated: &Negated, env: Env) -> Result<Settings, SetupError> {
        let pick = |flag: Option<String>, var: &str| flag.or_else(|| non_empty(&env, var));

        let prompt = pick(args.prompt, "AWS_VAULT_PROMPT");
        if let Some(p) = &prompt {
            if p == "pass" {
                return Err(SetupError::Plain(PASS_PROMPT_REMOVED.to_string()));
            }
            let drivers = crate::mfa::available_drivers(&env);
            if !drivers.contains(&p.as_str()) {
                return Err(SetupError::Usage(format!(
                    "--prompt value must be one of {}, got '{p}'",
                    drivers.join(",")
                )));
            }
        }

        let backend = pick(args.backend, "AWS_VAULT_BACKEND");
        if let Some(b) = &backend {
            keyring::check_name(b).map_err(|e| SetupError::Usage(e.to_string()))?;
        }

        let home = config::home_dir(|v| env.get(v).cloned()).ok_or_else(|| {
            SetupError::Usage("cannot find the home directory: set HOME".to_string())
        })?;

        let file_kdf_iterations = pick(args.file_kdf_iterations, "AWS_VAULT_FILE_KDF_ITERATIONS")
            .map(|v| parse_kdf_iterations(&v))
            .transpose()?;

        let keyring = keyring::Config {
            backend,
            file_dir: pick(args.file_dir, "AWS_VAULT_FILE_DIR"),
            file_kdf_iterations,
            // Set, even to the empty string, means "use it without prompting".
            file_passphrase: env
                .get("AWS_VAULT_FILE_PASSPHRASE")
                .map(|p| Zeroizing::new(p.clone())),
            home: home.clone(),
            keychain_name: pick(args.keychain, "AWS_VAULT_KEYCHAIN_NAME")
                .unwrap_or_else(|| "aws-vault".into()),
            biometrics: false,
            secret_service_collection: pick(
                args.secret_service_collection,
                "AWS_VAULT_SECRET_SERVICE_COLLECTION_NAME",
            )
            .unwrap_or_else(|| "awsvault".into()),
            pass_dir: pick(args.pass_dir, "AWS_VAULT_PASS_PASSWORD_STORE_DIR"),
            pass_cmd: pick(args.pass_cmd, "AWS_VAULT_PASS_CMD"),
            pass_prefix: pick(args.pass_prefix, "AWS_VAULT_PASS_PREFIX"),
            keyctl_scope: non_empty(&env, "AWS_VAULT_KEYCTL_SCOPE"),
            op: Default::default(),
        };

        let mut keyring = keyring;
        if let Some(t) = pick(args.op_timeout, "AWS_VAULT_OP_TIMEOUT") {
            let nanos = config::duration::parse_flag_duration(&t).map_err(|e| {
                SetupError::Usage(format!("invalid value '{t}' for --op-timeout: {e}"))
            })?;
            keyring.op.timeout = config::duration::positive_std(nanos).unwrap_or_default();
        }
        // Each 1Password setting: the flag, its AWS_VAULT_ variable, then the variable 1Password's
        // own tools read (docs/compatibility.md §1.2). The desktop account's fallback is the one the Go tool
        // meant to have and never applied (docs/compatibility.md §7.16).
        let either = |a: &str, b: &str| non_empty(&env, a).or_else(|| non_empty(&env, b));
        keyring.op.vault_id = pick(args.op_vault_id, "AWS_VAULT_OP_VAULT_ID")
            .or_else(|| non_empty(&env, "OP_VAULT_ID"));
        if let Some(p) = pick(args.op_item_title_prefix, "AWS_VAULT_OP_ITEM_TITLE_PREFIX") {
            keyring.op.title_prefix = p;
        }
        if let Some(t) = pick(args.op_item_tag, "AWS_VAULT_OP_ITEM_TAG") {
            keyring.op.tag = t;
        }
        keyring.op.connect_host = pick(args.op_connect_host, "AWS_VAULT_OP_CONNECT_HOST")
            .or_else(|| non_empty(&env, "OP_CONNECT_HOST"));
        keyring.op.desktop_account_id = pick(
            args.op_desktop_account_id,
            "AWS_VAULT_OP_DESKTOP_ACCOUNT_ID",
        )
        .or_else(|| non_empty(&env, "OP_DESKTOP_ACCOUNT_ID"));
        keyring.op.connect_token =
            either("AWS_VAULT_OP_CONNECT_TOKEN", "OP_CONNECT_TOKEN").map(Zeroizing::new);
        keyring.op.service_account_token = either(
            "AWS_VAULT_OP_SERVICE_ACCOUNT_TOKEN",
            "OP_SERVICE_ACCOUNT_TOKEN",
        )
        .map(Zeroizing::new);
        keyring.op.op_cmd = non_empty(&env, "AWS_VAULT_OP_CMD");
        keyring.biometrics = args.biometrics;
        if !args.biometrics && !negated.contains("biometrics") {
            if let Some(v) = non_empty(&env, "AWS_VAULT_BIOMETRICS") {
                keyring.biometrics = parse_go_bool(&v).ok_or_else(|| {
                    SetupError::Usage(format!(
                        "invalid value '{v}' in AWS_VAULT_BIOMETRICS: expected true or false"
                    ))
                })?;
            }
        }

        Ok(Settings {
            debug: args.debug,
            env,
            home,
            prompt,
            keyring,
            negated: negated.clone(),
        })
    }

    /// A boolean flag: true when given, false when negated, else its environment variable.
    pub fn flag_or_env(&self, given: bool, name: &str, var: &str) -> anyhow::Result<bool> {
        if given {
            return Ok(true);
        }
        if self.negated.contains(name) {
            return Ok(false);
        }
        match non_empty(&self.env, var) {
            None => Ok(false),
            Some(v) => parse_go_bool(&v)
                .with_context(|| format!("invalid value '{v}' in {var}: expected true or false")),
        }
    }

    /// A value flag: the command-line value, else its environment variable when non-empty.
    pub fn value_or_env(&self, given: Option<String>, var: &str) -> Option<String> {
        given.or_else(|| non_empty(&self.env, var))
    }

    /// Load (creating if missing) the AWS config file.
    /// A file that does not parse is a [`super::UsageFailure`], as in the Go tool.
    pub fn config(&self) -> anyhow::Result<ConfigFile> {
        let path = config::config_path(&self.env, &self.home);
        ConfigFile::load(&path).map_err(|e| super::UsageFailure(e.to_string()).into())
    }

    /// Where MFA codes come from for this run: `--mfa-token` if given, else the profile's
    /// `mfa_process`, else the prompt driver. `avoid_terminal` is set by the local servers,
    /// whose child owns the terminal.
    pub fn mfa_source(
        &self,
        mfa_token: Option<Zeroizing<String>>,
        avoid_terminal: bool,
    ) -> crate::mfa::MfaSource {
        use std::io::IsTerminal;
        crate::mfa::MfaSource::new(
            mfa_token,
            self.prompt.clone(),
            avoid_terminal,
            std::io::stdout().is_terminal(),
            &self.env,
        )
    }

    /// Open the keyring backend (the named one, or the first usable one; see
    /// [`keyring::open_named`]).
    ///
    /// A backend that cannot be opened is a [`super::UsageFailure`] that starts with the Go
    /// tool's `specified keyring backend not available` and goes on with the reason.
    pub fn open_keyring(&self) -> anyhow::Result<Box<dyn Keyring>> {
        self.open_keyring_named().map(|(_, kr)| kr)
    }

    /// [`open_keyring`](Self::open_keyring), also saying which backend was opened.
    ///
    /// An agent serving the store is used instead of the store itself. When the backend is
    /// named, the agent is asked first, so the store is not opened at all (for the Secret
    /// Service that is a connection to the bus and a session in the service, on every run).
    pub fn open_keyring_named(&self) -> anyhow::Result<(&'static str, Box<dyn Keyring>)> {
        let named = (self.keyring.backend.as_deref()).and_then(|n| keyring::check_name(n).ok());
        if let Some(name) = named {
            match crate::agent::connect(&self.keyring, &self.env, name) {
                Ok((agent, which)) => {
                    crate::debug!("Using keyring backend {name}");
                    crate::debug!("Reading keyring backend {name} through the agent ({which})");
                    return Ok((name, agent));
                }
                Err(why) => {
                    let kr = self.open_store()?;
                    crate::debug!("Using keyring backend {name}");
                    crate::debug!("Reading keyring backend {name} directly: {why}");
                    return Ok(kr);
                }
            }
        }
        let (name, kr) = self.open_store()?;
        crate::debug!("Using keyring backend {name}");
        match crate::agent::connect(&self.keyring, &self.env, name) {
            Ok((agent, which)) => {
                crate::debug!("Reading keyring backend {name} through the agent ({which})");
                Ok((name, agent))
            }
            Err(why) => {
                crate::debug!("Reading keyring backend {name} directly: {why}");
                Ok((name, kr))
            }
        }
    }

    /// The store itself, never an agent.
    fn open_store(&self) -> anyhow::Result<(&'static str, Box<dyn Keyring>)> {
        keyring::open_named(&self.keyring).map_err(|e| {
            let text = match &e {
                keyring::OpenError::Unavailable { name, reason } => {
                    format!("specified keyring backend not available: {name}: {reason}")
                }
                _ => e.to_string(),
            };
            super::UsageFailure(text).into()
        })
    }
}
