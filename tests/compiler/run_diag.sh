#!/bin/bash
# run_diag.sh KB_COMPILE FIXTURES NAME - one diagnostic fixture: compiles FIXTURES/NAME with
# --check --quiet from inside FIXTURES (so paths in messages are stable) and compares stderr
# with NAME/expected.stderr exactly. Exit status must be 1 when an error is expected, else 0.
# KBC_REGEN=1 writes what it got to expected.stderr (review the diff before committing).
set -u
kbc=$1 fixtures=$2 name=$3
cd "$fixtures" || exit 1
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
"$kbc" --check --quiet "$name" 2>"$actual" >/dev/null
rc=$?
[ -n "${KBC_REGEN:-}" ] && cp "$actual" "$name/expected.stderr"
want_rc=0
grep -q ': error: ' "$name/expected.stderr" && want_rc=1
if ! diff -u "$name/expected.stderr" "$actual"; then
    echo "FAIL: $name: stderr differs from expected.stderr (diff above)"
    exit 1
fi
if [ "$rc" -ne "$want_rc" ]; then
    echo "FAIL: $name: exit status $rc, expected $want_rc"
    exit 1
fi
echo "ok: $name"
