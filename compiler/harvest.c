/*
 * harvest.c - evidence that nobody wrote as a signature, taken from the articles themselves,
 * and the sections full text ranks on their own.
 *
 * A team's own documents carry the best evidence an error text can share with them in a few
 * recognisable shapes: RFC 3463 status codes ("5.7.12", in file names "5-7-12"), error
 * identifiers ("RESOLVER.RST.SenderNotAuthenticated", "0x800CCC80",
 * "ERR_TLS_CERT_ALTNAME_INVALID", "SmtpException"), and error strings quoted in headings or
 * code spans ("Relay access denied"). Each is collected with where it was found (title, heading,
 * code, body); kbc_harvest_finish then weighs it - a code in the title says the article is
 * about it, one of fifty codes in a table says little - and turns what carries weight into
 * literal signatures marked as harvested, so lookup finds them through the same prefilter.
 *
 * Nothing here knows a code, a product or a cause: only the shapes above.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb_text.h"
#include "kbc.h"
#include "kbc_sig.h"

/* At most this many distinct pieces of evidence per entry (a reference table of every code
 * of a product is still collected, but bounded). */
#define MAX_ITEMS_PER_ENTRY 1000
/* A range of status codes ("5.7.700 through 5.7.750") stands for each code in it, up to this
 * many. */
#define MAX_RANGE 300
/* Harvested evidence lighter than this is not stored: it could never decide an answer. */
#define MIN_WEIGHT 0.2
/* An entry listing more codes than this in its prose is a reference list: each code counts
 * less (by the square root of the ratio). */
#define SPECIFIC_CODES 4.0
/* In an entry with signatures of its own, the author said what identifies it: what its prose
 * mentions only breaks ties (a counter-example stays one). */
#define BESIDE_WRITTEN 0.1

static const double tier_weight[] = {
    [KBC_TIER_BODY] = 1.0, [KBC_TIER_CODE] = 1.5, [KBC_TIER_HEADING] = 2.0, [KBC_TIER_TITLE] = 3.0};
static const char *const tier_name[] = {[KBC_TIER_BODY] = "body",
                                        [KBC_TIER_CODE] = "code",
                                        [KBC_TIER_HEADING] = "heading",
                                        [KBC_TIER_TITLE] = "title"};

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static int is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static int is_alpha(unsigned char c)
{
    return is_upper(c) || is_lower(c);
}

static int is_word(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned char lower(unsigned char c)
{
    return is_upper(c) ? (unsigned char)(c + 32) : c;
}

static int same_caseless(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* ---- collecting -------------------------------------------------------------------------- */

/* Adds one piece of evidence; the same text (caseless) is kept once, at its best tier, and
 * counts as named on its own once any mention of it is not part of a range. */
static enum kb_status add_item(struct kbc_entry *e, const char *text, size_t len,
                               enum kbc_tier tier, int phrase, int ranged, int setting, size_t line,
                               size_t section)
{
    for (size_t i = 0; i < e->harvest_count; i++) {
        struct kbc_harvest *h = &e->harvest[i];
        if (strlen(h->text) == len && same_caseless(h->text, text, len)) {
            if (tier > h->tier) {
                h->tier = tier;
                h->line = line;
                h->section = section;
            }
            h->ranged &= ranged;
            h->setting |= setting;
            return KB_OK;
        }
    }
    if (e->harvest_count >= MAX_ITEMS_PER_ENTRY)
        return KB_OK;
    struct kbc_harvest *v = kbc_grow(e->harvest, &e->harvest_alloc, e->harvest_count, sizeof *v);
    if (!v)
        return KB_ERR_NOMEM;
    e->harvest = v;
    char *copy = kbc_strndup(text, len);
    if (!copy)
        return KB_ERR_NOMEM;
    v[e->harvest_count++] =
        (struct kbc_harvest){copy, tier, phrase, ranged, setting, line, section};
    return KB_OK;
}

/* An RFC 3463 status code of a failure: 4.x.x or 5.x.x, each part at most three digits. */
static int is_status_code(const char *s, size_t n, char sep)
{
    if (n < 5 || (s[0] != '4' && s[0] != '5') || s[1] != sep)
        return 0;
    size_t i = 2, parts = 1;
    while (i < n) {
        size_t d = 0;
        while (i < n && is_digit((unsigned char)s[i]) && d < 4) {
            i++;
            d++;
        }
        if (d == 0 || d > 3)
            return 0;
        parts++;
        if (i == n)
            break;
        if (s[i] != sep)
            return 0;
        i++;
    }
    return parts == 3 && i == n;
}

/* The classes of code-like tokens worth harvesting, decided on a maximal dotted word run. */
static int is_code_token(const char *s, size_t n)
{
    size_t upper = 0, lower_count = 0, digits = 0, dots = 0, unders = 0, humps = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        upper += is_upper(c);
        lower_count += is_lower(c);
        digits += is_digit(c);
        dots += c == '.';
        unders += c == '_';
        humps += i > 0 && is_upper(c) && is_lower((unsigned char)s[i - 1]);
    }
    if (is_status_code(s, n, '.'))
        return 1;
    /* 0x800CCC80: Windows and COM error numbers */
    if (n >= 6 && n <= 18 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (size_t i = 2; i < n; i++)
            if (!is_hex((unsigned char)s[i]))
                return 0;
        return 1;
    }
    if (n < 6 || n > 100 || !(upper + lower_count))
        return 0;
    /* RESOLVER.RST.SenderNotAuthenticated, System.Net.Mail.SmtpException: dotted names with
     * capitals (host names and file names are lowercase, or end in a lowercase extension) */
    if (dots) {
        size_t dot = n;
        while (s[dot - 1] != '.')
            dot--;
        const char *last = s + dot;
        size_t last_len = n - dot;
        int last_lower = 1;
        for (size_t i = 0; i < last_len; i++)
            last_lower &= !is_upper((unsigned char)last[i]);
        return upper > 0 && !(last_lower && last_len <= 4) && digits * 2 < n;
    }
    /* ERR_TLS_CERT_ALTNAME_INVALID, smtpd_tls_security_level: identifiers of two parts or
     * more, none of a single letter (s_client is a command's name) */
    if (unders && n >= 8 && digits * 2 < n) {
        size_t part = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i < n && s[i] != '_') {
                part++;
                continue;
            }
            if (part < 2)
                return 0;
            part = 0;
        }
        return 1;
    }
    /* SendAsDenied, TenantAttribution, AuthenticationFailedException: CamelCase names of
     * errors and settings; short two-part words (PowerShell, JavaScript) are product names */
    if (!digits && !unders && humps >= 1 && (humps >= 2 || n >= 12) && lower_count > upper)
        return 1;
    return 0;
}

/* Reads up to four digits at s[i]: their value in *v and their count in *digits (0 when
 * there are none); returns the index after them. */
