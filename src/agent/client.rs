//! Talking to a running agent: the probe `agent start/status/stop` use, and [`AgentKeyring`], the
//! [`Keyring`] every other command gets when an agent serves its backend.
//!
//! The client checks the agent as the agent checks the client: the socket's (or on Windows the
//! named pipe's) peer must run as the same user, so a socket planted by someone else is never
//! trusted with a write or believed on a read.
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::protocol::{self as proto, Message};
use crate::keyring::{Error, Item, Keyring, Listing, Result};

/// How long a request may take: a first read may reach a slow backend (gpg, D-Bus).
#[cfg(unix)]
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The agent's greeting.
#[derive(Debug, Clone)]
pub struct Hello {
    pub version: String,
    pub backend: String,
    pub identity: String,
    pub pid: u32,
    /// `ready`, or `locked` after an idle timeout wiped it.
    pub state: String,
    /// The backend searches: `keys_among` and `first_with_prefix` are passed on to it
    /// (agents from before this field never say so).
    pub search: bool,
}

/// What is at a socket path.
#[derive(Debug)]
pub enum Probe {
    /// No socket: no agent.
    Absent,
    /// A socket file nobody listens on (the agent was killed).
    Stale,
    Running(Hello),
    /// Something answered but may not be used (another user's socket, a refusal, garbage).
    Refused(String),
}

/// A connection to the agent: a Unix socket, or on Windows a named pipe opened as a file.
#[cfg(unix)]
type Stream = std::os::unix::net::UnixStream;
#[cfg(windows)]
type Stream = std::fs::File;

/// Open the socket and check that its peer runs as this user.
#[cfg(unix)]
fn open(path: &Path) -> std::result::Result<Stream, Probe> {
    // Most runs have no agent: a path lookup answers that without making a socket (which costs
    // more than the lookup on the hot path).
    if std::fs::symlink_metadata(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound) {
        return Err(Probe::Absent);
    }
    let stream = match Stream::connect(path) {
        Ok(s) => s,
        Err(e) => {
            return Err(match e.kind() {
                io::ErrorKind::NotFound => Probe::Absent,
                io::ErrorKind::ConnectionRefused => Probe::Stale,
                _ => Probe::Refused(e.to_string()),
            })
        }
    };
    let me = super::current_uid();
    match super::peer_uid(&stream) {
        Ok(uid) if uid == me => {}
        Ok(uid) => {
            return Err(Probe::Refused(format!(
                "the socket is served by uid {uid}, not by you (uid {me})"
            )))
        }
        Err(e) => {
            return Err(Probe::Refused(format!(
                "cannot check the socket's owner: {e}"
            )))
        }
    }
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    Ok(stream)
}

/// Open the named pipe and check that the process serving it runs as this user. (A pipe has no
/// stale state: it goes away with the process that served it.)
#[cfg(windows)]
fn open(path: &Path) -> std::result::Result<Stream, Probe> {
    match super::pipe::dial(&path.to_string_lossy()) {
        super::pipe::Dialed::Absent => Err(Probe::Absent),
        super::pipe::Dialed::Open(f) => Ok(f),
        super::pipe::Dialed::Refused(why) => Err(Probe::Refused(why)),
    }
}

/// Connect and greet.
fn dial(path: &Path) -> std::result::Result<(Stream, Hello), Probe> {
    let mut stream = open(path)?;
    let hello = Message::new(proto::HELLO).with(proto::VERSION.to_string());
    let answer = proto::write_message(&mut stream, &hello)
        .and_then(|()| proto::read_message(&mut stream))
        .map_err(|e| Probe::Refused(e.to_string()))?;
    let Some(answer) = answer else {
        return Err(Probe::Refused("the agent closed the connection".into()));
    };
    if answer.tag != proto::OK {
        return Err(Probe::Refused(answer.text(0)));
    }
    let hello = Hello {
        version: answer.text(0),
        backend: answer.text(1),
        identity: answer.text(2),
        pid: answer.text(3).parse().unwrap_or(0),
        state: answer.text(4),
        search: answer.text(5) == proto::FEATURE_SEARCH,
    };
    Ok((stream, hello))
}

