/*
 * kb_layers.c - a KB of several layers: a team's own KB stacked on the shipped one (kb.h,
 * "layers"). The first layer's handle holds the layers above it. The topmost layer that holds
 * an id answers for it (a later layer's entry replaces the one below), unless a layer above
 * that one hides the id (the compiler stores a layer's kb-hide ids in its meta table). A query
 * runs once a layer, each layer scored by its own index on the scale every layer shares, and
 * the ranked lists are merged here; no other stage knows that there are layers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kb_buf.h"
#include "kb_query.h"

/* Each layer is a database held open and queried once a lookup: a stack has at most this
 * many. */
#define KB_MAX_LAYERS 64

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int holds(char *const *v, size_t n, const char *id)
{
    return n && bsearch(&id, v, n, sizeof *v, cmp_str) != NULL;
}

/* The comma-separated ids of value (spaces around them and empty items left out), sorted. */
static enum kb_status split_ids(const char *value, char ***out, size_t *count)
{
    char **v = NULL;
    size_t n = 0, alloc = 0;
    for (const char *p = value; *p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *s = p;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        const char *e = end;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            char *id = kb_strndup(s, (size_t)(e - s));
            if (!id || kb_grow((void **)&v, &alloc, n + 1, sizeof *v)) {
                free(id);
                free_strings(v, n);
                return KB_ERR_NOMEM;
            }
            v[n++] = id;
        }
        p = comma ? comma + 1 : end;
    }
    if (n)
        qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    *count = n;
    return KB_OK;
}

enum kb_status kb_layers_meta(struct kb_db *db, const char *key, const char *value,
                              struct kb_error *err)
{
    if (strcmp(key, "hides") == 0) {
        free_strings(db->hides, db->hide_count);
        db->hides = NULL;
        db->hide_count = 0;
        if (split_ids(value, &db->hides, &db->hide_count) != KB_OK)
            return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    } else if (strcmp(key, "base") == 0) {
        free(db->base_build);
        if (!(db->base_build = strdup(value)))
            return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    }
    return KB_OK;
}

void kb_layers_release(struct kb_db *db)
{
    free_strings(db->hides, db->hide_count);
    free(db->base_build);
    free_strings(db->ids, db->id_count);
    for (size_t i = 0; i < db->above_count; i++)
        kb_db_close(db->above[i]);
    free(db->above);
}

static struct kb_db *layer_at(const struct kb_db *db, size_t i)
{
    return i == 0 ? (struct kb_db *)db : db->above[i - 1];
}

/* The layer that answers for id: the topmost that holds it, unless a layer above that one
 * hides it; SIZE_MAX when none does. */
static size_t owner_of(const struct kb_db *db, const char *id)
{
    for (size_t i = kb_db_layer_count(db); i-- > 0;) {
        const struct kb_db *l = layer_at(db, i);
        if (holds(l->ids, l->id_count, id))
            return i;
        if (holds(l->hides, l->hide_count, id))
            return SIZE_MAX;
    }
    return SIZE_MAX;
}

int kb_layers_masked(const struct kb_db *db, size_t i, const char *id)
{
    return owner_of(db, id) != i;
}

static enum kb_status load_ids(struct kb_db *db, struct kb_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, "SELECT slug FROM entry", -1, &st, NULL) != SQLITE_OK)
        return kb_fail_sql(db, err, "cannot list entries");
    size_t alloc = 0;
    enum kb_status status = KB_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        char *copy = strdup(id ? id : "");
        if (!copy || kb_grow((void **)&db->ids, &alloc, db->id_count + 1, sizeof *db->ids)) {
            free(copy);
            status = kb_fail(err, KB_ERR_NOMEM, "out of memory");
            break;
        }
        db->ids[db->id_count++] = copy;
    }
    if (status == KB_OK && rc != SQLITE_DONE)
        status = kb_fail_sql(db, err, "cannot list entries");
    sqlite3_finalize(st);
    if (db->id_count)
        qsort(db->ids, db->id_count, sizeof *db->ids, cmp_str);
    return status;
}

/* How many of each layer's ids a layer above it replaces or hides: a query asks each layer
 * for that many more matches, so that its answers still fill the list once they are gone. */
static void count_masked(struct kb_db *db)
{
    for (size_t i = 0; i < kb_db_layer_count(db); i++) {
        struct kb_db *l = layer_at(db, i);
        l->masked_count = 0;
        for (size_t k = 0; k < l->id_count; k++)
            l->masked_count += kb_layers_masked(db, i, l->ids[k]);
    }
}

