use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

/// A temp dir holding fake executables named `names` (plus a non-executable `osascript`).
fn fake_path(names: &[&str]) -> (tempfile::TempDir, BTreeMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        write_exec(dir.path(), name, 0o755);
    }
    write_exec(dir.path(), "not-a-driver", 0o755);
    let env = env_with_path(dir.path().to_str().unwrap());
    (dir, env)
}

fn write_exec(dir: &Path, name: &str, mode: u32) {
    let p = dir.join(name);
    std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn env_with_path(path: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("PATH".to_string(), path.to_string())])
}

fn driver(prompt: Option<&str>, avoid: bool, tty: bool, env: &BTreeMap<String, String>) -> String {
    MfaSource::new(None, prompt.map(str::to_string), avoid, tty, env)
        .driver()
        .to_string()
}

/// (prompt, avoid_terminal, stdout_is_terminal, available, expected)
type Row<'a> = (Option<&'a str>, bool, bool, &'a [&'a str], &'a str);

#[test]
fn default_driver_rule_table() {
    let table: &[Row] = &[
        (
            None,
            false,
            true,
            &["terminal", "ykman", "zenity"],
            "terminal",
        ),
        (
            None,
            false,
            false,
            &["terminal", "ykman", "zenity"],
            "ykman",
        ),
        (None, true, true, &["terminal", "ykman", "zenity"], "ykman"),
        (None, true, false, &["terminal", "ykman", "zenity"], "ykman"),
        (
            None,
            false,
            false,
            &["kdialog", "terminal", "zenity"],
            "kdialog",
        ),
        (None, true, true, &["osascript", "terminal"], "osascript"),
        (None, true, true, &["terminal", "zenity"], "zenity"),
        (None, false, false, &["terminal"], "terminal"),
        (None, true, true, &["terminal"], "terminal"),
        // Alphabetical, whatever order the list comes in.
        (
            None,
            true,
            true,
            &["zenity", "terminal", "kdialog"],
            "kdialog",
        ),
        (
            None,
            true,
            true,
            &["zenity", "wincredui", "terminal"],
            "wincredui",
        ),
        // An explicit --prompt always wins, even "terminal" with a server.
        (
            Some("terminal"),
            true,
            false,
            &["terminal", "zenity"],
            "terminal",
        ),
        (
            Some("zenity"),
            false,
            true,
            &["terminal", "zenity"],
            "zenity",
        ),
        (Some(""), false, true, &["terminal", "zenity"], "terminal"),
    ];
    for (prompt, avoid, tty, available, want) in table {
        assert_eq!(
            default_driver(*prompt, *avoid, *tty, available),
            *want,
            "prompt={prompt:?} avoid_terminal={avoid} stdout_tty={tty} available={available:?}"
        );
    }
}

#[test]
fn linux_with_ykman_and_zenity_piped_stdout_uses_ykman() {
    let (_dir, env) = fake_path(&["ykman", "zenity"]);
    assert_eq!(driver(None, false, false, &env), "ykman");
}

#[test]
fn stdout_terminal_uses_terminal() {
    let (_dir, env) = fake_path(&["ykman", "zenity"]);
    assert_eq!(driver(None, false, true, &env), "terminal");
}

#[test]
fn avoid_terminal_uses_first_non_terminal_driver() {
    let (_dir, env) = fake_path(&["zenity", "kdialog"]);
    assert_eq!(driver(None, true, true, &env), "kdialog");
    let (_dir, env) = fake_path(&["zenity"]);
    assert_eq!(driver(None, true, true, &env), "zenity");
}

#[test]
fn no_other_driver_means_terminal() {
    let (_dir, env) = fake_path(&[]);
    assert_eq!(driver(None, true, false, &env), "terminal");
    assert_eq!(driver(None, false, false, &BTreeMap::new()), "terminal");
}

#[test]
fn explicit_prompt_wins() {
    let (_dir, env) = fake_path(&["ykman", "zenity"]);
    assert_eq!(driver(Some("zenity"), false, false, &env), "zenity");
    assert_eq!(driver(Some("terminal"), true, false, &env), "terminal");
}

#[test]
fn available_drivers_sorted_terminal_always() {
    let (_dir, env) = fake_path(&["zenity", "ykman", "kdialog", "osascript"]);
    let mut want = vec!["kdialog", "osascript", "terminal", "ykman", "zenity"];
    if cfg!(windows) {
        want.insert(3, "wincredui");
    }
    assert_eq!(available_drivers(&env), want);
    assert_eq!(available_drivers(&BTreeMap::new()), vec!["terminal"]);
}

