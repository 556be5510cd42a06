//! `aws-vault doctor [profile]`: the setup checks of [`crate::ops::doctor`], as lines or JSON.
use clap::Args;

use super::{CommandResult, Settings};
use crate::ops::doctor::{self, Inputs};

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Also check this profile: its plan, MFA, source keys and SSO token
    profile: Option<String>,
    /// Print the findings as JSON
    #[arg(long)]
    json: bool,
    /// Measure the clock skew against STS (one unauthenticated HTTPS request)
    #[arg(long)]
    network: bool,
}

pub fn run(settings: &Settings, args: DoctorArgs) -> CommandResult {
    let config_path = crate::config::config_path(&settings.env, &settings.home);
    let inputs = Inputs {
        keyring: &settings.keyring,
        env: &settings.env,
        config_path: &config_path,
        prompt: settings.prompt.as_deref(),
        profile: args.profile.as_deref(),
        network: args.network,
        now: jiff::Timestamp::now(),
    };
    let findings = doctor::run(&inputs);
    let healthy = doctor::healthy(&findings);
    if args.json {
        let doc = serde_json::json!({ "healthy": healthy, "findings": findings });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for f in &findings {
            println!("{f}");
        }
    }
    Ok(if healthy { 0 } else { 1 })
}
