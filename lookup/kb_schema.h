/*
 * kb_schema.h - the database format, defined once.
 *
 * kb-compile writes it (kb_schema_create, plain INSERTs into the tables below, then
 * kb_schema_finish); libkb reads it. Any change to the tables bumps KB_SCHEMA_VERSION.
 *
 * Tables (all written by the compiler in one transaction):
 *   meta(key, value)          build_hash, schema_version, entry_count, section_count, source_date,
 *                             fulltext_needs_mail (1 when any signature has a mail context);
 *                             an overlay (kb-compile --base) also: base (the build hash of the
 *                             KB it was compiled against) and hides (the comma-separated ids
 *                             its kb-hide blocks hide in the layers below; kb_layers.c)
 *   article(id, path, title, intro_md)
 *   entry(id, slug, article_id, title, provider, audience, related, why_*, solution_*, body_md,
 *         fulltext_only, line, tell_*)         -- slug is the public entry id; tell_*: the
 *                                                 "Tell it apart" section
 *   entry_text(entry_id, lang, reviewed, title, why_*, tell_*, solution_*, body_md)
 *       an entry in another language (a translation article, name.LANG.md); meta language
 *       is the KB's default language, languages all of them, the default first (since
 *       schema version 7)
 *   section(id, entry_id, heading, anchor, line)
 *       the parts of an entry that full text ranks on their own: one per entry written for
 *       the KB; one per heading (levels 1-3) of foreign Markdown, plus its introduction, and
 *       one per row of a pipe table (under the heading the table stands under).
 *   section_link(section_id, entry_id)
 *       the articles a section links to (relative .md links that resolve to one of the KB's
 *       articles; entry_id is that article's first entry): full text credits what a section
 *       points to ("see Fix error 5.6.11") with what the section explains.
 *   signature(id, entry_id, kind, source, pattern, weight, context, captures, anchor, path,
 *             line, origin, section_id, regions, when_cond, code)
 *       kind: KB_SIG_LITERAL or KB_SIG_REGEX; source: the line as written (without "re:");
 *       pattern: the PCRE2 pattern actually compiled (literals are translated by
 *       kb_literal_to_pattern); context: enum kb_sig_context; captures:
 *       comma-separated capture names; anchor: kb_token_hash of the prefilter token, NULL when
 *       the signature must run on every lookup. origin: '' for a signature an author wrote;
 *       for evidence kb-compile harvested from the prose, where it was found ('title',
 *       'heading', 'code' or 'body'); section_id: the section it came from, or NULL;
 *       regions: bit mask of the delivery-report regions it may match besides ordinary text
 *       (1 << KB_REGION_REPORT_HEADERS, 1 << KB_REGION_RETURNED), from region= in the KB;
 *       when_cond: the condition (kb_conditions.h) under which it applies, '' for always.
 *       code: an anchored regex's compiled code, the block of a PCRE2 serialisation of it
 *       alone without the header and tables (kb_regex_code_prefix; meta 'regex_code' their
 *       XXH64), so that a lookup decodes it instead of compiling; NULL: compile it. The
 *       page checksums cover it, and its block size is checked before decoding. Since 9.
 *   condition(id, entry_id, source, weight, path, line)
 *       a condition of the entry's kb-conditions blocks (kb_conditions.h), one line as written
 *       (trimmed), with its block's weight (negative: it points away from the entry).
 *   provider(id, slug, name, hosts, words, submission_host, submission_port, path, line)
 *       a provider the KB declares (a kb-provider block), in declaration order (id): slug is
 *       its id as entries' provider facets, kb-provider-steps lines and the provider fact name
 *       it, name its display name, hosts (lowercase) and words comma-separated. Lookup reads
 *       the table when it opens the database (kb_providers.c): the first provider, in id order,
 *       whose host (caseless, as a host or a parent domain of one) or word (as written) the
 *       text holds is the provider fact. submission_host and _port: the server its users
 *       submit mail to ('' and 0 when none declared), for the verify commands of a text that
 *       names the provider but no server. Added to schema 3; the submission columns came
 *       with 5.
 *   client(id, slug, name, role, words, smtp_words, path, line)
 *       a program the KB knows by the text it prints (a kb-client block), in declaration
 *       order (id): slug its id, name the client fact; role mailer (an application's mail
 *       library or program), mail-server (an MTA, whose log may be about delivery between
 *       servers) or tool (whose name alone does not make a text about mail); words and
 *       smtp_words comma-separated, case kept: a text that holds one of them was printed by
 *       it, and one of smtp_words says the text is about SMTP. lookup reads the table when it
 *       opens the database (kb_clients.c): the first client, in id order, with a word in the
 *       text is the client fact. Since schema 9.
 *   example(id, entry_id, counter, text, also, path, line)
 *   step(id, entry_id, labels, providers, text_start, text_end, ansi_start, ansi_end,
 *        md_start, md_end, part)
 *       a part of the entry's solution for some providers only (a kb-provider-steps block):
 *       the labels that mark it (", "-joined), the providers (comma-separated facet values),
 *       its byte range [start, end) in solution_text, solution_ansi and solution_md, and in
 *       which section it is (0 the Fix, 1 the next: Verify...).
 *       Ordered by id in document order, a nested step after the one that holds it.
 *   fix_step(id, entry_id, part, number, providers, text, md)
 *       the structure of the entry's solution (struct kb_fix_step): part (enum kb_fix_part:
 *       the Fix's introduction, a step of the Fix, a step of Verify, the hand-over text), the
 *       step's number, the providers of a kb-provider-steps line that marks it ('' none), its
 *       plain text and Markdown with placeholders as written; in document order by id.
 *   fix_command(id, step_id, text)  the step's commands (code blocks, code spans holding a
 *       placeholder) as written, in order by id. Both tables came with version 7.
 *   entry_fts (FTS5: title, heading, code, body, examples, signatures; rowid = section.id):
 *       title holds the article and entry titles, heading the section's heading, code its
 *       code spans and blocks, body its prose; examples and signatures the entry's own.
 *   term_df(term, df)        built by kb_schema_finish from entry_fts's vocabulary
 *   blob(name, data)          'always_code': the unanchored signatures compiled (PCRE2
 *                             serialisation, in the order of the prefilter's list of them);
 *                             'always_needs': for each of them, u32 length and the texts
 *                             (NUL between two) one of which every match contains
 *                             (kb_regex_required_literals: a top-level alternation has one
 *                             per branch), or length 0; several texts came with version 8
 *   checksum(name, size, xxh64)  per blob: its size and XXH64 (16 hex digits), checked
 *                             before the blob is decoded (kb_integrity.h)
 *   prefilter(id, data)       the prefilter index, laid out for use in place (kb_prefilter.h):
 *                             row 0 its header, then chunks each checked by its own XXH64
 * Every page of the file carries its own checksum in its last KB_PAGE_RESERVE bytes (header
 * byte 20), written by kb_image_seal once the database is complete (since schema version 6;
 * version 5 was the same tables without page checksums, or without the step table; version 6
 * had the prefilter as an 'anchors' blob decoded whole at every open; version 7 had one text
 * at most per unanchored signature in 'always_needs', so it ran every alternation; version 8
 * had no client table (the engine knew the mail clients itself) and no signature.code, so
 * every anchored regex a lookup ran was compiled; version 9 indexed signature by entry_id
 * alone, so counting an entry's own signatures read each of its signature rows).
 */
