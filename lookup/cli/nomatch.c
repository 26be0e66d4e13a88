/*
 * nomatch.c - what kb-lookup says when no entry answers a text: what it recognised in it, what
 * the text looks like when it is not about sending mail, and the next step that fits, for
 * every printer (text, Markdown, JSON) alike. Never asks for what the text already holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kb_buf.h"

/* Appends one sentence to advice (NULL on failure, which leaves the advice shorter). */
static void add(struct cli_nomatch *n, struct kb_buf *b)
{
    if (n->count < CLI_NOMATCH_MAX && b->data && kb_buf_detach(b, &n->advice[n->count]) == KB_OK)
        n->count++;
    kb_buf_release(b);
}

void cli_nomatch_read(const struct kb_result *r, int markdown, struct cli_nomatch *n)
{
    memset(n, 0, sizeof *n);
    const struct kb_facts *f = &r->facts;
    const char *q = markdown ? "`" : "'";
    struct kb_buf b;
    kb_status_code_meaning(f->enhanced, &n->status_class, &n->status_meaning);
    int other = f->mail_context == KB_CONTEXT_IS_OTHER;
    if (other && !r->kb_about_mail && f->other_program) {
        /* a team's own KB: "another program" is only one its documents do not cover */
        kb_buf_init(&b, 0);
        kb_buf_printf(&b,
                      "This looks like an error of %s%s%s, which no article of this "
                      "knowledge base covers.",
                      q, f->other_program, q);
        add(n, &b);
    } else if (other && r->kb_about_mail) {
        kb_buf_init(&b, 0);
        kb_buf_printf(&b,
                      "This looks like an error of another program, not of sending e-mail "
                      "(the text names %s%s%s); this knowledge base covers sending e-mail.",
                      q, f->other_program ? f->other_program : "", q);
        add(n, &b);
    }
    kb_buf_init(&b, 0);
    if (n->status_meaning)
        kb_buf_printf(&b, "Status %s%s%s means, by RFC 3463: %s: %s.", q, f->enhanced, q,
                      n->status_class, n->status_meaning);
    else if (f->reply_code >= 400 && f->reply_code < 600)
        kb_buf_printf(&b, "Reply %s%d%s is a %s: %s.", q, f->reply_code, q,
                      f->reply_code < 500 ? "temporary failure" : "permanent failure",
                      f->reply_code < 500 ? "the server asks the client to try again later"
                                          : "the server refuses, and trying again as it is "
                                            "will not help");
    add(n, &b);
    if (r->nearest_id) {
        kb_buf_init(&b, 0);
        kb_buf_printf(&b,
                      "The nearest entry, too weak to be an answer: \"%s\" (%skb-lookup --show "
                      "%s%s).",
                      r->nearest_title, q, r->nearest_id, q);
        add(n, &b);
    }
    kb_buf_init(&b, 0);
    if (!r->kb_about_mail)
        kb_buf_printf(&b,
                      "Next: paste the whole error with the lines around it on standard input: "
                      "%skb-lookup - < error.txt%s.",
                      q, q);
    else if (f->reply_code || f->enhanced)
        kb_buf_printf(&b,
                      "Next: paste the whole error with the lines around it (the application's "
                      "log, or its SMTP transcript) on standard input: %skb-lookup - < "
                      "error.txt%s.",
                      q, q);
    else if (other)
        kb_buf_printf(&b,
                      "If it is about sending mail after all, paste the mail error itself, with "
                      "the server's reply line (such as %s535 5.7.8 ...%s): %skb-lookup - < "
                      "error.txt%s.",
                      q, q, q, q);
    else
        kb_buf_printf(&b,
                      "Next: paste the complete error message, with the server's reply line "
                      "(such as %s535 5.7.8 ...%s), on standard input: %skb-lookup - < "
                      "error.txt%s.",
                      q, q, q, q);
    add(n, &b);
}

void cli_nomatch_release(struct cli_nomatch *n)
{
    for (size_t i = 0; i < n->count; i++)
        free(n->advice[i]);
    memset(n, 0, sizeof *n);
}
