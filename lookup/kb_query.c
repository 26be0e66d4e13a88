/*
 * kb_query.c - one query through the pipeline that kb.h describes: normalise (and mask),
 * facts, evidence from signatures, evidence from full text, rank. The stages live in their
 * own files (kb_query.h lists them); this file drives them and owns the per-query state.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb_query.h"

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

char *kb_strndup(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* Owner values of the bounce reader (kb_bounce.c): 0 shared, k recipient k - 1, anything past
 * the report's recipients: a recipient it did not keep. */
static int line_in_group(const struct kb_query *q, size_t doc_line)
{
    if (q->group < 0)
        return 1;
    unsigned owner = q->bounce.owner[doc_line];
    if (!owner)
        return 1;
    return owner <= q->report->recipient_count && q->group_of[owner - 1] == q->group;
}

/* The bounce reader's line (0-based) of normalised line i. */
static size_t doc_line_of(const struct kb_query *q, size_t i)
{
    size_t line = q->norm.orig_line[i];
    size_t count = q->bounce.mime.line_count;
    return line >= 1 && line <= count ? line - 1 : 0;
}

unsigned kb_query_region(const struct kb_query *q, size_t norm_line)
{
    return q->bounce.region[doc_line_of(q, norm_line)];
}

size_t kb_query_input_line(const struct kb_query *q, size_t norm_line)
{
    return kb_mime_input_line(&q->bounce.mime, q->norm.orig_line[norm_line]);
}

const char *kb_query_view(struct kb_query *q, unsigned regions)
{
    for (size_t k = 0; k < q->view_count; k++)
        if (q->views[k].regions == regions && q->views[k].group == q->group)
            return q->views[k].text ? q->views[k].text : q->norm.text;
    char *copy = NULL;
    for (size_t i = 0; i < q->norm.line_count; i++) {
        size_t doc = doc_line_of(q, i);
        if ((regions >> q->bounce.region[doc] & 1u) && line_in_group(q, doc))
            continue;
        if (!copy && !(copy = kb_strndup(q->norm.text, q->norm.len)))
            return NULL;
        size_t s = q->norm.line_start[i];
        size_t e = i + 1 < q->norm.line_count ? q->norm.line_start[i + 1] - 1 : q->norm.len;
        memset(copy + s, ' ', e - s);
    }
    if (kb_grow((void **)&q->views, &q->view_alloc, q->view_count + 1, sizeof *q->views)) {
        free(copy);
        return NULL;
    }
    q->views[q->view_count++] =
        (struct kb_view){.regions = regions, .group = q->group, .text = copy};
    return copy ? copy : q->norm.text;
}

/* Sets the text the evidence stages read. */
static enum kb_status read_regions(struct kb_query *q, unsigned regions)
{
    q->evidence_regions = regions;
    q->evidence_text = kb_query_view(q, regions);
    return q->evidence_text ? KB_OK : kb_query_nomem(q);
}

/* Does the current group have lines of the diagnostic region? */
static int has_diagnostic(const struct kb_query *q)
{
    for (size_t i = 0; i < q->bounce.mime.line_count; i++)
        if (q->bounce.region[i] == KB_REGION_DIAGNOSTIC && line_in_group(q, i))
            return 1;
    return 0;
}

static void forget_candidates(struct kb_query *q)
{
    for (size_t i = 0; i < q->cand_count; i++)
        kb_candidate_release(&q->cands[i]);
    q->cand_count = 0;
}

/* The first recipient of the current group (what conditions on a recipient read), or NULL
 * when the answer is for the whole text. */
static const struct kb_recipient *group_recipient(const struct kb_query *q)
{
    for (size_t k = 0; q->group >= 0 && q->group_of && k < q->report->recipient_count; k++)
        if (q->group_of[k] == q->group)
            return &q->report->recipients[k];
    return NULL;
}

