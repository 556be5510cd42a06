//! Black-box tests of the commands that need no AWS call, on the encrypted file backend.
mod common;

use aws_vault::creds::Credentials;
use aws_vault::keyring::Keyring;
use aws_vault::store::oidc::OidcToken;
use aws_vault::store::{OidcStore, SessionStore};
use common::{Sandbox, PASSPHRASE};
use secrecy::SecretString;

const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn session(id: &str, secs: i64) -> Credentials {
    Credentials {
        access_key_id: id.into(),
        secret_access_key: SecretString::from("sessionsecret".to_string()),
        session_token: Some(SecretString::from("sessiontoken".to_string())),
        expires: Some(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(secs)),
    }
}

// ---------------------------------------------------------------- add / list / remove

#[test]
fn add_from_env_then_list_and_export_all_formats() {
    let s = Sandbox::with_config("[profile work]\nregion = eu-west-1\n");
    let run = s.add("work", KEY_ID, SECRET);
    assert_eq!(
        run.stdout,
        "Added credentials to profile \"work\" in vault\n"
    );

    assert_eq!(s.run(&["list", "--credentials"]).ok().stdout, "work\n");
    assert_eq!(s.run(&["ls", "--profiles"]).ok().stdout, "work\n");

    let env = s.run(&["export", "--no-session", "work"]).ok().stdout;
    assert_eq!(
        env,
        format!("AWS_ACCESS_KEY_ID={KEY_ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\nAWS_REGION=eu-west-1\nAWS_DEFAULT_REGION=eu-west-1\n")
    );
    let export_env = s
        .run(&["export", "--no-session", "--format=export-env", "work"])
        .ok()
        .stdout;
    assert_eq!(
        export_env,
        format!("export AWS_ACCESS_KEY_ID={KEY_ID}\nexport AWS_SECRET_ACCESS_KEY={SECRET}\nexport AWS_REGION=eu-west-1\nexport AWS_DEFAULT_REGION=eu-west-1\n")
    );
    let json = s
        .run(&["export", "--no-session", "--format", "json", "work"])
        .ok()
        .stdout;
    assert_eq!(
        json,
        format!("{{\n  \"Version\": 1,\n  \"AccessKeyId\": \"{KEY_ID}\",\n  \"SecretAccessKey\": \"{SECRET}\"\n}}\n")
    );
    let ini = s.run(&["export", "-n", "--format=ini", "work"]).ok().stdout;
    assert_eq!(
        ini,
        format!("[work]\naws_access_key_id={KEY_ID}\naws_secret_access_key={SECRET}\nregion=eu-west-1\n")
    );
    // --region beats the config file.
    let env = s
        .run(&["export", "-n", "--region", "ap-south-1", "work"])
        .ok()
        .stdout;
    assert!(env.contains("AWS_REGION=ap-south-1\n"), "{env}");
}

