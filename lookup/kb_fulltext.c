/*
 * kb_fulltext.c - evidence from the full-text index: FTS5 BM25 over a few of the rarest
 * terms of the text that the KB knows (never FTS5 syntax: every term is quoted), with stack
 * frames and settings lines left out. It answers where no signature gives a likely answer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kb_query.h"

/* How many of the text's rarest known terms make the query, and how many distinct words of a
 * huge log are looked up at most. */
#define FTS_TERMS 32
#define FTS_MAX_DISTINCT 2000
/* 2 x ln(20): what two terms each found in one entry of twenty tell (in a KB of fewer than
 * twenty entries, what two terms found in one entry tell). */
#define FTS_MIN_IDF 6.0

struct u64s {
    uint64_t *v;
    size_t n, alloc;
};

static int collect_hash(uint64_t hash, void *arg)
{
    struct u64s *a = arg;
    if (kb_grow((void **)&a->v, &a->alloc, a->n + 1, sizeof *a->v))
        return -1;
    a->v[a->n++] = hash;
    return 0;
}

struct term {
    char *text;
    long df;
    size_t first; /* order of appearance, for stable ties */
};

static int is_term_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

static int useful_term(const char *t, size_t len)
{
    /* English glue, and the boilerplate of stack traces that KB examples share with every
     * other program's traceback */
    static const char *const stop[] = {
        "the",       "and",       "for",    "you",    "your",  "this",         "that",
        "with",      "are",       "was",    "not",    "but",   "have",         "has",
        "from",      "use",       "can",    "please", "more",  "information",  "error",
        "were",      "traceback", "recent", "call",   "last",  "most",         "file",
        "line",      "lib",       "usr",    "local",  "site",  "packages",     "python",
        "module",    "self",      "raise",  "return", "frame", "frames",       "additional",
        "displayed", "java",      "lang",   "org",    "com",   "sun",          "reflect",
        "invoke",    "native",    "method", "thread", "main",  "node_modules", "dist",
        "src",       "app",       "var",    "www",    "html",  "index"};
    if (len < 3 || len > 40)
        return 0;
    size_t digits = 0, alpha = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] >= '0' && t[i] <= '9')
            digits++;
        else if (t[i] != '_')
            alpha++;
    }
    if (digits == len)
        return len == 3 && t[0] >= '2' && t[0] <= '5'; /* reply codes, not numbers */
    if (digits && alpha && len >= 10)
        return 0; /* ids, hashes, queue ids */
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
        if (stop[i][0] == t[0] && strncmp(stop[i], t, len) == 0 && !stop[i][len])
            return 0;
    return 1;
}

static int cmp_term(const void *a, const void *b)
{
    const struct term *x = a, *y = b;
    if (x->df != y->df)
        return x->df < y->df ? -1 : 1;
    return (x->first > y->first) - (x->first < y->first);
}

static void terms_free(struct term *terms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(terms[i].text);
    free(terms);
}

