/*
 * mkman.c - build-time tool: renders one Markdown man page (docs/man/NAME.SECTION.md) to roff
 * with cmark, the Markdown library the build already has, so each page is written once, reads
 * well on any Markdown viewer, and needs no pandoc or ronn.
 *
 * The Markdown uses level-1 headings for the man sections (NAME, SYNOPSIS, ...), level-2 for
 * subsections; cmark_render_man turns them into .SH and .SS. This tool adds the .TH line.
 *
 * Usage: mkman IN.md OUT NAME SECTION DATE SOURCE MANUAL
 * Writes OUT.tmp and renames it, so an interrupted build never leaves half a page.
 */
#include <cmark.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file in a malloc'd buffer; NULL on error (reported). */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 14, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *bigger = realloc(buf, cap *= 2);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "mkman: cannot read '%s'\n", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Quotes a .TH argument: roff double-quoted, with any '"' doubled. */
static void th_arg(FILE *out, const char *s)
{
    fputs(" \"", out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fputs("usage: mkman IN.md OUT NAME SECTION DATE SOURCE MANUAL\n", stderr);
        return 2;
    }
    size_t len;
    char *md = read_file(argv[1], &len);
    if (!md)
        return 1;
    cmark_node *doc = cmark_parse_document(md, len, CMARK_OPT_DEFAULT);
    free(md);
    /* Width 0: no wrapping, man(1) fills the text to the reader's terminal. */
    char *roff = doc ? cmark_render_man(doc, CMARK_OPT_DEFAULT, 0) : NULL;
    cmark_node_free(doc);
    if (!roff) {
        fputs("mkman: out of memory\n", stderr);
        return 1;
    }

    size_t tmp_len = strlen(argv[2]) + 5;
    char *tmp = malloc(tmp_len);
    FILE *out = tmp ? (snprintf(tmp, tmp_len, "%s.tmp", argv[2]), fopen(tmp, "w")) : NULL;
    int ok = out != NULL;
    if (ok) {
        fputs(".TH", out);
        for (int i = 3; i < 8; i++)
            th_arg(out, argv[i]);
        fputc('\n', out);
        fputs(roff, out);
        ok = fclose(out) == 0 && rename(tmp, argv[2]) == 0;
    }
    if (!ok) {
        perror(tmp ? tmp : argv[2]);
        if (tmp)
            remove(tmp);
    }
    free(tmp);
    free(roff);
    return ok ? 0 : 1;
}
