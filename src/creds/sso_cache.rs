//! The AWS CLI's SSO token cache, `~/.aws/sso/cache/<sha1>.json` (docs/compatibility.md §3.6.4).
//!
//! * `exec --profile-env` writes the keyring token there (as the Go tool does) so that the SDK in
//!   the child process, which reads the profile itself, finds a valid token.
//! * When the keyring has no token, a valid token found there is used, so that a user who just
//!   ran `aws sso login` is not sent to the browser again.
//!
//! The cache key is the `[sso-session]` name when the profile uses one, else the start URL.
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use sha1::{Digest, Sha1};

use crate::store::oidc::OidcToken;

/// `<home>/.aws/sso/cache/<lowercase hex SHA-1 of key>.json`.
pub fn cache_file(home: &Path, key: &str) -> PathBuf {
    let digest = Sha1::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    home.join(".aws")
        .join("sso")
        .join("cache")
        .join(format!("{hex}.json"))
}

/// The file content: compact JSON, keys in the Go tool's order, no trailing newline.
pub fn render(token: &OidcToken, now: Timestamp) -> String {
    // expiresAt = now + remaining lifetime, whole seconds (the Go tool's computation).
    let remaining = token.expires.as_second().saturating_sub(now.as_second());
    let expires_at = Timestamp::from_second(now.as_second().saturating_add(remaining.max(0)))
        .unwrap_or(token.expires);
    let q = crate::gofmt::json::quote;
    let mut out = format!(
        "{{\"accessToken\":{},\"expiresAt\":{}",
        q(token.access_token.expose_secret()),
        q(&crate::gofmt::time::iso_utc(expires_at))
    );
    if let Some(r) = &token.refresh_token {
        out.push_str(&format!(",\"refreshToken\":{}", q(r.expose_secret())));
    }
    out.push('}');
    out
}

/// Write `token` atomically with mode 0600; the cache directory is created 0700 if missing
/// (existing permissions are left alone).
pub fn write(
    home: &Path,
    key: &str,
    token: &OidcToken,
    now: Timestamp,
) -> std::io::Result<PathBuf> {
    let path = cache_file(home, key);
    let dir = path.parent().expect("cache file has a parent");
    create_private_dirs(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{name}.tmp-"))
        .rand_bytes(8)
        .tempfile_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    let text = zeroize::Zeroizing::new(render(token, now));
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(path)
}

fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// A token from the AWS CLI cache for `key`, if the file exists, parses, belongs to
/// `start_url` (when it says) and is still valid at `valid_at`. Anything else reads as absent;
/// the reason goes to the `--debug` log only.
pub fn read(home: &Path, key: &str, start_url: &str, valid_at: Timestamp) -> Option<OidcToken> {
    let path = cache_file(home, key);
    let bytes = match std::fs::read(&path) {
        Ok(b) => zeroize::Zeroizing::new(b),
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                crate::debug!("cannot read the AWS CLI SSO cache {}: {e}", path.display());
            }
            return None;
        }
    };
    match parse(&bytes, start_url) {
        Ok(t) if t.expires > valid_at => {
            crate::debug!(
                "using the SSO token of the AWS CLI cache {}",
                path.display()
            );
            Some(t)
        }
        Ok(_) => {
            crate::debug!("the AWS CLI SSO token in {} has expired", path.display());
            None
        }
        Err(e) => {
            crate::debug!("ignoring the AWS CLI SSO cache {}: {e}", path.display());
            None
        }
    }
}

fn parse(bytes: &[u8], start_url: &str) -> Result<OidcToken, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("invalid JSON at line {} column {}", e.line(), e.column()))?;
    let map = value.as_object().ok_or("expected a JSON object")?;
    let text = |k: &str| map.get(k).and_then(|v| v.as_str()).map(str::to_string);
    if let Some(url) = text("startUrl").filter(|u| !u.is_empty()) {
        if url != start_url {
            return Err(format!("the token is for another start URL ({url})"));
        }
    }
    let access = text("accessToken")
        .filter(|s| !s.is_empty())
        .ok_or("missing accessToken")?;
    let expires_at = text("expiresAt").ok_or("missing expiresAt")?;
    // Older AWS CLI versions wrote `2019-12-03T20:24:07UTC`.
    let normalized = match expires_at.strip_suffix("UTC") {
        Some(head) => format!("{head}Z"),
        None => expires_at.clone(),
    };
    let expires = crate::gofmt::time::parse_rfc3339(&normalized)
        .ok_or_else(|| format!("invalid expiresAt {expires_at:?}"))?;
    Ok(OidcToken {
        access_token: SecretString::from(access),
        refresh_token: text("refreshToken")
            .filter(|s| !s.is_empty())
            .map(SecretString::from),
        token_type: "Bearer".into(),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(refresh: Option<&str>, expires: &str) -> OidcToken {
        OidcToken {
            access_token: SecretString::from("at\"x".to_string()),
            refresh_token: refresh.map(|r| SecretString::from(r.to_string())),
            token_type: "Bearer".into(),
            expires: expires.parse().unwrap(),
        }
    }

    #[test]
    fn file_name_is_sha1_of_the_key() {
        let p = cache_file(Path::new("/h"), "my-sso");
        assert_eq!(
            p,
            Path::new("/h/.aws/sso/cache/0ad374308c5a4e22f723adf10145eafad7c4031c.json")
        );
    }

    #[test]
    fn render_matches_the_go_format() {
        let now: Timestamp = "2025-01-01T00:00:00.4Z".parse().unwrap();
        let t = token(None, "2025-01-01T08:00:00.9Z");
        assert_eq!(
            render(&t, now),
            r#"{"accessToken":"at\"x","expiresAt":"2025-01-01T08:00:00Z"}"#
        );
        let t = token(Some("r"), "2025-01-01T08:00:00Z");
        assert!(render(&t, now).ends_with(r#","refreshToken":"r"}"#));
    }

    #[test]
    fn write_then_read_back() {
        let home = tempfile::tempdir().unwrap();
        let now: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let t = token(Some("r"), "2025-01-01T08:00:00Z");
        let path = write(home.path(), "https://x/start", &t, now).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dmode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dmode & 0o777, 0o700);
        }
        let back = read(home.path(), "https://x/start", "https://x/start", now).unwrap();
        assert_eq!(back.expires, t.expires);
        assert_eq!(back.refresh_token.unwrap().expose_secret(), "r");
        // Expired, other start URL, malformed: absent.
        let later: Timestamp = "2025-01-02T00:00:00Z".parse().unwrap();
        assert!(read(home.path(), "https://x/start", "https://x/start", later).is_none());
        std::fs::write(
            &path,
            br#"{"startUrl":"https://y","accessToken":"a","expiresAt":"2099-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert!(read(home.path(), "https://x/start", "https://x/start", now).is_none());
        std::fs::write(&path, b"{not json").unwrap();
        assert!(read(home.path(), "https://x/start", "https://x/start", now).is_none());
        std::fs::write(
            &path,
            br#"{"accessToken":"a","expiresAt":"2099-01-01T00:00:00UTC"}"#,
        )
        .unwrap();
        assert!(read(home.path(), "https://x/start", "https://x/start", now).is_some());
    }
}
