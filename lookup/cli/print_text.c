/*
 * print_text.c - the answer for a support agent at a terminal, fix first: the facts found in
 * the paste, then the best answer (what it is in one sentence, the evidence, the numbered fix
 * for the provider the text shows, how to verify it with the customer's own values, who to
 * hand over to), and the other causes that fit, one each with what tells them apart. --full
 * gives "Why it happens" and every answer in full. Everything is fitted to opt->width by
 * wrap.c; colour sequences are always written here and dropped there when colour is off.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kb_buf.h"

#define BOLD "\x1b[1m"
#define BOLD_OFF "\x1b[22m"
#define DIM "\x1b[2m"
#define VALUE WRAP_VALUE_ON
#define VALUE_OFF WRAP_VALUE_OFF
#define GREEN "\x1b[32m"
#define YELLOW "\x1b[33m"
#define RED "\x1b[31m"
#define RESET "\x1b[0m"

/* Formats, then writes wrapped (cli_wrap): prefix before the first line, cont after. */
static void say(FILE *out, const struct print_options *opt, const char *prefix, const char *cont,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void say(FILE *out, const struct print_options *opt, const char *prefix, const char *cont,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s)
        return;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cli_wrap(out, s, prefix, cont, opt->width, opt->color);
    free(s);
}

/* Spaces as wide as s, for the continuation rows of a line that starts with s. */
static const char *under(const char *s, char *buf, size_t size)
{
    size_t n = cli_columns(s);
    if (n >= size)
        n = size - 1;
    memset(buf, ' ', n);
    buf[n] = '\0';
    return buf;
}

/* text with every occurrence of the needles (the customer's values) shown as values. */
static char *highlight(const char *text, const char *const *needles, size_t n_needles)
{
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    enum kb_status st = KB_OK;
    for (const char *p = text; *p && st == KB_OK;) {
        size_t best_len = 0;
        for (size_t i = 0; i < n_needles; i++) {
            size_t len = needles[i] ? strlen(needles[i]) : 0;
            if (len >= 2 && len > best_len && strncmp(p, needles[i], len) == 0)
                best_len = len;
        }
        if (best_len) {
            st = kb_buf_printf(&buf, VALUE "%.*s" VALUE_OFF, (int)best_len, p);
            p += best_len;
        } else {
            st = kb_buf_append_char(&buf, *p++);
        }
    }
    char *s = NULL;
    if (st != KB_OK || kb_buf_detach(&buf, &s) != KB_OK)
        s = NULL;
    kb_buf_release(&buf);
    return s;
}

size_t cli_fact_list(const struct kb_result *r, struct fact_list *out)
{
    static const char *const labels[] = {"reply", "status", "stage",    "host",    "port",
                                         "user",  "client", "provider", "language"};
    const struct kb_facts *f = &r->facts;
    snprintf(out->code, sizeof out->code, "%d", f->reply_code);
    snprintf(out->port, sizeof out->port, "%d", f->port);
    const char *values[] = {f->reply_code ? out->code : NULL,
                            f->enhanced,
                            f->stage,
                            f->host,
                            f->port ? out->port : NULL,
                            f->user,
                            f->client,
                            f->provider,
                            r->language_name};
    const struct kb_value_lines *vl = &r->value_lines;
    const size_t lines[] = {0, 0, 0, vl->host, vl->port, vl->user, 0, 0, 0};
    for (size_t i = 0; i < 9; i++) {
        out->label[i] = labels[i];
        out->value[i] = values[i];
        /* a value with no line of its own is still the customer's: shown as such */
        out->line[i] = values[i] && (i >= 3 && i <= 5) && !lines[i] ? (size_t)-1 : lines[i];
    }
    return 9;
}

