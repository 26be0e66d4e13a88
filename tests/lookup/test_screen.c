/*
 * test_screen.c - unit tests of what the agent's screen is made of: the solution selected for
 * a provider (kb_solution_select: steps kept, left out, gaps), placeholders falling back to
 * the provider's submission server, and the terminal wrapper of kb-lookup (wrap.c: widths,
 * hanging indentation, code and URLs never broken, colour dropped).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "kb.h"

/* A step over the lines of text from the one starting with first to the one starting with
 * last (included), the blank lines after it too when blank is set. */
static struct kb_step step(const char *text, const char *first, const char *last, int blank,
                           char *labels, char *providers)
{
    struct kb_step s = {.labels = labels, .providers = providers};
    const char *a = strstr(text, first), *b = strstr(text, last);
    const char *end = strchr(b, '\n') + 1;
    while (blank && *end == '\n')
        end++;
    for (int f = 0; f < 3; f++) {
        s.start[f] = (size_t)(a - text);
        s.end[f] = (size_t)(end - text);
    }
    return s;
}

static const char solution[] = "Who acts: you.\n"
                               "\n"
                               "1. Check the password.\n"
                               "2. Provider specifics:\n"
                               "   - G: app password.\n"
                               "   - M: the UPN,\n"
                               "     and SMTP AUTH.\n"
                               "   - S: apikey.\n"
                               "\n"
                               "Verify\n"
                               "\n"
                               "Send a test.\n";

static void test_select(void)
{
    struct kb_entry e = {.solution_text = (char *)solution,
                         .solution_ansi = (char *)solution,
                         .solution_md = (char *)solution};
    struct kb_step steps[3];
    steps[0] = step(solution, "   - G:", "   - G:", 0, "G", "gmail,google-workspace");
    steps[1] = step(solution, "   - M:", "     and SMTP", 0, "M", "m365");
    steps[2] = step(solution, "   - S:", "   - S:", 1, "S", "sendgrid");
    e.steps = steps;
    e.step_count = 3;
    struct kb_selection sel;

    /* no provider seen: the solution as written */
    CHECK(kb_solution_select(&e, KB_FORM_TEXT, NULL, &sel) == KB_OK);
    CHECK_STR(sel.text, solution);
    CHECK(sel.gap_count == 0 && sel.kept_count == 0);
    kb_selection_release(&sel);

    /* Gmail: its step kept, the two others one gap; the blank line before Verify stays */
    CHECK(kb_solution_select(&e, KB_FORM_TEXT, "gmail", &sel) == KB_OK);
    CHECK_STR(sel.text, "Who acts: you.\n\n1. Check the password.\n2. Provider specifics:\n"
                        "   - G: app password.\n\nVerify\n\nSend a test.\n");
    CHECK(sel.gap_count == 1);
    if (sel.gap_count == 1) {
        CHECK_STR(sel.gaps[0].labels, "M, S");
        CHECK_STR(sel.gaps[0].providers, "m365,sendgrid");
        CHECK(sel.gaps[0].indent == 3);
        CHECK_STR(sel.text + sel.gaps[0].offset, "\nVerify\n\nSend a test.\n");
    }
    CHECK(sel.kept_count == 1);
    if (sel.kept_count == 1) {
        CHECK(sel.kept[0].step == 0);
        CHECK(strncmp(sel.text + sel.kept[0].start, "   - G:", 7) == 0);
        CHECK(sel.kept[0].end - sel.kept[0].start == strlen("   - G: app password.\n"));
    }
    kb_selection_release(&sel);

    /* a provider with no step of its own: every marked step left out, in one gap */
    CHECK(kb_solution_select(&e, KB_FORM_MARKDOWN, "yahoo", &sel) == KB_OK);
    CHECK(sel.gap_count == 1 && sel.kept_count == 0);
    if (sel.gap_count == 1)
        CHECK_STR(sel.gaps[0].labels, "G, M, S");
    CHECK(strstr(sel.text, "G:") == NULL && strstr(sel.text, "Send a test.") != NULL);
    kb_selection_release(&sel);

    /* SendGrid: gaps before and after nothing else; the step that holds a step left out */
    CHECK(kb_solution_select(&e, KB_FORM_ANSI, "sendgrid", &sel) == KB_OK);
    CHECK(sel.gap_count == 1 && sel.kept_count == 1);
    if (sel.gap_count == 1)
        CHECK_STR(sel.gaps[0].labels, "G, M");
    CHECK(strstr(sel.text, "   - S: apikey.\n\nVerify") != NULL);
    kb_selection_release(&sel);

    /* a step nested in one left out goes with it; one nested in a kept step stays */
    steps[0] = step(solution, "2. Provider", "   - S:", 1, "Providers", "m365");
    steps[1] = step(solution, "   - M:", "     and SMTP", 0, "M", "m365");
    steps[2] = step(solution, "   - S:", "   - S:", 1, "S", "sendgrid");
    CHECK(kb_solution_select(&e, KB_FORM_TEXT, "sendgrid", &sel) == KB_OK);
    CHECK(sel.gap_count == 1 && sel.kept_count == 0);
    if (sel.gap_count == 1)
        CHECK_STR(sel.gaps[0].labels, "Providers");
    CHECK_STR(sel.text, "Who acts: you.\n\n1. Check the password.\n\nVerify\n\nSend a test.\n");
    kb_selection_release(&sel);
    steps[0] = step(solution, "2. Provider", "   - S:", 1, "Providers", "gmail");
    steps[1] = step(solution, "   - M:", "     and SMTP", 0, "M", "m365");
    steps[2] = step(solution, "   - S:", "   - S:", 1, "S", "gmail");
    CHECK(kb_solution_select(&e, KB_FORM_TEXT, "gmail", &sel) == KB_OK);
    CHECK(sel.gap_count == 1 && sel.kept_count == 1);
    if (sel.gap_count == 1) /* left out inside the kept step: its note goes with it */
        CHECK(sel.gaps[0].kept == 1);
    if (sel.kept_count == 1)
        CHECK(strncmp(sel.text + sel.kept[0].start, "2. Provider", 11) == 0
              && strstr(sel.text + sel.kept[0].start, "   - S:") < sel.text + sel.kept[0].end);
    kb_selection_release(&sel);
}

