//! moto (STS/IAM mock) behind a recording proxy, for integration tests that must assert the
//! exact STS/IAM parameters a client sent.
//!
//! ```text
//! client ──> recording_proxy.py (127.0.0.1:P, logs one JSON line per request) ──> moto_server (127.0.0.1:M)
//! ```
//!
//! Point clients at [`Moto::url`] (the proxy). Each request is recorded as a [`Call`]:
//! `calls_to("AssumeRole")[0].params["RoleArn"]`. Query-protocol list parameters arrive
//! flattened, e.g. `Tags.member.1.Key`, `Tags.member.1.Value`, `TransitiveTagKeys.member.1`.
//!
//! Needs `moto_server` and `python3` on PATH (`pip install 'moto[server]'`). Both children are
//! stopped by PID on drop. All traffic stays on 127.0.0.1.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "moto_server and python3 are required for the STS/IAM integration \
tests: pip install 'moto[server]' awscli boto3";

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One request seen by the recording proxy.
#[derive(Debug, Clone)]
pub struct Call {
    /// The `Action` parameter (query protocol) or the X-Amz-Target operation; `""` if none.
    pub action: String,
    /// The SigV4 credential-scope service (`sts`, `iam`); `None` for unsigned requests.
    pub service: Option<String>,
    /// All query parameters plus all form-urlencoded body parameters (includes `Action`
    /// and `Version`).
    pub params: BTreeMap<String, String>,
    /// The access key id from the SigV4 credential scope; `None` for unsigned requests.
    pub access_key: Option<String>,
    /// The `X-Amz-Security-Token` header, if sent.
    pub session_token: Option<String>,
    /// The HTTP status returned to the client.
    pub status: u16,
    pub method: String,
    pub path: String,
    /// True if the answer came from [`Moto::fail`] injection rather than from moto.
    pub injected: bool,
}

