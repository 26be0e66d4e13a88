/*
 * kb_integrity.c - XXH64 and the page checksums of the database file; see kb_integrity.h for
 * what is checked where. Written from the published XXH64 specification.
 */
#include "kb_integrity.h"

#include <string.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* Little-endian loads; one instruction each on the machines we build for. */
static uint64_t read64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static uint64_t read32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static uint64_t round64(uint64_t acc, uint64_t input)
{
    acc += input * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

static uint64_t merge64(uint64_t acc, uint64_t val)
{
    acc ^= round64(0, val);
    return acc * P1 + P4;
}

uint64_t kb_xxh64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data, *end = p + len;
    uint64_t h;
    if (len >= 32) {
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        for (; end - p >= 32; p += 32) {
            v1 = round64(v1, read64(p));
            v2 = round64(v2, read64(p + 8));
            v3 = round64(v3, read64(p + 16));
            v4 = round64(v4, read64(p + 24));
        }
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = merge64(h, v1);
        h = merge64(h, v2);
        h = merge64(h, v3);
        h = merge64(h, v4);
    } else {
        h = seed + P5;
    }
    h += (uint64_t)len;
    for (; end - p >= 8; p += 8) {
        h ^= round64(0, read64(p));
        h = rotl(h, 27) * P1 + P4;
    }
    if (end - p >= 4) {
        h ^= read32(p) * P1;
        h = rotl(h, 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++) {
        h ^= *p * P5;
        h = rotl(h, 11) * P1;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

size_t kb_image_page_size(const unsigned char *h)
{
    size_t size = ((size_t)h[16] << 8) | h[17];
    if (size == 1)
        size = 65536;
    if (size < 512 || (size & (size - 1)))
        return 0;
    return size;
}

static uint64_t page_sum(const unsigned char *page, size_t page_size, uint64_t pgno)
{
    return kb_xxh64(page, page_size - KB_PAGE_RESERVE, pgno);
}

int kb_page_intact(const unsigned char *page, size_t page_size, uint64_t pgno)
{
    return read64(page + page_size - KB_PAGE_RESERVE) == page_sum(page, page_size, pgno);
}

enum kb_status kb_image_seal(unsigned char *image, size_t len)
{
    size_t page_size = len >= 100 ? kb_image_page_size(image) : 0;
    if (!page_size || image[20] != KB_PAGE_RESERVE || len % page_size)
        return KB_ERR_INVALID;
    for (size_t off = 0; off < len; off += page_size) {
        uint64_t sum = page_sum(image + off, page_size, off / page_size + 1);
        for (int i = 0; i < 8; i++)
            image[off + page_size - KB_PAGE_RESERVE + i] = (unsigned char)(sum >> (8 * i));
    }
    return KB_OK;
}
