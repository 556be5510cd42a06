//! The `pass` and `passage` backends (docs/compatibility.md §4.7 `pass` / `passage`).
//!
//! Each item is one entry of a password store whose content is the Go Item JSON, and the entry
//! name is the one the Go keyring library uses: `path.Join(prefix, key)`, i.e. the joined path
//! *cleaned* (`//` collapsed, `.` segments dropped, `..` resolved). So the Go tool and this one
//! share every entry, SSO tokens included: `oidc:https://h/start` is the entry
//! `oidc:https:/h/start`. Reads and writes go through the `pass`/`passage` program; listing walks
//! the directory and never decrypts, because the credential hot path lists on every run.
//!
//! Improvements over the Go backend (docs/compatibility.md §7.18), neither of which changes where an item lives:
//! * Listing gives an SSO token entry back its `://` (`oidc:https:/h/start` lists as
//!   `oidc:https://h/start`), so `list` and `clear` recognise the token of a configured start URL.
//! * With an empty `--pass-prefix` the whole store is aws-vault's namespace, shared with the
//!   user's other passwords. Names alone cannot tell them apart, so [`Keyring::retain_own`]
//!   (used by `list` and `migrate-backend`, never by `exec`/`export`) decrypts each candidate and
//!   keeps only aws-vault items, and `remove` refuses to delete an entry that is not one.
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use super::{Config, Error, Item, Keyring, Result};

/// Which program drives the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Pass,
    Passage,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Pass => "pass",
            Flavor::Passage => "passage",
        }
    }
    fn dir_var(self) -> &'static str {
        match self {
            Flavor::Pass => "PASSWORD_STORE_DIR",
            Flavor::Passage => "PASSAGE_DIR",
        }
    }
    fn default_dir(self) -> &'static str {
        match self {
            Flavor::Pass => ".password-store",
            Flavor::Passage => ".passage/store",
        }
    }
    fn ext(self) -> &'static str {
        match self {
            Flavor::Pass => "gpg",
            Flavor::Passage => "age",
        }
    }
}

/// A `pass` or `passage` store.
#[derive(Debug)]
pub struct PassKeyring {
    flavor: Flavor,
    cmd: PathBuf,
    dir: PathBuf,
    prefix: String,
}

fn expand_home(p: &str, home: &Path) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if p == "~" => home.to_path_buf(),
        None => PathBuf::from(p),
    }
}

impl PassKeyring {
    /// Check that the program exists (no subprocess is started). `strict` (automatic selection)
    /// also requires an initialised store, so an installed but unused `pass` is not picked.
    pub fn open(
        cfg: &Config,
        flavor: Flavor,
        strict: bool,
    ) -> std::result::Result<PassKeyring, String> {
        let name = cfg
            .pass_cmd
            .clone()
            .unwrap_or_else(|| flavor.name().to_string());
        let cmd = crate::which::look_path(&name, &std::env::var_os("PATH").unwrap_or_default())
            .ok_or_else(|| format!("the {name} program is not available (not found in PATH)"))?;
        let dir = match &cfg.pass_dir {
            Some(d) => expand_home(d, &cfg.home),
            None => match std::env::var(flavor.dir_var()) {
                Ok(d) if !d.is_empty() => expand_home(&d, &cfg.home),
                _ => cfg.home.join(flavor.default_dir()),
            },
        };
        if strict {
            let marker = match flavor {
                Flavor::Pass => dir.join(".gpg-id"),
                Flavor::Passage => dir.clone(),
            };
            if !marker.exists() {
                return Err(format!(
                    "no initialised {} store at {}",
                    flavor.name(),
                    dir.display()
                ));
            }
        }
        Ok(PassKeyring {
            flavor,
            cmd,
            dir,
            prefix: cfg.pass_prefix.clone().unwrap_or_default(),
        })
    }

    /// Whether there is no prefix, so the store is shared with the user's other passwords.
    fn shared(&self) -> bool {
        self.prefix.trim_matches('/').is_empty()
    }

    /// The entry name (relative to the store) of a key: the Go library's `path.Join(prefix,
    /// key)`, so both tools use the same entry. `None` for a key that names no entry inside the
    /// store (empty, `.`, or climbing out with `..`).
    fn entry(&self, key: &str) -> Option<String> {
        let prefix = self.prefix.trim_matches('/');
        let joined = if prefix.is_empty() {
            go_clean(key)
        } else {
            go_clean(&format!("{prefix}/{key}"))
        };
        // A rooted name is relative to the store for pass and for the Go library alike.
        let name = joined.trim_start_matches('/');
        if name.is_empty() || name == "." || name == ".." || name.starts_with("../") {
            return None;
        }
        Some(name.to_string())
    }

