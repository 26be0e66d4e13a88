#!/bin/bash
# recompile.sh - lookups while the database they read is recompiled in place (issue 12): the
# compiler renames a complete new file over the old one, so every lookup reads one whole
# database, old or new, and answers as that one does: never an error, never a mix.
#   recompile.sh KB_COMPILE KB_LOOKUP KB_A KB_B   (two knowledge bases that answer differently)
set -u
KBC=$1 LOOKUP=$2 KB_A=$3 KB_B=$4
ROUNDS=4
[ -n "${KB_SOAK:-}" ] && ROUNDS=40
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kb-recompile.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
QUERY='535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.'

"$KBC" --quiet "$KB_A" -o "$WORK/a.db" 2>/dev/null && "$KBC" --quiet "$KB_B" -o "$WORK/b.db" 2>/dev/null || exit 1
"$LOOKUP" --db "$WORK/a.db" --json "$QUERY" >"$WORK/want-a"
echo "$?" >"$WORK/rc-a"
"$LOOKUP" --db "$WORK/b.db" --json "$QUERY" >"$WORK/want-b"
echo "$?" >"$WORK/rc-b"
cmp -s "$WORK/want-a" "$WORK/want-b" && { echo "the two knowledge bases answer alike"; exit 1; }
cp "$WORK/a.db" "$WORK/kb.db"

( for i in $(seq 1 "$ROUNDS"); do
      "$KBC" --quiet "$KB_B" -o "$WORK/kb.db" 2>/dev/null || echo "compile $i failed" >>"$WORK/compile-errors"
      "$KBC" --quiet "$KB_A" -o "$WORK/kb.db" 2>/dev/null || echo "compile $i failed" >>"$WORK/compile-errors"
  done
  touch "$WORK/done" ) &
compiler=$!

lookups=0 as_a=0 as_b=0
while [ ! -e "$WORK/done" ]; do
    "$LOOKUP" --db "$WORK/kb.db" --json "$QUERY" >"$WORK/got" 2>"$WORK/err"
    rc=$?
    lookups=$((lookups + 1))
    if [ "$rc" = "$(cat "$WORK/rc-a")" ] && cmp -s "$WORK/got" "$WORK/want-a"; then
        as_a=$((as_a + 1))
    elif [ "$rc" = "$(cat "$WORK/rc-b")" ] && cmp -s "$WORK/got" "$WORK/want-b"; then
        as_b=$((as_b + 1))
    else
        fail "lookup $lookups: exit $rc, neither the old nor the new answer: $(head -c 300 "$WORK/err")"
    fi
done
wait "$compiler"
[ -e "$WORK/compile-errors" ] && fail "$(cat "$WORK/compile-errors")"
echo "$lookups lookups during $((ROUNDS * 2)) compiles in place: $as_a answered as the first" \
     "knowledge base, $as_b as the second"
[ "$lookups" -ge 10 ] || fail "only $lookups lookups ran while the database was recompiled"
left=$(ls -A "$WORK" | grep -c 'kb.db.tmp-')
[ "$left" -eq 0 ] || fail "$left temporary files left behind"
[ "$failures" -eq 0 ] && echo ok || echo "$failures failure(s)"
[ "$failures" -eq 0 ]
