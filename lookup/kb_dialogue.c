/*
 * kb_dialogue.c - reading the SMTP dialogue that a pasted transcript or MTA log shows.
 *
 * A "read the structure" stage beside the bounce reader: after normalisation and masking,
 * before facts. Many causes are not in any error line but in the sequence: a client that
 * connected to port 465 and never got a 220 greeting, an EHLO reply that lists STARTTLS but
 * no AUTH, an AUTH answered "500 5.5.1" after STARTTLS. This stage recognises the transcripts
 * that clients print (swaks, curl -v, PHPMailer SMTPDebug, smtplib set_debuglevel, msmtp
 * --debug, Nodemailer's logger, MailKit's ProtocolLogger, Ruby Net::SMTP debug_output,
 * JavaMail debug, plain S:/C: and <<< / >>> lines, also behind a logger's time stamp, level and
 * tag as Haraka's [PROTOCOL] lines have them, sessions typed by hand in telnet or openssl
 * s_client, and sessions pasted bare, without any marker) and the lines Postfix and Exim log
 * about a session, and turns them into one struct
 * kb_dialogue: what happened, never why. Which shape means which cause is the articles'
 * business.
 *
 * It reads the original lines (normalisation strips the direction markers this needs), in
 * two passes of bounded work per line: the first picks the transcript's format from the cues
 * each client prints, the second follows the turns. The memory it keeps does not grow with
 * the input: a ring of pending commands and a capped copy of the AUTH mechanisms.
 *
 * Where each wording comes from (the clients' source or their real output): swaks 20201014
 * (ptrans() markers "===", "***", " ->", "<- ", "<~ ", "<**", handle_disconnect(), the alarm
 * "Timeout (N secs) waiting for server response"); curl -v ("* Connected to", "< ", "> ");
 * PHPMailer 6 SMTP::edebug() ("SERVER -> CLIENT: ", "CLIENT -> SERVER: ", "Connection:
 * opening to", "SMTP ERROR: ... command failed", "SMTP NOTICE: EOF caught"); Python's
 * smtplib _print_debug() ("send:", "reply:", "reply: retcode (...)", "data:", "connect:");
 * msmtp ("<-- ", "--> ", "network read error", "the server sent an empty reply"); Nodemailer's
 * default logger ("S: ", "C: ", "Connection established to", "Greeting never received");
 * MailKit's ProtocolLogger ("Connected to smtp://host:port/", "S: ", "C: "); Ruby's
 * Net::BufferedIO ("-> \"...\"" read, "<- \"...\"" written); JavaMail ("DEBUG SMTP: ",
 * raw reply and command lines); Postfix smtpd/smtp and Exim log lines.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kb_internal.h"

/* Bounded work whatever the paste. */
#define CUE_SPAN 512       /* bytes of a line searched for event wordings */
#define MAX_MECHANISMS 200 /* bytes of the AUTH mechanism list kept */
#define MAX_PENDING 32     /* commands awaiting their reply (pipelining) */

enum format {
    F_NONE = 0,
    F_SWAKS,
    F_CURL,
    F_PHPMAILER,
    F_SMTPLIB,
    F_MSMTP,
    F_NODEMAILER,
    F_MAILKIT,
    F_RUBY,
    F_JAVAMAIL,
    F_TELNET,
    F_GENERIC,
    F_POSTFIX,
    F_EXIM,
    F_COUNT
};

static const char *const format_names[F_COUNT] = {
    NULL,      "swaks", "curl",     "phpmailer", "smtplib", "msmtp",       "nodemailer",
    "mailkit", "ruby",  "javamail", "telnet",    "generic", "postfix-log", "exim-log"};

/* Which formats show implicit TLS when it is used: there, no sign of TLS means none. */
static int format_shows_tls(enum format f)
{
    return f == F_SWAKS || f == F_CURL || f == F_MSMTP;
}

/* ---- small string helpers ------------------------------------------------------------- */

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Does s[0, n) start with lit (exact case; has_prefix_ci: caseless)? Both walk lit as they
 * compare (no strlen first): most calls fail at the first byte, and some run for every line of
 * a paste. */
static int has_prefix(const char *s, size_t n, const char *lit)
{
    for (size_t i = 0; lit[i]; i++)
        if (i >= n || s[i] != lit[i])
            return 0;
    return 1;
}

static int has_prefix_ci(const char *s, size_t n, const char *lit)
{
    for (size_t i = 0; lit[i]; i++)
        if (i >= n || lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
            return 0;
    return 1;
}

/* Offset of lit in s[0, n) (caseless), or -1. Only the first CUE_SPAN bytes are searched:
 * event wordings sit at the start of their line. */
static long find_ci(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n > CUE_SPAN)
        n = CUE_SPAN;
    unsigned char first = lower((unsigned char)lit[0]);
    for (size_t i = 0; i + m <= n; i++)
        if (lower((unsigned char)s[i]) == first && has_prefix_ci(s + i, n - i, lit))
            return (long)i;
    return -1;
}

static int contains_ci(const char *s, size_t n, const char *lit)
{
    return find_ci(s, n, lit) >= 0;
}

/* A three-digit reply code [2-5]xx at s, followed by ' ', '-' or the end; 0 when none.
 * *more is set when it is a "ddd-" line announcing more lines. */
static int reply_code_at(const char *s, size_t n, int *more)
{
    if (n < 3 || s[0] < '2' || s[0] > '5' || !is_digit((unsigned char)s[1])
        || !is_digit((unsigned char)s[2]))
        return 0;
    if (n > 3 && s[3] != ' ' && s[3] != '-' && s[3] != '\t' && s[3] != '\r')
        return 0;
    if (more)
        *more = n > 3 && s[3] == '-';
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* ---- decorations before a marker ------------------------------------------------------ */

/* "2021-11-01 07:24:29", "2023-12-14T09:42:46.807758Z", "07:24:29.123456": date and time. */
static size_t stamp_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && i < 40 && (is_digit((unsigned char)s[i]) || strchr("-:.,/TZ+", s[i])))
        i++;
    /* a date followed by a time */
    if (i < n && s[i] == ' ' && i + 3 < n && is_digit((unsigned char)s[i + 1])
        && is_digit((unsigned char)s[i + 2]) && s[i + 3] == ':') {
        i++;
        while (i < n && i < 64 && (is_digit((unsigned char)s[i]) || strchr(":.,Z+", s[i])))
            i++;
    }
    /* only a stamp when it holds a ':' or two '-' (not a bare number) */
    size_t colons = 0, dashes = 0, digits = 0;
    for (size_t k = 0; k < i; k++)
        colons += s[k] == ':', dashes += s[k] == '-', digits += is_digit((unsigned char)s[k]);
    return digits >= 4 && (colons >= 2 || dashes >= 2) ? i : 0;
}

static size_t level_word_len(const char *s, size_t n)
{
    static const char *const levels[] = {"DEBUG", "INFO",  "WARNING", "WARN",
                                         "ERROR", "TRACE", "NOTICE",  "FATAL"};
    if (!n || !memchr("DIWETNFdiwetnf", s[0], 14))
        return 0; /* no level starts with this byte: most lines are done with at one test */
    for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++) {
        if (!has_prefix_ci(s, n, levels[k]))
            continue;
        size_t m = strlen(levels[k]);
        if (n == m || s[m] == ' ' || s[m] == ':')
            return (n > m && s[m] == ':') ? m + 1 : m;
    }
    return 0;
}

/* A logger's tag: a name with a bracketed part, then a colon ("SMTP[DATA]:", "mailer[123]:"),
 * at most 64 bytes. The colon alone makes no tag: "S:" and "C:" are turn markers. */
static size_t tag_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && i < 32
           && (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) || s[i] == '_'
               || s[i] == '-' || s[i] == '.'))
        i++;
    if (!i || i >= n || s[i] != '[')
        return 0;
    size_t j = i + 1;
    while (j < n && j < 62 && s[j] != ']' && s[j] != '[' && s[j] != ' ')
        j++;
    if (j + 2 < n && s[j] == ']' && s[j + 1] == ':' && s[j + 2] == ' ')
        return j + 2;
    return 0;
}

/* Length of the decoration (time stamps, levels, short bracketed ids, "[#1] ", a logger's
 * tag) at the start of a line; at most a few rounds, each bounded. */
static size_t decoration_len(const char *s, size_t n)
{
    size_t i = 0;
    for (int round = 0; round < 8; round++) {
        size_t k = i;
        while (k < n && (s[k] == ' ' || s[k] == '\t'))
            k++;
        size_t m = 0;
        if (k < n && s[k] == '[') {
            size_t j = k + 1;
            while (j < n && j - k < 64 && s[j] != ']' && s[j] != '[')
                j++;
            if (j < n && s[j] == ']')
                m = j + 1 - k;
        }
        if (!m)
            m = stamp_len(s + k, n - k);
        if (!m)
            m = level_word_len(s + k, n - k);
        if (!m)
            m = tag_len(s + k, n - k);
        if (!m)
            return i;
        i = k + m;
    }
    return i;
}

/* ---- one line classified -------------------------------------------------------------- */

enum dir { D_NONE = 0, D_SERVER, D_CLIENT };

struct line {
    const char *s; /* the whole original line, CR and trailing blanks removed */
    size_t n;
    const char *c; /* its content after the decoration and the direction marker */
    size_t cn;
    enum dir dir;
};

static void trim_right(const char *s, size_t *n)
{
    while (*n && (s[*n - 1] == '\r' || s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
}

/* Strips a Python or Ruby string literal (b'...', '...', "...") and a trailing "\r\n" escape
 * from content. */
static void unquote(const char **c, size_t *cn)
{
    const char *s = *c;
    size_t n = *cn;
    if (n >= 3 && s[0] == 'b' && (s[1] == '\'' || s[1] == '"'))
        s++, n--;
    if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0])
        s++, n -= 2;
    while (n >= 2 && s[n - 2] == '\\' && (s[n - 1] == 'n' || s[n - 1] == 'r'))
        n -= 2;
    *c = s;
    *cn = n;
}

