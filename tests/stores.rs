//! The desktop and Unix secret store backends against real stores, through the `aws-vault`
//! binary: GNOME Keyring (Secret Service) and kwalletd5 on private D-Bus session buses, `pass`
//! with a throw-away GnuPG home, `passage` on real `age`, and the kernel keyring. Plus backend
//! selection: the fallback when no backend is named and the error when a named one cannot open.
//!
//! Needs (Debian): dbus-daemon dbus-bin gnome-keyring libsecret-tools python3-dbus pass gnupg
//! age keyutils libkf5wallet-bin. A missing tool fails the test with an install hint.
// The stores driven here (Secret Service, KWallet, keyctl) exist on Linux only.
#![cfg(target_os = "linux")]
mod common;

use base64::Engine as _;
use common::stores::{self, GnomeKeyring, KWallet, PassStore, PassageStore};
use common::Sandbox;

const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const OIDC_KEY: &str = "oidc:https://example.awsapps.com/start";

/// The Item JSON the Go tool writes for long-term credentials of `profile`.
fn go_item_json(profile: &str, key_id: &str, secret: &str) -> String {
    let creds = format!(
        "{{\"AccessKeyID\":\"{key_id}\",\"SecretAccessKey\":\"{secret}\",\"SessionToken\":\"\",\"Source\":\"\",\"CanExpire\":false,\"Expires\":\"0001-01-01T00:00:00Z\",\"AccountID\":\"\"}}"
    );
    let data = base64::engine::general_purpose::STANDARD.encode(creds);
    format!(
        "{{\"Key\":\"{profile}\",\"Data\":\"{data}\",\"Label\":\"aws-vault ({profile})\",\"Description\":\"\",\"KeychainNotTrustApplication\":true,\"KeychainNotSynchronizable\":false}}"
    )
}

/// A cached-session key and its Item JSON for `profile`, valid for an hour.
fn session_item(profile: &str) -> (String, String) {
    let exp = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(profile);
    let key = format!("sts.GetSessionToken,{b64},,{}", exp.as_second());
    let data = format!(
        "{{\"AccessKeyId\":\"ASIASESSION\",\"Expiration\":\"{}\",\"SecretAccessKey\":\"s\",\"SessionToken\":\"t\"}}",
        exp.strftime("%Y-%m-%dT%H:%M:%SZ")
    );
    let item = aws_vault::keyring::Item {
        key: key.clone(),
        data: zeroize::Zeroizing::new(data.into_bytes()),
        label: format!("aws-vault session for {profile}"),
        description: "aws-vault session".into(),
        ..Default::default()
    };
    let json = String::from_utf8(item.to_json().to_vec()).unwrap();
    (key, json)
}

/// Check the Go Item JSON shape: the six fields in Go's order, and the credentials in `Data`.
#[track_caller]
fn assert_go_item(json: &str, profile: &str, key_id: &str) {
    let v: serde_json::Value = serde_json::from_str(json.trim_end()).expect("Item JSON");
    let fields: Vec<&str> = ["Key", "Data", "Label", "Description"]
        .into_iter()
        .chain(["KeychainNotTrustApplication", "KeychainNotSynchronizable"])
        .collect();
    let mut last = 0;
    for f in &fields {
        let pos = json
            .find(&format!("\"{f}\":"))
            .unwrap_or_else(|| panic!("{f} missing in {json}"));
        assert!(pos >= last, "{f} out of Go's order in {json}");
        last = pos;
    }
    assert_eq!(v["Key"], profile);
    assert_eq!(v["Label"], format!("aws-vault ({profile})"));
    let data = base64::engine::general_purpose::STANDARD
        .decode(v["Data"].as_str().unwrap())
        .unwrap();
    let creds: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(creds["AccessKeyID"], key_id);
}