/* The distinct useful words of the text that the KB knows, rarest first. */
static enum kb_status fts_terms(struct kb_query *q, const char *text, size_t len, struct term **out,
                                size_t *count)
{
    struct term *terms = NULL;
    size_t n = 0, alloc = 0, looked_up = 0;
    struct u64s seen = {0};
    enum kb_status status = KB_OK;
    for (size_t i = 0; i < len && looked_up < FTS_MAX_DISTINCT;) {
        if (!is_term_char((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t s = i;
        while (i < len && is_term_char((unsigned char)text[i]))
            i++;
        if (!useful_term(text + s, i - s))
            continue;
        uint64_t h = kb_token_hash(text + s, i - s);
        int dup = 0;
        for (size_t k = 0; k < seen.n && !dup; k++)
            dup = seen.v[k] == h;
        if (dup)
            continue;
        if (collect_hash(h, &seen)) {
            status = kb_query_nomem(q);
            break;
        }
        looked_up++;
        sqlite3_stmt *st = q->db->term_df;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, text + s, (int)(i - s), SQLITE_STATIC);
        int rc = sqlite3_step(st);
        long df = rc == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            status = kb_fail_sql(q->db, q->err, "cannot read term statistics");
            break;
        }
        if (df <= 0)
            continue; /* words the KB has never seen say nothing about its entries */
        if (kb_grow((void **)&terms, &alloc, n + 1, sizeof *terms)
            || !(terms[n].text = kb_strndup(text + s, i - s))) {
            status = kb_query_nomem(q);
            break;
        }
        terms[n].df = df;
        terms[n].first = n;
        n++;
    }
    free(seen.v);
    if (status != KB_OK) {
        terms_free(terms, n);
        return status;
    }
    if (n)
        qsort(terms, n, sizeof *terms, cmp_term);
    *out = terms;
    *count = n;
    return KB_OK;
}

/* Is this line a stack frame ("at Foo.bar(Foo.java:12)", 'File "x.py", line 3', "#2 /x.php")?
 * Frames name the program's own code: they match nothing in the KB but the frames of other
 * examples, so they are kept out of full-text queries. */
static int is_stack_frame(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    if (n >= 3 && memcmp(s, "at ", 3) == 0)
        return memchr(s, '(', n) != NULL || memchr(s, '/', n) != NULL || memchr(s, '\\', n) != NULL;
    if (n >= 6 && memcmp(s, "File \"", 6) == 0)
        return 1;
    if (n >= 2 && s[0] == '#' && s[1] >= '0' && s[1] <= '9')
        return 1;
    if (n >= 9 && memcmp(s, "Traceback", 9) == 0)
        return 1;
    return n >= 4 && memcmp(s, "... ", 4) == 0 && n < 24;
}

/* Is this line a setting ("MAIL_HOST=smtp.example.com", an .env or shell assignment)?
 * Pasted configuration says what was set up, not what went wrong. */
static int is_setting(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
        i++;
    return i >= 2 && i < n && s[i] == '=' && s[0] >= 'A' && s[0] <= 'Z';
}

/* Blanks the lines of the prepared copy of the normalised text (same offsets) that are not
 * error text: stack frames and settings. */
static void blank_non_error_lines(const struct kb_norm *norm, char *prepared)
{
    for (size_t i = 0; i < norm->line_count; i++) {
        size_t s = norm->line_start[i];
        size_t e = i + 1 < norm->line_count ? norm->line_start[i + 1] - 1 : norm->len;
        if (is_stack_frame(norm->text + s, e - s) || is_setting(norm->text + s, e - s))
            memset(prepared + s, ' ', e - s);
    }
}

/* The first normalised line holding term as a whole word of the prepared text. */
static int line_with_term(const char *text, size_t len, const char *term, size_t *off)
{
    size_t tl = strlen(term);
    for (const char *p = text; (size_t)(p - text) + tl <= len;) {
        const char *hit = strstr(p, term);
        if (!hit)
            return 0;
        size_t at = (size_t)(hit - text);
        if ((at == 0 || !is_term_char((unsigned char)text[at - 1]))
            && (at + tl == len || !is_term_char((unsigned char)text[at + tl]))) {
            *off = at;
            return 1;
        }
        p = hit + 1;
    }
    return 0;
}

/* Is a full-text result worth reporting? It needs several of the rarest words of the text to
 * agree, and specific ones among them: common words ("failed", "send", "because") shared with
 * many entries say nothing about which one applies, and one rare word alone ("chain" from a
 * stack trace) is a coincidence unless a larger set agrees with it. In a KB whose signatures
 * describe the errors (a mail KB), text that no signature knows is rarely about any of its
 * entries: measured on 405 real pastes, the looser rule answered 1 correctly and 4 wrongly
 * (3 of them on other programs' errors), so there the bar is higher. */
static int fulltext_evidence_enough(const struct kb_db *db, size_t matched, size_t specific,
                                    double coverage, double idf)
{
    if (db->fulltext_needs_mail)
        return specific >= 3 && coverage >= 0.6;
    /* In a KB of ordinary documents the bar is information, not a count: the matched terms'
     * inverse document frequencies must add up to that of two terms each on one page in
     * twenty. That holds for a KB of fifty pages as for one of seven thousand. */
    double entries = db->entry_count > 1 ? (double)db->entry_count : 2.0;
    double bar = 2 * log(entries) < FTS_MIN_IDF ? 2 * log(entries) : FTS_MIN_IDF;
    return matched >= 2 && coverage >= 0.3 && idf >= bar;
}

/* FTS5 auxiliary function kb_matched(entry_fts): a bit mask of the query's phrases that occur
 * in the current row (phrase i -> bit i, up to 64 phrases). It gives each result's coverage in
 * the same pass as BM25, instead of one more query per term and result. */
static void fts_matched_phrases(const Fts5ExtensionApi *api, Fts5Context *ctx, sqlite3_context *out,
                                int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_int64 mask = 0;
    int phrases = api->xPhraseCount(ctx);
    for (int i = 0; i < phrases && i < 63; i++) {
        Fts5PhraseIter iter;
        int column = -1, offset = -1;
        if (api->xPhraseFirst(ctx, i, &iter, &column, &offset) == SQLITE_OK && column >= 0)
            mask |= (sqlite3_int64)1 << i;
    }
    sqlite3_result_int64(out, mask);
}

/* Registers kb_matched on the connection once. */
static enum kb_status register_fts_function(struct kb_db *db, struct kb_error *err)
{
    if (db->fts_function_ready)
        return KB_OK;
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (!api || api->iVersion < 2
        || api->xCreateFunction(api, "kb_matched", NULL, fts_matched_phrases, NULL) != SQLITE_OK)
        return kb_fail(err, KB_ERR_DB, "this SQLite has no usable FTS5 module");
    db->fts_function_ready = 1;
    return KB_OK;
}

/* The full-text rows (sections) of one entry, merged: which query terms any of them holds,
 * and its best-ranked section. */
struct entry_rows {
    long long entry;
    long long section;
    double bm25;
    sqlite3_uint64 mask;
};

int kb_fulltext_knows(struct kb_query *q, const char *text)
{
    size_t i = 0, n = 0;
    while (text[i] && !is_term_char((unsigned char)(text[i] | 0x20)))
        i++;
    char word[41];
    while (text[i + n] && n < sizeof word - 1 && is_term_char((unsigned char)(text[i + n] | 0x20)))
        word[n] = (char)(text[i + n] | 0x20), n++;
    word[n] = '\0';
    if (n < 2)
        return 0;
    sqlite3_stmt *st = q->db->term_df;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, word, (int)n, SQLITE_STATIC);
    int known = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
    sqlite3_reset(st);
    return known;
}

