/*
 * kb_query.c - the matching engine: one pasted text in, ranked entries out.
 *
 * Cost must not grow with the size of the KB: the pasted text is cut into prefilter tokens,
 * their hashes are merge-joined with the sorted anchor index, and only the signatures whose
 * anchor occurs in the text are compiled and run (under PCRE2 match and depth limits, so no
 * signature and no input can hang a lookup). Full-text search (FTS5 BM25 over a few of the
 * rarest known terms of the text) is the fallback when no signature gives a likely answer.
 */
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_internal.h"

#define DEFAULT_TOP 3
#define DEFAULT_MAX_INPUT ((size_t)16 << 20)
#define MAX_EVIDENCE 5
#define MAX_EVIDENCE_BYTES 400
#define MAX_CAPTURE_BYTES 200
/* Above this size a candidate regex is JIT-compiled: compiling costs more than it saves on
 * short pastes, and saves a lot on whole logs. */
#define JIT_THRESHOLD (64 * 1024)
/* Full-text fallback: how many of the text's rarest known terms make the query, and how many
 * distinct words of a huge log are looked up at most. */
#define FTS_TERMS 10
/* In a text that shows no sign of being about mail, a few faint hints (a lone "timed out")
 * are not an answer: below this score nothing is reported. */
#define UNKNOWN_CONTEXT_MIN_SCORE 1.0
#define FTS_MAX_DISTINCT 2000

/* ---- small growable arrays --------------------------------------------------------------- */

static int grow(void **v, size_t *alloc, size_t need, size_t size)
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

struct u64s {
    uint64_t *v;
    size_t n, alloc;
};

static int collect_hash(uint64_t hash, void *arg)
{
    struct u64s *a = arg;
    if (grow((void **)&a->v, &a->alloc, a->n + 1, sizeof *a->v))
        return -1;
    a->v[a->n++] = hash;
    return 0;
}

/* ---- per-query state --------------------------------------------------------------------- */

struct hit {
    size_t line;  /* normalised line of the match */
    char *source; /* signature as written */
    char *explain;
    double weight;
};

struct candidate {
    long long rowid;
    double score;
    double best_weight;
    int provider_match; /* the entry's provider facet names the provider seen in the text */
    double bm25;        /* full-text rank (lower is better), for ties in coverage */
    enum kb_via via;
    struct hit *hits;
    size_t hit_count, hit_alloc;
    struct kb_pair *captures;
    size_t capture_count, capture_alloc;
    size_t *lines; /* normalised lines for evidence (full-text matches) */
    size_t line_count, line_alloc;
    char *fts_explain;
};

struct query {
    struct kb_db *db;
    const struct kb_query_options *options;
    struct kb_norm norm;
    struct kb_facts facts;
    struct candidate *cands;
    size_t cand_count, cand_alloc;
    pcre2_match_context *mctx;
    pcre2_match_data *mdata;
    pcre2_code *other_re; /* kb_facts_other_program_code, compiled when first needed */
    struct kb_error *err;
};

static void candidate_release(struct candidate *c)
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

static struct candidate *candidate_for(struct query *q, long long rowid, enum kb_via via)
{
    for (size_t i = 0; i < q->cand_count; i++)
        if (q->cands[i].rowid == rowid)
            return &q->cands[i];
    if (grow((void **)&q->cands, &q->cand_alloc, q->cand_count + 1, sizeof *q->cands))
        return NULL;
    struct candidate *c = &q->cands[q->cand_count++];
    memset(c, 0, sizeof *c);
    c->rowid = rowid;
    c->via = via;
    return c;
}

static enum kb_status nomem(struct query *q)
{
    return kb_fail(q->err, KB_ERR_NOMEM, "out of memory");
}

/* printf into a new heap string; NULL when out of memory. */
static char *format_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format_text(const char *fmt, ...)
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

