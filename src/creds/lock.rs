//! Single-flight across processes: one lock file per cache key.
//!
//! When a cached credential is missing or expiring, the process that refreshes it holds an
//! exclusive `flock` on `<runtime dir>/<hash of the key>.lock` while it calls AWS (and asks for
//! an MFA code); the others wait, then find the fresh credential in the cache. The kernel drops
//! the lock when its holder exits or is killed, so a stale lock can never block anyone.
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::Env;

/// A held lock; released on drop (and by the kernel if the process dies).
#[derive(Debug)]
pub struct Lock {
    file: File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// The per-user directory for lock files: `$XDG_RUNTIME_DIR/aws-vault`, else
/// `<temp dir>/aws-vault-<uid>`. Created 0700; refused when another user owns it.
///
/// Anyone can create `<temp dir>/aws-vault-<uid>` first. Rather than run unlocked (which is
/// what such a squatter would want), fall back to a directory no one else can create:
/// `$XDG_CACHE_HOME/aws-vault/locks`, else `~/.cache/aws-vault/locks`. If none is usable the
/// error names each directory tried, and the refresh does not run.
pub fn lock_dir(env: &Env) -> io::Result<PathBuf> {
    let primary = match env.get("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) if Path::new(runtime).is_dir() => Path::new(runtime).join("aws-vault"),
        _ => {
            let tmp = env
                .get("TMPDIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            tmp.join(format!("aws-vault-{}", uid()))
        }
    };
    let primary_err = match ensure_private_dir(&primary) {
        Ok(()) => return Ok(primary),
        Err(e) => e,
    };
    let cache = env
        .get("XDG_CACHE_HOME")
        .filter(|d| Path::new(d).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            env.get("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(h).join(".cache"))
        });
    let Some(cache) = cache else {
        return Err(io::Error::new(
            primary_err.kind(),
            format!("no usable lock directory: {primary_err}; set XDG_RUNTIME_DIR or HOME"),
        ));
    };
    let fallback = cache.join("aws-vault").join("locks");
    if let Some(parent) = fallback.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    match ensure_private_dir(&fallback) {
        Ok(()) => {
            crate::debug!("lock directory {primary_err}; using {}", fallback.display());
            Ok(fallback)
        }
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("no usable lock directory: {primary_err}; {e}"),
        )),
    }
}

#[cfg(unix)]
fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(not(unix))]
fn uid() -> u32 {
    0
}

fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        }
        let meta = std::fs::symlink_metadata(dir)?;
        if !meta.is_dir() || meta.uid() != uid() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is not a directory owned by you; remove it",
                    dir.display()
                ),
            ));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// A lock file must be a regular file of ours: a FIFO would block the open of the next
/// process, and a file owned by someone else could be locked by them forever.
fn check_lock_file(file: &File, path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata()?;
        if !meta.is_file() || meta.uid() != uid() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is not a regular file owned by you; remove it",
                    path.display()
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (file, path);
    Ok(())
}