static const char *command_verb(const char *c, size_t n);

/* Splits the line into decoration, direction marker and content, the way format f prints
 * turns. Lines without a marker get D_NONE (event lines, message content, prose). */
static void classify(enum format f, struct line *l)
{
    const char *s = l->s;
    size_t n = l->n;
    size_t d = decoration_len(s, n);
    const char *p = s + d;
    size_t m = n - d;
    l->dir = D_NONE;
    l->c = p;
    l->cn = m;
    /* swaks indents the client's turns (" -> "): spaces are part of no marker */
    while (m && (*p == ' ' || *p == '\t') && f != F_SWAKS)
        p++, m--;
    if (f == F_SWAKS && m && *p == ' ')
        p++, m--;
    struct marker {
        const char *text;
        enum dir dir;
    };
    static const struct marker phpmailer[] = {{"SERVER -> CLIENT:", D_SERVER},
                                              {"CLIENT -> SERVER:", D_CLIENT}};
    static const struct marker swaks[] = {
        {"<- ", D_SERVER},  {"<~ ", D_SERVER}, {"<** ", D_SERVER}, {"<~* ", D_SERVER},
        {"<  ", D_SERVER},  {"-> ", D_CLIENT}, {"~> ", D_CLIENT},  {"**> ", D_CLIENT},
        {"*~> ", D_CLIENT}, {"> ", D_CLIENT}};
    static const struct marker curl[] = {{"< ", D_SERVER}, {"> ", D_CLIENT}};
    static const struct marker smtplib[] = {{"reply: ", D_SERVER}, {"send: ", D_CLIENT}};
    static const struct marker msmtp[] = {{"<-- ", D_SERVER}, {"--> ", D_CLIENT}};
    static const struct marker ruby[] = {{"-> \"", D_SERVER}, {"<- \"", D_CLIENT}};
    static const struct marker sc[] = {{"S: ", D_SERVER},  {"C: ", D_CLIENT}, {"<<< ", D_SERVER},
                                       {">>> ", D_CLIENT}, {"S:", D_SERVER},  {"C:", D_CLIENT}};
    const struct marker *list = NULL;
    size_t count = 0;
    switch (f) {
    case F_PHPMAILER: list = phpmailer, count = 2; break;
    case F_SWAKS: list = swaks, count = sizeof swaks / sizeof swaks[0]; break;
    case F_CURL: list = curl, count = 2; break;
    case F_SMTPLIB: list = smtplib, count = 2; break;
    case F_MSMTP: list = msmtp, count = 2; break;
    case F_RUBY: list = ruby, count = 2; break;
    case F_NODEMAILER:
    case F_MAILKIT:
    case F_GENERIC: list = sc, count = sizeof sc / sizeof sc[0]; break;
    default: break;
    }
    for (size_t k = 0; k < count; k++) {
        size_t ml = strlen(list[k].text);
        if (!has_prefix(p, m, list[k].text))
            continue;
        /* the quote of a Ruby marker belongs to the content */
        if (f == F_RUBY)
            ml--;
        l->dir = list[k].dir;
        l->c = p + ml;
        l->cn = m - ml;
        break;
    }
    if (f == F_SMTPLIB && l->dir == D_SERVER && has_prefix(l->c, l->cn, "retcode"))
        l->dir = D_NONE; /* "reply: retcode (250); Msg: ..." repeats the lines before it */
    if (f == F_TELNET) {
        /* a session typed by hand: the server's lines start with a code, the person's with a
         * command (any case: "mail from:<...>") */
        if (reply_code_at(p, m, NULL))
            l->dir = D_SERVER;
        else if (command_verb(p, m))
            l->dir = D_CLIENT;
    }
    if (f == F_JAVAMAIL && !has_prefix(p, m, "DEBUG") && !contains_ci(p, m, "mail.smtp")) {
        /* JavaMail prints the raw protocol lines, without markers */
        int more;
        if (reply_code_at(p, m, &more))
            l->dir = D_SERVER;
        else if (m && is_alpha((unsigned char)p[0]))
            l->dir = D_CLIENT;
    }
    while (l->cn && (l->c[0] == ' ' || l->c[0] == '\t'))
        l->c++, l->cn--;
    if (f == F_SMTPLIB || f == F_RUBY)
        unquote(&l->c, &l->cn);
}

/* ---- picking the format ----------------------------------------------------------------- */

/* Cues a format's output always has. Strong cues (3 points) are its own wordings; weak ones
 * (1 point) are turn markers other formats share. */
struct cue {
    enum format f;
    const char *text;
    int at_start; /* 1: after the decoration; 2: at column 0 exactly; 0: anywhere */
    int points;
};

static const struct cue cues[] = {
    {F_SWAKS, "=== Trying ", 1, 3},
    {F_SWAKS, "=== Connected to ", 1, 3},
    {F_SWAKS, "<-  ", 2, 1},
    {F_SWAKS, " -> ", 2, 1},
    {F_SWAKS, "<~  ", 2, 2},
    {F_SWAKS, " ~> ", 2, 2},
    {F_SWAKS, "<** ", 2, 2},
    {F_SWAKS, "<~* ", 2, 2},
    {F_CURL, "* Connected to ", 1, 3},
    {F_CURL, "*   Trying ", 1, 3},
    {F_CURL, "* Connection #", 1, 2},
    {F_PHPMAILER, "SERVER -> CLIENT:", 0, 3},
    {F_PHPMAILER, "CLIENT -> SERVER:", 0, 3},
    {F_PHPMAILER, "Connection: opening to ", 0, 3},
    {F_SMTPLIB, "send: b'", 1, 3},
    {F_SMTPLIB, "send: '", 1, 3},
    {F_SMTPLIB, "send: \"", 1, 3},
    {F_SMTPLIB, "reply: b'", 1, 3},
    {F_SMTPLIB, "reply: retcode (", 1, 3},
    {F_SMTPLIB, "connect: to (", 1, 3},
    {F_MSMTP, "<-- ", 1, 3},
    {F_MSMTP, "--> ", 1, 3},
    /* msmtp --debug prints its settings first, also when no reply ever comes */
    {F_MSMTP, "tls_starttls = ", 1, 3},
    {F_MSMTP, "using account ", 1, 1},
    {F_NODEMAILER, "Connection established to ", 0, 3},
    {F_NODEMAILER, "Secure connection established to ", 0, 3},
    {F_NODEMAILER, "[smtp-connection]", 0, 3},
    {F_NODEMAILER, "[nodemailer]", 0, 3},
    {F_NODEMAILER, "Greeting never received", 0, 2},
    {F_MAILKIT, "Connected to smtp://", 1, 3},
    {F_MAILKIT, "Connected to smtps://", 1, 3},
    {F_RUBY, "<- \"", 2, 3},
    {F_RUBY, "-> \"", 2, 3},
    {F_RUBY, "opening connection to ", 1, 1},
    {F_JAVAMAIL, "DEBUG SMTP: ", 0, 3},
    {F_JAVAMAIL, "com.sun.mail.smtp", 0, 3},
    {F_JAVAMAIL, "angus.mail.smtp", 0, 3},
    /* telnet's banner, and openssl s_client's first line: a session typed by hand */
    {F_TELNET, "Escape character is '^]'.", 1, 3},
    {F_TELNET, "CONNECTED(0", 2, 3},
    {F_GENERIC, "S: ", 1, 1},
    {F_GENERIC, "C: ", 1, 1},
    {F_GENERIC, "<<< ", 1, 1},
    {F_GENERIC, ">>> ", 1, 1},
};

/* Is this line one of Postfix's about an SMTP session (smtpd: the server; smtp: the client
 * side of a relay)? Returns 1 for smtpd, 2 for smtp, 0 otherwise. */
static int postfix_daemon(const char *s, size_t n)
{
    long at = find_ci(s, n, "postfix");
    if (at < 0)
        return 0;
    /* "postfix/smtpd[123]:", "postfix/submission/smtpd[123]:", "postfix-out/smtp[9]:" */
    for (size_t i = (size_t)at; i + 6 < n && i < (size_t)at + 64; i++) {
        if (s[i] != '/')
            continue;
        if (has_prefix(s + i, n - i, "/smtpd["))
            return 1;
        if (has_prefix(s + i, n - i, "/smtp["))
            return 2;
    }
    return 0;
}

/* Wordings of Exim's main log about an SMTP session, anywhere in a line. */
static const char *const exim_words[] = {"SMTP connection from ",
                                         "SMTP protocol error in ",
                                         "SMTP protocol synchronization error",
                                         "unexpected disconnection while reading SMTP command",
                                         "SMTP command timeout on ",
                                         "SMTP data timeout ",
                                         "SMTP error from remote mail server after ",
                                         "SMTP timeout after ",
                                         "authenticator failed for ",
                                         "TLS error on connection from ",
                                         "rejected RCPT ",
                                         "rejected MAIL ",
                                         "rejected EHLO ",
                                         "rejected after DATA",
                                         "Remote host closed connection in response to "};
#define EXIM_WORDS (sizeof exim_words / sizeof exim_words[0])
#define CUE_COUNT (sizeof cues / sizeof cues[0])

/* The wordings pick_format looks for anywhere in a line (the cues with at_start 0, then
 * Exim's), searched in one pass a line with tables built once per process: one search per
 * wording made a log of ordinary lines cost a quarter of a lookup. */