static char *dup_range(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* ---- signatures -------------------------------------------------------------------------- */

/* The prefilter: an open-addressing table over the anchor index, probed with the hash of
 * every token of the text as the tokenizer emits it. Nothing is sorted or stored per token that
 * is not an anchor, so a 1 MB log costs one pass. Where an anchor occurs is remembered: a
 * signature then runs only on the lines around its anchor, not over the whole log.
 */
struct occurrence {
    uint32_t run;  /* index of the first anchor of the hash run */
    uint32_t line; /* normalised line of the token */
};

struct probe {
    const struct kb_anchor *anchors;
    size_t anchor_count;
    const struct kb_norm *norm;
    uint32_t *slots; /* 1 + index of the first anchor of a hash run; 0 = empty */
    size_t mask;
    struct occurrence *occ;
    size_t occ_count, occ_alloc;
};

static size_t slot_of(uint64_t hash, size_t mask)
{
    return (size_t)(hash ^ (hash >> 29) ^ (hash >> 47)) & mask;
}

static int probe_token(uint64_t hash, size_t offset, void *arg)
{
    struct probe *p = arg;
    for (size_t s = slot_of(hash, p->mask);; s = (s + 1) & p->mask) {
        uint32_t v = p->slots[s];
        if (!v)
            return 0;
        if (p->anchors[v - 1].hash != hash)
            continue;
        uint32_t line = (uint32_t)kb_norm_line_of(p->norm, offset);
        if (p->occ_count && p->occ[p->occ_count - 1].run == v - 1
            && p->occ[p->occ_count - 1].line == line)
            return 0; /* the same anchor again on the same line */
        if (grow((void **)&p->occ, &p->occ_alloc, p->occ_count + 1, sizeof *p->occ))
            return -1;
        p->occ[p->occ_count].run = v - 1;
        p->occ[p->occ_count].line = line;
        p->occ_count++;
        return 0;
    }
}

static int cmp_occurrence(const void *a, const void *b)
{
    const struct occurrence *x = a, *y = b;
    if (x->run != y->run)
        return x->run < y->run ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* Lines of context on each side of an anchor: a match contains its anchor and may reach
 * across a few lines (white space in a literal matches line breaks too). */
#define WINDOW_LINES 3

/* Text ranges to run a signature on: the lines around each occurrence of its anchor, merged. */
struct windows {
    size_t *start, *end;
    size_t count, alloc;
};

static int windows_add(struct windows *w, size_t start, size_t end)
{
    if (w->count && start <= w->end[w->count - 1]) {
        if (end > w->end[w->count - 1])
            w->end[w->count - 1] = end;
        return 0;
    }
    if (w->count == w->alloc) {
        size_t na = w->alloc ? w->alloc * 2 : 16;
        size_t *s = realloc(w->start, na * sizeof *s);
        if (!s)
            return -1;
        w->start = s;
        size_t *e = realloc(w->end, na * sizeof *e);
        if (!e)
            return -1;
        w->end = e;
        w->alloc = na;
    }
    w->start[w->count] = start;
    w->end[w->count] = end;
    w->count++;
    return 0;
}

static void windows_release(struct windows *w)
{
    free(w->start);
    free(w->end);
    memset(w, 0, sizeof *w);
}

static enum kb_status run_signature(struct query *q, uint32_t sig_id, const struct windows *w);
static enum kb_status run_unanchored(struct query *q, const struct windows *whole);

/* Runs every signature whose anchor occurs in the text (on the windows around it), then every
 * signature without anchor (on the whole text). */
static enum kb_status run_signatures(struct query *q)
{
    const struct kb_db *db = q->db;
    struct probe p = {.anchors = db->anchors, .anchor_count = db->anchor_count, .norm = &q->norm};
    struct windows w = {0};
    enum kb_status st = KB_OK;
    size_t size = 16;
    while (size < db->anchor_count * 2)
        size *= 2;
    p.mask = size - 1;
    p.slots = calloc(size, sizeof *p.slots);
    if (!p.slots)
        goto oom;
    for (size_t i = 0; i < db->anchor_count; i++) {
        if (i && db->anchors[i - 1].hash == db->anchors[i].hash)
            continue;
        size_t s = slot_of(db->anchors[i].hash, p.mask);
        while (p.slots[s])
            s = (s + 1) & p.mask;
        p.slots[s] = (uint32_t)i + 1;
    }
    if (kb_text_tokens(q->norm.text, q->norm.len, probe_token, &p))
        goto oom;
    if (p.occ_count)
        qsort(p.occ, p.occ_count, sizeof *p.occ, cmp_occurrence);
    for (size_t i = 0; i < p.occ_count && st == KB_OK;) {
        uint32_t run = p.occ[i].run;
        w.count = 0;
        for (; i < p.occ_count && p.occ[i].run == run; i++) {
            size_t line = p.occ[i].line;
            size_t first = line > WINDOW_LINES ? line - WINDOW_LINES : 0;
            size_t last = line + WINDOW_LINES + 1 < q->norm.line_count ? line + WINDOW_LINES + 1
                                                                       : q->norm.line_count;
            size_t end = last < q->norm.line_count ? q->norm.line_start[last] : q->norm.len;
            if (windows_add(&w, q->norm.line_start[first], end))
                goto oom;
        }
        for (size_t j = run;
             j < db->anchor_count && db->anchors[j].hash == db->anchors[run].hash && st == KB_OK;
             j++)
            st = run_signature(q, db->anchors[j].sig_id, &w);
    }
    struct windows whole = {0};
    if (st == KB_OK && db->always_count && windows_add(&whole, 0, q->norm.len))
        goto oom;
    if (st == KB_OK)
        st = run_unanchored(q, &whole);
    windows_release(&whole);
    windows_release(&w);
    free(p.slots);
    free(p.occ);
    return st;
oom:
    windows_release(&w);
    free(p.slots);
    free(p.occ);
    return nomem(q);
}

static enum kb_status add_capture(struct candidate *c, const char *name, const char *value,
                                  size_t len)
{
    for (size_t i = 0; i < c->capture_count; i++)
        if (strcmp(c->captures[i].name, name) == 0)
            return KB_OK; /* first signature to capture a name wins */
    if (grow((void **)&c->captures, &c->capture_alloc, c->capture_count + 1, sizeof *c->captures))
        return KB_ERR_NOMEM;
    struct kb_buf masked;
    kb_buf_init(&masked, 0);
    if (len > MAX_CAPTURE_BYTES)
        len = MAX_CAPTURE_BYTES;
    enum kb_status st = kb_mask_secrets(value, len, &masked);
    char *v = NULL, *n = NULL;
    if (st == KB_OK)
        st = kb_buf_detach(&masked, &v);
    kb_buf_release(&masked);
    if (st == KB_OK && !(n = strdup(name)))
        st = KB_ERR_NOMEM;
    if (st != KB_OK) {
        free(v);
        return st;
    }
    c->captures[c->capture_count].name = n;
    c->captures[c->capture_count].value = v;
    c->capture_count++;
    return KB_OK;
}

static enum kb_status record_captures(struct candidate *c, const pcre2_code *re,
                                      pcre2_match_data *md, const char *text)
{
    uint32_t count = 0, entry_size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count);
    if (!count)
        return KB_OK;
    pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t pairs = pcre2_get_ovector_count(md);
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * entry_size;
        uint32_t group = ((uint32_t)e[0] << 8) | e[1];
        if (group >= pairs || ov[2 * group] == PCRE2_UNSET || ov[2 * group + 1] <= ov[2 * group])
            continue;
        enum kb_status st = add_capture(c, (const char *)e + 2, text + ov[2 * group],
                                        ov[2 * group + 1] - ov[2 * group]);
        if (st != KB_OK)
            return st;
    }
    return KB_OK;
}

