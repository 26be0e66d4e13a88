#!/bin/sh
# The -DKB_STATIC=ON kb-lookup: ldd shows no SQLite or PCRE2 (nor, being fully static, any
# shared library), and it answers copied alone into an empty folder with an empty environment,
# then (as root) chrooted into that folder: no /lib, /etc, /dev or /proc at all.
# Usage: static.sh PATH/TO/kb-lookup
set -u
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$1" "$dir/kb-lookup"
text='535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.'
passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
answers() { # NAME OUTPUT
    case $2 in *'"id":"m365-smtp-auth-disabled"'*) ok ;; *) fail "$1: $2" ;; esac
}

deps=$(ldd "$dir/kb-lookup" 2>&1)
case $deps in *libsqlite3* | *libpcre2*) fail "ldd shows shared SQLite or PCRE2: $deps" ;; *) ok ;; esac
case $deps in *'not a dynamic executable'* | *'statically linked'*) ok ;; *) fail "not fully static: $deps" ;; esac
echo "size: $(wc -c <"$dir/kb-lookup") bytes"

answers "empty folder" "$(cd "$dir" && env -i ./kb-lookup --json "$text" 2>&1)"
out=$(cd "$dir" && env -i ./kb-lookup --version 2>&1)
case $out in *'SQLite 3.'*'PCRE2 10.'*) ok ;; *) fail "--version: $out" ;; esac

chroot=$(command -v chroot || true)
if [ "$(id -u)" -eq 0 ] && [ -n "$chroot" ]; then
    answers "empty chroot" "$(env -i "$chroot" "$dir" /kb-lookup --json "$text" 2>&1)"
    # Reading the error from stdin, in the chroot too.
    out=$(printf 'smtp error: 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table\n' |
        env -i "$chroot" "$dir" /kb-lookup --json 2>&1)
    case $out in *'"matches":[{'*) ok ;; *) fail "empty chroot, stdin: $out" ;; esac
else
    echo "not root: the empty-chroot run is left out"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
