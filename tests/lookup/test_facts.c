/*
 * test_facts.c - the facts stage's prefilter changes no fact: every line of every file given
 * (the accuracy sets' JSON lines, the KB's articles) and every file as a whole is read with
 * and without it, and the facts must be the same. The prefilter skips a pattern when none of
 * what it needs occurs in the text; a need list that forgets an alternative shows up here.
 * The prefiltered run keeps one regex cache over every text, as an open database does for a
 * --serve process, so a compiled (or JIT-compiled) pattern reused across texts is checked too.
 * The same for the signatures' per-line test of another program's words (its own prefilter).
 *
 * Long texts (from 64 KiB) have some patterns tried only near the texts a match must start
 * with (struct fact_pattern's starts and reach): every text is also read that way, however
 * short, against the same reference; a start or a reach stated too small shows up here. Texts
 * built for it stretch each such pattern to its reach and spread its matches over windows far
 * apart (windows_first_match), at lengths where the engine windows on its own too.
 *
 *   test_facts FILE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb_internal.h"

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static size_t compared;
static struct kb_regex_cache shared; /* kept over every text, as a database handle keeps it */
static struct kb_clients clients;    /* a few as the shipped KB declares them */

/* kb_other_program_select leaves out only patterns that cannot match: on every line, and on
 * the whole text, the verdict and the first words found are the same with it as without. */
static void compare_other(const struct kb_norm *norm, const char *where)
{
    struct kb_other_program *all = kb_other_program_new(&shared, 0);
    struct kb_other_program *some = kb_other_program_new(&shared, 0);
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    CHECK(all && some && md);
    for (size_t i = 0; all && some && md && i <= norm->line_count; i++) {
        /* the lines, then (i == line_count) the whole text */
        size_t start = i < norm->line_count ? norm->line_start[i] : 0;
        size_t end = i + 1 < norm->line_count ? norm->line_start[i + 1] : norm->len;
        size_t s1 = 0, e1 = 0, s2 = 0, e2 = 0;
        int a = kb_other_program_first(all, norm->text, start, end, md, NULL, &s1, &e1);
        CHECK(kb_other_program_select(some, norm->text, start, end) == 0);
        int b = kb_other_program_first(some, norm->text, start, end, md, NULL, &s2, &e2);
        int ok = a == b && (!a || (s1 == s2 && e1 == e2));
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "%s: another program's words at [%zu, %zu) told apart: %d/%d\n", where,
                    start, end, a, b);
    }
    pcre2_match_data_free(md);
    kb_other_program_free(all);
    kb_other_program_free(some);
}

static int same_facts(const struct kb_facts *a, const struct kb_facts *b, const char *where,
                      const char *how)
{
    int ok = a->reply_code == b->reply_code && a->port == b->port
             && a->mail_context == b->mail_context && same(a->enhanced, b->enhanced)
             && same(a->stage, b->stage) && same(a->host, b->host) && same(a->user, b->user)
             && same(a->client, b->client) && same(a->provider, b->provider)
             && same(a->other_program, b->other_program);
    CHECK(ok);
    if (!ok)
        fprintf(stderr,
                "%s: facts differ %s (stage %s/%s, host %s/%s, user %s/%s, code %d/%d, context "
                "%d/%d, other %s/%s)\n",
                where, how, a->stage ? a->stage : "-", b->stage ? b->stage : "-",
                a->host ? a->host : "-", b->host ? b->host : "-", a->user ? a->user : "-",
                b->user ? b->user : "-", a->reply_code, b->reply_code, a->mail_context,
                b->mail_context, a->other_program ? a->other_program : "-",
                b->other_program ? b->other_program : "-");
    return ok;
}

static void compare(const char *text, size_t len, const char *where)
{
    struct kb_norm norm;
    struct kb_facts a, b, c;
    CHECK(kb_norm_run(text, len, &norm) == KB_OK);
    CHECK(kb_facts_extract(&norm, NULL, &clients, &shared, &a) == KB_OK);
    CHECK(kb_facts_extract_unfiltered(&norm, NULL, &clients, &b) == KB_OK);
    CHECK(kb_facts_extract_windowed(&norm, NULL, &clients, &c) == KB_OK);
    same_facts(&a, &b, where, "with the prefilter");
    same_facts(&c, &b, where, "in windows");
    compare_other(&norm, where);
    compared++;
    kb_facts_release(&a);
    kb_facts_release(&b);
    kb_facts_release(&c);
    kb_norm_release(&norm);
}

/* Appends s to buf (capacity cap) at *len, as far as it fits. */
static void put(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (n > cap - *len)
        n = cap - *len;
    memcpy(buf + *len, s, n);
    *len += n;
}

/* For each pattern tried in windows: a match that starts as far before its start text as the
 * pattern allows, after filler that holds the start texts without a match (each a window of
 * its own, more than WINDOW_GAP apart) and before a later match that must not be taken for the
 * first; short, and padded past 64 KiB where the engine windows by itself. Each compared with
 * the whole text's scan, and the expected value checked. */