/* Matches a compiled signature against the windows; 1 on a match (q->mdata holds it), 0 when
 * none, or when PCRE2 gave up at a limit: a signature that cannot decide does not count. */
static int match_windows(struct query *q, pcre2_code *re, const struct windows *w)
{
    size_t span = 0;
    for (size_t i = 0; i < w->count; i++)
        span += w->end[i] - w->start[i];
    if (span > JIT_THRESHOLD)
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    /* Each window is matched as the text up to its end, from its start: \b, lookbehind and ^
     * still see the real neighbouring characters. */
    for (size_t i = 0; i < w->count; i++)
        if (pcre2_match(re, (PCRE2_SPTR)q->norm.text, w->end[i], w->start[i], 0, q->mdata, q->mctx)
            >= 0)
            return 1;
    return 0;
}

/* Columns of db->sig_by_id. */
enum { SIG_ENTRY, SIG_KIND, SIG_SOURCE, SIG_PATTERN, SIG_WEIGHT, SIG_CONTEXT, SIG_PATH, SIG_LINE };

/* Reads signature sig_id into db->sig_by_id; 1 when there is a row, 0 when not (a damaged
 * index pointing nowhere), -1 on a database error (reported). */
static int load_signature(struct query *q, uint32_t sig_id)
{
    sqlite3_stmt *st = q->db->sig_by_id;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, sig_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    kb_fail_sql(q->db, q->err, "cannot read a signature");
    return -1;
}

