#!/bin/sh
# 'cmake --install' gives a working layout: kb-lookup answers from its embedded KB and from the
# installed database file, kb-compile runs, the man pages and completions are where man and
# the shells look. Usage: install.sh BUILD_DIR
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
checks=3
for f in share/man/man1/kb-lookup.1.gz share/man/man1/kb-compile.1.gz share/man/man5/kb-format.5.gz \
    share/bash-completion/completions/kb-lookup share/zsh/vendor-completions/_kb-lookup \
    share/fish/vendor_completions.d/kb-lookup.fish; do
    checks=$((checks + 1))
    [ -s "$prefix/$f" ] || { echo "FAIL: $f not installed" >&2; failed=$((failed + 1)); }
done
echo "$((checks - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
