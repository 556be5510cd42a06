//! Black-box test harness: runs the built `aws-vault` binary with an isolated `HOME`, config
//! file and key directory, and a clean environment.
#![allow(dead_code)]

pub mod moto;
pub mod sso;
pub mod stores;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const PASSPHRASE: &str = "correct horse battery staple";

/// The binary under test: `$AWS_VAULT_BIN` when set (`scripts/test static` points it at the static
/// release binary that ships), else the debug binary cargo built for this test run. Every test
/// that runs aws-vault, or puts it on a `PATH`, takes it from here.
pub fn bin() -> PathBuf {
    match std::env::var_os("AWS_VAULT_BIN").filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = std::fs::canonicalize(&path)
                .unwrap_or_else(|e| panic!("AWS_VAULT_BIN={}: {e}", Path::new(&path).display()));
            // Completion tests call the binary by name from its directory on PATH.
            assert_eq!(
                path.file_name().and_then(|n| n.to_str()),
                Some("aws-vault"),
                "AWS_VAULT_BIN must name a file called aws-vault: {}",
                path.display()
            );
            path
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_aws-vault")),
    }
}

/// The directory holding [`bin`], for tests that put aws-vault on `PATH`.
pub fn bin_dir() -> PathBuf {
    bin()
        .parent()
        .expect("binary has a directory")
        .to_path_buf()
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub config: PathBuf,
    pub keys: PathBuf,
    extra_env: Vec<(String, String)>,
}

/// The result of one run, with helpers that print everything on failure.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !run.stderr.contains("panicked") && !run.stdout.contains("panicked"),
            "aws-vault panicked:\n{}",
            run.stderr
        );
        run
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Assert failure with exactly one line on stderr, and return that line.
    #[track_caller]
    pub fn fails(self) -> String {
        assert_ne!(
            self.code, 0,
            "expected failure\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one line on stderr, got:\n{}",
            self.stderr
        );
        lines[0].to_string()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".aws")).unwrap();
        let config = home.join(".aws").join("config");
        let keys = home.join(".awsvault").join("keys");
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        Sandbox {
            dir,
            home,
            config,
            keys,
            extra_env: Vec::new(),
        }
    }

    pub fn with_config(text: &str) -> Sandbox {
        let s = Sandbox::new();
        s.write_config(text);
        s
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(&self.config, text).unwrap();
    }

    pub fn set_env(&mut self, k: &str, v: &str) {
        self.extra_env.push((k.into(), v.into()));
    }

    /// A command with a clean environment: PATH, HOME, the config file and the passphrase.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("AWS_CONFIG_FILE", &self.config)
            .env("AWS_VAULT_FILE_PASSPHRASE", PASSPHRASE)
            .env("AWS_VAULT_BACKEND", "file")
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null());
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().expect("run aws-vault"))
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.cmd(args);
        for (k, v) in env {
            c.env(k, v);
        }
        Run::from(c.output().expect("run aws-vault"))
    }

    /// `aws-vault add --env <profile>` with the given key pair.
    pub fn add(&self, profile: &str, id: &str, secret: &str) -> Run {
        self.run_env(
            &["add", "--env", profile],
            &[("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret)],
        )
        .ok()
    }

    /// The library's view of the same key directory, for seeding sessions and tokens.
    pub fn keyring(&self) -> aws_vault::keyring::file::FileKeyring {
        let cfg = aws_vault::keyring::Config {
            backend: Some("file".into()),
            file_passphrase: Some(zeroize::Zeroizing::new(PASSPHRASE.to_string())),
            home: self.home.clone(),
            ..Default::default()
        };
        aws_vault::keyring::file::FileKeyring::new(&cfg)
    }

    pub fn key_file(&self, key: &str) -> PathBuf {
        self.keys.join(key.replace('%', "%25").replace('/', "%2F"))
    }
}

/// Python 3 with jwcrypto, the independent JWE implementation used for interop. Missing tools
/// fail the test loudly: an interop test that skips proves nothing.
pub fn jwe_tool(args: &[&str]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/jwe_tool.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .expect("python3 is required for the JWE interop tests (apt-get install python3)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'jwcrypto'"),
        "python3 with jwcrypto is required: pip install jwcrypto"
    );
    out
}

impl Sandbox {
    /// Run without a controlling terminal (`setsid`), as under a CI runner or an SDK's
    /// `credential_process`, so `/dev/tty` cannot be opened.
    pub fn run_detached(&self, args: &[&str]) -> Run {
        let inner = self.cmd(args);
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
        c.stdin(Stdio::null());
        Run::from(c.output().expect("setsid (util-linux) is required"))
    }
}
