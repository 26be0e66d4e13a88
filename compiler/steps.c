/*
 * steps.c - provider-specific steps: the parts of an entry's solution that a kb-provider-steps
 * block marks as applying to some providers only (kb/README.md), found in the AST and cut out
 * of each rendering as byte ranges, so that kb-lookup can leave out the steps of the providers
 * a customer does not use without linking cmark.
 *
 * parse.c reads the block into the entry's marks; here each mark's label is looked up among
 * the solution's list items (whose first paragraph starts with the label or has it in bold)
 * and sub-sections (headings of level 4 to 6 that start with it). Each step found gets a
 * sentinel (a custom inline node, "\x1f" S index "\x1f") at the start of its first line; the
 * renderers write it like text, and kbc_steps_cut takes it out again, noting where the line
 * holding it starts. A step ends where the next line that is not blank and not indented
 * deeper than the step's first line starts (a list item), or at the next heading of the same
 * or a higher level (a sub-section): both hold for the plain, ANSI and Markdown renderings
 * alike, whose list items and code blocks are indented under their marker.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb_text.h"
#include "kbc.h"

/* Does text start with label (caseless), followed by something that is not a letter or digit? */
static int starts_with(const char *text, const char *label)
{
    while (*text == ' ')
        text++;
    size_t n = strlen(label);
    return strncasecmp(text, label, n) == 0 && !isalnum((unsigned char)text[n]);
}

/* Is label, caseless, the whole text of a strong (bold) span of the paragraph? */
static enum kb_status in_bold(cmark_node *paragraph, const char *label, struct kb_buf *scratch,
                              int *found)
{
    *found = 0;
    cmark_iter *it = cmark_iter_new(paragraph);
    if (!it)
        return KB_ERR_NOMEM;
    enum kb_status status = KB_OK;
    cmark_event_type ev;
    while (!*found && status == KB_OK && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        if (ev != CMARK_EVENT_ENTER || cmark_node_get_type(n) != CMARK_NODE_STRONG)
            continue;
        status = kbc_inline_text(n, scratch);
        if (status == KB_OK)
            *found = strcasecmp(scratch->data, label) == 0;
    }
    cmark_iter_free(it);
    return status;
}

/* Appends the items of the list "a,b" to the list *set that it does not hold yet. */
static enum kb_status set_union(char **set, const char *list)
{
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    enum kb_status status = kb_buf_append_str(&buf, *set ? *set : "");
    size_t len;
    for (const char *item; status == KB_OK && (item = kb_list_next(&list, &len));) {
        int have = 0;
        const char *cur = buf.data ? buf.data : "";
        size_t clen;
        for (const char *c; !have && (c = kb_list_next(&cur, &clen));)
            have = clen == len && strncmp(c, item, len) == 0;
        if (have)
            continue;
        if (buf.len)
            status = kb_buf_append_char(&buf, ',');
        if (status == KB_OK)
            status = kb_buf_append(&buf, item, len);
    }
    char *joined = NULL;
    if (status == KB_OK)
        status = kb_buf_detach(&buf, &joined);
    kb_buf_release(&buf);
    if (status == KB_OK) {
        free(*set);
        *set = joined;
    }
    return status;
}

/* A step found: its node, and whether it is a sub-section (its heading level) or an item. */
struct found {
    cmark_node *node; /* the item's first paragraph, or the heading */
    int level;        /* 0 for a list item */
};

static enum kb_status add_sentinel(struct kbc_sentinels *s, cmark_node *into, const char *code)
{
    cmark_node **nodes = kbc_grow(s->nodes, &s->alloc, s->count, sizeof *nodes);
    if (!nodes)
        return KB_ERR_NOMEM;
    s->nodes = nodes;
    cmark_node *n = cmark_node_new(CMARK_NODE_CUSTOM_INLINE);
    if (!n || !cmark_node_set_on_enter(n, code) || !cmark_node_prepend_child(into, n)) {
        if (n)
            cmark_node_free(n);
        return KB_ERR_NOMEM;
    }
    s->nodes[s->count++] = n;
    return KB_OK;
}

/* Records that mark m points to node (a new step, or one another mark found already). */
static enum kb_status add_found(struct kbc_entry *e, struct found **found, size_t *alloc,
                                cmark_node *node, int level, int part,
                                const struct kbc_step_mark *m)
{
    size_t i = 0;
    while (i < e->step_count && (*found)[i].node != node)
        i++;
    if (i == e->step_count) {
        struct kbc_step *steps = kbc_grow(e->steps, &e->step_alloc, e->step_count, sizeof *steps);
        if (!steps)
            return KB_ERR_NOMEM;
        e->steps = steps;
        struct found *f = kbc_grow(*found, alloc, e->step_count, sizeof *f);
        if (!f)
            return KB_ERR_NOMEM;
        *found = f;
        memset(&steps[i], 0, sizeof steps[i]);
        steps[i].part = part;
        f[i] = (struct found){node, level};
        e->step_count++;
    }
    struct kbc_step *s = &e->steps[i];
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    enum kb_status status = s->labels ? kb_buf_printf(&buf, "%s, %s", s->labels, m->label)
                                      : kb_buf_append_str(&buf, m->label);
    char *labels = NULL;
    if (status == KB_OK)
        status = kb_buf_detach(&buf, &labels);
    kb_buf_release(&buf);
    if (status != KB_OK)
        return status;
    free(s->labels);
    s->labels = labels;
    return set_union(&s->providers, m->providers);
}

