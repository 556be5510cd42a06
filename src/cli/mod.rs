//! The command line: global options, argument pre-processing that mimics the Go tool's parser
//! (kingpin), error printing, and dispatch to one thin file per command.
//!
//! Error contract (compat §1.1): parse and setup errors print
//! `aws-vault: error: <message>, try --help`; errors from a command body print
//! `aws-vault: error: <command>: <message>`. Both exit 1. `exec` exits with its child's code.

mod add;
mod clear;
mod completion;
mod doctor;
mod exec;
mod export;
mod list;
mod login;
mod migrate_backend;
mod picker;
mod proxy;
mod remove;
mod rotate;
mod settings;
mod sso_profiles;
mod version;

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand};

pub use settings::Settings;

/// The version string: set `AWS_VAULT_VERSION` at build time for releases, else the crate's.
pub const VERSION: &str = match option_env!("AWS_VAULT_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

#[derive(Parser, Debug)]
#[command(
    name = "aws-vault",
    about = "A vault for securely storing and accessing AWS credentials in development environments.",
    disable_version_flag = true,
    disable_help_subcommand = false
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,

    /// Show application version.
    #[arg(short = 'v', long = "version", global = true)]
    version: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

/// Global options (compat §1.2). Values given on the command line win; otherwise the
/// environment variable named in the help is used when it is set and non-empty.
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Show debugging output
    #[arg(long, global = true)]
    pub debug: bool,
    /// Secret backend to use (see the list below; default: the first that opens) [$AWS_VAULT_BACKEND]
    #[arg(long, global = true, value_name = "BACKEND")]
    pub backend: Option<String>,
    /// Prompt driver to use [terminal] [$AWS_VAULT_PROMPT]
    #[arg(long, global = true, value_name = "PROMPT")]
    pub prompt: Option<String>,
    /// Name of macOS keychain to use, if it doesn't exist it will be created [$AWS_VAULT_KEYCHAIN_NAME]
    #[arg(long, global = true, value_name = "NAME")]
    pub keychain: Option<String>,
    /// Name of secret-service collection to use, if it doesn't exist it will be created [$AWS_VAULT_SECRET_SERVICE_COLLECTION_NAME]
    #[arg(long, global = true, value_name = "NAME")]
    pub secret_service_collection: Option<String>,
    /// Pass password store directory [$AWS_VAULT_PASS_PASSWORD_STORE_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub pass_dir: Option<String>,
    /// Name of the pass executable [$AWS_VAULT_PASS_CMD]
    #[arg(long, global = true, value_name = "CMD")]
    pub pass_cmd: Option<String>,
    /// Prefix to prepend to the item path stored in pass [$AWS_VAULT_PASS_PREFIX]
    #[arg(long, global = true, value_name = "PREFIX")]
    pub pass_prefix: Option<String>,
    /// Directory for the "file" password store [$AWS_VAULT_FILE_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub file_dir: Option<String>,
    /// Timeout for 1Password API operations [$AWS_VAULT_OP_TIMEOUT]
    #[arg(long, global = true, value_name = "DURATION")]
    pub op_timeout: Option<String>,
    /// UUID of the 1Password vault [$AWS_VAULT_OP_VAULT_ID]
    #[arg(long, global = true, value_name = "ID")]
    pub op_vault_id: Option<String>,
    /// Prefix to prepend to 1Password item titles [$AWS_VAULT_OP_ITEM_TITLE_PREFIX]
    #[arg(long, global = true, value_name = "PREFIX")]
    pub op_item_title_prefix: Option<String>,
    /// Tag to apply to 1Password items [$AWS_VAULT_OP_ITEM_TAG]
    #[arg(long, global = true, value_name = "TAG")]
    pub op_item_tag: Option<String>,
    /// 1Password Connect server HTTP(S) URI [$AWS_VAULT_OP_CONNECT_HOST]
    #[arg(long, global = true, value_name = "URL")]
    pub op_connect_host: Option<String>,
    /// 1Password account for the desktop app integration [$AWS_VAULT_OP_DESKTOP_ACCOUNT_ID]
    #[arg(long, global = true, value_name = "ID")]
    pub op_desktop_account_id: Option<String>,
    /// Proton Pass share id [$AWS_VAULT_PROTON_PASS_SHARE_ID]
    #[arg(long, global = true, value_name = "ID", hide = true)]
    pub proton_pass_share_id: Option<String>,
    /// Proton Pass item title prefix [$AWS_VAULT_PROTON_PASS_ITEM_TITLE_PREFIX]
    #[arg(long, global = true, value_name = "PREFIX", hide = true)]
    pub proton_pass_item_title_prefix: Option<String>,
    /// Proton Pass API base URL [$AWS_VAULT_PROTON_PASS_API_BASE]
    #[arg(long, global = true, value_name = "URL", hide = true)]
    pub proton_pass_api_base: Option<String>,
    /// Proton Pass API timeout [$AWS_VAULT_PROTON_PASS_TIMEOUT]
    #[arg(long, global = true, value_name = "DURATION", hide = true)]
    pub proton_pass_timeout: Option<String>,
    /// Use Touch ID to unlock the macOS keychain [$AWS_VAULT_BIOMETRICS]
    #[arg(long, global = true)]
    pub biometrics: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Add credentials to the secure keystore.
    Add(add::AddArgs),
    /// Remove credentials from the secure keystore.
    #[command(alias = "rm")]
    Remove(remove::RemoveArgs),
    /// Migrate credentials from one keyring backend to another.
    MigrateBackend(migrate_backend::MigrateBackendArgs),
    /// List profiles, along with their credentials and sessions.
    #[command(alias = "ls")]
    List(list::ListArgs),
    /// Rotate credentials.
    Rotate(rotate::RotateArgs),
    /// Execute a command with AWS credentials.
    Exec(exec::ExecArgs),
    /// Export AWS credentials.
    Export(export::ExportArgs),
    /// Clear temporary credentials from the secure keystore.
    Clear(clear::ClearArgs),
    /// Generate a login link for the AWS Console.
    Login(login::LoginArgs),
    /// Run the EC2 metadata proxy on 169.254.169.254:80 (started by `exec --ec2-server`).
    #[command(hide = true, alias = "server")]
    Proxy(proxy::ProxyArgs),
    /// Add a profile for every account and role of an IAM Identity Center user.
    SsoProfiles(sso_profiles::SsoProfilesArgs),
    /// Explain the setup and what is wrong with it, one finding per line with the fix.
    Doctor(doctor::DoctorArgs),
    /// Show version.
    Version,
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Add(_) => "add",
            Command::Remove(_) => "remove",
            Command::MigrateBackend(_) => "migrate-backend",
            Command::Rotate(_) => "rotate",
            Command::Login(_) => "login",
            Command::List(_) => "list",
            Command::Exec(_) => "exec",
            Command::Export(_) => "export",
            Command::Clear(_) => "clear",
            Command::Proxy(_) => "proxy",
            Command::Doctor(_) => "doctor",
            Command::SsoProfiles(_) => "sso-profiles",
            Command::Version => "version",
        }
    }
}

