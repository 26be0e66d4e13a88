/*
 * main.c - kb-lookup: pasted error text in, the matching knowledge-base entries out.
 *
 * Input comes from the arguments or stdin. The KB is a stack of layers (kb.h): the one
 * embedded at build time, each --db or KB_DB database, then the site layers (every .db file of
 * KB_SITE_DIR); a database compiled as a whole KB (not against a base) starts the stack anew.
 * Exit codes (documented in the README and --help):
 * 0 a match, 1 no match, 2 usage, input, output or database error. Every status of libkb is
 * turned into a message and an exit code here, and only here. On a terminal the text answer
 * is fitted to its width, and an answer longer than the screen goes through a pager, as git
 * does it.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pcre2.h>
#include <sqlite3.h>

#include "cli.h"
#include "kb_schema.h"

extern const unsigned char kb_embedded_db[];
extern const unsigned char kb_embedded_db_end[];

/* Where site layers are read from when KB_SITE_DIR does not say (documented in the README and
 * kb-lookup(1)); the build may set another. */
#ifndef KB_SITE_DIR
#define KB_SITE_DIR "/etc/kb-lookup"
#endif

enum { EXIT_MATCH = 0, EXIT_NO_MATCH = 1, EXIT_ERROR = 2 };
enum format { FORMAT_TEXT, FORMAT_MARKDOWN, FORMAT_JSON };
enum mode {
    MODE_QUERY,
    MODE_LIST,
    MODE_LIST_IDS,
    MODE_SHOW,
    MODE_CHECK_DB,
    MODE_VERSION,
    MODE_HELP,
    MODE_SERVE
};

struct options {
    enum mode mode;
    enum format format;
    int format_given; /* --format or --json on the command line */
    int color;        /* -1 auto */
    int explain;
    int full;
    int all_providers;
    int no_pager;
    long width; /* --width, -1 when not given */
    size_t top;
    size_t max_input;
    const char **db_paths; /* every --db, in order (argv's strings) */
    size_t db_count;
    int no_builtin;
    int no_site;
    const char *lang; /* --lang, else NULL */
    const char *show_id;
    const char *log_misses; /* --log-misses FILE, else NULL */
    int first_text_arg;     /* index into argv of the first text argument, 0 if none */
    int text_argc;
};

static const char usage_text[] =
    "Usage: kb-lookup [OPTIONS] [ERROR TEXT...]\n"
    "       some-command 2>&1 | kb-lookup [OPTIONS]\n"
    "\n"
    "Finds the knowledge-base entries that explain a pasted error and prints their fix.\n"
    "The text comes from the arguments, or from standard input when there is none or it is '-'.\n"
    "\n"
    "Options:\n"
    "  --json               print JSON (same as --format json)\n"
    "  --format FORMAT      text (default), markdown or json\n"
    "  --top N              show at most N matches (default 3)\n"
    "  --explain            show which signatures or terms matched and how scores were made\n"
    "  --full               the long form: why it happens, and every answer in full\n"
    "  --all-providers      keep the fix steps for every provider, not only the one the text\n"
    "                       shows\n"
    "  --width N            wrap the text answer to N columns (0: do not wrap); default: the\n"
    "                       terminal's width up to 100, or 80 when not writing to a terminal\n"
    "  --no-pager           do not page a long answer on a terminal (with $PAGER, or less)\n"
    "  --list               list every entry of the knowledge base\n"
    "  --show ID            print one entry in full\n"
    "  --check-db           check the whole database (every page, every table) and exit\n"
    "  --db PATH            add this KB as a layer over the built-in one (repeatable; also\n"
    "                       KB_DB, a colon-separated list); a whole KB, not compiled as\n"
    "                       an overlay, replaces the layers before it and the site ones\n"
    "  --no-builtin         leave out the KB built into the program\n"
    "  --lang LANG          answer in this language when the KB holds it (default: from\n"
    "                       LC_ALL, LC_MESSAGES or LANG; e.g. de or de_DE.UTF-8)\n"
    "  --no-site            leave out the site layers (KB_SITE_DIR, else " KB_SITE_DIR "/*.db)\n"
    "  --max-input BYTES    refuse input larger than this (default 16M; K and M suffixes)\n"
    "  --color WHEN         auto (default), always or never; NO_COLOR turns auto off\n"
    "  --serve              answer JSON requests, one a line on stdin, with one JSON line\n"
    "                       each on stdout, until end of input (see 'man kb-lookup')\n"
    "  --log-misses FILE    append each lookup with no or only weak matches, redacted, to\n"
    "                       FILE as a JSON line (also: KB_LOG_MISSES)\n"
    "  --version            print program, schema and knowledge-base versions\n"
    "  -h, --help           print this help\n"
    "  --                   the arguments after it are error text, even if they start with -\n"
    "  -                    read the error text from standard input\n"
    "\n"
    "Exit status: 0 a match was found, 1 no match, 2 usage, input, output or database error.\n"
    "Full documentation: 'man kb-lookup'; the article format: 'man 5 kb-format'.\n";