static struct {
    const char *text[CUE_COUNT + EXIM_WORDS];
    size_t cue_slot[CUE_COUNT]; /* the slot of cues[k] in text, for at_start 0 */
    size_t cue_len[CUE_COUNT];  /* strlen(cues[k].text), asked for on every line */
    size_t count, exim_first;
    struct kb_literal_set *set; /* NULL when out of memory: each wording searched alone */
} line_cues;
static pthread_once_t line_cues_once = PTHREAD_ONCE_INIT;

static void line_cues_build(void)
{
    for (size_t k = 0; k < CUE_COUNT; k++)
        line_cues.cue_len[k] = strlen(cues[k].text);
    for (size_t k = 0; k < CUE_COUNT; k++)
        if (cues[k].at_start == 0) {
            line_cues.cue_slot[k] = line_cues.count;
            line_cues.text[line_cues.count++] = cues[k].text;
        }
    line_cues.exim_first = line_cues.count;
    for (size_t k = 0; k < EXIM_WORDS; k++)
        line_cues.text[line_cues.count++] = exim_words[k];
    line_cues.set = kb_literal_set_new(line_cues.text, line_cues.count, 1);
}

static int note_line_cue(size_t index, size_t offset, void *found)
{
    (void)offset;
    ((unsigned char *)found)[index] = 1;
    return 0;
}

/* found[slot] for each wording of line_cues in the line's first CUE_SPAN bytes. */
static void line_cues_find(const char *s, size_t n, unsigned char *found)
{
    pthread_once(&line_cues_once, line_cues_build);
    memset(found, 0, line_cues.count);
    size_t span = n < CUE_SPAN ? n : CUE_SPAN;
    if (line_cues.set) {
        kb_literal_set_scan(line_cues.set, s, span, note_line_cue, found);
        return;
    }
    for (size_t k = 0; k < line_cues.count; k++)
        found[k] = (unsigned char)contains_ci(s, n, line_cues.text[k]);
}

static int exim_line(const unsigned char *found)
{
    for (size_t k = line_cues.exim_first; k < line_cues.count; k++)
        if (found[k])
            return 1;
    return 0;
}

/* Mail reading (POP3, IMAP) shows lines SMTP never has: "+OK", "-ERR", "* OK", tagged
 * commands ("a001 LOGIN"). Such a transcript is no SMTP dialogue. */
static int mail_reading_line(const char *c, size_t n)
{
    if (has_prefix(c, n, "+OK") || has_prefix(c, n, "-ERR") || has_prefix(c, n, "* OK")
        || has_prefix(c, n, "* BYE") || has_prefix(c, n, "* PREAUTH")
        || has_prefix(c, n, "* CAPABILITY"))
        return 1;
    static const char *const pop[] = {"USER ", "PASS ", "APOP ", "STAT", "RETR ", "UIDL"};
    for (size_t k = 0; k < sizeof pop / sizeof pop[0]; k++)
        if (has_prefix(c, n, pop[k]))
            return 1;
    /* an IMAP tag: letters and digits, then a command; an SMTP reply's code is none ("250 OK
     * id=..." is Exim's answer to the end of DATA) */
    if (reply_code_at(c, n, NULL))
        return 0;
    size_t i = 0;
    while (i < n && i < 12 && (is_alpha((unsigned char)c[i]) || is_digit((unsigned char)c[i])))
        i++;
    if (i == 0 || i >= n || c[i] != ' ' || !is_digit((unsigned char)c[i - 1]))
        return 0;
    static const char *const imap[] = {"LOGIN ", "AUTHENTICATE ", "CAPABILITY", "SELECT ",
                                       "LOGOUT", "OK ",           "NO ",        "BAD "};
    for (size_t k = 0; k < sizeof imap / sizeof imap[0]; k++)
        if (has_prefix_ci(c + i + 1, n - i - 1, imap[k]))
            return 1;
    return 0;
}

/* ---- the reading state ------------------------------------------------------------------ */

struct ehlo_reply {
    int open;     /* a 250 reply to EHLO is being read */
    int auth;     /* it listed AUTH */
    int starttls; /* it listed STARTTLS */
    long size;
    char mechanisms[MAX_MECHANISMS + 1];
};

struct reader {
    struct kb_dialogue *d;
    enum format f;
    /* commands sent whose final reply has not come yet, oldest first (a ring) */
    const char *pending[MAX_PENDING];
    size_t head, count;
    int reply_open;           /* a "ddd-" line came; its final line has not */
    int reply_code;           /* code of the open reply */
    size_t reply_line;        /* its input line */
    int replies;              /* final replies seen */
    int commands;             /* commands seen */
    int tls_now;              /* TLS is up from here on */
    int tls_failed;           /* a TLS handshake visibly failed */
    int tls_shown;            /* the format showed how the connection was made (TLS visible) */
    int in_data;              /* the client is sending the message (after 354) */
    int after_334;            /* the client's next line answers a challenge */
    int pre_tls_ehlo;         /* an EHLO reply before TLS was read */
    int saw_error;            /* an error or end-of-session line came after the connection */
    int attempted;            /* a connection attempt was shown */
    int ehlo_after_tls;       /* an EHLO reply was read with TLS up */
    const char *last_verb;    /* the last command sent (static) */
    const char *failing_verb; /* the command the first failure answered (static) */
    char mechanisms[MAX_MECHANISMS + 1]; /* of the last EHLO reply that listed AUTH */
    size_t work;                         /* bytes looked at, for the tests' linearity checks */
    int marks_only; /* read by a format's turn markers, not its own lines (named generic) */
    struct ehlo_reply ehlo;
};

/* Verbs of the commands a client sends, as the struct reports them (static strings). */
static const char *command_verb(const char *c, size_t n)
{
    static const char *const verbs[] = {"EHLO", "HELO", "LHLO",     "MAIL", "RCPT",
                                        "DATA", "BDAT", "STARTTLS", "AUTH", "QUIT",
                                        "RSET", "NOOP", "VRFY",     "EXPN", "HELP"};
    /* every line of a paste is asked: the first letter rules out all verbs but one or two */
    if (!n || !memchr("ehlmrdbsaqnvEHLMRDBSAQNV", c[0], 24))
        return NULL;
    unsigned char first = lower((unsigned char)c[0]);
    for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++) {
        if (lower((unsigned char)verbs[k][0]) != first)
            continue;
        size_t m = strlen(verbs[k]);
        if (has_prefix_ci(c, n, verbs[k]) && (n == m || c[m] == ' ' || c[m] == ':'))
            return verbs[k];
    }
    return NULL;
}

static void pending_push(struct reader *r, const char *verb)
{
    if (r->count == MAX_PENDING) { /* the oldest is forgotten: bounded memory */
        r->head = (r->head + 1) % MAX_PENDING;
        r->count--;
    }
    r->pending[(r->head + r->count) % MAX_PENDING] = verb;
    r->count++;
}

static const char *pending_pop(struct reader *r)
{
    if (!r->count)
        return NULL;
    const char *v = r->pending[r->head];
    r->head = (r->head + 1) % MAX_PENDING;
    r->count--;
    return v;
}

static const char *pending_peek(const struct reader *r)
{
    return r->count ? r->pending[r->head] : NULL;
}

static void set_ended(struct reader *r, const char *how)
{
    r->d->ended = how;
}

static void mark_connected(struct reader *r)
{
    if (r->d->connected != 1) {
        r->d->connected = 1;
        /* the greeting is the first reply expected */
        r->head = r->count = 0;
        pending_push(r, "CONNECT");
    }
}

/* The EHLO reply read so far is complete: what it listed becomes the dialogue's. */
static void ehlo_commit(struct reader *r)
{
    struct ehlo_reply *e = &r->ehlo;
    if (!e->open)
        return;
    e->open = 0;
    struct kb_dialogue *d = r->d;
    d->ehlo = 1;
    d->auth_offered = e->auth;
    if (!r->tls_now) {
        r->pre_tls_ehlo = 1;
        d->auth_offered_before_tls = e->auth;
        d->starttls_offered = e->starttls;
    } else {
        r->ehlo_after_tls = 1;
    }
    if (e->size)
        d->size_limit = e->size;
    if (e->auth)
        memcpy(r->mechanisms, e->mechanisms, sizeof r->mechanisms);
}

static int is_mechanism(const char *w, size_t n)
{
    static const char *const parts[] = {"PLAIN", "LOGIN",  "MD5",        "SHA",      "OAUTH",
                                        "NTLM",  "GSSAPI", "ANONYMOUS",  "EXTERNAL", "KERBEROS",
                                        "SCRAM", "MSN",    "CLIENTTOKEN"};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        size_t m = strlen(parts[k]);
        for (size_t i = 0; i + m <= n; i++)
            if (has_prefix_ci(w + i, n - i, parts[k]))
                return 1;
    }
    return 0;
}

/* Reads the capabilities in one line of an EHLO reply: "AUTH PLAIN LOGIN", "AUTH=LOGIN",
 * "STARTTLS", "SIZE 35882577". Also lines that hold several ("250-a250-SIZE 1250 AUTH
 * LOGIN", as PHPMailer's HTML output folds them, or space-separated lists). */
