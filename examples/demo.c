/*
 * demo.c - the smallest program built on libkb: opens a compiled knowledge base, looks up
 * one error text and prints the answer. It is the example of the README's "Library" section,
 * built and run against the installed library by tests/serve/library.sh:
 *
 *   cc demo.c $(pkg-config --cflags --libs kb) -o demo
 *   ./demo /usr/share/kb/kb.db '535 5.7.139 Authentication unsuccessful'
 *
 * Every call returns an enum kb_status and fills a struct kb_error on failure; the library
 * never prints and never exits. Exit status: 0 a match, 1 no match, 2 an error.
 */
#include <kb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: demo KB.db 'error text'\n");
        return 2;
    }
    struct kb_error err;
    struct kb_db *db = NULL;
    if (kb_db_open_file(argv[1], &db, &err) != KB_OK) {
        fprintf(stderr, "demo: %s\n", err.message);
        return 2;
    }
    struct kb_query_options options = {.top = 3, .max_input = 1 << 20};
    struct kb_result *result = NULL;
    if (kb_query_run(db, argv[2], strlen(argv[2]), &options, &result, &err) != KB_OK) {
        fprintf(stderr, "demo: %s\n", err.message);
        kb_db_close(db);
        return 2;
    }
    printf("knowledge base %s: %ld entries\n", kb_db_build_hash(db), kb_db_entry_count(db));
    if (result->facts.reply_code)
        printf("reply code %d, status %s\n", result->facts.reply_code,
               result->facts.enhanced ? result->facts.enhanced : "none");
    for (size_t i = 0; i < result->match_count; i++) {
        const struct kb_match *m = &result->matches[i];
        printf("%zu. %s (%s, %s match, score %.1f)\n", i + 1, m->entry->title, m->entry->id,
               kb_confidence_str(m->confidence), m->score);
    }
    if (result->match_count) {
        /* the fix, with the user's values in place of the placeholders */
        char *fix = kb_template_expand(result->matches[0].entry->solution_text, &result->matches[0],
                                       result, "", "");
        if (fix)
            printf("\n%s\n", fix);
        free(fix);
    } else {
        printf("no match\n");
    }
    int code = result->match_count ? 0 : 1;
    kb_result_free(result);
    kb_db_close(db);
    return code;
}
