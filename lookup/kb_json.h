/*
 * kb_json.h - a small JSON reader for the lines programs send and write: the requests of
 * kb-lookup's persistent mode (--serve) and the miss log that kb-compile --gaps groups.
 * Internal to libkb (not part of kb.h): the library itself never reads JSON.
 *
 * One JSON text in, a tree out. Strict about the grammar (RFC 8259), lenient about the bytes
 * inside strings: invalid UTF-8 is kept as it is (the lookup accepts any bytes), \u0000 gives a
 * NUL byte, a lone surrogate gives U+FFFD. Nesting is capped so no input can exhaust the stack.
 */
#ifndef KB_JSON_H
#define KB_JSON_H

#include <stddef.h>

#include "kb.h"

enum kb_json_type {
    KB_JSON_NULL = 0,
    KB_JSON_FALSE,
    KB_JSON_TRUE,
    KB_JSON_NUMBER,
    KB_JSON_STRING,
    KB_JSON_ARRAY,
    KB_JSON_OBJECT
};

/* One value. str holds a string's decoded bytes (NUL-terminated; len bytes, NULs possible) or a
 * number as written ("-1.5e3"); key is the member name when the value is in an object. Children
 * of an array or object are a list: child, then each one's next. Everything is owned by the
 * root; free it with kb_json_free. */
struct kb_json {
    enum kb_json_type type;
    char *str;
    size_t len;
    char *key;
    size_t key_len;
    struct kb_json *child;
    struct kb_json *next;
};

/* Nesting deeper than this is an error. */
#define KB_JSON_MAX_DEPTH 64

/* Parses text[0, len) as one JSON value (white space around it allowed). On success *out holds
 * the tree. On a syntax error returns KB_ERR_INVALID with err->message saying what and at which
 * byte; *out then holds what was read before the error (for an object: the members completed
 * so far, which is how a request's id is still found in a line cut short), or NULL. Either way
 * the caller frees *out. KB_ERR_NOMEM when out of memory (*out NULL). */
enum kb_status kb_json_parse(const char *text, size_t len, struct kb_json **out,
                             struct kb_error *err);

/* Frees a tree; accepts NULL. */
void kb_json_free(struct kb_json *value);

/* The member named key of an object (the last one when the name repeats, as most readers
 * do), or NULL when obj is no object or has none. */
const struct kb_json *kb_json_get(const struct kb_json *obj, const char *key);

/* A number member as an integer: 1 and *out set when value is a number with no fraction or
 * exponent within long long, else 0. */
int kb_json_integer(const struct kb_json *value, long long *out);

#endif
