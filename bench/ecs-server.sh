#!/usr/bin/env bash
# Benchmark of the ECS credential server (`exec --ecs-server`) with wrk, against the floor: a
# bare hyper responder serving the same JSON (examples/servers_min_responder.rs). Loopback only;
# the profile uses credential_process, so no STS is involved. Prints wrk's summary (requests/s,
# latency distribution with p99) for both.
#
#   bash bench/ecs-server.sh            # builds --release first; DURATION=5s CONNS=8 THREADS=2
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
cargo build --release --locked --quiet --bin aws-vault --example servers_min_responder
BIN="$PWD/target/release/aws-vault"
MIN="$PWD/target/release/examples/servers_min_responder"
D="${DURATION:-5s}" C="${CONNS:-8}" T="${THREADS:-2}"
TMP=$(mktemp -d)
MINPID=
cleanup() { [ -n "$MINPID" ] && kill "$MINPID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
cat >"$TMP/credproc.sh" <<'SH'
#!/bin/sh
echo '{"Version": 1, "AccessKeyId": "ASIAPROCPROCPROCPROC", "SecretAccessKey": "procsecret", "SessionToken": "proctoken", "Expiration": "2030-01-01T00:00:00Z"}'
SH
chmod +x "$TMP/credproc.sh"
export HOME="$TMP/home" AWS_CONFIG_FILE="$TMP/config" AWS_VAULT_BACKEND=file \
       AWS_VAULT_FILE_PASSPHRASE=bench-passphrase
mkdir -p "$HOME"
printf '[profile bench]\ncredential_process = %s\n' "$TMP/credproc.sh" >"$AWS_CONFIG_FILE"

echo "== aws-vault exec --ecs-server (wrk -t$T -c$C -d$D --latency)"
"$BIN" exec --ecs-server bench -- sh -c \
    "wrk -t$T -c$C -d$D --latency -H \"Authorization: \$AWS_CONTAINER_AUTHORIZATION_TOKEN\" \"\$AWS_CONTAINER_CREDENTIALS_FULL_URI/\""

echo "== floor: bare hyper responder, same JSON"
"$MIN" >"$TMP/port" & MINPID=$!
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
wrk -t"$T" -c"$C" -d"$D" --latency "http://127.0.0.1:$(cat "$TMP/port")/"
