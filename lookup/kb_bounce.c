/*
 * kb_bounce.c - reading what a pasted text is when it is a delivery report (a bounce).
 *
 * Once an application sends, the next thing a support agent gets is the bounce: the whole
 * "Undelivered Mail Returned to Sender" message, with the mail system's explanation, the
 * RFC 3464 delivery-status part and the returned original. Read as flat text it misleads: the
 * original's headers (Authentication-Results, X-Spam-Status, Received) are not the failure,
 * and a later "550 5.1.1 User unknown" that the reporting MTA made up is not the remote
 * server's reply. This first stage of a query reads the message's MIME structure (kb_mime.c:
 * parts decoded, each line mapped back to the input) and, when it is a report, marks each line
 * with its region:
 *
 *   diagnostic    the failure itself: a recipient's Diagnostic-Code, or where there is none,
 *                 the lines of the explanation that give the server's reply
 *   explanation   the rest of what the mail system wrote (and the user's own words)
 *   headers       the report's own headers, MIME structure, the other delivery-status fields
 *   returned      the returned original (MIME part, or after a "copy of the message" line)
 *
 * and with the recipient whose failure it reports, so that the evidence stages can read each
 * recipient's failure apart. It takes the report's facts (reporting MTA; per recipient address,
 * action, status and its RFC 3463 meaning, remote MTA, diagnostic), from the delivery-status
 * fields, from the wording of the mail systems that write none (Postfix, Exim, qmail, Sendmail,
 * Courier, Exchange, Gmail, Yahoo, Domino), or from an MTA's delivery log lines. It also tells
 * the messages that report no failure at all: an automatic reply, a delivery notification, an
 * abuse report, a read receipt.
 *
 * Only formats are known here (MIME, RFC 3464, RFC 3463, RFC 3834, RFC 5965, RFC 8098 and the
 * wording the common mail systems frame their reports with); which failure means which cause is
 * the articles' business.
 */
#include <stdlib.h>
#include <string.h>

#include "kb_internal.h"

/* Bounded work whatever the paste: recipients kept, bytes of a field, bytes of a line searched
 * for the cues of a format. */
#define MAX_RECIPIENTS 64
#define MAX_FIELD 400
#define CUE_SCAN 400
/* owner of the lines of recipients past MAX_RECIPIENTS: in no recipient's view */
#define OWNER_DROPPED (MAX_RECIPIENTS + 1)

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Does s[0, n) start with lit (caseless)? Compares as it walks lit (no strlen first): most
 * calls fail at the first byte, and some run for every line of a paste. */
static int starts_caseless(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; lit[i]; i++)
        if (i >= n || lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
            return 0;
    return 1;
}

/* Where lit occurs in s[0, n) (caseless), or n. */
static size_t find_caseless(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    unsigned char first = lower((unsigned char)lit[0]);
    for (size_t i = 0; i + m <= n; i++)
        if (lower((unsigned char)s[i]) == first && starts_caseless(s + i, n - i, lit))
            return i;
    return n;
}

static int contains_caseless(const char *s, size_t n, const char *lit)
{
    return find_caseless(s, n, lit) < n;
}

struct line {
    const char *s;
    size_t n;
};

static int is_blank(struct line l)
{
    for (size_t i = 0; i < l.n; i++)
        if (!is_space(l.s[i]))
            return 0;
    return 1;
}

static struct line trimmed(struct line l)
{
    while (l.n && is_space(*l.s)) {
        l.s++;
        l.n--;
    }
    while (l.n && is_space(l.s[l.n - 1]))
        l.n--;
    return l;
}

/* ---- what the mail systems write --------------------------------------------------------- */

/* The cues of the common report formats, most specific first. A text is a delivery report
 * when one of them occurs outside what it returns. */
struct format_cue {
    const char *format;
    const char *text;
};

static const struct format_cue format_cues[] = {
    {"postfix", "this is the mail system at host"},
    {"postfix", "i'm sorry to have to inform you that your message could not"},
    {"exim", "this message was created automatically by mail delivery software"},
    {"exim", "a message that you sent could not be delivered to one or more of its"},
    {"exim", "a message that you sent has not yet been delivered to one or more of its"},
    {"exim", "smtp error from remote mail server after"},
    {"qmail", "this is the qmail-send program"},
    {"qmail", "i'm afraid i wasn't able to deliver your message"},
    {"courier", "running the courier mail server"},
    {"sendmail", "the following addresses had permanent fatal errors"},
    {"sendmail", "the following addresses had transient non-fatal errors"},
    {"sendmail", "transcript of session follows"},
    {"exchange", "diagnostic information for administrators"},
    {"exchange", "delivery has failed to these recipients or groups"},
    {"exchange", "remote server returned '"},
    {"exchange", "your message did not reach some or all of the intended recipients"},
    {"exchange", "more info for email admins"},
    {"exchange", "your message couldn't be delivered"},
    {"exchange", "the following recipient(s) cannot be reached"},
    {"gmail", "the response from the remote server was:"},
    {"gmail", "the error that the other server returned was:"},
    {"gmail", "delivery to the following recipient failed permanently"},
    {"gmail", "delivery to the following recipient has been delayed"},
    {"gmail", "delivery status notification (failure)"},
    {"gmail", "delivery status notification (delay)"},
    {"gmail", "** address not found **"},
    {"gmail", "** message not delivered **"},
    {"gmail", "** message blocked **"},
    {"gmail", "your message wasn't delivered to"},
    {"yahoo", "sorry, we were unable to deliver your message to the following address"},
    {"qmail", "below this line is a copy of the message"},
    {"qmail", "remote host said:"},
    {"domino", "your message was not delivered to"},
    {"domino", "was not delivered to:"},
    {"mdaemon", "had permanent fatal delivery errors"},
    {"rfc3464", "message/delivery-status"},
    {"rfc3464", "report-type=delivery-status"},
    {"generic", "undelivered mail returned to sender"},
    {"generic", "mail delivery failed"},
    {"generic", "returned mail: "},
    {"generic", "undeliverable: "},
    {"generic", "mail system error - returned mail"},
    {"generic", "delivery status notification"},
    {"generic", "delivery notification: delivery has failed"},
    {"generic", "delivery failure:"},
    {"generic", "failure notice"},
    {"generic", "nondeliverable mail"},
    {"generic", "undeliverable mail"},
    {"generic", "could not be delivered to one or more"},
};

/* Sentences of the explanation of many mail systems, too plain to tell a report alone (an
 * application may say "could not be delivered" too): a report when the paste is a message
 * (has a header block) or names a recipient at the start of a line or returns the original. */
static const char *const weak_cues[] = {
    "could not be delivered",
    "couldn't be delivered",
    "was not delivered",
    "wasn't delivered",
    "not be delivered",
    "unable to deliver",
    "undeliverable",
    "delivery problems",
    "delivery has failed",
    "message not delivered",
    "failed addresses",
    "mail delivery software",
    "has not yet been delivered",
    "permanent fatal errors",
    "delivery failure",
};

/* The report's own headers that tell a delivery report: who sends it, its subject. */
static const char *const sender_cues[] = {"mailer-daemon", "postmaster@", "mail delivery",
                                          "mdaemon@"};
static const char *const subject_cues[] = {"undeliver",
                                           "not delivered",
                                           "delivery fail",
                                           "failed delivery",
                                           "delivery failure",
                                           "returned mail",
                                           "mail failure",
                                           "failure notice",
                                           "delivery status notification",
                                           "delivery notification",
                                           "nondeliverable",
                                           "non-delivery",
                                           "returning message to sender",
                                           "could not be delivered",
                                           "delivery problem",
                                           "message delayed",
                                           "delivery delayed",
                                           "delayed mail"};

/* Lines after which the report returns the original message (formats without MIME). They
 * count only after the failure itself: at the top of a paste "Original Message" is the
 * forward that wraps the bounce. */
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
    "Original Message Details",
    "Returned message",
    "Original message",
    "Original Message-----",
    "The original message was:",
    "Message text follows",
    "Your message reads",
};

/* Lines after which the failure itself follows (or is on the line): the mail system quotes
 * the server's reply or states the reason. */
static const char *const diagnostic_cues[] = {
    "the response from the remote server was",
    "the response was:",
    "the error that the other server returned was",
    "remote server returned",
    "remote host said:",
    "technical details of permanent failure",
    "technical details of temporary failure",
    "smtp error from remote mail server",
    "because:",
    "(reason:",
    "reason:",
    "delay reason:",
    "error-text:",
    "failed addresses follow",
    " said: ",
};

/* Sentences of a notice that says the message is still being tried. */
static const char *const delay_cues[] = {
    "has been delayed",  "delivery is delayed",    "still being retried",
    "will keep trying",  "will continue trying",   "will be retried",
    "will retry",        "not yet been delivered", "warning message only",
    "this is a warning", "delays in delivering",   "delivery status notification (delay)",
    "delayed mail",      "delivery delayed",
};

/* The words of the messages that report no failure. */
static const char *const success_cues[] = {
    "your message was successfully delivered to the destination",
    "message delivered successfully",
    "delivery to these recipients or groups is complete",
    "your message has been delivered to the following recipients",
    "delivery status notification (success)",
    "successful mail delivery report",
};
static const char *const away_cues[] = {"out of the office",
                                        "out of office",
                                        "on vacation",
                                        "on holiday",
                                        "on annual leave",
                                        "automatic reply",
                                        "auto-reply",
                                        "autoreply",
                                        "automated response",
                                        "automatic response",
                                        "thank you for your e-mail",
                                        "thank you for your email",
                                        "thank you for your message",
                                        "reply as soon as possible",
                                        "get back to you as soon as"};
/* The subject prefixes mail clients give automatic replies, in the languages they ship. */
static const char *const auto_subject_cues[] = {
    "automatic reply",      "out of office",         "autoreply",
    "auto-reply",           "automatische antwort",  "abwesenheitsnotiz",
    "automatisch antwoord", "automatyczna",          "risposta automatica",
    "respuesta autom",      "resposta autom",        "ponse automatique",
    "automatiskt svar",     "automaattinen vastaus", "automatisk svar"};
static const char *const failure_cues[] = {
    "bounce\"",  "\"dropped\"",   "\"deferred\"",  "\"failed\"",
    "failed",    "failure",       "rejected",      "refused",
    "denied",    "undeliverable", "not delivered", "could not be delivered",
    "exception", "timed out"};

/* Where the reporting MTA names itself. */
static const char *const reporter_cues[] = {
    "mail system at host ",
    "qmail-send program at ",
    "notification from ",
    "Generating server: ",
};

/* One index over all the cue tables above, so that a line is searched once for all of them:
 * each cue is filed under the hash of its first two bytes, and a line's every position is
 * looked up there (the cues are lowercase, the line is lowered). Built per read, in the
 * reader: no state outlives a query. */
enum cue_set {
    SET_FORMAT,
    SET_WEAK,
    SET_SENDER,
    SET_SUBJECT,
    SET_DIAGNOSTIC,
    SET_DELAY,
    SET_SUCCESS,
    SET_AWAY,
    SET_AUTO_SUBJECT,
    SET_FAILURE
};

#define MAX_CUES 256
#define CUE_BUCKETS 256

struct cue {
    const char *text;
    unsigned char len, set, rank;
};

struct cue_index {
    struct cue cue[MAX_CUES];
    uint16_t start[CUE_BUCKETS + 1]; /* bucket b holds cue[start[b], start[b + 1]) */
    /* a bit per pair of bytes that starts some cue: most positions of a line start none, and
     * are passed at one test instead of a walk through their bucket */
    unsigned char pair[65536 / 8];
};

/* What a line holds: a bit per enum cue_set, and its best format cue (rank in format_cues). */
struct cue_hits {
    unsigned sets;
    size_t format_rank;
};

static unsigned cue_bucket(const char *s)
{
    return ((unsigned char)s[0] * 31u + (unsigned char)s[1]) % CUE_BUCKETS;
}

