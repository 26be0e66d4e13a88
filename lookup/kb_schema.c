/*
 * kb_schema.c - creates and finishes the KB database format described in kb_schema.h.
 * Only the compiler writes; these functions live in libkb so the format has one home.
 */
#include "kb_schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_buf.h"
#include "kb_text.h"

#define STR2(x) #x
#define STR(x) STR2(x)

const char kb_schema_sql[] = "PRAGMA application_id = " STR(
    KB_APPLICATION_ID) ";\n"
                       "PRAGMA user_version = " STR(
                           KB_SCHEMA_VERSION) ";\n"
                                              "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT "
                                              "NOT NULL) WITHOUT ROWID;\n"
                                              "CREATE TABLE article(id INTEGER PRIMARY KEY, path "
                                              "TEXT NOT NULL UNIQUE,\n"
                                              "  title TEXT NOT NULL, intro_md TEXT NOT NULL "
                                              "DEFAULT '');\n"
                                              "CREATE TABLE entry(id INTEGER PRIMARY KEY, slug "
                                              "TEXT NOT NULL UNIQUE,\n"
                                              "  article_id INTEGER NOT NULL REFERENCES "
                                              "article(id), title TEXT NOT NULL,\n"
                                              "  provider TEXT NOT NULL DEFAULT '', audience TEXT "
                                              "NOT NULL DEFAULT 'both',\n"
                                              "  related TEXT NOT NULL DEFAULT '',\n"
                                              "  why_text TEXT NOT NULL DEFAULT '', why_ansi TEXT "
                                              "NOT NULL DEFAULT '',\n"
                                              "  why_md TEXT NOT NULL DEFAULT '',\n"
                                              "  solution_text TEXT NOT NULL DEFAULT '', "
                                              "solution_ansi TEXT NOT NULL DEFAULT '',\n"
                                              "  solution_md TEXT NOT NULL DEFAULT '', body_md "
                                              "TEXT NOT NULL DEFAULT '',\n"
                                              "  fulltext_only INTEGER NOT NULL DEFAULT 0, line "
                                              "INTEGER NOT NULL DEFAULT 0);\n"
                                              "CREATE TABLE signature(id INTEGER PRIMARY KEY,\n"
                                              "  entry_id INTEGER NOT NULL REFERENCES entry(id), "
                                              "kind INTEGER NOT NULL,\n"
                                              "  source TEXT NOT NULL, pattern TEXT NOT NULL, "
                                              "weight REAL NOT NULL,\n"
                                              "  context INTEGER NOT NULL DEFAULT 0, captures TEXT "
                                              "NOT NULL DEFAULT '',\n"
                                              "  anchor INTEGER, path TEXT NOT NULL DEFAULT '', "
                                              "line INTEGER NOT NULL DEFAULT 0);\n"
                                              "CREATE INDEX signature_entry ON "
                                              "signature(entry_id);\n"
                                              "CREATE TABLE example(id INTEGER PRIMARY KEY,\n"
                                              "  entry_id INTEGER NOT NULL REFERENCES entry(id), "
                                              "counter INTEGER NOT NULL DEFAULT 0,\n"
                                              "  text TEXT NOT NULL, also TEXT NOT NULL DEFAULT "
                                              "'', path TEXT NOT NULL DEFAULT '',\n"
                                              "  line INTEGER NOT NULL DEFAULT 0);\n"
                                              "CREATE VIRTUAL TABLE entry_fts USING fts5(title, "
                                              "body, examples, signatures,\n"
                                              "  tokenize = \"" KB_FTS_TOKENIZE "\");\n"
                                              "CREATE TABLE term_df(term TEXT PRIMARY KEY, df "
                                              "INTEGER NOT NULL) WITHOUT ROWID;\n"
                                              "CREATE TABLE blob(name TEXT PRIMARY KEY, data BLOB "
                                              "NOT NULL) WITHOUT ROWID;\n";

static enum kb_status fail(sqlite3 *db, struct kb_error *err, const char *what)
{
    err->status = KB_ERR_DB;
    snprintf(err->message, sizeof err->message, "%s: %s", what, sqlite3_errmsg(db));
    return KB_ERR_DB;
}

