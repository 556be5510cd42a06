//! The agent process: what it holds and how it answers, whatever carries the requests.
//!
//! [`Agent`] is the platform-neutral core: the opened backend, the cache of decrypted items, the
//! timeouts, the per-use confirmation, and [`Agent::answer`], which turns one request of one
//! connection into one reply. The transports start the process and carry the frames:
//! [`unix`] forks (or spawns `agent serve`), listens on a Unix socket and serves every
//! connection from one `poll` loop; [`windows`] spawns `agent serve` and serves a named pipe.
//! Both are single-threaded where the agent's state is concerned: the backends are not all
//! `Send`, the requests are microseconds long when served from memory, and nothing the agent
//! holds is ever shared between threads. A request that has to reach the backend (a first read,
//! a write) or ask for confirmation blocks the others for its duration, which is the price of the
//! simplicity.
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::confirm::{self, Confirmer};
use super::protocol::{self as proto, Message};
use super::secmem::LockedBytes;
use super::Limits;
use crate::config::Env;
use crate::keyring::{self, Item, Keyring};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::{ensure_private_dir, serve, start};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{serve, start};

/// What `agent start` needs.
pub struct StartOptions {
    /// The keyring settings, with the passphrase when `AWS_VAULT_FILE_PASSPHRASE` is set.
    pub cfg: keyring::Config,
    pub env: Env,
    pub limits: Limits,
    /// Per-use confirmation, when `--confirm` asked for it.
    pub confirm: Option<Confirmer>,
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

/// The `aws-vault agent serve` command that runs the agent as a process of its own (for the
/// backends that cannot live through a `fork`, and on Windows for all of them). The settings
/// travel as the environment variables the flags stand for; never the file passphrase, which
/// the caller sends another way or not at all.
pub(super) fn serve_command(
    opts: &StartOptions,
    name: &str,
) -> anyhow::Result<std::process::Command> {
    use anyhow::Context;
    let exe = std::env::current_exe().context("cannot find the aws-vault executable")?;
    let secs = |d: Option<Duration>| d.map(|d| format!("{}s", d.as_secs())).unwrap_or("0".into());
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["agent", "serve"])
        .arg(format!("--idle-timeout={}", secs(opts.limits.idle)))
        .arg(format!("--max-lifetime={}", secs(opts.limits.max_lifetime)))
        .env("AWS_VAULT_BACKEND", name)
        .env_remove("AWS_VAULT_FILE_PASSPHRASE")
        .env_remove(confirm::ENV_CONFIRM);
    if let Some(c) = &opts.confirm {
        cmd.arg("--confirm").env("AWS_VAULT_PROMPT", c.driver());
    }
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
    Ok(cmd)
}

/// Wait for a spawned `agent serve` to say it serves: it writes `ok` on its standard output and
/// closes it, or writes why it could not start and exits. Its pid, or that reason as the error.
pub(super) fn await_ready(mut child: std::process::Child) -> anyhow::Result<u32> {
    let mut answer = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut out, &mut answer);
    }
    if answer.starts_with("ok") {
        return Ok(child.id());
    }
    let _ = child.wait();
    let why = answer.trim();
    anyhow::bail!(
        "the agent did not start: {}",
        if why.is_empty() { "it exited" } else { why }
    )
}

/// One decrypted item, with what the backend's copy looked like when it was read.
struct Entry {
    json: LockedBytes,
    stamp: Option<Stamp>,
}

/// Enough of an item file's metadata to notice that another process (the Go tool, or aws-vault
/// with `AWS_VAULT_AGENT=off`) rewrote or removed it: on Unix the device, inode, size and the
/// modification and change times to the nanosecond; on Windows the size, attributes and the
/// creation and last-write times (100 ns ticks).
#[derive(PartialEq, Eq, Clone, Copy)]
struct Stamp([i64; 7]);

impl Stamp {
    #[cfg(unix)]
    fn of(m: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp([
            m.dev() as i64,
            m.ino() as i64,
            m.len() as i64,
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        ])
    }

    #[cfg(windows)]
    fn of(m: &std::fs::Metadata) -> Stamp {
        use std::os::windows::fs::MetadataExt;
        Stamp([
            m.file_size() as i64,
            m.file_attributes() as i64,
            m.creation_time() as i64,
            m.last_write_time() as i64,
            0,
            0,
            0,
        ])
    }
}

