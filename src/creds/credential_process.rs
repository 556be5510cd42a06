//! `credential_process` (docs/compatibility.md §3.6.2, with §7 item 10 fixed): run a command through the
//! shell and read AWS credentials from its standard output.
//!
//! Deliberate changes from the Go tool: `SessionToken` and `Expiration` are optional (long-term
//! keys, as the AWS spec allows), and a `Version` other than 1 is rejected. The command's
//! output may hold secrets, so no error message ever quotes it.
use std::process::{Command, ExitStatus, Stdio};

use anyhow::anyhow;
use secrecy::SecretString;
use serde_json::{Map, Value};

use super::Credentials;

/// Largest standard output read from `credential_process` or `web_identity_token_process`
/// (a credential JSON is about 2 KiB, a web identity token a few KiB).
pub const MAX_PROCESS_OUTPUT: u64 = 1024 * 1024;

/// Run `cmd` with `/bin/sh -c` (Windows: `cmd.exe /C`), environment, stdin and stderr
/// inherited, and return its standard output. A non-zero exit is an error:
/// `running command "<cmd>": exit status N`.
///
/// Bounded (hardening, docs/differences.md D48): a command still running after `timeout` is
/// killed, and one printing more than [`MAX_PROCESS_OUTPUT`] bytes is killed as soon as it
/// crosses the limit. Either is an error naming the limit and how to change it.
pub fn run_shell(cmd: &str, timeout: std::time::Duration) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    #[cfg(windows)]
    let mut command = {
        let mut c = Command::new("cmd.exe");
        c.arg("/C").arg(cmd);
        c
    };
    #[cfg(not(windows))]
    let mut command = {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(cmd);
        c
    };
    let mut child = command
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow!("running command \"{cmd}\": {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    // Read on a thread so the deadline holds even while the command writes nothing.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let read = stdout.take(MAX_PROCESS_OUTPUT + 1).read_to_end(&mut buf);
        let _ = tx.send(read.map(|_| buf));
    });
    let deadline = std::time::Instant::now() + timeout;
    let output = match rx.recv_timeout(timeout) {
        Ok(Ok(buf)) if buf.len() as u64 > MAX_PROCESS_OUTPUT => {
            kill(&mut child);
            return Err(anyhow!(
                "running command \"{cmd}\": its output is larger than the limit of {} MiB",
                MAX_PROCESS_OUTPUT / (1024 * 1024)
            ));
        }
        Ok(Ok(buf)) => buf,
        Ok(Err(e)) => {
            kill(&mut child);
            return Err(anyhow!("running command \"{cmd}\": {e}"));
        }
        Err(_) => {
            kill(&mut child);
            return Err(timed_out(cmd, timeout));
        }
    };
    // Output closed: the command is exiting (or closed stdout and carries on: still bounded).
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Ok(None) => {
                kill(&mut child);
                return Err(timed_out(cmd, timeout));
            }
            Err(e) => return Err(anyhow!("running command \"{cmd}\": {e}")),
        }
    };
    if !status.success() {
        return Err(anyhow!(
            "running command \"{cmd}\": {}",
            status_text(status)
        ));
    }
    Ok(output)
}

fn kill(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn timed_out(cmd: &str, timeout: std::time::Duration) -> anyhow::Error {
    anyhow!(
        "running command \"{cmd}\": killed after {}s without finishing (AWS_VAULT_PROCESS_TIMEOUT sets the limit)",
        timeout.as_secs_f64()
    )
}

/// Go's `*exec.ExitError` text: `exit status N` or `signal: NAME`.
fn status_text(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let name = match sig {
                libc::SIGHUP => "hangup".to_string(),
                libc::SIGINT => "interrupt".to_string(),
                libc::SIGQUIT => "quit".to_string(),
                libc::SIGABRT => "aborted".to_string(),
                libc::SIGKILL => "killed".to_string(),
                libc::SIGSEGV => "segmentation fault".to_string(),
                libc::SIGPIPE => "broken pipe".to_string(),
                libc::SIGTERM => "terminated".to_string(),
                other => format!("signal {other}"),
            };
            return format!("signal: {name}");
        }
    }
    status.to_string()
}

