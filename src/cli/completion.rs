//! Shell completion, kingpin style (docs/compatibility.md §1.1): `--completion-script-bash` and
//! `--completion-script-zsh` print a script that calls back `aws-vault --completion-bash
//! <words...>`, which prints the candidates one per line (no trailing newline). The words come
//! from the clap definition, so new commands and flags complete without extra work.
use clap::{Arg, Command};

/// Whether `cmd`'s first positional argument is an existing profile's name (its id is
/// `profile`). `add` names a new profile, so it offers none, as in the Go tool.
fn takes_profile(cmd: &Command) -> bool {
    cmd.get_name() != "add"
        && cmd
            .get_positionals()
            .next()
            .is_some_and(|a| a.get_id() == "profile")
}

const BASH_SCRIPT: &str = r#"_aws-vault_bash_autocomplete() {
    local cur prev opts base
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    opts=$( ${COMP_WORDS[0]} --completion-bash "${COMP_WORDS[@]:1:$COMP_CWORD}" )
    COMPREPLY=( $(compgen -W "${opts}" -- ${cur}) )
    return 0
}
complete -F _aws-vault_bash_autocomplete -o default aws-vault
"#;

/// zsh runs the bash function through bashcompinit, as kingpin's zsh script does.
const ZSH_PREAMBLE: &str = "#compdef aws-vault\nautoload -U compinit && compinit\nautoload -U bashcompinit && bashcompinit\n\n";

/// fish: every candidate comes from `aws-vault --completion-bash <words so far>`, so fish
/// completes exactly what bash and zsh complete (commands, flags, enum values, profiles).
const FISH_SCRIPT: &str = r#"function __aws_vault_complete
    set -l words (commandline -opc)
    set -e words[1]
    aws-vault --completion-bash $words (commandline -ct)
end
complete -c aws-vault -f -a '(__aws_vault_complete)'
"#;

/// PowerShell: the same call-back, through a native argument completer.
const POWERSHELL_SCRIPT: &str = r#"Register-ArgumentCompleter -Native -CommandName aws-vault, aws-vault.exe -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })
    if ($wordToComplete -eq '') { $words += '' }
    & aws-vault --completion-bash @words | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
        [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
    }
}
"#;

/// Handle the completion flags if present in `args` (argv without the program name).
/// Returns `None` when `args` is not a completion request.
pub fn handle(
    cli: &Command,
    args: &[String],
    profiles: impl FnOnce() -> Vec<String>,
) -> Option<String> {
    if args.iter().any(|a| a == "--completion-script-bash") {
        return Some(BASH_SCRIPT.to_string());
    }
    if args.iter().any(|a| a == "--completion-script-zsh") {
        return Some(format!("{ZSH_PREAMBLE}{BASH_SCRIPT}"));
    }
    if args.iter().any(|a| a == "--completion-script-fish") {
        return Some(FISH_SCRIPT.to_string());
    }
    if args.iter().any(|a| a == "--completion-script-powershell") {
        return Some(POWERSHELL_SCRIPT.to_string());
    }
    let pos = args.iter().position(|a| a == "--completion-bash")?;
    let words: Vec<&str> = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != pos)
        .map(|(_, a)| a.as_str())
        .collect();
    Some(candidates(cli, &words, profiles).join("\n"))
}

fn visible_long(arg: &Arg) -> Option<String> {
    if arg.is_hide_set() || arg.is_positional() {
        return None;
    }
    arg.get_long().map(|l| format!("--{l}"))
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_num_args().is_some_and(|n| n.takes_values()) || arg.get_action().takes_values()
}

