//! The GUI dialog drivers: `zenity`, `kdialog` and macOS `osascript` (docs/compatibility.md §6.1).
use std::path::Path;
use std::process::Command;

use zeroize::Zeroizing;

use super::{run_helper, Stdin};

/// `zenity --entry --title aws-vault --text <prompt>`.
pub(super) fn zenity(program: &Path, message: &str) -> anyhow::Result<Zeroizing<String>> {
    let mut cmd = Command::new(program);
    cmd.args(["--entry", "--title", "aws-vault", "--text", message]);
    run_helper(cmd, "zenity", Stdin::Null)
}

/// `kdialog --inputbox <prompt> --title aws-vault`.
pub(super) fn kdialog(program: &Path, message: &str) -> anyhow::Result<Zeroizing<String>> {
    let mut cmd = Command::new(program);
    cmd.args(["--inputbox", message, "--title", "aws-vault"]);
    run_helper(cmd, "kdialog", Stdin::Null)
}

/// `osascript -e <script>`: a dialog with the prompt, an empty answer field and OK/Cancel.
pub(super) fn osascript(program: &Path, message: &str) -> anyhow::Result<Zeroizing<String>> {
    let mut cmd = Command::new(program);
    cmd.arg("-e").arg(osascript_source(message));
    run_helper(cmd, "osascript", Stdin::Null)
}

/// The AppleScript the Go tool runs, byte for byte (the message quoted like Go's `%q`).
pub(super) fn osascript_source(message: &str) -> String {
    format!(
        "\n\t\tdisplay dialog {} default answer \"\" buttons {{\"OK\", \"Cancel\"}} default button 1\n        text returned of the result\n        return result",
        go_quote(message)
    )
}

pub(super) use crate::gofmt::quote::go_quote;
