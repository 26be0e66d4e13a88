#!/bin/sh
# The zsh and fish completions, with whichever of the two shells is installed: both parse, and
# offer the options of --help, the --format and --color values and, for --show, the ids of the
# --db given. zsh runs in a pseudo-terminal (zsh-offers.zsh); fish's 'complete -C' needs none.
# Exit 77 when neither shell is installed. Usage: zsh-fish.sh SOURCE_DIR KB_LOOKUP FIXTURE_DB
set -u
src=$1 lookup=$2 db=$3
passed=0 failed=0 shells=0
result() { # NAME STATUS
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1" >&2; fi
}
expect() { # NAME EXPECTED ACTUAL
    [ "$2" = "$3" ]
    status=$?
    [ "$status" -eq 0 ] || printf '  expected: %s\n  offered:  %s\n' "$2" "$3" >&2
    result "$1" "$status"
}
help_options() {
    "$lookup" --help | grep -oE '(^|[^[:alnum:]-])--?[[:alpha:]][[:alnum:]-]*' | sed 's/^[^-]*//' |
        sort -u | tr '\n' ' '
}
ids="$("$lookup" --db "$db" --list-ids | sort | tr '\n' ' ')"
if command -v zsh >/dev/null; then
    shells=$((shells + 1))
    for f in "$src"/completion/zsh/_*; do
        zsh -n "$f"
        result "zsh parses $f" $?
    done
    # The set of matches offered: zsh may call a completion function more than once for one
    # Tab (another tag, a retry after a redraw on a loaded machine), each call printing its
    # matches again.
    zoffers() {
        zsh -f "$src/tests/completion/zsh-offers.zsh" "$src/completion/zsh" "$1" | tr -d '\r' |
            sed '/^$/d' | sort -u | tr '\n' ' '
    }
    expect "zsh: options of --help" "$(help_options)" "$(zoffers 'kb-lookup -')"
    expect "zsh: --format values" "json markdown text " "$(zoffers 'kb-lookup --format ')"
    expect "zsh: --color= values" "always auto never " "$(zoffers 'kb-lookup --color=')"
    expect "zsh: --show ids of --db" "$ids" "$(zoffers "$lookup --db $db --show ")"
    expect "zsh: --show=fx-p with --db=" "fx-password " "$(zoffers "$lookup --db=$db --show=fx-p")"
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
    expect "fish: options of --help" "$(help_options)" "$(offers 'kb-lookup -')"
    expect "fish: --format values" "json markdown text " "$(offers 'kb-lookup --format ')"
    expect "fish: --color values" "always auto never " "$(offers 'kb-lookup --color ')"
    expect "fish: --show ids of --db" "$ids" "$(offers "$lookup --db $db --show ")"
    expect "fish: --show=fx-p with --db=" "--show=fx-password " "$(offers "$lookup --db=$db --show=fx-p")"
fi
if [ "$shells" -eq 0 ]; then
    echo "neither zsh nor fish is installed"
    exit 77
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
