//! MFA code sources against fake helper programs (zenity, kdialog, ykman) on a private `PATH`,
//! real `/bin/sh` for `mfa_process`, and real terminals: `setsid -w` for "no controlling
//! terminal" and util-linux `script` for a pseudo-terminal.
//!
//! Tests that need a different terminal situation re-run this test binary (`--exact <name>`)
//! under `setsid`/`script`; the child notices `MFA_TEST_CHILD_RESULT`, asks its `MfaSource` for a
//! code and writes `OK:<code>` or `ERR:<message>` to that file.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_vault::mfa::MfaSource;

const SERIAL: &str = "arn:aws:iam::123456789012:mfa/jon";
const PROMPT: &str = "Enter MFA code for arn:aws:iam::123456789012:mfa/jon: ";

/// A temp dir of fake helper programs; each logs its argv (one `[arg]` per argument, one line
/// per run) to `<dir>/<name>.log`, then runs its body.
struct Fakes {
    dir: tempfile::TempDir,
}

impl Fakes {
    fn new() -> Fakes {
        Fakes {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn add(&self, name: &str, body: &str) -> &Fakes {
        let log = self.log_path(name);
        let script = format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\" >> '{}'; done\necho >> '{}'\n{body}\n",
            log.display(),
            log.display()
        );
        // Written by a child process (`install`), never through a writable fd of this process:
        // another test thread forking meanwhile would otherwise make exec fail with ETXTBSY.
        let src = self.dir.path().join(format!("{name}.src"));
        std::fs::write(&src, script).unwrap();
        let status = Command::new("install")
            .arg("-m")
            .arg("0755")
            .arg(&src)
            .arg(self.dir.path().join(name))
            .status()
            .unwrap();
        assert!(status.success());
        self
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// The argv lines logged by `name`, or `None` if it never ran.
    fn log(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.log_path(name)).ok()
    }

    fn env(&self, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut env = BTreeMap::from([(
            "PATH".to_string(),
            self.path().to_str().unwrap().to_string(),
        )]);
        for (k, v) in extra {
            env.insert(k.to_string(), v.to_string());
        }
        env
    }

    /// A source with `prompt` as the explicit driver (stdout not a terminal).
    fn source(&self, prompt: &str, extra: &[(&str, &str)]) -> MfaSource {
        MfaSource::new(None, Some(prompt.into()), false, false, &self.env(extra))
    }
}

// ---------------------------------------------------------------------------------------------
// GUI dialogs and ykman

#[test]
fn zenity_argv_and_trimmed_answer() {
    let f = Fakes::new();
    f.add("zenity", "printf '  112233 \\n'");
    let code = f.source("zenity", &[]).code(SERIAL, None).unwrap();
    assert_eq!(code, "112233");
    assert_eq!(
        f.log("zenity").unwrap(),
        format!("[--entry][--title][aws-vault][--text][{PROMPT}]\n")
    );
}

#[test]
fn kdialog_argv_and_trimmed_answer() {
    let f = Fakes::new();
    f.add("kdialog", "printf '\\t445566\\n\\n'");
    let code = f.source("kdialog", &[]).code(SERIAL, None).unwrap();
    assert_eq!(code, "445566");
    assert_eq!(
        f.log("kdialog").unwrap(),
        format!("[--inputbox][{PROMPT}][--title][aws-vault]\n")
    );
}

#[test]
fn ykman_v4_default_argv() {
    let f = Fakes::new();
    f.add("ykman", "echo 778899");
    let code = f.source("ykman", &[]).code(SERIAL, None).unwrap();
    assert_eq!(code, "778899");
    assert_eq!(
        f.log("ykman").unwrap(),
        format!("[oath][accounts][code][--single][{SERIAL}]\n")
    );
}

#[test]
fn ykman_v1_to_3_argv_with_device_and_credential_name() {
    for version in ["1", "2", "3"] {
        let f = Fakes::new();
        f.add("ykman", "echo ' 101010 '");
        let env = [
            ("AWS_VAULT_YKMAN_VERSION", version),
            ("YKMAN_OATH_DEVICE_SERIAL", "7654321"),
            ("YKMAN_OATH_CREDENTIAL_NAME", "Amazon Web Services:jon@acme"),
        ];
        let code = f.source("ykman", &env).code(SERIAL, None).unwrap();
        assert_eq!(code, "101010");
        assert_eq!(
            f.log("ykman").unwrap(),
            "[--device][7654321][oath][code][--single][Amazon Web Services:jon@acme]\n",
            "AWS_VAULT_YKMAN_VERSION={version}"
        );
    }
}

#[test]
fn ykman_v4_with_device_serial() {
    let f = Fakes::new();
    f.add("ykman", "echo 202020");
    let env = [
        ("AWS_VAULT_YKMAN_VERSION", "5"),
        ("YKMAN_OATH_DEVICE_SERIAL", "1111"),
    ];
    assert_eq!(
        f.source("ykman", &env).code(SERIAL, None).unwrap(),
        "202020"
    );
    assert_eq!(
        f.log("ykman").unwrap(),
        format!("[--device][1111][oath][accounts][code][--single][{SERIAL}]\n")
    );
}

#[test]
fn helper_non_zero_exit_is_an_error_without_its_stdout() {
    let f = Fakes::new();
    f.add("zenity", "echo 999111; exit 1");
    f.add(
        "kdialog",
        "echo 999222; echo 'cannot connect to X server' >&2; exit 3",
    );
    f.add("ykman", "echo 999333; exit 2");

    let err = f.source("zenity", &[]).code(SERIAL, None).unwrap_err();
    assert_eq!(err.to_string(), "zenity: exit status 1");

    let err = f.source("kdialog", &[]).code(SERIAL, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "kdialog: exit status 3: cannot connect to X server"
    );

    let err = f.source("ykman", &[]).code(SERIAL, None).unwrap_err();
    assert_eq!(format!("{err:#}"), "ykman: exit status 2");
}

#[test]
fn helper_killed_by_signal_is_an_error() {
    let f = Fakes::new();
    f.add("zenity", "kill -9 $$");
    let err = f.source("zenity", &[]).code(SERIAL, None).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("zenity: signal: 9"), "{msg}");
}

