/*
 * layers.c - compiling a team's KB as an overlay on the KB it will sit on (kb-compile --base
 * BASE.db): kb-hide blocks (ids of the base the overlay takes away), references into the base
 * (validate.c asks kbc_base_has), and what stacking the overlay does to the base, checked with
 * the lookup code on the stacked KB (libkb's layers, kb.h) once the new database is written:
 * the entries it replaces, the ids it hides, the base's examples it now outranks.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "kbc.h"

enum kb_status kbc_hide_parse(struct kbc_kb *kb, const struct kbc_file *file, const char *text,
                              size_t line, size_t col, struct kbc_diags *diags)
{
    size_t n = 0;
    /* the block's first line is the fence: its content starts on the next */
    for (const char *p = text ? text : ""; *p; line++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        size_t s = 0, e = len;
        while (s < e && isspace((unsigned char)p[s]))
            s++;
        while (e > s && isspace((unsigned char)p[e - 1]))
            e--;
        if (e > s && p[s] != '#') {
            if (!kbc_id_valid(p + s, e - s)) {
                kbc_diag(diags, KBC_ERROR, file->display, line + 1, s + 1,
                         "'%.*s' in kb-hide block is not an entry id (one id a line: lowercase "
                         "letters, digits and '-')",
                         (int)(e - s), p + s);
            } else {
                struct kbc_hide *h =
                    kbc_grow(kb->hides, &kb->hide_alloc, kb->hide_count, sizeof *h);
                if (!h)
                    return KB_ERR_NOMEM;
                kb->hides = h;
                h = &kb->hides[kb->hide_count];
                if (!(h->id = kbc_strndup(p + s, e - s)))
                    return KB_ERR_NOMEM;
                h->file = file;
                h->line = line + 1;
                h->col = s + 1;
                kb->hide_count++;
            }
            n++;
        }
        p += len + (nl != NULL);
    }
    if (!n)
        kbc_diag(diags, KBC_ERROR, file->display, line, col, "kb-hide block hides no entry id");
    (void)col;
    return KB_OK;
}

int kbc_base_has(const struct kbc_kb *kb, const char *id)
{
    struct kb_entry *e = NULL;
    struct kb_error err;
    if (!kb->base || kb_entry_get(kb->base, id, &e, &err) != KB_OK)
        return 0;
    kb_entry_free(e);
    return 1;
}

/* The entry of the overlay with this id, or NULL. */
static const struct kbc_entry *own_entry(const struct kbc_kb *kb, const char *id,
                                         const struct kbc_article **article)
{
    for (size_t i = 0; i < kb->count; i++)
        for (size_t j = 0; j < kb->articles[i].entry_count; j++)
            if (kb->articles[i].entries[j].id && strcmp(kb->articles[i].entries[j].id, id) == 0) {
                *article = &kb->articles[i];
                return &kb->articles[i].entries[j];
            }
    return NULL;
}

/* Does layer l of the stack answer for id (no layer above it replaces or hides it)? */
static int answers_for(struct kb_db *stack, size_t l, const char *id)
{
    struct kb_entry *e = NULL;
    struct kb_error err;
    int yes = kb_entry_get(stack, id, &e, &err) == KB_OK && e->layer == l;
    kb_entry_free(e);
    return yes;
}

void kbc_overlay_ids(const struct kbc_kb *kb, int strict, struct kbc_diags *diags)
{
    enum kbc_severity level = strict ? KBC_ERROR : KBC_WARNING;
    for (size_t i = 0; i < kb->hide_count; i++) {
        const struct kbc_hide *h = &kb->hides[i];
        const struct kbc_article *a = NULL;
        if (own_entry(kb, h->id, &a))
            kbc_diag(diags, KBC_ERROR, h->file->display, h->line, h->col,
                     "'%s' is hidden and defined in this KB: an entry of the same id replaces "
                     "the base's already; drop one of them",
                     h->id);
        else if (!kbc_base_has(kb, h->id))
            kbc_diag(diags, level, h->file->display, h->line, h->col,
                     "kb-hide hides '%s', which the base does not hold (see kb-lookup --list)",
                     h->id);
    }
    for (size_t i = 0; i < kb->count; i++)
        for (size_t j = 0; j < kb->articles[i].entry_count; j++) {
            const struct kbc_entry *e = &kb->articles[i].entries[j];
            if (e->id && kbc_base_has(kb, e->id))
                kbc_diag(diags, level, kb->articles[i].file->display, e->id_line, e->id_col,
                         "entry '%s' replaces the base's entry of the same id", e->id);
        }
}

