/*
 * kb_internal.h - declarations shared by libkb's own modules; not part of the public API.
 */
#ifndef KB_INTERNAL_H
#define KB_INTERNAL_H

#include <pcre2.h>
#include <sqlite3.h>
#include <stdint.h>

#include "kb.h"
#include "kb_prefilter.h"
#include "kb_text.h"

/* A provider the KB declares (a kb-provider block): its id (the value of the provider fact
 * and of entries' provider facets), display name, the hosts (lowercase, matched caselessly
 * as a host or a parent domain of one) and words (matched as written) that name it, and its
 * users' submission server. (kb.h's struct kb_provider is the copy a result gets of the one
 * the text names.) */
struct kb_provider_decl {
    char *id;
    char *name;
    char **hosts;
    size_t host_count;
    char **words;
    size_t word_count;
    char *submission_host; /* NULL when none declared */
    int submission_port;   /* 0 when none */
};

/* The KB's providers in declaration order: the first one the text names is the provider. */
struct kb_providers {
    struct kb_provider_decl *items;
    size_t count;
    /* built by kb_providers_detect on the first long text: every host and word of every
     * provider, in order (needles: the items' strings, not owned), found in one caseless pass */
    const char **needles;
    size_t *needle_of; /* the provider of each */
    struct kb_literal_set *scan;
};

/* What a program the KB declares (a kb-client block) is to the engine: an application's mail
 * library or program, whose failure reply is its own submission failing; a mail server, whose
 * log may be about a delivery between servers; a tool, whose name alone does not make a text
 * about mail. */
enum kb_client_role { KB_CLIENT_MAILER, KB_CLIENT_MAIL_SERVER, KB_CLIENT_TOOL };

struct kb_client_decl {
    char *id;
    char *name;
    enum kb_client_role role;
};

/* A word that names a client, as written: smtp when the client prints it only about SMTP. */
struct kb_client_word {
    char *text;
    size_t len;
    size_t client; /* index into the clients' items */
    int smtp;
};

/* The KB's clients in declaration order and their words, in the same order. */
struct kb_clients {
    struct kb_client_decl *items;
    size_t count;
    struct kb_client_word *words;
    size_t word_count;
    /* built by kb_facts.c on the first lookup: its own cues and these words, found together
     * in one caseless pass (texts: their strings, not owned) */
    const char **texts;
    struct kb_literal_set *scan;
};

/* The engine's own regexes (facts, other programs: static tables), compiled on their first use
 * and kept with the database handle, so a long-running process compiles each once. Keyed by the
 * pattern's address and options: only for strings that live as long as the cache and never
 * hold another pattern (string literals), which is what the engine's tables are. */
struct kb_regex_cache {
    struct kb_cached_regex {
        const char *regex;
        uint32_t options;
        pcre2_code *code;
    } * slot;
    size_t count, cap;
    /* the handle has answered a query: its patterns are used again (a --serve process, the
     * compiler's self-test), so JIT-compiling each once costs less than it saves */
    int warm;
};
/* The compiled code of regex with options (JIT-compiled too when jit), compiled on first use;
 * the cache owns it. NULL when out of memory or the regex does not compile. */
pcre2_code *kb_regex_cache_get(struct kb_regex_cache *cache, const char *regex, uint32_t options,
                               int jit);
void kb_regex_cache_release(struct kb_regex_cache *cache);

