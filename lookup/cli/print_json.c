/*
 * print_json.c - the JSON answer for programs (chatbot backends). One object on one line.
 * The layout is versioned (schema_version) and documented in docs/json-schema.md; fields are
 * only ever added, never renamed, within a version. Never coloured.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kb_schema.h"
#include "kb_text.h"

#define JSON_SCHEMA_VERSION 1
/* Counts the additions within a schema version (docs/json-schema.md): 1 added the solution's
 * structure (solution.intro, .steps, .verify, .handover) and the no-match object. */
#define JSON_SCHEMA_MINOR 1

/* Writes s as a JSON string; bytes that are not valid UTF-8 become U+FFFD. Runs of bytes that
 * need no escaping are written at once: solutions make up most of the output. */
void json_string(FILE *out, const char *s)
{
    json_string_len(out, s ? s : "", s ? strlen(s) : 0);
}

/* Are all eight bytes of w printable ASCII but '"' and '\\'? Each test says whether some
 * byte is below a value (or zero once xor-ed with one), exactly, for all bytes at once. */
static int plain8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\'), del = w ^ (ones * 0x7f);
    uint64_t special = ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote)
                       | ((backslash - ones) & ~backslash) | ((del - ones) & ~del) | w;
    return !(special & high);
}

/* What json_string_len writes goes through a small staging area, written out when full and at
 * the end of the string: a solution's Markdown is lines and code spans, and writing each run
 * between two escapes with its own stdio call was most of the printer's cost (a thousand calls
 * and more an answer). Nothing is cut: what does not fit is written first. */
struct json_stage {
    FILE *out;
    size_t used;
    char data[4096];
};

static void stage_flush(struct json_stage *st)
{
    fwrite(st->data, 1, st->used, st->out);
    st->used = 0;
}

static void stage_put(struct json_stage *st, const void *p, size_t n)
{
    if (n > sizeof st->data - st->used) {
        stage_flush(st);
        if (n > sizeof st->data / 2) { /* long: written as it is, not copied */
            fwrite(p, 1, n, st->out);
            return;
        }
    }
    memcpy(st->data + st->used, p, n);
    st->used += n;
}

void json_string_len(FILE *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    struct json_stage st; /* not zeroed: only what is put is written */
    st.out = out;
    st.data[0] = '"';
    st.used = 1;
    size_t run = 0; /* start of the pending run of bytes written as they are */
    for (size_t i = 0; i < n;) {
        /* printable ASCII but the quote and the backslash: most bytes of a solution, passed
         * over eight at a time, then byte by byte (the checks below cost a tenth of a lookup
         * on a long article) */
        uint64_t w;
        while (n - i >= 8 && (memcpy(&w, p + i, 8), plain8(w)))
            i += 8;
        while (i < n && p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            i++;
        if (i >= n)
            break;
        unsigned char c = p[i];
        size_t len = c >= 0x80 ? kb_utf8_len(p + i, n - i) : 1;
        if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\' && len) {
            i += len;
            continue;
        }
        stage_put(&st, p + run, i - run);
        char esc[6] = {'\\', (char)c};
        size_t esc_len = 2;
        if (c == '"' || c == '\\')
            ;
        else if (c == '\n')
            esc[1] = 'n';
        else if (c == '\t')
            esc[1] = 't';
        else if (c == '\r')
            esc[1] = 'r';
        else if (c < 0x20 || c == 0x7f) {
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            esc_len = 6;
        } else {
            memcpy(esc + 1, "ufffd", 5); /* invalid UTF-8 byte */
            esc_len = 6;
        }
        stage_put(&st, esc, esc_len);
        i++;
        run = i;
    }
    stage_put(&st, p + run, n - run);
    stage_put(&st, "\"", 1);
    stage_flush(&st);
}

/* s with its placeholders filled (kb_template_expand), or NULL when it has none or memory
 * ran out: the caller then prints s itself. Most texts of an answer hold no placeholder, and
 * copying each of them only to print the copy cost more than looking for one. */
