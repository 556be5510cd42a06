//! The local credential servers end to end (docs/compatibility.md §1.4, §5): `exec --ecs-server` against moto
//! with the real AWS CLI and boto3, `exec --ec2-server` and `aws-vault proxy` inside network
//! namespaces this test creates and deletes, exit codes and signal forwarding.
//!
//! Needs: moto_server, python3 with boto3, the `aws` CLI, curl, and for the EC2/proxy tests
//! root plus iproute2 (`ip netns`). Missing tools fail the tests. Nothing here sends traffic to
//! 169.254.169.254 outside a namespace created by the test.
mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::moto::Moto;
use common::Sandbox;

/// Not moto's own example key, which moto hands out as the session key id.
const KEY_ID: &str = "AKIAMASTERKEYEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const ROLE: &str = "arn:aws:iam::123456789012:role/ecs-test";

/// The flood and load tests saturate the machine for a few seconds; the tests that measure time
/// (a refresh within the SDK's wait, a prompt that must time out) would then fail for reasons
/// of their own. Heavy tests hold this lock exclusively, time-sensitive ones shared.
static HEAVY: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    HEAVY.write().unwrap_or_else(|e| e.into_inner())
}

fn timing_sensitive() -> std::sync::RwLockReadGuard<'static, ()> {
    HEAVY.read().unwrap_or_else(|e| e.into_inner())
}

fn support(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A sandbox whose aws-vault (and its children) talk to moto, with profile `p`.
fn moto_sandbox(moto: &Moto, extra_config: &str) -> Sandbox {
    let mut s = Sandbox::with_config(&format!("[profile p]\nregion = us-east-1\n{extra_config}"));
    s.set_env("AWS_ENDPOINT_URL", &moto.url());
    s.add("p", KEY_ID, SECRET);
    s
}

/// `env K=V... ` for a child that runs the AWS CLI: its own config file with
/// `cli_follow_urlparam = false`, no shared credentials file, no IMDS.
fn cli_env(dir: &Path) -> Vec<String> {
    let config = dir.join("aws-cli-config");
    std::fs::write(
        &config,
        "[default]\ncli_follow_urlparam = false\nregion = us-east-1\n",
    )
    .unwrap();
    vec![
        "env".into(),
        format!("AWS_CONFIG_FILE={}", config.display()),
        "AWS_SHARED_CREDENTIALS_FILE=/dev/null".into(),
        "AWS_EC2_METADATA_DISABLED=true".into(),
    ]
}

fn run_args(s: &Sandbox, args: &[String]) -> common::Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    s.run(&args)
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|x| x.to_string()).collect()
}

#[test]
fn ecs_server_serves_the_aws_cli_and_boto3() {
    let _timing = timing_sensitive();
    let moto = Moto::start();
    let s = moto_sandbox(&moto, "");
    let dir = s.dir.path();

    // The AWS CLI.
    let mut args = strings(&["exec", "--ecs-server", "p", "--"]);
    args.extend(cli_env(dir));
    args.extend(strings(&[
        "aws",
        "sts",
        "get-caller-identity",
        "--output",
        "json",
    ]));
    let run = run_args(&s, &args).ok();
    let id = json(&run.stdout);
    assert!(id["Arn"].as_str().unwrap().starts_with("arn:aws:"), "{id}");
    let gst = moto.one_call("GetSessionToken");
    assert_eq!(gst.access_key.as_deref(), Some(KEY_ID));
    let gci = moto.one_call("GetCallerIdentity");
    let session_key = gci.access_key.clone().unwrap();
    assert_ne!(
        session_key, KEY_ID,
        "the CLI must use the session, not the master key"
    );
    assert!(gci.session_token.is_some());

    // `aws configure list` names the container provider.
    let mut args = strings(&["exec", "-s", "p", "--"]);
    args.extend(cli_env(dir));
    args.extend(strings(&["aws", "configure", "list"]));
    let run = run_args(&s, &args).ok();
    assert!(run.stdout.contains("container-role"), "{}", run.stdout);

    // boto3, through the same kind of server (the cached session is reused: no new STS call).
    moto.reset();
    let args = strings(&[
        "exec",
        "--server",
        "p",
        "--",
        "env",
        "AWS_CONFIG_FILE=/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
        "python3",
        &support("servers_boto3.py"),
    ]);
    let out = json(&run_args(&s, &args).ok().stdout);
    assert_eq!(out["method"], "container-role");
    assert_eq!(out["access_key"], session_key.as_str());
    assert!(moto.calls_to("GetSessionToken").is_empty());
    assert_eq!(moto.calls_to("GetCallerIdentity").len(), 1);
}