/// The candidates for the word being completed (the last of `words`, possibly empty).
fn candidates(
    cli: &Command,
    words: &[&str],
    profiles: impl FnOnce() -> Vec<String>,
) -> Vec<String> {
    let current = words.last().copied().unwrap_or("");
    let done = &words[..words.len().saturating_sub(1)];

    let find_arg = |cmd: Option<&Command>, long: &str| -> Option<Arg> {
        cmd.into_iter()
            .flat_map(|c| c.get_arguments())
            .chain(cli.get_arguments())
            .find(|a| a.get_long() == Some(long))
            .cloned()
    };

    // Walk the finished words: find the command and count its positionals.
    let mut command: Option<&Command> = None;
    let mut positionals = 0;
    let mut skip_value = false;
    for w in done {
        if skip_value {
            skip_value = false;
            continue;
        }
        if let Some(long) = w.strip_prefix("--") {
            if !long.contains('=') {
                skip_value = find_arg(command, long).is_some_and(|a| takes_value(&a));
            }
            continue;
        }
        if w.starts_with('-') && w.len() > 1 {
            continue;
        }
        match command {
            None => {
                command = cli
                    .get_subcommands()
                    .find(|c| c.get_name() == *w || c.get_all_aliases().any(|a| a == *w));
            }
            Some(_) => positionals += 1,
        }
    }

    // The value of a flag: its enum values, if any.
    if let Some(prev) = done.last().and_then(|w| w.strip_prefix("--")) {
        if let Some(arg) = find_arg(command, prev).filter(takes_value) {
            // `--backend` is an enum flag in the Go tool; here its names are checked by the
            // keyring module, so its values come from there.
            if arg.get_id() == "backend" {
                return crate::keyring::available_backends()
                    .into_iter()
                    .map(String::from)
                    .collect();
            }
            return arg
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_string())
                .collect();
        }
    }
    if current.starts_with('-') {
        let own = command.into_iter().flat_map(|c| c.get_arguments());
        return own
            .chain(cli.get_arguments())
            .filter_map(visible_long)
            .collect();
    }
    match command {
        // kingpin lists its own `help` command first.
        None => std::iter::once("help".to_string())
            .chain(
                cli.get_subcommands()
                    .filter(|c| !c.is_hide_set() && c.get_name() != "help")
                    .map(|c| c.get_name().to_string()),
            )
            .collect(),
        Some(c) if takes_profile(c) && positionals == 0 => profiles(),
        Some(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn complete(words: &[&str]) -> Vec<String> {
        let cli = super::super::Cli::command();
        candidates(&cli, words, || vec!["dev".into(), "prod".into()])
    }

    #[test]
    fn commands_flags_values_and_profiles() {
        let cmds = complete(&[""]);
        assert!(cmds.contains(&"exec".to_string()) && cmds.contains(&"list".to_string()));
        assert!(
            !cmds.contains(&"proxy".to_string()),
            "hidden commands are not offered"
        );
        assert_eq!(complete(&["exec", ""]), ["dev", "prod"]);
        assert_eq!(complete(&["rm", ""]), ["dev", "prod"]);
        assert!(complete(&["exec", "dev", ""]).is_empty());
        assert!(complete(&["list", ""]).is_empty());
        let flags = complete(&["export", "--"]);
        assert!(flags.contains(&"--format".to_string()), "{flags:?}");
        assert!(
            flags.contains(&"--backend".to_string()),
            "global flags too: {flags:?}"
        );
        assert!(
            flags.iter().position(|f| f == "--format")
                < flags.iter().position(|f| f == "--backend")
        );
        assert_eq!(
            complete(&["export", "--format", ""]),
            [
                "env",
                "export-env",
                "json",
                "ini",
                "fish",
                "powershell",
                "cmd"
            ]
        );
        // A flag's value is not mistaken for the profile.
        assert_eq!(
            complete(&["--backend", "file", "exec", ""]),
            ["dev", "prod"]
        );
        assert_eq!(
            complete(&["exec", "--region", "eu-west-1", ""]),
            ["dev", "prod"]
        );
    }

    #[test]
    fn scripts() {
        let cli = super::super::Cli::command();
        let bash = handle(&cli, &["--completion-script-bash".into()], Vec::new).unwrap();
        assert!(bash.contains("--completion-bash"));
        let zsh = handle(&cli, &["--completion-script-zsh".into()], Vec::new).unwrap();
        assert!(zsh.contains("bashcompinit"));
        assert!(handle(&cli, &["list".into()], Vec::new).is_none());
    }
}
