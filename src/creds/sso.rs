//! IAM Identity Center (SSO) role credentials (docs/compatibility.md §3.6.3, with the fixes of §7.8).
//!
//! 1. An access token for the start URL: the keyring's `oidc:<start URL>` item when it is valid
//!    for at least [`TOKEN_WINDOW`]; else a refresh-token grant when the token carries one;
//!    else a valid token from the AWS CLI cache (`~/.aws/sso/cache`); else a login
//!    ([`super::sso_login`]: PKCE by default, the device-code flow with `--use-device-code`,
//!    `--stdout`, or when no browser can be opened). Logins and refreshes hold a cross-process
//!    lock per start URL, so parallel invocations open one browser tab, not twenty.
//! 2. `GetRoleCredentials`. A 401 with a token that did not come from a fresh login drops that
//!    token and logs in again, once.
use std::path::Path;

use anyhow::{anyhow, Context};
use aws_sdk_sso::operation::get_role_credentials::GetRoleCredentialsError;
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};

use super::sso_cache;
use super::sso_login::{self, Flow, NewToken, Portal};
use super::{lock, Credentials};
use crate::keyring::Keyring;
use crate::store::oidc::{self, ClientRegistration, OidcStore, OidcToken};

/// A cached token must stay valid at least this long to be used.
pub const TOKEN_WINDOW: SignedDuration = SignedDuration::from_secs(60);
/// A token with a refresh token is refreshed when it has less than this left.
pub const REFRESH_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// A cached client registration is reused while it has at least this long to live.
const CLIENT_WINDOW: SignedDuration = SignedDuration::from_hours(1);

/// How a login may interact with the user: chosen by the command (`--stdout`,
/// `--use-device-code`) and carried in the credential request down to here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginOptions {
    /// `--stdout`: print the URL, never open a browser (implies the device-code flow).
    pub use_stdout: bool,
    /// `--use-device-code`: the device-code flow instead of PKCE.
    pub use_device_code: bool,
}

/// One SSO role (the fields of `Base::Sso`).
pub struct Role<'a> {
    pub profile: &'a str,
    pub start_url: &'a str,
    pub region: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub role_name: Option<&'a str>,
    pub session: Option<&'a str>,
    pub scopes: Option<&'a str>,
    pub endpoint_url: Option<&'a str>,
}

/// Where an access token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Keyring,
    AwsCliCache,
    Fresh,
}

/// Role credentials for `role` (the provider behind the `sso.GetRoleCredentials` cache).
pub fn role_credentials(
    keyring: &dyn Keyring,
    role: &Role<'_>,
    lock_dir: Option<&Path>,
    login: LoginOptions,
) -> anyhow::Result<Credentials> {
    let missing = |key: &str| {
        anyhow!(
            "profile {}: {key} is not set (needed for IAM Identity Center)",
            role.profile
        )
    };
    let region = role
        .region
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("sso_region"))?;
    let account = role
        .account_id
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("sso_account_id"))?;
    let role_name = role
        .role_name
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("sso_role_name"))?;
    let p = role.profile;
    with_tokens(keyring, role, region, lock_dir, login, |tokens, target| {
        let (token, source) = tokens.get(None)?;
        match get_role_credentials(target, &token, account, role_name) {
            Err(RoleError::Unauthorized(msg)) if source != Source::Fresh => {
                crate::debug!("the cached SSO token was rejected ({msg}); logging in again");
                if source == Source::Keyring {
                    if let Err(e) = OidcStore::new(keyring).remove(role.start_url) {
                        crate::debug!("cannot remove the rejected SSO token: {e}");
                    }
                }
                let (token, _) = tokens.get(Some(&token))?;
                get_role_credentials(target, &token, account, role_name)
                    .map_err(|e| anyhow!("profile {p}: {e}"))
            }
            other => other.map_err(|e| anyhow!("profile {p}: {e}")),
        }
    })
}

