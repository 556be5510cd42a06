//! The agent's wire format, version 1 (documented for other implementations in `docs/agent.md`).
//!
//! A message is a frame: a 4-byte big-endian length, then that many bytes of body. A body is one
//! tag byte and zero or more fields, each a 4-byte big-endian length and its bytes. Binary on
//! purpose: an item travels as its Go Item JSON (the bytes the backends store), copied once into
//! the frame, with no intermediate text encoding that would leave unzeroized copies of the secret
//! behind. Every buffer that may hold a secret is [`Zeroizing`].
//!
//! Requests (client to agent) and their answers:
//!
//! | tag | request | fields | answer |
//! | --- | --- | --- | --- |
//! | `H` | hello | protocol version | `O`: version, backend, identity, pid, state (`ready`/`locked`), features |
//! | `G` | get | key | `O`: item JSON, or an error |
//! | `S` | set | item JSON | `O` |
//! | `R` | remove | key | `O` |
//! | `K` | keys | — | `O`: one field per key |
//! | `A` | keys among | the prefix expected next (may be empty), then names | `O`: `all` or `found`, then one field per key |
//! | `P` | first with prefix | prefix | `O`: the item JSON, or no field when there is none |
//! | `T` | retain own | keys | `O`: the keys kept |
//! | `Q` | status | — | `O`: `name=value` fields (no secrets) |
//! | `X` | stop | — | `O`, then the agent wipes and exits |
//!
//! `features` is `search` when the backend finds items by search rather than by listing them (the
//! Secret Service): `A` and `P` then save the client a listing of the store; otherwise the client
//! lists with `K` as before. An agent from before `features` sends five fields, and its clients
//! never send `A` or `P`.
//!
//! Errors: `N` not found; `D` decrypt failure (path); `C` corrupt item (path, reason); `I` I/O
//! error (path, message); `E` anything else (message). The first request on a connection must be
//! hello; a hello with another version gets `E` and the connection is closed.
use std::io::{self, Read, Write};

use zeroize::Zeroizing;

use crate::keyring::Error;

/// The version this build speaks.
pub const VERSION: u32 = 1;
/// Frames larger than this are refused (real items are a few KiB; a key listing of thousands of
/// items stays far below).
pub const MAX_FRAME: usize = 4 * 1024 * 1024;

pub const HELLO: u8 = b'H';
pub const GET: u8 = b'G';
pub const SET: u8 = b'S';
pub const REMOVE: u8 = b'R';
pub const KEYS: u8 = b'K';
pub const KEYS_AMONG: u8 = b'A';
pub const WITH_PREFIX: u8 = b'P';
pub const RETAIN: u8 = b'T';
pub const STATUS: u8 = b'Q';
pub const STOP: u8 = b'X';

/// The hello's `features` field when the backend searches.
pub const FEATURE_SEARCH: &str = "search";

pub const OK: u8 = b'O';
pub const NOT_FOUND: u8 = b'N';
pub const DECRYPT: u8 = b'D';
pub const CORRUPT: u8 = b'C';
pub const IO: u8 = b'I';
pub const ERROR: u8 = b'E';

/// One decoded message: its tag and fields. `Debug` never shows the fields.
pub struct Message {
    pub tag: u8,
    pub fields: Vec<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Message({:?}, {} fields)",
            self.tag as char,
            self.fields.len()
        )
    }
}

impl Message {
    pub fn new(tag: u8) -> Message {
        Message {
            tag,
            fields: Vec::new(),
        }
    }

    pub fn with(mut self, field: impl AsRef<[u8]>) -> Message {
        self.fields.push(Zeroizing::new(field.as_ref().to_vec()));
        self
    }

    /// Field `i` as text (lossy: only names and messages are read this way).
    pub fn text(&self, i: usize) -> String {
        self.fields
            .get(i)
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .unwrap_or_default()
    }

