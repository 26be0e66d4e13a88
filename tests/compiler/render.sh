#!/bin/bash
# render.sh - what the compiler stores: articles, entries (facets, derived ids of foreign
# Markdown, front matter), signatures, examples, the providers the KB declares (a file of
# declarations only is no article; a submission server stored lowercase), the
# provider-specific steps, the solution's structure (steps, verify, hand-over, commands)
# and the three renderings of one entry,
# compared with fixtures/good.expected; then an entry's maintainers' notes ("How it is
# recognised") kept out of its solution. Needs the sqlite3 shell; skipped (77) without it.
# Usage: render.sh KB_COMPILE TESTDIR [KB_LOOKUP]
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

# "How it is recognised" after the solution: the maintainers' notes on the evidence are kept in
# the entry (--show, full text) but are no part of the solution or the hand-over the agent reads
mkdir -p "$WORK/notes"
cat >"$WORK/notes/notes.md" <<'MD'
# Notes example

## The relay refuses the sender

```kb-entry
id: notes-example
```

### Fix

1. Use the address the relay account owns as the sender.

### When to hand over

Hand over when the relay's owner must allow another sender.

### How it is recognised

Hosting servers word this check in their own way; the signature below is their wording.

```kb-signatures weight=4
sender does not match the login
```

```kb-example
550 5.7.1 sender does not match the login
```
MD
"$KBC" --quiet "$WORK/notes" -o "$WORK/notes.db" 2>/dev/null
expect_rc 0 $? "compile an entry with maintainers' notes"
sol=$(sqlite3 "$WORK/notes.db" "SELECT solution_text FROM entry WHERE slug = 'notes-example'")
body=$(sqlite3 "$WORK/notes.db" "SELECT body_md FROM entry WHERE slug = 'notes-example'")
case $sol in *"Hand over when"*) ;; *) fail "the hand-over is missing from the solution" ;; esac
case $sol in *"Hosting servers"*) fail "the maintainers' notes are in the solution: $sol" ;; esac
case $body in *"Hosting servers"*) ;; *) fail "the maintainers' notes are missing from the entry" ;; esac
# with kb-lookup given (ctest passes it as a third argument): the notes' signature answers,
# and the answer does not print the notes
if [ -n "${3:-}" ]; then
    echo "550 5.7.1 sender does not match the login" | "$3" --db "$WORK/notes.db" --json \
        >"$WORK/notes.json"
    grep -q '"id":"notes-example"' "$WORK/notes.json" || fail "the notes' signature does not answer"
    grep -q 'Hosting servers' "$WORK/notes.json" && fail "the notes are printed with the answer"
fi
finish
