/*
 * kb_schema.c - creates and finishes the KB database format described in kb_schema.h.
 * Only the compiler writes; these functions live in libkb so the format has one home.
 */
#include "kb_schema.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_buf.h"
#include "kb_integrity.h"
#include "kb_prefilter.h"
#include "kb_text.h"

#define STR2(x) #x
#define STR(x) STR2(x)

/* The DDL reads best one clause a line, so clang-format leaves it alone. */
// clang-format off
const char *const kb_schema_sql[] = {
    "PRAGMA application_id = " STR(KB_APPLICATION_ID) ";\n"
    "PRAGMA user_version = " STR(KB_SCHEMA_VERSION) ";\n"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;\n"
    "CREATE TABLE article(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,\n"
    "  title TEXT NOT NULL, intro_md TEXT NOT NULL DEFAULT '');\n"
    "CREATE TABLE entry(id INTEGER PRIMARY KEY, slug TEXT NOT NULL UNIQUE,\n"
    "  article_id INTEGER NOT NULL REFERENCES article(id), title TEXT NOT NULL,\n"
    "  provider TEXT NOT NULL DEFAULT '', audience TEXT NOT NULL DEFAULT 'both',\n"
    "  related TEXT NOT NULL DEFAULT '',\n"
    "  why_text TEXT NOT NULL DEFAULT '', why_ansi TEXT NOT NULL DEFAULT '',\n"
    "  why_md TEXT NOT NULL DEFAULT '',\n"
    "  tell_text TEXT NOT NULL DEFAULT '', tell_ansi TEXT NOT NULL DEFAULT '',\n"
    "  tell_md TEXT NOT NULL DEFAULT '',\n"
    "  solution_text TEXT NOT NULL DEFAULT '', solution_ansi TEXT NOT NULL DEFAULT '',\n"
    "  solution_md TEXT NOT NULL DEFAULT '', body_md TEXT NOT NULL DEFAULT '',\n"
    "  fulltext_only INTEGER NOT NULL DEFAULT 0, line INTEGER NOT NULL DEFAULT 0);\n"
    "CREATE TABLE entry_text(entry_id INTEGER NOT NULL REFERENCES entry(id),\n"
    "  lang TEXT NOT NULL, reviewed INTEGER NOT NULL DEFAULT 0, title TEXT NOT NULL,\n"
    "  why_text TEXT NOT NULL, why_ansi TEXT NOT NULL, why_md TEXT NOT NULL,\n"
    "  tell_text TEXT NOT NULL, tell_ansi TEXT NOT NULL, tell_md TEXT NOT NULL,\n"
    "  solution_text TEXT NOT NULL, solution_ansi TEXT NOT NULL, solution_md TEXT NOT NULL,\n"
    "  body_md TEXT NOT NULL, PRIMARY KEY(entry_id, lang)) WITHOUT ROWID;\n",
    "CREATE TABLE section(id INTEGER PRIMARY KEY,\n"
    "  entry_id INTEGER NOT NULL REFERENCES entry(id), heading TEXT NOT NULL DEFAULT '',\n"
    "  anchor TEXT NOT NULL DEFAULT '', line INTEGER NOT NULL DEFAULT 0);\n"
    "CREATE INDEX section_entry ON section(entry_id, line);\n"
    "CREATE TABLE section_link(section_id INTEGER NOT NULL REFERENCES section(id),\n"
    "  entry_id INTEGER NOT NULL REFERENCES entry(id),\n"
    "  PRIMARY KEY(section_id, entry_id)) WITHOUT ROWID;\n"
    "CREATE TABLE signature(id INTEGER PRIMARY KEY,\n"
    "  entry_id INTEGER NOT NULL REFERENCES entry(id), kind INTEGER NOT NULL,\n"
    "  source TEXT NOT NULL, pattern TEXT NOT NULL, weight REAL NOT NULL,\n"
    "  context INTEGER NOT NULL DEFAULT 0, captures TEXT NOT NULL DEFAULT '',\n"
    "  anchor INTEGER, path TEXT NOT NULL DEFAULT '', line INTEGER NOT NULL DEFAULT 0,\n"
    "  origin TEXT NOT NULL DEFAULT '', section_id INTEGER,\n"
    "  regions INTEGER NOT NULL DEFAULT 0, when_cond TEXT NOT NULL DEFAULT '',\n"
    "  code BLOB);\n"
    /* with origin, an entry's own signatures are counted from the index alone (kb_entry_load:
     * looking each row up cost most of loading an entry) */
    "CREATE INDEX signature_entry ON signature(entry_id, origin);\n"
    "CREATE TABLE condition(id INTEGER PRIMARY KEY,\n"
    "  entry_id INTEGER NOT NULL REFERENCES entry(id), source TEXT NOT NULL,\n"
    "  weight REAL NOT NULL, path TEXT NOT NULL DEFAULT '', line INTEGER NOT NULL DEFAULT 0);\n"
    "CREATE TABLE provider(id INTEGER PRIMARY KEY, slug TEXT NOT NULL UNIQUE,\n"
    "  name TEXT NOT NULL, hosts TEXT NOT NULL DEFAULT '', words TEXT NOT NULL DEFAULT '',\n"
    "  submission_host TEXT NOT NULL DEFAULT '', submission_port INTEGER NOT NULL DEFAULT 0,\n"
    "  path TEXT NOT NULL DEFAULT '', line INTEGER NOT NULL DEFAULT 0);\n"
    "CREATE TABLE client(id INTEGER PRIMARY KEY, slug TEXT NOT NULL UNIQUE,\n"
    "  name TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'mailer',\n"
    "  words TEXT NOT NULL DEFAULT '', smtp_words TEXT NOT NULL DEFAULT '',\n"
    "  path TEXT NOT NULL DEFAULT '', line INTEGER NOT NULL DEFAULT 0);\n"
    "CREATE TABLE example(id INTEGER PRIMARY KEY,\n"
    "  entry_id INTEGER NOT NULL REFERENCES entry(id), counter INTEGER NOT NULL DEFAULT 0,\n"
    "  text TEXT NOT NULL, also TEXT NOT NULL DEFAULT '', path TEXT NOT NULL DEFAULT '',\n"
    "  line INTEGER NOT NULL DEFAULT 0);\n"
    "CREATE VIRTUAL TABLE entry_fts USING fts5(title, heading, code, body, examples,\n"
    "  signatures, tokenize = \"" KB_FTS_TOKENIZE "\");\n"
    "CREATE TABLE step(id INTEGER PRIMARY KEY,\n"
    "  entry_id INTEGER NOT NULL REFERENCES entry(id), labels TEXT NOT NULL,\n"
    "  providers TEXT NOT NULL, text_start INTEGER NOT NULL, text_end INTEGER NOT NULL,\n"
    "  ansi_start INTEGER NOT NULL, ansi_end INTEGER NOT NULL,\n"
    "  md_start INTEGER NOT NULL, md_end INTEGER NOT NULL, part INTEGER NOT NULL DEFAULT 0);\n"
    "CREATE INDEX step_entry ON step(entry_id, id);\n"
    "CREATE TABLE fix_step(id INTEGER PRIMARY KEY,\n"
    "  entry_id INTEGER NOT NULL REFERENCES entry(id), part INTEGER NOT NULL,\n"
    "  number INTEGER NOT NULL, providers TEXT NOT NULL DEFAULT '',\n"
    "  text TEXT NOT NULL, md TEXT NOT NULL, lang TEXT NOT NULL DEFAULT '');\n"
    "CREATE INDEX fix_step_entry ON fix_step(entry_id, lang, id);\n"
    "CREATE TABLE fix_command(id INTEGER PRIMARY KEY,\n"
    "  step_id INTEGER NOT NULL REFERENCES fix_step(id), text TEXT NOT NULL);\n"
    "CREATE INDEX fix_command_step ON fix_command(step_id, id);\n"
    "CREATE TABLE term_df(term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;\n"
    "CREATE TABLE blob(name TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;\n"
    "CREATE TABLE checksum(name TEXT PRIMARY KEY, size INTEGER NOT NULL,\n"
    "  xxh64 TEXT NOT NULL) WITHOUT ROWID;\n"
    "CREATE TABLE prefilter(id INTEGER PRIMARY KEY, data BLOB NOT NULL);\n",
    NULL};
