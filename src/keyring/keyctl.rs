//! The Linux kernel keyring backend (docs/compatibility.md §4.7 `keyctl`).
//!
//! A keyring of type `keyring` named `aws-vault` hangs under a scope keyring (`user` by default,
//! or `session`, `usersession`, `process`, `thread` via `AWS_VAULT_KEYCTL_SCOPE`). Each item is a
//! `user` key in it whose description is the item key and whose payload is the item's raw `Data`
//! (no JSON wrapper, as in the Go library; label and description are not kept).
//!
//! The Go tool never set a scope, so its keyctl backend never opened (docs/compatibility.md §7.1); nothing can
//! have been stored by it. Keys in the kernel keyring do not survive a reboot, which is why this
//! backend is never picked automatically: name it with `--backend keyctl`.
use std::sync::Mutex;

use keyutils::keytypes::User;
use keyutils::{Keyring as KernelKeyring, Permission, SpecialKeyring};
use zeroize::Zeroizing;

use super::{Config, Error, Item, Keyring, Result};

/// Name of the keyring that holds our keys (the Go library's `ServiceName`).
pub const KEYRING_NAME: &str = "aws-vault";

/// The scopes accepted by `AWS_VAULT_KEYCTL_SCOPE`, as the Go library names them.
pub const SCOPES: &[&str] = &["user", "usersession", "session", "process", "thread"];

/// Map a scope name to the kernel's special keyring.
pub fn parse_scope(scope: &str) -> std::result::Result<SpecialKeyring, String> {
    match scope {
        "user" => Ok(SpecialKeyring::User),
        "usersession" => Ok(SpecialKeyring::UserSession),
        "session" => Ok(SpecialKeyring::Session),
        "process" => Ok(SpecialKeyring::Process),
        "thread" => Ok(SpecialKeyring::Thread),
        other => Err(format!(
            "unknown keyctl scope '{other}' (AWS_VAULT_KEYCTL_SCOPE); expected one of {}",
            SCOPES.join(", ")
        )),
    }
}

/// The `keyctl` keyring.
pub struct KeyctlKeyring {
    scope: String,
    /// The scope is the session keyring, which this process possesses anyway.
    possessed_scope: bool,
    /// Our `aws-vault` keyring under the scope keyring; created on first write.
    ring: Mutex<Option<KernelKeyring>>,
    parent: Mutex<KernelKeyring>,
}

impl std::fmt::Debug for KeyctlKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyctlKeyring")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

fn errno_text(e: keyutils::Error) -> String {
    std::io::Error::from_raw_os_error(e.0).to_string()
}

impl KeyctlKeyring {
    /// Attach to the scope keyring (one cheap syscall) and look up the `aws-vault` keyring.
    pub fn open(cfg: &Config) -> std::result::Result<KeyctlKeyring, String> {
        let scope = cfg.keyctl_scope.clone().unwrap_or_else(|| "user".into());
        let special = parse_scope(&scope)?;
        let parent = KernelKeyring::attach_or_create(special).map_err(|e| {
            format!(
                "cannot attach to the {scope} kernel keyring: {}",
                errno_text(e)
            )
        })?;
        let ring = find_ring(&parent);
        Ok(KeyctlKeyring {
            possessed_scope: matches!(
                special,
                SpecialKeyring::Session | SpecialKeyring::Process | SpecialKeyring::Thread
            ),
            scope,
            ring: Mutex::new(ring),
            parent: Mutex::new(parent),
        })
    }

    fn with_ring<T>(
        &self,
        create: bool,
        f: impl FnOnce(&mut KernelKeyring) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.is_none() {
            let mut parent = self.parent.lock().unwrap_or_else(|e| e.into_inner());
            *ring = find_ring(&parent);
            if ring.is_none() && create {
                let r = self
                    .create_linked(&mut parent, |tmp| tmp.add_keyring(KEYRING_NAME))
                    .map_err(|e| {
                        Error::Backend(format!(
                            "keyctl: cannot create the '{KEYRING_NAME}' keyring in the {} kernel keyring: {}",
                            self.scope,
                            errno_text(e)
                        ))
                    })?;
                *ring = Some(r);
            }
        }
        match ring.as_mut() {
            Some(r) => f(r).map(Some),
            None => Ok(None),
        }
    }

    /// Create a key or keyring with `make` and make it usable by every process of this user.
    ///
    /// New keys get the kernel's default permissions (all for the possessor, only "view" for the
    /// user), and a key reached through the user keyring is not possessed by a process whose
    /// session keyring does not link the user keyring, so it could never read the key back. As
    /// the Go library does: create it in the session keyring (which we possess), grant the user
    /// all permissions, link it into `target`, then unlink it from the session keyring.
    fn create_linked<T: Linkable>(
        &self,
        target: &mut KernelKeyring,
        make: impl FnOnce(&mut KernelKeyring) -> keyutils::Result<T>,
    ) -> keyutils::Result<T> {
        if self.possessed_scope {
            return make(target);
        }
        let mut session = KernelKeyring::attach(SpecialKeyring::Session)?;
        let mut obj = make(&mut session)?;
        let perms = Permission::POSSESSOR_ALL | Permission::USER_ALL;
        let result = obj.set_perms(perms).and_then(|_| obj.link_into(target));
        let _ = obj.unlink_from(&mut session);
        result.map(|_| obj)
    }

