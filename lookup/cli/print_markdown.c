/*
 * print_markdown.c - the answer as Markdown, for pasting into a ticket or a chat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Writes [s, s + n) with its placeholders filled; the customer's values in bold, except in
 * code, where ** would be shown as it is. */
static void put_expanded(FILE *out, const char *s, size_t n, int code, const struct kb_match *m,
                         const struct kb_result *r)
{
    char *part = strndup(s, n);
    char *x = part ? kb_template_expand(part, m, r, code ? "" : "**", code ? "" : "**") : NULL;
    /* a placeholder the article itself set in bold ("**{{port|587}}**") is marked once:
     * "****465****" would show its asterisks */
    for (char *p = x && !code ? strstr(x, "****") : NULL; p; p = strstr(p, "****"))
        memmove(p, p + 2, strlen(p + 2) + 1);
    if (x || part)
        fputs(x ? x : part, out);
    free(x);
    free(part);
}

/* md with its placeholders filled (put_expanded), code told apart from prose: fenced blocks
 * (a line opening with ``` or ~~~ up to the line that closes it) and code spans (a run of
 * backticks up to the next run of the same length). */
static void print_expanded(FILE *out, const char *md, const struct kb_match *m,
                           const struct kb_result *r)
{
    const char *p = md, *seg = md;
    int fence = 0;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) + 1 : strlen(p);
        const char *t = p;
        while (*t == ' ')
            t++;
        int fence_line = strncmp(t, "```", 3) == 0 || strncmp(t, "~~~", 3) == 0;
        if (fence || fence_line) {
            if (!fence) { /* prose before the block */
                put_expanded(out, seg, (size_t)(p - seg), 0, m, r);
                seg = p;
            }
            if (fence_line && fence) { /* the block ends with this line */
                put_expanded(out, seg, (size_t)(p + n - seg), 1, m, r);
                seg = p + n;
            }
            fence = fence_line ? !fence : fence;
            p += n;
            continue;
        }
        for (const char *c = p; c < p + n;) {
            if (*c != '`') {
                c++;
                continue;
            }
            size_t run = 0;
            while (c[run] == '`')
                run++;
            const char *close = c + run;
            while ((close = strchr(close, '`')) != NULL) {
                size_t k = 0;
                while (close[k] == '`')
                    k++;
                if (k == run)
                    break;
                close += k;
            }
            if (!close) {
                c += run;
                continue;
            }
            put_expanded(out, seg, (size_t)(c - seg), 0, m, r);
            put_expanded(out, c, (size_t)(close + run - c), 1, m, r);
            seg = c = close + run;
            if (c > p + n) /* a span over a line break: go on after it */
                n = (size_t)(c - p);
        }
        p += n;
    }
    put_expanded(out, seg, (size_t)(p - seg), fence, m, r);
    fputc('\n', out);
}

/* The fix for the provider the text shows (all of it with --all-providers); the steps for
 * other providers left out are named after it. */
static void print_fix(FILE *out, const struct kb_match *m, const struct kb_result *r,
                      const struct print_options *opt)
{
    struct kb_selection sel;
    const char *provider = opt->all_providers ? NULL : r->facts.provider;
    if (kb_solution_select(m->entry, KB_FORM_MARKDOWN, provider, &sel) != KB_OK) {
        print_expanded(out, m->entry->solution_md, m, r);
        return;
    }
    print_expanded(out, sel.text, m, r);
    for (size_t i = 0; i < sel.gap_count; i++)
        fprintf(out, "%s%s", i ? ", " : "*Left out, for other providers than the text shows: ",
                sel.gaps[i].labels);
    if (sel.gap_count)
        fputs(".*\n\n", out);
    kb_selection_release(&sel);
}

/* What the SMTP dialogue in the text showed, in one line (and its fields with --explain). */
static void print_dialogue(FILE *out, const struct kb_result *r, const struct print_options *opt)
{
    char line[640];
    if (!cli_dialogue_sentence(&r->dialogue, line, sizeof line))
        return;
    fprintf(out, "**Dialogue** (%s): %s.\n\n", r->dialogue.format, line);
    if (opt->explain && cli_dialogue_fields(&r->dialogue, line, sizeof line))
        fprintf(out, "- `%s`\n\n", line);
}

/* One paragraph as a tight list item: without the blank line its trailing newline would make. */
static void print_item(FILE *out, const char *md, const struct kb_match *m,
                       const struct kb_result *r)
{
    char *x = kb_template_expand(md, m, r, "**", "**");
    const char *s = x ? x : md;
    size_t n = strlen(s);
    while (n && s[n - 1] == '\n')
        n--;
    fprintf(out, "%.*s\n", (int)n, s);
    free(x);
}