struct kb_db {
    sqlite3 *sql;
    char *label;
    char *build_hash;
    int schema_version;
    long entry_count;
    long section_count;            /* rows of the full-text index */
    int fulltext_needs_mail;       /* full-text answers only text about mail (a mail KB) */
    struct kb_prefilter prefilter; /* the anchor index, read in place (kb_prefilter.h) */
    uint32_t *always;              /* signatures without anchor */
    size_t always_count;
    /* their compiled code, decoded at open; NULL: compile them */
    pcre2_code **always_codes;
    struct kb_code_memory *code_memory; /* what PCRE2 allocated decoding them (kb_db.c) */
    /* per unanchored signature: the texts one of which every match holds, each NUL-terminated
     * and an empty one after the last; or NULL */
    const char **always_needs;
    char *always_needs_text; /* owns the strings always_needs points at */
    /* the known needs searched for together (kb_signatures.c), built on the first lookup:
     * always_which[k] is the unanchored signature of the set's literal k */
    struct kb_literal_set *always_set;
    size_t *always_which;
    size_t always_known;
    const unsigned char *image; /* kb_db_open_memory's image, or NULL */
    size_t image_len;
    char *path; /* kb_db_open_file's path, or NULL */
    sqlite3_stmt *sig_by_id;
    /* signature rows read by earlier queries, by id (kb_signatures.c): the KB's own data,
     * kept so that a handle that answers many queries reads each row once */
    struct kb_sig_cache *sig_cache;
    /* the KB's conditions, parsed by the first query (kb_conditions.c) */
    struct kb_condition_rows *condition_rows;
    /* entries read by earlier queries of a handle that has answered one (kb_entry_load), a
     * copy handed out each time: KB_ENTRY_CACHE of them, the oldest replaced */
    struct kb_entry_slot *entry_cache;
    size_t entry_cache_next;
    sqlite3_stmt *entry_by_rowid;  /* prepared when first used, for the texts asked for */
    sqlite3_stmt *term_df;         /* prepared when first used: kb_db_term_df */
    sqlite3_stmt *section_by_id;   /* prepared when first used: kb_db_section_by_id */
    sqlite3_stmt *conditions;      /* every condition of the KB, in id order */
    sqlite3_stmt *steps_by_entry;  /* kb_steps.c, prepared when first used */
    sqlite3_stmt *fix_by_entry;    /* kb_steps.c, prepared when first used */
    struct kb_providers providers; /* declared in the KB (kb_providers.c) */
    struct kb_clients clients;     /* declared in the KB (kb_clients.c) */
    /* the clients a text is read with: its own, or (a layer that declares none, compiled
     * over another KB) the first layer's */
    struct kb_clients *clients_used;
    int fts_function_ready; /* kb_matched() registered on the connection */
    /* kb_fulltext.c's statements, prepared when first needed (NULL until then) */
    sqlite3_stmt *fts_search, *fts_entry_of, *fts_links, *fts_pairs, *fts_title, *fts_sections;
    /* anchored regex signatures compiled on their first use, by signature id (kb_db_sig_regex) */
    pcre2_code **sig_regex;
    size_t sig_regex_cap;
    /* Their stored code (signature.code), decoded instead of compiled when this PCRE2 makes the
     * prefix whose hash kb-compile stored (meta 'regex_code', has_regex_code): code_state 0
     * not looked at yet, 1 usable, -1 not; code_prefix the header and tables put before a
     * block to decode it (in code_buf), code_size_at where a block holds its own size;
     * sig_gctx allocates in sig_code_memory, freed at close (kb_db.c). */
    int has_regex_code;
    uint64_t regex_code_key;
    int code_state;
    unsigned char *code_prefix;
    size_t code_prefix_len, code_size_at;
    unsigned char *code_buf;
    size_t code_buf_cap;
    struct kb_code_memory *sig_code_memory;
    pcre2_general_context *sig_gctx;
    struct kb_regex_cache regex_cache; /* the facts' and other programs' patterns */
    /* As a layer (kb_layers.c): what the compiler stored (meta "hides": the ids it hides in
     * the layers below, sorted; meta "base": the build hash of the KB it was compiled
     * against, NULL when it was compiled as a whole KB), its place in a stack (0: the first),
     * and its entry ids, sorted (loaded when it is stacked). */
    char **hides;
    size_t hide_count;
    char *base_build;
    size_t layer_index;
    char **ids;
    size_t id_count;
    size_t masked_count; /* how many of its ids a layer above replaces or hides */
    /* Languages (meta language, languages): the KB's default and all it holds, "" when it
     * declares none; want_lang the one entries are loaded in (kb_db_language_set), NULL for
     * the default. */
    char *language;
    char *languages;
    char *want_lang;
    sqlite3_stmt *entry_text; /* prepared when first used */
    int no_explain;           /* kb_db_explain_set(db, 0): queries leave explain lines out */
    /* kb_db_texts_set: the entry texts read (KB_TEXTS_*), and the set entry_by_rowid and
     * entry_text were prepared for (they select '' for the others) */
    unsigned texts, texts_prepared;
    /* On the first layer of a stack only: the layers above it, in order; it owns them. */
    struct kb_db **above;
    size_t above_count;
};

/* The compiled code of signature sig_id's regex, made on its first use and kept while the
 * database is open: a --serve process, or the compiler's self-test, makes each signature's once
 * instead of once a lookup. Made by decoding code (its signature.code, code_len bytes; NULL
 * when none) when it can be, else by compiling pattern. The database owns it. NULL when the
 * pattern does not compile (a foreign database) or memory runs out: the caller counts that as
 * no match. */
/* db->term_df (a term's document frequency) and db->section_by_id (a section's heading),
 * prepared on first use; NULL with err set when they cannot be. */
sqlite3_stmt *kb_db_term_df(struct kb_db *db, struct kb_error *err);
sqlite3_stmt *kb_db_section_by_id(struct kb_db *db, struct kb_error *err);

