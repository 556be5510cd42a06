//! Reaching AWS: SDK clients for STS and IAM, built without `aws-config`, plus the
//! synchronous bridge ([`block_on`]) and the one-line error text every AWS call reports.
//!
//! * Clients are built only when a call is about to be made, never at startup: building the
//!   first one loads the TLS trust roots (several milliseconds).
//! * One HTTP client ([`http_client`]) and one current-thread tokio runtime ([`block_on`]) are
//!   shared by the whole process, both created on first use. Sharing the runtime (rather than
//!   building one per call) keeps pooled connections usable, so the calls of a role chain
//!   (GetSessionToken, then AssumeRole) reuse one TLS connection.
//! * Every client has a connect timeout ([`CONNECT_TIMEOUT`]), an operation timeout
//!   ([`OPERATION_TIMEOUT`]) and the SDK's standard retry (at most [`MAX_ATTEMPTS`] attempts), so
//!   an unreachable endpoint fails in bounded time.
//! * Proxies come from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` (or their lower-case forms) like
//!   Go's default transport, which never proxies localhost or loopback addresses.
//!
//! Endpoint rules (docs/compatibility.md §3.3): `endpoint_url` redirects every service; else
//! `sts_regional_endpoints = legacy` with one of the legacy regions sends STS to
//! `https://sts.amazonaws.com`; else the SDK's default endpoint for the region.
//!
//! **Region default (deliberate change, docs/compatibility.md §7.7):** the Go tool fails every STS call
//! when no region resolves. STS and IAM are global services, so a profile without a region uses
//! [`DEFAULT_REGION`] (`us-east-1`, the region of the global endpoints) and says so in the
//! `--debug` log.
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_sts::config::{BehaviorVersion, Region, SharedHttpClient};
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::credentials::Credentials;

/// Region used for STS and IAM when the profile resolves none (see the module docs).
pub const DEFAULT_REGION: &str = "us-east-1";
/// Longest wait for a TCP (+ proxy) connection to be established.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time one operation may take, retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts per operation (the SDK's standard retry mode).
pub const MAX_ATTEMPTS: u32 = 3;
/// Pooled connections idle longer than this are not reused (AWS closes idle connections).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// The global STS endpoint that `sts_regional_endpoints = legacy` selects.
pub const STS_GLOBAL_ENDPOINT: &str = "https://sts.amazonaws.com";

/// Regions that `sts_regional_endpoints = legacy` sends to the global STS endpoint (docs/compatibility.md §3.3).
pub const STS_LEGACY_GLOBAL_REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "aws-global",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Where and how to reach AWS for one profile (from ProfileConfig).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoint {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub sts_regional_endpoints: Option<String>,
}

/// The AWS services aws-vault calls with SigV4 credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Sts,
    Iam,
}

impl Endpoint {
    pub fn from_profile(p: &crate::config::ProfileConfig) -> Endpoint {
        Endpoint {
            region: p.region.clone(),
            endpoint_url: p.endpoint_url.clone(),
            sts_regional_endpoints: p.sts_regional_endpoints.clone(),
        }
    }

    /// The client region: the profile's, else [`DEFAULT_REGION`].
    pub fn region_or_default(&self) -> &str {
        match self.region.as_deref().filter(|r| !r.is_empty()) {
            Some(r) => r,
            None => DEFAULT_REGION,
        }
    }

    /// The endpoint URL override for `service`, or `None` for the SDK's default endpoint of the
    /// client region (docs/compatibility.md §3.3). Signing always uses the client region.
    pub fn url_override(&self, service: Service) -> Option<String> {
        if let Some(url) = self.endpoint_url.as_deref().filter(|u| !u.is_empty()) {
            return Some(url.to_string());
        }
        let legacy = self
            .sts_regional_endpoints
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("legacy"));
        let region = self.region_or_default();
        // `aws-global` already resolves to the global endpoint in the SDK, and with the right
        // signing region (us-east-1), so it needs no override.
        if service == Service::Sts
            && legacy
            && region != "aws-global"
            && STS_LEGACY_GLOBAL_REGIONS.contains(&region)
        {
            return Some(STS_GLOBAL_ENDPOINT.to_string());
        }
        None
    }

    fn log_region(&self, service: &str) {
        if self.region.as_deref().is_none_or(str::is_empty) {
            crate::debug!("no region set for {service}; using the default region {DEFAULT_REGION}");
        }
    }
}

