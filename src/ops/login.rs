//! The AWS console sign-in URL of `aws-vault login` (docs/compatibility.md §3.8, with the §7.13 fixes).
//!
//! Everything here except [`request_signin_token`] is pure and unit-tested for every partition:
//!
//! | region prefix | federation endpoint                                   | console domain                  |
//! |---------------|-------------------------------------------------------|---------------------------------|
//! | (none)        | `https://us-east-1.signin.aws.amazon.com/federation`   | `console.aws.amazon.com`        |
//! | `cn-`         | `https://signin.amazonaws.cn/federation`               | `console.amazonaws.cn`          |
//! | `us-gov-`     | `https://signin.amazonaws-us-gov.com/federation`       | `console.amazonaws-us-gov.com`  |
//! | `eusc-`       | `https://signin.amazonaws-eusc.eu/federation`          | `console.amazonaws-eusc.eu`     |
//! | other         | `https://us-east-1.signin.aws.amazon.com/federation`   | `console.aws.amazon.com`        |
//!
//! Deliberate changes from the Go tool (docs/compatibility.md §7.13): `--path` is honoured without a region
//! (`https://console.aws.amazon.com/<path>`), a leading `/` of `--path` is dropped (no `//`),
//! and `--auto-logout` goes through the sign-in host of the region's partition instead of always
//! the commercial one. `AWS_VAULT_FEDERATION_URL` replaces the federation endpoint (private
//! partitions, tests); the logout endpoint is then `/oauth` on the same origin.
use std::time::Duration;

use anyhow::{anyhow, bail};

use secrecy::SecretString;

use crate::aws::Endpoint;
use crate::config::ProfileConfig;
use crate::credentials::Credentials;
use crate::creds::chain::{Base, Hop, Plan};
use crate::creds::sts;
use crate::gofmt::json::quote as json_str;

/// The environment variable that points the federation endpoint elsewhere.
pub const FEDERATION_URL_ENV: &str = "AWS_VAULT_FEDERATION_URL";

/// How long the getSigninToken request may take in total.
pub const SIGNIN_TIMEOUT: Duration = Duration::from_secs(30);

/// An AWS partition's console sign-in endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// `aws`, `aws-cn`, `aws-us-gov`, `aws-eusc`.
    pub name: &'static str,
    /// The federation endpoint (getSigninToken and login).
    pub federation: &'static str,
    /// The console's domain; the region is prepended as a sub-domain.
    pub console_domain: &'static str,
}

const AWS: Partition = Partition {
    name: "aws",
    federation: "https://us-east-1.signin.aws.amazon.com/federation",
    console_domain: "console.aws.amazon.com",
};
const AWS_CN: Partition = Partition {
    name: "aws-cn",
    federation: "https://signin.amazonaws.cn/federation",
    console_domain: "console.amazonaws.cn",
};
const AWS_US_GOV: Partition = Partition {
    name: "aws-us-gov",
    federation: "https://signin.amazonaws-us-gov.com/federation",
    console_domain: "console.amazonaws-us-gov.com",
};
const AWS_EUSC: Partition = Partition {
    name: "aws-eusc",
    federation: "https://signin.amazonaws-eusc.eu/federation",
    console_domain: "console.amazonaws-eusc.eu",
};

/// The partition of `region` by its prefix; no region means the commercial partition.
pub fn partition(region: Option<&str>) -> Partition {
    match region.unwrap_or("") {
        r if r.starts_with("cn-") => AWS_CN,
        r if r.starts_with("us-gov-") => AWS_US_GOV,
        r if r.starts_with("eusc-") => AWS_EUSC,
        _ => AWS,
    }
}

/// The endpoints and destination of one console login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Console {
    /// Federation endpoint: `<federation>?Action=getSigninToken...` and `?Action=login...`.
    pub federation: String,
    /// The page the console opens after sign-in.
    pub destination: String,
    /// The logout endpoint used by `--auto-logout` (`<origin of federation>/oauth`).
    pub logout: String,
}