static void build_cue_index(struct cue_index *x)
{
    static const struct {
        const char *const *cues;
        size_t count;
    } sets[] = {
        [SET_WEAK] = {weak_cues, sizeof weak_cues / sizeof *weak_cues},
        [SET_SENDER] = {sender_cues, sizeof sender_cues / sizeof *sender_cues},
        [SET_SUBJECT] = {subject_cues, sizeof subject_cues / sizeof *subject_cues},
        [SET_DIAGNOSTIC] = {diagnostic_cues, sizeof diagnostic_cues / sizeof *diagnostic_cues},
        [SET_DELAY] = {delay_cues, sizeof delay_cues / sizeof *delay_cues},
        [SET_SUCCESS] = {success_cues, sizeof success_cues / sizeof *success_cues},
        [SET_AWAY] = {away_cues, sizeof away_cues / sizeof *away_cues},
        [SET_AUTO_SUBJECT] = {auto_subject_cues,
                              sizeof auto_subject_cues / sizeof *auto_subject_cues},
        [SET_FAILURE] = {failure_cues, sizeof failure_cues / sizeof *failure_cues},
    };
    struct cue all[MAX_CUES];
    size_t n = 0;
    for (size_t k = 0; k < sizeof format_cues / sizeof *format_cues && n < MAX_CUES; k++)
        all[n++] = (struct cue){format_cues[k].text, (unsigned char)strlen(format_cues[k].text),
                                SET_FORMAT, (unsigned char)k};
    for (size_t t = 1; t < sizeof sets / sizeof *sets; t++)
        for (size_t k = 0; k < sets[t].count && n < MAX_CUES; k++)
            all[n++] = (struct cue){sets[t].cues[k], (unsigned char)strlen(sets[t].cues[k]),
                                    (unsigned char)t, (unsigned char)k};
    memset(x->pair, 0, sizeof x->pair);
    for (size_t k = 0; k < n; k++) {
        unsigned pair =
            (unsigned)(unsigned char)all[k].text[0] << 8 | (unsigned char)all[k].text[1];
        x->pair[pair >> 3] |= (unsigned char)(1u << (pair & 7));
    }
    memset(x->start, 0, sizeof x->start);
    for (size_t k = 0; k < n; k++)
        x->start[cue_bucket(all[k].text) + 1]++;
    for (size_t b = 0; b < CUE_BUCKETS; b++)
        x->start[b + 1] += x->start[b];
    uint16_t fill[CUE_BUCKETS];
    memcpy(fill, x->start, sizeof fill);
    for (size_t k = 0; k < n; k++)
        x->cue[fill[cue_bucket(all[k].text)]++] = all[k];
}

/* The cues on the lowered line low (n bytes). */
static void find_cues(const struct cue_index *x, const char *low, size_t n, struct cue_hits *h)
{
    h->sets = 0;
    h->format_rank = SIZE_MAX;
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned pair = (unsigned)(unsigned char)low[i] << 8 | (unsigned char)low[i + 1];
        if (!(x->pair[pair >> 3] >> (pair & 7) & 1))
            continue;
        unsigned b = cue_bucket(low + i);
        for (size_t k = x->start[b]; k < x->start[b + 1]; k++) {
            const struct cue *c = &x->cue[k];
            if (c->len > n - i || c->text[0] != low[i] || c->text[1] != low[i + 1]
                || (c->len > 2 && c->text[2] != low[i + 2])
                || memcmp(low + i, c->text, c->len) != 0)
                continue;
            h->sets |= 1u << c->set;
            if (c->set == SET_FORMAT && c->rank < h->format_rank)
                h->format_rank = c->rank;
        }
    }
}

/* ---- RFC 3463 ---------------------------------------------------------------------------- */

/* Subject and detail of the enhanced status codes: RFC 3463 and the IANA registry (RFC 3886,
 * 4468, 4954, 5248, 6531, 6710, 7293, 7372, 7505, 8617, 8689). */
static const struct {
    unsigned char subject, detail;
    const char *meaning;
} status_details[] = {
    {0, 0, "other or undefined status"},
    {1, 0, "other address status"},
    {1, 1, "bad destination mailbox address"},
    {1, 2, "bad destination system address"},
    {1, 3, "bad destination mailbox address syntax"},
    {1, 4, "destination mailbox address ambiguous"},
    {1, 5, "destination address valid"},
    {1, 6, "destination mailbox has moved, no forwarding address"},
    {1, 7, "bad sender's mailbox address syntax"},
    {1, 8, "bad sender's system address"},
    {1, 9, "message relayed to non-compliant mailer"},
    {1, 10, "recipient address has null MX"},
    {2, 0, "other or undefined mailbox status"},
    {2, 1, "mailbox disabled, not accepting messages"},
    {2, 2, "mailbox full"},
    {2, 3, "message length exceeds administrative limit"},
    {2, 4, "mailing list expansion problem"},
    {3, 0, "other or undefined mail system status"},
    {3, 1, "mail system full"},
    {3, 2, "system not accepting network messages"},
    {3, 3, "system not capable of selected features"},
    {3, 4, "message too big for system"},
    {3, 5, "system incorrectly configured"},
    {3, 6, "requested priority was changed"},
    {4, 0, "other or undefined network or routing status"},
    {4, 1, "no answer from host"},
    {4, 2, "bad connection"},
    {4, 3, "directory server failure"},
    {4, 4, "unable to route"},
    {4, 5, "mail system congestion"},
    {4, 6, "routing loop detected"},
    {4, 7, "delivery time expired"},
    {5, 0, "other or undefined protocol status"},
    {5, 1, "invalid command"},
    {5, 2, "syntax error"},
    {5, 3, "too many recipients"},
    {5, 4, "invalid command arguments"},
    {5, 5, "wrong protocol version"},
    {5, 6, "authentication exchange line is too long"},
    {6, 0, "other or undefined media error"},
    {6, 1, "media not supported"},
    {6, 2, "conversion required and prohibited"},
    {6, 3, "conversion required but not supported"},
    {6, 4, "conversion with loss performed"},
    {6, 5, "conversion failed"},
    {6, 6, "message content not available"},
    {6, 7, "non-ASCII addresses not permitted for that sender or recipient"},
    {6, 8, "UTF-8 string reply is required, but not permitted by the SMTP client"},
    {6, 9, "UTF-8 header message cannot be transferred to one or more recipients"},
    {7, 0, "other or undefined security status"},
    {7, 1, "delivery not authorized, message refused"},
    {7, 2, "mailing list expansion prohibited"},
    {7, 3, "security conversion required but not possible"},
    {7, 4, "security features not supported"},
    {7, 5, "cryptographic failure"},
    {7, 6, "cryptographic algorithm not supported"},
    {7, 7, "message integrity failure"},
    {7, 8, "authentication credentials invalid"},
    {7, 9, "authentication mechanism is too weak"},
    {7, 10, "encryption needed"},
    {7, 11, "encryption required for requested authentication mechanism"},
    {7, 12, "a password transition is needed"},
    {7, 13, "user account disabled"},
    {7, 14, "trust relationship required"},
    {7, 15, "priority level is too low"},
    {7, 16, "message is too big for the specified priority"},
    {7, 17, "mailbox owner has changed"},
    {7, 18, "domain owner has changed"},
    {7, 19, "RRVS test cannot be completed"},
    {7, 20, "no passing DKIM signature found"},
    {7, 21, "no acceptable DKIM signature found"},
    {7, 22, "no valid author-matched DKIM signature found"},
    {7, 23, "SPF validation failed"},
    {7, 24, "SPF validation error"},
    {7, 25, "reverse DNS validation failed"},
    {7, 26, "multiple authentication checks failed"},
    {7, 27, "sender address has null MX"},
    {7, 28, "mail flood detected"},
    {7, 29, "ARC validation failure"},
    {7, 30, "REQUIRETLS support required"},
};

/* Parses "class.subject.detail" (the whole of s). 1 when it is a valid code. */
static int parse_status(const char *s, unsigned *cls, unsigned *subject, unsigned *detail)
{
    unsigned v[3] = {0, 0, 0};
    size_t part = 0, digits = 0;
    for (; *s; s++) {
        if (is_digit(*s)) {
            if (++digits > 3)
                return 0;
            v[part] = v[part] * 10 + (unsigned)(*s - '0');
        } else if (*s == '.' && digits && part < 2) {
            part++;
            digits = 0;
        } else {
            return 0;
        }
    }
    if (part != 2 || !digits || (v[0] != 2 && v[0] != 4 && v[0] != 5))
        return 0;
    *cls = v[0];
    *subject = v[1];
    *detail = v[2];
    return 1;
}

int kb_status_code_meaning(const char *code, const char **class_words, const char **meaning)
{
    unsigned cls, subject, detail;
    *class_words = *meaning = NULL;
    if (!code || !parse_status(code, &cls, &subject, &detail))
        return 0;
    *class_words = cls == 2   ? "success"
                   : cls == 4 ? "persistent transient failure"
                              : "permanent failure";
    const char *fallback = NULL;
    for (size_t k = 0; k < sizeof status_details / sizeof *status_details; k++) {
        if (status_details[k].subject != subject)
            continue;
        if (status_details[k].detail == detail) {
            *meaning = status_details[k].meaning;
            return 1;
        }
        if (status_details[k].detail == 0)
            fallback = status_details[k].meaning; /* an unregistered detail: its subject */
    }
    *meaning = fallback;
    return 1;
}

static void status_meaning(struct kb_recipient *p)
{
    kb_status_code_meaning(p->status, &p->status_class, &p->status_meaning);
}

/* ---- the reader -------------------------------------------------------------------------- */

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

static const struct {
    const char *name;
    enum field field;
} fields[] = {
    {"Final-Recipient:", F_FINAL_RECIPIENT},
    {"Original-Recipient:", F_ORIGINAL_RECIPIENT},
    {"Action:", F_ACTION},
    {"Status:", F_STATUS},
    {"Remote-MTA:", F_REMOTE_MTA},
    {"Diagnostic-Code:", F_DIAGNOSTIC},
    {"Reporting-MTA:", F_REPORTING_MTA},
};

struct reader {
    const struct kb_mime *m;
    struct kb_report *report;
    unsigned char *region;
    uint16_t *owner;
    unsigned char *done; /* lines the delivery-status pass has placed */
    size_t lines;
    struct kb_buf scratch;
    /* per recipient */
    unsigned char dsn_diag[MAX_RECIPIENTS];  /* has a Diagnostic-Code field */
    size_t status_line[MAX_RECIPIENTS];      /* 1 + line of its Status field, 0 when none */
    struct kb_buf diag_text[MAX_RECIPIENTS]; /* its failure, from the explanation */
    size_t dsn_recipients;                   /* read from delivery-status fields */
    int any_dsn_diag;
    const char *format;
    size_t format_rank;
    int weak_cue, has_headers, saw_recipient, saw_marker;
    const char *log_format;
    size_t *work;        /* lines visited, all passes (struct kb_bounce.work) */
    uint32_t *cue_cache; /* per line, see CUE_CACHED */
    struct cue_index cues;
    /* each byte lowered, NUL as a space: what lower_line makes of a line, at a load a byte */
    unsigned char fold[256];
};

/* Where line i ends without its line break (LF, CRLF): found from the next line's start, at
 * a byte or two a line (an array of the ends cost 4 MB and a pass per million lines). */
static inline size_t line_end(const struct reader *r, size_t i)
{
    size_t s = r->m->line_start[i], e = r->m->line_start[i + 1];
    const char *t = r->m->text;
    while (e > s && (t[e - 1] == '\n' || t[e - 1] == '\r'))
        e--;
    return e;
}

/* A line quoted in a reply ("> 550 ...", a whole bounce forwarded with "> " before each line):
 * the line without its quote marks ("> ", or ">" ending the line; not the ">>>" of a
 * transcript). */
static struct line unquoted(struct line l)
{
    size_t i = 0;
    int quoted = 0;
    for (;;) {
        size_t k = i;
        while (k < l.n && is_space(l.s[k]))
            k++;
        if (!(k < l.n && l.s[k] == '>'
              && (k + 1 == l.n || l.s[k + 1] == ' ' || l.s[k + 1] == '\t')))
            break;
        i = k + 1 < l.n ? k + 2 : k + 1;
        quoted = 1;
    }
    return quoted ? (struct line){l.s + i, l.n - i} : l;
}

/* Line i, without the quote marks of a reply that quoted it. */
static struct line line_at(const struct reader *r, size_t i)
{
    size_t s = r->m->line_start[i];
    return unquoted((struct line){r->m->text + s, line_end(r, i) - s});
}

/* The first line from i on that is not empty (r->lines when none), the lines passed counted
 * as visited: the passes that have nothing to do on an empty line cross a run of them (a paste
 * of line breaks has a million) at a compare each. */
