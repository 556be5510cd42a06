//! MFA code sources (docs/compatibility.md §3.5, §6): a fixed `--mfa-token`, the profile's `mfa_process`, or a
//! prompt driver (`terminal`, `kdialog`, `osascript`, `ykman`, `zenity`, and `wincredui` on
//! Windows).
//!
//! An [`MfaSource`] is built once per command from the global settings and asked lazily, only when
//! an STS call really needs a code (never when a cached session is reused). Precedence for each
//! code: `--mfa-token` > the profile's `mfa_process` > the prompt driver.
//!
//! Codes never reach a log line or an error message; neither does the `mfa_process` command line,
//! which often embeds a TOTP secret (`oathtool --totp -b <secret>`).
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use anyhow::{anyhow, bail, Context};
use zeroize::Zeroizing;

mod dialog;
mod process;
mod terminal;
mod wincredui;
mod ykman;

/// The prompt drivers in alphabetical order, each with the helper program it needs on `PATH`
/// (`None`: always available on this platform).
const DRIVERS: &[(&str, Option<&str>)] = &[
    ("kdialog", Some("kdialog")),
    ("osascript", Some("osascript")),
    ("terminal", None),
    #[cfg(windows)]
    ("wincredui", None),
    ("ykman", Some("ykman")),
    ("zenity", Some("zenity")),
];

/// Serialises interactive prompts, so two credential requests served at once (the local
/// credential servers) never interleave their questions on the terminal.
static PROMPT_LOCK: Mutex<()> = Mutex::new(());

/// The MFA prompt text shown by every driver.
pub fn prompt_message(serial: &str) -> String {
    format!("Enter MFA code for {serial}: ")
}

/// The prompt drivers usable here (docs/compatibility.md §6.1), sorted alphabetically: `terminal` always,
/// `wincredui` on Windows, the others when their helper program is an executable file in one of
/// the absolute directories of `env["PATH"]` (like Go's `exec.LookPath`).
pub fn available_drivers(env: &BTreeMap<String, String>) -> Vec<&'static str> {
    drivers_on_path(env.get("PATH").map(String::as_str).unwrap_or(""))
}

fn drivers_on_path(path: &str) -> Vec<&'static str> {
    DRIVERS
        .iter()
        .filter(|(_, prog)| {
            prog.is_none_or(|p| crate::which::look_path(p, path.as_ref()).is_some())
        })
        .map(|(name, _)| *name)
        .collect()
}

/// The default-driver rule (docs/compatibility.md §6.2): an explicit `--prompt` wins; otherwise `terminal`,
/// unless stdout is not a terminal or the terminal must be avoided (`exec --ecs-server` /
/// `--ec2-server`), in which case the first available non-terminal driver (alphabetically), or
/// `terminal` when there is none.
pub fn default_driver(
    prompt: Option<&str>,
    avoid_terminal: bool,
    stdout_is_terminal: bool,
    available: &[&str],
) -> String {
    if let Some(p) = prompt.filter(|p| !p.is_empty()) {
        return p.to_string();
    }
    if stdout_is_terminal && !avoid_terminal {
        return "terminal".to_string();
    }
    let mut sorted = available.to_vec();
    sorted.sort_unstable();
    sorted
        .into_iter()
        .find(|d| *d != "terminal")
        .unwrap_or("terminal")
        .to_string()
}

/// A `--mfa-token` value: cloned freely, zeroed on drop, never printed.
#[derive(Clone)]
struct FixedToken(Zeroizing<String>);

/// How this invocation gets MFA codes. Built once per command; asked lazily, only when an STS
/// call needs a code.
#[derive(Clone)]
pub struct MfaSource {
    token: Option<FixedToken>,
    /// `--prompt`, when given (non-empty).
    prompt: Option<String>,
    avoid_terminal: bool,
    stdout_is_terminal: bool,
    /// The driver, chosen on first use: finding the helpers on `PATH` costs a few dozen `stat`
    /// calls that the hot path (`export` of a cached session) never needs.
    driver: OnceLock<String>,
    /// `PATH` from the environment given to [`MfaSource::new`], where helper programs are found.
    path: String,
    ykman: ykman::Options,
}

impl fmt::Debug for MfaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaSource")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("prompt", &self.prompt)
            .field("avoid_terminal", &self.avoid_terminal)
            .field("stdout_is_terminal", &self.stdout_is_terminal)
            .field("ykman", &self.ykman)
            .finish_non_exhaustive()
    }
}

impl MfaSource {
    /// `mfa_token`: the `--mfa-token` value (reused for every MFA call; empty means unset);
    /// `prompt`: `--prompt`/`AWS_VAULT_PROMPT` (already validated); `avoid_terminal`: true for
    /// `exec --ecs-server`/`--ec2-server`; `stdout_is_terminal`: `isatty(stdout)`; `env`: the
    /// process environment as a map (for `PATH`, `YKMAN_*`, `AWS_VAULT_YKMAN_VERSION`).
    pub fn new(
        mfa_token: Option<Zeroizing<String>>,
        prompt: Option<String>,
        avoid_terminal: bool,
        stdout_is_terminal: bool,
        env: &BTreeMap<String, String>,
    ) -> MfaSource {
        let token = mfa_token
            .filter(|t| !t.trim().is_empty())
            .map(|t| FixedToken(Zeroizing::new(t.trim().to_string())));
        MfaSource {
            token,
            prompt: prompt.filter(|p| !p.is_empty()),
            avoid_terminal,
            stdout_is_terminal,
            driver: OnceLock::new(),
            path: env.get("PATH").cloned().unwrap_or_default(),
            ykman: ykman::Options::from_env(env),
        }
    }

