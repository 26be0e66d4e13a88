/*
 * parse.c - one Markdown file to the compiler's model (kbc.h), following kb/README.md.
 *
 *   1. empty and binary files are skipped with a warning;
 *   2. a leading YAML front matter is read for title/description and blanked (replaced by
 *      spaces, newlines kept) so cmark never sees it and line numbers stay right;
 *   3. cmark parses the text; one cmark_iter walk collects the level-1/level-2 sections, the
 *      `kb-` fenced blocks and the kb: links (no recursion: nesting depth is untrusted);
 *   4. a file without any kb- block becomes one full-text-only entry; otherwise every level-2
 *      section with a kb-entry block becomes an entry with its signatures and examples;
 *   5. the kb- blocks are removed from the AST (kb-example ones kept as plain code) and the
 *      entry's parts are rendered (render.c).
 * Positions: cmark's sourcepos for nodes; a line inside a fenced block is at the block's line
 * + 1 + its index, at the fence's column + its offset in the line.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb_conditions.h"
#include "kb_text.h"
#include "kbc.h"
#include "kbc_sig.h"

/* A file whose rendering would cost more than this (leaf lines x nesting depth, roughly the
 * indentation the renderers would write) is skipped: deep nesting makes rendering quadratic
 * and cmark aborts past 1 GiB of output. */
#define MAX_RENDER_COST ((size_t)16 * 1024 * 1024)

enum block_type {
    BLOCK_ENTRY,
    BLOCK_SIGNATURES,
    BLOCK_EXAMPLE,
    BLOCK_COUNTER,
    BLOCK_CONDITIONS,
    BLOCK_PROVIDER_STEPS,
    BLOCK_PROVIDER,
    BLOCK_HIDE,
    BLOCK_LANGUAGE,
    BLOCK_CLIENT,
    BLOCK_UNKNOWN
};

static const char *const block_names[] = {
    "kb-entry",          "kb-signatures", "kb-example", "kb-counterexample", "kb-conditions",
    "kb-provider-steps", "kb-provider",   "kb-hide",    "kb-language",       "kb-client"};

struct kb_block {
    cmark_node *node;
    enum block_type type;
    long section; /* index into sections, -1 when before any level-2 heading */
    size_t line, col, end_line;
};

struct section {
    cmark_node *heading;
    cmark_node *end;            /* the next level-1/level-2 heading, NULL at the end of the file */
    size_t line, col, end_line; /* end_line: first line after the section */
    int used;                   /* has an entry */
    size_t block_first, block_end; /* its kb- blocks: blocks[block_first .. block_end) */
};

struct parse {
    struct kbc_kb *kb; /* where kb-provider blocks go */
    const struct kbc_file *file;
    struct kbc_diags *diags;
    const char *path;
    char *src; /* the file with front matter blanked */
    size_t len;
    size_t *line_off; /* [line_count + 1] offset of each line's start; the last is len + 1 */
    size_t line_count;
    char *fm_title, *fm_description;
    cmark_node *doc;
    cmark_node *h1;
    cmark_node *first_heading;
    struct section *sections;
    size_t section_count, section_alloc;
    struct kb_block *blocks;
    size_t block_count, block_alloc;
    size_t max_depth, cost;
    struct kbc_article *article;
};

/* ---- small text helpers ------------------------------------------------------------------ */

static int is_blank_char(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static void trim(const char **s, size_t *len)
{
    while (*len && is_blank_char(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_blank_char((*s)[*len - 1]))
        (*len)--;
}

enum kb_status kbc_inline_text(cmark_node *node, struct kb_buf *out)
{
    kb_buf_reset(out);
    enum kb_status status = KB_OK;
    for (cmark_node *child = cmark_node_first_child(node); child && status == KB_OK;
         child = cmark_node_next(child)) {
        cmark_iter *it = cmark_iter_new(child);
        if (!it)
            return KB_ERR_NOMEM;
        cmark_event_type ev;
        while (status == KB_OK && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *n = cmark_iter_get_node(it);
            cmark_node_type t = cmark_node_get_type(n);
            if (ev != CMARK_EVENT_ENTER)
                continue;
            if (t == CMARK_NODE_TEXT || t == CMARK_NODE_CODE)
                status = kb_buf_append_str(out, cmark_node_get_literal(n));
            else if (t == CMARK_NODE_SOFTBREAK || t == CMARK_NODE_LINEBREAK)
                status = kb_buf_append_char(out, ' ');
        }
        cmark_iter_free(it);
    }
    if (status == KB_OK && !out->data)
        status = kb_buf_append(out, "", 0);
    return status;
}

/* The plain text of a node's inline content (a heading's title), trimmed. */
static char *node_text(cmark_node *node)
{
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    char *s = NULL;
    if (kbc_inline_text(node, &buf) == KB_OK) {
        const char *p = buf.data;
        size_t n = buf.len;
        trim(&p, &n);
        s = kbc_strndup(p, n);
    }
    kb_buf_release(&buf);
    return s;
}

static int heading_level(cmark_node *node)
{
    if (!node || cmark_node_get_type(node) != CMARK_NODE_HEADING)
        return 0;
    return cmark_node_get_heading_level(node);
}

static enum kb_status append_list_item(struct kb_buf *out, const char *s, size_t len)
{
    enum kb_status status = out->len ? kb_buf_append_char(out, ',') : KB_OK;
    return status == KB_OK ? kb_buf_append(out, s, len) : status;
}

/* ---- front matter ------------------------------------------------------------------------ */

/* Length of the line at p (without its '\n'), trailing blanks and CR excluded in *content. */
static size_t line_at(const char *p, const char *end, size_t *content)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    size_t c = n;
    while (c && is_blank_char(p[c - 1]))
        c--;
    *content = c;
    return n;
}

static char *fm_value(const char *line, size_t len, const char *key)
{
    size_t klen = strlen(key);
    if (len <= klen || strncmp(line, key, klen) != 0 || line[klen] != ':')
        return NULL;
    const char *v = line + klen + 1;
    size_t n = len - klen - 1;
    trim(&v, &n);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v++;
        n -= 2;
    }
    return kbc_strndup(v, n);
}

