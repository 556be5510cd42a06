//! The Security-framework and LocalAuthentication calls of the keychain backend (macOS only).
//!
//! `security-framework` covers opening keychains, searching, updating and deleting items; it
//! does not expose access objects (`SecAccessCreate`) nor the keychain status and lock calls,
//! so those few functions are declared here. They are deprecated by Apple together with file
//! keychains, which is what the Go tool's items live in, so there is no newer API to use.
use std::cell::Cell;
use std::ffi::c_void;
use std::ptr;

use core_foundation::array::{CFArray, CFArrayRef};
use core_foundation::base::{CFGetTypeID, CFType, CFTypeRef, TCFType};
use core_foundation::data::CFData;
use core_foundation::dictionary::{CFDictionary, CFMutableDictionary};
use core_foundation::string::{CFString, CFStringRef};
use security_framework::item::{
    update_item, ItemClass, ItemSearchOptions, ItemUpdateOptions, ItemUpdateValue, Limit,
    SearchResult,
};
use security_framework::os::macos::keychain::{CreateOptions, SecKeychain};
use security_framework_sys::base::{errSecDuplicateItem, errSecItemNotFound, SecKeychainRef};
use security_framework_sys::item::{
    kSecAttrAccount, kSecAttrDescription, kSecAttrLabel, kSecAttrService, kSecClass,
    kSecClassGenericPassword, kSecUseKeychain, kSecValueData,
};
use security_framework_sys::keychain_item::SecItemAdd;
use zeroize::Zeroizing;

use super::{access_for, attributes, biometrics_label, item_from, touch_id_reason, Access};
use crate::keyring::{Config, Error, Item, Keyring, Result};

type OSStatus = i32;
/// `errSecNoSuchKeychain`: the keychain file does not exist.
const NO_SUCH_KEYCHAIN: OSStatus = -25294;

type SecAccessRef = *mut c_void;

extern "C" {
    fn SecKeychainGetStatus(keychain: SecKeychainRef, status: *mut u32) -> OSStatus;
    fn SecKeychainLock(keychain: SecKeychainRef) -> OSStatus;
    fn SecAccessCreate(
        descriptor: CFStringRef,
        trusted_list: CFArrayRef,
        access: *mut SecAccessRef,
    ) -> OSStatus;
    static kSecAttrAccess: CFStringRef;
}

fn sec_err(what: &str, e: security_framework::base::Error) -> Error {
    Error::Backend(format!("keychain: {what}: {e}"))
}

fn status_err(what: &str, code: OSStatus) -> Error {
    match std::num::NonZeroI32::new(code) {
        Some(_) => sec_err(what, security_framework::base::Error::from_code(code)),
        None => Error::Backend(format!("keychain: {what}")),
    }
}

/// The `keychain` backend.
pub struct KeychainKeyring {
    path: String,
    biometrics: bool,
    /// Touch ID was passed and the keychain unlocked in this process.
    unlocked: Cell<bool>,
}

impl KeychainKeyring {
    pub fn open(cfg: &Config) -> std::result::Result<Self, String> {
        Ok(KeychainKeyring {
            path: super::keychain_path(&cfg.keychain_name),
            biometrics: cfg.biometrics,
            unlocked: Cell::new(false),
        })
    }

    /// The keychain when it exists; `None` when it was never created.
    fn existing(&self) -> Result<Option<SecKeychain>> {
        let kc = SecKeychain::open(&self.path).map_err(|e| sec_err(&self.path, e))?;
        let mut status = 0u32;
        // SAFETY: `kc` is a valid keychain reference for the duration of the call.
        let code = unsafe { SecKeychainGetStatus(kc.as_concrete_TypeRef(), &mut status) };
        match code {
            0 => Ok(Some(kc)),
            NO_SUCH_KEYCHAIN => Ok(None),
            other => Err(status_err(&self.path, other)),
        }
    }