    /// [`PassKeyring::entry`], or the error for a key that cannot be stored.
    fn entry_for_write(&self, key: &str) -> Result<String> {
        self.entry(key).ok_or_else(|| {
            Error::Backend(format!(
                "the key '{key}' cannot be stored in the {} store at {}: it names no entry inside it",
                self.flavor.name(),
                self.dir.display()
            ))
        })
    }

    fn run(&self, args: &[&OsStr], input: Option<&[u8]>) -> Result<std::process::Output> {
        let mut c = Command::new(&self.cmd);
        c.args(args)
            .env(self.flavor.dir_var(), &self.dir)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .map_err(|e| Error::Backend(format!("cannot run {}: {e}", self.cmd.display())))?;
        if let Some(input) = input {
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin.write_all(input).map_err(|e| {
                Error::Backend(format!("cannot write to {}: {e}", self.cmd.display()))
            })?;
        }
        child
            .wait_with_output()
            .map_err(|e| Error::Backend(format!("{}: {e}", self.cmd.display())))
    }

    fn failed(&self, what: &str, out: &std::process::Output) -> Error {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Error::Backend(format!(
            "{} {what} failed ({}){}{}",
            self.flavor.name(),
            out.status,
            if last.is_empty() { "" } else { ": " },
            last.trim()
        ))
    }

    fn entry_file(&self, entry: &str) -> PathBuf {
        self.dir.join(format!("{entry}.{}", self.flavor.ext()))
    }

    /// Relative entry names (without extension) under `<dir>/<prefix>`, sorted.
    fn walk(&self) -> Vec<String> {
        let prefix = self.prefix.trim_matches('/');
        let root = if prefix.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(prefix)
        };
        let suffix = format!(".{}", self.flavor.ext());
        let mut out = Vec::new();
        let mut stack = vec![(root, String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Ok(ft) = e.file_type() else { continue };
                let child_rel = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                if ft.is_dir() {
                    // `.git`, `.extensions` and the like are not entries.
                    if !name.starts_with('.') {
                        stack.push((e.path(), child_rel));
                    }
                } else if let Some(stem) = child_rel.strip_suffix(&suffix) {
                    if !name.starts_with('.') || name.len() > suffix.len() {
                        out.push(stem.to_string());
                    }
                }
            }
        }
        out.sort();
        out
    }

    fn show(&self, entry: &str) -> Result<Zeroizing<Vec<u8>>> {
        let out = self.run(&[OsStr::new("show"), OsStr::new(entry)], None)?;
        if !out.status.success() {
            return Err(self.failed("show", &out));
        }
        Ok(Zeroizing::new(out.stdout))
    }
}

impl PassKeyring {
    /// Whether `entry` holds an aws-vault item: its Item JSON names a key that is stored at
    /// exactly this entry. Decrypts the entry.
    fn holds_our_item(&self, entry: &str) -> Result<bool> {
        let bytes = self.show(entry)?;
        Ok(match Item::from_json(&bytes) {
            Ok(item) => self.entry(&item.key).as_deref() == Some(entry),
            Err(_) => false,
        })
    }
}

impl Keyring for PassKeyring {
    fn get(&self, key: &str) -> Result<Item> {
        let Some(entry) = self.entry(key) else {
            return Err(Error::NotFound);
        };
        if !self.entry_file(&entry).is_file() {
            return Err(Error::NotFound);
        }
        let bytes = self.show(&entry)?;
        Item::from_json(&bytes).map_err(|reason| Error::Corrupt {
            path: self.entry_file(&entry).display().to_string(),
            reason: format!("not an aws-vault item: {reason}"),
        })
    }

    fn set(&self, item: &Item) -> Result<()> {
        let entry = self.entry_for_write(&item.key)?;
        let json = item.to_json();
        let out = self.run(
            &[
                OsStr::new("insert"),
                OsStr::new("-m"),
                OsStr::new("-f"),
                OsStr::new(&entry),
            ],
            Some(&json),
        )?;
        if !out.status.success() {
            return Err(self.failed("insert", &out));
        }
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<()> {
        let Some(entry) = self.entry(key) else {
            return Err(Error::NotFound);
        };
        if !self.entry_file(&entry).is_file() {
            return Err(Error::NotFound);
        }
        // Without a prefix the name may be one of the user's own passwords (`remove github.com`,
        // or a name that happens to look like an old session key): never delete those.
        if self.shared() && !self.holds_our_item(&entry)? {
            return Err(Error::Backend(format!(
                "{0} entry '{entry}' is not an aws-vault item, so aws-vault leaves it alone (delete it with `{0} rm {entry}` if you mean to)",
                self.flavor.name()
            )));
        }
        let out = self.run(
            &[OsStr::new("rm"), OsStr::new("-f"), OsStr::new(&entry)],
            None,
        )?;
        if !out.status.success() {
            return Err(self.failed("rm", &out));
        }
        Ok(())
    }

    /// The entry names under the prefix, as the Go library lists them (no decryption), with
    /// SSO token names given back their `://` ([`listed_key`]).
    fn keys(&self) -> Result<Vec<String>> {
        Ok(self.walk().iter().map(|n| listed_key(n)).collect())
    }

    fn retain_own(&self, keys: Vec<String>) -> Result<Vec<String>> {
        if !self.shared() {
            return Ok(keys);
        }
        let mut own = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(entry) = self.entry(&key) else {
                continue;
            };
            match self.holds_our_item(&entry) {
                Ok(true) => own.push(key),
                Ok(false) => crate::debug!(
                    "{}: entry {entry} is not an aws-vault item, not listed",
                    self.flavor.name()
                ),
                Err(e) => crate::debug!("{}: entry {entry} skipped: {e}", self.flavor.name()),
            }
        }
        Ok(own)
    }
}

