//! The command line of the hot path, read without building the clap definition.
//!
//! Every AWS SDK that uses aws-vault as its `credential_process` runs `aws-vault export
//! --format=json PROFILE` (sometimes with `--no-session`, `--region`, `--duration` or a global
//! flag such as `--backend`), and that line is the most frequent one of a user's day. Building
//! clap's definition of the whole command line — every command, with the 22 global flags
//! copied into each — cost more than a millisecond and half a megabyte of freshly touched heap
//! per run: about a third of the hot path (measured in `docs/performance.md`).
//!
//! So [`parse`] reads the plain forms of an `export` line itself and gives the same [`Cli`]
//! value clap would. It accepts only what it fully understands: long flags of `export` and the
//! global value flags in `--name=value` or `--name value` form, `-n`, `--debug`, and one profile
//! name after `export`, each at most once. Anything else — another command, help, `--version`,
//! `--no-<flag>` negations, `@file` arguments, `--`, short flag clusters, repeated flags, values
//! that start with `-`, unknown flags — returns `None`, and the caller parses the line with clap
//! as before, so errors and help keep clap's (and kingpin's) exact words. The unit tests check
//! the two readings agree on a large set of lines.
use std::ffi::OsString;

use super::export::{CredentialArgs, ExportArgs, Format};
use super::{Cli, Command, GlobalArgs};

/// The global flags that take a value, with where the value goes.
fn global_value<'a>(g: &'a mut GlobalArgs, name: &str) -> Option<&'a mut Option<String>> {
    Some(match name {
        "backend" => &mut g.backend,
        "prompt" => &mut g.prompt,
        "keychain" => &mut g.keychain,
        "secret-service-collection" => &mut g.secret_service_collection,
        "pass-dir" => &mut g.pass_dir,
        "pass-cmd" => &mut g.pass_cmd,
        "pass-prefix" => &mut g.pass_prefix,
        "file-dir" => &mut g.file_dir,
        "file-kdf-iterations" => &mut g.file_kdf_iterations,
        "op-timeout" => &mut g.op_timeout,
        "op-vault-id" => &mut g.op_vault_id,
        "op-item-title-prefix" => &mut g.op_item_title_prefix,
        "op-item-tag" => &mut g.op_item_tag,
        "op-connect-host" => &mut g.op_connect_host,
        "op-desktop-account-id" => &mut g.op_desktop_account_id,
        _ => return None,
    })
}

/// `export`'s flags that take a value.
fn export_value<'a>(c: &'a mut CredentialArgs, name: &str) -> Option<&'a mut Option<String>> {
    Some(match name {
        "duration" => &mut c.duration,
        "region" => &mut c.region,
        "mfa-token" => &mut c.mfa_token,
        _ => return None,
    })
}

/// `--format`'s values, as clap's `ValueEnum` spells them.
fn format(value: &str) -> Option<Format> {
    Some(match value {
        "env" => Format::Env,
        "export-env" => Format::ExportEnv,
        "json" => Format::Json,
        "ini" => Format::Ini,
        "fish" => Format::Fish,
        "powershell" => Format::Powershell,
        "cmd" => Format::Cmd,
        _ => return None,
    })
}

/// Set a boolean flag once; a second occurrence is clap's to report.
fn set_once(flag: &mut bool) -> Option<()> {
    if *flag {
        return None;
    }
    *flag = true;
    Some(())
}