/// The process-wide HTTP(S) client (rustls with ring, native trust roots, proxies from the
/// environment), created on first use.
pub fn http_client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            use aws_smithy_http_client::{tls, Builder, Connector};
            let proxy = proxy_config(|k| std::env::var(k).ok());
            Builder::new().build_with_connector_fn(move |settings, components| {
                let mut builder = Connector::builder()
                    .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                    .proxy_config(proxy.clone());
                builder.set_connector_settings(settings.cloned());
                if let Some(components) = components {
                    builder.set_sleep_impl(components.sleep_impl());
                }
                builder
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build()
            })
        })
        .clone()
}

/// Hosts never sent through a proxy, as in Go's `httpproxy`: localhost and loopback addresses.
const ALWAYS_DIRECT: &str = "localhost,127.0.0.0/8,::1";

/// Which proxy the environment asks for, Go style: `HTTPS_PROXY`/`https_proxy` for https URLs,
/// `HTTP_PROXY`/`http_proxy` for http URLs, `NO_PROXY`/`no_proxy` exceptions (plus loopback).
#[derive(Debug, Clone, PartialEq)]
struct ProxyChoice {
    /// `"https"`, `"http"` or `"all"`.
    scheme: &'static str,
    url: String,
    no_proxy: String,
}

fn proxy_choice(get: impl Fn(&str) -> Option<String>) -> Option<ProxyChoice> {
    let var = |upper: &str, lower: &str| {
        get(upper)
            .filter(|v| !v.is_empty())
            .or_else(|| get(lower).filter(|v| !v.is_empty()))
    };
    let https = var("HTTPS_PROXY", "https_proxy");
    let http = var("HTTP_PROXY", "http_proxy");
    let no_proxy = match var("NO_PROXY", "no_proxy") {
        Some(n) => format!("{n},{ALWAYS_DIRECT}"),
        None => ALWAYS_DIRECT.to_string(),
    };
    let (scheme, url) = match (https, http) {
        (Some(s), Some(h)) if s == h => ("all", s),
        // One proxy per client: AWS endpoints are https, so HTTPS_PROXY wins; a different
        // HTTP_PROXY then only matters for plain-http endpoint_url servers, which go direct.
        (Some(s), _) => ("https", s),
        (None, Some(h)) => ("http", h),
        (None, None) => return None,
    };
    Some(ProxyChoice {
        scheme,
        url,
        no_proxy,
    })
}

fn proxy_config(
    get: impl Fn(&str) -> Option<String>,
) -> aws_smithy_http_client::proxy::ProxyConfig {
    use aws_smithy_http_client::proxy::ProxyConfig;
    let Some(choice) = proxy_choice(get) else {
        return ProxyConfig::disabled();
    };
    let config = match choice.scheme {
        "all" => ProxyConfig::all(choice.url.as_str()),
        "https" => ProxyConfig::https(choice.url.as_str()),
        _ => ProxyConfig::http(choice.url.as_str()),
    };
    match config {
        Ok(c) => c.no_proxy(&choice.no_proxy),
        Err(e) => {
            crate::debug!("ignoring the {} proxy setting: {e}", choice.scheme);
            ProxyConfig::disabled()
        }
    }
}

fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

fn sdk_credentials(c: &Credentials) -> aws_sdk_sts::config::Credentials {
    // No expiry is passed: the identity cache would otherwise reject (and endlessly reload)
    // source credentials that are about to expire; AWS itself is the judge of that.
    aws_sdk_sts::config::Credentials::new(
        c.access_key_id.clone(),
        c.secret().to_string(),
        c.token().map(str::to_string),
        None,
        "aws-vault",
    )
}

/// An STS client for `ep`; `creds = None` builds an unsigned client (AssumeRoleWithWebIdentity).
pub fn sts_client(ep: &Endpoint, creds: Option<&Credentials>) -> aws_sdk_sts::Client {
    ep.log_region("STS");
    let mut b = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(ep.region_or_default().to_string()))
        .http_client(http_client())
        .timeout_config(timeout_config())
        .retry_config(retry_config());
    if let Some(url) = ep.url_override(Service::Sts) {
        b = b.endpoint_url(url);
    }
    if let Some(c) = creds {
        b = b.credentials_provider(sdk_credentials(c));
    }
    aws_sdk_sts::Client::from_conf(b.build())
}