static void ehlo_scan_piece(struct ehlo_reply *e, const char *c, size_t n)
{
    /* one pass over the line: each byte is part of at most one word, each word is compared
     * with a few capability names and, after AUTH, with the mechanism names */
    size_t i = 0;
    while (i < n) {
        while (i < n && !is_alpha((unsigned char)c[i]))
            i++;
        size_t w = i;
        while (i < n
               && (is_alpha((unsigned char)c[i]) || is_digit((unsigned char)c[i]) || c[i] == '-'
                   || c[i] == '_'))
            i++;
        size_t wl = i - w;
        /* a word glued to a preceding "250-" is still a word ("250-AUTH") */
        int word_start = w == 0 || !is_alpha((unsigned char)c[w - 1]);
        if (!word_start || !wl)
            continue;
        if (wl == 8 && has_prefix_ci(c + w, wl, "STARTTLS")) {
            e->starttls = 1;
        } else if (wl == 4 && has_prefix_ci(c + w, wl, "SIZE") && i < n && c[i] == ' ') {
            long v = 0;
            size_t k = i + 1;
            while (k < n && is_digit((unsigned char)c[k]) && v < 100000000000L)
                v = v * 10 + (c[k++] - '0');
            if (v)
                e->size = v;
        } else if (wl == 4 && has_prefix_ci(c + w, wl, "AUTH")
                   && (i == n || c[i] == ' ' || c[i] == '=')) {
            e->auth = 1;
            /* the mechanisms follow, up to the first word that is none */
            size_t len = 0;
            e->mechanisms[0] = '\0';
            while (i < n && (c[i] == ' ' || c[i] == '=')) {
                size_t k = i + 1;
                while (k < n && c[k] == ' ')
                    k++;
                size_t ws = k;
                while (k < n && c[k] != ' ' && c[k] != '\\' && c[k] != '\'' && c[k] != '"')
                    k++;
                if (k == ws || !is_mechanism(c + ws, k - ws))
                    break;
                size_t add = k - ws;
                /* a mechanism glued to the next "250-" of a folded reply ends there */
                for (size_t q = ws; q + 3 < k; q++)
                    if (c[q] == '2' && c[q + 1] == '5' && c[q + 2] == '0'
                        && (c[q + 3] == '-' || c[q + 3] == ' ')) {
                        add = q - ws;
                        break;
                    }
                if (len + add + 1 <= MAX_MECHANISMS && add) {
                    if (len)
                        e->mechanisms[len++] = ' ';
                    for (size_t q = 0; q < add; q++)
                        e->mechanisms[len++] =
                            (char)(c[ws + q] >= 'a' && c[ws + q] <= 'z' ? c[ws + q] - 32
                                                                        : c[ws + q]);
                    e->mechanisms[len] = '\0';
                }
                i = k;
                if (add < k - ws)
                    break;
            }
        }
    }
}

/* An EHLO reply line, cut where a folded reply starts its next line ("...PIPELINING250-AUTH
 * PLAIN LOGIN250 HELP": each "250-" or "250 " begins a capability). */
static void ehlo_scan(struct ehlo_reply *e, const char *c, size_t n)
{
    size_t start = 0;
    for (size_t i = 1; i + 4 <= n; i++)
        if (c[i] == '2' && c[i + 1] == '5' && c[i + 2] == '0'
            && (c[i + 3] == '-' || c[i + 3] == ' ')
            && (i + 4 == n || is_alpha((unsigned char)c[i + 4])
                || is_digit((unsigned char)c[i + 4]))) {
            ehlo_scan_piece(e, c + start, i - start);
            start = i + 4;
            i += 3;
        }
    ehlo_scan_piece(e, c + start, n - start);
}

/* The command a reply code answers whatever came before it (a challenge, AUTH's own
 * successes and failures, DATA's go-ahead), or NULL. */
static const char *verb_of_code(int code)
{
    switch (code) {
    case 334:
    case 235:
    case 534:
    case 535:
    case 538: return "AUTH";
    case 354: return "DATA";
    default: return NULL;
    }
}

/* Can a server open a session with this reply: 220, or a refusal no command owns? 500 to 504
 * (syntax, unknown command, bad sequence, parameter) always answer a command. */
static int greeting_code(int code)
{
    return code == 220 || (code >= 400 && !verb_of_code(code) && !(code >= 500 && code <= 504));
}

/* A final reply (or the final line of one) with code came, on input line line. */
static void reply_final(struct reader *r, int code, size_t line)
{
    struct kb_dialogue *d = r->d;
    if (d->connected != 1)
        mark_connected(r);
    /* a transcript cut after the greeting (it starts at an AUTH challenge, a 250): its first
     * reply answers the command its code belongs to, or one not shown */
    if (!r->replies && !r->commands && pending_peek(r) && strcmp(pending_peek(r), "CONNECT") == 0
        && !greeting_code(code)) {
        pending_pop(r);
        if (verb_of_code(code))
            pending_push(r, verb_of_code(code));
    }
    /* 334 (a challenge) and 354 (send the message) are replies in the middle of their
     * command: its final reply is still to come */
    const char *verb = code == 334 || code == 354 ? pending_peek(r) : pending_pop(r);
    r->replies++;
    if (verb && strcmp(verb, "CONNECT") == 0)
        d->greeting = code == 220;
    if (verb
        && (strcmp(verb, "EHLO") == 0 || strcmp(verb, "HELO") == 0 || strcmp(verb, "LHLO") == 0)) {
        if (code == 250 && strcmp(verb, "HELO") == 0) {
            /* HELO's reply never lists extensions: what the server offers stays untold */
            d->ehlo = 1;
        } else if (code == 250) {
            r->ehlo.open = 1; /* a one-line reply: nothing listed */
            ehlo_commit(r);
        } else if (d->ehlo != 1) {
            d->ehlo = 0;
        }
    }
    if (verb && strcmp(verb, "STARTTLS") == 0 && code == 220) {
        r->tls_now = 1;
        d->tls = 1;
    }
    r->after_334 = code == 334;
    r->in_data = code == 354;
    /* the first failure; one that answers no command shown (a transcript cut after it) gives
     * way to the first that does */
    if (code >= 400 && (!d->failing_reply || (!r->failing_verb && verb))) {
        d->failing_reply = code;
        d->failing_line = line;
        r->failing_verb = verb;
    }
}

/* One server reply line (content c: "250-PIPELINING", "535 5.7.8 ..."). */
static void server_line(struct reader *r, const char *c, size_t n, size_t line)
{
    int more = 0;
    int code = reply_code_at(c, n, &more);
    if (!code) {
        /* text that is no reply: the rest of a reply a format folded, or noise */
        if (r->ehlo.open)
            ehlo_scan(&r->ehlo, c, n);
        return;
    }
    r->in_data = 0;
    const char *verb = pending_peek(r);
    int ehlo_answer =
        verb && code == 250 && (strcmp(verb, "EHLO") == 0 || strcmp(verb, "LHLO") == 0);
    if (ehlo_answer && !r->ehlo.open) {
        memset(&r->ehlo, 0, sizeof r->ehlo);
        r->ehlo.open = 1;
    }
    if (ehlo_answer && n > 4)
        ehlo_scan(&r->ehlo, c + 4, n - 4);
    if (!r->reply_open) {
        r->reply_open = 1;
        r->reply_code = code;
        r->reply_line = line;
    }
    if (more)
        return;
    r->reply_open = 0;
    int first = r->reply_code;
    size_t at = r->reply_line;
    if (ehlo_answer)
        ehlo_commit(r);
    reply_final(r, first, at);
}

/* A reply announced with "ddd-" whose final line never came (a folded or cut transcript)
 * is taken as complete when the other side speaks. */
static void close_open_reply(struct reader *r)
{
    if (!r->reply_open)
        return;
    r->reply_open = 0;
    ehlo_commit(r);
    reply_final(r, r->reply_code, r->reply_line);
}

static void client_line(struct reader *r, const char *c, size_t n)
{
    close_open_reply(r);
    if (r->in_data)
        return; /* the message itself */
    if (r->after_334) {
        r->after_334 = 0;
        return; /* the answer to a challenge, masked */
    }
    const char *verb = command_verb(c, n);
    if (!verb)
        return;
    struct kb_dialogue *d = r->d;
    if (d->connected != 1)
        mark_connected(r);
    /* a command before any reply: the greeting was not shown (a client that logs from EHLO on) */
    if (!r->replies && pending_peek(r) && strcmp(pending_peek(r), "CONNECT") == 0
        && r->f != F_JAVAMAIL)
        pending_pop(r);
    r->commands++;
    r->last_verb = verb;
    pending_push(r, verb);
    if (strcmp(verb, "QUIT") == 0)
        set_ended(r, "quit");
    if (strcmp(verb, "EHLO") == 0 || strcmp(verb, "HELO") == 0)
        memset(&r->ehlo, 0, sizeof r->ehlo);
}

/* ---- events: connection, TLS, the end of the session ---------------------------------- */

/* The port in a connection line: "host:465", "port 465", "('host', 465)", "port: 587". */
static int port_in(const char *s, size_t n)
{
    if (n > CUE_SPAN)
        n = CUE_SPAN;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        if (s[i] == ':' && i + 1 < n && is_digit((unsigned char)s[i + 1]))
            k = i + 1;
        else if (has_prefix_ci(s + i, n - i, "port ") || has_prefix_ci(s + i, n - i, "port: "))
            k = i + (s[i + 4] == ':' ? 6 : 5);
        else if (s[i] == ',' && i + 2 < n && s[i + 1] == ' ' && is_digit((unsigned char)s[i + 2])
                 && i > 0 && (s[i - 1] == '\'' || s[i - 1] == '"'))
            k = i + 2;
        else
            continue;
        long v = 0;
        size_t j = k;
        while (j < n && is_digit((unsigned char)s[j]) && v < 100000)
            v = v * 10 + (s[j++] - '0');
        if (j == k || (j < n && (is_alpha((unsigned char)s[j]) || s[j] == ':'))
            || (j + 1 < n && s[j] == '.' && is_digit((unsigned char)s[j + 1])))
            continue;
        if (v > 0 && v < 65536)
            return (int)v;
    }
    return 0;
}

/* The wordings of events the lines of a client's log may hold, anywhere in their first
 * CUE_SPAN bytes; each group is looked for by one function below. */