static void usage_error(const char *fmt, const char *arg)
{
    fputs("kb-lookup: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'kb-lookup --help' for more information.\n", stderr);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    unsigned long long mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ULL * 1024 * 1024, end++;
    if (*end || v == 0 || v > SIZE_MAX / mult)
        return -1;
    *out = (size_t)(v * mult);
    return 0;
}

/* Value of an option given as "--opt VALUE" or "--opt=VALUE"; NULL if missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Returns -1 on a usage error (already reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
    int only_text = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        if (only_text || a[0] != '-' || strcmp(a, "-") == 0) {
            if (!o->first_text_arg)
                o->first_text_arg = i;
            else if (o->first_text_arg + o->text_argc != i) {
                usage_error("%s", "error text must be given as consecutive arguments");
                return -1;
            }
            o->text_argc++;
        } else if (strcmp(a, "--") == 0) {
            only_text = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->mode = MODE_HELP;
        } else if (strcmp(a, "--version") == 0) {
            o->mode = MODE_VERSION;
        } else if (strcmp(a, "--json") == 0) {
            o->format = FORMAT_JSON;
            o->format_given = 1;
        } else if (strcmp(a, "--serve") == 0) {
            o->mode = MODE_SERVE;
        } else if (is_option(a, "--log-misses")) {
            if (!(v = option_value(argc, argv, &i, "--log-misses")) || !*v) {
                usage_error("%s", "--log-misses needs a file name");
                return -1;
            }
            o->log_misses = v;
        } else if (strcmp(a, "--explain") == 0) {
            o->explain = 1;
        } else if (strcmp(a, "--full") == 0) {
            o->full = 1;
        } else if (strcmp(a, "--all-providers") == 0) {
            o->all_providers = 1;
        } else if (strcmp(a, "--no-pager") == 0) {
            o->no_pager = 1;
        } else if (is_option(a, "--width")) {
            char *end = NULL;
            v = option_value(argc, argv, &i, "--width");
            long w = v && *v >= '0' && *v <= '9' ? strtol(v, &end, 10) : -1;
            if (w < 0 || w > 10000 || *end) {
                usage_error("--width needs a number of columns from 0 to 10000, not '%s'",
                            v ? v : "");
                return -1;
            }
            o->width = w;
        } else if (strcmp(a, "--list") == 0) {
            o->mode = MODE_LIST;
        } else if (strcmp(a, "--check-db") == 0) {
            o->mode = MODE_CHECK_DB;
        } else if (strcmp(a, "--list-ids") == 0) {
            /* Hidden from --help (it is for shell completion), documented in kb-lookup(1). */
            o->mode = MODE_LIST_IDS;
        } else if (is_option(a, "--show")) {
            if (!(v = option_value(argc, argv, &i, "--show"))) {
                usage_error("%s", "--show needs an entry id");
                return -1;
            }
            o->mode = MODE_SHOW;
            o->show_id = v;
        } else if (is_option(a, "--format")) {
            if (!(v = option_value(argc, argv, &i, "--format"))) {
                usage_error("%s", "--format needs text, markdown or json");
                return -1;
            }
            if (strcmp(v, "text") == 0)
                o->format = FORMAT_TEXT;
            else if (strcmp(v, "markdown") == 0 || strcmp(v, "md") == 0)
                o->format = FORMAT_MARKDOWN;
            else if (strcmp(v, "json") == 0)
                o->format = FORMAT_JSON;
            else {
                usage_error("unknown format '%s' (text, markdown or json)", v);
                return -1;
            }
            o->format_given = 1;
        } else if (is_option(a, "--top")) {
            size_t top;
            if (!(v = option_value(argc, argv, &i, "--top")) || parse_size(v, &top) || top > 1000) {
                usage_error("--top needs a number from 1 to 1000, not '%s'", v ? v : "");
                return -1;
            }
            o->top = top;
        } else if (is_option(a, "--max-input")) {
            if (!(v = option_value(argc, argv, &i, "--max-input"))
                || parse_size(v, &o->max_input)) {
                usage_error("--max-input needs a size such as 1048576, 512K or 16M, not '%s'",
                            v ? v : "");
                return -1;
            }
        } else if (is_option(a, "--db")) {
            if (!(v = option_value(argc, argv, &i, "--db")) || !*v) {
                usage_error("%s", "--db needs a path");
                return -1;
            }
            o->db_paths[o->db_count++] = v;
        } else if (strcmp(a, "--no-builtin") == 0) {
            o->no_builtin = 1;
        } else if (strcmp(a, "--no-site") == 0) {
            o->no_site = 1;
        } else if (is_option(a, "--lang")) {
            if (!(v = option_value(argc, argv, &i, "--lang")) || !*v) {
                usage_error("%s", "--lang needs a language, such as de");
                return -1;
            }
            o->lang = v;
        } else if (is_option(a, "--color") || is_option(a, "--colour")) {
            const char *name = is_option(a, "--color") ? "--color" : "--colour";
            if (!(v = option_value(argc, argv, &i, name))) {
                usage_error("%s", "--color needs auto, always or never");
                return -1;
            }
            if (strcmp(v, "auto") == 0)
                o->color = -1;
            else if (strcmp(v, "always") == 0)
                o->color = 1;
            else if (strcmp(v, "never") == 0)
                o->color = 0;
            else {
                usage_error("--color needs auto, always or never, not '%s'", v);
                return -1;
            }
        } else if (strpbrk(a, " \t\n")) {
            /* a pasted transcript line ("--> 535 5.7.8 ...") is text, not an option */
            usage_error("unknown option '%s'\nkb-lookup: to look up text that starts with '-', "
                        "put '--' before it (kb-lookup -- '--> 535 ...') or pipe it in "
                        "(... | kb-lookup -)",
                        a);
            return -1;
        } else {
            usage_error("unknown option '%s'", a);
            return -1;
        }
    }
    return 0;
}