impl Call {
    /// A parameter's value, or `None`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

pub struct Moto {
    moto: Option<Child>,
    proxy: Option<Child>,
    moto_port: u16,
    proxy_port: u16,
    log: PathBuf,
    dir: tempfile::TempDir,
}

fn spawn(program: &str, cmd: &mut Command) -> Child {
    match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{program}` not found on PATH. {INSTALL_HINT}")
        }
        Err(e) => panic!("cannot start `{program}`: {e}. {INSTALL_HINT}"),
    }
}

/// A minimal HTTP/1.1 request with `Connection: close`; returns (status, body).
fn http(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad HTTP response: {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    Ok((status, body))
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn parse_moto_port(log: &str) -> Option<u16> {
    let rest = log.split("Running on http://127.0.0.1:").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

impl Moto {
    /// Start moto_server and the recording proxy on free loopback ports; panics with an install
    /// hint (`pip install 'moto[server]'`) if moto_server or python3 is missing. Waits for
    /// readiness (bounded, ~30 s).
    pub fn start() -> Moto {
        Moto::start_with_env(&[])
    }

    /// As [`Moto::start`], with extra environment for moto_server, e.g.
    /// `("INITIAL_NO_AUTH_ACTION_COUNT", "3")` or `("MOTO_ACCOUNT_ID", "111111111111")`.
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let dir = tempfile::Builder::new()
            .prefix("moto-")
            .tempdir()
            .expect("temp dir for moto");
        let log = dir.path().join("calls.jsonl");
        std::fs::write(&log, "").unwrap();
        // Constructed early so that Drop cleans up whatever was started if a later step panics.
        let mut m = Moto {
            moto: None,
            proxy: None,
            moto_port: 0,
            proxy_port: 0,
            log,
            dir,
        };

        // 1. moto_server on a free port (-p 0); the port is printed in its log.
        let moto_log = m.dir.path().join("moto.log");
        let out = std::fs::File::create(&moto_log).unwrap();
        let mut cmd = Command::new("moto_server");
        cmd.args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in env {
            cmd.env(k, v);
        }
        m.moto = Some(spawn("moto_server", &mut cmd));

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = m.moto.as_mut().unwrap().try_wait().unwrap() {
                m.moto = None;
                panic!(
                    "moto_server exited during start-up ({status}). {INSTALL_HINT}\n--- moto.log ---\n{}",
                    tail(&moto_log, 40)
                );
            }
            if m.moto_port == 0 {
                if let Some(p) =
                    parse_moto_port(&std::fs::read_to_string(&moto_log).unwrap_or_default())
                {
                    m.moto_port = p;
                }
            }
            if m.moto_port != 0 && matches!(http(m.moto_port, "GET", "/moto-api/"), Ok((200, _))) {
                break;
            }
            if Instant::now() > deadline {
                panic!(
                    "moto_server not ready after {:?}\n--- moto.log ---\n{}",
                    READY_TIMEOUT,
                    tail(&moto_log, 40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }

        // 2. The recording proxy in front of it.
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/recording_proxy.py");
        let port_file = m.dir.path().join("proxy.port");
        let proxy_err = std::fs::File::create(m.dir.path().join("proxy.log")).unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .arg(&port_file)
            .arg(format!("http://127.0.0.1:{}", m.moto_port))
            .arg(&m.log)
            .stdin(Stdio::null())
            .stdout(proxy_err.try_clone().unwrap())
            .stderr(proxy_err);
        m.proxy = Some(spawn("python3", &mut cmd));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = m.proxy.as_mut().unwrap().try_wait().unwrap() {
                m.proxy = None;
                panic!(
                    "recording_proxy.py exited during start-up ({status})\n--- proxy.log ---\n{}",
                    tail(&m.dir.path().join("proxy.log"), 40)
                );
            }
            // The file is written atomically after the socket is listening.
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.trim().parse::<u16>().ok())
            {
                m.proxy_port = p;
                break;
            }
            if Instant::now() > deadline {
                panic!("recording_proxy.py did not report its port within {READY_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        m
    }

    /// URL clients should use (the proxy), e.g. `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy_port)
    }

    /// moto itself, bypassing the proxy (requests to it are not recorded).
    pub fn moto_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.moto_port)
    }

    /// PIDs of (moto_server, recording proxy); `0` if not running.
    pub fn pids(&self) -> (u32, u32) {
        (
            self.moto.as_ref().map_or(0, Child::id),
            self.proxy.as_ref().map_or(0, Child::id),
        )
    }

    /// The temp dir holding moto.log, proxy.log and the call log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// All recorded calls since start/last reset, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        let text = std::fs::read_to_string(&self.log).expect("read proxy call log");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("bad proxy log line {l:?}: {e}"));
                let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
                let params = v
                    .get("params")
                    .and_then(|p| p.as_object())
                    .map(|o| {
                        o.iter()
                            .map(|(k, x)| {
                                let val = match x {
                                    serde_json::Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                };
                                (k.clone(), val)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Call {
                    action: s("action").unwrap_or_default(),
                    service: s("service"),
                    params,
                    access_key: s("auth_access_key"),
                    session_token: s("session_token"),
                    status: v.get("status").and_then(|x| x.as_u64()).unwrap_or(0) as u16,
                    method: s("method").unwrap_or_default(),
                    path: s("path").unwrap_or_default(),
                    injected: v.get("injected").and_then(|x| x.as_bool()).unwrap_or(false),
                }
            })
            .collect()
    }

    /// Calls whose action equals `action`.
    pub fn calls_to(&self, action: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.action == action)
            .collect()
    }

    /// The single call to `action`; panics (listing all calls) unless there is exactly one.
    #[track_caller]
    pub fn one_call(&self, action: &str) -> Call {
        let calls = self.calls_to(action);
        assert_eq!(
            calls.len(),
            1,
            "expected exactly one {action} call, got {}; all calls:\n{:#?}",
            calls.len(),
            self.calls()
        );
        calls.into_iter().next().unwrap()
    }

    /// POST /moto-api/reset to moto (wipes all moto state) and truncate the call log.
    /// Injected failures are left alone (see [`Moto::clear_failures`]).
    pub fn reset(&self) {
        match http(self.moto_port, "POST", "/moto-api/reset") {
            Ok((200, _)) => {}
            other => panic!("moto reset failed: {other:?}"),
        }
        std::fs::write(&self.log, "").expect("truncate proxy call log");
    }

    fn fail_file(&self) -> PathBuf {
        let mut p = self.log.clone().into_os_string();
        p.push(".fail");
        PathBuf::from(p)
    }

    /// Make the proxy answer `action` (`"*"`: every action) with an AWS error until cleared.
    /// Several actions can fail at once; a second call for the same action replaces the first.
    pub fn fail(&self, action: &str, status: u16, code: &str, message: &str) {
        let path = self.fail_file();
        let mut list: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        list.retain(|f| f.get("action").and_then(|a| a.as_str()) != Some(action));
        list.push(serde_json::json!({
            "action": action, "status": status, "code": code, "message": message,
        }));
        let tmp = self.dir.path().join("fail.tmp");
        std::fs::write(&tmp, serde_json::to_string(&list).unwrap()).unwrap();
        std::fs::rename(&tmp, &path).unwrap(); // atomic for the proxy's reader
    }

    /// Remove all injected failures.
    pub fn clear_failures(&self) {
        match std::fs::remove_file(self.fail_file()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("remove failure-injection file: {e}"),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- moto.log (tail) ---\n{}\n--- proxy.log ---\n{}",
                tail(&self.dir.path().join("moto.log"), 30),
                tail(&self.dir.path().join("proxy.log"), 30)
            );
        }
        // Stop by PID (Child::kill sends SIGKILL to that PID only), then reap.
        for child in [self.proxy.take(), self.moto.take()].into_iter().flatten() {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        // self.dir (TempDir) is removed after this, when the fields are dropped.
    }
}

/// Environment for running the real AWS CLI / boto3 against moto: AWS_ENDPOINT_URL (the proxy),
/// AWS_EC2_METADATA_DISABLED=true, AWS_SHARED_CREDENTIALS_FILE=/dev/null, a region, NO_PROXY for
/// loopback, and an AWS_CONFIG_FILE written in `dir` with `cli_follow_urlparam = false`.
/// Credentials are not included: add AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (any values).
pub fn aws_cli_env(moto: &Moto, dir: &Path) -> Vec<(String, String)> {
    let config = dir.join("aws-cli-config");
    std::fs::write(
        &config,
        "[default]\ncli_follow_urlparam = false\nregion = us-east-1\n",
    )
    .expect("write AWS CLI config");
    [
        ("AWS_ENDPOINT_URL", moto.url()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ("AWS_CONFIG_FILE", config.to_string_lossy().into_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("NO_PROXY", "127.0.0.1,localhost,::1".into()),
        ("no_proxy", "127.0.0.1,localhost,::1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `aws ARGS...` (CLI v1 from PATH) with every inherited `AWS_*` variable removed and
/// [`aws_cli_env`] applied. Add credentials with `.env(...)` before running it.
pub fn aws_command(moto: &Moto, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("aws");
    c.args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    for (k, v) in aws_cli_env(moto, dir) {
        c.env(k, v);
    }
    c
}
