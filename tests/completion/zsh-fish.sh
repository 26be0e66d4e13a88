#!/bin/sh
# The zsh and fish completions, with whichever of the two shells is installed: both parse, and
# fish (whose 'complete -C' completes a command line without a terminal) offers the --format
# values, the options and, for --show, the ids of the --db given. Exit 77 when neither shell is
# installed. Usage: zsh-fish.sh SOURCE_DIR KB_LOOKUP FIXTURE_DB
set -u
src=$1 lookup=$2 db=$3
passed=0 failed=0 shells=0
result() { # NAME STATUS
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1" >&2; fi
}
if command -v zsh >/dev/null; then
    shells=$((shells + 1))
    for f in "$src"/completion/zsh/_*; do
        zsh -n "$f"
        result "zsh parses $f" $?
    done
fi
if command -v fish >/dev/null; then
    shells=$((shells + 1))
    for f in "$src"/completion/fish/*.fish; do
        fish --no-config --no-execute "$f"
        result "fish parses $f" $?
    done
    # First column of what fish offers for a command line.
    offers() {
        fish --no-config -c "source $src/completion/fish/kb-lookup.fish; complete -C\"\$argv[1]\"" "$1" |
            cut -f1 | sort | tr '\n' ' '
    }
    expect() { # NAME EXPECTED ACTUAL
        [ "$2" = "$3" ]
        status=$?
        [ "$status" -eq 0 ] || printf '  expected: %s\n  offered:  %s\n' "$2" "$3" >&2
        result "fish: $1" "$status"
    }
    expect "--format values" "json markdown text " "$(offers 'kb-lookup --format ')"
    expect "--color values" "always auto never " "$(offers 'kb-lookup --color ')"
    expect "--ex" "--explain " "$(offers 'kb-lookup --ex')"
    expect "--show ids of --db" "$("$lookup" --db "$db" --list-ids | sort | tr '\n' ' ')" \
        "$(offers "$lookup --db $db --show ")"
    expect "--show=fx-p" "--show=fx-password " "$(offers "$lookup --db=$db --show=fx-p")"
fi
if [ "$shells" -eq 0 ]; then
    echo "neither zsh nor fish is installed"
    exit 77
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
