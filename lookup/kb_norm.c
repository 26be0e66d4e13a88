/*
 * kb_norm.c - turns pasted text into matchable lines, remembering where each came from.
 *
 * Users paste whatever they have: a one-line message, a JSON log with "\n"-escaped stack
 * traces, a Python repr of an SMTP reply, a docker-compose log with service prefixes, a
 * coloured terminal dump. Signatures are written against the plain message, so this module
 * peels the wrapping off once, here, for both the compiler's self-test and the lookup.
 */
#include <stdlib.h>
#include <string.h>

#include "kb_text.h"

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ---- log prefixes ------------------------------------------------------------------------ */

static int starts_with(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && memcmp(s, lit, m) == 0;
}

/* "2022-11-16 11:57:21", "2021-07-13T10:41:36.005Z", optional fraction, zone, "UTC". */
static size_t iso_timestamp_len(const char *s, size_t n)
{
    static const char shape[] = "dddd-dd-dd";
    size_t i = 0;
    for (; shape[i]; i++)
        if (i >= n || (shape[i] == 'd' ? !is_digit((unsigned char)s[i]) : s[i] != shape[i]))
            return 0;
    if (i < n && (s[i] == 'T' || s[i] == ' ') && i + 5 < n && is_digit((unsigned char)s[i + 1])
        && is_digit((unsigned char)s[i + 2]) && s[i + 3] == ':') {
        i++;
        while (i < n
               && (is_digit((unsigned char)s[i]) || s[i] == ':' || s[i] == '.' || s[i] == ','))
            i++;
        if (i < n && s[i] == 'Z')
            i++;
        else if (i + 4 < n && (s[i] == '+' || s[i] == '-') && is_digit((unsigned char)s[i + 1]))
            for (i++; i < n && (is_digit((unsigned char)s[i]) || s[i] == ':'); i++)
                ;
        if (starts_with(s + i, n - i, " UTC"))
            i += 4;
    }
    return i;
}

/* "Nov 23 17:12:53 " as syslog writes it. */
static size_t syslog_timestamp_len(const char *s, size_t n)
{
    if (!n || !strchr("JFMASOND", s[0]))
        return 0;
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (n < 15)
        return 0;
    int month = 0;
    for (size_t m = 0; m < 12; m++)
        if (memcmp(s, months[m], 3) == 0)
            month = 1;
    if (!month || s[3] != ' ' || !(s[4] == ' ' || is_digit((unsigned char)s[4]))
        || !is_digit((unsigned char)s[5]) || s[6] != ' ' || s[9] != ':' || s[12] != ':')
        return 0;
    return 15;
}

/* "[2022-11-16 11:57:21]" and other bracketed groups that are only date/time characters. */
static size_t bracketed_time_len(const char *s, size_t n)
{
    if (n < 3 || s[0] != '[' || !is_digit((unsigned char)s[1]))
        return 0;
    size_t i = 1;
    while (i < n && i < 48 && (is_digit((unsigned char)s[i]) || strchr("-:.,/ TZ+", s[i])))
        i++;
    return (i < n && s[i] == ']') ? i + 1 : 0;
}

static size_t level_len(const char *s, size_t n)
{
    /* every level starts with one of these letters, bracketed or not */
    if (!n || !(s[0] == '[' || strchr("DIWEFTNC", s[0])))
        return 0;
    static const char *const levels[] = {"DEBUG", "INFO",  "WARNING", "WARN",    "ERROR",
                                         "FATAL", "TRACE", "NOTICE",  "CRITICAL"};
    size_t open = (n && s[0] == '[') ? 1 : 0;
    for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++) {
        size_t m = strlen(levels[k]);
        if (n < open + m)
            continue;
        int same = 1;
        for (size_t j = 0; j < m && same; j++) {
            unsigned char c = (unsigned char)s[open + j];
            unsigned char want = (unsigned char)levels[k][j];
            /* bare levels must be upper case ("Error: ..." is message text); bracketed any case */
            same = open ? (c == want || c == want + 32) : c == want;
        }
        if (!same)
            continue;
        size_t i = open + m;
        if (open) {
            if (i < n && s[i] == ']')
                return i + 1;
            continue;
        }
        if (i == n || s[i] == ' ' || s[i] == ':')
            return (i < n && s[i] == ':') ? i + 1 : i;
    }
    return 0;
}

