/*
 * kb_mime.c - the MIME structure of a pasted message, for the bounce reader (kb_bounce.c).
 *
 * A bounce pasted as its source is a MIME message: a multipart/report whose parts are the
 * mail system's explanation, the message/delivery-status fields and the returned original,
 * each part possibly quoted-printable or base64, the explanation sometimes only in HTML. This
 * file reads that structure from the real headers (Content-Type with its boundary, nested
 * multiparts, message/rfc822 inside and outside a report) and makes the text the later stages
 * read: encoded parts decoded, HTML reduced to its text, attachments that are not text left
 * out, every line of the result mapped back to the input line it came from and marked with the
 * kind of part it belongs to. When nothing needs decoding the text is the input itself.
 *
 * Malformed input is the rule in pastes (a boundary never closed, base64 cut short, headers
 * folded, CRLF): every such case gives a result, and the work is linear in the input: each
 * line is visited once per level of nesting, nesting is capped, decoding never grows the text.
 */
#include <stdlib.h>
#include <string.h>

#include "kb_internal.h"

/* Nesting deeper than this is read as opaque (never read as text). */
#define MAX_DEPTH 24
/* A folded header value is read up to this many bytes (Content-Type and its parameters). */
#define MAX_HEADER 4096
/* A boundary longer than this is not one (RFC 2046 allows 70 characters). */
#define MAX_BOUNDARY 200

enum cte { CTE_NONE = 0, CTE_BASE64, CTE_QP };

/* A run of input lines and what becomes of it in the text. */
struct seg {
    size_t a, b; /* input lines [a, b) */
    unsigned char kind;
    unsigned char cte;
    unsigned char html; /* reduce HTML to its text */
    unsigned char drop; /* leave out of the text (an attachment that is not text) */
    unsigned char attached;
    uint32_t part;
};

struct ctx {
    int depth;
    int in_report;      /* a direct part of a multipart/report */
    int returned;       /* inside the returned original */
    int digest;         /* a part of multipart/digest: message/rfc822 by default */
    int report_implied; /* headerless multipart of a pasted report body */
};

struct parser {
    const char *in;
    size_t len;
    uint32_t *ls; /* [n + 1] start of each input line */
    size_t n;
    struct seg *segs;
    size_t seg_count, seg_alloc;
    uint32_t parts;
    unsigned char attached; /* depth of messages attached outside a report, now */
    struct kb_buf value;    /* an unfolded header value */
    struct kb_mime *out;
    enum kb_status st;
};

