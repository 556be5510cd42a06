//! The `wincredui` driver (Windows): the system credential dialog, with the code typed into its
//! password field (docs/compatibility.md §6.1).
use std::ffi::c_void;

use anyhow::bail;
use zeroize::Zeroizing;

const ALWAYS_SHOW_UI: u32 = 0x00080;
const GENERIC_CREDENTIALS: u32 = 0x40000;
const KEEP_USERNAME: u32 = 0x100000;
const PASSWORD_CHARS: usize = 64;

#[repr(C)]
struct CredUiInfoW {
    cb_size: u32,
    hwnd_parent: *mut c_void,
    message_text: *const u16,
    caption_text: *const u16,
    banner: *mut c_void,
}

#[link(name = "credui")]
extern "system" {
    fn CredUIPromptForCredentialsW(
        ui_info: *const CredUiInfoW,
        target_name: *const u16,
        reserved: *mut c_void,
        auth_error: u32,
        user_name: *mut u16,
        user_name_max_chars: u32,
        password: *mut u16,
        password_max_chars: u32,
        save: *mut i32,
        flags: u32,
    ) -> u32;
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

pub(super) fn code(serial: &str, message: &str) -> anyhow::Result<Zeroizing<String>> {
    let caption = wide("Enter MFA code for aws-vault");
    let message = wide(message);
    let target = wide("aws-vault");
    let short_serial = serial.replace("arn:aws:iam::", "").replace(":mfa", "");
    let mut user = wide(&short_serial);
    let mut password = Zeroizing::new(vec![0u16; PASSWORD_CHARS]);
    let mut save: i32 = 0;
    let info = CredUiInfoW {
        cb_size: std::mem::size_of::<CredUiInfoW>() as u32,
        hwnd_parent: std::ptr::null_mut(),
        message_text: message.as_ptr(),
        caption_text: caption.as_ptr(),
        banner: std::ptr::null_mut(),
    };
    // SAFETY: every pointer refers to a live, NUL-terminated (or sized) buffer owned by this
    // frame, and the sizes passed are the buffers' lengths in UTF-16 units.
    let ret = unsafe {
        CredUIPromptForCredentialsW(
            &info,
            target.as_ptr(),
            std::ptr::null_mut(),
            0,
            user.as_mut_ptr(),
            user.len() as u32,
            password.as_mut_ptr(),
            PASSWORD_CHARS as u32,
            &mut save,
            ALWAYS_SHOW_UI | GENERIC_CREDENTIALS | KEEP_USERNAME,
        )
    };
    if ret != 0 {
        bail!("wincredui: call to CredUIPromptForCredentialsW failed");
    }
    let len = password
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(PASSWORD_CHARS);
    let text = Zeroizing::new(String::from_utf16_lossy(&password[..len]));
    let code = Zeroizing::new(text.trim().to_string());
    if code.is_empty() {
        bail!("wincredui: no MFA code entered for {serial}");
    }
    Ok(code)
}
