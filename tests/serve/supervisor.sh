#!/bin/bash
# kb-lookup --serve under socket activation, as the systemd units in the README run it
# (Accept=yes, StandardInput=socket): systemd-socket-activate --inetd --accept listens on a
# TCP port of 127.0.0.1 and starts one kb-lookup --serve per connection with the connection as
# its stdin and stdout. Two clients connect at once, each sends requests and reads every
# answer before sending the next (answers are flushed, the connection stays open), then
# closes: the process ends at end of input. Skipped (77) without systemd-socket-activate.
# Usage: supervisor.sh KB_LOOKUP DB
set -u
lookup=$1 db=$2
command -v systemd-socket-activate >/dev/null ||
    { echo "skipped: systemd-socket-activate not installed (package systemd)"; exit 77; }
tmp=$(mktemp -d)
activator=
cleanup() {
    [ -n "$activator" ] && kill "$activator" 2>/dev/null && wait "$activator" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
failed=0 passed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }

# A free port: try a few at random until the activator keeps listening.
for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    systemd-socket-activate --inetd --accept --listen="127.0.0.1:$port" \
        "$lookup" --serve --db "$db" 2>"$tmp/activator.log" &
    activator=$!
    for _ in $(seq 50); do
        grep -q "Listening on" "$tmp/activator.log" 2>/dev/null && break
        kill -0 "$activator" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$activator" 2>/dev/null && grep -q "Listening on" "$tmp/activator.log" && break
    wait "$activator" 2>/dev/null
    activator=
done
[ -n "$activator" ] || { cat "$tmp/activator.log"; echo "FAIL: no port to listen on"; exit 1; }

text='535 5.7.8 Error: authentication failed: authentication failure'
# One client: connects, asks N times on one connection, reading each answer before the next
# request (a hang guard of 120 s per answer, not a timed assertion), then disconnects.
client() {
    local name=$1 n=$2 i answer
    exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
    for i in $(seq "$n"); do
        printf '{"id": "%s-%d", "text": "%s"}\n' "$name" "$i" "$text" >&"$fd"
        IFS= read -r -t 120 answer <&"$fd" || { echo "no answer to $name-$i"; return 1; }
        case $answer in
        "{\"id\":\"$name-$i\",\"schema_version\":1,\"kb\":"*) ;;
        *) echo "unexpected answer to $name-$i: ${answer:0:200}"; return 1 ;;
        esac
    done
    exec {fd}>&-
    echo "$name: $n answers"
}
client a 5 >"$tmp/a.out" 2>&1 &
pa=$!
client b 5 >"$tmp/b.out" 2>&1 &
pb=$!
wait "$pa" && ok || fail "client a: $(cat "$tmp/a.out")"
wait "$pb" && ok || fail "client b: $(cat "$tmp/b.out")"
grep -q "a: 5 answers" "$tmp/a.out" && ok || fail "client a: $(cat "$tmp/a.out")"
grep -q "b: 5 answers" "$tmp/b.out" && ok || fail "client b: $(cat "$tmp/b.out")"

# The answer over the socket is the one --json prints, with the id first.
exec {fd}<>"/dev/tcp/127.0.0.1/$port"
printf '{"id": 1, "text": "%s"}\n' "$text" >&"$fd"
IFS= read -r -t 120 answer <&"$fd"
exec {fd}>&-
want=$("$lookup" --json --db "$db" "$text")
[ "$answer" = "{\"id\":1,${want#\{}" ] && ok || fail "socket answer differs from --json: ${answer:0:200}"

# Each connection's process ended with its connection: none is left behind.
for _ in $(seq 100); do
    pgrep -P "$activator" >/dev/null || break
    sleep 0.1
done
pgrep -P "$activator" >/dev/null && fail "kb-lookup processes left after their clients closed" || ok

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
