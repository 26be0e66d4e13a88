/*
 * kb_redact.c - a pasted text as a log of unanswered questions may keep it (kb_text_redact,
 * for kb-lookup --log-misses): what the team needs to write the missing article, the shape of
 * the error, and nothing about the customer.
 *
 * The text is read the way a lookup reads it (kb_mime.c decodes a pasted message's parts,
 * kb_norm.c strips log wrapping and masks credentials with kb_mask.c: the one mask, the same
 * that protects every answer), then each line's customer values become placeholders: e-mail
 * addresses, host and domain names, IP addresses, user names, and opaque tokens such as queue
 * ids and encoded blobs. What stays is the wording of the error, its codes and ports, and the
 * names of programs and exceptions.
 */
#include <stdlib.h>
#include <string.h>

#include "kb_internal.h"
#include "kb_redact.h"
#include "kb_text.h"

#define DEFAULT_MAX 4096
/* A line longer than this is cut: an error's shape is in its first words. */
#define LINE_MAX_BYTES 300
#define CUT "[...]"

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(unsigned char c)
{
    return is_alpha(c) || is_digit(c);
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_label(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '_';
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int iequal(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* Does s[0, n) hold word, caseless? */
static int contains(const char *s, size_t n, const char *word)
{
    size_t m = strlen(word);
    for (size_t i = 0; i + m <= n; i++)
        if (iequal(s + i, word, m))
            return 1;
    return 0;
}

/* A value the result found (its user, its host, a report's servers) and what replaces it. */
struct known {
    const char *value;
    size_t len;
    const char *placeholder;
};

struct redactor {
    struct known *known;
    size_t known_count;
};

static void add_known(struct redactor *r, const char *value, const char *placeholder)
{
    /* a value of one or two characters would replace parts of ordinary words; one without
     * letters is a number or a code, not a name */
    if (!value || strlen(value) < 3 || strcmp(value, "***") == 0)
        return;
    int letters = 0;
    for (const char *p = value; *p && !letters; p++)
        letters = is_alpha((unsigned char)*p);
    if (!letters)
        return;
    r->known[r->known_count++] = (struct known){value, strlen(value), placeholder};
}

/* ---- recognisers: each returns the length of what it recognised at s[0, n), or 0 --------- */

/* local@domain */
static size_t address_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (is_alnum((unsigned char)s[i]) || strchr("._%+-", s[i])))
        i++;
    if (i == 0 || i >= n || s[i] != '@')
        return 0;
    size_t at = ++i;
    while (i < n
           && (is_label((unsigned char)s[i])
               || (s[i] == '.' && i > at && i + 1 < n && is_label((unsigned char)s[i + 1]))))
        i++;
    return i > at ? i : 0;
}

/* 192.0.2.1 (each part at most 255, not followed by another dotted number) */
static size_t ipv4_len(const char *s, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (i >= n || s[i] != '.')
                return 0;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && is_digit((unsigned char)s[i]) && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255 || (i < n && is_digit((unsigned char)s[i])))
            return 0;
    }
    if (i + 1 < n && s[i] == '.' && is_digit((unsigned char)s[i + 1]))
        return 0;
    return i;
}

/* 2001:db8::1, fe80::1%eth0, a full eight-group address; a time of day (12:30:05) is none */
static size_t ipv6_len(const char *s, size_t n)
{
    size_t i = 0, colons = 0, letters = 0;
    int double_colon = 0;
    while (i < n && (is_hex((unsigned char)s[i]) || s[i] == ':')) {
        if (s[i] == ':') {
            colons++;
            if (i + 1 < n && s[i + 1] == ':')
                double_colon = 1;
        } else if (!is_digit((unsigned char)s[i])) {
            letters++;
        }
        i++;
    }
    if (colons < 2 || !(double_colon || colons == 7) || (i < n && is_alnum((unsigned char)s[i])))
        return 0;
    if (!double_colon && !letters && colons < 7)
        return 0;
    if (i < n && s[i] == '%')
        for (i++; i < n && is_label((unsigned char)s[i]); i++)
            ;
    return i;
}