// clang-format on

static enum kb_status fail(sqlite3 *db, struct kb_error *err, const char *what)
{
    err->status = KB_ERR_DB;
    snprintf(err->message, sizeof err->message, "%s: %s", what, sqlite3_errmsg(db));
    return KB_ERR_DB;
}

static enum kb_status out_of_memory(struct kb_error *err)
{
    err->status = KB_ERR_NOMEM;
    snprintf(err->message, sizeof err->message, "out of memory");
    return KB_ERR_NOMEM;
}

enum kb_status kb_schema_create(sqlite3 *db, struct kb_error *err)
{
    /* SQLite leaves these bytes of every page alone; kb_image_seal puts the page's checksum
     * there. Only an empty database can still change it. */
    int reserve = KB_PAGE_RESERVE, now = -1; /* the call returns the old value; -1 asks */
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve) != SQLITE_OK
        || sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &now) != SQLITE_OK
        || now != KB_PAGE_RESERVE)
        return fail(db, err, "cannot reserve the page checksums");
    for (const char *const *part = kb_schema_sql; *part; part++)
        if (sqlite3_exec(db, *part, NULL, NULL, NULL) != SQLITE_OK)
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

/* Stores data under name in the blob table, and its size and checksum in the checksum table. */
static enum kb_status store_blob(sqlite3 *db, const char *name, const void *data, size_t size,
                                 struct kb_error *err)
{
    sqlite3_stmt *st = NULL, *sum = NULL;
    enum kb_status status = KB_OK;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)kb_xxh64(data, size, 0));
    if (sqlite3_prepare_v2(db, "INSERT INTO blob(name, data) VALUES(?1, ?2)", -1, &st, NULL)
            != SQLITE_OK
        || sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_bind_blob64(st, 2, data, size, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_step(st) != SQLITE_DONE
        || sqlite3_prepare_v2(db, "INSERT INTO checksum(name, size, xxh64) VALUES(?1, ?2, ?3)", -1,
                              &sum, NULL)
               != SQLITE_OK
        || sqlite3_bind_text(sum, 1, name, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_bind_int64(sum, 2, (sqlite3_int64)size) != SQLITE_OK
        || sqlite3_bind_text(sum, 3, hex, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_step(sum) != SQLITE_DONE)
        status = fail(db, err, "cannot store the compiled KB");
    sqlite3_finalize(st);
    sqlite3_finalize(sum);
    return status;
}

/* ---- anchor selection across the KB ------------------------------------------------------ */

/* How many signatures could be anchored on each token: a hash map from token hash to count. */
struct token_counts {
    uint64_t *keys; /* 0 marks an empty slot; a real hash of 0 is stored as 1 */
    uint32_t *counts;
    size_t mask, used;
};

static uint64_t map_key(uint64_t hash)
{
    return hash ? hash : 1;
}

static uint32_t *count_slot(struct token_counts *m, uint64_t hash, int insert)
{
    uint64_t key = map_key(hash);
    for (size_t i = (size_t)(key ^ (key >> 31)) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == key)
            return &m->counts[i];
        if (m->keys[i] == 0) {
            if (!insert)
                return NULL;
            m->keys[i] = key;
            m->used++;
            return &m->counts[i];
        }
    }
}

static int counts_grow(struct token_counts *m)
{
    size_t size = m->mask ? (m->mask + 1) * 2 : 1024;
    struct token_counts bigger = {calloc(size, sizeof(uint64_t)), calloc(size, sizeof(uint32_t)),
                                  size - 1, 0};
    if (!bigger.keys || !bigger.counts) {
        free(bigger.keys);
        free(bigger.counts);
        return -1;
    }
    for (size_t i = 0; m->keys && i <= m->mask; i++)
        if (m->keys[i])
            *count_slot(&bigger, m->keys[i], 1) = m->counts[i];
    free(m->keys);
    free(m->counts);
    *m = bigger;
    return 0;
}

/* The candidates of one signature, deduplicated. */
struct sig_candidates {
    uint64_t hash[64];
    double quality[64];
    size_t n;
};

static int collect_candidate(uint64_t hash, double quality, void *arg)
{
    struct sig_candidates *c = arg;
    for (size_t i = 0; i < c->n; i++)
        if (c->hash[i] == hash) {
            if (quality > c->quality[i])
                c->quality[i] = quality;
            return 0;
        }
    if (c->n < sizeof c->hash / sizeof c->hash[0]) {
        c->hash[c->n] = hash;
        c->quality[c->n] = quality;
        c->n++;
    }
    return 0;
}

/* Every anchored signature gets, among its possible anchors, the one that is rare both in
 * pasted text (quality) and across the KB (how many other signatures could use it): a word
 * like "authentication" anchors hundreds of signatures of a large KB and would make every
 * lookup containing it run them all. */
static enum kb_status reselect_anchors(sqlite3 *db, struct kb_error *err)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    struct token_counts counts = {0};
    enum kb_status status = KB_OK;
    if (counts_grow(&counts) != 0)
        goto nomem;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, kind, source FROM signature WHERE anchor IS NOT NULL "
                           "ORDER BY id",
                           -1, &sel, NULL)
            != SQLITE_OK
        || sqlite3_prepare_v2(db, "UPDATE signature SET anchor = ?1 WHERE id = ?2", -1, &upd, NULL)
               != SQLITE_OK) {
        status = fail(db, err, "cannot choose the prefilter anchors");
        goto done;
    }
    for (int pass = 0; pass < 2; pass++) {
        int rc;
        sqlite3_reset(sel);
        while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
            struct sig_candidates c = {.n = 0};
            const char *source = (const char *)sqlite3_column_text(sel, 2);
            if (!source)
                continue;
            if (kb_signature_anchor_candidates((enum kb_sig_kind)sqlite3_column_int(sel, 1), source,
                                               strlen(source), collect_candidate, &c)
                < 0)
                goto nomem;
            if (pass == 0) {
                for (size_t i = 0; i < c.n; i++) {
                    if (counts.used * 2 >= counts.mask && counts_grow(&counts) != 0)
                        goto nomem;
                    ++*count_slot(&counts, c.hash[i], 1);
                }
                continue;
            }
            size_t best = 0;
            double best_cost = 0;
            for (size_t i = 0; i < c.n; i++) {
                uint32_t *n = count_slot(&counts, c.hash[i], 0);
                double cost = (n ? *n : 1) / (c.quality[i] > 0 ? c.quality[i] : 0.01);
                if (i == 0 || cost < best_cost) {
                    best = i;
                    best_cost = cost;
                }
            }
            if (!c.n)
                continue;
            sqlite3_reset(upd);
            sqlite3_bind_int64(upd, 1, (sqlite3_int64)c.hash[best]);
            sqlite3_bind_int64(upd, 2, sqlite3_column_int64(sel, 0));
            if (sqlite3_step(upd) != SQLITE_DONE) {
                status = fail(db, err, "cannot store a prefilter anchor");
                goto done;
            }
        }
        if (rc != SQLITE_DONE) {
            status = fail(db, err, "cannot read signatures");
            goto done;
        }
    }
    goto done;
