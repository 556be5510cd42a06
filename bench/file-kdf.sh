#!/usr/bin/env bash
# What a stronger file-backend key derivation costs on the hot path: `aws-vault export
# --no-session --format=json P` reading one item written with each PBKDF2 iteration count that
# `--file-kdf-iterations` offers (the Go tool's 8192, a middle value, current guidance 600000, and
# the most the Go tool reads, 1300000). Whole process, hyperfine -N, side by side in one run.
#
#   bash bench/file-kdf.sh              # builds --release first
#   BIN=path/to/aws-vault bash bench/file-kdf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is required (apt-get install hyperfine)" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
    cargo build --release --locked --quiet
    BIN="$PWD/target/release/aws-vault"
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export HOME="$T/home" AWS_CONFIG_FILE="$T/config" AWS_VAULT_BACKEND=file \
       AWS_VAULT_FILE_PASSPHRASE=bench-passphrase
mkdir -p "$HOME"
: >"$AWS_CONFIG_FILE"
args=()
for n in 8192 100000 600000 1300000; do
    AWS_VAULT_FILE_DIR="$T/keys-$n" AWS_VAULT_FILE_KDF_ITERATIONS=$n \
    AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
        "$BIN" add --env --no-add-config bench >/dev/null
    args+=(-n "p2c $n" "env AWS_VAULT_FILE_DIR=$T/keys-$n $BIN export --no-session --format=json bench")
done
hyperfine -N --warmup 3 --runs "${RUNS:-30}" "${args[@]}" \
    ${HYPERFINE_EXPORT:+--export-markdown "$HYPERFINE_EXPORT"}
