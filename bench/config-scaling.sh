#!/usr/bin/env bash
# How `aws-vault list` and `export` scale with the config file: wall time on files built to be
# slow for a resolver that is not linear.
#   * an `include_profile` chain N deep (`p0` includes `p1` ... `p{N-1}`, whose
#     `credential_process` prints static keys), for N = 1k, 2k, 4k, 8k, 20k;
#   * N nested dotted sections (`[profile a]`, `[profile a.a]`, ...), each inheriting from the
#     one before; the file grows with N squared, so N stops at 4k (16 MB, the config size cap).
# Each run is bounded by a 120 s timeout (printed as ">120"). File keyring in a temporary
# directory; no network.
#
#   bash bench/config-scaling.sh                        # builds --release first
#   AWS_VAULT_BIN=target/debug/aws-vault bash bench/config-scaling.sh   # any other build
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${AWS_VAULT_BIN:-}" ]; then
    cargo build --release --locked --quiet
    AWS_VAULT_BIN="$PWD/target/release/aws-vault"
fi
BIN=$(realpath "$AWS_VAULT_BIN")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export HOME="$T/home" AWS_CONFIG_FILE="$T/config" AWS_VAULT_BACKEND=file \
       AWS_VAULT_FILE_DIR="$T/keys" AWS_VAULT_FILE_PASSPHRASE=bench XDG_RUNTIME_DIR="$T/run"
mkdir -p "$HOME" "$T/keys" "$T/run"

chain() { # N
    python3 - "$1" >"$AWS_CONFIG_FILE" <<'PY'
import sys
n = int(sys.argv[1])
proc = "echo '{\"Version\":1,\"AccessKeyId\":\"AKIABENCH\",\"SecretAccessKey\":\"s\"}'"
out = []
for i in range(n):
    out.append(f"[profile p{i}]\ninclude_profile = p{i+1}\n" if i + 1 < n
               else f"[profile p{i}]\ncredential_process = {proc}\n")
sys.stdout.write("".join(out))
PY
}
nested() { # N
    python3 - "$1" >"$AWS_CONFIG_FILE" <<'PY'
import sys
n = int(sys.argv[1])
out, name = [], "a"
for i in range(n):
    out.append(f"[profile {name}]\nk{i} = v\n")
    name += ".a"
sys.stdout.write("".join(out))
PY
}
# Seconds for one command, or ">120".
seconds() {
    local start end rc=0
    start=$(date +%s.%N)
    timeout 120 "$@" >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 124 ] && { echo ">120"; return; }
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }'
}

printf '%-22s %8s %10s %10s %10s\n' "file" "N" "bytes" "list s" "export s"
for n in 1000 2000 4000 8000 20000; do
    chain "$n"
    printf '%-22s %8s %10s %10s %10s\n' "include_profile chain" "$n" "$(stat -c %s "$AWS_CONFIG_FILE")" \
        "$(seconds "$BIN" list)" "$(seconds "$BIN" export --format=json --no-session p0)"
done
for n in 500 1000 2000 4000; do
    nested "$n"
    printf '%-22s %8s %10s %10s %10s\n' "nested dotted sections" "$n" "$(stat -c %s "$AWS_CONFIG_FILE")" \
        "$(seconds "$BIN" list)" "$(seconds "$BIN" list --profiles)"
done