static size_t read_number(const char *s, size_t n, size_t i, unsigned *v, size_t *digits)
{
    *v = 0;
    *digits = 0;
    while (i < n && is_digit((unsigned char)s[i]) && *digits < 4) {
        *v = *v * 10 + (unsigned)(s[i] - '0');
        (*digits)++;
        i++;
    }
    return i;
}

/* Does a status code end at s[k] (not followed by more of a word or of a dotted number)? */
static int code_ends(const char *s, size_t n, size_t k)
{
    return k == n
           || (!is_word((unsigned char)s[k])
               && !(s[k] == '.' && k + 1 < n && is_digit((unsigned char)s[k + 1])));
}

/* The last detail number of a range that the status code class.subject.detail (written with
 * sep, ending at s[j]) opens, or 0: "5.7.606-649", "4-7-500-699" (the same number of digits),
 * "5.1.1 through 5.1.20", "5.4.6-through-5.4.20", "5.7.700 to 5.7.750", "5.7.700-5.7.750". */
static unsigned range_end(const char *s, size_t n, size_t j, char sep, unsigned cls,
                          unsigned subject, unsigned detail, size_t detail_digits)
{
    unsigned v, a, b;
    size_t d, k;
    if (j < n && s[j] == '-') {
        k = read_number(s, n, j + 1, &v, &d);
        if (d && d == detail_digits && v > detail && code_ends(s, n, k) && (k == n || s[k] != sep))
            return v;
    }
    k = j;
    while (k < n && (s[k] == ' ' || s[k] == '-'))
        k++;
    if (n - k >= 7 && same_caseless(s + k, "through", 7) && (k + 7 == n || !is_alpha(s[k + 7])))
        k += 7;
    else if (n - k >= 2 && same_caseless(s + k, "to", 2) && (k + 2 == n || !is_alpha(s[k + 2])))
        k += 2;
    else if (!(sep == '.' && k == j + 1 && s[j] == '-'))
        return 0;
    while (k < n && (s[k] == ' ' || s[k] == '-'))
        k++;
    k = read_number(s, n, k, &a, &d);
    if (d != 1 || a != cls || k >= n || s[k] != sep)
        return 0;
    k = read_number(s, n, k + 1, &b, &d);
    if (!d || b != subject || k >= n || s[k] != sep)
        return 0;
    k = read_number(s, n, k + 1, &v, &d);
    return d && d <= 3 && code_ends(s, n, k) ? v : 0;
}

/* Adds the codes after the first of a range: class.subject.(first+1 .. last). */
static enum kb_status add_range(struct kbc_entry *e, unsigned cls, unsigned subject, unsigned first,
                                unsigned last, enum kbc_tier tier, size_t line, size_t section)
{
    enum kb_status st = KB_OK;
    if (last <= first || last - first > MAX_RANGE)
        return KB_OK;
    for (unsigned d = first + 1; d <= last && st == KB_OK; d++) {
        char code[24];
        int len = snprintf(code, sizeof code, "%u.%u.%u", cls, subject, d);
        st = add_item(e, code, (size_t)len, tier, 0, 1, 0, line, section);
    }
    return st;
}

/* The three numbers of the status code s[0, n) written with sep (is_status_code holds). */
static void code_parts(const char *s, size_t n, char sep, unsigned part[3], size_t *last_digits)
{
    size_t i = 0, d = 0;
    for (int k = 0; k < 3; k++) {
        i = read_number(s, n, i, &part[k], &d);
        i += i < n && s[i] == sep;
    }
    *last_digits = d;
}

/* Collects the code-like tokens of text. */
static enum kb_status scan_tokens(struct kbc_entry *e, const char *s, size_t n, enum kbc_tier tier,
                                  size_t line, size_t section)
{
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < n && st == KB_OK;) {
        unsigned char c = (unsigned char)s[i];
        if (!is_word(c) || (i > 0 && (is_word((unsigned char)s[i - 1]) || s[i - 1] == '.'))) {
            i++;
            continue;
        }
        /* 5-7-12: status codes as file names and URL fragments write them */
        if ((c == '4' || c == '5') && i + 1 < n && s[i + 1] == '-') {
            size_t j = i;
            while (j < n && (is_digit((unsigned char)s[j]) || s[j] == '-'))
                j++;
            size_t k = j;
            while (k > i && s[k - 1] == '-')
                k--;
            /* the longest prefix of three parts: "5-7-13-or-5-7-135" gives 5-7-13 */
            size_t parts = 1, end = i;
            for (size_t m = i; m < k && parts <= 3; m++) {
                if (s[m] == '-')
                    parts++;
                if (parts <= 3)
                    end = m + 1;
            }
            if (is_status_code(s + i, end - i, '-')
                && (end == n || !is_alpha((unsigned char)s[end]))) {
                char code[16];
                size_t len = end - i < sizeof code - 1 ? end - i : sizeof code - 1;
                memcpy(code, s + i, len);
                for (size_t m = 0; m < len; m++)
                    code[m] = code[m] == '-' ? '.' : code[m];
                st = add_item(e, code, len, tier, 0, 0, 0, line, section);
                unsigned part[3];
                size_t digits;
                code_parts(s + i, end - i, '-', part, &digits);
                if (st == KB_OK)
                    st = add_range(e, part[0], part[1], part[2],
                                   range_end(s, n, end, '-', part[0], part[1], part[2], digits),
                                   tier, line, section);
            }
        }
        size_t j = i;
        while (j < n
               && (is_word((unsigned char)s[j])
                   || (s[j] == '.' && j + 1 < n && is_word((unsigned char)s[j + 1]))))
            j++;
        if (st == KB_OK && is_code_token(s + i, j - i)) {
            /* "NAME=value", "name = value": a setting; "CategoryInfo   : ...": a field's
             * label in an aligned record (an error's name is written "SmtpException: ...") */
            size_t k = j;
            while (k < n && s[k] == ' ')
                k++;
            int setting = (k < n && s[k] == '=' && (k + 1 == n || s[k + 1] != '='))
                          || (k > j && k < n && s[k] == ':');
            st = add_item(e, s + i, j - i, tier, 0, 0, setting, line, section);
        }
        if (st == KB_OK && is_status_code(s + i, j - i, '.')) {
            unsigned part[3];
            size_t digits;
            code_parts(s + i, j - i, '.', part, &digits);
            st = add_range(e, part[0], part[1], part[2],
                           range_end(s, n, j, '.', part[0], part[1], part[2], digits), tier, line,
                           section);
        }
        i = j;
    }
    return st;
}

/* A phrase is worth matching as written when it reads like a message: three to twelve words,
 * mostly letters, and nothing of a command line, a path or a configuration line. */
