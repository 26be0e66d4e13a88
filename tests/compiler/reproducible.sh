#!/bin/bash
# reproducible.sh - identical input gives a byte-identical database, whatever the path of the
# KB directory; SOURCE_DATE_EPOCH is stored as given and nothing else depends on the clock.
. "$(dirname "$0")/lib.sh"

"$KBC" --quiet "$FIXTURES/good" -o "$WORK/a.db" 2>/dev/null
expect_rc 0 $? "first compile"
sleep 1
cp -R "$FIXTURES/good" "$WORK/copy"
(cd "$WORK" && "$KBC" --quiet copy -o b.db 2>/dev/null)
expect_rc 0 $? "second compile"
expect_same "$WORK/a.db" "$WORK/b.db" "two compiles of the same KB"

SOURCE_DATE_EPOCH=1700000000 "$KBC" --quiet "$FIXTURES/good" -o "$WORK/c.db" 2>/dev/null
SOURCE_DATE_EPOCH=1700000000 "$KBC" --quiet "$WORK/copy" -o "$WORK/d.db" 2>/dev/null
expect_same "$WORK/c.db" "$WORK/d.db" "two compiles with SOURCE_DATE_EPOCH"
grep -q 1700000000 "$WORK/c.db" || fail "SOURCE_DATE_EPOCH not stored"

echo "changed" >>"$WORK/copy/foreign/notes.md"
"$KBC" --quiet "$WORK/copy" -o "$WORK/e.db" 2>/dev/null
cmp -s "$WORK/a.db" "$WORK/e.db" && fail "a changed source gives the same database"
finish
