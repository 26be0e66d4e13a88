#!/bin/bash
# output.sh - what -o may name (issue 18): a database file beside the knowledge base. Refused
# before anything is read, with exit status 2 and the file left as it was: a path inside the
# KB folder (an article, or a new file there), a directory, a file that is not a database
# kb-compile wrote. Accepted: a new file, an empty file, an earlier output.
. "$(dirname "$0")/lib.sh"

kb=$WORK/kb
mkdir -p "$kb/relay"
cp "$FIXTURES/good/auth/m365.md" "$kb/relay/quota.md"
cp "$FIXTURES/good/providers.md" "$kb/providers.md"
cp "$kb/relay/quota.md" "$WORK/quota.before"

# refused: exit 2, the message, the path untouched
refused() { # WHAT WANT_MESSAGE ARGS...
    local what=$1 want=$2
    shift 2
    "$KBC" --quiet "$@" 2>"$WORK/err"
    expect_rc 2 $? "$what"
    expect_grep "$want" "$WORK/err" "$what"
}

refused "-o onto an article" \
    "kb-compile: refusing to write the database to '$kb/relay/quota.md': it is inside the knowledge base folder '$kb' (write it beside it, e.g. -o $kb.db)" \
    "$kb" -o "$kb/relay/quota.md"
expect_same "$WORK/quota.before" "$kb/relay/quota.md" "the article after -o onto it"
refused "-o a new file inside the KB" "it is inside the knowledge base folder" "$kb" -o "$kb/kb.db"
[ -e "$kb/kb.db" ] && fail "a database was written inside the KB folder"
(cd "$kb" && "$KBC" --quiet . -o kb.db 2>"$WORK/err")
expect_rc 2 $? "-o kb.db from inside the KB"
expect_grep "kb-compile: refusing to write the database to 'kb.db': it is inside the knowledge base folder '.' (write it beside it, e.g. -o ../kb.db)" \
    "$WORK/err" "-o kb.db from inside the KB"

mkdir "$WORK/out"
refused "-o a directory" \
    "kb-compile: '$WORK/out' is a directory: -o names the database file (e.g. '$WORK/out/kb.db')" \
    "$kb" -o "$WORK/out"
[ -z "$(ls -A "$WORK/out")" ] || fail "something was written into the directory"

printf 'my notes\n' >"$WORK/notes.txt"
cp "$WORK/notes.txt" "$WORK/notes.before"
refused "-o a file that is not a database" \
    "kb-compile: refusing to overwrite '$WORK/notes.txt': it is not a database that kb-compile wrote (remove it first if it is to go, or choose another -o)" \
    "$kb" -o "$WORK/notes.txt"
expect_same "$WORK/notes.before" "$WORK/notes.txt" "the file after -o onto it"

if command -v sqlite3 >/dev/null; then
    sqlite3 "$WORK/other.db" "CREATE TABLE t(x); INSERT INTO t VALUES(1);"
    cp "$WORK/other.db" "$WORK/other.before"
    refused "-o another program's SQLite database" "refusing to overwrite '$WORK/other.db'" \
        "$kb" -o "$WORK/other.db"
    expect_same "$WORK/other.before" "$WORK/other.db" "the other database after -o onto it"
fi

# accepted: a new file, then the same output again, and an empty file
"$KBC" --quiet "$kb" -o "$WORK/kb.db" 2>"$WORK/err"
expect_rc 0 $? "-o a new file"
"$KBC" --quiet "$kb" -o "$WORK/kb.db" 2>"$WORK/err"
expect_rc 0 $? "-o an earlier output"
: >"$WORK/empty.db"
"$KBC" --quiet "$kb" -o "$WORK/empty.db" 2>"$WORK/err"
expect_rc 0 $? "-o an empty file"
no_temp_files "$WORK"
finish
