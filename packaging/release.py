#!/usr/bin/env python3
"""Release helpers that must behave the same on the Linux and macOS release jobs (so no GNU tar,
GNU find or sha256sum): deterministic archives, SHA256SUMS, and the Homebrew formula and Scoop
manifest rendered from SHA256SUMS. Called by scripts/release; tests/release.rs runs `render`.

    release.py archive STAGE_DIR OUT.tar.gz|OUT.zip
    release.py sums DIR
    release.py render --version V --repo OWNER/NAME --sums FILE --templates DIR --out DIR

Templates (`*.in` under --templates, one level of sub-directories) use three placeholders:
`{{version}}`, `{{repo}}` and `{{sha256:FILE}}`, the checksum of FILE as listed in SHA256SUMS
(FILE may itself contain `{{version}}`). An artifact missing from SHA256SUMS, or any placeholder
left over, is an error: a formula must never point at a file the release does not have.
"""
import argparse
import gzip
import hashlib
import io
import os
import re
import sys
import tarfile
import zipfile

# Reproducible archives: fixed owner and time (SOURCE_DATE_EPOCH when the build sets it).
EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))  # 1980-01-01, zip's earliest date


def fail(msg):
    sys.stderr.write(f"release.py: error: {msg}\n")
    sys.exit(1)


def files_under(stage):
    out = []
    for root, dirs, files in os.walk(stage):
        dirs.sort()
        for f in sorted(files):
            full = os.path.join(root, f)
            out.append((os.path.relpath(full, stage).replace(os.sep, "/"), full))
    return out


def mode_of(path):
    return 0o755 if os.stat(path).st_mode & 0o111 else 0o644


def archive(stage, out):
    stage = stage.rstrip("/")
    top = os.path.basename(stage)
    entries = files_under(stage)
    if not entries:
        fail(f"{stage} is empty")
    tmp = out + ".tmp"
    if out.endswith(".tar.gz"):
        # tar.gz: everything under one top directory named like the archive (Homebrew enters it).
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for rel, full in entries:
                info = tarfile.TarInfo(f"{top}/{rel}")
                info.size = os.path.getsize(full)
                info.mtime = EPOCH
                info.mode = mode_of(full)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(full, "rb") as fh:
                    tar.addfile(info, fh)
        with open(tmp, "wb") as fh, gzip.GzipFile(
            filename="", mode="wb", fileobj=fh, mtime=EPOCH
        ) as gz:
            gz.write(raw.getvalue())
    elif out.endswith(".zip"):
        # zip: files at the root (Scoop puts them straight into the app directory).
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for rel, full in entries:
                info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = mode_of(full) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(full, "rb") as fh:
                    z.writestr(info, fh.read())
    else:
        fail(f"unknown archive type: {out}")
    os.replace(tmp, out)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sums(directory):
    names = sorted(
        n
        for n in os.listdir(directory)
        if n.startswith("aws-vault-") and os.path.isfile(os.path.join(directory, n))
    )
    if not names:
        fail(f"no aws-vault-* artifacts in {directory}")
    # The format `sha256sum -c SHA256SUMS` reads: hash, two spaces, file name.
    text = "".join(f"{sha256(os.path.join(directory, n))}  {n}\n" for n in names)
    tmp = os.path.join(directory, "SHA256SUMS.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, os.path.join(directory, "SHA256SUMS"))


def read_sums(path):
    table = {}
    with open(path) as fh:
        for number, line in enumerate(fh, 1):
            m = re.fullmatch(r"([0-9a-f]{64}) [ *](\S+)\n?", line)
            if not m:
                fail(f"{path}:{number}: not a SHA256SUMS line")
            table[m.group(2)] = m.group(1)
    return table


def render_text(text, version, repo, table, source):
    text = text.replace("{{version}}", version).replace("{{repo}}", repo)

    def checksum(m):
        name = m.group(1)
        if name not in table:
            fail(f"{source}: {name} is not in SHA256SUMS")
        return table[name]

    text = re.sub(r"\{\{sha256:([^}]+)\}\}", checksum, text)
    left = re.search(r"\{\{[^}]*\}\}", text)
    if left:
        fail(f"{source}: unknown placeholder {left.group(0)}")
    return text


def render(args):
    if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?", args.version):
        fail(f"version {args.version!r} is not MAJOR.MINOR.PATCH")
    table = read_sums(args.sums)
    os.makedirs(args.out, exist_ok=True)
    rendered = 0
    for root, _dirs, files in os.walk(args.templates):
        for f in sorted(files):
            if not f.endswith(".in"):
                continue
            source = os.path.join(root, f)
            with open(source) as fh:
                text = render_text(fh.read(), args.version, args.repo, table, source)
            target = os.path.join(args.out, f[: -len(".in")])
            with open(target + ".tmp", "w") as fh:
                fh.write(text)
            os.replace(target + ".tmp", target)
            print(target)
            rendered += 1
    if not rendered:
        fail(f"no *.in templates under {args.templates}")


def main():
    p = argparse.ArgumentParser(prog="release.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("archive")
    a.add_argument("stage")
    a.add_argument("out")
    s = sub.add_parser("sums")
    s.add_argument("dir")
    r = sub.add_parser("render")
    r.add_argument("--version", required=True)
    r.add_argument("--repo", required=True)
    r.add_argument("--sums", required=True)
    r.add_argument("--templates", required=True)
    r.add_argument("--out", required=True)
    args = p.parse_args()
    if args.cmd == "archive":
        archive(args.stage, args.out)
    elif args.cmd == "sums":
        sums(args.dir)
    else:
        render(args)


if __name__ == "__main__":
    main()
