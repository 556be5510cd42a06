//! Logging in to IAM Identity Center through SSO-OIDC: client registration, the PKCE
//! authorization-code flow (the default, as in the AWS CLI v2 since 2.22), the device-code flow,
//! refresh-token grants, and opening the user's browser.
//!
//! Everything here is async and runs inside [`crate::aws::block_on`]; keyring access stays in
//! the caller ([`super::sso`]). Every wait for the user can be aborted with Ctrl-C.
use std::convert::Infallible;
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use aws_sdk_ssooidc::operation::create_token::CreateTokenError;
use base64::Engine;
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::store::oidc::ClientRegistration;

/// The redirect URI registered for the PKCE flow; the port is chosen per login (RFC 8252 §7.3:
/// loopback redirect URIs match on any port).
pub const REDIRECT_URI: &str = "http://127.0.0.1/oauth/callback";
const CLIENT_NAME: &str = "aws-vault";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// How long the PKCE flow waits for the browser to come back.
const PKCE_TIMEOUT: Duration = Duration::from_secs(600);
/// Device-code polling interval when the service names none (RFC 8628 §3.2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Added to the interval on every `slow_down` (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Which login flow a client registration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Pkce,
    Device,
}

impl Flow {
    pub fn name(self) -> &'static str {
        match self {
            Flow::Pkce => "pkce",
            Flow::Device => "device",
        }
    }
}

/// Where to log in.
pub struct Portal<'a> {
    pub start_url: &'a str,
    pub region: &'a str,
    pub endpoint_url: Option<&'a str>,
    pub scopes: &'a [String],
}

/// A token fresh from CreateToken.
pub struct NewToken {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub token_type: String,
    pub expires: Timestamp,
}

/// The SSO-OIDC endpoint base URL (also the base of the PKCE authorization page).
fn oidc_base(t: &Portal<'_>) -> String {
    match t.endpoint_url.filter(|u| !u.is_empty()) {
        Some(u) => u.trim_end_matches('/').to_string(),
        None if t.region.starts_with("cn-") => {
            format!("https://oidc.{}.amazonaws.com.cn", t.region)
        }
        None => format!("https://oidc.{}.amazonaws.com", t.region),
    }
}

fn sdk_err<E>(
    op: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
    t: &Portal<'_>,
) -> anyhow::Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    anyhow::Error::new(OidcError {
        code: e.code().map(str::to_string),
        message: crate::aws::describe_error(op, e, Some(&oidc_base(t))),
    })
}

/// An SSO-OIDC call that failed, with the service's error code when it sent one.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct OidcError {
    pub code: Option<String>,
    message: String,
}

impl OidcError {
    /// Whether the service no longer accepts the client registration used for the call.
    pub fn rejects_client(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("InvalidClientException" | "UnauthorizedClientException")
        )
    }
}

/// RegisterClient for `flow`. Scopes (when configured) are what make the service issue refresh
/// tokens.
pub async fn register(
    client: &aws_sdk_ssooidc::Client,
    flow: Flow,
    t: &Portal<'_>,
) -> anyhow::Result<ClientRegistration> {
    let mut req = client
        .register_client()
        .client_name(CLIENT_NAME)
        .client_type("public")
        .set_scopes((!t.scopes.is_empty()).then(|| t.scopes.to_vec()));
    match flow {
        Flow::Pkce => {
            req = req
                .grant_types("authorization_code")
                .grant_types("refresh_token")
                .redirect_uris(REDIRECT_URI)
                .issuer_url(t.start_url);
        }
        Flow::Device if !t.scopes.is_empty() => {
            req = req.grant_types(DEVICE_GRANT).grant_types("refresh_token");
        }
        Flow::Device => {}
    }
    let out = req
        .send()
        .await
        .map_err(|e| sdk_err("RegisterClient", &e, t))?;
    let id = out.client_id.filter(|s| !s.is_empty());
    let secret = out.client_secret.filter(|s| !s.is_empty());
    let (Some(id), Some(secret)) = (id, secret) else {
        bail!("RegisterClient: the response has no client id or secret");
    };
    // clientSecretExpiresAt is in seconds; without it, assume the documented 90 days.
    let expires = Timestamp::from_second(out.client_secret_expires_at)
        .ok()
        .filter(|e| e.as_second() > 0)
        .unwrap_or_else(|| Timestamp::now() + jiff::SignedDuration::from_hours(24 * 90));
    Ok(ClientRegistration {
        client_id: id,
        client_secret: SecretString::from(secret),
        expires,
        region: t.region.to_string(),
        scopes: t.scopes.to_vec(),
        endpoint: t.endpoint_url.unwrap_or_default().to_string(),
    })
}

