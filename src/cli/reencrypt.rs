//! `aws-vault reencrypt`: rewrite every item of the `file` backend with the PBKDF2 iteration
//! count set by `--file-kdf-iterations`, and optionally under a new passphrase. The all-or-nothing
//! rewrite itself is [`FileKeyring::reencrypt`].
use anyhow::bail;
use clap::Args;
use zeroize::Zeroizing;

use super::{CommandResult, Settings};
use crate::keyring::file::FileKeyring;

/// Where a scripted passphrase change takes the new passphrase from.
const NEW_PASSPHRASE_VAR: &str = "AWS_VAULT_FILE_NEW_PASSPHRASE";

#[derive(Args, Debug)]
pub struct ReencryptArgs {
    /// Also change the passphrase: asked twice on the terminal, or taken from $AWS_VAULT_FILE_NEW_PASSPHRASE
    #[arg(long)]
    new_passphrase: bool,
}

pub fn run(settings: &Settings, args: ReencryptArgs) -> CommandResult {
    // Only the file backend has a passphrase and an iteration count; `--backend` naming another
    // one is a mistake worth saying, not something to ignore.
    if let Some(other) = settings.keyring.backend.as_deref().filter(|b| *b != "file") {
        bail!("reencrypt works on the file backend only, not {other}: run it with --backend=file");
    }
    // A running agent holds this store's passphrase and writes sessions with its own settings:
    // after a rewrite it would mix the old passphrase or count back in.
    if let Ok((_, which)) = crate::agent::connect(&settings.keyring, &settings.env, "file") {
        bail!(
            "an aws-vault agent ({which}) serves this file store: stop it first with \
             `aws-vault agent stop`; nothing was changed"
        );
    }
    let keyring = FileKeyring::new(&settings.keyring);
    let new_passphrase = if args.new_passphrase {
        Some(new_passphrase(settings)?)
    } else {
        None
    };
    let done = keyring.reencrypt(new_passphrase.as_ref().map(|p| p.as_bytes()))?;
    if done.items == 0 {
        println!(
            "No items in {}: nothing to re-encrypt.",
            keyring.dir().display()
        );
        return Ok(0);
    }
    let from: Vec<String> = done.from.iter().map(u32::to_string).collect();
    let passphrase = if new_passphrase.is_some() {
        " under the new passphrase"
    } else {
        ""
    };
    println!(
        "Re-encrypted {} items{passphrase} (PBKDF2 iterations {} -> {}).",
        done.items,
        from.join(", "),
        done.to
    );
    Ok(0)
}

/// The new passphrase from the environment, else typed twice on the terminal. An empty one is
/// refused: it would leave the long-term keys protected by nothing.
fn new_passphrase(settings: &Settings) -> anyhow::Result<Zeroizing<String>> {
    let pass = match settings.env.get(NEW_PASSPHRASE_VAR) {
        Some(p) => Zeroizing::new(p.clone()),
        None => {
            let ask = |prompt: &str| {
                crate::prompt::read_secret(prompt).map_err(|e| {
                    if crate::prompt::is_no_terminal(&e) {
                        anyhow::anyhow!(
                            "no terminal to ask for the new passphrase: set {NEW_PASSPHRASE_VAR}"
                        )
                    } else {
                        anyhow::anyhow!("could not read the new passphrase: {e}")
                    }
                })
            };
            let first = ask("New passphrase: ")?;
            let again = ask("Confirm new passphrase: ")?;
            if first != again {
                bail!("the new passphrases do not match; nothing was changed");
            }
            first
        }
    };
    if pass.is_empty() {
        bail!("the new passphrase is empty; nothing was changed");
    }
    Ok(pass)
}
