//! Local credential servers (docs/compatibility.md §5): the ECS credential endpoint ([`ecs`]), the EC2
//! instance-metadata emulator ([`ec2`]) and the privileged 169.254.169.254 proxy ([`proxy`]).
//!
//! Threads and ownership, for `exec --ecs-server` / `--ec2-server`:
//!
//! ```text
//! main thread: the credential worker ── owns the keyring, the MFA source, the profile
//!      ▲  Job (target, reply)                 (the keyring is not Send, so it stays here)
//!      │
//! server thread: a current-thread tokio runtime running the HTTP server(s); each handler reads
//!      the in-memory cache of a [`Broker`] and, when the entry is missing or inside the
//!      AWS_MIN_TTL window, asks the worker and waits at most `Broker::wait`
//!
//! child thread: runs the command, forwards signals, and sends [`Job::Stop`] when it exits
//! ```
//!
//! Unlike the Go tool (docs/compatibility.md §7.22), cached credentials are refreshed *before* they expire:
//! an entry with less than `AWS_MIN_TTL` left is refreshed on the next request. Requests that
//! arrive during a refresh are queued behind it and answered from its result, so N concurrent
//! requests cause one refresh (and at most one MFA prompt). A refresh that blocks (an MFA
//! prompt waiting for the user) never keeps a client waiting longer than `Broker::wait`: the
//! client gets the still-valid old credentials, or a clear JSON error it can retry on.
pub mod conn;
pub mod ec2;
pub mod ecs;
pub mod proxy;
mod run;

pub use run::{Mode, ServerRun};

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use jiff::Timestamp;

use crate::creds::{self, chain, sts, Credentials};
use crate::mfa::MfaSource;

/// Which credentials a request wants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Wanted {
    /// The profile's own credentials.
    Base,
    /// AssumeRole of this ARN, with the profile's credentials as the source (ECS `/role-arn/`).
    Role(String),
}

impl std::fmt::Display for Wanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wanted::Base => f.write_str("the profile"),
            Wanted::Role(arn) => write!(f, "role {arn}"),
        }
    }
}

/// Something that can (slowly, maybe with an MFA prompt) produce credentials for a target.
pub trait Fetch {
    fn fetch(&mut self, target: &Wanted) -> anyhow::Result<Credentials>;
}

/// The real fetcher: the profile's credential chain (with the session cache and its
/// cross-process lock), plus AssumeRole for `/role-arn/<arn>`.
pub struct ProfileFetcher<'a> {
    pub request: creds::Request<'a>,
}

impl Fetch for ProfileFetcher<'_> {
    fn fetch(&mut self, target: &Wanted) -> anyhow::Result<Credentials> {
        let base = creds::retrieve(&self.request)?;
        let Wanted::Role(arn) = target else {
            return Ok(base);
        };
        let profile = self.request.profile;
        // AssumeRole from session or role credentials is role chaining: AWS caps it at 1 h.
        let mut duration = profile.assume_role_duration;
        if base.token().is_some() && duration > chain::ROLE_CHAINING_MAX {
            duration = chain::ROLE_CHAINING_MAX;
        }
        let params = sts::AssumeRoleParams {
            role_arn: arn.clone(),
            duration,
            ..Default::default()
        };
        crate::debug!("calling AssumeRole {arn} for the ECS server");
        sts::assume_role(
            &crate::aws::Endpoint::from_profile(profile),
            &base,
            &params,
            None,
        )
    }
}

/// Whether the profile's chain asks a prompt driver for an MFA code (a hop with `mfa_serial`,
/// no `mfa_process` and no `--mfa-token`). Only then is a terminal-only prompt an error for
/// the servers (the Go tool fails even for profiles without MFA).
pub fn needs_mfa_prompt(plan: &chain::Plan, mfa: &MfaSource) -> bool {
    if mfa.has_fixed_token() {
        return false;
    }
    plan.hops.iter().any(|h| match &h.what {
        chain::Hop::GetSessionToken {
            mfa_serial,
            mfa_process,
            ..
        }
        | chain::Hop::AssumeRole {
            mfa_serial,
            mfa_process,
            ..
        } => mfa_serial.is_some() && mfa_process.as_deref().is_none_or(str::is_empty),
    })
}

/// How usable a cached credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// More than `min_ttl` left (or never expires).
    Fresh,
    /// Still valid, but inside the `min_ttl` window: refresh it.
    Stale,
    Expired,
}

