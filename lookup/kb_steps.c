/*
 * kb_steps.c - the solution as the reader of one text needs it: an entry's provider-specific
 * steps (the byte ranges kb-compile cut out of each rendering, table step) left out when the
 * text shows another provider, and what the KB declares of the provider seen (its name and
 * submission server as its kb-provider block declares them, read with the provider table when
 * the database is opened: kb_providers.c), which placeholders fall back to.
 *
 * Runs after ranking, on the entries of the answer; knows nothing of any provider but the
 * facet values the articles name.
 */
#include <stdlib.h>
#include <string.h>

#include "kb_buf.h"
#include "kb_internal.h"

/* kb_steps_load tells a rendering the handle reads by its form's bit */
_Static_assert(KB_TEXTS_PLAIN == 1 << KB_FORM_TEXT && KB_TEXTS_ANSI == 1 << KB_FORM_ANSI
                   && KB_TEXTS_MARKDOWN == 1 << KB_FORM_MARKDOWN,
               "a form's bit in kb_db_texts_set");

static const char *form_text(const struct kb_entry *e, int f)
{
    return f == KB_FORM_TEXT   ? e->solution_text
           : f == KB_FORM_ANSI ? e->solution_ansi
                               : e->solution_md;
}

static enum kb_status prepare(struct kb_db *db, sqlite3_stmt **st, const char *sql,
                              struct kb_error *err)
{
    if (!*st
        && sqlite3_prepare_v3(db->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return kb_fail_sql(db, err, "not a KB database of the expected layout");
    return KB_OK;
}

enum kb_status kb_steps_load(struct kb_db *db, long long rowid, struct kb_entry *e,
                             struct kb_error *err)
{
    enum kb_status status = prepare(db, &db->steps_by_entry,
                                    "SELECT labels, providers, text_start, text_end, ansi_start, "
                                    "ansi_end, md_start, md_end, part FROM step "
                                    "WHERE entry_id = ?1 ORDER BY id",
                                    err);
    if (status != KB_OK)
        return status;
    sqlite3_stmt *st = db->steps_by_entry;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, rowid);
    size_t alloc = 0;
    int rc;
    while (status == KB_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (e->step_count == alloc) {
            size_t n = alloc ? alloc * 2 : 8;
            struct kb_step *grown = realloc(e->steps, n * sizeof *grown);
            if (!grown) {
                status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
                break;
            }
            e->steps = grown;
            alloc = n;
        }
        struct kb_step *s = &e->steps[e->step_count];
        memset(s, 0, sizeof *s);
        const char *labels = (const char *)sqlite3_column_text(st, 0);
        const char *providers = (const char *)sqlite3_column_text(st, 1);
        s->labels = strdup(labels ? labels : "");
        s->providers = strdup(providers ? providers : "");
        s->part = sqlite3_column_int(st, 8);
        e->step_count++;
        if (!s->labels || !s->providers) {
            status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
            break;
        }
        /* the ranges are used to copy bytes: each must lie within its text and hold whole
         * lines, or the database is damaged; a rendering the handle does not read
         * (kb_db_texts_set: form f's bit is 1 << f) is "", its ranges empty */
        for (int f = 0; f < 3 && status == KB_OK; f++) {
            if (!(db->texts & (1u << f))) {
                s->start[f] = s->end[f] = 0;
                continue;
            }
            sqlite3_int64 a = sqlite3_column_int64(st, 2 + 2 * f);
            sqlite3_int64 b = sqlite3_column_int64(st, 3 + 2 * f);
            const char *text = form_text(e, f);
            size_t len = strlen(text);
            if (a < 0 || b < a || (size_t)b > len || (a > 0 && text[a - 1] != '\n'))
                status =
                    kb_fail(err, KB_ERR_DB, "%s: damaged step of entry '%s'", db->label, e->id);
            s->start[f] = (size_t)a;
            s->end[f] = (size_t)b;
        }
    }
    if (status == KB_OK && rc != SQLITE_DONE)
        status = kb_fail_sql(db, err, "cannot read the steps of an entry");
    sqlite3_reset(st);
    return status;
}

/* A copy of column i of st ("" for NULL). */
static char *column_copy(sqlite3_stmt *st, int i)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    return strdup(v ? v : "");
}

void kb_fix_release(struct kb_entry *e)
{
    for (size_t i = 0; i < e->fix_count; i++) {
        struct kb_fix_step *f = &e->fix[i];
        free(f->providers);
        free(f->text);
        free(f->markdown);
        for (size_t k = 0; k < f->command_count; k++)
            free(f->commands[k]);
        free(f->commands);
    }
    free(e->fix);
    e->fix = NULL;
    e->fix_count = 0;
}

