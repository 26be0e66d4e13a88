/*
 * kb_text.h - text handling shared by kb-compile and kb-lookup, defined in one place:
 * normalisation of pasted text, the prefilter tokens and anchors, literal-to-regex
 * translation, full-text preparation and secret masking.
 *
 * The compiler uses the same functions on signatures and articles that the lookup uses on
 * pasted text, so both sides always agree on what a token is.
 */
#ifndef KB_TEXT_H
#define KB_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "kb.h"
#include "kb_buf.h"
#include "kb_schema.h"

/* Appends line without ANSI escape sequences and control bytes: tab and NUL become spaces,
 * CR and every other control byte are dropped. Shared by normalisation and masking. */
enum kb_status kb_clean_line(const char *line, size_t len, struct kb_buf *out);

/* Offsets and line numbers in a query's texts (the input, the MIME reader's text, the
 * normalised text) are 32-bit: the per-line arrays of a paste of a million short lines take
 * half the memory, and the page faults of filling it were most of that paste's time. A text of
 * more than KB_TEXT_MAX bytes is refused (KB_ERR_TOO_LARGE); the default input cap is 16 MiB. */
#define KB_TEXT_MAX ((size_t)UINT32_MAX - 1)

/* ---- normalisation ----------------------------------------------------------------------- */

/* Pasted text made matchable: CR removed, ANSI escape sequences and other control bytes
 * dropped, NUL bytes turned into spaces, escaped quoting undone (\n \t \" \\ and Python
 * b'...' reprs), log prefixes (timestamps, levels, "S:"/"C:" transcript markers) stripped,
 * multi-line SMTP replies ("535-5.7.8 ..." / "535 5.7.8 ...") unfolded onto one line,
 * credentials masked (kb_mask_secrets) so that nothing downstream can print them, and lines
 * left empty by all that dropped (they end a multi-line reply, nothing reads them).
 * Invalid UTF-8 bytes are kept as they are (PCRE2 runs without UTF mode). */
struct kb_norm {
    char *text; /* normalised lines joined by '\n'; NUL-terminated; no NUL inside */
    size_t len;
    size_t line_count;    /* number of normalised lines */
    uint32_t *line_start; /* [line_count] offset in text of each normalised line */
    uint32_t *orig_line;  /* [line_count] 1-based line of the original input it came from */
    size_t orig_line_count;
    /* [orig_line_count + 1] offsets of original lines in the input: the caller's index when
     * it gave one (kb_norm_run_lines), else orig_owned */
    const uint32_t *orig_start;
    uint32_t *orig_owned;
    const char *input; /* the caller's input (not owned) */
    size_t input_len;
    /* Bytes that are not text (NUL, control bytes, invalid UTF-8); lines that were mostly
     * such bytes, of which only runs of words were read; binary: the whole input looks
     * binary (a tenth of its bytes or more not text). */
    size_t bad_bytes;
    size_t noise_lines;
    int binary;
};

/* Length of the valid UTF-8 sequence of two to four bytes at u[0, n) (no overlong forms, no
 * surrogates, nothing above U+10FFFF); 0 when u does not start one (an ASCII byte neither). */
size_t kb_utf8_len(const unsigned char *u, size_t n);

/* Normalises input (len bytes). out must be released with kb_norm_release, also on error. */
enum kb_status kb_norm_run(const char *input, size_t len, struct kb_norm *out);
/* kb_norm_run over input whose lines the caller has already indexed: line_start[line_count + 1]
 * holds the offset of each line (counted as kb_norm_run counts them: a line per '\n', and one
 * more when the input does not end in one) and len last. The index is borrowed, not copied:
 * it must stay valid and unchanged until kb_norm_release. A reader that indexed the lines
 * first (kb_mime_read) hands its index down, so that a paste of a million lines is not indexed
 * twice (8 MB per index). */
enum kb_status kb_norm_run_lines(const char *input, size_t len, const uint32_t *line_start,
                                 size_t line_count, struct kb_norm *out);
void kb_norm_release(struct kb_norm *norm);
/* Index of the normalised line holding byte offset off of norm->text. */
size_t kb_norm_line_of(const struct kb_norm *norm, size_t off);

/* ---- prefilter tokens -------------------------------------------------------------------- */

/* A token is a run of [A-Za-z0-9_]; runs joined by single dots form a dotted token
 * ("5.7.139", "smtp.office365.com"). The text side emits every word and every contiguous
 * sub-sequence of a dotted token's parts, so a signature whose anchor is "outlook.com" is a
 * candidate for a text holding "eur.prod.outlook.com". Hashes are of the lowercased token. */