struct span {
    const char *s;
    size_t n;
};

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int eq_caseless(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return 0;
    for (size_t i = 0; i < m; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return 0;
    return 1;
}

/* Does s[0, n) start with lit (lit lowercase)? */
static int starts_caseless(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n < m)
        return 0;
    for (size_t i = 0; i < m; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return 0;
    return 1;
}

/* Does s[0, n) contain lit (lit lowercase)? */
static int contains_caseless(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    for (size_t i = 0; i + m <= n; i++)
        if (lower((unsigned char)s[i]) == (unsigned char)lit[0]
            && starts_caseless(s + i, n - i, lit))
            return 1;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Input line i without its line break (LF, CRLF). */
static struct span in_line(const struct parser *p, size_t i)
{
    size_t s = p->ls[i], e = p->ls[i + 1];
    while (e > s && (p->in[e - 1] == '\n' || p->in[e - 1] == '\r'))
        e--;
    return (struct span){p->in + s, e - s};
}

static int is_blank(struct span l)
{
    for (size_t i = 0; i < l.n; i++)
        if (!is_space(l.s[i]))
            return 0;
    return 1;
}

/* Length of the field name of a header line "Name: value" (RFC 5322: printable, no space,
 * no colon), 0 when the line is not one. */
static size_t header_name_len(struct span l)
{
    size_t i = 0;
    while (i < l.n && l.s[i] > ' ' && l.s[i] < 0x7f && l.s[i] != ':')
        i++;
    return i > 0 && i < l.n && l.s[i] == ':' ? i : 0;
}

/* The fields of a message's own header block (what tells a pasted message from text with a
 * colon in it) and the fields of a delivery-status part (which are no message's headers). */
static const char *const message_fields[] = {"from",
                                             "to",
                                             "cc",
                                             "subject",
                                             "date",
                                             "received",
                                             "return-path",
                                             "message-id",
                                             "mime-version",
                                             "content-type",
                                             "delivered-to",
                                             "reply-to",
                                             "sender",
                                             "auto-submitted",
                                             "x-failed-recipients",
                                             "in-reply-to",
                                             "references",
                                             "x-mailer",
                                             "content-transfer-encoding",
                                             "dkim-signature",
                                             "authentication-results",
                                             "arc-seal",
                                             "x-original-to",
                                             "thread-topic",
                                             "thread-index",
                                             "precedence",
                                             "importance",
                                             "x-ms-exchange-organization-scl"};

static const char *const status_fields[] = {
    "final-recipient",   "original-recipient", "action",           "status",
    "diagnostic-code",   "reporting-mta",      "remote-mta",       "arrival-date",
    "last-attempt-date", "received-from-mta",  "will-retry-until", "x-postfix-queue-id"};

static int name_in(struct span l, size_t name_len, const char *const *list, size_t count)
{
    for (size_t k = 0; k < count; k++)
        if (eq_caseless(l.s, name_len, list[k]))
            return 1;
    return 0;
}

static int is_message_field(struct span l, size_t name_len)
{
    return name_in(l, name_len, message_fields, sizeof message_fields / sizeof *message_fields);
}

int kb_mime_is_status_field(const char *s, size_t n)
{
    struct span l = {s, n};
    size_t name_len = header_name_len(l);
    return name_len
           && name_in(l, name_len, status_fields, sizeof status_fields / sizeof *status_fields)
           && !eq_caseless(s, name_len, "status") && !eq_caseless(s, name_len, "action");
}

int kb_mime_is_message_field(const char *s, size_t n)
{
    struct span l = {s, n};
    size_t name_len = header_name_len(l);
    return name_len && is_message_field(l, name_len);
}

/* Room for one more run; 0, or -1 when out of memory. */
static int grow_segs(struct parser *p)
{
    if (p->seg_count < p->seg_alloc)
        return 0;
    size_t na = p->seg_alloc ? p->seg_alloc * 2 : 64;
    struct seg *v = realloc(p->segs, na * sizeof *v);
    if (!v)
        return -1;
    p->segs = v;
    p->seg_alloc = na;
    return 0;
}

static void add_seg(struct parser *p, size_t a, size_t b, unsigned char kind)
{
    if (a >= b || p->st != KB_OK)
        return;
    /* runs of the same kind merge: a message of 10,000 parts is not 30,000 runs */
    if (p->seg_count) {
        struct seg *last = &p->segs[p->seg_count - 1];
        if (last->b == a && last->kind == kind && !last->cte && !last->html && !last->drop
            && last->part == p->parts && last->attached == p->attached) {
            last->b = b;
            return;
        }
    }
    if (grow_segs(p)) {
        p->st = KB_ERR_NOMEM;
        return;
    }
    p->segs[p->seg_count++] =
        (struct seg){.a = a, .b = b, .kind = kind, .part = p->parts, .attached = p->attached};
}

static void add_body(struct parser *p, size_t a, size_t b, unsigned char kind, enum cte cte,
                     int html, int drop)
{
    if (a >= b || p->st != KB_OK)
        return;
    if (drop)
        p->out->dropped = 1;
    else if (cte != CTE_NONE || html)
        p->out->decoded = 1;
    if (!cte && !html && !drop) {
        add_seg(p, a, b, kind);
        return;
    }
    if (grow_segs(p)) {
        p->st = KB_ERR_NOMEM;
        return;
    }
    p->segs[p->seg_count++] = (struct seg){.a = a,
                                           .b = b,
                                           .kind = kind,
                                           .cte = (unsigned char)cte,
                                           .html = (unsigned char)html,
                                           .drop = (unsigned char)drop,
                                           .part = p->parts,
                                           .attached = p->attached};
}

/* ---- headers ----------------------------------------------------------------------------- */

struct ctype {
    char type[24];    /* lowercase "text", "multipart", ... ("" when no Content-Type) */
    char subtype[40]; /* lowercase */
    char boundary[MAX_BOUNDARY + 1];
    char report_type[40]; /* lowercase */
    enum cte cte;
};

/* Copies the parameter name= of a Content-Type value into out (size bytes), unquoted;
 * lowercased when fold. 1 when found. */
static int ct_param(const char *v, size_t n, const char *name, char *out, size_t size, int fold)
{
    size_t m = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (v[i] != ';')
            continue;
        size_t k = i + 1;
        while (k < n && (is_space(v[k]) || v[k] == '\n'))
            k++;
        if (n - k <= m || !starts_caseless(v + k, n - k, name) || v[k + m] != '=')
            continue;
        k += m + 1;
        int quoted = k < n && v[k] == '"';
        k += (size_t)quoted;
        size_t e = k;
        while (e < n && (quoted ? v[e] != '"' : (v[e] != ';' && !is_space(v[e]))))
            e++;
        if (e == k || e - k >= size)
            return 0;
        for (size_t j = k; j < e; j++)
            out[j - k] = fold ? (char)lower((unsigned char)v[j]) : v[j];
        out[e - k] = '\0';
        return 1;
    }
    return 0;
}

static void parse_content_type(const char *v, size_t n, struct ctype *ct)
{
    size_t i = 0;
    while (i < n && is_space(v[i]))
        i++;
    size_t t = i;
    while (i < n && v[i] != '/' && v[i] != ';' && !is_space(v[i]))
        i++;
    if (i >= n || v[i] != '/' || i - t >= sizeof ct->type)
        return;
    size_t s = i + 1, e = s;
    while (e < n && v[e] != ';' && !is_space(v[e]))
        e++;
    if (e - s >= sizeof ct->subtype)
        return;
    for (size_t k = t; k < i; k++)
        ct->type[k - t] = (char)lower((unsigned char)v[k]);
    ct->type[i - t] = '\0';
    for (size_t k = s; k < e; k++)
        ct->subtype[k - s] = (char)lower((unsigned char)v[k]);
    ct->subtype[e - s] = '\0';
    ct_param(v, n, "boundary", ct->boundary, sizeof ct->boundary, 0);
    ct_param(v, n, "report-type", ct->report_type, sizeof ct->report_type, 1);
}

static enum cte parse_cte(const char *v, size_t n)
{
    while (n && is_space(*v)) {
        v++;
        n--;
    }
    while (n && (is_space(v[n - 1]) || v[n - 1] == ';'))
        n--;
    if (eq_caseless(v, n, "base64"))
        return CTE_BASE64;
    if (eq_caseless(v, n, "quoted-printable"))
        return CTE_QP;
    return CTE_NONE;
}

/* The value of the header at line i with its continuation lines, unfolded into p->value
 * (capped). Returns the line after it. */
static size_t unfold(struct parser *p, size_t i, size_t b, size_t name_len)
{
    kb_buf_reset(&p->value);
    struct span l = in_line(p, i);
    size_t cap = MAX_HEADER;
    size_t take = l.n - name_len - 1 < cap ? l.n - name_len - 1 : cap;
    if (kb_buf_append(&p->value, l.s + name_len + 1, take) != KB_OK)
        p->st = KB_ERR_NOMEM;
    for (i++; i < b; i++) {
        struct span c = in_line(p, i);
        if (!c.n || !is_space(c.s[0]) || is_blank(c))
            break;
        p->out->work++;
        if (p->value.len + c.n + 1 <= cap && p->st == KB_OK
            && (kb_buf_append_char(&p->value, ' ') != KB_OK
                || kb_buf_append(&p->value, c.s, c.n) != KB_OK))
            p->st = KB_ERR_NOMEM;
    }
    return i;
}

/* Reads the header block at line a: Content-Type and Content-Transfer-Encoding into ct.
 * Returns the first line of the body (after the blank line that ends the block, or at the
 * first line that is no header). */
static size_t read_headers(struct parser *p, size_t a, size_t b, struct ctype *ct)
{
    size_t i = a;
    while (i < b) {
        struct span l = in_line(p, i);
        p->out->work++;
        if (is_blank(l))
            return i + 1;
        size_t name_len = header_name_len(l);
        if (!name_len) {
            if (i > a && is_space(l.s[0])) { /* a stray continuation */
                i++;
                continue;
            }
            if (i == a && starts_caseless(l.s, l.n, "from ")) { /* an mbox separator */
                i++;
                continue;
            }
            return i;
        }
        if (eq_caseless(l.s, name_len, "content-type")) {
            size_t next = unfold(p, i, b, name_len);
            if (!ct->type[0])
                parse_content_type(p->value.data ? p->value.data : "", p->value.len, ct);
            i = next;
        } else if (eq_caseless(l.s, name_len, "content-transfer-encoding")) {
            size_t next = unfold(p, i, b, name_len);
            ct->cte = parse_cte(p->value.data ? p->value.data : "", p->value.len);
            i = next;
        } else {
            i++;
        }
    }
    return b;
}

/* Does a message's header block start at line i (the paste's own top, or a part)? For the top
 * of a paste: at least two header lines of which one is a message field, and no field of a
 * delivery-status part (delivery-status fields pasted alone are the failure, not headers). */
static int headers_at(const struct parser *p, size_t i, size_t b, int strict)
{
    size_t lines = 0, known = 0;
    if (i < b && starts_caseless(in_line(p, i).s, in_line(p, i).n, "from ")
        && !header_name_len(in_line(p, i)))
        i++; /* mbox "From sender date" line */
    for (; i < b && lines < 64; i++) {
        struct span l = in_line(p, i);
        if (is_blank(l))
            break;
        size_t name_len = header_name_len(l);
        if (!name_len) {
            if (lines && is_space(l.s[0]))
                continue;
            break;
        }
        if (name_in(l, name_len, status_fields, sizeof status_fields / sizeof *status_fields)
            && !eq_caseless(l.s, name_len, "status") && !eq_caseless(l.s, name_len, "action"))
            return 0; /* ("Status:" is also a mailbox file's header) */
        lines++;
        known += (size_t)is_message_field(l, name_len);
    }
    if (!strict)
        return lines > 0;
    return known >= 1 && lines >= 2;
}

/* Is input line i a delimiter of boundary? 1: a delimiter, 2: the closing one. */
static int delimiter(const struct parser *p, size_t i, const char *boundary, size_t blen)
{
    size_t s = p->ls[i], e = p->ls[i + 1];
    if (e - s < blen + 2 || p->in[s] != '-' || p->in[s + 1] != '-'
        || memcmp(p->in + s + 2, boundary, blen) != 0)
        return 0;
    struct span l = in_line(p, i);
    size_t k = blen + 2;
    int close = 0;
    if (l.n >= k + 2 && l.s[k] == '-' && l.s[k + 1] == '-') {
        close = 1;
        k += 2;
    }
    for (; k < l.n; k++)
        if (!is_space(l.s[k]))
            return 0;
    return close ? 2 : 1;
}

/* A boundary seen in the body itself: "--X" followed by a part header. NULL when none. */
static size_t infer_boundary(const struct parser *p, size_t a, size_t b, char *out)
{
    for (size_t i = a; i + 1 < b; i++) {
        struct span l = in_line(p, i);
        if (l.n < 3 || l.n - 2 > MAX_BOUNDARY || l.s[0] != '-' || l.s[1] != '-')
            continue;
        struct span next = in_line(p, i + 1);
        size_t name_len = header_name_len(next);
        if (!name_len || !starts_caseless(next.s, name_len, "content-"))
            continue;
        size_t n = l.n - 2;
        int ok = 1;
        for (size_t k = 2; k < l.n; k++)
            ok &= l.s[k] > ' ' && l.s[k] < 0x7f;
        if (!ok)
            continue;
        memcpy(out, l.s + 2, n);
        out[n] = '\0';
        return i;
    }
    return b;
}

static void parse_entity(struct parser *p, size_t a, size_t b, struct ctx c);

/* The parts of a multipart body [a, b) with this boundary, each read as an entity; the
 * preamble and epilogue are not read. Each line is looked at once here. */
static void parse_multipart(struct parser *p, size_t a, size_t b, const char *boundary,
                            const struct ctype *ct, struct ctx c)
{
    size_t blen = strlen(boundary);
    struct ctx child = {.depth = c.depth + 1, .returned = c.returned};
    int report = strcmp(ct->subtype, "report") == 0 || c.report_implied;
    int alternative = strcmp(ct->subtype, "alternative") == 0;
    child.in_report = report;
    child.digest = strcmp(ct->subtype, "digest") == 0;
    if (report) {
        if (strcmp(ct->report_type, "delivery-status") == 0
            || strcmp(ct->report_type, "global-delivery-status") == 0)
            p->out->report_type = KB_MIME_REPORT_DELIVERY;
        else if (strcmp(ct->report_type, "feedback-report") == 0)
            p->out->report_type = KB_MIME_REPORT_FEEDBACK;
        else if (strcmp(ct->report_type, "disposition-notification") == 0)
            p->out->report_type = KB_MIME_REPORT_DISPOSITION;
    }
    size_t start = b; /* first line of the open part, b when none is open */
    int read_one = 0; /* multipart/alternative: a rendering has been read */
    size_t i = a;
    for (; i < b && p->st == KB_OK; i++) {
        p->out->work++;
        int d = delimiter(p, i, boundary, blen);
        if (!d)
            continue;
        if (start == b) {
            add_seg(p, a, i, KB_PART_OTHER); /* preamble */
        } else if (alternative && read_one) {
            p->parts++;
            add_body(p, start, i, KB_PART_OTHER, CTE_NONE, 0, 1);
        } else {
            p->parts++;
            size_t before = p->seg_count;
            parse_entity(p, start, i, child);
            /* a rendering read as text ends the choice among the alternatives */
            for (size_t k = before; k < p->seg_count; k++)
                read_one |= p->segs[k].kind == KB_PART_TEXT && !p->segs[k].drop;
        }
        add_seg(p, i, i + 1, c.returned ? KB_PART_RETURNED : KB_PART_HEADERS);
        start = i + 1;
        if (d == 2) {
            add_seg(p, i + 1, b, KB_PART_OTHER); /* epilogue */
            return;
        }
    }
    if (start == b) {
        /* no delimiter at all: the body is read as text */
        add_body(p, a, b, c.returned ? KB_PART_RETURNED : KB_PART_TEXT, CTE_NONE, 0, 0);
        return;
    }
    /* never closed: the last part runs to the end */
    p->parts++;
    if (alternative && read_one)
        add_body(p, start, b, KB_PART_OTHER, CTE_NONE, 0, 1);
    else
        parse_entity(p, start, b, child);
}

/* One entity (a message or a part) on input lines [a, b). */
static void parse_entity(struct parser *p, size_t a, size_t b, struct ctx c)
{
    if (a >= b || p->st != KB_OK)
        return;
    struct ctype ct = {.cte = CTE_NONE};
    size_t body = a;
    unsigned char head_kind = c.returned ? KB_PART_RETURNED : KB_PART_HEADERS;
    if (headers_at(p, a, b, 0) || is_blank(in_line(p, a))) {
        body = read_headers(p, a, b, &ct);
        add_seg(p, a, body, head_kind);
    }
    if (!ct.type[0]) {
        strcpy(ct.type, c.digest ? "message" : "text");
        strcpy(ct.subtype, c.digest ? "rfc822" : "plain");
    }
    if (body >= b)
        return;
    unsigned char text_kind = c.returned ? KB_PART_RETURNED : KB_PART_TEXT;
    if (c.depth >= MAX_DEPTH) {
        add_body(p, body, b, c.returned ? KB_PART_RETURNED : KB_PART_OTHER, CTE_NONE, 0, 0);
        return;
    }
    if (strcmp(ct.type, "multipart") == 0) {
        char inferred[MAX_BOUNDARY + 1];
        const char *boundary = ct.boundary;
        if (!boundary[0]) {
            size_t at = infer_boundary(p, body, b, inferred);
            boundary = at < b ? inferred : NULL;
        }
        if (boundary)
            parse_multipart(p, body, b, boundary, &ct, c);
        else
            add_body(p, body, b, text_kind, CTE_NONE, 0, 0);
        return;
    }
    if (strcmp(ct.type, "message") == 0
        && (strcmp(ct.subtype, "rfc822") == 0 || strcmp(ct.subtype, "global") == 0
            || strcmp(ct.subtype, "news") == 0)) {
        /* In a report it is the returned original; elsewhere a message forwarded as an
         * attachment, read like the paste itself (it may be the report). */
        struct ctx inner = {.depth = c.depth + 1, .returned = c.returned || c.in_report};
        if (inner.returned)
            p->out->returned = 1;
        p->parts++;
        /* which it is when not in a report, the report reader tells: the original a bounce
         * without delivery-status parts returns, or the bounce a user forwards */
        unsigned char outer = p->attached;
        if (!inner.returned && p->attached < 255)
            p->attached++;
        parse_entity(p, body, b, inner);
        p->attached = outer;
        return;
    }
    if (strstr(ct.subtype, "rfc822-headers") || strcmp(ct.subtype, "global-headers") == 0) {
        p->out->returned = 1;
        add_body(p, body, b, KB_PART_RETURNED, ct.cte, 0, 0);
        return;
    }
    if (strcmp(ct.type, "message") == 0 && strstr(ct.subtype, "delivery-status")) {
        p->out->status_part = 1;
        add_body(p, body, b, c.returned ? KB_PART_RETURNED : KB_PART_STATUS, ct.cte, 0, 0);
        return;
    }
    if (strcmp(ct.type, "message") == 0
        && (strstr(ct.subtype, "disposition-notification")
            || strcmp(ct.subtype, "feedback-report") == 0)) {
        if (!c.returned)
            p->out->report_type = strcmp(ct.subtype, "feedback-report") == 0
                                      ? KB_MIME_REPORT_FEEDBACK
                                      : KB_MIME_REPORT_DISPOSITION;
        add_body(p, body, b, c.returned ? KB_PART_RETURNED : KB_PART_NOTICE, ct.cte, 0, 0);
        return;
    }
    if (strcmp(ct.type, "text") == 0) {
        int html = strcmp(ct.subtype, "html") == 0;
        add_body(p, body, b, text_kind, ct.cte, html, 0);
        return;
    }
    /* images, PDFs, archives, other message types: nothing in them is the failure */
    add_body(p, body, b, text_kind, CTE_NONE, 0, 1);
}

/* Where the message starts when the paste does not start with it: the first header block
 * that declares a multipart (prose before a pasted source). b when none. */
static size_t find_message_start(const struct parser *p, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++) {
        struct span l = in_line(p, i);
        size_t name_len = header_name_len(l);
        if (!name_len || !is_message_field(l, name_len))
            continue;
        size_t k = i;
        int multipart = 0;
        for (; k < b && k < i + 64; k++) {
            struct span h = in_line(p, k);
            size_t hn = header_name_len(h);
            if (!hn && !(k > i && h.n && is_space(h.s[0])))
                break;
            if (hn && eq_caseless(h.s, hn, "content-type") && h.n > hn + 1) {
                const char *v = h.s + hn + 1;
                size_t vn = h.n - hn - 1;
                while (vn && is_space(*v))
                    v++, vn--;
                multipart |= starts_caseless(v, vn, "multipart/");
            }
        }
        if (multipart && headers_at(p, i, b, 1))
            return i;
        if (k > i + 1)
            i = k - 1; /* this block was looked at whole */
    }
    return b;
}