/// Boolean flags that accept kingpin's `--no-<name>` negation: every `--flag` of the command
/// line (global or of any command) that takes no value. Derived from the clap definition, so a
/// new flag is negatable without further work. `add-config` keeps its own real
/// `--no-add-config` flag (it defaults to true in the Go tool); `--no-session`-style flags are
/// flags of their own and are not negations.
fn negatable(cli: &clap::Command) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let args = cli
        .get_arguments()
        .chain(cli.get_subcommands().flat_map(|c| c.get_arguments()));
    for arg in args {
        let Some(long) = arg.get_long() else { continue };
        let is_switch = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        if is_switch
            && !long.starts_with("no-")
            && long != "version"
            && !names.iter().any(|n| n == long)
        {
            names.push(long.to_string());
        }
    }
    names
}

/// What the pre-processing learned: flags negated with `--no-<name>` (which therefore must
/// not fall back to their environment variable).
#[derive(Debug, Default, Clone)]
pub struct Negated(Vec<String>);

impl Negated {
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|n| n == name)
    }
}

/// Rewrite argv the way kingpin reads it, before clap sees it:
/// `@file` arguments expand to the file's non-blank, non-`#` lines, and `--no-<flag>` negates a
/// boolean flag (last occurrence wins). Nothing after `--` is touched.
fn preprocess(
    args: Vec<OsString>,
    negatable: &[String],
) -> Result<(Vec<OsString>, Negated), String> {
    let mut expanded = Vec::with_capacity(args.len());
    let mut after_dashes = false;
    for (i, arg) in args.into_iter().enumerate() {
        let text = arg.to_str();
        if i > 0 && !after_dashes {
            if text == Some("--") {
                after_dashes = true;
            } else if let Some(name) = text.and_then(|t| t.strip_prefix('@')) {
                let content = std::fs::read_to_string(name)
                    .map_err(|e| format!("failed to open arguments file \"{name}\": {e}"))?;
                expanded.extend(
                    content
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(OsString::from),
                );
                continue;
            }
        }
        expanded.push(arg);
    }

    let mut negated = Negated::default();
    for name in negatable {
        let end = expanded
            .iter()
            .position(|a| a == "--")
            .unwrap_or(expanded.len());
        let on = format!("--{name}");
        let off = format!("--no-{name}");
        let last = expanded[..end]
            .iter()
            .rposition(|a| a.to_str() == Some(on.as_str()) || a.to_str() == Some(off.as_str()));
        let Some(last) = last else { continue };
        let last_is_off = expanded[last].to_str() == Some(off.as_str());
        // `add-config` keeps its real `--no-add-config` flag; for the others a negation
        // simply removes every occurrence.
        let keep_off = name == "add-config";
        let (head, tail) = expanded.split_at(end);
        let mut kept: Vec<OsString> = head
            .iter()
            .enumerate()
            .filter(|(i, a)| {
                let a = a.to_str();
                if last_is_off {
                    !(a == Some(on.as_str())
                        || (a == Some(off.as_str()) && (!keep_off || *i != last)))
                } else {
                    a != Some(off.as_str())
                }
            })
            .map(|(_, a)| a.clone())
            .collect();
        kept.extend_from_slice(tail);
        expanded = kept;
        if last_is_off {
            negated.0.push(name.clone());
        }
    }
    Ok((expanded, negated))
}

