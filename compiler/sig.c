/*
 * sig.c - compiles one signature the way libkb will run it: literals translated by
 * kb_literal_to_pattern, everything compiled with kb_signature_compile_options(), rejected
 * when it does not compile or matches the empty string; then its named captures and its
 * prefilter anchor (kb_signature_anchor) are recorded for the database.
 */
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "kb_text.h"
#include "kbc.h"
#include "kbc_sig.h"

/* The named groups of a compiled pattern, comma-separated, in PCRE2's (sorted) table order. */
static enum kb_status capture_names(const pcre2_code *code, struct kb_buf *out)
{
    uint32_t count = 0, entry_size = 0;
    PCRE2_SPTR table = NULL;
    if (pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &count) != 0 || count == 0)
        return KB_OK;
    if (pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size) != 0
        || pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table) != 0)
        return KB_OK;
    const char *prev = NULL;
    enum kb_status status = KB_OK;
    for (uint32_t i = 0; i < count && status == KB_OK; i++) {
        const char *name = (const char *)table + (size_t)i * entry_size + 2;
        if (prev && strcmp(prev, name) == 0) /* (?J) allows duplicate names */
            continue;
        if (out->len)
            status = kb_buf_append_char(out, ',');
        if (status == KB_OK)
            status = kb_buf_append_str(out, name);
        prev = name;
    }
    return status;
}

/* Does the pattern match ""? Such a signature would match every text. */
static int matches_empty(const pcre2_code *code)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    int rc = -1;
    if (md && mc) {
        pcre2_set_match_limit(mc, 100000);
        pcre2_set_depth_limit(mc, 10000);
        rc = pcre2_match(code, (PCRE2_SPTR) "", 0, 0, 0, md, mc);
    }
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    return rc >= 0;
}

enum kb_status kbc_sig_compile(struct kbc_sig *sig, size_t source_col, const char *path,
                               struct kbc_diags *diags)
{
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    pcre2_code *code = NULL;
    size_t len = strlen(sig->source);
    enum kb_status status = KB_OK;
    int is_regex = sig->kind == KB_SIG_REGEX;

    if (is_regex)
        status = kb_regex_to_pattern(sig->source, len, &buf, NULL);
    else
        status = kb_literal_to_pattern(sig->source, len, &buf);
    if (status == KB_OK)
        status = kb_buf_detach(&buf, &sig->pattern);
    if (status != KB_OK)
        goto cleanup;

    int errcode = 0;
    PCRE2_SIZE erroffset = 0;
    code = pcre2_compile((PCRE2_SPTR)sig->pattern, strlen(sig->pattern),
                         kb_signature_compile_options(), &errcode, &erroffset, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(errcode, msg, sizeof msg) < 0)
            strcpy((char *)msg, "unknown error");
        if (is_regex) {
            /* the translation widens spaces and adds word boundaries: the source as written
             * gives the offset in the author's own text */
            int raw_err = 0;
            PCRE2_SIZE raw_off = 0;
            pcre2_code *raw =
                pcre2_compile((PCRE2_SPTR)sig->source, len, kb_signature_compile_options(),
                              &raw_err, &raw_off, NULL);
            size_t at = raw ? 0 : raw_off;
            pcre2_code_free(raw);
            kbc_diag(diags, KBC_ERROR, path, sig->line, source_col + at,
                     "regex does not compile: %s", (char *)msg);
        } else
            kbc_diag(diags, KBC_ERROR, path, sig->line, source_col,
                     "literal does not compile (translated to '%s'): %s", sig->pattern,
                     (char *)msg);
        goto cleanup;
    }
    if (matches_empty(code)) {
        kbc_diag(diags, KBC_ERROR, path, sig->line, source_col, "%s matches the empty string",
                 is_regex ? "regex" : "literal");
        goto cleanup;
    }
    if ((status = capture_names(code, &buf)) != KB_OK
        || (status = kb_buf_detach(&buf, &sig->captures)) != KB_OK)
        goto cleanup;

    uint64_t hash = 0;
    int r = kb_signature_anchor(sig->kind, sig->source, len, &hash, NULL);
    if (r < 0) {
        status = KB_ERR_NOMEM;
    } else if (r == 1) {
        sig->has_anchor = 1;
        sig->anchor = (int64_t)hash;
    } else if (is_regex) {
        /* A literal has a word unless it is all in a script without ASCII words (Chinese,
         * Japanese): nothing to add there, and searching one literal in every text is cheap. A
         * regex without one is tried at every byte of every text, and the author can say
         * which word each match holds. */
        kbc_diag(diags, KBC_WARNING, path, sig->line, source_col,
                 "regex has no word the prefilter can index, so it runs on every lookup: give it "
                 "a word that every match holds, outside groups and optional parts, with \\b, a "
                 "space or punctuation on each side (\\bquota\\b, not quota(?:s)?), or split a "
                 "top-level alternation into one line per branch");
    }
cleanup:
    pcre2_code_free(code);
    kb_buf_release(&buf);
    return status;
}
