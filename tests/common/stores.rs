//! Real secret stores for the keyring backend tests: a private D-Bus
//! session bus with GNOME Keyring or kwalletd5, a throw-away GnuPG home with a `pass` store, an
//! `age` identity with a `passage` store. Everything lives in a temporary directory and every
//! process started here is stopped by PID on drop.
//!
//! A missing tool fails the test with the package to install: a store test that skips proves
//! nothing.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Sandbox;

pub const PYTHON: &str = "/usr/bin/python3";

/// Panic unless `prog` is installed (absolute path or in `PATH`).
#[track_caller]
pub fn require(prog: &str, package: &str) -> PathBuf {
    let found = if prog.contains('/') {
        Path::new(prog).is_file().then(|| PathBuf::from(prog))
    } else {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(prog))
                .find(|c| c.is_file())
        })
    };
    found.unwrap_or_else(|| {
        panic!("{prog} is required for the secret store tests: apt-get install -y {package}")
    })
}

/// Panic unless Debian's python3 can import `module`.
#[track_caller]
pub fn require_python_module(module: &str, package: &str) {
    require(PYTHON, "python3");
    let ok = Command::new(PYTHON)
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{PYTHON} cannot import {module}: apt-get install -y {package}"
    );
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/stores")
        .join(name)
}

