//! `op-connect`: a 1Password Connect server, over the Connect REST API (`/v1/vaults/...`), with
//! the crate's one HTTP client (`ureq`).
//!
//! Requests, as in 1Password's published Connect API reference:
//! `GET /v1/vaults/{vault}/items?filter=tag eq "<tag>"` (the listing),
//! `GET|PUT|DELETE /v1/vaults/{vault}/items/{id}`, `POST /v1/vaults/{vault}/items`, and, when the
//! vault is given by name rather than by its 26-character id (the Go Connect client accepts
//! both), `GET /v1/vaults?filter=name eq "<name>"` once per process. Every request carries
//! `Authorization: Bearer <token>`; the token never goes into a URL, a message or a log line.
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{
    one_line, prompt_token, Full, OpKeyring, Summary, Transport, CATEGORY, CONCEALED, FIELD_LABEL,
};
use crate::keyring::{Config, Error, Result};

const TOKEN_VARS: &str = "AWS_VAULT_OP_CONNECT_TOKEN or OP_CONNECT_TOKEN";

/// The Connect transport: host, vault and a lazily asked token.
pub struct Connect {
    host: String,
    /// As configured: an id, or a vault name resolved on first use.
    vault: String,
    resolved_vault: Mutex<Option<String>>,
    tag: String,
    timeout_text: String,
    agent: ureq::Agent,
    token: Mutex<Option<Zeroizing<String>>>,
}

/// The `op-connect` keyring.
pub type ConnectKeyring = OpKeyring<Connect>;

