/*
 * print_text.c - the answer for a support agent at a terminal: the facts found in the paste,
 * then each matching entry with its evidence, why it happens and the numbered fix, with the
 * customer's own values (host, port, user, codes) highlighted when colour is on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define BOLD "\x1b[1m"
#define DIM "\x1b[2m"
#define VALUE "\x1b[1;33m"
#define GREEN "\x1b[32m"
#define YELLOW "\x1b[33m"
#define RED "\x1b[31m"
#define RESET "\x1b[0m"

static const char *sgr(const struct print_options *opt, const char *code)
{
    return opt->color ? code : "";
}

/* Prints text with every line indented; in colour, occurrences of the needles highlighted. */
static void print_indented(FILE *out, const char *text, const char *indent,
                           const char *const *needles, size_t n_needles,
                           const struct print_options *opt)
{
    int at_line_start = 1;
    for (const char *p = text; *p;) {
        if (at_line_start) {
            if (*p != '\n')
                fputs(indent, out);
            at_line_start = 0;
        }
        size_t best_len = 0;
        for (size_t i = 0; opt->color && i < n_needles; i++) {
            size_t len = needles[i] ? strlen(needles[i]) : 0;
            if (len >= 2 && len > best_len && strncmp(p, needles[i], len) == 0)
                best_len = len;
        }
        if (best_len) {
            fprintf(out, VALUE "%.*s" RESET, (int)best_len, p);
            p += best_len;
            continue;
        }
        fputc(*p, out);
        if (*p == '\n')
            at_line_start = 1;
        p++;
    }
    if (!at_line_start)
        fputc('\n', out);
}

size_t cli_fact_list(const struct kb_result *r, struct fact_list *out)
{
    static const char *const labels[] = {"reply", "status", "stage",  "host",
                                         "port",  "user",   "client", "provider"};
    const struct kb_facts *f = &r->facts;
    snprintf(out->code, sizeof out->code, "%d", f->reply_code);
    snprintf(out->port, sizeof out->port, "%d", f->port);
    const char *values[] = {f->reply_code ? out->code : NULL, f->enhanced, f->stage,  f->host,
                            f->port ? out->port : NULL,       f->user,     f->client, f->provider};
    for (size_t i = 0; i < 8; i++) {
        out->label[i] = labels[i];
        out->value[i] = values[i];
    }
    return 8;
}

static void print_facts(FILE *out, const struct kb_result *r, const struct print_options *opt)
{
    struct fact_list facts;
    size_t n = cli_fact_list(r, &facts);
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (!facts.value[i])
            continue;
        fprintf(out, "%s%s %s%s%s", any ? "  " : "Found in your text: ", facts.label[i],
                sgr(opt, VALUE), facts.value[i], sgr(opt, RESET));
        any = 1;
    }
    if (any)
        fputs("\n\n", out);
}

/* What the SMTP dialogue in the text showed, in one line (and its fields with --explain). */
static void print_dialogue(FILE *out, const struct kb_result *r, const struct print_options *opt)
{
    char line[640];
    if (!cli_dialogue_sentence(&r->dialogue, line, sizeof line))
        return;
    fprintf(out, "%sDialogue%s (%s): %s.\n", sgr(opt, BOLD), sgr(opt, RESET), r->dialogue.format,
            line);
    if (opt->explain && cli_dialogue_fields(&r->dialogue, line, sizeof line))
        fprintf(out, "%s  %s%s\n", sgr(opt, DIM), line, sgr(opt, RESET));
}

const struct kb_report *cli_bounce(const struct kb_result *r)
{
    const struct kb_report *rep = &r->report;
    return rep->format && rep->leg && strcmp(rep->format, "session") != 0 ? rep : NULL;
}

const char *cli_leg_words(const char *leg)
{
    return leg && strcmp(leg, "submission") == 0
               ? "the submission to the sender's own SMTP server failed"
               : "a server that had accepted the message could not deliver it";
}

