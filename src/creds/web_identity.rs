//! The web identity token for AssumeRoleWithWebIdentity (docs/compatibility.md §3.6.1).
//!
//! Deliberate change (docs/compatibility.md §7.11): the token is trimmed of surrounding whitespace, so the
//! trailing newline of a token file or of a command's output is not sent as part of it. An empty
//! token is an error rather than a doomed AWS call.
use anyhow::anyhow;
use secrecy::SecretString;

use super::credential_process::run_shell;

/// Largest web identity token file read (tokens are a few KiB; STS accepts far less than this).
pub const MAX_TOKEN_FILE_SIZE: u64 = 1024 * 1024;

#[cfg(test)]
const T: std::time::Duration = std::time::Duration::from_secs(30);

/// The token from `file` (read whole) or, without a file, from the standard output of `process`
/// run through the shell; trimmed. Errors: `unable to read file at <path>: <err>`,
/// `running command "<cmd>": <err>`. The token itself never appears in an error.
///
/// Bounded: the file must be a regular file of at most [`MAX_TOKEN_FILE_SIZE`] bytes, and the
/// command is run under the limits of [`run_shell`].
pub fn token(
    file: Option<&str>,
    process: Option<&str>,
    timeout: std::time::Duration,
) -> anyhow::Result<SecretString> {
    let (raw, origin) = match (
        file.filter(|f| !f.is_empty()),
        process.filter(|p| !p.is_empty()),
    ) {
        (Some(path), _) => {
            let bytes =
                crate::config::read_capped_file(std::path::Path::new(path), MAX_TOKEN_FILE_SIZE)
                    .map_err(|e| anyhow!("unable to read file at {path}: {e}"))?;
            (bytes, format!("file {path}"))
        }
        (None, Some(cmd)) => (run_shell(cmd, timeout)?, format!("command \"{cmd}\"")),
        (None, None) => {
            return Err(anyhow!(
                "no web identity token source: set web_identity_token_file or web_identity_token_process"
            ))
        }
    };
    let text = String::from_utf8(raw)
        .map_err(|_| anyhow!("web identity token from {origin} is not valid UTF-8"))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(anyhow!("web identity token from {origin} is empty"));
    }
    Ok(SecretString::from(trimmed.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn file_token_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  eyJ.token.sig\n").unwrap();
        let t = token(Some(path.to_str().unwrap()), Some("echo ignored"), T).unwrap();
        assert_eq!(t.expose_secret(), "eyJ.token.sig");
    }

    #[test]
    fn missing_file() {
        let e = token(Some("/nonexistent/aws-vault-token"), None, T)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("unable to read file at /nonexistent/aws-vault-token: "),
            "{e}"
        );
    }

    #[test]
    fn empty_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "\n\n").unwrap();
        let p = path.to_str().unwrap();
        assert_eq!(
            token(Some(p), None, T).unwrap_err().to_string(),
            format!("web identity token from file {p} is empty")
        );
    }

    #[cfg(unix)]
    #[test]
    fn process_token_is_trimmed() {
        let t = token(None, Some("printf 'abc.def\\r\\n'"), T).unwrap();
        assert_eq!(t.expose_secret(), "abc.def");
        let e = token(None, Some("exit 4"), T).unwrap_err().to_string();
        assert_eq!(e, "running command \"exit 4\": exit status 4");
        let e = token(None, Some("true"), T).unwrap_err().to_string();
        assert_eq!(e, "web identity token from command \"true\" is empty");
    }

    #[test]
    fn no_source() {
        assert!(token(None, None, T).is_err());
    }
}
