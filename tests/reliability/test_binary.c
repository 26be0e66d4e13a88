/*
 * test_binary.c - input that is not text (issue 17, item 4): a binary file gets no answer and
 * is said to look binary, unless a real error line stands in it, which is then answered.
 * Normalisation (kb_norm.c) tells text from noise line by line; the lookup reads only the
 * text, and runs of words inside noise.
 *   - 100 buffers of 1 MiB of random bytes (seeded here, the same in every run): no match,
 *     input_binary set;
 *   - "RBL" between word boundaries inside random bytes (the signature of a blocklist that
 *     three random bytes used to spell): no match, while the same word as a text line of
 *     its own does match;
 *   - random bytes around one real error line, on a line of its own and inside the noise
 *     between NUL bytes: the error answered (its reply code read, a match);
 *   - a log in Latin-1 (invalid UTF-8 here and there) is text, not binary.
 *
 *   test_binary DB
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb.h"

#define MIB (1024 * 1024)

static uint64_t state;

static unsigned char next_byte(void)
{
    /* xorshift64*: fixed seed, no libc rand, so every platform makes the same buffers */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return (unsigned char)((state * 0x2545F4914F6CDD1DULL) >> 56);
}

/* n random bytes into p; without line breaks when one_line */
static void fill(char *p, size_t n, int one_line)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = next_byte();
        p[i] = (char)(one_line && c == '\n' ? 0 : c);
    }
}

static struct kb_result *lookup(struct kb_db *db, const char *text, size_t len)
{
    struct kb_result *r = NULL;
    struct kb_error err = {KB_OK, ""};
    struct kb_query_options o = {.top = 3, .max_input = 4 * MIB};
    CHECK(kb_query_run(db, text, len, &o, &r, &err) == KB_OK);
    return r;
}

static const char error_line[] =
    "smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted. For "
    "more information, go to https://support.google.com/mail/?p=BadCredentials - gsmtp')";

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_binary DB\n");
        return 2;
    }
    struct kb_db *db = NULL;
    struct kb_error err = {KB_OK, ""};
    if (kb_db_open_file(argv[1], &db, &err) != KB_OK) {
        fprintf(stderr, "test_binary: %s\n", err.message);
        return 2;
    }
    char *buf = malloc(MIB);
    CHECK(buf != NULL);
    if (!buf)
        return check_report("test_binary");

    state = 0x9E3779B97F4A7C15ULL;
    size_t answered = 0, binary = 0;
    for (int k = 0; k < 100; k++) {
        fill(buf, MIB, 0);
        struct kb_result *r = lookup(db, buf, MIB);
        if (r) {
            answered += r->match_count > 0;
            binary += r->input_binary != 0;
            if (r->match_count)
                fprintf(stderr, "random buffer %d answered: %s\n", k, r->matches[0].entry->id);
        }
        kb_result_free(r);
    }
    printf("100 random MiB: %zu answered, %zu said to look binary\n", answered, binary);
    CHECK(answered == 0);
    CHECK(binary == 100);

    /* RBL inside noise, then as text */
    size_t half = 4096;
    fill(buf, 2 * half + 5, 1);
    memcpy(buf + half, " RBL ", 5);
    struct kb_result *r = lookup(db, buf, 2 * half + 5);
    CHECK(r && r->match_count == 0);
    kb_result_free(r);
    r = lookup(db, "RBL", 3);
    CHECK(r && r->match_count > 0); /* the word does mean something in text */
    kb_result_free(r);

    /* one real error line in a binary file: on its own line, then between NUL bytes */
    size_t n = strlen(error_line);
    for (int shape = 0; shape < 2; shape++) {
        fill(buf, MIB, 0);
        size_t at = MIB / 2;
        buf[at - 1] = shape ? '\0' : '\n';
        memcpy(buf + at, error_line, n);
        buf[at + n] = shape ? '\0' : '\n';
        r = lookup(db, buf, MIB);
        CHECK(r && r->input_binary);
        CHECK(r && r->match_count > 0);
        CHECK(r && r->facts.reply_code == 535);
        if (r && r->match_count)
            printf("error line in binary (%s): %s\n", shape ? "between NULs" : "own line",
                   r->matches[0].entry->id);
        kb_result_free(r);
    }

    /* Latin-1 text: a few invalid UTF-8 bytes do not make it binary */
    static const char latin1[] = "2024-05-14 Fehler beim Senden der Nachricht an M\xfcller: "
                                 "535 5.7.8 Benutzername oder Passwort falsch (gr\xf6\xdf"
                                 "er Fehler)\n";
    r = lookup(db, latin1, sizeof latin1 - 1);
    CHECK(r && !r->input_binary);
    CHECK(r && r->match_count > 0);
    kb_result_free(r);

    free(buf);
    kb_db_close(db);
    return check_report("test_binary");
}
