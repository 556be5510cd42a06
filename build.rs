//! Build script: the version string `aws-vault --version` prints, and a relink when the
//! release build's code layout (`scripts/hot-path.ld`, see `scripts/release`) changes.
//!
//! `AWS_VAULT_VERSION` set at build time (release pipelines) is used as it is. Otherwise the
//! version is the crate's, followed by `+<short commit>` when the source is a git checkout
//! (`0.1.0+4ffda8c`); a source tarball without `.git`, or a machine without `git`, gives the
//! crate version alone.
use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// Rebuild when `path` (a git file) changes; only for files that exist, since cargo treats a
/// missing file as always changed.
fn watch(path: Option<String>) {
    if let Some(p) = path.filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={p}");
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=AWS_VAULT_VERSION");
    // scripts/release passes this linker script to the static Linux build; cargo does not know
    // that the link reads it, so a new layout would otherwise not be linked in.
    watch(Some("scripts/hot-path.ld".into()));
    let crate_version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let version = match std::env::var("AWS_VAULT_VERSION") {
        Ok(v) if !v.is_empty() => v,
        _ => match git(&["rev-parse", "--short", "HEAD"]) {
            Some(commit) => {
                // The commit changes when HEAD moves or the branch it points to does.
                watch(git(&["rev-parse", "--git-path", "HEAD"]));
                if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                    watch(git(&["rev-parse", "--git-path", &branch]));
                }
                watch(git(&["rev-parse", "--git-path", "packed-refs"]));
                format!("{crate_version}+{commit}")
            }
            None => crate_version,
        },
    };
    println!("cargo:rustc-env=AWS_VAULT_BUILD_VERSION={version}");
}