/// How long a busy lock is waited for silently before `waiting` is called.
const QUIET_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Take the lock for `key`, waiting for another process that holds it. `waiting` is called
/// once if the lock stays busy for more than a second (to tell the user why nothing happens,
/// e.g. another process is at its MFA prompt).
pub fn acquire(dir: &Path, key: &str, waiting: impl FnOnce() + Send + 'static) -> io::Result<Lock> {
    let file = open(dir, key)?;
    match file.try_lock() {
        Ok(()) => return Ok(Lock { file }),
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    wait_quietly(waiting, || file.lock())?;
    Ok(Lock { file })
}

/// Take the lock for `key` if it is free. If another process holds it, wait until that process
/// lets go and return `None` without the lock: the holder was refreshing, so the caller reads
/// the cache again and takes the lock with [`acquire`] only if the refresh failed.
///
/// The wait is on a *shared* lock, released at once: every waiter wakes the moment the holder
/// is done, and they all read the fresh cache side by side. (Queueing for the exclusive lock
/// instead made two hundred parallel `credential_process` calls pass it on one by one, each
/// holding it for its own cache read.)
pub fn acquire_or_wait(
    dir: &Path,
    key: &str,
    waiting: impl FnOnce() + Send + 'static,
) -> io::Result<Option<Lock>> {
    let file = open(dir, key)?;
    match file.try_lock() {
        Ok(()) => return Ok(Some(Lock { file })),
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    wait_quietly(waiting, || file.lock_shared())?;
    Ok(None)
}

/// The lock file for `key` in `dir`, created if needed, checked to be ours.
fn open(dir: &Path, key: &str) -> io::Result<File> {
    let digest = Sha256::digest(key.as_bytes());
    let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{name}.lock"));
    let mut opts = OpenOptions::new();
    opts.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Never follow a planted symlink: it could make us create or lock a file elsewhere.
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = opts.open(&path).map_err(|e| {
        if cfg!(unix) && e.raw_os_error() == Some(libc::ELOOP) {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is a symbolic link; remove it", path.display()),
            )
        } else {
            io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        }
    })?;
    check_lock_file(&file, &path)?;
    Ok(file)
}

/// Block in `wait` (at once, so we wake the moment the lock is free), and let a watcher thread
/// call `waiting` only if the wait outlasts [`QUIET_WAIT`]. Most waits (parallel SDK starts)
/// last milliseconds, and a message per process would only be noise.
fn wait_quietly(
    waiting: impl FnOnce() + Send + 'static,
    wait: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let (done, until_done) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = until_done.recv_timeout(QUIET_WAIT)
        {
            waiting();
        }
    });
    let waited = wait();
    drop(done);
    waited
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_wake_together_without_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        // Free: taken at once.
        let first = acquire_or_wait(dir.path(), "k", || {}).unwrap();
        assert!(first.is_some());
        // Busy: three waiters block until the holder lets go, then all return None at once
        // (none of them holds the lock, so none waits for another).
        let (tx, rx) = std::sync::mpsc::channel();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let path = dir.path().to_path_buf();
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let got = acquire_or_wait(&path, "k", || {}).unwrap();
                    tx.send(got.is_none()).unwrap();
                    // Hold nothing while "reading the cache".
                    std::thread::sleep(std::time::Duration::from_millis(300));
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(rx.try_recv().is_err(), "a waiter did not wait");
        drop(first);
        for _ in 0..3 {
            let none = rx
                .recv_timeout(std::time::Duration::from_millis(200))
                .expect("waiters wake together, not one after another");
            assert!(none);
        }
        // And the lock is free for whoever must refresh after all.
        assert!(acquire_or_wait(dir.path(), "k", || {}).unwrap().is_some());
        for w in waiters {
            w.join().unwrap();
        }
    }

    #[test]
    fn second_holder_waits() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "k", || panic!("free lock reported busy")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let path = dir.path().to_path_buf();
        let waited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = waited.clone();
        let t = std::thread::spawn(move || {
            let _l = acquire(&path, "k", move || {
                flag.store(true, std::sync::atomic::Ordering::SeqCst)
            })
            .unwrap();
            tx.send(()).unwrap();
        });
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert!(rx.try_recv().is_err(), "second holder did not wait");
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
        t.join().unwrap();
        // Different keys do not contend.
        let _a = acquire(dir.path(), "a", || panic!("busy")).unwrap();
        let _b = acquire(dir.path(), "b", || panic!("busy")).unwrap();
    }

    #[test]
    fn symlinks_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _probe = acquire(dir.path(), "k", || {}).unwrap();
        let name = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name();
        drop(_probe);
        let path = dir.path().join(&name);
        std::fs::remove_file(&path).unwrap();
        let target = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let e = acquire(dir.path(), "k", || {}).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!target.exists(), "the symlink was followed");

        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "").unwrap();
        // SAFETY: getuid has no preconditions.
        let other = unsafe { libc::getuid() } + 4242;
        if std::os::unix::fs::chown(&path, Some(other), None).is_ok() {
            let e = acquire(dir.path(), "k", || {}).unwrap_err();
            assert!(
                e.to_string().contains("not a regular file owned by you"),
                "{e}"
            );
        }
    }

    #[test]
    fn foreign_primary_dir_falls_back_to_the_cache_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let squatted = tmp.path().join(format!("aws-vault-{}", uid()));
        std::fs::create_dir(&squatted).unwrap();
        // Owned by someone else (needs root), or else not a directory at all: both are refused.
        if std::os::unix::fs::chown(&squatted, Some(uid() + 4242), None).is_err() {
            std::fs::remove_dir(&squatted).unwrap();
            std::fs::write(&squatted, "").unwrap();
        }
        let mut env = Env::new();
        env.insert("TMPDIR".into(), tmp.path().to_str().unwrap().into());
        let cache = tmp.path().join("cache");
        env.insert("XDG_CACHE_HOME".into(), cache.to_str().unwrap().into());
        assert_eq!(
            lock_dir(&env).unwrap(),
            cache.join("aws-vault").join("locks")
        );
        // Nothing usable: an error, never "no lock".
        env.remove("XDG_CACHE_HOME");
        assert!(lock_dir(&env).is_err());
    }

    #[test]
    fn private_dir() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let mut env = Env::new();
        env.insert(
            "XDG_RUNTIME_DIR".into(),
            tmp.path().to_str().unwrap().into(),
        );
        let dir = lock_dir(&env).unwrap();
        assert_eq!(dir, tmp.path().join("aws-vault"));
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
