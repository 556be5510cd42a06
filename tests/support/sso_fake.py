#!/usr/bin/env python3
"""Fake IAM Identity Center (SSO portal + SSO-OIDC) for the aws-vault tests.

Usage: sso_fake.py LOG_FILE [CONFIG_JSON]

Prints the port on stdout (one line) once it listens on 127.0.0.1. Every request is appended to
LOG_FILE as one JSON line {"method","path","query","headers","body"} before it is answered.

Follows the public wire format of the AWS APIs (REST-JSON, unsigned):
  POST /client/register                 RegisterClient
  POST /device_authorization            StartDeviceAuthorization
  POST /token                           CreateToken (device_code, authorization_code, refresh_token)
  GET  /authorize?...                   PKCE authorization page: 302 to redirect_uri?code&state
                                        (or ?error=access_denied when config "deny" is true)
  GET  /device?user_code=...            device verification page: approves the device code
                                        (or denies it when "deny" is true)
  GET  /federation/credentials          GetRoleCredentials (x-amz-sso_bearer_token)
  GET  /assignment/accounts             ListAccounts (max_result, next_token; paginated)
  GET  /assignment/roles                ListAccountRoles (account_id, max_result, next_token)
Test-only control endpoints:
  POST /_control/revoke                 revoke every access token issued so far (401 afterwards)
  POST /_control/config                 merge a JSON object into the config
  POST /_control/mint                   issue an access token out of band (as `aws sso login` would)

Config keys (all optional):
  token_ttl        seconds an access token lives (expiresIn), default 28800
  refresh          issue refresh tokens (only when the client registered scopes), default true
  auto_approve     approve device codes after this many polls without a browser, default null
  slow_down        number of slow_down answers before pending/approval, default 0
  expire_device    answer expired_token to device polls, default false
  deny             the user denies the authorization, default false
  allowed          list of "account/role" the user may use, default ["111111111111/Admin"]
  fail_register    answer RegisterClient with a 500, default false
  account_names    {"account id": "account name"} for ListAccounts, default "Account <id>"
  page_size        most items per page of the two list APIs, default 2
"""
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]
CONFIG = {
    "token_ttl": 28800,
    "refresh": True,
    "auto_approve": None,
    "slow_down": 0,
    "expire_device": False,
    "deny": False,
    "allowed": ["111111111111/Admin"],
    "fail_register": False,
    "account_names": {},
    "page_size": 2,
}
if len(sys.argv) > 2:
    CONFIG.update(json.loads(sys.argv[2]))

lock = threading.Lock()
clients = {}  # client_id -> {"secret", "scopes", "grant_types", "redirect_uris"}
devices = {}  # device_code -> {"client_id", "user_code", "state": pending|approved|denied, "polls"}
codes = {}  # auth code -> {"client_id", "challenge", "redirect_uri"}
access_tokens = {}  # token -> expiry epoch
refresh_tokens = {}  # token -> client_id
revoked = set()
slow_downs = {"n": 0}


def log(entry):
    with lock:
        with open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")


def issue(client_id):
    tok = "at-" + secrets.token_hex(8)
    out = {"accessToken": tok, "tokenType": "Bearer", "expiresIn": int(CONFIG["token_ttl"])}
    access_tokens[tok] = time.time() + int(CONFIG["token_ttl"])
    c = clients.get(client_id, {})
    if CONFIG["refresh"] and c.get("scopes"):
        rt = "rt-" + secrets.token_hex(8)
        refresh_tokens[rt] = client_id
        out["refreshToken"] = rt
    return out


