/*
 * kb_providers.c - the providers a knowledge base declares (kb-provider blocks, compiled into
 * the provider table: kb_schema.h), read once when the database is opened, and the provider
 * a text names.
 *
 * Which mail services and servers exist is knowledge, so it lives in the articles, not here:
 * a team's KB declares its own relay next to the shipped ones. kb_facts.c asks this file for
 * the provider fact; ranking then prefers the entries whose provider facet names it.
 */
#include <stdlib.h>
#include <string.h>

#include "kb_internal.h"

/* Bounds on what one database may declare: a provider table is a short list, and a damaged or
 * hostile database must not make every lookup scan the text a million times. */
#define MAX_PROVIDERS 1000
#define MAX_NEEDLES_PER_PROVIDER 100

static void provider_release(struct kb_provider_decl *p)
{
    free(p->id);
    free(p->name);
    free(p->submission_host);
    for (size_t i = 0; i < p->host_count; i++)
        free(p->hosts[i]);
    free(p->hosts);
    for (size_t i = 0; i < p->word_count; i++)
        free(p->words[i]);
    free(p->words);
}

void kb_providers_release(struct kb_providers *set)
{
    for (size_t i = 0; set && i < set->count; i++)
        provider_release(&set->items[i]);
    if (set) {
        free(set->items);
        kb_literal_set_free(set->scan);
        free(set->needles);
        free(set->needle_of);
        memset(set, 0, sizeof *set);
    }
}

/* Splits a comma-separated list (kb_list_next) into heap strings. */
static enum kb_status split_list(const char *list, char ***out, size_t *count)
{
    size_t n = 0, len;
    const char *cursor = list;
    while (kb_list_next(&cursor, &len) && n < MAX_NEEDLES_PER_PROVIDER)
        n++;
    *out = NULL;
    *count = 0;
    if (!n)
        return KB_OK;
    if (!(*out = calloc(n, sizeof **out)))
        return KB_ERR_NOMEM;
    cursor = list;
    for (const char *p; *count < n && (p = kb_list_next(&cursor, &len));) {
        char *s = malloc(len + 1);
        if (!s)
            return KB_ERR_NOMEM;
        memcpy(s, p, len);
        s[len] = '\0';
        (*out)[(*count)++] = s;
    }
    return KB_OK;
}

enum kb_status kb_providers_add(struct kb_providers *set, const char *id, const char *name,
                                const char *hosts, const char *words, const char *submission_host,
                                int submission_port)
{
    if (set->count >= MAX_PROVIDERS)
        return KB_OK;
    struct kb_provider_decl *items = realloc(set->items, (set->count + 1) * sizeof *items);
    if (!items)
        return KB_ERR_NOMEM;
    set->items = items;
    struct kb_provider_decl *p = &items[set->count];
    memset(p, 0, sizeof *p);
    enum kb_status st = KB_ERR_NOMEM;
    if ((p->id = strdup(id)) && (p->name = strdup(name ? name : id))
        && (st = split_list(hosts ? hosts : "", &p->hosts, &p->host_count)) == KB_OK)
        st = split_list(words ? words : "", &p->words, &p->word_count);
    /* a port only with its host, and only a port a server can have */
    if (st == KB_OK && submission_host && *submission_host && submission_port > 0
        && submission_port < 65536) {
        if ((p->submission_host = strdup(submission_host)))
            p->submission_port = submission_port;
        else
            st = KB_ERR_NOMEM;
    }
    if (st != KB_OK) {
        provider_release(p);
        return st;
    }
    set->count++;
    return KB_OK;
}