static inline size_t skip_empty(const struct reader *r, size_t i)
{
    if (i >= r->lines || line_end(r, i) != r->m->line_start[i])
        return i;
    size_t from = i;
    while (i < r->lines && line_end(r, i) == r->m->line_start[i])
        i++;
    *r->work += i - from;
    return i;
}

/* A heap copy of s[0, n), trimmed and masked, at most MAX_FIELD bytes. */
static char *field_copy(const char *s, size_t n)
{
    struct line t = trimmed((struct line){s, n});
    if (t.n > MAX_FIELD)
        t.n = MAX_FIELD;
    struct kb_buf b;
    kb_buf_init(&b, 0);
    char *out = NULL;
    if (kb_mask_secrets(t.s, t.n, &b) == KB_OK && kb_buf_append(&b, "", 0) == KB_OK)
        kb_buf_detach(&b, &out);
    kb_buf_release(&b);
    return out;
}

/* "rfc822; user@example.com" -> "user@example.com". The type is one word (RFC 3464: an atom,
 * "smtp", "X-Postfix"); a value whose text before its first ';' is not one is all text (an
 * X.400 gateway's "Reason 1 (Unable-To-Transfer); Diagnostic 5 (Maximum-Time-Expired)"). */
static char *typed_value(const char *s, size_t n)
{
    const char *semi = memchr(s, ';', n);
    if (semi) {
        struct line type = trimmed((struct line){s, (size_t)(semi - s)});
        for (size_t i = 0; i < type.n && semi; i++)
            if (!is_alnum(type.s[i]) && !(type.s[i] && strchr("-._", type.s[i])))
                semi = NULL;
    }
    if (semi) {
        n -= (size_t)(semi + 1 - s);
        s = semi + 1;
    }
    struct line t = trimmed((struct line){s, n});
    if (t.n >= 2 && t.s[0] == '<' && t.s[t.n - 1] == '>') {
        t.s++;
        t.n -= 2;
    }
    return field_copy(t.s, t.n);
}

static enum field field_of(struct line l, size_t *value_at)
{
    for (size_t k = 0; k < sizeof fields / sizeof *fields; k++)
        if (starts_caseless(l.s, l.n, fields[k].name)) {
            *value_at = strlen(fields[k].name);
            return fields[k].field;
        }
    return F_NONE;
}

/* The character of an address's local part (RFC 5322 atext and dots; UTF-8 kept). */
static int local_char(unsigned char c)
{
    return is_alnum((char)c) || c >= 0x80 || (c && strchr("!#$%&'*+/=?^_`{|}~.-", c));
}

/* Length of the e-mail address at s[0, n), 0 when there is none. */
static size_t address_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && i < 256 && local_char((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= n || s[i] != '@')
        return 0;
    size_t d = ++i;
    if (i < n && s[i] == '[') {
        while (i < n && s[i] != ']' && !is_space(s[i]))
            i++;
        return i < n && s[i] == ']' ? i + 1 : 0;
    }
    int dot = 0;
    while (i < n && i - d < 256
           && (is_alnum(s[i]) || s[i] == '-' || s[i] == '.' || (unsigned char)s[i] >= 0x80)) {
        dot |= s[i] == '.';
        i++;
    }
    while (i > d && s[i - 1] == '.')
        i--; /* the full stop of a sentence */
    return i > d && dot ? i : 0;
}

/* Is l a line that names a recipient at its start ("<user@example.com>:", "  user@example.com",
 * "user@example.com (user@example.com)", "<user@example.com>: host ... said: 550 ...")? Sets
 * the address and where the rest of the line (the failure, when it is on the line) starts. */
static int recipient_line(struct line whole, struct line *addr, size_t *rest)
{
    if (!whole.n || !memchr(whole.s, '@', whole.n))
        return 0; /* every form below holds an address: most lines are done with at one scan */
    size_t i = 0;
    struct line l = unquoted(whole);
    size_t shift = (size_t)(l.s - whole.s); /* *rest is an offset in whole */
    while (i < l.n && is_space(l.s[i]))
        i++;
    if (i > 12)
        return 0;
    /* Exchange: "Display Name (user@example.com)", nothing else on the line */
    struct line t = trimmed(l);
    if (t.n > 4 && t.s[t.n - 1] == ')' && t.s[0] != '<' && !address_len(t.s, t.n) && t.n < 120) {
        size_t open = t.n - 1;
        while (open > 0 && t.s[open] != '(')
            open--;
        size_t alen = address_len(t.s + open + 1, t.n - open - 2);
        if (t.s[open] == '(' && alen == t.n - open - 2 && !memchr(t.s, ':', open)) {
            *addr = (struct line){t.s + open + 1, alen};
            *rest = whole.n;
            return 1;
        }
    }
    int angle = i < l.n && l.s[i] == '<';
    i += (size_t)angle;
    size_t alen = address_len(l.s + i, l.n - i);
    if (!alen)
        return 0;
    *addr = (struct line){l.s + i, alen};
    size_t k = i + alen;
    if (angle) {
        if (k >= l.n || l.s[k] != '>')
            return 0;
        k++;
    }
    while (k < l.n && is_space(l.s[k]))
        k++;
    *rest = whole.n;
    if (k < l.n && l.s[k] == '(') { /* "(expanded from <x>)", "(user@example.com)" */
        size_t close = k;
        while (close < l.n && l.s[close] != ')')
            close++;
        if (close == l.n)
            return 0;
        k = close + 1;
        while (k < l.n && is_space(l.s[k]))
            k++;
        if (k < l.n && starts_caseless(l.s + k, l.n - k, "<mailto:"))
            return 1;
    }
    if (k == l.n)
        return 1;
    if (l.s[k] == ':' || l.s[k] == ';') {
        k++;
        while (k < l.n && is_space(l.s[k]))
            k++;
        *rest = k + shift;
        return 1;
    }
    if (starts_caseless(l.s + k, l.n - k,
                        "...")) { /* Sendmail "<user@example.com>... User unknown" */
        *rest = k + 3 + shift;
        return 1;
    }
    if (k > i + alen
        && starts_caseless(l.s + k, l.n - k, "- ")) { /* MDaemon "x@y - no such user" */
        k += 2;
        while (k < l.n && is_space(l.s[k]))
            k++;
        *rest = k + shift;
        return 1;
    }
    if (starts_caseless(l.s + k, l.n - k, "on ") || starts_caseless(l.s + k, l.n - k, "<mailto:"))
        return 1; /* Exchange "user@example.com on 6/7/2006 2:13 PM" */
    return 0;
}

/* An SMTP failure reply: "550 5.1.1 ...", "550-...", "<<< 550 ...", "#550 5.1.1 ...". */
static int reply_line(struct line l)
{
    struct line t = trimmed(unquoted(l));
    if (starts_caseless(t.s, t.n, "<<<"))
        t = trimmed((struct line){t.s + 3, t.n - 3});
    if (t.n && t.s[0] == '#')
        t = (struct line){t.s + 1, t.n - 1};
    return t.n >= 3 && (t.s[0] == '4' || t.s[0] == '5') && is_digit(t.s[1]) && is_digit(t.s[2])
           && (t.n == 3 || t.s[3] == ' ' || t.s[3] == '-');
}

/* Where the first SMTP failure reply quoted in s[0, n) starts ("... said: 550 5.1.1 ..."):
 * a 4xx or 5xx code at the start or after a space or quote, followed by a space or '-'. */
static size_t reply_at(const char *s, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if ((s[i] == '4' || s[i] == '5') && is_digit(s[i + 1]) && is_digit(s[i + 2])
            && (s[i + 3] == ' ' || s[i + 3] == '-')
            && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\'' || s[i - 1] == '#'
                || s[i - 1] == ';'))
            return i;
    return 0;
}

/* The first enhanced status code in s[0, n) ("5.1.1", "4.7.0"): where, and its length. */
static size_t find_status(const char *s, size_t n, size_t *len)
{
    /* from one '.' to the next (memchr): a code's first dot follows its class digit */
    for (size_t j = 1; j + 4 <= n; j++) {
        const char *dot = memchr(s + j, '.', n - 3 - j);
        if (!dot)
            break;
        j = (size_t)(dot - s);
        size_t i = j - 1;
        if ((s[i] != '2' && s[i] != '4' && s[i] != '5')
            || (i && (is_alnum(s[i - 1]) || s[i - 1] == '.')))
            continue;
        size_t k = i + 2;
        while (k < n && k < i + 6 && is_digit(s[k]))
            k++;
        if (k == i + 2 || k > i + 5 || k >= n || s[k] != '.')
            continue;
        size_t d = ++k;
        while (k < n && k < d + 4 && is_digit(s[k]))
            k++;
        if (k == d || k > d + 3)
            continue;
        if (k < n && (is_alnum(s[k]) || (s[k] == '.' && k + 1 < n && is_digit(s[k + 1]))))
            continue;
        *len = k - i;
        return i;
    }
    return n;
}

static int is_returned_marker(struct line l)
{
    size_t i = 0;
    while (i < l.n && (is_space(l.s[i]) || l.s[i] == '-' || l.s[i] == '=' || l.s[i] == '*'))
        i++;
    if (l.n - i < 8)
        return 0;
    for (size_t k = 0; k < sizeof returned_markers / sizeof *returned_markers; k++)
        if (lower((unsigned char)l.s[i]) == lower((unsigned char)returned_markers[k][0])
            && starts_caseless(l.s + i, l.n - i, returned_markers[k]))
            return 1;
    return 0;
}

/* Does s[0, n) hold needle (m > 0 bytes, case as written)? Searched for by its last byte that
 * is no space ('=' of " status=", '*' of " ** "): a space is in every few bytes of a line, and
 * each was a compare. */
static int holds(const char *s, size_t n, const char *needle, size_t m)
{
    size_t k = m - 1;
    while (k > 0 && needle[k] == ' ')
        k--;
    if (n < m)
        return 0;
    for (const char *p = s + k, *end = s + n - (m - 1 - k); p < end;) {
        const char *q = memchr(p, needle[k], (size_t)(end - p));
        if (!q)
            return 0;
        if (memcmp(q - k, needle, m) == 0)
            return 1;
        p = q + 1;
    }
    return 0;
}

/* The first CUE_SCAN bytes of a line lowercased, NUL-terminated (NUL bytes as spaces), and
 * the cues it holds. */
struct lowered {
    char s[CUE_SCAN + 1];
    size_t n;
    struct cue_hits hits;
};

/* A line's cues packed in r->cue_cache[line]: bit 31 set once found, the sets in bits 0-15,
 * 1 + the best format cue's rank in bits 16-24 (0: none). Several passes ask for the cues of
 * the same line; each line's are found once. */
#define CUE_CACHED (1u << 31)

static void cues_unpack(uint32_t c, struct cue_hits *h)
{
    unsigned rank = (c >> 16) & 0x1ffu;
    h->sets = c & 0xffffu;
    h->format_rank = rank ? rank - 1 : SIZE_MAX;
}

/* Line i lowered into out, with its cues. */
static const char *lower_line(const struct reader *r, size_t i, struct lowered *out)
{
    struct line l = line_at(r, i);
    size_t n = l.n < CUE_SCAN ? l.n : CUE_SCAN;
    for (size_t k = 0; k < n; k++)
        out->s[k] = (char)r->fold[(unsigned char)l.s[k]];
    out->s[n] = '\0';
    out->n = n;
    uint32_t c = r->cue_cache[i];
    if (!(c & CUE_CACHED) && i > 0 && (r->cue_cache[i - 1] & CUE_CACHED)) {
        /* a line like the one before it (a paste of one line repeated) has its cues */
        struct line prev = line_at(r, i - 1);
        if (prev.n == l.n && memcmp(prev.s, l.s, l.n) == 0)
            c = r->cue_cache[i] = r->cue_cache[i - 1];
    }
    if (c & CUE_CACHED) {
        cues_unpack(c, &out->hits);
        return out->s;
    }
    find_cues(&r->cues, out->s, n, &out->hits);
    c = CUE_CACHED | (uint32_t)out->hits.sets;
    if (out->hits.format_rank != SIZE_MAX)
        c |= (uint32_t)(out->hits.format_rank + 1) << 16;
    r->cue_cache[i] = c;
    return out->s;
}

/* The cues of line i only (out->s is not filled when they are known already). */
static void line_cues(const struct reader *r, size_t i, struct lowered *out)
{
    uint32_t c = r->cue_cache[i];
    if (c & CUE_CACHED) {
        out->n = 0;
        out->s[0] = '\0';
        cues_unpack(c, &out->hits);
        return;
    }
    lower_line(r, i, out);
}

