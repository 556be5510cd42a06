//! `aws-vault doctor`: each finding is provoked by breaking the setup on purpose, and a sound
//! setup exits 0.
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use aws_vault::store::oidc::OidcToken;
use aws_vault::store::OidcStore;
use common::{Run, Sandbox};
use secrecy::SecretString;

const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const ROLE: &str = "arn:aws:iam::111122223333:role/admin";

fn base() -> Sandbox {
    let s = Sandbox::with_config(&format!(
        "[profile base]\nregion = eu-west-1\n[profile admin]\nsource_profile = base\nrole_arn = {ROLE}\n"
    ));
    s.add("base", KEY_ID, SECRET);
    s
}

/// The lines of a failed run that have `level` and contain `text`.
#[track_caller]
fn finding(run: &Run, level: &str, text: &str) -> String {
    assert_eq!(run.code, 1, "doctor should fail:\n{}", run.stdout);
    run.stdout
        .lines()
        .find(|l| l.starts_with(level) && l.contains(text))
        .unwrap_or_else(|| panic!("no `{level}` finding with {text:?} in:\n{}", run.stdout))
        .to_string()
}

#[test]
fn sound_setup_exits_zero_and_shows_the_plan() {
    let s = base();
    let run = s.run(&["doctor", "admin"]).ok();
    assert!(
        run.stdout
            .contains("ok    backend: using file (named by --backend or AWS_VAULT_BACKEND)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ok    keyring: read the keys of base"),
        "{}",
        run.stdout
    );
    // The same plan text as --debug.
    let debug = s.run(&["--debug", "export", "--no-session", "base"]);
    assert!(
        debug.stderr.contains("credential plan: stored keys(base)"),
        "{}",
        debug.stderr
    );
    assert!(
        run.stdout.contains(&format!(
            "ok    profile: admin: plan stored keys(base) -> AssumeRole(admin, {ROLE}, 3600s) [cached]"
        )),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(SECRET));

    let json = s.run(&["doctor", "--json", "admin"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["healthy"], true);
    let findings = doc["findings"].as_array().unwrap();
    assert!(findings
        .iter()
        .any(|f| f["check"] == "profile" && f["level"] == "ok"));
}

#[test]
fn skipped_backends_are_listed_with_their_reasons() {
    let mut s = base();
    s.set_env("AWS_VAULT_BACKEND", "");
    let run = s.run(&["doctor"]).ok();
    assert!(
        run.stdout.contains("info  backend: pass skipped: "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("ok    backend: using file (the first in the default order that opens)"),
        "{}",
        run.stdout
    );
}

#[test]
fn named_backend_that_cannot_open() {
    let s = base();
    let run = s.run_env(
        &["doctor", "admin"],
        &[("AWS_VAULT_BACKEND", "secret-service")],
    );
    finding(
        &run,
        "error",
        "backend: keyring backend 'secret-service' is not available: no D-Bus session bus",
    );
    finding(&run, "error", "profile admin not checked");
}

#[test]
fn wrong_passphrase_fails_the_read_check() {
    let s = base();
    let run = s.run_env(&["doctor"], &[("AWS_VAULT_FILE_PASSPHRASE", "wrong")]);
    let line = finding(&run, "error", "keyring: cannot read base");
    assert!(line.contains("fix: check the passphrase"), "{line}");
}

#[test]
fn config_parse_error_names_file_and_line() {
    let s = base();
    s.write_config("[profile p]\nregion = us-east-1\nthis line has no delimiter\n");
    let run = s.run(&["doctor", "p"]);
    let line = finding(&run, "error", "config:");
    assert!(
        line.contains(s.config.to_str().unwrap()) && line.contains("line 3"),
        "{line}"
    );
}

#[test]
fn source_profile_without_stored_keys() {
    let s = Sandbox::with_config(&format!(
        "[profile base]\n[profile admin]\nsource_profile = base\nrole_arn = {ROLE}\n"
    ));
    let run = s.run(&["doctor", "admin"]);
    let line = finding(
        &run,
        "error",
        "source_profile chain ends at base, which has no stored keys",
    );
    assert!(line.ends_with("fix: aws-vault add base"), "{line}");
}

#[test]
fn role_assumed_elsewhere_with_mfa_and_useless_mfa_process() {
    let s = base();
    s.write_config(&format!(
        "[profile base]\n[profile admin]\nsource_profile = base\nrole_arn = {ROLE}\nmfa_process = ykman oath code\n\
         [profile admin-mfa]\nsource_profile = base\nrole_arn = {ROLE}\nmfa_serial = arn:aws:iam::111122223333:mfa/me\n\
         [profile helper]\nsource_profile = base\nrole_arn = {ROLE}\nmfa_serial = arn:aws:iam::111122223333:mfa/me\nmfa_process = no-such-otp-tool code\n"
    ));
    let run = s.run(&["doctor", "admin"]);
    let line = finding(
        &run,
        "warn",
        "admin: assumes arn:aws:iam::111122223333:role/admin without MFA, but profile admin-mfa",
    );
    assert!(
        line.ends_with("fix: add mfa_serial to [profile admin]"),
        "{line}"
    );
    finding(&run, "warn", "admin: mfa_process is set but no mfa_serial");
    let run = s.run(&["doctor", "helper"]);
    finding(
        &run,
        "error",
        "mfa_process program 'no-such-otp-tool' is not on PATH",
    );
}

#[cfg(unix)]
#[test]
fn lax_key_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let s = base();
    let set = |p: &std::path::Path, m| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    set(&s.keys, 0o755);
    set(&s.key_file("base"), 0o644);
    let run = s.run(&["doctor"]);
    let line = finding(&run, "warn", "permissions: key directory");
    assert!(
        line.contains("mode 755") && line.contains("fix: chmod 700"),
        "{line}"
    );
    let line = finding(&run, "warn", "permissions: key file");
    assert!(
        line.contains("mode 644") && line.contains("fix: chmod 600"),
        "{line}"
    );
}

#[test]
fn broken_lock_directory() {
    let s = base();
    // The lock directory's place is taken by a file, and so is the private fallback's.
    std::fs::write(s.dir.path().join("run").join("aws-vault"), "x").unwrap();
    let cache = s.dir.path().join("home").join(".cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("aws-vault"), "x").unwrap();
    let run = s.run(&["doctor"]);
    finding(&run, "error", "lock: no refresh-lock directory");
}

#[test]
fn sso_token_state_and_expiry() {
    let s = Sandbox::with_config(
        "[profile sso]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n\
         sso_account_id = 111122223333\nsso_role_name = Dev\n",
    );
    let run = s.run(&["doctor", "sso"]).ok();
    assert!(
        run.stdout
            .contains("info  sso: no SSO token for https://corp.awsapps.com/start"),
        "{}",
        run.stdout
    );

    let now = jiff::Timestamp::now();
    let kr = s.keyring();
    let token = |expires| OidcToken {
        access_token: SecretString::from("at".to_string()),
        refresh_token: None,
        token_type: "Bearer".into(),
        expires,
    };
    let store = OidcStore::new(&kr);
    store
        .set(
            "https://corp.awsapps.com/start",
            &token(now + jiff::SignedDuration::from_hours(2)),
            now,
        )
        .unwrap();
    let run = s.run(&["doctor", "sso"]).ok();
    assert!(
        run.stdout
            .contains("ok    sso: SSO token for https://corp.awsapps.com/start valid until"),
        "{}",
        run.stdout
    );

    store
        .set(
            "https://corp.awsapps.com/start",
            &token(now - jiff::SignedDuration::from_hours(1)),
            now,
        )
        .unwrap();
    let run = s.run(&["doctor", "sso"]);
    let line = finding(
        &run,
        "warn",
        "sso: SSO token for https://corp.awsapps.com/start expired at",
    );
    assert!(line.contains("fix: aws-vault login"), "{line}");
}

/// A loopback HTTP server whose `Date` header is an hour behind.
const SKEWED_SERVER: &str = r#"
import http.server, sys, time, email.utils
class H(http.server.BaseHTTPRequestHandler):
    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(time.time() - 3600, usegmt=True)
    def do_GET(self):
        self.send_response(403); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.handle_request()
"#;

#[test]
fn clock_skew_against_sts_only_with_network() {
    let s = base();
    let mut server = Command::new("python3")
        .arg("-c")
        .arg(SKEWED_SERVER)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is required");
    let mut port = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let url = format!("http://127.0.0.1:{}", port.trim());
    s.write_config(&format!(
        "[profile base]\nregion = eu-west-1\nendpoint_url = {url}\n"
    ));

    let offline = s.run(&["doctor", "base"]).ok();
    assert!(!offline.stdout.contains("clock"), "{}", offline.stdout);

    let run = s.run(&["doctor", "--network", "base"]);
    let _ = server.wait();
    let line = finding(&run, "error", "clock: local clock is +36");
    assert!(
        line.contains(&url) && line.contains("fix: synchronise the clock"),
        "{line}"
    );
}