static const char *const timeout_words[] = {"timed out", "timed-out",   "Greeting never received",
                                            "ETIMEDOUT", "ReadTimeout", "OpenTimeout"};
static const char *const reset_words[] = {"reset by peer",   "ECONNRESET", "Connection reset",
                                          "forcibly closed", "errno 104",  "error 104"};
static const char *const close_words[] = {"closed connection unexpectedly",
                                          "connection unexpectedly closed",
                                          "connection closed unexpectedly",
                                          "unexpectedly closed",
                                          "closed by remote host",
                                          "closed by foreign host",
                                          "closed by peer",
                                          "connection closed by",
                                          "server sent an empty reply",
                                          "response reading failed",
                                          "EOF caught",
                                          "end of file reached",
                                          "EOFError",
                                          "[EOF]",
                                          "Unexpected socket close",
                                          "server closed the connection",
                                          "lost connection",
                                          "unexpected disconnection",
                                          "Remote host closed connection",
                                          "Socket closed",
                                          "Server not connected",
                                          "SMTPServerDisconnected"};
static const char *const connect_fail_words[] = {
    "Error connecting to",    "Failed to connect",    "failed to connect",
    "cannot connect to",      "Could not connect to", "couldn't connect to",
    "Connection refused",     "ECONNREFUSED",         "connect: timeout",
    "Couldn't resolve host",  "Bad hostname",         "No route to host",
    "Network is unreachable", "getaddrinfo",          "Name or service not known",
    "Could not resolve host", "Could not resolve"};
static const char *const tls_fail_words[] = {"TLS startup failed",
                                             "TLS handshake failed",
                                             "no alternative certificate subject name",
                                             "certificate is not valid",
                                             "certificate has expired",
                                             "self-signed certificate",
                                             "self signed certificate",
                                             "unable to get local issuer certificate",
                                             "SSL routines",
                                             "SSL certificate problem",
                                             "certificate verify failed",
                                             "SSL operation failed",
                                             "handshake failure",
                                             "SSLHandshakeException",
                                             "wrong version number",
                                             "cannot read from TLS connection",
                                             "STARTTLS attempted but failed"};
#define WORDS_OF(a) (sizeof(a) / sizeof(a)[0])
enum {
    EVENT_TIMEOUT = 0,
    EVENT_RESET = EVENT_TIMEOUT + WORDS_OF(timeout_words),
    EVENT_CLOSE = EVENT_RESET + WORDS_OF(reset_words),
    EVENT_CONNECT_FAIL = EVENT_CLOSE + WORDS_OF(close_words),
    EVENT_TLS_FAIL = EVENT_CONNECT_FAIL + WORDS_OF(connect_fail_words),
    EVENT_WORDS = EVENT_TLS_FAIL + WORDS_OF(tls_fail_words)
};

/* Every event wording, searched for in one pass a line with tables built once per process:
 * each searched alone, the five groups were some seventy scans of every line, most of a lookup
 * on a paste of many short lines (the KB's literals, a line each). */
static struct {
    const char *text[EVENT_WORDS];
    struct kb_literal_set *set; /* NULL when out of memory: each wording searched alone */
} event_words;
static pthread_once_t event_words_once = PTHREAD_ONCE_INIT;

static void event_words_build(void)
{
    static const struct {
        const char *const *words;
        size_t count, first;
    } groups[] = {{timeout_words, WORDS_OF(timeout_words), EVENT_TIMEOUT},
                  {reset_words, WORDS_OF(reset_words), EVENT_RESET},
                  {close_words, WORDS_OF(close_words), EVENT_CLOSE},
                  {connect_fail_words, WORDS_OF(connect_fail_words), EVENT_CONNECT_FAIL},
                  {tls_fail_words, WORDS_OF(tls_fail_words), EVENT_TLS_FAIL}};
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (size_t k = 0; k < groups[g].count; k++)
            event_words.text[groups[g].first + k] = groups[g].words[k];
    event_words.set = kb_literal_set_new(event_words.text, EVENT_WORDS, 1);
}

/* found[k] for each event wording in the line's first CUE_SPAN bytes (as contains_ci). */
static void event_words_find(const char *s, size_t n, unsigned char *found)
{
    pthread_once(&event_words_once, event_words_build);
    memset(found, 0, EVENT_WORDS);
    /* the scan, not kb_literal_set_present, which allocates a table per call: a line is short */
    if (event_words.set
        && kb_literal_set_scan(event_words.set, s, n < CUE_SPAN ? n : CUE_SPAN, note_line_cue,
                               found)
               == 0)
        return;
    for (size_t k = 0; k < EVENT_WORDS; k++)
        found[k] = (unsigned char)contains_ci(s, n, event_words.text[k]);
}

/* Is any wording of the group [first, first + count) in the line (found: event_words_find)? */
static int event_any(const unsigned char *found, size_t first, size_t count)
{
    for (size_t k = first; k < first + count; k++)
        if (found[k])
            return 1;
    return 0;
}

/* A timeout wording, but not a setting ("timeout=300", "timeout = off", "smtpd_timeout"). */
static int says_timeout(const char *s, size_t n, const unsigned char *found)
{
    if (event_any(found, EVENT_TIMEOUT, WORDS_OF(timeout_words)))
        return 1;
    size_t span = n < CUE_SPAN ? n : CUE_SPAN;
    for (size_t i = 0; i + 7 <= span; i++) {
        if (!has_prefix_ci(s + i, span - i, "timeout"))
            continue;
        if (i && (is_alpha((unsigned char)s[i - 1]) || s[i - 1] == '_' || s[i - 1] == '-'))
            continue;
        size_t k = i + 7;
        while (k < span && s[k] == ' ')
            k++;
        if (k < span && (s[k] == '=' || s[k] == ':' || s[k] == '_'))
            continue;
        return 1;
    }
    return 0;
}

/* How a line says the session ended: sets *how (timeout first: "Connection unexpectedly
 * closed: timed out" is a timeout) and returns 1 when the wording implies that a connection
 * had been made (the peer closed or reset it), 0 otherwise. */
static int ending_in(const char *s, size_t n, const unsigned char *found, const char **how)
{
    int reset = event_any(found, EVENT_RESET, WORDS_OF(reset_words));
    int closed = event_any(found, EVENT_CLOSE, WORDS_OF(close_words));
    *how = says_timeout(s, n, found) ? "timeout" : reset ? "reset" : closed ? "closed" : NULL;
    return reset || closed;
}

/* A line that says the connection could not be made at all. */
static int connect_failed(const unsigned char *found)
{
    return event_any(found, EVENT_CONNECT_FAIL, WORDS_OF(connect_fail_words));
}

/* Lines that say TLS came up. */
static int tls_up_in(enum format f, const char *s, size_t n)
{
    switch (f) {
    case F_SWAKS: return has_prefix(s, n, "=== TLS started");
    case F_CURL:
        return has_prefix(s, n, "* SSL connection using")
               || has_prefix(s, n, "* TLS connection using");
    case F_MSMTP:
        return has_prefix(s, n, "TLS session parameters")
               || has_prefix(s, n, "TLS certificate information");
    case F_NODEMAILER:
        return contains_ci(s, n, "Secure connection established")
               || contains_ci(s, n, "Connection upgraded with STARTTLS");
    case F_RUBY:
        return contains_ci(s, n, "SSL established") || has_prefix(s, n, "TLS connection started");
    default: return 0;
    }
}

static int tls_failed_in(const unsigned char *found)
{
    return event_any(found, EVENT_TLS_FAIL, WORDS_OF(tls_fail_words));
}

/* Connection lines with what they say of the port and of implicit TLS. */
/* The port of a command line "telnet HOST PORT": its last word when that is a number. */
static void telnet_port(struct reader *r, const char *c, size_t n)
{
    size_t e = n;
    while (e && c[e - 1] == ' ')
        e--;
    size_t b = e;
    while (b && is_digit((unsigned char)c[b - 1]) && e - b < 6)
        b--;
    if (b == e || !b || c[b - 1] != ' ')
        return;
    long v = 0;
    for (size_t k = b; k < e; k++)
        v = v * 10 + (c[k] - '0');
    if (v > 0 && v < 65536)
        r->d->port = (int)v;
}

