/*
 * test_fulltext_skip.c - the full-text query is not run when no row it could return would
 * change the answer (kb_fulltext.c, fulltext_could_answer), counted instead of timed: the rows
 * of the full-text index scored (kb_work.fulltext_rows). In a mail KB a row answers alone only
 * with three specific terms (each in at most 5% of the entries): a mail error made of words
 * the KB knows, none of them specific, scores no row and has no answer; the same text with four
 * specific words added scores rows (the query is run for texts of that shape). The words are
 * read from the KB's own term statistics, so that the test follows the articles.
 *
 *   test_fulltext_skip KB_DB
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "kb_buf.h"
#include "kb_query.h"

static struct kb_work lookup(struct kb_db *db, const char *text, size_t *matches)
{
    struct kb_error err = {KB_OK, ""};
    struct kb_work work = {0, 0, 0, 0};
    struct kb_result *r = NULL;
    CHECK(kb_query_run_counted(db, text, strlen(text), NULL, &r, &err, &work) == KB_OK);
    *matches = r ? r->match_count : 0;
    kb_result_free(r);
    return work;
}

/* Appends n words of the KB (letters only, five or more) in between lo and hi entries. */
static size_t add_words(sqlite3 *sql, struct kb_buf *text, long lo, long hi, int n)
{
    sqlite3_stmt *st = NULL;
    size_t added = 0;
    if (sqlite3_prepare_v2(sql,
                           "SELECT term FROM term_df WHERE df BETWEEN ?1 AND ?2 AND "
                           "length(term) >= 5 AND term NOT GLOB '*[^a-z]*' ORDER BY term LIMIT ?3",
                           -1, &st, NULL)
        != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    sqlite3_bind_int(st, 3, n);
    while (sqlite3_step(st) == SQLITE_ROW) {
        kb_buf_printf(text, " %s", (const char *)sqlite3_column_text(st, 0));
        added++;
    }
    sqlite3_finalize(st);
    return added;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_fulltext_skip KB_DB\n");
        return 2;
    }
    struct kb_db *db = NULL;
    struct kb_error err;
    sqlite3 *sql = NULL;
    if (kb_db_open_file(argv[1], &db, &err) != KB_OK
        || sqlite3_open_v2(argv[1], &sql, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "test_fulltext_skip: cannot open %s\n", argv[1]);
        return 2;
    }
    long entries = kb_db_entry_count(db);
    long specific = entries / 20 > 1 ? entries / 20 : 1;
    struct kb_buf text;
    kb_buf_init(&text, 0);
    kb_buf_printf(&text, "SMTP error: the server closed the connection:");
    /* known to the KB, none specific, none common enough to be left out of the query */
    CHECK(add_words(sql, &text, specific + 1, specific + 8, 6) == 6);
    size_t few_matches = 0, many_matches = 0;
    struct kb_work few = lookup(db, text.data, &few_matches);
    printf("few specific: %s: %zu rows, %zu matches\n", text.data, few.fulltext_rows, few_matches);
    CHECK(few.fulltext_rows == 0);
    CHECK(few_matches == 0);
    CHECK(add_words(sql, &text, 1, 1, 4) == 4);
    struct kb_work many = lookup(db, text.data, &many_matches);
    printf("four specific more: %zu rows, %zu matches\n", many.fulltext_rows, many_matches);
    CHECK(many.fulltext_rows > 0);
    kb_buf_release(&text);
    sqlite3_close(sql);
    kb_db_close(db);
    return check_report("test_fulltext_skip");
}
