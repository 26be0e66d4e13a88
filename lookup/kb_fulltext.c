/*
 * kb_fulltext.c - evidence from the full-text index. The text's rarest terms that the KB knows
 * (never FTS5 syntax: every term is quoted) are looked up in the FTS5 index of sections, and
 * each section is scored by kb_score(), a ranking function registered here: how much of the
 * text's information the section explains (BM25F over its title, heading, code and prose
 * fields, terms weighed by how few entries hold them) and how many of the text's word pairs
 * it holds as written (a message quoted in the docs). Stack frames and settings lines are left
 * out. It answers where no signature gives a likely answer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb_query.h"

/* How many of the text's rarest known terms make the query, and how many distinct words of a
 * huge log are looked up at most. */
#define FTS_TERMS 32
#define FTS_MAX_DISTINCT 2000
/* Word pairs of the text (two query terms at most FTS_PAIR_GAP tokens apart on one line) that
 * a section may hold as written, at most this many. */
#define FTS_PAIRS 64
#define FTS_PAIR_GAP 3
/* 2 x ln(20): what two terms each found in one entry of twenty tell (in a KB of fewer than
 * twenty entries, what two terms found in one entry tell). */
#define FTS_MIN_IDF 6.0
/* A word of the text the KB has never seen (a plain word of four letters or more: "kubelet",
 * not an id or a number) is information no section explains: it counts in the text's total as
 * this share of a word found on a single page. A paste about another program is mostly such
 * words, and the few it shares with the docs ("container", "failed") explain little of it. */
#define FTS_UNKNOWN_WORD 0.5
/* A section explains at least a fifth of the text (kb_score) to answer on its own. */
#define FTS_MIN_SCORE 0.2

/* Column weights of entry_fts (title, heading, code, body, examples, signatures): titles, then
 * the section's heading, then code and quoted text, then prose; an entry's own examples and
 * signatures count as code. */
static const double column_weight[] = {4.0, 3.0, 2.0, 1.0, 2.0, 2.0};
#define FTS_COLUMNS (sizeof column_weight / sizeof column_weight[0])
_Static_assert(FTS_COLUMNS == 6, "entry_fts has six columns");
#define FTS_CODE_COLUMN 2
#define FTS_BODY_COLUMN 3
/* BM25's saturation and length normalisation */
#define BM25_K1 1.2
#define BM25_B 0.75

/* Lines of the text that kb_score() weighs apart, at most (later ones count as the last). */
#define FTS_LINES 64
/* A line of the text carries an answer alone once its terms hold this much information (the
 * idf of two terms each in one entry of twenty); a line with less counts in proportion. */
#define FTS_LINE_INFO 6.0

/* What kb_score() needs to know of the query: one per phrase of the MATCH expression, in
 * order, the word pairs, and the lines each stands on. Passed as an SQL pointer value, so no
 * state is shared. */
struct fts_info {
    size_t terms;
    double idf[FTS_TERMS];
    uint64_t line_mask[FTS_TERMS]; /* the lines of the text holding term i */
    double idf_sum;
    size_t unknown; /* plain words of the text the KB does not know (in idf_sum) */
    size_t pairs;
    unsigned char pair_a[FTS_PAIRS], pair_b[FTS_PAIRS], pair_gap[FTS_PAIRS], pair_line[FTS_PAIRS];
    size_t lines;
    double line_idf[FTS_LINES];
    /* the sections scored exactly however little they explain (those of the entries that
     * full text may corroborate), sorted */
    sqlite3_int64 *exact;
    size_t exact_count;
    /* filled by the first call: the index's average column lengths */
    int averages_known;
    double average[6];
    /* the share of the text each row's word pairs explain, noted while ranking (rows with
     * pairs only, at most FTS_PAIR_NOTES; notes_lost when more were or memory ran out), so
     * that the explanation of an answer needs no second search */
    struct pair_note *notes;
    size_t note_count, note_alloc;
    int notes_lost;
    size_t scored; /* rows kb_score() was called for (kb_work.fulltext_rows) */
};

/* Rows whose word pairs are noted for the explanation, at most (a query scores one row per
 * section that holds any of its terms; past this the explanation searches again). */
#define FTS_PAIR_NOTES 4096

struct pair_note {
    sqlite3_int64 rowid;
    double share;
};

/* What a word pair of the text held as written in a section adds: its commoner word's idf
 * (two common words side by side say little more than one). */
static double pair_weight(const struct fts_info *info, size_t a, size_t b)
{
    return info->idf[a] < info->idf[b] ? info->idf[a] : info->idf[b];
}

struct u64s {
    uint64_t *v;
    size_t n, alloc;
};

static int collect_hash(uint64_t hash, void *arg)
{
    struct u64s *a = arg;
    if (kb_grow((void **)&a->v, &a->alloc, a->n + 1, sizeof *a->v))
        return -1;
    a->v[a->n++] = hash;
    return 0;
}

struct term {
    char *text;
    long df;
    size_t first; /* order of appearance, for stable ties */
    size_t pos;   /* token position of its first occurrence */
    int part;     /* a part of a dotted name ("spamhaus" of "zen.spamhaus.org") */
};

static int is_term_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/* Is t[0, len) a name reserved for documentation (RFC 2606: "example", "example.com",
 * "mail.example.org", "host.example"; dots are '_' here)? Docs and pastes alike put them in place
 * of real names, so a page that holds one says nothing about the text that does. */
static int placeholder_name(const char *t, size_t len)
{
    static const char *const tail[] = {"example", "example_com", "example_org", "example_net"};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++) {
        size_t n = strlen(tail[i]);
        if (len >= n && memcmp(t + len - n, tail[i], n) == 0 && (len == n || t[len - n - 1] == '_'))
            return 1;
    }
    return 0;
}

static int useful_term(const char *t, size_t len)
{
    /* English glue, and the boilerplate of stack traces that KB examples share with every
     * other program's traceback */
    static const char *const stop[] = {
        "the",       "and",       "for",    "you",    "your",  "this",         "that",
        "with",      "are",       "was",    "not",    "but",   "have",         "has",
        "from",      "use",       "can",    "please", "more",  "information",  "error",
        "were",      "traceback", "recent", "call",   "last",  "most",         "file",
        "line",      "lib",       "usr",    "local",  "site",  "packages",     "python",
        "module",    "self",      "raise",  "return", "frame", "frames",       "additional",
        "displayed", "java",      "lang",   "org",    "com",   "sun",          "reflect",
        "invoke",    "native",    "method", "thread", "main",  "node_modules", "dist",
        "src",       "app",       "var",    "www",    "html",  "index"};
    if (len < 3 || len > 40)
        return 0;
    size_t digits = 0, alpha = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] >= '0' && t[i] <= '9')
            digits++;
        else if (t[i] != '_')
            alpha++;
    }
    if (digits == len)
        return len == 3 && t[0] >= '2' && t[0] <= '5'; /* reply codes, not numbers */
    if (digits && alpha && len >= 10)
        return 0; /* ids, hashes, queue ids */
    if (placeholder_name(t, len))
        return 0;
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
        if (stop[i][0] == t[0] && strncmp(stop[i], t, len) == 0 && !stop[i][len])
            return 0;
    return 1;
}

