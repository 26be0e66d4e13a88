/*
 * kb_mask.c - keeps credentials in a pasted log from leaving the lookup: everything kb-lookup
 * prints of the user's text (evidence lines, captures, facts) passes through kb_mask_secrets.
 * Support agents paste whole SMTP transcripts, and those carry AUTH blobs and passwords.
 */
#include <string.h>

#include "kb_text.h"

#define MASK "***"

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Keys such as MAIL_PASSWORD end in a known name after an underscore. */
static int is_alnum(unsigned char c)
{
    return is_word(c) && c != '_';
}

/* Keys in camel case ("SmtpPassword", "mailApiKey") end in a known name after a hump. */
static int camel_hump(const char *s, size_t i)
{
    return i > 0 && s[i] >= 'A' && s[i] <= 'Z' && s[i - 1] >= 'a' && s[i - 1] <= 'z';
}

static int is_b64(unsigned char c)
{
    return is_word(c) || c == '+' || c == '/' || c == '=' || c == '-';
}

static int iprefix(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n < m)
        return 0;
    for (size_t i = 0; i < m; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return 0;
    return 1;
}

/* "AUTH PLAIN <blob>": length of "AUTH MECH " when followed by a credential blob. */
static size_t auth_command_len(const char *s, size_t n)
{
    static const char *const mechs[] = {"plain ", "login ", "xoauth2 ", "oauthbearer ",
                                        "cram-md5 "};
    if (!iprefix(s, n, "auth "))
        return 0;
    for (size_t k = 0; k < sizeof mechs / sizeof mechs[0]; k++)
        if (iprefix(s + 5, n - 5, mechs[k]))
            return 5 + strlen(mechs[k]);
    return 0;
}

/* "password=", "pass: ", "\"smtp_password\": \"", and in XML "<password>" (tag: the key follows a
 * '<'): length up to where the value starts. */
static size_t secret_key_len(const char *s, size_t n, int tag)
{
    static const char *const keys[] = {
        "password",  "passwd", "pass",  "pwd",           "secret",    "client_secret",
        "api_key",   "apikey", "token", "smtp_password", "auth_pass", "secret_access_key",
        "secret_key"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        size_t m = strlen(keys[k]);
        if (!iprefix(s, n, keys[k]))
            continue;
        /* quotes may be escaped: the original line of a JSON log that holds JSON */
        size_t i = m;
        while (i < n && (s[i] == '"' || s[i] == '\'' || s[i] == ' ' || s[i] == '\\'))
            i++;
        if (i >= n || (s[i] != '=' && s[i] != ':' && !(tag && s[i] == '>')))
            continue;
        i++;
        if (s[i - 1] == '=' && i < n && s[i] == '>') /* PHP and Ruby: 'password' => '...' */
            i++;
        while (i < n && (s[i] == ' ' || s[i] == '"' || s[i] == '\'' || s[i] == '\\'))
            i++;
        return i < n ? i : 0;
    }
    return 0;
}

static size_t value_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !strchr(" \t\"'&,;}<>", s[i])
           && !(s[i] == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\'')))
        i++;
    return i;
}

/* "login('user', 'secret')" as a traceback shows the source line of the call that failed:
 * returns where the second argument's text starts when it is a string literal (and its length
 * in *len), else 0. */
static size_t login_password(const char *s, size_t n, size_t *len)
{
    if (!iprefix(s, n, "login("))
        return 0;
    size_t i = 6;
    char quote = 0;
    for (; i < n && (quote || s[i] != ','); i++) { /* the first argument */
        if (quote && s[i] == quote)
            quote = 0;
        else if (!quote && (s[i] == '\'' || s[i] == '"'))
            quote = s[i];
        else if (!quote && s[i] == ')')
            return 0;
    }
    for (i++; i < n && s[i] == ' '; i++)
        ;
    if (i >= n || (s[i] != '\'' && s[i] != '"'))
        return 0;
    const char *end = memchr(s + i + 1, s[i], n - i - 1);
    if (!end || end == s + i + 1)
        return 0;
    *len = (size_t)(end - (s + i + 1));
    return i + 1;
}

