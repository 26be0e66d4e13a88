/*
 * kb_conditions.h - conditions over what a pasted text is, written in the articles.
 *
 * Which shape of evidence means which cause is knowledge, and knowledge lives in the
 * articles: an entry's kb-conditions block says, one condition a line, which facts of a text
 * point to it ("port=465 connected=yes greeting=no": a client that got no greeting from the
 * implicit-TLS port), or away from it with a negative weight ("leg=delivery": a failure
 * between two mail servers is not the application's own connection problem). A condition is
 * tests separated by white space, all of which must hold:
 *
 *   name=value            the fact has this value
 *   name=v1|v2|...        one of these values
 *   name!=v1|v2           none of them
 *   value*                (codes and words) any value that starts with this: enhanced=5.1.*
 *   "two words"           a value with spaces, quoted
 *
 * A fact the text does not tell has the value "unknown", which conditions may name too
 * (greeting!=unknown). The names, what each reads and the values each allows are defined once
 * here, in kb_conditions.c: kb-compile validates every condition with the parser lookup uses,
 * so both always agree. Shared by kb-compile and libkb; not part of the public API.
 */
#ifndef KB_CONDITIONS_H
#define KB_CONDITIONS_H

#include <stddef.h>

#include "kb.h"
#include "kb_buf.h"

struct kb_condition; /* opaque: a parsed condition line */

/* Parses one condition (len bytes of text, no line break). On success *out must be freed with
 * kb_condition_free. A condition that is not well formed gives KB_ERR_INVALID with the byte
 * offset of the problem in *error_offset and a one-line message appended to msg (lowercase,
 * naming the offending name or value and what was expected). KB_ERR_NOMEM when out of memory. */
enum kb_status kb_condition_parse(const char *text, size_t len, struct kb_condition **out,
                                  size_t *error_offset, struct kb_buf *msg);

void kb_condition_free(struct kb_condition *c); /* accepts NULL */

/* What conditions read: the facts of the text, its SMTP dialogue and its delivery report (any
 * may be NULL: every fact it would give is then unknown). recipient: the one recipient of the
 * report a per-recipient answer is about, or NULL to let a condition on recipient facts
 * (action, status) hold when it holds for any one recipient. Not owned. */
struct kb_condition_facts {
    const struct kb_facts *facts;
    const struct kb_dialogue *dialogue;
    const struct kb_report *report;
    const struct kb_recipient *recipient;
};

/* Does every test of the condition hold for these facts? */
int kb_condition_holds(const struct kb_condition *c, const struct kb_condition_facts *facts);

/* Appends the names conditions know, comma-separated, for messages and documentation. */
enum kb_status kb_condition_names(struct kb_buf *out);

#endif
