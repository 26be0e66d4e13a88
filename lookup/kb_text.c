/*
 * kb_text.c - normalisation, prefilter tokens and anchors, literal translation, full-text
 * preparation and secret masking; see kb_text.h. Everything here works on bytes: pasted text
 * may hold invalid UTF-8 or NUL bytes, so lengths are explicit and nothing calls strlen on input.
 */
#include "kb_text.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* Byte classes and case folding as tables, computed by the compiler: the literal scanner and
 * the tokenizer ask them for every byte they read, and a load is cheaper than the comparisons
 * (a third of the instructions of a lookup of 1 MB of the KB's own signature words). */
#define CLASS_OF(c)                                                                                \
    (((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r' || (c) == '\f' || (c) == '\v') ? 1   \
     : (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9')     \
        || (c) == '_')                                                                             \
         ? 2                                                                                       \
         : 0)
#define FOLD_OF(c) ((c) >= 'A' && (c) <= 'Z' ? (c) + 32 : (c))
#define R4(f, b) f(b), f((b) + 1), f((b) + 2), f((b) + 3)
#define R16(f, b) R4(f, b), R4(f, (b) + 4), R4(f, (b) + 8), R4(f, (b) + 12)
#define R64(f, b) R16(f, b), R16(f, (b) + 16), R16(f, (b) + 32), R16(f, (b) + 48)
static const unsigned char byte_class[256] = {R64(CLASS_OF, 0), R64(CLASS_OF, 64),
                                              R64(CLASS_OF, 128), R64(CLASS_OF, 192)};
static const unsigned char fold_ascii[256] = {R64(FOLD_OF, 0), R64(FOLD_OF, 64), R64(FOLD_OF, 128),
                                              R64(FOLD_OF, 192)};
#undef R64
#undef R16
#undef R4
#undef FOLD_OF
#undef CLASS_OF

static int is_word(unsigned char c)
{
    return byte_class[c] & 2;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(unsigned char c)
{
    return byte_class[c] & 1;
}

static unsigned char lower(unsigned char c)
{
    return fold_ascii[c];
}

/* ---- prefilter tokens -------------------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
/* Dotted tokens longer than this many parts are indexed by their shorter sub-sequences only;
 * keeps the work per token bounded on hostile input like "a.a.a.a....". */
#define MAX_PARTS 12

uint64_t kb_token_hash(const char *token, size_t len)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < len; i++) {
        h ^= lower((unsigned char)token[i]);
        h *= FNV_PRIME;
    }
    return h;
}

/* Emits the hashes of every contiguous run of up to MAX_PARTS parts of one dotted token
 * text[start, end) whose part boundaries are given in part_start/part_end. */