/* The evidence stages over the text of the current group in the given regions. */
static enum kb_status read_evidence(struct kb_query *q, unsigned regions, size_t top)
{
    enum kb_status st;
    forget_candidates(q);
    const struct kb_condition_facts *whole = q->what;
    struct kb_condition_facts what = *whole;
    what.recipient = group_recipient(q);
    q->what = &what;
    if ((st = read_regions(q, regions)) == KB_OK && (st = kb_signatures_run(q)) == KB_OK)
        st = kb_conditions_run(q, &what);
    q->what = whole;
    if (st != KB_OK)
        return st;
    for (size_t i = 0; i < q->cand_count; i++)
        if (!q->cands[i].ruled_out && q->cands[i].written > q->nearest_score) {
            q->nearest_score = q->cands[i].written;
            q->nearest_rowid = q->cands[i].rowid;
        }
    if (q->facts.mail_context == KB_CONTEXT_IS_UNKNOWN)
        kb_rank_drop_weak(q, UNKNOWN_CONTEXT_MIN_SCORE);
    /* Evidence from the articles' prose (harvested codes, full text) answers where no written
     * signature gives a likely answer; in a mail KB only text about mail. In a KB of other
     * documents, another program's error is answered when that program is the KB's subject
     * (a title or heading names it, or a tenth of its pages: a team's docs about its
     * PostgreSQL service), not when the KB only mentions it in passing. */
    struct kb_db *db = q->db;
    int prose_allowed = db->fulltext_needs_mail
                            ? q->facts.mail_context == KB_CONTEXT_IS_MAIL
                            : q->facts.mail_context != KB_CONTEXT_IS_OTHER
                                  || !q->facts.other_program
                                  || kb_fulltext_knows(q, q->facts.other_program);
    if (kb_rank_has_likely(q) || !prose_allowed)
        kb_rank_drop_prose(q);
    else if (regions != 1u << KB_REGION_DIAGNOSTIC && (st = kb_fulltext_run(q, top)) != KB_OK)
        return st;
    return KB_OK;
}

/* Appends the matches of more that r does not hold yet, up to top in all. */
static enum kb_status append_matches(struct kb_query *q, struct kb_result *r,
                                     struct kb_result *more, size_t top)
{
    if (r->match_count >= top || !more->match_count)
        return KB_OK;
    struct kb_match *v = realloc(r->matches, top * sizeof *v);
    if (!v)
        return kb_query_nomem(q);
    r->matches = v;
    for (size_t i = 0; i < more->match_count && r->match_count < top; i++) {
        int held = 0;
        for (size_t k = 0; k < r->match_count && !held; k++)
            held = strcmp(r->matches[k].entry->id, more->matches[i].entry->id) == 0;
        if (held)
            continue;
        r->matches[r->match_count++] = more->matches[i];
        memset(&more->matches[i], 0, sizeof more->matches[i]);
    }
    return KB_OK;
}

/* The answer for the current group into r. In a report the diagnostic (the failure as the
 * remote server worded it) is read first: when it alone gives a likely answer, that answer
 * leads, and the explanation around it (help links, the reporting MTA's own summary, a
 * status it made up) cannot outvote it; what the whole report suggests follows it. Otherwise
 * the diagnostic and the explanation are read together, as any text. */
static enum kb_status answer(struct kb_query *q, size_t top, struct kb_result *r)
{
    enum kb_status st;
    if (q->report->format && has_diagnostic(q)) {
        if ((st = read_evidence(q, 1u << KB_REGION_DIAGNOSTIC, top)) != KB_OK)
            return st;
        if (kb_rank_has_likely(q)) {
            struct kb_result *more = NULL;
            if ((st = kb_rank_result(q, top, r)) != KB_OK || r->match_count >= top)
                return st;
            if (!(more = calloc(1, sizeof *more)))
                return kb_query_nomem(q);
            if ((st = read_evidence(q, KB_REGIONS_EVIDENCE, top)) == KB_OK
                && (st = kb_rank_result(q, top, more)) == KB_OK)
                st = append_matches(q, r, more, top);
            kb_result_free(more);
            return st;
        }
    }
    if ((st = read_evidence(q, KB_REGIONS_EVIDENCE, top)) != KB_OK)
        return st;
    return kb_rank_result(q, top, r);
}

/* At most this many different failures in one report are answered one by one; a report of
 * more is answered as a whole. */
#define MAX_GROUPS 8

static int is_done_action(const char *a)
{
    return a
           && (strncmp(a, "delivered", 9) == 0 || strncmp(a, "relayed", 7) == 0
               || strncmp(a, "expanded", 8) == 0);
}

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcasecmp(a, b) == 0);
}