    /// Encode into one buffer (so a frame is one `write`).
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let body: usize = 1 + self.fields.iter().map(|f| 4 + f.len()).sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(4 + body));
        out.extend_from_slice(&(body as u32).to_be_bytes());
        out.push(self.tag);
        for f in &self.fields {
            out.extend_from_slice(&(f.len() as u32).to_be_bytes());
            out.extend_from_slice(f);
        }
        out
    }

    /// Decode a frame body.
    pub fn decode(body: &[u8]) -> io::Result<Message> {
        let (&tag, mut rest) = body.split_first().ok_or_else(|| bad("empty message"))?;
        let mut fields = Vec::new();
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(bad("truncated field length"));
            }
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            rest = &rest[4..];
            if len > rest.len() {
                return Err(bad("truncated field"));
            }
            fields.push(Zeroizing::new(rest[..len].to_vec()));
            rest = &rest[len..];
        }
        Ok(Message { tag, fields })
    }

    /// The answer for a keyring error (the messages of [`Error`] carry no secret values).
    pub fn from_error(e: &Error) -> Message {
        match e {
            Error::NotFound => Message::new(NOT_FOUND),
            Error::Decrypt { path } => Message::new(DECRYPT).with(path),
            Error::Corrupt { path, reason } => Message::new(CORRUPT).with(path).with(reason),
            Error::Io { path, source } => Message::new(IO).with(path).with(source.to_string()),
            Error::Backend(m) => Message::new(ERROR).with(m),
        }
    }

    /// The keyring error an error answer stands for; `None` for `O`.
    pub fn to_error(&self) -> Option<Error> {
        Some(match self.tag {
            OK => return None,
            NOT_FOUND => Error::NotFound,
            DECRYPT => Error::Decrypt { path: self.text(0) },
            CORRUPT => Error::Corrupt {
                path: self.text(0),
                reason: self.text(1),
            },
            IO => Error::Io {
                path: self.text(0),
                source: io::Error::other(self.text(1)),
            },
            ERROR => Error::Backend(self.text(0)),
            other => Error::Backend(format!(
                "the agent sent an unknown answer ({:?})",
                other as char
            )),
        })
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("agent protocol: {what}"),
    )
}

/// Read one frame; `Ok(None)` on a clean end of stream before the frame started.
pub fn read_message(r: &mut impl Read) -> io::Result<Option<Message>> {
    let mut len = [0u8; 4];
    match r.read(&mut len[..1])? {
        0 => return Ok(None),
        _ => r.read_exact(&mut len[1..])?,
    }
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(bad("frame length out of range"));
    }
    let mut body = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut body)?;
    Message::decode(&body).map(Some)
}

/// Write one frame.
pub fn write_message(w: &mut impl Write, m: &Message) -> io::Result<()> {
    w.write_all(&m.encode())?;
    w.flush()
}

/// Write an `O` frame whose single field is `payload`, without copying the payload into a
/// frame buffer first (it stays in the agent's locked memory until the kernel copies it).
pub fn write_ok_payload(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let body = 1 + 4 + payload.len();
    let mut head = [0u8; 9];
    head[..4].copy_from_slice(&(body as u32).to_be_bytes());
    head[4] = OK;
    head[5..].copy_from_slice(&(payload.len() as u32).to_be_bytes());
    w.write_all(&head)?;
    w.write_all(payload)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_limits() {
        let m = Message::new(GET).with("prod").with([0u8, 1, 2]).with("");
        let bytes = m.encode();
        let back = read_message(&mut &bytes[..]).unwrap().unwrap();
        assert_eq!(back.tag, GET);
        assert_eq!(back.text(0), "prod");
        assert_eq!(&back.fields[1][..], &[0, 1, 2]);
        assert_eq!(back.fields.len(), 3);
        // Clean end of stream.
        assert!(read_message(&mut &b""[..]).unwrap().is_none());
        // Truncated and oversized frames are errors, not panics.
        assert!(read_message(&mut &bytes[..bytes.len() - 1]).is_err());
        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(read_message(&mut &huge[..]).is_err());
        assert!(Message::decode(&[b'G', 0, 0, 0, 9, 1]).is_err());
        assert!(Message::decode(&[]).is_err());

        let mut out = Vec::new();
        write_ok_payload(&mut out, b"{\"Key\":\"k\"}").unwrap();
        let back = read_message(&mut &out[..]).unwrap().unwrap();
        assert_eq!(back.tag, OK);
        assert_eq!(back.text(0), "{\"Key\":\"k\"}");
    }

    #[test]
    fn errors_roundtrip() {
        for e in [
            Error::NotFound,
            Error::Decrypt { path: "/p".into() },
            Error::Corrupt {
                path: "/p".into(),
                reason: "bad".into(),
            },
            Error::Backend("nope".into()),
            Error::Io {
                path: "/p".into(),
                source: io::Error::other("denied"),
            },
        ] {
            let back = Message::from_error(&e).to_error().unwrap();
            assert_eq!(back.to_string(), e.to_string());
        }
        assert!(Message::new(OK).to_error().is_none());
    }
}