/* Each example of the base whose own entry the overlay leaves in place runs through the
 * stacked KB: an overlay entry ranked first where the base's entry was (kb-lookup answers
 * with the team's entry now) is reported. The overlay alone is asked first: an example it
 * finds nothing for cannot have changed. */
static enum kb_status check_base_examples(struct kb_db *stack, struct kb_db *overlay,
                                          enum kbc_severity level, struct kbc_diags *diags,
                                          struct kb_error *err)
{
    size_t layers = kb_db_layer_count(stack);
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    enum kb_status status = KB_OK;
    struct kb_query_options options = {.top = KBC_SELFTEST_TOP, .max_input = 0};
    /* every layer of the base holds examples; each is read from its file */
    for (size_t l = 0; l + 1 < layers && status == KB_OK; l++) {
        const char *path = kb_db_label(kb_db_layer(stack, l));
        if (sqlite3_open_v2(path, &sql, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK
            || sqlite3_prepare_v2(sql,
                                  "SELECT e.slug, x.text, x.path, x.line FROM example x JOIN "
                                  "entry e ON e.id = x.entry_id WHERE x.counter = 0 ORDER BY x.id",
                                  -1, &st, NULL)
                   != SQLITE_OK) {
            kbc_diag(diags, KBC_WARNING, path, 0, 0,
                     "cannot read the base's examples: %s; they were not checked against this "
                     "KB",
                     sql ? sqlite3_errmsg(sql) : "out of memory");
            sqlite3_finalize(st);
            sqlite3_close(sql);
            st = NULL;
            sql = NULL;
            continue;
        }
        int rc;
        while (status == KB_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(st, 0);
            const char *text = (const char *)sqlite3_column_text(st, 1);
            const char *where = (const char *)sqlite3_column_text(st, 2);
            size_t line = (size_t)sqlite3_column_int64(st, 3);
            if (!id || !text || !answers_for(stack, l, id))
                continue; /* replaced or hidden on purpose: reported already */
            struct kb_result *alone = NULL, *r = NULL;
            size_t len = (size_t)sqlite3_column_bytes(st, 1);
            if ((status = kb_query_run(overlay, text, len, &options, &alone, err)) == KB_OK
                && alone->match_count
                && (status = kb_query_run(stack, text, len, &options, &r, err)) == KB_OK
                && r->match_count && r->matches[0].entry->layer == layers - 1
                && strcmp(r->matches[0].entry->id, id) != 0)
                kbc_diag(diags, level, where && *where ? where : path, line, 1,
                         "example of the base's entry '%s' now ranks this KB's '%s' first (%.1f); "
                         "with this KB on top, kb-lookup answers it with '%s'",
                         id, r->matches[0].entry->id, r->matches[0].score, r->matches[0].entry->id);
            kb_result_free(alone);
            kb_result_free(r);
        }
        sqlite3_finalize(st);
        sqlite3_close(sql);
        st = NULL;
        sql = NULL;
    }
    return status;
}

enum kb_status kbc_overlay_stack(struct kbc_kb *kb, const unsigned char *image, size_t len,
                                 const char *label, struct kb_error *err)
{
    struct kb_db *top = NULL;
    enum kb_status status = kb_db_open_memory(image, len, label, &top, err);
    if (status == KB_OK)
        status = kb_db_layer_add(kb->base, top, err);
    return status;
}

enum kb_status kbc_overlay_check(const unsigned char *image, size_t len, const struct kbc_kb *kb,
                                 int strict, struct kbc_diags *diags, struct kb_error *err)
{
    enum kbc_severity level = strict ? KBC_ERROR : KBC_WARNING;
    if (!kb->base)
        return KB_OK;
    struct kb_db *alone = NULL;
    enum kb_status status = kb_db_open_memory(image, len, "the new database", &alone, err);
    if (status == KB_OK)
        status = check_base_examples(kb->base, alone, level, diags, err);
    kb_db_close(alone);
    return status;
}
