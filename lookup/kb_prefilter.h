/*
 * kb_prefilter.h - the prefilter index laid out for use in place (issue 11); internal to libkb
 * and kb-compile.
 *
 * The index maps the hash of an anchor token (kb_token_hash) to the signatures anchored on it.
 * kb-compile writes it once as a hash table with fixed-width slots; a lookup reads only the
 * parts its tokens probe, so opening a KB costs the same whatever its number of signatures.
 *
 * Stored in the table prefilter(id INTEGER PRIMARY KEY, data BLOB): row 0 is the header, rows
 * 1..chunk_count the index itself, cut into chunks of chunk_bytes (the last may be shorter) so
 * that each is read on its own (sqlite3_blob_reopen) from one page. Every row starts with the
 * XXH64 of the rest of it, seeded with its row id (a row moved to another id fails too), checked
 * before the row is used: the prefilter is never read from bytes kb-compile did not write.
 *
 * Little-endian throughout. Header (row 0, after its checksum):
 *   u32 magic "KBPF", u32 version (KB_PREFILTER_VERSION), u32 chunk_bytes, u32 slot_count (a
 *   power of two), u32 id_count, u32 always_count, u32 chunk_count
 * The index, as one array of bytes cut into the chunks:
 *   slot_count slots of 16 bytes: u64 hash, u32 first, u32 count (count 0: an empty slot);
 *     a hash lies at kb_prefilter_slot(hash, slot_count - 1) or after it (linear probing)
 *   id_count u32 signature ids: those of one anchor at [first, first + count), the anchors in
 *     ascending hash order, each one's ids ascending
 *   always_count u32 ids of the signatures without anchor (they run on every lookup), ascending
 */
#ifndef KB_PREFILTER_H
#define KB_PREFILTER_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "kb.h"

#define KB_PREFILTER_MAGIC 0x4650424bu /* "KBPF" read as a little-endian u32 */
#define KB_PREFILTER_VERSION 1
#define KB_PREFILTER_CHUNK 2048 /* bytes of index per row: a multiple of 16 */
#define KB_PREFILTER_HEADER 28  /* bytes of header after row 0's checksum */
#define KB_PREFILTER_SLOT 16

/* The slot a hash starts probing at. */
static inline size_t kb_prefilter_slot(uint64_t hash, size_t mask)
{
    return (size_t)(hash ^ (hash >> 29) ^ (hash >> 47)) & mask;
}

/* An open prefilter: the header, and the rows read so far. */
struct kb_prefilter {
    sqlite3 *sql;
    sqlite3_blob *blob; /* positioned on the last row read */
    const char *label;  /* the database, for messages (owned by the kb_db) */
    uint32_t slot_count, id_count, always_count, chunk_count;
    unsigned char **chunks; /* chunk_count pointers, filled as chunks are first read */
};

/* Reads and checks the header of db's prefilter table. KB_ERR_DB naming label when it is
 * missing or damaged. */
enum kb_status kb_prefilter_open(struct kb_prefilter *pf, sqlite3 *db, const char *label,
                                 struct kb_error *err);
void kb_prefilter_close(struct kb_prefilter *pf);

/* Looks hash up: 1 and [*first, *first + *count) of the ids when it is an anchor, 0 when not,
 * -1 when a row is damaged or cannot be read (err filled). */
int kb_prefilter_find(struct kb_prefilter *pf, uint64_t hash, uint32_t *first, uint32_t *count,
                      struct kb_error *err);
/* The id at index i of the ids (i < id_count), or of the unanchored ones when always: 0 and
 * *id, -1 when damaged (err filled). */
int kb_prefilter_id(struct kb_prefilter *pf, int always, uint32_t i, uint32_t *id,
                    struct kb_error *err);
/* Reads and checks every chunk (kb_db_check): KB_OK, or the damage in err. */
enum kb_status kb_prefilter_check(struct kb_prefilter *pf, struct kb_error *err);

#endif
