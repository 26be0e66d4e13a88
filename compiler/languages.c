/*
 * languages.c - articles in several languages. The KB declares its default language once (a
 * kb-language block); name.LANG.md beside name.md is a translation of it: the same entries,
 * by id, in another language. kbc_translations_split takes translations out of the article
 * list after parsing (so that their ids are no duplicates), checks that each holds only ids
 * of its original, and adds their signatures to the original entries (a German client prints
 * German errors: every lookup matches them). The writer stores their text in entry_text,
 * the self-test runs their examples, and the summary counts what is left untranslated.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "kbc.h"

/* A language tag as file names and the kb-language block write it: "de", "fra", "pt_BR". */
static int is_language(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && i < 3 && islower((unsigned char)s[i]))
        i++;
    if (i < 2)
        return 0;
    if (i == n)
        return 1;
    return n == i + 3 && s[i] == '_' && isupper((unsigned char)s[i + 1])
           && isupper((unsigned char)s[i + 2]);
}

enum kb_status kbc_language_parse(struct kbc_kb *kb, const struct kbc_file *file, const char *text,
                                  size_t line, size_t col, struct kbc_diags *diags)
{
    const char *v = text ? text : "";
    while (isspace((unsigned char)*v))
        v++;
    size_t n = strcspn(v, "\n");
    while (n && isspace((unsigned char)v[n - 1]))
        n--;
    if (n < 8 || strncmp(v, "default:", 8) != 0) {
        kbc_diag(diags, KBC_ERROR, file->display, line + 1, col,
                 "expected 'default: LANG' in kb-language block (the language of name.md; "
                 "translations are name.LANG.md)");
        return KB_OK;
    }
    const char *lang = v + 8;
    n -= 8;
    while (n && isspace((unsigned char)*lang))
        lang++, n--;
    if (!is_language(lang, n)) {
        kbc_diag(diags, KBC_ERROR, file->display, line + 1, col,
                 "'%.*s' is not a language tag (two or three lowercase letters, as 'en', "
                 "optionally a region, as 'pt_BR')",
                 (int)n, lang);
        return KB_OK;
    }
    if (kb->language) {
        kbc_diag(diags, KBC_ERROR, file->display, line + 1, col,
                 "second kb-language block (the first is in %s, line %zu): the default "
                 "language is declared once",
                 kb->language_file->display, kb->language_line);
        return KB_OK;
    }
    if (!(kb->language = kbc_strndup(lang, n)))
        return KB_ERR_NOMEM;
    kb->language_file = file;
    kb->language_line = line + 1;
    return KB_OK;
}

/* The article whose file is rel[0, n) + ".md", or -1. */
static long article_at(const struct kbc_kb *kb, const char *rel, size_t n)
{
    for (size_t i = 0; i < kb->count; i++) {
        const char *r = kb->articles[i].file->rel;
        if (strlen(r) == n + 3 && strncmp(r, rel, n) == 0 && strcmp(r + n, ".md") == 0)
            return (long)i;
    }
    return -1;
}

/* Is article a a translation: its file name.LANG.md, with name.md an article too? The
 * language's length and the original's index when it is. */
static int translation_of(const struct kbc_kb *kb, const struct kbc_article *a, size_t *lang_at,
                          size_t *lang_len, long *original)
{
    const char *rel = a->file->rel;
    size_t n = strlen(rel);
    if (n < 7 || strcmp(rel + n - 3, ".md") != 0)
        return 0;
    const char *dot = NULL;
    for (size_t i = n - 3; i-- > 0 && rel[i] != '/';)
        if (rel[i] == '.') {
            dot = rel + i;
            break;
        }
    if (!dot || !is_language(dot + 1, (size_t)(rel + n - 3 - dot - 1)))
        return 0;
    *lang_at = (size_t)(dot + 1 - rel);
    *lang_len = (size_t)(rel + n - 3 - dot - 1);
    *original = article_at(kb, rel, (size_t)(dot - rel));
    return *original >= 0;
}

static struct kbc_entry *entry_in(const struct kbc_article *a, const char *id)
{
    for (size_t i = 0; i < a->entry_count; i++)
        if (a->entries[i].id && strcmp(a->entries[i].id, id) == 0)
            return &a->entries[i];
    return NULL;
}

static int kb_has_id(const struct kbc_kb *kb, const char *id)
{
    for (size_t i = 0; i < kb->count; i++)
        if (entry_in(&kb->articles[i], id))
            return 1;
    return kbc_base_has(kb, id);
}

/* "reviewed: yes" in the file's front matter (the parser keeps only title and description). */
static int reviewed(const struct kbc_file *f)
{
    const char *p = f->data;
    if (!p || strncmp(p, "---\n", 4) != 0)
        return 0;
    for (p += 4; *p && strncmp(p, "---", 3) != 0;) {
        size_t n = strcspn(p, "\n");
        if (n >= 13 && strncmp(p, "reviewed:", 9) == 0) {
            const char *v = p + 9;
            while (*v == ' ')
                v++;
            return strncmp(v, "yes", 3) == 0;
        }
        p += n + (p[n] == '\n');
    }
    return 0;
}

/* Moves the signatures of translated entry te (written in file rel) into the original entry
 * e. */