/// The `Cli` clap would make of `args` (argv\[0\] included), or `None` when the line is not a
/// plain `export` line (see the module documentation).
pub fn parse(args: &[OsString]) -> Option<Cli> {
    let mut global = GlobalArgs::default();
    let mut creds = CredentialArgs::default();
    let mut fmt: Option<Format> = None;
    let mut profile: Option<String> = None;
    let mut seen_export = false;

    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        if let Some(flag) = word.strip_prefix("--") {
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (flag, None),
            };
            match name {
                "debug" if inline.is_none() => set_once(&mut global.debug)?,
                "no-session" if seen_export && inline.is_none() => set_once(&mut creds.no_session)?,
                "stdout" if seen_export && inline.is_none() => set_once(&mut creds.stdout)?,
                "use-device-code" if seen_export && inline.is_none() => {
                    set_once(&mut creds.use_device_code)?
                }
                _ => {
                    // A flag that takes a value: `--name=value` or `--name value`.
                    let value = match inline {
                        Some(v) => v,
                        None => words.next()?.to_str()?,
                    };
                    if value.is_empty() || value.starts_with('-') {
                        return None;
                    }
                    if name == "format" && seen_export {
                        if fmt.is_some() {
                            return None;
                        }
                        fmt = Some(format(value)?);
                        continue;
                    }
                    let slot = match global_value(&mut global, name) {
                        Some(slot) => slot,
                        None if seen_export => export_value(&mut creds, name)?,
                        None => return None,
                    };
                    if slot.is_some() {
                        return None;
                    }
                    *slot = Some(value.to_string());
                }
            }
        } else if word == "-n" && seen_export {
            set_once(&mut creds.no_session)?;
        } else if word.starts_with('-') || word.starts_with('@') || word.is_empty() {
            return None;
        } else if !seen_export {
            if word != "export" {
                return None;
            }
            seen_export = true;
        } else if profile.is_none() {
            profile = Some(word.to_string());
        } else {
            return None;
        }
    }
    if !seen_export {
        return None;
    }
    Some(Cli {
        global,
        version: false,
        command: Some(Command::Export(ExportArgs {
            profile,
            format: fmt.unwrap_or(Format::Env),
            creds,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clap_reading(line: &[&str]) -> Option<String> {
        use clap::{CommandFactory, FromArgMatches};
        let args: Vec<OsString> = std::iter::once("aws-vault")
            .chain(line.iter().copied())
            .map(OsString::from)
            .collect();
        let mut definition = Cli::command();
        let (args, negated) =
            super::super::preprocess(args, &super::super::negatable(&definition)).ok()?;
        let m = definition.try_get_matches_from_mut(&args).ok()?;
        if !negated.0.is_empty() {
            return None;
        }
        Some(format!("{:?}", Cli::from_arg_matches(&m).ok()?))
    }

    fn fast_reading(line: &[&str]) -> Option<String> {
        let args: Vec<OsString> = std::iter::once("aws-vault")
            .chain(line.iter().copied())
            .map(OsString::from)
            .collect();
        parse(&args).map(|cli| format!("{cli:?}"))
    }

    /// Whenever the fast reading answers, clap answers the same.
    #[track_caller]
    fn agrees(line: &[&str]) -> bool {
        let fast = fast_reading(line);
        if let Some(f) = &fast {
            assert_eq!(Some(f), clap_reading(line).as_ref(), "line {line:?}");
        }
        fast.is_some()
    }

    #[test]
    fn the_hot_path_lines_are_read_without_clap() {
        for line in [
            &["export", "--format=json", "prod"][..],
            &["export", "--format", "json", "prod"],
            &["export", "--no-session", "--format=json", "prod"],
            &["export", "-n", "--format=json", "prod"],
            &["export", "prod", "--format=json", "--region=eu-west-1"],
            &["--backend=file", "export", "--format=json", "prod"],
            &["--backend", "pass", "export", "--format=json", "prod"],
            &["export", "--format=json", "prod", "--debug"],
            &["--debug", "export", "--format=ini", "--duration=2h", "p"],
            &["export", "--format=env", "--mfa-token", "123456", "p"],
            &["export", "p"],
            &["export"],
            &["export", "--stdout", "--use-device-code", "p"],
            &[
                "export",
                "--file-dir=/tmp/x",
                "p",
                "--secret-service-collection",
                "c",
            ],
        ] {
            assert!(agrees(line), "{line:?} should take the fast path");
        }
    }

    #[test]
    fn everything_else_is_left_to_clap() {
        for line in [
            &["exec", "p", "--", "true"][..],
            &["export", "--format=yaml", "p"],
            &["export", "--format=json", "a", "b"],
            &["export", "--format=json", "--format=env", "p"],
            &["export", "--no-session", "--no-session", "p"],
            &["export", "--no-debug", "p"],
            &["export", "--help"],
            &["export", "-h"],
            &["--version"],
            &["-v", "export", "p"],
            &["export", "@args.txt"],
            &["export", "--", "p"],
            &["export", "-nt", "123456", "p"],
            &["export", "-d", "1h", "p"],
            &["export", "--region", "--format=json", "p"],
            &["export", "--region="],
            &["export", "--bogus", "p"],
            &["--format=json", "export", "p"],
            &["--no-session", "export", "p"],
            &["-n", "export", "p"],
            &["export", "--debug=yes", "p"],
            &["list"],
            &["p", "export"],
            &[],
        ] {
            assert!(!agrees(line), "{line:?} must go to clap");
        }
    }

    /// Random lines from the vocabulary of both readings, each checked for agreement.
    #[test]
    fn random_lines_agree() {
        let vocab = [
            "export",
            "exec",
            "p",
            "q",
            "--format=json",
            "--format",
            "json",
            "ini",
            "--debug",
            "--no-session",
            "-n",
            "--region",
            "eu-west-1",
            "--duration=1h",
            "--backend=file",
            "--backend",
            "file",
            "--mfa-token",
            "123456",
            "--stdout",
            "--no-debug",
            "-d",
            "-t",
            "--",
            "--prompt=terminal",
            "--use-device-code",
            "--format=bad",
            "--region=",
            "--version",
            "-h",
            "--pass-prefix",
            "x",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut fast = 0;
        for _ in 0..4000 {
            let n = (next() % 7) as usize;
            let line: Vec<&str> = (0..n)
                .map(|_| vocab[(next() % vocab.len() as u64) as usize])
                .collect();
            if agrees(&line) {
                fast += 1;
            }
        }
        // The generator reaches the fast path often enough for the check to mean something.
        assert!(fast > 20, "only {fast} lines took the fast path");
    }
}
