//! `login`, `rotate` and `migrate-backend` end to end, through the real binary:
//!
//! * `login --stdout` against moto (STS/IAM) and a fake federation endpoint (a thread in this
//!   test, reached through `AWS_VAULT_FEDERATION_URL`) that records the Session JSON;
//! * `rotate` against moto in enforcement mode, where a deleted key is really rejected;
//! * `migrate-backend` between the file backend and `pass` with a throw-away GnuPG home.
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use aws_vault::keyring::Keyring;
use aws_vault::store::{CredentialStore, SessionStore};
use common::moto::{aws_command, Moto};
use common::Sandbox;

const FEDERATION_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const SIGNIN_TOKEN: &str = "fake/signin+token==";

// ---------------------------------------------------------------------------------------------
// Fake federation endpoint

/// A one-thread HTTP server answering `GET /federation?Action=getSigninToken&Session=...` with
/// `{"SigninToken": ...}` (or `status`), recording every request's decoded query.
/// The decoded query (plus `__path`) of each request received.
type Requests = Arc<Mutex<Vec<Vec<(String, String)>>>>;

struct Federation {
    url: String,
    requests: Requests,
}

impl Federation {
    fn start(status: u16) -> Federation {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // Drain the headers.
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let mut q: Vec<(String, String)> = vec![("__path".into(), path.to_string())];
                q.extend(form_urlencoded::parse(query.as_bytes()).into_owned());
                seen.lock().unwrap().push(q);
                let (reason, body) = if status == 200 {
                    ("OK", format!("{{\"SigninToken\":\"{SIGNIN_TOKEN}\"}}"))
                } else {
                    ("Bad Request", "{\"message\":\"no\"}".to_string())
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Federation {
            url: format!("http://127.0.0.1:{port}/federation"),
            requests,
        }
    }

    /// The single getSigninToken request: its decoded query parameters.
    #[track_caller]
    fn one_request(&self) -> BTreeMap<String, String> {
        let r = self.requests.lock().unwrap();
        assert_eq!(r.len(), 1, "expected one getSigninToken request: {r:?}");
        r[0].iter().cloned().collect()
    }

    /// The Session JSON of the single request, checked for its exact key order.
    #[track_caller]
    fn session(&self) -> serde_json::Map<String, serde_json::Value> {
        let q = self.one_request();
        assert_eq!(q["__path"], "/federation");
        assert_eq!(q["Action"], "getSigninToken");
        let raw = &q["Session"];
        let v: serde_json::Value = serde_json::from_str(raw).unwrap();
        let obj = v.as_object().unwrap().clone();
        // Key order as sent (serde_json's map is sorted, so check the raw text).
        let i = |k: &str| raw.find(&format!("\"{k}\"")).unwrap_or(usize::MAX);
        assert!(
            i("sessionId") < i("sessionKey") && i("sessionKey") < i("sessionToken"),
            "{raw}"
        );
        assert_eq!(obj.len(), 3, "{raw}");
        obj
    }
}

/// The login URL's query, decoded, in order.
fn url_params(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').expect("URL with a query").1;
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

#[track_caller]
fn assert_login_url(url: &str, federation: &str, destination: &str) {
    let url = url.trim_end_matches('\n');
    assert!(url.starts_with(&format!("{federation}?")), "{url}");
    assert_eq!(
        url_params(url),
        vec![
            ("Action".to_string(), "login".to_string()),
            ("Issuer".into(), "aws-vault".into()),
            ("Destination".into(), destination.into()),
            ("SigninToken".into(), SIGNIN_TOKEN.into()),
        ],
        "{url}"
    );
}

fn sandbox(moto: &Moto, fed: &Federation, config: &str) -> Sandbox {
    let mut s = Sandbox::with_config(config);
    s.set_env("AWS_ENDPOINT_URL", &moto.url());
    s.set_env("AWS_VAULT_FEDERATION_URL", &fed.url);
    s
}

/// Run the AWS CLI against moto with the given key; returns parsed JSON stdout.
fn aws(moto: &Moto, dir: &Path, key: (&str, &str), args: &[&str]) -> serde_json::Value {
    let out = aws_command(moto, dir, args)
        .env("AWS_ACCESS_KEY_ID", key.0)
        .env("AWS_SECRET_ACCESS_KEY", key.1)
        .output()
        .expect("the aws CLI is required: pip install awscli");
    assert!(
        out.status.success(),
        "aws {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

/// Create an IAM user with an allow-all inline policy and one access key; returns the key.
fn create_user(moto: &Moto, dir: &Path, name: &str, key: (&str, &str)) -> (String, String) {
    aws(moto, dir, key, &["iam", "create-user", "--user-name", name]);
    aws(
        moto,
        dir,
        key,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            name,
            "--policy-name",
            "all",
            "--policy-document",
            FEDERATION_POLICY,
        ],
    );
    let k = aws(
        moto,
        dir,
        key,
        &["iam", "create-access-key", "--user-name", name],
    );
    (
        k["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string(),
        k["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// Calls recorded after `mark` (a count of calls taken earlier): moto state is kept, only the
/// view of the call log moves on.
fn calls_after(moto: &Moto, mark: usize, action: &str) -> Vec<common::moto::Call> {
    moto.calls()
        .into_iter()
        .skip(mark)
        .filter(|c| c.action == action)
        .collect()
}

#[track_caller]
fn one_after(moto: &Moto, mark: usize, action: &str) -> common::moto::Call {
    let c = calls_after(moto, mark, action);
    assert_eq!(
        c.len(),
        1,
        "expected one {action} call after #{mark}: {:#?}",
        moto.calls()
    );
    c.into_iter().next().unwrap()
}

const ANY_KEY: (&str, &str) = ("AKIAIOSFODNN7EXAMPLE", "dummy");

// ---------------------------------------------------------------------------------------------
// login

#[test]
fn login_iam_user_uses_get_federation_token() {
    let moto = Moto::start();
    let fed = Federation::start(200);
    let s = sandbox(&moto, &fed, "[profile alice]\nregion = eu-west-1\n");
    let (id, secret) = create_user(&moto, s.dir.path(), "alice", ANY_KEY);
    s.add("alice", &id, &secret);
    let m = moto.calls().len();

    let out = s
        .run(&["login", "--stdout", "-d", "2h", "alice"])
        .ok()
        .stdout;
    assert_login_url(
        &out,
        &fed.url,
        "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1",
    );
    // GetCallerIdentity decided, GetUser named the user, GetFederationToken made the session.
    assert_eq!(
        one_after(&moto, m, "GetCallerIdentity")
            .access_key
            .as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        one_after(&moto, m, "GetUser").access_key.as_deref(),
        Some(id.as_str())
    );
    let call = one_after(&moto, m, "GetFederationToken");
    assert_eq!(call.access_key.as_deref(), Some(id.as_str()));
    assert_eq!(call.param("Name"), Some("alice"));
    assert_eq!(call.param("DurationSeconds"), Some("7200"));
    assert_eq!(call.param("Policy"), Some(FEDERATION_POLICY));
    assert!(
        calls_after(&moto, m, "GetSessionToken").is_empty(),
        "login never primes the target"
    );
    // The Session JSON holds moto's federation-token credentials.
    let session = fed.session();
    assert_eq!(session["sessionId"], "AKIAIOSFODNN7EXAMPLE");
    assert!(!session["sessionKey"].as_str().unwrap().is_empty());
    assert!(session["sessionToken"]
        .as_str()
        .unwrap()
        .starts_with("AQoDYXdzEPT"));
}

#[test]
fn login_role_profile_uses_role_credentials_with_path_and_auto_logout() {
    let moto = Moto::start();
    let fed = Federation::start(200);
    let s = sandbox(
        &moto,
        &fed,
        "[profile base]\n\
         [profile gov]\n\
         source_profile = base\n\
         role_arn = arn:aws-us-gov:iam::123456789012:role/Admin\n\
         region = us-gov-west-1\n",
    );
    s.add("base", "AKIABASEBASEBASE0001", "basesecret");
    let out = s
        .run(&["login", "-s", "-a", "--path", "ec2/home", "gov"])
        .ok()
        .stdout;
    let call = moto.one_call("AssumeRole");
    assert_eq!(
        call.param("RoleArn"),
        Some("arn:aws-us-gov:iam::123456789012:role/Admin")
    );
    assert_eq!(call.access_key.as_deref(), Some("AKIABASEBASEBASE0001"));
    assert!(moto.calls_to("GetCallerIdentity").is_empty());
    assert!(moto.calls_to("GetFederationToken").is_empty());
    let session = fed.session();
    assert!(session["sessionId"].as_str().unwrap().starts_with("ASIA"));
    assert!(session["sessionToken"]
        .as_str()
        .unwrap()
        .starts_with("FQoGZXIvYXdzE"));

    // --auto-logout: the logout endpoint on the federation host, wrapping the login URL.
    let url = out.trim_end();
    let origin = fed.url.trim_end_matches("/federation");
    assert!(
        url.starts_with(&format!("{origin}/oauth?Action=logout&redirect_uri=")),
        "{url}"
    );
    let params = url_params(url);
    assert_eq!(params[0], ("Action".into(), "logout".into()));
    assert_eq!(
        params[1].1,
        format!(
            "{}?Action=login&Issuer=aws-vault&Destination=https://us-gov-west-1.console.amazonaws-us-gov.com/ec2/home?region=us-gov-west-1&SigninToken={SIGNIN_TOKEN}",
            fed.url
        )
    );
}

#[test]
fn login_with_environment_credentials() {
    let moto = Moto::start();
    let fed = Federation::start(200);
    let s = sandbox(&moto, &fed, "");
    let (id, secret) = create_user(&moto, s.dir.path(), "carol", ANY_KEY);
    let m = moto.calls().len();

    // Long-term keys: federated.
    let out = s
        .run_env(
            &["login", "--stdout", "--path", "/s3/home"],
            &[
                ("AWS_ACCESS_KEY_ID", &id),
                ("AWS_SECRET_ACCESS_KEY", &secret),
                ("AWS_REGION", "eu-central-1"),
            ],
        )
        .ok()
        .stdout;
    assert_login_url(
        &out,
        &fed.url,
        "https://eu-central-1.console.aws.amazon.com/s3/home?region=eu-central-1",
    );
    assert_eq!(
        one_after(&moto, m, "GetFederationToken").param("Name"),
        Some("carol")
    );
    assert_eq!(fed.session()["sessionId"], "AKIAIOSFODNN7EXAMPLE");

    // Assumed-role keys from the environment: GetCallerIdentity says so, used as they are.
    let role = aws(
        &moto,
        s.dir.path(),
        (&id, &secret),
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::123456789012:role/R",
            "--role-session-name",
            "xx",
        ],
    );
    let c = &role["Credentials"];
    let m = moto.calls().len();
    let fed2 = Federation::start(200);
    let out = s
        .run_env(
            &["login", "--stdout"],
            &[
                ("AWS_VAULT_FEDERATION_URL", &fed2.url),
                ("AWS_ACCESS_KEY", c["AccessKeyId"].as_str().unwrap()),
                ("AWS_SECRET_KEY", c["SecretAccessKey"].as_str().unwrap()),
                ("AWS_SESSION_TOKEN", c["SessionToken"].as_str().unwrap()),
            ],
        )
        .ok()
        .stdout;
    // No region: the commercial console home page.
    assert_login_url(&out, &fed2.url, "https://console.aws.amazon.com/");
    assert_eq!(calls_after(&moto, m, "GetCallerIdentity").len(), 1);
    assert!(calls_after(&moto, m, "GetFederationToken").is_empty());
    let session = fed2.session();
    assert_eq!(session["sessionId"], c["AccessKeyId"]);
    assert_eq!(session["sessionToken"], c["SessionToken"]);
}

#[test]
fn login_opens_the_browser_from_browser_variable() {
    let moto = Moto::start();
    let fed = Federation::start(200);
    let mut s = sandbox(&moto, &fed, "[profile base]\nregion = eu-west-1\n[profile r]\nsource_profile = base\nrole_arn = arn:aws:iam::1:role/R\nregion = eu-west-1\n");
    s.add("base", "AKIABASEBASEBASE0001", "basesecret");
    let script = s.dir.path().join("browser.sh");
    let seen = s.dir.path().join("opened");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", seen.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.set_env("BROWSER", script.to_str().unwrap());
    let run = s.run(&["login", "r"]).ok();
    assert_eq!(run.stdout, "");
    let opened = std::fs::read_to_string(&seen).unwrap();
    assert_login_url(
        &opened,
        &fed.url,
        "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1",
    );
}

#[test]
fn login_reports_signin_token_errors() {
    let moto = Moto::start();
    let fed = Federation::start(400);
    let s = sandbox(
        &moto,
        &fed,
        "[profile base]\n[profile r]\nsource_profile = base\nrole_arn = arn:aws:iam::1:role/R\n",
    );
    s.add("base", "AKIABASEBASEBASE0001", "basesecret");
    let line = s.run(&["login", "--stdout", "r"]).fails();
    assert_eq!(
        line,
        "aws-vault: error: login: Call to getSigninToken failed with 400 Bad Request"
    );
    let line = s.run(&["login", "--stdout", "missing"]).fails();
    assert_eq!(
        line,
        "aws-vault: error: login: profile 'missing' not found in ~/.aws/config and no stored credentials exist for it"
    );
}

// ---------------------------------------------------------------------------------------------
// rotate (moto in enforcement mode: a deleted key is rejected)

struct RotateWorld {
    moto: Moto,
    s: Sandbox,
    old: (String, String),
    /// Calls before the test proper (bootstrap).
    mark: usize,
}

impl RotateWorld {
    fn calls(&self, action: &str) -> Vec<common::moto::Call> {
        calls_after(&self.moto, self.mark, action)
    }
    #[track_caller]
    fn one(&self, action: &str) -> common::moto::Call {
        one_after(&self.moto, self.mark, action)
    }
}

/// moto with enforcement after 3 free calls (user, policy, key for bob), a role `Admin` with an
/// allow-all policy, bob's key stored under `bob`, and profiles `admin` (role from bob) and
/// `team` (role from admin: master two levels down).
fn rotate_world() -> RotateWorld {
    let moto = Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let mut s = Sandbox::with_config(
        "[profile bob]\nregion = us-east-1\n\
         [profile admin]\nsource_profile = bob\nrole_arn = arn:aws:iam::123456789012:role/Admin\nrole_session_name = chain\n\
         [profile team]\nsource_profile = admin\nrole_arn = arn:aws:iam::123456789012:role/Admin\n",
    );
    s.set_env("AWS_ENDPOINT_URL", &moto.url());
    let old = create_user(&moto, s.dir.path(), "bob", ANY_KEY);
    let key = (old.0.as_str(), old.1.as_str());
    aws(
        &moto,
        s.dir.path(),
        key,
        &[
            "iam",
            "create-role",
            "--role-name",
            "Admin",
            "--assume-role-policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/bob","arn:aws:sts::123456789012:assumed-role/Admin/chain"]},"Action":"sts:AssumeRole"}]}"#,
        ],
    );
    aws(
        &moto,
        s.dir.path(),
        key,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "Admin",
            "--policy-name",
            "all",
            "--policy-document",
            FEDERATION_POLICY,
        ],
    );
    s.add("bob", &old.0, &old.1);
    let mark = moto.calls().len();
    RotateWorld { moto, s, old, mark }
}

