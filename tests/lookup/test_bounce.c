/*
 * test_bounce.c - unit tests of the bounce reader (kb_mime.c, kb_bounce.c).
 *
 * The formats are tested as data: every NAME.eml or NAME.txt in the folder given as the first
 * argument is read with kb_bounce_read and checked against NAME.expect, once as written and
 * once with its line ends turned into CRLF (or LF, for a sample written with CRLF). An
 * .expect file holds one check a line ('#' starts a comment):
 *
 *   format NAME | -          the report's format (- : none)
 *   leg NAME | -             reporting_mta HOST | -      not_failure TEXT | -
 *   recipients N             decoded 0|1 (a part was decoded or reduced from HTML)
 *   rK.FIELD VALUE           recipient K's address, action, status, class, meaning,
 *   rK.FIELD~ VALUE          remote_mta or diagnostic (~: contains)
 *   region "TEXT" NAME [K]   the first line holding TEXT is in region NAME (text, headers,
 *                            returned, diagnostic, explanation, other), reporting on
 *                            recipient K (0: shared) when K is given
 *   text "TEXT" / notext "TEXT"   the text the later stages read holds TEXT / does not
 *
 * Malformed MIME is tested with generated inputs (no closing boundary, truncated base64, a
 * 5 MB attachment, 2 MB of returned text, 10,000 parts, 10,000 levels of nesting, 10,000
 * recipients, NUL bytes, a 1 MB line): each gives a result, and the work the reader counts
 * stays linear in the input.
 * No timing: work is counted.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb_internal.h"

/* Work the reader may do per input line, whatever the input (a line is visited once per
 * level of MIME nesting it is in, nesting is capped at 24, and each pass is linear). */
#define WORK_PER_LINE 32
/* The passes of the report reader over the text, and its look-ahead at header blocks. */
#define READER_WORK_PER_LINE 64

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *more = realloc(buf, cap *= 2);
            if (!more)
                free(buf);
            buf = more;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* text with every LF turned into CRLF, or every CRLF into LF when it has any. */
static char *flip_line_ends(const char *text, size_t len, size_t *out_len)
{
    int crlf = memchr(text, '\r', len) != NULL;
    char *out = malloc(len * 2 + 1);
    size_t n = 0;
    for (size_t i = 0; out && i < len; i++) {
        if (crlf && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
            continue;
        if (!crlf && text[i] == '\n')
            out[n++] = '\r';
        out[n++] = text[i];
    }
    *out_len = n;
    return out;
}

struct sample {
    const char *name;
    struct kb_report rep;
    struct kb_bounce b;
};

static const char *const region_names[] = {"text",       "headers",     "returned",
                                           "diagnostic", "explanation", "other"};

/* Line i of the text the later stages read, without its line end. */
static const char *line_of(const struct kb_bounce *b, size_t i, size_t *n)
{
    size_t s = b->mime.line_start[i], e = b->mime.line_start[i + 1];
    while (e > s && (b->mime.text[e - 1] == '\n' || b->mime.text[e - 1] == '\r'))
        e--;
    *n = e - s;
    return b->mime.text + s;
}

static int holds(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(s + i, needle, m) == 0)
            return 1;
    return 0;
}

static void fail(const struct sample *s, const char *variant, const char *what, const char *got,
                 const char *want)
{
    fprintf(stderr, "%s (%s): %s: expected \"%s\", got \"%s\"\n", s->name, variant, what,
            want ? want : "(null)", got ? got : "(null)");
    check_failures++;
}

static void check_value(const struct sample *s, const char *variant, const char *what,
                        const char *got, const char *want, int contains)
{
    check_count++;
    if (strcmp(want, "-") == 0)
        want = NULL;
    int ok = (!got && !want)
             || (got && want && (contains ? strstr(got, want) != NULL : strcmp(got, want) == 0));
    if (!ok)
        fail(s, variant, what, got, want);
}

/* A quoted argument: the text between the first and the last '"' of the rest of the line. */
static char *quoted(char *rest, char **after)
{
    char *a = strchr(rest, '"'), *z = strrchr(rest, '"');
    if (!a || z == a)
        return NULL;
    *z = '\0';
    *after = z + 1;
    return a + 1;
}

