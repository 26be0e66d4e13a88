#!/bin/sh
# kb-lookup copied alone to an empty folder must answer from its embedded knowledge base,
# as it would on an air-gapped machine. Usage: standalone.sh PATH/TO/kb-lookup
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$1" "$dir/kb-lookup"
cd "$dir"
out=$(env -u KB_DB ./kb-lookup --json '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.')
case "$out" in
*'"id":"m365-smtp-auth-disabled"'*) echo "1 passed, 0 failed" ;;
*) echo "standalone lookup did not answer from the embedded KB: $out" >&2; echo "0 passed, 1 failed"; exit 1 ;;
esac