static int is_message_phrase(const char *s, size_t n)
{
    if (n < 10 || n > 160)
        return 0;
    size_t words = 0, letters = 0, visible = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* command lines: "--x" anywhere, or a word that is an option ("-connect") */
        if (strchr("=${}|<>\\/@*`", c) || (c == '-' && i + 1 < n && s[i + 1] == '-')
            || (c == '-' && (i == 0 || s[i - 1] == ' ')))
            return 0;
        if (c != ' ') {
            visible++;
            letters += is_alpha(c);
        }
        if (c != ' ' && (i == 0 || s[i - 1] == ' '))
            words++;
    }
    return words >= 3 && words <= 12 && letters * 10 >= visible * 6;
}

/* Adds s[0, n) as a phrase (white space collapsed) when it reads like a message. */
static enum kb_status add_phrase(struct kbc_entry *e, const char *s, size_t n, enum kbc_tier tier,
                                 size_t line, size_t section)
{
    struct kb_buf b;
    kb_buf_init(&b, 0);
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < n && st == KB_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        int space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        if (space && (b.len == 0 || b.data[b.len - 1] == ' '))
            continue;
        st = kb_buf_append_char(&b, space ? ' ' : (char)c);
    }
    /* Exchange writes its NDR lines as "#550 5.4.1 Relay Access Denied ##" */
    while (st == KB_OK && b.len && strchr(" .:;,#", b.data[b.len - 1]))
        b.data[--b.len] = '\0';
    size_t lead = 0;
    while (st == KB_OK && lead < b.len && strchr(" #", b.data[lead]))
        lead++;
    if (st == KB_OK && b.len > lead && is_message_phrase(b.data + lead, b.len - lead))
        st = add_item(e, b.data + lead, b.len - lead, tier, 1, 0, 0, line, section);
    kb_buf_release(&b);
    return st;
}

/* Phrases in straight or typographic double quotes: the titles of troubleshooting pages quote
 * the message they are about ('Fix "Relay access denied" errors'). */
static enum kb_status scan_quotes(struct kbc_entry *e, const char *s, size_t n, enum kbc_tier tier,
                                  size_t line, size_t section)
{
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < n && st == KB_OK; i++) {
        size_t open_len = 0;
        if (s[i] == '"')
            open_len = 1;
        else if (n - i >= 3 && memcmp(s + i, "\xe2\x80\x9c", 3) == 0)
            open_len = 3;
        if (!open_len)
            continue;
        size_t start = i + open_len, j = start;
        while (j < n && s[j] != '"' && !(n - j >= 3 && memcmp(s + j, "\xe2\x80\x9d", 3) == 0))
            j++;
        if (j >= n)
            break;
        st = add_phrase(e, s + start, j - start, tier, line, section);
        i = s[j] == '"' ? j : j + 2; /* the loop steps past the closing quote */
    }
    return st;
}

/* The messages inside the lines of a code block: a sample log line holds the program's own
 * wording between its variable parts ("FATAL:  password authentication failed for user
 * \"app\""), so each line is cut at the punctuation that separates them and each piece that
 * reads like a message is a phrase. */
static enum kb_status scan_block_messages(struct kbc_entry *e, const char *s, size_t n, size_t line,
                                          size_t section)
{
    enum kb_status st = KB_OK;
    size_t start = 0;
    for (size_t i = 0; i <= n && st == KB_OK; i++) {
        /* an apostrophe between letters is part of a word ("wasn't") */
        if (i < n && s[i] == '\'' && i > 0 && i + 1 < n && is_alpha((unsigned char)s[i - 1])
            && is_alpha((unsigned char)s[i + 1]))
            continue;
        if (i < n && !strchr(":;\"'()[]<>{}|=\n\t", s[i]))
            continue;
        if (i > start)
            st = add_phrase(e, s + start, i - start, KBC_TIER_CODE, line, section);
        if (i < n && s[i] == '\n')
            line++;
        start = i + 1;
    }
    return st;
}

enum kb_status kbc_harvest_title(struct kbc_entry *e, const char *text, enum kbc_tier tier)
{
    size_t n = strlen(text);
    enum kb_status st = scan_tokens(e, text, n, tier, 0, 0);
    return st == KB_OK ? scan_quotes(e, text, n, tier, 0, 0) : st;
}

/* ---- sections ---------------------------------------------------------------------------- */

/* GitHub's anchor for a heading: lowercase, letters, digits, '-' and '_' kept, spaces become
 * '-', everything else dropped. */
static char *heading_anchor(const char *heading)
{
    struct kb_buf b;
    kb_buf_init(&b, 0);
    enum kb_status st = kb_buf_append(&b, "", 0);
    for (const char *p = heading; *p && st == KB_OK; p++) {
        unsigned char c = (unsigned char)*p;
        if (is_word(c) || c == '-' || c >= 0x80)
            st = kb_buf_append_char(&b, (char)lower(c));
        else if (c == ' ')
            st = kb_buf_append_char(&b, '-');
    }
    char *out = NULL;
    if (st == KB_OK)
        kb_buf_detach(&b, &out);
    kb_buf_release(&b);
    return out;
}

struct walk {
    struct kbc_entry *e;
    struct kb_buf code, body, heading, links;
    size_t section; /* index of the open section */
    int open;       /* a section is open (its buffers not yet stored) */
};

/* Stores the open section's buffers into it. */
static enum kb_status close_section(struct walk *w)
{
    if (!w->open)
        return KB_OK;
    struct kbc_section *s = &w->e->sections[w->section];
    enum kb_status st = kb_buf_append(&w->code, "", 0);
    if (st == KB_OK)
        st = kb_buf_append(&w->body, "", 0);
    if (st == KB_OK)
        st = kb_buf_detach(&w->code, &s->code);
    if (st == KB_OK)
        st = kb_buf_detach(&w->body, &s->body);
    if (st == KB_OK)
        st = kb_buf_append(&w->links, "", 0);
    if (st == KB_OK)
        st = kb_buf_detach(&w->links, &s->links);
    w->open = 0;
    return st;
}

/* Keeps a link of the open section (a row of a table) that may lead to another article of
 * the KB: a relative path to a Markdown file, written without a scheme ("../ndr/fix-x.md#x");
 * the fragment and query are dropped. Resolved once every file is read (kbc_harvest_finish).
 * Only a table's rows keep theirs: a row of a reference table that links to a page says
 * that page is about the row's subject, while a page's prose links wherever it likes. */
static enum kb_status add_link(struct walk *w, const char *url)
{
    if (!url || !*url || strchr(url, ':') || url[0] == '#' || url[0] == '/')
        return KB_OK;
    size_t n = strcspn(url, "#?");
    if (n < 4 || strncasecmp(url + n - 3, ".md", 3) != 0 || memchr(url, '\n', n))
        return KB_OK;
    enum kb_status st = kb_buf_append(&w->links, url, n);
    return st == KB_OK ? kb_buf_append_char(&w->links, '\n') : st;
}

