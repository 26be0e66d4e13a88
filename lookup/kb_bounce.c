/*
 * kb_bounce.c - reading what a pasted text is when it is a delivery report (a bounce).
 *
 * Once an application sends, the next thing a support agent gets is the bounce: the whole
 * "Undelivered Mail Returned to Sender" message, with the mail system's explanation, the
 * RFC 3464 delivery-status part and the returned original. Read as flat text it misleads: the
 * original's headers (Authentication-Results, X-Spam-Status, Received) are not the failure.
 * This stage recognises the report, marks which lines are the report's own headers and which
 * the returned original, and takes the report's facts (reporting MTA, per recipient: address,
 * action, status, remote MTA, diagnostic). It also tells messages that report no failure at
 * all: an automatic reply, a delivery notification, an abuse report, a read receipt.
 *
 * Only the formats are known here (RFC 3464, RFC 3462, RFC 3834, RFC 5965, RFC 8098, MIME, and
 * the wording the common mail systems put around their reports); which failure means which
 * cause is the articles' business.
 */
#include <stdlib.h>
#include <string.h>

#include "kb_internal.h"

/* Bounded work whatever the paste: boundaries remembered, recipients kept. */
#define MAX_BOUNDARIES 16
#define MAX_RECIPIENTS 64
#define MAX_FIELD 400

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Does s[0, n) start with lit (caseless)? Every line is tested against dozens of literals:
 * no strlen, the first differing byte ends the test. */
static int starts_caseless(const char *s, size_t n, const char *lit)
{
    for (size_t i = 0; lit[i]; i++)
        if (i >= n || lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
            return 0;
    return 1;
}

/* Does s[0, n) contain lit (caseless)? Jumps from one occurrence of lit's first character (in
 * either case) to the next, so a long line costs a memchr, not a test at every byte. */
static int contains_caseless(const char *s, size_t n, const char *lit)
{
    unsigned char first = lower((unsigned char)lit[0]);
    unsigned char upper = first >= 'a' && first <= 'z' ? (unsigned char)(first - 32) : first;
    /* the next occurrence of each case, found again only once passed; end when none is left */
    const char *end = s + n, *lo = NULL, *up = NULL;
    for (const char *p = s; p < end; p++) {
        if (!lo || lo < p)
            lo = (lo = memchr(p, first, (size_t)(end - p))) ? lo : end;
        if (!up || up < p)
            up = upper != first && (up = memchr(p, upper, (size_t)(end - p))) ? up : end;
        p = lo < up ? lo : up;
        if (p == end)
            return 0;
        if (starts_caseless(p, (size_t)(end - p), lit))
            return 1;
    }
    return 0;
}

/* The cues of the common report formats, most specific first. A text is a delivery report
 * when one of them occurs outside what it returns. */
struct format_cue {
    const char *format;
    const char *text;
};

static const struct format_cue format_cues[] = {
    {"postfix", "This is the mail system at host"},
    {"exim", "This message was created automatically by mail delivery software"},
    {"qmail", "This is the qmail-send program"},
    {"courier", "running the Courier mail server"},
    {"sendmail", "The following addresses had permanent fatal errors"},
    {"sendmail", "Transcript of session follows"},
    {"exchange", "Diagnostic information for administrators"},
    {"exchange", "Delivery has failed to these recipients or groups"},
    {"exchange", "Remote Server returned '"},
    {"gmail", "The response from the remote server was:"},
    {"gmail", "The error that the other server returned was:"},
    {"gmail", "Delivery Status Notification (Failure)"},
    {"gmail", "Delivery Status Notification (Delay)"},
    {"yahoo", "Sorry, we were unable to deliver your message to the following address"},
    {"domino", "Your message was not delivered to"},
    {"rfc3464", "message/delivery-status"},
    {"rfc3464", "report-type=delivery-status"},
    {"generic", "Undelivered Mail Returned to Sender"},
    {"generic", "Mail delivery failed"},
    {"generic", "Returned mail: "},
    {"generic", "Undeliverable: "},
    {"generic", "Mail System Error - Returned Mail"},
    {"generic", "Delivery Status Notification"},
    {"generic", "Delivery Notification: Delivery has failed"},
    {"generic", "failure notice"},
    {"generic", "Nondeliverable mail"},
    {"generic", "could not be delivered to one or more"},
};

/* Lines after which the report returns the original message (formats without MIME). */
static const char *const returned_markers[] = {
    "This is a copy of the message",
    "Below this line is a copy of the message",
    "Original message follows",
    "Original message headers:",
    "Unsent message follows",
    "Undelivered message headers follow",
    "Message headers follow",
    "The header of the original message",
    "Headers of the original message",
    "Copy of the original message",
    "Returned message",
    "Original message",
    "Original Message-----",
};

/* RFC 3464 fields of one recipient. */
enum field {
    F_NONE,
    F_FINAL_RECIPIENT,
    F_ORIGINAL_RECIPIENT,
    F_ACTION,
    F_STATUS,
    F_REMOTE_MTA,
    F_DIAGNOSTIC,
    F_REPORTING_MTA
};

struct field_name {
    const char *name;
    enum field field;
};

static const struct field_name fields[] = {
    {"Final-Recipient:", F_FINAL_RECIPIENT},
    {"Original-Recipient:", F_ORIGINAL_RECIPIENT},
    {"Action:", F_ACTION},
    {"Status:", F_STATUS},
    {"Remote-MTA:", F_REMOTE_MTA},
    {"Diagnostic-Code:", F_DIAGNOSTIC},
    {"Reporting-MTA:", F_REPORTING_MTA},
};

struct line {
    const char *s;
    size_t n;
};

struct reader {
    const struct kb_norm *norm;
    struct kb_report *report;
    unsigned char *region; /* per original line */
    size_t lines;
    struct kb_buf scratch;
    char boundaries[MAX_BOUNDARIES][72];
    size_t boundary_count;
    /* the lines shaped like a header field outside the returned original, listed by the
     * first header_says (which is asked a dozen times): NULL until then, or when out of
     * memory (then every line is read each time) */
    size_t *header_lines;
    size_t header_line_count;
};

/* Original line i (0-based) without its line break and CR. */
static struct line line_at(const struct kb_norm *norm, size_t i)
{
    size_t s = norm->orig_start[i], e = norm->orig_start[i + 1];
    while (e > s && (norm->input[e - 1] == '\n' || norm->input[e - 1] == '\r'))
        e--;
    return (struct line){norm->input + s, e - s};
}

static int is_blank(struct line l)
{
    for (size_t i = 0; i < l.n; i++)
        if (l.s[i] != ' ' && l.s[i] != '\t')
            return 0;
    return 1;
}

/* A heap copy of s[0, n), trimmed and cleaned of control bytes, at most MAX_FIELD bytes. */
static char *field_copy(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n > MAX_FIELD)
        n = MAX_FIELD;
    struct kb_buf b;
    kb_buf_init(&b, 0);
    char *out = NULL;
    if (kb_mask_secrets(s, n, &b) == KB_OK && kb_buf_append(&b, "", 0) == KB_OK)
        kb_buf_detach(&b, &out);
    kb_buf_release(&b);
    return out;
}

