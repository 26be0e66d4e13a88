/*
 * render.c - renders ranges of the cmark AST at compile time, so kb-lookup needs no cmark:
 * plain terminal text, the same with ANSI emphasis, and CommonMark.
 *
 * One writer does all three: it walks with cmark_iter (no recursion: nesting depth is attacker
 * controlled) and keeps its container state (block quotes, lists, list items) on a heap
 * stack. Lines are not wrapped; list items get their marker on the first line and matching
 * indentation after. Placeholders {{name|default}} pass through verbatim in every rendering.
 *
 * The Markdown is meant for tickets and chat widgets, which show it as it is more often than
 * they render it: a paragraph is one line (soft breaks become spaces), code blocks are fenced,
 * and text is escaped only where CommonMark would otherwise read markup (cmark's own renderer
 * escapes every '>', '_', '#'... and keeps the source's line breaks). A link to another entry
 * ([text](kb:id)) is written as KBC_LINK_OPEN text KBC_LINK_MID id KBC_LINK_CLOSE, which
 * kbc_links_resolve turns into something that opens outside the tool once every title is known.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    int line_start;   /* KBC_MD: nothing but container prefixes written on this line yet */
    cmark_node *skip; /* KBC_MD: an autolink whose text is written already: its children not */
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
    if (len)
        w->line_start = 0;
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
    w->line_start = 1;
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

/* ---- Markdown ----------------------------------------------------------------------------- */

static int is_space_or_end(int c)
{
    return c == 0 || c == ' ' || c == '\t' || c == '\n';
}

static int is_alnum_ascii(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Does the character at s[i] (of a text literal of n bytes) need a backslash so that
 * CommonMark reads it as text? at_start: it is the first thing on its line. */
static int md_needs_escape(const char *s, size_t n, size_t i, int at_start)
{
    int c = (unsigned char)s[i];
    int prev = i ? (unsigned char)s[i - 1] : 0, next = i + 1 < n ? (unsigned char)s[i + 1] : 0;
    switch (c) {
    case '\\':
        return next == 0 || (next < 0x80 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", next));
    case '`': return 1;
    case '[': return 1; /* with every '[' escaped, no ']' can close a link */
    case '*': return !(is_space_or_end(prev) && is_space_or_end(next)) || at_start;
    case '_': /* inside a word it opens and closes nothing (snake_case) */
        return !(is_alnum_ascii(prev) && is_alnum_ascii(next))
               && !(is_space_or_end(prev) && is_space_or_end(next));
    case '<': return next == 0 || next == '/' || next == '!' || next == '?' || is_alnum_ascii(next);
    case '&': { /* an entity or numeric character reference */
        size_t k = i + 1;
        if (k < n && s[k] == '#')
            k++;
        size_t start = k;
        while (k < n && k - start < 32 && is_alnum_ascii((unsigned char)s[k]))
            k++;
        return k > start && k < n && s[k] == ';';
    }
    case '>':
    case '#': return at_start;
    case '-':
    case '+': return at_start && is_space_or_end(next);
    case '=': return at_start;
    case '~': return at_start && next == '~';
    case '.':
    case ')': { /* "2024. " at the start of a line would start an ordered list */
        size_t k = i;
        while (k > 0 && s[k - 1] >= '0' && s[k - 1] <= '9')
            k--;
        return k == 0 && k < i && at_start && i - k <= 9 && is_space_or_end(next);
    }
    default: return 0;
    }
}

/* Text as CommonMark reads it back: escaped only where needed (md_needs_escape); placeholders
 * {{name|default}} as written, whatever they hold. */
static void md_text(struct writer *w, const char *s, size_t len)
{
    prefix(w);
    int at_start = w->line_start; /* only spaces so far on this line */
    size_t i = 0, from = 0;
    /* where the next "}}" or line break is, searched for again only once passed: searched
     * for from every "{{", a text full of "{{" would cost the square of its size */
    size_t stop = 0;
    int searched = 0;
    while (i < len) {
        if (s[i] == '{' && i + 1 < len && s[i + 1] == '{') {
            if (!searched || stop < i + 2) {
                stop = i + 2;
                while (stop < len && s[stop] != '\n'
                       && !(s[stop] == '}' && stop + 1 < len && s[stop + 1] == '}'))
                    stop++;
                searched = 1;
            }
            if (stop + 1 < len && s[stop] == '}') {
                i = stop + 2;
                at_start = 0;
                continue;
            }
        }
        if (md_needs_escape(s, len, i, at_start)) {
            put(w, s + from, i - from);
            put(w, "\\", 1);
            from = i;
        }
        if (s[i] != ' ')
            at_start = 0;
        i++;
    }
    put(w, s + from, len - from);
}

/* The longest run of backticks in s (and in *at_line_start, the longest one a line starts
 * with). */
static size_t longest_backticks(const char *s, size_t *at_line_start)
{
    size_t best = 0, run = 0, start_best = 0;
    int line_start = 1, run_at_start = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '`') {
            if (run == 0)
                run_at_start = line_start;
            run++;
            if (run > best)
                best = run;
            if (run_at_start && run > start_best)
                start_best = run;
        } else {
            run = 0;
        }
        line_start = *p == '\n' || (line_start && *p == ' ');
    }
    if (at_line_start)
        *at_line_start = start_best;
    return best;
}