static char *filled(const char *s, const struct kb_match *m, const struct kb_result *r)
{
    return strstr(s, "{{") ? kb_template_expand(s, m, r, "", "") : NULL;
}

static void json_key(FILE *out, const char *key, int *first)
{
    if (!*first)
        fputc(',', out);
    *first = 0;
    json_string(out, key);
    fputc(':', out);
}

static void json_opt_string(FILE *out, const char *key, const char *value, int *first)
{
    json_key(out, key, first);
    if (value)
        json_string(out, value);
    else
        fputs("null", out);
}

static void json_opt_int(FILE *out, const char *key, int value, int *first)
{
    json_key(out, key, first);
    if (value)
        fprintf(out, "%d", value);
    else
        fputs("null", out);
}

/* A comma-separated list as a JSON array of strings. */
static void json_csv_array(FILE *out, const char *csv)
{
    fputc('[', out);
    size_t len;
    int first = 1;
    for (const char *item; (item = kb_list_next(&csv, &len)); first = 0) {
        char *copy = strndup(item, len);
        if (!first)
            fputc(',', out);
        json_string(out, copy ? copy : "");
        free(copy);
    }
    fputc(']', out);
}

static void json_kb(FILE *out, const struct kb_db *db)
{
    int first = 1;
    fputc('{', out);
    json_opt_string(out, "build", kb_db_build_hash(db), &first);
    json_key(out, "schema_version", &first);
    fprintf(out, "%d", kb_db_schema_version(db));
    json_key(out, "entries", &first);
    fprintf(out, "%ld", kb_db_entry_count(db));
    if (kb_db_layer_count(db) > 1) {
        /* every layer, with what it does to the ones below it */
        json_key(out, "layers", &first);
        fputc('[', out);
        for (size_t i = 0; i < kb_db_layer_count(db); i++) {
            const struct kb_db *l = kb_db_layer(db, i);
            char *replaced = NULL, *hidden = NULL;
            struct kb_error err;
            int f = 1;
            fputs(i ? ",{" : "{", out);
            json_key(out, "index", &f);
            fprintf(out, "%zu", i + 1);
            json_opt_string(out, "label", kb_db_label(l), &f);
            json_opt_string(out, "build", kb_db_build_hash(l), &f);
            json_opt_string(out, "base_build", kb_db_base_build(l), &f);
            json_key(out, "entries", &f);
            fprintf(out, "%ld", kb_db_entry_count(l));
            if (kb_db_layer_changes(db, i, &replaced, &hidden, &err) == KB_OK) {
                json_key(out, "replaces", &f);
                json_csv_array(out, replaced);
                json_key(out, "hides", &f);
                json_csv_array(out, hidden);
            }
            free(replaced);
            free(hidden);
            fputc('}', out);
        }
        fputc(']', out);
    }
    fputc('}', out);
}

/* Opens the top-level object with the fields every answer starts with. */
static void json_begin(FILE *out, const struct kb_db *db, int *first)
{
    fputc('{', out);
    json_key(out, "schema_version", first);
    fprintf(out, "%d", JSON_SCHEMA_VERSION);
    json_key(out, "kb", first);
    json_kb(out, db);
    json_key(out, "schema_minor", first);
    fprintf(out, "%d", JSON_SCHEMA_MINOR);
}

/* The layer e comes from, in a KB of several layers (layers NULL: one, nothing said). */
static void json_layer(FILE *out, const struct kb_db *layers, const struct kb_entry *e, int *first)
{
    const struct kb_db *l = layers ? kb_db_layer(layers, e->layer) : NULL;
    if (!l)
        return;
    json_key(out, "layer", first);
    int f = 1;
    fputc('{', out);
    json_key(out, "index", &f);
    fprintf(out, "%zu", e->layer + 1);
    json_opt_string(out, "label", kb_db_label(l), &f);
    json_opt_string(out, "build", kb_db_build_hash(l), &f);
    fputc('}', out);
}

