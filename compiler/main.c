/*
 * main.c - kb-compile's command line: options, the pipeline (scan, parse, validate, write,
 * self-test, rename), the summary line, and the one place that maps outcomes to exit codes:
 *   0  compiled (warnings allowed)
 *   1  the knowledge base has errors (nothing written, the previous output untouched)
 *   2  usage error, or the input directory or the output could not be used
 */
/* realpath(3) is XSI: -o is compared with KB_DIR as real paths */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kbc.h"

#define EXIT_KB_ERRORS 1
#define EXIT_TROUBLE 2

static const char usage_text[] =
    "Usage: kb-compile [options] KB_DIR -o OUT.db\n"
    "       kb-compile [options] --base BASE.db... KB_DIR -o OUT.db\n"
    "       kb-compile --verify DB\n"
    "       kb-compile --gaps MISS_LOG...\n"
    "\n"
    "Compiles the knowledge base in KB_DIR (every *.md below it; the format is described in\n"
    "'man 5 kb-format') into one SQLite database for kb-lookup. Every example is checked with\n"
    "the lookup code before the database replaces OUT.db; on any error OUT.db is left as it was.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE  write the database to FILE\n"
    "      --base DB      compile an overlay for the KB in DB (repeat it for a KB of several\n"
    "                     layers, bottom first): links and related: may name its entries, the\n"
    "                     self-test reads the two stacked, and what the overlay replaces or\n"
    "                     hides, and the base's examples it now outranks, are warnings\n"
    "      --strict       with --base, make those warnings errors\n"
    "      --check        validate (and self-test) only; write nothing\n"
    "      --no-self-test do not run the examples through the lookup\n"
    "      --verify DB    check a compiled database whole (every page and table) and exit\n"
    "  -q, --quiet        no summary line\n"
    "      --color WHEN   colour diagnostics: auto (on a terminal, unless NO_COLOR is set),\n"
    "                     always or never\n"
    "  -h, --help         show this help and exit\n"
    "      --version      show the program and database schema version and exit\n"
    "      --gaps         group the miss logs that kb-lookup writes into the most\n"
    "                     frequent unanswered errors; compiles nothing\n"
    "\n"
    "Diagnostics go to stderr as 'path:line:col: error: message'. SOURCE_DATE_EPOCH, when set,\n"
    "is stored as the build date.\n"
    "\n"
    "Exit status: 0 compiled (--verify: intact), 1 the knowledge base has errors, 2 usage or\n"
    "I/O error (--verify: the database is damaged).\n"
    "Full documentation: 'man kb-compile'.\n";

struct options {
    const char **bases; /* every --base, bottom first (argv's strings) */
    size_t base_count;
    int strict;
    const char *kb_dir;
    const char *output;
    const char *verify;
    int check, quiet, self_test;
    int color; /* -1: auto */
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", KBC_PROGRAM);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", KBC_PROGRAM);
    return EXIT_TROUBLE;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
    int only_operands = 0;
    o->self_test = 1;
    o->color = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_operands || arg[0] != '-' || !arg[1]) {
            if (o->kb_dir)
                return usage_error("unexpected argument '%s' (one KB_DIR only)", arg);
            o->kb_dir = arg;
        } else if (strcmp(arg, "--") == 0) {
            only_operands = 1;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 && !ferror(stdout) ? EXIT_SUCCESS : EXIT_TROUBLE;
        } else if (strcmp(arg, "--version") == 0) {
            printf("kb-compile %s (database schema %d)\n", KB_VERSION, KB_SCHEMA_VERSION);
            return fflush(stdout) == 0 && !ferror(stdout) ? EXIT_SUCCESS : EXIT_TROUBLE;
        } else if (strcmp(arg, "--check") == 0) {
            o->check = 1;
        } else if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
            o->quiet = 1;
        } else if (strcmp(arg, "--base") == 0) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return usage_error("option '%s' needs a database", arg);
            o->bases[o->base_count++] = argv[++i];
        } else if (strcmp(arg, "--strict") == 0) {
            o->strict = 1;
        } else if (strcmp(arg, "--no-self-test") == 0) {
            o->self_test = 0;
        } else if (strcmp(arg, "--verify") == 0) {
            if (i + 1 >= argc)
                return usage_error("option '%s' needs a database", arg);
            o->verify = argv[++i];
        } else if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0) {
            if (i + 1 >= argc)
                return usage_error("option '%s' needs a file name", arg);
            o->output = argv[++i];
        } else if (strncmp(arg, "--output=", 9) == 0) {
            o->output = arg + 9;
        } else if (strncmp(arg, "-o", 2) == 0) {
            o->output = arg + 2;
        } else if (strcmp(arg, "--color") == 0 || strcmp(arg, "--colour") == 0
                   || strncmp(arg, "--color=", 8) == 0 || strncmp(arg, "--colour=", 9) == 0) {
            const char *v = strchr(arg, '=');
            if (v)
                v++;
            else if (i + 1 < argc)
                v = argv[++i];
            if (!v
                || !(strcmp(v, "auto") == 0 || strcmp(v, "always") == 0 || strcmp(v, "never") == 0))
                return usage_error("--color needs auto, always or never, not '%s'", v ? v : "");
            o->color = strcmp(v, "always") == 0 ? 1 : strcmp(v, "never") == 0 ? 0 : -1;
        } else {
            return usage_error("unknown option '%s'", arg);
        }
    }
    if (o->strict && !o->base_count)
        return usage_error("%s", "--strict needs --base BASE.db");
    if (o->verify) {
        if (o->kb_dir || o->output || o->check || o->base_count)
            return usage_error("%s", "--verify DB takes nothing else");
        return -1;
    }
    if (!o->kb_dir)
        return usage_error("%s", "missing KB_DIR");
    if (!o->check && (!o->output || !o->output[0]))
        return usage_error("%s", "missing '-o OUT.db' (or use --check)");
    if (o->check && o->output)
        return usage_error("%s", "--check writes nothing: drop '-o'");
    return -1;
}

