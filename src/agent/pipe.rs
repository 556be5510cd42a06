//! The agent's Windows transport: a named pipe that only its owner can open.
//!
//! Written against the Win32 API directly (windows-sys bindings): the crates that wrap named
//! pipes (tokio's, for one) take a raw security descriptor anyway and are asynchronous, while the
//! agent needs only blocking reads and writes on a handle and one owner-only access list.
//!
//! * The pipe's security descriptor is `O:<sid>D:P(A;;GA;;;<sid>)`: owned by the user, a
//!   protected access list (nothing inherited) with one entry that grants the user everything.
//!   Nobody else, not even an administrator's ordinary token, can open it.
//! * `FILE_FLAG_FIRST_PIPE_INSTANCE` on the first instance: if the name already exists (another
//!   agent, or someone squatting it) the agent refuses to start instead of sharing the name.
//! * `PIPE_REJECT_REMOTE_CLIENTS`: the pipe is not reachable over SMB.
//! * Each side checks the other's process user: the agent asks who the client is
//!   (`GetNamedPipeClientProcessId`), the client asks who serves the pipe
//!   (`GetNamedPipeServerProcessId`), and both compare that process token's user SID with their
//!   own, as `SO_PEERCRED` does for the Unix socket.
#![cfg(windows)]

use std::fs::File;
use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    CloseHandle, LocalFree, ERROR_PIPE_BUSY, ERROR_PIPE_CONNECTED, HANDLE, INVALID_HANDLE_VALUE,
    WAIT_OBJECT_0,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    EqualSid, GetTokenInformation, TokenUser, PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES,
    TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::Storage::FileSystem::{FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_ACCESS_DUPLEX};
use windows_sys::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, GetNamedPipeClientProcessId, GetNamedPipeServerProcessId,
    WaitNamedPipeW, PIPE_READMODE_BYTE, PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE,
    PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, WaitForSingleObject,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
};

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

fn owned(h: HANDLE) -> io::Result<OwnedHandle> {
    if h.is_null() || h == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh, valid handle that nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(h) })
}

/// The user SID of a process's token, as bytes (a SID is self-relative and position-free).
fn token_user(process: HANDLE) -> io::Result<Vec<u8>> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `process` is a valid process handle; `token` receives a new handle.
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let token = owned(token)?;
    let mut len = 0u32;
    // SAFETY: a size query: a null buffer of length 0 fails with the length needed.
    unsafe {
        GetTokenInformation(
            token.as_raw_handle(),
            TokenUser,
            std::ptr::null_mut(),
            0,
            &mut len,
        )
    };
    if len == 0 {
        return Err(io::Error::last_os_error());
    }
    // u64 storage keeps TOKEN_USER's pointer field aligned.
    let mut buf = vec![0u64; (len as usize).div_ceil(8)];
    // SAFETY: `buf` has room for `len` bytes.
    if unsafe {
        GetTokenInformation(
            token.as_raw_handle(),
            TokenUser,
            buf.as_mut_ptr().cast(),
            len,
            &mut len,
        )
    } == 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the buffer now starts with a TOKEN_USER whose SID points into the buffer.
    let sid = unsafe { (*(buf.as_ptr() as *const TOKEN_USER)).User.Sid };
    // SAFETY: `sid` is a valid SID inside `buf`; its length is 8 + 4 × sub-authority count.
    let count = unsafe { *(sid as *const u8).add(1) } as usize;
    // SAFETY: as above.
    Ok(unsafe { std::slice::from_raw_parts(sid as *const u8, 8 + 4 * count) }.to_vec())
}

/// This process's user SID.
pub fn my_sid() -> io::Result<Vec<u8>> {
    // SAFETY: the pseudo-handle of the current process needs no closing.
    token_user(unsafe { GetCurrentProcess() })
}

/// The user SID of process `pid`.
fn sid_of_process(pid: u32) -> io::Result<Vec<u8>> {
    // SAFETY: OpenProcess returns null on failure, checked by `owned`.
    let process = owned(unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) })?;
    token_user(process.as_raw_handle())
}

fn same_sid(a: &[u8], b: &[u8]) -> bool {
    // SAFETY: both are complete SIDs (checked lengths come from the token).
    a.len() == b.len() && unsafe { EqualSid(a.as_ptr() as _, b.as_ptr() as _) } != 0
}

/// The SID in its `S-1-5-21-…` form.
pub fn sid_string(sid: &[u8]) -> io::Result<String> {
    let mut out: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is a valid SID; `out` receives a LocalAlloc'd string freed below.
    if unsafe { ConvertSidToStringSidW(sid.as_ptr() as _, &mut out) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `out` is NUL-terminated UTF-16.
    let text = unsafe {
        let len = (0..).take_while(|&i| *out.add(i) != 0).count();
        String::from_utf16_lossy(std::slice::from_raw_parts(out, len))
    };
    // SAFETY: freeing the buffer ConvertSidToStringSidW allocated.
    unsafe { LocalFree(out.cast()) };
    Ok(text)
}

/// The pipe name for one backend of this user: `\\.\pipe\aws-vault-agent-<backend>-<SID>`. The
/// SID keeps two users' agents apart in the machine-wide pipe namespace.
pub fn pipe_name(backend: &str) -> String {
    let who = my_sid()
        .and_then(|s| sid_string(&s))
        .unwrap_or_else(|_| std::env::var("USERNAME").unwrap_or_default());
    format!(r"\\.\pipe\aws-vault-agent-{backend}-{who}")
}

/// An owner-only security descriptor, freed on drop.
struct Descriptor(PSECURITY_DESCRIPTOR);

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW.
        unsafe { LocalFree(self.0) };
    }
}

