//! The KDE Wallet backend (docs/compatibility.md §4.7 `kwallet`), talking to kwalletd directly over D-Bus.
//!
//! Wallet `aws-vault`, folder `aws-vault`, application id `aws-vault`, as the Go tool; each entry
//! is a binary entry (`writeEntry`) holding the Item JSON. Plasma 6's `org.kde.kwalletd6` is
//! tried first, then `org.kde.kwalletd5` (the Go tool only knew kwalletd5, docs/compatibility.md §7.25).
//! `DISABLE_KWALLET=1` turns the backend off, as in the Go tool.
use std::sync::Mutex;

use zeroize::Zeroizing;

use super::secret_service::{connect_session_bus, name_available};
use super::{Config, Error, Item, Keyring, Result};

pub const WALLET: &str = "aws-vault";
pub const FOLDER: &str = "aws-vault";
pub const APP_ID: &str = "aws-vault";

/// The daemons to try, newest first: (bus name, object path).
pub const DAEMONS: &[(&str, &str)] = &[
    ("org.kde.kwalletd6", "/modules/kwalletd6"),
    ("org.kde.kwalletd5", "/modules/kwalletd5"),
];

/// The part of `org.kde.KWallet` we use. Methods are overloaded on the KDE side; the argument
/// types here select the overload (`open(sxs)`, `isOpen(i)`, `readEntry(isss)`, ...).
#[zbus::proxy(
    interface = "org.kde.KWallet",
    default_service = "org.kde.kwalletd6",
    default_path = "/modules/kwalletd6",
    gen_async = false,
    gen_blocking = true,
    blocking_name = "KWalletProxyBlocking"
)]
pub trait KWallet {
    #[zbus(name = "isOpen")]
    fn is_open(&self, handle: i32) -> zbus::Result<bool>;
    #[zbus(name = "open")]
    fn open(&self, wallet: &str, w_id: i64, app_id: &str) -> zbus::Result<i32>;
    #[zbus(name = "hasFolder")]
    fn has_folder(&self, handle: i32, folder: &str, app_id: &str) -> zbus::Result<bool>;
    #[zbus(name = "createFolder")]
    fn create_folder(&self, handle: i32, folder: &str, app_id: &str) -> zbus::Result<bool>;
    #[zbus(name = "readEntry")]
    fn read_entry(
        &self,
        handle: i32,
        folder: &str,
        key: &str,
        app_id: &str,
    ) -> zbus::Result<Vec<u8>>;
    #[zbus(name = "writeEntry")]
    fn write_entry(
        &self,
        handle: i32,
        folder: &str,
        key: &str,
        value: &[u8],
        app_id: &str,
    ) -> zbus::Result<i32>;
    #[zbus(name = "removeEntry")]
    fn remove_entry(&self, handle: i32, folder: &str, key: &str, app_id: &str)
        -> zbus::Result<i32>;
    #[zbus(name = "hasEntry")]
    fn has_entry(&self, handle: i32, folder: &str, key: &str, app_id: &str) -> zbus::Result<bool>;
    #[zbus(name = "entryList")]
    fn entry_list(&self, handle: i32, folder: &str, app_id: &str) -> zbus::Result<Vec<String>>;
}

/// The `kwallet` keyring.
pub struct KWalletKeyring {
    daemon: &'static str,
    proxy: KWalletProxyBlocking<'static>,
    /// The wallet handle, obtained on first use and re-obtained when the wallet was closed.
    handle: Mutex<Option<i32>>,
}

impl std::fmt::Debug for KWalletKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KWalletKeyring")
            .field("daemon", &self.daemon)
            .finish_non_exhaustive()
    }
}

fn kw_error(what: &str, e: zbus::Error) -> Error {
    Error::Backend(format!("kwallet: cannot {what}: {e}"))
}

/// Pick the first daemon on `names`' list that `available` says is there.
pub fn pick_daemon(
    mut available: impl FnMut(&str) -> std::result::Result<bool, String>,
) -> std::result::Result<(&'static str, &'static str), String> {
    for &(name, path) in DAEMONS {
        if available(name)? {
            return Ok((name, path));
        }
    }
    Err(format!(
        "no KWallet daemon ({}) on the D-Bus session bus",
        DAEMONS.iter().map(|d| d.0).collect::<Vec<_>>().join(" or ")
    ))
}