static void json_entry_fields(FILE *out, const struct kb_entry *e, const struct kb_db *layers,
                              int *first)
{
    json_opt_string(out, "id", e->id, first);
    json_layer(out, layers, e, first);
    if (e->language && *e->language)
        json_opt_string(out, "language", e->language, first);
    json_opt_string(out, "title", e->title, first);
    json_opt_string(out, "article", e->article, first);
    json_opt_string(out, "article_title", e->article_title, first);
    json_key(out, "providers", first);
    json_csv_array(out, e->provider);
    json_opt_string(out, "audience", e->audience, first);
    json_key(out, "related", first);
    json_csv_array(out, e->related);
}

/* The values a command's placeholders take, each once, with where it came from: the pasted
 * text, the provider's declared server, or the article's default. */
static void json_values(FILE *out, const char *cmd, const struct kb_match *m,
                        const struct kb_result *r)
{
    fputc('[', out);
    int any = 0;
    for (const char *p = strstr(cmd, "{{"); p; p = strstr(p, "{{")) {
        const char *end = strstr(p + 2, "}}");
        if (!end)
            break;
        const char *bar = memchr(p + 2, '|', (size_t)(end - p - 2));
        size_t n = (size_t)((bar ? bar : end) - p - 2);
        char name[64];
        int valid = n > 0 && n < sizeof name;
        for (size_t i = 0; valid && i < n; i++)
            valid = isalnum((unsigned char)p[2 + i]) || p[2 + i] == '_';
        if (!valid) {
            p += 2;
            continue;
        }
        memcpy(name, p + 2, n);
        name[n] = '\0';
        /* each name once: "{{host}}" twice in one command is one value */
        int seen = 0;
        for (const char *q = strstr(cmd, "{{"); q && q < p && !seen; q = strstr(q + 2, "{{"))
            seen = strncmp(q + 2, name, n) == 0 && (q[2 + n] == '|' || q[2 + n] == '}');
        p = end + 2;
        if (seen)
            continue;
        char num[32];
        enum kb_origin origin;
        const char *value = kb_placeholder_origin(name, m, r, num, sizeof num, &origin);
        char *dflt = NULL;
        if (!value && bar)
            value = dflt = strndup(bar + 1, (size_t)(end - bar - 1));
        int f = 1;
        fputs(any++ ? ",{" : "{", out);
        json_opt_string(out, "name", name, &f);
        json_opt_string(out, "value", value, &f);
        json_opt_string(out, "origin", kb_origin_str(origin), &f);
        fputc('}', out);
        free(dflt);
    }
    fputc(']', out);
}

static void json_fix_step(FILE *out, const struct kb_fix_step *s, const struct kb_match *m,
                          const struct kb_result *r)
{
    char *md_x = filled(s->markdown, m, r);
    char *text_x = filled(s->text, m, r);
    int f = 1;
    fputc('{', out);
    json_key(out, "number", &f);
    fprintf(out, "%ld", s->number);
    json_opt_string(out, "text", text_x ? text_x : s->text, &f);
    json_opt_string(out, "markdown", md_x ? md_x : s->markdown, &f);
    json_key(out, "commands", &f);
    fputc('[', out);
    for (size_t i = 0; i < s->command_count; i++) {
        char *x = filled(s->commands[i], m, r);
        int g = 1;
        fputs(i ? ",{" : "{", out);
        json_opt_string(out, "text", x ? x : s->commands[i], &g);
        json_key(out, "values", &g);
        json_values(out, s->commands[i], m, r);
        fputc('}', out);
        free(x);
    }
    fputc(']', out);
    json_key(out, "provider", &f);
    if (s->providers[0])
        json_csv_array(out, s->providers);
    else
        fputs("null", out);
    fputc('}', out);
    free(md_x);
    free(text_x);
}

/* A piece of text of the solution's structure (intro, hand-over): {markdown, text} or null. */
static void json_fix_text(FILE *out, const char *key, const struct kb_entry *e, int part,
                          const struct kb_match *m, const struct kb_result *r, int *first)
{
    json_key(out, key, first);
    for (size_t i = 0; i < e->fix_count; i++) {
        if (e->fix[i].part != part)
            continue;
        char *md_x = filled(e->fix[i].markdown, m, r);
        char *text_x = filled(e->fix[i].text, m, r);
        int f = 1;
        fputc('{', out);
        json_opt_string(out, "markdown", md_x ? md_x : e->fix[i].markdown, &f);
        json_opt_string(out, "text", text_x ? text_x : e->fix[i].text, &f);
        fputc('}', out);
        free(md_x);
        free(text_x);
        return;
    }
    fputs("null", out);
}

