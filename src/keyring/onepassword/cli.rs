//! `op` (service account) and `op-desktop` (the desktop app integration): the official 1Password
//! command-line tool, through its documented JSON.
//!
//! The Go tool links 1Password's Go SDK, which has no Rust counterpart; the `op` program speaks
//! for both modes. Commands (1Password CLI reference, `op item ...`):
//!
//! | what | command |
//! | --- | --- |
//! | listing | `op item list --vault V --tags TAG --format json` |
//! | read | `op item get ID --vault V --reveal --format json` |
//! | create | `op item create --vault V --tags TAG --format json -` with the item JSON on stdin |
//! | replace | `op item edit ID --vault V --format json` with the item JSON on stdin |
//! | delete | `op item delete ID --vault V` |
//!
//! Secrets never go on a command line, where other users' `ps` could read them: the field value
//! travels on stdin, the service-account token in the child's `OP_SERVICE_ACCOUNT_TOKEN` only.
//! The child's environment is also cleared of the variables that would make `op` pick another
//! way in (Connect's `OP_CONNECT_HOST`/`OP_CONNECT_TOKEN`; a service-account token for
//! `op-desktop`) and of aws-vault's own token variables. Each run is limited by `--op-timeout`
//! and killed when it is over.
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use zeroize::Zeroizing;

use super::{
    one_line, prompt_token, Full, OpKeyring, Summary, Transport, CATEGORY, CONCEALED, FIELD_LABEL,
};
use crate::keyring::{Config, Error, Result};

/// The oldest `op` this backend is written for: 2.x with `--reveal` on `item get` and JSON read
/// from stdin by `item create -` and `item edit`.
pub const MIN_VERSION: (u64, u64, u64) = (2, 25, 0);

const TOKEN_VARS: &str = "AWS_VAULT_OP_SERVICE_ACCOUNT_TOKEN or OP_SERVICE_ACCOUNT_TOKEN";

/// Variables never passed to `op`: tokens of other modes and aws-vault's copies of tokens.
const SCRUBBED: &[&str] = &[
    "OP_CONNECT_HOST",
    "OP_CONNECT_TOKEN",
    "AWS_VAULT_OP_CONNECT_TOKEN",
    "AWS_VAULT_OP_SERVICE_ACCOUNT_TOKEN",
    "OP_SERVICE_ACCOUNT_TOKEN",
];

/// How `op` signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `op`: a service-account token in `OP_SERVICE_ACCOUNT_TOKEN`.
    ServiceAccount,
    /// `op-desktop`: the desktop app integration for this account (name, sign-in address or id).
    Desktop(String),
}

/// The `op` transport.
pub struct OpCli {
    program: PathBuf,
    mode: Mode,
    vault: String,
    tag: String,
    timeout: Duration,
    token: Mutex<Option<Zeroizing<String>>>,
}

/// The `op` and `op-desktop` keyring.
pub type OpCliKeyring = OpKeyring<OpCli>;

/// Check the settings and find the program; nothing is run.
pub fn open(cfg: &Config, desktop: bool) -> std::result::Result<OpCliKeyring, String> {
    let op = &cfg.op;
    let backend = if desktop { "op-desktop" } else { "op" };
    let mut errs = Vec::new();
    if op.timeout.is_zero() {
        errs.push(format!(
            "--op-timeout must be a non-zero duration for the {backend} backend"
        ));
    }
    let vault = op.require_vault().map_err(|e| errs.push(e)).ok();
    let mode = if desktop {
        match op.desktop_account_id.as_deref().filter(|a| !a.is_empty()) {
            Some(a) => Some(Mode::Desktop(a.to_string())),
            None => {
                errs.push(
                    "no 1Password account for the desktop app: set --op-desktop-account-id, AWS_VAULT_OP_DESKTOP_ACCOUNT_ID or OP_DESKTOP_ACCOUNT_ID"
                        .to_string(),
                );
                None
            }
        }
    } else {
        Some(Mode::ServiceAccount)
    };
    let name = op.op_cmd.clone().unwrap_or_else(|| "op".to_string());
    let program = find_program(&name)
        .ok_or_else(|| {
            errs.push(format!(
                "the 1Password CLI ({name}) was not found in PATH: install it (https://developer.1password.com/docs/cli/get-started/) or set AWS_VAULT_OP_CMD"
            ))
        })
        .ok();
    let (Some(vault), Some(mode), Some(program)) = (vault, mode, program) else {
        return Err(errs.join("; "));
    };
    if !errs.is_empty() {
        return Err(errs.join("; "));
    }
    let place = match &mode {
        Mode::ServiceAccount => format!("vault \"{vault}\" (1Password service account)"),
        Mode::Desktop(a) => format!("vault \"{vault}\" (1Password desktop app, account \"{a}\")"),
    };
    let transport = OpCli {
        program,
        mode,
        vault,
        tag: op.tag.clone(),
        timeout: op.timeout,
        token: Mutex::new(op.service_account_token.clone()),
    };
    Ok(OpKeyring::new(transport, op, place))
}

