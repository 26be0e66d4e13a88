/*
 * miss_log.c - kb-lookup --log-misses FILE (or KB_LOG_MISSES): every lookup that ends in no
 * match or only weak ones appends one JSON line to FILE, so the team can see which errors
 * the KB does not answer yet (kb-compile --gaps groups them).
 *
 * What a line holds of the customer's text is kb_text_redact's: credentials masked by the
 * library's one mask, customer values replaced by placeholders. Each line is built whole in
 * memory, at most CLI_MISS_LINE_MAX bytes (the text is cut to fit), and written with a single
 * write() on a descriptor opened with O_APPEND: several processes appending to one file never
 * interleave their lines. The file is opened for each line, so a log rotated away (renamed)
 * is followed at once. Format: docs/json-schema.md, "The miss log".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kb_buf.h"

/* Room kept at the end of a line for what closes it: "\"}\n". */
#define CLOSE_BYTES 3

int cli_is_miss(const struct kb_result *r)
{
    if (r->report.not_failure)
        return 0;
    for (size_t i = 0; i < r->match_count; i++)
        if (r->matches[i].confidence != KB_CONF_WEAK)
            return 0;
    return 1;
}

/* Appends s[0, n) to b as the inside of a JSON string, stopping before b would grow past limit
 * (a character or escape is never cut). Bytes that are not UTF-8 become U+FFFD; control bytes
 * escapes. Returns how long the whole of s is escaped: all of it was appended when b grew by
 * that much. */
static size_t json_put(struct kb_buf *b, const char *s, size_t n, size_t limit)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t total = 0;
    int full = 0;
    for (size_t i = 0; i < n;) {
        char esc[8];
        const char *piece = (const char *)p + i;
        size_t len = 1, used = 1;
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            piece = esc, len = 2;
        } else if (c == '\n') {
            piece = "\\n", len = 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            piece = esc, len = 6;
        } else if (c >= 0x80) {
            /* a valid sequence is copied whole, anything else is one U+FFFD */
            size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
            size_t k = 1;
            while (want && k < want && i + k < n && (p[i + k] & 0xc0) == 0x80)
                k++;
            if (want && k == want && c <= 0xf4)
                len = used = want;
            else
                piece = "\\ufffd", len = 6;
        }
        total += len;
        if (!full && (b->len + len > limit || kb_buf_append(b, piece, len) != KB_OK))
            full = 1; /* nothing more is appended, the rest is only counted */
        i += used;
    }
    return total;
}

static void put_string(struct kb_buf *b, const char *key, const char *value)
{
    kb_buf_printf(b, ",\"%s\":", key);
    if (!value) {
        kb_buf_append_str(b, "null");
        return;
    }
    kb_buf_append_char(b, '"');
    /* facts are short; a long one is cut rather than crowd out the text */
    json_put(b, value, strlen(value), b->len + 200);
    kb_buf_append_char(b, '"');
}

static void put_int(struct kb_buf *b, const char *key, long value)
{
    if (value)
        kb_buf_printf(b, ",\"%s\":%ld", key, value);
    else
        kb_buf_printf(b, ",\"%s\":null", key);
}

/* The line for a miss, at most CLI_MISS_LINE_MAX bytes with its newline. */
static enum kb_status build_line(struct kb_buf *b, const struct kb_db *db, const char *text,
                                 size_t len, const struct kb_result *r)
{
    char when[32] = "";
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    if (gmtime_r(&now.tv_sec, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const struct kb_facts *f = &r->facts;
    kb_buf_printf(b, "{\"time\":\"%s\"", when);
    put_string(b, "kb", kb_db_build_hash(db));
    put_string(b, "result", r->match_count ? "weak" : "no_match");
    kb_buf_printf(b, ",\"facts\":{\"reply_code\":");
    if (f->reply_code)
        kb_buf_printf(b, "%d", f->reply_code);
    else
        kb_buf_append_str(b, "null");
    put_string(b, "enhanced_code", f->enhanced);
    put_string(b, "stage", f->stage);
    put_int(b, "port", f->port);
    put_string(b, "client", f->client);
    put_string(b, "provider", f->provider);
    put_string(b, "context", kb_context_str(f->mail_context));
    put_string(b, "dialogue", r->dialogue.format);
    put_string(b, "report", r->report.format);
    kb_buf_append_char(b, '}');
    kb_buf_append_str(b, ",\"weak\":[");
    for (size_t i = 0; i < r->match_count && i < 3; i++)
        kb_buf_printf(b, "%s{\"id\":\"%.64s\",\"score\":%.3g}", i ? "," : "",
                      r->matches[i].entry->id, r->matches[i].score);
    kb_buf_printf(b, "],\"input_bytes\":%zu,\"input_lines\":%zu,\"input_binary\":%s,\"text\":\"",
                  len, r->input_lines, r->input_binary ? "true" : "false");
    if (!b->data || b->len + CLOSE_BYTES > CLI_MISS_LINE_MAX)
        return KB_ERR_NOMEM; /* cannot happen with the caps above, but never write a cut line */
    /* The redacted text is chosen to fit in the room left; escaping it for JSON makes it
     * longer (quotes, newlines), so it is chosen again with less room until it fits: cutting
     * the escaped text would lose its last lines, often the error itself. */
    size_t limit = CLI_MISS_LINE_MAX - CLOSE_BYTES, start = b->len, room = limit - start;
    enum kb_status st = KB_OK;
    for (int tries = 0; tries < 4; tries++) {
        char *redacted = NULL;
        struct kb_error err;
        if ((st = kb_text_redact(text, len, r, room, &redacted, &err)) != KB_OK)
            break;
        b->len = start;
        size_t escaped = json_put(b, redacted, strlen(redacted), limit);
        free(redacted);
        if (start + escaped <= limit || room < 256)
            break;
        size_t over = start + escaped - limit + 16;
        room = over < room ? room - over : 0;
    }
    if (st != KB_OK)
        return st;
    return kb_buf_append_str(b, "\"}\n");
}

void cli_miss_log_write(struct cli_miss_log *log, const struct kb_db *db, const char *text,
                        size_t len, const struct kb_result *r)
{
    if (!log || !log->path || !cli_is_miss(r))
        return;
    struct kb_buf b;
    kb_buf_init(&b, CLI_MISS_LINE_MAX);
    const char *why = NULL;
    int saved = 0;
    if (build_line(&b, db, text, len, r) != KB_OK || b.len > CLI_MISS_LINE_MAX) {
        why = "out of memory";
    } else {
        int fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        ssize_t n = -1;
        if (fd >= 0) {
            /* one write: a line is whole or absent, never retried in parts */
            do
                n = write(fd, b.data, b.len);
            while (n < 0 && errno == EINTR);
            saved = errno;
            if (close(fd) != 0 && n == (ssize_t)b.len)
                n = -1, saved = errno;
        } else {
            saved = errno;
        }
        if (n != (ssize_t)b.len)
            why = n >= 0 ? "short write (disk full?)" : strerror(saved);
    }
    if (why && !log->warned) {
        fprintf(stderr, "kb-lookup: cannot write to the miss log '%s': %s\n", log->path, why);
        log->warned = 1;
    }
    kb_buf_release(&b);
}