#[test]
fn add_refuses_profile_with_source_profile() {
    let s = Sandbox::with_config(
        "[profile base]\n[profile role]\nsource_profile = base\nrole_arn = arn:aws:iam::1:role/r\n",
    );
    let line = s
        .run_env(
            &["add", "--env", "role"],
            &[
                ("AWS_ACCESS_KEY_ID", KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
            ],
        )
        .fails();
    assert_eq!(
        line,
        "aws-vault: error: add: Your profile has a source_profile of base, adding credentials to role won't have any effect"
    );
}

#[test]
fn add_env_requires_both_variables() {
    let s = Sandbox::new();
    let line = s
        .run_env(&["add", "--env", "p"], &[("AWS_SECRET_ACCESS_KEY", SECRET)])
        .fails();
    assert_eq!(
        line,
        "aws-vault: error: add: Missing value for AWS_ACCESS_KEY_ID"
    );
    let line = s
        .run_env(&["add", "--env", "p"], &[("AWS_ACCESS_KEY_ID", KEY_ID)])
        .fails();
    assert_eq!(
        line,
        "aws-vault: error: add: Missing value for AWS_SECRET_ACCESS_KEY"
    );
    assert!(!s.keys.join("p").exists());
}

#[test]
fn add_without_terminal_fails_cleanly() {
    let s = Sandbox::new();
    let line = s.run_detached(&["add", "p"]).fails();
    assert!(
        line.starts_with("aws-vault: error: add: no terminal"),
        "{line}"
    );
    assert!(!s.keys.join("p").exists());
}

#[test]
fn add_config_appends_and_keeps_every_other_byte() {
    let original = "# my settings\r\n[default]\nregion=us-east-1   ; trailing comment\n\n[profile  odd ]\n  output = json\n\t# tabbed comment\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start/#/\ncli_follow_urlparam = false";
    let s = Sandbox::with_config(original);
    s.add("newprof", KEY_ID, SECRET);
    let after = std::fs::read_to_string(&s.config).unwrap();
    assert_eq!(after, format!("{original}\n\n[profile newprof]\n"));

    // An existing section is left alone, and --no-add-config adds nothing.
    s.add("newprof", KEY_ID, SECRET);
    s.run_env(
        &["add", "--env", "--no-add-config", "other"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    assert_eq!(std::fs::read_to_string(&s.config).unwrap(), after);
}

#[test]
fn add_creates_missing_config_file() {
    let s = Sandbox::new();
    s.add("fresh", KEY_ID, SECRET);
    assert_eq!(
        std::fs::read_to_string(&s.config).unwrap(),
        "[profile fresh]\n"
    );
    // The default profile gets a [default] section.
    s.add("default", KEY_ID, SECRET);
    assert_eq!(
        std::fs::read_to_string(&s.config).unwrap(),
        "[profile fresh]\n\n[default]\n"
    );
}

#[test]
fn add_deletes_existing_sessions_of_the_profile() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let kr = s.keyring();
    let sessions = SessionStore::new(&kr);
    sessions
        .set("sts.GetSessionToken", "p", "", &session("ASIA1", 3600))
        .unwrap();
    let run = s.add("p", KEY_ID, SECRET);
    assert_eq!(
        run.stdout,
        "Added credentials to profile \"p\" in vault\nDeleted 1 existing sessions.\n"
    );
    assert!(sessions.all().unwrap().is_empty());
}

#[test]
fn list_table_shows_profiles_credentials_and_sessions() {
    let s = Sandbox::with_config(
        "[profile jonsmith]\nregion = us-east-1\n[profile sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
    );
    s.add("jonsmith", KEY_ID, SECRET);
    s.run_env(
        &["add", "--env", "--no-add-config", "old"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    let kr = s.keyring();
    SessionStore::new(&kr)
        .set(
            "sts.GetSessionToken",
            "jonsmith",
            "",
            &session("ASIA1", 3600),
        )
        .unwrap();
    SessionStore::new(&kr)
        .set("sts.AssumeRole", "gone", "", &session("ASIA2", 600))
        .unwrap();
    let now = jiff::Timestamp::now();
    OidcStore::new(&kr)
        .set(
            "https://corp.awsapps.com/start",
            &OidcToken {
                access_token: SecretString::from("at".to_string()),
                refresh_token: None,
                token_type: "Bearer".into(),
                expires: now + jiff::SignedDuration::from_hours(8),
            },
            now,
        )
        .unwrap();
    OidcStore::new(&kr)
        .set(
            "https://other.awsapps.com/start",
            &OidcToken {
                access_token: SecretString::from("at".to_string()),
                refresh_token: None,
                token_type: "Bearer".into(),
                expires: now + jiff::SignedDuration::from_hours(8),
            },
            now,
        )
        .unwrap();

    let out = s.run(&["list"]).ok().stdout;
    let lines: Vec<String> = out.lines().map(|l| l.trim_end().to_string()).collect();
    // Remaining time is truncated to whole seconds and may have ticked: check the shape.
    assert_eq!(
        lines[0],
        "Profile                  Credentials              Sessions"
    );
    assert_eq!(
        lines[1],
        "=======                  ===========              ========"
    );
    assert!(
        lines[2]
            .starts_with("jonsmith                 jonsmith                 sts.GetSessionToken:"),
        "{out}"
    );
    assert_eq!(
        lines[3],
        "sso                      -                        oidc:corp"
    );
    assert_eq!(
        lines[4],
        "-                        old                      -"
    );
    assert_eq!(
        lines[5],
        "-                        -                        oidc:other.awsapps.com"
    );
    assert!(
        lines[6].starts_with("-                        -                        sts.AssumeRole:"),
        "{out}"
    );
    assert_eq!(lines.len(), 7, "{out}");
    // Every cell is padded, the last column included (Go tabwriter).
    for line in out.lines() {
        assert!(line.len() >= 75, "{line:?}");
    }

    let sessions = s.run(&["list", "--sessions"]).ok().stdout;
    let sessions: Vec<&str> = sessions.lines().collect();
    assert_eq!(sessions[0], "oidc:corp");
    assert_eq!(sessions[1], "oidc:other.awsapps.com");
    // Then the sessions, in keyring (file name) order.
    assert!(sessions[2].starts_with("sts.AssumeRole:"));
    assert!(sessions[3].starts_with("sts.GetSessionToken:"));
    assert_eq!(
        s.run(&["list", "--credentials"]).ok().stdout,
        "jonsmith\nold\n"
    );
}

/// `list` truncates the time left to whole seconds, as the Go tool does: a session expiring
/// at a whole second, listed 0.x s after the previous whole second, has 59m59s left, not 1h0m0s.
#[test]
fn list_truncates_the_remaining_time() {
    let s = Sandbox::with_config("[profile p]\n");
    let kr = s.keyring();
    // Start just after a second boundary so that `list` runs within the same second.
    let frac = jiff::Timestamp::now().subsec_nanosecond();
    std::thread::sleep(std::time::Duration::from_nanos(
        (1_000_000_000 - frac as u64) + 20_000_000,
    ));
    let t0 = jiff::Timestamp::now();
    let expiry = jiff::Timestamp::from_second(t0.as_second() + 3600).unwrap();
    let creds = Credentials {
        expires: Some(expiry),
        ..session("ASIA1", 0)
    };
    SessionStore::new(&kr)
        .set("sts.GetSessionToken", "p", "", &creds)
        .unwrap();
    let out = s.run(&["list", "--sessions"]).ok().stdout;
    let t1 = jiff::Timestamp::now();
    // Go: floor(expiry - now) for a `now` between t0 and t1.
    let left = |t: jiff::Timestamp| (expiry.as_nanosecond() - t.as_nanosecond()) / 1_000_000_000;
    let allowed: Vec<String> = (left(t1)..=left(t0))
        .map(|secs| {
            let (m, s) = (secs / 60, secs % 60);
            format!("sts.GetSessionToken:{m}m{s}s\n")
        })
        .collect();
    assert!(allowed.contains(&out), "{out:?} not in {allowed:?}");
}

/// A zero duration means "not set" (the Go tool's zero value), on the flag and in
/// `AWS_VAULT_DURATION`; a negative one is still refused.
#[test]
fn zero_duration_means_not_set() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    s.run(&["export", "-n", "-d", "0s", "p"]).ok();
    s.run(&["export", "-n", "--duration=0", "p"]).ok();
    s.run_env(
        &["exec", "-n", "p", "--", "true"],
        &[("AWS_VAULT_DURATION", "0")],
    )
    .ok();
    assert_eq!(
        s.run(&["export", "-n", "--duration=-1h", "p"]).fails(),
        "aws-vault: error: invalid duration '-1h': must not be negative, try --help"
    );
}

#[test]
fn default_section_listed_only_with_profile_keys() {
    let s = Sandbox::with_config("[default]\noutput = json\n[profile a]\n");
    assert_eq!(s.run(&["list", "--profiles"]).ok().stdout, "a\n");
    s.write_config("[default]\nregion = us-east-1\n[profile a]\n");
    assert_eq!(s.run(&["list", "--profiles"]).ok().stdout, "default\na\n");
}

#[test]
fn remove_with_force_and_confirmation() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    SessionStore::new(&s.keyring())
        .set("sts.GetSessionToken", "p", "", &session("ASIA1", 3600))
        .unwrap();
    // No terminal to confirm on: nothing is deleted.
    s.run_detached(&["remove", "p"]).fails();
    assert!(s.keys.join("p").exists());

    let run = s.run(&["rm", "-f", "p"]).ok();
    assert_eq!(run.stdout, "Deleted credentials.\nDeleted 1 sessions.\n");
    assert!(!s.keys.join("p").exists());
    assert_eq!(s.run(&["list", "--credentials"]).ok().stdout, "");

    let line = s.run(&["remove", "-f", "p"]).fails();
    assert!(line.ends_with("/p: no such file or directory"), "{line}");
}

/// Removing a key that is not there passes the backend's error through, as the Go tool does;
/// for the `file` backend that is Go's `os.Remove` text.
#[test]
fn remove_missing_key_is_the_backends_error() {
    let s = Sandbox::new();
    assert_eq!(
        s.run(&["remove", "-f", "missing"]).fails(),
        format!(
            "aws-vault: error: remove: remove {}: no such file or directory",
            s.keys.join("missing").display()
        )
    );
}

#[test]
fn remove_sessions_only() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    SessionStore::new(&s.keyring())
        .set("sts.GetSessionToken", "p", "", &session("ASIA1", 3600))
        .unwrap();
    assert_eq!(
        s.run(&["remove", "--sessions-only", "p"]).ok().stdout,
        "Deleted 1 sessions.\n"
    );
    assert_eq!(s.run(&["list", "--credentials"]).ok().stdout, "p\n");
}

// ---------------------------------------------------------------- clear

#[test]
fn clear_all_and_per_profile() {
    let s = Sandbox::with_config(
        "[profile a]\n[profile b]\ninclude_profile = ssobase\n[profile ssobase]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n",
    );
    s.add("a", KEY_ID, SECRET);
    let kr = s.keyring();
    let sessions = SessionStore::new(&kr);
    sessions
        .set("sts.GetSessionToken", "a", "", &session("A1", 3600))
        .unwrap();
    sessions
        .set("sts.AssumeRole", "b", "arn:mfa", &session("B1", 3600))
        .unwrap();
    let now = jiff::Timestamp::now();
    let token = OidcToken {
        access_token: SecretString::from("at".to_string()),
        refresh_token: None,
        token_type: "Bearer".into(),
        expires: now + jiff::SignedDuration::from_hours(1),
    };
    OidcStore::new(&kr)
        .set("https://x.awsapps.com/start", &token, now)
        .unwrap();
    // A legacy key of an older aws-vault version.
    kr.set(&aws_vault::keyring::Item {
        key: "a session (1234567890)".into(),
        data: zeroize::Zeroizing::new(b"{}".to_vec()),
        ..Default::default()
    })
    .unwrap();

    assert_eq!(s.run(&["clear", "a"]).ok().stdout, "Cleared 1 sessions.\n");
    // b reaches its SSO start URL through include_profile (docs/compatibility.md §7.26 fixed).
    assert_eq!(s.run(&["clear", "b"]).ok().stdout, "Cleared 2 sessions.\n");
    sessions
        .set("sts.GetSessionToken", "a", "", &session("A2", 3600))
        .unwrap();
    assert_eq!(s.run(&["clear"]).ok().stdout, "Cleared 2 sessions.\n");
    assert_eq!(kr.keys().unwrap(), vec!["a".to_string()]);
}

// ---------------------------------------------------------------- exec

#[test]
fn exec_no_session_sets_environment_and_forwards_exit_code() {
    let s = Sandbox::with_config("[profile p]\nregion = eu-west-1\n");
    s.add("p", KEY_ID, SECRET);
    let run = s.run_env(
        &["exec", "--no-session", "p", "--", "sh", "-c", "exit 7"],
        &[],
    );
    assert_eq!(run.code, 7, "{}", run.stderr);

    let run = s
        .run_env(
            &["exec", "-n", "p", "--", "env"],
            &[
                ("AWS_PROFILE", "stale"),
                ("AWS_SESSION_TOKEN", "stale"),
                ("AWS_SDK_LOAD_CONFIG", "1"),
                ("KEEP_ME", "yes"),
            ],
        )
        .ok();
    let env: Vec<&str> = run.stdout.lines().collect();
    for expected in [
        "AWS_VAULT=p",
        "AWS_REGION=eu-west-1",
        "AWS_DEFAULT_REGION=eu-west-1",
        &format!("AWS_ACCESS_KEY_ID={KEY_ID}"),
        &format!("AWS_SECRET_ACCESS_KEY={SECRET}"),
        "KEEP_ME=yes",
    ] {
        assert!(env.contains(&expected), "missing {expected} in {env:?}");
    }
    for gone in [
        "AWS_PROFILE=",
        "AWS_SESSION_TOKEN=",
        "AWS_SDK_LOAD_CONFIG=",
        "AWS_CREDENTIAL_EXPIRATION=",
    ] {
        assert!(
            !env.iter().any(|l| l.starts_with(gone)),
            "{gone} leaked: {env:?}"
        );
    }
}

/// After `exec`'s command word, a line the Go tool accepts gets the Go tool's result (its own
/// flags recognised anywhere, the first `--` dropped); a line it would refuse passes everything
/// after the command word to the command (docs/compatibility.md §1.1, D2).
#[test]
fn exec_arguments_follow_the_go_tool_with_a_friendlier_fallback() {
    // credential_process: no network whatever flags are read.
    let s = Sandbox::with_config(
        "[profile cp]\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":\"AKIACP\",\"SecretAccessKey\":\"s\"}'\n",
    );
    let show = s.dir.path().join("show");
    std::fs::write(&show, "#!/bin/sh\nprintf '%s|' \"$AWS_REGION\" \"$@\"\n").unwrap();
    std::fs::set_permissions(&show, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let show = show.to_str().unwrap();
    let out = |args: &[&str]| {
        let mut all = vec!["exec", "cp"];
        all.extend_from_slice(args);
        s.run(&all).ok().stdout
    };
    // The Go tool's reading.
    assert_eq!(out(&[show, "a", "--", "b"]), "|a|b|");
    assert_eq!(
        out(&[show, "a", "--region", "eu-west-1", "b"]),
        "eu-west-1|a|b|"
    );
    assert_eq!(out(&["--", show, "a", "--", "b"]), "|a|--|b|");
    assert_eq!(out(&[show, "--", "a", "--region", "x"]), "|a|--region|x|");
    // Lines the Go tool refuses: the rest of the line is the command's.
    assert_eq!(out(&[show, "-la", "a"]), "|-la|a|");
    assert_eq!(out(&[show, "a", "--bogus", "--", "b"]), "|a|--bogus|--|b|");
    assert_eq!(out(&[show, "a", "--region"]), "|a|--region|");
    // --help anywhere is aws-vault's help, as in the Go tool.
    let run = s.run(&["exec", "cp", show, "--help"]).ok();
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("Usage: aws-vault exec"),
        "{}",
        run.stderr
    );
}

#[test]
fn exec_uses_aws_profile_and_shell_by_default() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    // No command: $SHELL is run (here a shell that prints one variable).
    let shell = s.dir.path().join("fake-shell");
    std::fs::write(&shell, "#!/bin/sh\necho \"vault=$AWS_VAULT\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = s
        .run_env(
            &["exec", "--no-session"],
            &[("AWS_PROFILE", "p"), ("SHELL", shell.to_str().unwrap())],
        )
        .ok();
    assert_eq!(run.stdout, "vault=p\n");
}

#[test]
fn exec_refuses_to_nest() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let line = s
        .run_env(&["exec", "-n", "p", "--", "true"], &[("AWS_VAULT", "p")])
        .fails();
    assert_eq!(
        line,
        "aws-vault: error: exec: running in an existing aws-vault subshell; 'exit' from the subshell or unset AWS_VAULT to force"
    );
    let line = s
        .run_env(&["export", "-n", "p"], &[("AWS_VAULT", "p")])
        .fails();
    assert_eq!(
        line,
        "aws-vault: error: export: in an existing aws-vault subshell; 'exit' from the subshell or unset AWS_VAULT to force"
    );
}