/* "Bounce (postfix): ..." with each recipient's failure, before the answers. */
static void print_bounce(FILE *out, const struct kb_result *r, const struct print_options *opt)
{
    const struct kb_report *rep = cli_bounce(r);
    if (!rep)
        return;
    fprintf(out, "%sBounce:%s %s (%s report", sgr(opt, BOLD), sgr(opt, RESET),
            cli_leg_words(rep->leg), rep->format);
    if (rep->reporting_mta)
        fprintf(out, " from %s%s%s", sgr(opt, VALUE), rep->reporting_mta, sgr(opt, RESET));
    fputs(")\n", out);
    for (size_t i = 0; i < rep->recipient_count; i++) {
        const struct kb_recipient *p = &rep->recipients[i];
        fprintf(out, "  %s%s%s: %s", sgr(opt, VALUE), p->address ? p->address : "(recipient)",
                sgr(opt, RESET), p->action ? p->action : "failed");
        if (p->status) {
            fprintf(out, ", status %s%s%s", sgr(opt, VALUE), p->status, sgr(opt, RESET));
            if (p->status_meaning)
                fprintf(out, " (%s: %s)", p->status_class, p->status_meaning);
        }
        if (p->remote_mta)
            fprintf(out, ", remote server %s%s%s", sgr(opt, VALUE), p->remote_mta, sgr(opt, RESET));
        fputc('\n', out);
        if (p->diagnostic)
            fprintf(out, "    %sdiagnostic: %s%s\n", sgr(opt, DIM), p->diagnostic, sgr(opt, RESET));
    }
    fputc('\n', out);
}

static const char *confidence_color(enum kb_confidence c)
{
    return c == KB_CONF_EXACT ? GREEN : c == KB_CONF_LIKELY ? YELLOW : RED;
}

static void print_section(FILE *out, const char *heading, const char *body,
                          const struct kb_match *m, const struct kb_result *r,
                          const struct print_options *opt)
{
    if (!body || !*body)
        return;
    char *expanded = kb_template_expand(body, m, r, sgr(opt, VALUE), sgr(opt, RESET));
    if (heading)
        fprintf(out, "  %s%s%s\n", sgr(opt, BOLD), heading, sgr(opt, RESET));
    print_indented(out, expanded ? expanded : body, "    ", NULL, 0, opt);
    free(expanded);
}

static void print_match(FILE *out, size_t index, const struct kb_match *m,
                        const struct kb_result *r, int full, const struct print_options *opt)
{
    const struct kb_entry *e = m->entry;
    fprintf(out, "%s%zu. %s%s\n", sgr(opt, BOLD), index + 1, e->title, sgr(opt, RESET));
    fprintf(out, "   %s%s%s match (%s, score %.3g)   id: %s   article: %s\n",
            sgr(opt, confidence_color(m->confidence)), kb_confidence_str(m->confidence),
            sgr(opt, RESET), kb_via_str(m->via), m->score, e->id, e->article);
    if (m->recipient)
        fprintf(out, "   for recipient %s%s%s\n", sgr(opt, VALUE), m->recipient, sgr(opt, RESET));
    if (m->section_heading)
        fprintf(out, "   section: %s%s%s (line %zu, #%s)\n", sgr(opt, BOLD),
                m->section_heading[0] ? m->section_heading : "(introduction)", sgr(opt, RESET),
                m->section_line, m->section_anchor);

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
    if (m->evidence_count) {
        fprintf(out, "   %sEvidence:%s\n", sgr(opt, DIM), sgr(opt, RESET));
        for (size_t i = 0; i < m->evidence_count; i++) {
            char prefix[48];
            snprintf(prefix, sizeof prefix, "     line %zu: ", m->evidence[i].line);
            fputs(prefix, out);
            print_indented(out, m->evidence[i].text, "", needles, nn, opt);
        }
    }
    for (size_t i = 0; i < m->capture_count; i++)
        fprintf(out, "   %s: %s%s%s\n", m->captures[i].name, sgr(opt, VALUE), m->captures[i].value,
                sgr(opt, RESET));
    for (size_t i = 0; opt->explain && i < m->explain_count; i++)
        fprintf(out, "   %s%s%s\n", sgr(opt, DIM), m->explain[i], sgr(opt, RESET));
    fputc('\n', out);
    const char *why = opt->color ? e->why_ansi : e->why_text;
    const char *solution = opt->color ? e->solution_ansi : e->solution_text;
    if (full) {
        print_section(out, "Why it happens", why, m, r, opt);
        if (why && *why)
            fputc('\n', out);
        print_section(out, e->fulltext_only ? NULL : "Fix", solution, m, r, opt);
        fputc('\n', out);
    } else {
        print_section(out, "Why it happens", why, m, r, opt);
        fprintf(out, "  Full fix: kb-lookup --show %s\n\n", e->id);
    }
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
                            const struct print_options *opt)
{
    size_t with = 0;
    for (size_t i = 0; i < contenders; i++)
        with += r->matches[i].entry->tell_text[0] != '\0';
    if (!with)
        return 0;
    fputs(". What tells them apart:\n", out);
    for (size_t i = 0; i < contenders; i++) {
        const struct kb_match *m = &r->matches[i];
        const char *tell = opt->color ? m->entry->tell_ansi : m->entry->tell_text;
        fprintf(out, "  %zu. %s%s%s\n", i + 1, sgr(opt, BOLD), m->entry->title, sgr(opt, RESET));
        if (!tell[0]) {
            print_indented(out, "(see \"Why it happens\" below)", "     ", NULL, 0, opt);
            continue;
        }
        char *expanded = kb_template_expand(tell, m, r, sgr(opt, VALUE), sgr(opt, RESET));
        print_indented(out, expanded ? expanded : tell, "     ", NULL, 0, opt);
        free(expanded);
    }
    fputc('\n', out);
    return 1;
}

