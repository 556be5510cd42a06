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
        run.stdout.contains(&format!("AWS_ACCESS_KEY_ID={KEY_ID}\n")),
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
                &[("AWS_ACCESS_KEY_ID", KEY_ID), ("AWS_SECRET_ACCESS_KEY", SECRET)],
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
            &[("AWS_ACCESS_KEY_ID", KEY_ID), ("AWS_SECRET_ACCESS_KEY", SECRET)],
        )
        .fails();
    assert!(line.contains("line break"), "{line}");
    assert!(
        s.keyring().keys().unwrap().is_empty(),
        "the keyring item was written before the name was refused"
    );
    assert_eq!(std::fs::read_to_string(&s.config).unwrap(), "");
}