#[test]
fn exec_json_prints_credential_process_format() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let out = s.run(&["exec", "--json", "-n", "p"]).ok().stdout;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Version"], 1);
    assert_eq!(v["AccessKeyId"], KEY_ID);
}

#[test]
fn exec_missing_command_is_one_line() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let line = s
        .run(&["exec", "-n", "p", "--", "definitely-not-a-command-xyz"])
        .fails();
    assert_eq!(
        line,
        "aws-vault: error: exec: exec: \"definitely-not-a-command-xyz\": executable file not found in $PATH"
    );
}

#[test]
fn source_profile_without_role_uses_the_source_keys() {
    let s = Sandbox::with_config(
        "[profile base]\nregion = us-west-2\n[profile child]\nsource_profile = base\n",
    );
    s.add("base", KEY_ID, SECRET);
    let out = s.run(&["export", "-n", "child"]).ok().stdout;
    assert!(
        out.starts_with(&format!("AWS_ACCESS_KEY_ID={KEY_ID}\n")),
        "{out}"
    );
    // Stored credentials under the profile's own name work without any config section.
    s.add("loose", "AKIALOOSE", "loosesecret");
    let out = s
        .run(&["export", "-n", "--format=json", "loose"])
        .ok()
        .stdout;
    assert!(out.contains("AKIALOOSE"));
}

