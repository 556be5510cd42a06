//! Completion scripts for fish and PowerShell, and the man page, driven through the real
//! programs: fish completes from our script, `man`/`groff` render `--help-man`.
mod common;

use common::Sandbox;

fn bin_dir() -> String {
    common::bin_dir().display().to_string()
}

/// Run `fish -c script` with the sandbox's environment and our binary first on PATH.
fn fish(s: &Sandbox, script: &str) -> String {
    let cmd = s.cmd(&[]);
    let path = format!(
        "{}:{}",
        bin_dir(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("fish")
        .arg("--no-config")
        .arg("-c")
        .arg(script)
        .env_clear()
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .env("PATH", path)
        .output()
        .expect("fish is required for this test (apt-get install fish)");
    assert!(
        out.status.success(),
        "fish failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn fish_completes_commands_flags_and_profiles() {
    let s = Sandbox::with_config("[profile dev]\n[profile prod]\n");
    let script = s.run(&["--completion-script-fish"]).ok().stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aws-vault.fish");
    std::fs::write(&file, script).unwrap();
    let complete = |line: &str| {
        fish(
            &s,
            &format!("source {}; complete -C '{line}'", file.display()),
        )
    };
    let profiles = complete("aws-vault exec ");
    assert_eq!(profiles.lines().collect::<Vec<_>>(), ["dev", "prod"]);
    let commands = complete("aws-vault ");
    for c in ["exec", "export", "list", "login", "rotate"] {
        assert!(commands.lines().any(|l| l == c), "{c} in {commands}");
    }
    let flags = complete("aws-vault export --f");
    assert!(flags.lines().any(|l| l == "--format"), "{flags}");
}

#[test]
fn powershell_script_calls_back_into_the_completer() {
    let s = Sandbox::new();
    let script = s.run(&["--completion-script-powershell"]).ok().stdout;
    assert!(script.contains("Register-ArgumentCompleter -Native -CommandName aws-vault"));
    assert!(script.contains("--completion-bash"));
}

#[test]
fn man_page_renders_with_every_command() {
    let s = Sandbox::new();
    let page = s.run(&["--help-man"]).ok().stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aws-vault.1");
    std::fs::write(&file, &page).unwrap();
    let out = std::process::Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man is required for this test (apt-get install man-db groff-base)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for c in [
        "add",
        "remove",
        "list",
        "rotate",
        "exec",
        "export",
        "clear",
        "login",
        "migrate-backend",
        "version",
    ] {
        assert!(
            text.contains(&format!("aws-vault {c}")),
            "{c} missing from the man page"
        );
    }
    for v in [
        "AWS_VAULT_BACKEND",
        "AWS_VAULT_FILE_PASSPHRASE",
        "AWS_VAULT_DURATION",
    ] {
        assert!(text.contains(v), "{v} missing from the man page");
    }
    let long = s.run(&["--help-long"]).ok().stderr;
    assert!(long.contains("aws-vault exec"), "{long}");
}
