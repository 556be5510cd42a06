//! aws-vault: keeps long-term AWS keys in a secret store and hands out short-lived credentials.
//!
//! The flow of every command, left to right (see `design.md` in the project's shared notes):
//!
//! ```text
//! argv + env -> cli::Settings -> config::ConfigFile -> config::ProfileConfig
//!                  |                                       |
//!                  +-> keyring::open -> store::* ----------+-> creds (provider) -> deliver
//! ```
//!
//! * [`cli`] parses the command line and hosts one thin file per command.
//! * [`config`] parses `~/.aws/config` and resolves a profile (pure: the environment is a value).
//! * [`keyring`] is the `Keyring` trait and its backends (the encrypted file backend today).
//! * [`store`] gives typed views over a keyring: master credentials, cached sessions, OIDC tokens.
//! * [`creds`] holds the `Credentials` value and the ways of getting credentials.
//! * [`process`] builds the child environment and runs the child for `exec`.

pub mod aws;
pub mod cli;
pub mod config;
pub mod creds;
pub mod keyring;
pub mod log;
pub mod mfa;
pub mod process;
pub mod prompt;
pub mod store;
pub mod timefmt;
