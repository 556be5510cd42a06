//! The `Keyring` trait, its `Item`, and backend selection.
//!
//! A keyring is a flat namespace of string keys, each holding an [`Item`]. Backends that store
//! the whole item serialise it as the Go tool's Item JSON ([`item`]), so a user can swap binaries
//! and find every stored key still there. This module knows nothing about AWS credentials; the
//! typed views live in `store/`.

pub mod file;
pub mod item;
mod jwe;
#[cfg(target_os = "linux")]
pub mod keyctl;
#[cfg(target_os = "linux")]
pub mod kwallet;
#[cfg(unix)]
pub mod pass;
#[cfg(target_os = "linux")]
pub mod secret_service;

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
}

/// The backends this build knows, in the order the platform would prefer them.
/// Backends without an implementation here are reserved so that the flag surface and the error
/// messages are final.
pub const ALL_BACKENDS: &[&str] = &[
    "secret-service",
    "kwallet",
    "keyctl",
    "pass",
    "passage",
    "keychain",
    "wincred",
    "file",
    "op-connect",
    "op",
    "op-desktop",
];

/// Backends compiled into this build and usable on this platform, in the platform's order of
/// preference (compat §4.6).
pub fn available_backends() -> Vec<&'static str> {
    if cfg!(target_os = "linux") {
        vec![
            "secret-service",
            "kwallet",
            "keyctl",
            "pass",
            "passage",
            "file",
        ]
    } else if cfg!(unix) {
        vec!["pass", "passage", "file"]
    } else {
        vec!["file"]
    }
}

/// The order tried when no backend is named. `keyctl` is left out: the kernel keyring does not
/// survive a reboot, so it is never a sensible place for long-term keys unless asked for. `file`
/// always opens and is the last resort.
pub fn default_order() -> Vec<&'static str> {
    available_backends()
        .into_iter()
        .filter(|b| *b != "keyctl")
        .collect()
}

/// Settings every backend may read (from the global flags and their environment variables).
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `--backend` / `AWS_VAULT_BACKEND`; `None` means "pick the first that opens".
    pub backend: Option<String>,
    /// `--file-dir` / `AWS_VAULT_FILE_DIR`, with `~/` not yet expanded.
    pub file_dir: Option<String>,
    /// `AWS_VAULT_FILE_PASSPHRASE` when the variable is set (even to an empty string).
    pub file_passphrase: Option<Zeroizing<String>>,
    /// The user's home directory, for `~/` expansion and defaults.
    pub home: std::path::PathBuf,
    pub keychain_name: String,
    pub secret_service_collection: String,
    pub pass_dir: Option<String>,
    pub pass_cmd: Option<String>,
    pub pass_prefix: Option<String>,
    /// `AWS_VAULT_KEYCTL_SCOPE`: `user` (default), `usersession`, `session`, `process`, `thread`.
    pub keyctl_scope: Option<String>,
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
    let available = available_backends();
    match &cfg.backend {
        Some(name) => {
            let Some(&name) = available.iter().find(|b| **b == name.as_str()) else {
                return Err(if ALL_BACKENDS.contains(&name.as_str()) {
                    OpenError::NotInThisBuild {
                        name: name.clone(),
                        available: available.join(", "),
                    }
                } else {
                    OpenError::Unknown {
                        name: name.clone(),
                        available: available.join(", "),
                    }
                });
            };
            open_one(cfg, name, false)
                .map(|k| (name, k))
                .map_err(|reason| OpenError::Unavailable {
                    name: name.to_string(),
                    reason,
                })
        }
        None => {
            for name in default_order() {
                match open_one(cfg, name, true) {
                    Ok(k) => return Ok((name, k)),
                    Err(reason) => {
                        crate::debug!("Keyring backend {name} skipped: {reason}")
                    }
                }
            }
            // Unreachable in practice: `file` always opens.
            Ok(("file", Box::new(file::FileKeyring::new(cfg))))
        }
    }
}

/// Open one backend. `auto` is true during automatic selection, where a backend must look
/// actually set up (e.g. an initialised password store), not merely installed.
fn open_one(cfg: &Config, name: &str, auto: bool) -> std::result::Result<Box<dyn Keyring>, String> {
    match name {
        "file" => Ok(Box::new(file::FileKeyring::new(cfg))),
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
                "unknown keyring backend '{name}'; available backends: {available}"
            ),
            OpenError::NotInThisBuild { name, available } => write!(
                f,
                "keyring backend '{name}' is not supported by this build of aws-vault; available backends: {available}"
            ),
            OpenError::Unavailable { name, reason } => {
                write!(f, "keyring backend '{name}' is not available: {reason}")
            }
        }
    }
}

impl std::error::Error for OpenError {}
