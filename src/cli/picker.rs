//! Choosing the profile: the interactive picker and the "does this profile exist" guard.
use anyhow::{anyhow, bail};

use crate::config::ConfigFile;
use crate::keyring::Keyring;
use crate::store::CredentialStore;

/// An interactive single-select list of the config's profiles, drawn on stderr (the Go tool
/// drew it on stdout, which corrupted `export` output, compat §7.15).
pub fn pick_profile(config: &ConfigFile) -> anyhow::Result<String> {
    pick(config).map_err(|e| anyhow!("unable to select a 'profile'. Try --help: {e}"))
}

fn pick(config: &ConfigFile) -> anyhow::Result<String> {
    let names = config.profile_names();
    if names.is_empty() {
        bail!("no profiles in {}", config.path.display());
    }
    let term = dialoguer::console::Term::stderr();
    if !term.is_term() || !crate::prompt::has_terminal() {
        bail!("no terminal to show the profile picker on; name the profile on the command line");
    }
    let choice = dialoguer::FuzzySelect::new()
        .with_prompt("Choose AWS profile:")
        .items(&names)
        .default(0)
        .interact_on_opt(&term)?;
    choice
        .and_then(|i| names.get(i).cloned())
        .ok_or_else(|| anyhow!("no profile chosen"))
}

/// The guard of compat §1.3: a profile is usable if the config has a section for it or the
/// keyring holds long-term credentials under exactly that name.
pub fn ensure_profile_exists(
    config: &ConfigFile,
    keyring: &dyn Keyring,
    profile: &str,
) -> anyhow::Result<()> {
    if config.has_profile(profile) || CredentialStore::new(keyring).has(profile)? {
        return Ok(());
    }
    bail!("profile '{profile}' not found in ~/.aws/config and no stored credentials exist for it")
}