/* Does the text's context let this signature count, and with what weight? 0 when it may not. */
static double effective_weight(const struct query *q, sqlite3_stmt *st, int *halved)
{
    int context = sqlite3_column_int(st, SIG_CONTEXT);
    double weight = sqlite3_column_double(st, SIG_WEIGHT);
    *halved = 0;
    if ((context == KB_CONTEXT_MAIL && q->facts.mail_context == KB_CONTEXT_IS_OTHER)
        || (context == KB_CONTEXT_MAIL_ONLY && q->facts.mail_context != KB_CONTEXT_IS_MAIL))
        return 0;
    /* Generic text in a paste that shows no context at all is still a hint, a weaker one. */
    if (context == KB_CONTEXT_MAIL && q->facts.mail_context == KB_CONTEXT_IS_UNKNOWN) {
        *halved = 1;
        return weight / 2;
    }
    return weight;
}

/* In a text about mail, may the line at offset at still be another program's? A log of a
 * Laravel app shows MAIL_HOST settings next to "SQLSTATE[HY000] [2002] Connection refused":
 * generic signatures must not take that line for the mail server's refusal. */
static int line_is_other_program(struct query *q, size_t at)
{
    if (!q->other_re && !(q->other_re = kb_facts_other_program_code()))
        return 0;
    size_t line = kb_norm_line_of(&q->norm, at);
    size_t start = q->norm.line_start[line];
    size_t end = line + 1 < q->norm.line_count ? q->norm.line_start[line + 1] : q->norm.len;
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    int rc =
        md ? pcre2_match(q->other_re, (PCRE2_SPTR)q->norm.text, end, start, 0, md, q->mctx) : -1;
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* Adds the match at offset at of the signature loaded in db->sig_by_id to its entry; re (may
 * be NULL for a literal) and q->mdata give its captures. */
static enum kb_status record_hit(struct query *q, size_t at, const pcre2_code *re)
{
    sqlite3_stmt *st = q->db->sig_by_id;
    int halved;
    double weight = effective_weight(q, st, &halved);
    const char *source = (const char *)sqlite3_column_text(st, SIG_SOURCE);
    if (weight <= 0 || !source)
        return KB_OK;
    if (sqlite3_column_int(st, SIG_CONTEXT) != KB_CONTEXT_ANY
        && q->facts.mail_context == KB_CONTEXT_IS_MAIL && line_is_other_program(q, at))
        return KB_OK;
    const char *path = (const char *)sqlite3_column_text(st, SIG_PATH);
    int context = sqlite3_column_int(st, SIG_CONTEXT);
    struct candidate *c = candidate_for(q, sqlite3_column_int64(st, SIG_ENTRY), KB_VIA_SIGNATURE);
    if (!c || grow((void **)&c->hits, &c->hit_alloc, c->hit_count + 1, sizeof *c->hits))
        return nomem(q);
    struct hit *h = &c->hits[c->hit_count];
    h->line = kb_norm_line_of(&q->norm, at);
    h->weight = weight;
    h->source = strdup(source);
    h->explain = format_text(
        "signature %s '%s' (weight %g%s, %s:%d) matched line %zu",
        sqlite3_column_int(st, SIG_KIND) == KB_SIG_REGEX ? "re" : "literal", source, weight,
        halved                      ? ", halved: no mail context in the text"
        : context != KB_CONTEXT_ANY ? ", mail context"
                                    : "",
        path ? path : "?", sqlite3_column_int(st, SIG_LINE), q->norm.orig_line[h->line]);
    if (!h->source || !h->explain) {
        free(h->source);
        free(h->explain);
        return nomem(q);
    }
    c->hit_count++;
    c->score += weight;
    if (weight > c->best_weight)
        c->best_weight = weight;
    if (re && record_captures(c, re, q->mdata, q->norm.text) != KB_OK)
        return nomem(q);
    return KB_OK;
}

/* Start of the match in q->mdata. */
static size_t match_start(const struct query *q)
{
    return pcre2_get_ovector_pointer(q->mdata)[0];
}

/* Runs one candidate signature on the given windows of the text; on a match adds it to its
 * entry's candidate. */
static enum kb_status run_signature(struct query *q, uint32_t sig_id, const struct windows *w)
{
    enum kb_status status = KB_OK;
    int rc = load_signature(q, sig_id);
    if (rc <= 0)
        return rc < 0 ? KB_ERR_DB : KB_OK;
    sqlite3_stmt *st = q->db->sig_by_id;
    int halved;
    const char *pattern = (const char *)sqlite3_column_text(st, SIG_PATTERN);
    if (!pattern || effective_weight(q, st, &halved) <= 0) {
        sqlite3_reset(st);
        return KB_OK;
    }
    if (sqlite3_column_int(st, SIG_KIND) == KB_SIG_LITERAL) {
        const char *source = (const char *)sqlite3_column_text(st, SIG_SOURCE);
        size_t len = (size_t)sqlite3_column_bytes(st, SIG_SOURCE), at = 0;
        for (size_t i = 0; source && i < w->count; i++)
            if (kb_literal_find(source, len, q->norm.text, w->start[i], w->end[i], &at)) {
                status = record_hit(q, at, NULL);
                break;
            }
        sqlite3_reset(st);
        return status;
    }
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   kb_signature_compile_options(), &errcode, &erroff, NULL);
    /* a pattern that does not compile: the compiler rejects them, a foreign database may not */
    if (re && match_windows(q, re, w))
        status = record_hit(q, match_start(q), re);
    sqlite3_reset(st);
    pcre2_code_free(re);
    return status;
}