/// What is at `path`, without using it.
pub fn probe(path: &Path) -> Probe {
    match dial(path) {
        Ok((_, hello)) => Probe::Running(hello),
        Err(p) => p,
    }
}

fn exchange(stream: &mut Stream, m: &Message) -> io::Result<Message> {
    proto::write_message(stream, m)?;
    proto::read_message(stream)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the agent closed the connection",
        )
    })
}

fn no_agent(p: Probe, path: &Path) -> String {
    match p {
        Probe::Absent => format!("no agent is running (no socket at {})", path.display()),
        Probe::Stale => format!(
            "no agent is running (stale socket at {}, left by an agent that was killed)",
            path.display()
        ),
        Probe::Running(h) => format!("an agent is running (pid {})", h.pid),
        Probe::Refused(why) => format!("the agent at {} refused: {why}", path.display()),
    }
}

/// The agent's `status` fields (`name`, `value`), and its greeting.
pub fn status(path: &Path) -> std::result::Result<(Hello, Vec<(String, String)>), String> {
    let (mut stream, hello) = dial(path).map_err(|p| no_agent(p, path))?;
    let answer = exchange(&mut stream, &Message::new(proto::STATUS)).map_err(|e| e.to_string())?;
    if answer.tag != proto::OK {
        return Err(answer.text(0));
    }
    let fields = (0..answer.fields.len())
        .map(|i| {
            let f = answer.text(i);
            match f.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (f, String::new()),
            }
        })
        .collect();
    Ok((hello, fields))
}

/// Ask the agent to wipe and exit; returns its pid once it is gone (or after 5 s).
pub fn stop(path: &Path) -> std::result::Result<u32, String> {
    let (mut stream, hello) = dial(path).map_err(|p| no_agent(p, path))?;
    let answer = exchange(&mut stream, &Message::new(proto::STOP)).map_err(|e| e.to_string())?;
    if answer.tag != proto::OK {
        return Err(answer.text(0));
    }
    drop(stream);
    wait_gone(hello.pid, path, Duration::from_secs(5));
    Ok(hello.pid)
}

/// Wait until the agent process has exited (or its socket is gone), at most `timeout`.
#[cfg(unix)]
fn wait_gone(pid: u32, path: &Path, timeout: Duration) {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        // SAFETY: signal 0 only checks whether the process exists.
        let alive = pid > 0 && unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
        if !alive || !path.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(windows)]
fn wait_gone(pid: u32, _path: &Path, timeout: Duration) {
    super::pipe::wait_exit(pid, timeout);
}

/// A keyring served by a running agent. One connection per process, kept for its lifetime.
pub struct AgentKeyring {
    conn: Mutex<Stream>,
    path: PathBuf,
    pub pid: u32,
    /// [`Hello::search`].
    search: bool,
}

impl std::fmt::Debug for AgentKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKeyring")
            .field("path", &self.path)
            .field("pid", &self.pid)
            .finish()
    }
}

impl AgentKeyring {
    /// Connect to the agent at `path` when it serves `backend` for the store `identity` and is
    /// not locked; otherwise say why not.
    pub fn connect(
        path: &Path,
        backend: &str,
        identity: &str,
    ) -> std::result::Result<AgentKeyring, String> {
        let (stream, hello) = dial(path).map_err(|p| no_agent(p, path))?;
        if hello.backend != backend || hello.identity != identity {
            return Err(format!(
                "the agent (pid {}) serves another store ({} {})",
                hello.pid, hello.backend, hello.identity
            ));
        }
        if hello.state != "ready" {
            return Err(format!(
                "the agent (pid {}) is {}: run `aws-vault agent start` to unlock again",
                hello.pid, hello.state
            ));
        }
        Ok(AgentKeyring {
            conn: Mutex::new(stream),
            path: path.to_path_buf(),
            pid: hello.pid,
            search: hello.search,
        })
    }

