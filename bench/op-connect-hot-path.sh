#!/usr/bin/env bash
# Benchmark of the hot path on the `op-connect` backend: `aws-vault export --no-session
# --format=json P`, whole process, with hyperfine, against the loopback fake Connect server of
# the tests (tests/support/connect_fake.py). Two vaults side by side: one holding only the
# credential, one holding it and $OTHERS more aws-vault items. Every API request of the fake
# waits $LATENCY seconds, standing in for the network round trip to a real Connect server.
#
# aws-vault lists the vault once (titles and ids) and fetches the one item it reads: two
# requests, whatever the vault holds, so both rows should take about 2 x LATENCY plus process
# start. (The Go tool fetches every aws-vault item of the vault on each key listing: with the
# fake's latency that would be at least (OTHERS + 3) x LATENCY for the second row.) The request
# count of one run is printed at the end.
#
#   bash bench/op-connect-hot-path.sh                      # builds --release first
#   OTHERS=200 LATENCY=0.05 RUNS=10 bash bench/op-connect-hot-path.sh
#   AWS_VAULT_BIN=target/debug/aws-vault bash bench/op-connect-hot-path.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine python3; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
if [ -n "${AWS_VAULT_BIN:-}" ]; then
    BIN=$(realpath "$AWS_VAULT_BIN")
else
    cargo build --release --locked --quiet
    BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/aws-vault"
fi
N="${OTHERS:-100}"
LATENCY="${LATENCY:-0.02}"
SMALL=aaaaaaaaaaaaaaaaaaaaaaaaaa
BIG=bbbbbbbbbbbbbbbbbbbbbbbbbb
T=$(mktemp -d)
FAKE_PID=
cleanup() {
    [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

mkfifo "$T/port"
python3 tests/support/connect_fake.py "$T/requests.log" \
    "{\"token\": \"bench-token\", \"vaults\": [{\"id\": \"$SMALL\", \"name\": \"small\"}, {\"id\": \"$BIG\", \"name\": \"big\"}]}" \
    >"$T/port" &
FAKE_PID=$!
read -r PORT <"$T/port"
URL="http://127.0.0.1:$PORT"

export HOME="$T/home" AWS_CONFIG_FILE="$T/config" AWS_VAULT_BACKEND=op-connect \
       AWS_VAULT_OP_CONNECT_HOST="$URL" OP_CONNECT_TOKEN=bench-token
mkdir -p "$HOME"
printf '[profile bench]\nregion = eu-west-1\n' >"$AWS_CONFIG_FILE"
for vault in "$SMALL" "$BIG"; do
    AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
        "$BIN" --op-vault-id "$vault" add --env --no-add-config bench >/dev/null
done
# The other items, written straight into the fake (the same layout aws-vault writes).
python3 - "$URL" "$BIG" "$N" <<'EOF'
import json, sys, urllib.request
url, vault, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    item = {"title": "aws-vault: other%d" % i, "vault": {"id": vault}, "category": "API_CREDENTIAL",
            "tags": ["aws-vault"], "fields": [{"type": "CONCEALED", "label": "keyring",
            "value": json.dumps({"Key": "other%d" % i, "Data": None})}]}
    req = urllib.request.Request(url + "/_control/seed", json.dumps(item).encode(), {"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
EOF
# From now on every API request waits LATENCY seconds.
python3 -c "import json,sys,urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + '/_control/config', json.dumps({'delay': float(sys.argv[2])}).encode())).read()" "$URL" "$LATENCY"

hyperfine -N --warmup "${WARMUP:-2}" --runs "${RUNS:-20}" \
    -n "export --no-session, vault with the credential only" \
    "$BIN --op-vault-id $SMALL export --no-session --format=json bench" \
    -n "export --no-session, vault with $N other aws-vault items" \
    "$BIN --op-vault-id $BIG export --no-session --format=json bench"

: >"$T/requests.log"
"$BIN" --op-vault-id "$BIG" export --no-session --format=json bench >/dev/null
echo "API requests of one run against the vault with $N other items: $(grep -vc '/_control' "$T/requests.log")"
