//! The one home for every byte-exact format shared with the Go tool, so that each rule is
//! written (and tested) once:
//!
//! * [`json`]: JSON string literals escaped as Go's `encoding/json` escapes them (keyring
//!   payloads, the credential servers' bodies, `export --format=json`, the SSO token cache).
//! * [`quote`]: Go's `%q` quoting, and `<escape>XX` hex unescaping of file names and paths.
//! * [`time`]: Go's time layouts (ISO-UTC for expirations, RFC 3339 with nanoseconds for
//!   keyring payloads).
//!
//! Duration syntax lives with the configuration in `config::duration`, which parses it.

pub mod json;
pub mod quote;
pub mod time;