enum kb_status kb_db_layer_add(struct kb_db *db, struct kb_db *layer, struct kb_error *err)
{
    if (!db || !layer || layer == db || layer->above_count || layer->layer_index) {
        if (layer != db)
            kb_db_close(layer);
        return kb_fail(err, KB_ERR_INVALID, "a layer must be a database of its own, not stacked");
    }
    if (kb_db_layer_count(db) >= KB_MAX_LAYERS) {
        enum kb_status st = kb_fail(err, KB_ERR_INVALID, "layer '%s': more than %d layers",
                                    kb_db_label(layer), KB_MAX_LAYERS);
        kb_db_close(layer);
        return st;
    }
    size_t alloc = db->above_count; /* the array holds exactly above_count */
    enum kb_status st = KB_OK;
    if ((!db->above_count && !db->ids && (st = load_ids(db, err)) != KB_OK)
        || (st = load_ids(layer, err)) != KB_OK) {
        kb_db_close(layer);
        return st;
    }
    if (kb_grow((void **)&db->above, &alloc, db->above_count + 1, sizeof *db->above)) {
        kb_db_close(layer);
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    }
    db->above[db->above_count++] = layer;
    layer->layer_index = db->above_count;
    layer->no_explain = db->no_explain;
    layer->texts = db->texts;
    /* a layer compiled over another KB that declares no clients of its own reads texts as
     * the KB under it does: the first layer owns them and outlives it */
    if (layer->base_build && !layer->clients.count)
        layer->clients_used = db->clients_used;
    count_masked(db);
    return KB_OK;
}

size_t kb_db_layer_count(const struct kb_db *db)
{
    return 1 + db->above_count;
}

const struct kb_db *kb_db_layer(const struct kb_db *db, size_t i)
{
    return i < kb_db_layer_count(db) ? layer_at(db, i) : NULL;
}

const char *kb_db_base_build(const struct kb_db *db)
{
    return db->base_build;
}

/* Does a layer below i hold id? */
static int held_below(const struct kb_db *db, size_t i, const char *id)
{
    for (size_t j = 0; j < i; j++)
        if (holds(layer_at(db, j)->ids, layer_at(db, j)->id_count, id))
            return 1;
    return 0;
}

static enum kb_status add_id(struct kb_buf *b, const char *id)
{
    enum kb_status st = b->len ? kb_buf_append_str(b, ", ") : KB_OK;
    return st == KB_OK ? kb_buf_append_str(b, id) : st;
}

enum kb_status kb_db_layer_changes(const struct kb_db *db, size_t i, char **replaced, char **hidden,
                                   struct kb_error *err)
{
    *replaced = *hidden = NULL;
    if (i >= kb_db_layer_count(db))
        return kb_fail(err, KB_ERR_INVALID, "no layer %zu", i + 1);
    const struct kb_db *l = layer_at(db, i);
    struct kb_buf r, h;
    kb_buf_init(&r, 0);
    kb_buf_init(&h, 0);
    enum kb_status st = kb_buf_append_str(&r, "");
    if (st == KB_OK)
        st = kb_buf_append_str(&h, "");
    for (size_t k = 0; st == KB_OK && i && k < l->id_count; k++)
        if (held_below(db, i, l->ids[k]))
            st = add_id(&r, l->ids[k]);
    for (size_t k = 0; st == KB_OK && i && k < l->hide_count; k++)
        if (!holds(l->ids, l->id_count, l->hides[k]) && held_below(db, i, l->hides[k]))
            st = add_id(&h, l->hides[k]);
    if (st == KB_OK && (st = kb_buf_detach(&r, replaced)) == KB_OK)
        st = kb_buf_detach(&h, hidden);
    kb_buf_release(&r);
    kb_buf_release(&h);
    if (st != KB_OK) {
        free(*replaced);
        *replaced = *hidden = NULL;
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    }
    return KB_OK;
}

enum kb_status kb_layers_entry_get(struct kb_db *db, const char *id, struct kb_entry **out,
                                   struct kb_error *err)
{
    *out = NULL;
    size_t owner = owner_of(db, id);
    if (owner != SIZE_MAX)
        return kb_entry_get_one(layer_at(db, owner), id, out, err);
    for (size_t i = kb_db_layer_count(db); i-- > 0;)
        if (holds(layer_at(db, i)->hides, layer_at(db, i)->hide_count, id))
            return kb_fail(err, KB_ERR_NOT_FOUND, "entry '%s' is hidden by layer %zu ('%s')", id,
                           i + 1, kb_db_label(layer_at(db, i)));
    return kb_fail(err, KB_ERR_NOT_FOUND, "no entry with id '%s' (see --list)", id);
}

struct placed {
    const char *id;
    size_t layer;
};