nomem:
    status = out_of_memory(err);
done:
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    free(counts.keys);
    free(counts.counts);
    return status;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Writes row id of the prefilter table: the XXH64 of data seeded with id, then data. */
static enum kb_status put_prefilter_row(sqlite3 *db, sqlite3_stmt *st, sqlite3_int64 id,
                                        const unsigned char *data, size_t len, unsigned char *row,
                                        struct kb_error *err)
{
    put_le(row, kb_xxh64(data, len, (uint64_t)id), 8);
    memcpy(row + 8, data, len);
    sqlite3_reset(st);
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK
        || sqlite3_bind_blob64(st, 2, row, 8 + len, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_step(st) != SQLITE_DONE)
        return fail(db, err, "cannot store the prefilter index");
    return KB_OK;
}

/* The prefilter index (kb_prefilter.h): a hash table of the anchors' hashes, at most half
 * full, each slot naming the run of signature ids anchored on its hash, then the ids without
 * anchor. Laid out so that a lookup reads the slots its tokens probe and nothing else. */
static enum kb_status build_prefilter(sqlite3 *db, struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    struct anchor_pair *pairs = NULL;
    uint32_t *always = NULL;
    unsigned char *index = NULL;
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

    size_t runs = 0;
    for (size_t i = 0; i < n; i++)
        runs += !i || pairs[i].hash != pairs[i - 1].hash;
    size_t slots = 16;
    while (slots < runs * 2)
        slots *= 2;
    size_t ids_at = slots * KB_PREFILTER_SLOT, always_at = ids_at + n * 4;
    size_t total = always_at + n_always * 4;
    index = calloc(total + 8 + KB_PREFILTER_CHUNK, 1);
    if (!index)
        goto nomem;
    size_t mask = slots - 1;
    for (size_t i = 0; i < n; i++) {
        put_le(index + ids_at + i * 4, pairs[i].sig_id, 4);
        if (i && pairs[i].hash == pairs[i - 1].hash)
            continue;
        size_t count = 1;
        while (i + count < n && pairs[i + count].hash == pairs[i].hash)
            count++;
        size_t s = kb_prefilter_slot(pairs[i].hash, mask);
        while (index[s * KB_PREFILTER_SLOT + 12] | index[s * KB_PREFILTER_SLOT + 13]
               | index[s * KB_PREFILTER_SLOT + 14] | index[s * KB_PREFILTER_SLOT + 15])
            s = (s + 1) & mask;
        unsigned char *slot = index + s * KB_PREFILTER_SLOT;
        put_le(slot, pairs[i].hash, 8);
        put_le(slot + 8, i, 4);
        put_le(slot + 12, count, 4);
    }
    for (size_t i = 0; i < n_always; i++)
        put_le(index + always_at + i * 4, always[i], 4);

    size_t chunks = (total + KB_PREFILTER_CHUNK - 1) / KB_PREFILTER_CHUNK;
    unsigned char header[KB_PREFILTER_HEADER];
    put_le(header, KB_PREFILTER_MAGIC, 4);
    put_le(header + 4, KB_PREFILTER_VERSION, 4);
    put_le(header + 8, KB_PREFILTER_CHUNK, 4);
    put_le(header + 12, slots, 4);
    put_le(header + 16, n, 4);
    put_le(header + 20, n_always, 4);
    put_le(header + 24, chunks, 4);
    unsigned char *row = index + total; /* scratch: 8 + KB_PREFILTER_CHUNK bytes */
    if (sqlite3_prepare_v2(db, "INSERT INTO prefilter(id, data) VALUES(?1, ?2)", -1, &st, NULL)
        != SQLITE_OK) {
        status = fail(db, err, "cannot store the prefilter index");
        goto done;
    }
    status = put_prefilter_row(db, st, 0, header, sizeof header, row, err);
    for (size_t c = 0; c < chunks && status == KB_OK; c++) {
        size_t at = c * KB_PREFILTER_CHUNK;
        size_t len = total - at < KB_PREFILTER_CHUNK ? total - at : KB_PREFILTER_CHUNK;
        status = put_prefilter_row(db, st, (sqlite3_int64)c + 1, index + at, len, row, err);
    }
    goto done;
nomem:
    status = out_of_memory(err);
done:
    sqlite3_finalize(st);
    free(pairs);
    free(always);
    free(index);
    return status;
}

