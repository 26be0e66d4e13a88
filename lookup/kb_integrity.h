/*
 * kb_integrity.h - the checksums that make a damaged database fail instead of answering
 * differently; internal to libkb and kb-compile.
 *
 * Two layers, both XXH64 (a 64-bit hash of the xxhash family: about 10 GB/s, so checking what
 * a lookup reads costs next to nothing):
 *   - every page of the database file carries the checksum of its own bytes, seeded with its
 *     page number (a page copied to the wrong place fails too), in the KB_PAGE_RESERVE bytes
 *     SQLite leaves unused at the end of each page (header byte 20). kb-compile seals the file
 *     (kb_image_seal); the read-only VFS of kb_vfs.c checks each page as SQLite first reads it,
 *     so no row, index or blob is ever used from a damaged page.
 *   - every blob the engine decodes itself (the prefilter index, the compiled unanchored
 *     signatures) has its size and checksum in the checksum table, checked before it is
 *     decoded: a blob is never decoded from bytes kb-compile did not write.
 * What this is not: a signature. A database is as trusted as the program that reads it; the
 * checksums catch damage (a bad disk, an interrupted copy, a truncated download), not forgery.
 */
#ifndef KB_INTEGRITY_H
#define KB_INTEGRITY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "kb.h"

/* XXH64 of data[0, len) with this seed (the reference algorithm, little-endian input). */
uint64_t kb_xxh64(const void *data, size_t len, uint64_t seed);

/* Bytes at the end of every page that hold its checksum. */
#define KB_PAGE_RESERVE 8

/* Page size of a database image from its header, 0 when the header gives none that SQLite
 * allows (a power of two from 512 to 65536). h holds at least 100 bytes. */
size_t kb_image_page_size(const unsigned char *h);

/* Is page pgno (1-based; page_size bytes at page) what kb-compile sealed? */
int kb_page_intact(const unsigned char *page, size_t page_size, uint64_t pgno);

/* Writes every page's checksum into its reserved bytes. The image must be a whole database
 * written with KB_PAGE_RESERVE reserved bytes per page. KB_ERR_INVALID when it is not. */
enum kb_status kb_image_seal(unsigned char *image, size_t len);

/* ---- kb_vfs.c: the VFS that checks every page SQLite reads ------------------------------- */

#define KB_VFS_NAME "kb-sealed"

/* Registers the VFS with SQLite: once per process, thread-safe. KB_ERR_DB when SQLite refuses.
 * Open a file with sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, KB_VFS_NAME), an image in
 * memory with the URI "file:kb-image?ptr=ADDRESS&sz=BYTES" (decimal) and SQLITE_OPEN_URI. */
enum kb_status kb_vfs_register(void);

/* The first page (1-based) of db's main database that failed its checksum, 0 when none. */
uint64_t kb_vfs_bad_page(sqlite3 *db);

#endif
