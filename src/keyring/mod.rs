//! The `Keyring` trait, its `Item`, and backend selection.
//!
//! A keyring is a flat namespace of string keys, each holding an [`Item`]. Backends that store
//! the whole item serialise it as the Go tool's Item JSON ([`item`]), so a user can swap binaries
//! and find every stored key still there. This module knows nothing about AWS credentials; the
//! typed views live in `store/`.

pub mod file;
pub mod item;
pub mod jwe;
pub mod kdf;
pub mod keychain;
#[cfg(target_os = "linux")]
pub mod keyctl;
#[cfg(target_os = "linux")]
pub mod kwallet;
pub mod onepassword;
#[cfg(unix)]
pub mod pass;
#[cfg(target_os = "linux")]
pub mod secret_service;
pub mod wincred;
pub mod winhello;

use std::fmt;

use zeroize::Zeroizing;

pub use item::Item;

/// What can go wrong talking to a secret store. Messages never contain secret values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key does not exist in this keyring.
    #[error("The specified item could not be found in the keyring")]
    NotFound,
    /// A stored entry could not be decrypted (wrong passphrase or a damaged file).
    #[error("could not decrypt {path}: wrong passphrase or corrupt file")]
    Decrypt { path: String },
    /// A stored entry exists but is not something we can read (not JWE, bad JSON, hostile parameters).
    #[error("{path}: {reason}")]
    Corrupt { path: String, reason: String },
    /// The backend could not be opened or used.
    #[error("{0}")]
    Backend(String),
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

/// A secret store. Synchronous on purpose: keyring calls from async code go through
/// `spawn_blocking`.
pub trait Keyring {
    /// Read one item; [`Error::NotFound`] when the key is absent.
    fn get(&self, key: &str) -> Result<Item>;
    /// Create or replace an item (atomically where the backend allows).
    fn set(&self, item: &Item) -> Result<()>;
    /// Delete an item; [`Error::NotFound`] when the key is absent.
    fn remove(&self, key: &str) -> Result<()>;
    /// Every key in the store, in the backend's order. Cheap: it reads names only, never a
    /// secret, because the credential hot path calls it on every run.
    fn keys(&self) -> Result<Vec<String>>;
    /// Keep only the keys that are certainly aws-vault items, for showing or copying them
    /// (`list`, `migrate-backend`). Backends whose namespace is aws-vault's alone return `keys`
    /// unchanged; a store shared with unrelated secrets (a `pass` store without a prefix) has to
    /// read each entry to tell, so this may be slow and must stay off the hot path.
    fn retain_own(&self, keys: Vec<String>) -> Result<Vec<String>> {
        Ok(keys)
    }
    /// The keys the credential planner needs: at least every one of `names` that is stored.
    /// The default answers with the whole listing, which is cheap for most backends and then
    /// also serves the session-cache lookup that follows ([`Listing::complete`]). A backend
    /// whose listing costs a call per item (the Secret Service) searches for `names` instead,
    /// and may search in the same round trip for the prefix `next` gives, which the caller
    /// expects to ask [`first_with_prefix`](Self::first_with_prefix) for next (a closure, so
    /// that backends which do not search never spend the time to guess it).
    fn keys_among(&self, names: &[&str], next: &dyn Fn() -> Option<String>) -> Result<Listing> {
        let _ = (names, next);
        Ok(Listing::all(self.keys()?))
    }
    /// The first item, in the backend's order, whose key starts with `prefix` and which
    /// `accept` takes: a session-cache lookup (sessions are found by the key before their
    /// expiry, [`lookup_prefix`]). `Ok(None)` when there is none. The default reads the listing
    /// and then the item; a backend that indexes [`lookup_prefix`] searches instead.
    fn first_with_prefix(
        &self,
        prefix: &str,
        accept: &dyn Fn(&str) -> bool,
    ) -> Result<Option<Item>> {
        let keys = self.keys()?;
        first_listed_with_prefix(self, &keys, prefix, accept)
    }
    /// Whether [`keys_among`](Self::keys_among) and
    /// [`first_with_prefix`](Self::first_with_prefix) search the store instead of listing it.
    /// An agent in front of such a backend passes both on instead of a listing.
    fn searches(&self) -> bool {
        false
    }
}

