#!/bin/bash
# harvest.sh - the evidence kb-compile harvests from ordinary Markdown (compiler/harvest.c):
# which codes, identifiers and quoted messages it takes, from where, and how it weighs them
# (a code in a title outweighs the same code in a list of many; a shared code counts less;
# a code only a list has is that list's), and the sections it cuts (one per table row).
# Compared with fixtures/harvest.expected. Needs the sqlite3 shell; skipped (77) without it.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 shell not installed: skipped"; exit 77; }

"$KBC" --quiet "$FIXTURES/harvest" -o "$WORK/kb.db" 2>"$WORK/err"
expect_rc 0 $? "compile"
sqlite3 "$WORK/kb.db" >"$WORK/got" <<'SQL'
.mode list
.separator |
SELECT e.slug, s.origin, s.source, s.weight, x.heading
  FROM signature s JOIN entry e ON e.id = s.entry_id LEFT JOIN section x ON x.id = s.section_id
  ORDER BY e.slug, s.weight DESC, s.source;
SELECT 'section', e.slug, x.heading, x.anchor, x.line
  FROM section x JOIN entry e ON e.id = x.entry_id ORDER BY x.id;
SQL
[ -n "${KBC_REGEN:-}" ] && cp "$WORK/got" "$FIXTURES/harvest.expected"
diff -u "$FIXTURES/harvest.expected" "$WORK/got" || fail "harvested evidence differs from harvest.expected"

# What must hold whatever the weights: the title's code is the strongest evidence of the page
# about it, and weaker in the list of every code; file names, hosts and s_client are not codes.
w_title=$(sqlite3 "$WORK/kb.db" "SELECT s.weight FROM signature s JOIN entry e ON e.id = s.entry_id
  WHERE e.slug = 'ndr-fix-error-code-5-7-12' AND s.source = '5.7.12'")
w_list=$(sqlite3 "$WORK/kb.db" "SELECT s.weight FROM signature s JOIN entry e ON e.id = s.entry_id
  WHERE e.slug = 'ndr-codes-overview' AND s.source = '5.7.12'")
awk -v a="$w_title" -v b="$w_list" 'BEGIN { exit !(a > 2 * b) }' \
    || fail "5.7.12 weighs $w_title in its own page's title, $w_list in the list: expected far more"
# A range stands for each of its codes; a table is a section per row, and a row's link to
# another page of the KB is kept (prose links are not); an admonition's content is Markdown,
# not code; a name the KB shows assigned in code (a setting) is not evidence there.
n=$(sqlite3 "$WORK/kb.db" "SELECT count(*) FROM signature s JOIN entry e ON e.id = s.entry_id
  WHERE e.slug = 'ndr-fix-error-code-5-4-6-through-5-4-8' AND s.source IN ('5.4.6', '5.4.7', '5.4.8')")
[ "$n" = 3 ] || fail "the range in the file name gave $n of its 3 codes"
links=$(sqlite3 "$WORK/kb.db" "SELECT x.line || '>' || t.slug FROM section_link l
  JOIN section x ON x.id = l.section_id JOIN entry t ON t.id = l.entry_id ORDER BY 1")
[ "$links" = "6>ndr-fix-error-code-5-7-12" ] || fail "links kept: '$links'"
origin=$(sqlite3 "$WORK/kb.db" "SELECT origin FROM signature
  WHERE source = 'No account configured, refusing mail'")
[ "$origin" = code ] || fail "the admonition's code span was harvested as '$origin'"
for not_code in smtp.example.com notes.md s_client PowerShell ENABLE_RELAY_CHECKS; do
    n=$(sqlite3 "$WORK/kb.db" "SELECT count(*) FROM signature WHERE source = '$not_code'")
    [ "$n" = 0 ] || fail "'$not_code' was harvested"
done
finish
