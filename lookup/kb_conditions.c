/*
 * kb_conditions.c - the condition language of kb_conditions.h, and the query stage that
 * applies the articles' conditions to a text.
 *
 * The readers before this stage say what a text is (kb_facts.c: codes, stage, port, client,
 * provider, context; kb_dialogue.c: the SMTP dialogue; kb_bounce.c: the delivery report). This
 * stage knows no cause: it evaluates each condition an author wrote against those facts and,
 * where one holds, adds its weight to the author's entry like a signature that matched. A
 * negative weight that leaves an entry without positive written evidence rules it out for the
 * whole query, whatever later stages find (full text, harvested prose).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_conditions.h"
#include "kb_query.h"

/* ---- the facts conditions can name -------------------------------------------------------- */

enum fact_kind {
    FACT_NUMBER, /* a decimal number; 0 in the source means unknown */
    FACT_CODE,   /* an RFC 3463 status code; prefixes with '*' allowed */
    FACT_WORD,   /* a free word (a client or provider name); caseless, prefixes with '*' */
    FACT_ENUM,   /* one of a closed list of values */
};

enum fact_id {
    F_CODE,
    F_ENHANCED,
    F_STAGE,
    F_PORT,
    F_CLIENT,
    F_PROVIDER,
    F_CONTEXT,
    F_DIALOGUE,
    F_CONNECTED,
    F_GREETING,
    F_EHLO,
    F_STARTTLS_OFFERED,
    F_TLS,
    F_TLS_FAILED,
    F_AUTH_OFFERED,
    F_AUTH_OFFERED_BEFORE_TLS,
    F_LAST_COMMAND,
    F_FAILING_COMMAND,
    F_FAILING_REPLY,
    F_ENDED,
    F_REPORT,
    F_LEG,
    F_ACTION,
    F_STATUS,
    F_COUNT
};

#define TRI "yes|no"
#define VERBS "helo|ehlo|starttls|auth|mail|rcpt|data|bdat|rset|noop|quit|vrfy|expn"

static const struct fact_def {
    const char *name;
    enum fact_kind kind;
    const char *values; /* FACT_ENUM: the values it allows besides "unknown" */
    int per_recipient;  /* read from each recipient of a delivery report */
} fact_defs[F_COUNT] = {
    [F_CODE] = {"code", FACT_NUMBER, NULL, 0},
    [F_ENHANCED] = {"enhanced", FACT_CODE, NULL, 0},
    [F_STAGE] = {"stage", FACT_ENUM, "connect|ehlo|starttls|auth|mail|rcpt|data", 0},
    [F_PORT] = {"port", FACT_NUMBER, NULL, 0},
    [F_CLIENT] = {"client", FACT_WORD, NULL, 0},
    [F_PROVIDER] = {"provider", FACT_WORD, NULL, 0},
    [F_CONTEXT] = {"context", FACT_ENUM, "mail|other", 0},
    [F_DIALOGUE] = {"dialogue", FACT_WORD, NULL, 0},
    [F_CONNECTED] = {"connected", FACT_ENUM, TRI, 0},
    [F_GREETING] = {"greeting", FACT_ENUM, TRI, 0},
    [F_EHLO] = {"ehlo", FACT_ENUM, TRI, 0},
    [F_STARTTLS_OFFERED] = {"starttls-offered", FACT_ENUM, TRI, 0},
    [F_TLS] = {"tls", FACT_ENUM, TRI, 0},
    [F_TLS_FAILED] = {"tls-failed", FACT_ENUM, TRI, 0},
    [F_AUTH_OFFERED] = {"auth-offered", FACT_ENUM, TRI, 0},
    [F_AUTH_OFFERED_BEFORE_TLS] = {"auth-offered-before-tls", FACT_ENUM, TRI, 0},
    [F_LAST_COMMAND] = {"last-command", FACT_ENUM, VERBS, 0},
    [F_FAILING_COMMAND] = {"failing-command", FACT_ENUM, VERBS, 0},
    [F_FAILING_REPLY] = {"failing-reply", FACT_NUMBER, NULL, 0},
    [F_ENDED] = {"ended", FACT_ENUM, "quit|timeout|reset|closed", 0},
    [F_REPORT] = {"report", FACT_WORD, NULL, 0},
    [F_LEG] = {"leg", FACT_ENUM, "delivery|submission", 0},
    [F_ACTION] = {"action", FACT_ENUM, "failed|delayed|delivered|relayed|expanded", 1},
    [F_STATUS] = {"status", FACT_CODE, NULL, 1},
};