static void connection_line(struct reader *r, const char *s, size_t n, const char *c, size_t cn)
{
    struct kb_dialogue *d = r->d;
    int connected = 0, implicit = 0, shown = 0, attempt = 0;
    switch (r->f) {
    case F_SWAKS:
        attempt = has_prefix(c, cn, "=== Trying ");
        connected = has_prefix(c, cn, "=== Connected to ");
        shown = connected;
        break;
    case F_CURL:
        attempt = has_prefix(c, cn, "*   Trying ") || has_prefix(c, cn, "* Trying ");
        connected = has_prefix(c, cn, "* Connected to ");
        shown = connected;
        break;
    case F_PHPMAILER:
        attempt = has_prefix(c, cn, "Connection: opening to ");
        implicit = attempt && contains_ci(c, cn, "ssl://");
        connected = has_prefix(c, cn, "Connection: opened");
        shown = attempt;
        break;
    case F_MSMTP:
        /* the settings msmtp --debug prints: "host = ...", "port = 465" */
        attempt = has_prefix(c, cn, "host = ");
        if (has_prefix(c, cn, "port = ")) {
            long v = 0;
            for (size_t k = 7; k < cn && is_digit((unsigned char)c[k]) && v < 100000; k++)
                v = v * 10 + (c[k] - '0');
            if (v > 0 && v < 65536)
                d->port = (int)v;
        }
        break;
    case F_SMTPLIB:
        attempt = has_prefix(c, cn, "connect: to ") || has_prefix(c, cn, "connect: (");
        break;
    case F_NODEMAILER:
        connected = contains_ci(c, cn, "connection established to ");
        implicit = contains_ci(c, cn, "Secure connection established");
        shown = connected;
        break;
    case F_MAILKIT:
        connected = has_prefix(c, cn, "Connected to ");
        implicit = has_prefix(c, cn, "Connected to smtps://");
        shown = connected;
        break;
    case F_RUBY:
        attempt = has_prefix(c, cn, "opening connection to ");
        connected = has_prefix(c, cn, "opened") || has_prefix(c, cn, "Connection opened: ");
        implicit = has_prefix(c, cn, "starting SSL for ");
        break;
    case F_TELNET: {
        /* the command line, at a shell prompt or not: "$ telnet smtp.example.com 587" */
        long at = find_ci(c, cn, "telnet ");
        int command =
            at == 0 || (at >= 2 && c[at - 1] == ' ' && c[at - 2] && strchr("$#>%", c[at - 2]));
        attempt = has_prefix(c, cn, "Trying ") || command;
        connected = has_prefix(c, cn, "Connected to ") || has_prefix(c, cn, "CONNECTED(0");
        if (command)
            telnet_port(r, c, cn);
        break;
    }
    case F_JAVAMAIL:
        attempt = contains_ci(c, cn, "trying to connect to host");
        connected = contains_ci(c, cn, "connected to host");
        implicit = attempt && contains_ci(c, cn, "isSSL true");
        shown = attempt;
        break;
    default: break;
    }
    if (connected && contains_ci(c, cn, "could not connect"))
        connected = 0;
    if (attempt)
        r->attempted = 1;
    /* telnet names the port on its command line only ("Trying ::1..." is an address) */
    if ((attempt || connected) && r->f != F_TELNET) {
        int port = port_in(c, cn);
        if (port)
            d->port = port;
    }
    if (shown)
        r->tls_shown = 1;
    if (implicit) {
        r->tls_now = 1;
        d->tls = 1;
    }
    if (connected)
        mark_connected(r);
    (void)s;
    (void)n;
}

/* PHPMailer's summary of a refused command ("SMTP ERROR: AUTH command failed: 502 5.5.2 ...",
 * "SMTP ERROR: Password command failed: 535 ..."): at SMTPDebug 1 the server's lines are not
 * shown, so it is the only place the failing reply appears. */
static void phpmailer_failure(struct reader *r, const char *c, size_t n, size_t line)
{
    long at = find_ci(c, n, "SMTP ERROR: ");
    if (at < 0 || r->d->failing_reply)
        return;
    const char *v = c + at + 12;
    size_t vn = n - (size_t)at - 12;
    const char *verb = command_verb(v, vn);
    if (!verb && (has_prefix(v, vn, "Password ") || has_prefix(v, vn, "Username ")))
        verb = "AUTH";
    long failed = find_ci(v, vn, "command failed: ");
    if (!verb || failed < 0)
        return;
    int code = reply_code_at(v + failed + 16, vn - (size_t)failed - 16, NULL);
    if (code < 400)
        return;
    r->d->failing_reply = code;
    r->d->failing_line = line;
    r->failing_verb = verb;
}

/* A line that is no turn (input line number): connection, TLS and error events, the end. */
static void event_line(struct reader *r, const struct line *l, size_t number)
{
    struct kb_dialogue *d = r->d;
    const char *c = l->c;
    size_t cn = l->cn;
    connection_line(r, l->s, l->n, c, cn);
    if (tls_up_in(r->f, c, cn)) {
        r->tls_now = 1;
        d->tls = 1;
    }
    unsigned char found[EVENT_WORDS];
    event_words_find(c, cn, found);
    if (tls_failed_in(found)) {
        r->tls_failed = 1;
        r->saw_error = d->connected == 1;
    }
    /* JavaMail's list of the EHLO reply, when its raw lines are not shown */
    if (r->f == F_JAVAMAIL && contains_ci(c, cn, "Found extension \"")) {
        if (!r->ehlo.open) {
            memset(&r->ehlo, 0, sizeof r->ehlo);
            r->ehlo.open = 1;
        }
        long at = find_ci(c, cn, "Found extension \"");
        const char *x = c + at + 17;
        size_t xn = cn - (size_t)at - 17;
        /* "AUTH", arg "LOGIN PLAIN" -> AUTH LOGIN PLAIN */
        char buf[CUE_SPAN];
        size_t bl = 0;
        for (size_t i = 0; i < xn && bl + 1 < sizeof buf; i++)
            if (x[i] != '"' && x[i] != ',')
                buf[bl++] = x[i];
        /* drop the word "arg" between the name and its argument */
        char *arg = NULL;
        for (size_t i = 0; i + 4 < bl; i++)
            if (memcmp(buf + i, " arg ", 5) == 0) {
                arg = buf + i;
                break;
            }
        if (arg)
            memmove(arg, arg + 4, (size_t)(buf + bl - (arg + 4))), bl -= 4;
        ehlo_scan(&r->ehlo, buf, bl);
        if (d->connected != 1)
            mark_connected(r);
        if (pending_peek(r) && strcmp(pending_peek(r), "CONNECT") == 0)
            pending_pop(r), d->greeting = d->greeting < 0 ? 1 : d->greeting;
        return;
    }
    if (r->ehlo.open && !r->reply_open && r->f == F_JAVAMAIL)
        ehlo_commit(r);
    if (r->f == F_PHPMAILER)
        phpmailer_failure(r, c, cn, number);
    const char *how = NULL;
    int was_connected = ending_in(c, cn, found, &how);
    if (d->connected != 1 && connect_failed(found)) {
        d->connected = 0;
        if (how && strcmp(how, "timeout") == 0)
            set_ended(r, "timeout");
        return;
    }
    if (!how)
        return;
    if (d->connected != 1 && !r->replies && !r->commands) {
        if (was_connected) {
            mark_connected(r); /* closed or reset by the peer: it had been made */
        } else if (strcmp(how, "timeout") == 0 && contains_ci(c, cn, "connect")) {
            d->connected = 0; /* the connection attempt itself timed out */
            set_ended(r, "timeout");
            return;
        } else {
            return;
        }
    }
    /* the close that follows QUIT is no unexpected end */
    if (!(d->ended && strcmp(d->ended, "quit") == 0 && strcmp(how, "closed") == 0))
        set_ended(r, how);
    r->saw_error = 1;
}

/* ---- MTA logs --------------------------------------------------------------------------- */

/* The command named after "after " in Postfix and Exim wordings ("lost connection after
 * AUTH", "timeout after END-OF-MESSAGE", "SMTP timeout after RCPT TO:<x>"). */
static const char *verb_after(const char *s, size_t n, const char *lead)
{
    long at = find_ci(s, n, lead);
    if (at < 0)
        return NULL;
    size_t k = (size_t)at + strlen(lead);
    if (has_prefix(s + k, n - k, "END-OF-MESSAGE") || has_prefix_ci(s + k, n - k, "end of data"))
        return "DATA";
    if (has_prefix(s + k, n - k, "CONNECT") || has_prefix_ci(s + k, n - k, "initial connection"))
        return "CONNECT";
    return command_verb(s + k, n - k);
}

static void log_failing(struct reader *r, int code, const char *verb, size_t line)
{
    struct kb_dialogue *d = r->d;
    if (d->failing_reply || r->failing_verb)
        return;
    d->failing_reply = code;
    d->failing_line = code ? line : 0;
    r->failing_verb = verb;
}

static void log_last(struct reader *r, const char *verb)
{
    if (verb && strcmp(verb, "CONNECT") != 0)
        r->last_verb = verb;
}

/* A code after ": " in "reject: RCPT from x[1.2.3.4]: 554 5.7.1 ..." or "said: 550 ...". */
static int code_after(const char *s, size_t n, const char *lead)
{
    long at = find_ci(s, n, lead);
    if (at < 0)
        return 0;
    for (size_t k = (size_t)at + strlen(lead); k + 3 <= n && k < (size_t)at + 200; k++)
        if ((s[k - 1] == ' ' || s[k - 1] == ':') && reply_code_at(s + k, n - k, NULL))
            return reply_code_at(s + k, n - k, NULL);
    return 0;
}

