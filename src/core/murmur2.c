/*
 * murmur2.c - Kafka's murmur2 (see murmur2.h). A transcription of the
 * algorithm in Kafka's Utils.murmur2: 4-byte little-endian blocks, a
 * fall-through tail, and the final avalanche. Unsigned arithmetic gives
 * Java's wrapping int multiplication and >>> shifts.
 */
#include "core/murmur2.h"

uint32_t sl_murmur2(const void *key, size_t n)
{
    const uint8_t *data = key;
    const uint32_t m = 0x5bd1e995u;
    const int r = 24;
    uint32_t h = 0x9747b28cu ^ (uint32_t)n;
    size_t blocks = n / 4;

    for (size_t i = 0; i < blocks; i++) {
        const uint8_t *b = data + i * 4;
        uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *tail = data + (n & ~(size_t)3);
    switch (n % 4) {
    case 3:
        h ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        h ^= tail[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t sl_murmur2_partition(const void *key, size_t n, int32_t partitions)
{
    return (int32_t)((sl_murmur2(key, n) & 0x7fffffffu) % (uint32_t)partitions);
}
