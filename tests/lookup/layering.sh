#!/bin/sh
# layering.sh - the text layers call downwards only (PIPELINE.md): kb_clean.c (control bytes
# and ANSI out of a line) uses nothing of kb_mask.c or kb_norm.c, and kb_mask.c (secrets out)
# nothing of kb_norm.c; normalisation may call both. Checked on the sources: a function a
# file defines must not be called by a file below it.
# Usage: layering.sh LOOKUP_SOURCE_DIR
set -eu
dir=$1
defined() { # FILE: the exported kb_ functions it defines
    sed -n 's/^[a-z][a-z_ ]*[ *]\(kb_[a-z0-9_]*\)(.*/\1/p' "$1" | sort -u
}
fail=0
check() { # LOWER UPPER: LOWER must not call what UPPER defines
    for f in $(defined "$dir/$2"); do
        if grep -q "\b$f(" "$dir/$1"; then
            echo "FAIL: $1 calls $f of $2"
            fail=1
        fi
    done
}
check kb_clean.c kb_mask.c
check kb_clean.c kb_norm.c
check kb_mask.c kb_norm.c
[ "$fail" = 0 ] && echo "ok: kb_clean.c <- kb_mask.c <- kb_norm.c"
exit $fail