static enum kb_status open_section(struct walk *w, const char *heading, size_t line)
{
    enum kb_status st = close_section(w);
    if (st != KB_OK)
        return st;
    struct kbc_entry *e = w->e;
    struct kbc_section *v = kbc_grow(e->sections, &e->section_alloc, e->section_count, sizeof *v);
    if (!v)
        return KB_ERR_NOMEM;
    e->sections = v;
    struct kbc_section *s = &v[e->section_count];
    memset(s, 0, sizeof *s);
    s->line = line;
    if (!(s->heading = kbc_strndup(heading, strlen(heading)))
        || !(s->anchor = heading_anchor(heading))) {
        free(s->heading);
        free(s->anchor);
        return KB_ERR_NOMEM;
    }
    w->section = e->section_count++;
    w->open = 1;
    return KB_OK;
}

/* Does s[0, n) hold a status code or an error identifier? A block quote that does shows a
 * program's output; one that does not is a page's own prose set apart (a summary, a note). */
static int holds_code(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (!is_word((unsigned char)s[i]) || (i > 0 && is_word((unsigned char)s[i - 1]))) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n
               && (is_word((unsigned char)s[j])
                   || (s[j] == '.' && j + 1 < n && is_word((unsigned char)s[j + 1]))))
            j++;
        if (is_code_token(s + i, j - i))
            return 1;
        i = j;
    }
    return 0;
}

/* Harvests one block (and everything inside it) into the open section; a heading that opened
 * the section (section_heading) is in the section's heading already, not in its body. */
static enum kb_status walk_block(struct walk *w, cmark_node *block, int as_heading,
                                 int section_heading)
{
    cmark_iter *it = cmark_iter_new(block);
    if (!it)
        return KB_ERR_NOMEM;
    enum kb_status st = KB_OK;
    size_t line = (size_t)cmark_node_get_start_line(block);
    enum kbc_tier text_tier = as_heading ? KBC_TIER_HEADING : KBC_TIER_BODY;
    enum kbc_tier code_tier = as_heading ? KBC_TIER_HEADING : KBC_TIER_CODE;
    /* where the open paragraph's text starts in the body; how deep in block quotes, and how
     * deep the quote that is a note ("> [!NOTE]"), not quoted output, starts (0: none) */
    size_t para_start = 0, quote_depth = 0, note_depth = 0;
    size_t para_line = line;
    cmark_event_type ev;
    while (st == KB_OK && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        cmark_node_type t = cmark_node_get_type(n);
        if (t == CMARK_NODE_BLOCK_QUOTE) {
            if (ev == CMARK_EVENT_ENTER) {
                quote_depth++;
                cmark_node *first = cmark_node_first_child(cmark_node_first_child(n));
                const char *lit = first ? cmark_node_get_literal(first) : NULL;
                if (!note_depth && lit && strncmp(lit, "[!", 2) == 0)
                    note_depth = quote_depth;
            } else {
                if (note_depth == quote_depth)
                    note_depth = 0;
                quote_depth--;
            }
            continue;
        }
        if (t == CMARK_NODE_PARAGRAPH && ev == CMARK_EVENT_ENTER && !section_heading) {
            para_start = w->body.len;
            para_line = (size_t)cmark_node_get_start_line(n);
        }
        if (ev == CMARK_EVENT_EXIT) {
            /* a paragraph's quoted messages ('you get "Relay access denied"'), and in a block
             * quote the output it shows ("> 550 5.7.64 TenantAttribution; Relay Access
             * Denied") */
            if (t == CMARK_NODE_PARAGRAPH && !section_heading && !as_heading
                && w->body.len > para_start) {
                st = scan_quotes(w->e, w->body.data + para_start, w->body.len - para_start,
                                 KBC_TIER_BODY, para_line, w->section);
                if (st == KB_OK && quote_depth && !note_depth
                    && holds_code(w->body.data + para_start, w->body.len - para_start))
                    st = scan_block_messages(w->e, w->body.data + para_start,
                                             w->body.len - para_start, para_line, w->section);
            }
            if (st == KB_OK && !section_heading
                && (t == CMARK_NODE_PARAGRAPH || t == CMARK_NODE_ITEM || t == CMARK_NODE_HEADING))
                st = kb_buf_append_char(&w->body, '\n');
            continue;
        }
        if (cmark_node_get_start_line(n) > 0)
            line = (size_t)cmark_node_get_start_line(n);
        const char *lit = cmark_node_get_literal(n);
        size_t len = lit ? strlen(lit) : 0;
        switch (t) {
        case CMARK_NODE_TEXT:
            if (!section_heading)
                st = kb_buf_append(&w->body, lit, len);
            if (st == KB_OK)
                st = scan_tokens(w->e, lit, len, text_tier, line, w->section);
            if (st == KB_OK && as_heading)
                st = scan_quotes(w->e, lit, len, text_tier, line, w->section);
            break;
        case CMARK_NODE_CODE:
            st = kb_buf_append(&w->code, lit, len);
            if (st == KB_OK)
                st = kb_buf_append_char(&w->code, '\n');
            if (st == KB_OK)
                st = scan_tokens(w->e, lit, len, code_tier, line, w->section);
            if (st == KB_OK)
                st = add_phrase(w->e, lit, len, code_tier, line, w->section);
            break;
        case CMARK_NODE_CODE_BLOCK: {
            const char *info = cmark_node_get_fence_info(n);
            if (info && strncmp(info, "kb-", 3) == 0)
                break;
            st = kb_buf_append(&w->code, lit, len);
            if (st == KB_OK)
                st = scan_tokens(w->e, lit, len, KBC_TIER_CODE, line, w->section);
            if (st == KB_OK)
                st = scan_block_messages(w->e, lit, len, line + 1, w->section);
            break;
        }
        case CMARK_NODE_SOFTBREAK:
        case CMARK_NODE_LINEBREAK: st = kb_buf_append_char(&w->body, ' '); break;
        default: break;
        }
    }
    cmark_iter_free(it);
    return st;
}

/* Is this paragraph a pipe table (CommonMark without extensions reads one as a paragraph)?
 * Its second line is the delimiter row: only '|', '-', ':' and blanks, with a '|' and a '-'. */
static int is_pipe_table(cmark_node *para)
{
    if (cmark_node_get_type(para) != CMARK_NODE_PARAGRAPH)
        return 0;
    int line = 0, pipe = 0, dash = 0;
    for (cmark_node *n = cmark_node_first_child(para); n; n = cmark_node_next(n)) {
        cmark_node_type t = cmark_node_get_type(n);
        if (t == CMARK_NODE_SOFTBREAK || t == CMARK_NODE_LINEBREAK) {
            if (++line == 2)
                break;
            continue;
        }
        if (line != 1)
            continue;
        if (t != CMARK_NODE_TEXT)
            return 0;
        for (const char *c = cmark_node_get_literal(n); c && *c; c++) {
            if (!strchr("|-: \t", *c))
                return 0;
            pipe |= *c == '|';
            dash |= *c == '-';
        }
    }
    return line >= 1 && pipe && dash;
}

/* A pipe table: each row a section of its own under the heading the table stands under
 * (heading), so that a reference table of fifty codes is fifty short sections, each found by
 * its own words. Rows without a word (the delimiter row) make none. */
