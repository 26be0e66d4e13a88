/*
 * test_serve.c - kb-lookup --serve end to end: the real binary driven through pipes by this
 * process, as a chatbot backend would drive it.
 *
 *   - every answer is the object kb-lookup --json prints for the same text and options, with
 *     the request's id first, on one line, in order;
 *   - an answer arrives while the request's sender still holds stdin open (flushed at once);
 *   - bad lines get an error object with their id when one was readable, and the process goes
 *     on; blank lines get nothing; the last line may lack its newline; end of input: exit 0;
 *   - limits: --max-input per request, the line limit (6 x --max-input + 64 KiB);
 *   - no state: a request answered identically before and after 10,000 others;
 *   - a database file replaced (renamed over) while serving: answers still come from the
 *     copy opened at the start; a new process opens the new file;
 *   - stdout closed: exit 2.
 *
 * Usage: test_serve KB_LOOKUP DB OTHER_DB TMP_DIR TEXT_FILE...
 * (TEXT_FILE: real pastes - transcripts, bounces, logs - used as request texts.)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lookup/check.h"
#include "kb_buf.h"

/* A hang guard, not a timed assertion: an answer that takes this long is a hang. */
#define HANG_MS (300 * 1000)
#define OTHERS 10000

static const char *lookup, *db, *other_db, *tmp_dir;
static char **texts;
static size_t text_count;
static size_t *text_len;

struct proc {
    pid_t pid;
    int in, out; /* our ends: the child's stdin, its stdout */
    struct kb_buf pending;
};