/// What [`Keyring::keys_among`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The stored keys found, in the backend's order.
    pub keys: Vec<String>,
    /// Whether `keys` is every key of the store, so that it also answers a later prefix
    /// lookup without asking the backend again.
    pub complete: bool,
}

impl Listing {
    /// Every key of the store.
    pub fn all(keys: Vec<String>) -> Listing {
        Listing {
            keys,
            complete: true,
        }
    }

    /// The keys a search found.
    pub fn found(keys: Vec<String>) -> Listing {
        Listing {
            keys,
            complete: false,
        }
    }
}

/// [`Keyring::first_with_prefix`] over a listing the caller already has.
pub fn first_listed_with_prefix<K: Keyring + ?Sized>(
    keyring: &K,
    keys: &[String],
    prefix: &str,
    accept: &dyn Fn(&str) -> bool,
) -> Result<Option<Item>> {
    let Some(key) = keys.iter().find(|k| k.starts_with(prefix) && accept(k)) else {
        return Ok(None);
    };
    match keyring.get(key) {
        Ok(item) => Ok(Some(item)),
        Err(Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// For a key shaped like the session cache's, `<kind>,<profile>,<serial>,<digits>` (see
/// `store::sessions`), everything before the digits, comma included: the prefix its lookups
/// search by, whatever the expiry. `None` for any other key. A backend that can search by an
/// attribute stores this one with the item, so [`Keyring::first_with_prefix`] needs no listing.
pub fn lookup_prefix(key: &str) -> Option<&str> {
    let (head, digits) = key.rsplit_once(',')?;
    let shaped = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && head.matches(',').count() == 2
        && !head.starts_with(',');
    shaped.then(|| &key[..head.len() + 1])
}

/// One keyring backend as the command line knows it.
#[derive(Debug, Clone, Copy)]
pub struct Backend {
    pub name: &'static str,
    /// Compiled into this build and usable on this platform.
    pub available: bool,
    /// Tried when no backend is named. `keyctl` is not: the kernel keyring does not survive a
    /// reboot, so it is never a sensible place for long-term keys unless asked for.
    pub auto: bool,
}

const LINUX: bool = cfg!(target_os = "linux");
const MACOS: bool = cfg!(target_os = "macos");
const UNIX: bool = cfg!(unix);
const WINDOWS: bool = cfg!(windows);
/// The Go library leaves the 1Password backends out on FreeBSD.
const ONEPASSWORD: bool = !cfg!(target_os = "freebsd");

/// Every backend name the Go tool knows, in order of preference: only the available ones
/// count on a platform, so the platform's own store comes first (`keychain` on macOS,
/// `wincred` on Windows, `secret-service` on Linux), as in the Go tool. The one table behind
/// selection, `--backend` validation, the help text and the "not in this build" message; names
/// without an implementation here are reserved so that the flag surface and the error
/// messages are final.
#[rustfmt::skip]
pub const BACKENDS: &[Backend] = &[
    Backend { name: "keychain", available: MACOS, auto: true },
    Backend { name: "wincred", available: WINDOWS, auto: true },
    Backend { name: "winhello", available: WINDOWS, auto: true },
    Backend { name: "secret-service", available: LINUX, auto: true },
    Backend { name: "kwallet", available: LINUX, auto: true },
    Backend { name: "keyctl", available: LINUX, auto: false },
    Backend { name: "pass", available: UNIX, auto: true },
    Backend { name: "passage", available: UNIX, auto: true },
    Backend { name: "file", available: true, auto: true },
    Backend { name: "op-connect", available: ONEPASSWORD, auto: false },
    Backend { name: "op", available: ONEPASSWORD, auto: false },
    Backend { name: "op-desktop", available: ONEPASSWORD, auto: false },
];

/// Backends compiled into this build and usable on this platform, in the platform's order of
/// preference.
pub fn available_backends() -> Vec<&'static str> {
    BACKENDS
        .iter()
        .filter(|b| b.available)
        .map(|b| b.name)
        .collect()
}

/// The order tried when no backend is named; `file` always opens and is the last resort.
pub fn default_order() -> Vec<&'static str> {
    BACKENDS
        .iter()
        .filter(|b| b.available && b.auto)
        .map(|b| b.name)
        .collect()
}

/// Check a `--backend` value: `Ok` with its canonical name when this build has it.
pub fn check_name(name: &str) -> std::result::Result<&'static str, OpenError> {
    let available = available_backends();
    if let Some(&b) = available.iter().find(|b| **b == name) {
        return Ok(b);
    }
    let known = BACKENDS.iter().any(|b| b.name == name);
    let available = available.join(", ");
    Err(if known {
        OpenError::NotInThisBuild {
            name: name.to_string(),
            available,
        }
    } else {
        OpenError::Unknown {
            name: name.to_string(),
            available,
        }
    })
}

