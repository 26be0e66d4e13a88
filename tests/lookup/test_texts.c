/*
 * test_texts.c - kb_db_texts_set: a handle that reads only some renderings of its entries'
 * texts answers exactly as one that reads them all (same entries, scores, confidence), the
 * renderings it reads are the same bytes, with the same provider steps and solution structure,
 * and the others are "" with empty step ranges; asking for all again gives all again. Run over
 * the real pastes of the directories given, on the KB given, and on kb_entry_get; and the
 * entries a handle keeps once it has answered are those a fresh handle reads, whatever the
 * language and texts asked for.
 *
 *   test_texts KB_DB DIR...
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb.h"
#include "pastes.h"

/* The texts of an entry with the kb_db_texts_set bit that reads each. */
struct text_field {
    const char *a, *b;
    unsigned bit;
};

/* Is entry b, read with texts, what entry a (read with all) gives for them? */
static int same_entry(const struct kb_entry *a, const struct kb_entry *b, unsigned texts)
{
    const struct text_field f[] = {
        {a->why_text, b->why_text, KB_TEXTS_PLAIN},
        {a->tell_text, b->tell_text, KB_TEXTS_PLAIN},
        {a->solution_text, b->solution_text, KB_TEXTS_PLAIN},
        {a->why_ansi, b->why_ansi, KB_TEXTS_ANSI},
        {a->tell_ansi, b->tell_ansi, KB_TEXTS_ANSI},
        {a->solution_ansi, b->solution_ansi, KB_TEXTS_ANSI},
        {a->why_md, b->why_md, KB_TEXTS_MARKDOWN},
        {a->tell_md, b->tell_md, KB_TEXTS_MARKDOWN},
        {a->solution_md, b->solution_md, KB_TEXTS_MARKDOWN},
        {a->body_md, b->body_md, KB_TEXTS_BODY},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (strcmp(texts & f[i].bit ? f[i].a : "", f[i].b) != 0)
            return 0;
    if (strcmp(a->id, b->id) != 0 || strcmp(a->title, b->title) != 0
        || strcmp(a->article, b->article) != 0 || a->signature_count != b->signature_count
        || a->fulltext_only != b->fulltext_only || a->step_count != b->step_count
        || a->fix_count != b->fix_count)
        return 0;
    for (size_t i = 0; i < a->step_count; i++)
        for (int form = 0; form < 3; form++) {
            int read = (texts & (1u << form)) != 0;
            if (b->steps[i].start[form] != (read ? a->steps[i].start[form] : 0)
                || b->steps[i].end[form] != (read ? a->steps[i].end[form] : 0)
                || strcmp(a->steps[i].providers, b->steps[i].providers) != 0)
                return 0;
        }
    for (size_t i = 0; i < a->fix_count; i++)
        if (strcmp(a->fix[i].text, b->fix[i].text) != 0
            || strcmp(a->fix[i].markdown, b->fix[i].markdown) != 0)
            return 0;
    /* the solution for a provider, in each form read */
    for (int form = 0; form < 3; form++) {
        if (!(texts & (1u << form)))
            continue;
        for (size_t i = 0; i < a->step_count; i++) {
            struct kb_selection x, y;
            const char *provider = a->steps[i].providers;
            int ok = kb_solution_select(a, (enum kb_form)form, provider, &x) == KB_OK
                     && kb_solution_select(b, (enum kb_form)form, provider, &y) == KB_OK;
            int same = ok && strcmp(x.text, y.text) == 0 && x.gap_count == y.gap_count
                       && x.kept_count == y.kept_count;
            kb_selection_release(&x);
            kb_selection_release(&y);
            if (!same)
                return 0;
        }
    }
    return 1;
}

static const unsigned masks[] = {KB_TEXTS_PLAIN | KB_TEXTS_MARKDOWN, KB_TEXTS_PLAIN | KB_TEXTS_ANSI,
                                 KB_TEXTS_MARKDOWN, KB_TEXTS_BODY, 0};

static void check_text(struct kb_db *db, const char *name, const char *text, size_t len,
                       size_t *matched)
{
    struct kb_error err;
    struct kb_result *all = NULL;
    kb_db_texts_set(db, KB_TEXTS_ALL);
    CHECK(kb_query_run(db, text, len, NULL, &all, &err) == KB_OK);
    for (size_t k = 0; all && k < sizeof masks / sizeof masks[0]; k++) {
        struct kb_result *some = NULL;
        kb_db_texts_set(db, masks[k]);
        CHECK(kb_query_run(db, text, len, NULL, &some, &err) == KB_OK);
        int same = some && some->match_count == all->match_count;
        for (size_t i = 0; same && i < all->match_count; i++) {
            const struct kb_match *x = &all->matches[i], *y = &some->matches[i];
            same = x->score == y->score && x->confidence == y->confidence && x->via == y->via
                   && same_entry(x->entry, y->entry, masks[k]);
        }
        if (!same)
            fprintf(stderr, "%s: texts %u changed the answer\n", name, masks[k]);
        CHECK(same);
        kb_result_free(some);
    }
    /* all again: nothing of the last set stays with the handle */
    struct kb_result *again = NULL;
    kb_db_texts_set(db, KB_TEXTS_ALL);
    CHECK(kb_query_run(db, text, len, NULL, &again, &err) == KB_OK);
    int same = all && again && all->match_count == again->match_count;
    for (size_t i = 0; same && i < all->match_count; i++)
        same = same_entry(all->matches[i].entry, again->matches[i].entry, KB_TEXTS_ALL);
    CHECK(same);
    if (all)
        *matched += all->match_count > 0;
    kb_result_free(all);
    kb_result_free(again);
}

/* A handle that has answered queries keeps the entries it read (kb_entry_load): asked in
 * another language, or for other texts, it gives what a handle just opened gives. */
static void check_kept(struct kb_db *warm, const char *db_path, const char *name, const char *text,
                       size_t len)
{
    static const char *const langs[] = {"de", NULL, "fr", "de", NULL};
    static const unsigned texts[] = {KB_TEXTS_ALL, KB_TEXTS_PLAIN | KB_TEXTS_MARKDOWN, KB_TEXTS_ALL,
                                     KB_TEXTS_MARKDOWN, KB_TEXTS_ALL};
    for (size_t k = 0; k < sizeof langs / sizeof langs[0]; k++) {
        struct kb_error err;
        struct kb_db *cold = NULL;
        struct kb_result *a = NULL, *b = NULL;
        CHECK(kb_db_open_file(db_path, &cold, &err) == KB_OK);
        if (!cold)
            return;
        CHECK(kb_db_language_set(cold, langs[k], &err) == KB_OK);
        CHECK(kb_db_language_set(warm, langs[k], &err) == KB_OK);
        kb_db_texts_set(cold, texts[k]);
        kb_db_texts_set(warm, texts[k]);
        CHECK(kb_query_run(cold, text, len, NULL, &a, &err) == KB_OK);
        CHECK(kb_query_run(warm, text, len, NULL, &b, &err) == KB_OK);
        int same = a && b && a->match_count == b->match_count;
        for (size_t i = 0; same && i < a->match_count; i++)
            same = same_entry(a->matches[i].entry, b->matches[i].entry, texts[k])
                   && strcmp(a->matches[i].entry->language, b->matches[i].entry->language) == 0;
        if (!same)
            fprintf(stderr, "%s: a kept entry differs (language %s)\n", name,
                    langs[k] ? langs[k] : "default");
        CHECK(same);
        kb_result_free(a);
        kb_result_free(b);
        kb_db_close(cold);
    }
    struct kb_error err;
    CHECK(kb_db_language_set(warm, NULL, &err) == KB_OK);
    kb_db_texts_set(warm, KB_TEXTS_ALL);
}

/* The same of kb_entry_get, for an entry the KB holds in other languages (the first one,
 * read from its table entry_text): the warm handle keeps each language's own. */
static void check_kept_get(struct kb_db *warm, const char *db_path)
{
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    char *id = NULL;
    if (sqlite3_open_v2(db_path, &sql, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(sql,
                              "SELECT e.slug FROM entry_text t JOIN entry e ON e.id = t.entry_id "
                              "ORDER BY e.id LIMIT 1",
                              -1, &st, NULL)
               == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW)
        id = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(sql);
    CHECK(id != NULL); /* the shipped KB holds translations */
    static const char *const langs[] = {"de", NULL, "fr", "de", NULL, "fr"};
    for (size_t k = 0; id && k < sizeof langs / sizeof langs[0]; k++) {
        struct kb_error err;
        struct kb_db *cold = NULL;
        struct kb_entry *a = NULL, *b = NULL;
        CHECK(kb_db_open_file(db_path, &cold, &err) == KB_OK);
        if (!cold)
            break;
        CHECK(kb_db_language_set(cold, langs[k], &err) == KB_OK);
        CHECK(kb_db_language_set(warm, langs[k], &err) == KB_OK);
        CHECK(kb_entry_get(cold, id, &a, &err) == KB_OK);
        CHECK(kb_entry_get(warm, id, &b, &err) == KB_OK);
        CHECK(a && b && same_entry(a, b, KB_TEXTS_ALL) && strcmp(a->language, b->language) == 0);
        CHECK(a && strcmp(a->language, langs[k] ? langs[k] : "en") == 0);
        kb_entry_free(a);
        kb_entry_free(b);
        kb_db_close(cold);
    }
    struct kb_error err;
    CHECK(kb_db_language_set(warm, NULL, &err) == KB_OK);
    free(id);
}

/* kb_entry_get reads the texts asked for too. */
static void check_get(struct kb_db *db, const char *id)
{
    struct kb_error err;
    struct kb_entry *all = NULL;
    kb_db_texts_set(db, KB_TEXTS_ALL);
    CHECK(kb_entry_get(db, id, &all, &err) == KB_OK);
    CHECK(all && all->body_md[0] && all->solution_md[0]);
    for (size_t k = 0; all && k < sizeof masks / sizeof masks[0]; k++) {
        struct kb_entry *some = NULL;
        kb_db_texts_set(db, masks[k]);
        CHECK(kb_entry_get(db, id, &some, &err) == KB_OK);
        CHECK(some && same_entry(all, some, masks[k]));
        kb_entry_free(some);
    }
    kb_entry_free(all);
    kb_db_texts_set(db, KB_TEXTS_ALL);
}

struct texts_run {
    struct kb_db *db;
    const char *db_path;
    size_t texts, matched;
    char *first_id; /* the first paste's answer, for check_get */
};

static void texts_one(const char *name, const char *text, size_t len, void *arg)
{
    struct texts_run *run = arg;
    check_text(run->db, name, text, len, &run->matched);
    if (run->texts < 12)
        check_kept(run->db, run->db_path, name, text, len);
    if (!run->first_id) {
        struct kb_result *r = NULL;
        struct kb_error err;
        if (kb_query_run(run->db, text, len, NULL, &r, &err) == KB_OK && r->match_count)
            run->first_id = strdup(r->matches[0].entry->id);
        kb_result_free(r);
    }
    run->texts++;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_texts KB_DB DIR...\n");
        return 2;
    }
    struct kb_db *db = NULL;
    struct kb_error err;
    if (kb_db_open_file(argv[1], &db, &err) != KB_OK) {
        fprintf(stderr, "test_texts: %s\n", err.message);
        return 2;
    }
    struct texts_run run = {db, argv[1], 0, 0, NULL};
    size_t texts = pastes_each(argv + 2, argc - 2, texts_one, &run), matched = run.matched;
    char *first_id = run.first_id;
    /* the pastes are real errors: most have an answer, so the comparison compared entries */
    CHECK(texts >= 20);
    CHECK(matched * 2 >= texts);
    CHECK(first_id != NULL);
    if (first_id)
        check_get(db, first_id);
    check_kept_get(db, argv[1]); /* db has answered queries: it keeps entries */
    printf("%zu texts, %zu answered\n", texts, matched);
    free(first_id);
    kb_db_close(db);
    kb_db_texts_set(NULL, 0); /* accepts NULL */
    return check_report("test_texts");
}