fn stored_key(s: &Sandbox, name: &str) -> (String, String) {
    let kr = s.keyring();
    let c = CredentialStore::new(&kr).get(name).unwrap();
    (c.access_key_id.clone(), c.secret().to_string())
}

fn list_keys(w: &RotateWorld, key: &(String, String)) -> Vec<String> {
    let v = aws(
        &w.moto,
        w.s.dir.path(),
        (&key.0, &key.1),
        &["iam", "list-access-keys", "--user-name", "bob"],
    );
    let mut ids: Vec<String> = v["AccessKeyMetadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["AccessKeyId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn session_profiles(s: &Sandbox) -> Vec<String> {
    let kr = s.keyring();
    let mut p: Vec<String> = SessionStore::new(&kr)
        .all()
        .unwrap()
        .into_iter()
        .map(|k| k.profile)
        .collect();
    p.sort();
    p
}

fn mask(id: &str) -> String {
    format!("****************{}", &id[id.len() - 4..])
}

#[test]
fn rotate_through_a_role_chain() {
    let w = rotate_world();
    // Cache sessions for every profile of the chain (AssumeRole for admin and team; a
    // GetSessionToken session for bob).
    w.s.run(&["export", "team"]).ok();
    w.s.run(&["export", "bob"]).ok();
    assert_eq!(session_profiles(&w.s), ["admin", "bob", "team"]);
    let mut w = w;
    w.mark = w.moto.calls().len();

    let out = w.s.run(&["rotate", "team"]).ok().stdout;
    let new = stored_key(&w.s, "bob");
    assert_ne!(new.0, w.old.0);
    assert_eq!(
        out,
        format!(
            "Rotating credentials stored for profile 'bob' using a session from profile 'team' (takes 10-20 seconds)\n\
             Creating a new access key\n\
             Created new access key {}\n\
             Deleted 1 sessions for team\n\
             Deleted 1 sessions for admin\n\
             Deleted 1 sessions for bob\n\
             Deleting old access key {}\n\
             Deleted old access key {}\n\
             Finished rotating access key\n",
            mask(&new.0),
            mask(&w.old.0),
            mask(&w.old.0)
        )
    );
    // Fresh role credentials (no cache) made the IAM calls, with the user named explicitly.
    assert_eq!(w.calls("AssumeRole").len(), 2);
    let create = w.one("CreateAccessKey");
    assert_eq!(create.param("UserName"), Some("bob"));
    assert!(create.access_key.as_deref().unwrap().starts_with("ASIA"));
    let delete = w.one("DeleteAccessKey");
    assert_eq!(delete.param("AccessKeyId"), Some(w.old.0.as_str()));
    assert_eq!(delete.param("UserName"), Some("bob"));
    // IAM has only the new key, the old one is rejected, and no session of the chain is left.
    assert_eq!(list_keys(&w, &new), vec![new.0.clone()]);
    let rejected = aws_command(&w.moto, w.s.dir.path(), &["sts", "get-caller-identity"])
        .env("AWS_ACCESS_KEY_ID", &w.old.0)
        .env("AWS_SECRET_ACCESS_KEY", &w.old.1)
        .output()
        .unwrap();
    assert!(!rejected.status.success());
    assert!(String::from_utf8_lossy(&rejected.stderr).contains("InvalidClientTokenId"));
    assert!(session_profiles(&w.s).is_empty());
    // The new key works for aws-vault.
    w.s.run(&["export", "admin"]).ok();
}

#[test]
fn rotate_no_session_uses_the_master_keys() {
    let w = rotate_world();
    let out = w.s.run(&["rotate", "--no-session", "admin"]).ok().stdout;
    assert!(out.starts_with("Rotating credentials stored for profile 'bob' using master credentials (takes 10-20 seconds)\n"), "{out}");
    let new = stored_key(&w.s, "bob");
    let create = w.one("CreateAccessKey");
    assert_eq!(create.access_key.as_deref(), Some(w.old.0.as_str()));
    assert_eq!(create.param("UserName"), None);
    assert!(w.calls("AssumeRole").is_empty());
    assert!(w.calls("GetSessionToken").is_empty());
    assert_eq!(list_keys(&w, &new), vec![new.0.clone()]);
}

#[test]
fn rotate_failure_after_create_accounts_for_both_keys() {
    let w = rotate_world();
    w.moto
        .fail("DeleteAccessKey", 500, "ServiceFailure", "injected");
    let line = w.s.run(&["rotate", "-n", "bob"]).fails();
    w.moto.clear_failures();
    let new = stored_key(&w.s, "bob");
    assert_ne!(new.0, w.old.0);
    assert!(
        line.starts_with(&format!(
            "aws-vault: error: rotate: Can't delete old access key {}: After ",
            mask(&w.old.0)
        )),
        "{line}"
    );
    assert!(
        line.contains("last error: DeleteAccessKey: ServiceFailure: injected"),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "The new access key {} is stored in the keyring for 'bob' and active",
            new.0
        )),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "the old access key {} is no longer stored but still active",
            w.old.0
        )),
        "{line}"
    );
    assert!(w.calls("DeleteAccessKey").len() >= 2, "retried");
    // Both keys exist at IAM; the stored one works.
    let mut both = vec![w.old.0.clone(), new.0.clone()];
    both.sort();
    assert_eq!(list_keys(&w, &new), both);
}