/* Harvested evidence that full text may corroborate: an entry known only from its prose, by
 * more than the faint tie-breaking hints an entry with signatures of its own carries. */
#define CORROBORATE_MIN 0.3

static int corroborated(const struct kb_candidate *c)
{
    return c->written == 0 && c->harvested >= CORROBORATE_MIN;
}

/* Runs the full-text query and merges its rows per entry, best entry first; only among the
 * entries of the prose candidates found so far when among_candidates is set. */
static enum kb_status search_sections(struct kb_query *q, const char *query, size_t limit,
                                      int among_candidates, struct entry_rows **out, size_t *count)
{
    sqlite3_stmt *search = NULL;
    struct entry_rows *rows = NULL;
    size_t n = 0, alloc = 0;
    struct kb_buf sql;
    kb_buf_init(&sql, 0);
    /* Column weights: titles, then the section's heading, then code and quoted text, then
     * prose; an entry's own examples and signatures count as code. */
    enum kb_status status = kb_buf_append_str(
        &sql, "SELECT s.entry_id, f.rowid, bm25(entry_fts, 4.0, 3.0, 2.0, 1.0, 2.0, 2.0) AS r, "
              "kb_matched(entry_fts) FROM entry_fts f JOIN section s ON s.id = f.rowid "
              "WHERE entry_fts MATCH ?1");
    if (among_candidates) {
        const char *sep = " AND s.entry_id IN (";
        for (size_t i = 0; i < q->cand_count && status == KB_OK; i++)
            if (corroborated(&q->cands[i])) {
                status = kb_buf_printf(&sql, "%s%lld", sep, q->cands[i].rowid);
                sep = ",";
            }
        if (status == KB_OK)
            status = kb_buf_append_str(&sql, ")");
    }
    if (status == KB_OK)
        status = kb_buf_append_str(&sql, " ORDER BY r LIMIT ?2");
    if (status != KB_OK) {
        kb_buf_release(&sql);
        return kb_query_nomem(q);
    }
    int prepared = sqlite3_prepare_v2(q->db->sql, sql.data, -1, &search, NULL);
    kb_buf_release(&sql);
    if (prepared != SQLITE_OK)
        return kb_fail_sql(q->db, q->err, "cannot search the full-text index");
    sqlite3_bind_text(search, 1, query, -1, SQLITE_STATIC);
    sqlite3_bind_int64(search, 2, (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(search)) == SQLITE_ROW) {
        long long entry = sqlite3_column_int64(search, 0);
        sqlite3_uint64 mask = (sqlite3_uint64)sqlite3_column_int64(search, 3);
        size_t i = 0;
        while (i < n && rows[i].entry != entry)
            i++;
        if (i < n) {
            rows[i].mask |= mask;
            continue;
        }
        if (kb_grow((void **)&rows, &alloc, n + 1, sizeof *rows)) {
            status = kb_query_nomem(q);
            break;
        }
        rows[n++] = (struct entry_rows){entry, sqlite3_column_int64(search, 1),
                                        sqlite3_column_double(search, 2), mask};
    }
    if (status == KB_OK && rc != SQLITE_DONE)
        status = kb_fail_sql(q->db, q->err, "cannot search the full-text index");
    sqlite3_finalize(search);
    if (status != KB_OK) {
        free(rows);
        return status;
    }
    *out = rows;
    *count = n;
    return KB_OK;
}

