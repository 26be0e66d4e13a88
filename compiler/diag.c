/*
 * diag.c - compiler diagnostics: collected while every stage runs, printed once at the end
 * sorted by path, line and column, so a run reports every problem and not just the first.
 * Each is printed as clang prints its own: "path:line:col: error: message", then the source
 * line and a caret under the column, in colour on a terminal. Also the allocation helpers
 * every stage uses and the UTF-8 decoder the parser's input check shares with the printer.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kbc.h"

/* A source line longer than this is shown as a window around the column. */
#define SHOWN_BYTES 160

void *kbc_grow(void *items, size_t *alloc, size_t count, size_t size)
{
    if (count < *alloc)
        return items;
    size_t n = *alloc ? *alloc * 2 : 8;
    if (n > SIZE_MAX / size)
        return NULL;
    void *p = realloc(items, n * size);
    if (p)
        *alloc = n;
    return p;
}

char *kbc_strndup(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

size_t kbc_utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (!n)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1fu, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0fu, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07u, min = 0x10000;
    } else {
        return 0; /* a continuation byte, an overlong lead (C0, C1) or past U+10FFFF */
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0; /* overlong, out of range, or a UTF-16 surrogate */
    *cp = v;
    return len;
}

void kbc_diags_init(struct kbc_diags *diags)
{
    memset(diags, 0, sizeof *diags);
}

void kbc_diags_release(struct kbc_diags *diags)
{
    for (size_t i = 0; i < diags->count; i++) {
        free(diags->items[i].path);
        free(diags->items[i].message);
    }
    free(diags->items);
    kbc_diags_init(diags);
}

void kbc_diag(struct kbc_diags *diags, enum kbc_severity severity, const char *path, size_t line,
              size_t col, const char *fmt, ...)
{
    if (severity == KBC_ERROR)
        diags->errors++;
    else
        diags->warnings++;

    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    char *path_copy = kbc_strndup(path, strlen(path));
    struct kbc_diag *items = kbc_grow(diags->items, &diags->alloc, diags->count, sizeof *items);
    if (!text || !path_copy || !items) {
        free(text);
        free(path_copy);
        if (items)
            diags->items = items;
        diags->nomem = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    diags->items = items;
    struct kbc_diag *d = &items[diags->count];
    d->path = path_copy;
    d->line = line;
    d->col = line && col ? col : line ? 1 : 0;
    d->severity = severity;
    d->message = text;
    d->seq = diags->count;
    diags->count++;
}

static int diag_cmp(const void *a, const void *b)
{
    const struct kbc_diag *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (c)
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* ---- the source line under a diagnostic -------------------------------------------------- */

/* Where the printer is in a file: diagnostics come sorted, so lines are found by walking on. */
struct line_cursor {
    const struct kbc_file *file;
    size_t line; /* 1-based line that starts at off */
    size_t off;
};

/* The file a diagnostic names (files are sorted by path, and so by display path: every
 * display path is the same folder joined with the relative one), or NULL. */
static const struct kbc_file *file_of(const struct kbc_files *files, const char *path)
{
    size_t lo = 0, hi = files ? files->count : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(files->items[mid].display, path);
        if (c == 0)
            return files->items[mid].data ? &files->items[mid] : NULL;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Finds line n of the cursor's file: [*start, *end) without its line break; 0 past the end. */
static int find_line(struct line_cursor *cur, size_t n, size_t *start, size_t *end)
{
    const struct kbc_file *f = cur->file;
    if (n < cur->line) {
        cur->line = 1;
        cur->off = 0;
    }
    while (cur->line < n) {
        const char *nl = memchr(f->data + cur->off, '\n', f->len - cur->off);
        if (!nl)
            return 0;
        cur->off = (size_t)(nl - f->data) + 1;
        cur->line++;
    }
    const char *nl = memchr(f->data + cur->off, '\n', f->len - cur->off);
    *start = cur->off;
    *end = nl ? (size_t)(nl - f->data) : f->len;
    if (*end > *start && f->data[*end - 1] == '\r')
        (*end)--;
    if (n == 1 && *end - *start >= 3 && memcmp(f->data + *start, "\xef\xbb\xbf", 3) == 0)
        *start += 3; /* a byte order mark is no column (cmark skips it too) */
    return 1;
}

/* Columns a character takes on a terminal: 2 for the East Asian wide ranges, else 1. */
static int char_width(uint32_t cp)
{
    return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp != 0x303f)
                   || (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff)
                   || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60)
                   || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd)
               ? 2
               : 1;
}