static int emit_compound(const char *text, const size_t *part_start, const size_t *part_end,
                         size_t parts, int (*emit)(uint64_t, size_t, void *), void *arg)
{
    for (size_t i = 0; i < parts; i++) {
        uint64_t h = FNV_OFFSET;
        size_t pos = part_start[i];
        for (size_t j = i; j < parts && j < i + MAX_PARTS; j++) {
            for (; pos < part_end[j]; pos++) {
                h ^= lower((unsigned char)text[pos]);
                h *= FNV_PRIME;
            }
            int rc = emit(h, part_start[i], arg);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int kb_text_tokens(const char *text, size_t len,
                   int (*emit)(uint64_t hash, size_t offset, void *arg), void *arg)
{
    size_t part_start[MAX_PARTS], part_end[MAX_PARTS];
    size_t i = 0;
    while (i < len) {
        if (!is_word((unsigned char)text[i])) {
            i++;
            continue;
        }
        /* A dotted token: parts separated by single dots between word characters. Parts past
         * MAX_PARTS start a new window so every part is still emitted. */
        size_t parts = 0;
        for (;;) {
            size_t s = i;
            while (i < len && is_word((unsigned char)text[i]))
                i++;
            if (parts == MAX_PARTS) {
                int rc = emit_compound(text, part_start, part_end, parts, emit, arg);
                if (rc)
                    return rc;
                parts = 0;
            }
            part_start[parts] = s;
            part_end[parts] = i;
            parts++;
            if (i + 1 < len && text[i] == '.' && is_word((unsigned char)text[i + 1]))
                i++;
            else
                break;
        }
        int rc = emit_compound(text, part_start, part_end, parts, emit, arg);
        if (rc)
            return rc;
    }
    return 0;
}

/* A signature seen as a sequence of cells for anchor selection. */
enum cell_kind {
    CELL_CHAR,     /* this exact byte (compared caselessly) */
    CELL_BOUNDARY, /* zero-width: a word boundary is enforced here */
    CELL_PIECE,    /* a class, group, escape or quantified atom: see the flags */
};

/* What is known of a CELL_PIECE. A piece without FIRST_NONWORD may extend a token on its left
 * side into a longer word, and so on; an unknown piece has no flags at all. */
#define FIRST_NONWORD 1 /* whatever it matches starts with a non-word character */
#define LAST_NONWORD 2  /* ... ends with a non-word character */
#define OPTIONAL 4      /* it may match nothing */
#define NONWORD (FIRST_NONWORD | LAST_NONWORD)

struct cell {
    enum cell_kind kind;
    unsigned char c;
    unsigned char flags;
};

struct cells {
    struct cell *v;
    size_t n, alloc;
};

static int cells_push(struct cells *cs, enum cell_kind kind, unsigned char c, unsigned char flags)
{
    if (cs->n == cs->alloc) {
        size_t na = cs->alloc ? cs->alloc * 2 : 64;
        struct cell *p = realloc(cs->v, na * sizeof *p);
        if (!p)
            return -1;
        cs->v = p;
        cs->alloc = na;
    }
    cs->v[cs->n].kind = kind;
    cs->v[cs->n].c = c;
    cs->v[cs->n].flags = flags;
    cs->n++;
    return 0;
}

static int cell_is_wordchar(const struct cell *c)
{
    return c->kind == CELL_CHAR && is_word(c->c);
}

/* Can nothing but a non-word character (or a word boundary) follow a token at idx, looking in
 * direction dir (+1: the cell after the token, -1: the cell before it)? Optional pieces are
 * passed over: whether they match or not, what lies beyond them must also bound the token. */
static int cell_bounds(const struct cells *cs, size_t idx, int dir)
{
    for (;;) {
        if (idx >= cs->n)
            return 0; /* pattern edge: a substring may continue */
        const struct cell *c = &cs->v[idx];
        if (c->kind == CELL_CHAR)
            return !is_word(c->c);
        if (c->kind == CELL_BOUNDARY)
            return 1;
        if (!(c->flags & (dir > 0 ? FIRST_NONWORD : LAST_NONWORD)))
            return 0;
        if (!(c->flags & OPTIONAL))
            return 1;
        if (dir < 0 && idx == 0)
            return 0;
        idx = dir < 0 ? idx - 1 : idx + 1;
    }
}

static int literal_cells(const char *s, size_t len, struct cells *cs)
{
    if (len && is_word((unsigned char)s[0]) && cells_push(cs, CELL_BOUNDARY, 0, 0))
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_space(c) ? cells_push(cs, CELL_PIECE, 0, NONWORD) : cells_push(cs, CELL_CHAR, c, 0))
            return -1;
    }
    if (len && is_word((unsigned char)s[len - 1]) && cells_push(cs, CELL_BOUNDARY, 0, 0))
        return -1;
    return 0;
}

/* Index just past the character class starting at p[i] == '['. */
static size_t skip_class(const char *p, size_t len, size_t i, int *nonword_only)
{
    size_t j = i + 1;
    int negated = 0, only_nonword = 1;
    if (j < len && p[j] == '^') {
        negated = 1;
        j++;
    }
    if (j < len && p[j] == ']') {
        j++;
    }
    while (j < len && p[j] != ']') {
        unsigned char c = (unsigned char)p[j];
        if (c == '[' && j + 1 < len && p[j + 1] == ':') {
            const char *end = memchr(p + j + 2, ']', len - j - 2);
            only_nonword = 0;
            j = end ? (size_t)(end - p) + 1 : len;
            continue;
        }
        if (c == '\\' && j + 1 < len) {
            unsigned char e = (unsigned char)p[j + 1];
            if (is_word(e) && e != 's')
                only_nonword = 0;
            j += 2;
            continue;
        }
        if (is_word(c) || c >= 0x80)
            only_nonword = 0;
        j++;
    }
    *nonword_only = only_nonword && !negated;
    return j < len ? j + 1 : len;
}

/* Index just past the group starting at p[i] == '('. */
static size_t skip_group(const char *p, size_t len, size_t i)
{
    int depth = 0;
    size_t j = i;
    while (j < len) {
        char c = p[j];
        if (c == '\\') {
            j += 2;
            continue;
        }
        if (c == '[') {
            int dummy;
            j = skip_class(p, len, j, &dummy);
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')' && --depth == 0)
            return j + 1;
        j++;
    }
    return len;
}

/* Index just past the element of the regex at p[i] outside every group: an escape, a class, a
 * group, or one character. */
static size_t skip_element(const char *p, size_t len, size_t i)
{
    int dummy;
    if (p[i] == '\\')
        return i + 2;
    if (p[i] == '[')
        return skip_class(p, len, i, &dummy);
    if (p[i] == '(')
        return skip_group(p, len, i);
    return i + 1;
}

/* Does the regex have a '|' outside every group and class? */
static int top_level_alternation(const char *p, size_t len)
{
    for (size_t i = 0; i < len;) {
        if (p[i] == '|')
            return 1;
        i = skip_element(p, len, i);
    }
    return 0;
}

static int hexval(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    c = lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Flags of a group body p[0, len): does every match start / end with a non-word character?
 * Only the simple, common shapes are recognised: "(?: address)" does not end with one,
 * "(?:, )" does both; alternations and nested constructs at an edge count as unknown. */
static unsigned char group_flags(const char *p, size_t len)
{
    if (len >= 1 && p[0] == '?') {
        size_t skip;
        if (len >= 2 && (p[1] == ':' || p[1] == '>'))
            skip = 2;
        else if ((len >= 3 && p[1] == '<' && p[2] != '=' && p[2] != '!')
                 || (len >= 3 && p[1] == 'P' && p[2] == '<')) {
            const char *close = memchr(p, '>', len); /* (?<name>...) and (?P<name>...) */
            if (!close)
                return 0;
            skip = (size_t)(close + 1 - p);
        } else
            return 0; /* lookaround, conditional, comment, option group... */
        p += skip;
        len -= skip;
    }
    if (len == 0 || top_level_alternation(p, len))
        return 0;
    unsigned char flags = 0;
    unsigned char first = (unsigned char)p[0];
    if (first == '\\' && len >= 2)
        flags |= (!is_word((unsigned char)p[1]) || p[1] == 's') ? FIRST_NONWORD : 0;
    else if (!is_word(first) && !strchr("([.^$|?*+{", first) && first < 0x80)
        flags |= FIRST_NONWORD;
    unsigned char last = (unsigned char)p[len - 1];
    int escaped = len >= 2 && p[len - 2] == '\\';
    if (escaped)
        flags |= !is_word(last) ? LAST_NONWORD : 0;
    else if (!is_word(last) && !strchr(")].^$|?*+}", last) && last < 0x80)
        flags |= LAST_NONWORD;
    return flags;
}

/* Turns a regex into cells, conservatively: anything not understood is a piece without flags. */
static int regex_cells(const char *p, size_t len, struct cells *cs)
{
    size_t i = 0;
    while (i < len) {
        size_t atom_start_cell = cs->n;
        unsigned char c = (unsigned char)p[i];
        int rc = 0;
        if (c == '\\' && i + 1 < len) {
            unsigned char e = (unsigned char)p[i + 1];
            i += 2;
            if (e == 'b' || e == 'A' || e == 'z' || e == 'Z')
                rc = cells_push(cs, CELL_BOUNDARY, 0, 0);
            else if (e == 's' || e == 'h' || e == 'v' || e == 'n' || e == 't' || e == 'r')
                rc = cells_push(cs, CELL_PIECE, 0, NONWORD);
            else if (e == 'Q') {
                while (i < len && !(p[i] == '\\' && i + 1 < len && p[i + 1] == 'E'))
                    if ((rc = cells_push(cs, CELL_CHAR, (unsigned char)p[i++], 0)))
                        return rc;
                i = i < len ? i + 2 : len;
                continue;
            } else if (e == 'x' && i + 3 < len && p[i] == '{'
                       && hexval((unsigned char)p[i + 1]) >= 0
                       && hexval((unsigned char)p[i + 2]) >= 0 && p[i + 3] == '}') {
                /* \x{hh}: how kb_literal_to_pattern writes bytes outside printable ASCII */
                rc = cells_push(cs, CELL_CHAR,
                                (unsigned char)(hexval((unsigned char)p[i + 1]) * 16
                                                + hexval((unsigned char)p[i + 2])),
                                0);
                i += 4;
            } else if (e == 'x' && i + 1 < len && hexval((unsigned char)p[i]) >= 0
                       && hexval((unsigned char)p[i + 1]) >= 0) {
                rc = cells_push(cs, CELL_CHAR,
                                (unsigned char)(hexval((unsigned char)p[i]) * 16
                                                + hexval((unsigned char)p[i + 1])),
                                0);
                i += 2;
            } else if (!is_word(e))
                rc = cells_push(cs, CELL_CHAR, e, 0);
            else
                rc = cells_push(cs, CELL_PIECE, 0, 0);
        } else if (c == '[') {
            int nonword_only;
            i = skip_class(p, len, i, &nonword_only);
            rc = cells_push(cs, CELL_PIECE, 0, nonword_only ? NONWORD : 0);
        } else if (c == '(') {
            size_t end = skip_group(p, len, i);
            /* (?i) and similar option settings are zero-width: they add no cell. */
            int option_only = end - i >= 3 && p[i + 1] == '?' && p[end - 1] == ')';
            for (size_t k = i + 2; option_only && k + 1 < end; k++)
                if (!(lower((unsigned char)p[k]) >= 'a' && lower((unsigned char)p[k]) <= 'z')
                    && p[k] != '-')
                    option_only = 0;
            if (!option_only)
                rc = cells_push(cs, CELL_PIECE, 0,
                                end - i >= 2 ? group_flags(p + i + 1, end - i - 2) : 0);
            i = end;
        } else if (c == '^' || c == '$') {
            rc = cells_push(cs, CELL_BOUNDARY, 0, 0);
            i++;
        } else if (c == '.') {
            rc = cells_push(cs, CELL_PIECE, 0, 0);
            i++;
        } else {
            rc = is_space(c) ? cells_push(cs, CELL_PIECE, 0, NONWORD)
                             : cells_push(cs, CELL_CHAR, c, 0);
            i++;
        }
        if (rc)
            return rc;
        if (i >= len || cs->n == atom_start_cell)
            continue;
        /* A quantifier makes the atom a piece: repeated, it keeps its edges; optional, it may
         * also vanish. A repeated or optional word character is unknown. */
        char q = p[i];
        if (q == '?' || q == '*' || q == '+' || q == '{') {
            int at_least_once = q == '+';
            if (q == '{') {
                size_t k = i + 1;
                if (k < len && is_digit((unsigned char)p[k]) && p[k] != '0')
                    at_least_once = 1;
                while (k < len && p[k] != '}')
                    k++;
                i = k < len ? k + 1 : len;
            } else
                i++;
            if (i < len && (p[i] == '?' || p[i] == '+'))
                i++;
            struct cell *last = &cs->v[cs->n - 1];
            unsigned char flags = 0;
            if (last->kind == CELL_CHAR)
                flags = is_word(last->c) ? 0 : NONWORD;
            else if (last->kind == CELL_PIECE)
                flags = last->flags & NONWORD;
            if (!at_least_once && flags)
                flags |= OPTIONAL;
            last->kind = CELL_PIECE;
            last->flags = flags;
        }
    }
    return 0;
}

/* Calls visit for every complete token among the cells: a dotted run of word characters
 * whose neighbours cannot extend it (trimmed to its complete parts), with a quality that
 * estimates how rare it is in pasted text: longer is rarer; bare numbers and very common words
 * are poor. visit returns non-zero to stop (returned). */
static int each_complete_token(const struct cells *cs,
                               int (*visit)(size_t s, size_t e, double quality, void *arg),
                               void *arg)
{
    static const char *const common[] = {"the",  "and",  "for", "not",    "error",  "smtp",  "mail",
                                         "with", "from", "was", "failed", "server", "please"};
    size_t i = 0;
    while (i < cs->n) {
        if (!cell_is_wordchar(&cs->v[i])) {
            i++;
            continue;
        }
        /* Collect the parts of one dotted run. */
        size_t ps[MAX_PARTS * 4], pe[MAX_PARTS * 4], parts = 0;
        for (;;) {
            size_t s = i;
            while (i < cs->n && cell_is_wordchar(&cs->v[i]))
                i++;
            if (parts < MAX_PARTS * 4) {
                ps[parts] = s;
                pe[parts] = i;
                parts++;
            }
            if (i + 1 < cs->n && cs->v[i].kind == CELL_CHAR && cs->v[i].c == '.'
                && cell_is_wordchar(&cs->v[i + 1]))
                i++;
            else
                break;
        }
        size_t first = 0, last = parts;
        if (ps[0] == 0 || !cell_bounds(cs, ps[0] - 1, -1))
            first++;
        if (!cell_bounds(cs, pe[parts - 1], +1))
            last--;
        if (first >= last || last > parts)
            continue;
        if (last - first > MAX_PARTS)
            last = first + MAX_PARTS;
        size_t s = ps[first], e = pe[last - 1];
        double quality = (double)(e - s);
        int digits_only = 1;
        for (size_t k = s; k < e; k++)
            if (!is_digit(cs->v[k].c) && cs->v[k].c != '.')
                digits_only = 0;
        if (digits_only && last - first == 1)
            quality /= 2;
        for (size_t k = 0; k < sizeof common / sizeof common[0]; k++) {
            size_t n = strlen(common[k]);
            if (n == e - s) {
                size_t m = 0;
                while (m < n && lower(cs->v[s + m].c) == (unsigned char)common[k][m])
                    m++;
                if (m == n)
                    quality = 0.5;
            }
        }
        int rc = visit(s, e, quality, arg);
        if (rc)
            return rc;
    }
    return 0;
}

static uint64_t cells_hash(const struct cells *cs, size_t s, size_t e)
{
    uint64_t h = FNV_OFFSET;
    for (size_t k = s; k < e; k++) {
        h ^= lower(cs->v[k].c);
        h *= FNV_PRIME;
    }
    return h;
}

struct best_token {
    size_t s, e;
    double quality;
};

static int keep_best(size_t s, size_t e, double quality, void *arg)
{
    struct best_token *b = arg;
    if (quality > b->quality) {
        b->s = s;
        b->e = e;
        b->quality = quality;
    }
    return 0;
}

/* The complete token of best quality: the anchor when nothing is known of the rest of the KB. */
static int choose_anchor(const struct cells *cs, uint64_t *hash, struct kb_buf *token_out)
{
    struct best_token best = {0, 0, 0};
    each_complete_token(cs, keep_best, &best);
    if (best.quality <= 0)
        return 0;
    for (size_t k = best.s; token_out && k < best.e; k++)
        if (kb_buf_append_char(token_out, (char)cs->v[k].c) != KB_OK)
            return -1;
    *hash = cells_hash(cs, best.s, best.e);
    return 1;
}

/* Does the regex end with a literal word character (not escaped, not quantified)? */
static int ends_with_literal_word(const char *p, size_t len)
{
    if (!len || !is_word((unsigned char)p[len - 1]))
        return 0;
    size_t backslashes = 0;
    while (backslashes + 1 < len && p[len - 2 - backslashes] == '\\')
        backslashes++;
    if (backslashes % 2)
        return 0;
    /* inside a {m,n} quantifier or a class the last character is not a literal atom */
    for (size_t i = len; i-- > 0;) {
        if (p[i] == '{' || p[i] == '[')
            return 0;
        if (p[i] == '}' || p[i] == ']' || !is_word((unsigned char)p[i]))
            break;
    }
    return 1;
}

/* Appends the regex with every plain space (not escaped, not in a class) made to match a run
 * of white space, line breaks included, as a space in a literal does: error texts are
 * wrapped by loggers and mail clients wherever a line gets long ("Must issue a STARTTLS\n
 * command first"). A space a quantifier follows keeps it: " ?" becomes "\s?". Inside a
 * lookbehind, which PCRE2 needs of fixed length, spaces stay as written. */
static enum kb_status append_regex_spaces(struct kb_buf *out, const char *p, size_t len)
{
    enum kb_status st = KB_OK;
    int in_class = 0;
    size_t depth = 0, behind = 0; /* group depth; depth of the open lookbehind, 0 when none */
    for (size_t i = 0; i < len && st == KB_OK; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < len) {
            st = kb_buf_append(out, p + i, 2);
            i++;
            continue;
        }
        if (in_class) {
            /* a ']' right after '[' or '[^' is a member, not the end */
            if (c == ']' && !(p[i - 1] == '[' || (p[i - 1] == '^' && i >= 2 && p[i - 2] == '[')))
                in_class = 0;
        } else if (c == '[') {
            in_class = 1;
        } else if (c == '(') {
            depth++;
            if (!behind && i + 3 < len && p[i + 1] == '?' && p[i + 2] == '<'
                && (p[i + 3] == '=' || p[i + 3] == '!'))
                behind = depth;
        } else if (c == ')' && depth) {
            if (behind == depth)
                behind = 0;
            depth--;
        } else if (c == ' ' && !behind) {
            int quantified = i + 1 < len && strchr("*+?{", p[i + 1]);
            st = kb_buf_append_str(out, quantified ? "\\s" : "\\s+");
            continue;
        }
        st = kb_buf_append_char(out, c);
    }
    return st;
}

enum kb_status kb_regex_to_pattern(const char *regex, size_t len, struct kb_buf *out,
                                   size_t *prefix_len)
{
    enum kb_status st = KB_OK;
    int before = len && is_word((unsigned char)regex[0]) && !top_level_alternation(regex, len);
    int after = ends_with_literal_word(regex, len) && !top_level_alternation(regex, len);
    if (before)
        st = kb_buf_append_str(out, "\\b");
    if (st == KB_OK)
        st = append_regex_spaces(out, regex, len);
    if (st == KB_OK && after)
        st = kb_buf_append_str(out, "\\b");
    if (prefix_len)
        *prefix_len = before ? 2 : 0;
    return st;
}

/* Builds the cells of a signature; 0 on success, 1 when it can have no anchor, -1 when out
 * of memory. */
static int signature_cells(enum kb_sig_kind kind, const char *source, size_t len, struct cells *cs)
{
    if (kind == KB_SIG_LITERAL)
        return literal_cells(source, len, cs);
    if (top_level_alternation(source, len))
        return 1;
    struct kb_buf pattern;
    kb_buf_init(&pattern, 0);
    int rc = kb_regex_to_pattern(source, len, &pattern, NULL) == KB_OK
                 ? regex_cells(pattern.data, pattern.len, cs)
                 : -1;
    kb_buf_release(&pattern);
    return rc;
}

int kb_signature_anchor(enum kb_sig_kind kind, const char *source, size_t len, uint64_t *hash,
                        struct kb_buf *token_out)
{
    struct cells cs = {0};
    int rc = signature_cells(kind, source, len, &cs);
    if (rc == 0)
        rc = choose_anchor(&cs, hash, token_out);
    else if (rc == 1)
        rc = 0;
    free(cs.v);
    return rc;
}

struct candidate_visit {
    const struct cells *cs;
    int (*visit)(uint64_t hash, double quality, void *arg);
    void *arg;
};

static int forward_candidate(size_t s, size_t e, double quality, void *arg)
{
    struct candidate_visit *v = arg;
    return v->visit(cells_hash(v->cs, s, e), quality, v->arg);
}

int kb_signature_anchor_candidates(enum kb_sig_kind kind, const char *source, size_t len,
                                   int (*visit)(uint64_t hash, double quality, void *arg),
                                   void *arg)
{
    struct cells cs = {0};
    int rc = signature_cells(kind, source, len, &cs);
    if (rc == 0) {
        struct candidate_visit v = {&cs, visit, arg};
        rc = each_complete_token(&cs, forward_candidate, &v);
    } else if (rc == 1) {
        rc = 0;
    }
    free(cs.v);
    return rc;
}

/* Does PCRE2 read pattern otherwise than regex_cells does? \Q...\E with a quantifier after
 * it, and extended mode (white space ignored): then nothing is said of what it requires. */
static int read_otherwise(const char *pattern, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (pattern[i] == '\\' && pattern[i + 1] == 'Q')
            return 1;
        if (pattern[i] == '(' && pattern[i + 1] == '?')
            for (size_t k = i + 2; k < len && pattern[k] != ')' && pattern[k] != ':'; k++)
                if (pattern[k] == 'x')
                    return 1;
    }
    return 0;
}