static void json_fix_steps(FILE *out, const char *key, const struct kb_entry *e, int part,
                           const struct kb_match *m, const struct kb_result *r, int *first)
{
    json_key(out, key, first);
    fputc('[', out);
    int any = 0;
    for (size_t i = 0; i < e->fix_count; i++) {
        if (e->fix[i].part != part)
            continue;
        if (any++)
            fputc(',', out);
        json_fix_step(out, &e->fix[i], m, r);
    }
    fputc(']', out);
}

/* The solution's markdown and text as printed (placeholders filled, JSON strings), kept for
 * selected_solution: when no step is left out it is the same solution, and printing it again
 * was most of the printer's cost (issue 11). */
struct json_memo {
    char *md, *text;
    size_t md_len, text_len;
};

static void json_memo_release(struct json_memo *memo)
{
    free(memo->md);
    free(memo->text);
    memset(memo, 0, sizeof *memo);
}

/* Writes value as a JSON string, and keeps a copy of what was written in *kept (NULL when out
 * of memory: then only written). */
static void json_string_kept(FILE *out, const char *value, char **kept, size_t *kept_len)
{
    FILE *mem = open_memstream(kept, kept_len);
    if (mem) {
        json_string(mem, value);
        if (fclose(mem) == 0 && *kept) {
            fwrite(*kept, 1, *kept_len, out);
            return;
        }
        free(*kept);
    }
    *kept = NULL;
    *kept_len = 0;
    json_string(out, value);
}

/* {markdown, text} of a part of an entry; with structure (the solution), its steps too:
 * intro, steps, verify, handover (docs/json-schema.md); with memo, the strings as written. */
static void json_solution(FILE *out, const char *key, const char *md, const char *text,
                          const struct kb_entry *structure, const struct kb_match *m,
                          const struct kb_result *r, struct json_memo *memo, int *first)
{
    char *md_x = filled(md, m, r);
    char *text_x = filled(text, m, r);
    int f = 1;
    json_key(out, key, first);
    fputc('{', out);
    if (memo) {
        json_key(out, "markdown", &f);
        json_string_kept(out, md_x ? md_x : md, &memo->md, &memo->md_len);
        json_key(out, "text", &f);
        json_string_kept(out, text_x ? text_x : text, &memo->text, &memo->text_len);
    } else {
        json_opt_string(out, "markdown", md_x ? md_x : md, &f);
        json_opt_string(out, "text", text_x ? text_x : text, &f);
    }
    if (structure) {
        json_fix_text(out, "intro", structure, KB_FIX_INTRO, m, r, &f);
        json_fix_steps(out, "steps", structure, KB_FIX_STEP, m, r, &f);
        json_fix_steps(out, "verify", structure, KB_FIX_VERIFY, m, r, &f);
        json_fix_text(out, "handover", structure, KB_FIX_HANDOVER, m, r, &f);
    }
    fputc('}', out);
    free(md_x);
    free(text_x);
}

/* A kept step's text on its own: the indentation of its first line taken off every line, the
 * blank lines at its end left out, placeholders filled. */
static void json_kept(FILE *out, const char *key, const char *text, const struct kb_kept *k,
                      const struct kb_match *m, const struct kb_result *r, int *first)
{
    size_t indent = 0;
    while (k->start + indent < k->end && text[k->start + indent] == ' ')
        indent++;
    size_t end = k->end;
    while (end > k->start && (text[end - 1] == '\n' || text[end - 1] == ' '))
        end--;
    char *s = malloc(end - k->start + 2);
    if (!s) {
        json_opt_string(out, key, NULL, first);
        return;
    }
    size_t n = 0;
    for (size_t p = k->start; p < end;) {
        size_t skip = 0;
        while (skip < indent && p + skip < end && text[p + skip] == ' ')
            skip++;
        p += skip;
        while (p < end && text[p] != '\n')
            s[n++] = text[p++];
        if (p < end)
            s[n++] = text[p++];
    }
    s[n] = '\0';
    char *x = filled(s, m, r);
    json_opt_string(out, key, x ? x : s, first);
    free(x);
    free(s);
}