/// Run `f` with the token source for `role`'s portal in `region`: the keyring token, a
/// refresh, the AWS CLI cache or a login, in that order (see [`Tokens::get`]).
fn with_tokens<T>(
    keyring: &dyn Keyring,
    role: &Role<'_>,
    region: &str,
    lock_dir: Option<&Path>,
    login: LoginOptions,
    f: impl FnOnce(&Tokens<'_>, &Portal<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let scopes: Vec<String> = role
        .scopes
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let target = Portal {
        start_url: role.start_url,
        region,
        endpoint_url: role.endpoint_url.filter(|u| !u.is_empty()),
        scopes: &scopes,
    };
    let oidc = Oidc {
        keyring,
        role,
        target: &target,
        options: login,
    };
    let tokens = Tokens {
        keyring,
        target: &target,
        lock_dir,
        calls: &oidc,
    };
    f(&tokens, &target)
}

/// One account and role an SSO user may use (`ListAccounts` × `ListAccountRoles`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRole {
    pub account_id: String,
    pub account_name: String,
    pub role_name: String,
}

/// Every account and role the signed-in user can reach, for generating profiles. Signs in
/// the same way as [`role_credentials`] (cached token, refresh, AWS CLI cache, or a login);
/// `role.account_id` and `role.role_name` are not used. Both listings are paginated.
pub fn account_roles(
    keyring: &dyn Keyring,
    role: &Role<'_>,
    lock_dir: Option<&Path>,
    login: LoginOptions,
) -> anyhow::Result<Vec<AccountRole>> {
    let region = role.region.filter(|r| !r.is_empty()).ok_or_else(|| {
        anyhow!(
            "sso-session {}: sso_region is not set",
            role.session.unwrap_or(role.profile)
        )
    })?;
    let (token, endpoint_url) =
        with_tokens(keyring, role, region, lock_dir, login, |tokens, target| {
            Ok((tokens.get(None)?.0, target.endpoint_url.map(str::to_string)))
        })?;
    let client = crate::aws::sso_client(region, endpoint_url.as_deref());
    let where_ = || {
        endpoint_url
            .clone()
            .unwrap_or_else(|| format!("https://portal.sso.{region}.amazonaws.com"))
    };
    let mut accounts = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = crate::aws::block_on(
            client
                .list_accounts()
                .access_token(token.expose_secret())
                .set_next_token(next.take())
                .send(),
        )
        .map_err(|e| {
            anyhow!(crate::aws::describe_error(
                "ListAccounts",
                &e,
                Some(&where_())
            ))
        })?;
        for a in out.account_list.unwrap_or_default() {
            if let Some(id) = a.account_id.filter(|s| !s.is_empty()) {
                accounts.push((id, a.account_name.unwrap_or_default()));
            }
        }
        match out.next_token.filter(|t| !t.is_empty()) {
            Some(t) => next = Some(t),
            None => break,
        }
    }
    let mut roles = Vec::new();
    for (account_id, account_name) in accounts {
        let mut next: Option<String> = None;
        loop {
            let out = crate::aws::block_on(
                client
                    .list_account_roles()
                    .access_token(token.expose_secret())
                    .account_id(&account_id)
                    .set_next_token(next.take())
                    .send(),
            )
            .map_err(|e| {
                anyhow!(crate::aws::describe_error(
                    "ListAccountRoles",
                    &e,
                    Some(&where_())
                ))
            })?;
            for r in out.role_list.unwrap_or_default() {
                if let Some(role_name) = r.role_name.filter(|s| !s.is_empty()) {
                    roles.push(AccountRole {
                        account_id: account_id.clone(),
                        account_name: account_name.clone(),
                        role_name,
                    });
                }
            }
            match out.next_token.filter(|t| !t.is_empty()) {
                Some(t) => next = Some(t),
                None => break,
            }
        }
    }
    Ok(roles)
}

enum RoleError {
    Unauthorized(String),
    Other(String),
}

impl std::fmt::Display for RoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoleError::Unauthorized(m) | RoleError::Other(m) => f.write_str(m),
        }
    }
}

