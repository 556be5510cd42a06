#!/usr/bin/env python3
"""Fake 1Password Connect server for the aws-vault tests (loopback only).

Usage: connect_fake.py LOG_FILE [CONFIG_JSON]

Prints the port on stdout (one line) once it listens on 127.0.0.1. Every request is appended to
LOG_FILE as one JSON line {"method","path","query","headers","body"} before it is answered.

Follows 1Password's published Connect Server API reference (developer.1password.com/docs/connect/
api-reference, API specification 1.8.x): paths, JSON field names (camelCase: createdAt,
updatedAt, lastEditedBy; fields[].{id,type,purpose,label,value,section}), SCIM-style `filter`
query (`title eq "..."`, `tag eq "..."` for items, `name eq "..."` for vaults), bearer
authentication and the error body {"status": <code>, "message": "..."}:
  GET    /v1/vaults[?filter=name eq "x"]   200 [Vault]              401
  GET    /v1/vaults/{vault}                200 Vault                401, 404
  GET    /v1/vaults/{vault}/items[?filter] 200 [Item] (no fields)   401, 404 (vault)
  POST   /v1/vaults/{vault}/items          200 FullItem             400, 401, 404
  GET    /v1/vaults/{vault}/items/{item}   200 FullItem             401, 404
  PUT    /v1/vaults/{vault}/items/{item}   200 FullItem             400, 401, 404
  DELETE /v1/vaults/{vault}/items/{item}   204                      401, 404
Connect never returns trashed items; ids are 26 lower-case letters and digits.

Test-only control endpoints (no authentication):
  POST /_control/seed     insert a FullItem as given (its id kept when present); answers it
  GET  /_control/items    every item, with values
  POST /_control/config   merge a JSON object into the config

Config keys (all optional):
  token    the accepted access token, default "connect-test-token"
  vaults   [{"id","name"}], default one vault "aaaaaaaaaaaaaaaaaaaaaaaaaa" named "Automation"
  delay    seconds to wait before answering each API request, default 0
"""
import json
import re
import secrets
import string
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]
CONFIG = {
    "token": "connect-test-token",
    "vaults": [{"id": "aaaaaaaaaaaaaaaaaaaaaaaaaa", "name": "Automation"}],
    "delay": 0,
}
if len(sys.argv) > 2:
    CONFIG.update(json.loads(sys.argv[2]))

lock = threading.Lock()
items = {}  # id -> FullItem (dict)
CATEGORIES = {
    "LOGIN", "PASSWORD", "API_CREDENTIAL", "SERVER", "DATABASE", "CREDIT_CARD", "MEMBERSHIP",
    "PASSPORT", "SOFTWARE_LICENSE", "OUTDOOR_LICENSE", "SECURE_NOTE", "WIRELESS_ROUTER",
    "BANK_ACCOUNT", "DRIVER_LICENSE", "IDENTITY", "REWARD_PROGRAM", "DOCUMENT", "EMAIL_ACCOUNT",
    "SOCIAL_SECURITY_NUMBER", "MEDICAL_RECORD", "SSH_KEY", "CUSTOM",
}
SUMMARY_KEYS = ("id", "title", "vault", "category", "urls", "favorite", "tags", "version",
                "state", "createdAt", "updatedAt", "lastEditedBy")


def new_id():
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def vault(vid):
    return next((v for v in CONFIG["vaults"] if v["id"] == vid), None)


def vault_json(v):
    return {"id": v["id"], "name": v["name"], "attributeVersion": 1, "contentVersion": len(items),
            "items": sum(1 for i in items.values() if i["vault"]["id"] == v["id"]),
            "type": "USER_CREATED", "createdAt": "2024-01-01T00:00:00Z", "updatedAt": now()}


FILTER = re.compile(r'^\s*(\w+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$')


def parse_filter(text, allowed):
    """A SCIM `attr eq "value"` filter; None when malformed or on another attribute."""
    m = FILTER.match(text)
    if not m or m.group(1) not in allowed:
        return None
    return m.group(1), re.sub(r'\\(.)', r'\1', m.group(2))


