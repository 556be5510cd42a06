//! A small synchronous D-Bus client for the Secret Service hot path: one Unix socket, written to
//! and read from by the calling thread, with requests pipelined.
//!
//! Written by hand because the hot path needs so little of D-Bus (connect, `EXTERNAL` auth,
//! `Hello`, a handful of method calls whose reply types are fixed) and zbus, which does all of
//! D-Bus, costs more than the rest of the hot path to start: an executor and reader threads, a
//! hand-off between threads for every reply. Measured on this project's 2-core machine, an
//! `export` through zbus spent ~8 ms on the bus against ~1 ms this way (docs/backends.md).
//! Anything it does not expect — another transport than `unix:path`/`unix:abstract`, a
//! big-endian peer, an error reply, an odd type — makes it return `None`, and the caller takes
//! the zbus path, which handles everything. Writes and prompts always go through zbus.
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use zeroize::Zeroizing;

const DBUS_NAME: &str = "org.freedesktop.DBus";
const DBUS_PATH: &str = "/org/freedesktop/DBus";
/// Bigger messages are refused (a Secret Service reply is a few KiB).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// No reply within this time: give up and let the caller take the other path.
const TIMEOUT: Duration = Duration::from_secs(25);

/// An argument of a method call (the types the Secret Service calls need).
pub enum Arg<'a> {
    Str(&'a str),
    Path(&'a str),
    /// A variant holding a string (`OpenSession`'s input for `plain`).
    VariantStr(&'a str),
    /// `a{ss}`.
    DictStr(&'a [(&'a str, &'a str)]),
    /// `ao`.
    Paths(&'a [&'a str]),
}

impl Arg<'_> {
    fn signature(&self) -> &'static str {
        match self {
            Arg::Str(_) => "s",
            Arg::Path(_) => "o",
            Arg::VariantStr(_) => "v",
            Arg::DictStr(_) => "a{ss}",
            Arg::Paths(_) => "ao",
        }
    }
}

