/*
 * kb_rank.c - the candidates of all evidence stages merged into one ordered list and turned
 * into struct kb_result.
 *
 * Evidence an author wrote (signatures) decides first; evidence found in the articles' prose
 * (harvested codes and quoted messages, full-text terms) ranks the entries nobody annotated,
 * and answers alone only where no written signature gives a likely answer. Within each class
 * the score decides, then the provider seen in the text, then BM25. Confidence classes and
 * evidence lines taken from the input are filled in here too.
 */
#include <stdlib.h>
#include <string.h>

#include "kb_query.h"

#define MAX_EVIDENCE 5
#define MAX_EVIDENCE_BYTES 400
/* An entry known only from harvested evidence, without full text agreeing, is an answer
 * from this much on: one code of a short article, not one of a long list. */
#define HARVEST_MIN_SCORE 0.75

static int cmp_candidate(const void *a, const void *b)
{
    const struct kb_candidate *x = a, *y = b;
    if ((x->written > 0) != (y->written > 0))
        return x->written > 0 ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->provider_match != y->provider_match)
        return x->provider_match ? -1 : 1;
    if (x->bm25 != y->bm25)
        return x->bm25 < y->bm25 ? -1 : 1; /* the better full-text section */
    if (x->best_weight != y->best_weight)
        return x->best_weight > y->best_weight ? -1 : 1;
    return (x->rowid > y->rowid) - (x->rowid < y->rowid);
}

static int cmp_hit(const void *a, const void *b)
{
    const struct kb_hit *x = a, *y = b;
    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* The line holding normalised line norm_line as the bounce reader read it (the input's line,
 * or its decoded text), masked and capped, and where it is in the input. */
static enum kb_status evidence_for(const struct kb_query *q, size_t norm_line,
                                   struct kb_evidence *ev)
{
    const struct kb_norm *norm = &q->norm;
    size_t line = norm->orig_line[norm_line];
    ev->line = kb_query_input_line(q, norm_line);
    ev->text = NULL;
    size_t s = 0, e = 0;
    if (line >= 1 && line <= norm->orig_line_count) {
        s = norm->orig_start[line - 1];
        e = norm->orig_start[line];
        if (e > s && norm->input[e - 1] == '\n')
            e--;
    }
    int cut = 0;
    if (e - s > MAX_EVIDENCE_BYTES) {
        e = s + MAX_EVIDENCE_BYTES;
        cut = 1;
    }
    struct kb_buf out;
    kb_buf_init(&out, 0);
    enum kb_status st = kb_mask_secrets(norm->input + s, e - s, &out);
    if (st == KB_OK && cut)
        st = kb_buf_append_str(&out, " [...]");
    if (st == KB_OK)
        st = kb_buf_detach(&out, &ev->text);
    kb_buf_release(&out);
    return st;
}

/* The section the evidence points at, when the entry has several (a foreign article). */
static enum kb_status load_section(struct kb_query *q, const struct kb_candidate *c,
                                   struct kb_match *m)
{
    if (!c->section_id)
        return KB_OK;
    sqlite3_stmt *st = kb_db_section_by_id(q->db, q->err);
    if (!st)
        return KB_ERR_DB;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, c->section_id);
    int rc = sqlite3_step(st);
    enum kb_status status = KB_OK;
    if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) == c->rowid
        && sqlite3_column_int64(st, 4) > 1) {
        const char *heading = (const char *)sqlite3_column_text(st, 1);
        const char *anchor = (const char *)sqlite3_column_text(st, 2);
        m->section_line = (size_t)sqlite3_column_int64(st, 3);
        if (!(m->section_heading = strdup(heading ? heading : ""))
            || !(m->section_anchor = strdup(anchor ? anchor : "")))
            status = kb_query_nomem(q);
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        status = kb_fail_sql(q->db, q->err, "cannot read a section");
    }
    sqlite3_reset(st);
    return status;
}

