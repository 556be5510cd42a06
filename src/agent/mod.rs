//! The optional credential agent: unlock a backend once, then serve its items from memory.
//!
//! `aws-vault agent start` opens the selected keyring backend, asks for what it needs once (the
//! file passphrase, a `pass`/GnuPG unlock) while it still has the terminal, and detaches. From then
//! on every aws-vault process of the same user that selects the same backend reads and writes its
//! items through the agent's Unix socket ([`client::AgentKeyring`], a [`Keyring`]) instead of
//! opening the store itself, so the file backend's PBKDF2 derivation and the passphrase prompt
//! happen once per agent, not once per call. The agent is a cache in front of the backend, never a
//! store of its own: writes go through to the backend, so processes with and without the agent
//! see the same items. `docs/agent.md` describes the protocol and the threat model.
//!
//! Layout: [`protocol`] (framing, versioned, no secrets in errors), [`secmem`] (page-locked,
//! zeroized buffers), [`confirm`] (the per-use question), [`server`] (the detached process: the
//! platform-neutral core and a Unix-socket and a Windows transport), [`client`] (what the CLI
//! uses), [`pipe`] (the Windows named pipe with its owner-only access list).
//!
//! [`Keyring`]: crate::keyring::Keyring

pub mod confirm;
pub mod protocol;
pub mod secmem;

#[cfg(any(unix, windows))]
pub mod client;
#[cfg(windows)]
pub mod pipe;
#[cfg(any(unix, windows))]
pub mod server;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Env;
use crate::keyring;

/// Default idle timeout: with no request for this long the agent wipes what it holds.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(15 * 60);
/// Default maximum lifetime: the agent wipes and exits this long after it started, used or not.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);

/// `AWS_VAULT_AGENT=off` (or `0`, `false`, `no`) makes a process ignore any running agent.
pub const ENV_SWITCH: &str = "AWS_VAULT_AGENT";
/// Variables for the `agent start` flags.
pub const ENV_IDLE: &str = "AWS_VAULT_AGENT_IDLE_TIMEOUT";
pub const ENV_MAX_LIFETIME: &str = "AWS_VAULT_AGENT_MAX_LIFETIME";

/// Whether this process may use an agent (`AWS_VAULT_AGENT` is not a "no" value).
pub fn enabled(env: &Env) -> bool {
    !matches!(
        env.get(ENV_SWITCH)
            .map(|v| v.to_ascii_lowercase())
            .as_deref(),
        Some("off" | "0" | "false" | "no")
    )
}

/// How long the agent keeps what it holds. `None` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub idle: Option<Duration>,
    pub max_lifetime: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            idle: Some(DEFAULT_IDLE),
            max_lifetime: Some(DEFAULT_MAX_LIFETIME),
        }
    }
}

/// Parse a timeout given as a Go duration (`15m`, `1h30m`, `2d`); `0` means no limit.
pub fn parse_limit(text: &str) -> Result<Option<Duration>, String> {
    let nanos = crate::config::duration::parse_flag_duration(text)?;
    if nanos < 0 {
        return Err("must not be negative".to_string());
    }
    Ok(crate::config::duration::positive_std(nanos))
}

/// The per-user directory that holds the agent sockets: `$XDG_RUNTIME_DIR/aws-vault` when the
/// variable names an absolute directory (systemd's `/run/user/<uid>`, private to the user),
/// otherwise `aws-vault-<uid>` in the temporary directory. The server creates it 0700 and
/// refuses to use it when another user owns it or others can enter it.
pub fn runtime_dir(env: &Env) -> PathBuf {
    if let Some(dir) = env.get("XDG_RUNTIME_DIR").filter(|d| d.starts_with('/')) {
        return PathBuf::from(dir).join("aws-vault");
    }
    let tmp = env
        .get("TMPDIR")
        .filter(|d| d.starts_with('/'))
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    tmp.join(format!("aws-vault-{}", current_uid()))
}

/// The socket of the agent for one backend: one agent per backend, so a user can run one for
/// `file` and one for `pass` side by side.
#[cfg(not(windows))]
pub fn socket_path(env: &Env, backend: &str) -> PathBuf {
    runtime_dir(env).join(format!("agent-{backend}.sock"))
}

/// On Windows the agent listens on a named pipe, `\\.\pipe\aws-vault-agent-<backend>-<SID>`.
#[cfg(windows)]
pub fn socket_path(_env: &Env, backend: &str) -> PathBuf {
    PathBuf::from(pipe::pipe_name(backend))
}

#[cfg(unix)]
pub fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
pub fn current_uid() -> u32 {
    0
}

/// The effective uid of the process at the other end of a Unix socket.
#[cfg(unix)]
pub fn peer_uid(stream: &std::os::unix::net::UnixStream) -> std::io::Result<u32> {
    peer(stream).map(|(uid, _)| uid)
}