#[test]
fn role_arn_route_through_full_uri() {
    let moto = Moto::start();
    let s = moto_sandbox(&moto, "");
    let mut args = strings(&["exec", "--ecs-server", "p", "--", "sh", "-c"]);
    let cli = cli_env(s.dir.path()).join(" ");
    args.push(format!(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI=\"$AWS_CONTAINER_CREDENTIALS_FULL_URI/role-arn/{ROLE}\" {cli} aws sts get-caller-identity --output json"
    ));
    let run = run_args(&s, &args).ok();
    let id = json(&run.stdout);
    let arn = id["Arn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:sts::123456789012:assumed-role/ecs-test/"),
        "{arn}"
    );
    let ar = moto.one_call("AssumeRole");
    assert_eq!(ar.param("RoleArn"), Some(ROLE));
    assert_eq!(ar.param("SerialNumber"), None);
    // The source is the profile's session, not the master key.
    assert_ne!(ar.access_key.as_deref(), Some(KEY_ID));
    let session = ar.param("RoleSessionName").unwrap();
    assert_eq!(session.len(), 19, "{session}");
}

/// curl the ECS server from the child; each line: `<status> <content-type> <body>`.
const CURL_TOKEN_CHECKS: &str = r#"
u="$AWS_CONTAINER_CREDENTIALS_FULL_URI"
req() { curl -s -o body -w '%{http_code} %{content_type} ' "$@"; cat body; echo; }
req "$u/"
req -H "Authorization: wrong" "$u/"
req -H "Authorization: Bearer $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$u/"
req -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$u/"
req -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$u/role-arn"
printf '%s %s\n' "${#AWS_CONTAINER_AUTHORIZATION_TOKEN}" "$u"
"#;

#[test]
fn wrong_or_missing_token_gets_403_json() {
    let moto = Moto::start();
    let s = moto_sandbox(&moto, "");
    let mut c = s.cmd(&[
        "exec",
        "--ecs-server",
        "p",
        "--",
        "sh",
        "-c",
        CURL_TOKEN_CHECKS,
    ]);
    c.current_dir(s.dir.path());
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.is_empty()).collect();
    let denied =
        "403 application/json; charset=utf-8 {\"Message\":\"invalid Authorization token\"}";
    assert_eq!(&lines[..3], &[denied, denied, denied], "{stdout}");
    assert!(
        lines[3].starts_with("200 application/json; charset=utf-8 {\"AccessKeyId\":\""),
        "{stdout}"
    );
    let body = json(lines[3].splitn(4, ' ').nth(3).unwrap());
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["AccessKeyId", "Expiration", "SecretAccessKey", "Token"]
    );
    assert!(body["Expiration"].as_str().unwrap().ends_with('Z'));
    assert!(lines[4].starts_with("301 "), "{stdout}");
    let (len, url) = lines[5].split_once(' ').unwrap();
    assert_eq!(len, "40");
    assert!(
        url.starts_with("http://127.0.0.1:")
            && url.rsplit(':').next().unwrap().parse::<u16>().is_ok()
    );
}

#[test]
fn lazy_makes_no_sts_call_before_the_first_request() {
    let _timing = timing_sensitive();
    let moto = Moto::start();
    let s = moto_sandbox(&moto, "");
    let log = moto.dir().join("calls.jsonl");
    let script = format!(
        "cp '{}' before.jsonl; curl -s -o /dev/null -w '%{{http_code}}' -H \"Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN\" \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\"",
        log.display()
    );
    let before = s.dir.path().join("before.jsonl");
    for (lazy, expected_before) in [(true, 0), (false, 1)] {
        moto.reset();
        let mut args = vec!["exec", "--ecs-server"];
        if lazy {
            args.push("--lazy");
        }
        args.extend(["p", "--", "sh", "-c", &script]);
        let mut c = s.cmd(&args);
        c.current_dir(s.dir.path());
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
        let text = std::fs::read_to_string(&before).unwrap();
        assert_eq!(
            text.lines()
                .filter(|l| l.contains("GetSessionToken"))
                .count(),
            expected_before,
            "lazy={lazy}: {text}"
        );
        assert_eq!(moto.calls_to("GetSessionToken").len(), 1, "lazy={lazy}");
        // The next run reuses the cached session: clear it so each pass starts cold.
        s.run(&["clear"]).ok();
    }
}