static int cmp_term(const void *a, const void *b)
{
    const struct term *x = a, *y = b;
    if (x->df != y->df)
        return x->df < y->df ? -1 : 1;
    return (x->first > y->first) - (x->first < y->first);
}

static void terms_free(struct term *terms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(terms[i].text);
    free(terms);
}

/* Is t[0, len) a plain word (letters only, four or more)? */
static int plain_word(const char *t, size_t len)
{
    size_t letters = 0;
    for (size_t i = 0; i < len; i++)
        letters += t[i] >= 'a' && t[i] <= 'z';
    return len >= 4 && letters == len;
}

/* Adds the term text[0, len) at token position pos when it is new, useful and known to the KB;
 * counts it in *unknown when it is a plain word the KB does not know. */
static enum kb_status add_term(struct kb_query *q, const char *text, size_t len, size_t pos,
                               int part, struct u64s *seen, struct term **terms, size_t *n,
                               size_t *alloc, size_t *unknown)
{
    if (!useful_term(text, len))
        return KB_OK;
    uint64_t h = kb_token_hash(text, len);
    for (size_t k = 0; k < seen->n; k++)
        if (seen->v[k] == h)
            return KB_OK;
    if (collect_hash(h, seen))
        return kb_query_nomem(q);
    sqlite3_stmt *st = kb_db_term_df(q->db, q->err);
    if (!st)
        return KB_ERR_DB;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, text, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    long df = rc == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return kb_fail_sql(q->db, q->err, "cannot read term statistics");
    if (df <= 0) {
        /* words the KB has never seen say nothing about its entries, but they are part of
         * what the text says */
        *unknown += !part && plain_word(text, len);
        return KB_OK;
    }
    if (kb_grow((void **)terms, alloc, *n + 1, sizeof **terms)
        || !((*terms)[*n].text = kb_strndup(text, len)))
        return kb_query_nomem(q);
    (*terms)[*n].df = df;
    (*terms)[*n].first = *n;
    (*terms)[*n].pos = pos;
    (*terms)[*n].part = part;
    (*n)++;
    return KB_OK;
}

/* The distinct useful words of the prepared text that the KB knows, rarest first. A dotted
 * name or an identifier ("zen.spamhaus.org", "ENABLE_SASLAUTHD": one term in the index) also
 * brings its parts: the docs may name the service alone (the index holds the parts of its own
 * identifiers too). orig is the text before preparation (same offsets). *unknown: how many
 * plain words the KB does not know. */
static enum kb_status fts_terms(struct kb_query *q, const char *text, const char *orig, size_t len,
                                struct term **out, size_t *count, size_t *unknown)
{
    struct term *terms = NULL;
    size_t n = 0, alloc = 0, pos = 0;
    struct u64s seen = {0};
    enum kb_status status = KB_OK;
    for (size_t i = 0; i < len && seen.n < FTS_MAX_DISTINCT && status == KB_OK; pos++) {
        while (i < len && !is_term_char((unsigned char)text[i]))
            i++;
        if (i >= len)
            break;
        size_t s = i;
        while (i < len && is_term_char((unsigned char)text[i]))
            i++;
        /* "delay=0.5 status=bounced": the field names of a log line are the same on every
         * line of the program that writes it, not the error; their values stay */
        int field = i < len && orig[i] == '=' && (i + 1 == len || orig[i + 1] != '=');
        for (size_t k = s; k < i && field; k++)
            field = !(orig[k] >= 'A' && orig[k] <= 'Z');
        if (field)
            continue;
        status = add_term(q, text + s, i - s, pos, 0, &seen, &terms, &n, &alloc, unknown);
        int joined = 0;
        for (size_t k = s; k < i && !joined; k++)
            joined = text[k] == '_';
        for (size_t k = s; joined && k <= i && status == KB_OK;) {
            size_t e = k;
            while (e < i && text[e] != '_')
                e++;
            size_t alpha = 0;
            for (size_t m = k; m < e; m++)
                alpha += text[m] >= 'a' && text[m] <= 'z';
            if (alpha == e - k && e > k)
                status = add_term(q, text + k, e - k, pos, 1, &seen, &terms, &n, &alloc, unknown);
            k = e + 1;
        }
    }
    free(seen.v);
    if (status != KB_OK) {
        terms_free(terms, n);
        return status;
    }
    if (n)
        qsort(terms, n, sizeof *terms, cmp_term);
    *out = terms;
    *count = n;
    return KB_OK;
}

/* The layout of the used terms (terms[0, used)) in the text: the lines each stands on (lines
 * without any used term are not counted), and the word pairs, two used terms standing at most
 * FTS_PAIR_GAP tokens apart on one line, in the order of the text. */
static void fts_layout(const char *text, size_t len, const struct term *terms, size_t used,
                       struct fts_info *info)
{
    uint64_t hash[FTS_TERMS];
    for (size_t t = 0; t < used; t++)
        hash[t] = terms[t].part ? 0 : kb_token_hash(terms[t].text, strlen(terms[t].text));
    size_t prev_term = used, prev_pos = 0, pos = 0, line = 0;
    int line_used = 0;
    for (size_t i = 0; i < len; pos++) {
        while (i < len && !is_term_char((unsigned char)text[i])) {
            if (text[i] == '\n') {
                prev_term = used; /* pairs stay within a line */
                if (line_used && line + 1 < FTS_LINES)
                    line++;
                line_used = 0;
            }
            i++;
        }
        if (i >= len)
            break;
        size_t s = i;
        while (i < len && is_term_char((unsigned char)text[i]))
            i++;
        uint64_t h = kb_token_hash(text + s, i - s);
        size_t t = 0;
        while (t < used
               && !(hash[t] == h && strlen(terms[t].text) == i - s
                    && memcmp(terms[t].text, text + s, i - s) == 0))
            t++;
        if (t == used)
            continue;
        info->line_mask[t] |= (uint64_t)1 << line;
        line_used = 1;
        if (line + 1 > info->lines)
            info->lines = line + 1;
        if (prev_term < used && prev_term != t && pos - prev_pos <= FTS_PAIR_GAP) {
            size_t k = 0;
            while (k < info->pairs
                   && !(info->pair_a[k] == prev_term && info->pair_b[k] == t
                        && info->pair_line[k] == line))
                k++;
            if (k == info->pairs && info->pairs < FTS_PAIRS) {
                info->pair_a[k] = (unsigned char)prev_term;
                info->pair_b[k] = (unsigned char)t;
                info->pair_gap[k] = (unsigned char)(pos - prev_pos);
                info->pair_line[k] = (unsigned char)line;
                info->pairs++;
            }
        }
        prev_term = t;
        prev_pos = pos;
    }
    for (size_t t = 0; t < used; t++)
        for (size_t l = 0; l < info->lines; l++)
            if (info->line_mask[t] & ((uint64_t)1 << l))
                info->line_idf[l] += info->idf[t];
}

