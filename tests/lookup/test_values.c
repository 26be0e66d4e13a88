/*
 * test_values.c - the customer's values (issue 17, item 1): host, port and user as each
 * language's mail library or each tool prints them when it cannot reach or log in to its
 * server (the strings are those of the libraries' sources and of real pastes), with the line
 * each came from; and what reads as a host but is none - source files, path components,
 * calls, class and package names, a DNS resolver - giving no host rather than a wrong one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb_internal.h"

struct value_case {
    const char *text;
    const char *host; /* NULL: no host */
    int port;         /* 0: none */
    const char *user;
    size_t host_line; /* 1-based normalised line of the host, when there is one */
};

static const struct value_case cases[] = {
    /* .NET: the SocketException's endpoint, not the file of the stack frame */
    {"System.Net.Mail.SmtpException: Failure sending mail. ---> System.Net.Sockets."
     "SocketException: A connection attempt failed because the connected party did not "
     "properly respond after a period of time 40.99.150.34:25\n"
     "   at Shop.Mailer.Send() in C:\\src\\Shop\\Mailer.cs:line 42",
     "40.99.150.34", 25, NULL, 1},
    {"   at Shop.Mailer.Send() in C:\\src\\Shop\\Mailer.cs:line 42\n"
     "System.Net.Mail.SmtpException: The operation has timed out.",
     NULL, 0, NULL, 0},
    /* Python: smtplib's file is no host; a tuple is an endpoint; the login() call's user */
    {"  File \"/usr/lib/python3.10/smtplib.py\", line 750, in login\n"
     "smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted')",
     NULL, 0, NULL, 0},
    {"connect: ('smtp.example.org', 587)\nConnectionRefusedError: [Errno 111] Connection refused",
     "smtp.example.org", 587, NULL, 1},
    {"    server.login('me@example.org', 'x')\nsmtplib.SMTPAuthenticationError: (535, b'bad')",
     NULL, 0, "me@example.org", 0},
    /* Java */
    {"com.sun.mail.util.MailConnectException: Couldn't connect to host, port: smtp.example.com, "
     "587; timeout -1\n\tat com.example.mail.Mailer.send(Mailer.java:88)",
     "smtp.example.com", 587, NULL, 1},
    {"javax.mail.MessagingException: Could not connect to SMTP host: mail.example.net, port: "
     "465;",
     "mail.example.net", 465, NULL, 1},
    {"\tat org.apache.commons.mail.Email.send(Email.java:1448)\n"
     "org.apache.commons.mail.EmailException: Sending the email failed",
     NULL, 0, NULL, 0},
    /* Node */
    {"Error: connect ECONNREFUSED 127.0.0.1:587\n    at TCPConnectWrap.afterConnect "
     "[as oncomplete] (node:net:1494:16)",
     "127.0.0.1", 587, NULL, 1},
    {"Error: connect ECONNREFUSED ::1:587", "::1", 587, NULL, 1},
    {"Error: Invalid login: 535 Authentication failed\n    at SMTPConnection._formatError "
     "(/app/node_modules/nodemailer/lib/smtp-connection/index.js:787:19)",
     NULL, 0, NULL, 0},
    /* Go: the resolver after "on" is not the server */
    {"dial tcp: lookup smtp.example.com on 127.0.0.53:53: no such host", "smtp.example.com", 0,
     NULL, 1},
    {"dial tcp 10.0.0.7:2525: connect: connection refused", "10.0.0.7", 2525, NULL, 1},
    {"dial tcp :25: connectex: No connection could be made", NULL, 25, NULL, 0},
    /* PHP */
    {"Connection could not be established with host \"mailpit:1025\": stream_socket_client(): "
     "php_network_getaddresses: getaddrinfo for mailpit failed",
     "mailpit", 1025, NULL, 1},
    {"Warning: mail(): Failed to connect to mailserver at \"localhost\" port 25, verify your "
     "\"SMTP\" and \"smtp_port\" setting in php.ini",
     "localhost", 25, NULL, 1},
    {"2024-05-14 09:31:07 Connection: opening to smtp.example.com:587, timeout=300",
     "smtp.example.com", 587, NULL, 1},
    /* Ruby */
    {"Errno::ECONNREFUSED: Connection refused - connect(2) for \"smtp.example.org\" port 2525\n"
     "  /usr/lib/ruby/3.0.0/net/smtp.rb:663:in `initialize'",
     "smtp.example.org", 2525, NULL, 1},
    {"  /usr/lib/ruby/3.0.0/net/smtp.rb:663:in `initialize'\nNet::OpenTimeout: execution expired",
     NULL, 0, NULL, 0},
    /* tools and MTAs */
    {"=== Trying mx.example.net:25...\n*** Error connecting to mx.example.net:25:",
     "mx.example.net", 25, NULL, 1},
    {"* Connected to smtp.example.com (192.0.2.7) port 587 (#0)", "smtp.example.com", 587, NULL, 1},
    {"postfix/smtp[1436]: connect to mail.example.com[192.0.2.1]:25: Connection timed out",
     "mail.example.com", 25, NULL, 1},
    {"Aug 13 host=smtp.example.com tls=on auth=on user=foo from=app@example.org smtpstatus=535",
     "smtp.example.com", 0, "foo", 1},
    /* the sender and a recipient are not the login */
    {"postfix/qmgr[1434]: 81571C2D: from=<root@example.com>, size=642, nrcpt=1", NULL, 0, NULL, 0},
    {"E-mail could not be sent to user 'someone@example.com'", NULL, 0, NULL, 0},
    /* names that are no hosts */
    {"in /var/www/app/Mail/Mailer.php on line 18: SMTP Error: Could not connect", NULL, 0, NULL, 0},
    {"MailService.send(order) failed: SMTP Error", NULL, 0, NULL, 0},
    {"2024-01-01 smtp error in index.js", NULL, 0, NULL, 0},
};

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct value_case *c = &cases[i];
        struct kb_norm n;
        struct kb_facts f;
        struct kb_fact_lines lines;
        CHECK(kb_norm_run(c->text, strlen(c->text), &n) == KB_OK);
        CHECK(kb_facts_extract_lines(&n, NULL, NULL, NULL, &f, &lines) == KB_OK);
        int ok = (c->host ? f.host && strcmp(f.host, c->host) == 0 : !f.host) && f.port == c->port
                 && (c->user ? f.user && strcmp(f.user, c->user) == 0 : !f.user)
                 && (!c->host || lines.host == c->host_line);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "case %zu: host %s (line %zu) port %d user %s, want %s %d %s\n", i,
                    f.host ? f.host : "-", lines.host, f.port, f.user ? f.user : "-",
                    c->host ? c->host : "-", c->port, c->user ? c->user : "-");
        kb_facts_release(&f);
        kb_norm_release(&n);
    }
    return check_report("test_values");
}
