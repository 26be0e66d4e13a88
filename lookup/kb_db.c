/*
 * kb_db.c - opening a compiled KB read-only, from a file or from memory, and reading entries.
 *
 * Every lookup is a fresh process, so opening must be cheap: the file is opened with
 * immutable=1 (no locking, no journal probing) and the prefilter index is one blob decoded
 * once. Damaged databases are diagnosed here, before any query, with one line naming the file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kb_internal.h"
#include "kb_schema.h"

enum kb_status kb_fail(struct kb_error *err, enum kb_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return status;
}

enum kb_status kb_fail_sql(struct kb_db *db, struct kb_error *err, const char *what)
{
    int code = sqlite3_errcode(db->sql);
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB || (code & 0xff) == SQLITE_IOERR)
        return kb_fail(err, KB_ERR_DB,
                       "database '%s' is corrupt or truncated (%s): recompile it with kb-compile",
                       db->label, sqlite3_errmsg(db->sql));
    return kb_fail(err, KB_ERR_DB, "database '%s': %s: %s", db->label, what,
                   sqlite3_errmsg(db->sql));
}

const char *kb_status_str(enum kb_status status)
{
    switch (status) {
    case KB_OK: return "success";
    case KB_ERR_NOMEM: return "out of memory";
    case KB_ERR_IO: return "input/output error";
    case KB_ERR_DB: return "database error";
    case KB_ERR_DB_VERSION: return "unsupported database version";
    case KB_ERR_TOO_LARGE: return "input too large";
    case KB_ERR_NOT_FOUND: return "not found";
    case KB_ERR_INVALID: return "invalid argument";
    }
    return "unknown error";
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A big-endian 32-bit field of the SQLite header. */
static uint64_t get_be32(const unsigned char *p)
{
    return ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
}

/* Checks the 100-byte SQLite header against the image size, so that a truncated or foreign
 * file is reported clearly at open instead of as a puzzling error mid-query. */
static enum kb_status check_header(const unsigned char *h, size_t have, uint64_t size,
                                   const char *label, struct kb_error *err)
{
    if (have < 100 || memcmp(h, "SQLite format 3", 16) != 0)
        return kb_fail(err, KB_ERR_DB,
                       "'%s' is not a KB database (not an SQLite file): compile one with "
                       "kb-compile",
                       label);
    uint64_t page_size = ((uint64_t)h[16] << 8) | h[17];
    if (page_size == 1)
        page_size = 65536;
    uint64_t pages = get_be32(h + 28);
    if (page_size < 512 || pages == 0 || page_size * pages > size)
        return kb_fail(err, KB_ERR_DB,
                       "database '%s' is truncated or corrupt (%llu bytes, header says %llu): "
                       "recompile it with kb-compile",
                       label, (unsigned long long)size, (unsigned long long)(page_size * pages));
    uint64_t app_id = get_be32(h + 68);
    if (app_id != KB_APPLICATION_ID)
        return kb_fail(err, KB_ERR_DB,
                       "'%s' is an SQLite database but not a KB database: compile one with "
                       "kb-compile",
                       label);
    uint64_t version = get_be32(h + 60);
    if (version != KB_SCHEMA_VERSION)
        return kb_fail(err, KB_ERR_DB_VERSION,
                       "database '%s' has schema version %llu but this program reads version %d: "
                       "recompile it with a matching kb-compile",
                       label, (unsigned long long)version, KB_SCHEMA_VERSION);
    return KB_OK;
}