#[test]
fn rotate_create_failure_changes_nothing() {
    let w = rotate_world();
    w.moto.fail(
        "CreateAccessKey",
        409,
        "LimitExceeded",
        "Cannot exceed quota for AccessKeysPerUser: 2",
    );
    let line = w.s.run(&["rotate", "-n", "bob"]).fails();
    assert_eq!(
        line,
        "aws-vault: error: rotate: Error creating a new access key: CreateAccessKey: LimitExceeded: Cannot exceed quota for AccessKeysPerUser: 2"
    );
    w.moto.clear_failures();
    assert_eq!(stored_key(&w.s, "bob"), w.old);
    assert!(w.calls("DeleteAccessKey").is_empty());
}

#[test]
fn rotate_without_master_credentials() {
    let s = Sandbox::with_config(
        "[profile a]\nsource_profile = b\nrole_arn = arn:aws:iam::1:role/R\n[profile b]\n",
    );
    let line = s.run(&["rotate", "a"]).fails();
    assert_eq!(
        line,
        "aws-vault: error: rotate: Error determining credential name for 'a': No master credentials found"
    );
}

// ---------------------------------------------------------------------------------------------
// migrate-backend: file <-> pass

/// A pass store with a passphrase-less GnuPG key in the sandbox (test-infra §3).
fn pass_store(s: &mut Sandbox) -> std::path::PathBuf {
    let gnupg = s.dir.path().join("gnupg");
    let store = s.dir.path().join("store");
    std::fs::create_dir_all(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = |cmd: &mut Command| {
        let out = cmd
            .env("GNUPGHOME", &gnupg)
            .env("PASSWORD_STORE_DIR", &store)
            .output()
            .expect("gpg and pass are required: apt-get install pass gnupg");
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(Command::new("gpg").args([
        "--batch",
        "--passphrase",
        "",
        "--quick-gen-key",
        "aws-vault test <test@example.invalid>",
        "default",
        "default",
        "never",
    ]));
    let list = run(Command::new("gpg").args(["--list-secret-keys", "--with-colons"]));
    let fpr = list
        .lines()
        .find(|l| l.starts_with("fpr"))
        .and_then(|l| l.split(':').nth(9))
        .unwrap()
        .to_string();
    run(Command::new("pass").args(["init", &fpr]));
    s.set_env("GNUPGHOME", gnupg.to_str().unwrap());
    s.set_env("AWS_VAULT_PASS_PASSWORD_STORE_DIR", store.to_str().unwrap());
    s.set_env("AWS_VAULT_PASS_PREFIX", "aws-vault");
    store
}

impl Drop for PassCleanup {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", &self.0)
            .output();
    }
}
struct PassCleanup(std::path::PathBuf);

fn pass_keys(s: &Sandbox) -> Vec<String> {
    let out = s
        .run(&["list", "--credentials", "--backend", "pass"])
        .ok()
        .stdout;
    let mut names: Vec<String> = out.lines().map(str::to_string).collect();
    names.sort();
    names
}

#[test]
fn migrate_file_to_pass_and_back() {
    let mut s = Sandbox::new();
    let _store = pass_store(&mut s);
    let _cleanup = PassCleanup(s.dir.path().join("gnupg"));
    s.add("prod", "AKIAPROD000000000001", "prodsecret");
    s.add("dev", "AKIADEV0000000000001", "devsecret");
    s.add("ci", "AKIACI00000000000001", "cisecret");
    // A cached session is never migrated.
    let kr = s.keyring();
    let mut sess = CredentialStore::new(&kr).get("prod").unwrap();
    sess.session_token = Some(secrecy::SecretString::from("tok".to_string()));
    sess.expires = Some(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1));
    SessionStore::new(&kr)
        .set("sts.GetSessionToken", "prod", "", &sess)
        .unwrap();

    // --dry-run changes nothing.
    let out = s
        .run(&[
            "migrate-backend",
            "--from",
            "file",
            "--to",
            "pass",
            "--dry-run",
        ])
        .ok()
        .stdout;
    assert_eq!(
        out,
        "Would migrate 3 credential profile(s) from file to pass:\n  ci\n  dev\n  prod\n\nNo changes made.\n"
    );
    assert!(pass_keys(&s).is_empty());

    // Copy with verification.
    let out = s
        .run(&["migrate-backend", "--from", "file", "--to", "pass"])
        .ok()
        .stdout;
    assert_eq!(
        out,
        "Migrating ci... copied, verified\nMigrating dev... copied, verified\nMigrating prod... copied, verified\n\n\
         Migration summary:\n  copied: 3\n  overwritten: 0\n  skipped: 0\n  deleted from source: 0\n"
    );
    assert_eq!(pass_keys(&s), ["ci", "dev", "prod"]);
    assert_eq!(kr.keys().unwrap().len(), 4, "the source is untouched");
    let env = s
        .run(&["export", "--backend", "pass", "--no-session", "dev"])
        .ok()
        .stdout;
    assert!(
        env.contains("AWS_ACCESS_KEY_ID=AKIADEV0000000000001\n"),
        "{env}"
    );

    // Existing entries are skipped unless --overwrite.
    CredentialStore::new(&kr)
        .set(
            "dev",
            &aws_vault::creds::Credentials {
                access_key_id: "AKIADEVNEW000000NEW1".into(),
                secret_access_key: secrecy::SecretString::from("new".to_string()),
                session_token: None,
                expires: None,
            },
        )
        .unwrap();
    let out = s
        .run(&[
            "migrate-backend",
            "--from",
            "file",
            "--to",
            "pass",
            "--profile",
            "dev",
        ])
        .ok()
        .stdout;
    assert!(
        out.starts_with("Migrating dev... skipped, already exists in destination\n"),
        "{out}"
    );
    assert!(
        out.ends_with("  copied: 0\n  overwritten: 0\n  skipped: 1\n  deleted from source: 0\n"),
        "{out}"
    );
    let out = s
        .run(&[
            "migrate-backend",
            "--from",
            "file",
            "--to",
            "pass",
            "--profile",
            "dev",
            "--overwrite",
            "--delete-source",
        ])
        .ok()
        .stdout;
    assert!(
        out.starts_with("Migrating dev... overwritten, verified, deleted source\n"),
        "{out}"
    );
    assert!(
        out.ends_with("  copied: 0\n  overwritten: 1\n  skipped: 0\n  deleted from source: 1\n"),
        "{out}"
    );
    let env = s
        .run(&["export", "--backend", "pass", "--no-session", "dev"])
        .ok()
        .stdout;
    assert!(
        env.contains("AWS_ACCESS_KEY_ID=AKIADEVNEW000000NEW1\n"),
        "{env}"
    );
    assert!(!CredentialStore::new(&kr).has("dev").unwrap());

    // And back from pass to file, removing it from pass.
    let out = s
        .run(&[
            "migrate-backend",
            "--from",
            "pass",
            "--to",
            "file",
            "--profile",
            "dev",
            "--delete-source",
        ])
        .ok()
        .stdout;
    assert!(
        out.starts_with("Migrating dev... copied, verified, deleted source\n"),
        "{out}"
    );
    assert_eq!(
        CredentialStore::new(&kr).get("dev").unwrap().access_key_id,
        "AKIADEVNEW000000NEW1"
    );
    assert_eq!(pass_keys(&s), ["ci", "prod"]);

    // Errors.
    let line = s
        .run(&["migrate-backend", "--from", "file", "--to", "file"])
        .fails();
    assert_eq!(
        line,
        "aws-vault: error: migrate-backend: source and destination backends must differ"
    );
    let line = s.run(&["migrate-backend", "--from", "file"]).fails();
    assert_eq!(
        line,
        "aws-vault: error: required flag(s) '--to' not provided, try --help"
    );
    let line = s
        .run(&[
            "migrate-backend",
            "--from",
            "file",
            "--to",
            "pass",
            "--profile",
            "nope",
        ])
        .fails();
    assert_eq!(
        line,
        "aws-vault: error: migrate-backend: profile \"nope\" not found in source backend"
    );
}

