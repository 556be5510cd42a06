#!/usr/bin/env python3
"""Independent JWE oracle for the file-keyring interop tests (uses jwcrypto, not our Rust code).

Subcommands:
  encrypt-go <passphrase> <plaintext-file> <out-file>
      Write a token shaped exactly like jose2go's output for the Go aws-vault `file` backend:
      alg PBES2-HS256+A128KW, enc A256GCM, p2c 8192, a 12-byte p2s, and a `created` header in
      Go's time.Now().String() format; the protected header JSON has sorted keys.
  encrypt <passphrase> <plaintext-file> <out-file> [--alg ALG] [--enc ENC] [--p2c N] [--zip]
      Same, with other PBES2 / content-encryption variants and optional "zip":"DEF".
  decrypt <passphrase> <token-file>
      Print the plaintext (raw bytes) on stdout; exit 1 with a message on stderr on failure.
  header <token-file>
      Print the protected header exactly as stored (decoded JSON text).
"""
import argparse
import base64
import datetime
import json
import os
import sys

try:
    from jwcrypto import jwe, jwk
    from jwcrypto.common import base64url_decode, base64url_encode
except ImportError:  # pragma: no cover
    sys.stderr.write("python3 with jwcrypto is required: pip install jwcrypto\n")
    sys.exit(3)

# jose2go (the Go tool's JWE library) decrypts PBES2-HS256+A128KW with up to 1,300,000 iterations;
# jwcrypto's own default cap is lower, so the oracle takes jose2go's to read what the Go tool reads.
try:
    import jwcrypto.jwa

    jwcrypto.jwa.default_max_pbkdf2_iterations = 1_300_000
except AttributeError:  # pragma: no cover - older jwcrypto without a cap
    pass

ALGS = ["PBES2-HS256+A128KW", "PBES2-HS384+A192KW", "PBES2-HS512+A256KW"]
ENCS = ["A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"]


def go_time_now_string():
    """Go's time.Now().String(), monotonic suffix included, e.g.
    '2025-01-02 03:04:05.123456789 +1100 AEDT m=+0.012345678'."""
    now = datetime.datetime.now().astimezone()
    frac = ("%09d" % (now.microsecond * 1000 + 789)).rstrip("0")
    off = now.strftime("%z")
    zone = now.tzname() or off
    return "%s.%s %s %s m=+0.001234567" % (now.strftime("%Y-%m-%d %H:%M:%S"), frac, off, zone)


def key_for(passphrase):
    return jwk.JWK.from_password(passphrase)


def encrypt(passphrase, plaintext, alg, enc, p2c, zip_def):
    header = {
        "alg": alg,
        "created": go_time_now_string(),
        "enc": enc,
        "p2c": p2c,
        # jose2go uses a 12-byte salt input; jwcrypto would pick 16 bytes on its own.
        "p2s": base64url_encode(os.urandom(12)),
    }
    if zip_def:
        header["zip"] = "DEF"
    protected = json.dumps(header, separators=(",", ":"), sort_keys=True)
    token = jwe.JWE(plaintext, protected=protected, algs=ALGS + ENCS)
    token.add_recipient(key_for(passphrase))
    out = token.serialize(compact=True)
    # jwcrypto must not have rewritten our header (key order, salt length).
    got = base64url_decode(out.split(".")[0]).decode("utf-8")
    if got != protected:
        raise SystemExit("jwcrypto rewrote the protected header: %s" % got)
    return out


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("encrypt-go")
    g.add_argument("passphrase")
    g.add_argument("plaintext_file")
    g.add_argument("out_file")
    e = sub.add_parser("encrypt")
    e.add_argument("passphrase")
    e.add_argument("plaintext_file")
    e.add_argument("out_file")
    e.add_argument("--alg", default="PBES2-HS256+A128KW", choices=ALGS)
    e.add_argument("--enc", default="A256GCM", choices=ENCS)
    e.add_argument("--p2c", type=int, default=8192)
    e.add_argument("--zip", action="store_true")
    d = sub.add_parser("decrypt")
    d.add_argument("passphrase")
    d.add_argument("token_file")
    h = sub.add_parser("header")
    h.add_argument("token_file")
    args = ap.parse_args()

    if args.cmd in ("encrypt-go", "encrypt"):
        with open(args.plaintext_file, "rb") as f:
            plaintext = f.read()
        if args.cmd == "encrypt-go":
            token = encrypt(args.passphrase, plaintext, ALGS[0], "A256GCM", 8192, False)
        else:
            token = encrypt(args.passphrase, plaintext, args.alg, args.enc, args.p2c, args.zip)
        with open(args.out_file, "w") as f:
            f.write(token)  # jose2go writes no trailing newline
        return 0

    with open(args.token_file) as f:
        token = f.read()
    if args.cmd == "header":
        sys.stdout.write(base64url_decode(token.split(".")[0]).decode("utf-8"))
        return 0

    obj = jwe.JWE(algs=ALGS + ENCS)
    try:
        obj.deserialize(token, key=key_for(args.passphrase))
    except Exception as exc:  # wrong passphrase, tampering, malformed token
        sys.stderr.write("decrypt failed: %s: %s\n" % (type(exc).__name__, exc))
        return 1
    sys.stdout.buffer.write(obj.payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
