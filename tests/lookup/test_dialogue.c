/*
 * test_dialogue.c - unit tests of the dialogue reader (kb_dialogue.c) on real transcripts:
 * the clients' outputs captured by the live bench (tests/live/captured, and the debug
 * transcripts in tests/lookup/dialogue) and pastes from public issue threads, each file naming
 * its source on its first lines ("# source: ..."), which are left out of what is read. Then
 * lone error lines, mail reading, and hostile input whose work is counted, never timed.
 *
 *   test_dialogue DIALOGUE_DIR CAPTURED_DIR
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb_internal.h"
#include "kb_text.h"

#define ANY -2 /* a field not checked */

static const char *dialogue_dir, *captured_dir;

/* The text of a data file without its leading "# source" lines; NULL when unreadable. */
static char *load(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        check_failures++;
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    size_t skip = 0;
    while (skip + 2 <= n && buf[skip] == '#' && buf[skip + 1] == ' ') {
        char *nl = memchr(buf + skip, '\n', n - skip);
        skip = nl ? (size_t)(nl - buf) + 1 : n;
    }
    memmove(buf, buf + skip, n - skip);
    *len = n - skip;
    return buf;
}

struct want {
    const char *format; /* NULL: no dialogue */
    int connected, greeting, ehlo, starttls_offered, tls, auth_offered, auth_before_tls;
    const char *mechanisms; /* "*": not checked */
    const char *last_command;
    int failing_reply;
    const char *failing_command;
    const char *ended;
    int port;
};