/* File names that look like domains: kept, they are part of the error's shape. */
static int is_file_extension(const char *s, size_t n)
{
    static const char *const ext[] = {
        "c",    "h",    "cc",   "cpp",   "cs",  "go",   "java", "js",  "mjs", "cjs", "ts",
        "py",   "rb",   "php",  "pl",    "rs",  "kt",   "ex",   "exs", "sh",  "log", "txt",
        "json", "yml",  "yaml", "xml",   "ini", "conf", "cfg",  "cf",  "env", "exe", "dll",
        "so",   "jar",  "war",  "lock",  "md",  "html", "htm",  "eml", "msg", "pem", "crt",
        "key",  "toml", "lua",  "swift", "vb",  "ps1",  "bat",  "cmd", "jsx", "tsx", "vue"};
    for (size_t k = 0; k < sizeof ext / sizeof ext[0]; k++)
        if (strlen(ext[k]) == n && iequal(s, ext[k], n))
            return 1;
    return 0;
}

/* A dotted run at s (labels joined by single dots); *labels receives how many. */
static size_t dotted_len(const char *s, size_t n, size_t *labels)
{
    size_t i = 0;
    *labels = 0;
    for (;;) {
        size_t start = i;
        while (i < n && is_label((unsigned char)s[i]))
            i++;
        if (i == start)
            return 0;
        (*labels)++;
        if (i + 1 < n && s[i] == '.' && is_label((unsigned char)s[i + 1]))
            i++;
        else
            return i;
    }
}

/* Is the dotted run s[0, n) a host or domain name? Host names are written in one case;
 * "java.net.ConnectException", "ssl.SSLError" and "smtplib.SMTPException" mix cases, file
 * names end in an extension, versions and status codes in a number. */
static int is_host(const char *s, size_t n)
{
    int upper = 0, low = 0;
    for (size_t i = 0; i < n; i++) {
        upper |= s[i] >= 'A' && s[i] <= 'Z';
        low |= s[i] >= 'a' && s[i] <= 'z';
    }
    if (upper && low)
        return 0;
    size_t last = n;
    while (last > 0 && s[last - 1] != '.')
        last--;
    size_t tld = n - last;
    if (tld < 2)
        return 0;
    for (size_t i = last; i < n; i++)
        if (!is_alpha((unsigned char)s[i]))
            return 0;
    /* "socket.gaierror", "socket.timeout": a module's exception, written in lowercase */
    if (contains(s + last, tld, "error") || contains(s + last, tld, "exception")
        || contains(s + last, tld, "timeout"))
        return 0;
    return !is_file_extension(s + last, tld);
}

/* Queue ids, message ids, hashes, tokens, encoded blobs: letters and digits interleaved
 * ("TY1PR01CA0183", "4F3A21C0B2", "dXNlcm5hbWU6"), or a long run that changes case as often as
 * random text does. Error codes keep their shape: "AADSTS50126" (letters, then digits),
 * "0x80040211", "SmtpClientAuthentication". */
static int is_opaque(const char *s, size_t n)
{
    if (n < 8 || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
        return 0;
    /* eight hex digits in capitals: an error code (OpenSSL's "error:0A000086"), where ids of
     * that alphabet (Postfix queue ids) are longer */
    size_t hex = 0, hex_letters = 0;
    for (; hex < n && (is_digit((unsigned char)s[hex]) || (s[hex] >= 'A' && s[hex] <= 'F')); hex++)
        hex_letters += !is_digit((unsigned char)s[hex]);
    if (n == 8 && hex == 8 && hex_letters)
        return 0;
    size_t kind_changes = 0, digit_changes = 0, digits = 0;
    int prev_kind = -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int kind = is_digit(c) ? 0 : (c >= 'A' && c <= 'Z') ? 1 : (c >= 'a' && c <= 'z') ? 2 : 3;
        digits += kind == 0;
        /* separators ('_', '-', '+', '=') part names: "TLS_AES_256_GCM_SHA384" is words */
        if (prev_kind >= 0 && kind != 3 && kind != prev_kind) {
            kind_changes++;
            digit_changes += kind == 0 || prev_kind == 0;
        }
        prev_kind = kind == 3 ? -1 : kind;
    }
    if (digits == n)
        return n >= 6; /* numbers: ports and codes are shorter */
    if (digit_changes >= 3)
        return 1;
    return n >= 16 && kind_changes * 20 >= n * 7;
}

/* "user=jane", "username: jane", "\"smtp_user\": \"jane\"": length up to the value. */
static size_t user_key_len(const char *s, size_t n)
{
    /* not "login": Nodemailer's "Invalid login: 535-5.7.8 ..." is an error, not a setting */
    static const char *const keys[] = {"sasl_username", "smtp_username", "mail_username",
                                       "smtp_user",     "auth_user",     "username",
                                       "user_name",     "user"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        size_t m = strlen(keys[k]);
        if (n < m || !iequal(s, keys[k], m) || (m < n && is_label((unsigned char)s[m])))
            continue;
        size_t i = m;
        while (i < n && (s[i] == '"' || s[i] == '\'' || s[i] == ' '))
            i++;
        if (i >= n || (s[i] != '=' && s[i] != ':'))
            continue;
        i++;
        while (i < n && (s[i] == ' ' || s[i] == '"' || s[i] == '\''))
            i++;
        return i < n ? i : 0;
    }
    return 0;
}