/// The console endpoints for `region` (empty = none) and `--path`, with `federation_override`
/// (`AWS_VAULT_FEDERATION_URL`) replacing the partition's federation endpoint.
pub fn console(
    region: Option<&str>,
    path: Option<&str>,
    federation_override: Option<&str>,
) -> Console {
    let region = region.filter(|r| !r.is_empty());
    let part = partition(region);
    let path = path
        .map(|p| p.trim_start_matches('/'))
        .filter(|p| !p.is_empty());
    let destination = match (region, path) {
        (Some(r), Some(p)) => format!("https://{r}.{}/{p}?region={r}", part.console_domain),
        (Some(r), None) => format!(
            "https://{r}.{}/console/home?region={r}",
            part.console_domain
        ),
        // Fix of docs/compatibility.md §7.13: `--path` also works without a region.
        (None, Some(p)) => format!("https://{}/{p}", part.console_domain),
        (None, None) => format!("https://{}/", part.console_domain),
    };
    let federation = federation_override
        .filter(|u| !u.is_empty())
        .unwrap_or(part.federation)
        .to_string();
    let logout = format!("{}/oauth", origin(&federation));
    Console {
        federation,
        destination,
        logout,
    }
}

/// `scheme://authority` of a URL.
fn origin(url: &str) -> &str {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            let end = rest.find(['/', '?', '#']).map_or(url.len(), |e| i + 3 + e);
            &url[..end]
        }
        None => url,
    }
}

/// Go's `url.QueryEscape`: RFC 3986 unreserved characters kept, space as `+`, every other byte
/// as `%XX` (upper-case hex).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The Session JSON of getSigninToken: `{"sessionId":…,"sessionKey":…,"sessionToken":…}`
/// (keys in this order, Go escaping). Holds secrets: never log it.
pub fn session_json(creds: &Credentials) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(format!(
        "{{\"sessionId\":{},\"sessionKey\":{},\"sessionToken\":{}}}",
        json_str(&creds.access_key_id),
        json_str(creds.secret()),
        json_str(creds.token().unwrap_or("")),
    ))
}

/// `<federation>?Action=getSigninToken&Session=<escaped JSON>`. Holds secrets: never log it.
pub fn signin_token_url(federation: &str, creds: &Credentials) -> zeroize::Zeroizing<String> {
    let json = session_json(creds);
    zeroize::Zeroizing::new(format!(
        "{federation}{}Action=getSigninToken&Session={}",
        query_separator(federation),
        query_escape(&json)
    ))
}

fn query_separator(url: &str) -> char {
    if url.contains('?') {
        '&'
    } else {
        '?'
    }
}

/// The final login URL (docs/compatibility.md §3.8 step 6), or its `--auto-logout` wrapper.
pub fn login_url(console: &Console, signin_token: &str, auto_logout: bool) -> String {
    let sep = query_separator(&console.federation);
    if auto_logout {
        // The inner URL carries destination and token unescaped, like the Go tool; the whole
        // inner URL is escaped once as redirect_uri.
        let inner = format!(
            "{}{sep}Action=login&Issuer=aws-vault&Destination={}&SigninToken={}",
            console.federation, console.destination, signin_token
        );
        format!(
            "{}?Action=logout&redirect_uri={}",
            console.logout,
            query_escape(&inner)
        )
    } else {
        format!(
            "{}{sep}Action=login&Issuer=aws-vault&Destination={}&SigninToken={}",
            console.federation,
            query_escape(&console.destination),
            query_escape(signin_token)
        )
    }
}

/// The `SigninToken` of a getSigninToken response body.
pub fn parse_signin_response(body: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| anyhow!("getSigninToken returned invalid JSON: {e}"))?;
    match v.get("SigninToken").and_then(|t| t.as_str()) {
        Some(t) if !t.is_empty() => Ok(t.to_string()),
        _ => bail!("Expected a response with SigninToken"),
    }
}

/// GET the sign-in token for `creds` from the federation endpoint (docs/compatibility.md §3.8 step 5).
/// Errors name the endpoint, never the credentials.
pub fn request_signin_token(federation: &str, creds: &Credentials) -> anyhow::Result<String> {
    let url = signin_token_url(federation, creds);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(SIGNIN_TIMEOUT))
        .build()
        .into();
    let mut resp = agent.get(url.as_str()).call().map_err(|e| {
        anyhow!(
            "Call to getSigninToken at {} failed: {e}",
            origin(federation)
        )
    })?;
    let status = resp.status();
    if status.as_u16() != 200 {
        bail!(
            "Call to getSigninToken failed with {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
    }
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| anyhow!("reading the getSigninToken response: {e}"))?;
    parse_signin_response(&body)
}

