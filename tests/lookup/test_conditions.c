/*
 * test_conditions.c - unit tests of the condition language (kb_conditions.h): what parses,
 * what is refused and where, and when a condition holds over facts, a dialogue and a report.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb_conditions.h"

/* Parses text; returns the condition or NULL, with the error offset and message. */
static struct kb_condition *parse(const char *text, size_t *offset, char **message)
{
    struct kb_condition *c = NULL;
    struct kb_buf msg;
    kb_buf_init(&msg, 0);
    *offset = 0;
    enum kb_status st = kb_condition_parse(text, strlen(text), &c, offset, &msg);
    CHECK(st == KB_OK || st == KB_ERR_INVALID);
    CHECK((st == KB_OK) == (c != NULL));
    if (message)
        kb_buf_detach(&msg, message);
    kb_buf_release(&msg);
    return c;
}

#define CHECK_REFUSED(text, want_offset, want_message)                                             \
    do {                                                                                           \
        size_t off_;                                                                               \
        char *msg_ = NULL;                                                                         \
        struct kb_condition *c_ = parse(text, &off_, &msg_);                                       \
        CHECK(c_ == NULL);                                                                         \
        CHECK(off_ == (want_offset));                                                              \
        CHECK(msg_ &&strstr(msg_, want_message) != NULL);                                          \
        if (!msg_ || !strstr(msg_, want_message))                                                  \
            fprintf(stderr, "  message was: %s\n", msg_ ? msg_ : "(null)");                        \
        free(msg_);                                                                                \
        kb_condition_free(c_);                                                                     \
    } while (0)

static void test_parse(void)
{
    static const char *const good[] = {
        "port=465",
        "port=465 greeting=no ended=timeout|closed",
        "  code=535   stage=auth  ",
        "enhanced=5.7.*",
        "enhanced=5.*",
        "enhanced=5.7.139",
        "status!=5.1.*|unknown",
        "client=\"Python smtplib\"|phpmailer",
        "leg=delivery action=failed",
        "auth-offered=no auth-offered-before-tls=no starttls-offered=yes",
        "last-command=AUTH failing-command=mail failing-reply=530",
        "dialogue!=none report=rfc3464 context=mail",
        "greeting=unknown",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        size_t off;
        char *msg = NULL;
        struct kb_condition *c = parse(good[i], &off, &msg);
        CHECK(c != NULL);
        if (!c)
            fprintf(stderr, "  refused '%s': %s\n", good[i], msg ? msg : "");
        free(msg);
        kb_condition_free(c);
    }
    CHECK_REFUSED("", 0, "empty condition");
    CHECK_REFUSED("prot=465", 0, "unknown fact 'prot'");
    CHECK_REFUSED("port=465 Greeting=no", 9, "expected a fact name");
    CHECK_REFUSED("port", 4, "expected '=' or '!=' after 'port'");
    CHECK_REFUSED("port=", 5, "missing value for 'port'");
    CHECK_REFUSED("port=465|", 9, "missing value for 'port'");
    CHECK_REFUSED("port=smtps", 5, "bad value 'smtps' for 'port'");
    CHECK_REFUSED("greeting=maybe", 9, "expected yes, no, or unknown");
    CHECK_REFUSED("enhanced=5.7", 9, "expected a status code");
    CHECK_REFUSED("enhanced=5.7.1.2", 9, "expected a status code");
    CHECK_REFUSED("enhanced=6.1.1", 9, "expected a status code");
    CHECK_REFUSED("enhanced=5.7*", 9, "expected a status code");
    CHECK_REFUSED("tls=yes,no", 4, "bad value 'yes,no'");
    CHECK_REFUSED("client=\"Python smtplib", 7, "unterminated quoted value");
    CHECK_REFUSED("client=\"a\"b", 10, "unexpected 'b' after a value");
    CHECK_REFUSED("stage=helo", 6, "expected connect, ehlo, starttls, auth, mail, rcpt, data");
}

static int holds(const char *text, const struct kb_condition_facts *facts)
{
    size_t off;
    struct kb_condition *c = parse(text, &off, NULL);
    CHECK(c != NULL);
    int r = c ? kb_condition_holds(c, facts) : -1;
    kb_condition_free(c);
    return r;
}

