//! The `winhello` envelope: how the Go tool's Windows Hello backend stores an item, byte for
//! byte, so that both tools read each other's items.
//!
//! * One generic credential per item, target name `keyring-winhello:aws-vault:<key>`.
//! * Its blob is a JSON envelope, fields in this order:
//!   `{"version":1,"provider":"Microsoft Passport Key Storage Provider","key_name":"<SID>//ByteNess/keyring-winhello/keyring-winhello-v1","content_alg":"AES-256-GCM","wrap_alg":"RSAES-PKCS1-v1_5","nonce":"…","wrapped_cek":"…","ciphertext":"…","aad":"…"}`
//!   with the four binary fields in padded standard base64.
//! * The content is AES-256-GCM of the raw item data under a fresh 32-byte content key (CEK)
//!   and a fresh 12-byte nonce; `ciphertext` is the sealed data followed by the 16-byte tag.
//! * The associated data is
//!   `{"backend":"winhello","version":1,"service_name":"aws-vault","item_key":"<key>"}`
//!   (the key as Go's JSON writes it), stored in `aad` too. A reader recomputes it from the key
//!   it asked for and refuses an envelope whose `aad` differs, so a blob copied to another
//!   key's credential does not decrypt as that key.
//! * The CEK is wrapped (RSA PKCS#1 v1.5) by a per-user key in the Microsoft Passport key
//!   storage provider, the Windows Hello key, named `<user SID>//ByteNess/keyring-winhello/
//!   keyring-winhello-v1`. Unwrapping it is what asks for the PIN or biometric.
//!
//! Sealing and opening take the wrap/unwrap step as a function, so everything here is tested
//! on every platform; the KSP calls are in [`sys`], compiled only for Windows.
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub const TARGET_PREFIX: &str = "keyring-winhello:aws-vault:";
pub const SERVICE: &str = "aws-vault";
pub const PROVIDER: &str = "Microsoft Passport Key Storage Provider";
pub const KEY_NAME_SUFFIX: &str = "//ByteNess/keyring-winhello/keyring-winhello-v1";
pub const CONTENT_ALG: &str = "AES-256-GCM";
pub const WRAP_ALG: &str = "RSAES-PKCS1-v1_5";

/// The credential target name of `key`.
pub fn target_name(key: &str) -> String {
    format!("{TARGET_PREFIX}{key}")
}

/// The key of a winhello target name; `None` for other credentials.
pub fn key_of(target: &str) -> Option<&str> {
    target.strip_prefix(TARGET_PREFIX)
}

/// The KSP key name for the user with string SID `sid`.
pub fn key_name(sid: &str) -> String {
    format!("{sid}{KEY_NAME_SUFFIX}")
}

/// The associated data that binds an envelope to its item key, as Go's `json.Marshal` writes it.
pub fn aad(key: &str) -> Vec<u8> {
    let mut out = br#"{"backend":"winhello","version":1,"service_name":"#.to_vec();
    crate::gofmt::json::push_quoted(&mut out, SERVICE.as_bytes());
    out.extend_from_slice(br#","item_key":"#);
    crate::gofmt::json::push_quoted(&mut out, key.as_bytes());
    out.push(b'}');
    out
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Envelope {
    pub version: u32,
    pub provider: String,
    pub key_name: String,
    pub content_alg: String,
    pub wrap_alg: String,
    pub nonce: String,
    pub wrapped_cek: String,
    pub ciphertext: String,
    pub aad: String,
}

/// Why an envelope could not be made or opened. Never carries secret bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("winhello: not an aws-vault Windows Hello envelope: {0}")]
    Malformed(String),
    #[error("winhello: the envelope belongs to another item (its associated data differs)")]
    WrongItem,
    #[error("winhello: the content does not decrypt (damaged envelope or another Hello key)")]
    Decrypt,
    #[error("winhello: {0}")]
    Key(String),
}

/// Seal `data` for `key`. `cek` and `nonce` must be fresh random values; `wrap` encrypts the
/// CEK with the Hello key.
pub fn seal(
    key: &str,
    data: &[u8],
    key_name: &str,
    cek: &[u8; 32],
    nonce: &[u8; 12],
    wrap: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, EnvelopeError> {
    let aad = aad(key);
    let cipher = Aes256Gcm::new(cek.into());
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: data,
                aad: &aad,
            },
        )
        .map_err(|_| EnvelopeError::Decrypt)?;
    let wrapped = wrap(cek).map_err(EnvelopeError::Key)?;
    let env = Envelope {
        version: 1,
        provider: PROVIDER.to_string(),
        key_name: key_name.to_string(),
        content_alg: CONTENT_ALG.to_string(),
        wrap_alg: WRAP_ALG.to_string(),
        nonce: STANDARD.encode(nonce),
        wrapped_cek: STANDARD.encode(wrapped),
        ciphertext: STANDARD.encode(ciphertext),
        aad: STANDARD.encode(&aad),
    };
    serde_json::to_vec(&env).map_err(|e| EnvelopeError::Malformed(e.to_string()))
}