/* Length of the client marker of a transcript line at s[at]: "C: " (generic, PHPMailer's
 * "CLIENT -> SERVER: " ends in one), swaks's "-> " and "~> " (after TLS), curl -v's "> " at
 * the start of the line. */
static size_t client_marker_len(const char *s, size_t n, size_t at)
{
    if (n - at >= 11 && memcmp(s + at, "-> SERVER: ", 11) == 0)
        return 11;
    if (n - at >= 3 && (at == 0 || s[at - 1] == ' ') && s[at + 2] == ' '
        && ((s[at] == 'C' && s[at + 1] == ':')
            || ((s[at] == '-' || s[at] == '~') && s[at + 1] == '>')))
        return 3;
    if (at == 0 && n >= 2 && s[0] == '>' && s[1] == ' ')
        return 2;
    return 0;
}

/* A client transcript line answering an AUTH challenge: "C: dXNlcg==" (the whole rest of the
 * line one base64 token). Returns the length of the marker. A short token is a blob too
 * ("cHcx" is a three-letter password) unless it is a command ("QUIT", "DATA"). */
static size_t client_blob_marker(const char *s, size_t n, size_t at)
{
    size_t m = client_marker_len(s, n, at);
    if (!m)
        return 0;
    size_t i = at + m, start = i;
    int command = 1;
    while (i < n && is_b64((unsigned char)s[i])) {
        command &= s[i] >= 'A' && s[i] <= 'Z';
        i++;
    }
    size_t end = i;
    while (i < n && s[i] == ' ')
        i++;
    return (i == n && (end - start >= 8 || (end - start >= 4 && !command))) ? m : 0;
}

/* Length of a quoted value starting at s[0] whose opening quote is s[-1]: up to the closing
 * quote (a quoted password may hold spaces: "abcd efgh ijkl mnop"), or the end of the line. */
static size_t quoted_value_len(const char *s, size_t n, char quote)
{
    size_t i = 0;
    while (i < n && s[i] != quote && !(s[i] == '\\' && i + 1 < n && s[i + 1] == quote))
        i++;
    return i;
}

/* ---- credentials of a known shape --------------------------------------------------------- */