static void check_line(const struct sample *s, const char *variant, char *line)
{
    const struct kb_report *rep = &s->rep;
    char *sp = strchr(line, ' ');
    if (!sp)
        return;
    *sp = '\0';
    char *key = line, *value = sp + 1;
    if (strcmp(key, "format") == 0) {
        check_value(s, variant, key, rep->format, value, 0);
    } else if (strcmp(key, "leg") == 0) {
        check_value(s, variant, key, rep->leg, value, 0);
    } else if (strcmp(key, "reporting_mta") == 0) {
        check_value(s, variant, key, rep->reporting_mta, value, 0);
    } else if (strcmp(key, "not_failure") == 0) {
        check_value(s, variant, key, rep->not_failure, value, 0);
    } else if (strcmp(key, "recipients") == 0) {
        char got[32];
        snprintf(got, sizeof got, "%zu", rep->recipient_count);
        check_value(s, variant, key, got, value, 0);
    } else if (strcmp(key, "decoded") == 0) {
        check_value(s, variant, key, s->b.mime.decoded ? "1" : "0", value, 0);
    } else if (key[0] == 'r' && key[1] >= '1' && key[1] <= '9' && strchr(key, '.')) {
        size_t k = (size_t)strtoul(key + 1, NULL, 10);
        char *field = strchr(key, '.') + 1;
        size_t fl = strlen(field);
        int contains = fl && field[fl - 1] == '~';
        if (contains)
            field[fl - 1] = '\0';
        if (k < 1 || k > rep->recipient_count) {
            fail(s, variant, key, "(no such recipient)", value);
            return;
        }
        const struct kb_recipient *p = &rep->recipients[k - 1];
        const char *got = strcmp(field, "address") == 0      ? p->address
                          : strcmp(field, "action") == 0     ? p->action
                          : strcmp(field, "status") == 0     ? p->status
                          : strcmp(field, "class") == 0      ? p->status_class
                          : strcmp(field, "meaning") == 0    ? p->status_meaning
                          : strcmp(field, "remote_mta") == 0 ? p->remote_mta
                          : strcmp(field, "diagnostic") == 0 ? p->diagnostic
                                                             : "(unknown field)";
        check_value(s, variant, key, got, value, contains);
    } else if (strcmp(key, "text") == 0 || strcmp(key, "notext") == 0) {
        char *after;
        char *needle = quoted(value, &after);
        check_count++;
        int has = needle && holds(s->b.mime.text, s->b.mime.len, needle);
        if (!needle || has != (key[0] == 't'))
            fail(s, variant, key, has ? "present" : "absent", needle);
    } else if (strcmp(key, "region") == 0) {
        char *after;
        char *needle = quoted(value, &after);
        char region[32] = "";
        int owner = -1;
        if (needle)
            sscanf(after, "%31s %d", region, &owner);
        check_count++;
        size_t i = 0, n;
        const char *l = NULL;
        for (; needle && i < s->b.mime.line_count; i++) {
            l = line_of(&s->b, i, &n);
            if (holds(l, n, needle))
                break;
        }
        if (!needle || i == s->b.mime.line_count) {
            fail(s, variant, "region: no line holds", "(none)", needle);
            return;
        }
        const char *got = region_names[s->b.region[i]];
        char want[64];
        if (owner >= 0) {
            char have[64];
            snprintf(want, sizeof want, "%s %d", region, owner);
            snprintf(have, sizeof have, "%s %u", got, (unsigned)s->b.owner[i]);
            if (strcmp(want, have) != 0)
                fail(s, variant, needle, have, want);
        } else if (strcmp(region, got) != 0) {
            fail(s, variant, needle, got, region);
        }
    } else {
        fail(s, variant, "unknown check", key, "a known one");
    }
}

/* The text the later stages read is lines each ending in a line break, as many as the reader
 * counted (kb_norm_run counts them the same way), and each maps to a line of the input. */