#[test]
fn migrate_failure_midway_leaves_the_source_intact() {
    let mut s = Sandbox::new();
    let _store = pass_store(&mut s);
    let _cleanup = PassCleanup(s.dir.path().join("gnupg"));
    for (p, id) in [
        ("a", "AKIAAAAAAAAAAAAAAAA1"),
        ("b", "AKIABBBBBBBBBBBBBBB1"),
        ("c", "AKIACCCCCCCCCCCCCCC1"),
    ] {
        s.add(p, id, "secret");
    }
    // A pass wrapper that refuses to write entry `b`.
    let wrapper = s.dir.path().join("pass-wrapper");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\ncase \"$*\" in *insert*aws-vault/b*) echo 'gpg: injected failure' >&2; exit 2;; esac\nexec pass \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.set_env("AWS_VAULT_PASS_CMD", wrapper.to_str().unwrap());

    let run = s.run(&[
        "migrate-backend",
        "--from",
        "file",
        "--to",
        "pass",
        "--delete-source",
    ]);
    assert_ne!(run.code, 0);
    assert!(run.stdout.starts_with(
        "Migrating a... copied, verified, deleted source\nMigrating b... failed: write destination profile \"b\": "
    ), "{}", run.stdout);
    assert!(
        run.stdout.ends_with(
            "Migration stopped. Source credentials were not deleted for the failed profile.\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .starts_with("aws-vault: error: migrate-backend: write destination profile \"b\": "),
        "{}",
        run.stderr
    );
    // `a` moved (verified in pass); `b` and `c` are untouched in the source.
    let kr = s.keyring();
    let mut left = CredentialStore::new(&kr).names().unwrap();
    left.sort();
    assert_eq!(left, ["b", "c"]);
    assert_eq!(
        CredentialStore::new(&kr).get("b").unwrap().access_key_id,
        "AKIABBBBBBBBBBBBBBB1"
    );
    assert_eq!(pass_keys(&s), ["a"]);

    // Without --delete-source a failure leaves every source entry in place.
    let run = s.run(&["migrate-backend", "--from", "file", "--to", "pass"]);
    assert_ne!(run.code, 0);
    let mut left = CredentialStore::new(&kr).names().unwrap();
    left.sort();
    assert_eq!(left, ["b", "c"]);
}