static enum kb_status add_signatures(struct kbc_entry *e, struct kbc_entry *te, const char *rel)
{
    for (size_t i = 0; i < te->sig_count; i++) {
        if (te->sigs[i].origin)
            continue; /* harvested from the translation's prose: its text is not indexed */
        struct kbc_sig *v = kbc_grow(e->sigs, &e->sig_alloc, e->sig_count, sizeof *v);
        if (!v)
            return KB_ERR_NOMEM;
        e->sigs = v;
        e->sigs[e->sig_count] = te->sigs[i];
        e->sigs[e->sig_count++].file = rel;
        memset(&te->sigs[i], 0, sizeof te->sigs[i]);
    }
    return KB_OK;
}

enum kb_status kbc_translations_split(struct kbc_kb *kb, struct kbc_diags *diags)
{
    size_t kept = 0;
    enum kb_status status = KB_OK;
    /* name.x.md is a translation only in a KB that declares its language, and only when it is
     * written for the KB: foreign docs have files such as ping.py.md beside ping.md */
    if (!kb->language)
        return KB_OK;
    /* which articles are translations is decided on the whole list first: an original keeps
     * its index until the list is compacted, so originals are remembered by file */
    for (size_t i = 0; i < kb->count && status == KB_OK; i++) {
        struct kbc_article *a = &kb->articles[i];
        size_t at, len;
        long original;
        if (a->foreign || !translation_of(kb, a, &at, &len, &original)) {
            kb->articles[kept++] = *a;
            continue;
        }
        struct kbc_translation *t =
            kbc_grow(kb->translations, &kb->translation_alloc, kb->translation_count, sizeof *t);
        if (!t)
            return KB_ERR_NOMEM;
        kb->translations = t;
        t = &kb->translations[kb->translation_count++];
        memset(t, 0, sizeof *t);
        t->original = 0; /* found again once the list is compacted */
        t->reviewed = reviewed(a->file);
        t->article = *a;
        if (!(t->lang = kbc_strndup(a->file->rel + at, len)))
            return KB_ERR_NOMEM;
    }
    kb->count = kept;
    /* the originals' indices after compaction */
    for (size_t k = 0; k < kb->translation_count; k++) {
        struct kbc_translation *t = &kb->translations[k];
        const char *rel = t->article.file->rel;
        size_t n = strlen(rel) - 3 - strlen(t->lang) - 1;
        t->original = (size_t)article_at(kb, rel, n);
    }
    for (size_t k = 0; k < kb->translation_count && status == KB_OK; k++) {
        struct kbc_translation *t = &kb->translations[k];
        struct kbc_article *orig = &kb->articles[t->original];
        for (size_t j = 0; j < t->article.entry_count && status == KB_OK; j++) {
            struct kbc_entry *te = &t->article.entries[j];
            struct kbc_entry *e = te->id ? entry_in(orig, te->id) : NULL;
            if (!e) {
                kbc_diag(diags, KBC_ERROR, t->article.file->display, te->id_line, te->id_col,
                         "entry '%s' is not in %s: a translation holds only the entries of its "
                         "original",
                         te->id ? te->id : "", orig->file->display);
                continue;
            }
            for (size_t i = 0; i < j; i++)
                if (t->article.entries[i].id && strcmp(t->article.entries[i].id, te->id) == 0)
                    kbc_diag(diags, KBC_ERROR, t->article.file->display, te->id_line, te->id_col,
                             "entry '%s' is translated twice in this file", te->id);
            status = add_signatures(e, te, t->article.file->rel);
        }
        for (size_t r = 0; r < t->article.ref_count; r++) {
            const struct kbc_ref *ref = &t->article.refs[r];
            if ((ref->kind == KBC_REF_RELATED || ref->kind == KBC_REF_LINK
                 || ref->kind == KBC_REF_ALSO)
                && !kb_has_id(kb, ref->id))
                kbc_diag(diags, KBC_ERROR, t->article.file->display, ref->line, ref->col,
                         "%s unknown entry '%s'",
                         ref->kind == KBC_REF_LINK ? "link to" : "reference to", ref->id);
        }
    }
    return status;
}

const struct kbc_entry *kbc_translation_original(const struct kbc_kb *kb,
                                                 const struct kbc_translation *t,
                                                 const struct kbc_entry *te)
{
    return te->id ? entry_in(&kb->articles[t->original], te->id) : NULL;
}

void kbc_translations_stats(const struct kbc_kb *kb, FILE *out)
{
    size_t entries = 0;
    for (size_t i = 0; i < kb->count; i++)
        entries += kb->articles[i].entry_count;
    for (size_t k = 0; k < kb->translation_count; k++) {
        const char *lang = kb->translations[k].lang;
        int seen = 0;
        for (size_t j = 0; j < k && !seen; j++)
            seen = strcmp(kb->translations[j].lang, lang) == 0;
        if (seen)
            continue;
        size_t done = 0, checked = 0;
        for (size_t j = k; j < kb->translation_count; j++) {
            const struct kbc_translation *t = &kb->translations[j];
            if (strcmp(t->lang, lang) != 0)
                continue;
            for (size_t i = 0; i < t->article.entry_count; i++)
                if (kbc_translation_original(kb, t, &t->article.entries[i])) {
                    done++;
                    checked += t->reviewed;
                }
        }
        fprintf(out, "%s: %s: %zu of %zu entries translated (%zu reviewed), %zu untranslated\n",
                KBC_PROGRAM, lang, done, entries, checked, entries - done);
    }
}