uint64_t kb_token_hash(const char *token, size_t len);

/* Calls emit(hash, offset, arg) for every prefilter token of text (duplicates possible;
 * offset is where the token starts). Stops and returns emit's non-zero value if it returns one.
 */
int kb_text_tokens(const char *text, size_t len,
                   int (*emit)(uint64_t hash, size_t offset, void *arg), void *arg);

/* Chooses the prefilter anchor of a signature: a token that every text matching the signature
 * must contain as a token. Returns 1 and sets *hash (and appends the token to token_out when
 * not NULL) when there is one; 0 when the signature must run on every lookup (e.g. a regex
 * with top-level alternation); -1 when out of memory. */
int kb_signature_anchor(enum kb_sig_kind kind, const char *source, size_t len, uint64_t *hash,
                        struct kb_buf *token_out);

/* Calls visit for every token that could serve as the signature's anchor, with its hash and
 * a quality (higher: rarer in pasted text). kb_schema_finish uses it to pick, for each
 * signature, the candidate that is rare across the whole KB as well. Returns 0, or visit's
 * non-zero value, or -1 when out of memory. */
int kb_signature_anchor_candidates(enum kb_sig_kind kind, const char *source, size_t len,
                                   int (*visit)(uint64_t hash, double quality, void *arg),
                                   void *arg);

/* Appends to out (lowercased) the longest run of literal characters, at least 3, that every
 * match of the PCRE2 pattern (as compiled for a signature: caseless) must contain; returns 1,
 * or 0 when nothing can be said (a top-level alternation, no such run, extended mode), or -1
 * when out of memory. Signatures without anchor run on every lookup; this lets a lookup skip
 * those whose text cannot be there. */
int kb_regex_required_literal(const char *pattern, size_t len, struct kb_buf *out);
/* The same for a pattern that may be a top-level alternation: for one, appends each branch's
 * required literal, separated by NUL bytes (a match contains at least one of them), and returns
 * 1 only when every branch has one; otherwise as kb_regex_required_literal. */
int kb_regex_required_literals(const char *pattern, size_t len, struct kb_buf *out);

/* ---- signatures -------------------------------------------------------------------------- */

/* Appends to out the PCRE2 pattern (compiled caseless, no UTF) matching literal the way the
 * KB format defines: white-space runs match any white space, alphanumeric ends need word
 * boundaries, everything else is literal. */
enum kb_status kb_literal_to_pattern(const char *literal, size_t len, struct kb_buf *out);

/* Appends to out the PCRE2 pattern for a regex signature: the regex itself, with a word
 * boundary (\b) added where it begins or ends with a literal letter or digit, as for literals.
 * *prefix_len receives how many bytes were added in front (to map error offsets back). */
enum kb_status kb_regex_to_pattern(const char *regex, size_t len, struct kb_buf *out,
                                   size_t *prefix_len);

/* Finds literal in text[start, end) with exactly the semantics of the pattern that
 * kb_literal_to_pattern makes of it (caseless ASCII, white-space runs, word boundaries at
 * alphanumeric ends; text before start and the end of the range count as PCRE2 would), without
 * compiling anything: most signatures are literals, and compiling them on every lookup cost
 * more than matching. Returns 1 and sets *match_start on a match, 0 otherwise. When work is
 * not NULL, the number of bytes examined is added to it (tests count work, not time). */
int kb_literal_find(const char *literal, size_t literal_len, const char *text, size_t start,
                    size_t end, size_t *match_start, size_t *work);

/* What one search of kb_literal_find_at read at its last miss (zeroed before the first, one
 * per literal and anchor offset). Another occurrence of the anchor with the same bytes around
 * it misses too, and is told at one memcmp of those bytes instead of a comparison of the
 * literal: a paste repeating one line or phrase a hundred thousand times had every literal
 * anchored in it compared again at each repeat. */
struct kb_literal_miss {
    int known;
    size_t anchor_in; /* the anchor's offset in the literal */
    size_t at;        /* the anchor's offset in the text */
    size_t lo, hi;    /* the bytes of the text read: [lo, hi) */
};

/* The same search where a match must hold the given occurrence of the literal's anchor:
 * anchor_at is where the anchor token (as kb_text_tokens emits it) starts in text[0, len),
 * anchor_in where it starts in the literal (kb_literal_anchor_offsets). The literal is compared
 * forwards and then backwards from there, so the cost is the literal's length (and the white
 * space runs it crosses), not a window's; *work (when not NULL) grows by the bytes of text
 * examined. Returns 1 and sets *match_start on a match, 0 otherwise. miss (NULL: none) is
 * the last miss of this literal and anchor offset, read and updated. */
