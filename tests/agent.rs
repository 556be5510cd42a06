//! The credential agent (`aws-vault agent`), black-box: the real binary, real backends (the
//! file backend, GNOME Keyring on a private bus, a `pass` store), real processes and sockets.
//! Every agent a test starts is killed by PID when the test ends, pass or fail.
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::stores::{self, stop_pid, GnomeKeyring, PassStore};
use common::{Run, Sandbox, PASSPHRASE};

const KEY_ID: &str = "AKIAAGENTTEST0000001";
const SECRET: &str = "agentSecret/K7MDENG/bPxRfiCYAGENTKEY0001";

/// Kills the agent when dropped.
struct Agent(i32);

impl Drop for Agent {
    fn drop(&mut self) {
        stop_pid(self.0);
    }
}

fn sandbox() -> Sandbox {
    let s = Sandbox::with_config("[profile p]\nregion = eu-west-1\n");
    s.add("p", KEY_ID, SECRET);
    s
}

/// The pid in `aws-vault agent started for the … backend (pid N, …`.
fn started_pid(run: &Run) -> i32 {
    let text = run
        .stderr
        .lines()
        .find(|l| l.contains("agent started for the"))
        .unwrap_or_else(|| panic!("no start line in: {}", run.stderr));
    let at = text
        .find("(pid ")
        .unwrap_or_else(|| panic!("no pid in: {text}"));
    text[at + 5..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

fn start(s: &Sandbox, extra: &[&str]) -> Agent {
    let args = [&["agent", "start"][..], extra].concat();
    let run = s.run(&args).ok();
    assert!(
        run.stderr.contains("aws-vault agent started for the"),
        "{}",
        run.stderr
    );
    Agent(started_pid(&run))
}

fn alive(pid: i32) -> bool {
    // A zombie still answers kill(0); look at its state instead.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.split(") ").nth(1).unwrap_or("").starts_with('Z'))
        .unwrap_or(false)
}

fn socket(s: &Sandbox) -> PathBuf {
    s.dir.path().join("run/aws-vault/agent-file.sock")
}

/// A run with no passphrase in the environment and no terminal to ask on: only an agent can
/// make the file backend readable.
fn run_without_passphrase(s: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut inner = s.cmd(args);
    inner.env_remove("AWS_VAULT_FILE_PASSPHRASE");
    for (k, v) in env {
        inner.env(k, v);
    }
    let mut c = Command::new("setsid");
    c.arg("-w")
        .arg(inner.get_program())
        .args(inner.get_args())
        .env_clear();
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    let out = c
        .stdin(Stdio::null())
        .output()
        .expect("setsid (util-linux) is required");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn start_status_stop() {
    let s = sandbox();
    // Nothing running yet.
    let line = s.run(&["agent", "status"]).fails();
    assert!(line.contains("no agent is running"), "{line}");

    let agent = start(&s, &[]);
    assert!(alive(agent.0));
    let sock = socket(&s);
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode");
    let dir_mode = std::fs::metadata(sock.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700, "runtime directory mode");

    let status = s.run(&["agent", "status"]).ok().stdout;
    assert!(status.contains(&format!("pid {}", agent.0)), "{status}");
    assert!(status.contains("state: ready"), "{status}");
    assert!(status.contains("idle timeout: 15m0s (wipes in"), "{status}");
    assert!(
        status.contains("maximum lifetime: 8h0m0s (exits in"),
        "{status}"
    );
    assert!(status.contains("protocol 1"), "{status}");

    // One agent per backend.
    let line = s.run(&["agent", "start"]).fails();
    assert!(
        line.contains(&format!("already running (pid {})", agent.0)),
        "{line}"
    );

    let stop = s.run(&["agent", "stop"]).ok();
    assert!(stop.stderr.contains("agent stopped"), "{}", stop.stderr);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(agent.0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(agent.0), "the agent is still running after stop");
    assert!(!sock.exists(), "the socket outlived the agent");
    let line = s.run(&["agent", "status"]).fails();
    assert!(line.contains("no agent is running"), "{line}");
}

#[test]
fn timeouts_from_flags_and_variables() {
    let mut s = sandbox();
    let line = s.run(&["agent", "start", "--idle-timeout=soon"]).fails();
    assert!(
        line.starts_with("aws-vault: error: invalid value 'soon' for --idle-timeout"),
        "{line}"
    );
    s.set_env("AWS_VAULT_AGENT_MAX_LIFETIME", "2h");
    let _agent = start(&s, &["--idle-timeout=90s"]);
    let status = s.run(&["agent", "status"]).ok().stdout;
    assert!(status.contains("idle timeout: 1m30s"), "{status}");
    assert!(status.contains("maximum lifetime: 2h0m0s"), "{status}");
}

#[test]
fn max_lifetime_ends_the_agent() {
    let s = sandbox();
    let agent = start(&s, &["--max-lifetime=2s"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(agent.0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(agent.0), "the agent outlived its maximum lifetime");
    assert!(!socket(&s).exists());
}

#[test]
fn debug_says_which_path() {
    let s = sandbox();
    let args = ["--debug", "export", "--no-session", "--format=json", "p"];
    let direct = s.run(&args).ok();
    assert!(
        direct
            .stderr
            .contains("Reading keyring backend file directly: no agent is running"),
        "{}",
        direct.stderr
    );
    let agent = start(&s, &[]);
    let through = s.run(&args).ok();
    assert!(
        through.stderr.contains(&format!(
            "Reading keyring backend file through the agent (pid {}",
            agent.0
        )),
        "{}",
        through.stderr
    );
    assert_eq!(through.stdout, direct.stdout);
    // Nothing secret in the debug output.
    assert!(!through.stderr.contains(SECRET));
    assert!(!through.stderr.contains(PASSPHRASE));
    let off = s.run_env(&args, &[("AWS_VAULT_AGENT", "off")]).ok();
    assert!(
        off.stderr
            .contains("Reading keyring backend file directly: AWS_VAULT_AGENT turns the agent off"),
        "{}",
        off.stderr
    );
    // Another key directory is another store: the agent is not used for it.
    let other = s.dir.path().join("other-keys");
    let run = s
        .run(&[
            "--debug",
            "--file-dir",
            other.to_str().unwrap(),
            "list",
            "--credentials",
        ])
        .ok();
    assert!(
        run.stderr.contains("serves another store"),
        "{}",
        run.stderr
    );
}

#[test]
fn fifty_parallel_hot_path_calls_agree() {
    let s = sandbox();
    let args = ["export", "--no-session", "--format=json", "p"];
    let expected = s.run(&args).ok().stdout;
    assert!(expected.contains(KEY_ID), "{expected}");
    // Without the agent, no passphrase and no terminal is an error.
    let line = run_without_passphrase(&s, &args, &[]).fails();
    assert!(
        line.contains("no passphrase for the file backend"),
        "{line}"
    );

    let _agent = start(&s, &[]);
    let children: Vec<_> = (0..50)
        .map(|_| {
            let mut inner = s.cmd(&args);
            inner.env_remove("AWS_VAULT_FILE_PASSPHRASE");
            inner.stdout(Stdio::piped()).stderr(Stdio::piped());
            // setsid: no controlling terminal, so a prompt could not be the way in.
            let mut c = Command::new("setsid");
            c.arg("-w")
                .arg(inner.get_program())
                .args(inner.get_args())
                .env_clear()
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for (k, v) in inner.get_envs() {
                if let Some(v) = v {
                    c.env(k, v);
                }
            }
            c.spawn().expect("setsid")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }
}

#[test]
fn exec_child_sees_no_passphrase() {
    let s = sandbox();
    let agent = start(&s, &[]);
    let run = run_without_passphrase(&s, &["exec", "--no-session", "p", "--", "env"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("AWS_ACCESS_KEY_ID={KEY_ID}")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("AWS_VAULT_FILE_PASSPHRASE"));
    assert!(!run.stdout.contains(PASSPHRASE));
    // The agent itself was started with the variable set; its environment no longer shows it.
    let environ = std::fs::read(format!("/proc/{}/environ", agent.0)).unwrap();
    assert!(
        find(&environ, PASSPHRASE.as_bytes()).is_none(),
        "the passphrase is still in the agent's environment"
    );
}

#[test]
fn writes_go_through_to_the_backend_and_outside_writes_are_seen() {
    let s = sandbox();
    let _agent = start(&s, &[]);
    // Added through the agent: on disk for agent-less processes.
    let run = run_without_passphrase(
        &s,
        &["--debug", "add", "--env", "q"],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAAGENTWRITTEN0001"),
            ("AWS_SECRET_ACCESS_KEY", "written-through-the-agent"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("through the agent"), "{}", run.stderr);
    assert!(s.key_file("q").exists());
    let direct = s
        .run_env(
            &["export", "--no-session", "--format=json", "q"],
            &[("AWS_VAULT_AGENT", "off")],
        )
        .ok();
    assert!(direct.stdout.contains("AKIAAGENTWRITTEN0001"));

    // Read once through the agent (now cached), then replaced behind its back.
    let args = ["export", "--no-session", "--format=json", "p"];
    assert!(run_without_passphrase(&s, &args, &[])
        .stdout
        .contains(KEY_ID));
    s.run_env(
        &["add", "--env", "p"],
        &[
            ("AWS_VAULT_AGENT", "off"),
            ("AWS_ACCESS_KEY_ID", "AKIAREPLACEDDIRECTLY"),
            ("AWS_SECRET_ACCESS_KEY", "replaced"),
        ],
    )
    .ok();
    let run = run_without_passphrase(&s, &args, &[]);
    assert!(
        run.stdout.contains("AKIAREPLACEDDIRECTLY"),
        "{}",
        run.stdout
    );
    // Removed behind its back: gone through the agent too.
    s.run_env(&["remove", "-f", "q"], &[("AWS_VAULT_AGENT", "off")])
        .ok();
    let run = run_without_passphrase(&s, &["export", "--no-session", "--format=json", "q"], &[]);
    assert_ne!(run.code, 0, "{}", run.stdout);
}

#[test]
fn stale_socket_is_replaced() {
    let s = sandbox();
    let old = start(&s, &[]);
    unsafe { libc::kill(old.0, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(old.0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(socket(&s).exists(), "a killed agent leaves its socket");
    let line = s.run(&["agent", "status"]).fails();
    assert!(line.contains("stale socket"), "{line}");
    // Commands fall back to the direct path.
    s.run(&["export", "--no-session", "p"]).ok();

    let run = s.run(&["agent", "start"]).ok();
    assert!(
        run.stderr.contains("Replaced a stale socket"),
        "{}",
        run.stderr
    );
    let new = Agent(started_pid(&run));
    assert_ne!(new.0, old.0);
    let run = run_without_passphrase(&s, &["export", "--no-session", "--format=json", "p"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// Python, as another user, speaking the agent's protocol: a hello frame, then the answer.
const RAW_CLIENT: &str = r#"
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("connect: permission denied"); sys.exit(0)
body = b"H" + struct.pack(">I", 1) + b"1"
try:
    s.sendall(struct.pack(">I", len(body)) + body)
except (BrokenPipeError, ConnectionResetError):
    pass  # the agent may answer and hang up before the hello arrives
head = s.recv(4)
if len(head) < 4:
    print("closed"); sys.exit(0)
n = struct.unpack(">I", head)[0]
data = b""
while len(data) < n:
    chunk = s.recv(n - len(data))
    if not chunk: break
    data += chunk
print("answer", chr(data[0]), data[5:].decode(errors="replace"))
"#;

fn as_nobody(sock: &Path) -> String {
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            common::stores::PYTHON,
            "-c",
            RAW_CLIENT,
        ])
        .arg(sock)
        .output()
        .expect("setpriv (util-linux) and python3 are required");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn another_user_is_refused() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test switches to uid 65534 and must run as root"
    );
    let s = sandbox();
    let _agent = start(&s, &[]);
    let sock = socket(&s);
    // The file system already keeps other users out: a 0700 directory, a 0600 socket.
    assert_eq!(as_nobody(&sock), "connect: permission denied");
    // Even with every permission opened up, the agent checks the peer's uid itself.
    let mut p = sock.clone();
    while p != s.dir.path().parent().unwrap() {
        let mode = if p == sock { 0o666 } else { 0o711 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p = p.parent().unwrap().to_path_buf();
    }
    let answer = as_nobody(&sock);
    assert_eq!(
        answer, "answer E permission denied: the agent serves uid 0 only, not uid 65534",
        "{answer}"
    );
    // The agent still serves its owner.
    s.run(&["agent", "status"]).ok();
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Every readable, writable mapping of `pid`, searched for each needle; returns the needles found.
fn scan_memory(pid: i32, needles: &[&[u8]]) -> Vec<usize> {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut found = Vec::new();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let range = parts.next().unwrap();
        let perms = parts.next().unwrap();
        if !perms.starts_with("rw") {
            continue;
        }
        let (a, b) = range.split_once('-').unwrap();
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap(),
            u64::from_str_radix(b, 16).unwrap(),
        );
        if line.ends_with("[vvar]") || b - a > 1 << 30 {
            continue;
        }
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.seek(SeekFrom::Start(a)).is_err() || mem.read_exact(&mut buf).is_err() {
            continue;
        }
        for (i, n) in needles.iter().enumerate() {
            if !found.contains(&i) && find(&buf, n).is_some() {
                found.push(i);
            }
        }
    }
    found
}

#[test]
fn idle_timeout_wipes_memory() {
    use aws_vault::keyring::Keyring;
    let s = sandbox();
    // Exactly the bytes the agent holds for the item: the stored Item JSON, whose Data is the
    // base64 of the credentials.
    let item = s.keyring().get("p").unwrap();
    let json = item.to_json();
    let text = std::str::from_utf8(&json).unwrap();
    let data_b64 = text
        .split("\"Data\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let needles: [&[u8]; 3] = [
        data_b64.as_bytes(),
        SECRET.as_bytes(),
        PASSPHRASE.as_bytes(),
    ];

    let agent = start(&s, &["--idle-timeout=3s"]);
    let run = run_without_passphrase(&s, &["export", "--no-session", "--format=json", "p"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The scan works: the item is there while the agent holds it.
    let found = scan_memory(agent.0, &needles);
    assert!(found.contains(&0), "the scan did not find the held item");

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = s.run(&["agent", "status"]).ok().stdout;
        if status.contains("state: locked (idle timeout)") {
            assert!(status.contains("items held: 0"), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "never locked: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(alive(agent.0), "the agent stays up, locked");
    let found = scan_memory(agent.0, &needles);
    assert!(
        found.is_empty(),
        "after the wipe the agent's memory still holds {:?}",
        found
            .iter()
            .map(|i| ["the item", "the secret key", "the passphrase"][*i])
            .collect::<Vec<_>>()
    );
    // A locked agent is not used: commands take the direct path (and say why).
    let run = s
        .run(&["--debug", "export", "--no-session", "--format=json", "p"])
        .ok();
    assert!(run.stderr.contains("is locked"), "{}", run.stderr);
    // `agent start` replaces a locked agent.
    let run = s.run(&["agent", "start"]).ok();
    assert!(
        run.stderr.contains("Replaced the locked agent"),
        "{}",
        run.stderr
    );
    let _new = Agent(started_pid(&run));
}

#[test]
fn secret_service_through_the_agent() {
    let gk = GnomeKeyring::start();
    let mut s = Sandbox::with_config("[profile p]\nregion = eu-west-1\n");
    gk.bus.apply(&mut s);
    s.set_env("AWS_VAULT_BACKEND", "secret-service");
    let agent = start(&s, &[]);
    let add = s
        .run_env(
            &["--debug", "add", "--env", "p"],
            &[
                ("AWS_ACCESS_KEY_ID", KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
            ],
        )
        .ok();
    assert!(
        add.stderr.contains(&format!(
            "Reading keyring backend secret-service through the agent (pid {}",
            agent.0
        )),
        "{}",
        add.stderr
    );
    let args = ["export", "--no-session", "--format=json", "p"];
    let through = s.run(&args).ok().stdout;
    assert!(through.contains(KEY_ID), "{through}");
    // The item is in GNOME Keyring itself: an agent-less process reads the same.
    let direct = s.run_env(&args, &[("AWS_VAULT_AGENT", "off")]).ok().stdout;
    assert_eq!(direct, through);
    s.run(&["agent", "stop"]).ok();
}

/// A cached role on the Secret Service, through the agent: the agent searches GNOME Keyring for
/// the chain's names and the session, as a process on its own does, instead of listing the
/// collection (a call per item). Those searches are live, so keys removed behind the agent's
/// back are missed at once, as they are without it.
#[test]
fn secret_service_through_the_agent_searches_live() {
    let (gk, moto, s) = stores::role_on_gnome_keyring(KEY_ID, SECRET);
    let args = ["--debug", "export", "--format=json", "role"];
    let direct = s.run(&args).ok().stdout;
    let calls = moto.calls().len();
    let agent = start(&s, &[]);
    let through = s.run(&args).ok();
    assert_eq!(through.stdout, direct, "{}", through.stderr);
    assert_eq!(moto.calls().len(), calls, "the cached role was not used");
    for line in [
        &format!("through the agent (pid {}", agent.0),
        "the agent's backend searches: asking it which of role, base are stored",
        "re-using cached sts.AssumeRole credentials for profile role",
    ] {
        assert!(through.stderr.contains(line), "{line}: {}", through.stderr);
    }
    // The source profile's keys removed outside the agent: refused at once, with or without it.
    stores::check(gk.secret_tool().args(["clear", "profile", "base"]));
    let gone = s.run(&args);
    assert_ne!(gone.code, 0, "{}", gone.stdout);
    let without = s.run_env(&args, &[("AWS_VAULT_AGENT", "off")]);
    assert_ne!(without.code, 0, "{}", without.stdout);
    assert_eq!(moto.calls().len(), calls);
    s.run(&["agent", "stop"]).ok();
}

#[test]
fn pass_through_the_agent() {
    let ps = PassStore::start();
    let mut s = Sandbox::with_config("[profile p]\nregion = eu-west-1\n");
    ps.apply(&mut s);
    s.set_env("AWS_VAULT_BACKEND", "pass");
    s.set_env("AWS_VAULT_PASS_PREFIX", "aws-vault");
    s.run_env(
        &["add", "--env", "p"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    let agent = start(&s, &[]);
    let args = ["--debug", "export", "--no-session", "--format=json", "p"];
    let through = s.run(&args).ok();
    assert!(
        through.stderr.contains(&format!(
            "Reading keyring backend pass through the agent (pid {}",
            agent.0
        )),
        "{}",
        through.stderr
    );
    assert!(through.stdout.contains(KEY_ID));
    // A named backend's agent is asked before the store is opened: a process that could not
    // open the store itself (no `pass` on its PATH) is still served.
    let empty = tempfile::tempdir().unwrap();
    let served = s
        .run_env(&args, &[("PATH", &empty.path().display().to_string())])
        .ok();
    assert!(served.stdout.contains(KEY_ID), "{}", served.stderr);
    let refused = s.run_env(
        &args,
        &[
            ("PATH", &empty.path().display().to_string()),
            ("AWS_VAULT_AGENT", "off"),
        ],
    );
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("the pass program is not available"),
        "{}",
        refused.stderr
    );
    // Written through the agent: in the password store for `pass` itself.
    s.run_env(
        &["add", "--env", "q"],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAPASSVIAAGENT0001"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
        ],
    )
    .ok();
    let stored = ps.show("aws-vault/q");
    assert!(stored.contains("\"Key\":\"q\""), "{stored}");
    let direct = s
        .run_env(
            &["export", "--no-session", "--format=json", "q"],
            &[("AWS_VAULT_AGENT", "off")],
        )
        .ok()
        .stdout;
    assert!(direct.contains("AKIAPASSVIAAGENT0001"), "{direct}");
    s.run(&["agent", "stop"]).ok();
}

#[test]
fn reencrypt_refuses_while_an_agent_serves_the_store() {
    // The agent holds the passphrase and writes sessions with its own settings; a rewrite under
    // it would leave items under two passphrases.
    let s = sandbox();
    let _agent = start(&s, &[]);
    let before = std::fs::read(s.keys.join("p")).unwrap();
    let line = s
        .run_env(
            &["reencrypt", "--new-passphrase"],
            &[("AWS_VAULT_FILE_NEW_PASSPHRASE", "another")],
        )
        .fails();
    assert!(
        line.contains("agent stop") && line.contains("nothing was changed"),
        "{line}"
    );
    assert_eq!(std::fs::read(s.keys.join("p")).unwrap(), before);
    s.run(&["agent", "stop"]).ok();
    s.run_env(
        &["reencrypt", "--new-passphrase"],
        &[("AWS_VAULT_FILE_NEW_PASSPHRASE", "another")],
    )
    .ok();
}

/// A `zenity` stand-in (no display here), first on the sandbox's `PATH`: it records its
/// arguments and answers with the exit status in `answer` (0 is zenity's "OK" button, here
/// labelled "Allow"; 1 is "Deny"). Returns the log of its calls.
fn fake_zenity(s: &mut Sandbox) -> PathBuf {
    let bin = s.dir.path().join("dialogs");
    std::fs::create_dir_all(&bin).unwrap();
    let log = s.dir.path().join("dialog.log");
    let answer = s.dir.path().join("answer");
    std::fs::write(&answer, "0").unwrap();
    let script = format!(
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done\necho '--end--' >> '{}'\nexit $(cat '{}')\n",
        log.display(),
        log.display(),
        answer.display()
    );
    let zenity = bin.join("zenity");
    std::fs::write(&zenity, script).unwrap();
    std::fs::set_permissions(&zenity, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    s.set_env("PATH", &path);
    log
}

fn dialogs(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .split("--end--\n")
        .filter(|d| !d.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn per_use_confirmation_asks_once_per_process() {
    let mut s = sandbox();
    let log = fake_zenity(&mut s);

    // A driver that cannot ask without a terminal is refused before anything starts.
    let line = s
        .run(&["--prompt=terminal", "agent", "start", "--confirm"])
        .fails();
    assert!(
        line.contains("'terminal' prompt driver cannot ask") && line.contains("--prompt=zenity"),
        "{line}"
    );
    assert!(!socket(&s).exists());

    let agent = start(&s, &["--confirm"]);
    let status = s.run(&["agent", "status"]).ok().stdout;
    assert!(
        status.contains("confirmation: asks before each use (zenity dialog)"),
        "{status}"
    );

    // Allowed: one question for the whole run, naming the process and the profile.
    let run = run_without_passphrase(&s, &["export", "--no-session", "--format=json", "p"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(KEY_ID), "{}", run.stdout);
    let asked = dialogs(&log);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].contains("--question\n"), "{}", asked[0]);
    assert!(asked[0].contains("--default-cancel\n"), "{}", asked[0]);
    assert!(
        asked[0].contains("wants to read the stored credentials of profile \"p\""),
        "{}",
        asked[0]
    );
    assert!(asked[0].contains("aws-vault (pid "), "{}", asked[0]);
    assert!(!asked[0].contains(SECRET));

    // Every process is asked again: a second run is a second question.
    let run = run_without_passphrase(&s, &["export", "--no-session", "--format=json", "p"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(dialogs(&log).len(), 2);

    // Denied: the run fails with one clear line and prints no credentials.
    std::fs::write(s.dir.path().join("answer"), "1").unwrap();
    let run = run_without_passphrase(&s, &["export", "--no-session", "--format=json", "p"], &[]);
    assert_ne!(run.code, 0);
    assert!(!run.stdout.contains(KEY_ID), "{}", run.stdout);
    assert!(
        run.stderr.contains("the agent's owner did not allow this"),
        "{}",
        run.stderr
    );
    assert_eq!(dialogs(&log).len(), 3);

    // Listings are not asked about; status and stop never are.
    let run = run_without_passphrase(&s, &["list", "--credentials"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains('p'), "{}", run.stdout);
    assert_eq!(dialogs(&log).len(), 3);
    s.run(&["agent", "stop"]).ok();
    drop(agent);
}

#[test]
fn confirmation_from_the_variable_needs_a_dialog_program() {
    let mut s = sandbox();
    let empty = s.dir.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    s.set_env("PATH", &empty.display().to_string());
    s.set_env("AWS_VAULT_AGENT_CONFIRM", "maybe");
    let line = s.run(&["agent", "start"]).fails();
    assert!(
        line.contains("invalid value 'maybe' in AWS_VAULT_AGENT_CONFIRM"),
        "{line}"
    );
    s.set_env("AWS_VAULT_AGENT_CONFIRM", "true");
    let line = s.run(&["agent", "start"]).fails();
    assert!(
        line.contains("none of kdialog, osascript, zenity is in $PATH"),
        "{line}"
    );
    assert!(!socket(&s).exists());
}

/// The backends whose agent is a fresh `agent serve` process (D-Bus) get the confirmation too.
#[test]
fn confirmation_reaches_an_agent_started_as_a_new_process() {
    let gk = GnomeKeyring::start();
    let mut s = Sandbox::with_config("[profile p]\nregion = eu-west-1\n");
    gk.bus.apply(&mut s);
    s.set_env("AWS_VAULT_BACKEND", "secret-service");
    let log = fake_zenity(&mut s);
    s.run_env(
        &["add", "--env", "p"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    let agent = start(&s, &["--confirm"]);
    let status = s.run(&["agent", "status"]).ok().stdout;
    assert!(status.contains("(zenity dialog)"), "{status}");
    std::fs::write(s.dir.path().join("answer"), "1").unwrap();
    let denied = s.run(&["export", "--no-session", "--format=json", "p"]);
    assert_ne!(denied.code, 0);
    assert!(!denied.stdout.contains(KEY_ID));
    std::fs::write(s.dir.path().join("answer"), "0").unwrap();
    let allowed = s
        .run(&["export", "--no-session", "--format=json", "p"])
        .ok();
    assert!(allowed.stdout.contains(KEY_ID), "{}", allowed.stdout);
    assert_eq!(dialogs(&log).len(), 2);
    s.run(&["agent", "stop"]).ok();
    drop(agent);
}