/* ---- parsed conditions ------------------------------------------------------------------- */

struct test {
    enum fact_id fact;
    int negate;
    char **values; /* lowercase; a trailing '*' makes a prefix */
    size_t value_count;
};

struct kb_condition {
    struct test *tests;
    size_t count;
};

void kb_condition_free(struct kb_condition *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++) {
        for (size_t k = 0; k < c->tests[i].value_count; k++)
            free(c->tests[i].values[k]);
        free(c->tests[i].values);
    }
    free(c->tests);
    free(c);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

enum kb_status kb_condition_names(struct kb_buf *out)
{
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < F_COUNT && st == KB_OK; i++)
        st = kb_buf_printf(out, "%s%s", i ? ", " : "", fact_defs[i].name);
    return st;
}

/* Is value[0, n) one of FACT_ENUM list's items (or "unknown")? */
static int in_enum(const char *list, const char *value, size_t n)
{
    if (n == 7 && memcmp(value, "unknown", 7) == 0)
        return 1;
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, value, n) == 0)
            return 1;
        p += len + (bar != NULL);
    }
    return 0;
}

/* An RFC 3463 code of three parts (5.7.1), or with a prefix (prefix set: body ends before the
 * '*') of whole parts: "5.7." or "5.". */
static int code_ok(const char *v, size_t body, int prefix)
{
    if (body < 1 || (v[0] != '2' && v[0] != '4' && v[0] != '5'))
        return 0;
    size_t parts = 1, digits = 1;
    for (size_t i = 1; i < body; i++) {
        if (v[i] == '.') {
            if (digits == 0)
                return 0;
            parts++;
            digits = 0;
        } else if (!is_digit(v[i]) || ++digits > 3) {
            return 0;
        }
    }
    return prefix ? digits == 0 && parts <= 3 : digits > 0 && parts == 3;
}

/* "a|b|c" as "a, b, c or unknown", for messages. */
static void append_choices(struct kb_buf *msg, const char *list)
{
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        kb_buf_printf(msg, "%.*s, ", (int)len, p);
        p += len + (bar != NULL);
    }
    kb_buf_append_str(msg, "or unknown");
}

/* Checks one value (already lowercased) against its fact's kind; 0 and a message when bad. */
static int value_ok(const struct fact_def *d, const char *v, size_t n, struct kb_buf *msg)
{
    if (n == 7 && memcmp(v, "unknown", 7) == 0)
        return 1;
    int prefix = n > 1 && v[n - 1] == '*';
    size_t body = prefix ? n - 1 : n;
    int ok = 1;
    switch (d->kind) {
    case FACT_NUMBER:
        ok = body == n && n <= 9;
        for (size_t i = 0; i < n && ok; i++)
            ok = is_digit(v[i]);
        if (!ok)
            kb_buf_printf(msg, "bad value '%.*s' for '%s' (expected a number, or unknown)", (int)n,
                          v, d->name);
        return ok;
    case FACT_CODE:
        ok = code_ok(v, body, prefix);
        if (!ok)
            kb_buf_printf(msg,
                          "bad value '%.*s' for '%s' (expected a status code such as 5.7.1, or "
                          "a prefix such as 5.7.* or 5.*)",
                          (int)n, v, d->name);
        return ok;
    case FACT_WORD:
        ok = body > 0;
        for (size_t i = 0; i < body && ok; i++)
            ok = v[i] != '*' && v[i] != '|' && v[i] != '=';
        if (!ok)
            kb_buf_printf(msg, "bad value '%.*s' for '%s'", (int)n, v, d->name);
        return ok;
    case FACT_ENUM:
        ok = in_enum(d->values, v, n);
        if (!ok) {
            kb_buf_printf(msg, "bad value '%.*s' for '%s' (expected ", (int)n, v, d->name);
            append_choices(msg, d->values);
            kb_buf_append_str(msg, ")");
        }
        return ok;
    }
    return 0;
}

