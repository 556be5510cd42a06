//! `aws-vault sso-profiles <sso-session>`: append a profile for every account and role the
//! IAM Identity Center user can reach (core in [`crate::ops::sso_profiles`]).
use anyhow::{bail, Context};
use clap::Args;

use super::{CommandResult, Settings};
use crate::creds::sso::{self, LoginOptions, Role};
use crate::ops::sso_profiles::{self, Spec};

#[derive(Args, Debug)]
pub struct SsoProfilesArgs {
    /// Name of the [sso-session] section to use (or to create with --start-url and --sso-region)
    session: String,
    /// Start URL of the portal, for a new [sso-session] section
    #[arg(long, value_name = "URL")]
    start_url: Option<String>,
    /// Region of IAM Identity Center, for a new [sso-session] section
    #[arg(long, value_name = "REGION")]
    sso_region: Option<String>,
    /// Profile name template: {account_name}, {account_id}, {role_name}, {sso_session}
    #[arg(long, value_name = "TEMPLATE", default_value = sso_profiles::DEFAULT_TEMPLATE)]
    template: String,
    /// `region` to set in each new profile
    #[arg(long)]
    region: Option<String>,
    /// Print what would be appended to the config file instead of writing it
    #[arg(long)]
    dry_run: bool,
    /// Print the SSO link to the terminal without automatically opening the browser [$AWS_VAULT_STDOUT]
    #[arg(long)]
    stdout: bool,
    /// Log in with the device-code flow instead of the browser redirect
    #[arg(long)]
    use_device_code: bool,
}

pub fn run(settings: &Settings, args: SsoProfilesArgs) -> CommandResult {
    sso_profiles::check_template(&args.template).map_err(anyhow::Error::msg)?;
    let name = &args.session;
    if name.is_empty() || name.contains(['[', ']', '\n', '\r']) {
        bail!("invalid sso-session name '{name}'");
    }
    let config = settings.config()?;
    let existing_url = config.sso_session_value(name, "sso_start_url");
    let (start_url, region, scopes, new_session) = match (&existing_url, &args.start_url) {
        (Some(url), given) => {
            if given.as_ref().is_some_and(|g| g != url) {
                bail!("[sso-session {name}] already has sso_start_url = {url}; drop --start-url or pick another session name");
            }
            let region = config
                .sso_session_value(name, "sso_region")
                .with_context(|| format!("[sso-session {name}] has no sso_region"))?;
            let scopes = config.sso_session_value(name, "sso_registration_scopes");
            (url.clone(), region, scopes, false)
        }
        (None, Some(url)) => {
            let Some(region) = args.sso_region.clone() else {
                bail!("--sso-region is required to create [sso-session {name}]");
            };
            if url.contains(['\n', '\r']) || region.contains(['\n', '\r']) {
                bail!("--start-url and --sso-region must not contain line breaks");
            }
            (
                url.clone(),
                region,
                Some("sso:account:access".to_string()),
                true,
            )
        }
        (None, None) => bail!(
            "no [sso-session {name}] in {}; give --start-url and --sso-region to create it",
            config.path.display()
        ),
    };
    if let Some(r) = &args.region {
        if r.contains(['\n', '\r']) {
            bail!("--region must not contain line breaks");
        }
    }

    let keyring = settings.open_keyring()?;
    // AWS_ENDPOINT_URL_SSO / AWS_ENDPOINT_URL redirect the portal and SSO-OIDC, as for profiles.
    let endpoint_url = ["AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|v| settings.env.get(*v).filter(|u| !u.is_empty()).cloned());
    let role = Role {
        profile: name,
        start_url: &start_url,
        region: Some(&region),
        account_id: None,
        role_name: None,
        session: Some(name),
        scopes: scopes.as_deref(),
        endpoint_url: endpoint_url.as_deref(),
    };
    let login = LoginOptions {
        use_stdout: settings.flag_or_env(args.stdout, "stdout", "AWS_VAULT_STDOUT")?,
        use_device_code: args.use_device_code,
    };
    let lock_dir = crate::creds::lock::lock_dir(&settings.env).ok();
    let roles = sso::account_roles(keyring.as_ref(), &role, lock_dir.as_deref(), login)?;

    let spec = Spec {
        session: name,
        new_session: new_session.then(|| {
            (
                start_url.as_str(),
                region.as_str(),
                scopes.as_deref().unwrap_or(""),
            )
        }),
        template: &args.template,
        region: args.region.as_deref(),
    };
    let generated = sso_profiles::generate(&config, &spec, &roles);
    for (what, why) in &generated.skipped {
        eprintln!("Skipping {what}: {why}");
    }
    if args.dry_run {
        print!("{}", generated.text);
        eprintln!(
            "Would add {} profiles to {} (dry run: nothing written).",
            generated.added.len(),
            config.path.display()
        );
        return Ok(0);
    }
    if !generated.text.is_empty() {
        crate::config::append_sections(&config.path, &generated.text)
            .with_context(|| format!("cannot write {}", config.path.display()))?;
    }
    for p in &generated.added {
        println!("Added profile {p}");
    }
    eprintln!(
        "Added {} profiles to {}.",
        generated.added.len(),
        config.path.display()
    );
    Ok(0)
}