enum kb_status kb_fix_load(struct kb_db *db, long long rowid, const char *lang, struct kb_entry *e,
                           struct kb_error *err)
{
    kb_fix_release(e);
    enum kb_status status =
        prepare(db, &db->fix_by_entry,
                "SELECT s.id, s.part, s.number, s.providers, s.text, s.md, c.text "
                "FROM fix_step s LEFT JOIN fix_command c ON c.step_id = s.id "
                "WHERE s.entry_id = ?1 AND s.lang = ?2 ORDER BY s.id, c.id",
                err);
    if (status != KB_OK)
        return status;
    sqlite3_stmt *st = db->fix_by_entry;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_text(st, 2, lang, -1, SQLITE_STATIC);
    size_t alloc = 0, cmd_alloc = 0;
    sqlite3_int64 last = -1;
    int rc = SQLITE_DONE;
    while (status == KB_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(st, 0);
        if (id != last) {
            if (e->fix_count == alloc) {
                size_t n = alloc ? alloc * 2 : 8;
                struct kb_fix_step *grown = realloc(e->fix, n * sizeof *grown);
                if (!grown) {
                    status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
                    break;
                }
                e->fix = grown;
                alloc = n;
            }
            struct kb_fix_step *f = &e->fix[e->fix_count++];
            memset(f, 0, sizeof *f);
            f->part = sqlite3_column_int(st, 1);
            f->number = (long)sqlite3_column_int64(st, 2);
            f->providers = column_copy(st, 3);
            f->text = column_copy(st, 4);
            f->markdown = column_copy(st, 5);
            cmd_alloc = 0;
            last = id;
            if (!f->providers || !f->text || !f->markdown) {
                status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
                break;
            }
        }
        if (sqlite3_column_type(st, 6) == SQLITE_NULL)
            continue;
        struct kb_fix_step *f = &e->fix[e->fix_count - 1];
        if (f->command_count == cmd_alloc) {
            size_t n = cmd_alloc ? cmd_alloc * 2 : 4;
            char **grown = realloc(f->commands, n * sizeof *grown);
            if (!grown) {
                status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
                break;
            }
            f->commands = grown;
            cmd_alloc = n;
        }
        if (!(f->commands[f->command_count] = column_copy(st, 6))) {
            status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
            break;
        }
        f->command_count++;
    }
    if (status == KB_OK && rc != SQLITE_DONE)
        status = kb_fail_sql(db, err, "cannot read the structure of a solution");
    sqlite3_reset(st);
    return status;
}

/* Appends the items of the comma-separated list to buf (sep between items) unless present. */
static enum kb_status add_items(struct kb_buf *buf, const char *list, const char *sep)
{
    enum kb_status status = KB_OK;
    size_t len;
    size_t sep_len = strlen(sep);
    for (const char *item; status == KB_OK && (item = kb_list_next(&list, &len));) {
        int have = 0;
        const char *cur = buf->data ? buf->data : "";
        const char *end = cur + buf->len;
        while (!have && cur < end) {
            const char *next = strstr(cur, sep);
            size_t n = next ? (size_t)(next - cur) : (size_t)(end - cur);
            have = n == len && strncmp(cur, item, len) == 0;
            cur = next ? next + sep_len : end;
        }
        if (have)
            continue;
        if (buf->len)
            status = kb_buf_append_str(buf, sep);
        if (status == KB_OK)
            status = kb_buf_append(buf, item, len);
    }
    return status;
}

/* When the line that ends at end (exclusive, after its '\n') is blank and starts after start:
 * where it starts; else 0. */
static size_t blank_line_before(const char *text, size_t start, size_t end)
{
    if (end <= start || text[end - 1] != '\n')
        return 0;
    size_t b = end - 1;
    while (b > start && text[b - 1] != '\n') {
        if (text[b - 1] != ' ')
            return 0;
        b--;
    }
    return b > start ? b : 0;
}

void kb_selection_release(struct kb_selection *s)
{
    if (!s)
        return;
    free(s->text);
    for (size_t i = 0; i < s->gap_count; i++) {
        free(s->gaps[i].labels);
        free(s->gaps[i].providers);
    }
    free(s->gaps);
    free(s->kept);
    memset(s, 0, sizeof *s);
}

/* Adds a gap for step s (at text offset buf->len) to out, or extends the last one. */
static enum kb_status add_gap(struct kb_selection *out, size_t *alloc, int joins, size_t offset,
                              size_t kept, const char *text, const struct kb_step *s,
                              enum kb_form f)
{
    if (!joins) {
        if (out->gap_count == *alloc) {
            size_t n = *alloc ? *alloc * 2 : 4;
            struct kb_gap *grown = realloc(out->gaps, n * sizeof *grown);
            if (!grown)
                return KB_ERR_NOMEM;
            out->gaps = grown;
            *alloc = n;
        }
        struct kb_gap *g = &out->gaps[out->gap_count++];
        memset(g, 0, sizeof *g);
        g->offset = offset;
        g->kept = kept;
        while (s->start[f] + g->indent < s->end[f] && text[s->start[f] + g->indent] == ' ')
            g->indent++;
    }
    struct kb_gap *g = &out->gaps[out->gap_count - 1];
    struct kb_buf labels, providers;
    kb_buf_init(&labels, 0);
    kb_buf_init(&providers, 0);
    enum kb_status status = kb_buf_append_str(&labels, g->labels ? g->labels : "");
    if (status == KB_OK)
        status = kb_buf_append_str(&providers, g->providers ? g->providers : "");
    if (status == KB_OK)
        status = add_items(&labels, s->labels, ", ");
    if (status == KB_OK)
        status = add_items(&providers, s->providers, ",");
    if (status == KB_OK) {
        free(g->labels);
        free(g->providers);
        g->labels = g->providers = NULL;
        if (kb_buf_detach(&labels, &g->labels) != KB_OK
            || kb_buf_detach(&providers, &g->providers) != KB_OK)
            status = KB_ERR_NOMEM;
    }
    kb_buf_release(&labels);
    kb_buf_release(&providers);
    return status;
}