/* The words of a diagnostic, without the addresses in it ("This user doesn't have an account
 * (x@example.com)" is one failure for every x), caseless, white space collapsed. */
static int same_failure(const char *a, const char *b)
{
    if (!a || !b)
        return !a && !b;
    for (;;) {
        while (*a == ' ' || *a == '\t')
            a++;
        while (*b == ' ' || *b == '\t')
            b++;
        /* an address: skip its run of non-space bytes on both sides */
        const char *ea = a, *eb = b;
        while (*ea && *ea != ' ' && *ea != '\t' && *ea != '@')
            ea++;
        while (*eb && *eb != ' ' && *eb != '\t' && *eb != '@')
            eb++;
        if (*ea == '@' && *eb == '@') {
            while (*a && *a != ' ' && *a != '\t')
                a++;
            while (*b && *b != ' ' && *b != '\t')
                b++;
            continue;
        }
        if (!*a || !*b)
            return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
        int space = a[1] == ' ' || a[1] == '\t';
        a++;
        b++;
        if (space != (*b == ' ' || *b == '\t'))
            return 0;
    }
}

/* Groups the report's failed recipients by their failure (status and diagnostic): each group
 * is answered on its own. Returns the number of groups; recipients that did not fail are in
 * none (-1). */
static enum kb_status group_recipients(struct kb_query *q, size_t *groups)
{
    const struct kb_report *rep = q->report;
    *groups = 0;
    if (!rep->recipient_count)
        return KB_OK;
    if (!(q->group_of = malloc(rep->recipient_count * sizeof *q->group_of)))
        return kb_query_nomem(q);
    for (size_t k = 0; k < rep->recipient_count; k++) {
        const struct kb_recipient *p = &rep->recipients[k];
        q->group_of[k] = -1;
        if (is_done_action(p->action))
            continue;
        for (size_t j = 0; j < k && q->group_of[k] < 0; j++)
            if (q->group_of[j] >= 0 && same_text(p->status, rep->recipients[j].status)
                && same_failure(p->diagnostic, rep->recipients[j].diagnostic))
                q->group_of[k] = q->group_of[j];
        if (q->group_of[k] < 0)
            q->group_of[k] = (int)(*groups)++;
    }
    return KB_OK;
}

/* The addresses of group g, ", "-separated; NULL when none is known (or out of memory). */
static char *group_addresses(const struct kb_query *q, int g)
{
    struct kb_buf b;
    kb_buf_init(&b, 0);
    for (size_t k = 0; k < q->report->recipient_count; k++) {
        const char *a = q->report->recipients[k].address;
        if (q->group_of[k] != g || !a)
            continue;
        if ((b.len && kb_buf_append_str(&b, ", ") != KB_OK) || kb_buf_append_str(&b, a) != KB_OK)
            break;
    }
    char *out = NULL;
    if (b.len)
        kb_buf_detach(&b, &out);
    kb_buf_release(&b);
    return out;
}

/* Takes match m of a group's answer into r, naming the group's recipients. */
static enum kb_status take_match(struct kb_query *q, int g, struct kb_match *m, struct kb_result *r)
{
    m->recipient = group_addresses(q, g);
    r->matches[r->match_count++] = *m;
    memset(m, 0, sizeof *m);
    return KB_OK;
}

/* A report of several different failures: each group of recipients read on its own, its
 * best answer first (an answer shared by several groups names them all), then the runners-up
 * in turn, at most top in all. */
