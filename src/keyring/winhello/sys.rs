//! The Windows side of `winhello`: the user's SID, the Passport (Windows Hello) KSP key that
//! wraps each item's content key, and the Credential Manager items holding the envelopes.
//! Compiled for Windows only; Wine has no Windows Hello, so this runs only on a real Windows
//! machine (the Windows workflow), and reads need a person at the PIN/biometric prompt.
use std::ptr;

use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, HANDLE, NTE_BAD_KEYSET};
use windows_sys::Win32::Security::Cryptography::{
    NCryptCreatePersistedKey, NCryptDecrypt, NCryptEncrypt, NCryptFinalizeKey, NCryptFreeObject,
    NCryptOpenKey, NCryptOpenStorageProvider, NCryptSetProperty, MS_NGC_KEY_STORAGE_PROVIDER,
    NCRYPT_KEY_HANDLE, NCRYPT_LENGTH_PROPERTY, NCRYPT_PAD_PKCS1_FLAG, NCRYPT_PROV_HANDLE,
    NCRYPT_RSA_ALGORITHM,
};
use windows_sys::Win32::Security::{GetTokenInformation, TokenUser, TOKEN_QUERY, TOKEN_USER};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
use zeroize::Zeroizing;

use super::{key_name, key_of, open, seal, target_name, TARGET_PREFIX};
use crate::keyring::wincred::wide;
use crate::keyring::{Config, Error, Item, Keyring, Result};

#[link(name = "advapi32")]
extern "system" {
    // In windows-sys behind the Win32_Security_Authorization feature; one call does not
    // justify another feature (and a rebuild of every crate that uses windows-sys).
    fn ConvertSidToStringSidW(sid: *mut core::ffi::c_void, string_sid: *mut *mut u16) -> i32;
}

/// The `winhello` keyring: envelopes in the Credential Manager, content keys wrapped by the
/// Passport KSP key of the current user.
#[derive(Debug)]
pub struct WinHelloKeyring {
    key_name: String,
}

impl WinHelloKeyring {
    /// Opening only finds the user's SID; the KSP key is created on the first write.
    pub fn open(_cfg: &Config) -> std::result::Result<WinHelloKeyring, String> {
        Ok(WinHelloKeyring {
            key_name: key_name(&current_sid()?),
        })
    }
}