static int is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static int is_upper_digit(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_key_char(unsigned char c)
{
    return is_word(c) || c == '-';
}

/* A Google app password: four groups of four lowercase letters, one space apart (19 bytes). */
static int app_password_at(const char *s, size_t n)
{
    if (n < 19)
        return 0;
    for (size_t i = 0; i < 19; i++)
        if (i % 5 == 4 ? s[i] != ' ' : !is_lower((unsigned char)s[i]))
            return 0;
    return n == 19 || !is_word((unsigned char)s[19]);
}

/* A UUID, 8-4-4-4-12 hex digits (36 bytes): Postmark's server and account tokens. */
static int uuid_at(const char *s, size_t n)
{
    if (n < 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        unsigned char c = (unsigned char)s[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? c != '-' : !hex)
            return 0;
    }
    return n == 36 || !is_key_char((unsigned char)s[36]);
}

/* Length of the run of key characters at s, between min and max long, else 0. */
static size_t key_run(const char *s, size_t n, size_t min, size_t max)
{
    size_t i = 0;
    while (i < n && is_key_char((unsigned char)s[i]))
        i++;
    return i >= min && i <= max ? i : 0;
}

/* An API key or credential id of a mail service, by its shape: SendGrid "SG.<id>.<secret>",
 * Mailgun "key-<32>", an AWS access key id "AKIA<16>" (SES SMTP user names are those).
 * Returns its length, 0 when s starts none. */
static size_t service_key_len(const char *s, size_t n)
{
    if (n > 3 && memcmp(s, "SG.", 3) == 0) {
        size_t a = key_run(s + 3, n - 3, 16, 32);
        if (a && 3 + a < n && s[3 + a] == '.') {
            size_t b = key_run(s + 4 + a, n - 4 - a, 16, 64);
            if (b)
                return 4 + a + b;
        }
        return 0;
    }
    if (n > 4 && memcmp(s, "key-", 4) == 0) {
        size_t a = key_run(s + 4, n - 4, 32, 32);
        return a ? 4 + a : 0;
    }
    if (n >= 20 && memcmp(s, "AKIA", 4) == 0) {
        for (size_t i = 4; i < 20; i++)
            if (!is_upper_digit((unsigned char)s[i]))
                return 0;
        return n == 20 || !is_word((unsigned char)s[20]) ? 20 : 0;
    }
    return 0;
}

/* An AWS secret key or SES SMTP password after its key id: 40 or 44 characters of base64 with
 * capitals, small letters and digits. Its length, else 0. */
static size_t aws_secret_len(const char *s, size_t n)
{
    size_t i = 0;
    int upper = 0, lower_ = 0, digit = 0;
    while (i < n && (is_word((unsigned char)s[i]) || s[i] == '+' || s[i] == '/')) {
        unsigned char c = (unsigned char)s[i++];
        upper |= c >= 'A' && c <= 'Z';
        lower_ |= is_lower(c);
        digit |= c >= '0' && c <= '9';
    }
    return (i == 40 || i == 44) && upper && lower_ && digit ? i : 0;
}

/* A command-line option that takes a password ("--auth-password X", swaks' "-ap X",
 * sendEmail's "-xp X", "--password=X", "-p X"), or a user and password ("curl -u me:X",
 * "--user=me:X"), at s (a '-' at a word start). Returns where the value starts, 0 for none;
 * *pair is set for user:password. */
static size_t option_value(const char *s, size_t n, int *pair)
{
    static const char *const secret[] = {"--password",  "--pass",
                                         "--passwd",    "--pwd",
                                         "--pw",        "--auth-password",
                                         "--auth-pass", "--smtp-password",
                                         "--smtp-pass", "-ap",
                                         "-xp",         "-pw",
                                         "-p",          NULL};
    static const char *const user[] = {"-u", "--user", NULL};
    size_t k = 0;
    while (k < n && (s[k] == '-' || (s[k] >= 'a' && s[k] <= 'z')))
        k++;
    if (k + 1 >= n || (s[k] != ' ' && s[k] != '='))
        return 0;
    int is_secret = 0, is_user = 0;
    for (size_t j = 0; secret[j] && !is_secret; j++)
        is_secret = strlen(secret[j]) == k && memcmp(s, secret[j], k) == 0;
    for (size_t j = 0; user[j] && !is_user; j++)
        is_user = strlen(user[j]) == k && memcmp(s, user[j], k) == 0;
    if (!is_secret && !is_user)
        return 0;
    size_t v = k + 1;
    if (v >= n || s[v] == '-' || s[v] == ' ')
        return 0;
    if (k == 2 && s[1] == 'p') {
        /* "-p" is a port to swaks, ssh and nc, a protocol to iptables ("-p tcp"), a password
         * to mysql and mailx: only a value that is neither digits nor letters alone is one */
        size_t len = value_len(s + v, n - v);
        int digits = 1, letters = 1;
        for (size_t d = v; d < v + len; d++) {
            unsigned char c = (unsigned char)s[d];
            digits &= c >= '0' && c <= '9';
            letters &= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        }
        if (!len || digits || letters)
            return 0;
    }
    *pair = is_user;
    return v;
}

/* mysql's "-pSECRET", the password stuck to the option: its length after "-p" when it holds a
 * digit or a sign (not "-pthread", "-pedantic"), and is not a port. */
static size_t stuck_password_len(const char *s, size_t n)
{
    if (n < 6 || s[0] != '-' || s[1] != 'p' || s[2] == ' ' || s[2] == '=' || s[2] == '-')
        return 0;
    size_t len = value_len(s + 2, n - 2);
    int other = 0, digits_only = 1;
    for (size_t i = 2; i < 2 + len; i++) {
        unsigned char c = (unsigned char)s[i];
        other |= !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z');
        digits_only &= c >= '0' && c <= '9';
    }
    return len >= 4 && other && !digits_only ? len : 0;
}

/* "Authorization: Basic <token>", "... Bearer <token>": where the token starts, else 0. */
static size_t authorization_value(const char *s, size_t n)
{
    if (!iprefix(s, n, "authorization:"))
        return 0;
    size_t i = 14;
    while (i < n && s[i] == ' ')
        i++;
    size_t scheme = i;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
        i++;
    if (i == scheme || i + 1 >= n || s[i] != ' ')
        return 0;
    return i + 1;
}

/* Length of a token of a header value: base64, base64url, JWT and the like. */
static size_t token_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (is_b64((unsigned char)s[i]) || s[i] == '.' || s[i] == '~'))
        i++;
    return i;
}