static void test_provider_server(void)
{
    struct kb_result r = {0};
    r.facts.provider = "gmail";
    r.provider.id = "gmail";
    r.provider.host = "smtp.gmail.com";
    r.provider.port = 587;
    const char *t = "{{host|smtp.example.com}}:{{port|25}}";
    char *x = kb_template_expand(t, NULL, &r, "", "");
    CHECK_STR(x, "smtp.gmail.com:587");
    free(x);
    /* the text's own host wins, and the provider's port does not go with another host */
    r.facts.host = "mail.corp.example";
    x = kb_template_expand(t, NULL, &r, "", "");
    CHECK_STR(x, "mail.corp.example:25");
    free(x);
    r.facts.host = "SMTP.gmail.com";
    x = kb_template_expand(t, NULL, &r, "", "");
    CHECK_STR(x, "SMTP.gmail.com:587");
    free(x);
    r.facts.port = 465;
    x = kb_template_expand(t, NULL, &r, "[", "]");
    CHECK_STR(x, "[SMTP.gmail.com]:[465]");
    free(x);
    /* a bounce between two servers: the provider is the recipient's, not the customer's */
    r.facts.host = NULL;
    r.facts.port = 0;
    r.report.format = "gmail";
    r.report.leg = "delivery";
    x = kb_template_expand(t, NULL, &r, "", "");
    CHECK_STR(x, "smtp.example.com:25");
    free(x);
    r.report.leg = "submission";
    x = kb_template_expand(t, NULL, &r, "", "");
    CHECK_STR(x, "smtp.gmail.com:587");
    free(x);
}

/* What cli_wrap writes. */
static char *wrapped(const char *text, const char *prefix, const char *cont, size_t width,
                     int color)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    cli_wrap(f, text, prefix, cont, width, color);
    fclose(f);
    return buf;
}

static void test_wrap(void)
{
    char *s = wrapped("1. Find out exactly which username the application sends and compare it.",
                      "    ", NULL, 40, 0);
    CHECK_STR(s, "    1. Find out exactly which username\n"
                 "       the application sends and compare\n"
                 "       it.\n");
    free(s);
    /* code is one piece, even wider than the width; a URL is never broken */
    s = wrapped("Run \x1b[36mphp artisan config:clear\x1b[0m now, see "
                "https://example.com/a/very/long/path/to/read",
                "", NULL, 20, 0);
    CHECK_STR(s, "Run\nphp artisan config:clear\nnow, see\n"
                 "https://example.com/a/very/long/path/to/read\n");
    free(s);
    s = wrapped("    \x1b[36mswaks --to a@example.com --server smtp.example.com\x1b[0m", "  ", NULL,
                30, 0);
    CHECK_STR(s, "      swaks --to a@example.com --server smtp.example.com\n");
    free(s);
    /* colour takes no columns; kept with colour, dropped without */
    s = wrapped("- \x1b[1mGmail\x1b[22m: create an app password", "", NULL, 20, 1);
    CHECK_STR(s, "- \x1b[1mGmail\x1b[22m: create an\n  app password\n");
    free(s);
    s = wrapped("- \x1b[1mGmail\x1b[22m: create an app password", "", NULL, 20, 0);
    CHECK_STR(s, "- Gmail: create an\n  app password\n");
    free(s);
    /* a value filled into code: the code's colour comes back after it */
    s = wrapped("\x1b[36mnc " WRAP_VALUE_ON "mx.example" WRAP_VALUE_OFF " 25\x1b[0m", "", NULL, 0,
                1);
    CHECK_STR(s, "\x1b[36mnc \x1b[1;33mmx.example\x1b[22;39m\x1b[36m 25\x1b[0m\n");
    free(s);
    /* first prefix, then continuation prefix; blank lines stay empty; no width, no wrapping */
    s = wrapped("line 1: one two three four\n\nfive", "> ", "  ", 12, 0);
    CHECK_STR(s, "> line 1:\n  one two\n  three four\n\n  five\n");
    free(s);
    s = wrapped("one two three four five six seven", "", NULL, 0, 0);
    CHECK_STR(s, "one two three four five six seven\n");
    free(s);
    CHECK(cli_columns("\x1b[1mé\x1b[0m ok") == 4);
}

int main(void)
{
    test_select();
    test_provider_server();
    test_wrap();
    return check_report("test_screen");
}