fn new_token(
    out: aws_sdk_ssooidc::operation::create_token::CreateTokenOutput,
) -> anyhow::Result<NewToken> {
    let access = out
        .access_token
        .filter(|s| !s.is_empty())
        .ok_or_else(|| anyhow!("CreateToken: the response has no access token"))?;
    let expires_in = if out.expires_in > 0 {
        out.expires_in
    } else {
        3600
    };
    Ok(NewToken {
        access_token: SecretString::from(access),
        refresh_token: out
            .refresh_token
            .filter(|s| !s.is_empty())
            .map(SecretString::from),
        token_type: out.token_type.unwrap_or_else(|| "Bearer".into()),
        expires: Timestamp::now() + jiff::SignedDuration::from_secs(expires_in as i64),
    })
}

/// Exchange a refresh token for a new access token (no user interaction).
pub async fn refresh(
    client: &aws_sdk_ssooidc::Client,
    reg: &ClientRegistration,
    refresh_token: &SecretString,
    t: &Portal<'_>,
) -> anyhow::Result<NewToken> {
    let out = client
        .create_token()
        .client_id(&reg.client_id)
        .client_secret(reg.client_secret.expose_secret())
        .grant_type("refresh_token")
        .refresh_token(refresh_token.expose_secret())
        .send()
        .await
        .map_err(|e| sdk_err("CreateToken (refresh)", &e, t))?;
    let mut token = new_token(out)?;
    // The service may not rotate the refresh token; keep the one that worked.
    if token.refresh_token.is_none() {
        token.refresh_token = Some(refresh_token.clone());
    }
    Ok(token)
}

/// Run `fut`, aborting cleanly on Ctrl-C, and show a progress line on stderr meanwhile.
pub async fn interactive<T>(
    waiting: &str,
    fut: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let tty = std::io::stderr().is_terminal();
    if !tty {
        eprintln!("{waiting}");
    }
    let progress = async {
        let start = std::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if tty {
                eprint!("\r{waiting} {}s ", start.elapsed().as_secs());
            }
        }
    };
    let result = tokio::select! {
        r = fut => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("SSO login aborted (Ctrl-C); nothing was stored")),
        _ = progress => unreachable!("the progress loop never ends"),
    };
    if tty {
        eprintln!();
    }
    result
}