/// The user name for GetFederationToken: at most 32 bytes (on a character boundary).
pub fn federation_name(user: &str) -> &str {
    if user.len() <= 32 {
        return user;
    }
    let mut end = 32;
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    &user[..end]
}

/// Whether a caller ARN is an assumed role (`arn:aws:sts::ACCT:assumed-role/...`); an ARN with
/// fewer than 6 `:`-separated parts is an error (`unable to parse ARN: <arn>`).
pub fn is_assumed_role_arn(arn: &str) -> anyhow::Result<bool> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 {
        bail!("unable to parse ARN: {arn}");
    }
    Ok(parts[5].starts_with("assumed-role"))
}

/// Open `url` with [`crate::browser`], waiting for the opener to exit. The error never contains
/// the URL (it carries a sign-in token).
pub fn open_in_browser(browser: Option<&str>, url: &str) -> anyhow::Result<()> {
    crate::browser::open(browser, url, crate::browser::Wait::ForExit).map_err(|last| {
        anyhow::anyhow!(
            "Failed to open the console in a browser ({last}); use --stdout to print the URL instead"
        )
    })
}

/// The credentials to sign in with, for a profile whose chain was `plan`: role, SSO and
/// web-identity credentials as they are, anything else through GetFederationToken.
pub fn console_credentials(
    plan: &Plan,
    profile: &ProfileConfig,
    creds: Credentials,
) -> anyhow::Result<Credentials> {
    if usable_for_console(plan) {
        Ok(creds)
    } else {
        federate_unless_role(profile, creds)
    }
}

/// Role, SSO and web-identity credentials go to the console as they are (docs/compatibility.md §3.8 step 3).
pub fn usable_for_console(plan: &Plan) -> bool {
    match plan.hops.last() {
        Some(hop) => matches!(hop.what, Hop::AssumeRole { .. }),
        None => matches!(plan.base.what, Base::Sso { .. } | Base::WebIdentity { .. }),
    }
}

/// GetCallerIdentity decides: assumed-role credentials are used as they are; anything else
/// (long-term IAM user keys) becomes a GetFederationToken session named after the IAM user.
pub fn federate_unless_role(
    profile: &ProfileConfig,
    creds: Credentials,
) -> anyhow::Result<Credentials> {
    let ep = Endpoint::from_profile(profile);
    let arn = sts::get_caller_identity(&ep, &creds)?;
    if is_assumed_role_arn(&arn)? {
        return Ok(creds);
    }
    let user = match crate::iam::get_user_name(&ep, &creds) {
        Ok(u) => u,
        // Without iam:GetUser the caller ARN still names an IAM user.
        Err(e) => crate::iam::user_name_from_arn(&arn).ok_or(e)?,
    };
    crate::debug!("Using GetFederationToken for credentials");
    sts::get_federation_token(
        &ep,
        &creds,
        federation_name(&user),
        profile.get_federation_token_duration,
    )
}

