#!/bin/bash
# render.sh - what the compiler stores: articles, entries (facets, derived ids of foreign
# Markdown, front matter), signatures, examples, the providers the KB declares (a file of
# declarations only is no article; a submission server stored lowercase), the
# provider-specific steps, the solution's structure (steps, verify, hand-over, commands)
# and the three renderings of one entry,
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
SELECT 'provider', id, slug, name, hosts, words, submission_host, submission_port, path, line
  FROM provider ORDER BY id;
SELECT 'why_text', why_text, 'why_ansi', replace(why_ansi, char(27), '^['), 'why_md', why_md,
  'solution_text', solution_text, 'solution_ansi', replace(solution_ansi, char(27), '^['),
  'solution_md', solution_md, 'body_md', body_md FROM entry WHERE slug = 'm365-smtp-auth-disabled';
SELECT 'foreign', slug, why_text, solution_text, body_md FROM entry WHERE fulltext_only = 1
  ORDER BY id;
SELECT 'fts', rowid, title, heading, code, body, examples, signatures FROM entry_fts
  ORDER BY rowid;
SELECT 'step', entry_id, labels, providers, '[' || substr(e.solution_text, text_start + 1,
  text_end - text_start) || ']', '[' || substr(e.solution_md, md_start + 1, md_end - md_start)
  || ']', length(replace(substr(e.solution_ansi, ansi_start + 1, ansi_end - ansi_start),
  char(27), '')) FROM step JOIN entry e ON e.id = step.entry_id ORDER BY step.id;
SELECT 'fix_step', id, entry_id, part, number, providers, '[' || text || ']', '[' || md || ']'
  FROM fix_step ORDER BY id;
SELECT 'fix_command', step_id, '[' || text || ']' FROM fix_command ORDER BY id;
SELECT 'meta', key, length(value) FROM meta ORDER BY key;
SQL
[ -n "${KBC_REGEN:-}" ] && cp "$WORK/got" "$FIXTURES/good.expected"
diff -u "$FIXTURES/good.expected" "$WORK/got" || fail "database content differs from good.expected"
finish