static int cmp_placed(const void *a, const void *b)
{
    return strcmp(((const struct placed *)a)->id, ((const struct placed *)b)->id);
}

enum kb_status kb_layers_entry_each(struct kb_db *db,
                                    int (*visit)(const struct kb_entry *entry, void *arg),
                                    void *arg, struct kb_error *err)
{
    struct placed *v = NULL;
    size_t n = 0, alloc = 0;
    for (size_t i = 0; i < kb_db_layer_count(db); i++) {
        const struct kb_db *l = layer_at(db, i);
        for (size_t k = 0; k < l->id_count; k++) {
            if (kb_layers_masked(db, i, l->ids[k]))
                continue;
            if (kb_grow((void **)&v, &alloc, n + 1, sizeof *v)) {
                free(v);
                return kb_fail(err, KB_ERR_NOMEM, "out of memory");
            }
            v[n++] = (struct placed){l->ids[k], i};
        }
    }
    if (n)
        qsort(v, n, sizeof *v, cmp_placed);
    enum kb_status st = KB_OK;
    for (size_t k = 0; k < n && st == KB_OK; k++) {
        struct kb_entry *e = NULL;
        if ((st = kb_entry_get_one(layer_at(db, v[k].layer), v[k].id, &e, err)) != KB_OK)
            break;
        int stop = visit(e, arg);
        kb_entry_free(e);
        if (stop)
            break;
    }
    free(v);
    return st;
}

/* Does match a rank before match b? Evidence an author wrote first, then the score; on a tie
 * the caller keeps the later layer's (the team's wording of a fix wins). */
static int ranks_before(const struct kb_match *a, const struct kb_match *b)
{
    if ((a->via == KB_VIA_SIGNATURE) != (b->via == KB_VIA_SIGNATURE))
        return a->via == KB_VIA_SIGNATURE;
    return a->score >= b->score;
}

enum kb_status kb_layers_query(struct kb_db *db, const char *text, size_t len,
                               const struct kb_query_options *options, struct kb_result **out,
                               struct kb_error *err, struct kb_work *work)
{
    size_t n = kb_db_layer_count(db);
    size_t top = options && options->top ? options->top : KB_DEFAULT_TOP;
    *out = NULL;
    *work = (struct kb_work){0, 0, 0, 0};
    struct kb_result **each = calloc(n, sizeof *each);
    size_t *next = calloc(n, sizeof *next);
    struct kb_match *merged = calloc(top, sizeof *merged);
    struct kb_result *spare = calloc(1, sizeof *spare);
    enum kb_status st = KB_OK;
    if (!each || !next || !merged || !spare) {
        st = kb_fail(err, KB_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* each layer answers on its own, with as many more matches as it has entries that the
     * layers above replace or hide (they are left out below) */
    for (size_t i = 0; i < n && st == KB_OK; i++) {
        struct kb_db *l = layer_at(db, i);
        struct kb_query_options o = options ? *options : (struct kb_query_options){0};
        o.top = top + l->masked_count;
        struct kb_work w;
        st = kb_query_run_one(l, text, len, &o, &each[i], err, &w);
        work->signatures += w.signatures;
        work->other += w.other;
        work->regex_calls += w.regex_calls;
        work->fulltext_rows += w.fulltext_rows;
    }
    if (st != KB_OK)
        goto done;
    /* one list: each layer's order kept, the best head of them taken each time */
    size_t count = 0;
    while (count < top) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            struct kb_result *r = each[i];
            while (next[i] < r->match_count
                   && kb_layers_masked(db, i, r->matches[next[i]].entry->id))
                next[i]++;
            if (next[i] < r->match_count
                && (best == SIZE_MAX
                    || ranks_before(&r->matches[next[i]], &each[best]->matches[next[best]])))
                best = i;
        }
        if (best == SIZE_MAX)
            break;
        struct kb_match *m = &each[best]->matches[next[best]++];
        merged[count++] = *m;
        memset(m, 0, sizeof *m); /* moved: its owner's kb_result_free frees nothing of it */
    }
    /* the facts, the report and the provider are read from the text with the first layer's
     * declarations, as a lookup of that layer alone reads them; its matches (those not moved
     * into the list) go with the spare result */
    struct kb_result *frame = each[0];
    spare->matches = frame->matches;
    spare->match_count = frame->match_count;
    frame->matches = merged;
    frame->match_count = count;
    merged = NULL;
    each[0] = NULL;
    *out = frame;
done:
    for (size_t i = 0; each && i < n; i++)
        kb_result_free(each[i]);
    free(each);
    free(next);
    free(merged);
    kb_result_free(spare);
    return st;
}