static size_t value_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !strchr(" \t\"'&,;}<>)]", s[i]))
        i++;
    return i;
}

/* ---- one line ---------------------------------------------------------------------------- */

static int word_start(const char *s, size_t i)
{
    return i == 0 || !(is_alnum((unsigned char)s[i - 1]) || s[i - 1] == '_');
}

/* Appends s[0, n) with its customer values replaced, cut at LINE_MAX_BYTES. */
static enum kb_status redact_line(const struct redactor *r, const char *s, size_t n,
                                  struct kb_buf *out)
{
    size_t start_len = out->len;
    enum kb_status st = KB_OK;
    size_t i = 0;
    while (i < n && st == KB_OK && out->len - start_len < LINE_MAX_BYTES) {
        unsigned char c = (unsigned char)s[i];
        size_t m, labels;
        /* scheme://user:***@host: the user part of a URL (the mask took the password) */
        if (c == ':' && n - i > 3 && s[i + 1] == '/' && s[i + 2] == '/') {
            size_t j = i + 3;
            while (j < n && !strchr("/ @\"'", s[j]))
                j++;
            if (j < n && s[j] == '@' && j > i + 3) {
                size_t colon = i + 3;
                while (colon < j && s[colon] != ':')
                    colon++;
                st = kb_buf_append_str(out, "://<user>");
                if (st == KB_OK)
                    st = kb_buf_append(out, s + colon, j + 1 - colon);
                i = j + 1;
                continue;
            }
            st = kb_buf_append(out, s + i, 3);
            i += 3;
            continue;
        }
        if (!(is_alnum(c) || (c == ':' && i + 1 < n && s[i + 1] == ':')) || !word_start(s, i)) {
            st = kb_buf_append_char(out, (char)c);
            i++;
            continue;
        }
        /* "250-mail.example.org": a reply line's code is not part of the name after it */
        if (is_digit(c) && n - i > 4 && is_digit((unsigned char)s[i + 1])
            && is_digit((unsigned char)s[i + 2]) && s[i + 3] == '-'
            && is_alpha((unsigned char)s[i + 4])) {
            st = kb_buf_append(out, s + i, 4);
            i += 4;
            continue;
        }
        const struct known *hit = NULL;
        for (size_t k = 0; k < r->known_count && !hit; k++) {
            const struct known *kn = &r->known[k];
            if (kn->len <= n - i && iequal(s + i, kn->value, kn->len)
                && (i + kn->len == n || !is_label((unsigned char)s[i + kn->len])))
                hit = kn;
        }
        if (hit) {
            st = kb_buf_append_str(out, hit->placeholder);
            i += hit->len;
        } else if ((m = address_len(s + i, n - i))) {
            st = kb_buf_append_str(out, "<address>");
            i += m;
        } else if ((m = ipv6_len(s + i, n - i)) || (m = ipv4_len(s + i, n - i))) {
            st = kb_buf_append_str(out, "<ip>");
            i += m;
        } else if ((m = dotted_len(s + i, n - i, &labels)) && labels >= 2) {
            size_t last = m;
            while (last > 0 && s[i + last - 1] != '.')
                last--;
            /* a host glued to what follows it, as PHPMailer's debug output folds a reply
             * ("250-mail.example.org250-PIPELINING"): the host ends where its last label's
             * letters do */
            size_t letters = 0;
            while (last + letters < m && is_alpha((unsigned char)s[i + last + letters]))
                letters++;
            if (letters >= 2 && last + letters < m
                && is_digit((unsigned char)s[i + last + letters]))
                m = last + letters;
            /* a path's part ("/srv/app/mailer.py"), a call ("smtp.login(") or a setting's
             * name ("spring.mail.password=") is code */
            int code =
                (i > 0 && (s[i - 1] == '\\' || (s[i - 1] == '/' && (i < 2 || s[i - 2] != '/'))))
                || (i + m < n && (s[i + m] == '(' || s[i + m] == '='));
            if (code && user_key_len(s + i + last, n - i - last)) {
                /* "spring.mail.username=jdoe": the setting's value is a user name */
                st = kb_buf_append(out, s + i, last);
                i += last;
                continue;
            }
            if (!code && is_host(s + i, m))
                st = kb_buf_append_str(out, "<host>");
            else
                st = kb_buf_append(out, s + i, m);
            i += m;
        } else if ((m = user_key_len(s + i, n - i))) {
            size_t v = value_len(s + i + m, n - i - m);
            st = kb_buf_append(out, s + i, m);
            if (st == KB_OK && v)
                st = kb_buf_append_str(out, "<user>");
            i += m + v;
        } else {
            /* a token, with the '=' padding of base64 but not a setting's '=' */
            size_t j = i;
            while (j < n && (is_label((unsigned char)s[j]) || s[j] == '+'))
                j++;
            size_t pad = j;
            while (pad < n && s[pad] == '=')
                pad++;
            if (pad > j && (pad == n || !is_label((unsigned char)s[pad])))
                j = pad;
            if (j == i) /* a lone ':' */
                j = i + 1;
            size_t digits = 0;
            while (i + digits < j && is_digit((unsigned char)s[i + digits]))
                digits++;
            if (is_opaque(s + i, j - i))
                st = kb_buf_append_str(out, digits == j - i ? "<n>" : "<id>");
            else
                st = kb_buf_append(out, s + i, j - i);
            i = j;
        }
    }
    if (st == KB_OK && (i < n || out->len - start_len > LINE_MAX_BYTES)) {
        /* cut where a character starts */
        size_t keep = out->len - start_len > LINE_MAX_BYTES ? LINE_MAX_BYTES : out->len - start_len;
        while (keep > 0 && ((unsigned char)out->data[start_len + keep] & 0xc0) == 0x80)
            keep--;
        out->len = start_len + keep;
        out->data[out->len] = '\0';
        st = kb_buf_append_str(out, " " CUT);
    }
    return st;
}

