#!/usr/bin/env python3
"""A test BROWSER for aws-vault: plays the user who approves (or denies) an SSO login.

Usage (as $BROWSER): sso_browser.py URL

Appends one line with the URL to $SSO_BROWSER_LOG, then fetches the URL and follows redirects,
but only to loopback addresses: it refuses any other URL, so a test can never reach the network.
$SSO_BROWSER_MODE: "approve" (default; the fake server decides approval), "wrong-state" (tamper
with the state parameter of the redirect back to aws-vault), "ignore" (open nothing).
"""
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

url = sys.argv[-1]
mode = os.environ.get("SSO_BROWSER_MODE", "approve")
with open(os.environ.get("SSO_BROWSER_LOG", os.devnull), "a") as f:
    f.write(url + "\n")


def loopback(u):
    p = urllib.parse.urlsplit(u)
    return p.scheme == "http" and p.hostname in ("127.0.0.1", "localhost", "::1")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


opener = urllib.request.build_opener(NoRedirect)
if mode == "ignore":
    sys.exit(0)
for _ in range(5):
    if not loopback(url):
        sys.stderr.write("sso_browser: refusing non-loopback URL %s\n" % url)
        sys.exit(2)
    try:
        resp = opener.open(url, timeout=10)
        resp.read()
        sys.exit(0)
    except urllib.error.HTTPError as e:
        if e.code in (301, 302, 303, 307, 308) and e.headers.get("Location"):
            url = urllib.parse.urljoin(url, e.headers["Location"])
            if mode == "wrong-state" and "/oauth/callback" in url:
                parts = urllib.parse.urlsplit(url)
                q = urllib.parse.parse_qsl(parts.query)
                q = [(k, "tampered" if k == "state" else v) for k, v in q]
                url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))
            continue
        sys.exit(0)
    except Exception as e:  # noqa: BLE001 - a browser shows errors, it does not crash the test
        sys.stderr.write("sso_browser: %s\n" % e)
        sys.exit(1)
