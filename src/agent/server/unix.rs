//! The agent on Unix: start (unlock, bind, fork or spawn, detach), the `poll` loop over a Unix
//! socket, the clean-up. What it answers is [`super::Agent`]'s business.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use zeroize::Zeroize;

use super::{Agent, Reply, Session, StartOptions, Started};
use crate::agent::client::{self, Probe};
use crate::agent::protocol::{self as proto, Message};
use crate::agent::secmem;
use crate::keyring::{self, Keyring};

/// At most this many connections are served at once; more are accepted and closed.
const MAX_CLIENTS: usize = 256;
/// A client that has started a frame must finish it within this time.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// Create (0700) or check the runtime directory: it must be a directory of ours that no one
/// else can enter, or the socket's permissions would mean nothing.
pub fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Err(e) => return Err(e).with_context(|| format!("cannot use {}", dir.display())),
        Ok(_) => {}
    }
    let m = std::fs::symlink_metadata(dir).with_context(|| format!("{}", dir.display()))?;
    if !m.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    if m.uid() != crate::agent::current_uid() {
        bail!(
            "{} belongs to uid {}, not to you: refusing to put the agent socket there",
            dir.display(),
            m.uid()
        );
    }
    if m.mode() & 0o077 != 0 {
        bail!(
            "{} can be entered by other users (mode {:o}): chmod 700 it",
            dir.display(),
            m.mode() & 0o777
        );
    }
    Ok(())
}

/// Start an agent for the selected backend and return once it serves (the caller exits then).
pub fn start(mut opts: StartOptions) -> anyhow::Result<Started> {
    let (name, opened) = keyring::open_named(&opts.cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    let identity = crate::agent::identity(&opts.cfg, &opts.env, name);
    let socket = crate::agent::socket_path(&opts.env, name);
    let dir = socket.parent().unwrap_or(Path::new("/")).to_path_buf();
    ensure_private_dir(&dir)?;

    let replaced = match client::probe(&socket) {
        Probe::Absent => None,
        Probe::Stale => {
            remove_socket_file(&socket)?;
            Some("a stale socket left by an agent that is gone".to_string())
        }
        Probe::Running(hello) if hello.state == "locked" => {
            client::stop(&socket).map_err(|e| anyhow::anyhow!("{e}"))?;
            let _ = remove_socket_file(&socket);
            Some(format!("the locked agent (pid {})", hello.pid))
        }
        Probe::Running(hello) => bail!(
            "an agent for the {name} backend is already running (pid {}); `aws-vault agent stop` first",
            hello.pid
        ),
        Probe::Refused(why) => bail!("{}: {why}", socket.display()),
    };

    // Ask for what the backend needs while there is still a terminal. Backends whose state
    // survives `fork` (a passphrase in memory, a subprocess per call) are kept and the agent is
    // a forked copy of this process. The D-Bus and platform backends run helper threads (and
    // cache a bus connection per process) that a fork does not copy, and need nothing from the
    // terminal: for them the agent is a fresh `aws-vault agent serve` process.
    let keep: Box<dyn Keyring> = match name {
        "file" => {
            // A fresh instance of our own (the boxed one cannot be unlocked through the trait);
            // the other is dropped here, before the fork, with its copy of the passphrase.
            drop(opened);
            let file = keyring::file::FileKeyring::new(&opts.cfg);
            file.unlock().map_err(|e| anyhow::anyhow!("{e}"))?;
            Box::new(file)
        }
        "pass" | "passage" => {
            // One read makes gpg-agent (or age) ask for its passphrase now, on this terminal.
            if let Some(first) = opened.keys().map_err(|e| anyhow::anyhow!("{e}"))?.first() {
                match opened.get(first) {
                    Ok(_) | Err(keyring::Error::NotFound) => {}
                    Err(e) => return Err(anyhow::anyhow!("{e}")),
                }
            }
            opened
        }
        _ => {
            drop(opened);
            let pid = spawn_server(&opts, name)?;
            return Ok(Started {
                pid,
                backend: name,
                socket,
                replaced,
            });
        }
    };
    // The backend has its own copy; nothing else in this process needs the passphrase.
    opts.cfg.file_passphrase = None;
    if let Some(p) = opts.env.get_mut("AWS_VAULT_FILE_PASSPHRASE") {
        p.zeroize();
    }
    opts.env.remove("AWS_VAULT_FILE_PASSPHRASE");

    let listener = bind(&socket)?;
    let (ready_r, ready_w) = pipe()?;

    // SAFETY: this process runs no other thread at this point (the file and pass backends start
    // none), so the child is a complete copy.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()).context("cannot start the agent process"),
        0 => {
            drop(ready_r);
            let code = child(opts, name, identity, keep, listener, &socket, ready_w);
            std::process::exit(code)
        }
        pid => {
            drop(ready_w);
            drop(listener);
            let mut answer = String::new();
            let mut file = std::fs::File::from(ready_r);
            let _ = io::Read::read_to_string(&mut file, &mut answer);
            match answer.strip_prefix("ok") {
                Some(_) => Ok(Started {
                    pid: pid as u32,
                    backend: name,
                    socket,
                    replaced,
                }),
                None => {
                    // SAFETY: reaping our own child.
                    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
                    let why = answer.trim();
                    bail!(
                        "the agent did not start: {}",
                        if why.is_empty() { "it exited" } else { why }
                    )
                }
            }
        }
    }
}

