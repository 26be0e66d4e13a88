/*
 * validate.c - the checks that need the whole KB: ids (syntax, uniqueness), references to ids
 * (related:, [text](kb:id), also=) and to the providers the KB declares (provider:: see
 * providers.c), placeholders against the entry's captures and the facts,
 * and the derived ids of foreign Markdown (assigned after every declared id is known, so a
 * declared id always wins and a derived one gets -2, -3, ... on collision).
 */
#include <stdlib.h>
#include <string.h>

#include "kb_text.h"
#include "kbc.h"

/* Facts every lookup extracts; a placeholder may always name one of them. */
static const char *const facts[] = {"host",  "port",   "user",     "code",      "enhanced",
                                    "stage", "client", "provider", "recipient", "recipient_domain"};

/* An open-addressing hash set of entry ids, each mapped to its first definition. */
struct id_slot {
    const char *id;
    const struct kbc_entry *entry;
    const struct kbc_article *article;
};

struct id_set {
    struct id_slot *slots;
    size_t cap, count;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct id_slot *id_find(const struct id_set *set, const char *id)
{
    if (!set->cap)
        return NULL;
    size_t i = (size_t)hash_str(id) & (set->cap - 1);
    while (set->slots[i].id) {
        if (strcmp(set->slots[i].id, id) == 0)
            return &set->slots[i];
        i = (i + 1) & (set->cap - 1);
    }
    return NULL;
}

static enum kb_status id_add(struct id_set *set, const char *id, const struct kbc_entry *e,
                             const struct kbc_article *a)
{
    if ((set->count + 1) * 2 > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        struct id_slot *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return KB_ERR_NOMEM;
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slots[i].id)
                continue;
            size_t j = (size_t)hash_str(set->slots[i].id) & (cap - 1);
            while (slots[j].id)
                j = (j + 1) & (cap - 1);
            slots[j] = set->slots[i];
        }
        free(set->slots);
        set->slots = slots;
        set->cap = cap;
    }
    size_t i = (size_t)hash_str(id) & (set->cap - 1);
    while (set->slots[i].id)
        i = (i + 1) & (set->cap - 1);
    set->slots[i] = (struct id_slot){id, e, a};
    set->count++;
    return KB_OK;
}

int kbc_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > KBC_MAX_ID_LEN || id[0] == '-' || id[len - 1] == '-')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (c == '-' && id[i + 1] == '-')
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

static enum kb_status declared_ids(struct kbc_kb *kb, struct id_set *set, struct kbc_diags *diags)
{
    for (size_t i = 0; i < kb->count; i++) {
        const struct kbc_article *a = &kb->articles[i];
        for (size_t j = 0; j < a->entry_count; j++) {
            const struct kbc_entry *e = &a->entries[j];
            if (!e->id)
                continue;
            const struct id_slot *first = id_find(set, e->id);
            if (first) {
                kbc_diag(diags, KBC_ERROR, a->file->display, e->id_line, e->id_col,
                         "duplicate id '%s' (first defined at %s:%zu:%zu)", e->id,
                         first->article->file->display, first->entry->id_line,
                         first->entry->id_col);
                continue;
            }
            if (id_add(set, e->id, e, a) != KB_OK)
                return KB_ERR_NOMEM;
        }
    }
    return KB_OK;
}

/* docs/Mail Flow.md -> docs-mail-flow: lowercase, runs of other characters to one '-'. */
static char *derive_id(const char *rel)
{
    size_t n = strlen(rel);
    if (n > 3 && strcmp(rel + n - 3, ".md") == 0)
        n -= 3;
    char *id = malloc(n + 1);
    if (!id)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rel[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            id[k++] = (char)c;
        else if (k > 0 && id[k - 1] != '-')
            id[k++] = '-';
    }
    while (k > 0 && id[k - 1] == '-')
        k--;
    id[k] = '\0';
    return id;
}

static enum kb_status derived_ids(struct kbc_kb *kb, struct id_set *set)
{
    for (size_t i = 0; i < kb->count; i++) {
        struct kbc_article *a = &kb->articles[i];
        if (!a->foreign || !a->entry_count)
            continue;
        struct kbc_entry *e = &a->entries[0];
        char *base = derive_id(a->file->rel);
        if (!base)
            return KB_ERR_NOMEM;
        struct kb_buf buf;
        kb_buf_init(&buf, 0);
        enum kb_status status = kb_buf_append_str(&buf, base[0] ? base : "article");
        for (unsigned n = 2; status == KB_OK && id_find(set, buf.data); n++) {
            kb_buf_reset(&buf);
            status = kb_buf_printf(&buf, "%s-%u", base[0] ? base : "article", n);
        }
        free(base);
        if (status == KB_OK)
            status = kb_buf_detach(&buf, &e->id);
        kb_buf_release(&buf);
        if (status == KB_OK)
            status = id_add(set, e->id, e, a);
        if (status != KB_OK)
            return status;
    }
    return KB_OK;
}

