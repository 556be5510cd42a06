//! The STS providers against a local moto server (test-infra.md §1). All traffic goes to
//! 127.0.0.1. moto must be installed (`pip install 'moto[server]'`); a missing moto fails the
//! tests loudly instead of skipping them.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_vault::aws::{self, Endpoint};
use aws_vault::creds::sts::{self, AssumeRoleParams, Mfa};
use aws_vault::creds::Credentials;
use secrecy::SecretString;

const INSTALL_HINT: &str =
    "moto_server not found on PATH: install it with `pip install 'moto[server]'`";

/// A moto server on a free loopback port; stopped (SIGTERM, by PID) on drop.
struct Moto {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Moto {
    fn start(env: &[(&str, &str)]) -> Moto {
        let mut cmd = Command::new("moto_server");
        cmd.args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL_HINT}"),
            Err(e) => panic!("cannot start moto_server: {e}; {INSTALL_HINT}"),
        };
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            // Keep draining moto's log so it never blocks on a full pipe.
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(port) = parse_port(&line) {
                        let _ = tx.send(port);
                        sent = true;
                    }
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut moto = Moto {
            child,
            port: 0,
            log,
        };
        moto.port = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(p) => p,
            Err(_) => panic!(
                "moto_server did not report its port; log:\n{}\n{INSTALL_HINT}",
                moto.log.lock().unwrap()
            ),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !moto.ready() {
            assert!(
                Instant::now() < deadline,
                "moto_server not ready; log:\n{}",
                moto.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    fn ready(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let req = format!(
            "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        if s.write_all(req.as_bytes()).is_err() {
            return false;
        }
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).is_ok() && (buf.ends_with(b" 200") && buf.starts_with(b"HTTP/1."))
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint {
            region: Some("us-east-1".into()),
            endpoint_url: Some(self.url()),
            ..Default::default()
        }
    }
}

fn parse_port(line: &str) -> Option<u16> {
    let rest =
        &line[line.find("Running on http://127.0.0.1:")? + "Running on http://127.0.0.1:".len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok().filter(|p| *p != 0)
}

fn stop(pid: i32) {
    // SIGTERM stops moto cleanly; reap it so no zombie is left behind.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
        let mut status = 0;
        for _ in 0..50 {
            if libc::waitpid(pid, &mut status, libc::WNOHANG) != 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut status, 0);
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        stop(self.child.id() as i32);
    }
}

/// The moto shared by the tests of this binary; stopped when the test process exits.
fn shared() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    static PID: AtomicI32 = AtomicI32::new(0);
    extern "C" fn stop_shared() {
        let pid = PID.load(Ordering::SeqCst);
        if pid > 0 {
            stop(pid);
        }
    }
    MOTO.get_or_init(|| {
        let m = Moto::start(&[]);
        PID.store(m.child.id() as i32, Ordering::SeqCst);
        unsafe {
            libc::atexit(stop_shared);
        }
        m
    })
}

fn dummy() -> Credentials {
    Credentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: SecretString::from("dummy-secret".to_string()),
        session_token: None,
        expires: None,
    }
}

/// `expires` about `secs` from now.
#[track_caller]
fn assert_expires_in(c: &Credentials, secs: i64) {
    let left = c.expires.expect("expiration").as_second() - jiff::Timestamp::now().as_second();
    assert!(
        (secs - 120..=secs + 5).contains(&left),
        "expires in {left}s, wanted ~{secs}s"
    );
}

#[track_caller]
fn assert_session_creds(c: &Credentials, prefix: &str) {
    assert!(c.access_key_id.starts_with(prefix), "{}", c.access_key_id);
    assert_eq!(c.access_key_id.len(), 20);
    assert!(!c.secret().is_empty());
    assert!(c.token().is_some_and(|t| !t.is_empty()));
}

