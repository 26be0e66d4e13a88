/*
 * kbc.h - kb-compile's internal header: the in-memory model of a knowledge base and the
 * functions of each compiler stage.
 *
 * Pipeline (main.c drives it):
 *   scan.c      KB_DIR -> sorted list of *.md files, read whole
 *   parse.c     one file -> front matter, cmark AST -> article, entries, signatures, examples
 *   render.c    AST ranges -> plain text, ANSI text, Markdown (lookup does not link cmark)
 *   harvest.c   AST ranges -> sections for full text, and the code-like evidence of the prose
 *               (status codes, error identifiers, quoted error strings) weighted across the KB
 *   providers.c kb-provider blocks: the providers the KB declares, checked and written
 *   clients.c   kb-client blocks: the programs (mail libraries, servers, tools) it knows
 *   keyed.c     the "key: value" lines of those blocks, read one way
 *   validate.c  checks across files: ids, links, also=, providers, placeholders; derives
 *               foreign ids
 *   write.c     the SQLite database in a temporary file, renamed into place at the end
 *   selftest.c  every example run through libkb's kb_query_run on the new database
 *   diag.c      collects "path:line:col: error: message" diagnostics, printed sorted
 *   sha256.c    build hash of the sources
 * Nothing here is used outside compiler/. Strings in the model are heap-owned by the struct
 * that holds them and freed by its _release function.
 */
#ifndef KBC_H
#define KBC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmark.h>

#include "kb.h"
#include "kb_buf.h"
#include "kb_schema.h"

#define KBC_PROGRAM "kb-compile"
#define KBC_MAX_FILE_SIZE ((size_t)64 * 1024 * 1024) /* one article at most 64 MiB */
#define KBC_BINARY_PROBE 8192                        /* NUL in the first 8 KB: binary */
#define KBC_MAX_ID_LEN 64
#define KBC_SELFTEST_TOP 3

/* Small helpers shared by all stages (in diag.c). */
void *kbc_grow(void *items, size_t *alloc, size_t count, size_t size); /* NULL: no memory */
char *kbc_strndup(const char *s, size_t len);                          /* NULL: no memory */
/* The length of the well-formed UTF-8 character at s (at most n bytes; overlong forms,
 * surrogates and code points past U+10FFFF are not), with its code point in *cp; 0 when the
 * bytes there are not one. */
size_t kbc_utf8_char(const unsigned char *s, size_t n, uint32_t *cp);

/* ---- diagnostics (diag.c) ---------------------------------------------------------------- */

enum kbc_severity { KBC_WARNING = 0, KBC_ERROR = 1 };

struct kbc_diag {
    char *path; /* as shown: KB_DIR joined with the relative path */
    size_t line, col;
    enum kbc_severity severity;
    char *message;
    size_t seq; /* insertion order: keeps the sort stable */
};

struct kbc_diags {
    struct kbc_diag *items;
    size_t count, alloc;
    size_t errors, warnings;
    int nomem; /* a diagnostic was lost for lack of memory: counts as an error */
};

void kbc_diags_init(struct kbc_diags *diags);
void kbc_diags_release(struct kbc_diags *diags);
/* Records one diagnostic. line 0: it is about the path as a whole (a folder), printed
 * without a position; col 0 prints as 1. Out of memory sets diags->nomem. */
