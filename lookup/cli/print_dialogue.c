/*
 * print_dialogue.c - the SMTP dialogue read from the text (struct kb_dialogue), said in words
 * a support agent understands ("connected to port 465, no greeting from the server, then the
 * server closed the connection"), for the text and Markdown answers; and its fields under the
 * names the articles' conditions use, for --explain. Only formats what libkb returned.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Appends ", " (or nothing first) and the printf-formatted part to buf. */
static void part(char *buf, size_t size, const char *fmt, const char *a, long b)
{
    size_t len = strlen(buf);
    if (len + 3 >= size)
        return;
    if (len)
        len += (size_t)snprintf(buf + len, size - len, ", ");
    if (len < size)
        snprintf(buf + len, size - len, fmt, a ? a : "", b);
}

static const char *ending_words(const char *ended)
{
    if (!ended)
        return NULL;
    if (strcmp(ended, "quit") == 0)
        return "then the client ended the session (QUIT)";
    if (strcmp(ended, "timeout") == 0)
        return "then the connection timed out";
    if (strcmp(ended, "reset") == 0)
        return "then the connection was reset";
    if (strcmp(ended, "closed") == 0)
        return "then the server closed the connection";
    return NULL;
}

int cli_dialogue_sentence(const struct kb_dialogue *d, char *buf, size_t size)
{
    if (!d->format || size < 2)
        return 0;
    buf[0] = '\0';
    /* the connection */
    int attempt_timed_out = d->connected == 0 && d->ended && strcmp(d->ended, "timeout") == 0;
    if (attempt_timed_out)
        part(buf, size,
             d->port ? "the connection attempt to port %s%ld timed out"
                     : "the connection attempt timed out%s",
             "", d->port);
    else if (d->connected == 0)
        part(buf, size,
             d->port ? "the connection to port %s%ld could not be made"
                     : "the connection could not be made%s",
             "", d->port);
    else if (d->connected == 1)
        part(buf, size, d->port ? "connected to port %s%ld" : "connected%s", "", d->port);
    if (d->tls_failed == 1)
        part(buf, size, "the TLS handshake or the certificate check failed%s", "", 0);
    if (d->greeting == 0 && d->failing_command && strcmp(d->failing_command, "CONNECT") == 0)
        part(buf, size, "the server refused the session at once (%s%ld)", "", d->failing_reply);
    else if (d->greeting == 0 && d->tls_failed != 1)
        part(buf, size, "no greeting from the server%s", "", 0);
    /* what the EHLO replies offered */
    if (d->ehlo == 0)
        part(buf, size, "EHLO was refused%s", "", 0);
    if (d->starttls_offered == 0)
        part(buf, size, "the server did not offer STARTTLS%s", "", 0);
    int via_starttls = d->tls == 1 && d->starttls_offered == 1;
    if (via_starttls)
        part(buf, size, "TLS started with STARTTLS%s", "", 0);
    else if (d->tls == 0 && d->starttls_offered == 1)
        part(buf, size, "the client did not start TLS%s", "", 0);
    if (d->auth_offered_before_tls == 0 && d->auth_offered == 1 && via_starttls)
        part(buf, size, "the server offered AUTH only after STARTTLS%s", "", 0);
    else if (d->auth_offered_before_tls == 0 && d->starttls_offered == 1 && d->tls != 1)
        part(buf, size, "the server did not offer AUTH before STARTTLS%s", "", 0);
    else if (d->auth_offered == 0)
        part(buf, size,
             via_starttls ? "the server did not offer AUTH, even after STARTTLS%s"
                          : "the server did not offer AUTH%s",
             "", 0);
    else if (d->auth_offered == 1 && !(d->auth_offered_before_tls == 0 && via_starttls))
        part(buf, size, "the server offered AUTH%s", "", 0);
    if (d->auth_offered == 1 && d->auth_mechanisms) {
        size_t len = strlen(buf);
        if (len + 4 < size)
            snprintf(buf + len, size - len, " (%s)", d->auth_mechanisms);
    }
    /* what failed */
    if (d->failing_reply && d->failing_command && strcmp(d->failing_command, "CONNECT") != 0)
        part(buf, size, "%s was answered %ld", d->failing_command, d->failing_reply);
    else if (d->failing_reply && !d->failing_command)
        part(buf, size, "the first error reply was %s%ld", "", d->failing_reply);
    else if (!d->failing_reply && d->failing_command && strcmp(d->failing_command, "CONNECT") != 0)
        part(buf, size, "%s failed", d->failing_command, 0);
    const char *end = attempt_timed_out ? NULL : ending_words(d->ended);
    if (end)
        part(buf, size, "%s", end, 0);
    else if (d->last_command && !d->failing_reply)
        part(buf, size, "the last command was %s", d->last_command, 0);
    if (!buf[0])
        part(buf, size, "an SMTP dialogue with nothing conclusive in it%s", "", 0);
    return 1;
}

static const char *tri(int v)
{
    return v > 0 ? "yes" : v == 0 ? "no" : "unknown";
}

int cli_dialogue_fields(const struct kb_dialogue *d, char *buf, size_t size)
{
    if (!d->format)
        return snprintf(buf, size, "dialogue=none") > 0;
    return snprintf(buf, size,
                    "dialogue=%s connected=%s greeting=%s ehlo=%s starttls-offered=%s tls=%s "
                    "auth-offered=%s auth-offered-before-tls=%s last-command=%s "
                    "failing-command=%s failing-reply=%d ended=%s (also: port=%d tls-failed=%s)",
                    d->format, tri(d->connected), tri(d->greeting), tri(d->ehlo),
                    tri(d->starttls_offered), tri(d->tls), tri(d->auth_offered),
                    tri(d->auth_offered_before_tls), d->last_command ? d->last_command : "none",
                    d->failing_command ? d->failing_command : "none", d->failing_reply,
                    d->ended ? d->ended : "unknown", d->port, tri(d->tls_failed))
           > 0;
}
