//! The Windows backends against the real Credential Manager and Passport KSP. Runs only on
//! Windows (the Windows workflow); Wine does not enforce the 2,560-byte blob limit and has no
//! Windows Hello, so these are the checks the Wine suite cannot make.
#![cfg(windows)]

use aws_vault::keyring::wincred::{self, sys::WincredKeyring};
use aws_vault::keyring::winhello::sys::WinHelloKeyring;
use aws_vault::keyring::{Config, Error, Item, Keyring};
use zeroize::Zeroizing;

fn item(key: &str, data: Vec<u8>) -> Item {
    Item {
        key: key.into(),
        data: Zeroizing::new(data),
        ..Item::default()
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", wincred::new_generation())
}

#[test]
fn wincred_round_trip_of_a_small_item_uses_the_go_layout() {
    let kr = WincredKeyring::open(&Config::default()).unwrap();
    let key = unique("native-small");
    kr.set(&item(
        &key,
        br#"{"AccessKeyID":"AKIA","SecretAccessKey":"s"}"#.to_vec(),
    ))
    .unwrap();
    assert!(kr.keys().unwrap().contains(&key));
    assert_eq!(
        &*wincred::sys::read(&wincred::target_name(&key)).unwrap(),
        br#"{"AccessKeyID":"AKIA","SecretAccessKey":"s"}"#
    );
    kr.remove(&key).unwrap();
    assert!(matches!(kr.get(&key), Err(Error::NotFound)));
}

#[test]
fn wincred_stores_items_over_the_blob_limit() {
    let kr = WincredKeyring::open(&Config::default()).unwrap();
    let key = unique("oidc:https://native.example/start");
    // Windows itself refuses this as one blob: the limit is real here.
    let big: Vec<u8> = (0..(3 * wincred::MAX_BLOB + 11))
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    assert!(wincred::sys::write(&unique("native-raw"), &big).is_err());
    kr.set(&item(&key, big.clone())).unwrap();
    assert_eq!(&*kr.get(&key).unwrap().data, &big[..]);
    // Overwriting with a small item drops the parts.
    kr.set(&item(&key, b"small".to_vec())).unwrap();
    assert_eq!(&*kr.get(&key).unwrap().data, b"small");
    assert!(
        wincred::sys::enumerate(&format!("{}*", wincred::CHUNK_PREFIX))
            .unwrap()
            .iter()
            .all(|t| !t.ends_with(&key))
    );
    kr.remove(&key).unwrap();
}

#[test]
fn winhello_opens_and_fails_cleanly_without_hello() {
    // A runner has no Windows Hello enrolment: opening works (it only reads the SID), and a
    // write either succeeds (Hello set up) or fails with one clear error, never a panic.
    let kr = WinHelloKeyring::open(&Config::default()).unwrap();
    let key = unique("native-hello");
    match kr.set(&item(&key, b"secret".to_vec())) {
        Ok(()) => {
            assert!(kr.keys().unwrap().contains(&key));
            kr.remove(&key).unwrap();
        }
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains("winhello") || text.contains("Windows Hello"),
                "{text}"
            );
        }
    }
}
