//! How the local servers accept and keep connections, so that no client — a slow one, an idle
//! one, thousands of them, or one with a huge body — can starve the others or the process.
//!
//! * **Who may connect** ([`Peers`]): the ECS and EC2 servers listen on 127.0.0.1 only; the
//!   169.254.169.254 proxy accepts a connection only from this machine (see [`is_local_peer`]).
//! * **Header read timeout** ([`HEADER_READ_TIMEOUT`]): hyper closes a connection whose request
//!   headers are not complete this long after it started waiting for them, on a new connection
//!   and between keep-alive requests alike. SDKs send their headers at once.
//! * **Idle timeout** ([`IDLE_TIMEOUT`]): a connection with no request being handled is closed
//!   this long after its last request (or after it was accepted), whatever state it is in.
//! * **Connection cap** ([`max_connections`]): a fraction of the process's descriptor limit.
//!   When it is reached, the connection that has been idle (no request being handled) the
//!   longest is closed to make room — so a legitimate client that arrives while the cap is
//!   filled by slow connections is still served at once, instead of queueing behind them.
//! * **Accept errors** (`EMFILE` and friends) back off exponentially up to 1 s and close the
//!   longest-idle connection; never a hot loop.
//! * **Request bodies**: a declared `Content-Length` above [`MAX_REQUEST_BODY`] is answered
//!   413 without reading it; handlers never buffer more than that ([`read_body`]). Credential
//!   endpoints take no body at all.
//! * **Header size**: hyper's read buffer is capped at [`MAX_HEADER_BUFFER`].
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use hyper::Request;

use super::Resp;

/// Request headers must be complete this long after the server starts waiting for them.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no request in progress is closed after this long.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest request body accepted (the credential endpoints take none).
pub const MAX_REQUEST_BODY: usize = 64 * 1024;
/// hyper's per-connection read buffer limit, which bounds the request head.
pub const MAX_HEADER_BUFFER: usize = 16 * 1024;
/// The cap on concurrent connections when the descriptor limit allows more.
pub const MAX_CONNECTIONS: usize = 1024;

/// Which peers a listener accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peers {
    /// Anyone who can reach the socket (the 127.0.0.1 listeners: only this machine can).
    Any,
    /// Only this machine ([`is_local_peer`]): for a socket on an address other machines can
    /// route to, like the 169.254.169.254 alias.
    Local,
}

/// Whether `peer` is this machine: a loopback address, or the very address the connection
/// came in on (`local`, from getsockname). A client on this machine that connects to
/// 169.254.169.254 gets that address as its source; another machine never can (the kernel
/// rejects packets from outside that claim one of our own addresses).
pub fn is_local_peer(peer: IpAddr, local: IpAddr) -> bool {
    let peer = peer.to_canonical();
    peer.is_loopback() || peer == local.to_canonical()
}

/// The connection cap: a quarter of the soft descriptor limit (the proxy needs two descriptors
/// per forwarded request, and the process needs some of its own), at most [`MAX_CONNECTIONS`].
pub fn max_connections() -> usize {
    (nofile_soft_limit() / 4).clamp(16, MAX_CONNECTIONS)
}

#[cfg(unix)]
fn nofile_soft_limit() -> usize {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 1024;
    }
    usize::try_from(r.rlim_cur).unwrap_or(usize::MAX)
}

#[cfg(not(unix))]
fn nofile_soft_limit() -> usize {
    // Windows has no such small per-process socket limit.
    4 * MAX_CONNECTIONS
}

/// One open connection, as the cap and the idle timer see it.
struct ConnState {
    /// Requests currently in a handler.
    busy: AtomicUsize,
    /// When it last went idle (accepted, or a handler finished), in ms since `Registry::epoch`.
    idle_since: AtomicU64,
    /// Fired to close the connection (evicted).
    kill: tokio::sync::Notify,
}

