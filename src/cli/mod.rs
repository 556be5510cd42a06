//! The command line: global options, argument pre-processing that mimics the Go tool's parser
//! (kingpin), error printing, and dispatch to one thin file per command.
//!
//! Error contract (docs/compatibility.md §1.1): parse and setup errors print
//! `aws-vault: error: <message>, try --help`; errors from a command body print
//! `aws-vault: error: <command>: <message>`. Both exit 1. `exec` exits with its child's code.

mod add;
mod agent;
mod clear;
mod completion;
mod doctor;
mod exec;
mod export;
mod fast;
mod list;
mod login;
mod manual;
mod migrate_backend;
mod picker;
mod proxy;
mod reencrypt;
mod remove;
mod rotate;
mod settings;
mod sso_profiles;
mod version;

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand};

pub use settings::Settings;

/// The version string, made by `build.rs`: `AWS_VAULT_VERSION` at build time if set, else the
/// crate version and the commit (`0.1.0+4ffda8c`), else the crate version alone.
pub const VERSION: &str = env!("AWS_VAULT_BUILD_VERSION");

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

/// Global options (docs/compatibility.md §1.2). Values given on the command line win; otherwise the
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
    /// PBKDF2 iterations for items the "file" backend writes, 8192 (the Go tool's) to 1300000; 600000 is current guidance [$AWS_VAULT_FILE_KDF_ITERATIONS]
    #[arg(long, global = true, value_name = "N")]
    pub file_kdf_iterations: Option<String>,
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
    /// Re-encrypt the file backend's items with --file-kdf-iterations, optionally under a new passphrase.
    Reencrypt(reencrypt::ReencryptArgs),
    /// Run a credential agent: unlock the backend once, serve its items from memory.
    Agent(agent::AgentArgs),
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
            Command::Reencrypt(_) => "reencrypt",
            Command::SsoProfiles(_) => "sso-profiles",
            Command::Agent(_) => "agent",
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

/// Parse the command line as the Go tool would, with one friendlier fallback for `exec`
/// (docs/compatibility.md §1.1, docs/differences.md D2):
///
/// 1. First, kingpin's reading: aws-vault's own flags are recognised anywhere before the first
///    `--`, even after `exec`'s command word (`exec p ls -n` is `--no-session`), and the
///    first `--` is dropped (`exec p cmd -- -x` runs `cmd -x`). Whenever the Go tool accepts a
///    line, this gives its result, `--help` and `--version` included.
/// 2. Only when that reading fails — where the Go tool would stop with a usage error — and the
///    line is an `exec` with a command: everything after the command word goes to the command
///    as it is (`exec p ls -la` runs `ls -la`, where the Go tool says `unknown short flag '-l'`).
///
/// If both fail, the error is the first reading's, in kingpin's words.
///
/// `definition` is turned into the first reading's shape in place, and a fresh copy of the
/// definition is made only for the second reading: cloning the whole command tree up front
/// (and building both) was the largest heap use of every run, hot path included.
fn parse_like_kingpin(
    definition: &mut clap::Command,
    fresh: impl FnOnce() -> clap::Command,
    args: &[OsString],
) -> Result<clap::ArgMatches, clap::Error> {
    let go = std::mem::take(definition).mut_subcommand("exec", |exec| {
        exec.mut_arg("command", |a| {
            a.trailing_var_arg(false).allow_hyphen_values(false)
        })
    });
    *definition = go;
    let go_error = match definition.try_get_matches_from_mut(args) {
        Ok(m) => return Ok(m),
        Err(e) => e,
    };
    use clap::error::ErrorKind;
    if matches!(
        go_error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return Err(go_error);
    }
    // The second reading only matters for an `exec` line.
    if !args.iter().skip(1).any(|a| a == "exec") {
        return Err(go_error);
    }
    match fresh().try_get_matches_from(args) {
        Ok(m) if exec_has_command(&m) => Ok(m),
        _ => Err(go_error),
    }
}

fn exec_has_command(m: &clap::ArgMatches) -> bool {
    m.subcommand_matches("exec").is_some_and(|exec| {
        exec.get_many::<String>("command")
            .is_some_and(|mut c| c.next().is_some())
    })
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
    let Some(home) = crate::config::home_dir(|v| env.get(v).cloned()) else {
        return Vec::new();
    };
    crate::config::ConfigFile::load(&crate::config::config_path(&env, &home))
        .map(|c| c.profile_names())
        .unwrap_or_default()
}

/// An error the Go tool reports in the parser's frame rather than as a command's error: a flag
/// value that does not parse (`--duration abc`), a config file that does not parse, a keyring
/// backend that does not open. Kingpin prints these as `aws-vault: error: <message>, try --help`,
/// without the command name (docs/compatibility.md §1.1), and so do we, wherever a command returns one.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageFailure(pub String);

/// Print a setup error in kingpin's shape and return the exit code.
fn usage_error(message: &str) -> i32 {
    eprintln!("{}: error: {message}, try --help", program_name());
    1
}

/// Run the program with the process's arguments and environment; returns the exit code.
pub fn main() -> i32 {
    run(std::env::args_os().collect())
}