/* The paths of the layers after the built-in one, in order: every --db, or else every path of
 * KB_DB, then the site layers (*.db of the site folder, sorted; none when it does not exist),
 * from index `site` on. */
struct layer_paths {
    char **v;
    size_t n, alloc;
    size_t site;
};

static int add_path(struct layer_paths *p, const char *s, size_t len)
{
    if (p->n == p->alloc) {
        size_t na = p->alloc ? 2 * p->alloc : 8;
        char **v = realloc(p->v, na * sizeof *v);
        if (!v)
            return -1;
        p->v = v;
        p->alloc = na;
    }
    if (!(p->v[p->n] = strndup(s, len)))
        return -1;
    p->n++;
    return 0;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns 0, or -1 after saying why. */
static int site_layers(struct layer_paths *p)
{
    const char *dir = getenv("KB_SITE_DIR");
    if (!dir || !*dir)
        dir = KB_SITE_DIR;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0; /* read when present */
        fprintf(stderr,
                "kb-lookup: cannot read the site layers in '%s': %s (--no-site leaves "
                "them out)\n",
                dir, strerror(errno));
        return -1;
    }
    size_t first = p->n;
    struct dirent *ent;
    int failed = 0;
    while (!failed && (ent = readdir(d))) {
        size_t n = strlen(ent->d_name);
        if (n <= 3 || ent->d_name[0] == '.' || strcmp(ent->d_name + n - 3, ".db") != 0)
            continue;
        size_t size = strlen(dir) + n + 2;
        char *path = malloc(size);
        if (!path) {
            failed = 1;
            break;
        }
        snprintf(path, size, "%s/%s", dir, ent->d_name);
        failed = add_path(p, path, size - 1) != 0;
        free(path);
    }
    closedir(d);
    if (failed) {
        fputs("kb-lookup: out of memory\n", stderr);
        return -1;
    }
    qsort(p->v + first, p->n - first, sizeof *p->v, cmp_path);
    return 0;
}