/* Is this line a stack frame ("at Foo.bar(Foo.java:12)", 'File "x.py", line 3', "#2 /x.php")?
 * Frames name the program's own code: they match nothing in the KB but the frames of other
 * examples, so they are kept out of full-text queries. */
static int is_stack_frame(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    if (n >= 3 && memcmp(s, "at ", 3) == 0)
        return memchr(s, '(', n) != NULL || memchr(s, '/', n) != NULL || memchr(s, '\\', n) != NULL;
    if (n >= 6 && memcmp(s, "File \"", 6) == 0)
        return 1;
    /* "#3 /var/www/x.php(12): f()", "#4 {main}", "#5 [internal function]": a number, one
     * space, then a path or a placeholder; not a log line's "#370(worker) ..." */
    if (n >= 2 && s[0] == '#' && s[1] >= '0' && s[1] <= '9') {
        size_t i = 1;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        return (i + 1 < n && s[i] == ' ' && strchr("/\\{[.", s[i + 1]) != NULL)
               || (i + 2 < n && s[i] == ' ' && s[i + 2] == ':');
    }
    if (n >= 9 && memcmp(s, "Traceback", 9) == 0)
        return 1;
    return n >= 4 && memcmp(s, "... ", 4) == 0 && n < 24;
}

/* Is this line a setting ("MAIL_HOST=smtp.example.com", an .env or shell assignment)?
 * Pasted configuration says what was set up, not what went wrong. */
static int is_setting(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
        i++;
    return i >= 2 && i < n && s[i] == '=' && s[0] >= 'A' && s[0] <= 'Z';
}

/* The informational log levels, as loggers print them in full or in three letters. */
static const char *const info_levels[] = {"info",  "inf", "debug",  "dbg",
                                          "trace", "trc", "notice", "verbose"};

/* Is w[0, n) (any case) one of info_levels? */
static int info_level_word(const char *w, size_t n)
{
    for (size_t k = 0; k < sizeof info_levels / sizeof info_levels[0]; k++)
        if (strlen(info_levels[k]) == n && strncasecmp(w, info_levels[k], n) == 0)
            return 1;
    return 0;
}

/* Does the original line s[0, n) carry an informational level in its log prefix ("[   INF   ]",
 * "INFO ", "[debug]", "level=info", "I1207" is not one)? Only the first words are looked at:
 * a level stands before the message. Bare levels count in upper case only ("Info: ..." may
 * be the message itself). */
static int informational_line(const char *s, size_t n)
{
    size_t limit = n < 80 ? n : 80;
    for (size_t i = 0, words = 0; i < limit && words < 6; words++) {
        while (i < limit && (s[i] == ' ' || s[i] == '\t' || s[i] == '|'))
            i++;
        size_t start = i;
        while (i < limit && s[i] != ' ' && s[i] != '\t')
            i++;
        const char *w = s + start;
        size_t len = i - start;
        if (len > 6 && strncasecmp(w, "level=", 6) == 0)
            return info_level_word(w + 6, len - 6);
        if (len >= 2 && w[0] == '[') {
            /* "[INFO]", "[debug]", or "[" alone before a padded "   INF   ]" */
            const char *inner = w + 1;
            size_t m = len - 1;
            if (m && inner[m - 1] == ']')
                m--;
            if (info_level_word(inner, m))
                return 1;
            continue;
        }
        if (len == 1 && w[0] == '[') {
            while (i < limit && s[i] == ' ')
                i++;
            size_t at = i;
            while (i < limit && s[i] != ' ' && s[i] != ']')
                i++;
            if (info_level_word(s + at, i - at))
                return 1;
            continue;
        }
        if (len && w[len - 1] == ':')
            len--;
        int upper = len > 0;
        for (size_t k = 0; k < len && upper; k++)
            upper = w[k] >= 'A' && w[k] <= 'Z';
        if (upper && info_level_word(w, len))
            return 1;
    }
    return 0;
}

/* Blanks the lines of the prepared copy of the normalised text (same offsets) that are not
 * error text: stack frames and settings; and, when the text has lines that are not, the lines
 * a logger marked as only informational ("[   INF   ]  Welcome to ..."), which tell what the
 * program was doing, not what went wrong. */
static void blank_non_error_lines(const struct kb_norm *norm, char *prepared)
{
    int other = 0;
    for (size_t i = 0; i < norm->line_count && !other; i++) {
        size_t line = norm->orig_line[i];
        if (line < 1 || line > norm->orig_line_count)
            continue;
        size_t os = norm->orig_start[line - 1], oe = norm->orig_start[line];
        other = !informational_line(norm->input + os, oe - os);
    }
    for (size_t i = 0; i < norm->line_count; i++) {
        size_t s = norm->line_start[i];
        size_t e = i + 1 < norm->line_count ? norm->line_start[i + 1] - 1 : norm->len;
        size_t line = norm->orig_line[i];
        int info = other && line >= 1 && line <= norm->orig_line_count
                   && informational_line(norm->input + norm->orig_start[line - 1],
                                         norm->orig_start[line] - norm->orig_start[line - 1]);
        if (info || is_stack_frame(norm->text + s, e - s) || is_setting(norm->text + s, e - s))
            memset(prepared + s, ' ', e - s);
    }
}

/* The first normalised line holding term as a whole word of the prepared text. */
static int line_with_term(const char *text, size_t len, const char *term, size_t *off)
{
    size_t tl = strlen(term);
    for (const char *p = text; (size_t)(p - text) + tl <= len;) {
        const char *hit = strstr(p, term);
        if (!hit)
            return 0;
        size_t at = (size_t)(hit - text);
        if ((at == 0 || !is_term_char((unsigned char)text[at - 1]))
            && (at + tl == len || !is_term_char((unsigned char)text[at + tl]))) {
            *off = at;
            return 1;
        }
        p = hit + 1;
    }
    return 0;
}

