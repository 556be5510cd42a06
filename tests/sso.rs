//! IAM Identity Center end to end: the real binary against a fake SSO/SSO-OIDC server
//! (`tests/support/sso_fake.py`), with a test `BROWSER` that plays the user.
mod common;

use std::time::Duration;

use aws_vault::keyring::Keyring;
use aws_vault::store::{OidcStore, SessionStore};
use common::sso::{browser_log, json, sandbox, SsoFake, ACCOUNT, ROLE, START_URL};
use common::Sandbox;

const CORP_URL: &str = "https://corp.awsapps.com/start";

fn export(s: &Sandbox, profile: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["export", "--format=json"];
    args.extend_from_slice(extra);
    args.push(profile);
    json(&s.run(&args).ok().stdout)
}

fn drop_sessions(s: &Sandbox, profile: &str) {
    let kr = s.keyring();
    SessionStore::new(&kr).remove_for_profile(profile).unwrap();
}

fn keys(s: &Sandbox) -> Vec<String> {
    s.keyring().keys().unwrap()
}

fn last_line(stderr: &str) -> String {
    stderr.lines().last().unwrap_or("").to_string()
}

#[test]
fn pkce_login_then_cached_token_and_cached_credentials() {
    let fake = SsoFake::start("{}");
    let s = sandbox(&fake);

    let out = export(&s, "sso", &[]);
    assert!(out["AccessKeyId"].as_str().unwrap().starts_with("ASIASSO"));
    assert!(out["Expiration"].is_string());

    // One registration for the authorization-code flow, one browser launch, the code exchanged
    // with the PKCE verifier.
    let reg = fake.calls_to("/client/register");
    assert_eq!(reg.len(), 1);
    assert_eq!(reg[0].body["clientName"], "aws-vault");
    assert_eq!(reg[0].body["clientType"], "public");
    assert_eq!(
        reg[0].body["grantTypes"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(reg[0].body["issuerUrl"], START_URL);
    let launches = browser_log(&s);
    assert_eq!(launches.len(), 1, "{launches:?}");
    assert!(launches[0].starts_with(&format!("{}/authorize?", fake.url())));
    let auth = fake.calls_to("/authorize");
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0].query["code_challenge_method"], "S256");
    let redirect = auth[0].query["redirect_uri"].as_str().unwrap();
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/oauth/callback"));
    let tokens = fake.calls_to("/token");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].body["grantType"], "authorization_code");
    assert_eq!(tokens[0].body["redirectUri"], redirect);
    assert_eq!(tokens[0].body["codeVerifier"].as_str().unwrap().len(), 43);
    let grc = fake.calls_to("/federation/credentials");
    assert_eq!(grc.len(), 1);
    assert_eq!(grc[0].query["account_id"], ACCOUNT);
    assert_eq!(grc[0].query["role_name"], ROLE);
    assert!(grc[0]
        .header("x-amz-sso_bearer_token")
        .unwrap()
        .starts_with("at-"));

    // Token stored under oidc:<start URL> in the Go format; the registration under its own key.
    let kr = s.keyring();
    let token = OidcStore::new(&kr)
        .get(START_URL, jiff::Timestamp::now())
        .unwrap()
        .expect("token cached");
    assert_eq!(token.token_type, "Bearer");
    assert!(keys(&s)
        .iter()
        .any(|k| k == &format!("oidc:client:pkce:{START_URL}")));

    // Second run: role credentials from the session cache, no call at all.
    let n = fake.calls().len();
    let again = export(&s, "sso", &[]);
    assert_eq!(again["AccessKeyId"], out["AccessKeyId"]);
    assert_eq!(fake.calls().len(), n);

    // Without the role session: the cached token is used, no login.
    drop_sessions(&s, "sso");
    export(&s, "sso", &[]);
    assert_eq!(fake.calls_to("/federation/credentials").len(), 2);
    assert_eq!(fake.logins(), 1);
    assert_eq!(browser_log(&s).len(), 1);
}

#[test]
fn device_code_flow_with_the_flag_prints_code_and_opens_the_browser() {
    let fake = SsoFake::start("{}");
    let s = sandbox(&fake);
    let run = s
        .run(&["export", "--format=json", "--use-device-code", "sso"])
        .ok();
    json(&run.stdout);
    let dev = fake.calls_to("/device_authorization");
    assert_eq!(dev.len(), 1);
    assert_eq!(dev[0].body["startUrl"], START_URL);
    // Always shows the verification URL and the user code.
    assert!(
        run.stderr.contains(&format!("{}/device", fake.url())),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("enter the code ") && run.stderr.contains('-'),
        "{}",
        run.stderr
    );
    let launches = browser_log(&s);
    assert_eq!(launches.len(), 1);
    assert!(launches[0].contains("/device?user_code="));
    let reg = fake.calls_to("/client/register");
    assert_eq!(reg.len(), 1);
    assert!(reg[0].body.get("grantTypes").is_none());
    assert!(fake.token_grants("urn:ietf:params:oauth:grant-type:device_code") >= 1);
    assert_eq!(fake.calls_to("/authorize").len(), 0);
}

