/*
 * fuzz_article.c - libFuzzer target: one article through the compiler's parse and validate
 * path (front matter, cmark, kb- blocks, signatures, examples, placeholders, rendering,
 * harvesting, the checks across the KB). The input is the article's Markdown. Built and run by
 * run.sh with the compiler's sources but its main.c; see README.md here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kbc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kbc_file file = {.rel = "fuzz/article.md", .display = "kb/fuzz/article.md"};
    struct kbc_kb kb = {0};
    struct kbc_diags diags;
    if (!(file.data = malloc(size + 1)))
        return 0;
    memcpy(file.data, data, size);
    file.data[size] = '\0';
    file.len = size;
    kbc_diags_init(&diags);
    if (kbc_parse_file(&file, &kb, &diags) == KB_OK && kbc_validate(&kb, &diags) == KB_OK)
        kbc_harvest_finish(&kb);
    kbc_diags_release(&diags);
    kbc_kb_release(&kb);
    free(file.data);
    return 0;
}
