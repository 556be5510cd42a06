//! Running the child of `exec`: its environment, `execve`, and the subprocess fallback.
use std::ffi::{OsStr, OsString};

use std::process::Command;

use crate::credentials::Credentials;
use crate::gofmt::time as timefmt;

/// Variables removed from the child's environment so that stale credentials or a profile
/// selection from the parent cannot shadow the ones aws-vault provides (docs/compatibility.md §1.4 step 9).
pub const REMOVED_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_FILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_PROFILE",
    "AWS_SDK_LOAD_CONFIG",
];

/// Variables that unlock a vault, removed from the child's environment (a hardening beyond the
/// Go tool, docs/differences.md D44): with them, any program run under `exec` — or anything it
/// runs in turn — could decrypt every long-term key in the vault, not just use the short-lived
/// credentials it was given. The 1Password names are those the Go tool's 1Password backends read;
/// there is no Proton Pass secret variable (its login is interactive).
pub const VAULT_SECRET_VARS: &[&str] = &[
    "AWS_VAULT_FILE_PASSPHRASE",
    "AWS_VAULT_OP_CONNECT_TOKEN",
    "AWS_VAULT_OP_SERVICE_ACCOUNT_TOKEN",
    "OP_CONNECT_TOKEN",
    "OP_SERVICE_ACCOUNT_TOKEN",
];

/// An ordered environment for the child. Setting a variable replaces an existing one of the
/// same name and moves it to the end, as the Go tool does.
#[derive(Debug, Clone, Default)]
pub struct ChildEnv {
    vars: Vec<(OsString, OsString)>,
}

impl ChildEnv {
    /// Start from `base` (normally the current environment) minus [`REMOVED_VARS`] and
    /// [`VAULT_SECRET_VARS`]. Every exec mode (plain, `--ecs-server`, `--ec2-server`) starts
    /// here, so no mode can hand the vault's secrets to the child.
    pub fn from_parent(base: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        let vars = base
            .into_iter()
            .filter(|(k, _)| {
                !REMOVED_VARS
                    .iter()
                    .chain(VAULT_SECRET_VARS)
                    .any(|r| OsStr::new(r) == k)
            })
            .collect();
        ChildEnv { vars }
    }

    pub fn set(&mut self, key: &str, value: impl Into<OsString>) {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.into(), value.into()));
    }

    pub fn remove(&mut self, key: &str) {
        self.vars.retain(|(k, _)| k != key);
    }

    pub fn get(&self, key: &str) -> Option<&OsStr> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_os_str())
    }

    pub fn vars(&self) -> &[(OsString, OsString)] {
        &self.vars
    }

    /// The profile, region and endpoint variables every exec mode sets.
    pub fn set_profile(&mut self, profile: &str, region: Option<&str>, endpoint_url: Option<&str>) {
        self.set("AWS_VAULT", profile);
        if let Some(region) = region {
            self.set("AWS_REGION", region);
            self.set("AWS_DEFAULT_REGION", region);
        }
        if let Some(url) = endpoint_url {
            self.set("AWS_ENDPOINT_URL", url);
        }
    }

    /// The credential variables of the default exec mode.
    pub fn set_credentials(&mut self, creds: &Credentials) {
        self.set("AWS_ACCESS_KEY_ID", &creds.access_key_id);
        self.set("AWS_SECRET_ACCESS_KEY", creds.secret());
        if let Some(token) = creds.token() {
            self.set("AWS_SESSION_TOKEN", token);
        }
        if let Some(expires) = creds.expires {
            self.set("AWS_CREDENTIAL_EXPIRATION", timefmt::iso_utc(expires));
        }
    }
}

/// Why the child could not be started.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    NotFound(String),
    #[error("exec: \"{cmd}\": {source}")]
    Start {
        cmd: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Failed to wait for command termination: {0}")]
    Wait(std::io::Error),
}

fn command(cmd: &str, args: &[String], env: &ChildEnv) -> Command {
    let mut c = Command::new(cmd);
    c.args(args)
        .env_clear()
        .envs(env.vars().iter().map(|(k, v)| (k, v)));
    c
}

fn start_error(cmd: &str, e: std::io::Error) -> RunError {
    if e.kind() == std::io::ErrorKind::NotFound {
        RunError::NotFound(cmd.to_string())
    } else {
        RunError::Start {
            cmd: cmd.to_string(),
            source: e,
        }
    }
}