/* ---- the text: decoding, HTML, the line map ---------------------------------------------- */

struct sink {
    struct kb_buf text;
    struct kb_mime *out;
    uint32_t *input_line; /* per output line: 1-based input line */
    size_t *kind_part;    /* per output line: kind | attached << 8 | part << 16 */
    uint32_t *starts;     /* per output line: where it starts in text (and one more entry) */
    size_t lines, alloc;
    size_t cur_input;   /* input line of the line being built */
    size_t cur_start;   /* where it starts in text */
    int line_open;      /* bytes were added since the last line break */
    unsigned char kind; /* of the current segment */
    unsigned char attached;
    uint32_t part;
    /* HTML reduction */
    int html, in_tag, skip;
    char tag[12];
    size_t tag_len;
    char ent[10];
    size_t ent_len;
    int in_ent;
    enum kb_status st;
};

static void sink_end_line(struct sink *s)
{
    if (s->st != KB_OK)
        return;
    if (s->lines == s->alloc) {
        size_t na = s->alloc ? s->alloc * 2 : 256;
        uint32_t *il = realloc(s->input_line, na * sizeof *il);
        if (il)
            s->input_line = il;
        size_t *kp = il ? realloc(s->kind_part, na * sizeof *kp) : NULL;
        if (kp)
            s->kind_part = kp;
        uint32_t *st = kp ? realloc(s->starts, (na + 1) * sizeof *st) : NULL;
        if (!st) {
            s->st = KB_ERR_NOMEM;
            return;
        }
        s->starts = st;
        s->alloc = na;
    }
    if (s->cur_start > KB_TEXT_MAX) { /* (decoding never grows a text this much) */
        s->st = KB_ERR_TOO_LARGE;
        return;
    }
    s->starts[s->lines] = (uint32_t)s->cur_start;
    s->input_line[s->lines] = (uint32_t)s->cur_input;
    s->kind_part[s->lines] = (size_t)s->kind | ((size_t)s->attached << 8) | ((size_t)s->part << 16);
    s->lines++;
    s->line_open = 0;
}