/// An IAM client for `ep`, signed with `creds`.
pub fn iam_client(ep: &Endpoint, creds: &Credentials) -> aws_sdk_iam::Client {
    ep.log_region("IAM");
    let mut b = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new(
            ep.region_or_default().to_string(),
        ))
        .http_client(http_client())
        .timeout_config(timeout_config())
        .retry_config(retry_config())
        .credentials_provider(sdk_credentials(creds));
    if let Some(url) = ep.url_override(Service::Iam) {
        b = b.endpoint_url(url);
    }
    aws_sdk_iam::Client::from_conf(b.build())
}

/// An IAM Identity Center portal client for `region` (no SigV4: a bearer token authenticates
/// each call). `endpoint_url` redirects it (tests, private endpoints).
pub fn sso_client(region: &str, endpoint_url: Option<&str>) -> aws_sdk_sso::Client {
    let mut b = aws_sdk_sso::Config::builder()
        .behavior_version(aws_sdk_sso::config::BehaviorVersion::latest())
        .region(aws_sdk_sso::config::Region::new(region.to_string()))
        .http_client(http_client())
        .timeout_config(timeout_config())
        .retry_config(retry_config());
    if let Some(url) = endpoint_url {
        b = b.endpoint_url(url);
    }
    aws_sdk_sso::Client::from_conf(b.build())
}

/// An SSO-OIDC client for `region` (client registration, the login flows, token refresh).
pub fn oidc_client(region: &str, endpoint_url: Option<&str>) -> aws_sdk_ssooidc::Client {
    let mut b = aws_sdk_ssooidc::Config::builder()
        .behavior_version(aws_sdk_ssooidc::config::BehaviorVersion::latest())
        .region(aws_sdk_ssooidc::config::Region::new(region.to_string()))
        .http_client(http_client())
        .timeout_config(timeout_config())
        .retry_config(retry_config());
    if let Some(url) = endpoint_url {
        b = b.endpoint_url(url);
    }
    aws_sdk_ssooidc::Client::from_conf(b.build())
}

/// Start the HTTP client's TLS set-up (parsing the system's ~150 trust roots, several
/// milliseconds of CPU) on another thread, so that it overlaps with what the caller does
/// before its first AWS call — on a cold `export`, reading the long-term key (a key
/// derivation). The roots are parsed once per process and shared by every client, so the
/// client built here is thrown away. Idempotent.
pub fn warm_up() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("aws-vault-warm-up".into())
            .spawn(|| {
                let conf = aws_sdk_sts::Config::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .region(Region::new("us-east-1"))
                    .http_client(http_client())
                    .timeout_config(timeout_config())
                    .retry_config(retry_config())
                    .build();
                drop(aws_sdk_sts::Client::from_conf(conf));
            });
        if let Err(e) = spawned {
            crate::debug!("cannot start the warm-up thread: {e}");
        }
    });
}

/// Run `f` to completion on the process-wide current-thread tokio runtime (created on first
/// use). May be called from several threads at once; must not be called from inside an async
/// context (tokio panics: "Cannot start a runtime from within a runtime").
pub fn block_on<F: Future>(f: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cannot start the tokio runtime")
        })
        .block_on(f)
}

/// An interceptor that remembers the URL a request was sent to, for error messages.
#[derive(Debug, Clone, Default)]
pub struct CallUrl(Arc<Mutex<Option<String>>>);

impl CallUrl {
    /// `scheme://host[:port]` of the last request sent, if any.
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
}

impl Intercept for CallUrl {
    fn name(&self) -> &'static str {
        "aws-vault-call-url"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(origin(context.request().uri()));
        }
        Ok(())
    }
}

/// `scheme://authority` of a URI (drops path and query).
fn origin(uri: &str) -> String {
    match uri.find("://") {
        Some(i) => {
            let rest = &uri[i + 3..];
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            format!("{}://{}", &uri[..i], &rest[..end])
        }
        None => uri.to_string(),
    }
}

/// Make one AWS call synchronously and turn its error into one line naming `op`.
///
/// `make` gets a [`CallUrl`] to attach with `.customize().interceptor(url)`; e.g.
/// `aws::call("GetCallerIdentity", |url| client.get_caller_identity().customize().interceptor(url).send())`.
pub fn call<T, E, Fut>(op: &str, make: impl FnOnce(CallUrl) -> Fut) -> anyhow::Result<T>
where
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    call_at(op, None, make)
}