/* Adds the full-text evidence of the merged rows to the candidates. corroborate: the rows are
 * of entries already found by harvested evidence, which any agreeing term supports; otherwise
 * a row must pass fulltext_evidence_enough to make a candidate of its own. */
static enum kb_status apply_rows(struct kb_query *q, const struct entry_rows *rows, size_t nrows,
                                 const struct term *terms, size_t used,
                                 const struct kb_buf *prepared, int corroborate)
{
    long specific_df = q->db->entry_count / 20 > 1 ? q->db->entry_count / 20 : 1;
    double entries = q->db->entry_count > 1 ? (double)q->db->entry_count : 2.0;
    double idf_used = 0;
    for (size_t i = 0; i < used; i++)
        idf_used += log(entries / (double)terms[i].df);
    enum kb_status status = KB_OK;
    /* where each term is in the text, found once (SIZE_MAX: not yet, SIZE_MAX - 1: nowhere):
     * a term that is only ever part of longer words made each row read the whole text */
    size_t where[FTS_TERMS];
    for (size_t i = 0; i < FTS_TERMS; i++)
        where[i] = SIZE_MAX;
    for (size_t r = 0; r < nrows && status == KB_OK; r++) {
        size_t matched = 0, specific = 0;
        double idf = 0;
        struct kb_buf which;
        kb_buf_init(&which, 0);
        size_t lines[3];
        size_t nlines = 0;
        for (size_t i = 0; i < used; i++) {
            if (rows[r].mask & ((sqlite3_uint64)1 << i)) {
                matched++;
                specific += terms[i].df <= specific_df;
                idf += log(entries / (double)terms[i].df);
                kb_buf_printf(&which, "%s%s", which.len ? " " : "", terms[i].text);
                if (nlines < 3 && i < FTS_TERMS && where[i] == SIZE_MAX
                    && !line_with_term(prepared->data, prepared->len, terms[i].text, &where[i]))
                    where[i] = SIZE_MAX - 1;
                if (nlines < 3 && i < FTS_TERMS && where[i] != SIZE_MAX - 1)
                    lines[nlines++] = kb_norm_line_of(&q->norm, where[i]);
            }
        }
        double coverage = (double)matched / (double)used;
        /* A weak answer still needs several of the rarest words of the text to agree, and
         * specific ones among them: common words ("failed", "send", "because") shared with many
         * entries say nothing about which one applies, and one rare word alone ("chain" from a
         * stack trace) is a coincidence unless a larger set of terms agrees with it. */
        struct kb_candidate *c = NULL;
        if ((corroborate ? matched > 0
                         : fulltext_evidence_enough(q->db, matched, specific, coverage, idf))
            && !(c = kb_candidate_for(q, rows[r].entry, KB_VIA_FULLTEXT)))
            status = kb_query_nomem(q);
        /* an entry that written signatures found keeps their score; full text adds to
         * entries known only from their prose */
        if (c && c->written == 0 && !c->fts_explain) {
            /* points are given when every row is known (kb_fulltext_run): relative BM25 */
            c->bm25 = rows[r].bm25;
            if (!c->section_id)
                c->section_id = rows[r].section;
            c->fts_explain =
                kb_format("full-text: %zu of %zu rarest known terms matched "
                          "(%s); information %.1f of %.1f; bm25 %.2f",
                          matched, used, which.data ? which.data : "", idf, idf_used, rows[r].bm25);
            for (size_t k = 0; k < nlines; k++)
                if (!kb_grow((void **)&c->lines, &c->line_alloc, c->line_count + 1,
                             sizeof *c->lines))
                    c->lines[c->line_count++] = lines[k];
        }
        kb_buf_release(&which);
    }
    return status;
}

