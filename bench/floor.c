/*
 * kb-floor - the floor cost of a lookup, for bench/run.
 *
 *     kb-floor PATH.db
 *
 * A process that starts, links the same libraries as kb-lookup (libkb with PCRE2 and
 * SQLite), opens the same database with kb_db_open_file, closes it and exits 0. Nothing of a
 * query runs: the difference between kb-lookup and kb-floor on the same database is the cost
 * of reading the input, matching and printing. Exit 2 (with a message) if the database
 * cannot be opened.
 */
#include <stdio.h>

#include "kb.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: kb-floor PATH.db\n");
        return 2;
    }
    struct kb_error err = {0};
    struct kb_db *db = NULL;
    if (kb_db_open_file(argv[1], &db, &err) != KB_OK) {
        fprintf(stderr, "kb-floor: %s\n", err.message);
        return 2;
    }
    kb_db_close(db);
    return 0;
}