/* Releases db->sig_cache (kb_signatures.c). Accepts NULL. */
void kb_sig_cache_free(struct kb_sig_cache *cache);
/* Releases db->condition_rows (kb_conditions.c). Accepts NULL. */
void kb_condition_rows_free(struct kb_condition_rows *set);

pcre2_code *kb_db_sig_regex(struct kb_db *db, uint32_t sig_id, const char *pattern,
                            const unsigned char *code, size_t code_len);

/* ---- kb_layers.c: a stack of KB layers -------------------------------------------------- */

/* Reads a layer's meta values "hides" and "base" (load_meta passes them on). */
enum kb_status kb_layers_meta(struct kb_db *db, const char *key, const char *value,
                              struct kb_error *err);
/* Releases what kb_layers.c added to db, the layers above it included. */
void kb_layers_release(struct kb_db *db);
/* Is id, an entry of layer i of the stack db, replaced or hidden by a layer above it? */
int kb_layers_masked(const struct kb_db *db, size_t i, const char *id);
/* kb_entry_get in db alone, whatever is stacked on it. */
enum kb_status kb_entry_get_one(struct kb_db *db, const char *id, struct kb_entry **out,
                                struct kb_error *err);
/* kb_entry_get and kb_entry_each over a stack (db->above_count > 0). */
enum kb_status kb_layers_entry_get(struct kb_db *db, const char *id, struct kb_entry **out,
                                   struct kb_error *err);
enum kb_status kb_layers_entry_each(struct kb_db *db,
                                    int (*visit)(const struct kb_entry *entry, void *arg),
                                    void *arg, struct kb_error *err);