static enum kb_status load_anchors(struct kb_db *db, struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    enum kb_status status = KB_OK;
    if (sqlite3_prepare_v2(db->sql, "SELECT data FROM blob WHERE name = 'anchors'", -1, &st, NULL)
        != SQLITE_OK)
        return kb_fail_sql(db, err, "cannot read the prefilter index");
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        status = rc == SQLITE_DONE ? kb_fail(err, KB_ERR_DB,
                                             "database '%s' has no prefilter "
                                             "index: recompile it with kb-compile",
                                             db->label)
                                   : kb_fail_sql(db, err, "cannot read the prefilter index");
        goto done;
    }
    const unsigned char *p = sqlite3_column_blob(st, 0);
    size_t size = (size_t)sqlite3_column_bytes(st, 0);
    if (size < 8 || !p)
        goto corrupt;
    size_t n = (size_t)get_le(p, 4);
    if (n > (size - 8) / 12)
        goto corrupt;
    size_t n_always = (size_t)get_le(p + 4 + n * 12, 4);
    if (size != 8 + n * 12 + n_always * 4)
        goto corrupt;
    db->anchors = malloc((n ? n : 1) * sizeof *db->anchors);
    db->always = malloc((n_always ? n_always : 1) * sizeof *db->always);
    if (!db->anchors || !db->always) {
        status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        db->anchors[i].hash = get_le(p + 4 + i * 12, 8);
        db->anchors[i].sig_id = (uint32_t)get_le(p + 4 + i * 12 + 8, 4);
    }
    for (size_t i = 0; i < n_always; i++)
        db->always[i] = (uint32_t)get_le(p + 8 + n * 12 + i * 4, 4);
    db->anchor_count = n;
    db->always_count = n_always;
    goto done;
corrupt:
    status = kb_fail(err, KB_ERR_DB,
                     "database '%s' has a damaged prefilter index: recompile it "
                     "with kb-compile",
                     db->label);
done:
    sqlite3_finalize(st);
    return status;
}

/* The compiled code of the unanchored signatures; absent or unusable code is not an error
 * (they are then compiled from their patterns). */
static enum kb_status load_always_code(struct kb_db *db, struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    if (!db->always_count)
        return KB_OK;
    if (sqlite3_prepare_v2(db->sql, "SELECT data FROM blob WHERE name = 'always_code'", -1, &st,
                           NULL)
        != SQLITE_OK)
        return kb_fail_sql(db, err, "cannot read compiled signatures");
    enum kb_status status = KB_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (p && n && (db->always_code = malloc(n))) {
            memcpy(db->always_code, p, n);
            db->always_code_len = n;
        } else if (p && n) {
            status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
        }
    }
    sqlite3_finalize(st);
    return status;
}

static enum kb_status load_meta(struct kb_db *db, struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, "SELECT key, value FROM meta", -1, &st, NULL) != SQLITE_OK)
        return kb_fail_sql(db, err, "cannot read metadata");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const char *value = (const char *)sqlite3_column_text(st, 1);
        if (!key || !value)
            continue;
        if (strcmp(key, "build_hash") == 0) {
            free(db->build_hash);
            if (!(db->build_hash = strdup(value))) {
                sqlite3_finalize(st);
                return kb_fail(err, KB_ERR_NOMEM, "out of memory");
            }
        } else if (strcmp(key, "entry_count") == 0) {
            db->entry_count = strtol(value, NULL, 10);
        } else if (strcmp(key, "section_count") == 0) {
            db->section_count = strtol(value, NULL, 10);
        } else if (strcmp(key, "fulltext_needs_mail") == 0) {
            db->fulltext_needs_mail = strcmp(value, "0") != 0;
        } else if (strcmp(key, "schema_version") == 0) {
            db->schema_version = (int)strtol(value, NULL, 10);
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return kb_fail_sql(db, err, "cannot read metadata");
    if (!db->build_hash && !(db->build_hash = strdup("")))
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    return KB_OK;
}

