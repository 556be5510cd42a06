//! `aws-vault migrate-backend --from A --to B`: move long-term credentials between keyring
//! backends (docs/compatibility.md §3.10; the copy/verify/delete logic is in [`crate::ops::migrate`]).
//!
//! `--backend` is ignored; every other keyring setting (file dir, pass dir and prefix,
//! collection name, ...) applies to both sides.
use std::io::Write;

use anyhow::{anyhow, bail};
use clap::Args;

use super::{CommandResult, Settings};
use crate::keyring::{self, Keyring};
use crate::ops::migrate;

#[derive(Args, Debug)]
pub struct MigrateBackendArgs {
    /// Source backend to migrate credentials from
    #[arg(long, value_name = "BACKEND",
          value_parser = clap::builder::PossibleValuesParser::new(keyring::available_backends()))]
    from: Option<String>,
    /// Destination backend to migrate credentials to
    #[arg(long, value_name = "BACKEND",
          value_parser = clap::builder::PossibleValuesParser::new(keyring::available_backends()))]
    to: Option<String>,
    /// Only migrate this profile's credentials
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Show what would be migrated without making changes
    #[arg(long)]
    dry_run: bool,
    /// Overwrite credentials that already exist in the destination
    #[arg(long)]
    overwrite: bool,
    /// Delete credentials from the source after a verified copy
    #[arg(long)]
    delete_source: bool,
}

fn open(settings: &Settings, backend: &str) -> anyhow::Result<Box<dyn Keyring>> {
    let mut cfg = settings.keyring.clone();
    cfg.backend = Some(backend.to_string());
    Ok(keyring::open(&cfg)?)
}

pub fn run(settings: &Settings, args: MigrateBackendArgs) -> CommandResult {
    // kingpin's wording for missing required flags, as a usage error.
    let (Some(from), Some(to)) = (args.from.clone(), args.to.clone()) else {
        let missing: Vec<&str> = [("'--from'", &args.from), ("'--to'", &args.to)]
            .into_iter()
            .filter(|(_, v)| v.is_none())
            .map(|(name, _)| name)
            .collect();
        return Ok(super::usage_error(&format!(
            "required flag(s) {} not provided",
            missing.join(", ")
        )));
    };
    if from == to {
        bail!("source and destination backends must differ");
    }
    let source =
        open(settings, &from).map_err(|e| anyhow!("open source backend \"{from}\": {e}"))?;
    let names = migrate::profiles(source.as_ref(), args.profile.as_deref())?;
    let mut out = std::io::stdout();
    if args.dry_run || names.is_empty() {
        // The destination is not opened.
        let _ = out.write_all(migrate::dry_run_text(&names, &from, &to).as_bytes());
        return Ok(0);
    }
    let dest =
        open(settings, &to).map_err(|e| anyhow!("open destination backend \"{to}\": {e}"))?;
    let opts = migrate::Options {
        overwrite: args.overwrite,
        delete_source: args.delete_source,
    };
    let (summary, result) =
        migrate::migrate(source.as_ref(), dest.as_ref(), &names, opts, &mut out);
    result?;
    let _ = out.write_all(summary.render().as_bytes());
    Ok(0)
}
