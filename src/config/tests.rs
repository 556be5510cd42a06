//! Tests of the public config API: file handling and every resolution rule of docs/compatibility.md §2.
//! (Parser, duration, tag and append rules are tested beside their code.)

use std::path::Path;
use std::time::Duration;

use super::*;

const PATH: &str = "/h/.aws/config";

fn file(text: &str) -> ConfigFile {
    match ConfigFile::parse(Path::new(PATH), text) {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    }
}

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn resolve_with(text: &str, name: &str, env: &Env, base: &BaseValues) -> ProfileConfig {
    match file(text).resolve(name, env, base) {
        Ok(p) => p,
        Err(e) => panic!("resolving {name}: {e}"),
    }
}

fn resolve(text: &str, name: &str) -> ProfileConfig {
    resolve_with(text, name, &Env::new(), &BaseValues::default())
}

fn resolve_err(text: &str, name: &str, env: &Env) -> ConfigError {
    match file(text).resolve(name, env, &BaseValues::default()) {
        Ok(p) => panic!("expected an error, got {p:?}"),
        Err(e) => e,
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const HOUR: Duration = secs(3600);

/// aws-vault's own `exampleConfig` (vault/config_test.go).
const EXAMPLE: &str = "# an example profile file
[default]
region=us-west-2
output=json

[profile user2]
REGION=us-east-1
output=text

[profile withsource]
source_profile=user2
region=us-east-1

[profile withMFA]
source_profile=user2
Role_Arn=arn:aws:iam::4451234513441615400570:role/aws_admin
mfa_Serial=arn:aws:iam::1234513441:mfa/blah
Region=us-east-1
duration_seconds=1200
sts_regional_endpoints=legacy

[profile withendpointurl]
region=us-east-1
endpoint_url=https://localhost:1234

[profile testincludeprofile1]
region=us-east-1

[profile testincludeprofile2]
include_profile=testincludeprofile1

[profile with-sso-session]
sso_session = moon-sso
sso_account_id=123456
region = moon-1 # Different from sso region

[sso-session moon-sso]
sso_start_url = https://d-123456789.example.com/start
sso_region = moon-2  # Different from profile region
sso_registration_scopes = sso:account:access
";

/// The README chain used by docs/compatibility.md §3.2.
const README: &str = "[profile jonsmith]
mfa_serial = arn:aws:iam::111111111111:mfa/jonsmith
region = us-east-1

[profile foo-readonly]
source_profile = jonsmith
role_arn = arn:aws:iam::22222222222:role/ReadOnly

[profile foo-admin]
source_profile = jonsmith
role_arn = arn:aws:iam::22222222222:role/Administrator
mfa_serial = arn:aws:iam::111111111111:mfa/jonsmith

[profile bar-role1]
source_profile = jonsmith
role_arn = arn:aws:iam::333333333333:role/Role1
mfa_serial = arn:aws:iam::111111111111:mfa/jonsmith

[profile bar-role2]
source_profile = bar-role1
role_arn = arn:aws:iam::333333333333:role/Role2
mfa_serial = arn:aws:iam::111111111111:mfa/jonsmith
";

// ---------------------------------------------------------------- §2.1 location and creation

#[test]
fn config_path_prefers_non_empty_env() {
    let home = Path::new("/home/u");
    assert_eq!(
        config_path(&Env::new(), home),
        Path::new("/home/u/.aws/config")
    );
    assert_eq!(
        config_path(&env(&[("AWS_CONFIG_FILE", "")]), home),
        Path::new("/home/u/.aws/config")
    );
    assert_eq!(
        config_path(&env(&[("AWS_CONFIG_FILE", "~/x/cfg")]), home),
        Path::new("~/x/cfg"),
        "verbatim, no ~ expansion"
    );
}

#[test]
fn min_ttl_rules() {
    let cases: &[(Option<&str>, Duration)] = &[
        (None, secs(300)),
        (Some(""), secs(300)),
        (Some("junk"), secs(300)),
        (Some("600"), secs(300)),
        (Some("1d"), secs(300)),
        (Some("10m"), secs(600)),
        (Some("1h30m"), secs(5400)),
        (Some("0"), Duration::ZERO),
        (Some("-1m"), Duration::ZERO),
        (Some("1.5s"), Duration::from_millis(1500)),
    ];
    for (value, want) in cases {
        let e = match value {
            Some(v) => env(&[("AWS_MIN_TTL", v)]),
            None => Env::new(),
        };
        assert_eq!(min_ttl(&e), *want, "{value:?}");
    }
}

#[test]
fn load_creates_missing_dir_and_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join(".aws").join("config");
    let cfg = ConfigFile::load(&path).expect("load");
    assert!(cfg.profile_names().is_empty());
    assert_eq!(std::fs::read(&path).expect("read"), b"");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join(".aws"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    assert_eq!(cfg.path, path);
}

#[test]
fn load_creates_only_one_directory_level() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("a").join("b").join("config");
    let e = ConfigFile::load(&path).unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::Io);
    let dir = tmp.path().join("a").join("b");
    assert!(
        e.to_string().starts_with(&format!(
            "Error creating config directory {}: ",
            dir.display()
        )),
        "{e}"
    );
}

#[test]
fn load_reads_existing_file_and_reports_parse_errors_with_file_and_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("config");
    std::fs::write(&path, "[profile a]\nregion=x\n").expect("write");
    let cfg = ConfigFile::load(&path).expect("load");
    assert_eq!(cfg.profile_names(), vec!["a"]);

    std::fs::write(&path, "[profile a]\nregion=x\noops\n").expect("write");
    let e = ConfigFile::load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Error parsing config file {}: line 3: key-value delimiter not found: oops",
            path.display()
        )
    );
    assert_eq!((e.kind(), e.line()), (ConfigErrorKind::Parse, Some(3)));
    assert_eq!(e.path(), Some(path.as_path()));
}

#[test]
fn load_of_a_directory_names_the_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = ConfigFile::load(tmp.path()).unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::Io);
    assert!(
        e.to_string().contains(&tmp.path().display().to_string()),
        "{e}"
    );
}