int kb_regex_required_literal(const char *pattern, size_t len, struct kb_buf *out)
{
    if (top_level_alternation(pattern, len) || read_otherwise(pattern, len))
        return 0;
    struct cells cs = {0};
    int rc = regex_cells(pattern, len, &cs);
    size_t best = 0, best_len = 0;
    for (size_t i = 0; rc == 0 && i < cs.n;) {
        size_t j = i;
        while (j < cs.n && cs.v[j].kind == CELL_CHAR)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j > i ? j : i + 1;
    }
    if (rc == 0 && best_len >= 3) {
        for (size_t k = best; k < best + best_len && rc == 0; k++)
            rc = kb_buf_append_char(out, (char)lower(cs.v[k].c)) == KB_OK ? 0 : -1;
        if (rc == 0)
            rc = 1;
    }
    free(cs.v);
    return rc < 0 ? -1 : rc;
}

int kb_regex_required_literals(const char *pattern, size_t len, struct kb_buf *out)
{
    if (!top_level_alternation(pattern, len))
        return kb_regex_required_literal(pattern, len, out);
    /* what kb_regex_required_literal refuses in a whole pattern it refuses here too: an
     * option set in one branch (extended mode) holds in the branches after it */
    if (read_otherwise(pattern, len))
        return 0;
    size_t mark = out->len;
    for (size_t start = 0, i = 0;;) {
        if (i < len && pattern[i] != '|') {
            i = skip_element(pattern, len, i);
            continue;
        }
        size_t end = i < len ? i : len;
        int rc = out->len > mark && kb_buf_append_char(out, '\0') != KB_OK
                     ? -1
                     : kb_regex_required_literal(pattern + start, end - start, out);
        if (rc <= 0) {
            /* a branch that needs nothing: the pattern as a whole needs nothing */
            out->len = mark;
            if (out->data)
                out->data[mark] = '\0';
            return rc;
        }
        if (i >= len)
            return 1;
        start = ++i;
    }
}

