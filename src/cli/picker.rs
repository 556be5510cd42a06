//! Choosing the profile: from the command line, else `$AWS_PROFILE`, else the interactive picker.
use anyhow::{anyhow, bail};

use crate::config::ConfigFile;

/// An interactive single-select list of the config's profiles, drawn on stderr (the Go tool
/// drew it on stdout, which corrupted `export` output, docs/compatibility.md §7.15).
pub fn pick_profile(config: &ConfigFile) -> anyhow::Result<String> {
    pick(config).map_err(|e| anyhow!("unable to select a 'profile'. Try --help: {e}"))
}

/// The picker itself; its error says only what went wrong, for callers with their own wording.
pub fn pick(config: &ConfigFile) -> anyhow::Result<String> {
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

/// The profile a command works on: the one named on the command line, else `$AWS_PROFILE`
/// (when set and non-empty), else the one picked interactively.
pub fn profile_or_pick(
    given: Option<String>,
    env: &crate::config::Env,
    config: &ConfigFile,
) -> anyhow::Result<String> {
    match given.or_else(|| named_by_env(env)) {
        Some(p) => Ok(p),
        None => pick_profile(config),
    }
}

/// `$AWS_PROFILE`, when set and non-empty.
pub fn named_by_env(env: &crate::config::Env) -> Option<String> {
    env.get("AWS_PROFILE").filter(|p| !p.is_empty()).cloned()
}