static void sink_raw(struct sink *s, char c, size_t input_line)
{
    if (s->st != KB_OK)
        return;
    if (!s->line_open) {
        s->cur_input = input_line;
        s->cur_start = s->text.len;
        s->line_open = 1;
    }
    if (kb_buf_append_char(&s->text, c) != KB_OK) {
        s->st = KB_ERR_NOMEM;
        return;
    }
    if (c == '\n')
        sink_end_line(s);
}

static void html_tag_done(struct sink *s, size_t input_line)
{
    char name[sizeof s->tag];
    size_t n = 0;
    int closing = s->tag_len && s->tag[0] == '/';
    for (size_t i = closing; i < s->tag_len && n + 1 < sizeof name; i++)
        name[n++] = (char)lower((unsigned char)s->tag[i]);
    name[n] = '\0';
    if (strcmp(name, "style") == 0 || strcmp(name, "script") == 0 || strcmp(name, "head") == 0)
        s->skip = !closing;
    static const char *const block[] = {"br", "p",  "div", "tr", "li",    "h1",        "h2",
                                        "h3", "h4", "h5",  "h6", "table", "blockquote"};
    for (size_t k = 0; k < sizeof block / sizeof *block; k++)
        if (strcmp(name, block[k]) == 0) {
            if (s->line_open)
                sink_raw(s, '\n', input_line);
            return;
        }
    if ((strcmp(name, "td") == 0 || strcmp(name, "th") == 0) && !closing && s->line_open)
        sink_raw(s, ' ', input_line);
}