fn pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe() writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error()).context("pipe");
    }
    // SAFETY: both descriptors are fresh and owned from here on.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Remove a socket file left behind; refuse to remove anything that is not a socket.
fn remove_socket_file(path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale socket {}", path.display())),
        Ok(_) => bail!("{} exists and is not a socket", path.display()),
        Err(_) => Ok(()),
    }
}

/// Bind with a umask that makes the socket 0600 from the start (no window where it is wider),
/// then set the mode explicitly as well.
fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    // SAFETY: umask only changes this process's file creation mask; restored right after.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener = bound.with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("{}", path.display()))?;
    Ok(listener)
}

/// Overwrite `AWS_VAULT_FILE_PASSPHRASE` in the process's own environment block (the strings the
/// kernel placed on the stack at exec, which `remove_var` would unlink but leave readable).
fn scrub_environ() {
    extern "C" {
        static mut environ: *mut *mut libc::c_char;
    }
    const NAME: &[u8] = b"AWS_VAULT_FILE_PASSPHRASE=";
    // SAFETY: single-threaded (just forked); `environ` is a NULL-terminated array of
    // NUL-terminated, writable strings; only bytes before each terminator are written.
    unsafe {
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            let s = *p;
            let len = libc::strlen(s);
            let bytes = std::slice::from_raw_parts_mut(s.cast::<u8>(), len);
            if bytes.starts_with(NAME) {
                bytes[NAME.len()..].zeroize();
            }
            p = p.add(1);
        }
    }
    std::env::remove_var("AWS_VAULT_FILE_PASSPHRASE");
}

/// The forked agent: detach, finish opening the backend, tell the parent, serve, exit code.
fn child(
    opts: StartOptions,
    name: &'static str,
    identity: String,
    backend: Box<dyn Keyring>,
    listener: UnixListener,
    socket: &Path,
    ready: OwnedFd,
) -> i32 {
    let ready = std::fs::File::from(ready);
    // SAFETY: setsid has no preconditions; a forked child is never a group leader.
    unsafe { libc::setsid() };
    close_inherited(&[listener.as_raw_fd(), ready.as_raw_fd()]);
    scrub_environ();
    let hardening = secmem::harden_process();
    let agent = Agent::new(name, identity, backend, &opts, hardening);
    drop(opts);
    run(agent, &listener, socket, ready)
}

/// Start `aws-vault agent serve` for a backend that cannot live through a fork (see
/// [`super::serve_command`]); it has no terminal and needs none.
fn spawn_server(opts: &StartOptions, name: &str) -> anyhow::Result<u32> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let mut cmd = super::serve_command(opts, name)?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches only the new process.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd.spawn().context("cannot start the agent process")?;
    super::await_ready(child)
}

