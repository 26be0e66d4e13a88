/*
 * kb_prefilter.c - the prefilter index read in place (layout in kb_prefilter.h).
 *
 * Opening reads the header row only; a lookup reads the chunks its tokens probe, each checked
 * against its checksum when first read and kept with the database handle, so a long-running
 * process reads each at most once. Nothing here grows with the number of signatures but the
 * table of chunk pointers (one per 2 KB of index, allocated zeroed and touched as used).
 */
#include <stdlib.h>
#include <string.h>

#include "kb_integrity.h"
#include "kb_internal.h"
#include "kb_prefilter.h"

/* Caps that no KB reaches: a header past them is damage, not a size to allocate. */
#define MAX_SLOTS (1u << 28)
#define MAX_IDS (1u << 28)

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int damaged(struct kb_prefilter *pf, struct kb_error *err, const char *how)
{
    uint64_t page = kb_vfs_bad_page(pf->sql);
    if (page)
        kb_fail(err, KB_ERR_DB,
                "database '%s' is damaged: page %llu fails its checksum (the prefilter index): "
                "recompile it with kb-compile",
                pf->label, (unsigned long long)page);
    else
        kb_fail(err, KB_ERR_DB,
                "database '%s' has a damaged prefilter index (%s): recompile it with kb-compile",
                pf->label, how);
    return -1;
}

/* Bytes of index in chunk c (0-based). */
static size_t chunk_len(const struct kb_prefilter *pf, uint32_t c)
{
    uint64_t total = (uint64_t)pf->slot_count * KB_PREFILTER_SLOT
                     + ((uint64_t)pf->id_count + pf->always_count) * 4;
    uint64_t at = (uint64_t)c * KB_PREFILTER_CHUNK;
    return (size_t)(total - at < KB_PREFILTER_CHUNK ? total - at : KB_PREFILTER_CHUNK);
}

/* Reads row id into buf (want bytes after its checksum) and checks it. 0 or -1. */
static int read_row(struct kb_prefilter *pf, sqlite3_int64 id, unsigned char *buf, size_t want,
                    struct kb_error *err)
{
    unsigned char sum[8];
    int rc = pf->blob ? sqlite3_blob_reopen(pf->blob, id)
                      : sqlite3_blob_open(pf->sql, "main", "prefilter", "data", id, 0, &pf->blob);
    if (rc != SQLITE_OK)
        return damaged(pf, err, "a row cannot be read");
    if ((size_t)sqlite3_blob_bytes(pf->blob) != 8 + want)
        return damaged(pf, err, "a row has the wrong size");
    if (sqlite3_blob_read(pf->blob, sum, 8, 0) != SQLITE_OK
        || sqlite3_blob_read(pf->blob, buf, (int)want, 8) != SQLITE_OK)
        return damaged(pf, err, "a row cannot be read");
    if (get_le(sum, 8) != kb_xxh64(buf, want, (uint64_t)id))
        return damaged(pf, err, "a row fails its checksum");
    return 0;
}

enum kb_status kb_prefilter_open(struct kb_prefilter *pf, sqlite3 *db, const char *label,
                                 struct kb_error *err)
{
    unsigned char h[KB_PREFILTER_HEADER];
    memset(pf, 0, sizeof *pf);
    pf->sql = db;
    pf->label = label;
    if (read_row(pf, 0, h, sizeof h, err))
        return KB_ERR_DB;
    uint64_t slots = get_le(h + 12, 4), ids = get_le(h + 16, 4), always = get_le(h + 20, 4);
    uint64_t total = slots * KB_PREFILTER_SLOT + (ids + always) * 4;
    if (get_le(h, 4) != KB_PREFILTER_MAGIC || get_le(h + 4, 4) != KB_PREFILTER_VERSION
        || get_le(h + 8, 4) != KB_PREFILTER_CHUNK || slots < 16 || slots > MAX_SLOTS
        || (slots & (slots - 1)) || ids > MAX_IDS || always > MAX_IDS
        || get_le(h + 24, 4) != (total + KB_PREFILTER_CHUNK - 1) / KB_PREFILTER_CHUNK) {
        damaged(pf, err, "its header does not fit");
        return KB_ERR_DB;
    }
    pf->slot_count = (uint32_t)slots;
    pf->id_count = (uint32_t)ids;
    pf->always_count = (uint32_t)always;
    pf->chunk_count = (uint32_t)get_le(h + 24, 4);
    if (!(pf->chunks = calloc(pf->chunk_count ? pf->chunk_count : 1, sizeof *pf->chunks)))
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    return KB_OK;
}