/// The open connections of one listener.
struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnState>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn add(&self) -> (u64, Arc<ConnState>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState {
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now_ms()),
            kill: tokio::sync::Notify::new(),
        });
        self.lock().insert(id, state.clone());
        (id, state)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Close the connection idle the longest; false when every connection is in a handler.
    fn evict_longest_idle(&self) -> bool {
        let mut conns = self.lock();
        let victim = conns
            .iter()
            .filter(|(_, c)| c.busy.load(Ordering::Relaxed) == 0)
            .min_by_key(|(_, c)| c.idle_since.load(Ordering::Relaxed))
            .map(|(id, _)| *id);
        match victim.and_then(|id| conns.remove(&id)) {
            Some(c) => {
                c.kill.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Marks a connection busy while a handler runs (also when the handler is cancelled).
struct Busy<'a> {
    state: &'a ConnState,
    registry: &'a Registry,
}

impl<'a> Busy<'a> {
    fn new(state: &'a ConnState, registry: &'a Registry) -> Self {
        state.busy.fetch_add(1, Ordering::Relaxed);
        Busy { state, registry }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.state
            .idle_since
            .store(self.registry.now_ms(), Ordering::Relaxed);
        self.state.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How long a connection has been without a request in a handler.
fn idle_for(registry: &Registry, state: &ConnState) -> Duration {
    Duration::from_millis(
        registry
            .now_ms()
            .saturating_sub(state.idle_since.load(Ordering::Relaxed)),
    )
}

fn is_descriptor_exhaustion(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            e.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        true
    }
}

/// 413 for a declared body over [`MAX_REQUEST_BODY`], before anything of it is read.
fn body_too_large<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > MAX_REQUEST_BODY as u64)
}

/// `handler` for an endpoint that takes no body: a request whose body is over
/// [`MAX_REQUEST_BODY`] or of unknown length (chunked) is answered 413 unread, and hyper then
/// closes the connection instead of draining it.
pub fn refuse_bodies<H, F>(handler: H) -> impl Fn(Request<Incoming>, SocketAddr) -> BoxedResp
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = Resp> + Send + 'static,
{
    move |req: Request<Incoming>, peer: SocketAddr| {
        use hyper::body::Body;
        let upper = req.body().size_hint().upper();
        if upper.is_none_or(|n| n > MAX_REQUEST_BODY as u64) {
            Box::pin(std::future::ready(too_large()))
        } else {
            Box::pin(handler(req, peer))
        }
    }
}

/// A handler's future, boxed.
pub type BoxedResp = std::pin::Pin<Box<dyn Future<Output = Resp> + Send>>;

/// The answer to a body over the limit; the connection is closed after it.
pub fn too_large() -> Resp {
    let mut r = super::text_error(
        413,
        &format!(
            "request body too large (limit {} KiB)",
            MAX_REQUEST_BODY / 1024
        ),
    );
    r.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    r
}

/// Why [`read_body`] gave up.
#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Failed(String),
}

/// Read a request body of at most [`MAX_REQUEST_BODY`] bytes.
pub async fn read_body(body: Incoming) -> Result<Bytes, BodyError> {
    match http_body_util::Limited::new(body, MAX_REQUEST_BODY)
        .collect()
        .await
    {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(e) => Err(BodyError::Failed(e.to_string())),
    }
}

