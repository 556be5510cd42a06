//! JWE compact serialisation with password-based key management (RFC 7516/7518), as written by
//! the Go tool's `file` backend through `jose2go` (docs/compatibility.md §4.7).
//!
//! Writing always produces `PBES2-HS256+A128KW` / `A256GCM` / a 12-byte `p2s` and a `created`
//! header, exactly like jose2go, with `p2c` 8192 unless the user opted into more iterations
//! (`--file-kdf-iterations`, at most [`MAX_WRITE_P2C`] so the Go tool still reads the item). Reading
//! accepts the other PBES2 and content-encryption variants and `"zip":"DEF"`, but refuses hostile
//! iteration counts before deriving anything.
use std::io::Read;

use aes_gcm::aead::generic_array::typenum::U12;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::AesGcm;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

/// Why a token could not be decrypted. Messages never contain key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JweError {
    /// The passphrase is wrong or the token was altered: the AES key-wrap integrity check, the
    /// GCM tag or the CBC-HMAC tag failed.
    #[error("wrong passphrase or tampered data")]
    Decrypt,
    /// Not a well-formed JWE compact token.
    #[error("{0}")]
    Malformed(String),
    /// Well-formed, but uses an algorithm or parameters we refuse.
    #[error("{0}")]
    Unsupported(String),
}

/// The iteration count jose2go (and the Go tool) uses.
pub const DEFAULT_P2C: u32 = 8192;
/// The largest iteration count we write: the most jose2go accepts for `PBES2-HS256+A128KW`, so
/// an item written with it still opens in the Go tool (docs/backends.md, "Stronger encryption").
pub const MAX_WRITE_P2C: u32 = 1_300_000;
/// Largest plaintext we are willing to inflate from a `"zip":"DEF"` token.
pub const MAX_INFLATED: usize = 4 * 1024 * 1024;

/// Key-management algorithms (PBES2 with HMAC-SHA2 and AES key wrap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Pbes2Hs256A128,
    Pbes2Hs384A192,
    Pbes2Hs512A256,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Pbes2Hs256A128 => "PBES2-HS256+A128KW",
            Alg::Pbes2Hs384A192 => "PBES2-HS384+A192KW",
            Alg::Pbes2Hs512A256 => "PBES2-HS512+A256KW",
        }
    }
    fn from_name(name: &str) -> Option<Alg> {
        [
            Alg::Pbes2Hs256A128,
            Alg::Pbes2Hs384A192,
            Alg::Pbes2Hs512A256,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }
    /// Largest `p2c` accepted on read (docs/compatibility.md §4.7).
    pub fn max_p2c(self) -> u64 {
        match self {
            Alg::Pbes2Hs256A128 => 1_300_000,
            Alg::Pbes2Hs384A192 => 950_000,
            Alg::Pbes2Hs512A256 => 600_000,
        }
    }
    fn kek_len(self) -> usize {
        match self {
            Alg::Pbes2Hs256A128 => 16,
            Alg::Pbes2Hs384A192 => 24,
            Alg::Pbes2Hs512A256 => 32,
        }
    }
}

/// Content-encryption algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    A128Gcm,
    A192Gcm,
    A256Gcm,
    A128CbcHs256,
    A192CbcHs384,
    A256CbcHs512,
}

impl Enc {
    pub fn name(self) -> &'static str {
        match self {
            Enc::A128Gcm => "A128GCM",
            Enc::A192Gcm => "A192GCM",
            Enc::A256Gcm => "A256GCM",
            Enc::A128CbcHs256 => "A128CBC-HS256",
            Enc::A192CbcHs384 => "A192CBC-HS384",
            Enc::A256CbcHs512 => "A256CBC-HS512",
        }
    }
    fn from_name(name: &str) -> Option<Enc> {
        [
            Enc::A128Gcm,
            Enc::A192Gcm,
            Enc::A256Gcm,
            Enc::A128CbcHs256,
            Enc::A192CbcHs384,
            Enc::A256CbcHs512,
        ]
        .into_iter()
        .find(|e| e.name() == name)
    }
    /// Content-encryption key length in bytes.
    fn cek_len(self) -> usize {
        match self {
            Enc::A128Gcm => 16,
            Enc::A192Gcm => 24,
            Enc::A256Gcm => 32,
            Enc::A128CbcHs256 => 32,
            Enc::A192CbcHs384 => 48,
            Enc::A256CbcHs512 => 64,
        }
    }
    fn iv_len(self) -> usize {
        if self.is_gcm() {
            12
        } else {
            16
        }
    }
    fn tag_len(self) -> usize {
        match self {
            Enc::A128Gcm | Enc::A192Gcm | Enc::A256Gcm => 16,
            Enc::A128CbcHs256 => 16,
            Enc::A192CbcHs384 => 24,
            Enc::A256CbcHs512 => 32,
        }
    }
    fn is_gcm(self) -> bool {
        matches!(self, Enc::A128Gcm | Enc::A192Gcm | Enc::A256Gcm)
    }
}

/// Base64url without padding on write; on read padding is tolerated and so are non-zero trailing
/// bits (Go's non-strict decoder).
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn random<const N: usize>() -> Zeroizing<[u8; N]> {
    let mut buf = Zeroizing::new([0u8; N]);
    // The OS generator does not fail on supported platforms; carrying on without randomness
    // would be far worse than stopping.
    getrandom::fill(&mut buf[..]).expect("the operating system's random number generator failed");
    buf
}

/// Encrypt `plaintext` the way jose2go does for the Go `file` backend:
/// `PBES2-HS256+A128KW`, `A256GCM`, the given `p2c` (jose2go's is [`DEFAULT_P2C`]), 12-byte
/// `p2s`, a `created` header, no compression.
pub fn encrypt(plaintext: &[u8], passphrase: &[u8], p2c: u32) -> String {
    let created = go_time_now_string();
    encrypt_with(
        plaintext,
        passphrase,
        &Params {
            alg: Alg::Pbes2Hs256A128,
            enc: Enc::A256Gcm,
            p2c,
            zip: false,
            created: Some(&created),
        },
    )
}