void kbc_diag(struct kbc_diags *diags, enum kbc_severity severity, const char *path, size_t line,
              size_t col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
struct kbc_files;
/* Prints all diagnostics sorted by path, line, column (then insertion order) to out, each
 * with its source line and a caret under the column when files holds the file it names;
 * color: ANSI colours as clang uses them. */
void kbc_diags_print(struct kbc_diags *diags, const struct kbc_files *files, int color, FILE *out);
static inline int kbc_diags_failed(const struct kbc_diags *diags)
{
    return diags->errors > 0 || diags->nomem;
}

/* ---- files (scan.c) ---------------------------------------------------------------------- */

struct kbc_file {
    char *rel;     /* path relative to KB_DIR, '/'-separated */
    char *display; /* path used in messages */
    char *data;    /* whole content, NUL-terminated; NULL when unreadable */
    size_t len;
};

struct kbc_files {
    struct kbc_file *items;
    size_t count, alloc;
};

/* Walks root for *.md files (see kb/README.md), sorted by relative path, and reads each.
 * Unreadable files are reported in diags and kept with data NULL. Returns KB_ERR_IO with a
 * message when root itself cannot be opened, KB_ERR_NOMEM when out of memory. */
enum kb_status kbc_scan(const char *root, struct kbc_files *files, struct kbc_diags *diags,
                        struct kb_error *err);
void kbc_files_release(struct kbc_files *files);

/* Hex SHA-256 (65 bytes with NUL) over every read file: rel, NUL, decimal size, NUL, data. */
void kbc_build_hash(const struct kbc_files *files, char out[65]);

/* ---- SHA-256 (sha256.c) ------------------------------------------------------------------ */

struct kbc_sha256 {
    uint32_t state[8];
    uint64_t bytes;
    unsigned char block[64];
    size_t used;
};

void kbc_sha256_init(struct kbc_sha256 *ctx);
void kbc_sha256_update(struct kbc_sha256 *ctx, const void *data, size_t len);
void kbc_sha256_final(struct kbc_sha256 *ctx, unsigned char digest[32]);
/* digest as 64 lowercase hex digits plus NUL. */
void kbc_sha256_hex(const unsigned char digest[32], char out[65]);

/* ---- the model --------------------------------------------------------------------------- */

struct kbc_sig {
    enum kb_sig_kind kind;
    char *source;  /* as written, without "re:" */
    char *pattern; /* what PCRE2 compiles */
    double weight;
    enum kb_sig_context context;
    char *captures; /* comma-separated named groups */
    int has_anchor;
    int64_t anchor;
    size_t line, col;
    unsigned regions;   /* region=: bit mask of the delivery-report regions it may also match */
    char *when;         /* when=: the condition under which it applies, NULL for always */
    const char *origin; /* NULL: written by the author; else where it was harvested (static) */
    size_t section;     /* harvested: index into the entry's sections */
    const char *file;   /* the file it is written in when not its article's (a translation's
                         * name.LANG.md): line and col are in that file; not owned */
};

/* One line of a kb-conditions block (kb_conditions.h), validated by libkb's parser. */
struct kbc_condition {
    char *source; /* the line as written, trimmed */
    double weight;
    size_t line, col;
};

struct kbc_example {
    int counter;
    int fulltext; /* via=fulltext: meant for the full-text stage, not the entry's signatures */
    char *text;
    char *also; /* comma-separated ids, "" if none */
    size_t line, col;
};

/* A line of a kb-provider-steps block: the steps of the solution that start with label (or
 * have it in bold) apply to these providers only. */
struct kbc_step_mark {
    char *label;
    char *providers; /* "a,b", validated facet values */
    size_t line, col;
};

/* A part of the solution for some providers only (steps.c): a list item or a sub-section the
 * marks point to, at [start, end) of each rendering (KB_FORM_TEXT, _ANSI, _MARKDOWN). */
struct kbc_step {
    int part;        /* 0: in the Fix section; 1, 2...: in the sections after it (Verify...) */
    char *labels;    /* the labels that marked it, ", "-joined */
    char *providers; /* "a,b": the union of their providers */
    size_t start[3], end[3];
};

/* One step of the solution as programs get it (structure.c): a list item of the Fix or of
 * Verify, the text of the Fix before its first step, or the hand-over section. The commands
 * are its code blocks and the code spans that hold a placeholder, as written. */
struct kbc_fix_step {
    int part;        /* enum kb_fix_part */
    long number;     /* the step's number (its list's numbering, or counted); 0 for intro and
                      * hand-over */
    char *providers; /* "a,b" when a kb-provider-steps line marks the step itself, else "" */
    char *text, *md; /* plain text and Markdown, placeholders as written */
    char **commands;
    size_t command_count, command_alloc;
};

/* A placeholder {{name|default}} seen in an entry's prose or code. */
struct kbc_placeholder {
    char *name;
    int has_default;
    size_t line, col;
};

/* Where in an entry a piece of harvested evidence was found; later tiers say more about what
 * the entry is about. */
enum kbc_tier { KBC_TIER_BODY = 0, KBC_TIER_CODE, KBC_TIER_HEADING, KBC_TIER_TITLE };

/* A code-like token or a quoted error string found in an entry's prose (harvest.c). */
struct kbc_harvest {
    char *text; /* matched as a literal */
    enum kbc_tier tier;
    int phrase;     /* a quoted or code-span phrase, not a single token */
    int ranged;     /* one of the codes a range ("5.7.606-649") stands for, after its first */
    int setting;    /* a name shown assigned ("SSL_TYPE=manual"): what is set up, not an error */
    size_t line;    /* 0 for the title and the path */
    size_t section; /* index into the entry's sections */
};

/* A part of an entry that full text indexes and ranks on its own (harvest.c). */
struct kbc_section {
    char *heading; /* plain text; "" for the part of a foreign article before its first heading */
    char *anchor;  /* the heading as a URL fragment (GitHub style), "" when none */
    size_t line;
    char *code;      /* text of its code spans and code blocks */
    char *body;      /* its other text */
    char *links;     /* the relative .md links in it as written, one a line ("" none) */
    size_t *targets; /* the articles (index in kb) they lead to, set by harvest_finish */
    size_t target_count;
    int64_t row_id; /* section.id in the database, set by the writer */
    int table_row;  /* a row of a table, a section of its own */
};

enum kbc_ref_kind {
    KBC_REF_RELATED,
    KBC_REF_LINK,
    KBC_REF_ALSO,
    KBC_REF_PROVIDER,
    KBC_REF_STEP_PROVIDER
};

/* A reference to an entry id that must exist (related:, [text](kb:id), also=), or to a
 * provider the KB declares (an entry's provider: value, a provider of a kb-provider-steps
 * line). */
struct kbc_ref {
    enum kbc_ref_kind kind;
    char *id;
    size_t line, col;
};

struct kbc_entry {
    char *id; /* NULL until known (foreign entries get theirs in kbc_validate) */
    size_t id_line, id_col;
    char *title;
    size_t line, col; /* the level-2 heading (1:1 for foreign files) */
    char *provider, *audience, *related;
    char *why_text, *why_ansi, *why_md;
    char *tell_text, *tell_ansi, *tell_md; /* "Tell it apart": the check that singles it out */
    char *solution_text, *solution_ansi, *solution_md;
    char *body_md;
    char *body_text; /* plain text of the entry, for the full-text index only */
    int fulltext_only;
    struct kbc_sig *sigs;
    size_t sig_count, sig_alloc;
    struct kbc_example *examples;
    size_t example_count, example_alloc;
    struct kbc_condition *conditions;
    size_t condition_count, condition_alloc;
    struct kbc_placeholder *placeholders;
    size_t placeholder_count, placeholder_alloc;
    struct kbc_harvest *harvest;
    size_t harvest_count, harvest_alloc;
    struct kbc_section *sections;
    size_t section_count, section_alloc;
    struct kbc_step_mark *marks; /* kb-provider-steps lines */
    size_t mark_count, mark_alloc;
    struct kbc_step *steps; /* what they mark, in document order */
    size_t step_count, step_alloc;
    struct kbc_fix_step *fix; /* the solution's structure, in document order (structure.c) */
    size_t fix_count, fix_alloc;
    int64_t row_id; /* entry.id in the database, set by the writer */
};

struct kbc_article {
    const struct kbc_file *file; /* not owned */
    char *title;
    char *intro_md;
    int foreign; /* no kb- block: one full-text-only entry */
    struct kbc_entry *entries;
    size_t entry_count, entry_alloc;
    struct kbc_ref *refs;
    size_t ref_count, ref_alloc;
};

/* A provider the KB declares: a kb-provider block (providers.c). */
struct kbc_provider {
    char *id;
    char *name;
    char *hosts;                 /* comma-separated, lowercase */
    char *words;                 /* comma-separated, as written */
    char *submission_host;       /* its users' submission server ("" when none declared) */
    int submission_port;         /* that server's port, 0 when none */
    const struct kbc_file *file; /* not owned */
    size_t line, col;            /* the block */
    size_t id_line, id_col;
};

/* A program the KB knows by the text it prints: a kb-client block (clients.c). */
struct kbc_client {
    char *id;
    char *name;
    char *role;                  /* mailer, mail-server or tool */
    char *words;                 /* comma-separated, as written: text that names it */
    char *smtp_words;            /* comma-separated: its messages that speak of SMTP only */
    const struct kbc_file *file; /* not owned */
    size_t line, col;            /* the block */
    size_t id_line, id_col;
};

/* An id a kb-hide block hides in the KB this one is stacked on (kb-compile --base). */
struct kbc_hide {
    char *id;
    const struct kbc_file *file; /* not owned */
    size_t line, col;
};

/* An article in another language: name.LANG.md beside name.md (layers.c reads them apart). */
struct kbc_translation {
    char *lang;      /* "de", "pt_BR" */
    size_t original; /* the article it translates: index into kb->articles */
    int reviewed;    /* its front matter says "reviewed: yes" */
    struct kbc_article article;
};

struct kbc_kb {
    struct kbc_article *articles;
    size_t count, alloc;
    struct kbc_provider *providers; /* in declaration order: files by path, blocks in order */
    size_t provider_count, provider_alloc;
    struct kbc_client *clients; /* in declaration order, as providers */
    size_t client_count, client_alloc;
    struct kbc_hide *hides; /* in the order written: files by path, blocks in order */
    size_t hide_count, hide_alloc;
    /* kb-compile --base: the KB it is compiled against (its layers stacked, not owned), and
     * the build hash stored as the new database's "base"; NULL when it is a whole KB */
    struct kb_db *base;
    const char *base_build;
    /* The KB's default language (a kb-language block), NULL when it declares none, and the
     * translations, taken out of articles (kbc_translations_split). */
    char *language;
    size_t language_line;
    const struct kbc_file *language_file;
    struct kbc_translation *translations;
    size_t translation_count, translation_alloc;
};

void kbc_kb_release(struct kbc_kb *kb);

/* ---- parse.c ----------------------------------------------------------------------------- */

/* The plain text of a node's inline content (text and code, breaks as spaces), as one line,
 * into out (reset first; "" when none). Fails only when out of memory. */
enum kb_status kbc_inline_text(cmark_node *node, struct kb_buf *out);

/* Parses one read file into kb (appending zero or one article). Problems go to diags; a
 * skipped file (empty, binary, too deeply nested) adds a warning and no article. Fails only
 * when out of memory. */
enum kb_status kbc_parse_file(const struct kbc_file *file, struct kbc_kb *kb,
                              struct kbc_diags *diags);

/* ---- render.c ---------------------------------------------------------------------------- */

enum kbc_style { KBC_PLAIN = 0, KBC_ANSI = 1, KBC_MD = 2 };

/* How the Markdown rendering writes a link to another entry ([text](kb:id)) until
 * kbc_links_resolve knows every entry's title: OPEN text MID id CLOSE. An article's own
 * control bytes that do not form this shape stay as they are. */
#define KBC_LINK_OPEN "\x02"
#define KBC_LINK_MID "\x03"
#define KBC_LINK_CLOSE "\x04"

/* Appends the rendering (KBC_PLAIN, KBC_ANSI: for a terminal; KBC_MD: CommonMark) of the
 * sibling blocks [first, end) (end may be NULL for "to the last sibling"). Code blocks whose
 * info string starts with "kb-" are left out. */
enum kb_status kbc_render_text(cmark_node *first, cmark_node *end, enum kbc_style style,
                               struct kb_buf *out);

/* Appends the CommonMark rendering of the sibling blocks [first, end): kbc_render_text with
 * KBC_MD. Paragraphs are single lines, code blocks fenced, text escaped only where CommonMark
 * needs it; links to entries are left for kbc_links_resolve. */
enum kb_status kbc_render_md(cmark_node *first, cmark_node *end, struct kb_buf *out);

/* ---- harvest.c --------------------------------------------------------------------------- */

/* Collects the evidence and the sections of the sibling blocks [first, end) into e: one
 * section for all of them, or (split) a new one at every heading of level 1 to 3. Code blocks
 * whose info string starts with "kb-" are left out. Fails only when out of memory. */
enum kb_status kbc_harvest_blocks(struct kbc_entry *e, cmark_node *first, cmark_node *end,
                                  int split);

/* Collects the evidence of a title-like text (article or entry title, front-matter
 * description, the file's path) at the given tier into section 0. */
enum kb_status kbc_harvest_title(struct kbc_entry *e, const char *text, enum kbc_tier tier);

/* Once every file is parsed: weighs each entry's harvested evidence by where it was found, by
 * how many codes the entry lists, and by how many entries share it, and adds what carries
 * weight to the entry's signatures (origin set). In a KB with context=mail signatures the
 * harvested ones get context=mail too. */
enum kb_status kbc_harvest_finish(struct kbc_kb *kb);

/* ---- steps.c: provider-specific steps ---------------------------------------------------- */

/* The byte around the markers steps.c puts into a rendering ("\x1f" code "\x1f"), which
 * structure.c reads and removes as well. */
#define KBC_SENTINEL '\x1f'

/* The sentinel nodes kbc_steps_mark puts into the tree, removed by kbc_steps_unmark. */
struct kbc_sentinels {
    cmark_node **nodes;
    size_t count, alloc;
};

/* Finds the steps (list items) and sub-sections (headings of level 4 to 6) of the solution
 * [first, end) that e's marks point to, reports the marks that point to none, and puts a
 * sentinel in each so the renderings can be cut (kbc_steps_cut). Fails only when out of
 * memory (the sentinels put so far are still in out). */
enum kb_status kbc_steps_mark(struct kbc_entry *e, cmark_node *first, cmark_node *end,
                              const char *path, struct kbc_diags *diags, struct kbc_sentinels *out);
/* Takes the sentinels out of the tree again and releases the list. */
void kbc_steps_unmark(struct kbc_sentinels *s);
/* Takes the sentinels out of one rendering of the solution (*text, reallocated) and records
 * where each step starts and ends in it (form: KB_FORM_TEXT, _ANSI or _MARKDOWN). */
enum kb_status kbc_steps_cut(struct kbc_entry *e, int form, char **text);
void kbc_steps_release(struct kbc_entry *e);

/* ---- structure.c: the solution's steps for programs ------------------------------------- */

/* Reads the structure of an entry's solution: fix is its Fix heading, end where the entry
 * ends; the sections after it are told by their headings (Verify, When to hand over). Call it
 * while kbc_steps_mark's sentinels are in the tree: they say which steps a provider line
 * marks (and are left out of what is stored). Fails only when out of memory. */
enum kb_status kbc_structure_read(struct kbc_entry *e, cmark_node *fix, cmark_node *end);
void kbc_structure_release(struct kbc_entry *e);

/* Once every entry is known: the Markdown renderings' links to other entries written as
 * something that opens outside the tool ('text (see "Title": `kb-lookup --show id`)').
 * Fails only when out of memory. */
enum kb_status kbc_links_resolve(struct kbc_kb *kb);

/* ---- keyed.c ---------------------------------------------------------------------------- */

/* A block of "key: value" lines that declares something of the KB (kb-provider, kb-client). */
struct kbc_keyed_block {
    const char *name;        /* "kb-provider", for messages */
    const char *path;        /* the file, for messages */
    const char *const *keys; /* the keys it knows (at most 32) */
    size_t key_count;
    /* takes the value of keys[key], v[0, n) trimmed, at line:col; problems go to diags;
     * fails only when out of memory */
    enum kb_status (*value)(void *ctx, size_t key, const char *v, size_t n, size_t line, size_t col,
                            struct kbc_diags *diags);
    void *ctx;
};

/* Reads a block's lines (text: its content; line, col: its fence), handing each known key's
 * value to block->value; a line without a colon, an unknown key or a key given twice is an
 * error at its line. *seen: bit k set when keys[k] was given. Blank lines and "# comments"
 * say nothing. Fails only when out of memory. */
enum kb_status kbc_keyed_block_read(const struct kbc_keyed_block *block, const char *text,
                                    size_t line, size_t col, struct kbc_diags *diags,
                                    unsigned *seen);
/* Appends the comma-separated items of v[0, n), each trimmed, empty ones left out, to out
 * joined by ",". */
enum kb_status kbc_keyed_list(const char *v, size_t n, struct kb_buf *out);

/* ---- providers.c ------------------------------------------------------------------------- */

/* Reads one kb-provider block (text: its content; line, col: its fence) of file into
 * kb->providers; problems go to diags. Fails only when out of memory. */
enum kb_status kbc_provider_parse(struct kbc_kb *kb, const struct kbc_file *file, const char *text,
                                  size_t line, size_t col, struct kbc_diags *diags);
/* The provider of this id (the first declared), or NULL. */
const struct kbc_provider *kbc_provider_find(const struct kbc_kb *kb, const char *id, size_t len);
/* Appends the declared ids, ", "-separated, to out (for messages). */
enum kb_status kbc_providers_list(const struct kbc_kb *kb, struct kb_buf *out);
/* Checks across the KB: a provider declared twice is an error at the second. */
void kbc_providers_check(const struct kbc_kb *kb, struct kbc_diags *diags);
/* Inserts the provider table's rows (inside the writer's transaction). */
enum kb_status kbc_providers_write(sqlite3 *db, const struct kbc_kb *kb, struct kb_error *err);
void kbc_providers_release(struct kbc_kb *kb);

/* ---- clients.c --------------------------------------------------------------------------- */

/* Reads one kb-client block (text: its content; line, col: its fence) of file into
 * kb->clients; problems go to diags. Fails only when out of memory. */
enum kb_status kbc_client_parse(struct kbc_kb *kb, const struct kbc_file *file, const char *text,
                                size_t line, size_t col, struct kbc_diags *diags);
/* Checks across the KB: a client declared twice is an error at the second. */
void kbc_clients_check(const struct kbc_kb *kb, struct kbc_diags *diags);
/* Inserts the client table's rows (inside the writer's transaction). */
enum kb_status kbc_clients_write(sqlite3 *db, const struct kbc_kb *kb, struct kb_error *err);
void kbc_clients_release(struct kbc_kb *kb);

/* ---- validate.c -------------------------------------------------------------------------- */

/* Checks across the whole KB: id syntax and uniqueness, references, placeholders; assigns
 * derived ids to foreign entries. Problems go to diags. Fails only when out of memory. */
enum kb_status kbc_validate(struct kbc_kb *kb, struct kbc_diags *diags);

/* Is this a valid entry id? ([a-z0-9]+(-[a-z0-9]+)*, at most 64 characters) */
int kbc_id_valid(const char *id, size_t len);

/* ---- write.c ----------------------------------------------------------------------------- */

struct kbc_counts {
    size_t articles, entries, signatures, harvested, examples;
};

/* Builds the database for kb in memory and returns its image, every page sealed with its
 * checksum, in *image (*len bytes; free with sqlite3_free). build_hash is the hex SHA-256;
 * source_date may be NULL. Sets each entry's row_id. */
enum kb_status kbc_write_db(struct kbc_kb *kb, const char *build_hash, const char *source_date,
                            struct kbc_counts *counts, unsigned char **image, size_t *len,
                            struct kb_error *err);

/* The temporary output file, in the output's folder: unnamed (O_TMPFILE) where the file system
 * allows, else "<out>.tmp-XXXXXX" (registered so SIGINT/SIGTERM remove it); locked by this
 * process either way. kbc_tmp_create first removes the temporary files of out whose owner is
 * gone (their lock can be taken). */
struct kbc_tmp {
    char *path; /* its name, or NULL while it has none */
    int fd;
};
enum kb_status kbc_tmp_create(const char *out, struct kbc_tmp *tmp, struct kb_error *err);
/* Writes len bytes of data to it. */
enum kb_status kbc_tmp_write(struct kbc_tmp *tmp, const void *data, size_t len,
                             struct kb_error *err);
/* fsyncs it, names it when unnamed, and renames it over out; on failure it is removed. */
enum kb_status kbc_tmp_commit(struct kbc_tmp *tmp, const char *out, struct kb_error *err);
/* Removes the temporary file (if any) and forgets it. Safe to call twice. */
void kbc_tmp_discard(struct kbc_tmp *tmp);
/* Installs the signal handlers (SIGINT, SIGTERM, SIGHUP, crashes) that remove the registered
 * temporary file, then re-raise the signal. */
void kbc_install_signal_handlers(void);

/* ---- gaps.c: kb-compile --gaps MISS_LOG... ---------------------------------------------- */

/* Is --gaps among the options? Then kbc_gaps_main runs instead of a compile. */
int kbc_gaps_wanted(int argc, char **argv);
/* Groups the miss logs named on the command line, prints the groups; returns the exit code. */
int kbc_gaps_main(int argc, char **argv);

/* ---- selftest.c -------------------------------------------------------------------------- */

/* Runs every example and counter-example of kb through kb_query_run on the database image
 * (len bytes; label names it in messages); failures go to diags as errors. *checked counts the
 * examples run. */
enum kb_status kbc_selftest(const unsigned char *image, size_t len, const char *label,
                            const struct kbc_kb *kb, struct kbc_diags *diags, size_t *checked,
                            struct kb_error *err);

/* ---- layers.c: compiling an overlay against its base (kb-compile --base) ----------------- */

/* Reads a kb-hide block (one entry id a line; blank lines and '#' comments left out) into
 * kb->hides. Fails only when out of memory. */
enum kb_status kbc_hide_parse(struct kbc_kb *kb, const struct kbc_file *file, const char *text,
                              size_t line, size_t col, struct kbc_diags *diags);
/* Reads a kb-language block ("default: LANG") into kb->language. */
enum kb_status kbc_language_parse(struct kbc_kb *kb, const struct kbc_file *file, const char *text,
                                  size_t line, size_t col, struct kbc_diags *diags);
/* Takes the translations (name.LANG.md beside name.md) out of kb->articles: each entry of one
 * must be an entry of its original (an error otherwise), whose signatures it adds to; its
 * examples stay with it (the self-test runs them for the original's id). Also checks the
 * entry ids its links and related: name. */
enum kb_status kbc_translations_split(struct kbc_kb *kb, struct kbc_diags *diags);
/* The original entry of translation t's entry te. */
const struct kbc_entry *kbc_translation_original(const struct kbc_kb *kb,
                                                 const struct kbc_translation *t,
                                                 const struct kbc_entry *te);
/* One line per language on out: how many entries it translates, how many of them are
 * reviewed, how many are untranslated. Nothing when the KB has no translations. */
void kbc_translations_stats(const struct kbc_kb *kb, FILE *out);
/* Is id an entry of the base (kb->base), as a lookup through it sees it? */
int kbc_base_has(const struct kbc_kb *kb, const char *id);
/* The ids the overlay takes from its base, reported in its own files before it is stacked:
 * each entry that replaces one of the base, each hidden id the base does not hold or the
 * overlay defines too. Warnings (a hidden id defined too: an error), errors when strict. */
void kbc_overlay_ids(const struct kbc_kb *kb, int strict, struct kbc_diags *diags);
/* Stacks the new database (image, which must outlive kb->base) on kb->base: the self-test
 * and kbc_overlay_check then read the combined KB. */
enum kb_status kbc_overlay_stack(struct kbc_kb *kb, const unsigned char *image, size_t len,
                                 const char *label, struct kb_error *err);
/* What stacking the overlay on its base (already stacked: kbc_overlay_stack) does to the
 * base's examples, after the self-test: each one whose entry no longer ranks first because an
 * overlay entry does (image: the new database) is a warning, an error when strict. */
enum kb_status kbc_overlay_check(const unsigned char *image, size_t len, const struct kbc_kb *kb,
                                 int strict, struct kbc_diags *diags, struct kb_error *err);

#endif
