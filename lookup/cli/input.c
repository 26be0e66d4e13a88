/*
 * input.c - reads the pasted text from stdin with a size cap, whatever bytes it holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "kb_buf.h"

enum kb_status cli_read_stdin(size_t max, char **out, size_t *len)
{
    struct kb_buf buf;
    /* One byte over the cap is read so that "exactly at the cap" and "over it" differ. */
    kb_buf_init(&buf, max + 1);
    char chunk[65536];
    enum kb_status st = KB_OK;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st = KB_ERR_IO;
            break;
        }
        if ((st = kb_buf_append(&buf, chunk, (size_t)n)) != KB_OK)
            break;
        if (buf.len > max) {
            st = KB_ERR_TOO_LARGE;
            break;
        }
    }
    if (st == KB_OK) {
        *len = buf.len;
        st = kb_buf_detach(&buf, out);
    }
    if (st != KB_OK) {
        int saved = errno;
        kb_buf_release(&buf);
        errno = saved;
    }
    return st;
}