/// Parameters for [`encrypt_with`].
pub struct Params<'a> {
    pub alg: Alg,
    pub enc: Enc,
    pub p2c: u32,
    pub zip: bool,
    pub created: Option<&'a str>,
}

/// A key-encryption key derived in this process, with the parameters it was derived for.
///
/// PBKDF2 is the cost of the file backend: ~1 ms at 8,192 iterations, 70 ms at 600,000. A
/// process that decrypts one item and then writes sessions (the cold path: a stored key, then a
/// GetSessionToken and an AssumeRole session) would derive three keys; with a memo it derives
/// one, and writes its items with the salt and key of the item it read. That is no weaker:
/// every item of a store is encrypted under the same passphrase, so an attacker with the
/// directory attacks whichever single item is cheapest, and a salt shared between items does
/// not make that cheaper (it only lets one guess test several items, and one is enough). The
/// content key and IV stay fresh and random per item, and the iteration count is never lowered:
/// the memo is used for a write only when its `p2c` is the one the write asks for.
pub struct Kek {
    alg: Alg,
    p2c: u32,
    p2s: Vec<u8>,
    key: Zeroizing<[u8; 32]>,
}

impl Kek {
    fn matches(&self, alg: Alg, p2c: u32, p2s: &[u8]) -> bool {
        self.alg == alg && self.p2c == p2c && self.p2s == p2s
    }
}

/// The key for `(alg, p2c, p2s)`: the memo's when it matches, otherwise derived and memoised.
fn memo_kek<'m>(
    memo: &'m mut Option<Kek>,
    alg: Alg,
    passphrase: &[u8],
    p2s: &[u8],
    p2c: u32,
) -> &'m Zeroizing<[u8; 32]> {
    if !memo.as_ref().is_some_and(|k| k.matches(alg, p2c, p2s)) {
        *memo = None;
    }
    &memo
        .get_or_insert_with(|| Kek {
            alg,
            p2c,
            p2s: p2s.to_vec(),
            key: derive_kek(alg, passphrase, p2s, p2c),
        })
        .key
}

/// [`encrypt`] with a memo of derived keys ([`Kek`]): reuses the memo's salt and key when it
/// was derived for `p2c`, otherwise derives a new one (fresh salt) and keeps it. The memo must
/// only ever hold keys of this `passphrase`.
pub fn encrypt_memo(
    plaintext: &[u8],
    passphrase: &[u8],
    p2c: u32,
    memo: &mut Option<Kek>,
) -> String {
    let alg = Alg::Pbes2Hs256A128;
    let p2s = match memo {
        Some(k) if k.alg == alg && k.p2c == p2c && k.p2s.len() >= 8 => k.p2s.clone(),
        _ => random::<12>().to_vec(),
    };
    let created = go_time_now_string();
    let params = Params {
        alg,
        enc: Enc::A256Gcm,
        p2c,
        zip: false,
        created: Some(&created),
    };
    let kek = memo_kek(memo, alg, passphrase, &p2s, p2c);
    encrypt_keyed(plaintext, &p2s, kek, &params)
}

/// Encrypt with explicit parameters. The header keys are written sorted, as Go marshals a map.
pub fn encrypt_with(plaintext: &[u8], passphrase: &[u8], params: &Params<'_>) -> String {
    let p2s = random::<12>();
    let kek = derive_kek(params.alg, passphrase, &p2s[..], params.p2c);
    encrypt_keyed(plaintext, &p2s[..], &kek, params)
}

/// Encrypt under a key already derived for `params` and `p2s`.
fn encrypt_keyed(
    plaintext: &[u8],
    p2s: &[u8],
    kek: &Zeroizing<[u8; 32]>,
    params: &Params<'_>,
) -> String {
    let p2s_b64 = B64URL.encode(p2s);

    let mut header = Vec::with_capacity(160);
    header.extend_from_slice(b"{\"alg\":");
    crate::gofmt::json::push_quoted(&mut header, params.alg.name().as_bytes());
    if let Some(created) = params.created {
        header.extend_from_slice(b",\"created\":");
        crate::gofmt::json::push_quoted(&mut header, created.as_bytes());
    }
    header.extend_from_slice(b",\"enc\":");
    crate::gofmt::json::push_quoted(&mut header, params.enc.name().as_bytes());
    header.extend_from_slice(format!(",\"p2c\":{},\"p2s\":\"{p2s_b64}\"", params.p2c).as_bytes());
    if params.zip {
        header.extend_from_slice(b",\"zip\":\"DEF\"");
    }
    header.push(b'}');
    let header_b64 = B64URL.encode(&header);

    let cek_buf = random::<64>();
    let cek = &cek_buf[..params.enc.cek_len()];
    let encrypted_key = wrap(params.alg, kek, cek);

    let compressed;
    let body: &[u8] = if params.zip {
        compressed = deflate(plaintext);
        &compressed
    } else {
        plaintext
    };

    let iv_buf = random::<16>();
    let iv = &iv_buf[..params.enc.iv_len()];
    let (ciphertext, tag) = encrypt_content(params.enc, cek, iv, header_b64.as_bytes(), body);

    let mut token = header_b64;
    for part in [&encrypted_key[..], iv, &ciphertext, &tag] {
        token.push('.');
        B64URL.encode_string(part, &mut token);
    }
    token
}

fn deflate(data: &[u8]) -> Zeroizing<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    Zeroizing::new(enc.finish().unwrap_or_default())
}