static enum kb_status fill_match(struct kb_query *q, struct kb_candidate *c, struct kb_match *m)
{
    enum kb_status st = kb_entry_load(q->db, c->rowid, &m->entry, q->err);
    if (st != KB_OK)
        return st;
    m->score = c->score;
    m->via = c->written > 0 ? KB_VIA_SIGNATURE : KB_VIA_FULLTEXT;
    /* An answer from written signatures is as certain as their score says. One from the
     * articles' prose is at best likely, and only when harvested evidence takes part: full
     * text alone is always weak. */
    if (c->written > 0)
        m->confidence = c->score >= KB_EXACT_SCORE    ? KB_CONF_EXACT
                        : c->score >= KB_LIKELY_SCORE ? KB_CONF_LIKELY
                                                      : KB_CONF_WEAK;
    else
        m->confidence =
            c->harvested > 0 && c->score >= KB_LIKELY_SCORE ? KB_CONF_LIKELY : KB_CONF_WEAK;
    if ((st = load_section(q, c, m)) != KB_OK)
        return st;

    if (c->hit_count)
        qsort(c->hits, c->hit_count, sizeof *c->hits, cmp_hit);
    /* evidence: distinct lines, in input order */
    size_t lines[MAX_EVIDENCE];
    size_t n = 0;
    for (size_t i = 0; i < c->hit_count && n < MAX_EVIDENCE; i++) {
        if (c->hits[i].condition)
            continue; /* about the whole text, no line of it */
        int dup = 0;
        for (size_t k = 0; k < n; k++)
            dup |= q->norm.orig_line[lines[k]] == q->norm.orig_line[c->hits[i].line];
        if (!dup)
            lines[n++] = c->hits[i].line;
    }
    for (size_t i = 0; i < c->line_count && n < MAX_EVIDENCE; i++) {
        int dup = 0;
        for (size_t k = 0; k < n; k++)
            dup |= q->norm.orig_line[lines[k]] == q->norm.orig_line[c->lines[i]];
        if (!dup)
            lines[n++] = c->lines[i];
    }
    qsort(lines, n, sizeof *lines, cmp_size);
    m->evidence = calloc(n ? n : 1, sizeof *m->evidence);
    if (!m->evidence)
        return kb_query_nomem(q);
    for (size_t i = 0; i < n; i++) {
        if ((st = evidence_for(q, lines[i], &m->evidence[i])) != KB_OK)
            return kb_query_nomem(q);
        m->evidence_count++;
    }

    m->captures = c->captures;
    m->capture_count = c->capture_count;
    c->captures = NULL;
    c->capture_count = 0;

    size_t nexp = c->hit_count + 2;
    m->explain = calloc(nexp, sizeof *m->explain);
    m->matched_signatures = calloc(c->hit_count ? c->hit_count : 1, sizeof *m->matched_signatures);
    if (!m->explain || !m->matched_signatures)
        return kb_query_nomem(q);
    for (size_t i = 0; i < c->hit_count; i++) {
        if (c->hits[i].explain)
            m->explain[m->explain_count++] = c->hits[i].explain;
        c->hits[i].explain = NULL;
        m->matched_signatures[m->matched_signature_count++] = c->hits[i].source;
        c->hits[i].source = NULL;
    }
    if (c->fts_explain) {
        m->explain[m->explain_count++] = c->fts_explain;
        c->fts_explain = NULL;
    }
    if (q->db->no_explain) /* kb_db_explain_set: no lines, not even the score's */
        return KB_OK;
    int conditions = 0;
    for (size_t i = 0; i < c->hit_count; i++)
        conditions |= c->hits[i].condition;
    struct kb_buf sum;
    kb_buf_init(&sum, 0);
    if (c->harvested == 0 && c->fulltext == 0)
        st = kb_buf_printf(&sum, "score %g (sum of the weights of matched signatures%s)", c->score,
                           conditions ? " and conditions that held" : "");
    else if (c->written == 0 && c->harvested == 0)
        st = kb_buf_printf(
            &sum, "score %g (full text: %g x the share of the text its best section explains)",
            c->score, FTS_POINTS);
    else
        st = kb_buf_printf(&sum,
                           "score %g = %g from signatures + %g harvested from the article + %g "
                           "from full text (%g x the share of the text its best section explains)",
                           c->score, c->written, c->harvested, c->fulltext, FTS_POINTS);
    if (st == KB_OK)
        st = kb_buf_detach(&sum, &m->explain[m->explain_count]);
    kb_buf_release(&sum);
    if (st != KB_OK)
        return kb_query_nomem(q);
    m->explain_count++;
    return KB_OK;
}