static enum kb_status walk_table(struct walk *w, cmark_node *para, const char *heading)
{
    enum kb_status st = KB_OK;
    int row_open = 0;
    size_t line = (size_t)cmark_node_get_start_line(para);
    for (cmark_node *n = cmark_node_first_child(para); n && st == KB_OK; n = cmark_node_next(n)) {
        cmark_node_type t = cmark_node_get_type(n);
        if (t == CMARK_NODE_SOFTBREAK || t == CMARK_NODE_LINEBREAK) {
            row_open = 0;
            line++;
            continue;
        }
        cmark_iter *it = cmark_iter_new(n);
        if (!it)
            return KB_ERR_NOMEM;
        cmark_event_type ev;
        while (st == KB_OK && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *m = cmark_iter_get_node(it);
            cmark_node_type mt = cmark_node_get_type(m);
            if (ev == CMARK_EVENT_ENTER && mt == CMARK_NODE_LINK && row_open)
                st = add_link(w, cmark_node_get_url(m));
            if (ev != CMARK_EVENT_ENTER || (mt != CMARK_NODE_TEXT && mt != CMARK_NODE_CODE))
                continue;
            const char *lit = cmark_node_get_literal(m);
            size_t len = lit ? strlen(lit) : 0;
            int words = 0;
            for (size_t i = 0; i < len && !words; i++)
                words = is_alpha((unsigned char)lit[i]) || is_digit((unsigned char)lit[i]);
            if (!row_open && !words)
                continue;
            if (!row_open) {
                st = open_section(w, heading, line);
                if (st == KB_OK)
                    w->e->sections[w->section].table_row = 1;
                row_open = 1;
            }
            if (st != KB_OK)
                break;
            if (mt == CMARK_NODE_TEXT) {
                st = kb_buf_append(&w->body, lit, len);
                if (st == KB_OK)
                    st = scan_tokens(w->e, lit, len, KBC_TIER_BODY, line, w->section);
            } else {
                st = kb_buf_append(&w->code, lit, len);
                if (st == KB_OK)
                    st = kb_buf_append_char(&w->code, '\n');
                if (st == KB_OK)
                    st = scan_tokens(w->e, lit, len, KBC_TIER_CODE, line, w->section);
                if (st == KB_OK)
                    st = add_phrase(w->e, lit, len, KBC_TIER_CODE, line, w->section);
            }
        }
        cmark_iter_free(it);
    }
    return st;
}

enum kb_status kbc_harvest_blocks(struct kbc_entry *e, cmark_node *first, cmark_node *end,
                                  int split)
{
    struct walk w = {.e = e};
    kb_buf_init(&w.code, 0);
    kb_buf_init(&w.body, 0);
    kb_buf_init(&w.heading, 0);
    kb_buf_init(&w.links, 0);
    enum kb_status st = open_section(&w,
                                     split      ? ""
                                     : e->title ? e->title
                                                : "",
                                     first ? (size_t)cmark_node_get_start_line(first) : e->line);
    int section_has_text = 0;
    /* the section a table interrupted, continued after it; its heading and line */
    size_t enclosing = 0;
    int resume = 0;
    for (cmark_node *n = first; n && n != end && st == KB_OK; n = cmark_node_next(n)) {
        int is_heading = cmark_node_get_type(n) == CMARK_NODE_HEADING;
        int level = is_heading ? cmark_node_get_heading_level(n) : 0;
        int opens = split && is_heading && level <= 3;
        if (split && is_pipe_table(n)) {
            char *heading =
                kbc_strndup(e->sections[enclosing].heading, strlen(e->sections[enclosing].heading));
            st = heading ? walk_table(&w, n, heading) : KB_ERR_NOMEM;
            free(heading);
            section_has_text = resume = 1;
            continue;
        }
        if (resume && !opens) {
            char *heading =
                kbc_strndup(e->sections[enclosing].heading, strlen(e->sections[enclosing].heading));
            st = heading ? open_section(&w, heading, (size_t)cmark_node_get_start_line(n))
                         : KB_ERR_NOMEM;
            free(heading);
            if (st != KB_OK)
                break;
        }
        resume = 0;
        if (opens) {
            st = kbc_inline_text(n, &w.heading);
            if (st != KB_OK)
                break;
            size_t line = (size_t)cmark_node_get_start_line(n);
            if (section_has_text) {
                st = open_section(&w, w.heading.data, line);
            } else {
                /* nothing before the first heading: it names the first section */
                struct kbc_section *s = &e->sections[w.section];
                char *h = kbc_strndup(w.heading.data, w.heading.len),
                     *a = heading_anchor(h ? h : "");
                if (!h || !a) {
                    free(h);
                    free(a);
                    st = KB_ERR_NOMEM;
                    break;
                }
                free(s->heading);
                free(s->anchor);
                s->heading = h;
                s->anchor = a;
                s->line = line;
            }
            section_has_text = 1;
            enclosing = w.section;
        } else if (!is_heading) {
            section_has_text = 1;
        }
        if (st == KB_OK)
            st = walk_block(&w, n, is_heading, opens);
    }
    if (st == KB_OK)
        st = close_section(&w);
    kb_buf_release(&w.code);
    kb_buf_release(&w.body);
    kb_buf_release(&w.heading);
    kb_buf_release(&w.links);
    return st;
}

/* ---- weighing ---------------------------------------------------------------------------- */

/* What one piece of evidence is worth to the entry that is most about it: a code or an
 * identifier; a setting's name (one the KB shows assigned anywhere: it says what is set up,
 * rarely what went wrong); a message (by its length, a short one says less). */
#define CODE_STRENGTH 3.0
#define SETTING_STRENGTH 1.0
/* A passing mention (prose, code) that no other entry has still says less than a title: its
 * worth is this share, and the rest as much as its place (tier weight against a title's). */
#define TIER_FLOOR 0.5
/* A status code on a page that gives it a message of its own counts this much of its worth. */
#define DEFINED_CODE 0.5

static double item_strength(const struct kbc_harvest *h, int setting)
{
    if (!h->phrase)
        return setting ? SETTING_STRENGTH : CODE_STRENGTH;
    size_t words = 1;
    for (const char *c = h->text; *c; c++)
        words += *c == ' ';
    double w = 1.0 + 0.3 * (double)words;
    return w < CODE_STRENGTH ? w : CODE_STRENGTH;
}

/* Does u hold t as a whole word or words (caseless)? */
static int holds_words(const char *u, const char *t)
{
    size_t n = strlen(t), m = strlen(u);
    for (size_t k = 0; k + n <= m; k++)
        if (same_caseless(u + k, t, n) && (k == 0 || !is_word((unsigned char)u[k - 1]))
            && (k + n == m || !is_word((unsigned char)u[k + n])))
            return 1;
    return 0;
}

/* Does the entry give status code h a message of its own in its title or a heading
 * ('"554 4.3.2 mailbox busy" when sending to a mailbox')? Then the page is about that error,
 * not about every error of the code. */
