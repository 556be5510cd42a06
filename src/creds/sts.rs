//! The STS calls of the credential chain (docs/compatibility.md §3.3), as synchronous functions.
//!
//! Each builds its client on demand (see [`crate::aws`]), sends whole-second durations
//! (truncated), and returns [`Credentials`] carrying the `Expiration` of the response. Errors
//! are one line: `AssumeRole: AccessDenied: ...` or `GetSessionToken: cannot reach URL: ...`.
use std::time::Duration;

use anyhow::anyhow;
use secrecy::{ExposeSecret, SecretString};

use super::Credentials;
use crate::aws::{self, Endpoint, Service};

/// The allow-all session policy sent with GetFederationToken (docs/compatibility.md §3.3).
pub const FEDERATION_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// An MFA device serial (or ARN) and the one-time code to send with it.
#[derive(Clone)]
pub struct Mfa {
    pub serial: String,
    pub code: String,
}

impl std::fmt::Debug for Mfa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mfa")
            .field("serial", &self.serial)
            .field("code", &"[REDACTED]")
            .finish()
    }
}

/// Parameters of one AssumeRole call.
#[derive(Debug, Clone, Default)]
pub struct AssumeRoleParams {
    pub role_arn: String,
    /// `None` => the current Unix time in nanoseconds (19 digits), like aws-vault.
    pub session_name: Option<String>,
    pub duration: Duration,
    pub external_id: Option<String>,
    pub tags: Vec<(String, String)>,
    pub transitive_tag_keys: Vec<String>,
    pub source_identity: Option<String>,
}

/// `DurationSeconds`: whole seconds, truncated (saturating at `i32::MAX`).
fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

/// The default `RoleSessionName`: decimal Unix time in nanoseconds.
pub fn default_session_name() -> String {
    jiff::Timestamp::now().as_nanosecond().to_string()
}

fn session_name(name: Option<&str>) -> String {
    match name.filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => default_session_name(),
    }
}

/// Convert STS credentials to ours; `op` names the call in the error for a missing field.
fn from_sts(op: &str, c: Option<&aws_sdk_sts::types::Credentials>) -> anyhow::Result<Credentials> {
    let c = c.ok_or_else(|| anyhow!("{op}: the response holds no credentials"))?;
    let exp = c.expiration();
    let expires = jiff::Timestamp::new(exp.secs(), exp.subsec_nanos() as i32)
        .map_err(|_| anyhow!("{op}: the response holds an out-of-range Expiration"))?;
    let token = c.session_token();
    Ok(Credentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: SecretString::from(c.secret_access_key().to_string()),
        session_token: (!token.is_empty()).then(|| SecretString::from(token.to_string())),
        expires: Some(expires),
    })
}

/// GetSessionToken with `DurationSeconds` and, with `mfa`, `SerialNumber` + `TokenCode`.
pub fn get_session_token(
    ep: &Endpoint,
    source: &Credentials,
    duration: Duration,
    mfa: Option<Mfa>,
) -> anyhow::Result<Credentials> {
    const OP: &str = "GetSessionToken";
    let client = aws::sts_client(ep, Some(source));
    let mut req = client
        .get_session_token()
        .duration_seconds(seconds(duration));
    if let Some(m) = mfa {
        req = req.serial_number(m.serial).token_code(m.code);
    }
    let out = aws::call_at(OP, ep.url_override(Service::Sts).as_deref(), |url| {
        req.customize().interceptor(url).send()
    })?;
    from_sts(OP, out.credentials())
}

/// AssumeRole with the parameters of docs/compatibility.md §3.3 (tags, transitive keys, external id, source
/// identity and MFA only when set).
pub fn assume_role(
    ep: &Endpoint,
    source: &Credentials,
    params: &AssumeRoleParams,
    mfa: Option<Mfa>,
) -> anyhow::Result<Credentials> {
    const OP: &str = "AssumeRole";
    let client = aws::sts_client(ep, Some(source));
    let mut req = client
        .assume_role()
        .role_arn(&params.role_arn)
        .role_session_name(session_name(params.session_name.as_deref()))
        .duration_seconds(seconds(params.duration));
    if let Some(id) = params.external_id.as_deref().filter(|s| !s.is_empty()) {
        req = req.external_id(id);
    }
    if let Some(m) = mfa {
        req = req.serial_number(m.serial).token_code(m.code);
    }
    for (k, v) in &params.tags {
        let tag = aws_sdk_sts::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .map_err(|e| anyhow!("{OP}: session tag {k}: {e}"))?;
        req = req.tags(tag);
    }
    for k in &params.transitive_tag_keys {
        req = req.transitive_tag_keys(k);
    }
    if let Some(si) = params.source_identity.as_deref().filter(|s| !s.is_empty()) {
        req = req.source_identity(si);
    }
    let out = aws::call_at(OP, ep.url_override(Service::Sts).as_deref(), |url| {
        req.customize().interceptor(url).send()
    })?;
    from_sts(OP, out.credentials())
}