#[test]
fn load_tolerates_invalid_utf8_and_utf16_bom() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("config");
    std::fs::write(&path, b"[profile a]\nregion=x\n# \xff\xfe\n").expect("write");
    assert_eq!(
        ConfigFile::load(&path).expect("load").profile_names(),
        vec!["a"]
    );
    std::fs::write(&path, b"\xff\xfe").expect("write");
    assert!(ConfigFile::load(&path)
        .expect("load")
        .profile_names()
        .is_empty());
}

#[test]
fn parse_error_message_format() {
    let e = ConfigFile::parse(Path::new(PATH), "[profile a\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error parsing config file /h/.aws/config: line 1: unclosed section: [profile a"
    );
}

// ---------------------------------------------------------------- §2.3 sections and names

#[test]
fn profile_names_in_file_order() {
    assert_eq!(
        file(EXAMPLE).profile_names(),
        vec![
            "default",
            "user2",
            "withsource",
            "withMFA",
            "withendpointurl",
            "testincludeprofile1",
            "testincludeprofile2",
            "with-sso-session",
        ]
    );
}

#[test]
fn default_is_listed_only_with_a_recognised_non_empty_key() {
    let cases: &[(&str, bool)] = &[
        ("[default]\noutput=json\n", false),
        ("[default]\n", false),
        ("[default]\nregion=\n", false),
        ("[default]\nduration_seconds=0\n", false),
        ("[default]\nduration_seconds=junk\n", false),
        (
            "[default]\naws_access_key_id=AKIA\ncredential_source=Ec2InstanceMetadata\n",
            false,
        ),
        ("[default]\nregion=us-west-2\n", true),
        ("[default]\nduration_seconds=900\n", true),
        ("[default]\nendpoint_url=http://x\n", true),
        ("[default]\nmfa_process=x\n", true),
        ("[default]\ns3=\n  a=1\n", false),
    ];
    for (text, listed) in cases {
        let names = file(text).profile_names();
        assert_eq!(names.contains(&"default".to_string()), *listed, "{text}");
    }
}

#[test]
fn upper_case_default_sections_are_not_the_default_profile() {
    // aws-vault's TestIniWithDEFAULTHeader
    let f = file("[DEFAULT]\nregion=us-east-1\n[default]\nregion=us-west-2\n[Default]\nregion=x\n");
    assert_eq!(f.profile_names(), vec!["default"]);
    assert_eq!(
        resolve("[DEFAULT]\nregion=us-east-1\n", "default").region,
        None
    );
}

#[test]
fn other_sections_are_not_profiles() {
    let f = file(
        "[sso-session s]\nsso_start_url=u\n[services x]\ns3 =\n  endpoint_url = y\n[plugins]\nk=v\n[profile p]\n[profile ]\n[profile default]\n[default]\nregion=r\n",
    );
    assert_eq!(f.profile_names(), vec!["p", "default"]);
}

#[test]
fn profile_name_is_everything_after_the_prefix() {
    let f = file("[profile  spaced]\nregion=x\n[profile Mixed.Case]\n");
    assert_eq!(f.profile_names(), vec![" spaced", "Mixed.Case"]);
    assert!(f.has_profile(" spaced"));
    assert!(!f.has_profile("spaced"));
    assert!(f.has_profile("Mixed.Case"));
    assert!(!f.has_profile("mixed.case"));
}

#[test]
fn has_profile_maps_default_to_default_section() {
    let f = file("[profile default]\nregion=a\n[profile x]\n");
    assert!(
        !f.has_profile("default"),
        "[profile default] is never used for default"
    );
    assert!(f.has_profile("x"));
    assert!(!f.has_profile("y"));
    // and resolution of default ignores [profile default] too
    assert_eq!(
        resolve("[profile default]\nregion=a\n", "default").region,
        None
    );
    let f = file("[default]\n");
    assert!(f.has_profile("default"));
}

#[test]
fn own_value_reads_only_the_own_section() {
    let f = file(
        "[default]\nsource_profile=d\n[profile base]\nsource_profile=b\n[profile a]\ninclude_profile=base\nempty=\n[profile corp]\nregion=eu\n[profile corp.prod]\n",
    );
    assert_eq!(f.own_value("a", "source_profile"), None);
    assert_eq!(f.own_value("base", "source_profile"), s("b"));
    assert_eq!(f.own_value("a", "INCLUDE_PROFILE"), s("base"));
    assert_eq!(f.own_value("a", "empty"), None);
    assert_eq!(f.own_value("nosuch", "region"), None);
    assert_eq!(f.own_value("default", "source_profile"), s("d"));
    // go-ini child-section inheritance still applies
    assert_eq!(f.own_value("corp.prod", "region"), s("eu"));
}

#[test]
fn sso_sessions_in_file_order() {
    let f = file(
        "[sso-session b]\nsso_start_url=https://b/start\n[profile x]\n[sso-session a]\nsso_region=r\n[sso-session a.sub]\n[sso-session ]\n",
    );
    assert_eq!(
        f.sso_sessions(),
        vec![
            ("b".to_string(), "https://b/start".to_string()),
            ("a".to_string(), String::new()),
            ("a.sub".to_string(), String::new()),
        ]
    );
}

// ---------------------------------------------------------------- §2.4/§2.5 resolution

#[test]
fn every_recognised_key_is_read() {
    let text = "[profile all]
mfa_serial = m
role_arn = r
external_id = e
region = reg
role_session_name = rsn
duration_seconds = 900
source_profile = src
include_profile = inc
sso_account_id = acct
sso_role_name = role
sso_start_url = https://sso/start
sso_region = sso-reg
web_identity_token_file = /tok
web_identity_token_process = cat /tok
sts_regional_endpoints = legacy
endpoint_url = http://localhost:4566
session_tags = a=1,b=2
transitive_session_tags = a
source_identity = me
credential_process = echo
mfa_process = otp
aws_access_key_id = IGNORED
credential_source = Environment
";
    let p = resolve(text, "all");
    let want = ProfileConfig {
        name: "all".into(),
        mfa_serial: s("m"),
        role_arn: s("r"),
        external_id: s("e"),
        region: s("reg"),
        role_session_name: s("rsn"),
        source_profile_name: s("src"),
        include_profile: s("inc"),
        sso_session: None,
        sso_start_url: s("https://sso/start"),
        sso_region: s("sso-reg"),
        sso_account_id: s("acct"),
        sso_role_name: s("role"),
        sso_registration_scopes: None,
        web_identity_token_file: s("/tok"),
        web_identity_token_process: s("cat /tok"),
        sts_regional_endpoints: s("legacy"),
        endpoint_url: s("http://localhost:4566"),
        session_tags: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
        transitive_session_tags: vec!["a".into()],
        source_identity: s("me"),
        credential_process: s("echo"),
        mfa_process: s("otp"),
        assume_role_duration: secs(900),
        get_session_token_duration: HOUR,
        chained_get_session_token_duration: secs(8 * 3600),
        get_federation_token_duration: HOUR,
        source: p.source.clone(),
        chained_from: None,
    };
    assert_eq!(p, want);
    let src = p.source.as_deref().expect("source resolved");
    assert_eq!(src.name, "src");
    assert_eq!(src.chained_from, s("all"));
    // inherited from the profile that uses it
    assert_eq!(src.mfa_process, None);
}