    /// The keychain, unlocked with Touch ID first when `--biometrics` asks for it.
    fn for_items(&self) -> Result<Option<SecKeychain>> {
        let Some(kc) = self.existing()? else {
            return Ok(None);
        };
        if self.biometrics && !self.unlocked.get() {
            self.unlock_with_touch_id(&kc)?;
            self.unlocked.set(true);
        }
        Ok(Some(kc))
    }

    /// The keychain, created with the system's password prompt when it does not exist yet.
    fn create_or_open(&self) -> Result<SecKeychain> {
        if let Some(kc) = self.for_items()? {
            return Ok(kc);
        }
        crate::debug!("creating keychain {} with the system prompt", self.path);
        CreateOptions::new()
            .prompt_user(true)
            .create(&self.path)
            .map_err(|e| sec_err(&format!("creating {}", self.path), e))
    }

    fn search(&self, kc: &SecKeychain, account: Option<&str>) -> ItemSearchOptions {
        let mut search = ItemSearchOptions::new();
        search
            .class(ItemClass::generic_password())
            .service(super::SERVICE)
            .keychains(std::slice::from_ref(kc));
        if let Some(a) = account {
            search.account(a);
        }
        search
    }

    fn unlock_with_touch_id(&self, kc: &SecKeychain) -> Result<()> {
        touch_id(&touch_id_reason(&self.path))?;
        let label = biometrics_label(&self.path);
        let mut search = ItemSearchOptions::new();
        search
            .class(ItemClass::generic_password())
            .service(super::BIOMETRICS_SERVICE)
            .account(super::BIOMETRICS_ACCOUNT)
            .label(&label)
            .load_data(true)
            .limit(1);
        let stored = match search.search() {
            Ok(found) => found.into_iter().find_map(|r| match r {
                SearchResult::Data(d) => Some(Zeroizing::new(d)),
                _ => None,
            }),
            Err(e) if e.code() == errSecItemNotFound => None,
            Err(e) => return Err(sec_err("reading the Touch ID passphrase", e)),
        };
        let mut kc = kc.clone();
        match stored {
            Some(pass) => {
                let pass = String::from_utf8_lossy(&pass).into_owned();
                let pass = Zeroizing::new(pass);
                kc.unlock(Some(&pass))
                    .map_err(|e| sec_err(&format!("unlocking {}", self.path), e))
            }
            None => self.set_up_touch_id(&mut kc, &label),
        }
    }

    /// First use of `--biometrics`: ask for the keychain's passphrase, prove it by locking and
    /// unlocking, and keep it in the login keychain.
    fn set_up_touch_id(&self, kc: &mut SecKeychain, label: &str) -> Result<()> {
        eprintln!("\n{}\n", super::biometrics_setup_message(&self.path));
        let pass = crate::prompt::read_secret(&format!("Password for \"{}\": ", self.path))
            .map_err(|e| Error::Backend(format!("reading the keychain password: {e}")))?;
        // SAFETY: `kc` is a valid keychain reference.
        let code = unsafe { SecKeychainLock(kc.as_concrete_TypeRef()) };
        if code != 0 {
            return Err(status_err(&format!("locking {}", self.path), code));
        }
        kc.unlock(Some(&pass))
            .map_err(|e| sec_err(&format!("unlocking {}", self.path), e))?;
        let dict = generic_password(
            super::BIOMETRICS_SERVICE,
            super::BIOMETRICS_ACCOUNT,
            label,
            None,
            pass.as_bytes(),
        );
        add(&dict.to_immutable(), "storing the Touch ID passphrase")
    }
}

