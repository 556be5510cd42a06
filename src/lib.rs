//! aws-vault: keeps long-term AWS keys in a secret store and hands out short-lived credentials.
//!
//! The flow of every command, left to right (`docs/architecture.md` has the module layers):
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
//! * [`keyring`] is the `Keyring` trait and its backends (file, desktop stores, pass, keychain, 1Password).
//! * [`store`] gives typed views over a keyring: master credentials, cached sessions, OIDC tokens.
//! * [`creds`] holds the credential request, the chain planner, the cached executor with its
//!   cross-process lock, and one file per provider (STS, web identity, `credential_process`,
//!   IAM Identity Center); [`credentials`] is the `Credentials` value itself (a leaf).
//! * [`mfa`] gets MFA codes: `--mfa-token`, `mfa_process`, terminal and GUI/ykman drivers.
//! * [`aws`] builds AWS SDK clients, lazily (only paths that call AWS pay for TLS setup).
//! * [`process`] builds the child environment and runs the child for `exec`.
//! * [`gofmt`] writes the byte-exact Go formats: `encoding/json` strings, `%q`, time layouts.
//! * [`ops`] holds the cores of the commands that are more than a call: console login, key
//!   rotation, backend migration, `doctor`, `sso-profiles`; [`iam`] holds the IAM calls.
//! * [`agent`] is the optional credential agent: one unlock, items served from memory over a
//!   per-user socket.
//! * [`server`] runs the ECS and EC2 credential servers and the 169.254.169.254 proxy.

pub mod agent;
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
