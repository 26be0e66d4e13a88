/*
 * kb_db.c - opening a compiled KB read-only, from a file or from memory, and reading entries.
 *
 * Every lookup is a fresh process, so opening must be cheap: the database is read through the
 * immutable VFS of kb_vfs.c (no locking, no journal probing), the prefilter index is used in
 * place (kb_prefilter.c reads its header here, and a lookup the chunks its tokens probe), and
 * the compiled unanchored signatures are a blob decoded once. Nothing is used that was not checked:
 * the VFS checks each page's checksum as SQLite reads it, and each blob's size and checksum are
 * checked here before it is decoded (kb_integrity.h). Damage is reported with one line naming
 * the file and the part.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>

#include "kb_integrity.h"
#include "kb_internal.h"
#include "kb_prefilter.h"
#include "kb_schema.h"
#include "kb_text.h"

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
    uint64_t page = kb_vfs_bad_page(db->sql);
    if (page)
        return kb_fail(err, KB_ERR_DB,
                       "database '%s' is damaged: page %llu fails its checksum (%s): recompile "
                       "it with kb-compile",
                       db->label, (unsigned long long)page, what);
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
    /* The header is page 1: when it says it carries checksums, it is checked before anything
     * in it is believed. */
    if (h[20] == KB_PAGE_RESERVE && (have < page_size || !kb_page_intact(h, page_size, 1)))
        return kb_fail(err, KB_ERR_DB,
                       "database '%s' is damaged: page 1 (the header) fails its checksum: "
                       "recompile it with kb-compile",
                       label);
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
    if (h[20] != KB_PAGE_RESERVE)
        return kb_fail(err, KB_ERR_DB,
                       "database '%s' has no page checksums (it was changed after kb-compile "
                       "wrote it): recompile it with kb-compile",
                       label);
    return KB_OK;
}

/* Positions *st on blob name's row after checking its size and checksum against the checksum
 * table (what names the blob in messages). *data is NULL when there is no such blob. The
 * caller finalizes *st, which keeps *data valid until then. */
