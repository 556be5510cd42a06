//! The `terminal` driver: ask on the controlling terminal, whatever stdin and stdout are (so it
//! works under `credential_process`, where both are pipes). The terminal's line discipline echoes
//! the typed characters and handles backspace; Enter ends the answer.
use std::io::{BufRead, BufReader, Write};

use anyhow::{bail, Context};
use zeroize::Zeroizing;

pub(super) fn code(serial: &str, message: &str) -> anyhow::Result<Zeroizing<String>> {
    let Ok((input, mut output)) = super::open_tty() else {
        bail!(
            "no terminal to ask for the MFA code for {serial}; use --mfa-token, mfa_process or a GUI --prompt driver"
        );
    };
    output
        .write_all(message.as_bytes())
        .and_then(|()| output.flush())
        .context("cannot write the MFA prompt to the terminal")?;
    // Room for any sane answer up front, so the buffer is not reallocated (leaving copies).
    let mut line = Zeroizing::new(String::with_capacity(256));
    BufReader::new(input)
        .read_line(&mut line)
        .context("cannot read the MFA code from the terminal")?;
    let code = Zeroizing::new(line.trim().to_string());
    if code.is_empty() {
        bail!("no MFA code entered for {serial}");
    }
    Ok(code)
}