fn owner_only() -> io::Result<Descriptor> {
    let sid = sid_string(&my_sid()?)?;
    let sddl = wide(&format!("O:{sid}D:P(A;;GA;;;{sid})"));
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `sddl` is NUL-terminated; `sd` receives a LocalAlloc'd descriptor.
    if unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.as_ptr(),
            SDDL_REVISION_1,
            &mut sd,
            std::ptr::null_mut(),
        )
    } == 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(Descriptor(sd))
}

/// One instance of the agent's pipe, waiting for a client. The first instance must be new
/// (`first`), so a name someone else already holds is an error, not a shared pipe.
pub fn create(name: &str, first: bool) -> io::Result<OwnedHandle> {
    let sd = owner_only()?;
    let attrs = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: sd.0,
        bInheritHandle: 0,
    };
    let open_mode = PIPE_ACCESS_DUPLEX
        | if first {
            FILE_FLAG_FIRST_PIPE_INSTANCE
        } else {
            0
        };
    let wname = wide(name);
    // SAFETY: every pointer is valid for the call; the result is checked.
    let h = unsafe {
        CreateNamedPipeW(
            wname.as_ptr(),
            open_mode,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
            PIPE_UNLIMITED_INSTANCES,
            64 * 1024,
            64 * 1024,
            0,
            &attrs,
        )
    };
    owned(h)
}

/// Wait for a client on a fresh instance; then who it is (its pid), checked to be this user.
pub fn accept(pipe: &OwnedHandle, me: &[u8]) -> io::Result<Result<u32, String>> {
    // SAFETY: a valid pipe handle; blocking (no OVERLAPPED).
    if unsafe { ConnectNamedPipe(pipe.as_raw_handle(), std::ptr::null_mut()) } == 0 {
        let e = io::Error::last_os_error();
        // A client that connected between create and connect is connected all the same.
        if e.raw_os_error() != Some(ERROR_PIPE_CONNECTED as i32) {
            return Err(e);
        }
    }
    let mut pid = 0u32;
    // SAFETY: a connected pipe handle and a valid out-pointer.
    if unsafe { GetNamedPipeClientProcessId(pipe.as_raw_handle(), &mut pid) } == 0 {
        return Ok(Err(format!(
            "cannot tell who connected: {}",
            io::Error::last_os_error()
        )));
    }
    Ok(match sid_of_process(pid) {
        Ok(sid) if same_sid(&sid, me) => Ok(pid),
        Ok(sid) => Err(format!(
            "permission denied: the agent serves its own user only, not {}",
            sid_string(&sid).unwrap_or_default()
        )),
        Err(e) => Err(format!("cannot tell who connected: {e}")),
    })
}

/// What opening the pipe found.
pub enum Dialed {
    /// No such pipe: no agent.
    Absent,
    Open(File),
    Refused(String),
}

/// Open the agent's pipe as a client and check that the process serving it runs as this user.
pub fn dial(name: &str) -> Dialed {
    let mut tries = 0;
    let file = loop {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name)
        {
            Ok(f) => break f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Dialed::Absent,
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32) && tries < 20 => {
                // Every instance is busy for a moment: wait for the next one.
                tries += 1;
                let wname = wide(name);
                // SAFETY: a NUL-terminated name.
                unsafe { WaitNamedPipeW(wname.as_ptr(), 500) };
            }
            Err(e) => return Dialed::Refused(e.to_string()),
        }
    };
    let mut pid = 0u32;
    // SAFETY: an open pipe client handle and a valid out-pointer.
    if unsafe { GetNamedPipeServerProcessId(file.as_raw_handle(), &mut pid) } == 0 {
        return Dialed::Refused(format!(
            "cannot check who serves the pipe: {}",
            io::Error::last_os_error()
        ));
    }
    match (sid_of_process(pid), my_sid()) {
        (Ok(theirs), Ok(mine)) if same_sid(&theirs, &mine) => Dialed::Open(file),
        (Ok(theirs), Ok(_)) => Dialed::Refused(format!(
            "the pipe is served by {} (pid {pid}), not by you",
            sid_string(&theirs).unwrap_or_default()
        )),
        (Err(e), _) | (_, Err(e)) => {
            Dialed::Refused(format!("cannot check who serves the pipe: {e}"))
        }
    }
}

/// Wait until process `pid` has exited, at most `timeout`.
pub fn wait_exit(pid: u32, timeout: Duration) {
    // SAFETY: OpenProcess returns null on failure (then it is gone or not ours to wait for).
    let h = unsafe { OpenProcess(PROCESS_SYNCHRONIZE, 0, pid) };
    if h.is_null() {
        return;
    }
    // SAFETY: a valid process handle, closed right after.
    unsafe {
        let _ = WaitForSingleObject(h, timeout.as_millis().min(u32::MAX as u128) as u32)
            == WAIT_OBJECT_0;
        CloseHandle(h);
    }
}

/// Close this process's standard output, so whoever reads its other end sees the end of the
/// stream (how `agent serve` tells `agent start` that it is up).
pub fn close_stdout() {
    use windows_sys::Win32::System::Console::{GetStdHandle, SetStdHandle, STD_OUTPUT_HANDLE};
    // SAFETY: the standard output handle is ours; it is replaced by null before closing so
    // nothing writes to a closed handle.
    unsafe {
        let h = GetStdHandle(STD_OUTPUT_HANDLE);
        SetStdHandle(STD_OUTPUT_HANDLE, std::ptr::null_mut());
        if !h.is_null() && h != INVALID_HANDLE_VALUE {
            CloseHandle(h);
        }
    }
}