/* Is a full-text result worth reporting on its own? It needs several of the rarest words of
 * the text to agree, and specific ones among them: common words ("failed", "send", "because")
 * shared with many entries say nothing about which one applies, and one rare word alone
 * ("chain" from a stack trace) is a coincidence unless a larger set agrees with it. In a KB
 * whose signatures describe the errors (a mail KB), text that no signature knows is rarely
 * about any of its entries: measured on 405 real pastes, the looser rule answered 1 correctly
 * and 4 wrongly (3 of them on other programs' errors), so there the bar is higher. */
/* A specific term: in at most 5% of the entries (at least one, of course). */
static long specific_df(const struct kb_db *db)
{
    return db->entry_count / 20 > 1 ? db->entry_count / 20 : 1;
}

/* In a KB of ordinary documents the bar is information, not a count: the matched terms'
 * inverse document frequencies must add up to that of two terms each on one page in twenty
 * (that holds for a KB of fifty pages as for one of seven thousand). */
static double idf_bar(const struct kb_db *db)
{
    double entries = db->entry_count > 1 ? (double)db->entry_count : 2.0;
    return 2 * log(entries) < FTS_MIN_IDF ? 2 * log(entries) : FTS_MIN_IDF;
}

static int fulltext_evidence_enough(const struct kb_db *db, size_t matched, size_t specific,
                                    double coverage, double idf, double score, double min_score)
{
    if (db->fulltext_needs_mail)
        return specific >= 3 && coverage >= 0.6;
    /* and the section must explain a fair share of the text */
    return matched >= 2 && coverage >= 0.3 && idf >= idf_bar(db) && score >= min_score;
}

/* FTS5 auxiliary function kb_matched(entry_fts): a bit mask of the query's phrases that occur
 * in the current row (phrase i -> bit i, up to 64 phrases). It gives each result's coverage in
 * the same pass as the ranking, instead of one more query per term and result. */
static void fts_matched_phrases(const Fts5ExtensionApi *api, Fts5Context *ctx, sqlite3_context *out,
                                int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_int64 mask = 0;
    int phrases = api->xPhraseCount(ctx);
    for (int i = 0; i < phrases && i < 63; i++) {
        Fts5PhraseIter iter;
        int column = -1, offset = -1;
        if (api->xPhraseFirst(ctx, i, &iter, &column, &offset) == SQLITE_OK && column >= 0)
            mask |= (sqlite3_int64)1 << i;
    }
    sqlite3_result_int64(out, mask);
}

struct inst {
    int phrase, column, offset;
};

static int cmp_inst(const void *a, const void *b)
{
    const struct inst *x = a, *y = b;
    if (x->column != y->column)
        return x->column - y->column;
    return x->offset - y->offset;
}

/* Instances looked at for word pairs, per row (a long section holds its query words many
 * times; the first ones are enough to tell whether a pair stands together). */
#define FTS_PAIR_INSTANCES 512

/* A row that could not explain this share of the text even if its code and prose were empty
 * (the most that length normalisation can give) cannot answer alone (FTS_MIN_SCORE / 2 at the
 * least): it scores 0 without its lengths being read, unless its entry is one full text may
 * corroborate, and so comes last among the FTS_ROWS best (the terms it holds count for its
 * entry only when fewer rows explain more). In a large KB most rows matched hold one common
 * word of the text, and reading a row's lengths costs more than the rest of its score: on the
 * tldr KB this saves a sixth of a lookup's instructions. */
#define FTS_BOUND_ONLY (FTS_MIN_SCORE / 2)

static int cmp_rowid(const void *a, const void *b)
{
    const sqlite3_int64 *x = a, *y = b;
    return (*x > *y) - (*x < *y);
}

static int scored_exactly(const struct fts_info *info, sqlite3_int64 rowid)
{
    return info->exact_count
           && bsearch(&rowid, info->exact, info->exact_count, sizeof rowid, cmp_rowid) != NULL;
}

/* The index of the lowest bit set in m (m != 0). */
static unsigned lowest_bit(uint64_t m)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll(m);
#else
    unsigned i = 0;
    while (!(m & 1)) {
        m >>= 1;
        i++;
    }
    return i;
#endif
}

/* kb_score() of a row from its term frequencies per column (tf), the columns' length
 * normalisation (norm) and the weight of its word pairs found (pairs, and per line of the
 * text, line_pair). *terms_out gets the terms' share alone. */
static double row_score(const struct fts_info *info, double tf[][FTS_COLUMNS], const double *norm,
                        double pairs, const double *line_pair, double *terms_out)
{
    double terms = 0, cov[FTS_LINES] = {0}, factor[FTS_COLUMNS];
    for (size_t c = 0; c < FTS_COLUMNS; c++)
        factor[c] = column_weight[c] / norm[c];
    for (size_t i = 0; i < info->terms; i++) {
        double weighted = 0;
        for (size_t c = 0; c < FTS_COLUMNS; c++)
            weighted += factor[c] * tf[i][c];
        if (weighted <= 0)
            continue;
        double explained = info->idf[i] * weighted / (weighted + BM25_K1);
        terms += explained;
        /* what it explains of each line it stands on */
        for (uint64_t m = info->lines > 1 ? info->line_mask[i] : 0; m; m &= m - 1)
            cov[lowest_bit(m)] += explained;
    }
    terms /= info->idf_sum;
    *terms_out = terms;
    /* The whole text, and its best line: a paste of several lines often holds one error
     * line among others, and the section about that error explains that line. */
    double score = terms + pairs / info->idf_sum;
    if (score > 1)
        score = 1;
    double best_line = 0;
    for (size_t l = 0; l < info->lines && info->lines > 1; l++) {
        if (info->line_idf[l] <= 0)
            continue;
        double line = (cov[l] + line_pair[l]) / info->line_idf[l];
        if (line > 1)
            line = 1;
        double weight = info->line_idf[l] < FTS_LINE_INFO ? info->line_idf[l] / FTS_LINE_INFO : 1;
        if (line * weight > best_line)
            best_line = line * weight;
    }
    if (best_line > score)
        score = (score + best_line) / 2;
    return score;
}

/* FTS5 auxiliary function kb_score(entry_fts, info, part): how much of the query the current
 * row explains, from 0 to 1. Terms: BM25F (each term's occurrences weighed by column and
 * normalised by the column's length against its average, saturated), each term counting by
 * its idf, as a share of all the query's terms. Pairs: the share (by idf) of the query's word
 * pairs that stand together in the row as in the text, one more word between them allowed.
 * part 1 gives the pairs' share alone, part 2 the terms' share alone (both exact). */
