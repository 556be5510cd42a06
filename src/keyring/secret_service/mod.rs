//! The freedesktop Secret Service backend (docs/compatibility.md §4.7 `secret-service`): GNOME Keyring,
//! KeePassXC, KWallet's Secret Service API, over the D-Bus session bus.
//!
//! Item for item compatible with the Go tool: the collection is found by its decoded object path
//! `/org/freedesktop/secrets/collection/<name>` (default `awsvault`, `--secret-service-collection`)
//! and created on the first write with label `<name>`; each item has label = key, the attribute
//! `profile` = key, content type `application/json`, and the Item JSON as its secret. A cached
//! session also gets `key_prefix` = its key without the expiry, which the Go tool ignores and
//! the hot path searches by. A locked collection or item is unlocked through the service (which
//! may show a prompt).
//!
//! Secrets travel over a `plain` transfer session, as with the Go tool, read on the hot path by
//! [`plain`] over a small synchronous client of its own ([`wire`]); docs/backends.md argues the
//! choice. `AWS_VAULT_SECRET_SERVICE_ENCRYPTED_SESSION=true` makes every transfer use the
//! encrypted session (`dh-ietf1024-sha256-aes128-cbc-pkcs7`, read by [`direct`] over zbus).
//! Anything the fast paths do not expect, and every write and unlock, goes through the
//! `secret-service` crate. Opening only checks that a provider of `org.freedesktop.secrets` is on
//! the bus (running or activatable); the session is negotiated on first use.
use std::collections::HashMap;
use std::sync::OnceLock;

use secret_service::blocking::{Collection, SecretService};
use secret_service::EncryptionType;
use zeroize::Zeroizing;

use super::{Config, Error, Item, Keyring, Listing, Result};

mod direct;
mod plain;
mod wire;

pub const BUS_NAME: &str = "org.freedesktop.secrets";
const COLLECTION_PREFIX: &str = "/org/freedesktop/secrets/collection/";

/// The `secret-service` keyring.
pub struct SecretServiceKeyring {
    collection: String,
    /// The hot path's own connection and its plain session, when it could be made (not with
    /// the encrypted session asked for).
    wire: Option<std::sync::Mutex<Wire>>,
    ss: OnceLock<SecretService<'static>>,
    /// The read path of [`direct`]: the collection's object path and an encrypted session,
    /// each found or opened once per process (`None`: use the crate's path).
    direct_collection: OnceLock<Option<zbus::zvariant::OwnedObjectPath>>,
    direct_session: OnceLock<Option<direct::Session>>,
}

struct Wire {
    bus: wire::Bus,
    state: plain::State,
}

impl std::fmt::Debug for SecretServiceKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretServiceKeyring")
            .field("collection", &self.collection)
            .finish_non_exhaustive()
    }
}

/// Where the session bus would be, without connecting: `Err(reason)` when it certainly is not
/// there (no address and no socket at the default place, or a `unix:path=` socket that does not
/// exist). Costs a `stat`, so the automatic backend selection stays cheap on headless machines.
pub fn session_bus_precheck() -> std::result::Result<(), String> {
    match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        Ok(addr) if !addr.is_empty() => {
            let paths: Vec<&str> = addr
                .split(';')
                .filter_map(|a| a.strip_prefix("unix:"))
                .filter_map(|a| a.split(',').find_map(|kv| kv.strip_prefix("path=")))
                .collect();
            let all_unix_paths = addr.split(';').filter(|a| !a.is_empty()).count() == paths.len();
            if all_unix_paths && !paths.iter().any(|p| std::path::Path::new(p).exists()) {
                return Err(format!(
                    "no D-Bus session bus: the socket in DBUS_SESSION_BUS_ADDRESS ({addr}) does not exist"
                ));
            }
            Ok(())
        }
        _ => {
            let dir = match std::env::var("XDG_RUNTIME_DIR") {
                Ok(d) if !d.is_empty() => std::path::PathBuf::from(d),
                // SAFETY: getuid never fails.
                _ => std::path::PathBuf::from(format!("/run/user/{}", unsafe { libc::getuid() })),
            };
            let sock = dir.join("bus");
            if sock.exists() {
                Ok(())
            } else {
                Err(format!(
                    "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set and {} does not exist",
                    sock.display()
                ))
            }
        }
    }
}

