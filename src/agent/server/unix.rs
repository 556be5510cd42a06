//! The agent process: start (unlock, bind, detach), the request loop, the wipe.
//!
//! One thread and one `poll` loop over the listening socket, a signal pipe and the open client
//! connections. Single-threaded on purpose: the backends are not all `Send`, the requests are
//! microseconds long when served from memory, and nothing the agent holds is ever shared between
//! threads. A request that has to reach the backend (a first read, a write) blocks the others for
//! its duration, which is the price of the simplicity.
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use zeroize::Zeroize;

use super::client::{self, Probe};
use super::protocol::{self as proto, Message};
use super::secmem::{self, LockedBytes};
use super::Limits;
use crate::config::Env;
use crate::keyring::{self, Item, Keyring};

/// At most this many connections are served at once; more are accepted and closed.
const MAX_CLIENTS: usize = 256;
/// A client that has started a frame must finish it within this time.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// What `agent start` needs.
pub struct StartOptions {
    /// The keyring settings, with the passphrase when `AWS_VAULT_FILE_PASSPHRASE` is set.
    pub cfg: keyring::Config,
    pub env: Env,
    pub limits: Limits,
}

/// What `agent start` reports.
#[derive(Debug)]
pub struct Started {
    pub pid: u32,
    pub backend: &'static str,
    pub socket: PathBuf,
    /// The agent that was replaced (a stale socket or a locked agent), for the message.
    pub replaced: Option<String>,
}

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
    if m.uid() != super::current_uid() {
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
    let identity = super::identity(&opts.cfg, &opts.env, name);
    let socket = super::socket_path(&opts.env, name);
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
    let file_dir = (name == "file").then(|| {
        keyring::file::FileKeyring::new(&opts.cfg)
            .dir()
            .to_path_buf()
    });
    let limits = opts.limits;
    drop(opts);
    run(
        Agent::new(name, identity, backend, file_dir, limits, hardening),
        &listener,
        socket,
        ready,
    )
}

/// Start `aws-vault agent serve` for a backend that cannot live through a fork. Its settings
/// travel as the environment variables the flags stand for; it has no terminal and needs none.
fn spawn_server(opts: &StartOptions, name: &str) -> anyhow::Result<u32> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().context("cannot find the aws-vault executable")?;
    let secs = |d: Option<Duration>| d.map(|d| format!("{}s", d.as_secs())).unwrap_or("0".into());
    let mut cmd = Command::new(exe);
    cmd.args(["agent", "serve"])
        .arg(format!("--idle-timeout={}", secs(opts.limits.idle)))
        .arg(format!("--max-lifetime={}", secs(opts.limits.max_lifetime)))
        .env("AWS_VAULT_BACKEND", name)
        .env_remove("AWS_VAULT_FILE_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let cfg = &opts.cfg;
    let mut set = |var: &str, value: Option<&str>| {
        match value {
            Some(v) => cmd.env(var, v),
            None => cmd.env_remove(var),
        };
    };
    set("AWS_VAULT_FILE_DIR", cfg.file_dir.as_deref());
    set("AWS_VAULT_KEYCHAIN_NAME", Some(&cfg.keychain_name));
    set(
        "AWS_VAULT_SECRET_SERVICE_COLLECTION_NAME",
        Some(&cfg.secret_service_collection),
    );
    set("AWS_VAULT_PASS_PASSWORD_STORE_DIR", cfg.pass_dir.as_deref());
    set("AWS_VAULT_PASS_CMD", cfg.pass_cmd.as_deref());
    set("AWS_VAULT_PASS_PREFIX", cfg.pass_prefix.as_deref());
    set("AWS_VAULT_OP_VAULT_ID", cfg.op.vault_id.as_deref());
    set("AWS_VAULT_OP_CONNECT_HOST", cfg.op.connect_host.as_deref());
    set("AWS_VAULT_OP_ITEM_TITLE_PREFIX", Some(&cfg.op.title_prefix));
    set("AWS_VAULT_OP_ITEM_TAG", Some(&cfg.op.tag));
    set(
        "AWS_VAULT_OP_DESKTOP_ACCOUNT_ID",
        cfg.op.desktop_account_id.as_deref(),
    );
    set(
        "AWS_VAULT_BIOMETRICS",
        Some(if cfg.biometrics { "true" } else { "false" }),
    );
    // SAFETY: setsid is async-signal-safe and touches only the new process.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("cannot start the agent process")?;
    let mut answer = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = io::Read::read_to_string(&mut out, &mut answer);
    }
    if answer.starts_with("ok") {
        return Ok(child.id());
    }
    let _ = child.wait();
    let why = answer.trim();
    bail!(
        "the agent did not start: {}",
        if why.is_empty() { "it exited" } else { why }
    )
}