static void fts_score(const Fts5ExtensionApi *api, Fts5Context *ctx, sqlite3_context *out, int argc,
                      sqlite3_value **argv)
{
    struct fts_info *info = argc >= 1 ? sqlite3_value_pointer(argv[0], "kb_fts_info") : NULL;
    int part = argc >= 2 ? sqlite3_value_int(argv[1]) : 0;
    if (info)
        info->scored++;
    if (!info || !info->terms || info->idf_sum <= 0) {
        sqlite3_result_double(out, 0);
        return;
    }
    double tf[FTS_TERMS][FTS_COLUMNS];
    memset(tf, 0, sizeof tf);
    struct inst insts[FTS_PAIR_INSTANCES];
    size_t ninst = 0;
    int count = 0;
    if (api->xInstCount(ctx, &count) != SQLITE_OK)
        count = 0;
    for (int i = 0; i < count; i++) {
        int phrase, column, offset;
        if (api->xInst(ctx, i, &phrase, &column, &offset) != SQLITE_OK)
            break;
        if (phrase < 0 || (size_t)phrase >= info->terms || column < 0
            || (size_t)column >= FTS_COLUMNS)
            continue;
        tf[phrase][column] += 1;
        if (ninst < FTS_PAIR_INSTANCES)
            insts[ninst++] = (struct inst){phrase, column, offset};
    }
    double pairs = 0, line_pair[FTS_LINES] = {0};
    if (info->pairs && ninst > 1) {
        unsigned char found[FTS_PAIRS] = {0};
        qsort(insts, ninst, sizeof *insts, cmp_inst);
        for (size_t i = 0; i < ninst; i++)
            for (size_t j = i + 1; j < ninst && insts[j].column == insts[i].column
                                   && insts[j].offset - insts[i].offset <= FTS_PAIR_GAP + 1;
                 j++)
                for (size_t k = 0; k < info->pairs; k++)
                    if (!found[k] && info->pair_a[k] == insts[i].phrase
                        && info->pair_b[k] == insts[j].phrase
                        && insts[j].offset - insts[i].offset <= info->pair_gap[k] + 1) {
                        double w = pair_weight(info, info->pair_a[k], info->pair_b[k]);
                        found[k] = 1;
                        pairs += w;
                        line_pair[info->pair_line[k]] += w;
                    }
    }
    if (part == 1) {
        sqlite3_result_double(out, pairs / info->idf_sum);
        return;
    }
    if (part == 0 && pairs > 0 && !info->notes_lost) {
        if (info->note_count < FTS_PAIR_NOTES
            && !kb_grow((void **)&info->notes, &info->note_alloc, info->note_count + 1,
                        sizeof *info->notes))
            info->notes[info->note_count++] =
                (struct pair_note){api->xRowid(ctx), pairs / info->idf_sum};
        else
            info->notes_lost = 1;
    }
    /* Length normalisation for the long columns only, code and prose: titles and headings are
     * short alike. Reading a row's lengths costs more than all the rest, so a row is first
     * scored as if both were empty. */
    double norm[FTS_COLUMNS] = {1, 1, 1, 1, 1, 1}, terms = 0;
    for (size_t c = FTS_CODE_COLUMN; c <= FTS_BODY_COLUMN; c++)
        norm[c] = 1 - BM25_B;
    double score = row_score(info, tf, norm, pairs, line_pair, &terms);
    if (part == 0 && score < FTS_BOUND_ONLY && !scored_exactly(info, api->xRowid(ctx))) {
        sqlite3_result_double(out, 0);
        return;
    }
    /* A row whose code and prose hold none of the terms (a title or heading that names them)
     * scores the same whatever their lengths: they are not read. */
    int long_used = 0;
    for (size_t i = 0; i < info->terms && !long_used; i++)
        for (size_t c = FTS_CODE_COLUMN; c <= FTS_BODY_COLUMN; c++)
            long_used |= tf[i][c] > 0;
    if (!long_used) {
        sqlite3_result_double(out, part == 2 ? terms : score);
        return;
    }
    if (!info->averages_known) {
        sqlite3_int64 rows = 0;
        if (api->xRowCount(ctx, &rows) != SQLITE_OK || rows < 1)
            rows = 1;
        for (size_t c = 0; c < FTS_COLUMNS; c++) {
            sqlite3_int64 total = 0;
            api->xColumnTotalSize(ctx, (int)c, &total);
            info->average[c] = (double)total / (double)rows;
        }
        info->averages_known = 1;
    }
    for (size_t c = FTS_CODE_COLUMN; c <= FTS_BODY_COLUMN; c++) {
        int size = 0;
        api->xColumnSize(ctx, (int)c, &size);
        norm[c] = info->average[c] > 0 ? 1 - BM25_B + BM25_B * (double)size / info->average[c] : 1;
    }
    score = row_score(info, tf, norm, pairs, line_pair, &terms);
    sqlite3_result_double(out, part == 2 ? terms : score);
}

/* Registers kb_matched and kb_score on the connection once. */
static enum kb_status register_fts_function(struct kb_db *db, struct kb_error *err)
{
    if (db->fts_function_ready)
        return KB_OK;
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (!api || api->iVersion < 2
        || api->xCreateFunction(api, "kb_matched", NULL, fts_matched_phrases, NULL) != SQLITE_OK
        || api->xCreateFunction(api, "kb_score", NULL, fts_score, NULL) != SQLITE_OK)
        return kb_fail(err, KB_ERR_DB, "this SQLite has no usable FTS5 module");
    db->fts_function_ready = 1;
    return KB_OK;
}

/* The full-text rows (sections) of one entry, merged: which query terms any of them holds,
 * and its best-scored section. */
struct entry_rows {
    long long entry;
    long long section;
    double score;
    sqlite3_uint64 mask;
    double link; /* the best score of a section of another entry that links to this one */
};

static int cached_statement(struct kb_db *db, sqlite3_stmt **slot, const char *sql);