static enum kb_status read_blob(struct kb_db *db, const char *name, const char *what,
                                sqlite3_stmt **st, const unsigned char **data, size_t *size,
                                struct kb_error *err)
{
    *data = NULL;
    *size = 0;
    if (sqlite3_prepare_v2(db->sql,
                           "SELECT b.data, c.size, c.xxh64 FROM blob b "
                           "LEFT JOIN checksum c ON c.name = b.name WHERE b.name = ?1",
                           -1, st, NULL)
            != SQLITE_OK
        || sqlite3_bind_text(*st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK)
        return kb_fail_sql(db, err, what);
    int rc = sqlite3_step(*st);
    if (rc == SQLITE_DONE)
        return KB_OK;
    if (rc != SQLITE_ROW)
        return kb_fail_sql(db, err, what);
    const unsigned char *p = sqlite3_column_blob(*st, 0);
    size_t n = (size_t)sqlite3_column_bytes(*st, 0);
    const char *want = (const char *)sqlite3_column_text(*st, 2);
    /* compared as numbers, not as text: a fuzzer learns the strings a strcmp is given */
    char *end = NULL;
    unsigned long long stored = want ? strtoull(want, &end, 16) : 0;
    uint64_t got = kb_xxh64(p ? p : (const void *)"", n, 0);
    if (sqlite3_column_type(*st, 1) == SQLITE_NULL || !want || !end || *end || end - want != 16)
        return kb_fail(err, KB_ERR_DB,
                       "database '%s' is damaged: %s (blob '%s') has no checksum: recompile it "
                       "with kb-compile",
                       db->label, what, name);
    if ((sqlite3_int64)n != sqlite3_column_int64(*st, 1) || stored != got)
        return kb_fail(err, KB_ERR_DB,
                       "database '%s' is damaged: %s (blob '%s') fails its checksum: recompile "
                       "it with kb-compile",
                       db->label, what, name);
    *data = p ? p : (const unsigned char *)"";
    *size = n;
    return KB_OK;
}

/* The prefilter index is used in place (kb_prefilter.c): only its header is read here, and the
 * list of the signatures without anchor, which every lookup runs (their number is that of the
 * compiled codes decoded below). */
static enum kb_status load_prefilter(struct kb_db *db, struct kb_error *err)
{
    enum kb_status status = kb_prefilter_open(&db->prefilter, db->sql, db->label, err);
    if (status != KB_OK)
        return status;
    size_t n = db->prefilter.always_count;
    if (!(db->always = malloc((n ? n : 1) * sizeof *db->always)))
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (kb_prefilter_id(&db->prefilter, 1, (uint32_t)i, &db->always[i], err))
            return err ? err->status : KB_ERR_DB;
    db->always_count = n;
    return KB_OK;
}

/* What PCRE2 allocates while decoding the compiled signatures, in one list: on a decode error
 * it may leave codes and their tables behind (PCRE2 10.42 does), and they are freed with the
 * rest; codes freed with pcre2_code_free leave the list as they go. */
union code_block {
    struct {
        union code_block *next, *prev;
    } link;
    max_align_t align;
};

struct kb_code_memory {
    union code_block *head;
};

static void *code_malloc(size_t size, void *data)
{
    struct kb_code_memory *m = data;
    union code_block *b = malloc(sizeof *b + size);
    if (!b)
        return NULL;
    b->link.prev = NULL;
    b->link.next = m->head;
    if (m->head)
        m->head->link.prev = b;
    m->head = b;
    return b + 1;
}

static void code_free(void *p, void *data)
{
    struct kb_code_memory *m = data;
    if (!p)
        return;
    union code_block *b = (union code_block *)p - 1;
    if (b->link.prev)
        b->link.prev->link.next = b->link.next;
    else
        m->head = b->link.next;
    if (b->link.next)
        b->link.next->link.prev = b->link.prev;
    free(b);
}

static void code_memory_free(struct kb_code_memory *m)
{
    while (m && m->head)
        code_free(m->head + 1, m);
    free(m);
}

/* What each unanchored signature's matches must contain ('always_needs': one of several texts
 * for an alternation), so that a lookup need not run those whose text is not there. Absent:
 * every one runs. */
static enum kb_status load_always_needs(struct kb_db *db, struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *p;
    size_t size;
    if (!db->always_count)
        return KB_OK;
    enum kb_status status =
        read_blob(db, "always_needs", "what the compiled signatures need", &st, &p, &size, err);
    if (status != KB_OK || !p)
        goto done;
    db->always_needs = calloc(db->always_count, sizeof *db->always_needs);
    db->always_needs_text = malloc(size + 1);
    if (!db->always_needs || !db->always_needs_text) {
        status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* each entry becomes its texts, each NUL-terminated, and an empty one after the last, in
     * place of its length (n + 2 bytes for 4 + n) */
    size_t at = 0, out = 0;
    for (size_t i = 0; i < db->always_count; i++) {
        if (size - at < 4 || get_le(p + at, 4) > size - at - 4)
            goto damaged;
        size_t n = (size_t)get_le(p + at, 4);
        if (n) {
            const unsigned char *t = p + at + 4;
            /* no empty text: none first, last, or two NULs in a row */
            if (!t[0] || !t[n - 1])
                goto damaged;
            for (size_t k = 1; k < n; k++)
                if (!t[k] && !t[k - 1])
                    goto damaged;
            memcpy(db->always_needs_text + out, t, n);
            db->always_needs_text[out + n] = '\0';
            db->always_needs_text[out + n + 1] = '\0';
            db->always_needs[i] = db->always_needs_text + out;
            out += n + 2;
        }
        at += 4 + n;
    }
    if (at == size)
        goto done;
damaged:
    status = kb_fail(err, KB_ERR_DB,
                     "database '%s' is damaged: what the compiled signatures need (blob "
                     "'always_needs') does not fit them: recompile it with kb-compile",
                     db->label);
done:
    sqlite3_finalize(st);
    return status;
}

/* Where PCRE2 keeps the size of a compiled code inside the code's block, and the length of the
 * character tables that follow a serialisation's 16-byte header. Neither is public, so both
 * are found by serialising two patterns of different sizes: the tables' length is what remains
 * of a serialisation after the header and the code (pcre2_pattern_info PCRE2_INFO_SIZE), the
 * offset where both blocks hold their own size. 0 in *offset when not found: the stored code
 * is then not decoded at all. */
static void serialisation_layout_find(size_t *offset, size_t *tables);

/* The layout is PCRE2's, the same for every handle: found once a process. */
static size_t layout_offset, layout_tables;
static pthread_once_t layout_once = PTHREAD_ONCE_INIT;

static void serialisation_layout_once(void)
{
    serialisation_layout_find(&layout_offset, &layout_tables);
}

static void serialisation_layout(size_t *offset, size_t *tables)
{
    pthread_once(&layout_once, serialisation_layout_once);
    *offset = layout_offset;
    *tables = layout_tables;
}

static void serialisation_layout_find(size_t *offset, size_t *tables)
{
    static const char *const probes[2] = {"a", "(?:b|c)+\\d{2,5}x\\w*?yz"};
    pcre2_code *re[2] = {NULL, NULL};
    uint8_t *bytes[2] = {NULL, NULL};
    PCRE2_SIZE len[2] = {0, 0};
    size_t code_size[2] = {0, 0};
    *offset = *tables = 0;
    for (int i = 0; i < 2; i++) {
        int errcode;
        PCRE2_SIZE erroff;
        re[i] =
            pcre2_compile((PCRE2_SPTR)probes[i], PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);
        if (!re[i] || pcre2_pattern_info(re[i], PCRE2_INFO_SIZE, &code_size[i]) != 0
            || pcre2_serialize_encode((const pcre2_code **)&re[i], 1, &bytes[i], &len[i], NULL) != 1
            || len[i] <= 16 + code_size[i])
            goto done;
    }
    if (len[0] - code_size[0] != len[1] - code_size[1] || code_size[0] == code_size[1])
        goto done;
    *tables = len[0] - 16 - code_size[0];
    for (size_t off = 0; off + sizeof(size_t) <= code_size[0] && off < 256; off += sizeof(size_t)) {
        size_t a, b;
        memcpy(&a, bytes[0] + 16 + *tables + off, sizeof a);
        memcpy(&b, bytes[1] + 16 + *tables + off, sizeof b);
        if (a == code_size[0] && b == code_size[1]) {
            *offset = off;
            break;
        }
    }
done:
    for (int i = 0; i < 2; i++) {
        pcre2_code_free(re[i]);
        if (bytes[i])
            pcre2_serialize_free(bytes[i]);
    }
    if (!*offset)
        *tables = 0;
}

/* Does a serialisation of count codes hold exactly count whole blocks? pcre2_serialize_decode
 * is given no length: it trusts each block's size, so they are walked here first. 1 yes, 0 no,
 * -1 when this PCRE2's layout could not be found (then the code is not decoded). */
static int serialisation_whole(const unsigned char *p, size_t size, size_t count)
{
    size_t offset, tables;
    serialisation_layout(&offset, &tables);
    if (!offset)
        return -1;
    if (size < 16 + tables)
        return 0;
    size_t at = 16 + tables;
    for (size_t i = 0; i < count; i++) {
        size_t block;
        if (size - at < offset + sizeof block)
            return 0;
        memcpy(&block, p + at + offset, sizeof block);
        if (block <= offset + sizeof block || block > size - at)
            return 0;
        at += block;
    }
    return at == size;
}

/* The compiled code of the unanchored signatures, checked and decoded at open. Read when first
 * needed it would cost less at 200,000 signatures (2.5M instructions), but then a damaged blob
 * would go unnoticed by every lookup that does not need it, and a database must say it is
 * damaged when it is opened (../shared/findings: db-always-code-*). Absent code, or
 * code of another PCRE2 version or build, is not an error: they are then compiled from their
 * patterns. Code that fails its checksum, or that PCRE2 refuses, is damage. */
static enum kb_status load_always_code(struct kb_db *db, struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *p;
    size_t size;
    pcre2_general_context *gctx = NULL;
    if (!db->always_count)
        return KB_OK;
    enum kb_status status =
        read_blob(db, "always_code", "the compiled signatures", &st, &p, &size, err);
    if (status != KB_OK || !p)
        goto done;
    /* the serialisation's header: 16 bytes, the last four the number of codes */
    int32_t count = size >= 16 ? pcre2_serialize_get_number_of_codes(p) : PCRE2_ERROR_BADDATA;
    if (count == PCRE2_ERROR_BADMODE)
        goto done; /* another PCRE2: compile them */
    if (count != (int32_t)db->always_count)
        goto damaged;
    int whole = serialisation_whole(p, size, db->always_count);
    if (whole < 0)
        goto done; /* cannot be checked here: compile them */
    if (!whole)
        goto damaged;
    db->code_memory = calloc(1, sizeof *db->code_memory);
    db->always_codes = calloc(db->always_count, sizeof *db->always_codes);
    if (!db->code_memory || !db->always_codes
        || !(gctx = pcre2_general_context_create(code_malloc, code_free, db->code_memory)))
        goto nomem;
    int32_t decoded = pcre2_serialize_decode(db->always_codes, count, p, gctx);
    if (decoded == count)
        goto done;
    /* whatever PCRE2 decoded before it stopped, and its tables, go with the list */
    pcre2_general_context_free(gctx);
    gctx = NULL;
    free(db->always_codes);
    db->always_codes = NULL;
    code_memory_free(db->code_memory);
    db->code_memory = NULL;
    if (decoded == PCRE2_ERROR_NOMEMORY)
        goto nomem;
damaged:
    status = kb_fail(err, KB_ERR_DB,
                     "database '%s' is damaged: the compiled signatures (blob 'always_code') "
                     "cannot be decoded: recompile it with kb-compile",
                     db->label);
    goto done;
nomem:
    status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
done:
    pcre2_general_context_free(gctx);
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
        } else if (strcmp(key, "regex_code") == 0) {
            char *end = NULL;
            db->regex_code_key = strtoull(value, &end, 16);
            db->has_regex_code = end && !*end && end - value == 16;
        } else if (strcmp(key, "schema_version") == 0) {
            db->schema_version = (int)strtol(value, NULL, 10);
        } else if (strcmp(key, "language") == 0 || strcmp(key, "languages") == 0) {
            char **slot = key[8] ? &db->languages : &db->language;
            free(*slot);
            if (!(*slot = strdup(value))) {
                sqlite3_finalize(st);
                return kb_fail(err, KB_ERR_NOMEM, "out of memory");
            }
        } else if (kb_layers_meta(db, key, value, err) != KB_OK) {
            sqlite3_finalize(st);
            return err->status;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return kb_fail_sql(db, err, "cannot read metadata");
    if ((!db->build_hash && !(db->build_hash = strdup("")))
        || (!db->language && !(db->language = strdup("")))
        || (!db->languages && !(db->languages = strdup(db->language))))
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    return KB_OK;
}

static enum kb_status prepare_statements(struct kb_db *db, struct kb_error *err)
{
    static const char sig_sql[] =
        "SELECT s.entry_id, s.kind, s.source, s.pattern, s.weight, s.context, s.path, s.line, "
        "s.origin, s.section_id, s.regions, s.when_cond, s.code "
        "FROM signature s WHERE s.id = ?1";
    static const char conditions_sql[] =
        "SELECT entry_id, source, weight, path, line FROM condition ORDER BY id";
    if (sqlite3_prepare_v3(db->sql, sig_sql, -1, SQLITE_PREPARE_PERSISTENT, &db->sig_by_id, NULL)
            != SQLITE_OK
        || sqlite3_prepare_v3(db->sql, conditions_sql, -1, SQLITE_PREPARE_PERSISTENT,
                              &db->conditions, NULL)
               != SQLITE_OK)
        return kb_fail_sql(db, err, "not a KB database of the expected layout");
    return KB_OK;
}

/* A statement only some lookups use, prepared by the first that does (preparing one costs
 * about 100K instructions: a lookup the signatures answer never reads term statistics or
 * sections). NULL, err set, when it cannot be prepared. */
static sqlite3_stmt *lazy_statement(struct kb_db *db, sqlite3_stmt **slot, const char *sql,
                                    struct kb_error *err)
{
    if (!*slot
        && sqlite3_prepare_v3(db->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL)
               != SQLITE_OK) {
        sqlite3_finalize(*slot);
        *slot = NULL;
        kb_fail_sql(db, err, "not a KB database of the expected layout");
    }
    return *slot;
}

sqlite3_stmt *kb_db_term_df(struct kb_db *db, struct kb_error *err)
{
    return lazy_statement(db, &db->term_df, "SELECT df FROM term_df WHERE term = ?1", err);
}

sqlite3_stmt *kb_db_section_by_id(struct kb_db *db, struct kb_error *err)
{
    return lazy_statement(db, &db->section_by_id,
                          "SELECT s.entry_id, s.heading, s.anchor, s.line, "
                          "(SELECT count(*) FROM section t WHERE t.entry_id = s.entry_id) "
                          "FROM section s WHERE s.id = ?1",
                          err);
}

enum kb_status kb_db_rows_each(sqlite3 *sql, const char *label, const char *what, const char *query,
                               enum kb_status (*row)(sqlite3_stmt *, void *), void *ctx,
                               struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sql, query, -1, &st, NULL) != SQLITE_OK)
        return kb_fail(err, KB_ERR_DB, "database '%s': cannot read the %s: %s", label, what,
                       sqlite3_errmsg(sql));
    enum kb_status status = KB_OK;
    int rc = SQLITE_DONE;
    while (status == KB_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (id && *id && (status = row(st, ctx)) == KB_ERR_NOMEM)
            kb_fail(err, status, "out of memory");
    }
    if (status == KB_OK && rc != SQLITE_DONE)
        status = kb_fail(err, KB_ERR_DB, "database '%s': cannot read the %s: %s", label, what,
                         sqlite3_errmsg(sql));
    sqlite3_finalize(st);
    return status;
}

