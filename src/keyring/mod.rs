//! The `Keyring` trait, its `Item`, and backend selection.
//!
//! A keyring is a flat namespace of string keys, each holding an [`Item`]. Backends that store
//! the whole item serialise it as the Go tool's Item JSON ([`item`]), so a user can swap binaries
//! and find every stored key still there. This module knows nothing about AWS credentials; the
//! typed views live in `store/`.

pub mod file;
pub mod item;
mod jwe;

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
    /// Every key in the store, in the backend's order.
    fn keys(&self) -> Result<Vec<String>>;
}

/// The backends this build knows, in the order the platform would prefer them.
/// Backends other than `file` arrive in later work; the names are reserved now so that the
/// flag surface and the error messages are final.
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

/// Backends compiled into this build and usable on this platform.
pub fn available_backends() -> Vec<&'static str> {
    vec!["file"]
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
}

/// Open the backend named in `cfg` (or the first usable one), as a boxed trait object.
pub fn open(cfg: &Config) -> std::result::Result<Box<dyn Keyring>, OpenError> {
    let available = available_backends();
    let name = match &cfg.backend {
        Some(name) => name.as_str(),
        None => available[0],
    };
    match name {
        "file" => Ok(Box::new(file::FileKeyring::new(cfg))),
        other if ALL_BACKENDS.contains(&other) => Err(OpenError::NotInThisBuild {
            name: other.to_string(),
            available: available.join(", "),
        }),
        other => Err(OpenError::Unknown {
            name: other.to_string(),
            available: available.join(", "),
        }),
    }
}

/// Why a backend could not be opened.
#[derive(Debug)]
pub enum OpenError {
    Unknown { name: String, available: String },
    NotInThisBuild { name: String, available: String },
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
        }
    }
}

impl std::error::Error for OpenError {}