/* Runs the signatures that have no anchor, on the whole text. The compiler stored them
 * compiled (PCRE2 serialisation), so a lookup does not compile hundreds of regexes just to
 * find that most do not match; their rows are read only on a match. When the stored code does
 * not fit this PCRE2 build, they are compiled from their patterns instead. */
static enum kb_status run_unanchored(struct query *q, const struct windows *whole)
{
    const struct kb_db *db = q->db;
    if (!db->always_count)
        return KB_OK;
    pcre2_code **codes = NULL;
    int32_t decoded = -1;
    if (db->always_code && db->always_code_len)
        codes = calloc(db->always_count, sizeof *codes);
    if (codes)
        decoded = pcre2_serialize_decode(codes, (int32_t)db->always_count, db->always_code, NULL);
    enum kb_status st = KB_OK;
    if (decoded != (int32_t)db->always_count) {
        for (size_t i = 0; i < db->always_count && st == KB_OK; i++)
            st = run_signature(q, db->always[i], whole);
    } else {
        for (size_t i = 0; i < db->always_count && st == KB_OK; i++) {
            if (!match_windows(q, codes[i], whole))
                continue;
            int rc = load_signature(q, db->always[i]);
            if (rc < 0)
                st = KB_ERR_DB;
            else if (rc > 0)
                st = record_hit(q, match_start(q), codes[i]);
            sqlite3_reset(db->sig_by_id);
        }
    }
    for (int32_t i = 0; codes && i < decoded; i++)
        pcre2_code_free(codes[i]);
    free(codes);
    return st;
}

