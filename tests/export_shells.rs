//! `export --format=fish` evaluated by the real fish shell: a secret with quotes, `$`,
//! backslashes, spaces and a line break must come back byte for byte.
mod common;

use std::process::Command;

use common::Sandbox;

const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// Everything a shell could misread: both quotes, `$`, `\`, spaces, `;`, `#`, `(`, `*`, `~`.
const SECRET: &str = r#"it's "q" $HOME \back\\slash ;#(x) * ~ %P% end\"#;

/// Run `script` in `fish --no-config` with the sandbox's environment and `$AV` = aws-vault.
fn fish(s: &Sandbox, script: &str) -> String {
    let inner = s.cmd(&[]);
    let mut c = Command::new("fish");
    c.arg("--no-config").arg("-c").arg(script).env_clear();
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c.env("AV", common::bin());
    let out = c
        .output()
        .expect("fish is required for this test (apt-get install fish)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fish failed: {stderr}");
    assert!(stderr.is_empty(), "fish wrote to stderr: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn fish_source_and_eval_read_back_every_byte() {
    let s = Sandbox::with_config("[profile work]\nregion = eu-west-1\n");
    s.add("work", KEY_ID, SECRET);
    let show =
        "printf '%s|' $AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY $AWS_REGION $AWS_DEFAULT_REGION";
    let want = format!("{KEY_ID}|{SECRET}|eu-west-1|eu-west-1|");
    let sourced = fish(
        &s,
        &format!("$AV export --no-session --format=fish work | source; {show}"),
    );
    assert_eq!(sourced, want);
    let evaluated = fish(
        &s,
        &format!("eval ($AV export --no-session --format=fish work); {show}"),
    );
    assert_eq!(evaluated, want);
    // Exported: a child process sees them.
    let child = fish(
        &s,
        "$AV export -n --format=fish work | source; sh -c 'printf %s \"$AWS_SECRET_ACCESS_KEY\"'",
    );
    assert_eq!(child, SECRET);
}

#[test]
fn powershell_and_cmd_formats_print_the_same_variables() {
    let s = Sandbox::with_config("[profile work]\nregion = eu-west-1\n");
    s.add("work", KEY_ID, "se'cr%et");
    let ps = s.run(&["export", "-n", "--format=powershell", "work"]).ok();
    assert_eq!(
        ps.stdout,
        format!(
            "$Env:AWS_ACCESS_KEY_ID = '{KEY_ID}'\n$Env:AWS_SECRET_ACCESS_KEY = 'se''cr%et'\n\
             $Env:AWS_REGION = 'eu-west-1'\n$Env:AWS_DEFAULT_REGION = 'eu-west-1'\n"
        )
    );
    let cmd = s.run(&["export", "-n", "--format=cmd", "work"]).ok();
    assert_eq!(
        cmd.stdout,
        format!(
            "@set \"AWS_ACCESS_KEY_ID={KEY_ID}\"\r\n@set \"AWS_SECRET_ACCESS_KEY=se'cr%%et\"\r\n\
             @set \"AWS_REGION=eu-west-1\"\r\n@set \"AWS_DEFAULT_REGION=eu-west-1\"\r\n"
        )
    );
}