#[test]
fn unknown_profile_is_refused() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let line = s.run(&["export", "-n", "r"]).fails();
    assert_eq!(
        line,
        "aws-vault: error: export: profile 'r' not found in ~/.aws/config and no stored credentials exist for it"
    );
}

// ---------------------------------------------------------------- the Go tool's error texts

/// Each stage of `exec`/`export` is worded as the Go tool words it (docs/compatibility.md §1.4 step 7), so
/// scripts that match its messages keep working.
#[test]
fn credential_errors_are_worded_like_the_go_tool() {
    let s = Sandbox::with_config(
        "[profile empty]\n[profile a]\ninclude_profile = b\n[profile b]\ninclude_profile = a\n[profile cpfail]\ncredential_process = false\n",
    );
    assert_eq!(
        s.run(&["exec", "nosuch", "--", "true"]).fails(),
        "aws-vault: error: exec: profile 'nosuch' not found in ~/.aws/config and no stored credentials exist for it"
    );
    assert_eq!(
        s.run(&["export", "empty"]).fails(),
        "aws-vault: error: export: Error getting temporary credentials: profile empty: credentials missing"
    );
    assert_eq!(
        s.run(&["exec", "empty", "--", "true"]).fails(),
        "aws-vault: error: exec: Error getting temporary credentials: profile empty: credentials missing"
    );
    assert_eq!(
        s.run(&["export", "a"]).fails(),
        "aws-vault: error: export: Error loading config: Loop detected in config file for profile 'a'"
    );
    assert_eq!(
        s.run(&["export", "cpfail"]).fails(),
        "aws-vault: error: export: Failed to get credentials for cpfail: running command \"false\": exit status 1"
    );
    assert_eq!(
        s.run(&["exec", "cpfail", "--", "true"]).fails(),
        "aws-vault: error: exec: Failed to get credentials for cpfail: running command \"false\": exit status 1"
    );
    assert_eq!(
        s.run(&["exec", "--profile-env", "cpfail", "--", "true"]).fails(),
        "aws-vault: error: exec: failed to get credentials for cpfail: running command \"false\": exit status 1"
    );
}

