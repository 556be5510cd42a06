//! The one error type of the config module.
//!
//! Why a struct with a pre-rendered message rather than an enum of variants: every caller prints
//! the error as one line and exits, and the wording is part of compatibility (docs/compatibility.md §2.1, §2.5).
//! The kind, file and line stay available for callers and tests that want to branch on them.

use std::path::{Path, PathBuf};

/// What went wrong, for callers that need to tell failures apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// Reading or creating the config file (or its directory) failed.
    Io,
    /// The file is not valid go-ini syntax.
    Parse,
    /// `include_profile` / `[default]` walk or `source_profile` chain visits a profile twice.
    Loop,
    /// `session_tags` in the file or `AWS_SESSION_TAGS` is malformed.
    SessionTags,
    /// A `source_profile` chain is longer than any real configuration needs.
    ChainTooLong,
}

/// A config failure rendered as one line, e.g.
/// `Error parsing config file /h/.aws/config: line 3: key-value delimiter not found: oops`.
#[derive(Debug)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    message: String,
    path: Option<PathBuf>,
    line: Option<usize>,
}

impl ConfigError {
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The config file concerned, when the error is about the file itself.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The 1-based line of a parse error.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    pub(crate) fn io(what: &str, path: &Path, err: &std::io::Error) -> ConfigError {
        ConfigError {
            kind: ConfigErrorKind::Io,
            message: format!("{what} {}: {err}", path.display()),
            path: Some(path.to_path_buf()),
            line: None,
        }
    }

    pub(crate) fn parse(path: &Path, line: usize, message: &str) -> ConfigError {
        ConfigError {
            kind: ConfigErrorKind::Parse,
            message: format!(
                "Error parsing config file {}: line {line}: {message}",
                path.display()
            ),
            path: Some(path.to_path_buf()),
            line: Some(line),
        }
    }

    pub(crate) fn loop_detected(profile: &str) -> ConfigError {
        ConfigError {
            kind: ConfigErrorKind::Loop,
            message: format!("Loop detected in config file for profile '{profile}'"),
            path: None,
            line: None,
        }
    }

    pub(crate) fn session_tags_setting(err: &str) -> ConfigError {
        ConfigError {
            kind: ConfigErrorKind::SessionTags,
            message: format!("Failed to parse session_tags profile setting: {err}"),
            path: None,
            line: None,
        }
    }

    /// The Go tool exits silently here (docs/compatibility.md §7.14); we say why.
    pub(crate) fn session_tags_env(err: &str) -> ConfigError {
        ConfigError {
            kind: ConfigErrorKind::SessionTags,
            message: format!("Failed to parse AWS_SESSION_TAGS environment variable: {err}"),
            path: None,
            line: None,
        }
    }

    pub(crate) fn chain_too_long(profile: &str, max: usize) -> ConfigError {
        ConfigError {
            kind: ConfigErrorKind::ChainTooLong,
            message: format!(
                "source_profile chain for profile '{profile}' is longer than {max} profiles"
            ),
            path: None,
            line: None,
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_the_file() {
        let p = Path::new("/h/.aws/config");
        let e = ConfigError::parse(p, 3, "key-value delimiter not found: oops");
        assert_eq!(
            e.to_string(),
            "Error parsing config file /h/.aws/config: line 3: key-value delimiter not found: oops"
        );
        assert_eq!(
            (e.kind(), e.line(), e.path()),
            (ConfigErrorKind::Parse, Some(3), Some(p))
        );

        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = ConfigError::io("Error reading config file", p, &io);
        assert_eq!(
            e.to_string(),
            "Error reading config file /h/.aws/config: denied"
        );
        assert_eq!(e.kind(), ConfigErrorKind::Io);

        assert_eq!(
            ConfigError::loop_detected("a").to_string(),
            "Loop detected in config file for profile 'a'"
        );
        assert_eq!(
            ConfigError::session_tags_setting("bad").to_string(),
            "Failed to parse session_tags profile setting: bad"
        );
        assert_eq!(
            ConfigError::session_tags_env("bad").to_string(),
            "Failed to parse AWS_SESSION_TAGS environment variable: bad"
        );
    }
}