/* The unanchored signatures run on every lookup; their compiled code is stored (one PCRE2
 * serialisation, in id order like the prefilter's list of them) so that lookups need not compile
 * them. PCRE2 clears the pointers it holds before serialising, so the bytes are reproducible. */
static enum kb_status build_always_code(sqlite3 *db, struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    pcre2_code **codes = NULL;
    size_t n = 0, alloc = 0;
    uint8_t *bytes = NULL;
    PCRE2_SIZE size = 0;
    enum kb_status status = KB_OK;
    /* 'always_needs': per code, u32 length and the texts, NUL between two, one of which every
     * match of it contains (none: 0) */
    struct kb_buf needs, need;
    kb_buf_init(&needs, 0);
    kb_buf_init(&need, 0);
    if (sqlite3_prepare_v2(db, "SELECT pattern FROM signature WHERE anchor IS NULL ORDER BY id", -1,
                           &st, NULL)
        != SQLITE_OK)
        return fail(db, err, "cannot read signatures");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *pattern = (const char *)sqlite3_column_text(st, 0);
        int errcode;
        PCRE2_SIZE erroff;
        pcre2_code *re =
            pattern ? pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                    kb_signature_compile_options(), &errcode, &erroff, NULL)
                    : NULL;
        if (!re)
            goto done; /* cannot happen for a validated KB; lookups then compile them */
        kb_buf_reset(&need);
        unsigned char len4[4];
        if (kb_regex_required_literals(pattern, strlen(pattern), &need) < 0) {
            pcre2_code_free(re);
            goto nomem;
        }
        put_le(len4, need.len, 4);
        if (kb_buf_append(&needs, (const char *)len4, 4) != KB_OK
            || kb_buf_append(&needs, need.data ? need.data : "", need.len) != KB_OK) {
            pcre2_code_free(re);
            goto nomem;
        }
        if (n == alloc) {
            size_t na = alloc ? alloc * 2 : 16;
            pcre2_code **p = realloc(codes, na * sizeof *p);
            if (!p) {
                pcre2_code_free(re);
                goto nomem;
            }
            codes = p;
            alloc = na;
        }
        codes[n++] = re;
    }
    if (rc != SQLITE_DONE) {
        status = fail(db, err, "cannot read signatures");
        goto done;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!n)
        goto done;
    if (pcre2_serialize_encode((const pcre2_code **)codes, (int32_t)n, &bytes, &size, NULL) < 0)
        goto done;
    status = store_blob(db, "always_code", bytes, size, err);
    if (status == KB_OK)
        status = store_blob(db, "always_needs", needs.data, needs.len, err);
    goto done;
