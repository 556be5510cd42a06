//! The EC2 instance-metadata emulator (docs/compatibility.md §5.2) for `exec --ec2-server`, on
//! `127.0.0.1:9099` behind the 169.254.169.254 proxy ([`super::proxy`]).
//!
//! Every request is checked first: the client must be on a loopback address and the `Host`
//! header must be `169.254.169.254` (DNS-rebinding defence). Requests relayed by the
//! 169.254.169.254 proxy (or any other local relay) come from loopback, so the client judged is
//! the original one from `X-Forwarded-For` ([`judged_client`]). Beyond the Go tool, IMDSv2 token
//! requests (`PUT /latest/api/token`) are answered, so current SDKs do not first wait for a
//! timeout before falling back to IMDSv1; the token is not required afterwards.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::Request;

use super::{Broker, Resp, Running, Wanted};
use crate::credentials::Credentials;
use crate::gofmt::json::quote as json_str;
use crate::gofmt::time as timefmt;

/// Where the metadata server listens.
pub const ADDR: ([u8; 4], u16) = ([127, 0, 0, 1], 9099);

/// How long a request waits for a refresh before it is answered anyway (botocore gives IMDS
/// 1 s, one attempt).
pub const WAIT: std::time::Duration = std::time::Duration::from_millis(800);

const CREDS_PATH: &str = "/latest/meta-data/iam/security-credentials/local-credentials";
const ROLE_NAME: &str = "local-credentials";

/// Bind `127.0.0.1:9099`, with an error that says what to do when the port is taken (the Go
/// tool exits 1 silently, docs/compatibility.md §7.14).
pub fn bind() -> anyhow::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(SocketAddr::from(ADDR)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "cannot start the EC2 metadata server: 127.0.0.1:9099 is already in use (is another `aws-vault exec --ec2-server` running?)"
            )
        } else {
            anyhow::anyhow!("cannot start the EC2 metadata server on 127.0.0.1:9099: {e}")
        }
    })
}

/// Serve the metadata routes on `listener`.
pub fn start(
    listener: std::net::TcpListener,
    broker: Arc<Broker>,
    region: Option<String>,
) -> anyhow::Result<Running> {
    let region = Arc::new(region.unwrap_or_default());
    Ok(super::spawn(
        listener,
        move |req: Request<Incoming>, peer: SocketAddr| {
            let broker = broker.clone();
            let region = region.clone();
            async move { handle(&req, peer.ip(), &region, &broker).await }
        },
    )?)
}

/// What a request gets, before any credentials are fetched.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Denied(String),
    Token,
    MethodNotAllowed,
    Creds,
    Text(&'static str),
    Document,
    Redirect(String),
    NotFound,
}

/// The checks and routes of §5.2. `host` is the Host header (or the URI authority).
pub fn route(method: &str, path: &str, host: &str, client: IpAddr) -> Route {
    if !client.is_loopback() {
        return Route::Denied("Access denied from non-localhost address".into());
    }
    if host != "169.254.169.254" && host != "169.254.169.254:80" {
        return Route::Denied(format!("Access denied for host '{host}'"));
    }
    if path == "/latest/api/token" {
        return if method == "PUT" {
            Route::Token
        } else {
            Route::MethodNotAllowed
        };
    }
    if path == CREDS_PATH {
        return Route::Creds;
    }
    if path == "/latest/dynamic/instance-identity/document" {
        return Route::Document;
    }
    const SUBTREES: &[(&str, &str)] = &[
        ("/latest/meta-data/iam/security-credentials/", ROLE_NAME),
        ("/latest/meta-data/instance-id/", "aws-vault"),
        ("/latest/meta-data/iam/info/", "{\"Code\" : \"Success\"}"),
    ];
    for (prefix, body) in SUBTREES {
        if path.starts_with(prefix) {
            return Route::Text(body);
        }
        if Some(path) == prefix.strip_suffix('/') {
            return Route::Redirect(prefix.to_string());
        }
    }
    Route::NotFound
}

/// The client a request is judged by: the connection's peer, unless `X-Forwarded-For` names
/// an address that is not this machine's (loopback, or the 169.254.169.254 alias a local
/// client connects from) — then that one, and an entry that is not an address at all counts
/// as foreign. The proxy appends the peer it saw; earlier entries come from the client, which
/// can only make itself look less local, never more.
pub fn judged_client<'a>(peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>) -> IpAddr {
    let alias = IpAddr::from(super::proxy::LISTEN.0);
    for entry in forwarded_for.into_iter().flat_map(|v| v.split(',')) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let ip = entry
            .parse::<IpAddr>()
            .or_else(|_| entry.parse::<SocketAddr>().map(|a| a.ip()))
            .map(|ip| ip.to_canonical())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        if !ip.is_loopback() && ip != alias {
            return ip;
        }
    }
    peer
}

async fn handle(req: &Request<Incoming>, peer: IpAddr, region: &str, broker: &Broker) -> Resp {
    let client = judged_client(
        peer,
        req.headers()
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().unwrap_or("?")),
    );
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let text = "text/plain; charset=utf-8";
    match route(req.method().as_str(), req.uri().path(), &host, client) {
        Route::Denied(msg) => super::text_error(401, &msg),
        Route::MethodNotAllowed => super::text_error(405, "Method Not Allowed"),
        Route::Token => {
            let ttl = req
                .headers()
                .get("x-aws-ec2-metadata-token-ttl-seconds")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok())
                .unwrap_or(21600);
            let token = crate::random::token(30).unwrap_or_else(|_| "aws-vault".into());
            let mut r = super::respond(200, text, token);
            r.headers_mut().insert(
                "x-aws-ec2-metadata-token-ttl-seconds",
                hyper::header::HeaderValue::from(ttl),
            );
            r
        }
        Route::Creds => match broker.get(Wanted::Base).await {
            Ok(c) => super::respond(200, text, body(&c, jiff::Timestamp::now())),
            Err(e) => super::text_error(504, &e.message),
        },
        Route::Text(body) => super::respond(200, text, body),
        Route::Document => super::respond(200, text, document(region)),
        Route::Redirect(to) => super::redirect(&to),
        Route::NotFound => super::not_found(),
    }
}