static enum kb_status answer_per_recipient(struct kb_query *q, size_t groups, size_t top,
                                           struct kb_result *r)
{
    struct kb_result *answers[MAX_GROUPS] = {0};
    enum kb_status st = KB_OK;
    for (size_t g = 0; g < groups && st == KB_OK; g++) {
        q->group = (int)g;
        if (!(answers[g] = calloc(1, sizeof *answers[g])))
            st = kb_query_nomem(q);
        else
            st = answer(q, top, answers[g]);
    }
    if (st == KB_OK && !(r->matches = calloc(top, sizeof *r->matches)))
        st = kb_query_nomem(q);
    for (size_t rank = 0; st == KB_OK && rank < top; rank++) {
        for (size_t g = 0; g < groups && r->match_count < top; g++) {
            if (rank >= answers[g]->match_count)
                continue;
            struct kb_match *m = &answers[g]->matches[rank];
            struct kb_match *same = NULL;
            for (size_t k = 0; k < r->match_count && !same; k++)
                if (strcmp(r->matches[k].entry->id, m->entry->id) == 0)
                    same = &r->matches[k];
            if (!same) {
                st = take_match(q, (int)g, m, r);
            } else if (rank == 0 && same->recipient) {
                /* the same answer for another group's failure: it names both */
                char *more = group_addresses(q, (int)g);
                char *both = more ? kb_format("%s, %s", same->recipient, more) : NULL;
                if (both) {
                    free(same->recipient);
                    same->recipient = both;
                }
                free(more);
            }
        }
    }
    for (size_t g = 0; g < groups; g++)
        kb_result_free(answers[g]);
    q->group = -1;
    return st;
}

/* No delivery report, but the application's own SMTP client reports a failure reply: the
 * submission leg failed. */
static void note_submission(struct kb_result *r, const struct kb_facts *f,
                            const struct kb_clients *clients)
{
    if (r->report.format || !f->client || f->reply_code < 400
        || kb_clients_role(clients, f->client) == KB_CLIENT_MAIL_SERVER)
        return;
    r->report.format = "session";
    r->report.leg = "submission";
}

/* The id and title of the nearest entry a no-match names (kb.h). */
static enum kb_status load_nearest(struct kb_query *q, struct kb_result *r)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->db->sql, "SELECT slug, title FROM entry WHERE id = ?1", -1, &st, NULL)
        != SQLITE_OK)
        return kb_fail_sql(q->db, q->err, "cannot read an entry");
    sqlite3_bind_int64(st, 1, q->nearest_rowid);
    enum kb_status status = KB_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *title = (const char *)sqlite3_column_text(st, 1);
        r->nearest_id = strdup(id ? id : "");
        r->nearest_title = strdup(title ? title : "");
        r->nearest_score = q->nearest_score;
        if (!r->nearest_id || !r->nearest_title)
            status = kb_query_nomem(q);
    } else if (rc != SQLITE_DONE) {
        status = kb_fail_sql(q->db, q->err, "cannot read an entry");
    }
    sqlite3_finalize(st);
    return status;
}

static enum kb_status query_run(struct kb_db *db, const char *text, size_t len,
                                const struct kb_query_options *options, struct kb_result **out,
                                struct kb_error *err, struct kb_work *work)
{
    size_t top = options && options->top ? options->top : KB_DEFAULT_TOP;
    size_t max_input = options && options->max_input ? options->max_input : DEFAULT_MAX_INPUT;
    if (max_input > KB_TEXT_MAX) /* the stages' offsets are 32-bit */
        max_input = KB_TEXT_MAX;
    *out = NULL;
    *work = (struct kb_work){0, 0, 0, 0};
    if (len > max_input)
        return kb_fail(err, KB_ERR_TOO_LARGE, "input is %zu bytes, over the limit of %zu bytes",
                       len, max_input);
    struct kb_query q = {.db = db, .options = options, .err = err, .group = -1};
    struct kb_result *r = calloc(1, sizeof *r);
    enum kb_status st = KB_OK;
    q.mctx = pcre2_match_context_create(NULL);
    q.mdata = pcre2_match_data_create(32, NULL);
    if (!r || !q.mctx || !q.mdata) {
        st = kb_query_nomem(&q);
        goto done;
    }
    q.report = &r->report;
    r->kb_about_mail = db->fulltext_needs_mail;
    /* No signature may take long on any input: PCRE2 gives up instead, and the signature then
     * simply does not count. */
    pcre2_set_match_limit(q.mctx, 5000000);
    pcre2_set_depth_limit(q.mctx, 5000);
    pcre2_set_heap_limit(q.mctx, 20000);