/* "[lHr1v5x3A]", "[410]": short bracketed ids that follow a timestamp or level. */
static size_t short_id_len(const char *s, size_t n)
{
    if (n < 3 || s[0] != '[')
        return 0;
    size_t i = 1;
    while (i < n && i <= 24 && (is_alnum((unsigned char)s[i]) || strchr("_.-", s[i])))
        i++;
    return (i > 1 && i < n && s[i] == ']') ? i + 1 : 0;
}

/* "postgres_1      | " (docker compose) and "0|app | " (pm2). */
static size_t service_prefix_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && i < 40 && s[i] != ' ')
        i++;
    if (i == 0 || i >= n)
        return 0;
    while (i < n && s[i] == ' ')
        i++;
    if (i < n && s[i] == '|' && (i + 1 == n || s[i + 1] == ' '))
        return i + 1;
    return 0;
}

static size_t transcript_marker_len(const char *s, size_t n)
{
    if (!n || !strchr("SC<>-", s[0]))
        return 0;
    /* "> " last: the quote mark of a reply that quotes the paste (a forwarded bounce), also
     * alone on an empty quoted line */
    static const char *const markers[] = {
        "S: ", "C: ", "<<< ", ">>> ", "<- ", "-> ", "SERVER -> CLIENT: ", "CLIENT -> SERVER: ",
        "> "};
    for (size_t k = 0; k < sizeof markers / sizeof markers[0]; k++)
        if (starts_with(s, n, markers[k]))
            return strlen(markers[k]);
    return n == 1 && s[0] == '>';
}

/* Length of the log decoration at the start of a line. */
static size_t log_prefix_len(const char *s, size_t n)
{
    size_t total = 0;
    int stamped = 0;
    for (int round = 0; round < 8; round++) {
        size_t k = 0;
        while (total + k < n && s[total + k] == ' ')
            k++;
        size_t m;
        if ((m = bracketed_time_len(s + total + k, n - total - k))
            || (m = iso_timestamp_len(s + total + k, n - total - k))
            || (m = syslog_timestamp_len(s + total + k, n - total - k))
            || (m = level_len(s + total + k, n - total - k))) {
            stamped = 1;
        } else if (stamped && (m = short_id_len(s + total + k, n - total - k))) {
        } else if ((m = service_prefix_len(s + total + k, n - total - k))) {
        } else if ((m = transcript_marker_len(s + total + k, n - total - k))) {
        } else {
            total += k;
            break;
        }
        total += k + m;
    }
    while (total < n && s[total] == ' ')
        total++;
    return total;
}

/* ---- escapes ----------------------------------------------------------------------------- */

/* Undoes the quoting of JSON strings and Python reprs in one cleaned line, calling out for
 * each logical line ("\n" escapes split lines). Runs of backslashes collapse, so doubly
 * escaped text ("\\n" inside JSON inside JSON) unfolds too. */