fn get_role_credentials(
    t: &Portal<'_>,
    token: &SecretString,
    account: &str,
    role_name: &str,
) -> Result<Credentials, RoleError> {
    let client = crate::aws::sso_client(t.region, t.endpoint_url);
    let url = crate::aws::CallUrl::default();
    let res = crate::aws::block_on(
        client
            .get_role_credentials()
            .access_token(token.expose_secret())
            .account_id(account)
            .role_name(role_name)
            .customize()
            .interceptor(url.clone())
            .send(),
    );
    let out = match res {
        Ok(out) => out,
        Err(e) => {
            let target = url.get().or_else(|| {
                Some(match t.endpoint_url {
                    Some(u) => u.to_string(),
                    None => format!("https://portal.sso.{}.amazonaws.com", t.region),
                })
            });
            let msg = crate::aws::describe_error("GetRoleCredentials", &e, target.as_deref());
            let unauthorized = matches!(
                e.as_service_error(),
                Some(GetRoleCredentialsError::UnauthorizedException(_))
            ) || e.raw_response().is_some_and(|r| r.status().as_u16() == 401);
            return Err(if unauthorized {
                RoleError::Unauthorized(msg)
            } else {
                RoleError::Other(msg)
            });
        }
    };
    let rc = out.role_credentials.ok_or_else(|| {
        RoleError::Other("GetRoleCredentials: the response has no roleCredentials".into())
    })?;
    let (Some(id), Some(secret)) = (
        rc.access_key_id.filter(|s| !s.is_empty()),
        rc.secret_access_key.filter(|s| !s.is_empty()),
    ) else {
        return Err(RoleError::Other(
            "GetRoleCredentials: the response has no access key".into(),
        ));
    };
    let expires = Timestamp::from_millisecond(rc.expiration)
        .ok()
        .filter(|e| e.as_second() > 0)
        .ok_or_else(|| {
            RoleError::Other("GetRoleCredentials: the response has no valid expiration".into())
        })?;
    Ok(Credentials {
        access_key_id: id,
        secret_access_key: SecretString::from(secret),
        session_token: rc
            .session_token
            .filter(|s| !s.is_empty())
            .map(SecretString::from),
        expires: Some(expires),
    })
}

/// Finding or making an access token for one start URL.
struct Tokens<'a> {
    keyring: &'a dyn Keyring,
    target: &'a Portal<'a>,
    lock_dir: Option<&'a Path>,
    calls: &'a dyn TokenCalls,
}

/// The side effects of getting a token, kept apart from the policy in [`Tokens::get`] (which
/// token to trust, when to refresh, when to log in) so the policy is tested from a table.
trait TokenCalls {
    /// A new token from a refresh token.
    fn refresh(&self, refresh_token: &SecretString) -> anyhow::Result<NewToken>;
    /// A token the AWS CLI cached that is valid until at least `until`.
    fn aws_cli_cache(&self, until: Timestamp) -> Option<OidcToken>;
    /// A new token from an interactive login.
    fn login(&self) -> anyhow::Result<NewToken>;
}

/// The real calls: SSO-OIDC through the AWS SDK, the AWS CLI's cache files.
struct Oidc<'a> {
    keyring: &'a dyn Keyring,
    role: &'a Role<'a>,
    target: &'a Portal<'a>,
    options: LoginOptions,
}

