/*
 * cli.h - pieces of the kb-lookup program: input reading and the three printers. Printers
 * only format what libkb returned; they never match or rank.
 */
#ifndef KB_CLI_H
#define KB_CLI_H

#include <stdio.h>

#include "kb.h"

struct print_options {
    int color;           /* ANSI colour and emphasis */
    int explain;         /* show how each score was made */
    size_t width;        /* text: wrap to this many columns (0: do not wrap) */
    int full;            /* text: the long form ("Why it happens" and every answer in full) */
    int all_providers;   /* keep the steps for every provider, whatever the text shows */
    const char *id_json; /* JSON: an id (as JSON text) to put first in the answer, or NULL */
    /* A KB of several layers (kb_db_layer_add): each entry printed names its layer. NULL for
     * a KB of one layer, whose answers look as they always did. */
    const struct kb_db *layers;
};

/* The label kb-lookup gives the KB embedded in it. */
#define CLI_BUILTIN_LABEL "built-in knowledge base"

/* The short tag of the layer entry e comes from, for the text and Markdown answers: the
 * layer's file name without its folder and ".db" ("built-in" for the embedded KB); into buf
 * (truncated to size). */
const char *cli_layer_tag(const struct kb_db *layers, const struct kb_entry *e, char *buf,
                          size_t size);

/* Width of the text answer when standard output is no terminal (documented in --help and
 * kb-lookup(1)), and the widest a terminal's lines get: longer lines read badly. */
#define CLI_PIPE_WIDTH 80
#define CLI_MAX_WIDTH 100

/* A value filled into the text answer (the customer's host, port...) is shown between these;
 * the wrapper (wrap.c) restores the colour of code after WRAP_VALUE_OFF. */
#define WRAP_VALUE_ON "\x1b[1;33m"
#define WRAP_VALUE_OFF "\x1b[22;39m"

/* Writes text (lines separated by '\n', may hold SGR colour sequences) to out: the first line
 * after prefix, every other line and every continuation row after cont_prefix (NULL: the same
 * as prefix), each line broken at spaces to fit width columns (0: no wrapping) with its list
 * marker's hanging indentation; code (the KB's ANSI code colour) and words are never broken.
 * Without color every SGR sequence is dropped. Blank lines stay empty. */
void cli_wrap(FILE *out, const char *text, const char *prefix, const char *cont_prefix,
              size_t width, int color);
/* Columns s takes on a terminal (SGR sequences take none). */
size_t cli_columns(const char *s);

/* Reads all of stdin into *out (NUL-terminated, *len bytes, may hold NULs). Fails with
 * KB_ERR_TOO_LARGE past max bytes, KB_ERR_IO on a read error (errno kept). */
enum kb_status cli_read_stdin(size_t max, char **out, size_t *len);

/* The renderings of an entry's texts each result printer shows (kb_db_texts_set): the
 * terminal's prints the ANSI text and asks whether the plain tell-apart check is empty. */
#define CLI_TEXTS_JSON (KB_TEXTS_PLAIN | KB_TEXTS_MARKDOWN)
#define CLI_TEXTS_MARKDOWN KB_TEXTS_MARKDOWN
#define CLI_TEXTS_TERMINAL (KB_TEXTS_PLAIN | KB_TEXTS_ANSI)

/* Result printers. Return 0, or -1 if writing failed. */
int print_result_text(FILE *out, const struct kb_db *db, const struct kb_result *r,
                      const struct print_options *opt);
int print_result_markdown(FILE *out, const struct kb_db *db, const struct kb_result *r,
                          const struct print_options *opt);
int print_result_json(FILE *out, const struct kb_db *db, const struct kb_result *r,
                      const struct print_options *opt);

/* --show and --list. */
int print_entry_text(FILE *out, const struct kb_entry *e, const struct print_options *opt);
int print_entry_markdown(FILE *out, const struct kb_entry *e);
int print_entry_json(FILE *out, const struct kb_db *db, const struct kb_entry *e);
/* --list: one call per entry, then finish (JSON needs its closing brackets). */
int print_list_begin_json(FILE *out, const struct kb_db *db);
int print_list_item(FILE *out, const struct kb_entry *e, int json, int first,
                    const struct kb_db *layers);
int print_list_end_json(FILE *out);

/* The facts of a result worth showing, as label/value pairs (value NULL when not found);
 * numbers are formatted into the caller's buffers. Returns the number of pairs (always 8).
 * The customer's own values (host, port, user) carry the input line they were read from in
 * line[] (0 for the other facts): printers show those apart, "values from your text". */
