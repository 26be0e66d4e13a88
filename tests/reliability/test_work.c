/*
 * test_work.c - the super-linear lookups of issue 19, counted instead of timed: for each shape
 * of paste that cost the square of its size, the bytes the matching stages examine
 * (kb_query_run_counted) at 256 KiB must be at most about four times those at 64 KiB, and at
 * most a fixed number per byte of input. The shapes are those of ../shared/findings:
 *   - "anonymous" on every line (the literal search re-read the window for the other case of
 *     the first letter at every step),
 *   - one SMTP reply repeated on one line, and the KB's own literal signatures joined on one
 *     line (the other-program test ran over the whole line once per hit),
 *   - nothing but line breaks (a normalised line each; and the bytes of heap a line holds),
 *   - a delivery report of many recipients, and an SMTP transcript repeated,
 * plus kb_literal_find alone on the first shape, and the normalised text of the last.
 *
 *   test_work DB
 */
#include <sqlite3.h>
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb_query.h"

/* Bytes of heap in use (glibc: the arenas and the mapped blocks), 0 where it cannot be told
 * (another C library, or a sanitizer's allocator, which glibc's count does not see). */
static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd > (1 << 20) ? mi.uordblks + mi.hblkhd : 0;
#else
    return 0;
#endif
}

/* unit repeated to exactly len bytes */
static char *repeat(const char *unit, size_t unit_len, size_t len)
{
    char *p = malloc(len + 1);
    for (size_t i = 0; p && i < len; i++)
        p[i] = unit[i % unit_len];
    if (p)
        p[len] = '\0';
    return p;
}

static struct kb_work work_of(struct kb_db *db, const char *unit, size_t unit_len, size_t len)
{
    char *text = repeat(unit, unit_len, len);
    struct kb_result *r = NULL;
    struct kb_error err = {KB_OK, ""};
    struct kb_work work = {0, 0, 0, 0};
    CHECK(text != NULL);
    if (text)
        CHECK(kb_query_run_counted(db, text, len, NULL, &r, &err, &work) == KB_OK);
    kb_result_free(r);
    free(text);
    return work;
}

/* Work must grow linearly: x4 the input, at most x4.5 the work (plus a constant for what any
 * lookup does), and at most per_byte bytes examined by signatures per input byte (it grows
 * with the number of signatures the text holds the anchors of). The test for another
 * program's words reads each byte at most once, whatever the hits (plus the margin a match
 * may reach into the next block). */
static void check_linear(struct kb_db *db, const char *name, const char *unit, size_t unit_len,
                         size_t per_byte)
{
    size_t small = 64 * 1024, large = 256 * 1024;
    struct kb_work a = work_of(db, unit, unit_len, small), b = work_of(db, unit, unit_len, large);
    printf("%-32s signatures %zu at 64 KiB, %zu at 256 KiB (%.2f per byte); other program "
           "%zu (%.2f per byte)\n",
           name, a.signatures, b.signatures, (double)b.signatures / (double)large, b.other,
           (double)b.other / (double)large);
    CHECK(b.signatures <= a.signatures * 9 / 2 + 64 * 1024);
    CHECK(b.signatures <= per_byte * large);
    CHECK(b.other <= large * 5 / 4 + 8192);
}