nomem:
    status = out_of_memory(err);
done:
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++)
        pcre2_code_free(codes[i]);
    free(codes);
    if (bytes)
        pcre2_serialize_free(bytes);
    kb_buf_release(&needs);
    kb_buf_release(&need);
    return status;
}

static enum kb_status put_meta(sqlite3 *db, const char *key, const char *value,
                               struct kb_error *err);

int kb_regex_code_prefix(unsigned char **out, size_t *len)
{
    int errcode;
    PCRE2_SIZE erroff, size = 0, code_size = 0;
    uint8_t *bytes = NULL;
    *out = NULL;
    *len = 0;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR) "a", 1, kb_signature_compile_options(), &errcode, &erroff, NULL);
    int rc = -1;
    if (re && pcre2_pattern_info(re, PCRE2_INFO_SIZE, &code_size) == 0
        && pcre2_serialize_encode((const pcre2_code **)&re, 1, &bytes, &size, NULL) == 1
        && size > 16 + code_size && (*out = malloc(size - code_size))) {
        *len = size - code_size;
        memcpy(*out, bytes, *len);
        rc = 0;
    }
    if (bytes)
        pcre2_serialize_free(bytes);
    pcre2_code_free(re);
    return rc;
}

/* Each anchored regex signature's compiled code (signature.code: the code's block of a PCRE2
 * serialisation of it alone, without the header and tables kb_regex_code_prefix gives), so
 * that a lookup decodes the few its text selects instead of compiling them (pcre2_compile was
 * a tenth of a lookup on the shipped KB). meta 'regex_code' is the XXH64 of that prefix: a
 * lookup whose PCRE2 makes other bytes compiles from the patterns. A signature whose code
 * cannot be made keeps NULL and is compiled by the lookup. */
