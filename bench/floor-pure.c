/*
 * kb-floor-pure - the pure floor of a lookup, for bench/run.
 *
 *     kb-floor-pure PATH.db
 *
 * A process that starts, links the same libraries as kb-lookup (libkb, PCRE2, SQLite: the
 * dynamic loader does the same work) but runs no project code: it opens the database with
 * sqlite3_open_v2 read-only and immutable, runs one SELECT count(*) FROM sqlite_schema and
 * exits 0. What any program that answers from this database must pay; kb-lookup's cost over
 * it is what the KB's open and the lookup add (issue 11). Exit 2 (with a message) on failure.
 */
#include <sqlite3.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: kb-floor-pure PATH.db\n");
        return 2;
    }
    sqlite3 *db = NULL;
    char *uri = sqlite3_mprintf("file:%s?immutable=1", argv[1]);
    sqlite3_stmt *st = NULL;
    int ok =
        uri && sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL) == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW;
    if (!ok)
        fprintf(stderr, "kb-floor-pure: cannot read '%s': %s\n", argv[1],
                db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_finalize(st);
    sqlite3_close(db);
    sqlite3_free(uri);
    return ok ? 0 : 2;
}