static void print_facts(FILE *out, const struct kb_result *r, const struct print_options *opt)
{
    struct fact_list facts;
    size_t n = cli_fact_list(r, &facts);
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    for (size_t i = 0; i < n; i++)
        if (facts.value[i] && !facts.line[i])
            kb_buf_printf(&buf, "%s%s " VALUE "%s" VALUE_OFF,
                          buf.len ? "  " : "Found in your text: ", facts.label[i], facts.value[i]);
    int found = buf.len > 0;
    if (found)
        cli_wrap(out, buf.data, "", "  ", opt->width, opt->color);
    /* the values a command can take, each with the line it came from: marked as the
     * customer's in words, not only by colour */
    kb_buf_reset(&buf);
    for (size_t i = 0; i < n; i++) {
        if (!facts.value[i] || !facts.line[i])
            continue;
        kb_buf_printf(&buf, "%s%s " VALUE "%s" VALUE_OFF,
                      buf.len ? "  " : "Values from your text: ", facts.label[i], facts.value[i]);
        if (facts.line[i] != (size_t)-1)
            kb_buf_printf(&buf, " (line %zu)", facts.line[i]);
    }
    if (buf.len)
        cli_wrap(out, buf.data, "", "  ", opt->width, opt->color);
    if (found || buf.len)
        fputc('\n', out);
    kb_buf_release(&buf);
}

/* What the SMTP dialogue in the text showed, in one line (and its fields with --explain). */
static void print_dialogue(FILE *out, const struct kb_result *r, const struct print_options *opt)
{
    char line[640];
    if (!cli_dialogue_sentence(&r->dialogue, line, sizeof line))
        return;
    say(out, opt, "", "  ", BOLD "Dialogue" BOLD_OFF " (%s): %s.", r->dialogue.format, line);
    if (opt->explain && cli_dialogue_fields(&r->dialogue, line, sizeof line))
        say(out, opt, "  ", NULL, DIM "%s" RESET, line);
}

const struct kb_report *cli_bounce(const struct kb_result *r)
{
    const struct kb_report *rep = &r->report;
    return rep->format && rep->leg && strcmp(rep->format, "session") != 0 ? rep : NULL;
}

const char *cli_report_words(const char *format)
{
    return strcmp(format, "diagnostic") == 0 ? "a delivery report's diagnostic line" : "report";
}

const char *cli_leg_words(const char *leg)
{
    return leg && strcmp(leg, "submission") == 0
               ? "the submission to the sender's own SMTP server failed"
               : "a server that had accepted the message could not deliver it";
}

int cli_report_delayed(const struct kb_report *rep)
{
    size_t delayed = 0;
    for (size_t i = 0; i < rep->recipient_count; i++)
        delayed += rep->recipients[i].action && strcmp(rep->recipients[i].action, "delayed") == 0;
    return rep->recipient_count && delayed == rep->recipient_count;
}

const char *cli_report_heading(const struct kb_report *rep)
{
    return cli_report_delayed(rep) ? "Delay warning:" : "Bounce:";
}

const char *cli_report_what(const struct kb_report *rep)
{
    return cli_report_delayed(rep) ? "a server that accepted the message has not delivered it "
                                     "yet and is still trying; it need not be sent again"
                                   : cli_leg_words(rep->leg);
}

/* "Bounce (postfix): ..." with each recipient's failure, before the answers. */
static void print_bounce(FILE *out, const struct kb_result *r, const struct print_options *opt)
{
    const struct kb_report *rep = cli_bounce(r);
    if (!rep)
        return;
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    const char *words = cli_report_words(rep->format);
    if (strcmp(words, "report") == 0)
        kb_buf_printf(&buf, BOLD "%s" BOLD_OFF " %s (%s report", cli_report_heading(rep),
                      cli_report_what(rep), rep->format);
    else
        kb_buf_printf(&buf, BOLD "%s" BOLD_OFF " %s (%s", cli_report_heading(rep),
                      cli_report_what(rep), words);
    if (rep->reporting_mta)
        kb_buf_printf(&buf, " from " VALUE "%s" VALUE_OFF, rep->reporting_mta);
    kb_buf_append_str(&buf, ")");
    cli_wrap(out, buf.data ? buf.data : "", "", "  ", opt->width, opt->color);
    for (size_t i = 0; i < rep->recipient_count; i++) {
        const struct kb_recipient *p = &rep->recipients[i];
        kb_buf_reset(&buf);
        kb_buf_printf(&buf, VALUE "%s" VALUE_OFF ": %s", p->address ? p->address : "(recipient)",
                      p->action ? p->action : "failed");
        if (p->status) {
            kb_buf_printf(&buf, ", status " VALUE "%s" VALUE_OFF, p->status);
            if (p->status_meaning)
                kb_buf_printf(&buf, " (%s: %s)", p->status_class, p->status_meaning);
        }
        if (p->remote_mta)
            kb_buf_printf(&buf, ", remote server " VALUE "%s" VALUE_OFF, p->remote_mta);
        cli_wrap(out, buf.data ? buf.data : "", "  ", "    ", opt->width, opt->color);
        if (p->diagnostic)
            say(out, opt, "    ", "      ", DIM "diagnostic: %s" RESET, p->diagnostic);
    }
    kb_buf_release(&buf);
    fputc('\n', out);
}