static int has_set(const struct lowered *lw, enum cue_set set)
{
    return (lw->hits.sets >> set) & 1u;
}

/* "Fwd: Undeliverable: ...": the subject of a user's message that carries a bounce, not of
 * the bounce itself. */
static int forwarded_subject(const char *s)
{
    static const char *const prefixes[] = {"fwd:", "fw:", "tr:", "wg:", "re:", "aw:", "rv:"};
    while (*s == ' ' || *s == '\t')
        s++;
    for (size_t k = 0; k < sizeof prefixes / sizeof *prefixes; k++)
        if (strncmp(s, prefixes[k], strlen(prefixes[k])) == 0)
            return 1;
    return 0;
}

/* Notes the best format cue of the line. Returns 1 when the line has one. */
static int note_format(struct reader *r, const struct lowered *lw)
{
    if (!has_set(lw, SET_FORMAT))
        return 0;
    if (!r->format || lw->hits.format_rank < r->format_rank) {
        r->format = format_cues[lw->hits.format_rank].format;
        r->format_rank = lw->hits.format_rank;
    }
    return 1;
}

/* The report's own header line l (From:, Subject:, X-Failed-Recipients:): notes a generic
 * format when it tells a delivery report. */
static void note_header(struct reader *r, const struct lowered *lw)
{
    r->has_headers = 1;
    if (strncmp(lw->s, "subject:", 8) == 0 && forwarded_subject(lw->s + 8))
        return;
    note_format(r, lw);
    int tells = 0;
    if (strncmp(lw->s, "from:", 5) == 0)
        tells = has_set(lw, SET_SENDER);
    else if (strncmp(lw->s, "subject:", 8) == 0)
        tells = has_set(lw, SET_SUBJECT);
    else
        tells = strncmp(lw->s, "x-failed-recipients:", 20) == 0;
    if (tells && !r->format) {
        r->format = "generic";
        r->format_rank = sizeof format_cues / sizeof *format_cues;
    }
}

/* A header block of a message (two or more header lines, two of them a message's fields, no
 * delivery-status field) starting at line i of a text part: its end, or i when it is none. */
static size_t header_block_end(const struct reader *r, size_t i)
{
    size_t k = i, fields_seen = 0, known = 0;
    for (; k < r->lines && k < i + 200; k++) {
        (*r->work)++;
        if (r->m->kind[k] != KB_PART_TEXT)
            break;
        struct line l = line_at(r, k);
        if (is_blank(l))
            break;
        if (kb_mime_is_status_field(l.s, l.n))
            return i;
        if (kb_mime_is_message_field(l.s, l.n)) {
            known++;
            fields_seen++;
        } else if (l.n && is_space(l.s[0]) && fields_seen) {
            continue;
        } else {
            size_t c = 0;
            while (c < l.n && l.s[c] > ' ' && l.s[c] < 0x7f && l.s[c] != ':')
                c++;
            if (!(c && c < l.n && l.s[c] == ':'))
                break;
            fields_seen++;
        }
    }
    return known >= 2 && fields_seen >= 2 ? k : i;
}

/* Is the line part of the failure: a format's framing, a recipient, an SMTP reply, a status
 * code, the mail system quoting the reply? Before any such line, no returned original. What
 * the line alone says (all but its format cue, which note_format takes): *weak, *recipient. */
static int is_report_line(struct line l, const struct lowered *lw, int *weak, int *recipient)
{
    struct line addr;
    size_t rest, len;
    *weak = has_set(lw, SET_WEAK);
    *recipient = recipient_line(l, &addr, &rest);
    return *weak || *recipient || reply_line(l) || has_set(lw, SET_DIAGNOSTIC)
           || find_status(l.s, l.n, &len) < l.n;
}

/* What read_layout asked of the last line it read whole: a line with the same bytes has the
 * same answers (a paste of one line repeated asks them once). */
struct layout_memo {
    struct line l; /* l.s NULL: none */
    int marker, field;
    int content_known, content, weak, recipient;
};

/* Pass 1 over the text parts: the report's format, the returned original of the formats
 * without MIME (after a marker line, or a header block, that follows the failure), header
 * blocks before the failure (a forward's, the report's own). Also the format cues of the
 * header blocks (Subject: Undelivered Mail Returned to Sender). */
static void read_layout(struct reader *r)
{
    uint32_t part = UINT32_MAX;
    int content = 0, returned = 0, attached = 0, attached_returned = 0;
    struct layout_memo memo = {{NULL, 0}, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < r->lines; i++) {
        (*r->work)++;
        unsigned char kind = r->m->kind[i];
        /* A message attached to a known report (one without a delivery-status part: MDaemon,
         * Exchange's older reports) is its returned original; attached to anything else, it
         * is read like a paste (a bounce the user forwarded). */
        if (r->m->attached[i] && !attached)
            attached_returned = r->format != NULL;
        attached = r->m->attached[i] != 0;
        if (attached && attached_returned) {
            r->region[i] = KB_REGION_RETURNED;
            continue;
        }
        struct lowered lw;
        if (kind == KB_PART_HEADERS || kind == KB_PART_STATUS) {
            lower_line(r, i, &lw);
            if (kind == KB_PART_HEADERS)
                note_header(r, &lw);
            else
                note_format(r, &lw);
            continue;
        }
        if (kind != KB_PART_TEXT)
            continue;
        if (r->m->part[i] != part) {
            part = r->m->part[i];
            content = returned = 0;
        }
        if (returned) {
            r->region[i] = KB_REGION_RETURNED;
            continue;
        }
        struct line l = line_at(r, i);
        if (is_blank(l))
            continue;
        if (!(memo.l.s && memo.l.n == l.n && memcmp(memo.l.s, l.s, l.n) == 0)) {
            memo.l = l;
            memo.marker = is_returned_marker(l);
            memo.field = kb_mime_is_message_field(l.s, l.n);
            memo.content_known = 0;
        }
        int marker = memo.marker;
        r->saw_marker |= marker;
        /* once the text is known to be a report, any of its lines is the report */
        content |= r->format != NULL;
        if (marker && content) {
            returned = 1;
            r->region[i] = KB_REGION_RETURNED;
            continue;
        }
        size_t end = memo.field ? header_block_end(r, i) : i;
        if (end > i) {
            if (content) {
                returned = 1;
                r->region[i] = KB_REGION_RETURNED;
                continue;
            }
            for (size_t k = i; k < end; k++) {
                lower_line(r, k, &lw);
                note_header(r, &lw);
                r->region[k] = KB_REGION_REPORT_HEADERS;
            }
            i = end - 1;
            continue;
        }
        line_cues(r, i, &lw);
        if (!memo.content_known) {
            memo.content = is_report_line(l, &lw, &memo.weak, &memo.recipient);
            memo.content_known = 1;
        }
        r->weak_cue |= memo.weak;
        r->saw_recipient |= memo.recipient;
        content |= note_format(r, &lw) | memo.content;
    }
    if (!r->format && r->weak_cue && (r->has_headers || r->saw_recipient || r->saw_marker)) {
        r->format = "generic";
        r->format_rank = sizeof format_cues / sizeof *format_cues;
    }
}

static int new_recipient(struct reader *r)
{
    struct kb_report *rep = r->report;
    if (rep->recipient_count >= MAX_RECIPIENTS)
        return -1;
    struct kb_recipient *v = realloc(rep->recipients, (rep->recipient_count + 1) * sizeof *v);
    if (!v)
        return -2;
    rep->recipients = v;
    memset(&v[rep->recipient_count], 0, sizeof *v);
    return (int)rep->recipient_count++;
}

/* Sets *slot to a copy of the value at line first (and its continuation lines) unless it is
 * set already. *end receives the line after the field. */
