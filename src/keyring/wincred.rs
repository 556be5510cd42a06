//! The Windows Credential Manager backend (`wincred`), laid out as the Go tool lays it out so
//! both tools share items:
//!
//! * one generic credential (`CRED_TYPE_GENERIC`, persisted "local machine", no user name) per
//!   item, target name `aws-vault:aws-vault:<key>` (the Go tool's prefix `aws-vault`, `:`, its
//!   service name `aws-vault`, `:`, the key);
//! * the credential blob is the raw item data (no JSON wrapper); label and description are not
//!   stored, as in the Go tool (nothing reads them back);
//! * `keys()` enumerates `aws-vault:aws-vault:*` with `CredEnumerateW` and strips the prefix.
//!
//! **The blob limit.** Windows refuses a blob over 2,560 bytes (`CRED_MAX_CREDENTIAL_BLOB_SIZE`).
//! The Go tool then fails to cache a large session or SSO token. Here an item that fits is stored
//! exactly as the Go tool stores it; a larger one is split ([`Layout`]): its own credential holds
//! a short ASCII header (`AWS-VAULT-CHUNKED/1 …`, never valid JSON) naming a random generation,
//! the number of parts, the length and the SHA-256 of the data, and the parts live in
//! credentials `aws-vault:aws-vault-chunk:<generation>:<n>:<key>`. That prefix is not the Go
//! tool's, so it never lists the parts as keys; reading the header, the Go tool finds invalid
//! JSON, which it treats as "no cached session / no token" and simply fetches a new one. Parts
//! are written before the header that names them and the previous generation is deleted after,
//! so a reader never sees a mix of two writes. Long-term keys are always small and always stored
//! the Go way.
//!
//! The names and the layout are pure functions here, tested on every platform; the Credential
//! Manager calls are in [`sys`], compiled only for Windows.
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Every aws-vault item's target name starts with this (prefix `aws-vault` + service `aws-vault`).
pub const TARGET_PREFIX: &str = "aws-vault:aws-vault:";
/// Parts of an item too large for one blob. Deliberately not under [`TARGET_PREFIX`].
pub const CHUNK_PREFIX: &str = "aws-vault:aws-vault-chunk:";
/// Windows' limit on one credential blob (`CRED_MAX_CREDENTIAL_BLOB_SIZE`, 5 × 512 bytes).
pub const MAX_BLOB: usize = 2560;
/// First word of the header blob of a split item.
const MAGIC: &str = "AWS-VAULT-CHUNKED/1";

/// The target name of `key`.
pub fn target_name(key: &str) -> String {
    format!("{TARGET_PREFIX}{key}")
}

/// The key of an aws-vault target name; `None` for other credentials (and for parts).
pub fn key_of(target: &str) -> Option<&str> {
    target.strip_prefix(TARGET_PREFIX)
}

/// The target name of part `n` (from 1) of generation `generation` of `key`.
pub fn chunk_target(generation: &str, n: usize, key: &str) -> String {
    format!("{CHUNK_PREFIX}{generation}:{n}:{key}")
}

/// What a split item's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// 16 hex digits, new for every write.
    pub generation: String,
    pub parts: usize,
    pub len: usize,
    pub sha256: [u8; 32],
}

impl Header {
    fn to_blob(&self) -> Vec<u8> {
        let hex: String = self.sha256.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{MAGIC} generation={} parts={} len={} sha256={hex}",
            self.generation, self.parts, self.len
        )
        .into_bytes()
    }

    /// `Some` when `blob` is a split item's header, `None` when it is plain data.
    pub fn parse(blob: &[u8]) -> Option<Header> {
        let text = std::str::from_utf8(blob).ok()?;
        let mut words = text.split(' ');
        if words.next()? != MAGIC {
            return None;
        }
        let mut field = |name: &str| {
            words
                .next()
                .and_then(|w| w.strip_prefix(name))
                .and_then(|w| w.strip_prefix('='))
                .map(str::to_string)
        };
        let generation = field("generation")?;
        let parts = field("parts")?.parse().ok()?;
        let len = field("len")?.parse().ok()?;
        let hex = field("sha256")?;
        if generation.is_empty()
            || !generation.bytes().all(|b| b.is_ascii_hexdigit())
            || hex.len() != 64
        {
            return None;
        }
        let mut sha256 = [0u8; 32];
        for (i, byte) in sha256.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Header {
            generation,
            parts,
            len,
            sha256,
        })
    }

    /// The target names of this generation's parts.
    pub fn part_targets(&self, key: &str) -> Vec<String> {
        (1..=self.parts)
            .map(|n| chunk_target(&self.generation, n, key))
            .collect()
    }

    /// Reassemble the data from its parts (in order), checking length and digest.
    pub fn join(&self, parts: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>, String> {
        if parts.len() != self.parts {
            return Err(format!(
                "split item has {} of its {} parts",
                parts.len(),
                self.parts
            ));
        }
        let mut data = Zeroizing::new(Vec::with_capacity(self.len));
        for part in parts {
            data.extend_from_slice(part);
        }
        if data.len() != self.len || Sha256::digest(&*data).as_slice() != self.sha256 {
            return Err("split item's parts do not match its header".to_string());
        }
        Ok(data)
    }
}