/// Read the command line with clap, the way the Go tool's parser reads it. `Err(code)` when
/// the line was fully handled here: help, the manual, completions, `--version`, a parse error.
fn parse(args: Vec<OsString>) -> Result<(Cli, Negated), i32> {
    use clap::{CommandFactory, FromArgMatches};
    // The clap definition is built once and serves completion, negation, parsing and help.
    let make = || Cli::command().after_help(crate::keyring::help_text());
    let mut definition = make();
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if words.iter().any(|w| w == "--help-man") {
        print!("{}", manual::man_page(&definition));
        return Err(0);
    }
    if words.iter().any(|w| w == "--help-long") {
        eprint!("{}", manual::long_help(&definition));
        return Err(0);
    }
    if let Some(out) = completion::handle(&definition, &words, completion_profiles) {
        print!("{out}");
        return Err(0);
    }
    let (args, negated) = match preprocess(args, &negatable(&definition)) {
        Ok(v) => v,
        Err(e) => return Err(usage_error(&e)),
    };
    let cli = match parse_like_kingpin(&mut definition, make, &args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => return Err(clap_error(e)),
    };
    if cli.version {
        eprintln!("{VERSION}");
        return Err(0);
    }
    if cli.command.is_none() {
        let _ = definition.write_help(&mut std::io::stderr());
        return Err(0);
    }
    Ok((cli, negated))
}

/// Run with explicit arguments (argv[0] included).
pub fn run(args: Vec<OsString>) -> i32 {
    // The hot path's plain `export` lines are read without clap (see `fast`); every other
    // line, and every line with an error, help or anything unusual, goes through clap.
    let (cli, negated) = match fast::parse(&args) {
        Some(cli) => (cli, Negated::default()),
        None => match parse(args) {
            Ok(parsed) => parsed,
            Err(code) => return code,
        },
    };
    let Some(command) = cli.command else {
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
        Command::Reencrypt(a) => reencrypt::run(&settings, a),
        Command::SsoProfiles(a) => sso_profiles::run(&settings, a),
        Command::Agent(a) => agent::run(settings, a),
        Command::Version => Ok(version::run()),
    };
    match result {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<UsageFailure>() {
            Some(setup) => usage_error(&setup.0),
            None => {
                eprintln!("aws-vault: error: {name}: {}", one_line(&e));
                1
            }
        },
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
    escape_controls(&out.replace('\n', " "))
}

/// `s` with every control character written as `\xNN` (`\u{NNNN}` above U+00FF), so a key
/// file or profile named with terminal escape sequences cannot retitle or recolour the terminal
/// when `list` or an error message prints it. Text without control characters is unchanged.
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !c.is_control() {
            out.push(c);
        } else if (c as u32) <= 0xff {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    out
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
        _ => usage_error(&kingpin_message(&e)),
    }
}

/// A parse error in kingpin's words (docs/compatibility.md §1.1), from the parts clap records; clap's own
/// first line when the error has no kingpin counterpart.
fn kingpin_message(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    let values = |kind| match e.get(kind) {
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    };
    // clap names an argument `--format <FORMAT>` or `<PROFILE>`; kingpin `--format`, `profile`.
    let flag_name = |s: &str| s.split([' ', '=']).next().unwrap_or(s).to_string();
    let arg_name = |s: &str| {
        s.trim_matches(|c| c == '<' || c == '>' || c == '.')
            .to_lowercase()
    };
    let kingpin = match e.kind() {
        ErrorKind::UnknownArgument => text(ContextKind::InvalidArg).map(|a| {
            if a.starts_with("--") {
                format!("unknown long flag '{}'", flag_name(&a))
            } else if a.starts_with('-') && a.len() > 1 {
                let short: String = a.chars().take(2).collect();
                format!("unknown short flag '{short}'")
            } else {
                format!("unexpected {a}")
            }
        }),
        ErrorKind::InvalidSubcommand => text(ContextKind::InvalidSubcommand)
            .map(|c| format!("expected command but got {}", go_quote(&c))),
        ErrorKind::InvalidValue => {
            let arg = text(ContextKind::InvalidArg).map(|a| flag_name(&a));
            let value = text(ContextKind::InvalidValue).unwrap_or_default();
            let valid = values(ContextKind::ValidValue);
            match arg {
                Some(arg) if value.is_empty() && valid.is_empty() => {
                    Some(format!("expected argument for flag '{arg}'"))
                }
                _ if !valid.is_empty() => Some(format!(
                    "enum value must be one of {}, got '{value}'",
                    valid.join(",")
                )),
                _ => None,
            }
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = values(ContextKind::InvalidArg);
            let (flags, args): (Vec<&String>, Vec<&String>) =
                missing.iter().partition(|a| a.starts_with('-'));
            if !flags.is_empty() {
                let flags: Vec<String> = flags
                    .iter()
                    .map(|f| format!("'{}'", flag_name(f)))
                    .collect();
                Some(format!(
                    "required flag(s) {} not provided",
                    flags.join(", ")
                ))
            } else {
                args.first()
                    .map(|a| format!("required argument '{}' not provided", arg_name(a)))
            }
        }
        ErrorKind::ArgumentConflict => text(ContextKind::InvalidArg).and_then(|a| {
            let name = flag_name(&a);
            let name = name.trim_start_matches('-');
            (text(ContextKind::PriorArg).map(|p| flag_name(&p).trim_start_matches('-') == name)
                == Some(true))
            .then(|| format!("flag '{name}' cannot be repeated"))
        }),
        _ => None,
    };
    kingpin.unwrap_or_else(|| {
        let rendered = e.render().to_string();
        let first = rendered
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid arguments")
            .trim();
        first.strip_prefix("error: ").unwrap_or(first).to_string()
    })
}

pub use crate::gofmt::quote::go_quote;

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