/* Parses the values of one test from text[*i, len); stops at white space. */
static enum kb_status parse_values(const char *text, size_t len, size_t *i,
                                   const struct fact_def *d, struct test *t, size_t *error_offset,
                                   struct kb_buf *msg)
{
    size_t alloc = 0;
    for (;;) {
        size_t start = *i, end;
        if (start < len && text[start] == '"') {
            end = start + 1;
            while (end < len && text[end] != '"')
                end++;
            if (end == len) {
                *error_offset = start;
                kb_buf_printf(msg, "unterminated quoted value");
                return KB_ERR_INVALID;
            }
            start++;
            *i = end + 1;
        } else {
            end = start;
            while (end < len && !is_space(text[end]) && text[end] != '|')
                end++;
            *i = end;
        }
        if (end == start) {
            *error_offset = start;
            kb_buf_printf(msg, "missing value for '%s'", d->name);
            return KB_ERR_INVALID;
        }
        if (kb_grow((void **)&t->values, &alloc, t->value_count + 1, sizeof *t->values))
            return KB_ERR_NOMEM;
        char *v = malloc(end - start + 1);
        if (!v)
            return KB_ERR_NOMEM;
        for (size_t k = start; k < end; k++)
            v[k - start] = lower(text[k]);
        v[end - start] = '\0';
        t->values[t->value_count++] = v;
        if (!value_ok(d, v, end - start, msg)) {
            *error_offset = start;
            return KB_ERR_INVALID;
        }
        if (*i < len && text[*i] == '|') {
            (*i)++;
            continue;
        }
        if (*i < len && !is_space(text[*i])) {
            *error_offset = *i;
            kb_buf_printf(msg,
                          "unexpected '%c' after a value (values are separated by '|', "
                          "tests by spaces)",
                          text[*i]);
            return KB_ERR_INVALID;
        }
        return KB_OK;
    }
}

enum kb_status kb_condition_parse(const char *text, size_t len, struct kb_condition **out,
                                  size_t *error_offset, struct kb_buf *msg)
{
    *out = NULL;
    *error_offset = 0;
    struct kb_condition *c = calloc(1, sizeof *c);
    if (!c)
        return KB_ERR_NOMEM;
    size_t alloc = 0, i = 0;
    enum kb_status st = KB_OK;
    while (st == KB_OK) {
        while (i < len && is_space(text[i]))
            i++;
        if (i == len)
            break;
        size_t name = i;
        while (i < len && ((text[i] >= 'a' && text[i] <= 'z') || text[i] == '-'))
            i++;
        size_t name_len = i - name;
        int negate = i + 1 < len && text[i] == '!' && text[i + 1] == '=';
        if (name_len == 0 || i == len || (text[i] != '=' && !negate)) {
            *error_offset = name_len ? i : name;
            if (name_len == 0)
                kb_buf_printf(msg, "expected a fact name (lowercase letters and '-')");
            else
                kb_buf_printf(msg, "expected '=' or '!=' after '%.*s'", (int)name_len, text + name);
            st = KB_ERR_INVALID;
            break;
        }
        size_t f = 0;
        while (f < F_COUNT
               && !(strlen(fact_defs[f].name) == name_len
                    && memcmp(fact_defs[f].name, text + name, name_len) == 0))
            f++;
        if (f == F_COUNT) {
            *error_offset = name;
            kb_buf_printf(msg, "unknown fact '%.*s' (expected one of: ", (int)name_len,
                          text + name);
            kb_condition_names(msg);
            kb_buf_append_str(msg, ")");
            st = KB_ERR_INVALID;
            break;
        }
        i += negate ? 2 : 1;
        if (kb_grow((void **)&c->tests, &alloc, c->count + 1, sizeof *c->tests)) {
            st = KB_ERR_NOMEM;
            break;
        }
        struct test *t = &c->tests[c->count++];
        memset(t, 0, sizeof *t);
        t->fact = (enum fact_id)f;
        t->negate = negate;
        st = parse_values(text, len, &i, &fact_defs[f], t, error_offset, msg);
    }
    if (st == KB_OK && c->count == 0) {
        kb_buf_printf(msg, "empty condition");
        st = KB_ERR_INVALID;
    }
    if (st != KB_OK) {
        kb_condition_free(c);
        return st;
    }
    *out = c;
    return KB_OK;
}