impl Tokens<'_> {
    fn store(&self) -> OidcStore<'_> {
        OidcStore::new(self.keyring)
    }

    /// A token not equal to `rejected` (a token the portal just refused).
    fn get(&self, rejected: Option<&SecretString>) -> anyhow::Result<(SecretString, Source)> {
        let start_url = self.target.start_url;
        let usable = |t: &OidcToken| {
            t.expires > Timestamp::now() + TOKEN_WINDOW
                && rejected.is_none_or(|r| r.expose_secret() != t.access_token.expose_secret())
        };
        // Fast path: a valid token that needs no refresh, without taking the lock.
        if let Some(t) = self.cached() {
            let refresh_due =
                t.refresh_token.is_some() && t.expires < Timestamp::now() + REFRESH_WINDOW;
            if usable(&t) && !refresh_due {
                crate::debug!("using the cached SSO token for {start_url}");
                return Ok((t.access_token, Source::Keyring));
            }
        }
        let _lock = match self.lock_dir {
            Some(dir) => Some(
                lock::acquire(dir, &format!("sso-login,{start_url}"), {
                    let msg = format!(
                        "Waiting for another aws-vault process to log in to {start_url}..."
                    );
                    move || eprintln!("{msg}")
                })
                .context("cannot take the SSO login lock")?,
            ),
            None => None,
        };
        // Another process may have logged in or refreshed while we waited.
        let cached = self.cached();
        if let Some(t) = &cached {
            let refresh_due =
                t.refresh_token.is_some() && t.expires < Timestamp::now() + REFRESH_WINDOW;
            if usable(t) && !refresh_due {
                return Ok((t.access_token.clone(), Source::Keyring));
            }
        }
        if let Some(t) = cached.filter(|_| rejected.is_none()) {
            if let Some(rt) = &t.refresh_token {
                match self.calls.refresh(rt).and_then(|t| self.save(t)) {
                    Ok(fresh) => return Ok((fresh, Source::Keyring)),
                    Err(e) => crate::debug!("refreshing the SSO token failed: {e:#}"),
                }
            }
            if usable(&t) {
                return Ok((t.access_token, Source::Keyring));
            }
            let _ = self.store().remove(start_url);
        }
        if rejected.is_none() {
            if let Some(t) = self.calls.aws_cli_cache(Timestamp::now() + TOKEN_WINDOW) {
                return Ok((t.access_token, Source::AwsCliCache));
            }
        }
        let token = self.save(self.calls.login()?)?;
        Ok((token, Source::Fresh))
    }

    /// The keyring token (expired or not); read errors count as "none".
    fn cached(&self) -> Option<OidcToken> {
        match self.store().get_any(self.target.start_url) {
            Ok(t) => t,
            Err(e) => {
                crate::debug!("reading the cached SSO token failed: {e}");
                None
            }
        }
    }

    fn save(&self, t: NewToken) -> anyhow::Result<SecretString> {
        let token = OidcToken {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: t.token_type,
            expires: t.expires,
        };
        self.store()
            .set(self.target.start_url, &token, Timestamp::now())
            .with_context(|| {
                format!(
                    "cannot store the SSO token for {} in the keyring",
                    self.target.start_url
                )
            })?;
        Ok(token.access_token)
    }
}

impl Oidc<'_> {
    /// A cached registration under `key` that still fits this target.
    fn registration(&self, key: &str) -> Option<ClientRegistration> {
        let reg = match OidcStore::new(self.keyring).get_client(key) {
            Ok(r) => r?,
            Err(e) => {
                crate::debug!("reading the cached SSO-OIDC client failed: {e}");
                return None;
            }
        };
        let fits = reg.expires > Timestamp::now() + CLIENT_WINDOW
            && reg.region == self.target.region
            && reg.scopes == self.target.scopes
            && reg.endpoint == self.target.endpoint_url.unwrap_or_default();
        fits.then_some(reg)
    }
}

