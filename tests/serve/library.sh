#!/bin/sh
# The installed library (issue 9): 'cmake --install' into a temporary prefix gives libkb.a,
# libkb.so with a versioned SONAME exporting exactly the functions of kb.h, kb.h and kb.pc;
# examples/demo.c built with 'cc demo.c $(pkg-config --cflags --libs kb)' against it (shared,
# then static) opens the installed database and answers.
# Usage: library.sh BUILD_DIR SOURCE_DIR C_COMPILER SANITIZE(ON/OFF)
set -u
build=$1 src=$2 cc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
# A sanitizer build's library needs the sanitizer runtime in the program too.
case $4 in ON | on | 1 | TRUE | true) cflags="-fsanitize=address,undefined" ;; *) cflags= ;; esac
command -v pkg-config >/dev/null || { echo "skipped: pkg-config not installed"; exit 77; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null || { echo "FAIL: cmake --install"; exit 1; }
pc=$(find "$prefix" -name kb.pc)
[ -n "$pc" ] && ok || { echo "FAIL: no kb.pc installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
[ -f "$prefix/include/kb.h" ] && ok || fail "kb.h not installed in include/"
[ -f "$libdir/libkb.a" ] && ok || fail "libkb.a not installed in $libdir"
so=$(readlink -f "$libdir/libkb.so")
soname=$(readelf -d "$so" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
case $soname in libkb.so.[0-9]*) ok ;; *) fail "libkb.so has no versioned SONAME: '$soname'" ;; esac
[ -L "$libdir/$soname" ] && ok || fail "no $soname link beside libkb.so"

# Exported: the functions kb.h declares (outside comments), no more, no fewer.
awk '{ line = $0; out = ""
        while (line != "") {
            if (comment) { i = index(line, "*/"); if (!i) break; line = substr(line, i + 2); comment = 0 }
            else { i = index(line, "/*"); if (!i) { out = out line; break }
                   out = out substr(line, 1, i - 1); line = substr(line, i + 2); comment = 1 } }
        print out }' "$src/lookup/kb.h" | grep -oE '\bkb_[a-z0-9_]+ *\(' |
    sed 's/ *($//' | sort -u >"$tmp/declared"
nm -D --defined-only "$so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/exported"
if cmp -s "$tmp/declared" "$tmp/exported"; then ok; else
    fail "libkb.so exports differ from kb.h (edit lookup/libkb.map):"
    diff "$tmp/declared" "$tmp/exported" >&2
fi

export PKG_CONFIG_PATH="$libdir/pkgconfig"
text='535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.'
# shared
if "$cc" $cflags -o "$tmp/demo" "$src/examples/demo.c" $(pkg-config --cflags --libs kb) 2>"$tmp/cc.err"; then
    ok
    ldd "$tmp/demo" | grep -q "libkb.so.* => $libdir/\|libkb.so.* => not found" && ok ||
        fail "demo does not link libkb.so: $(ldd "$tmp/demo")"
    out=$(LD_LIBRARY_PATH=$libdir "$tmp/demo" "$prefix/share/kb/kb.db" "$text")
    code=$?
    [ $code -eq 0 ] && ok || fail "demo (shared) exit $code: $out"
    case $out in *"(m365-smtp-auth-disabled, exact match"*) ok ;; *) fail "demo (shared) answered: $out" ;; esac
else
    fail "cc demo.c \$(pkg-config --cflags --libs kb): $(cat "$tmp/cc.err")"
fi
# static: the archive and what pkg-config --static says it needs
libs=$(pkg-config --libs --static kb | sed 's/-lkb\b//')
if "$cc" $cflags -o "$tmp/demo-static" "$src/examples/demo.c" $(pkg-config --cflags kb) \
    "$libdir/libkb.a" $libs 2>"$tmp/cc.err"; then
    ok
    ldd "$tmp/demo-static" | grep -q libkb && fail "demo-static links libkb.so" || ok
    out=$("$tmp/demo-static" "$prefix/share/kb/kb.db" "$text")
    case $out in *"(m365-smtp-auth-disabled, exact match"*) ok ;; *) fail "demo (static) answered: $out" ;; esac
    "$tmp/demo-static" "$tmp/none.db" x 2>"$tmp/err"
    [ $? -eq 2 ] && grep -q "cannot open database" "$tmp/err" && ok || fail "demo on a missing db: $(cat "$tmp/err")"
else
    fail "cc demo.c libkb.a \$(pkg-config --libs --static kb): $(cat "$tmp/cc.err")"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
