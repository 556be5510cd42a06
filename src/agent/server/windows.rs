//! The agent on Windows: `agent start` asks for and checks the passphrase on its console, then
//! starts `aws-vault agent serve` as a detached process and hands it the passphrase through its
//! standard input (never the environment or the command line); `serve` owns the named pipe of
//! [`crate::agent::pipe`].
//!
//! The agent's state lives on one thread, as on Unix. Pipe I/O is blocking, so the transport
//! uses threads: one accepts connections (creating a fresh pipe instance for each), one per
//! connection reads its frames, and each request travels over a channel to the agent thread,
//! which answers it with [`Agent::answer`] and sends the reply back. The timeouts run on the
//! agent thread between requests.
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::windows::io::OwnedHandle;
use std::os::windows::process::CommandExt;
use std::process::Stdio;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use anyhow::{bail, Context};

use super::{Agent, Reply, Session, StartOptions, Started};
use crate::agent::client::{self, Probe};
use crate::agent::pipe;
use crate::agent::protocol::{self as proto, Message};
use crate::agent::secmem;
use crate::keyring;

/// `CreateProcess` flags: no console, and not in the starter's Ctrl-C group.
const DETACHED_PROCESS: u32 = 0x0000_0008;
const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;

/// Start an agent for the selected backend and return once it serves.
pub fn start(opts: StartOptions) -> anyhow::Result<Started> {
    let (name, opened) = keyring::open_named(&opts.cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    let socket = crate::agent::socket_path(&opts.env, name);
    let replaced = match client::probe(&socket) {
        Probe::Absent | Probe::Stale => None,
        Probe::Running(hello) if hello.state == "locked" => {
            client::stop(&socket).map_err(|e| anyhow::anyhow!("{e}"))?;
            Some(format!("the locked agent (pid {})", hello.pid))
        }
        Probe::Running(hello) => bail!(
            "an agent for the {name} backend is already running (pid {}); `aws-vault agent stop` first",
            hello.pid
        ),
        Probe::Refused(why) => bail!("{}: {why}", socket.display()),
    };
    drop(opened);
    // The file passphrase is asked for (or read from the environment) and checked here, while
    // there is a console; the agent gets it on its standard input.
    let passphrase = if name == "file" {
        let file = keyring::file::FileKeyring::new(&opts.cfg);
        file.unlock().map_err(|e| anyhow::anyhow!("{e}"))?;
        file.passphrase_copy()
    } else {
        None
    };
    let mut cmd = super::serve_command(&opts, name)?;
    if passphrase.is_some() {
        cmd.arg("--passphrase-stdin");
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
    let mut child = cmd.spawn().context("cannot start the agent process")?;
    if let Some(mut stdin) = child.stdin.take() {
        if let Some(p) = &passphrase {
            let _ = stdin.write_all(p.as_bytes());
        }
        // Dropping closes it: the end of the passphrase.
    }
    drop(passphrase);
    Ok(Started {
        pid: super::await_ready(child)?,
        backend: name,
        socket,
        replaced,
    })
}

/// `aws-vault agent serve`: open the backend, create the pipe, answer `ok` on stdout, serve;
/// returns the exit code.
pub fn serve(opts: StartOptions) -> i32 {
    let mut out = io::stdout();
    let hardening = secmem::harden_process();
    let result = (|| -> anyhow::Result<_> {
        let (name, backend) = keyring::open_named(&opts.cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
        let identity = crate::agent::identity(&opts.cfg, &opts.env, name);
        let pipe_name = pipe::pipe_name(name);
        let me = pipe::my_sid().context("cannot read this process's user")?;
        let first = pipe::create(&pipe_name, true).with_context(|| {
            format!("cannot create the pipe {pipe_name} (does another process hold the name?)")
        })?;
        let agent = Agent::new(name, identity, backend, &opts, hardening);
        Ok((agent, pipe_name, me, first))
    })();
    match result {
        Ok((agent, pipe_name, me, first)) => {
            drop(opts);
            let _ = out.write_all(b"ok\n");
            let _ = out.flush();
            drop(out);
            // Closing stdout is what tells the starter to return.
            pipe::close_stdout();
            run(agent, pipe_name, me, first)
        }
        Err(e) => {
            let _ = out.write_all(format!("{e:#}\n").as_bytes());
            1
        }
    }
}

/// What the transport threads tell the agent thread.
enum Event {
    Open {
        id: u64,
        pid: u32,
    },
    Request {
        id: u64,
        req: Message,
        reply: Sender<Out>,
    },
    Gone {
        id: u64,
    },
}

/// The agent thread's answer to one request.
enum Out {
    Send(Message),
    Close(Message),
    /// Acknowledge, then say so on the channel; the agent wipes and exits.
    Stop(Sender<()>),
}

/// Serve until stopped or the maximum lifetime is over; then wipe.
fn run(mut agent: Agent, name: String, me: Vec<u8>, first: OwnedHandle) -> i32 {
    let (tx, rx) = mpsc::channel::<Event>();
    std::thread::spawn(move || accept_loop(&name, &me, first, tx));
    let mut sessions: HashMap<u64, Session> = HashMap::new();
    loop {
        let wait = match agent.tick() {
            Err(()) => break,
            Ok(next) => next.unwrap_or(Duration::from_secs(3600)),
        };
        let event = match rx.recv_timeout(wait) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match event {
            Event::Open { id, pid } => {
                sessions.insert(id, Session::new(Some(pid)));
            }
            Event::Gone { id } => {
                sessions.remove(&id);
            }
            Event::Request { id, req, reply } => {
                let Some(session) = sessions.get_mut(&id) else {
                    continue;
                };
                let out = match agent.answer(session, &req) {
                    Reply::Send(m) => Out::Send(m),
                    Reply::Item(json) => Out::Send(Message::new(proto::OK).with(json)),
                    Reply::Close(m) => Out::Close(m),
                    Reply::Stop => {
                        let (done_tx, done_rx) = mpsc::channel();
                        if reply.send(Out::Stop(done_tx)).is_ok() {
                            let _ = done_rx.recv_timeout(Duration::from_secs(2));
                        }
                        break;
                    }
                };
                let _ = reply.send(out);
            }
        }
    }
    agent.wipe("stopped");
    0
}

/// Accept clients forever: a fresh pipe instance for each, the peer's user checked, one thread
/// per connection.
fn accept_loop(name: &str, me: &[u8], first: OwnedHandle, tx: Sender<Event>) {
    let mut next = Some(first);
    let mut id = 0u64;
    loop {
        let instance = match next.take() {
            Some(h) => h,
            None => match pipe::create(name, false) {
                Ok(h) => h,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            },
        };
        match pipe::accept(&instance, me) {
            Err(_) => continue,
            Ok(Err(why)) => {
                let mut f = File::from(instance);
                let _ = proto::write_message(&mut f, &Message::new(proto::ERROR).with(why));
                let _ = f.sync_all();
            }
            Ok(Ok(pid)) => {
                id += 1;
                if tx.send(Event::Open { id, pid }).is_err() {
                    return;
                }
                let tx = tx.clone();
                let conn = File::from(instance);
                std::thread::spawn(move || connection(id, conn, tx));
            }
        }
    }
}

/// Carry one connection's frames to the agent thread and its replies back.
fn connection(id: u64, mut pipe: File, tx: Sender<Event>) {
    loop {
        let req = match proto::read_message(&mut pipe) {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => break,
        };
        let (reply_tx, reply_rx) = mpsc::channel();
        if tx
            .send(Event::Request {
                id,
                req,
                reply: reply_tx,
            })
            .is_err()
        {
            break;
        }
        match reply_rx.recv() {
            Ok(Out::Send(m)) => {
                if proto::write_message(&mut pipe, &m).is_err() {
                    break;
                }
            }
            Ok(Out::Close(m)) => {
                let _ = proto::write_message(&mut pipe, &m);
                // FlushFileBuffers: wait until the client has read it before closing.
                let _ = pipe.sync_all();
                break;
            }
            Ok(Out::Stop(done)) => {
                let _ = proto::write_message(&mut pipe, &Message::new(proto::OK));
                let _ = pipe.sync_all();
                let _ = done.send(());
                return;
            }
            Err(_) => break,
        }
    }
    let _ = tx.send(Event::Gone { id });
}
