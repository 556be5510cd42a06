//! Access-key rotation (`aws-vault rotate`, docs/compatibility.md §1.3 rotate steps 8–12, with the §7.12
//! fixes): create the new key, store it, drop the cached sessions of the chain, delete the old
//! key while IAM propagates.
//!
//! The safety rule: the key stored in the keyring is never deleted at AWS. The old key is only
//! deleted once the new key has been written **and read back** from the keyring; if storing
//! fails, the new (unstored) key is deleted again instead. Every failure after CreateAccessKey
//! says which key is active at AWS and which one is stored.
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};

use crate::aws::Endpoint;
use crate::config::ProfileConfig;
use crate::credentials::Credentials;
use crate::keyring::Keyring;
use crate::store::{CredentialStore, SessionStore};

/// The IAM operations rotation needs (real IAM in [`AwsKeys`], fakes in tests).
pub trait KeyApi {
    fn create_access_key(&self, user: Option<&str>) -> anyhow::Result<Credentials>;
    fn delete_access_key(&self, access_key_id: &str, user: Option<&str>) -> anyhow::Result<()>;
}

/// Where the keys to rotate are: the first profile down the `source_profile` chain (the
/// target first) that has long-term keys stored under its own name. The whole chain is
/// searched, not only one level as in the Go tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The profile whose stored keys are rotated.
    pub master: String,
    /// Every profile of the chain, target first: their cached sessions are dropped afterwards.
    pub chain: Vec<String>,
    /// Whether a role is assumed anywhere on the chain (then IAM needs the user name).
    pub role_involved: bool,
}

impl Source {
    pub fn find(profile: &ProfileConfig, stored: &[String]) -> anyhow::Result<Source> {
        let profiles: Vec<&ProfileConfig> =
            std::iter::successors(Some(profile), |p| p.source.as_deref()).collect();
        let chain: Vec<String> = profiles.iter().map(|p| p.name.clone()).collect();
        let master = chain
            .iter()
            .find(|n| stored.contains(n))
            .cloned()
            .ok_or_else(|| {
                anyhow!(
                    "Error determining credential name for '{}': No master credentials found",
                    profile.name
                )
            })?;
        Ok(Source {
            master,
            chain,
            role_involved: profiles.iter().any(|p| p.role_arn.is_some()),
        })
    }
}

/// The IAM user name of `master` keys: GetUser, and when that is denied, the user named by
/// GetCallerIdentity (which needs no permission).
pub fn user_name(ep: &Endpoint, master: &Credentials) -> anyhow::Result<String> {
    match crate::iam::get_user_name(ep, master) {
        Ok(u) => Ok(u),
        Err(e) => {
            crate::debug!("GetUser failed ({e}); trying GetCallerIdentity");
            let arn = crate::creds::sts::get_caller_identity(ep, master).map_err(|_| e)?;
            crate::iam::user_name_from_arn(&arn)
                .ok_or_else(|| anyhow!("Couldn't determine current username from {arn}"))
        }
    }
}

/// IAM through the AWS SDK, signed with `creds`.
pub struct AwsKeys<'a> {
    pub endpoint: crate::aws::Endpoint,
    pub creds: &'a Credentials,
}

impl KeyApi for AwsKeys<'_> {
    fn create_access_key(&self, user: Option<&str>) -> anyhow::Result<Credentials> {
        crate::iam::create_access_key(&self.endpoint, self.creds, user)
    }

    fn delete_access_key(&self, access_key_id: &str, user: Option<&str>) -> anyhow::Result<()> {
        crate::iam::delete_access_key(&self.endpoint, self.creds, access_key_id, user)
    }
}

/// How the old key's deletion is retried while IAM propagates: every `interval` until it
/// succeeds or more than `window` has passed since the first attempt.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub interval: Duration,
    pub window: Duration,
}

/// The Go tool's schedule: every 2 s for up to 20 s.
pub const DELETE_RETRY: Retry = Retry {
    interval: Duration::from_secs(2),
    window: Duration::from_secs(20),
};

