/*
 * fuzz_db.c - libFuzzer target: the database opener on mutated databases. The input is a
 * database image; it is opened as it is (the page checksums refuse nearly every mutation:
 * that path is the one a damaged file takes), then once more with every page resealed, as a
 * forger would, so that mutations reach SQLite's reading of the rows and libkb's use of them.
 * Each image that opens is looked up three times, listed, shown and checked whole. Built and
 * run by run.sh; see README.md here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"
#include "kb_integrity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const pastes[] = {
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled",
    "Error: connect ECONNREFUSED 10.0.0.1:587",
    "550 5.1.1 <a@example.com>: Recipient address rejected: User unknown",
};

static int show_each(const struct kb_entry *e, void *arg)
{
    struct kb_db *db = arg;
    struct kb_entry *again = NULL;
    struct kb_error err;
    if (kb_entry_get(db, e->id, &again, &err) == KB_OK)
        kb_entry_free(again);
    return 0;
}

static void use(const unsigned char *image, size_t size)
{
    struct kb_db *db = NULL;
    struct kb_error err;
    if (kb_db_open_memory(image, size, "fuzz", &db, &err) != KB_OK)
        return;
    for (size_t i = 0; i < sizeof pastes / sizeof *pastes; i++) {
        struct kb_result *r = NULL;
        if (kb_query_run(db, pastes[i], strlen(pastes[i]), NULL, &r, &err) == KB_OK)
            kb_result_free(r);
    }
    kb_entry_each(db, show_each, db, &err);
    kb_db_check(db, &err);
    kb_db_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    use(data, size);
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (kb_image_seal(copy, size) == KB_OK)
        use(copy, size);
    free(copy);
    return 0;
}