/// `aws-vault agent serve`: the agent process [`spawn_server`] starts. Opens the backend named
/// in `opts`, binds, answers `ok` on stdout, serves; returns the exit code.
pub fn serve(opts: StartOptions) -> i32 {
    let mut out = io::stdout();
    let hardening = secmem::harden_process();
    let result = (|| -> anyhow::Result<_> {
        let (name, backend) = keyring::open_named(&opts.cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
        let identity = super::identity(&opts.cfg, &opts.env, name);
        let socket = super::socket_path(&opts.env, name);
        ensure_private_dir(socket.parent().unwrap_or(Path::new("/")))?;
        let _ = remove_socket_file(&socket);
        let listener = bind(&socket)?;
        let file_dir = (name == "file").then(|| {
            keyring::file::FileKeyring::new(&opts.cfg)
                .dir()
                .to_path_buf()
        });
        let agent = Agent::new(name, identity, backend, file_dir, opts.limits, hardening);
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
    let result = agent.serve(listener);
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

impl Agent {
    fn new(
        backend: &'static str,
        identity: String,
        keyring: Box<dyn Keyring>,
        file_dir: Option<PathBuf>,
        limits: Limits,
        hardening: Vec<String>,
    ) -> Agent {
        Agent {
            backend,
            identity,
            keyring: Some(keyring),
            cache: HashMap::new(),
            file_dir,
            started: Instant::now(),
            started_unix: jiff::Timestamp::now().as_second(),
            last_use: Instant::now(),
            limits,
            locked_reason: None,
            unlocked_buffers: 0,
            hardening,
        }
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

/// One decrypted item, with what the backend's copy looked like when it was read.
struct Entry {
    json: LockedBytes,
    stamp: Option<Stamp>,
}

/// Enough of a file's metadata to notice that another process (the Go tool, or aws-vault with
/// `AWS_VAULT_AGENT=off`) rewrote or removed it.
#[derive(PartialEq, Eq, Clone, Copy)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_ns: i64,
    ctime: i64,
    ctime_ns: i64,
}

struct Agent {
    backend: &'static str,
    identity: String,
    /// `None` once wiped: the agent is locked and serves nothing.
    keyring: Option<Box<dyn Keyring>>,
    cache: HashMap<String, Entry>,
    /// The file backend's directory, for the freshness check of cached items.
    file_dir: Option<PathBuf>,
    started: Instant,
    started_unix: i64,
    last_use: Instant,
    limits: Limits,
    locked_reason: Option<&'static str>,
    /// Cached items whose pages could not be locked (RLIMIT_MEMLOCK).
    unlocked_buffers: usize,
    hardening: Vec<String>,
}

struct Client {
    stream: UnixStream,
    greeted: bool,
}

enum Next {
    Continue,
    Close,
    Stop,
}

impl Agent {
    /// Drop every decrypted item and the backend (with the file passphrase it holds); each
    /// buffer zeroes itself on drop.
    fn wipe(&mut self, reason: &'static str) {
        self.cache.clear();
        self.cache.shrink_to_fit();
        self.keyring = None;
        self.unlocked_buffers = 0;
        if self.locked_reason.is_none() {
            self.locked_reason = Some(reason);
        }
    }

    fn state(&self) -> &'static str {
        if self.keyring.is_some() {
            "ready"
        } else {
            "locked"
        }
    }

    fn idle_deadline(&self) -> Option<Instant> {
        self.keyring.as_ref()?;
        self.limits.idle.map(|d| self.last_use + d)
    }

    fn end_deadline(&self) -> Option<Instant> {
        self.limits.max_lifetime.map(|d| self.started + d)
    }

    fn serve(&mut self, listener: &UnixListener) -> io::Result<()> {
        let (sig_r, sig_w) = UnixStream::pair()?;
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            signal_hook::low_level::pipe::register(sig, sig_w.try_clone()?)?;
        }
        // SAFETY: ignoring SIGPIPE so a client that hangs up makes `write` fail instead.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let mut clients: Vec<Client> = Vec::new();
        loop {
            let now = Instant::now();
            if self.end_deadline().is_some_and(|d| now >= d) {
                return Ok(());
            }
            if self.idle_deadline().is_some_and(|d| now >= d) {
                self.wipe("idle timeout");
            }
            let next = [self.idle_deadline(), self.end_deadline()]
                .into_iter()
                .flatten()
                .min();
            let timeout = match next {
                None => -1,
                Some(d) => d
                    .saturating_duration_since(now)
                    .as_millis()
                    .clamp(1, i32::MAX as u128) as i32,
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
                let revents = fds[i + 2].revents;
                if revents == 0 {
                    continue;
                }
                match self.handle(&mut clients[i]) {
                    Next::Continue => {}
                    Next::Close => {
                        clients.swap_remove(i);
                    }
                    Next::Stop => return Ok(()),
                }
            }
            if fds[0].revents != 0 {
                if let Ok((stream, _)) = listener.accept() {
                    self.admit(stream, &mut clients);
                }
            }
        }
    }

    /// Check who connected; only the agent's own user is served.
    fn admit(&mut self, mut stream: UnixStream, clients: &mut Vec<Client>) {
        let _ = stream.set_read_timeout(Some(FRAME_TIMEOUT));
        let _ = stream.set_write_timeout(Some(FRAME_TIMEOUT));
        let me = super::current_uid();
        match super::peer_uid(&stream) {
            Ok(uid) if uid == me => {}
            Ok(uid) => {
                let m = Message::new(proto::ERROR).with(format!(
                    "permission denied: the agent serves uid {me} only, not uid {uid}"
                ));
                let _ = proto::write_message(&mut stream, &m);
                return;
            }
            Err(_) => return,
        }
        if clients.len() >= MAX_CLIENTS {
            let m = Message::new(proto::ERROR).with("too many connections");
            let _ = proto::write_message(&mut stream, &m);
            return;
        }
        clients.push(Client {
            stream,
            greeted: false,
        });
    }

    /// Read and answer one request.
    fn handle(&mut self, c: &mut Client) -> Next {
        let req = match proto::read_message(&mut c.stream) {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => return Next::Close,
        };
        if !c.greeted {
            if req.tag != proto::HELLO {
                let m = Message::new(proto::ERROR).with("the first request must be hello");
                let _ = proto::write_message(&mut c.stream, &m);
                return Next::Close;
            }
            let version = req.text(0);
            if version != proto::VERSION.to_string() {
                let m = Message::new(proto::ERROR).with(format!(
                    "protocol version {version} is not supported (this agent speaks {})",
                    proto::VERSION
                ));
                let _ = proto::write_message(&mut c.stream, &m);
                return Next::Close;
            }
            c.greeted = true;
            let m = Message::new(proto::OK)
                .with(proto::VERSION.to_string())
                .with(self.backend)
                .with(&self.identity)
                .with(std::process::id().to_string())
                .with(self.state());
            return write_or_close(&mut c.stream, &m);
        }
        match req.tag {
            proto::STATUS => {
                let m = self.status();
                write_or_close(&mut c.stream, &m)
            }
            proto::STOP => {
                let _ = proto::write_message(&mut c.stream, &Message::new(proto::OK));
                Next::Stop
            }
            proto::GET | proto::SET | proto::REMOVE | proto::KEYS | proto::RETAIN => {
                if self.keyring.is_none() {
                    let m = Message::new(proto::ERROR).with(format!(
                        "the agent is locked ({}): run `aws-vault agent start` again",
                        self.locked_reason.unwrap_or("wiped")
                    ));
                    return write_or_close(&mut c.stream, &m);
                }
                self.last_use = Instant::now();
                if req.tag == proto::GET {
                    return self.get(c, &req.text(0));
                }
                let m = self.item_request(&req);
                write_or_close(&mut c.stream, &m)
            }
            _ => {
                let m = Message::new(proto::ERROR).with("unknown request");
                write_or_close(&mut c.stream, &m)
            }
        }
    }

    fn stamp(&self, key: &str) -> Option<Stamp> {
        let dir = self.file_dir.as_ref()?;
        let m = std::fs::metadata(dir.join(keyring::file::encode_file_name(key))).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: m.mtime(),
            mtime_ns: m.mtime_nsec(),
            ctime: m.ctime(),
            ctime_ns: m.ctime_nsec(),
        })
    }

    /// The hot path: a cached item is written straight from its locked pages.
    fn get(&mut self, c: &mut Client, key: &str) -> Next {
        // The stamp is taken before reading, so a change racing with the read is seen next time.
        let stamp = self.stamp(key);
        if let Some(e) = self.cache.get(key) {
            if self.file_dir.is_none() || (stamp.is_some() && e.stamp == stamp) {
                return match proto::write_ok_payload(&mut c.stream, e.json.as_slice()) {
                    Ok(()) => Next::Continue,
                    Err(_) => Next::Close,
                };
            }
        }
        self.cache.remove(key);
        let Some(kr) = self.keyring.as_ref() else {
            return Next::Close;
        };
        match kr.get(key) {
            Ok(item) => {
                let json = item.to_json();
                drop(item);
                let next = match proto::write_ok_payload(&mut c.stream, &json) {
                    Ok(()) => Next::Continue,
                    Err(_) => Next::Close,
                };
                self.remember(key, &json, stamp);
                next
            }
            Err(e) => write_or_close(&mut c.stream, &Message::from_error(&e)),
        }
    }

    fn remember(&mut self, key: &str, json: &[u8], stamp: Option<Stamp>) {
        if self.file_dir.is_some() && stamp.is_none() {
            return;
        }
        if let Some(json) = LockedBytes::new(json) {
            if !json.is_locked() {
                self.unlocked_buffers += 1;
            }
            if let Some(old) = self.cache.insert(key.to_string(), Entry { json, stamp }) {
                if !old.json.is_locked() {
                    self.unlocked_buffers = self.unlocked_buffers.saturating_sub(1);
                }
            }
        }
    }

    fn forget(&mut self, key: &str) {
        if let Some(old) = self.cache.remove(key) {
            if !old.json.is_locked() {
                self.unlocked_buffers = self.unlocked_buffers.saturating_sub(1);
            }
        }
    }

    /// Writes and listings go to the backend; the cache follows what was written.
    fn item_request(&mut self, req: &Message) -> Message {
        let Some(kr) = self.keyring.as_ref() else {
            return Message::new(proto::ERROR).with("the agent is locked");
        };
        match req.tag {
            proto::SET => {
                let Some(json) = req.fields.first() else {
                    return Message::new(proto::ERROR).with("set: no item");
                };
                let item = match Item::from_json(json) {
                    Ok(i) => i,
                    Err(e) => return Message::new(proto::ERROR).with(e),
                };
                let key = item.key.clone();
                match kr.set(&item) {
                    Ok(()) => {
                        let json = item.to_json();
                        let stamp = self.stamp(&key);
                        self.forget(&key);
                        self.remember(&key, &json, stamp);
                        Message::new(proto::OK)
                    }
                    Err(e) => {
                        self.forget(&key);
                        Message::from_error(&e)
                    }
                }
            }
            proto::REMOVE => {
                let key = req.text(0);
                let result = kr.remove(&key);
                self.forget(&key);
                match result {
                    Ok(()) => Message::new(proto::OK),
                    Err(e) => Message::from_error(&e),
                }
            }
            proto::KEYS => match kr.keys() {
                Ok(keys) => keys.iter().fold(Message::new(proto::OK), |m, k| m.with(k)),
                Err(e) => Message::from_error(&e),
            },
            _ => {
                let keys: Vec<String> = (0..req.fields.len()).map(|i| req.text(i)).collect();
                match kr.retain_own(keys) {
                    Ok(keys) => keys.iter().fold(Message::new(proto::OK), |m, k| m.with(k)),
                    Err(e) => Message::from_error(&e),
                }
            }
        }
    }

    /// `name=value` fields; durations in whole seconds, absent when unlimited.
    fn status(&self) -> Message {
        let now = Instant::now();
        let left = |d: Option<Instant>| {
            d.map(|d| d.saturating_duration_since(now).as_secs().to_string())
                .unwrap_or_default()
        };
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs().to_string()).unwrap_or_default();
        let fields = [
            ("backend", self.backend.to_string()),
            ("identity", self.identity.clone()),
            ("pid", std::process::id().to_string()),
            ("state", self.state().to_string()),
            (
                "locked_reason",
                self.locked_reason.unwrap_or_default().to_string(),
            ),
            ("started", self.started_unix.to_string()),
            ("idle_timeout", secs(self.limits.idle)),
            ("idle_left", left(self.idle_deadline())),
            ("max_lifetime", secs(self.limits.max_lifetime)),
            ("lifetime_left", left(self.end_deadline())),
            ("items", self.cache.len().to_string()),
            ("unlocked_items", self.unlocked_buffers.to_string()),
            ("hardening_failures", self.hardening.join("; ")),
        ];
        fields.iter().fold(Message::new(proto::OK), |m, (k, v)| {
            m.with(format!("{k}={v}"))
        })
    }
}

fn write_or_close(stream: &mut UnixStream, m: &Message) -> Next {
    match proto::write_message(stream, m) {
        Ok(()) => Next::Continue,
        Err(_) => Next::Close,
    }
}