static enum kb_status set_field(struct reader *r, char **slot, size_t first, size_t value_at,
                                int typed, size_t *end)
{
    struct line l = line_at(r, first);
    size_t i = first + 1;
    /* folded continuation lines start with white space */
    while (i < r->lines && r->m->kind[i] == r->m->kind[first]) {
        struct line c = line_at(r, i);
        if (!c.n || !is_space(c.s[0]) || is_blank(c))
            break;
        i++;
    }
    *end = i;
    if (*slot)
        return KB_OK;
    kb_buf_reset(&r->scratch);
    enum kb_status st = kb_buf_append(&r->scratch, l.s + value_at, l.n - value_at);
    for (size_t k = first + 1; k < i && st == KB_OK && r->scratch.len < MAX_FIELD; k++) {
        struct line c = trimmed(line_at(r, k));
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

static void place(struct reader *r, size_t from, size_t to, unsigned char region, uint16_t owner)
{
    for (size_t k = from; k < to; k++) {
        r->region[k] = region;
        r->owner[k] = owner;
        r->done[k] = 1;
    }
}

/* Pass 2: the RFC 3464 fields, in delivery-status parts and wherever they stand in the text
 * outside the returned original. */
static enum kb_status read_fields(struct reader *r)
{
    struct kb_report *rep = r->report;
    int cur = -1, dropped = 0;
    unsigned seen = 0; /* the fields the current recipient has, 1 << enum field */
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < r->lines && st == KB_OK;) {
        (*r->work)++;
        unsigned char kind = r->m->kind[i];
        int text = kind == KB_PART_TEXT && r->region[i] == KB_REGION_TEXT;
        if (kind != KB_PART_STATUS && !text) {
            cur = -1;
            i++;
            continue;
        }
        struct line l = line_at(r, i);
        if (is_blank(l)) { /* blocks of fields are separated by blank lines */
            cur = -1;
            dropped = 0;
            seen = 0;
            i++;
            continue;
        }
        size_t at = 0, end = i + 1;
        enum field f = field_of(l, &at);
        if (f == F_STATUS) {
            struct line v = trimmed((struct line){l.s + at, l.n - at});
            if (!v.n || !is_digit(v.s[0]))
                f = F_NONE; /* "Status: O" of a mailbox file, not a status code */
        }
        if (f == F_NONE) {
            if (kind == KB_PART_STATUS)
                place(r, i, i + 1, KB_REGION_REPORT_HEADERS,
                      cur >= 0  ? (uint16_t)(cur + 1)
                      : dropped ? OWNER_DROPPED
                                : 0);
            i++;
            continue;
        }
        if (f == F_REPORTING_MTA) {
            st = set_field(r, &rep->reporting_mta, i, at, 1, &end);
            place(r, i, end, KB_REGION_REPORT_HEADERS, 0);
            i = end;
            continue;
        }
        /* One recipient per block of fields, whatever their order (some MTAs put Action
         * first, Postfix Final-Recipient before Original-Recipient); a field the current
         * recipient already has starts the next one (reports that run their recipients
         * together). Outside a delivery-status part a recipient starts only at a field
         * that names one or at a Diagnostic-Code, unless the text is a known report. */
        unsigned bit = 1u << f;
        int next = cur >= 0 && (seen & bit);
        if ((cur < 0 && !dropped) || next) {
            if (cur < 0 && kind != KB_PART_STATUS && !r->format && f != F_FINAL_RECIPIENT
                && f != F_ORIGINAL_RECIPIENT && f != F_DIAGNOSTIC) {
                i++;
                continue;
            }
            cur = new_recipient(r);
            if (cur == -2)
                return KB_ERR_NOMEM;
            dropped = cur < 0; /* over the cap: the first recipients are kept */
            seen = 0;
            if (cur >= 0)
                r->dsn_recipients++;
        }
        seen |= bit;
        if (cur >= 0 && f == F_FINAL_RECIPIENT) {
            /* the final address wins over the original one */
            free(rep->recipients[cur].address);
            rep->recipients[cur].address = NULL;
        }
        uint16_t owner = cur >= 0 ? (uint16_t)(cur + 1) : OWNER_DROPPED;
        if (cur < 0) {
            place(r, i, i + 1, KB_REGION_REPORT_HEADERS, owner);
            i++;
            continue;
        }
        struct kb_recipient *p = &rep->recipients[cur];
        unsigned char region = KB_REGION_REPORT_HEADERS;
        switch (f) {
        case F_FINAL_RECIPIENT:
        case F_ORIGINAL_RECIPIENT: st = set_field(r, &p->address, i, at, 1, &end); break;
        case F_ACTION: st = set_field(r, &p->action, i, at, 0, &end); break;
        case F_STATUS:
            st = set_field(r, &p->status, i, at, 0, &end);
            if (!r->status_line[cur])
                r->status_line[cur] = i + 1;
            break;
        case F_REMOTE_MTA: st = set_field(r, &p->remote_mta, i, at, 1, &end); break;
        case F_DIAGNOSTIC:
            st = set_field(r, &p->diagnostic, i, at, 1, &end);
            if (!p->line)
                p->line = i + 1;
            r->dsn_diag[cur] = 1;
            r->any_dsn_diag = 1;
            region = KB_REGION_DIAGNOSTIC;
            break;
        default: break;
        }
        place(r, i, end, region, owner);
        i = end;
    }
    /* A recipient's Status is its diagnostic when it has no Diagnostic-Code; else what the
     * reporting MTA made of it (often wrong: "5.1.1" for a full mailbox), explanation. */
    for (size_t k = 0; k < rep->recipient_count; k++) {
        if (!r->status_line[k])
            continue;
        size_t i = r->status_line[k] - 1, end = i + 1;
        while (end < r->lines && r->done[end] && r->owner[end] == k + 1 && line_at(r, end).n
               && is_space(line_at(r, end).s[0]))
            end++;
        for (size_t j = i; j < end; j++)
            r->region[j] = r->dsn_diag[k] ? KB_REGION_EXPLANATION : KB_REGION_DIAGNOSTIC;
    }
    return st;
}

/* The recipient named by the address at a: an existing one (same address, caseless), or,
 * when create and the report has no delivery-status fields, a new one. 0 when none. */
static uint16_t owner_for(struct reader *r, struct line a, int create)
{
    struct kb_report *rep = r->report;
    for (size_t k = 0; k < rep->recipient_count; k++) {
        const char *x = rep->recipients[k].address;
        if (x && strlen(x) == a.n && starts_caseless(a.s, a.n, x))
            return (uint16_t)(k + 1);
    }
    if (r->dsn_recipients) {
        /* a report of one recipient: every paragraph is about it (aliases, rewritten
         * addresses) */
        return r->dsn_recipients == 1 ? 1 : 0;
    }
    if (!create)
        return 0;
    int k = new_recipient(r);
    if (k < 0)
        return k == -1 ? OWNER_DROPPED : 0;
    rep->recipients[k].address = field_copy(a.s, a.n);
    return (uint16_t)(k + 1);
}

/* Adds a line of a recipient's failure to the text that becomes its diagnostic. */
static void collect_diagnostic(struct reader *r, uint16_t owner, struct line l, size_t line)
{
    if (!owner || owner > MAX_RECIPIENTS || r->dsn_diag[owner - 1])
        return;
    struct kb_buf *b = &r->diag_text[owner - 1];
    struct line t = trimmed(l);
    /* Sendmail's "(reason: 550 ...)" around the remote server's reply; its note of the alias
     * the address came from is no failure */
    if (t.n > 9 && starts_caseless(t.s, t.n, "(reason:") && t.s[t.n - 1] == ')')
        t = trimmed((struct line){t.s + 8, t.n - 9});
    if (!t.n || b->len >= MAX_FIELD || starts_caseless(t.s, t.n, "(expanded from"))
        return;
    struct kb_recipient *p = &r->report->recipients[owner - 1];
    if (!p->line)
        p->line = line + 1;
    if (b->len)
        kb_buf_append_char(b, ' ');
    kb_buf_append(b, t.s, t.n); /* out of memory: the diagnostic is shorter */
}

/* A rule drawn across the text ("|------- Message text follows: -------|", "=====", "*****"):
 * a frame of the report, never part of a failure. */
static int is_rule_line(struct line t)
{
    size_t k = 0;
    while (k < t.n && k < 3 && strchr("-=|*_#+", t.s[k]) && t.s[k])
        k++;
    return k == 3;
}

/* Does the line after i (past one blank line) name a recipient? Then a line i ending in ':'
 * is the heading of that list ("The following recipients did not receive your message:"),
 * not a failure. */
static int heads_recipients(const struct reader *r, size_t i)
{
    struct line addr;
    size_t rest;
    for (size_t j = i + 1; j < r->lines && j <= i + 2; j++) {
        struct line l = line_at(r, j);
        if (is_blank(l))
            continue;
        return recipient_line(l, &addr, &rest);
    }
    return 0;
}

/* Does the line name an address in angle brackets and then quote a failure reply for it
 * ("recipient <x@example.com> rejected: 550 5.7.1 ...", a reporting MTA's log line)? Sets
 * *addr to that address. */
static int names_replied(struct line t, struct line *addr)
{
    for (size_t k = 0; k + 1 < t.n; k++) {
        if (t.s[k] != '<')
            continue;
        size_t alen = address_len(t.s + k + 1, t.n - k - 1);
        if (!alen || k + 1 + alen >= t.n || t.s[k + 1 + alen] != '>')
            continue;
        size_t after = k + 2 + alen;
        *addr = (struct line){t.s + k + 1, alen};
        return reply_at(t.s + after, t.n - after) != 0;
    }
    return 0;
}

static char *remote_host(const char *s, size_t n);

/* The reply code of an SMTP reply line ("<<< 553 ...", "550-5.1.1 ..."), 0 when it is none. */
static unsigned reply_code(struct line l)
{
    if (!reply_line(l))
        return 0;
    struct line t = trimmed(unquoted(l));
    if (starts_caseless(t.s, t.n, "<<<"))
        t = trimmed((struct line){t.s + 3, t.n - 3});
    if (t.n && t.s[0] == '#')
        t = (struct line){t.s + 1, t.n - 1};
    return (unsigned)(t.s[0] - '0') * 100 + (unsigned)(t.s[1] - '0') * 10
           + (unsigned)(t.s[2] - '0');
}

/* Does the recipient's failure text already quote a server's reply? */
static int has_reply(const struct reader *r, uint16_t owner)
{
    if (!owner || owner > MAX_RECIPIENTS)
        return 0;
    const struct kb_buf *b = &r->diag_text[owner - 1];
    return b->len && (reply_at(b->data, b->len) || reply_line((struct line){b->data, b->len}));
}

/* Pass 3: the explanation, for a report. Lines of a recipient's paragraph (from the line
 * naming it to the next blank line), lines after a cue of the failure, SMTP replies (and
 * their transcript) are the failure: diagnostic, unless the recipient's delivery-status
 * fields carry its Diagnostic-Code (then that is the failure, and these explain it).
 *
 * In a session transcript (">>>" the reporting MTA's commands, "<<<" the remote server's
 * replies: Sendmail, Courier, MDaemon) the remote server's reply is the failure. The reply
 * the reporting MTA words itself right after it ("550 5.1.1 <x>... User unknown", whatever
 * the remote said) is its own summary, and a later "503 bad sequence of commands" only says
 * that the session went on after the failure: both explain it. */
static void read_explanation(struct reader *r)
{
    uint16_t para = 0, last = 0, transcript = 0;
    /* after_cue: 1 while the lines after a cue are the failure; 2 when the cue line ended in
     * a colon and nothing has followed yet ("because:", a blank line, the reason) */
    int in_para = 0, after_cue = 0;
    /* replied: the remote server's last line of the transcript was a failure reply (until
     * the next command); remote_failed: some reply of the transcript was */
    int replied = 0, remote_failed = 0, continued = 0;
    struct line talking = {NULL, 0}; /* Sendmail's "... while talking to mx.example.net.:" */
    size_t para_indent = 0, para_start = 0;
    uint16_t sole = r->dsn_recipients == 1 ? 1 : 0; /* the only recipient there is */
    uint32_t part = UINT32_MAX;
    for (size_t i = 0; i < r->lines; i++) {
        (*r->work)++;
        if (r->m->kind[i] != KB_PART_TEXT || r->done[i] || r->region[i] != KB_REGION_TEXT) {
            in_para = after_cue = 0;
            continue;
        }
        if (r->m->part[i] != part) {
            part = r->m->part[i];
            in_para = after_cue = 0;
            para = last = transcript = 0;
            replied = remote_failed = continued = 0;
            talking.n = 0;
        }
        struct line l = line_at(r, i), addr;
        struct lowered lw;
        size_t rest;
        int diag = 0;
        uint16_t owner = 0;
        if (is_blank(l)) {
            in_para = 0;
            after_cue = after_cue == 2 ? 2 : 0;
            r->region[i] = KB_REGION_EXPLANATION;
            continue;
        }
        struct line t = trimmed(l);
        size_t indent = (size_t)(t.s - l.s);
        /* a line of a paragraph indented under its recipient line continues it, even when it
         * starts with an address ("    <x@example.com>... User unknown") */
        size_t value_at;
        if ((in_para || after_cue)
            && ((is_rule_line(t) && (line_cues(r, i, &lw), !has_set(&lw, SET_DIAGNOSTIC)))
                || (in_para && indent <= para_indent && t.n && t.s[t.n - 1] == ':'
                    && heads_recipients(r, i)))) {
            in_para = after_cue = 0; /* a frame, or the heading of the next recipients */
        } else if (!(in_para && indent > para_indent) && recipient_line(l, &addr, &rest)) {
            para = last = owner = owner_for(r, addr, 1);
            in_para = diag = 1;
            para_indent = indent;
            para_start = i;
            /* "user@example.com; Action: Delayed": a field of the report, not its failure */
            struct line after = {l.s + rest, l.n - rest};
            if (rest < l.n && field_of(trimmed(after), &value_at) == F_NONE)
                collect_diagnostic(r, owner, after, i);
            else if (rest < l.n)
                diag = 0;
        } else if (starts_caseless(t.s, t.n, ">>>")) {
            /* the reporting MTA's side of a transcript: "RCPT TO:<x>" says whose reply follows */
            size_t at = find_caseless(t.s, t.n, "RCPT TO:");
            if (at < t.n) {
                size_t a = at + 8;
                a += a < t.n && t.s[a] == '<';
                size_t alen = address_len(t.s + a, t.n - a);
                if (alen)
                    transcript = owner_for(r, (struct line){t.s + a, alen}, 0);
            }
            owner = in_para ? para : transcript;
            replied = continued = 0;
        } else if (starts_caseless(t.s, t.n, "... while talking to ")) {
            talking = t;
        } else if (starts_caseless(t.s, t.n, "<<<")) {
            /* the remote server's reply in a transcript; one that is no failure ("<<< 221
             * Bye") explains */
            unsigned code = reply_code(t);
            struct line reply = trimmed((struct line){t.s + 3, t.n - 3});
            owner = transcript ? transcript : in_para ? para : last ? last : sole;
            diag = code && !(code == 503 && remote_failed);
            /* the first reply is the failure (the recipient's paragraph may have quoted it
             * already: Sendmail's "(reason: ...)"), with the lines of a multi-line one */
            if (diag && (continued || !has_reply(r, owner)))
                collect_diagnostic(r, owner, reply, i);
            struct kb_recipient *p =
                owner && owner <= MAX_RECIPIENTS ? &r->report->recipients[owner - 1] : NULL;
            if (diag && p && !p->remote_mta && talking.n)
                p->remote_mta = remote_host(talking.s, talking.n); /* none when out of memory */
            continued = diag && reply.n > 3 && reply.s[3] == '-';
            replied = code != 0;
            remote_failed |= replied;
        } else if (replied && reply_line(t)) {
            owner = transcript ? transcript : last ? last : sole; /* the MTA's own summary */
        } else if (in_para && starts_caseless(t.s, t.n, "Giving up on ")) {
            owner = para; /* qmail's closing note of the paragraph */
        } else if (in_para) {
            owner = para;
            diag = 1;
            collect_diagnostic(r, owner, l, i);
            size_t at = reply_at(t.s, t.n);
            if (at && (line_cues(r, i, &lw), has_set(&lw, SET_DIAGNOSTIC))) {
                /* "Remote host said: 550 ...": the remote server's reply; the reporting MTA's
                 * own words before it in the paragraph ("198.51.100.7 does not like
                 * recipient.") only frame it */
                for (size_t j = para_start + 1; j < i; j++)
                    if (r->region[j] == KB_REGION_DIAGNOSTIC && r->owner[j] == para
                        && !reply_line(line_at(r, j)))
                        r->region[j] = KB_REGION_EXPLANATION;
            }
        } else if ((line_cues(r, i, &lw), has_set(&lw, SET_DIAGNOSTIC))) {
            owner = last ? last : sole;
            diag = 1;
            after_cue = t.n && t.s[t.n - 1] == ':' ? 2 : 1;
            collect_diagnostic(r, owner, l, i);
        } else if (after_cue) {
            owner = last ? last : sole;
            diag = after_cue = 1;
            collect_diagnostic(r, owner, l, i);
        } else if (names_replied(t, &addr)) {
            /* a log line of the reporting MTA quoting the reply for a recipient it names */
            owner = owner_for(r, addr, 0);
            if (!owner)
                owner = last ? last : sole;
            diag = 1;
            collect_diagnostic(r, owner, l, i);
        } else if (reply_line(l)) {
            /* "550 5.1.1 <x>... User unknown": the address in it says whose */
            owner = transcript ? transcript : last ? last : sole;
            for (size_t k = 0; k + 1 < t.n; k++)
                if (t.s[k] == '<') {
                    size_t alen = address_len(t.s + k + 1, t.n - k - 1);
                    uint16_t o = alen ? owner_for(r, (struct line){t.s + k + 1, alen}, 0) : 0;
                    if (o)
                        owner = o;
                    break;
                }
            diag = 1;
            collect_diagnostic(r, owner, l, i);
        }
        r->owner[i] = owner;
        int superseded =
            owner && owner <= MAX_RECIPIENTS ? r->dsn_diag[owner - 1] : r->any_dsn_diag;
        r->region[i] = diag && !superseded ? KB_REGION_DIAGNOSTIC : KB_REGION_EXPLANATION;
    }
}

/* The host name before " [1.2.3.4]" or "[1.2.3.4]" in s[0, n) ("host mx.example.com[192.0.2.1]
 * said", "mx.example.com [192.0.2.1]:"), or after "while talking to ". */
static char *remote_host(const char *s, size_t n)
{
    size_t at = find_caseless(s, n, "while talking to ");
    if (at < n) {
        size_t b = at + 17, e = b;
        while (e < n && (is_alnum(s[e]) || s[e] == '-' || s[e] == '.'))
            e++;
        while (e > b && s[e - 1] == '.')
            e--;
        if (e > b)
            return field_copy(s + b, e - b);
    }
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] != '[' || !(is_digit(s[i + 1]) || starts_caseless(s + i + 1, n - i - 1, "ipv6")))
            continue;
        size_t e = i;
        if (s[e - 1] == ' ')
            e--;
        while (e > 0 && s[e - 1] == '.')
            e--;
        size_t b = e;
        while (b > 0 && (is_alnum(s[b - 1]) || s[b - 1] == '-' || s[b - 1] == '.'))
            b--;
        if (e > b && memchr(s + b, '.', e - b) && !is_digit(s[e - 1]))
            return field_copy(s + b, e - b);
    }
    return NULL;
}