/* Recognises a leading "---" ... "---"/"..." block: keeps title and description, blanks it. */
static enum kb_status front_matter(struct parse *p)
{
    char *s = p->src, *end = p->src + p->len;
    size_t content;
    if (p->len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        s += 3; /* a UTF-8 byte order mark */
    size_t n = line_at(s, end, &content);
    if (content != 3 || memcmp(s, "---", 3) != 0 || s + n >= end)
        return KB_OK;
    char *body = s + n + 1, *line = body, *close = NULL;
    while (line < end) {
        n = line_at(line, end, &content);
        if (content == 3 && (memcmp(line, "---", 3) == 0 || memcmp(line, "...", 3) == 0)) {
            close = line + n;
            break;
        }
        line += n + (line + n < end);
    }
    if (!close)
        return KB_OK; /* no closing line: "---" was a thematic break */
    for (line = body; line < close;) {
        n = line_at(line, close, &content);
        char *v;
        if (!p->fm_title && (v = fm_value(line, content, "title")) != NULL)
            p->fm_title = v;
        else if (!p->fm_description && (v = fm_value(line, content, "description")) != NULL)
            p->fm_description = v;
        line += n + 1;
    }
    for (char *c = p->src; c < close; c++)
        if (*c != '\n')
            *c = ' ';
    return KB_OK;
}

/* ---- admonitions ------------------------------------------------------------------------- */

/* Python-Markdown's admonitions ('!!! note "Title"'), collapsible blocks ('??? tip', '???+
 * tip') and content tabs ('=== "Tab"') hold their content indented by four spaces, which
 * CommonMark reads as a code block: prose would be indexed and harvested as code. Their
 * content is dedented, and the marker line becomes a level-6 heading holding the title (or a
 * blank line when there is none), so line numbers stay right. Not inside fenced code. */
#define MAX_ADMONITION_DEPTH 16

/* The title of an admonition marker line s[0, n) (indentation removed), or NULL when it is
 * not one; *tlen is the title's length, 0 when the marker has none. */
static const char *admonition_title(const char *s, size_t n, size_t *tlen)
{
    size_t i = 0;
    int tab = 0;
    if (n >= 4 && memcmp(s, "!!! ", 4) == 0)
        i = 4;
    else if (n >= 4 && memcmp(s, "??? ", 4) == 0)
        i = 4;
    else if (n >= 5 && memcmp(s, "???+ ", 5) == 0)
        i = 5;
    else if (n >= 5 && memcmp(s, "=== \"", 5) == 0)
        i = 4, tab = 1;
    else
        return NULL;
    if (!tab) {
        size_t w = i;
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
            i++;
        if (i == w)
            return NULL;
        while (i < n && s[i] == ' ')
            i++;
    }
    *tlen = 0;
    if (i < n && s[i] == '"') {
        const char *close = memchr(s + i + 1, '"', n - i - 1);
        if (close) {
            *tlen = (size_t)(close - (s + i + 1));
            return s + i + 1;
        }
    }
    return tab ? NULL : s + i;
}

static enum kb_status admonitions(struct parse *p)
{
    int any = 0;
    for (size_t off = 0; off < p->len && !any;) {
        size_t i = off, tlen;
        while (i < p->len && p->src[i] == ' ')
            i++;
        const char *nl = memchr(p->src + i, '\n', p->len - i);
        size_t end = nl ? (size_t)(nl - p->src) : p->len;
        any = admonition_title(p->src + i, end - i, &tlen) != NULL;
        off = end + 1;
    }
    if (!any)
        return KB_OK;
    struct kb_buf out;
    kb_buf_init(&out, 0);
    size_t stack[MAX_ADMONITION_DEPTH], depth = 0;
    int fence = 0;
    enum kb_status st = KB_OK;
    for (size_t off = 0; off < p->len && st == KB_OK;) {
        const char *line = p->src + off;
        const char *nl = memchr(line, '\n', p->len - off);
        size_t n = nl ? (size_t)(nl - line) : p->len - off;
        size_t indent = 0;
        while (indent < n && line[indent] == ' ')
            indent++;
        int blank = indent == n || (indent + 1 == n && line[indent] == '\r');
        while (!blank && depth && indent < stack[depth - 1] + 4)
            depth--;
        size_t cut = 4 * depth <= indent ? 4 * depth : indent;
        const char *text = line + cut;
        size_t len = n - cut, rest = indent - cut, tlen = 0;
        const char *title = NULL;
        if (!blank && len - rest >= 3
            && (memcmp(text + rest, "```", 3) == 0 || memcmp(text + rest, "~~~", 3) == 0))
            fence = !fence;
        else if (!fence && !blank
                 && (title = admonition_title(text + rest, len - rest, &tlen)) != NULL) {
            while (tlen && (title[tlen - 1] == ' ' || title[tlen - 1] == '\r'))
                tlen--;
            if (tlen)
                st = kb_buf_printf(&out, "%.*s###### %.*s", (int)rest, text, (int)tlen, title);
            if (depth < MAX_ADMONITION_DEPTH)
                stack[depth++] = indent;
        }
        if (st == KB_OK && !title)
            st = kb_buf_append(&out, text, len);
        if (st == KB_OK && nl)
            st = kb_buf_append_char(&out, '\n');
        off += n + (nl != NULL);
    }
    if (st == KB_OK && out.data) {
        free(p->src);
        p->src = out.data;
        p->len = out.len;
        out.data = NULL;
    }
    kb_buf_release(&out);
    return st;
}

/* ---- the walk ---------------------------------------------------------------------------- */

static enum block_type block_type_of(const char *info, size_t *word_len)
{
    size_t n = 0;
    while (info[n] && !isspace((unsigned char)info[n]))
        n++;
    *word_len = n;
    for (size_t i = 0; i < sizeof block_names / sizeof *block_names; i++)
        if (strlen(block_names[i]) == n && strncmp(info, block_names[i], n) == 0)
            return (enum block_type)i;
    return BLOCK_UNKNOWN;
}

static enum kb_status add_ref(struct kbc_article *a, enum kbc_ref_kind kind, const char *id,
                              size_t len, size_t line, size_t col)
{
    struct kbc_ref *refs = kbc_grow(a->refs, &a->ref_alloc, a->ref_count, sizeof *refs);
    if (!refs)
        return KB_ERR_NOMEM;
    a->refs = refs;
    char *copy = kbc_strndup(id, len);
    if (!copy)
        return KB_ERR_NOMEM;
    refs[a->ref_count++] = (struct kbc_ref){kind, copy, line, col};
    return KB_OK;
}

static enum kb_status top_heading(struct parse *p, cmark_node *node)
{
    int level = heading_level(node);
    if (level > 2)
        return KB_OK;
    if (p->section_count) {
        struct section *last = &p->sections[p->section_count - 1];
        if (!last->end) {
            last->end = node;
            last->end_line = (size_t)cmark_node_get_start_line(node);
        }
    }
    if (level == 1) {
        if (!p->h1)
            p->h1 = node;
        return KB_OK;
    }
    struct section *s = kbc_grow(p->sections, &p->section_alloc, p->section_count, sizeof *s);
    if (!s)
        return KB_ERR_NOMEM;
    p->sections = s;
    s[p->section_count++] = (struct section){node,
                                             NULL,
                                             (size_t)cmark_node_get_start_line(node),
                                             (size_t)cmark_node_get_start_column(node),
                                             SIZE_MAX,
                                             0,
                                             0,
                                             0};
    return KB_OK;
}

static long current_section(const struct parse *p)
{
    if (!p->section_count || p->sections[p->section_count - 1].end)
        return -1;
    return (long)p->section_count - 1;
}

static enum kb_status code_block(struct parse *p, cmark_node *node)
{
    const char *info = cmark_node_get_fence_info(node);
    if (!info || strncmp(info, "kb-", 3) != 0)
        return KB_OK;
    size_t word;
    struct kb_block *b = kbc_grow(p->blocks, &p->block_alloc, p->block_count, sizeof *b);
    if (!b)
        return KB_ERR_NOMEM;
    p->blocks = b;
    b[p->block_count++] = (struct kb_block){node,
                                            block_type_of(info, &word),
                                            current_section(p),
                                            (size_t)cmark_node_get_start_line(node),
                                            (size_t)cmark_node_get_start_column(node),
                                            (size_t)cmark_node_get_end_line(node)};
    return KB_OK;
}

static enum kb_status link(struct parse *p, cmark_node *node)
{
    const char *url = cmark_node_get_url(node);
    if (!url || strncmp(url, "kb:", 3) != 0)
        return KB_OK;
    return add_ref(p->article, KBC_REF_LINK, url + 3, strlen(url + 3),
                   (size_t)cmark_node_get_start_line(node),
                   (size_t)cmark_node_get_start_column(node));
}

/* One pass over the AST: sections, kb- blocks, kb: links, and the cost of rendering. */
static enum kb_status walk(struct parse *p)
{
    cmark_iter *it = cmark_iter_new(p->doc);
    if (!it)
        return KB_ERR_NOMEM;
    enum kb_status status = KB_OK;
    size_t depth = 0;
    cmark_event_type ev;
    while (status == KB_OK && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *node = cmark_iter_get_node(it);
        cmark_node_type type = cmark_node_get_type(node);
        int container =
            type == CMARK_NODE_LIST || type == CMARK_NODE_ITEM || type == CMARK_NODE_BLOCK_QUOTE;
        if (ev == CMARK_EVENT_EXIT) {
            if (container)
                depth--;
            continue;
        }
        if (container && ++depth > p->max_depth)
            p->max_depth = depth;
        if (type == CMARK_NODE_PARAGRAPH || type == CMARK_NODE_HEADING
            || type == CMARK_NODE_CODE_BLOCK || type == CMARK_NODE_HTML_BLOCK) {
            size_t lines =
                (size_t)(cmark_node_get_end_line(node) - cmark_node_get_start_line(node) + 1);
            p->cost += lines * (depth + 1);
        }
        if (type == CMARK_NODE_HEADING && !p->first_heading)
            p->first_heading = node;
        if (type == CMARK_NODE_HEADING && cmark_node_parent(node) == p->doc)
            status = top_heading(p, node);
        else if (type == CMARK_NODE_CODE_BLOCK)
            status = code_block(p, node);
        else if (type == CMARK_NODE_LINK)
            status = link(p, node);
    }
    cmark_iter_free(it);
    return status;
}

/* ---- kb-entry ---------------------------------------------------------------------------- */

static int in_list(const char *s, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && strncmp(s, list[i], n) == 0)
            return 1;
    return 0;
}

/* Splits a comma-separated value; each item is recorded as a reference (a provider the KB
 * must declare, an entry that must exist) and appended to out in normal form "a,b". */
static enum kb_status comma_values(struct parse *p, const char *key, const char *v, size_t n,
                                   size_t line, size_t col, struct kb_buf *out)
{
    enum kb_status status = KB_OK;
    size_t i = 0;
    while (i <= n && status == KB_OK) {
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        const char *item = v + start;
        size_t len = i - start;
        size_t lead = 0;
        while (lead < len && is_blank_char(item[lead]))
            lead++;
        item += lead;
        len -= lead;
        trim(&item, &len);
        size_t item_col = col + start + lead;
        i++;
        if (!len)
            continue;
        /* providers are the KB's own (kb-provider blocks), checked once all files are read;
         * "any" names every one (a step marked 'any' is an error of parse_step_marks) */
        int any = len == 3 && strncmp(item, "any", 3) == 0;
        if (strcmp(key, "provider") == 0 && !any)
            status = add_ref(p->article, KBC_REF_PROVIDER, item, len, line, item_col);
        if (strcmp(key, "step provider") == 0 && !any)
            status = add_ref(p->article, KBC_REF_STEP_PROVIDER, item, len, line, item_col);
        if (strcmp(key, "related") == 0)
            status = add_ref(p->article, KBC_REF_RELATED, item, len, line, item_col);
        if (status == KB_OK)
            status = append_list_item(out, item, len);
    }
    return status;
}