static void md_code_block(struct writer *w, cmark_node *node)
{
    const char *lit = cmark_node_get_literal(node);
    const char *info = cmark_node_get_fence_info(node);
    lit = lit ? lit : "";
    size_t fence = 0;
    longest_backticks(lit, &fence);
    fence = fence >= 3 ? fence + 1 : 3;
    block_start(w);
    prefix(w);
    for (size_t k = 0; k < fence; k++)
        put(w, "`", 1);
    if (info && info[0])
        put_str(w, info);
    newline(w);
    size_t len = strlen(lit);
    while (len > 0) {
        const char *nl = memchr(lit, '\n', len);
        size_t n = nl ? (size_t)(nl - lit) : len;
        prefix(w);
        put(w, lit, n);
        newline(w);
        if (!nl)
            break;
        lit += n + 1;
        len -= n + 1;
    }
    prefix(w);
    for (size_t k = 0; k < fence; k++)
        put(w, "`", 1);
    newline(w);
    block_end(w);
}

static void md_inline_code(struct writer *w, cmark_node *node)
{
    const char *lit = cmark_node_get_literal(node);
    lit = lit ? lit : "";
    size_t len = strlen(lit);
    size_t run = longest_backticks(lit, NULL) + 1;
    /* CommonMark takes one space off each end when both have one: pad when that would eat
     * the code's own, or when it starts or ends with a backtick */
    int all_spaces = strspn(lit, " ") == len;
    int pad = len && !all_spaces
              && (lit[0] == '`' || lit[len - 1] == '`' || (lit[0] == ' ' && lit[len - 1] == ' '));
    prefix(w);
    for (size_t k = 0; k < run; k++)
        put(w, "`", 1);
    if (pad)
        put(w, " ", 1);
    put(w, lit, len);
    if (pad)
        put(w, " ", 1);
    for (size_t k = 0; k < run; k++)
        put(w, "`", 1);
}

/* Is the link an autolink: its only child the URL itself (or the address of a mailto:)? */
static int is_autolink(cmark_node *node, const char *url)
{
    cmark_node *child = cmark_node_first_child(node);
    if (!child || cmark_node_next(child) || cmark_node_get_type(child) != CMARK_NODE_TEXT)
        return 0;
    const char *lit = cmark_node_get_literal(child);
    return lit
           && (strcmp(lit, url) == 0
               || (strncmp(url, "mailto:", 7) == 0 && strcmp(lit, url + 7) == 0));
}

