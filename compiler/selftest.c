/*
 * selftest.c - after the database is written, every kb-example and kb-counterexample is run
 * through kb_query_run, the code kb-lookup runs, on that very database (its image in memory,
 * through the same checks of every page a lookup makes). An example must rank its
 * own entry first (or, with also=, one of the listed entries first and its own in the top
 * three); a counter-example must keep its entry out of the top three.
 */
#include <stdlib.h>
#include <string.h>

#include "kb_text.h"
#include "kbc.h"

/* "(signature 'x')" or "(full-text match)": what made match rank. */
static void why_ranked(const struct kb_match *m, char *buf, size_t size)
{
    if (m->matched_signature_count > 0)
        snprintf(buf, size, "signature '%s'", m->matched_signatures[0]);
    else
        snprintf(buf, size, "%s match", m->via == KB_VIA_FULLTEXT ? "full-text" : "signature");
}

static long rank_of(const struct kb_result *r, const char *id)
{
    for (size_t i = 0; i < r->match_count; i++)
        if (strcmp(r->matches[i].entry->id, id) == 0)
            return (long)i;
    return -1;
}

static void check_example(const struct kbc_article *a, const struct kbc_entry *e,
                          const struct kbc_example *x, const struct kb_result *r,
                          struct kbc_diags *diags)
{
    const char *path = a->file->display;
    char why[600];
    long own = rank_of(r, e->id);
    if (x->counter) {
        if (own >= 0 && own < KBC_SELFTEST_TOP) {
            why_ranked(&r->matches[own], why, sizeof why);
            kbc_diag(diags, KBC_ERROR, path, x->line, x->col,
                     "counter-example of '%s' ranks it number %ld (%s); it must not be in the "
                     "top %d",
                     e->id, own + 1, why, KBC_SELFTEST_TOP);
        }
        return;
    }
    if (r->match_count == 0) {
        kbc_diag(diags, KBC_ERROR, path, x->line, x->col,
                 "example of '%s' matches no entry; expected '%s'", e->id, e->id);
        return;
    }
    const struct kb_match *top = &r->matches[0];
    const char *top_id = top->entry->id;
    if (own == 0)
        return;
    if (x->also[0] && kb_list_contains(x->also, top_id)) {
        if (own < 0 || own >= KBC_SELFTEST_TOP)
            kbc_diag(diags, KBC_ERROR, path, x->line, x->col,
                     "example of '%s' does not rank it in the top %d (also=%s)", e->id,
                     KBC_SELFTEST_TOP, x->also);
        return;
    }
    why_ranked(top, why, sizeof why);
    if (x->also[0])
        kbc_diag(diags, KBC_ERROR, path, x->line, x->col,
                 "example of '%s' ranks '%s' first (%s); expected '%s' or one of also=%s", e->id,
                 top_id, why, e->id, x->also);
    else
        kbc_diag(diags, KBC_ERROR, path, x->line, x->col,
                 "example of '%s' ranks '%s' first (%s); expected '%s'", e->id, top_id, why, e->id);
}

enum kb_status kbc_selftest(const unsigned char *image, size_t len, const char *label,
                            const struct kbc_kb *kb, struct kbc_diags *diags, size_t *checked,
                            struct kb_error *err)
{
    struct kb_db *db = NULL;
    *checked = 0;
    enum kb_status status = kb_db_open_memory(image, len, label, &db, err);
    struct kb_query_options options = {.top = KBC_SELFTEST_TOP, .max_input = 0};
    for (size_t i = 0; i < kb->count && status == KB_OK; i++) {
        const struct kbc_article *a = &kb->articles[i];
        for (size_t j = 0; j < a->entry_count && status == KB_OK; j++) {
            const struct kbc_entry *e = &a->entries[j];
            for (size_t k = 0; k < e->example_count && status == KB_OK; k++) {
                const struct kbc_example *x = &e->examples[k];
                struct kb_result *r = NULL;
                status = kb_query_run(db, x->text, strlen(x->text), &options, &r, err);
                if (status == KB_OK)
                    check_example(a, e, x, r, diags);
                kb_result_free(r);
                (*checked)++;
            }
        }
    }
    kb_db_close(db);
    return status;
}