static int layer_paths(const struct options *o, struct layer_paths *p)
{
    for (size_t i = 0; i < o->db_count; i++)
        if (add_path(p, o->db_paths[i], strlen(o->db_paths[i])) != 0)
            goto nomem;
    const char *env = o->db_count ? NULL : getenv("KB_DB");
    for (const char *s = env; s && *s;) {
        const char *colon = strchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        if (n && add_path(p, s, n) != 0)
            goto nomem;
        s += n + (colon != NULL);
    }
    p->site = p->n;
    if (!o->no_site && site_layers(p) != 0)
        return -1;
    return 0;
nomem:
    fputs("kb-lookup: out of memory\n", stderr);
    return -1;
}

static int open_builtin(struct kb_db **out, struct kb_error *err)
{
    if (kb_db_open_memory(kb_embedded_db, (size_t)(kb_embedded_db_end - kb_embedded_db),
                          CLI_BUILTIN_LABEL, out, err)
        != KB_OK) {
        fprintf(stderr, "kb-lookup: %s\n", err->message);
        return -1;
    }
    return 0;
}

/* Opens the KB: the built-in layer (unless --no-builtin), then every other layer stacked on
 * it. A database compiled as a whole KB (without kb-compile --base) is not an overlay: it
 * starts the stack anew, as --db always replaced the built-in KB; the site layers, overlays
 * of the KB installed on the machine, are then not read (documented). A layer that cannot be
 * opened (missing, damaged, of another schema) is an error naming it: no layer is dropped
 * silently. */
static int open_database(const struct options *o, struct kb_db **db, struct kb_error *err)
{
    struct layer_paths paths = {0};
    struct kb_db *stack = NULL;
    size_t number = 1; /* of the layer opened next, in the order they are named */
    int rc = -1;
    *db = NULL;
    /* the built-in KB is opened only when it is used: first, or under a layer built on it. A
     * standalone --db replaces it, so opening it would be thrown away (issue 11: that was a
     * second KB open on every lookup with --db) */
    int builtin = !o->no_builtin;
    if (layer_paths(o, &paths) != 0)
        goto done;
    if (builtin)
        number++;
    int whole_kb_named = 0; /* a --db or KB_DB database compiled as a whole KB */
    for (size_t i = 0; i < paths.n; i++, number++) {
        if (i == paths.site && whole_kb_named)
            break;
        struct kb_db *layer = NULL;
        if (kb_db_open_file(paths.v[i], &layer, err) != KB_OK) {
            /* the message names the file; among several, which layer it is too; a file that
             * is not there was named by the user here */
            const char *hint = access(paths.v[i], F_OK) != 0
                                   ? " (check --db or KB_DB, or compile one with kb-compile)"
                                   : "";
            if (paths.n > 1)
                fprintf(stderr, "kb-lookup: layer %zu: %s%s\n", number, err->message, hint);
            else
                fprintf(stderr, "kb-lookup: %s%s\n", err->message, hint);
            goto done;
        }
        if (i == 0 && builtin && kb_db_base_build(layer) && open_builtin(&stack, err) != 0) {
            kb_db_close(layer);
            goto done;
        }
        if (!stack || !kb_db_base_build(layer)) {
            kb_db_close(stack);
            stack = layer;
            whole_kb_named |= i < paths.site;
        } else if (kb_db_layer_add(stack, layer, err) != KB_OK) {
            fprintf(stderr, "kb-lookup: layer %zu: %s\n", number, err->message);
            goto done;
        }
    }
    if (!stack && builtin && !paths.n && open_builtin(&stack, err) != 0)
        goto done;
    if (!stack) {
        fputs("kb-lookup: no knowledge base: --no-builtin needs --db PATH or KB_DB\n", stderr);
        goto done;
    }
    *db = stack;
    stack = NULL;
    rc = 0;
done:
    kb_db_close(stack);
    for (size_t i = 0; i < paths.n; i++)
        free(paths.v[i]);
    free(paths.v);
    return rc;
}

/* Does the input start with an SQLite database's header ("SQLite format 3" and a NUL)? */
static int is_database(const char *text, size_t len)
{
    static const char magic[] = "SQLite format 3";
    return len >= sizeof magic && memcmp(text, magic, sizeof magic) == 0;
}

