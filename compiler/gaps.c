/*
 * gaps.c - kb-compile --gaps MISS_LOG...: which errors the KB does not answer yet, most
 * frequent first, so the team knows which article to write next.
 *
 * Reads the JSON lines kb-lookup --log-misses writes (docs/json-schema.md, "The miss log"),
 * names each miss by its shape - the line of its redacted text that carries the error (as
 * the log chose it: kb_redact_error_weight), caseless, numbers of four digits or more as '#',
 * white space collapsed, a transcript's direction marker dropped - and prints one group per shape:
 * how many misses, the codes, stages, clients and providers seen, and the line as one miss had it.
 * Compiles nothing; the KB is not read. Lines that are not a miss record are counted and skipped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kb_json.h"
#include "kb_redact.h"
#include "kbc.h"

#define SHAPE_MAX 200
/* A miss log line is at most 4 KiB (kb-lookup's cap); anything much longer is not one. */
#define LINE_CAP (1024 * 1024)
#define TALLY_MAX 8

struct tally {
    char *value[TALLY_MAX];
    size_t count[TALLY_MAX];
    size_t used, others;
};

struct gap {
    char *shape;
    char *example; /* the error line as the first miss of the shape had it */
    size_t count;
    struct tally codes, stages, clients, providers;
};

struct gaps {
    struct gap *items;
    size_t count, alloc;
    size_t *slots; /* open addressing by shape: 1 + index into items, 0 empty */
    size_t slot_count;
    size_t records, unread, files;
};

static size_t hash_of(const char *s)
{
    size_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The slot of shape: its group's, or the empty one where it goes. */
static size_t *slot_of(struct gaps *g, const char *shape)
{
    size_t mask = g->slot_count - 1;
    for (size_t i = hash_of(shape) & mask;; i = (i + 1) & mask)
        if (!g->slots[i] || strcmp(g->items[g->slots[i] - 1].shape, shape) == 0)
            return &g->slots[i];
}

/* Keeps the table at most half full. Returns -1 when out of memory. */
static int reserve_slots(struct gaps *g)
{
    if ((g->count + 1) * 2 <= g->slot_count)
        return 0;
    size_t n = g->slot_count ? g->slot_count * 2 : 64;
    size_t *old = g->slots, old_count = g->slot_count;
    if (!(g->slots = calloc(n, sizeof *g->slots))) {
        g->slots = old;
        return -1;
    }
    g->slot_count = n;
    for (size_t i = 0; i < old_count; i++)
        if (old[i])
            *slot_of(g, g->items[old[i] - 1].shape) = old[i];
    free(old);
    return 0;
}

int kbc_gaps_wanted(int argc, char **argv)
{
    int gaps = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 0; /* the usage, which says what --gaps does */
        gaps |= strcmp(argv[i], "--gaps") == 0;
    }
    return gaps;
}

static void tally_add(struct tally *t, const char *value)
{
    if (!value || !*value)
        return;
    for (size_t i = 0; i < t->used; i++)
        if (strcmp(t->value[i], value) == 0) {
            t->count[i]++;
            return;
        }
    char *copy = t->used < TALLY_MAX ? strdup(value) : NULL;
    if (!copy) {
        t->others++;
        return;
    }
    t->value[t->used] = copy;
    t->count[t->used++] = 1;
}

static void tally_release(struct tally *t)
{
    for (size_t i = 0; i < t->used; i++)
        free(t->value[i]);
}

/* The line of text that carries the error: the first of those that look most like one
 * (kb_redact_error_weight), else the first that is not a "[...]" mark. */
static void error_line(const char *text, const char **line, size_t *len)
{
    int best = -1;
    *line = NULL;
    *len = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        int weight;
        if (n && !(n == 5 && memcmp(p, "[...]", 5) == 0)
            && (weight = kb_redact_error_weight(p, n)) > best) {
            best = weight;
            *line = p;
            *len = n;
        }
        p += n + (nl ? 1 : 0);
    }
}

/* Length of a transcript's direction marker at the start of s ("<~* 535 ...", "< 535 ..."),
 * with the spaces after it: not part of the error. */
static size_t marker_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] && strchr("<>~*=-|", s[i]))
        i++;
    if (!(i && i < n && s[i] == ' '))
        return 0;
    while (i < n && s[i] == ' ')
        i++;
    return i;
}

