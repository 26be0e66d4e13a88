#!/bin/bash
# cli.sh - kb-compile's command line: --help, --version, usage errors (exit 2 with a pointer
# to --help), a missing KB_DIR, an unusable output path, --check writing nothing.
. "$(dirname "$0")/lib.sh"

"$KBC" --help >"$WORK/out" 2>"$WORK/err"
expect_rc 0 $? "--help"
expect_grep "Usage: kb-compile [options] KB_DIR -o OUT.db" "$WORK/out" "--help on stdout"
[ -s "$WORK/err" ] && fail "--help wrote to stderr"

"$KBC" --version >"$WORK/out" 2>&1
expect_rc 0 $? "--version"
grep -Eq '^kb-compile [0-9]+\.[0-9]+\.[0-9]+ \(database schema [0-9]+\)$' "$WORK/out" \
    || fail "--version output: $(cat "$WORK/out")"

for args in "" "--bogus $FIXTURES/good -o $WORK/x.db" "$FIXTURES/good" \
    "$FIXTURES/good $FIXTURES/good -o $WORK/x.db" "$FIXTURES/good -o" \
    "--check $FIXTURES/good -o $WORK/x.db"; do
    # shellcheck disable=SC2086 # word splitting of $args is intended
    "$KBC" $args >"$WORK/out" 2>"$WORK/err"
    expect_rc 2 $? "usage error for '$args'"
    expect_grep "Try 'kb-compile --help' for more information." "$WORK/err" "'$args'"
    [ -s "$WORK/out" ] && fail "usage error for '$args' wrote to stdout"
done

"$KBC" "$WORK/no-such-dir" -o "$WORK/x.db" 2>"$WORK/err"
expect_rc 2 $? "missing KB_DIR"
expect_grep "kb-compile: cannot open '$WORK/no-such-dir': No such file or directory" \
    "$WORK/err" "missing KB_DIR"

"$KBC" --quiet "$FIXTURES/good" -o "$WORK/no-such-dir/x.db" 2>"$WORK/err"
expect_rc 2 $? "output in a missing directory"
expect_grep "kb-compile: cannot create a temporary file in the folder '$WORK/no-such-dir' (to write '$WORK/no-such-dir/x.db'): No such file or directory" \
    "$WORK/err" "output in a missing directory names the folder"

mkdir "$WORK/check"
(cd "$WORK/check" && TMPDIR=$WORK/check "$KBC" --check "$FIXTURES/good" 2>"$WORK/err")
expect_rc 0 $? "--check"
expect_grep "kb-compile: 4 articles, 5 entries, 5 signatures, 6 harvested, 3 examples checked in" \
    "$WORK/err" "--check summary"
[ -n "$(ls -A "$WORK/check")" ] && fail "--check wrote something"

"$KBC" --no-self-test "$FIXTURES/good" -o "$WORK/x.db" 2>"$WORK/err"
expect_rc 0 $? "--no-self-test"
expect_grep "examples not self-tested in" "$WORK/err" "--no-self-test summary"
expect_grep " -> $WORK/x.db" "$WORK/err" "summary names the output"

"$KBC" --quiet "$FIXTURES/good" -o "$WORK/y.db" 2>"$WORK/err"
expect_rc 0 $? "--quiet"
grep -q "kb-compile:" "$WORK/err" && fail "--quiet still printed a summary"
[ -f "$WORK/y.db" ] || fail "no database written"
# Which files are articles: "..md" (tldr's page for the "." command) is; hidden folders and
# editors' lock files are not.
mkdir -p "$WORK/names/.git" "$WORK/names/sub"
printf '# dot\n\nThe . command.\n' >"$WORK/names/..md"
printf '# hidden\n\nnot an article\n' >"$WORK/names/.git/x.md"
printf '# lock\n\nnot an article\n' >"$WORK/names/sub/.#draft.md"
printf '# ok\n\nan article\n' >"$WORK/names/sub/ok.md"
"$KBC" "$WORK/names" -o "$WORK/names.db" 2>"$WORK/err"
expect_rc 0 $? "file names"
expect_grep "kb-compile: 2 articles, 2 entries" "$WORK/err" "..md compiled, .git and .# skipped"
rm "$WORK/names/..md"
"$KBC" "$WORK/names" -o "$WORK/names.db" 2>"$WORK/err"
expect_grep "kb-compile: 1 article, 1 entry, 0 signatures, 0 harvested, 0 examples verified" \
    "$WORK/err" "one of a kind said in the singular"

"$KBC" --base "$WORK/no-base.db" "$FIXTURES/good" -o "$WORK/x.db" 2>"$WORK/err"
expect_rc 2 $? "--base missing"
expect_grep "kb-compile: --base: cannot open database '$WORK/no-base.db': No such file or directory (check --base, or compile the base KB first)" \
    "$WORK/err" "--base missing names --base"

# Colour (as clang prints it) with --color=always, never with --color=never or when stderr is
# no terminal (auto), and --color with a bad value is a usage error.
diag=$FIXTURES/diag/regex-invalid
"$KBC" --check --quiet --color=always "$diag" 2>"$WORK/err"
expect_rc 1 $? "--color=always"
printf '\033[1m%s/a.md:10:18:\033[0m \033[1;31merror\033[0m: \033[1mregex does not compile: missing closing parenthesis\033[0m\nre: 535 (unclosed\n                 \033[1;32m^\033[0m\n' \
    "$diag" >"$WORK/want"
head -3 "$WORK/err" | cmp -s - "$WORK/want" || fail "--color=always: $(head -3 "$WORK/err" | od -c | head -5)"
for args in "--color=never" "--color auto" ""; do
    # shellcheck disable=SC2086 # word splitting of $args is intended
    "$KBC" --check --quiet $args "$diag" 2>"$WORK/err"
    grep -q "$(printf '\033')" "$WORK/err" && fail "colour with '$args' and stderr not a terminal"
done
if command -v script >/dev/null; then
    # on a terminal, auto colours; NO_COLOR turns it off
    script -qec "'$KBC' --check --quiet '$diag'" /dev/null >"$WORK/tty" 2>&1
    grep -q "$(printf '\033')\[1;31merror" "$WORK/tty" || fail "no colour on a terminal"
    NO_COLOR=1 script -qec "'$KBC' --check --quiet '$diag'" /dev/null >"$WORK/tty" 2>&1
    grep -q "$(printf '\033')" "$WORK/tty" && fail "colour on a terminal with NO_COLOR set"
fi
"$KBC" --check --color=sometimes "$diag" 2>"$WORK/err"
expect_rc 2 $? "--color=sometimes"
expect_grep "kb-compile: --color needs auto, always or never, not 'sometimes'" "$WORK/err" \
    "--color=sometimes"

no_temp_files "$WORK"
finish
