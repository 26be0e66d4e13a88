/*
 * clients.c - the programs a knowledge base knows by the text they print: kb-client blocks
 * (kb/README.md; the shipped ones are in kb/clients.md), read from any article, checked across
 * the KB and written to the client table (kb_schema.h) that lookup reads to tell which program
 * printed a pasted text.
 *
 * Which mail libraries, servers and tools exist, and which of their messages speak SMTP only,
 * is knowledge: it belongs in the articles, where a team adds the program its own application
 * uses, not in the engine. parse.c hands each kb-client block to kbc_client_parse;
 * validate.c calls kbc_clients_check; write.c stores the table with kbc_clients_write.
 */
#include <stdlib.h>
#include <string.h>

#include "kbc.h"

/* What each role means to lookup (kb_clients.c): a mailer's failure reply is its own
 * submission failing; a mail server's log may be about a delivery between servers; a tool's
 * name alone does not say the text is about mail. */
static const char *const roles[] = {"mailer", "mail-server", "tool"};
#define ROLE_COUNT (sizeof roles / sizeof roles[0])

enum { KEY_ID, KEY_NAME, KEY_ROLE, KEY_WORDS, KEY_SMTP_WORDS, KEY_COUNT };

struct client_reading {
    struct kbc_client cl;
    const char *path;
    int usable; /* the id is well formed */
};

static enum kb_status client_key(void *ctx, size_t key, const char *v, size_t n, size_t line,
                                 size_t col, struct kbc_diags *diags)
{
    struct client_reading *r = ctx;
    char **field = key == KEY_ID      ? &r->cl.id
                   : key == KEY_NAME  ? &r->cl.name
                   : key == KEY_ROLE  ? &r->cl.role
                   : key == KEY_WORDS ? &r->cl.words
                                      : &r->cl.smtp_words;
    if (key == KEY_ID) {
        r->cl.id_line = line;
        r->cl.id_col = col;
        r->usable = kbc_id_valid(v, n);
        if (!r->usable)
            kbc_diag(diags, KBC_ERROR, r->path, line, col,
                     "malformed client id '%.*s' (lowercase letters, digits and single "
                     "hyphens, at most %d characters)",
                     (int)n, v, KBC_MAX_ID_LEN);
    }
    if (key == KEY_ROLE) {
        size_t i = 0;
        while (i < ROLE_COUNT && !(strlen(roles[i]) == n && strncmp(roles[i], v, n) == 0))
            i++;
        if (i == ROLE_COUNT) {
            kbc_diag(diags, KBC_ERROR, r->path, line, col,
                     "unknown client role '%.*s' (expected mailer, mail-server or tool)", (int)n,
                     v);
            return KB_OK;
        }
    }
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    enum kb_status st = key == KEY_WORDS || key == KEY_SMTP_WORDS ? kbc_keyed_list(v, n, &buf)
                                                                  : kb_buf_append(&buf, v, n);
    if (st == KB_OK) {
        free(*field);
        *field = NULL;
        st = kb_buf_detach(&buf, field);
    }
    kb_buf_release(&buf);
    return st;
}

static void client_free(struct kbc_client *cl)
{
    free(cl->id);
    free(cl->name);
    free(cl->role);
    free(cl->words);
    free(cl->smtp_words);
}

enum kb_status kbc_client_parse(struct kbc_kb *kb, const struct kbc_file *file, const char *text,
                                size_t line, size_t col, struct kbc_diags *diags)
{
    static const char *const keys[KEY_COUNT] = {"id", "name", "role", "words", "smtp-words"};
    const char *path = file->display;
    struct client_reading r = {.cl = {.file = file, .line = line, .col = col}, .path = path};
    struct kbc_keyed_block block = {"kb-client", path, keys, KEY_COUNT, client_key, &r};
    unsigned seen;
    enum kb_status st = kbc_keyed_block_read(&block, text, line, col, diags, &seen);
    struct kbc_client cl = r.cl;
    if (st == KB_OK && !(seen & (1u << KEY_ID)))
        kbc_diag(diags, KBC_ERROR, path, line, col, "kb-client block has no id");
    else if (st == KB_OK && (!cl.name || !cl.name[0]))
        kbc_diag(diags, KBC_ERROR, path, line, col,
                 "kb-client block of '%s' has no name (the program's name as people know it, "
                 "e.g. name: PHPMailer)",
                 cl.id);
    else if (st == KB_OK && (!cl.words || !cl.words[0]) && (!cl.smtp_words || !cl.smtp_words[0]))
        kbc_diag(diags, KBC_ERROR, path, line, col,
                 "kb-client block of '%s' has no words (the text, as the program prints it, that "
                 "names it: words: for its name, smtp-words: for messages it prints only about "
                 "SMTP)",
                 cl.id);
    struct kbc_client *items = NULL;
    if (st == KB_OK && r.usable && cl.name && cl.name[0]) {
        if (!(cl.role || (cl.role = kbc_strndup("mailer", 6)))
            || !(cl.words || (cl.words = kbc_strndup("", 0)))
            || !(cl.smtp_words || (cl.smtp_words = kbc_strndup("", 0)))
            || !(items = kbc_grow(kb->clients, &kb->client_alloc, kb->client_count, sizeof *items)))
            st = KB_ERR_NOMEM;
    }
    if (items) {
        kb->clients = items;
        items[kb->client_count++] = cl;
        return KB_OK;
    }
    client_free(&cl);
    return st;
}

/* The client of this id declared first, or NULL. */
static const struct kbc_client *client_find(const struct kbc_kb *kb, const char *id)
{
    for (size_t i = 0; i < kb->client_count; i++)
        if (strcmp(kb->clients[i].id, id) == 0)
            return &kb->clients[i];
    return NULL;
}

void kbc_clients_check(const struct kbc_kb *kb, struct kbc_diags *diags)
{
    for (size_t i = 1; i < kb->client_count; i++) {
        const struct kbc_client *c = &kb->clients[i];
        const struct kbc_client *first = client_find(kb, c->id);
        if (first != c)
            kbc_diag(diags, KBC_ERROR, c->file->display, c->id_line, c->id_col,
                     "duplicate client '%s' (first declared at %s:%zu:%zu)", c->id,
                     first->file->display, first->id_line, first->id_col);
    }
}

void kbc_clients_release(struct kbc_kb *kb)
{
    for (size_t i = 0; i < kb->client_count; i++)
        client_free(&kb->clients[i]);
    free(kb->clients);
    kb->clients = NULL;
    kb->client_count = kb->client_alloc = 0;
}

enum kb_status kbc_clients_write(sqlite3 *db, const struct kbc_kb *kb, struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO client(id, slug, name, role, words, smtp_words, path, line)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                           -1, &st, NULL)
        != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < kb->client_count; i++) {
        const struct kbc_client *c = &kb->clients[i];
        if (client_find(kb, c->id) != c) /* a duplicate is an error already */
            continue;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
        sqlite3_bind_text(st, 2, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, c->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, c->role, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, c->words, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, c->smtp_words, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, c->file->rel, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)c->line);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto fail;
    }
    sqlite3_finalize(st);
    return KB_OK;
fail:
    err->status = KB_ERR_DB;
    snprintf(err->message, sizeof err->message, "cannot store the clients: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return KB_ERR_DB;
}
