#!/bin/bash
# The bash completions, loaded into plain bash (no bash-completion package needed) and called
# the way bash calls them, with COMP_WORDS and COMP_CWORD set: they offer exactly the options
# of --help, the values of --format and --color, and for --show the ids of the knowledge base
# in use (embedded, --db or KB_DB).
# Usage: bash.sh SOURCE_DIR KB_LOOKUP KB_COMPILE FIXTURE_DB
set -u
src=$1 lookup=$2 compile=$3 db=$4
source "$src/completion/bash/kb-lookup" || exit 1
source "$src/completion/bash/kb-compile" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0 failed=0
# What the completion function offers for the words given (the last is the one completed).
offers() {
    local fn=$1
    shift
    COMP_WORDS=("$@") COMP_CWORD=$(($# - 1)) COMPREPLY=()
    "$fn"
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
}
check() { # NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        printf 'FAIL: %s\n  expected: %s\n  offered:  %s\n' "$1" "$(echo $2)" "$(echo $3)" >&2
    fi
}
lines() { printf '%s\n' "$@" | sort; }
help_options() {
    "$1" --help | grep -oE '(^|[^[:alnum:]-])--?[[:alpha:]][[:alnum:]-]*' | sed 's/^[^-]*//' | sort -u
}

check "registered for kb-lookup" "complete -F _kb_lookup kb-lookup" "$(complete -p kb-lookup)"
check "registered for kb-compile" "complete -F _kb_compile kb-compile" "$(complete -p kb-compile)"
check "kb-lookup options are those of --help" "$(help_options "$lookup")" \
    "$(offers _kb_lookup kb-lookup -)"
check "--fo" "--format" "$(offers _kb_lookup kb-lookup --fo)"
check "--list-ids stays hidden" "--list" "$(offers _kb_lookup kb-lookup --list)"
check "--format values" "$(lines json markdown text)" "$(offers _kb_lookup kb-lookup --format '')"
check "--format=j (split at =)" "json" "$(offers _kb_lookup kb-lookup --format = j)"
check "--format=m (one word)" "markdown" "$(offers _kb_lookup kb-lookup --format=m)"
check "--color values" "$(lines always auto never)" "$(offers _kb_lookup kb-lookup --color '')"
check "--color a" "$(lines always auto)" "$(offers _kb_lookup kb-lookup --json --color a)"
check "--show: every id of --db" "$("$lookup" --db "$db" --list-ids | sort)" \
    "$(offers _kb_lookup "$lookup" --db "$db" --show '')"
check "--show fx-p with --db" "fx-password" "$(offers _kb_lookup "$lookup" --db "$db" --show fx-p)"
check "--show=fx-g with --db=" "fx-greylist" "$(offers _kb_lookup "$lookup" --db="$db" --show=fx-g)"
check "--show with KB_DB" "fx-refused" "$(KB_DB=$db offers _kb_lookup "$lookup" --show fx-r)"
check "--show from the embedded KB" "m365-smtp-auth-disabled" \
    "$(unset KB_DB; offers _kb_lookup "$lookup" --show m365-smtp-auth)"
mkdir "$tmp/home" && cp "$db" "$tmp/home/my.db"
check "--show with ~/ in --db" "fx-auth-off" \
    "$(HOME=$tmp/home offers _kb_lookup "$lookup" --db '~/my.db' --show fx-a)"
check "--top takes a number: nothing offered" "" "$(offers _kb_lookup kb-lookup --top '')"
touch "$tmp/mine.db"
check "--db completes files" "$tmp/mine.db" "$(offers _kb_lookup kb-lookup --db "$tmp/mi")"

check "kb-compile options are those of --help" "$(help_options "$compile")" \
    "$(offers _kb_compile kb-compile -)"
mkdir "$tmp/my-kb"
check "kb-compile KB_DIR completes folders" "$tmp/my-kb" "$(offers _kb_compile kb-compile "$tmp/m")"
check "kb-compile --color values" "$(lines always auto never)" \
    "$(offers _kb_compile kb-compile --color '')"
check "kb-compile -o completes files" "$tmp/mine.db" "$(offers _kb_compile kb-compile -o "$tmp/mi")"
touch "$tmp/misses.log"
check "kb-compile --gaps completes files" "$tmp/misses.log" \
    "$(offers _kb_compile kb-compile --gaps "$tmp/miss")"
check "--log-misses completes files" "$tmp/misses.log" \
    "$(offers _kb_lookup kb-lookup --log-misses "$tmp/miss")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
