/*
 * serve.c - kb-lookup --serve: the persistent JSON-lines mode for chatbots and other programs.
 *
 * One more front end over kb_query_run and the JSON printer: a request is one line of JSON on
 * stdin ({"id": ..., "text": "...", "top": N, "explain": false, "lang": "..."}, other members
 * ignored), its answer one line on stdout, in order, flushed at once: the object --json prints
 * with the request's id first, or {"id", "schema_version", "error": {"code", "message"}} for a
 * request that cannot be answered. The process lives until end of input (exit 0); the KB is
 * opened once by main.c before this runs, and nothing of one request is kept for the next:
 * each is a kb_query_run of its own, and the buffers that grew for a large request are given
 * back after it. docs/json-schema.md documents the protocol, the README how to run it under a
 * supervisor.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kb_buf.h"
#include "kb_json.h"

#define CHUNK (64 * 1024)
/* Buffers that grew past this for one large request are freed after it, so a long-running
 * server's memory follows its current request, not its largest one. */
#define KEEP_BYTES (1024 * 1024)

size_t cli_serve_max_line(size_t max_input)
{
    size_t extra = 64 * 1024;
    return max_input > (SIZE_MAX - extra) / 6 ? SIZE_MAX : max_input * 6 + extra;
}

/* Reads stdin a line at a time into a buffer capped at the line limit; the rest of a longer
 * line is read and dropped, its first part kept for the id. */
struct reader {
    char *chunk;
    size_t have, at; /* chunk[at, have) not consumed yet */
    int eof;
};

/* 1: a line is in *line (without its '\n'; *overlong when it was cut), 0: end of input,
 * -1: read error (errno set), -2: out of memory. */