static int defines_message(const struct kbc_entry *e, size_t h)
{
    const struct kbc_harvest *code = &e->harvest[h];
    if (code->phrase || !is_status_code(code->text, strlen(code->text), '.'))
        return 0;
    for (size_t i = 0; i < e->harvest_count; i++) {
        const struct kbc_harvest *p = &e->harvest[i];
        if (!p->phrase || p->tier < KBC_TIER_HEADING || !holds_words(p->text, code->text))
            continue;
        size_t words = 0;
        for (const char *c = p->text; *c; c++)
            words +=
                is_alpha((unsigned char)*c) && (c == p->text || !is_word((unsigned char)c[-1]));
        if (words >= 2)
            return 1;
    }
    return 0;
}

struct item_ref {
    const char *text;
    size_t entry; /* global entry index */
    double raw;   /* how much the entry is about it: where it stands, how many codes it lists */
    size_t k;     /* the item's index in kb order */
    int setting;
    int defines; /* the entry gives the code a message of its own */
};

static int cmp_item_ref(const void *a, const void *b)
{
    const struct item_ref *x = a, *y = b;
    int c = strcasecmp(x->text, y->text);
    if (c)
        return c;
    return (x->entry > y->entry) - (x->entry < y->entry);
}

/* The listing factor of an entry: one naming more codes than SPECIFIC_CODES below its title
 * (in headings, code or prose) is a reference list, each of them counts less (a range counts
 * once). */
static double listing_of(const struct kbc_entry *e)
{
    size_t listed = 0;
    for (size_t h = 0; h < e->harvest_count; h++)
        listed += e->harvest[h].tier < KBC_TIER_TITLE && !e->harvest[h].ranged;
    return listed > SPECIFIC_CODES ? sqrt(SPECIFIC_CODES / (double)listed) : 1.0;
}

/* How much an entry is about one of its items: where the item stands, and for all but the
 * title how many codes the entry lists. */
static double code_raw(const struct kbc_harvest *item, double listing)
{
    return tier_weight[item->tier] * (item->tier < KBC_TIER_TITLE ? listing : 1);
}

/* For the k-th item in kb order: in how many entries its text occurs (df[k]), what it is
 * worth to the entry most about it (best[k], the largest raw weight among them), and whether
 * any entry shows it assigned (setting[k]). */
static enum kb_status item_statistics(const struct kbc_kb *kb, size_t total, size_t *df,
                                      double *best, unsigned char *setting,
                                      unsigned char *best_defines)
{
    struct item_ref *refs = malloc((total ? total : 1) * sizeof *refs);
    if (!refs)
        return KB_ERR_NOMEM;
    size_t k = 0, entry = 0;
    for (size_t a = 0; a < kb->count; a++)
        for (size_t i = 0; i < kb->articles[a].entry_count; i++, entry++) {
            const struct kbc_entry *e = &kb->articles[a].entries[i];
            double listing = listing_of(e);
            for (size_t h = 0; h < e->harvest_count; h++, k++) {
                const struct kbc_harvest *item = &e->harvest[h];
                double raw = code_raw(item, listing);
                refs[k] = (struct item_ref){item->text, entry,         raw,
                                            k,          item->setting, defines_message(e, h)};
            }
        }
    qsort(refs, total, sizeof *refs, cmp_item_ref);
    for (size_t i = 0; i < total;) {
        size_t j = i, distinct = 0;
        double top = 0;
        unsigned char assigned = 0, defined = 0;
        while (j < total && strcasecmp(refs[j].text, refs[i].text) == 0) {
            distinct += j == i || refs[j].entry != refs[j - 1].entry;
            if (refs[j].raw > top) {
                top = refs[j].raw;
                defined = (unsigned char)refs[j].defines;
            }
            assigned |= refs[j].setting;
            j++;
        }
        for (size_t m = i; m < j; m++) {
            df[refs[m].k] = distinct;
            best[refs[m].k] = top;
            setting[refs[m].k] = assigned;
            best_defines[refs[m].k] = defined;
        }
        i = j;
    }
    free(refs);
    return KB_OK;
}

/* Does a longer phrase of the entry, found at the same tier or a better one, contain item h
 * as a whole word or words? Both would match the same words of a text, and the evidence
 * would count twice ("5.4.1" inside "550 5.4.1 Recipient address rejected"). */
static int inside_longer_phrase(const struct kbc_entry *e, size_t h)
{
    const char *t = e->harvest[h].text;
    size_t n = strlen(t);
    for (size_t i = 0; i < e->harvest_count; i++) {
        const char *u = e->harvest[i].text;
        size_t m = strlen(u);
        if (i == h || !e->harvest[i].phrase || m <= n || e->harvest[i].tier < e->harvest[h].tier)
            continue;
        for (size_t k = 0; k + n <= m; k++)
            if (same_caseless(u + k, t, n) && (k == 0 || !is_word((unsigned char)u[k - 1]))
                && (k + n == m || !is_word((unsigned char)u[k + n])))
                return 1;
    }
    return 0;
}

/* Turns one harvested item into a literal signature of the entry; items that the prefilter
 * cannot anchor or that do not compile are dropped (they are not the author's to fix). */
static enum kb_status add_harvested_signature(struct kbc_entry *e, const struct kbc_harvest *h,
                                              double weight, enum kb_sig_context context,
                                              const char *path)
{
    struct kbc_sig *sigs = kbc_grow(e->sigs, &e->sig_alloc, e->sig_count, sizeof *sigs);
    if (!sigs)
        return KB_ERR_NOMEM;
    e->sigs = sigs;
    struct kbc_sig *sig = &sigs[e->sig_count];
    memset(sig, 0, sizeof *sig);
    sig->kind = KB_SIG_LITERAL;
    sig->weight = weight;
    sig->context = context;
    sig->line = h->line ? h->line : e->line;
    sig->col = 1;
    sig->origin = tier_name[h->tier];
    sig->section = h->section;
    if (!(sig->source = kbc_strndup(h->text, strlen(h->text))))
        return KB_ERR_NOMEM;
    struct kbc_diags scratch;
    kbc_diags_init(&scratch);
    enum kb_status st = kbc_sig_compile(sig, 1, path, &scratch);
    int usable = st == KB_OK && scratch.count == 0 && !scratch.nomem && sig->has_anchor;
    kbc_diags_release(&scratch);
    if (usable) {
        e->sig_count++;
        return KB_OK;
    }
    free(sig->source);
    free(sig->pattern);
    free(sig->captures);
    memset(sig, 0, sizeof *sig);
    return st;
}

/* ---- how common a message's wording is ---------------------------------------------------- */

/* A message harvested from one page may be worded on many others without being quoted there
 * ("Diagnostic information for administrators" is in every bounce a page shows or describes):
 * how many entries hold the message's rarest word pair anywhere in their text estimates how
 * common its wording is. Word pairs are hashed; a count per pair over the whole KB. */