static const char *confidence_color(enum kb_confidence c)
{
    return c == KB_CONF_EXACT ? GREEN : c == KB_CONF_LIKELY ? YELLOW : RED;
}

/* A part of an entry (ANSI rendering) with the customer's values filled in, wrapped under
 * its heading. */
static void print_section(FILE *out, const char *heading, const char *body,
                          const struct kb_match *m, const struct kb_result *r,
                          const struct print_options *opt)
{
    if (!body || !*body)
        return;
    char *expanded = kb_template_expand(body, m, r, VALUE, VALUE_OFF);
    if (heading)
        say(out, opt, "  ", NULL, BOLD "%s" BOLD_OFF, heading);
    cli_wrap(out, expanded ? expanded : body, "    ", NULL, opt->width, opt->color);
    free(expanded);
}

/* Length of the list marker ("- ", "12. ") at p, 0 when none. */
static size_t marker_len(const char *p)
{
    if (strchr("-*+", p[0]) && p[0] && p[1] == ' ')
        return 2;
    size_t i = 0;
    while (i < 9 && p[i] >= '0' && p[i] <= '9')
        i++;
    return i && (p[i] == '.' || p[i] == ')') && p[i + 1] == ' ' ? i + 2 : 0;
}

/* Leading spaces of the line at p. */
static size_t indent_of(const char *p)
{
    size_t n = 0;
    while (p[n] == ' ')
        n++;
    return n;
}

/* The offsets of the first lines of the list items that hold the line at start (the step's
 * context: "5. Provider specifics:"), outermost first, into out (at most max); returns how
 * many. A holder is the nearest line above that is indented less and starts a list item. */