/// Run the `credential_process` command `cmd` and parse its output.
pub fn run(cmd: &str, timeout: std::time::Duration) -> anyhow::Result<Credentials> {
    let stdout = run_shell(cmd, timeout)?;
    parse(cmd, &stdout)
}

/// Field value by name, matched case-insensitively (an exact match wins).
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A string field: `Ok(None)` when absent, null or empty; an error (naming the field, not its
/// value) for any other JSON type.
fn string_field(cmd: &str, obj: &Map<String, Value>, name: &str) -> anyhow::Result<Option<String>> {
    match field(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(anyhow!(
            "invalid JSON format from command \"{cmd}\": {name} must be a string"
        )),
    }
}

/// Parse the process output (docs/compatibility.md §3.6.2 shape; see the module docs for the changes).
pub fn parse(cmd: &str, stdout: &[u8]) -> anyhow::Result<Credentials> {
    let value: Value = serde_json::from_slice(stdout).map_err(|e| {
        // Syntax/EOF messages name a position only; a type error could quote the output.
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => e.to_string(),
            _ => format!("unexpected data at line {} column {}", e.line(), e.column()),
        };
        anyhow!("invalid JSON format from command \"{cmd}\": {what}")
    })?;
    let Value::Object(obj) = value else {
        return Err(anyhow!(
            "invalid JSON format from command \"{cmd}\": expected a JSON object"
        ));
    };

    match field(&obj, "Version") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_u64() == Some(1) => {}
        Some(v) => {
            let shown = if v.is_number() {
                v.to_string()
            } else {
                "of the wrong type".into()
            };
            return Err(anyhow!(
                "unsupported Version {shown} in the output of command \"{cmd}\"; supported versions: 1"
            ));
        }
    }

    let access_key_id = string_field(cmd, &obj, "AccessKeyId")?;
    let secret_access_key = string_field(cmd, &obj, "SecretAccessKey")?;
    let session_token = string_field(cmd, &obj, "SessionToken")?;
    let expiration = string_field(cmd, &obj, "Expiration")?;

    let mut missing = Vec::new();
    if access_key_id.is_none() {
        missing.push("AccessKeyId");
    }
    if secret_access_key.is_none() {
        missing.push("SecretAccessKey");
    }
    let (Some(access_key_id), Some(secret)) = (access_key_id, secret_access_key) else {
        return Err(anyhow!(
            "JSON credential from command \"{cmd}\" missing the following fields: [{}]",
            missing.join(" ")
        ));
    };

    let expires = match expiration {
        None => None,
        Some(s) => Some(crate::gofmt::time::parse_rfc3339(&s).ok_or_else(|| {
            anyhow!("invalid Expiration from command \"{cmd}\": not an RFC3339 time")
        })?),
    };

    // Never hand out (or cache) credentials known to be dead: the caller would fail later
    // with an obscure AWS error, or an SDK would loop on refreshing them.
    if let Some(at) = expires.filter(|at| *at <= jiff::Timestamp::now()) {
        return Err(anyhow!(
            "the credentials from command \"{cmd}\" expired at {}; the command must return fresh credentials",
            crate::gofmt::time::iso_utc(at)
        ));
    }

    Ok(Credentials {
        access_key_id,
        secret_access_key: SecretString::from(secret),
        session_token: session_token.map(SecretString::from),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMD: &str = "my-tool --profile x";

    fn err(out: &str) -> String {
        parse(CMD, out.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn full_output() {
        let c = parse(
            CMD,
            br#"{"Version": 1, "AccessKeyId": "ASIAPROC", "SecretAccessKey": "s3cr3t",
                "SessionToken": "tok", "Expiration": "2030-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        assert_eq!(c.access_key_id, "ASIAPROC");
        assert_eq!(c.secret(), "s3cr3t");
        assert_eq!(c.token(), Some("tok"));
        assert_eq!(c.expires.unwrap().to_string(), "2030-01-02T03:04:05Z");
    }

    #[test]
    fn expired_output_is_refused() {
        let e = err(
            r#"{"AccessKeyId": "ASIAOLD", "SecretAccessKey": "s", "SessionToken": "t",
                "Expiration": "2001-02-03T04:05:06Z"}"#,
        );
        assert_eq!(
            e,
            "the credentials from command \"my-tool --profile x\" expired at 2001-02-03T04:05:06Z; the command must return fresh credentials"
        );
    }

    #[test]
    fn long_term_keys_need_no_token_or_expiration() {
        let c = parse(CMD, br#"{"AccessKeyId": "AKIA1", "SecretAccessKey": "s"}"#).unwrap();
        assert_eq!(c.access_key_id, "AKIA1");
        assert!(c.token().is_none());
        assert!(c.expires.is_none());
        let c = parse(
            CMD,
            br#"{"AccessKeyId": "AKIA1", "SecretAccessKey": "s", "SessionToken": null, "Expiration": null}"#,
        )
        .unwrap();
        assert!(c.token().is_none() && c.expires.is_none());
    }

    #[test]
    fn keys_are_case_insensitive_and_exact_wins() {
        let c = parse(
            CMD,
            br#"{"accesskeyid": "A", "SECRETACCESSKEY": "S", "sessionToken": "T",
                "expiration": "2030-01-02T03:04:05.123456+02:00", "version": 1}"#,
        )
        .unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret(), c.token()),
            ("A", "S", Some("T"))
        );
        assert_eq!(
            c.expires.unwrap().to_string(),
            "2030-01-02T01:04:05.123456Z"
        );
        let c = parse(
            CMD,
            br#"{"accesskeyid": "lower", "AccessKeyId": "exact", "SecretAccessKey": "S"}"#,
        )
        .unwrap();
        assert_eq!(c.access_key_id, "exact");
    }

    #[test]
    fn missing_required_fields() {
        assert_eq!(
            err(r#"{"SessionToken": "secret-token"}"#),
            format!("JSON credential from command \"{CMD}\" missing the following fields: [AccessKeyId SecretAccessKey]")
        );
        assert_eq!(
            err(r#"{"AccessKeyId": "A", "SecretAccessKey": null}"#),
            format!("JSON credential from command \"{CMD}\" missing the following fields: [SecretAccessKey]")
        );
    }

    #[test]
    fn version_other_than_1_is_rejected() {
        let e = err(r#"{"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "S"}"#);
        assert!(e.contains("unsupported Version 2"), "{e}");
        let e = err(r#"{"Version": "secret-ish", "AccessKeyId": "A", "SecretAccessKey": "S"}"#);
        assert!(!e.contains("secret-ish"), "{e}");
    }

    #[test]
    fn invalid_json_never_echoes_output() {
        let e = err("AKIASECRET not json");
        assert!(
            e.starts_with(&format!("invalid JSON format from command \"{CMD}\": ")),
            "{e}"
        );
        assert!(!e.contains("AKIASECRET"), "{e}");
        let e = err(r#"{"AccessKeyId": 12345678, "SecretAccessKey": "S"}"#);
        assert!(
            e.contains("AccessKeyId must be a string") && !e.contains("12345678"),
            "{e}"
        );
        let e = err(r#""just-a-secret-string""#);
        assert!(
            e.ends_with("expected a JSON object") && !e.contains("just-a"),
            "{e}"
        );
        let e = err("");
        assert!(e.contains("EOF"), "{e}");
    }

    #[test]
    fn expiration_must_be_rfc3339() {
        let e = err(r#"{"AccessKeyId": "A", "SecretAccessKey": "S", "Expiration": "tomorrow"}"#);
        assert_eq!(
            e,
            format!("invalid Expiration from command \"{CMD}\": not an RFC3339 time")
        );
    }

    #[cfg(unix)]
    #[test]
    fn runs_through_the_shell() {
        let c = run(
            r#"printf '{"AccessKeyId":"%s","SecretAccessKey":"S"}' "$((40+2))""#,
            std::time::Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(c.access_key_id, "42");
        let e = run(
            "echo '{\"AccessKeyId\":\"secret\"}'; exit 3",
            std::time::Duration::from_secs(60),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "running command \"echo '{\"AccessKeyId\":\"secret\"}'; exit 3\": exit status 3"
        );
        let e = run("kill -TERM $$", std::time::Duration::from_secs(60))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with(": signal: terminated"), "{e}");
    }
}