fn derive_kek(alg: Alg, passphrase: &[u8], p2s: &[u8], p2c: u32) -> Zeroizing<[u8; 32]> {
    let mut salt = Vec::with_capacity(alg.name().len() + 1 + p2s.len());
    salt.extend_from_slice(alg.name().as_bytes());
    salt.push(0);
    salt.extend_from_slice(p2s);
    let mut kek = Zeroizing::new([0u8; 32]);
    let out = &mut kek[..alg.kek_len()];
    match alg {
        Alg::Pbes2Hs256A128 => {
            let block = super::kdf::pbkdf2_hmac_sha256(passphrase, &salt, p2c);
            out.iter_mut().zip(block.iter()).for_each(|(o, b)| *o = *b);
        }
        Alg::Pbes2Hs384A192 => pbkdf2::pbkdf2_hmac::<Sha384>(passphrase, &salt, p2c, out),
        Alg::Pbes2Hs512A256 => pbkdf2::pbkdf2_hmac::<Sha512>(passphrase, &salt, p2c, out),
    }
    kek
}

fn wrap(alg: Alg, kek: &[u8; 32], cek: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; cek.len() + 8];
    // Lengths are fixed by construction (CEK is a multiple of 8 bytes), so wrapping cannot fail.
    let ok = match alg {
        Alg::Pbes2Hs256A128 => aes_kw::KekAes128::new(GenericArray::from_slice(&kek[..16]))
            .wrap(cek, &mut out)
            .is_ok(),
        Alg::Pbes2Hs384A192 => aes_kw::KekAes192::new(GenericArray::from_slice(&kek[..24]))
            .wrap(cek, &mut out)
            .is_ok(),
        Alg::Pbes2Hs512A256 => aes_kw::KekAes256::new(GenericArray::from_slice(&kek[..32]))
            .wrap(cek, &mut out)
            .is_ok(),
    };
    debug_assert!(ok);
    out
}

/// Returns `Err(Decrypt)` when the integrity check fails (wrong passphrase or altered key).
fn unwrap(alg: Alg, kek: &[u8; 32], wrapped: &[u8], cek: &mut [u8]) -> Result<(), JweError> {
    let r = match alg {
        Alg::Pbes2Hs256A128 => {
            aes_kw::KekAes128::new(GenericArray::from_slice(&kek[..16])).unwrap(wrapped, cek)
        }
        Alg::Pbes2Hs384A192 => {
            aes_kw::KekAes192::new(GenericArray::from_slice(&kek[..24])).unwrap(wrapped, cek)
        }
        Alg::Pbes2Hs512A256 => {
            aes_kw::KekAes256::new(GenericArray::from_slice(&kek[..32])).unwrap(wrapped, cek)
        }
    };
    r.map_err(|e| match e {
        aes_kw::Error::IntegrityCheckFailed => JweError::Decrypt,
        _ => JweError::Malformed("encrypted key has the wrong length".into()),
    })
}

type Aes192Gcm = AesGcm<aes::Aes192, U12>;

fn encrypt_content(
    enc: Enc,
    cek: &[u8],
    iv: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    // Room for the CBC padding up front, so no reallocation leaves a copy of the plaintext.
    let mut buf = Vec::with_capacity(plaintext.len() + 16);
    buf.extend_from_slice(plaintext);
    if enc.is_gcm() {
        let nonce = GenericArray::from_slice(iv);
        let tag = match enc {
            Enc::A128Gcm => aes_gcm::Aes128Gcm::new(GenericArray::from_slice(cek))
                .encrypt_in_place_detached(nonce, aad, &mut buf),
            Enc::A192Gcm => Aes192Gcm::new(GenericArray::from_slice(cek))
                .encrypt_in_place_detached(nonce, aad, &mut buf),
            _ => aes_gcm::Aes256Gcm::new(GenericArray::from_slice(cek))
                .encrypt_in_place_detached(nonce, aad, &mut buf),
        };
        // AES-GCM only fails for plaintexts beyond 64 GiB.
        let tag = tag.map(|t| t.to_vec()).unwrap_or_default();
        return (buf, tag);
    }
    let half = cek.len() / 2;
    let (mac_key, enc_key) = cek.split_at(half);
    let pt_len = buf.len();
    buf.resize(pt_len + 16, 0);
    let ct_len = match enc {
        Enc::A128CbcHs256 => cbc::Encryptor::<aes::Aes128>::new_from_slices(enc_key, iv)
            .ok()
            .and_then(|c| {
                c.encrypt_padded_mut::<Pkcs7>(&mut buf, pt_len)
                    .ok()
                    .map(|c| c.len())
            }),
        Enc::A192CbcHs384 => cbc::Encryptor::<aes::Aes192>::new_from_slices(enc_key, iv)
            .ok()
            .and_then(|c| {
                c.encrypt_padded_mut::<Pkcs7>(&mut buf, pt_len)
                    .ok()
                    .map(|c| c.len())
            }),
        _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(enc_key, iv)
            .ok()
            .and_then(|c| {
                c.encrypt_padded_mut::<Pkcs7>(&mut buf, pt_len)
                    .ok()
                    .map(|c| c.len())
            }),
    }
    .unwrap_or(0);
    buf.truncate(ct_len);
    let tag = cbc_hmac(enc, mac_key, aad, iv, &buf);
    (buf, tag[..enc.tag_len()].to_vec())
}

/// Full HMAC over `AAD || IV || C || AL` (RFC 7518 §5.2.2.1).
fn cbc_hmac(enc: Enc, mac_key: &[u8], aad: &[u8], iv: &[u8], ct: &[u8]) -> Vec<u8> {
    let al = ((aad.len() as u64) * 8).to_be_bytes();
    macro_rules! mac {
        ($h:ty) => {{
            let mut m = <Hmac<$h> as Mac>::new_from_slice(mac_key)
                .expect("HMAC accepts keys of any length");
            m.update(aad);
            m.update(iv);
            m.update(ct);
            m.update(&al);
            m.finalize().into_bytes().to_vec()
        }};
    }
    match enc {
        Enc::A128CbcHs256 => mac!(Sha256),
        Enc::A192CbcHs384 => mac!(Sha384),
        _ => mac!(Sha512),
    }
}