/* The solution as the text's reader needs it: the steps for other providers than the one
 * the text shows left out, and which (docs/json-schema.md). */
static void json_selected(FILE *out, const struct kb_match *m, const struct kb_result *r,
                          const struct print_options *opt, const struct json_memo *memo, int *first)
{
    const char *provider = opt->all_providers ? NULL : r->facts.provider;
    struct kb_selection md, text;
    int ok = kb_solution_select(m->entry, KB_FORM_MARKDOWN, provider, &md) == KB_OK;
    if (ok && kb_solution_select(m->entry, KB_FORM_TEXT, provider, &text) != KB_OK) {
        kb_selection_release(&md);
        ok = 0;
    }
    if (!ok) { /* out of memory: the whole solution, said so by a null provider */
        json_key(out, "selected_solution", first);
        fputs("null", out);
        return;
    }
    /* the same text as the solution's: the same strings, printed already */
    int same = memo->md && memo->text && strcmp(md.text, m->entry->solution_md) == 0
               && strcmp(text.text, m->entry->solution_text) == 0;
    char *md_x = same ? NULL : filled(md.text, m, r);
    char *text_x = same ? NULL : filled(text.text, m, r);
    int f = 1;
    json_key(out, "selected_solution", first);
    fputc('{', out);
    json_opt_string(out, "provider", md.gap_count ? provider : NULL, &f);
    if (same) {
        json_key(out, "markdown", &f);
        fwrite(memo->md, 1, memo->md_len, out);
        json_key(out, "text", &f);
        fwrite(memo->text, 1, memo->text_len, out);
    } else {
        json_opt_string(out, "markdown", md_x ? md_x : md.text, &f);
        json_opt_string(out, "text", text_x ? text_x : text.text, &f);
    }
    /* the Fix's own steps for the provider, each alone (its lines' common indentation off):
     * what to say first */
    json_key(out, "provider_steps", &f);
    fputc('[', out);
    for (size_t i = 0, n = 0; i < md.kept_count && i < text.kept_count; i++) {
        const struct kb_step *s = &m->entry->steps[md.kept[i].step];
        if (s->part != 0)
            continue;
        int g = 1;
        fputs(n++ ? ",{" : "{", out);
        json_opt_string(out, "steps", s->labels, &g);
        json_key(out, "providers", &g);
        json_csv_array(out, s->providers);
        json_kept(out, "markdown", md.text, &md.kept[i], m, r, &g);
        json_kept(out, "text", text.text, &text.kept[i], m, r, &g);
        fputc('}', out);
    }
    fputc(']', out);
    json_key(out, "left_out", &f);
    fputc('[', out);
    for (size_t i = 0; i < md.gap_count; i++) {
        int g = 1;
        fputs(i ? ",{" : "{", out);
        json_opt_string(out, "steps", md.gaps[i].labels, &g);
        json_key(out, "providers", &g);
        json_csv_array(out, md.gaps[i].providers);
        fputc('}', out);
    }
    fputs("]}", out);
    free(md_x);
    free(text_x);
    kb_selection_release(&md);
    kb_selection_release(&text);
}

