/*
 * render.c - renders ranges of the cmark AST at compile time, so kb-lookup needs no cmark:
 * plain terminal text, the same with ANSI emphasis, and CommonMark.
 *
 * The terminal renderer walks with cmark_iter (no recursion: nesting depth is attacker
 * controlled) and keeps its container state (block quotes, lists, list items) on a heap
 * stack. Lines are not wrapped; list items get their marker on the first line and matching
 * indentation after. Placeholders {{name|default}} pass through verbatim in every rendering.
 */
#include <stdlib.h>
#include <string.h>

#include "kbc.h"

#define ANSI_BOLD "\x1b[1m"
#define ANSI_BOLD_OFF "\x1b[22m"
#define ANSI_ITALIC "\x1b[3m"
#define ANSI_ITALIC_OFF "\x1b[23m"
#define ANSI_CODE "\x1b[36m"
#define ANSI_RESET "\x1b[0m"

enum frame_kind { FRAME_QUOTE, FRAME_LIST, FRAME_ITEM };

struct frame {
    enum frame_kind kind;
    char marker[32]; /* FRAME_ITEM: "- " or "12. " */
    size_t width;    /* FRAME_ITEM: indentation of continuation lines */
    int pending;     /* FRAME_ITEM: marker not printed yet */
    int ordered, tight;
    int in_tight; /* inside a tight list (this frame or an enclosing one): kept per frame so
                   * block_end need not search the stack, which is as deep as the input wants */
    long number;  /* FRAME_LIST: number of the next item */
    char delim;
};

enum sep { SEP_NONE, SEP_NEWLINE, SEP_BLANK };

struct writer {
    struct kb_buf *out;
    enum kbc_style style;
    struct frame *frames;
    size_t depth, alloc;
    int at_bol, any;
    enum sep pending;
    int bold, italic;
    enum kb_status status;
};

static void put(struct writer *w, const char *s, size_t len)
{
    if (w->status == KB_OK && len)
        w->status = kb_buf_append(w->out, s, len);
}

static void put_str(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_ansi(struct writer *w, const char *code)
{
    if (w->style == KBC_ANSI)
        put_str(w, code);
}

static void newline(struct writer *w)
{
    put(w, "\n", 1);
    w->at_bol = 1;
}

/* At the start of a line: the prefixes of the enclosing containers. */
static void prefix(struct writer *w)
{
    if (!w->at_bol)
        return;
    w->at_bol = 0;
    w->any = 1;
    for (size_t i = 0; i < w->depth; i++) {
        struct frame *f = &w->frames[i];
        if (f->kind == FRAME_QUOTE) {
            put(w, "> ", 2);
        } else if (f->kind == FRAME_ITEM && f->pending) {
            put_str(w, f->marker);
            f->pending = 0;
        } else if (f->kind == FRAME_ITEM) {
            for (size_t k = 0; k < f->width; k++)
                put(w, " ", 1);
        }
    }
}

/* Text that may hold newlines (code blocks): every line gets the container prefix. */
static void text(struct writer *w, const char *s, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(s, '\n', len);
        size_t n = nl ? (size_t)(nl - s) : len;
        prefix(w);
        put(w, s, n);
        if (!nl)
            break;
        newline(w);
        s += n + 1;
        len -= n + 1;
    }
}

static void block_start(struct writer *w)
{
    if (w->any) {
        if (!w->at_bol)
            newline(w);
        if (w->pending == SEP_BLANK)
            newline(w);
    }
    w->pending = SEP_NONE;
}

/* After a block: a blank line follows, except between the blocks of a tight list. */
static void block_end(struct writer *w)
{
    int tight = w->depth ? w->frames[w->depth - 1].in_tight : 0;
    w->pending = tight ? SEP_NEWLINE : SEP_BLANK;
}

