//! Black-box tests of the hardening against hostile or broken input (docs/differences.md,
//! entries marked "hardening"): each one reproduces an attack or a failure that went through
//! before the fix. Every test is bounded in time and memory.
mod common;

use std::process::Stdio;

use aws_vault::keyring::Keyring;
use common::{Sandbox, PASSPHRASE};

const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

// ---------------------------------------------------------------- exec: vault secrets

#[test]
fn exec_child_never_sees_the_vault_unlocking_secrets() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let secrets = [
        ("AWS_VAULT_OP_CONNECT_TOKEN", "op-connect-secret"),
        ("AWS_VAULT_OP_SERVICE_ACCOUNT_TOKEN", "op-sa-secret"),
        ("OP_CONNECT_TOKEN", "op-connect-secret-2"),
        ("OP_SERVICE_ACCOUNT_TOKEN", "op-sa-secret-2"),
    ];
    let run = s
        .run_env(&["exec", "--no-session", "p", "--", "env"], &secrets)
        .ok();
    assert!(
        run.stdout
            .contains(&format!("AWS_ACCESS_KEY_ID={KEY_ID}\n")),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains(PASSPHRASE),
        "the file passphrase reached the child:\n{}",
        run.stdout
    );
    for (name, value) in secrets {
        assert!(
            !run.stdout.contains(value),
            "{name} reached the child:\n{}",
            run.stdout
        );
    }
    // Unrelated settings of the same families still pass through.
    let run = s
        .run_env(
            &["exec", "-n", "p", "--", "env"],
            &[("AWS_VAULT_OP_VAULT_ID", "vault-uuid")],
        )
        .ok();
    assert!(run.stdout.contains("AWS_VAULT_OP_VAULT_ID=vault-uuid\n"));
}

// ---------------------------------------------------------------- add: reserved names

#[test]
fn add_refuses_names_of_internal_items() {
    let s = Sandbox::with_config("");
    for name in [
        "sts.GetSessionToken,cHJvZA,,1735689600",
        "sts.AssumeRole,cHJvZA,,1",
        "prod session (1)",
        "session,cHJvZA,,1735689600",
        "oidc:https://example.awsapps.com/start",
    ] {
        let line = s
            .run_env(
                &["add", "--env", name],
                &[
                    ("AWS_ACCESS_KEY_ID", KEY_ID),
                    ("AWS_SECRET_ACCESS_KEY", SECRET),
                ],
            )
            .fails();
        assert!(line.contains("reserved"), "{name}: {line}");
        assert!(
            s.keyring().keys().unwrap().is_empty(),
            "{name} was stored anyway"
        );
    }
    assert_eq!(std::fs::read_to_string(&s.config).unwrap(), "");
}