static void json_match(FILE *out, const struct kb_match *m, const struct kb_result *r,
                       const struct print_options *opt)
{
    int first = 1;
    fputc('{', out);
    json_entry_fields(out, m->entry, opt->layers, &first);
    json_key(out, "score", &first);
    fprintf(out, "%.3g", m->score);
    json_opt_string(out, "confidence", kb_confidence_str(m->confidence), &first);
    json_opt_string(out, "recipient", m->recipient, &first);
    json_opt_string(out, "via", kb_via_str(m->via), &first);
    json_key(out, "section", &first);
    if (m->section_heading) {
        int sf = 1;
        fputc('{', out);
        json_opt_string(out, "heading", m->section_heading, &sf);
        json_opt_string(out, "anchor", m->section_anchor, &sf);
        json_key(out, "line", &sf);
        fprintf(out, "%zu}", m->section_line);
    } else {
        fputs("null", out);
    }
    json_key(out, "evidence", &first);
    fputc('[', out);
    for (size_t i = 0; i < m->evidence_count; i++) {
        int f = 1;
        fputs(i ? ",{" : "{", out);
        json_key(out, "line", &f);
        fprintf(out, "%zu", m->evidence[i].line);
        json_opt_string(out, "text", m->evidence[i].text, &f);
        fputc('}', out);
    }
    fputc(']', out);
    json_key(out, "captures", &first);
    fputc('{', out);
    int f = 1;
    for (size_t i = 0; i < m->capture_count; i++)
        json_opt_string(out, m->captures[i].name, m->captures[i].value, &f);
    fputc('}', out);
    json_solution(out, "why", m->entry->why_md, m->entry->why_text, NULL, m, r, NULL, &first);
    if (m->entry->tell_md[0]) {
        json_solution(out, "tell_apart", m->entry->tell_md, m->entry->tell_text, NULL, m, r, NULL,
                      &first);
    } else {
        json_key(out, "tell_apart", &first);
        fputs("null", out);
    }
    struct json_memo memo = {0};
    json_solution(out, "solution", m->entry->solution_md, m->entry->solution_text, m->entry, m, r,
                  &memo, &first);
    json_selected(out, m, r, opt, &memo, &first);
    json_memo_release(&memo);
    if (opt->explain) {
        json_key(out, "explain", &first);
        fputc('[', out);
        for (size_t i = 0; i < m->explain_count; i++) {
            if (i)
                fputc(',', out);
            json_string(out, m->explain[i]);
        }
        fputc(']', out);
    }
    fputc('}', out);
}

static void json_tristate(FILE *out, const char *key, int value, int *first)
{
    json_key(out, key, first);
    fputs(value > 0 ? "true" : value == 0 ? "false" : "null", out);
}

/* The SMTP dialogue read from the text (docs/json-schema.md), or null when there is none. */
static void json_dialogue(FILE *out, const struct kb_dialogue *d, int *first)
{
    json_key(out, "dialogue", first);
    if (!d->format) {
        fputs("null", out);
        return;
    }
    int f = 1;
    fputc('{', out);
    json_opt_string(out, "format", d->format, &f);
    json_tristate(out, "connected", d->connected, &f);
    json_opt_int(out, "port", d->port, &f);
    json_tristate(out, "greeting", d->greeting, &f);
    json_tristate(out, "ehlo", d->ehlo, &f);
    json_tristate(out, "starttls_offered", d->starttls_offered, &f);
    json_tristate(out, "tls", d->tls, &f);
    json_tristate(out, "tls_failed", d->tls_failed, &f);
    json_tristate(out, "auth_offered", d->auth_offered, &f);
    json_tristate(out, "auth_offered_before_tls", d->auth_offered_before_tls, &f);
    json_opt_string(out, "auth_mechanisms", d->auth_mechanisms, &f);
    json_key(out, "size_limit", &f);
    if (d->size_limit)
        fprintf(out, "%ld", d->size_limit);
    else
        fputs("null", out);
    json_opt_string(out, "last_command", d->last_command, &f);
    json_opt_int(out, "failing_reply", d->failing_reply, &f);
    json_opt_string(out, "failing_command", d->failing_command, &f);
    json_key(out, "failing_line", &f);
    if (d->failing_line)
        fprintf(out, "%zu", d->failing_line);
    else
        fputs("null", out);
    json_opt_string(out, "ended", d->ended, &f);
    fputc('}', out);
}