/// Little-endian marshalling into a buffer whose offset 0 is 8-aligned.
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    fn sig(&mut self, s: &str) {
        self.u8(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    /// An array: its length is patched in once the elements are written.
    fn array(&mut self, elem_align: usize, elems: impl FnOnce(&mut Writer)) {
        self.u32(0);
        let at = self.buf.len() - 4;
        self.pad(elem_align);
        let start = self.buf.len();
        elems(self);
        let len = (self.buf.len() - start) as u32;
        self.buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
    fn arg(&mut self, a: &Arg<'_>) {
        match a {
            Arg::Str(s) | Arg::Path(s) => self.str(s),
            Arg::VariantStr(s) => {
                self.sig("s");
                self.str(s);
            }
            Arg::DictStr(pairs) => self.array(8, |w| {
                for (k, v) in pairs.iter() {
                    w.pad(8);
                    w.str(k);
                    w.str(v);
                }
            }),
            Arg::Paths(paths) => self.array(4, |w| {
                for p in paths.iter() {
                    w.str(p);
                }
            }),
        }
    }
}

/// The header flag that tells the bus not to start the destination on demand.
const NO_AUTO_START: u8 = 0x2;

/// A method call message (type 1), little-endian, header fields path, interface, member,
/// destination and signature.
fn method_call(
    serial: u32,
    dest: &str,
    path: &str,
    iface: &str,
    member: &str,
    args: &[Arg<'_>],
) -> Vec<u8> {
    let mut body = Writer { buf: Vec::new() };
    for a in args {
        body.arg(a);
    }
    let signature: String = args.iter().map(Arg::signature).collect();
    let mut m = Writer {
        buf: Vec::with_capacity(128 + body.buf.len()),
    };
    // NO_AUTO_START: a call to a provider that is not running fails at once instead of
    // starting it. This path serves a running provider; whether one that is not running may be
    // started (not during automatic selection) is for the caller to decide.
    m.buf.extend_from_slice(&[b'l', 1, NO_AUTO_START, 1]);
    m.u32(body.buf.len() as u32);
    m.u32(serial);
    let field = |w: &mut Writer, code: u8, sig: &str, value: &str| {
        w.pad(8);
        w.u8(code);
        w.sig(sig);
        if sig == "g" {
            w.sig(value)
        } else {
            w.str(value)
        }
    };
    m.array(8, |w| {
        field(w, 1, "o", path);
        field(w, 2, "s", iface);
        field(w, 3, "s", member);
        field(w, 6, "s", dest);
        if !signature.is_empty() {
            field(w, 8, "g", &signature);
        }
    });
    m.pad(8);
    m.buf.extend_from_slice(&body.buf);
    m.buf
}

/// Reading a little-endian body; every method returns `None` on malformed input.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    /// A reader of a message body (which starts 8-aligned).
    pub fn new_body(buf: &'a [u8]) -> Reader<'a> {
        Reader::new(buf)
    }
    /// Skip to the next 8-byte boundary (a struct or a dictionary entry starts there).
    pub fn align8(&mut self) -> Option<()> {
        self.align(8)
    }
    fn align(&mut self, n: usize) -> Option<()> {
        let to = self.pos.div_ceil(n) * n;
        (to <= self.buf.len()).then(|| self.pos = to)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.align(4)?;
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn bool(&mut self) -> Option<bool> {
        match self.u32()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    pub fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        let s = self.take(n)?;
        (self.take(1)? == [0]).then_some(())?;
        std::str::from_utf8(s).ok()
    }
    pub fn sig(&mut self) -> Option<&'a str> {
        let n = *self.take(1)?.first()? as usize;
        let s = self.take(n)?;
        (self.take(1)? == [0]).then_some(())?;
        std::str::from_utf8(s).ok()
    }
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// Each element of an array whose elements align to `align`, read by `each`.
    pub fn array<T>(
        &mut self,
        align: usize,
        mut each: impl FnMut(&mut Reader<'a>) -> Option<T>,
    ) -> Option<Vec<T>> {
        let n = self.u32()? as usize;
        self.align(align)?;
        let end = self.pos.checked_add(n)?;
        if end > self.buf.len() {
            return None;
        }
        let mut out = Vec::new();
        while self.pos < end {
            self.align(align)?;
            out.push(each(self)?);
        }
        (self.pos == end).then_some(out)
    }
    /// `ao`.
    pub fn paths(&mut self) -> Option<Vec<String>> {
        self.array(4, |r| r.str().map(str::to_string))
    }
    /// A variant, checked to hold `want`.
    pub fn variant(&mut self, want: &str) -> Option<()> {
        (self.sig()? == want).then_some(())
    }
}

/// A method return: its signature and body (zeroed on drop: it may hold a secret).
pub struct Reply {
    pub signature: String,
    pub body: Zeroizing<Vec<u8>>,
}

/// One connection to the session bus.
pub struct Bus {
    stream: UnixStream,
    serial: u32,
    /// Bytes read and not yet consumed (zeroed on drop, spare capacity included).
    inbox: Zeroizing<Vec<u8>>,
    /// Replies that arrived while waiting for another one (`None`: an error reply).
    early: HashMap<u32, Option<Reply>>,
    /// Bytes to send with the next calls (the authentication, `BEGIN` and `Hello`, so they
    /// share one write with the first calls).
    pending: Vec<u8>,
    /// The server's `OK` to the authentication has been read.
    authenticated: bool,
    /// A write or read failed, or something unexpected arrived: the stream's position is
    /// unknown, so nothing more is sent or read on it.
    broken: bool,
}

/// The session bus address: `DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`. Only Unix
/// socket transports; `None` for anything else.
fn session_socket() -> Option<std::os::unix::net::SocketAddr> {
    use std::os::unix::net::SocketAddr;
    let addr = match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        Ok(a) if !a.is_empty() => a,
        _ => {
            let dir = std::env::var("XDG_RUNTIME_DIR")
                .ok()
                .filter(|d| !d.is_empty())?;
            return SocketAddr::from_pathname(format!("{dir}/bus")).ok();
        }
    };
    for entry in addr.split(';') {
        let Some(params) = entry.strip_prefix("unix:") else {
            continue;
        };
        for kv in params.split(',') {
            if let Some(path) = kv.strip_prefix("path=") {
                return SocketAddr::from_pathname(unescape(path)?).ok();
            }
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if let Some(name) = kv.strip_prefix("abstract=") {
                #[cfg(target_os = "android")]
                use std::os::android::net::SocketAddrExt;
                #[cfg(target_os = "linux")]
                use std::os::linux::net::SocketAddrExt;
                return SocketAddr::from_abstract_name(unescape(name)?.as_bytes()).ok();
            }
        }
    }
    None
}

/// D-Bus address values escape bytes as `%XX`.
fn unescape(v: &str) -> Option<String> {
    let bytes = crate::gofmt::quote::unescape_hex(v, b'%');
    String::from_utf8(bytes).ok()
}

impl Bus {
    /// Connect, authenticate (`EXTERNAL`: the kernel vouches for our uid) and say `Hello`.
    /// `None` when any of it is not as expected.
    pub fn connect() -> Option<Bus> {
        let addr = session_socket()?;
        let stream = UnixStream::connect_addr(&addr).ok()?;
        stream.set_read_timeout(Some(TIMEOUT)).ok()?;
        stream.set_write_timeout(Some(TIMEOUT)).ok()?;
        let mut bus = Bus {
            stream,
            serial: 0,
            inbox: Zeroizing::new(Vec::new()),
            early: HashMap::new(),
            pending: Vec::new(),
            authenticated: false,
            broken: false,
        };
        // SAFETY: geteuid cannot fail.
        let uid = unsafe { libc::geteuid() }.to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        // Authentication, BEGIN and Hello are pipelined with the first calls, in one write, as
        // sd-bus does: with EXTERNAL there is nothing to negotiate, and a server that refuses
        // it answers REJECTED, which ends this connection (the caller then uses zbus).
        let hello = bus.next_serial();
        bus.pending = format!("\0AUTH EXTERNAL {hex}\r\nBEGIN\r\n").into_bytes();
        bus.pending.extend(method_call(
            hello,
            DBUS_NAME,
            DBUS_PATH,
            DBUS_NAME,
            "Hello",
            &[],
        ));
        Some(bus)
    }

    fn next_serial(&mut self) -> u32 {
        self.serial += 1;
        self.serial
    }

    /// Send method calls without waiting; their serials, in order.
    pub fn send(&mut self, calls: &[(&str, &str, &str, &str, &[Arg<'_>])]) -> Option<Vec<u32>> {
        if self.broken {
            return None;
        }
        let mut out = std::mem::take(&mut self.pending);
        let mut serials = Vec::with_capacity(calls.len());
        for (dest, path, iface, member, args) in calls {
            let serial = self.next_serial();
            out.extend(method_call(serial, dest, path, iface, member, args));
            serials.push(serial);
        }
        if self.stream.write_all(&out).is_err() {
            self.broken = true;
            return None;
        }
        Some(serials)
    }

    /// One call and its reply.
    pub fn call(
        &mut self,
        dest: &str,
        path: &str,
        iface: &str,
        member: &str,
        args: &[Arg<'_>],
    ) -> Option<Reply> {
        let serial = *self.send(&[(dest, path, iface, member, args)])?.first()?;
        self.wait(serial)
    }

    /// The reply to `serial` (`None` for an error reply or a broken connection). Signals and
    /// replies to other calls met on the way are set aside.
    pub fn wait(&mut self, serial: u32) -> Option<Reply> {
        loop {
            if let Some(arrived) = self.early.remove(&serial) {
                return arrived;
            }
            if self.broken {
                return None;
            }
            let Some((reply_to, reply)) = self.read_message() else {
                self.broken = true;
                return None;
            };
            match reply_to {
                Some(to) if to == serial => return reply,
                Some(to) => {
                    self.early.insert(to, reply);
                }
                None => {}
            }
        }
    }

    /// Read one whole message: `(reply serial, reply)`; the reply is `None` for an error or
    /// an unexpected type, the serial `None` for a signal.
    fn read_message(&mut self) -> Option<(Option<u32>, Option<Reply>)> {
        let total = loop {
            if !self.authenticated {
                // The answer to AUTH comes first: `OK <server guid>\r\n`.
                if let Some(end) = self.inbox.windows(2).position(|w| w == b"\r\n") {
                    if !self.inbox.starts_with(b"OK ") {
                        return None;
                    }
                    self.inbox.drain(..end + 2);
                    self.authenticated = true;
                    continue;
                }
                if self.inbox.len() > 4096 {
                    return None;
                }
            } else if self.inbox.len() >= 16 {
                if self.inbox[0] != b'l' {
                    return None; // big-endian peers: leave them to zbus
                }
                let body = u32::from_le_bytes(self.inbox[4..8].try_into().ok()?) as usize;
                let fields = u32::from_le_bytes(self.inbox[12..16].try_into().ok()?) as usize;
                let total = (16 + fields).div_ceil(8) * 8 + body;
                if total > MAX_MESSAGE {
                    return None;
                }
                if self.inbox.len() >= total {
                    break total;
                }
            }
            let mut chunk = Zeroizing::new([0u8; 8192]);
            let n = self.stream.read(&mut chunk[..]).ok()?;
            if n == 0 {
                return None;
            }
            self.inbox.extend_from_slice(&chunk[..n]);
        };
        let msg: Zeroizing<Vec<u8>> = Zeroizing::new(self.inbox.drain(..total).collect());
        let kind = msg[1];
        let fields_len = u32::from_le_bytes(msg[12..16].try_into().ok()?) as usize;
        let mut r = Reader::new(&msg[..16 + fields_len]);
        r.pos = 12;
        let (mut reply_to, mut signature) = (None, String::new());
        r.array(8, |r| {
            let code = *r.take(1)?.first()?;
            let sig = r.sig()?;
            match (code, sig) {
                (5, "u") => reply_to = Some(r.u32()?),
                (8, "g") => signature = r.sig()?.to_string(),
                (_, "s" | "o") => {
                    r.str()?;
                }
                (_, "g") => {
                    r.sig()?;
                }
                (_, "u") => {
                    r.u32()?;
                }
                _ => return None,
            }
            Some(())
        })?;
        let body_at = (16 + fields_len).div_ceil(8) * 8;
        let reply = (kind == 2).then(|| Reply {
            signature,
            body: Zeroizing::new(msg[body_at..].to_vec()),
        });
        Some((reply_to, reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_marshalled_as_the_specification_says() {
        let m = method_call(
            7,
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets/collection/awsvault",
            "org.freedesktop.Secret.Collection",
            "SearchItems",
            &[Arg::DictStr(&[("profile", "prod")])],
        );
        // Little-endian, a method call, NO_AUTO_START, protocol version 1.
        assert_eq!(&m[..4], &[b'l', 1, 2, 1]);
        let body_len = u32::from_le_bytes(m[4..8].try_into().unwrap()) as usize;
        assert_eq!(u32::from_le_bytes(m[8..12].try_into().unwrap()), 7);
        let fields = u32::from_le_bytes(m[12..16].try_into().unwrap()) as usize;
        let body_at = (16 + fields).div_ceil(8) * 8;
        assert_eq!(m.len(), body_at + body_len);
        // a{ss}: length 20 (padding to 8, then "profile" and "prod"), then the pairs.
        let mut r = Reader::new(&m[body_at..]);
        let pairs = r
            .array(8, |r| Some((r.str()?.to_string(), r.str()?.to_string())))
            .unwrap();
        assert_eq!(pairs, vec![("profile".to_string(), "prod".to_string())]);
        // The signature header field.
        let text = String::from_utf8_lossy(&m[..body_at]);
        assert!(
            text.contains("a{ss}") && text.contains("SearchItems"),
            "{text}"
        );
    }

    #[test]
    fn readers_refuse_what_does_not_fit() {
        let mut w = Writer { buf: Vec::new() };
        w.arg(&Arg::Paths(&["/a", "/bb"]));
        w.arg(&Arg::VariantStr(""));
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.paths().unwrap(), vec!["/a", "/bb"]);
        r.variant("s").unwrap();
        assert_eq!(r.str(), Some(""));
        // Truncated anywhere: None, never a panic.
        for cut in 0..w.buf.len() {
            let mut r = Reader::new(&w.buf[..cut]);
            let _ = r.paths().and_then(|_| r.variant("s")).and_then(|_| r.str());
        }
        // An array claiming more than there is.
        let mut r = Reader::new(&[200, 0, 0, 0, 1, 0, 0, 0]);
        assert!(r.paths().is_none());
        assert_eq!(unescape("/tmp/a%2cb"), Some("/tmp/a,b".to_string()));
    }
}
