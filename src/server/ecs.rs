//! The ECS credential server (docs/compatibility.md §5.1) for `exec --ecs-server` / `--server` / `-s`:
//! `127.0.0.1:<random port>`, a 30-byte random token checked in constant time against the
//! `Authorization` header, `/` for the profile's credentials and `/role-arn/<arn>` for
//! AssumeRole of `<arn>` (one cached credential per ARN).
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::{Bytes, Incoming};
use hyper::Request;
use subtle::ConstantTimeEq;

use super::{Broker, Resp, Running, Wanted};
use crate::credentials::Credentials;
use crate::gofmt::json::quote as json_str;
use crate::gofmt::time as timefmt;

/// How long a request waits for a refresh before it is answered anyway: botocore gives the
/// container endpoint 2 s per attempt (3 attempts, 1 s apart).
pub const WAIT: std::time::Duration = std::time::Duration::from_millis(1500);

/// A running ECS server.
pub struct EcsServer {
    pub port: u16,
    pub token: String,
    pub running: Running,
}

impl EcsServer {
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Bind `127.0.0.1:0` and serve credentials from `broker`.
pub fn start(broker: Arc<Broker>) -> anyhow::Result<EcsServer> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| anyhow::anyhow!("cannot start the ECS credential server on 127.0.0.1: {e}"))?;
    let port = listener.local_addr()?.port();
    let token = crate::random::token(30)?;
    let t = Arc::new(token.clone());
    let bodies = Arc::new(Bodies::default());
    let running = super::spawn(
        listener,
        move |req: Request<Incoming>, _peer: SocketAddr| {
            let broker = broker.clone();
            let token = t.clone();
            let bodies = bodies.clone();
            async move { handle(&req, &token, &broker, &bodies).await }
        },
    )?;
    Ok(EcsServer {
        port,
        token,
        running,
    })
}

/// What a request asks for, after the token check.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Forbidden,
    Redirect(String),
    Creds(Wanted),
}

/// The routing of §5.1: the token first, then `/role-arn/<arn>` or anything else.
pub fn route(path: &str, authorization: Option<&[u8]>, token: &str) -> Route {
    // Constant time, so the token cannot be guessed byte by byte from response times.
    let ok = authorization.is_some_and(|a| bool::from(a.ct_eq(token.as_bytes())));
    if !ok {
        return Route::Forbidden;
    }
    if path == "/role-arn" {
        return Route::Redirect("/role-arn/".into());
    }
    match path.strip_prefix("/role-arn/") {
        Some(rest) => Route::Creds(Wanted::Role(super::percent_decode(rest))),
        None => Route::Creds(Wanted::Base),
    }
}

/// The last answer body and the credentials it was rendered from. An SDK asks for the same
/// credentials over and over; rendering them once per refresh instead of once per request
/// (JSON escaping, the time layout, five allocations) is worth about a tenth of the server's
/// throughput. The body holds the secret, so its memory is wiped when the last response that
/// shares it is gone.
#[derive(Default)]
struct Bodies {
    last: std::sync::Mutex<Option<(Arc<Credentials>, Bytes)>>,
}

impl Bodies {
    fn get(&self, c: &Arc<Credentials>) -> Bytes {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((had, bytes)) = last.as_ref() {
            if Arc::ptr_eq(had, c) {
                return bytes.clone();
            }
        }
        let bytes = Bytes::from_owner(zeroize::Zeroizing::new(body(c).into_bytes()));
        *last = Some((c.clone(), bytes.clone()));
        bytes
    }
}

async fn handle(req: &Request<Incoming>, token: &str, broker: &Broker, bodies: &Bodies) -> Resp {
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match route(req.uri().path(), auth, token) {
        Route::Forbidden => json_error(403, "invalid Authorization token"),
        Route::Redirect(to) => super::redirect(&to),
        Route::Creds(target) => match broker.get(target).await {
            Ok(c) => super::respond(200, "application/json; charset=utf-8", bodies.get(&c)),
            Err(e) if e.pending => json_error(503, &e.message),
            Err(e) => json_error(500, &e.message),
        },
    }
}

/// `{"Message":"..."}` with the JSON content type.
pub fn json_error(status: u16, message: &str) -> Resp {
    super::respond(
        status,
        "application/json; charset=utf-8",
        format!("{{\"Message\":{}}}\n", json_str(message)),
    )
}

/// The success body, keys sorted as Go's encoder writes a map.
pub fn body(c: &Credentials) -> String {
    let exp = c
        .expires
        .map(timefmt::iso_utc)
        .unwrap_or_else(|| timefmt::GO_ZERO_TIME.into());
    format!(
        "{{\"AccessKeyId\":{},\"Expiration\":{},\"SecretAccessKey\":{},\"Token\":{}}}\n",
        json_str(&c.access_key_id),
        json_str(&exp),
        json_str(c.secret()),
        json_str(c.token().unwrap_or("")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn routes_check_the_token_first() {
        let t = "tok";
        assert_eq!(route("/", None, t), Route::Forbidden);
        assert_eq!(route("/", Some(b"Bearer tok"), t), Route::Forbidden);
        assert_eq!(route("/role-arn/x", Some(b"tokx"), t), Route::Forbidden);
        assert_eq!(route("/", Some(b"tok"), t), Route::Creds(Wanted::Base));
        assert_eq!(
            route("/anything", Some(b"tok"), t),
            Route::Creds(Wanted::Base)
        );
        assert_eq!(
            route("/role-arn/arn:aws:iam::1:role/a%2Fb", Some(b"tok"), t),
            Route::Creds(Wanted::Role("arn:aws:iam::1:role/a/b".into()))
        );
        assert_eq!(
            route("/role-arn", Some(b"tok"), t),
            Route::Redirect("/role-arn/".into())
        );
    }

    #[test]
    fn a_body_is_rendered_once_per_credential() {
        let c = |id: &str| {
            Arc::new(Credentials {
                access_key_id: id.into(),
                secret_access_key: SecretString::from("s".to_string()),
                session_token: Some(SecretString::from("t".to_string())),
                expires: Some(jiff::Timestamp::from_second(1_800_000_000).unwrap()),
            })
        };
        let bodies = Bodies::default();
        let first = c("ASIA1");
        let a = bodies.get(&first);
        let b = bodies.get(&first);
        // The same credentials: the same bytes, not a second rendering.
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert_eq!(&a[..], body(&first).as_bytes());
        // New credentials (a refresh): rendered anew.
        let second = c("ASIA2");
        let n = bodies.get(&second);
        assert_ne!(n.as_ptr(), a.as_ptr());
        assert_eq!(&n[..], body(&second).as_bytes());
    }

    #[test]
    fn bodies_are_exactly_gos() {
        let c = Credentials {
            access_key_id: "ASIA1".into(),
            secret_access_key: SecretString::from("s\"x".to_string()),
            session_token: Some(SecretString::from("tok".to_string())),
            expires: Some(jiff::Timestamp::from_second(1_800_000_000).unwrap()),
        };
        assert_eq!(
            body(&c),
            "{\"AccessKeyId\":\"ASIA1\",\"Expiration\":\"2027-01-15T08:00:00Z\",\"SecretAccessKey\":\"s\\\"x\",\"Token\":\"tok\"}\n"
        );
        let long = Credentials {
            session_token: None,
            expires: None,
            ..c
        };
        assert!(body(&long).contains("\"Expiration\":\"0001-01-01T00:00:00Z\""));
        assert!(body(&long).contains("\"Token\":\"\""));
    }
}