/// What the agent knows about one connection.
#[derive(Default)]
pub(super) struct Session {
    greeted: bool,
    /// The peer's pid, as the kernel reported it (for the confirmation question).
    peer_pid: Option<u32>,
    /// The owner's answer to the per-use confirmation, once asked.
    approved: Option<bool>,
}

impl Session {
    pub(super) fn new(peer_pid: Option<u32>) -> Session {
        Session {
            peer_pid,
            ..Session::default()
        }
    }
}

/// The reply to one request.
pub(super) enum Reply<'a> {
    /// Send this message and keep serving the connection.
    Send(Message),
    /// An item straight from the agent's locked pages (written without a copy where possible).
    Item(&'a [u8]),
    /// Send this message, then close the connection.
    Close(Message),
    /// Acknowledge, then wipe and exit.
    Stop,
}

pub(super) struct Agent {
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
    confirm: Option<Confirmer>,
    locked_reason: Option<&'static str>,
    /// Cached items whose pages could not be locked (RLIMIT_MEMLOCK, the working-set quota).
    unlocked_buffers: usize,
    hardening: Vec<String>,
}

impl Agent {
    pub(super) fn new(
        backend: &'static str,
        identity: String,
        keyring: Box<dyn Keyring>,
        opts: &StartOptions,
        hardening: Vec<String>,
    ) -> Agent {
        let file_dir = (backend == "file").then(|| {
            keyring::file::FileKeyring::new(&opts.cfg)
                .dir()
                .to_path_buf()
        });
        Agent {
            backend,
            identity,
            keyring: Some(keyring),
            cache: HashMap::new(),
            file_dir,
            started: Instant::now(),
            started_unix: jiff::Timestamp::now().as_second(),
            last_use: Instant::now(),
            limits: opts.limits,
            confirm: opts.confirm.clone(),
            locked_reason: None,
            unlocked_buffers: 0,
            hardening,
        }
    }

    /// Drop every decrypted item and the backend (with the file passphrase it holds); each
    /// buffer zeroes itself on drop.
    pub(super) fn wipe(&mut self, reason: &'static str) {
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

    /// Apply the timeouts: `false` once the maximum lifetime is over (the caller wipes and
    /// exits); otherwise how long until the next deadline (`None`: no deadline).
    pub(super) fn tick(&mut self) -> Result<Option<Duration>, ()> {
        let now = Instant::now();
        if self.end_deadline().is_some_and(|d| now >= d) {
            return Err(());
        }
        if self.idle_deadline().is_some_and(|d| now >= d) {
            self.wipe("idle timeout");
        }
        Ok([self.idle_deadline(), self.end_deadline()]
            .into_iter()
            .flatten()
            .min()
            .map(|d| d.saturating_duration_since(now)))
    }

    /// The greeting, or the refusal of a connection that does not start with one.
    fn greet(&self, s: &mut Session, req: &Message) -> Reply<'static> {
        if req.tag != proto::HELLO {
            return Reply::Close(
                Message::new(proto::ERROR).with("the first request must be hello"),
            );
        }
        let version = req.text(0);
        if version != proto::VERSION.to_string() {
            return Reply::Close(Message::new(proto::ERROR).with(format!(
                "protocol version {version} is not supported (this agent speaks {})",
                proto::VERSION
            )));
        }
        s.greeted = true;
        Reply::Send(
            Message::new(proto::OK)
                .with(proto::VERSION.to_string())
                .with(self.backend)
                .with(&self.identity)
                .with(std::process::id().to_string())
                .with(self.state())
                .with(if self.keyring.as_ref().is_some_and(|k| k.searches()) {
                    proto::FEATURE_SEARCH
                } else {
                    ""
                }),
        )
    }