enum kb_status kb_schema_create(sqlite3 *db, struct kb_error *err)
{
    if (sqlite3_exec(db, kb_schema_sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(db, err, "cannot create the database schema");
    return KB_OK;
}

struct anchor_pair {
    uint64_t hash;
    uint32_t sig_id;
};

static int anchor_pair_cmp(const void *a, const void *b)
{
    const struct anchor_pair *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return (x->sig_id > y->sig_id) - (x->sig_id < y->sig_id);
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The 'anchors' blob: little-endian u32 count, then count records of (u64 hash, u32 sig_id)
 * sorted by hash, then u32 always_count and that many u32 ids of signatures without anchor.
 * Sorted so a lookup can merge-join it with the sorted hashes of the pasted text without
 * loading anything per signature. */
static enum kb_status build_anchor_blob(sqlite3 *db, struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    struct anchor_pair *pairs = NULL;
    uint32_t *always = NULL;
    unsigned char *blob = NULL;
    size_t n = 0, n_alloc = 0, n_always = 0, always_alloc = 0;
    enum kb_status status = KB_OK;

    if (sqlite3_prepare_v2(db, "SELECT id, anchor FROM signature ORDER BY id", -1, &st, NULL)
        != SQLITE_OK)
        return fail(db, err, "cannot read signatures");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint32_t id = (uint32_t)sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
            if (n_always == always_alloc) {
                size_t na = always_alloc ? always_alloc * 2 : 64;
                uint32_t *p = realloc(always, na * sizeof *p);
                if (!p)
                    goto nomem;
                always = p;
                always_alloc = na;
            }
            always[n_always++] = id;
        } else {
            if (n == n_alloc) {
                size_t na = n_alloc ? n_alloc * 2 : 256;
                struct anchor_pair *p = realloc(pairs, na * sizeof *p);
                if (!p)
                    goto nomem;
                pairs = p;
                n_alloc = na;
            }
            pairs[n].hash = (uint64_t)sqlite3_column_int64(st, 1);
            pairs[n].sig_id = id;
            n++;
        }
    }
    if (rc != SQLITE_DONE) {
        status = fail(db, err, "cannot read signatures");
        goto done;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (n)
        qsort(pairs, n, sizeof *pairs, anchor_pair_cmp);

    size_t size = 4 + n * 12 + 4 + n_always * 4;
    blob = malloc(size);
    if (!blob)
        goto nomem;
    unsigned char *p = blob;
    put_le(p, n, 4);
    p += 4;
    for (size_t i = 0; i < n; i++) {
        put_le(p, pairs[i].hash, 8);
        put_le(p + 8, pairs[i].sig_id, 4);
        p += 12;
    }
    put_le(p, n_always, 4);
    p += 4;
    for (size_t i = 0; i < n_always; i++, p += 4)
        put_le(p, always[i], 4);

    if (sqlite3_prepare_v2(db, "INSERT INTO blob(name, data) VALUES('anchors', ?1)", -1, &st, NULL)
            != SQLITE_OK
        || sqlite3_bind_blob(st, 1, blob, (int)size, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_step(st) != SQLITE_DONE)
        status = fail(db, err, "cannot store the prefilter index");
    goto done;
nomem:
    status = err->status = KB_ERR_NOMEM;
    snprintf(err->message, sizeof err->message, "out of memory");
done:
    sqlite3_finalize(st);
    free(pairs);
    free(always);
    free(blob);
    return status;
}

static enum kb_status put_meta(sqlite3 *db, const char *key, const char *value,
                               struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    enum kb_status status = KB_OK;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", -1, &st,
                           NULL)
            != SQLITE_OK
        || sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_step(st) != SQLITE_DONE)
        status = fail(db, err, "cannot store metadata");
    sqlite3_finalize(st);
    return status;
}

enum kb_status kb_schema_finish(sqlite3 *db, const char *build_hash, const char *source_date,
                                struct kb_error *err)
{
    static const char vocab_sql[] =
        "CREATE VIRTUAL TABLE temp.kb_vocab USING fts5vocab(main, entry_fts, row);"
        "INSERT INTO term_df(term, df) SELECT term, doc FROM temp.kb_vocab;"
        "DROP TABLE temp.kb_vocab;"
        "INSERT INTO entry_fts(entry_fts) VALUES('optimize');";
    if (sqlite3_exec(db, vocab_sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(db, err, "cannot build the term statistics");
    enum kb_status status = build_anchor_blob(db, err);
    if (status != KB_OK)
        return status;

    char buf[32];
    snprintf(buf, sizeof buf, "%d", KB_SCHEMA_VERSION);
    if ((status = put_meta(db, "schema_version", buf, err)) != KB_OK
        || (status = put_meta(db, "build_hash", build_hash ? build_hash : "", err)) != KB_OK)
        return status;
    if (source_date && (status = put_meta(db, "source_date", source_date, err)) != KB_OK)
        return status;
    /* A KB whose signatures say when text is about mail (context=mail) is a mail KB: its
     * full-text fallback answers only text about mail. A KB of other documents (tldr pages,
     * someone's docs) answers any text. */
    sqlite3_stmt *st = NULL;
    int gated = 0;
    if (sqlite3_prepare_v2(db, "SELECT EXISTS(SELECT 1 FROM signature WHERE context != 0)", -1, &st,
                           NULL)
            == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW)
        gated = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if ((status = put_meta(db, "fulltext_needs_mail", gated ? "1" : "0", err)) != KB_OK)
        return status;
    long count = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM entry", -1, &st, NULL) == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW)
        count = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    snprintf(buf, sizeof buf, "%ld", count);
    return put_meta(db, "entry_count", buf, err);
}
