//! The file backend's JWE reader. Two kinds of input, chosen by the first byte:
//! * a token as found in a key file, decrypted with a fixed passphrase: must be refused with an
//!   error (random bytes never authenticate), never panic;
//! * a plaintext and parameters, encrypted by our writer and read back: must round-trip (this
//!   reaches the decompression and content-decryption paths a random token cannot).
//!
//! `p2c` (PBKDF2 rounds) is what makes a read expensive; inputs whose header asks for more
//! than a few thousand rounds are still parsed and validated but cost milliseconds each, so the
//! fuzzer learns to avoid them.
#![no_main]

use aws_vault::keyring::jwe::{self, Alg, Enc, Params};
use libfuzzer_sys::fuzz_target;

const PASSPHRASE: &[u8] = b"fuzz-passphrase";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let token = String::from_utf8_lossy(rest);
        let _ = jwe::looks_like_compact(token.as_bytes());
        let _ = jwe::decrypt(&token, PASSPHRASE);
        return;
    }
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
    let alg = algs[usize::from(mode >> 1) % algs.len()];
    let enc = encs[usize::from(mode >> 3) % encs.len()];
    let zip = mode & 0x80 != 0;
    let token = jwe::encrypt_with(
        rest,
        PASSPHRASE,
        &Params {
            alg,
            enc,
            p2c: 1,
            zip,
            created: None,
        },
    );
    let plain = jwe::decrypt(&token, PASSPHRASE).expect("our own token must decrypt");
    assert_eq!(&plain[..], rest);
    assert!(jwe::decrypt(&token, b"wrong").is_err());
});