/* Joins the text arguments with spaces, or reads stdin. "-" alone means stdin. */
static int read_input(const struct options *o, char **argv, char **text, size_t *len)
{
    if (o->text_argc && !(o->text_argc == 1 && strcmp(argv[o->first_text_arg], "-") == 0)) {
        size_t total = 0;
        for (int i = 0; i < o->text_argc; i++)
            total += strlen(argv[o->first_text_arg + i]) + 1;
        if (total - 1 > o->max_input) {
            fprintf(stderr,
                    "kb-lookup: input is %zu bytes, over the limit of %zu bytes "
                    "(--max-input)\n",
                    total - 1, o->max_input);
            return -1;
        }
        char *p = malloc(total);
        if (!p) {
            fputs("kb-lookup: out of memory\n", stderr);
            return -1;
        }
        size_t at = 0;
        for (int i = 0; i < o->text_argc; i++) {
            const char *a = argv[o->first_text_arg + i];
            size_t n = strlen(a);
            memcpy(p + at, a, n);
            at += n;
            p[at++] = i + 1 < o->text_argc ? ' ' : '\0';
        }
        *text = p;
        *len = at - 1;
        return 0;
    }
    if (!o->text_argc && isatty(STDIN_FILENO)) {
        fputs("kb-lookup: paste an error as an argument, or pipe it in:\n"
              "  kb-lookup '535 5.7.139 Authentication unsuccessful'\n"
              "  your-app 2>&1 | kb-lookup\n"
              "Try 'kb-lookup --help' for more information.\n",
              stderr);
        return -1;
    }
    enum kb_status st = cli_read_stdin(o->max_input, text, len);
    if (st == KB_ERR_TOO_LARGE)
        fprintf(stderr,
                "kb-lookup: input is over the limit of %zu bytes; nothing was matched "
                "(raise it with --max-input)\n",
                o->max_input);
    else if (st == KB_ERR_IO)
        fprintf(stderr, "kb-lookup: cannot read standard input: %s\n", strerror(errno));
    else if (st != KB_OK)
        fprintf(stderr, "kb-lookup: cannot read standard input: %s\n", kb_status_str(st));
    return st == KB_OK ? 0 : -1;
}

/* Every layer of a stacked KB, bottom first, with the ids it replaces and hides. */
static int print_layers(FILE *out, struct kb_db *db, struct kb_error *err)
{
    for (size_t i = 0; i < kb_db_layer_count(db); i++) {
        const struct kb_db *l = kb_db_layer(db, i);
        char *replaced = NULL, *hidden = NULL;
        if (kb_db_layer_changes(db, i, &replaced, &hidden, err) != KB_OK) {
            fprintf(stderr, "kb-lookup: %s\n", err->message);
            return -1;
        }
        fprintf(out, "layer %zu: %s, build %s, %ld entries\n", i + 1, kb_db_label(l),
                kb_db_build_hash(l), kb_db_entry_count(l));
        if (*replaced)
            fprintf(out, "  replaces: %s\n", replaced);
        if (*hidden)
            fprintf(out, "  hides: %s\n", hidden);
        free(replaced);
        free(hidden);
    }
    return 0;
}

static int print_version(const struct options *o, struct kb_error *err)
{
    struct kb_db *db = NULL;
    /* The libraries actually in use (shared ones may be newer than the headers built with). */
    char pcre2_version[64] = "unknown";
    if (pcre2_config(PCRE2_CONFIG_VERSION, NULL) > (int)sizeof pcre2_version
        || pcre2_config(PCRE2_CONFIG_VERSION, pcre2_version) < 0)
        strcpy(pcre2_version, "unknown");
    printf("kb-lookup %s (database schema %d)\n", KB_VERSION, KB_SCHEMA_VERSION);
    printf("libraries: SQLite %s, PCRE2 %s\n", sqlite3_libversion(), pcre2_version);
    if (open_database(o, &db, err) != 0)
        return EXIT_ERROR;
    int code = EXIT_MATCH;
    if (kb_db_layer_count(db) == 1)
        printf("knowledge base: %s, build %s, %ld entries\n", kb_db_label(db), kb_db_build_hash(db),
               kb_db_entry_count(db));
    else if (print_layers(stdout, db, err) != 0)
        code = EXIT_ERROR;
    kb_db_close(db);
    return code;
}

struct list_state {
    FILE *out;
    const struct kb_db *layers; /* a stacked KB, else NULL */
    int json;
    int first;
    int failed;
};

static int list_one(const struct kb_entry *e, void *arg)
{
    struct list_state *s = arg;
    if (print_list_item(s->out, e, s->json, s->first, s->layers) != 0)
        s->failed = 1;
    s->first = 0;
    return s->failed;
}

