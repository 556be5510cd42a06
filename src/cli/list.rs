//! `aws-vault list`: profiles, stored credentials and cached sessions (docs/compatibility.md §1.3).
use std::collections::HashSet;

use clap::Args;
use jiff::Timestamp;

use super::{escape_controls, CommandResult, Settings};
use crate::config::ConfigFile;
use crate::store::{CredentialStore, OidcStore, SessionStore};

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Show only the profile names
    #[arg(long)]
    profiles: bool,
    /// Show only the session names
    #[arg(long)]
    sessions: bool,
    /// Show only the profiles with stored credential
    #[arg(long)]
    credentials: bool,
}

pub fn run(settings: &Settings, args: ListArgs) -> CommandResult {
    let config = settings.config()?;
    if args.profiles && !args.credentials {
        for name in config.profile_names() {
            println!("{}", escape_controls(&name));
        }
        return Ok(0);
    }
    let keyring = settings.open_keyring()?;
    let credentials = CredentialStore::new(keyring.as_ref()).names()?;
    if args.credentials {
        for name in credentials {
            println!("{}", escape_controls(&name));
        }
        return Ok(0);
    }
    let now = Timestamp::now();
    let sessions = SessionStore::new(keyring.as_ref()).all()?;
    let oidc_urls = OidcStore::new(keyring.as_ref()).start_urls()?;
    let oidc_labels: Vec<(String, String)> = oidc_urls
        .iter()
        .map(|url| (url.clone(), oidc_label(&config, url)))
        .collect();
    let session_labels: Vec<(String, String)> = sessions
        .iter()
        .map(|s| (s.profile.clone(), s.label(now)))
        .collect();

    if args.sessions {
        for (_, label) in oidc_labels.iter().chain(session_labels.iter()) {
            println!("{}", escape_controls(label));
        }
        return Ok(0);
    }

    let mut rows: Vec<[String; 3]> = vec![
        ["Profile".into(), "Credentials".into(), "Sessions".into()],
        ["=======".into(), "===========".into(), "========".into()],
    ];
    let mut shown: Vec<&str> = Vec::new();
    let profiles = config.profile_names();
    // One pass for all profiles: a walk per profile is quadratic in an include chain's length.
    let start_urls = config.sso_start_urls_for(&profiles);
    let profile_set: HashSet<&String> = profiles.iter().collect();
    let credential_set: HashSet<&String> = credentials.iter().collect();
    for (profile, url) in profiles.iter().zip(&start_urls) {
        let mut labels: Vec<&str> = Vec::new();
        if let Some(url) = url {
            if let Some((_, label)) = oidc_labels.iter().find(|(u, _)| **u == **url) {
                labels.push(label);
            }
        }
        labels.extend(
            session_labels
                .iter()
                .filter(|(p, _)| p == profile)
                .map(|(_, l)| l.as_str()),
        );
        shown.extend(labels.iter().copied());
        let creds = if credential_set.contains(profile) {
            profile.clone()
        } else {
            "-".into()
        };
        let sessions = if labels.is_empty() {
            "-".into()
        } else {
            labels.join(", ")
        };
        rows.push([profile.clone(), creds, sessions]);
    }
    for name in credentials.iter().filter(|c| !profile_set.contains(c)) {
        rows.push(["-".into(), name.clone(), "-".into()]);
    }
    for (_, label) in oidc_labels.iter().chain(session_labels.iter()) {
        if let Some(pos) = shown.iter().position(|s| s == label) {
            shown.remove(pos);
        } else {
            rows.push(["-".into(), "-".into(), label.clone()]);
        }
    }
    // Names come from key files and the config: never let them drive the terminal.
    for cell in rows.iter_mut().flatten() {
        *cell = escape_controls(cell);
    }
    print!("{}", render_table(&rows));
    Ok(0)
}

/// `oidc:<id>`: the `[sso-session]` name whose start URL matches, else the URL's host, else the URL.
fn oidc_label(config: &ConfigFile, url: &str) -> String {
    if let Some((name, _)) = config.sso_sessions().into_iter().find(|(_, u)| u == url) {
        return format!("oidc:{name}");
    }
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host);
    if host.is_empty() {
        format!("oidc:{url}")
    } else {
        format!("oidc:{host}")
    }
}

/// Go's tabwriter with minimum width 25, padding 2: every cell, the last included, is padded
/// to `max(25, longest cell in its column + 2)` characters.
fn render_table(rows: &[[String; 3]]) -> String {
    let mut widths = [25usize; 3];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count() + 2);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', widths[i] - cell.chars().count()));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_compat_example() {
        let rows = vec![
            [
                "Profile".to_string(),
                "Credentials".into(),
                "Sessions".into(),
            ],
            ["=======".into(), "===========".into(), "========".into()],
            [
                "jonsmith".into(),
                "jonsmith".into(),
                "sts.GetSessionToken:59m12s".into(),
            ],
            ["-".into(), "old".into(), "-".into()],
        ];
        let expected = "\
Profile                  Credentials              Sessions                    
=======                  ===========              ========                    
jonsmith                 jonsmith                 sts.GetSessionToken:59m12s  
-                        old                      -                           
";
        assert_eq!(render_table(&rows), expected);
    }
}