/// Accept connections until `stop` fires, within the limits above; each connection is served
/// by its own task with `handler` (given the request and the client's address).
pub async fn serve<H, F>(
    listener: tokio::net::TcpListener,
    handler: Arc<H>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    peers: Peers,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = Resp> + Send + 'static,
{
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        next_id: AtomicU64::new(0),
        conns: Mutex::new(HashMap::new()),
    });
    let max = max_connections();
    let mut backoff = Duration::ZERO;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BUFFER);
    let builder = Arc::new(builder);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    backoff = Duration::ZERO;
                    a
                }
                Err(e) => {
                    // Out of descriptors (or memory): free one, and wait before trying again.
                    if is_descriptor_exhaustion(&e) {
                        registry.evict_longest_idle();
                    }
                    backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    crate::debug!("server: accept failed: {e}; retrying in {backoff:?}");
                    tokio::select! {
                        _ = &mut stop => break,
                        _ = tokio::time::sleep(backoff) => continue,
                    }
                }
            },
        };
        if peers == Peers::Local {
            let local = stream.local_addr().map(|a| a.ip());
            if !local.is_ok_and(|l| is_local_peer(peer.ip(), l)) {
                crate::debug!("server: refused a connection from {peer}: not this machine");
                continue;
            }
        }
        if registry.len() >= max && !registry.evict_longest_idle() {
            crate::debug!("server: {max} connections are all busy; refused {peer}");
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (id, state) = registry.add();
        let handler = handler.clone();
        let registry = registry.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let svc = {
                let state = state.clone();
                let registry = registry.clone();
                hyper::service::service_fn(move |req: Request<Incoming>| {
                    let handler = handler.clone();
                    let state = state.clone();
                    let registry = registry.clone();
                    async move {
                        let _busy = Busy::new(&state, &registry);
                        if body_too_large(&req) {
                            return Ok::<_, Infallible>(too_large());
                        }
                        Ok(handler(req, peer).await)
                    }
                })
            };
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
            tokio::pin!(conn);
            loop {
                // While a handler runs, look again a full period later (handlers are bounded).
                let left = if state.busy.load(Ordering::Relaxed) > 0 {
                    IDLE_TIMEOUT
                } else {
                    IDLE_TIMEOUT.saturating_sub(idle_for(&registry, &state))
                };
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            crate::debug!("server: connection from {peer}: {e}");
                        }
                        break;
                    }
                    _ = state.kill.notified() => {
                        crate::debug!("server: closed the longest-idle connection ({peer}) to make room");
                        break;
                    }
                    _ = tokio::time::sleep(left) => {
                        if state.busy.load(Ordering::Relaxed) == 0
                            && idle_for(&registry, &state) >= IDLE_TIMEOUT
                        {
                            crate::debug!("server: closed idle connection from {peer}");
                            break;
                        }
                    }
                }
            }
            registry.remove(id);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_peers() {
        let alias: IpAddr = "169.254.169.254".parse().unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(is_local_peer(lo, alias));
        assert!(is_local_peer("127.8.9.10".parse().unwrap(), alias));
        assert!(is_local_peer("::1".parse().unwrap(), alias));
        assert!(is_local_peer(alias, alias));
        assert!(is_local_peer(
            "::ffff:169.254.169.254".parse().unwrap(),
            alias
        ));
        assert!(!is_local_peer("10.232.0.2".parse().unwrap(), alias));
        assert!(!is_local_peer("169.254.169.253".parse().unwrap(), alias));
        assert!(!is_local_peer("fe80::1".parse().unwrap(), alias));
    }

    #[test]
    fn the_cap_follows_the_descriptor_limit() {
        let max = max_connections();
        assert!((16..=MAX_CONNECTIONS).contains(&max));
        assert!(max <= nofile_soft_limit().max(64) / 4 || max == 16);
    }

    #[test]
    fn eviction_picks_the_longest_idle_connection() {
        let r = Registry {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
        };
        let (_, a) = r.add();
        let (b_id, b) = r.add();
        let (_, c) = r.add();
        a.idle_since.store(50, Ordering::Relaxed);
        b.idle_since.store(10, Ordering::Relaxed);
        c.idle_since.store(0, Ordering::Relaxed);
        // c is the oldest but busy: b goes.
        let busy = Busy::new(&c, &r);
        assert!(r.evict_longest_idle());
        assert!(!r.lock().contains_key(&b_id));
        assert_eq!(r.len(), 2);
        drop(busy);
        assert!(r.evict_longest_idle());
        assert!(r.evict_longest_idle());
        assert!(!r.evict_longest_idle());
    }
}