/* "rfc822; user@example.com" -> "user@example.com" */
static char *typed_value(const char *s, size_t n)
{
    const char *semi = memchr(s, ';', n);
    if (semi) {
        n -= (size_t)(semi + 1 - s);
        s = semi + 1;
    }
    return field_copy(s, n);
}

/* Remembers the boundary of a multipart Content-Type on this line (boundary="x" or x). */
static void note_boundary(struct reader *r, struct line l)
{
    for (size_t i = 0; i + 9 <= l.n; i++) {
        if (!starts_caseless(l.s + i, l.n - i, "boundary="))
            continue;
        size_t k = i + 9, e;
        int quoted = k < l.n && l.s[k] == '"';
        k += (size_t)quoted;
        for (e = k; e < l.n && (quoted ? l.s[e] != '"' : !strchr(" ;\t", l.s[e])); e++)
            ;
        if (e > k && e - k < sizeof r->boundaries[0] && r->boundary_count < MAX_BOUNDARIES) {
            memcpy(r->boundaries[r->boundary_count], l.s + k, e - k);
            r->boundaries[r->boundary_count][e - k] = '\0';
            r->boundary_count++;
        }
        return;
    }
}

/* Is the line a boundary line of a multipart declared before index limit? */
static int is_boundary(const struct reader *r, struct line l, size_t limit)
{
    if (l.n < 3 || l.s[0] != '-' || l.s[1] != '-')
        return 0;
    for (size_t b = 0; b < r->boundary_count && b < limit; b++) {
        size_t m = strlen(r->boundaries[b]);
        if (l.n >= 2 + m && memcmp(l.s + 2, r->boundaries[b], m) == 0)
            return 1;
    }
    return 0;
}