/* ---- which lines ------------------------------------------------------------------------- */

/* Is s[i, i + 3) a 4xx/5xx SMTP reply code: followed by an enhanced status code ("550
 * 5.1.1", "535-5.7.8"), or where replies stand: at the start of the line (after a transcript's
 * marker), after ": " ("said: 550 ...") or '(' (Python's "(535, b'...')")? A number in a log's
 * prose ("worker 450", "port 465", "line 517") is none. */
static int is_reply_code(const char *s, size_t n, size_t i)
{
    if (i + 3 > n || !is_digit((unsigned char)s[i + 1]) || !is_digit((unsigned char)s[i + 2])
        || (i > 0 && is_alnum((unsigned char)s[i - 1]))
        || (i + 3 < n && is_alnum((unsigned char)s[i + 3])))
        return 0;
    if (i + 6 < n && (s[i + 3] == ' ' || s[i + 3] == '-')
        && (s[i + 4] == '4' || s[i + 4] == '5' || s[i + 4] == '2') && s[i + 5] == '.'
        && is_digit((unsigned char)s[i + 6]))
        return 1;
    size_t k = 0;
    while (k < i && !is_alnum((unsigned char)s[k]))
        k++;
    if (k == i)
        return 1; /* the first word of the line */
    return s[i - 1] == '(' || (i >= 2 && s[i - 1] == ' ' && s[i - 2] == ':');
}