/// add / list / export / remove / clear through the binary on the backend named by `args`.
fn round_trip(s: &Sandbox, backend: &[&str], session_seed: impl FnOnce(&str, &str)) {
    let with = |extra: &[&str]| -> Vec<String> {
        backend
            .iter()
            .chain(extra.iter())
            .map(|x| x.to_string())
            .collect()
    };
    let run = |extra: &[&str]| {
        let a = with(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        s.run(&a)
    };
    let a = with(&["add", "--env", "work"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    s.run_env(
        &a,
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    assert_eq!(run(&["list", "--credentials"]).ok().stdout, "work\n");
    let json = run(&["export", "-n", "--format=json", "work"]).ok().stdout;
    assert!(
        json.contains(&format!("\"AccessKeyId\": \"{KEY_ID}\"")),
        "{json}"
    );
    assert!(
        json.contains(&format!("\"SecretAccessKey\": \"{SECRET}\"")),
        "{json}"
    );

    let (skey, sjson) = session_item("work");
    session_seed(&skey, &sjson);
    assert_eq!(run(&["list", "--sessions"]).ok().stdout.lines().count(), 1);
    assert_eq!(run(&["clear"]).ok().stdout, "Cleared 1 sessions.\n");
    assert_eq!(run(&["list", "--credentials"]).ok().stdout, "work\n");

    let out = run(&["remove", "-f", "work"]).ok().stdout;
    assert!(out.starts_with("Deleted credentials."), "{out}");
    assert_eq!(run(&["list", "--credentials"]).ok().stdout, "");
    let line = run(&["remove", "-f", "work"]).fails();
    assert!(line.contains("could not be found"), "{line}");
}

// ------------------------------------------------------------------ secret-service

fn ss_sandbox(gk: &GnomeKeyring) -> Sandbox {
    let mut s = Sandbox::with_config("[profile work]\nregion = eu-west-1\n");
    gk.bus.apply(&mut s);
    s
}

#[test]
fn secret_service_round_trip() {
    let gk = GnomeKeyring::start();
    let s = ss_sandbox(&gk);
    round_trip(&s, &["--backend", "secret-service"], |key, json| {
        gk.tool(&["store-go", &gk.collection, key, json]);
    });
}

#[test]
fn secret_service_reads_an_item_the_go_tool_wrote() {
    let gk = GnomeKeyring::start();
    let mut s = ss_sandbox(&gk);
    gk.tool(&[
        "store-go",
        &gk.collection,
        "work",
        &go_item_json("work", "AKIAGOWROTETHIS00000", "gosecret"),
    ]);
    s.set_env("AWS_VAULT_BACKEND", "secret-service");
    assert_eq!(s.run(&["list", "--credentials"]).ok().stdout, "work\n");
    let env = s.run(&["export", "-n", "work"]).ok().stdout;
    assert!(
        env.contains("AWS_ACCESS_KEY_ID=AKIAGOWROTETHIS00000\n"),
        "{env}"
    );
    assert!(env.contains("AWS_SECRET_ACCESS_KEY=gosecret\n"), "{env}");
}

/// The hot path reads an unlocked collection directly (its own connection, one plain session,
/// the item found by its attribute) and never needs the full client; a locked collection is
/// what sends it there (`secret_service_unlocks_a_locked_collection`). With the encrypted
/// session asked for, it reads directly over zbus with the DH session instead.
/// Items are found by their `profile` attribute, as the Go tool finds them. The hot path reads
/// an item it saw in the listing by its path, so an item whose label says "work" but which
/// holds another profile's key (renamed in Seahorse, say) must not be taken for "work".
#[test]
fn secret_service_finds_items_by_attribute_not_by_label() {
    let gk = GnomeKeyring::start();
    let mut s = ss_sandbox(&gk);
    gk.tool(&[
        "store-go",
        &gk.collection,
        "other",
        &go_item_json("other", "AKIAOTHERPROFILE0000", "othersecret"),
        "work",
    ]);
    gk.tool(&[
        "store-go",
        &gk.collection,
        "work",
        &go_item_json("work", "AKIAWORKPROFILE00000", "worksecret"),
        "renamed",
    ]);
    s.set_env("AWS_VAULT_BACKEND", "secret-service");
    let run = s
        .run(&["--debug", "export", "--no-session", "--format=json", "work"])
        .ok();
    assert!(
        run.stdout.contains("AKIAWORKPROFILE00000"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("othersecret"), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("secret-service: plain session, read directly"),
        "{}",
        run.stderr
    );
}

#[test]
fn secret_service_hot_path_reads_directly() {
    let gk = GnomeKeyring::start();
    let mut s = ss_sandbox(&gk);
    s.set_env("AWS_VAULT_BACKEND", "secret-service");
    for (name, key) in [
        ("work", KEY_ID),
        ("other1", "AKIAOTHER00000000001"),
        ("other2", "AKIAOTHER00000000002"),
    ] {
        s.run_env(
            &["add", "--env", "--no-add-config", name],
            &[
                ("AWS_ACCESS_KEY_ID", key),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
            ],
        )
        .ok();
    }
    let run = s
        .run(&["--debug", "export", "--no-session", "--format=json", "work"])
        .ok();
    assert!(run.stdout.contains(KEY_ID), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("secret-service: plain session, read directly"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("through the full client"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("listing the collection"),
        "{}",
        run.stderr
    );
    let encrypted = s
        .run_env(
            &["--debug", "export", "--no-session", "--format=json", "work"],
            &[("AWS_VAULT_SECRET_SERVICE_ENCRYPTED_SESSION", "true")],
        )
        .ok();
    assert_eq!(encrypted.stdout, run.stdout);
    assert!(
        encrypted
            .stderr
            .contains("secret-service: encrypted session"),
        "{}",
        encrypted.stderr
    );
    assert!(
        !encrypted.stderr.contains("plain session"),
        "{}",
        encrypted.stderr
    );
    // Every label is listed (the labels are requested all at once).
    let list = s.run(&["list", "--credentials"]).ok().stdout;
    let mut names: Vec<&str> = list.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["other1", "other2", "work"]);
    // A key that is not there is a clean "not found", not a fall-back.
    let run = s.run(&[
        "--debug",
        "export",
        "--no-session",
        "--format=json",
        "nobody",
    ]);
    assert_ne!(run.code, 0);
    assert!(
        !run.stderr.contains("through the full client"),
        "{}",
        run.stderr
    );
}

/// A cached role on the Secret Service. The hot path never lists the collection (a property
/// read per item): it searches for the source chain's names, and finds the session by the
/// `key_prefix` attribute written with it. A session without the attribute, as the Go tool
/// writes them, is still found (by the listing), so switching binaries costs no STS call.
#[test]
fn secret_service_finds_a_cached_role_by_search_and_still_reads_go_written_sessions() {
    let (gk, moto, s) = stores::role_on_gnome_keyring(KEY_ID, SECRET);
    let key_id = |out: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(out).expect("export JSON");
        v["AccessKeyId"].as_str().unwrap().to_string()
    };
    let first = key_id(&s.run(&["export", "--format=json", "role"]).ok().stdout);
    let sts_calls = moto.calls().len();
    assert!(sts_calls >= 1);

    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("role");
    let prefix = format!("sts.AssumeRole,{b64},,");
    let found = stores::check(
        gk.secret_tool()
            .args(["search", "--all", "key_prefix", &prefix]),
    );
    assert!(found.contains(&format!("label = {prefix}")), "{found}");
    assert_eq!(found.matches("label = ").count(), 1, "{found}");

    let hot = s.run(&["--debug", "export", "--format=json", "role"]).ok();
    assert_eq!(key_id(&hot.stdout), first);
    assert_eq!(
        moto.calls().len(),
        sts_calls,
        "the cached role was not used"
    );
    assert!(hot.stderr.contains("found by key_prefix"), "{}", hot.stderr);
    assert!(
        !hot.stderr.contains("listing the collection"),
        "{}",
        hot.stderr
    );
    assert!(!hot.stderr.contains("full client"), "{}", hot.stderr);

    // The same session as the Go tool would have written it: only the `profile` attribute.
    let label = found
        .lines()
        .find_map(|l| l.strip_prefix("label = "))
        .unwrap()
        .to_string();
    let json = stores::check(gk.secret_tool().args(["lookup", "key_prefix", &prefix]));
    stores::check(gk.secret_tool().args(["clear", "key_prefix", &prefix]));
    gk.tool(&["store-go", &gk.collection, &label, json.trim_end()]);
    let go = s.run(&["--debug", "export", "--format=json", "role"]).ok();
    assert_eq!(key_id(&go.stdout), first);
    assert_eq!(
        moto.calls().len(),
        sts_calls,
        "the Go-written session was not used"
    );
    assert!(
        go.stderr.contains("listing the collection"),
        "{}",
        go.stderr
    );
}

/// When the session guessed ahead is not the one the plan looks up — here the role profile
/// gets long-term keys of its own, so it assumes the role directly, with its MFA serial in the
/// session key — the guessed search and read are left unused and the right session is found
/// or made: nothing stale is served, and the connection stays usable.
#[test]
fn secret_service_a_wrong_guess_of_the_first_session_is_harmless() {
    let gk = GnomeKeyring::start();
    let moto = common::moto::Moto::start();
    let mfa = "arn:aws:iam::111111111111:mfa/base";
    let mut s = Sandbox::with_config(&format!(
        "[profile base]\nregion = us-east-1\nmfa_serial = {mfa}\nmfa_process = echo 123456\n\
         [profile own]\nregion = us-east-1\nsource_profile = base\nmfa_serial = {mfa}\n\
         mfa_process = echo 123456\nrole_arn = arn:aws:iam::222222222222:role/Admin\n"
    ));
    gk.bus.apply(&mut s);
    s.set_env("AWS_ENDPOINT_URL", &moto.url());
    s.set_env("AWS_VAULT_BACKEND", "secret-service");
    s.run_env(
        &["add", "--env", "--no-add-config", "base"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    let assumed = || moto.calls_to("AssumeRole").len();
    s.run(&["export", "--format=json", "own"]).ok();
    assert_eq!(assumed(), 1);
    // The guess (keys at the end of the chain) still finds and reads that session ahead, but
    // the plan now starts at `own`'s own keys and looks up another session: a miss. (`add`
    // refuses a profile with a source_profile, so the keys are stored as the Go tool would.)
    gk.tool(&[
        "store-go",
        &gk.collection,
        "own",
        &go_item_json("own", KEY_ID, SECRET),
    ]);
    let run = s.run(&["--debug", "export", "--format=json", "own"]).ok();
    assert_eq!(assumed(), 2, "{}", run.stderr);
    let call = moto.calls_to("AssumeRole").pop().unwrap();
    assert_eq!(call.param("SerialNumber"), Some(mfa), "{}", run.stderr);
    // And that session is found by its own search next time, without a listing.
    let run = s.run(&["--debug", "export", "--format=json", "own"]).ok();
    assert_eq!(assumed(), 2, "{}", run.stderr);
    assert!(run.stderr.contains("found by key_prefix"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("listing the collection"),
        "{}",
        run.stderr
    );
}

#[test]
fn secret_service_item_is_found_by_secret_tool_as_go_item_json() {
    let gk = GnomeKeyring::start();
    let s = ss_sandbox(&gk);
    s.run_env(
        &["--backend=secret-service", "add", "--env", "work"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    let found = stores::check(
        gk.secret_tool()
            .args(["search", "--all", "profile", "work"]),
    );
    assert!(found.contains("label = work"), "{found}");
    let secret = stores::check(gk.secret_tool().args(["lookup", "profile", "work"]));
    assert_go_item(&secret, "work", KEY_ID);
    // In the awsvault collection, not the default one.
    let listing = stores::check(gk.bus.command(stores::PYTHON).args([
        "-c",
        "import secretstorage as s\nc=s.dbus_init()\nfor col in s.get_all_collections(c):\n  print(col.collection_path, [i.get_label() for i in col.get_all_items()])",
    ]));
    assert!(
        listing.contains("/org/freedesktop/secrets/collection/awsvault ['work']"),
        "{listing}"
    );
}

#[test]
fn secret_service_unlocks_a_locked_collection() {
    let gk = GnomeKeyring::start();
    let s = ss_sandbox(&gk);
    gk.tool(&[
        "store-go",
        &gk.collection,
        "work",
        &go_item_json("work", KEY_ID, SECRET),
    ]);
    gk.tool(&["lock", &gk.collection]);
    assert_eq!(gk.tool(&["locked", &gk.collection]).trim(), "true");
    let json = s
        .run(&[
            "--backend=secret-service",
            "export",
            "-n",
            "--format=json",
            "work",
        ])
        .ok()
        .stdout;
    assert!(json.contains(KEY_ID), "{json}");
    gk.tool(&["lock", &gk.collection]);
    assert_eq!(
        s.run(&["--backend=secret-service", "list", "--credentials"])
            .ok()
            .stdout,
        "work\n"
    );
    assert_eq!(gk.tool(&["locked", &gk.collection]).trim(), "false");
}

#[test]
fn secret_service_missing_collection_reads_empty_and_creation_prompt_is_reported() {
    let gk = GnomeKeyring::start();
    let s = ss_sandbox(&gk);
    let args = [
        "--backend=secret-service",
        "--secret-service-collection=other",
    ];
    let list = [&args[..], &["list", "--credentials"]].concat();
    assert_eq!(s.run(&list).ok().stdout, "");
    // Creating a collection needs gnome-keyring's prompt, which cannot show without a display.
    let add = [&args[..], &["add", "--env", "work"]].concat();
    let line = s
        .run_env(
            &add,
            &[
                ("AWS_ACCESS_KEY_ID", KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
            ],
        )
        .fails();
    assert!(
        line.contains("create the collection 'other'") && line.contains("prompt was dismissed"),
        "{line}"
    );
}

#[test]
fn default_selection_picks_a_running_secret_service() {
    let gk = GnomeKeyring::start();
    let s = ss_sandbox(&gk);
    let run = s
        .run_env(
            &["--debug", "list", "--credentials"],
            &[("AWS_VAULT_BACKEND", "")],
        )
        .ok();
    assert!(
        run.stderr.contains("Using keyring backend secret-service"),
        "{}",
        run.stderr
    );
    // The transfer session is plain by default, as the Go tool opens it (docs/backends.md).
    s.run_env(
        &["add", "--env", "work"],
        &[
            ("AWS_VAULT_BACKEND", ""),
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    let run = s
        .run_env(
            &["--debug", "export", "--no-session", "--format=json", "work"],
            &[("AWS_VAULT_BACKEND", "")],
        )
        .ok();
    assert!(run.stdout.contains(SECRET), "{}", run.stdout);
    assert!(
        run.stderr.contains("secret-service: plain session"),
        "{}",
        run.stderr
    );
}

// ------------------------------------------------------------------ kwallet

#[test]
fn kwallet_round_trip_and_go_written_entry() {
    let kw = KWallet::start();
    let mut s = Sandbox::with_config("[profile work]\nregion = eu-west-1\n[profile go]\n");
    kw.bus.apply(&mut s);
    round_trip(&s, &["--backend", "kwallet"], |key, json| {
        kw.tool(&["write-go", "aws-vault", key, json]);
    });
    // An entry written the Go tool's way is read back.
    kw.tool(&[
        "write-go",
        "aws-vault",
        "go",
        &go_item_json("go", "AKIAGOWROTETHIS00000", "gosecret"),
    ]);
    let env = s
        .run(&["--backend=kwallet", "export", "-n", "go"])
        .ok()
        .stdout;
    assert!(
        env.contains("AWS_ACCESS_KEY_ID=AKIAGOWROTETHIS00000\n"),
        "{env}"
    );
    // And ours is the Go Item JSON, in folder aws-vault of wallet aws-vault.
    s.run_env(
        &["--backend=kwallet", "add", "--env", "work"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    assert_go_item(&kw.tool(&["read", "aws-vault", "work"]), "work", KEY_ID);
}

// ------------------------------------------------------------------ pass / passage

#[test]
fn pass_round_trip_entries_are_go_item_json() {
    let ps = PassStore::start();
    let mut s = Sandbox::with_config("[profile work]\nregion = eu-west-1\n");
    ps.apply(&mut s);
    round_trip(
        &s,
        &["--backend", "pass", "--pass-prefix", "aws-vault"],
        |key, json| {
            ps.insert(&format!("aws-vault/{key}"), json);
        },
    );
    s.run_env(
        &[
            "--backend=pass",
            "--pass-prefix=aws-vault",
            "add",
            "--env",
            "work",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    assert!(ps.store.join("aws-vault/work.gpg").is_file());
    assert_go_item(&ps.show("aws-vault/work"), "work", KEY_ID);
}

#[test]
fn pass_empty_prefix_lists_only_aws_vault_items() {
    let ps = PassStore::start();
    let mut s = Sandbox::with_config("[profile work]\n[profile go]\n");
    ps.apply(&mut s);
    // The user's own passwords, including JSON that is not an aws-vault item.
    ps.insert("github.com", "hunter2\nuser: me\n");
    ps.insert("email/work", "{\"user\":\"me\",\"password\":\"x\"}");
    ps.insert(
        "go",
        &go_item_json("go", "AKIAGOWROTETHIS00000", "gosecret"),
    );
    s.run_env(
        &["--backend=pass", "add", "--env", "work"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    assert_eq!(
        s.run(&["--backend=pass", "list", "--credentials"])
            .ok()
            .stdout,
        "go\nwork\n"
    );
    let env = s.run(&["--backend=pass", "export", "-n", "go"]).ok().stdout;
    assert!(
        env.contains("AWS_ACCESS_KEY_ID=AKIAGOWROTETHIS00000\n"),
        "{env}"
    );
    // The unrelated entries are untouched, even when asked to remove one.
    let line = s
        .run(&["--backend=pass", "remove", "-f", "github.com"])
        .fails();
    assert!(line.contains("not an aws-vault item"), "{line}");
    assert_eq!(ps.show("github.com"), "hunter2\nuser: me\n");
}

/// An OIDC token item as the Go tool writes it, for `start_url`.
fn go_oidc_item_json(start_url: &str) -> String {
    let item = aws_vault::keyring::Item {
        key: format!("oidc:{start_url}"),
        data: zeroize::Zeroizing::new(b"{\"Token\":{}}".to_vec()),
        label: format!("aws-vault oidc token for {start_url}"),
        description: "aws-vault oidc token".into(),
        ..Default::default()
    };
    String::from_utf8(item.to_json().to_vec()).unwrap()
}

/// The Go keyring names a pass entry `path.Join(prefix, key)`, which collapses the `//` of an
/// SSO start URL: `oidc:https://h/start` lives in `<prefix>/oidc:https:/h/start.gpg`. Both tools
/// must use that one entry, or neither sees the other's SSO token.
#[test]
fn pass_oidc_tokens_use_the_go_tool_entry_name() {
    use aws_vault::keyring::{self, Item};
    let ps = PassStore::start();
    let home = tempfile::tempdir().unwrap();
    let cfg = keyring::Config {
        backend: Some("pass".into()),
        pass_dir: Some(ps.store.display().to_string()),
        pass_cmd: Some(ps.wrapper().display().to_string()),
        pass_prefix: Some("aws-vault".into()),
        home: home.path().to_path_buf(),
        ..Default::default()
    };
    let kr = keyring::open(&cfg).expect("pass opens");

    // A token the Go tool stored is found, and listed under its real key.
    let go_url = "https://go.awsapps.com/start";
    ps.insert(
        "aws-vault/oidc:https:/go.awsapps.com/start",
        &go_oidc_item_json(go_url),
    );
    let go_key = format!("oidc:{go_url}");
    assert_eq!(kr.keys().unwrap(), vec![go_key.clone()]);
    assert_eq!(kr.get(&go_key).unwrap().key, go_key);

    // Ours lands where the Go tool looks.
    let item = Item {
        key: OIDC_KEY.into(),
        data: zeroize::Zeroizing::new(b"{\"Token\":{}}".to_vec()),
        label: "aws-vault oidc token".into(),
        ..Default::default()
    };
    kr.set(&item).unwrap();
    assert!(ps
        .store
        .join("aws-vault/oidc:https:/example.awsapps.com/start.gpg")
        .is_file());
    let shown = ps.show("aws-vault/oidc:https:/example.awsapps.com/start");
    assert!(
        shown.contains("\"Key\":\"oidc:https://example.awsapps.com/start\""),
        "{shown}"
    );
    assert_eq!(
        kr.keys().unwrap(),
        vec![OIDC_KEY.to_string(), go_key.clone()]
    );
    assert_eq!(kr.get(OIDC_KEY).unwrap().data.as_slice(), b"{\"Token\":{}}");

    // The cached client registration follows the same rule.
    let client = "oidc:client:pkce:https://example.awsapps.com/start";
    kr.set(&Item {
        key: client.into(),
        data: zeroize::Zeroizing::new(b"{}".to_vec()),
        ..Default::default()
    })
    .unwrap();
    assert!(ps
        .store
        .join("aws-vault/oidc:client:pkce:https:/example.awsapps.com/start.gpg")
        .is_file());
    assert!(kr.keys().unwrap().contains(&client.to_string()));

    for k in [OIDC_KEY, go_key.as_str(), client] {
        kr.remove(k).unwrap();
    }
    assert!(kr.keys().unwrap().is_empty());
    assert!(matches!(kr.get(OIDC_KEY), Err(keyring::Error::NotFound)));
}

/// The same entry naming on passage.
#[test]
fn passage_oidc_tokens_use_the_go_tool_entry_name() {
    use aws_vault::keyring::{self, Item};
    let ps = PassageStore::start();
    let home = tempfile::tempdir().unwrap();
    let wrapper = ps.dir.path().join("passage-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nPASSAGE_IDENTITIES_FILE='{}' exec '{}' \"$@\"\n",
            ps.identities.display(),
            ps.bin.join("passage").display()
        ),
    )
    .unwrap();
    make_executable(&wrapper);
    let cfg = keyring::Config {
        backend: Some("passage".into()),
        pass_dir: Some(ps.store.display().to_string()),
        pass_cmd: Some(wrapper.display().to_string()),
        home: home.path().to_path_buf(),
        ..Default::default()
    };
    let kr = keyring::open(&cfg).expect("passage opens");
    let go_url = "https://go.awsapps.com/start";
    age_encrypt(
        &ps,
        "oidc:https:/go.awsapps.com/start",
        &go_oidc_item_json(go_url),
    );
    let go_key = format!("oidc:{go_url}");
    assert_eq!(kr.keys().unwrap(), vec![go_key.clone()]);
    assert_eq!(kr.get(&go_key).unwrap().key, go_key);
    kr.set(&Item {
        key: OIDC_KEY.into(),
        data: zeroize::Zeroizing::new(b"{}".to_vec()),
        ..Default::default()
    })
    .unwrap();
    assert!(ps
        .store
        .join("oidc:https:/example.awsapps.com/start.age")
        .is_file());
    assert!(ps
        .show("oidc:https:/example.awsapps.com/start")
        .contains("\"Key\":\"oidc:https://example.awsapps.com/start\""));
}

fn make_executable(p: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Write `<store>/<name>.age` the way any passage client would: age-encrypted to the store's
/// recipients.
fn age_encrypt(ps: &PassageStore, name: &str, content: &str) {
    let out = ps.store.join(format!("{name}.age"));
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut c = std::process::Command::new("age")
        .arg("-e")
        .arg("-R")
        .arg(ps.store.join(".age-recipients"))
        .arg("-o")
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin
        .take()
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
    assert!(c.wait().unwrap().success());
}

/// A `--pass-cmd` that appends its first argument (`show`, `insert`, `rm`) to `log` and then
/// runs `real`: it counts how often aws-vault starts the program, i.e. decrypts.
fn counting_pass_cmd(
    dir: &std::path::Path,
    real: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let log = dir.join("calls.log");
    let cmd = dir.join("counting-pass");
    std::fs::write(
        &cmd,
        format!(
            "#!/bin/sh\necho \"$1\" >>'{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )
    .unwrap();
    make_executable(&cmd);
    (cmd, log)
}

/// Fill `dir` with `n` entries that are not aws-vault items: copies of one encrypted entry under
/// many names, some in sub-folders, as in a real password store.
fn unrelated_entries(template: &std::path::Path, dir: &std::path::Path, ext: &str, n: usize) {
    for i in 0..n {
        let name = if i % 3 == 0 {
            format!("sites/site{i}.{ext}")
        } else {
            format!("password{i}.{ext}")
        };
        let to = dir.join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(template, to).unwrap();
    }
}

/// The hot path must not decrypt the store: with no prefix, `export --no-session` for a profile
/// with long-term keys starts `pass` exactly once (`show` of that profile's entry), however many
/// other passwords the store holds.
#[test]
fn pass_export_without_prefix_decrypts_only_the_credential_item() {
    let ps = PassStore::start();
    let mut s = Sandbox::with_config("[profile work]\nregion = eu-west-1\n");
    ps.apply(&mut s);
    s.run_env(
        &["--backend=pass", "add", "--env", "work"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    ps.insert("template", "hunter2\nuser: me\n");
    unrelated_entries(&ps.store.join("template.gpg"), &ps.store, "gpg", 20);
    let (cmd, log) = counting_pass_cmd(ps.dir.path(), &stores::require("pass", "pass"));
    let json = s
        .run(&[
            "--backend=pass",
            &format!("--pass-cmd={}", cmd.display()),
            "export",
            "--no-session",
            "--format=json",
            "work",
        ])
        .ok()
        .stdout;
    assert!(json.contains(KEY_ID), "{json}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "show\n");
}

/// The same for passage.
#[test]
fn passage_export_without_prefix_decrypts_only_the_credential_item() {
    let ps = PassageStore::start();
    let mut s = Sandbox::with_config("[profile work]\nregion = eu-west-1\n");
    ps.apply(&mut s);
    s.run_env(
        &["--backend=passage", "add", "--env", "work"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    age_encrypt(&ps, "template", "hunter2\n");
    unrelated_entries(&ps.store.join("template.age"), &ps.store, "age", 20);
    let (cmd, log) = counting_pass_cmd(ps.dir.path(), &ps.bin.join("passage"));
    let json = s
        .run(&[
            "--backend=passage",
            &format!("--pass-cmd={}", cmd.display()),
            "export",
            "--no-session",
            "--format=json",
            "work",
        ])
        .ok()
        .stdout;
    assert!(json.contains(KEY_ID), "{json}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "show\n");
}

#[test]
fn passage_round_trip_on_real_age() {
    let ps = PassageStore::start();
    let mut s = Sandbox::with_config("[profile work]\nregion = eu-west-1\n");
    ps.apply(&mut s);
    let store = ps.store.clone();
    let ids = ps.identities.clone();
    round_trip(&s, &["--backend", "passage"], |key, json| {
        // Seed the way any passage client would: age-encrypt to the store's recipients.
        let out = store.join(format!("{key}.age"));
        let mut c = std::process::Command::new("age")
            .arg("-e")
            .arg("-R")
            .arg(store.join(".age-recipients"))
            .arg("-o")
            .arg(&out)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(json.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success());
        let _ = &ids;
    });
    s.run_env(
        &["--backend=passage", "add", "--env", "work"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    assert_go_item(&ps.show("work"), "work", KEY_ID);
}

// ------------------------------------------------------------------ keyctl

/// Give this test thread (and the aws-vault processes it starts) its own session keyring.
fn own_session_keyring() {
    stores::require("keyctl", "keyutils");
    keyutils::Keyring::join_anonymous_session().expect("join a new session keyring");
}

#[test]
fn keyctl_session_scope_round_trip() {
    own_session_keyring();
    let mut s = Sandbox::with_config("[profile work]\nregion = eu-west-1\n");
    s.set_env("AWS_VAULT_KEYCTL_SCOPE", "session");
    round_trip(&s, &["--backend", "keyctl"], |key, json| {
        let item = aws_vault::keyring::Item::from_json(json.as_bytes()).unwrap();
        let ring = stores::check(std::process::Command::new("keyctl").args([
            "search",
            "@s",
            "keyring",
            "aws-vault",
        ]));
        let mut c = std::process::Command::new("keyctl")
            .args(["padd", "user", key, ring.trim()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(&item.data).unwrap();
        assert!(c.wait().unwrap().success());
    });
    // The layout: keyring `aws-vault` in the session keyring, `user` keys holding raw Data.
    s.run_env(
        &["--backend=keyctl", "add", "--env", "work"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    let ring = stores::check(std::process::Command::new("keyctl").args([
        "search",
        "@s",
        "keyring",
        "aws-vault",
    ]));
    let id = stores::check(std::process::Command::new("keyctl").args([
        "search",
        ring.trim(),
        "user",
        "work",
    ]));
    let payload = stores::check(std::process::Command::new("keyctl").args(["pipe", id.trim()]));
    let v: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(v["AccessKeyID"], KEY_ID);
}

#[test]
fn keyctl_default_scope_is_user() {
    own_session_keyring();
    let s = Sandbox::with_config("[profile kctest]\n");
    // A name unique to this run: the user keyring is shared by every process of this uid.
    let profile = format!("aws-vault-test-{}", std::process::id());
    let ring_before = std::process::Command::new("keyctl")
        .args(["search", "@u", "keyring", "aws-vault"])
        .output()
        .unwrap()
        .status
        .success();
    s.run_env(
        &["--backend=keyctl", "add", "--env", &profile],
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .ok();
    let ring = stores::check(std::process::Command::new("keyctl").args([
        "search",
        "@u",
        "keyring",
        "aws-vault",
    ]));
    let found = std::process::Command::new("keyctl")
        .args(["search", ring.trim(), "user", &profile])
        .output()
        .unwrap();
    let listed = s
        .run(&["--backend=keyctl", "list", "--credentials"])
        .ok()
        .stdout;
    s.run(&["--backend=keyctl", "remove", "-f", &profile]).ok();
    if !ring_before {
        // We created the user's `aws-vault` keyring: leave the user keyring as we found it.
        stores::check(std::process::Command::new("keyctl").args(["unlink", ring.trim(), "@u"]));
    }
    assert!(found.status.success(), "not in the user keyring");
    assert!(listed.lines().any(|l| l == profile), "{listed}");
}

// ------------------------------------------------------------------ selection

#[test]
fn without_bus_or_pass_store_the_default_is_the_file_backend() {
    let s = Sandbox::with_config("[profile work]\n");
    s.add("work", KEY_ID, SECRET);
    // No DBUS_SESSION_BUS_ADDRESS and no socket in XDG_RUNTIME_DIR; pass installed but no store.
    let run = s
        .run_env(
            &["--debug", "list", "--credentials"],
            &[("AWS_VAULT_BACKEND", "")],
        )
        .ok();
    assert_eq!(run.stdout, "work\n");
    for b in ["secret-service", "kwallet"] {
        assert!(
            run.stderr.contains(&format!(
                "Keyring backend {b} skipped: no D-Bus session bus"
            )),
            "{}",
            run.stderr
        );
    }
    assert!(
        run.stderr
            .contains("Keyring backend pass skipped: no initialised pass store"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Using keyring backend file"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("keyctl"), "{}", run.stderr);
}

#[test]
fn a_named_backend_that_cannot_open_is_one_clear_error() {
    let s = Sandbox::new();
    let line = s
        .run_env(&["list"], &[("AWS_VAULT_BACKEND", "secret-service")])
        .fails();
    assert!(
        line.starts_with(
            "aws-vault: error: specified keyring backend not available: secret-service: no D-Bus session bus"
        ) && line.ends_with(", try --help"),
        "{line}"
    );
    let line = s
        .run(&["--backend=pass", "--pass-cmd=no-such-pass", "list"])
        .fails();
    assert!(
        line.contains(
            "specified keyring backend not available: pass: the no-such-pass program is not available"
        ),
        "{line}"
    );
    let line = s
        .run_env(
            &["--backend=keyctl", "list"],
            &[("AWS_VAULT_KEYCTL_SCOPE", "galaxy")],
        )
        .fails();
    assert!(line.contains("unknown keyctl scope 'galaxy'"), "{line}");
}

/// Named explicitly on a bus where no provider runs or can be started: one clear line, as when
/// opening waited for the check (its answer is now read on first use).
#[test]
fn a_named_secret_service_without_any_provider_is_one_clear_error() {
    let bus = stores::Bus::start_without_services();
    let mut s = Sandbox::with_config("[profile work]\n");
    bus.apply(&mut s);
    for args in [&["list"][..], &["export", "--format=json", "work"][..]] {
        let line = s
            .run_env(args, &[("AWS_VAULT_BACKEND", "secret-service")])
            .fails();
        assert!(
            line.contains(
                "specified keyring backend not available: secret-service: no Secret Service \
                 provider (org.freedesktop.secrets) on the D-Bus session bus"
            ),
            "{line}"
        );
    }
}

#[test]
fn a_private_bus_without_a_secret_service_falls_back() {
    let bus = stores::Bus::start();
    let mut s = Sandbox::with_config("[profile work]\n");
    bus.apply(&mut s);
    s.add("work", KEY_ID, SECRET);
    let run = s
        .run_env(
            &["--debug", "list", "--credentials"],
            &[("AWS_VAULT_BACKEND", "")],
        )
        .ok();
    assert_eq!(run.stdout, "work\n");
    assert!(
        run.stderr.contains(
            "Keyring backend secret-service skipped: no Secret Service provider (org.freedesktop.secrets) is running"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Using keyring backend file"),
        "{}",
        run.stderr
    );
    // The bus could start GNOME Keyring on demand, but automatic selection must not make it:
    // started where nobody unlocks it, it would sit locked, and the next run would select it
    // instead of the file store that holds the keys.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let owner = stores::check(bus.command("dbus-send").args([
        "--session",
        "--print-reply",
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.NameHasOwner",
        "string:org.freedesktop.secrets",
    ]));
    assert!(owner.contains("boolean false"), "{owner}");
    let again = s
        .run_env(&["list", "--credentials"], &[("AWS_VAULT_BACKEND", "")])
        .ok();
    assert_eq!(again.stdout, "work\n");
}

#[test]
fn help_lists_the_backends_of_this_build() {
    let s = Sandbox::new();
    // Help goes to stderr, as kingpin's does.
    let run = s.run(&["--help"]).ok();
    let help = run.stdout + &run.stderr;
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains(
            "Keyring backends in this build: secret-service, kwallet, keyctl, pass, passage, file, op-connect, op, op-desktop."
        ),
        "{help}"
    );
}