static void html_entity_done(struct sink *s, size_t input_line)
{
    static const struct {
        const char *name;
        char c;
    } known[] = {{"nbsp", ' '}, {"amp", '&'},   {"lt", '<'},   {"gt", '>'},
                 {"quot", '"'}, {"apos", '\''}, {"#39", '\''}, {"#160", ' '}};
    s->ent[s->ent_len] = '\0';
    for (size_t k = 0; k < sizeof known / sizeof *known; k++)
        if (strcmp(s->ent, known[k].name) == 0) {
            sink_raw(s, known[k].c, input_line);
            return;
        }
    if (s->ent[0] == '#' && s->ent_len > 1) {
        long v = strtol(s->ent + 1, NULL, 10);
        if (v >= 32 && v < 127) {
            sink_raw(s, (char)v, input_line);
            return;
        }
    }
    sink_raw(s, '&', input_line);
    for (size_t k = 0; k < s->ent_len; k++)
        sink_raw(s, s->ent[k], input_line);
    sink_raw(s, ';', input_line);
}

/* One byte of a part's content: through the HTML reduction when the part is HTML. */
static void sink_byte(struct sink *s, char c, size_t input_line)
{
    if (!s->html) {
        sink_raw(s, c, input_line);
        return;
    }
    if (s->in_tag) {
        if (c == '>') {
            s->in_tag = 0;
            html_tag_done(s, input_line);
        } else if (s->tag_len < sizeof s->tag - 1 && c != ' ' && c != '\n' && c != '\t'
                   && !(s->tag_len && (c == '/' || c == '"'))) {
            s->tag[s->tag_len++] = c;
        } else if (s->tag_len < sizeof s->tag - 1) {
            s->tag[s->tag_len] = '\0';
            s->tag_len = sizeof s->tag - 1; /* the name is complete */
        }
        return;
    }
    if (c == '<') {
        s->in_tag = 1;
        s->tag_len = 0;
        return;
    }
    if (s->skip)
        return;
    if (s->in_ent) {
        if (c == ';') {
            s->in_ent = 0;
            html_entity_done(s, input_line);
            return;
        }
        if (s->ent_len < sizeof s->ent - 1 && c != ' ' && c != '\n' && c != '&') {
            s->ent[s->ent_len++] = c;
            return;
        }
        s->in_ent = 0; /* not an entity: as written */
        sink_raw(s, '&', input_line);
        for (size_t k = 0; k < s->ent_len; k++)
            sink_raw(s, s->ent[k], input_line);
    }
    if (c == '&') {
        s->in_ent = 1;
        s->ent_len = 0;
        return;
    }
    if (c == '\r')
        return;
    sink_raw(s, c, input_line);
}