/// `****************` followed by the last 4 characters of a key id (all of it when shorter,
/// fixing the crash of docs/compatibility.md §7.12).
pub fn mask(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{}{tail}", "*".repeat(16))
}

/// Everything rotation needs once the IAM credentials are in hand.
pub struct Rotation<'a> {
    pub keyring: &'a dyn Keyring,
    /// Where the master credentials are stored.
    pub master: &'a str,
    /// The master credentials being replaced.
    pub old: &'a Credentials,
    /// The IAM user name to send (when a role is involved), else `None`.
    pub user: Option<&'a str>,
    /// Every profile whose cached sessions derive from the old key (target, then its sources).
    pub chain: &'a [String],
    pub retry: Retry,
}

/// Steps 8–12: create, store (verified), clear sessions, delete the old key. Progress lines go
/// to `out`; returns the new credentials.
pub fn rotate(
    r: &Rotation<'_>,
    api: &dyn KeyApi,
    out: &mut dyn Write,
) -> anyhow::Result<Credentials> {
    let new = api
        .create_access_key(r.user)
        .map_err(|e| anyhow!("Error creating a new access key: {e}"))?;
    let new_id = new.access_key_id.clone();
    let old_id = r.old.access_key_id.as_str();
    say(out, &format!("Created new access key {}", mask(&new_id)));

    if let Err(e) = store_verified(r.keyring, r.master, &new) {
        // The new key exists only at AWS: remove it again so that nothing unknown stays active.
        let rollback = api.delete_access_key(&new_id, r.user);
        return Err(match rollback {
            Ok(()) => anyhow!(
                "Error storing new access key {} for '{}': {e}. The new key was deleted again; \
                 the stored access key {old_id} is unchanged and still active",
                mask(&new_id),
                r.master
            ),
            Err(re) => anyhow!(
                "Error storing new access key {new_id} for '{}': {e}. Deleting it again also failed ({re}): \
                 both {old_id} (still stored in the keyring) and {new_id} (not stored) are active at AWS; \
                 delete {new_id} with `aws iam delete-access-key --access-key-id {new_id}{}`",
                r.master,
                user_flag(r.user)
            ),
        });
    }

    for profile in r.chain {
        match SessionStore::new(r.keyring).remove_for_profile(profile) {
            Ok(0) => {}
            Ok(n) => say(out, &format!("Deleted {n} sessions for {profile}")),
            // Sessions are a cache; the old key's deletion matters more, so go on.
            Err(e) => {
                eprintln!("aws-vault: warning: cannot delete cached sessions for {profile}: {e}")
            }
        }
    }

    if old_id == new_id {
        bail!("IAM returned the old access key {old_id} as the new one; nothing was deleted");
    }
    say(out, &format!("Deleting old access key {}", mask(old_id)));
    let start = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match api.delete_access_key(old_id, r.user) {
            Ok(()) => break,
            Err(e) if start.elapsed() >= r.retry.window => {
                bail!(
                    "Can't delete old access key {}: After {attempts} attempts, last error: {e}. \
                     The new access key {new_id} is stored in the keyring for '{}' and active; \
                     the old access key {old_id} is no longer stored but still active at AWS: \
                     delete it with `aws iam delete-access-key --access-key-id {old_id}{}`",
                    mask(old_id),
                    r.master,
                    user_flag(r.user)
                );
            }
            Err(e) => {
                crate::debug!("deleting the old access key failed (attempt {attempts}): {e}");
                std::thread::sleep(r.retry.interval);
            }
        }
    }
    say(out, &format!("Deleted old access key {}", mask(old_id)));
    say(out, "Finished rotating access key");
    Ok(new)
}

fn user_flag(user: Option<&str>) -> String {
    user.map(|u| format!(" --user-name {u}"))
        .unwrap_or_default()
}

