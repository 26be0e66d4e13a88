/*
 * test_sig_code.c - the anchored regex signatures' stored code (signature.code, schema 9)
 * decodes to the code compiling the pattern gives: for every regex signature of the database
 * given, the code kb_db_sig_regex makes from the stored block serialises to the same bytes as
 * a fresh pcre2_compile of its pattern (but for the mark of a decoded code), so the block was
 * decoded, not compiled, to the same code. A block that is damaged (its size field, or cut
 * short) is compiled from the pattern instead.
 *
 *   test_sig_code KB_DB
 */
#include <pcre2.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kb_internal.h"
#include "kb_schema.h"
#include "kb_text.h"

/* How re's serialisation differs from pattern's freshly compiled: 0 not at all, 1 only by
 * the bit PCRE2 sets in a code it decoded (PCRE2_DEREF_TABLES: it owns its copy of the
 * tables), -1 otherwise. So 1 says "decoded", 0 "compiled", both "the same code". */
static int code_differs(const pcre2_code *re, const char *pattern)
{
    int errcode, result = -1;
    PCRE2_SIZE erroff, n1 = 0, n2 = 0;
    uint8_t *b1 = NULL, *b2 = NULL;
    pcre2_code *fresh = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                      kb_signature_compile_options(), &errcode, &erroff, NULL);
    if (re && fresh && pcre2_serialize_encode(&re, 1, &b1, &n1, NULL) == 1
        && pcre2_serialize_encode((const pcre2_code **)&fresh, 1, &b2, &n2, NULL) == 1
        && n1 == n2) {
        size_t diff = 0, at = 0;
        for (size_t i = 0; i < n1; i++)
            if (b1[i] != b2[i]) {
                diff++;
                at = i;
            }
        result = diff == 0 ? 0 : diff == 1 && (b1[at] ^ b2[at]) == 0x04 ? 1 : -1;
    }
    if (b1)
        pcre2_serialize_free(b1);
    if (b2)
        pcre2_serialize_free(b2);
    pcre2_code_free(fresh);
    return result;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_sig_code KB_DB\n");
        return 2;
    }
    struct kb_error err;
    struct kb_db *db = NULL, *damaged = NULL;
    CHECK(kb_db_open_file(argv[1], &db, &err) == KB_OK);
    CHECK(kb_db_open_file(argv[1], &damaged, &err) == KB_OK);
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_open_v2(argv[1], &sql, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(sql,
                             "SELECT id, pattern, code FROM signature WHERE kind = ?1 "
                             "AND anchor IS NOT NULL ORDER BY id",
                             -1, &st, NULL)
          == SQLITE_OK);
    sqlite3_bind_int(st, 1, KB_SIG_REGEX);
    size_t decoded = 0, mangled = 0;
    while (db && damaged && st && sqlite3_step(st) == SQLITE_ROW) {
        uint32_t id = (uint32_t)sqlite3_column_int64(st, 0);
        const char *pattern = (const char *)sqlite3_column_text(st, 1);
        const unsigned char *code = sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        CHECK(code != NULL && len > 0); /* kb-compile stores every one */
        pcre2_code *re = kb_db_sig_regex(db, id, pattern, code, len);
        CHECK(code_differs(re, pattern) == 1); /* decoded, the same code */
        if (!code || !len)
            continue;
        decoded++;
        /* damaged: every other one with its size field changed, the others cut short */
        unsigned char *copy = malloc(len);
        CHECK(copy != NULL);
        if (!copy)
            continue;
        memcpy(copy, code, len);
        size_t n = len;
        if (id % 2 && db->code_size_at + sizeof(size_t) <= len)
            copy[db->code_size_at] ^= 0x10; /* known once db decoded one */
        else
            n = len / 2;
        re = kb_db_sig_regex(damaged, id, pattern, copy, n);
        int how = code_differs(re, pattern);
        CHECK(how == 0); /* compiled */
        if (how)
            fprintf(stderr, "signature %u (%zu bytes, cut to %zu): %d\n", id, len, n, how);
        mangled++;
        free(copy);
    }
    CHECK(decoded > 0 && mangled == decoded);
    /* the stored code was usable here: the blocks were decoded (kb-compile and this test link
     * the same PCRE2) */
    CHECK(db && db->code_state == 1 && db->sig_gctx != NULL);
    sqlite3_finalize(st);
    sqlite3_close(sql);
    kb_db_close(db);
    kb_db_close(damaged);
    printf("%zu stored codes decoded, %zu damaged ones compiled instead\n", decoded, mangled);
    return check_report("test_sig_code");
}