/* ---- full text --------------------------------------------------------------------------- */

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
        if (strlen(stop[i]) == len && memcmp(stop[i], t, len) == 0)
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
static enum kb_status fts_terms(struct query *q, const char *text, size_t len, struct term **out,
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
            status = nomem(q);
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
        if (grow((void **)&terms, &alloc, n + 1, sizeof *terms)
            || !(terms[n].text = dup_range(text + s, i - s))) {
            status = nomem(q);
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
                                    size_t used, double coverage)
{
    if (db->fulltext_needs_mail)
        return specific >= 3 && coverage >= 0.6;
    return matched >= 2 && coverage >= 0.3
           && (specific >= 2 || (specific == 1 && used >= 4 && coverage >= 0.5));
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

static enum kb_status run_fulltext(struct query *q, size_t want)
{
    struct kb_buf prepared, query;
    kb_buf_init(&prepared, 0);
    kb_buf_init(&query, 0);
    struct term *terms = NULL;
    size_t nterms = 0;
    sqlite3_stmt *search = NULL;
    enum kb_status status = kb_fts_prepare(q->norm.text, q->norm.len, &prepared);
    if (status != KB_OK)
        goto done;
    for (size_t i = 0; i < prepared.len; i++)
        if (prepared.data[i] >= 'A' && prepared.data[i] <= 'Z')
            prepared.data[i] = (char)(prepared.data[i] + 32);
    blank_non_error_lines(&q->norm, prepared.data);
    if ((status = fts_terms(q, prepared.data, prepared.len, &terms, &nterms)) != KB_OK)
        goto done;
    /* Specific: in at most 5% of the entries (at least one entry, of course). Common: in more
     * than 10% (and 50) of them; such a term adds little to BM25 and makes it score thousands
     * of rows of a large KB, so it is left out of the query. */
    long specific_df = q->db->entry_count / 20 > 1 ? q->db->entry_count / 20 : 1;
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
    if (sqlite3_prepare_v2(q->db->sql,
                           "SELECT rowid, bm25(entry_fts, 4.0, 1.0, 2.0, 2.0) AS r, "
                           "kb_matched(entry_fts) FROM entry_fts "
                           "WHERE entry_fts MATCH ?1 ORDER BY r LIMIT ?2",
                           -1, &search, NULL)
        != SQLITE_OK) {
        status = kb_fail_sql(q->db, q->err, "cannot search the full-text index");
        goto done;
    }
    sqlite3_bind_text(search, 1, query.data, (int)query.len, SQLITE_STATIC);
    sqlite3_bind_int64(search, 2, (sqlite3_int64)want * 2);
    int rc;
    while ((rc = sqlite3_step(search)) == SQLITE_ROW) {
        long long rowid = sqlite3_column_int64(search, 0);
        double bm25 = sqlite3_column_double(search, 1);
        sqlite3_uint64 mask = (sqlite3_uint64)sqlite3_column_int64(search, 2);
        size_t matched = 0, specific = 0;
        struct kb_buf which;
        kb_buf_init(&which, 0);
        size_t lines[3];
        size_t nlines = 0;
        for (size_t i = 0; i < used; i++) {
            if (mask & ((sqlite3_uint64)1 << i)) {
                matched++;
                specific += terms[i].df <= specific_df;
                kb_buf_printf(&which, "%s%s", which.len ? " " : "", terms[i].text);
                size_t off;
                if (nlines < 3 && line_with_term(prepared.data, prepared.len, terms[i].text, &off))
                    lines[nlines++] = kb_norm_line_of(&q->norm, off);
            }
        }
        double coverage = (double)matched / (double)used;
        /* A weak answer still needs several of the rarest words of the text to agree, and
         * specific ones among them: common words ("failed", "send", "because") shared with many
         * entries say nothing about which one applies, and one rare word alone ("chain" from a
         * stack trace) is a coincidence unless a larger set of terms agrees with it. */
        if (fulltext_evidence_enough(q->db, matched, specific, used, coverage)) {
            struct candidate *c = candidate_for(q, rowid, KB_VIA_FULLTEXT);
            if (!c) {
                kb_buf_release(&which);
                status = nomem(q);
                goto done;
            }
            if (c->via == KB_VIA_FULLTEXT && c->score == 0) {
                c->score = coverage;
                c->bm25 = bm25;
                c->fts_explain = format_text("full-text: %zu of %zu rarest known terms matched "
                                             "(%s); bm25 %.2f",
                                             matched, used, which.data ? which.data : "", bm25);
                for (size_t k = 0; k < nlines; k++)
                    if (!grow((void **)&c->lines, &c->line_alloc, c->line_count + 1,
                              sizeof *c->lines))
                        c->lines[c->line_count++] = lines[k];
            }
        }
        kb_buf_release(&which);
    }
    if (rc != SQLITE_DONE)
        status = kb_fail_sql(q->db, q->err, "cannot search the full-text index");
done:
    sqlite3_finalize(search);
    terms_free(terms, nterms);
    kb_buf_release(&prepared);
    kb_buf_release(&query);
    return status;
}

/* ---- ranking and results ----------------------------------------------------------------- */

static int cmp_candidate(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->via != y->via)
        return x->via == KB_VIA_SIGNATURE ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->provider_match != y->provider_match)
        return x->provider_match ? -1 : 1;
    if (x->bm25 != y->bm25)
        return x->bm25 < y->bm25 ? -1 : 1;
    if (x->best_weight != y->best_weight)
        return x->best_weight > y->best_weight ? -1 : 1;
    return (x->rowid > y->rowid) - (x->rowid < y->rowid);
}