#[test]
fn example_config_profiles() {
    let p = resolve(EXAMPLE, "withMFA");
    assert_eq!(p.mfa_serial, s("arn:aws:iam::1234513441:mfa/blah"));
    assert_eq!(
        p.role_arn,
        s("arn:aws:iam::4451234513441615400570:role/aws_admin")
    );
    assert_eq!(p.region, s("us-east-1"));
    assert_eq!(p.assume_role_duration, secs(1200));
    assert_eq!(p.sts_regional_endpoints, s("legacy"));
    let src = p.source.as_deref().expect("user2");
    assert_eq!(
        (src.name.as_str(), src.region.as_deref()),
        ("user2", Some("us-east-1"))
    );

    assert_eq!(
        resolve(EXAMPLE, "withendpointurl").endpoint_url,
        s("https://localhost:1234")
    );
    // TestIncludeProfile
    assert_eq!(
        resolve(EXAMPLE, "testincludeprofile2").region,
        s("us-east-1")
    );
    // TestIncludeSsoSession
    let p = resolve(EXAMPLE, "with-sso-session");
    assert_eq!(p.region, s("moon-1"));
    assert_eq!(p.sso_start_url, s("https://d-123456789.example.com/start"));
    assert_eq!(p.sso_region, s("moon-2"));
    assert_eq!(p.sso_registration_scopes, s("sso:account:access"));
    assert_eq!(p.sso_session, s("moon-sso"));
    assert_eq!(p.sso_account_id, s("123456"));
    // default fallback
    assert_eq!(resolve(EXAMPLE, "withsource").region, s("us-east-1"));
    assert_eq!(resolve(EXAMPLE, "nosuch").region, s("us-west-2"));
}

#[test]
fn readme_chain() {
    let p = resolve(README, "bar-role2");
    assert_eq!(p.name, "bar-role2");
    assert_eq!(p.chained_from, None);
    assert_eq!(p.role_arn, s("arn:aws:iam::333333333333:role/Role2"));
    assert_eq!(p.source_profile_name, s("bar-role1"));
    let r1 = p.source.as_deref().expect("bar-role1");
    assert_eq!(r1.name, "bar-role1");
    assert_eq!(r1.chained_from, s("bar-role2"));
    assert_eq!(r1.role_arn, s("arn:aws:iam::333333333333:role/Role1"));
    let jon = r1.source.as_deref().expect("jonsmith");
    assert_eq!(jon.name, "jonsmith");
    assert_eq!(jon.chained_from, s("bar-role1"));
    assert_eq!(jon.mfa_serial, s("arn:aws:iam::111111111111:mfa/jonsmith"));
    assert_eq!(jon.role_arn, None);
    assert!(jon.source.is_none());
    assert!(jon.is_chained());
    assert_eq!(jon.session_token_duration(), secs(8 * 3600));

    let ro = resolve(README, "foo-readonly");
    assert_eq!(ro.mfa_serial, None);
    assert_eq!(
        ro.region, None,
        "regions are not inherited from the source profile"
    );
    assert_eq!(
        ro.source.as_deref().map(|p| p.region.clone()),
        Some(s("us-east-1"))
    );

    let jon = resolve(README, "jonsmith");
    assert!(!jon.is_chained());
    assert_eq!(jon.session_token_duration(), HOUR);
    assert_eq!(jon.assume_role_duration, HOUR);
}

#[test]
fn missing_profile_is_not_an_error() {
    let p = resolve("[default]\nregion=r\n", "ghost");
    assert_eq!((p.name.as_str(), p.region.as_deref()), ("ghost", Some("r")));
    let p = resolve("", "ghost");
    assert_eq!(p.region, None);
    assert_eq!(p.assume_role_duration, HOUR);
}

#[test]
fn default_fallback_and_include_order() {
    let text = "[default]
region = def-region
mfa_serial = def-mfa
external_id = def-ext
[profile base]
region = base-region
role_session_name = base-rsn
[profile mid]
include_profile = base
external_id = mid-ext
[profile top]
include_profile = mid
role_arn = top-role
";
    let p = resolve(text, "top");
    assert_eq!(p.role_arn, s("top-role"));
    assert_eq!(p.external_id, s("mid-ext"));
    assert_eq!(p.region, s("base-region"));
    assert_eq!(p.role_session_name, s("base-rsn"));
    // the include chain ends in [default]
    assert_eq!(p.mfa_serial, s("def-mfa"));
    assert_eq!(p.include_profile, s("mid"));

    // an explicit include of default ends the walk there
    let p = resolve(
        "[default]\nregion=d\n[profile a]\ninclude_profile=default\n",
        "a",
    );
    assert_eq!(p.region, s("d"));

    // default itself does not walk anywhere
    let p = resolve("[default]\n[profile x]\nregion=nope\n", "default");
    assert_eq!(p.region, None);
}

#[test]
fn empty_values_do_not_block_later_levels() {
    let text = "[default]\nregion=d\n[profile a]\nregion=\nrole_arn=\"\"\n";
    let p = resolve(text, "a");
    assert_eq!(p.region, s("d"));
    assert_eq!(p.role_arn, None);
}

