#!/bin/sh
# 'cmake --install' gives a working layout: kb-lookup answers from its embedded KB and from the
# installed database file, kb-compile runs. Usage: install.sh BUILD_DIR
set -eu
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$1" --prefix "$prefix" >/dev/null
text='535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.'
failed=0
check() {
    case "$2" in
    *'"id":"m365-smtp-auth-disabled"'*) ;;
    *) echo "FAIL: $1: $2" >&2; failed=$((failed + 1)) ;;
    esac
}
check "embedded KB" "$(env -u KB_DB "$prefix/bin/kb-lookup" --json "$text")"
check "installed kb.db" "$("$prefix/bin/kb-lookup" --json --db "$prefix/share/kb/kb.db" "$text")"
"$prefix/bin/kb-compile" --version >/dev/null || { echo "FAIL: kb-compile --version" >&2; failed=$((failed + 1)); }
echo "$((3 - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
