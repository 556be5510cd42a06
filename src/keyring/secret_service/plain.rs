//! The default read path: the Secret Service calls of a hot path over [`wire`], with a `plain`
//! transfer session, as the Go tool's library (go-libsecret) opens it.
//!
//! Why plain by default, and how to keep the encrypted session, is argued in docs/backends.md:
//! on a session bus, the only parties that could see a secret in transit are the bus daemon and
//! monitors, and monitoring is open only to the same user, who can ask the service for the secret
//! anyway; while the encrypted session's key exchange costs gnome-keyring ~5 ms per process,
//! more than the whole file-backend hot path. `AWS_VAULT_SECRET_SERVICE_ENCRYPTED_SESSION=true`
//! keeps the encrypted session (the zbus path of [`super::direct`]).
//!
//! Round trips are what this path costs (each one wakes the bus daemon and the service), so it
//! makes few: the connection's first write carries the authentication, `Hello`, the check that
//! the service runs, the first listing's property reads and `OpenSession`; the listing's labels
//! are asked all at once; and an item seen in the listing is read by its path, without a search.
//!
//! Every function returns `None` when anything is not as expected (a locked collection or item,
//! an error reply, an unexpected type); the caller then takes the zbus path, which can unlock.
use super::wire::{Arg, Bus, Reader};
use super::{BUS_NAME, COLLECTION_PREFIX};

const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_IFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_IFACE: &str = "org.freedesktop.Secret.Collection";
const ITEM_IFACE: &str = "org.freedesktop.Secret.Item";
const PROPERTIES_IFACE: &str = "org.freedesktop.DBus.Properties";

/// `AWS_VAULT_SECRET_SERVICE_ENCRYPTED_SESSION=true` (or `1`, `yes`): keep the encrypted
/// transfer session and skip this path.
pub const ENV_ENCRYPTED: &str = "AWS_VAULT_SECRET_SERVICE_ENCRYPTED_SESSION";

/// Whether the user asked for the encrypted session.
pub fn encrypted_requested() -> bool {
    matches!(
        std::env::var(ENV_ENCRYPTED)
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref(),
        Ok("true" | "1" | "yes" | "on")
    )
}

/// The collection's object path when its name needs no escaping (otherwise `None`: the zbus
/// path looks it up).
pub fn collection_path(name: &str) -> Option<String> {
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| format!("{COLLECTION_PREFIX}{name}"))
}

/// Calls sent ahead by [`open`], whose replies the first listing and read use.
pub struct Ahead {
    locked: u32,
    items: u32,
    open: u32,
}

/// Whether the service is running on the bus; with `collection`, the first listing's two
/// property reads and a plain `OpenSession` are sent in the same write, so they travel with the
/// connection's first round trip instead of adding their own.
pub fn open(bus: &mut Bus, collection: Option<&str>) -> Option<(bool, Option<Ahead>)> {
    let name = [Arg::Str(BUS_NAME)];
    let locked = [Arg::Str(COLLECTION_IFACE), Arg::Str("Locked")];
    let items = [Arg::Str(COLLECTION_IFACE), Arg::Str("Items")];
    let open = [Arg::Str("plain"), Arg::VariantStr("")];
    let mut calls = vec![(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "NameHasOwner",
        &name[..],
    )];
    if let Some(c) = collection {
        calls.push((BUS_NAME, c, PROPERTIES_IFACE, "Get", &locked[..]));
        calls.push((BUS_NAME, c, PROPERTIES_IFACE, "Get", &items[..]));
        calls.push((
            BUS_NAME,
            SERVICE_PATH,
            SERVICE_IFACE,
            "OpenSession",
            &open[..],
        ));
    }
    let serials = bus.send(&calls)?;
    let reply = bus.wait(serials[0])?;
    (reply.signature == "b").then_some(())?;
    let running = Reader::new_body(&reply.body).bool()?;
    let ahead = (serials.len() == 4).then(|| Ahead {
        locked: serials[1],
        items: serials[2],
        open: serials[3],
    });
    Some((running, ahead))
}

/// The path of the session an `OpenSession("plain")` call opened, once its reply is in.
fn take_session(bus: &mut Bus, serial: u32) -> Option<String> {
    let reply = bus.wait(serial)?;
    (reply.signature == "vo").then_some(())?;
    let mut r = Reader::new_body(&reply.body);
    r.variant("s")?;
    r.str()?;
    Some(r.str()?.to_string())
}

/// What the connection carries between calls: the plain session, calls sent ahead, and the
/// item paths of the last listing (label → path).
#[derive(Default)]
pub struct State {
    pub session: Option<String>,
    pub ahead: Option<Ahead>,
    pub paths: std::collections::HashMap<String, String>,
}

impl State {
    /// The session, from the `OpenSession` sent ahead if there was one.
    fn settle(&mut self, bus: &mut Bus) {
        if let Some(a) = self.ahead.take() {
            if self.session.is_none() {
                self.session = take_session(bus, a.open);
            }
        }
    }
}