static void match_release(struct kb_match *m)
{
    kb_entry_free(m->entry);
    free(m->recipient);
    free(m->section_heading);
    free(m->section_anchor);
    for (size_t i = 0; i < m->evidence_count; i++)
        free(m->evidence[i].text);
    free(m->evidence);
    for (size_t i = 0; i < m->capture_count; i++) {
        free(m->captures[i].name);
        free(m->captures[i].value);
    }
    free(m->captures);
    for (size_t i = 0; i < m->explain_count; i++)
        free(m->explain[i]);
    free(m->explain);
    for (size_t i = 0; i < m->matched_signature_count; i++)
        free(m->matched_signatures[i]);
    free(m->matched_signatures);
}

void kb_result_free(struct kb_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->match_count; i++)
        match_release(&r->matches[i]);
    free(r->matches);
    kb_facts_release(&r->facts);
    kb_provider_release(&r->provider);
    kb_report_release(&r->report);
    kb_dialogue_release(&r->dialogue);
    free(r->nearest_id);
    free(r->nearest_title);
    free(r);
}

/* The provider seen in the text (gsmtp, outlook.com...) breaks ties between entries that the
 * same evidence points to: a bare "535 5.7.3" from Microsoft 365 ranks its m365 entries first. */
static enum kb_status mark_provider_matches(struct kb_query *q)
{
    if (!q->facts.provider || !q->cand_count)
        return KB_OK;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->db->sql, "SELECT provider FROM entry WHERE id = ?1", -1, &st, NULL)
        != SQLITE_OK)
        return kb_fail_sql(q->db, q->err, "cannot read an entry");
    for (size_t i = 0; i < q->cand_count; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, q->cands[i].rowid);
        if (sqlite3_step(st) == SQLITE_ROW)
            q->cands[i].provider_match =
                kb_list_contains((const char *)sqlite3_column_text(st, 0), q->facts.provider);
    }
    sqlite3_finalize(st);
    return KB_OK;
}

/* Keeps the candidates for which keep() says so. */
static void keep_candidates(struct kb_query *q,
                            int (*keep)(const struct kb_candidate *c, double arg), double arg)
{
    size_t kept = 0;
    for (size_t i = 0; i < q->cand_count; i++) {
        if (keep(&q->cands[i], arg))
            q->cands[kept++] = q->cands[i];
        else
            kb_candidate_release(&q->cands[i]);
    }
    q->cand_count = kept;
}

/* A candidate a condition ruled out stays in the list until the result is made, so that no
 * later stage can bring its entry back as a new candidate. */
static int strong_enough(const struct kb_candidate *c, double min)
{
    return c->ruled_out || c->written == 0 || c->written + c->harvested >= min;
}

static int written_evidence(const struct kb_candidate *c, double unused)
{
    (void)unused;
    return c->ruled_out || c->written > 0;
}

static int prose_answer(const struct kb_candidate *c, double unused)
{
    (void)unused;
    return !c->ruled_out
           && (c->written > 0 || c->fulltext > 0 || c->harvested >= HARVEST_MIN_SCORE);
}

void kb_rank_drop_weak(struct kb_query *q, double min)
{
    keep_candidates(q, strong_enough, min);
}

void kb_rank_drop_prose(struct kb_query *q)
{
    keep_candidates(q, written_evidence, 0);
}

int kb_rank_has_likely(const struct kb_query *q)
{
    for (size_t i = 0; i < q->cand_count; i++)
        if (q->cands[i].written >= KB_LIKELY_SCORE)
            return 1;
    return 0;
}

enum kb_status kb_rank_result(struct kb_query *q, size_t top, struct kb_result *r)
{
    keep_candidates(q, prose_answer, 0);
    enum kb_status st = mark_provider_matches(q);
    if (st != KB_OK)
        return st;
    if (q->cand_count)
        qsort(q->cands, q->cand_count, sizeof *q->cands, cmp_candidate);
    size_t n = q->cand_count < top ? q->cand_count : top;
    r->matches = calloc(n ? n : 1, sizeof *r->matches);
    if (!r->matches)
        return kb_query_nomem(q);
    for (size_t i = 0; i < n; i++) {
        st = fill_match(q, &q->cands[i], &r->matches[i]);
        r->match_count++;
        if (st != KB_OK)
            return st;
    }
    return KB_OK;
}
