//! The 1Password backends: `op-connect` (a 1Password Connect server, over its REST API) and `op`
//! / `op-desktop` (the 1Password command-line tool, with a service-account token or through the
//! desktop app).
//!
//! All three store the Go tool's items (docs/compatibility.md §4.7): an item titled `<prefix>: <key>` in the
//! vault `--op-vault-id`, category API Credential, tagged `--op-item-tag`, holding one concealed
//! field labelled `keyring` whose value is the item JSON (§4.2). What differs is only how an item
//! is listed, fetched, created, replaced and deleted; that is the [`Transport`] of each backend,
//! and [`OpKeyring`] holds the rules common to all three:
//!
//! * which items are aws-vault's: the right tag and category, and exactly one concealed field
//!   `keyring` (other concealed fields must be empty). Anything else with the same title is
//!   someone else's item and is never read, replaced or deleted;
//! * duplicate titles: two aws-vault items with one title are refused with an error naming the
//!   title and vault, as the Go tool does, but only when that key is used; listing keys shows the
//!   title once;
//! * speed: the Go tool lists the vault and then fetches *every* item on each `Keys()` and twice
//!   more per `Get`. Here the listing (titles and ids, no secrets) is fetched once per process and
//!   kept up to date by our own writes, so a credential lookup costs one listing plus one fetch of
//!   the item itself. A cached id that has gone (someone deleted the item meanwhile) is noticed by
//!   the fetch and the listing is read again.
pub mod cli;
pub mod connect;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

use super::{Error, Item, Keyring, Result};

/// The label of the one concealed field that holds the item JSON (the Go library's
/// `OPItemFieldTitle`; aws-vault never changes it).
pub const FIELD_LABEL: &str = "keyring";
/// The item category, as the Connect API and the `op` tool spell API Credential.
pub const CATEGORY: &str = "API_CREDENTIAL";
/// The field type of the `keyring` field.
pub const CONCEALED: &str = "CONCEALED";
/// Between the title prefix and the key.
const TITLE_SEP: &str = ": ";

/// Settings of the 1Password backends, merged from the `--op-*` flags and their variables by
/// `cli::settings`. `Debug` redacts the tokens.
#[derive(Clone)]
pub struct OpConfig {
    /// `--op-timeout` / `AWS_VAULT_OP_TIMEOUT` (default 15 s): the limit of each request to the
    /// Connect server and of each run of `op`. Zero is refused by `op` and `op-desktop` (as in
    /// the Go tool) and means "no limit" for `op-connect`.
    pub timeout: Duration,
    /// `--op-vault-id` / `AWS_VAULT_OP_VAULT_ID`, else `OP_VAULT_ID`.
    pub vault_id: Option<String>,
    /// `--op-item-title-prefix` / `AWS_VAULT_OP_ITEM_TITLE_PREFIX` (default `aws-vault`).
    pub title_prefix: String,
    /// `--op-item-tag` / `AWS_VAULT_OP_ITEM_TAG` (default `aws-vault`).
    pub tag: String,
    /// `--op-connect-host` / `AWS_VAULT_OP_CONNECT_HOST`, else `OP_CONNECT_HOST`.
    pub connect_host: Option<String>,
    /// `AWS_VAULT_OP_CONNECT_TOKEN`, else `OP_CONNECT_TOKEN`; asked on the terminal when unset.
    pub connect_token: Option<Zeroizing<String>>,
    /// `AWS_VAULT_OP_SERVICE_ACCOUNT_TOKEN`, else `OP_SERVICE_ACCOUNT_TOKEN`; asked on the
    /// terminal when unset.
    pub service_account_token: Option<Zeroizing<String>>,
    /// `--op-desktop-account-id` / `AWS_VAULT_OP_DESKTOP_ACCOUNT_ID`, else
    /// `OP_DESKTOP_ACCOUNT_ID` (the fallback the Go tool meant to have, docs/compatibility.md §7.16).
    pub desktop_account_id: Option<String>,
    /// `AWS_VAULT_OP_CMD`: the `op` program; default `op` found on `PATH`.
    pub op_cmd: Option<String>,
}

