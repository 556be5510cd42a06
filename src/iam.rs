//! The IAM calls of `login` and `rotate`: GetUser (user-name discovery, docs/compatibility.md §3.9),
//! CreateAccessKey and DeleteAccessKey. Synchronous, one-line errors (see [`crate::aws::call`]).
use anyhow::{anyhow, bail};

use crate::aws::{self, Endpoint, Service};
use crate::credentials::Credentials;

/// docs/compatibility.md §3.9: IAM GetUser without a user name; `UserName`, else the last `:`-separated part
/// of the `Arn`. (The Go tool's fallback regex over the error text never matches SDK v2
/// errors, docs/compatibility.md §7.12, so any error is returned.)
pub fn get_user_name(ep: &Endpoint, creds: &Credentials) -> anyhow::Result<String> {
    const OP: &str = "GetUser";
    let client = aws::iam_client(ep, creds);
    let req = client.get_user();
    let out = aws::call_at(OP, ep.url_override(Service::Iam).as_deref(), |url| {
        req.customize().interceptor(url).send()
    })?;
    let user = out.user();
    user_name_from(user.map(|u| u.user_name()), user.map(|u| u.arn()))
}

fn user_name_from(name: Option<&str>, arn: Option<&str>) -> anyhow::Result<String> {
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        return Ok(n.to_string());
    }
    if let Some(last) = arn
        .and_then(|a| a.rsplit(':').next())
        .filter(|l| !l.is_empty())
    {
        return Ok(last.to_string());
    }
    bail!("Couldn't determine current username")
}

/// The IAM user name in a caller ARN (`arn:aws:iam::ACCT:user/path/name` => `name`); `None` for
/// any other kind of principal.
pub fn user_name_from_arn(arn: &str) -> Option<String> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let path = resource.strip_prefix("user/")?;
    path.rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// IAM CreateAccessKey (for `user`, else the caller). Returns the new long-term key pair.
pub fn create_access_key(
    ep: &Endpoint,
    creds: &Credentials,
    user: Option<&str>,
) -> anyhow::Result<Credentials> {
    const OP: &str = "CreateAccessKey";
    let client = aws::iam_client(ep, creds);
    let mut req = client.create_access_key();
    if let Some(u) = user {
        req = req.user_name(u);
    }
    let out = aws::call_at(OP, ep.url_override(Service::Iam).as_deref(), |url| {
        req.customize().interceptor(url).send()
    })?;
    let key = out
        .access_key()
        .ok_or_else(|| anyhow!("{OP}: the response holds no AccessKey"))?;
    if key.access_key_id().is_empty() || key.secret_access_key().is_empty() {
        bail!("{OP}: the response holds an incomplete AccessKey");
    }
    Ok(Credentials::long_term(
        key.access_key_id().to_string(),
        key.secret_access_key(),
    ))
}

/// IAM DeleteAccessKey (of `user`, else of the caller).
pub fn delete_access_key(
    ep: &Endpoint,
    creds: &Credentials,
    access_key_id: &str,
    user: Option<&str>,
) -> anyhow::Result<()> {
    const OP: &str = "DeleteAccessKey";
    let client = aws::iam_client(ep, creds);
    let mut req = client.delete_access_key().access_key_id(access_key_id);
    if let Some(u) = user {
        req = req.user_name(u);
    }
    aws::call_at(OP, ep.url_override(Service::Iam).as_deref(), |url| {
        req.customize().interceptor(url).send()
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_name_sources() {
        assert_eq!(user_name_from(Some("bob"), Some("arn:x")).unwrap(), "bob");
        assert_eq!(
            user_name_from(Some(""), Some("arn:aws:iam::1:user/bob")).unwrap(),
            "user/bob"
        );
        assert_eq!(
            user_name_from(None, None).unwrap_err().to_string(),
            "Couldn't determine current username"
        );
    }

    #[test]
    fn user_from_arn() {
        assert_eq!(
            user_name_from_arn("arn:aws:iam::123456789012:user/alice").as_deref(),
            Some("alice")
        );
        assert_eq!(
            user_name_from_arn("arn:aws:iam::123456789012:user/dev/team/alice").as_deref(),
            Some("alice")
        );
        assert_eq!(
            user_name_from_arn("arn:aws:sts::123456789012:assumed-role/R/s"),
            None
        );
        assert_eq!(user_name_from_arn("nonsense"), None);
    }
}
