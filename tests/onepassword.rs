//! The 1Password backends against local stand-ins, since neither a Connect server nor the `op`
//! tool can run here:
//!
//! * `op-connect` against `tests/support/connect_fake.py`, a loopback fake of the published
//!   Connect REST API (paths, JSON names, SCIM filters, status codes);
//! * `op` and `op-desktop` against `tests/support/fake_op.py`, installed as `op` on a test `PATH`,
//!   which follows the documented `op item ... --format json` command line and output.
//!
//! Both need `python3`. Items are checked field by field against the Go tool's layout (title
//! `aws-vault: <key>`, tag, category API_CREDENTIAL, one concealed field `keyring` holding the
//! item JSON), in both directions.
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_vault::keyring::{self, Item, Keyring};
use common::Sandbox;
use serde_json::{json, Value};

const TOKEN: &str = "connect-test-token-3f9a1c";
const VAULT: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaa";
const SA_TOKEN: &str = "ops_eyJzaWduSW5BZGRyZXNzIjoidGVzdCJ9-secret";
const CONFIG: &str = "[profile prod]\nregion = eu-west-1\n[profile dev]\nregion = eu-west-1\n";

fn support(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

/// The Go tool's long-term credential payload and item (docs/compatibility.md §4.3.1).
fn go_item_json(profile: &str, id: &str, secret: &str) -> String {
    let data = format!(
        r#"{{"AccessKeyID":"{id}","SecretAccessKey":"{secret}","SessionToken":"","Source":"","CanExpire":false,"Expires":"0001-01-01T00:00:00Z","AccountID":""}}"#
    );
    let item = Item {
        key: profile.to_string(),
        data: zeroize::Zeroizing::new(data.into_bytes()),
        label: format!("aws-vault ({profile})"),
        description: String::new(),
        keychain_not_trust_application: true,
        keychain_not_synchronizable: false,
    };
    String::from_utf8(item.to_json().to_vec()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The Connect fake

struct ConnectFake {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for ConnectFake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

impl ConnectFake {
    fn start() -> ConnectFake {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("connect.log");
        std::fs::write(&log, "").unwrap();
        let config = json!({"token": TOKEN, "vaults": [{"id": VAULT, "name": "Automation"}]});
        let mut child = Command::new("python3")
            .arg(support("connect_fake.py"))
            .arg(&log)
            .arg(config.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is required for the 1Password tests");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("connect_fake.py did not print its port: {line:?}")
        });
        ConnectFake {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn control(&self, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/_control/{path}", self.url());
        let mut resp = match body {
            Some(b) => agent()
                .post(&url)
                .content_type("application/json")
                .send(b.to_string().as_bytes())
                .unwrap(),
            None => agent().get(&url).call().unwrap(),
        };
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
    }

    fn seed(&self, item: Value) -> String {
        self.control("seed", Some(item))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn items(&self) -> Vec<Value> {
        self.control("items", None).as_array().unwrap().clone()
    }

    fn configure(&self, config: Value) {
        self.control("config", Some(config));
    }

    /// API requests so far (control requests left out).
    fn calls(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|c| !c["path"].as_str().unwrap().starts_with("/_control"))
            .collect()
    }

    fn clear_log(&self) {
        std::fs::write(&self.log, "").unwrap();
    }

    /// A sandbox using this server as its backend.
    fn sandbox(&self) -> Sandbox {
        let mut s = Sandbox::with_config(CONFIG);
        s.set_env("AWS_VAULT_BACKEND", "op-connect");
        s.set_env("AWS_VAULT_OP_CONNECT_HOST", &self.url());
        s.set_env("AWS_VAULT_OP_VAULT_ID", VAULT);
        s.set_env("OP_CONNECT_TOKEN", TOKEN);
        s
    }

    fn keyring(&self) -> Box<dyn Keyring> {
        let mut cfg = keyring::Config {
            backend: Some("op-connect".into()),
            ..Default::default()
        };
        cfg.op.vault_id = Some(VAULT.into());
        cfg.op.connect_host = Some(self.url());
        cfg.op.connect_token = Some(zeroize::Zeroizing::new(TOKEN.into()));
        keyring::open(&cfg).expect("op-connect opens")
    }
}

/// An item laid out as the Go tool's Connect backend creates it.
fn go_connect_item(title: &str, value: &str) -> Value {
    json!({
        "title": title,
        "vault": {"id": VAULT},
        "category": "API_CREDENTIAL",
        "tags": ["aws-vault"],
        "fields": [
            {"id": "notesPlain", "type": "STRING", "purpose": "NOTES", "label": "notesPlain", "value": ""},
            {"id": "k1", "type": "CONCEALED", "label": "keyring", "value": value}
        ]
    })
}

/// Check an item has the Go layout and return the item JSON in its field.
fn assert_go_layout(item: &Value, title: &str) -> Value {
    assert_eq!(item["title"], title, "{item}");
    assert_eq!(item["category"], "API_CREDENTIAL", "{item}");
    assert_eq!(item["tags"], json!(["aws-vault"]), "{item}");
    let concealed: Vec<&Value> = item["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["type"] == "CONCEALED")
        .collect();
    assert_eq!(concealed.len(), 1, "{item}");
    assert_eq!(concealed[0]["label"], "keyring", "{item}");
    serde_json::from_str(concealed[0]["value"].as_str().unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// op-connect

#[test]
fn connect_reads_items_the_go_tool_created() {
    let fake = ConnectFake::start();
    fake.seed(go_connect_item(
        "aws-vault: prod",
        &go_item_json("prod", "AKIAGOPROD0000000001", "gosecret"),
    ));
    let s = fake.sandbox();
    let list = s.run(&["list", "--credentials"]).ok().stdout;
    assert_eq!(list, "prod\n");
    let env = s.run(&["export", "--no-session", "prod"]).ok().stdout;
    assert!(
        env.contains("AWS_ACCESS_KEY_ID=AKIAGOPROD0000000001\n"),
        "{env}"
    );
    assert!(env.contains("AWS_SECRET_ACCESS_KEY=gosecret\n"), "{env}");

    // Every request carried the token as a bearer token, and nothing else did.
    for call in fake.calls() {
        let auth = call["headers"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.clone());
        assert_eq!(auth, Some(json!(format!("Bearer {TOKEN}"))));
        assert!(!call["path"].as_str().unwrap().contains(TOKEN));
        assert!(!call["query"].to_string().contains(TOKEN));
    }
}

#[test]
fn connect_writes_the_go_layout_and_replaces_in_place() {
    let fake = ConnectFake::start();
    let s = fake.sandbox();
    s.add("prod", "AKIAPROD000000000001", "prodsecret");
    let items = fake.items();
    assert_eq!(items.len(), 1);
    let stored = assert_go_layout(&items[0], "aws-vault: prod");
    assert_eq!(stored["Key"], "prod");
    assert_eq!(stored["Label"], "aws-vault (prod)");
    assert_eq!(stored["KeychainNotTrustApplication"], true);
    let creds: Value =
        serde_json::from_slice(&base64_decode(stored["Data"].as_str().unwrap())).unwrap();
    assert_eq!(creds["AccessKeyID"], "AKIAPROD000000000001");

    // The create request itself: POST to the vault's items with the documented body.
    let post = fake
        .calls()
        .into_iter()
        .find(|c| c["method"] == "POST")
        .unwrap();
    assert_eq!(post["path"], format!("/v1/vaults/{VAULT}/items"));
    let body: Value = serde_json::from_str(post["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["vault"]["id"], VAULT);
    assert_eq!(body["fields"][0]["type"], "CONCEALED");

    // Writing the key again replaces the same item (PUT with its id), never a second item.
    let id = items[0]["id"].as_str().unwrap().to_string();
    let kr = fake.keyring();
    let mut item = kr.get("prod").unwrap();
    item.label = "changed".into();
    kr.set(&item).unwrap();
    let items = fake.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert_eq!(
        assert_go_layout(&items[0], "aws-vault: prod")["Label"],
        "changed"
    );
    assert!(fake
        .calls()
        .iter()
        .any(|c| c["method"] == "PUT" && c["path"] == format!("/v1/vaults/{VAULT}/items/{id}")));

    // Remove deletes it; a second remove is "not found".
    kr.remove("prod").unwrap();
    assert!(fake.items().is_empty());
    assert!(matches!(kr.remove("prod"), Err(keyring::Error::NotFound)));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn connect_duplicate_titles_and_foreign_items() {
    let fake = ConnectFake::start();
    // Two aws-vault items with one title: refused when used, listed once.
    for secret in ["one", "two"] {
        fake.seed(go_connect_item(
            "aws-vault: dup",
            &go_item_json("dup", "AKIADUP0000000000001", secret),
        ));
    }
    // Someone else's items: a tagged API credential with its own secret next to a `keyring`
    // field, one without the tag, one of another category, one with another prefix.
    let mut foreign = go_connect_item("aws-vault: prod", "{}");
    foreign["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "c", "type": "CONCEALED", "label": "credential", "value": "theirs"}));
    let foreign_id = fake.seed(foreign);
    let mut untagged = go_connect_item("aws-vault: untagged", &go_item_json("untagged", "A", "B"));
    untagged["tags"] = json!(["other"]);
    fake.seed(untagged);
    let mut login = go_connect_item("aws-vault: login", &go_item_json("login", "A", "B"));
    login["category"] = json!("LOGIN");
    fake.seed(login);
    fake.seed(go_connect_item("other: x", &go_item_json("x", "A", "B")));

    let kr = fake.keyring();
    let mut keys = kr.keys().unwrap();
    keys.sort();
    assert_eq!(keys, ["dup", "prod"]);
    let err = kr.get("dup").unwrap_err().to_string();
    assert!(
        err.contains("found 2 1Password items titled \"aws-vault: dup\"") && err.contains(VAULT),
        "{err}"
    );
    assert!(kr.remove("dup").is_err());

    // The foreign item is never read, listed by `list`, replaced or deleted.
    assert!(matches!(kr.get("prod"), Err(keyring::Error::NotFound)));
    let s = fake.sandbox();
    let list = s.run(&["list", "--credentials"]).ok().stdout;
    assert_eq!(list, "dup\n");
    s.add("prod", "AKIAPROD000000000001", "prodsecret");
    let items = fake.items();
    let theirs = items
        .iter()
        .find(|i| i["id"] == foreign_id.as_str())
        .unwrap();
    assert_eq!(theirs["fields"][2]["value"], "theirs");
    let ours: Vec<&Value> = items
        .iter()
        .filter(|i| i["title"] == "aws-vault: prod" && i["id"] != foreign_id.as_str())
        .collect();
    assert_eq!(ours.len(), 1);
    assert_go_layout(ours[0], "aws-vault: prod");
    let env = s.run(&["export", "--no-session", "prod"]).ok().stdout;
    assert!(env.contains("AKIAPROD000000000001"), "{env}");
}

#[test]
fn connect_errors_say_what_is_wrong_and_never_show_the_token() {
    let fake = ConnectFake::start();
    let s = fake.sandbox();

    // Wrong token: 401, named as a token problem, without the token.
    let bad = "wrong-token-7d1e2b";
    let line = s.run_env(&["list"], &[("OP_CONNECT_TOKEN", bad)]).fails();
    assert!(line.contains("refused the token (401"), "{line}");
    assert!(line.contains("OP_CONNECT_TOKEN"), "{line}");
    assert!(!line.contains(bad), "{line}");
    // AWS_VAULT_OP_CONNECT_TOKEN wins over OP_CONNECT_TOKEN.
    s.run_env(
        &["list"],
        &[
            ("OP_CONNECT_TOKEN", bad),
            ("AWS_VAULT_OP_CONNECT_TOKEN", TOKEN),
        ],
    )
    .ok();

    // Unknown vault: 404 on the vault, named with the settings to check.
    let line = s
        .run_env(
            &["list"],
            &[("AWS_VAULT_OP_VAULT_ID", "zzzzzzzzzzzzzzzzzzzzzzzzzz")],
        )
        .fails();
    assert!(
        line.contains("vault \"zzzzzzzzzzzzzzzzzzzzzzzzzz\" not found"),
        "{line}"
    );
    assert!(line.contains("--op-vault-id"), "{line}");

    // Unreachable host: a loopback port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let line = s
        .run_env(
            &["list"],
            &[(
                "AWS_VAULT_OP_CONNECT_HOST",
                &format!("http://127.0.0.1:{port}"),
            )],
        )
        .fails();
    assert!(
        line.contains(&format!(
            "cannot reach the 1Password Connect server at http://127.0.0.1:{port}"
        )),
        "{line}"
    );

    // Missing settings are named, all at once.
    let mut bare = Sandbox::with_config(CONFIG);
    bare.set_env("AWS_VAULT_BACKEND", "op-connect");
    let line = bare.run(&["list"]).fails();
    assert!(
        line.contains("specified keyring backend not available: op-connect"),
        "{line}"
    );
    assert!(
        line.contains("OP_VAULT_ID") && line.contains("OP_CONNECT_HOST"),
        "{line}"
    );

    // With --debug too, the token appears nowhere.
    let out = s.run_env(&["--debug", "list"], &[("OP_CONNECT_TOKEN", bad)]);
    assert!(
        !out.stderr.contains(bad) && !out.stdout.contains(bad),
        "{}",
        out.stderr
    );
    let out = s.run(&["--debug", "list"]).ok();
    assert!(
        !out.stderr.contains(TOKEN) && !out.stdout.contains(TOKEN),
        "{}",
        out.stderr
    );
}

#[test]
fn connect_timeout_fires() {
    let fake = ConnectFake::start();
    fake.configure(json!({"delay": 5}));
    let s = fake.sandbox();
    let started = Instant::now();
    let line = s.run(&["--op-timeout", "500ms", "list"]).fails();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(
        line.contains("did not answer within 500ms (--op-timeout)"),
        "{line}"
    );
}

#[test]
fn connect_vault_given_by_name_is_looked_up_once() {
    let fake = ConnectFake::start();
    fake.seed(go_connect_item(
        "aws-vault: prod",
        &go_item_json("prod", "AKIAGOPROD0000000001", "gosecret"),
    ));
    let s = fake.sandbox();
    let env = s
        .run_env(
            &["export", "--no-session", "prod"],
            &[("AWS_VAULT_OP_VAULT_ID", "Automation")],
        )
        .ok()
        .stdout;
    assert!(env.contains("AKIAGOPROD0000000001"), "{env}");
    let lookups: Vec<Value> = fake
        .calls()
        .into_iter()
        .filter(|c| c["path"] == "/v1/vaults")
        .collect();
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0]["query"]["filter"], "name eq \"Automation\"");
}

/// The hot path (`export` of stored keys) costs one listing and one item fetch, however many
/// items the vault holds; the Go tool fetches every tagged item on each `Keys()`.
#[test]
fn connect_hot_path_is_one_listing_and_one_fetch() {
    let fake = ConnectFake::start();
    fake.seed(go_connect_item(
        "aws-vault: prod",
        &go_item_json("prod", "AKIAGOPROD0000000001", "gosecret"),
    ));
    for i in 0..20 {
        fake.seed(go_connect_item(
            &format!("aws-vault: other{i}"),
            &go_item_json(&format!("other{i}"), "A", "B"),
        ));
    }
    fake.clear_log();
    let s = fake.sandbox();
    s.run(&["export", "--no-session", "prod"]).ok();
    let calls: Vec<String> = fake
        .calls()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["method"].as_str().unwrap(),
                c["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0], format!("GET /v1/vaults/{VAULT}/items"));
    assert!(
        calls[1].starts_with(&format!("GET /v1/vaults/{VAULT}/items/")),
        "{calls:?}"
    );
    let list = &fake.calls()[0];
    assert_eq!(list["query"]["filter"], "tag eq \"aws-vault\"");

    // An id cached in the process that has gone meanwhile is noticed: the listing is read again.
    let kr = fake.keyring();
    assert!(kr.keys().unwrap().contains(&"prod".to_string()));
    let id = fake
        .items()
        .into_iter()
        .find(|i| i["title"] == "aws-vault: prod")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    agent()
        .delete(&format!("{}/v1/vaults/{VAULT}/items/{id}", fake.url()))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    fake.seed(go_connect_item(
        "aws-vault: prod",
        &go_item_json("prod", "AKIAREPLACED00000001", "new"),
    ));
    let item = kr.get("prod").unwrap();
    assert!(String::from_utf8_lossy(&item.data).contains("AKIAREPLACED00000001"));
}

#[test]
fn migrate_backend_between_file_and_op_connect() {
    let fake = ConnectFake::start();
    let mut s = fake.sandbox();
    s.set_env("AWS_VAULT_BACKEND", "file");
    s.add("prod", "AKIAPROD000000000001", "prodsecret");
    s.add("dev", "AKIADEV0000000000001", "devsecret");
    let out = s
        .run(&["migrate-backend", "--from", "file", "--to", "op-connect"])
        .ok()
        .stdout;
    assert!(
        out.contains("Migrating dev... copied, verified\nMigrating prod... copied, verified\n"),
        "{out}"
    );
    let mut titles: Vec<String> = fake
        .items()
        .iter()
        .map(|i| {
            assert_go_layout(i, i["title"].as_str().unwrap());
            i["title"].as_str().unwrap().to_string()
        })
        .collect();
    titles.sort();
    assert_eq!(titles, ["aws-vault: dev", "aws-vault: prod"]);

    // And back, into an empty key directory.
    std::fs::remove_dir_all(&s.keys).unwrap();
    let out = s
        .run(&["migrate-backend", "--from", "op-connect", "--to", "file"])
        .ok()
        .stdout;
    assert!(out.contains("copied: 2"), "{out}");
    let env = s.run(&["export", "--no-session", "dev"]).ok().stdout;
    assert!(
        env.contains("AWS_ACCESS_KEY_ID=AKIADEV0000000000001\n"),
        "{env}"
    );
}

// ---------------------------------------------------------------------------------------------
// op and op-desktop, through the stand-in `op`

/// The stand-in is a shell script wrapper: Unix only.
#[cfg(unix)]
mod op_cli {
    use super::*;

    struct FakeOp {
        dir: tempfile::TempDir,
    }

    impl FakeOp {
        /// `op` on a private PATH directory, with the given state (see fake_op.py).
        fn new(state: Value) -> FakeOp {
            let dir = tempfile::tempdir().unwrap();
            let bin = dir.path().join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            let op = bin.join("op");
            std::fs::write(
                &op,
                format!(
                    "#!/bin/sh\nexec python3 '{}' \"$@\"\n",
                    support("fake_op.py").display()
                ),
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&op, std::fs::Permissions::from_mode(0o755)).unwrap();
            let f = FakeOp { dir };
            f.write_state(state);
            std::fs::write(f.log(), "").unwrap();
            f
        }

        fn state_file(&self) -> PathBuf {
            self.dir.path().join("state.json")
        }

        fn log(&self) -> PathBuf {
            self.dir.path().join("op.log")
        }

        fn write_state(&self, state: Value) {
            std::fs::write(self.state_file(), state.to_string()).unwrap();
        }

        fn state(&self) -> Value {
            serde_json::from_str(&std::fs::read_to_string(self.state_file()).unwrap()).unwrap()
        }

        fn runs(&self) -> Vec<Value> {
            std::fs::read_to_string(self.log())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        }

        fn sandbox(&self, backend: &str) -> Sandbox {
            let mut s = Sandbox::with_config(CONFIG);
            let path = format!(
                "{}:{}",
                self.dir.path().join("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            );
            s.set_env("PATH", &path);
            s.set_env("AWS_VAULT_BACKEND", backend);
            s.set_env("AWS_VAULT_OP_VAULT_ID", "Automation");
            s.set_env("FAKE_OP_STATE", self.state_file().to_str().unwrap());
            s.set_env("FAKE_OP_LOG", self.log().to_str().unwrap());
            s
        }
    }

    const OP_VAULT: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvv";

    /// An item as `op item get --format json` shows one the Go tool created through the SDK.
    fn go_op_item(title: &str, value: &str) -> Value {
        json!({
            "id": format!("{:0<26}", title.len()),
            "title": title,
            "version": 1,
            "vault": {"id": OP_VAULT, "name": "Automation"},
            "category": "API_CREDENTIAL",
            "last_edited_by": "GOTOOL",
            "created_at": "2025-01-01T00:00:00Z",
            "updated_at": "2025-01-01T00:00:00Z",
            "tags": ["aws-vault"],
            "fields": [{"id": "gofield", "type": "CONCEALED", "label": "keyring", "value": value}]
        })
    }

    fn op_state(items: Vec<Value>, extra: Value) -> Value {
        let mut state = json!({
            "vaults": [{"id": OP_VAULT, "name": "Automation"}],
            "items": items,
            "token": SA_TOKEN,
        });
        for (k, v) in extra.as_object().unwrap() {
            state[k] = v.clone();
        }
        state
    }

    #[test]
    fn op_service_account_reads_and_writes_go_items_with_the_token_in_the_environment_only() {
        let op = FakeOp::new(op_state(
            vec![go_op_item(
                "aws-vault: prod",
                &go_item_json("prod", "AKIAGOPROD0000000001", "gosecret"),
            )],
            json!({}),
        ));
        let mut s = op.sandbox("op");
        s.set_env("OP_SERVICE_ACCOUNT_TOKEN", SA_TOKEN);
        // Connect variables in the environment must not reach `op`, which would use Connect.
        s.set_env("OP_CONNECT_HOST", "http://127.0.0.1:9");
        s.set_env("OP_CONNECT_TOKEN", "connect-should-not-leak");

        let env = s.run(&["export", "--no-session", "prod"]).ok().stdout;
        assert!(
            env.contains("AWS_ACCESS_KEY_ID=AKIAGOPROD0000000001\n"),
            "{env}"
        );
        s.add("dev", "AKIADEV0000000000001", "devsecret");
        let state = op.state();
        let dev = state["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["title"] == "aws-vault: dev")
            .unwrap();
        let stored = assert_go_layout(dev, "aws-vault: dev");
        assert_eq!(stored["Key"], "dev");
        assert_eq!(dev["vault"]["id"], OP_VAULT);

        // Replace keeps the item (`op item edit`); remove deletes it.
        let dev_id = dev["id"].clone();
        s.add("dev", "AKIADEV0000000000002", "devsecret2");
        let state = op.state();
        let devs: Vec<&Value> = state["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["title"] == "aws-vault: dev")
            .collect();
        assert_eq!(devs.len(), 1);
        assert_eq!(devs[0]["id"], dev_id);
        let creds = base64_decode(
            assert_go_layout(devs[0], "aws-vault: dev")["Data"]
                .as_str()
                .unwrap(),
        );
        assert!(String::from_utf8_lossy(&creds).contains("AKIADEV0000000000002"));
        s.run(&["remove", "--force", "dev"]).ok();
        assert!(!op.state()["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["title"] == "aws-vault: dev"));

        let runs = op.runs();
        assert!(runs.len() >= 4, "{runs:?}");
        for run in &runs {
            let argv = run["argv"].to_string();
            assert!(!argv.contains(SA_TOKEN), "token on a command line: {argv}");
            assert!(
                !argv.contains("devsecret") && !argv.contains("AKIADEV"),
                "secret on a command line: {argv}"
            );
            assert_eq!(run["env"]["OP_SERVICE_ACCOUNT_TOKEN"], true, "{run}");
            assert_eq!(run["env"]["OP_CONNECT_HOST"], false, "{run}");
            assert_eq!(run["env"]["OP_CONNECT_TOKEN"], false, "{run}");
        }
        // The value travelled on stdin of `op item create -`.
        let create = runs
            .iter()
            .find(|r| r["argv"][1] == "create")
            .expect("an op item create run");
        assert_eq!(create["argv"].as_array().unwrap().last().unwrap(), "-");
        assert!(create["stdin"]
            .as_str()
            .unwrap()
            .contains("\"label\":\"keyring\""));
    }

    #[test]
    fn op_bad_token_and_missing_token_are_clear() {
        let op = FakeOp::new(op_state(vec![], json!({})));
        let s = op.sandbox("op");
        let bad = "ops_wrong_token_4242";
        let line = s
            .run_env(&["list"], &[("AWS_VAULT_OP_SERVICE_ACCOUNT_TOKEN", bad)])
            .fails();
        assert!(line.contains("invalid service account token"), "{line}");
        assert!(line.contains("OP_SERVICE_ACCOUNT_TOKEN"), "{line}");
        assert!(!line.contains(bad), "{line}");
        // No token and no terminal to ask on.
        let line = s.run_detached(&["list"]).fails();
        assert!(
            line.contains("no token: set AWS_VAULT_OP_SERVICE_ACCOUNT_TOKEN"),
            "{line}"
        );
    }

    #[test]
    fn op_desktop_uses_op_desktop_account_id_and_no_token() {
        let op = FakeOp::new(op_state(
            vec![go_op_item(
                "aws-vault: prod",
                &go_item_json("prod", "AKIAGOPROD0000000001", "gosecret"),
            )],
            json!({"token": null, "account": "my.1password.com"}),
        ));
        let mut s = op.sandbox("op-desktop");
        // The fallback the Go tool never applied (docs/compatibility.md §7.16).
        s.set_env("OP_DESKTOP_ACCOUNT_ID", "my.1password.com");
        // A service-account token in the environment would switch `op` away from the desktop app.
        s.set_env("OP_SERVICE_ACCOUNT_TOKEN", SA_TOKEN);
        let env = s.run(&["export", "--no-session", "prod"]).ok().stdout;
        assert!(env.contains("AKIAGOPROD0000000001"), "{env}");
        for run in op.runs() {
            let argv: Vec<&str> = run["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert!(
                argv.windows(2)
                    .any(|w| w == ["--account", "my.1password.com"]),
                "{argv:?}"
            );
            assert_eq!(run["env"]["OP_SERVICE_ACCOUNT_TOKEN"], false, "{run}");
        }
        // The flag and AWS_VAULT_OP_DESKTOP_ACCOUNT_ID win over OP_DESKTOP_ACCOUNT_ID.
        let line = s
            .run_env(
                &["list"],
                &[("AWS_VAULT_OP_DESKTOP_ACCOUNT_ID", "other.1password.com")],
            )
            .fails();
        assert!(line.contains("other.1password.com"), "{line}");
        // Without any of the three, the error names them.
        let mut bare = op.sandbox("op-desktop");
        bare.set_env("AWS_VAULT_BACKEND", "op-desktop");
        let line = bare.run(&["list"]).fails();
        assert!(
            line.contains(
                "--op-desktop-account-id, AWS_VAULT_OP_DESKTOP_ACCOUNT_ID or OP_DESKTOP_ACCOUNT_ID"
            ),
            "{line}"
        );
    }

    #[test]
    fn op_missing_or_too_old_is_named() {
        let op = FakeOp::new(op_state(vec![], json!({"version": "2.20.1"})));
        let s = op.sandbox("op");
        let line = s
            .run_env(&["list"], &[("AWS_VAULT_OP_CMD", "/nonexistent/op")])
            .fails();
        assert!(
            line.contains("the 1Password CLI (/nonexistent/op) was not found"),
            "{line}"
        );
        assert!(line.contains("AWS_VAULT_OP_CMD"), "{line}");

        // The listing works on 2.20 but reading an item needs --reveal: the error says why.
        op.write_state(op_state(
            vec![go_op_item(
                "aws-vault: prod",
                &go_item_json("prod", "A", "B"),
            )],
            json!({"version": "2.20.1"}),
        ));
        let line = s
            .run_env(
                &["export", "--no-session", "prod"],
                &[("OP_SERVICE_ACCOUNT_TOKEN", SA_TOKEN)],
            )
            .fails();
        assert!(
            line.contains("is version 2.20.1; aws-vault needs 2.25.0 or later"),
            "{line}"
        );
    }

    #[test]
    fn op_timeout_fires_and_kills_op() {
        let op = FakeOp::new(op_state(vec![], json!({"delay": 10})));
        let s = op.sandbox("op");
        let started = Instant::now();
        let line = s
            .run_env(
                &["--op-timeout", "1s", "list"],
                &[("OP_SERVICE_ACCOUNT_TOKEN", SA_TOKEN)],
            )
            .fails();
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
        assert!(
            line.contains("op item list did not finish within 1s (--op-timeout)"),
            "{line}"
        );
        // A zero timeout is refused, as by the Go tool.
        let line = s
            .run_env(
                &["--op-timeout", "0s", "list"],
                &[("OP_SERVICE_ACCOUNT_TOKEN", SA_TOKEN)],
            )
            .fails();
        assert!(
            line.contains("--op-timeout must be a non-zero duration"),
            "{line}"
        );
    }
}
