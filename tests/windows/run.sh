#!/usr/bin/env bash
# The Windows suite: runs aws-vault.exe under Wine 8 with a private WINEPREFIX and checks the
# commands on the `file` and `wincred` backends, interop with Go-format Credential Manager
# items, the ECS server queried from Linux, and an STS session from moto cached in wincred.
#
#   tests/windows/run.sh PATH/TO/aws-vault.exe      (normally via .ci/test-windows)
#
# Needs wine64 (Debian's wine64 package), mingw-w64 gcc, curl, python3 and moto_server. Every
# failure stops the run with a message and a non-zero exit; the last line is
# "N passed, 0 failed". All network traffic stays on 127.0.0.1.
set -euo pipefail

exe=${1:?usage: tests/windows/run.sh PATH/TO/aws-vault.exe}
here="$(cd "$(dirname "$0")" && pwd)"
wine=/usr/lib/wine/wine64
passed=0

die() {
    echo "FAIL: $*" >&2
    echo "$passed passed, 1 failed" >&2
    exit 1
}
ok() {
    passed=$((passed + 1))
    echo "ok $passed - $*"
}
need() {
    command -v "$1" >/dev/null || die "$1 is required ($2)"
}
[ -x "$wine" ] || die "$wine is required (apt-get install wine64)"
need x86_64-w64-mingw32-gcc "apt-get install gcc-mingw-w64-x86-64"
need curl "apt-get install curl"
need moto_server "pip install 'moto[server]'"
[ -f "$exe" ] || die "$exe does not exist (run .ci/build-windows)"

