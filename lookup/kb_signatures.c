/*
 * kb_signatures.c - evidence from signatures.
 *
 * Cost must not grow with the size of the KB: the pasted text is cut into prefilter tokens,
 * their hashes are probed in the anchor index, and only the signatures whose anchor occurs in
 * the text are compiled and run, on the lines around the anchor (under PCRE2 match and depth
 * limits, so no signature and no input can hang a lookup). Unanchored signatures run on the
 * whole text from their stored compiled code.
 */
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "kb_integrity.h"
#include "kb_query.h"

#define MAX_CAPTURE_BYTES 200
/* Above this size a candidate regex is JIT-compiled: compiling costs more than it saves on
 * short pastes, and saves a lot on whole logs. */
#define JIT_THRESHOLD (64 * 1024)

/* The prefilter: the anchor index, a hash table kb-compile laid out for use in place
 * (kb_prefilter.h), probed with the hash of every token of the text as the tokenizer emits it.
 * Nothing is sorted or stored per token that is not an anchor, so a 1 MB log costs one pass. Where
 * an anchor occurs is remembered: a literal signature is then compared at each occurrence of its
 * anchor only (backwards and forwards from it), a regex runs on the lines around the occurrences,
 * never farther than WINDOW_BYTES from one. Either way the work per signature follows the
 * occurrences of its anchor, not the size of the text: one long line full of anchors cost every
 * candidate a scan of the whole line.
 */
struct occurrence {
    uint64_t hash;  /* the anchor's */
    uint32_t first; /* its signature ids in the prefilter: [first, first + count) */
    uint32_t count;
    uint32_t line; /* normalised line of the token */
    size_t offset; /* where the token starts in the normalised text */
};

struct probe {
    struct kb_prefilter *index;
    const struct kb_norm *norm;
    struct kb_error *err;
    int damaged; /* the index could not be read: err says why */
    size_t line; /* the line of the last occurrence: tokens come in text order */
    struct occurrence *occ;
    size_t occ_count, occ_alloc;
};

static int probe_token(uint64_t hash, size_t offset, void *arg)
{
    struct probe *p = arg;
    uint32_t first, count;
    int found = kb_prefilter_find(p->index, hash, &first, &count, p->err);
    if (found < 0) {
        p->damaged = 1;
        return -1;
    }
    if (!found)
        return 0;
    if (kb_grow((void **)&p->occ, &p->occ_alloc, p->occ_count + 1, sizeof *p->occ))
        return -1;
    struct occurrence *o = &p->occ[p->occ_count];
    o->hash = hash;
    o->first = first;
    o->count = count;
    /* tokens come in text order: the line moves forward from the last occurrence's */
    while (p->line + 1 < p->norm->line_count && p->norm->line_start[p->line + 1] <= offset)
        p->line++;
    if (p->norm->line_start[p->line] > offset)
        p->line = kb_norm_line_of(p->norm, offset);
    o->line = (uint32_t)p->line;
    o->offset = offset;
    p->occ_count++;
    return 0;
}

/* Orders the occurrences by anchor (in the index's order: ascending first), in text order within
 * one, in linear time: they come in text order, so a stable sort by anchor alone keeps it. An LSD
 * radix sort, a byte of first a pass (skipped where every occurrence has the same byte); on 1 MiB
 * of anchors qsort's comparisons were a tenth of the lookup. *occ is replaced by a buffer of n; -1
 * when out of memory (*occ unchanged). */
static int occurrences_sort(struct occurrence **occ, size_t n)
{
    struct occurrence *a = *occ, *b = malloc(n * sizeof *b);
    if (!b)
        return -1;
    for (unsigned shift = 0; shift < 32; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((a[i].first >> shift) & 0xffu) + 1]++;
        if (count[((a[0].first >> shift) & 0xffu) + 1] == n)
            continue;
        for (size_t d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++)
            b[count[(a[i].first >> shift) & 0xffu]++] = a[i];
        struct occurrence *t = a;
        a = b;
        b = t;
    }
    free(b);
    *occ = a;
    return 0;
}

/* Lines of context on each side of an anchor: a match contains its anchor and may reach
 * across a few lines (white space in a literal matches line breaks too); on long lines, bytes
 * of context on each side. */
#define WINDOW_LINES 3
#define WINDOW_BYTES 2048
/* Offsets of the anchor in a literal signature that are tried (a literal rarely holds its
 * anchor word twice). */
#define MAX_ANCHOR_OFFSETS 8
/* Regexes remembered as missed per set of windows (struct windows) */
#define MAX_REGEX_MISSES 32