/// The instance identity document: only the region, JSON-escaped like any other value.
fn document(region: &str) -> String {
    format!("{{\"region\": {}}}", json_str(region))
}

/// The credentials body, keys sorted as Go's encoder writes a map.
pub fn body(c: &Credentials, now: jiff::Timestamp) -> String {
    let exp = c
        .expires
        .map(timefmt::iso_utc)
        .unwrap_or_else(|| timefmt::GO_ZERO_TIME.into());
    format!(
        "{{\"AccessKeyId\":{},\"Code\":\"Success\",\"Expiration\":{},\"LastUpdated\":{},\"SecretAccessKey\":{},\"Token\":{},\"Type\":\"AWS-HMAC\"}}\n",
        json_str(&c.access_key_id),
        json_str(&exp),
        json_str(&timefmt::iso_utc(now)),
        json_str(c.secret()),
        json_str(c.token().unwrap_or("")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    const LO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const H: &str = "169.254.169.254";

    #[test]
    fn document_escapes_the_region() {
        assert_eq!(document("eu-west-1"), r#"{"region": "eu-west-1"}"#);
        assert_eq!(
            document("x\",\"y\":\"<z>"),
            r#"{"region": "x\",\"y\":\"\u003cz\u003e"}"#
        );
    }

    #[test]
    fn client_and_host_checks_come_first() {
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            route("GET", CREDS_PATH, H, other),
            Route::Denied("Access denied from non-localhost address".into())
        );
        assert_eq!(
            route("GET", CREDS_PATH, "127.0.0.1:9099", LO),
            Route::Denied("Access denied for host '127.0.0.1:9099'".into())
        );
        assert_eq!(
            route("PUT", "/latest/api/token", "evil.example", LO),
            Route::Denied("Access denied for host 'evil.example'".into())
        );
        assert_eq!(
            route("GET", CREDS_PATH, "169.254.169.254:80", LO),
            Route::Creds
        );
        assert_eq!(
            route("GET", CREDS_PATH, "::1", "::1".parse().unwrap()),
            Route::Denied("Access denied for host '::1'".into())
        );
    }

    #[test]
    fn forwarded_for_is_judged_too() {
        let remote: IpAddr = "10.232.0.2".parse().unwrap();
        assert_eq!(judged_client(LO, []), LO);
        assert_eq!(judged_client(LO, ["169.254.169.254"]), LO);
        assert_eq!(judged_client(LO, ["127.0.0.1, 169.254.169.254"]), LO);
        assert_eq!(judged_client(LO, ["10.232.0.2"]), remote);
        assert_eq!(judged_client(LO, ["127.0.0.1", "10.232.0.2:5555"]), remote);
        assert_eq!(judged_client(LO, ["::ffff:10.232.0.2"]), remote);
        assert!(!judged_client(LO, ["unknown"]).is_loopback());
        assert!(!judged_client(LO, ["?"]).is_loopback());
        // The peer itself is still judged when nothing is forwarded.
        assert_eq!(judged_client(remote, []), remote);
    }

    #[test]
    fn routes() {
        assert_eq!(route("PUT", "/latest/api/token", H, LO), Route::Token);
        assert_eq!(
            route("GET", "/latest/api/token", H, LO),
            Route::MethodNotAllowed
        );
        assert_eq!(
            route("GET", "/latest/meta-data/iam/security-credentials/", H, LO),
            Route::Text("local-credentials")
        );
        assert_eq!(
            route(
                "GET",
                "/latest/meta-data/iam/security-credentials/other",
                H,
                LO
            ),
            Route::Text("local-credentials")
        );
        assert_eq!(
            route("GET", "/latest/meta-data/iam/security-credentials", H, LO),
            Route::Redirect("/latest/meta-data/iam/security-credentials/".into())
        );
        assert_eq!(
            route("GET", "/latest/meta-data/instance-id/", H, LO),
            Route::Text("aws-vault")
        );
        assert_eq!(
            route("POST", "/latest/meta-data/iam/info/x", H, LO),
            Route::Text("{\"Code\" : \"Success\"}")
        );
        assert_eq!(
            route("GET", "/latest/dynamic/instance-identity/document", H, LO),
            Route::Document
        );
        assert_eq!(route("GET", "/latest/meta-data/", H, LO), Route::NotFound);
        assert_eq!(route("GET", "/", H, LO), Route::NotFound);
    }

    #[test]
    fn credentials_body() {
        let c = Credentials {
            access_key_id: "ASIA1".into(),
            secret_access_key: SecretString::from("s".to_string()),
            session_token: Some(SecretString::from("t".to_string())),
            expires: Some(jiff::Timestamp::from_second(1_800_000_000).unwrap()),
        };
        let now = jiff::Timestamp::from_second(1_799_996_400).unwrap();
        assert_eq!(
            body(&c, now),
            "{\"AccessKeyId\":\"ASIA1\",\"Code\":\"Success\",\"Expiration\":\"2027-01-15T08:00:00Z\",\"LastUpdated\":\"2027-01-15T07:00:00Z\",\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Type\":\"AWS-HMAC\"}\n"
        );
    }
}