/// The device-code flow (RFC 8628). Always prints the verification URL and user code; opens
/// the browser when `open_browser`.
pub async fn device_flow(
    client: &aws_sdk_ssooidc::Client,
    reg: &ClientRegistration,
    t: &Portal<'_>,
    open_browser: bool,
) -> anyhow::Result<NewToken> {
    let auth = client
        .start_device_authorization()
        .client_id(&reg.client_id)
        .client_secret(reg.client_secret.expose_secret())
        .start_url(t.start_url)
        .send()
        .await
        .map_err(|e| sdk_err("StartDeviceAuthorization", &e, t))?;
    let device_code = auth
        .device_code
        .clone()
        .ok_or_else(|| anyhow!("StartDeviceAuthorization: the response has no device code"))?;
    let uri = auth.verification_uri.clone().unwrap_or_default();
    let complete = auth
        .verification_uri_complete
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| uri.clone());
    let code = auth.user_code.clone().unwrap_or_default();
    let mut opened = false;
    if open_browser {
        eprintln!(
            "Opening the SSO authorization page in your default browser (use Ctrl-C to abort)"
        );
        eprintln!("{complete}");
        match open_url(&complete) {
            Ok(()) => opened = true,
            Err(e) => eprintln!("Cannot open a browser ({e}); open the page above yourself."),
        }
    } else {
        eprintln!("Open the SSO authorization page in a browser (use Ctrl-C to abort)");
        eprintln!("{complete}");
    }
    eprintln!("If asked, go to {uri} and enter the code {code}");
    let _ = opened;

    let mut interval = if auth.interval > 0 {
        Duration::from_secs(auth.interval as u64)
    } else {
        DEFAULT_INTERVAL
    };
    let deadline = (auth.expires_in > 0)
        .then(|| tokio::time::Instant::now() + Duration::from_secs(auth.expires_in as u64));
    let poll = async {
        loop {
            tokio::time::sleep(interval).await;
            if deadline.is_some_and(|d| tokio::time::Instant::now() > d) {
                bail!("the SSO device authorization expired before it was approved; run the command again");
            }
            let res = client
                .create_token()
                .client_id(&reg.client_id)
                .client_secret(reg.client_secret.expose_secret())
                .grant_type(DEVICE_GRANT)
                .device_code(&device_code)
                .send()
                .await;
            match res {
                Ok(out) => return new_token(out),
                Err(e) => match e.as_service_error() {
                    Some(CreateTokenError::AuthorizationPendingException(_)) => {}
                    Some(CreateTokenError::SlowDownException(_)) => {
                        interval += SLOW_DOWN_STEP;
                        crate::debug!(
                            "SSO-OIDC asked to slow down; polling every {}s",
                            interval.as_secs()
                        );
                    }
                    Some(CreateTokenError::ExpiredTokenException(_)) => bail!(
                        "the SSO device authorization expired before it was approved; run the command again"
                    ),
                    Some(CreateTokenError::AccessDeniedException(_)) => {
                        bail!("the SSO authorization was denied in the browser")
                    }
                    _ => return Err(sdk_err("CreateToken", &e, t)),
                },
            }
        }
    };
    interactive("Waiting for the SSO authorization to be approved...", poll).await
}

/// The PKCE authorization-code flow with a loopback redirect listener on 127.0.0.1.
pub async fn pkce_flow(
    client: &aws_sdk_ssooidc::Client,
    reg: &ClientRegistration,
    t: &Portal<'_>,
) -> anyhow::Result<NewToken> {
    let verifier = SecretString::from(crate::random::token(32)?);
    let challenge = b64url(&Sha256::digest(verifier.expose_secret().as_bytes()));
    let state = SecretString::from(crate::random::token(16)?);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("cannot listen on 127.0.0.1 for the SSO login redirect")?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/oauth/callback");

    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &reg.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("state", state.expose_secret())
        .append_pair("code_challenge_method", "S256");
    if !t.scopes.is_empty() {
        query.append_pair("scopes", &t.scopes.join(" "));
    }
    query.append_pair("code_challenge", &challenge);
    let url = format!("{}/authorize?{}", oidc_base(t), query.finish());

    eprintln!("Opening the SSO authorization page in your default browser (use Ctrl-C to abort)");
    eprintln!("{url}");
    open_url(&url).map_err(|e| anyhow!("cannot open a browser for the SSO login: {e}"))?;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<anyhow::Result<String>>(4);
    let expected_state = state.expose_secret().to_string();
    let server = async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let tx = tx.clone();
            let expected = expected_state.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let answer = callback(&req, &expected);
                    let tx = tx.clone();
                    async move {
                        let (status, page) = match &answer {
                            Some(Ok(_)) => {
                                (200, "aws-vault: login complete. You can close this window.")
                            }
                            Some(Err(_)) => (
                                400,
                                "aws-vault: login failed. Return to the terminal for details.",
                            ),
                            None => (404, "not found"),
                        };
                        if let Some(a) = answer {
                            let _ = tx.send(a).await;
                        }
                        let resp = hyper::Response::builder()
                            .status(status)
                            .header("content-type", "text/plain; charset=utf-8")
                            .header("connection", "close")
                            .body(http_body_util::Full::new(hyper::body::Bytes::from(page)))
                            .expect("static response");
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    };
    let wait = async {
        let got = tokio::select! {
            r = rx.recv() => r.unwrap_or_else(|| Err(anyhow!("the SSO login redirect listener stopped"))),
            _ = server => unreachable!("the redirect listener never ends"),
            _ = tokio::time::sleep(PKCE_TIMEOUT) => Err(anyhow!(
                "no answer from the browser within {} minutes; run the command again (or use --use-device-code)",
                PKCE_TIMEOUT.as_secs() / 60
            )),
        };
        let code = got?;
        let out = client
            .create_token()
            .client_id(&reg.client_id)
            .client_secret(reg.client_secret.expose_secret())
            .grant_type("authorization_code")
            .code(code)
            .redirect_uri(&redirect_uri)
            .code_verifier(verifier.expose_secret())
            .send()
            .await
            .map_err(|e| sdk_err("CreateToken", &e, t))?;
        new_token(out)
    };
    interactive(
        "Waiting for the SSO login to complete in the browser...",
        wait,
    )
    .await
}

