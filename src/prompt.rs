//! Questions asked on the controlling terminal.
//!
//! Every prompt goes to `/dev/tty`, never to stdout, so that `export` and `credential_process`
//! output stays clean even while a passphrase or MFA code is being asked for (the Go tool
//! printed a stray newline to stdout, docs/compatibility.md §7.15).
use std::io::{self, BufRead, BufReader, Write};

use zeroize::Zeroizing;

#[cfg(unix)]
const TTY: &str = "/dev/tty";
#[cfg(windows)]
const TTY: &str = "CONIN$";

/// The terminal could not be opened; keeps the operating system's error as its source.
#[derive(Debug)]
struct NoTerminal(io::Error);

impl std::fmt::Display for NoTerminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no terminal to ask on ({TTY}: {}); run from a terminal or pass the value another way",
            self.0
        )
    }
}

impl std::error::Error for NoTerminal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn no_terminal(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), NoTerminal(e))
}

/// Whether `e`, from a prompt of this module, means there is no terminal to ask on (rather
/// than a failure while asking).
pub fn is_no_terminal(e: &io::Error) -> bool {
    let raw = match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<NoTerminal>())
    {
        Some(NoTerminal(os)) => os.raw_os_error(),
        None => e.raw_os_error(),
    };
    #[cfg(unix)]
    {
        e.kind() == io::ErrorKind::NotFound
            || matches!(
                raw,
                Some(libc::ENXIO) | Some(libc::ENOTTY) | Some(libc::ENODEV)
            )
    }
    #[cfg(not(unix))]
    {
        // ERROR_INVALID_HANDLE: a process without a console opening CONIN$.
        e.kind() == io::ErrorKind::NotFound || raw == Some(6)
    }
}

/// Ask a question and read an echoed answer from the terminal, whitespace-trimmed.
pub fn read_line(prompt: &str) -> io::Result<String> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(TTY)
        .map_err(no_terminal)?;
    // Windows: the console's input and output are two devices; CONIN$ cannot be written.
    #[cfg(windows)]
    let out = std::fs::OpenOptions::new()
        .write(true)
        .open("CONOUT$")
        .map_err(no_terminal)?;
    #[cfg(not(windows))]
    let out = tty.try_clone()?;
    let mut writer = &out;
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