/* ---- signatures -------------------------------------------------------------------------- */

uint32_t kb_signature_compile_options(void)
{
    return PCRE2_CASELESS | PCRE2_MULTILINE;
}

enum kb_status kb_literal_to_pattern(const char *literal, size_t len, struct kb_buf *out)
{
    enum kb_status st = KB_OK;
    while (len && is_space((unsigned char)literal[0])) {
        literal++;
        len--;
    }
    while (len && is_space((unsigned char)literal[len - 1]))
        len--;
    if (len && is_word((unsigned char)literal[0]))
        st = kb_buf_append_str(out, "\\b");
    for (size_t i = 0; i < len && st == KB_OK; i++) {
        unsigned char c = (unsigned char)literal[i];
        if (is_space(c)) {
            while (i + 1 < len && is_space((unsigned char)literal[i + 1]))
                i++;
            st = kb_buf_append_str(out, "\\s+");
        } else if (is_word(c) || c == ' ') {
            st = kb_buf_append_char(out, (char)c);
        } else if (c < 0x20 || c >= 0x7f) {
            st = kb_buf_printf(out, "\\x{%02x}", c);
        } else {
            st = kb_buf_append_char(out, '\\');
            if (st == KB_OK)
                st = kb_buf_append_char(out, (char)c);
        }
    }
    if (st == KB_OK && len && is_word((unsigned char)literal[len - 1]))
        st = kb_buf_append_str(out, "\\b");
    return st;
}