static enum kb_status provider_row(sqlite3_stmt *st, void *set)
{
    return kb_providers_add(
        set, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
        (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
        (const char *)sqlite3_column_text(st, 4), sqlite3_column_int(st, 5));
}

enum kb_status kb_providers_load(sqlite3 *sql, const char *label, struct kb_providers *set,
                                 struct kb_error *err)
{
    memset(set, 0, sizeof *set);
    enum kb_status status = kb_db_rows_each(
        sql, label, "providers",
        "SELECT slug, name, hosts, words, submission_host, submission_port FROM provider "
        "ORDER BY id",
        provider_row, set, err);
    if (status != KB_OK)
        kb_providers_release(set);
    return status;
}

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Does the text name this host (lowercase, as the compiler stores it), or a host below it
 * ("eur03.prod.outlook.com" for "outlook.com")? Caseless, as DNS names are, and not inside a
 * longer name ("myoutlook.com"). memchr finds the candidates for both cases of the first
 * letter, so a long text is read at memchr's speed. */
static int names_host(const char *text, size_t len, const char *host)
{
    size_t n = strlen(host);
    if (!n || n > len)
        return 0;
    char first = host[0], upper = first >= 'a' && first <= 'z' ? (char)(first - 'a' + 'A') : first;
    const char *end = text + len - n + 1; /* candidates start before end */
    const char *lo = memchr(text, first, (size_t)(end - text));
    const char *up = upper != first ? memchr(text, upper, (size_t)(end - text)) : NULL;
    while (lo || up) {
        const char *p = !up || (lo && lo < up) ? lo : up;
        size_t k = 1;
        while (k < n && lower(p[k]) == host[k])
            k++;
        if (k == n && (p == text || !host_char(p[-1])) && (p + n == text + len || !host_char(p[n])))
            return 1;
        if (p == lo)
            lo = p + 1 < end ? memchr(p + 1, first, (size_t)(end - p - 1)) : NULL;
        else
            up = p + 1 < end ? memchr(p + 1, upper, (size_t)(end - p - 1)) : NULL;
    }
    return 0;
}

/* Does the text hold this word as written (case counts: "Microsoft.Exchange")? */
static int holds_word(const char *text, size_t len, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; n && i + n <= len; i++) {
        const char *p = memchr(text + i, word[0], len - n + 1 - i);
        if (!p)
            return 0;
        i = (size_t)(p - text);
        if (memcmp(p, word, n) == 0)
            return 1;
    }
    return 0;
}

/* From this length on, a text is searched for every name at once, in one pass. Each name is
 * otherwise a search of its own (at memchr's speed, but a call per occurrence of its first
 * letter: 70M instructions for a MiB of "anonymous" lines); the one pass pays for building its
 * tables (once per handle) only where texts are long. */
#define PROVIDER_SCAN_MIN (64 * 1024)

/* set->scan, built once: every host and word, in the order detect reads them, with the
 * provider of each. 0, or -1 when it cannot be built (out of memory, more names than a set
 * holds): then each name is searched for on its own, as in a short text. */
static int providers_scan_build(struct kb_providers *set)
{
    if (set->scan)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < set->count; i++)
        n += set->items[i].host_count + set->items[i].word_count;
    if (!n || !(set->needles = malloc(n * sizeof *set->needles))
        || !(set->needle_of = malloc(n * sizeof *set->needle_of))) {
        free(set->needles);
        set->needles = NULL;
        return -1;
    }
    n = 0;
    for (size_t i = 0; i < set->count; i++) {
        const struct kb_provider_decl *p = &set->items[i];
        for (size_t k = 0; k < p->host_count + p->word_count; k++) {
            set->needle_of[n] = i;
            set->needles[n++] = k < p->host_count ? p->hosts[k] : p->words[k - p->host_count];
        }
    }
    /* caseless: a host is named in any case; a word, held as written, is checked at each hit */
    if (!(set->scan = kb_literal_set_new(set->needles, n, 1))) {
        free(set->needles);
        free(set->needle_of);
        set->needles = NULL;
        set->needle_of = NULL;
        return -1;
    }
    return 0;
}

struct provider_hits {
    const struct kb_providers *set;
    const char *text;
    size_t len;
    size_t best; /* the first provider named so far (set->count: none) */
};

/* kb_literal_set_scan's callback: is the name found at offset named as names_host or
 * holds_word would have it? Stops the pass once the first provider is named (none can come
 * before it). */
static int provider_hit(size_t index, size_t offset, void *arg)
{
    struct provider_hits *h = arg;
    size_t i = h->set->needle_of[index];
    if (i >= h->best)
        return 0;
    const struct kb_provider_decl *p = &h->set->items[i];
    const char *needle = h->set->needles[index], *at = h->text + offset;
    size_t n = strlen(needle);
    int host = 0;
    for (size_t k = 0; k < p->host_count && !host; k++)
        host = p->hosts[k] == needle;
    int named =
        host ? (at == h->text || !host_char(at[-1])) && (offset + n == h->len || !host_char(at[n]))
             : memcmp(at, needle, n) == 0;
    if (named)
        h->best = i;
    return named && i == 0;
}

const struct kb_provider_decl *kb_providers_detect(struct kb_providers *set, const char *text,
                                                   size_t len)
{
    if (!set || !set->count)
        return NULL;
    if (len >= PROVIDER_SCAN_MIN && providers_scan_build(set) == 0) {
        struct provider_hits h = {set, text, len, set->count};
        if (kb_literal_set_scan(set->scan, text, len, provider_hit, &h) >= 0)
            return h.best < set->count ? &set->items[h.best] : NULL;
    }
    for (size_t i = 0; i < set->count; i++) {
        const struct kb_provider_decl *p = &set->items[i];
        for (size_t k = 0; k < p->host_count; k++)
            if (names_host(text, len, p->hosts[k]))
                return p;
        for (size_t k = 0; k < p->word_count; k++)
            if (holds_word(text, len, p->words[k]))
                return p;
    }
    return NULL;
}
