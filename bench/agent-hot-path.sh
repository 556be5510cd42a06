#!/usr/bin/env bash
# The file-backend hot path with and without the credential agent, side by side in one
# hyperfine run (`-N`: no shell in between), on a release build:
#
#   direct               `export --no-session --format=json P` reading the key file itself
#                        (one PBKDF2 x8192 derivation per run: the floor of the file format)
#   agent                the same command with an agent running for the key directory
#   floor: version       process start of the same binary, nothing else
#
# The direct commands opt out of the agent with `env AWS_VAULT_AGENT=off`, which costs one
# extra exec of `env`; "agent via env" runs the agent path through the same `env`, so the
# difference between "direct" and "agent via env" is the agent's gain with equal overhead.
#
#   bash bench/agent-hot-path.sh            # builds --release first; RUNS=300 by default
#   BIN=target/debug/aws-vault RUNS=100 bash bench/agent-hot-path.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is required (apt-get install hyperfine)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
# BIN=path/to/aws-vault measures that binary instead of a fresh release build.
if [ -z "${BIN:-}" ]; then
    cargo build --release --locked --quiet
    BIN="$PWD/target/release/aws-vault"
fi
T=$(mktemp -d)
cleanup() {
    AWS_VAULT_FILE_PASSPHRASE=bench-passphrase "$BIN" agent stop >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/home" "$T/run"
chmod 700 "$T/run"
export HOME="$T/home" AWS_CONFIG_FILE="$T/config" AWS_VAULT_BACKEND=file XDG_RUNTIME_DIR="$T/run"
printf '[profile bench]\nregion = eu-west-1\n' >"$AWS_CONFIG_FILE"
AWS_VAULT_FILE_PASSPHRASE=bench-passphrase AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE \
    AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY "$BIN" add --env bench >/dev/null
for i in $(seq 10); do
    AWS_VAULT_FILE_PASSPHRASE=bench-passphrase AWS_ACCESS_KEY_ID=AKIAOTHER$i AWS_SECRET_ACCESS_KEY=secret$i \
        "$BIN" add --env --no-add-config "other$i" >/dev/null
done
AWS_VAULT_FILE_PASSPHRASE=bench-passphrase "$BIN" agent start --idle-timeout=1h >/dev/null
# The passphrase is not in the environment of the measured commands: the direct path gets it
# through `env`, the agent path does not need it.
hyperfine -N --warmup 20 --runs "${RUNS:-300}" \
    -n 'floor: aws-vault version' "$BIN version" \
    -n 'direct: export --no-session' "env AWS_VAULT_AGENT=off AWS_VAULT_FILE_PASSPHRASE=bench-passphrase $BIN export --no-session --format=json bench" \
    -n 'agent via env: export --no-session' "env AWS_VAULT_FILE_PASSPHRASE=bench-passphrase $BIN export --no-session --format=json bench" \
    -n 'agent: export --no-session' "$BIN export --no-session --format=json bench" \
    ${HYPERFINE_EXPORT:+--export-markdown "$HYPERFINE_EXPORT"}