static enum kb_status unescape_lines(const char *s, size_t n, struct kb_buf *tmp,
                                     enum kb_status (*line)(const char *, size_t, void *),
                                     void *arg)
{
    kb_buf_reset(tmp);
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < n && st == KB_OK; i++) {
        if (s[i] != '\\') {
            const char *bs = memchr(s + i, '\\', n - i);
            size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
            st = kb_buf_append(tmp, s + i, run);
            i += run - 1;
            continue;
        }
        size_t j = i;
        while (j < n && s[j] == '\\')
            j++;
        char c = j < n ? s[j] : '\0';
        if (c == 'n') {
            st = line(tmp->data ? tmp->data : "", tmp->len, arg);
            kb_buf_reset(tmp);
        } else if (c == 'r' && j + 2 < n && s[j + 1] == '\\' && s[j + 2] == 'n') {
            /* "\r\n": the line break follows */
        } else if (c == 't' && (tmp->len == 0 || tmp->data[tmp->len - 1] == ' ')) {
            /* "\n\tat Foo.bar(...)": an indenting tab; "C:\temp" is a path, kept below */
            st = kb_buf_append_char(tmp, ' ');
        } else if (c == '"' || c == '\'' || c == '/') {
            st = kb_buf_append_char(tmp, c);
        } else if (c == 'u' && j + 4 < n && s[j + 1] == '0' && s[j + 2] == '0'
                   && strchr("01234567", s[j + 3]) && s[j + 3] >= '2') {
            /* \u00XX for printable ASCII, as JSON encoders write quotes and angle brackets */
            int hi = s[j + 3] - '0';
            char lo = s[j + 4];
            int lov = is_digit((unsigned char)lo) ? lo - '0'
                      : (lo >= 'a' && lo <= 'f')  ? lo - 'a' + 10
                      : (lo >= 'A' && lo <= 'F')  ? lo - 'A' + 10
                                                  : -1;
            if (lov < 0) {
                st = kb_buf_append(tmp, s + i, j - i + 1);
                i = j;
                continue;
            }
            st = kb_buf_append_char(tmp, (char)(hi * 16 + lov));
            j += 4;
        } else {
            /* a Windows path or a regex: keep one backslash and the character */
            st = kb_buf_append_char(tmp, '\\');
            if (st == KB_OK && j < n)
                st = kb_buf_append_char(tmp, c);
        }
        i = j < n ? j : n;
    }
    if (st == KB_OK)
        st = line(tmp->data ? tmp->data : "", tmp->len, arg);
    return st;
}

/* ---- building the normalised text -------------------------------------------------------- */

struct builder {
    struct kb_norm *norm;
    struct kb_buf text;
    size_t line_alloc;
    size_t orig_line;     /* 1-based line of the input being processed */
    char cont_code[4];    /* reply code of a multi-line reply still open ("535-..."), or "" */
    char enhanced[16];    /* enhanced status code seen on the previous line, or "" */
    struct kb_buf masked; /* scratch: the current logical line with secrets masked */
    int glue;             /* the next line continues a line a terminal hard-wrapped */
};

/* A paste copied from an 80-column terminal breaks long lines at exactly 80 characters, often
 * inside a word ("SmtpClientAuthenti" / "cation is disabled"); such a line is joined to the
 * next one without a separator. */
#define TERMINAL_WIDTH 80

/* Room for count more lines in the line index (line_start, orig_line), doubling. */
static enum kb_status reserve_lines(struct builder *b, size_t count)
{
    struct kb_norm *n = b->norm;
    if (count <= b->line_alloc - n->line_count)
        return KB_OK;
    size_t na = b->line_alloc ? b->line_alloc : 64;
    while (na - n->line_count < count)
        na *= 2;
    uint32_t *ls = realloc(n->line_start, na * sizeof *ls);
    if (!ls)
        return KB_ERR_NOMEM;
    n->line_start = ls;
    uint32_t *ol = realloc(n->orig_line, na * sizeof *ol);
    if (!ol)
        return KB_ERR_NOMEM;
    n->orig_line = ol;
    b->line_alloc = na;
    return KB_OK;
}

static enum kb_status push_line(struct builder *b)
{
    struct kb_norm *n = b->norm;
    enum kb_status grown = reserve_lines(b, 1);
    if (grown != KB_OK)
        return grown;
    if (n->line_count) {
        enum kb_status st = kb_buf_append_char(&b->text, '\n');
        if (st != KB_OK)
            return st;
    }
    /* (a text over KB_TEXT_MAX is refused at the end: these stay meaningful until then) */
    n->line_start[n->line_count] = (uint32_t)b->text.len;
    n->orig_line[n->line_count] = (uint32_t)b->orig_line;
    n->line_count++;
    return KB_OK;
}

/* Pushes count (> 0) empty lines, of the input lines from b->orig_line on: push_line's work
 * for a run of them at once. */