/* Fills err (status + printf-style message) and returns status. */
enum kb_status kb_fail(struct kb_error *err, enum kb_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* KB_ERR_DB with SQLite's message, naming the database. */
enum kb_status kb_fail_sql(struct kb_db *db, struct kb_error *err, const char *what);

/* Loads the entry with this rowid (caller frees). */
enum kb_status kb_entry_load(struct kb_db *db, long long rowid, struct kb_entry **out,
                             struct kb_error *err);

/* kb_steps.c: loads the provider-specific steps of the entry with this rowid into e (whose
 * solutions are loaded), checking their ranges; and what the KB declares of provider id
 * (NULL: none seen) into out (all NULL when nothing), released with kb_provider_release. */
enum kb_status kb_steps_load(struct kb_db *db, long long rowid, struct kb_entry *e,
                             struct kb_error *err);
/* kb_language.c: the human language text is written in, when its everyday words clearly say one
 * other than English: *code ("de") and *name ("German"), static; returns 1, else 0. */
int kb_language_guess(const char *text, size_t len, const char **code, const char **name);

/* Frees e's solution structure and leaves it empty. */
void kb_fix_release(struct kb_entry *e);
/* Loads the structure of entry rowid's solution (table fix_step) in language lang ("" the
 * KB's own, else a translation's) into e->fix, replacing what it held. */
enum kb_status kb_fix_load(struct kb_db *db, long long rowid, const char *lang, struct kb_entry *e,
                           struct kb_error *err);
enum kb_status kb_provider_load(const struct kb_db *db, const char *id, struct kb_provider *out,
                                struct kb_error *err);
void kb_provider_release(struct kb_provider *p);

/* Extracts facts from normalised text; strings in facts are heap copies (secrets masked).
 * providers and clients (may be NULL: none) are the KB's declared ones; cache (may be NULL:
 * compile for this call only) keeps the compiled patterns. */
enum kb_status kb_facts_extract(const struct kb_norm *norm, struct kb_providers *providers,
                                struct kb_clients *clients, struct kb_regex_cache *cache,
                                struct kb_facts *facts);
void kb_facts_release(struct kb_facts *facts);
/* Where the customer's values among the facts were found: 1-based normalised lines of the
 * text given (0: none found). */
struct kb_fact_lines {
    size_t host, port, user;
};
/* kb_facts_extract that also tells where host, port and user came from (lines may be NULL). */
enum kb_status kb_facts_extract_lines(const struct kb_norm *norm, struct kb_providers *providers,
                                      struct kb_clients *clients, struct kb_regex_cache *cache,
                                      struct kb_facts *facts, struct kb_fact_lines *lines);
/* The same without the one-pass prefilter (every pattern run): for the unit test that checks
 * the prefilter changes nothing. */
enum kb_status kb_facts_extract_unfiltered(const struct kb_norm *norm,
                                           struct kb_providers *providers,
                                           struct kb_clients *clients, struct kb_facts *facts);
/* The same with the patterns that state where their matches start tried only there on any
 * text, however short (the engine does so from 64 KiB on): for the unit test that checks the
 * windows change nothing. */
enum kb_status kb_facts_extract_windowed(const struct kb_norm *norm, struct kb_providers *providers,
                                         struct kb_clients *clients, struct kb_facts *facts);

/* kb_db.c: runs query on sql and calls row for each row whose first column is a non-empty
 * string (an id), until one fails; "database 'label': cannot read the <what>" when SQLite
 * does, "out of memory" when row returns KB_ERR_NOMEM. */
enum kb_status kb_db_rows_each(sqlite3 *sql, const char *label, const char *what, const char *query,
                               enum kb_status (*row)(sqlite3_stmt *, void *), void *ctx,
                               struct kb_error *err);

/* ---- kb_providers.c: the providers the KB declares -------------------------------------- */

/* Reads the provider table (kb_schema.h) into set, in declaration order. label names the
 * database in messages. Release with kb_providers_release (also on error). */
enum kb_status kb_providers_load(sqlite3 *sql, const char *label, struct kb_providers *set,
                                 struct kb_error *err);
/* Appends a provider: hosts and words comma-separated (NULL: none); submission_host NULL or ""
 * (port 0) when none. KB_ERR_NOMEM only. */
enum kb_status kb_providers_add(struct kb_providers *set, const char *id, const char *name,
                                const char *hosts, const char *words, const char *submission_host,
                                int submission_port);
void kb_providers_release(struct kb_providers *set); /* accepts NULL */
/* The first provider of set, in declaration order, that text[0, len) names; NULL if none.
 * A long text is first searched for all the providers' names at once, in one pass, kept in
 * set (so a handle's set is used by one query at a time, like the handle). */
const struct kb_provider_decl *kb_providers_detect(struct kb_providers *set, const char *text,
                                                   size_t len);

/* ---- kb_clients.c: the programs the KB knows by the text they print --------------------- */

/* Reads the client table (kb_schema.h) into set, in declaration order. label names the
 * database in messages. Release with kb_clients_release (also on error). */
enum kb_status kb_clients_load(sqlite3 *sql, const char *label, struct kb_clients *set,
                               struct kb_error *err);
/* Appends a client: role "mailer", "mail-server" or "tool" (else mailer); words and
 * smtp_words comma-separated (NULL: none). KB_ERR_NOMEM only (then release the set). */
enum kb_status kb_clients_add(struct kb_clients *set, const char *id, const char *name,
                              const char *role, const char *words, const char *smtp_words);
void kb_clients_release(struct kb_clients *set); /* accepts NULL */
/* The first client of set, in declaration order, with a word (as written) in text[0, len);
 * NULL if none. *smtp: one of its SMTP words is there. found_caseless (may be NULL: unknown):
 * for each of set's words, whether it occurs in any case, from a pass already made. */
const struct kb_client_decl *kb_clients_detect(const struct kb_clients *set, const char *text,
                                               size_t len, const unsigned char *found_caseless,
                                               int *smtp);
/* The role of the client named name in set (KB_CLIENT_MAILER when set has none of it). */
enum kb_client_role kb_clients_role(const struct kb_clients *set, const char *name);

/* ---- kb_mime.c: the MIME structure of a pasted message --------------------------------- */

/* The kind of part a line of the read text belongs to. */
enum kb_part_kind {
    KB_PART_TEXT = 0, /* readable text: a text part, or the paste itself */
    KB_PART_HEADERS,  /* a header block (the message's or a part's) or a boundary line */
    KB_PART_STATUS,   /* the body of a message/(global-)delivery-status part */
    KB_PART_RETURNED, /* the returned original: message/rfc822 or text/rfc822-headers of a report */
    KB_PART_NOTICE,   /* a disposition-notification or feedback-report part */
    KB_PART_OTHER     /* not read: preamble, epilogue, another rendering, too deep */
};

/* multipart/report's report-type, when the paste declares one. */
enum {
    KB_MIME_REPORT_NONE = 0,
    KB_MIME_REPORT_DELIVERY,
    KB_MIME_REPORT_FEEDBACK,
    KB_MIME_REPORT_DISPOSITION
};

/* A pasted message made readable: the text later stages read (the input itself, or the input
 * with base64 and quoted-printable parts decoded, HTML reduced to text and attachments that
 * are not text left out), its lines, and for each line the input line it came from. */
struct kb_mime {
    const char *text; /* the input, or owned */
    size_t len;
    char *owned;
    size_t line_count;    /* lines of text, counted as kb_norm_run counts them */
    uint32_t *line_start; /* [line_count + 1] offsets in text (KB_TEXT_MAX: 32 bits) */
    uint32_t *input_line; /* [line_count] 1-based input line of each line; NULL: the same line */
    unsigned char *kind;  /* [line_count] enum kb_part_kind */
    /* [line_count] depth of message/rfc822 parts outside a report (the returned original of a
     * bounce that has no report part, or a forwarded message): 0 outside them */
    unsigned char *attached;
    uint32_t *part;       /* [line_count] which MIME part (0: none) */
    size_t input_lines;   /* lines of the input */
    int report_type;      /* KB_MIME_REPORT_* */
    int status_part;      /* a delivery-status part was read */
    int returned;         /* a returned original was found */
    int decoded;          /* some part was decoded or reduced from HTML */
    int dropped;          /* some part was left out */
    size_t parts;         /* MIME parts read */
    size_t decoded_bytes; /* bytes decoded from base64 and quoted-printable */
    size_t work;          /* lines visited: linear in the input (tests count it) */
};

/* Reads input (len bytes, any bytes) into out, released with kb_mime_release (also on
 * error). Never fails on malformed MIME: what cannot be read is text. */
enum kb_status kb_mime_read(const char *input, size_t len, struct kb_mime *out);
void kb_mime_release(struct kb_mime *m);
/* The 1-based input line of line (1-based) of m->text. */
size_t kb_mime_input_line(const struct kb_mime *m, size_t line);
/* Is s[0, n) a header line only a delivery-status part has ("Final-Recipient: ...", not the
 * "Status:" or "Action:" a mailbox file may have too)? Of a message's own header block
 * ("From: ...", "Received: ...")? */
int kb_mime_is_status_field(const char *s, size_t n);
int kb_mime_is_message_field(const char *s, size_t n);

/* ---- kb_bounce.c: the bounce reader ----------------------------------------------------- */

/* What the bounce reader makes of the input: the readable text (kb_mime) and, per line of
 * it, its region (enum kb_region) and the recipient whose failure it reports. */
struct kb_bounce {
    struct kb_mime mime;
    unsigned char *region; /* [mime.line_count] enum kb_region */
    uint16_t *owner;       /* [mime.line_count] 0: shared; k: report->recipients[k - 1] */
    size_t work;           /* lines the reader's passes visited: linear (tests count it) */
};

/* Reads input as a delivery report: fills report (released with kb_report_release, also on
 * error) and out (released with kb_bounce_release). A text that is no report is all
 * KB_REGION_TEXT (only parts not read are KB_REGION_OTHER) and report->format is NULL. */
enum kb_status kb_bounce_read(const char *input, size_t len, struct kb_report *report,
                              struct kb_bounce *out);
void kb_bounce_release(struct kb_bounce *b);
void kb_report_release(struct kb_report *report);

/* The patterns that tell another program's text (a database, an HTTP client, IMAP...), each
 * compiled when first run (JIT-compiled too when jit: for long texts), their code kept in
 * cache. NULL when out of memory; free with kb_other_program_free (accepts NULL). */
struct kb_other_program;
struct kb_other_program *kb_other_program_new(struct kb_regex_cache *cache, int jit);
void kb_other_program_free(struct kb_other_program *op);
/* Leaves out, until the next call, the patterns none of whose needs is in text[start, end)
 * (one pass over the range): they can match nowhere in it. 0, or -1 when out of memory. */
int kb_other_program_select(struct kb_other_program *op, const char *text, size_t start,
                            size_t end);
/* Does text[start, end) hold another program's words (the text before start is seen by
 * lookbehinds)? Returns 1 or 0, -1 when out of memory. With match_start and match_end not
 * NULL, they receive the first such words of the range (the earliest start; every pattern that
 * is not left out is run). */
int kb_other_program_first(struct kb_other_program *op, const char *text, size_t start, size_t end,
                           pcre2_match_data *md, pcre2_match_context *mc, size_t *match_start,
                           size_t *match_end);
/* Reads the SMTP dialogue in the normalised text (and the original lines it came from, whose
 * direction markers normalisation strips). Fills d (released with kb_dialogue_release, also
 * on error); format stays NULL when the text holds no dialogue. Linear in the input. */
enum kb_status kb_dialogue_read(const struct kb_norm *norm, struct kb_dialogue *d);
void kb_dialogue_release(struct kb_dialogue *d);
/* The same, adding to *work (when not NULL) how many bytes it looked at: the unit tests check
 * that this stays linear in the input, whatever the input. */
enum kb_status kb_dialogue_read_counted(const struct kb_norm *norm, struct kb_dialogue *d,
                                        size_t *work);

#endif