/* The KB's literal signatures joined by spaces, the shape of paste-mail-literals-one-line. */
static char *kb_literals(const char *path, size_t *len)
{
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    struct kb_buf out;
    kb_buf_init(&out, 0);
    char *uri = sqlite3_mprintf("file:%s?immutable=1", path);
    if (uri && sqlite3_open_v2(uri, &sql, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(sql,
                              "SELECT source FROM signature WHERE kind = 0 AND origin = '' "
                              "ORDER BY id LIMIT 300",
                              -1, &st, NULL)
               == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW)
            kb_buf_printf(&out, "%s ", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(sql);
    sqlite3_free(uri);
    char *text = NULL;
    *len = out.len;
    kb_buf_detach(&out, &text);
    kb_buf_release(&out);
    return text;
}

/* An application log of len bytes as issue 17 measured it: ordinary lines (ISO timestamps,
 * levels, pids, hex request ids, paths with numbers, durations), every one different, and one
 * Gmail 535 line in the middle. Deterministic. Sets *lines to its line count. */
static char *app_log(size_t len, size_t *lines)
{
    static const char *const levels[] = {"INFO", "DEBUG", "WARN"};
    static const char *const parts[] = {"web", "worker", "cron"};
    static const char error[] =
        "2024-05-14T09:31:07.442Z ERROR [mailer] pid=4242 smtplib.SMTPAuthenticationError: "
        "(535, b'5.7.8 Username and Password not accepted. For more information, go to 5.7.8  "
        "https://support.google.com/mail/?p=BadCredentials a640c23a62f3a-a9e5f1b2c3d4.12 - "
        "gsmtp')\n";
    struct kb_buf b;
    kb_buf_init(&b, 0);
    uint64_t x = 88172645463325252ULL;
    int placed = 0;
    *lines = 0;
    while (b.len < len) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (!placed && b.len >= len / 2) {
            kb_buf_append_str(&b, error);
            placed = 1;
        } else {
            kb_buf_printf(&b,
                          "2024-05-14T%02u:%02u:%02u.%03uZ %s [%s] pid=%u req=%016llx "
                          "/var/app/releases/%u/lib/worker_%u.rb:%u handled job %08x in %u ms\n",
                          (unsigned)(x % 24), (unsigned)(x >> 8) % 60, (unsigned)(x >> 16) % 60,
                          (unsigned)(x >> 24) % 1000, levels[x % 3], parts[(x >> 4) % 3],
                          (unsigned)(x >> 32) % 99999 + 1, (unsigned long long)x,
                          (unsigned)(x >> 12) % 9000 + 1000, (unsigned)(x >> 20) % 100,
                          (unsigned)(x >> 28) % 900 + 1, (unsigned)(x >> 3),
                          (unsigned)(x >> 40) % 5000 + 1);
        }
        ++*lines;
    }
    char *text = NULL;
    kb_buf_detach(&b, &text);
    kb_buf_release(&b);
    return text;
}

/* Issue 17: the application log's work counted per input line, at 64 KiB and 1 MiB: windows'
 * bytes and regex calls per line bounded by constants, the same at both sizes within a
 * margin (a stage that re-read the text per line, or per hit, would make it grow with the
 * size), and the one error line answered at both. */
static void check_app_log(struct kb_db *db)
{
    double per_line[2][2];
    size_t sizes[2] = {64 * 1024, 1024 * 1024};
    for (int k = 0; k < 2; k++) {
        size_t lines = 0;
        char *text = app_log(sizes[k], &lines);
        struct kb_result *r = NULL;
        struct kb_error err = {KB_OK, ""};
        struct kb_work work = {0, 0, 0, 0};
        CHECK(text != NULL);
        if (!text)
            return;
        CHECK(kb_query_run_counted(db, text, strlen(text), NULL, &r, &err, &work) == KB_OK);
        CHECK(r && r->match_count > 0 && r->facts.reply_code == 535);
        per_line[k][0] = (double)work.signatures / (double)lines;
        per_line[k][1] = (double)work.regex_calls / (double)lines;
        printf("application log, %zu bytes, %zu lines: %.2f bytes in windows, %.3f regex calls, "
               "%.2f bytes tested for other programs per line\n",
               strlen(text), lines, per_line[k][0], per_line[k][1],
               (double)work.other / (double)lines);
        CHECK(per_line[k][0] <= 2048);
        CHECK(per_line[k][1] <= 8);
        CHECK(work.other <= strlen(text) * 5 / 4 + 8192);
        kb_result_free(r);
        free(text);
    }
    /* 16 times the lines: the work per line stays (a little slack for the error's windows,
     * which weigh more in the smaller log) */
    CHECK(per_line[1][0] <= per_line[0][0] * 1.25 + 1);
    CHECK(per_line[1][1] <= per_line[0][1] * 1.25 + 0.01);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: test_work DB\n", stderr);
        return 2;
    }
    struct kb_db *db = NULL;
    struct kb_error err = {KB_OK, ""};
    if (kb_db_open_file(argv[1], &db, &err) != KB_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 2;
    }
    static const char anonymous[] = "anonymous\n";
    static const char reply[] = "535 5.7.139 Authentication unsuccessful ";
    check_linear(db, "anonymous lines", anonymous, sizeof anonymous - 1, 64);
    check_linear(db, "one 535 reply line", reply, sizeof reply - 1, 64);
    check_linear(db, "line breaks", "\n", 1, 8);
    /* A report of many recipients: the signatures read its evidence, where the report's own
     * fields are blanked, and a literal compared at every occurrence of its anchor in a blank
     * crossed the whole blank run backwards each time (the square of the report's size). */
    static const char report[] = "Final-Recipient: rfc822; a@example.com\nAction: failed\n"
                                 "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n\n";
    check_linear(db, "a report of many recipients", report, sizeof report - 1, 64);
    /* An SMTP transcript repeated, line by line (the dialogue reader and the signatures) */
    static const char transcript[] = "S: 220 mx.example.com ESMTP\nC: EHLO x\nS: 250-AUTH LOGIN "
                                     "PLAIN\nS: 250 STARTTLS\nC: AUTH LOGIN\nS: 535 5.7.8 bad\n";
    check_linear(db, "a transcript repeated", transcript, sizeof transcript - 1, 64);
    check_app_log(db);
    size_t lit_len = 0;
    char *literals = kb_literals(argv[1], &lit_len);
    CHECK(literals && lit_len > 1000);
    if (literals && lit_len)
        check_linear(db, "the KB's literals on one line", literals, lit_len, 256);
    free(literals);

    /* kb_literal_find alone: "Anonymous" (capital, absent) in "anonymous\n" lines */
    for (size_t size = 64 * 1024, prev = 0; size <= 256 * 1024; size *= 4) {
        char *text = repeat(anonymous, sizeof anonymous - 1, size);
        size_t work = 0, at;
        CHECK(!kb_literal_find("Anonymous x", 11, text, 0, size, &at, &work));
        printf("kb_literal_find over %zu bytes: %zu bytes examined\n", size, work);
        CHECK(work <= 4 * size);
        if (prev)
            CHECK(work <= prev * 9 / 2);
        prev = work;
        free(text);
    }

    /* 1 MiB of line breaks: an empty normalised line each (windows of lines around an anchor
     * count them, as before), and no more text than the input */
    char *breaks = repeat("\n", 1, 1 << 20);
    struct kb_norm norm;
    CHECK(kb_norm_run(breaks, 1 << 20, &norm) == KB_OK);
    CHECK(norm.line_count <= (1 << 20) + 1 && norm.len <= 1 << 20
          && norm.orig_line_count == 1 << 20);
    kb_norm_release(&norm);

    /* ... and as a query reads them (the bounce reader, then normalisation over its text and
     * line index): the per-line arrays held after both, counted in bytes a line. They were 8
     * bytes an entry and the line index was built twice (about 43 bytes a line in all, 22 now); the
     * page faults of filling them were half the time of such a paste. */
    size_t held = heap_in_use();
    struct kb_report reported;
    struct kb_bounce bounce;
    CHECK(kb_bounce_read(breaks, 1 << 20, &reported, &bounce) == KB_OK);
    CHECK(kb_norm_run_lines(bounce.mime.text, bounce.mime.len, bounce.mime.line_start,
                            bounce.mime.line_count, &norm)
          == KB_OK);
    if (held) {
        size_t per_line = (heap_in_use() - held) / (1 << 20);
        printf("1 MiB of line breaks read and normalised: %zu bytes held a line\n", per_line);
        CHECK(per_line <= 26);
    }
    kb_norm_release(&norm);
    kb_bounce_release(&bounce);
    kb_report_release(&reported);
    free(breaks);

    kb_db_close(db);
    return check_report("test_work");
}