/* Bytes of a part's content, n of them: runs between line breaks appended at once (the
 * common case: most of a large paste is a returned original's text). */
static void sink_bytes(struct sink *s, const char *bytes, size_t n, size_t input_line)
{
    if (s->html) {
        for (size_t k = 0; k < n; k++)
            sink_byte(s, bytes[k], input_line);
        return;
    }
    while (n && s->st == KB_OK) {
        const char *nl = memchr(bytes, '\n', n);
        size_t run = nl ? (size_t)(nl - bytes) : n;
        if (run) {
            if (!s->line_open) {
                s->cur_input = input_line;
                s->cur_start = s->text.len;
                s->line_open = 1;
            }
            if (kb_buf_append(&s->text, bytes, run) != KB_OK)
                s->st = KB_ERR_NOMEM;
        }
        if (!nl)
            return;
        sink_raw(s, '\n', input_line);
        bytes += run + 1;
        n -= run + 1;
    }
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes the base64 body on input lines [a, b): bytes go to the sink as they come, each
 * attributed to the line it was decoded from. A body cut short gives what it holds. */
static void decode_base64(struct parser *p, struct sink *s, size_t a, size_t b)
{
    unsigned acc = 0;
    int bits = 0, done = 0;
    char out[96];
    for (size_t i = a; i < b && !done && s->st == KB_OK; i++) {
        struct span l = in_line(p, i);
        p->out->work++;
        size_t n = 0;
        for (size_t k = 0; k < l.n; k++) {
            if (l.s[k] == '=') {
                done = 1; /* padding: the data ends here */
                break;
            }
            int v = b64_value((unsigned char)l.s[k]);
            if (v < 0)
                continue;
            acc = (acc << 6) | (unsigned)v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                out[n++] = (char)((acc >> bits) & 0xff);
                if (n == sizeof out) {
                    sink_bytes(s, out, n, i + 1);
                    n = 0;
                }
            }
        }
        sink_bytes(s, out, n, i + 1);
        p->out->decoded_bytes += n;
    }
    if (s->line_open) /* (not through the HTML reduction: a tag may still be open) */
        sink_raw(s, '\n', b);
}