/// A config file that does not parse and a backend that does not open are reported in the
/// parser's frame, without the command name, as the Go tool does; the detail is kept.
#[test]
fn setup_errors_use_the_parser_frame() {
    let s = Sandbox::with_config("[profile p]\nregion = us-east-1\nthis line has no delimiter\n");
    assert_eq!(
        s.run(&["list"]).fails(),
        format!(
            "aws-vault: error: Error parsing config file {}: line 3: key-value delimiter not found: this line has no delimiter, try --help",
            s.config.display()
        )
    );
    let s = Sandbox::new();
    let line = s
        .run_env(
            &["--backend=secret-service", "list"],
            &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
        )
        .fails();
    assert!(
        line.starts_with(
            "aws-vault: error: specified keyring backend not available: secret-service: "
        ) && line.ends_with(", try --help"),
        "{line}"
    );
}

/// Parse errors in kingpin's words (docs/compatibility.md §1.1).
#[test]
fn parse_errors_are_kingpins() {
    let s = Sandbox::with_config("[profile p]\n");
    let cases: &[(&[&str], &str)] = &[
        (&["add"], "required argument 'profile' not provided"),
        (&["list", "--bogus"], "unknown long flag '--bogus'"),
        (&["list", "--bogus=1"], "unknown long flag '--bogus'"),
        (&["list", "-x"], "unknown short flag '-x'"),
        (
            &["export", "--format=xml", "p"],
            "enum value must be one of env,export-env,json,ini,fish,powershell,cmd, got 'xml'",
        ),
        (&["bogus"], "expected command but got \"bogus\""),
        (&["list", "extra"], "unexpected extra"),
        (
            &["export", "p", "--region"],
            "expected argument for flag '--region'",
        ),
        (
            &["list", "--profiles", "--profiles"],
            "flag 'profiles' cannot be repeated",
        ),
        (
            &["migrate-backend", "--to", "file"],
            "required flag(s) '--from' not provided",
        ),
    ];
    for (args, message) in cases {
        assert_eq!(
            s.run(args).fails(),
            format!("aws-vault: error: {message}, try --help"),
            "{args:?}"
        );
    }
}

// ---------------------------------------------------------------- global options