/// The session bus connection, made once per process (after the cheap pre-check) and shared by
/// the D-Bus backends, so probing secret-service and then kwallet costs one connection.
pub fn connect_session_bus() -> std::result::Result<zbus::blocking::Connection, String> {
    static BUS: OnceLock<std::result::Result<zbus::blocking::Connection, String>> = OnceLock::new();
    BUS.get_or_init(|| {
        session_bus_precheck()?;
        zbus::blocking::Connection::session()
            .map_err(|e| format!("cannot connect to the D-Bus session bus: {e}"))
    })
    .clone()
}

/// The names currently owned on the bus, asked once per process (one round trip answers the
/// automatic selection for every D-Bus backend).
fn owned_names(conn: &zbus::blocking::Connection) -> std::result::Result<Vec<String>, String> {
    static NAMES: OnceLock<std::result::Result<Vec<String>, String>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            let dbus = zbus::blocking::fdo::DBusProxy::new(conn)
                .map_err(|e| format!("cannot talk to the D-Bus daemon: {e}"))?;
            Ok(dbus
                .list_names()
                .map_err(|e| format!("cannot talk to the D-Bus daemon: {e}"))?
                .into_iter()
                .map(|n| n.to_string())
                .collect())
        })
        .clone()
}

/// Whether `name` has an owner on the bus or, with `activatable_ok`, can be started by D-Bus
/// activation.
pub fn name_available(
    conn: &zbus::blocking::Connection,
    name: &str,
    activatable_ok: bool,
) -> std::result::Result<bool, String> {
    if !activatable_ok {
        return Ok(owned_names(conn)?.iter().any(|n| n == name));
    }
    let dbus = zbus::blocking::fdo::DBusProxy::new(conn)
        .map_err(|e| format!("cannot talk to the D-Bus daemon: {e}"))?;
    let bus_name = zbus::names::BusName::try_from(name).map_err(|e| e.to_string())?;
    if dbus
        .name_has_owner(bus_name)
        .map_err(|e| format!("cannot talk to the D-Bus daemon: {e}"))?
    {
        return Ok(true);
    }
    let activatable = dbus
        .list_activatable_names()
        .map_err(|e| format!("cannot talk to the D-Bus daemon: {e}"))?;
    Ok(activatable.iter().any(|n| n.as_str() == name))
}

/// Decode the `_XX` hex escapes the Secret Service uses in object paths.
pub fn decode_object_path(path: &str) -> String {
    String::from_utf8_lossy(&crate::gofmt::quote::unescape_hex(path, b'_')).into_owned()
}

fn ss_error(what: &str, e: secret_service::Error) -> Error {
    use secret_service::Error as E;
    let why = match e {
        E::Prompt => "the service's prompt was dismissed (is there a desktop session to show it?)"
            .to_string(),
        E::PromptDisconnected => "the service went away while its prompt was open".to_string(),
        E::Locked => "it is locked".to_string(),
        E::Unavailable => "no Secret Service provider is available on the session bus".to_string(),
        other => other.to_string(),
    };
    Error::Backend(format!("secret-service: cannot {what}: {why}"))
}

impl SecretServiceKeyring {
    /// Connect to the session bus and check that a Secret Service provider is there. When
    /// named explicitly a D-Bus-activatable provider is enough; during automatic selection
    /// (`auto`) it must already be running, because an activated provider on a headless machine
    /// is typically locked and unusable. No session is negotiated and no prompt can appear.
    pub fn open(cfg: &Config, auto: bool) -> std::result::Result<SecretServiceKeyring, String> {
        let mut wire = if plain::encrypted_requested() {
            None
        } else {
            wire::Bus::connect()
        };
        // A provider seen running on the fast connection settles it; anything else (not
        // running but perhaps activatable, an error) is asked the full way.
        let collection = if cfg.secret_service_collection.is_empty() {
            "awsvault".to_string()
        } else {
            cfg.secret_service_collection.clone()
        };
        let opened = wire
            .as_mut()
            .and_then(|bus| plain::open(bus, plain::collection_path(&collection).as_deref()));
        let running = opened.as_ref().map(|(running, _)| *running);
        if running != Some(true) {
            let conn = connect_session_bus()?;
            if !name_available(&conn, BUS_NAME, !auto)? {
                return Err(if auto {
                    format!(
                        "no Secret Service provider ({BUS_NAME}) is running on the D-Bus session bus"
                    )
                } else {
                    format!("no Secret Service provider ({BUS_NAME}) on the D-Bus session bus")
                });
            }
        }
        Ok(SecretServiceKeyring {
            wire: wire.map(|bus| {
                let ahead = opened.and_then(|(_, ahead)| ahead);
                std::sync::Mutex::new(Wire {
                    bus,
                    state: plain::State {
                        ahead,
                        ..Default::default()
                    },
                })
            }),
            collection,
            ss: OnceLock::new(),
            direct_collection: OnceLock::new(),
            direct_session: OnceLock::new(),
        })
    }

