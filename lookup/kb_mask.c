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
    static const char *const keys[] = {"password", "passwd",        "pass",     "pwd",
                                       "secret",   "client_secret", "api_key",  "apikey",
                                       "token",    "smtp_password", "auth_pass"};
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

/* Every secret this module masks starts at one of these words (keys such as smtp_password and
 * client_secret are caught at their last part); most of a log holds none, and is copied in
 * runs from one hint to the next instead of being examined byte by byte. */
static size_t next_hint(const char *s, size_t n, size_t from)
{
    static const char *const hints[] = {"auth",   "://",   "c: ", "pass", "pwd", "api",
                                        "secret", "token", "-> ", "~> ",  "> ",  "login("};
    static const size_t hint_len[] = {4, 3, 3, 4, 3, 3, 6, 5, 3, 3, 2, 6};
    static const unsigned char starts[256] = {
        ['a'] = 1, ['A'] = 1, [':'] = 1, ['c'] = 1, ['C'] = 1, ['p'] = 1, ['P'] = 1, ['s'] = 1,
        ['S'] = 1, ['t'] = 1, ['T'] = 1, ['-'] = 1, ['~'] = 1, ['>'] = 1, ['l'] = 1, ['L'] = 1};
    for (size_t i = from; i < n; i++) {
        if (!starts[(unsigned char)s[i]])
            continue;
        unsigned char c = lower((unsigned char)s[i]);
        for (size_t k = 0; k < sizeof hints / sizeof hints[0]; k++) {
            if ((unsigned char)hints[k][0] != c || n - i < hint_len[k])
                continue;
            size_t j = 1;
            while (j < hint_len[k] && lower((unsigned char)s[i + j]) == (unsigned char)hints[k][j])
                j++;
            if (j == hint_len[k])
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
        size_t m, len;
        int at_word_start = i == 0 || !is_word((unsigned char)s[i - 1]);
        unsigned char first = lower((unsigned char)s[i]);
        if (at_word_start && first == 'a' && (m = auth_command_len(s + i, n - i))) {
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
            /* scheme://user:password@host */
            size_t u = i + 3, j = u;
            while (j < n && !strchr("/ @:\"'", s[j]))
                j++;
            size_t colon = j;
            if (colon < n && s[colon] == ':') {
                size_t k = colon + 1;
                while (k < n && !strchr("/ @\"'", s[k]))
                    k++;
                if (k < n && s[k] == '@' && k > colon + 1) {
                    st = kb_buf_append(out, s + i, colon + 1 - i);
                    if (st == KB_OK)
                        st = kb_buf_append_str(out, MASK);
                    i = k;
                    continue;
                }
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
                          : value_len(s + i + m, n - i - m));
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