#[test]
fn include_loops_are_detected() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[profile a]\ninclude_profile=b\n[profile b]\ninclude_profile=a\n",
            "a",
            "a",
        ),
        ("[profile a]\ninclude_profile=a\n", "a", "a"),
        (
            "[profile a]\ninclude_profile=b\n[profile b]\ninclude_profile=c\n[profile c]\ninclude_profile=b\n",
            "a",
            "b",
        ),
        // Go's walk: default -> base -> (not default, so) default again
        (
            "[default]\ninclude_profile=base\n[profile base]\nregion=r\n",
            "x",
            "default",
        ),
        (
            "[default]\ninclude_profile=default\n",
            "default",
            "default",
        ),
    ];
    for (text, name, looped) in cases {
        let e = resolve_err(text, name, &Env::new());
        assert_eq!(e.kind(), ConfigErrorKind::Loop);
        assert_eq!(
            e.to_string(),
            format!("Loop detected in config file for profile '{looped}'"),
            "{text}"
        );
    }
}

#[test]
fn long_include_chain_does_not_overflow() {
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&format!("[profile p{i}]\ninclude_profile=p{}\n", i + 1));
    }
    text.push_str("[profile p5000]\nregion=deep\n");
    assert_eq!(resolve(&text, "p0").region, s("deep"));
}

#[test]
fn source_profile_cycles_are_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[profile a]\nsource_profile=b\n[profile b]\nsource_profile=a\n",
            "a",
            "a",
        ),
        (
            "[profile a]\nsource_profile=b\n[profile b]\nsource_profile=c\n[profile c]\nsource_profile=b\n",
            "a",
            "b",
        ),
        // a cycle reached through [default]
        (
            "[default]\nsource_profile=a\n[profile a]\nsource_profile=b\n[profile b]\n",
            "b",
            "b",
        ),
    ];
    for (text, name, looped) in cases {
        let e = resolve_err(text, name, &Env::new());
        assert_eq!(e.kind(), ConfigErrorKind::Loop, "{text}");
        assert_eq!(
            e.to_string(),
            format!("Loop detected in config file for profile '{looped}'")
        );
    }
}

#[test]
fn source_chain_length_is_capped() {
    let mut text = String::new();
    for i in 0..MAX_SOURCE_CHAIN + 5 {
        text.push_str(&format!("[profile p{i}]\nsource_profile=p{}\n", i + 1));
    }
    let e = resolve_err(&text, "p0", &Env::new());
    assert_eq!(e.kind(), ConfigErrorKind::ChainTooLong);
    assert_eq!(
        e.to_string(),
        format!("source_profile chain for profile 'p0' is longer than {MAX_SOURCE_CHAIN} profiles")
    );
    // a long but allowed chain resolves
    let p = resolve(&text, &format!("p{}", 10));
    let mut depth = 0;
    let mut cur = Some(&p);
    while let Some(c) = cur {
        depth += 1;
        cur = c.source.as_deref();
    }
    // p10 ..= p(MAX+5): the last one has no section and no source
    assert_eq!(depth, MAX_SOURCE_CHAIN - 4);
}

#[test]
fn self_referencing_source_profile_is_cleared() {
    // aws-vault's TestLoadedProfileDoesntReferToItself
    let f = file("\n[profile foo]\nsource_profile=foo\n");
    assert_eq!(f.own_value("foo", "source_profile"), s("foo"));
    let p = resolve("\n[profile foo]\nsource_profile=foo\n", "foo");
    assert_eq!(p.source_profile_name, None);
    assert!(p.source.is_none());

    // ... even when the self reference comes from [default]
    let p = resolve("[default]\nsource_profile=default\n", "default");
    assert_eq!(p.source_profile_name, None);
    // the own self reference blocks a later level's source_profile (Go keeps the first value)
    let p = resolve(
        "[default]\nsource_profile=other\n[profile foo]\nsource_profile=foo\n",
        "foo",
    );
    assert_eq!(p.source_profile_name, None);
}

#[test]
fn source_profile_can_refer_to_included_profile() {
    // aws-vault's TestSourceProfileCanReferToParent
    let p = resolve(
        "\n[profile root]\n\n[profile foo]\ninclude_profile=root\nsource_profile=root\n",
        "foo",
    );
    assert_eq!(p.source_profile_name, s("root"));
    assert_eq!(p.source.as_deref().map(|s| s.name.as_str()), Some("root"));
}

#[test]
fn source_profile_from_default_applies_to_other_profiles() {
    let p = resolve(
        "[default]\nsource_profile=base\n[profile base]\n[profile x]\n",
        "x",
    );
    assert_eq!(p.source_profile_name, s("base"));
    // base itself falls back to default too, but that names itself and is cleared
    let base = p.source.as_deref().expect("base");
    assert_eq!(base.source_profile_name, None);
}

#[test]
fn mfa_process_is_inherited_from_source() {
    let text = "[profile root]\nmfa_process = otp root\n[profile mid]\nsource_profile=root\n[profile top]\nsource_profile=mid\n[profile own]\nsource_profile=root\nmfa_process=otp own\n";
    let top = resolve(text, "top");
    assert_eq!(top.mfa_process, s("otp root"));
    assert_eq!(
        top.source.as_deref().and_then(|m| m.mfa_process.clone()),
        s("otp root")
    );
    let own = resolve(text, "own");
    assert_eq!(own.mfa_process, s("otp own"));
    assert_eq!(
        own.source.as_deref().and_then(|m| m.mfa_process.clone()),
        s("otp root")
    );
}

#[test]
fn dotted_profile_names_inherit_parent_sections() {
    let text = "[profile corp]\nregion = eu-west-1\nrole_arn = arn:corp\nmfa_serial = m\n[profile corp.prod]\nrole_arn = arn:prod\n";
    let p = resolve(text, "corp.prod");
    assert_eq!(p.role_arn, s("arn:prod"));
    assert_eq!(p.region, s("eu-west-1"));
    assert_eq!(p.mfa_serial, s("m"));
    // no parent section: nothing inherited
    assert_eq!(resolve("[profile x.y]\n", "x.y").region, None);
}

#[test]
fn interpolation_in_profiles() {
    let text = "account = 123456789012\n[profile a]\nrole = Admin\nrole_arn = arn:aws:iam::%(account)s:role/%(role)s\n";
    assert_eq!(
        resolve(text, "a").role_arn,
        s("arn:aws:iam::123456789012:role/Admin")
    );
}

// ---------------------------------------------------------------- durations