#[test]
fn migrate_file_to_secret_service() {
    let gk = common::stores::GnomeKeyring::start();
    let mut s = Sandbox::new();
    gk.bus.apply(&mut s);
    s.add("prod", "AKIAPROD000000000001", "prodsecret");
    s.add("dev", "AKIADEV0000000000001", "devsecret");
    // Sorted: the backend lists in its own order.
    let ss_list = |s: &Sandbox| {
        let out = s
            .run(&["list", "--credentials", "--backend", "secret-service"])
            .ok()
            .stdout;
        let mut names: Vec<&str> = out.lines().collect();
        names.sort();
        names.iter().map(|n| format!("{n}\n")).collect::<String>()
    };
    assert_eq!(ss_list(&s), "");

    let out = s
        .run(&[
            "migrate-backend",
            "--from",
            "file",
            "--to",
            "secret-service",
            "--delete-source",
        ])
        .ok()
        .stdout;
    assert_eq!(
        out,
        "Migrating dev... copied, verified, deleted source\n\
         Migrating prod... copied, verified, deleted source\n\n\
         Migration summary:\n  copied: 2\n  overwritten: 0\n  skipped: 0\n  deleted from source: 2\n"
    );
    assert_eq!(ss_list(&s), "dev\nprod\n");
    let kr = s.keyring();
    assert!(CredentialStore::new(&kr).names().unwrap().is_empty());
    let env = s
        .run(&["export", "--backend", "secret-service", "-n", "prod"])
        .ok()
        .stdout;
    assert!(env.contains("AWS_SECRET_ACCESS_KEY=prodsecret\n"), "{env}");

    // The other direction, dry run: nothing changes, the destination is not even opened.
    let out = s
        .run(&[
            "migrate-backend",
            "--from",
            "secret-service",
            "--to",
            "file",
            "--dry-run",
        ])
        .ok()
        .stdout;
    assert_eq!(
        out,
        "Would migrate 2 credential profile(s) from secret-service to file:\n  dev\n  prod\n\nNo changes made.\n"
    );
    assert!(CredentialStore::new(&kr).names().unwrap().is_empty());
    assert_eq!(ss_list(&s), "dev\nprod\n");
}
