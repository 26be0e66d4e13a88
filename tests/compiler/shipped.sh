#!/bin/bash
# shipped.sh KB_COMPILE TESTDIR SHIPPED_KB - the shipped KB compiles with no diagnostic at all
# (issue 18): a newcomer compiling on top of it sees only their own warnings. Every example
# passes the self-test honestly (found by its entry's signatures or conditions, or marked
# via=fulltext).
. "$(dirname "$0")/lib.sh"
"$KBC" --check --quiet "$3" 2>"$WORK/err"
expect_rc 0 $? "the shipped KB"
if [ -s "$WORK/err" ]; then
    fail "the shipped KB prints diagnostics:"
    head -20 "$WORK/err"
fi
finish