struct pair_counts {
    uint64_t *keys; /* 0: empty slot */
    uint32_t *counts;
    size_t mask, used;
};

static uint64_t word_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= lower((unsigned char)s[i]);
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t pair_key(uint64_t a, uint64_t b)
{
    uint64_t k = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x632BE59BD9B4E019ULL + (a << 6) + (a >> 2));
    return k ? k : 1;
}

/* Calls add(key, arg) for each pair of consecutive words of s (words: runs of letters and
 * digits; anything else separates them). */
static int each_pair(const char *s, int (*add)(uint64_t key, void *arg), void *arg)
{
    uint64_t prev = 0;
    for (size_t i = 0; s && s[i];) {
        while (s[i] && !is_word((unsigned char)s[i]) && (unsigned char)s[i] < 0x80)
            i++;
        size_t start = i;
        while (s[i] && (is_word((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80))
            i++;
        if (i == start)
            break;
        uint64_t h = word_hash(s + start, i - start);
        if (prev && add(pair_key(prev, h), arg))
            return -1;
        prev = h;
    }
    return 0;
}

struct key_list {
    uint64_t *v;
    size_t n, alloc;
};

static int push_key(uint64_t key, void *arg)
{
    struct key_list *l = arg;
    uint64_t *v = kbc_grow(l->v, &l->alloc, l->n, sizeof *v);
    if (!v)
        return -1;
    l->v = v;
    v[l->n++] = key;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint32_t *pair_slot(struct pair_counts *m, uint64_t key, int insert)
{
    for (size_t i = (size_t)(key ^ (key >> 29)) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == key)
            return &m->counts[i];
        if (!m->keys[i]) {
            if (!insert)
                return NULL;
            m->keys[i] = key;
            m->used++;
            return &m->counts[i];
        }
    }
}

static enum kb_status pair_grow(struct pair_counts *m)
{
    size_t size = m->keys ? (m->mask + 1) * 2 : 1024;
    struct pair_counts bigger = {calloc(size, sizeof *bigger.keys),
                                 calloc(size, sizeof *bigger.counts), size - 1, 0};
    if (!bigger.keys || !bigger.counts) {
        free(bigger.keys);
        free(bigger.counts);
        return KB_ERR_NOMEM;
    }
    for (size_t i = 0; m->keys && i <= m->mask; i++)
        if (m->keys[i])
            *pair_slot(&bigger, m->keys[i], 1) = m->counts[i];
    free(m->keys);
    free(m->counts);
    *m = bigger;
    return KB_OK;
}

/* Counts, for every word pair of the KB, the entries whose text holds it. */
static enum kb_status count_pairs(const struct kbc_kb *kb, struct pair_counts *m)
{
    struct key_list l = {0};
    enum kb_status st = pair_grow(m);
    for (size_t a = 0; a < kb->count && st == KB_OK; a++)
        for (size_t i = 0; i < kb->articles[a].entry_count && st == KB_OK; i++) {
            const struct kbc_entry *e = &kb->articles[a].entries[i];
            l.n = 0;
            int failed = each_pair(e->title, push_key, &l);
            for (size_t k = 0; k < e->section_count && !failed; k++)
                failed = each_pair(e->sections[k].heading, push_key, &l)
                         || each_pair(e->sections[k].code, push_key, &l)
                         || each_pair(e->sections[k].body, push_key, &l);
            if (failed) {
                st = KB_ERR_NOMEM;
                break;
            }
            if (l.n)
                qsort(l.v, l.n, sizeof *l.v, cmp_u64);
            for (size_t k = 0; k < l.n && st == KB_OK; k++) {
                if (k && l.v[k] == l.v[k - 1])
                    continue;
                if ((m->used + 1) * 2 > m->mask + 1 && (st = pair_grow(m)) != KB_OK)
                    break;
                (*pair_slot(m, l.v[k], 1))++;
            }
        }
    free(l.v);
    return st;
}

struct rarest {
    const struct pair_counts *m;
    uint32_t min;
};

static int rarer_pair(uint64_t key, void *arg)
{
    struct rarest *r = arg;
    uint32_t *c = pair_slot((struct pair_counts *)r->m, key, 0);
    uint32_t n = c ? *c : 0;
    if (n < r->min)
        r->min = n;
    return 0;
}

/* In how many entries the rarest word pair of a message stands (at least 1). */
static size_t wording_df(const struct pair_counts *m, const char *text)
{
    struct rarest r = {m, UINT32_MAX};
    each_pair(text, rarer_pair, &r);
    return r.min == UINT32_MAX || r.min == 0 ? 1 : r.min;
}

/* ---- links between articles --------------------------------------------------------------- */

struct path_ref {
    const char *key; /* an article's path, or its file name */
    size_t article;
};

static int cmp_path_ref(const void *a, const void *b)
{
    const struct path_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->article > y->article) - (x->article < y->article);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The article at key in refs (sorted), or (size_t)-1; also when the key is not unique. */
static size_t find_path(const struct path_ref *refs, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(refs[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= n || strcmp(refs[lo].key, key) != 0)
        return (size_t)-1;
    if (lo + 1 < n && strcmp(refs[lo + 1].key, key) == 0)
        return (size_t)-1;
    return refs[lo].article;
}

/* from's directory joined with the relative link, "." and ".." resolved; NULL when it climbs
 * out of the KB or out of memory. */
static char *join_link(const char *from, const char *link, size_t len)
{
    struct kb_buf b;
    kb_buf_init(&b, 0);
    const char *dir_end = strrchr(from, '/');
    enum kb_status st = kb_buf_append(&b, from, dir_end ? (size_t)(dir_end - from) : 0);
    for (size_t i = 0; i < len && st == KB_OK;) {
        size_t j = i;
        while (j < len && link[j] != '/')
            j++;
        if (j - i == 2 && link[i] == '.' && link[i + 1] == '.') {
            if (!b.len) {
                kb_buf_release(&b);
                return NULL;
            }
            while (b.len && b.data[b.len - 1] != '/')
                b.len--;
            if (b.len)
                b.len--;
            b.data[b.len] = '\0';
        } else if (j > i && !(j - i == 1 && link[i] == '.')) {
            if (b.len)
                st = kb_buf_append_char(&b, '/');
            if (st == KB_OK)
                st = kb_buf_append(&b, link + i, j - i);
        }
        i = j + 1;
    }
    char *out = NULL;
    if (st == KB_OK)
        kb_buf_detach(&b, &out);
    kb_buf_release(&b);
    return out;
}

/* Resolves every section's links to the articles they lead to: by path from the linking
 * article, else by file name when only one article has it (docs often link to where a page
 * used to be). */
static enum kb_status resolve_links(struct kbc_kb *kb)
{
    size_t n = kb->count;
    struct path_ref *paths = malloc((n ? n : 1) * sizeof *paths);
    struct path_ref *names = malloc((n ? n : 1) * sizeof *names);
    enum kb_status st = paths && names ? KB_OK : KB_ERR_NOMEM;
    for (size_t a = 0; a < n && st == KB_OK; a++) {
        paths[a] = (struct path_ref){kb->articles[a].file->rel, a};
        names[a] = (struct path_ref){base_name(kb->articles[a].file->rel), a};
    }
    if (st == KB_OK) {
        qsort(paths, n, sizeof *paths, cmp_path_ref);
        qsort(names, n, sizeof *names, cmp_path_ref);
    }
    for (size_t a = 0; a < n && st == KB_OK; a++)
        for (size_t i = 0; i < kb->articles[a].entry_count && st == KB_OK; i++) {
            struct kbc_entry *e = &kb->articles[a].entries[i];
            for (size_t k = 0; k < e->section_count && st == KB_OK; k++) {
                struct kbc_section *sec = &e->sections[k];
                for (const char *l = sec->links; l && *l && st == KB_OK;) {
                    size_t len = strcspn(l, "\n");
                    char *path = join_link(kb->articles[a].file->rel, l, len);
                    size_t t = path ? find_path(paths, n, path) : (size_t)-1;
                    if (t == (size_t)-1 && path)
                        t = find_path(names, n, base_name(path));
                    free(path);
                    int dup = t == a;
                    for (size_t m = 0; m < sec->target_count && !dup; m++)
                        dup = sec->targets[m] == t;
                    if (t != (size_t)-1 && !dup) {
                        size_t alloc = sec->target_count;
                        size_t *v = kbc_grow(sec->targets, &alloc, sec->target_count, sizeof *v);
                        if (!v) {
                            st = KB_ERR_NOMEM;
                            break;
                        }
                        sec->targets = v;
                        v[sec->target_count++] = t;
                    }
                    l += len + (l[len] == '\n');
                }
            }
        }
    free(paths);
    free(names);
    return st;
}

enum kb_status kbc_harvest_finish(struct kbc_kb *kb)
{
    /* In a KB whose authors mark generic text as mail-only evidence, harvested evidence is
     * generic text too: it counts as theirs does (fully only in text about mail). */
    enum kb_sig_context context = KB_CONTEXT_ANY;
    size_t total = 0, entries = 0;
    for (size_t a = 0; a < kb->count; a++)
        for (size_t i = 0; i < kb->articles[a].entry_count; i++) {
            const struct kbc_entry *e = &kb->articles[a].entries[i];
            for (size_t g = 0; g < e->sig_count; g++)
                if (e->sigs[g].context != KB_CONTEXT_ANY)
                    context = KB_CONTEXT_MAIL;
            total += e->harvest_count;
            entries++;
        }
    enum kb_status linked = resolve_links(kb);
    if (linked != KB_OK)
        return linked;
    size_t *df = malloc((total ? total : 1) * sizeof *df);
    double *best = malloc((total ? total : 1) * sizeof *best);
    unsigned char *setting = malloc(total ? total : 1);
    unsigned char *best_defines = malloc(total ? total : 1);
    struct pair_counts pairs = {0};
    enum kb_status st = df && best && setting && best_defines
                            ? item_statistics(kb, total, df, best, setting, best_defines)
                            : KB_ERR_NOMEM;
    if (st == KB_OK)
        st = count_pairs(kb, &pairs);
    /* An item's worth is shared out by how much each entry is about it: the entry whose title
     * names a code gets all of it, one that lists the code among fifty a fraction; when no
     * other entry has it, the one that does gets most of it, wherever it stands (a code only
     * a reference table lists is that table's). Then how many entries share it: evidence
     * found everywhere tells little (1 + ln(N / df), against 1 + ln N for evidence of one
     * entry only). */
    double n = entries > 1 ? (double)entries : 2.0;
    size_t k = 0;
    for (size_t a = 0; a < kb->count && st == KB_OK; a++) {
        struct kbc_article *art = &kb->articles[a];
        for (size_t i = 0; i < art->entry_count && st == KB_OK; i++) {
            struct kbc_entry *e = &art->entries[i];
            double listing = listing_of(e);
            double beside = e->sig_count ? BESIDE_WRITTEN : 1.0;
            for (size_t h = 0; h < e->harvest_count && st == KB_OK; h++, k++) {
                const struct kbc_harvest *item = &e->harvest[h];
                /* a setting's name where a page's code sets it ("MAIL_USERNAME=...") says
                 * how it is set up; only a title or heading naming it says what it is about */
                if (inside_longer_phrase(e, h) || (setting[k] && item->tier < KBC_TIER_HEADING))
                    continue;
                double raw = code_raw(item, listing);
                size_t common = df[k];
                if (item->phrase) {
                    size_t worded = wording_df(&pairs, item->text);
                    common = worded > common ? worded : common;
                }
                double spec = (1.0 + log(n / (double)common)) / (1.0 + log(n));
                /* a message's words are common words: how widely its wording is shared
                 * counts twice */
                if (item->phrase)
                    spec *= spec;
                double share = raw / best[k];
                /* a message in a table's row beside a status code (a table of codes) is that
                 * code's message: where the code is better covered, so is the message */
                int row = item->section < e->section_count && e->sections[item->section].table_row;
                for (size_t c = 0; item->phrase && row && c < e->harvest_count; c++) {
                    const struct kbc_harvest *code = &e->harvest[c];
                    size_t kc = k - h + c;
                    if (!code->phrase && code->section == item->section
                        && is_status_code(code->text, strlen(code->text), '.')
                        && code_raw(code, listing) / best[kc] < share)
                        share = code_raw(code, listing) / best[kc];
                }
                /* a message that quotes a status code which has a page of its own (its title
                 * names the code) about every error of the code: that page answers it, this
                 * one mentions it */
                for (size_t c = 0; item->phrase && c < e->harvest_count; c++) {
                    const struct kbc_harvest *code = &e->harvest[c];
                    size_t kc = k - h + c;
                    if (!code->phrase && is_status_code(code->text, strlen(code->text), '.')
                        && best[kc] >= tier_weight[KBC_TIER_TITLE] && !best_defines[kc]
                        && holds_words(item->text, code->text)
                        && code_raw(code, listing) / best[kc] < share)
                        share = code_raw(code, listing) / best[kc];
                }
                double place = TIER_FLOOR + (1 - TIER_FLOOR) * raw / tier_weight[KBC_TIER_TITLE];
                double w = item_strength(item, setting[k]) * share * place * spec;
                /* a page that gives a code a message of its own is about that message: the
                 * bare code says less of it */
                if (defines_message(e, h))
                    w *= DEFINED_CODE;
                if (w >= MIN_WEIGHT)
                    st = add_harvested_signature(e, item, round(w * beside * 1000.0) / 1000.0,
                                                 context, art->file->display);
            }
        }
    }
    free(df);
    free(best);
    free(setting);
    free(best_defines);
    free(pairs.keys);
    free(pairs.counts);
    return st;
}