struct fact_list {
    const char *label[9];
    const char *value[9];
    size_t line[9];
    char code[16], port[16];
};
size_t cli_fact_list(const struct kb_result *r, struct fact_list *out);

/* The dialogue read from the text in one sentence for a support agent ("connected to port
 * 465, no greeting from the server, then the server closed the connection"), into buf
 * (truncated to size). Returns 0, buf untouched, when the text held no dialogue. */
int cli_dialogue_sentence(const struct kb_dialogue *d, char *buf, size_t size);
/* The dialogue's fields under the names the articles' conditions use, for --explain
 * ("dialogue=swaks connected=yes greeting=no ..."). */
int cli_dialogue_fields(const struct kb_dialogue *d, char *buf, size_t size);
/* When the evidence does not settle the cause: how many of the first matches the agent must
 * choose between (1 when the first is conclusive), and in *tied how many of them share the
 * top score. Tied signature matches, or, when the first is not exact, the matches of the same
 * kind of evidence at least half as strong as it; never answers for a bounce's recipients. */
size_t cli_contenders(const struct kb_result *r, size_t *tied);
/* The delivery report of a result worth a "Bounce:" block (a report of the delivery leg), or
 * NULL; and what failed, in words ("the delivery to the recipient's server"). */
const struct kb_report *cli_bounce(const struct kb_result *r);
const char *cli_leg_words(const char *leg);
/* A report whose every recipient is only delayed is a warning, not a bounce: its block is
 * headed "Delay warning" and says the server is still trying. heading: the block's first word;
 * the words of what happened. */
int cli_report_delayed(const struct kb_report *rep);
const char *cli_report_heading(const struct kb_report *rep);
const char *cli_report_what(const struct kb_report *rep);
/* How a report's format is named after the leg: "report" (print "postfix report"), or the
 * words for a format that is no report of its own (a diagnostic line pasted alone). */
const char *cli_report_words(const char *format);

/* What to say when no entry answers (nomatch.c): the meaning of the text's status code, and
 * a few sentences (what the text looks like when it is not about mail, the code's generic
 * meaning, the nearest entry, the next step), code quoted with backticks for Markdown and
 * JSON, with single quotes for the terminal. Released with cli_nomatch_release. */
#define CLI_NOMATCH_MAX 4
struct cli_nomatch {
    const char *status_class, *status_meaning; /* static, NULL when no valid status code */
    char *advice[CLI_NOMATCH_MAX];
    size_t count;
};
void cli_nomatch_read(const struct kb_result *r, int markdown, struct cli_nomatch *n);
void cli_nomatch_release(struct cli_nomatch *n);

/* JSON helpers shared by the printers. */
void json_string(FILE *out, const char *s);
/* The same for n bytes that may hold NULs (written as \u0000). */
void json_string_len(FILE *out, const char *s, size_t n);

/* ---- kb-lookup --serve (serve.c) and the miss log (miss_log.c) ------------------------- */

/* Where unanswered questions are logged (--log-misses, KB_LOG_MISSES); path NULL: nowhere. */
struct cli_miss_log {
    const char *path;
    int warned; /* a failure to write was reported once already */
};

/* Did the lookup miss: no match, or only weak ones (and the text is not a message that reports
 * no failure)? */
int cli_is_miss(const struct kb_result *r);

/* Appends one line about a miss to log->path: O_APPEND, one write() of at most
 * CLI_MISS_LINE_MAX bytes, so several processes can share the file. Does nothing when path is
 * NULL or r is no miss. A failure is reported on stderr once and otherwise ignored: the answer
 * matters more than its log. */
void cli_miss_log_write(struct cli_miss_log *log, const struct kb_db *db, const char *text,
                        size_t len, const struct kb_result *r);
#define CLI_MISS_LINE_MAX 4096

struct cli_serve_options {
    size_t top;       /* default for requests without "top" */
    size_t max_input; /* per request */
    int explain;      /* default for requests without "explain" */
    const char *lang; /* default for requests without "lang" (--lang or the locale; NULL) */
    struct cli_miss_log *miss_log;
};

/* The line limit of --serve for a given --max-input: a text of max_input bytes fits however
 * it is escaped (\u00XX is 6 bytes a byte), with 64 KiB for the other members. */
size_t cli_serve_max_line(size_t max_input);

/* Answers JSON requests read from stdin, one a line, with one JSON line each on stdout, until
 * end of input. Returns the exit status: 0 at end of input, 2 when stdin cannot be read or
 * stdout written. */
int cli_serve(struct kb_db *db, const struct cli_serve_options *o);

#endif