    fn find_key(ring: &KernelKeyring, key: &str) -> Result<Option<keyutils::Key>> {
        // Only direct children: `search_for_key` would also descend into nested keyrings.
        let (keys, _) = ring.read().map_err(|e| backend("read the keyring", e))?;
        for k in keys {
            match k.description() {
                Ok(d) if d.type_ == "user" && d.description == key => return Ok(Some(k)),
                _ => {}
            }
        }
        Ok(None)
    }
}

fn backend(what: &str, e: keyutils::Error) -> Error {
    Error::Backend(format!("keyctl: cannot {what}: {}", errno_text(e)))
}

fn find_ring(parent: &KernelKeyring) -> Option<KernelKeyring> {
    let (_, rings) = parent.read().ok()?;
    rings
        .into_iter()
        .find(|r| matches!(r.description(), Ok(d) if d.description == KEYRING_NAME))
}

/// What [`KeyctlKeyring::create_linked`] needs of keys and keyrings alike.
trait Linkable {
    fn set_perms(&mut self, perms: Permission) -> keyutils::Result<()>;
    fn link_into(&self, target: &mut KernelKeyring) -> keyutils::Result<()>;
    fn unlink_from(&self, target: &mut KernelKeyring) -> keyutils::Result<()>;
}

impl Linkable for KernelKeyring {
    fn set_perms(&mut self, perms: Permission) -> keyutils::Result<()> {
        self.set_permissions(perms)
    }
    fn link_into(&self, target: &mut KernelKeyring) -> keyutils::Result<()> {
        target.link_keyring(self)
    }
    fn unlink_from(&self, target: &mut KernelKeyring) -> keyutils::Result<()> {
        target.unlink_keyring(self)
    }
}

impl Linkable for keyutils::Key {
    fn set_perms(&mut self, perms: Permission) -> keyutils::Result<()> {
        self.set_permissions(perms)
    }
    fn link_into(&self, target: &mut KernelKeyring) -> keyutils::Result<()> {
        target.link_key(self)
    }
    fn unlink_from(&self, target: &mut KernelKeyring) -> keyutils::Result<()> {
        target.unlink_key(self)
    }
}

impl Keyring for KeyctlKeyring {
    fn get(&self, key: &str) -> Result<Item> {
        let found = self.with_ring(false, |ring| {
            let k = Self::find_key(ring, key)?.ok_or(Error::NotFound)?;
            let data = Zeroizing::new(k.read().map_err(|e| backend("read a key", e))?);
            Ok(Item {
                key: key.to_string(),
                data,
                ..Default::default()
            })
        })?;
        found.ok_or(Error::NotFound)
    }

    fn set(&self, item: &Item) -> Result<()> {
        self.with_ring(true, |ring| {
            // Linking a key displaces any key of the same type and description: an atomic
            // replace.
            self.create_linked(ring, |tmp| {
                tmp.add_key::<User, _, _>(item.key.as_str(), item.data.as_slice())
            })
            .map_err(|e| backend("add a key", e))?;
            Ok(())
        })?;
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<()> {
        let done = self.with_ring(false, |ring| {
            let k = Self::find_key(ring, key)?.ok_or(Error::NotFound)?;
            ring.unlink_key(&k).map_err(|e| backend("remove a key", e))
        })?;
        done.ok_or(Error::NotFound)
    }

    fn keys(&self) -> Result<Vec<String>> {
        let keys = self.with_ring(false, |ring| {
            let (keys, _) = ring.read().map_err(|e| backend("read the keyring", e))?;
            Ok(keys
                .into_iter()
                .filter_map(|k| k.description().ok())
                .filter(|d| d.type_ == "user")
                .map(|d| d.description)
                .collect())
        })?;
        Ok(keys.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse() {
        for s in SCOPES {
            assert!(parse_scope(s).is_ok(), "{s}");
        }
        let e = parse_scope("").unwrap_err();
        assert!(e.contains("unknown keyctl scope ''"), "{e}");
    }

    /// Round trip in a process-scoped keyring, which dies with the test process.
    #[test]
    fn process_scope_round_trip() {
        let cfg = Config {
            keyctl_scope: Some("process".into()),
            ..Default::default()
        };
        let kr = KeyctlKeyring::open(&cfg).expect("the kernel keyring is available");
        assert!(kr.keys().unwrap().is_empty());
        assert!(matches!(kr.get("x"), Err(Error::NotFound)));
        let item = Item {
            key: "oidc:https://x.awsapps.com/start".into(),
            data: Zeroizing::new(b"{\"a\":1}".to_vec()),
            ..Default::default()
        };
        kr.set(&item).unwrap();
        kr.set(&item).unwrap();
        assert_eq!(kr.keys().unwrap(), vec![item.key.clone()]);
        assert_eq!(kr.get(&item.key).unwrap().data.as_slice(), b"{\"a\":1}");
        kr.remove(&item.key).unwrap();
        assert!(matches!(kr.remove(&item.key), Err(Error::NotFound)));
        assert!(kr.keys().unwrap().is_empty());
    }
}
