#!/bin/bash
# signal.sh - SIGTERM or SIGINT while the database is being built or written leaves no
# temporary file and the previous output byte-identical (or the new one complete). A KB big
# enough to keep the compiler busy for a moment is generated and the signal sent while the
# compiler still runs; if the compile ends before a signal could be sent the test is skipped
# (77) rather than flaky. (The temporary file has no name while it is written: the test
# cannot wait for it to appear; tests/reliability/kill9.sh does the same with kill -9.)
. "$(dirname "$0")/lib.sh"

kb=$WORK/kb
mkdir -p "$kb"
awk -v dir="$kb" 'BEGIN { for (i = 0; i < 4000; i++) {
    f = sprintf("%s/page-%05d.md", dir, i)
    printf "# Page %d\n\n", i > f
    for (j = 0; j < 40; j++) printf "Paragraph %d of page %d with words alpha%d beta%d gamma.\n\n", j, i, i * j, j > f
    close(f) } }'
out=$WORK/out/kb.db
mkdir -p "$WORK/out"
"$KBC" --quiet "$kb" -o "$WORK/complete.db"
expect_rc 0 $? "compile without a signal"
echo "previous database" >"$out"
cp "$out" "$WORK/before"

caught=0
for sig in TERM INT; do
    "$KBC" --quiet "$kb" -o "$out" 2>/dev/null &
    pid=$!
    sleep 0.3
    sent=0
    if kill -s "$sig" "$pid" 2>/dev/null; then
        sent=1
        caught=$((caught + 1))
    fi
    wait "$pid"
    rc=$?
    if ! cmp -s "$WORK/before" "$out" && ! cmp -s "$WORK/complete.db" "$out"; then
        fail "output after SIG$sig is neither the previous nor the complete database"
    fi
    no_temp_files "$WORK/out"
    if [ "$sent" -eq 1 ] && [ "$rc" -lt 128 ] && [ "$rc" -ne 0 ]; then
        fail "SIG$sig: exit status $rc, expected death by the signal"
    fi
    cp "$WORK/before" "$out"
done
echo "signals sent while the compiler ran: $caught"
if [ "$caught" -eq 0 ] && [ "$failures" -eq 0 ]; then
    echo "the compile ended before a signal could be sent: skipped"
    exit 77
fi
finish