static enum kb_status set_string(char **field, const char *s, size_t n)
{
    char *copy = kbc_strndup(s, n);
    if (!copy)
        return KB_ERR_NOMEM;
    free(*field);
    *field = copy;
    return KB_OK;
}

static enum kb_status entry_key(struct parse *p, struct kbc_entry *e, const char *key,
                                size_t key_len, const char *v, size_t n, size_t line, size_t col,
                                size_t value_col)
{
    static const char *const keys[] = {"id", "provider", "audience", "related"};
    static const char *const audiences[] = {"user", "admin", "both"};
    if (!in_list(key, key_len, keys, 4)) {
        kbc_diag(p->diags, KBC_ERROR, p->path, line, col,
                 "unknown key '%.*s' in kb-entry block (expected id, provider, audience or "
                 "related)",
                 (int)key_len, key);
        return KB_OK;
    }
    if (key_len == 2) { /* id */
        if (!kbc_id_valid(v, n))
            kbc_diag(p->diags, KBC_ERROR, p->path, line, value_col,
                     "malformed id '%.*s' (lowercase letters, digits and single hyphens, at "
                     "most %d characters)",
                     (int)n, v, KBC_MAX_ID_LEN);
        e->id_line = line;
        e->id_col = col;
        return set_string(&e->id, v, n);
    }
    if (key_len == 8 && key[0] == 'a') { /* audience */
        if (!in_list(v, n, audiences, 3)) {
            kbc_diag(p->diags, KBC_ERROR, p->path, line, value_col,
                     "unknown audience '%.*s' (expected user, admin or both)", (int)n, v);
            return KB_OK;
        }
        return set_string(&e->audience, v, n);
    }
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    char name[16];
    snprintf(name, sizeof name, "%.*s", (int)key_len, key);
    enum kb_status status = comma_values(p, name, v, n, line, value_col, &buf);
    if (status == KB_OK)
        status = set_string(key[0] == 'p' ? &e->provider : &e->related, buf.data ? buf.data : "",
                            buf.len);
    kb_buf_release(&buf);
    return status;
}

/* Calls fn for every line of a fenced block with its line number and the column of its first
 * character. */
struct block_line {
    const char *text;
    size_t len, line, col;
};

static int next_block_line(const struct kb_block *b, const char **cursor, size_t *index,
                           struct block_line *out)
{
    const char *s = *cursor;
    if (!s || !*s)
        return 0;
    const char *nl = strchr(s, '\n');
    size_t n = nl ? (size_t)(nl - s) : strlen(s);
    out->text = s;
    out->len = n;
    out->line = b->line + 1 + *index;
    out->col = b->col;
    *cursor = nl ? nl + 1 : s + n;
    (*index)++;
    return 1;
}

/* Skips blanks at the start of l (updating its column) and trims its end. */
static void trim_line(struct block_line *l)
{
    while (l->len && is_blank_char(*l->text)) {
        l->text++;
        l->len--;
        l->col++;
    }
    while (l->len && is_blank_char(l->text[l->len - 1]))
        l->len--;
}

/* A trimmed line of a block that says nothing: empty, or a comment ("#" alone or "# ..."). */
static int is_blank_or_comment(const struct block_line *l)
{
    return !l->len || (l->text[0] == '#' && (l->len == 1 || l->text[1] == ' '));
}

static enum kb_status parse_entry_block(struct parse *p, const struct kb_block *b,
                                        struct kbc_entry *e)
{
    const char *cursor = cmark_node_get_literal(b->node);
    size_t index = 0;
    unsigned seen = 0;
    struct block_line l;
    enum kb_status status = KB_OK;
    while (status == KB_OK && next_block_line(b, &cursor, &index, &l)) {
        trim_line(&l);
        if (!l.len)
            continue;
        const char *colon = memchr(l.text, ':', l.len);
        if (!colon) {
            kbc_diag(p->diags, KBC_ERROR, p->path, l.line, l.col,
                     "expected 'key: value' in kb-entry block");
            continue;
        }
        const char *key = l.text, *v = colon + 1;
        size_t key_len = (size_t)(colon - l.text), n = l.len - key_len - 1;
        trim(&key, &key_len);
        size_t value_col = l.col + key_len + 1;
        while (n && is_blank_char(*v)) {
            v++;
            n--;
            value_col++;
        }
        static const char *const keys[] = {"id", "provider", "audience", "related"};
        for (unsigned k = 0; k < 4; k++) {
            if (strlen(keys[k]) == key_len && strncmp(key, keys[k], key_len) == 0) {
                if (seen & (1u << k))
                    kbc_diag(p->diags, KBC_ERROR, p->path, l.line, l.col,
                             "duplicate key '%s' in kb-entry block", keys[k]);
                seen |= 1u << k;
            }
        }
        status = entry_key(p, e, key, key_len, v, n, l.line, l.col, value_col);
    }
    if (status == KB_OK && !e->id)
        kbc_diag(p->diags, KBC_ERROR, p->path, b->line, b->col, "kb-entry block has no id");
    return status;
}

/* ---- attributes of the info string ------------------------------------------------------- */

/* Line n (1-based) of the source, without its newline; NULL past the end. */
static const char *line_text(const struct parse *p, size_t n, size_t *len)
{
    if (n == 0 || n > p->line_count)
        return NULL;
    *len = p->line_off[n] - 1 - p->line_off[n - 1];
    return p->src + p->line_off[n - 1];
}

static enum kb_status index_lines(struct parse *p)
{
    size_t lines = 1;
    for (const char *c = p->src; (c = memchr(c, '\n', (size_t)(p->src + p->len - c))) != NULL; c++)
        lines++;
    p->line_off = malloc((lines + 1) * sizeof *p->line_off);
    if (!p->line_off)
        return KB_ERR_NOMEM;
    p->line_count = lines;
    size_t k = 0;
    p->line_off[k++] = 0;
    for (size_t i = 0; i < p->len; i++)
        if (p->src[i] == '\n')
            p->line_off[k++] = i + 1;
    p->line_off[k] = p->len + 1;
    return KB_OK;
}

/* The column of info + offset in the source line of a fence (info as cmark gives it). */
static size_t info_col(const struct parse *p, const struct kb_block *b, size_t offset)
{
    size_t n;
    const char *s = line_text(p, b->line, &n);
    if (!s || b->col - 1 >= n)
        return b->col;
    const char *end = s + n;
    size_t col = b->col;
    const char *c = s + (b->col - 1);
    char fence = *c;
    while (c < end && *c == fence) {
        c++;
        col++;
    }
    while (c < end && (*c == ' ' || *c == '\t')) {
        c++;
        col++;
    }
    return col + offset;
}

struct attr {
    const char *key, *value;
    size_t key_len, value_len;
    size_t offset; /* of key in the info string */
};

/* Next "key=value" word of the info string after *pos; a value in double quotes may hold
 * spaces (when="leg=delivery port=25"), the quotes are not part of it. */
static int next_attr(const char *info, size_t *pos, struct attr *a)
{
    size_t i = *pos;
    while (info[i] && isspace((unsigned char)info[i]))
        i++;
    if (!info[i])
        return 0;
    size_t start = i;
    while (info[i] && !isspace((unsigned char)info[i]) && info[i] != '=')
        i++;
    a->key = info + start;
    a->offset = start;
    a->key_len = i - start;
    a->value = info + i;
    a->value_len = 0;
    if (info[i] == '=') {
        i++;
        if (info[i] == '"' && strchr(info + i + 1, '"')) {
            a->value = info + i + 1;
            a->value_len = (size_t)(strchr(info + i + 1, '"') - a->value);
            i += a->value_len + 2;
        } else {
            a->value = info + i;
            while (info[i] && !isspace((unsigned char)info[i]))
                i++;
            a->value_len = (size_t)(info + i - a->value);
        }
    }
    *pos = i;
    return 1;
}

static int attr_is(const struct attr *a, const char *key)
{
    return a->key_len == strlen(key) && strncmp(a->key, key, a->key_len) == 0
           && a->value != a->key + a->key_len;
}

static void unknown_attr(struct parse *p, const struct kb_block *b, const struct attr *a)
{
    size_t len = (size_t)(a->value + a->value_len - a->key);
    kbc_diag(p->diags, KBC_ERROR, p->path, b->line, info_col(p, b, a->offset),
             "unknown attribute '%.*s' on %s block", (int)len, a->key, block_names[b->type]);
}

/* ---- kb-signatures ----------------------------------------------------------------------- */

/* The when= of a block: a condition (kb_conditions.h) its signatures apply under, checked
 * with lookup's parser; a bad one is an error at its column. *out: a heap copy, or unchanged. */
static enum kb_status block_condition(struct parse *p, const struct kb_block *b,
                                      const struct attr *a, char **out)
{
    struct kb_condition *c = NULL;
    struct kb_buf msg;
    kb_buf_init(&msg, 0);
    size_t offset = 0;
    enum kb_status st = kb_condition_parse(a->value, a->value_len, &c, &offset, &msg);
    kb_condition_free(c);
    if (st == KB_OK) {
        free(*out);
        *out = kbc_strndup(a->value, a->value_len);
        st = *out ? KB_OK : KB_ERR_NOMEM;
    } else if (st == KB_ERR_INVALID) {
        kbc_diag(p->diags, KBC_ERROR, p->path, b->line,
                 info_col(p, b, (size_t)(a->value - cmark_node_get_fence_info(b->node)) + offset),
                 "bad when= condition: %s", msg.data ? msg.data : "");
        st = KB_OK;
    }
    kb_buf_release(&msg);
    return st;
}