/// `aws-vault agent serve`: the agent process [`spawn_server`] starts. Opens the backend named
/// in `opts`, binds, answers `ok` on stdout, serves; returns the exit code.
pub fn serve(opts: StartOptions) -> i32 {
    let mut out = io::stdout();
    let hardening = secmem::harden_process();
    let result = (|| -> anyhow::Result<_> {
        let (name, backend) = keyring::open_named(&opts.cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
        let identity = crate::agent::identity(&opts.cfg, &opts.env, name);
        let socket = crate::agent::socket_path(&opts.env, name);
        ensure_private_dir(socket.parent().unwrap_or(Path::new("/")))?;
        let _ = remove_socket_file(&socket);
        let listener = bind(&socket)?;
        let agent = Agent::new(name, identity, backend, &opts, hardening);
        Ok((agent, listener, socket))
    })();
    match result {
        Ok((agent, listener, socket)) => {
            drop(opts);
            run(agent, &listener, &socket, out)
        }
        Err(e) => {
            let _ = io::Write::write_all(&mut out, format!("{e:#}\n").as_bytes());
            1
        }
    }
}

/// Tell the starter the agent is up, detach, serve until stopped, wipe, clean up.
fn run(mut agent: Agent, listener: &UnixListener, socket: &Path, mut ready: impl io::Write) -> i32 {
    let bound = std::fs::symlink_metadata(socket).ok().map(|m| m.ino());
    let _ = ready.write_all(b"ok");
    let _ = ready.flush();
    // Closing the pipe is what tells the starter to return.
    drop(ready);
    detach_stdio();
    let result = serve_loop(&mut agent, listener);
    agent.wipe("stopped");
    // Remove the socket only if it is still the one we bound (a newer agent may own the name).
    if bound.is_some() && std::fs::symlink_metadata(socket).ok().map(|m| m.ino()) == bound {
        let _ = std::fs::remove_file(socket);
    }
    match result {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// Close every descriptor above stderr that the agent did not open itself (pipes of whoever
/// started `agent start` would otherwise stay open for the agent's whole life, and a caller
/// waiting for their end would wait with it).
fn close_inherited(keep: &[libc::c_int]) {
    let fds: Vec<libc::c_int> =
        match std::fs::read_dir("/proc/self/fd").or_else(|_| std::fs::read_dir("/dev/fd")) {
            Ok(dir) => dir
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect(),
            Err(_) => (3..256).collect(),
        };
    for fd in fds {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: in the freshly forked child nothing else refers to these descriptors
            // (the directory handle used for the listing is already closed, EBADF is harmless).
            unsafe { libc::close(fd) };
        }
    }
}

/// Point stdin, stdout and stderr at /dev/null and leave the working directory, so the agent
/// holds no terminal and no mount busy.
fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: duplicating a valid descriptor onto the standard ones.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    let _ = std::env::set_current_dir("/");
}

struct Client {
    stream: UnixStream,
    session: Session,
}

enum Next {
    Continue,
    Close,
    Stop,
}

/// Serve until stopped: the listening socket, a signal pipe and the clients, in one `poll`.
fn serve_loop(agent: &mut Agent, listener: &UnixListener) -> io::Result<()> {
    let (sig_r, sig_w) = UnixStream::pair()?;
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        signal_hook::low_level::pipe::register(sig, sig_w.try_clone()?)?;
    }
    // SAFETY: ignoring SIGPIPE so a client that hangs up makes `write` fail instead.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let mut clients: Vec<Client> = Vec::new();
    loop {
        let timeout = match agent.tick() {
            Err(()) => return Ok(()),
            Ok(None) => -1,
            Ok(Some(d)) => d.as_millis().clamp(1, i32::MAX as u128) as i32,
        };
        let mut fds: Vec<libc::pollfd> = [listener.as_raw_fd(), sig_r.as_raw_fd()]
            .into_iter()
            .chain(clients.iter().map(|c| c.stream.as_raw_fd()))
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fds[1].revents != 0 {
            return Ok(());
        }
        // Clients first (in reverse, so removing one keeps the indexes of the rest).
        for i in (0..clients.len()).rev() {
            if fds[i + 2].revents == 0 {
                continue;
            }
            match handle(agent, &mut clients[i]) {
                Next::Continue => {}
                Next::Close => {
                    clients.swap_remove(i);
                }
                Next::Stop => return Ok(()),
            }
        }
        if fds[0].revents != 0 {
            if let Ok((stream, _)) = listener.accept() {
                admit(stream, &mut clients);
            }
        }
    }
}

/// Check who connected; only the agent's own user is served.
fn admit(mut stream: UnixStream, clients: &mut Vec<Client>) {
    let _ = stream.set_read_timeout(Some(FRAME_TIMEOUT));
    let _ = stream.set_write_timeout(Some(FRAME_TIMEOUT));
    let me = crate::agent::current_uid();
    let pid = match crate::agent::peer(&stream) {
        Ok((uid, pid)) if uid == me => pid,
        Ok((uid, _)) => {
            let m = Message::new(proto::ERROR).with(format!(
                "permission denied: the agent serves uid {me} only, not uid {uid}"
            ));
            let _ = proto::write_message(&mut stream, &m);
            return;
        }
        Err(_) => return,
    };
    if clients.len() >= MAX_CLIENTS {
        let m = Message::new(proto::ERROR).with("too many connections");
        let _ = proto::write_message(&mut stream, &m);
        return;
    }
    clients.push(Client {
        stream,
        session: Session::new(pid),
    });
}

/// Read and answer one request.
fn handle(agent: &mut Agent, c: &mut Client) -> Next {
    let req = match proto::read_message(&mut c.stream) {
        Ok(Some(m)) => m,
        Ok(None) | Err(_) => return Next::Close,
    };
    match agent.answer(&mut c.session, &req) {
        Reply::Send(m) => write_or_close(&mut c.stream, &m),
        Reply::Item(json) => match proto::write_ok_payload(&mut c.stream, json) {
            Ok(()) => Next::Continue,
            Err(_) => Next::Close,
        },
        Reply::Close(m) => {
            let _ = proto::write_message(&mut c.stream, &m);
            Next::Close
        }
        Reply::Stop => {
            let _ = proto::write_message(&mut c.stream, &Message::new(proto::OK));
            Next::Stop
        }
    }
}

fn write_or_close(stream: &mut UnixStream, m: &Message) -> Next {
    match proto::write_message(stream, m) {
        Ok(()) => Next::Continue,
        Err(_) => Next::Close,
    }
}