#[test]
fn version_and_help() {
    let s = Sandbox::new();
    // The crate version and, in a git checkout, the commit it was built from.
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_string());
    let version = match commit {
        Some(c) => format!("{}+{c}\n", env!("CARGO_PKG_VERSION")),
        None => format!("{}\n", env!("CARGO_PKG_VERSION")),
    };
    let run = s.run(&["version"]).ok();
    assert_eq!(run.stdout, version);
    let run = s.run(&["--version"]).ok();
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, version);
    let run = s.run(&["-v"]).ok();
    assert_eq!(run.stderr, version);
    let run = s.run(&[]).ok();
    assert!(run.stderr.contains("Usage: aws-vault"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let run = s.run(&["--help"]).ok();
    assert!(run.stderr.contains("exec"));
    assert!(run.stderr.contains("--backend"));
}

#[test]
fn prompt_validation() {
    let s = Sandbox::new();
    let line = s.run(&["--prompt=pass", "list"]).fails();
    assert!(
        line.starts_with(
            "aws-vault: error: --prompt=pass (or AWS_VAULT_PROMPT=pass) has been removed"
        ),
        "{line}"
    );
    let line = s
        .run_env(&["list"], &[("AWS_VAULT_PROMPT", "carrier-pigeon")])
        .fails();
    assert!(line.contains("--prompt value must be one of"), "{line}");
    assert!(line.contains("terminal"), "{line}");
    assert!(line.ends_with("got 'carrier-pigeon', try --help"), "{line}");
    s.run(&["--prompt", "terminal", "list", "--profiles"]).ok();
}

#[test]
fn backend_validation_lists_what_is_available() {
    let s = Sandbox::new();
    let line = s.run(&["--backend=keychain", "list"]).fails();
    assert_eq!(
        line,
        "aws-vault: error: keyring backend 'keychain' is not available in this build; available backends: secret-service, kwallet, keyctl, pass, passage, file, op-connect, op, op-desktop, try --help"
    );
    let line = s
        .run_env(&["list"], &[("AWS_VAULT_BACKEND", "nope")])
        .fails();
    assert!(line.contains("'nope' is not a known backend"), "{line}");
    // An empty variable counts as unset.
    s.run_env(&["list"], &[("AWS_VAULT_BACKEND", "")]).ok();
}

#[test]
fn global_flags_work_after_the_command_and_negate() {
    let s = Sandbox::with_config("[profile p]\n");
    let dir = s.dir.path().join("elsewhere");
    s.run_env(
        &[
            "add",
            "--env",
            "p",
            "--file-dir",
            dir.to_str().unwrap(),
            "--debug",
            "--no-debug",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    assert!(dir.join("p").exists());
    assert!(!s.keys.join("p").exists());
    let run = s
        .run_env(
            &["list", "--credentials"],
            &[("AWS_VAULT_FILE_DIR", dir.to_str().unwrap())],
        )
        .ok();
    assert_eq!(run.stdout, "p\n");
    // ~/ is expanded in --file-dir.
    s.run_env(
        &["add", "--env", "q", "--file-dir", "~/tilde-keys"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    assert!(s.home.join("tilde-keys/q").exists());
}

#[test]
fn debug_goes_to_stderr_only() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let run = s
        .run(&["--debug", "export", "-n", "--format=json", "p"])
        .ok();
    serde_json::from_str::<serde_json::Value>(&run.stdout).expect("stdout is pure JSON");
    assert!(!run.stderr.contains(SECRET));
}

#[test]
fn arguments_file_expansion() {
    let s = Sandbox::with_config("[profile p]\n");
    let args = s.dir.path().join("args");
    std::fs::write(&args, "# list the profiles\nlist\n--profiles\n").unwrap();
    let at = format!("@{}", args.display());
    assert_eq!(s.run(&[&at]).ok().stdout, "p\n");
}

// ---------------------------------------------------------------- bad input

#[test]
fn malformed_config_names_file_and_line() {
    let s = Sandbox::with_config("[profile p]\nregion = us-east-1\nthis line has no delimiter\n");
    let line = s.run(&["list"]).fails();
    assert!(line.contains(s.config.to_str().unwrap()), "{line}");
    assert!(line.contains("line 3"), "{line}");
}

#[test]
fn source_profile_cycle_is_reported() {
    let s =
        Sandbox::with_config("[profile a]\nsource_profile = b\n[profile b]\nsource_profile = a\n");
    let line = s.run(&["export", "-n", "a"]).fails();
    assert!(
        line.contains("Loop detected in config file for profile"),
        "{line}"
    );
}

#[test]
fn include_profile_loop_is_reported() {
    let s = Sandbox::with_config(
        "[profile a]\ninclude_profile = b\n[profile b]\ninclude_profile = a\n",
    );
    let line = s.run(&["exec", "-n", "a", "--", "true"]).fails();
    assert!(
        line.contains("Loop detected in config file for profile 'a'"),
        "{line}"
    );
}

#[test]
fn corrupt_key_file_is_one_line() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    std::fs::write(s.keys.join("p"), "this is not a JWE").unwrap();
    let line = s.run(&["export", "-n", "p"]).fails();
    assert!(line.starts_with("aws-vault: error: export: "), "{line}");
    let line = s.run(&["list", "--credentials"]);
    assert_eq!(line.code, 0);
}

#[test]
fn wrong_passphrase_is_reported_as_such() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let line = s
        .run_env(
            &["export", "-n", "p"],
            &[("AWS_VAULT_FILE_PASSPHRASE", "wrong")],
        )
        .fails();
    assert!(line.contains("could not decrypt"), "{line}");
    assert!(line.contains("wrong passphrase or corrupt file"), "{line}");
    // A wrong passphrase cannot add items next to the existing ones either.
    let line = s
        .run_env(
            &["add", "--env", "q"],
            &[
                ("AWS_VAULT_FILE_PASSPHRASE", "wrong"),
                ("AWS_ACCESS_KEY_ID", KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
            ],
        )
        .fails();
    assert!(!line.is_empty());
    assert!(!s.keys.join("q").exists());
}

#[test]
fn huge_p2c_is_refused() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let path = s.keys.join("p");
    let token = std::fs::read_to_string(&path).unwrap();
    let header_b64 = token.split('.').next().unwrap();
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = String::from_utf8(engine.decode(header_b64).unwrap()).unwrap();
    let evil = header.replace("\"p2c\":8192", "\"p2c\":2000000000");
    assert_ne!(evil, header);
    let forged = token.replacen(header_b64, &engine.encode(evil), 1);
    std::fs::write(&path, forged).unwrap();
    let started = std::time::Instant::now();
    let line = s.run(&["export", "-n", "p"]).fails();
    assert!(line.contains("p2c"), "{line}");
    // Two billion PBKDF2 rounds would take minutes; a refusal takes milliseconds.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn key_directory_that_is_a_file() {
    let s = Sandbox::with_config("[profile p]\n");
    let not_a_dir = s.dir.path().join("plainfile");
    std::fs::write(&not_a_dir, "x").unwrap();
    let line = s
        .run_env(
            &["list", "--credentials"],
            &[("AWS_VAULT_FILE_DIR", not_a_dir.to_str().unwrap())],
        )
        .fails();
    assert!(line.contains(not_a_dir.to_str().unwrap()), "{line}");
}

#[test]
fn stray_files_in_key_directory_do_not_break_list() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    std::fs::write(s.keys.join(".DS_Store"), b"\0\0\0\x01Bud1").unwrap();
    std::fs::create_dir(s.keys.join("subdir")).unwrap();
    assert_eq!(s.run(&["list", "--credentials"]).ok().stdout, "p\n");
    s.run(&["list"]).ok();
    s.run(&["clear"]).ok();
}

#[test]
fn key_files_are_private_and_written_atomically() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let mode = std::fs::metadata(s.keys.join("p"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mode = std::fs::metadata(&s.keys).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    // Overwriting leaves exactly one file: no temp files behind.
    s.add("p", KEY_ID, "another");
    let names: Vec<_> = std::fs::read_dir(&s.keys)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["p".to_string()]);
    // The passphrase never reaches the file.
    let raw = std::fs::read(s.keys.join("p")).unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains(PASSPHRASE));
}

#[test]
fn no_picker_without_a_terminal() {
    let s = Sandbox::with_config("[profile p]\n");
    let line = s.run_detached(&["export", "-n"]).fails();
    assert!(
        line.starts_with("aws-vault: error: export: unable to select a 'profile'. Try --help: "),
        "{line}"
    );
}

// ---------------------------------------------------------------- interop with an independent JWE

