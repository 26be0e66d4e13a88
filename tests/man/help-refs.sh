#!/bin/sh
# --help points at documentation that is installed (issue 18): every "man [SECTION] PAGE" it
# names is a page the build renders into MAN_DIR (and cmake --install installs from there),
# and it names no file of a source checkout (kb/README.md, docs/...), which an installed
# program does not have.
# Usage: help-refs.sh PROGRAM MAN_DIR
set -eu
prog=$1 man_dir=$2
help=$("$prog" --help)
failed=0
fail() { echo "FAIL: $1" >&2; failed=$((failed + 1)); }
refs=$(printf '%s\n' "$help" | grep -oE "man( [1-8])? [a-z][a-z0-9-]*" || true)
[ -n "$refs" ] || fail "'$prog --help' names no man page"
printf '%s\n' "$refs" | while read -r _ a b; do
    if [ -n "$b" ]; then page=$b.$a; else page=$a.1; fi
    [ -f "$man_dir/$page" ] || { echo "FAIL: '$prog --help' names $page, not in $man_dir" >&2; exit 1; }
    echo "ok: $page"
done || failed=$((failed + 1))
if printf '%s\n' "$help" | grep -E '(README|[A-Za-z0-9_]\.md|docs/|kb/)'; then
    fail "'$prog --help' names a file of the source checkout (above)"
fi
[ "$failed" -eq 0 ]
