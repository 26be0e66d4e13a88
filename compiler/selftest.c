/*
 * selftest.c - after the database is written, every kb-example and kb-counterexample is run
 * through kb_query_run, the code kb-lookup runs, on that very database (its image in memory,
 * read through the same checks of every page a lookup makes).
 *
 * What it proves, and says when it does not hold:
 *   - an example ranks its own entry first (or, with also=, one of the listed entries first
 *     and its own in the top three); a ranking failure gives both scores and the fix that
 *     fits (a weight, also=, a signature);
 *   - an example of an entry that has signatures or conditions is found by them: at least one
 *     of the entry's own signatures matches it, or one of its conditions holds. Full text
 *     finding it proves nothing about the signatures, so it does not count, unless the block
 *     says the example is meant for full text (kb-example via=fulltext): then it must be found
 *     by full text and by none of the entry's signatures;
 *   - a counter-example keeps its entry out of the top three.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb_text.h"
#include "kbc.h"

/* When the entry is not among the top three, the query is run again for this many matches to
 * give its score. */
#define KBC_SELFTEST_DEEP 50
/* A diagnostic names signatures and terms, never the example itself: this is plenty. */
#define KBC_MESSAGE_CAP 8192

static long rank_of(const struct kb_result *r, const char *id)
{
    for (size_t i = 0; r && i < r->match_count; i++)
        if (strcmp(r->matches[i].entry->id, id) == 0)
            return (long)i;
    return -1;
}

/* Does the entry make a claim the self-test can check: a signature its author wrote, or a
 * condition that points to it? */
static int has_own_evidence(const struct kbc_entry *e)
{
    for (size_t i = 0; i < e->sig_count; i++)
        if (!e->sigs[i].origin)
            return 1;
    for (size_t i = 0; i < e->condition_count; i++)
        if (e->conditions[i].weight > 0)
            return 1;
    return 0;
}

/* A match found by the entry's own signatures or conditions (kb_rank.c: via is "signature"
 * exactly when they add up to a positive score). */
static int by_own_evidence(const struct kb_match *m)
{
    return m && m->via == KB_VIA_SIGNATURE;
}

/* "signature 'x'", "condition 'x'", "full text (terms a b c)": what made a match rank. */
static void what_found(const struct kb_match *m, struct kb_buf *out)
{
    if (by_own_evidence(m) && m->matched_signature_count > 0) {
        const char *s = m->matched_signatures[0];
        if (strncmp(s, "when: ", 6) == 0)
            kb_buf_printf(out, "condition '%s'", s + 6);
        else
            kb_buf_printf(out, "signature '%s'", s);
        return;
    }
    /* full text: the terms it matched are in the explanation kb_fulltext.c writes */
    for (size_t i = 0; i < m->explain_count; i++) {
        const char *x = m->explain[i];
        const char *open = strncmp(x, "full-text:", 10) == 0 ? strchr(x, '(') : NULL;
        const char *close = open ? strchr(open, ')') : NULL;
        if (close && close > open + 1) {
            kb_buf_printf(out, "full text, on the words '%.*s'", (int)(close - open - 1), open + 1);
            return;
        }
    }
    kb_buf_append_str(out, m->via == KB_VIA_FULLTEXT ? "full text" : "signature");
}

/* ---- the signature that came closest ----------------------------------------------------- */

/* Is word[0, n) in text as a whole word, caselessly? */
static int has_word(const char *text, const char *word, size_t n)
{
    for (const char *p = text; *p; p++) {
        if (strncasecmp(p, word, n) != 0)
            continue;
        int before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = isalnum((unsigned char)p[n]) || p[n] == '_';
        if (!before && !after)
            return 1;
    }
    return 0;
}

/* The words of a signature (runs of letters and digits, two or more long; in a regex, not the
 * letter of an escape such as \d or a group's name), and how many of them the text holds. */
