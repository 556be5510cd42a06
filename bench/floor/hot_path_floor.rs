//! The physical floor of the file-backend hot path, for `bench/run-all` and `bench/hot-path.sh`.
//!
//! It does the least any program can do to answer a `credential_process` call from a Go-format
//! key file: read the one file, parse the JWE header, derive the key-encryption key (PBKDF2 with
//! the file's iteration count), unwrap the content key, decrypt with AES-256-GCM, parse the
//! keyring item and the credentials JSON inside it, and print the `credential_process` JSON.
//! It uses the same RustCrypto and serde crates as aws-vault, built with the same release
//! profile, and nothing else: no argument parser, no config file, no checks beyond what
//! decryption needs. A binary that does the same job can be compared with it as a ratio.
//!
//!     cargo build --release --example hot_path_floor
//!     AWS_VAULT_FILE_PASSPHRASE=… target/release/examples/hot_path_floor ~/.awsvault/keys/alice
use std::io::Write;
use std::process::ExitCode;

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use sha2::Sha256;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hot_path_floor: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(serde::Deserialize)]
struct Header {
    p2s: String,
    p2c: u32,
}

#[derive(serde::Deserialize)]
struct Item {
    #[serde(rename = "Data")]
    data: String,
}

/// A master key item (`AccessKeyID`, written by Go's aws.Credentials) or a cached session
/// (`AccessKeyId` and `Expiration`, written by Go's sts.Credentials).
#[derive(serde::Deserialize)]
struct Creds {
    #[serde(rename = "AccessKeyID", alias = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: String,
    #[serde(rename = "SessionToken", default)]
    session_token: String,
    #[serde(rename = "Expiration", default)]
    expiration: Option<String>,
}

fn run() -> Result<(), String> {
    // `--aws-vault-kdf`: derive the key with aws-vault's own PBKDF2 loop (src/keyring/kdf.rs)
    // instead of the `pbkdf2` crate, to show what is left of the ratio besides the derivation.
    let mut args = std::env::args().skip(1).peekable();
    let own_kdf = args.next_if(|a| a == "--aws-vault-kdf").is_some();
    let path = args
        .next()
        .ok_or("usage: hot_path_floor [--aws-vault-kdf] FILE")?;
    let passphrase = std::env::var("AWS_VAULT_FILE_PASSPHRASE").unwrap_or_default();
    let token = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [h, ek, iv, ct, tag] = parts[..] else {
        return Err("not a JWE token".into());
    };
    let b64 = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|e| e.to_string());
    let header: Header = serde_json::from_slice(&b64(h)?).map_err(|e| e.to_string())?;

    let mut salt = b"PBES2-HS256+A128KW\0".to_vec();
    salt.extend(b64(&header.p2s)?);
    let mut kek = [0u8; 16];
    if own_kdf {
        let block =
            aws_vault::keyring::kdf::pbkdf2_hmac_sha256(passphrase.as_bytes(), &salt, header.p2c);
        kek.copy_from_slice(&block[..16]);
    } else {
        pbkdf2::pbkdf2_hmac::<Sha256>(passphrase.as_bytes(), &salt, header.p2c, &mut kek);
    }
    let mut cek = [0u8; 32];
    aes_kw::KekAes128::new(GenericArray::from_slice(&kek))
        .unwrap(&b64(ek)?, &mut cek)
        .map_err(|_| "wrong passphrase")?;
    let mut plain = b64(ct)?;
    Aes256Gcm::new(GenericArray::from_slice(&cek))
        .decrypt_in_place_detached(
            GenericArray::from_slice(&b64(iv)?),
            h.as_bytes(),
            &mut plain,
            GenericArray::from_slice(&b64(tag)?),
        )
        .map_err(|_| "tampered")?;

    let item: Item = serde_json::from_slice(&plain).map_err(|e| e.to_string())?;
    let data = STANDARD.decode(item.data).map_err(|e| e.to_string())?;
    let c: Creds = serde_json::from_slice(&data).map_err(|e| e.to_string())?;
    let mut out = serde_json::json!({
        "Version": 1,
        "AccessKeyId": c.access_key_id,
        "SecretAccessKey": c.secret_access_key,
    });
    if !c.session_token.is_empty() {
        out["SessionToken"] = c.session_token.into();
    }
    if let Some(exp) = c.expiration {
        out["Expiration"] = exp.into();
    }
    let mut text = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
    text.push('\n');
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| e.to_string())
}