static struct proc spawn(char *const argv[])
{
    int to[2], from[2];
    struct proc p = {-1, -1, -1, {0}};
    if (pipe(to) || pipe(from)) {
        perror("pipe");
        exit(2);
    }
    p.pid = fork();
    if (p.pid == 0) {
        dup2(to[0], STDIN_FILENO);
        dup2(from[1], STDOUT_FILENO);
        close(to[0]), close(to[1]), close(from[0]), close(from[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    p.in = to[1];
    p.out = from[0];
    kb_buf_init(&p.pending, 0);
    return p;
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror("write");
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

/* The next line the child wrote (without '\n'; heap), or NULL at its end of output. */
static char *read_line(struct proc *p)
{
    for (;;) {
        char *nl = p->pending.data ? memchr(p->pending.data, '\n', p->pending.len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - p->pending.data);
            char *line = malloc(n + 1);
            memcpy(line, p->pending.data, n);
            line[n] = '\0';
            memmove(p->pending.data, nl + 1, p->pending.len - n - 1);
            p->pending.len -= n + 1;
            return line;
        }
        struct pollfd pfd = {p->out, POLLIN, 0};
        int rc = poll(&pfd, 1, HANG_MS);
        if (rc == 0) {
            fprintf(stderr, "no answer within %d s: hung\n", HANG_MS / 1000);
            return NULL;
        }
        char buf[65536];
        ssize_t n = read(p->out, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        kb_buf_append(&p->pending, buf, (size_t)n);
    }
}

/* Closes the child's stdin, reads what is left, returns its exit status. */
static int finish(struct proc *p)
{
    char *rest;
    if (p->in >= 0)
        close(p->in);
    while ((rest = read_line(p))) {
        fprintf(stderr, "unexpected output: %.200s\n", rest);
        check_failures++;
        free(rest);
    }
    close(p->out);
    kb_buf_release(&p->pending);
    int status;
    waitpid(p->pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs argv with input on stdin, returns its stdout (heap, NUL-terminated). */
static char *run(char *const argv[], const char *input, size_t len)
{
    struct proc p = spawn(argv);
    struct kb_buf out;
    kb_buf_init(&out, 0);
    size_t sent = 0;
    if (!len) {
        close(p.in);
        p.in = -1;
    }
    for (;;) {
        struct pollfd pfd[2] = {{p.out, POLLIN, 0}, {p.in, POLLOUT, 0}};
        if (poll(pfd, p.in >= 0 ? 2 : 1, HANG_MS) <= 0)
            break;
        if (p.in >= 0 && (pfd[1].revents & (POLLOUT | POLLERR))) {
            ssize_t w = write(p.in, input + sent, len - sent > 65536 ? 65536 : len - sent);
            if (w > 0)
                sent += (size_t)w;
            if (w <= 0 || sent == len) {
                close(p.in);
                p.in = -1;
            }
        }
        if (pfd[0].revents & (POLLIN | POLLHUP)) {
            char buf[65536];
            ssize_t n = read(p.out, buf, sizeof buf);
            if (n <= 0)
                break;
            kb_buf_append(&out, buf, (size_t)n);
        }
    }
    if (p.in >= 0)
        close(p.in);
    close(p.out);
    waitpid(p.pid, NULL, 0);
    char *s = NULL;
    kb_buf_detach(&out, &s);
    return s;
}

/* Appends s[0, n) as a JSON string. */
static void json_escape(struct kb_buf *b, const char *s, size_t n)
{
    kb_buf_append_char(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            kb_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            kb_buf_printf(b, "\\u%04x", c);
        else
            kb_buf_append_char(b, (char)c);
    }
    kb_buf_append_char(b, '"');
}

/* A request line for text k. */
static char *request(const char *id, size_t k, const char *extra)
{
    struct kb_buf b;
    kb_buf_init(&b, 0);
    kb_buf_printf(&b, "{\"id\":%s,\"text\":", id);
    json_escape(&b, texts[k], text_len[k]);
    kb_buf_printf(&b, "%s}\n", extra);
    char *s = NULL;
    kb_buf_detach(&b, &s);
    return s;
}

static char *ask(struct proc *p, const char *line)
{
    write_all(p->in, line, strlen(line));
    return read_line(p);
}

/* Does answer hold "{\"id\":ID," and then exactly what --json printed after its '{'? */
static int same_as_json(const char *answer, const char *id, const char *json)
{
    size_t idn = strlen(id);
    size_t jn = strlen(json);
    if (!answer || jn < 2 || json[jn - 1] != '\n')
        return 0;
    return strncmp(answer, "{\"id\":", 6) == 0 && strncmp(answer + 6, id, idn) == 0
           && answer[6 + idn] == ',' && strlen(answer + 7 + idn) == jn - 2
           && memcmp(answer + 7 + idn, json + 1, jn - 2) == 0;
}

static void test_same_as_json(void)
{
    char *serve[] = {(char *)lookup, "--serve", "--db", (char *)db, NULL};
    char *json[] = {(char *)lookup, "--json", "--db", (char *)db, NULL};
    char *json_top[] = {(char *)lookup, "--json", "--top",    "1",
                        "--explain",    "--db",   (char *)db, NULL};
    struct proc p = spawn(serve);
    size_t differ = 0;
    for (size_t k = 0; k < text_count; k++) {
        char id[32];
        snprintf(id, sizeof id, "%zu", k + 1);
        int options = k % 3 == 2; /* every third: top and explain from the request */
        char *line = request(id, k, options ? ",\"top\":1,\"explain\":true" : "");
        char *answer = ask(&p, line);
        char *want = run(options ? json_top : json, texts[k], text_len[k]);
        if (!same_as_json(answer, id, want)) {
            if (differ++ < 3)
                fprintf(stderr,
                        "text %zu: --serve answered\n  %.300s\nwhere --json printed\n  %.300s\n",
                        k + 1, answer ? answer : "(nothing)", want);
        }
        free(line);
        free(answer);
        free(want);
    }
    CHECK(differ == 0);
    CHECK(finish(&p) == 0);
    printf("same as --json: %zu texts, %zu differ\n", text_count, differ);
}

struct bad {
    const char *line;
    const char *want; /* the whole answer */
};

static void test_errors(void)
{
    static const struct bad cases[] = {
        {"not json\n",
         "{\"id\":null,\"schema_version\":1,\"error\":{\"code\":\"bad_json\",\"message\":"
         "\"unexpected character at byte 1\"}}"},
        {"{\"id\": \"r\\u00e9q \\\"7\\\"\", \"text\": 5}\n",
         "{\"id\":\"r\xc3\xa9q "
         "\\\"7\\\"\",\"schema_version\":1,\"error\":{\"code\":\"bad_request\","
         "\"message\":\"\\\"text\\\" must be a string: the error text to look up\"}}"},
        {"{\"id\": 12, \"text\": \"x\", \"top\": 0}\n",
         "{\"id\":12,\"schema_version\":1,\"error\":{\"code\":\"bad_request\",\"message\":"
         "\"\\\"top\\\" must be a whole number from 1 to 1000\"}}"},
        {"{\"id\": -1.5e2, \"text\": \"x\", \"top\": \"3\"}\n",
         "{\"id\":-1.5e2,\"schema_version\":1,\"error\":{\"code\":\"bad_request\",\"message\":"
         "\"\\\"top\\\" must be a whole number from 1 to 1000\"}}"},
        {"{\"id\": true, \"text\": \"x\", \"explain\": \"yes\"}\n",
         "{\"id\":true,\"schema_version\":1,\"error\":{\"code\":\"bad_request\",\"message\":"
         "\"\\\"explain\\\" must be true or false\"}}"},
        {"{\"id\": {\"a\": 1}, \"text\": \"x\"}\n",
         "{\"id\":null,\"schema_version\":1,\"error\":{\"code\":\"bad_request\",\"message\":"
         "\"\\\"id\\\" must be a string, a number, true, false or null\"}}"},
        {"[\"text\"]\n", "{\"id\":null,\"schema_version\":1,\"error\":{\"code\":\"bad_request\","
                         "\"message\":\"a request is a JSON object: {\\\"id\\\": ..., "
                         "\\\"text\\\": \\\"...\\\"}\"}}"},
        {"{\"id\": \"cut\", \"text\": \"535 5.7.8\n",
         "{\"id\":\"cut\",\"schema_version\":1,\"error\":{\"code\":\"bad_json\",\"message\":"
         "\"unterminated string at byte 33\"}}"},
        {"{\"id\": 3, \"text\": \"x\", \"lang\": 7}\n",
         "{\"id\":3,\"schema_version\":1,\"error\":{\"code\":\"bad_request\",\"message\":"
         "\"\\\"lang\\\" must be a string\"}}"},
    };
    char *serve[] = {(char *)lookup, "--serve", "--db", (char *)db, NULL};
    struct proc p = spawn(serve);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *answer = ask(&p, cases[i].line);
        CHECK_STR(answer, cases[i].want);
        free(answer);
    }
    /* still serving after all of them: ids of every kind echoed, unknown members ignored */
    char *answer = ask(&p, "{\"text\": \"hello\", \"lang\": \"de\", \"whatever\": [1, {}]}\n");
    CHECK(answer && strncmp(answer, "{\"id\":null,\"schema_version\":1,\"kb\":", 35) == 0);
    free(answer);
    answer = ask(&p, "{\"id\": \"a\\u0000b\\ud800\", \"text\": \"hello\"}\n");
    CHECK(answer && strncmp(answer, "{\"id\":\"a\\u0000b\xef\xbf\xbd\",\"schema", 25) == 0);
    free(answer);
    CHECK(finish(&p) == 0);
}

/* Blank lines get no answer; CRLF is white space; a last line without '\n' is answered at end
 * of input; exit status 0. Answers come while stdin is still open (flushed): ask() waits for
 * each before sending the next. */
static void test_lines(void)
{
    char *serve[] = {(char *)lookup, "--serve", "--db", (char *)db, NULL};
    struct proc p = spawn(serve);
    char *a = ask(&p, "\n   \r\n\t\n{\"id\": 1, \"text\": \"hello\"}\r\n");
    CHECK(a && strncmp(a, "{\"id\":1,", 8) == 0);
    free(a);
    write_all(p.in, "{\"id\": 2, \"text\": \"hello\"}", 26);
    close(p.in);
    p.in = -1;
    a = read_line(&p);
    CHECK(a && strncmp(a, "{\"id\":2,", 8) == 0);
    free(a);
    CHECK(finish(&p) == 0);

    /* no input at all */
    p = spawn(serve);
    CHECK(finish(&p) == 0);
}

static void test_limits(void)
{
    char *serve[] = {(char *)lookup, "--serve", "--max-input", "1K", "--db", (char *)db, NULL};
    struct proc p = spawn(serve);
    struct kb_buf b;
    kb_buf_init(&b, 0);
    /* exactly at the cap: answered; one byte over: refused with the id */
    kb_buf_append_str(&b, "{\"id\": \"at\", \"text\": \"");
    for (int i = 0; i < 1024; i++)
        kb_buf_append_char(&b, 'a');
    kb_buf_append_str(&b, "\"}\n");
    char *a = ask(&p, b.data);
    CHECK(a && strncmp(a, "{\"id\":\"at\",\"schema_version\":1,\"kb\":", 34) == 0);
    free(a);
    kb_buf_reset(&b);
    kb_buf_append_str(&b, "{\"id\": \"over\", \"text\": \"");
    for (int i = 0; i < 1025; i++)
        kb_buf_append_char(&b, 'a');
    kb_buf_append_str(&b, "\"}\n");
    a = ask(&p, b.data);
    CHECK_STR(a, "{\"id\":\"over\",\"schema_version\":1,\"error\":{\"code\":\"too_large\","
                 "\"message\":\"the text is 1025 bytes, over the limit of 1024 bytes "
                 "(--max-input)\"}}");
    free(a);
    /* a line over 6 x 1024 + 65536 bytes: refused, its id read from what came first */
    kb_buf_reset(&b);
    kb_buf_append_str(&b, "{\"id\": \"long\", \"text\": \"");
    for (int i = 0; i < 6 * 1024 + 65536; i++)
        kb_buf_append_char(&b, 'a');
    kb_buf_append_str(&b, "\"}\n");
    a = ask(&p, b.data);
    CHECK_STR(a, "{\"id\":\"long\",\"schema_version\":1,\"error\":{\"code\":\"too_large\","
                 "\"message\":\"the request line is over the limit of 71680 bytes "
                 "(6 x --max-input + 64 KiB)\"}}");
    free(a);
    /* escaped to 6 bytes a byte, a text at the cap still fits in a line */
    kb_buf_reset(&b);
    kb_buf_append_str(&b, "{\"id\": \"escaped\", \"text\": \"");
    for (int i = 0; i < 1024; i++)
        kb_buf_append_str(&b, "\\u0001");
    kb_buf_append_str(&b, "\"}\n");
    a = ask(&p, b.data);
    CHECK(a && strncmp(a, "{\"id\":\"escaped\",\"schema_version\":1,\"kb\":", 39) == 0);
    free(a);
    /* NUL bytes and bytes that are no UTF-8 are a text like any other */
    a = ask(&p, "{\"id\": \"bytes\", \"text\": \"535 \\u0000\xff\xfe 5.7.8\"}\n");
    CHECK(a && strncmp(a, "{\"id\":\"bytes\",\"schema_version\":1,\"kb\":", 37) == 0);
    free(a);
    kb_buf_release(&b);
    CHECK(finish(&p) == 0);
}

/* The answer without its id, for comparing answers to different requests. */
static const char *after_id(const char *answer)
{
    const char *s = answer ? strstr(answer, ",\"schema_version\"") : NULL;
    return s ? s : "";
}

static void test_no_state(void)
{
    char *serve[] = {(char *)lookup, "--serve", "--db", (char *)db, NULL};
    struct proc p = spawn(serve);
    /* the request answered first and last: a transcript whose answer has captures and facts */
    size_t probe = 0;
    for (size_t k = 0; k < text_count; k++)
        if (strstr(texts[k], "535 ") && text_len[k] < 4096) {
            probe = k;
            break;
        }
    char *line = request("\"first\"", probe, ",\"explain\":true");
    char *first = ask(&p, line);
    free(line);
    size_t answered = 0;
    for (size_t i = 0; i < OTHERS; i++) {
        char id[32];
        size_t k = (i * 7919) % text_count;
        snprintf(id, sizeof id, "%zu", i);
        char *other = request(id, k, i % 5 == 0 ? ",\"top\":10" : "");
        char *a = ask(&p, other);
        answered += a && strncmp(a, "{\"id\":", 6) == 0;
        free(other);
        free(a);
    }
    line = request("\"last\"", probe, ",\"explain\":true");
    char *last = ask(&p, line);
    free(line);
    CHECK(answered == OTHERS);
    CHECK(first && last && strcmp(after_id(first), after_id(last)) == 0);
    CHECK(strncmp(first ? first : "", "{\"id\":\"first\",", 14) == 0);
    CHECK(strncmp(last ? last : "", "{\"id\":\"last\",", 13) == 0);
    printf("no state: the same request before and after %zu others answered %s\n", answered,
           first && last && strcmp(after_id(first), after_id(last)) == 0 ? "identically"
                                                                         : "DIFFERENTLY");
    free(first);
    free(last);
    CHECK(finish(&p) == 0);
}

static char *copy_file(const char *from, const char *to)
{
    char *argv[] = {"/bin/cp", (char *)from, (char *)to, NULL};
    char *out = run(argv, NULL, 0);
    free(out);
    return NULL;
}

/* The KB build of an answer ("build":"..."), heap. */
static char *build_of(const char *answer)
{
    const char *s = answer ? strstr(answer, "\"build\":\"") : NULL;
    if (!s)
        return strdup("");
    s += 9;
    const char *e = strchr(s, '"');
    return strndup(s, e ? (size_t)(e - s) : 0);
}

static void test_replaced_db(void)
{
    char path[4096], next[4096];
    snprintf(path, sizeof path, "%s/serve-kb.db", tmp_dir);
    snprintf(next, sizeof next, "%s/serve-kb.db.new", tmp_dir);
    copy_file(db, path);
    char *serve[] = {(char *)lookup, "--serve", "--db", path, NULL};
    struct proc p = spawn(serve);
    char *line = request("1", 0, "");
    char *before = ask(&p, line);
    /* the way kb-compile writes a database: a new file renamed over the old one */
    copy_file(other_db, next);
    CHECK(rename(next, path) == 0);
    char *after = ask(&p, line);
    CHECK(before && after && strcmp(before, after) == 0);
    CHECK(finish(&p) == 0);
    /* a new process opens the new file */
    p = spawn(serve);
    char *fresh = ask(&p, line);
    char *b1 = build_of(before), *b2 = build_of(fresh);
    CHECK(*b1 && *b2 && strcmp(b1, b2) != 0);
    CHECK(finish(&p) == 0);
    free(b1), free(b2);
    free(line), free(before), free(after), free(fresh);
    unlink(path);
}

/* Nobody reads the answers: exit 2, not killed by SIGPIPE, no hang. */
static void test_closed_stdout(void)
{
    char *serve[] = {(char *)lookup, "--serve", "--db", (char *)db, NULL};
    struct proc p = spawn(serve);
    close(p.out);
    char *line = request("1", 0, "");
    for (int i = 0; i < 3; i++)
        write_all(p.in, line, strlen(line));
    free(line);
    close(p.in);
    int status;
    waitpid(p.pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    kb_buf_release(&p.pending);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct kb_buf b;
    kb_buf_init(&b, 0);
    char buf[65536];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        kb_buf_append(&b, buf, n);
    if (f)
        fclose(f);
    char *s = NULL;
    *len = b.len;
    kb_buf_detach(&b, &s);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: test_serve KB_LOOKUP DB OTHER_DB TMP_DIR TEXT_FILE...\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    lookup = argv[1], db = argv[2], other_db = argv[3], tmp_dir = argv[4];
    text_count = (size_t)argc - 5;
    texts = calloc(text_count, sizeof *texts);
    text_len = calloc(text_count, sizeof *text_len);
    for (size_t k = 0; k < text_count; k++)
        texts[k] = read_file(argv[5 + k], &text_len[k]);
    mkdir(tmp_dir, 0700);
    test_same_as_json();
    test_errors();
    test_lines();
    test_limits();
    test_replaced_db();
    test_closed_stdout();
    test_no_state();
    for (size_t k = 0; k < text_count; k++)
        free(texts[k]);
    free(texts);
    free(text_len);
    return check_report("test_serve");
}
