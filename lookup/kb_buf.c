/*
 * kb_buf.c - capped growable buffer; see kb_buf.h.
 */
#include "kb_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kb_buf_init(struct kb_buf *buf, size_t cap)
{
    buf->data = NULL;
    buf->len = 0;
    buf->alloc = 0;
    buf->cap = cap;
}

void kb_buf_release(struct kb_buf *buf)
{
    free(buf->data);
    kb_buf_init(buf, buf->cap);
}

void kb_buf_reset(struct kb_buf *buf)
{
    buf->len = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

static enum kb_status grow(struct kb_buf *buf, size_t extra)
{
    if (extra > SIZE_MAX - buf->len - 1)
        return KB_ERR_TOO_LARGE;
    size_t need = buf->len + extra + 1;
    if (buf->cap && need - 1 > buf->cap)
        return KB_ERR_TOO_LARGE;
    if (need <= buf->alloc)
        return KB_OK;
    size_t alloc = buf->alloc ? buf->alloc : 64;
    while (alloc < need)
        alloc = alloc > SIZE_MAX / 2 ? need : alloc * 2;
    char *p = realloc(buf->data, alloc);
    if (!p)
        return KB_ERR_NOMEM;
    buf->data = p;
    buf->alloc = alloc;
    return KB_OK;
}

enum kb_status kb_buf_append(struct kb_buf *buf, const void *data, size_t len)
{
    enum kb_status status = grow(buf, len);
    if (status != KB_OK)
        return status;
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return KB_OK;
}

enum kb_status kb_buf_append_str(struct kb_buf *buf, const char *s)
{
    return kb_buf_append(buf, s, strlen(s));
}

enum kb_status kb_buf_append_char(struct kb_buf *buf, char c)
{
    /* the common case, one byte where there is room: no memcpy call (a normalised 1 MB text
     * of short lines appends a million line breaks) */
    if (buf->len + 2 <= buf->alloc && (!buf->cap || buf->len < buf->cap)) {
        buf->data[buf->len++] = c;
        buf->data[buf->len] = '\0';
        return KB_OK;
    }
    return kb_buf_append(buf, &c, 1);
}

enum kb_status kb_buf_printf(struct kb_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return KB_ERR_INVALID;
    enum kb_status status = grow(buf, (size_t)n);
    if (status != KB_OK)
        return status;
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
    return KB_OK;
}

char *kb_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p) {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

enum kb_status kb_buf_detach(struct kb_buf *buf, char **out)
{
    if (!buf->data) {
        enum kb_status status = grow(buf, 0);
        if (status != KB_OK)
            return status;
        buf->data[0] = '\0';
    }
    *out = buf->data;
    kb_buf_init(buf, buf->cap);
    return KB_OK;
}
