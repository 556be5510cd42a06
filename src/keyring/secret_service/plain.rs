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
//! Round trips and calls into the service are what this path costs (each round trip wakes the
//! bus daemon and the service, and GNOME Keyring spends ~0.25 ms of CPU on any call), so it
//! makes few, and never lists the collection (a property read per item):
//!
//! 1. the connection's first write carries the authentication, `Hello`, the check that the
//!    service runs and `OpenSession`;
//! 2. one write searches for the session the planner expects to look up first, by its
//!    `key_prefix` attribute, and for the profile chain's names, by their `profile` attribute;
//!    a session found is read (`GetSecrets`) as soon as its search answers, while the service
//!    still works on the names;
//! 3. for a stored key (`--no-session`), one `GetSecrets` reads it.
//!
//! So a `credential_process` call costs two or three round trips, one of them with the bus
//! daemon only. A session written without `key_prefix` (by the Go tool) is found by the
//! listing.
//!
//! Every function returns `None` when anything is not as expected (a locked collection or item,
//! an error reply, an unexpected type); the caller then takes the zbus path, which can unlock.
use super::wire::{Arg, Bus, Reader, Reply};
use super::{BUS_NAME, COLLECTION_PREFIX};

const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_IFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_IFACE: &str = "org.freedesktop.Secret.Collection";
const ITEM_IFACE: &str = "org.freedesktop.Secret.Item";
const PROPERTIES_IFACE: &str = "org.freedesktop.DBus.Properties";

/// The item attribute holding [`crate::keyring::lookup_prefix`] of its key, written with every
/// session (`key_prefix=sts.AssumeRole,cm9sZQ,,`), so a session is found by one search
/// instead of a listing. The Go tool ignores it.
pub const PREFIX_ATTRIBUTE: &str = "key_prefix";

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

/// The `OpenSession` sent ahead by [`open`].
pub struct Ahead {
    open: u32,
}

