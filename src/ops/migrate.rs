//! Moving long-term credentials between keyring backends (`aws-vault migrate-backend`,
//! docs/compatibility.md §3.10). Works on two [`Keyring`] trait objects, so it is unit-tested with in-memory
//! keyrings and used by the CLI with any two backends.
//!
//! Only credential keys move (never sessions or OIDC tokens: they are a cache). Each profile is
//! read from the source, written to the destination as a fresh credential item, read back and
//! compared; only then, with `--delete-source`, removed from the source. The first failure
//! stops the run: the failed profile and every later one stay untouched in the source.
use std::io::Write;

use anyhow::{anyhow, bail};

use crate::keyring::Keyring;
use crate::store::CredentialStore;

/// The switches of one migration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub overwrite: bool,
    pub delete_source: bool,
}

/// What happened, for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub copied: usize,
    pub overwritten: usize,
    pub skipped: usize,
    pub deleted: usize,
}

impl Summary {
    /// The summary block of docs/compatibility.md §3.10 (preceded by a blank line).
    pub fn render(&self) -> String {
        format!(
            "\nMigration summary:\n  copied: {}\n  overwritten: {}\n  skipped: {}\n  deleted from source: {}\n",
            self.copied, self.overwritten, self.skipped, self.deleted
        )
    }
}

/// The credential profiles to migrate: every credential key of `source`, sorted; or just
/// `only` when given (an error if the source does not hold it).
pub fn profiles(source: &dyn Keyring, only: Option<&str>) -> anyhow::Result<Vec<String>> {
    let mut names = CredentialStore::new(source).names()?;
    names.sort();
    names.dedup();
    match only {
        None => Ok(names),
        Some(p) if names.iter().any(|n| n == p) => Ok(vec![p.to_string()]),
        Some(p) => bail!("profile \"{p}\" not found in source backend"),
    }
}

/// The `--dry-run` text (docs/compatibility.md §3.10 step 3).
pub fn dry_run_text(names: &[String], from: &str, to: &str) -> String {
    if names.is_empty() {
        return format!("No credentials found in source backend {from}.\n");
    }
    let mut out = format!(
        "Would migrate {} credential profile(s) from {from} to {to}:\n",
        names.len()
    );
    for n in names {
        out.push_str(&format!("  {n}\n"));
    }
    out.push_str("\nNo changes made.\n");
    out
}

/// Copy (and verify, and maybe delete) each profile in order; progress lines go to `out`.
/// On failure the error is returned after the `failed: ...` line was printed; the summary so
/// far is returned either way.
pub fn migrate(
    source: &dyn Keyring,
    dest: &dyn Keyring,
    names: &[String],
    opts: Options,
    out: &mut dyn Write,
) -> (Summary, anyhow::Result<()>) {
    let mut summary = Summary::default();
    let src = CredentialStore::new(source);
    let dst = CredentialStore::new(dest);
    for name in names {
        let _ = write!(out, "Migrating {name}... ");
        let _ = out.flush();
        let exists = match dst.has(name) {
            Ok(e) => e,
            Err(e) => {
                return (
                    summary,
                    fail(
                        out,
                        anyhow!("check destination profile \"{name}\": {e}"),
                        true,
                    ),
                );
            }
        };
        if exists && !opts.overwrite {
            let _ = writeln!(out, "skipped, already exists in destination");
            summary.skipped += 1;
            continue;
        }
        let creds = match src.get(name) {
            Ok(c) => c,
            Err(e) => {
                return (
                    summary,
                    fail(out, anyhow!("read source profile \"{name}\": {e}"), true),
                )
            }
        };
        if let Err(e) = dst.set(name, &creds) {
            return (
                summary,
                fail(
                    out,
                    anyhow!("write destination profile \"{name}\": {e}"),
                    true,
                ),
            );
        }
        match dst.get(name) {
            Ok(back)
                if back.access_key_id == creds.access_key_id
                    && back.secret() == creds.secret()
                    && back.token() == creds.token() => {}
            Ok(_) => {
                return (
                    summary,
                    fail(
                        out,
                        anyhow!("verify destination profile \"{name}\": credential mismatch"),
                        true,
                    ),
                )
            }
            Err(e) => {
                return (
                    summary,
                    fail(
                        out,
                        anyhow!("verify destination profile \"{name}\": {e}"),
                        true,
                    ),
                )
            }
        }
        let mut line = if exists {
            summary.overwritten += 1;
            "overwritten, verified".to_string()
        } else {
            summary.copied += 1;
            "copied, verified".to_string()
        };
        if opts.delete_source {
            if let Err(e) = src.remove(name) {
                let _ = write!(out, "{line}, ");
                return (
                    summary,
                    fail(out, anyhow!("delete source profile \"{name}\": {e}"), false),
                );
            }
            summary.deleted += 1;
            line.push_str(", deleted source");
        }
        let _ = writeln!(out, "{line}");
    }
    (summary, Ok(()))
}