static int list_id(const struct kb_entry *e, void *arg)
{
    FILE *out = arg;
    fputs(e->id, out);
    return putc('\n', out) == EOF;
}

/* The install-time check: every page against its checksum, SQLite's integrity check of every
 * table and index, the blobs (checked and decoded when the database was opened). */
static int run_check_db(struct kb_db *db, struct kb_error *err)
{
    if (kb_db_check(db, err) != KB_OK) {
        fprintf(stderr, "kb-lookup: %s\n", err->message);
        return EXIT_ERROR;
    }
    for (size_t i = 0; i < kb_db_layer_count(db); i++) {
        const struct kb_db *l = kb_db_layer(db, i);
        printf("%s: intact (%ld entries, build %s)\n", kb_db_label(l), kb_db_entry_count(l),
               kb_db_build_hash(l));
    }
    return EXIT_MATCH;
}

/* One id per line and nothing else: what the shell completions read for --show. */
static int run_list_ids(struct kb_db *db, struct kb_error *err)
{
    if (kb_entry_each(db, list_id, stdout, err) != KB_OK) {
        fprintf(stderr, "kb-lookup: %s\n", err->message);
        return EXIT_ERROR;
    }
    return EXIT_MATCH;
}

static int run_list(FILE *out, struct kb_db *db, const struct options *o, struct kb_error *err)
{
    struct list_state s = {out, kb_db_layer_count(db) > 1 ? db : NULL, o->format == FORMAT_JSON, 1,
                           0};
    if (s.json)
        print_list_begin_json(out, db);
    else if (s.layers && (print_layers(out, db, err) != 0 || fputc('\n', out) == EOF))
        return EXIT_ERROR;
    if (kb_entry_each(db, list_one, &s, err) != KB_OK) {
        fprintf(stderr, "kb-lookup: %s\n", err->message);
        return EXIT_ERROR;
    }
    if (s.json)
        print_list_end_json(out);
    return EXIT_MATCH;
}

static int run_show(FILE *out, struct kb_db *db, const struct options *o,
                    const struct print_options *po, struct kb_error *err)
{
    struct kb_entry *e = NULL;
    enum kb_status st = kb_entry_get(db, o->show_id, &e, err);
    if (st != KB_OK) {
        fprintf(stderr, "kb-lookup: %s\n", err->message);
        return st == KB_ERR_NOT_FOUND ? EXIT_NO_MATCH : EXIT_ERROR;
    }
    if (o->format == FORMAT_JSON)
        print_entry_json(out, db, e);
    else if (o->format == FORMAT_MARKDOWN)
        print_entry_markdown(out, e);
    else
        print_entry_text(out, e, po);
    kb_entry_free(e);
    return EXIT_MATCH;
}

static int run_query(FILE *out, struct kb_db *db, const struct options *o, char **argv,
                     const struct print_options *po, struct cli_miss_log *log, struct kb_error *err)
{
    char *text = NULL;
    size_t len = 0;
    if (read_input(o, argv, &text, &len) != 0)
        return EXIT_ERROR;
    if (is_database(text, len)) {
        /* a compiled KB given where the error text goes: its example texts would be
         * answered as if someone had pasted them */
        fputs("kb-lookup: the input is an SQLite database, not error text: to look up in a "
              "knowledge base of your own, name it with --db PATH\n",
              stderr);
        free(text);
        return EXIT_ERROR;
    }
    struct kb_query_options qo = {.top = o->top, .max_input = o->max_input};
    struct kb_result *r = NULL;
    kb_db_explain_set(db, o->explain); /* the lines are formatted only when shown */
    /* and of the answers' texts only the renderings the printer shows are read */
    kb_db_texts_set(db, o->format == FORMAT_JSON       ? CLI_TEXTS_JSON
                        : o->format == FORMAT_MARKDOWN ? CLI_TEXTS_MARKDOWN
                                                       : CLI_TEXTS_TERMINAL);
    enum kb_status st = kb_query_run(db, text, len, &qo, &r, err);
    if (st == KB_OK)
        cli_miss_log_write(log, db, text, len, r);
    free(text);
    if (st != KB_OK) {
        fprintf(stderr, "kb-lookup: %s\n", err->message);
        return EXIT_ERROR;
    }
    if (o->format == FORMAT_JSON)
        print_result_json(out, db, r, po);
    else if (o->format == FORMAT_MARKDOWN)
        print_result_markdown(out, db, r, po);
    else
        print_result_text(out, db, r, po);
    int code = r->match_count ? EXIT_MATCH : EXIT_NO_MATCH;
    /* ripgrep's manners: say why a binary file gave nothing rather than leave it to guess */
    if (!r->match_count && r->input_binary)
        fputs("kb-lookup: input looks binary: no error line found in its text\n", stderr);
    kb_result_free(r);
    return code;
}