/// Send SIGTERM, wait up to 3 s, then SIGKILL.
pub fn stop_pid(pid: i32) {
    if pid <= 0 {
        return;
    }
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        // Reap it if it is our child; otherwise just probe.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        if unsafe { libc::kill(pid, 0) } != 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Run a command to completion; panic with its output when it fails.
#[track_caller]
pub fn check(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A private `dbus-daemon --session` with its own runtime, data, config and home directories.
pub struct Bus {
    pub dir: tempfile::TempDir,
    pub address: String,
    child: std::process::Child,
    /// Other daemons started on this bus, stopped before the bus.
    pub pids: Vec<i32>,
}

impl Bus {
    pub fn start() -> Bus {
        Bus::launch(false)
    }

    /// A session bus that can start no service on demand (no service directories), so that a
    /// name nobody owns stays unowned.
    pub fn start_without_services() -> Bus {
        Bus::launch(true)
    }

    fn launch(bare: bool) -> Bus {
        require("dbus-daemon", "dbus-daemon");
        let dir = tempfile::tempdir().expect("temp dir");
        for d in ["run", "home", "data", "config"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("run"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let sock = dir.path().join("run/bus");
        let config = if bare {
            let path = dir.path().join("bus.conf");
            std::fs::write(
                &path,
                format!(
                    "<busconfig><type>session</type><listen>unix:path={}</listen>\
                     <auth>EXTERNAL</auth><policy context=\"default\">\
                     <allow send_destination=\"*\" eavesdrop=\"true\"/>\
                     <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>",
                    sock.display()
                ),
            )
            .unwrap();
            vec![format!("--config-file={}", path.display())]
        } else {
            vec![
                "--session".to_string(),
                format!("--address=unix:path={}", sock.display()),
            ]
        };
        // Not --fork: the daemon stays our child, so it is stopped and reaped by PID.
        let mut child = Command::new("dbus-daemon")
            .args(config)
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon");
        let mut line = String::new();
        {
            use std::io::BufRead;
            let stdout = child.stdout.take().unwrap();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .expect("dbus-daemon address");
        }
        let address = line.trim().to_string();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        Bus {
            dir,
            address,
            child,
            pids: Vec::new(),
        }
    }

    /// The environment a client of this bus needs.
    pub fn env(&self) -> Vec<(String, String)> {
        let p = |d: &str| self.dir.path().join(d).display().to_string();
        vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.address.clone()),
            ("XDG_RUNTIME_DIR".into(), p("run")),
            ("XDG_DATA_HOME".into(), p("data")),
            ("XDG_CONFIG_HOME".into(), p("config")),
        ]
    }

    /// A command with this bus's environment (and HOME pointing into the bus directory).
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(prog);
        c.envs(self.env()).env("HOME", self.dir.path().join("home"));
        c
    }

    /// Wait until `name` has an owner on this bus.
    #[track_caller]
    pub fn wait_for_name(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                ])
                .arg(format!("string:{name}"))
                .output()
                .expect("dbus-send (apt-get install -y dbus-bin)");
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not appear on the bus"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The PID of the process owning `name`.
    pub fn owner_pid(&self, name: &str) -> Option<i32> {
        let out = self
            .command("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.GetConnectionUnixProcessID",
            ])
            .arg(format!("string:{name}"))
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .last()?
            .parse()
            .ok()
    }

    pub fn apply(&self, sb: &mut Sandbox) {
        for (k, v) in self.env() {
            sb.set_env(&k, &v);
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        for pid in self.pids.drain(..) {
            stop_pid(pid);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GNOME Keyring on a private bus, unlocked, with an `awsvault` collection created headless
/// (test-infra §2.1).
pub struct GnomeKeyring {
    pub bus: Bus,
    /// Object path of the `awsvault` collection.
    pub collection: String,
}

/// GNOME Keyring, moto, and a sandbox on them whose profile `role` assumes a role with the
/// keys of `base` (given, and stored in the keyring).
pub fn role_on_gnome_keyring(
    key_id: &str,
    secret: &str,
) -> (GnomeKeyring, super::moto::Moto, Sandbox) {
    let gk = GnomeKeyring::start();
    let moto = super::moto::Moto::start();
    let mut s = Sandbox::with_config(
        "[profile base]\nregion = us-east-1\n\
         [profile role]\nregion = us-east-1\nsource_profile = base\n\
         role_arn = arn:aws:iam::222222222222:role/Admin\n",
    );
    gk.bus.apply(&mut s);
    s.set_env("AWS_ENDPOINT_URL", &moto.url());
    s.set_env("AWS_VAULT_BACKEND", "secret-service");
    s.add("base", key_id, secret);
    (gk, moto, s)
}

impl GnomeKeyring {
    pub fn start() -> GnomeKeyring {
        require("gnome-keyring-daemon", "gnome-keyring");
        require("secret-tool", "libsecret-tools");
        require("dbus-send", "dbus-bin");
        require_python_module("dbus", "python3-dbus");
        let mut bus = Bus::start();
        let mut child = bus
            .command("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"test-login-pw").unwrap();
        }
        child.wait().unwrap();
        bus.wait_for_name("org.freedesktop.secrets");
        if let Some(pid) = bus.owner_pid("org.freedesktop.secrets") {
            bus.pids.push(pid);
        }
        let collection = check(
            bus.command(PYTHON)
                .arg(script("ss_tool.py"))
                .args(["mkcoll", "awsvault", ""]),
        )
        .trim()
        .to_string();
        assert_eq!(collection, "/org/freedesktop/secrets/collection/awsvault");
        GnomeKeyring { bus, collection }
    }

    /// Run `ss_tool.py` with this bus.
    pub fn tool(&self, args: &[&str]) -> String {
        check(
            self.bus
                .command(PYTHON)
                .arg(script("ss_tool.py"))
                .args(args),
        )
    }

    /// A `secret-tool` command on this bus.
    pub fn secret_tool(&self) -> Command {
        self.bus.command("secret-tool")
    }
}

/// kwalletd5 on a private bus, started the pam_kwallet5 way so that the `aws-vault` wallet is
/// created and opened without a dialog (test-infra §4, with `Default Wallet=aws-vault`).
pub struct KWallet {
    pub bus: Bus,
}

impl KWallet {
    pub fn start() -> KWallet {
        require("kwalletd5", "libkf5wallet-bin");
        require("dbus-send", "dbus-bin");
        require_python_module("dbus", "python3-dbus");
        let mut bus = Bus::start();
        std::fs::write(
            bus.dir.path().join("config/kwalletrc"),
            "[Wallet]\nDefault Wallet=aws-vault\nFirst Use=false\nEnabled=true\n",
        )
        .unwrap();
        let pid: i32 = check(bus.command(PYTHON).arg(script("kw_tool.py")).arg("start"))
            .trim()
            .parse()
            .expect("kwalletd5 pid");
        bus.pids.push(pid);
        bus.wait_for_name("org.kde.kwalletd5");
        KWallet { bus }
    }

    pub fn tool(&self, args: &[&str]) -> String {
        check(
            self.bus
                .command(PYTHON)
                .arg(script("kw_tool.py"))
                .args(args),
        )
    }
}

/// A `pass` store with a throw-away GnuPG home and a passphrase-less batch key (test-infra §3).
pub struct PassStore {
    pub dir: tempfile::TempDir,
    pub gnupghome: PathBuf,
    pub store: PathBuf,
}

impl PassStore {
    pub fn start() -> PassStore {
        require("pass", "pass");
        require("gpg", "gnupg");
        let dir = tempfile::tempdir().expect("temp dir");
        let gnupghome = dir.path().join("gnupg");
        let store = dir.path().join("store");
        std::fs::create_dir(&gnupghome).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&gnupghome, std::fs::Permissions::from_mode(0o700)).unwrap();
        let s = PassStore {
            dir,
            gnupghome,
            store,
        };
        check(s.command("gpg").args([
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "aws-vault test <test@example.invalid>",
            "default",
            "default",
            "never",
        ]));
        let listing = check(
            s.command("gpg")
                .args(["--list-secret-keys", "--with-colons"]),
        );
        let fpr = listing
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("key fingerprint")
            .to_string();
        check(s.command("pass").args(["init", &fpr]));
        s
    }

    pub fn command(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.env("GNUPGHOME", &self.gnupghome)
            .env("PASSWORD_STORE_DIR", &self.store);
        c
    }

    /// `pass insert -m -f NAME` with `content` on stdin.
    pub fn insert(&self, name: &str, content: &str) {
        let mut child = self
            .command("pass")
            .args(["insert", "-m", "-f", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("pass");
        {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(content.as_bytes())
                .unwrap();
        }
        assert!(child.wait().unwrap().success(), "pass insert {name} failed");
    }

    pub fn show(&self, name: &str) -> String {
        check(self.command("pass").args(["show", name]))
    }

    pub fn apply(&self, sb: &mut Sandbox) {
        sb.set_env("GNUPGHOME", &self.gnupghome.display().to_string());
        sb.set_env("PASSWORD_STORE_DIR", &self.store.display().to_string());
    }

    /// An executable that runs `pass` with this store's GnuPG home, for `--pass-cmd` and for
    /// library-level tests (which must not change the test process's environment).
    pub fn wrapper(&self) -> PathBuf {
        let p = self.dir.path().join("pass-wrapper");
        let text = format!(
            "#!/bin/sh\nGNUPGHOME='{}' exec pass \"$@\"\n",
            self.gnupghome.display()
        );
        std::fs::write(&p, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

impl Drop for PassStore {
    fn drop(&mut self) {
        let _ = self
            .command("gpgconf")
            .args(["--kill", "gpg-agent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A `passage` store: a real `age` identity and recipients file. Debian 12 has no package for
/// FiloSottile's `passage` (the Debian package of that name is a game), so the `passage` program
/// used is `tests/support/stores/passage`, a stand-in implementing the subset aws-vault calls
/// (`show`, `insert -m -f`, `rm -f`) with passage's store layout on top of the real `age`.
pub struct PassageStore {
    pub dir: tempfile::TempDir,
    pub store: PathBuf,
    pub identities: PathBuf,
    /// Directory to put first in `PATH` (holds the `passage` stand-in).
    pub bin: PathBuf,
}

impl PassageStore {
    pub fn start() -> PassageStore {
        require("age", "age");
        require("age-keygen", "age");
        let dir = tempfile::tempdir().expect("temp dir");
        let store = dir.path().join("store");
        let identities = dir.path().join("identities");
        std::fs::create_dir(&store).unwrap();
        let out = Command::new("age-keygen")
            .arg("-o")
            .arg(&identities)
            .output()
            .expect("age-keygen");
        assert!(out.status.success());
        let text = std::fs::read_to_string(&identities).unwrap();
        let recipient = text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .expect("public key")
            .to_string();
        std::fs::write(store.join(".age-recipients"), format!("{recipient}\n")).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::copy(script("passage"), bin.join("passage")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("passage"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        PassageStore {
            dir,
            store,
            identities,
            bin,
        }
    }

    pub fn apply(&self, sb: &mut Sandbox) {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        sb.set_env("PATH", &path);
        sb.set_env("PASSAGE_DIR", &self.store.display().to_string());
        sb.set_env(
            "PASSAGE_IDENTITIES_FILE",
            &self.identities.display().to_string(),
        );
    }

    /// Decrypt an entry with `age` directly.
    pub fn show(&self, name: &str) -> String {
        check(
            Command::new("age")
                .arg("-d")
                .arg("-i")
                .arg(&self.identities)
                .arg(self.store.join(format!("{name}.age"))),
        )
    }
}
