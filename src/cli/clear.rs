//! `aws-vault clear [profile]`: delete cached sessions and SSO tokens.
use clap::Args;
use jiff::Timestamp;

use super::{CommandResult, Settings};
use crate::store::{OidcStore, SessionStore};

#[derive(Args, Debug)]
pub struct ClearArgs {
    /// Name of the profile
    profile: Option<String>,
}

pub fn run(settings: &Settings, args: ClearArgs) -> CommandResult {
    let config = settings.config()?;
    let keyring = settings.open_keyring()?;
    let sessions = SessionStore::new(keyring.as_ref());
    let oidc = OidcStore::new(keyring.as_ref());
    let mut n = 0;
    match args.profile {
        None => {
            n += sessions.remove_old(Timestamp::now())?;
            n += sessions.remove_all()?;
            for url in oidc.start_urls()? {
                oidc.remove(&url)?;
                n += 1;
            }
        }
        Some(profile) => {
            n += sessions.remove_for_profile(&profile)?;
            // Resolved through include_profile/[default] too (fixing docs/compatibility.md §7.26).
            if let Some(url) = config.sso_start_url_for(&profile) {
                if oidc.has(&url)? {
                    oidc.remove(&url)?;
                    n += 1;
                }
            }
        }
    }
    println!("Cleared {n} sessions.");
    Ok(0)
}