enum kb_status kbc_steps_mark(struct kbc_entry *e, cmark_node *first, cmark_node *end,
                              const char *path, struct kbc_diags *diags, struct kbc_sentinels *out)
{
    if (!e->mark_count)
        return KB_OK;
    struct found *found = NULL;
    size_t found_alloc = 0;
    int *used = calloc(e->mark_count, sizeof *used);
    struct kb_buf text, scratch;
    kb_buf_init(&text, 0);
    kb_buf_init(&scratch, 0);
    enum kb_status status = used ? KB_OK : KB_ERR_NOMEM;
    int any_heading = 0, part = 0;
    for (cmark_node *top = first; top && top != end && status == KB_OK;
         top = cmark_node_next(top)) {
        /* the sections after the Fix (Verify, When to hand over) */
        int top_level =
            cmark_node_get_type(top) == CMARK_NODE_HEADING ? cmark_node_get_heading_level(top) : 0;
        if (top_level && top_level <= 3)
            part++;
        cmark_iter *it = cmark_iter_new(top);
        if (!it) {
            status = KB_ERR_NOMEM;
            break;
        }
        cmark_event_type ev;
        while (status == KB_OK && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *n = cmark_iter_get_node(it);
            if (ev != CMARK_EVENT_ENTER)
                continue;
            cmark_node_type t = cmark_node_get_type(n);
            cmark_node *target = NULL;
            int level = 0;
            if (t == CMARK_NODE_ITEM) {
                target = cmark_node_first_child(n);
                if (target && cmark_node_get_type(target) != CMARK_NODE_PARAGRAPH)
                    target = NULL;
            } else if (t == CMARK_NODE_HEADING && cmark_node_get_heading_level(n) >= 4) {
                target = n;
                level = cmark_node_get_heading_level(n);
            }
            if (!target || (status = kbc_inline_text(target, &text)) != KB_OK)
                continue;
            for (size_t k = 0; k < e->mark_count && status == KB_OK; k++) {
                int hit = starts_with(text.data, e->marks[k].label);
                if (!hit && !level)
                    status = in_bold(target, e->marks[k].label, &scratch, &hit);
                if (hit && status == KB_OK) {
                    used[k] = 1;
                    any_heading |= level > 0;
                    status = add_found(e, &found, &found_alloc, target, level, part, &e->marks[k]);
                }
            }
        }
        cmark_iter_free(it);
    }
    for (size_t k = 0; k < e->mark_count && status == KB_OK; k++)
        if (!used[k])
            kbc_diag(diags, KBC_ERROR, path, e->marks[k].line, e->marks[k].col,
                     "no step of the solution of entry '%s' starts with '%s' or has it in bold "
                     "(a list item, or a heading of level 4 to 6)",
                     e->id ? e->id : "", e->marks[k].label);
    char code[48];
    for (size_t i = 0; i < e->step_count && status == KB_OK; i++) {
        if (found[i].level)
            snprintf(code, sizeof code, "%cH%d.%zu%c", KBC_SENTINEL, found[i].level, i,
                     KBC_SENTINEL);
        else
            snprintf(code, sizeof code, "%cS%zu%c", KBC_SENTINEL, i, KBC_SENTINEL);
        status = add_sentinel(out, found[i].node, code);
    }
    /* a sub-section ends at the next heading of its level or higher, marked or not */
    for (cmark_node *top = first; any_heading && top && top != end && status == KB_OK;
         top = cmark_node_next(top)) {
        cmark_iter *it = cmark_iter_new(top);
        if (!it) {
            status = KB_ERR_NOMEM;
            break;
        }
        cmark_event_type ev;
        while (status == KB_OK && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *n = cmark_iter_get_node(it);
            if (ev != CMARK_EVENT_ENTER || cmark_node_get_type(n) != CMARK_NODE_HEADING)
                continue;
            int marked = 0;
            for (size_t i = 0; i < e->step_count && !marked; i++)
                marked = found[i].node == n;
            if (marked)
                continue;
            snprintf(code, sizeof code, "%cB%d%c", KBC_SENTINEL, cmark_node_get_heading_level(n),
                     KBC_SENTINEL);
            status = add_sentinel(out, n, code);
        }
        cmark_iter_free(it);
    }
    kb_buf_release(&text);
    kb_buf_release(&scratch);
    free(used);
    free(found);
    return status;
}

