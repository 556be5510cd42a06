#!/usr/bin/env python3
"""recording_proxy.py LISTEN_PORT_FILE UPSTREAM_URL LOG_FILE

A small threaded HTTP reverse proxy (stdlib only) for the integration tests. It listens on
127.0.0.1 on a free port (written to LISTEN_PORT_FILE once the socket is listening), forwards
every request unchanged (method, path, query, headers, body) to UPSTREAM_URL (moto) and relays
the response (status, headers, body) back. For each request it appends one JSON line to
LOG_FILE and flushes it:

  {"method", "path", "service", "action", "params", "auth_access_key", "session_token",
   "status", "injected"}

* service: from the SigV4 credential scope (Authorization header, or X-Amz-Credential for
  presigned URLs); null when unsigned.
* action: form/query parameter `Action` (query protocol), or the operation part of
  X-Amz-Target (JSON protocols); null when there is none.
* params: all query parameters plus all form-urlencoded body parameters, as a flat dict
  (for JSON bodies: the body flattened with dotted keys).

Failure injection: while the file `<LOG_FILE>.fail` exists and holds a JSON object
`{"action": "AssumeRole", "status": 403, "code": "AccessDenied", "message": "..."}` (or a
JSON list of such objects), requests for a matching action (`"*"` matches every request that
has an action) are answered with an AWS-style error instead of being forwarded (XML
`ErrorResponse` for the query protocol, JSON for JSON protocols), and logged with
`"injected": true`.
"""
import http.client
import json
import os
import socket
import sys
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

PORT_FILE, UPSTREAM, LOG_FILE = sys.argv[1], sys.argv[2], sys.argv[3]
FAIL_FILE = LOG_FILE + ".fail"
_up = urllib.parse.urlsplit(UPSTREAM)
UP_HOST, UP_PORT = _up.hostname, _up.port or 80
UP_PREFIX = _up.path.rstrip("/")

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade", "expect",
}
LOG_LOCK = threading.Lock()


def log(entry):
    line = json.dumps(entry, sort_keys=True) + "\n"
    with LOG_LOCK:
        with open(LOG_FILE, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()


def credential_scope(headers, query):
    """(access_key, service) from the SigV4 Authorization header or a presigned query."""
    auth = headers.get("Authorization") or ""
    cred = None
    if "Credential=" in auth:
        cred = auth.split("Credential=", 1)[1].split(",", 1)[0].strip()
    elif "X-Amz-Credential" in query:
        cred = query["X-Amz-Credential"]
    if not cred:
        return None, None
    parts = cred.split("/")
    # AKID/DATE/REGION/SERVICE/aws4_request
    key = parts[0] if parts and parts[0] else None
    service = parts[3] if len(parts) >= 5 else None
    return key, service


def flatten(prefix, value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value, 1):
            flatten(f"{prefix}.member.{i}", v, out)
    elif value is None:
        out[prefix] = ""
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    else:
        out[prefix] = str(value)


def read_failures():
    try:
        with open(FAIL_FILE, "r", encoding="utf-8") as f:
            data = json.load(f)
    except (FileNotFoundError, ValueError):
        return []
    return data if isinstance(data, list) else [data]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and Expect: 100-continue, as real clients use

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body are written separately: without TCP_NODELAY, Nagle + delayed ACK
        # add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                size_line = self.rfile.readline()
                if not size_line:
                    break
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until an empty line
                    while True:
                        trailer = self.rfile.readline()
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, reason, headers, body, head_only=False):
        # send_response_only: no extra Server/Date headers, the upstream's are relayed as they are
        self.send_response_only(status, reason)
        has_length = False
        for k, v in headers:
            lk = k.lower()
            if lk in HOP_BY_HOP:
                continue
            if lk == "content-length":
                if not head_only:
                    continue
                has_length = True
            self.send_header(k, v)
        if not head_only and status not in (204, 304) and not (100 <= status < 200):
            self.send_header("Content-Length", str(len(body)))
        elif head_only and not has_length:
            self.send_header("Content-Length", "0")
        self.end_headers()
        if not head_only and body:
            self.wfile.write(body)
        self.wfile.flush()

    def _handle(self):
        body = self._read_body()
        split = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        params = dict(query)
        ctype = (self.headers.get("Content-Type") or "").lower()
        target = self.headers.get("X-Amz-Target")
        is_json = bool(target) or "json" in ctype
        if body:
            if "x-www-form-urlencoded" in ctype or (not ctype and self.command == "POST" and not is_json):
                try:
                    params.update(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
                except UnicodeDecodeError:
                    pass
            elif is_json:
                try:
                    flatten("", json.loads(body), params)
                except ValueError:
                    pass
        action = params.get("Action")
        if action is None and target:
            action = target.rsplit(".", 1)[-1]
        access_key, service = credential_scope(self.headers, query)
        token = self.headers.get("X-Amz-Security-Token") or query.get("X-Amz-Security-Token")
        entry = {
            "method": self.command,
            "path": split.path,
            "service": service,
            "action": action,
            "params": params,
            "auth_access_key": access_key,
            "session_token": token,
            "status": None,
            "injected": False,
        }

        for fail in read_failures():
            want = fail.get("action")
            if action is not None and (want == action or want == "*"):
                status = int(fail.get("status", 400))
                code = str(fail.get("code", "AccessDenied"))
                message = str(fail.get("message", ""))
                request_id = str(uuid.uuid4())
                if is_json:
                    out = json.dumps({"__type": code, "message": message}).encode()
                    hdrs = [("Content-Type", ctype or "application/x-amz-json-1.1"),
                            ("x-amzn-RequestId", request_id), ("x-amzn-errortype", code)]
                else:
                    kind = "Sender" if status < 500 else "Receiver"
                    out = (
                        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                        f"<Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
                        f"<Message>{escape(message)}</Message></Error>"
                        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
                    ).encode()
                    hdrs = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
                entry["status"] = status
                entry["injected"] = True
                log(entry)
                self._send(status, None, hdrs, out, head_only=self.command == "HEAD")
                return

        conn = http.client.HTTPConnection(UP_HOST, UP_PORT, timeout=120)
        try:
            conn.putrequest(self.command, UP_PREFIX + self.path, skip_host=True,
                            skip_accept_encoding=True)
            for k, v in self.headers.items():
                lk = k.lower()
                if lk in HOP_BY_HOP or lk == "content-length":
                    continue
                conn.putheader(k, v)
            if body or self.command in ("POST", "PUT", "PATCH") or "Content-Length" in self.headers \
                    or "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            out = resp.read()  # handles both chunked and Content-Length
            entry["status"] = resp.status
            log(entry)
            self._send(resp.status, resp.reason, resp.getheaders(), out,
                       head_only=self.command == "HEAD")
        except Exception as e:  # upstream unreachable: answer 502 and log it
            entry["status"] = 502
            entry["error"] = repr(e)
            log(entry)
            msg = f"recording proxy: upstream error: {e!r}".encode()
            self._send(502, None, [("Content-Type", "text/plain")], msg)
        finally:
            conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    tmp = PORT_FILE + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, PORT_FILE)  # atomic: readers never see a partial port
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
