#!/usr/bin/env bash
# Benchmark of the hot path on the `pass` backend without a prefix (the whole password store is
# aws-vault's namespace): `aws-vault export --no-session --format=json P`, whole process, with
# hyperfine. Two stores side by side in one run, holding the same credential item: one with
# nothing else, one with 1,000 unrelated passwords. The two times should be the same: reaching one
# credential must cost one decryption, whatever else the store holds.
#
# Everything lives in a temporary directory: a throw-away GnuPG home with a passphrase-less key,
# and the two stores. Its gpg-agent is stopped at the end.
#
#   bash bench/pass-hot-path.sh            # builds --release first
#   UNRELATED=5000 RUNS=20 bash bench/pass-hot-path.sh
#   AWS_VAULT_BIN=target/debug/aws-vault bash bench/pass-hot-path.sh   # an existing binary
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine pass gpg; do
    command -v "$tool" >/dev/null || { echo "$tool is required (apt-get install hyperfine pass gnupg)" >&2; exit 1; }
done
if [ -n "${AWS_VAULT_BIN:-}" ]; then
    BIN=$(realpath "$AWS_VAULT_BIN")
else
    cargo build --release --locked --quiet
    BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/aws-vault"
fi
N="${UNRELATED:-1000}"
T=$(mktemp -d)
export GNUPGHOME="$T/gnupg"
cleanup() {
    gpgconf --kill gpg-agent 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
export HOME="$T/home" AWS_CONFIG_FILE="$T/config" AWS_VAULT_BACKEND=pass
mkdir -p "$HOME" "$GNUPGHOME"
chmod 700 "$GNUPGHOME"
printf '[profile bench]\nregion = eu-west-1\n' >"$AWS_CONFIG_FILE"
gpg --batch --quiet --passphrase '' --quick-gen-key 'aws-vault bench <bench@example.invalid>' default default never 2>/dev/null
gpg --batch --check-trustdb >/dev/null 2>&1
FPR=$(gpg --list-secret-keys --with-colons | awk -F: '/^fpr:/ { print $10; exit }')

for store in "$T/store0" "$T/store$N"; do
    PASSWORD_STORE_DIR="$store" pass init "$FPR" >/dev/null
    AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
        "$BIN" --pass-dir="$store" add --env bench >/dev/null
done
# The unrelated passwords: one real encrypted entry copied under N names, a third of them in
# sub-folders, like a password store that has grown over the years.
BIG="$T/store$N"
printf 'hunter2\nuser: me\n' | PASSWORD_STORE_DIR="$BIG" pass insert -m -f template >/dev/null
mkdir -p "$BIG/sites"
for i in $(seq "$N"); do
    if [ $((i % 3)) = 0 ]; then dest="$BIG/sites/site$i.gpg"; else dest="$BIG/password$i.gpg"; fi
    cp "$BIG/template.gpg" "$dest"
done

hyperfine -N --warmup "${WARMUP:-3}" --runs "${RUNS:-50}" \
    -n "export --no-session, store with the credential only" \
    "$BIN --pass-dir=$T/store0 export --no-session --format=json bench" \
    -n "export --no-session, store with $N unrelated entries" \
    "$BIN --pass-dir=$BIG export --no-session --format=json bench" \
    ${HYPERFINE_EXPORT:+--export-markdown "$HYPERFINE_EXPORT"}