#[test]
fn available_drivers_need_an_executable_file_in_an_absolute_dir() {
    let dir = tempfile::tempdir().unwrap();
    write_exec(dir.path(), "zenity", 0o644); // not executable
    std::fs::create_dir(dir.path().join("kdialog")).unwrap(); // a directory
    let sub = dir.path().join("bin");
    std::fs::create_dir(&sub).unwrap();
    write_exec(&sub, "ykman", 0o755);
    let env = env_with_path(dir.path().to_str().unwrap());
    assert_eq!(available_drivers(&env), vec!["terminal"]);

    // A relative PATH entry is ignored (Go's LookPath refuses results relative to ".").
    let env = env_with_path("bin");
    assert_eq!(available_drivers(&env), vec!["terminal"]);

    // Several entries, the later one matching.
    let path = std::env::join_paths([dir.path(), &sub]).unwrap();
    let env = env_with_path(path.to_str().unwrap());
    assert_eq!(available_drivers(&env), vec!["terminal", "ykman"]);
}

#[test]
fn ykman_arguments() {
    let serial = "arn:aws:iam::123456789012:mfa/jon";
    let opts = |pairs: &[(&str, &str)]| {
        let env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ykman::Options::from_env(&env)
    };
    assert_eq!(
        ykman::args(&opts(&[]), serial),
        ["oath", "accounts", "code", "--single", serial]
    );
    for v in ["1", "2", "3"] {
        assert_eq!(
            ykman::args(&opts(&[("AWS_VAULT_YKMAN_VERSION", v)]), serial),
            ["oath", "code", "--single", serial]
        );
    }
    for v in ["4", "5", "", "3.1"] {
        assert_eq!(
            ykman::args(&opts(&[("AWS_VAULT_YKMAN_VERSION", v)]), serial),
            ["oath", "accounts", "code", "--single", serial]
        );
    }
    assert_eq!(
        ykman::args(
            &opts(&[
                ("YKMAN_OATH_DEVICE_SERIAL", "1234567"),
                ("YKMAN_OATH_CREDENTIAL_NAME", "aws:jon"),
                ("AWS_VAULT_YKMAN_VERSION", "2"),
            ]),
            serial
        ),
        ["--device", "1234567", "oath", "code", "--single", "aws:jon"]
    );
    // Empty values count as unset.
    assert_eq!(
        ykman::args(
            &opts(&[
                ("YKMAN_OATH_DEVICE_SERIAL", ""),
                ("YKMAN_OATH_CREDENTIAL_NAME", "")
            ]),
            serial
        ),
        ["oath", "accounts", "code", "--single", serial]
    );
}

#[test]
fn prompt_text() {
    assert_eq!(
        prompt_message("arn:aws:iam::123456789012:mfa/jon"),
        "Enter MFA code for arn:aws:iam::123456789012:mfa/jon: "
    );
}

#[test]
fn osascript_source_matches_go() {
    assert_eq!(
        dialog::osascript_source("Enter MFA code for arn:aws:iam::1:mfa/jon: "),
        "\n\t\tdisplay dialog \"Enter MFA code for arn:aws:iam::1:mfa/jon: \" default answer \"\" \
         buttons {\"OK\", \"Cancel\"} default button 1\n        text returned of the result\n        \
         return result"
    );
}

#[test]
fn go_quote_escapes() {
    assert_eq!(dialog::go_quote("plain"), "\"plain\"");
    assert_eq!(dialog::go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_eq!(dialog::go_quote("x\ny\tz\r"), "\"x\\ny\\tz\\r\"");
    assert_eq!(dialog::go_quote("\x01\x7f"), "\"\\x01\\x7f\"");
    assert_eq!(dialog::go_quote("\u{85}"), "\"\\u0085\"");
    assert_eq!(dialog::go_quote("héllo ✓"), "\"héllo ✓\"");
}

#[test]
fn fixed_token_is_trimmed_reused_and_redacted() {
    let src = MfaSource::new(
        Some(Zeroizing::new(" 246810 ".to_string())),
        None,
        false,
        true,
        &BTreeMap::new(),
    );
    assert!(src.has_fixed_token());
    // Reused for every call; beats mfa_process (which would fail if it ran).
    for _ in 0..2 {
        assert_eq!(src.code("arn:x", Some("exit 7")).unwrap(), "246810");
    }
    let debug = format!("{src:?}");
    assert!(!debug.contains("246810"), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
}

#[test]
fn empty_fixed_token_is_unset() {
    let src = MfaSource::new(
        Some(Zeroizing::new("  ".to_string())),
        None,
        false,
        true,
        &BTreeMap::new(),
    );
    assert!(!src.has_fixed_token());
    let err = src.code("arn:x", Some("exit 3")).unwrap_err().to_string();
    assert_eq!(err, "process provider: exit status 3");
}

#[test]
fn missing_helper_is_a_clear_error() {
    let src = MfaSource::new(None, Some("zenity".into()), false, true, &BTreeMap::new());
    let err = src.code("arn:x", None).unwrap_err().to_string();
    assert!(
        err.starts_with("zenity: executable file not found in $PATH"),
        "{err}"
    );
}
