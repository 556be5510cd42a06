//! The credential chain end to end: `aws-vault` against moto (STS) behind a recording proxy,
//! asserting what AWS received and what aws-vault printed.
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::moto::{aws_command, Moto};
use common::Sandbox;

const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const MFA: &str = "arn:aws:iam::111111111111:mfa/jonsmith";

/// A sandbox whose aws-vault talks to `moto` (through `AWS_ENDPOINT_URL`).
fn sandbox(moto: &Moto, config: &str) -> Sandbox {
    let mut s = Sandbox::with_config(config);
    s.set_env("AWS_ENDPOINT_URL", &moto.url());
    s
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A script that counts its runs in `<dir>/<name>.count` and prints `output`.
fn counting_script(dir: &Path, name: &str, output: &str) -> PathBuf {
    let path = dir.join(name);
    let count = dir.join(format!("{name}.count"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho run >> '{}'\ncat <<'EOF'\n{output}\nEOF\n",
            count.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn runs(dir: &Path, name: &str) -> usize {
    std::fs::read_to_string(dir.join(format!("{name}.count")))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn get_session_token_without_and_with_mfa() {
    let moto = Moto::start();
    let s = sandbox(&moto, "[profile plain]\nregion = eu-west-1\n[profile mfa]\nmfa_serial = arn:aws:iam::111111111111:mfa/jonsmith\n");
    s.add("plain", KEY_ID, SECRET);
    s.add("mfa", KEY_ID, SECRET);

    let out = json(&s.run(&["export", "--format=json", "plain"]).ok().stdout);
    let call = moto.one_call("GetSessionToken");
    assert_eq!(call.param("DurationSeconds"), Some("3600"));
    assert_eq!(call.param("SerialNumber"), None);
    assert_eq!(call.access_key.as_deref(), Some(KEY_ID));
    assert_eq!(out["AccessKeyId"], "AKIAIOSFODNN7EXAMPLE");
    assert!(out["SessionToken"]
        .as_str()
        .unwrap()
        .starts_with("AQoEXAMPLE"));
    assert!(out["Expiration"].as_str().unwrap().ends_with('Z'));

    moto.reset();
    s.run(&[
        "export",
        "--format=json",
        "--mfa-token",
        "123456",
        "-d",
        "2h",
        "mfa",
    ])
    .ok();
    let call = moto.one_call("GetSessionToken");
    assert_eq!(call.param("SerialNumber"), Some(MFA));
    assert_eq!(call.param("TokenCode"), Some("123456"));
    assert_eq!(call.param("DurationSeconds"), Some("7200"));
}

#[test]
fn assume_role_with_every_parameter() {
    let moto = Moto::start();
    let s = sandbox(
        &moto,
        "[profile base]\n\
         [profile role]\n\
         source_profile = base\n\
         role_arn = arn:aws:iam::222222222222:role/Admin\n\
         role_session_name = alice-session\n\
         external_id = ext-123\n\
         duration_seconds = 1800\n\
         session_tags = team=blue, env = prod\n\
         transitive_session_tags = team\n\
         source_identity = alice\n\
         mfa_serial = arn:aws:iam::111111111111:mfa/jonsmith\n\
         region = ap-southeast-2\n",
    );
    s.add("base", KEY_ID, SECRET);
    let env = s
        .run(&["export", "--mfa-token", "654321", "role"])
        .ok()
        .stdout;
    let call = moto.one_call("AssumeRole");
    let expected = [
        ("RoleArn", "arn:aws:iam::222222222222:role/Admin"),
        ("RoleSessionName", "alice-session"),
        ("ExternalId", "ext-123"),
        ("DurationSeconds", "1800"),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "blue"),
        ("Tags.member.2.Key", "env"),
        ("Tags.member.2.Value", "prod"),
        ("TransitiveTagKeys.member.1", "team"),
        ("SourceIdentity", "alice"),
        ("SerialNumber", MFA),
        ("TokenCode", "654321"),
    ];
    for (k, v) in expected {
        assert_eq!(call.param(k), Some(v), "{k} in {:?}", call.params);
    }
    assert_eq!(call.access_key.as_deref(), Some(KEY_ID));
    assert!(moto.calls_to("GetSessionToken").is_empty());
    assert!(env.contains("AWS_ACCESS_KEY_ID=ASIA"), "{env}");
    assert!(env.contains("AWS_SESSION_TOKEN="), "{env}");
    assert!(env.contains("AWS_REGION=ap-southeast-2\n"), "{env}");
}

#[test]
fn default_role_session_name_is_unix_nanoseconds() {
    let moto = Moto::start();
    let s = sandbox(
        &moto,
        "[profile base]\n[profile r]\nsource_profile = base\nrole_arn = arn:aws:iam::2:role/R\n",
    );
    s.add("base", KEY_ID, SECRET);
    s.run(&["export", "r"]).ok();
    let name = moto.one_call("AssumeRole").params["RoleSessionName"].clone();
    assert_eq!(name.len(), 19, "{name}");
    assert!(name.bytes().all(|b| b.is_ascii_digit()));
}

#[test]
fn three_profile_role_chain_signs_each_hop_with_the_previous_credentials() {
    let moto = Moto::start();
    let s = sandbox(
        &moto,
        "[profile a]\n[profile b]\nsource_profile = a\nrole_arn = arn:aws:iam::2:role/B\n[profile c]\nsource_profile = b\nrole_arn = arn:aws:iam::3:role/C\nduration_seconds = 7200\n",
    );
    s.add("a", KEY_ID, SECRET);
    let out = json(&s.run(&["export", "--format=json", "c"]).ok().stdout);
    let calls = moto.calls_to("AssumeRole");
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].param("RoleArn"), Some("arn:aws:iam::2:role/B"));
    assert_eq!(calls[0].access_key.as_deref(), Some(KEY_ID));
    assert_eq!(calls[1].param("RoleArn"), Some("arn:aws:iam::3:role/C"));
    // Role chaining is capped at one hour.
    assert_eq!(calls[1].param("DurationSeconds"), Some("3600"));
    let b_key = calls[1].access_key.clone().unwrap();
    assert!(b_key.starts_with("ASIA"), "{b_key}");
    assert!(calls[1].session_token.is_some());
    assert_ne!(out["AccessKeyId"].as_str().unwrap(), b_key);
}

#[test]
fn readme_chain_primes_with_one_mfa_session() {
    let moto = Moto::start();
    let s = sandbox(
        &moto,
        "[profile jonsmith]\nmfa_serial = arn:aws:iam::111111111111:mfa/jonsmith\n\
         [profile foo-admin]\nsource_profile = jonsmith\nrole_arn = arn:aws:iam::2:role/Admin\nmfa_serial = arn:aws:iam::111111111111:mfa/jonsmith\n",
    );
    s.add("jonsmith", KEY_ID, SECRET);
    s.run(&["export", "-t", "111111", "foo-admin"]).ok();
    let gst = moto.one_call("GetSessionToken");
    assert_eq!(gst.param("DurationSeconds"), Some("28800"));
    assert_eq!(gst.param("TokenCode"), Some("111111"));
    let ar = moto.one_call("AssumeRole");
    // MFA chaining: the role call carries no MFA and is signed by the session.
    assert_eq!(ar.param("SerialNumber"), None);
    assert_eq!(ar.access_key.as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
    assert!(ar
        .session_token
        .as_deref()
        .unwrap()
        .starts_with("AQoEXAMPLE"));
}

#[test]
fn web_identity_from_file_and_process_is_trimmed() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "file-token-value\n").unwrap();
    let s = sandbox(
        &moto,
        &format!(
            "[profile wf]\nrole_arn = arn:aws:iam::2:role/Web\nweb_identity_token_file = {}\n\
             [profile wp]\nrole_arn = arn:aws:iam::2:role/Web2\nweb_identity_token_process = printf '  proc-token-value\\n'\n",
            token_file.display()
        ),
    );
    let out = json(&s.run(&["export", "--format=json", "wf"]).ok().stdout);
    assert!(out["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    let call = moto.one_call("AssumeRoleWithWebIdentity");
    assert_eq!(call.param("WebIdentityToken"), Some("file-token-value"));
    assert_eq!(call.param("RoleArn"), Some("arn:aws:iam::2:role/Web"));
    assert_eq!(call.access_key, None, "web identity calls are unsigned");
    moto.reset();
    s.run(&["export", "wp"]).ok();
    assert_eq!(
        moto.one_call("AssumeRoleWithWebIdentity")
            .param("WebIdentityToken"),
        Some("proc-token-value")
    );
}

#[test]
fn credential_process_source_is_cached() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let exp = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let script = counting_script(
        dir.path(),
        "creds",
        &format!(
            r#"{{"Version": 1, "AccessKeyId": "ASIAPROCPROCPROCPROC", "SecretAccessKey": "procsecret", "SessionToken": "proctoken", "Expiration": "{exp}"}}"#
        ),
    );
    let keys_only = counting_script(
        dir.path(),
        "longterm",
        r#"{"Version": 1, "AccessKeyId": "AKIALONGTERMPROCESS", "SecretAccessKey": "s"}"#,
    );
    let s = sandbox(
        &moto,
        &format!(
            "[profile cp]\ncredential_process = {} --profile cp\n[profile lt]\ncredential_process = {}\n",
            script.display(),
            keys_only.display()
        ),
    );
    let first = s.run(&["export", "--format=json", "cp"]).ok().stdout;
    let second = s.run(&["export", "--format=json", "cp"]).ok().stdout;
    assert_eq!(first, second);
    assert_eq!(json(&first)["AccessKeyId"], "ASIAPROCPROCPROCPROC");
    assert_eq!(runs(dir.path(), "creds"), 1);
    // Long-term keys without SessionToken/Expiration are accepted (docs/compatibility.md §7.10), not cached.
    let out = json(&s.run(&["export", "--format=json", "lt"]).ok().stdout);
    assert_eq!(out["AccessKeyId"], "AKIALONGTERMPROCESS");
    assert!(out.get("Expiration").is_none());
    assert!(
        moto.calls().is_empty(),
        "no STS call expected: {:?}",
        moto.calls()
    );
}

#[test]
fn cache_hits_clear_and_replacement() {
    let moto = Moto::start();
    let s = sandbox(
        &moto,
        "[profile base]\n[profile r]\nsource_profile = base\nrole_arn = arn:aws:iam::2:role/R\n",
    );
    s.add("base", KEY_ID, SECRET);
    let first = s.run(&["export", "--format=json", "r"]).ok().stdout;
    assert_eq!(moto.calls_to("AssumeRole").len(), 1);
    let second = s.run(&["export", "--format=json", "r"]).ok().stdout;
    assert_eq!(first, second);
    assert_eq!(moto.calls().len(), 1, "second export must make no STS call");

    // A different duration is a different credential: not served from the cache.
    s.run(&["export", "--format=json", "-d", "30m", "r"]).ok();
    assert_eq!(moto.calls_to("AssumeRole").len(), 2);

    assert_eq!(s.run(&["clear", "r"]).ok().stdout, "Cleared 1 sessions.\n");
    s.run(&["export", "--format=json", "r"]).ok();
    assert_eq!(moto.calls_to("AssumeRole").len(), 3);

    // A cached session closer to expiry than AWS_MIN_TTL is replaced, not duplicated.
    let run = s.run_env(&["export", "r"], &[("AWS_MIN_TTL", "2h")]).ok();
    assert!(run.stdout.contains("AWS_ACCESS_KEY_ID=ASIA"));
    assert_eq!(moto.calls_to("AssumeRole").len(), 4);
    let sessions = s.run(&["list", "--sessions"]).ok().stdout;
    assert_eq!(sessions.lines().count(), 1, "{sessions}");
    assert!(sessions.starts_with("sts.AssumeRole:"), "{sessions}");
}

#[test]
fn parallel_cold_calls_make_one_sts_call_and_one_mfa_prompt() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mfa = counting_script(dir.path(), "mfa", "123456");
    let s = sandbox(
        &moto,
        &format!(
            "[profile jonsmith]\nmfa_serial = {MFA}\nmfa_process = {}\n\
             [profile admin]\nsource_profile = jonsmith\nrole_arn = arn:aws:iam::2:role/Admin\nmfa_serial = {MFA}\n",
            mfa.display()
        ),
    );
    s.add("jonsmith", KEY_ID, SECRET);
    let children: Vec<_> = (0..20)
        .map(|_| {
            s.cmd(&["export", "--format=json", "admin"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            assert!(!stderr.contains("panicked"));
            String::from_utf8(out.stdout).unwrap()
        })
        .collect();
    assert_eq!(
        moto.calls_to("GetSessionToken").len(),
        1,
        "{:?}",
        moto.calls()
    );
    assert_eq!(moto.calls_to("AssumeRole").len(), 1, "{:?}", moto.calls());
    assert_eq!(runs(dir.path(), "mfa"), 1);
    let first = json(&outputs[0]);
    assert!(first["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    for out in &outputs {
        assert_eq!(out, &outputs[0]);
    }
}

#[test]
fn a_killed_lock_holder_does_not_block() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    // The first process hangs in its MFA prompt while holding the refresh lock.
    let slow = dir.path().join("slow-mfa");
    std::fs::write(&slow, "#!/bin/sh\nsleep 60\necho 123456\n").unwrap();
    std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = sandbox(
        &moto,
        &format!(
            "[profile p]\nmfa_serial = {MFA}\nmfa_process = {}\n",
            slow.display()
        ),
    );
    s.add("p", KEY_ID, SECRET);
    let mut holder = s
        .cmd(&["export", "p"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it holds the lock (a lock file exists in the runtime dir).
    let locks = s.dir.path().join("run").join("aws-vault");
    let started = std::time::Instant::now();
    while std::fs::read_dir(&locks).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "holder never locked"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    holder.kill().unwrap();
    holder.wait().unwrap();
    let started = std::time::Instant::now();
    let out = s.run(&["export", "--mfa-token", "123456", "p"]).ok().stdout;
    assert!(out.contains("AWS_SESSION_TOKEN="));
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn sts_errors_are_one_line_and_nothing_is_cached() {
    let moto = Moto::start();
    let s = sandbox(
        &moto,
        "[profile base]\n[profile r]\nsource_profile = base\nrole_arn = arn:aws:iam::2:role/R\n",
    );
    s.add("base", KEY_ID, SECRET);
    moto.fail(
        "AssumeRole",
        403,
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/x is not authorized to perform: sts:AssumeRole",
    );
    let line = s.run(&["export", "r"]).fails();
    assert!(line.starts_with("aws-vault: error: export: "), "{line}");
    assert!(line.contains("AccessDenied"), "{line}");
    assert!(line.contains("is not authorized"), "{line}");
    assert!(line.contains("r"), "{line}");
    assert!(!line.contains(SECRET));
    assert_eq!(s.run(&["list", "--sessions"]).ok().stdout, "");

    // A wrong MFA code as AWS reports it.
    moto.clear_failures();
    moto.fail(
        "GetSessionToken",
        403,
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code.",
    );
    s.write_config(&format!("[profile base]\nmfa_serial = {MFA}\n"));
    let line = s.run(&["export", "-t", "000000", "base"]).fails();
    assert!(line.contains("invalid MFA one time pass code"), "{line}");
    assert_eq!(s.run(&["list", "--sessions"]).ok().stdout, "");
}

#[test]
fn unreachable_endpoint_fails_in_bounded_time() {
    // A loopback port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = Sandbox::with_config("[profile p]\n");
    s.set_env("AWS_ENDPOINT_URL", &format!("http://127.0.0.1:{port}"));
    s.set_env("AWS_REGION", "us-east-1");
    s.add("p", KEY_ID, SECRET);
    let started = std::time::Instant::now();
    let line = s.run(&["export", "p"]).fails();
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(line.contains("GetSessionToken"), "{line}");
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
}

#[test]
fn bad_sources_fail_clearly() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let garbage = counting_script(dir.path(), "garbage", "this is not json");
    let s = sandbox(
        &moto,
        &format!(
            "[profile garbage]\ncredential_process = {}\n[profile exits]\ncredential_process = sh -c 'exit 3'\n\
             [profile noweb]\nrole_arn = arn:aws:iam::2:role/W\nweb_identity_token_file = /nonexistent/token\n",
            garbage.display()
        ),
    );
    let line = s.run(&["export", "garbage"]).fails();
    assert!(line.contains("invalid JSON format from command"), "{line}");
    assert!(!line.contains("this is not json"), "{line}");
    let line = s.run(&["export", "exits"]).fails();
    assert!(line.contains("running command"), "{line}");
    let line = s.run(&["export", "noweb"]).fails();
    assert!(
        line.contains("unable to read file at /nonexistent/token"),
        "{line}"
    );
    assert_eq!(s.run(&["list", "--sessions"]).ok().stdout, "");
    assert!(moto.calls().is_empty());
}

// ------------------------------------------------------------------------- real AWS clients

#[test]
fn real_aws_cli_accepts_exec_and_credential_process_credentials() {
    let moto = Moto::start();
    let s = sandbox(&moto, "[profile base]\n[profile r]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/Dev\n");
    s.add("base", KEY_ID, SECRET);

    // exec: the child's AWS CLI uses the role credentials from the environment.
    let run = s
        .run_env(
            &[
                "exec",
                "r",
                "--",
                "aws",
                "sts",
                "get-caller-identity",
                "--output",
                "json",
            ],
            &[
                ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
                ("AWS_DEFAULT_REGION", "us-east-1"),
            ],
        )
        .ok();
    let ident = json(&run.stdout);
    assert!(
        ident["Arn"].as_str().unwrap().contains("assumed-role/Dev/"),
        "{ident}"
    );

    // credential_process: the AWS CLI runs `aws-vault export --format=json` itself. Both read
    // the same config file (AWS_CONFIG_FILE), so the role profile goes into the CLI's file.
    let cli_dir = tempfile::tempdir().unwrap();
    let mut aws = aws_command(
        &moto,
        cli_dir.path(),
        &["--profile", "viavault", "sts", "get-caller-identity"],
    );
    let cli_config = cli_dir.path().join("aws-cli-config");
    let mut text = std::fs::read_to_string(&cli_config).unwrap();
    text.push_str(&format!(
        "\n[profile viavault]\nregion = us-east-1\ncredential_process = {} export --format=json r\n\
         [profile base]\n[profile r]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/Dev\n",
        common::bin().display()
    ));
    std::fs::write(&cli_config, text).unwrap();
    aws.env("HOME", &s.home)
        .env("AWS_VAULT_FILE_PASSPHRASE", common::PASSPHRASE)
        .env("AWS_VAULT_BACKEND", "file")
        .env("XDG_RUNTIME_DIR", s.dir.path().join("run"));
    let out = aws.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("assumed-role/Dev/"), "{stdout}");
}

#[test]
fn boto3_accepts_credential_process_output() {
    let moto = Moto::start();
    let s = sandbox(&moto, "[profile base]\n");
    s.add("base", KEY_ID, SECRET);
    let script = format!(
        r#"
import boto3, json, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, check=True).stdout
c = json.loads(out)
assert c["Version"] == 1
session = boto3.session.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"], region_name="us-east-1")
print(session.client("sts", endpoint_url="{}").get_caller_identity()["Arn"])
"#,
        moto.url()
    );
    let mut cmd = s.cmd(&[]);
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(common::bin())
        .args(["export", "--format=json", "base"])
        .env_clear()
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .output()
        .expect("python3 with boto3 is required: pip install boto3");
    let _ = &mut cmd;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("arn:aws:sts::123456789012:user/moto"));
    assert_eq!(moto.calls_to("GetSessionToken").len(), 1);
}

#[test]
fn include_profile_and_default_feed_the_chain() {
    let moto = Moto::start();
    // The role, its external id and the region come from an included profile and [default];
    // the source keys from source_profile.
    let s = sandbox(
        &moto,
        "[default]\nregion = ca-central-1\n\
         [profile shared-role]\nrole_arn = arn:aws:iam::555555555555:role/Shared\nexternal_id = from-include\n\
         [profile base]\n\
         [profile team]\ninclude_profile = shared-role\nsource_profile = base\nrole_session_name = team-session\n",
    );
    s.add("base", KEY_ID, SECRET);
    let env = s.run(&["export", "team"]).ok().stdout;
    let call = moto.one_call("AssumeRole");
    assert_eq!(
        call.param("RoleArn"),
        Some("arn:aws:iam::555555555555:role/Shared")
    );
    assert_eq!(call.param("ExternalId"), Some("from-include"));
    assert_eq!(call.param("RoleSessionName"), Some("team-session"));
    assert_eq!(call.access_key.as_deref(), Some(KEY_ID));
    assert!(env.contains("AWS_REGION=ca-central-1\n"), "{env}");
}

/// The README example: one GetSessionToken session (and so one MFA code) serves `foo-admin`,
/// `jonsmith` itself and `bar-role1`, whatever `--region` each run uses: the session is cached
/// per source profile and MFA serial, not per target or region.
#[test]
fn readme_profiles_share_one_get_session_token_across_regions() {
    let moto = Moto::start();
    let s = sandbox(
        &moto,
        &format!(
            "[profile jonsmith]\nmfa_serial = {MFA}\n\
             [profile foo-readonly]\nsource_profile = jonsmith\nrole_arn = arn:aws:iam::22222222222:role/ReadOnly\n\
             [profile foo-admin]\nsource_profile = jonsmith\nrole_arn = arn:aws:iam::22222222222:role/Administrator\nmfa_serial = {MFA}\n\
             [profile bar-role1]\nsource_profile = jonsmith\nrole_arn = arn:aws:iam::333333333333:role/Role1\nmfa_serial = {MFA}\n\
             [profile bar-role2]\nsource_profile = bar-role1\nrole_arn = arn:aws:iam::333333333333:role/Role2\nmfa_serial = {MFA}\n"
        ),
    );
    s.add("jonsmith", KEY_ID, SECRET);
    // Only the first run has a code; a later run that needed one would fail (no terminal).
    let admin = json(
        &s.run(&[
            "export",
            "--format=json",
            "-t",
            "123456",
            "--region",
            "eu-west-1",
            "foo-admin",
        ])
        .ok()
        .stdout,
    );
    let own = json(
        &s.run(&[
            "export",
            "--format=json",
            "--region",
            "ap-southeast-2",
            "jonsmith",
        ])
        .ok()
        .stdout,
    );
    let role1 = json(
        &s.run(&[
            "export",
            "--format=json",
            "--region",
            "ap-southeast-2",
            "bar-role1",
        ])
        .ok()
        .stdout,
    );

    let gst = moto.calls_to("GetSessionToken");
    assert_eq!(gst.len(), 1, "{:?}", moto.calls());
    assert_eq!(gst[0].param("TokenCode"), Some("123456"));
    let with_code = moto
        .calls()
        .into_iter()
        .filter(|c| c.param("TokenCode").is_some())
        .count();
    assert_eq!(with_code, 1, "one MFA use: {:?}", moto.calls());
    // `jonsmith` got the session itself; both roles were assumed with it, without MFA.
    let session_token = own["SessionToken"].as_str().unwrap();
    let roles = moto.calls_to("AssumeRole");
    assert_eq!(roles.len(), 2, "{roles:?}");
    for call in &roles {
        assert_eq!(call.session_token.as_deref(), Some(session_token));
        assert_eq!(call.param("SerialNumber"), None);
    }
    assert_ne!(admin["AccessKeyId"], role1["AccessKeyId"]);
}
