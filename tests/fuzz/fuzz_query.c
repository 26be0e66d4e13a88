/*
 * fuzz_query.c - libFuzzer target: the whole query path on the shipped knowledge base. The
 * input is a paste: kb_query_run (normalise, mask, bounce reader, facts, signatures, full
 * text, rank), then every placeholder of every answer filled in as the printers do. Built and
 * run by run.sh; see README.md here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kb.h"

#ifndef KB_FUZZ_DB
#define KB_FUZZ_DB "kb.db"
#endif

static struct kb_db *db;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *path = getenv("KB_FUZZ_DB") ? getenv("KB_FUZZ_DB") : KB_FUZZ_DB;
    struct kb_error err;
    if (kb_db_open_file(path, &db, &err) != KB_OK) {
        fprintf(stderr, "fuzz_query: %s\n", err.message);
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kb_query_options options = {.top = 5, .max_input = 1 << 20};
    struct kb_result *r = NULL;
    struct kb_error err;
    if (kb_query_run(db, (const char *)data, size, &options, &r, &err) != KB_OK)
        return 0;
    for (size_t i = 0; i < r->match_count; i++) {
        const struct kb_entry *e = r->matches[i].entry;
        free(kb_template_expand(e->solution_text, &r->matches[i], r, "[", "]"));
        free(kb_template_expand(e->solution_md, &r->matches[i], r, "", ""));
    }
    kb_result_free(r);
    return 0;
}
