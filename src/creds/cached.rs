//! Executing a [`Plan`]: each link is served from the session cache when it still has
//! `AWS_MIN_TTL` to live, otherwise computed from the link below it and cached (compat §3.4).
//!
//! A refresh holds the link's cross-process lock ([`super::lock`]) and re-reads the cache once
//! the lock is held, so N parallel invocations make one STS call and show one MFA prompt.
//! Locks are always taken from the top link down, in the same order by every process, so two
//! processes can never wait on each other.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context};
use jiff::Timestamp;

use super::chain::{Base, CacheKey, Hop, Plan, Step, Target};
use super::{credential_process, lock, sts, web_identity, Credentials};
use crate::aws::Endpoint;
use crate::keyring::Keyring;
use crate::mfa::MfaSource;
use crate::store::{CredentialStore, SessionStore};

/// Runs plans against one keyring.
pub struct Executor<'a> {
    pub keyring: &'a dyn Keyring,
    pub mfa: &'a MfaSource,
    /// A cached credential must live at least this long to be used.
    pub min_ttl: Duration,
    /// Where lock files go; `None` disables cross-process locking.
    pub lock_dir: Option<PathBuf>,
}

impl Executor<'_> {
    /// The credentials at the end of `plan`.
    pub fn retrieve(&self, plan: &Plan) -> anyhow::Result<Credentials> {
        crate::debug!("credential plan: {plan}");
        self.level(plan, plan.hops.len())
    }

    /// Credentials of link `level` (0 = base, i = `hops[i - 1]`).
    fn level(&self, plan: &Plan, level: usize) -> anyhow::Result<Credentials> {
        let cache = if level == 0 {
            plan.base.cache.as_ref()
        } else {
            plan.hops[level - 1].cache.as_ref()
        };
        let Some(key) = cache else {
            return self.compute(plan, level);
        };
        if let Some(creds) = self.cached(key)? {
            return Ok(creds);
        }
        let _lock = match &self.lock_dir {
            Some(dir) => {
                let lock_name =
                    crate::store::SessionKey::prefix(key.kind, &key.profile, &key.serial);
                Some(
                    lock::acquire(dir, &lock_name, {
                        let msg = format!(
                            "Waiting for another aws-vault process to refresh {} credentials for profile {}...",
                            key.kind, key.profile
                        );
                        move || eprintln!("{msg}")
                    })
                    .context("cannot take the refresh lock")?,
                )
            }
            None => None,
        };
        // Someone else may have refreshed it while we waited.
        if let Some(creds) = self.cached(key)? {
            return Ok(creds);
        }
        let creds = self.compute(plan, level)?;
        if creds.expires.is_some() {
            let store = SessionStore::new(self.keyring);
            store
                .set_with_fingerprint(
                    key.kind,
                    &key.profile,
                    &key.serial,
                    &creds,
                    Some(&key.fingerprint),
                )
                .with_context(|| {
                    format!(
                        "cannot cache the {} session for profile {}",
                        key.kind, key.profile
                    )
                })?;
            if let Err(e) = store.remove_old(Timestamp::now()) {
                crate::debug!("removing expired sessions failed: {e}");
            }
        }
        Ok(creds)
    }

    /// A cached credential that is still good for `min_ttl`, if any.
    fn cached(&self, key: &CacheKey) -> anyhow::Result<Option<Credentials>> {
        let found = match SessionStore::new(self.keyring).get(
            key.kind,
            &key.profile,
            &key.serial,
            Some(&key.fingerprint),
        ) {
            Ok(found) => found,
            Err(e) => {
                crate::debug!("reading the session cache failed: {e}");
                None
            }
        };
        let fresh = found.filter(|c| {
            c.expires.is_some_and(|exp| {
                let left = exp.as_second() - Timestamp::now().as_second();
                left >= self.min_ttl.as_secs() as i64
            })
        });
        if fresh.is_some() {
            crate::debug!(
                "re-using cached {} credentials for profile {}",
                key.kind,
                key.profile
            );
        }
        Ok(fresh)
    }

    fn compute(&self, plan: &Plan, level: usize) -> anyhow::Result<Credentials> {
        if level == 0 {
            return self.base(&plan.base);
        }
        let source = self.level(plan, level - 1)?;
        let hop = &plan.hops[level - 1].what;
        match hop {
            Hop::GetSessionToken {
                profile,
                mfa_serial,
                mfa_process,
                duration,
                target,
            } => {
                let mfa = self.mfa_for(mfa_serial.as_deref(), mfa_process.as_deref())?;
                crate::debug!("calling GetSessionToken for profile {profile}");
                sts::get_session_token(&endpoint(target), &source, *duration, mfa)
                    .map_err(|e| anyhow!("profile {profile}: {e:#}"))
            }
            Hop::AssumeRole {
                profile,
                role_arn,
                session_name,
                external_id,
                mfa_serial,
                mfa_process,
                duration,
                tags,
                transitive_tag_keys,
                source_identity,
                target,
            } => {
                let mfa = self.mfa_for(mfa_serial.as_deref(), mfa_process.as_deref())?;
                let params = sts::AssumeRoleParams {
                    role_arn: role_arn.clone(),
                    session_name: session_name.clone(),
                    duration: *duration,
                    external_id: external_id.clone(),
                    tags: tags.clone(),
                    transitive_tag_keys: transitive_tag_keys.clone(),
                    source_identity: source_identity.clone(),
                };
                crate::debug!("calling AssumeRole {role_arn} for profile {profile}");
                sts::assume_role(&endpoint(target), &source, &params, mfa)
                    .map_err(|e| anyhow!("profile {profile}: {e:#}"))
            }
        }
    }

    fn base(&self, step: &Step<Base>) -> anyhow::Result<Credentials> {
        match &step.what {
            Base::Stored { name } => CredentialStore::new(self.keyring).get(name),
            Base::Process { profile, command } => {
                credential_process::run(command).map_err(|e| anyhow!("profile {profile}: {e:#}"))
            }
            Base::WebIdentity {
                profile,
                role_arn,
                session_name,
                duration,
                token_file,
                token_process,
                target,
            } => {
                let token = web_identity::token(token_file.as_deref(), token_process.as_deref())
                    .map_err(|e| anyhow!("profile {profile}: {e:#}"))?;
                sts::assume_role_with_web_identity(
                    &endpoint(target),
                    role_arn,
                    session_name.as_deref(),
                    *duration,
                    &token,
                )
                .map_err(|e| anyhow!("profile {profile}: {e:#}"))
            }
            Base::Sso {
                profile,
                start_url,
                region,
                account_id,
                role_name,
                session,
                scopes,
                endpoint_url,
            } => super::sso::role_credentials(
                self.keyring,
                &super::sso::Role {
                    profile,
                    start_url,
                    region: region.as_deref(),
                    account_id: account_id.as_deref(),
                    role_name: role_name.as_deref(),
                    session: session.as_deref(),
                    scopes: scopes.as_deref(),
                    endpoint_url: endpoint_url.as_deref(),
                },
                self.lock_dir.as_deref(),
            ),
        }
    }

    fn mfa_for(
        &self,
        serial: Option<&str>,
        process: Option<&str>,
    ) -> anyhow::Result<Option<sts::Mfa>> {
        let Some(serial) = serial else {
            return Ok(None);
        };
        let code = self.mfa.code(serial, process)?;
        Ok(Some(sts::Mfa {
            serial: serial.to_string(),
            code,
        }))
    }
}

fn endpoint(t: &Target) -> Endpoint {
    Endpoint {
        region: t.region.clone(),
        endpoint_url: t.endpoint_url.clone(),
        sts_regional_endpoints: t.sts_regional_endpoints.clone(),
    }
}