/* Where the reporting MTA names itself in the explanation. */
static enum kb_status find_reporter(struct reader *r)
{
    for (size_t i = 0; i < r->lines && !r->report->reporting_mta; i++) {
        (*r->work)++;
        if (r->m->kind[i] != KB_PART_TEXT || r->region[i] == KB_REGION_RETURNED)
            continue;
        struct line l = line_at(r, i);
        size_t n = l.n < CUE_SCAN ? l.n : CUE_SCAN;
        for (size_t k = 0; k < sizeof reporter_cues / sizeof *reporter_cues; k++) {
            size_t at = find_caseless(l.s, n, reporter_cues[k]);
            if (at == n)
                continue;
            size_t b = at + strlen(reporter_cues[k]), e = b;
            while (e < l.n && (is_alnum(l.s[e]) || l.s[e] == '-' || l.s[e] == '.'))
                e++;
            while (e > b && l.s[e - 1] == '.')
                e--;
            if (e > b && memchr(l.s + b, '.', e - b)) {
                if (!(r->report->reporting_mta = field_copy(l.s + b, e - b)))
                    return KB_ERR_NOMEM;
                break;
            }
        }
    }
    return KB_OK;
}

/* ---- MTA delivery logs ------------------------------------------------------------------- */

/* The value after key ("to=", "relay=", "dsn=", "status=") up to a separator. */
static struct line log_value(struct line l, const char *key)
{
    size_t at = find_caseless(l.s, l.n, key);
    if (at == l.n)
        return (struct line){NULL, 0};
    size_t b = at + strlen(key), e = b;
    while (e < l.n && l.s[e] != ',' && !is_space(l.s[e]))
        e++;
    return (struct line){l.s + b, e - b};
}

/* One Postfix log line of a delivery attempt that did not succeed ("postfix/smtp[..]: ID:
 * to=<x>, relay=mx.example.com[192.0.2.1]:25, ..., dsn=5.1.1, status=bounced (host ...
 * said: ...)") or one Exim log line of a failed ("**") or deferred ("==") delivery. The
 * recipient it reports; -1 when the line is none; -2 when out of memory. */
static int read_log_line(struct reader *r, struct line l, size_t i)
{
    struct line to, relay = {NULL, 0}, dsn = {NULL, 0}, status;
    const char *format, *action;
    size_t diag_at = l.n;
    if (contains_caseless(l.s, l.n, "postfix/")) {
        to = log_value(l, " to=<");
        status = log_value(l, " status=");
        if (!to.n || !status.n)
            return -1;
        if (to.s[to.n - 1] == '>')
            to.n--;
        if (starts_caseless(status.s, status.n, "sent")
            || starts_caseless(status.s, status.n, "deliverable"))
            return -1;
        action = starts_caseless(status.s, status.n, "deferred") ? "delayed" : "failed";
        relay = log_value(l, " relay=");
        dsn = log_value(l, " dsn=");
        diag_at = (size_t)(status.s + status.n - l.s);
        while (diag_at < l.n && (is_space(l.s[diag_at]) || l.s[diag_at] == '('))
            diag_at++;
        format = "postfix-log";
    } else {
        size_t at = find_caseless(l.s, l.n, " ** ");
        action = "failed";
        if (at == l.n) {
            at = find_caseless(l.s, l.n, " == ");
            action = "delayed";
        }
        if (at == l.n || !contains_caseless(l.s, l.n, " R=") || !contains_caseless(l.s, l.n, " T="))
            return -1;
        size_t a = at + 4;
        size_t alen = address_len(l.s + a, l.n - a);
        if (!alen)
            return -1;
        to = (struct line){l.s + a, alen};
        size_t t = find_caseless(l.s, l.n, " T=");
        size_t colon = find_caseless(l.s + t, l.n - t, ": ");
        diag_at = t + colon < l.n ? t + colon + 2 : l.n;
        format = "exim-log";
    }
    uint16_t owner = owner_for(r, to, 1);
    if (!owner)
        return -2;
    if (owner > MAX_RECIPIENTS)
        return OWNER_DROPPED;
    struct kb_recipient *p = &r->report->recipients[owner - 1];
    if (!p->action && !(p->action = field_copy(action, strlen(action))))
        return -2;
    if (dsn.n && !p->status && !(p->status = field_copy(dsn.s, dsn.n)))
        return -2;
    if (relay.n && !p->remote_mta) {
        size_t e = 0;
        while (e < relay.n && relay.s[e] != '[' && relay.s[e] != ':')
            e++;
        if (e && !(e == 4 && starts_caseless(relay.s, e, "none"))
            && !(p->remote_mta = field_copy(relay.s, e)))
            return -2;
        /* an MTA relaying through a submission port (a smarthost: the provider's SMTP
         * server) is the application's own leg; port 25 is the delivery between servers */
        size_t colon = e;
        while (colon < relay.n && relay.s[colon] != ':')
            colon++;
        if (colon + 1 < relay.n
            && !(relay.n - colon - 1 == 2 && relay.s[colon + 1] == '2'
                 && relay.s[colon + 2] == '5'))
            r->report->leg = "submission";
    }
    if (diag_at < l.n && !p->diagnostic) {
        size_t e = l.n;
        if (e > diag_at && l.s[e - 1] == ')')
            e--;
        if (!(p->diagnostic = field_copy(l.s + diag_at, e - diag_at)))
            return -2;
        p->line = i + 1;
        /* the relay's login: a smarthost's (servers between domains do not log in) */
        size_t dn = strlen(p->diagnostic);
        if (contains_caseless(p->diagnostic, dn, "SASL")
            || contains_caseless(p->diagnostic, dn, "in reply to AUTH command"))
            r->report->leg = "submission";
    }
    if (!r->log_format) /* a log line says more than the words of a report it quotes */
        r->format = r->log_format = format;
    return owner;
}

/* ---- a diagnostic line pasted alone ------------------------------------------------------ */

/* A customer often pastes only the line of a bounce that says what failed. Alone it reads like
 * the application's own connection problem ("connect to ...: Connection timed out"), but an
 * MTA's delivery agent words it in a form of its own: it names the recipient's server as
 * host[address] (Postfix smtp_connect.c "connect to %s[%s]:%d", smtp_proto.c "host %s[%s]
 * said:"), says which lookup of the recipient's domain failed (Postfix dns_lookup.c "Name
 * service error for name=%s type=%s"), or where in the dialogue with the remote server it failed
 * (Sendmail "... while talking to %s:", Postfix "(in reply to %s command)", Gmail's "Technical
 * details of permanent failure:"). Only the form is
 * read here, at the start of a line (after the recipient it names): a log line has its
 * timestamp and program there, and an MTA's own log may be of either leg. Which failure means
 * which cause stays the articles' business (conditions on leg=delivery). */

#define FORM_SCAN 240

/* The form's text: the line from where the failure starts, lowercased, with the next lines
 * of a wrapped diagnostic (indented continuations) joined by one space, at most FORM_SCAN
 * bytes. */
struct flat {
    char s[FORM_SCAN + 1];
    size_t n;
};

static void flat_append(struct flat *f, struct line l)
{
    for (size_t i = 0; i < l.n && f->n < FORM_SCAN; i++) {
        char c = is_space(l.s[i]) || !l.s[i] ? ' ' : (char)lower((unsigned char)l.s[i]);
        if (c == ' ' && (!f->n || f->s[f->n - 1] == ' '))
            continue;
        f->s[f->n++] = c;
    }
    f->s[f->n] = '\0';
}

/* At s (in a struct flat): "name[address]" and an optional ":port"; its length, 0 when s is
 * no such host. *port is the port named, 0 when none. */
static size_t bracketed_host(const char *s, size_t n, long *port)
{
    size_t i = 0;
    while (i < n && (is_alnum(s[i]) || s[i] == '.' || s[i] == '-' || s[i] == '_'))
        i++;
    if (i == 0 || i >= n || s[i] != '[')
        return 0;
    size_t a = ++i;
    while (i < n && (is_alnum(s[i]) || s[i] == '.' || s[i] == ':' || s[i] == '*'))
        i++;
    if (i == a || i >= n || s[i] != ']')
        return 0;
    i++;
    *port = 0;
    if (i + 1 < n && s[i] == ':' && is_digit(s[i + 1])) {
        size_t d = i + 1;
        while (d < n && d < i + 6 && is_digit(s[d]))
            *port = *port * 10 + (s[d++] - '0');
        i = d;
    }
    return i;
}

/* Does the flat text at s start with a delivery agent's form? */
static int delivery_form(const char *s, size_t n)
{
    /* every form below starts with one of these bytes (the text is lowered, its leading white
     * space dropped): most lines are done with at one test */
    if (!n || !memchr("chln.t45", s[0], 8))
        return 0;
    static const char *const before_host[] = {"connect to ", "host ", "conversation with ",
                                              "lost connection with "};
    for (size_t k = 0; k < sizeof before_host / sizeof *before_host; k++) {
        size_t m = strlen(before_host[k]);
        long port = 0;
        size_t h;
        if (n > m && memcmp(s, before_host[k], m) == 0
            && (h = bracketed_host(s + m, n - m, &port)) != 0 && m + h < n
            && (s[m + h] == ':' || s[m + h] == ' '))
            /* another port than 25 is a relay's submission to its smarthost */
            return port == 0 || port == 25;
    }
    static const char *const openings[] = {
        "host or domain name not found. name service error for name=",
        "name service error for name=",
        "name service error for domain ",
        "... while talking to ",
        "technical details of permanent failure:",
        "technical details of temporary failure:"};
    for (size_t k = 0; k < sizeof openings / sizeof *openings; k++)
        if (starts_caseless(s, n, openings[k]))
            return 1;
    /* a remote server's reply as the delivery agent quotes it: "550 5.1.1 ... (in reply to
     * RCPT TO command)" */
    if (n > 4 && (s[0] == '4' || s[0] == '5') && is_digit(s[1]) && is_digit(s[2])
        && (s[3] == ' ' || s[3] == '-')) {
        size_t at = find_caseless(s, n, "(in reply to ");
        return at < n && find_caseless(s + at, n - at, " command)") < n - at;
    }
    return 0;
}