impl Default for OpConfig {
    fn default() -> Self {
        OpConfig {
            timeout: Duration::from_secs(15),
            vault_id: None,
            title_prefix: "aws-vault".into(),
            tag: "aws-vault".into(),
            connect_host: None,
            connect_token: None,
            service_account_token: None,
            desktop_account_id: None,
            op_cmd: None,
        }
    }
}

impl fmt::Debug for OpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |t: &Option<Zeroizing<String>>| t.as_ref().map(|_| "<redacted>");
        f.debug_struct("OpConfig")
            .field("timeout", &self.timeout)
            .field("vault_id", &self.vault_id)
            .field("title_prefix", &self.title_prefix)
            .field("tag", &self.tag)
            .field("connect_host", &self.connect_host)
            .field("connect_token", &redact(&self.connect_token))
            .field(
                "service_account_token",
                &redact(&self.service_account_token),
            )
            .field("desktop_account_id", &self.desktop_account_id)
            .field("op_cmd", &self.op_cmd)
            .finish()
    }
}

impl OpConfig {
    /// The vault id, or the error that names every way to set it.
    pub(crate) fn require_vault(&self) -> std::result::Result<String, String> {
        self.vault_id
            .clone()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                "no 1Password vault: set --op-vault-id, AWS_VAULT_OP_VAULT_ID or OP_VAULT_ID"
                    .to_string()
            })
    }
}

/// A string that is wiped when dropped, for field values read from JSON.
#[derive(Default)]
pub struct SecretString(pub Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Option::<String>::deserialize(d)
            .map(|s| SecretString(Zeroizing::new(s.unwrap_or_default())))
    }
}

/// One entry of a listing: an item overview, without fields. The field names are the same in
/// the Connect API and in `op item list --format json`.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(default)]
pub struct Summary {
    pub id: String,
    pub title: String,
    pub category: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
    /// Connect only: `ARCHIVED` or `DELETED` for items in the trash.
    pub state: Option<String>,
}

/// A field of a full item (Connect `fields[]`, `op item get --format json` `fields[]`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Field {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub label: String,
    pub value: SecretString,
}

/// A full item, as far as aws-vault reads it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Full {
    pub id: String,
    pub title: String,
    pub category: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "null_as_empty")]
    pub fields: Vec<Field>,
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl Full {
    /// The `keyring` field when this is an aws-vault item: exactly one concealed field labelled
    /// `keyring`, and no other concealed field with a value. (The Go library asks for exactly one
    /// concealed field; an empty built-in concealed field that 1Password may add to an API
    /// Credential does not make an item foreign here.)
    pub fn own_field(&self) -> Option<&Field> {
        let mut mine = None;
        for f in self.fields.iter().filter(|f| f.kind == CONCEALED) {
            if f.label == FIELD_LABEL {
                if mine.is_some() {
                    return None;
                }
                mine = Some(f);
            } else if !f.value.0.is_empty() {
                return None;
            }
        }
        mine
    }
}

/// How one backend talks to 1Password. Errors are complete one-line messages.
pub trait Transport: Send + Sync {
    /// Every item overview in the vault that may carry the tag (a server-side filter is only an
    /// optimisation: [`OpKeyring`] checks tag and category again).
    fn list(&self) -> Result<Vec<Summary>>;
    /// One item in full; `None` when it no longer exists.
    fn get(&self, id: &str) -> Result<Option<Full>>;
    /// Create an item with the aws-vault layout; returns its id.
    fn create(&self, title: &str, value: &str) -> Result<String>;
    /// Replace an item's content with the aws-vault layout, keeping its id (and the `keyring`
    /// field's id).
    fn update(&self, id: &str, field_id: &str, title: &str, value: &str) -> Result<()>;
    /// Delete an item; `false` when it was already gone.
    fn delete(&self, id: &str) -> Result<bool>;
}

/// The titles of the aws-vault-looking items of the vault, with their ids, in listing order.
#[derive(Default)]
struct Index {
    titles: Vec<String>,
    ids: BTreeMap<String, Vec<String>>,
}

impl Index {
    fn add(&mut self, title: &str, id: &str) {
        let ids = self.ids.entry(title.to_string()).or_default();
        if ids.is_empty() {
            self.titles.push(title.to_string());
        }
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }

