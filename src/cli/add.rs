//! `aws-vault add <profile>`: store long-term credentials.
use anyhow::bail;
use clap::Args;

use super::{go_quote, CommandResult, Settings};
use crate::config;
use crate::creds::Credentials;
use crate::prompt;
use crate::store::{CredentialStore, SessionStore};

#[derive(Args, Debug)]
pub struct AddArgs {
    /// Name of the profile
    profile: String,
    /// Read the credentials from the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)
    #[arg(long)]
    env: bool,
    /// Add a profile to ~/.aws/config if one doesn't exist (default; --no-add-config disables)
    #[arg(long, hide = true)]
    add_config: bool,
    /// Don't add a profile to ~/.aws/config
    #[arg(long)]
    no_add_config: bool,
}

pub fn run(settings: &Settings, args: AddArgs) -> CommandResult {
    let config = settings.config()?;
    let profile = args.profile.as_str();
    if let Some(src) = config.own_value(profile, "source_profile") {
        bail!("Your profile has a source_profile of {src}, adding credentials to {profile} won't have any effect");
    }
    if let Some(kind) = crate::store::reserved_kind(profile) {
        bail!(
            "the profile name {} is reserved: aws-vault stores {kind} under names of this shape and would delete these credentials; choose another name",
            go_quote(profile)
        );
    }
    let add_config = !config.has_profile(profile) && !args.no_add_config;
    if add_config {
        // Refuse before anything is stored: a name the config cannot hold must not leave a
        // keyring item behind.
        config::check_new_profile(profile, None).map_err(|e| {
            anyhow::anyhow!("Error writing config file {}: {e}", config.path.display())
        })?;
    }

    let (creds, mfa_serial) = if args.env {
        let get = |name: &str| settings.env.get(name).filter(|v| !v.is_empty()).cloned();
        let Some(id) = get("AWS_ACCESS_KEY_ID") else {
            bail!("Missing value for AWS_ACCESS_KEY_ID");
        };
        let Some(secret) = get("AWS_SECRET_ACCESS_KEY") else {
            bail!("Missing value for AWS_SECRET_ACCESS_KEY");
        };
        (credentials(id, secret), None)
    } else {
        let id = prompt::read_line("Enter Access Key ID: ")?;
        let secret = prompt::read_secret("Enter Secret Access Key: ")?;
        let mfa =
            prompt::read_line("Enter MFA Device ARN (If MFA is not enabled, leave this blank): ")?;
        if id.is_empty() {
            bail!("Missing value for the Access Key ID");
        }
        if secret.trim().is_empty() {
            bail!("Missing value for the Secret Access Key");
        }
        (
            credentials(id, secret.trim().to_string()),
            Some(mfa).filter(|m| !m.is_empty()),
        )
    };

    let keyring = settings.open_keyring()?;
    CredentialStore::new(keyring.as_ref()).set(profile, &creds)?;
    println!(
        "Added credentials to profile {} in vault",
        go_quote(profile)
    );

    let deleted = SessionStore::new(keyring.as_ref()).remove_for_profile(profile)?;
    if deleted > 0 {
        println!("Deleted {deleted} existing sessions.");
    }

    if add_config {
        config::append_profile(&config.path, profile, mfa_serial.as_deref()).map_err(|e| {
            anyhow::anyhow!("Error writing config file {}: {e}", config.path.display())
        })?;
    }
    Ok(0)
}

fn credentials(id: String, secret: String) -> Credentials {
    Credentials::long_term(id.trim().to_string(), secret.trim())
}