#[test]
fn duration_precedence() {
    let text = "[default]\nduration_seconds = 1800\n[profile withds]\nduration_seconds = 900\n[profile plain]\n";
    let none = Env::new();
    let ttl = env(&[("AWS_ASSUME_ROLE_TTL", "20m")]);
    let flag = BaseValues {
        duration: Some(secs(7200)),
        ..Default::default()
    };
    let cases: &[(&str, &Env, &BaseValues, Duration)] = &[
        ("withds", &ttl, &flag, secs(7200)),
        ("withds", &ttl, &BaseValues::default(), secs(1200)),
        ("withds", &none, &BaseValues::default(), secs(900)),
        ("plain", &none, &BaseValues::default(), secs(1800)),
        ("plain", &ttl, &BaseValues::default(), secs(1200)),
    ];
    for (name, e, base, want) in cases {
        assert_eq!(
            resolve_with(text, name, e, base).assume_role_duration,
            *want,
            "{name}"
        );
    }
    assert_eq!(resolve("[profile x]\n", "x").assume_role_duration, HOUR);
}

#[test]
fn duration_seconds_only_affects_assume_role() {
    let p = resolve("[profile a]\nduration_seconds=7200\n", "a");
    assert_eq!(p.assume_role_duration, secs(7200));
    assert_eq!(p.get_session_token_duration, HOUR);
    assert_eq!(p.chained_get_session_token_duration, secs(8 * 3600));
    assert_eq!(p.get_federation_token_duration, HOUR);
}

#[test]
fn duration_seconds_with_units_and_garbage() {
    let text = "[default]\nduration_seconds=1800\n[profile unit]\nduration_seconds=1h\n[profile secs]\nduration_seconds=3600s\n[profile junk]\nduration_seconds=soon\n[profile zero]\nduration_seconds=0\n[profile hex]\nduration_seconds=0x384\n";
    let cases: &[(&str, Duration)] = &[
        ("unit", HOUR),
        ("secs", HOUR),
        ("junk", secs(1800)),
        ("zero", secs(1800)),
        ("hex", secs(900)),
    ];
    for (name, want) in cases {
        assert_eq!(resolve(text, name).assume_role_duration, *want, "{name}");
    }
}

#[test]
fn flag_duration_fills_session_durations() {
    let base = BaseValues {
        duration: Some(secs(5400)),
        ..Default::default()
    };
    let p = resolve_with(
        "[profile a]\nduration_seconds=900\n",
        "a",
        &Env::new(),
        &base,
    );
    assert_eq!(p.assume_role_duration, secs(5400));
    assert_eq!(p.get_session_token_duration, secs(5400));
    assert_eq!(p.chained_get_session_token_duration, secs(5400));
    assert_eq!(p.get_federation_token_duration, HOUR);

    let login = BaseValues {
        duration_sets_federation: true,
        ..base.clone()
    };
    let p = resolve_with("", "a", &Env::new(), &login);
    assert_eq!(p.get_federation_token_duration, secs(5400));

    // a zero duration flag means "not given"
    let zero = BaseValues {
        duration: Some(Duration::ZERO),
        ..Default::default()
    };
    let p = resolve_with(
        "[profile a]\nduration_seconds=900\n",
        "a",
        &Env::new(),
        &zero,
    );
    assert_eq!(p.assume_role_duration, secs(900));
    assert_eq!(p.get_session_token_duration, HOUR);
}

#[test]
fn ttl_env_vars() {
    let e = env(&[
        ("AWS_SESSION_TOKEN_TTL", "2h"),
        ("AWS_CHAINED_SESSION_TOKEN_TTL", "12h"),
        ("AWS_FEDERATION_TOKEN_TTL", "30m"),
        ("AWS_ASSUME_ROLE_TTL", "45m"),
    ]);
    let text = "[profile src]\n[profile a]\nsource_profile=src\n";
    let p = resolve_with(text, "a", &e, &BaseValues::default());
    assert_eq!(p.get_session_token_duration, secs(7200));
    assert_eq!(p.chained_get_session_token_duration, secs(12 * 3600));
    assert_eq!(p.get_federation_token_duration, secs(1800));
    assert_eq!(p.assume_role_duration, secs(2700));
    // TTLs apply to every profile of the chain
    let src = p.source.as_deref().expect("src");
    assert_eq!(src.chained_get_session_token_duration, secs(12 * 3600));
    assert_eq!(src.assume_role_duration, secs(2700));

    // unparseable, zero, negative and day-unit values are ignored
    for bad in ["junk", "0", "-1h", "1d", "3600"] {
        let e = env(&[("AWS_ASSUME_ROLE_TTL", bad), ("AWS_SESSION_TOKEN_TTL", bad)]);
        let p = resolve_with(
            "[profile a]\nduration_seconds=900\n",
            "a",
            &e,
            &BaseValues::default(),
        );
        assert_eq!(p.assume_role_duration, secs(900), "{bad}");
        assert_eq!(p.get_session_token_duration, HOUR, "{bad}");
    }
}

// ---------------------------------------------------------------- §2.6 environment

#[test]
fn env_overrides_for_all_profiles_of_the_chain() {
    let text = "[profile src]\nregion = src-file\nmfa_serial = src-mfa\n[profile a]\nsource_profile = src\nregion = a-file\n";
    let e = env(&[
        ("AWS_REGION", "env-region"),
        ("AWS_DEFAULT_REGION", "env-default-region"),
        ("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
        ("AWS_ENDPOINT_URL", "http://localhost:4566"),
        ("AWS_MFA_SERIAL", "env-mfa"),
    ]);
    let p = resolve_with(text, "a", &e, &BaseValues::default());
    let src = p.source.as_deref().expect("src");
    for c in [&p, src] {
        assert_eq!(c.region, s("env-region"), "{}", c.name);
        assert_eq!(c.sts_regional_endpoints, s("regional"));
        assert_eq!(c.endpoint_url, s("http://localhost:4566"));
        assert_eq!(c.mfa_serial, s("env-mfa"), "env beats the file");
    }
}

#[test]
fn region_precedence() {
    let text = "[profile a]\nregion = file\n";
    let flag = BaseValues {
        region: s("flag"),
        ..Default::default()
    };
    let both = env(&[("AWS_REGION", "r"), ("AWS_DEFAULT_REGION", "dr")]);
    let only_default = env(&[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "dr")]);
    assert_eq!(resolve_with(text, "a", &both, &flag).region, s("flag"));
    assert_eq!(
        resolve_with(text, "a", &both, &BaseValues::default()).region,
        s("r")
    );
    assert_eq!(
        resolve_with(text, "a", &only_default, &BaseValues::default()).region,
        s("dr")
    );
    assert_eq!(resolve(text, "a").region, s("file"));
    // an empty --region is "not given"
    let empty_flag = BaseValues {
        region: s(""),
        ..Default::default()
    };
    assert_eq!(
        resolve_with(text, "a", &Env::new(), &empty_flag).region,
        s("file")
    );
}