    /// The zbus connection (shared by the process, made on first use).
    fn conn(&self) -> Result<zbus::blocking::Connection> {
        connect_session_bus().map_err(|e| Error::Backend(format!("secret-service: {e}")))
    }

    fn wire(&self) -> Option<std::sync::MutexGuard<'_, Wire>> {
        Some(
            self.wire
                .as_ref()?
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    /// A write makes searches sent ahead out of date.
    fn forget_prefetched(&self) {
        if let Some(mut wire) = self.wire() {
            let Wire { bus, state } = &mut *wire;
            state.drop_prefetched(bus);
        }
    }

    /// [`Keyring::get`] by the plain fast path; `None` to take another.
    fn get_plain(&self, key: &str) -> Option<Result<Item>> {
        let collection = plain::collection_path(&self.collection)?;
        let mut guard = self.wire()?;
        let Wire { bus, state } = &mut *guard;
        // The item seen under this label in the listing, if it is the one asked for.
        if let Some(plain::Found::Secret(secret)) = plain::secret_by_label(bus, state, key) {
            if let Ok(item) = parse_item(key, &secret) {
                if item.key == key {
                    crate::debug!("secret-service: plain session, read directly");
                    return Some(Ok(item));
                }
            }
        }
        let found = plain::secret(bus, state, &collection, key)?;
        crate::debug!("secret-service: plain session, read directly");
        match found {
            plain::Found::Missing => Some(Err(Error::NotFound)),
            plain::Found::Secret(secret) => Some(parse_item(key, &secret)),
        }
    }

    fn direct_collection(&self) -> Option<&zbus::zvariant::OwnedObjectPath> {
        self.direct_collection
            .get_or_init(|| {
                let conn = self.conn().ok()?;
                direct::collection_path(&conn, &self.collection)
            })
            .as_ref()
    }

    fn direct_session(&self) -> Option<&direct::Session> {
        self.direct_session
            .get_or_init(|| {
                let s = direct::open_session(&self.conn().ok()?);
                if s.is_some() {
                    crate::debug!("secret-service: encrypted session ({})", direct::ALGORITHM);
                }
                s
            })
            .as_ref()
    }

    /// [`Keyring::get`] by the direct path; `None` to take the crate's.
    fn get_direct(&self, key: &str) -> Option<Result<Item>> {
        let collection = self.direct_collection()?;
        let session = self.direct_session()?;
        match direct::secret(&self.conn().ok()?, session, collection, key)? {
            direct::Found::Missing => Some(Err(Error::NotFound)),
            direct::Found::Secret(secret) => Some(parse_item(key, &secret)),
        }
    }

    fn service(&self) -> Result<&SecretService<'static>> {
        if let Some(ss) = self.ss.get() {
            return Ok(ss);
        }
        let conn = self.conn()?;
        if !plain::encrypted_requested() {
            let ss = SecretService::connect_with_existing(EncryptionType::Plain, conn)
                .map_err(|e| ss_error("open a session", e))?;
            crate::debug!("secret-service: plain session");
            return Ok(self.ss.get_or_init(|| ss));
        }
        let ss = match SecretService::connect_with_existing(EncryptionType::Dh, conn.clone()) {
            Ok(ss) => {
                crate::debug!(
                    "secret-service: encrypted session (dh-ietf1024-sha256-aes128-cbc-pkcs7)"
                );
                ss
            }
            Err(e) => {
                crate::debug!("secret-service: no encrypted session ({e}), using plain");
                SecretService::connect_with_existing(EncryptionType::Plain, conn)
                    .map_err(|e| ss_error("open a session", e))?
            }
        };
        Ok(self.ss.get_or_init(|| ss))
    }