static int read_line(struct reader *rd, struct kb_buf *line, int *overlong)
{
    kb_buf_reset(line);
    *overlong = 0;
    for (;;) {
        if (rd->at == rd->have) {
            if (rd->eof)
                return line->len || *overlong ? 1 : 0;
            ssize_t n = read(STDIN_FILENO, rd->chunk, CHUNK);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            rd->have = (size_t)n;
            rd->at = 0;
            if (n == 0) {
                rd->eof = 1;
                continue;
            }
        }
        const char *start = rd->chunk + rd->at;
        size_t avail = rd->have - rd->at;
        const char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        rd->at += take + (nl ? 1 : 0);
        if (!*overlong) {
            size_t room = line->cap - line->len;
            size_t part = take < room ? take : room;
            enum kb_status st = kb_buf_append(line, start, part);
            if (st == KB_ERR_NOMEM)
                return -2;
            if (part < take)
                *overlong = 1;
        }
        if (nl)
            return 1;
    }
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* The id of a request as JSON text to echo (a heap string), "null" when it has none or it
 * is of a kind that is not echoed. */
static char *id_json(const struct kb_json *id)
{
    if (!id || id->type == KB_JSON_NULL || id->type == KB_JSON_ARRAY || id->type == KB_JSON_OBJECT)
        return strdup("null");
    if (id->type == KB_JSON_TRUE)
        return strdup("true");
    if (id->type == KB_JSON_FALSE)
        return strdup("false");
    if (id->type == KB_JSON_NUMBER)
        return strdup(id->str);
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return NULL;
    json_string_len(f, id->str, id->len);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void print_error(const char *id, const char *code, const char *message)
{
    printf("{\"id\":%s,\"schema_version\":1,\"error\":{\"code\":", id ? id : "null");
    json_string(stdout, code);
    fputs(",\"message\":", stdout);
    json_string(stdout, message);
    fputs("}}\n", stdout);
}

/* A request's members, checked. Returns NULL when they are fine, else what is wrong. */
static const char *check_request(const struct kb_json *req, const struct cli_serve_options *o,
                                 const struct kb_json **text, size_t *top, int *explain,
                                 const char **lang)
{
    const struct kb_json *m;
    long long n;
    if (req->type != KB_JSON_OBJECT)
        return "a request is a JSON object: {\"id\": ..., \"text\": \"...\"}";
    if ((m = kb_json_get(req, "id")) && (m->type == KB_JSON_ARRAY || m->type == KB_JSON_OBJECT))
        return "\"id\" must be a string, a number, true, false or null";
    *text = kb_json_get(req, "text");
    if (!*text || (*text)->type != KB_JSON_STRING)
        return "\"text\" must be a string: the error text to look up";
    *top = o->top;
    if ((m = kb_json_get(req, "top"))) {
        if (!kb_json_integer(m, &n) || n < 1 || n > 1000)
            return "\"top\" must be a whole number from 1 to 1000";
        *top = (size_t)n;
    }
    *explain = o->explain;
    if ((m = kb_json_get(req, "explain"))) {
        if (m->type != KB_JSON_TRUE && m->type != KB_JSON_FALSE)
            return "\"explain\" must be true or false";
        *explain = m->type == KB_JSON_TRUE;
    }
    /* the language of the answer's text, where the KB has a translation (kb_db_language_set) */
    *lang = o->lang;
    if ((m = kb_json_get(req, "lang"))) {
        if (m->type != KB_JSON_STRING && m->type != KB_JSON_NULL)
            return "\"lang\" must be a string";
        if (m->type == KB_JSON_STRING)
            *lang = m->str;
    }
    return NULL;
}

/* Answers one request line. Returns -1 when out of memory. */
static int answer(struct kb_db *db, const struct cli_serve_options *o, const char *line, size_t len,
                  int overlong)
{
    struct kb_json *req = NULL;
    struct kb_error err = {0};
    enum kb_status st = kb_json_parse(line, len, &req, &err);
    if (st == KB_ERR_NOMEM)
        return -1;
    char *id = id_json(kb_json_get(req, "id"));
    if (!id) {
        kb_json_free(req);
        return -1;
    }
    const struct kb_json *text = NULL;
    size_t top = 0;
    int explain = 0;
    const char *lang = NULL;
    const char *wrong = NULL;
    char message[160];
    if (overlong) {
        snprintf(message, sizeof message,
                 "the request line is over the limit of %zu bytes (6 x --max-input + 64 KiB)",
                 cli_serve_max_line(o->max_input));
        print_error(id, "too_large", message);
    } else if (st != KB_OK) {
        print_error(id, "bad_json", err.message);
    } else if ((wrong = check_request(req, o, &text, &top, &explain, &lang))) {
        print_error(id, "bad_request", wrong);
    } else if (text->len > o->max_input) {
        snprintf(message, sizeof message,
                 "the text is %zu bytes, over the limit of %zu bytes (--max-input)", text->len,
                 o->max_input);
        print_error(id, "too_large", message);
    } else {
        struct kb_query_options qo = {.top = top, .max_input = o->max_input};
        struct kb_result *r = NULL;
        /* set for every request, so that no request's language carries over to the next */
        st = kb_db_language_set(db, lang, &err);
        kb_db_explain_set(db, explain);
        kb_db_texts_set(db, CLI_TEXTS_JSON); /* the rows' other renderings are never read */
        if (st == KB_OK)
            st = kb_query_run(db, text->str, text->len, &qo, &r, &err);
        if (st == KB_ERR_NOMEM) {
            free(id);
            kb_json_free(req);
            return -1;
        }
        if (st != KB_OK) {
            print_error(id, "internal", err.message);
        } else {
            struct print_options po = {
                .explain = explain, .id_json = id, .layers = kb_db_layer_count(db) > 1 ? db : NULL};
            print_result_json(stdout, db, r, &po);
            cli_miss_log_write(o->miss_log, db, text->str, text->len, r);
        }
        kb_result_free(r);
    }
    free(id);
    kb_json_free(req);
    return 0;
}

/* A lookup allocates and frees a few hundred kilobytes (the literal scanner's tables, the
 * normalised text); glibc would hand the top of the heap back to the kernel after each request
 * and fault it in again for the next. A server that answers request after request keeps it:
 * its memory stays flat at the size of its largest request (bench/serve measures RSS). */
static void keep_freed_memory(void)
{
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
#endif
}

int cli_serve(struct kb_db *db, const struct cli_serve_options *o)
{
    keep_freed_memory();
    struct reader rd = {0};
    struct kb_buf line;
    kb_buf_init(&line, cli_serve_max_line(o->max_input));
    int code = 0;
    if (!(rd.chunk = malloc(CHUNK))) {
        fputs("kb-lookup: out of memory\n", stderr);
        return 2;
    }
    for (;;) {
        int overlong;
        int rc = read_line(&rd, &line, &overlong);
        if (rc == 0)
            break;
        if (rc == -1) {
            fprintf(stderr, "kb-lookup: cannot read standard input: %s\n", strerror(errno));
            code = 2;
            break;
        }
        const char *s = line.data ? line.data : "";
        /* a blank line is no request and gets no answer */
        if (!overlong && rc == 1 && is_blank(s, line.len))
            continue;
        if (rc == -2 || answer(db, o, s, line.len, overlong) != 0) {
            fputs("kb-lookup: out of memory\n", stderr);
            code = 2;
            break;
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "kb-lookup: cannot write the answer: %s\n", strerror(errno));
            code = 2;
            break;
        }
        if (line.alloc > KEEP_BYTES)
            kb_buf_release(&line);
    }
    kb_buf_release(&line);
    free(rd.chunk);
    return code;
}