static enum kb_status build_sig_code(sqlite3 *db, struct kb_error *err)
{
    unsigned char *prefix = NULL;
    size_t prefix_len = 0;
    if (kb_regex_code_prefix(&prefix, &prefix_len) < 0)
        return KB_OK; /* nothing stored: lookups compile */
    sqlite3_stmt *sel = NULL, *upd = NULL;
    enum kb_status status = KB_OK;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, pattern FROM signature WHERE kind = ?1 "
                           "AND anchor IS NOT NULL ORDER BY id",
                           -1, &sel, NULL)
            != SQLITE_OK
        || sqlite3_bind_int(sel, 1, KB_SIG_REGEX) != SQLITE_OK
        || sqlite3_prepare_v2(db, "UPDATE signature SET code = ?1 WHERE id = ?2", -1, &upd, NULL)
               != SQLITE_OK) {
        status = fail(db, err, "cannot store the compiled signatures");
        goto done;
    }
    int rc;
    while (status == KB_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *pattern = (const char *)sqlite3_column_text(sel, 1);
        int errcode;
        PCRE2_SIZE erroff, size = 0;
        uint8_t *bytes = NULL;
        pcre2_code *re =
            pattern ? pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                    kb_signature_compile_options(), &errcode, &erroff, NULL)
                    : NULL;
        if (re && pcre2_serialize_encode((const pcre2_code **)&re, 1, &bytes, &size, NULL) == 1
            && size > prefix_len && memcmp(bytes, prefix, prefix_len) == 0) {
            sqlite3_reset(upd);
            if (sqlite3_bind_blob(upd, 1, bytes + prefix_len, (int)(size - prefix_len),
                                  SQLITE_TRANSIENT)
                    != SQLITE_OK
                || sqlite3_bind_int64(upd, 2, sqlite3_column_int64(sel, 0)) != SQLITE_OK
                || sqlite3_step(upd) != SQLITE_DONE)
                status = fail(db, err, "cannot store the compiled signatures");
        }
        if (bytes)
            pcre2_serialize_free(bytes);
        pcre2_code_free(re);
    }
    if (status == KB_OK && rc != SQLITE_DONE)
        status = fail(db, err, "cannot read signatures");
    if (status == KB_OK) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)kb_xxh64(prefix, prefix_len, 0));
        status = put_meta(db, "regex_code", hex, err);
    }