#[test]
fn add_validates_everything_before_writing_anything() {
    let s = Sandbox::with_config("");
    let line = s
        .run_env(
            &["add", "--env", "nl\nx"],
            &[
                ("AWS_ACCESS_KEY_ID", KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
            ],
        )
        .fails();
    assert!(line.contains("line break"), "{line}");
    assert!(
        s.keyring().keys().unwrap().is_empty(),
        "the keyring item was written before the name was refused"
    );
    assert_eq!(std::fs::read_to_string(&s.config).unwrap(), "");
}

// ---------------------------------------------------------------- the refresh lock

/// A `credential_process` that counts its runs in `count` and takes a moment, so parallel
/// callers overlap.
fn counting_process(s: &Sandbox) -> std::path::PathBuf {
    let count = s.dir.path().join("count");
    let script = s.dir.path().join("proc.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{}'\nsleep 0.5\nexp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)\nprintf '{{\"Version\":1,\"AccessKeyId\":\"ASIAPROC\",\"SecretAccessKey\":\"s\",\"SessionToken\":\"t\",\"Expiration\":\"%s\"}}' \"$exp\"\n",
            count.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.write_config(&format!(
        "[profile p]\ncredential_process = {}\n",
        script.display()
    ));
    count
}

#[test]
fn foreign_lock_directory_does_not_turn_locking_off() {
    let s = Sandbox::new();
    let count = counting_process(&s);
    // Someone else got to $TMPDIR/aws-vault-<uid> first.
    let tmp = s.dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let squatted = tmp.join(format!("aws-vault-{uid}"));
    std::fs::create_dir(&squatted).unwrap();
    std::os::unix::fs::chown(&squatted, Some(uid + 4242), None)
        .expect("the lock tests create a directory owned by another user (run as root)");
    let cache = s.dir.path().join("cache");
    let env = [
        ("XDG_RUNTIME_DIR", ""),
        ("TMPDIR", tmp.to_str().unwrap()),
        ("XDG_CACHE_HOME", cache.to_str().unwrap()),
    ];
    let children: Vec<_> = (0..8)
        .map(|_| {
            let mut c = s.cmd(&["export", "p"]);
            for (k, v) in env {
                c.env(k, v);
            }
            c.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let runs = std::fs::read_to_string(&count).unwrap().lines().count();
    assert_eq!(runs, 1, "8 parallel exports ran the process {runs} times");
}

#[test]
fn parallel_first_writes_share_one_passphrase() {
    let s = Sandbox::with_config("");
    let children: Vec<_> = (0..10)
        .map(|i| {
            let mut c = s.cmd(&["add", "--env", "--no-add-config", &format!("p{i}")]);
            c.env("AWS_VAULT_FILE_PASSPHRASE", format!("pass-{i}"))
                .env("AWS_ACCESS_KEY_ID", KEY_ID)
                .env("AWS_SECRET_ACCESS_KEY", SECRET)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            c.spawn().unwrap()
        })
        .collect();
    for mut child in children {
        child.wait().unwrap();
    }
    let names: Vec<String> = std::fs::read_dir(&s.keys)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(!names.is_empty());
    let mut passphrases = std::collections::BTreeSet::new();
    for name in &names {
        let opened_by: Vec<usize> = (0..10)
            .filter(|i| {
                let cfg = aws_vault::keyring::Config {
                    backend: Some("file".into()),
                    file_passphrase: Some(zeroize::Zeroizing::new(format!("pass-{i}"))),
                    home: s.home.clone(),
                    ..Default::default()
                };
                aws_vault::keyring::file::FileKeyring::new(&cfg)
                    .get(name)
                    .is_ok()
            })
            .collect();
        passphrases.extend(opened_by);
    }
    assert_eq!(
        passphrases.len(),
        1,
        "items of one key directory are encrypted under {} passphrases",
        passphrases.len()
    );
}

// ---------------------------------------------------------------- smaller items

#[test]
fn terminal_escapes_in_names_and_errors_are_neutralised() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    let evil = "x\u{1b}]0;pwned\u{7}\u{1b}[31m";
    std::fs::copy(s.key_file("p"), s.key_file(evil)).unwrap();
    for args in [&["list"][..], &["list", "--credentials"][..]] {
        let out = s.run(args).ok().stdout;
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}'),
            "{args:?} printed raw control characters: {out:?}"
        );
        assert!(out.contains("x\\x1b]0;pwned\\x07"), "{out:?}");
    }
    let run = s.run(&["export", "-n", "nope\u{1b}]0;pwned\u{7}"]);
    assert_ne!(run.code, 0);
    let line = run.stderr;
    assert!(
        !line.contains('\u{1b}') && !line.contains('\u{7}'),
        "error printed raw control characters: {line:?}"
    );
}

#[test]
fn damaged_key_file_is_named_not_hidden() {
    let s = Sandbox::with_config("[profile p]\n");
    s.add("p", KEY_ID, SECRET);
    std::fs::write(s.key_file("p"), "this is not a JWE").unwrap();
    let line = s.run(&["export", "-n", "p"]).fails();
    assert!(
        line.contains(s.key_file("p").to_str().unwrap()),
        "the damaged file is not named: {line}"
    );
    // Stray dot files and directories are still not keys.
    std::fs::write(s.keys.join(".DS_Store"), b"\0\0\0\x01Bud1").unwrap();
    std::fs::create_dir(s.keys.join("subdir")).unwrap();
    assert_eq!(s.run(&["list", "--credentials"]).ok().stdout, "p\n");
}

#[test]
fn expired_credential_process_output_is_refused() {
    let s = Sandbox::with_config(
        "[profile p]\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":\"ASIAOLD\",\"SecretAccessKey\":\"s\",\"SessionToken\":\"t\",\"Expiration\":\"2001-01-01T00:00:00Z\"}'\n",
    );
    let run = s.run(&["export", "p"]);
    assert!(!run.stdout.contains("ASIAOLD"), "{}", run.stdout);
    let line = run.fails();
    assert!(line.contains("expired"), "{line}");
}

// ---------------------------------------------------------------- unbounded input

/// Run to completion within `limit`, or kill it and fail: a hang must fail the test, not stall
/// the suite.
fn run_bounded(mut cmd: std::process::Command, limit: std::time::Duration) -> common::Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("aws-vault still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

#[test]
fn hanging_credential_process_is_killed_after_the_timeout() {
    // `exec`: the shell becomes the command, which is what gets killed (a command's own
    // children are its business, and would keep this test's stderr pipe open).
    let s = Sandbox::with_config("[profile p]\ncredential_process = exec sleep 1000\n");
    let mut cmd = s.cmd(&["export", "p"]);
    cmd.env("AWS_VAULT_PROCESS_TIMEOUT", "1s");
    let started = std::time::Instant::now();
    let line = run_bounded(cmd, LIMIT).fails();
    assert!(line.contains("AWS_VAULT_PROCESS_TIMEOUT"), "{line}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn huge_process_output_is_refused() {
    // 3 MiB of output, over the 1 MiB cap; /dev/zero would do too, but needs the cap to stop.
    for config in [
        "[profile p]\ncredential_process = head -c 3000000 /dev/zero\n",
        "[profile p]\ncredential_process = cat /dev/zero\n",
        "[profile p]\nrole_arn = arn:aws:iam::123456789012:role/r\nweb_identity_token_process = cat /dev/zero\n",
    ] {
        let s = Sandbox::with_config(config);
        let line = run_bounded(s.cmd(&["export", "p"]), LIMIT).fails();
        assert!(line.contains("larger than the limit"), "{config}: {line}");
    }
}

#[test]
fn token_and_config_files_that_never_end_are_refused() {
    let s = Sandbox::with_config(
        "[profile p]\nrole_arn = arn:aws:iam::123456789012:role/r\nweb_identity_token_file = /dev/zero\n",
    );
    let line = run_bounded(s.cmd(&["export", "p"]), LIMIT).fails();
    assert!(line.contains("/dev/zero"), "{line}");

    let mut cmd = s.cmd(&["list"]);
    cmd.env("AWS_CONFIG_FILE", "/dev/zero");
    let line = run_bounded(cmd, LIMIT).fails();
    assert!(line.contains("/dev/zero"), "{line}");

    let fifo = s.dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut cmd = s.cmd(&["list"]);
    cmd.env("AWS_CONFIG_FILE", &fifo);
    let line = run_bounded(cmd, LIMIT).fails();
    assert!(line.contains("not a regular file"), "{line}");
}