/// The outcome of one request to the redirect listener: `None` for unrelated requests
/// (favicon, probes), otherwise the code or why the login failed.
fn callback<B>(req: &hyper::Request<B>, expected_state: &str) -> Option<anyhow::Result<String>> {
    if req.method() != hyper::Method::GET || req.uri().path() != "/oauth/callback" {
        return None;
    }
    let query = req.uri().query().unwrap_or("");
    let get = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if get("state").as_deref() != Some(expected_state) {
        return Some(Err(anyhow!(
            "the SSO login redirect does not belong to this login (state mismatch); nothing was stored"
        )));
    }
    if let Some(error) = get("error") {
        let detail = get("error_description")
            .map(|d| format!(": {}", one_line(&d)))
            .unwrap_or_default();
        return Some(Err(anyhow!(
            "the SSO authorization was denied in the browser ({}{detail})",
            one_line(&error)
        )));
    }
    match get("code").filter(|c| !c.is_empty()) {
        Some(code) => Some(Ok(code)),
        None => Some(Err(anyhow!(
            "the SSO login redirect carries no authorization code"
        ))),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// Browsers

/// Open `url` with `$BROWSER` or the platform opener, without waiting for the browser: the
/// PKCE flow serves its redirect while the browser runs.
fn open_url(url: &str) -> Result<(), String> {
    let browser = std::env::var("BROWSER").ok();
    crate::browser::open(browser.as_deref(), url, crate::browser::Wait::ForStart)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str) -> hyper::Request<()> {
        hyper::Request::builder().uri(uri).body(()).unwrap()
    }

    #[test]
    fn callback_checks_state_and_reports_errors() {
        assert!(callback(&req("/favicon.ico"), "s").is_none());
        assert_eq!(
            callback(&req("/oauth/callback?code=c1&state=s"), "s")
                .unwrap()
                .unwrap(),
            "c1"
        );
        let e = callback(&req("/oauth/callback?code=c1&state=x"), "s")
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().contains("state mismatch"), "{e}");
        let e = callback(
            &req("/oauth/callback?error=access_denied&error_description=no%20way&state=s"),
            "s",
        )
        .unwrap()
        .unwrap_err();
        assert!(e.to_string().contains("denied"), "{e}");
        assert!(e.to_string().contains("access_denied: no way"), "{e}");
    }

    #[test]
    fn pkce_challenge_is_rfc7636() {
        // RFC 7636 appendix B.
        let challenge = b64url(&Sha256::digest(
            b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ));
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn authorization_base() {
        let t = |region, ep| Portal {
            start_url: "https://x/start",
            region,
            endpoint_url: ep,
            scopes: &[],
        };
        assert_eq!(
            oidc_base(&t("eu-west-1", None)),
            "https://oidc.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            oidc_base(&t("cn-north-1", None)),
            "https://oidc.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            oidc_base(&t("eu-west-1", Some("http://127.0.0.1:9/"))),
            "http://127.0.0.1:9"
        );
    }
}
