//! Interoperability of the `file` keyring with an independent JWE implementation (Python
//! `jwcrypto`, driven by `tests/support/jwe_tool.py`), which stands in for the Go tool's jose2go.
//!
//! These tests need `python3` with `jwcrypto` on PATH (`pip install jwcrypto`). They fail loudly
//! when it is missing: they are never skipped.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_vault::keyring::file::FileKeyring;
use aws_vault::keyring::{Config, Error, Item, Keyring};
use base64::Engine as _;
use zeroize::Zeroizing;

const PASS: &str = "correct horse battery staple";

const GO_CREDS: &str = r#"{"AccessKeyID":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","SessionToken":"","Source":"","CanExpire":false,"Expires":"0001-01-01T00:00:00Z","AccountID":""}"#;

fn tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/jwe_tool.py")
}

fn require_python() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECK.get_or_init(|| {
        match Command::new("python3")
            .args(["-c", "import jwcrypto, cryptography"])
            .output()
        {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
            Err(e) => Err(e.to_string()),
        }
    });
    if let Err(detail) = result {
        panic!("python3 with jwcrypto is required: pip install jwcrypto\n{detail}");
    }
}

/// Run the oracle; panics with its stderr unless it exits as `expect_success` says.
fn py(args: &[&str], expect_success: bool) -> Vec<u8> {
    require_python();
    let out = Command::new("python3")
        .arg(tool())
        .args(args)
        .output()
        .expect("python3 with jwcrypto is required: pip install jwcrypto");
    assert_eq!(
        out.status.success(),
        expect_success,
        "jwe_tool.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn config(dir: &Path, pass: &str) -> Config {
    Config {
        backend: Some("file".into()),
        file_dir: Some(path_str(dir).to_string()),
        file_passphrase: Some(Zeroizing::new(pass.to_string())),
        home: PathBuf::from("/nonexistent-home"),
        ..Config::default()
    }
}

/// Go's `json.Marshal(keyring.Item{...})` for a credentials item, written out by hand.
fn go_item_json(key: &str, data: &str) -> String {
    format!(
        r#"{{"Key":"{key}","Data":"{}","Label":"aws-vault ({key})","Description":"","KeychainNotTrustApplication":true,"KeychainNotSynchronizable":false}}"#,
        base64::engine::general_purpose::STANDARD.encode(data)
    )
}

/// Encrypt `plaintext` with jwcrypto into `dir/<file_name>`; extra args select other variants.
fn py_write_item(dir: &Path, file_name: &str, plaintext: &str, pass: &str, extra: &[&str]) {
    let scratch = tempfile::tempdir().unwrap();
    let pt = scratch.path().join("plaintext");
    fs::write(&pt, plaintext).unwrap();
    let out = dir.join(file_name);
    let mut args = vec![
        if extra.is_empty() {
            "encrypt-go"
        } else {
            "encrypt"
        },
        pass,
        path_str(&pt),
        path_str(&out),
    ];
    args.extend_from_slice(extra);
    py(&args, true);
}

fn b64url(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

#[test]
fn a_go_shaped_file_from_jwcrypto_is_listed_and_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    fs::create_dir(&dir).unwrap();
    py_write_item(&dir, "prod", &go_item_json("prod", GO_CREDS), PASS, &[]);
    let oidc = "oidc:https://x.awsapps.com/start";
    py_write_item(
        &dir,
        "oidc:https:%2F%2Fx.awsapps.com%2Fstart",
        &go_item_json(oidc, r#"{"Token":{}}"#),
        PASS,
        &[],
    );
    // The oracle's header really is jose2go-shaped (sorted keys, created, 12-byte p2s).
    let header = String::from_utf8(py(&["header", path_str(&dir.join("prod"))], true)).unwrap();
    assert!(
        header.starts_with(r#"{"alg":"PBES2-HS256+A128KW","created":""#),
        "{header}"
    );

    let kr = FileKeyring::new(&config(&dir, PASS));
    assert_eq!(
        kr.keys().unwrap(),
        vec![oidc.to_string(), "prod".to_string()]
    );
    let item = kr.get("prod").unwrap();
    assert_eq!(item.key, "prod");
    assert_eq!(std::str::from_utf8(&item.data).unwrap(), GO_CREDS);
    assert_eq!(item.label, "aws-vault (prod)");
    assert!(item.keychain_not_trust_application);
    assert!(!item.keychain_not_synchronizable);
    let creds: serde_json::Value = serde_json::from_slice(&item.data).unwrap();
    assert_eq!(creds["AccessKeyID"], "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(kr.get(oidc).unwrap().key, oidc);

    // Writing into this store with the same passphrase is allowed (verification passes against
    // the jwcrypto-written items).
    kr.set(&Item {
        key: "dev".into(),
        data: Zeroizing::new(b"{}".to_vec()),
        ..Item::default()
    })
    .unwrap();
}

#[test]
fn a_other_jose_variants_from_jwcrypto_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let variants: &[(&str, &[&str])] = &[
        ("v1", &["--enc", "A128GCM"]),
        ("v2", &["--enc", "A192GCM", "--zip"]),
        ("v3", &["--enc", "A128CBC-HS256"]),
        (
            "v4",
            &[
                "--alg",
                "PBES2-HS384+A192KW",
                "--enc",
                "A192CBC-HS384",
                "--zip",
            ],
        ),
        (
            "v5",
            &[
                "--alg",
                "PBES2-HS512+A256KW",
                "--enc",
                "A256CBC-HS512",
                "--p2c",
                "1000",
            ],
        ),
        ("v6", &["--p2c", "16384", "--zip"]),
    ];
    for (name, extra) in variants {
        py_write_item(dir, name, &go_item_json(name, GO_CREDS), PASS, extra);
    }
    let kr = FileKeyring::new(&config(dir, PASS));
    assert_eq!(kr.keys().unwrap(), vec!["v1", "v2", "v3", "v4", "v5", "v6"]);
    for (name, extra) in variants {
        let item = kr
            .get(name)
            .unwrap_or_else(|e| panic!("{name} {extra:?}: {e}"));
        assert_eq!(std::str::from_utf8(&item.data).unwrap(), GO_CREDS);
    }
    // And with the wrong passphrase every variant is a clean Decrypt error.
    let wrong = FileKeyring::new(&config(dir, "nope"));
    for (name, _) in variants {
        assert!(matches!(wrong.get(name), Err(Error::Decrypt { .. })));
    }
}

#[test]
fn b_rust_written_file_is_decrypted_by_jwcrypto_with_go_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new/keys");
    let kr = FileKeyring::new(&config(&dir, PASS));
    let item = Item {
        key: "prod".into(),
        data: Zeroizing::new(GO_CREDS.as_bytes().to_vec()),
        label: "aws-vault (prod)".into(),
        description: String::new(),
        keychain_not_trust_application: true,
        keychain_not_synchronizable: false,
    };
    kr.set(&item).unwrap();
    let oidc = Item {
        key: "oidc:https://x.awsapps.com/start".into(),
        data: Zeroizing::new(b"{\"a\":\"<&>\"}".to_vec()),
        label: "aws-vault oidc token for https://x.awsapps.com/start".into(),
        description: "aws-vault oidc token".into(),
        ..Item::default()
    };
    kr.set(&oidc).unwrap();

    let file = dir.join("prod");
    let token = fs::read_to_string(&file).unwrap();
    assert_eq!(token.split('.').count(), 5);
    assert!(!token.ends_with('\n'));

    let plain = py(&["decrypt", PASS, path_str(&file)], true);
    assert_eq!(
        String::from_utf8(plain).unwrap(),
        go_item_json("prod", GO_CREDS),
        "field names and order must be Go's"
    );

    let raw_header = String::from_utf8(py(&["header", path_str(&file)], true)).unwrap();
    let keys_in_order: Vec<String> = {
        let v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&raw_header).unwrap();
        v.keys().cloned().collect()
    };
    assert_eq!(keys_in_order, ["alg", "created", "enc", "p2c", "p2s"]);
    assert!(
        raw_header.starts_with(r#"{"alg":"PBES2-HS256+A128KW","created":""#),
        "keys must be written sorted, like Go's map marshalling: {raw_header}"
    );
    let header: serde_json::Value = serde_json::from_str(&raw_header).unwrap();
    assert_eq!(header["alg"], "PBES2-HS256+A128KW");
    assert_eq!(header["enc"], "A256GCM");
    assert_eq!(header["p2c"], 8192);
    assert!(header.get("zip").is_none());
    let p2s = header["p2s"].as_str().unwrap();
    assert_eq!(p2s.len(), 16);
    assert_eq!(b64url(p2s).len(), 12);
    let created = header["created"].as_str().unwrap();
    // Go's time.Now().String(): "2025-01-02 03:04:05.123456789 +0000 UTC"
    let b = created.as_bytes();
    assert!(
        created.len() >= 25
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b' '
            && b[13] == b':'
            && b[16] == b':'
            && (created.contains(" +") || created.contains(" -")),
        "created = {created:?}"
    );
    // Encrypted key is a 32-byte CEK wrapped (40 bytes), 12-byte IV, 16-byte tag.
    let segs: Vec<&str> = token.split('.').collect();
    assert_eq!(b64url(segs[1]).len(), 40);
    assert_eq!(b64url(segs[2]).len(), 12);
    assert_eq!(b64url(segs[4]).len(), 16);

    // The OIDC item: file name encoding and Go's HTML-safe escaping in the JSON.
    let oidc_file = dir.join("oidc:https:%2F%2Fx.awsapps.com%2Fstart");
    let plain = String::from_utf8(py(&["decrypt", PASS, path_str(&oidc_file)], true)).unwrap();
    assert_eq!(
        plain,
        r#"{"Key":"oidc:https://x.awsapps.com/start","Data":"eyJhIjoiPCY+In0=","Label":"aws-vault oidc token for https://x.awsapps.com/start","Description":"aws-vault oidc token","KeychainNotTrustApplication":false,"KeychainNotSynchronizable":false}"#
    );

    // The oracle rejects the wrong passphrase too (sanity of the oracle itself).
    py(&["decrypt", "wrong", path_str(&file)], false);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }
}

#[test]
fn c_wrong_passphrase_gives_the_decrypt_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    py_write_item(dir, "prod", &go_item_json("prod", GO_CREDS), PASS, &[]);
    let kr = FileKeyring::new(&config(dir, "not the passphrase"));
    let err = kr.get("prod").unwrap_err();
    let path = path_str(&dir.join("prod")).to_string();
    assert!(
        matches!(&err, Error::Decrypt { path: p } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("could not decrypt {path}: wrong passphrase or corrupt file")
    );
    // A write with the mismatching passphrase is refused and creates nothing.
    let err = kr
        .set(&Item {
            key: "dev".into(),
            ..Item::default()
        })
        .unwrap_err();
    assert!(matches!(err, Error::Decrypt { .. }), "{err}");
    assert!(!dir.join("dev").exists());
    // keys() needs no passphrase.
    assert_eq!(kr.keys().unwrap(), vec!["prod"]);
}

#[test]
fn d_huge_p2c_is_refused_without_key_derivation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    py_write_item(dir, "good", &go_item_json("good", GO_CREDS), PASS, &[]);
    let token = fs::read_to_string(dir.join("good")).unwrap();
    let header_text = String::from_utf8(b64url(token.split('.').next().unwrap())).unwrap();
    let mut header: serde_json::Value = serde_json::from_str(&header_text).unwrap();
    let cases: &[(&str, serde_json::Value, &str)] = &[
        (
            "PBES2-HS256+A128KW",
            serde_json::json!(2_000_000_000u64),
            "p2c 2000000000 exceeds the maximum of 1300000",
        ),
        (
            "PBES2-HS512+A256KW",
            serde_json::json!(600_001),
            "p2c 600001 exceeds the maximum of 600000",
        ),
        ("PBES2-HS256+A128KW", serde_json::json!(0), "p2c"),
        ("PBES2-HS256+A128KW", serde_json::json!(-1), "p2c"),
        ("PBES2-HS256+A128KW", serde_json::json!("8192"), "p2c"),
    ];
    let kr = FileKeyring::new(&config(dir, PASS));
    for (i, (alg, p2c, want)) in cases.iter().enumerate() {
        header["alg"] = serde_json::json!(alg);
        header["p2c"] = p2c.clone();
        let mut segs: Vec<String> = token.split('.').map(String::from).collect();
        segs[0] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&header).unwrap());
        let name = format!("hostile{i}");
        fs::write(dir.join(&name), segs.join(".")).unwrap();

        let start = Instant::now();
        let err = kr.get(&name).unwrap_err();
        let elapsed = start.elapsed();
        match &err {
            Error::Corrupt { path, reason } => {
                assert!(reason.contains(want), "{alg} {p2c}: {reason}");
                assert!(path.ends_with(&name));
            }
            other => panic!("{alg} {p2c}: expected Corrupt, got {other:?}"),
        }
        assert!(
            elapsed < Duration::from_millis(500),
            "refusal took {elapsed:?}: a key derivation must have happened"
        );
    }
    // The genuine item still reads.
    assert_eq!(&kr.get("good").unwrap().data[..], GO_CREDS.as_bytes());
}