/* The literal without the white space around it (as kb_literal_to_pattern trims it). */
static void trim_literal(const char **literal, size_t *len)
{
    while (*len && is_space((unsigned char)(*literal)[0])) {
        (*literal)++;
        (*len)--;
    }
    while (*len && is_space((unsigned char)(*literal)[*len - 1]))
        (*len)--;
}

/* Does the literal (trimmed, len > 0) from its byte from on match at text[pos], within
 * text[0, end)? *reached (when not NULL) gets where the comparison stopped. */
static int literal_at_from(const char *lit, size_t len, size_t from, const char *text, size_t pos,
                           size_t end, size_t *reached)
{
    size_t i = pos, j = from;
    int ok = 1;
    while (j < len && ok) {
        if (is_space((unsigned char)lit[j])) {
            if (i >= end || !is_space((unsigned char)text[i])) {
                ok = 0;
                break;
            }
            while (j < len && is_space((unsigned char)lit[j]))
                j++;
            while (i < end && is_space((unsigned char)text[i]))
                i++;
            continue;
        }
        ok = i < end && lower((unsigned char)text[i]) == lower((unsigned char)lit[j]);
        i += ok;
        j++;
    }
    if (reached)
        *reached = i;
    return ok
           && (!is_word((unsigned char)lit[len - 1]) || i >= end
               || !is_word((unsigned char)text[i]));
}