fn current_sid() -> std::result::Result<String, String> {
    // SAFETY: standard token query; every buffer is sized by the first call and freed here.
    unsafe {
        let mut token: HANDLE = ptr::null_mut();
        if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) == 0 {
            return Err(format!(
                "winhello: OpenProcessToken: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut len = 0u32;
        GetTokenInformation(token, TokenUser, ptr::null_mut(), 0, &mut len);
        let mut buf = vec![0u64; (len as usize).div_ceil(8).max(1)];
        let ok = GetTokenInformation(token, TokenUser, buf.as_mut_ptr().cast(), len, &mut len);
        CloseHandle(token);
        if ok == 0 {
            return Err(format!(
                "winhello: GetTokenInformation: {}",
                std::io::Error::last_os_error()
            ));
        }
        let user = &*(buf.as_ptr() as *const TOKEN_USER);
        let mut s: *mut u16 = ptr::null_mut();
        if ConvertSidToStringSidW(user.User.Sid, &mut s) == 0 {
            return Err(format!(
                "winhello: ConvertSidToStringSidW: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut n = 0;
        while *s.add(n) != 0 {
            n += 1;
        }
        let sid = String::from_utf16_lossy(std::slice::from_raw_parts(s, n));
        LocalFree(s.cast());
        Ok(sid)
    }
}

/// An open NCrypt object, freed on drop.
struct Handle(usize);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: a handle returned by NCrypt, freed once.
        unsafe {
            NCryptFreeObject(self.0);
        }
    }
}

fn hr(what: &str, code: i32) -> std::result::Result<(), String> {
    if code == 0 {
        Ok(())
    } else {
        Err(format!("{what} failed: 0x{:08x}", code as u32))
    }
}

fn provider() -> std::result::Result<Handle, String> {
    let mut p: NCRYPT_PROV_HANDLE = 0;
    // SAFETY: out-pointer to a local.
    hr("NCryptOpenStorageProvider", unsafe {
        NCryptOpenStorageProvider(&mut p, MS_NGC_KEY_STORAGE_PROVIDER, 0)
    })?;
    Ok(Handle(p))
}

/// The Hello key, created (RSA 2048) if `create` and it does not exist yet.
fn hello_key(name: &str, create: bool) -> std::result::Result<Handle, String> {
    let prov = provider()?;
    let wname = wide(name);
    let mut k: NCRYPT_KEY_HANDLE = 0;
    // SAFETY: valid provider handle, NUL-terminated name, out-pointer to a local.
    let code = unsafe { NCryptOpenKey(prov.0, &mut k, wname.as_ptr(), 0, 0) };
    if code == 0 {
        return Ok(Handle(k));
    }
    if code != NTE_BAD_KEYSET || !create {
        return Err(format!(
            "no Windows Hello key {name} (NCryptOpenKey: 0x{:08x}); set up Windows Hello first",
            code as u32
        ));
    }
    // SAFETY: as above; the length property is a u32 passed by pointer and size.
    unsafe {
        hr(
            "NCryptCreatePersistedKey",
            NCryptCreatePersistedKey(prov.0, &mut k, NCRYPT_RSA_ALGORITHM, wname.as_ptr(), 0, 0),
        )?;
        let key = Handle(k);
        let bits: u32 = 2048;
        hr(
            "NCryptSetProperty(Length)",
            NCryptSetProperty(
                key.0,
                NCRYPT_LENGTH_PROPERTY,
                (&bits as *const u32).cast(),
                4,
                0,
            ),
        )?;
        hr("NCryptFinalizeKey", NCryptFinalizeKey(key.0, 0))?;
        Ok(key)
    }
}

fn wrap(name: &str, cek: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let key = hello_key(name, true)?;
    let mut len = 0u32;
    // SAFETY: sizing call, then the real one into a buffer of that size.
    unsafe {
        hr(
            "NCryptEncrypt",
            NCryptEncrypt(
                key.0,
                cek.as_ptr(),
                cek.len() as u32,
                ptr::null(),
                ptr::null_mut(),
                0,
                &mut len,
                NCRYPT_PAD_PKCS1_FLAG,
            ),
        )?;
        let mut out = vec![0u8; len as usize];
        hr(
            "NCryptEncrypt",
            NCryptEncrypt(
                key.0,
                cek.as_ptr(),
                cek.len() as u32,
                ptr::null(),
                out.as_mut_ptr(),
                len,
                &mut len,
                NCRYPT_PAD_PKCS1_FLAG,
            ),
        )?;
        out.truncate(len as usize);
        Ok(out)
    }
}

fn unwrap(name: &str, wrapped: &[u8]) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    let key = hello_key(name, false)?;
    let mut len = 0u32;
    // SAFETY: as in `wrap`; this call shows the Windows Hello prompt.
    unsafe {
        hr(
            "NCryptDecrypt",
            NCryptDecrypt(
                key.0,
                wrapped.as_ptr(),
                wrapped.len() as u32,
                ptr::null(),
                ptr::null_mut(),
                0,
                &mut len,
                NCRYPT_PAD_PKCS1_FLAG,
            ),
        )?;
        let mut out = Zeroizing::new(vec![0u8; len as usize]);
        hr(
            "NCryptDecrypt",
            NCryptDecrypt(
                key.0,
                wrapped.as_ptr(),
                wrapped.len() as u32,
                ptr::null(),
                out.as_mut_ptr(),
                len,
                &mut len,
                NCRYPT_PAD_PKCS1_FLAG,
            ),
        )?;
        out.truncate(len as usize);
        Ok(out)
    }
}

// The Credential Manager side: the same calls as `wincred`, other target names.
use crate::keyring::wincred::sys::{delete, enumerate, read, write};

impl Keyring for WinHelloKeyring {
    fn get(&self, key: &str) -> Result<Item> {
        let blob = read(&target_name(key))?;
        let data = open(key, &blob, unwrap).map_err(|e| Error::Backend(e.to_string()))?;
        Ok(Item {
            key: key.to_string(),
            data,
            ..Item::default()
        })
    }

    fn set(&self, item: &Item) -> Result<()> {
        let mut cek = Zeroizing::new([0u8; 32]);
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut *cek).map_err(|e| Error::Backend(format!("winhello: {e}")))?;
        getrandom::fill(&mut nonce).map_err(|e| Error::Backend(format!("winhello: {e}")))?;
        let blob = seal(&item.key, &item.data, &self.key_name, &cek, &nonce, |c| {
            wrap(&self.key_name, c)
        })
        .map_err(|e| Error::Backend(e.to_string()))?;
        write(&target_name(&item.key), &blob)
    }

    fn remove(&self, key: &str) -> Result<()> {
        delete(&target_name(key))
    }

    fn keys(&self) -> Result<Vec<String>> {
        let mut keys: Vec<String> = enumerate(&format!("{TARGET_PREFIX}*"))?
            .iter()
            .filter_map(|t| key_of(t).map(str::to_string))
            .collect();
        keys.sort();
        Ok(keys)
    }
}