static void md_link_enter(struct writer *w, cmark_node *node)
{
    const char *url = cmark_node_get_url(node);
    url = url ? url : "";
    prefix(w);
    if (strncmp(url, "kb:", 3) == 0) {
        put_str(w, KBC_LINK_OPEN);
        return;
    }
    if (cmark_node_get_type(node) == CMARK_NODE_LINK && url[0] && is_autolink(node, url)
        && !strpbrk(url, " <>")) {
        put(w, "<", 1);
        put_str(w, url);
        put(w, ">", 1);
        w->skip = node;
        return;
    }
    put_str(w, cmark_node_get_type(node) == CMARK_NODE_IMAGE ? "![" : "[");
}

static void md_link_exit(struct writer *w, cmark_node *node)
{
    const char *url = cmark_node_get_url(node);
    const char *title = cmark_node_get_title(node);
    url = url ? url : "";
    if (w->skip == node) {
        w->skip = NULL;
        return;
    }
    if (strncmp(url, "kb:", 3) == 0) {
        put_str(w, KBC_LINK_MID);
        put_str(w, url + 3);
        put_str(w, KBC_LINK_CLOSE);
        return;
    }
    int angle = strpbrk(url, " ()<>") != NULL || !url[0];
    put_str(w, angle ? "](<" : "](");
    put_str(w, url);
    if (angle)
        put(w, ">", 1);
    if (title && title[0]) {
        put(w, " \"", 2);
        for (const char *t = title; *t; t++) {
            if (*t == '"' || *t == '\\')
                put(w, "\\", 1);
            put(w, t, 1);
        }
        put(w, "\"", 1);
    }
    put(w, ")", 1);
}

static void md_enter(struct writer *w, cmark_node *node)
{
    switch (cmark_node_get_type(node)) {
    case CMARK_NODE_HEADING: {
        block_start(w);
        prefix(w);
        int level = cmark_node_get_heading_level(node);
        for (int k = 0; k < level; k++)
            put(w, "#", 1);
        put(w, " ", 1);
        break;
    }
    case CMARK_NODE_CODE_BLOCK:
        if (!is_kb_block(node))
            md_code_block(w, node);
        break;
    case CMARK_NODE_THEMATIC_BREAK:
        block_start(w);
        prefix(w);
        put(w, "---", 3);
        newline(w);
        block_end(w);
        break;
    case CMARK_NODE_HTML_BLOCK: {
        const char *lit = cmark_node_get_literal(node);
        size_t n = lit ? strlen(lit) : 0;
        while (n && lit[n - 1] == '\n')
            n--;
        block_start(w);
        text(w, lit, n);
        newline(w);
        block_end(w);
        break;
    }
    case CMARK_NODE_TEXT: {
        const char *lit = cmark_node_get_literal(node);
        md_text(w, lit ? lit : "", lit ? strlen(lit) : 0);
        break;
    }
    case CMARK_NODE_CODE: md_inline_code(w, node); break;
    case CMARK_NODE_SOFTBREAK:
        prefix(w);
        put(w, " ", 1);
        break;
    case CMARK_NODE_LINEBREAK:
        prefix(w);
        put(w, "\\", 1);
        newline(w);
        break;
    case CMARK_NODE_HTML_INLINE: {
        const char *lit = cmark_node_get_literal(node);
        prefix(w);
        put_str(w, lit ? lit : "");
        break;
    }
    case CMARK_NODE_EMPH:
        prefix(w);
        put(w, "*", 1);
        break;
    case CMARK_NODE_STRONG:
        prefix(w);
        put(w, "**", 2);
        break;
    case CMARK_NODE_LINK:
    case CMARK_NODE_IMAGE: md_link_enter(w, node); break;
    case CMARK_NODE_CUSTOM_INLINE: { /* the compiler's own markers (steps.c), as written */
        const char *lit = cmark_node_get_on_enter(node);
        int at = w->line_start || w->at_bol;
        prefix(w);
        put_str(w, lit ? lit : "");
        w->line_start = at; /* taken out again: what follows is still first on its line */
        break;
    }
    default: /* paragraphs, quotes, lists, items: as the terminal renderer does them */ break;
    }
}