    fn remove(&mut self, title: &str, id: &str) {
        if let Some(ids) = self.ids.get_mut(title) {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                self.ids.remove(title);
                self.titles.retain(|t| t != title);
            }
        }
    }
}

/// The keyring over one [`Transport`], with the item rules and the listing cache.
pub struct OpKeyring<T: Transport> {
    transport: T,
    prefix: String,
    tag: String,
    /// Where the items live, for messages: `vault "<id>"` plus the backend's own words.
    place: String,
    index: Mutex<Option<Index>>,
}

/// What a title resolves to after the aws-vault items among its ids were told apart.
enum Found {
    None,
    One(Full),
}

impl<T: Transport> OpKeyring<T> {
    pub(crate) fn new(transport: T, cfg: &OpConfig, place: String) -> Self {
        OpKeyring {
            transport,
            prefix: cfg.title_prefix.clone(),
            tag: cfg.tag.clone(),
            place,
            index: Mutex::new(None),
        }
    }

    fn title(&self, key: &str) -> String {
        format!("{}{TITLE_SEP}{key}", self.prefix)
    }

    fn key_of<'a>(&self, title: &'a str) -> Option<&'a str> {
        title
            .strip_prefix(self.prefix.as_str())
            .and_then(|t| t.strip_prefix(TITLE_SEP))
    }

    fn candidate(&self, s: &Summary) -> bool {
        s.category == CATEGORY
            && s.tags.contains(&self.tag)
            && !matches!(s.state.as_deref(), Some("ARCHIVED") | Some("DELETED"))
            && self.key_of(&s.title).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Index>> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Read the listing again (one request or one `op` run).
    fn refresh(&self) -> Result<()> {
        let mut index = Index::default();
        for s in self.transport.list()? {
            if self.candidate(&s) {
                index.add(&s.title, &s.id);
            }
        }
        *self.lock() = Some(index);
        Ok(())
    }

    fn ids_for(&self, title: &str) -> Result<Vec<String>> {
        if self.lock().is_none() {
            self.refresh()?;
        }
        Ok(self
            .lock()
            .as_ref()
            .and_then(|i| i.ids.get(title).cloned())
            .unwrap_or_default())
    }

    /// The aws-vault item titled `title`: fetch each candidate, keep those with the aws-vault
    /// layout; more than one is the Go tool's "multiple matching items" error. A cached id that
    /// has gone makes the listing be read once more.
    fn find(&self, title: &str) -> Result<Found> {
        let mut retried = false;
        loop {
            let ids = self.ids_for(title)?;
            let mut own = Vec::new();
            let mut stale = false;
            for id in &ids {
                match self.transport.get(id)? {
                    None => stale = true,
                    Some(full)
                        if full.own_field().is_some()
                            && full.title == title
                            && full.category == CATEGORY
                            && full.tags.contains(&self.tag) =>
                    {
                        own.push(full)
                    }
                    Some(_) => {}
                }
            }
            if stale && !retried {
                retried = true;
                self.refresh()?;
                continue;
            }
            return match own.len() {
                0 => Ok(Found::None),
                1 => Ok(Found::One(own.pop().expect("one item"))),
                n => Err(Error::Backend(format!(
                    "found {n} 1Password items titled \"{title}\" in {}: keep one (delete or rename the others in 1Password)",
                    self.place
                ))),
            };
        }
    }
}

impl<T: Transport> Keyring for OpKeyring<T> {
    fn get(&self, key: &str) -> Result<Item> {
        let title = self.title(key);
        let Found::One(full) = self.find(&title)? else {
            return Err(Error::NotFound);
        };
        let field = full.own_field().expect("checked by find");
        Item::from_json(field.value.0.as_bytes()).map_err(|reason| Error::Corrupt {
            path: format!("1Password item \"{title}\" in {}", self.place),
            reason,
        })
    }

    fn set(&self, item: &Item) -> Result<()> {
        let title = self.title(&item.key);
        let json = item.to_json();
        // The item JSON is ASCII-safe UTF-8 (Go escaping), so this never fails.
        let value = Zeroizing::new(String::from_utf8_lossy(&json).into_owned());
        match self.find(&title)? {
            Found::One(full) => {
                let field = full.own_field().expect("checked by find");
                self.transport.update(&full.id, &field.id, &title, &value)
            }
            Found::None => {
                let id = self.transport.create(&title, &value)?;
                if let Some(index) = self.lock().as_mut() {
                    index.add(&title, &id);
                }
                Ok(())
            }
        }
    }