/// Credentials from the environment when no profile is given: an access key
/// (`AWS_ACCESS_KEY_ID` or `AWS_ACCESS_KEY`) and a secret (`AWS_SECRET_ACCESS_KEY` or
/// `AWS_SECRET_KEY`), plus `AWS_SESSION_TOKEN` if set.
pub fn env_credentials(env: &crate::config::Env) -> Option<Credentials> {
    let get = |a: &str, b: &str| {
        env.get(a)
            .filter(|v| !v.is_empty())
            .or_else(|| env.get(b).filter(|v| !v.is_empty()))
            .cloned()
    };
    let id = get("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY")?;
    let secret = get("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")?;
    let token = env
        .get("AWS_SESSION_TOKEN")
        .filter(|t| !t.is_empty())
        .map(|t| SecretString::from(t.clone()));
    Some(Credentials {
        access_key_id: id,
        secret_access_key: SecretString::from(secret),
        session_token: token,
        expires: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn creds(id: &str, secret: &str, token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: id.into(),
            secret_access_key: SecretString::from(secret.to_string()),
            session_token: token.map(|t| SecretString::from(t.to_string())),
            expires: None,
        }
    }

    /// Decode a query string into (key, value) pairs.
    fn query(url: &str) -> Vec<(String, String)> {
        let q = url.split_once('?').unwrap().1;
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn partitions_by_region_prefix() {
        assert_eq!(partition(None).name, "aws");
        assert_eq!(partition(Some("eu-west-1")).name, "aws");
        assert_eq!(partition(Some("cn-north-1")).name, "aws-cn");
        assert_eq!(partition(Some("us-gov-west-1")).name, "aws-us-gov");
        assert_eq!(partition(Some("eusc-de-east-1")).name, "aws-eusc");
        // us-east-1 is not GovCloud.
        assert_eq!(partition(Some("us-east-1")).name, "aws");
    }

    #[test]
    fn commercial_console() {
        let c = console(Some("eu-west-1"), None, None);
        assert_eq!(
            c.federation,
            "https://us-east-1.signin.aws.amazon.com/federation"
        );
        assert_eq!(
            c.destination,
            "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
        );
        assert_eq!(c.logout, "https://us-east-1.signin.aws.amazon.com/oauth");
        let c = console(Some("eu-west-1"), Some("s3/home"), None);
        assert_eq!(
            c.destination,
            "https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1"
        );
    }

    #[test]
    fn china_console() {
        let c = console(Some("cn-north-1"), None, None);
        assert_eq!(c.federation, "https://signin.amazonaws.cn/federation");
        assert_eq!(
            c.destination,
            "https://cn-north-1.console.amazonaws.cn/console/home?region=cn-north-1"
        );
        assert_eq!(c.logout, "https://signin.amazonaws.cn/oauth");
        let c = console(Some("cn-northwest-1"), Some("/ec2/home"), None);
        assert_eq!(
            c.destination,
            "https://cn-northwest-1.console.amazonaws.cn/ec2/home?region=cn-northwest-1"
        );
    }

    #[test]
    fn govcloud_console() {
        let c = console(Some("us-gov-west-1"), None, None);
        assert_eq!(
            c.federation,
            "https://signin.amazonaws-us-gov.com/federation"
        );
        assert_eq!(
            c.destination,
            "https://us-gov-west-1.console.amazonaws-us-gov.com/console/home?region=us-gov-west-1"
        );
        assert_eq!(c.logout, "https://signin.amazonaws-us-gov.com/oauth");
    }

    #[test]
    fn eusc_console() {
        let c = console(Some("eusc-de-east-1"), Some("iam/home"), None);
        assert_eq!(c.federation, "https://signin.amazonaws-eusc.eu/federation");
        assert_eq!(
            c.destination,
            "https://eusc-de-east-1.console.amazonaws-eusc.eu/iam/home?region=eusc-de-east-1"
        );
        assert_eq!(c.logout, "https://signin.amazonaws-eusc.eu/oauth");
    }

    #[test]
    fn no_region_console_honours_path() {
        let c = console(None, None, None);
        assert_eq!(
            c.federation,
            "https://us-east-1.signin.aws.amazon.com/federation"
        );
        assert_eq!(c.destination, "https://console.aws.amazon.com/");
        let c = console(Some(""), Some("s3/home"), None);
        assert_eq!(c.destination, "https://console.aws.amazon.com/s3/home");
    }

    #[test]
    fn federation_override() {
        let c = console(
            Some("cn-north-1"),
            None,
            Some("http://127.0.0.1:9/federation"),
        );
        assert_eq!(c.federation, "http://127.0.0.1:9/federation");
        assert_eq!(c.logout, "http://127.0.0.1:9/oauth");
        // The destination still follows the region.
        assert!(c
            .destination
            .starts_with("https://cn-north-1.console.amazonaws.cn/"));
        assert_eq!(console(None, None, Some("")).federation, AWS.federation);
    }

    #[test]
    fn query_escape_is_go_query_escape() {
        assert_eq!(query_escape("a b+c/d~e_f.g-h*"), "a+b%2Bc%2Fd~e_f.g-h%2A");
        assert_eq!(query_escape("é"), "%C3%A9");
        assert_eq!(query_escape("?&=:"), "%3F%26%3D%3A");
    }

    #[test]
    fn session_json_shape_and_request_url() {
        let c = creds("ASIAX", "s<e>cret", Some("to ken"));
        assert_eq!(
            session_json(&c).as_str(),
            r#"{"sessionId":"ASIAX","sessionKey":"s\u003ce\u003ecret","sessionToken":"to ken"}"#
        );
        let url = signin_token_url("https://x/federation", &c);
        assert!(
            url.starts_with("https://x/federation?Action=getSigninToken&Session=%7B%22sessionId")
        );
        assert!(url.contains("to+ken"));
        let q = query(&url);
        assert_eq!(q[0], ("Action".into(), "getSigninToken".into()));
        assert_eq!(
            q[1].1,
            r#"{"sessionId":"ASIAX","sessionKey":"s\u003ce\u003ecret","sessionToken":"to ken"}"#
        );
        let none = session_json(&creds("AKIA", "s", None));
        assert!(none.ends_with(r#""sessionToken":""}"#));
    }

    #[test]
    fn login_url_fields() {
        let c = console(Some("eu-west-1"), None, None);
        let url = login_url(&c, "tok/en+=", false);
        assert!(url.starts_with("https://us-east-1.signin.aws.amazon.com/federation?Action=login&Issuer=aws-vault&Destination=https%3A%2F%2Feu-west-1.console"));
        assert!(url.ends_with("&SigninToken=tok%2Fen%2B%3D"));
        let q = query(&url);
        assert_eq!(
            q,
            vec![
                ("Action".to_string(), "login".to_string()),
                ("Issuer".into(), "aws-vault".into()),
                ("Destination".into(), c.destination.clone()),
                ("SigninToken".into(), "tok/en+=".into()),
            ]
        );
    }

    #[test]
    fn auto_logout_uses_the_partition_host() {
        for (region, host) in [
            ("eu-west-1", "https://us-east-1.signin.aws.amazon.com"),
            ("cn-north-1", "https://signin.amazonaws.cn"),
            ("us-gov-east-1", "https://signin.amazonaws-us-gov.com"),
            ("eusc-de-east-1", "https://signin.amazonaws-eusc.eu"),
        ] {
            let c = console(Some(region), None, None);
            let url = login_url(&c, "TOKEN", true);
            assert!(
                url.starts_with(&format!("{host}/oauth?Action=logout&redirect_uri=")),
                "{url}"
            );
            let q = query(&url);
            assert_eq!(q[0], ("Action".into(), "logout".into()));
            assert_eq!(q[1].0, "redirect_uri");
            assert_eq!(
                q[1].1,
                format!(
                    "{}?Action=login&Issuer=aws-vault&Destination={}&SigninToken=TOKEN",
                    c.federation, c.destination
                )
            );
        }
    }

    #[test]
    fn signin_response() {
        assert_eq!(
            parse_signin_response(r#"{"SigninToken":"abc"}"#).unwrap(),
            "abc"
        );
        assert_eq!(
            parse_signin_response(r#"{"Other":1}"#)
                .unwrap_err()
                .to_string(),
            "Expected a response with SigninToken"
        );
        assert!(parse_signin_response("<html>").is_err());
    }

    #[test]
    fn federation_name_is_truncated_to_32_bytes() {
        assert_eq!(federation_name("alice"), "alice");
        let long = "a".repeat(40);
        assert_eq!(federation_name(&long).len(), 32);
        let multi = format!("{}é", "a".repeat(31));
        assert_eq!(federation_name(&multi), "a".repeat(31));
    }

    #[test]
    fn assumed_role_detection() {
        assert!(is_assumed_role_arn("arn:aws:sts::123456789012:assumed-role/R/s").unwrap());
        assert!(!is_assumed_role_arn("arn:aws:iam::123456789012:user/alice").unwrap());
        assert!(!is_assumed_role_arn("arn:aws:sts::123456789012:federated-user/x").unwrap());
        assert_eq!(
            is_assumed_role_arn("arn:aws:iam").unwrap_err().to_string(),
            "unable to parse ARN: arn:aws:iam"
        );
    }
    #[test]
    fn environment_credentials() {
        let env = |pairs: &[(&str, &str)]| -> crate::config::Env {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(env_credentials(&env(&[("AWS_ACCESS_KEY_ID", "A")])).is_none());
        let c = env_credentials(&env(&[("AWS_ACCESS_KEY", "A"), ("AWS_SECRET_KEY", "S")])).unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret(), c.token()),
            ("A", "S", None)
        );
        let c = env_credentials(&env(&[
            ("AWS_ACCESS_KEY_ID", "A"),
            ("AWS_ACCESS_KEY", "B"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
            ("AWS_SESSION_TOKEN", "T"),
        ]))
        .unwrap();
        assert_eq!((c.access_key_id.as_str(), c.token()), ("A", Some("T")));
    }
}