static struct frame *push(struct writer *w, enum frame_kind kind)
{
    struct frame *frames = kbc_grow(w->frames, &w->alloc, w->depth, sizeof *frames);
    if (!frames) {
        w->status = KB_ERR_NOMEM;
        return NULL;
    }
    w->frames = frames;
    struct frame *f = &frames[w->depth++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->in_tight = w->depth > 1 ? frames[w->depth - 2].in_tight : 0;
    return f;
}

static void pop(struct writer *w)
{
    if (w->depth > 0)
        w->depth--;
}

static int is_kb_block(cmark_node *node)
{
    const char *info = cmark_node_get_fence_info(node);
    return info && strncmp(info, "kb-", 3) == 0;
}

static void code_block(struct writer *w, cmark_node *node)
{
    const char *lit = cmark_node_get_literal(node);
    size_t len = lit ? strlen(lit) : 0;
    block_start(w);
    while (len > 0) {
        const char *nl = memchr(lit, '\n', len);
        size_t n = nl ? (size_t)(nl - lit) : len;
        prefix(w);
        put(w, "    ", 4);
        put_ansi(w, ANSI_CODE);
        put(w, lit, n);
        put_ansi(w, ANSI_RESET);
        newline(w);
        if (!nl)
            break;
        lit += n + 1;
        len -= n + 1;
    }
    block_end(w);
}

static void item_enter(struct writer *w)
{
    struct frame *list = w->depth ? &w->frames[w->depth - 1] : NULL;
    char marker[32] = "- ";
    if (list && list->kind == FRAME_LIST && list->ordered)
        snprintf(marker, sizeof marker, "%ld%c ", list->number++, list->delim);
    struct frame *f = push(w, FRAME_ITEM);
    if (!f)
        return;
    memcpy(f->marker, marker, sizeof marker);
    f->width = strlen(marker);
    f->pending = 1;
}

static void item_exit(struct writer *w)
{
    struct frame *f = w->depth ? &w->frames[w->depth - 1] : NULL;
    if (f && f->kind == FRAME_ITEM && f->pending) { /* an empty item: still show its marker */
        block_start(w);
        prefix(w);
    }
    pop(w);
    block_end(w);
}

/* Re-applies emphasis after a full reset (code spans end with ANSI_RESET). */
static void restore_emphasis(struct writer *w)
{
    if (w->bold)
        put_ansi(w, ANSI_BOLD);
    if (w->italic)
        put_ansi(w, ANSI_ITALIC);
}

static void link_exit(struct writer *w, cmark_node *node)
{
    const char *url = cmark_node_get_url(node);
    if (!url || !url[0])
        return;
    if (strncmp(url, "kb:", 3) == 0) {
        prefix(w);
        put_str(w, " (see: ");
        put_str(w, url + 3);
        put_str(w, ")");
        return;
    }
    cmark_node *child = cmark_node_first_child(node);
    if (child && !cmark_node_next(child) && cmark_node_get_type(child) == CMARK_NODE_TEXT) {
        const char *lit = cmark_node_get_literal(child);
        if (lit
            && (strcmp(lit, url) == 0
                || (strncmp(url, "mailto:", 7) == 0 && strcmp(lit, url + 7) == 0)))
            return; /* an autolink: the text is the address */
    }
    prefix(w);
    put_str(w, " <");
    put_str(w, url);
    put_str(w, ">");
}

static void inline_code(struct writer *w, cmark_node *node)
{
    const char *lit = cmark_node_get_literal(node);
    prefix(w);
    put_ansi(w, ANSI_CODE);
    put_str(w, lit ? lit : "");
    put_ansi(w, ANSI_RESET);
    restore_emphasis(w);
}

static void on_enter(struct writer *w, cmark_node *node)
{
    struct frame *f;
    switch (cmark_node_get_type(node)) {
    case CMARK_NODE_PARAGRAPH: block_start(w); break;
    case CMARK_NODE_HEADING:
        block_start(w);
        prefix(w);
        put_ansi(w, ANSI_BOLD);
        w->bold++;
        break;
    case CMARK_NODE_CODE_BLOCK:
        if (!is_kb_block(node))
            code_block(w, node);
        break;
    case CMARK_NODE_THEMATIC_BREAK:
        block_start(w);
        text(w, "----", 4);
        block_end(w);
        break;
    case CMARK_NODE_BLOCK_QUOTE: push(w, FRAME_QUOTE); break;
    case CMARK_NODE_LIST:
        f = push(w, FRAME_LIST);
        if (f) {
            f->ordered = cmark_node_get_list_type(node) == CMARK_ORDERED_LIST;
            f->tight = f->in_tight = cmark_node_get_list_tight(node);
            f->number = cmark_node_get_list_start(node);
            f->delim = cmark_node_get_list_delim(node) == CMARK_PAREN_DELIM ? ')' : '.';
        }
        break;
    case CMARK_NODE_ITEM: item_enter(w); break;
    case CMARK_NODE_TEXT: {
        const char *lit = cmark_node_get_literal(node);
        text(w, lit, lit ? strlen(lit) : 0);
        break;
    }
    case CMARK_NODE_CODE: inline_code(w, node); break;
    case CMARK_NODE_SOFTBREAK: text(w, " ", 1); break;
    case CMARK_NODE_LINEBREAK: newline(w); break;
    case CMARK_NODE_EMPH:
        prefix(w);
        put_ansi(w, ANSI_ITALIC);
        w->italic++;
        break;
    case CMARK_NODE_STRONG:
        prefix(w);
        put_ansi(w, ANSI_BOLD);
        w->bold++;
        break;
    case CMARK_NODE_CUSTOM_INLINE: { /* the compiler's own markers (steps.c), as written */
        const char *lit = cmark_node_get_on_enter(node);
        text(w, lit, lit ? strlen(lit) : 0);
        break;
    }
    default: /* HTML blocks and inline HTML are left out of terminal text */ break;
    }
}

static void on_exit(struct writer *w, cmark_node *node)
{
    switch (cmark_node_get_type(node)) {
    case CMARK_NODE_PARAGRAPH: block_end(w); break;
    case CMARK_NODE_HEADING:
        w->bold--;
        put_ansi(w, ANSI_BOLD_OFF);
        restore_emphasis(w);
        block_end(w);
        break;
    case CMARK_NODE_BLOCK_QUOTE:
    case CMARK_NODE_LIST:
        pop(w);
        block_end(w);
        break;
    case CMARK_NODE_ITEM: item_exit(w); break;
    case CMARK_NODE_EMPH:
        w->italic--;
        put_ansi(w, ANSI_ITALIC_OFF);
        break;
    case CMARK_NODE_STRONG:
        w->bold--;
        put_ansi(w, ANSI_BOLD_OFF);
        restore_emphasis(w);
        break;
    case CMARK_NODE_LINK:
    case CMARK_NODE_IMAGE: link_exit(w, node); break;
    default: break;
    }
}

enum kb_status kbc_render_text(cmark_node *first, cmark_node *end, enum kbc_style style,
                               struct kb_buf *out)
{
    struct writer w = {.out = out, .style = style, .at_bol = 1, .status = KB_OK};
    for (cmark_node *n = first; n && n != end && w.status == KB_OK; n = cmark_node_next(n)) {
        cmark_iter *it = cmark_iter_new(n);
        if (!it) {
            w.status = KB_ERR_NOMEM;
            break;
        }
        cmark_event_type ev;
        while (w.status == KB_OK && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *node = cmark_iter_get_node(it);
            if (ev == CMARK_EVENT_ENTER)
                on_enter(&w, node);
            else
                on_exit(&w, node);
        }
        cmark_iter_free(it);
    }
    if (w.any && !w.at_bol)
        newline(&w);
    free(w.frames);
    return w.status;
}

/* cmark may backslash-escape punctuation inside a placeholder's default ({{path|a_b}}):
 * copies md to out with such escapes between "{{" and "}}" removed. The next "}}" and the next
 * line break are searched for once and reused until passed: searched for from every "{{", an
 * article full of "{{" without "}}" cost the square of its size. */
static enum kb_status append_unescaped(struct kb_buf *out, const char *md)
{
    enum kb_status status = KB_OK;
    const char *p = md, *close = md, *nl = md;
    while (status == KB_OK && *p) {
        const char *open = strstr(p, "{{");
        if (open && close && close < open + 2)
            close = strstr(open + 2, "}}");
        if (open && nl && nl < open)
            nl = strchr(open, '\n');
        if (!open || !close) {
            status = kb_buf_append_str(out, p); /* no placeholder can follow */
            break;
        }
        if (nl && nl < close) {
            size_t n = (size_t)(open - p) + 2;
            status = kb_buf_append(out, p, n);
            p += n;
            continue;
        }
        status = kb_buf_append(out, p, (size_t)(open - p));
        for (const char *q = open; status == KB_OK && q < close; q++) {
            if (*q == '\\' && q + 1 < close && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", q[1]))
                q++;
            status = kb_buf_append_char(out, *q);
        }
        p = close;
    }
    return status;
}

enum kb_status kbc_render_md(cmark_node *first, cmark_node *end, struct kb_buf *out)
{
    size_t n = 0;
    for (cmark_node *node = first; node && node != end; node = cmark_node_next(node))
        n++;
    if (n == 0)
        return KB_OK;
    cmark_node **nodes = malloc(n * sizeof *nodes);
    cmark_node *doc = cmark_node_new(CMARK_NODE_DOCUMENT);
    enum kb_status status = KB_ERR_NOMEM;
    char *md = NULL;
    if (!nodes || !doc)
        goto cleanup;
    cmark_node *parent = cmark_node_parent(first);
    cmark_node *before = cmark_node_previous(first);
    size_t i = 0;
    for (cmark_node *node = first; i < n; node = cmark_node_next(node))
        nodes[i++] = node;
    /* Rendered inside a scratch document: rendered alone, a node looks at its real siblings
     * (cmark appends "<!-- end list -->" when the next sibling is a list). */
    for (i = 0; i < n; i++)
        cmark_node_append_child(doc, nodes[i]);
    md = cmark_render_commonmark(doc, CMARK_OPT_DEFAULT, 0);
    for (i = 0; i < n; i++) {
        if (i > 0)
            cmark_node_insert_after(nodes[i - 1], nodes[i]);
        else if (before)
            cmark_node_insert_after(before, nodes[0]);
        else
            cmark_node_prepend_child(parent, nodes[0]);
    }
    status = md ? append_unescaped(out, md) : KB_ERR_NOMEM;
cleanup:
    free(md);
    if (doc)
        cmark_node_free(doc);
    free(nodes);
    return status;
}