static enum kb_status push_empty_lines(struct builder *b, size_t count)
{
    static const char breaks[] = "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"
                                 "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n";
    struct kb_norm *n = b->norm;
    enum kb_status grown = reserve_lines(b, count);
    if (grown != KB_OK)
        return grown;
    /* a line break before each line but the text's first */
    size_t first = n->line_count, text_at = b->text.len;
    size_t left = first ? count : count - 1;
    while (left) {
        size_t part = left < sizeof breaks - 1 ? left : sizeof breaks - 1;
        enum kb_status st = kb_buf_append(&b->text, breaks, part);
        if (st != KB_OK)
            return st;
        left -= part;
    }
    for (size_t k = 0; k < count; k++) {
        n->line_start[first + k] = (uint32_t)(text_at + k + (first ? 1 : 0));
        n->orig_line[first + k] = (uint32_t)(b->orig_line + k);
    }
    n->line_count += count;
    return KB_OK;
}

/* Finds "ddd-" (a reply line announcing more lines) and an enhanced code in s. */
static void scan_reply_state(const char *s, size_t n, char cont[4], char enhanced[16])
{
    cont[0] = '\0';
    enhanced[0] = '\0';
    for (size_t i = 0; i + 3 < n; i++) {
        if (s[i] < '2' || s[i] > '5')
            continue; /* most bytes: no code can start here */
        if ((i == 0 || !is_alnum((unsigned char)s[i - 1])) && is_digit((unsigned char)s[i + 1])
            && is_digit((unsigned char)s[i + 2])) {
            if (s[i + 3] == '-'
                && (i + 4 == n || is_digit((unsigned char)s[i + 4]) || s[i + 4] == ' '
                    || s[i + 4] == '"')) {
                memcpy(cont, s + i, 3);
                cont[3] = '\0';
            }
        }
        if ((i == 0 || !is_alnum((unsigned char)s[i - 1])) && s[i + 1] == '.'
            && is_digit((unsigned char)s[i + 2])) {
            size_t j = i + 2;
            while (j < n && is_digit((unsigned char)s[j]))
                j++;
            if (j + 1 < n && s[j] == '.' && is_digit((unsigned char)s[j + 1])) {
                j++;
                while (j < n && is_digit((unsigned char)s[j]))
                    j++;
                if (j - i < 16 && !enhanced[0]) {
                    memcpy(enhanced, s + i, j - i);
                    enhanced[j - i] = '\0';
                }
            }
        }
    }
}

/* Is this line the continuation of the open multi-line reply? Returns how much of it to drop. */
static size_t continuation_len(const struct builder *b, const char *s, size_t n)
{
    size_t skip = 0;
    if (b->cont_code[0] && n >= 4 && memcmp(s, b->cont_code, 3) == 0
        && (s[3] == '-' || s[3] == ' '))
        skip = 4;
    else if (!b->enhanced[0])
        return 0;
    size_t el = strlen(b->enhanced);
    size_t k = skip;
    while (k < n && s[k] == ' ')
        k++;
    if (b->enhanced[0] && n - k >= el && memcmp(s + k, b->enhanced, el) == 0
        && (k + el == n || s[k + el] == ' '))
        return k + el;
    return skip;
}

static enum kb_status add_logical_line(const char *line, size_t len, void *arg)
{
    struct builder *b = arg;
    /* Credentials are masked before anything reads the text, so no fact, capture or
     * full-text term can carry one out. */
    kb_buf_reset(&b->masked);
    enum kb_status st = kb_mask_clean_secrets(line, len, &b->masked);
    if (st != KB_OK)
        return st;
    const char *s = b->masked.data ? b->masked.data : "";
    size_t n = b->masked.len;
    if (b->glue && b->norm->line_count) {
        b->glue = 0;
        return kb_buf_append(&b->text, s, n);
    }
    b->glue = 0;
    if (!n) {
        /* an empty line has no prefix, continues no reply and closes any (what the general
         * path below concludes for it): a paste of line breaks has a million of them */
        b->cont_code[0] = '\0';
        b->enhanced[0] = '\0';
        return push_line(b);
    }
    size_t p = log_prefix_len(s, n);
    s += p;
    n -= p;
    size_t drop = b->norm->line_count ? continuation_len(b, s, n) : 0;
    if (drop) {
        st = kb_buf_append_char(&b->text, ' ');
        s += drop;
        n -= drop;
        while (n && s[0] == ' ') {
            s++;
            n--;
        }
    } else {
        st = push_line(b);
    }
    if (st == KB_OK)
        st = kb_buf_append(&b->text, s, n);
    if (st != KB_OK)
        return st;
    char cont[4], enhanced[16];
    scan_reply_state(s, n, cont, enhanced);
    /* A reply's last line ("535 5.7.8 ...") closes it; a "ddd-" line opens or continues it. */
    memcpy(b->cont_code, cont, sizeof cont);
    if (enhanced[0] || !drop)
        memcpy(b->enhanced, enhanced, sizeof enhanced);
    return KB_OK;
}

