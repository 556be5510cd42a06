//! `aws-vault sso-profiles`: profiles for every account and role from the fake IAM Identity
//! Center (`ListAccounts`, `ListAccountRoles`, both paginated), appended without duplicates.
mod common;

use common::sso::{browser_log, sandbox, SsoFake};

/// Four accounts, six roles; the fake serves two items a page, so both lists paginate.
const FAKE: &str = r#"{
  "allowed": ["111111111111/Admin", "222222222222/Admin", "333333333333/ReadOnly",
              "333333333333/Admin", "333333333333/Billing Viewer", "444444444444/Admin"],
  "account_names": {"111111111111": "Prod", "333333333333": "Data Lake (EU)"},
  "page_size": 2
}"#;

#[test]
fn lists_every_page_and_appends_only_new_profiles() {
    let fake = SsoFake::start(FAKE);
    let mut s = sandbox(&fake);
    s.set_env("AWS_ENDPOINT_URL", &fake.url());
    let before = std::fs::read_to_string(&s.config).unwrap();

    // Dry run: prints, writes nothing. `sess` (111111111111/Admin) and `other-role`
    // (222222222222/Admin) already exist for [sso-session corp].
    let dry = s
        .run(&["sso-profiles", "--dry-run", "--region", "eu-west-1", "corp"])
        .ok();
    assert_eq!(std::fs::read_to_string(&s.config).unwrap(), before);
    let want = "[profile data-lake-eu-readonly]\nsso_session = corp\nsso_account_id = 333333333333\n\
                sso_role_name = ReadOnly\nregion = eu-west-1\n\n\
                [profile data-lake-eu-admin]\nsso_session = corp\nsso_account_id = 333333333333\n\
                sso_role_name = Admin\nregion = eu-west-1\n\n\
                [profile data-lake-eu-billing-viewer]\nsso_session = corp\nsso_account_id = 333333333333\n\
                sso_role_name = Billing Viewer\nregion = eu-west-1\n\n\
                [profile account-444444444444-admin]\nsso_session = corp\nsso_account_id = 444444444444\n\
                sso_role_name = Admin\nregion = eu-west-1\n";
    assert_eq!(dry.stdout, want);
    assert!(
        dry.stderr
            .contains("Skipping 111111111111/Admin: already configured as profile sess"),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stderr
            .contains("Skipping 222222222222/Admin: already configured as profile other-role"),
        "{}",
        dry.stderr
    );
    assert_eq!(browser_log(&s).len(), 1, "one login");

    // Pagination: 4 accounts in pages of 2, and account 333333333333's 3 roles in 2 pages.
    let accounts = fake.calls_to("/assignment/accounts");
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[1].query["next_token"], "2");
    let roles = fake.calls_to("/assignment/roles");
    assert_eq!(roles.len(), 5, "{roles:?}");
    assert!(roles
        .iter()
        .all(|c| c.header("x-amz-sso_bearer_token").is_some()));

    // For real: appended after the untouched original bytes; the token is reused.
    let run = s
        .run(&["sso-profiles", "--region", "eu-west-1", "corp"])
        .ok();
    assert!(
        run.stdout
            .contains("Added profile data-lake-eu-billing-viewer\n"),
        "{}",
        run.stdout
    );
    let after = std::fs::read_to_string(&s.config).unwrap();
    assert!(after.starts_with(&before));
    assert_eq!(&after[before.len()..], format!("\n{want}"));
    assert_eq!(browser_log(&s).len(), 1, "the cached token is reused");

    // The new profiles work and are listed.
    let list = s.run(&["list", "--profiles"]).ok();
    assert!(
        list.stdout.contains("data-lake-eu-admin\n"),
        "{}",
        list.stdout
    );

    // Again: nothing new, nothing rewritten.
    let again = s.run(&["sso-profiles", "corp"]).ok();
    assert!(
        again.stderr.contains("Added 0 profiles"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read_to_string(&s.config).unwrap(), after);
}

#[test]
fn creates_the_sso_session_and_honours_the_template() {
    let fake = SsoFake::start(FAKE);
    let mut s = sandbox(&fake);
    s.set_env("AWS_ENDPOINT_URL", &fake.url());
    let dry = s
        .run(&[
            "sso-profiles",
            "--dry-run",
            "--start-url",
            "https://new.awsapps.com/start",
            "--sso-region",
            "eu-central-1",
            "--template",
            "{sso_session}-{account_id}-{role_name}",
            "new",
        ])
        .ok();
    assert!(dry.stdout.starts_with(
        "[sso-session new]\nsso_start_url = https://new.awsapps.com/start\nsso_region = eu-central-1\n\
         sso_registration_scopes = sso:account:access\n\n[profile new-111111111111-admin]\n"
    ), "{}", dry.stdout);
    // A different start URL: nothing counts as configured, all six roles are new.
    assert_eq!(dry.stdout.matches("[profile ").count(), 6, "{}", dry.stdout);

    let line = s.run(&["sso-profiles", "missing"]).fails();
    assert!(
        line.contains("no [sso-session missing]") && line.contains("--start-url"),
        "{line}"
    );
    let line = s
        .run(&["sso-profiles", "--template", "{role_name}", "corp"])
        .fails();
    assert!(
        line.contains("must contain {role_name} and {account_name} or {account_id}"),
        "{line}"
    );
}