/* "with password X", "using password 'X'": at s ("password"), where the value starts when the
 * words before say it is one, else 0. An unquoted value that is a small-letter word is prose
 * ("with password authentication"), not a password. */
static size_t prose_password(const char *s, size_t n, size_t before)
{
    if (!iprefix(s, n, "password ")
        || !((before >= 5 && iprefix(s - 5, 5, "with "))
             || (before >= 6 && iprefix(s - 6, 6, "using "))))
        return 0;
    size_t v = 9;
    if (v >= n)
        return 0;
    if (s[v] == '\'' || s[v] == '"')
        return v + 1;
    size_t len = value_len(s + v, n - v);
    int word = 1;
    for (size_t i = v; i < v + len; i++)
        word &= is_lower((unsigned char)s[i]);
    return len && !word ? v : 0;
}

/* A user name that is a token ("MAIL_USERNAME=<uuid>": Postmark's SMTP user is its server
 * token): where the UUID starts, else 0. Other user names stay: they are the customer's
 * values, which redaction takes care of. */
static size_t user_token(const char *s, size_t n)
{
    if (!iprefix(s, n, "user"))
        return 0;
    size_t i = 4;
    if (iprefix(s + i, n - i, "name"))
        i += 4;
    while (i < n && (s[i] == '"' || s[i] == '\'' || s[i] == ' ' || s[i] == '\\'))
        i++;
    if (i >= n || (s[i] != '=' && s[i] != ':'))
        return 0;
    i++;
    while (i < n && (s[i] == ' ' || s[i] == '"' || s[i] == '\'' || s[i] == '\\'))
        i++;
    return uuid_at(s + i, n - i) ? i : 0;
}

/* Every secret this module masks starts at one of these words (keys such as smtp_password and
 * client_secret are caught at their last part); most of a log holds none, and is copied in
 * runs from one hint to the next instead of being examined byte by byte. */
static size_t next_hint(const char *s, size_t n, size_t from)
{
    /* The hints by their first byte (lowered), so that a byte costs one table load and a
     * letter that starts some hint is compared with those only: "auth", "://", "c: ", "pass",
     * "pwd", "api", "secret", "token", "-> ", "~> ", "> ", "login(", "-", "sg.", "key-",
     * "akia", "user", "'" and '"' ("-> " is within "-"). */
    static const char *const by_first[256][3] = {['a'] = {"auth", "api", "akia"},
                                                 [':'] = {"://"},
                                                 ['c'] = {"c: "},
                                                 ['p'] = {"pass", "pwd"},
                                                 ['s'] = {"secret", "sg."},
                                                 ['t'] = {"token"},
                                                 ['-'] = {"-"},
                                                 ['~'] = {"~> "},
                                                 ['>'] = {"> "},
                                                 ['l'] = {"login("},
                                                 ['k'] = {"key-"},
                                                 ['u'] = {"user"},
                                                 ['\''] = {"'"},
                                                 ['"'] = {"\""}};
    for (size_t i = from; i < n; i++) {
        const char *const *h = by_first[lower((unsigned char)s[i])];
        for (size_t k = 0; k < 3 && h[k]; k++) {
            size_t j = 1;
            while (h[k][j] && i + j < n && lower((unsigned char)s[i + j]) == (unsigned char)h[k][j])
                j++;
            if (!h[k][j])
                return i;
        }
    }
    return n;
}

