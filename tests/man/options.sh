#!/bin/sh
# The man page and --help list the same options: every option --help shows is documented in the
# page, and every option the page documents is in --help, except the hidden ones named here,
# which must be in the page and must not be in --help.
# Usage: options.sh PROGRAM RENDERED_MAN_PAGE [HIDDEN_OPTION...]
set -eu
prog=$1 page=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Short and long options as words: "-o", "--max-input"; not "kb-lookup", "UTF-8" or "-".
options() {
    grep -oE '(^|[^[:alnum:]-])--?[[:alpha:]][[:alnum:]-]*' | sed 's/^[^-]*//' | sort -u
}
"$prog" --help | options >"$tmp/help"
# The page's OPTIONS section (other sections may name other programs' options), as words: drop
# font changes (\f[B], \fB, \f[]), unescape \- . cmark writes ".SH" and the title on two lines.
awk '$1 == ".SH" { if (NF > 1) inside = ($2 == "OPTIONS"); else title = 1; next }
     title { title = 0; inside = ($0 == "OPTIONS"); next }
     inside' "$page" |
    sed -e 's/\\f\[[A-Z]*\]//g' -e 's/\\f[A-Z]//g' -e 's/\\-/-/g' | options >"$tmp/man"
printf '%s\n' "$@" | sed '/^$/d' | sort -u >"$tmp/hidden"

failed=0
fail() { echo "FAIL: $1" >&2; failed=$((failed + 1)); }
for o in $(comm -23 "$tmp/help" "$tmp/man"); do fail "$o is in '$prog --help' but not in $page"; done
for o in $(comm -23 "$tmp/man" "$tmp/help" | comm -23 - "$tmp/hidden"); do
    fail "$o is in $page but not in '$prog --help'"
done
for o in $(comm -23 "$tmp/hidden" "$tmp/man"); do fail "hidden option $o is not documented in $page"; done
for o in $(comm -12 "$tmp/hidden" "$tmp/help"); do fail "hidden option $o is shown by --help"; done
[ -s "$tmp/help" ] || fail "no options found in '$prog --help'"
grep -q "^\.TH \"" "$page" || fail "$page has no .TH header"
echo "$(wc -l <"$tmp/help") options checked, $failed failed"
[ "$failed" -eq 0 ]