int kb_fulltext_knows(struct kb_query *q, const char *text)
{
    size_t i = 0, n = 0;
    while (text[i] && !is_term_char((unsigned char)(text[i] | 0x20)))
        i++;
    char word[41];
    while (text[i + n] && n < sizeof word - 1 && is_term_char((unsigned char)(text[i + n] | 0x20)))
        word[n] = (char)(text[i + n] | 0x20), n++;
    word[n] = '\0';
    if (n < 2)
        return 0;
    /* A cue that is a program's name alone ("psql", "docker"), not a protocol's token or a
     * phrase ("HTTP/1.1", "status code 403", "port 443") */
    int named = 1;
    for (size_t k = i + n; text[k] && named; k++)
        named = !strchr("/ .:0123456789", text[k]);
    /* The KB is about it when a title or a heading names it, or, for a program's name, one
     * page in ten: docs that mention a proxy or "http" in passing are not about their
     * errors. */
    sqlite3_stmt *st = kb_db_term_df(q->db, NULL);
    if (!st)
        return 0;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, word, (int)n, SQLITE_STATIC);
    long df = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (df <= 0)
        return 0;
    if (named && df * 10 >= q->db->entry_count)
        return 1;
    char match[64];
    snprintf(match, sizeof match, "{title heading} : \"%s\"", word);
    if (register_fts_function(q->db, q->err) != KB_OK
        || !cached_statement(q->db, &q->db->fts_title,
                             "SELECT 1 FROM entry_fts WHERE entry_fts MATCH ?1 LIMIT 1"))
        return 0;
    st = q->db->fts_title;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_TRANSIENT);
    int titled = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return titled;
}

/* Harvested evidence that full text may corroborate: an entry known only from its prose, by
 * more than the faint tie-breaking hints an entry with signatures of its own carries. */
#define CORROBORATE_MIN 0.3

static int corroborated(const struct kb_candidate *c)
{
    return c->written == 0 && c->harvested >= CORROBORATE_MIN;
}

/* The statement *slot of the database, prepared (persistent) when first needed; it stays
 * with the database and is reset before use. */
static int cached_statement(struct kb_db *db, sqlite3_stmt **slot, const char *sql)
{
    if (!*slot
        && sqlite3_prepare_v3(db->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK)
        return 0;
    sqlite3_reset(*slot);
    sqlite3_clear_bindings(*slot);
    return 1;
}

/* Sections looked at, the best first: enough for the entries any answer can come from. */
#define FTS_ROWS 128

/* Could a row of the full-text query add anything to the answer, whatever it held? A row
 * counts for an entry full text corroborates (the first pass of kb_fulltext_run), or must pass
 * fulltext_evidence_enough (the second): in a mail KB three specific terms among those it
 * holds, in another KB at least two terms whose information reaches the bar. So when no
 * candidate is one full text corroborates and even a row holding every used term could not
 * pass, no row can: the query is not run. At 200,000 signatures the 2 KB paste's terms were
 * two specific ones and a word in 8% of the entries, and the query scored 3,437 sections to no
 * effect, 45% of that lookup. */
static int fulltext_could_answer(const struct kb_query *q, const struct term *terms,
                                 const struct fts_info *info)
{
    for (size_t i = 0; i < q->cand_count; i++)
        if (corroborated(&q->cands[i]))
            return 1;
    if (q->db->fulltext_needs_mail) {
        size_t specific = 0;
        for (size_t i = 0; i < info->terms; i++)
            specific += terms[i].df <= specific_df(q->db);
        return fulltext_evidence_enough(q->db, info->terms, specific, 1.0, 0, 0, 0);
    }
    /* the same sum apply_rows makes, over all the terms: no row's can be larger */
    double idf = 0;
    for (size_t i = 0; i < info->terms; i++)
        idf += info->idf[i];
    return info->terms >= 2 && idf >= idf_bar(q->db);
}

/* Runs the full-text query and merges its best FTS_ROWS sections per entry (best entry
 * first, each by its best section, with the terms any of its sections holds). */
static enum kb_status search_sections(struct kb_query *q, const char *query,
                                      const struct fts_info *info, struct entry_rows **out,
                                      size_t *count)
{
    static const char sql[] = "SELECT rowid, kb_score(entry_fts, ?2, 0) AS r, "
                              "kb_matched(entry_fts) FROM entry_fts WHERE entry_fts MATCH ?1 "
                              "ORDER BY r DESC LIMIT ?3";
    struct entry_rows *rows = NULL;
    size_t n = 0, alloc = 0;
    if (!cached_statement(q->db, &q->db->fts_search, sql)
        || !cached_statement(q->db, &q->db->fts_entry_of,
                             "SELECT entry_id FROM section WHERE id = ?1"))
        return kb_fail_sql(q->db, q->err, "cannot search the full-text index");
    sqlite3_stmt *search = q->db->fts_search, *entry_of = q->db->fts_entry_of;
    sqlite3_bind_text(search, 1, query, -1, SQLITE_STATIC);
    sqlite3_bind_pointer(search, 2, (void *)info, "kb_fts_info", NULL);
    sqlite3_bind_int(search, 3, FTS_ROWS);
    enum kb_status status = KB_OK;
    int rc;
    while ((rc = sqlite3_step(search)) == SQLITE_ROW) {
        long long section = sqlite3_column_int64(search, 0);
        sqlite3_uint64 mask = (sqlite3_uint64)sqlite3_column_int64(search, 2);
        sqlite3_reset(entry_of);
        sqlite3_bind_int64(entry_of, 1, section);
        if (sqlite3_step(entry_of) != SQLITE_ROW)
            continue;
        long long entry = sqlite3_column_int64(entry_of, 0);
        size_t i = 0;
        while (i < n && rows[i].entry != entry)
            i++;
        if (i < n) {
            rows[i].mask |= mask;
            continue;
        }
        if (kb_grow((void **)&rows, &alloc, n + 1, sizeof *rows)) {
            status = kb_query_nomem(q);
            break;
        }
        rows[n++] = (struct entry_rows){entry, section, sqlite3_column_double(search, 1), mask, 0};
    }
    if (status == KB_OK && rc != SQLITE_DONE)
        status = kb_fail_sql(q->db, q->err, "cannot search the full-text index");
    sqlite3_reset(search);
    sqlite3_reset(entry_of);
    if (status != KB_OK) {
        free(rows);
        return status;
    }
    *out = rows;
    *count = n;
    return KB_OK;
}

static int cmp_rows(const void *a, const void *b)
{
    const struct entry_rows *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->entry > y->entry) - (x->entry < y->entry);
}

/* Credits the entries that the best sections link to: a section of a reference page that
 * says "see Fix error 5.6.11" explains the text for that page too. A linked entry's score
 * becomes 1 - (1 - its own)(1 - the linking section's): either may tell. Entries not among
 * the rows are added (with the linking row's terms) unless only_known. */