static enum kb_status add_signature(struct parse *p, struct kbc_entry *e, struct block_line *l,
                                    double weight, enum kb_sig_context context, unsigned regions,
                                    const char *when)
{
    enum kb_sig_kind kind = KB_SIG_LITERAL;
    const char *s = l->text;
    size_t n = l->len, col = l->col;
    if (n >= 3 && strncmp(s, "re:", 3) == 0) {
        kind = KB_SIG_REGEX;
        s += 3;
        n -= 3;
        col += 3;
        while (n && is_blank_char(*s)) {
            s++;
            n--;
            col++;
        }
        if (!n) {
            kbc_diag(p->diags, KBC_ERROR, p->path, l->line, l->col, "empty regex");
            return KB_OK;
        }
    }
    struct kbc_sig *sigs = kbc_grow(e->sigs, &e->sig_alloc, e->sig_count, sizeof *sigs);
    if (!sigs)
        return KB_ERR_NOMEM;
    e->sigs = sigs;
    struct kbc_sig *sig = &sigs[e->sig_count];
    memset(sig, 0, sizeof *sig);
    sig->kind = kind;
    sig->weight = weight;
    sig->context = context;
    sig->regions = regions;
    if (when && !(sig->when = kbc_strndup(when, strlen(when))))
        return KB_ERR_NOMEM;
    sig->line = l->line;
    sig->col = l->col;
    if (!(sig->source = kbc_strndup(s, n)))
        return KB_ERR_NOMEM;
    e->sig_count++;
    return kbc_sig_compile(sig, col, p->path, p->diags);
}

static enum kb_status parse_signatures(struct parse *p, const struct kb_block *b,
                                       struct kbc_entry *e)
{
    const char *info = cmark_node_get_fence_info(b->node);
    size_t pos = strlen(block_names[BLOCK_SIGNATURES]);
    double weight = KB_DEFAULT_WEIGHT;
    enum kb_sig_context context = KB_CONTEXT_ANY;
    unsigned regions = 0;
    char *when = NULL;
    struct attr a;
    while (next_attr(info, &pos, &a)) {
        if (attr_is(&a, "when")) {
            enum kb_status st = block_condition(p, b, &a, &when);
            if (st != KB_OK)
                return st;
        } else if (attr_is(&a, "weight")) {
            char *end = NULL;
            char *v = kbc_strndup(a.value, a.value_len);
            if (!v)
                return KB_ERR_NOMEM;
            double w = strtod(v, &end);
            if (!a.value_len || *end || !isfinite(w) || w < 0.1 || w > 100)
                kbc_diag(p->diags, KBC_ERROR, p->path, b->line, info_col(p, b, a.offset),
                         "bad weight '%s' (expected a number from 0.1 to 100)", v);
            else
                weight = w;
            free(v);
        } else if (attr_is(&a, "context")) {
            if (a.value_len == 4 && strncmp(a.value, "mail", 4) == 0)
                context = KB_CONTEXT_MAIL;
            else if (a.value_len == 9 && strncmp(a.value, "mail-only", 9) == 0)
                context = KB_CONTEXT_MAIL_ONLY;
            else
                kbc_diag(p->diags, KBC_ERROR, p->path, b->line, info_col(p, b, a.offset),
                         "bad context '%.*s' (expected context=mail or context=mail-only)",
                         (int)a.value_len, a.value);
        } else if (attr_is(&a, "region")) {
            /* the parts of a pasted bounce a signature may also match: its own headers, the
             * original it returns (kb_bounce.c sets both apart from the failure) */
            for (size_t i = 0; i <= a.value_len;) {
                size_t end = i;
                while (end < a.value_len && a.value[end] != ',')
                    end++;
                if (end - i == 8 && strncmp(a.value + i, "returned", 8) == 0)
                    regions |= 1u << KB_REGION_RETURNED;
                else if (end - i == 7 && strncmp(a.value + i, "headers", 7) == 0)
                    regions |= 1u << KB_REGION_REPORT_HEADERS;
                else
                    kbc_diag(p->diags, KBC_ERROR, p->path, b->line,
                             info_col(p, b, a.offset + (size_t)(a.value - a.key) + i),
                             "bad region '%.*s' (expected region=returned, region=headers or "
                             "both, comma-separated)",
                             (int)(end - i), a.value + i);
                i = end + 1;
            }
        } else {
            unknown_attr(p, b, &a);
        }
    }
    const char *cursor = cmark_node_get_literal(b->node);
    size_t index = 0, count = 0;
    struct block_line l;
    enum kb_status status = KB_OK;
    while (status == KB_OK && next_block_line(b, &cursor, &index, &l)) {
        trim_line(&l);
        if (is_blank_or_comment(&l))
            continue;
        count++;
        status = add_signature(p, e, &l, weight, context, regions, when);
    }
    if (status == KB_OK && count == 0)
        kbc_diag(p->diags, KBC_ERROR, p->path, b->line, b->col,
                 "kb-signatures block has no signatures");
    free(when);
    return status;
}

/* ---- kb-conditions ----------------------------------------------------------------------- */

/* The weight= of a kb-conditions block: like a signature's, or negative (pointing away from
 * the entry); 0 would say nothing. */
static double condition_weight(struct parse *p, const struct kb_block *b, const struct attr *a,
                               int *ok)
{
    char *end = NULL;
    char *v = kbc_strndup(a->value, a->value_len);
    *ok = v != NULL;
    if (!v)
        return 0;
    double w = strtod(v, &end);
    if (!a->value_len || *end || !isfinite(w) || fabs(w) < 0.1 || fabs(w) > 100) {
        kbc_diag(p->diags, KBC_ERROR, p->path, b->line, info_col(p, b, a->offset),
                 "bad weight '%s' (expected a number from 0.1 to 100, or from -100 to -0.1 for "
                 "a condition that points away from the entry)",
                 v);
        w = KB_DEFAULT_WEIGHT;
    }
    free(v);
    return w;
}

static enum kb_status parse_conditions(struct parse *p, const struct kb_block *b,
                                       struct kbc_entry *e)
{
    const char *info = cmark_node_get_fence_info(b->node);
    size_t pos = strlen(block_names[BLOCK_CONDITIONS]);
    double weight = KB_DEFAULT_WEIGHT;
    struct attr a;
    while (next_attr(info, &pos, &a)) {
        if (attr_is(&a, "weight")) {
            int ok;
            weight = condition_weight(p, b, &a, &ok);
            if (!ok)
                return KB_ERR_NOMEM;
        } else {
            unknown_attr(p, b, &a);
        }
    }
    const char *cursor = cmark_node_get_literal(b->node);
    size_t index = 0, count = 0;
    struct block_line l;
    struct kb_buf msg;
    kb_buf_init(&msg, 0);
    enum kb_status status = KB_OK;
    while (status == KB_OK && next_block_line(b, &cursor, &index, &l)) {
        trim_line(&l);
        if (is_blank_or_comment(&l))
            continue;
        count++;
        struct kb_condition *parsed = NULL;
        size_t offset = 0;
        kb_buf_reset(&msg);
        enum kb_status st = kb_condition_parse(l.text, l.len, &parsed, &offset, &msg);
        kb_condition_free(parsed);
        if (st == KB_ERR_NOMEM) {
            status = st;
            break;
        }
        if (st != KB_OK) {
            kbc_diag(p->diags, KBC_ERROR, p->path, l.line, l.col + offset, "%s",
                     msg.data ? msg.data : "bad condition");
            continue;
        }
        struct kbc_condition *c =
            kbc_grow(e->conditions, &e->condition_alloc, e->condition_count, sizeof *c);
        if (!c) {
            status = KB_ERR_NOMEM;
            break;
        }
        e->conditions = c;
        c += e->condition_count;
        *c = (struct kbc_condition){kbc_strndup(l.text, l.len), weight, l.line, l.col};
        if (!c->source) {
            status = KB_ERR_NOMEM;
            break;
        }
        e->condition_count++;
    }
    kb_buf_release(&msg);
    if (status == KB_OK && count == 0)
        kbc_diag(p->diags, KBC_ERROR, p->path, b->line, b->col,
                 "kb-conditions block has no conditions");
    return status;
}

/* ---- kb-provider-steps ------------------------------------------------------------------- */

/* "label: provider, provider": the steps of the solution that start with label (or have it in
 * bold) are for those providers only (steps.c finds them). The label ends at the last colon:
 * provider values have none. */