/// Parse an envelope and check everything that needs no key: version, algorithms, provider and
/// that it belongs to `key`.
pub fn parse(key: &str, blob: &[u8]) -> Result<Envelope, EnvelopeError> {
    let env: Envelope =
        serde_json::from_slice(blob).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    if env.version != 1 {
        return Err(EnvelopeError::Malformed(format!(
            "version {} is not supported",
            env.version
        )));
    }
    if env.content_alg != CONTENT_ALG || env.wrap_alg != WRAP_ALG {
        return Err(EnvelopeError::Malformed(format!(
            "algorithms {}/{} are not supported",
            env.content_alg, env.wrap_alg
        )));
    }
    if env.provider != PROVIDER {
        return Err(EnvelopeError::Malformed(format!(
            "provider {:?} is not supported",
            env.provider
        )));
    }
    let stored_aad = decode(&env.aad, "aad")?;
    if stored_aad != aad(key) {
        return Err(EnvelopeError::WrongItem);
    }
    Ok(env)
}

fn decode(field: &str, name: &str) -> Result<Vec<u8>, EnvelopeError> {
    STANDARD
        .decode(field)
        .map_err(|e| EnvelopeError::Malformed(format!("{name}: {e}")))
}

/// Open an envelope stored under `key`; `unwrap` decrypts the CEK with the Hello key (this is
/// where Windows asks for the PIN or biometric).
pub fn open(
    key: &str,
    blob: &[u8],
    unwrap: impl FnOnce(&str, &[u8]) -> Result<Zeroizing<Vec<u8>>, String>,
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let env = parse(key, blob)?;
    let nonce = decode(&env.nonce, "nonce")?;
    if nonce.len() != 12 {
        return Err(EnvelopeError::Malformed("nonce is not 12 bytes".into()));
    }
    let ciphertext = decode(&env.ciphertext, "ciphertext")?;
    let wrapped = decode(&env.wrapped_cek, "wrapped_cek")?;
    let cek = unwrap(&env.key_name, &wrapped).map_err(EnvelopeError::Key)?;
    if cek.len() != 32 {
        return Err(EnvelopeError::Decrypt);
    }
    let cipher = Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(&cek));
    let aad = aad(key);
    cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| EnvelopeError::Decrypt)
}

