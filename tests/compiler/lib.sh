# lib.sh - shared by the kb-compile test scripts (sourced): arguments, a scratch directory
# removed on exit, and small assertions. Every script is run as: bash X.sh KB_COMPILE TESTDIR
set -u
KBC=$1
TESTDIR=$2
FIXTURES=$TESTDIR/fixtures
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kbc-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect_rc WANT GOT WHAT
expect_rc() {
    if [ "$2" -ne "$1" ]; then fail "$3: exit status $2, expected $1"; fi
}

# expect_grep PATTERN FILE WHAT: FILE must contain the fixed string PATTERN
expect_grep() {
    if ! grep -qF -- "$1" "$2"; then
        fail "$3: '$1' not found in:"
        sed 's/^/    /' "$2" | head -20
    fi
}

# expect_same FILE_A FILE_B WHAT: byte-identical
expect_same() {
    if ! cmp -s "$1" "$2"; then fail "$3: files differ"; fi
}

# no_temp_files DIR: no kb-compile temporary file left behind
no_temp_files() {
    local left
    left=$(find "$1" -name '*.tmp-*' | head -5)
    if [ -n "$left" ]; then fail "temporary files left behind: $left"; fi
}

finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)"
        exit 1
    fi
    echo "ok"
    exit 0
}

# The value at a dotted path (matches.0.id) of the JSON in FILE, as Python prints it.
json_get() { # FILE DOTTED.PATH
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d.get(k) if d is not None else None
print(d)' "$1" "$2"
}
