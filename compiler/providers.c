/*
 * providers.c - the providers a knowledge base declares: kb-provider blocks (kb/README.md), read
 * from any article (the shipped ones are in kb/providers.md), checked across the KB, and
 * written to the provider table (kb_schema.h) that lookup reads to tell which provider a text
 * names.
 *
 * The list is open: a team's KB, alone or compiled together with the shipped articles,
 * declares its own relay and names it in its entries' provider: lines. parse.c hands each
 * kb-provider block to kbc_provider_parse; validate.c checks entries' provider: values with
 * kbc_provider_find; write.c stores the table with kbc_providers_write.
 *
 * A block may also give the provider's submission server (submission: smtp.gmail.com:587):
 * when a text shows the provider but not the server the application used, lookup fills the
 * verify command with it rather than a placeholder.
 */
#include <stdlib.h>
#include <string.h>

#include "kbc.h"

/* The one provider value that names no provider: an entry for every one. */
#define KBC_PROVIDER_ANY "any"

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
           || c == '.';
}

/* A host name or domain: letters, digits, hyphens, at least two labels, no empty label. */
static int is_host(const char *s, size_t n)
{
    int dot = 0;
    for (size_t i = 0; i < n; i++) {
        if (!host_char(s[i]))
            return 0;
        if (s[i] == '.') {
            if (i == 0 || i + 1 == n || s[i - 1] == '.')
                return 0;
            dot = 1;
        }
    }
    return n > 0 && dot && s[0] != '-' && s[n - 1] != '-';
}

/* "host:port" of a submission server: a host name (is_host), a port from 1 to 65535. The host
 * is stored lowercase, as hosts: are. */
static int parse_submission(const char *v, size_t n, char **host, int *port)
{
    const char *colon = memchr(v, ':', n);
    if (!colon || !is_host(v, (size_t)(colon - v)))
        return 0;
    size_t hlen = (size_t)(colon - v), i = hlen + 1;
    long value = 0;
    if (i == n || n - i > 5)
        return 0;
    for (; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        value = value * 10 + (v[i] - '0');
    }
    if (value < 1 || value > 65535)
        return 0;
    free(*host);
    if (!(*host = kbc_strndup(v, hlen)))
        return -1;
    for (char *c = *host; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    *port = (int)value;
    return 1;
}

const struct kbc_provider *kbc_provider_find(const struct kbc_kb *kb, const char *id, size_t len)
{
    for (size_t i = 0; i < kb->provider_count; i++)
        if (strlen(kb->providers[i].id) == len && strncmp(kb->providers[i].id, id, len) == 0)
            return &kb->providers[i];
    return NULL;
}

enum kb_status kbc_providers_list(const struct kbc_kb *kb, struct kb_buf *out)
{
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < kb->provider_count && st == KB_OK; i++) {
        const char *id = kb->providers[i].id;
        if (kbc_provider_find(kb, id, strlen(id)) == &kb->providers[i]) /* once each */
            st = kb_buf_printf(out, "%s%s", out->len ? ", " : "", id);
    }
    return st;
}

/* One value of the block: splits hosts: and words: at commas into "a,b" (hosts lowercased
 * and checked), copies id: and name: trimmed. */
static enum kb_status provider_value(struct kbc_provider *pv, int key, const char *v, size_t n,
                                     const char *path, size_t line, size_t col,
                                     struct kbc_diags *diags)
{
    char **field = key == 0 ? &pv->id : key == 1 ? &pv->name : key == 2 ? &pv->hosts : &pv->words;
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    enum kb_status st = KB_OK;
    if (key < 2) {
        st = kb_buf_append(&buf, v, n);
    } else {
        for (size_t i = 0; i <= n && st == KB_OK;) {
            size_t start = i;
            while (i < n && v[i] != ',')
                i++;
            size_t s = start, e = i;
            while (s < e && blank(v[s]))
                s++;
            while (e > s && blank(v[e - 1]))
                e--;
            i++;
            if (s == e)
                continue;
            if (key == 2 && !is_host(v + s, e - s)) {
                kbc_diag(diags, KBC_ERROR, path, line, col + s,
                         "'%.*s' is not a host name (letters, digits, hyphens and dots, such as "
                         "smtp.example.com); put other text that names the provider under words:",
                         (int)(e - s), v + s);
                continue;
            }
            if (buf.len)
                st = kb_buf_append_char(&buf, ',');
            for (size_t k = s; k < e && st == KB_OK; k++) {
                char c = v[k];
                if (key == 2 && c >= 'A' && c <= 'Z')
                    c = (char)(c - 'A' + 'a'); /* hosts are caseless: stored lowercase */
                st = kb_buf_append_char(&buf, c);
            }
        }
    }
    if (st == KB_OK) {
        free(*field);
        *field = NULL;
        st = kb_buf_detach(&buf, field);
    }
    kb_buf_release(&buf);
    return st;
}

/* What the reading of one kb-provider block gathers. */
struct provider_reading {
    struct kbc_provider pv;
    const char *path;
    int usable; /* the id is well formed and not 'any': the provider can be named */
};

enum { KEY_ID, KEY_NAME, KEY_HOSTS, KEY_WORDS, KEY_SUBMISSION };