#[test]
fn empty_answer_is_an_error() {
    let f = Fakes::new();
    f.add("zenity", "printf '  \\n'");
    let err = f.source("zenity", &[]).code(SERIAL, None).unwrap_err();
    assert_eq!(err.to_string(), "zenity: printed no MFA code");
}

#[test]
fn default_driver_runs_ykman_when_stdout_is_piped() {
    let f = Fakes::new();
    f.add("ykman", "echo 303030");
    f.add("zenity", "echo 404040");
    let src = MfaSource::new(None, None, false, false, &f.env(&[]));
    assert_eq!(src.driver(), "ykman");
    assert_eq!(src.code(SERIAL, None).unwrap(), "303030");
    assert!(f.log("zenity").is_none());
}

#[test]
fn server_mode_avoids_the_terminal() {
    let f = Fakes::new();
    f.add("zenity", "echo 505050");
    let src = MfaSource::new(None, None, true, true, &f.env(&[]));
    assert_eq!(src.driver(), "zenity");
    assert_eq!(src.code(SERIAL, None).unwrap(), "505050");
}

// ---------------------------------------------------------------------------------------------
// mfa_process and --mfa-token precedence

#[test]
fn mfa_process_output_is_trimmed() {
    let f = Fakes::new();
    let src = f.source("terminal", &[]);
    assert_eq!(
        src.code(SERIAL, Some("printf ' 123456\\n'")).unwrap(),
        "123456"
    );
}

#[test]
fn mfa_process_beats_the_driver() {
    let f = Fakes::new();
    f.add("zenity", "echo 111111");
    let src = f.source("zenity", &[]);
    assert_eq!(src.code(SERIAL, Some("echo 222222")).unwrap(), "222222");
    assert!(f.log("zenity").is_none(), "zenity must not run");
    // Without mfa_process the driver is used.
    assert_eq!(src.code(SERIAL, None).unwrap(), "111111");
    assert!(f.log("zenity").is_some());
}

#[test]
fn mfa_token_beats_mfa_process_and_driver() {
    let f = Fakes::new();
    f.add("zenity", "echo 111111");
    let marker = f.path().join("mfa_process-ran");
    let process = format!("touch '{}'; echo 222222", marker.display());
    let src = MfaSource::new(
        Some(zeroize::Zeroizing::new("333333".to_string())),
        Some("zenity".into()),
        false,
        false,
        &f.env(&[]),
    );
    for _ in 0..2 {
        assert_eq!(src.code(SERIAL, Some(&process)).unwrap(), "333333");
        assert_eq!(src.code(SERIAL, None).unwrap(), "333333");
    }
    assert!(!marker.exists(), "mfa_process must not run");
    assert!(f.log("zenity").is_none(), "zenity must not run");
}