static enum kb_status parse_step_marks(struct parse *p, const struct kb_block *b,
                                       struct kbc_entry *e)
{
    const char *info = cmark_node_get_fence_info(b->node);
    size_t pos = strlen(block_names[BLOCK_PROVIDER_STEPS]);
    struct attr a;
    while (next_attr(info, &pos, &a))
        unknown_attr(p, b, &a);
    const char *cursor = cmark_node_get_literal(b->node);
    size_t index = 0, count = 0;
    struct block_line l;
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    enum kb_status status = KB_OK;
    while (status == KB_OK && next_block_line(b, &cursor, &index, &l)) {
        trim_line(&l);
        if (is_blank_or_comment(&l))
            continue;
        count++;
        const char *colon = NULL;
        for (size_t i = 0; i < l.len; i++)
            if (l.text[i] == ':')
                colon = l.text + i;
        const char *label = l.text, *v = colon ? colon + 1 : NULL;
        size_t label_len = colon ? (size_t)(colon - l.text) : 0,
               n = colon ? l.len - label_len - 1 : 0;
        trim(&label, &label_len);
        if (!colon || !label_len) {
            kbc_diag(p->diags, KBC_ERROR, p->path, l.line, l.col,
                     "expected 'step: provider, ...' in kb-provider-steps block (the words the "
                     "step starts with, a colon, the providers it is for)");
            continue;
        }
        size_t value_col = l.col + (size_t)(v - l.text);
        kb_buf_reset(&buf);
        size_t errors = p->diags->errors;
        if ((status = comma_values(p, "step provider", v, n, l.line, value_col, &buf)) != KB_OK)
            break;
        if (!buf.len) {
            if (errors == p->diags->errors)
                kbc_diag(p->diags, KBC_ERROR, p->path, l.line, l.col,
                         "step '%.*s' names no provider", (int)label_len, label);
            continue;
        }
        if (kb_list_contains(buf.data, "any")) {
            const char *at = strstr(v, "any");
            kbc_diag(p->diags, KBC_ERROR, p->path, l.line,
                     at ? value_col + (size_t)(at - v) : value_col,
                     "'any' marks no step: a step without a mark is for every provider");
            continue;
        }
        const struct kbc_step_mark *twice = NULL;
        for (size_t i = 0; i < e->mark_count && !twice; i++)
            if (strlen(e->marks[i].label) == label_len
                && strncasecmp(e->marks[i].label, label, label_len) == 0)
                twice = &e->marks[i];
        if (twice) {
            kbc_diag(p->diags, KBC_ERROR, p->path, l.line, l.col,
                     "step '%.*s' is marked twice (first at line %zu)", (int)label_len, label,
                     twice->line);
            continue;
        }
        struct kbc_step_mark *m = kbc_grow(e->marks, &e->mark_alloc, e->mark_count, sizeof *m);
        if (!m) {
            status = KB_ERR_NOMEM;
            break;
        }
        e->marks = m;
        m += e->mark_count;
        *m = (struct kbc_step_mark){kbc_strndup(label, label_len), NULL, l.line, l.col};
        if (!m->label || kb_buf_detach(&buf, &m->providers) != KB_OK) {
            free(m->label);
            status = KB_ERR_NOMEM;
            break;
        }
        e->mark_count++;
    }
    kb_buf_release(&buf);
    if (status == KB_OK && count == 0)
        kbc_diag(p->diags, KBC_ERROR, p->path, b->line, b->col,
                 "kb-provider-steps block has no steps");
    return status;
}

/* ---- kb-example / kb-counterexample ------------------------------------------------------ */

static enum kb_status parse_example(struct parse *p, const struct kb_block *b, struct kbc_entry *e)
{
    int counter = b->type == BLOCK_COUNTER;
    const char *info = cmark_node_get_fence_info(b->node);
    size_t pos = strlen(block_names[b->type]);
    struct kb_buf also;
    kb_buf_init(&also, 0);
    enum kb_status status = KB_OK;
    int fulltext = 0;
    struct attr a;
    while (status == KB_OK && next_attr(info, &pos, &a)) {
        if (!counter && attr_is(&a, "via")) {
            /* what finds the example: the entry's signatures (the default) or full text */
            if (a.value_len == 8 && strncmp(a.value, "fulltext", 8) == 0)
                fulltext = 1;
            else if (!(a.value_len == 9 && strncmp(a.value, "signature", 9) == 0))
                kbc_diag(p->diags, KBC_ERROR, p->path, b->line, info_col(p, b, a.offset),
                         "bad via '%.*s' (expected via=fulltext for an example meant for the "
                         "full-text stage; via=signature is the default)",
                         (int)a.value_len, a.value);
            continue;
        }
        if (counter || !attr_is(&a, "also")) {
            unknown_attr(p, b, &a);
            continue;
        }
        size_t i = 0;
        while (i <= a.value_len && status == KB_OK) {
            size_t start = i;
            while (i < a.value_len && a.value[i] != ',')
                i++;
            if (i > start) {
                size_t col = info_col(p, b, (size_t)(a.value - info) + start);
                status =
                    add_ref(p->article, KBC_REF_ALSO, a.value + start, i - start, b->line, col);
                if (status == KB_OK)
                    status = append_list_item(&also, a.value + start, i - start);
            }
            i++;
        }
    }
    const char *text = cmark_node_get_literal(b->node);
    size_t n = text ? strlen(text) : 0;
    while (n && (text[n - 1] == '\n' || is_blank_char(text[n - 1])))
        n--;
    size_t blank = 0;
    while (blank < n && isspace((unsigned char)text[blank]))
        blank++;
    if (status == KB_OK && blank == n) {
        kbc_diag(p->diags, KBC_ERROR, p->path, b->line, b->col, "%s block is empty",
                 block_names[b->type]);
        goto cleanup;
    }
    struct kbc_example *ex = NULL;
    if (status != KB_OK
        || !(ex = kbc_grow(e->examples, &e->example_alloc, e->example_count, sizeof *ex))) {
        status = KB_ERR_NOMEM;
        goto cleanup;
    }
    e->examples = ex;
    ex += e->example_count;
    memset(ex, 0, sizeof *ex);
    ex->counter = counter;
    ex->fulltext = fulltext;
    ex->line = b->line;
    ex->col = b->col;
    ex->text = kbc_strndup(text, n);
    if (!ex->text || kb_buf_detach(&also, &ex->also) != KB_OK) {
        free(ex->text);
        status = KB_ERR_NOMEM;
        goto cleanup;
    }
    e->example_count++;
cleanup:
    kb_buf_release(&also);
    return status;
}

/* ---- entries ----------------------------------------------------------------------------- */

static struct kbc_entry *new_entry(struct kbc_article *a)
{
    struct kbc_entry *e = kbc_grow(a->entries, &a->entry_alloc, a->entry_count, sizeof *e);
    if (!e)
        return NULL;
    a->entries = e;
    e += a->entry_count++;
    memset(e, 0, sizeof *e);
    return e;
}

static int heading_is(const char *title, const char *const *names, size_t count)
{
    size_t n = strlen(title);
    while (n && (title[n - 1] == ':' || is_blank_char(title[n - 1])))
        n--;
    for (size_t i = 0; i < count; i++)
        if (strlen(names[i]) == n && strncasecmp(title, names[i], n) == 0)
            return 1;
    return 0;
}

/* Renders [first, end) three ways into the given fields. */
static enum kb_status render_three(cmark_node *first, cmark_node *end, char **text, char **ansi,
                                   char **md)
{
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    enum kb_status status = kbc_render_text(first, end, KBC_PLAIN, &buf);
    if (status == KB_OK)
        status = kb_buf_detach(&buf, text);
    if (status == KB_OK)
        status = kbc_render_text(first, end, KBC_ANSI, &buf);
    if (status == KB_OK)
        status = kb_buf_detach(&buf, ansi);
    if (status == KB_OK)
        status = kbc_render_md(first, end, &buf);
    if (status == KB_OK)
        status = kb_buf_detach(&buf, md);
    kb_buf_release(&buf);
    return status;
}

/* Is line inside a kb- block? Blocks are in document order and never overlap, so a binary
 * search finds the last block starting at or before line. */
static int line_in_kb_block(const struct parse *p, size_t line)
{
    size_t lo = 0, hi = p->block_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->blocks[mid].line <= line)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && line <= p->blocks[lo - 1].end_line;
}

static enum kb_status add_placeholder(struct kbc_entry *e, const char *name, size_t len,
                                      int has_default, size_t line, size_t col)
{
    struct kbc_placeholder *ph =
        kbc_grow(e->placeholders, &e->placeholder_alloc, e->placeholder_count, sizeof *ph);
    if (!ph)
        return KB_ERR_NOMEM;
    e->placeholders = ph;
    char *copy = kbc_strndup(name, len);
    if (!copy)
        return KB_ERR_NOMEM;
    ph[e->placeholder_count++] = (struct kbc_placeholder){copy, has_default, line, col};
    return KB_OK;
}