/// How one item is written: the blob of its own credential, and the parts (target, blob) to
/// write before it.
pub struct Layout {
    pub blob: Zeroizing<Vec<u8>>,
    pub parts: Vec<(String, Zeroizing<Vec<u8>>)>,
}

/// The layout of `data` under `key`; `generation` names the parts (random per write).
pub fn layout(key: &str, data: &[u8], generation: &str) -> Layout {
    if data.len() <= MAX_BLOB {
        return Layout {
            blob: Zeroizing::new(data.to_vec()),
            parts: Vec::new(),
        };
    }
    let chunks: Vec<&[u8]> = data.chunks(MAX_BLOB).collect();
    let header = Header {
        generation: generation.to_string(),
        parts: chunks.len(),
        len: data.len(),
        sha256: Sha256::digest(data).into(),
    };
    let parts = chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                chunk_target(generation, i + 1, key),
                Zeroizing::new(c.to_vec()),
            )
        })
        .collect();
    Layout {
        blob: Zeroizing::new(header.to_blob()),
        parts,
    }
}

/// A fresh generation name: 8 random bytes in hex.
pub fn new_generation() -> String {
    let mut bytes = [0u8; 8];
    // An all-zero generation on a failing RNG still works: it only names the parts.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// NUL-terminated UTF-16, as every `…W` function takes strings.
pub fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

#[cfg(windows)]
pub mod sys;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_target_names() {
        assert_eq!(target_name("prod"), "aws-vault:aws-vault:prod");
        assert_eq!(
            target_name("oidc:https://x.awsapps.com/start"),
            "aws-vault:aws-vault:oidc:https://x.awsapps.com/start"
        );
        assert_eq!(key_of("aws-vault:aws-vault:a:b"), Some("a:b"));
        assert_eq!(key_of("aws-vault:other:prod"), None);
        assert_eq!(key_of("git:https://github.com"), None);
        // Parts are never taken for keys, by us or by the Go tool's prefix filter.
        let part = chunk_target("00ff", 1, "prod");
        assert_eq!(part, "aws-vault:aws-vault-chunk:00ff:1:prod");
        assert_eq!(key_of(&part), None);
        assert!(!part.starts_with(TARGET_PREFIX));
    }

    #[test]
    fn small_items_are_stored_as_the_go_tool_stores_them() {
        let data = vec![b'x'; MAX_BLOB];
        let l = layout("k", &data, "0123456789abcdef");
        assert_eq!(&*l.blob, &data[..]);
        assert!(l.parts.is_empty());
        assert_eq!(Header::parse(&l.blob), None);
        assert_eq!(Header::parse(br#"{"AccessKeyID":"AKIA"}"#), None);
    }

    #[test]
    fn large_items_are_split_and_reassembled() {
        let data: Vec<u8> = (0..(2 * MAX_BLOB + 7)).map(|i| (i % 251) as u8).collect();
        let l = layout("oidc:https://x/start", &data, "0123456789abcdef");
        assert!(l.blob.len() <= MAX_BLOB);
        assert_eq!(
            l.blob[0], b'A',
            "the header is not JSON, so the Go tool ignores it"
        );
        assert_eq!(l.parts.len(), 3);
        assert!(l.parts.iter().all(|(_, b)| b.len() <= MAX_BLOB));
        let header = Header::parse(&l.blob).expect("header");
        assert_eq!(header.parts, 3);
        assert_eq!(header.len, data.len());
        assert_eq!(
            header.part_targets("oidc:https://x/start"),
            l.parts.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>()
        );
        assert_eq!(
            header.part_targets("oidc:https://x/start")[2],
            "aws-vault:aws-vault-chunk:0123456789abcdef:3:oidc:https://x/start"
        );
        let blobs: Vec<_> = l.parts.iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(&*header.join(&blobs).unwrap(), &data[..]);
        // A missing or altered part is an error, never a truncated item.
        assert!(header.join(&blobs[..2]).is_err());
        let mut bad = blobs.clone();
        bad[1][0] ^= 1;
        assert!(header.join(&bad).is_err());
    }

    #[test]
    fn malformed_headers_are_plain_data() {
        for blob in [
            &b"AWS-VAULT-CHUNKED/1"[..],
            b"AWS-VAULT-CHUNKED/1 generation=zz parts=1 len=1 sha256=00",
            b"AWS-VAULT-CHUNKED/1 generation=00 parts=x len=1 sha256=00",
            b"AWS-VAULT-CHUNKED/2 generation=00 parts=1 len=1 sha256=00",
        ] {
            assert_eq!(Header::parse(blob), None);
        }
        assert_ne!(new_generation(), new_generation());
        assert_eq!(new_generation().len(), 16);
        assert_eq!(wide("aé"), [0x61, 0xe9, 0]);
    }
}
