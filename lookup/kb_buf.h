/*
 * kb_buf.h - a growable byte buffer with a size cap, for untrusted input (after curl's dynbuf
 * and git's strbuf). The content is always NUL-terminated so it can be handed to C string
 * functions, but lengths are tracked explicitly because input may contain NUL bytes.
 */
#ifndef KB_BUF_H
#define KB_BUF_H

#include <stddef.h>

#include "kb.h"

struct kb_buf {
    char *data; /* NULL until the first append; then NUL-terminated */
    size_t len;
    size_t alloc;
    size_t cap; /* appends that would exceed cap bytes fail with KB_ERR_TOO_LARGE */
};

/* Initialises an empty buffer that refuses to grow past cap bytes (0: no cap). */
void kb_buf_init(struct kb_buf *buf, size_t cap);
/* Frees the storage and leaves an empty buffer with the same cap. */
void kb_buf_release(struct kb_buf *buf);
/* Empties the buffer, keeping storage. */
void kb_buf_reset(struct kb_buf *buf);
/* Hands the storage to the caller (never NULL on KB_OK: "" when empty); buffer becomes empty. */
enum kb_status kb_buf_detach(struct kb_buf *buf, char **out);

enum kb_status kb_buf_append(struct kb_buf *buf, const void *data, size_t len);
enum kb_status kb_buf_append_str(struct kb_buf *buf, const char *s);
enum kb_status kb_buf_append_char(struct kb_buf *buf, char c);
enum kb_status kb_buf_printf(struct kb_buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* printf into a new heap string; NULL when out of memory. */
char *kb_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
