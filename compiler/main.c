/*
 * main.c - kb-compile's command line: options, the pipeline (scan, parse, validate, write,
 * self-test, rename), the summary line, and the one place that maps outcomes to exit codes:
 *   0  compiled (warnings allowed)
 *   1  the knowledge base has errors (nothing written, the previous output untouched)
 *   2  usage error, or the input directory or the output could not be used
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kbc.h"

#define EXIT_KB_ERRORS 1
#define EXIT_TROUBLE 2

static const char usage_text[] =
    "Usage: kb-compile [options] KB_DIR -o OUT.db\n"
    "       kb-compile --verify DB\n"
    "\n"
    "Compiles the knowledge base in KB_DIR (every *.md below it; the format is described in\n"
    "'man 5 kb-format') into one SQLite database for kb-lookup. Every example is checked with\n"
    "the lookup code before the database replaces OUT.db; on any error OUT.db is left as it was.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE  write the database to FILE\n"
    "      --check        validate (and self-test) only; write nothing\n"
    "      --no-self-test do not run the examples through the lookup\n"
    "      --verify DB    check a compiled database whole (every page and table) and exit\n"
    "  -q, --quiet        no summary line\n"
    "  -h, --help         show this help and exit\n"
    "      --version      show the program and database schema version and exit\n"
    "\n"
    "Diagnostics go to stderr as 'path:line:col: error: message'. SOURCE_DATE_EPOCH, when set,\n"
    "is stored as the build date.\n"
    "\n"
    "Exit status: 0 compiled (--verify: intact), 1 the knowledge base has errors, 2 usage or\n"
    "I/O error (--verify: the database is damaged).\n"
    "Full documentation: 'man kb-compile'.\n";

struct options {
    const char *kb_dir;
    const char *output;
    const char *verify;
    int check, quiet, self_test;
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
        } else {
            return usage_error("unknown option '%s'", arg);
        }
    }
    if (o->verify) {
        if (o->kb_dir || o->output || o->check)
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
    fprintf(stderr,
            "%s: %zu articles, %zu entries, %zu signatures, %zu harvested, %zu examples %s in "
            "%.2f s",
            KBC_PROGRAM, c->articles, c->entries, c->signatures, c->harvested, examples, done,
            seconds_since(start));
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

    enum kb_status status = kbc_scan(o->kb_dir, &files, &diags, &err);
    for (size_t i = 0; i < files.count && status == KB_OK; i++)
        status = kbc_parse_file(&files.items[i], &kb, &diags);
    if (status == KB_OK)
        status = kbc_validate(&kb, &diags);
    if (status == KB_OK)
        status = kbc_harvest_finish(&kb);
    if (status != KB_OK)
        goto trouble;
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
    if (o->self_test
        && (status = kbc_selftest(image, image_len, o->check ? "the new database" : o->output, &kb,
                                  &diags, &checked, &err))
               != KB_OK)
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
    sqlite3_free(image);
    kbc_diags_print(&diags, stderr);
    if (code == EXIT_TROUBLE)
        fprintf(stderr, "%s: %s\n", KBC_PROGRAM,
                err.message[0] ? err.message : kb_status_str(status));
    else if (code == EXIT_KB_ERRORS && !o->quiet)
        fprintf(stderr, "%s: %zu error%s, %zu warning%s; nothing written\n", KBC_PROGRAM,
                diags.errors, diags.errors == 1 ? "" : "s", diags.warnings,
                diags.warnings == 1 ? "" : "s");
    else if (code == EXIT_SUCCESS)
        summary(o, &counts, o->self_test ? checked : counts.examples, &start);
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

int main(int argc, char **argv)
{
    struct options o = {0};
    int code = parse_args(argc, argv, &o);
    if (code >= 0)
        return code;
    if (o.verify)
        return verify(o.verify);
    kbc_install_signal_handlers();
    return run(&o);
}