static int name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* Finds {{name}} and {{name|default}} in the entry's source lines (kb- blocks excluded). */
static enum kb_status scan_placeholders(struct parse *p, struct kbc_entry *e, size_t first_line,
                                        size_t end_line)
{
    enum kb_status status = KB_OK;
    for (size_t line = first_line; line < end_line && status == KB_OK; line++) {
        size_t n;
        const char *s = line_text(p, line, &n);
        if (!s)
            break;
        if (!line_in_kb_block(p, line)) {
            /* the next "}}" of the line, searched for again only once passed (searched for
             * from every "{{|", a line full of them cost the square of its length) */
            size_t close = 0;
            int close_left = 1;
            for (size_t i = 0; i + 1 < n && status == KB_OK; i++) {
                if (s[i] != '{' || s[i + 1] != '{')
                    continue;
                size_t j = i + 2;
                while (j < n && name_char(s[j]))
                    j++;
                if (j == i + 2 || j >= n)
                    continue;
                int has_default = s[j] == '|';
                if (!has_default && !(j + 1 < n && s[j] == '}' && s[j + 1] == '}'))
                    continue;
                if (has_default) {
                    if (close_left && close < j) {
                        for (close = j; close + 1 < n && !(s[close] == '}' && s[close + 1] == '}');
                             close++)
                            ;
                        close_left = close + 1 < n;
                    }
                    if (!close_left)
                        continue;
                }
                status = add_placeholder(e, s + i + 2, j - i - 2, has_default, line, i + 1);
                i = j;
            }
        }
    }
    return status;
}

static int is_example_node(cmark_node *n)
{
    const char *info =
        cmark_node_get_type(n) == CMARK_NODE_CODE_BLOCK ? cmark_node_get_fence_info(n) : NULL;
    return info && strcmp(info, "kb-example") == 0;
}

/* Where an example block was, to put it back after the parts without examples are rendered. */
struct detached {
    cmark_node *node, *prev, *parent;
};

/* Takes the section's example blocks out of the tree (in document order into *out). */
static enum kb_status detach_examples(const struct section *s, struct detached **out, size_t *count)
{
    size_t n = 0, alloc = 0;
    struct detached *v = NULL;
    for (cmark_node *node = cmark_node_next(s->heading); node && node != s->end;) {
        cmark_node *next = cmark_node_next(node);
        if (is_example_node(node)) {
            struct detached *grown = kbc_grow(v, &alloc, n, sizeof *v);
            if (!grown) {
                free(v);
                return KB_ERR_NOMEM;
            }
            v = grown;
            v[n].node = node;
            v[n].prev = cmark_node_previous(node);
            v[n].parent = cmark_node_parent(node);
            n++;
            cmark_node_unlink(node);
        }
        node = next;
    }
    *out = v;
    *count = n;
    return KB_OK;
}

/* Puts detached examples back where they were, shown as plain code blocks from now on. Last
 * first: each was unlinked after the one before it, so adjacent ones share the node they
 * follow, and putting them back in document order would reverse them. */
static void reattach_examples(struct detached *v, size_t count)
{
    for (size_t i = count; i-- > 0;) {
        if (v[i].prev)
            cmark_node_insert_after(v[i].prev, v[i].node);
        else
            cmark_node_prepend_child(v[i].parent, v[i].node);
        cmark_node_set_fence_info(v[i].node, "");
    }
    free(v);
}

/* Takes the sibling nodes [first, end) out of the tree; put back with reattach_range. */
static enum kb_status detach_range(cmark_node *first, cmark_node *end, struct detached **out,
                                   size_t *count)
{
    size_t n = 0, alloc = 0;
    struct detached *v = NULL;
    for (cmark_node *node = first; node && node != end;) {
        cmark_node *next = cmark_node_next(node);
        struct detached *grown = kbc_grow(v, &alloc, n, sizeof *v);
        if (!grown) {
            free(v);
            return KB_ERR_NOMEM;
        }
        v = grown;
        v[n].node = node;
        v[n].prev = cmark_node_previous(node);
        v[n].parent = cmark_node_parent(node);
        n++;
        cmark_node_unlink(node);
        node = next;
    }
    *out = v;
    *count = n;
    return KB_OK;
}

/* Puts back what detach_range took (last first, as reattach_examples). */
static void reattach_range(struct detached *v, size_t count)
{
    for (size_t i = count; i-- > 0;) {
        if (v[i].prev)
            cmark_node_insert_after(v[i].prev, v[i].node);
        else
            cmark_node_prepend_child(v[i].parent, v[i].node);
    }
    free(v);
}

/* The titles an entry is known by, and its file's name, as harvested evidence of what it is
 * about (status codes in "fix-error-code-5-7-12-in-exchange-online.md"). */
static enum kb_status harvest_titles(struct parse *p, struct kbc_entry *e)
{
    const char *rel = p->file->rel, *base = strrchr(rel, '/');
    const char *texts[] = {e->title, p->article->title, p->fm_title, base ? base + 1 : rel};
    enum kb_status status = KB_OK;
    for (size_t i = 0; i < sizeof texts / sizeof *texts && status == KB_OK; i++)
        if (texts[i])
            status = kbc_harvest_title(e, texts[i], KBC_TIER_TITLE);
    if (status == KB_OK && p->fm_description)
        status = kbc_harvest_title(e, p->fm_description, KBC_TIER_HEADING);
    return status;
}

/* The level-3 parts of an entry: "Why it happens"/"Cause", "Tell it apart",
 * "Fix"/"Solution"/"How to fix", and after the solution "How it is recognised": the notes
 * that explain an entry's signatures, examples and conditions to whoever maintains the KB,
 * which the agent reading the solution has no use for. */
static enum kb_status render_entry(struct parse *p, struct kbc_entry *e, const struct section *s)
{
    static const char *const why_names[] = {"why it happens", "cause"};
    static const char *const tell_names[] = {"tell it apart", "how to tell it apart"};
    static const char *const fix_names[] = {"fix", "solution", "how to fix"};
    static const char *const notes_names[] = {"how it is recognised", "how it is recognized"};
    cmark_node *why = NULL, *why_end = NULL, *tell = NULL, *tell_end = NULL, *fix = NULL;
    cmark_node *notes = NULL;
    enum kb_status status = KB_OK;
    for (cmark_node *n = cmark_node_next(s->heading); n && n != s->end; n = cmark_node_next(n)) {
        int level = heading_level(n);
        if (why && !why_end && level && level <= 3)
            why_end = n;
        if (tell && !tell_end && level && level <= 3)
            tell_end = n;
        if (level != 3)
            continue;
        char *title = node_text(n);
        if (!title)
            return KB_ERR_NOMEM;
        if (!why && heading_is(title, why_names, 2)) {
            why = n;
        } else if (!tell && heading_is(title, tell_names, 2)) {
            tell = n;
            /* everything from Fix on is the solution: a check placed there would be shown
             * twice, once as a step it is not */
            if (fix)
                kbc_diag(p->diags, KBC_ERROR, p->path, (size_t)cmark_node_get_start_line(n),
                         (size_t)cmark_node_get_start_column(n),
                         "'Tell it apart' of entry '%s' must come before its Fix section",
                         e->id ? e->id : "");
        } else if (!fix && heading_is(title, fix_names, 3)) {
            fix = n;
        } else if (fix && !notes && heading_is(title, notes_names, 2)) {
            notes = n;
        }
        free(title);
    }
    if (!why_end)
        why_end = s->end;
    if (!tell_end)
        tell_end = s->end;
    /* the solution: from Fix to the maintainers' notes, or to the end of the entry */
    cmark_node *solution_end = notes ? notes : s->end;
    if (!fix)
        kbc_diag(p->diags, KBC_ERROR, p->path, s->line, s->col,
                 "entry '%s' has no Fix section (a level-3 heading 'Fix', 'Solution' or 'How "
                 "to fix')",
                 e->id ? e->id : "");
    /* "Why it happens" and the fix are what the agent reads first: real error dumps placed
     * at the end of an entry would bury them. The full entry (--show) keeps the examples. */
    struct detached *examples = NULL;
    size_t example_count = 0;
    status = detach_examples(s, &examples, &example_count);
    if (status == KB_OK)
        status = harvest_titles(p, e);
    /* what the entry says of the problem is evidence and full text; "Tell it apart" is how to
     * check it, in words any entry could use, and is neither */
    struct detached *check = NULL;
    size_t check_count = 0;
    if (status == KB_OK && tell)
        status = detach_range(tell, tell_end, &check, &check_count);
    if (status == KB_OK)
        status = kbc_harvest_blocks(e, cmark_node_next(s->heading), s->end, 0);
    reattach_range(check, check_count);
    if (status == KB_OK && why)
        status =
            render_three(cmark_node_next(why), why_end, &e->why_text, &e->why_ansi, &e->why_md);
    if (status == KB_OK && tell)
        status = render_three(cmark_node_next(tell), tell_end, &e->tell_text, &e->tell_ansi,
                              &e->tell_md);
    /* provider-specific steps get a sentinel while the solution is rendered (steps.c) */
    struct kbc_sentinels sentinels = {0};
    if (status == KB_OK && fix)
        status =
            kbc_steps_mark(e, cmark_node_next(fix), solution_end, p->path, p->diags, &sentinels);
    if (status == KB_OK && fix)
        status = render_three(cmark_node_next(fix), solution_end, &e->solution_text,
                              &e->solution_ansi, &e->solution_md);
    if (status == KB_OK && fix)
        status = kbc_structure_read(e, fix, solution_end);
    kbc_steps_unmark(&sentinels);
    if (status == KB_OK)
        status = kbc_steps_cut(e, KB_FORM_TEXT, &e->solution_text);
    if (status == KB_OK)
        status = kbc_steps_cut(e, KB_FORM_ANSI, &e->solution_ansi);
    if (status == KB_OK)
        status = kbc_steps_cut(e, KB_FORM_MARKDOWN, &e->solution_md);
    reattach_examples(examples, example_count);
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    if (status == KB_OK)
        status = kbc_render_md(s->heading, s->end, &buf);
    if (status == KB_OK)
        status = kb_buf_detach(&buf, &e->body_md);
    if (status == KB_OK)
        status = kbc_render_text(s->heading, tell ? tell : s->end, KBC_PLAIN, &buf);
    if (status == KB_OK && tell && tell_end)
        status = kbc_render_text(tell_end, s->end, KBC_PLAIN, &buf);
    if (status == KB_OK)
        status = kb_buf_detach(&buf, &e->body_text);
    kb_buf_release(&buf);
    if (status == KB_OK)
        status = scan_placeholders(p, e, s->line, s->end_line);
    return status;
}