pub fn freshness(c: &Credentials, min_ttl: Duration, now: Timestamp) -> Freshness {
    let Some(exp) = c.expires else {
        return Freshness::Fresh;
    };
    let left = exp.as_second() - now.as_second();
    if left >= min_ttl.as_secs() as i64 && left > 0 {
        Freshness::Fresh
    } else if left > 0 {
        Freshness::Stale
    } else {
        Freshness::Expired
    }
}

/// A message to the credential worker.
pub enum Job {
    Fetch {
        target: Wanted,
        asked: Instant,
        reply: tokio::sync::oneshot::Sender<Result<Arc<Credentials>, String>>,
    },
    /// The child exited: stop serving.
    Stop,
}

#[derive(Default)]
struct Cache {
    /// Shared, so that a request takes a reference rather than a copy of the secrets, and the
    /// servers can tell "the same credentials as last time" by pointer (see `ecs::Bodies`).
    creds: HashMap<Wanted, (Instant, Arc<Credentials>)>,
    errors: HashMap<Wanted, (Instant, String)>,
}

/// Shared between the HTTP handlers (any thread) and the credential worker (main thread).
pub struct Broker {
    jobs: Mutex<mpsc::Sender<Job>>,
    cache: Mutex<Cache>,
    min_ttl: Duration,
    /// How long a request waits for a refresh before it is answered anyway.
    pub wait: Duration,
    profile: String,
}

/// Why a request got no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    pub message: String,
    /// The refresh is still running (maybe waiting for an MFA code): worth retrying.
    pub pending: bool,
}

impl FetchError {
    fn failed(message: impl Into<String>) -> FetchError {
        FetchError {
            message: message.into(),
            pending: false,
        }
    }
}

impl Broker {
    /// A broker and the receiving end for [`work`].
    pub fn new(
        profile: &str,
        min_ttl: Duration,
        wait: Duration,
    ) -> (Arc<Broker>, mpsc::Receiver<Job>) {
        let (tx, rx) = mpsc::channel();
        let b = Broker {
            jobs: Mutex::new(tx),
            cache: Mutex::new(Cache::default()),
            min_ttl,
            wait,
            profile: profile.to_string(),
        };
        (Arc::new(b), rx)
    }

    /// A sender for [`Job::Stop`] (the child thread's).
    pub fn sender(&self) -> mpsc::Sender<Job> {
        self.lock_jobs().clone()
    }