/* The shape of an error line: lowercase, runs of 4+ digits as '#', white space collapsed. */
static char *shape_of(const char *s, size_t n)
{
    char *out = malloc(SHAPE_MAX + 1);
    size_t o = 0, i = 0;
    if (!out)
        return NULL;
    while (i < n && o < SHAPE_MAX) {
        unsigned char c = (unsigned char)s[i];
        if (c >= '0' && c <= '9') {
            size_t j = i;
            while (j < n && s[j] >= '0' && s[j] <= '9')
                j++;
            if (j - i >= 4) {
                out[o++] = '#';
            } else {
                size_t k = j - i < SHAPE_MAX - o ? j - i : SHAPE_MAX - o;
                memcpy(out + o, s + i, k);
                o += k;
            }
            i = j;
        } else if (c == ' ' || c == '\t') {
            while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
            if (o && i < n)
                out[o++] = ' ';
        } else {
            out[o++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

static const char *string_member(const struct kb_json *obj, const char *key)
{
    const struct kb_json *v = kb_json_get(obj, key);
    return v && v->type == KB_JSON_STRING ? v->str : NULL;
}

/* Adds one line of a miss log. Returns -1 when out of memory. */
static int add_record(struct gaps *g, const char *line, size_t len)
{
    struct kb_json *rec = NULL;
    struct kb_error err;
    enum kb_status st = kb_json_parse(line, len, &rec, &err);
    if (st == KB_ERR_NOMEM)
        return -1;
    const char *text = st == KB_OK ? string_member(rec, "text") : NULL;
    if (!text) {
        g->unread++;
        kb_json_free(rec);
        return 0;
    }
    const char *el;
    size_t el_len;
    error_line(text, &el, &el_len);
    size_t skip = el ? marker_len(el, el_len) : 0;
    el = el ? el + skip : NULL;
    el_len -= skip;
    /* a paste with no line to show (a binary file, a blank text) is one group of its own,
     * named for what it was, not an empty line */
    if (!el || !el_len) {
        const struct kb_json *binary = kb_json_get(rec, "input_binary");
        el = binary && binary->type == KB_JSON_TRUE ? "(binary input)" : "(no text)";
        el_len = strlen(el);
    }
    char *shape = shape_of(el ? el : "", el_len);
    if (!shape) {
        kb_json_free(rec);
        return -1;
    }
    struct gap *gap = NULL;
    size_t *slot = reserve_slots(g) == 0 ? slot_of(g, shape) : NULL;
    if (slot && *slot) {
        gap = &g->items[*slot - 1];
        free(shape);
    } else {
        struct gap *items = slot ? kbc_grow(g->items, &g->alloc, g->count, sizeof *items) : NULL;
        char *example = kbc_strndup(el ? el : "", el_len > SHAPE_MAX ? SHAPE_MAX : el_len);
        if (items)
            g->items = items;
        if (!items || !example) {
            free(example);
            free(shape);
            kb_json_free(rec);
            return -1;
        }
        gap = &g->items[g->count++];
        memset(gap, 0, sizeof *gap);
        gap->shape = shape;
        gap->example = example;
        *slot = g->count;
    }
    g->records++;
    gap->count++;
    const struct kb_json *facts = kb_json_get(rec, "facts");
    long long code = 0;
    char codes[64] = "";
    const char *enhanced = string_member(facts, "enhanced_code");
    if (kb_json_integer(kb_json_get(facts, "reply_code"), &code) && code > 0 && code < 1000)
        snprintf(codes, sizeof codes, "%lld", code);
    if (enhanced)
        snprintf(codes + strlen(codes), sizeof codes - strlen(codes), "%s%.40s",
                 codes[0] ? " " : "", enhanced);
    tally_add(&gap->codes, codes);
    tally_add(&gap->stages, string_member(facts, "stage"));
    tally_add(&gap->clients, string_member(facts, "client"));
    tally_add(&gap->providers, string_member(facts, "provider"));
    kb_json_free(rec);
    return 0;
}

/* Reads one log (or stdin for "-"). Returns 0, or -1 with errno set, -2 out of memory. */
static int read_log(struct gaps *g, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return -1;
    struct kb_buf line;
    kb_buf_init(&line, LINE_CAP);
    int rc = 0, c, too_long = 0;
    do {
        c = getc(f);
        if (c != EOF && c != '\n') {
            if (!too_long && kb_buf_append_char(&line, (char)c) != KB_OK)
                too_long = 1;
            continue;
        }
        if (too_long)
            g->unread++;
        else if (line.len && add_record(g, line.data, line.len) != 0)
            rc = -2;
        kb_buf_reset(&line);
        too_long = 0;
    } while (c != EOF && rc == 0);
    int saved = errno;
    if (rc == 0 && ferror(f))
        rc = -1;
    if (f != stdin)
        fclose(f);
    kb_buf_release(&line);
    errno = saved;
    return rc;
}

static int cmp_gap(const void *a, const void *b)
{
    const struct gap *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->shape, y->shape);
}

static void print_tally(const char *label, const struct tally *t)
{
    if (!t->used)
        return;
    /* most frequent first; equal counts in the order first seen */
    size_t order[TALLY_MAX];
    for (size_t i = 0; i < t->used; i++)
        order[i] = i;
    for (size_t i = 1; i < t->used; i++)
        for (size_t j = i; j > 0 && t->count[order[j]] > t->count[order[j - 1]]; j--) {
            size_t tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    printf("  %s", label);
    for (size_t i = 0; i < t->used; i++)
        printf("%s %s (%zu)", i ? "," : "", t->value[order[i]], t->count[order[i]]);
    if (t->others)
        printf(", others (%zu)", t->others);
}

int kbc_gaps_main(int argc, char **argv)
{
    struct gaps g = {0};
    int code = EXIT_SUCCESS, only_files = 0;
    const char *failed = NULL;
    for (int i = 1; i < argc && code == EXIT_SUCCESS; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
        } else if (!only_files && strcmp(a, "--gaps") == 0) {
            continue;
        } else if (!only_files && a[0] == '-' && a[1]) {
            fprintf(stderr,
                    "%s: '%s' does not go with --gaps (kb-compile --gaps MISS_LOG...)\n"
                    "Try '%s --help' for more information.\n",
                    KBC_PROGRAM, a, KBC_PROGRAM);
            code = 2;
        } else {
            g.files++;
            int rc = read_log(&g, a);
            if (rc == -1)
                fprintf(stderr, "%s: cannot read '%s': %s\n", KBC_PROGRAM, a, strerror(errno));
            else if (rc == -2)
                failed = "out of memory";
            if (rc)
                code = 2;
        }
    }
    if (code == EXIT_SUCCESS && !g.files) {
        fprintf(stderr, "%s: --gaps needs the miss log files to read (or - for stdin)\n",
                KBC_PROGRAM);
        code = 2;
    }
    if (failed)
        fprintf(stderr, "%s: %s\n", KBC_PROGRAM, failed);
    if (code == EXIT_SUCCESS) {
        if (g.count)
            qsort(g.items, g.count, sizeof *g.items, cmp_gap);
        printf("%zu miss%s in %zu file%s, %zu shape%s", g.records, g.records == 1 ? "" : "es",
               g.files, g.files == 1 ? "" : "s", g.count, g.count == 1 ? "" : "s");
        if (g.unread)
            printf(" (%zu line%s not a miss record)", g.unread, g.unread == 1 ? "" : "s");
        printf("%s\n", g.count ? ", most frequent first:" : "");
        for (size_t i = 0; i < g.count; i++) {
            const struct gap *p = &g.items[i];
            printf("\n%6zu  %s\n", p->count, p->example);
            if (p->codes.used || p->stages.used || p->clients.used || p->providers.used) {
                printf("       ");
                print_tally("reply", &p->codes);
                print_tally("stage", &p->stages);
                print_tally("client", &p->clients);
                print_tally("provider", &p->providers);
                putchar('\n');
            }
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "%s: cannot write: %s\n", KBC_PROGRAM, strerror(errno));
            code = 2;
        }
    }
    for (size_t i = 0; i < g.count; i++) {
        free(g.items[i].shape);
        free(g.items[i].example);
        tally_release(&g.items[i].codes);
        tally_release(&g.items[i].stages);
        tally_release(&g.items[i].clients);
        tally_release(&g.items[i].providers);
    }
    free(g.items);
    free(g.slots);
    return code;
}
