/*
 * kb_json.c - the JSON reader of kb_json.h: recursive descent over one JSON text, nesting
 * capped at KB_JSON_MAX_DEPTH, strings decoded into heap copies whose length is kept (a
 * pasted text may hold NUL bytes, written \u0000).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kb_buf.h"
#include "kb_internal.h"
#include "kb_json.h"

struct parser {
    const char *s;
    size_t n, i;
    struct kb_error *err;
    enum kb_status status; /* KB_OK until the first failure */
};

static int fail(struct parser *p, const char *what)
{
    if (p->status == KB_OK)
        p->status = kb_fail(p->err, KB_ERR_INVALID, "%s at byte %zu", what, p->i + 1);
    return -1;
}

static int nomem(struct parser *p)
{
    if (p->status == KB_OK)
        p->status = kb_fail(p->err, KB_ERR_NOMEM, "out of memory");
    return -1;
}

static void skip_space(struct parser *p)
{
    while (p->i < p->n
           && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static enum kb_status append_utf8(struct kb_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return kb_buf_append(b, u, n);
}

/* A string at p->i (the opening quote), decoded into *out / *len. */
static int parse_string(struct parser *p, char **out, size_t *len)
{
    struct kb_buf b;
    kb_buf_init(&b, 0);
    p->i++; /* the opening quote */
    enum kb_status st = KB_OK;
    for (;;) {
        /* copy the run of bytes that need no decoding at once */
        size_t run = p->i;
        while (p->i < p->n && p->s[p->i] != '"' && p->s[p->i] != '\\'
               && (unsigned char)p->s[p->i] >= 0x20)
            p->i++;
        if (p->i > run && (st = kb_buf_append(&b, p->s + run, p->i - run)) != KB_OK)
            break;
        if (p->i >= p->n) {
            kb_buf_release(&b);
            return fail(p, "unterminated string");
        }
        char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c != '\\') {
            kb_buf_release(&b);
            return fail(p, "control character in a string (write it as an escape)");
        }
        if (p->i + 1 >= p->n) {
            kb_buf_release(&b);
            return fail(p, "unterminated string");
        }
        char e = p->s[p->i + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (simple && e) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            st = kb_buf_append_char(&b, decoded[simple - "\"\\/bfnrt"]);
            p->i += 2;
        } else if (e == 'u') {
            unsigned cp, lo;
            if (p->i + 6 > p->n || hex4(p->s + p->i + 2, &cp)) {
                kb_buf_release(&b);
                return fail(p, "bad \\u escape");
            }
            p->i += 6;
            if (cp >= 0xd800 && cp <= 0xdbff && p->i + 6 <= p->n && p->s[p->i] == '\\'
                && p->s[p->i + 1] == 'u' && !hex4(p->s + p->i + 2, &lo) && lo >= 0xdc00
                && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p->i += 6;
            } else if (cp >= 0xd800 && cp <= 0xdfff) {
                cp = 0xfffd; /* a lone surrogate: no character, say so the usual way */
            }
            st = append_utf8(&b, cp);
        } else {
            kb_buf_release(&b);
            return fail(p, "bad escape in a string");
        }
        if (st != KB_OK)
            break;
    }
    if (st == KB_OK) {
        *len = b.len;
        st = kb_buf_detach(&b, out);
    }
    kb_buf_release(&b);
    return st == KB_OK ? 0 : nomem(p);
}

/* A number at p->i, checked against the grammar; its text is copied as written. */
static int parse_number(struct parser *p, struct kb_json *v)
{
    size_t start = p->i;
    const char *s = p->s;
    size_t n = p->n, i = p->i;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return p->i = i, fail(p, "bad number");
    if (i < n && s[i] == '.') {
        i++;
        if (!(i < n && s[i] >= '0' && s[i] <= '9'))
            return p->i = i, fail(p, "bad number");
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!(i < n && s[i] >= '0' && s[i] <= '9'))
            return p->i = i, fail(p, "bad number");
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    p->i = i;
    v->type = KB_JSON_NUMBER;
    v->len = i - start;
    if (!(v->str = malloc(v->len + 1)))
        return nomem(p);
    memcpy(v->str, s + start, v->len);
    v->str[v->len] = '\0';
    return 0;
}

static int literal(struct parser *p, const char *word, enum kb_json_type type, struct kb_json *v)
{
    size_t m = strlen(word);
    if (p->n - p->i < m || memcmp(p->s + p->i, word, m) != 0)
        return fail(p, "unexpected character");
    p->i += m;
    v->type = type;
    return 0;
}

static int parse_value(struct parser *p, struct kb_json *v, int depth);

/* An array or object at p->i. Each member is linked in once it is complete: after an error
 * the members before it are still there. */
static int parse_container(struct parser *p, struct kb_json *v, int depth)
{
    int object = p->s[p->i] == '{';
    char close = object ? '}' : ']';
    v->type = object ? KB_JSON_OBJECT : KB_JSON_ARRAY;
    if (depth >= KB_JSON_MAX_DEPTH)
        return fail(p, "nesting too deep");
    p->i++;
    skip_space(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    struct kb_json **tail = &v->child;
    for (;;) {
        struct kb_json *m = calloc(1, sizeof *m);
        if (!m)
            return nomem(p);
        skip_space(p);
        if (object) {
            if (p->i >= p->n || p->s[p->i] != '"') {
                kb_json_free(m);
                return fail(p, p->i >= p->n ? "unexpected end" : "expected a member name");
            }
            if (parse_string(p, &m->key, &m->key_len)) {
                kb_json_free(m);
                return -1;
            }
            skip_space(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                kb_json_free(m);
                return fail(p, p->i >= p->n ? "unexpected end" : "expected ':'");
            }
            p->i++;
        }
        if (parse_value(p, m, depth + 1)) {
            kb_json_free(m);
            return -1;
        }
        *tail = m;
        tail = &m->next;
        skip_space(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        return fail(p, p->i >= p->n ? "unexpected end" : "expected ',' or a closing bracket");
    }
}

static int parse_value(struct parser *p, struct kb_json *v, int depth)
{
    skip_space(p);
    if (p->i >= p->n)
        return fail(p, "unexpected end");
    switch (p->s[p->i]) {
    case '{':
    case '[': return parse_container(p, v, depth);
    case '"': v->type = KB_JSON_STRING; return parse_string(p, &v->str, &v->len);
    case 't': return literal(p, "true", KB_JSON_TRUE, v);
    case 'f': return literal(p, "false", KB_JSON_FALSE, v);
    case 'n': return literal(p, "null", KB_JSON_NULL, v);
    default: return parse_number(p, v);
    }
}

enum kb_status kb_json_parse(const char *text, size_t len, struct kb_json **out,
                             struct kb_error *err)
{
    struct parser p = {text, len, 0, err, KB_OK};
    struct kb_json *root = calloc(1, sizeof *root);
    *out = NULL;
    if (!root)
        return kb_fail(err, KB_ERR_NOMEM, "out of memory");
    if (parse_value(&p, root, 0) == 0) {
        skip_space(&p);
        if (p.i < p.n)
            fail(&p, "text after the JSON value");
    }
    if (p.status == KB_ERR_NOMEM) {
        kb_json_free(root);
        return p.status;
    }
    *out = root;
    return p.status;
}

void kb_json_free(struct kb_json *v)
{
    while (v) {
        struct kb_json *next = v->next;
        kb_json_free(v->child);
        free(v->str);
        free(v->key);
        free(v);
        v = next;
    }
}

const struct kb_json *kb_json_get(const struct kb_json *obj, const char *key)
{
    const struct kb_json *found = NULL;
    if (!obj || obj->type != KB_JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (const struct kb_json *m = obj->child; m; m = m->next)
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            found = m;
    return found;
}

int kb_json_integer(const struct kb_json *v, long long *out)
{
    if (!v || v->type != KB_JSON_NUMBER || strpbrk(v->str, ".eE"))
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v->str, &end, 10);
    if (errno || *end)
        return 0;
    *out = x;
    return 1;
}
