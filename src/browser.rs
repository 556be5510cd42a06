//! Opening a URL in the user's browser: the console sign-in URL of `login` and the SSO
//! authorization page.
//!
//! `$BROWSER` is tried first, read as Python's `webbrowser` and xdg-utils read it: a list of
//! commands separated like `PATH` (`:`, on Windows `;`), each split on whitespace, with `%s`
//! replaced by the URL or else the URL appended as the last argument. No shell is involved, so
//! the `&` of a query string is never interpreted. The platform's openers come last, as the
//! `open` crate knows them (`xdg-open`, `gio`, … and WSL on Linux; `open` on macOS; the shell's
//! URL handler on Windows), the same openers the Go tool reaches through its `open` package.
//!
//! Errors name the program, never the URL (a console URL carries a sign-in token).
use std::process::{Command, Stdio};

/// How the caller waits for the opener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Run each command to its end; one that exits non-zero counts as failed and the next is
    /// tried (`login`, which has nothing else to do).
    ForExit,
    /// Start the command and return; it is reaped in the background (the SSO login, which
    /// serves the browser's redirect while the browser runs).
    ForStart,
}

/// The `$BROWSER` commands for `url`, in order, as argument vectors.
pub fn browser_commands(browser: Option<&str>, url: &str) -> Vec<Vec<String>> {
    let separator = if cfg!(windows) { ';' } else { ':' };
    browser
        .unwrap_or("")
        .split(separator)
        .filter_map(|entry| {
            let words: Vec<&str> = entry.split_whitespace().collect();
            if words.is_empty() {
                return None;
            }
            let mut argv: Vec<String> = words.iter().map(|w| w.replace("%s", url)).collect();
            if !words.iter().any(|w| w.contains("%s")) {
                argv.push(url.to_string());
            }
            Some(argv)
        })
        .collect()
}

/// Open `url` with the first command that works: the `$BROWSER` commands (`browser` is its
/// value), then the platform openers. The error describes the last failure.
pub fn open(browser: Option<&str>, url: &str, wait: Wait) -> Result<(), String> {
    let listed = browser_commands(browser, url).into_iter().map(|argv| {
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd
    });
    let mut last = String::from("no browser command");
    for mut cmd in listed.chain(::open::commands(url)) {
        let program = cmd.get_program().to_string_lossy().into_owned();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match wait {
            Wait::ForExit => match cmd.status() {
                Ok(s) if s.success() => return Ok(()),
                Ok(s) => last = format!("{program} exited with {s}"),
                Err(e) => last = format!("cannot run {program}: {e}"),
            },
            Wait::ForStart => match cmd.spawn() {
                Ok(mut child) => {
                    crate::debug!("opened the browser with {program}");
                    // Its exit status does not matter; reaping it avoids a zombie.
                    std::thread::spawn(move || {
                        let _ = child.wait();
                    });
                    return Ok(());
                }
                Err(e) => last = format!("cannot run {program}: {e}"),
            },
        }
    }
    Err(last)
}

/// Whether a browser can be opened here: `$BROWSER` names one, or the platform opener can
/// reach a display (on Linux `DISPLAY` or `WAYLAND_DISPLAY` and `xdg-open` on `PATH`; on macOS
/// not over SSH). `var` reads one environment variable.
pub fn available(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    if !browser_commands(var("BROWSER").as_deref(), "").is_empty() {
        return true;
    }
    if cfg!(target_os = "macos") {
        !(set("SSH_CONNECTION") || set("SSH_TTY"))
    } else if cfg!(windows) {
        true
    } else {
        (set("DISPLAY") || set("WAYLAND_DISPLAY"))
            && crate::which::look_path("xdg-open", var("PATH").unwrap_or_default().as_ref())
                .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_variable_lists_commands() {
        let url = "https://x/?a=1&b=2";
        let cmds = browser_commands(Some("firefox --new-tab:lynx %s -dump"), url);
        if cfg!(windows) {
            assert_eq!(cmds.len(), 1);
        } else {
            assert_eq!(cmds[0], vec!["firefox", "--new-tab", url]);
            assert_eq!(cmds[1], vec!["lynx", url, "-dump"]);
            assert_eq!(cmds.len(), 2);
        }
        assert!(browser_commands(None, url).is_empty());
        let blank = if cfg!(windows) { " ; " } else { " : " };
        assert!(browser_commands(Some(blank), url).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn waits_for_exit_or_start_and_falls_through_failures() {
        let url = "http://127.0.0.1:1/never-fetched";
        // `false` fails, `true` succeeds: the error of the first is not reported.
        assert_eq!(open(Some("false:true"), url, Wait::ForExit), Ok(()));
        assert_eq!(open(Some("true"), url, Wait::ForStart), Ok(()));
    }

    #[test]
    fn availability_follows_browser_display_and_path() {
        let with = |pairs: &[(&str, &str)]| {
            available(|k| pairs.iter().find(|p| p.0 == k).map(|p| p.1.to_string()))
        };
        assert!(with(&[("BROWSER", "firefox")]));
        if cfg!(target_os = "linux") {
            assert!(!with(&[("BROWSER", " ")]));
            let dir = tempfile::tempdir().unwrap();
            let opener = dir.path().join("xdg-open");
            std::fs::write(&opener, "#!/bin/sh\n").unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            let path = dir.path().to_str().unwrap();
            assert!(with(&[("DISPLAY", ":0"), ("PATH", path)]));
            assert!(!with(&[("PATH", path)]));
            assert!(!with(&[("WAYLAND_DISPLAY", "w"), ("PATH", "/nonexistent")]));
        }
    }
}