#[test]
fn active_only_env_overrides_skip_source_profiles() {
    let text = "[profile base]\n[profile interim]\nsession_tags=tag1=value1\ntransitive_session_tags=tag2\nsource_profile = base\n[profile target]\nsession_tags=tagA=valueA\ntransitive_session_tags=tagB\nsource_profile = interim\n";
    let e = env(&[
        ("AWS_ROLE_ARN", "arn:env"),
        ("AWS_ROLE_SESSION_NAME", "env-session"),
        ("AWS_SESSION_TAGS", "tagI=valI"),
        ("AWS_TRANSITIVE_TAGS", " tagII"),
        ("AWS_SOURCE_IDENTITY", "env-id"),
    ]);
    let p = resolve_with(text, "target", &e, &BaseValues::default());
    assert_eq!(p.role_arn, s("arn:env"));
    assert_eq!(p.role_session_name, s("env-session"));
    assert_eq!(
        p.session_tags,
        vec![("tagI".to_string(), "valI".to_string())]
    );
    assert_eq!(p.transitive_session_tags, vec!["tagII".to_string()]);
    assert_eq!(p.source_identity, s("env-id"));

    let interim = p.source.as_deref().expect("interim");
    assert_eq!(interim.role_arn, None);
    assert_eq!(interim.role_session_name, None);
    assert_eq!(
        interim.session_tags,
        vec![("tag1".to_string(), "value1".to_string())]
    );
    assert_eq!(interim.transitive_session_tags, vec!["tag2".to_string()]);
    assert_eq!(interim.source_identity, None);
    let base = interim.source.as_deref().expect("base");
    assert_eq!(base.role_arn, None);
    assert!(base.session_tags.is_empty());
}

#[test]
fn env_beats_the_file_for_role_arn() {
    // env fills still-empty fields before the file is read, so it wins over the file
    let p = resolve_with(
        "[profile a]\nrole_arn=file\n",
        "a",
        &env(&[("AWS_ROLE_ARN", "env")]),
        &BaseValues::default(),
    );
    assert_eq!(p.role_arn, s("env"));
}

#[test]
fn session_tags_from_file_and_env() {
    // aws-vault's TestSessionTaggingFromIni / FromEnvironment
    let text = "\n[profile tagged]\nsession_tags = tag1 = value1 , tag2=value2 ,tag3=value3\ntransitive_session_tags = tagOne ,tagTwo,tagThree\n";
    let p = resolve(text, "tagged");
    assert_eq!(
        p.session_tags,
        vec![
            ("tag1".to_string(), "value1".to_string()),
            ("tag2".to_string(), "value2".to_string()),
            ("tag3".to_string(), "value3".to_string()),
        ]
    );
    assert_eq!(
        p.transitive_session_tags,
        vec!["tagOne", "tagTwo", "tagThree"]
    );

    let e = env(&[
        ("AWS_SESSION_TAGS", " tagA = val1 , tagB=val2 ,tagC=val3"),
        ("AWS_TRANSITIVE_TAGS", " tagD ,tagE"),
    ]);
    let p = resolve_with(text, "tagged", &e, &BaseValues::default());
    assert_eq!(
        p.session_tags,
        vec![
            ("tagA".to_string(), "val1".to_string()),
            ("tagB".to_string(), "val2".to_string()),
            ("tagC".to_string(), "val3".to_string()),
        ]
    );
    assert_eq!(p.transitive_session_tags, vec!["tagD", "tagE"]);
}

#[test]
fn session_tags_first_level_wins() {
    let text = "[default]\nsession_tags=d=1\ntransitive_session_tags=dt\n[profile a]\n[profile b]\nsession_tags=b=2\ntransitive_session_tags=,\n";
    let a = resolve(text, "a");
    assert_eq!(a.session_tags, vec![("d".to_string(), "1".to_string())]);
    assert_eq!(a.transitive_session_tags, vec!["dt"]);
    let b = resolve(text, "b");
    assert_eq!(b.session_tags, vec![("b".to_string(), "2".to_string())]);
    // "," yields no tags, so a later level may still fill them (Go's nil check)
    assert_eq!(b.transitive_session_tags, vec!["dt"]);
}

#[test]
fn invalid_session_tags_are_errors() {
    let e = resolve_err("[profile a]\nsession_tags=oops\n", "a", &Env::new());
    assert_eq!(e.kind(), ConfigErrorKind::SessionTags);
    assert_eq!(
        e.to_string(),
        "Failed to parse session_tags profile setting: session tags string must be <key1>=<value1>,[<key2>=<value2>[,...]]"
    );
    // from [default] too
    let e = resolve_err("[default]\nsession_tags=a=1,\n", "x", &Env::new());
    assert_eq!(e.kind(), ConfigErrorKind::SessionTags);

    let e = resolve_err("[profile a]\n", "a", &env(&[("AWS_SESSION_TAGS", "a=1,b")]));
    assert_eq!(
        e.to_string(),
        "Failed to parse AWS_SESSION_TAGS environment variable: session tags string must be <key1>=<value1>,[<key2>=<value2>[,...]]"
    );
    // env tags win over a bad file value, which is then never parsed
    let p = resolve_with(
        "[profile a]\nsession_tags=oops\n",
        "a",
        &env(&[("AWS_SESSION_TAGS", "k=v")]),
        &BaseValues::default(),
    );
    assert_eq!(p.session_tags, vec![("k".to_string(), "v".to_string())]);
}

