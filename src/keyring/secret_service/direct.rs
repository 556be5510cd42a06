//! The Secret Service read path spoken directly over the bus, for the credential hot path.
//!
//! The `secret-service` crate does everything right but takes its time: its Diffie-Hellman
//! exchange uses a textbook square-and-multiply with a full division per step (two 1024-bit
//! exponentiations, several milliseconds), and listing the keys costs a proxy and a round trip
//! per item, one after the other. Reading is what every `credential_process` call does, so
//! this module does it with the fewest messages:
//!
//! * one `OpenSession` per process, `dh-ietf1024-sha256-aes128-cbc-pkcs7` as the crate
//!   negotiates it (so the secret is still encrypted on the bus), with num-bigint's Montgomery
//!   exponentiation and a 256-bit private exponent (twice the strength of the 1024-bit group,
//!   the usual rule for Diffie-Hellman exponents; see `docs/backends.md`);
//! * the collection addressed by its object path (no look-up for a plain name like `awsvault`);
//! * `keys`: the collection's `Items`, then every item's `Label` requested at once (the
//!   requests are pipelined on the connection, so the cost is about one round trip, not N);
//! * `get`: `SearchItems` by the `profile` attribute, then `GetSecrets`.
//!
//! Anything unusual — a locked collection or item (which needs a prompt), a service without the
//! encrypted session, an error — returns `None`, and the caller takes the crate's complete path,
//! which handles prompts, unlocking and error wording. Writes always take the crate's path.
use std::collections::HashMap;

use num_bigint::BigUint;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};
use zeroize::Zeroizing;

use super::{decode_object_path, BUS_NAME, COLLECTION_PREFIX};

const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_IFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_IFACE: &str = "org.freedesktop.Secret.Collection";
const ITEM_IFACE: &str = "org.freedesktop.Secret.Item";
const PROPERTIES_IFACE: &str = "org.freedesktop.DBus.Properties";
pub const ALGORITHM: &str = "dh-ietf1024-sha256-aes128-cbc-pkcs7";

/// The 1024-bit MODP group of RFC 2409 §6.2 (the "Second Oakley Group"), generator 2: the group
/// the Secret Service specification names for this algorithm.
const PRIME_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF";

/// Bytes of the private exponent: 256 bits.
const PRIVATE_BYTES: usize = 32;

/// An open session: its object path and the AES-128 key both sides derived.
pub struct Session {
    path: OwnedObjectPath,
    key: Zeroizing<[u8; 16]>,
}

fn prime() -> BigUint {
    // The constant is valid hex; parse_bytes cannot fail on it.
    BigUint::parse_bytes(PRIME_HEX.as_bytes(), 16).unwrap_or_default()
}

/// Our key pair: (private exponent, public value `2^x mod p` as 128 big-endian bytes).
fn keypair() -> Option<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let mut private = Zeroizing::new(vec![0u8; PRIVATE_BYTES]);
    getrandom::fill(&mut private).ok()?;
    let x = BigUint::from_bytes_be(&private);
    let public = BigUint::from(2u32).modpow(&x, &prime());
    Some((private, public.to_bytes_be()))
}

/// The AES key of the algorithm: HKDF-SHA256 (no salt, no info) of the shared secret written
/// as 128 big-endian bytes.
fn derive_key(private: &[u8], server_public: &[u8]) -> Option<Zeroizing<[u8; 16]>> {
    let p = prime();
    let y = BigUint::from_bytes_be(server_public);
    // A public value outside 2..p-2 is either broken or an attack on the exchange.
    if y <= BigUint::from(1u32) || y >= &p - 1u32 {
        return None;
    }
    let shared = y.modpow(&BigUint::from_bytes_be(private), &p);
    let bytes = Zeroizing::new(shared.to_bytes_be());
    let mut ikm = Zeroizing::new(vec![0u8; 128usize.saturating_sub(bytes.len())]);
    ikm.extend_from_slice(&bytes);
    let mut key = Zeroizing::new([0u8; 16]);
    hkdf::Hkdf::<sha2::Sha256>::new(None, &ikm)
        .expand(&[], key.as_mut())
        .ok()?;
    Some(key)
}

/// AES-128-CBC with PKCS#7 padding, as the algorithm name says.
fn decrypt(key: &[u8; 16], iv: &[u8], ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockDecryptMut, KeyIvInit};
    if iv.len() != 16 {
        return None;
    }
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let n = cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .ok()?
        .len();
    buf.truncate(n);
    Some(buf)
}

fn call<B>(
    conn: &zbus::blocking::Connection,
    path: &str,
    iface: &str,
    method: &str,
    body: &B,
) -> Option<zbus::Message>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    conn.call_method(Some(BUS_NAME), path, Some(iface), method, body)
        .map_err(|e| crate::debug!("secret-service: {iface}.{method}: {e}"))
        .ok()
}

/// Open an encrypted session; `None` when the service refuses the algorithm or anything fails.
pub fn open_session(conn: &zbus::blocking::Connection) -> Option<Session> {
    let (private, public) = keypair()?;
    let reply = call(
        conn,
        SERVICE_PATH,
        SERVICE_IFACE,
        "OpenSession",
        &(ALGORITHM, Value::from(public)),
    )?;
    let (output, path): (OwnedValue, OwnedObjectPath) = reply.body().deserialize().ok()?;
    let server_public: Vec<u8> = output.try_into().ok()?;
    let key = derive_key(&private, &server_public)?;
    Some(Session { path, key })
}