/// [`call`], naming `url_hint` (e.g. [`Endpoint::url_override`]) in the error when the request
/// failed before it was sent anywhere (for example an unparsable `endpoint_url`).
pub fn call_at<T, E, Fut>(
    op: &str,
    url_hint: Option<&str>,
    make: impl FnOnce(CallUrl) -> Fut,
) -> anyhow::Result<T>
where
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let url = CallUrl::default();
    let fut = make(url.clone());
    block_on(fut).map_err(|e| {
        let target = url.get().or_else(|| url_hint.map(str::to_string));
        anyhow::anyhow!(describe_error(op, &e, target.as_deref()))
    })
}

/// One line for a failed AWS call: `Op: Code: message` for an AWS error,
/// `Op: cannot reach URL: reason` when no answer came. Never a Debug dump, never a secret.
pub fn describe_error<E>(op: &str, err: &SdkError<E, HttpResponse>, url: Option<&str>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let target = url.unwrap_or("the AWS endpoint");
    let line = match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let raw = se.raw();
            // Some servers (moto) wrap errors as <ErrorResponse><Errors><Error>, which the
            // SDK's query-protocol parser does not read; take Code/Message from the body then.
            let body = raw.body().bytes().and_then(|b| std::str::from_utf8(b).ok());
            let code = e
                .code()
                .map(str::to_string)
                .or_else(|| body.and_then(|b| xml_text(b, "Code")))
                .unwrap_or_else(|| format!("HTTP {}", raw.status().as_u16()));
            let message = e
                .message()
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .or_else(|| body.and_then(|b| xml_text(b, "Message")));
            match message {
                Some(msg) => format!("{op}: {code}: {msg}"),
                None => format!("{op}: {code}"),
            }
        }
        SdkError::DispatchFailure(df) => {
            let reason = match df.as_connector_error() {
                Some(ce) if ce.is_timeout() => {
                    format!("timed out after {}s", CONNECT_TIMEOUT.as_secs())
                }
                _ => innermost_reason(err),
            };
            format!("{op}: cannot reach {target}: {reason}")
        }
        SdkError::TimeoutError(_) => format!(
            "{op}: cannot reach {target}: no answer within {}s",
            OPERATION_TIMEOUT.as_secs()
        ),
        SdkError::ResponseError(re) => format!(
            "{op}: unexpected response from {target} (HTTP {}): {}",
            re.raw().status().as_u16(),
            chain(err)
        ),
        SdkError::ConstructionFailure(_) => format!("{op}: {}", chain(err)),
        _ => format!("{op}: {}", chain(err)),
    };
    one_line(&line)
}

/// The sources of `err` below the SDK wrapper, joined with ": " (duplicates skipped).
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        // Skip the SDK's plumbing wrappers ("XInterceptor read_before_execution interceptor
        // encountered an error"); their causes say what went wrong.
        let plumbing = s.ends_with("interceptor encountered an error");
        if !s.is_empty() && !plumbing && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}

/// The deepest cause of a connection failure, e.g. `connection refused`.
fn innermost_reason(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = last.source() {
        last = next;
    }
    let mut s = last.to_string();
    if let Some(i) = s.find(" (os error ") {
        s.truncate(i);
    }
    let mut chars = s.chars();
    if let Some(first) = chars.next() {
        // "Connection refused" -> "connection refused", but keep acronyms ("TLS ...").
        let acronym = chars.next().is_some_and(|c| c.is_ascii_uppercase());
        if first.is_ascii_uppercase() && !acronym {
            s = first.to_ascii_lowercase().to_string() + &s[1..];
        }
    }
    s
}