/// Touch ID (or the account password when biometry is locked out), waiting for the answer.
fn touch_id(reason: &str) -> Result<()> {
    use block2::RcBlock;
    use objc2::runtime::Bool;
    use objc2_foundation::{NSError, NSString};
    use objc2_local_authentication::{LAContext, LAPolicy};

    // SAFETY: plain Objective-C calls on a context owned by this function; the reply block is
    // `Send` (it only sends on a channel) as the API requires.
    unsafe {
        let context = LAContext::new();
        let policy = LAPolicy::DeviceOwnerAuthentication;
        if let Err(e) = context.canEvaluatePolicy_error(policy) {
            return Err(Error::Backend(format!(
                "Touch ID is not available: {}",
                e.localizedDescription()
            )));
        }
        let (tx, rx) = std::sync::mpsc::channel::<std::result::Result<(), String>>();
        let block = RcBlock::new(move |ok: Bool, err: *mut NSError| {
            let outcome = if ok.as_bool() {
                Ok(())
            } else if let Some(e) = err.as_ref() {
                Err(e.localizedDescription().to_string())
            } else {
                Err("authentication failed".to_string())
            };
            let _ = tx.send(outcome);
        });
        context.evaluatePolicy_localizedReason_reply(policy, &NSString::from_str(reason), &block);
        match rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Backend(format!(
                "failed to authenticate with biometrics: {e}"
            ))),
            Err(_) => Err(Error::Backend(
                "failed to authenticate with biometrics: no answer".into(),
            )),
        }
    }
}

/// The attributes and value of one generic password.
fn generic_password(
    service: &str,
    account: &str,
    label: &str,
    description: Option<&str>,
    data: &[u8],
) -> CFMutableDictionary<CFType, CFType> {
    let mut dict = CFMutableDictionary::<CFType, CFType>::new();
    // SAFETY: the kSec* constants are valid CFStrings exported by Security.framework.
    unsafe {
        let mut put = |key: CFStringRef, value: CFType| {
            dict.set(CFType::wrap_under_get_rule(key.cast()), value);
        };
        put(
            kSecClass,
            CFType::wrap_under_get_rule(kSecClassGenericPassword.cast()),
        );
        put(kSecAttrService, CFString::new(service).into_CFType());
        put(kSecAttrAccount, CFString::new(account).into_CFType());
        put(kSecAttrLabel, CFString::new(label).into_CFType());
        if let Some(d) = description {
            put(kSecAttrDescription, CFString::new(d).into_CFType());
        }
        put(kSecValueData, CFData::from_buffer(data).into_CFType());
    }
    dict
}

/// `SecItemAdd` of a prepared attribute dictionary.
fn add(dict: &CFDictionary<CFType, CFType>, what: &str) -> Result<()> {
    // SAFETY: `dict` is a valid CFDictionary; no result is requested.
    let code = unsafe { SecItemAdd(dict.as_concrete_TypeRef(), ptr::null_mut()) };
    match code {
        0 => Ok(()),
        other => Err(status_err(what, other)),
    }
}

/// An access object for `access`: `None` is the default (trusts the creating application).
fn access_object(label: &str, access: Access) -> Result<Option<CFType>> {
    if access == Access::TrustCreator {
        return Ok(None);
    }
    let empty: CFArray<CFType> = CFArray::from_CFTypes(&[]);
    let mut out: SecAccessRef = ptr::null_mut();
    // SAFETY: valid CFString and CFArray; `out` receives a +1 reference on success.
    let code = unsafe {
        SecAccessCreate(
            CFString::new(label).as_concrete_TypeRef(),
            empty.as_concrete_TypeRef(),
            &mut out,
        )
    };
    if code != 0 || out.is_null() {
        return Err(status_err("creating the item's access list", code));
    }
    // SAFETY: `out` is an owned CF object (create rule).
    Ok(Some(unsafe {
        CFType::wrap_under_create_rule(out as CFTypeRef)
    }))
}

/// A string or data attribute of a search result dictionary.
fn attr(dict: &CFDictionary, key: CFStringRef) -> Option<Vec<u8>> {
    let value = dict.find(key.cast::<c_void>())?;
    let value: CFTypeRef = *value;
    // SAFETY: `value` is a live CF object owned by `dict`; the type id is checked first.
    unsafe {
        let id = CFGetTypeID(value);
        if id == CFString::type_id() {
            Some(
                CFString::wrap_under_get_rule(value.cast())
                    .to_string()
                    .into_bytes(),
            )
        } else if id == CFData::type_id() {
            Some(CFData::wrap_under_get_rule(value.cast()).bytes().to_vec())
        } else {
            None
        }
    }
}