static enum kb_status link_credit(struct kb_query *q, struct entry_rows **rows, size_t *nrows,
                                  int only_known)
{
    if (!cached_statement(q->db, &q->db->fts_links,
                          "SELECT entry_id FROM section_link WHERE section_id = ?1"))
        return kb_fail_sql(q->db, q->err, "cannot read the links between sections");
    sqlite3_stmt *st = q->db->fts_links;
    enum kb_status status = KB_OK;
    size_t n = *nrows, alloc = *nrows;
    for (size_t r = 0; r < *nrows && status == KB_OK; r++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (*rows)[r].section);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            long long target = sqlite3_column_int64(st, 0);
            struct entry_rows from = (*rows)[r];
            size_t t = 0;
            while (t < n && (*rows)[t].entry != target)
                t++;
            if (t == n) {
                if (only_known)
                    continue;
                if (kb_grow((void **)rows, &alloc, n + 1, sizeof **rows)) {
                    status = kb_query_nomem(q);
                    break;
                }
                (*rows)[n++] = (struct entry_rows){target, 0, 0, from.mask, 0};
            }
            /* the row's terms count for the page it points to */
            (*rows)[t].mask |= from.mask;
            if (from.score > (*rows)[t].link)
                (*rows)[t].link = from.score;
        }
        if (status == KB_OK && rc != SQLITE_DONE)
            status = kb_fail_sql(q->db, q->err, "cannot read the links between sections");
    }
    sqlite3_reset(st);
    for (size_t r = 0; r < n; r++)
        (*rows)[r].score = 1 - (1 - (*rows)[r].score) * (1 - (*rows)[r].link);
    *nrows = n;
    return status;
}

/* Adds the full-text evidence of the merged rows to the candidates. corroborate: the rows are
 * of entries already found by harvested evidence, which any agreeing term supports; otherwise
 * a row must pass fulltext_evidence_enough to make a candidate of its own. */
static enum kb_status apply_rows(struct kb_query *q, const struct entry_rows *rows, size_t nrows,
                                 const struct term *terms, struct fts_info *info, const char *query,
                                 const struct kb_buf *prepared, int corroborate)
{
    sqlite3_stmt *pairs = NULL;
    long specific = specific_df(q->db);
    size_t used = info->terms;
    enum kb_status status = KB_OK;
    /* where each term is in the text, found once (SIZE_MAX: not yet, SIZE_MAX - 1: nowhere):
     * a term that is only ever part of longer words made each row read the whole text */
    size_t where[FTS_TERMS];
    for (size_t i = 0; i < FTS_TERMS; i++)
        where[i] = SIZE_MAX;
    /* once the best entry has an answer (rows come best first), the others are shown from
     * half its bar */
    int answered = 0;
    int explain = !q->db->no_explain;
    for (size_t r = 0; r < nrows && status == KB_OK; r++) {
        size_t matched = 0, specific_matched = 0;
        double idf = 0;
        struct kb_buf which;
        kb_buf_init(&which, 0);
        size_t lines[3];
        size_t nlines = 0;
        for (size_t i = 0; i < used; i++) {
            if (rows[r].mask & ((sqlite3_uint64)1 << i)) {
                matched++;
                specific_matched += terms[i].df <= specific;
                idf += info->idf[i];
                if (explain)
                    kb_buf_printf(&which, "%s%s", which.len ? " " : "", terms[i].text);
                if (nlines < 3 && i < FTS_TERMS && where[i] == SIZE_MAX
                    && !line_with_term(prepared->data, prepared->len, terms[i].text, &where[i]))
                    where[i] = SIZE_MAX - 1;
                if (nlines < 3 && i < FTS_TERMS && where[i] != SIZE_MAX - 1)
                    lines[nlines++] = kb_norm_line_of(&q->norm, where[i]);
            }
        }
        double coverage = (double)matched / (double)used;
        struct kb_candidate *c = NULL;
        if ((corroborate ? matched > 0
                         : fulltext_evidence_enough(q->db, matched, specific_matched, coverage, idf,
                                                    rows[r].score,
                                                    answered ? FTS_MIN_SCORE / 2 : FTS_MIN_SCORE))
            && !(c = kb_candidate_for(q, rows[r].entry, KB_VIA_FULLTEXT)))
            status = kb_query_nomem(q);
        answered |= c != NULL;
        /* an entry that written signatures found keeps their score; full text adds to
         * entries known only from their prose */
        if (c && c->written == 0 && !c->fts_scored) {
            c->fts_scored = 1;
            c->bm25 = -rows[r].score;
            c->fulltext = FTS_POINTS * rows[r].score;
            c->score += c->fulltext;
            if (!c->section_id)
                c->section_id = rows[r].section;
            /* for the explanation: how much of that comes from word pairs as written, as
             * the ranking noted it (searched again only when the notes overflowed) */
            double pair_share = 0;
            int noted = !explain || !info->notes_lost;
            for (size_t k = 0; k < info->note_count; k++)
                if (info->notes[k].rowid == rows[r].section) {
                    pair_share = info->notes[k].share;
                    noted = 1;
                    break;
                }
            if (rows[r].section && !noted && !pairs
                && !(pairs = cached_statement(q->db, &q->db->fts_pairs,
                                              "SELECT kb_score(entry_fts, ?3, 1) FROM entry_fts "
                                              "WHERE entry_fts MATCH ?1 AND rowid = ?2")
                                 ? q->db->fts_pairs
                                 : NULL)) {
                status = kb_fail_sql(q->db, q->err, "cannot search the full-text index");
                kb_buf_release(&which);
                break;
            }
            if (rows[r].section && !noted) {
                sqlite3_reset(pairs);
                sqlite3_bind_text(pairs, 1, query, -1, SQLITE_STATIC);
                sqlite3_bind_int64(pairs, 2, rows[r].section);
                sqlite3_bind_pointer(pairs, 3, info, "kb_fts_info", NULL);
                if (sqlite3_step(pairs) == SQLITE_ROW)
                    pair_share = sqlite3_column_double(pairs, 0);
            }
            if (explain)
                c->fts_explain = kb_format(
                    "full-text: %zu of %zu rarest known terms matched (%s); information %.1f of "
                    "%.1f (%zu words unknown to the KB count in it); its best section explains "
                    "%.2f of the text (word pairs as written %.2f)%s",
                    matched, used, which.data ? which.data : "", idf, info->idf_sum, info->unknown,
                    rows[r].score, pair_share,
                    rows[r].link > 0 ? "; a table row linking here counts too" : "");
            for (size_t k = 0; k < nlines; k++)
                if (!kb_grow((void **)&c->lines, &c->line_alloc, c->line_count + 1,
                             sizeof *c->lines))
                    c->lines[c->line_count++] = lines[k];
        }
        kb_buf_release(&which);
    }
    if (pairs)
        sqlite3_reset(pairs);
    return status;
}

