//! Keyring item names: session keys (`sts.GetSessionToken,<b64 profile>,<b64 serial>,<expiry>`),
//! legacy keys, reserved names, key-file name encoding, and the stored JSON of sessions and
//! long-term credentials.
#![no_main]

use aws_vault::keyring::file::{decode_file_name, encode_file_name};
use aws_vault::store::{self, SessionKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(key) = SessionKey::parse(&text) {
        // What we parse, we write back the same way and read again unchanged, except a key
        // whose profile decodes to nothing (only newlines in the field; we never write one).
        let again = SessionKey::parse(&key.to_key());
        if key.profile.is_empty() {
            assert_eq!(again, None);
        } else {
            assert_eq!(again.as_ref(), Some(&key));
        }
        let _ = key.label(jiff::Timestamp::UNIX_EPOCH);
        let _ = key.label(jiff::Timestamp::MAX);
    }
    let _ = store::sessions::is_legacy_session_key(&text);
    let _ = store::reserved_kind(&text);
    let _ = store::credential_names(&[text.to_string()]);
    let encoded = encode_file_name(&text);
    assert_eq!(decode_file_name(&encoded), text.as_bytes());
    let _ = decode_file_name(&text);
    let _ = store::sessions::decode(data);
    let _ = store::credentials::decode(data);
});