static enum kb_status prepare_statements(struct kb_db *db, struct kb_error *err)
{
    static const char sig_sql[] =
        "SELECT s.entry_id, s.kind, s.source, s.pattern, s.weight, s.context, s.path, s.line, "
        "s.origin, s.section_id, s.regions, s.when_cond "
        "FROM signature s WHERE s.id = ?1";
    static const char entry_sql[] =
        "SELECT e.slug, e.title, a.path, a.title, e.provider, e.audience, e.related, "
        "e.why_text, e.why_ansi, e.why_md, e.solution_text, e.solution_ansi, e.solution_md, "
        "e.body_md, e.fulltext_only, (SELECT count(*) FROM signature s WHERE s.entry_id = e.id AND "
        "s.origin = ''), e.tell_text, e.tell_ansi, e.tell_md "
        "FROM entry e JOIN article a ON a.id = e.article_id WHERE e.id = ?1";
    static const char df_sql[] = "SELECT df FROM term_df WHERE term = ?1";
    static const char section_sql[] =
        "SELECT s.entry_id, s.heading, s.anchor, s.line, "
        "(SELECT count(*) FROM section t WHERE t.entry_id = s.entry_id) FROM section s "
        "WHERE s.id = ?1";
    static const char conditions_sql[] =
        "SELECT entry_id, source, weight, path, line FROM condition ORDER BY id";
    if (sqlite3_prepare_v3(db->sql, sig_sql, -1, SQLITE_PREPARE_PERSISTENT, &db->sig_by_id, NULL)
            != SQLITE_OK
        || sqlite3_prepare_v3(db->sql, entry_sql, -1, SQLITE_PREPARE_PERSISTENT,
                              &db->entry_by_rowid, NULL)
               != SQLITE_OK
        || sqlite3_prepare_v3(db->sql, df_sql, -1, SQLITE_PREPARE_PERSISTENT, &db->term_df, NULL)
               != SQLITE_OK
        || sqlite3_prepare_v3(db->sql, section_sql, -1, SQLITE_PREPARE_PERSISTENT,
                              &db->section_by_id, NULL)
               != SQLITE_OK
        || sqlite3_prepare_v3(db->sql, conditions_sql, -1, SQLITE_PREPARE_PERSISTENT,
                              &db->conditions, NULL)
               != SQLITE_OK)
        return kb_fail_sql(db, err, "not a KB database of the expected layout");
    return KB_OK;
}

static enum kb_status finish_open(struct kb_db *db, struct kb_db **out, struct kb_error *err)
{
    enum kb_status status;
    if ((status = load_meta(db, err)) != KB_OK || (status = load_anchors(db, err)) != KB_OK
        || (status = load_always_code(db, err)) != KB_OK
        || (status = kb_providers_load(db->sql, db->label, &db->providers, err)) != KB_OK
        || (status = prepare_statements(db, err)) != KB_OK) {
        kb_db_close(db);
        return status;
    }
    *out = db;
    return KB_OK;
}

static struct kb_db *db_new(const char *label, struct kb_error *err)
{
    struct kb_db *db = calloc(1, sizeof *db);
    if (db)
        db->fulltext_needs_mail = 1;
    if (db && !(db->label = strdup(label))) {
        free(db);
        db = NULL;
    }
    if (!db)
        kb_fail(err, KB_ERR_NOMEM, "out of memory");
    return db;
}