static int has_control_bytes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return 1;
    return 0;
}

enum kb_status kb_mask_clean_secrets(const char *s, size_t n, struct kb_buf *out)
{
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < n && st == KB_OK;) {
        size_t hint = next_hint(s, n, i);
        if (hint > i) {
            st = kb_buf_append(out, s + i, hint - i);
            i = hint;
            continue;
        }
        size_t m = 0, len = 0;
        int pair = 0;
        int at_word_start = i == 0 || !is_word((unsigned char)s[i - 1]);
        unsigned char first = lower((unsigned char)s[i]);
        if (at_word_start && first == 'a' && (i == 0 || s[i - 1] != '-')
            && (m = auth_command_len(s + i, n - i))) {
            size_t v = i + m;
            size_t blob = 0;
            while (v + blob < n && is_b64((unsigned char)s[v + blob]))
                blob++;
            st = kb_buf_append(out, s + i, m);
            if (st == KB_OK && blob)
                st = kb_buf_append_str(out, MASK);
            i = v + blob;
        } else if ((first == 'c' || s[i] == '-' || s[i] == '~' || s[i] == '>')
                   && (m = client_blob_marker(s, n, i))) {
            st = kb_buf_append(out, s + i, m);
            if (st == KB_OK)
                st = kb_buf_append_str(out, MASK);
            i = n;
        } else if (s[i] == ':' && i + 2 < n && s[i + 1] == '/' && s[i + 2] == '/') {
            /* scheme://user:password@host, where the user may hold an unencoded '@'
             * ("smtps://shop@example.com:secret@mail.example.com"): the user part ends at the
             * last '@' before the host's end, the password starts after its first ':' */
            size_t u = i + 3, end = u, at = 0;
            while (end < n && !strchr("/ \t\"'<>?#", s[end])) {
                if (s[end] == '@')
                    at = end;
                end++;
            }
            const char *colon = at ? memchr(s + u, ':', at - u) : NULL;
            if (colon && (size_t)(colon - s) + 1 < at) {
                size_t c = (size_t)(colon - s);
                st = kb_buf_append(out, s + i, c + 1 - i);
                if (st == KB_OK)
                    st = kb_buf_append_str(out, MASK);
                i = at;
                continue;
            }
            st = kb_buf_append(out, s + i, 3);
            i += 3;
        } else if (at_word_start && first == 'l' && (m = login_password(s + i, n - i, &len))) {
            st = kb_buf_append(out, s + i, m);
            if (st == KB_OK)
                st = kb_buf_append_str(out, MASK);
            i += m + len;
        } else if ((i == 0 || !is_alnum((unsigned char)s[i - 1]) || camel_hump(s, i))
                   && (first == 'p' || first == 's' || first == 't' || first == 'a' || first == 'c')
                   && (m = secret_key_len(s + i, n - i, i > 0 && s[i - 1] == '<'))
                   && value_len(s + i + m, n - i - m)) {
            char quote = s[i + m - 1] == '"' || s[i + m - 1] == '\'' ? s[i + m - 1] : 0;
            st = kb_buf_append(out, s + i, m);
            if (st == KB_OK)
                st = kb_buf_append_str(out, MASK);
            i += m
                 + (quote ? quoted_value_len(s + i + m, n - i - m, quote)
                    : app_password_at(s + i + m, n - i - m) ? 19 /* "abcd efgh ijkl mnop" */
                                                            : value_len(s + i + m, n - i - m));
        } else if (at_word_start && first == 'a' && (m = authorization_value(s + i, n - i))
                   && (len = token_len(s + i + m, n - i - m))) {
            st = kb_buf_append(out, s + i, m);
            if (st == KB_OK)
                st = kb_buf_append_str(out, MASK);
            i += m + len;
        } else if (s[i] == '-' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')
                   && ((m = option_value(s + i, n - i, &pair))
                       || (len = stuck_password_len(s + i, n - i)))) {
            size_t v = m ? i + m : i + 2;
            char quote = m && (s[v] == '\'' || s[v] == '"') ? s[v] : 0;
            size_t vlen = !m      ? len
                          : quote ? quoted_value_len(s + v + 1, n - v - 1, quote) + 1
                                  : value_len(s + v, n - v);
            size_t keep = v - i + (quote ? 1 : 0);
            if (m && pair) { /* user:password: the user stays; "-u 1000:1000" is a uid:gid */
                const char *colon = memchr(s + v, ':', vlen);
                size_t digits = 0, after = colon ? v + vlen - (size_t)(colon - s) - 1 : 0;
                while (colon && digits < after && colon[1 + digits] >= '0'
                       && colon[1 + digits] <= '9')
                    digits++;
                keep = colon && digits < after ? (size_t)(colon - s) + 1 - i : v + vlen - i;
            }
            st = kb_buf_append(out, s + i, keep);
            if (st == KB_OK && keep < v + vlen - i)
                st = kb_buf_append_str(out, MASK);
            i = v + vlen;
        } else if (first == 'p' && (m = prose_password(s + i, n - i, i))) {
            char quote = s[i + m - 1] == '\'' || s[i + m - 1] == '"' ? s[i + m - 1] : 0;
            st = kb_buf_append(out, s + i, m);
            if (st == KB_OK)
                st = kb_buf_append_str(out, MASK);
            i += m
                 + (quote ? quoted_value_len(s + i + m, n - i - m, quote)
                          : value_len(s + i + m, n - i - m));
        } else if (at_word_start && (len = service_key_len(s + i, n - i))) {
            int aws = s[i] == 'A';
            st = kb_buf_append_str(out, MASK);
            i += len;
            /* an AWS key id and its secret: "AKIA... <secret>", "AKIA...:<secret>" */
            size_t j = i;
            while (aws && j < n && (s[j] == ' ' || s[j] == ':' || s[j] == ','))
                j++;
            size_t secret_len = j > i ? aws_secret_len(s + j, n - j) : 0;
            if (st == KB_OK && secret_len) {
                st = kb_buf_append(out, s + i, j - i);
                if (st == KB_OK)
                    st = kb_buf_append_str(out, MASK);
                i = j + secret_len;
            }
        } else if ((s[i] == '\'' || s[i] == '"') && app_password_at(s + i + 1, n - i - 1)
                   && i + 20 < n && s[i + 20] == s[i]) {
            st = kb_buf_append_char(out, s[i]);
            if (st == KB_OK)
                st = kb_buf_append_str(out, MASK);
            i += 20;
        } else if ((i == 0 || !is_alnum((unsigned char)s[i - 1]) || camel_hump(s, i))
                   && first == 'u' && (m = user_token(s + i, n - i))) {
            st = kb_buf_append(out, s + i, m);
            if (st == KB_OK)
                st = kb_buf_append_str(out, MASK);
            i += m + 36;
        } else {
            st = kb_buf_append_char(out, s[i]);
            i++;
        }
    }
    return st;
}

enum kb_status kb_mask_secrets(const char *line, size_t len, struct kb_buf *out)
{
    if (!has_control_bytes(line, len))
        return kb_mask_clean_secrets(line, len, out);
    struct kb_buf clean;
    kb_buf_init(&clean, 0);
    enum kb_status st = kb_clean_line(line, len, &clean);
    if (st == KB_OK)
        st = kb_mask_clean_secrets(clean.data ? clean.data : "", clean.len, out);
    kb_buf_release(&clean);
    return st;
}
