//! Questions asked on the controlling terminal.
//!
//! Every prompt goes to `/dev/tty`, never to stdout, so that `export` and `credential_process`
//! output stays clean even while a passphrase or MFA code is being asked for (the Go tool
//! printed a stray newline to stdout, compat §7.15).
use std::io::{self, BufRead, BufReader, Write};

use zeroize::Zeroizing;

#[cfg(unix)]
const TTY: &str = "/dev/tty";
#[cfg(windows)]
const TTY: &str = "CONIN$";

fn no_terminal(e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "no terminal to ask on ({TTY}: {e}); run from a terminal or pass the value another way"
        ),
    )
}

/// Ask a question and read an echoed answer from the terminal, whitespace-trimmed.
pub fn read_line(prompt: &str) -> io::Result<String> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(TTY)
        .map_err(no_terminal)?;
    let mut writer = &tty;
    writer.write_all(prompt.as_bytes())?;
    writer.flush()?;
    let mut line = String::new();
    BufReader::new(&tty).read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// Ask for a secret on the terminal without echo. The answer is not trimmed beyond the line end.
pub fn read_secret(prompt: &str) -> io::Result<Zeroizing<String>> {
    // rpassword opens /dev/tty itself for both the prompt and the read.
    std::fs::File::open(TTY).map_err(no_terminal)?;
    rpassword::prompt_password(prompt).map(Zeroizing::new)
}

/// `(y|N)` confirmation: only `y` or `yes` (any case, trimmed) is a yes.
pub fn confirm(prompt: &str) -> io::Result<bool> {
    let answer = read_line(prompt)?.to_ascii_lowercase();
    Ok(answer == "y" || answer == "yes")
}

/// Whether a controlling terminal can be opened (for the profile picker and prompts).
pub fn has_terminal() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(TTY)
        .is_ok()
}