/// Replace this process with `cmd` (Unix `execvp`, so `PATH` is searched and argv[0] is the
/// command exactly as typed). Returns only on failure; on platforms without exec it runs a
/// subprocess and exits with its status.
pub fn exec_replace(
    cmd: &str,
    args: &[String],
    env: &ChildEnv,
) -> Result<std::convert::Infallible, RunError> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = command(cmd, args, env).exec();
        Err(start_error(cmd, err))
    }
    #[cfg(not(unix))]
    {
        let code = run_subprocess(cmd, args, env)?;
        std::process::exit(code)
    }
}

/// Run `cmd` as a child with inherited stdio, forwarding the signals aws-vault receives, and
/// return the exit code to use: the child's, or 255 when it died from a signal (docs/compatibility.md §1.4).
pub fn run_subprocess(cmd: &str, args: &[String], env: &ChildEnv) -> Result<i32, RunError> {
    // Signals are caught from before the spawn, so one sent right after the child starts is
    // forwarded rather than killing aws-vault (and leaving the child and any server behind).
    #[cfg(unix)]
    let signals = catch_signals();
    #[cfg(windows)]
    survive_console_interrupts();
    let mut child = command(cmd, args, env)
        .spawn()
        .map_err(|e| start_error(cmd, e))?;
    #[cfg(unix)]
    let forwarder = signals.map(|s| forward_signals(s, child.id()));
    let status = child.wait();
    #[cfg(unix)]
    if let Some(handle) = forwarder {
        handle.close();
    }
    match status {
        Ok(status) => Ok(status.code().unwrap_or(255)),
        Err(e) => {
            let _ = child.kill();
            Err(RunError::Wait(e))
        }
    }
}

/// [`run_subprocess`] on its own thread, for the server modes of `exec`: the calling thread
/// keeps serving credentials while the child runs. `on_exit` runs when the child has ended
/// (or failed to start), before the thread's result is available.
pub fn spawn_subprocess(
    cmd: String,
    args: Vec<String>,
    env: ChildEnv,
    on_exit: impl FnOnce() + Send + 'static,
) -> std::thread::JoinHandle<Result<i32, RunError>> {
    std::thread::spawn(move || {
        let result = run_subprocess(&cmd, &args, &env);
        on_exit();
        result
    })
}

/// Windows has no signals to forward: Ctrl-C and Ctrl-Break go to every process attached to
/// the console, the child included. aws-vault only has to outlive them, so that it still waits
/// for the child and passes on its exit code (the Go tool catches them for the same reason).
/// A handler, not `SetConsoleCtrlHandler(NULL, TRUE)`: that flag would be inherited and make
/// the child ignore Ctrl-C too.
#[cfg(windows)]
fn survive_console_interrupts() {
    use windows_sys::core::BOOL;
    use windows_sys::Win32::System::Console::{
        SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_C_EVENT,
    };
    unsafe extern "system" fn handler(event: u32) -> BOOL {
        (event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT) as BOOL
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: `handler` is a plain function valid for the life of the process.
    ONCE.call_once(|| unsafe {
        SetConsoleCtrlHandler(Some(handler), 1);
    });
}

#[cfg(unix)]
fn catch_signals() -> Option<signal_hook::iterator::Signals> {
    use signal_hook::consts::signal::*;
    signal_hook::iterator::Signals::new([
        SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
    ])
    .ok()
}

#[cfg(unix)]
fn forward_signals(
    mut signals: signal_hook::iterator::Signals,
    pid: u32,
) -> signal_hook::iterator::Handle {
    let handle = signals.handle();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            // SAFETY: kill(2) with a pid we spawned and a valid signal number has no memory effects.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
        }
    });
    handle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_removes_and_appends() {
        let base = [
            ("PATH", "/bin"),
            ("AWS_PROFILE", "x"),
            ("AWS_REGION", "old"),
            ("AWS_SESSION_TOKEN", "stale"),
            ("HOME", "/h"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let mut env = ChildEnv::from_parent(base);
        env.set_profile("prod", Some("eu-west-1"), None);
        let names: Vec<_> = env
            .vars()
            .iter()
            .map(|(k, _)| k.to_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "PATH",
                "HOME",
                "AWS_VAULT",
                "AWS_REGION",
                "AWS_DEFAULT_REGION"
            ]
        );
        assert_eq!(env.get("AWS_REGION"), Some(OsStr::new("eu-west-1")));
    }
}
