//! `aws-vault remove <profile>`: delete stored credentials (and, unlike the Go tool, the
//! profile's cached sessions, which would otherwise keep working after the key is gone).
use anyhow::bail;
use clap::Args;

use super::{go_quote, CommandResult, Settings};
use crate::keyring;
use crate::prompt;
use crate::store::{CredentialStore, SessionStore};

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// Name of the profile
    profile: String,
    /// Force-remove the profile without a prompt
    #[arg(short = 'f', long)]
    force: bool,
    /// Only remove sessions, leave credentials intact
    #[arg(short = 's', long, hide = true)]
    sessions_only: bool,
}

pub fn run(settings: &Settings, args: RemoveArgs) -> CommandResult {
    let (backend, keyring) = settings.open_keyring_named()?;
    let sessions = SessionStore::new(keyring.as_ref());
    if args.sessions_only {
        let n = sessions.remove_for_profile(&args.profile)?;
        println!("Deleted {n} sessions.");
        return Ok(0);
    }
    if !args.force {
        let question = format!(
            "Delete credentials for profile {}? (y|N) ",
            go_quote(&args.profile)
        );
        if !prompt::confirm(&question)? {
            return Ok(0);
        }
    }
    match CredentialStore::new(keyring.as_ref()).remove(&args.profile) {
        // The Go tool passes the backend's own error through; for `file` that is Go's
        // `os.Remove` text, which scripts may match (docs/compatibility.md §1.3 `remove`).
        Err(keyring::Error::NotFound) if backend == "file" => {
            let path = keyring::file::FileKeyring::new(&settings.keyring)
                .dir()
                .join(keyring::file::encode_file_name(&args.profile));
            bail!("remove {}: no such file or directory", path.display());
        }
        other => other?,
    }
    println!("Deleted credentials.");
    let n = sessions.remove_for_profile(&args.profile)?;
    if n > 0 {
        println!("Deleted {n} sessions.");
    }
    Ok(0)
}