void kbc_steps_unmark(struct kbc_sentinels *s)
{
    for (size_t i = 0; i < s->count; i++)
        cmark_node_free(s->nodes[i]);
    free(s->nodes);
    memset(s, 0, sizeof *s);
}

/* ---- cutting the renderings -------------------------------------------------------------- */

/* Length of the SGR sequence ("\x1b[...m") at p, or 0. */
static size_t sgr_len(const char *p)
{
    if (p[0] != '\x1b' || p[1] != '[')
        return 0;
    size_t i = 2;
    while (p[i] && (isdigit((unsigned char)p[i]) || p[i] == ';'))
        i++;
    return p[i] == 'm' ? i + 1 : 0;
}

/* The line at s + at: its end (the offset after its '\n', or len), its indentation (leading
 * spaces) and whether it shows anything (colour codes and blanks do not count). */
static size_t line_info(const char *s, size_t len, size_t at, size_t *indent, int *visible)
{
    size_t i = at;
    *indent = 0;
    *visible = 0;
    while (i < len && s[i] == ' ') {
        i++;
        (*indent)++;
    }
    while (i < len && s[i] != '\n') {
        size_t n = sgr_len(s + i);
        if (n) {
            i += n;
            continue;
        }
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            *visible = 1;
        i++;
    }
    return i < len ? i + 1 : len;
}

struct sentinel {
    char kind;    /* 'S' item, 'H' marked heading, 'B' other heading */
    int level;    /* headings */
    size_t index; /* S and H: the step */
    size_t line;  /* offset of the start of its line in the cut text */
};

enum kb_status kbc_steps_cut(struct kbc_entry *e, int form, char **text)
{
    if (!e->step_count || !*text)
        return KB_OK;
    const char *s = *text;
    size_t len = strlen(s);
    char *cut = malloc(len + 1);
    struct sentinel *marks = NULL;
    size_t count = 0, alloc = 0;
    if (!cut)
        return KB_ERR_NOMEM;
    size_t o = 0, line = 0;
    for (size_t i = 0; i < len;) {
        /* a sentinel is short; a stray 0x1f of the article's own is kept as it is */
        const char *close =
            s[i] == KBC_SENTINEL && i + 2 < len && strchr("SHB", s[i + 1])
                ? memchr(s + i + 2, KBC_SENTINEL, len - i - 2 < 24 ? len - i - 2 : 24)
                : NULL;
        if (!close) {
            if (s[i] == '\n')
                line = o + 1;
            cut[o++] = s[i++];
            continue;
        }
        struct sentinel *m = kbc_grow(marks, &alloc, count, sizeof *marks);
        if (!m) {
            free(cut);
            free(marks);
            return KB_ERR_NOMEM;
        }
        marks = m;
        m = &marks[count++];
        memset(m, 0, sizeof *m);
        m->kind = s[i + 1];
        m->line = line;
        const char *p = s + i + 2;
        if (m->kind == 'H' || m->kind == 'B')
            m->level = (int)strtol(p, (char **)&p, 10);
        if (*p == '.')
            p++;
        if (m->kind != 'B')
            m->index = (size_t)strtoul(p, NULL, 10);
        i = (size_t)(close - s) + 1;
    }
    cut[o] = '\0';
    for (size_t k = 0; k < count; k++) {
        const struct sentinel *m = &marks[k];
        if (m->kind == 'B' || m->index >= e->step_count)
            continue;
        size_t stop = o;
        if (m->kind == 'H') {
            for (size_t j = k + 1; j < count && stop == o; j++)
                if (marks[j].kind != 'S' && marks[j].level <= m->level)
                    stop = marks[j].line;
        } else {
            size_t indent, next_indent;
            int visible;
            size_t at = line_info(cut, o, m->line, &indent, &visible);
            while (at < o) {
                size_t next = line_info(cut, o, at, &next_indent, &visible);
                if (visible && next_indent <= indent) {
                    stop = at;
                    break;
                }
                at = next;
            }
        }
        e->steps[m->index].start[form] = m->line;
        e->steps[m->index].end[form] = stop;
    }
    free(marks);
    free(*text);
    *text = cut;
    return KB_OK;
}

void kbc_steps_release(struct kbc_entry *e)
{
    for (size_t i = 0; i < e->mark_count; i++) {
        free(e->marks[i].label);
        free(e->marks[i].providers);
    }
    free(e->marks);
    for (size_t i = 0; i < e->step_count; i++) {
        free(e->steps[i].labels);
        free(e->steps[i].providers);
    }
    free(e->steps);
    e->marks = NULL;
    e->steps = NULL;
    e->mark_count = e->step_count = 0;
}
