/*
 * wrap.c - writes text for a terminal: every line fitted to a width by breaking it at spaces,
 * continuation lines indented under the text of a list item or step ("   - ", "12. "), never
 * inside a word, a URL or code. Used by the text printer only; Markdown and JSON are never
 * wrapped.
 *
 * The text may hold SGR colour sequences ("\x1b[...m"): they take no columns, and the KB's
 * ANSI rendering marks code (spans and blocks) with WRAP_CODE ... "\x1b[0m", which is kept
 * whole on one line, spaces and all, even when that line is then wider than the width. Values
 * filled into code close with WRAP_VALUE_OFF, after which the code colour is put back. Without
 * colour every sequence is dropped on output, so the same text serves both.
 */
#include <string.h>

#include "cli.h"

#define CODE_ON "\x1b[36m"
#define RESET "\x1b[0m"

/* Length of the SGR sequence at p (n bytes left), or 0. */
static size_t sgr_len(const char *p, size_t n)
{
    if (n < 3 || p[0] != '\x1b' || p[1] != '[')
        return 0;
    size_t i = 2;
    while (i < n && ((p[i] >= '0' && p[i] <= '9') || p[i] == ';'))
        i++;
    return i < n && p[i] == 'm' ? i + 1 : 0;
}

/* Columns the bytes [p, p + n) take: code points outside SGR sequences. */
static size_t columns(const char *p, size_t n)
{
    size_t cols = 0;
    for (size_t i = 0; i < n;) {
        size_t s = sgr_len(p + i, n - i);
        if (s) {
            i += s;
            continue;
        }
        if (((unsigned char)p[i] & 0xc0) != 0x80)
            cols++;
        i++;
    }
    return cols;
}

struct writer {
    FILE *out;
    int color;
    int in_code; /* inside WRAP_CODE ... RESET */
};

/* Writes [p, p + n), dropping SGR sequences without colour, tracking code. */
static void emit(struct writer *w, const char *p, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n;) {
        size_t s = sgr_len(p + i, n - i);
        if (!s) {
            i++;
            continue;
        }
        fwrite(p + run, 1, i - run, w->out);
        if (s == sizeof CODE_ON - 1 && memcmp(p + i, CODE_ON, s) == 0)
            w->in_code = 1;
        else if (s == sizeof RESET - 1 && memcmp(p + i, RESET, s) == 0)
            w->in_code = 0;
        if (w->color) {
            fwrite(p + i, 1, s, w->out);
            if (w->in_code && s == sizeof WRAP_VALUE_OFF - 1
                && memcmp(p + i, WRAP_VALUE_OFF, s) == 0)
                fputs(CODE_ON, w->out); /* a value inside code: back to the code's colour */
        }
        i += s;
        run = i;
    }
    fwrite(p + run, 1, n - run, w->out);
}

static void spaces(FILE *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fputc(' ', out);
}

/* The list marker at p (after the indentation): "- ", "* ", "+ ", "> ", "12. ", "3) ";
 * returns its length, 0 when none. */
static size_t marker_len(const char *p, size_t n)
{
    if (n >= 2 && strchr("-*+>", p[0]) && p[1] == ' ')
        return 2;
    size_t i = 0;
    while (i < n && i < 9 && p[i] >= '0' && p[i] <= '9')
        i++;
    if (i && i + 1 < n && (p[i] == '.' || p[i] == ')') && p[i + 1] == ' ')
        return i + 2;
    return 0;
}

/* One line (no '\n'): prefix, then the line broken into rows of at most width columns, each
 * row after the first starting with cont_prefix and the line's own hanging indentation. */
static void wrap_line(struct writer *w, const char *line, size_t n, const char *prefix,
                      const char *cont_prefix, size_t width)
{
    size_t prefix_cols = columns(prefix, strlen(prefix));
    emit(w, prefix, strlen(prefix));
    if (!width || prefix_cols + columns(line, n) <= width) {
        emit(w, line, n);
        fputc('\n', w->out);
        return;
    }
    size_t lead = 0;
    while (lead < n && line[lead] == ' ')
        lead++;
    size_t hang = lead + marker_len(line + lead, n - lead);
    size_t cont_cols = columns(cont_prefix, strlen(cont_prefix)) + hang;
    emit(w, line, hang);
    size_t col = prefix_cols + hang, row_start_col = col;
    int in_code = w->in_code;
    size_t i = hang;
    while (i < n) {
        /* the gap of spaces before the next unit, then the unit: a run of anything but spaces
         * outside code, with the spaces of code inside it */
        size_t gap_start = i;
        while (i < n && line[i] == ' ' && !in_code)
            i++;
        size_t unit_start = i;
        while (i < n && (line[i] != ' ' || in_code)) {
            size_t s = sgr_len(line + i, n - i);
            if (s == sizeof CODE_ON - 1 && memcmp(line + i, CODE_ON, s) == 0)
                in_code = 1;
            else if (s == sizeof RESET - 1 && memcmp(line + i, RESET, s) == 0)
                in_code = 0;
            i += s ? s : 1;
        }
        if (unit_start == i) /* trailing spaces */
            break;
        size_t gap = columns(line + gap_start, unit_start - gap_start);
        size_t unit = columns(line + unit_start, i - unit_start);
        if (col > row_start_col && col + gap + unit > width) {
            fputc('\n', w->out);
            emit(w, cont_prefix, strlen(cont_prefix));
            spaces(w->out, hang);
            col = row_start_col = cont_cols;
            gap_start = unit_start;
            gap = 0;
        }
        emit(w, line + gap_start, i - gap_start);
        col += gap + unit;
    }
    fputc('\n', w->out);
}

void cli_wrap(FILE *out, const char *text, const char *prefix, const char *cont_prefix,
              size_t width, int color)
{
    struct writer w = {out, color, 0};
    if (!cont_prefix)
        cont_prefix = prefix;
    int first = 1;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n == 0)
            fputc('\n', out); /* a blank line gets no indentation */
        else
            wrap_line(&w, p, n, first ? prefix : cont_prefix, cont_prefix, width);
        first = 0;
        p += n + (nl != NULL);
    }
    if (w.in_code && color)
        fputs(RESET, out);
}

size_t cli_columns(const char *s)
{
    return columns(s, strlen(s));
}