fn attr_string(dict: &CFDictionary, key: CFStringRef) -> String {
    attr(dict, key)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

impl Keyring for KeychainKeyring {
    fn get(&self, key: &str) -> Result<Item> {
        let Some(kc) = self.for_items()? else {
            return Err(Error::NotFound);
        };
        let mut search = self.search(&kc, Some(key));
        search.load_attributes(true).load_data(true).limit(1);
        let found = match search.search() {
            Ok(found) => found,
            Err(e) if e.code() == errSecItemNotFound => return Err(Error::NotFound),
            Err(e) => return Err(sec_err(&format!("reading {key}"), e)),
        };
        for result in found {
            if let SearchResult::Dict(dict) = result {
                // SAFETY: reading exported constant CFStrings.
                let (account, label, description, data) = unsafe {
                    (
                        attr_string(&dict, kSecAttrAccount),
                        attr_string(&dict, kSecAttrLabel),
                        attr_string(&dict, kSecAttrDescription),
                        attr(&dict, kSecValueData).unwrap_or_default(),
                    )
                };
                let account = if account.is_empty() {
                    key.to_string()
                } else {
                    account
                };
                return Ok(item_from(account, label, description, data));
            }
        }
        Err(Error::NotFound)
    }

    fn set(&self, item: &Item) -> Result<()> {
        let kc = self.create_or_open()?;
        let a = attributes(item);
        let mut dict = generic_password(
            a.service,
            a.account,
            a.label,
            Some(a.description),
            &item.data,
        );
        // SAFETY: the kSec* constants are valid CFStrings exported by Security.framework.
        unsafe {
            dict.set(
                CFType::wrap_under_get_rule(kSecUseKeychain.cast()),
                kc.as_CFType(),
            );
            if let Some(access) = access_object(a.label, access_for(item))? {
                dict.set(CFType::wrap_under_get_rule(kSecAttrAccess.cast()), access);
            }
        }
        // SAFETY: `dict` is a valid CFDictionary; no result is requested.
        let code =
            unsafe { SecItemAdd(dict.to_immutable().as_concrete_TypeRef(), ptr::null_mut()) };
        if code == 0 {
            return Ok(());
        }
        if code != errSecDuplicateItem {
            return Err(status_err(&format!("adding {}", item.key), code));
        }
        // An existing item keeps its access list: only its attributes and data change.
        let search = self.search(&kc, Some(&item.key));
        let mut update = ItemUpdateOptions::new();
        update
            .set_label(a.label)
            .set_description(a.description)
            .set_value(ItemUpdateValue::Data(CFData::from_buffer(&item.data)));
        update_item(&search, &update).map_err(|e| sec_err(&format!("updating {}", item.key), e))
    }

    fn remove(&self, key: &str) -> Result<()> {
        let Some(kc) = self.existing()? else {
            return Err(Error::NotFound);
        };
        match self.search(&kc, Some(key)).delete() {
            Ok(()) => Ok(()),
            Err(e) if e.code() == errSecItemNotFound => Err(Error::NotFound),
            Err(e) => Err(sec_err(&format!("removing {key}"), e)),
        }
    }

    /// The accounts of every aws-vault item: attributes only, so no data is read and no
    /// prompt is shown.
    fn keys(&self) -> Result<Vec<String>> {
        let Some(kc) = self.existing()? else {
            return Ok(Vec::new());
        };
        let mut search = self.search(&kc, None);
        search.load_attributes(true).limit(Limit::All);
        let found = match search.search() {
            Ok(found) => found,
            Err(e) if e.code() == errSecItemNotFound => return Ok(Vec::new()),
            Err(e) => return Err(sec_err("listing items", e)),
        };
        Ok(found
            .into_iter()
            .filter_map(|r| match r {
                // SAFETY: reading an exported constant CFString.
                SearchResult::Dict(d) => Some(attr_string(&d, unsafe { kSecAttrAccount })),
                _ => None,
            })
            .filter(|a| !a.is_empty())
            .collect())
    }
}
