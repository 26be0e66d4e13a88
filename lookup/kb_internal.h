/*
 * kb_internal.h - declarations shared by libkb's own modules; not part of the public API.
 */
#ifndef KB_INTERNAL_H
#define KB_INTERNAL_H

#include <pcre2.h>
#include <sqlite3.h>
#include <stdint.h>

#include "kb.h"
#include "kb_text.h"

struct kb_anchor {
    uint64_t hash;
    uint32_t sig_id;
};

struct kb_db {
    sqlite3 *sql;
    char *label;
    char *build_hash;
    int schema_version;
    long entry_count;
    long section_count;        /* rows of the full-text index */
    int fulltext_needs_mail;   /* full-text answers only text about mail (a mail KB) */
    struct kb_anchor *anchors; /* sorted by hash */
    size_t anchor_count;
    uint32_t *always; /* signatures without anchor */
    size_t always_count;
    pcre2_code **always_codes; /* their compiled code, decoded at open; NULL: compile them */
    struct kb_code_memory *code_memory; /* what PCRE2 allocated decoding them (kb_db.c) */
    const char **always_needs;  /* per unanchored signature: text every match holds, or NULL */
    char *always_needs_text;    /* owns the strings always_needs points at */
    const unsigned char *image; /* kb_db_open_memory's image, or NULL */
    size_t image_len;
    char *path; /* kb_db_open_file's path, or NULL */
    sqlite3_stmt *sig_by_id;
    sqlite3_stmt *entry_by_rowid;
    sqlite3_stmt *term_df;
    sqlite3_stmt *section_by_id;
    int fts_function_ready; /* kb_matched() registered on the connection */
};

/* Fills err (status + printf-style message) and returns status. */
enum kb_status kb_fail(struct kb_error *err, enum kb_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* KB_ERR_DB with SQLite's message, naming the database. */
enum kb_status kb_fail_sql(struct kb_db *db, struct kb_error *err, const char *what);

/* Loads the entry with this rowid (caller frees). */
enum kb_status kb_entry_load(struct kb_db *db, long long rowid, struct kb_entry **out,
                             struct kb_error *err);

/* Extracts facts from normalised text; strings in facts are heap copies (secrets masked). */
enum kb_status kb_facts_extract(const struct kb_norm *norm, struct kb_facts *facts);
void kb_facts_release(struct kb_facts *facts);
/* The same without the one-pass prefilter (every pattern run): for the unit test that checks
 * the prefilter changes nothing. */
enum kb_status kb_facts_extract_unfiltered(const struct kb_norm *norm, struct kb_facts *facts);

/* Reads the normalised text as a delivery report: fills report (released with
 * kb_report_release, also on error) and *regions (norm->orig_line_count bytes of enum
 * kb_region, caller frees; all KB_REGION_TEXT when the text is no report). */
enum kb_status kb_bounce_read(const struct kb_norm *norm, struct kb_report *report,
                              unsigned char **regions);
void kb_report_release(struct kb_report *report);

/* The patterns that tell another program's text (a database, an HTTP client, IMAP...),
 * compiled (JIT-compiled too when jit: for long texts). NULL when out of memory; free with
 * kb_other_program_free (accepts NULL). */
struct kb_other_program;
struct kb_other_program *kb_other_program_new(int jit);
void kb_other_program_free(struct kb_other_program *op);
/* Does text[start, end) hold another program's words (the text before start is seen by
 * lookbehinds)? Returns 1 or 0. With match_start and match_end not NULL, they receive the
 * first such words of the range (the earliest start; every pattern is run). */
int kb_other_program_first(const struct kb_other_program *op, const char *text, size_t start,
                           size_t end, pcre2_match_data *md, pcre2_match_context *mc,
                           size_t *match_start, size_t *match_end);

#endif