/// The paragraph `aws-vault --help` ends with: which backends this build has and how one is
/// chosen.
pub fn help_text() -> String {
    let auto: Vec<&str> = default_order()
        .into_iter()
        .filter(|b| *b != "file")
        .collect();
    let manual: Vec<&str> = BACKENDS
        .iter()
        .filter(|b| b.available && !b.auto)
        .map(|b| b.name)
        .collect();
    let mut text = format!(
        "Keyring backends in this build: {}.",
        available_backends().join(", ")
    );
    if auto.is_empty() {
        text.push_str(" Long-term keys live in the encrypted file backend");
    } else {
        text.push_str(&format!(
            " Without --backend the first of {} that can open is used, else the encrypted file backend",
            auto.join(", ")
        ));
    }
    text.push_str(
        " under ~/.awsvault/keys (set AWS_VAULT_FILE_PASSPHRASE to avoid the prompt); --debug shows why a backend was skipped.",
    );
    match manual.as_slice() {
        [] => {}
        [one] => text.push_str(&format!(" {one} is used only when named.")),
        [rest @ .., last] => text.push_str(&format!(
            " {} and {last} are used only when named.",
            rest.join(", ")
        )),
    }
    text
}

/// Settings every backend may read (from the global flags and their environment variables).
/// `Debug` redacts the passphrase.
#[derive(Clone, Default)]
pub struct Config {
    /// `--backend` / `AWS_VAULT_BACKEND`; `None` means "pick the first that opens".
    pub backend: Option<String>,
    /// `--file-dir` / `AWS_VAULT_FILE_DIR`, with `~/` not yet expanded.
    pub file_dir: Option<String>,
    /// `AWS_VAULT_FILE_PASSPHRASE` when the variable is set (even to an empty string).
    pub file_passphrase: Option<Zeroizing<String>>,
    /// `--file-kdf-iterations` / `AWS_VAULT_FILE_KDF_ITERATIONS`: the PBKDF2 count for items the
    /// file backend writes (validated by the CLI); `None` is the Go tool's 8192.
    pub file_kdf_iterations: Option<u32>,
    /// The user's home directory, for `~/` expansion and defaults.
    pub home: std::path::PathBuf,
    pub keychain_name: String,
    /// `--biometrics` / `AWS_VAULT_BIOMETRICS`: unlock the macOS keychain with Touch ID.
    pub biometrics: bool,
    pub secret_service_collection: String,
    pub pass_dir: Option<String>,
    pub pass_cmd: Option<String>,
    pub pass_prefix: Option<String>,
    /// `AWS_VAULT_KEYCTL_SCOPE`: `user` (default), `usersession`, `session`, `process`, `thread`.
    pub keyctl_scope: Option<String>,
    /// The `--op-*` settings of the 1Password backends.
    pub op: onepassword::OpConfig,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("backend", &self.backend)
            .field("file_dir", &self.file_dir)
            .field("file_kdf_iterations", &self.file_kdf_iterations)
            .field(
                "file_passphrase",
                &self.file_passphrase.as_ref().map(|_| "<redacted>"),
            )
            .field("home", &self.home)
            .field("keychain_name", &self.keychain_name)
            .field("biometrics", &self.biometrics)
            .field("secret_service_collection", &self.secret_service_collection)
            .field("pass_dir", &self.pass_dir)
            .field("pass_cmd", &self.pass_cmd)
            .field("pass_prefix", &self.pass_prefix)
            .field("keyctl_scope", &self.keyctl_scope)
            .field("op", &self.op)
            .finish()
    }
}