def b64url_sha256(s):
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest()).decode().rstrip("=")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, code, obj=None, etype=None, headers=None, raw=None):
        b = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(code)
        if etype:
            self.send_header("x-amzn-errortype", etype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json" if raw is None else "text/plain")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def _oidc_error(self, status, etype, error, desc):
        return self._send(status, {"error": error, "error_description": desc}, etype)

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        log({"method": self.command, "path": u.path, "query": q, "headers": dict(self.headers), "body": body})
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return self._oidc_error(400, "InvalidRequestException", "invalid_request", "bad json")
        with lock:
            return self._route(u.path, q, data)

    def _client(self, data):
        c = clients.get(data.get("clientId"))
        if c is None or c["secret"] != data.get("clientSecret"):
            return None
        return c

    def _bearer_ok(self):
        tok = self.headers.get("x-amz-sso_bearer_token")
        exp = access_tokens.get(tok)
        return not (tok is None or exp is None or tok in revoked or exp < time.time())

    def _page(self, q, items, key):
        """One page of `items` as the portal APIs return it: a list and nextToken if more."""
        size = min(int(q.get("max_result") or CONFIG["page_size"]), int(CONFIG["page_size"]))
        try:
            start = int(q.get("next_token") or 0)
        except ValueError:
            return self._send(400, {"message": "bad next_token"}, "InvalidRequestException")
        out = {key: items[start:start + size]}
        if start + size < len(items):
            out["nextToken"] = str(start + size)
        return self._send(200, out)

    def _route(self, path, q, data):
        if path == "/_control/revoke":
            revoked.update(access_tokens.keys())
            refresh_tokens.clear()
            return self._send(200, {"ok": True})
        if path == "/_control/mint":
            tok = "at-minted-" + secrets.token_hex(8)
            access_tokens[tok] = time.time() + 3600
            return self._send(200, {"accessToken": tok})
        if path == "/_control/config":
            CONFIG.update(data)
            return self._send(200, {"ok": True})

        if path == "/client/register" and self.command == "POST":
            if CONFIG["fail_register"]:
                return self._send(500, {"message": "internal"}, "InternalServerException")
            if data.get("clientType") != "public" or not data.get("clientName"):
                return self._oidc_error(400, "InvalidRequestException", "invalid_request", "clientName/clientType")
            cid = "cid-" + secrets.token_hex(4)
            now = int(time.time())
            clients[cid] = {
                "secret": "cs-" + secrets.token_hex(8),
                "scopes": data.get("scopes") or [],
                "grant_types": data.get("grantTypes") or [],
                "redirect_uris": data.get("redirectUris") or [],
            }
            return self._send(200, {
                "clientId": cid,
                "clientSecret": clients[cid]["secret"],
                "clientIdIssuedAt": now,
                "clientSecretExpiresAt": now + 7776000,
            })

        if path == "/device_authorization" and self.command == "POST":
            if self._client(data) is None:
                return self._oidc_error(400, "InvalidClientException", "invalid_client", "unknown client")
            if not data.get("startUrl"):
                return self._oidc_error(400, "InvalidRequestException", "invalid_request", "startUrl")
            dc = "dc-" + secrets.token_hex(8)
            uc = "%04d-%04d" % (secrets.randbelow(10000), secrets.randbelow(10000))
            devices[dc] = {"client_id": data["clientId"], "user_code": uc, "state": "pending", "polls": 0}
            port = self.server.server_address[1]
            return self._send(200, {
                "deviceCode": dc,
                "userCode": uc,
                "verificationUri": "http://127.0.0.1:%d/device" % port,
                "verificationUriComplete": "http://127.0.0.1:%d/device?user_code=%s" % (port, uc),
                "expiresIn": 600,
                "interval": 1,
            })

        if path == "/device" and self.command == "GET":
            for d in devices.values():
                if d["user_code"] == q.get("user_code"):
                    d["state"] = "denied" if CONFIG["deny"] else "approved"
                    return self._send(200, raw=("device %s\n" % d["state"]).encode())
            return self._send(404, raw=b"unknown user code\n")

        if path == "/authorize" and self.command == "GET":
            c = clients.get(q.get("client_id"))
            redirect = q.get("redirect_uri", "")
            ok_redirect = redirect.startswith("http://127.0.0.1:") and redirect.endswith("/oauth/callback")
            if c is None or not ok_redirect or q.get("response_type") != "code" \
                    or q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return self._send(400, raw=b"bad authorization request\n")
            if "authorization_code" not in c["grant_types"]:
                return self._send(400, raw=b"client not registered for authorization_code\n")
            state = q.get("state", "")
            if CONFIG["deny"]:
                target = redirect + "?" + urllib.parse.urlencode(
                    {"error": "access_denied", "error_description": "The user denied access", "state": state})
            else:
                code = "code-" + secrets.token_hex(8)
                codes[code] = {"client_id": q["client_id"], "challenge": q["code_challenge"], "redirect_uri": redirect}
                target = redirect + "?" + urllib.parse.urlencode({"code": code, "state": state})
            return self._send(302, raw=b"", headers={"Location": target})

        if path == "/token" and self.command == "POST":
            c = self._client(data)
            if c is None:
                return self._oidc_error(400, "InvalidClientException", "invalid_client", "unknown client")
            grant = data.get("grantType")
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                d = devices.get(data.get("deviceCode"))
                if d is None or d["client_id"] != data["clientId"]:
                    return self._oidc_error(400, "InvalidGrantException", "invalid_grant", "unknown device code")
                d["polls"] += 1
                if CONFIG["expire_device"]:
                    return self._oidc_error(400, "ExpiredTokenException", "expired_token", "device code expired")
                if slow_downs["n"] < int(CONFIG["slow_down"]):
                    slow_downs["n"] += 1
                    return self._oidc_error(400, "SlowDownException", "slow_down", "slow down")
                aa = CONFIG["auto_approve"]
                if d["state"] == "pending" and aa is not None and d["polls"] > int(aa):
                    d["state"] = "denied" if CONFIG["deny"] else "approved"
                if d["state"] == "pending":
                    return self._oidc_error(400, "AuthorizationPendingException", "authorization_pending", "pending")
                if d["state"] == "denied":
                    return self._oidc_error(400, "AccessDeniedException", "access_denied", "denied")
                del devices[data["deviceCode"]]
                return self._send(200, issue(data["clientId"]))
            if grant == "authorization_code":
                code = codes.pop(data.get("code", ""), None)
                if code is None or code["client_id"] != data["clientId"]:
                    return self._oidc_error(400, "InvalidGrantException", "invalid_grant", "unknown code")
                if code["redirect_uri"] != data.get("redirectUri"):
                    return self._oidc_error(400, "InvalidGrantException", "invalid_grant", "redirect_uri mismatch")
                if b64url_sha256(data.get("codeVerifier", "")) != code["challenge"]:
                    return self._oidc_error(400, "InvalidGrantException", "invalid_grant", "code_verifier mismatch")
                return self._send(200, issue(data["clientId"]))
            if grant == "refresh_token":
                owner = refresh_tokens.pop(data.get("refreshToken", ""), None)
                if owner is None or owner != data["clientId"]:
                    return self._oidc_error(400, "InvalidGrantException", "invalid_grant", "bad refresh token")
                return self._send(200, issue(data["clientId"]))
            return self._oidc_error(400, "UnsupportedGrantTypeException", "unsupported_grant_type", str(grant))

        if path in ("/assignment/accounts", "/assignment/roles") and self.command == "GET":
            if not self._bearer_ok():
                return self._send(401, {"message": "Session token not found or invalid"}, "UnauthorizedException")
            pairs = [a.split("/", 1) for a in CONFIG["allowed"]]
            if path == "/assignment/accounts":
                ids = sorted({acct for acct, _ in pairs})
                accounts = [{
                    "accountId": i,
                    "accountName": CONFIG["account_names"].get(i, "Account " + i),
                    "emailAddress": "aws+%s@example.com" % i,
                } for i in ids]
                return self._page(q, accounts, "accountList")
            acct = q.get("account_id")
            if not acct:
                return self._send(400, {"message": "account_id is required"}, "InvalidRequestException")
            roles = [{"accountId": a, "roleName": r} for a, r in pairs if a == acct]
            return self._page(q, roles, "roleList")

        if path == "/federation/credentials" and self.command == "GET":
            tok = self.headers.get("x-amz-sso_bearer_token")
            exp = access_tokens.get(tok)
            if tok is None or exp is None or tok in revoked or exp < time.time():
                return self._send(401, {"message": "Session token not found or invalid"}, "UnauthorizedException")
            if "%s/%s" % (q.get("account_id"), q.get("role_name")) not in CONFIG["allowed"]:
                return self._send(403, {"message": "No access"}, "ForbiddenException")
            now = int(time.time())
            return self._send(200, {"roleCredentials": {
                "accessKeyId": "ASIASSO" + secrets.token_hex(6).upper(),
                "secretAccessKey": "ssosecret-" + secrets.token_hex(8),
                "sessionToken": "ssotoken-" + secrets.token_hex(8),
                "expiration": (now + 3600) * 1000,
            }})

        return self._send(404, {"message": "not found"})

    do_GET = do_POST = _handle

    def log_message(self, *a):
        pass


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(srv.server_address[1], flush=True)
srv.serve_forever()