static enum kb_status finish_open(struct kb_db *db, struct kb_db **out, struct kb_error *err)
{
    enum kb_status status;
    if ((status = load_meta(db, err)) != KB_OK || (status = load_prefilter(db, err)) != KB_OK
        || (status = load_always_code(db, err)) != KB_OK
        || (status = load_always_needs(db, err)) != KB_OK
        || (status = kb_providers_load(db->sql, db->label, &db->providers, err)) != KB_OK
        || (status = kb_clients_load(db->sql, db->label, &db->clients, err)) != KB_OK
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
    if (db) {
        db->fulltext_needs_mail = 1;
        db->texts = KB_TEXTS_ALL;
        db->clients_used = &db->clients;
    }
    if (db && !(db->label = strdup(label))) {
        free(db);
        db = NULL;
    }
    if (!db)
        kb_fail(err, KB_ERR_NOMEM, "out of memory");
    return db;
}

/* Opens db->sql through the checking VFS: the file at path, or the image when path is NULL. */
static enum kb_status open_sealed(struct kb_db *db, const char *path, struct kb_error *err)
{
    if (kb_vfs_register() != KB_OK)
        return kb_fail(err, KB_ERR_DB, "cannot set up SQLite to read '%s'", db->label);
    int rc;
    /* No mutex of the connection's own: a handle serves one query at a time (kb.h), and
     * SQLite took and released one in every call, a tenth of a lookup's SQLite calls. */
    if (path) {
        rc = sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                             KB_VFS_NAME);
    } else {
        char *uri = sqlite3_mprintf("file:kb-image?ptr=%llu&sz=%llu",
                                    (unsigned long long)(uintptr_t)db->image,
                                    (unsigned long long)db->image_len);
        if (!uri)
            return kb_fail(err, KB_ERR_NOMEM, "out of memory");
        rc = sqlite3_open_v2(uri, &db->sql,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                             KB_VFS_NAME);
        sqlite3_free(uri);
    }
    if (rc != SQLITE_OK)
        return kb_fail(err, KB_ERR_DB, "cannot open database '%s': %s", db->label,
                       db->sql ? sqlite3_errmsg(db->sql) : "out of memory");
    return KB_OK;
}