static int use_color(const struct options *o)
{
    if (o->color >= 0)
        return o->color;
    const char *no_color = getenv("NO_COLOR");
    if (no_color && *no_color)
        return 0;
    const char *term = getenv("TERM");
    return isatty(STDOUT_FILENO) && !(term && strcmp(term, "dumb") == 0);
}

/* The terminal's size: the window's when standard output is one, else COLUMNS and LINES,
 * else 80 x 24. */
static void terminal_size(size_t *cols, size_t *rows)
{
    struct winsize ws;
    *cols = 80;
    *rows = 24;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row > 0 ? ws.ws_row : *rows;
        return;
    }
    const char *c = getenv("COLUMNS"), *l = getenv("LINES");
    long v;
    if (c && (v = strtol(c, NULL, 10)) > 0 && v < 10000)
        *cols = (size_t)v;
    if (l && (v = strtol(l, NULL, 10)) > 0 && v < 10000)
        *rows = (size_t)v;
}

/* Is there an executable name in a folder of PATH? */
static int in_path(const char *name)
{
    const char *path = getenv("PATH");
    char file[4096];
    for (const char *p = path ? path : ""; *p;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        if (n && n + strlen(name) + 2 <= sizeof file) {
            snprintf(file, sizeof file, "%.*s/%s", (int)n, p, name);
            if (access(file, X_OK) == 0)
                return 1;
        }
        p += n + (colon != NULL);
    }
    return 0;
}

/* The pager for a terminal, as git chooses it: KB_PAGER, else PAGER, else less -FRX (when
 * installed); "" or "cat" mean none. */
static const char *pager_command(void)
{
    const char *p = getenv("KB_PAGER");
    if (!p)
        p = getenv("PAGER");
    if (!p)
        p = in_path("less") ? "less -FRX" : "";
    return *p && strcmp(p, "cat") != 0 ? p : NULL;
}

/* Rows the text takes on a terminal of cols columns (long lines wrap there). */
static size_t screen_rows(const char *text, size_t len, size_t cols)
{
    size_t rows = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *line = strndup(p, n);
        size_t c = line ? cli_columns(line) : n;
        free(line);
        rows += c > cols ? (c + cols - 1) / cols : 1;
        p += n + 1;
    }
    return rows;
}

/* Writes the answer through the pager. Returns 0, or -1 when the pager could not be run (the
 * caller then writes it itself). A reader who quits the pager early is no error. */
static int page(const char *text, size_t len, const char *command)
{
    /* what git sets: less keeps colour (-R), quits on a short text (-F), leaves it on screen
     * (-X) */
    setenv("LESS", "FRX", 0);
    setenv("LV", "-c", 0);
    fflush(stdout);
    FILE *p = popen(command, "w");
    if (!p)
        return -1;
    /* as git does while its pager runs: an interrupt is for the pager (less scrolls or quits),
     * and this process must not leave it behind by dying first */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    fwrite(text, 1, len, p);
    int status = pclose(p);
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -1 : 0;
}

static int run(int argc, char **argv, struct options *op);

/* The language to answer in: --lang, else the locale the messages of programs are in, as
 * POSIX orders the variables (LC_ALL, LC_MESSAGES, LANG); "C" and "POSIX" mean the KB's
 * default. */
static const char *answer_language(const struct options *o)
{
    if (o->lang)
        return o->lang;
    const char *vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return v;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    /* A closed pipe must surface as a write error (exit 2), not kill us silently. */
    signal(SIGPIPE, SIG_IGN);
    /* One write for a whole answer (tens of KB with solutions) instead of one per 4 KB. */
    static char out_buffer[1 << 16];
    setvbuf(stdout, out_buffer, _IOFBF, sizeof out_buffer);
    struct options o = {.color = -1, .top = 3, .max_input = (size_t)16 << 20, .width = -1};
    /* every --db is one argument at least */
    if (!(o.db_paths = calloc((size_t)argc, sizeof *o.db_paths))) {
        fputs("kb-lookup: out of memory\n", stderr);
        return EXIT_ERROR;
    }
    int code = run(argc, argv, &o);
    free(o.db_paths);
    return code;
}