/* The database header kb-compile writes: SQLite's magic and, at offset 68, the application id
 * (kb_schema.h). Anything else at -o is somebody's file, not an older output. */
static int is_kb_database(const char *path)
{
    unsigned char h[100];
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    if (n != (ssize_t)sizeof h || memcmp(h, "SQLite format 3", 16) != 0)
        return 0;
    unsigned long id = ((unsigned long)h[68] << 24) | ((unsigned long)h[69] << 16)
                       | ((unsigned long)h[70] << 8) | h[71];
    return id == KB_APPLICATION_ID;
}

/* Is path (a real path) dir itself or below it? */
static int is_below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return 1;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int refuse_output(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "%s: ", KBC_PROGRAM);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return EXIT_TROUBLE;
}

/* A place for the database beside the knowledge base folder: "kb" gives "kb.db". */
static char *beside(const char *kb_dir)
{
    size_t n = strlen(kb_dir);
    while (n > 1 && kb_dir[n - 1] == '/')
        n--;
    int dots = (n == 1 && kb_dir[0] == '.') || (n >= 2 && strcmp(kb_dir + n - 2, "/.") == 0)
               || (n == 2 && strncmp(kb_dir, "..", 2) == 0)
               || (n >= 3 && strncmp(kb_dir + n - 3, "/..", 3) == 0);
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    char *out = NULL;
    if (n == 1 && kb_dir[0] == '.')
        n = 0, dots = 0; /* "." gives "../kb.db" */
    if ((n == 0 ? kb_buf_append_str(&buf, "../kb.db")
         : dots ? kb_buf_printf(&buf, "%.*s/../kb.db", (int)n, kb_dir)
                : kb_buf_printf(&buf, "%.*s.db", (int)n, kb_dir))
            != KB_OK
        || kb_buf_detach(&buf, &out) != KB_OK)
        out = NULL;
    kb_buf_release(&buf);
    return out;
}

/* -o must name a database file: not a folder, not a place inside the knowledge base (where
 * it would overwrite an article), not any other file that is not a database kb-compile
 * wrote (an empty one is fine). Refused before anything is read, so the file is left as it
 * is. Returns -1 to go on, else the exit code. */