enum kb_status kb_db_open_file(const char *path, struct kb_db **out, struct kb_error *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return kb_fail(err, KB_ERR_IO, "cannot open database '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return kb_fail(err, KB_ERR_IO, "cannot open database '%s': not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return kb_fail(err, KB_ERR_IO, "cannot open database '%s': %s", path, strerror(errno));
    /* the header page whole (the largest page SQLite allows), to check its checksum */
    unsigned char *header = malloc(65536);
    if (!header) {
        fclose(f);
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    }
    size_t have = fread(header, 1, 65536, f);
    fclose(f);
    enum kb_status status = check_header(header, have, (uint64_t)sb.st_size, path, err);
    free(header);
    if (status != KB_OK)
        return status;
    struct kb_db *db = db_new(path, err);
    if (!db)
        return KB_ERR_NOMEM;
    if (!(db->path = strdup(path))) {
        kb_db_close(db);
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    }
    if ((status = open_sealed(db, path, err)) != KB_OK) {
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
    db->image = data;
    db->image_len = len;
    if ((status = open_sealed(db, NULL, err)) != KB_OK) {
        kb_db_close(db);
        return status;
    }
    return finish_open(db, out, err);
}

static void entry_cache_free(struct kb_db *db);

void kb_db_close(struct kb_db *db)
{
    if (!db)
        return;
    sqlite3_finalize(db->sig_by_id);
    kb_sig_cache_free(db->sig_cache);
    kb_condition_rows_free(db->condition_rows);
    entry_cache_free(db);
    sqlite3_finalize(db->entry_by_rowid);
    sqlite3_finalize(db->term_df);
    sqlite3_finalize(db->section_by_id);
    sqlite3_finalize(db->conditions);
    sqlite3_finalize(db->steps_by_entry);
    sqlite3_finalize(db->entry_text);
    free(db->language);
    free(db->languages);
    free(db->want_lang);
    sqlite3_finalize(db->fix_by_entry);
    sqlite3_finalize(db->fts_search);
    sqlite3_finalize(db->fts_entry_of);
    sqlite3_finalize(db->fts_links);
    sqlite3_finalize(db->fts_pairs);
    sqlite3_finalize(db->fts_title);
    sqlite3_finalize(db->fts_sections);
    kb_providers_release(&db->providers);
    kb_clients_release(&db->clients);
    kb_layers_release(db);
    /* its blob handle first: SQLite closes no busy connection */
    kb_prefilter_close(&db->prefilter);
    sqlite3_close(db->sql);
    /* indexed by signature id: most slots are empty, and a call per slot cost 60K
     * instructions at every exit */
    for (size_t i = 0; i < db->sig_regex_cap; i++)
        if (db->sig_regex[i])
            pcre2_code_free(db->sig_regex[i]);
    free(db->sig_regex);
    /* after the codes: what a failed decode left behind too */
    pcre2_general_context_free(db->sig_gctx);
    code_memory_free(db->sig_code_memory);
    free(db->code_prefix);
    free(db->code_buf);
    kb_regex_cache_release(&db->regex_cache);
    for (size_t i = 0; db->always_codes && i < db->always_count; i++)
        pcre2_code_free(db->always_codes[i]);
    free(db->always_codes);
    code_memory_free(db->code_memory);
    free(db->always_needs);
    free(db->always_needs_text);
    kb_literal_set_free(db->always_set);
    free(db->always_which);
    free(db->label);
    free(db->path);
    free(db->build_hash);
    free(db->always);
    free(db);
}

/* Every page of the file or image against its checksum, not only those a lookup reads. */
static enum kb_status check_all_pages(struct kb_db *db, struct kb_error *err)
{
    const unsigned char *data = db->image;
    uint64_t len = db->image_len;
    size_t page_size = data && len >= 100 ? kb_image_page_size(data) : 0;
    unsigned char *page = NULL;
    FILE *f = NULL;
    enum kb_status status = KB_OK;
    if (!data) {
        unsigned char h[100];
        struct stat sb;
        if (!(f = fopen(db->path, "rb")) || fstat(fileno(f), &sb) != 0
            || fread(h, 1, sizeof h, f) != sizeof h || fseek(f, 0, SEEK_SET) != 0) {
            status = kb_fail(err, KB_ERR_IO, "cannot read database '%s': %s", db->label,
                             strerror(errno));
            goto done;
        }
        len = (uint64_t)sb.st_size;
        page_size = kb_image_page_size(h);
    }
    if (page_size && !data && !(page = malloc(page_size))) {
        status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (uint64_t pg = 0; status == KB_OK && (!page_size || pg * page_size < len); pg++) {
        const unsigned char *p = NULL;
        if (page_size && (pg + 1) * page_size <= len)
            p = data                                        ? data + pg * page_size
                : fread(page, 1, page_size, f) == page_size ? page
                                                            : NULL;
        if (!p || !kb_page_intact(p, page_size, pg + 1))
            status = kb_fail(err, KB_ERR_DB,
                             "database '%s' is damaged: page %llu fails its checksum: recompile "
                             "it with kb-compile",
                             db->label, (unsigned long long)pg + 1);
    }
done:
    if (f)
        fclose(f);
    free(page);
    return status;
}

static enum kb_status check_one(struct kb_db *db, struct kb_error *err);

enum kb_status kb_db_check(struct kb_db *db, struct kb_error *err)
{
    /* a stack is intact when every layer is; the message names the one that is not */
    enum kb_status status = check_one(db, err);
    for (size_t i = 0; status == KB_OK && i < db->above_count; i++)
        status = check_one(db->above[i], err);
    return status;
}

static enum kb_status check_one(struct kb_db *db, struct kb_error *err)
{
    enum kb_status status = check_all_pages(db, err);
    if (status == KB_OK)
        status = kb_prefilter_check(&db->prefilter, err);
    if (status != KB_OK)
        return status;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return kb_fail_sql(db, err, "cannot run the integrity check");
    int rc = sqlite3_step(st);
    const char *verdict = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (rc != SQLITE_ROW)
        status = kb_fail_sql(db, err, "the integrity check failed");
    else if (!verdict || strcmp(verdict, "ok") != 0)
        status = kb_fail(err, KB_ERR_DB,
                         "database '%s' is damaged: SQLite's integrity check says: %s: recompile "
                         "it with kb-compile",
                         db->label, verdict ? verdict : "?");
    sqlite3_finalize(st);
    return status;
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
                       &e->tell_md,     &e->language};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        free(*fields[i]);
    for (size_t i = 0; i < e->step_count; i++) {
        free(e->steps[i].labels);
        free(e->steps[i].providers);
    }
    free(e->steps);
    kb_fix_release(e);
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

/* ---- the entries a handle has read -------------------------------------------------------- */

/* At most this many entries are kept with a handle (the answers' entries of a --serve
 * process: three a request, mostly the same few; without the bodies, tens of KB each). */
#define KB_ENTRY_CACHE 64

struct kb_entry_slot {
    long long rowid;
    unsigned texts;
    char *lang; /* the handle's want_lang when it was read, "" for the default */
    struct kb_entry *entry;
};

static void entry_cache_free(struct kb_db *db)
{
    for (size_t i = 0; db->entry_cache && i < KB_ENTRY_CACHE; i++) {
        free(db->entry_cache[i].lang);
        kb_entry_free(db->entry_cache[i].entry);
    }
    free(db->entry_cache);
    db->entry_cache = NULL;
}

static int copy_str(char **dst, const char *src)
{
    return (*dst = strdup(src)) != NULL;
}

/* A copy of e that owns all its strings, or NULL when out of memory. */
static struct kb_entry *entry_copy(const struct kb_entry *e)
{
    struct kb_entry *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->signature_count = e->signature_count;
    c->fulltext_only = e->fulltext_only;
    c->layer = e->layer;
    int ok = copy_str(&c->id, e->id) && copy_str(&c->title, e->title)
             && copy_str(&c->article, e->article) && copy_str(&c->article_title, e->article_title)
             && copy_str(&c->provider, e->provider) && copy_str(&c->audience, e->audience)
             && copy_str(&c->related, e->related) && copy_str(&c->why_text, e->why_text)
             && copy_str(&c->why_ansi, e->why_ansi) && copy_str(&c->why_md, e->why_md)
             && copy_str(&c->tell_text, e->tell_text) && copy_str(&c->tell_ansi, e->tell_ansi)
             && copy_str(&c->tell_md, e->tell_md) && copy_str(&c->solution_text, e->solution_text)
             && copy_str(&c->solution_ansi, e->solution_ansi)
             && copy_str(&c->solution_md, e->solution_md) && copy_str(&c->body_md, e->body_md)
             && copy_str(&c->language, e->language);
    if (ok && e->step_count && !(c->steps = calloc(e->step_count, sizeof *c->steps)))
        ok = 0;
    for (size_t i = 0; ok && i < e->step_count; i++) {
        c->steps[i] = e->steps[i];
        c->steps[i].labels = c->steps[i].providers = NULL;
        c->step_count = i + 1;
        ok = copy_str(&c->steps[i].labels, e->steps[i].labels)
             && copy_str(&c->steps[i].providers, e->steps[i].providers);
    }
    if (ok && e->fix_count && !(c->fix = calloc(e->fix_count, sizeof *c->fix)))
        ok = 0;
    for (size_t i = 0; ok && i < e->fix_count; i++) {
        const struct kb_fix_step *f = &e->fix[i];
        struct kb_fix_step *g = &c->fix[i];
        c->fix_count = i + 1;
        g->part = f->part;
        g->number = f->number;
        ok = copy_str(&g->providers, f->providers) && copy_str(&g->text, f->text)
             && copy_str(&g->markdown, f->markdown);
        if (ok && f->command_count
            && !(g->commands = calloc(f->command_count, sizeof *g->commands)))
            ok = 0;
        for (size_t k = 0; ok && k < f->command_count; k++) {
            g->command_count = k + 1;
            ok = copy_str(&g->commands[k], f->commands[k]);
        }
    }
    if (!ok) {
        kb_entry_free(c);
        return NULL;
    }
    return c;
}

/* The slot that holds entry rowid as the handle reads it now, or NULL. */
static struct kb_entry_slot *entry_cached(const struct kb_db *db, long long rowid)
{
    const char *lang = db->want_lang ? db->want_lang : "";
    for (size_t i = 0; db->entry_cache && i < KB_ENTRY_CACHE; i++) {
        struct kb_entry_slot *s = &db->entry_cache[i];
        if (s->entry && s->rowid == rowid && s->texts == db->texts && strcmp(s->lang, lang) == 0)
            return s;
    }
    return NULL;
}

/* Keeps a copy of e, entry rowid as the handle reads it now; out of memory, keeps nothing. */
static void entry_keep(struct kb_db *db, long long rowid, const struct kb_entry *e)
{
    if (!db->entry_cache && !(db->entry_cache = calloc(KB_ENTRY_CACHE, sizeof *db->entry_cache)))
        return;
    struct kb_entry *copy = entry_copy(e);
    char *lang = strdup(db->want_lang ? db->want_lang : "");
    if (!copy || !lang) {
        kb_entry_free(copy);
        free(lang);
        return;
    }
    struct kb_entry_slot *s = &db->entry_cache[db->entry_cache_next];
    db->entry_cache_next = (db->entry_cache_next + 1) % KB_ENTRY_CACHE;
    free(s->lang);
    kb_entry_free(s->entry);
    *s = (struct kb_entry_slot){rowid, db->texts, lang, copy};
}

/* The columns of an entry's texts (in entry and entry_text alike), in the order entry_from_row
 * and load_translation read them, each with the kb_db_texts_set bit that asks for it. */
static const struct {
    const char *column;
    unsigned bit;
} entry_texts[] = {
    {"why_text", KB_TEXTS_PLAIN},     {"why_ansi", KB_TEXTS_ANSI},
    {"why_md", KB_TEXTS_MARKDOWN},    {"solution_text", KB_TEXTS_PLAIN},
    {"solution_ansi", KB_TEXTS_ANSI}, {"solution_md", KB_TEXTS_MARKDOWN},
    {"body_md", KB_TEXTS_BODY},       {"tell_text", KB_TEXTS_PLAIN},
    {"tell_ansi", KB_TEXTS_ANSI},     {"tell_md", KB_TEXTS_MARKDOWN},
};

/* Appends the texts [from, to) of entry_texts to sql, table prefix t ("e." or ""), each as
 * its column when the handle reads it and as '' when not: a column a statement does not
 * select is never read, and the longest (the body, the renderings no printer shows) are
 * most of the bytes of a row. */
static enum kb_status texts_columns(struct kb_buf *sql, const struct kb_db *db, size_t from,
                                    size_t to, const char *t)
{
    enum kb_status st = KB_OK;
    for (size_t i = from; i < to && st == KB_OK; i++)
        st = db->texts & entry_texts[i].bit ? kb_buf_printf(sql, ", %s%s", t, entry_texts[i].column)
                                            : kb_buf_append_str(sql, ", ''");
    return st;
}

/* Prepares the entry statements for the texts the handle reads now, when they were prepared
 * for another set (or not yet: a handle that answers nothing prepares neither). */
static enum kb_status prepare_entry_statements(struct kb_db *db, struct kb_error *err)
{
    if (db->entry_by_rowid && db->texts_prepared == db->texts && (!db->want_lang || db->entry_text))
        return KB_OK;
    sqlite3_finalize(db->entry_by_rowid);
    sqlite3_finalize(db->entry_text);
    db->entry_by_rowid = db->entry_text = NULL;
    struct kb_buf entry, text;
    kb_buf_init(&entry, 0);
    kb_buf_init(&text, 0);
    enum kb_status st =
        kb_buf_append_str(&entry, "SELECT e.slug, e.title, a.path, a.title, e.provider, "
                                  "e.audience, e.related");
    if (st == KB_OK)
        st = texts_columns(&entry, db, 0, 7, "e.");
    if (st == KB_OK)
        st = kb_buf_append_str(&entry, ", e.fulltext_only, (SELECT count(*) FROM signature s "
                                       "WHERE s.entry_id = e.id AND s.origin = '')");
    if (st == KB_OK)
        st = texts_columns(&entry, db, 7, 10, "e.");
    if (st == KB_OK)
        st = kb_buf_append_str(&entry, " FROM entry e JOIN article a ON a.id = e.article_id "
                                       "WHERE e.id = ?1");
    /* a translation: the title, then the texts in entry_from_row's order but the tell-apart
     * check after the why */
    static const size_t order[] = {0, 1, 2, 7, 8, 9, 3, 4, 5, 6};
    if (st == KB_OK)
        st = kb_buf_append_str(&text, "SELECT title");
    for (size_t i = 0; i < sizeof order / sizeof order[0] && st == KB_OK; i++)
        st = texts_columns(&text, db, order[i], order[i] + 1, "");
    if (st == KB_OK)
        st = kb_buf_append_str(&text, " FROM entry_text WHERE entry_id = ?1 AND lang = ?2");
    if (st != KB_OK)
        st = kb_fail(err, KB_ERR_NOMEM, "out of memory");
    else if (sqlite3_prepare_v3(db->sql, entry.data, (int)entry.len, SQLITE_PREPARE_PERSISTENT,
                                &db->entry_by_rowid, NULL)
             != SQLITE_OK)
        st = kb_fail_sql(db, err, "not a KB database of the expected layout");
    else
        db->texts_prepared = db->texts;
    /* the translation's statement only where a language is asked for: most handles never
     * read one */
    if (st == KB_OK && db->want_lang
        && sqlite3_prepare_v3(db->sql, text.data, (int)text.len, SQLITE_PREPARE_PERSISTENT,
                              &db->entry_text, NULL)
               != SQLITE_OK)
        st = kb_fail_sql(db, err, "cannot read a translation");
    kb_buf_release(&entry);
    kb_buf_release(&text);
    return st;
}

/* Puts the entry's text and its solution's structure in the language asked for
 * (kb_db_language_set), when the KB holds it; e->language says which it is. A translation's
 * steps are not marked for providers: its solution is kept whole. */
static enum kb_status load_translation(struct kb_db *db, long long rowid, struct kb_entry *e,
                                       struct kb_error *err)
{
    const char *lang = db->language;
    int rc = SQLITE_DONE;
    sqlite3_stmt *st = db->entry_text; /* prepare_entry_statements made it when needed */
    if (db->want_lang) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_text(st, 2, db->want_lang, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    enum kb_status status = KB_OK;
    if (rc == SQLITE_ROW) {
        char **fields[] = {&e->title,         &e->why_text,    &e->why_ansi, &e->why_md,
                           &e->tell_text,     &e->tell_ansi,   &e->tell_md,  &e->solution_text,
                           &e->solution_ansi, &e->solution_md, &e->body_md};
        for (int i = 0; i < (int)(sizeof fields / sizeof fields[0]) && status == KB_OK; i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            char *copy = strdup(v ? v : "");
            if (!copy)
                status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
            else {
                free(*fields[i]);
                *fields[i] = copy;
            }
        }
        for (size_t i = 0; i < e->step_count; i++) {
            free(e->steps[i].labels);
            free(e->steps[i].providers);
        }
        free(e->steps);
        e->steps = NULL;
        e->step_count = 0;
        lang = db->want_lang;
        sqlite3_reset(st);
        if (status == KB_OK)
            status = kb_fix_load(db, rowid, lang, e, err);
    } else if (rc != SQLITE_DONE) {
        status = kb_fail_sql(db, err, "cannot read a translation");
    }
    if (st)
        sqlite3_reset(st);
    if (status == KB_OK && !(e->language = strdup(lang)))
        status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
    return status;
}

/* Reads entry rowid from the database, in the texts and language the handle asks for. */
static enum kb_status entry_read(struct kb_db *db, long long rowid, struct kb_entry **out,
                                 struct kb_error *err)
{
    enum kb_status status = prepare_entry_statements(db, err);
    if (status != KB_OK)
        return status;
    sqlite3_stmt *st = db->entry_by_rowid;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, rowid);
    int rc = sqlite3_step(st);
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
        && ((status = kb_steps_load(db, rowid, *out, err)) != KB_OK
            || (status = kb_fix_load(db, rowid, "", *out, err)) != KB_OK)) {
        kb_entry_free(*out);
        *out = NULL;
    }
    if (status == KB_OK) {
        (*out)->layer = db->layer_index;
        if ((status = load_translation(db, rowid, *out, err)) != KB_OK) {
            kb_entry_free(*out);
            *out = NULL;
        }
    }
    return status;
}

/* An entry a handle that has answered a query read before is copied from what it kept (a
 * --serve process read the same three entries' rows, steps and fix steps on every request:
 * a tenth of its instructions); a one-shot lookup reads its entries and keeps nothing. */
enum kb_status kb_entry_load(struct kb_db *db, long long rowid, struct kb_entry **out,
                             struct kb_error *err)
{
    const struct kb_entry_slot *s = entry_cached(db, rowid);
    if (s) {
        *out = entry_copy(s->entry);
        return *out ? KB_OK : kb_fail(err, KB_ERR_NOMEM, "out of memory");
    }
    enum kb_status status = entry_read(db, rowid, out, err);
    if (status == KB_OK && db->regex_cache.warm)
        entry_keep(db, rowid, *out);
    return status;
}

enum kb_status kb_entry_get(struct kb_db *db, const char *id, struct kb_entry **out,
                            struct kb_error *err)
{
    *out = NULL;
    if (db->above_count)
        return kb_layers_entry_get(db, id, out, err);
    return kb_entry_get_one(db, id, out, err);
}

enum kb_status kb_entry_get_one(struct kb_db *db, const char *id, struct kb_entry **out,
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
    if (db->above_count)
        return kb_layers_entry_each(db, visit, arg, err);
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

/* Signature ids are the rowids of a table the compiler numbers from 1, so a flat array indexed
 * by id holds them; an id beyond any KB's size (a damaged row) is compiled every time instead. */
#define SIG_REGEX_MAX_ID (1u << 24)

/* A stored code block is at most this long (a signature's pattern is a line of an article). */
#define SIG_CODE_MAX (1u << 20)

/* Can this process decode the signatures' stored code? Yes when its PCRE2 puts the same
 * header and tables before a block as kb-compile's did (the hash in meta 'regex_code') and
 * where a block holds its size is known. Decided once a handle. */
static int sig_code_usable(struct kb_db *db)
{
    if (db->code_state)
        return db->code_state > 0;
    db->code_state = -1;
    unsigned char *prefix = NULL;
    size_t len = 0, offset = 0, tables = 0;
    if (!db->has_regex_code || kb_regex_code_prefix(&prefix, &len) < 0)
        return 0;
    serialisation_layout(&offset, &tables);
    if (offset && len == 16 + tables && kb_xxh64(prefix, len, 0) == db->regex_code_key
        && (db->sig_code_memory = calloc(1, sizeof *db->sig_code_memory))
        && (db->sig_gctx =
                pcre2_general_context_create(code_malloc, code_free, db->sig_code_memory))) {
        db->code_prefix = prefix;
        db->code_prefix_len = len;
        db->code_size_at = offset;
        db->code_state = 1;
        return 1;
    }
    free(prefix);
    return 0;
}

/* Decodes a signature's stored code block; NULL when it cannot be (then it is compiled): no
 * usable code, or a block whose size field is not its length (damage the page checksums did
 * not catch). What PCRE2 leaves allocated when it refuses a block is freed at close. */
static pcre2_code *sig_code_decode(struct kb_db *db, const unsigned char *code, size_t len)
{
    size_t block;
    if (!code || len < sizeof block || len > SIG_CODE_MAX || !sig_code_usable(db)
        || len < db->code_size_at + sizeof block)
        return NULL;
    memcpy(&block, code + db->code_size_at, sizeof block);
    if (block != len)
        return NULL;
    size_t need = db->code_prefix_len + len;
    if (need > db->code_buf_cap) {
        unsigned char *grown = realloc(db->code_buf, need);
        if (!grown)
            return NULL;
        db->code_buf = grown;
        db->code_buf_cap = need;
    }
    memcpy(db->code_buf, db->code_prefix, db->code_prefix_len);
    memcpy(db->code_buf + db->code_prefix_len, code, len);
    pcre2_code *re = NULL;
    return pcre2_serialize_decode(&re, 1, db->code_buf, db->sig_gctx) == 1 ? re : NULL;
}

pcre2_code *kb_db_sig_regex(struct kb_db *db, uint32_t sig_id, const char *pattern,
                            const unsigned char *code, size_t code_len)
{
    int errcode;
    PCRE2_SIZE erroff;
    if (sig_id >= SIG_REGEX_MAX_ID)
        return NULL;
    if (sig_id >= db->sig_regex_cap) {
        size_t cap = db->sig_regex_cap ? db->sig_regex_cap : 256;
        while (cap <= sig_id)
            cap *= 2;
        pcre2_code **grown = realloc(db->sig_regex, cap * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + db->sig_regex_cap, 0, (cap - db->sig_regex_cap) * sizeof *grown);
        db->sig_regex = grown;
        db->sig_regex_cap = cap;
    }
    if (!db->sig_regex[sig_id])
        db->sig_regex[sig_id] = sig_code_decode(db, code, code_len);
    if (!db->sig_regex[sig_id])
        db->sig_regex[sig_id] =
            pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                          kb_signature_compile_options(), &errcode, &erroff, NULL);
    return db->sig_regex[sig_id];
}

/* ---- languages --------------------------------------------------------------------------- */

/* Does the comma-separated list hold lang[0, n)? */
static int list_has(const char *list, const char *lang, size_t n)
{
    size_t len;
    for (const char *p; (p = kb_list_next(&list, &len));)
        if (len == n && strncmp(p, lang, n) == 0)
            return 1;
    return 0;
}

/* The language of the KB that locale names, as a length of it: "de_DE.UTF-8" is de_DE when
 * the KB holds that, else de; 0 when it holds neither. */
static size_t pick_language(const char *languages, const char *locale)
{
    size_t n = strcspn(locale, ".@");
    if (n && list_has(languages, locale, n))
        return n;
    size_t lang = strcspn(locale, "_.@");
    return lang && list_has(languages, locale, lang) ? lang : 0;
}

static enum kb_status language_set_one(struct kb_db *db, const char *locale, struct kb_error *err)
{
    free(db->want_lang);
    db->want_lang = NULL;
    size_t n = locale ? pick_language(db->languages, locale) : 0;
    /* the default language is what the entry rows hold already */
    if (!n || (strlen(db->language) == n && strncmp(db->language, locale, n) == 0))
        return KB_OK;
    if (!(db->want_lang = strndup(locale, n)))
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    return KB_OK;
}

enum kb_status kb_db_language_set(struct kb_db *db, const char *locale, struct kb_error *err)
{
    enum kb_status st = language_set_one(db, locale, err);
    for (size_t i = 0; st == KB_OK && i < db->above_count; i++)
        st = language_set_one(db->above[i], locale, err);
    return st;
}

void kb_db_texts_set(struct kb_db *db, unsigned texts)
{
    if (!db)
        return;
    db->texts = texts & KB_TEXTS_ALL;
    for (size_t i = 0; i < db->above_count; i++)
        db->above[i]->texts = db->texts;
}

void kb_db_explain_set(struct kb_db *db, int explain)
{
    if (!db)
        return;
    db->no_explain = !explain;
    for (size_t i = 0; i < db->above_count; i++)
        db->above[i]->no_explain = !explain;
}

const char *kb_db_languages(const struct kb_db *db)
{
    return db->languages;
}