/* The delivery report the text is (or the application's session that failed), or null. */
static void json_report(FILE *out, const struct kb_report *rep)
{
    if (!rep->format) {
        fputs("null", out);
        return;
    }
    int first = 1;
    fputc('{', out);
    json_opt_string(out, "format", rep->format, &first);
    json_opt_string(out, "leg", rep->leg, &first);
    json_opt_string(out, "reporting_mta", rep->reporting_mta, &first);
    json_key(out, "recipients", &first);
    fputc('[', out);
    for (size_t i = 0; i < rep->recipient_count; i++) {
        const struct kb_recipient *p = &rep->recipients[i];
        int f = 1;
        fputs(i ? ",{" : "{", out);
        json_opt_string(out, "address", p->address, &f);
        json_opt_string(out, "action", p->action, &f);
        json_opt_string(out, "status", p->status, &f);
        json_opt_string(out, "status_class", p->status_class, &f);
        json_opt_string(out, "status_meaning", p->status_meaning, &f);
        json_opt_string(out, "remote_mta", p->remote_mta, &f);
        json_opt_string(out, "diagnostic", p->diagnostic, &f);
        json_key(out, "line", &f);
        if (p->line)
            fprintf(out, "%zu", p->line);
        else
            fputs("null", out);
        fputc('}', out);
    }
    fputs("]}", out);
}

/* With no match (and no not_failure): what the answer says instead (docs/json-schema.md). */
static void json_no_match(FILE *out, const struct kb_result *r, int *first)
{
    json_key(out, "no_match", first);
    if (r->match_count || r->report.not_failure) {
        fputs("null", out);
        return;
    }
    struct cli_nomatch n;
    cli_nomatch_read(r, 1, &n);
    int f = 1;
    fputc('{', out);
    json_opt_string(out, "status_class", n.status_class, &f);
    json_opt_string(out, "status_meaning", n.status_meaning, &f);
    json_opt_string(out, "other_program",
                    r->facts.mail_context == KB_CONTEXT_IS_OTHER ? r->facts.other_program : NULL,
                    &f);
    json_key(out, "nearest", &f);
    if (r->nearest_id) {
        int g = 1;
        fputc('{', out);
        json_opt_string(out, "id", r->nearest_id, &g);
        json_opt_string(out, "title", r->nearest_title, &g);
        json_key(out, "score", &g);
        fprintf(out, "%.3g", r->nearest_score);
        fputc('}', out);
    } else {
        fputs("null", out);
    }
    json_key(out, "advice", &f);
    fputc('[', out);
    for (size_t i = 0; i < n.count; i++) {
        if (i)
            fputc(',', out);
        json_string(out, n.advice[i]);
    }
    fputs("]}", out);
    cli_nomatch_release(&n);
}