done:
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    free(prefix);
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
    /* A term's df counts entries, not sections: a word on every section of one long page is
     * still specific to that page. Sections are numbered in entry order, so the distinct
     * (term, entry) pairs come out of one ordered pass. */
    static const char vocab_sql[] =
        "CREATE VIRTUAL TABLE temp.kb_vocab USING fts5vocab(main, entry_fts, instance);"
        "INSERT INTO term_df(term, df) SELECT term, count(DISTINCT s.entry_id) "
        "  FROM temp.kb_vocab v JOIN section s ON s.id = v.doc GROUP BY term;"
        "DROP TABLE temp.kb_vocab;"
        "INSERT INTO entry_fts(entry_fts) VALUES('optimize');";
    if (sqlite3_exec(db, vocab_sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(db, err, "cannot build the term statistics");
    enum kb_status status = reselect_anchors(db, err);
    if (status == KB_OK)
        status = build_prefilter(db, err);
    if (status == KB_OK)
        status = build_always_code(db, err);
    if (status == KB_OK)
        status = build_sig_code(db, err);
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
    if ((status = put_meta(db, "entry_count", buf, err)) != KB_OK)
        return status;
    count = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM section", -1, &st, NULL) == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW)
        count = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    snprintf(buf, sizeof buf, "%ld", count);
    return put_meta(db, "section_count", buf, err);
}