impl KWalletKeyring {
    /// Connect to the session bus and find kwalletd6 or kwalletd5: running or activatable when
    /// named explicitly, running during automatic selection (`auto`; an activated kwalletd on a
    /// headless machine would wait forever on its wallet dialog). The wallet itself is opened on
    /// first use.
    pub fn open(_cfg: &Config, auto: bool) -> std::result::Result<KWalletKeyring, String> {
        if std::env::var("DISABLE_KWALLET").as_deref() == Ok("1") {
            return Err("disabled by DISABLE_KWALLET=1".into());
        }
        let conn = connect_session_bus()?;
        let (daemon, path) = pick_daemon(|n| name_available(&conn, n, !auto))?;
        let proxy = KWalletProxyBlocking::builder(&conn)
            .destination(daemon)
            .and_then(|b| b.path(path))
            .and_then(|b| b.cache_properties(zbus::proxy::CacheProperties::No).build())
            .map_err(|e| format!("cannot reach {daemon}: {e}"))?;
        Ok(KWalletKeyring {
            daemon,
            proxy,
            handle: Mutex::new(None),
        })
    }

    /// A valid handle to the `aws-vault` wallet (the daemon may ask the user to create or unlock
    /// it).
    fn handle(&self) -> Result<i32> {
        let mut h = self.handle.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cur) = *h {
            if self
                .proxy
                .is_open(cur)
                .map_err(|e| kw_error("query the wallet", e))?
            {
                return Ok(cur);
            }
        }
        crate::debug!("kwallet: opening wallet {WALLET} via {}", self.daemon);
        let new = self
            .proxy
            .open(WALLET, 0, APP_ID)
            .map_err(|e| kw_error(&format!("open the wallet '{WALLET}'"), e))?;
        if new < 0 {
            return Err(Error::Backend(format!(
                "kwallet: the wallet '{WALLET}' could not be opened (access denied or cancelled)"
            )));
        }
        *h = Some(new);
        Ok(new)
    }
}

impl Keyring for KWalletKeyring {
    fn get(&self, key: &str) -> Result<Item> {
        let h = self.handle()?;
        let bytes = Zeroizing::new(
            self.proxy
                .read_entry(h, FOLDER, key, APP_ID)
                .map_err(|e| kw_error(&format!("read the entry '{key}'"), e))?,
        );
        if bytes.is_empty() {
            return Err(Error::NotFound);
        }
        Item::from_json(&bytes).map_err(|reason| Error::Corrupt {
            path: format!("kwallet entry '{key}'"),
            reason: format!("not an aws-vault item: {reason}"),
        })
    }

    fn set(&self, item: &Item) -> Result<()> {
        let h = self.handle()?;
        let json = item.to_json();
        let rc = self
            .proxy
            .write_entry(h, FOLDER, &item.key, &json, APP_ID)
            .map_err(|e| kw_error(&format!("write the entry '{}'", item.key), e))?;
        if rc != 0 {
            return Err(Error::Backend(format!(
                "kwallet: writing the entry '{}' failed (code {rc})",
                item.key
            )));
        }
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<()> {
        let h = self.handle()?;
        let present = self
            .proxy
            .has_entry(h, FOLDER, key, APP_ID)
            .map_err(|e| kw_error(&format!("look up the entry '{key}'"), e))?;
        if !present {
            return Err(Error::NotFound);
        }
        let rc = self
            .proxy
            .remove_entry(h, FOLDER, key, APP_ID)
            .map_err(|e| kw_error(&format!("remove the entry '{key}'"), e))?;
        if rc != 0 {
            return Err(Error::Backend(format!(
                "kwallet: removing the entry '{key}' failed (code {rc})"
            )));
        }
        Ok(())
    }

    fn keys(&self) -> Result<Vec<String>> {
        let h = self.handle()?;
        self.proxy
            .entry_list(h, FOLDER, APP_ID)
            .map_err(|e| kw_error("list the wallet folder", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_kwalletd6_then_kwalletd5() {
        let d = pick_daemon(|n| Ok(n == "org.kde.kwalletd5")).unwrap();
        assert_eq!(d, ("org.kde.kwalletd5", "/modules/kwalletd5"));
        let d = pick_daemon(|_| Ok(true)).unwrap();
        assert_eq!(d, ("org.kde.kwalletd6", "/modules/kwalletd6"));
        let e = pick_daemon(|_| Ok(false)).unwrap_err();
        assert!(e.contains("org.kde.kwalletd6 or org.kde.kwalletd5"), "{e}");
    }
}
