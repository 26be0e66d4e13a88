/*
 * test_explain.c - kb_db_explain_set: with explanations off a query formats none (every
 * match's explain_count is 0) and answers exactly as with them on (same entries, scores,
 * confidence, evidence, captures and matched signatures); on is the default, and then every
 * match has its lines. Run over the real pastes of the directories given, on the KB given.
 *
 *   test_explain KB_DB DIR...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb.h"
#include "pastes.h"

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Are the two results the same answer (all but the explain lines)? */
static int same_answer(const struct kb_result *a, const struct kb_result *b)
{
    if (a->match_count != b->match_count || !same_str(a->nearest_id, b->nearest_id))
        return 0;
    for (size_t i = 0; i < a->match_count; i++) {
        const struct kb_match *x = &a->matches[i], *y = &b->matches[i];
        if (!same_str(x->entry->id, y->entry->id) || x->score != y->score
            || x->confidence != y->confidence || x->via != y->via
            || x->evidence_count != y->evidence_count || x->capture_count != y->capture_count
            || x->matched_signature_count != y->matched_signature_count
            || !same_str(x->section_heading, y->section_heading)
            || !same_str(x->recipient, y->recipient))
            return 0;
        for (size_t k = 0; k < x->evidence_count; k++)
            if (x->evidence[k].line != y->evidence[k].line
                || !same_str(x->evidence[k].text, y->evidence[k].text))
                return 0;
        for (size_t k = 0; k < x->capture_count; k++)
            if (!same_str(x->captures[k].name, y->captures[k].name)
                || !same_str(x->captures[k].value, y->captures[k].value))
                return 0;
        for (size_t k = 0; k < x->matched_signature_count; k++)
            if (!same_str(x->matched_signatures[k], y->matched_signatures[k]))
                return 0;
    }
    return 1;
}

static void check_text(struct kb_db *db, const char *name, const char *text, size_t len,
                       size_t *matched)
{
    struct kb_error err;
    struct kb_result *on = NULL, *off = NULL, *again = NULL;
    kb_db_explain_set(db, 1);
    CHECK(kb_query_run(db, text, len, NULL, &on, &err) == KB_OK);
    kb_db_explain_set(db, 0);
    CHECK(kb_query_run(db, text, len, NULL, &off, &err) == KB_OK);
    kb_db_explain_set(db, 1);
    CHECK(kb_query_run(db, text, len, NULL, &again, &err) == KB_OK);
    if (on && off && again) {
        int same = same_answer(on, off) && same_answer(on, again);
        if (!same)
            fprintf(stderr, "%s: explanations off changed the answer\n", name);
        CHECK(same);
        for (size_t i = 0; i < off->match_count; i++)
            CHECK(off->matches[i].explain_count == 0);
        for (size_t i = 0; i < on->match_count; i++) {
            CHECK(on->matches[i].explain_count > 0);
            CHECK(on->matches[i].explain_count == again->matches[i].explain_count);
        }
        *matched += on->match_count > 0;
    }
    kb_result_free(on);
    kb_result_free(off);
    kb_result_free(again);
}

struct explain_run {
    struct kb_db *db;
    size_t matched;
};

static void explain_one(const char *name, const char *text, size_t len, void *arg)
{
    struct explain_run *run = arg;
    check_text(run->db, name, text, len, &run->matched);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_explain KB_DB DIR...\n");
        return 2;
    }
    struct kb_db *db = NULL;
    struct kb_error err;
    if (kb_db_open_file(argv[1], &db, &err) != KB_OK) {
        fprintf(stderr, "test_explain: %s\n", err.message);
        return 2;
    }
    struct explain_run run = {db, 0};
    size_t texts = pastes_each(argv + 2, argc - 2, explain_one, &run), matched = run.matched;
    /* the pastes are real errors: most have an answer, so the comparison compared answers */
    CHECK(texts >= 20);
    CHECK(matched * 2 >= texts);
    printf("%zu texts, %zu answered\n", texts, matched);
    kb_db_close(db);
    kb_db_explain_set(NULL, 0); /* accepts NULL */
    return check_report("test_explain");
}