#[test]
fn concurrent_requests_cause_one_refresh() {
    let _timing = timing_sensitive();
    let moto = Moto::start();
    let s = moto_sandbox(&moto, "");
    let script = r#"
for i in $(seq 20); do
  curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI" &
done
wait
"#;
    let run = s
        .run(&[
            "exec",
            "--ecs-server",
            "--lazy",
            "p",
            "--",
            "sh",
            "-c",
            script,
        ])
        .ok();
    assert_eq!(
        run.stdout.lines().filter(|l| *l == "200").count(),
        20,
        "{}",
        run.stdout
    );
    assert_eq!(moto.calls_to("GetSessionToken").len(), 1);
}

#[test]
fn a_refresh_waiting_for_mfa_answers_with_a_clear_error() {
    let _timing = timing_sensitive();
    let moto = Moto::start();
    // mfa_process stands in for a user who takes 4 s to answer the prompt.
    let s = moto_sandbox(
        &moto,
        "mfa_serial = arn:aws:iam::111111111111:mfa/me\nmfa_process = sleep 4; echo 123456\n",
    );
    let script = r#"
req() { curl -s -o body -w '%{http_code} %{time_total}' --max-time 10 -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI"; echo " $(cat body)"; }
req
sleep 5
req
"#;
    let mut c = s.cmd(&[
        "exec",
        "--ecs-server",
        "--lazy",
        "p",
        "--",
        "sh",
        "-c",
        script,
    ]);
    c.current_dir(s.dir.path());
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let first: Vec<&str> = lines[0].splitn(3, ' ').collect();
    assert_eq!(first[0], "503", "{stdout}");
    let secs: f64 = first[1].parse().unwrap();
    assert!(secs < 2.0, "answered after {secs} s: {stdout}");
    let msg = json(first[2]);
    assert!(
        msg["Message"]
            .as_str()
            .unwrap()
            .contains("may be waiting for an MFA code"),
        "{msg}"
    );
    assert!(lines[1].starts_with("200 "), "{stdout}");
    let call = moto.one_call("GetSessionToken");
    assert_eq!(call.param("TokenCode"), Some("123456"));
}

#[test]
fn validation_messages() {
    let s = Sandbox::with_config(
        "[profile p]\nregion = us-east-1\n[profile m]\nmfa_serial = arn:aws:iam::1:mfa/me\n",
    );
    s.add("p", KEY_ID, SECRET);
    s.add("m", KEY_ID, SECRET);
    let cases: &[(&[&str], &str)] = &[
        (
            &["exec", "--ec2-server", "--ecs-server", "p", "--", "true"],
            "Can't use --ec2-server with --ecs-server",
        ),
        (
            &["exec", "--ec2-server", "-s", "p", "--", "true"],
            "Can't use --ec2-server with --ecs-server",
        ),
        (
            &["exec", "--ec2-server", "--no-session", "p", "--", "true"],
            "Can't use --ec2-server with --no-session",
        ),
        (
            &["exec", "--server", "-n", "p", "--", "true"],
            "Can't use --ecs-server with --no-session",
        ),
        (
            &[
                "--prompt",
                "terminal",
                "exec",
                "--ecs-server",
                "m",
                "--",
                "true",
            ],
            "Can't use --prompt=terminal with --ecs-server. Specify a different prompt driver",
        ),
        (
            &[
                "--prompt",
                "terminal",
                "exec",
                "--ec2-server",
                "m",
                "--",
                "true",
            ],
            "Can't use --prompt=terminal with --ec2-server. Specify a different prompt driver",
        ),
    ];
    for (args, msg) in cases {
        let line = s.run(args).fails();
        assert_eq!(line, format!("aws-vault: error: exec: {msg}"), "{args:?}");
    }
    // The subshell guard comes first.
    let line = s
        .run_env(
            &["exec", "--ecs-server", "p", "--", "true"],
            &[("AWS_VAULT", "x")],
        )
        .fails();
    assert!(
        line.contains("running in an existing aws-vault subshell"),
        "{line}"
    );
}

#[test]
fn server_without_mfa_needs_no_gui_prompt() {
    // A headless machine: PATH has no zenity/kdialog, and even --prompt=terminal is fine when
    // the profile never asks for an MFA code. The lazy server answers 500 JSON for the STS error
    // (no moto: the endpoint refuses connections), proving the server ran.
    let mut s = Sandbox::with_config("[profile p]\nregion = us-east-1\n");
    s.set_env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    s.add("p", KEY_ID, SECRET);
    // The SDK retries the refused connection for a while: until then the server says so (503).
    let script = r#"for i in $(seq 40); do
  out=$(curl -s -w ' %{http_code}' -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI")
  case "$out" in *" 503") sleep 0.5 ;; *) break ;; esac
done
printf '%s' "$out""#;
    for prompt in [None, Some("terminal")] {
        let mut args = Vec::new();
        if let Some(p) = prompt {
            args.extend(["--prompt", p]);
        }
        args.extend([
            "exec",
            "--ecs-server",
            "--lazy",
            "p",
            "--",
            "sh",
            "-c",
            script,
        ]);
        let run = s.run_detached(&args).ok();
        assert!(run.stdout.starts_with("{\"Message\":\""), "{}", run.stdout);
        assert!(run.stdout.ends_with("}\n 500"), "{}", run.stdout);
    }
    // Without --lazy the pre-fetch failure aborts before the child starts.
    let line = s
        .run_detached(&["exec", "--ecs-server", "p", "--", "echo", "child ran"])
        .fails();
    assert!(
        line.starts_with("aws-vault: error: exec: Retrieving creds: "),
        "{line}"
    );
}

