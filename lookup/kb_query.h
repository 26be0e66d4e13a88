/*
 * kb_query.h - the state of one query as it flows through libkb's stages; internal, not part
 * of the public API. kb_query.c drives the stages in the order kb.h describes:
 *
 *   kb_bounce.c      raw bytes -> a message's text (MIME decoded), regions, report facts
 *   kb_norm.c        that text -> matchable lines (secrets masked by kb_mask.c)
 *   kb_facts.c       codes, stage, host/port/user, client, provider, mail context
 *   kb_signatures.c  evidence from signatures: literal prefilter + PCRE2 near each anchor
 *   kb_conditions.c  evidence from the articles' conditions over what the text is
 *   kb_fulltext.c    evidence from the full-text index (FTS5, kb_score: the share of the text
 *                    each section explains)
 *   kb_rank.c        candidates merged, ordered and turned into struct kb_result
 *
 * Each evidence stage adds to the candidates (one per entry); none of them knows which
 * cause an entry describes.
 */
#ifndef KB_QUERY_H
#define KB_QUERY_H

#include <pcre2.h>

#include "kb_conditions.h"
#include "kb_internal.h"

/* How many matches a query answers with when its options do not say. */
#define KB_DEFAULT_TOP 3

/* Bytes of text examined, and rows of the full-text index scored, counted for tests. */
struct kb_work {
    size_t signatures;    /* windows given to regexes, bytes literal searches read */
    size_t other;         /* ranges tested for another program's words */
    size_t regex_calls;   /* signature regexes run (one per window) */
    size_t fulltext_rows; /* rows of the full-text index scored */
};

/* One signature that matched. */
struct kb_hit {
    size_t line;  /* normalised line of the match */
    char *source; /* signature as written */
    char *explain;
    double weight;
    int harvested; /* evidence kb-compile took from the article, not a written signature */
    int condition; /* a condition of the entry that held (line is then SIZE_MAX: no line) */
};

/* Everything the evidence stages found for one entry. */
struct kb_candidate {
    long long rowid;
    double score;          /* what it is ranked by: written + harvested + fulltext */
    double written;        /* sum of the weights of the author's signatures that matched */
    double harvested;      /* sum of the weights of harvested evidence that matched */
    double fulltext;       /* points from the full-text stage */
    long long section_id;  /* the section the evidence points at, 0 when none */
    double section_weight; /* weight of the evidence that chose section_id */
    double best_weight;
    int provider_match; /* the entry's provider facet names the provider seen in the text */
    double bm25;        /* minus the full-text score (lower is better), for ties */
    enum kb_via via;
    int ruled_out; /* a negative condition left it without positive written evidence */
    struct kb_hit *hits;
    size_t hit_count, hit_alloc;
    struct kb_pair *captures;
    size_t capture_count, capture_alloc;
    size_t *lines; /* normalised lines for evidence (full-text matches) */
    size_t line_count, line_alloc;
    char *fts_explain; /* NULL when the database leaves explanations out */
    int fts_scored;    /* full text has given it its points */
};

/* A text view (kb_query_view), kept for the query's life. */
struct kb_view {
    unsigned regions;
    int group;
    char *text;
};

struct kb_query {
    /* the strongest candidate with written evidence that a threshold dropped: the nearest
     * entry a no-match names (rowid 0: none) */
    long long nearest_rowid;
    double nearest_score;
    struct kb_db *db;
    const struct kb_query_options *options;
    /* What the bounce reader made of the input (kb_bounce.c): the text normalised below (the
     * input, or the input with MIME parts decoded), and per line of it a region and the
     * recipient it reports on. */
    struct kb_bounce bounce;
    const struct kb_report *report;
    struct kb_norm norm;
    /* What evidence is read from: kb_query_view(q, evidence_regions), or norm.text itself. */
    const char *evidence_text;
    unsigned evidence_regions; /* bit mask of 1 << enum kb_region */
    /* The recipients whose failure the evidence stages read now: a group of the report's
     * recipients (group_of[k] for recipient k), -1 for all of them. */
    int group;
    int *group_of;
    struct kb_view *views;
    size_t view_count, view_alloc;
    struct kb_facts facts;
    /* What conditions read (the facts, the dialogue, the report): set before the signatures
     * run, since a signature may apply only when a condition holds (when=). */
    const struct kb_condition_facts *what;
    struct kb_candidate *cands;
    size_t cand_count, cand_alloc;
    pcre2_match_context *mctx;
    pcre2_match_data *mdata;
    struct kb_work work;            /* what the matching stages examined (kb_query_run_counted) */
    struct kb_other_program *other; /* compiled when first needed */
    /* per normalised line, then per block of text of a long line: 0 not tested, 1 no, 2 another
     * program's */
    unsigned char *other_lines;
    struct kb_error *err;
};

