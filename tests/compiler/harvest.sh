#!/bin/bash
# harvest.sh - the evidence kb-compile harvests from ordinary Markdown (compiler/harvest.c):
# which codes, identifiers and quoted messages it takes, from where, and how it weighs them
# (a code in a title outweighs the same code in a list of many; a shared code counts less).
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
for not_code in smtp.example.com notes.md s_client PowerShell; do
    n=$(sqlite3 "$WORK/kb.db" "SELECT count(*) FROM signature WHERE source = '$not_code'")
    [ "$n" = 0 ] || fail "'$not_code' was harvested"
done
finish