#[test]
fn empty_env_values_are_ignored() {
    let e = env(&[
        ("AWS_REGION", ""),
        ("AWS_ROLE_ARN", ""),
        ("AWS_SESSION_TAGS", ""),
        ("AWS_MFA_SERIAL", ""),
    ]);
    let p = resolve_with(
        "[profile a]\nregion=f\nmfa_serial=m\n",
        "a",
        &e,
        &BaseValues::default(),
    );
    assert_eq!(p.region, s("f"));
    assert_eq!(p.role_arn, None);
    assert!(p.session_tags.is_empty());
    assert_eq!(p.mfa_serial, s("m"));
}

#[test]
fn base_values_apply_to_every_profile() {
    let base = BaseValues {
        region: s("flag-region"),
        ..Default::default()
    };
    let p = resolve_with(README, "bar-role2", &Env::new(), &base);
    let mut cur = Some(&p);
    while let Some(c) = cur {
        assert_eq!(c.region, s("flag-region"), "{}", c.name);
        cur = c.source.as_deref();
    }
}

// ---------------------------------------------------------------- SSO sessions

const SSO: &str = "[default]
sso_session = corp
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start/#/
sso_region = eu-west-1
sso_registration_scopes = sso:account:access
[sso-session other]
sso_start_url = https://other.awsapps.com/start
[profile inline]
sso_start_url = https://inline.awsapps.com/start
sso_region = us-east-2
sso_account_id = 111
sso_role_name = Admin
[profile both]
sso_session = other
sso_start_url = https://inline.awsapps.com/start
sso_region = us-east-2
[profile session-only]
sso_session = other
[profile missing-session]
sso_session = nope
sso_start_url = https://inline.awsapps.com/start
[profile bare]
sso_account_id = 222
[profile inc]
include_profile = session-only
[profile inline-region-only]
sso_region = ap-south-1
";

#[test]
fn sso_session_section_beats_inline_values_at_the_same_level() {
    let p = resolve(SSO, "both");
    assert_eq!(p.sso_session, s("other"));
    assert_eq!(p.sso_start_url, s("https://other.awsapps.com/start"));
    // the session has no sso_region (overwritten with empty), so the inline one fills it
    assert_eq!(p.sso_region, s("us-east-2"));
    assert_eq!(p.sso_registration_scopes, None);
}

#[test]
fn sso_session_values() {
    let p = resolve(SSO, "session-only");
    assert_eq!(p.sso_session, s("other"));
    assert_eq!(p.sso_start_url, s("https://other.awsapps.com/start"));
    assert_eq!(
        p.sso_region, None,
        "not from [default]'s session: the session is decided"
    );

    let p = resolve(SSO, "inc");
    assert_eq!(p.sso_session, s("other"));
    assert_eq!(p.sso_start_url, s("https://other.awsapps.com/start"));
}

#[test]
fn missing_sso_session_section_is_ignored() {
    let p = resolve(SSO, "missing-session");
    assert_eq!(p.sso_session, s("nope"));
    assert_eq!(p.sso_start_url, s("https://inline.awsapps.com/start"));
}

#[test]
fn inline_start_url_is_not_overridden_by_default_session() {
    // docs/compatibility.md §7.6 fix: [default]'s sso_session must not replace the profile's inline URL
    let p = resolve(SSO, "inline");
    assert_eq!(p.sso_start_url, s("https://inline.awsapps.com/start"));
    assert_eq!(p.sso_region, s("us-east-2"));
    assert_eq!(p.sso_session, None);
    assert_eq!(p.sso_registration_scopes, None);
    assert_eq!(p.sso_account_id, s("111"));
}

#[test]
fn profile_without_sso_settings_inherits_default_session() {
    let p = resolve(SSO, "bare");
    assert_eq!(p.sso_session, s("corp"));
    assert_eq!(p.sso_start_url, s("https://corp.awsapps.com/start/#/"));
    assert_eq!(p.sso_region, s("eu-west-1"));
    assert_eq!(p.sso_registration_scopes, s("sso:account:access"));
    assert_eq!(p.sso_account_id, s("222"));
    // an inline region alone does not stop the default session (Go overwrites it)
    let p = resolve(SSO, "inline-region-only");
    assert_eq!(p.sso_start_url, s("https://corp.awsapps.com/start/#/"));
    assert_eq!(p.sso_region, s("eu-west-1"));
}

#[test]
fn dotted_sso_session_inherits_parent_session() {
    let text = "[sso-session corp]\nsso_start_url=https://corp/start\nsso_region=eu\n[sso-session corp.dev]\nsso_region=us\n[profile p]\nsso_session=corp.dev\n";
    let p = resolve(text, "p");
    assert_eq!(p.sso_start_url, s("https://corp/start"));
    assert_eq!(p.sso_region, s("us"));
}

#[test]
fn sso_start_url_for_list_and_clear() {
    let f = file(SSO);
    let cases: &[(&str, Option<&str>)] = &[
        ("both", Some("https://other.awsapps.com/start")),
        ("inline", Some("https://inline.awsapps.com/start")),
        ("session-only", Some("https://other.awsapps.com/start")),
        ("inc", Some("https://other.awsapps.com/start")),
        ("bare", Some("https://corp.awsapps.com/start/#/")),
        ("ghost", Some("https://corp.awsapps.com/start/#/")),
        ("default", Some("https://corp.awsapps.com/start/#/")),
    ];
    for (name, want) in cases {
        assert_eq!(f.sso_start_url_for(name).as_deref(), *want, "{name}");
    }
    assert_eq!(file("[profile a]\n").sso_start_url_for("a"), None);
}

#[test]
fn sso_start_url_for_survives_loops_and_bad_tags() {
    let f = file("[profile a]\nsession_tags=bad\ninclude_profile=b\n[profile b]\ninclude_profile=a\nsso_start_url=https://b/start\n");
    assert!(f.resolve("a", &Env::new(), &BaseValues::default()).is_err());
    assert_eq!(f.sso_start_url_for("a"), s("https://b/start"));
}

#[test]
fn no_panics_on_odd_profiles() {
    let texts = [
        "",
        "[profile ]\nsource_profile=\n",
        "[profile .]\nsource_profile=.\n",
        "[default]\ninclude_profile=\n",
        "[profile a]\nsso_session=\n[sso-session ]\n",
        "[profile a]\nduration_seconds=99999999999999999999999h\n",
        "[profile a]\nsource_profile=%(source_profile)s\n",
    ];
    for text in texts {
        let f = file(text);
        for name in ["", "a", ".", "default", "x"] {
            let _ = f.resolve(name, &Env::new(), &BaseValues::default());
            let _ = f.sso_start_url_for(name);
            let _ = f.profile_names();
        }
    }
}