/* kb_query_run that also tells how many bytes of text its matching stages examined: for tests
 * that check a lookup's work grows with its input and no faster. */
enum kb_status kb_query_run_counted(struct kb_db *db, const char *text, size_t len,
                                    const struct kb_query_options *options, struct kb_result **out,
                                    struct kb_error *err, struct kb_work *work);
/* The query over the one database db, whatever is stacked on it (kb_layers.c runs it once a
 * layer and merges). */
enum kb_status kb_query_run_one(struct kb_db *db, const char *text, size_t len,
                                const struct kb_query_options *options, struct kb_result **out,
                                struct kb_error *err, struct kb_work *work);
/* kb_query_run over a stack of layers (db->above_count > 0): kb_layers.c. */
enum kb_status kb_layers_query(struct kb_db *db, const char *text, size_t len,
                               const struct kb_query_options *options, struct kb_result **out,
                               struct kb_error *err, struct kb_work *work);

/* Grows *v (of *alloc elements of size bytes) to hold need elements; 0, or -1 when out of
 * memory (then *v is unchanged). */
int kb_grow(void **v, size_t *alloc, size_t need, size_t size);
/* A heap copy of s[0, len) with a NUL; NULL when out of memory. */
char *kb_strndup(const char *s, size_t len);

/* The candidate of entry rowid, created (with via) when new; NULL when out of memory. */
struct kb_candidate *kb_candidate_for(struct kb_query *q, long long rowid, enum kb_via via);
void kb_candidate_release(struct kb_candidate *c);
/* Records "out of memory" in q->err and returns KB_ERR_NOMEM. */
enum kb_status kb_query_nomem(struct kb_query *q);

/* kb_query.c: a view of the normalised text, same length and offsets as norm.text, in which
 * only the lines of the regions in the bit mask regions (1 << enum kb_region) are kept, the
 * others blanked; while the evidence stages read one recipient's failure (q->group), the lines
 * reporting on other recipients are blanked too. A signature that may also match the report's
 * headers or its returned original (region= in the KB) reads
 * kb_query_view(q, q->evidence_regions | its regions). Owned by q, valid until the query
 * ends; norm.text itself when nothing is blanked; NULL when out of memory. */
const char *kb_query_view(struct kb_query *q, unsigned regions);
/* kb_query.c: the region (enum kb_region) of normalised line norm_line. */
unsigned kb_query_region(const struct kb_query *q, size_t norm_line);
/* kb_query.c: the 1-based input line normalised line norm_line comes from (through the bounce
 * reader's decoding of encoded parts). */
size_t kb_query_input_line(const struct kb_query *q, size_t norm_line);

/* kb_signatures.c: runs every signature whose anchor occurs in the text (on the lines around
 * it) and every unanchored one, adding hits to the candidates. */
enum kb_status kb_signatures_run(struct kb_query *q);

/* kb_conditions.c: applies the conditions of the articles to the facts, adding the weight of
 * each one that holds to its entry; marks the entries a negative condition rules out. */
enum kb_status kb_conditions_run(struct kb_query *q, const struct kb_condition_facts *facts);

/* kb_fulltext.c: is the KB about the program the first word of text names (lowercased): a
 * title or heading names it, or one page in ten does? */
int kb_fulltext_knows(struct kb_query *q, const char *text);

/* kb_fulltext.c: the full-text stage, for at most want results. */
enum kb_status kb_fulltext_run(struct kb_query *q, size_t want);

/* A full-text match adds this much times the share of the text its best section explains
 * (kb_fulltext.c), at most as much as a status code in an article's title. */
#define FTS_POINTS 3.0

/* kb_rank.c: forgets candidates whose signatures (written and harvested) score below min;
 * candidates known only from prose are judged later. */
void kb_rank_drop_weak(struct kb_query *q, double min);
/* kb_rank.c: forgets candidates that no written signature found. */
void kb_rank_drop_prose(struct kb_query *q);
/* kb_rank.c: does a written signature make some candidate a likely answer? */
int kb_rank_has_likely(const struct kb_query *q);
/* kb_rank.c: orders the candidates and fills r with the best top of them. */
enum kb_status kb_rank_result(struct kb_query *q, size_t top, struct kb_result *r);

#endif
