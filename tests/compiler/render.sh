#!/bin/bash
# render.sh - what the compiler stores: articles, entries (facets, derived ids of foreign
# Markdown, front matter), signatures, examples, the providers the KB declares (a file of
# declarations only is no article) and the three renderings of one entry,
# compared with fixtures/good.expected. Needs the sqlite3 shell; skipped (77) without it.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 shell not installed: skipped"; exit 77; }

"$KBC" --quiet "$FIXTURES/good" -o "$WORK/kb.db" 2>/dev/null
expect_rc 0 $? "compile"
sqlite3 "$WORK/kb.db" >"$WORK/got" <<'SQL'
.mode list
.separator |
SELECT 'article', id, path, title, intro_md FROM article ORDER BY id;
SELECT 'entry', id, slug, article_id, title, provider, audience, related, fulltext_only, line
  FROM entry ORDER BY id;
SELECT 'signature', entry_id, kind, source, pattern, weight, context, captures,
  anchor IS NOT NULL, path, line, origin, section_id FROM signature ORDER BY id;
SELECT 'section', id, entry_id, heading, anchor, line FROM section ORDER BY id;
SELECT 'example', entry_id, counter, text, also, path, line FROM example ORDER BY id;
SELECT 'provider', id, slug, name, hosts, words, path, line FROM provider ORDER BY id;
SELECT 'why_text', why_text, 'why_ansi', replace(why_ansi, char(27), '^['), 'why_md', why_md,
  'solution_text', solution_text, 'solution_ansi', replace(solution_ansi, char(27), '^['),
  'solution_md', solution_md, 'body_md', body_md FROM entry WHERE slug = 'm365-smtp-auth-disabled';
SELECT 'foreign', slug, why_text, solution_text, body_md FROM entry WHERE fulltext_only = 1
  ORDER BY id;
SELECT 'fts', rowid, title, heading, code, body, examples, signatures FROM entry_fts
  ORDER BY rowid;
SELECT 'meta', key, length(value) FROM meta ORDER BY key;
SQL
[ -n "${KBC_REGEN:-}" ] && cp "$WORK/got" "$FIXTURES/good.expected"
diff -u "$FIXTURES/good.expected" "$WORK/got" || fail "database content differs from good.expected"
finish
