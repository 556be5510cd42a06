#!/usr/bin/env bash
# Commit one rendered file into a tap or bucket repository (release workflow, publish job).
#   TOKEN=... packaging/publish.sh OWNER/NAME PATH-IN-REPO FILE
set -euo pipefail
repo=$1 path=$2 file=$3
[ -n "${TOKEN:-}" ] || { echo "publish.sh: error: TOKEN is not set" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone --quiet --depth 1 "https://x-access-token:${TOKEN}@github.com/${repo}.git" "$work/repo"
mkdir -p "$(dirname "$work/repo/$path")"
cp "$file" "$work/repo/$path"
cd "$work/repo"
git add "$path"
if git diff --cached --quiet; then
    echo "publish.sh: $repo already has this $path"
    exit 0
fi
git -c user.name="aws-vault release" -c user.email="release@invalid" \
    commit --quiet -m "aws-vault ${GITHUB_REF_NAME:-}"
git push --quiet origin HEAD