enum kb_status kb_fulltext_run(struct kb_query *q, size_t want)
{
    struct kb_buf prepared, query;
    kb_buf_init(&prepared, 0);
    kb_buf_init(&query, 0);
    struct term *terms = NULL;
    struct entry_rows *rows = NULL;
    size_t nterms = 0, nrows = 0;
    enum kb_status status = kb_fts_prepare(q->evidence_text, q->norm.len, &prepared);
    if (status != KB_OK)
        goto done;
    for (size_t i = 0; i < prepared.len; i++)
        if (prepared.data[i] >= 'A' && prepared.data[i] <= 'Z')
            prepared.data[i] = (char)(prepared.data[i] + 32);
    blank_non_error_lines(&q->norm, prepared.data);
    if ((status = fts_terms(q, prepared.data, prepared.len, &terms, &nterms)) != KB_OK)
        goto done;
    /* Specific: in at most 5% of the entries (at least one, of course). Common: in more than
     * 10% (and 50) of them; such a term adds little to BM25 and makes it score thousands of
     * rows of a large KB, so it is left out of the query. */
    long common_df = q->db->entry_count / 10 > 50 ? q->db->entry_count / 10 : 50;
    size_t used = 0;
    while (used < nterms && used < FTS_TERMS && terms[used].df <= common_df)
        used++;
    if (used < 2)
        goto done; /* one shared word is not evidence */
    if ((status = register_fts_function(q->db, q->err)) != KB_OK)
        goto done;
    for (size_t i = 0; i < used && status == KB_OK; i++)
        status = kb_buf_printf(&query, "%s\"%s\"", i ? " OR " : "", terms[i].text);
    if (status != KB_OK)
        goto done;
    /* Entries found by harvested evidence: full text corroborates them, however few terms
     * agree. Then every entry: full text alone must pass its bar. */
    size_t prose = 0;
    for (size_t i = 0; i < q->cand_count; i++)
        prose += corroborated(&q->cands[i]);
    for (int pass = prose ? 0 : 1; pass < 2 && status == KB_OK; pass++) {
        free(rows);
        rows = NULL;
        nrows = 0;
        /* several sections of one entry may rank: fetch enough rows for want entries */
        size_t limit = pass == 0 ? prose * 8 : want * 8;
        if ((status = search_sections(q, query.data, limit, pass == 0, &rows, &nrows)) == KB_OK)
            status = apply_rows(q, rows, nrows, terms, used, &prepared, pass == 0);
    }
    /* Full-text points: BM25 relative to the best section found (term frequency and length
     * weigh in, so a page about the problem outranks one that mentions its words once). */
    double best = 0;
    for (size_t i = 0; i < q->cand_count; i++)
        if (q->cands[i].fts_explain && q->cands[i].bm25 < best)
            best = q->cands[i].bm25;
    for (size_t i = 0; i < q->cand_count && best < 0; i++) {
        struct kb_candidate *c = &q->cands[i];
        if (c->fts_explain && c->written == 0 && c->fulltext == 0) {
            c->fulltext = FTS_POINTS * (c->bm25 / best);
            c->score += c->fulltext;
        }
    }
done:
    free(rows);
    terms_free(terms, nterms);
    kb_buf_release(&prepared);
    kb_buf_release(&query);
    return status;
}
