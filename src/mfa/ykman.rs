//! The `ykman` driver: an OATH-TOTP code from a YubiKey (docs/compatibility.md §6.3).
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use zeroize::Zeroizing;

use super::{run_helper, Stdin};

/// What the environment says about the YubiKey and the ykman version.
#[derive(Debug, Clone, Default)]
pub(super) struct Options {
    /// `YKMAN_OATH_DEVICE_SERIAL`, when non-empty.
    device_serial: Option<String>,
    /// `YKMAN_OATH_CREDENTIAL_NAME`, when non-empty.
    credential_name: Option<String>,
    /// `AWS_VAULT_YKMAN_VERSION` is `1`, `2` or `3`: the pre-v4 `oath code` syntax.
    legacy: bool,
}

impl Options {
    pub(super) fn from_env(env: &BTreeMap<String, String>) -> Options {
        let non_empty = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
        Options {
            device_serial: non_empty("YKMAN_OATH_DEVICE_SERIAL"),
            credential_name: non_empty("YKMAN_OATH_CREDENTIAL_NAME"),
            legacy: matches!(
                env.get("AWS_VAULT_YKMAN_VERSION").map(String::as_str),
                Some("1" | "2" | "3")
            ),
        }
    }
}

/// `[--device <serial>] oath [accounts] code --single <account>`.
pub(super) fn args(options: &Options, serial: &str) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(device) = &options.device_serial {
        args.extend(["--device".to_string(), device.clone()]);
    }
    let account = options.credential_name.as_deref().unwrap_or(serial);
    let verb: &[&str] = if options.legacy {
        &["oath", "code", "--single"]
    } else {
        &["oath", "accounts", "code", "--single"]
    };
    args.extend(verb.iter().map(|s| s.to_string()));
    args.push(account.to_string());
    args
}

pub(super) fn code(
    program: &Path,
    options: &Options,
    serial: &str,
) -> anyhow::Result<Zeroizing<String>> {
    let args = args(options, serial);
    crate::debug!("Fetching MFA code using `ykman {}`", args.join(" "));
    let mut cmd = Command::new(program);
    cmd.args(&args);
    run_helper(cmd, "ykman", Stdin::Terminal)
}
