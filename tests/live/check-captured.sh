#!/usr/bin/env bash
# Looks up captured client outputs with kb-lookup and compares the first match with the
# expected entry id (issue 13). Needs no root and no servers: ctest's live_captured runs it on
# tests/live/captured/, and run.sh runs it on what it has just captured.
#
#   tests/live/check-captured.sh KB_LOOKUP [DIR [KNOWN_GAPS]]
#
# DIR holds SCENARIO--CLIENT.txt files and expected.tsv (file, expected id). KNOWN_GAPS lists
# "scenario client expected" lines that fail today: such a failure is reported as GAP and is
# not counted; a listed one that now passes is FIXED and fails the run, so that the list stays
# honest. Anything else that does not find the expected entry is a FAIL.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kb=${1:?usage: check-captured.sh KB_LOOKUP [DIR [KNOWN_GAPS]]}
dir=${2:-$here/captured}
gaps=${3:-$here/known-gaps.txt}
[ -f "$dir/expected.tsv" ] || { echo "no $dir/expected.tsv" >&2; exit 2; }

declare -A gap=()
if [ -f "$gaps" ]; then
    while read -r s c e _; do
        case $s in '' | '#'*) continue ;; esac
        gap["$s $c"]=$e
    done <"$gaps"
fi

# The first match's id: in kb-lookup's JSON, "matches":[{"id":"..." occurs only as structure
# (quotes inside strings are escaped), so sed reads it without a JSON parser.
first_id() {
    local id
    id=$("$kb" --json --top 3 <"$1" 2>/dev/null | sed -n 's/.*"matches":\[{"id":"\([^"]*\)".*/\1/p')
    echo "${id:-none}"
}

pass=0 fail=0 gapn=0 fixed=0
declare -A seen=()
while IFS=$'\t' read -r file expected; do
    [ "$file" = file ] && continue
    [ -f "$dir/$file" ] || { echo "FAIL ${file%.txt} missing file"; fail=$((fail + 1)); continue; }
    base=${file%.txt}
    scen=${base%%--*}
    client=${base#*--}
    seen["$scen $client"]=1
    got=$(first_id "$dir/$file")
    listed=${gap["$scen $client"]:-}
    if [ "$got" = "$expected" ]; then
        if [ -n "$listed" ]; then
            echo "FIXED $scen $client $expected (listed as a known gap: remove it from known-gaps.txt)"
            fixed=$((fixed + 1))
        else
            echo "PASS $scen $client $expected"
            pass=$((pass + 1))
        fi
    elif [ -n "$listed" ]; then
        echo "GAP $scen $client $expected $got"
        gapn=$((gapn + 1))
    else
        echo "FAIL $scen $client $expected $got"
        fail=$((fail + 1))
    fi
done <"$dir/expected.tsv"

echo "live: $pass passed, $gapn known gaps, $fixed fixed, $fail failed"
[ $fail -eq 0 ] && [ $fixed -eq 0 ]