/* Decodes the quoted-printable body on input lines [a, b). */
static void decode_qp(struct parser *p, struct sink *s, size_t a, size_t b)
{
    for (size_t i = a; i < b && s->st == KB_OK; i++) {
        struct span l = in_line(p, i);
        p->out->work++;
        size_t n = l.n;
        while (n && is_space(l.s[n - 1]))
            n--; /* RFC 2045: trailing white space is not data */
        int soft = 0;
        for (size_t k = 0; k < n; k++) {
            if (l.s[k] != '=') {
                const char *eq = memchr(l.s + k, '=', n - k);
                size_t run = eq ? (size_t)(eq - (l.s + k)) : n - k;
                sink_bytes(s, l.s + k, run, i + 1);
                k += run - 1;
                continue;
            }
            if (k + 1 == n) {
                soft = 1;
                break;
            }
            int h = k + 2 < n ? hex_value((unsigned char)l.s[k + 1]) : -1;
            int lo = k + 2 < n ? hex_value((unsigned char)l.s[k + 2]) : -1;
            if (h >= 0 && lo >= 0) {
                sink_byte(s, (char)(h * 16 + lo), i + 1);
                p->out->decoded_bytes++;
                k += 2;
            } else {
                sink_byte(s, '=', i + 1);
            }
        }
        if (!soft)
            sink_byte(s, '\n', i + 1);
    }
    if (s->line_open) /* (not through the HTML reduction: a tag may still be open) */
        sink_raw(s, '\n', b);
}

/* Input lines [a, b) as they are (or through the HTML reduction). */
static void copy_lines(struct parser *p, struct sink *s, size_t a, size_t b)
{
    if (!s->html) {
        /* whole lines at once: the common case, and most of a large paste */
        size_t from = p->ls[a], to = p->ls[b], base = s->text.len;
        if (s->st == KB_OK && kb_buf_append(&s->text, p->in + from, to - from) != KB_OK)
            s->st = KB_ERR_NOMEM;
        for (size_t i = a; i < b && s->st == KB_OK; i++) {
            p->out->work++;
            s->cur_input = i + 1;
            s->cur_start = base + (p->ls[i] - from);
            sink_end_line(s);
        }
        if (s->st == KB_OK && to > from && p->in[to - 1] != '\n') {
            /* the input's last line has no line break: give it one */
            if (kb_buf_append_char(&s->text, '\n') != KB_OK)
                s->st = KB_ERR_NOMEM;
        }
        return;
    }
    for (size_t i = a; i < b && s->st == KB_OK; i++) {
        struct span l = in_line(p, i);
        p->out->work++;
        for (size_t k = 0; k < l.n; k++)
            sink_byte(s, l.s[k], i + 1);
        sink_byte(s, '\n', i + 1);
    }
    if (s->line_open) /* (not through the HTML reduction: a tag may still be open) */
        sink_raw(s, '\n', b);
}

/* Builds out->text when some part needs decoding or is left out. */
static enum kb_status build_text(struct parser *p)
{
    struct kb_mime *m = p->out;
    struct sink s = {.out = m};
    kb_buf_init(&s.text, 0);
    for (size_t k = 0; k < p->seg_count && s.st == KB_OK; k++) {
        const struct seg *g = &p->segs[k];
        if (g->drop)
            continue;
        if (s.line_open) /* the previous part's last line, as that part's */
            sink_raw(&s, '\n', g->a);
        s.kind = g->kind;
        s.attached = g->attached;
        s.part = g->part;
        s.html = g->html;
        s.in_tag = s.skip = s.in_ent = 0;
        if (g->cte == CTE_BASE64)
            decode_base64(p, &s, g->a, g->b);
        else if (g->cte == CTE_QP)
            decode_qp(p, &s, g->a, g->b);
        else
            copy_lines(p, &s, g->a, g->b);
    }
    if (s.line_open)
        sink_raw(&s, '\n', p->n);
    if (s.st == KB_OK && !s.text.data && kb_buf_append(&s.text, "", 0) != KB_OK)
        s.st = KB_ERR_NOMEM;
    if (s.st == KB_OK && !s.starts && !(s.starts = malloc(sizeof *s.starts)))
        s.st = KB_ERR_NOMEM;
    if (s.st == KB_OK && s.text.len > KB_TEXT_MAX)
        s.st = KB_ERR_TOO_LARGE;
    if (s.st == KB_OK) {
        /* every line ends in a line break: the lines the sink counted are the lines of the
         * text, as kb_norm_run will count them */
        m->line_count = s.lines;
        m->len = s.text.len;
        s.starts[s.lines] = (uint32_t)s.text.len;
        m->line_start = s.starts;
        s.starts = NULL;
        m->input_line = s.input_line;
        s.input_line = NULL;
        m->kind = malloc(s.lines ? s.lines : 1);
        m->attached = malloc(s.lines ? s.lines : 1);
        m->part = malloc((s.lines ? s.lines : 1) * sizeof *m->part);
        if (!m->kind || !m->attached || !m->part)
            s.st = KB_ERR_NOMEM;
        for (size_t i = 0; s.st == KB_OK && i < s.lines; i++) {
            m->kind[i] = (unsigned char)(s.kind_part[i] & 0xff);
            m->attached[i] = (unsigned char)((s.kind_part[i] >> 8) & 0xff);
            m->part[i] = (uint32_t)(s.kind_part[i] >> 16);
        }
    }
    if (s.st == KB_OK)
        s.st = kb_buf_detach(&s.text, &m->owned);
    if (s.st == KB_OK)
        m->text = m->owned;
    kb_buf_release(&s.text);
    free(s.input_line);
    free(s.kind_part);
    free(s.starts);
    return s.st;
}