/// Every item's label, all requested at once. `None` when the collection is locked, missing,
/// or anything is unexpected.
pub fn labels(bus: &mut Bus, state: &mut State, collection: &str) -> Option<Vec<String>> {
    let (locked, items) = match state.ahead.as_ref() {
        Some(a) => (a.locked, a.items),
        None => {
            let locked_args = [Arg::Str(COLLECTION_IFACE), Arg::Str("Locked")];
            let items_args = [Arg::Str(COLLECTION_IFACE), Arg::Str("Items")];
            let serials = bus.send(&[
                (BUS_NAME, collection, PROPERTIES_IFACE, "Get", &locked_args),
                (BUS_NAME, collection, PROPERTIES_IFACE, "Get", &items_args),
            ])?;
            (serials[0], serials[1])
        }
    };
    let locked = bus.wait(locked)?;
    let items = bus.wait(items)?;
    state.settle(bus);
    (locked.signature == "v" && items.signature == "v").then_some(())?;
    let mut r = Reader::new_body(&locked.body);
    r.variant("b")?;
    if r.bool()? {
        return None;
    }
    let mut r = Reader::new_body(&items.body);
    r.variant("ao")?;
    let items = r.paths()?;
    if items.is_empty() {
        return Some(Vec::new());
    }
    let label_args = [Arg::Str(ITEM_IFACE), Arg::Str("Label")];
    let calls: Vec<_> = items
        .iter()
        .map(|item| {
            (
                BUS_NAME,
                item.as_str(),
                PROPERTIES_IFACE,
                "Get",
                &label_args[..],
            )
        })
        .collect();
    let serials = bus.send(&calls)?;
    let mut labels = Vec::with_capacity(serials.len());
    state.paths.clear();
    for (serial, item) in serials.into_iter().zip(&items) {
        let reply = bus.wait(serial)?;
        (reply.signature == "v").then_some(())?;
        let mut r = Reader::new_body(&reply.body);
        r.variant("s")?;
        let label = r.str()?.to_string();
        state
            .paths
            .entry(label.clone())
            .or_insert_with(|| item.clone());
        labels.push(label);
    }
    Some(labels)
}

/// What [`secret`] found.
pub enum Found {
    Secret(zeroize::Zeroizing<Vec<u8>>),
    Missing,
}

/// The secret of the first item whose `profile` attribute is `key`, over a plain session
/// (opened on first use; `session` keeps its path for the process). `None` when the item is
/// locked or anything is unexpected.
pub fn secret(bus: &mut Bus, state: &mut State, collection: &str, key: &str) -> Option<Found> {
    state.settle(bus);
    let session = &mut state.session;
    let attrs = [("profile", key)];
    let search_args = [Arg::DictStr(&attrs)];
    let open_args = [Arg::Str("plain"), Arg::VariantStr("")];
    // The session is opened in the same round trip as the search.
    let mut calls = vec![(
        BUS_NAME,
        collection,
        COLLECTION_IFACE,
        "SearchItems",
        &search_args[..],
    )];
    if session.is_none() {
        calls.push((
            BUS_NAME,
            SERVICE_PATH,
            SERVICE_IFACE,
            "OpenSession",
            &open_args[..],
        ));
    }
    let serials = bus.send(&calls)?;
    let found = bus.wait(serials[0])?;
    if let Some(&open) = serials.get(1) {
        *session = Some(take_session(bus, open)?);
    }
    (found.signature == "ao").then_some(())?;
    let items = Reader::new_body(&found.body).paths()?;
    let Some(item) = items.into_iter().next() else {
        return Some(Found::Missing);
    };
    secret_at(bus, session.as_deref()?, &item)
}

/// The item at `path` (its label matched in the last listing): one round trip instead of a
/// search and a read. The caller checks that the item is the one asked for.
pub fn secret_by_label(bus: &mut Bus, state: &mut State, key: &str) -> Option<Found> {
    state.settle(bus);
    let path = state.paths.get(key)?.clone();
    secret_at(bus, state.session.as_deref()?, &path)
}

fn secret_at(bus: &mut Bus, session_path: &str, item: &str) -> Option<Found> {
    let items = [item];
    let reply = bus.call(
        BUS_NAME,
        SERVICE_PATH,
        SERVICE_IFACE,
        "GetSecrets",
        &[Arg::Paths(&items), Arg::Path(session_path)],
    )?;
    (reply.signature == "a{o(oayays)}").then_some(())?;
    let mut r = Reader::new_body(&reply.body);
    let mut secrets = r.array(8, |r| {
        let path = r.str()?.to_string();
        r.align8()?;
        let _session = r.str()?;
        let _params = r.bytes()?;
        let value = zeroize::Zeroizing::new(r.bytes()?.to_vec());
        let _content_type = r.str()?;
        Some((path, value))
    })?;
    // A locked item is left out of the answer.
    let at = secrets.iter().position(|(p, _)| p == item)?;
    Some(Found::Secret(secrets.swap_remove(at).1))
}