/// Check the settings (vault and host, as the Go library does) without any request.
pub fn open(cfg: &Config) -> std::result::Result<ConnectKeyring, String> {
    let op = &cfg.op;
    let vault = op.require_vault();
    let host = match op.connect_host.as_deref().filter(|h| !h.is_empty()) {
        None => Err(
            "no 1Password Connect server: set --op-connect-host, AWS_VAULT_OP_CONNECT_HOST or OP_CONNECT_HOST"
                .to_string(),
        ),
        Some(h) if !(h.starts_with("http://") || h.starts_with("https://")) => Err(format!(
            "the 1Password Connect host '{h}' must be an http:// or https:// URL"
        )),
        Some(h) => Ok(h.trim_end_matches('/').to_string()),
    };
    let (vault, host) = match (vault, host) {
        (Ok(v), Ok(h)) => (v, h),
        (v, h) => {
            let errs: Vec<String> = [v.err(), h.err()].into_iter().flatten().collect();
            return Err(errs.join("; "));
        }
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global((!op.timeout.is_zero()).then_some(op.timeout))
        .build()
        .into();
    let place = format!("vault \"{vault}\" on the 1Password Connect server at {host}");
    let transport = Connect {
        resolved_vault: Mutex::new(is_vault_id(&vault).then(|| vault.clone())),
        vault,
        host,
        tag: op.tag.clone(),
        timeout_text: crate::config::duration::format_go_duration(
            i64::try_from(op.timeout.as_nanos()).unwrap_or(i64::MAX),
        ),
        agent,
        token: Mutex::new(op.connect_token.clone()),
    };
    Ok(OpKeyring::new(transport, op, place))
}

/// A 1Password id: 26 lower-case letters and digits.
fn is_vault_id(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[derive(Clone, Copy, PartialEq)]
enum Method {
    Get,
    Post,
    Put,
    Delete,
}

/// The body of `POST` and `PUT`: the Go tool's item layout.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    vault: VaultRef<'a>,
    title: &'a str,
    category: &'a str,
    tags: [&'a str; 1],
    fields: [BodyField<'a>; 1],
}

#[derive(Serialize)]
struct VaultRef<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct BodyField<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
    label: &'a str,
    value: &'a str,
}

/// `{"status":401,"message":"Invalid token signature"}`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiError {
    message: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Vault {
    id: String,
}

impl Connect {
    fn bearer(&self) -> Result<Zeroizing<String>> {
        let mut token = self.token.lock().unwrap_or_else(|e| e.into_inner());
        if token.is_none() {
            *token = Some(prompt_token("Enter 1Password Connect token", TOKEN_VARS)?);
        }
        let t = token.as_ref().expect("set above");
        Ok(Zeroizing::new(format!("Bearer {}", t.as_str())))
    }

    fn token_text(&self) -> Option<Zeroizing<String>> {
        self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// One request; the status and the body. Transport failures become the message a user
    /// needs (unreachable, timed out).
    fn send(
        &self,
        method: Method,
        path: &str,
        filter: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<(u16, Zeroizing<String>)> {
        let url = format!("{}{path}", self.host);
        let auth = self.bearer()?;
        let auth = auth.as_str();
        let result = match method {
            Method::Get => {
                let mut r = self.agent.get(&url).header("Authorization", auth);
                if let Some(f) = filter {
                    r = r.query("filter", f);
                }
                r.call()
            }
            Method::Delete => self.agent.delete(&url).header("Authorization", auth).call(),
            Method::Post => self
                .agent
                .post(&url)
                .header("Authorization", auth)
                .content_type("application/json")
                .send(body.unwrap_or_default()),
            Method::Put => self
                .agent
                .put(&url)
                .header("Authorization", auth)
                .content_type("application/json")
                .send(body.unwrap_or_default()),
        };
        let mut resp = result.map_err(|e| self.transport_error(&e))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| self.transport_error(&e))?;
        Ok((status, Zeroizing::new(text)))
    }

    fn transport_error(&self, e: &ureq::Error) -> Error {
        let host = &self.host;
        Error::Backend(match e {
            ureq::Error::Timeout(_) => format!(
                "the 1Password Connect server at {host} did not answer within {} (--op-timeout)",
                self.timeout_text
            ),
            ureq::Error::HostNotFound => {
                format!("cannot reach the 1Password Connect server at {host}: host not found")
            }
            ureq::Error::ConnectionFailed => {
                format!("cannot reach the 1Password Connect server at {host}: connection failed")
            }
            ureq::Error::Io(io) => {
                format!("cannot reach the 1Password Connect server at {host}: {io}")
            }
            other => format!("1Password Connect server at {host}: {other}"),
        })
    }

    /// The error for an unexpected status: 401 and 403 name the token, 404 on a vault path names
    /// the vault setting.
    fn status_error(&self, what: &str, status: u16, body: &str, vault_level: bool) -> Error {
        let token = self.token_text();
        let message = serde_json::from_str::<ApiError>(body)
            .ok()
            .map(|e| e.message)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| {
                ureq::http::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("")
                    .to_string()
            });
        let message = one_line(&message, token.as_deref().map(|t| t.as_str()));
        let host = &self.host;
        Error::Backend(match status {
            401 => format!(
                "the 1Password Connect server at {host} refused the token ({status} {message}): check {TOKEN_VARS}"
            ),
            403 => format!(
                "the 1Password Connect token may not use vault \"{}\" on {host} ({status} {message})",
                self.vault
            ),
            404 if vault_level => format!(
                "vault \"{}\" not found on the 1Password Connect server at {host}: check --op-vault-id, AWS_VAULT_OP_VAULT_ID or OP_VAULT_ID",
                self.vault
            ),
            _ => format!(
                "1Password Connect server at {host}: {what} failed ({status} {message})"
            ),
        })
    }

    /// The vault's id, looking a vault name up once.
    fn vault_id(&self) -> Result<String> {
        if let Some(id) = self
            .resolved_vault
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(id);
        }
        let filter = format!("name eq {}", scim_string(&self.vault));
        let (status, body) = self.send(Method::Get, "/v1/vaults", Some(&filter), None)?;
        if status != 200 {
            return Err(self.status_error("listing vaults", status, &body, false));
        }
        let vaults: Vec<Vault> = serde_json::from_str(&body).map_err(|_| {
            Error::Backend(format!(
                "1Password Connect server at {}: unexpected answer to a vault listing",
                self.host
            ))
        })?;
        match vaults.as_slice() {
            [v] => {
                *self.resolved_vault.lock().unwrap_or_else(|e| e.into_inner()) = Some(v.id.clone());
                Ok(v.id.clone())
            }
            [] => Err(Error::Backend(format!(
                "vault \"{}\" not found on the 1Password Connect server at {}: check --op-vault-id, AWS_VAULT_OP_VAULT_ID or OP_VAULT_ID",
                self.vault, self.host
            ))),
            _ => Err(Error::Backend(format!(
                "more than one vault is named \"{}\" on the 1Password Connect server at {}: give its id with --op-vault-id",
                self.vault, self.host
            ))),
        }
    }

    fn parse<T: for<'de> Deserialize<'de>>(&self, what: &str, body: &str) -> Result<T> {
        serde_json::from_str(body).map_err(|e| {
            Error::Backend(format!(
                "1Password Connect server at {}: unexpected answer to {what} (line {} column {})",
                self.host,
                e.line(),
                e.column()
            ))
        })
    }

    fn body(
        &self,
        id: Option<&str>,
        field_id: Option<&str>,
        vault: &str,
        title: &str,
        value: &str,
    ) -> Zeroizing<Vec<u8>> {
        let body = Body {
            id,
            vault: VaultRef { id: vault },
            title,
            category: CATEGORY,
            tags: [&self.tag],
            fields: [BodyField {
                id: field_id.filter(|f| !f.is_empty()),
                kind: CONCEALED,
                label: FIELD_LABEL,
                value,
            }],
        };
        // Serialising borrowed strings into a Vec cannot fail.
        Zeroizing::new(serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// A SCIM filter string: quoted, with `"` and `\` escaped.
fn scim_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Transport for Connect {
    fn list(&self) -> Result<Vec<Summary>> {
        let vault = self.vault_id()?;
        let filter = format!("tag eq {}", scim_string(&self.tag));
        let path = format!("/v1/vaults/{vault}/items");
        let (mut status, mut body) = self.send(Method::Get, &path, Some(&filter), None)?;
        if status == 400 {
            // A server that cannot filter by tag: list everything, the tag is checked here.
            (status, body) = self.send(Method::Get, &path, None, None)?;
        }
        if status != 200 {
            return Err(self.status_error("listing items", status, &body, true));
        }
        self.parse("an item listing", &body)
    }

    fn get(&self, id: &str) -> Result<Option<Full>> {
        let vault = self.vault_id()?;
        let path = format!("/v1/vaults/{vault}/items/{id}");
        let (status, body) = self.send(Method::Get, &path, None, None)?;
        match status {
            200 => self.parse("an item request", &body).map(Some),
            404 => Ok(None),
            _ => Err(self.status_error("reading an item", status, &body, false)),
        }
    }

    fn create(&self, title: &str, value: &str) -> Result<String> {
        let vault = self.vault_id()?;
        let path = format!("/v1/vaults/{vault}/items");
        let body = self.body(None, None, &vault, title, value);
        let (status, resp) = self.send(Method::Post, &path, None, Some(&body))?;
        if !(status == 200 || status == 201) {
            return Err(self.status_error(
                &format!("creating item \"{title}\""),
                status,
                &resp,
                true,
            ));
        }
        let created: Summary = self.parse("an item creation", &resp)?;
        Ok(created.id)
    }

    fn update(&self, id: &str, field_id: &str, title: &str, value: &str) -> Result<()> {
        let vault = self.vault_id()?;
        let path = format!("/v1/vaults/{vault}/items/{id}");
        let body = self.body(Some(id), Some(field_id), &vault, title, value);
        let (status, resp) = self.send(Method::Put, &path, None, Some(&body))?;
        if status != 200 {
            return Err(self.status_error(
                &format!("replacing item \"{title}\""),
                status,
                &resp,
                false,
            ));
        }
        Ok(())
    }

    fn delete(&self, id: &str) -> Result<bool> {
        let vault = self.vault_id()?;
        let path = format!("/v1/vaults/{vault}/items/{id}");
        let (status, resp) = self.send(Method::Delete, &path, None, None)?;
        match status {
            200 | 204 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error("deleting an item", status, &resp, false)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_quote_like_scim() {
        assert_eq!(scim_string("aws-vault"), "\"aws-vault\"");
        assert_eq!(scim_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn open_names_every_missing_setting() {
        let cfg = Config::default();
        let err = open(&cfg).err().unwrap();
        assert!(err.contains("--op-vault-id"), "{err}");
        assert!(err.contains("--op-connect-host"), "{err}");
        let mut cfg = Config::default();
        cfg.op.vault_id = Some("v".into());
        cfg.op.connect_host = Some("connect.example:8080".into());
        assert!(open(&cfg).err().unwrap().contains("http://"));
    }

    #[test]
    fn vault_ids_are_told_from_names() {
        assert!(is_vault_id("abcdefghijklmnopqrstuvwxyz"));
        assert!(!is_vault_id("Private"));
    }
}
