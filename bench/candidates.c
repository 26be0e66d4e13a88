/*
 * kb-candidates - how many signatures the literal prefilter lets through for one input.
 *
 *     kb-candidates PATH.db [FILE]      (FILE, or standard input)
 *
 * A diagnostic for bench/run: normalises the input and cuts it into prefilter tokens with
 * the same libkb functions kb-lookup uses (kb_norm_run, kb_text_tokens), then counts the
 * signatures of the database whose anchor is among those tokens, plus the ones without anchor
 * that run on every lookup. Each candidate is one PCRE2 run over the whole normalised text,
 * so this count times the text size is what a lookup's matching costs. Prints one line of
 * key=value pairs, then the anchors shared by the most candidates (one signature shown each).
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_text.h"

struct hashes {
    uint64_t *v;
    size_t n, alloc;
};

static int collect(uint64_t hash, size_t offset, void *arg)
{
    struct hashes *h = arg;
    (void)offset;
    if (h->n == h->alloc) {
        size_t na = h->alloc ? h->alloc * 2 : 1024;
        uint64_t *p = realloc(h->v, na * sizeof *p);
        if (!p)
            return 1;
        h->v = p;
        h->alloc = na;
    }
    h->v[h->n++] = hash;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int present(const struct hashes *h, uint64_t key)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->v[mid] < key)
            lo = mid + 1;
        else if (h->v[mid] > key)
            hi = mid;
        else
            return 1;
    }
    return 0;
}

struct group {
    uint64_t anchor;
    long count;
    char example[160];
};

static int cmp_group(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    return (y->count > x->count) - (y->count < x->count);
}

static char *read_all(FILE *f, size_t *len)
{
    size_t alloc = 1 << 16, n = 0, r;
    char *buf = malloc(alloc);
    while (buf && (r = fread(buf + n, 1, alloc - n, f)) > 0) {
        n += r;
        if (n == alloc) {
            char *p = realloc(buf, alloc *= 2);
            if (!p) {
                free(buf);
                return NULL;
            }
            buf = p;
        }
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: kb-candidates PATH.db [FILE]\n");
        return 2;
    }
    FILE *in = argc == 3 ? fopen(argv[2], "rb") : stdin;
    if (!in) {
        perror(argv[2]);
        return 2;
    }
    size_t len = 0;
    char *text = read_all(in, &len);
    if (in != stdin)
        fclose(in);
    if (!text) {
        fprintf(stderr, "kb-candidates: out of memory\n");
        return 2;
    }

    struct kb_norm norm;
    struct hashes h = {0};
    if (kb_norm_run(text, len, &norm) != KB_OK
        || kb_text_tokens(norm.text, norm.len, collect, &h) != 0) {
        fprintf(stderr, "kb-candidates: cannot tokenise the input\n");
        return 2;
    }
    size_t tokens = h.n;
    if (h.n)
        qsort(h.v, h.n, sizeof *h.v, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < h.n; i++)
        if (u == 0 || h.v[u - 1] != h.v[i])
            h.v[u++] = h.v[i];
    h.n = u;

    sqlite3 *db;
    char uri[4200];
    snprintf(uri, sizeof uri, "file:%s?mode=ro&immutable=1", argv[1]);
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        fprintf(stderr, "kb-candidates: %s: %s\n", argv[1], sqlite3_errmsg(db));
        return 2;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT anchor, source FROM signature ORDER BY anchor", -1, &st,
                           NULL)
        != SQLITE_OK) {
        fprintf(stderr, "kb-candidates: %s: %s\n", argv[1], sqlite3_errmsg(db));
        return 2;
    }
    long total = 0, unanchored = 0, anchored_hits = 0;
    struct group *groups = NULL;
    size_t ng = 0, ga = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        total++;
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
            unanchored++;
            continue;
        }
        uint64_t a = (uint64_t)sqlite3_column_int64(st, 0);
        if (!present(&h, a))
            continue;
        anchored_hits++;
        if (ng && groups[ng - 1].anchor == a) {
            groups[ng - 1].count++;
            continue;
        }
        if (ng == ga) {
            ga = ga ? ga * 2 : 64;
            struct group *p = realloc(groups, ga * sizeof *p);
            if (!p)
                return 2;
            groups = p;
        }
        groups[ng].anchor = a;
        groups[ng].count = 1;
        snprintf(groups[ng].example, sizeof groups[ng].example, "%s",
                 (const char *)sqlite3_column_text(st, 1));
        ng++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);

    printf("input_bytes=%zu normalised_bytes=%zu lines=%zu tokens=%zu distinct_tokens=%zu "
           "signatures=%ld unanchored=%ld anchored_candidates=%ld candidates=%ld "
           "distinct_anchors_hit=%zu\n",
           len, norm.len, norm.line_count, tokens, h.n, total, unanchored, anchored_hits,
           anchored_hits + unanchored, ng);
    if (ng)
        qsort(groups, ng, sizeof *groups, cmp_group);
    for (size_t i = 0; i < ng && i < 8; i++)
        printf("  %6ld signatures share an anchor, e.g. %s\n", groups[i].count, groups[i].example);
    free(groups);
    free(h.v);
    kb_norm_release(&norm);
    free(text);
    return 0;
}