#[test]
fn mfa_process_failure_names_the_status_but_not_the_command_or_output() {
    let f = Fakes::new();
    let src = f.source("terminal", &[]);
    let err = src
        .code(SERIAL, Some("echo 987654; exit 5 # JBSWY3DPEHPK3PXP"))
        .unwrap_err();
    let msg = format!("{err:#}");
    assert_eq!(msg, "process provider: exit status 5");
}

#[test]
fn mfa_process_with_empty_output_is_an_error() {
    let f = Fakes::new();
    let err = f
        .source("terminal", &[])
        .code(SERIAL, Some("true"))
        .unwrap_err();
    assert_eq!(err.to_string(), "process provider: printed no MFA code");
}

// ---------------------------------------------------------------------------------------------
// Terminal situations, in a child copy of this test binary

const CHILD_RESULT: &str = "MFA_TEST_CHILD_RESULT";
const CHILD_PROMPT: &str = "MFA_TEST_CHILD_PROMPT";
const CHILD_PATH: &str = "MFA_TEST_CHILD_PATH";
const CHILD_PROCESS: &str = "MFA_TEST_CHILD_PROCESS";

/// In a child run: ask for a code as the parent described, write the outcome, return true.
fn child_main() -> bool {
    let Some(result) = std::env::var_os(CHILD_RESULT) else {
        return false;
    };
    let var = |name| std::env::var(name).ok();
    let env = BTreeMap::from([("PATH".to_string(), var(CHILD_PATH).unwrap_or_default())]);
    let src = MfaSource::new(None, var(CHILD_PROMPT), false, false, &env);
    let outcome = match src.code(SERIAL, var(CHILD_PROCESS).as_deref()) {
        Ok(code) => format!("OK:{code}"),
        Err(e) => format!("ERR:{e:#}"),
    };
    std::fs::write(result, outcome).unwrap();
    true
}

enum Wrap<'a> {
    /// `setsid -w`: a new session without a controlling terminal.
    Setsid,
    /// `script -qec`: a pseudo-terminal as the controlling terminal, with `typed` as the keyboard
    /// input; the child's own stdin, stdout and stderr are redirected away from it.
    Script { typed: &'a str },
}