/// AssumeRoleWithWebIdentity through an unsigned client: `RoleArn`, `RoleSessionName` (same
/// default as AssumeRole), `DurationSeconds`, `WebIdentityToken`.
pub fn assume_role_with_web_identity(
    ep: &Endpoint,
    role_arn: &str,
    session_name_opt: Option<&str>,
    duration: Duration,
    token: &SecretString,
) -> anyhow::Result<Credentials> {
    const OP: &str = "AssumeRoleWithWebIdentity";
    let client = aws::sts_client(ep, None);
    let req = client
        .assume_role_with_web_identity()
        .role_arn(role_arn)
        .role_session_name(session_name(session_name_opt))
        .duration_seconds(seconds(duration))
        .web_identity_token(token.expose_secret());
    let out = aws::call_at(OP, ep.url_override(Service::Sts).as_deref(), |url| {
        req.customize().interceptor(url).send()
    })?;
    from_sts(OP, out.credentials())
}

/// GetFederationToken (`login`): `Name`, `DurationSeconds` and the allow-all policy.
pub fn get_federation_token(
    ep: &Endpoint,
    source: &Credentials,
    name: &str,
    duration: Duration,
) -> anyhow::Result<Credentials> {
    const OP: &str = "GetFederationToken";
    let client = aws::sts_client(ep, Some(source));
    let req = client
        .get_federation_token()
        .name(name)
        .duration_seconds(seconds(duration))
        .policy(FEDERATION_POLICY);
    let out = aws::call_at(OP, ep.url_override(Service::Sts).as_deref(), |url| {
        req.customize().interceptor(url).send()
    })?;
    from_sts(OP, out.credentials())
}

/// GetCallerIdentity; returns the caller's ARN.
pub fn get_caller_identity(ep: &Endpoint, source: &Credentials) -> anyhow::Result<String> {
    const OP: &str = "GetCallerIdentity";
    let client = aws::sts_client(ep, Some(source));
    let req = client.get_caller_identity();
    let out = aws::call_at(OP, ep.url_override(Service::Sts).as_deref(), |url| {
        req.customize().interceptor(url).send()
    })?;
    out.arn()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{OP}: the response holds no Arn"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_whole_seconds() {
        assert_eq!(seconds(Duration::from_millis(3_600_999)), 3600);
        assert_eq!(seconds(Duration::from_secs(u64::MAX)), i32::MAX);
    }

    #[test]
    fn default_session_name_is_19_digit_nanos() {
        let n = default_session_name();
        assert_eq!(n.len(), 19, "{n}");
        assert!(n.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(session_name(Some("")).len(), 19);
        assert_eq!(session_name(Some("me")), "me");
    }

    #[test]
    fn converts_sts_credentials_with_fractional_expiry() {
        let exp = aws_smithy_types::DateTime::from_secs_and_nanos(1_800_000_000, 894_469_000);
        let c = aws_sdk_sts::types::Credentials::builder()
            .access_key_id("ASIAEXAMPLE")
            .secret_access_key("secret")
            .session_token("token")
            .expiration(exp)
            .build()
            .unwrap();
        let ours = from_sts("X", Some(&c)).unwrap();
        assert_eq!(ours.access_key_id, "ASIAEXAMPLE");
        assert_eq!(ours.secret(), "secret");
        assert_eq!(ours.token(), Some("token"));
        let e = ours.expires.unwrap();
        assert_eq!(e.as_second(), 1_800_000_000);
        assert_eq!(e.subsec_nanosecond(), 894_469_000);
        assert!(from_sts("X", None)
            .unwrap_err()
            .to_string()
            .starts_with("X: "));
    }

    #[test]
    fn mfa_debug_hides_code() {
        let m = Mfa {
            serial: "arn:mfa".into(),
            code: "123456".into(),
        };
        assert!(!format!("{m:?}").contains("123456"));
    }
}