    if ((st = kb_bounce_read(text, len, &r->report, &q.bounce)) != KB_OK
        || (st = kb_norm_run_lines(q.bounce.mime.text, q.bounce.mime.len, q.bounce.mime.line_start,
                                   q.bounce.mime.line_count, &q.norm))
               != KB_OK
        || (st = kb_dialogue_read(&q.norm, &r->dialogue)) != KB_OK
        || (st = read_regions(&q, KB_REGIONS_EVIDENCE)) != KB_OK) {
        if (st == KB_ERR_NOMEM)
            kb_query_nomem(&q);
        goto done;
    }
    /* facts come from what evidence comes from: a returned original's Received: lines name
     * its sender's hosts, not the customer's server */
    struct kb_norm view = q.norm;
    view.text = (char *)q.evidence_text;
    struct kb_fact_lines lines;
    if ((st = kb_facts_extract_lines(&view, &db->providers, db->clients_used, &db->regex_cache,
                                     &q.facts, &lines))
        != KB_OK) {
        kb_query_nomem(&q);
        goto done;
    }
    r->value_lines.host = lines.host ? kb_query_input_line(&q, lines.host - 1) : 0;
    r->value_lines.port = lines.port ? kb_query_input_line(&q, lines.port - 1) : 0;
    r->value_lines.user = lines.user ? kb_query_input_line(&q, lines.user - 1) : 0;
    /* a delivery report is about mail whatever its words: its own headers, which say so, are
     * set apart from the evidence */
    if (r->report.format)
        q.facts.mail_context = KB_CONTEXT_IS_MAIL;
    r->input_lines = q.bounce.mime.input_lines;
    r->input_binary = q.norm.binary;
    kb_language_guess(view.text, view.len, &r->language, &r->language_name);
    note_submission(r, &q.facts, db->clients_used);
    struct kb_condition_facts what = {&q.facts, &r->dialogue, &r->report, NULL};
    q.what = &what;
    if (r->report.not_failure) {
        st = kb_rank_result(&q, top, r); /* an automatic reply, a delivery notice...: no fix */
        goto done;
    }
    size_t groups = 0;
    if ((st = group_recipients(&q, &groups)) != KB_OK)
        goto done;
    if (groups >= 2 && groups <= MAX_GROUPS) {
        st = answer_per_recipient(&q, groups, top, r);
        goto done;
    }
    /* one failure (other recipients delivered, or several with the same failure): read apart
     * from the recipients that did not fail */
    q.group = groups == 1 ? 0 : -1;
    st = answer(&q, top, r);
done:
    if (r) {
        r->facts = q.facts;
        q.facts = (struct kb_facts){0};
    }
    /* what the KB declares of the provider seen: its name and submission server */
    if (st == KB_OK)
        st = kb_provider_load(db, r->facts.provider, &r->provider, err);
    if (st == KB_OK && r->match_count == 0 && !r->report.not_failure && q.nearest_rowid)
        st = load_nearest(&q, r);
    for (size_t i = 0; i < q.cand_count; i++)
        kb_candidate_release(&q.cands[i]);
    free(q.cands);
    kb_norm_release(&q.norm);
    kb_bounce_release(&q.bounce);
    kb_facts_release(&q.facts);
    for (size_t k = 0; k < q.view_count; k++)
        free(q.views[k].text);
    free(q.views);
    free(q.group_of);
    pcre2_match_context_free(q.mctx);
    pcre2_match_data_free(q.mdata);
    kb_other_program_free(q.other);
    free(q.other_lines);
    *work = q.work;
    db->regex_cache.warm = 1;
    if (st != KB_OK) {
        kb_result_free(r);
        return st;
    }
    *out = r;
    return KB_OK;
}

enum kb_status kb_query_run_one(struct kb_db *db, const char *text, size_t len,
                                const struct kb_query_options *options, struct kb_result **out,
                                struct kb_error *err, struct kb_work *work)
{
    return query_run(db, text, len, options, out, err, work);
}

enum kb_status kb_query_run(struct kb_db *db, const char *text, size_t len,
                            const struct kb_query_options *options, struct kb_result **out,
                            struct kb_error *err)
{
    struct kb_work work;
    return kb_query_run_counted(db, text, len, options, out, err, &work);
}

enum kb_status kb_query_run_counted(struct kb_db *db, const char *text, size_t len,
                                    const struct kb_query_options *options, struct kb_result **out,
                                    struct kb_error *err, struct kb_work *work)
{
    /* a KB of one layer (the shipped one alone) takes exactly the path it always took */
    if (db->above_count)
        return kb_layers_query(db, text, len, options, out, err, work);
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
