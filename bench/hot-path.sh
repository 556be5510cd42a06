#!/usr/bin/env bash
# Benchmark of the hot path: `aws-vault export --no-session --format=json P` on the file
# backend, whole process, with hyperfine. Prints the floor alongside (process start of the same
# binary, and one PBKDF2 key derivation inside `version`-like work is not separable, so the
# floor shown is `aws-vault version`).
#
#   bash bench/hot-path.sh            # builds --release first
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is required (apt-get install hyperfine)" >&2; exit 1; }
cargo build --release --locked --quiet
BIN="$PWD/target/release/aws-vault"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export HOME="$T/home" AWS_CONFIG_FILE="$T/config" AWS_VAULT_BACKEND=file \
       AWS_VAULT_FILE_PASSPHRASE=bench-passphrase
mkdir -p "$HOME"
printf '[profile bench]\nregion = eu-west-1\n' >"$AWS_CONFIG_FILE"
AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
    "$BIN" add --env bench >/dev/null
# Ten more stored keys so that listing the directory is not trivially cheap.
for i in $(seq 10); do
    AWS_ACCESS_KEY_ID=AKIAOTHER$i AWS_SECRET_ACCESS_KEY=secret$i "$BIN" add --env --no-add-config "other$i" >/dev/null
done
hyperfine -N --warmup 20 --runs "${RUNS:-300}" \
    -n 'floor: aws-vault version' "$BIN version" \
    -n 'export --no-session --format=json' "$BIN export --no-session --format=json bench" \
    ${HYPERFINE_EXPORT:+--export-markdown "$HYPERFINE_EXPORT"}
