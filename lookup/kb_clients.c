/*
 * kb_clients.c - the programs a knowledge base knows by the text they print (kb-client
 * blocks, compiled into the client table: kb_schema.h), read once when the database is
 * opened, and the client a text shows.
 *
 * Which mail libraries, servers and tools exist is knowledge, so it lives in the articles
 * (the shipped ones in kb/clients.md), not here: a team's KB declares the program its own
 * application sends with. kb_facts.c asks this file for the client fact, its role, and
 * whether the client's words say the text is about SMTP; it finds the words in the same pass
 * over the text as its own cues (kb_clients_words), so a KB's clients cost no pass of their
 * own.
 */
#include <stdlib.h>
#include <string.h>

#include "kb_internal.h"

/* Bounds on what one database may declare: a damaged or hostile database must not make every
 * lookup search for a million words. */
#define MAX_CLIENTS 1000
#define MAX_WORDS 4000

void kb_clients_release(struct kb_clients *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++) {
        free(set->items[i].id);
        free(set->items[i].name);
    }
    for (size_t i = 0; i < set->word_count; i++)
        free(set->words[i].text);
    free(set->items);
    free(set->words);
    free(set->texts);
    kb_literal_set_free(set->scan);
    memset(set, 0, sizeof *set);
}

static enum kb_client_role role_of(const char *role)
{
    if (role && strcmp(role, "mail-server") == 0)
        return KB_CLIENT_MAIL_SERVER;
    if (role && strcmp(role, "tool") == 0)
        return KB_CLIENT_TOOL;
    return KB_CLIENT_MAILER;
}

/* Appends the comma-separated words of list to set->words, for client index ci. */
static enum kb_status add_words(struct kb_clients *set, size_t ci, const char *list, int smtp)
{
    size_t len;
    for (const char *cursor = list ? list : "", *p; (p = kb_list_next(&cursor, &len));) {
        if (set->word_count >= MAX_WORDS)
            return KB_OK;
        struct kb_client_word *w = realloc(set->words, (set->word_count + 1) * sizeof *w);
        if (!w)
            return KB_ERR_NOMEM;
        set->words = w;
        w = &set->words[set->word_count];
        if (!(w->text = malloc(len + 1)))
            return KB_ERR_NOMEM;
        memcpy(w->text, p, len);
        w->text[len] = '\0';
        w->len = len;
        w->client = ci;
        w->smtp = smtp;
        set->word_count++;
    }
    return KB_OK;
}

enum kb_status kb_clients_add(struct kb_clients *set, const char *id, const char *name,
                              const char *role, const char *words, const char *smtp_words)
{
    if (set->count >= MAX_CLIENTS)
        return KB_OK;
    struct kb_client_decl *items = realloc(set->items, (set->count + 1) * sizeof *items);
    if (!items)
        return KB_ERR_NOMEM;
    set->items = items;
    struct kb_client_decl *c = &items[set->count];
    c->id = strdup(id);
    c->name = strdup(name && *name ? name : id);
    c->role = role_of(role);
    set->count++; /* released with the set from here on */
    if (!c->id || !c->name)
        return KB_ERR_NOMEM;
    enum kb_status st = add_words(set, set->count - 1, words, 0);
    if (st == KB_OK)
        st = add_words(set, set->count - 1, smtp_words, 1);
    return st;
}

static enum kb_status client_row(sqlite3_stmt *st, void *set)
{
    return kb_clients_add(
        set, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
        (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
        (const char *)sqlite3_column_text(st, 4));
}

enum kb_status kb_clients_load(sqlite3 *sql, const char *label, struct kb_clients *set,
                               struct kb_error *err)
{
    memset(set, 0, sizeof *set);
    enum kb_status status = kb_db_rows_each(
        sql, label, "clients", "SELECT slug, name, role, words, smtp_words FROM client ORDER BY id",
        client_row, set, err);
    if (status != KB_OK)
        kb_clients_release(set);
    return status;
}

/* Does text[0, len) hold word as written? */
static int holds(const char *text, size_t len, const struct kb_client_word *w)
{
    size_t n = w->len;
    for (size_t i = 0; n && i + n <= len;) {
        const char *p = memchr(text + i, w->text[0], len - n + 1 - i);
        if (!p)
            return 0;
        if (memcmp(p, w->text, n) == 0)
            return 1;
        i = (size_t)(p - text) + 1;
    }
    return 0;
}

const struct kb_client_decl *kb_clients_detect(const struct kb_clients *set, const char *text,
                                               size_t len, const unsigned char *found_caseless,
                                               int *smtp)
{
    *smtp = 0;
    const struct kb_client_decl *client = NULL;
    size_t best = SIZE_MAX;
    /* the first client in declaration order with a word in the text; its SMTP words too */
    for (size_t i = 0; set && i < set->word_count; i++) {
        const struct kb_client_word *w = &set->words[i];
        if (w->client > best || (found_caseless && !found_caseless[i]) || !holds(text, len, w))
            continue;
        if (w->client < best) {
            best = w->client;
            client = &set->items[best];
            *smtp = 0;
        }
        *smtp |= w->smtp;
    }
    return client;
}

enum kb_client_role kb_clients_role(const struct kb_clients *set, const char *name)
{
    for (size_t i = 0; set && name && i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0)
            return set->items[i].role;
    return KB_CLIENT_MAILER;
}