static int check_output(const struct options *o)
{
    struct stat st;
    int exists = stat(o->output, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        return refuse_output("'%s' is a directory: -o names the database file (e.g. '%s/kb.db')",
                             o->output, o->output);
    /* the folder the database would go to, against the knowledge base's own folder */
    char *copy = kbc_strndup(o->output, strlen(o->output));
    char *out_dir = copy ? realpath(dirname(copy), NULL) : NULL;
    char *kb_dir = realpath(o->kb_dir, NULL);
    int inside = out_dir && kb_dir && is_below(out_dir, kb_dir);
    free(copy);
    free(out_dir);
    free(kb_dir);
    if (inside) {
        char *there = beside(o->kb_dir);
        fprintf(stderr,
                "%s: refusing to write the database to '%s': it is inside the knowledge base "
                "folder '%s' (write it beside it, e.g. -o %s)\n",
                KBC_PROGRAM, o->output, o->kb_dir, there ? there : "kb.db");
        free(there);
        return EXIT_TROUBLE;
    }
    if (exists && !S_ISREG(st.st_mode))
        return refuse_output("'%s' is not a regular file: -o names the database file%s", o->output,
                             "");
    if (exists && st.st_size > 0 && !is_kb_database(o->output))
        return refuse_output("refusing to overwrite '%s': it is not a database that kb-compile "
                             "wrote (remove it first if it is to go, or choose another -o)%s",
                             o->output, "");
    return -1;
}

static int use_color(const struct options *o)
{
    if (o->color >= 0)
        return o->color;
    const char *no_color = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    return !(no_color && *no_color) && isatty(STDERR_FILENO)
           && !(term && strcmp(term, "dumb") == 0);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void summary(const struct options *o, const struct kbc_counts *c, size_t examples,
                    const struct timespec *start)
{
    if (o->quiet)
        return;
    const char *done = !o->self_test ? "not self-tested" : o->check ? "checked" : "verified";
    fprintf(
        stderr,
        "%s: %zu article%s, %zu entr%s, %zu signature%s, %zu harvested, %zu example%s %s in %.2f s",
        KBC_PROGRAM, c->articles, c->articles == 1 ? "" : "s", c->entries,
        c->entries == 1 ? "y" : "ies", c->signatures, c->signatures == 1 ? "" : "s", c->harvested,
        examples, examples == 1 ? "" : "s", done, seconds_since(start));
    if (!o->check)
        fprintf(stderr, " -> %s", o->output);
    fputc('\n', stderr);
}

static void count_model(const struct kbc_kb *kb, struct kbc_counts *c)
{
    memset(c, 0, sizeof *c);
    c->articles = kb->count;
    for (size_t i = 0; i < kb->count; i++) {
        c->entries += kb->articles[i].entry_count;
        for (size_t j = 0; j < kb->articles[i].entry_count; j++) {
            for (size_t k = 0; k < kb->articles[i].entries[j].sig_count; k++)
                *(kb->articles[i].entries[j].sigs[k].origin ? &c->harvested : &c->signatures) += 1;
            c->examples += kb->articles[i].entries[j].example_count;
        }
    }
}

/* --base: the KB the overlay is compiled against, its layers stacked bottom first, into
 * kb->base (and *base, which the caller closes). */
static enum kb_status open_base(const struct options *o, struct kbc_kb *kb, struct kb_db **base,
                                struct kb_error *err)
{
    for (size_t i = 0; i < o->base_count; i++) {
        struct kb_db *layer = NULL;
        enum kb_status st = kb_db_open_file(o->bases[i], &layer, err);
        if (st == KB_OK && *base)
            st = kb_db_layer_add(*base, layer, err);
        else if (st == KB_OK)
            *base = layer;
        if (st != KB_OK) {
            char what[sizeof err->message];
            snprintf(what, sizeof what, "%s", err->message);
            snprintf(err->message, sizeof err->message, "--base: %.400s%s", what,
                     access(o->bases[i], F_OK) != 0
                         ? " (check --base, or compile the base KB first)"
                         : "");
            return st;
        }
        kb->base_build = kb_db_build_hash(layer);
    }
    kb->base = *base;
    return KB_OK;
}

/* The whole compile; returns the exit code. */
static int run(const struct options *o)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct kbc_files files = {0};
    struct kbc_kb kb = {0};
    struct kbc_diags diags;
    struct kbc_tmp tmp = {NULL, -1};
    unsigned char *image = NULL;
    size_t image_len = 0;
    struct kbc_counts counts;
    struct kb_error err = {KB_OK, ""};
    size_t checked = 0;
    int code = EXIT_TROUBLE;
    kbc_diags_init(&diags);

    struct kb_db *base = NULL;
    enum kb_status status = open_base(o, &kb, &base, &err);
    if (status != KB_OK)
        goto trouble;
    status = kbc_scan(o->kb_dir, &files, &diags, &err);
    for (size_t i = 0; i < files.count && status == KB_OK; i++)
        status = kbc_parse_file(&files.items[i], &kb, &diags);
    if (status == KB_OK)
        status = kbc_translations_split(&kb, &diags);
    if (status == KB_OK)
        status = kbc_validate(&kb, &diags);
    if (status == KB_OK)
        status = kbc_harvest_finish(&kb);
    if (status == KB_OK)
        status = kbc_links_resolve(&kb);
    if (status != KB_OK)
        goto trouble;
    if (kb.count == 0 && !kbc_diags_failed(&diags)) {
        if (files.count == 0)
            kbc_diag(&diags, KBC_ERROR, o->kb_dir, 0, 0,
                     "no articles: there is no *.md file below this folder (a README.md at its "
                     "top is the authoring guide, not an article)");
        else if (files.count == 1)
            kbc_diag(&diags, KBC_ERROR, o->kb_dir, 0, 0,
                     "no articles: the only *.md file below this folder was skipped (see its "
                     "warning)");
        else
            kbc_diag(&diags, KBC_ERROR, o->kb_dir, 0, 0,
                     "no articles: all %zu *.md files below this folder were skipped (see their "
                     "warnings)",
                     files.count);
    }
    count_model(&kb, &counts);
    if (kbc_diags_failed(&diags)) {
        code = EXIT_KB_ERRORS;
        goto cleanup;
    }
    if (o->check && !o->self_test) {
        code = EXIT_SUCCESS;
        goto cleanup;
    }
    char hash[65];
    kbc_build_hash(&files, hash);
    const char *date = getenv("SOURCE_DATE_EPOCH");
    if (date && !date[0])
        date = NULL;
    if ((status = kbc_write_db(&kb, hash, date, &counts, &image, &image_len, &err)) != KB_OK)
        goto trouble;
    if (base)
        kbc_overlay_ids(&kb, o->strict, &diags);
    if (base
        && (status = kbc_overlay_stack(&kb, image, image_len,
                                       o->check ? "the new database" : o->output, &err))
               != KB_OK)
        goto trouble;
    if (o->self_test
        && (status = kbc_selftest(image, image_len, o->check ? "the new database" : o->output, &kb,
                                  &diags, &checked, &err))
               != KB_OK)
        goto trouble;
    if (base
        && (status = kbc_overlay_check(image, image_len, &kb, o->strict, &diags, &err)) != KB_OK)
        goto trouble;
    if (kbc_diags_failed(&diags)) {
        code = EXIT_KB_ERRORS;
        goto cleanup;
    }
    if (!o->check
        && ((status = kbc_tmp_create(o->output, &tmp, &err)) != KB_OK
            || (status = kbc_tmp_write(&tmp, image, image_len, &err)) != KB_OK
            || (status = kbc_tmp_commit(&tmp, o->output, &err)) != KB_OK))
        goto trouble;
    code = EXIT_SUCCESS;
    goto cleanup;
trouble:
    code = EXIT_TROUBLE;
cleanup:
    kbc_tmp_discard(&tmp);
    kb_db_close(base); /* before the image it may have stacked */
    sqlite3_free(image);
    kbc_diags_print(&diags, &files, use_color(o), stderr);
    if (code == EXIT_TROUBLE)
        fprintf(stderr, "%s: %s\n", KBC_PROGRAM,
                err.message[0] ? err.message : kb_status_str(status));
    else if (code == EXIT_KB_ERRORS && !o->quiet)
        fprintf(stderr, "%s: %zu error%s, %zu warning%s; nothing written\n", KBC_PROGRAM,
                diags.errors, diags.errors == 1 ? "" : "s", diags.warnings,
                diags.warnings == 1 ? "" : "s");
    else if (code == EXIT_SUCCESS)
        summary(o, &counts, o->self_test ? checked : counts.examples, &start);
    if (code == EXIT_SUCCESS && !o->quiet)
        kbc_translations_stats(&kb, stderr);
    kbc_diags_release(&diags);
    kbc_kb_release(&kb);
    kbc_files_release(&files);
    return code;
}

/* --verify: the same whole check as kb-lookup --check-db, for install scripts that have only
 * the compiler at hand. */
static int verify(const char *path)
{
    struct kb_db *db = NULL;
    struct kb_error err = {KB_OK, ""};
    if (kb_db_open_file(path, &db, &err) != KB_OK || kb_db_check(db, &err) != KB_OK) {
        fprintf(stderr, "%s: %s\n", KBC_PROGRAM, err.message);
        kb_db_close(db);
        return EXIT_TROUBLE;
    }
    printf("%s: intact (%ld entries, build %s)\n", path, kb_db_entry_count(db),
           kb_db_build_hash(db));
    kb_db_close(db);
    return fflush(stdout) == 0 && !ferror(stdout) ? EXIT_SUCCESS : EXIT_TROUBLE;
}

static int compile(struct options *o, int argc, char **argv)
{
    int code = parse_args(argc, argv, o);
    if (code >= 0)
        return code;
    if (o->verify)
        return verify(o->verify);
    if (!o->check && (code = check_output(o)) >= 0)
        return code;
    kbc_install_signal_handlers();
    return run(o);
}

int main(int argc, char **argv)
{
    struct options o = {0};
    if (kbc_gaps_wanted(argc, argv))
        return kbc_gaps_main(argc, argv);
    /* every --base is one argument at least */
    if (!(o.bases = calloc((size_t)argc, sizeof *o.bases))) {
        fprintf(stderr, "%s: out of memory\n", KBC_PROGRAM);
        return EXIT_TROUBLE;
    }
    int code = compile(&o, argc, argv);
    free(o.bases);
    return code;
}