#ifndef KB_SCHEMA_H
#define KB_SCHEMA_H

#include <sqlite3.h>

#include "kb.h"

#define KB_SCHEMA_VERSION 10
#define KB_APPLICATION_ID 0x4b424c4b /* "KBLK" */

enum kb_sig_kind { KB_SIG_LITERAL = 0, KB_SIG_REGEX = 1 };
/* context=mail: full weight when the text is about mail, half when nothing tells, none when it
 * is another program's error. context=mail-only: counts only when the text is about mail. */
enum kb_sig_context { KB_CONTEXT_ANY = 0, KB_CONTEXT_MAIL = 1, KB_CONTEXT_MAIL_ONLY = 2 };

/* Regions of a pasted text (kb_bounce.c), one per line. Evidence comes from KB_REGION_TEXT
 * (a text that is no delivery report), KB_REGION_DIAGNOSTIC (a report's failure itself: its
 * Diagnostic-Code, or the lines of its explanation that give the server's reply) and
 * KB_REGION_EXPLANATION (the rest of what the mail system wrote); the report's own headers
 * and the returned original (its headers and the first 64 KB of its body) only for signatures
 * whose regions bit mask (region= in the KB) names them; KB_REGION_OTHER (MIME parts not
 * read) never. The values are stored in bit masks (1 << region): they never change. */
enum kb_region {
    KB_REGION_TEXT = 0,
    KB_REGION_REPORT_HEADERS = 1,
    KB_REGION_RETURNED = 2,
    KB_REGION_DIAGNOSTIC = 3,
    KB_REGION_EXPLANATION = 4,
    KB_REGION_OTHER = 5
};
/* The regions evidence comes from unless a signature says more. */
#define KB_REGIONS_EVIDENCE                                                                        \
    ((1u << KB_REGION_TEXT) | (1u << KB_REGION_DIAGNOSTIC) | (1u << KB_REGION_EXPLANATION))

/* Default weight of a signature block without weight=. */
#define KB_DEFAULT_WEIGHT 2.0
/* Scores at or above these are "exact" / "likely"; below, "weak". */
#define KB_EXACT_SCORE 5.0
#define KB_LIKELY_SCORE 2.0

/* The DDL, for reference and for the compiler; executed in order by kb_schema_create. In
 * parts (NULL ends the list) because C11 promises string literals of 4,095 bytes only. */
extern const char *const kb_schema_sql[];

/* Creates all tables in an empty database, sets application_id and user_version, and reserves
 * the bytes of each page's checksum. Call inside the compiler's transaction, before anything is
 * written. */
enum kb_status kb_schema_create(sqlite3 *db, struct kb_error *err);

/* After all rows are inserted: builds term_df, the prefilter index, stores meta rows
 * (build_hash as given, schema_version, entry_count, source_date when not NULL), and
 * optimizes the FTS index. Call inside the same transaction. */
enum kb_status kb_schema_finish(sqlite3 *db, const char *build_hash, const char *source_date,
                                struct kb_error *err);

/* The bytes this PCRE2 puts before a code's own block when it serialises one signature regex
 * (compiled with kb_signature_compile_options and the default character tables): its 16-byte
 * header and the tables. signature.code holds the block alone; meta 'regex_code' is the XXH64
 * of these bytes as kb-compile's PCRE2 made them, so that a lookup decodes stored code only
 * when its own PCRE2 makes the same. 0 and a heap copy in *out (caller frees), or -1. */
int kb_regex_code_prefix(unsigned char **out, size_t *len);

#endif
