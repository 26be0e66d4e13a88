#!/bin/bash
# corpora.sh KB_COMPILE TESTDIR CORPORA - compiles the foreign Markdown corpora of
# shared/corpora (none written for this KB) without errors and reports the time of each.
# Skipped (77) when the corpora are not there.
. "$(dirname "$0")/lib.sh"
corpora=$3
if [ ! -d "$corpora" ]; then
    echo "no corpora at $corpora: skipped"
    exit 77
fi
for c in ms-exchange-mailflow docker-mailserver-docs tldr-pages-en/pages; do
    if [ ! -d "$corpora/$c" ]; then
        fail "corpus $c missing"
        continue
    fi
    start=$(date +%s.%N)
    "$KBC" "$corpora/$c" -o "$WORK/corpus.db" 2>"$WORK/err"
    rc=$?
    end=$(date +%s.%N)
    expect_rc 0 "$rc" "compile of $c"
    grep ': error: ' "$WORK/err" | head -5
    tail -1 "$WORK/err"
    echo "$c: $(echo "$end - $start" | bc 2>/dev/null || echo "?") s"
done
no_temp_files "$WORK"
finish