int print_result_text(FILE *out, const struct kb_db *db, const struct kb_result *r,
                      const struct print_options *opt)
{
    (void)db;
    if (r->report.not_failure) {
        fprintf(out, "Not a failure: %s. Nothing needs fixing.\n", r->report.not_failure);
        return ferror(out) ? -1 : 0;
    }
    if (r->match_count == 0) {
        print_bounce(out, r, opt);
        fputs("No matching entry. The text does not look like an error this knowledge base "
              "knows.\nTry pasting the complete error message, including the SMTP reply line "
              "(e.g. '535 5.7.8 ...').\n",
              out);
        if (r->dialogue.format)
            fputc('\n', out);
        print_dialogue(out, r, opt);
        return ferror(out) ? -1 : 0;
    }
    print_facts(out, r, opt);
    print_dialogue(out, r, opt);
    print_bounce(out, r, opt);
    /* Several causes sharing the top score are shown in full: the agent must pick between
     * them. Evidence that is not conclusive and also supports other causes: the agent must
     * choose too, so say so before the list, with the check of each that tells it apart. */
    size_t tied;
    size_t contenders = cli_contenders(r, &tied);
    size_t close = contenders - 1;
    if (tied > 1)
        fprintf(out, "%zu causes fit this text equally well", tied);
    else if (close)
        fprintf(out, "The evidence is not conclusive: %zu other cause%s below fit%s it too", close,
                close > 1 ? "s" : "", close > 1 ? "" : "s");
    if (contenders > 1 && !print_tell_apart(out, r, contenders, opt))
        fputs("; compare what each says under \"Why it happens\" with what the customer "
              "sees.\n\n",
              out);
    for (size_t i = 0; i < r->match_count; i++) {
        /* each recipient's best answer is shown in full, like the first */
        int first_for_recipient = r->matches[i].recipient != NULL;
        for (size_t k = 0; k < i && first_for_recipient; k++)
            first_for_recipient = !r->matches[k].recipient
                                  || strcmp(r->matches[k].recipient, r->matches[i].recipient);
        print_match(out, i, &r->matches[i], r, i < tied || first_for_recipient, opt);
    }
    return ferror(out) ? -1 : 0;
}

int print_entry_text(FILE *out, const struct kb_entry *e, const struct print_options *opt)
{
    fprintf(out, "%s%s%s\n   id: %s   article: %s\n\n", sgr(opt, BOLD), e->title, sgr(opt, RESET),
            e->id, e->article);
    const char *why = opt->color ? e->why_ansi : e->why_text;
    const char *solution = opt->color ? e->solution_ansi : e->solution_text;
    print_section(out, "Why it happens", why, NULL, NULL, opt);
    if (why && *why)
        fputc('\n', out);
    print_section(out, e->fulltext_only ? NULL : "Fix", solution, NULL, NULL, opt);
    if (e->related && *e->related)
        fprintf(out, "\n  Related: %s\n", e->related);
    return ferror(out) ? -1 : 0;
}