static enum kb_status provider_key(void *ctx, size_t key, const char *v, size_t n, size_t line,
                                   size_t col, struct kbc_diags *diags)
{
    struct provider_reading *r = ctx;
    const char *path = r->path;
    if (key == KEY_ID) {
        r->pv.id_line = line;
        r->pv.id_col = col;
        r->usable = 0;
        if (!kbc_id_valid(v, n))
            kbc_diag(diags, KBC_ERROR, path, line, col,
                     "malformed provider id '%.*s' (lowercase letters, digits and single "
                     "hyphens, at most %d characters)",
                     (int)n, v, KBC_MAX_ID_LEN);
        else if (n == strlen(KBC_PROVIDER_ANY) && strncmp(v, KBC_PROVIDER_ANY, n) == 0)
            kbc_diag(diags, KBC_ERROR, path, line, col,
                     "provider id 'any' is taken: it names every provider in an entry's "
                     "provider: line");
        else
            r->usable = 1;
    }
    if (key == KEY_SUBMISSION) {
        int ok = parse_submission(v, n, &r->pv.submission_host, &r->pv.submission_port);
        if (ok < 0)
            return KB_ERR_NOMEM;
        if (!ok)
            kbc_diag(diags, KBC_ERROR, path, line, col,
                     "bad submission server '%.*s' (expected host:port, such as "
                     "smtp.example.com:587)",
                     (int)n, v);
        return KB_OK;
    }
    return provider_value(&r->pv, (int)key, v, n, path, line, col, diags);
}

enum kb_status kbc_provider_parse(struct kbc_kb *kb, const struct kbc_file *file, const char *text,
                                  size_t line, size_t col, struct kbc_diags *diags)
{
    static const char *const keys[] = {"id", "name", "hosts", "words", "submission"};
    const char *path = file->display;
    struct provider_reading r = {.pv = {.file = file, .line = line, .col = col}, .path = path};
    struct kbc_keyed_block block = {"kb-provider", path, keys, 5, provider_key, &r};
    unsigned seen;
    enum kb_status st = kbc_keyed_block_read(&block, text, line, col, diags, &seen);
    struct kbc_provider pv = r.pv;
    if (st == KB_OK && !(seen & 1u))
        kbc_diag(diags, KBC_ERROR, path, line, col, "kb-provider block has no id");
    if (st == KB_OK && (seen & 1u) && (!pv.name || !pv.name[0]))
        kbc_diag(diags, KBC_ERROR, path, line, col,
                 "kb-provider block of '%s' has no name (the provider's name as people know it, "
                 "e.g. name: Microsoft 365)",
                 pv.id);
    struct kbc_provider *items = NULL;
    if (st == KB_OK && r.usable) {
        if (!(pv.name || (pv.name = kbc_strndup("", 0)))
            || !(pv.hosts || (pv.hosts = kbc_strndup("", 0)))
            || !(pv.words || (pv.words = kbc_strndup("", 0)))
            || !(pv.submission_host || (pv.submission_host = kbc_strndup("", 0)))
            || !(items = kbc_grow(kb->providers, &kb->provider_alloc, kb->provider_count,
                                  sizeof *items)))
            st = KB_ERR_NOMEM;
    }
    if (items) {
        kb->providers = items;
        items[kb->provider_count++] = pv;
        return KB_OK;
    }
    free(pv.id);
    free(pv.name);
    free(pv.hosts);
    free(pv.words);
    free(pv.submission_host);
    return st;
}

void kbc_providers_check(const struct kbc_kb *kb, struct kbc_diags *diags)
{
    for (size_t i = 1; i < kb->provider_count; i++) {
        const struct kbc_provider *p = &kb->providers[i];
        const struct kbc_provider *first = kbc_provider_find(kb, p->id, strlen(p->id));
        if (first != p)
            kbc_diag(diags, KBC_ERROR, p->file->display, p->id_line, p->id_col,
                     "duplicate provider '%s' (first declared at %s:%zu:%zu)", p->id,
                     first->file->display, first->id_line, first->id_col);
    }
}

void kbc_providers_release(struct kbc_kb *kb)
{
    for (size_t i = 0; i < kb->provider_count; i++) {
        free(kb->providers[i].id);
        free(kb->providers[i].name);
        free(kb->providers[i].hosts);
        free(kb->providers[i].words);
        free(kb->providers[i].submission_host);
    }
    free(kb->providers);
    kb->providers = NULL;
    kb->provider_count = kb->provider_alloc = 0;
}

enum kb_status kbc_providers_write(sqlite3 *db, const struct kbc_kb *kb, struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    enum kb_status status = KB_OK;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO provider(id, slug, name, hosts, words, submission_host,"
                           " submission_port, path, line)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                           -1, &st, NULL)
        != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < kb->provider_count; i++) {
        const struct kbc_provider *p = &kb->providers[i];
        /* a duplicate is an error already; the first declaration is the one lookup uses */
        if (kbc_provider_find(kb, p->id, strlen(p->id)) != p)
            continue;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
        sqlite3_bind_text(st, 2, p->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, p->hosts, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, p->words, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, p->submission_host, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 7, p->submission_port);
        sqlite3_bind_text(st, 8, p->file->rel, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 9, (sqlite3_int64)p->line);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto fail;
    }
    sqlite3_finalize(st);
    return KB_OK;
fail:
    err->status = status = KB_ERR_DB;
    snprintf(err->message, sizeof err->message, "cannot store the providers: %s",
             sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return status;
}