fn fail(out: &mut dyn Write, e: anyhow::Error, copy_error: bool) -> anyhow::Result<()> {
    let _ = writeln!(out, "failed: {e}");
    if copy_error {
        let _ = writeln!(
            out,
            "Migration stopped. Source credentials were not deleted for the failed profile."
        );
    }
    let _ = out.flush();
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Credentials;
    use crate::store::SessionStore;
    use crate::test_keyring::MemoryKeyring;
    use secrecy::SecretString;

    fn creds(id: &str) -> Credentials {
        Credentials::long_term(id, format!("secret-{id}"))
    }

    fn source() -> MemoryKeyring {
        let kr = MemoryKeyring::new();
        for (p, id) in [("prod", "AKIAPROD"), ("dev", "AKIADEV"), ("ci", "AKIACI")] {
            CredentialStore::new(&kr).set(p, &creds(id)).unwrap();
        }
        let mut s = creds("ASIASESSION");
        s.session_token = Some(SecretString::from("tok".to_string()));
        s.expires = Some(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1));
        SessionStore::new(&kr)
            .set("sts.GetSessionToken", "prod", "", &s)
            .unwrap();
        kr.items.borrow_mut().insert(
            "oidc:https://example.awsapps.com/start".into(),
            crate::keyring::Item {
                key: "oidc:https://example.awsapps.com/start".into(),
                ..Default::default()
            },
        );
        kr
    }

    fn run(
        src: &MemoryKeyring,
        dst: &MemoryKeyring,
        names: &[String],
        opts: Options,
    ) -> (Summary, anyhow::Result<()>, String) {
        let mut out = Vec::new();
        let (s, r) = migrate(src, dst, names, opts, &mut out);
        (s, r, String::from_utf8(out).unwrap())
    }

    #[test]
    fn lists_only_credentials_sorted() {
        let src = source();
        assert_eq!(profiles(&src, None).unwrap(), ["ci", "dev", "prod"]);
        assert_eq!(profiles(&src, Some("dev")).unwrap(), ["dev"]);
        assert_eq!(
            profiles(&src, Some("nope")).unwrap_err().to_string(),
            "profile \"nope\" not found in source backend"
        );
    }

    #[test]
    fn dry_run_text_shape() {
        let names = vec!["ci".to_string(), "dev".to_string()];
        assert_eq!(
            dry_run_text(&names, "file", "pass"),
            "Would migrate 2 credential profile(s) from file to pass:\n  ci\n  dev\n\nNo changes made.\n"
        );
        assert_eq!(
            dry_run_text(&[], "file", "pass"),
            "No credentials found in source backend file.\n"
        );
    }

    #[test]
    fn copies_and_verifies_everything() {
        let src = source();
        let dst = MemoryKeyring::new();
        let names = profiles(&src, None).unwrap();
        let (s, r, out) = run(&src, &dst, &names, Options::default());
        r.unwrap();
        assert_eq!(
            out,
            "Migrating ci... copied, verified\nMigrating dev... copied, verified\nMigrating prod... copied, verified\n"
        );
        assert_eq!(
            s,
            Summary {
                copied: 3,
                ..Default::default()
            }
        );
        assert_eq!(dst.keys_now(), ["ci", "dev", "prod"]);
        let item = dst.get("prod").unwrap();
        assert_eq!(item.label, "aws-vault (prod)");
        assert!(item.keychain_not_trust_application);
        assert_eq!(
            CredentialStore::new(&dst).get("prod").unwrap().secret(),
            "secret-AKIAPROD"
        );
        // The source is untouched.
        assert_eq!(src.keys_now().len(), 5);
        assert_eq!(
            s.render(),
            "\nMigration summary:\n  copied: 3\n  overwritten: 0\n  skipped: 0\n  deleted from source: 0\n"
        );
    }

    #[test]
    fn skip_overwrite_and_delete_source() {
        let src = source();
        let dst = MemoryKeyring::new();
        CredentialStore::new(&dst)
            .set("dev", &creds("AKIAOTHER"))
            .unwrap();
        let names = profiles(&src, None).unwrap();
        let (s, r, out) = run(&src, &dst, &names, Options::default());
        r.unwrap();
        assert!(out.contains("Migrating dev... skipped, already exists in destination\n"));
        assert_eq!(
            s,
            Summary {
                copied: 2,
                skipped: 1,
                ..Default::default()
            }
        );
        assert_eq!(
            CredentialStore::new(&dst).get("dev").unwrap().access_key_id,
            "AKIAOTHER"
        );

        let opts = Options {
            overwrite: true,
            delete_source: true,
        };
        let (s, r, out) = run(&src, &dst, &names, opts);
        r.unwrap();
        assert_eq!(
            out,
            "Migrating ci... overwritten, verified, deleted source\nMigrating dev... overwritten, verified, deleted source\nMigrating prod... overwritten, verified, deleted source\n"
        );
        assert_eq!(
            s,
            Summary {
                overwritten: 3,
                deleted: 3,
                ..Default::default()
            }
        );
        assert_eq!(
            CredentialStore::new(&dst).get("dev").unwrap().access_key_id,
            "AKIADEV"
        );
        // Sessions and OIDC tokens stay where they were; credentials are gone.
        assert!(CredentialStore::new(&src).names().unwrap().is_empty());
        assert_eq!(src.keys_now().len(), 2);
    }

    #[test]
    fn write_failure_midway_leaves_the_source_intact() {
        let src = source();
        let dst = MemoryKeyring::new();
        dst.fail_set_for.borrow_mut().push("dev".into());
        let names = profiles(&src, None).unwrap();
        let opts = Options {
            overwrite: false,
            delete_source: true,
        };
        let (s, r, out) = run(&src, &dst, &names, opts);
        assert_eq!(
            r.unwrap_err().to_string(),
            "write destination profile \"dev\": injected write failure for dev"
        );
        assert_eq!(
            out,
            "Migrating ci... copied, verified, deleted source\nMigrating dev... failed: write destination profile \"dev\": injected write failure for dev\nMigration stopped. Source credentials were not deleted for the failed profile.\n"
        );
        assert_eq!(
            s,
            Summary {
                copied: 1,
                deleted: 1,
                ..Default::default()
            }
        );
        // ci moved (verified in the destination); dev and prod untouched in the source.
        assert_eq!(CredentialStore::new(&src).names().unwrap(), ["dev", "prod"]);
        assert_eq!(dst.keys_now(), ["ci"]);
    }

    #[test]
    fn verify_mismatch_stops_without_deleting() {
        let src = source();
        let dst = MemoryKeyring::new();
        dst.corrupt_reads_for.borrow_mut().push("ci".into());
        let names = profiles(&src, None).unwrap();
        let opts = Options {
            overwrite: false,
            delete_source: true,
        };
        let (s, r, out) = run(&src, &dst, &names, opts);
        assert_eq!(
            r.unwrap_err().to_string(),
            "verify destination profile \"ci\": credential mismatch"
        );
        assert!(out.ends_with(
            "Migration stopped. Source credentials were not deleted for the failed profile.\n"
        ));
        assert_eq!(s, Summary::default());
        assert_eq!(
            CredentialStore::new(&src).names().unwrap(),
            ["ci", "dev", "prod"]
        );
    }

    #[test]
    fn read_and_delete_failures() {
        let src = source();
        src.fail_get_for.borrow_mut().push("ci".into());
        let dst = MemoryKeyring::new();
        let names = vec!["ci".to_string()];
        let (_, r, _) = run(&src, &dst, &names, Options::default());
        assert!(r
            .unwrap_err()
            .to_string()
            .starts_with("read source profile \"ci\": "));
        assert!(dst.keys_now().is_empty());

        let src = source();
        src.fail_remove.set(true);
        let opts = Options {
            overwrite: false,
            delete_source: true,
        };
        let (s, r, out) = run(&src, &dst, &names, opts);
        assert!(r
            .unwrap_err()
            .to_string()
            .starts_with("delete source profile \"ci\": "));
        assert_eq!(out, "Migrating ci... copied, verified, failed: delete source profile \"ci\": injected remove failure for ci\n");
        assert_eq!(s.deleted, 0);
    }
}
