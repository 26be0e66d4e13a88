/*
 * test_json_string.c - kb-lookup's JSON string writer (lookup/cli/print_json.c), which passes
 * over plain bytes eight at a time (issue 11), against a byte-by-byte reference: every byte
 * value at every offset of a word, and random strings of the bytes that matter.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_text.h"
#include "check.h"
#include "cli.h"

/* print_json.c's other needs, not used by json_string_len */
const char *cli_layer_tag(const struct kb_db *layers, const struct kb_entry *e, char *buf,
                          size_t size)
{
    (void)layers;
    (void)e;
    (void)buf;
    (void)size;
    return "";
}
void cli_nomatch_read(const struct kb_result *r, int markdown, struct cli_nomatch *n)
{
    (void)r;
    (void)markdown;
    memset(n, 0, sizeof *n);
}
void cli_nomatch_release(struct cli_nomatch *n)
{
    (void)n;
}

/* The writer as it was before words: one byte at a time. */
static void ref_string(FILE *out, const unsigned char *p, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t len = c >= 0x80 ? kb_utf8_len(p + i, n - i) : 1;
        if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\' && len) {
            fwrite(p + i, 1, len, out);
            i += len;
            continue;
        }
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputs("\\ufffd", out);
        i++;
    }
    fputc('"', out);
}

static int same(const unsigned char *s, size_t n)
{
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);
    if (!fa || !fb)
        return 0;
    json_string_len(fa, (const char *)s, n);
    ref_string(fb, s, n);
    fclose(fa);
    fclose(fb);
    int ok = alen == blen && memcmp(a, b, alen) == 0;
    if (!ok)
        fprintf(stderr, "differs: %.*s\n     vs: %.*s\n", (int)alen, a, (int)blen, b);
    free(a);
    free(b);
    return ok;
}

int main(void)
{
    unsigned char s[64];
    /* each byte value at each position of two words of plain text */
    for (int c = 0; c < 256; c++)
        for (size_t at = 0; at < 17; at++) {
            memset(s, 'a', sizeof s);
            s[at] = (unsigned char)c;
            CHECK(same(s, 17));
            CHECK(same(s, at + 1));
        }
    /* random strings of the bytes that matter: plain, quote, backslash, controls, DEL, UTF-8
     * lead and continuation bytes */
    static const unsigned char pool[] = {'a',  ' ',  '~',  '"',  '\\', '\n', '\t', 0x01,
                                         0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xc3, 0xa9, 0xe2,
                                         0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0x00};
    srand(11);
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)rand() % sizeof s;
        for (size_t i = 0; i < n; i++)
            s[i] = (rand() % 3) ? 'x' : pool[(size_t)rand() % sizeof pool];
        CHECK(same(s, n));
    }
    return check_report("test_json_string");
}
