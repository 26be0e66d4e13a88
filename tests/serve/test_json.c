/*
 * test_json.c - unit tests of the JSON reader (kb_json.c) that kb-lookup --serve reads its
 * requests with and kb-compile --gaps reads the miss log with.
 */
#include <stdlib.h>
#include <string.h>

#include "../lookup/check.h"
#include "kb_json.h"

static struct kb_json *parse_ok(const char *text)
{
    struct kb_json *v = NULL;
    struct kb_error err = {0};
    enum kb_status st = kb_json_parse(text, strlen(text), &v, &err);
    if (st != KB_OK)
        fprintf(stderr, "parse of '%s': %s\n", text, err.message);
    CHECK(st == KB_OK);
    return v;
}

static void check_invalid(const char *text, const char *message)
{
    struct kb_json *v = NULL;
    struct kb_error err = {0};
    CHECK(kb_json_parse(text, strlen(text), &v, &err) == KB_ERR_INVALID);
    if (message && !strstr(err.message, message)) {
        fprintf(stderr, "'%s': message '%s' lacks '%s'\n", text, err.message, message);
        CHECK(0);
    }
    kb_json_free(v);
}

static void test_values(void)
{
    struct kb_json *v = parse_ok(" {\"id\": 7, \"text\": \"535 5.7.8\\nline \\\"2\\\"\", "
                                 "\"top\": 2, \"x\": [1, {\"y\": null}, true, false, -0.5e+3]} ");
    CHECK(v && v->type == KB_JSON_OBJECT);
    long long n = 0;
    CHECK(kb_json_integer(kb_json_get(v, "id"), &n) && n == 7);
    const struct kb_json *t = kb_json_get(v, "text");
    CHECK(t && t->type == KB_JSON_STRING && t->len == 18);
    CHECK_STR(t ? t->str : NULL, "535 5.7.8\nline \"2\"");
    const struct kb_json *x = kb_json_get(v, "x");
    CHECK(x && x->type == KB_JSON_ARRAY);
    const struct kb_json *e = x ? x->child : NULL;
    CHECK(e && e->type == KB_JSON_NUMBER);
    e = e ? e->next : NULL;
    CHECK(e && e->type == KB_JSON_OBJECT && kb_json_get(e, "y")->type == KB_JSON_NULL);
    e = e ? e->next->next->next : NULL;
    CHECK(e && e->type == KB_JSON_NUMBER && strcmp(e->str, "-0.5e+3") == 0);
    CHECK(!kb_json_integer(e, &n));
    CHECK(kb_json_get(v, "missing") == NULL);
    kb_json_free(v);

    /* the last of repeated names wins; names compared by their decoded bytes */
    v = parse_ok("{\"a\":1,\"\\u0061\":2}");
    CHECK(kb_json_integer(kb_json_get(v, "a"), &n) && n == 2);
    kb_json_free(v);

    /* \u escapes: NUL kept with the length, surrogate pairs joined, lone ones U+FFFD */
    v = parse_ok("\"a\\u0000b\\u00e9\\ud83d\\ude00\\ud800x\"");
    CHECK(v && v->len == 13);
    CHECK(v && memcmp(v->str, "a\0b\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx", 13) == 0);
    kb_json_free(v);

    /* bytes that are not UTF-8 are kept: the lookup takes any bytes */
    v = parse_ok("\"\xff\xfe\"");
    CHECK(v && v->len == 2 && (unsigned char)v->str[0] == 0xff);
    kb_json_free(v);

    v = parse_ok("123456789012345678901234567890");
    CHECK(v && !kb_json_integer(v, &n)); /* out of range */
    kb_json_free(v);
}

static void test_errors(void)
{
    check_invalid("", "unexpected end");
    check_invalid("{", "unexpected end");
    check_invalid("{\"a\" 1}", "expected ':'");
    check_invalid("{\"a\":1,}", "expected a member name");
    check_invalid("{\"a\":1} x", "text after");
    check_invalid("[1 2]", "expected ','");
    check_invalid("\"tab\there\"", "control character");
    check_invalid("\"\\x\"", "bad escape");
    check_invalid("\"\\u12\"", "bad \\u escape");
    check_invalid("01", "text after");
    check_invalid("-", "bad number");
    check_invalid("1.", "bad number");
    check_invalid("tru", "unexpected character");
    check_invalid("{'a':1}", "expected a member name");

    /* nesting is capped: no input exhausts the stack */
    size_t depth = 100000;
    char *deep = malloc(depth + 1);
    memset(deep, '[', depth);
    deep[depth] = '\0';
    check_invalid(deep, "nesting too deep");
    free(deep);
    char ok[2 * KB_JSON_MAX_DEPTH + 1];
    memset(ok, '[', KB_JSON_MAX_DEPTH);
    memset(ok + KB_JSON_MAX_DEPTH, ']', KB_JSON_MAX_DEPTH);
    ok[2 * KB_JSON_MAX_DEPTH] = '\0';
    kb_json_free(parse_ok(ok));
}

/* A line cut short still gives the members read before the cut: the request's id. */
static void test_partial(void)
{
    const char *line = "{\"id\": \"req-1\", \"top\": 2, \"text\": \"535 5.7.8 Authenti";
    struct kb_json *v = NULL;
    struct kb_error err = {0};
    CHECK(kb_json_parse(line, strlen(line), &v, &err) == KB_ERR_INVALID);
    CHECK(v && v->type == KB_JSON_OBJECT);
    const struct kb_json *id = kb_json_get(v, "id");
    CHECK_STR(id ? id->str : NULL, "req-1");
    CHECK(kb_json_get(v, "text") == NULL);
    kb_json_free(v);

    /* cut inside the id: no id */
    line = "{\"id\": \"req";
    CHECK(kb_json_parse(line, strlen(line), &v, &err) == KB_ERR_INVALID);
    CHECK(kb_json_get(v, "id") == NULL);
    kb_json_free(v);
}

int main(void)
{
    test_values();
    test_errors();
    test_partial();
    return check_report("test_json");
}