/// Constant-time check of a truncated CBC-HS tag.
fn cbc_hmac_verify(
    enc: Enc,
    mac_key: &[u8],
    aad: &[u8],
    iv: &[u8],
    ct: &[u8],
    tag: &[u8],
) -> Result<(), JweError> {
    let al = ((aad.len() as u64) * 8).to_be_bytes();
    macro_rules! verify {
        ($h:ty) => {{
            let mut m =
                <Hmac<$h> as Mac>::new_from_slice(mac_key).map_err(|_| JweError::Decrypt)?;
            m.update(aad);
            m.update(iv);
            m.update(ct);
            m.update(&al);
            m.verify_truncated_left(tag).map_err(|_| JweError::Decrypt)
        }};
    }
    match enc {
        Enc::A128CbcHs256 => verify!(Sha256),
        Enc::A192CbcHs384 => verify!(Sha384),
        _ => verify!(Sha512),
    }
}

fn b64_segment(seg: &str, what: &str) -> Result<Vec<u8>, JweError> {
    B64URL
        .decode(seg)
        .map_err(|_| JweError::Malformed(format!("the {what} is not valid base64url")))
}

/// Check that `token` has the shape of a JWE compact serialisation (five base64url segments)
/// without decoding anything. Used to tell aws-vault items from stray files.
pub fn looks_like_compact(token: &[u8]) -> bool {
    let token = trim_ascii(token);
    let mut segments = 0;
    for seg in token.split(|b| *b == b'.') {
        segments += 1;
        if !seg
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
        {
            return false;
        }
    }
    segments == 5 && !token.is_empty() && token[0] != b'.'
}

fn trim_ascii(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// The validated protected header.
struct Header {
    alg: Alg,
    enc: Enc,
    p2c: u32,
    p2s: Vec<u8>,
    zip: bool,
}

fn parse_header(header_b64: &str) -> Result<Header, JweError> {
    let raw = b64_segment(header_b64, "protected header")?;
    let value: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|_| JweError::Malformed("the protected header is not valid JSON".into()))?;
    let obj = value
        .as_object()
        .ok_or_else(|| JweError::Malformed("the protected header is not a JSON object".into()))?;
    let string = |name: &str| -> Result<Option<&str>, JweError> {
        match obj.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(JweError::Malformed(format!(
                "header \"{name}\" is not a string"
            ))),
        }
    };
    // RFC 7516 §4.1.13 / RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` names
    // an extension it does not understand. This implementation understands none, so any `crit`
    // is refused (the Go tool's library ignored it).
    if obj.contains_key("crit") {
        return Err(JweError::Unsupported(
            "header \"crit\" names extensions this implementation does not understand".into(),
        ));
    }
    let alg_name =
        string("alg")?.ok_or_else(|| JweError::Malformed("header \"alg\" is missing".into()))?;
    let alg = Alg::from_name(alg_name).ok_or_else(|| {
        JweError::Unsupported(format!(
            "unsupported key management algorithm {}",
            printable(alg_name)
        ))
    })?;
    let enc_name =
        string("enc")?.ok_or_else(|| JweError::Malformed("header \"enc\" is missing".into()))?;
    let enc = Enc::from_name(enc_name).ok_or_else(|| {
        JweError::Unsupported(format!(
            "unsupported content encryption {}",
            printable(enc_name)
        ))
    })?;
    let zip = match string("zip")? {
        None => false,
        Some("DEF") => true,
        Some(other) => {
            return Err(JweError::Unsupported(format!(
                "unsupported compression {}",
                printable(other)
            )))
        }
    };
    let p2c = match obj.get("p2c") {
        None => return Err(JweError::Malformed("header \"p2c\" is missing".into())),
        Some(serde_json::Value::Number(n)) => {
            let int = n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.fract() == 0.0 && *f >= 1.0)
                    .map(|f| {
                        if f > u64::MAX as f64 {
                            u64::MAX
                        } else {
                            f as u64
                        }
                    })
            });
            match int {
                Some(0) | None => {
                    return Err(JweError::Unsupported(format!(
                        "p2c {} is not a positive integer",
                        n.to_string().chars().take(40).collect::<String>()
                    )))
                }
                Some(c) if c > alg.max_p2c() => {
                    return Err(JweError::Unsupported(format!(
                        "p2c {c} exceeds the maximum of {}",
                        alg.max_p2c()
                    )))
                }
                // Bounded by max_p2c, so it fits.
                Some(c) => c as u32,
            }
        }
        Some(_) => return Err(JweError::Malformed("header \"p2c\" is not a number".into())),
    };
    let p2s = match string("p2s")? {
        None => return Err(JweError::Malformed("header \"p2s\" is missing".into())),
        Some(s) => B64URL
            .decode(s)
            .map_err(|_| JweError::Malformed("header \"p2s\" is not valid base64url".into()))?,
    };
    Ok(Header {
        alg,
        enc,
        p2c,
        p2s,
        zip,
    })
}

/// Header values are attacker-controlled: keep error messages short and printable.
fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    format!("\"{out}\"")
}

/// The iteration count (`p2c`) a token was written with, read from its header alone (no key
/// derivation), for reporting what `reencrypt` changes. Hostile counts are refused as in
/// [`decrypt`].
pub fn iterations(token: &str) -> Result<u32, JweError> {
    let token = token.trim_matches(|c: char| c.is_ascii_whitespace());
    let header_b64 = token.split('.').next().unwrap_or_default();
    Ok(parse_header(header_b64)?.p2c)
}