/* The "Bounce:" block: what failed, and each recipient's failure. */
static void print_bounce(FILE *out, const struct kb_result *r)
{
    const struct kb_report *rep = cli_bounce(r);
    if (rep) {
        const char *words = cli_report_words(rep->format);
        if (strcmp(words, "report") == 0)
            fprintf(out, "**%s** %s (%s report", cli_report_heading(rep), cli_report_what(rep),
                    rep->format);
        else
            fprintf(out, "**%s** %s (%s", cli_report_heading(rep), cli_report_what(rep), words);
        if (rep->reporting_mta)
            fprintf(out, " from `%s`", rep->reporting_mta);
        fputs(")\n\n", out);
        for (size_t i = 0; i < rep->recipient_count; i++) {
            const struct kb_recipient *p = &rep->recipients[i];
            fprintf(out, "- `%s`: %s", p->address ? p->address : "(recipient)",
                    p->action ? p->action : "failed");
            if (p->status)
                fprintf(out, ", status `%s`", p->status);
            if (p->status_meaning)
                fprintf(out, " (%s: %s)", p->status_class, p->status_meaning);
            if (p->remote_mta)
                fprintf(out, ", remote server `%s`", p->remote_mta);
            fputc('\n', out);
        }
        fputc('\n', out);
    }
}

/* The facts found in the text, in one line. */
static void print_found(FILE *out, const struct kb_result *r)
{
    struct fact_list facts;
    size_t n = cli_fact_list(r, &facts);
    int any = 0;
    for (size_t i = 0; i < n; i++)
        if (facts.value[i] && !facts.line[i])
            fprintf(out, "%s %s `%s`", any++ ? "," : "**Found in the text:**", facts.label[i],
                    facts.value[i]);
    if (any)
        fputs("\n\n", out);
    /* the customer's values, each with the line it was read from */
    any = 0;
    for (size_t i = 0; i < n; i++) {
        if (!facts.value[i] || !facts.line[i])
            continue;
        fprintf(out, "%s %s `%s`", any++ ? "," : "**Values from your text:**", facts.label[i],
                facts.value[i]);
        if (facts.line[i] != (size_t)-1)
            fprintf(out, " (line %zu)", facts.line[i]);
    }
    if (any)
        fputs("\n\n", out);
}

int print_result_markdown(FILE *out, const struct kb_db *db, const struct kb_result *r,
                          const struct print_options *opt)
{
    (void)db;
    if (r->report.not_failure) {
        fprintf(out, "**Not a failure:** %s. Nothing needs fixing.\n", r->report.not_failure);
        return ferror(out) ? -1 : 0;
    }
    if (r->match_count == 0) {
        print_bounce(out, r);
        fputs("No matching knowledge-base entry.\n\n", out);
        print_found(out, r);
        print_dialogue(out, r, opt);
        struct cli_nomatch nm;
        cli_nomatch_read(r, 1, &nm);
        for (size_t i = 0; i < nm.count; i++)
            fprintf(out, "%s\n\n", nm.advice[i]);
        cli_nomatch_release(&nm);
        return ferror(out) ? -1 : 0;
    }
    print_found(out, r);
    print_dialogue(out, r, opt);
    print_bounce(out, r);
    size_t tied;
    size_t contenders = cli_contenders(r, &tied);
    if (contenders > 1) {
        if (tied > 1)
            fprintf(out, "**%zu causes fit this text equally well.**", tied);
        else
            fprintf(out, "**The evidence is not conclusive:** %zu other cause%s fit%s it too.",
                    contenders - 1, contenders > 2 ? "s" : "", contenders > 2 ? "" : "s");
        fputs(" What tells them apart:\n\n", out);
        for (size_t i = 0; i < contenders; i++) {
            const struct kb_match *m = &r->matches[i];
            fprintf(out, "%zu. **%s**: ", i + 1, m->entry->title);
            if (m->entry->tell_md[0])
                print_item(out, m->entry->tell_md, m, r);
            else
                fputs("see *Why it happens* below.\n", out);
        }
        fputc('\n', out);
    }
    for (size_t i = 0; i < r->match_count; i++) {
        const struct kb_match *m = &r->matches[i];
        fprintf(out, "## %zu. %s\n\n", i + 1, m->entry->title);
        char tag[64];
        fprintf(out, "*%s match* (%s, score %.3g) — id `%s`, article `%s`%s%s%s\n\n",
                kb_confidence_str(m->confidence), kb_via_str(m->via), m->score, m->entry->id,
                m->entry->article, opt->layers ? ", layer `" : "",
                opt->layers ? cli_layer_tag(opt->layers, m->entry, tag, sizeof tag) : "",
                opt->layers ? "`" : "");
        if (m->recipient)
            fprintf(out, "For recipient `%s`\n\n", m->recipient);
        if (m->section_heading && m->section_heading[0])
            fprintf(out, "Section: **%s** (`%s#%s`, line %zu)\n\n", m->section_heading,
                    m->entry->article, m->section_anchor, m->section_line);
        for (size_t k = 0; k < m->evidence_count; k++)
            fprintf(out, "> line %zu: `%s`\n", m->evidence[k].line, m->evidence[k].text);
        if (m->evidence_count)
            fputc('\n', out);
        for (size_t k = 0; opt->explain && k < m->explain_count; k++)
            fprintf(out, "- %s\n", m->explain[k]);
        if (opt->explain && m->explain_count)
            fputc('\n', out);
        if (m->entry->why_md[0]) {
            fputs("### Why it happens\n\n", out);
            print_expanded(out, m->entry->why_md, m, r);
        }
        if (!m->entry->fulltext_only)
            fputs("### Fix\n\n", out);
        print_fix(out, m, r, opt);
    }
    return ferror(out) ? -1 : 0;
}

int print_entry_markdown(FILE *out, const struct kb_entry *e)
{
    print_expanded(out, e->body_md, NULL, NULL);
    return ferror(out) ? -1 : 0;
}