static void postfix_line(struct reader *r, const char *s, size_t n, size_t line)
{
    struct kb_dialogue *d = r->d;
    int daemon = postfix_daemon(s, n);
    if (!daemon)
        return;
    const char *v;
    if (daemon == 1) { /* smtpd: the server's view of a client */
        if (contains_ci(s, n, ": connect from "))
            d->connected = 1;
        if ((v = verb_after(s, n, "lost connection after ")))
            d->connected = 1, log_last(r, v), set_ended(r, "closed");
        if ((v = verb_after(s, n, "timeout after ")))
            d->connected = 1, log_last(r, v), set_ended(r, "timeout");
        if ((v = verb_after(s, n, "improper command pipelining after ")))
            d->connected = 1, log_last(r, v);
        if (contains_ci(s, n, "SSL_accept error from") || contains_ci(s, n, "TLS handshake failed")
            || contains_ci(s, n, "TLS library problem"))
            d->connected = 1, r->tls_failed = 1;
        if (contains_ci(s, n, "TLS connection established from"))
            d->connected = 1, d->tls = 1;
        if (contains_ci(s, n, "SASL") && contains_ci(s, n, "authentication failed"))
            d->connected = 1, log_last(r, "AUTH"), log_failing(r, 0, "AUTH", line);
        long at = find_ci(s, n, "reject: ");
        if (at >= 0) {
            const char *rv = command_verb(s + at + 8, n - (size_t)at - 8);
            if (has_prefix(s + at + 8, n - (size_t)at - 8, "CONNECT"))
                rv = "CONNECT";
            d->connected = 1;
            log_last(r, rv);
            log_failing(r, code_after(s, n, "reject: "), rv, line);
        }
        if (contains_ci(s, n, ": disconnect from ")) {
            d->connected = 1;
            if (contains_ci(s, n, " quit=1"))
                set_ended(r, "quit");
            if (contains_ci(s, n, " starttls=1"))
                d->tls = 1;
            else if (contains_ci(s, n, " starttls=0/"))
                r->tls_failed = 1;
            if (contains_ci(s, n, " ehlo=1") || contains_ci(s, n, " helo=1"))
                d->ehlo = 1;
            if (contains_ci(s, n, " auth=0/"))
                log_failing(r, 0, "AUTH", line);
        }
        return;
    }
    /* smtp: Postfix as the client of another server */
    long at = find_ci(s, n, "connect to ");
    if (at >= 0
        && (contains_ci(s, n, "Connection refused") || contains_ci(s, n, "timed out")
            || contains_ci(s, n, "No route to host")
            || contains_ci(s, n, "Network is unreachable"))) {
        d->connected = 0;
        int port = port_in(s + at, n - (size_t)at);
        if (port)
            d->port = port;
        if (contains_ci(s, n, "timed out"))
            set_ended(r, "timeout");
        return;
    }
    if (contains_ci(s, n, "initial server greeting")) {
        d->connected = 1;
        d->greeting = 0;
        set_ended(r, contains_ci(s, n, "timed out") ? "timeout" : "closed");
    } else if (contains_ci(s, n, "lost connection with ")) {
        d->connected = 1;
        set_ended(r, "closed");
    } else if (contains_ci(s, n, "conversation with ") && contains_ci(s, n, "timed out")) {
        d->connected = 1;
        set_ended(r, "timeout");
    }
    if ((v = verb_after(s, n, "while performing the ")))
        log_last(r, v);
    if (contains_ci(s, n, "refused to talk to me:")) {
        d->connected = 1;
        d->greeting = 0;
        log_failing(r, code_after(s, n, "refused to talk to me:"), "CONNECT", line);
    }
    if (contains_ci(s, n, " said: ")) {
        d->connected = 1;
        const char *rv = verb_after(s, n, "(in reply to ");
        if (rv && strcmp(rv, "CONNECT") != 0 && d->greeting < 0)
            d->greeting = 1;
        log_last(r, rv);
        log_failing(r, code_after(s, n, " said: "), rv, line);
    }
    if (contains_ci(s, n, "TLS connection established to"))
        d->tls = 1;
    if (contains_ci(s, n, "SSL_connect error") || contains_ci(s, n, "Cannot start TLS"))
        r->tls_failed = 1;
}

static void exim_event(struct reader *r, const char *s, size_t n, size_t line)
{
    struct kb_dialogue *d = r->d;
    const char *v;
    if (contains_ci(s, n, "SMTP connection from "))
        d->connected = 1;
    long at = find_ci(s, n, "SMTP protocol error in \"");
    if (at >= 0) {
        v = command_verb(s + at + 24, n - (size_t)at - 24);
        d->connected = 1;
        log_last(r, v);
        log_failing(r, 0, v, line);
    }
    if (contains_ci(s, n, "unexpected disconnection while reading SMTP command"))
        d->connected = 1, set_ended(r, "closed");
    if (contains_ci(s, n, "SMTP command timeout") || contains_ci(s, n, "SMTP data timeout"))
        d->connected = 1, set_ended(r, "timeout");
    if (contains_ci(s, n, "TLS error on connection from"))
        d->connected = 1, r->tls_failed = 1;
    if (contains_ci(s, n, "authenticator failed for "))
        d->connected = 1, log_last(r, "AUTH"),
        log_failing(r, code_after(s, n, "authenticator failed for "), "AUTH", line);
    static const char *const rejected[] = {"rejected RCPT ", "rejected MAIL ", "rejected EHLO ",
                                           "rejected HELO "};
    for (size_t k = 0; k < sizeof rejected / sizeof rejected[0]; k++)
        if ((at = find_ci(s, n, rejected[k])) >= 0) {
            v = command_verb(s + at + 9, n - (size_t)at - 9);
            d->connected = 1;
            log_last(r, v);
            log_failing(r, 0, v, line);
        }
    if (contains_ci(s, n, "rejected after DATA"))
        d->connected = 1, log_last(r, "DATA"), log_failing(r, 0, "DATA", line);
    /* Exim as a client: "SMTP error from remote mail server after RCPT TO:<x>: 550 ..." */
    if ((v = verb_after(s, n, "SMTP error from remote mail server after "))) {
        d->connected = 1;
        log_last(r, v);
        if (strcmp(v, "CONNECT") != 0 && d->greeting < 0)
            d->greeting = 1;
        log_failing(r, code_after(s, n, "SMTP error from remote mail server after "), v, line);
    }
    if ((v = verb_after(s, n, "SMTP timeout after "))) {
        d->connected = 1;
        log_last(r, v);
        if (strcmp(v, "CONNECT") == 0)
            d->greeting = 0;
        set_ended(r, "timeout");
    }
    if (contains_ci(s, n, "Remote host closed connection in response to ")) {
        d->connected = 1;
        v = verb_after(s, n, "in response to ");
        log_last(r, v);
        if (v && strcmp(v, "CONNECT") == 0)
            d->greeting = 0;
        set_ended(r, "closed");
    }
}

/* ---- the stage -------------------------------------------------------------------------- */

static void original_line(const struct kb_norm *norm, size_t i, struct line *l)
{
    size_t s = norm->orig_start[i], e = norm->orig_start[i + 1];
    if (e > s && norm->input[e - 1] == '\n')
        e--;
    l->s = norm->input + s;
    l->n = e - s;
    trim_right(l->s, &l->n);
    /* a line the person set in bold or as code when pasting into Markdown ("**250-AUTH
     * NTLM**", "`EHLO me`") */
    static const char *const wraps[] = {"**", "__", "`"};
    for (size_t k = 0; k < sizeof wraps / sizeof wraps[0]; k++) {
        size_t w = strlen(wraps[k]);
        if (l->n > 2 * w && memcmp(l->s, wraps[k], w) == 0
            && memcmp(l->s + l->n - w, wraps[k], w) == 0 && l->s[w] != ' ') {
            l->s += w;
            l->n -= 2 * w;
            break;
        }
    }
}

/* What one line adds to pick_format's scores. */
struct line_score {
    /* the cues it holds, in the order of cues[] (a list, not a flag per cue: a line holds a
     * few, and the scores are added up for every line) */
    size_t hit[CUE_COUNT];
    size_t hits;
    enum format extra; /* a format it is a line of (2 points), or F_NONE */
    int curl;          /* curl's marks of a turn (1 point) */
    int reading, smtp_replies;
    int bare; /* a turn without any marker: BARE_REPLY (its code first) or BARE_COMMAND */
};

enum { BARE_REPLY = 1, BARE_COMMAND = 2 };

static void score_line(struct line l, struct line_score *sc)
{
    size_t dl = decoration_len(l.s, l.n);
    const char *p = l.s + dl;
    size_t m = l.n - dl;
    /* the blanks between the decoration and a marker, as classify() skips them: a time stamp
     * or a logger's "[PROTOCOL] [id] " stands before smtplib's "send:" and a bare "S: " */
    while (m && (*p == ' ' || *p == '\t'))
        p++, m--;
    unsigned char found[CUE_COUNT + EXIM_WORDS];
    line_cues_find(l.s, l.n, found);
    sc->hits = 0;
    for (size_t k = 0; k < CUE_COUNT; k++) {
        const struct cue *c = &cues[k];
        size_t len = line_cues.cue_len[k];
        /* the first byte before memcmp: most lines start with none of the cues */
        if (c->at_start == 2 ? l.n >= len && l.s[0] == c->text[0] && memcmp(l.s, c->text, len) == 0
            : c->at_start == 1 ? m >= len && p[0] == c->text[0] && memcmp(p, c->text, len) == 0
                               : found[line_cues.cue_slot[k]])
            sc->hit[sc->hits++] = k;
    }
    sc->extra = postfix_daemon(l.s, l.n) ? F_POSTFIX : exim_line(found) ? F_EXIM : F_NONE;
    /* curl marks turns with "< " and "> " only: count them when a code or verb follows */
    sc->curl = (has_prefix(p, m, "< ") && reply_code_at(p + 2, m - 2, NULL))
               || (has_prefix(p, m, "> ") && command_verb(p + 2, m - 2));
    /* the content of a turn, whatever marks it: SMTP replies against mail reading */
    sc->reading = sc->smtp_replies = 0;
    for (size_t k = 0; k < m && k < 24; k++)
        if (p[k] == ' ' && k + 1 < m) {
            sc->reading += mail_reading_line(p + k + 1, m - k - 1) != 0;
            sc->smtp_replies += reply_code_at(p + k + 1, m - k - 1, NULL) != 0;
            break;
        }
    sc->reading += mail_reading_line(p, m) != 0;
    sc->bare = reply_code_at(p, m, NULL) ? BARE_REPLY : command_verb(p, m) ? BARE_COMMAND : 0;
}