impl TokenCalls for Oidc<'_> {
    fn refresh(&self, refresh_token: &SecretString) -> anyhow::Result<NewToken> {
        let client = crate::aws::oidc_client(self.target.region, self.target.endpoint_url);
        let mut last = anyhow!("no client registration to refresh the SSO token with");
        for flow in [Flow::Pkce, Flow::Device] {
            let key = oidc::client_key(flow.name(), self.target.start_url);
            let Some(reg) = self.registration(&key) else {
                continue;
            };
            match crate::aws::block_on(sso_login::refresh(
                &client,
                &reg,
                refresh_token,
                self.target,
            )) {
                Ok(t) => {
                    crate::debug!("refreshed the SSO token for {}", self.target.start_url);
                    return Ok(t);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn aws_cli_cache(&self, until: Timestamp) -> Option<OidcToken> {
        let home = crate::config::home_dir(|v| std::env::var_os(v))?;
        let key = self.role.session.unwrap_or(self.target.start_url);
        sso_cache::read(&home, key, self.target.start_url, until)
    }

    fn login(&self) -> anyhow::Result<NewToken> {
        let opts = self.options;
        let browser = !opts.use_stdout && crate::browser::available(|v| std::env::var(v).ok());
        let flow = if opts.use_device_code || !browser {
            Flow::Device
        } else {
            Flow::Pkce
        };
        crate::debug!(
            "logging in to {} with the {} flow",
            self.target.start_url,
            flow.name()
        );
        let client = crate::aws::oidc_client(self.target.region, self.target.endpoint_url);
        let key = oidc::client_key(flow.name(), self.target.start_url);
        let reg = match self.registration(&key) {
            Some(reg) => reg,
            None => {
                let reg = crate::aws::block_on(sso_login::register(&client, flow, self.target))?;
                if let Err(e) = OidcStore::new(self.keyring).set_client(&key, &reg) {
                    crate::debug!("cannot cache the SSO-OIDC client registration: {e}");
                }
                reg
            }
        };
        let t = crate::aws::block_on(async {
            match flow {
                Flow::Pkce => sso_login::pkce_flow(&client, &reg, self.target).await,
                Flow::Device => sso_login::device_flow(&client, &reg, self.target, browser).await,
            }
        })
        .inspect_err(|e| {
            // A registration the service no longer accepts is dropped for next time.
            let rejected = e.chain().any(|c| {
                c.downcast_ref::<sso_login::OidcError>()
                    .is_some_and(sso_login::OidcError::rejects_client)
            });
            if rejected {
                let _ = OidcStore::new(self.keyring).remove_client(&key);
            }
        })?;
        Ok(t)
    }
}

/// For `exec --profile-env`: copy the keyring token of `profile`'s SSO source (the profile or
/// the first SSO profile down its `source_profile` chain) into the AWS CLI cache, so the SDK
/// in the child finds it. Problems are logged, never fatal (docs/compatibility.md §3.6.4).
pub fn sync_aws_cli_cache(keyring: &dyn Keyring, profile: &crate::config::ProfileConfig) {
    let mut p = Some(profile);
    while let Some(c) = p {
        if let Some(url) = c.sso_start_url.as_deref() {
            let token = match OidcStore::new(keyring).get(url, Timestamp::now()) {
                Ok(Some(t)) => t,
                Ok(None) => {
                    crate::debug!("OIDC token not found in keyring for {url}: not cached");
                    return;
                }
                Err(e) => {
                    crate::debug!("OIDC token not found in keyring for {url}: {e}");
                    return;
                }
            };
            let Some(home) = crate::config::home_dir(|v| std::env::var_os(v)) else {
                crate::debug!("no home directory; not writing the AWS CLI SSO cache");
                return;
            };
            let key = c.sso_session.as_deref().unwrap_or(url);
            match sso_cache::write(&home, key, &token, Timestamp::now()) {
                Ok(path) => crate::debug!("wrote the SSO token to {}", path.display()),
                Err(e) => crate::debug!("cannot write the AWS CLI SSO cache: {e}"),
            }
            return;
        }
        p = c.source.as_deref();
    }
}

#[cfg(test)]
mod tests {
    //! The token policy of [`Tokens::get`], table-driven: what is in the keyring, what the
    //! calls would answer, and which source the token must come from.
    use std::cell::RefCell;

    use super::*;
    use crate::test_keyring::MemoryKeyring;

    const URL: &str = "https://example.awsapps.com/start";

    /// Answers with fixed outcomes and records which calls were made.
    struct Fake {
        refresh_ok: bool,
        cli_cache: bool,
        made: RefCell<Vec<&'static str>>,
    }

    fn new_token(name: &str, minutes: i64, refresh: bool) -> NewToken {
        NewToken {
            access_token: SecretString::from(name.to_string()),
            refresh_token: refresh.then(|| SecretString::from(format!("{name}-refresh"))),
            token_type: "Bearer".into(),
            expires: Timestamp::now() + SignedDuration::from_mins(minutes),
        }
    }

    impl TokenCalls for Fake {
        fn refresh(&self, _rt: &SecretString) -> anyhow::Result<NewToken> {
            self.made.borrow_mut().push("refresh");
            if self.refresh_ok {
                Ok(new_token("refreshed", 480, true))
            } else {
                Err(anyhow!("invalid_grant"))
            }
        }
        fn aws_cli_cache(&self, _until: Timestamp) -> Option<OidcToken> {
            self.made.borrow_mut().push("cli-cache");
            self.cli_cache.then(|| {
                let t = new_token("from-cli", 60, false);
                OidcToken {
                    access_token: t.access_token,
                    refresh_token: None,
                    token_type: t.token_type,
                    expires: t.expires,
                }
            })
        }
        fn login(&self) -> anyhow::Result<NewToken> {
            self.made.borrow_mut().push("login");
            Ok(new_token("logged-in", 480, true))
        }
    }

    #[test]
    fn token_policy_table() {
        // (cached token: minutes left and whether it has a refresh token; refresh works;
        //  AWS CLI cache has a token; the token was just rejected;
        //  => token used, its source, the calls made)
        type Case = (
            Option<(i64, bool)>,
            bool,
            bool,
            bool,
            &'static str,
            Source,
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            // A valid token far from expiry is used as it is, with no call at all.
            (
                Some((120, true)),
                true,
                true,
                false,
                "cached",
                Source::Keyring,
                &[],
            ),
            (
                Some((5, false)),
                true,
                true,
                false,
                "cached",
                Source::Keyring,
                &[],
            ),
            // Inside the refresh window with a refresh token: refreshed.
            (
                Some((10, true)),
                true,
                true,
                false,
                "refreshed",
                Source::Keyring,
                &["refresh"],
            ),
            // The refresh fails but the token still works: used, no login.
            (
                Some((10, true)),
                false,
                true,
                false,
                "cached",
                Source::Keyring,
                &["refresh"],
            ),
            // Expired and the refresh fails: the AWS CLI's token, then a login.
            (
                Some((-5, true)),
                false,
                true,
                false,
                "from-cli",
                Source::AwsCliCache,
                &["refresh", "cli-cache"],
            ),
            (
                Some((-5, true)),
                false,
                false,
                false,
                "logged-in",
                Source::Fresh,
                &["refresh", "cli-cache", "login"],
            ),
            // Nothing cached anywhere: a login.
            (
                None,
                true,
                false,
                false,
                "logged-in",
                Source::Fresh,
                &["cli-cache", "login"],
            ),
            // The portal rejected the cached token: straight to a login, never the same token.
            (
                Some((120, true)),
                true,
                true,
                true,
                "logged-in",
                Source::Fresh,
                &["login"],
            ),
        ];
        for (i, (cached, refresh_ok, cli_cache, rejected, want, source, calls)) in
            cases.iter().enumerate()
        {
            let kr = MemoryKeyring::new();
            if let Some((minutes, refresh)) = cached {
                let t = new_token("cached", *minutes, *refresh);
                let token = OidcToken {
                    access_token: t.access_token,
                    refresh_token: t.refresh_token,
                    token_type: t.token_type,
                    expires: t.expires,
                };
                OidcStore::new(&kr)
                    .set(
                        URL,
                        &token,
                        Timestamp::now() - SignedDuration::from_hours(1),
                    )
                    .unwrap();
            }
            let fake = Fake {
                refresh_ok: *refresh_ok,
                cli_cache: *cli_cache,
                made: RefCell::new(Vec::new()),
            };
            let scopes = Vec::new();
            let target = Portal {
                start_url: URL,
                region: "us-east-1",
                endpoint_url: None,
                scopes: &scopes,
            };
            let tokens = Tokens {
                keyring: &kr,
                target: &target,
                lock_dir: None,
                calls: &fake,
            };
            let rejected_token = SecretString::from("cached".to_string());
            let (token, got) = tokens
                .get(rejected.then_some(&rejected_token))
                .unwrap_or_else(|e| panic!("case {i}: {e:#}"));
            assert_eq!(
                (token.expose_secret(), got, fake.made.borrow().as_slice()),
                (*want, *source, *calls),
                "case {i}"
            );
            // Whatever came from a refresh or a login is what the keyring now holds.
            if matches!(*want, "refreshed" | "logged-in") {
                let stored = OidcStore::new(&kr).get_any(URL).unwrap().unwrap();
                assert_eq!(stored.access_token.expose_secret(), *want, "case {i}");
            }
        }
    }
}