/* The character at s[i] (of at most n bytes) as shown: *len bytes, *width columns (-1 for a
 * tab); shown as <XX> (4 columns) when it is not UTF-8 or a control character. */
static int shown_as(const char *s, size_t n, size_t *len, int *width)
{
    uint32_t cp = 0;
    size_t k = kbc_utf8_char((const unsigned char *)s, n, &cp);
    *len = k ? k : 1;
    if (k && cp == '\t') {
        *width = -1;
        return 1;
    }
    if (k && cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0)) {
        *width = char_width(cp);
        return 1;
    }
    *len = 1;
    *width = 4;
    return 0;
}

/* Prints s[start, end) (a window of it when long) and a caret under byte column col, as clang
 * does: a byte that is not UTF-8 or a control character is shown as <XX>, tabs are kept in
 * both lines so that they align. */
static void print_source(FILE *out, const char *s, size_t start, size_t end, size_t col, int color)
{
    size_t at = start + (col ? col - 1 : 0);
    if (at > end)
        at = end;
    size_t from = start, to = end;
    if (end - start > SHOWN_BYTES) {
        from = at > start + SHOWN_BYTES / 2 ? at - SHOWN_BYTES / 2 : start;
        to = from + SHOWN_BYTES < end ? from + SHOWN_BYTES : end;
        while (from > start && ((unsigned char)s[from] & 0xc0) == 0x80)
            from--;
        while (to < end && ((unsigned char)s[to] & 0xc0) == 0x80)
            to++;
        if (at < from)
            at = from;
    }
    fputs(from > start ? "..." : "", out);
    for (size_t i = from, n; i < to; i += n) {
        int width;
        if (shown_as(s + i, to - i, &n, &width))
            fwrite(s + i, 1, n, out);
        else
            fprintf(out, "<%02X>", (unsigned char)s[i]);
    }
    fputs(to < end ? "...\n" : "\n", out);
    fputs(from > start ? "   " : "", out);
    for (size_t i = from, n; i < at && i < to; i += n) {
        int width;
        shown_as(s + i, to - i, &n, &width);
        if (width < 0)
            fputc('\t', out);
        else
            fprintf(out, "%*s", width, "");
    }
    fputs(color ? "\033[1;32m^\033[0m\n" : "^\n", out);
}

void kbc_diags_print(struct kbc_diags *diags, const struct kbc_files *files, int color, FILE *out)
{
    if (diags->count)
        qsort(diags->items, diags->count, sizeof *diags->items, diag_cmp);
    struct line_cursor cur = {NULL, 1, 0};
    for (size_t i = 0; i < diags->count; i++) {
        const struct kbc_diag *d = &diags->items[i];
        int error = d->severity == KBC_ERROR;
        const char *bold = color ? "\033[1m" : "", *reset = color ? "\033[0m" : "";
        const char *kind = !color ? "" : error ? "\033[1;31m" : "\033[1;35m";
        if (d->line)
            fprintf(out, "%s%s:%zu:%zu:%s %s%s%s: %s%s%s\n", bold, d->path, d->line, d->col, reset,
                    kind, error ? "error" : "warning", reset, bold, d->message, reset);
        else
            fprintf(out, "%s%s:%s %s%s%s: %s%s%s\n", bold, d->path, reset, kind,
                    error ? "error" : "warning", reset, bold, d->message, reset);
        const struct kbc_file *f = d->line ? file_of(files, d->path) : NULL;
        if (f != cur.file)
            cur = (struct line_cursor){f, 1, 0};
        size_t start, end;
        /* an empty line (an empty file's) shows nothing worth a caret */
        if (f && find_line(&cur, d->line, &start, &end) && end > start)
            print_source(out, f->data, start, end, d->col, color);
    }
    if (diags->nomem)
        fprintf(out, "%s: out of memory: some diagnostics were lost\n", KBC_PROGRAM);
}
