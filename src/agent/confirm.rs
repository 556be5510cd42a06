//! Per-use confirmation (`aws-vault agent start --confirm`, like `ssh-add -c`).
//!
//! With confirmation on, the agent asks its owner before it serves a process: the first time a
//! connection reads, writes or removes an item, a dialog names the process that asked and the
//! item, and only "Allow" lets the request through. One answer covers the connection, which is one
//! aws-vault run (a `credential_process` call reads a stored key and writes two sessions: one
//! question, not three); a refused connection is refused for the rest of its life without asking
//! again. Key listings reveal only names and are never asked about.
//!
//! The agent has no terminal once it has detached, so the question goes through one of the
//! graphical prompt drivers (`zenity`, `kdialog`, `osascript`; `wincredui` on Windows), chosen
//! like an MFA prompt driver: `--prompt`/`AWS_VAULT_PROMPT` when it names one of them, otherwise
//! the first of them found on `PATH`. `agent start` checks this before it detaches, so a missing
//! dialog program is an error now rather than a refusal later. A dialog that is not answered in
//! [`TIMEOUT`] counts as "Deny".
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `AWS_VAULT_AGENT_CONFIRM=true` is `agent start --confirm`.
pub const ENV_CONFIRM: &str = "AWS_VAULT_AGENT_CONFIRM";

/// How long a question waits for an answer before it counts as "Deny".
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The drivers that can ask a yes/no question without a terminal, in the order they are
/// preferred when `--prompt` does not name one.
const DIALOGS: &[&str] = &[
    "kdialog",
    "osascript",
    #[cfg(windows)]
    "wincredui",
    "zenity",
];

/// How the agent asks: a dialog driver and the program it runs (resolved once, at start).
#[derive(Debug, Clone)]
pub struct Confirmer {
    driver: &'static str,
    /// The full path of the dialog program; `None` for `wincredui`, which is a system call.
    program: Option<PathBuf>,
    /// Words for the item a key names. The agent knows keys only as strings; the caller, which
    /// knows the key formats (the store module, a layer above), supplies the words.
    describe: fn(&str) -> String,
}

/// The words for an item when the caller gave none: the key itself.
fn plain_key(key: &str) -> String {
    format!("the item \"{key}\"")
}

impl Confirmer {
    /// Pick the dialog for `prompt` (`--prompt`/`AWS_VAULT_PROMPT`, when given) with programs
    /// looked up in `path` (a `PATH` value). The error says what to do instead.
    pub fn choose(prompt: Option<&str>, path: &str) -> Result<Confirmer, String> {
        let find = |name: &'static str| -> Option<Confirmer> {
            if name == "wincredui" {
                return Some(Confirmer {
                    driver: name,
                    program: None,
                    describe: plain_key,
                });
            }
            crate::which::look_path(name, path.as_ref()).map(|p| Confirmer {
                driver: name,
                program: Some(p),
                describe: plain_key,
            })
        };
        match prompt.filter(|p| !p.is_empty()) {
            Some(p) => {
                let Some(&name) = DIALOGS.iter().find(|d| **d == p) else {
                    return Err(format!(
                        "--confirm needs a dialog the agent can show after it has left the terminal, and the '{p}' prompt driver cannot ask a yes/no question: use --prompt={}",
                        DIALOGS.join(", --prompt=")
                    ));
                };
                find(name).ok_or_else(|| {
                    format!("--confirm: the '{name}' prompt driver needs {name}, which is not in $PATH")
                })
            }
            None => DIALOGS.iter().find_map(|d| find(d)).ok_or_else(|| {
                format!(
                    "--confirm needs a dialog program the agent can show after it has left the terminal, and none of {} is in $PATH",
                    DIALOGS.join(", ")
                )
            }),
        }
    }

    /// Name items with `describe` in the questions.
    pub fn describing(mut self, describe: fn(&str) -> String) -> Confirmer {
        self.describe = describe;
        self
    }

    /// The question for the first item request of a connection: `verb` the item `key`, asked by
    /// `peer` (see [`describe_peer`]).
    pub fn question(&self, verb: &str, key: &str, peer: &str) -> String {
        format!(
            "{peer} wants to {verb} {} through the aws-vault agent. Allow it?",
            (self.describe)(key)
        )
    }

    /// The driver's name (`agent status` shows it).
    pub fn driver(&self) -> &'static str {
        self.driver
    }

    /// The program and arguments that ask `question` (pure; the tests check them).
    pub fn command(&self, question: &str) -> Option<(&Path, Vec<String>)> {
        let program = self.program.as_deref()?;
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let args = match self.driver {
            // --no-markup: the question holds item names, which are not Pango markup.
            "zenity" => s(&[
                "--question",
                "--title",
                "aws-vault",
                "--no-markup",
                "--text",
                question,
                "--ok-label",
                "Allow",
                "--cancel-label",
                "Deny",
                "--default-cancel",
            ]),
            // The "warning" variant makes "Deny" the default button.
            "kdialog" => s(&[
                "--title",
                "aws-vault",
                "--warningyesno",
                question,
                "--yes-label",
                "Allow",
                "--no-label",
                "Deny",
            ]),
            "osascript" => vec!["-e".to_string(), osascript_source(question)],
            _ => return None,
        };
        Some((program, args))
    }

    /// Ask `question`; `Ok(true)` only for an explicit "Allow". Closing the dialog, "Deny" and
    /// the timeout are `Ok(false)`; `Err` when the dialog could not be shown at all.
    pub fn ask(&self, question: &str) -> Result<bool, String> {
        #[cfg(windows)]
        if self.driver == "wincredui" {
            return Ok(message_box(question));
        }
        let (program, args) = self
            .command(question)
            .ok_or_else(|| format!("the '{}' driver cannot ask", self.driver))?;
        run_dialog(program, &args, self.driver == "osascript", TIMEOUT)
    }
}