static void md_exit(struct writer *w, cmark_node *node)
{
    switch (cmark_node_get_type(node)) {
    case CMARK_NODE_HEADING: block_end(w); break;
    case CMARK_NODE_EMPH: put(w, "*", 1); break;
    case CMARK_NODE_STRONG: put(w, "**", 2); break;
    case CMARK_NODE_LINK:
    case CMARK_NODE_IMAGE: md_link_exit(w, node); break;
    default: break;
    }
}

static void on_enter(struct writer *w, cmark_node *node)
{
    if (w->skip)
        return;
    if (w->style == KBC_MD) {
        switch (cmark_node_get_type(node)) {
        case CMARK_NODE_PARAGRAPH:
        case CMARK_NODE_BLOCK_QUOTE:
        case CMARK_NODE_LIST:
        case CMARK_NODE_ITEM: break; /* below, as for the terminal */
        default: md_enter(w, node); return;
        }
    }
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
    if (w->skip && w->skip != node)
        return;
    if (w->style == KBC_MD) {
        switch (cmark_node_get_type(node)) {
        case CMARK_NODE_PARAGRAPH:
        case CMARK_NODE_BLOCK_QUOTE:
        case CMARK_NODE_LIST:
        case CMARK_NODE_ITEM: break; /* below, as for the terminal */
        default: md_exit(w, node); return;
        }
    }
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

enum kb_status kbc_render_md(cmark_node *first, cmark_node *end, struct kb_buf *out)
{
    return kbc_render_text(first, end, KBC_MD, out);
}

/* ---- links to other entries ------------------------------------------------------------- */

struct title_ref {
    const char *id, *title;
};

static int title_ref_cmp(const void *a, const void *b)
{
    return strcmp(((const struct title_ref *)a)->id, ((const struct title_ref *)b)->id);
}

/* Appends s as Markdown text inside double quotes: the few characters that could start
 * markup escaped. */
static enum kb_status append_quoted_title(struct kb_buf *out, const char *s)
{
    enum kb_status status = kb_buf_append_char(out, '"');
    for (; status == KB_OK && *s; s++) {
        if (strchr("\\`*_[<", *s))
            status = kb_buf_append_char(out, '\\');
        if (status == KB_OK)
            status = kb_buf_append_char(out, *s);
    }
    return status == KB_OK ? kb_buf_append_char(out, '"') : status;
}

/* Rewrites one Markdown rendering: each OPEN text MID id CLOSE whose id is known becomes
 * 'text (see "Title": `kb-lookup --show id`)' (the title left out when the text is it).
 * offsets (the provider steps' [start, end) in the Markdown form, whole lines) move with the
 * text after them. A stray control byte of the article's own is kept as it is. */
static enum kb_status resolve_one(char **md, const struct title_ref *refs, size_t ref_count,
                                  size_t **offsets, size_t offset_count)
{
    if (!*md || !strstr(*md, KBC_LINK_OPEN))
        return KB_OK;
    size_t *orig = offset_count ? malloc(offset_count * sizeof *orig) : NULL;
    if (offset_count && !orig)
        return KB_ERR_NOMEM;
    for (size_t k = 0; k < offset_count; k++)
        orig[k] = *offsets[k];
    struct kb_buf out;
    kb_buf_init(&out, 0);
    enum kb_status status = KB_OK;
    const char *s = *md, *p = s;
    while (status == KB_OK && *p) {
        const char *open = strstr(p, KBC_LINK_OPEN);
        const char *mid = open ? strpbrk(open + 1, KBC_LINK_MID KBC_LINK_OPEN "\n") : NULL;
        const char *close =
            mid && *mid == KBC_LINK_MID[0] ? strpbrk(mid + 1, KBC_LINK_CLOSE "\n") : NULL;
        if (!open) {
            status = kb_buf_append_str(&out, p);
            break;
        }
        if (!close || *close != KBC_LINK_CLOSE[0]) { /* not one of ours */
            status = kb_buf_append(&out, p, (size_t)(open - p) + 1);
            p = open + 1;
            continue;
        }
        char *id = kbc_strndup(mid + 1, (size_t)(close - mid - 1));
        if (!id) {
            status = KB_ERR_NOMEM;
            break;
        }
        struct title_ref key = {id, NULL};
        const struct title_ref *hit =
            ref_count ? bsearch(&key, refs, ref_count, sizeof *refs, title_ref_cmp) : NULL;
        status = kb_buf_append(&out, p, (size_t)(open - p));
        size_t link_start = out.len;
        size_t tlen = (size_t)(mid - open - 1);
        if (status == KB_OK)
            status = kb_buf_append(&out, open + 1, tlen);
        int same =
            !hit || (strlen(hit->title) == tlen && strncasecmp(hit->title, open + 1, tlen) == 0);
        if (status == KB_OK)
            status = kb_buf_append_str(&out, same ? " (" : " (see ");
        if (status == KB_OK && !same)
            status = append_quoted_title(&out, hit->title);
        if (status == KB_OK && !same)
            status = kb_buf_append_str(&out, ": ");
        if (status == KB_OK)
            status = kb_buf_printf(&out, "`kb-lookup --show %s`)", id);
        free(id);
        size_t in_start = (size_t)(open - s), in_end = (size_t)(close - s) + 1;
        for (size_t k = 0; k < offset_count; k++) {
            if (orig[k] >= in_end) /* after the link: moves by what it grew */
                *offsets[k] += out.len - link_start - (in_end - in_start);
            else if (orig[k] > in_start)
                *offsets[k] = link_start;
        }
        p = close + 1;
    }
    if (status == KB_OK) {
        free(*md);
        *md = NULL;
        status = kb_buf_detach(&out, md);
    }
    kb_buf_release(&out);
    free(orig);
    return status;
}

enum kb_status kbc_links_resolve(struct kbc_kb *kb)
{
    size_t n = 0;
    for (size_t a = 0; a < kb->count; a++)
        n += kb->articles[a].entry_count;
    struct title_ref *refs = n ? malloc(n * sizeof *refs) : NULL;
    if (n && !refs)
        return KB_ERR_NOMEM;
    size_t count = 0;
    for (size_t a = 0; a < kb->count; a++)
        for (size_t i = 0; i < kb->articles[a].entry_count; i++) {
            const struct kbc_entry *e = &kb->articles[a].entries[i];
            if (e->id && e->title)
                refs[count++] = (struct title_ref){e->id, e->title};
        }
    if (count)
        qsort(refs, count, sizeof *refs, title_ref_cmp);
    enum kb_status status = KB_OK;
    size_t **offsets = NULL, alloc = 0;
    for (size_t a = 0; a < kb->count && status == KB_OK; a++) {
        struct kbc_article *art = &kb->articles[a];
        status = resolve_one(&art->intro_md, refs, count, NULL, 0);
        for (size_t i = 0; i < art->entry_count && status == KB_OK; i++) {
            struct kbc_entry *e = &art->entries[i];
            size_t need = 2 * e->step_count;
            if (need > alloc) {
                size_t **grown = realloc(offsets, need * sizeof *offsets);
                if (!grown) {
                    status = KB_ERR_NOMEM;
                    break;
                }
                offsets = grown;
                alloc = need;
            }
            for (size_t k = 0; k < e->step_count; k++) {
                offsets[2 * k] = &e->steps[k].start[KB_FORM_MARKDOWN];
                offsets[2 * k + 1] = &e->steps[k].end[KB_FORM_MARKDOWN];
            }
            status = resolve_one(&e->solution_md, refs, count, offsets, need);
            char **plain[] = {&e->why_md, &e->tell_md, &e->body_md};
            for (size_t k = 0; k < 3 && status == KB_OK; k++)
                status = resolve_one(plain[k], refs, count, NULL, 0);
            for (size_t k = 0; k < e->fix_count && status == KB_OK; k++)
                status = resolve_one(&e->fix[k].md, refs, count, NULL, 0);
        }
    }
    free(offsets);
    free(refs);
    return status;
}