enum kb_status kb_db_open_file(const char *path, struct kb_db **out, struct kb_error *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return kb_fail(err, KB_ERR_IO,
                       "cannot open database '%s': %s (check --db or KB_DB, or compile one with "
                       "kb-compile)",
                       path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return kb_fail(err, KB_ERR_IO, "cannot open database '%s': not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return kb_fail(err, KB_ERR_IO, "cannot open database '%s': %s", path, strerror(errno));
    unsigned char header[100];
    size_t have = fread(header, 1, sizeof header, f);
    fclose(f);
    enum kb_status status = check_header(header, have, (uint64_t)sb.st_size, path, err);
    if (status != KB_OK)
        return status;

    struct kb_db *db = db_new(path, err);
    if (!db)
        return KB_ERR_NOMEM;
    /* immutable=1: the file never changes under us (the compiler renames a new one into
     * place), which lets SQLite skip locking and journal checks on every open. */
    char *uri = sqlite3_mprintf("file:%s?immutable=1", path);
    if (!uri) {
        kb_db_close(db);
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    }
    /* Escape characters that URIs reserve; sqlite3_mprintf has no URI quoting of its own. */
    int rc;
    if (strpbrk(path, "?#%")) {
        sqlite3_free(uri);
        rc = sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READONLY, NULL);
    } else {
        rc = sqlite3_open_v2(uri, &db->sql, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
        sqlite3_free(uri);
    }
    if (rc != SQLITE_OK) {
        status = kb_fail(err, KB_ERR_DB, "cannot open database '%s': %s", path,
                         db->sql ? sqlite3_errmsg(db->sql) : "out of memory");
        kb_db_close(db);
        return status;
    }
    return finish_open(db, out, err);
}

enum kb_status kb_db_open_memory(const unsigned char *data, size_t len, const char *label,
                                 struct kb_db **out, struct kb_error *err)
{
    *out = NULL;
    enum kb_status status = check_header(data, len, len, label, err);
    if (status != KB_OK)
        return status;
    struct kb_db *db = db_new(label, err);
    if (!db)
        return KB_ERR_NOMEM;
    if (sqlite3_open_v2(":memory:", &db->sql, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        kb_db_close(db);
        return kb_fail(err, KB_ERR_NOMEM, "cannot open an in-memory database");
    }
    /* READONLY: SQLite never writes to the image, so casting away const is safe. */
    if (sqlite3_deserialize(db->sql, "main", (unsigned char *)(uintptr_t)data, (sqlite3_int64)len,
                            (sqlite3_int64)len, SQLITE_DESERIALIZE_READONLY)
        != SQLITE_OK) {
        status = kb_fail_sql(db, err, "cannot load the database image");
        kb_db_close(db);
        return status;
    }
    return finish_open(db, out, err);
}

void kb_db_close(struct kb_db *db)
{
    if (!db)
        return;
    sqlite3_finalize(db->sig_by_id);
    sqlite3_finalize(db->entry_by_rowid);
    sqlite3_finalize(db->term_df);
    sqlite3_finalize(db->section_by_id);
    sqlite3_finalize(db->conditions);
    sqlite3_finalize(db->steps_by_entry);
    sqlite3_finalize(db->fts_search);
    sqlite3_finalize(db->fts_entry_of);
    sqlite3_finalize(db->fts_links);
    sqlite3_finalize(db->fts_pairs);
    sqlite3_finalize(db->fts_title);
    sqlite3_finalize(db->fts_sections);
    kb_providers_release(&db->providers);
    sqlite3_close(db->sql);
    free(db->label);
    free(db->build_hash);
    free(db->anchors);
    free(db->always);
    free(db->always_code);
    free(db);
}

const char *kb_db_build_hash(const struct kb_db *db)
{
    return db->build_hash;
}

const char *kb_db_label(const struct kb_db *db)
{
    return db->label;
}

int kb_db_schema_version(const struct kb_db *db)
{
    return db->schema_version;
}

long kb_db_entry_count(const struct kb_db *db)
{
    return db->entry_count;
}

/* ---- entries ----------------------------------------------------------------------------- */

void kb_entry_free(struct kb_entry *e)
{
    if (!e)
        return;
    char **fields[] = {&e->id,          &e->title,    &e->article,       &e->article_title,
                       &e->provider,    &e->audience, &e->related,       &e->why_text,
                       &e->why_ansi,    &e->why_md,   &e->solution_text, &e->solution_ansi,
                       &e->solution_md, &e->body_md,  &e->tell_text,     &e->tell_ansi,
                       &e->tell_md};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        free(*fields[i]);
    for (size_t i = 0; i < e->step_count; i++) {
        free(e->steps[i].labels);
        free(e->steps[i].providers);
    }
    free(e->steps);
    free(e);
}

static enum kb_status entry_from_row(sqlite3_stmt *st, struct kb_entry **out)
{
    struct kb_entry *e = calloc(1, sizeof *e);
    if (!e)
        return KB_ERR_NOMEM;
    char **fields[] = {&e->id,          &e->title,    &e->article,       &e->article_title,
                       &e->provider,    &e->audience, &e->related,       &e->why_text,
                       &e->why_ansi,    &e->why_md,   &e->solution_text, &e->solution_ansi,
                       &e->solution_md, &e->body_md};
    for (int i = 0; i < (int)(sizeof fields / sizeof fields[0]); i++) {
        const char *v = (const char *)sqlite3_column_text(st, i);
        if (!(*fields[i] = strdup(v ? v : ""))) {
            kb_entry_free(e);
            return KB_ERR_NOMEM;
        }
    }
    e->fulltext_only = sqlite3_column_int(st, 14);
    e->signature_count = sqlite3_column_int(st, 15);
    char **tell[] = {&e->tell_text, &e->tell_ansi, &e->tell_md};
    for (int i = 0; i < 3; i++) {
        const char *v = (const char *)sqlite3_column_text(st, 16 + i);
        if (!(*tell[i] = strdup(v ? v : ""))) {
            kb_entry_free(e);
            return KB_ERR_NOMEM;
        }
    }
    *out = e;
    return KB_OK;
}

enum kb_status kb_entry_load(struct kb_db *db, long long rowid, struct kb_entry **out,
                             struct kb_error *err)
{
    sqlite3_stmt *st = db->entry_by_rowid;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, rowid);
    int rc = sqlite3_step(st);
    enum kb_status status;
    if (rc == SQLITE_ROW)
        status =
            entry_from_row(st, out) == KB_OK ? KB_OK : kb_fail(err, KB_ERR_NOMEM, "out of memory");
    else if (rc == SQLITE_DONE)
        status = kb_fail(err, KB_ERR_NOT_FOUND, "no entry with row %lld", rowid);
    else
        status = kb_fail_sql(db, err, "cannot read an entry");
    sqlite3_reset(st);
    /* its provider-specific steps, checked against the solutions just loaded */
    if (rc == SQLITE_ROW && status == KB_OK
        && (status = kb_steps_load(db, rowid, *out, err)) != KB_OK) {
        kb_entry_free(*out);
        *out = NULL;
    }
    return status;
}

enum kb_status kb_entry_get(struct kb_db *db, const char *id, struct kb_entry **out,
                            struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (sqlite3_prepare_v2(db->sql, "SELECT id FROM entry WHERE slug = ?1", -1, &st, NULL)
        != SQLITE_OK)
        return kb_fail_sql(db, err, "cannot look up an entry");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    long long rowid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return kb_fail(err, KB_ERR_NOT_FOUND, "no entry with id '%s' (see --list)", id);
    if (rc != SQLITE_ROW)
        return kb_fail_sql(db, err, "cannot look up an entry");
    return kb_entry_load(db, rowid, out, err);
}

enum kb_status kb_entry_each(struct kb_db *db,
                             int (*visit)(const struct kb_entry *entry, void *arg), void *arg,
                             struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, "SELECT id FROM entry ORDER BY slug", -1, &st, NULL)
        != SQLITE_OK)
        return kb_fail_sql(db, err, "cannot list entries");
    enum kb_status status = KB_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct kb_entry *e = NULL;
        status = kb_entry_load(db, sqlite3_column_int64(st, 0), &e, err);
        if (status != KB_OK)
            break;
        int stop = visit(e, arg);
        kb_entry_free(e);
        if (stop)
            break;
    }
    if (status == KB_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        status = kb_fail_sql(db, err, "cannot list entries");
    sqlite3_finalize(st);
    return status;
}