#[test]
fn exit_code_signals_and_no_leftover_server() {
    let moto = Moto::start();
    let s = moto_sandbox(&moto, "");
    let code = s
        .run(&["exec", "--ecs-server", "p", "--", "sh", "-c", "exit 7"])
        .code;
    assert_eq!(code, 7);
    let line = s
        .run(&["exec", "--ecs-server", "p", "--", "/nonexistent/cmd"])
        .fails();
    assert!(line.contains("/nonexistent/cmd"), "{line}");

    // SIGTERM to aws-vault reaches the child; the child's exit code is aws-vault's.
    let dir = s.dir.path();
    let script = format!(
        "trap 'echo got-term > {d}/term; exit 42' TERM; echo \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\" > {d}/url; echo $$ > {d}/pid.tmp; mv {d}/pid.tmp {d}/pid; while :; do sleep 0.05; done",
        d = dir.display()
    );
    let mut child = s
        .cmd(&["exec", "--ecs-server", "p", "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = dir.join("pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "child never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let child_pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill(2) on the aws-vault process this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
    assert_eq!(
        std::fs::read_to_string(dir.join("term")).unwrap().trim(),
        "got-term"
    );
    // Neither the child nor the server outlives the command.
    // SAFETY: signal 0 only checks for existence.
    assert_ne!(
        unsafe { libc::kill(child_pid, 0) },
        0,
        "child still running"
    );
    let url = std::fs::read_to_string(dir.join("url")).unwrap();
    let port: u16 = url.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the ECS server still listens on {port}"
    );
}

#[test]
fn load_test_has_no_errors() {
    let _heavy = exclusive();
    let moto = Moto::start();
    let s = moto_sandbox(&moto, "");
    let run = s
        .run(&[
            "exec",
            "--ecs-server",
            "p",
            "--",
            "python3",
            &support("servers_load.py"),
            "4000",
            "8",
        ])
        .ok();
    let out = json(&run.stdout);
    eprintln!("ECS server load test: {out}");
    assert_eq!(out["errors"], 0, "{out}");
    assert_eq!(out["ok"], 4000, "{out}");
    assert_eq!(moto.calls_to("GetSessionToken").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// EC2 metadata server and proxy: only inside network namespaces created (and deleted) here.

static NS_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A named network namespace with `lo` up and a veth pair whose far end (`CLIENT_ADDR`) is a
/// local but non-loopback address. Deleted (after killing what runs in it) on drop.
struct Netns {
    name: String,
}

const CLIENT_ADDR: &str = "10.231.0.2";

fn ip(args: &[&str]) -> std::process::Output {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2 (`ip`) is required for the EC2 server tests: apt-get install iproute2");
    out
}

#[track_caller]
fn ip_ok(args: &[&str]) -> String {
    let out = ip(args);
    assert!(
        out.status.success(),
        "ip {args:?} failed (these tests need root, as in CI): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Netns {
    /// A namespace with only `lo` (up).
    fn bare() -> Netns {
        let name = format!(
            "avsrv{}x{}",
            std::process::id(),
            NS_COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        ip_ok(&["netns", "add", &name]);
        let ns = Netns { name };
        ip_ok(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    fn new() -> Netns {
        let ns = Netns::bare();
        let n = ns.name.as_str();
        ip_ok(&[
            "-n", n, "link", "add", "avA", "type", "veth", "peer", "name", "avB",
        ]);
        ip_ok(&["-n", n, "addr", "add", "10.231.0.1/24", "dev", "avA"]);
        ip_ok(&[
            "-n",
            n,
            "addr",
            "add",
            &format!("{CLIENT_ADDR}/24"),
            "dev",
            "avB",
        ]);
        ip_ok(&["-n", n, "link", "set", "avA", "up"]);
        ip_ok(&["-n", n, "link", "set", "avB", "up"]);
        ns
    }

    /// A command run inside the namespace.
    fn cmd(&self, inner: &Command) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name])
            .arg(inner.get_program())
            .args(inner.get_args());
        c.env_clear();
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        if let Some(d) = inner.get_current_dir() {
            c.current_dir(d);
        }
        c.stdin(Stdio::null());
        c
    }

    fn lo_addrs(&self) -> String {
        ip_ok(&["-n", &self.name, "addr", "show", "dev", "lo"])
    }

    fn pids(&self) -> Vec<String> {
        ip_ok(&["netns", "pids", &self.name])
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for pid in self.pids() {
            if let Ok(pid) = pid.parse::<i32>() {
                // SAFETY: kill(2) on a process inside the namespace this test created.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// An executable script printing credential_process JSON (no STS needed inside the namespace).
fn credential_process_sandbox() -> Sandbox {
    let s = Sandbox::new();
    let script = s.dir.path().join("credproc.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncat <<JSON\n{\"Version\": 1, \"AccessKeyId\": \"ASIAPROCPROCPROCPROC\", \"SecretAccessKey\": \"procsecret\", \"SessionToken\": \"proctoken\", \"Expiration\": \"$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)\"}\nJSON\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.write_config(&format!(
        "[profile cp]\nregion = eu-west-1\ncredential_process = {}\n",
        script.display()
    ));
    s
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn ec2_server_and_proxy_in_a_namespace() {
    let ns = Netns::new();
    let mut s = credential_process_sandbox();
    s.set_env("CLIENT_ADDR", CLIENT_ADDR);
    let out_dir: PathBuf = s.dir.path().join("ec2");
    std::fs::create_dir_all(&out_dir).unwrap();
    let client = support("servers_ec2_client.sh");
    let out_arg = out_dir.to_string_lossy().into_owned();
    let inner = s.cmd(&["exec", "--ec2-server", "cp", "--", "sh", &client, &out_arg]);
    let out = ns.cmd(&inner).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The child's exit code is aws-vault's.
    assert_eq!(out.status.code(), Some(3), "{stderr}");

    let get = |name: &str| {
        (
            read(&out_dir, &format!("{name}.status")),
            read(&out_dir, &format!("{name}.body")),
        )
    };
    let (status, token) = get("token");
    assert_eq!(status, "200");
    assert_eq!(token.len(), 40, "{token}");
    assert_eq!(get("roles"), ("200".into(), "local-credentials".into()));
    let (status, body) = get("creds");
    assert_eq!(status, "200", "{body}");
    let creds = json(&body);
    assert!(body.ends_with("}\n"));
    let keys: Vec<&String> = creds.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "AccessKeyId",
            "Code",
            "Expiration",
            "LastUpdated",
            "SecretAccessKey",
            "Token",
            "Type"
        ]
    );
    assert_eq!(creds["AccessKeyId"], "ASIAPROCPROCPROCPROC");
    assert_eq!(creds["Code"], "Success");
    assert_eq!(creds["Type"], "AWS-HMAC");
    assert_eq!(creds["Token"], "proctoken");
    assert_eq!(get("instance"), ("200".into(), "aws-vault".into()));
    assert_eq!(get("info").0, "301");
    assert_eq!(
        get("document"),
        ("200".into(), "{\"region\": \"eu-west-1\"}".into())
    );
    assert_eq!(
        get("missing"),
        ("404".into(), "404 page not found\n".into())
    );
    assert_eq!(
        get("direct_host"),
        (
            "401".into(),
            "Access denied for host '127.0.0.1:9099'\n".into()
        )
    );
    assert_eq!(
        get("direct_remote"),
        (
            "401".into(),
            "Access denied from non-localhost address\n".into()
        )
    );
    assert_eq!(get("direct_ok"), ("200".into(), "aws-vault".into()));
    let boto = read(&out_dir, "boto3.json");
    let boto = json(&boto);
    assert_eq!(
        boto["method"],
        "iam-role",
        "{}",
        read(&out_dir, "boto3.err")
    );
    assert_eq!(boto["access_key"], "ASIAPROCPROCPROCPROC");

    // The alias existed while the child ran, and is gone with everything else afterwards.
    assert!(read(&out_dir, "lo-during.txt").contains("169.254.169.254/32"));
    assert!(
        !ns.lo_addrs().contains("169.254.169.254"),
        "{}",
        ns.lo_addrs()
    );
    assert!(ns.pids().is_empty(), "left running: {:?}", ns.pids());
}

#[test]
fn ec2_server_port_taken_is_a_clear_error() {
    let ns = Netns::new();
    let s = credential_process_sandbox();
    let mut holder_cmd = Command::new("python3");
    holder_cmd.args([
        "-c",
        "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',9099))\ns.listen()\nprint('ready',flush=True)\ntime.sleep(60)",
    ]);
    holder_cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    let mut holder = ns.cmd(&holder_cmd).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");

    let inner = s.cmd(&["exec", "--ec2-server", "cp", "--", "true"]);
    let out = ns.cmd(&inner).output().unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "aws-vault: error: exec: cannot start the EC2 metadata server: 127.0.0.1:9099 is already in use (is another `aws-vault exec --ec2-server` running?)"
    );
    // Nothing privileged was started.
    assert!(!ns.lo_addrs().contains("169.254.169.254"));
}

#[test]
fn proxy_adds_and_removes_the_alias_and_forwards() {
    let ns = Netns::new();
    let s = Sandbox::new();
    // An upstream on 127.0.0.1:9099 that echoes the Host and X-Forwarded-For it receives.
    let mut up_cmd = Command::new("python3");
    up_cmd.args([
        "-c",
        r#"
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = json.dumps({"path": self.path, "host": self.headers.get("Host"), "xff": self.headers.get("X-Forwarded-For")}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 9099), H)
print("ready", flush=True)
s.serve_forever()
"#,
    ]);
    up_cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    let mut upstream = ns.cmd(&up_cmd).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(upstream.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");

    let curl = |args: &[&str]| {
        let mut c = Command::new("curl");
        c.args(["-s", "--max-time", "5"]).args(args);
        let out = ns.cmd(&c).output().expect("curl is required");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let wait_for_alias = |present: bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while ns.lo_addrs().contains("169.254.169.254/32") != present {
            assert!(
                Instant::now() < deadline,
                "alias present={present} never reached"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    for stop_with_sigterm in [true, false] {
        let mut proxy = ns.cmd(&s.cmd(&["proxy"])).spawn().unwrap();
        wait_for_alias(true);
        let deadline = Instant::now() + Duration::from_secs(10);
        let body = loop {
            let b = curl(&["http://169.254.169.254/latest/meta-data/x?y=1"]);
            if !b.is_empty() || Instant::now() > deadline {
                break b;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let v = json(&body);
        assert_eq!(v["path"], "/latest/meta-data/x?y=1");
        assert_eq!(v["host"], "169.254.169.254");
        // curl's source address for 169.254.169.254 is the alias itself.
        assert_eq!(v["xff"], "169.254.169.254");
        if stop_with_sigterm {
            // `ip netns exec` execs the command: this is aws-vault's pid.
            // SAFETY: kill(2) on the process this test started.
            unsafe { libc::kill(proxy.id() as i32, libc::SIGTERM) };
        } else {
            let run = ns.cmd(&s.cmd(&["server", "--stop"])).output().unwrap();
            assert!(run.status.success());
        }
        let status = proxy.wait().unwrap();
        assert_eq!(status.code(), Some(0), "sigterm={stop_with_sigterm}");
        wait_for_alias(false);
    }
    // --stop with nothing running still exits 0.
    assert!(ns
        .cmd(&s.cmd(&["proxy", "--stop"]))
        .status()
        .unwrap()
        .success());
    let _ = upstream.kill();
    let _ = upstream.wait();
}

#[test]
fn credentials_are_refreshed_before_they_expire() {
    let _timing = timing_sensitive();
    let moto = Moto::start();
    let mut s = moto_sandbox(&moto, "");
    // Sessions last 3600 s; with AWS_MIN_TTL=3590s they are due for refresh 10 s after issue,
    // 59 minutes before they expire.
    s.set_env("AWS_MIN_TTL", "3590s");
    let script = r#"
req() { curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI"; }
req; req; echo "calls $(grep -c GetSessionToken "$CALLS")"
sleep 12
req; echo "calls $(grep -c GetSessionToken "$CALLS")"
"#;
    let calls = moto.dir().join("calls.jsonl");
    let run = s
        .run_env(
            &[
                "exec",
                "--ecs-server",
                "--lazy",
                "p",
                "--",
                "sh",
                "-c",
                script,
            ],
            &[("CALLS", calls.to_str().unwrap())],
        )
        .ok();
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        ["200", "200", "calls 1", "200", "calls 2"],
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Hardening: remote peers and starvation. Two namespaces joined by a veth pair stand in for this
// machine and another one on its network; everything is created and deleted by the tests.

/// The other machine's address on the veth link.
const REMOTE_ADDR: &str = "10.232.0.2";
/// This machine's address on the link: the remote routes 169.254.169.254 through it.
const LINK_ADDR: &str = "10.232.0.1";

/// Join `local` and `remote` with a veth pair and make `remote` route `169.254.169.254/32` via
/// `local`, as a neighbour on the same LAN could. The pair goes away with the namespaces.
fn join_as_remote(local: &Netns, remote: &Netns) {
    ip_ok(&[
        "-n",
        &local.name,
        "link",
        "add",
        "avL",
        "type",
        "veth",
        "peer",
        "name",
        "avR",
        "netns",
        &remote.name,
    ]);
    let link = format!("{LINK_ADDR}/24");
    let remote_addr = format!("{REMOTE_ADDR}/24");
    ip_ok(&["-n", &local.name, "addr", "add", &link, "dev", "avL"]);
    ip_ok(&[
        "-n",
        &remote.name,
        "addr",
        "add",
        &remote_addr,
        "dev",
        "avR",
    ]);
    ip_ok(&["-n", &local.name, "link", "set", "avL", "up"]);
    ip_ok(&["-n", &remote.name, "link", "set", "avR", "up"]);
    ip_ok(&[
        "-n",
        &remote.name,
        "route",
        "add",
        "169.254.169.254/32",
        "via",
        LINK_ADDR,
    ]);
}

/// `curl` from inside `ns`: (exit code, HTTP status, body, curl's error text).
fn curl_in(ns: &Netns, args: &[&str]) -> (i32, String, String, String) {
    let mut c = Command::new("curl");
    c.args(["-sSv", "--max-time", "5", "-w", "\n%{http_code}"])
        .args(args);
    let out = ns.cmd(&c).output().expect("curl is required");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    (
        out.status.code().unwrap_or(-1),
        status.to_string(),
        body.to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn wait_for_file(path: &Path, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("aws-vault exited ({status}) before {}", path.display());
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn proxy_refuses_remote_peer_and_serves_local_clients() {
    let local = Netns::new();
    let remote = Netns::bare();
    join_as_remote(&local, &remote);
    let mut s = credential_process_sandbox();
    s.set_env("REMOTE_ADDR", REMOTE_ADDR);
    let out_dir = s.dir.path().join("ec2");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out_arg = out_dir.to_string_lossy().into_owned();
    let script = support("servers_ec2_local_after_remote.sh");
    let inner = s.cmd(&["exec", "--ec2-server", "cp", "--", "sh", &script, &out_arg]);
    let mut exec = local
        .cmd(&inner)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&out_dir.join("ready"), &mut exec);

    // The other machine asks for the credentials, then tries to stop the proxy.
    let creds_url =
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/local-credentials";
    let attempts = [
        curl_in(&remote, &[creds_url]),
        curl_in(
            &remote,
            &[
                "-X",
                "PUT",
                "-H",
                "x-aws-ec2-metadata-token-ttl-seconds: 60",
                "http://169.254.169.254/latest/api/token",
            ],
        ),
        curl_in(&remote, &["http://169.254.169.254/stop"]),
    ];
    std::fs::write(out_dir.join("remote-done"), "").unwrap();
    let out = exec.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    for (code, status, body, err) in &attempts {
        assert!(
            !body.contains("procsecret") && !body.contains("proctoken"),
            "the remote machine got credentials: {body}"
        );
        // Refused by this machine's kernel (so the packets did arrive: not a routing accident),
        // or a 403.
        assert!(
            (*code == 7 && err.contains("Connection refused")) || status == "403",
            "remote peer got: curl exit {code}, status {status}, {err} {body}"
        );
    }

    // Local clients still work, so the remote /stop did not stop the proxy.
    assert_eq!(read(&out_dir, "local.status"), "200", "{stderr}");
    assert!(read(&out_dir, "local.body").contains("\"SecretAccessKey\":\"procsecret\""));
    // A request relayed for a remote client (X-Forwarded-For) is judged by that client.
    assert_eq!(
        (read(&out_dir, "xff.status"), read(&out_dir, "xff.body")),
        (
            "401".into(),
            "Access denied from non-localhost address\n".into()
        )
    );
    let cli = read(&out_dir, "cli.txt");
    assert!(
        cli.contains("iam-role") && cli.contains("****************PROC"),
        "{cli}\n{}",
        read(&out_dir, "cli.err")
    );
    let boto = json(&read(&out_dir, "boto3.json"));
    assert_eq!(
        boto["method"],
        "iam-role",
        "{}",
        read(&out_dir, "boto3.err")
    );
    assert_eq!(boto["access_key"], "ASIAPROCPROCPROCPROC");

    // The alias is one address, not a /24 that would shadow 169.254.169.0/24.
    let lo = read(&out_dir, "lo-during.txt");
    assert!(lo.contains("169.254.169.254/32"), "{lo}");
    assert!(!lo.contains("169.254.169.254/24"), "{lo}");
    assert!(!local.lo_addrs().contains("169.254.169.254"));
}

/// Run `cmd` with a soft RLIMIT_NOFILE of `soft` (hard limit unchanged): 1024 is the usual
/// default soft limit on Linux, and what makes descriptor exhaustion reachable.
fn with_nofile_soft_limit(cmd: &mut Command, soft: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getrlimit/setrlimit are async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let mut r = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            r.rlim_cur = soft.min(r.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Peak RSS bound for a server under the flood below (measured: see docs/servers.md).
const FLOOD_MAX_HWM_KB: u64 = 64 * 1024;

/// The checks shared by the slowloris tests, on servers_flood.py's JSON.
#[track_caller]
fn assert_survived_flood(out: &serde_json::Value, method: &str) {
    // The flood really happened.
    assert!(out["slow_opened"].as_u64().unwrap() >= 1000, "{out}");
    // The SDK got its credentials, within its own timeouts (botocore enforces them: a request
    // that waited too long would have failed), and fast in absolute terms.
    assert_eq!(out["legit_ok"], true, "{out}");
    assert_eq!(out["legit_method"], method, "{out}");
    assert!(out["legit_seconds"].as_f64().unwrap() < 5.0, "{out}");
    // Descriptors stay well below the 1024 limit; memory stays bounded.
    assert!(out["server_fds_during"].as_u64().unwrap() < 600, "{out}");
    assert!(
        out["server_hwm_kb"].as_u64().unwrap() < FLOOD_MAX_HWM_KB,
        "{out}"
    );
    // A body is refused after a bounded prefix, not buffered: 413, or (when the server closed
    // while we were still sending) a reset that discarded it — but long before the end.
    let answer = out["body_answer"].as_str().unwrap();
    assert!(
        ["413", "BrokenPipeError", "ConnectionResetError"].contains(&answer),
        "{out}"
    );
    assert!(out["body_mib_sent"].as_u64().unwrap() < 16, "{out}");
    // Connections that never finish their headers are closed by the server.
    assert_eq!(out["slow_still_open"], 0, "{out}");
}

#[test]
fn servers_survive_slowloris_ecs_server() {
    let _heavy = exclusive();
    let s = credential_process_sandbox();
    let mut c = s.cmd(&[
        "exec",
        "--ecs-server",
        "cp",
        "--",
        "env",
        "AWS_CONFIG_FILE=/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
        "python3",
        &support("servers_flood.py"),
        "ecs",
        "2000",
        "64",
        "40",
    ]);
    with_nofile_soft_limit(&mut c, 1024);
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v = json(&String::from_utf8_lossy(&out.stdout));
    eprintln!("ECS server under slowloris: {v}");
    assert_survived_flood(&v, "container-role");
}

#[test]
fn servers_survive_slowloris_ec2_proxy() {
    let _heavy = exclusive();
    let ns = Netns::new();
    let s = credential_process_sandbox();
    let inner = s.cmd(&[
        "exec",
        "--ec2-server",
        "cp",
        "--",
        "env",
        "-u",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_CONFIG_FILE=/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
        "python3",
        &support("servers_flood.py"),
        "ec2",
        "2000",
        "600",
        "40",
    ]);
    let mut c = ns.cmd(&inner);
    with_nofile_soft_limit(&mut c, 1024);
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v = json(&String::from_utf8_lossy(&out.stdout));
    eprintln!("EC2 proxy under slowloris: {v}");
    assert_survived_flood(&v, "iam-role");
    assert!(ns.pids().is_empty(), "left running: {:?}", ns.pids());
}
