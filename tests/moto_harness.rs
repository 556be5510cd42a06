//! Self-test of the moto + recording-proxy harness (tests/common/moto.rs), driven by the real
//! AWS CLI v1 so that the recorded parameter names are those a real SDK sends.

#[path = "common/moto.rs"]
mod moto;

use moto::{aws_command, Moto};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Output;

fn run(cmd: &mut std::process::Command) -> Output {
    cmd.output()
        .expect("the aws CLI (v1) is required: pip install awscli")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A hand-made SigV4-looking query request straight to the proxy (moto ignores the signature).
fn raw_sts(url: &str, body: &str) -> (u16, String) {
    let hostport = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(hostport).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIARAWRAWRAWRAWRAW0/20250101/us-east-1/sts/aws4_request, \
         SignedHeaders=host, Signature=deadbeef\r\nX-Amz-Security-Token: raw-token\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let t = text(&buf);
    let status = t.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (head, body) = t.split_once("\r\n\r\n").unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("proxy response has Content-Length");
    assert_eq!(len, body.len(), "Content-Length matches the relayed body");
    (status, body.to_string())
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn moto_harness_records_resets_injects_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let m = Moto::start();
    let (moto_pid, proxy_pid) = m.pids();
    assert!(moto_pid > 0 && proxy_pid > 0 && alive(moto_pid) && alive(proxy_pid));
    assert!(m.url().starts_with("http://127.0.0.1:"));
    assert!(
        m.calls().is_empty(),
        "no calls before any request: {:#?}",
        m.calls()
    );

    // 1. AssumeRole through the real CLI: every parameter recorded under its wire name.
    let out = run(aws_command(
        &m,
        dir.path(),
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::123456789012:role/test",
            "--role-session-name",
            "s1",
            "--external-id",
            "ext",
            "--duration-seconds",
            "900",
            "--tags",
            "Key=team,Value=blue",
            "--transitive-tag-keys",
            "team",
            "--source-identity",
            "me",
        ],
    )
    .env("AWS_ACCESS_KEY_ID", "AKIAHARNESSTEST00001")
    .env("AWS_SECRET_ACCESS_KEY", "harness-secret"));
    assert!(
        out.status.success(),
        "aws sts assume-role failed:\n{}",
        text(&out.stderr)
    );
    // The response was relayed intact (the CLI parsed moto's XML).
    let resp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        resp["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::123456789012:assumed-role/test/s1"
    );
    assert!(resp["Credentials"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .starts_with("ASIA"));

    let calls = m.calls_to("AssumeRole");
    assert_eq!(calls.len(), 1, "{:#?}", m.calls());
    let c = &calls[0];
    let expected: &[(&str, &str)] = &[
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::123456789012:role/test"),
        ("RoleSessionName", "s1"),
        ("ExternalId", "ext"),
        ("DurationSeconds", "900"),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "blue"),
        ("TransitiveTagKeys.member.1", "team"),
        ("SourceIdentity", "me"),
    ];
    let want: std::collections::BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(c.params, want, "exact AssumeRole parameters");
    assert_eq!(c.param("RoleSessionName"), Some("s1"));
    assert_eq!(c.access_key.as_deref(), Some("AKIAHARNESSTEST00001"));
    assert_eq!(c.service.as_deref(), Some("sts"));
    assert_eq!(c.session_token, None);
    assert_eq!(c.status, 200);
    assert_eq!(
        (c.method.as_str(), c.path.as_str(), c.injected),
        ("POST", "/", false)
    );
    assert_eq!(m.one_call("AssumeRole").params, want);

    // 2. reset empties the log.
    m.reset();
    assert!(m.calls().is_empty(), "calls after reset: {:#?}", m.calls());

    // 3. Failure injection: the CLI sees AccessDenied; the call is still recorded.
    m.fail(
        "GetSessionToken",
        403,
        "AccessDenied",
        "injected by the harness",
    );
    let out = run(aws_command(
        &m,
        dir.path(),
        &[
            "sts",
            "get-session-token",
            "--serial-number",
            "arn:aws:iam::123456789012:mfa/harness",
            "--token-code",
            "123456",
            "--duration-seconds",
            "3600",
        ],
    )
    .env("AWS_ACCESS_KEY_ID", "AKIAHARNESSTEST00002")
    .env("AWS_SECRET_ACCESS_KEY", "harness-secret")
    .env("AWS_SESSION_TOKEN", "harness-token"));
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "get-session-token should fail:\n{}",
        text(&out.stdout)
    );
    assert!(
        stderr.contains("AccessDenied") && stderr.contains("injected by the harness"),
        "stderr: {stderr}"
    );
    let c = m.one_call("GetSessionToken");
    assert_eq!((c.status, c.injected), (403, true));
    assert_eq!(
        c.param("SerialNumber"),
        Some("arn:aws:iam::123456789012:mfa/harness")
    );
    assert_eq!(c.param("TokenCode"), Some("123456"));
    assert_eq!(c.param("DurationSeconds"), Some("3600"));
    assert_eq!(c.access_key.as_deref(), Some("AKIAHARNESSTEST00002"));
    assert_eq!(c.session_token.as_deref(), Some("harness-token"));
    assert_eq!(m.calls().len(), 1, "{:#?}", m.calls());

    // An injected failure only hits its own action; clearing restores forwarding.
    let (status, body) = raw_sts(&m.url(), "Action=GetCallerIdentity&Version=2011-06-15");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Account>123456789012</Account>"), "{body}");
    m.clear_failures();
    let (status, body) = raw_sts(
        &m.url(),
        "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=900",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("AKIAIOSFODNN7EXAMPLE"), "{body}");
    let c = m.calls_to("GetSessionToken").pop().unwrap();
    assert_eq!((c.status, c.injected), (200, false));
    assert_eq!(c.access_key.as_deref(), Some("AKIARAWRAWRAWRAWRAW0"));
    assert_eq!(c.session_token.as_deref(), Some("raw-token"));
    assert_eq!(m.calls().len(), 3);

    // 4. Drop stops both children (by PID) and removes the temp dir.
    let tmp = m.dir().to_path_buf();
    drop(m);
    assert!(
        !alive(moto_pid),
        "moto_server (pid {moto_pid}) still running"
    );
    assert!(
        !alive(proxy_pid),
        "recording proxy (pid {proxy_pid}) still running"
    );
    assert!(!tmp.exists(), "temp dir {} not removed", tmp.display());
}