/* Harvested evidence found on a settings line of the text ("MAIL_USERNAME=null") tells how
 * the program was set up, not what went wrong: it is taken back, as full text leaves such
 * lines out. */
static void discount_setting_hits(struct kb_query *q)
{
    for (size_t i = 0; i < q->cand_count; i++) {
        struct kb_candidate *c = &q->cands[i];
        size_t kept = 0;
        for (size_t k = 0; k < c->hit_count; k++) {
            struct kb_hit *h = &c->hits[k];
            /* a condition's hit is on no line (SIZE_MAX), and only harvested hits are at issue */
            int setting = 0;
            if (h->harvested && h->line < q->norm.line_count) {
                size_t s = q->norm.line_start[h->line];
                size_t e = h->line + 1 < q->norm.line_count ? q->norm.line_start[h->line + 1] - 1
                                                            : q->norm.len;
                setting = is_setting(q->norm.text + s, e - s);
            }
            if (setting) {
                c->harvested -= h->weight;
                c->score -= h->weight;
                free(h->source);
                free(h->explain);
                continue;
            }
            c->hits[kept++] = *h;
        }
        c->hit_count = kept;
        if (c->harvested < 1e-9)
            c->harvested = 0;
    }
}

/* The sections of the entries full text may corroborate (found by harvested evidence): any
 * row of theirs counts, so kb_score() scores them exactly however little they explain. */
static enum kb_status exact_sections(struct kb_query *q, struct fts_info *info)
{
    if (!cached_statement(q->db, &q->db->fts_sections,
                          "SELECT id FROM section WHERE entry_id = ?1"))
        return kb_fail_sql(q->db, q->err, "cannot read an entry's sections");
    sqlite3_stmt *st = q->db->fts_sections;
    size_t alloc = 0;
    enum kb_status status = KB_OK;
    for (size_t i = 0; i < q->cand_count && status == KB_OK; i++) {
        if (!corroborated(&q->cands[i]))
            continue;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, q->cands[i].rowid);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (kb_grow((void **)&info->exact, &alloc, info->exact_count + 1,
                        sizeof *info->exact)) {
                status = kb_query_nomem(q);
                break;
            }
            info->exact[info->exact_count++] = sqlite3_column_int64(st, 0);
        }
        if (status == KB_OK && rc != SQLITE_DONE)
            status = kb_fail_sql(q->db, q->err, "cannot read an entry's sections");
    }
    sqlite3_reset(st);
    if (status == KB_OK && info->exact_count)
        qsort(info->exact, info->exact_count, sizeof *info->exact, cmp_rowid);
    return status;
}

enum kb_status kb_fulltext_run(struct kb_query *q, size_t want)
{
    struct kb_buf prepared, query;
    kb_buf_init(&prepared, 0);
    kb_buf_init(&query, 0);
    struct term *terms = NULL;
    struct entry_rows *rows = NULL;
    struct fts_info info;
    memset(&info, 0, sizeof info);
    size_t nterms = 0, nrows = 0, unknown = 0;
    discount_setting_hits(q);
    enum kb_status status = kb_fts_prepare(q->evidence_text, q->norm.len, &prepared);
    if (status != KB_OK)
        goto done;
    for (size_t i = 0; i < prepared.len; i++)
        if (prepared.data[i] >= 'A' && prepared.data[i] <= 'Z')
            prepared.data[i] = (char)(prepared.data[i] + 32);
    blank_non_error_lines(&q->norm, prepared.data);
    if ((status =
             fts_terms(q, prepared.data, q->evidence_text, prepared.len, &terms, &nterms, &unknown))
        != KB_OK)
        goto done;
    /* Specific: in at most 5% of the entries (at least one, of course). Common: in more than
     * 10% (and 50) of them; such a term adds little and makes the query score thousands of
     * rows of a large KB, so it is left out of the query. */
    long common_df = q->db->entry_count / 10 > 50 ? q->db->entry_count / 10 : 50;
    size_t used = 0;
    while (used < nterms && used < FTS_TERMS && terms[used].df <= common_df)
        used++;
    if (used < 2)
        goto done; /* one shared word is not evidence */
    if ((status = register_fts_function(q->db, q->err)) != KB_OK)
        goto done;
    double entries = q->db->entry_count > 0 ? (double)q->db->entry_count : 1.0;
    info.terms = used;
    for (size_t i = 0; i < used; i++) {
        info.idf[i] = log((entries + 1) / (double)terms[i].df);
        info.idf_sum += info.idf[i];
    }
    if (!fulltext_could_answer(q, terms, &info))
        goto done;
    info.unknown = unknown;
    info.idf_sum += FTS_UNKNOWN_WORD * (double)unknown * log(entries + 1);
    fts_layout(prepared.data, prepared.len, terms, used, &info);
    if ((status = exact_sections(q, &info)) != KB_OK)
        goto done;
    for (size_t i = 0; i < used && status == KB_OK; i++)
        status = kb_buf_printf(&query, "%s\"%s\"", i ? " OR " : "", terms[i].text);
    if (status != KB_OK)
        goto done;
    /* Entries found by harvested evidence: full text corroborates them, however few terms
     * agree. Then every entry: full text alone must pass its bar. */
    if ((status = search_sections(q, query.data, &info, &rows, &nrows)) != KB_OK)
        goto done;
    /* Entries found by harvested evidence: full text corroborates them, however few terms
     * agree. Then the best entries: full text alone must pass its bar. */
    struct entry_rows *pick = malloc((nrows ? nrows : 1) * sizeof *pick);
    if (!pick) {
        status = kb_query_nomem(q);
        goto done;
    }
    for (int pass = 0; pass < 2 && status == KB_OK; pass++) {
        size_t n = 0;
        for (size_t r = 0; r < nrows && (pass == 0 || n < want * 4); r++) {
            struct kb_candidate *c = NULL;
            for (size_t i = 0; i < q->cand_count && !c; i++)
                if (q->cands[i].rowid == rows[r].entry)
                    c = &q->cands[i];
            if (pass == 1 || (c && corroborated(c)))
                pick[n++] = rows[r];
        }
        if (n && (status = link_credit(q, &pick, &n, pass == 0)) == KB_OK) {
            qsort(pick, n, sizeof *pick, cmp_rows);
            status = apply_rows(q, pick, n, terms, &info, query.data, &prepared, pass == 0);
        }
    }
    free(pick);
done:
    q->work.fulltext_rows += info.scored;
    free(rows);
    free(info.exact);
    free(info.notes);
    terms_free(terms, nterms);
    kb_buf_release(&prepared);
    kb_buf_release(&query);
    return status;
}