int print_result_json(FILE *out, const struct kb_db *db, const struct kb_result *r,
                      const struct print_options *opt)
{
    int first = 1;
    const struct kb_facts *f = &r->facts;
    if (opt->id_json) {
        /* kb-lookup --serve: the request's id leads the answer */
        fputs("{\"id\":", out);
        fputs(opt->id_json, out);
        fputc(',', out);
        first = 1;
        json_key(out, "schema_version", &first);
        fprintf(out, "%d", JSON_SCHEMA_VERSION);
        json_key(out, "kb", &first);
        json_kb(out, db);
        json_key(out, "schema_minor", &first);
        fprintf(out, "%d", JSON_SCHEMA_MINOR);
    } else {
        json_begin(out, db, &first);
    }
    json_key(out, "facts", &first);
    int ff = 1;
    fputc('{', out);
    json_opt_int(out, "reply_code", f->reply_code, &ff);
    json_opt_string(out, "enhanced_code", f->enhanced, &ff);
    json_opt_string(out, "stage", f->stage, &ff);
    json_opt_string(out, "host", f->host, &ff);
    json_opt_int(out, "port", f->port, &ff);
    json_opt_string(out, "user", f->user, &ff);
    json_opt_string(out, "client", f->client, &ff);
    json_opt_string(out, "provider", f->provider, &ff);
    json_opt_string(out, "language", r->language, &ff);
    json_key(out, "mail_context", &ff);
    fputs(f->mail_context == KB_CONTEXT_IS_MAIL ? "true" : "false", out);
    json_opt_string(out, "context", kb_context_str(f->mail_context), &ff);
    fputc('}', out);
    /* the customer's values, each with the input line it came from (null: not in the text) */
    json_key(out, "values", &first);
    fputc('[', out);
    const size_t lines[] = {r->value_lines.host, r->value_lines.port, r->value_lines.user};
    const char *names[] = {"host", "port", "user"};
    int vf = 1;
    for (size_t i = 0; i < 3; i++) {
        if (i == 1 ? !f->port : !(i == 0 ? f->host : f->user))
            continue;
        int of = 1;
        fputs(vf ? "{" : ",{", out);
        vf = 0;
        json_key(out, "name", &of);
        json_string(out, names[i]);
        if (i == 1) {
            json_opt_int(out, "value", f->port, &of);
        } else {
            json_key(out, "value", &of);
            json_string(out, i == 0 ? f->host : f->user);
        }
        json_key(out, "line", &of);
        if (lines[i])
            fprintf(out, "%zu", lines[i]);
        else
            fputs("null", out);
        fputc('}', out);
    }
    fputc(']', out);
    json_key(out, "provider", &first);
    if (r->provider.id) {
        int pf = 1;
        fputc('{', out);
        json_opt_string(out, "id", r->provider.id, &pf);
        json_opt_string(out, "name", r->provider.name, &pf);
        json_opt_string(out, "submission_host", r->provider.host, &pf);
        json_opt_int(out, "submission_port", r->provider.port, &pf);
        fputc('}', out);
    } else {
        fputs("null", out);
    }
    json_dialogue(out, &r->dialogue, &first);
    json_key(out, "input_lines", &first);
    fprintf(out, "%zu", r->input_lines);
    json_key(out, "input_binary", &first);
    fputs(r->input_binary ? "true" : "false", out);
    json_opt_string(out, "not_failure", r->report.not_failure, &first);
    json_key(out, "report", &first);
    json_report(out, &r->report);
    json_key(out, "matches", &first);
    fputc('[', out);
    for (size_t i = 0; i < r->match_count; i++) {
        if (i)
            fputc(',', out);
        json_match(out, &r->matches[i], r, opt);
    }
    fputc(']', out);
    json_no_match(out, r, &first);
    fputs("}\n", out);
    return ferror(out) ? -1 : 0;
}

int print_entry_json(FILE *out, const struct kb_db *db, const struct kb_entry *e)
{
    int first = 1;
    json_begin(out, db, &first);
    json_key(out, "entry", &first);
    int f = 1;
    fputc('{', out);
    json_entry_fields(out, e, kb_db_layer_count(db) > 1 ? db : NULL, &f);
    json_solution(out, "why", e->why_md, e->why_text, NULL, NULL, NULL, NULL, &f);
    json_solution(out, "solution", e->solution_md, e->solution_text, e, NULL, NULL, NULL, &f);
    json_opt_string(out, "body_markdown", e->body_md, &f);
    fputs("}}\n", out);
    return ferror(out) ? -1 : 0;
}

int print_list_begin_json(FILE *out, const struct kb_db *db)
{
    int first = 1;
    json_begin(out, db, &first);
    json_key(out, "entries", &first);
    fputc('[', out);
    return ferror(out) ? -1 : 0;
}

int print_list_item(FILE *out, const struct kb_entry *e, int json, int first,
                    const struct kb_db *layers)
{
    if (!json) {
        char tag[64];
        fprintf(out, "%-34s %s  (%s)", e->id, e->title, e->article);
        if (layers)
            fprintf(out, "  [%s]", cli_layer_tag(layers, e, tag, sizeof tag));
        fputc('\n', out);
        return ferror(out) ? -1 : 0;
    }
    int f = 1;
    fputs(first ? "{" : ",{", out);
    json_entry_fields(out, e, layers, &f);
    json_key(out, "signatures", &f);
    fprintf(out, "%d", e->signature_count);
    json_key(out, "fulltext_only", &f);
    fputs(e->fulltext_only ? "true" : "false", out);
    fputc('}', out);
    return ferror(out) ? -1 : 0;
}

int print_list_end_json(FILE *out)
{
    fputs("]}\n", out);
    return ferror(out) ? -1 : 0;
}
