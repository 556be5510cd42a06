#!/usr/bin/env bash
# Benchmarks of the credential chain against a local moto STS emulator (loopback only):
#   1. the cached hot path: `export --format=json` of a role-chain profile with a warm cache
#      (the credential_process call every AWS SDK makes), whole process;
#   2. 20 parallel cold calls of the same profile after `clear` (single-flight: one
#      GetSessionToken and one AssumeRole for all twenty).
#
#   bash bench/role-chain.sh           # builds --release first; needs hyperfine and moto_server
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is required (apt-get install hyperfine)" >&2; exit 1; }
command -v moto_server >/dev/null || { echo "moto_server is required (pip install 'moto[server]')" >&2; exit 1; }
cargo build --release --locked --quiet
BIN="$PWD/target/release/aws-vault"
T=$(mktemp -d)
moto_server -H 127.0.0.1 -p 0 >"$T/moto.log" 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null; wait $MOTO 2>/dev/null; rm -rf "$T"' EXIT
PORT=
for _ in $(seq 100); do
    PORT=$(sed -n 's#.*Running on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$T/moto.log" | head -1)
    [ -n "$PORT" ] && curl -sf -o /dev/null "http://127.0.0.1:$PORT/moto-api/" && break
    sleep 0.1
done
[ -n "$PORT" ] || { echo "moto did not start" >&2; exit 1; }

export HOME="$T/home" AWS_CONFIG_FILE="$T/config" AWS_VAULT_BACKEND=file \
       AWS_VAULT_FILE_PASSPHRASE=bench-passphrase XDG_RUNTIME_DIR="$T/run" \
       AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
mkdir -p "$HOME" "$T/run"
cat >"$AWS_CONFIG_FILE" <<CFG
[profile base]
region = eu-west-1
mfa_serial = arn:aws:iam::111111111111:mfa/bench
mfa_process = echo 123456
[profile chain]
source_profile = base
role_arn = arn:aws:iam::222222222222:role/Bench
mfa_serial = arn:aws:iam::111111111111:mfa/bench
CFG
AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
    "$BIN" add --env base >/dev/null
"$BIN" export --format=json chain >/dev/null   # warm the cache

cat >"$T/parallel.sh" <<SH
#!/bin/sh
for i in \$(seq 20); do "$BIN" export --format=json chain >/dev/null & done
wait
SH
chmod +x "$T/parallel.sh"

hyperfine -N --warmup 20 --runs "${RUNS:-300}" \
    -n 'floor: aws-vault version' "$BIN version" \
    -n 'cached role chain: export --format=json' "$BIN export --format=json chain"
curl -s -X POST "http://127.0.0.1:$PORT/moto-api/reset" >/dev/null
hyperfine --warmup 1 --runs "${COLD_RUNS:-10}" \
    --prepare "$BIN clear" \
    -n '20 parallel cold calls (after clear)' "$T/parallel.sh"
# Count the STS calls one cold round makes (expected: 1 GetSessionToken + 1 AssumeRole).
"$BIN" clear >/dev/null
before=$(grep -c 'POST / HTTP' "$T/moto.log" || true)
"$T/parallel.sh"
after=$(grep -c 'POST / HTTP' "$T/moto.log" || true)
echo "STS requests for 20 parallel cold calls: $((after - before))"
