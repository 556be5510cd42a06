//! The `pass` and `passage` backends (compat §4.7 `pass` / `passage`).
//!
//! Each item is one entry of a password store whose content is the Go Item JSON, so the Go tool
//! and this one share entries. Entries are `<store>/<prefix>/<key>.gpg` (`.age` for passage);
//! reads and writes go through the `pass`/`passage` program, listing walks the directory.
//!
//! Improvements over the Go backend (compat §7.18):
//! * Keys containing `//` (OIDC start URLs) round-trip. The Go library cleans the entry path, so
//!   `oidc:https://h/s` became `oidc:https:/h/s`. Here a `/` next to an empty path segment
//!   (leading, doubled or trailing) is written as `%2F` (`oidc:https:%2F%2Fh/s`), a `.`/`..` path segment as `%2E`/`%2E%2E`, and a
//!   `%` only where it would otherwise be misread (`%25`). Every other key — all profile names —
//!   is stored exactly where the Go tool stores it.
//! * With an empty `--pass-prefix` the whole store is walked, so each entry's content is read and
//!   only aws-vault items (Item JSON whose `Key` is the entry's key) are listed; the user's other
//!   passwords are never reported as credentials.
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
        let cmd = crate::process::look_path(&name, &std::env::var_os("PATH").unwrap_or_default())
            .ok_or_else(|| {
            format!("the {name} program is not available (not found in PATH)")
        })?;
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

    /// The entry name (relative to the store) of a key.
    fn entry(&self, key: &str) -> String {
        let enc = encode_key(key);
        let prefix = self.prefix.trim_matches('/');
        if prefix.is_empty() {
            enc
        } else {
            format!("{prefix}/{enc}")
        }
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

impl Keyring for PassKeyring {
    fn get(&self, key: &str) -> Result<Item> {
        let entry = self.entry(key);
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
        let entry = self.entry(&item.key);
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
        let entry = self.entry(key);
        if !self.entry_file(&entry).is_file() {
            return Err(Error::NotFound);
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

    fn keys(&self) -> Result<Vec<String>> {
        let names = self.walk();
        if !self.prefix.trim_matches('/').is_empty() {
            return Ok(names.iter().map(|n| decode_key(n)).collect());
        }
        // Empty prefix: the whole store. Keep only entries that are aws-vault items.
        let mut keys = Vec::new();
        for name in names {
            let key = decode_key(&name);
            match self.show(&name) {
                Ok(bytes) => match Item::from_json(&bytes) {
                    Ok(item) if is_our_item(&item.key, &key) => keys.push(key),
                    _ => crate::debug!(
                        "{}: entry {name} is not an aws-vault item, not listed",
                        self.flavor.name()
                    ),
                },
                Err(e) => crate::debug!("{}: entry {name} skipped: {e}", self.flavor.name()),
            }
        }
        Ok(keys)
    }
}

/// An entry is ours when the Item JSON names the entry's own key, or (for entries the Go tool
/// wrote) the key the Go tool's path cleaning turned into this entry name.
fn is_our_item(item_key: &str, listed: &str) -> bool {
    item_key == listed || (!item_key.is_empty() && go_clean(item_key) == listed)
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

fn starts_with_escape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 3
        && b[0] == b'%'
        && matches!(
            (b[1], b[2].to_ascii_uppercase()),
            (b'2', b'5') | (b'2', b'F') | (b'2', b'E')
        )
}

/// Turn a key into an entry name that path cleaning leaves alone (see the module docs).
pub fn encode_key(key: &str) -> String {
    let segs: Vec<&str> = key.split('/').collect();
    let mut out = String::with_capacity(key.len());
    for (i, seg) in segs.iter().enumerate() {
        if i > 0 {
            // A separator survives cleaning only between two non-empty segments.
            if segs[i - 1].is_empty() || seg.is_empty() {
                out.push_str("%2F");
            } else {
                out.push('/');
            }
        }
        match *seg {
            "." => out.push_str("%2E"),
            ".." => out.push_str("%2E%2E"),
            s => {
                let mut rest = s;
                while let Some(c) = rest.chars().next() {
                    if starts_with_escape(rest) {
                        out.push_str("%25");
                    } else {
                        out.push(c);
                    }
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
    }
    out
}

/// Reverse [`encode_key`]: `%25`, `%2F`, `%2E` (either case) become `%`, `/`, `.`.
pub fn decode_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if starts_with_escape(rest) {
            out.push(match rest.as_bytes()[2].to_ascii_uppercase() {
                b'5' => '%',
                b'F' => '/',
                _ => '.',
            });
            rest = &rest[3..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_are_stored_where_go_stores_them() {
        for k in [
            "default",
            "prod-admin",
            "team/prod",
            "sts.GetSessionToken,cHJvZA,YXJuOmF3czppYW06OjEyMzQ1Njc4OTAxMjptZmEvam9u,1735689600",
            "a%b",
            "100%",
        ] {
            assert_eq!(encode_key(k), k);
            assert_eq!(go_clean(&encode_key(k)), k);
            assert_eq!(decode_key(&encode_key(k)), k);
        }
    }

    #[test]
    fn awkward_keys_round_trip_and_survive_cleaning() {
        for k in [
            "oidc:https://example.awsapps.com/start",
            "oidc:https://example.awsapps.com/start/",
            "oidc:https://example.awsapps.com/start#/",
            "/lead",
            "trail/",
            "a///b",
            "//",
            "/",
            ".",
            "..",
            "a/./b",
            "a/../b",
            "lit%2Fslash",
            "lit%25pct",
            "lit%2e",
        ] {
            let enc = encode_key(k);
            assert_eq!(go_clean(&enc), enc, "{k} -> {enc} is not clean");
            assert_eq!(decode_key(&enc), k, "{k} -> {enc}");
        }
        assert_eq!(
            encode_key("oidc:https://x.awsapps.com/start"),
            "oidc:https:%2F%2Fx.awsapps.com/start"
        );
    }

    #[test]
    fn go_written_oidc_entries_are_recognised() {
        let go_key = "oidc:https://x.awsapps.com/start";
        // The Go tool stored it at the cleaned path, which lists as this key:
        assert!(is_our_item(go_key, "oidc:https:/x.awsapps.com/start"));
        assert!(is_our_item("default", "default"));
        assert!(!is_our_item("", "github.com"));
        assert!(!is_our_item("other", "github.com"));
    }
}
