/*
 * diag.c - compiler diagnostics: collected while every stage runs, printed once at the end
 * sorted by path, line and column, so a run reports every problem and not just the first.
 * Also the two allocation helpers every stage uses.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kbc.h"

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
    d->line = line ? line : 1;
    d->col = col ? col : 1;
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

void kbc_diags_print(struct kbc_diags *diags, FILE *out)
{
    if (diags->count)
        qsort(diags->items, diags->count, sizeof *diags->items, diag_cmp);
    for (size_t i = 0; i < diags->count; i++) {
        const struct kbc_diag *d = &diags->items[i];
        fprintf(out, "%s:%zu:%zu: %s: %s\n", d->path, d->line, d->col,
                d->severity == KBC_ERROR ? "error" : "warning", d->message);
    }
    if (diags->nomem)
        fprintf(out, "%s: out of memory: some diagnostics were lost\n", KBC_PROGRAM);
}