/* An entry's provider: value, or a provider of a kb-provider-steps line, that the KB does not
 * declare ('any' is no advice for a step: a step for every provider has no mark). */
static enum kb_status unknown_provider(const struct kbc_kb *kb, const struct kbc_article *a,
                                       const struct kbc_ref *r, struct kbc_diags *diags)
{
    struct kb_buf known;
    kb_buf_init(&known, 0);
    enum kb_status st = kbc_providers_list(kb, &known);
    if (st == KB_OK && known.len)
        kbc_diag(diags, KBC_ERROR, a->file->display, r->line, r->col,
                 "unknown provider '%s' (this KB declares %s; declare it in a kb-provider "
                 "block%s)",
                 r->id, known.data,
                 r->kind == KBC_REF_PROVIDER ? ", or write 'any' for every provider" : "");
    else if (st == KB_OK)
        kbc_diag(diags, KBC_ERROR, a->file->display, r->line, r->col,
                 "unknown provider '%s' (this KB declares no provider: declare it in a "
                 "kb-provider block, see 'man 5 kb-format')",
                 r->id);
    kb_buf_release(&known);
    return st;
}

static enum kb_status check_refs(const struct kbc_kb *kb, const struct id_set *set,
                                 struct kbc_diags *diags)
{
    for (size_t i = 0; i < kb->count; i++) {
        const struct kbc_article *a = &kb->articles[i];
        for (size_t j = 0; j < a->ref_count; j++) {
            const struct kbc_ref *r = &a->refs[j];
            if (r->kind == KBC_REF_PROVIDER || r->kind == KBC_REF_STEP_PROVIDER) {
                enum kb_status st = kbc_provider_find(kb, r->id, strlen(r->id))
                                        ? KB_OK
                                        : unknown_provider(kb, a, r, diags);
                if (st != KB_OK)
                    return st;
                continue;
            }
            if (id_find(set, r->id) || kbc_base_has(kb, r->id))
                continue; /* an overlay may point into its base (kb-compile --base) */
            const char *fmt = r->kind == KBC_REF_RELATED ? "unknown entry '%s' in related:"
                              : r->kind == KBC_REF_LINK  ? "link to unknown entry '%s'"
                                                         : "unknown entry '%s' in also=";
            kbc_diag(diags, KBC_ERROR, a->file->display, r->line, r->col, fmt, r->id);
        }
    }
    return KB_OK;
}

/* Is name one of the named captures (comma-separated lists) of e's signatures? */
static int is_capture(const struct kbc_entry *e, const char *name)
{
    for (size_t i = 0; i < e->sig_count; i++)
        if (kb_list_contains(e->sigs[i].captures, name))
            return 1;
    return 0;
}

static void check_placeholders(const struct kbc_kb *kb, struct kbc_diags *diags)
{
    for (size_t i = 0; i < kb->count; i++) {
        const struct kbc_article *a = &kb->articles[i];
        for (size_t j = 0; j < a->entry_count; j++) {
            const struct kbc_entry *e = &a->entries[j];
            for (size_t k = 0; k < e->placeholder_count; k++) {
                const struct kbc_placeholder *ph = &e->placeholders[k];
                int known = is_capture(e, ph->name);
                for (size_t f = 0; f < sizeof facts / sizeof *facts && !known; f++)
                    known = strcmp(facts[f], ph->name) == 0;
                if (!known)
                    kbc_diag(diags, KBC_ERROR, a->file->display, ph->line, ph->col,
                             "placeholder '%s' is neither a named capture of this entry's "
                             "regex signatures nor a fact (host, port, user, code, enhanced, "
                             "stage, client, provider)",
                             ph->name);
                if (!ph->has_default)
                    kbc_diag(diags, KBC_ERROR, a->file->display, ph->line, ph->col,
                             "placeholder '%s' has no default (write {{%s|default}})", ph->name,
                             ph->name);
            }
        }
    }
}

enum kb_status kbc_validate(struct kbc_kb *kb, struct kbc_diags *diags)
{
    struct id_set set = {0};
    enum kb_status status = declared_ids(kb, &set, diags);
    if (status == KB_OK)
        status = derived_ids(kb, &set);
    if (status == KB_OK) {
        kbc_providers_check(kb, diags);
        kbc_clients_check(kb, diags);
        status = check_refs(kb, &set, diags);
        check_placeholders(kb, diags);
    }
    free(set.slots);
    return status;
}