/* Is some line of a text that is no report a diagnostic line in a delivery agent's form? */
static int read_delivery_form(struct reader *r)
{
    for (size_t i = 0; (i = skip_empty(r, i)) < r->lines; i++) {
        (*r->work)++;
        if (r->region[i] != KB_REGION_TEXT)
            continue;
        struct line whole = line_at(r, i), addr;
        /* an empty line starts no form; one it would read on to (an indented line below) is
         * read from its own start, with more of what follows it */
        if (!whole.n)
            continue;
        struct line l = unquoted(whole);
        size_t rest = 0;
        if (recipient_line(whole, &addr, &rest)) {
            if (rest >= whole.n)
                continue;
            l = (struct line){whole.s + rest, whole.n - rest};
        }
        l = trimmed(l);
        /* the flat text starts at the line's first byte that is no blank (NUL reads as one): when
         * that cannot start a form (delivery_form's first test), and no Diagnostic-Code's type is
         * there to skip, the line is done with */
        size_t first = 0;
        while (first < l.n && (!l.s[first] || is_space(l.s[first])))
            first++;
        if (first < l.n && !memchr("chln.t45", lower((unsigned char)l.s[first]), 8)
            && !memchr(l.s, ';', l.n < 17 ? l.n : 17))
            continue;
        /* a Diagnostic-Code's type ("smtp; ", "X-Postfix; ") */
        size_t t = 0;
        while (t < l.n && t < 16 && (is_alnum(l.s[t]) || l.s[t] == '-'))
            t++;
        if (t && t < l.n && l.s[t] == ';')
            l = trimmed((struct line){l.s + t + 1, l.n - t - 1});
        struct flat f; /* not zeroed: flat_append ends what it writes with a NUL */
        f.n = 0;
        f.s[0] = '\0';
        flat_append(&f, l);
        /* a diagnostic wraps onto indented lines ("connect to\n    mx.example.com[...]") */
        for (size_t j = i + 1; j < r->lines && j <= i + 2 && f.n < FORM_SCAN; j++) {
            struct line next = line_at(r, j);
            if (!next.n || !is_space(next.s[0]) || r->region[j] != KB_REGION_TEXT)
                break;
            flat_append(&f, (struct line){" ", 1});
            flat_append(&f, trimmed(next));
        }
        if (delivery_form(f.s, f.n))
            return 1;
    }
    return 0;
}

/* Pass 2b: delivery log lines in the text, for a paste that is no report message. */
static enum kb_status read_logs(struct reader *r)
{
    for (size_t i = 0; (i = skip_empty(r, i)) < r->lines; i++) {
        (*r->work)++;
        if (r->m->kind[i] != KB_PART_TEXT || r->region[i] != KB_REGION_TEXT || r->done[i])
            continue;
        struct line l = line_at(r, i);
        /* the log's own syntax, as the MTA writes it */
        if (l.n < 20
            || !(holds(l.s, l.n, " status=", 8) || holds(l.s, l.n, " ** ", 4)
                 || holds(l.s, l.n, " == ", 4)))
            continue;
        int owner = read_log_line(r, l, i);
        if (owner == -2)
            return KB_ERR_NOMEM;
        if (owner > 0)
            place(r, i, i + 1, KB_REGION_DIAGNOSTIC, (uint16_t)owner);
    }
    return KB_OK;
}

/* ---- messages that report no failure ----------------------------------------------------- */

/* What the text says that tells a message reporting no failure, read in one pass over the
 * lines outside the returned original. */
struct notice {
    int feedback;    /* an abuse report: report-type=feedback-report, Feedback-Type: */
    int disposition; /* report-type=disposition-notification, or Disposition: and Reporting-UA: */
    int reporting_ua;
    int mdn_type;       /* report-type=disposition-notification */
    int read;           /* "Subject: Read:", "was read on" */
    int success;        /* a mail system's words for a successful delivery */
    int auto_reply;     /* RFC 3834 Auto-Submitted: auto-replied, X-Autoreply:, an auto-reply
                         * subject, Precedence: auto_reply */
    int away;           /* the words of a vacation message */
    int auto_generated; /* Auto-Submitted: other than "no" */
    int delivered;      /* a sending service's delivery event (JSON) */
    int failure;        /* an SMTP failure reply, a status code or the words of a failure */
};

/* Does the lowered line hold the JSON pair "key": "value" (white space around the colon)? */
static int json_says(const char *low, const char *key, const char *value)
{
    size_t kn = strlen(key), vn = strlen(value);
    for (const char *p = low; (p = strchr(p, '"')) != NULL; p++) {
        if (strncmp(p + 1, key, kn) != 0 || p[1 + kn] != '"')
            continue;
        const char *q = p + 2 + kn;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q++ != ':')
            continue;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '"' && strncmp(q + 1, value, vn) == 0 && q[1 + vn] == '"')
            return 1;
    }
    return 0;
}

static void read_notice(const struct reader *r, struct notice *n)
{
    memset(n, 0, sizeof *n);
    /* the last line read: what a line says only adds to the notice, so a line like it, in a
     * part of the same kind, adds nothing (a paste of one line repeated) */
    struct line last = {NULL, 0};
    unsigned char last_kind = 0;
    for (size_t i = 0; (i = skip_empty(r, i)) < r->lines; i++) {
        (*r->work)++;
        if (r->region[i] == KB_REGION_RETURNED || r->m->kind[i] == KB_PART_RETURNED)
            continue;
        struct line l = line_at(r, i);
        if (!l.n)
            continue; /* an empty line says none of it (a paste of line breaks has a million) */
        if (last.s && r->m->kind[i] == last_kind && l.n == last.n && memcmp(l.s, last.s, l.n) == 0)
            continue;
        last = l;
        last_kind = r->m->kind[i];
        struct lowered lw;
        const char *low = lower_line(r, i, &lw);
        /* the header fields below need a colon, the report types an '=', the JSON events a
         * quote: most lines have none of them, and are passed at three memchr */
        int colon = memchr(low, ':', lw.n) != NULL, equals = memchr(low, '=', lw.n) != NULL;
        int quoted = memchr(low, '"', lw.n) != NULL;
        n->feedback |= (colon
                        && (strncmp(low, "feedback-type:", 14) == 0
                            /* Microsoft's junk-mail reporting (JMRP) */
                            || strncmp(low, "x-hmxmroriginalrecipient:", 25) == 0))
                       || (equals && strstr(low, "report-type=feedback-report") != NULL)
                       /* the feedback events of sending services' APIs */
                       || (quoted
                           && (json_says(low, "notificationtype", "complaint")
                               || json_says(low, "event", "spamreport")
                               || json_says(low, "event", "complained")));
        n->delivered |= quoted
                        && (json_says(low, "notificationtype", "delivery")
                            || json_says(low, "event", "delivered"));
        n->disposition |= colon && strncmp(low, "disposition:", 12) == 0;
        n->reporting_ua |= colon && strncmp(low, "reporting-ua:", 13) == 0;
        n->mdn_type |= equals && strstr(low, "report-type=disposition-notification") != NULL;
        n->read |= (colon && strncmp(low, "subject: read:", 14) == 0)
                   || strstr(low, "was read on ") != NULL;
        n->success |= has_set(&lw, SET_SUCCESS);
        n->away |= has_set(&lw, SET_AWAY);
        if (colon) {
            n->auto_generated |= strncmp(low, "auto-submitted:", 15) == 0 && !strstr(low, ": no");
            n->auto_reply |=
                (strncmp(low, "auto-submitted:", 15) == 0 && strstr(low, "auto-replied"))
                || strncmp(low, "x-autoreply:", 12) == 0 || strncmp(low, "x-autorespond:", 14) == 0
                || (strncmp(low, "subject:", 8) == 0 && has_set(&lw, SET_AUTO_SUBJECT))
                || (strncmp(low, "precedence:", 11) == 0 && strstr(low, "auto_reply"));
        }
        if (r->m->kind[i] != KB_PART_HEADERS && !n->failure) {
            size_t len;
            n->failure = reply_line(l) || has_set(&lw, SET_FAILURE);
            for (size_t at = 0; !n->failure && at < l.n;) {
                size_t k = at + find_status(l.s + at, l.n - at, &len);
                if (k >= l.n)
                    break;
                n->failure = l.s[k] != '2'; /* 2.x.x is a success */
                at = k + len;
            }
        }
    }
}

/* Messages that report no failure (RFC 5965, RFC 8098, RFC 3834, RFC 3464 success). */
static const char *not_a_failure(const struct reader *r, const struct notice *n)
{
    const struct kb_report *rep = r->report;
    if (r->m->report_type == KB_MIME_REPORT_FEEDBACK || n->feedback)
        return "an abuse report (ARF feedback report): a recipient marked the message as spam";
    if (r->m->report_type == KB_MIME_REPORT_DISPOSITION || n->mdn_type
        || (n->disposition && n->reporting_ua))
        return "a read receipt (message disposition notification)";
    if (!rep->format && n->read)
        return "a read receipt (message disposition notification)";
    if (rep->recipient_count) {
        int failed = 0, done = 0;
        for (size_t k = 0; k < rep->recipient_count; k++) {
            const char *a = rep->recipients[k].action;
            if (!a)
                continue;
            /* ("deliverable": Postfix's answer to sendmail -bv) */
            if (starts_caseless(a, strlen(a), "delivered")
                || starts_caseless(a, strlen(a), "relayed")
                || starts_caseless(a, strlen(a), "expanded")
                || starts_caseless(a, strlen(a), "deliverable"))
                done++;
            else
                failed++;
        }
        if (done && !failed)
            return "a delivery notification: the message was delivered, relayed or expanded";
    }
    if (!rep->recipient_count && (n->success || n->delivered) && !n->failure)
        return "a delivery notification: the message was delivered, relayed or expanded";
    if (!rep->format && (n->auto_reply || ((n->away || n->auto_generated) && !n->failure)))
        return "an automatic reply (out of office or an autoresponder)";
    return NULL;
}

/* ---- the facts of each recipient --------------------------------------------------------- */

/* Exchange quotes the remote server's reply inside a status of its own: "554 5.7.0 < #5.7.133
 * smtp;550 5.7.133 ...>", "mx.example.net #< #5.0.0 smtp;554 5.7.1 ...> #SMTP#". The reply
 * after "smtp;" is the failure (its status code the real one); the wrapper around it is the
 * reporting server's. Cuts d down to that reply, in place. */
static void unwrap_reply(char *d)
{
    size_t n = strlen(d);
    size_t open = find_caseless(d, n, "< #");
    if (open == n)
        return;
    size_t semi = find_caseless(d + open, n - open, "smtp;");
    if (semi == n - open || semi > 16)
        return; /* "< #5.0.0 smtp;": the wrapper's status and the reply's type only */
    size_t b = open + semi + 5;
    while (b < n && d[b] == ' ')
        b++;
    if (!(b + 3 < n && reply_at(d + b, n - b) == 0 && (d[b] == '4' || d[b] == '5')
          && is_digit(d[b + 1]) && is_digit(d[b + 2]) && (d[b + 3] == ' ' || d[b + 3] == '-')))
        return;
    size_t e = n;
    while (e > b && d[e - 1] != '>')
        e--;
    if (e > b)
        e--; /* the wrapper's closing '>' and what follows it */
    else
        e = n;
    while (e > b && d[e - 1] == ' ')
        e--;
    memmove(d, d + b, e - b);
    d[e - b] = '\0';
}

