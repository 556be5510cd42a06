//! The Credential Manager calls behind [`super`] (Windows only): `CredWriteW`, `CredReadW`,
//! `CredDeleteW`, `CredEnumerateW`. Raw `windows-sys` bindings: four calls do not justify the
//! `windows` crate's wrappers.
use std::ptr;

use windows_sys::Win32::Foundation::{GetLastError, ERROR_NOT_FOUND};
use windows_sys::Win32::Security::Credentials::{
    CredDeleteW, CredEnumerateW, CredFree, CredReadW, CredWriteW, CREDENTIALW,
    CRED_PERSIST_LOCAL_MACHINE, CRED_TYPE_GENERIC,
};
use zeroize::Zeroizing;

use super::{key_of, layout, new_generation, target_name, wide, Header, TARGET_PREFIX};
use crate::keyring::{Config, Error, Item, Keyring, Result};

/// The `wincred` keyring. Opening does nothing: the Credential Manager is always there.
#[derive(Debug, Default)]
pub struct WincredKeyring;

impl WincredKeyring {
    pub fn open(_cfg: &Config) -> std::result::Result<WincredKeyring, String> {
        Ok(WincredKeyring)
    }
}

fn last_error(what: &str, target: &str) -> Error {
    // SAFETY: no preconditions.
    let code = unsafe { GetLastError() };
    if code == ERROR_NOT_FOUND {
        Error::NotFound
    } else {
        Error::Backend(format!(
            "wincred: {what} {target} failed: {}",
            std::io::Error::from_raw_os_error(code as i32)
        ))
    }
}

/// The blob of one generic credential.
pub fn read(target: &str) -> Result<Zeroizing<Vec<u8>>> {
    let name = wide(target);
    let mut cred: *mut CREDENTIALW = ptr::null_mut();
    // SAFETY: `name` is NUL-terminated; on success `cred` points to a buffer the system owns
    // until CredFree.
    if unsafe { CredReadW(name.as_ptr(), CRED_TYPE_GENERIC, 0, &mut cred) } == 0 {
        return Err(last_error("reading", target));
    }
    // SAFETY: `cred` is valid until CredFree; the blob has CredentialBlobSize bytes.
    unsafe {
        let c: CREDENTIALW = cred.read_unaligned();
        let blob = if c.CredentialBlob.is_null() || c.CredentialBlobSize == 0 {
            Zeroizing::new(Vec::new())
        } else {
            let bytes =
                std::slice::from_raw_parts_mut(c.CredentialBlob, c.CredentialBlobSize as usize);
            let copy = Zeroizing::new(bytes.to_vec());
            bytes.fill(0);
            copy
        };
        CredFree(cred as *const _);
        Ok(blob)
    }
}

pub fn write(target: &str, blob: &[u8]) -> Result<()> {
    let mut name = wide(target);
    let mut blob = Zeroizing::new(blob.to_vec());
    // SAFETY: an all-zero CREDENTIALW is a valid "empty" value (null pointers, zero sizes).
    let mut cred: CREDENTIALW = unsafe { std::mem::zeroed() };
    cred.Type = CRED_TYPE_GENERIC;
    cred.TargetName = name.as_mut_ptr();
    cred.CredentialBlobSize = blob.len() as u32;
    cred.CredentialBlob = if blob.is_empty() {
        ptr::null_mut()
    } else {
        blob.as_mut_ptr()
    };
    cred.Persist = CRED_PERSIST_LOCAL_MACHINE;
    // SAFETY: every pointer in `cred` refers to a live buffer of this frame.
    if unsafe { CredWriteW(&cred, 0) } == 0 {
        return Err(last_error("writing", target));
    }
    Ok(())
}

pub fn delete(target: &str) -> Result<()> {
    let name = wide(target);
    // SAFETY: `name` is NUL-terminated.
    if unsafe { CredDeleteW(name.as_ptr(), CRED_TYPE_GENERIC, 0) } == 0 {
        return Err(last_error("deleting", target));
    }
    Ok(())
}

/// Target names matching `filter` (`*` at the end is the only wildcard Windows allows).
pub fn enumerate(filter: &str) -> Result<Vec<String>> {
    let filter_w = wide(filter);
    let mut count: u32 = 0;
    let mut creds: *mut *mut CREDENTIALW = ptr::null_mut();
    // SAFETY: on success `creds` is an array of `count` pointers the system owns until CredFree.
    if unsafe { CredEnumerateW(filter_w.as_ptr(), 0, &mut count, &mut creds) } == 0 {
        return match last_error("listing", filter) {
            Error::NotFound => Ok(Vec::new()),
            e => Err(e),
        };
    }
    let mut out = Vec::with_capacity(count as usize);
    // SAFETY: as above; TargetName is a NUL-terminated UTF-16 string. Every read is
    // unaligned: Wine's CredEnumerateW packs the array it returns without padding.
    unsafe {
        for i in 0..count as usize {
            let c: CREDENTIALW = creds.add(i).read_unaligned().read_unaligned();
            if c.Type != CRED_TYPE_GENERIC || c.TargetName.is_null() {
                continue;
            }
            let mut name = Vec::new();
            loop {
                let unit = c.TargetName.add(name.len()).read_unaligned();
                if unit == 0 {
                    break;
                }
                name.push(unit);
            }
            if let Ok(name) = String::from_utf16(&name) {
                out.push(name);
            }
        }
        CredFree(creds as *const _);
    }
    Ok(out)
}

/// The parts of a split item named by `blob`, if it is a header.
fn old_parts(key: &str) -> Vec<String> {
    match read(&target_name(key)) {
        Ok(blob) => Header::parse(&blob)
            .map(|h| h.part_targets(key))
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

impl Keyring for WincredKeyring {
    fn get(&self, key: &str) -> Result<Item> {
        let target = target_name(key);
        let blob = read(&target)?;
        let data = match Header::parse(&blob) {
            None => blob,
            Some(header) => {
                let mut parts = Vec::with_capacity(header.parts);
                for t in header.part_targets(key) {
                    parts.push(read(&t).map_err(|e| match e {
                        Error::NotFound => Error::Corrupt {
                            path: target.clone(),
                            reason: format!("a part of this split item is missing ({t})"),
                        },
                        e => e,
                    })?);
                }
                header.join(&parts).map_err(|reason| Error::Corrupt {
                    path: target.clone(),
                    reason,
                })?
            }
        };
        Ok(Item {
            key: key.to_string(),
            data,
            ..Item::default()
        })
    }

    fn set(&self, item: &Item) -> Result<()> {
        let old = old_parts(&item.key);
        let l = layout(&item.key, &item.data, &new_generation());
        for (target, blob) in &l.parts {
            write(target, blob)?;
        }
        write(&target_name(&item.key), &l.blob)?;
        for t in old {
            let _ = delete(&t);
        }
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<()> {
        let old = old_parts(key);
        delete(&target_name(key))?;
        for t in old {
            let _ = delete(&t);
        }
        Ok(())
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