    /// The collection whose decoded path is `/org/freedesktop/secrets/collection/<name>`.
    ///
    /// Reads the service's `Collections` property once and builds a proxy only for the match
    /// (building one per collection costs a few round trips each).
    fn find_collection<'s>(
        &'s self,
        ss: &'s SecretService<'static>,
    ) -> Result<Option<Collection<'s>>> {
        let want = format!("{COLLECTION_PREFIX}{}", self.collection);
        let conn = self.conn()?;
        let props = zbus::blocking::fdo::PropertiesProxy::builder(&conn)
            .destination(BUS_NAME)
            .and_then(|b| b.path("/org/freedesktop/secrets"))
            .and_then(|b| b.cache_properties(zbus::proxy::CacheProperties::No).build())
            .map_err(|e| ss_error("list collections", e.into()))?;
        let iface =
            zbus::names::InterfaceName::from_static_str_unchecked("org.freedesktop.Secret.Service");
        let value = props
            .get(iface, "Collections")
            .map_err(|e| ss_error("list collections", e.into()))?;
        let paths: Vec<zbus::zvariant::OwnedObjectPath> = value
            .try_into()
            .map_err(|e: zbus::zvariant::Error| ss_error("list collections", e.into()))?;
        let Some(path) = paths
            .into_iter()
            .find(|p| decode_object_path(p.as_str()) == want)
        else {
            return Ok(None);
        };
        ss.get_collection_by_path(path)
            .map(Some)
            .map_err(|e| ss_error("open the collection", e))
    }

    fn unlocked<'s>(&self, c: Collection<'s>) -> Result<Collection<'s>> {
        if c.is_locked()
            .map_err(|e| ss_error("query the collection", e))?
        {
            crate::debug!("secret-service: unlocking collection {}", self.collection);
            c.unlock().map_err(|e| {
                ss_error(&format!("unlock the collection '{}'", self.collection), e)
            })?;
        }
        Ok(c)
    }

    fn search<'s>(
        &self,
        c: &'s Collection<'s>,
        key: &str,
    ) -> Result<Vec<secret_service::blocking::Item<'s>>> {
        c.search_items(HashMap::from([("profile", key)]))
            .map_err(|e| ss_error("search the collection", e))
    }
}

/// Whether `prefix` is what [`plain::PREFIX_ATTRIBUTE`] holds for some keys, so a search by it
/// can find them.
fn searchable(prefix: &str) -> bool {
    crate::keyring::lookup_prefix(&format!("{prefix}0")) == Some(prefix)
}

/// An item's secret as an aws-vault [`Item`].
fn parse_item(key: &str, secret: &[u8]) -> Result<Item> {
    Item::from_json(secret).map_err(|reason| Error::Corrupt {
        path: format!("secret-service item '{key}'"),
        reason: format!("not an aws-vault item: {reason}"),
    })
}

impl Keyring for SecretServiceKeyring {
    fn get(&self, key: &str) -> Result<Item> {
        if let Some(result) = self.get_plain(key) {
            return result;
        }
        // The encrypted direct path, when asked for (in plain mode the crate's path below is the
        // fall-back: it can unlock).
        if plain::encrypted_requested() {
            if let Some(result) = self.get_direct(key) {
                return result;
            }
        }
        crate::debug!("secret-service: reading '{key}' through the full client");
        let ss = self.service()?;
        let Some(c) = self.find_collection(ss)? else {
            return Err(Error::NotFound);
        };
        let items = self.search(&c, key)?;
        let Some(it) = items.first() else {
            return Err(Error::NotFound);
        };
        if it.is_locked().map_err(|e| ss_error("query an item", e))? {
            it.unlock()
                .map_err(|e| ss_error(&format!("unlock the item '{key}'"), e))?;
        }
        let secret = Zeroizing::new(
            it.get_secret()
                .map_err(|e| ss_error(&format!("read the item '{key}'"), e))?,
        );
        parse_item(key, &secret)
    }

