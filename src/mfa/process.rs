//! A profile's `mfa_process` (docs/compatibility.md §6.4): a shell command whose stdout is the code. Its command
//! line is never logged or put in an error: it may embed a TOTP secret.
use std::process::Command;

use zeroize::Zeroizing;

use super::{run_helper, Stdin};

pub(super) fn code(command: &str) -> anyhow::Result<Zeroizing<String>> {
    run_helper(shell(command), "process provider", Stdin::Terminal)
}

#[cfg(not(windows))]
fn shell(command: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    cmd
}

/// `%SystemRoot%\System32\cmd.exe /C "<command>"`, with the command line passed raw.
#[cfg(windows)]
fn shell(command: &str) -> Command {
    use std::os::windows::process::CommandExt;
    let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
    let mut cmd = Command::new(std::path::Path::new(&root).join(r"System32\cmd.exe"));
    cmd.raw_arg(format!("/C \"{command}\""));
    cmd
}