    fn remove(&self, key: &str) -> Result<()> {
        let title = self.title(key);
        let Found::One(full) = self.find(&title)? else {
            return Err(Error::NotFound);
        };
        let existed = self.transport.delete(&full.id)?;
        if let Some(index) = self.lock().as_mut() {
            index.remove(&title, &full.id);
        }
        if existed {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Keys from the listing alone: titles and ids, never a secret, one request per process.
    fn keys(&self) -> Result<Vec<String>> {
        if self.lock().is_none() {
            self.refresh()?;
        }
        let guard = self.lock();
        let index = guard.as_ref().expect("refreshed");
        Ok(index
            .titles
            .iter()
            .filter_map(|t| self.key_of(t).map(str::to_string))
            .collect())
    }

    /// For `list` and `migrate-backend`: keep the keys whose item really has the aws-vault
    /// layout (an item of someone else's with the same tag and title is not shown or copied).
    /// One fetch per key, like the Go tool's listing.
    fn retain_own(&self, keys: Vec<String>) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            match self.find(&self.title(&key)) {
                Ok(Found::One(_)) => out.push(key),
                Ok(Found::None) => {}
                // A duplicated title is still aws-vault's; using it will say what is wrong.
                Err(Error::Backend(m)) if m.starts_with("found ") => out.push(key),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// Cut a message from a server or a tool to one short line, with any occurrence of `secret`
/// removed (a token must never reach a message, even if something echoed it).
pub(crate) fn one_line(text: &str, secret: Option<&str>) -> String {
    let mut line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
        .to_string();
    if let Some(s) = secret.filter(|s| !s.is_empty()) {
        line = line.replace(s, "<redacted>");
    }
    if line.chars().count() > 300 {
        line = line.chars().take(300).collect::<String>() + "…";
    }
    line
}

/// Ask for a token on the terminal (docs/compatibility.md §4.8: never on stdout), or explain how to set it.
pub(crate) fn prompt_token(prompt: &str, vars: &str) -> Result<Zeroizing<String>> {
    crate::prompt::read_secret(&format!("{prompt}: "))
        .map_err(|e| Error::Backend(format!("no token: set {vars} ({e})")))
        .and_then(|t| {
            if t.trim().is_empty() {
                Err(Error::Backend(format!("no token given: set {vars}")))
            } else {
                Ok(Zeroizing::new(t.trim().to_string()))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(fields: &[(&str, &str, &str)]) -> Full {
        Full {
            fields: fields
                .iter()
                .map(|(kind, label, value)| Field {
                    id: label.to_string(),
                    kind: kind.to_string(),
                    label: label.to_string(),
                    value: SecretString(Zeroizing::new(value.to_string())),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn own_field_follows_the_go_layout() {
        assert!(full(&[("CONCEALED", "keyring", "{}")])
            .own_field()
            .is_some());
        // Non-concealed fields (notes) do not matter.
        assert!(full(&[
            ("STRING", "notesPlain", "x"),
            ("CONCEALED", "keyring", "{}")
        ])
        .own_field()
        .is_some());
        // An empty built-in concealed field does not make the item foreign.
        assert!(full(&[
            ("CONCEALED", "credential", ""),
            ("CONCEALED", "keyring", "{}")
        ])
        .own_field()
        .is_some());
        // Someone else's secret next to ours, two keyring fields, or none: not ours.
        assert!(full(&[
            ("CONCEALED", "credential", "s"),
            ("CONCEALED", "keyring", "{}")
        ])
        .own_field()
        .is_none());
        assert!(
            full(&[("CONCEALED", "keyring", "a"), ("CONCEALED", "keyring", "b")])
                .own_field()
                .is_none()
        );
        assert!(full(&[("STRING", "keyring", "{}")]).own_field().is_none());
    }

    #[test]
    fn one_line_redacts_and_shortens() {
        assert_eq!(
            one_line("a\nbad token tok123\n\n", Some("tok123")),
            "bad token <redacted>"
        );
        assert_eq!(one_line(&"x".repeat(400), None).chars().count(), 301);
    }
}