#[cfg(windows)]
pub mod sys;

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for the RSA step: XOR with a fixed pad (the envelope does not care how).
    fn wrap(cek: &[u8]) -> Result<Vec<u8>, String> {
        Ok(cek.iter().map(|b| b ^ 0x5a).collect())
    }
    fn unwrap(_: &str, w: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
        Ok(Zeroizing::new(w.iter().map(|b| b ^ 0x5a).collect()))
    }

    #[test]
    fn names_and_aad_are_the_go_tools() {
        assert_eq!(target_name("prod"), "keyring-winhello:aws-vault:prod");
        assert_eq!(key_of("keyring-winhello:aws-vault:a:b"), Some("a:b"));
        assert_eq!(key_of("aws-vault:aws-vault:prod"), None);
        assert_eq!(
            key_name("S-1-5-21-1-2-3-1001"),
            "S-1-5-21-1-2-3-1001//ByteNess/keyring-winhello/keyring-winhello-v1"
        );
        assert_eq!(
            String::from_utf8(aad("prod")).unwrap(),
            r#"{"backend":"winhello","version":1,"service_name":"aws-vault","item_key":"prod"}"#
        );
        // Go's HTML escaping applies to the key.
        assert_eq!(
            String::from_utf8(aad("a<b>&\"")).unwrap(),
            r#"{"backend":"winhello","version":1,"service_name":"aws-vault","item_key":"a\u003cb\u003e\u0026\""}"#
        );
    }

    #[test]
    fn envelope_layout_is_byte_exact() {
        let cek = [7u8; 32];
        let nonce = [1u8; 12];
        let blob = seal(
            "prod",
            b"{\"x\":1}",
            &key_name("S-1-5-21-9"),
            &cek,
            &nonce,
            wrap,
        )
        .unwrap();
        let text = String::from_utf8(blob.clone()).unwrap();
        let prefix = r#"{"version":1,"provider":"Microsoft Passport Key Storage Provider","key_name":"S-1-5-21-9//ByteNess/keyring-winhello/keyring-winhello-v1","content_alg":"AES-256-GCM","wrap_alg":"RSAES-PKCS1-v1_5","nonce":"AQEBAQEBAQEBAQEB","wrapped_cek":""#;
        assert!(text.starts_with(prefix), "{text}");
        let env = parse("prod", &blob).unwrap();
        assert_eq!(STANDARD.decode(&env.aad).unwrap(), aad("prod"));
        // ciphertext = sealed data + 16-byte tag.
        assert_eq!(STANDARD.decode(&env.ciphertext).unwrap().len(), 7 + 16);
        assert_eq!(
            &*open("prod", &blob, unwrap).unwrap(),
            b"{\"x\":1}".as_slice()
        );
    }

    #[test]
    fn an_envelope_opens_only_for_its_own_key() {
        let blob = seal("prod", b"secret", "k", &[3u8; 32], &[4u8; 12], wrap).unwrap();
        assert_eq!(
            open("dev", &blob, unwrap).unwrap_err(),
            EnvelopeError::WrongItem
        );
        // An attacker who also rewrites `aad` still fails: the AAD used is recomputed.
        let mut env: Envelope = serde_json::from_slice(&blob).unwrap();
        env.aad = STANDARD.encode(aad("dev"));
        let forged = serde_json::to_vec(&env).unwrap();
        assert_eq!(
            open("dev", &forged, unwrap).unwrap_err(),
            EnvelopeError::Decrypt
        );
    }

    #[test]
    fn damaged_or_foreign_envelopes_are_errors() {
        let blob = seal("prod", b"secret", "k", &[3u8; 32], &[4u8; 12], wrap).unwrap();
        let mut env: Envelope = serde_json::from_slice(&blob).unwrap();
        let mut ct = STANDARD.decode(&env.ciphertext).unwrap();
        ct[0] ^= 1;
        env.ciphertext = STANDARD.encode(ct);
        let bad = serde_json::to_vec(&env).unwrap();
        assert_eq!(
            open("prod", &bad, unwrap).unwrap_err(),
            EnvelopeError::Decrypt
        );
        env.version = 2;
        assert!(matches!(
            open("prod", &serde_json::to_vec(&env).unwrap(), unwrap),
            Err(EnvelopeError::Malformed(_))
        ));
        assert!(matches!(
            open("prod", b"not json", unwrap),
            Err(EnvelopeError::Malformed(_))
        ));
        let refused = |_: &str, _: &[u8]| Err("the user cancelled Windows Hello".to_string());
        assert_eq!(
            open("prod", &blob, refused).unwrap_err(),
            EnvelopeError::Key("the user cancelled Windows Hello".into())
        );
    }
}