/* ---- evaluation -------------------------------------------------------------------------- */

/* The dialogue formats that are an MTA's log (they end in "-log", kb.h), not a client's. */
static int is_mta_log(const char *format)
{
    size_t n = strlen(format);
    return n >= 4 && strcmp(format + n - 4, "-log") == 0;
}

static const char *tri(int v)
{
    return v > 0 ? "yes" : v == 0 ? "no" : NULL;
}

/* The value of fact f as text ("" and NULL both mean unknown); numbers go through buf. */
static const char *fact_value(enum fact_id f, const struct kb_condition_facts *x,
                              const struct kb_recipient *rcpt, char *buf, size_t buf_len)
{
    const struct kb_facts *facts = x->facts;
    const struct kb_dialogue *d = x->dialogue && x->dialogue->format ? x->dialogue : NULL;
    const struct kb_report *r = x->report && x->report->format ? x->report : NULL;
    long number = 0;
    switch (f) {
    case F_CODE: number = facts ? facts->reply_code : 0; break;
    case F_ENHANCED: return facts ? facts->enhanced : NULL;
    case F_STAGE: return facts ? facts->stage : NULL;
    case F_PORT:
        /* the port the text names; else the one a transcript's connection line shows */
        number = facts && facts->port ? facts->port : d ? d->port : 0;
        break;
    case F_CLIENT: return facts ? facts->client : NULL;
    case F_PROVIDER: return facts ? facts->provider : NULL;
    case F_CONTEXT:
        return !facts                                       ? NULL
               : facts->mail_context == KB_CONTEXT_IS_MAIL  ? "mail"
               : facts->mail_context == KB_CONTEXT_IS_OTHER ? "other"
                                                            : NULL;
    case F_DIALOGUE: return d ? d->format : "none";
    case F_CONNECTED: return d ? tri(d->connected) : NULL;
    case F_GREETING: return d ? tri(d->greeting) : NULL;
    case F_EHLO: return d ? tri(d->ehlo) : NULL;
    case F_STARTTLS_OFFERED: return d ? tri(d->starttls_offered) : NULL;
    case F_TLS: return d ? tri(d->tls) : NULL;
    case F_TLS_FAILED: return d ? tri(d->tls_failed) : NULL;
    case F_AUTH_OFFERED: return d ? tri(d->auth_offered) : NULL;
    case F_AUTH_OFFERED_BEFORE_TLS: return d ? tri(d->auth_offered_before_tls) : NULL;
    case F_LAST_COMMAND: return d ? d->last_command : NULL;
    case F_FAILING_COMMAND: return d ? d->failing_command : NULL;
    case F_FAILING_REPLY: number = d ? d->failing_reply : 0; break;
    case F_ENDED: return d ? d->ended : NULL;
    case F_REPORT: return r ? r->format : "none";
    case F_LEG:
        /* a delivery report says which leg failed; a client's own transcript is the
         * application's submission (an MTA's log may be either) */
        if (r)
            return r->leg;
        return d && !is_mta_log(d->format) ? "submission" : NULL;
    case F_ACTION: return rcpt ? rcpt->action : NULL;
    case F_STATUS: return rcpt ? rcpt->status : NULL;
    case F_COUNT: break;
    }
    if (number <= 0)
        return NULL;
    snprintf(buf, buf_len, "%ld", number);
    return buf;
}