/// The AppleScript of the osascript question: "Deny" is both the default and the cancel button,
/// so Return, Escape and closing all deny; it gives up after [`TIMEOUT`].
fn osascript_source(question: &str) -> String {
    format!(
        "set r to display dialog {} with title \"aws-vault\" buttons {{\"Deny\", \"Allow\"}} default button \"Deny\" cancel button \"Deny\" with icon caution giving up after {}\nif gave up of r then error number -128\nreturn button returned of r",
        crate::gofmt::quote::go_quote(question),
        TIMEOUT.as_secs()
    )
}

/// Run a dialog program and wait at most `timeout`; killed and a "Deny" after that.
/// `want_allow`: the answer is on stdout (`Allow`) rather than in the exit status alone.
fn run_dialog(
    program: &Path,
    args: &[String],
    want_allow: bool,
    timeout: Duration,
) -> Result<bool, String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(false);
            }
            Err(e) => return Err(format!("{}: {e}", program.display())),
        }
    };
    if !status.success() {
        return Ok(false);
    }
    if !want_allow {
        return Ok(true);
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    Ok(out.trim() == "Allow")
}

/// `MessageBoxW` with Yes/No, "No" the default; true only for "Yes".
#[cfg(windows)]
fn message_box(question: &str) -> bool {
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        MessageBoxW, IDYES, MB_DEFBUTTON2, MB_ICONWARNING, MB_SETFOREGROUND, MB_TOPMOST, MB_YESNO,
    };
    let wide = |s: &str| s.encode_utf16().chain([0]).collect::<Vec<u16>>();
    let text = wide(&format!("{question}\n\nYes allows it; No refuses it."));
    let title = wide("aws-vault");
    // SAFETY: both strings are NUL-terminated UTF-16 that outlive the call; no owner window.
    let answer = unsafe {
        MessageBoxW(
            std::ptr::null_mut(),
            text.as_ptr(),
            title.as_ptr(),
            MB_YESNO | MB_ICONWARNING | MB_DEFBUTTON2 | MB_SETFOREGROUND | MB_TOPMOST,
        )
    };
    answer == IDYES
}

