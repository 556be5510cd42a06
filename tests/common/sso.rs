//! A fake IAM Identity Center (SSO portal + SSO-OIDC, `tests/support/sso_fake.py`) and a test
//! browser (`tests/support/sso_browser.py`) for the SSO integration tests.
//!
//! The fake logs every request as a JSON line; [`SsoFake::calls`] reads them back. The browser
//! fetches the URL aws-vault opens (loopback only) and records it, so tests can count browser
//! launches. Needs `python3`. The fake is stopped by PID on drop; all traffic stays on 127.0.0.1.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::Sandbox;

pub const START_URL: &str = "https://example.awsapps.com/start";
pub const ACCOUNT: &str = "111111111111";
pub const ROLE: &str = "Admin";

fn support(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

/// One request seen by the fake.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: serde_json::Value,
    pub headers: serde_json::Value,
    pub body: serde_json::Value,
}

impl Call {
    /// A request header, case-insensitively.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.as_object()?.iter().find_map(|(k, v)| {
            k.eq_ignore_ascii_case(name)
                .then(|| v.as_str().unwrap_or("").to_string())
        })
    }
}

pub struct SsoFake {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl SsoFake {
    /// Start the fake with a JSON config (see the script's docstring), e.g. `{}`.
    pub fn start(config: &str) -> SsoFake {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sso.log");
        std::fs::write(&log, "").unwrap();
        let mut child = Command::new("python3")
            .arg(support("sso_fake.py"))
            .arg(&log)
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is required for the SSO tests");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("sso_fake.py did not print its port: {line:?}")
        });
        SsoFake {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let body = v["body"]
                    .as_str()
                    .filter(|b| !b.is_empty())
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or(serde_json::Value::Null);
                Call {
                    method: v["method"].as_str().unwrap().to_string(),
                    path: v["path"].as_str().unwrap().to_string(),
                    query: v["query"].clone(),
                    headers: v["headers"].clone(),
                    body,
                }
            })
            .filter(|c| !c.path.starts_with("/_control"))
            .collect()
    }

    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }

    /// CreateToken calls with this grant type.
    pub fn token_grants(&self, grant: &str) -> usize {
        self.calls_to("/token")
            .iter()
            .filter(|c| c.body["grantType"] == grant)
            .count()
    }

    /// Successful logins are visible as code exchanges / device polls; this counts RegisterClient
    /// + StartDeviceAuthorization + authorization requests, the things a login does once.
    pub fn logins(&self) -> usize {
        self.calls_to("/authorize").len() + self.calls_to("/device_authorization").len()
    }

    /// An access token issued out of band (as if by `aws sso login`).
    pub fn mint(&self) -> String {
        let body = self.control("/_control/mint", "{}");
        json(&body)["accessToken"].as_str().unwrap().to_string()
    }

    pub fn control(&self, path: &str, body: &str) -> String {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        assert!(
            buf.starts_with("HTTP/1.1 200") || buf.starts_with("HTTP/1.0 200"),
            "{buf}"
        );
        buf.split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default()
    }

    /// Revoke every access and refresh token issued so far.
    pub fn revoke(&self) {
        self.control("/_control/revoke", "{}");
    }

    pub fn configure(&self, json: &str) {
        self.control("/_control/config", json);
    }
}

impl Drop for SsoFake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sandbox with an SSO profile `sso` (inline) and `sess` (through `[sso-session corp]` with
/// scopes, so refresh tokens are issued), pointed at `fake` through `endpoint_url`, with the
/// test browser as `$BROWSER`. Browser launches are logged to [`browser_log`].
pub fn sandbox(fake: &SsoFake) -> Sandbox {
    let config = format!(
        "[profile sso]\nsso_start_url = {START_URL}\nsso_region = eu-west-1\nsso_account_id = {ACCOUNT}\n\
         sso_role_name = {ROLE}\nregion = eu-west-1\nendpoint_url = {url}\n\n\
         [profile sess]\nsso_session = corp\nsso_account_id = {ACCOUNT}\nsso_role_name = {ROLE}\n\
         endpoint_url = {url}\n\n\
         [profile other-role]\nsso_session = corp\nsso_account_id = 222222222222\nsso_role_name = {ROLE}\n\
         endpoint_url = {url}\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n\
         sso_registration_scopes = sso:account:access\n",
        url = fake.url()
    );
    let mut s = Sandbox::with_config(&config);
    let log = s.dir.path().join("browser.log");
    s.set_env("BROWSER", support("sso_browser.py").to_str().unwrap());
    s.set_env("SSO_BROWSER_LOG", log.to_str().unwrap());
    s
}

pub fn browser_log(s: &Sandbox) -> Vec<String> {
    std::fs::read_to_string(s.dir.path().join("browser.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

pub fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}