void kb_prefilter_close(struct kb_prefilter *pf)
{
    for (uint32_t i = 0; pf->chunks && i < pf->chunk_count; i++)
        free(pf->chunks[i]);
    free(pf->chunks);
    sqlite3_blob_close(pf->blob);
    memset(pf, 0, sizeof *pf);
}

/* The bytes at offset of the index (they lie in one chunk: items are aligned to their size,
 * which divides the chunk's), reading their chunk when first needed; NULL when damaged. */
static const unsigned char *at(struct kb_prefilter *pf, uint64_t offset, struct kb_error *err)
{
    uint64_t c = offset / KB_PREFILTER_CHUNK;
    if (c >= pf->chunk_count) {
        damaged(pf, err, "an index points outside it");
        return NULL;
    }
    if (!pf->chunks[c]) {
        size_t len = chunk_len(pf, (uint32_t)c);
        unsigned char *buf = malloc(len);
        if (!buf) {
            kb_fail(err, KB_ERR_NOMEM, "out of memory");
            return NULL;
        }
        if (read_row(pf, (sqlite3_int64)c + 1, buf, len, err)) {
            free(buf);
            return NULL;
        }
        pf->chunks[c] = buf;
    }
    return pf->chunks[c] + offset % KB_PREFILTER_CHUNK;
}

int kb_prefilter_find(struct kb_prefilter *pf, uint64_t hash, uint32_t *first, uint32_t *count,
                      struct kb_error *err)
{
    size_t mask = pf->slot_count - 1;
    size_t s = kb_prefilter_slot(hash, mask);
    /* the table is at most half full, so an empty slot ends every probe; the bound only stops
     * a damaged table that has none */
    for (size_t n = 0; n < pf->slot_count; n++, s = (s + 1) & mask) {
        const unsigned char *p = at(pf, (uint64_t)s * KB_PREFILTER_SLOT, err);
        if (!p)
            return -1;
        uint32_t c = (uint32_t)get_le(p + 12, 4);
        if (!c)
            return 0;
        if (get_le(p, 8) != hash)
            continue;
        uint32_t f = (uint32_t)get_le(p + 8, 4);
        if (f > pf->id_count || c > pf->id_count - f)
            return damaged(pf, err, "a slot points outside it");
        *first = f;
        *count = c;
        return 1;
    }
    return 0;
}

int kb_prefilter_id(struct kb_prefilter *pf, int always, uint32_t i, uint32_t *id,
                    struct kb_error *err)
{
    if (i >= (always ? pf->always_count : pf->id_count))
        return damaged(pf, err, "an index points outside it");
    uint64_t off = (uint64_t)pf->slot_count * KB_PREFILTER_SLOT
                   + ((always ? (uint64_t)pf->id_count : 0) + i) * 4;
    const unsigned char *p = at(pf, off, err);
    if (!p)
        return -1;
    *id = (uint32_t)get_le(p, 4);
    return 0;
}

enum kb_status kb_prefilter_check(struct kb_prefilter *pf, struct kb_error *err)
{
    for (uint32_t c = 0; c < pf->chunk_count; c++)
        if (!at(pf, (uint64_t)c * KB_PREFILTER_CHUNK, err))
            return err ? err->status : KB_ERR_DB;
    return KB_OK;
}