#[test]
fn e_stray_entries_are_not_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    py_write_item(dir, "prod", &go_item_json("prod", GO_CREDS), PASS, &[]);
    fs::write(
        dir.join(".DS_Store"),
        b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00",
    )
    .unwrap();
    fs::create_dir(dir.join("subdir")).unwrap();
    fs::create_dir(dir.join("a.b.c.d.e")).unwrap();
    fs::write(dir.join("README"), "not an item\n").unwrap();
    let kr = FileKeyring::new(&config(dir, PASS));
    // Hidden files and directories are not keys; a regular file that is not a JWE is listed,
    // so that reading it names the damaged file instead of "no stored credentials".
    assert_eq!(kr.keys().unwrap(), vec!["README", "prod"]);
    // A write leaves no temporary file that would show up.
    kr.set(&Item {
        key: "dev".into(),
        ..Item::default()
    })
    .unwrap();
    assert_eq!(kr.keys().unwrap(), vec!["README", "dev", "prod"]);
    let hidden: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.') && n != ".DS_Store")
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[test]
fn f_unusable_directory_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    // The configured directory is a regular file.
    let not_dir = tmp.path().join("keys");
    fs::write(&not_dir, "I am a file").unwrap();
    let kr = FileKeyring::new(&config(&not_dir, PASS));
    let expected_path = path_str(&not_dir).to_string();
    for (op, err) in [
        ("keys", kr.keys().unwrap_err()),
        (
            "set",
            kr.set(&Item {
                key: "x".into(),
                ..Item::default()
            })
            .unwrap_err(),
        ),
    ] {
        match &err {
            Error::Io { path, .. } => assert_eq!(path, &expected_path, "{op}"),
            other => panic!("{op}: expected Io error naming the directory, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(&expected_path), "{op}: {msg}");
        assert!(msg.contains("not a directory"), "{op}: {msg}");
    }
    assert_eq!(fs::read_to_string(&not_dir).unwrap(), "I am a file");

    // A directory below a regular file cannot be created or listed either.
    let below = not_dir.join("sub");
    let kr = FileKeyring::new(&config(&below, PASS));
    assert!(matches!(kr.keys(), Err(Error::Io { .. })));
    assert!(matches!(
        kr.set(&Item {
            key: "x".into(),
            ..Item::default()
        }),
        Err(Error::Io { .. })
    ));

    // Permission-denied only bites when not running as root.
    #[cfg(unix)]
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        let locked = tmp.path().join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        let kr = FileKeyring::new(&config(&locked, PASS));
        let err = kr.keys().unwrap_err();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
        match err {
            Error::Io { path, .. } => assert_eq!(path, path_str(&locked)),
            other => panic!("expected Io, got {other:?}"),
        }
    }
}