work=$(mktemp -d /tmp/aws-vault-wine.XXXXXX)
moto_pid=""
cleanup() {
    [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null || true
    # Stop this prefix's wineserver (only ours: it is keyed by WINEPREFIX).
    WINEPREFIX="$work/prefix" /usr/lib/wine/wineserver -k 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

bin="$work/bin"
mkdir -p "$bin" "$work/home"
cp "$exe" "$bin/aws-vault.exe"
# The ProcessPrng stand-in (test harness only) and the Go-side Credential Manager client.
x86_64-w64-mingw32-gcc -O2 -shared -o "$bin/bcryptprimitives.dll" "$here/bcryptprimitives.c" -ladvapi32
x86_64-w64-mingw32-gcc -O2 -o "$bin/gocred.exe" "$here/gocred.c" -ladvapi32

# A clean environment: nothing of the caller's AWS_*, SHELL or HOME reaches the Windows side.
export WINEPREFIX="$work/prefix" WINEDEBUG=-all
wuser=${USER:-$(id -un)}
base_env=(env -i "PATH=/usr/bin:/bin" "HOME=$work/home" "USER=$wuser"
    "WINEPREFIX=$WINEPREFIX" "WINEDEBUG=-all")
extra=()
# run_av [VAR=value ...] -- ARGS...: aws-vault.exe with extra variables; stdout to $work/out,
# stderr to $work/err, exit code in $rc.
run_av() {
    local vars=()
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    set +e
    "${base_env[@]}" "${extra[@]}" "${vars[@]}" "$wine" "$bin/aws-vault.exe" "$@" \
        >"$work/out" 2>"$work/err"
    rc=$?
    set -e
}
expect_rc() {
    [ "$rc" = "$1" ] || die "$2: exit $rc, expected $1; stderr: $(cat "$work/err"); stdout: $(cat "$work/out")"
}
expect_out() {
    grep -qF -- "$1" "$work/out" || die "$2: stdout lacks '$1': $(cat "$work/out"); stderr: $(cat "$work/err")"
}
gocred() {
    "${base_env[@]}" "$wine" "$bin/gocred.exe" "$@"
}

# Create the prefix first (~20 s) and wait until Wine has finished setting it up: the first
# program started in a new prefix may otherwise return before its output is written.
"${base_env[@]}" "$wine" wineboot --init >/dev/null 2>&1 || die "wineboot failed"
/usr/lib/wine/wineserver -w
run_av -- --version
expect_rc 0 "--version"
# Like the Go tool (kingpin), the version goes to stderr.
grep -qE '^v?[0-9]+\.[0-9]+' "$work/err" || die "--version printed: $(cat "$work/err")"
ok "--version"

# Wine names the Windows user after the Unix one: %USERPROFILE% is C:\users\<user>.
profile_dir="$WINEPREFIX/drive_c/users/$wuser"
[ -d "$profile_dir" ] || die "no user profile $profile_dir in the prefix"

key=AKIAWINE0000000EXAMP
secret=winesecret0000000000000000000000000000000

# The commands every backend must support, offline (--no-session).
backend_suite() {
    local backend=$1 p="w$1"
    extra=("AWS_VAULT_BACKEND=$backend" "AWS_VAULT_FILE_PASSPHRASE=wine-pass")

    run_av "AWS_ACCESS_KEY_ID=$key" "AWS_SECRET_ACCESS_KEY=$secret" -- add --env "$p"
    expect_rc 0 "$backend: add --env"
    grep -qF "[profile $p]" "$profile_dir/.aws/config" ||
        die "$backend: add did not write %USERPROFILE%\\.aws\\config"
    ok "$backend: add --env writes the key and %USERPROFILE%\\.aws\\config"

    run_av -- list
    expect_rc 0 "$backend: list"
    grep -E "^$p +$p " "$work/out" >/dev/null || die "$backend: list: $(cat "$work/out")"
    run_av -- list --credentials
    expect_rc 0 "$backend: list --credentials"
    expect_out "$p" "$backend: list --credentials"
    ok "$backend: list"

    for format in env export-env json ini fish powershell cmd; do
        run_av -- export --no-session --format="$format" "$p"
        expect_rc 0 "$backend: export --format=$format"
        expect_out "$key" "$backend: export --format=$format"
        expect_out "$secret" "$backend: export --format=$format"
    done
    run_av -- export --no-session --format=json "$p"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["AccessKeyId"]==sys.argv[2], d' \
        "$work/out" "$key" || die "$backend: export --format=json is not the expected JSON"
    ok "$backend: export in every format"

    run_av -- exec --no-session "$p" -- cmd /c "echo id=%AWS_ACCESS_KEY_ID% vault=%AWS_VAULT% & exit 3"
    expect_rc 3 "$backend: exec forwards the exit code"
    expect_out "id=$key vault=$p" "$backend: exec child environment"
    run_av -- exec --no-session "$p" -- cmd /c "exit 0"
    expect_rc 0 "$backend: exec exit 0"
    run_av -- exec --no-session "$p" -- no-such-program-here
    [ "$rc" != 0 ] || die "$backend: exec of a missing program succeeded"
    grep -qF 'aws-vault: error: exec: exec: "no-such-program-here"' "$work/err" ||
        die "$backend: exec of a missing program: $(cat "$work/err")"
    ok "$backend: exec runs the child, passes its environment and exit code"

    run_av -- remove -f "$p"
    expect_rc 0 "$backend: remove"
    run_av -- list --credentials
    expect_rc 0 "$backend: list after remove"
    if grep -qx "$p" "$work/out"; then die "$backend: $p still listed after remove"; fi
    ok "$backend: remove"
}

backend_suite file
# The default key directory is under %USERPROFILE%, as the Go tool has it; the item was a
# JWE file named by the key.
[ -d "$profile_dir/.awsvault/keys" ] || die "file: no %USERPROFILE%\\.awsvault\\keys"
ok "file: keys under %USERPROFILE%\\.awsvault\\keys"

backend_suite wincred

# wincred interop with the Go tool's layout.
extra=("AWS_VAULT_BACKEND=wincred")
go_json='{"AccessKeyID":"AKIAGOWRITTEN0000000","SecretAccessKey":"gosecret","SessionToken":"","Source":"","CanExpire":false,"Expires":"0001-01-01T00:00:00Z","AccountID":""}'
gocred write "aws-vault:aws-vault:goprof" "$go_json" || die "gocred write"
run_av -- list --credentials
expect_rc 0 "wincred: list of a Go item"
expect_out "goprof" "wincred: list of a Go item"
run_av -- export --no-session --format=env goprof
expect_rc 0 "wincred: export of a Go item"
expect_out "AWS_ACCESS_KEY_ID=AKIAGOWRITTEN0000000" "wincred: export of a Go item"
ok "wincred: a credential written the Go tool's way (CredWriteW) is listed and read"

run_av "AWS_ACCESS_KEY_ID=$key" "AWS_SECRET_ACCESS_KEY=$secret" -- add --env ours
expect_rc 0 "wincred: add ours"
blob=$(gocred read "aws-vault:aws-vault:ours") || die "wincred: our item is not at the Go tool's target name"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["AccessKeyID"]==sys.argv[2] and d["SecretAccessKey"]==sys.argv[3], d' \
    "$blob" "$key" "$secret" || die "wincred: our blob is not the Go tool's credential JSON: $blob"
ok "wincred: our item is a generic credential at aws-vault:aws-vault:<profile> holding the Go JSON"

# moto on loopback: an STS session through the .exe, cached in wincred and reused.
moto_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$moto_port/moto-api/" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$moto_port/moto-api/" >/dev/null || die "moto_server did not start: $(tail -5 "$work/moto.log")"
printf '[profile ours]\nregion=us-east-1\n' >>"$profile_dir/.aws/config"
extra=("AWS_VAULT_BACKEND=wincred" "AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port")
run_av -- export --format=json ours
expect_rc 0 "wincred: session from moto"
session_key=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["AccessKeyId"]!=sys.argv[2] and d.get("SessionToken"), d; print(d["AccessKeyId"])' \
    "$work/out" "$key") || die "wincred: export did not return an STS session: $(cat "$work/out")"
sessions=$(gocred list "aws-vault:aws-vault:sts.GetSessionToken,*")
[ -n "$sessions" ] || die "wincred: the session was not cached in the Credential Manager"
# moto stops: the second run can only be served from the cache.
kill "$moto_pid"
wait "$moto_pid" 2>/dev/null || true
moto_pid=""
run_av -- export --format=json ours
expect_rc 0 "wincred: cached session"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["AccessKeyId"]==sys.argv[2] and d.get("SessionToken"), d' \
    "$work/out" "$session_key" || die "wincred: the second export did not reuse the cached session: $(cat "$work/out")"
ok "wincred: an STS session from moto is cached in wincred and reused"

# The ECS server under Wine, queried from Linux. The child writes its variables, then waits
# for a stop file; its exit code (7) comes back through aws-vault.
ecs_out="$work/ecs.txt"
stop="$work/stop"
win_path() { echo "Z:${1//\//\\}"; }
run_ecs() {
    set +e
    "${base_env[@]}" "${extra[@]}" "$wine" "$bin/aws-vault.exe" exec --ecs-server ours -- \
        "$(win_path "$bin/gocred.exe")" wait-env "$(win_path "$ecs_out")" "$(win_path "$stop")" \
        >"$work/ecs.stdout" 2>"$work/ecs.stderr"
    echo $? >"$work/ecs.rc"
    set -e
}
run_ecs &
ecs_job=$!
for _ in $(seq 300); do
    [ -s "$ecs_out" ] && break
    sleep 0.2
done
[ -s "$ecs_out" ] || { touch "$stop"; die "ecs: the child never started: $(cat "$work/ecs.stderr")"; }
uri=$(sed -n 1p "$ecs_out" | tr -d '\r')
token=$(sed -n 2p "$ecs_out" | tr -d '\r')
case "$uri" in http://127.0.0.1:*) ;; *) touch "$stop"; die "ecs: AWS_CONTAINER_CREDENTIALS_FULL_URI=$uri" ;; esac
[ -n "$token" ] || { touch "$stop"; die "ecs: no AWS_CONTAINER_AUTHORIZATION_TOKEN"; }
good=$(curl -sS -H "Authorization: $token" -w '\n%{http_code}' "$uri") || { touch "$stop"; die "ecs: curl failed"; }
bad=$(curl -sS -H "Authorization: wrong-$token" -o /dev/null -w '%{http_code}' "$uri") || { touch "$stop"; die "ecs: curl failed"; }
touch "$stop"
wait "$ecs_job" || true
[ "$(tail -1 <<<"$good")" = 200 ] || die "ecs: right token got $(tail -1 <<<"$good")"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["AccessKeyId"]==sys.argv[2] and d["Token"], d' \
    "$(head -n -1 <<<"$good")" "$session_key" || die "ecs: body: $good"
[ "$bad" = 403 ] || die "ecs: wrong token got $bad, expected 403"
[ "$(cat "$work/ecs.rc")" = 7 ] || die "ecs: exit code $(cat "$work/ecs.rc"), expected the child's 7; stderr: $(cat "$work/ecs.stderr")"
ok "ecs: exec --ecs-server under Wine serves the cached session to the right token only, and forwards the child's exit code"

# The agent on its named pipe: started with the file passphrase, then every command is served
# without it (there is no console to ask on either), until it is stopped.
extra=("AWS_VAULT_BACKEND=file")
run_av "AWS_VAULT_FILE_PASSPHRASE=wine-pass" "AWS_ACCESS_KEY_ID=$key" "AWS_SECRET_ACCESS_KEY=$secret" -- add --env agentp
expect_rc 0 "agent: add"
run_av -- agent status
expect_rc 1 "agent: status before start"
grep -qF "no agent is running" "$work/err" || die "agent: status before start: $(cat "$work/err")"
run_av "AWS_VAULT_FILE_PASSPHRASE=wrong" -- agent start
[ "$rc" != 0 ] || die "agent: start with a wrong passphrase succeeded"
run_av "AWS_VAULT_FILE_PASSPHRASE=wine-pass" -- agent start --idle-timeout=10m
expect_rc 0 "agent: start"
grep -qF "aws-vault agent started for the file backend" "$work/err" || die "agent: start: $(cat "$work/err")"
ok "agent: start checks the passphrase and detaches"

run_av -- agent status
expect_rc 0 "agent: status"
expect_out "state: ready" "agent: status"
expect_out 'socket: \\.\pipe\aws-vault-agent-file-S-1-' "agent: status names the per-user pipe"
pipe_name=$(sed -n 's/^socket: //p' "$work/out" | tr -d '\r')
sddl=$(gocred pipe-sddl "$pipe_name" | tr -d '\r') || die "agent: cannot read the pipe's security descriptor"
sid=$(sed -n 's/^O:\(S-1-[0-9-]*\)D:.*/\1/p' <<<"$sddl")
[ -n "$sid" ] || die "agent: the pipe has no user owner: $sddl"
# Protected (P: nothing inherited), one entry, for the owner only.
[ "$(grep -o '(A;' <<<"$sddl" | wc -l)" = 1 ] && grep -qF "D:P(A;;" <<<"$sddl" && grep -qF ";;;$sid)" <<<"$sddl" ||
    die "agent: the pipe's access list is not owner-only: $sddl"
ok "agent: the pipe is owned by the user and only the user may open it ($sddl)"
run_av -- --debug export --no-session --format=json agentp
expect_rc 0 "agent: export through the agent"
grep -qF "through the agent" "$work/err" || die "agent: --debug does not say the agent served it: $(cat "$work/err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["AccessKeyId"]==sys.argv[2], d' \
    "$work/out" "$key" || die "agent: export through the agent: $(cat "$work/out")"
run_av "AWS_VAULT_FILE_PASSPHRASE=wine-pass" -- agent start
[ "$rc" != 0 ] || die "agent: a second start succeeded"
grep -qF "already running" "$work/err" || die "agent: second start: $(cat "$work/err")"
run_av -- agent status
expect_out "items held: 1" "agent: status after a read"
ok "agent: commands are served over the named pipe without the passphrase"

run_av -- agent stop
expect_rc 0 "agent: stop"
grep -qF "aws-vault agent stopped" "$work/err" || die "agent: stop: $(cat "$work/err")"
run_av -- agent status
expect_rc 1 "agent: status after stop"
run_av -- export --no-session --format=json agentp
[ "$rc" != 0 ] || die "agent: export without passphrase or agent succeeded"
ok "agent: stop wipes and exits; without it the passphrase is needed again"

echo "$passed passed, 0 failed"