    fn call(&self, m: &Message) -> Result<Message> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let answer = exchange(&mut conn, m).map_err(|e| {
            Error::Backend(format!(
                "the agent (pid {}, {}) stopped answering: {e}",
                self.pid,
                self.path.display()
            ))
        })?;
        match answer.to_error() {
            None => Ok(answer),
            Some(e) => Err(e),
        }
    }

    fn list(answer: &Message) -> Vec<String> {
        (0..answer.fields.len()).map(|i| answer.text(i)).collect()
    }
}

impl Keyring for AgentKeyring {
    fn get(&self, key: &str) -> Result<Item> {
        let answer = self.call(&Message::new(proto::GET).with(key))?;
        let json = answer
            .fields
            .first()
            .ok_or_else(|| Error::Backend("the agent sent an empty item".into()))?;
        Item::from_json(json).map_err(|e| Error::Corrupt {
            path: format!("agent item {key}"),
            reason: e,
        })
    }

    fn set(&self, item: &Item) -> Result<()> {
        self.call(&Message::new(proto::SET).with(&item.to_json()[..]))
            .map(|_| ())
    }

    fn remove(&self, key: &str) -> Result<()> {
        self.call(&Message::new(proto::REMOVE).with(key))
            .map(|_| ())
    }

    fn keys(&self) -> Result<Vec<String>> {
        self.call(&Message::new(proto::KEYS))
            .map(|a| Self::list(&a))
    }

    fn retain_own(&self, keys: Vec<String>) -> Result<Vec<String>> {
        let m = keys
            .iter()
            .fold(Message::new(proto::RETAIN), |m, k| m.with(k));
        self.call(&m).map(|a| Self::list(&a))
    }

    /// A searching backend searches in the agent; any other is listed, as before.
    fn keys_among(&self, names: &[&str], next: &dyn Fn() -> Option<String>) -> Result<Listing> {
        if !self.search {
            return Ok(Listing::all(self.keys()?));
        }
        crate::debug!(
            "the agent's backend searches: asking it which of {} are stored, not for a listing",
            names.join(", ")
        );
        let m = names.iter().fold(
            Message::new(proto::KEYS_AMONG).with(next().unwrap_or_default()),
            |m, n| m.with(n),
        );
        let answer = self.call(&m)?;
        let mut keys = Self::list(&answer);
        let complete = match keys.first().map(String::as_str) {
            Some("all") => true,
            Some("found") => false,
            _ => {
                return Err(Error::Backend(
                    "the agent sent a malformed key search answer".into(),
                ))
            }
        };
        keys.remove(0);
        Ok(if complete {
            Listing::all(keys)
        } else {
            Listing::found(keys)
        })
    }

    /// A searching backend searches in the agent; the item it finds is checked here, and
    /// anything `accept` refuses is looked for in the listing.
    fn first_with_prefix(
        &self,
        prefix: &str,
        accept: &dyn Fn(&str) -> bool,
    ) -> Result<Option<Item>> {
        if self.search {
            let answer = self.call(&Message::new(proto::WITH_PREFIX).with(prefix))?;
            let Some(json) = answer.fields.first() else {
                return Ok(None);
            };
            let item = Item::from_json(json).map_err(|e| Error::Corrupt {
                path: format!("agent item with prefix {prefix}"),
                reason: e,
            })?;
            if item.key.starts_with(prefix) && accept(&item.key) {
                return Ok(Some(item));
            }
        }
        let keys = self.keys()?;
        crate::keyring::first_listed_with_prefix(self, &keys, prefix, accept)
    }

    fn searches(&self) -> bool {
        self.search
    }
}