/// `name` itself when it contains a path separator, else the first executable of that name in
/// `PATH` (with `.exe` on Windows).
fn find_program(name: &str) -> Option<PathBuf> {
    let is_file = |p: &PathBuf| p.is_file() && is_executable(p);
    if name.contains('/') || name.contains(std::path::MAIN_SEPARATOR) {
        let p = PathBuf::from(name);
        return is_file(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if is_file(&p) {
            return Some(p);
        }
        if cfg!(windows) {
            let p = dir.join(format!("{name}.exe"));
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(unix)]
fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(_: &std::path::Path) -> bool {
    true
}

/// The JSON given to `op item create -` / `op item edit` on stdin (the item template format,
/// which is `op item get`'s JSON).
#[derive(Serialize)]
struct Template<'a> {
    title: &'a str,
    category: &'a str,
    fields: [TemplateField<'a>; 1],
}

#[derive(Serialize)]
struct TemplateField<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
    label: &'a str,
    value: &'a str,
}

/// What one run of `op` gave.
struct Output {
    success: bool,
    status: String,
    stdout: Zeroizing<Vec<u8>>,
    stderr: String,
}

/// Parse `op --version` output (`2.30.0`, maybe with a suffix).
fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let v = text.trim().trim_start_matches('v');
    let mut parts = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

impl OpCli {
    fn what(&self) -> &'static str {
        match self.mode {
            Mode::ServiceAccount => "op",
            Mode::Desktop(_) => "op-desktop",
        }
    }

    fn token(&self) -> Result<Option<Zeroizing<String>>> {
        if self.mode != Mode::ServiceAccount {
            return Ok(None);
        }
        let mut token = self.token.lock().unwrap_or_else(|e| e.into_inner());
        if token.is_none() {
            *token = Some(prompt_token(
                "Enter 1Password service account token",
                TOKEN_VARS,
            )?);
        }
        Ok(token.clone())
    }

    /// Run `op <args>` (plus `--account` in desktop mode) with `input` on stdin, within the
    /// timeout.
    fn run(&self, args: &[&str], input: Option<&[u8]>) -> Result<Output> {
        let token = self.token()?;
        let mut c = Command::new(&self.program);
        c.args(args);
        if let Mode::Desktop(account) = &self.mode {
            c.arg("--account").arg(account);
        }
        for var in SCRUBBED {
            c.env_remove(var);
        }
        if let Some(t) = &token {
            c.env("OP_SERVICE_ACCOUNT_TOKEN", OsString::from(t.as_str()));
        }
        c.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let command_text = format!(
            "op {}",
            args.iter().take(2).cloned().collect::<Vec<_>>().join(" ")
        );
        let mut child = c.spawn().map_err(|e| {
            Error::Backend(if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "the 1Password CLI ({}) was not found: install it (https://developer.1password.com/docs/cli/get-started/) or set AWS_VAULT_OP_CMD",
                    self.program.display()
                )
            } else {
                format!("cannot run {}: {e}", self.program.display())
            })
        })?;
        let started = Instant::now();
        let (tx, rx) = mpsc::channel();
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            let mut buf = Zeroizing::new(Vec::new());
            let _ = stdout.read_to_end(&mut buf);
            let _ = tx.send((true, buf));
        });
        std::thread::spawn(move || {
            let mut buf = Zeroizing::new(Vec::new());
            let _ = stderr.read_to_end(&mut buf);
            let _ = tx2.send((false, buf));
        });
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            // `op` reads its whole input before answering; a write error shows as its failure.
            let _ = stdin.write_all(input);
        }
        let mut out = None;
        let mut err = None;
        while out.is_none() || err.is_none() {
            let left = self.timeout.saturating_sub(started.elapsed());
            match rx.recv_timeout(left) {
                Ok((true, b)) => out = Some(b),
                Ok((false, b)) => err = Some(b),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Backend(format!(
                        "{command_text} did not finish within {} (--op-timeout); is the 1Password app waiting for you to unlock it?",
                        crate::config::duration::format_go_duration(
                            i64::try_from(self.timeout.as_nanos()).unwrap_or(i64::MAX)
                        )
                    )));
                }
            }
        }
        let status = child
            .wait()
            .map_err(|e| Error::Backend(format!("{command_text}: {e}")))?;
        let stderr = String::from_utf8_lossy(&err.unwrap_or_default()).into_owned();
        Ok(Output {
            success: status.success(),
            status: status.to_string(),
            stdout: out.unwrap_or_default(),
            stderr,
        })
    }

    /// The message for a failed run: a too-old or foreign `op` says so; otherwise the last line
    /// of its stderr, with the token taken out should it ever appear there.
    fn failure(&self, what: &str, out: &Output) -> Error {
        if let Some(v) = self.version() {
            if v < MIN_VERSION {
                return Error::Backend(format!(
                    "the 1Password CLI at {} is version {}.{}.{}; aws-vault needs {}.{}.{} or later",
                    self.program.display(),
                    v.0,
                    v.1,
                    v.2,
                    MIN_VERSION.0,
                    MIN_VERSION.1,
                    MIN_VERSION.2
                ));
            }
        }
        let token = self.token.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let line = one_line(&out.stderr, token.as_deref().map(|t| t.as_str()));
        let hint = if self.mode == Mode::ServiceAccount
            && (line.contains("token")
                || line.contains("authenticat")
                || line.contains("unauthorized"))
        {
            format!(" (check {TOKEN_VARS})")
        } else {
            String::new()
        };
        Error::Backend(format!(
            "{} backend: {what} failed ({}){}{line}{hint}",
            self.what(),
            out.status,
            if line.is_empty() { "" } else { ": " },
        ))
    }

    /// `op --version`, for the "too old" message.
    fn version(&self) -> Option<(u64, u64, u64)> {
        let out = self.run(&["--version"], None).ok()?;
        parse_version(&String::from_utf8_lossy(&out.stdout))
    }

    fn not_found(out: &Output) -> bool {
        out.stderr.contains("isn't an item")
    }

    fn parse<T: for<'de> serde::Deserialize<'de>>(&self, what: &str, out: &Output) -> Result<T> {
        serde_json::from_slice(&out.stdout).map_err(|e| {
            Error::Backend(format!(
                "{} backend: unexpected output of {what} (line {} column {}); is {} the 1Password CLI?",
                self.what(),
                e.line(),
                e.column(),
                self.program.display()
            ))
        })
    }

    fn template(&self, field_id: Option<&str>, title: &str, value: &str) -> Zeroizing<Vec<u8>> {
        let t = Template {
            title,
            category: CATEGORY,
            fields: [TemplateField {
                id: field_id.filter(|f| !f.is_empty()),
                kind: CONCEALED,
                label: FIELD_LABEL,
                value,
            }],
        };
        Zeroizing::new(serde_json::to_vec(&t).unwrap_or_default())
    }
}

