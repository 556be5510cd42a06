//! Profiles from IAM Identity Center: one `[profile …]` per account and role the user can
//! reach, named from a template, appended after an `[sso-session …]`, never touching or
//! duplicating what the config file already has.
use crate::config::ConfigFile;
use crate::creds::sso::AccountRole;

/// The default profile name template.
pub const DEFAULT_TEMPLATE: &str = "{account_name}-{role_name}";

/// What to generate.
pub struct Spec<'a> {
    /// The `[sso-session NAME]` the profiles use.
    pub session: &'a str,
    /// `Some((start_url, sso_region, scopes))` when the session section must be written too.
    pub new_session: Option<(&'a str, &'a str, &'a str)>,
    pub template: &'a str,
    /// `region` for the generated profiles (their default region for AWS calls).
    pub region: Option<&'a str>,
}

/// The outcome: the text to append and what was left out and why.
#[derive(Debug, Default)]
pub struct Generated {
    pub text: String,
    pub added: Vec<String>,
    /// (profile name or account/role, why it was not written)
    pub skipped: Vec<(String, String)>,
}

/// A profile name from the template, normalised: every run of characters other than ASCII
/// letters, digits, `.` and `_` (dashes included) becomes one `-`, leading and trailing `-` are dropped,
/// and the result is lower-case (so `My Account` / `AdministratorAccess` gives
/// `my-account-administratoraccess`). Names are used on command lines and in `[profile …]`
/// headers, where spaces and brackets cause trouble.
pub fn profile_name(template: &str, session: &str, r: &AccountRole) -> String {
    let raw = template
        .replace("{account_name}", &r.account_name)
        .replace("{account_id}", &r.account_id)
        .replace("{role_name}", &r.role_name)
        .replace("{sso_session}", session);
    let mut out = String::with_capacity(raw.len());
    for ch in raw.chars() {
        if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_') {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// A template must name the role and the account, or two roles would get one name.
pub fn check_template(template: &str) -> Result<(), String> {
    let account = template.contains("{account_name}") || template.contains("{account_id}");
    if !account || !template.contains("{role_name}") {
        return Err(format!(
            "profile name template '{template}' must contain {{role_name}} and {{account_name}} or {{account_id}}"
        ));
    }
    Ok(())
}

/// The sections to append for `roles`. A role is skipped when a profile for the same
/// account and role of this session (or start URL) exists already, or when its name is
/// taken (by the config file, or by another generated profile — then the account id is
/// appended once before giving up).
pub fn generate(config: &ConfigFile, spec: &Spec<'_>, roles: &[AccountRole]) -> Generated {
    let mut g = Generated::default();
    let start_url = spec
        .new_session
        .map(|(u, _, _)| u.to_string())
        .or_else(|| config.sso_session_value(spec.session, "sso_start_url"))
        .unwrap_or_default();
    let existing: Vec<(String, String, String)> = config
        .profile_names()
        .into_iter()
        .filter(|p| {
            let session = config.own_value(p, "sso_session");
            let url = session
                .as_deref()
                .and_then(|s| config.sso_session_value(s, "sso_start_url"))
                .or_else(|| config.own_value(p, "sso_start_url"));
            session.as_deref() == Some(spec.session) || url.as_deref() == Some(&start_url)
        })
        .map(|p| {
            (
                config.own_value(&p, "sso_account_id").unwrap_or_default(),
                config.own_value(&p, "sso_role_name").unwrap_or_default(),
                p,
            )
        })
        .collect();
    if let Some((url, region, scopes)) = spec.new_session {
        g.text.push_str(&format!(
            "[sso-session {}]\nsso_start_url = {url}\nsso_region = {region}\nsso_registration_scopes = {scopes}\n",
            spec.session
        ));
    }
    for r in roles {
        if let Some((_, _, p)) = existing
            .iter()
            .find(|(a, n, _)| *a == r.account_id && *n == r.role_name)
        {
            g.skipped.push((
                format!("{}/{}", r.account_id, r.role_name),
                format!("already configured as profile {p}"),
            ));
            continue;
        }
        let taken = |n: &str| config.has_profile(n) || g.added.iter().any(|a| a == n);
        let mut name = profile_name(spec.template, spec.session, r);
        if !name.is_empty() && taken(&name) {
            name = format!("{name}-{}", r.account_id);
        }
        if name.is_empty() || taken(&name) {
            g.skipped.push((
                format!("{}/{}", r.account_id, r.role_name),
                format!("profile name '{name}' is already taken"),
            ));
            continue;
        }
        if !g.text.is_empty() {
            g.text.push('\n');
        }
        g.text.push_str(&format!(
            "[profile {name}]\nsso_session = {}\nsso_account_id = {}\nsso_role_name = {}\n",
            spec.session, r.account_id, r.role_name
        ));
        if let Some(region) = spec.region {
            g.text.push_str(&format!("region = {region}\n"));
        }
        g.added.push(name);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(id: &str, name: &str, role: &str) -> AccountRole {
        AccountRole {
            account_id: id.into(),
            account_name: name.into(),
            role_name: role.into(),
        }
    }

    #[test]
    fn names_are_normalised() {
        let r = role("111111111111", "My Prod (EU)", "AdministratorAccess");
        assert_eq!(
            profile_name(DEFAULT_TEMPLATE, "corp", &r),
            "my-prod-eu-administratoraccess"
        );
        assert_eq!(
            profile_name("{sso_session}.{account_id}/{role_name}", "corp", &r),
            "corp.111111111111-administratoraccess"
        );
        assert!(check_template("{role_name}").is_err());
        assert!(check_template("{account_id}-{role_name}").is_ok());
    }

    #[test]
    fn never_duplicates_or_reuses_names() {
        let config = ConfigFile::parse(
            std::path::Path::new("config"),
            "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n\
             [profile mine]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = Admin\n\
             [profile prod-readonly]\nregion = eu-west-1\n",
        )
        .unwrap();
        let roles = [
            role("111111111111", "Prod", "Admin"),
            role("111111111111", "Prod", "ReadOnly"),
            role("222222222222", "Dev", "Admin"),
        ];
        let spec = Spec {
            session: "corp",
            new_session: None,
            template: DEFAULT_TEMPLATE,
            region: Some("eu-west-1"),
        };
        let g = generate(&config, &spec, &roles);
        assert_eq!(g.added, ["prod-readonly-111111111111", "dev-admin"]);
        assert_eq!(
            g.skipped,
            [(
                "111111111111/Admin".to_string(),
                "already configured as profile mine".to_string()
            )]
        );
        assert_eq!(
            g.text,
            "[profile prod-readonly-111111111111]\nsso_session = corp\nsso_account_id = 111111111111\n\
             sso_role_name = ReadOnly\nregion = eu-west-1\n\n[profile dev-admin]\nsso_session = corp\n\
             sso_account_id = 222222222222\nsso_role_name = Admin\nregion = eu-west-1\n"
        );
    }
}