/// Open the backend named in `cfg` (or the first usable one), as a boxed trait object.
pub fn open(cfg: &Config) -> std::result::Result<Box<dyn Keyring>, OpenError> {
    open_named(cfg).map(|(_, k)| k)
}

/// Like [`open`], and also say which backend was opened.
///
/// With a backend named (`--backend`, `AWS_VAULT_BACKEND`) exactly that one is opened and a
/// failure says why. Without, the backends of [`default_order`] are tried in turn; one that
/// cannot open is skipped with a `--debug` line giving the reason, and the `file` backend, which
/// always opens, is the last resort. Opening is cheap: no passphrase prompt, no unlock prompt,
/// no secret read; D-Bus is only contacted for the D-Bus backends, and only when a session bus
/// socket exists.
pub fn open_named(
    cfg: &Config,
) -> std::result::Result<(&'static str, Box<dyn Keyring>), OpenError> {
    let sel = open_explained(cfg)?;
    for (name, reason) in &sel.skipped {
        crate::debug!("Keyring backend {name} skipped: {reason}")
    }
    Ok((sel.name, sel.keyring))
}

/// The outcome of backend selection with its reasons, for `--debug` and `doctor`.
pub struct Selection {
    pub name: &'static str,
    pub keyring: Box<dyn Keyring>,
    /// Named with `--backend`/`AWS_VAULT_BACKEND` rather than chosen automatically.
    pub named: bool,
    /// Backends tried before `name` during automatic selection, with why each did not open.
    pub skipped: Vec<(&'static str, String)>,
}

/// [`open_named`], keeping the skipped backends and their reasons instead of logging them.
pub fn open_explained(cfg: &Config) -> std::result::Result<Selection, OpenError> {
    match &cfg.backend {
        Some(name) => {
            let name = check_name(name)?;
            open_one(cfg, name, false)
                .map(|keyring| Selection {
                    name,
                    keyring,
                    named: true,
                    skipped: Vec::new(),
                })
                .map_err(|reason| OpenError::Unavailable {
                    name: name.to_string(),
                    reason,
                })
        }
        None => {
            let mut skipped = Vec::new();
            for name in default_order() {
                match open_one(cfg, name, true) {
                    Ok(keyring) => {
                        return Ok(Selection {
                            name,
                            keyring,
                            named: false,
                            skipped,
                        })
                    }
                    Err(reason) => skipped.push((name, reason)),
                }
            }
            // Unreachable in practice: `file` always opens.
            Ok(Selection {
                name: "file",
                keyring: Box::new(file::FileKeyring::new(cfg)),
                named: false,
                skipped,
            })
        }
    }
}

/// Open one backend. `auto` is true during automatic selection, where a backend must look
/// actually set up (e.g. an initialised password store), not merely installed. Only the Linux
/// desktop backends make that distinction.
#[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
fn open_one(cfg: &Config, name: &str, auto: bool) -> std::result::Result<Box<dyn Keyring>, String> {
    match name {
        "file" => Ok(Box::new(file::FileKeyring::new(cfg))),
        #[cfg(target_os = "macos")]
        "keychain" => Ok(Box::new(keychain::macos::KeychainKeyring::open(cfg)?)),
        #[cfg(target_os = "linux")]
        "secret-service" => Ok(Box::new(secret_service::SecretServiceKeyring::open(
            cfg, auto,
        )?)),
        #[cfg(target_os = "linux")]
        "kwallet" => Ok(Box::new(kwallet::KWalletKeyring::open(cfg, auto)?)),
        #[cfg(target_os = "linux")]
        "keyctl" => Ok(Box::new(keyctl::KeyctlKeyring::open(cfg)?)),
        #[cfg(unix)]
        "pass" => Ok(Box::new(pass::PassKeyring::open(
            cfg,
            pass::Flavor::Pass,
            auto,
        )?)),
        #[cfg(unix)]
        "passage" => Ok(Box::new(pass::PassKeyring::open(
            cfg,
            pass::Flavor::Passage,
            auto,
        )?)),
        #[cfg(windows)]
        "wincred" => Ok(Box::new(wincred::sys::WincredKeyring::open(cfg)?)),
        #[cfg(windows)]
        "winhello" => Ok(Box::new(winhello::sys::WinHelloKeyring::open(cfg)?)),
        "op-connect" => Ok(Box::new(onepassword::connect::open(cfg)?)),
        "op" => Ok(Box::new(onepassword::cli::open(cfg, false)?)),
        "op-desktop" => Ok(Box::new(onepassword::cli::open(cfg, true)?)),
        other => Err(format!(
            "not supported by this build of aws-vault ({other})"
        )),
    }
}

/// Why a backend could not be opened.
#[derive(Debug)]
pub enum OpenError {
    Unknown {
        name: String,
        available: String,
    },
    NotInThisBuild {
        name: String,
        available: String,
    },
    /// A supported backend was named but could not be opened.
    Unavailable {
        name: String,
        reason: String,
    },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Unknown { name, available } => write!(
                f,
                "keyring backend '{name}' is not a known backend; available backends: {available}"
            ),
            OpenError::NotInThisBuild { name, available } => write!(
                f,
                "keyring backend '{name}' is not available in this build; available backends: {available}"
            ),
            OpenError::Unavailable { name, reason } => {
                write!(f, "keyring backend '{name}' is not available: {reason}")
            }
        }
    }
}