static enum kb_status fill_defaults(struct kbc_entry *e)
{
    char **fields[] = {&e->provider,      &e->related,       &e->why_text,    &e->why_ansi,
                       &e->why_md,        &e->tell_text,     &e->tell_ansi,   &e->tell_md,
                       &e->solution_text, &e->solution_ansi, &e->solution_md, &e->body_md,
                       &e->body_text,     &e->title};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (!*fields[i] && !(*fields[i] = kbc_strndup("", 0)))
            return KB_ERR_NOMEM;
    if (!e->audience && !(e->audience = kbc_strndup("both", 4)))
        return KB_ERR_NOMEM;
    return KB_OK;
}

/* A block that declares something of the whole KB (a provider, a client, the default
 * language) or hides an id: it may stand anywhere and makes no entry. */
static int is_declaration(enum block_type type)
{
    return type == BLOCK_PROVIDER || type == BLOCK_CLIENT || type == BLOCK_HIDE
           || type == BLOCK_LANGUAGE;
}

static void stray_block(struct parse *p, const struct kb_block *b)
{
    if (is_declaration(b->type))
        return;
    if (b->type == BLOCK_ENTRY)
        kbc_diag(p->diags, KBC_ERROR, p->path, b->line, b->col,
                 "kb-entry block is not under a level-2 heading");
    else if (b->type != BLOCK_UNKNOWN)
        kbc_diag(p->diags, KBC_ERROR, p->path, b->line, b->col,
                 "%s block is not in an entry (a level-2 section with a kb-entry block)",
                 block_names[b->type]);
}

/* Builds the entry of section si from its blocks. */
static enum kb_status build_entry(struct parse *p, size_t si, const struct kb_block *entry_block)
{
    struct kbc_entry *e = new_entry(p->article);
    if (!e)
        return KB_ERR_NOMEM;
    struct section *s = &p->sections[si];
    s->used = 1;
    e->line = s->line;
    e->col = s->col;
    if (!(e->title = node_text(s->heading)))
        return KB_ERR_NOMEM;
    enum kb_status status = parse_entry_block(p, entry_block, e);
    for (size_t i = s->block_first; i < s->block_end && status == KB_OK; i++) {
        const struct kb_block *b = &p->blocks[i];
        if (b == entry_block)
            continue;
        if (b->type == BLOCK_ENTRY)
            kbc_diag(p->diags, KBC_ERROR, p->path, b->line, b->col,
                     "second kb-entry block in entry '%s' (the first is at line %zu)",
                     e->id ? e->id : "", entry_block->line);
        else if (b->type == BLOCK_SIGNATURES)
            status = parse_signatures(p, b, e);
        else if (b->type == BLOCK_CONDITIONS)
            status = parse_conditions(p, b, e);
        else if (b->type == BLOCK_PROVIDER_STEPS)
            status = parse_step_marks(p, b, e);
        else if (b->type == BLOCK_EXAMPLE || b->type == BLOCK_COUNTER)
            status = parse_example(p, b, e);
        /* a declaration belongs to the KB, not to the entry: read in kb_article */
    }
    return status;
}

/* Removes the metadata blocks from the AST so no rendering shows them; examples stay (the full
 * entry shows them as plain code: what the error looks like), still marked kb-example until
 * render_entry has rendered the parts that must not show them. */
static void drop_kb_blocks(struct parse *p)
{
    for (size_t i = 0; i < p->block_count; i++) {
        struct kb_block *b = &p->blocks[i];
        if (b->type == BLOCK_EXAMPLE)
            cmark_node_set_fence_info(b->node, "kb-example");
        else
            cmark_node_free(b->node);
        b->node = NULL;
    }
}

static enum kb_status kb_article(struct parse *p)
{
    enum kb_status status = KB_OK;
    for (size_t i = 0; i < p->block_count && status == KB_OK; i++) {
        struct kb_block *b = &p->blocks[i];
        if (b->type == BLOCK_PROVIDER) {
            status = kbc_provider_parse(p->kb, p->file, cmark_node_get_literal(b->node), b->line,
                                        b->col, p->diags);
        } else if (b->type == BLOCK_CLIENT) {
            status = kbc_client_parse(p->kb, p->file, cmark_node_get_literal(b->node), b->line,
                                      b->col, p->diags);
        } else if (b->type == BLOCK_LANGUAGE) {
            status = kbc_language_parse(p->kb, p->file, cmark_node_get_literal(b->node), b->line,
                                        b->col, p->diags);
        } else if (b->type == BLOCK_HIDE) {
            status = kbc_hide_parse(p->kb, p->file, cmark_node_get_literal(b->node), b->line,
                                    b->col, p->diags);
        } else if (b->type == BLOCK_UNKNOWN) {
            size_t word;
            const char *info = cmark_node_get_fence_info(b->node);
            block_type_of(info, &word);
            kbc_diag(p->diags, KBC_ERROR, p->path, b->line, b->col,
                     "unknown block type '%.*s' (expected kb-entry, kb-signatures, "
                     "kb-conditions, kb-example, kb-counterexample, kb-provider-steps, "
                     "kb-provider, kb-client, kb-hide or kb-language)",
                     (int)word, info);
        } else if (b->section < 0) {
            stray_block(p, b);
        }
    }
    /* a section's blocks are contiguous: blocks are collected in document order */
    for (size_t i = p->block_count; i-- > 0;) {
        long si = p->blocks[i].section;
        if (si < 0)
            continue;
        if (p->sections[si].block_end == 0)
            p->sections[si].block_end = i + 1;
        p->sections[si].block_first = i;
    }
    for (size_t si = 0; si < p->section_count && status == KB_OK; si++) {
        const struct section *s = &p->sections[si];
        const struct kb_block *entry_block = NULL;
        for (size_t i = s->block_first; i < s->block_end && !entry_block; i++)
            if (p->blocks[i].type == BLOCK_ENTRY)
                entry_block = &p->blocks[i];
        if (entry_block) {
            status = build_entry(p, si, entry_block);
            continue;
        }
        int declares = 0; /* a section that declares something is no entry, and says so */
        for (size_t i = s->block_first; i < s->block_end; i++) {
            declares |= is_declaration(p->blocks[i].type);
            stray_block(p, &p->blocks[i]);
        }
        if (declares)
            continue;
        char *title = node_text(p->sections[si].heading);
        if (!title)
            return KB_ERR_NOMEM;
        kbc_diag(p->diags, KBC_WARNING, p->path, p->sections[si].line, p->sections[si].col,
                 "section '%s' has no kb-entry block; it is not indexed as an entry", title);
        free(title);
    }
    if (status != KB_OK)
        return status;
    if (!p->h1 && p->article->entry_count)
        kbc_diag(p->diags, KBC_ERROR, p->path, 1, 1,
                 "article has entries but no title (a level-1 heading)");
    p->article->title = p->h1 ? node_text(p->h1) : kbc_strndup("", 0);
    if (!p->article->title)
        return KB_ERR_NOMEM;

    drop_kb_blocks(p);
    size_t e = 0;
    for (size_t si = 0; si < p->section_count && status == KB_OK; si++) {
        if (!p->sections[si].used)
            continue;
        status = render_entry(p, &p->article->entries[e], &p->sections[si]);
        if (status == KB_OK)
            status = fill_defaults(&p->article->entries[e]);
        e++;
    }
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    if (status == KB_OK && p->h1) {
        cmark_node *end = cmark_node_next(p->h1);
        while (end && !(heading_level(end) && heading_level(end) <= 2))
            end = cmark_node_next(end);
        status = kbc_render_md(cmark_node_next(p->h1), end, &buf);
    }
    if (status == KB_OK)
        status = kb_buf_detach(&buf, &p->article->intro_md);
    kb_buf_release(&buf);
    return status;
}

/* ---- foreign Markdown -------------------------------------------------------------------- */

static char *file_stem(const char *rel)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    size_t n = strlen(base);
    if (n > 3 && strcmp(base + n - 3, ".md") == 0)
        n -= 3;
    return kbc_strndup(base, n);
}