/// Who is asking, as well as the kernel tells it: the process and the program that started it
/// (an SDK, a shell, a build tool). Names come from `/proc` and can be chosen by the process
/// itself; the pid cannot.
pub fn describe_peer(pid: Option<u32>) -> String {
    let Some(pid) = pid else {
        return "A process of yours".to_string();
    };
    #[cfg(target_os = "linux")]
    {
        let comm = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        // The parent is the fourth field of /proc/<pid>/stat, after the parenthesised name.
        let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let rest = &s[s.rfind(')')? + 1..];
                rest.split_whitespace().nth(1)?.parse::<u32>().ok()
            });
        let me = comm(pid).unwrap_or_else(|| "a process".into());
        match parent.and_then(|pp| comm(pp).map(|c| (pp, c))) {
            Some((pp, name)) => format!("{me} (pid {pid}, started by {name}, pid {pp})"),
            None => format!("{me} (pid {pid})"),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        format!("Process {pid}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_path(names: &[&str]) -> (tempfile::TempDir, String) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for n in names {
            let p = dir.path().join(n);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = dir.path().display().to_string();
        (dir, path)
    }

    #[test]
    fn a_dialog_driver_is_chosen_or_the_error_says_which_to_use() {
        let (_d, path) = fake_path(&["zenity", "kdialog"]);
        assert_eq!(Confirmer::choose(None, &path).unwrap().driver(), "kdialog");
        assert_eq!(
            Confirmer::choose(Some("zenity"), &path).unwrap().driver(),
            "zenity"
        );
        let e = Confirmer::choose(Some("terminal"), &path).unwrap_err();
        assert!(
            e.contains("'terminal'") && e.contains("--prompt=zenity"),
            "{e}"
        );
        assert!(Confirmer::choose(Some("ykman"), &path).is_err());
        let e = Confirmer::choose(Some("osascript"), &path).unwrap_err();
        assert!(e.contains("not in $PATH"), "{e}");
        let (_e, empty) = fake_path(&[]);
        let e = Confirmer::choose(None, &empty).unwrap_err();
        assert!(e.contains("kdialog") && e.contains("zenity"), "{e}");
    }

    #[test]
    fn each_dialog_makes_deny_the_default() {
        let (_d, path) = fake_path(&["zenity", "kdialog", "osascript"]);
        let q = Confirmer::choose(Some("zenity"), &path).unwrap().question(
            "read",
            "prod",
            "aws (pid 7)",
        );
        assert_eq!(
            q,
            "aws (pid 7) wants to read the item \"prod\" through the aws-vault agent. Allow it?"
        );
        let (_, z) = Confirmer::choose(Some("zenity"), &path)
            .unwrap()
            .command(&q)
            .map(|(p, a)| (p.to_path_buf(), a))
            .unwrap();
        assert!(
            z.contains(&"--question".to_string()) && z.contains(&"--default-cancel".to_string())
        );
        assert!(z.contains(&q));
        let k = Confirmer::choose(Some("kdialog"), &path).unwrap();
        let (_, k) = k.command(&q).unwrap();
        assert_eq!(k[2], "--warningyesno");
        let o = Confirmer::choose(Some("osascript"), &path).unwrap();
        let (_, o) = o.command(&q).unwrap();
        assert!(o[1].contains("default button \"Deny\" cancel button \"Deny\""));
        assert!(o[1].contains("giving up after 60"));
    }

    #[test]
    fn a_dialog_answers_by_its_exit_status_and_times_out() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("dialog");
        let write = |body: &str| {
            std::fs::write(&prog, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write("exit 0");
        assert_eq!(run_dialog(&prog, &[], false, TIMEOUT), Ok(true));
        write("exit 1");
        assert_eq!(run_dialog(&prog, &[], false, TIMEOUT), Ok(false));
        write("echo Deny");
        assert_eq!(run_dialog(&prog, &[], true, TIMEOUT), Ok(false));
        write("echo Allow");
        assert_eq!(run_dialog(&prog, &[], true, TIMEOUT), Ok(true));
        assert!(run_dialog(&dir.path().join("missing"), &[], false, TIMEOUT).is_err());
        // Unanswered: killed, and a "Deny".
        write("exec sleep 30");
        let t = std::time::Instant::now();
        assert_eq!(
            run_dialog(&prog, &[], false, Duration::from_millis(200)),
            Ok(false)
        );
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn peers_are_described_for_people() {
        assert_eq!(describe_peer(None), "A process of yours");
        let me = describe_peer(Some(std::process::id()));
        assert!(me.contains(&format!("pid {}", std::process::id())), "{me}");
    }
}
