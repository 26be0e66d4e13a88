/*
 * test_sha256.c - unit test of compiler/sha256.c against the FIPS 180-4 / NIST vectors,
 * including input fed in uneven pieces and a message that crosses the padding boundary.
 */
#include <stdio.h>
#include <string.h>

#include "kbc.h"

static int check(const char *label, const char *data, size_t len, size_t piece, const char *want)
{
    struct kbc_sha256 ctx;
    unsigned char digest[32];
    char hex[65];
    kbc_sha256_init(&ctx);
    for (size_t off = 0; off < len; off += piece)
        kbc_sha256_update(&ctx, data + off, len - off < piece ? len - off : piece);
    kbc_sha256_final(&ctx, digest);
    kbc_sha256_hex(digest, hex);
    if (strcmp(hex, want) != 0) {
        fprintf(stderr, "FAIL %s (pieces of %zu): got %s, want %s\n", label, piece, hex, want);
        return 1;
    }
    return 0;
}

int main(void)
{
    static char million[1000000];
    memset(million, 'a', sizeof million);
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    int failed = 0;
    for (size_t piece = 1; piece <= 64; piece *= 4) {
        failed += check("empty", "", 0, piece,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        failed += check("abc", "abc", 3, piece,
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        failed += check("448 bits", two_blocks, strlen(two_blocks), piece,
                        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    failed += check("a million a", million, sizeof million, 4096,
                    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    if (!failed)
        printf("sha256: all vectors pass\n");
    return failed ? 1 : 0;
}
