#!/usr/bin/env bash
# The keychain backend against a real macOS keychain (run by .github/workflows/macos.yml on a
# macOS runner; it cannot run on Linux). A throwaway keychain is created, unlocked and deleted
# at the end; nothing touches the login keychain.
#
# Checks: a Go-layout item written with Apple's `security` tool is listed and exported by
# aws-vault; items aws-vault writes have the Go tool's service, account and label; a session
# item is read back; `remove` deletes; listing a keychain that does not exist is empty.
set -euo pipefail
BIN="${AWS_VAULT_BIN:-target/debug/aws-vault}"
NAME="aws-vault-ci-$$"
KC="$NAME.keychain"
PASS="ci-password"
T="$(mktemp -d)"
cleanup() { security delete-keychain "$KC" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

export HOME="$T" AWS_CONFIG_FILE="$T/config" AWS_VAULT_BACKEND=keychain AWS_VAULT_KEYCHAIN_NAME="$NAME"
mkdir -p "$HOME/Library/Keychains"
: >"$AWS_CONFIG_FILE"

# Before the keychain exists: an empty list, and remove says not found.
out="$("$BIN" list --credentials)" || fail "list on a missing keychain failed"
[ -z "$out" ] || fail "list on a missing keychain printed: $out"
if "$BIN" remove -f nosuch 2>/dev/null; then fail "remove on a missing keychain succeeded"; fi

security create-keychain -p "$PASS" "$KC"
security unlock-keychain -p "$PASS" "$KC"
security set-keychain-settings "$KC"   # no auto-lock during the test

# A long-term credential as the Go tool stores it; -A lets any application read it (no prompt).
security add-generic-password -A -s aws-vault -a goprofile -l "aws-vault (goprofile)" \
    -w '{"AccessKeyID":"AKIAGOLAYOUT00000001","SecretAccessKey":"go-secret","SessionToken":"","Source":"","CanExpire":false,"Expires":"0001-01-01T00:00:00Z","AccountID":""}' "$KC"
"$BIN" list --credentials | grep -qx goprofile || fail "Go-layout item not listed"
"$BIN" export --no-session --format=json goprofile | grep -q '"AccessKeyId": "AKIAGOLAYOUT00000001"' \
    || fail "Go-layout item not exported"

# Our own long-term item: the Go tool's attributes (reading it would prompt: no trusted app).
AWS_ACCESS_KEY_ID=AKIAOURS000000000001 AWS_SECRET_ACCESS_KEY=ours-secret \
    "$BIN" add --env --no-add-config ours
attrs="$(security find-generic-password -s aws-vault -a ours "$KC")"
echo "$attrs" | grep -q '"svce"<blob>="aws-vault"' || fail "service attribute: $attrs"
echo "$attrs" | grep -q '"acct"<blob>="ours"' || fail "account attribute: $attrs"
echo "$attrs" | grep -q '0x00000007 <blob>="aws-vault (ours)"' || fail "label attribute: $attrs"

# Remove deletes, then the key is gone.
"$BIN" remove -f goprofile
if "$BIN" list --credentials | grep -qx goprofile; then fail "removed item still listed"; fi
echo "macOS keychain tests passed"