/* The text is the input: kinds and parts from the runs, no map. */
static enum kb_status use_input(struct parser *p)
{
    struct kb_mime *m = p->out;
    m->text = p->in;
    m->len = p->len;
    m->line_count = p->n;
    /* zeroed (KB_PART_TEXT, not attached, no part), and only the segments that are something
     * else written: the pages of a plain paste of a million lines are never touched here */
    m->kind = calloc(p->n ? p->n : 1, 1);
    m->attached = calloc(p->n ? p->n : 1, 1);
    m->part = calloc(p->n ? p->n : 1, sizeof *m->part);
    if (!m->kind || !m->attached || !m->part)
        return KB_ERR_NOMEM;
    for (size_t k = 0; k < p->seg_count; k++) {
        const struct seg *g = &p->segs[k];
        if (g->kind == KB_PART_TEXT && !g->attached && !g->part)
            continue;
        for (size_t i = g->a; i < g->b; i++) {
            m->kind[i] = g->kind;
            m->attached[i] = g->attached;
            m->part[i] = g->part;
        }
    }
    return KB_OK;
}

/* Start offsets of the lines of m->text (as kb_norm_run counts lines). */
static enum kb_status index_lines(const char *text, size_t len, uint32_t **out, size_t *count)
{
    if (len > KB_TEXT_MAX)
        return KB_ERR_TOO_LARGE;
    size_t n = 0;
    /* the byte at q is tested before memchr is called: in a run of empty lines each is the
     * next line break, and a call per line cost more than the byte */
    for (const char *q = text, *end = text + len;
         q < end && (*q == '\n' || (q = memchr(q, '\n', (size_t)(end - q)))); q++)
        n++;
    if (len && text[len - 1] != '\n')
        n++;
    uint32_t *ls = malloc((n + 1) * sizeof *ls);
    if (!ls)
        return KB_ERR_NOMEM;
    size_t line = 0;
    ls[0] = 0;
    for (size_t i = 0; i < len && line + 1 < n; i++)
        if (text[i] == '\n')
            ls[++line] = (uint32_t)(i + 1);
    ls[n] = (uint32_t)len;
    *out = ls;
    *count = n;
    return KB_OK;
}

enum kb_status kb_mime_read(const char *input, size_t len, struct kb_mime *out)
{
    memset(out, 0, sizeof *out);
    struct parser p = {.in = input, .len = len, .out = out};
    kb_buf_init(&p.value, MAX_HEADER * 2);
    enum kb_status st = index_lines(input, len, &p.ls, &p.n);
    out->input_lines = p.n;
    if (st != KB_OK)
        goto done;
    out->work = p.n;
    size_t first = 0;
    while (first < p.n && is_blank(in_line(&p, first)))
        first++;
    add_seg(&p, 0, first, KB_PART_TEXT);
    if (first < p.n && headers_at(&p, first, p.n, 1)) {
        parse_entity(&p, first, p.n, (struct ctx){0});
    } else {
        size_t start = find_message_start(&p, first, p.n);
        char boundary[MAX_BOUNDARY + 1];
        if (start < p.n) {
            add_seg(&p, first, start, KB_PART_TEXT);
            parse_entity(&p, start, p.n, (struct ctx){0});
        } else if ((start = infer_boundary(&p, first, p.n, boundary)) < p.n) {
            /* the body of a multipart pasted without its headers; a report when a
             * delivery-status part is declared in it */
            struct ctype ct = {.cte = CTE_NONE};
            strcpy(ct.type, "multipart");
            strcpy(ct.subtype, "mixed");
            int report = 0;
            for (size_t i = start; i < p.n && !report; i++) {
                struct span l = in_line(&p, i);
                size_t hn = header_name_len(l);
                report = hn && eq_caseless(l.s, hn, "content-type")
                         && contains_caseless(l.s, l.n, "delivery-status");
            }
            add_seg(&p, first, start, KB_PART_TEXT);
            parse_multipart(&p, start, p.n, boundary, &ct, (struct ctx){.report_implied = report});
        } else {
            add_seg(&p, first, p.n, KB_PART_TEXT);
        }
    }
    if ((st = p.st) != KB_OK)
        goto done;
    out->parts = p.parts;
    if (out->decoded || out->dropped) {
        st = build_text(&p);
    } else {
        st = use_input(&p);
        if (st == KB_OK) {
            out->line_start = p.ls;
            p.ls = NULL;
        }
    }
done:
    free(p.ls);
    free(p.segs);
    kb_buf_release(&p.value);
    if (st != KB_OK)
        kb_mime_release(out);
    return st;
}

size_t kb_mime_input_line(const struct kb_mime *m, size_t line)
{
    if (!m->input_line || line == 0)
        return line;
    if (line > m->line_count)
        return m->input_lines;
    return m->input_line[line - 1];
}

void kb_mime_release(struct kb_mime *m)
{
    free(m->owned);
    free(m->line_start);
    free(m->input_line);
    free(m->kind);
    free(m->attached);
    free(m->part);
    memset(m, 0, sizeof *m);
}