/* Does the literal (trimmed, len > 0) match at text[pos], within text[0, end)? */
static int literal_at(const char *lit, size_t len, const char *text, size_t pos, size_t end)
{
    return literal_at_from(lit, len, 0, text, pos, end, NULL);
}

int kb_literal_find(const char *literal, size_t literal_len, const char *text, size_t start,
                    size_t end, size_t *match_start, size_t *work)
{
    size_t scanned = 0;
    trim_literal(&literal, &literal_len);
    if (!literal_len)
        return 0;
    unsigned char first = lower((unsigned char)literal[0]);
    unsigned char other = (first >= 'a' && first <= 'z') ? (unsigned char)(first - 32) : first;
    int word_start = is_word(first);
    /* The next occurrence of each case of the first character is remembered and searched
     * for again only once the scan has passed it: searching for both at every step re-read the
     * text up to the rarer case's next occurrence each time, the square of the window's size
     * on a text that holds only one of the cases. NULL: none left. */
    const char *a = NULL, *b = NULL;
    int a_left = 1, b_left = other != first;
    for (size_t pos = start; pos < end; pos++) {
        /* jump to the next occurrence of the first character, in either case */
        if (a_left && (!a || a < text + pos)) {
            a_left = (a = memchr(text + pos, first, end - pos)) != NULL;
            scanned += a ? (size_t)(a - text) - pos : end - pos;
        }
        if (b_left && (!b || b < text + pos)) {
            b_left = (b = memchr(text + pos, other, end - pos)) != NULL;
            scanned += b ? (size_t)(b - text) - pos : end - pos;
        }
        const char *next = a && b ? (a < b ? a : b) : a ? a : b;
        if (!next)
            break;
        pos = (size_t)(next - text);
        if (word_start && pos > 0 && is_word((unsigned char)text[pos - 1]))
            continue;
        scanned += literal_len;
        if (literal_at(literal, literal_len, text, pos, end)) {
            *match_start = pos;
            if (work)
                *work += scanned;
            return 1;
        }
    }
    if (work)
        *work += scanned;
    return 0;
}

struct token_offsets {
    uint64_t hash;
    size_t *out, max, count;
};

static int collect_offset(uint64_t hash, size_t offset, void *arg)
{
    struct token_offsets *t = arg;
    if (hash == t->hash && t->count < t->max)
        t->out[t->count++] = offset;
    return 0;
}

size_t kb_literal_anchor_offsets(const char *literal, size_t literal_len, uint64_t hash,
                                 size_t *out, size_t max)
{
    trim_literal(&literal, &literal_len);
    struct token_offsets t = {hash, out, max, 0};
    kb_text_tokens(literal, literal_len, collect_offset, &t);
    return t.count;
}

int kb_literal_find_at(const char *literal, size_t literal_len, size_t anchor_in, const char *text,
                       size_t len, size_t anchor_at, size_t *match_start, size_t *work,
                       struct kb_literal_miss *miss)
{
    trim_literal(&literal, &literal_len);
    if (!literal_len || anchor_in >= literal_len || anchor_at > len)
        return 0;
    if (miss && miss->known && miss->anchor_in == anchor_in && anchor_at >= miss->at - miss->lo
        && miss->hi - miss->at <= len - anchor_at) {
        /* the bytes the last miss read, at the same place around this occurrence: the same
         * comparison, the same miss (a paste repeating one line or phrase) */
        size_t lo = anchor_at - (miss->at - miss->lo), n = miss->hi - miss->lo;
        if (work)
            *work += n;
        if (memcmp(text + lo, text + miss->lo, n) == 0)
            return 0;
    }
    /* forwards from the anchor to its end first (literal_at checks the end's word boundary):
     * where the anchor is not there at all (a region of a report the signature does not read
     * is blanked), nothing is read backwards. Backwards, a run of white space is crossed
     * whole: from every occurrence in a blanked region it was the whole region, again and
     * again. */
    size_t reached = anchor_at;
    int forward = literal_at_from(literal, literal_len, anchor_in, text, anchor_at, len, &reached);
    if (work)
        *work += reached - anchor_at + 1;
    size_t i = anchor_at, j = anchor_in;
    int ok = forward;
    /* backwards from the anchor to the literal's start, white-space runs against runs */
    while (forward && j > 0 && ok) {
        if (is_space((unsigned char)literal[j - 1])) {
            if (i == 0 || !is_space((unsigned char)text[i - 1])) {
                ok = 0;
                break;
            }
            while (j > 0 && is_space((unsigned char)literal[j - 1]))
                j--;
            while (i > 0 && is_space((unsigned char)text[i - 1]))
                i--;
            continue;
        }
        ok = i > 0 && lower((unsigned char)text[i - 1]) == lower((unsigned char)literal[j - 1]);
        i -= ok;
        j--;
    }
    if (work && forward)
        *work += anchor_at - i;
    if (ok
        && !(is_word((unsigned char)literal[0]) && i > 0 && is_word((unsigned char)text[i - 1]))) {
        *match_start = i;
        return 1;
    }
    /* A miss: the comparison read text[lo, hi) (the byte where each direction stopped
     * included), and nothing else decided it unless it ran into an end of the text. */
    if (miss) {
        miss->known = reached < len && (!forward || i > 0);
        miss->anchor_in = anchor_in;
        miss->at = anchor_at;
        miss->lo = forward ? i - 1 : anchor_at;
        miss->hi = reached + 1;
    }
    return 0;
}