    fn lock_jobs(&self) -> std::sync::MutexGuard<'_, mpsc::Sender<Job>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cached(&self, target: &Wanted) -> Option<Arc<Credentials>> {
        self.lock_cache().creds.get(target).map(|(_, c)| c.clone())
    }

    /// Fetch now, on the calling thread (the pre-fetch before the child starts).
    pub fn prefetch(&self, fetcher: &mut dyn Fetch, target: &Wanted) -> anyhow::Result<()> {
        let creds = Arc::new(fetcher.fetch(target)?);
        self.lock_cache()
            .creds
            .insert(target.clone(), (Instant::now(), creds));
        Ok(())
    }

    /// Credentials for a request: from the cache while fresh, else through the worker, waiting
    /// at most `self.wait`.
    pub async fn get(&self, target: Wanted) -> Result<Arc<Credentials>, FetchError> {
        let old = self.cached(&target);
        if let Some(c) = &old {
            if freshness(c, self.min_ttl, Timestamp::now()) == Freshness::Fresh {
                return Ok(c.clone());
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job::Fetch {
            target: target.clone(),
            asked: Instant::now(),
            reply: tx,
        };
        if self.lock_jobs().send(job).is_err() {
            return Err(FetchError::failed("aws-vault is shutting down"));
        }
        // A still-valid old credential beats an error or a long wait.
        let still_valid =
            old.filter(|c| freshness(c, self.min_ttl, Timestamp::now()) != Freshness::Expired);
        match tokio::time::timeout(self.wait, rx).await {
            Ok(Ok(Ok(c))) => Ok(c),
            Ok(Ok(Err(e))) => match still_valid {
                Some(c) => {
                    crate::debug!("refreshing {target} failed ({e}); serving the old credentials");
                    Ok(c)
                }
                None => Err(FetchError::failed(e)),
            },
            Ok(Err(_)) => Err(FetchError::failed("aws-vault is shutting down")),
            Err(_) => match still_valid {
                Some(c) => Ok(c),
                None => Err(FetchError {
                    message: format!(
                        "aws-vault is still getting credentials for {}; it may be waiting for an MFA code (answer the prompt) or for AWS. Retry in a moment",
                        match &target {
                            Wanted::Base => format!("profile {}", self.profile),
                            Wanted::Role(arn) => format!("role {arn} (profile {})", self.profile),
                        }
                    ),
                    pending: true,
                }),
            },
        }
    }
}

/// The credential worker: answer jobs until [`Job::Stop`] (or every sender is gone). Jobs
/// queued behind a refresh are answered from its result, so concurrent requests cause one
/// refresh (and one MFA prompt), and a failed refresh is not retried for requests that were
/// already waiting on it.
pub fn work(jobs: &mpsc::Receiver<Job>, broker: &Broker, fetcher: &mut dyn Fetch) {
    while let Ok(job) = jobs.recv() {
        let (target, asked, reply) = match job {
            Job::Stop => break,
            Job::Fetch {
                target,
                asked,
                reply,
            } => (target, asked, reply),
        };
        {
            let cache = broker.lock_cache();
            if let Some((at, c)) = cache.creds.get(&target) {
                let f = freshness(c, broker.min_ttl, Timestamp::now());
                if f == Freshness::Fresh || (*at >= asked && f != Freshness::Expired) {
                    let _ = reply.send(Ok(c.clone()));
                    continue;
                }
            }
            if let Some((at, e)) = cache.errors.get(&target) {
                if *at >= asked {
                    let _ = reply.send(Err(e.clone()));
                    continue;
                }
            }
        }
        crate::debug!("refreshing credentials for {target}");
        let result = fetcher
            .fetch(&target)
            .map(Arc::new)
            .map_err(|e| format!("{e:#}"));
        let mut cache = broker.lock_cache();
        match &result {
            Ok(c) => {
                cache
                    .creds
                    .insert(target.clone(), (Instant::now(), c.clone()));
                cache.errors.remove(&target);
            }
            Err(e) => {
                crate::debug!("getting credentials for {target} failed: {e}");
                cache
                    .errors
                    .insert(target.clone(), (Instant::now(), e.clone()));
            }
        }
        let _ = reply.send(result);
    }
}

/// The response type of every handler.
pub type Resp = Response<Full<Bytes>>;

/// A response with a body and a content type.
pub fn respond(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

/// Go's `http.Error`: text/plain with the message and a newline.
pub fn text_error(status: u16, message: &str) -> Resp {
    let mut r = respond(status, "text/plain; charset=utf-8", format!("{message}\n"));
    r.headers_mut().insert(
        "x-content-type-options",
        hyper::header::HeaderValue::from_static("nosniff"),
    );
    r
}

/// Go's ServeMux redirect of `/x` to `/x/`.
pub fn redirect(location: &str) -> Resp {
    let mut r = respond(
        301,
        "text/html; charset=utf-8",
        format!("<a href=\"{location}\">Moved Permanently</a>.\n\n"),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(location) {
        r.headers_mut().insert(hyper::header::LOCATION, v);
    }
    r
}

/// Go's `404 page not found`.
pub fn not_found() -> Resp {
    text_error(404, "404 page not found")
}

/// A running HTTP server on its own thread; stopped on [`Running::stop`] or drop.
pub struct Running {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Serve HTTP/1 on `listener` with `handler` (given the request and the client's address) on a
/// new thread with its own current-thread runtime, so nothing here touches the process-wide
/// runtime of [`crate::aws::block_on`].
pub fn spawn<H, F>(listener: std::net::TcpListener, handler: H) -> std::io::Result<Running>
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = Resp> + Send + 'static,
{
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    // The ECS and EC2 endpoints take no request body.
    let handler = Arc::new(conn::refuse_bodies(handler));
    let thread = std::thread::Builder::new()
        .name("aws-vault-server".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        crate::debug!("server: {e}");
                        return;
                    }
                };
                serve(listener, handler, rx).await;
            });
        })?;
    Ok(Running {
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

/// Accept connections until `stop` fires; each connection is served by its own task, within
/// the limits of [`conn`] (timeouts, a connection cap, a body cap).
pub async fn serve<H, F>(
    listener: tokio::net::TcpListener,
    handler: Arc<H>,
    stop: tokio::sync::oneshot::Receiver<()>,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = Resp> + Send + 'static,
{
    conn::serve(listener, handler, stop, conn::Peers::Any).await;
}

/// Percent-decoding of a URL path (`%XX`; `+` stays `+`). Invalid escapes are kept as-is.
pub fn percent_decode(path: &str) -> String {
    String::from_utf8_lossy(&crate::gofmt::quote::unescape_hex(path, b'%')).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn creds(id: &str, secs_left: Option<i64>) -> Credentials {
        Credentials {
            access_key_id: id.into(),
            secret_access_key: SecretString::from("s".to_string()),
            session_token: Some(SecretString::from("t".to_string())),
            expires: secs_left
                .map(|s| Timestamp::from_second(Timestamp::now().as_second() + s).unwrap()),
        }
    }

    #[test]
    fn freshness_uses_the_min_ttl_window() {
        let now = Timestamp::now();
        let ttl = Duration::from_secs(300);
        assert_eq!(freshness(&creds("a", None), ttl, now), Freshness::Fresh);
        assert_eq!(
            freshness(&creds("a", Some(3600)), ttl, now),
            Freshness::Fresh
        );
        assert_eq!(
            freshness(&creds("a", Some(100)), ttl, now),
            Freshness::Stale
        );
        assert_eq!(
            freshness(&creds("a", Some(-1)), ttl, now),
            Freshness::Expired
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("arn%3Aaws%3Aiam%3A%3A1%3Arole/x+y%2"),
            "arn:aws:iam::1:role/x+y%2"
        );
    }

    /// A fetcher that counts calls and takes `delay`.
    struct Slow {
        calls: Arc<Mutex<usize>>,
        delay: Duration,
        fail: bool,
    }

    impl Fetch for Slow {
        fn fetch(&mut self, _t: &Wanted) -> anyhow::Result<Credentials> {
            *self.calls.lock().unwrap() += 1;
            std::thread::sleep(self.delay);
            if self.fail {
                anyhow::bail!("no MFA code");
            }
            Ok(creds("fetched", Some(3600)))
        }
    }

    fn run_requests(
        n: usize,
        wait: Duration,
        delay: Duration,
        fail: bool,
    ) -> (usize, Vec<Result<Arc<Credentials>, FetchError>>) {
        let (broker, rx) = Broker::new("p", Duration::from_secs(300), wait);
        let calls = Arc::new(Mutex::new(0));
        let b2 = broker.clone();
        let results = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let out = rt.block_on(async {
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let b = b2.clone();
                        tokio::spawn(async move { b.get(Wanted::Base).await })
                    })
                    .collect();
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.unwrap());
                }
                out
            });
            let _ = b2.sender().send(Job::Stop);
            out
        });
        let mut f = Slow {
            calls: calls.clone(),
            delay,
            fail,
        };
        work(&rx, &broker, &mut f);
        let results = results.join().unwrap();
        let n = *calls.lock().unwrap();
        (n, results)
    }

    #[test]
    fn concurrent_requests_cause_one_refresh() {
        let (calls, results) = run_requests(
            20,
            Duration::from_secs(5),
            Duration::from_millis(100),
            false,
        );
        assert_eq!(calls, 1);
        assert!(results
            .iter()
            .all(|r| r.as_ref().unwrap().access_key_id == "fetched"));
    }

    #[test]
    fn a_failed_refresh_is_shared_too() {
        let (calls, results) =
            run_requests(10, Duration::from_secs(5), Duration::from_millis(50), true);
        assert_eq!(calls, 1);
        assert!(results
            .iter()
            .all(|r| r.as_ref().unwrap_err().message == "no MFA code"));
    }

    #[test]
    fn a_blocked_refresh_answers_within_the_wait() {
        let start = Instant::now();
        let (_, results) = run_requests(
            3,
            Duration::from_millis(200),
            Duration::from_millis(1500),
            false,
        );
        // Each request was answered long before the refresh ended...
        for r in &results {
            assert!(r.as_ref().unwrap_err().pending, "{r:?}");
        }
        // ...and the worker still finished it (the test joins after it).
        assert!(start.elapsed() >= Duration::from_millis(1500));
    }

    #[test]
    fn stale_credentials_are_refreshed_before_expiry() {
        let (broker, rx) = Broker::new("p", Duration::from_secs(300), Duration::from_secs(5));
        broker.lock_cache().creds.insert(
            Wanted::Base,
            (Instant::now(), Arc::new(creds("old", Some(60)))),
        );
        let b2 = broker.clone();
        let t = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let c = rt.block_on(b2.get(Wanted::Base)).unwrap();
            let _ = b2.sender().send(Job::Stop);
            c
        });
        let calls = Arc::new(Mutex::new(0));
        work(
            &rx,
            &broker,
            &mut Slow {
                calls: calls.clone(),
                delay: Duration::ZERO,
                fail: false,
            },
        );
        assert_eq!(t.join().unwrap().access_key_id, "fetched");
        assert_eq!(*calls.lock().unwrap(), 1);
    }
}