// ---- Linear resolution (what `list` does, on files built to be slow) ----

/// The config work `list` does: parse, list the profiles, find every profile's start URL.
/// Returns the units of [`work`] it took.
fn list_work(text: &str) -> u64 {
    work::take();
    let f = file(text);
    let profiles = f.profile_names();
    let urls = f.sso_start_urls_for(&profiles);
    assert_eq!(urls.len(), profiles.len());
    work::take()
}

/// `p0` includes `p1` ... includes `p{n-1}`, which names an SSO session.
fn include_chain(n: usize) -> String {
    let mut text = String::from("[sso-session s]\nsso_start_url = https://s/start\n");
    for i in 0..n {
        if i + 1 < n {
            text.push_str(&format!("[profile p{i}]\ninclude_profile = p{}\n", i + 1));
        } else {
            text.push_str(&format!("[profile p{i}]\nsso_session = s\n"));
        }
    }
    text
}

/// `[profile a]`, `[profile a.a]`, `[profile a.a.a]`, ...: each inherits from the one before.
fn nested_sections(n: usize) -> String {
    let mut text = String::new();
    let mut name = String::from("a");
    for i in 0..n {
        text.push_str(&format!("[profile {name}]\nk{i} = v\n"));
        name.push_str(".a");
    }
    text
}

/// Work per byte of input must not grow with the size: doubling the file at most (about)
/// doubles the work. A quadratic step would quadruple it.
fn assert_linear(make: impl Fn(usize) -> String, n: usize) {
    let (small, big) = (make(n), make(2 * n));
    let (w_small, w_big) = (list_work(&small), list_work(&big));
    let per_byte_small = w_small as f64 / small.len() as f64;
    let per_byte_big = w_big as f64 / big.len() as f64;
    assert!(
        per_byte_big <= per_byte_small * 1.25,
        "work {w_small} for {} bytes, {w_big} for {} bytes",
        small.len(),
        big.len()
    );
}

#[test]
fn list_is_linear_in_an_include_chain() {
    assert_linear(include_chain, 1000);
    assert_linear(include_chain, 4000);
}

#[test]
fn list_is_linear_in_nested_dotted_sections() {
    // The file itself grows with the square of the depth (each header repeats its parents).
    assert_linear(nested_sections, 300);
    assert_linear(nested_sections, 600);
}

#[test]
fn a_name_with_many_dots_costs_its_length() {
    // No ancestor exists: go-ini's lookup tries every shorter name, each hashed anew.
    let make = |n: usize| format!("[profile {}]\nk = v\n", "x.".repeat(n));
    assert_linear(make, 5000);
}

#[test]
fn start_url_table_matches_the_walk_on_a_long_chain() {
    let f = file(&include_chain(300));
    let profiles = f.profile_names();
    let table = f.sso_start_urls_for(&profiles);
    for (p, url) in profiles.iter().zip(&table) {
        assert_eq!(url.as_deref(), Some("https://s/start"), "{p}");
        assert_eq!(f.sso_start_url_for(p).as_deref(), url.as_deref(), "{p}");
    }
}

/// Random include graphs (loops, self-includes, missing profiles, `[default]` in the chain,
/// sessions with and without URLs, inline URLs): the one-pass table equals one walk each.
#[test]
fn start_url_table_matches_the_walk_on_random_graphs() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for _ in 0..400 {
        let nodes = 1 + next(7);
        let mut text = String::from(
            "[sso-session s1]\nsso_start_url = https://s1/\n[sso-session s2]\nsso_region = r\n",
        );
        for i in 0..=nodes {
            let name = if i == nodes {
                "[default]".to_string()
            } else {
                format!("[profile n{i}]")
            };
            if next(5) == 0 {
                continue; // a profile that is only referred to
            }
            text.push_str(&name);
            text.push('\n');
            match next(4) {
                0 => text.push_str(&format!("include_profile = n{}\n", next(nodes + 1))),
                1 => text.push_str("include_profile = default\n"),
                _ => {}
            }
            match next(5) {
                0 => text.push_str("sso_session = s1\n"),
                1 => text.push_str("sso_session = s2\n"),
                2 => text.push_str("sso_session = s3\n"),
                _ => {}
            }
            if next(3) == 0 {
                text.push_str(&format!("sso_start_url = https://inline{i}/\n"));
            }
        }
        let f = file(&text);
        let mut profiles = f.profile_names();
        profiles.extend(["n0".to_string(), "nosuch".into(), "default".into()]);
        let table = f.sso_start_urls_for(&profiles);
        for (p, url) in profiles.iter().zip(&table) {
            assert_eq!(
                url.as_deref(),
                f.sso_start_url_for(p).as_deref(),
                "{p} in\n{text}"
            );
        }
    }
}

#[test]
fn a_100k_deep_include_chain_resolves_without_overflowing_the_stack() {
    let f = file(&include_chain(100_000));
    let p = f
        .resolve("p0", &Env::new(), &BaseValues::default())
        .unwrap();
    assert_eq!(p.sso_start_url.as_deref(), Some("https://s/start"));
    assert_eq!(
        f.sso_start_url_for("p0").as_deref(),
        Some("https://s/start")
    );
    let table = f.sso_start_urls_for(&["p0".to_string()]);
    assert_eq!(table[0].as_deref(), Some("https://s/start"));
}

#[test]
fn a_100k_deep_source_chain_is_a_clear_error() {
    let mut text = String::new();
    for i in 0..100_000 {
        text.push_str(&format!("[profile p{i}]\nsource_profile = p{}\n", i + 1));
    }
    let e = file(&text)
        .resolve("p0", &Env::new(), &BaseValues::default())
        .unwrap_err();
    assert!(e.to_string().contains("p0"), "{e}");
}

#[test]
fn deeply_nested_sections_read_without_overflowing_the_stack() {
    // 5,000 levels: a 25 MB file, beyond what `load` accepts, but `parse` takes it.
    let f = file(&nested_sections(5000));
    let deepest = format!("a{}", ".a".repeat(4999));
    assert_eq!(f.own_value(&deepest, "k0").as_deref(), Some("v"));
    assert_eq!(f.own_value(&deepest, "missing"), None);
}
