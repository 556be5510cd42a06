//! The AWS shared config file (`~/.aws/config`) as aws-vault reads it, and the resolution of one
//! profile into a [`ProfileConfig`].
//!
//! Layout (one concern per file):
//! * [`duration`]: Go duration syntax (parse and print);
//! * [`ini`]: the go-ini dialect (sections, keys, nested values, inheritance, interpolation);
//! * `profile.rs`: [`ProfileConfig`], [`BaseValues`], session-tag and `duration_seconds` parsing;
//! * `resolve.rs`: docs/compatibility.md §2.5–§2.7, the include/default walk, env overrides, source chains;
//! * `write.rs`: [`append_profile`] for `add`, [`append_sections`] for `sso-profiles`;
//! * `error.rs`: [`ConfigError`].
//!
//! This module never reads the process environment: callers pass it as an [`Env`] value, so
//! every rule is testable with a literal map.

pub mod duration;
mod error;
pub mod ini;
mod profile;
mod resolve;
mod write;

#[cfg(test)]
mod tests;

/// Units of work done by the parser's key lookups and the resolver's walks, counted in unit
/// tests only, so that a test can prove a step linear (or not) without timing anything: one
/// unit per section visited while looking a key up, per byte of a section name hashed while
/// linking sections to their parents, per level of an `include_profile` walk.
#[cfg(test)]
pub(crate) mod work {
    use std::cell::Cell;

    thread_local! {
        static UNITS: Cell<u64> = const { Cell::new(0) };
    }

    pub(crate) fn add(n: usize) {
        UNITS.with(|u| u.set(u.get().saturating_add(n as u64)));
    }

    /// The units counted on this thread since the last call.
    pub(crate) fn take() -> u64 {
        UNITS.with(|u| u.replace(0))
    }
}

/// Outside unit tests counting is a no-op the optimiser removes.
#[cfg(not(test))]
pub(crate) mod work {
    #[inline(always)]
    pub(crate) fn add(_: usize) {}
}

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{ConfigError, ConfigErrorKind};
pub use profile::{
    parse_duration_seconds, parse_session_tags, parse_transitive_session_tags, BaseValues,
    ProfileConfig, SESSION_TAGS_SYNTAX,
};
pub use resolve::MAX_SOURCE_CHAIN;
pub use write::{append_profile, append_sections, check_new_profile};

/// The process environment, passed as a value so every rule is testable.
pub type Env = std::collections::BTreeMap<String, String>;

/// Default minimum remaining lifetime of a cached session (`AWS_MIN_TTL`).
pub const DEFAULT_MIN_TTL: Duration = Duration::from_secs(5 * 60);

/// The user's home directory as the Go tool and the AWS CLI see it: `$HOME` (on Windows
/// `%USERPROFILE%`) when set and non-empty. `var` reads one variable, from an [`Env`] value or
/// the process (`std::env::var_os`).
pub fn home_dir<V: Into<std::ffi::OsString>>(
    var: impl FnOnce(&str) -> Option<V>,
) -> Option<PathBuf> {
    let name = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    var(name)
        .map(Into::into)
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// `$AWS_CONFIG_FILE` if non-empty (verbatim, no `~` expansion), else `<home>/.aws/config`.
pub fn config_path(env: &Env, home: &Path) -> PathBuf {
    match env.get("AWS_CONFIG_FILE") {
        Some(file) if !file.is_empty() => PathBuf::from(file),
        _ => home.join(".aws").join("config"),
    }
}

/// Largest config file read (real ones are kilobytes; a generated one for thousands of
/// accounts stays far below this). A bigger "file" is almost certainly `/dev/zero` or a mistake.
pub const MAX_CONFIG_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Default for [`process_timeout`]: long enough for a `credential_process` that waits for a
/// browser login or an MFA push, short enough that a hung one does not block every other
/// aws-vault waiting on its refresh lock forever.
pub const DEFAULT_PROCESS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// `AWS_VAULT_PROCESS_TIMEOUT` (Go duration syntax, e.g. `30s`, `10m`; default 5m; invalid or
/// non-positive => default): how long `credential_process` and `web_identity_token_process`
/// may run before they are killed.
pub fn process_timeout(env: &Env) -> Duration {
    env.get("AWS_VAULT_PROCESS_TIMEOUT")
        .and_then(|v| duration::parse_go_duration(v).ok())
        .and_then(duration::positive_std)
        .unwrap_or(DEFAULT_PROCESS_TIMEOUT)
}

/// Read a whole regular file of at most `cap` bytes. Anything else is refused with a reason
/// instead of blocking (a FIFO without writer) or exhausting memory (`/dev/zero`).
pub fn read_capped_file(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > cap {
        return Err(too_large(cap));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(cap + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(too_large(cap));
    }
    Ok(buf)
}

fn too_large(cap: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("larger than the limit of {} MiB", cap / (1024 * 1024)),
    )
}

/// `AWS_MIN_TTL` (Go duration syntax, default 5m, invalid => default): how long a cached session
/// must still be valid to be reused (docs/compatibility.md §3.4). `0` is honoured. A negative value (which Go
/// would use to reuse already-expired sessions) is clamped to zero.
pub fn min_ttl(env: &Env) -> Duration {
    let Some(value) = env.get("AWS_MIN_TTL") else {
        return DEFAULT_MIN_TTL;
    };
    match duration::parse_go_duration(value) {
        Ok(nanos) => duration::positive_std(nanos).unwrap_or(Duration::ZERO),
        Err(_) => DEFAULT_MIN_TTL,
    }
}

/// A parsed config file.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    ini: ini::Ini,
}

