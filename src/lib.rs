//! aws-vault: keeps long-term AWS keys in a secret store and hands out short-lived credentials.
//!
//! The flow of every command, left to right (see `design.md` in the project's shared notes):
//!
//! ```text
//! argv + env -> cli::Settings -> config::ConfigFile -> config::ProfileConfig
//!                  |                                       |
//!                  +-> keyring::open -> store::* ----------+-> creds::chain::plan
//!                                                              -> creds::cached::Executor::retrieve
//!                                                              -> Credentials -> deliver
//! ```
//!
//! * [`cli`] parses the command line and hosts one thin file per command.
//! * [`config`] parses `~/.aws/config` and resolves a profile (pure: the environment is a value).
//! * [`keyring`] is the `Keyring` trait and its backends (the encrypted file backend today).
//! * [`store`] gives typed views over a keyring: master credentials, cached sessions, OIDC tokens.
//! * [`creds`] holds the `Credentials` value, the chain planner, the cached executor with its
//!   cross-process lock, and one file per provider (STS, web identity, `credential_process`).
//! * [`mfa`] gets MFA codes: `--mfa-token`, `mfa_process`, terminal and GUI/ykman drivers.
//! * [`aws`] builds AWS SDK clients, lazily (only paths that call AWS pay for TLS setup).
//! * [`process`] builds the child environment and runs the child for `exec`.
//! * [`gofmt`] writes the byte-exact Go formats: `encoding/json` strings, `%q`, time layouts.
//! * [`login`] builds the console sign-in URL (every partition) and fetches the sign-in token;
//!   [`rotate`] and [`migrate`] are the cores of `rotate` and `migrate-backend` (over the
//!   `Keyring` trait, unit-tested with an in-memory keyring); [`iam`] holds the IAM calls.

pub mod aws;
pub mod browser;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod creds;
pub mod gofmt;
pub mod iam;
pub mod keyring;
pub mod log;
pub mod mfa;
pub mod ops;
pub mod process;
pub mod prompt;
pub mod random;
pub mod server;
pub mod store;
#[cfg(test)]
pub(crate) mod test_keyring;
pub mod which;
