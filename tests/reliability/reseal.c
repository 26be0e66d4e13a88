/*
 * reseal.c - kb-reseal DB [--blobs]: makes a database edited with plain SQLite consistent
 * again, as a forger would: with --blobs the checksum table is recomputed from the blobs, then
 * every page gets its checksum. The reliability tests use it to show that what the checksums
 * do not stop (a consistent but damaged file) is still refused before anything is decoded, and
 * the DB fuzz target to get past the page checksums. Not installed.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_integrity.h"

static int reseal_blobs(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *sel = NULL, *upd = NULL;
    int rc = 1;
    if (sqlite3_open(path, &db) != SQLITE_OK
        || sqlite3_prepare_v2(db, "SELECT name, data FROM blob", -1, &sel, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(db,
                              "INSERT OR REPLACE INTO checksum(name, size, xxh64) "
                              "VALUES(?1, ?2, ?3)",
                              -1, &upd, NULL)
               != SQLITE_OK)
        goto done;
    while (sqlite3_step(sel) == SQLITE_ROW) {
        const void *data = sqlite3_column_blob(sel, 1);
        int n = sqlite3_column_bytes(sel, 1);
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx",
                 (unsigned long long)kb_xxh64(data ? data : "", (size_t)n, 0));
        sqlite3_reset(upd);
        sqlite3_bind_value(upd, 1, sqlite3_column_value(sel, 0));
        sqlite3_bind_int64(upd, 2, n);
        sqlite3_bind_text(upd, 3, hex, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(upd) != SQLITE_DONE)
            goto done;
    }
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "kb-reseal: %s: %s\n", path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    sqlite3_close(db);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (argc == 3 && strcmp(argv[2], "--blobs") != 0) || argc > 3) {
        fputs("usage: kb-reseal DB [--blobs]\n", stderr);
        return 2;
    }
    if (argc == 3 && reseal_blobs(argv[1]) != 0)
        return 1;
    FILE *f = fopen(argv[1], "r+b");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    unsigned char *image = len > 0 ? malloc((size_t)len) : NULL;
    rewind(f);
    if (!image || fread(image, 1, (size_t)len, f) != (size_t)len
        || kb_image_seal(image, (size_t)len) != KB_OK || fseek(f, 0, SEEK_SET) != 0
        || fwrite(image, 1, (size_t)len, f) != (size_t)len || fclose(f) != 0) {
        fprintf(stderr, "kb-reseal: %s: not a database with room for page checksums\n", argv[1]);
        free(image);
        return 1;
    }
    free(image);
    return 0;
}