static void test_facts(void)
{
    struct kb_facts f = {0};
    f.reply_code = 535;
    f.enhanced = "5.7.139";
    f.stage = "auth";
    f.port = 587;
    f.client = "Python smtplib";
    f.provider = "m365";
    f.mail_context = KB_CONTEXT_IS_MAIL;
    struct kb_condition_facts x = {&f, NULL, NULL, NULL};
    CHECK(holds("code=535", &x) == 1);
    CHECK(holds("code=550|535 stage=auth", &x) == 1);
    CHECK(holds("code=550", &x) == 0);
    CHECK(holds("code!=550", &x) == 1);
    CHECK(holds("port=587 provider=m365", &x) == 1);
    CHECK(holds("port=465", &x) == 0);
    CHECK(holds("enhanced=5.7.*", &x) == 1);
    CHECK(holds("enhanced=5.*", &x) == 1);
    CHECK(holds("enhanced=4.*", &x) == 0);
    CHECK(holds("enhanced=5.7.139", &x) == 1);
    CHECK(holds("enhanced=5.7.13", &x) == 0);
    CHECK(holds("client=\"python smtplib\"", &x) == 1); /* caseless */
    CHECK(holds("client=python*", &x) == 1);
    CHECK(holds("context=mail", &x) == 1);
    CHECK(holds("context=other", &x) == 0);
    /* no dialogue and no report: their facts are unknown, and named so */
    CHECK(holds("greeting=no", &x) == 0);
    CHECK(holds("greeting=unknown", &x) == 1);
    CHECK(holds("greeting!=no", &x) == 1);
    CHECK(holds("dialogue=none report=none", &x) == 1);
    CHECK(holds("leg=delivery", &x) == 0);
    CHECK(holds("status=5.*", &x) == 0);
    /* a fact that is absent is unknown */
    f.port = 0;
    f.provider = NULL;
    CHECK(holds("port=unknown provider=unknown", &x) == 1);
    CHECK(holds("port!=465", &x) == 1);
    /* no facts at all */
    struct kb_condition_facts none = {NULL, NULL, NULL, NULL};
    CHECK(holds("code=unknown context=unknown dialogue=none", &none) == 1);
}

static void test_dialogue(void)
{
    struct kb_facts f = {0};
    f.port = 465;
    struct kb_dialogue d = {0};
    d.format = "swaks";
    d.connected = 1;
    d.greeting = 0;
    d.ehlo = -1;
    d.starttls_offered = -1;
    d.tls = -1;
    d.auth_offered = -1;
    d.auth_offered_before_tls = -1;
    d.ended = "timeout";
    struct kb_condition_facts x = {&f, &d, NULL, NULL};
    CHECK(holds("port=465 connected=yes greeting=no ended=timeout|closed", &x) == 1);
    CHECK(holds("tls-failed=no", &x) == 1);
    d.tls_failed = 1;
    CHECK(holds("tls-failed=yes", &x) == 1);
    d.tls_failed = 0;
    /* the port a transcript's connection line shows, when the text names none otherwise */
    f.port = 0;
    d.port = 465;
    CHECK(holds("port=465", &x) == 1);
    d.port = 0;
    CHECK(holds("port=unknown", &x) == 1);
    f.port = 465;
    CHECK(holds("dialogue=swaks", &x) == 1);
    CHECK(holds("leg=submission", &x) == 1); /* a client's own session */
    d.format = "postfix-log";
    CHECK(holds("leg=unknown", &x) == 1); /* an MTA's log may be either leg */
    d.format = "swaks";
    CHECK(holds("dialogue!=none", &x) == 1);
    CHECK(holds("greeting=yes", &x) == 0);
    CHECK(holds("auth-offered=no", &x) == 0);
    CHECK(holds("auth-offered=unknown", &x) == 1);
    CHECK(holds("last-command=unknown failing-reply=unknown", &x) == 1);
    d.greeting = 1;
    d.ehlo = 1;
    d.starttls_offered = 1;
    d.auth_offered = 0;
    d.auth_offered_before_tls = 0;
    d.tls = 0;
    d.last_command = "AUTH";
    d.failing_reply = 503;
    d.failing_command = "AUTH";
    d.ended = NULL;
    CHECK(holds("starttls-offered=yes auth-offered=no tls=no", &x) == 1);
    CHECK(holds("last-command=auth failing-command=auth failing-reply=503", &x) == 1);
    CHECK(holds("ended=unknown", &x) == 1);
    CHECK(holds("connected=yes greeting=no", &x) == 0);
    /* a dialogue whose format is NULL is no dialogue: everything unknown */
    d.format = NULL;
    CHECK(holds("dialogue=none starttls-offered=unknown", &x) == 1);
}

static void test_report(void)
{
    struct kb_recipient rcpt[2] = {{0}, {0}};
    rcpt[0].address = "a@example.org";
    rcpt[0].action = "failed";
    rcpt[0].status = "5.1.1";
    rcpt[1].address = "b@example.org";
    rcpt[1].action = "delayed";
    rcpt[1].status = "4.2.2";
    struct kb_report r = {0};
    r.format = "rfc3464";
    r.leg = "delivery";
    r.recipients = rcpt;
    r.recipient_count = 2;
    struct kb_condition_facts x = {NULL, NULL, &r, NULL};
    CHECK(holds("leg=delivery report=rfc3464", &x) == 1);
    CHECK(holds("report!=none", &x) == 1);
    /* per recipient: the tests of one condition must hold for the same recipient */
    CHECK(holds("status=5.1.*", &x) == 1);
    CHECK(holds("status=4.2.2 action=delayed", &x) == 1);
    CHECK(holds("status=5.1.1 action=delayed", &x) == 0);
    CHECK(holds("action=delivered", &x) == 0);
    /* the answer for one recipient reads that recipient only */
    x.recipient = &rcpt[1];
    CHECK(holds("status=5.1.*", &x) == 0);
    CHECK(holds("status=4.2.*", &x) == 1);
    /* a report with no recipients: recipient facts unknown */
    x.recipient = NULL;
    r.recipient_count = 0;
    CHECK(holds("status=unknown action=unknown", &x) == 1);
    r.format = NULL;
    CHECK(holds("report=none leg=unknown", &x) == 1);
}

int main(void)
{
    test_parse();
    test_facts();
    test_dialogue();
    test_report();
    return check_report("test_conditions");
}