/// The effective uid and (where the kernel tells) the pid of the process at the other end of a
/// Unix socket: `SO_PEERCRED` on Linux, `getpeereid` (`LOCAL_PEERCRED`, no pid) on macOS and the
/// BSDs. The kernel fills them in, so a peer cannot lie about them.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer(stream: &std::os::unix::net::UnixStream) -> std::io::Result<(u32, Option<u32>)> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((cred.uid, u32::try_from(cred.pid).ok().filter(|p| *p > 0)))
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
pub fn peer(stream: &std::os::unix::net::UnixStream) -> std::io::Result<(u32, Option<u32>)> {
    use std::os::fd::AsRawFd;
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: both out-pointers are valid.
    if unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((uid, None))
}

/// What distinguishes two stores of the same backend (the file directory, the collection and
/// bus, the password-store directory and prefix). The agent reports it in its greeting and a
/// client uses the agent only when it is the store the client would have opened itself, so
/// `--file-dir elsewhere` never reads the agent's items.
pub fn identity(cfg: &keyring::Config, env: &Env, backend: &str) -> String {
    let var = |name: &str| env.get(name).cloned().unwrap_or_default();
    match backend {
        "file" => keyring::file::FileKeyring::new(cfg)
            .dir()
            .display()
            .to_string(),
        "secret-service" => format!(
            "collection={};bus={}",
            cfg.secret_service_collection,
            var("DBUS_SESSION_BUS_ADDRESS")
        ),
        "kwallet" => format!("bus={}", var("DBUS_SESSION_BUS_ADDRESS")),
        "pass" | "passage" => {
            let dir_var = if backend == "pass" {
                "PASSWORD_STORE_DIR"
            } else {
                "PASSAGE_DIR"
            };
            format!(
                "dir={};prefix={};cmd={}",
                cfg.pass_dir.clone().unwrap_or_else(|| var(dir_var)),
                cfg.pass_prefix.clone().unwrap_or_default(),
                cfg.pass_cmd.clone().unwrap_or_default()
            )
        }
        "keychain" => format!("keychain={}", cfg.keychain_name),
        "keyctl" => format!("scope={}", cfg.keyctl_scope.clone().unwrap_or_default()),
        _ => format!(
            "vault={};host={}",
            cfg.op.vault_id.clone().unwrap_or_default(),
            cfg.op.connect_host.clone().unwrap_or_default()
        ),
    }
}

/// The message of every agent command on a platform with neither transport.
pub const NOT_AVAILABLE: &str = "the agent is not available on this platform";

/// The keyring of a running agent for `backend` and which agent it is (pid and socket), when
/// there is one that serves the store this process would open; otherwise why not (for
/// `--debug`).
#[cfg(any(unix, windows))]
pub fn connect(
    cfg: &keyring::Config,
    env: &Env,
    backend: &str,
) -> Result<(Box<dyn keyring::Keyring>, String), String> {
    if !enabled(env) {
        return Err(format!("{ENV_SWITCH} turns the agent off"));
    }
    let path = socket_path(env, backend);
    let want = identity(cfg, env, backend);
    let k = client::AgentKeyring::connect(&path, backend, &want)?;
    let which = format!("pid {}, {}", k.pid, path.display());
    Ok((Box::new(k), which))
}

#[cfg(not(any(unix, windows)))]
pub fn connect(
    _cfg: &keyring::Config,
    _env: &Env,
    _backend: &str,
) -> Result<(Box<dyn keyring::Keyring>, String), String> {
    Err(NOT_AVAILABLE.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn switch_and_limits() {
        assert!(enabled(&env(&[])));
        assert!(enabled(&env(&[(ENV_SWITCH, "on")])));
        for off in ["off", "0", "false", "NO"] {
            assert!(!enabled(&env(&[(ENV_SWITCH, off)])), "{off}");
        }
        assert_eq!(parse_limit("0"), Ok(None));
        assert_eq!(parse_limit("90s"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(parse_limit("1h30m"), Ok(Some(Duration::from_secs(5400))));
        assert!(parse_limit("-1m").is_err());
        assert!(parse_limit("soon").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn socket_location() {
        assert_eq!(
            socket_path(&env(&[("XDG_RUNTIME_DIR", "/run/user/7")]), "file"),
            PathBuf::from("/run/user/7/aws-vault/agent-file.sock")
        );
        // A relative XDG_RUNTIME_DIR is ignored, as the XDG specification says.
        let p = socket_path(
            &env(&[("XDG_RUNTIME_DIR", "rel"), ("TMPDIR", "/t")]),
            "pass",
        );
        assert_eq!(
            p,
            PathBuf::from(format!("/t/aws-vault-{}/agent-pass.sock", current_uid()))
        );
    }

    #[test]
    fn identity_tells_stores_apart() {
        let a = keyring::Config {
            file_dir: Some("/a".into()),
            ..Default::default()
        };
        let b = keyring::Config {
            file_dir: Some("/b".into()),
            ..Default::default()
        };
        let e = env(&[]);
        assert_ne!(identity(&a, &e, "file"), identity(&b, &e, "file"));
        assert_eq!(identity(&a, &e, "file"), "/a");
        assert_ne!(
            identity(
                &a,
                &env(&[("DBUS_SESSION_BUS_ADDRESS", "x")]),
                "secret-service"
            ),
            identity(
                &a,
                &env(&[("DBUS_SESSION_BUS_ADDRESS", "y")]),
                "secret-service"
            )
        );
    }
}
