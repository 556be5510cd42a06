//! `aws-vault rotate [profile]`: replace the stored access key with a new one (docs/compatibility.md §1.3
//! rotate, with the §7.12 fixes). Steps 1–7 here, the create/store/delete sequence in
//! [`crate::ops::rotate`].
use anyhow::anyhow;
use clap::Args;

use super::{picker, CommandResult, Settings};
use crate::aws::Endpoint;
use crate::config::BaseValues;
use crate::creds;
use crate::ops::rotate::{self, AwsKeys, Rotation};
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
    let profile = creds::resolve_profile(
        &config,
        keyring.as_ref(),
        &name,
        &settings.env,
        &BaseValues::default(),
    )?;
    let source = rotate::Source::find(&profile, &keyring.keys()?)?;
    let master = source.master.as_str();

    if args.no_session {
        println!("Rotating credentials stored for profile '{master}' using master credentials (takes 10-20 seconds)");
    } else {
        println!("Rotating credentials stored for profile '{master}' using a session from profile '{name}' (takes 10-20 seconds)");
    }
    let old = CredentialStore::new(keyring.as_ref())
        .get(master)
        .map_err(|e| anyhow!("Error loading source credentials for '{master}': {e}"))?;
    println!("Creating a new access key");

    // With --no-session, the master credentials found above (not the ones stored under the
    // target's name); otherwise a fresh session/role from the chain, no cache.
    let iam_creds = if args.no_session {
        old.clone()
    } else {
        let mfa = settings.mfa_source(None, false);
        let mut req = creds::Request::new(&profile, keyring.as_ref(), &mfa, &settings.env);
        req.options.no_cache = true;
        creds::retrieve(&req)?
    };
    let endpoint = Endpoint::from_profile(&profile);

    // Role credentials cannot name "the caller's" IAM user, so the user name is sent
    // explicitly; it is found with the master (IAM user) keys.
    let user = if !args.no_session && source.role_involved {
        Some(
            rotate::user_name(&endpoint, &old)
                .map_err(|e| anyhow!("Error getting IAM username from session: {e}"))?,
        )
    } else {
        None
    };

    let rotation = Rotation {
        keyring: keyring.as_ref(),
        master,
        old: &old,
        user: user.as_deref(),
        chain: &source.chain,
        retry: rotate::DELETE_RETRY,
    };
    let api = AwsKeys {
        endpoint,
        creds: &iam_creds,
    };
    rotate::rotate(&rotation, &api, &mut std::io::stdout())?;
    Ok(0)
}