#[test]
fn stdout_never_runs_the_browser_and_slow_down_backs_off() {
    let fake = SsoFake::start(r#"{"auto_approve": 1, "slow_down": 1}"#);
    let s = sandbox(&fake);
    let started = std::time::Instant::now();
    let run = s.run(&["export", "--format=json", "--stdout", "sso"]).ok();
    json(&run.stdout);
    assert!(browser_log(&s).is_empty(), "--stdout ran $BROWSER");
    assert!(
        run.stderr
            .contains("Open the SSO authorization page in a browser (use Ctrl-C to abort)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("/device?user_code="), "{}", run.stderr);
    // slow_down does not abort (docs/compatibility.md §7.8): the next poll comes after an interval grown by
    // 5 s (interval 1 s: first poll at 1 s, the approved one at >= 1 + 6 s).
    let polls = fake.token_grants("urn:ietf:params:oauth:grant-type:device_code");
    assert_eq!(polls, 2);
    assert!(started.elapsed() >= Duration::from_secs(7));
}

#[test]
fn no_browser_available_falls_back_to_the_device_flow() {
    let fake = SsoFake::start(r#"{"auto_approve": 1}"#);
    let mut s = sandbox(&fake);
    s.set_env("BROWSER", "");
    // No DISPLAY/WAYLAND_DISPLAY in the sandbox environment: nothing to open a browser with.
    let run = s.run(&["export", "--format=json", "sso"]).ok();
    json(&run.stdout);
    assert_eq!(fake.calls_to("/device_authorization").len(), 1);
    assert!(run.stderr.contains("enter the code"), "{}", run.stderr);
}

#[test]
fn expired_token_is_refreshed_with_the_refresh_token() {
    let fake = SsoFake::start("{}");
    let s = sandbox(&fake);
    export(&s, "sess", &[]);
    let reg = fake.calls_to("/client/register");
    assert_eq!(
        reg[0].body["scopes"],
        serde_json::json!(["sso:account:access"])
    );
    let kr = s.keyring();
    let store = OidcStore::new(&kr);
    let mut token = store.get_any(CORP_URL).unwrap().unwrap();
    assert!(
        token.refresh_token.is_some(),
        "scopes registered: refresh token expected"
    );

    // Expire it and drop the role session.
    token.expires = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1);
    store.set(CORP_URL, &token, jiff::Timestamp::now()).unwrap();
    drop_sessions(&s, "sess");

    export(&s, "sess", &[]);
    assert_eq!(fake.token_grants("refresh_token"), 1);
    let refresh = fake
        .calls_to("/token")
        .into_iter()
        .find(|c| c.body["grantType"] == "refresh_token")
        .unwrap();
    assert!(refresh.body["clientId"]
        .as_str()
        .unwrap()
        .starts_with("cid-"));
    assert_eq!(fake.calls_to("/client/register").len(), 1);
    assert_eq!(
        fake.logins(),
        1,
        "a refresh must not send the user to the browser"
    );
    assert_eq!(browser_log(&s).len(), 1);
    let fresh = store
        .get(CORP_URL, jiff::Timestamp::now())
        .unwrap()
        .unwrap();
    assert!(fresh.expires > jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1));
}

#[test]
fn revoked_token_means_exactly_one_new_login_with_the_cached_client() {
    let fake = SsoFake::start("{}");
    let s = sandbox(&fake);
    export(&s, "sso", &[]);
    drop_sessions(&s, "sso");
    fake.revoke();

    export(&s, "sso", &[]);
    let grc = fake.calls_to("/federation/credentials");
    assert_eq!(grc.len(), 3, "first call, 401, retry");
    assert_eq!(fake.logins(), 2);
    assert_eq!(browser_log(&s).len(), 2);
    // The client registration was reused, not registered again.
    assert_eq!(fake.calls_to("/client/register").len(), 1);
}

#[test]
fn twenty_parallel_exports_log_in_once() {
    let fake = SsoFake::start(r#"{"allowed": ["111111111111/Admin", "222222222222/Admin"]}"#);
    let s = sandbox(&fake);
    let children: Vec<_> = (0..20)
        .map(|i| {
            let profile = if i % 2 == 0 { "sess" } else { "other-role" };
            s.cmd(&["export", "--format=json", profile])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&String::from_utf8_lossy(&out.stdout));
    }
    assert_eq!(fake.logins(), 1);
    assert_eq!(browser_log(&s).len(), 1);
    assert_eq!(fake.calls_to("/client/register").len(), 1);
    // One role-credential call per profile (the rest came from the session cache).
    assert_eq!(fake.calls_to("/federation/credentials").len(), 2);
}

#[test]
fn profile_env_writes_the_aws_cli_cache_and_botocore_reads_it() {
    let fake = SsoFake::start("{}");
    let s = sandbox(&fake);
    s.run(&["exec", "--profile-env", "sess", "--", "true"]).ok();
    let file = s
        .home
        .join(".aws/sso/cache")
        .join(format!("{}.json", sha1_hex("corp")));
    let text = std::fs::read_to_string(&file).expect("cache file written");
    assert!(text.starts_with("{\"accessToken\":\"at-"), "{text}");
    assert!(text.contains("\"expiresAt\":\"") && text.contains("\"refreshToken\":\"rt-"));
    assert!(!text.ends_with('\n'));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // botocore's SSO token provider finds and accepts it.
    let script = "import botocore.session\nfrom botocore.tokens import SSOTokenProvider\n\
                  s = botocore.session.Session(profile='sess')\n\
                  print(SSOTokenProvider(s).load_token().get_frozen_token().token)\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &s.home)
        .env("AWS_CONFIG_FILE", &s.config)
        .output()
        .expect("python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'botocore'"),
        "botocore is required: pip install boto3"
    );
    assert!(out.status.success(), "{stderr}");
    let token: serde_json::Value = json(&text);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        token["accessToken"].as_str().unwrap()
    );
}

fn sha1_hex(s: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            &format!("import hashlib;print(hashlib.sha1({s:?}.encode()).hexdigest())"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_valid_aws_cli_token_is_used_and_a_malformed_one_ignored() {
    let fake = SsoFake::start(r#"{"auto_approve": 1}"#);
    let s = sandbox(&fake);
    let dir = s.home.join(".aws/sso/cache");
    std::fs::create_dir_all(&dir).unwrap();
    let minted = fake.mint();
    // The format the AWS CLI writes (more fields than ours).
    std::fs::write(
        dir.join(format!("{}.json", sha1_hex(START_URL))),
        format!(
            r#"{{"startUrl": "{START_URL}", "region": "eu-west-1", "accessToken": "{minted}", "expiresAt": "2099-01-01T00:00:00Z"}}"#
        ),
    )
    .unwrap();
    export(&s, "sso", &[]);
    assert_eq!(fake.logins(), 0);
    let grc = fake.calls_to("/federation/credentials");
    assert_eq!(grc[0].header("x-amz-sso_bearer_token").unwrap(), minted);

    // A malformed cache file: ignored, a normal login happens, no panic.
    std::fs::write(dir.join(format!("{}.json", sha1_hex("corp"))), "{not json").unwrap();
    let run = s.run(&["export", "--format=json", "--stdout", "sess"]).ok();
    json(&run.stdout);
    assert_eq!(fake.logins(), 1);
}

#[test]
fn list_and_clear_show_and_remove_oidc_tokens() {
    let fake = SsoFake::start("{}");
    let s = sandbox(&fake);
    export(&s, "sso", &[]);
    export(&s, "sess", &[]);
    let sessions = s.run(&["list", "--sessions"]).ok().stdout;
    let lines: Vec<&str> = sessions.lines().collect();
    assert!(lines.contains(&"oidc:example.awsapps.com"), "{sessions}");
    assert!(lines.contains(&"oidc:corp"), "{sessions}");
    assert!(
        !sessions.contains("client"),
        "registrations are not sessions: {sessions}"
    );
    let creds = s.run(&["list", "--credentials"]).ok().stdout;
    assert_eq!(creds, "", "registrations are not credentials");
    let table = s.run(&["list"]).ok().stdout;
    let sess_row = table.lines().find(|l| l.starts_with("sess ")).unwrap();
    assert!(sess_row.contains("oidc:corp"), "{table}");

    // clear <profile> resolves the start URL through [sso-session] and removes the token.
    let out = s.run(&["clear", "sess"]).ok().stdout;
    assert_eq!(out, "Cleared 2 sessions.\n");
    let kr = s.keyring();
    assert!(!OidcStore::new(&kr).has(CORP_URL).unwrap());
    assert!(OidcStore::new(&kr).has(START_URL).unwrap());
    let out = s.run(&["clear"]).ok().stdout;
    assert_eq!(out, "Cleared 2 sessions.\n");
    assert!(OidcStore::new(&kr).start_urls().unwrap().is_empty());
}

#[test]
fn denied_or_tampered_logins_fail_cleanly_and_store_nothing() {
    let fake = SsoFake::start(r#"{"deny": true}"#);
    let s = sandbox(&fake);
    let run = s.run(&["export", "--format=json", "sso"]);
    assert_ne!(run.code, 0);
    assert!(
        last_line(&run.stderr).contains("the SSO authorization was denied in the browser"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    assert!(!OidcStore::new(&s.keyring()).has(START_URL).unwrap());

    let fake = SsoFake::start("{}");
    let mut s = sandbox(&fake);
    s.set_env("SSO_BROWSER_MODE", "wrong-state");
    let run = s.run(&["export", "--format=json", "sso"]);
    assert_ne!(run.code, 0);
    assert!(
        last_line(&run.stderr).contains("state mismatch"),
        "{}",
        run.stderr
    );
    assert!(
        fake.calls_to("/token").is_empty(),
        "the code must not be exchanged"
    );
    assert!(!OidcStore::new(&s.keyring()).has(START_URL).unwrap());

    // Device flow: expired device code.
    let fake = SsoFake::start(r#"{"expire_device": true}"#);
    let s = sandbox(&fake);
    let run = s.run(&["export", "--format=json", "--stdout", "sso"]);
    assert_ne!(run.code, 0);
    assert!(
        last_line(&run.stderr).contains("expired before it was approved"),
        "{}",
        run.stderr
    );
    assert!(!OidcStore::new(&s.keyring()).has(START_URL).unwrap());
}

#[test]
fn forbidden_role_and_unreachable_endpoint_are_one_line_errors() {
    let fake = SsoFake::start(r#"{"allowed": []}"#);
    let s = sandbox(&fake);
    let run = s.run(&["export", "--format=json", "sso"]);
    assert_ne!(run.code, 0);
    let line = last_line(&run.stderr);
    assert!(
        line.contains("profile sso")
            && line.contains("GetRoleCredentials: ForbiddenException: No access"),
        "{}",
        run.stderr
    );
    // The token is fine and stays; no role session was cached.
    assert!(SessionStore::new(&s.keyring()).all().unwrap().is_empty());

    let s = Sandbox::with_config(&format!(
        "[profile sso]\nsso_start_url = {START_URL}\nsso_region = eu-west-1\nsso_account_id = {ACCOUNT}\n\
         sso_role_name = {ROLE}\nendpoint_url = http://127.0.0.1:1\n"
    ));
    let line = s
        .run(&["export", "--format=json", "--stdout", "sso"])
        .fails();
    assert!(
        line.contains("RegisterClient: cannot reach http://127.0.0.1:1"),
        "{line}"
    );
    assert!(keys(&s).is_empty(), "{:?}", keys(&s));

    // Missing settings name the key.
    let s = Sandbox::with_config(&format!(
        "[profile sso]\nsso_start_url = {START_URL}\nsso_region = eu-west-1\nsso_role_name = {ROLE}\n"
    ));
    let line = s.run(&["export", "sso"]).fails();
    assert!(line.contains("sso_account_id is not set"), "{line}");
}

#[test]
fn ctrl_c_while_waiting_for_the_browser_aborts_cleanly() {
    let fake = SsoFake::start("{}");
    let mut s = sandbox(&fake);
    s.set_env("SSO_BROWSER_MODE", "ignore");
    let child = s
        .cmd(&["export", "--format=json", "sso"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the login is waiting for the browser.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fake.calls_to("/client/register").is_empty() || browser_log(&s).is_empty() {
        assert!(std::time::Instant::now() < deadline, "login did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id() as i32;
    // SAFETY: sending SIGINT to our own child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(last_line(&stderr).contains("SSO login aborted"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(!OidcStore::new(&s.keyring()).has(START_URL).unwrap());
}

/// The Go tool writes an SSO session's `Expiration` (and the item's label) in the local zone;
/// the Go tool and this one read either form.
#[test]
fn sso_session_expiration_is_written_in_the_local_zone() {
    let fake = SsoFake::start("{}");
    let mut s = sandbox(&fake);
    s.set_env("TZ", "Asia/Kolkata");
    export(&s, "sso", &[]);
    let kr = s.keyring();
    let key = keys(&s)
        .into_iter()
        .find(|k| k.starts_with("sso.GetRoleCredentials,"))
        .expect("an SSO session is cached");
    let item = kr.get(&key).unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&item.data).unwrap();
    let expiration = payload["Expiration"].as_str().unwrap();
    assert!(expiration.ends_with("+05:30"), "{expiration}");
    assert!(item.label.ends_with("+05:30)"), "{}", item.label);
    // Read back as the same instant: the next export is a cache hit.
    let n = fake.calls().len();
    export(&s, "sso", &[]);
    assert_eq!(fake.calls().len(), n);
}
