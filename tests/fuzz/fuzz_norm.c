/*
 * fuzz_norm.c - libFuzzer target: normalisation alone (kb_norm_run: cleaning, escapes, log
 * prefixes, reply unfolding, masking), with the line maps checked against the text they
 * describe. Built and run by run.sh; see README.md here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kb_norm n;
    if (kb_norm_run((const char *)data, size, &n) == KB_OK) {
        /* what later stages rely on: no NUL inside, lines in order, maps in range */
        if (strlen(n.text) != n.len || !n.line_count || n.line_start[0] != 0)
            abort();
        for (size_t i = 0; i < n.line_count; i++) {
            if (n.line_start[i] > n.len || (i && n.line_start[i] <= n.line_start[i - 1])
                || n.orig_line[i] < 1
                || n.orig_line[i] > (n.orig_line_count ? n.orig_line_count : 1)
                || kb_norm_line_of(&n, n.line_start[i]) != i)
                abort();
        }
    }
    kb_norm_release(&n);
    return 0;
}
