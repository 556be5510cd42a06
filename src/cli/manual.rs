//! `--help-man` and `--help-long`, kingpin's two hidden help flags: the man page (roff) and the
//! help of every command on one page, both rendered from the clap definition itself, so every
//! command, flag and environment variable is in them without a second copy.
use std::fmt::Write as _;

use clap::Command;

/// The man page `aws-vault.1`: the program's synopsis and global flags, one section per
/// command with its arguments and flags, and every environment variable the flags read.
pub fn man_page(cli: &Command) -> String {
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(cli.clone())
        .title("AWS-VAULT")
        .section("1")
        .manual("aws-vault manual");
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let mut page = String::from_utf8_lossy(&out).into_owned();

    page.push_str(".SH COMMANDS\n");
    for sub in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = sub.get_name();
        let _ = writeln!(page, ".SS \"{} {name}\"", cli.get_name());
        if let Some(about) = sub.get_about() {
            let _ = writeln!(page, "{}", roff_text(&about.to_string()));
        }
        let usage = sub
            .clone()
            .bin_name(format!("{} {name}", cli.get_name()))
            .render_usage()
            .to_string();
        let usage = usage.trim_start_matches("Usage:").trim();
        let _ = writeln!(page, ".PP\n\\fB{}\\fR", roff_text(usage));
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let mut head = String::new();
            if let Some(short) = arg.get_short() {
                let _ = write!(head, "-{short}, ");
            }
            match arg.get_long() {
                Some(long) => {
                    let _ = write!(head, "--{long}");
                    if arg.get_action().takes_values() {
                        let value = arg
                            .get_value_names()
                            .and_then(|v| v.first().map(|s| s.to_string()))
                            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
                        let _ = write!(head, "={value}");
                    }
                }
                None => head.push_str(&format!("<{}>", arg.get_id())),
            }
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let _ = writeln!(
                page,
                ".TP\n\\fB{}\\fR\n{}",
                roff_text(&head),
                roff_text(&help)
            );
        }
    }

    page.push_str(".SH ENVIRONMENT\n");
    for var in environment_variables(cli) {
        let _ = writeln!(page, ".TP\n\\fB{var}\\fR");
    }
    page.push_str(".SH SEE ALSO\nThe documentation in the project's docs/ directory.\n");
    page
}

/// Every `[$VARIABLE]` named in the help of any flag, plus the variables read without a flag.
pub fn environment_variables(cli: &Command) -> Vec<String> {
    let mut vars: Vec<String> = vec![
        "AWS_CONFIG_FILE".into(),
        "AWS_PROFILE".into(),
        "AWS_VAULT_FILE_PASSPHRASE".into(),
        "AWS_VAULT_KEYCTL_SCOPE".into(),
        "AWS_MIN_TTL".into(),
        "AWS_SESSION_TOKEN_TTL".into(),
        "AWS_CHAINED_SESSION_TOKEN_TTL".into(),
        "AWS_ASSUME_ROLE_TTL".into(),
        "AWS_FEDERATION_TOKEN_TTL".into(),
        "AWS_VAULT_DISABLE_HELP_MESSAGE".into(),
        "AWS_VAULT_FEDERATION_URL".into(),
    ];
    let commands = std::iter::once(cli).chain(cli.get_subcommands());
    for cmd in commands {
        for arg in cmd.get_arguments() {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let mut rest = help.as_str();
            while let Some(i) = rest.find("[$") {
                rest = &rest[i + 2..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if !name.is_empty() && !vars.contains(&name) {
                    vars.push(name);
                }
            }
        }
    }
    vars.sort();
    vars
}

/// The help of the program and of every visible command, one after the other (kingpin's
/// `--help-long`).
pub fn long_help(cli: &Command) -> String {
    let mut cli = cli.clone();
    let mut out = cli.render_help().to_string();
    let name = cli.get_name().to_string();
    for sub in cli.get_subcommands_mut().filter(|c| !c.is_hide_set()) {
        let sub_name = sub.get_name().to_string();
        let mut sub = sub.clone().bin_name(format!("{name} {sub_name}"));
        let _ = write!(out, "\n{name} {sub_name}\n\n{}", sub.render_help());
    }
    out
}

/// Text for a roff line: backslashes doubled, a leading `.` or `'` protected.
fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\\\").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli() -> Command {
        use clap::CommandFactory;
        super::super::Cli::command()
    }

    #[test]
    fn every_command_has_a_section() {
        let page = man_page(&cli());
        for sub in cli().get_subcommands().filter(|c| !c.is_hide_set()) {
            assert!(
                page.contains(&format!(".SS \"aws-vault {}\"", sub.get_name())),
                "{}",
                sub.get_name()
            );
        }
        assert!(
            page.starts_with(".ie") || page.contains(".TH AWS-VAULT 1"),
            "{page}"
        );
    }

    #[test]
    fn environment_lists_every_flag_variable() {
        let vars = environment_variables(&cli());
        for v in [
            "AWS_VAULT_BACKEND",
            "AWS_VAULT_PROMPT",
            "AWS_VAULT_DURATION",
            "AWS_VAULT_FILE_PASSPHRASE",
        ] {
            assert!(vars.iter().any(|x| x == v), "{v} in {vars:?}");
        }
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(roff_text(".x\\-"), "\\&.x\\\\\\-");
    }
}