static int is_returned_marker(struct line l)
{
    size_t i = 0;
    while (i < l.n && (l.s[i] == ' ' || l.s[i] == '-' || l.s[i] == '=' || l.s[i] == '*'))
        i++;
    if (i == l.n)
        return 0;
    for (size_t k = 0; k < sizeof returned_markers / sizeof *returned_markers; k++)
        if (starts_caseless(l.s + i, l.n - i, returned_markers[k]))
            return 1;
    return 0;
}

/* A header line "Name: value" (RFC 5322 field name: printable, no spaces). */
static int is_header_line(struct line l)
{
    size_t i = 0;
    while (i < l.n && l.s[i] > ' ' && l.s[i] < 0x7f && l.s[i] != ':')
        i++;
    return i > 0 && i < l.n && l.s[i] == ':';
}

static enum field field_of(struct line l, size_t *value_at)
{
    if (!l.n)
        return F_NONE;
    for (size_t k = 0; k < sizeof fields / sizeof *fields; k++)
        if (starts_caseless(l.s, l.n, fields[k].name)) {
            *value_at = strlen(fields[k].name);
            return fields[k].field;
        }
    return F_NONE;
}

static struct kb_recipient *new_recipient(struct kb_report *rep)
{
    if (rep->recipient_count >= MAX_RECIPIENTS)
        return NULL;
    struct kb_recipient *v = realloc(rep->recipients, (rep->recipient_count + 1) * sizeof *v);
    if (!v)
        return NULL;
    rep->recipients = v;
    memset(&v[rep->recipient_count], 0, sizeof *v);
    return &v[rep->recipient_count++];
}

/* Sets *slot to a copy of the value (and its continuation lines) unless it is set already. */
static enum kb_status set_field(struct reader *r, char **slot, size_t first, size_t value_at,
                                int typed)
{
    if (*slot)
        return KB_OK;
    struct line l = line_at(r->norm, first);
    kb_buf_reset(&r->scratch);
    enum kb_status st = kb_buf_append(&r->scratch, l.s + value_at, l.n - value_at);
    /* folded continuation lines start with white space */
    for (size_t i = first + 1; st == KB_OK && i < r->lines; i++) {
        struct line c = line_at(r->norm, i);
        if (!c.n || (c.s[0] != ' ' && c.s[0] != '\t') || is_blank(c))
            break;
        st = kb_buf_append_char(&r->scratch, ' ');
        if (st == KB_OK)
            st = kb_buf_append(&r->scratch, c.s, c.n);
    }
    if (st != KB_OK)
        return st;
    const char *s = r->scratch.data ? r->scratch.data : "";
    *slot = typed ? typed_value(s, r->scratch.len) : field_copy(s, r->scratch.len);
    return *slot ? KB_OK : KB_ERR_NOMEM;
}

/* The RFC 3464 fields, wherever they stand outside the returned original. */
static enum kb_status read_fields(struct reader *r)
{
    struct kb_report *rep = r->report;
    struct kb_recipient *cur = NULL;
    int open_original = 0;
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < r->lines && st == KB_OK; i++) {
        if (r->region[i] == KB_REGION_RETURNED)
            continue;
        struct line l = line_at(r->norm, i);
        size_t at = 0;
        enum field f = field_of(l, &at);
        if (f == F_NONE)
            continue;
        if (f == F_REPORTING_MTA) {
            st = set_field(r, &rep->reporting_mta, i, at, 1);
            continue;
        }
        /* A recipient's block starts at Original-Recipient (which RFC 3464 puts first) or at
         * a Final-Recipient that does not complete such a start. */
        if (f == F_ORIGINAL_RECIPIENT || (f == F_FINAL_RECIPIENT && !(cur && open_original))) {
            if (!(cur = new_recipient(rep)))
                break; /* over the cap (or out of memory): the first recipients are kept */
            open_original = f == F_ORIGINAL_RECIPIENT;
        } else if (f == F_FINAL_RECIPIENT) {
            open_original = 0;
            free(cur->address);
            cur->address = NULL;
        } else if (!cur) {
            /* a Diagnostic-Code says "report"; Action or Status alone only in a known one */
            if (f != F_DIAGNOSTIC && !rep->format)
                continue;
            if (!(cur = new_recipient(rep)))
                break;
        }
        switch (f) {
        case F_FINAL_RECIPIENT:
        case F_ORIGINAL_RECIPIENT: st = set_field(r, &cur->address, i, at, 1); break;
        case F_ACTION: st = set_field(r, &cur->action, i, at, 0); break;
        case F_STATUS: st = set_field(r, &cur->status, i, at, 0); break;
        case F_REMOTE_MTA: st = set_field(r, &cur->remote_mta, i, at, 1); break;
        case F_DIAGNOSTIC:
            st = set_field(r, &cur->diagnostic, i, at, 1);
            if (!cur->line)
                cur->line = i + 1;
            break;
        default: break;
        }
    }
    /* "5.1.1 (bad destination mailbox address)": the code alone */
    for (size_t k = 0; k < rep->recipient_count; k++) {
        char *s = rep->recipients[k].status;
        if (s) {
            size_t n = 0;
            while (s[n] && (s[n] == '.' || (s[n] >= '0' && s[n] <= '9')))
                n++;
            s[n] = '\0';
        }
    }
    return st;
}