fn say(out: &mut dyn Write, line: &str) {
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Write the credentials and read them back; an error unless the keyring now holds exactly them.
fn store_verified(keyring: &dyn Keyring, name: &str, creds: &Credentials) -> anyhow::Result<()> {
    let store = CredentialStore::new(keyring);
    store.set(name, creds)?;
    let back = store.get(name)?;
    if back.access_key_id != creds.access_key_id || back.secret() != creds.secret() {
        bail!("the keyring returned different credentials after writing");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keyring::MemoryKeyring;
    use secrecy::SecretString;
    use std::cell::RefCell;

    fn creds(id: &str, secret: &str) -> Credentials {
        Credentials::long_term(id, secret)
    }

    /// A fake IAM: records calls; `delete_fails_for` keys fail to delete.
    #[derive(Default)]
    struct FakeIam {
        calls: RefCell<Vec<String>>,
        create_fails: bool,
        delete_fails_for: Vec<String>,
    }

    impl KeyApi for FakeIam {
        fn create_access_key(&self, user: Option<&str>) -> anyhow::Result<Credentials> {
            self.calls.borrow_mut().push(format!("create {user:?}"));
            if self.create_fails {
                bail!("CreateAccessKey: LimitExceeded: too many keys");
            }
            Ok(creds("AKIANEWKEY000000NEW1", "newsecret"))
        }
        fn delete_access_key(&self, id: &str, user: Option<&str>) -> anyhow::Result<()> {
            self.calls
                .borrow_mut()
                .push(format!("delete {id} {user:?}"));
            if self.delete_fails_for.iter().any(|k| k == id) {
                bail!("DeleteAccessKey: ServiceFailure: boom");
            }
            Ok(())
        }
    }

    const FAST: Retry = Retry {
        interval: Duration::from_millis(1),
        window: Duration::from_millis(20),
    };

    fn seeded() -> MemoryKeyring {
        let kr = MemoryKeyring::new();
        CredentialStore::new(&kr)
            .set("base", &creds("AKIAOLDKEY000000OLD1", "oldsecret"))
            .unwrap();
        let mut s = creds("ASIASESSION", "s");
        s.session_token = Some(SecretString::from("t".to_string()));
        s.expires = Some(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1));
        SessionStore::new(&kr)
            .set("sts.AssumeRole", "role", "", &s)
            .unwrap();
        SessionStore::new(&kr)
            .set("sts.GetSessionToken", "base", "", &s)
            .unwrap();
        SessionStore::new(&kr)
            .set("sts.GetSessionToken", "other", "", &s)
            .unwrap();
        kr
    }

    fn run(kr: &MemoryKeyring, api: &FakeIam) -> (anyhow::Result<Credentials>, String) {
        let old = CredentialStore::new(kr).get("base").unwrap();
        let chain = vec!["role".to_string(), "base".to_string()];
        let r = Rotation {
            keyring: kr,
            master: "base",
            old: &old,
            user: Some("bob"),
            chain: &chain,
            retry: FAST,
        };
        let mut out = Vec::new();
        let res = rotate(&r, api, &mut out);
        (res, String::from_utf8(out).unwrap())
    }

    #[test]
    fn masks_key_ids() {
        assert_eq!(mask("AKIAIOSFODNN7EXAMPLE"), "****************MPLE");
        assert_eq!(mask("AB"), "****************AB");
        assert_eq!(mask(""), "****************");
    }

    #[test]
    fn happy_path() {
        let kr = seeded();
        let api = FakeIam::default();
        let (res, out) = run(&kr, &api);
        res.unwrap();
        assert_eq!(
            out,
            "Created new access key ****************NEW1\nDeleted 1 sessions for role\n\
             Deleted 1 sessions for base\nDeleting old access key ****************OLD1\n\
             Deleted old access key ****************OLD1\nFinished rotating access key\n"
        );
        let stored = CredentialStore::new(&kr).get("base").unwrap();
        assert_eq!(stored.access_key_id, "AKIANEWKEY000000NEW1");
        assert_eq!(
            *api.calls.borrow(),
            vec![
                "create Some(\"bob\")".to_string(),
                "delete AKIAOLDKEY000000OLD1 Some(\"bob\")".to_string()
            ]
        );
        // Only the chain's sessions are gone.
        let sessions: Vec<String> = SessionStore::new(&kr)
            .all()
            .unwrap()
            .into_iter()
            .map(|s| s.profile)
            .collect();
        assert_eq!(sessions, vec!["other".to_string()]);
    }

    #[test]
    fn create_failure_changes_nothing() {
        let kr = seeded();
        let api = FakeIam {
            create_fails: true,
            ..Default::default()
        };
        let (res, out) = run(&kr, &api);
        assert_eq!(
            res.unwrap_err().to_string(),
            "Error creating a new access key: CreateAccessKey: LimitExceeded: too many keys"
        );
        assert_eq!(out, "");
        let stored = CredentialStore::new(&kr).get("base").unwrap();
        assert_eq!(stored.access_key_id, "AKIAOLDKEY000000OLD1");
        assert_eq!(SessionStore::new(&kr).all().unwrap().len(), 3);
    }

    #[test]
    fn store_failure_deletes_the_new_key_never_the_stored_one() {
        let kr = seeded();
        kr.fail_set_for.borrow_mut().push("base".into());
        let api = FakeIam::default();
        let (res, _) = run(&kr, &api);
        let msg = res.unwrap_err().to_string();
        assert!(msg.starts_with("Error storing new access key ****************NEW1 for 'base': injected write failure"), "{msg}");
        assert!(
            msg.contains(
                "the stored access key AKIAOLDKEY000000OLD1 is unchanged and still active"
            ),
            "{msg}"
        );
        assert_eq!(
            *api.calls.borrow(),
            vec![
                "create Some(\"bob\")".to_string(),
                "delete AKIANEWKEY000000NEW1 Some(\"bob\")".to_string()
            ]
        );
        assert_eq!(
            CredentialStore::new(&kr).get("base").unwrap().access_key_id,
            "AKIAOLDKEY000000OLD1"
        );
    }

    #[test]
    fn unverifiable_store_is_a_store_failure() {
        let kr = seeded();
        kr.corrupt_reads_for.borrow_mut().push("base".into());
        let api = FakeIam {
            delete_fails_for: vec!["AKIANEWKEY000000NEW1".into()],
            ..Default::default()
        };
        let old = creds("AKIAOLDKEY000000OLD1", "oldsecret");
        let r = Rotation {
            keyring: &kr,
            master: "base",
            old: &old,
            user: None,
            chain: &[],
            retry: FAST,
        };
        let msg = rotate(&r, &api, &mut Vec::new()).unwrap_err().to_string();
        assert!(
            msg.contains("the keyring returned different credentials"),
            "{msg}"
        );
        assert!(msg.contains("both AKIAOLDKEY000000OLD1 (still stored in the keyring) and AKIANEWKEY000000NEW1 (not stored) are active"), "{msg}");
        // The old key was never deleted.
        assert!(!api.calls.borrow().iter().any(|c| c.contains("OLD1")));
    }

    #[test]
    fn delete_failure_reports_both_keys() {
        let kr = seeded();
        let api = FakeIam {
            delete_fails_for: vec!["AKIAOLDKEY000000OLD1".into()],
            ..Default::default()
        };
        let (res, out) = run(&kr, &api);
        let msg = res.unwrap_err().to_string();
        assert!(
            msg.starts_with("Can't delete old access key ****************OLD1: After "),
            "{msg}"
        );
        assert!(
            msg.contains("last error: DeleteAccessKey: ServiceFailure: boom"),
            "{msg}"
        );
        assert!(msg.contains("The new access key AKIANEWKEY000000NEW1 is stored in the keyring for 'base' and active"), "{msg}");
        assert!(
            msg.contains(
                "the old access key AKIAOLDKEY000000OLD1 is no longer stored but still active"
            ),
            "{msg}"
        );
        assert!(
            msg.contains("--access-key-id AKIAOLDKEY000000OLD1 --user-name bob"),
            "{msg}"
        );
        assert!(out.contains("Deleting old access key"));
        let attempts = api
            .calls
            .borrow()
            .iter()
            .filter(|c| c.starts_with("delete"))
            .count();
        assert!(attempts >= 2, "retried: {attempts}");
        assert_eq!(
            CredentialStore::new(&kr).get("base").unwrap().access_key_id,
            "AKIANEWKEY000000NEW1"
        );
    }
}
