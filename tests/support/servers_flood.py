#!/usr/bin/env python3
"""servers_flood.py ecs|ec2 SLOW BODY_MB CLOSE_WAIT — a bounded starvation test of the local
credential servers, run as the child of `aws-vault exec --ecs-server` (ecs) or `--ec2-server`
(ec2, inside a test network namespace). Loopback / the namespace's 169.254.169.254 alias only.

1. Streams a chunked POST of BODY_MB MiB at the server and records how it was answered.
2. Opens SLOW connections that send half a request header and then nothing (slowloris).
3. While they are held open, resolves credentials with boto3 exactly as an SDK would (its own
   timeouts: 2 s x 3 attempts for the container endpoint, 1 s x 1 for IMDS) and times it.
4. Waits up to CLOSE_WAIT seconds for the server to close the slow connections.

The server measured is aws-vault itself (ecs) or its `aws-vault proxy` child (ec2); peak RSS
(VmHWM) and open descriptors come from /proc. Prints one JSON line. Never runs unbounded.
"""
import json
import os
import resource
import select
import socket
import sys
import time
import urllib.parse

kind, slow_n, body_mb, close_wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])

# This process holds the slow connections: raise our own soft limit (never the hard one).
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = slow_n + 256
if soft != resource.RLIM_INFINITY and soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))

if kind == "ecs":
    url = urllib.parse.urlparse(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
    addr = (url.hostname, url.port)
    host = f"{url.hostname}:{url.port}"
    extra = f"Authorization: {os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']}\r\n"
    body_path = "/"
else:
    addr = ("169.254.169.254", 80)
    host = "169.254.169.254"
    extra = ""
    body_path = "/latest/meta-data/iam/info/"


def server_pid():
    parent = os.getppid()
    if kind == "ecs":
        return parent
    for task in os.listdir(f"/proc/{parent}/task"):
        with open(f"/proc/{parent}/task/{task}/children") as f:
            for pid in f.read().split():
                with open(f"/proc/{pid}/cmdline", "rb") as c:
                    if b"proxy" in c.read().split(b"\0"):
                        return int(pid)
    raise SystemExit("no aws-vault proxy child found")


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


pid = server_pid()
out = {"server_pid": pid, "rss_kb_before": status_kb(pid, "VmRSS")}

# 1. A large chunked body, on a fresh server.
t = time.monotonic()
sent = 0
status = None
b = None
try:
    b = socket.create_connection(addr, timeout=10)
    b.sendall(f"POST {body_path} HTTP/1.1\r\nHost: {host}\r\n{extra}Transfer-Encoding: chunked\r\n\r\n".encode())
    chunk = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
    for _ in range(body_mb):
        if select.select([b], [], [], 0)[0]:
            break  # answered (or closed) before the body ended
        b.sendall(chunk)
        sent += 1
    else:
        b.sendall(b"0\r\n\r\n")
    resp = b.recv(200)
    status = resp.split(b" ")[1].decode() if resp.startswith(b"HTTP/1.1 ") else "closed"
except OSError as e:
    # The server may answer and close while we are still sending: the answer can still be
    # waiting in our receive buffer, or have been discarded by the reset.
    status = f"{type(e).__name__}"
    try:
        b.settimeout(1)
        resp = b.recv(200)
        if resp.startswith(b"HTTP/1.1 "):
            status = resp.split(b" ")[1].decode()
    except OSError:
        pass
finally:
    if b is not None:
        b.close()
out["body_mib_sent"] = sent
out["body_answer"] = status
out["body_seconds"] = round(time.monotonic() - t, 3)

# 2. Slow connections. A server that stopped accepting leaves connects hanging in a full
# backlog: give up after a few consecutive failures rather than waiting on each.
slow, failures, streak = [], 0, 0
for _ in range(slow_n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(addr)
        s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode())
        slow.append(s)
        streak = 0
    except OSError:
        s.close()
        failures += 1
        streak += 1
        if streak >= 5:
            break
out["slow_opened"] = len(slow)
out["slow_connect_failures"] = failures
time.sleep(0.5)
out["server_fds_during"] = len(os.listdir(f"/proc/{pid}/fd"))

# 3. A legitimate SDK request while the slow connections are held.
import boto3  # noqa: E402 — imported here so its start-up is not counted as latency

t = time.monotonic()
try:
    creds = boto3.session.Session().get_credentials()
    out["legit_method"] = creds.method if creds else None
    out["legit_ok"] = bool(creds) and creds.get_frozen_credentials().access_key.startswith("ASIA")
except Exception as e:  # noqa: BLE001 — any failure is the finding
    out["legit_ok"] = False
    out["legit_error"] = f"{type(e).__name__}: {e}"
out["legit_seconds"] = round(time.monotonic() - t, 3)

out["server_fds_after"] = len(os.listdir(f"/proc/{pid}/fd"))
out["server_hwm_kb"] = status_kb(pid, "VmHWM")
out["server_rss_kb"] = status_kb(pid, "VmRSS")

# 4. Does the server close what it does not need?
t = time.monotonic()
open_socks = {s.fileno(): s for s in slow}
poller = select.poll()
for fd in open_socks:
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
while open_socks and time.monotonic() - t < close_wait:
    for fd, _ in poller.poll(500):
        s = open_socks.pop(fd, None)
        if s is None:
            continue
        poller.unregister(fd)
        try:
            s.setblocking(False)
            data = s.recv(4096)
        except OSError:
            data = b""
        s.close()
out["slow_still_open"] = len(open_socks)
out["slow_close_seconds"] = round(time.monotonic() - t, 3)
for s in open_socks.values():
    s.close()
print(json.dumps(out))