#define CHECK_TRI(name, got, want)                                                                 \
    do {                                                                                           \
        if ((want) != ANY && (got) != (want)) {                                                    \
            fprintf(stderr, "%s: %s is %d, expected %d\n", name, #got, got, want);                 \
            check_failures++;                                                                      \
        }                                                                                          \
        check_count++;                                                                             \
    } while (0)

#define CHECK_OPT(name, got, want)                                                                 \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        check_count++;                                                                             \
        if (!(w_ && strcmp(w_, "*") == 0) && (g_ ? !w_ || strcmp(g_, w_) != 0 : w_ != NULL)) {     \
            fprintf(stderr, "%s: %s is %s, expected %s\n", name, #got, g_ ? g_ : "NULL",           \
                    w_ ? w_ : "NULL");                                                             \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

static void check_dialogue(const char *name, const struct kb_dialogue *d, const struct want *w)
{
    CHECK_OPT(name, d->format, w->format);
    CHECK_TRI(name, d->connected, w->connected);
    CHECK_TRI(name, d->greeting, w->greeting);
    CHECK_TRI(name, d->ehlo, w->ehlo);
    CHECK_TRI(name, d->starttls_offered, w->starttls_offered);
    CHECK_TRI(name, d->tls, w->tls);
    CHECK_TRI(name, d->auth_offered, w->auth_offered);
    CHECK_TRI(name, d->auth_offered_before_tls, w->auth_before_tls);
    CHECK_OPT(name, d->auth_mechanisms, w->mechanisms);
    CHECK_OPT(name, d->last_command, w->last_command);
    CHECK_TRI(name, d->failing_reply, w->failing_reply);
    CHECK_OPT(name, d->failing_command, w->failing_command);
    CHECK_OPT(name, d->ended, w->ended);
    CHECK_TRI(name, d->port, w->port);
}

/* Reads text and checks what the reader made of it; returns the work it reported. */
static size_t read_text(const char *name, const char *text, size_t len, const struct want *w)
{
    struct kb_norm norm;
    struct kb_dialogue d;
    size_t work = 0;
    CHECK(kb_norm_run(text, len, &norm) == KB_OK);
    CHECK(kb_dialogue_read_counted(&norm, &d, &work) == KB_OK);
    if (w)
        check_dialogue(name, &d, w);
    kb_dialogue_release(&d);
    kb_norm_release(&norm);
    return work;
}

static void read_file(const char *dir, const char *name, const struct want *w)
{
    size_t len = 0;
    char *text = load(dir, name, &len);
    if (!text)
        return;
    read_text(name, text, len, w);
    free(text);
}

#define T(...) (&(struct want){__VA_ARGS__})

/* Transcripts the live bench captured (tests/live/captured; real client runs). */
static void test_bench_captures(void)
{
    /* AUTH only after STARTTLS: a client that did not start TLS never sees it */
    read_file(captured_dir, "auth-before-starttls--swaks.txt",
              T("swaks", 1, 1, 1, 1, 0, 0, 0, NULL, "QUIT", 0, NULL, "quit", 587));
    /* AUTH only after STARTTLS: curl started TLS and found it there */
    read_file(captured_dir, "wrong-password--curl.txt",
              T("curl", 1, 1, 1, 1, 1, 1, 0, "PLAIN LOGIN", "AUTH", 535, "AUTH", NULL, 587));
    /* no AUTH at all, before or after STARTTLS */
    read_file(captured_dir, "auth-not-offered--swaks.txt",
              T("swaks", 1, 1, 1, 1, 1, 0, 0, NULL, "QUIT", 0, NULL, "quit", 25));
    /* plain SMTP against implicit TLS: connected, no greeting, closed */
    read_file(captured_dir, "plaintext-to-465--swaks.txt",
              T("swaks", 1, 0, ANY, ANY, 0, ANY, ANY, NULL, NULL, 0, NULL, "closed", 465));
    read_file(captured_dir, "starttls-to-465--curl.txt",
              T("curl", 1, 0, ANY, ANY, 0, ANY, ANY, NULL, NULL, 0, NULL, "closed", 465));
    /* a failing RCPT */
    read_file(captured_dir, "relay-denied--swaks.txt",
              T("swaks", 1, 1, 1, 1, 0, 0, 0, NULL, "QUIT", 554, "RCPT", "quit", 25));
    read_file(captured_dir, "unknown-recipient--curl.txt",
              T("curl", 1, 1, 1, 1, 0, 0, 0, NULL, "QUIT", 550, "RCPT", "quit", 25));
    /* the server refuses at once: 421 instead of a greeting */
    read_file(captured_dir, "connection-rate--swaks.txt",
              T("swaks", 1, 0, ANY, ANY, ANY, ANY, ANY, NULL, "*", 421, "CONNECT", "*", 25));
    /* the size the server announced, and DATA refused */
    read_file(captured_dir, "size-limit--swaks.txt",
              T("swaks", 1, 1, 1, 1, 0, 0, 0, NULL, "QUIT", 552, "*", "quit", 25));
    /* no connection at all */
    read_file(captured_dir, "packets-dropped--swaks.txt",
              T("swaks", 0, ANY, ANY, ANY, ANY, ANY, ANY, NULL, NULL, 0, NULL, "timeout", 25));
    read_file(captured_dir, "port-refused--curl.txt",
              T("curl", 0, ANY, ANY, ANY, ANY, ANY, ANY, NULL, NULL, 0, NULL, NULL, 587));
    /* certificates: the handshake failed, no TLS */
    read_file(captured_dir, "cert-expired--swaks.txt",
              T("swaks", 1, ANY, ANY, ANY, 0, ANY, ANY, NULL, NULL, 0, NULL, "*", 465));
    /* clients that print no transcript: no dialogue */
    read_file(captured_dir, "plaintext-to-465--msmtp.txt",
              T(NULL, -1, -1, -1, -1, -1, -1, -1, NULL, NULL, 0, NULL, NULL, 0));
    read_file(captured_dir, "wrong-password--python.txt",
              T(NULL, -1, -1, -1, -1, -1, -1, -1, NULL, NULL, 0, NULL, NULL, 0));
}

/* Debug transcripts the live bench captured with --clients "msmtp-debug python-debug". */
static void test_debug_captures(void)
{
    read_file(dialogue_dir, "msmtp-debug-plaintext-to-465.txt",
              T("msmtp", 1, 0, ANY, ANY, ANY, ANY, ANY, NULL, NULL, 0, NULL, "*", ANY));
    read_file(dialogue_dir, "smtplib-debug-plaintext-to-465.txt",
              T("smtplib", 1, 0, ANY, ANY, ANY, ANY, ANY, NULL, NULL, 0, NULL, "closed", 465));
    read_file(dialogue_dir, "msmtp-debug-wrong-password.txt",
              T("msmtp", 1, 1, 1, 1, 1, 1, 0, "PLAIN LOGIN", "*", 535, "AUTH", "*", ANY));
    read_file(dialogue_dir, "smtplib-debug-wrong-password.txt",
              T("smtplib", 1, 1, 1, 1, 1, 1, 0, "PLAIN LOGIN", "*", 535, "AUTH", "*", 587));
    read_file(dialogue_dir, "msmtp-debug-auth-before-starttls.txt",
              T("msmtp", 1, 1, 1, 1, 0, 0, 0, NULL, "*", 0, NULL, "*", 587));
    read_file(dialogue_dir, "smtplib-debug-auth-before-starttls.txt",
              T("smtplib", 1, 1, 1, 1, 0, 0, 0, NULL, "EHLO", 0, NULL, NULL, 587));
}

/* Pastes from public issue threads (the source is on each file's first line). */
static void test_public_pastes(void)
{
    read_file(dialogue_dir, "phpmailer-folded.txt",
              T("phpmailer", 1, 1, 1, 0, -1, 1, 1, "PLAIN LOGIN", "DATA", 0, NULL, NULL, 0));
    read_file(dialogue_dir, "phpmailer-implicit-tls.txt",
              T("phpmailer", 1, 1, ANY, ANY, 1, ANY, ANY, NULL, "EHLO", 0, NULL, NULL, 465));
    read_file(dialogue_dir, "nodemailer-no-greeting.txt",
              T("nodemailer", 1, 0, ANY, ANY, ANY, ANY, ANY, NULL, NULL, 0, NULL, "timeout", 587));
    /* AUTH refused after STARTTLS, where the EHLO reply offered none */
    read_file(dialogue_dir, "nodemailer-auth-refused-after-starttls.txt",
              T("nodemailer", 1, 1, 1, 1, 1, 0, 0, NULL, "AUTH", 503, "AUTH", NULL, 25));
    read_file(dialogue_dir, "mailkit-starttls.txt",
              T("mailkit", 1, 1, 1, 1, 1, 1, 1, "NTLM LOGIN", "AUTH", 0, NULL, NULL, 25));
    read_file(dialogue_dir, "ruby-net-smtp.txt",
              T("ruby", 1, 1, 1, 1, 1, 1, 0, "LOGIN PLAIN XOAUTH", "AUTH", 535, "AUTH", NULL, 587));
    read_file(dialogue_dir, "javamail-slf4j.txt",
              T("javamail", 1, ANY, 1, ANY, ANY, 1, ANY, "*", NULL, 0, NULL, NULL, 587));
    read_file(dialogue_dir, "swaks-auth-before-starttls-530.txt",
              T("swaks", 1, 1, 1, 1, 0, 1, 1, "PLAIN LOGIN", "QUIT", 530, "AUTH", "quit", 25));
    read_file(dialogue_dir, "swaks-no-auth-after-tls.txt",
              T("swaks", 1, 1, 1, 1, 1, 0, 0, NULL, "QUIT", 0, NULL, "quit", 2525));
    read_file(
        dialogue_dir, "postfix-auth-failed.txt",
        T("postfix-log", 1, ANY, 1, ANY, ANY, ANY, ANY, NULL, "AUTH", 0, "AUTH", "closed", 0));
    read_file(dialogue_dir, "postfix-connect-only.txt",
              T("postfix-log", 1, ANY, ANY, ANY, 1, ANY, ANY, NULL, NULL, 0, NULL, "closed", 0));
    read_file(dialogue_dir, "exim-auth-unadvertised.txt",
              T("exim-log", 1, ANY, ANY, ANY, ANY, ANY, ANY, NULL, "AUTH", 0, "AUTH", NULL, 0));
    /* a logger's decoration ("[PROTOCOL] [id] [outbound] ") before the generic markers */
    read_file(dialogue_dir, "haraka-outbound-protocol.txt",
              T("generic", 1, 1, 1, 1, 1, 0, 0, NULL, "QUIT", 550, "DATA", "quit", ANY));
    /* a session typed by hand: telnet's banner, replies by their code, commands in any case */
    read_file(dialogue_dir, "telnet-auth-by-hand.txt",
              T("telnet", 1, 1, 1, 1, 0, 1, 1, "DIGEST-MD5 CRAM-MD5 LOGIN PLAIN", "QUIT", 0, NULL,
                "*", 587));
    /* mail reading is no SMTP dialogue */
    read_file(dialogue_dir, "pop3-hmailserver.txt",
              T(NULL, -1, -1, -1, -1, -1, -1, -1, NULL, NULL, 0, NULL, NULL, 0));
}

/* Transcripts as loggers and partial pastes give them. */
static void test_decorated_and_cut(void)
{
    /* smtplib at debuglevel 2 stamps every record with the time */
    const char *stamped = "14:33:51.540340 connect: to ('smtp.example.com', 587) None\n"
                          "14:33:51.612006 reply: b'220 smtp.example.com ESMTP\\r\\n'\n"
                          "14:33:51.612006 send: 'ehlo [127.0.1.1]\\r\\n'\n"
                          "14:33:51.700000 reply: b'250-smtp.example.com\\r\\n'\n"
                          "14:33:51.700000 reply: b'250 AUTH LOGIN\\r\\n'\n"
                          "14:33:51.800000 send: 'AUTH LOGIN dXNlcg==\\r\\n'\n"
                          "14:33:51.900000 reply: b'535 5.7.8 Authentication failed\\r\\n'\n";
    read_text("smtplib stamped", stamped, strlen(stamped),
              T("smtplib", 1, 1, 1, 0, ANY, 1, 1, "LOGIN", "AUTH", 535, "AUTH", NULL, 587));
    /* smtplib's debug output through a logger that makes each printed value a record (a task
     * queue's redirected stderr): the marker on one line, the quoted turn on the next; the
     * first record's decoration cut short */
    const char *split = "2023-07-20 17:03:06,261: WARNING/Worker-2] send:\n"
                        "[2023-07-20 17:03:06,262: WARNING/Worker-2] 'ehlo [127.0.0.1]\\r\\n'\n"
                        "[2023-07-20 17:03:06,317: WARNING/Worker-2] reply:\n"
                        "[2023-07-20 17:03:06,317: WARNING/Worker-2] b'421 4.7.0 Try again "
                        "later, closing connection. (EHLO)\\r\\n'\n"
                        "[2023-07-20 17:03:06,317: WARNING/Worker-2] reply: retcode (421); Msg: "
                        "b'4.7.0 Try again later, closing connection. (EHLO)'\n";
    read_text("smtplib split records", split, strlen(split),
              T("smtplib", 1, ANY, 0, ANY, ANY, ANY, ANY, NULL, "EHLO", 421, "EHLO", "*", ANY));
    /* a transcript pasted from the AUTH challenge on: the 535 answers AUTH, and nothing says
     * whether a greeting came */
    const char *cut = "[2022-11-16 11:57:21] DEBUG [a1] S: 334 UGFzc3dvcmQ6\n"
                      "[2022-11-16 11:57:21] DEBUG [a1] C: cGFzc3dvcmQ=\n"
                      "[2022-11-16 11:57:26] DEBUG [a1] S: 535 5.7.3 Authentication "
                      "unsuccessful\n";
    read_text("cut at AUTH", cut, strlen(cut),
              T("generic", 1, -1, ANY, ANY, ANY, ANY, ANY, NULL, "*", 535, "AUTH", "*", ANY));
    /* a webmail's log: time, session id, then a tag ("SMTP[DATA]:") before curl-like markers;
     * none of curl's own lines, so no curl (and no sign of TLS is no proof of none) */
    const char *tagged = "[00:45:15.199][6c2212be] SMTP[DATA]: > EHLO mail.example.com\\r\\n\n"
                         "[00:45:15.199][6c2212be] SMTP[DATA]: < 250-mail.example.com\\r\\n\n"
                         "[00:45:15.199][6c2212be] SMTP[DATA]: < 250-PIPELINING\\r\\n\n"
                         "[00:45:15.199][6c2212be] SMTP[DATA]: < 250 8BITMIME\\r\\n\n";
    read_text("tagged markers", tagged, strlen(tagged),
              T("generic", 1, ANY, 1, 0, -1, 0, 0, NULL, "EHLO", 0, NULL, "*", ANY));
    /* PHPMailer at SMTPDebug 1: the client's lines and its summary of the refusal only */
    const char *summary = "CLIENT -> SERVER: EHLO localhost\nCLIENT -> SERVER: AUTH LOGIN\n"
                          "SMTP ERROR: AUTH command failed: 502 5.5.2 Error: command not "
                          "recognized\nCLIENT -> SERVER: QUIT\n";
    read_text(
        "phpmailer summary", summary, strlen(summary),
        T("phpmailer", 1, ANY, ANY, ANY, ANY, ANY, ANY, NULL, "QUIT", 502, "AUTH", "quit", ANY));
    /* openssl s_client -starttls smtp, then commands typed by hand (lower case too) */
    const char *sclient = "CONNECTED(00000003)\ndepth=2 C = US, O = Example Trust, CN = Root\n"
                          "verify return:1\n---\nSSL handshake has read 4621 bytes\n---\n"
                          "ehlo me\n250-smtp.example.com at your service\n"
                          "250-AUTH LOGIN PLAIN XOAUTH2\n250 SMTPUTF8\nauth login\n"
                          "334 VXNlcm5hbWU6\ndXNlcg==\n334 UGFzc3dvcmQ6\ncGFzcw==\n"
                          "535-5.7.8 Username and Password not accepted.\n"
                          "535 5.7.8 https://support.example.com/answer/14257 - gsmtp\n";
    read_text("s_client by hand", sclient, strlen(sclient),
              T("telnet", 1, ANY, 1, ANY, ANY, 1, ANY, "LOGIN PLAIN XOAUTH2", "AUTH", 535, "AUTH",
                "*", ANY));
    /* a telnet session that hears nothing after connecting */
    const char *silent = "telnet smtp.example.com 465\nTrying 192.0.2.5...\n"
                         "Connected to smtp.example.com.\nEscape character is '^]'.\n"
                         "Connection closed by foreign host.\n";
    read_text("telnet silent", silent, strlen(silent),
              T("telnet", 1, 0, ANY, ANY, ANY, ANY, ANY, NULL, NULL, 0, NULL, "closed", 465));
    /* cut after MAIL FROM: the 250 answers a command not shown, the 550 after RCPT is RCPT's */
    const char *mid = "S: 250 2.1.0 Sender OK\nC: RCPT TO:<a@example.org>\n"
                      "S: 550 5.1.1 User unknown\n";
    read_text("cut after MAIL", mid, strlen(mid),
              T("generic", 1, -1, ANY, ANY, ANY, ANY, ANY, NULL, "RCPT", 550, "RCPT", "*", ANY));
}

/* Sessions pasted bare: no client's markers, no telnet banner; the server's lines start with
 * a code, the client's with a command. Named generic: nothing in them shows how TLS was made. */
static void test_bare_sessions(void)
{
    const char *refused = "220 smtp.example.com ESMTP Postfix\nEHLO client.example.net\n"
                          "250-smtp.example.com\n250-PIPELINING\n250-STARTTLS\n250 8BITMIME\n"
                          "AUTH LOGIN\n503 5.5.1 Error: authentication not enabled\nQUIT\n"
                          "221 2.0.0 Bye\n";
    read_text("bare AUTH refused", refused, strlen(refused),
              T("generic", 1, 1, 1, 1, 0, 0, 0, NULL, "QUIT", 503, "AUTH", "quit", ANY));
    /* HELO's reply lists no extensions: what the server offers stays unknown */
    const char *helo = "220 mx.example.com ESMTP\nHELO me\n250 mx.example.com\n"
                       "mail from:<a@example.com>\n250 2.1.0 Ok\nrcpt to:<b@example.org>\n"
                       "454 4.7.1 <b@example.org>: Relay access denied\n";
    read_text("bare HELO", helo, strlen(helo),
              T("generic", 1, 1, 1, -1, -1, -1, -1, NULL, "RCPT", 454, "RCPT", "*", ANY));
    /* cut after a command it does not show: its 502 is no greeting, and the failure that
     * answers a command shown is the one told */
    const char *cut = "502 5.5.2 Error: command not recognized\nEHLO example.com\n"
                      "250-mx.example.com\n250-STARTTLS\n250 8BITMIME\nAUTH LOGIN\n"
                      "503 5.5.1 Error: authentication not enabled\n";
    read_text("bare cut at 502", cut, strlen(cut),
              T("generic", 1, -1, 1, 1, 0, 0, 0, NULL, "AUTH", 503, "AUTH", "*", ANY));
    /* Exim's "250 OK id=..." is an SMTP reply, not an IMAP tag's OK */
    const char *exim = "220 mx.example.com ESMTP Exim 4.96\nEHLO me\n250-mx.example.com Hello\n"
                       "250 HELP\nMAIL FROM:<a@example.com>\n250 OK\nRCPT TO:<b@example.org>\n"
                       "250 Accepted\nDATA\n354 Enter message\n.\n250 OK id=1abcde-000123-AB\n"
                       "QUIT\n221 closing\n";
    read_text("bare Exim session", exim, strlen(exim),
              T("generic", 1, 1, 1, 0, -1, 0, 0, NULL, "QUIT", 0, NULL, "quit", ANY));
    /* lines set in bold or as code when the session was pasted into Markdown */
    const char *marked = "220 mail.example.com Microsoft ESMTP MAIL Service ready\n`ehlo me`\n"
                         "250-mail.example.com Hello\n250-STARTTLS\n**250-AUTH NTLM**\n"
                         "250 8BITMIME\n**auth login**\n334 VXNlcm5hbWU6\n";
    read_text("bare, marked up", marked, strlen(marked),
              T("generic", 1, 1, 1, 1, 0, 1, 1, "NTLM", "AUTH", 0, NULL, "*", ANY));
}

static void test_not_dialogues(void)
{
    const struct want *none = T(NULL, -1, -1, -1, -1, -1, -1, -1, NULL, NULL, 0, NULL, NULL, 0);
    static const char *const texts[] = {
        /* lone error lines */
        "smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted')",
        "*** Remote host closed connection unexpectedly.",
        "S: 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled",
        /* one command word before one reply: prose about an error, not a session */
        "HELO is rejected by our server:\n550 5.7.1 Helo command rejected: Host not found",
        "msmtp: network read error: the operation timed out",
        /* IMAP and POP3 with the generic markers */
        "S: * OK [CAPABILITY IMAP4rev1] Dovecot ready.\nC: a001 LOGIN user@example.com ***\n"
        "S: a001 NO [AUTHENTICATIONFAILED] Authentication failed.\nC: a002 LOGOUT\n",
        "S: +OK Dovecot ready.\nC: USER user@example.com\nS: +OK\nC: PASS ***\n"
        "S: -ERR [AUTH] Authentication failed.\n",
        "",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        read_text(texts[i], texts[i], strlen(texts[i]), none);
}

/* Hostile input: the work the reader reports stays linear, its memory bounded. The reader
 * counts every byte of a line once per pass and, for the cues it looks for, at most the first
 * 512 bytes of a line once per cue (about 90 cues): 256 work units per input byte at most. */
static void test_pathological(void)
{
    /* 100k lines of a reply that never ends, with AUTH on every line */
    const char head[] = "=== Trying mx.example.com:25...\n=== Connected to mx.example.com.\n"
                        "<-  220 mx.example.com ESMTP\n -> EHLO client\n";
    const char line[] = "<-  250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2\n";
    size_t n = 100000, hl = strlen(head), ll = strlen(line);
    size_t len = hl + n * ll;
    char *text = malloc(len);
    memcpy(text, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(text + hl + i * ll, line, ll);
    size_t work = read_text("100k AUTH lines", text, len,
                            T("swaks", 1, 1, 1, ANY, ANY, 1, ANY, "PLAIN LOGIN CRAM-MD5 XOAUTH2",
                              "EHLO", 0, NULL, NULL, 25));
    CHECK(work <= 256 * len);
    /* twice the input, at most about twice the work */
    size_t work_small = read_text("50k AUTH lines", text, hl + n / 2 * ll, NULL);
    CHECK(work <= 3 * work_small);
    free(text);

    /* one line of 1 MB: AUTH followed by a million mechanism-like bytes, after a transcript */
    size_t big = 1 << 20;
    len = hl + 20 + big + 1;
    text = malloc(len);
    memcpy(text, head, hl);
    memcpy(text + hl, "<-  250 AUTH PLAIN ", 19);
    memset(text + hl + 19, 'A', big + 1);
    text[len - 1] = '\n';
    work = read_text("1 MB line", text, len,
                     T("swaks", 1, 1, 1, ANY, ANY, 1, ANY, "PLAIN", "EHLO", 0, NULL, NULL, 25));
    CHECK(work <= 256 * len);
    /* a 1 MB line of nothing but spaces and markers */
    memset(text, ' ', len);
    memcpy(text, "*   Trying 10.0.0.1:465...\n", 27);
    work = read_text("1 MB of blanks", text, len, NULL);
    CHECK(work <= 256 * len);
    free(text);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_dialogue DIALOGUE_DIR CAPTURED_DIR\n");
        return 2;
    }
    dialogue_dir = argv[1];
    captured_dir = argv[2];
    test_bench_captures();
    test_debug_captures();
    test_public_pastes();
    test_decorated_and_cut();
    test_bare_sessions();
    test_not_dialogues();
    test_pathological();
    return check_report("test_dialogue");
}