impl ConfigFile {
    /// Load, creating a missing file (and a missing parent dir with mode 0700, single level) as
    /// docs/compatibility.md §2.1 says. Invalid UTF-8 is read lossily (go-ini works on bytes; the keys aws-vault
    /// reads are ASCII).
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        if let Err(e) = std::fs::metadata(path) {
            if e.kind() == std::io::ErrorKind::NotFound {
                create_missing(path)?;
            }
        }
        let bytes = read_capped_file(path, MAX_CONFIG_FILE_SIZE)
            .map_err(|e| ConfigError::io("Error reading config file", path, &e))?;
        // go-ini also skips UTF-16 byte-order marks (the UTF-8 one is handled by the parser).
        let bytes = match bytes.get(..2) {
            Some([0xfe, 0xff]) | Some([0xff, 0xfe]) => &bytes[2..],
            _ => &bytes[..],
        };
        ConfigFile::parse(path, &String::from_utf8_lossy(bytes))
    }

    /// Parse text that came from `path` (no I/O).
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
        let ini = ini::parse(text).map_err(|e| ConfigError::parse(path, e.line, &e.message))?;
        Ok(ConfigFile {
            path: path.to_path_buf(),
            ini,
        })
    }

    /// docs/compatibility.md §2.3 profile list in file order: `[profile NAME]` sections, and `[default]` only
    /// when it has a recognised non-empty key (a `[default]` with just `output=json` is not a
    /// profile). `[profile ]` (empty name) is skipped and a name is listed once even if both
    /// `[default]` and `[profile default]` exist.
    pub fn profile_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for section in self.ini.sections() {
            let name = if section.name == resolve::DEFAULT_PROFILE {
                match self.profile_section(resolve::DEFAULT_PROFILE) {
                    Some(p) if !p.is_empty() => resolve::DEFAULT_PROFILE,
                    _ => continue,
                }
            } else if let Some(name) = section.name.strip_prefix("profile ") {
                name
            } else {
                continue;
            };
            if !name.is_empty() && seen.insert(name) {
                names.push(name.to_string());
            }
        }
        names
    }

    /// Whether a section exists for the profile (`[default]` for "default", `[profile x]`
    /// otherwise).
    pub fn has_profile(&self, name: &str) -> bool {
        self.ini.section(&resolve::section_name(name)).is_some()
    }

    /// A key from the profile's OWN section (no include_profile/default walk; go-ini
    /// inheritance and interpolation apply). `None` when absent or empty.
    pub fn own_value(&self, profile: &str, key: &str) -> Option<String> {
        self.ini
            .get(&resolve::section_name(profile), key)
            .filter(|v| !v.is_empty())
    }

    /// A key of the `[sso-session NAME]` section; `None` when absent or empty.
    pub fn sso_session_value(&self, session: &str, key: &str) -> Option<String> {
        self.ini
            .get(&format!("sso-session {session}"), key)
            .filter(|v| !v.is_empty())
    }

    /// `[sso-session NAME]` sections as (name, sso_start_url) in file order; the URL is empty
    /// when the section has none.
    pub fn sso_sessions(&self) -> Vec<(String, String)> {
        self.ini
            .sections()
            .iter()
            .filter_map(|s| {
                let name = s.name.strip_prefix("sso-session ")?;
                if name.is_empty() {
                    return None;
                }
                let url = self.ini.get(&s.name, "sso_start_url").unwrap_or_default();
                Some((name.to_string(), url))
            })
            .collect()
    }
}

/// docs/compatibility.md §2.1: create the parent directory (0700, one level only) and an empty file.
fn create_missing(path: &Path) -> Result<(), ConfigError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::metadata(dir) {
            if e.kind() == std::io::ErrorKind::NotFound {
                // Only Unix gives the directory a mode.
                #[cfg_attr(not(unix), allow(unused_mut))]
                let mut builder = std::fs::DirBuilder::new();
                #[cfg(unix)]
                {
                    use std::os::unix::fs::DirBuilderExt;
                    builder.mode(0o700);
                }
                builder
                    .create(dir)
                    .map_err(|e| ConfigError::io("Error creating config directory", dir, &e))?;
            }
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| ConfigError::io("Error creating config file", path, &e))?;
    Ok(())
}