/// The text of the first `<tag>…</tag>` in an XML error body, entities decoded; `None` when
/// absent or empty.
fn xml_text(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = start + body[start..].find(&format!("</{tag}>"))?;
    let text = body[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(region: Option<&str>, url: Option<&str>, regional: Option<&str>) -> Endpoint {
        Endpoint {
            region: region.map(str::to_string),
            endpoint_url: url.map(str::to_string),
            sts_regional_endpoints: regional.map(str::to_string),
        }
    }

    #[test]
    fn endpoint_url_applies_to_every_service() {
        let e = ep(
            Some("eu-west-1"),
            Some("http://127.0.0.1:5000"),
            Some("legacy"),
        );
        assert_eq!(
            e.url_override(Service::Sts).as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            e.url_override(Service::Iam).as_deref(),
            Some("http://127.0.0.1:5000")
        );
    }

    #[test]
    fn legacy_listed_region_uses_global_sts() {
        let e = ep(Some("eu-west-1"), None, Some("legacy"));
        assert_eq!(
            e.url_override(Service::Sts).as_deref(),
            Some(STS_GLOBAL_ENDPOINT)
        );
        assert_eq!(e.url_override(Service::Iam), None);
    }

    #[test]
    fn legacy_unlisted_region_or_regional_uses_sdk_default() {
        assert_eq!(
            ep(Some("af-south-1"), None, Some("legacy")).url_override(Service::Sts),
            None
        );
        assert_eq!(
            ep(Some("eu-west-1"), None, Some("regional")).url_override(Service::Sts),
            None
        );
        assert_eq!(
            ep(Some("eu-west-1"), None, None).url_override(Service::Sts),
            None
        );
        // aws-global resolves to the global endpoint in the SDK already.
        assert_eq!(
            ep(Some("aws-global"), None, Some("legacy")).url_override(Service::Sts),
            None
        );
    }

    #[test]
    fn missing_region_defaults_to_us_east_1() {
        let e = ep(None, None, Some("legacy"));
        assert_eq!(e.region_or_default(), "us-east-1");
        assert_eq!(
            e.url_override(Service::Sts).as_deref(),
            Some(STS_GLOBAL_ENDPOINT)
        );
        assert_eq!(ep(Some(""), None, None).region_or_default(), "us-east-1");
    }

    #[test]
    fn from_profile_copies_fields() {
        let p = crate::config::ProfileConfig {
            region: Some("eu-west-2".into()),
            endpoint_url: Some("http://x".into()),
            sts_regional_endpoints: Some("legacy".into()),
            ..Default::default()
        };
        assert_eq!(
            Endpoint::from_profile(&p),
            ep(Some("eu-west-2"), Some("http://x"), Some("legacy"))
        );
    }

    #[test]
    fn origin_drops_path() {
        assert_eq!(
            origin("https://sts.us-east-1.amazonaws.com/?a=b"),
            "https://sts.us-east-1.amazonaws.com"
        );
        assert_eq!(origin("http://127.0.0.1:5000/"), "http://127.0.0.1:5000");
        assert_eq!(origin("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
    }

    #[test]
    fn proxy_from_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(proxy_choice(env(&[])), None);
        assert_eq!(proxy_choice(env(&[("HTTPS_PROXY", "")])), None);
        let c = proxy_choice(env(&[
            ("https_proxy", "http://p:3128"),
            ("NO_PROXY", "corp"),
        ]))
        .unwrap();
        assert_eq!((c.scheme, c.url.as_str()), ("https", "http://p:3128"));
        assert_eq!(c.no_proxy, format!("corp,{ALWAYS_DIRECT}"));
        let c = proxy_choice(env(&[
            ("HTTPS_PROXY", "http://a:1"),
            ("https_proxy", "http://b:1"),
            ("HTTP_PROXY", "http://a:1"),
        ]))
        .unwrap();
        assert_eq!((c.scheme, c.url.as_str()), ("all", "http://a:1"));
        let c = proxy_choice(env(&[("http_proxy", "http://h:8080")])).unwrap();
        assert_eq!((c.scheme, c.no_proxy.as_str()), ("http", ALWAYS_DIRECT));
        // A bad URL is ignored rather than failing every call.
        assert!(proxy_config(env(&[("HTTPS_PROXY", "::not a url::")])).is_disabled());
        assert!(!proxy_config(env(&[("HTTPS_PROXY", "http://p:3128")])).is_disabled());
    }

    #[test]
    fn xml_error_fallback() {
        let body = "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>AccessDenied</Code>\
                    <Message>a &amp; b &lt;c&gt;</Message></Error></Errors></ErrorResponse>";
        assert_eq!(xml_text(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(xml_text(body, "Message").as_deref(), Some("a & b <c>"));
        assert_eq!(xml_text(body, "Type"), None);
        assert_eq!(xml_text("<Code></Code>", "Code"), None);
    }

    #[test]
    fn reason_is_lowercased_without_os_error() {
        let e = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(innermost_reason(&e), "connection refused");
    }
}