static int text_consistent(const struct kb_bounce *b)
{
    const struct kb_mime *m = &b->mime;
    size_t breaks = 0;
    for (size_t i = 0; i < m->len; i++)
        breaks += m->text[i] == '\n';
    if (m->len && m->text[m->len - 1] != '\n' && m->input_line)
        return 0;
    size_t lines = breaks + (m->len && m->text[m->len - 1] != '\n');
    if (lines != m->line_count || m->line_start[m->line_count] != m->len)
        return 0;
    for (size_t i = 0; i < m->line_count; i++)
        if (m->line_start[i] > m->line_start[i + 1]
            || kb_mime_input_line(m, i + 1) > m->input_lines)
            return 0;
    return 1;
}

static void run_sample(const char *dir, const char *file)
{
    char path[4096], expect[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(expect, sizeof expect, "%s/%.*s.expect", dir, (int)(strrchr(file, '.') - file), file);
    size_t len, elen;
    char *text = read_file(path, &len);
    char *exp = read_file(expect, &elen);
    CHECK(text != NULL);
    CHECK(exp != NULL);
    if (!text || !exp) {
        fprintf(stderr, "%s: cannot read it or its .expect\n", file);
        free(text);
        free(exp);
        return;
    }
    exp = realloc(exp, elen + 1);
    exp[elen] = '\0';
    size_t flen;
    char *flipped = flip_line_ends(text, len, &flen);
    const char *variants[2] = {"as written", "line ends flipped"};
    const char *inputs[2] = {text, flipped};
    size_t lens[2] = {len, flen};
    for (int v = 0; v < 2; v++) {
        struct sample s = {.name = file};
        CHECK(kb_bounce_read(inputs[v], lens[v], &s.rep, &s.b) == KB_OK);
        CHECK(s.b.mime.work <= WORK_PER_LINE * (s.b.mime.input_lines + 1));
        CHECK(s.b.work <= READER_WORK_PER_LINE * (s.b.mime.input_lines + 1));
        CHECK(text_consistent(&s.b));
        char *copy = strdup(exp);
        for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
            size_t n = strlen(line);
            while (n && line[n - 1] == '\r')
                line[--n] = '\0';
            if (n && line[0] != '#')
                check_line(&s, variants[v], line);
        }
        free(copy);
        kb_report_release(&s.rep);
        kb_bounce_release(&s.b);
    }
    free(flipped);
    free(text);
    free(exp);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t run_samples(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return 0;
    char **names = NULL;
    size_t count = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if ((n > 4 && strcmp(e->d_name + n - 4, ".eml") == 0)
            || (n > 4 && strcmp(e->d_name + n - 4, ".txt") == 0)) {
            names = realloc(names, (count + 1) * sizeof *names);
            names[count++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, count, sizeof *names, by_name);
    for (size_t i = 0; i < count; i++) {
        run_sample(dir, names[i]);
        free(names[i]);
    }
    free(names);
    return count;
}

/* ---- generated inputs -------------------------------------------------------------------- */

struct gen {
    char *s;
    size_t n, cap;
};

static void put(struct gen *g, const char *s)
{
    size_t m = strlen(s);
    if (g->n + m + 1 > g->cap) {
        g->cap = (g->n + m + 1) * 2;
        g->s = realloc(g->s, g->cap);
    }
    memcpy(g->s + g->n, s, m + 1);
    g->n += m;
}

/* Reads g; checks a result came and the work stayed within per_line work a line. */
static void read_generated(const char *what, struct gen *g, struct kb_report *rep,
                           struct kb_bounce *b, size_t per_line)
{
    enum kb_status st = kb_bounce_read(g->s ? g->s : "", g->n, rep, b);
    CHECK(st == KB_OK);
    if (st == KB_OK && !text_consistent(b)) {
        fprintf(stderr, "%s: the text and its lines disagree\n", what);
        check_failures++;
    }
    check_count += 2;
    if (b->mime.work > per_line * (b->mime.input_lines + 1)) {
        fprintf(stderr, "%s: work %zu for %zu lines\n", what, b->mime.work, b->mime.input_lines);
        check_failures++;
    }
    if (b->work > READER_WORK_PER_LINE * (b->mime.input_lines + 1)) {
        fprintf(stderr, "%s: reader work %zu for %zu lines\n", what, b->work, b->mime.input_lines);
        check_failures++;
    }
}

static const char report_head[] =
    "From: MAILER-DAEMON@mail.example.org\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\n\n";

static const char report_status[] = "--R\n"
                                    "Content-Type: message/delivery-status\n\n"
                                    "Final-Recipient: rfc822; zoe@example.com\n"
                                    "Action: failed\n"
                                    "Status: 5.2.2\n"
                                    "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\n\n";

static const char *diagnostic_region(const struct kb_bounce *b, const char *needle)
{
    for (size_t i = 0; i < b->mime.line_count; i++) {
        size_t n;
        const char *l = line_of(b, i, &n);
        if (holds(l, n, needle))
            return region_names[b->region[i]];
    }
    return "(absent)";
}

static void test_no_closing_boundary(void)
{
    struct gen g = {0};
    put(&g, report_head);
    put(&g,
        "--R\nContent-Type: text/plain\n\nThis is the mail system at host mail.example.org.\n\n");
    put(&g, report_status);
    put(&g, "--R\nContent-Type: message/rfc822\n\nX-Spam-Flag: YES\nSubject: hi\n\nbody\n");
    struct kb_report rep;
    struct kb_bounce b;
    read_generated("no closing boundary", &g, &rep, &b, WORK_PER_LINE);
    CHECK_STR(rep.format, "postfix");
    CHECK(rep.recipient_count == 1);
    CHECK_STR(diagnostic_region(&b, "X-Spam-Flag"), "returned");
    CHECK_STR(diagnostic_region(&b, "body"), "returned");
    CHECK_STR(diagnostic_region(&b, "Diagnostic-Code"), "diagnostic");
    kb_report_release(&rep);
    kb_bounce_release(&b);
    free(g.s);
}

static void test_truncated_base64(void)
{
    /* "Remote host said: 552 5.2.2 Mailbox full, quota exceeded\n" in base64, cut short, with
     * a stray character and no padding */
    struct gen g = {0};
    put(&g, report_head);
    put(&g, "--R\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
            "PGpvQGV4YW1wbGUuY29tPjoKUmVtb3RlIGhvc3Qgc2Fp\n"
            "ZDogNTUyIDUuMi4yIE1haWxib3gg!ZnVsbCwgcXVvdGEgZXhjZWVkZWQK\n"
            "VGhpcyBsaW5lIGlzIGN1dCBzaG9y");
    struct kb_report rep;
    struct kb_bounce b;
    read_generated("truncated base64", &g, &rep, &b, WORK_PER_LINE);
    CHECK(b.mime.decoded);
    CHECK(holds(b.mime.text, b.mime.len, "Remote host said: 552 5.2.2 Mailbox full"));
    CHECK(holds(b.mime.text, b.mime.len, "This line is cut sho"));
    CHECK(rep.recipient_count == 1);
    if (rep.recipient_count) {
        CHECK_STR(rep.recipients[0].address, "jo@example.com");
        CHECK_STR(rep.recipients[0].status, "5.2.2");
        /* the decoded line maps back to the input line it was decoded from */
        CHECK(rep.recipients[0].line == 10 || rep.recipients[0].line == 11);
    }
    kb_report_release(&rep);
    kb_bounce_release(&b);
    free(g.s);
}

static void test_big_attachment(void)
{
    /* a 5 MB attachment in the returned original: left out of the text, read once */
    struct gen g = {0};
    put(&g, report_head);
    put(&g, report_status);
    put(&g, "--R\nContent-Type: message/rfc822\n\nSubject: report\nContent-Type: multipart/mixed; "
            "boundary=\"A\"\n\n--A\nContent-Type: text/plain\n\nsee attachment\n--A\n"
            "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n");
    char line[78];
    memset(line, 'Q', 76);
    line[76] = '\n';
    line[77] = '\0';
    for (size_t k = 0; k < (5u << 20) / 77; k++)
        put(&g, line);
    put(&g, "--A--\n--R--\n");
    struct kb_report rep;
    struct kb_bounce b;
    read_generated("5 MB attachment", &g, &rep, &b, 4);
    CHECK(b.mime.dropped);
    CHECK(b.mime.len < 4096);
    CHECK(rep.recipient_count == 1);
    CHECK_STR(diagnostic_region(&b, "see attachment"), "returned");
    kb_report_release(&rep);
    kb_bounce_release(&b);
    free(g.s);
}

static void test_big_returned_text(void)
{
    /* a returned original of 2 MB of text: its headers and the start of its body are kept
     * for the signatures that read it, the rest left out of the text */
    struct gen g = {0};
    put(&g, report_head);
    put(&g, report_status);
    put(&g, "--R\nContent-Type: message/rfc822\n\nAuthentication-Results: mx.example.com; "
            "dmarc=fail\nSubject: newsletter\n\n");
    for (size_t k = 0; k < (2u << 20) / 64; k++)
        put(&g, "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.\n");
    put(&g, "the last line of the newsletter\n--R--\n");
    struct kb_report rep;
    struct kb_bounce b;
    read_generated("2 MB returned text", &g, &rep, &b, WORK_PER_LINE);
    CHECK(b.mime.len < 80 * 1024);
    CHECK_STR(diagnostic_region(&b, "dmarc=fail"), "returned");
    CHECK_STR(diagnostic_region(&b, "the last line of the newsletter"), "(absent)");
    CHECK_STR(diagnostic_region(&b, "Diagnostic-Code"), "diagnostic");
    CHECK(rep.recipient_count == 1 && rep.recipients[0].line == 12);
    kb_report_release(&rep);
    kb_bounce_release(&b);
    free(g.s);
}

static void test_many_parts(void)
{
    struct gen g = {0};
    put(&g, "From: MAILER-DAEMON@mail.example.org\nContent-Type: multipart/mixed; boundary=P\n\n");
    for (int k = 0; k < 10000; k++)
        put(&g, "--P\nContent-Type: text/plain\n\npart\n");
    put(&g, "--P--\n");
    struct kb_report rep;
    struct kb_bounce b;
    read_generated("10,000 parts", &g, &rep, &b, 8);
    CHECK(b.mime.parts == 10000);
    kb_report_release(&rep);
    kb_bounce_release(&b);
    free(g.s);
}

static void test_deep_nesting(void)
{
    struct gen g = {0};
    char buf[128];
    put(&g, "Content-Type: multipart/mixed; boundary=b0\nFrom: x@example.org\n\n");
    for (int k = 1; k <= 10000; k++) {
        snprintf(buf, sizeof buf, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", k - 1,
                 k);
        put(&g, buf);
    }
    put(&g, "--b10000\nContent-Type: text/plain\n\n550 5.1.1 deep inside\n");
    struct kb_report rep;
    struct kb_bounce b;
    read_generated("10,000 levels of nesting", &g, &rep, &b, WORK_PER_LINE);
    kb_report_release(&rep);
    kb_bounce_release(&b);
    free(g.s);
}

static void test_many_recipients(void)
{
    struct gen g = {0};
    char buf[160];
    put(&g, report_head);
    put(&g, "--R\nContent-Type: message/delivery-status\n\n");
    for (int k = 0; k < 10000; k++) {
        snprintf(buf, sizeof buf,
                 "Final-Recipient: rfc822; u%d@example.com\nAction: failed\nStatus: 5.1.1\n\n", k);
        put(&g, buf);
    }
    put(&g, "--R--\n");
    struct kb_report rep;
    struct kb_bounce b;
    read_generated("10,000 recipients", &g, &rep, &b, 8);
    CHECK(rep.recipient_count == 64);
    kb_report_release(&rep);
    kb_bounce_release(&b);
    free(g.s);
}

static void test_odd_inputs(void)
{
#define INPUT(what, text)                                                                          \
    {                                                                                              \
        what, text, sizeof text - 1                                                                \
    }
    static const struct {
        const char *what;
        const char *text;
        size_t len;
    } inputs[] = {
        INPUT("empty", ""),
        INPUT("one line break", "\n"),
        INPUT("NUL bytes", "Content-Type: multipart/report; boundary=\"\0\"\n\n--\0\n\0\n"),
        INPUT("empty boundary",
              "Content-Type: multipart/mixed; boundary=\"\"\nFrom: a@b.c\n\n--\n--\n"),
        INPUT("multipart, no boundary anywhere",
              "From: a@example.org\nContent-Type: multipart/mixed\n\njust text\n"),
        INPUT("headers only", "From: a@example.org\nSubject: Undeliverable: x"),
        INPUT("dangling quoted-printable",
              "Content-Type: text/plain\nFrom: MAILER-DAEMON@x.org\n"
              "Content-Transfer-Encoding: quoted-printable\n\n=\n=4\n=ZZ"),
        INPUT("base64 of binary bytes",
              "Content-Type: text/plain\nFrom: MAILER-DAEMON@x.org\n"
              "Content-Transfer-Encoding: base64\n\nAAECAwQFBgcICQoL////\n"),
        INPUT("HTML that ends in an open tag",
              "From: MAILER-DAEMON@x.org\nContent-Type: multipart/mixed; boundary=H\n\n--H\n"
              "Content-Type: text/html\n\n<p>550 5.1.1 user unknown</p><div class=\"a\n--H\n"
              "Content-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n"
              "<style>p {=\n--H\nContent-Type: text/plain\n\nlast\n"),
        INPUT(
            "HTML that ends the paste in an open tag",
            "From: MAILER-DAEMON@x.org\nContent-Type: text/html\n\n<p>mailbox full<div class=\"x"),
    };
#undef INPUT
    for (size_t k = 0; k < sizeof inputs / sizeof *inputs; k++) {
        struct gen g = {.s = malloc(inputs[k].len + 1), .n = inputs[k].len};
        memcpy(g.s, inputs[k].text, inputs[k].len);
        g.s[g.n] = '\0';
        struct kb_report rep;
        struct kb_bounce b;
        read_generated(inputs[k].what, &g, &rep, &b, WORK_PER_LINE);
        kb_report_release(&rep);
        kb_bounce_release(&b);
        free(g.s);
    }
    /* a 1 MB line without a line break */
    struct gen g = {0};
    g.s = malloc((1u << 20) + 1);
    memset(g.s, 'a', 1u << 20);
    g.n = 1u << 20;
    g.s[g.n] = '\0';
    struct kb_report rep;
    struct kb_bounce b;
    read_generated("1 MB line", &g, &rep, &b, WORK_PER_LINE);
    CHECK(b.mime.line_count == 1);
    CHECK(rep.format == NULL);
    kb_report_release(&rep);
    kb_bounce_release(&b);
    free(g.s);
}

static void test_quoted_printable(void)
{
    struct gen g = {0};
    put(&g, report_head);
    put(&g, "--R\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n"
            "<ida@example.com>: host mx.example.com[192.0.2.1] said: 550 5.7.1 policy =\n"
            "rejection; see https://example.com/?a=3Db&c=3Dd   \n"
            "=ZZ stays\n\n--R--\n");
    struct kb_report rep;
    struct kb_bounce b;
    read_generated("quoted-printable", &g, &rep, &b, WORK_PER_LINE);
    CHECK(holds(b.mime.text, b.mime.len,
                "550 5.7.1 policy rejection; see "
                "https://example.com/?a=b&c=d\n"));
    CHECK(holds(b.mime.text, b.mime.len, "=ZZ stays"));
    CHECK(rep.recipient_count == 1);
    if (rep.recipient_count) {
        CHECK_STR(rep.recipients[0].remote_mta, "mx.example.com");
        CHECK_STR(rep.recipients[0].status, "5.7.1");
        CHECK(rep.recipients[0].line == 10); /* the soft-broken line starts on input line 10 */
    }
    kb_report_release(&rep);
    kb_bounce_release(&b);
    free(g.s);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_bounce SAMPLES_DIR\n");
        return 2;
    }
    size_t samples = run_samples(argv[1]);
    CHECK(samples >= 20);
    test_no_closing_boundary();
    test_truncated_base64();
    test_big_attachment();
    test_big_returned_text();
    test_many_parts();
    test_deep_nesting();
    test_many_recipients();
    test_odd_inputs();
    test_quoted_printable();
    printf("%zu samples\n", samples);
    return check_report("test_bounce");
}