impl Transport for OpCli {
    fn list(&self) -> Result<Vec<Summary>> {
        let mut args = vec!["item", "list", "--vault", &self.vault];
        // `--tags` takes a comma-separated list; a tag with a comma is filtered here only.
        if !self.tag.contains(',') {
            args.extend(["--tags", &self.tag]);
        }
        args.extend(["--format", "json"]);
        let out = self.run(&args, None)?;
        if !out.success {
            return Err(self.failure("op item list", &out));
        }
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        self.parse("op item list", &out)
    }

    fn get(&self, id: &str) -> Result<Option<Full>> {
        let args = [
            "item",
            "get",
            id,
            "--vault",
            &self.vault,
            "--reveal",
            "--format",
            "json",
        ];
        let out = self.run(&args, None)?;
        if !out.success {
            return if Self::not_found(&out) {
                Ok(None)
            } else {
                Err(self.failure("op item get", &out))
            };
        }
        self.parse("op item get", &out).map(Some)
    }

    fn create(&self, title: &str, value: &str) -> Result<String> {
        let input = self.template(None, title, value);
        let args = [
            "item",
            "create",
            "--vault",
            &self.vault,
            "--tags",
            &self.tag,
            "--format",
            "json",
            "-",
        ];
        let out = self.run(&args, Some(&input))?;
        if !out.success {
            return Err(self.failure(&format!("creating item \"{title}\""), &out));
        }
        let created: Summary = self.parse("op item create", &out)?;
        Ok(created.id)
    }

    fn update(&self, id: &str, field_id: &str, title: &str, value: &str) -> Result<()> {
        let input = self.template(Some(field_id), title, value);
        let args = [
            "item",
            "edit",
            id,
            "--vault",
            &self.vault,
            "--format",
            "json",
        ];
        let out = self.run(&args, Some(&input))?;
        if !out.success {
            return Err(self.failure(&format!("replacing item \"{title}\""), &out));
        }
        Ok(())
    }

    fn delete(&self, id: &str) -> Result<bool> {
        let args = ["item", "delete", id, "--vault", &self.vault];
        let out = self.run(&args, None)?;
        if !out.success {
            return if Self::not_found(&out) {
                Ok(false)
            } else {
                Err(self.failure("op item delete", &out))
            };
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("2.30.3\n"), Some((2, 30, 3)));
        assert_eq!(parse_version("2.31.0-beta.01"), Some((2, 31, 0)));
        assert_eq!(parse_version("1.12.4"), Some((1, 12, 4)));
        assert!(parse_version("2.24.0").unwrap() < MIN_VERSION);
        assert_eq!(parse_version("hello"), None);
    }

    #[test]
    #[cfg(unix)]
    fn desktop_needs_an_account_and_a_timeout() {
        let mut cfg = Config::default();
        cfg.op.vault_id = Some("v".into());
        cfg.op.op_cmd = Some("/bin/sh".into());
        let err = open(&cfg, true).err().unwrap();
        assert!(err.contains("OP_DESKTOP_ACCOUNT_ID"), "{err}");
        cfg.op.desktop_account_id = Some("my.1password.com".into());
        assert!(open(&cfg, true).is_ok());
        cfg.op.timeout = Duration::ZERO;
        assert!(open(&cfg, false).err().unwrap().contains("non-zero"));
    }
}