#[test]
fn get_session_token_with_and_without_mfa() {
    let moto = shared();
    let c = sts::get_session_token(
        &moto.endpoint(),
        &dummy(),
        Duration::from_millis(3_600_900),
        None,
    )
    .unwrap();
    assert_eq!(c.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(c.secret(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    assert_session_creds(&c, "AKIA");
    assert_expires_in(&c, 3600);

    let mfa = Mfa {
        serial: "arn:aws:iam::123456789012:mfa/bob".into(),
        code: "123456".into(),
    };
    let c = sts::get_session_token(
        &moto.endpoint(),
        &dummy(),
        Duration::from_secs(900),
        Some(mfa),
    )
    .unwrap();
    assert_expires_in(&c, 900);
}

#[test]
fn assume_role_with_every_parameter() {
    let moto = shared();
    let params = AssumeRoleParams {
        role_arn: "arn:aws:iam::210987654321:role/admin".into(),
        session_name: None,
        duration: Duration::from_secs(1800),
        external_id: Some("ext-1".into()),
        tags: vec![
            ("team".into(), "infra".into()),
            ("env".into(), "dev".into()),
        ],
        transitive_tag_keys: vec!["team".into()],
        source_identity: Some("alice".into()),
    };
    let mfa = Mfa {
        serial: "arn:aws:iam::123456789012:mfa/bob".into(),
        code: "654321".into(),
    };
    let c = sts::assume_role(&moto.endpoint(), &dummy(), &params, Some(mfa)).unwrap();
    assert_session_creds(&c, "ASIA");
    assert_expires_in(&c, 1800);

    // The assumed-role credentials work for the next hop; the ARN shows the session name.
    let named = AssumeRoleParams {
        role_arn: "arn:aws:iam::210987654321:role/reader".into(),
        session_name: Some("my-session".into()),
        duration: Duration::from_secs(3600),
        ..Default::default()
    };
    let c2 = sts::assume_role(&moto.endpoint(), &c, &named, None).unwrap();
    let arn = sts::get_caller_identity(&moto.endpoint(), &c2).unwrap();
    assert_eq!(
        arn,
        "arn:aws:sts::210987654321:assumed-role/reader/my-session"
    );

    // Default session name: Unix nanoseconds, 19 digits.
    let unnamed = AssumeRoleParams {
        session_name: None,
        ..named
    };
    let c3 = sts::assume_role(&moto.endpoint(), &dummy(), &unnamed, None).unwrap();
    let arn = sts::get_caller_identity(&moto.endpoint(), &c3).unwrap();
    let session = arn.rsplit('/').next().unwrap();
    assert!(
        session.len() == 19 && session.bytes().all(|b| b.is_ascii_digit()),
        "{arn}"
    );
}

#[test]
fn assume_role_with_web_identity_unsigned() {
    let moto = shared();
    let token = SecretString::from("eyJhbGciOiJSUzI1NiJ9.e30.sig".to_string());
    let c = sts::assume_role_with_web_identity(
        &moto.endpoint(),
        "arn:aws:iam::123456789012:role/web",
        Some("web-session"),
        Duration::from_secs(3600),
        &token,
    )
    .unwrap();
    assert_session_creds(&c, "ASIA");
    assert_expires_in(&c, 3600);
}

#[test]
fn federation_token_and_caller_identity() {
    let moto = shared();
    let c = sts::get_federation_token(&moto.endpoint(), &dummy(), "bob", Duration::from_secs(3600))
        .unwrap();
    assert_eq!(c.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    assert_expires_in(&c, 3600);
    let arn = sts::get_caller_identity(&moto.endpoint(), &dummy()).unwrap();
    assert_eq!(arn, "arn:aws:sts::123456789012:user/moto");
}

#[test]
fn expiration_keeps_moto_microseconds() {
    // moto sends `<Expiration>…T08:03:10.894469Z`; at least one of a few calls has a non-zero
    // fraction, and every fraction is whole microseconds.
    let moto = shared();
    let fractions: Vec<i32> = (0..4)
        .map(|_| {
            let p = AssumeRoleParams {
                role_arn: "arn:aws:iam::123456789012:role/r".into(),
                duration: Duration::from_secs(900),
                ..Default::default()
            };
            let c = sts::assume_role(&moto.endpoint(), &dummy(), &p, None).unwrap();
            c.expires.unwrap().subsec_nanosecond()
        })
        .collect();
    assert!(fractions.iter().any(|n| *n != 0), "{fractions:?}");
    assert!(fractions.iter().all(|n| n % 1000 == 0), "{fractions:?}");
}

#[test]
fn unreachable_endpoint_fails_fast_with_one_line() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again here
    let ep = Endpoint {
        region: Some("us-east-1".into()),
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        ..Default::default()
    };
    let started = Instant::now();
    let err = sts::get_session_token(&ep, &dummy(), Duration::from_secs(3600), None).unwrap_err();
    let elapsed = started.elapsed();
    let msg = format!("{err:#}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert_eq!(
        msg,
        format!("GetSessionToken: cannot reach http://127.0.0.1:{port}: connection refused")
    );
    assert!(!msg.contains("dummy-secret"));
}

#[test]
fn enforcement_mode_reports_aws_error_code() {
    // Two free calls bootstrap a user and key; every later call is authenticated.
    let moto = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "2")]);
    let ep = moto.endpoint();
    let iam = aws::iam_client(&ep, &dummy());
    aws::call("CreateUser", |url| {
        iam.create_user()
            .user_name("bob")
            .customize()
            .interceptor(url)
            .send()
    })
    .unwrap();
    let key = aws::call("CreateAccessKey", |url| {
        iam.create_access_key()
            .user_name("bob")
            .customize()
            .interceptor(url)
            .send()
    })
    .unwrap();
    let key = key.access_key().unwrap();
    let bob = Credentials {
        access_key_id: key.access_key_id().to_string(),
        secret_access_key: SecretString::from(key.secret_access_key().to_string()),
        session_token: None,
        expires: None,
    };

    // GetCallerIdentity is always allowed; a correct signature is accepted.
    let arn = sts::get_caller_identity(&ep, &bob).unwrap();
    assert_eq!(arn, "arn:aws:iam::123456789012:user/bob");

    // bob has no policy: AccessDenied, in one line with AWS's own code and message.
    let err = sts::get_session_token(&ep, &bob, Duration::from_secs(3600), None).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.starts_with("GetSessionToken: AccessDenied: "), "{msg}");
    assert!(msg.contains("user/bob"), "{msg}");
    assert!(!msg.contains('\n'));

    // An unknown key.
    let err = sts::assume_role(
        &ep,
        &dummy(),
        &AssumeRoleParams {
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            duration: Duration::from_secs(900),
            ..Default::default()
        },
        None,
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.starts_with("AssumeRole: InvalidClientTokenId: "),
        "{msg}"
    );
    assert!(
        !msg.contains("dummy-secret") && !msg.contains(bob.secret()),
        "{msg}"
    );
}