static void windows_first_match(void)
{
    static const struct {
        const char *decoy, *match, *later, *field, *value;
    } cases[] = {
        /* user: "user" up to 7 bytes after the match's start ("_email-user") */
        {"the user said user ", "cfg_email-user = first@example.com ",
         "cfg_email-user = later@example.com", "user", "first@example.com"},
        /* host: "smtp" then any white space before "host" */
        {"our server is down; relay later ", "smtp        \t   host: mx1.example.com ",
         "smtp host: later.example.net", "host", "mx1.example.com"},
        /* a mail server's name: "mail" one byte into "email-smtp." */
        {"send mail by smtp ", "email-smtp.eu-west-1.amazonaws.com ", "smtp.later.example.net",
         "host", "email-smtp.eu-west-1.amazonaws.com"},
        /* a wrapped reply code */
        {"status ok, response fine, code green ", "response code: 535 ", "response code: 421",
         "code", "535"},
        {"established a link with hosting ",
         "Connection could not be established with host \"mailpit:1025\" ",
         "Connection could not be established with host \"later:1025\"", "host", "mailpit"},
        {"ETIMEDOUT later, ECONNREFUSED again ", "connect ECONNREFUSED ::1:587 ",
         "connect ECONNREFUSED ::2:587", "host", "::1"},
    };
    size_t cap = 200 * 1024;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    for (size_t i = 0; buf && i < sizeof cases / sizeof *cases; i++) {
        for (int pad = 0; pad < 2; pad++) {
            size_t len = 0;
            /* decoys, each a window of its own */
            for (int k = 0; k < 4; k++) {
                put(buf, cap, &len, cases[i].decoy);
                for (int f = 0; f < 40; f++)
                    put(buf, cap, &len, "lorem ipsum ");
            }
            put(buf, cap, &len, cases[i].match);
            put(buf, cap, &len, "\n");
            while (pad && len < 100 * 1024)
                put(buf, cap, &len, "lorem ipsum dolor sit amet ");
            /* a later match of the same pattern is not the first */
            put(buf, cap, &len, cases[i].decoy);
            put(buf, cap, &len, "\n");
            put(buf, cap, &len, cases[i].later);
            put(buf, cap, &len, "\n");
            struct kb_norm norm;
            struct kb_facts a, b, c;
            CHECK(kb_norm_run(buf, len, &norm) == KB_OK);
            CHECK(kb_facts_extract(&norm, NULL, &clients, &shared, &a) == KB_OK);
            CHECK(kb_facts_extract_unfiltered(&norm, NULL, &clients, &b) == KB_OK);
            CHECK(kb_facts_extract_windowed(&norm, NULL, &clients, &c) == KB_OK);
            char where[64];
            snprintf(where, sizeof where, "windows case %zu%s", i, pad ? " (padded)" : "");
            same_facts(&a, &b, where, "with the prefilter");
            same_facts(&c, &b, where, "in windows");
            const char *field = cases[i].field;
            char code[16];
            snprintf(code, sizeof code, "%d", c.reply_code);
            const char *got = strcmp(field, "user") == 0   ? c.user
                              : strcmp(field, "host") == 0 ? c.host
                                                           : code;
            int ok = got && strcmp(got, cases[i].value) == 0;
            CHECK(ok);
            if (!ok)
                fprintf(stderr, "%s: %s '%s', expected '%s'\n", where, field, got ? got : "-",
                        cases[i].value);
            compared++;
            kb_facts_release(&a);
            kb_facts_release(&b);
            kb_facts_release(&c);
            kb_norm_release(&norm);
        }
    }
    free(buf);
}

/* The cache gives one code per pattern and options, and a pattern's own: keyed by address. */
static void cache_keys(void)
{
    static const char upper[] = "A+", lower[] = "a+";
    struct kb_regex_cache c = {0};
    pcre2_code *first = kb_regex_cache_get(&c, upper, 0, 0);
    CHECK(first != NULL);
    CHECK(kb_regex_cache_get(&c, upper, 0, 1) == first); /* JIT asked later: the same code */
    CHECK(kb_regex_cache_get(&c, upper, PCRE2_CASELESS, 0) != first);
    CHECK(kb_regex_cache_get(&c, lower, 0, 0) != first);
    CHECK(c.count == 3);
    CHECK(kb_regex_cache_get(&c, "(", 0, 0) == NULL); /* does not compile: nothing kept */
    CHECK(c.count == 3);
    kb_regex_cache_release(&c);
    CHECK(c.count == 0 && c.slot == NULL);
}

int main(int argc, char **argv)
{
    cache_keys();
    CHECK(kb_clients_add(&clients, "nodemailer", "Nodemailer", NULL, "nodemailer, Nodemailer",
                         "Invalid login:, Greeting never received")
          == KB_OK);
    CHECK(kb_clients_add(&clients, "smtplib", "Python smtplib", NULL, NULL,
                         "smtplib, SMTPAuthenticationError")
          == KB_OK);
    CHECK(kb_clients_add(&clients, "curl", "curl", "tool", "curl: (", NULL) == KB_OK);
    windows_first_match();
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 2;
        }
        char *data = NULL;
        size_t len = 0, alloc = 0, n;
        char chunk[65536];
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
            if (len + n > alloc) {
                alloc = (len + n) * 2;
                char *p = realloc(data, alloc);
                if (!p)
                    return 2;
                data = p;
            }
            memcpy(data + len, chunk, n);
            len += n;
        }
        fclose(f);
        compare(data ? data : "", len, argv[i]);
        for (size_t s = 0; s < len;) {
            const char *nl = memchr(data + s, '\n', len - s);
            size_t e = nl ? (size_t)(nl - data) : len;
            char where[600];
            snprintf(where, sizeof where, "%s: line at byte %zu", argv[i], s);
            compare(data + s, e - s, where);
            s = e + 1;
        }
        free(data);
    }
    kb_regex_cache_release(&shared);
    kb_clients_release(&clients);
    printf("%zu texts compared\n", compared);
    return check_report("test_facts");
}
