/*
 * kb_query.c - one query through the pipeline that kb.h describes: normalise (and mask),
 * facts, evidence from signatures, evidence from full text, rank. The stages live in their
 * own files (kb_query.h lists them); this file drives them and owns the per-query state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_query.h"

#define DEFAULT_TOP 3
#define DEFAULT_MAX_INPUT ((size_t)16 << 20)
/* In a text that shows no sign of being about mail, a few faint hints (a lone "timed out")
 * are not an answer: below this score nothing is reported. */
#define UNKNOWN_CONTEXT_MIN_SCORE 1.0

int kb_grow(void **v, size_t *alloc, size_t need, size_t size)
{
    if (need <= *alloc)
        return 0;
    size_t na = *alloc ? *alloc : 16;
    while (na < need)
        na *= 2;
    void *p = realloc(*v, na * size);
    if (!p)
        return -1;
    *v = p;
    *alloc = na;
    return 0;
}

void kb_candidate_release(struct kb_candidate *c)
{
    for (size_t i = 0; i < c->hit_count; i++) {
        free(c->hits[i].source);
        free(c->hits[i].explain);
    }
    free(c->hits);
    for (size_t i = 0; i < c->capture_count; i++) {
        free(c->captures[i].name);
        free(c->captures[i].value);
    }
    free(c->captures);
    free(c->lines);
    free(c->fts_explain);
}

struct kb_candidate *kb_candidate_for(struct kb_query *q, long long rowid, enum kb_via via)
{
    for (size_t i = 0; i < q->cand_count; i++)
        if (q->cands[i].rowid == rowid)
            return &q->cands[i];
    if (kb_grow((void **)&q->cands, &q->cand_alloc, q->cand_count + 1, sizeof *q->cands))
        return NULL;
    struct kb_candidate *c = &q->cands[q->cand_count++];
    memset(c, 0, sizeof *c);
    c->rowid = rowid;
    c->via = via;
    return c;
}

enum kb_status kb_query_nomem(struct kb_query *q)
{
    return kb_fail(q->err, KB_ERR_NOMEM, "out of memory");
}

