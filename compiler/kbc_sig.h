/*
 * kbc_sig.h - signature compilation inside kb-compile (sig.c); separate from kbc.h so only
 * the parser sees it.
 */
#ifndef KBC_SIG_H
#define KBC_SIG_H

#include "kbc.h"

/* Fills sig->pattern, sig->captures and the anchor from sig->kind and sig->source. Problems
 * (does not compile, matches "", a regex without an anchor) go to diags at sig->line; source_col is
 * the column of the source's first character, to which PCRE2's error offset is added. Fails only
 * when out of memory. */
enum kb_status kbc_sig_compile(struct kbc_sig *sig, size_t source_col, const char *path,
                               struct kbc_diags *diags);

#endif