/* Does value (caseless) equal want, or start with it when want ends with '*'? */
static int value_matches(const char *value, const char *want)
{
    size_t n = strlen(want);
    int prefix = n > 1 && want[n - 1] == '*';
    if (prefix)
        n--;
    size_t i = 0;
    for (; i < n; i++)
        if (!value[i] || lower(value[i]) != want[i])
            return 0;
    return prefix || !value[i];
}

static int test_holds(const struct test *t, const struct kb_condition_facts *x,
                      const struct kb_recipient *rcpt)
{
    char buf[32];
    const char *value = fact_value(t->fact, x, rcpt, buf, sizeof buf);
    if (!value || !*value)
        value = "unknown";
    int any = 0;
    for (size_t i = 0; i < t->value_count && !any; i++)
        any = value_matches(value, t->values[i]);
    return any != t->negate;
}

static int holds_for(const struct kb_condition *c, const struct kb_condition_facts *x,
                     const struct kb_recipient *rcpt)
{
    for (size_t i = 0; i < c->count; i++)
        if (!test_holds(&c->tests[i], x, rcpt))
            return 0;
    return 1;
}

int kb_condition_holds(const struct kb_condition *c, const struct kb_condition_facts *x)
{
    int per_recipient = 0;
    for (size_t i = 0; i < c->count; i++)
        per_recipient |= fact_defs[c->tests[i].fact].per_recipient;
    const struct kb_report *r = x->report;
    /* A condition on what happened to a recipient holds when it holds for one of them, all its
     * tests for that same one. */
    if (!per_recipient || x->recipient || !r || !r->recipient_count)
        return holds_for(c, x, x->recipient);
    for (size_t i = 0; i < r->recipient_count; i++)
        if (holds_for(c, x, &r->recipients[i]))
            return 1;
    return 0;
}

/* ---- the query stage --------------------------------------------------------------------- */

/* Adds the weight of a condition that held to its entry's candidate. */
static enum kb_status record_condition(struct kb_query *q, long long entry, const char *source,
                                       double weight, const char *path, int line)
{
    struct kb_candidate *c = NULL;
    for (size_t i = 0; i < q->cand_count && !c; i++)
        if (q->cands[i].rowid == entry)
            c = &q->cands[i];
    /* a negative condition makes a candidate too: one that is ruled out, which later stages
     * then cannot bring back */
    if (!c && !(c = kb_candidate_for(q, entry, KB_VIA_SIGNATURE)))
        return kb_query_nomem(q);
    if (kb_grow((void **)&c->hits, &c->hit_alloc, c->hit_count + 1, sizeof *c->hits))
        return kb_query_nomem(q);
    struct kb_hit *h = &c->hits[c->hit_count];
    memset(h, 0, sizeof *h);
    h->line = SIZE_MAX; /* a condition is about the whole text, not one line */
    h->weight = weight;
    h->condition = 1;
    h->source = kb_format("when: %s", source);
    int explain = !q->db->no_explain;
    if (explain)
        h->explain = kb_format("condition '%s' (weight %g, %s:%d) holds", source, weight,
                               path ? path : "?", line);
    if (!h->source || (explain && !h->explain)) {
        free(h->source);
        free(h->explain);
        return kb_query_nomem(q);
    }
    c->hit_count++;
    c->written += weight;
    c->score += weight;
    if (weight < 0)
        c->ruled_out = 1;
    if (weight > c->best_weight)
        c->best_weight = weight;
    return KB_OK;
}