/// Whether the service is running on the bus; with `collection`, a plain `OpenSession` is sent
/// in the same write, so that it travels with the connection's first round trip instead of
/// adding its own.
pub fn open(bus: &mut Bus, collection: Option<&str>) -> Option<(bool, Option<Ahead>)> {
    let name = [Arg::Str(BUS_NAME)];
    let open = [Arg::Str("plain"), Arg::VariantStr("")];
    let mut calls = vec![(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "NameHasOwner",
        &name[..],
    )];
    if collection.is_some() {
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
    let ahead = serials.get(1).map(|&open| Ahead { open });
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
    /// Sessions looked up ahead by [`stored_among`], for [`with_prefix`]: each answer is used
    /// once (a later lookup, after a refresh, searches again).
    pub prefetched: Vec<Prefetched>,
}

/// A search by [`PREFIX_ATTRIBUTE`] made ahead, and the read of what it found.
pub struct Prefetched {
    prefix: String,
    paths: Vec<String>,
    /// The serial of the `GetSecrets` of `paths`, if it was sent.
    read: Option<u32>,
}

impl State {
    /// Forget the sessions looked up ahead, reading and wiping the answers of reads never
    /// used, so that a long-lived connection (the agent's) keeps no secret it was not asked for.
    pub fn drop_prefetched(&mut self, bus: &mut Bus) {
        for p in self.prefetched.drain(..) {
            if let Some(serial) = p.read {
                drop(bus.wait(serial));
            }
        }
    }

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
    let locked_args = [Arg::Str(COLLECTION_IFACE), Arg::Str("Locked")];
    let items_args = [Arg::Str(COLLECTION_IFACE), Arg::Str("Items")];
    let serials = bus.send(&[
        (BUS_NAME, collection, PROPERTIES_IFACE, "Get", &locked_args),
        (BUS_NAME, collection, PROPERTIES_IFACE, "Get", &items_args),
    ])?;
    let locked = bus.wait(serials[0])?;
    let items = bus.wait(serials[1])?;
    state.settle(bus);
    if locked_reply(&locked)? {
        return None;
    }
    (items.signature == "v").then_some(())?;
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

/// The `Locked` property in a `Properties.Get` reply.
fn locked_reply(reply: &Reply) -> Option<bool> {
    (reply.signature == "v").then_some(())?;
    let mut r = Reader::new_body(&reply.body);
    r.variant("b")?;
    r.bool()
}

/// Which of `names` have an item in the collection, found by the `profile` attribute as
/// [`secret`] finds them, all asked at once: one round trip however many items the collection
/// holds, where a listing costs a property read per item. Where each one is is kept in
/// `state`, so reading it next costs one more round trip.
///
/// The sessions of the `next` prefixes, which the caller expects to look up next, are searched
/// for in the same write, ahead of the names, and each one found is read as soon as its search
/// answers: the read then waits behind the names' searches in the service instead of taking a
/// round trip of its own after them. [`with_prefix`] picks the answers up.
///
/// `None` when a search fails (a missing collection, an error), or when nothing is found in a
/// locked collection (a provider need not search a locked collection; the caller then takes the
/// path that can unlock it).
pub fn stored_among(
    bus: &mut Bus,
    state: &mut State,
    collection: &str,
    names: &[&str],
    next: &[&str],
) -> Option<Vec<String>> {
    let attrs: Vec<[(&str, &str); 1]> = next
        .iter()
        .map(|p| [(PREFIX_ATTRIBUTE, *p)])
        .chain(names.iter().map(|n| [("profile", *n)]))
        .collect();
    let args: Vec<[Arg<'_>; 1]> = attrs.iter().map(|a| [Arg::DictStr(a)]).collect();
    let calls: Vec<_> = args
        .iter()
        .map(|a| {
            (
                BUS_NAME,
                collection,
                COLLECTION_IFACE,
                "SearchItems",
                &a[..],
            )
        })
        .collect();
    let mut serials = bus.send(&calls)?;
    let name_serials = serials.split_off(next.len());
    state.drop_prefetched(bus);
    for (prefix, serial) in next.iter().zip(serials) {
        let reply = bus.wait(serial)?;
        (reply.signature == "ao").then_some(())?;
        let paths = Reader::new_body(&reply.body).paths()?;
        state.settle(bus);
        let read = match (&state.session, paths.is_empty()) {
            (Some(session), false) => {
                let items: Vec<&str> = paths.iter().map(String::as_str).collect();
                Some(send_get_secrets(bus, session, &items)?)
            }
            _ => None,
        };
        state.prefetched.push(Prefetched {
            prefix: prefix.to_string(),
            paths,
            read,
        });
    }
    let mut found = Vec::new();
    for (serial, name) in name_serials.into_iter().zip(names) {
        let reply = bus.wait(serial)?;
        (reply.signature == "ao").then_some(())?;
        if let Some(path) = Reader::new_body(&reply.body).paths()?.into_iter().next() {
            state.paths.insert(name.to_string(), path);
            found.push(name.to_string());
        }
    }
    if found.is_empty() {
        let args = [Arg::Str(COLLECTION_IFACE), Arg::Str("Locked")];
        let reply = bus.call(BUS_NAME, collection, PROPERTIES_IFACE, "Get", &args)?;
        if locked_reply(&reply)? {
            return None;
        }
    }
    Some(found)
}

/// The secrets of the items whose [`PREFIX_ATTRIBUTE`] is `prefix`, in the service's order:
/// a search and a read, both already on their way when [`stored_among`] sent them ahead. Empty
/// when no item has it (items written by the Go tool or an older version do not), or when every
/// one is locked. `None` when anything is unexpected.
pub fn with_prefix(
    bus: &mut Bus,
    state: &mut State,
    collection: &str,
    prefix: &str,
) -> Option<Vec<zeroize::Zeroizing<Vec<u8>>>> {
    let ahead = (state.prefetched.iter())
        .position(|p| p.prefix == prefix)
        .map(|at| state.prefetched.swap_remove(at));
    let (paths, read) = match ahead {
        Some(p) => (p.paths, p.read),
        None => {
            let attrs = [(PREFIX_ATTRIBUTE, prefix)];
            let serial = bus.send(&[(
                BUS_NAME,
                collection,
                COLLECTION_IFACE,
                "SearchItems",
                &[Arg::DictStr(&attrs)][..],
            )])?[0];
            state.settle(bus);
            let reply = bus.wait(serial)?;
            (reply.signature == "ao").then_some(())?;
            (Reader::new_body(&reply.body).paths()?, None)
        }
    };
    if paths.is_empty() {
        return Some(Vec::new());
    }
    let items: Vec<&str> = paths.iter().map(String::as_str).collect();
    let read = match read {
        Some(serial) => serial,
        None => {
            state.settle(bus);
            send_get_secrets(bus, state.session.as_deref()?, &items)?
        }
    };
    let secrets = secrets_reply(bus, read)?;
    // In the search's order, which is the service's.
    Some(
        items
            .iter()
            .filter_map(|item| secrets.iter().position(|(p, _)| p == item))
            .map(|at| secrets[at].1.clone())
            .collect(),
    )
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
    let mut secrets = secrets_at(bus, session_path, &[item])?;
    // A locked item is left out of the answer.
    let at = secrets.iter().position(|(p, _)| p == item)?;
    Some(Found::Secret(secrets.swap_remove(at).1))
}

/// `GetSecrets` of `items`: (item path, secret) for each unlocked one, in the reply's order.
fn secrets_at(
    bus: &mut Bus,
    session_path: &str,
    items: &[&str],
) -> Option<Vec<(String, zeroize::Zeroizing<Vec<u8>>)>> {
    let serial = send_get_secrets(bus, session_path, items)?;
    secrets_reply(bus, serial)
}

/// Send `GetSecrets` of `items` without waiting; its serial.
fn send_get_secrets(bus: &mut Bus, session_path: &str, items: &[&str]) -> Option<u32> {
    let args = [Arg::Paths(items), Arg::Path(session_path)];
    let serials = bus.send(&[(BUS_NAME, SERVICE_PATH, SERVICE_IFACE, "GetSecrets", &args)])?;
    serials.first().copied()
}

/// The answer to the `GetSecrets` sent as `serial`: (item path, secret) for each unlocked
/// item, in the reply's order.
fn secrets_reply(bus: &mut Bus, serial: u32) -> Option<Vec<(String, zeroize::Zeroizing<Vec<u8>>)>> {
    let reply = bus.wait(serial)?;
    (reply.signature == "a{o(oayays)}").then_some(())?;
    let mut r = Reader::new_body(&reply.body);
    r.array(8, |r| {
        let path = r.str()?.to_string();
        r.align8()?;
        let _session = r.str()?;
        let _params = r.bytes()?;
        let value = zeroize::Zeroizing::new(r.bytes()?.to_vec());
        let _content_type = r.str()?;
        Some((path, value))
    })
}