impl std::error::Error for OpenError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_prefix_is_the_session_key_without_its_expiry() {
        for (key, want) in [
            (
                "sts.AssumeRole,cm9sZQ,,1700000000",
                Some("sts.AssumeRole,cm9sZQ,,"),
            ),
            (
                "sts.GetSessionToken,YmFzZQ,YXJu,1",
                Some("sts.GetSessionToken,YmFzZQ,YXJu,"),
            ),
            ("work", None),
            ("a,b,1700000000", None),
            ("a,b,c,d,1700000000", None),
            (",b,c,1700000000", None),
            ("a,b,c,", None),
            ("a,b,c,17x", None),
            ("", None),
        ] {
            assert_eq!(lookup_prefix(key), want, "{key}");
        }
    }

    /// The Go tool's registration order on Windows: wincred first, then winhello, file and
    /// the 1Password backends (Proton Pass is not in this build).
    #[cfg(windows)]
    #[test]
    fn windows_backends_in_the_go_order() {
        assert_eq!(
            available_backends(),
            [
                "wincred",
                "winhello",
                "file",
                "op-connect",
                "op",
                "op-desktop"
            ]
        );
        assert_eq!(default_order()[0], "wincred");
        assert!(matches!(
            check_name("keychain"),
            Err(OpenError::NotInThisBuild { .. })
        ));
    }

    #[cfg(not(windows))]
    #[test]
    fn windows_backends_are_refused_elsewhere_with_the_list() {
        for name in ["wincred", "winhello"] {
            let err = check_name(name).unwrap_err();
            assert!(matches!(err, OpenError::NotInThisBuild { .. }), "{err}");
            assert!(
                err.to_string().contains(&format!(
                    "available backends: {}",
                    available_backends().join(", ")
                )),
                "{err}"
            );
        }
    }
}