enum kb_status kb_solution_select(const struct kb_entry *e, enum kb_form f, const char *provider,
                                  struct kb_selection *out)
{
    memset(out, 0, sizeof *out);
    const char *text = form_text(e, (int)f);
    size_t len = strlen(text);
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    enum kb_status status = KB_OK;
    /* at: how much of text is copied or left out; a kept step is open until its end is
     * copied; a gap is extended by the next step left out when nothing came between */
    size_t at = 0, gap_alloc = 0, kept_alloc = 0, kept_end = 0, cut_end = 0, cut_len = 0;
    int kept_open = 0;
    for (size_t i = 0; provider && i <= e->step_count && status == KB_OK; i++) {
        const struct kb_step *s = i < e->step_count ? &e->steps[i] : NULL;
        if (s && s->start[f] == s->end[f])
            continue;
        if (kept_open && (!s || s->start[f] >= kept_end)) {
            if (kept_end > at) {
                status = kb_buf_append(&buf, text + at, kept_end - at);
                at = kept_end;
            }
            out->kept[out->kept_count++].end = buf.len;
            kept_open = 0;
        }
        /* the end; or inside a step already left out (steps are in document order) */
        if (!s || status != KB_OK || s->start[f] < at)
            continue;
        if (kb_list_contains(s->providers, provider)) {
            if (kept_open) /* inside a kept step: kept with it */
                continue;
            if (out->kept_count == kept_alloc) {
                size_t n = kept_alloc ? kept_alloc * 2 : 4;
                struct kb_kept *grown = realloc(out->kept, n * sizeof *grown);
                if (!grown) {
                    status = KB_ERR_NOMEM;
                    break;
                }
                out->kept = grown;
                kept_alloc = n;
            }
            status = kb_buf_append(&buf, text + at, s->start[f] - at);
            at = s->start[f];
            out->kept[out->kept_count] = (struct kb_kept){buf.len, 0, i};
            kept_end = s->end[f];
            kept_open = 1;
            continue;
        }
        /* steps left out one after the other make one gap, not across a kept step's end */
        size_t in_kept = kept_open ? out->kept_count + 1 : 0;
        int joins = out->gap_count && s->start[f] == cut_end && buf.len == cut_len
                    && out->gaps[out->gap_count - 1].kept == in_kept;
        if (!joins)
            status = kb_buf_append(&buf, text + at, s->start[f] - at);
        if (status == KB_OK)
            status = add_gap(out, &gap_alloc, joins, buf.len, in_kept, text, s, f);
        at = s->end[f];
        /* a step taken with the blank line after it, from text that does not end in one (the
         * last item of a tight list before a heading): the blank line stays, after the gap */
        size_t blank = at;
        while (blank > s->start[f] && blank_line_before(text, s->start[f], blank))
            blank = blank_line_before(text, s->start[f], blank);
        if (status == KB_OK && blank < at && buf.len
            && !(buf.len >= 2 && buf.data[buf.len - 2] == '\n'))
            status = kb_buf_append(&buf, text + blank, at - blank);
        cut_end = at;
        cut_len = buf.len;
    }
    if (status == KB_OK)
        status = kb_buf_append(&buf, text + at, len - at);
    if (status == KB_OK)
        status = kb_buf_detach(&buf, &out->text);
    kb_buf_release(&buf);
    if (status != KB_OK)
        kb_selection_release(out);
    return status;
}

/* ---- the provider seen ------------------------------------------------------------------- */

void kb_provider_release(struct kb_provider *p)
{
    free(p->id);
    free(p->name);
    free(p->host);
    memset(p, 0, sizeof *p);
}

enum kb_status kb_provider_load(const struct kb_db *db, const char *id, struct kb_provider *out,
                                struct kb_error *err)
{
    memset(out, 0, sizeof *out);
    const struct kb_provider_decl *d = NULL;
    for (size_t i = 0; id && i < db->providers.count && !d; i++)
        if (strcmp(db->providers.items[i].id, id) == 0)
            d = &db->providers.items[i];
    if (!d)
        return KB_OK;
    out->id = strdup(d->id);
    out->name = d->name && *d->name ? strdup(d->name) : NULL;
    out->host = d->submission_host ? strdup(d->submission_host) : NULL;
    out->port = out->host ? d->submission_port : 0;
    if (!out->id || (d->name && *d->name && !out->name) || (d->submission_host && !out->host)) {
        kb_provider_release(out);
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    }
    return KB_OK;
}