/* The original line holding byte offset off of the input. */
static size_t line_of_offset(const struct kb_norm *norm, size_t off)
{
    size_t lo = 0, hi = norm->orig_line_count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (norm->orig_start[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

struct cue_search {
    const struct reader *r;
    size_t best; /* rank of the best cue found outside the returned original */
};

static int keep_best_cue(size_t rank, size_t offset, void *arg)
{
    struct cue_search *c = arg;
    if (rank < c->best && c->r->region[line_of_offset(c->r->norm, offset)] != KB_REGION_RETURNED)
        c->best = rank;
    return c->best == 0;
}

/* The report's format from the cues outside the returned original (*format NULL when none).
 * One pass over the text for all the cues. */
static enum kb_status detect_format(const struct reader *r, const char **format)
{
    enum { N = sizeof format_cues / sizeof *format_cues };
    const char *texts[N];
    for (size_t k = 0; k < N; k++)
        texts[k] = format_cues[k].text;
    struct cue_search c = {r, N};
    if (kb_literals_scan(texts, N, 1, r->norm->input, r->norm->input_len, keep_best_cue, &c) < 0)
        return KB_ERR_NOMEM;
    *format = c.best < N ? format_cues[c.best].format : NULL;
    return KB_OK;
}

/* Marks the returned original: MIME parts of a message/rfc822 or *rfc822-headers type up to
 * the boundary that ends them, and everything after a marker line of the formats without
 * MIME. Also remembers the multipart boundaries met on the way. */
static void mark_returned(struct reader *r)
{
    size_t in_returned_from = 0; /* boundaries declared before the returned part opened */
    int returned = 0, part_headers = 0;
    for (size_t i = 0; i < r->lines; i++) {
        struct line l = line_at(r->norm, i);
        if (returned) {
            if (is_boundary(r, l, in_returned_from)) {
                returned = 0;
                part_headers = 1;
            } else {
                r->region[i] = KB_REGION_RETURNED;
            }
            continue;
        }
        if (contains_caseless(l.s, l.n, "boundary="))
            note_boundary(r, l);
        if (is_boundary(r, l, r->boundary_count)) {
            part_headers = 1;
            continue;
        }
        if (part_headers) {
            if (is_blank(l)) {
                part_headers = 0;
            } else if (starts_caseless(l.s, l.n, "Content-Type:")
                       && (contains_caseless(l.s, l.n, "message/rfc822")
                           || contains_caseless(l.s, l.n, "rfc822-headers"))) {
                returned = 1;
                in_returned_from = r->boundary_count;
                r->region[i] = KB_REGION_RETURNED;
            }
            continue;
        }
        if (is_returned_marker(l)) {
            returned = 1;
            in_returned_from = r->boundary_count;
        }
    }
}

/* The report's own header block at the top of the paste (From: MAILER-DAEMON, Subject: ...). */
static void mark_headers(struct reader *r)
{
    size_t i = 0;
    while (i < r->lines && is_blank(line_at(r->norm, i)))
        i++;
    static const char *const message_fields[] = {
        "From:",     "Subject:",     "Date:",       "To:",
        "Received:", "Return-Path:", "Message-ID:", "Delivered-To:"};
    size_t start = i, headers = 0;
    for (; i < r->lines; i++) {
        struct line l = line_at(r->norm, i);
        size_t at;
        if (is_blank(l))
            break;
        if (field_of(l, &at) != F_NONE)
            return; /* delivery-status fields pasted on their own: they are the failure */
        for (size_t k = 0; k < sizeof message_fields / sizeof *message_fields; k++)
            headers += starts_caseless(l.s, l.n, message_fields[k]);
        if (!is_header_line(l) && l.s[0] != ' ' && l.s[0] != '\t')
            return; /* not a header block: prose from the first line */
    }
    if (headers < 2)
        return;
    for (size_t k = start; k < i; k++)
        if (r->region[k] == KB_REGION_TEXT)
            r->region[k] = KB_REGION_REPORT_HEADERS;
}

/* Header value of name in the report's own headers (or anywhere before the returned part). */
static int header_says(struct reader *r, const char *name, const char *value)
{
    size_t nl = strlen(name);
    if (!r->header_lines && (r->header_lines = malloc((r->lines ? r->lines : 1) * sizeof(size_t))))
        for (size_t i = 0; i < r->lines; i++)
            if (r->region[i] != KB_REGION_RETURNED && is_header_line(line_at(r->norm, i)))
                r->header_lines[r->header_line_count++] = i;
    size_t count = r->header_lines ? r->header_line_count : r->lines;
    for (size_t k = 0; k < count; k++) {
        size_t i = r->header_lines ? r->header_lines[k] : k;
        if (r->region[i] == KB_REGION_RETURNED)
            continue;
        struct line l = line_at(r->norm, i);
        if (starts_caseless(l.s, l.n, name)
            && (!value || contains_caseless(l.s + nl, l.n - nl, value)))
            return 1;
    }
    return 0;
}

static int anywhere(const struct reader *r, const char *text)
{
    return contains_caseless(r->norm->input, r->norm->input_len, text);
}

/* Messages that report no failure at all (RFC 5965, RFC 8098, RFC 3834, RFC 3464 success). */
static const char *not_a_failure(struct reader *r)
{
    const struct kb_report *rep = r->report;
    if (anywhere(r, "report-type=feedback-report") || header_says(r, "Feedback-Type:", NULL))
        return "an abuse report (ARF feedback report): a recipient marked the message as spam";
    if (anywhere(r, "report-type=disposition-notification")
        || (header_says(r, "Disposition:", NULL) && header_says(r, "Reporting-UA:", NULL)))
        return "a read receipt (message disposition notification)";
    if (rep->recipient_count) {
        int failed = 0, done = 0;
        for (size_t k = 0; k < rep->recipient_count; k++) {
            const char *a = rep->recipients[k].action;
            if (!a)
                continue;
            if (starts_caseless(a, strlen(a), "delivered")
                || starts_caseless(a, strlen(a), "relayed")
                || starts_caseless(a, strlen(a), "expanded"))
                done++;
            else
                failed++;
        }
        if (done && !failed)
            return "a delivery notification: the message was delivered, relayed or expanded";
    }
    if (!rep->format
        && (header_says(r, "Auto-Submitted:", "auto-replied")
            || header_says(r, "X-Autoreply:", NULL) || header_says(r, "X-Autorespond:", NULL)
            || header_says(r, "Subject:", "Automatic reply")
            || header_says(r, "Subject:", "Out of Office")
            || header_says(r, "Subject:", "Autoreply")))
        return "an automatic reply (out of office or an autoresponder)";
    return NULL;
}

enum kb_status kb_bounce_read(const struct kb_norm *norm, struct kb_report *report,
                              unsigned char **regions)
{
    memset(report, 0, sizeof *report);
    *regions = NULL;
    struct reader r = {.norm = norm, .report = report, .lines = norm->orig_line_count};
    kb_buf_init(&r.scratch, 0);
    r.region = calloc(r.lines ? r.lines : 1, 1);
    if (!r.region)
        return KB_ERR_NOMEM;
    mark_returned(&r);
    enum kb_status st = detect_format(&r, &report->format);
    if (st == KB_OK)
        st = read_fields(&r);
    if (st == KB_OK && !report->format && report->recipient_count)
        report->format = "rfc3464";
    if (st == KB_OK && report->format) {
        report->leg = "delivery";
        mark_headers(&r);
    } else if (st == KB_OK) {
        /* no report: only the message-level verdicts below may still apply, and nothing of
         * the text is set apart */
        memset(r.region, KB_REGION_TEXT, r.lines);
    }
    if (st == KB_OK)
        report->not_failure = not_a_failure(&r);
    kb_buf_release(&r.scratch);
    free(r.header_lines);
    if (st != KB_OK) {
        free(r.region);
        kb_report_release(report);
        return st;
    }
    *regions = r.region;
    return KB_OK;
}

void kb_report_release(struct kb_report *report)
{
    free(report->reporting_mta);
    for (size_t i = 0; i < report->recipient_count; i++) {
        struct kb_recipient *p = &report->recipients[i];
        free(p->address);
        free(p->action);
        free(p->status);
        free(p->remote_mta);
        free(p->diagnostic);
    }
    free(report->recipients);
    memset(report, 0, sizeof *report);
}
