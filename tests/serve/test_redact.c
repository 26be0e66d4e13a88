/*
 * test_redact.c - unit tests of kb_text_redact: what a miss log keeps of a pasted text.
 * Secrets are masked by the library's one mask (kb_mask.c); customer values become
 * placeholders; the wording of the error, codes, ports and program names stay.
 */
#include <stdlib.h>
#include <string.h>

#include "../lookup/check.h"
#include "kb.h"

static char *redact(const char *text, const struct kb_result *r, size_t max)
{
    char *out = NULL;
    struct kb_error err = {0};
    CHECK(kb_text_redact(text, strlen(text), r, max, &out, &err) == KB_OK);
    return out;
}

#define CHECK_REDACT(text, want)                                                                   \
    do {                                                                                           \
        char *got_ = redact(text, NULL, 0);                                                        \
        CHECK_STR(got_, want);                                                                     \
        free(got_);                                                                                \
    } while (0)

static void test_placeholders(void)
{
    CHECK_REDACT("connecting to smtp.customer-mail.com:587 as john.smith@customer.com",
                 "connecting to <host>:587 as <address>");
    CHECK_REDACT("connect ECONNREFUSED 192.0.2.10:25", "connect ECONNREFUSED <ip>:25");
    CHECK_REDACT("dial tcp [2001:db8::25]:587: i/o timeout", "dial tcp [<ip>]:587: i/o timeout");
    CHECK_REDACT("at 12:30:05 the server said 421", "at 12:30:05 the server said 421");
    CHECK_REDACT("smtp://jane:hunter2@mail.acme.org:465", "smtp://<user>:***@<host>:465");
    CHECK_REDACT("sasl_username=jane, user: \"bob\"", "sasl_username=<user>, user: \"<user>\"");
    CHECK_REDACT("postfix/smtp[1234]: 4F3A21C0B2: to=<a@b.example>, status=bounced",
                 "postfix/smtp[1234]: <id>: to=<<address>>, status=bounced");
    CHECK_REDACT("message 1715679067 queued", "message <n> queued");
    /* PHPMailer's folded reply; the transcript marker is stripped as a lookup strips it */
    CHECK_REDACT("SERVER -> CLIENT: 250-mail.example.org250-PIPELINING250-SIZE 10240000",
                 "250-<host>250-PIPELINING250-SIZE <n>");
    CHECK_REDACT("MAIL_HOST=smtp.example.org TLS_AES_256_GCM_SHA384 250-8BITMIME",
                 "MAIL_HOST=<host> TLS_AES_256_GCM_SHA384 250-8BITMIME");
    CHECK_REDACT("Error: Invalid login: 535-5.7.8 Username and Password not accepted.",
                 "Error: Invalid login: 535-5.7.8 Username and Password not accepted.");
    CHECK_REDACT("error:0A00042E:SSL routines 4F3A21C0B2", "error:0A00042E:SSL routines <id>");
    CHECK_REDACT("id 550e8400-e29b-41d4-a716-446655440000", "id <id>");
    CHECK_REDACT("spring.mail.username=jdoe spring.mail.host=smtp.example.org",
                 "spring.mail.username=<user> spring.mail.host=<host>");
    /* kept: status codes, error codes, exceptions, modules, files, versions */
    CHECK_REDACT("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled",
                 "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled");
    CHECK_REDACT("AADSTS50126 0x80040211 SMTPUTF8 Win32Exception office365",
                 "AADSTS50126 0x80040211 SMTPUTF8 Win32Exception office365");
    CHECK_REDACT("java.net.ConnectException ssl.SSLError smtplib.SMTPAuthenticationError",
                 "java.net.ConnectException ssl.SSLError smtplib.SMTPAuthenticationError");
    CHECK_REDACT("File \"/srv/app/mailer.py\", line 509, in send: smtp.login(user, password)",
                 "File \"/srv/app/mailer.py\", line 509, in send: smtp.login(user, password)");
    CHECK_REDACT("at index.js:12 TLSv1.2 OpenSSL 3.0.11", "at index.js:12 TLSv1.2 OpenSSL 3.0.11");
}

static void test_secrets(void)
{
    /* the library's mask, as every answer has it */
    CHECK_REDACT("C: AUTH PLAIN AGpvaG4Ac2VjcmV0cGFzcw==", "AUTH PLAIN ***");
    CHECK_REDACT("MAIL_PASSWORD=\"abcd efgh ijkl mnop\"", "MAIL_PASSWORD=\"***\"");
    char *out = redact(" ~> AUTH LOGIN\n<~  334 VXNlcm5hbWU6\n ~> am9obg==\n<~  334 UGFzc3dvcmQ6\n"
                       " ~> cHcx\n<~* 535 5.7.8 Error: authentication failed",
                       NULL, 0);
    CHECK(out && !strstr(out, "am9obg") && !strstr(out, "cHcx"));
    CHECK(out && strstr(out, "535 5.7.8 Error: authentication failed"));
    free(out);
}

/* Values the lookup found are replaced wherever they appear, even where no rule would see
 * them (a host name of one label). */
static void test_known_values(void)
{
    struct kb_result r;
    memset(&r, 0, sizeof r);
    r.facts.host = "mailhost";
    r.facts.user = "jdoe";
    char *out = redact("cannot connect to mailhost port 25 for jdoe (jdoe2 is fine)", &r, 0);
    CHECK_STR(out, "cannot connect to <host> port 25 for <user> (jdoe2 is fine)");
    free(out);
}

/* Over max bytes: the lines with the error first, "[...]" where lines were left out, never
 * more than max. Every line is cut at 300 bytes. */
static void test_size(void)
{
    size_t n = 200;
    char *text = malloc(n * 64 + 200);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 150)
            at += (size_t)sprintf(text + at, "550 5.1.1 Recipient address rejected\n");
        at += (size_t)sprintf(text + at, "INFO worker %zu is doing something ordinary\n", i);
    }
    char *out = redact(text, NULL, 1024);
    CHECK(out && strlen(out) <= 1024);
    CHECK(out && strstr(out, "550 5.1.1 Recipient address rejected"));
    CHECK(out && strstr(out, "[...]"));
    CHECK(out && strncmp(out, "worker 0 is", 11) == 0); /* the log level is stripped */
    free(out);

    memset(text, 'a', 5000);
    memcpy(text, "error: ", 7);
    text[5000] = '\0';
    out = redact(text, NULL, 0);
    CHECK(out && strlen(out) < 320 && strstr(out, "[...]"));
    free(out);
    free(text);

    out = redact("", NULL, 0);
    CHECK_STR(out, "");
    free(out);
}

int main(void)
{
    test_placeholders();
    test_secrets();
    test_known_values();
    test_size();
    return check_report("test_redact");
}
