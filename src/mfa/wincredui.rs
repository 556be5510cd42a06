//! The `wincredui` driver (Windows): the system credential dialog
//! (`CredUIPromptForCredentialsW`), with the code typed into its password field
//! (docs/compatibility.md §6.1).
//!
//! Every string handed to the dialog is NUL-terminated UTF-16, as the `W` function requires.
//! The Go tool passes the target name as a byte string, which the dialog reads as garbage
//! UTF-16 (docs/differences.md D62). The arguments are built by [`Args::new`], a pure function
//! tested on every platform; only the call itself is Windows-only.
#![cfg_attr(not(windows), allow(dead_code))]

use zeroize::Zeroizing;

/// `CREDUI_FLAGS_ALWAYS_SHOW_UI | CREDUI_FLAGS_GENERIC_CREDENTIALS | CREDUI_FLAGS_KEEP_USERNAME`.
pub const FLAGS: u32 = 0x00080 | 0x40000 | 0x100000;
/// The password buffer, in UTF-16 units (the Go tool's size).
pub const PASSWORD_CHARS: usize = 64;
/// `CREDUI_MAX_USERNAME_LENGTH` + 1: the user-name buffer the dialog may write back into.
pub const USER_CHARS: usize = 513 + 1;
pub const CAPTION: &str = "Enter MFA code for aws-vault";
pub const TARGET: &str = "aws-vault";

/// The dialog's arguments, as NUL-terminated UTF-16 buffers.
pub struct Args {
    pub caption: Vec<u16>,
    pub message: Vec<u16>,
    pub target: Vec<u16>,
    /// The user name field, pre-filled (read-only) with the short serial; [`USER_CHARS`] long.
    pub user: Vec<u16>,
}

/// The serial as the dialog shows it: `arn:aws:iam::123:mfa/jon` ⇒ `123/jon`.
pub fn short_serial(serial: &str) -> String {
    serial.replace("arn:aws:iam::", "").replace(":mfa", "")
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

impl Args {
    pub fn new(serial: &str, message: &str) -> Args {
        let mut user: Vec<u16> = short_serial(serial)
            .encode_utf16()
            .take(USER_CHARS - 1)
            .collect();
        user.resize(USER_CHARS, 0);
        Args {
            caption: wide(CAPTION),
            message: wide(message),
            target: wide(TARGET),
            user,
        }
    }
}

/// The code typed into the password buffer: up to its first NUL, whitespace-trimmed.
pub fn code_from(password: &[u16]) -> Zeroizing<String> {
    let len = password
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(password.len());
    let text = Zeroizing::new(String::from_utf16_lossy(&password[..len]));
    Zeroizing::new(text.trim().to_string())
}

#[cfg(windows)]
pub(super) fn code(serial: &str, message: &str) -> anyhow::Result<Zeroizing<String>> {
    use anyhow::bail;
    use windows_sys::Win32::Security::Credentials::{CredUIPromptForCredentialsW, CREDUI_INFOW};

    let mut args = Args::new(serial, message);
    let mut password = Zeroizing::new(vec![0u16; PASSWORD_CHARS]);
    let mut save = 0;
    let info = CREDUI_INFOW {
        cbSize: std::mem::size_of::<CREDUI_INFOW>() as u32,
        hwndParent: std::ptr::null_mut(),
        pszMessageText: args.message.as_ptr(),
        pszCaptionText: args.caption.as_ptr(),
        hbmBanner: std::ptr::null_mut(),
    };
    // SAFETY: every pointer refers to a live, NUL-terminated (or sized) buffer owned by this
    // frame, and the sizes passed are the buffers' lengths in UTF-16 units.
    let ret = unsafe {
        CredUIPromptForCredentialsW(
            &info,
            args.target.as_ptr(),
            std::ptr::null(),
            0,
            args.user.as_mut_ptr(),
            USER_CHARS as u32,
            password.as_mut_ptr(),
            PASSWORD_CHARS as u32,
            &mut save,
            FLAGS,
        )
    };
    if ret != 0 {
        bail!("wincredui: call to CredUIPromptForCredentialsW failed");
    }
    let code = code_from(&password);
    if code.is_empty() {
        bail!("wincredui: no MFA code entered for {serial}");
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_nul_terminated_utf16() {
        let a = Args::new(
            "arn:aws:iam::123456789012:mfa/jön",
            "Enter MFA code for arn:aws:iam::123456789012:mfa/jön: ",
        );
        assert_eq!(
            String::from_utf16(&a.caption[..a.caption.len() - 1]).unwrap(),
            "Enter MFA code for aws-vault"
        );
        assert_eq!(a.caption.last(), Some(&0));
        // One UTF-16 unit per character, not one per byte: the Go bug sent bytes.
        assert_eq!(a.target, [97, 119, 115, 45, 118, 97, 117, 108, 116, 0]);
        assert_eq!(a.message.last(), Some(&0));
        assert_eq!(a.user.len(), USER_CHARS);
        let end = a.user.iter().position(|&c| c == 0).unwrap();
        assert_eq!(
            String::from_utf16(&a.user[..end]).unwrap(),
            "123456789012/jön"
        );
        assert_eq!(FLAGS, 0x14_0080);
    }

    #[test]
    fn the_code_is_read_up_to_the_nul_and_trimmed() {
        let mut buf = vec![0u16; PASSWORD_CHARS];
        for (i, c) in " 123456 ".encode_utf16().enumerate() {
            buf[i] = c;
        }
        assert_eq!(&*code_from(&buf), "123456");
        assert_eq!(&*code_from(&[0x31, 0x32]), "12");
    }
}