/* Scores every format by its cues and returns the best, or F_NONE. */
static enum format pick_format(const struct kb_norm *norm, size_t *work, int *marks_only)
{
    int points[F_COUNT] = {0};
    int curl_cues = 0; /* curl's points from its own wordings, not from "< " and "> " turns */
    int reading = 0, smtp_replies = 0;
    /* a session without markers: commands each answered on the next line, or a greeting
     * then a command */
    int bare_turns = 0, bare_greeting = 0, previous_bare = 0, turns_seen = 0;
    struct line last = {0};
    struct line_score sc = {{0}, 0, F_NONE, 0, 0, 0, 0};
    for (size_t i = 0; i < norm->orig_line_count; i++) {
        struct line l;
        original_line(norm, i, &l);
        if (!l.n)
            continue;
        /* each cue is looked for in at most CUE_SPAN bytes of the line */
        *work += l.n + (l.n < CUE_SPAN ? l.n : CUE_SPAN) * (sizeof cues / sizeof cues[0] + 24);
        /* a line like the one before it scores as it did (a paste of one line repeated) */
        if (!(last.s && l.n == last.n && memcmp(l.s, last.s, l.n) == 0))
            score_line(l, &sc);
        last = l;
        for (size_t h = 0; h < sc.hits; h++) {
            const struct cue *c = &cues[sc.hit[h]];
            if (points[c->f] < 1000000) {
                points[c->f] += c->points;
                curl_cues += c->f == F_CURL;
            }
        }
        if (sc.extra != F_NONE)
            points[sc.extra] += 2;
        points[F_CURL] += sc.curl;
        reading += sc.reading;
        smtp_replies += sc.smtp_replies;
        bare_turns += previous_bare == BARE_COMMAND && sc.bare == BARE_REPLY;
        if (!turns_seen && sc.bare == BARE_REPLY) {
            size_t dl = decoration_len(l.s, l.n);
            while (dl < l.n && (l.s[dl] == ' ' || l.s[dl] == '\t'))
                dl++;
            bare_greeting = has_prefix(l.s + dl, l.n - dl, "220");
        }
        if (sc.bare == BARE_COMMAND && bare_greeting && !turns_seen)
            bare_turns++;
        turns_seen |= sc.bare == BARE_COMMAND;
        previous_bare = sc.bare;
    }
    /* the generic markers also prefix Nodemailer's and MailKit's turns */
    if (points[F_NODEMAILER] >= 3 || points[F_MAILKIT] >= 3)
        points[F_GENERIC] = 0;
    if (points[F_NODEMAILER] && points[F_MAILKIT] < 3)
        points[F_NODEMAILER] += points[F_GENERIC];
    enum format best = F_NONE;
    for (int f = 1; f < F_COUNT; f++)
        if (points[f] > points[best])
            best = (enum format)f;
    if (reading && reading >= smtp_replies)
        return F_NONE; /* POP3 or IMAP: mail reading, not sending */
    /* a single weak cue is no transcript: a lone "S: 535 ..." line is an error line. Without
     * any, a session pasted bare (typed by hand, or copied from a tool without its markers) is
     * read as one typed in telnet, named generic: it shows nothing of how TLS was made. */
    if (points[best] < 2) {
        if (bare_turns < 2)
            return F_NONE;
        *marks_only = 1;
        return F_TELNET;
    }
    /* "< 250" and "> EHLO" turns without any of curl's own lines: another program's log
     * that marks turns the same way (a webmail's SMTP log) */
    *marks_only = best == F_CURL && !curl_cues;
    return best;
}

/* Segments of one content separated by escaped line breaks ("250-a\r\n250-b\r\n", as
 * PHPMailer's error_log output and some loggers write a whole reply on one line). */
static void each_segment(struct reader *r, const char *c, size_t n, enum dir dir, size_t line)
{
    size_t start = 0;
    r->work += n;
    for (size_t i = 0; i + 1 < n; i++) {
        if (c[i] != '\\' || (c[i + 1] != 'n' && c[i + 1] != 'r'))
            continue;
        size_t end = i;
        while (i + 1 < n && c[i] == '\\' && (c[i + 1] == 'n' || c[i + 1] == 'r'))
            i += 2;
        if (end > start) {
            if (dir == D_SERVER)
                server_line(r, c + start, end - start, line);
            else
                client_line(r, c + start, end - start);
        }
        start = i;
        i--;
    }
    if (n > start) {
        if (dir == D_SERVER)
            server_line(r, c + start, n - start, line);
        else
            client_line(r, c + start, n - start);
    }
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

static enum kb_status finish(struct reader *r)
{
    struct kb_dialogue *d = r->d;
    close_open_reply(r);
    ehlo_commit(r);
    if (d->greeting == 1 || r->replies)
        d->connected = 1;
    /* the session was visibly made, and ended or failed before any reply or command: no
     * greeting. An MTA's log does not show the greeting it sent or got, and a client that sent
     * a command had been greeted: neither tells of a missing greeting. */
    if (d->connected == 1 && d->greeting < 0 && !r->replies && !r->last_verb && r->f != F_POSTFIX
        && r->f != F_EXIM && (d->ended || r->saw_error))
        d->greeting = 0;
    /* a handshake or certificate check that failed: no TLS, unless protected turns followed */
    if (r->tls_failed) {
        d->tls_failed = 1;
        if (!r->ehlo_after_tls)
            d->tls = 0;
    } else if (d->tls == 1) {
        d->tls_failed = 0;
    }
    /* formats that show TLS when it is used: a dialogue without any sign of it had none */
    if (d->tls < 0 && (r->tls_shown || (format_shows_tls(r->f) && !r->marks_only))
        && (r->replies || r->commands || d->connected == 1))
        d->tls = 0;
    /* a server offers STARTTLS on a plain connection only: if the client never completed it,
     * the whole dialogue was in clear text */
    if (d->tls < 0 && d->starttls_offered == 1 && !r->tls_now)
        d->tls = 0;
    /* after STARTTLS, only an EHLO reply read with TLS up tells what is offered now */
    if (r->tls_now && r->pre_tls_ehlo && !r->ehlo_after_tls)
        d->auth_offered = -1;
    if (r->last_verb && !(d->last_command = dup_string(r->last_verb)))
        return KB_ERR_NOMEM;
    if (r->failing_verb && !(d->failing_command = dup_string(r->failing_verb)))
        return KB_ERR_NOMEM;
    if (d->auth_offered == 1 && r->mechanisms[0]
        && !(d->auth_mechanisms = dup_string(r->mechanisms)))
        return KB_ERR_NOMEM;
    return KB_OK;
}

static void clear(struct kb_dialogue *d)
{
    memset(d, 0, sizeof *d);
    d->connected = d->greeting = d->ehlo = d->starttls_offered = d->tls = d->auth_offered =
        d->auth_offered_before_tls = d->tls_failed = -1;
}

/* smtplib's debug output sent through a logger prints the marker and the quoted turn as two
 * records ("... send:" then "... 'ehlo [127.0.0.1]\\r\\n'"). A line that is a marker alone
 * sets *split and is consumed (returns 1); the next line without a marker takes its direction. */
static int smtplib_split(enum dir *split, struct line *l)
{
    enum dir pending = *split;
    *split = D_NONE;
    if (l->dir != D_NONE)
        return 0;
    /* the marker ends the record; a prefix the decoration did not cover may stand before it */
    size_t n = l->cn;
    int send = n >= 5 && memcmp(l->c + n - 5, "send:", 5) == 0;
    int reply = n >= 6 && memcmp(l->c + n - 6, "reply:", 6) == 0;
    size_t mark = send ? 5 : 6;
    if ((send || reply) && (n == mark || l->c[n - mark - 1] == ' ')) {
        *split = send ? D_CLIENT : D_SERVER;
        return 1;
    }
    /* classify() has already taken the quotes off a smtplib line */
    if (pending != D_NONE && l->cn)
        l->dir = pending;
    return 0;
}

enum kb_status kb_dialogue_read(const struct kb_norm *norm, struct kb_dialogue *d)
{
    return kb_dialogue_read_counted(norm, d, NULL);
}

enum kb_status kb_dialogue_read_counted(const struct kb_norm *norm, struct kb_dialogue *d,
                                        size_t *work)
{
    clear(d);
    size_t picked = 0;
    int marks_only = 0;
    enum format f = pick_format(norm, &picked, &marks_only);
    if (work)
        *work = picked;
    if (f == F_NONE)
        return KB_OK;
    struct reader r = {.d = d, .f = f, .work = picked, .marks_only = marks_only};
    enum dir split = D_NONE;
    for (size_t i = 0; i < norm->orig_line_count; i++) {
        struct line l;
        original_line(norm, i, &l);
        if (!l.n)
            continue;
        if (f == F_POSTFIX) {
            postfix_line(&r, l.s, l.n, i + 1);
            continue;
        }
        if (f == F_EXIM) {
            exim_event(&r, l.s, l.n, i + 1);
            continue;
        }
        classify(f, &l);
        r.work += l.n + (l.n < CUE_SPAN ? l.n : CUE_SPAN) * 64;
        if (f == F_SMTPLIB && smtplib_split(&split, &l))
            continue;
        int more;
        if (l.dir == D_SERVER && (reply_code_at(l.c, l.cn, &more) || memchr(l.c, '\\', l.cn))) {
            each_segment(&r, l.c, l.cn, D_SERVER, i + 1);
        } else if (l.dir == D_CLIENT) {
            each_segment(&r, l.c, l.cn, D_CLIENT, i + 1);
        } else if (l.dir == D_NONE && r.reply_open && reply_code_at(l.c, l.cn, &more)) {
            /* the next line of a reply a format printed over several lines under one marker */
            server_line(&r, l.c, l.cn, i + 1);
        } else {
            event_line(&r, &l, i + 1);
        }
    }
    d->format = marks_only ? format_names[F_GENERIC] : format_names[f];
    enum kb_status st = finish(&r);
    if (work)
        *work = r.work;
    if (st != KB_OK)
        kb_dialogue_release(d);
    return st;
}

void kb_dialogue_release(struct kb_dialogue *d)
{
    free(d->auth_mechanisms);
    free(d->last_command);
    free(d->failing_command);
    clear(d);
}