/* Text ranges to run a signature on: the lines around each occurrence of its anchor, merged.
 * keys: a hash of each window's bytes with the WINDOW_CONTEXT bytes before it (window_keys),
 * computed when first needed (match_windows), NULL until then. */
struct windows {
    size_t *start, *end;
    size_t count, alloc;
    uint64_t *keys;
    /* The regexes that found nothing in these windows, by pattern and text read: articles
     * share signatures (the forms of a reply code), and each copy ran over the same windows
     * again; on a 1 MiB line of "535 5.7. " three copies of six regexes read the whole line. */
    size_t miss_count;
    char *miss_pattern[MAX_REGEX_MISSES];
    const char *miss_text[MAX_REGEX_MISSES];
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

/* Forgets the regexes missed (when the windows change). */
static void windows_forget_misses(struct windows *w)
{
    for (size_t k = 0; k < w->miss_count; k++)
        free(w->miss_pattern[k]);
    w->miss_count = 0;
}

/* Did the regex of this pattern find nothing in the windows of text already? */
static int windows_missed(const struct windows *w, const char *pattern, const char *text)
{
    for (size_t k = 0; k < w->miss_count; k++)
        if (w->miss_text[k] == text && strcmp(w->miss_pattern[k], pattern) == 0)
            return 1;
    return 0;
}

/* Remembers that the regex of this pattern found nothing (as far as room and memory allow:
 * forgetting costs only the time of running it again). */
static void windows_add_miss(struct windows *w, const char *pattern, const char *text)
{
    if (w->miss_count < MAX_REGEX_MISSES && (w->miss_pattern[w->miss_count] = strdup(pattern))) {
        w->miss_text[w->miss_count] = text;
        w->miss_count++;
    }
}

static void windows_release(struct windows *w)
{
    windows_forget_misses(w);
    free(w->start);
    free(w->end);
    free(w->keys);
    memset(w, 0, sizeof *w);
}

/* The occurrences of one anchor, for the literal signatures anchored on it. */
struct anchor_hits {
    uint64_t hash;
    const struct occurrence *occ;
    size_t count;
};

static enum kb_status run_signature(struct kb_query *q, uint32_t sig_id, struct windows *w,
                                    const struct anchor_hits *hits);
static enum kb_status run_unanchored(struct kb_query *q, struct windows *whole);

enum kb_status kb_signatures_run(struct kb_query *q)
{
    struct kb_db *db = q->db;
    struct probe p = {.index = &db->prefilter, .norm = &q->norm, .err = q->err};
    struct windows w = {0};
    enum kb_status st = KB_OK;
    if (kb_text_tokens(q->norm.text, q->norm.len, probe_token, &p)) {
        if (!p.damaged)
            goto oom;
        st = KB_ERR_DB;
    }
    if (p.occ_count) {
        if (occurrences_sort(&p.occ, p.occ_count))
            goto oom;
        p.occ_alloc = p.occ_count;
    }
    for (size_t i = 0; i < p.occ_count && st == KB_OK;) {
        const struct occurrence *o = &p.occ[i];
        struct anchor_hits hits = {o->hash, o, 0};
        w.count = 0;
        free(w.keys);
        w.keys = NULL;
        windows_forget_misses(&w);
        for (; i < p.occ_count && p.occ[i].first == o->first; i++, hits.count++) {
            size_t line = p.occ[i].line, at = p.occ[i].offset;
            size_t first = line > WINDOW_LINES ? line - WINDOW_LINES : 0;
            size_t last = line + WINDOW_LINES + 1 < q->norm.line_count ? line + WINDOW_LINES + 1
                                                                       : q->norm.line_count;
            size_t start = q->norm.line_start[first];
            size_t end = last < q->norm.line_count ? q->norm.line_start[last] : q->norm.len;
            if (at > WINDOW_BYTES && start < at - WINDOW_BYTES)
                start = at - WINDOW_BYTES;
            if (end - at > WINDOW_BYTES)
                end = at + WINDOW_BYTES;
            if (windows_add(&w, start, end))
                goto oom;
        }
        for (uint32_t j = 0; j < o->count && st == KB_OK; j++) {
            uint32_t sig_id;
            if (kb_prefilter_id(&db->prefilter, 0, o->first + j, &sig_id, q->err))
                st = q->err ? q->err->status : KB_ERR_DB;
            else
                st = run_signature(q, sig_id, &w, &hits);
        }
    }
    struct windows whole = {0};
    if (st == KB_OK && db->always_count && windows_add(&whole, 0, q->norm.len))
        goto oom;
    if (st == KB_OK)
        st = run_unanchored(q, &whole);
    windows_release(&whole);
    windows_release(&w);
    free(p.occ);
    return st;
oom:
    windows_release(&w);
    free(p.occ);
    return kb_query_nomem(q);
}

static enum kb_status add_capture(struct kb_candidate *c, const char *name, const char *value,
                                  size_t len)
{
    for (size_t i = 0; i < c->capture_count; i++)
        if (strcmp(c->captures[i].name, name) == 0)
            return KB_OK; /* first signature to capture a name wins */
    if (kb_grow((void **)&c->captures, &c->capture_alloc, c->capture_count + 1,
                sizeof *c->captures))
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

static enum kb_status record_captures(struct kb_candidate *c, const pcre2_code *re,
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

/* Windows of the same bytes (with what a lookbehind may see before them) give a regex the same
 * answer: a log that repeats one error thousands of times, or a paste repeated on one long
 * line, puts the same few windows around every occurrence of an anchor. From this many
 * windows on, each is run only if no earlier one had the same bytes, the window and the
 * WINDOW_CONTEXT bytes before it (a regex that looks further back is not deduplicated). */
#define DEDUP_WINDOWS 8
#define WINDOW_CONTEXT 255
/* Bytes at each end of a window (with its context) that its key is a hash of */
#define WINDOW_KEY_SAMPLE 64

/* The bytes a window's answer depends on: text[*from, end), the window starting start - *from
 * bytes in. */
static size_t window_span(const struct windows *w, size_t i, size_t *from)
{
    *from = w->start[i] > WINDOW_CONTEXT ? w->start[i] - WINDOW_CONTEXT : 0;
    return w->end[i] - *from;
}

/* The windows' keys, computed once for all the signatures of the anchor; 0 when out of memory
 * (then nothing is deduplicated). A key is XXH64 of the span's first and last WINDOW_KEY_SAMPLE
 * bytes, seeded with its length and the window's offset in it: a few bytes a window whatever
 * its size (hashing every byte of every window was a tenth of a lookup on a 1 MiB line of
 * anchors), and exact all the same, since equal keys are confirmed by comparing the bytes
 * (window_same). */
static int window_keys(struct windows *w, const char *text)
{
    if (w->keys)
        return 1;
    if (!(w->keys = malloc(w->count * sizeof *w->keys)))
        return 0;
    for (size_t i = 0; i < w->count; i++) {
        size_t from, n = window_span(w, i, &from);
        uint64_t seed = (uint64_t)n << 16 ^ (w->start[i] - from);
        if (n <= 2 * WINDOW_KEY_SAMPLE)
            w->keys[i] = kb_xxh64(text + from, n, seed);
        else
            w->keys[i] = kb_xxh64(text + from, WINDOW_KEY_SAMPLE, seed)
                         ^ kb_xxh64(text + from + n - WINDOW_KEY_SAMPLE, WINDOW_KEY_SAMPLE, ~seed);
    }
    return 1;
}

/* Do windows i and j hold the same bytes, context included? */
static int window_same(const struct windows *w, const char *text, size_t i, size_t j)
{
    size_t fi, fj, n = window_span(w, i, &fi);
    return n == window_span(w, j, &fj) && w->start[i] - fi == w->start[j] - fj
           && memcmp(text + fi, text + fj, n) == 0;
}

/* Windows of one key (with different bytes) that a window is compared with, at most: past
 * them it is run, which costs no more than a comparison, and the work stays linear */
#define WINDOW_KEY_TRIES 4

/* Has a window of the same bytes as window i been run? Remembers i when not (slots hold a
 * window's index + 1, 0 when empty). */
static int window_seen(size_t *set, size_t mask, const struct windows *w, const char *text,
                       size_t i)
{
    uint64_t key = w->keys[i];
    int tries = 0;
    for (size_t s = (size_t)(key ^ (key >> 31)) & mask;; s = (s + 1) & mask) {
        if (!set[s]) {
            set[s] = i + 1;
            return 0;
        }
        if (w->keys[set[s] - 1] == key
            && (window_same(w, text, set[s] - 1, i) || ++tries == WINDOW_KEY_TRIES))
            return tries < WINDOW_KEY_TRIES;
    }
}

/* Matches a compiled signature against the windows; 1 on a match (q->mdata holds it), 0 when
 * none, or when PCRE2 gave up at a limit: a signature that cannot decide does not count. */
static int match_windows(struct kb_query *q, pcre2_code *re, struct windows *w, const char *text)
{
    size_t span = 0;
    for (size_t i = 0; i < w->count; i++)
        span += w->end[i] - w->start[i];
    /* JIT-compiled (once: the handle keeps the code) for a long text, and once the handle
     * has answered a query: it is a --serve process or a self-test, whose patterns run again */
    if (span > JIT_THRESHOLD || q->db->regex_cache.warm)
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    size_t *set = NULL, mask = 0;
    uint32_t behind = 0;
    /* the keys are of the text the windows were made on: norm.text (a signature reading the
     * evidence text, where a report's lines are blanked, is not deduplicated) */
    if (w->count >= DEDUP_WINDOWS && text == q->norm.text
        && pcre2_pattern_info(re, PCRE2_INFO_MAXLOOKBEHIND, &behind) == 0
        && behind <= WINDOW_CONTEXT && window_keys(w, text)) {
        size_t size = 16;
        while (size < w->count * 2)
            size *= 2;
        if ((set = calloc(size, sizeof *set)))
            mask = size - 1;
    }
    /* Each window is matched as the text up to its end, from its start: \b, lookbehind and ^
     * still see the real neighbouring characters. */
    int found = 0;
    for (size_t i = 0; i < w->count && !found; i++) {
        if (set && window_seen(set, mask, w, text, i))
            continue;
        q->work.signatures += w->end[i] - w->start[i];
        q->work.regex_calls++;
        found =
            pcre2_match(re, (PCRE2_SPTR)text, w->end[i], w->start[i], 0, q->mdata, q->mctx) >= 0;
    }
    free(set);
    return found;
}

/* Columns of db->sig_by_id. */
enum {
    SIG_ENTRY,
    SIG_KIND,
    SIG_SOURCE,
    SIG_PATTERN,
    SIG_WEIGHT,
    SIG_CONTEXT,
    SIG_PATH,
    SIG_LINE,
    SIG_ORIGIN,
    SIG_SECTION,
    SIG_REGIONS,
    SIG_WHEN,
    SIG_CODE
};

/* A signature's row as matching reads it: strings NUL-terminated, NULL where the column is
 * NULL. Owned by the cache of the handle (or its spare row), never by a query. */
struct kb_sig {
    long long entry, section;
    int kind, context, line;
    unsigned regions;
    double weight;
    const char *source, *pattern, *path, *origin, *when;
    size_t source_len, when_len;
    const unsigned char *code;
    size_t code_len;
};

/* Rows kept per handle, at most (a few hundred bytes each): enough for every signature a
 * --serve process of the shipped KB meets; past it rows are read again each time. */
#define SIG_CACHE_ROWS 8192
#define SIG_CACHE_BYTES (4u << 20)

/* Signature rows by id, open addressing (ids are never 0 in SQLite; a slot of 0 is empty). */
struct kb_sig_cache {
    uint32_t *ids;
    struct kb_sig **rows;
    size_t cap, count, bytes;
    struct kb_sig *spare; /* the last row read while the cache was full */
};

void kb_sig_cache_free(struct kb_sig_cache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < cache->cap; i++)
        free(cache->rows[i]);
    free(cache->ids);
    free(cache->rows);
    free(cache->spare);
    free(cache);
}

static size_t sig_slot(const struct kb_sig_cache *cache, uint32_t id)
{
    size_t i = (size_t)(id * 2654435761u) & (cache->cap - 1);
    while (cache->ids[i] && cache->ids[i] != id)
        i = (i + 1) & (cache->cap - 1);
    return i;
}

static const struct kb_sig *sig_cached(const struct kb_sig_cache *cache, uint32_t id)
{
    if (!cache || !cache->cap)
        return NULL;
    size_t i = sig_slot(cache, id);
    return cache->ids[i] ? cache->rows[i] : NULL;
}

/* Makes room for one more row; 0 when the cache is full or out of memory (then it is not
 * kept). */
static int sig_cache_room(struct kb_sig_cache *cache, size_t bytes)
{
    if (cache->count >= SIG_CACHE_ROWS || cache->bytes + bytes > SIG_CACHE_BYTES)
        return 0;
    if ((cache->count + 1) * 2 <= cache->cap)
        return 1;
    size_t cap = cache->cap ? cache->cap * 2 : 256;
    uint32_t *ids = calloc(cap, sizeof *ids);
    struct kb_sig **rows = calloc(cap, sizeof *rows);
    if (!ids || !rows) {
        free(ids);
        free(rows);
        return 0;
    }
    struct kb_sig_cache grown = {ids, rows, cap, 0, 0, NULL};
    for (size_t i = 0; i < cache->cap; i++)
        if (cache->ids[i]) {
            size_t k = sig_slot(&grown, cache->ids[i]);
            ids[k] = cache->ids[i];
            rows[k] = cache->rows[i];
        }
    free(cache->ids);
    free(cache->rows);
    cache->ids = ids;
    cache->rows = rows;
    cache->cap = cap;
    return 1;
}

/* The text and blob columns of a row, in the order sig_from_row copies them. */
static const int sig_strings[] = {SIG_SOURCE, SIG_PATTERN, SIG_PATH,
                                  SIG_ORIGIN, SIG_WHEN,    SIG_CODE};
#define SIG_STRINGS (sizeof sig_strings / sizeof sig_strings[0])

/* The row of st (just stepped) as one heap block, strings NUL-terminated; NULL when out of
 * memory. Each column is asked for once: every SQLite call costs. */
static struct kb_sig *sig_from_row(sqlite3_stmt *st, size_t *bytes)
{
    const void *v[SIG_STRINGS];
    size_t n[SIG_STRINGS];
    size_t size = sizeof(struct kb_sig);
    for (size_t i = 0; i < SIG_STRINGS; i++) {
        v[i] = sig_strings[i] == SIG_CODE ? sqlite3_column_blob(st, SIG_CODE)
                                          : (const void *)sqlite3_column_text(st, sig_strings[i]);
        n[i] = v[i] ? (size_t)sqlite3_column_bytes(st, sig_strings[i]) : 0;
        size += n[i] + 1;
    }
    struct kb_sig *sig = malloc(size);
    if (!sig)
        return NULL;
    char *at = (char *)(sig + 1);
    const char *copy[SIG_STRINGS];
    for (size_t i = 0; i < SIG_STRINGS; i++) {
        copy[i] = NULL;
        if (v[i]) {
            memcpy(at, v[i], n[i]);
            at[n[i]] = '\0';
            copy[i] = at;
            at += n[i] + 1;
        }
    }
    sig->source = copy[0];
    sig->source_len = n[0];
    sig->pattern = copy[1];
    sig->path = copy[2];
    sig->origin = copy[3];
    sig->when = copy[4];
    sig->when_len = n[4];
    sig->code = (const unsigned char *)copy[5];
    sig->code_len = n[5];
    sig->entry = sqlite3_column_int64(st, SIG_ENTRY);
    sig->section = sqlite3_column_int64(st, SIG_SECTION);
    sig->kind = sqlite3_column_int(st, SIG_KIND);
    sig->context = sqlite3_column_int(st, SIG_CONTEXT);
    sig->line = sqlite3_column_int(st, SIG_LINE);
    sig->regions = (unsigned)sqlite3_column_int(st, SIG_REGIONS);
    sig->weight = sqlite3_column_double(st, SIG_WEIGHT);
    *bytes = size;
    return sig;
}

/* Does the signature apply to this text? One with when= counts only where its
 * condition holds ("leg=delivery": the same words mean another cause inside a bounce). A
 * condition that does not parse (a damaged database) never holds. */
static int applies(struct kb_query *q, const struct kb_sig *sig)
{
    const char *when = sig->when;
    if (!when || !*when || !q->what)
        return 1;
    struct kb_condition *c = NULL;
    struct kb_buf msg;
    kb_buf_init(&msg, 1024);
    size_t offset;
    int holds = kb_condition_parse(when, sig->when_len, &c, &offset, &msg) == KB_OK
                && kb_condition_holds(c, q->what);
    kb_condition_free(c);
    kb_buf_release(&msg);
    return holds;
}

/* The text a signature reads: the evidence text, and the regions of a report it says it also
 * applies to (region=: the report's headers, the returned original). */
static const char *text_for(struct kb_query *q, const struct kb_sig *sig)
{
    unsigned regions = sig->regions;
    const char *view = regions ? kb_query_view(q, q->evidence_regions | regions) : NULL;
    return view ? view : q->evidence_text;
}

/* Reads signature sig_id into *out (valid until the next load); 1 when there is a row, 0 when
 * not (a damaged index pointing nowhere), -1 on a database error, -2 out of memory (reported).
 * A row read once is kept with the handle (up to SIG_CACHE_ROWS): the database is immutable,
 * and reading a row through SQLite cost more than matching most signatures. */
static int load_signature(struct kb_query *q, uint32_t sig_id, const struct kb_sig **out)
{
    struct kb_db *db = q->db;
    if ((*out = sig_cached(db->sig_cache, sig_id)))
        return 1;
    sqlite3_stmt *st = db->sig_by_id;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, sig_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            return 0;
        kb_fail_sql(db, q->err, "cannot read a signature");
        return -1;
    }
    size_t bytes = 0;
    struct kb_sig *sig = sig_from_row(st, &bytes);
    sqlite3_reset(st);
    if (!sig) {
        kb_query_nomem(q);
        return -2;
    }
    if (!db->sig_cache)
        db->sig_cache = calloc(1, sizeof *db->sig_cache);
    struct kb_sig_cache *cache = db->sig_cache;
    if (cache && sig_id && sig_cache_room(cache, bytes)) {
        size_t i = sig_slot(cache, sig_id);
        cache->ids[i] = sig_id;
        cache->rows[i] = sig;
        cache->count++;
        cache->bytes += bytes;
    } else if (cache) {
        free(cache->spare);
        cache->spare = sig;
    } else {
        free(sig);
        kb_query_nomem(q);
        return -2;
    }
    *out = sig;
    return 1;
}

/* Does the text's context let this signature count, and with what weight? 0 when it may not. */
static double effective_weight(const struct kb_query *q, const struct kb_sig *sig, int *halved)
{
    int context = sig->context;
    double weight = sig->weight;
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

/* Does text[start, end) hold another program's words? */
static int other_program_in(struct kb_query *q, size_t start, size_t end)
{
    if (!q->other
        && !(q->other = kb_other_program_new(&q->db->regex_cache, q->norm.len > JIT_THRESHOLD)))
        return 0;
    /* only the patterns whose needs are in the range are compiled and run */
    if (kb_other_program_select(q->other, q->norm.text, start, end) < 0)
        return 0;
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    q->work.other += end - start;
    int rc =
        md ? kb_other_program_first(q->other, q->norm.text, start, end, md, q->mctx, NULL, NULL)
           : 0;
    pcre2_match_data_free(md);
    return rc > 0;
}

/* In a text about mail, may the line at offset at still be another program's? A log of a
 * Laravel app shows MAIL_HOST settings next to "SQLSTATE[HY000] [2002] Connection refused":
 * generic signatures must not take that line for the mail server's refusal. Each line is
 * tested once and the verdict kept (a line holding many hits was tested again for every hit,
 * the whole line each time). On a line longer than two windows, what tells is the text around
 * the hit: the blocks of WINDOW_BYTES of the text holding the hit and its neighbours, each
 * block tested once. */
static int line_is_other_program(struct kb_query *q, size_t at)
{
    size_t blocks = q->norm.len / WINDOW_BYTES + 1;
    if (!q->other_lines && !(q->other_lines = calloc(q->norm.line_count + blocks, 1)))
        return 0;
    size_t line = kb_norm_line_of(&q->norm, at);
    size_t start = q->norm.line_start[line];
    size_t end = line + 1 < q->norm.line_count ? q->norm.line_start[line + 1] : q->norm.len;
    unsigned char *verdict = &q->other_lines[line];
    if (end - start <= 2 * WINDOW_BYTES) {
        if (!*verdict)
            *verdict = other_program_in(q, start, end) ? 2 : 1;
        return *verdict == 2;
    }
    size_t b = at / WINDOW_BYTES;
    for (size_t k = b ? b - 1 : 0; k <= b + 1 && k < blocks; k++) {
        size_t bs = k * WINDOW_BYTES, be = bs + WINDOW_BYTES;
        if (be <= start || bs >= end)
            continue;
        verdict = &q->other_lines[q->norm.line_count + k];
        /* a match may start at the block's end and reach a little into the next */
        if (!*verdict)
            *verdict = other_program_in(q, bs > start ? bs : start,
                                        be + WINDOW_BYTES / 8 < end ? be + WINDOW_BYTES / 8 : end)
                           ? 2
                           : 1;
        if (*verdict == 2)
            return 1;
    }
    return 0;
}

/* Adds the match at offset at of signature sig to its entry; re (may
 * be NULL for a literal) and q->mdata give its captures. */
static enum kb_status record_hit(struct kb_query *q, const struct kb_sig *sig, size_t at,
                                 const pcre2_code *re)
{
    int halved;
    double weight = effective_weight(q, sig, &halved);
    const char *source = sig->source;
    if (weight <= 0 || !source)
        return KB_OK;
    if (sig->context != KB_CONTEXT_ANY && q->facts.mail_context == KB_CONTEXT_IS_MAIL
        && line_is_other_program(q, at))
        return KB_OK;
    const char *path = sig->path;
    int context = sig->context;
    struct kb_candidate *c = kb_candidate_for(q, sig->entry, KB_VIA_SIGNATURE);
    if (!c || kb_grow((void **)&c->hits, &c->hit_alloc, c->hit_count + 1, sizeof *c->hits))
        return kb_query_nomem(q);
    struct kb_hit *h = &c->hits[c->hit_count];
    memset(h, 0, sizeof *h);
    const char *origin = sig->origin;
    h->line = kb_norm_line_of(&q->norm, at);
    h->weight = weight;
    h->harvested = origin && origin[0];
    h->source = strdup(source);
    /* the explanation only for a program that shows it (kb_db_explain_set): formatting it
     * cost a few per cent of a lookup that never printed it */
    int explain = !q->db->no_explain;
    if (explain) {
        const char *when = sig->when;
        char *why = kb_format("%s%s%s%s",
                              halved                      ? ", halved: no mail context in the text"
                              : context != KB_CONTEXT_ANY ? ", mail context"
                                                          : "",
                              when && *when ? ", when " : "", when && *when ? when : "",
                              when && *when ? " holds" : "");
        if (why && h->harvested)
            h->explain = kb_format(
                "harvested from the %s: '%s' (weight %g%s, %s:%d) matched line %zu", origin, source,
                weight, why, path ? path : "?", sig->line, kb_query_input_line(q, h->line));
        else if (why)
            h->explain =
                kb_format("signature %s '%s' (weight %g%s, %s:%d) matched line %zu",
                          sig->kind == KB_SIG_REGEX ? "re" : "literal", source, weight, why,
                          path ? path : "?", sig->line, kb_query_input_line(q, h->line));
        free(why);
    }
    if (!h->source || (explain && !h->explain)) {
        free(h->source);
        free(h->explain);
        return kb_query_nomem(q);
    }
    c->hit_count++;
    c->score += weight;
    if (h->harvested) {
        c->harvested += weight;
        long long section = sig->section;
        if (section > 0 && weight > c->section_weight) {
            c->section_id = section;
            c->section_weight = weight;
        }
    } else {
        c->written += weight;
    }
    if (weight > c->best_weight)
        c->best_weight = weight;
    if (re && record_captures(c, re, q->mdata, text_for(q, sig)) != KB_OK)
        return kb_query_nomem(q);
    return KB_OK;
}

/* Start of the match in q->mdata. */
static size_t match_start(const struct kb_query *q)
{
    return pcre2_get_ovector_pointer(q->mdata)[0];
}

/* Finds the literal signature sig in the text: at the occurrences of its anchor when they are
 * known, else anywhere in the windows. 1 and *at on a match. */
static int find_literal(struct kb_query *q, const struct kb_sig *sig, const struct windows *w,
                        const struct anchor_hits *hits, size_t *at)
{
    const char *source = sig->source;
    size_t len = sig->source_len;
    const char *text = text_for(q, sig);
    if (!source)
        return 0;
    size_t in[MAX_ANCHOR_OFFSETS], n_in = 0;
    if (hits)
        n_in = kb_literal_anchor_offsets(source, len, hits->hash, in, MAX_ANCHOR_OFFSETS);
    if (n_in) {
        struct kb_literal_miss miss[MAX_ANCHOR_OFFSETS] = {{0}};
        for (size_t i = 0; i < hits->count; i++)
            for (size_t k = 0; k < n_in; k++)
                if (kb_literal_find_at(source, len, in[k], text, q->norm.len, hits->occ[i].offset,
                                       at, &q->work.signatures, &miss[k]))
                    return 1;
        return 0;
    }
    /* no known anchor in it (a database kb-compile did not write): the windows */
    for (size_t i = 0; i < w->count; i++)
        if (kb_literal_find(source, len, text, w->start[i], w->end[i], at, &q->work.signatures))
            return 1;
    return 0;
}

/* Runs one candidate signature on the given windows of the text (a literal at the occurrences
 * of its anchor when hits is not NULL); on a match adds it to its entry's candidate. */
static enum kb_status run_signature(struct kb_query *q, uint32_t sig_id, struct windows *w,
                                    const struct anchor_hits *hits)
{
    enum kb_status status = KB_OK;
    const struct kb_sig *sig = NULL;
    int rc = load_signature(q, sig_id, &sig);
    if (rc <= 0)
        return rc == -2 ? KB_ERR_NOMEM : rc < 0 ? KB_ERR_DB : KB_OK;
    int halved;
    const char *pattern = sig->pattern;
    if (!pattern || effective_weight(q, sig, &halved) <= 0 || !applies(q, sig))
        return KB_OK;
    if (sig->kind == KB_SIG_LITERAL) {
        size_t at = 0;
        if (find_literal(q, sig, w, hits, &at))
            status = record_hit(q, sig, at, NULL);
        return status;
    }
    /* a pattern that does not compile: the compiler rejects them, a foreign database may not */
    const char *text = text_for(q, sig);
    if (windows_missed(w, pattern, text))
        return KB_OK;
    pcre2_code *re = kb_db_sig_regex(q->db, sig_id, pattern, sig->code, sig->code_len);
    if (re && match_windows(q, re, w, text))
        status = record_hit(q, sig, match_start(q), re);
    else if (re)
        windows_add_miss(w, pattern, text);
    return status;
}

/* Which unanchored signatures cannot match: those none of whose needed texts
 * (kb_regex_required_literals, stored by the compiler: several for an alternation) is in the
 * text. One pass over the text for all of them. A heap array of always_count flags (caller
 * frees), or NULL: none can be skipped. */
static unsigned char *unanchored_skips(struct kb_query *q)
{
    struct kb_db *db = q->db;
    if (!db->always_needs)
        return NULL;
    if (!db->always_set) {
        /* the needs that are known, searched for together: built on the first lookup, kept
         * with the handle */
        size_t total = 0;
        for (size_t i = 0; i < db->always_count; i++)
            for (const char *t = db->always_needs[i]; t && *t; t += strlen(t) + 1)
                total++;
        const char **texts = malloc((total ? total : 1) * sizeof *texts);
        size_t *which = malloc((total ? total : 1) * sizeof *which);
        size_t n = 0;
        for (size_t i = 0; texts && which && i < db->always_count; i++)
            for (const char *t = db->always_needs[i]; t && *t; t += strlen(t) + 1) {
                texts[n] = t;
                which[n++] = i;
            }
        struct kb_literal_set *set = texts && which ? kb_literal_set_new(texts, n, 1) : NULL;
        free(texts);
        if (!set) {
            free(which);
            return NULL;
        }
        db->always_set = set;
        db->always_which = which;
        db->always_known = n;
    }
    unsigned char *found = malloc(db->always_known ? db->always_known : 1);
    unsigned char *skip = calloc(db->always_count, 1);
    if (found && skip
        && kb_literal_set_present(db->always_set, q->norm.text, q->norm.len, found) == 0) {
        q->work.signatures += q->norm.len;
        /* skipped when it has texts and none was found */
        for (size_t k = 0; k < db->always_known; k++)
            skip[db->always_which[k]] = 1;
        for (size_t k = 0; k < db->always_known; k++)
            if (found[k])
                skip[db->always_which[k]] = 0;
    } else {
        free(skip);
        skip = NULL;
    }
    free(found);
    return skip;
}

/* Runs the signatures that have no anchor, on the whole text. The compiler stored them
 * compiled and the first lookup that needs them decodes them (after checking their checksum), so a
 * lookup does not compile hundreds of regexes just to find that most do not match; their rows are
 * read only on a match. When the stored code does not fit this PCRE2 build, they are compiled from
 * their patterns instead. Either way those whose needed text is not in the text are skipped:
 * they would each have read the whole text for nothing. */
static enum kb_status run_unanchored(struct kb_query *q, struct windows *whole)
{
    struct kb_db *db = q->db;
    if (!db->always_count)
        return KB_OK;
    unsigned char *skip = unanchored_skips(q);
    enum kb_status st = KB_OK;
    pcre2_code **codes = db->always_codes;
    for (size_t i = 0; i < db->always_count && st == KB_OK; i++) {
        if (skip && skip[i])
            continue;
        if (!codes) {
            st = run_signature(q, db->always[i], whole, NULL);
            continue;
        }
        if (!match_windows(q, codes[i], whole, q->norm.text))
            continue;
        const struct kb_sig *sig = NULL;
        int rc = load_signature(q, db->always[i], &sig);
        if (rc < 0)
            st = rc == -2 ? KB_ERR_NOMEM : KB_ERR_DB;
        else if (rc > 0 && applies(q, sig)) {
            /* it matched the whole text: again on what the signature reads, when less */
            const char *text = text_for(q, sig);
            if (text == q->norm.text || match_windows(q, codes[i], whole, text))
                st = record_hit(q, sig, match_start(q), codes[i]);
        }
    }
    free(skip);
    return st;
}