    /// The driver that would be used (§6.2), for validation messages (e.g. `"terminal"`).
    pub fn driver(&self) -> &str {
        self.driver.get_or_init(|| {
            // PATH only matters when the terminal is not the answer.
            let need_path =
                self.prompt.is_none() && (self.avoid_terminal || !self.stdout_is_terminal);
            let available = if need_path {
                drivers_on_path(&self.path)
            } else {
                Vec::new()
            };
            default_driver(
                self.prompt.as_deref(),
                self.avoid_terminal,
                self.stdout_is_terminal,
                &available,
            )
        })
    }

    /// Whether a fixed `--mfa-token` was given.
    pub fn has_fixed_token(&self) -> bool {
        self.token.is_some()
    }

    /// A code for `serial`. `mfa_process` (the profile's, if any) beats the driver; a fixed token
    /// beats both. Answers are whitespace-trimmed; an empty answer is an error.
    pub fn code(&self, serial: &str, mfa_process: Option<&str>) -> anyhow::Result<String> {
        if let Some(token) = &self.token {
            crate::debug!("Using the --mfa-token value as the MFA code for {serial}");
            return Ok(token.0.to_string());
        }
        let _guard = PROMPT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let code = match mfa_process.filter(|p| !p.is_empty()) {
            Some(command) => {
                crate::debug!("Getting the MFA code for {serial} from the profile's mfa_process");
                process::code(command)?
            }
            None => {
                crate::debug!(
                    "Getting the MFA code for {serial} with the '{}' prompt driver",
                    self.driver()
                );
                self.driver_code(serial)?
            }
        };
        Ok(code.to_string())
    }

    fn driver_code(&self, serial: &str) -> anyhow::Result<Zeroizing<String>> {
        let message = prompt_message(serial);
        match self.driver() {
            "terminal" => terminal::code(serial, &message),
            "kdialog" => dialog::kdialog(&self.program("kdialog")?, &message),
            "osascript" => dialog::osascript(&self.program("osascript")?, &message),
            "zenity" => dialog::zenity(&self.program("zenity")?, &message),
            "ykman" => ykman::code(&self.program("ykman")?, &self.ykman, serial),
            #[cfg(windows)]
            "wincredui" => wincredui::code(serial, &message),
            other => bail!("unknown MFA prompt driver '{other}'"),
        }
    }

    /// The full path of a helper program, looked up in the environment's `PATH`.
    fn program(&self, name: &str) -> anyhow::Result<PathBuf> {
        crate::which::look_path(name, self.path.as_ref())
            .ok_or_else(|| anyhow!("{name}: executable file not found in $PATH"))
    }
}

/// The controlling terminal as (input, output): `/dev/tty` opened read-write on Unix, `CONIN$`
/// and `CONOUT$` on Windows.
fn open_tty() -> io::Result<(File, File)> {
    #[cfg(unix)]
    {
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")?;
        let out = tty.try_clone()?;
        Ok((tty, out))
    }
    #[cfg(windows)]
    {
        let open = |name| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(name)
        };
        Ok((open("CONIN$")?, open("CONOUT$")?))
    }
    #[cfg(not(any(unix, windows)))]
    {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no controlling terminal on this platform",
        ))
    }
}

/// How a helper's stdin and stderr are connected.
enum Stdin {
    /// stdin and stderr on the controlling terminal when it can be opened, else stdin from the
    /// null device and stderr inherited (ykman, mfa_process: docs/compatibility.md §6.3, §6.4).
    Terminal,
    /// stdin from the null device and stderr captured, shown only in the error on failure (the
    /// GUI dialogs, whose toolkits chatter on stderr).
    Null,
}

/// Run a helper, capture its stdout and return it trimmed. Errors start with `what: ` and name
/// the exit status; they never contain the helper's stdout.
fn run_helper(mut cmd: Command, what: &str, stdin: Stdin) -> anyhow::Result<Zeroizing<String>> {
    cmd.stdout(Stdio::piped());
    match stdin {
        Stdin::Terminal => match open_tty() {
            Ok((input, output)) => {
                cmd.stdin(input).stderr(output);
            }
            Err(e) => {
                crate::debug!("{what}: no controlling terminal ({e}); stdin is the null device");
                cmd.stdin(Stdio::null()).stderr(Stdio::inherit());
            }
        },
        Stdin::Null => {
            cmd.stdin(Stdio::null()).stderr(Stdio::piped());
        }
    }
    let out = cmd
        .output()
        .with_context(|| format!("{what}: cannot run {}", cmd.get_program().display()))?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        let status = match out.status.code() {
            Some(code) => format!("exit status {code}"),
            None => out.status.to_string(),
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        let detail = stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        bail!("{what}: {status}{detail}");
    }
    let text = std::str::from_utf8(&stdout)
        .map_err(|_| anyhow!("{what}: the MFA code it printed is not valid UTF-8"))?;
    let code = Zeroizing::new(text.trim().to_string());
    if code.is_empty() {
        bail!("{what}: printed no MFA code");
    }
    Ok(code)
}

#[cfg(all(test, unix))]
mod tests;