/* A set of literals ready to be searched for: one list per first two bytes (a literal of one
 * byte: per byte), and a byte per pair saying whether its list is empty, so a byte of the text
 * costs one table load unless a literal starts there. Built once for a list that does not
 * change (the engine's own cues, a KB's needs) and searched any number of times, by several
 * threads too: a search never changes it. */
#define NO_LITERAL UINT16_MAX
/* Pairs whose last fruitless walk set_scan remembers (see there) */
#define SET_MISSES 64
/* Bits of the filter of literals' first three bytes (struct kb_literal_set.triples) */
#define TRIPLE_LOG 18
#define TRIPLE_BITS (1u << TRIPLE_LOG)
struct kb_literal_set {
    size_t n;
    const char **literals; /* the caller's strings (they outlive the set) */
    size_t *lens;
    uint16_t *next;
    uint16_t *head;       /* 65536 list heads, valid where pairs[pair] & 2 */
    unsigned char *pairs; /* 65536: 1 a literal of one byte starts here, 2 head[] valid,
                           * 4 a literal of two bytes is this pair */
    /* a bit per hash of the first three bytes of each literal of three or more: on a text
     * where most pairs start some literal (a large set), most walks of a pair's list end at
     * one test of the third byte */
    unsigned char *triples;
    uint16_t single[256];
    unsigned char fold[256];
};

static unsigned triple_hash(unsigned c0, unsigned c1, unsigned c2)
{
    return ((c0 << 16 | c1 << 8 | c2) * 2654435761u) >> (32 - TRIPLE_LOG);
}

/* May a literal start with these three (folded) bytes? */
static int triple_may(const struct kb_literal_set *set, unsigned c0, unsigned c1, unsigned c2)
{
    unsigned h = triple_hash(c0, c1, c2);
    return set->triples[h >> 3] >> (h & 7) & 1;
}

void kb_literal_set_free(struct kb_literal_set *set)
{
    if (!set)
        return;
    free(set->literals);
    free(set->lens);
    free(set->next);
    free(set->head);
    free(set->pairs);
    free(set->triples);
    free(set);
}

struct kb_literal_set *kb_literal_set_new(const char *const *literals, size_t n, int caseless)
{
    if (n >= NO_LITERAL)
        return NULL;
    struct kb_literal_set *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    set->n = n;
    set->literals = malloc((n ? n : 1) * sizeof *set->literals);
    set->lens = malloc((n ? n : 1) * sizeof *set->lens);
    set->next = malloc((n ? n : 1) * sizeof *set->next);
    set->head = malloc(65536 * sizeof *set->head);
    set->pairs = calloc(65536, 1);
    set->triples = calloc(TRIPLE_BITS / 8, 1);
    if (!set->literals || !set->lens || !set->next || !set->head || !set->pairs || !set->triples) {
        kb_literal_set_free(set);
        return NULL;
    }
    for (unsigned c = 0; c < 256; c++) {
        set->fold[c] = caseless ? lower((unsigned char)c) : (unsigned char)c;
        set->single[c] = NO_LITERAL;
    }
    const unsigned char *fold = set->fold;
    for (size_t k = n; k-- > 0;) {
        const unsigned char *l = (const unsigned char *)literals[k];
        set->literals[k] = literals[k];
        if (!(set->lens[k] = strlen(literals[k])))
            continue;
        if (set->lens[k] == 1) {
            set->next[k] = set->single[fold[l[0]]];
            set->single[fold[l[0]]] = (uint16_t)k;
            for (unsigned d = 0; d < 256; d++)
                set->pairs[(unsigned)fold[l[0]] << 8 | d] |= 1;
            continue;
        }
        unsigned pair = (unsigned)fold[l[0]] << 8 | fold[l[1]];
        if (!(set->pairs[pair] & 2))
            set->head[pair] = NO_LITERAL;
        set->next[k] = set->head[pair];
        set->head[pair] = (uint16_t)k;
        set->pairs[pair] |= 2;
        if (set->lens[k] == 2) {
            set->pairs[pair] |= 4;
        } else {
            unsigned h = triple_hash(fold[l[0]], fold[l[1]], fold[l[2]]);
            set->triples[h >> 3] |= (unsigned char)(1u << (h & 7));
        }
    }
    return set;
}

/* With found, each literal is reported once (found[k] set) and not compared again, and a pair
 * whose literals are all found is marked in dead (a bit per pair, this search's own) so that
 * the text's later bytes skip it; without, hit is called for every occurrence. */
