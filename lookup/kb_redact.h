/*
 * kb_redact.h - what kb_redact.c shares with kb-compile --gaps (internal, not part of kb.h):
 * the test of which line of a text carries its error, so that the miss log keeps those lines
 * first and the grouping of the log names an error by the same line.
 */
#ifndef KB_REDACT_H
#define KB_REDACT_H

#include <stddef.h>

/* How much s[0, n) looks like the line that carries an error: 2 for a 4xx/5xx reply code
 * where replies stand (before an enhanced status code, first on the line, after ": " or '(';
 * not a port, a line number or a count in a log's prose), plus 1 for an error word ("error",
 * "failed", "refused", "timed out", ...; caseless), plus 1 when the line starts with the name
 * of an exception ("ConnectionRefusedError: ..."); 0 for none of these. */
int kb_redact_error_weight(const char *s, size_t n);

#endif