int kb_literal_find_at(const char *literal, size_t literal_len, size_t anchor_in, const char *text,
                       size_t len, size_t anchor_at, size_t *match_start, size_t *work,
                       struct kb_literal_miss *miss);

/* Where the token of this hash starts in the literal trimmed of white space (up to max
 * offsets into out, in order); returns how many there are. */
size_t kb_literal_anchor_offsets(const char *literal, size_t literal_len, uint64_t hash,
                                 size_t *out, size_t max);

/* Calls hit(index, offset, arg) for every occurrence in text[0, len) of any of the n
 * NUL-terminated literals (compared caselessly in ASCII when caseless), in text order, and at
 * one offset in the literals' order; stops when hit returns non-zero and returns that value.
 * One pass whatever n: a table of the literals' first two bytes says where to compare, so a
 * list of cues costs one read of the text, not one per cue. Returns -1 when out of memory. */
int kb_literals_scan(const char *const *literals, size_t n, int caseless, const char *text,
                     size_t len, int (*hit)(size_t index, size_t offset, void *arg), void *arg);

/* Which of the n literals occur in text[0, len) at all: found[k] set to 1 or 0. The same one
 * pass, a literal leaving the search once found. Returns 0, or -1 when out of memory. */
int kb_literals_present(const char *const *literals, size_t n, int caseless, const char *text,
                        size_t len, unsigned char *found);

/* The same search with the tables built once: for a list of literals searched in many texts
 * (the facts' cues, a KB's needs). The set keeps pointers to the literals, which must outlive
 * it; a search never changes it (several threads may search one set). NULL when out of memory
 * or n >= 65535. */
struct kb_literal_set;
struct kb_literal_set *kb_literal_set_new(const char *const *literals, size_t n, int caseless);
void kb_literal_set_free(struct kb_literal_set *set);
/* kb_literals_scan over a set: no allocation, so it suits many short texts (lines). */
int kb_literal_set_scan(const struct kb_literal_set *set, const char *text, size_t len,
                        int (*hit)(size_t index, size_t offset, void *arg), void *arg);
/* kb_literals_present over a set: found[k] for each of its literals; 0, or -1 out of memory.
 * It keeps a table of its own per call: for long texts. */
int kb_literal_set_present(const struct kb_literal_set *set, const char *text, size_t len,
                           unsigned char *found);

/* PCRE2 compile options every signature is compiled with (compiler and lookup agree). */
uint32_t kb_signature_compile_options(void);

/* ---- full text --------------------------------------------------------------------------- */

/* Appends text prepared for the FTS5 index or query: status codes and dotted tokens made
 * single tokens ("5.7.139" -> "5_7_139", "smtp.gmail.com" -> "smtp_gmail_com"), so that the
 * unicode61 tokenizer (with '_' as a token character) keeps them whole. */
enum kb_status kb_fts_prepare(const char *text, size_t len, struct kb_buf *out);

/* The tokenizer declaration used for entry_fts; part of the schema. */
#define KB_FTS_TOKENIZE "unicode61 remove_diacritics 2 tokenchars '_'"

/* ---- lists ------------------------------------------------------------------------------ */

/* Is item one of the comma-separated items of list (spaces around items ignored)? list may be
 * NULL. Facets, related ids, also= and capture names are all stored this way. */
int kb_list_contains(const char *list, const char *item);

/* Iterates over such a list: returns the next non-empty item (not NUL-terminated: *len bytes,
 * spaces trimmed) and advances *cursor, or NULL at the end. *cursor may be NULL. */
const char *kb_list_next(const char **cursor, size_t *len);

/* ---- secrets ----------------------------------------------------------------------------- */

/* Appends line with credentials masked as "***": base64 blobs after AUTH PLAIN/AUTH LOGIN and
 * in the client lines answering a 334 challenge, passwords in URLs (scheme://user:pass@host),
 * password=/pass:/secret= style assignments. Control bytes other than tab are dropped. */
enum kb_status kb_mask_secrets(const char *line, size_t len, struct kb_buf *out);

/* The same for a line that kb_clean_line has already cleaned (normalisation masks every line
 * it builds and need not look for control bytes twice). */
enum kb_status kb_mask_clean_secrets(const char *line, size_t len, struct kb_buf *out);

#endif
