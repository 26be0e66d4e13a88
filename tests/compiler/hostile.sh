#!/bin/bash
# hostile.sh - input nobody should write, generated here (not kept in git): empty, blank and
# binary files (skipped with a warning), invalid UTF-8 (an error at its first byte), 10 MB of
# nested lists (compiled or skipped with a warning, never a crash or a hang), a file over the
# 64 MiB cap, a dangling symlink and a FIFO named *.md (errors: "cannot read").
. "$(dirname "$0")/lib.sh"

kb=$WORK/kb
mkdir -p "$kb/bad"
: >"$kb/empty.md"
printf '   \n\n\t\n' >"$kb/blank.md"
printf '# Binary\n\000\001\002 data\n' >"$kb/binary.md"
# 10 MB of nested lists: indentation growing to 200 levels, again and again
awk 'BEGIN { n = 0; while (n < 10 * 1024 * 1024) { for (d = 0; d < 200; d++) {
        line = sprintf("%" (2 * d) "s- item %d", "", d); print line; n += length(line) + 1 } } }' \
    >"$kb/nested.md"
# and one line of 100,000 nested list markers, and as many block quotes
awk 'BEGIN { s = ""; for (i = 0; i < 100000; i++) s = s "- "; print s "deep" }' >"$kb/deep.md"
awk 'BEGIN { s = ""; for (i = 0; i < 100000; i++) s = s "> "; print s "deep" }' >"$kb/quotes.md"

timeout 600 "$KBC" --quiet "$kb" -o "$WORK/kb.db" 2>"$WORK/err"
rc=$?
expect_rc 0 "$rc" "compile of hostile but readable files"
cat >"$WORK/want" <<WANT
$kb/binary.md:1:1: warning: binary file (NUL bytes in the first 8 KB); skipped
$kb/blank.md:1:1: warning: empty file; skipped
$kb/empty.md:1:1: warning: empty file; skipped
WANT
grep ': warning: ' "$WORK/err" | grep -v -e '/nested.md:' -e '/deep.md:' -e '/quotes.md:' \
    >"$WORK/err-fixed"
diff -u "$WORK/want" "$WORK/err-fixed" || fail "diagnostics of hostile files"
for f in nested deep quotes; do
    if grep -q "/$f.md:" "$WORK/err"; then
        expect_grep "$kb/$f.md:1:1: warning: markdown nested too deeply to render" "$WORK/err" "$f.md"
    fi
done

# invalid UTF-8 (bytes that start no character, a stray continuation byte, a surrogate, a
# 5-byte form, an overlong '/'): an error at the first such byte of each file, nothing written
mkdir -p "$WORK/utf8"
printf '# Bad \xff\xfe UTF-8\n\nText \xc3\x28 and \xed\xa0\x80 and \xf8\x88\x80\x80\x80.\n' \
    >"$WORK/utf8/utf8.md"
printf '# Bad UTF-8 in a KB article\n\n## Entry \xff\n\n```kb-entry\nid: bad-utf8\n```\n\n```kb-signatures\nabc \xfe def\n```\n\n### Fix\n\nDo \xc0\xaf it.\n' \
    >"$WORK/utf8/utf8-article.md"
printf '# Surrogate\n\nText \xed\xa0\x80 alone.\n' >"$WORK/utf8/surrogate.md"
"$KBC" --quiet "$WORK/utf8" -o "$WORK/utf8.db" 2>"$WORK/err"
expect_rc 1 $? "compile of invalid UTF-8"
grep ': error: ' "$WORK/err" | sed "s|$WORK/||" >"$WORK/err-fixed"
cat >"$WORK/want" <<'WANT'
utf8/surrogate.md:3:6: error: byte 0xED is not UTF-8 (and 2 more in this file): articles must be UTF-8; if this one is Latin-1 or Windows-1252, convert it with 'iconv -f WINDOWS-1252 -t UTF-8'
utf8/utf8-article.md:3:10: error: byte 0xFF is not UTF-8 (and 3 more in this file): articles must be UTF-8; if this one is Latin-1 or Windows-1252, convert it with 'iconv -f WINDOWS-1252 -t UTF-8'
utf8/utf8.md:1:7: error: byte 0xFF is not UTF-8 (and 10 more in this file): articles must be UTF-8; if this one is Latin-1 or Windows-1252, convert it with 'iconv -f WINDOWS-1252 -t UTF-8'
WANT
diff -u "$WORK/want" "$WORK/err-fixed" || fail "diagnostics of invalid UTF-8"
[ -e "$WORK/utf8.db" ] && fail "a database was written from invalid UTF-8"

# unreadable files: errors, reported with every other problem, nothing written
ln -s "$kb/does-not-exist" "$kb/bad/dangling.md"
mkfifo "$kb/bad/fifo.md"
head -c $((64 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'a' >"$kb/bad/huge.md"
timeout 600 "$KBC" --quiet "$kb" -o "$WORK/kb2.db" 2>"$WORK/err"
expect_rc 1 $? "compile with unreadable files"
expect_grep "$kb/bad/dangling.md:1:1: error: cannot read: No such file or directory" "$WORK/err" \
    "dangling symlink"
expect_grep "$kb/bad/fifo.md:1:1: error: cannot read: not a regular file" "$WORK/err" "FIFO"
expect_grep "$kb/bad/huge.md:1:1: error: file is larger than 64 MiB" "$WORK/err" "huge file"
[ -e "$WORK/kb2.db" ] && fail "a database was written despite errors"
no_temp_files "$WORK"
finish
