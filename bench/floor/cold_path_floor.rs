//! The floor of the cold path, for `bench/run-all`: the two STS calls that `aws-vault export`
//! makes for a role profile whose cache has expired — GetSessionToken with the long-term key,
//! then AssumeRole signed with that session — made by the smallest program that uses the same
//! AWS SDK crates, HTTP client (hyper + rustls with ring) and current-thread tokio runtime. It
//! reads no keyring and no config file, caches nothing and prints the role's credentials as
//! `credential_process` JSON. With `MFA_SERIAL` set, GetSessionToken sends it with the code
//! that `sh -c "$MFA_PROCESS"` prints (default `echo 123456`), as aws-vault's `mfa_process`.
//!
//!     cargo build --release --example cold_path_floor
//!     AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… AWS_ENDPOINT_URL=http://127.0.0.1:PORT \
//!         target/release/examples/cold_path_floor arn:aws:iam::123456789012:role/Bench
use std::process::ExitCode;

use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};

fn main() -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cold_path_floor: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run()) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cold_path_floor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn client(creds: Credentials) -> aws_sdk_sts::Client {
    use aws_smithy_http_client::{tls, Builder};
    let http = Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut b = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .http_client(http)
        .credentials_provider(creds);
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
        b = b.endpoint_url(url);
    }
    aws_sdk_sts::Client::from_conf(b.build())
}

async fn run() -> Result<String, String> {
    let role = std::env::args()
        .nth(1)
        .ok_or("usage: cold_path_floor ROLE_ARN")?;
    let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
    let base = Credentials::new(
        var("AWS_ACCESS_KEY_ID")?,
        var("AWS_SECRET_ACCESS_KEY")?,
        None,
        None,
        "floor",
    );
    let mut gst = client(base).get_session_token().duration_seconds(3600);
    // With an MFA device, as aws-vault's role profile in bench/run-all has, its code from the
    // same `mfa_process` command.
    if let Ok(serial) = std::env::var("MFA_SERIAL") {
        let command = std::env::var("MFA_PROCESS").unwrap_or_else(|_| "echo 123456".into());
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &command])
            .output()
            .map_err(|e| format!("mfa_process: {e}"))?;
        let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
        gst = gst.serial_number(serial).token_code(code);
    }
    let session = gst
        .send()
        .await
        .map_err(|e| format!("GetSessionToken: {e}"))?;
    let s = session
        .credentials()
        .ok_or("GetSessionToken: no credentials")?;
    let hop = Credentials::new(
        s.access_key_id(),
        s.secret_access_key(),
        Some(s.session_token().to_string()),
        None,
        "floor",
    );
    let role = client(hop)
        .assume_role()
        .role_arn(role)
        .role_session_name("floor")
        .duration_seconds(3600)
        .send()
        .await
        .map_err(|e| format!("AssumeRole: {e}"))?;
    let c = role.credentials().ok_or("AssumeRole: no credentials")?;
    Ok(serde_json::json!({
        "Version": 1,
        "AccessKeyId": c.access_key_id(),
        "SecretAccessKey": c.secret_access_key(),
        "SessionToken": c.session_token(),
        "Expiration": c.expiration().to_string(),
    })
    .to_string())
}