def normalise(body, vid, item_id, old=None):
    """Validate and complete a FullItem as Connect does on create/replace."""
    if not isinstance(body, dict) or not isinstance(body.get("title", ""), str):
        return None, "Invalid item"
    cat = body.get("category")
    if cat not in CATEGORIES:
        return None, "Invalid item category"
    if body.get("vault", {}).get("id", vid) != vid:
        return None, "vault id in body does not match the path"
    fields = []
    for f in body.get("fields") or []:
        f = dict(f)
        if not f.get("id"):
            f["id"] = new_id()
        f.setdefault("type", "STRING")
        fields.append(f)
    item = {
        "id": item_id,
        "title": body.get("title", ""),
        "vault": {"id": vid},
        "category": cat,
        "tags": body.get("tags") or [],
        "favorite": bool(body.get("favorite", False)),
        "version": (old["version"] + 1) if old else 1,
        "createdAt": old["createdAt"] if old else now(),
        "updatedAt": now(),
        "lastEditedBy": "connect-fake",
        "fields": fields,
    }
    if body.get("sections"):
        item["sections"] = body["sections"]
    return item, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj=None):
        if status == 204:
            self.send_response(204)
            self.end_headers()
            return
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, message):
        self.reply(status, {"status": status, "message": message})

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with open(LOG, "a") as log:
            log.write(json.dumps({"method": method, "path": url.path, "query": query,
                                  "headers": dict(self.headers), "body": raw.decode("utf-8", "replace")}) + "\n")
        parts = [p for p in url.path.split("/") if p]
        if parts[:1] == ["_control"]:
            return self.control(method, parts[1:], raw)
        if CONFIG.get("delay"):
            time.sleep(CONFIG["delay"])
        if self.headers.get("Authorization") != "Bearer " + CONFIG["token"]:
            return self.error(401, "Invalid token signature")
        if parts[:2] != ["v1", "vaults"]:
            return self.error(404, "Not found")
        with lock:
            return self.api(method, parts[2:], query, raw)

    def api(self, method, rest, query, raw):
        if not rest:
            if method != "GET":
                return self.error(405, "Method not allowed")
            vaults = CONFIG["vaults"]
            if "filter" in query:
                f = parse_filter(query["filter"], ("name",))
                if f is None:
                    return self.error(400, "Invalid filter")
                vaults = [v for v in vaults if v["name"] == f[1]]
            return self.reply(200, [vault_json(v) for v in vaults])
        vid = rest[0]
        v = vault(vid)
        if v is None:
            return self.error(404, "Invalid Vault UUID")
        if len(rest) == 1:
            return self.reply(200, vault_json(v)) if method == "GET" else self.error(405, "Method not allowed")
        if rest[1] != "items" or len(rest) > 3:
            return self.error(404, "Not found")
        if len(rest) == 2:
            if method == "GET":
                found = [i for i in items.values() if i["vault"]["id"] == vid]
                if "filter" in query:
                    f = parse_filter(query["filter"], ("title", "tag"))
                    if f is None:
                        return self.error(400, "Invalid filter")
                    attr, value = f
                    found = [i for i in found if (i["title"] == value if attr == "title" else value in i["tags"])]
                return self.reply(200, [{k: i[k] for k in SUMMARY_KEYS if k in i} for i in found])
            if method == "POST":
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self.error(400, "Invalid JSON")
                item, err = normalise(body, vid, new_id())
                if err:
                    return self.error(400, err)
                items[item["id"]] = item
                return self.reply(200, item)
            return self.error(405, "Method not allowed")
        iid = rest[2]
        item = items.get(iid)
        if item is None or item["vault"]["id"] != vid:
            return self.error(404, "Item not found")
        if method == "GET":
            return self.reply(200, item)
        if method == "PUT":
            try:
                body = json.loads(raw)
            except ValueError:
                return self.error(400, "Invalid JSON")
            if body.get("id", iid) != iid:
                return self.error(400, "item id in body does not match the path")
            new, err = normalise(body, vid, iid, item)
            if err:
                return self.error(400, err)
            items[iid] = new
            return self.reply(200, new)
        if method == "DELETE":
            del items[iid]
            return self.reply(204)
        return self.error(405, "Method not allowed")

    def control(self, method, rest, raw):
        with lock:
            if rest == ["seed"] and method == "POST":
                item = json.loads(raw)
                item.setdefault("id", new_id())
                item.setdefault("vault", {"id": CONFIG["vaults"][0]["id"]})
                item.setdefault("version", 1)
                item.setdefault("createdAt", now())
                item.setdefault("updatedAt", now())
                items[item["id"]] = item
                return self.reply(200, item)
            if rest == ["items"] and method == "GET":
                return self.reply(200, list(items.values()))
            if rest == ["config"] and method == "POST":
                CONFIG.update(json.loads(raw))
                return self.reply(200, CONFIG)
        return self.error(404, "Not found")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