char *kb_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p) {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

char *kb_strndup(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* The evidence text: the normalised text with the lines that the bounce reader set apart
 * blanked, offsets unchanged (or the normalised text itself when nothing was). */
static enum kb_status set_evidence_text(struct kb_query *q)
{
    q->evidence_text = q->norm.text;
    size_t first = 0;
    while (first < q->norm.line_count && q->regions[q->norm.orig_line[first] - 1] == KB_REGION_TEXT)
        first++;
    if (first == q->norm.line_count)
        return KB_OK;
    if (!(q->evidence_copy = kb_strndup(q->norm.text, q->norm.len)))
        return KB_ERR_NOMEM;
    for (size_t i = first; i < q->norm.line_count; i++) {
        if (q->regions[q->norm.orig_line[i] - 1] == KB_REGION_TEXT)
            continue;
        size_t s = q->norm.line_start[i];
        size_t e = i + 1 < q->norm.line_count ? q->norm.line_start[i + 1] - 1 : q->norm.len;
        memset(q->evidence_copy + s, ' ', e - s);
    }
    q->evidence_text = q->evidence_copy;
    return KB_OK;
}

static enum kb_status query_run(struct kb_db *db, const char *text, size_t len,
                                const struct kb_query_options *options, struct kb_result **out,
                                struct kb_error *err, struct kb_work *work)
{
    size_t top = options && options->top ? options->top : DEFAULT_TOP;
    size_t max_input = options && options->max_input ? options->max_input : DEFAULT_MAX_INPUT;
    *out = NULL;
    *work = (struct kb_work){0, 0};
    if (len > max_input)
        return kb_fail(err, KB_ERR_TOO_LARGE, "input is %zu bytes, over the limit of %zu bytes",
                       len, max_input);
    struct kb_query q = {.db = db, .options = options, .err = err};
    struct kb_result *r = calloc(1, sizeof *r);
    enum kb_status st = KB_OK;
    q.mctx = pcre2_match_context_create(NULL);
    q.mdata = pcre2_match_data_create(32, NULL);
    if (!r || !q.mctx || !q.mdata) {
        st = kb_query_nomem(&q);
        goto done;
    }
    /* No signature may take long on any input: PCRE2 gives up instead, and the signature then
     * simply does not count. */
    pcre2_set_match_limit(q.mctx, 5000000);
    pcre2_set_depth_limit(q.mctx, 5000);
    pcre2_set_heap_limit(q.mctx, 20000);

    if ((st = kb_norm_run(text, len, &q.norm)) != KB_OK
        || (st = kb_bounce_read(&q.norm, &r->report, &q.regions)) != KB_OK
        || (st = set_evidence_text(&q)) != KB_OK) {
        if (st == KB_ERR_NOMEM)
            kb_query_nomem(&q);
        goto done;
    }
    /* facts come from what evidence comes from: a returned original's Received: lines name
     * its sender's hosts, not the customer's server */
    struct kb_norm view = q.norm;
    view.text = (char *)q.evidence_text;
    if ((st = kb_facts_extract(&view, &q.facts)) != KB_OK) {
        kb_query_nomem(&q);
        goto done;
    }
    r->input_lines = q.norm.orig_line_count;
    if (r->report.not_failure)
        goto result; /* an automatic reply, a delivery notice...: no fix applies */
    if ((st = kb_signatures_run(&q)) != KB_OK)
        goto done;
    if (q.facts.mail_context == KB_CONTEXT_IS_UNKNOWN)
        kb_rank_drop_weak(&q, UNKNOWN_CONTEXT_MIN_SCORE);
    /* Evidence from the articles' prose (harvested codes, full text) answers where no written
     * signature gives a likely answer; in a mail KB only text about mail. In a KB of other
     * documents, another program's error is answered when that program is the KB's subject
     * (its name is in the KB's vocabulary: a team's docs about its PostgreSQL service), not
     * when the KB never names it. */
    int prose_allowed = db->fulltext_needs_mail
                            ? q.facts.mail_context == KB_CONTEXT_IS_MAIL
                            : q.facts.mail_context != KB_CONTEXT_IS_OTHER || !q.facts.other_program
                                  || kb_fulltext_knows(&q, q.facts.other_program);
    if (kb_rank_has_likely(&q) || !prose_allowed)
        kb_rank_drop_prose(&q);
    else if ((st = kb_fulltext_run(&q, top)) != KB_OK)
        goto done;
result:
    st = kb_rank_result(&q, top, r);
done:
    if (r) {
        r->facts = q.facts;
        q.facts = (struct kb_facts){0};
    }
    for (size_t i = 0; i < q.cand_count; i++)
        kb_candidate_release(&q.cands[i]);
    free(q.cands);
    kb_norm_release(&q.norm);
    kb_facts_release(&q.facts);
    free(q.regions);
    free(q.evidence_copy);
    pcre2_match_context_free(q.mctx);
    pcre2_match_data_free(q.mdata);
    kb_other_program_free(q.other);
    free(q.other_lines);
    *work = q.work;
    if (st != KB_OK) {
        kb_result_free(r);
        return st;
    }
    *out = r;
    return KB_OK;
}

enum kb_status kb_query_run(struct kb_db *db, const char *text, size_t len,
                            const struct kb_query_options *options, struct kb_result **out,
                            struct kb_error *err)
{
    struct kb_work work;
    return query_run(db, text, len, options, out, err, &work);
}

enum kb_status kb_query_run_counted(struct kb_db *db, const char *text, size_t len,
                                    const struct kb_query_options *options, struct kb_result **out,
                                    struct kb_error *err, struct kb_work *work)
{
    return query_run(db, text, len, options, out, err, work);
}

const char *kb_confidence_str(enum kb_confidence c)
{
    return c == KB_CONF_EXACT ? "exact" : c == KB_CONF_LIKELY ? "likely" : "weak";
}

const char *kb_via_str(enum kb_via v)
{
    return v == KB_VIA_FULLTEXT ? "fulltext" : "signature";
}
