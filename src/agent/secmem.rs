//! Buffers for the secrets the agent holds: their own pages, locked against swap, left out of
//! core dumps, zeroed on drop.
//!
//! Each buffer is an anonymous private mapping of whole pages, so locking it locks nothing else
//! and unlocking it on drop cannot unlock a neighbour's secret. `mlock` can fail: an unprivileged
//! user may lock only `RLIMIT_MEMLOCK` bytes (often 64 KiB or 8 MiB). The buffer is still used
//! then — it is zeroed on drop all the same — and [`LockedBytes::is_locked`] says so; the agent
//! reports the count of unlocked buffers in `agent status`. On Windows the pages come from
//! `VirtualAlloc` and are locked with `VirtualLock`.
use zeroize::Zeroize;

/// A fixed-length secret in its own locked pages.
pub struct LockedBytes {
    #[cfg(unix)]
    ptr: *mut u8,
    #[cfg(unix)]
    map_len: usize,
    #[cfg(windows)]
    ptr: *mut u8,
    #[cfg(windows)]
    map_len: usize,
    #[cfg(not(any(unix, windows)))]
    buf: zeroize::Zeroizing<Vec<u8>>,
    len: usize,
    locked: bool,
}

// SAFETY: the mapping is owned exclusively by this value (no aliasing pointers are handed out
// beyond borrows tied to `&self`/`&mut self`), so moving it to another thread is sound.
unsafe impl Send for LockedBytes {}

impl std::fmt::Debug for LockedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LockedBytes({} bytes, <redacted>)", self.len)
    }
}

impl LockedBytes {
    /// Copy `data` into fresh locked pages. `None` only when the pages cannot be mapped at all.
    #[cfg(unix)]
    pub fn new(data: &[u8]) -> Option<LockedBytes> {
        // SAFETY: sysconf has no preconditions.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            n if n > 0 => n as usize,
            _ => 4096,
        };
        let map_len = data.len().max(1).div_ceil(page) * page;
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANON,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        // SAFETY: `ptr` is a fresh mapping of `map_len` bytes owned by us.
        let locked = unsafe { libc::mlock(ptr, map_len) } == 0;
        #[cfg(target_os = "linux")]
        // SAFETY: advice on our own mapping; failure only means it may appear in a core dump,
        // which the agent also disables process-wide.
        unsafe {
            libc::madvise(ptr, map_len, libc::MADV_DONTDUMP);
        }
        let ptr = ptr.cast::<u8>();
        // SAFETY: `data.len() <= map_len` and the regions cannot overlap (fresh mapping).
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
        Some(LockedBytes {
            ptr,
            map_len,
            len: data.len(),
            locked,
        })
    }

    /// Windows: `VirtualAlloc`'d pages, locked into the working set with `VirtualLock` (which
    /// fails beyond the process's minimum working-set size; the buffer is used unlocked then).
    #[cfg(windows)]
    pub fn new(data: &[u8]) -> Option<LockedBytes> {
        use windows_sys::Win32::System::Memory::{
            VirtualAlloc, VirtualLock, MEM_COMMIT, MEM_RESERVE, PAGE_READWRITE,
        };
        let page = 4096;
        let map_len = data.len().max(1).div_ceil(page) * page;
        // SAFETY: a fresh committed allocation with no address hint; the result is checked.
        let ptr = unsafe {
            VirtualAlloc(
                std::ptr::null(),
                map_len,
                MEM_COMMIT | MEM_RESERVE,
                PAGE_READWRITE,
            )
        };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: locking our own fresh allocation.
        let locked = unsafe { VirtualLock(ptr, map_len) } != 0;
        let ptr = ptr.cast::<u8>();
        // SAFETY: `data.len() <= map_len` and the regions cannot overlap (fresh allocation).
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
        Some(LockedBytes {
            ptr,
            map_len,
            len: data.len(),
            locked,
        })
    }

    #[cfg(not(any(unix, windows)))]
    pub fn new(data: &[u8]) -> Option<LockedBytes> {
        Some(LockedBytes {
            buf: zeroize::Zeroizing::new(data.to_vec()),
            len: data.len(),
            locked: false,
        })
    }

    /// Whether the pages are locked against swap.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[cfg(any(unix, windows))]
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` points to `map_len >= len` bytes that live as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    #[cfg(not(any(unix, windows)))]
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..]
    }
}

impl Drop for LockedBytes {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // SAFETY: the whole mapping is ours and writable; `zeroize` uses volatile writes so
            // the compiler cannot drop the wipe of memory about to be unmapped.
            let all = unsafe { std::slice::from_raw_parts_mut(self.ptr, self.map_len) };
            all.zeroize();
            // SAFETY: unmapping our own mapping once; nothing refers to it after drop.
            unsafe {
                if self.locked {
                    libc::munlock(self.ptr.cast(), self.map_len);
                }
                libc::munmap(self.ptr.cast(), self.map_len);
            }
        }
        #[cfg(windows)]
        {
            use windows_sys::Win32::System::Memory::{VirtualFree, VirtualUnlock, MEM_RELEASE};
            // SAFETY: the whole allocation is ours and writable; volatile writes (zeroize).
            let all = unsafe { std::slice::from_raw_parts_mut(self.ptr, self.map_len) };
            all.zeroize();
            // SAFETY: releasing our own allocation once; nothing refers to it after drop.
            unsafe {
                if self.locked {
                    VirtualUnlock(self.ptr.cast(), self.map_len);
                }
                VirtualFree(self.ptr.cast(), 0, MEM_RELEASE);
            }
        }
        #[cfg(not(any(unix, windows)))]
        self.buf.zeroize();
    }
}

/// Make the current process's memory unreadable for other processes of the same user and keep
/// it out of core dumps: on Linux `PR_SET_DUMPABLE=0` (which also blocks `ptrace` and
/// `/proc/<pid>/mem` for non-root processes of the same user); everywhere a zero core size.
/// Best effort: returns the failures for `--debug`/`status`.
#[allow(unused_mut)]
pub fn harden_process() -> Vec<String> {
    let mut failures = Vec::new();
    #[cfg(unix)]
    {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: a valid rlimit value for our own process.
        if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } != 0 {
            failures.push(format!("RLIMIT_CORE: {}", std::io::Error::last_os_error()));
        }
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_DUMPABLE takes one integer argument.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            failures.push(format!(
                "PR_SET_DUMPABLE: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_and_reports() {
        let b = LockedBytes::new(b"secret bytes").unwrap();
        assert_eq!(b.as_slice(), b"secret bytes");
        assert_eq!(b.len(), 12);
        assert!(!format!("{b:?}").contains("secret"));
        let empty = LockedBytes::new(b"").unwrap();
        assert!(empty.is_empty());
        // Larger than a page.
        let big = vec![7u8; 10_000];
        assert_eq!(LockedBytes::new(&big).unwrap().as_slice(), &big[..]);
    }
}