static size_t holders(const char *text, size_t start, size_t *out, size_t max)
{
    size_t n = 0, indent = indent_of(text + start), pos = start;
    while (indent > 0 && n < max) {
        size_t line = pos, found = SIZE_MAX;
        while (line > 0 && found == SIZE_MAX) {
            size_t prev = line - 1; /* the '\n' ending the line above */
            while (prev > 0 && text[prev - 1] != '\n')
                prev--;
            size_t in = indent_of(text + prev);
            if (text[prev + in] != '\n' && in < indent)
                found = prev;
            line = prev;
        }
        if (found == SIZE_MAX)
            break;
        size_t in = indent_of(text + found);
        if (!marker_len(text + found + in))
            break;
        out[n++] = found;
        indent = in;
        pos = found;
    }
    for (size_t i = 0; i < n / 2; i++) { /* outermost first */
        size_t t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
    return n;
}

/* The note that names the steps left out at a gap. */
static void append_note(struct kb_buf *buf, const struct kb_gap *gap)
{
    kb_buf_printf(buf, "%*s" DIM "Steps for %s: --all-providers" RESET "\n", (int)gap->indent, "",
                  gap->labels);
}

/* The kept step k on its own, after the first lines of the items that hold it (those not
 * already written for the step before: *shown), with the notes of the steps left out inside
 * it, blank lines at its end left out. */
static void append_lifted(struct kb_buf *buf, const struct kb_selection *sel, size_t k,
                          size_t *shown, size_t *shown_count)
{
    const char *text = sel->text;
    const struct kb_kept *kept = &sel->kept[k];
    size_t up[8];
    size_t n = holders(text, kept->start, up, sizeof up / sizeof up[0]);
    for (size_t i = 0; i < n; i++) {
        int again = 0;
        for (size_t j = 0; j < *shown_count && !again; j++)
            again = shown[j] == up[i];
        if (again)
            continue;
        const char *nl = strchr(text + up[i], '\n');
        kb_buf_append(buf, text + up[i],
                      nl ? (size_t)(nl - text) - up[i] + 1 : strlen(text + up[i]));
        if (*shown_count < 8)
            shown[(*shown_count)++] = up[i];
    }
    size_t from = kept->start;
    for (size_t g = 0; g < sel->gap_count; g++) {
        const struct kb_gap *gap = &sel->gaps[g];
        if (gap->kept != k + 1 || gap->offset < from || gap->offset > kept->end)
            continue;
        kb_buf_append(buf, text + from, gap->offset - from);
        append_note(buf, gap);
        from = gap->offset;
    }
    kb_buf_append(buf, text + from, kept->end - from);
    while (buf->len && (buf->data[buf->len - 1] == '\n' || buf->data[buf->len - 1] == ' '))
        buf->data[--buf->len] = '\0';
    kb_buf_append_char(buf, '\n');
}

/* The fix (and the sections after it) for the provider the text shows: its steps for that
 * provider first (where they were, a line points up to them), then the fix as written with
 * the steps for other providers left out, each place where they were named in one line. */
static void print_fix(FILE *out, const struct kb_match *m, const struct kb_result *r,
                      const struct print_options *opt)
{
    const struct kb_entry *e = m->entry;
    struct kb_selection sel;
    const char *provider = opt->all_providers ? NULL : r->facts.provider;
    if (kb_solution_select(e, KB_FORM_ANSI, provider, &sel) != KB_OK) {
        print_section(out, e->fulltext_only ? NULL : "Fix", e->solution_ansi, m, r, opt);
        return;
    }
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    /* the steps of the Fix for the provider first, with the first line of the items that hold
     * them (steps of Verify... stay where they are) */
    size_t shown[8], shown_count = 0, lifted = 0;
    for (size_t k = 0; k < sel.kept_count; k++)
        if (e->steps[sel.kept[k].step].part == 0) {
            append_lifted(&buf, &sel, k, shown, &shown_count);
            lifted++;
        }
    if (lifted)
        kb_buf_append_char(&buf, '\n');
    size_t at = 0, k = 0, g = 0;
    while (k < sel.kept_count || g < sel.gap_count) {
        const struct kb_kept *kept = k < sel.kept_count ? &sel.kept[k] : NULL;
        const struct kb_gap *gap = g < sel.gap_count ? &sel.gaps[g] : NULL;
        if (gap && gap->kept && e->steps[sel.kept[gap->kept - 1].step].part == 0) {
            g++; /* inside a lifted step: its note went with it */
            continue;
        }
        if (kept && e->steps[kept->step].part != 0) { /* not lifted: left as it is */
            k++;
            continue;
        }
        if (gap && (!kept || gap->offset <= kept->start)) {
            kb_buf_append(&buf, sel.text + at, gap->offset - at);
            append_note(&buf, gap);
            at = gap->offset;
            g++;
            continue;
        }
        /* the kept step's first line, its marker, and a pointer up; its blank lines stay */
        kb_buf_append(&buf, sel.text + at, kept->start - at);
        const char *line = sel.text + kept->start;
        size_t indent = 0;
        while (line[indent] == ' ')
            indent++;
        size_t head = indent + marker_len(line + indent);
        size_t end = kept->end;
        while (end > kept->start && sel.text[end - 1] == '\n' && end - 1 > kept->start
               && sel.text[end - 2] == '\n')
            end--;
        kb_buf_printf(&buf, "%.*s%s: see above\n", (int)head, line, e->steps[kept->step].labels);
        kb_buf_append(&buf, sel.text + end, kept->end - end);
        at = kept->end;
        k++;
    }
    kb_buf_append_str(&buf, sel.text + at);
    if (e->fulltext_only) {
        print_section(out, NULL, buf.data, m, r, opt);
    } else if (sel.gap_count || sel.kept_count) {
        char heading[160];
        snprintf(heading, sizeof heading, "Fix for %s",
                 r->provider.name ? r->provider.name : r->facts.provider);
        print_section(out, heading, buf.data, m, r, opt);
    } else {
        print_section(out, "Fix", buf.data, m, r, opt);
    }
    kb_buf_release(&buf);
    kb_selection_release(&sel);
}

/* Does the '.', '!' or '?' at `at` end a sentence (of the text starting at p)? Not inside a
 * word or a URL, nor after an abbreviation such as "e.g.". */
static int sentence_end(const char *p, const char *at)
{
    if (at[1] && at[1] != ' ' && at[1] != '\n')
        return 0;
    return *at != '.' || at - p < 2 || at[-2] != '.';
}

/* The first sentence of "Why it happens": what the cause is, in one line. */
static char *first_sentence(const char *why)
{
    const char *p = why;
    while (*p == ' ' || *p == '\n')
        p++;
    if ((p[0] == '-' || p[0] == '*') && p[1] == ' ') /* a list: its first item */
        p += 2;
    const char *end = p;
    while (*end && *end != '\n' && !(strchr(".!?", *end) && sentence_end(p, end)))
        end++;
    if (*end && *end != '\n')
        end++;
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    char *s = NULL;
    if (kb_buf_append(&buf, p, (size_t)(end - p)) != KB_OK
        || kb_buf_append_str(&buf, RESET) != KB_OK || kb_buf_detach(&buf, &s) != KB_OK)
        s = NULL;
    kb_buf_release(&buf);
    return s;
}

static void print_match_head(FILE *out, size_t index, const struct kb_match *m,
                             const struct print_options *opt)
{
    const struct kb_entry *e = m->entry;
    char prefix[32], cont[32];
    snprintf(prefix, sizeof prefix, BOLD "%zu. ", index + 1);
    say(out, opt, prefix, under(prefix, cont, sizeof cont), "%s" RESET, e->title);
    /* the article's path is for the long form: the id finds the entry (--show) */
    char tag[64];
    say(out, opt, "   ", "     ", "%s%s match" RESET " (%s, score %.3g)   id: %s%s%s%s%s",
        confidence_color(m->confidence), kb_confidence_str(m->confidence), kb_via_str(m->via),
        m->score, e->id, opt->full ? "   article: " : "", opt->full ? e->article : "",
        opt->layers ? "   layer: " : "",
        opt->layers ? cli_layer_tag(opt->layers, e, tag, sizeof tag) : "");
    if (m->recipient)
        say(out, opt, "   ", "     ", "for recipient " VALUE "%s" VALUE_OFF, m->recipient);
    if (m->section_heading)
        say(out, opt, "   ", "     ", "section: " BOLD "%s" BOLD_OFF " (line %zu, #%s)",
            m->section_heading[0] ? m->section_heading : "(introduction)", m->section_line,
            m->section_anchor);
}

static void print_evidence(FILE *out, const struct kb_match *m, const struct kb_result *r,
                           const struct print_options *opt)
{
    char code[16] = "", port[16] = "";
    if (r->facts.reply_code)
        snprintf(code, sizeof code, "%d", r->facts.reply_code);
    if (r->facts.port)
        snprintf(port, sizeof port, "%d", r->facts.port);
    const char *needles[8 + 16];
    size_t nn = 0;
    const char *facts[] = {r->facts.host, r->facts.user, r->facts.enhanced, code, port};
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
        if (facts[i] && *facts[i])
            needles[nn++] = facts[i];
    for (size_t i = 0; i < m->capture_count && nn < sizeof needles / sizeof needles[0]; i++)
        needles[nn++] = m->captures[i].value;
    if (m->evidence_count)
        say(out, opt, "   ", NULL, DIM "Evidence:" RESET);
    for (size_t i = 0; i < m->evidence_count; i++) {
        char prefix[48], cont[48];
        snprintf(prefix, sizeof prefix, "     line %zu: ", m->evidence[i].line);
        char *lit = opt->color ? highlight(m->evidence[i].text, needles, nn) : NULL;
        cli_wrap(out, lit ? lit : m->evidence[i].text, prefix, under(prefix, cont, sizeof cont),
                 opt->width, opt->color);
        free(lit);
    }
    for (size_t i = 0; i < m->capture_count; i++)
        say(out, opt, "   ", "     ", "%s: " VALUE "%s" VALUE_OFF, m->captures[i].name,
            m->captures[i].value);
    for (size_t i = 0; opt->explain && i < m->explain_count; i++)
        say(out, opt, "   ", "     ", DIM "%s" RESET, m->explain[i]);
}

/* One answer in full: what it is, the evidence, the fix for the provider at hand. */
static void print_match(FILE *out, size_t index, const struct kb_match *m,
                        const struct kb_result *r, const struct print_options *opt)
{
    const struct kb_entry *e = m->entry;
    print_match_head(out, index, m, opt);
    if (!opt->full && e->why_ansi[0]) {
        char *cause = first_sentence(e->why_ansi);
        char *x = cause ? kb_template_expand(cause, m, r, VALUE, VALUE_OFF) : NULL;
        if (x || cause)
            cli_wrap(out, x ? x : cause, "   ", NULL, opt->width, opt->color);
        free(x);
        free(cause);
    }
    print_evidence(out, m, r, opt);
    fputc('\n', out);
    if (opt->full && e->why_ansi[0]) {
        print_section(out, "Why it happens", e->why_ansi, m, r, opt);
        fputc('\n', out);
    }
    print_fix(out, m, r, opt);
    fputc('\n', out);
}

/* Another cause that fits, in one line: title, confidence, and (when the list of what tells
 * them apart was not shown above) its check. */
static void print_match_line(FILE *out, size_t index, const struct kb_match *m,
                             const struct kb_result *r, int with_check,
                             const struct print_options *opt)
{
    char prefix[32], cont[32];
    snprintf(prefix, sizeof prefix, "  %zu. ", index + 1);
    under(prefix, cont, sizeof cont);
    say(out, opt, prefix, cont, BOLD "%s" BOLD_OFF " (%s%s match" RESET ", id %s%s%s)",
        m->entry->title, confidence_color(m->confidence), kb_confidence_str(m->confidence),
        m->entry->id, m->recipient ? ", for " : "", m->recipient ? m->recipient : "");
    const char *tell = m->entry->tell_ansi;
    if (!with_check || !tell[0])
        return;
    char *x = kb_template_expand(tell, m, r, VALUE, VALUE_OFF);
    struct kb_buf buf;
    kb_buf_init(&buf, 0);
    if (kb_buf_printf(&buf, DIM "Tell it apart:" RESET " %s", x ? x : tell) == KB_OK)
        cli_wrap(out, buf.data, cont, NULL, opt->width, opt->color);
    kb_buf_release(&buf);
    free(x);
}

size_t cli_contenders(const struct kb_result *r, size_t *tied)
{
    *tied = r->match_count ? 1 : 0;
    if (!r->match_count)
        return 0;
    const struct kb_match *first = &r->matches[0];
    /* answers for different recipients of a bounce are no alternatives to each other */
    while (first->via == KB_VIA_SIGNATURE && *tied < r->match_count
           && r->matches[*tied].via == KB_VIA_SIGNATURE && r->matches[*tied].score == first->score
           && !r->matches[*tied].recipient)
        (*tied)++;
    size_t close = 1;
    while (close < r->match_count && first->confidence != KB_CONF_EXACT
           && r->matches[close].via == first->via && r->matches[close].score * 2 >= first->score
           && !r->matches[close].recipient)
        close++;
    return close > *tied ? close : *tied;
}

/* The check of each contender that tells it apart ("Tell it apart" in the articles), after the
 * note that says the agent must choose. Returns 0 when no contender has one (nothing
 * printed). */
static int print_tell_apart(FILE *out, const struct kb_result *r, size_t contenders,
                            const char *note, const struct print_options *opt)
{
    size_t with = 0;
    for (size_t i = 0; i < contenders; i++)
        with += r->matches[i].entry->tell_text[0] != '\0';
    if (!with)
        return 0;
    say(out, opt, "", NULL, "%s. What tells them apart:", note);
    for (size_t i = 0; i < contenders; i++) {
        const struct kb_match *m = &r->matches[i];
        const char *tell = m->entry->tell_ansi;
        char prefix[32];
        snprintf(prefix, sizeof prefix, "  %zu. ", i + 1);
        say(out, opt, prefix, "     ", BOLD "%s" BOLD_OFF, m->entry->title);
        if (!tell[0]) {
            say(out, opt, "     ", NULL, "(see \"Why it happens\": kb-lookup --full)");
            continue;
        }
        char *expanded = kb_template_expand(tell, m, r, VALUE, VALUE_OFF);
        cli_wrap(out, expanded ? expanded : tell, "     ", NULL, opt->width, opt->color);
        free(expanded);
    }
    fputc('\n', out);
    return 1;
}

/* Is match i the first answer for its recipients (a bounce with several failures)? */
static int first_for_recipient(const struct kb_result *r, size_t i)
{
    if (!r->matches[i].recipient)
        return 0;
    for (size_t k = 0; k < i; k++)
        if (r->matches[k].recipient
            && strcmp(r->matches[k].recipient, r->matches[i].recipient) == 0)
            return 0;
    return 1;
}

int print_result_text(FILE *out, const struct kb_db *db, const struct kb_result *r,
                      const struct print_options *opt)
{
    (void)db;
    if (r->report.not_failure) {
        say(out, opt, "", NULL, "Not a failure: %s. Nothing needs fixing.", r->report.not_failure);
        return ferror(out) ? -1 : 0;
    }
    if (r->match_count == 0) {
        print_bounce(out, r, opt);
        /* what was recognised, what the text looks like, the next step (nomatch.c) */
        say(out, opt, "", NULL, "No matching entry.");
        print_facts(out, r, opt);
        print_dialogue(out, r, opt);
        struct cli_nomatch n;
        cli_nomatch_read(r, 0, &n);
        for (size_t i = 0; i < n.count; i++)
            say(out, opt, "", NULL, "%s", n.advice[i]);
        cli_nomatch_release(&n);
        return ferror(out) ? -1 : 0;
    }
    print_facts(out, r, opt);
    print_dialogue(out, r, opt);
    if (r->dialogue.format)
        fputc('\n', out);
    print_bounce(out, r, opt);
    /* Evidence that is not conclusive, or several causes sharing the top score: the agent must
     * choose, so say so before the answers, with the check of each that tells it apart. */
    size_t tied;
    size_t contenders = cli_contenders(r, &tied);
    size_t close = contenders - 1;
    char note[160] = "";
    if (tied > 1)
        snprintf(note, sizeof note, "%zu causes fit this text equally well", tied);
    else if (close)
        snprintf(note, sizeof note,
                 "The evidence is not conclusive: %zu other cause%s below fit%s it too", close,
                 close > 1 ? "s" : "", close > 1 ? "" : "s");
    int checks_shown = contenders > 1 && print_tell_apart(out, r, contenders, note, opt);
    if (contenders > 1 && !checks_shown)
        say(out, opt, "", NULL,
            "%s; compare what each says under \"Why it happens\" (kb-lookup --full) with what "
            "the customer sees.\n",
            note);
    /* the first answer (and each recipient's first) in full; the others in one line each,
     * unless --full */
    size_t others = 0;
    for (size_t i = 0; i < r->match_count; i++) {
        if (i == 0 || opt->full || first_for_recipient(r, i))
            print_match(out, i, &r->matches[i], r, opt);
        else
            others++;
    }
    if (others) {
        say(out, opt, "", NULL, "%s (their fix: kb-lookup --full, or --show ID):",
            contenders > 1 ? "The other causes that fit" : "Other causes that fit this text");
        for (size_t i = 1; i < r->match_count; i++)
            if (!first_for_recipient(r, i))
                print_match_line(out, i, &r->matches[i], r, !checks_shown || i >= contenders, opt);
    }
    return ferror(out) ? -1 : 0;
}

int print_entry_text(FILE *out, const struct kb_entry *e, const struct print_options *opt)
{
    say(out, opt, "", NULL, BOLD "%s" BOLD_OFF, e->title);
    char tag[64];
    say(out, opt, "   ", "     ", "id: %s   article: %s%s%s", e->id, e->article,
        opt->layers ? "   layer: " : "",
        opt->layers ? cli_layer_tag(opt->layers, e, tag, sizeof tag) : "");
    fputc('\n', out);
    print_section(out, "Why it happens", e->why_ansi, NULL, NULL, opt);
    if (e->why_ansi[0])
        fputc('\n', out);
    print_section(out, e->fulltext_only ? NULL : "Fix", e->solution_ansi, NULL, NULL, opt);
    if (e->related && *e->related) {
        fputc('\n', out);
        say(out, opt, "  ", "    ", "Related: %s", e->related);
    }
    return ferror(out) ? -1 : 0;
}

const char *cli_layer_tag(const struct kb_db *layers, const struct kb_entry *e, char *buf,
                          size_t size)
{
    const struct kb_db *l = kb_db_layer(layers, e->layer);
    const char *label = l ? kb_db_label(l) : "?";
    const char *slash = strrchr(label, '/');
    const char *name = slash ? slash + 1 : label;
    size_t n = strlen(name);
    if (n > 3 && strcmp(name + n - 3, ".db") == 0)
        n -= 3;
    if (strcmp(label, CLI_BUILTIN_LABEL) == 0) /* a label, not a file name */
        name = "built-in", n = 8;
    snprintf(buf, size, "%.*s", (int)n, name);
    return buf;
}