static void count_words(const struct kbc_sig *sig, const char *text, size_t *words, size_t *found)
{
    const char *s = sig->source;
    *words = *found = 0;
    for (size_t i = 0; s[i];) {
        if (sig->kind == KB_SIG_REGEX && s[i] == '\\') {
            i += s[i + 1] ? 2 : 1;
            continue;
        }
        if (sig->kind == KB_SIG_REGEX && s[i] == '(' && s[i + 1] == '?') {
            /* a group's name is no word of the text; a lookaround's content is */
            int named = (s[i + 2] == '<' && s[i + 3] != '=' && s[i + 3] != '!')
                        || (s[i + 2] == 'P' && s[i + 3] == '<');
            const char *close = named ? strchr(s + i, '>') : NULL;
            i = close ? (size_t)(close - s) + 1 : i + 2;
            continue;
        }
        if (!isalnum((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (isalnum((unsigned char)s[i]))
            i++;
        if (i - start < 2)
            continue;
        (*words)++;
        *found += has_word(text, s + start, i - start);
    }
}

/* Appends "; closest: 'x' (2 of its 3 words are in the text)" for the written signature of e
 * with the most of its words in the text, when one has any. */
static void closest_signature(const struct kbc_entry *e, const char *text, struct kb_buf *out)
{
    const struct kbc_sig *best = NULL;
    size_t best_words = 0, best_found = 0;
    for (size_t i = 0; i < e->sig_count; i++) {
        const struct kbc_sig *sig = &e->sigs[i];
        size_t words, found;
        if (sig->origin)
            continue;
        count_words(sig, text, &words, &found);
        /* the larger share of its words, then the more of them */
        if (found
            && (!best || found * best_words > best_found * words
                || (found * best_words == best_found * words && found > best_found))) {
            best = sig;
            best_words = words;
            best_found = found;
        }
    }
    if (!best)
        return;
    if (best_found == best_words)
        kb_buf_printf(out,
                      "; closest: '%s' (line %zu), whose words are all in the text: check its "
                      "exact wording, context= and when=",
                      best->source, best->line);
    else
        kb_buf_printf(out, "; closest: '%s' (line %zu), %zu of its %zu words in the text",
                      best->source, best->line, best_found, best_words);
}

/* ---- checking one example ---------------------------------------------------------------- */

struct check {
    struct kb_db *db;
    const struct kbc_article *a;
    const struct kbc_entry *e;
    const struct kbc_example *x;
    struct kbc_diags *diags;
    struct kb_error *err;
    struct kb_buf msg, why;
};

static void report(struct check *c)
{
    kbc_diag(c->diags, KBC_ERROR, c->a->file->display, c->x->line, c->x->col, "%s",
             c->msg.data ? c->msg.data : "out of memory");
}

/* The entry's own match when it is not in r (the top three): the query run again for more. */
static enum kb_status deep_match(struct check *c, struct kb_result **deep,
                                 const struct kb_match **own)
{
    struct kb_query_options options = {.top = KBC_SELFTEST_DEEP, .max_input = 0};
    enum kb_status status =
        kb_query_run(c->db, c->x->text, strlen(c->x->text), &options, deep, c->err);
    long at = status == KB_OK ? rank_of(*deep, c->e->id) : -1;
    *own = at >= 0 ? &(*deep)->matches[at] : NULL;
    return status;
}

static void check_counter(struct check *c, const struct kb_result *r)
{
    long own = rank_of(r, c->e->id);
    if (own < 0 || own >= KBC_SELFTEST_TOP)
        return;
    const struct kb_match *m = &r->matches[own];
    what_found(m, &c->why);
    kb_buf_printf(&c->msg,
                  "counter-example of '%s' ranks it number %ld: score %.1f (%s); it must not be in "
                  "the top %d: ",
                  c->e->id, own + 1, m->score, c->why.data ? c->why.data : "", KBC_SELFTEST_TOP);
    if (by_own_evidence(m))
        kb_buf_append_str(&c->msg, "make that signature narrower (or give it context= or when= "
                                   "so that it does not apply here), or give the entry this "
                                   "text is about a signature that outweighs it");
    else
        kb_buf_append_str(&c->msg,
                          "give the entry this text is about a signature that matches it (written "
                          "evidence scoring 2 or more keeps full-text answers out), or, if it is "
                          "about no entry, take out the words it shares with this entry's text "
                          "and examples by accident (placeholder names and hosts such as "
                          "example.com)");
    report(c);
}

/* The fix for an example ranked below another entry: what is missing decides. */
static void ranking_fix(struct check *c, const struct kb_match *own, const char *top_id)
{
    if (!by_own_evidence(own) && has_own_evidence(c->e)) {
        kb_buf_printf(&c->msg,
                      "; none of the signatures or conditions of '%s' finds it: add a "
                      "signature this text holds",
                      c->e->id);
        closest_signature(c->e, c->x->text, &c->msg);
    } else if (!has_own_evidence(c->e)) {
        kb_buf_printf(&c->msg, "; '%s' has no signatures: write one this text holds", c->e->id);
    } else if (!top_id || kb_list_contains(c->x->also, top_id)) {
        kb_buf_printf(&c->msg, "; raise the weight of a signature only '%s' has", c->e->id);
    } else {
        kb_buf_printf(&c->msg,
                      "; raise the weight of a signature only '%s' has, or, if the text fits both "
                      "causes, add %s%s to this example%s",
                      c->e->id, c->x->also[0] ? "" : "also=", top_id,
                      c->x->also[0] ? "'s also=" : "");
    }
}

static enum kb_status check_example(struct check *c, const struct kb_result *r)
{
    const struct kbc_example *x = c->x;
    const struct kbc_entry *e = c->e;
    struct kb_result *deep = NULL;
    long at = rank_of(r, e->id);
    const struct kb_match *own = at >= 0 ? &r->matches[at] : NULL;
    enum kb_status status = KB_OK;
    if (!own && (status = deep_match(c, &deep, &own)) != KB_OK)
        return status;
    const struct kb_match *top = r->match_count ? &r->matches[0] : NULL;
    int ranked = at == 0
                 || (at > 0 && at < KBC_SELFTEST_TOP && x->also[0]
                     && kb_list_contains(x->also, top->entry->id));

    if (!top) {
        kb_buf_printf(&c->msg, "example of '%s' matches no entry", e->id);
        ranking_fix(c, NULL, NULL);
        report(c);
    } else if (!ranked && x->also[0] && kb_list_contains(x->also, top->entry->id)) {
        kb_buf_printf(&c->msg, "example of '%s' does not rank it in the top %d (also=%s): ", e->id,
                      KBC_SELFTEST_TOP, x->also);
        if (own)
            kb_buf_printf(&c->msg, "it scores %.1f, number %d scores %.1f", own->score,
                          KBC_SELFTEST_TOP, r->matches[r->match_count - 1].score);
        else
            kb_buf_append_str(&c->msg, "nothing finds it");
        ranking_fix(c, own, top->entry->id);
        report(c);
    } else if (!ranked) {
        what_found(top, &c->why);
        if (own)
            kb_buf_printf(&c->msg, "example of '%s' ranks '%s' first: %.1f against %.1f (%s)",
                          e->id, top->entry->id, top->score, own->score,
                          c->why.data ? c->why.data : "");
        else
            kb_buf_printf(&c->msg,
                          "example of '%s' ranks '%s' first: %.1f (%s), and nothing finds '%s'",
                          e->id, top->entry->id, top->score, c->why.data ? c->why.data : "", e->id);
        if (x->also[0])
            kb_buf_printf(&c->msg, "; expected '%s' or one of also=%s", e->id, x->also);
        ranking_fix(c, own, top->entry->id);
        report(c);
    } else if (x->fulltext && by_own_evidence(own)) {
        what_found(own, &c->why);
        kb_buf_printf(&c->msg,
                      "example of '%s' is marked via=fulltext but its own %s finds it: drop "
                      "via=fulltext",
                      e->id, c->why.data ? c->why.data : "evidence");
        report(c);
    } else if (!x->fulltext && has_own_evidence(e) && !by_own_evidence(own)) {
        kb_buf_printf(&c->msg,
                      "example of '%s' is found by full text only (score %.1f), by none of its "
                      "signatures or conditions: add a signature this text holds",
                      e->id, own->score);
        closest_signature(e, x->text, &c->msg);
        kb_buf_append_str(&c->msg, ", or, if it is meant for full text, mark the block "
                                   "'kb-example via=fulltext'");
        report(c);
    }
    kb_result_free(deep);
    return KB_OK;
}

/* Runs c's example through the KB and checks what it claims; counts it in *checked. */
static enum kb_status run_check(struct check *c, const struct kb_query_options *options,
                                size_t *checked)
{
    kb_buf_init(&c->msg, KBC_MESSAGE_CAP);
    kb_buf_init(&c->why, KBC_MESSAGE_CAP);
    struct kb_result *r = NULL;
    enum kb_status status =
        kb_query_run(c->db, c->x->text, strlen(c->x->text), options, &r, c->err);
    if (status == KB_OK && c->x->counter)
        check_counter(c, r);
    else if (status == KB_OK)
        status = check_example(c, r);
    kb_result_free(r);
    kb_buf_release(&c->msg);
    kb_buf_release(&c->why);
    (*checked)++;
    return status;
}

enum kb_status kbc_selftest(const unsigned char *image, size_t len, const char *label,
                            const struct kbc_kb *kb, struct kbc_diags *diags, size_t *checked,
                            struct kb_error *err)
{
    struct kb_db *db = NULL;
    *checked = 0;
    /* an overlay (kb-compile --base) is checked as kb-lookup will read it: on its base */
    enum kb_status status = kb->base ? KB_OK : kb_db_open_memory(image, len, label, &db, err);
    struct kb_db *kb_read = kb->base ? kb->base : db;
    struct kb_query_options options = {.top = KBC_SELFTEST_TOP, .max_input = 0};
    for (size_t i = 0; i < kb->count && status == KB_OK; i++) {
        const struct kbc_article *a = &kb->articles[i];
        for (size_t j = 0; j < a->entry_count && status == KB_OK; j++) {
            const struct kbc_entry *e = &a->entries[j];
            for (size_t k = 0; k < e->example_count && status == KB_OK; k++) {
                struct check c = {.db = kb_read,
                                  .a = a,
                                  .e = e,
                                  .x = &e->examples[k],
                                  .diags = diags,
                                  .err = err};
                status = run_check(&c, &options, checked);
            }
        }
    }
    /* a translation's examples are its original entry's, in another language */
    for (size_t i = 0; i < kb->translation_count && status == KB_OK; i++) {
        const struct kbc_translation *t = &kb->translations[i];
        for (size_t j = 0; j < t->article.entry_count && status == KB_OK; j++) {
            const struct kbc_entry *e = kbc_translation_original(kb, t, &t->article.entries[j]);
            const struct kbc_entry *te = &t->article.entries[j];
            for (size_t k = 0; e && k < te->example_count && status == KB_OK; k++) {
                struct check c = {.db = kb_read,
                                  .a = &t->article,
                                  .e = e,
                                  .x = &te->examples[k],
                                  .diags = diags,
                                  .err = err};
                status = run_check(&c, &options, checked);
            }
        }
    }
    kb_db_close(db);
    return status;
}