/* Lines that carry the error are kept first when the whole text does not fit. */
int kb_redact_error_weight(const char *s, size_t n)
{
    static const char *const words[] = {
        "error",     "fail",       "exception",   "refused",     "denied",
        "reject",    "invalid",    "unable",      "cannot",      "can't",
        "couldn't",  "timed out",  "timeout",     "not allowed", "blocked",
        "unauthori", "disconnect", "unexpected",  "not known",   "unknown",
        "exceed",    "expired",    "unavailable", "too many",    "not supported"};
    int code = 0, word = 0;
    for (size_t i = 0; i + 3 <= n && !(code && word); i++) {
        if (!code && (s[i] == '4' || s[i] == '5') && is_reply_code(s, n, i))
            code = 1;
        unsigned char c = lower((unsigned char)s[i]);
        if (word || !c || !strchr("efrdiuctnbx", c))
            continue; /* no word starts here: most bytes */
        for (size_t k = 0; k < sizeof words / sizeof words[0] && !word; k++) {
            size_t m = strlen(words[k]);
            word = (unsigned char)words[k][0] == c && m <= n - i && iequal(s + i, words[k], m);
        }
    }
    /* "ConnectionRefusedError: ...", "smtplib.SMTPServerDisconnected: ...", "Error: ...":
     * the line that names the exception, the last of a stack trace. Its name is one
     * identifier, dotted or in camel case or naming an error, followed by ':'. */
    int exception = 0, dotted = 0, hump = 0;
    size_t name = 0;
    for (; name < n && (is_label((unsigned char)s[name]) || s[name] == '.' || s[name] == '$');
         name++) {
        dotted |= s[name] == '.';
        hump |= name > 0 && s[name - 1] >= 'a' && s[name - 1] <= 'z' && s[name] >= 'A'
                && s[name] <= 'Z';
    }
    if (name && name < n && s[name] == ':' && (name + 1 == n || s[name + 1] == ' '))
        exception = dotted || hump || contains(s, name, "error") || contains(s, name, "exception");
    return 2 * code + word + exception;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

enum kb_status kb_text_redact(const char *text, size_t len, const struct kb_result *result,
                              size_t max, char **out, struct kb_error *err)
{
    struct kb_mime mime;
    struct kb_norm norm;
    struct kb_buf line, res;
    struct known known[3 + 2 * 64 + 1];
    struct redactor r = {known, 0};
    unsigned char *keep = NULL;
    enum kb_status st;
    *out = NULL;
    if (!max)
        max = DEFAULT_MAX;
    memset(&norm, 0, sizeof norm);
    kb_buf_init(&line, 0);
    kb_buf_init(&res, 0);
    if (result) {
        add_known(&r, result->facts.user, "<user>");
        add_known(&r, result->facts.host, "<host>");
        add_known(&r, result->report.reporting_mta, "<host>");
        for (size_t k = 0; k < result->report.recipient_count && k < 64; k++) {
            add_known(&r, result->report.recipients[k].address, "<address>");
            add_known(&r, result->report.recipients[k].remote_mta, "<host>");
        }
    }
    if ((st = kb_mime_read(text, len, &mime)) != KB_OK
        || (st = kb_norm_run_lines(mime.text, mime.len, mime.line_start, mime.line_count, &norm))
               != KB_OK)
        goto done;
    if (!(keep = calloc(norm.line_count ? norm.line_count : 1, 1))) {
        st = KB_ERR_NOMEM;
        goto done;
    }
    /* Lines with the error first, then the others, each while it fits; then in input order,
     * "[...]" where lines were left out. Work stops at the first line that does not fit. */
    size_t used = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < norm.line_count; i++) {
            size_t s = norm.line_start[i];
            size_t e = i + 1 < norm.line_count ? norm.line_start[i + 1] - 1 : norm.len;
            if (keep[i] || is_blank(norm.text + s, e - s)
                || (kb_redact_error_weight(norm.text + s, e - s) > 0) != (pass == 0))
                continue;
            kb_buf_reset(&line);
            if ((st = redact_line(&r, norm.text + s, e - s, &line)) != KB_OK)
                goto done;
            /* counted with a "[...]" before it, which it may need: the final pass then never
             * has to leave out a line chosen here */
            if (used + line.len + 1 + sizeof CUT + sizeof CUT > max)
                break;
            used += line.len + 1 + sizeof CUT;
            keep[i] = 1;
        }
    }
    /* In input order; the check is a guard, the selection left room for every mark. */
    int gap = 0;
    for (size_t i = 0; i < norm.line_count && st == KB_OK; i++) {
        size_t s = norm.line_start[i];
        size_t e = i + 1 < norm.line_count ? norm.line_start[i + 1] - 1 : norm.len;
        if (keep[i]) {
            kb_buf_reset(&line);
            if ((st = redact_line(&r, norm.text + s, e - s, &line)) != KB_OK)
                break;
            size_t need = res.len + (gap ? sizeof CUT : 0) + 1 + line.len + 1 + sizeof CUT;
            keep[i] = need <= max;
        }
        if (!keep[i]) {
            gap |= !is_blank(norm.text + s, e - s);
            continue;
        }
        if (gap)
            st = kb_buf_append_str(&res, res.len ? "\n" CUT : CUT);
        gap = 0;
        if (st == KB_OK && res.len)
            st = kb_buf_append_char(&res, '\n');
        if (st == KB_OK)
            st = kb_buf_append(&res, line.data, line.len);
    }
    if (st == KB_OK && gap)
        st = kb_buf_append_str(&res, res.len ? "\n" CUT : CUT);
    if (st == KB_OK)
        st = kb_buf_detach(&res, out);
done:
    free(keep);
    kb_norm_release(&norm);
    kb_mime_release(&mime);
    kb_buf_release(&line);
    kb_buf_release(&res);
    if (st != KB_OK)
        return kb_fail(err, st, "cannot redact the text: %s", kb_status_str(st));
    return KB_OK;
}
