#!/usr/bin/env python3
"""servers_load.py REQUESTS CONNECTIONS — a bounded load test of the ECS server.

Run as the child of `aws-vault exec --ecs-server`: sends REQUESTS GET requests in total over
CONNECTIONS keep-alive connections (one thread each) to AWS_CONTAINER_CREDENTIALS_FULL_URI with
the token, and prints one JSON line {"ok", "errors", "seconds", "rps", "p99_ms"}. Stops by itself.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

total, conns = int(sys.argv[1]), int(sys.argv[2])
url = urllib.parse.urlparse(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
lock = threading.Lock()
latencies, errors = [], []


def worker(n):
    c = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    for _ in range(n):
        t = time.perf_counter()
        try:
            c.request("GET", url.path or "/", headers={"Authorization": token})
            r = c.getresponse()
            body = r.read()
            ok = r.status == 200 and b"AccessKeyId" in body
        except Exception as e:  # noqa: BLE001 — every failure counts as an error
            ok = False
            c.close()
            c = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        with lock:
            (latencies if ok else errors).append(time.perf_counter() - t)


start = time.perf_counter()
threads = [threading.Thread(target=worker, args=(total // conns,)) for _ in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
secs = time.perf_counter() - start
latencies.sort()
p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None
print(json.dumps({"ok": len(latencies), "errors": len(errors), "seconds": secs,
                  "rps": len(latencies) / secs, "p99_ms": p99}))