/* What add_logical_line did with the last plain line: a line with the same bytes, met in the
 * same state, does the same (a paste of one line repeated is masked, stripped and scanned
 * once). */
struct line_memo {
    const char *s; /* the line (NULL: none yet) */
    size_t n;
    int glue, had_lines; /* the state it was met in */
    char cont_code[4], enhanced[16];
    int pushed;          /* what it did: a new line or not (glued to or continuing the last) */
    struct kb_buf added; /* the bytes appended after that */
    char cont_after[4], enhanced_after[16];
};

static int memo_holds(const struct line_memo *m, const char *s, size_t n, const struct builder *b)
{
    return m->s && m->n == n && m->glue == b->glue && m->had_lines == (b->norm->line_count > 0)
           && memcmp(m->s, s, n) == 0 && strcmp(m->cont_code, b->cont_code) == 0
           && strcmp(m->enhanced, b->enhanced) == 0;
}

/* add_logical_line for the plain line s[0, n), through the memo. */
static enum kb_status add_plain_line(struct line_memo *m, const char *s, size_t n,
                                     struct builder *b)
{
    struct kb_norm *norm = b->norm;
    if (memo_holds(m, s, n, b)) {
        b->glue = 0;
        enum kb_status st = m->pushed ? push_line(b) : KB_OK;
        if (st == KB_OK)
            st = kb_buf_append(&b->text, m->added.data ? m->added.data : "", m->added.len);
        memcpy(b->cont_code, m->cont_after, sizeof m->cont_after);
        memcpy(b->enhanced, m->enhanced_after, sizeof m->enhanced_after);
        return st;
    }
    m->s = NULL;
    m->glue = b->glue;
    m->had_lines = norm->line_count > 0;
    memcpy(m->cont_code, b->cont_code, sizeof m->cont_code);
    memcpy(m->enhanced, b->enhanced, sizeof m->enhanced);
    size_t lines = norm->line_count, from = b->text.len;
    enum kb_status st = add_logical_line(s, n, b);
    if (st != KB_OK)
        return st;
    m->pushed = norm->line_count > lines;
    if (m->pushed)
        from = norm->line_start[norm->line_count - 1];
    kb_buf_reset(&m->added);
    /* (a line longer than the memo may hold is simply not remembered) */
    if (kb_buf_append(&m->added, b->text.data + from, b->text.len - from) != KB_OK)
        return KB_OK;
    memcpy(m->cont_after, b->cont_code, sizeof m->cont_after);
    memcpy(m->enhanced_after, b->enhanced, sizeof m->enhanced_after);
    m->s = s;
    m->n = n;
    return KB_OK;
}

static enum kb_status index_original_lines(struct kb_norm *n)
{
    if (n->input_len > KB_TEXT_MAX)
        return KB_ERR_TOO_LARGE;
    size_t count = 0;
    const char *p = n->input, *end = n->input + n->input_len;
    /* the byte at p is tested before memchr is called: in a run of empty lines each is the
     * next line break, and a call per line cost more than the byte */
    while (p < end && (*p == '\n' || (p = memchr(p, '\n', (size_t)(end - p))) != NULL)) {
        count++;
        p++;
    }
    if (n->input_len && n->input[n->input_len - 1] != '\n')
        count++;
    uint32_t *starts = malloc((count + 1) * sizeof *starts);
    if (!starts)
        return KB_ERR_NOMEM;
    size_t line = 0;
    starts[0] = 0;
    for (p = n->input;
         line + 1 < count && (*p == '\n' || (p = memchr(p, '\n', (size_t)(end - p))) != NULL);)
        starts[++line] = (uint32_t)(++p - n->input);
    starts[count] = (uint32_t)n->input_len;
    n->orig_owned = starts;
    n->orig_start = starts;
    n->orig_line_count = count;
    return KB_OK;
}