/// Decrypt a JWE compact token produced with a password. Every parameter is validated — in
/// particular `p2c` against the per-algorithm maximum — before any key derivation happens.
pub fn decrypt(token: &str, passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, JweError> {
    decrypt_memo(token, passphrase, &mut None)
}

/// [`decrypt`] with a memo of derived keys ([`Kek`]): the key is derived only when the memo
/// holds none for this token's parameters, and kept there afterwards. A key that fails to
/// unwrap (a wrong passphrase) is not kept.
pub fn decrypt_memo(
    token: &str,
    passphrase: &[u8],
    memo: &mut Option<Kek>,
) -> Result<Zeroizing<Vec<u8>>, JweError> {
    let token = token.trim_matches(|c: char| c.is_ascii_whitespace());
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, ek_b64, iv_b64, ct_b64, tag_b64] = parts[..] else {
        return Err(JweError::Malformed(format!(
            "expected 5 dot-separated segments, found {}",
            parts.len()
        )));
    };
    let header = parse_header(header_b64)?;
    let enc = header.enc;
    let encrypted_key = b64_segment(ek_b64, "encrypted key")?;
    if encrypted_key.len() != enc.cek_len() + 8 {
        return Err(JweError::Malformed(format!(
            "the encrypted key is {} bytes, expected {}",
            encrypted_key.len(),
            enc.cek_len() + 8
        )));
    }
    let iv = b64_segment(iv_b64, "initialization vector")?;
    if iv.len() != enc.iv_len() {
        return Err(JweError::Malformed(format!(
            "the initialization vector is {} bytes, expected {}",
            iv.len(),
            enc.iv_len()
        )));
    }
    let ciphertext = Zeroizing::new(b64_segment(ct_b64, "ciphertext")?);
    if !enc.is_gcm() && (ciphertext.is_empty() || ciphertext.len() % 16 != 0) {
        return Err(JweError::Malformed(
            "the ciphertext is not a whole number of blocks".into(),
        ));
    }
    let tag = b64_segment(tag_b64, "authentication tag")?;
    if tag.len() != enc.tag_len() {
        return Err(JweError::Malformed(format!(
            "the authentication tag is {} bytes, expected {}",
            tag.len(),
            enc.tag_len()
        )));
    }

    // Everything is in range: now pay for the key derivation.
    let kek = memo_kek(memo, header.alg, passphrase, &header.p2s, header.p2c);
    let mut cek_buf = Zeroizing::new([0u8; 64]);
    let cek = &mut cek_buf[..enc.cek_len()];
    if let Err(e) = unwrap(header.alg, kek, &encrypted_key, cek) {
        *memo = None;
        return Err(e);
    }

    let aad = header_b64.as_bytes();
    let plaintext = decrypt_content(enc, cek, &iv, aad, &ciphertext, &tag)?;
    if header.zip {
        inflate(&plaintext)
    } else {
        Ok(plaintext)
    }
}