static int set_scan(const struct kb_literal_set *set, const char *text, size_t len,
                    int (*hit)(size_t index, size_t offset, void *arg), void *arg,
                    unsigned char *found)
{
    unsigned char *dead = found ? calloc(65536 / 8, 1) : NULL;
    if (found && !dead)
        return -1;
    const unsigned char *fold = set->fold, *pairs = set->pairs;
    size_t left = 0;
    for (size_t k = 0; k < set->n; k++)
        left += set->lens[k] > 0;
    int rc = 0;
    const unsigned char *t = (const unsigned char *)text;
    /* The last walk of a pair's lists that found nothing, by pair (a small direct-mapped
     * table): where it was, and how many bytes from there it read. At a later occurrence of
     * the pair with the same bytes, the same literals fail the same way, and are not walked
     * again: a paste repeating one line had the same lists walked at every line. Only for
     * present (found): a hit callback must see every occurrence. */
    struct {
        size_t at, n;
        unsigned pair;
    } miss[SET_MISSES];
    if (found)
        for (size_t k = 0; k < SET_MISSES; k++)
            miss[k].n = 0;
    for (size_t i = 0; i < len && !rc && left; i++) {
        /* the common case, kept tight: no literal starts at this pair of bytes */
        for (unsigned c = fold[t[i]], d; i + 1 < len && !pairs[c << 8 | (d = fold[t[i + 1]])];
             c = d)
            i++;
        unsigned c0 = fold[t[i]], c1 = i + 1 < len ? fold[t[i + 1]] : 0;
        unsigned pair = c0 << 8 | c1;
        if (!pairs[pair] || (dead && (dead[pair >> 3] >> (pair & 7) & 1)))
            continue;
        unsigned slot = (c0 * 31u + c1) % SET_MISSES;
        if (found && miss[slot].n && miss[slot].pair == pair && miss[slot].n <= len - i) {
            size_t j = 0, n = miss[slot].n;
            const unsigned char *a = t + i, *b = t + miss[slot].at;
            while (j < n && a[j] == b[j])
                j++;
            if (j == n)
                continue;
        }
        size_t read = 0, was_left = left;
        int alive = 0; /* a literal of this pair's lists not found yet */
        /* the literals of one byte, then those of this pair */
        for (int list = 0; list < 2 && !rc; list++) {
            if (list && (i + 1 >= len || !(pairs[pair] & 2)))
                break;
            if (list && !(pairs[pair] & 4)) {
                /* no literal of two bytes here: the third byte must start one too */
                if (i + 2 >= len) {
                    alive = 1;
                    read = SIZE_MAX;
                    break;
                }
                read = read > 3 ? read : 3;
                if (!triple_may(set, c0, c1, fold[t[i + 2]])) {
                    alive = 1;
                    break;
                }
            }
            for (uint16_t k = list ? set->head[pair] : set->single[c0]; k != NO_LITERAL && !rc;
                 k = set->next[k]) {
                if (found && found[k])
                    continue;
                size_t m = set->lens[k], j = 0;
                const unsigned char *l = (const unsigned char *)set->literals[k];
                if (m <= len - i)
                    while (j < m && fold[t[i + j]] == fold[l[j]])
                        j++;
                /* bytes read: up to the one that differed (the end of the text: no miss
                 * is remembered) */
                read = m > len - i ? SIZE_MAX : j + 1 > read ? j + 1 : read;
                if (j < m || m > len - i) {
                    alive = 1;
                } else if (!found) {
                    rc = hit(k, i, arg);
                } else {
                    found[k] = 1;
                    left--;
                }
            }
        }
        if (found && !alive && i + 1 < len)
            dead[pair >> 3] |= (unsigned char)(1u << (pair & 7));
        if (found && alive && left == was_left && read != SIZE_MAX && read <= len - i) {
            miss[slot].at = i;
            miss[slot].n = read;
            miss[slot].pair = pair;
        }
    }
    free(dead);
    return rc;
}

int kb_literal_set_present(const struct kb_literal_set *set, const char *text, size_t len,
                           unsigned char *found)
{
    memset(found, 0, set->n);
    return set_scan(set, text, len, NULL, NULL, found);
}

int kb_literal_set_scan(const struct kb_literal_set *set, const char *text, size_t len,
                        int (*hit)(size_t index, size_t offset, void *arg), void *arg)
{
    return set_scan(set, text, len, hit, arg, NULL);
}

int kb_literals_scan(const char *const *literals, size_t n, int caseless, const char *text,
                     size_t len, int (*hit)(size_t index, size_t offset, void *arg), void *arg)
{
    struct kb_literal_set *set = kb_literal_set_new(literals, n, caseless);
    int rc = set ? set_scan(set, text, len, hit, arg, NULL) : -1;
    kb_literal_set_free(set);
    return rc;
}

int kb_literals_present(const char *const *literals, size_t n, int caseless, const char *text,
                        size_t len, unsigned char *found)
{
    struct kb_literal_set *set = kb_literal_set_new(literals, n, caseless);
    int rc = set ? kb_literal_set_present(set, text, len, found) : -1;
    kb_literal_set_free(set);
    return rc;
}

const char *kb_list_next(const char **cursor, size_t *len)
{
    const char *p = *cursor;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        *cursor = e;
        if (t > p) {
            *len = (size_t)(t - p);
            return p;
        }
        p = e;
    }
    return NULL;
}

int kb_list_contains(const char *list, const char *item)
{
    size_t n = strlen(item), len;
    for (const char *p; (p = kb_list_next(&list, &len));)
        if (len == n && strncmp(p, item, n) == 0)
            return 1;
    return 0;
}

/* ---- full text --------------------------------------------------------------------------- */

enum kb_status kb_fts_prepare(const char *text, size_t len, struct kb_buf *out)
{
    size_t start = out->len;
    enum kb_status st = kb_buf_append(out, text, len);
    if (st != KB_OK)
        return st;
    char *p = out->data + start;
    for (size_t i = 1; i + 1 < len; i++)
        if (p[i] == '.' && is_word((unsigned char)p[i - 1]) && is_word((unsigned char)p[i + 1]))
            p[i] = '_';
    for (size_t i = 0; i < len; i++)
        if (p[i] == '\0')
            p[i] = ' ';
    return KB_OK;
}

/* Length of the valid UTF-8 sequence of two to four bytes at u[0, n) (no overlong forms, no
 * surrogates, nothing above U+10FFFF); 0 when u does not start one. */
size_t kb_utf8_len(const unsigned char *u, size_t n)
{
    size_t len = u[0] >= 0xc2 && u[0] <= 0xdf   ? 2
                 : u[0] >= 0xe0 && u[0] <= 0xef ? 3
                 : u[0] >= 0xf0 && u[0] <= 0xf4 ? 4
                                                : 0;
    if (!len || n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((u[i] & 0xc0) != 0x80)
            return 0;
    if ((u[0] == 0xe0 && u[1] < 0xa0) || (u[0] == 0xed && u[1] > 0x9f)
        || (u[0] == 0xf0 && u[1] < 0x90) || (u[0] == 0xf4 && u[1] > 0x8f))
        return 0;
    return len;
}