/* ---- text or noise ----------------------------------------------------------------------- */

/* Bytes of s[0, n) that text does not hold: NUL and other control bytes (not tab, form feed,
 * carriage return or ESC, which terminals and logs write) and bytes of no valid UTF-8
 * sequence. */
static size_t bad_bytes(const char *s, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            bad += (c < 0x20 && c != '\t' && c != '\f' && c != '\r' && c != 0x1b) || c == 0x7f;
            i++;
            continue;
        }
        size_t len = kb_utf8_len((const unsigned char *)s + i, n - i);
        if (len) {
            i += len;
        } else {
            bad++;
            i++;
        }
    }
    return bad;
}

/* A line is noise when a quarter of it or more is not text: bytes of a binary file, not words.
 * Only the runs of words in it are read (noise_runs); a signature that would hit in the rest
 * ("RBL" between word boundaries in random bytes) finds nothing there to hit. */
#define NOISE_SHARE_PERCENT 25
/* What reads as words inside noise: a run of printable text at least this long, with spaces
 * between its words and letters for at least half of it. An error message embedded in a
 * binary file ("535 5.7.8 Username and Password not accepted") is one; random bytes make one
 * about once in 10^10 bytes. */
#define NOISE_RUN_MIN 20

static int run_is_words(const char *s, size_t n)
{
    size_t spaces = 0, letters = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        spaces += c == ' ';
        letters += (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
    }
    return n >= NOISE_RUN_MIN && spaces >= 2 && 2 * letters >= n;
}

/* Calls add for each run of words in the noise line s[0, n). */
static enum kb_status noise_runs(const char *s, size_t n,
                                 enum kb_status (*add)(const char *, size_t, void *), void *b)
{
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < n && st == KB_OK;) {
        size_t start = i;
        while (i < n) {
            unsigned char c = (unsigned char)s[i];
            size_t len = c >= 0x20 && c < 0x7f ? 1
                         : c == '\t'           ? 1
                         : c >= 0x80           ? kb_utf8_len((const unsigned char *)s + i, n - i)
                                               : 0;
            if (!len)
                break;
            i += len;
        }
        if (run_is_words(s + start, i - start))
            st = add(s + start, i - start, b);
        if (i == start)
            i++;
    }
    return st;
}

/* Bytes of a 64-bit word (each byte b: b * ONES), and the test whether any byte of x is
 * below n (n <= 128; bytes of 0x80 and up are not), exact as a yes/no (Bit Twiddling Hacks'
 * hasless). */
#define ONES 0x0101010101010101ull
#define ANY_BELOW(x, n) (((x)-ONES * (n)) & ~(x)&ONES * 0x80)

/* Is every byte of s[0, n) plain (no control byte, DEL or backslash: nothing to clean or
 * unescape) and is every byte ASCII? Eight bytes at a time: this is read for every byte of
 * every line, and a byte at a time was 16 instructions a byte. */
static void line_class(const char *s, size_t n, int *plain, int *ascii)
{
    uint64_t special = 0, high = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        high |= x & ONES * 0x80;
        special |=
            ANY_BELOW(x, 0x20) | ANY_BELOW(x ^ ONES * 0x7f, 1) | ANY_BELOW(x ^ ONES * '\\', 1);
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        high |= c & 0x80;
        special |= c < 0x20 || c == 0x7f || c == '\\';
    }
    *plain = !special;
    *ascii = !high;
}