/// The program name used as the prefix of parse errors: the invoked file's base name.
fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "aws-vault".to_string())
}

/// Profile names for shell completion (the same list as `list --profiles`); none on error.
fn completion_profiles() -> Vec<String> {
    let env: crate::config::Env = std::env::vars().collect();
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    let Some(home) = env
        .get(var)
        .filter(|h| !h.is_empty())
        .map(std::path::PathBuf::from)
    else {
        return Vec::new();
    };
    crate::config::ConfigFile::load(&crate::config::config_path(&env, &home))
        .map(|c| c.profile_names())
        .unwrap_or_default()
}

/// Print a setup error in kingpin's shape and return the exit code.
fn usage_error(message: &str) -> i32 {
    eprintln!("{}: error: {message}, try --help", program_name());
    1
}

/// Run the program with the process's arguments and environment; returns the exit code.
pub fn main() -> i32 {
    run(std::env::args_os().collect())
}

/// Run with explicit arguments (argv[0] included).
pub fn run(args: Vec<OsString>) -> i32 {
    use clap::{CommandFactory, FromArgMatches};
    // The clap definition is built once and serves completion, negation, parsing and help.
    let mut definition = Cli::command().after_help(crate::keyring::help_text());
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let Some(out) = completion::handle(&definition, &words, completion_profiles) {
        print!("{out}");
        return 0;
    }
    let (args, negated) = match preprocess(args, &negatable(&definition)) {
        Ok(v) => v,
        Err(e) => return usage_error(&e),
    };
    let cli = match definition
        .try_get_matches_from_mut(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    if cli.version {
        eprintln!("{VERSION}");
        return 0;
    }
    let Some(command) = cli.command else {
        let _ = definition.write_help(&mut std::io::stderr());
        return 0;
    };
    if let Command::Version = command {
        return version::run();
    }

    let settings = match Settings::from_process(cli.global, &negated) {
        Ok(s) => s,
        Err(e) => return e.report(),
    };
    if settings.debug {
        crate::log::enable();
    }

    let name = command.name();
    let result = match command {
        Command::Add(a) => add::run(&settings, a),
        Command::Remove(a) => remove::run(&settings, a),
        Command::MigrateBackend(a) => migrate_backend::run(&settings, a),
        Command::Rotate(a) => rotate::run(&settings, a),
        Command::Login(a) => login::run(&settings, a),
        Command::List(a) => list::run(&settings, a),
        Command::Exec(a) => exec::run(&settings, a),
        Command::Export(a) => export::run(&settings, a),
        Command::Clear(a) => clear::run(&settings, a),
        Command::Proxy(a) => proxy::run(&settings, a),
        Command::Doctor(a) => doctor::run(&settings, a),
        Command::SsoProfiles(a) => sso_profiles::run(&settings, a),
        Command::Version => Ok(version::run()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("aws-vault: error: {name}: {}", one_line(&e));
            1
        }
    }
}

/// An error's message with its causes, on one line.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out.replace('\n', " ")
}