static enum kb_status foreign_article(struct parse *p)
{
    struct kbc_article *a = p->article;
    a->foreign = 1;
    /* kb: links in Markdown not written for this KB are not checked */
    for (size_t i = 0; i < a->ref_count; i++)
        free(a->refs[i].id);
    a->ref_count = 0;
    if (p->fm_title)
        a->title = kbc_strndup(p->fm_title, strlen(p->fm_title));
    else if (p->first_heading)
        a->title = node_text(p->first_heading);
    if (a->title && !a->title[0]) {
        free(a->title);
        a->title = NULL;
    }
    if (!a->title)
        a->title = file_stem(p->file->rel);
    struct kbc_entry *e = a->title ? new_entry(a) : NULL;
    if (!e || !(a->intro_md = kbc_strndup("", 0))
        || !(e->title = kbc_strndup(a->title, strlen(a->title))))
        return KB_ERR_NOMEM;
    e->line = e->col = 1;
    e->fulltext_only = 1;
    cmark_node *first = cmark_node_first_child(p->doc);
    enum kb_status status =
        render_three(first, NULL, &e->solution_text, &e->solution_ansi, &e->solution_md);
    if (status == KB_OK)
        status = harvest_titles(p, e);
    if (status == KB_OK)
        status = kbc_harvest_blocks(e, first, NULL, 1);
    if (status == KB_OK && !(e->body_md = kbc_strndup(e->solution_md, strlen(e->solution_md))))
        status = KB_ERR_NOMEM;
    if (status == KB_OK
        && !(e->body_text = kbc_strndup(e->solution_text, strlen(e->solution_text))))
        status = KB_ERR_NOMEM;
    if (status == KB_OK && p->fm_description && p->fm_description[0]) {
        struct kb_buf buf;
        kb_buf_init(&buf, 0);
        if (kb_buf_printf(&buf, "%s\n", p->fm_description) != KB_OK
            || !(e->why_text = kbc_strndup(buf.data, buf.len))
            || !(e->why_ansi = kbc_strndup(buf.data, buf.len))
            || kb_buf_detach(&buf, &e->why_md) != KB_OK)
            status = KB_ERR_NOMEM;
        kb_buf_release(&buf);
    }
    return status == KB_OK ? fill_defaults(e) : status;
}

/* ---- the file ---------------------------------------------------------------------------- */

static int skip_file(const struct kbc_file *f, struct kbc_diags *diags)
{
    size_t i = 0;
    while (i < f->len && isspace((unsigned char)f->data[i]))
        i++;
    if (i == f->len) {
        kbc_diag(diags, KBC_WARNING, f->display, 1, 1, "empty file; skipped");
        return 1;
    }
    size_t probe = f->len < KBC_BINARY_PROBE ? f->len : KBC_BINARY_PROBE;
    if (memchr(f->data, '\0', probe)) {
        kbc_diag(diags, KBC_WARNING, f->display, 1, 1,
                 "binary file (NUL bytes in the first 8 KB); skipped");
        return 1;
    }
    return 0;
}

/* Articles are UTF-8 (a byte order mark is fine). A file in another encoding would compile
 * into text shown with U+FFFD in every accented word, so it is an error at its first byte
 * that is not UTF-8, naming the byte and the conversion. */
static int not_utf8(const struct kbc_file *f, struct kbc_diags *diags)
{
    const unsigned char *s = (const unsigned char *)f->data;
    size_t first = SIZE_MAX, bad = 0;
    for (size_t i = 0; i < f->len;) {
        uint32_t cp;
        size_t n = s[i] < 0x80 ? 1 : kbc_utf8_char(s + i, f->len - i, &cp);
        if (n) {
            i += n;
            continue;
        }
        if (first == SIZE_MAX)
            first = i;
        bad++;
        i++;
    }
    if (!bad)
        return 0;
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < first; i++)
        if (s[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    size_t col = first - line_start + 1;
    if (line == 1 && f->len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        col -= 3;
    char more[64] = "";
    if (bad > 1)
        snprintf(more, sizeof more, " (and %zu more in this file)", bad - 1);
    kbc_diag(diags, KBC_ERROR, f->display, line, col,
             "byte 0x%02X is not UTF-8%s: articles must be UTF-8; if this one is Latin-1 or "
             "Windows-1252, convert it with 'iconv -f WINDOWS-1252 -t UTF-8'",
             s[first], more);
    return 1;
}

static void article_release(struct kbc_article *a);

enum kb_status kbc_parse_file(const struct kbc_file *file, struct kbc_kb *kb,
                              struct kbc_diags *diags)
{
    if (!file->data || skip_file(file, diags) || not_utf8(file, diags))
        return KB_OK;
    struct parse p = {
        .kb = kb, .file = file, .diags = diags, .path = file->display, .len = file->len};
    struct kbc_article article = {.file = file};
    p.article = &article;
    enum kb_status status = KB_ERR_NOMEM;
    if (!(p.src = kbc_strndup(file->data, file->len)))
        goto cleanup;
    if ((status = front_matter(&p)) != KB_OK || (status = admonitions(&p)) != KB_OK
        || (status = index_lines(&p)) != KB_OK)
        goto cleanup;
    status = KB_ERR_NOMEM;
    p.doc = cmark_parse_document(p.src, p.len, CMARK_OPT_SOURCEPOS | CMARK_OPT_VALIDATE_UTF8);
    if (!p.doc)
        goto cleanup;
    if ((status = walk(&p)) != KB_OK)
        goto cleanup;
    if (p.cost > MAX_RENDER_COST) {
        kbc_diag(diags, KBC_WARNING, p.path, 1, 1,
                 "markdown nested too deeply to render (%zu levels); skipped", p.max_depth);
        goto cleanup;
    }
    status = p.block_count ? kb_article(&p) : foreign_article(&p);
    if (status != KB_OK)
        goto cleanup;
    /* a file that only declares (kb/providers.md, kb/clients.md) is no article: nothing to
     * show */
    int declarations_only = !article.entry_count;
    for (size_t i = 0; i < p.block_count && declarations_only; i++)
        declarations_only = is_declaration(p.blocks[i].type);
    if (declarations_only && p.block_count)
        goto cleanup;
    struct kbc_article *slot = kbc_grow(kb->articles, &kb->alloc, kb->count, sizeof *slot);
    if (!slot) {
        status = KB_ERR_NOMEM;
        goto cleanup;
    }
    kb->articles = slot;
    slot[kb->count++] = article;
    memset(&article, 0, sizeof article);
cleanup:
    article_release(&article);
    if (p.doc)
        cmark_node_free(p.doc);
    free(p.src);
    free(p.line_off);
    free(p.fm_title);
    free(p.fm_description);
    free(p.sections);
    free(p.blocks);
    return status;
}

/* ---- releasing the model ----------------------------------------------------------------- */

static void entry_release(struct kbc_entry *e)
{
    char *fields[] = {e->id,       e->title,         e->provider,      e->audience,    e->related,
                      e->why_text, e->why_ansi,      e->why_md,        e->tell_text,   e->tell_ansi,
                      e->tell_md,  e->solution_text, e->solution_ansi, e->solution_md, e->body_md,
                      e->body_text};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        free(fields[i]);
    for (size_t i = 0; i < e->sig_count; i++) {
        free(e->sigs[i].source);
        free(e->sigs[i].pattern);
        free(e->sigs[i].captures);
        free(e->sigs[i].when);
    }
    free(e->sigs);
    for (size_t i = 0; i < e->example_count; i++) {
        free(e->examples[i].text);
        free(e->examples[i].also);
    }
    free(e->examples);
    for (size_t i = 0; i < e->condition_count; i++)
        free(e->conditions[i].source);
    free(e->conditions);
    for (size_t i = 0; i < e->placeholder_count; i++)
        free(e->placeholders[i].name);
    free(e->placeholders);
    for (size_t i = 0; i < e->harvest_count; i++)
        free(e->harvest[i].text);
    free(e->harvest);
    kbc_steps_release(e);
    kbc_structure_release(e);
    for (size_t i = 0; i < e->section_count; i++) {
        free(e->sections[i].heading);
        free(e->sections[i].anchor);
        free(e->sections[i].code);
        free(e->sections[i].body);
        free(e->sections[i].links);
        free(e->sections[i].targets);
    }
    free(e->sections);
}

static void article_release(struct kbc_article *a)
{
    free(a->title);
    free(a->intro_md);
    for (size_t i = 0; i < a->entry_count; i++)
        entry_release(&a->entries[i]);
    free(a->entries);
    for (size_t i = 0; i < a->ref_count; i++)
        free(a->refs[i].id);
    free(a->refs);
    memset(a, 0, sizeof *a);
}

void kbc_kb_release(struct kbc_kb *kb)
{
    for (size_t i = 0; i < kb->count; i++)
        article_release(&kb->articles[i]);
    kbc_providers_release(kb);
    kbc_clients_release(kb);
    for (size_t i = 0; i < kb->hide_count; i++)
        free(kb->hides[i].id);
    free(kb->hides);
    for (size_t i = 0; i < kb->translation_count; i++) {
        free(kb->translations[i].lang);
        article_release(&kb->translations[i].article);
    }
    free(kb->translations);
    free(kb->language);
    free(kb->articles);
    memset(kb, 0, sizeof *kb);
}
