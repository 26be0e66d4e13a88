/*
 * keyed.c - the "key: value" lines of the blocks that declare something of the whole KB
 * (kb-provider, kb-client): one reader, so every such block reports an unknown key, a
 * duplicate key or a line without a colon the same way, at the line and column it is on.
 *
 * providers.c and clients.c give the keys they know and a function that takes each value;
 * this file knows nothing of what the values mean.
 */
#include <string.h>

#include "kbc.h"

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* "a, b, c" as the keys' names for a message: "id, name or words". */
static enum kb_status key_names(const char *const *keys, size_t n, struct kb_buf *out)
{
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < n && st == KB_OK; i++)
        st = kb_buf_printf(out, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", keys[i]);
    return st;
}

enum kb_status kbc_keyed_block_read(const struct kbc_keyed_block *block, const char *text,
                                    size_t line, size_t col, struct kbc_diags *diags,
                                    unsigned *seen)
{
    const char *path = block->path;
    enum kb_status st = KB_OK;
    *seen = 0;
    size_t index = 0;
    for (const char *s = text ? text : ""; *s && st == KB_OK; index++) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        size_t l_line = line + 1 + index, l_col = col;
        const char *l = s;
        s = nl ? nl + 1 : s + n;
        while (n && blank(*l)) {
            l++;
            n--;
            l_col++;
        }
        while (n && blank(l[n - 1]))
            n--;
        if (!n || (l[0] == '#' && (n == 1 || l[1] == ' ')))
            continue;
        const char *colon = memchr(l, ':', n);
        if (!colon) {
            kbc_diag(diags, KBC_ERROR, path, l_line, l_col, "expected 'key: value' in %s block",
                     block->name);
            continue;
        }
        size_t key_len = (size_t)(colon - l);
        while (key_len && blank(l[key_len - 1]))
            key_len--;
        size_t key = block->key_count;
        for (size_t k = 0; k < block->key_count; k++)
            if (strlen(block->keys[k]) == key_len && strncmp(l, block->keys[k], key_len) == 0)
                key = k;
        if (key == block->key_count) {
            struct kb_buf names;
            kb_buf_init(&names, 0);
            if ((st = key_names(block->keys, block->key_count, &names)) == KB_OK)
                kbc_diag(diags, KBC_ERROR, path, l_line, l_col,
                         "unknown key '%.*s' in %s block (expected %s)", (int)key_len, l,
                         block->name, names.data);
            kb_buf_release(&names);
            continue;
        }
        if (*seen & (1u << key))
            kbc_diag(diags, KBC_ERROR, path, l_line, l_col, "duplicate key '%s' in %s block",
                     block->keys[key], block->name);
        *seen |= 1u << key;
        const char *v = colon + 1;
        size_t v_n = n - (size_t)(v - l), v_col = l_col + (size_t)(v - l);
        while (v_n && blank(*v)) {
            v++;
            v_n--;
            v_col++;
        }
        st = block->value(block->ctx, key, v, v_n, l_line, v_col, diags);
    }
    return st;
}

enum kb_status kbc_keyed_list(const char *v, size_t n, struct kb_buf *out)
{
    enum kb_status st = KB_OK;
    for (size_t i = 0; i <= n && st == KB_OK;) {
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i++;
        while (s < e && blank(v[s]))
            s++;
        while (e > s && blank(v[e - 1]))
            e--;
        if (s == e)
            continue;
        if (out->len)
            st = kb_buf_append_char(out, ',');
        if (st == KB_OK)
            st = kb_buf_append(out, v + s, e - s);
    }
    return st;
}