/// What a command returns: its exit code, or an error printed as
/// `aws-vault: error: <command>: <message>`.
pub type CommandResult = anyhow::Result<i32>;

fn clap_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", e.render());
            0
        }
        ErrorKind::DisplayVersion => {
            eprintln!("{VERSION}");
            0
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments")
                .trim();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            usage_error(first)
        }
    }
}

pub use crate::text::go_quote;

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        use clap::CommandFactory;
        negatable(&Cli::command())
    }

    fn pre(args: &[&str]) -> (Vec<String>, Vec<String>) {
        let (out, neg) = preprocess(args.iter().map(OsString::from).collect(), &names()).unwrap();
        (
            out.into_iter().map(|a| a.into_string().unwrap()).collect(),
            neg.0,
        )
    }

    #[test]
    fn negation_last_wins() {
        assert_eq!(
            pre(&["aws-vault", "--debug", "list", "--no-debug"]),
            (
                vec!["aws-vault".into(), "list".into()],
                vec!["debug".into()]
            )
        );
        assert_eq!(
            pre(&["aws-vault", "--no-debug", "list", "--debug"]).0,
            ["aws-vault", "list", "--debug"]
        );
        assert_eq!(
            pre(&["aws-vault", "add", "--add-config", "--no-add-config", "p"]).0,
            ["aws-vault", "add", "--no-add-config", "p"]
        );
        assert_eq!(
            pre(&["aws-vault", "add", "--no-add-config", "--add-config", "p"]).0,
            ["aws-vault", "add", "--add-config", "p"]
        );
        // `--no-session` is a flag of its own, and nothing after `--` is rewritten.
        assert_eq!(
            pre(&[
                "aws-vault",
                "exec",
                "--no-session",
                "p",
                "--",
                "x",
                "--no-debug"
            ])
            .0,
            [
                "aws-vault",
                "exec",
                "--no-session",
                "p",
                "--",
                "x",
                "--no-debug"
            ]
        );
    }

    #[test]
    fn every_switch_is_negatable() {
        let names = names();
        for name in [
            "debug",
            "biometrics",
            "env",
            "add-config",
            "force",
            "lazy",
            "server",
            "ec2-server",
            "ecs-server",
            "use-device-code",
            "profile-env",
            "stdout",
            "json",
            "auto-logout",
            "dry-run",
            "overwrite",
            "delete-source",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
        assert!(!names.iter().any(|n| n.starts_with("no-")), "{names:?}");
        assert_eq!(
            pre(&["aws-vault", "exec", "--lazy", "--no-lazy", "p"]).0,
            ["aws-vault", "exec", "p"]
        );
    }

    #[test]
    fn at_file_expansion() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("args");
        std::fs::write(&f, "# comment\nlist\n\n  --profiles \n").unwrap();
        let at = format!("@{}", f.display());
        assert_eq!(
            pre(&["aws-vault", &at]).0,
            ["aws-vault", "list", "--profiles"]
        );
        let err =
            preprocess(vec!["aws-vault".into(), "@/nonexistent/x".into()], &names()).unwrap_err();
        assert!(err.starts_with("failed to open arguments file \"/nonexistent/x\""));
    }
}
