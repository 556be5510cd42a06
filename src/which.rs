//! Finding programs on `PATH` the way the Go tool's `exec.LookPath` does: one home for the
//! MFA helpers, `pass`, the browser opener and anything else we run by name.
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Go's `exec.LookPath`: a `name` containing a path separator is used as it is (when it is an
/// executable file); otherwise the first executable `name` in an absolute directory of `path`
/// (a `PATH` value). Relative `PATH` entries are skipped, as Go refuses them since 1.19, and on
/// Windows `name` is tried with the `.exe`, `.com`, `.bat` and `.cmd` extensions.
pub fn look_path(name: &str, path: &OsStr) -> Option<PathBuf> {
    if name.contains('/') || (cfg!(windows) && name.contains('\\')) {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .flat_map(|dir| candidates(&dir, name))
        .find(|p| is_executable(p))
}

#[cfg(windows)]
fn candidates(dir: &Path, name: &str) -> Vec<PathBuf> {
    ["exe", "com", "bat", "cmd"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .collect()
}

#[cfg(not(windows))]
fn candidates(dir: &Path, name: &str) -> Vec<PathBuf> {
    vec![dir.join(name)]
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}
