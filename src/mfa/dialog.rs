//! The GUI dialog drivers: `zenity`, `kdialog` and macOS `osascript` (compat §6.1).
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

/// Go's `strconv.Quote` (`%q`): a double-quoted string with Go escapes. Printability is
/// approximated by "not a control character".
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if !c.is_control() => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}
