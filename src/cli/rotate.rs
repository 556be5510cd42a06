//! `aws-vault rotate [profile]`: replace the stored access key with a new one (compat §1.3
//! rotate, with the §7.12 fixes). Steps 1–7 here, the create/store/delete sequence in
//! [`crate::rotate`].
use std::io::IsTerminal;

use anyhow::anyhow;
use clap::Args;

use super::{picker, CommandResult, Settings};
use crate::aws::Endpoint;
use crate::config::{BaseValues, ProfileConfig};
use crate::creds::{self, chain, sts};
use crate::mfa::MfaSource;
use crate::rotate::{self, AwsKeys, Rotation};
use crate::store::CredentialStore;

#[derive(Args, Debug)]
pub struct RotateArgs {
    /// Name of the profile
    profile: Option<String>,
    /// Use master credentials only, no session or role is used
    #[arg(short = 'n', long)]
    no_session: bool,
}

pub fn run(settings: &Settings, args: RotateArgs) -> CommandResult {
    let keyring = settings.open_keyring()?;
    let config = settings.config()?;
    let name = match args.profile {
        Some(p) => p,
        None => picker::pick_profile(&config)?,
    };
    picker::ensure_profile_exists(&config, keyring.as_ref(), &name)?;
    let base = BaseValues {
        prompt: settings.prompt.clone(),
        ..Default::default()
    };
    let profile = config.resolve(&name, &settings.env, &base)?;

    // The target and every profile of its source_profile chain, target first.
    let chain_profiles: Vec<&ProfileConfig> =
        std::iter::successors(Some(&profile), |p| p.source.as_deref()).collect();
    let chain_names: Vec<String> = chain_profiles.iter().map(|p| p.name.clone()).collect();

    // Fix of compat §7.12: search the whole chain, not one level.
    let stored = keyring.keys()?;
    let master = chain_names
        .iter()
        .find(|n| stored.contains(n))
        .cloned()
        .ok_or_else(|| {
            anyhow!("Error determining credential name for '{name}': No master credentials found")
        })?;

    if args.no_session {
        println!("Rotating credentials stored for profile '{master}' using master credentials (takes 10-20 seconds)");
    } else {
        println!("Rotating credentials stored for profile '{master}' using a session from profile '{name}' (takes 10-20 seconds)");
    }
    let old = CredentialStore::new(keyring.as_ref())
        .get(&master)
        .map_err(|e| anyhow!("Error loading source credentials for '{master}': {e}"))?;
    println!("Creating a new access key");

    // With --no-session, the master credentials found above (not the ones stored under the
    // target's name, compat §7.12); otherwise a fresh session/role from the chain, no cache.
    let iam_creds = if args.no_session {
        old.clone()
    } else {
        let mfa = MfaSource::new(
            None,
            settings.prompt.clone(),
            false,
            std::io::stdout().is_terminal(),
            &settings.env,
        );
        creds::retrieve(&creds::Request {
            profile: &profile,
            keyring: keyring.as_ref(),
            options: chain::Options {
                no_cache: true,
                ..Default::default()
            },
            mfa: &mfa,
            env: &settings.env,
        })?
    };
    let endpoint = Endpoint::from_profile(&profile);

    // Role credentials cannot name "the caller's" IAM user, so the user name is sent
    // explicitly; it is found with the master (IAM user) keys.
    let role_involved = !args.no_session && chain_profiles.iter().any(|p| p.role_arn.is_some());
    let user = if role_involved {
        Some(
            user_name(&endpoint, &old)
                .map_err(|e| anyhow!("Error getting IAM username from session: {e}"))?,
        )
    } else {
        None
    };

    let rotation = Rotation {
        keyring: keyring.as_ref(),
        master: &master,
        old: &old,
        user: user.as_deref(),
        chain: &chain_names,
        retry: rotate::DELETE_RETRY,
    };
    let api = AwsKeys {
        endpoint,
        creds: &iam_creds,
    };
    rotate::rotate(&rotation, &api, &mut std::io::stdout())?;
    Ok(0)
}

/// GetUser with the master keys (compat §3.9); when that is denied, the IAM user named by
/// GetCallerIdentity (which needs no permission).
fn user_name(ep: &Endpoint, master: &creds::Credentials) -> anyhow::Result<String> {
    match crate::iam::get_user_name(ep, master) {
        Ok(u) => Ok(u),
        Err(e) => {
            crate::debug!("GetUser failed ({e}); trying GetCallerIdentity");
            let arn = sts::get_caller_identity(ep, master).map_err(|_| e)?;
            crate::iam::user_name_from_arn(&arn)
                .ok_or_else(|| anyhow!("Couldn't determine current username from {arn}"))
        }
    }
}
