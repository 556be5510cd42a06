//! An in-memory [`Keyring`] for unit tests, with switches to make operations fail.
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use crate::keyring::{Error, Item, Keyring, Result};

/// Items in a map; `fail_set_for` / `fail_remove` / `fail_get_for` inject backend errors, and
/// `corrupt_reads_for` returns a different payload than was written (to exercise verification).
#[derive(Default)]
pub struct MemoryKeyring {
    pub items: RefCell<BTreeMap<String, Item>>,
    pub fail_set_for: RefCell<Vec<String>>,
    pub fail_get_for: RefCell<Vec<String>>,
    pub corrupt_reads_for: RefCell<Vec<String>>,
    pub fail_remove: Cell<bool>,
    pub sets: Cell<usize>,
    /// How many times `keys` was called.
    pub lists: Cell<usize>,
    /// Answer `keys_among` and `first_with_prefix` by search, never listing, as the Secret
    /// Service does.
    pub searching: Cell<bool>,
    /// The `next` prefix `keys_among` was given (asked for only when searching).
    pub hinted: RefCell<Vec<String>>,
}

impl MemoryKeyring {
    pub fn new() -> MemoryKeyring {
        MemoryKeyring::default()
    }

    pub fn keys_now(&self) -> Vec<String> {
        self.items.borrow().keys().cloned().collect()
    }
}

impl Keyring for MemoryKeyring {
    fn get(&self, key: &str) -> Result<Item> {
        if self.fail_get_for.borrow().iter().any(|k| k == key) {
            return Err(Error::Backend(format!("injected read failure for {key}")));
        }
        let mut item = self
            .items
            .borrow()
            .get(key)
            .cloned()
            .ok_or(Error::NotFound)?;
        if self.corrupt_reads_for.borrow().iter().any(|k| k == key) {
            item.data = zeroize::Zeroizing::new(
                br#"{"AccessKeyID":"AKIACORRUPT","SecretAccessKey":"x"}"#.to_vec(),
            );
        }
        Ok(item)
    }

    fn set(&self, item: &Item) -> Result<()> {
        if self.fail_set_for.borrow().contains(&item.key) {
            return Err(Error::Backend(format!(
                "injected write failure for {}",
                item.key
            )));
        }
        self.sets.set(self.sets.get() + 1);
        self.items
            .borrow_mut()
            .insert(item.key.clone(), item.clone());
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<()> {
        if self.fail_remove.get() {
            return Err(Error::Backend(format!("injected remove failure for {key}")));
        }
        self.items
            .borrow_mut()
            .remove(key)
            .map(|_| ())
            .ok_or(Error::NotFound)
    }

    fn keys(&self) -> Result<Vec<String>> {
        self.lists.set(self.lists.get() + 1);
        Ok(self.keys_now())
    }

    fn keys_among(
        &self,
        names: &[&str],
        next: &dyn Fn() -> Option<String>,
    ) -> Result<crate::keyring::Listing> {
        if !self.searching.get() {
            return Ok(crate::keyring::Listing::all(self.keys()?));
        }
        *self.hinted.borrow_mut() = next().into_iter().collect();
        let items = self.items.borrow();
        Ok(crate::keyring::Listing::found(
            names
                .iter()
                .filter(|n| items.contains_key(**n))
                .map(|n| n.to_string())
                .collect(),
        ))
    }

    fn first_with_prefix(
        &self,
        prefix: &str,
        accept: &dyn Fn(&str) -> bool,
    ) -> Result<Option<Item>> {
        if !self.searching.get() {
            let keys = self.keys()?;
            return crate::keyring::first_listed_with_prefix(self, &keys, prefix, accept);
        }
        let found = self
            .items
            .borrow()
            .keys()
            .find(|k| k.starts_with(prefix) && accept(k))
            .cloned();
        found.map(|k| self.get(&k)).transpose()
    }

    fn searches(&self) -> bool {
        self.searching.get()
    }
}