fn decrypt_content(
    enc: Enc,
    cek: &[u8],
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>, JweError> {
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    if enc.is_gcm() {
        let nonce = GenericArray::from_slice(iv);
        let tag = GenericArray::from_slice(tag);
        let r = match enc {
            Enc::A128Gcm => aes_gcm::Aes128Gcm::new(GenericArray::from_slice(cek))
                .decrypt_in_place_detached(nonce, aad, &mut buf, tag),
            Enc::A192Gcm => Aes192Gcm::new(GenericArray::from_slice(cek))
                .decrypt_in_place_detached(nonce, aad, &mut buf, tag),
            _ => aes_gcm::Aes256Gcm::new(GenericArray::from_slice(cek))
                .decrypt_in_place_detached(nonce, aad, &mut buf, tag),
        };
        r.map_err(|_| JweError::Decrypt)?;
        return Ok(buf);
    }
    let (mac_key, enc_key) = cek.split_at(cek.len() / 2);
    cbc_hmac_verify(enc, mac_key, aad, iv, ciphertext, tag)?;
    // Authenticated: a padding error now means the sender produced garbage.
    let bad = |_| JweError::Decrypt;
    let len = match enc {
        Enc::A128CbcHs256 => cbc::Decryptor::<aes::Aes128>::new_from_slices(enc_key, iv)
            .map_err(|_| JweError::Decrypt)?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(bad)?
            .len(),
        Enc::A192CbcHs384 => cbc::Decryptor::<aes::Aes192>::new_from_slices(enc_key, iv)
            .map_err(|_| JweError::Decrypt)?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(bad)?
            .len(),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(enc_key, iv)
            .map_err(|_| JweError::Decrypt)?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(bad)?
            .len(),
    };
    buf.truncate(len);
    Ok(buf)
}

/// Raw DEFLATE with a size cap. The output grows by copying into fresh zeroizing buffers, so no
/// unwiped copy of the plaintext is left behind by a reallocation.
fn inflate(compressed: &[u8]) -> Result<Zeroizing<Vec<u8>>, JweError> {
    let mut decoder = flate2::read::DeflateDecoder::new(compressed);
    let mut out = Zeroizing::new(Vec::with_capacity(
        compressed.len().saturating_mul(4).clamp(256, MAX_INFLATED),
    ));
    let mut chunk = Zeroizing::new([0u8; 8192]);
    loop {
        let n = decoder
            .read(&mut chunk[..])
            .map_err(|_| JweError::Malformed("the compressed payload is corrupt".into()))?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > MAX_INFLATED {
            return Err(JweError::Malformed(format!(
                "the compressed payload inflates beyond {MAX_INFLATED} bytes"
            )));
        }
        if out.len() + n > out.capacity() {
            let mut bigger =
                Zeroizing::new(Vec::with_capacity((out.capacity() * 2).max(out.len() + n)));
            bigger.extend_from_slice(&out);
            out = bigger;
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Go's `time.Now().String()` without the monotonic-clock suffix, in the local time zone:
/// `2025-01-02 03:04:05.123456789 +1100 AEDT` (the fraction trimmed of trailing zeros, omitted
/// when zero).
pub fn go_time_now_string() -> String {
    let now = jiff::Timestamp::now().to_zoned(local_zone());
    go_time_string(&now)
}

/// The local time zone, as Go's `time.Local` finds it: `TZ` when it is set, else
/// `/etc/localtime`. Read directly rather than with `TimeZone::system()`, which also looks the
/// zone's name up in the tz database — on its first use a walk of all of
/// `/usr/share/zoneinfo`, about a millisecond on every write to the file backend.
fn local_zone() -> jiff::tz::TimeZone {
    #[cfg(unix)]
    if std::env::var_os("TZ").is_none() {
        if let Some(zone) = std::fs::read("/etc/localtime")
            .ok()
            .and_then(|data| jiff::tz::TimeZone::tzif("Local", &data).ok())
        {
            return zone;
        }
    }
    jiff::tz::TimeZone::system()
}

fn go_time_string(t: &jiff::Zoned) -> String {
    let info = t.time_zone().to_offset_info(t.timestamp());
    let offset_secs = info.offset().seconds();
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let abs = offset_secs.unsigned_abs();
    let offset = format!("{sign}{:02}{:02}", abs / 3600, (abs / 60) % 60);
    let abbrev = info.abbreviation();
    let zone = if abbrev.is_empty() {
        offset.clone()
    } else {
        abbrev.to_string()
    };
    let mut frac = String::new();
    let nanos = t.subsec_nanosecond();
    if nanos != 0 {
        frac = format!(".{nanos:09}");
        while frac.ends_with('0') {
            frac.pop();
        }
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{frac} {offset} {zone}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local zone read from /etc/localtime gives the offset and abbreviation jiff's own
    /// system zone gives (without jiff's look-up of the zone's name).
    #[test]
    fn local_zone_agrees_with_the_system_zone() {
        let now = jiff::Timestamp::now();
        let (ours, jiffs) = (local_zone(), jiff::tz::TimeZone::system());
        let (ours, jiffs) = (ours.to_offset_info(now), jiffs.to_offset_info(now));
        assert_eq!(ours.offset(), jiffs.offset());
        assert_eq!(ours.abbreviation(), jiffs.abbreviation());
    }

    const PW: &[u8] = b"correct horse";

    fn salt_of(token: &str) -> Vec<u8> {
        parse_header(token.split('.').next().unwrap()).unwrap().p2s
    }

    #[test]
    fn a_memo_reuses_one_derivation_for_the_items_a_process_writes() {
        let mut memo = None;
        // A read memoises the key of the item read; writes at the same p2c take its salt.
        let read = encrypt(b"{\"k\":1}", PW, 1000);
        assert_eq!(
            &decrypt_memo(&read, PW, &mut memo).unwrap()[..],
            b"{\"k\":1}"
        );
        let a = encrypt_memo(b"a", PW, 1000, &mut memo);
        let b = encrypt_memo(b"b", PW, 1000, &mut memo);
        assert_eq!(salt_of(&a), salt_of(&read));
        assert_eq!(salt_of(&b), salt_of(&read));
        // Each still opens on its own (as the Go tool would read it), with its own content key.
        assert_eq!(&decrypt(&a, PW).unwrap()[..], b"a");
        assert_eq!(&decrypt(&b, PW).unwrap()[..], b"b");
        assert_ne!(a.split('.').nth(1), b.split('.').nth(1));
        // Another iteration count is never served from the memo: a fresh salt, and the count
        // asked for.
        let c = encrypt_memo(b"c", PW, 2000, &mut memo);
        assert_ne!(salt_of(&c), salt_of(&read));
        assert_eq!(iterations(&c).unwrap(), 2000);
        // A wrong passphrase is not memoised.
        let mut memo = None;
        assert_eq!(
            decrypt_memo(&read, b"wrong", &mut memo),
            Err(JweError::Decrypt)
        );
        assert!(memo.is_none());
        let fresh = encrypt_memo(b"d", PW, 1000, &mut memo);
        assert_ne!(salt_of(&fresh), salt_of(&read));
        assert_eq!(&decrypt(&fresh, PW).unwrap()[..], b"d");
    }

    fn header_json(token: &str) -> serde_json::Value {
        let h = B64URL.decode(token.split('.').next().unwrap()).unwrap();
        serde_json::from_slice(&h).unwrap()
    }

    /// Replace the protected header (the AAD changes too, but refusals happen before that matters).
    fn with_header(token: &str, header: &str) -> String {
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        parts[0] = B64URL.encode(header.as_bytes());
        parts.join(".")
    }

    /// An authentic token whose protected header is `header` (with `P2S` replaced by the salt),
    /// PBES2-HS256+A128KW / A256GCM: what a sender using header extensions would produce.
    fn encrypt_with_header(plaintext: &[u8], header: &str) -> String {
        let p2s = [7u8; 12];
        let header = header.replace("P2S", &B64URL.encode(p2s));
        let header_b64 = B64URL.encode(header.as_bytes());
        let kek = derive_kek(Alg::Pbes2Hs256A128, PW, &p2s, 1000);
        let cek = [9u8; 32];
        let encrypted_key = wrap(Alg::Pbes2Hs256A128, &kek, &cek);
        let iv = [5u8; 12];
        let (ct, tag) = encrypt_content(Enc::A256Gcm, &cek, &iv, header_b64.as_bytes(), plaintext);
        let mut token = header_b64;
        for part in [&encrypted_key[..], &iv[..], &ct, &tag] {
            token.push('.');
            B64URL.encode_string(part, &mut token);
        }
        token
    }

    #[test]
    fn unknown_critical_header_is_refused() {
        let plain = r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":1000,"p2s":"P2S"}"#;
        assert_eq!(
            &decrypt(&encrypt_with_header(b"hello", plain), PW).unwrap()[..],
            b"hello"
        );
        let crit = r#"{"alg":"PBES2-HS256+A128KW","crit":["exp"],"enc":"A256GCM","exp":1,"p2c":1000,"p2s":"P2S"}"#;
        let err = decrypt(&encrypt_with_header(b"hello", crit), PW).unwrap_err();
        assert!(
            matches!(&err, JweError::Unsupported(m) if m.contains("crit")),
            "{err:?}"
        );
    }

    #[test]
    fn roundtrip_default_shape() {
        let token = encrypt(b"{\"Key\":\"prod\"}", PW, DEFAULT_P2C);
        let segs: Vec<&str> = token.split('.').collect();
        assert_eq!(segs.len(), 5);
        assert!(segs.iter().all(|s| !s.contains('=')));
        let raw_header = String::from_utf8(B64URL.decode(segs[0]).unwrap()).unwrap();
        assert!(raw_header.starts_with("{\"alg\":\"PBES2-HS256+A128KW\",\"created\":\""));
        assert!(raw_header.contains("\",\"enc\":\"A256GCM\",\"p2c\":8192,\"p2s\":\""));
        let h = header_json(&token);
        assert_eq!(B64URL.decode(h["p2s"].as_str().unwrap()).unwrap().len(), 12);
        assert_eq!(h["p2s"].as_str().unwrap().len(), 16);
        assert_eq!(B64URL.decode(segs[1]).unwrap().len(), 40);
        assert_eq!(B64URL.decode(segs[2]).unwrap().len(), 12);
        assert_eq!(B64URL.decode(segs[4]).unwrap().len(), 16);
        assert_eq!(&decrypt(&token, PW).unwrap()[..], b"{\"Key\":\"prod\"}");
        assert!(looks_like_compact(token.as_bytes()));
        // A trailing newline (e.g. a hand-edited file) is tolerated.
        assert_eq!(
            &decrypt(&format!("{token}\n"), PW).unwrap()[..],
            b"{\"Key\":\"prod\"}"
        );
    }

    #[test]
    fn the_strongest_count_we_write_is_one_we_read() {
        // MAX_WRITE_P2C is jose2go's read limit for HS256; our reader's must be the same, or an
        // item we write with it would not open in the Go tool or here.
        assert_eq!(u64::from(MAX_WRITE_P2C), Alg::Pbes2Hs256A128.max_p2c());
        let token = encrypt(b"{}", PW, MAX_WRITE_P2C);
        assert_eq!(header_json(&token)["p2c"], MAX_WRITE_P2C);
        assert_eq!(iterations(&token).unwrap(), MAX_WRITE_P2C);
        assert_eq!(&decrypt(&token, PW).unwrap()[..], b"{}");
        assert_eq!(iterations(&encrypt(b"{}", PW, DEFAULT_P2C)).unwrap(), 8192);
        assert!(matches!(iterations("garbage"), Err(JweError::Malformed(_))));
    }

    #[test]
    fn empty_passphrase_and_plaintext() {
        let token = encrypt(b"", b"", DEFAULT_P2C);
        assert_eq!(&decrypt(&token, b"").unwrap()[..], b"");
        assert_eq!(decrypt(&token, b"x"), Err(JweError::Decrypt));
    }

    #[test]
    fn all_variants_roundtrip() {
        let algs = [
            Alg::Pbes2Hs256A128,
            Alg::Pbes2Hs384A192,
            Alg::Pbes2Hs512A256,
        ];
        let encs = [
            Enc::A128Gcm,
            Enc::A192Gcm,
            Enc::A256Gcm,
            Enc::A128CbcHs256,
            Enc::A192CbcHs384,
            Enc::A256CbcHs512,
        ];
        let plain =
            b"{\"Key\":\"k\",\"Data\":\"AAAA\"} and some more text to pad it out past a block";
        for alg in algs {
            for enc in encs {
                for zip in [false, true] {
                    for len in [0, 1, 15, 16, 17, plain.len()] {
                        let p = Params {
                            alg,
                            enc,
                            p2c: 1,
                            zip,
                            created: None,
                        };
                        let t = encrypt_with(&plain[..len], PW, &p);
                        assert_eq!(
                            &decrypt(&t, PW).unwrap()[..],
                            &plain[..len],
                            "{alg:?} {enc:?} zip={zip} len={len}"
                        );
                        assert_eq!(decrypt(&t, b"wrong"), Err(JweError::Decrypt));
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_passphrase_and_tampering_are_decrypt_errors() {
        let token = encrypt(b"secret payload", PW, DEFAULT_P2C);
        assert_eq!(decrypt(&token, b"wrong"), Err(JweError::Decrypt));
        let parts: Vec<&str> = token.split('.').collect();
        // Flip one bit in each of encrypted key, iv, ciphertext, tag.
        for i in 1..5 {
            let mut bytes = B64URL.decode(parts[i]).unwrap();
            bytes[0] ^= 1;
            let mut p: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            p[i] = B64URL.encode(&bytes);
            assert_eq!(
                decrypt(&p.join("."), PW),
                Err(JweError::Decrypt),
                "segment {i}"
            );
        }
        // Changing the header (the AAD) while keeping it valid also fails the tag.
        let h = B64URL.decode(parts[0]).unwrap();
        let h = String::from_utf8(h)
            .unwrap()
            .replace("\"created\":\"", "\"created\":\"X");
        assert_eq!(
            decrypt(&with_header(&token, &h), PW),
            Err(JweError::Decrypt)
        );
        // CBC-HS tag tampering.
        let p = Params {
            alg: Alg::Pbes2Hs256A128,
            enc: Enc::A128CbcHs256,
            p2c: 1,
            zip: false,
            created: None,
        };
        let t = encrypt_with(b"hello", PW, &p);
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        let mut tag = B64URL.decode(&parts[4]).unwrap();
        tag[15] ^= 0x80;
        parts[4] = B64URL.encode(&tag);
        assert_eq!(decrypt(&parts.join("."), PW), Err(JweError::Decrypt));
    }

    #[test]
    fn hostile_p2c_is_refused_before_derivation() {
        let token = encrypt(b"x", PW, DEFAULT_P2C);
        let cases = [
            (
                r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":99999999,"p2s":"AAAAAAAAAAAAAAAA"}"#,
                "p2c 99999999 exceeds the maximum of 1300000",
            ),
            (
                r#"{"alg":"PBES2-HS384+A192KW","enc":"A256GCM","p2c":950001,"p2s":"AAAAAAAAAAAAAAAA"}"#,
                "p2c 950001 exceeds the maximum of 950000",
            ),
            (
                r#"{"alg":"PBES2-HS512+A256KW","enc":"A256GCM","p2c":600001,"p2s":"AAAAAAAAAAAAAAAA"}"#,
                "p2c 600001 exceeds the maximum of 600000",
            ),
            (
                r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":1e300,"p2s":"AAAAAAAAAAAAAAAA"}"#,
                "exceeds the maximum",
            ),
            (
                r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":18446744073709551616,"p2s":"AA"}"#,
                "exceeds the maximum",
            ),
            (
                r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":0,"p2s":"AA"}"#,
                "p2c 0 is not a positive integer",
            ),
            (
                r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":-5,"p2s":"AA"}"#,
                "p2c -5 is not a positive integer",
            ),
            (
                r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":8192.5,"p2s":"AA"}"#,
                "not a positive integer",
            ),
            (
                r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":"8192","p2s":"AA"}"#,
                "\"p2c\" is not a number",
            ),
            (
                r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2s":"AA"}"#,
                "\"p2c\" is missing",
            ),
        ];
        for (h, want) in cases {
            let start = std::time::Instant::now();
            let err = decrypt(&with_header(&token, h), PW).unwrap_err();
            assert!(err.to_string().contains(want), "{h}: {err}");
            assert!(!matches!(err, JweError::Decrypt));
            assert!(start.elapsed() < std::time::Duration::from_millis(200));
        }
        // At the limit it is accepted (and then fails the tag because the header changed).
        let h =
            r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":8192.0,"p2s":"AAAAAAAAAAAAAAAA"}"#;
        assert_eq!(decrypt(&with_header(&token, h), PW), Err(JweError::Decrypt));
    }

    #[test]
    fn malformed_and_unsupported() {
        let token = encrypt(b"x", PW, DEFAULT_P2C);
        let unsupported = [
            r#"{"alg":"dir","enc":"A256GCM"}"#,
            r#"{"alg":"PBES2-HS256+A128KW","enc":"A256CTR","p2c":1,"p2s":"AA"}"#,
            r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":1,"p2s":"AA","zip":"GZ"}"#,
        ];
        for h in unsupported {
            assert!(matches!(
                decrypt(&with_header(&token, h), PW),
                Err(JweError::Unsupported(_))
            ));
        }
        let malformed = [
            "[]",
            "null",
            "{",
            r#"{"enc":"A256GCM"}"#,
            r#"{"alg":5,"enc":"A256GCM"}"#,
            r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":1}"#,
            r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":1,"p2s":"!!"}"#,
            r#"{"alg":"PBES2-HS256+A128KW","enc":"A128GCM","p2c":1,"p2s":"AA"}"#, // key length
            r#"{"alg":"PBES2-HS256+A128KW","enc":"A256CBC-HS512","p2c":1,"p2s":"AA"}"#,
        ];
        for h in malformed {
            let r = decrypt(&with_header(&token, h), PW);
            assert!(matches!(r, Err(JweError::Malformed(_))), "{h}: {r:?}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let token = encrypt(b"some plaintext", PW, DEFAULT_P2C);
        // Every truncation.
        for i in 0..token.len() {
            let _ = decrypt(&token[..i], PW);
        }
        // Segment permutations, empty segments, extra segments.
        let parts: Vec<&str> = token.split('.').collect();
        for i in 0..5 {
            let mut p = parts.clone();
            p[i] = "";
            assert!(decrypt(&p.join("."), PW).is_err());
            let mut p = parts.clone();
            p[i] = "////";
            assert!(decrypt(&p.join("."), PW).is_err());
            let mut p = parts.clone();
            p.swap(i, (i + 1) % 5);
            assert!(decrypt(&p.join("."), PW).is_err());
        }
        assert!(decrypt(&format!("{token}.x"), PW).is_err());
        for g in [
            "",
            ".",
            "....",
            "......",
            "a.b.c.d.e",
            "\u{0}\u{ff}é.....",
            "=.=.=.=.=",
        ] {
            assert!(decrypt(g, PW).is_err());
        }
        // Deterministic pseudo-random byte flips over the whole token.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let bytes = token.as_bytes();
        for _ in 0..300 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut b = bytes.to_vec();
            let pos = (state as usize) % b.len();
            b[pos] = (state >> 32) as u8;
            if let Ok(s) = String::from_utf8(b) {
                let _ = decrypt(&s, PW);
            }
        }
    }

    #[test]
    fn inflate_cap() {
        let big = vec![b'a'; MAX_INFLATED + 1];
        let compressed = deflate(&big);
        assert!(matches!(inflate(&compressed), Err(JweError::Malformed(_))));
        let ok = vec![b'b'; 100_000];
        assert_eq!(&inflate(&deflate(&ok)).unwrap()[..], &ok[..]);
        assert!(inflate(b"\xff\xff\xff garbage").is_err());
    }

    #[test]
    fn compact_shape_check() {
        assert!(looks_like_compact(b"a.b.c.d.e"));
        assert!(looks_like_compact(b"eyJ.AA.AA..AA\n"));
        assert!(!looks_like_compact(b""));
        assert!(!looks_like_compact(b"a.b.c.d"));
        assert!(!looks_like_compact(b"a.b.c.d.e.f"));
        assert!(!looks_like_compact(b"a.b.c.d.e f"));
        assert!(!looks_like_compact(b"\x00\x00\x05\x16Bud1"));
        assert!(!looks_like_compact(b".b.c.d.e"));
    }

    #[test]
    fn go_time_format() {
        let t: jiff::Zoned = "2025-01-02T03:04:05.1234567+11:00[Australia/Sydney]"
            .parse()
            .unwrap();
        assert_eq!(go_time_string(&t), "2025-01-02 03:04:05.1234567 +1100 AEDT");
        let t: jiff::Zoned = "2025-07-02T03:04:05Z[UTC]".parse().unwrap();
        assert_eq!(go_time_string(&t), "2025-07-02 03:04:05 +0000 UTC");
        let t: jiff::Zoned = "2025-07-02T03:04:05-03:30[-03:30]".parse().unwrap();
        let s = go_time_string(&t);
        assert!(s.starts_with("2025-07-02 03:04:05 -0330 "), "{s}");
        assert!(!go_time_now_string().is_empty());
    }
}