/// The key an entry name (relative to the prefix) lists as: the name itself, except that an SSO
/// token entry (`oidc:…`, `oidc:client:<flow>:…`) gets back the `//` after its URL scheme that
/// path cleaning removed. A path never contains `//`, so the first `<scheme>:/` in such a name
/// can only be a collapsed `<scheme>://`.
fn listed_key(name: &str) -> String {
    let Some(rest) = name.strip_prefix("oidc:") else {
        return name.to_string();
    };
    let Some(colon) = rest.find(":/") else {
        return name.to_string();
    };
    let scheme = rest[..colon].rsplit(':').next().unwrap_or("");
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        return name.to_string();
    }
    format!("oidc:{}/{}", &rest[..colon + 2], &rest[colon + 2..])
}

/// Go's `path.Clean` for a relative name: collapse `//`, drop `.` segments, resolve `..`, strip a
/// trailing `/`.
fn go_clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(prefix: &str) -> PassKeyring {
        PassKeyring {
            flavor: Flavor::Pass,
            cmd: PathBuf::from("/nonexistent/pass"),
            dir: PathBuf::from("/nonexistent/store"),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn entries_are_named_like_the_go_library() {
        let top = store("");
        let sub = store("aws-vault/");
        for k in [
            "default",
            "prod-admin",
            "team/prod",
            "sts.GetSessionToken,cHJvZA,YXJuOmF3czppYW06OjEyMzQ1Njc4OTAxMjptZmEvam9u,1735689600",
            "a%b",
        ] {
            assert_eq!(top.entry(k).unwrap(), k);
            assert_eq!(sub.entry(k).unwrap(), format!("aws-vault/{k}"));
        }
        // path.Join cleans: `//` collapses, `.` goes, `..` climbs, a trailing `/` goes.
        for (k, want) in [
            (
                "oidc:https://x.awsapps.com/start",
                "oidc:https:/x.awsapps.com/start",
            ),
            (
                "oidc:https://x.awsapps.com/start/#/",
                "oidc:https:/x.awsapps.com/start/#",
            ),
            (
                "oidc:client:pkce:https://x.awsapps.com/start",
                "oidc:client:pkce:https:/x.awsapps.com/start",
            ),
            ("a/./b", "a/b"),
            ("a/../b", "b"),
            ("/lead", "lead"),
        ] {
            assert_eq!(top.entry(k).unwrap(), want, "{k}");
            assert_eq!(sub.entry(k).unwrap(), format!("aws-vault/{want}"), "{k}");
        }
        // `..` may leave the prefix (as in Go) but never the store.
        assert_eq!(sub.entry("../x").unwrap(), "x");
        for k in ["", ".", "..", "../x", "a/../.."] {
            assert_eq!(top.entry(k), None, "{k}");
        }
        assert_eq!(sub.entry("../.."), None);
        assert!(top.entry_for_write("..").is_err());
    }

    #[test]
    fn token_entries_list_under_their_real_key() {
        for key in [
            "oidc:https://x.awsapps.com/start",
            "oidc:client:pkce:https://x.awsapps.com/start",
            "oidc:client:device:https://x.awsapps.com/start",
        ] {
            let name = store("").entry(key).unwrap();
            assert_eq!(listed_key(&name), key);
        }
        for name in [
            "default",
            "team/prod",
            "oidc:plain",
            "oidc:a b:/c",
            "sts.GetSessionToken,cHJvZA,,1735689600",
        ] {
            assert_eq!(listed_key(name), name);
        }
        // Listed keys lead back to their entry.
        let top = store("");
        for name in ["oidc:https:/x.awsapps.com/start", "team/prod"] {
            assert_eq!(top.entry(&listed_key(name)).unwrap(), name);
        }
    }
}
