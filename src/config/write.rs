//! Adding a profile section for `add --add-config` (docs/compatibility.md §2.8).
//!
//! Why append instead of re-serialising like the Go tool: go-ini's writer rewrites the whole file
//! (lower-cased keys, moved or dropped comments, backtick-quoted values the AWS CLI cannot read;
//! docs/compatibility.md §7.2). Appending leaves every existing byte alone, which is the observable result the
//! Go tool has on a tidy file anyway.

use std::io::Write;
use std::path::Path;

use super::resolve::section_name;

/// Whether [`append_profile`] would accept `name` and `mfa_serial`; `add` asks before it
/// stores anything, so a refused name leaves neither a keyring item nor a config change.
pub fn check_new_profile(name: &str, mfa_serial: Option<&str>) -> std::io::Result<()> {
    if name.contains(['\n', '\r']) || mfa_serial.is_some_and(|m| m.contains(['\n', '\r'])) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "profile name and MFA serial must not contain line breaks",
        ));
    }
    Ok(())
}

/// Appends `\n[profile NAME]\nmfa_serial=ARN\n` (`[default]` for `default`) to the config file,
/// creating it (mode 0666 minus umask) if missing.
///
/// * no leading blank line when the file is empty;
/// * if the file does not end in `\n`, one is added first so the header starts its own line;
/// * the `mfa_serial` line is omitted when `mfa_serial` is `None` or blank.
///
/// A name or ARN containing a line break is refused (`InvalidInput`): it would inject lines into
/// the user's config.
pub fn append_profile(path: &Path, name: &str, mfa_serial: Option<&str>) -> std::io::Result<()> {
    check_new_profile(name, mfa_serial)?;
    let mfa = mfa_serial.map(str::trim).filter(|m| !m.is_empty());

    let existing = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };

    let mut text = String::new();
    if !existing.is_empty() {
        if !existing.ends_with(b"\n") {
            text.push('\n');
        }
        text.push('\n');
    }
    text.push('[');
    text.push_str(&section_name(name));
    text.push_str("]\n");
    if let Some(mfa) = mfa {
        text.push_str("mfa_serial=");
        text.push_str(mfa);
        text.push('\n');
    }

    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

/// Appends whole sections (`text`, already formatted, ending in `\n`) to the config file with
/// the same rules as [`append_profile`]: existing bytes untouched, a blank line before, the file
/// created if missing.
pub fn append_sections(path: &Path, text: &str) -> std::io::Result<()> {
    let existing = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut out = String::new();
    if !existing.is_empty() {
        if !existing.ends_with(b"\n") {
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(text);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(out.as_bytes())?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append_to(initial: Option<&[u8]>, name: &str, mfa: Option<&str>) -> Vec<u8> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        if let Some(bytes) = initial {
            std::fs::write(&path, bytes).expect("write");
        }
        append_profile(&path, name, mfa).expect("append");
        std::fs::read(&path).expect("read")
    }

    #[test]
    fn appends_after_existing_bytes_untouched() {
        let odd: &[u8] = b"# my config\r\n[default]\r\nregion = eu-west-1   ; inline\r\n\n\n[profile Work]\n  Role_Arn:arn:aws:iam::1:role/x # c\n    output=json\n;trailing comment";
        let out = append_to(Some(odd), "new", Some("arn:aws:iam::1:mfa/me"));
        let mut want = odd.to_vec();
        want.extend_from_slice(b"\n\n[profile new]\nmfa_serial=arn:aws:iam::1:mfa/me\n");
        assert_eq!(out, want);
        // and the result still parses, with the old and the new profile
        let cfg = crate::config::ConfigFile::parse(
            Path::new("/x"),
            &String::from_utf8(out).expect("utf8"),
        )
        .expect("parses");
        assert_eq!(cfg.profile_names(), vec!["default", "Work", "new"]);
        assert_eq!(
            cfg.own_value("new", "mfa_serial").as_deref(),
            Some("arn:aws:iam::1:mfa/me")
        );
    }

    #[test]
    fn file_ending_in_newline_gets_one_blank_line() {
        let out = append_to(Some(b"[profile a]\nregion=x\n"), "b", None);
        assert_eq!(out, b"[profile a]\nregion=x\n\n[profile b]\n");
    }

    #[test]
    fn empty_or_missing_file_has_no_leading_blank_line() {
        assert_eq!(
            append_to(Some(b""), "a", Some("arn")),
            b"[profile a]\nmfa_serial=arn\n"
        );
        assert_eq!(append_to(None, "a", None), b"[profile a]\n");
    }

    #[test]
    fn default_profile_uses_default_header() {
        assert_eq!(
            append_to(None, "default", Some("m")),
            b"[default]\nmfa_serial=m\n"
        );
    }

    #[test]
    fn blank_mfa_is_omitted() {
        assert_eq!(append_to(None, "a", Some("  ")), b"[profile a]\n");
    }

    #[test]
    fn line_breaks_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        let e = append_profile(&path, "a\n[profile evil]", None).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(append_profile(&path, "a", Some("x\ny")).is_err());
        assert!(!path.exists());
    }

    #[cfg(unix)]
    #[test]
    fn new_file_honours_umask_default_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        append_profile(&path, "a", None).expect("append");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        // 0666 minus whatever the umask removes: never executable, never more than 0666
        assert_eq!(mode & !0o666, 0);
    }
}