    /// Answer one request of the connection `s`.
    pub(super) fn answer(&mut self, s: &mut Session, req: &Message) -> Reply<'_> {
        if !s.greeted {
            return self.greet(s, req);
        }
        match req.tag {
            proto::STATUS => Reply::Send(self.status()),
            proto::STOP => Reply::Stop,
            proto::GET
            | proto::SET
            | proto::REMOVE
            | proto::KEYS
            | proto::RETAIN
            | proto::KEYS_AMONG
            | proto::WITH_PREFIX => {
                if self.keyring.is_none() {
                    return Reply::Send(Message::new(proto::ERROR).with(format!(
                        "the agent is locked ({}): run `aws-vault agent start` again",
                        self.locked_reason.unwrap_or("wiped")
                    )));
                }
                if let Some(refused) = self.confirmed(s, req) {
                    return Reply::Send(refused);
                }
                self.last_use = Instant::now();
                if req.tag == proto::GET {
                    return self.get(&req.text(0));
                }
                if req.tag == proto::WITH_PREFIX {
                    return self.with_prefix(&req.text(0));
                }
                Reply::Send(self.item_request(req))
            }
            _ => Reply::Send(Message::new(proto::ERROR).with("unknown request")),
        }
    }

    /// Per-use confirmation: `None` when the request may go ahead, otherwise the refusal. Asked
    /// once per connection, on its first read, write or removal of an item.
    fn confirmed(&mut self, s: &mut Session, req: &Message) -> Option<Message> {
        let confirmer = self.confirm.as_ref()?;
        let verb = match req.tag {
            proto::GET | proto::WITH_PREFIX => "read",
            proto::SET => "write",
            proto::REMOVE => "remove",
            _ => return None,
        };
        let approved = match s.approved {
            Some(answer) => answer,
            None => {
                let key = if req.tag == proto::SET {
                    req.fields
                        .first()
                        .and_then(|json| Item::from_json(json).ok())
                        .map(|item| item.key.clone())
                        .unwrap_or_default()
                } else {
                    req.text(0)
                };
                let question = confirmer.question(verb, &key, &confirm::describe_peer(s.peer_pid));
                let answer = match confirmer.ask(&question) {
                    Ok(answer) => answer,
                    Err(why) => {
                        // Not remembered: the dialog may work next time.
                        return Some(Message::new(proto::ERROR).with(format!(
                            "the agent could not ask for confirmation ({why}), so it refused"
                        )));
                    }
                };
                s.approved = Some(answer);
                answer
            }
        };
        (!approved).then(|| {
            Message::new(proto::ERROR).with(format!(
                "the agent's owner did not allow this (the agent asks before each use; {} dialog)",
                confirmer.driver()
            ))
        })
    }

    fn stamp(&self, key: &str) -> Option<Stamp> {
        let dir = self.file_dir.as_ref()?;
        let m = std::fs::metadata(dir.join(keyring::file::encode_file_name(key))).ok()?;
        Some(Stamp::of(&m))
    }

    /// The hot path: a cached item is answered straight from its locked pages.
    fn get(&mut self, key: &str) -> Reply<'_> {
        // The stamp is taken before reading, so a change racing with the read is seen next time.
        let stamp = self.stamp(key);
        let fresh = self
            .cache
            .get(key)
            .is_some_and(|e| self.file_dir.is_none() || (stamp.is_some() && e.stamp == stamp));
        if !fresh {
            self.forget(key);
            let Some(kr) = self.keyring.as_ref() else {
                return Reply::Send(Message::new(proto::ERROR).with("the agent is locked"));
            };
            match kr.get(key) {
                Ok(item) => {
                    let json = item.to_json();
                    drop(item);
                    if !self.remember(key, &json, stamp) {
                        // Not kept (the file vanished meanwhile): answer from this read.
                        return Reply::Send(Message::new(proto::OK).with(&json[..]));
                    }
                }
                Err(e) => return Reply::Send(Message::from_error(&e)),
            }
        }
        match self.cache.get(key) {
            Some(e) => Reply::Item(e.json.as_slice()),
            None => Reply::Send(Message::new(proto::ERROR).with("the item could not be held")),
        }
    }

    /// A session-cache lookup (`P`): the unexpired session with `prefix` the agent holds, as
    /// [`get`](Self::get) serves held items, else what the backend's search finds, held from
    /// then on. The client checks expiry and key again.
    fn with_prefix(&mut self, prefix: &str) -> Reply<'_> {
        if let Some(key) = self.held_session(prefix) {
            return self.get(&key);
        }
        let accept = |k: &str| keyring::lookup_prefix(k) == Some(prefix);
        let Some(kr) = self.keyring.as_ref() else {
            return Reply::Send(Message::new(proto::ERROR).with("the agent is locked"));
        };
        match kr.first_with_prefix(prefix, &accept) {
            Ok(Some(item)) => {
                let (key, json) = (item.key.clone(), item.to_json());
                drop(item);
                let stamp = self.stamp(&key);
                if self.remember(&key, &json, stamp) {
                    return self.get(&key);
                }
                Reply::Send(Message::new(proto::OK).with(&json[..]))
            }
            Ok(None) => Reply::Send(Message::new(proto::OK)),
            Err(e) => Reply::Send(Message::from_error(&e)),
        }
    }

    /// The key of the latest unexpired session with `prefix` among the items held (what
    /// follows the prefix of a session key is its expiry, in Unix seconds).
    fn held_session(&self, prefix: &str) -> Option<String> {
        let now = jiff::Timestamp::now().as_second();
        (self.cache.keys())
            .filter(|k| keyring::lookup_prefix(k) == Some(prefix))
            .filter_map(|k| Some((k[prefix.len()..].parse::<i64>().ok()?, k)))
            .filter(|(expiry, _)| *expiry > now)
            .max()
            .map(|(_, k)| k.clone())
    }

    /// Keep a decrypted item; `false` when it is not kept.
    fn remember(&mut self, key: &str, json: &[u8], stamp: Option<Stamp>) -> bool {
        if self.file_dir.is_some() && stamp.is_none() {
            return false;
        }
        let Some(json) = LockedBytes::new(json) else {
            return false;
        };
        if !json.is_locked() {
            self.unlocked_buffers += 1;
        }
        if let Some(old) = self.cache.insert(key.to_string(), Entry { json, stamp }) {
            if !old.json.is_locked() {
                self.unlocked_buffers = self.unlocked_buffers.saturating_sub(1);
            }
        }
        true
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
            // The backend searches live, as a listing would have read it live; the session
            // expected next is searched for with the names only when none is held.
            proto::KEYS_AMONG => {
                let next =
                    Some(req.text(0)).filter(|p| !p.is_empty() && self.held_session(p).is_none());
                let names: Vec<String> = (1..req.fields.len()).map(|i| req.text(i)).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                match kr.keys_among(&names, &|| next.clone()) {
                    Ok(listing) => listing.keys.iter().fold(
                        Message::new(proto::OK).with(if listing.complete {
                            "all"
                        } else {
                            "found"
                        }),
                        |m, k| m.with(k),
                    ),
                    Err(e) => Message::from_error(&e),
                }
            }
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
            (
                "confirm",
                self.confirm
                    .as_ref()
                    .map(|c| c.driver().to_string())
                    .unwrap_or_default(),
            ),
        ];
        fields.iter().fold(Message::new(proto::OK), |m, (k, v)| {
            m.with(format!("{k}={v}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keyring::MemoryKeyring;

    /// The test keyring, shared with the test that gave it to the agent.
    struct Shared(std::rc::Rc<MemoryKeyring>);

    impl Keyring for Shared {
        fn get(&self, key: &str) -> keyring::Result<Item> {
            self.0.get(key)
        }
        fn set(&self, item: &Item) -> keyring::Result<()> {
            self.0.set(item)
        }
        fn remove(&self, key: &str) -> keyring::Result<()> {
            self.0.remove(key)
        }
        fn keys(&self) -> keyring::Result<Vec<String>> {
            self.0.keys()
        }
        fn keys_among(
            &self,
            names: &[&str],
            next: &dyn Fn() -> Option<String>,
        ) -> keyring::Result<keyring::Listing> {
            self.0.keys_among(names, next)
        }
        fn first_with_prefix(
            &self,
            prefix: &str,
            accept: &dyn Fn(&str) -> bool,
        ) -> keyring::Result<Option<Item>> {
            self.0.first_with_prefix(prefix, accept)
        }
        fn searches(&self) -> bool {
            self.0.searches()
        }
    }

    fn agent(searching: bool) -> (Agent, std::rc::Rc<MemoryKeyring>) {
        let kr = std::rc::Rc::new(MemoryKeyring::new());
        kr.searching.set(searching);
        for key in [
            "base",
            "other",
            "sts.AssumeRole,cm9sZQ,,1999999999",
            "sts.AssumeRole,b2xk,,1000",
        ] {
            kr.set(&Item {
                key: key.to_string(),
                data: b"{}".to_vec().into(),
                ..Item::default()
            })
            .unwrap();
        }
        let opts = StartOptions {
            cfg: keyring::Config::default(),
            env: Env::new(),
            limits: Limits::default(),
            confirm: None,
        };
        let shared = Box::new(Shared(kr.clone()));
        let agent = Agent::new("test", "id".into(), shared, &opts, Vec::new());
        (agent, kr)
    }

    fn send(a: &mut Agent, s: &mut Session, m: Message) -> Vec<String> {
        match a.answer(s, &m) {
            Reply::Send(m) => {
                assert_eq!(m.tag, proto::OK, "{}", m.text(0));
                (0..m.fields.len()).map(|i| m.text(i)).collect()
            }
            Reply::Item(json) => vec![String::from_utf8_lossy(json).into_owned()],
            _ => panic!("unexpected reply"),
        }
    }

    fn hello(a: &mut Agent, s: &mut Session) -> Vec<String> {
        send(
            a,
            s,
            Message::new(proto::HELLO).with(proto::VERSION.to_string()),
        )
    }

    /// A searching backend says so in the greeting, and answers `A` with what it found and
    /// `P` with the session item; a listing backend answers `A` with its whole listing.
    #[test]
    fn key_searches_are_passed_on_to_the_backend() {
        let (mut a, kr) = agent(true);
        let mut s = Session::new(None);
        assert_eq!(hello(&mut a, &mut s)[5], proto::FEATURE_SEARCH);
        let among = || {
            Message::new(proto::KEYS_AMONG)
                .with("sts.AssumeRole,cm9sZQ,,")
                .with("role")
                .with("base")
        };
        assert_eq!(send(&mut a, &mut s, among()), ["found", "base"]);
        assert_eq!(*kr.hinted.borrow(), ["sts.AssumeRole,cm9sZQ,,"]);
        // The session is searched for once, then held.
        for held in [0, 1] {
            assert_eq!(a.cache.len(), held);
            let prefix = Message::new(proto::WITH_PREFIX).with("sts.AssumeRole,cm9sZQ,,");
            let found = send(&mut a, &mut s, prefix);
            assert_eq!(found.len(), 1);
            let item = Item::from_json(found[0].as_bytes()).unwrap();
            assert_eq!(item.key, "sts.AssumeRole,cm9sZQ,,1999999999");
        }
        assert_eq!(a.cache.len(), 1);
        // With the session held, the backend is no longer asked to look it up ahead.
        assert_eq!(send(&mut a, &mut s, among()), ["found", "base"]);
        assert!(kr.hinted.borrow().is_empty());
        // An expired session held does not count: the next session is looked up ahead again.
        let old = || Message::new(proto::WITH_PREFIX).with("sts.AssumeRole,b2xk,,");
        assert_eq!(send(&mut a, &mut s, old()).len(), 1);
        assert_eq!(a.cache.len(), 2);
        let among_old = Message::new(proto::KEYS_AMONG)
            .with("sts.AssumeRole,b2xk,,")
            .with("base");
        send(&mut a, &mut s, among_old);
        assert_eq!(*kr.hinted.borrow(), ["sts.AssumeRole,b2xk,,"]);
        // Nothing with the prefix, or a key not shaped as a session's: no field.
        for p in ["sts.AssumeRole,b3RoZXI,,", "bas"] {
            let none = send(&mut a, &mut s, Message::new(proto::WITH_PREFIX).with(p));
            assert!(none.is_empty(), "{p}: {none:?}");
        }

        let (mut a, _) = agent(false);
        let mut s = Session::new(None);
        assert_eq!(hello(&mut a, &mut s)[5], "");
        let among = Message::new(proto::KEYS_AMONG).with("").with("base");
        assert_eq!(
            send(&mut a, &mut s, among),
            [
                "all",
                "base",
                "other",
                "sts.AssumeRole,b2xk,,1000",
                "sts.AssumeRole,cm9sZQ,,1999999999"
            ]
        );
    }
}