static int run(int argc, char **argv, struct options *op)
{
    struct options o = *op;
    if (parse_options(argc, argv, &o) != 0)
        return EXIT_ERROR;
    if (o.mode == MODE_HELP) {
        fputs(usage_text, stdout);
        return fflush(stdout) == 0 && !ferror(stdout) ? EXIT_MATCH : EXIT_ERROR;
    }
    if (o.text_argc && o.mode != MODE_QUERY) {
        usage_error("%s", "--list, --list-ids, --show, --check-db, --version and --serve take no "
                          "error text");
        return EXIT_ERROR;
    }
    if (o.mode == MODE_SERVE && o.format_given && o.format != FORMAT_JSON) {
        usage_error("%s", "--serve answers in JSON only");
        return EXIT_ERROR;
    }
    const char *log_path = o.log_misses ? o.log_misses : getenv("KB_LOG_MISSES");
    struct cli_miss_log miss_log = {log_path && *log_path ? log_path : NULL, 0};
    struct kb_error err = {0};
    int code;
    struct print_options po = {.color = o.format == FORMAT_TEXT && use_color(&o),
                               .explain = o.explain,
                               .full = o.full,
                               .all_providers = o.all_providers};
    /* the text answer fits the terminal (up to CLI_MAX_WIDTH: longer lines read badly), or a
     * fixed width elsewhere; Markdown and JSON are never wrapped */
    int tty = isatty(STDOUT_FILENO);
    size_t cols, rows;
    terminal_size(&cols, &rows);
    if (o.format == FORMAT_TEXT)
        po.width = o.width >= 0 ? (size_t)o.width
                   : tty        ? (cols < CLI_MAX_WIDTH ? cols : CLI_MAX_WIDTH)
                                : CLI_PIPE_WIDTH;
    /* on a terminal, an answer longer than the screen goes to a pager: it is written to memory
     * first to know how long it is (--serve is a conversation with a program: never paged) */
    const char *pager = tty && !o.no_pager && o.mode != MODE_LIST_IDS && o.mode != MODE_SERVE
                            ? pager_command()
                            : NULL;
    char *paged = NULL;
    size_t paged_len = 0;
    FILE *out = pager ? open_memstream(&paged, &paged_len) : NULL;
    if (!out)
        out = stdout;
    if (o.mode == MODE_VERSION) {
        code = print_version(&o, &err);
    } else {
        struct kb_db *db = NULL;
        if (open_database(&o, &db, &err) == 0 && kb_db_layer_count(db) > 1)
            po.layers = db;
        if (db && kb_db_language_set(db, answer_language(&o), &err) != KB_OK) {
            fprintf(stderr, "kb-lookup: %s\n", err.message);
            kb_db_close(db);
            db = NULL;
        }
        if (!db)
            code = EXIT_ERROR;
        else if (o.mode == MODE_CHECK_DB)
            code = run_check_db(db, &err);
        else if (o.mode == MODE_LIST)
            code = run_list(out, db, &o, &err);
        else if (o.mode == MODE_LIST_IDS)
            code = run_list_ids(db, &err);
        else if (o.mode == MODE_SHOW)
            code = run_show(out, db, &o, &po, &err);
        else if (o.mode == MODE_SERVE)
            code = cli_serve(db, &(struct cli_serve_options){.top = o.top,
                                                             .max_input = o.max_input,
                                                             .explain = o.explain,
                                                             .lang = answer_language(&o),
                                                             .miss_log = &miss_log});
        else
            code = run_query(out, db, &o, argv, &po, &miss_log, &err);
        kb_db_close(db);
    }
    if (out != stdout) {
        if (fclose(out) != 0 || !paged) {
            fputs("kb-lookup: out of memory\n", stderr);
            free(paged);
            return EXIT_ERROR;
        }
        if (screen_rows(paged, paged_len, cols) < rows || page(paged, paged_len, pager) != 0)
            fwrite(paged, 1, paged_len, stdout);
        free(paged);
    }
    if (o.mode == MODE_SERVE)
        return code; /* every answer was flushed, a failure reported, by cli_serve */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "kb-lookup: cannot write the answer: %s\n", strerror(errno));
        return EXIT_ERROR;
    }
    return code;
}
