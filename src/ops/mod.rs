//! The cores of the commands that are more than one library call, grouped the way uv groups its
//! operations: each takes typed inputs (resolved profiles, a keyring, credentials), does the work,
//! and reports progress through a writer it is given. None of them parses flags or reads the
//! process environment; the command files in `cli/` do that and call in here.
//!
//! * [`doctor`]: the setup checks, each finding one line with its fix;
//! * [`login`]: the console sign-in URL for every partition, and whether credentials must first
//!   be turned into a federation session;
//! * [`rotate`]: key rotation over the whole `source_profile` chain;
//! * [`migrate`]: copying items between keyring backends;
//! * [`sso_profiles`]: profiles for every IAM Identity Center account and role.
pub mod doctor;
pub mod login;
pub mod migrate;
pub mod rotate;
pub mod sso_profiles;