static int cmp_hit(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* The original input line holding normalised line norm_line, masked and capped. */
static enum kb_status evidence_for(const struct kb_norm *norm, size_t norm_line,
                                   struct kb_evidence *ev)
{
    size_t line = norm->orig_line[norm_line];
    ev->line = line;
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

static enum kb_status fill_match(struct query *q, struct candidate *c, struct kb_match *m)
{
    enum kb_status st = kb_entry_load(q->db, c->rowid, &m->entry, q->err);
    if (st != KB_OK)
        return st;
    m->score = c->score;
    m->via = c->via;
    if (c->via == KB_VIA_FULLTEXT)
        m->confidence = KB_CONF_WEAK;
    else if (c->score >= KB_EXACT_SCORE)
        m->confidence = KB_CONF_EXACT;
    else if (c->score >= KB_LIKELY_SCORE)
        m->confidence = KB_CONF_LIKELY;
    else
        m->confidence = KB_CONF_WEAK;

    if (c->hit_count)
        qsort(c->hits, c->hit_count, sizeof *c->hits, cmp_hit);
    /* evidence: distinct lines, in input order */
    size_t lines[MAX_EVIDENCE];
    size_t n = 0;
    for (size_t i = 0; i < c->hit_count && n < MAX_EVIDENCE; i++) {
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
        return nomem(q);
    for (size_t i = 0; i < n; i++) {
        if ((st = evidence_for(&q->norm, lines[i], &m->evidence[i])) != KB_OK)
            return nomem(q);
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
        return nomem(q);
    for (size_t i = 0; i < c->hit_count; i++) {
        m->explain[m->explain_count++] = c->hits[i].explain;
        c->hits[i].explain = NULL;
        m->matched_signatures[m->matched_signature_count++] = c->hits[i].source;
        c->hits[i].source = NULL;
    }
    if (c->fts_explain) {
        m->explain[m->explain_count++] = c->fts_explain;
        c->fts_explain = NULL;
    }
    struct kb_buf sum;
    kb_buf_init(&sum, 0);
    st = kb_buf_printf(&sum, "score %g (%s)", c->score,
                       c->via == KB_VIA_FULLTEXT ? "share of the query's terms found"
                                                 : "sum of the weights of matched signatures");
    if (st == KB_OK)
        st = kb_buf_detach(&sum, &m->explain[m->explain_count]);
    kb_buf_release(&sum);
    if (st != KB_OK)
        return nomem(q);
    m->explain_count++;
    return KB_OK;
}

static void match_release(struct kb_match *m)
{
    kb_entry_free(m->entry);
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
    free(r);
}

/* The provider seen in the text (gsmtp, outlook.com...) breaks ties between entries that the
 * same evidence points to: a bare "535 5.7.3" from Microsoft 365 ranks its m365 entries first. */
static enum kb_status mark_provider_matches(struct query *q)
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

/* Forgets signature candidates scoring below min. */
static void drop_weak_candidates(struct query *q, double min)
{
    size_t kept = 0;
    for (size_t i = 0; i < q->cand_count; i++) {
        if (q->cands[i].score < min)
            candidate_release(&q->cands[i]);
        else
            q->cands[kept++] = q->cands[i];
    }
    q->cand_count = kept;
}

static enum kb_status build_result(struct query *q, size_t top, struct kb_result *r)
{
    enum kb_status st = mark_provider_matches(q);
    if (st != KB_OK)
        return st;
    if (q->cand_count)
        qsort(q->cands, q->cand_count, sizeof *q->cands, cmp_candidate);
    size_t n = q->cand_count < top ? q->cand_count : top;
    r->matches = calloc(n ? n : 1, sizeof *r->matches);
    if (!r->matches)
        return nomem(q);
    for (size_t i = 0; i < n; i++) {
        st = fill_match(q, &q->cands[i], &r->matches[i]);
        r->match_count++;
        if (st != KB_OK)
            return st;
    }
    return KB_OK;
}

enum kb_status kb_query_run(struct kb_db *db, const char *text, size_t len,
                            const struct kb_query_options *options, struct kb_result **out,
                            struct kb_error *err)
{
    size_t top = options && options->top ? options->top : DEFAULT_TOP;
    size_t max_input = options && options->max_input ? options->max_input : DEFAULT_MAX_INPUT;
    *out = NULL;
    if (len > max_input)
        return kb_fail(err, KB_ERR_TOO_LARGE, "input is %zu bytes, over the limit of %zu bytes",
                       len, max_input);
    struct query q = {.db = db, .options = options, .err = err};
    struct kb_result *r = calloc(1, sizeof *r);
    enum kb_status st = KB_OK;
    q.mctx = pcre2_match_context_create(NULL);
    q.mdata = pcre2_match_data_create(32, NULL);
    if (!r || !q.mctx || !q.mdata) {
        st = nomem(&q);
        goto done;
    }
    /* No signature may take long on any input: PCRE2 gives up instead, and the signature then
     * simply does not count. */
    pcre2_set_match_limit(q.mctx, 5000000);
    pcre2_set_depth_limit(q.mctx, 5000);
    pcre2_set_heap_limit(q.mctx, 20000);

    if ((st = kb_norm_run(text, len, &q.norm)) != KB_OK
        || (st = kb_facts_extract(&q.norm, &q.facts)) != KB_OK) {
        if (st == KB_ERR_NOMEM)
            nomem(&q);
        goto done;
    }
    r->input_lines = q.norm.orig_line_count;
    if ((st = run_signatures(&q)) != KB_OK)
        goto done;
    if (q.facts.mail_context == KB_CONTEXT_IS_UNKNOWN)
        drop_weak_candidates(&q, UNKNOWN_CONTEXT_MIN_SCORE);
    int likely = 0;
    for (size_t i = 0; i < q.cand_count; i++)
        likely |= q.cands[i].score >= KB_LIKELY_SCORE;
    int fulltext_allowed = db->fulltext_needs_mail ? q.facts.mail_context == KB_CONTEXT_IS_MAIL
                                                   : q.facts.mail_context != KB_CONTEXT_IS_OTHER;
    if (!likely && fulltext_allowed && (st = run_fulltext(&q, top)) != KB_OK)
        goto done;
    st = build_result(&q, top, r);
done:
    if (r) {
        r->facts = q.facts;
        q.facts = (struct kb_facts){0};
    }
    for (size_t i = 0; i < q.cand_count; i++)
        candidate_release(&q.cands[i]);
    free(q.cands);
    kb_norm_release(&q.norm);
    kb_facts_release(&q.facts);
    pcre2_match_context_free(q.mctx);
    pcre2_match_data_free(q.mdata);
    pcre2_code_free(q.other_re);
    if (st != KB_OK) {
        kb_result_free(r);
        return st;
    }
    *out = r;
    return KB_OK;
}

const char *kb_confidence_str(enum kb_confidence c)
{
    return c == KB_CONF_EXACT ? "exact" : c == KB_CONF_LIKELY ? "likely" : "weak";
}

const char *kb_via_str(enum kb_via v)
{
    return v == KB_VIA_FULLTEXT ? "fulltext" : "signature";
}