struct Child<'a> {
    test: &'a str,
    prompt: &'a str,
    path: &'a Path,
    process: Option<&'a str>,
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Run this test binary's test `child.test` under `wrap`; returns the child's outcome line and
/// what the wrapper printed (the terminal's screen for `script`).
fn run_child(child: &Child, wrap: Wrap) -> (String, String) {
    let exe = std::env::current_exe().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let result = tmp.path().join("result");
    let test_args = [child.test, "--exact", "--test-threads=1", "-q"];
    let (mut cmd, typed) = match wrap {
        Wrap::Setsid => {
            let mut cmd = Command::new("setsid");
            cmd.arg("-w").arg(&exe).args(test_args);
            (cmd, "")
        }
        Wrap::Script { typed } => {
            let mut line = shell_quote(exe.to_str().unwrap());
            for a in test_args {
                line.push(' ');
                line.push_str(&shell_quote(a));
            }
            line.push_str(" </dev/null >/dev/null 2>&1");
            let mut cmd = Command::new("script");
            cmd.arg("-qec").arg(line).arg("/dev/null");
            (cmd, typed)
        }
    };
    cmd.env(CHILD_RESULT, &result)
        .env(CHILD_PROMPT, child.prompt)
        .env(CHILD_PATH, child.path)
        .env_remove(CHILD_PROCESS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = child.process {
        cmd.env(CHILD_PROCESS, p);
    }
    let mut proc = cmd.spawn().expect("spawn the child test run");
    let mut stdin = proc.stdin.take().unwrap();
    stdin.write_all(typed.as_bytes()).unwrap();
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(60);
    while proc.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = proc.kill();
            panic!("child test run {} timed out", child.test);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = proc.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    let outcome = std::fs::read_to_string(&result).unwrap_or_else(|_| {
        panic!(
            "child test run {} wrote no result ({}); stdout: {screen}; stderr: {}",
            child.test,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (outcome, screen)
}

#[test]
fn terminal_without_controlling_terminal_fails_clearly() {
    if child_main() {
        return;
    }
    let f = Fakes::new();
    let (outcome, _) = run_child(
        &Child {
            test: "terminal_without_controlling_terminal_fails_clearly",
            prompt: "terminal",
            path: f.path(),
            process: None,
        },
        Wrap::Setsid,
    );
    assert_eq!(
        outcome,
        format!(
            "ERR:no terminal to ask for the MFA code for {SERIAL}; use --mfa-token, mfa_process or a GUI --prompt driver"
        )
    );
}

#[test]
fn terminal_reads_the_controlling_terminal_not_stdin() {
    if child_main() {
        return;
    }
    let f = Fakes::new();
    let (outcome, screen) = run_child(
        &Child {
            test: "terminal_reads_the_controlling_terminal_not_stdin",
            prompt: "terminal",
            path: f.path(),
            process: None,
        },
        Wrap::Script {
            typed: "  654321 \n",
        },
    );
    assert_eq!(outcome, "OK:654321");
    assert!(
        screen.contains(PROMPT),
        "prompt not on the terminal: {screen:?}"
    );
}

#[test]
fn terminal_empty_answer_is_an_error() {
    if child_main() {
        return;
    }
    let f = Fakes::new();
    let (outcome, _) = run_child(
        &Child {
            test: "terminal_empty_answer_is_an_error",
            prompt: "terminal",
            path: f.path(),
            process: None,
        },
        Wrap::Script { typed: "   \n" },
    );
    assert_eq!(outcome, format!("ERR:no MFA code entered for {SERIAL}"));
}

/// A fake helper body that reports where its stdin and stderr point, then prints a code.
const REPORT_STDIO: &str = "
if [ -t 0 ]; then i=tty; else i=$(readlink /proc/self/fd/0); fi
if [ -t 2 ]; then e=tty; else e=$(readlink /proc/self/fd/2); fi
echo \"stdin=$i stderr=$e\"";

#[test]
fn ykman_without_terminal_gets_null_stdin() {
    if child_main() {
        return;
    }
    let f = Fakes::new();
    f.add("ykman", REPORT_STDIO);
    let (outcome, _) = run_child(
        &Child {
            test: "ykman_without_terminal_gets_null_stdin",
            prompt: "ykman",
            path: f.path(),
            process: None,
        },
        Wrap::Setsid,
    );
    // Without a terminal ykman's stderr is aws-vault's: the pipe this test gave setsid.
    assert!(
        outcome.starts_with("OK:stdin=/dev/null stderr=pipe:"),
        "{outcome}"
    );
    assert!(f.log("ykman").is_some());
}

#[test]
fn ykman_and_mfa_process_get_the_terminal_as_stdin_and_stderr() {
    if child_main() {
        return;
    }
    let f = Fakes::new();
    f.add(
        "ykman",
        &format!("{REPORT_STDIO}\necho 'Touch your YubiKey...' >&2"),
    );
    let (outcome, screen) = run_child(
        &Child {
            test: "ykman_and_mfa_process_get_the_terminal_as_stdin_and_stderr",
            prompt: "ykman",
            path: f.path(),
            process: None,
        },
        Wrap::Script { typed: "" },
    );
    // The child's own stdin/stdout/stderr are /dev/null, yet ykman sees the terminal, and its
    // stderr message reaches the screen.
    assert_eq!(outcome, "OK:stdin=tty stderr=tty");
    assert!(screen.contains("Touch your YubiKey..."), "{screen:?}");

    let process = format!("{REPORT_STDIO}\necho 'from mfa_process' >&2");
    let (outcome, screen) = run_child(
        &Child {
            test: "ykman_and_mfa_process_get_the_terminal_as_stdin_and_stderr",
            prompt: "ykman",
            path: f.path(),
            process: Some(&process),
        },
        Wrap::Script { typed: "" },
    );
    assert_eq!(outcome, "OK:stdin=tty stderr=tty");
    assert!(screen.contains("from mfa_process"), "{screen:?}");
}

#[test]
fn mfa_process_reads_the_terminal() {
    if child_main() {
        return;
    }
    let f = Fakes::new();
    let (outcome, _) = run_child(
        &Child {
            test: "mfa_process_reads_the_terminal",
            prompt: "terminal",
            path: f.path(),
            process: Some("printf 'pin? ' >&2; read pin; echo \"code-$pin\""),
        },
        Wrap::Script { typed: "4242\n" },
    );
    assert_eq!(outcome, "OK:code-4242");
}