/* The lines of out->input (indexed in out->orig_start) normalised into out. */
static enum kb_status normalise(struct kb_norm *out)
{
    const char *input = out->input;
    size_t len = out->input_len;
    struct builder b = {.norm = out};
    struct kb_buf clean, tmp;
    kb_buf_init(&b.text, 0);
    kb_buf_init(&b.masked, 0);
    kb_buf_init(&clean, 0);
    kb_buf_init(&tmp, 0);
    struct line_memo memo = {.s = NULL};
    kb_buf_init(&memo.added, 0);
    enum kb_status st = KB_OK;
    int wrapped = 0;
    for (size_t line = 0; st == KB_OK && line < out->orig_line_count; line++) {
        size_t s = out->orig_start[line];
        size_t e = out->orig_start[line + 1];
        if (e > s && e - 1 < len && input[e - 1] == '\n')
            e--;
        b.orig_line = line + 1;
        if (e == s) {
            /* an empty line: nothing to clean, unescape or mask, and it ends a wrapped line;
             * it has no prefix, continues no reply and closes any (what add_logical_line
             * concludes for it). A run of them is taken at once: a paste of line breaks has a
             * million. */
            b.glue = 0;
            wrapped = 0;
            b.cont_code[0] = '\0';
            b.enhanced[0] = '\0';
            size_t run = 1;
            while (line + run < out->orig_line_count
                   && out->orig_start[line + run + 1] - out->orig_start[line + run] <= 1
                   && (out->orig_start[line + run + 1] == out->orig_start[line + run]
                       || input[out->orig_start[line + run]] == '\n'))
                run++;
            st = push_empty_lines(&b, run);
            line += run - 1;
            continue;
        }
        /* Most lines hold no control byte and no backslash: they go to add_logical_line as
         * they are, without the two copies that cleaning and unescaping make. */
        const char *text = input + s;
        size_t n = e - s;
        int plain, ascii;
        line_class(text, n, &plain, &ascii);
        size_t bad = plain && ascii ? 0 : bad_bytes(text, n);
        out->bad_bytes += bad;
        if (bad && bad * 100 >= n * NOISE_SHARE_PERCENT) {
            out->noise_lines++;
            b.glue = 0;
            wrapped = 0;
            if (st == KB_OK)
                st = noise_runs(text, n, add_logical_line, &b);
            continue;
        }
        if (!plain) {
            kb_buf_reset(&clean);
            st = kb_clean_line(text, n, &clean);
            text = clean.data ? clean.data : "";
            n = clean.len;
        }
        b.glue = wrapped && n > 0;
        wrapped = n == TERMINAL_WIDTH;
        if (st == KB_OK)
            st = plain ? add_plain_line(&memo, text, n, &b)
                       : unescape_lines(text, n, &tmp, add_logical_line, &b);
    }
    if (st == KB_OK && out->line_count == 0) {
        b.orig_line = 1;
        st = push_line(&b);
    }
    if (st == KB_OK)
        st = kb_buf_detach(&b.text, &out->text);
    if (st == KB_OK)
        out->len = strlen(out->text);
    /* the line index is 32-bit (masking may lengthen a line: checked here, once) */
    if (st == KB_OK && out->len > KB_TEXT_MAX)
        st = KB_ERR_TOO_LARGE;
    /* the input looks binary: a tenth of its bytes or more are not text */
    out->binary = len >= 16 && out->bad_bytes * 10 >= len;
    kb_buf_release(&b.text);
    kb_buf_release(&b.masked);
    kb_buf_release(&clean);
    kb_buf_release(&tmp);
    kb_buf_release(&memo.added);
    return st;
}

enum kb_status kb_norm_run(const char *input, size_t len, struct kb_norm *out)
{
    memset(out, 0, sizeof *out);
    out->input = input;
    out->input_len = len;
    enum kb_status st = index_original_lines(out);
    return st == KB_OK ? normalise(out) : st;
}

enum kb_status kb_norm_run_lines(const char *input, size_t len, const uint32_t *line_start,
                                 size_t line_count, struct kb_norm *out)
{
    memset(out, 0, sizeof *out);
    out->input = input;
    out->input_len = len;
    out->orig_start = line_start;
    out->orig_line_count = line_count;
    return normalise(out);
}

void kb_norm_release(struct kb_norm *norm)
{
    free(norm->text);
    free(norm->line_start);
    free(norm->orig_line);
    free(norm->orig_owned);
    memset(norm, 0, sizeof *norm);
}

size_t kb_norm_line_of(const struct kb_norm *norm, size_t off)
{
    size_t lo = 0, hi = norm->line_count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (norm->line_start[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}