static enum kb_status finish_recipients(struct reader *r, const struct notice *notice)
{
    struct kb_report *rep = r->report;
    const char *default_action = notice->success && !notice->failure ? "delivered" : "failed";
    int delayed = 0;
    for (size_t i = 0; i < r->lines && !delayed; i++, (*r->work)++)
        if ((r->m->kind[i] == KB_PART_TEXT || r->m->kind[i] == KB_PART_HEADERS)
            && r->region[i] != KB_REGION_RETURNED) {
            struct lowered lw;
            line_cues(r, i, &lw);
            delayed = has_set(&lw, SET_DELAY);
        }
    for (size_t k = 0; k < rep->recipient_count; k++) {
        struct kb_recipient *p = &rep->recipients[k];
        struct kb_buf *b = &r->diag_text[k];
        if (!p->diagnostic && b->len && !(p->diagnostic = field_copy(b->data, b->len)))
            return KB_ERR_NOMEM;
        if (!p->remote_mta && p->diagnostic)
            p->remote_mta = remote_host(p->diagnostic, strlen(p->diagnostic));
        if (p->diagnostic)
            unwrap_reply(p->diagnostic);
        if (!r->dsn_diag[k] && p->diagnostic) {
            /* from the explanation: the server's reply, when it quotes one ("host x said:
             * 550 ...", "The error that the other server returned was: 550 ..."), is the
             * failure; what comes before it frames it */
            size_t at = reply_at(p->diagnostic, strlen(p->diagnostic));
            if (at)
                memmove(p->diagnostic, p->diagnostic + at, strlen(p->diagnostic + at) + 1);
        }
        if (!p->status && p->diagnostic) {
            size_t len, at = find_status(p->diagnostic, strlen(p->diagnostic), &len);
            if (at < strlen(p->diagnostic) && !(p->status = field_copy(p->diagnostic + at, len)))
                return KB_ERR_NOMEM;
        }
        if (p->status) { /* "5.1.1 (bad destination mailbox address)": the code alone */
            size_t n = 0;
            while (p->status[n] && (p->status[n] == '.' || is_digit(p->status[n])))
                n++;
            p->status[n] = '\0';
        }
        if (p->action) {
            for (char *c = p->action; *c; c++)
                *c = (char)lower((unsigned char)*c);
        } else {
            const char *a =
                delayed && !strcmp(default_action, "failed") ? "delayed" : default_action;
            if (!(p->action = field_copy(a, strlen(a))))
                return KB_ERR_NOMEM;
        }
        if (p->line)
            p->line = kb_mime_input_line(r->m, p->line);
        status_meaning(p);
    }
    return KB_OK;
}

/* A report whose explanation names no recipient: the one its sentences name ("Your message
 * wasn't delivered to x@example.com because ..."), or an unnamed one, carrying the failure. */
static enum kb_status implied_recipient(struct reader *r)
{
    struct kb_report *rep = r->report;
    if (rep->recipient_count)
        return KB_OK;
    struct line found = {NULL, 0};
    size_t first = 0, found_line = 0;
    for (size_t i = 0; i < r->lines; i++) {
        (*r->work)++;
        if (r->m->kind[i] != KB_PART_TEXT
            || (r->region[i] != KB_REGION_DIAGNOSTIC && r->region[i] != KB_REGION_EXPLANATION))
            continue;
        struct line l = line_at(r, i);
        if (r->region[i] == KB_REGION_DIAGNOSTIC && !first)
            first = i + 1;
        size_t at = found.n ? l.n : find_caseless(l.s, l.n < CUE_SCAN ? l.n : CUE_SCAN, "deliver");
        for (size_t k = at; k < l.n && k < at + 48; k++) {
            size_t alen = address_len(l.s + k, l.n - k);
            if (alen && (k == 0 || !local_char((unsigned char)l.s[k - 1]))) {
                found = (struct line){l.s + k, alen};
                found_line = i;
                break;
            }
        }
    }
    if (!found.n && !first)
        return KB_OK;
    int k = new_recipient(r);
    if (k < 0)
        return KB_ERR_NOMEM;
    if (found.n && !(rep->recipients[k].address = field_copy(found.s, found.n)))
        return KB_ERR_NOMEM;
    if (!first && found.n) {
        /* no line quotes a reply: the sentence that says why the message was not delivered
         * to that address is the failure ("Your message wasn't delivered to x because the
         * domain couldn't be found.") */
        for (size_t i = found_line;
             i < r->lines && r->m->kind[i] == KB_PART_TEXT && r->region[i] == KB_REGION_EXPLANATION
             && !is_blank(line_at(r, i));
             i++) {
            r->region[i] = KB_REGION_DIAGNOSTIC;
            if (!first)
                first = i + 1;
        }
    }
    for (size_t i = first ? first - 1 : r->lines; i < r->lines; i++)
        if (r->region[i] == KB_REGION_DIAGNOSTIC && r->m->kind[i] == KB_PART_TEXT)
            collect_diagnostic(r, (uint16_t)(k + 1), line_at(r, i), i);
    return KB_OK;
}

/* Of a returned original, this much text is kept for the signatures that may read it
 * (region=returned): its headers and the start of its body. The rest, and the MIME parts not
 * read, are left out of the text the later stages normalise and search, so that a bounce that
 * returns a megabyte costs what its report costs. */
#define RETURNED_KEEP (64 * 1024)
/* Below this much to leave out, the text is left as it is. */
#define DROP_MIN (16 * 1024)

/* Leaves out of out->mime the lines past RETURNED_KEEP of returned originals and the parts not
 * read, keeping every other array in step and the map to the input. */
static enum kb_status drop_unread(struct kb_bounce *out)
{
    struct kb_mime *m = &out->mime;
    size_t kept_returned = 0, drop_bytes = 0, kept = 0;
    unsigned char *keep = malloc(m->line_count ? m->line_count : 1);
    if (!keep)
        return KB_ERR_NOMEM;
    for (size_t i = 0; i < m->line_count; i++) {
        size_t bytes = m->line_start[i + 1] - m->line_start[i];
        int returned = out->region[i] == KB_REGION_RETURNED;
        keep[i] = out->region[i] != KB_REGION_OTHER
                  && !(returned && kept_returned + bytes > RETURNED_KEEP);
        kept_returned += returned && keep[i] ? bytes : 0;
        drop_bytes += keep[i] ? 0 : bytes;
        kept += keep[i];
    }
    out->work += m->line_count;
    if (drop_bytes < DROP_MIN) {
        free(keep);
        return KB_OK;
    }
    struct kb_buf text;
    kb_buf_init(&text, 0);
    /* (the kept text is no longer than the text: offsets stay under KB_TEXT_MAX) */
    uint32_t *input_line = malloc((kept ? kept : 1) * sizeof *input_line);
    uint32_t *line_start = malloc((kept + 1) * sizeof *line_start);
    enum kb_status st = input_line && line_start ? KB_OK : KB_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m->line_count && st == KB_OK; i++) {
        if (!keep[i])
            continue;
        line_start[k] = (uint32_t)text.len;
        st = kb_buf_append(&text, m->text + m->line_start[i],
                           m->line_start[i + 1] - m->line_start[i]);
        input_line[k] = (uint32_t)kb_mime_input_line(m, i + 1);
        m->kind[k] = m->kind[i];
        m->attached[k] = m->attached[i];
        m->part[k] = m->part[i];
        out->region[k] = out->region[i];
        out->owner[k] = out->owner[i];
        k++;
    }
    /* every kept line but the input's last ends in a line break; a dropped last line must
     * not glue the kept one before it to nothing: end it */
    if (st == KB_OK && text.len && text.data[text.len - 1] != '\n')
        st = kb_buf_append_char(&text, '\n');
    if (st == KB_OK && !text.data)
        st = kb_buf_append(&text, "", 0);
    char *owned = NULL;
    if (st == KB_OK) {
        line_start[kept] = (uint32_t)text.len;
        st = kb_buf_detach(&text, &owned);
    }
    if (st == KB_OK) {
        free(m->owned);
        free(m->line_start);
        free(m->input_line);
        m->owned = owned;
        m->text = owned;
        m->len = line_start[kept];
        m->line_start = line_start;
        m->input_line = input_line;
        m->line_count = kept;
        owned = NULL;
        line_start = NULL;
        input_line = NULL;
    }
    kb_buf_release(&text);
    free(owned);
    free(line_start);
    free(input_line);
    free(keep);
    return st;
}

enum kb_status kb_bounce_read(const char *input, size_t len, struct kb_report *report,
                              struct kb_bounce *out)
{
    memset(report, 0, sizeof *report);
    memset(out, 0, sizeof *out);
    enum kb_status st = kb_mime_read(input, len, &out->mime);
    if (st != KB_OK)
        return st;
    struct reader r = {
        .m = &out->mime, .report = report, .lines = out->mime.line_count, .work = &out->work};
    build_cue_index(&r.cues);
    for (unsigned c = 0; c < 256; c++)
        r.fold[c] = c ? lower((unsigned char)c) : ' ';
    struct notice notice;
    kb_buf_init(&r.scratch, 0);
    for (size_t k = 0; k < MAX_RECIPIENTS; k++)
        kb_buf_init(&r.diag_text[k], MAX_FIELD + 64);
    size_t n = r.lines ? r.lines : 1;
    r.region = calloc(n, 1);
    r.owner = calloc(n, sizeof *r.owner);
    r.done = calloc(n, 1);
    r.cue_cache = calloc(n, sizeof *r.cue_cache);
    if (!r.region || !r.owner || !r.done || !r.cue_cache) {
        st = KB_ERR_NOMEM;
        goto done;
    }
    static const unsigned char region_of_kind[] = {[KB_PART_TEXT] = KB_REGION_TEXT,
                                                   [KB_PART_HEADERS] = KB_REGION_REPORT_HEADERS,
                                                   [KB_PART_STATUS] = KB_REGION_REPORT_HEADERS,
                                                   [KB_PART_RETURNED] = KB_REGION_RETURNED,
                                                   [KB_PART_NOTICE] = KB_REGION_REPORT_HEADERS,
                                                   [KB_PART_OTHER] = KB_REGION_OTHER};
    for (size_t i = 0; i < r.lines; i++)
        r.region[i] = region_of_kind[r.m->kind[i]];

    read_layout(&r);
    if (r.m->report_type == KB_MIME_REPORT_FEEDBACK
        || r.m->report_type == KB_MIME_REPORT_DISPOSITION)
        r.format = NULL; /* an abuse report or a read receipt: no delivery report */
    if ((st = read_fields(&r)) != KB_OK)
        goto done;
    /* a standard report in no known wording: named by its standard, not "generic" */
    if ((!r.format || strcmp(r.format, "generic") == 0)
        && (r.report->recipient_count || r.m->report_type == KB_MIME_REPORT_DELIVERY
            || r.m->status_part))
        r.format = "rfc3464";
    /* delivery log lines: what the paste is, whatever words of a report they quote */
    if (!r.dsn_recipients && r.m->report_type == KB_MIME_REPORT_NONE && !r.m->status_part
        && (st = read_logs(&r)) != KB_OK)
        goto done;
    report->format = r.format;
    if (report->format) {
        if (!report->leg)
            report->leg = "delivery";
        read_explanation(&r);
        read_notice(&r, &notice);
        if ((st = implied_recipient(&r)) != KB_OK || (st = finish_recipients(&r, &notice)) != KB_OK
            || (st = find_reporter(&r)) != KB_OK)
            goto done;
    } else {
        /* no report: nothing of the text is set apart but the parts not read, and only the
         * message-level verdicts below may still apply */
        for (size_t i = 0; i < r.lines; i++) {
            (*r.work)++;
            if (r.region[i] != KB_REGION_OTHER)
                r.region[i] = KB_REGION_TEXT;
            r.owner[i] = 0;
        }
        report->leg = NULL;
    }
    if (!report->format)
        read_notice(&r, &notice);
    report->not_failure = not_a_failure(&r, &notice);
    /* no report, but a line of one: the delivery leg failed, whatever its words */
    if (!report->format && !report->not_failure && read_delivery_form(&r)) {
        report->format = "diagnostic";
        report->leg = "delivery";
    }
    out->region = r.region;
    out->owner = r.owner;
    r.region = NULL;
    r.owner = NULL;
    st = drop_unread(out);
done:
    kb_buf_release(&r.scratch);
    for (size_t k = 0; k < MAX_RECIPIENTS; k++)
        kb_buf_release(&r.diag_text[k]);
    free(r.done);
    free(r.cue_cache);
    free(r.region);
    free(r.owner);
    if (st != KB_OK) {
        kb_report_release(report);
        kb_bounce_release(out);
        return st;
    }
    return KB_OK;
}

void kb_bounce_release(struct kb_bounce *b)
{
    kb_mime_release(&b->mime);
    free(b->region);
    free(b->owner);
    memset(b, 0, sizeof *b);
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
