/*
 * kb_template.c - fills {{name|default}} placeholders of pre-rendered solutions with the
 * user's own values, so a fix step reads "connect to smtp.customer.com on port 465" rather
 * than "connect to your server". Values come from the match's captures, then the facts, then
 * what the KB declares of the provider seen (its submission server: smtp.gmail.com 587 where
 * the text names Gmail and no server).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb.h"
#include "kb_buf.h"

/* The report's recipient this match answers for: the first one its recipient list names, else
 * the report's first recipient with an address. Its address is owned by the result. */
static const char *answered_recipient(const struct kb_match *match, const struct kb_result *result)
{
    const struct kb_report *r = &result->report;
    const char *first = NULL;
    for (size_t i = 0; i < r->recipient_count; i++) {
        const char *a = r->recipients[i].address;
        if (!a || !*a)
            continue;
        if (!first)
            first = a;
        size_t n = strlen(a);
        if (match && match->recipient && strncmp(match->recipient, a, n) == 0
            && (match->recipient[n] == '\0' || match->recipient[n] == ','))
            return a;
    }
    return first;
}

const char *kb_placeholder_value(const char *name, const struct kb_match *match,
                                 const struct kb_result *result, char *buf, size_t buf_len)
{
    if (match)
        for (size_t i = 0; i < match->capture_count; i++)
            if (strcmp(match->captures[i].name, name) == 0)
                return match->captures[i].value;
    if (!result)
        return NULL;
    const struct kb_facts *f = &result->facts;
    const struct kb_provider *pv = &result->provider;
    /* a bounce between two mail servers names the recipient's provider: its submission
     * server is not the customer's */
    int own = !result->report.leg || strcmp(result->report.leg, "delivery") != 0;
    if (strcmp(name, "host") == 0)
        return f->host ? f->host : own ? pv->host : NULL;
    if (strcmp(name, "user") == 0)
        return f->user;
    if (strcmp(name, "enhanced") == 0)
        return f->enhanced;
    if (strcmp(name, "stage") == 0)
        return f->stage;
    if (strcmp(name, "client") == 0)
        return f->client;
    if (strcmp(name, "provider") == 0)
        return f->provider;
    /* a bounce's recipient, and the domain its mail was for */
    if (strcmp(name, "recipient") == 0)
        return answered_recipient(match, result);
    if (strcmp(name, "recipient_domain") == 0) {
        const char *a = answered_recipient(match, result);
        const char *at = a ? strrchr(a, '@') : NULL;
        return at && at[1] ? at + 1 : NULL;
    }
    int number = strcmp(name, "port") == 0   ? f->port
                 : strcmp(name, "code") == 0 ? f->reply_code
                                             : 0;
    if (!number && own && pv->port && strcmp(name, "port") == 0
        && (!f->host || strcasecmp(f->host, pv->host) == 0))
        number = pv->port;
    if (number && buf && buf_len) {
        snprintf(buf, buf_len, "%d", number);
        return buf;
    }
    return NULL;
}

char *kb_template_expand(const char *template_text, const struct kb_match *match,
                         const struct kb_result *result, const char *open, const char *close)
{
    struct kb_buf out;
    kb_buf_init(&out, 0);
    enum kb_status st = KB_OK;
    const char *p = template_text, *end = template_text;
    while (*p && st == KB_OK) {
        const char *start = strstr(p, "{{");
        /* the next "}}", searched for again only once passed: searched for from every "{{", a
         * text full of "{{" cost the square of its size */
        if (start && end && end < start + 2)
            end = strstr(start + 2, "}}");
        if (!start || !end) {
            st = kb_buf_append_str(&out, p);
            break;
        }
        st = kb_buf_append(&out, p, (size_t)(start - p));
        const char *bar = memchr(start + 2, '|', (size_t)(end - start - 2));
        const char *name_end = bar ? bar : end;
        char name[64];
        size_t name_len = (size_t)(name_end - start - 2);
        int valid = name_len > 0 && name_len < sizeof name;
        for (size_t i = 0; valid && i < name_len; i++) {
            char c = start[2 + i];
            valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '_';
        }
        if (!valid) {
            /* not a placeholder of ours ({{[-o|--create]}} in a tldr page): keep it */
            if (st == KB_OK)
                st = kb_buf_append(&out, start, 2);
            p = start + 2;
            continue;
        }
        memcpy(name, start + 2, name_len);
        name[name_len] = '\0';
        char num[32];
        const char *value = kb_placeholder_value(name, match, result, num, sizeof num);
        if (st == KB_OK && value) {
            st = kb_buf_append_str(&out, open ? open : "");
            if (st == KB_OK)
                st = kb_buf_append_str(&out, value);
            if (st == KB_OK)
                st = kb_buf_append_str(&out, close ? close : "");
        } else if (st == KB_OK && bar) {
            st = kb_buf_append(&out, bar + 1, (size_t)(end - bar - 1));
        } else if (st == KB_OK) {
            /* no value and no default: not one of ours (tldr pages use {{path/to/file}}) */
            st = kb_buf_append(&out, start, (size_t)(end + 2 - start));
        }
        p = end + 2;
    }
    char *result_text = NULL;
    if (st != KB_OK || kb_buf_detach(&out, &result_text) != KB_OK) {
        kb_buf_release(&out);
        return NULL;
    }
    return result_text;
}

const char *kb_origin_str(enum kb_origin o)
{
    switch (o) {
    case KB_ORIGIN_PASTE: return "paste";
    case KB_ORIGIN_PROVIDER: return "provider default";
    case KB_ORIGIN_PLACEHOLDER:
    default: return "placeholder";
    }
}

const char *kb_placeholder_origin(const char *name, const struct kb_match *match,
                                  const struct kb_result *result, char *buf, size_t buf_len,
                                  enum kb_origin *origin)
{
    const char *value = kb_placeholder_value(name, match, result, buf, buf_len);
    *origin = KB_ORIGIN_PLACEHOLDER;
    if (!value)
        return NULL;
    *origin = KB_ORIGIN_PASTE;
    int captured = 0;
    for (size_t i = 0; match && i < match->capture_count; i++)
        captured |= strcmp(match->captures[i].name, name) == 0;
    /* host and port are the only values kb_placeholder_value takes from the provider's
     * declaration, and only when the text gives none of its own */
    if (!captured && result
        && ((strcmp(name, "host") == 0 && !result->facts.host)
            || (strcmp(name, "port") == 0 && !result->facts.port)))
        *origin = KB_ORIGIN_PROVIDER;
    return value;
}
