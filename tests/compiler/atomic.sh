#!/bin/bash
# atomic.sh - a compile that fails (errors in the KB, a failing self-test, an unusable
# output) leaves the previous output byte-identical and no temporary file behind.
. "$(dirname "$0")/lib.sh"

out=$WORK/kb.db
"$KBC" --quiet "$FIXTURES/good" -o "$out"
expect_rc 0 $? "first compile"
cp "$out" "$WORK/before.db"

for bad in duplicate-id regex-invalid selftest-wrong-first selftest-counterexample; do
    "$KBC" --quiet "$FIXTURES/diag/$bad" -o "$out" 2>"$WORK/err"
    expect_rc 1 $? "compile of $bad"
    expect_grep ": error: " "$WORK/err" "compile of $bad reports an error"
    expect_same "$WORK/before.db" "$out" "output after the failed compile of $bad"
done

# an output that is a directory: refused before anything is written (see output.sh)
mkdir "$WORK/dir.db"
"$KBC" --quiet "$FIXTURES/good" -o "$WORK/dir.db" 2>"$WORK/err"
expect_rc 2 $? "output is a directory"
expect_grep "kb-compile: '$WORK/dir.db' is a directory" "$WORK/err" "output is a directory"
[ -z "$(ls -A "$WORK/dir.db")" ] || fail "something was written into the directory"
no_temp_files "$WORK"
finish