/// The collection whose decoded object path is `COLLECTION_PREFIX + name`. A name that needs no
/// escaping is its own path (no round trip: if no collection is there, the first call on it
/// fails and the caller takes the crate's path); any other name is looked up among the
/// service's `Collections`.
pub fn collection_path(conn: &zbus::blocking::Connection, name: &str) -> Option<OwnedObjectPath> {
    let want = format!("{COLLECTION_PREFIX}{name}");
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return OwnedObjectPath::try_from(want).ok();
    }
    let paths: Vec<OwnedObjectPath> = property(conn, SERVICE_PATH, SERVICE_IFACE, "Collections")?;
    paths
        .into_iter()
        .find(|p| decode_object_path(p.as_str()) == want)
}

fn property<T>(conn: &zbus::blocking::Connection, path: &str, iface: &str, name: &str) -> Option<T>
where
    T: TryFrom<OwnedValue>,
{
    let reply = call(conn, path, PROPERTIES_IFACE, "Get", &(iface, name))?;
    let value: OwnedValue = reply.body().deserialize().ok()?;
    T::try_from(value).ok()
}

/// Every item's label, the labels requested all at once. `None` when the collection is locked
/// or anything fails.
pub fn labels(
    conn: &zbus::blocking::Connection,
    collection: &OwnedObjectPath,
) -> Option<Vec<String>> {
    if property::<bool>(conn, collection.as_str(), COLLECTION_IFACE, "Locked")? {
        return None;
    }
    let items: Vec<OwnedObjectPath> =
        property(conn, collection.as_str(), COLLECTION_IFACE, "Items")?;
    if items.is_empty() {
        return Some(Vec::new());
    }
    let inner = conn.inner();
    let calls = items.iter().map(|item| {
        inner.call_method(
            Some(BUS_NAME),
            item.as_str(),
            Some(PROPERTIES_IFACE),
            "Get",
            &(ITEM_IFACE, "Label"),
        )
    });
    let replies = crate::aws::block_on(futures_util::future::join_all(calls));
    let mut labels = Vec::with_capacity(replies.len());
    for reply in replies {
        let reply = reply
            .map_err(|e| crate::debug!("secret-service: reading a label: {e}"))
            .ok()?;
        let value: OwnedValue = reply.body().deserialize().ok()?;
        labels.push(String::try_from(value).ok()?);
    }
    Some(labels)
}

/// What [`secret`] found.
pub enum Found {
    /// The item's secret, decrypted.
    Secret(Zeroizing<Vec<u8>>),
    /// No item has `profile = key` in the collection.
    Missing,
}

/// The secret of the first item whose `profile` attribute is `key`. `None` when the item is
/// locked or anything fails (the caller then takes the crate's path, which can unlock).
pub fn secret(
    conn: &zbus::blocking::Connection,
    session: &Session,
    collection: &OwnedObjectPath,
    key: &str,
) -> Option<Found> {
    let reply = call(
        conn,
        collection.as_str(),
        COLLECTION_IFACE,
        "SearchItems",
        &(HashMap::from([("profile", key)]),),
    )?;
    let (paths,): (Vec<OwnedObjectPath>,) = reply.body().deserialize().ok()?;
    let Some(item) = paths.into_iter().next() else {
        return Some(Found::Missing);
    };
    let reply = call(
        conn,
        SERVICE_PATH,
        SERVICE_IFACE,
        "GetSecrets",
        &(vec![&item], &session.path),
    )?;
    type Secret = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);
    let (mut secrets,): (HashMap<OwnedObjectPath, Secret>,) = reply.body().deserialize().ok()?;
    // A locked item is left out of the answer.
    let (_, iv, value, _) = secrets.remove(&item)?;
    let value = Zeroizing::new(value);
    decrypt(&session.key, &iv, &value).map(Found::Secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_derive_the_same_key() {
        let (a_private, a_public) = keypair().unwrap();
        let (b_private, b_public) = keypair().unwrap();
        assert_eq!(a_public.len(), 128);
        let a = derive_key(&a_private, &b_public).unwrap();
        let b = derive_key(&b_private, &a_public).unwrap();
        assert_eq!(*a, *b);
    }

    #[test]
    fn degenerate_public_values_are_refused() {
        let (private, _) = keypair().unwrap();
        assert!(derive_key(&private, &[1]).is_none());
        assert!(derive_key(&private, &[0]).is_none());
        let p_minus_1 = (prime() - 1u32).to_bytes_be();
        assert!(derive_key(&private, &p_minus_1).is_none());
    }

    #[test]
    fn decrypts_what_cbc_pkcs7_encrypts() {
        use cbc::cipher::block_padding::Pkcs7;
        use cbc::cipher::{BlockEncryptMut, KeyIvInit};
        let key = [7u8; 16];
        let iv = [9u8; 16];
        let plain = b"{\"Key\":\"x\",\"Data\":\"eyJ9\"}";
        let ct = cbc::Encryptor::<aes::Aes128>::new(&key.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plain);
        assert_eq!(decrypt(&key, &iv, &ct).unwrap().as_slice(), plain);
        assert!(decrypt(&[8u8; 16], &iv, &ct).is_none_or(|p| p.as_slice() != plain));
        assert!(decrypt(&key, &iv[..8], &ct).is_none());
    }
}