#[test]
fn go_shaped_key_file_from_jwcrypto_is_listed_and_exported() {
    use base64::Engine;
    let s = Sandbox::with_config("[profile gouser]\nregion = us-west-2\n");
    std::fs::create_dir_all(&s.keys).unwrap();
    // What the Go tool stores: an Item whose Data is the aws-sdk-go-v2 credential JSON.
    let creds = format!(
        r#"{{"AccessKeyID":"{KEY_ID}","SecretAccessKey":"{SECRET}","SessionToken":"","Source":"","CanExpire":false,"Expires":"0001-01-01T00:00:00Z","AccountID":""}}"#
    );
    let item = format!(
        r#"{{"Key":"gouser","Data":"{}","Label":"aws-vault (gouser)","Description":"","KeychainNotTrustApplication":true,"KeychainNotSynchronizable":false}}"#,
        base64::engine::general_purpose::STANDARD.encode(creds)
    );
    let plaintext = s.dir.path().join("item.json");
    std::fs::write(&plaintext, item).unwrap();
    let out = common::jwe_tool(&[
        "encrypt-go",
        PASSPHRASE,
        plaintext.to_str().unwrap(),
        s.keys.join("gouser").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(s.run(&["list", "--credentials"]).ok().stdout, "gouser\n");
    let json = s
        .run(&["export", "-n", "--format=json", "gouser"])
        .ok()
        .stdout;
    assert_eq!(
        json,
        format!("{{\n  \"Version\": 1,\n  \"AccessKeyId\": \"{KEY_ID}\",\n  \"SecretAccessKey\": \"{SECRET}\"\n}}\n")
    );
}

#[test]
fn key_file_written_by_add_is_read_by_jwcrypto_with_go_field_names() {
    use base64::Engine;
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let out = common::jwe_tool(&["decrypt", PASSPHRASE, s.keys.join("p").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let item = String::from_utf8(out.stdout).unwrap();
    assert!(
        item.starts_with(r#"{"Key":"p","Data":""#) && item.ends_with(r#"","Label":"aws-vault (p)","Description":"","KeychainNotTrustApplication":true,"KeychainNotSynchronizable":false}"#),
        "{item}"
    );
    let v: serde_json::Value = serde_json::from_str(&item).unwrap();
    let data = base64::engine::general_purpose::STANDARD
        .decode(v["Data"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(data).unwrap(),
        format!(
            r#"{{"AccessKeyID":"{KEY_ID}","SecretAccessKey":"{SECRET}","SessionToken":"","Source":"","CanExpire":false,"Expires":"0001-01-01T00:00:00Z","AccountID":""}}"#
        )
    );
    // Wrong passphrase: jwcrypto refuses too.
    let out = common::jwe_tool(&["decrypt", "nope", s.keys.join("p").to_str().unwrap()]);
    assert!(!out.status.success());
}

// ---------------------------------------------------------------- shell completion

#[test]
fn bash_completion_offers_commands_flags_and_profiles() {
    let s = Sandbox::with_config("[profile dev]\n[profile prod]\n");
    assert_eq!(
        s.run(&["--completion-bash", "exec", ""]).ok().stdout,
        "dev\nprod"
    );
    let script = s.run(&["--completion-script-bash"]).ok().stdout;
    let bin_dir = common::bin_dir().to_str().unwrap().to_string();
    let complete = |words: &str, cword: usize| {
        let prog = format!(
            "{script}\nCOMP_WORDS=({words}); COMP_CWORD={cword}; _aws-vault_bash_autocomplete; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let mut cmd = s.cmd(&[]);
        let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(prog)
            .env_clear()
            .envs(
                cmd.get_envs()
                    .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
            )
            .env("PATH", path)
            .output()
            .expect("bash");
        let _ = &mut cmd;
        String::from_utf8(out.stdout).unwrap()
    };
    // As kingpin: its `help` command first, and the backend names for `--backend`.
    assert_eq!(
        s.run(&["--completion-bash", ""]).ok().stdout,
        "help\nadd\nremove\nmigrate-backend\nlist\nrotate\nexec\nexport\nclear\nlogin\nsso-profiles\ndoctor\nreencrypt\nagent\nversion"
    );
    assert_eq!(
        s.run(&["--completion-bash", "--backend", ""]).ok().stdout,
        "secret-service\nkwallet\nkeyctl\npass\npassage\nfile\nop-connect\nop\nop-desktop"
    );
    assert_eq!(complete("aws-vault --backend f", 2), "file\n");
    assert_eq!(complete("aws-vault exec p", 2), "prod\n");
    assert_eq!(complete("aws-vault ex", 1), "exec\nexport\n");
    assert_eq!(complete("aws-vault export --format j", 3), "json\n");
    assert!(complete("aws-vault list --", 2).contains("--profiles\n"));
}

/// The `p2c` in a key file's protected header.
fn p2c_of(path: &std::path::Path) -> u64 {
    use base64::Engine;
    let token = std::fs::read_to_string(path).unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["p2c"].as_u64().unwrap()
}

/// jwcrypto's plaintext for a key file (jose2go's iteration cap), asserting it opens.
fn jwcrypto_plaintext(path: &std::path::Path, pass: &str) -> String {
    let out = common::jwe_tool(&["decrypt", pass, path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "jwcrypto could not open {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn key_dir_snapshot(s: &Sandbox) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&s.keys)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let name = e.file_name().into_string().unwrap();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn stronger_kdf_for_new_items_is_opt_in_and_read_by_the_go_format_reader() {
    let s = Sandbox::with_config("[profile a]\n[profile b]\n[profile c]\n");
    s.add("a", KEY_ID, SECRET);
    assert_eq!(
        p2c_of(&s.keys.join("a")),
        8192,
        "the default stays the Go tool's"
    );

    s.run_env(
        &["add", "--env", "b"],
        &[
            ("AWS_VAULT_FILE_KDF_ITERATIONS", "600000"),
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    assert_eq!(p2c_of(&s.keys.join("b")), 600_000);
    // The flag form, given after the command like every global flag.
    s.run_env(
        &["add", "--env", "c", "--file-kdf-iterations", "1300000"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    assert_eq!(p2c_of(&s.keys.join("c")), 1_300_000);

    // An independent reader with jose2go's limits opens both; ours reads each item's own count
    // whatever the setting.
    for k in ["b", "c"] {
        let plain = jwcrypto_plaintext(&s.keys.join(k), PASSPHRASE);
        assert!(plain.starts_with(&format!("{{\"Key\":\"{k}\",")), "{plain}");
    }
    let json = s.run(&["export", "-n", "--format=json", "c"]).ok().stdout;
    assert!(json.contains(SECRET), "{json}");
}

#[test]
fn kdf_iterations_outside_what_the_go_tool_reads_are_refused() {
    let s = Sandbox::with_config("[profile a]\n");
    for bad in ["8191", "1300001", "lots", "-1", "600000.5"] {
        let line = s
            .run_env(
                &["add", "--env", "a"],
                &[
                    ("AWS_VAULT_FILE_KDF_ITERATIONS", bad),
                    ("AWS_ACCESS_KEY_ID", KEY_ID),
                    ("AWS_SECRET_ACCESS_KEY", SECRET),
                ],
            )
            .fails();
        assert!(
            line.contains("--file-kdf-iterations must be a whole number from 8192 to 1300000")
                && line.contains(&format!("got '{bad}'")),
            "{line}"
        );
        assert!(
            !s.keys.join("a").exists(),
            "nothing is written on bad input"
        );
    }
}

#[test]
fn reencrypt_rewrites_every_item_and_keeps_each_plaintext() {
    let s = Sandbox::with_config("[profile a]\n[profile b]\n");
    s.add("a", KEY_ID, SECRET);
    s.add("b", "AKIAOTHEREXAMPLE", "other/secret");
    let before: Vec<String> = ["a", "b"]
        .iter()
        .map(|k| jwcrypto_plaintext(&s.keys.join(k), PASSPHRASE))
        .collect();

    let out = s
        .run_env(
            &["reencrypt"],
            &[("AWS_VAULT_FILE_KDF_ITERATIONS", "600000")],
        )
        .ok()
        .stdout;
    assert_eq!(
        out,
        "Re-encrypted 2 items (PBKDF2 iterations 8192 -> 600000).\n"
    );
    for (k, plain) in ["a", "b"].iter().zip(&before) {
        assert_eq!(p2c_of(&s.keys.join(k)), 600_000);
        assert_eq!(
            &jwcrypto_plaintext(&s.keys.join(k), PASSPHRASE),
            plain,
            "the item's bytes are carried over unchanged"
        );
    }
    let names: Vec<String> = key_dir_snapshot(&s).into_iter().map(|f| f.0).collect();
    assert_eq!(names, ["a", "b"], "no temporary files are left behind");
    assert!(s
        .run(&["export", "-n", "b"])
        .ok()
        .stdout
        .contains("other/secret"));

    // And back to the Go tool's count.
    let out = s.run(&["reencrypt"]).ok().stdout;
    assert_eq!(
        out,
        "Re-encrypted 2 items (PBKDF2 iterations 600000 -> 8192).\n"
    );
    assert_eq!(p2c_of(&s.keys.join("a")), 8192);
}

#[test]
fn reencrypt_can_change_the_passphrase() {
    let s = Sandbox::with_config("[profile a]\n[profile b]\n");
    s.add("a", KEY_ID, SECRET);
    s.add("b", KEY_ID, SECRET);
    let out = s
        .run_env(
            &["reencrypt", "--new-passphrase"],
            &[("AWS_VAULT_FILE_NEW_PASSPHRASE", "a new one")],
        )
        .ok()
        .stdout;
    assert_eq!(
        out,
        "Re-encrypted 2 items under the new passphrase (PBKDF2 iterations 8192 -> 8192).\n"
    );
    let line = s.run(&["export", "-n", "a"]).fails();
    assert!(line.contains("could not decrypt"), "{line}");
    for k in ["a", "b"] {
        let env = s
            .run_env(
                &["export", "-n", k],
                &[("AWS_VAULT_FILE_PASSPHRASE", "a new one")],
            )
            .ok()
            .stdout;
        assert!(env.contains(SECRET), "{env}");
    }
    // An empty new passphrase is refused and changes nothing.
    let before = key_dir_snapshot(&s);
    let line = s
        .run_env(
            &["reencrypt", "--new-passphrase"],
            &[
                ("AWS_VAULT_FILE_PASSPHRASE", "a new one"),
                ("AWS_VAULT_FILE_NEW_PASSPHRASE", ""),
            ],
        )
        .fails();
    assert!(line.contains("the new passphrase is empty"), "{line}");
    assert_eq!(key_dir_snapshot(&s), before);
    // Without a terminal and without the variable, it says how to give one.
    let line = s.run_detached(&["reencrypt", "--new-passphrase"]).fails();
    assert!(line.contains("AWS_VAULT_FILE_NEW_PASSPHRASE"), "{line}");
}

#[test]
fn reencrypt_changes_nothing_unless_every_item_opens() {
    let s = Sandbox::with_config("[profile a]\n[profile b]\n");
    s.add("a", KEY_ID, SECRET);
    s.add("b", KEY_ID, SECRET);
    // An item under another passphrase, then a damaged one: each stops the whole rewrite.
    let plain = s.dir.path().join("plain.json");
    std::fs::write(&plain, jwcrypto_plaintext(&s.keys.join("a"), PASSPHRASE)).unwrap();
    let other = s.keys.join("c-other-passphrase");
    let out = common::jwe_tool(&[
        "encrypt-go",
        "another passphrase",
        plain.to_str().unwrap(),
        other.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (culprit, expected) in [
        ("c-other-passphrase", "could not decrypt"),
        ("d-damaged", "not an aws-vault item"),
    ] {
        if culprit == "d-damaged" {
            std::fs::remove_file(&other).unwrap();
            std::fs::write(s.keys.join(culprit), "eyJ0aGlzIjoiYnJva2VuIn0.x.y").unwrap();
        }
        let before = key_dir_snapshot(&s);
        let line = s
            .run_env(
                &["reencrypt"],
                &[("AWS_VAULT_FILE_KDF_ITERATIONS", "600000")],
            )
            .fails();
        assert!(line.contains(culprit) && line.contains(expected), "{line}");
        assert_eq!(key_dir_snapshot(&s), before, "nothing was rewritten");
    }
}

#[test]
fn reencrypt_is_for_the_file_backend_only() {
    let s = Sandbox::with_config("[profile a]\n");
    let line = s.run(&["reencrypt", "--backend=pass"]).fails();
    assert!(line.contains("file backend only"), "{line}");
    let out = s.run(&["reencrypt"]).ok().stdout;
    assert!(out.starts_with("No items in "), "{out}");
}