    fn set(&self, item: &Item) -> Result<()> {
        self.forget_prefetched();
        let ss = self.service()?;
        let c = match self.find_collection(ss)? {
            Some(c) => c,
            None => {
                crate::debug!("secret-service: creating collection {}", self.collection);
                ss.create_collection(&self.collection, "").map_err(|e| {
                    ss_error(&format!("create the collection '{}'", self.collection), e)
                })?
            }
        };
        let c = self.unlocked(c)?;
        let json = item.to_json();
        let mut attributes = HashMap::from([("profile", item.key.as_str())]);
        if let Some(prefix) = crate::keyring::lookup_prefix(&item.key) {
            attributes.insert(plain::PREFIX_ATTRIBUTE, prefix);
        }
        c.create_item(&item.key, attributes, &json, true, "application/json")
            .map_err(|e| ss_error(&format!("store the item '{}'", item.key), e))?;
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<()> {
        self.forget_prefetched();
        let ss = self.service()?;
        let Some(c) = self.find_collection(ss)? else {
            return Err(Error::NotFound);
        };
        let c = self.unlocked(c)?;
        let items = self.search(&c, key)?;
        if items.is_empty() {
            return Err(Error::NotFound);
        }
        for it in items {
            it.delete()
                .map_err(|e| ss_error(&format!("delete the item '{key}'"), e))?;
        }
        Ok(())
    }

    /// Searches for `names` on the fast path: a listing would read every item's label, one
    /// property read each (GNOME Keyring spends ~0.25 ms on each one).
    fn keys_among(&self, names: &[&str], next: &dyn Fn() -> Option<String>) -> Result<Listing> {
        let next = next().filter(|p| searchable(p));
        let next: Vec<&str> = next.as_deref().into_iter().collect();
        let found = plain::collection_path(&self.collection).and_then(|c| {
            let mut guard = self.wire()?;
            let Wire { bus, state } = &mut *guard;
            plain::stored_among(bus, state, &c, names, &next)
        });
        Ok(match found {
            Some(keys) => Listing::found(keys),
            None => Listing::all(self.keys()?),
        })
    }

    /// Searches by [`plain::PREFIX_ATTRIBUTE`] on the fast path. Sessions written without it
    /// (by the Go tool, or before this version) are not found that way, so finding nothing
    /// falls back to the listing.
    fn first_with_prefix(
        &self,
        prefix: &str,
        accept: &dyn Fn(&str) -> bool,
    ) -> Result<Option<Item>> {
        let found = searchable(prefix)
            .then(|| plain::collection_path(&self.collection))
            .flatten()
            .and_then(|c| {
                let mut guard = self.wire()?;
                let Wire { bus, state } = &mut *guard;
                let secrets = plain::with_prefix(bus, state, &c, prefix)?;
                secrets
                    .iter()
                    .filter_map(|secret| Item::from_json(secret).ok())
                    .find(|item| item.key.starts_with(prefix) && accept(&item.key))
            });
        if let Some(item) = found {
            crate::debug!(
                "secret-service: plain session, found by {}",
                plain::PREFIX_ATTRIBUTE
            );
            return Ok(Some(item));
        }
        let keys = self.keys()?;
        crate::keyring::first_listed_with_prefix(self, &keys, prefix, accept)
    }

    fn searches(&self) -> bool {
        self.wire.is_some()
    }

    fn keys(&self) -> Result<Vec<String>> {
        crate::debug!("secret-service: listing the collection (a property read per item)");
        if let Some(labels) = plain::collection_path(&self.collection).and_then(|c| {
            let mut guard = self.wire()?;
            let Wire { bus, state } = &mut *guard;
            plain::labels(bus, state, &c)
        }) {
            return Ok(labels);
        }
        if let Some(labels) = self.direct_collection().and_then(|c| {
            let conn = self.conn().ok()?;
            direct::labels(&conn, c)
        }) {
            return Ok(labels);
        }
        let ss = self.service()?;
        let Some(c) = self.find_collection(ss)? else {
            return Ok(Vec::new());
        };
        let c = self.unlocked(c)?;
        let items = c
            .get_all_items()
            .map_err(|e| ss_error("list the collection", e))?;
        let mut keys = Vec::with_capacity(items.len());
        for it in items {
            keys.push(
                it.get_label()
                    .map_err(|e| ss_error("read an item label", e))?,
            );
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths_decode() {
        assert_eq!(
            decode_object_path("/org/freedesktop/secrets/collection/awsvault"),
            "/org/freedesktop/secrets/collection/awsvault"
        );
        assert_eq!(
            decode_object_path("/org/freedesktop/secrets/collection/keyring_2dtest"),
            "/org/freedesktop/secrets/collection/keyring-test"
        );
        // A second collection with the same label is not the one we want.
        assert_eq!(
            decode_object_path("/org/freedesktop/secrets/collection/awsvault_5f1"),
            "/org/freedesktop/secrets/collection/awsvault_1"
        );
        assert_eq!(decode_object_path("/x_"), "/x_");
        assert_eq!(decode_object_path("/x_4"), "/x_4");
        assert_eq!(decode_object_path("/x_zz"), "/x_zz");
    }
}