/* The KB's conditions, read and parsed by the first query of a handle and kept with it: they
 * are the KB's own, and parsing all of them cost every query as much as running them. */
struct kb_condition_rows {
    struct kb_condition_row {
        long long entry;
        double weight;
        char *source, *path; /* path NULL when the column is */
        int line;
        struct kb_condition *parsed; /* NULL: damaged (kb-compile stores only parsed ones) */
    } * rows;
    size_t count, alloc;
};

void kb_condition_rows_free(struct kb_condition_rows *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++) {
        free(set->rows[i].source);
        free(set->rows[i].path);
        kb_condition_free(set->rows[i].parsed);
    }
    free(set->rows);
    free(set);
}

/* Reads and parses every condition of db->conditions into *out. */
static enum kb_status condition_rows_load(struct kb_query *q, struct kb_condition_rows **out)
{
    sqlite3_stmt *st = q->db->conditions;
    struct kb_condition_rows *set = calloc(1, sizeof *set);
    if (!set)
        return kb_query_nomem(q);
    sqlite3_reset(st);
    struct kb_buf msg;
    kb_buf_init(&msg, 4096);
    enum kb_status status = KB_OK;
    int rc;
    while (status == KB_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *source = (const char *)sqlite3_column_text(st, 1);
        if (!source)
            continue;
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        const char *path = (const char *)sqlite3_column_text(st, 3);
        if (kb_grow((void **)&set->rows, &set->alloc, set->count + 1, sizeof *set->rows)) {
            status = kb_query_nomem(q);
            break;
        }
        struct kb_condition_row *row = &set->rows[set->count];
        memset(row, 0, sizeof *row);
        size_t offset;
        kb_buf_reset(&msg);
        /* kb-compile stores only conditions it parsed; another one is damage and is ignored
         * like a signature that does not compile */
        enum kb_status parsed = kb_condition_parse(source, len, &row->parsed, &offset, &msg);
        if (parsed != KB_OK) {
            kb_condition_free(row->parsed);
            row->parsed = NULL;
        }
        row->entry = sqlite3_column_int64(st, 0);
        row->weight = sqlite3_column_double(st, 2);
        row->line = sqlite3_column_int(st, 4);
        row->source = kb_strndup(source, len);
        row->path = path ? strdup(path) : NULL;
        set->count++;
        if (parsed == KB_ERR_NOMEM || !row->source || (path && !row->path))
            status = kb_query_nomem(q);
    }
    if (status == KB_OK && rc != SQLITE_DONE)
        status = kb_fail_sql(q->db, q->err, "cannot read the conditions");
    sqlite3_reset(st);
    kb_buf_release(&msg);
    if (status != KB_OK) {
        kb_condition_rows_free(set);
        return status;
    }
    *out = set;
    return KB_OK;
}

enum kb_status kb_conditions_run(struct kb_query *q, const struct kb_condition_facts *facts)
{
    if (!q->db->conditions)
        return KB_OK;
    enum kb_status status = KB_OK;
    if (!q->db->condition_rows
        && (status = condition_rows_load(q, &q->db->condition_rows)) != KB_OK)
        return status;
    const struct kb_condition_rows *set = q->db->condition_rows;
    for (size_t i = 0; i < set->count && status == KB_OK; i++) {
        const struct kb_condition_row *row = &set->rows[i];
        if (row->parsed && kb_condition_holds(row->parsed, facts))
            status =
                record_condition(q, row->entry, row->source, row->weight, row->path, row->line);
    }
    /* An entry that a condition ruled out, with no positive written evidence left, stays out
     * of this answer whatever the later stages find. */
    for (size_t i = 0; i < q->cand_count; i++)
        if (q->cands[i].ruled_out && q->cands[i].written > 0)
            q->cands[i].ruled_out = 0;
    return status;
}
