/*
 * test_crc32c.c - CRC-32C against the RFC 3720 (iSCSI) test patterns and a
 * bytewise reference over random lengths and alignments, for both the
 * dispatched (hardware when present) and the table implementation; long
 * inputs cover the three-stream rounds of the hardware path and the
 * joins between their blocks (8 KiB and 256-byte blocks, three at a time).
 */
#include "core/crc32c.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* The textbook bit-at-a-time definition: the independent reference. */
static uint32_t crc_reference(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

Test(crc32c, rfc3720_vectors)
{
    uint8_t buf[48];
    memset(buf, 0, 32);
    cr_assert_eq(sl_crc32c(0, buf, 32), 0x8A9136AAu);
    cr_assert_eq(sl_crc32c_portable(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xFF, 32);
    cr_assert_eq(sl_crc32c(0, buf, 32), 0x62A8AB43u);
    cr_assert_eq(sl_crc32c_portable(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    cr_assert_eq(sl_crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    cr_assert_eq(sl_crc32c(0, buf, 32), 0x113FDB5Cu);
    cr_assert_eq(sl_crc32c(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(sl_crc32c_portable(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(sl_crc32c(0, "", 0), 0);
}

Test(crc32c, random_lengths_alignments_and_pieces)
{
    enum { MAX = 4096 + 64 };
    uint8_t *buf = malloc(MAX);
    srand(12345);
    for (int i = 0; i < MAX; i++)
        buf[i] = (uint8_t)rand();
    for (int iter = 0; iter < 3000; iter++) {
        size_t off = (size_t)(rand() % 16);
        size_t len = (size_t)(iter < 100 ? iter : rand() % 4096);
        uint32_t want = crc_reference(buf + off, len);
        cr_assert_eq(sl_crc32c(0, buf + off, len), want, "len %zu off %zu", len, off);
        cr_assert_eq(sl_crc32c_portable(0, buf + off, len), want, "len %zu off %zu", len, off);
        size_t cut = len ? (size_t)rand() % len : 0;
        uint32_t piece = sl_crc32c(sl_crc32c(0, buf + off, cut), buf + off + cut, len - cut);
        cr_assert_eq(piece, want);
    }
    free(buf);
    cr_log_info("crc32c hardware: %d", sl_crc32c_hardware());
}

/* Lengths around the three-stream round sizes (3 x 256 and 3 x 8192) and
   their multiples, at every alignment, and random long inputs in pieces. */
Test(crc32c, three_stream_rounds_and_joins)
{
    enum { MAX = (1 << 20) + 64 };
    uint8_t *buf = malloc(MAX);
    srand(777);
    for (int i = 0; i < MAX; i++)
        buf[i] = (uint8_t)rand();
    static const size_t around[] = { 3 * 256, 3 * 8192, 2 * 3 * 8192, 3 * 8192 + 3 * 256 };
    for (size_t a = 0; a < sizeof around / sizeof around[0]; a++)
        for (size_t d = 0; d < 24; d++)
            for (size_t off = 0; off < 9; off++) {
                size_t len = around[a] + d - 12;
                uint32_t want = crc_reference(buf + off, len);
                cr_assert_eq(sl_crc32c(0, buf + off, len), want, "len %zu off %zu", len, off);
                cr_assert_eq(sl_crc32c_portable(0, buf + off, len), want, "len %zu off %zu",
                             len, off);
            }
    for (int iter = 0; iter < 40; iter++) {
        size_t off = (size_t)(rand() % 16);
        size_t len = (size_t)rand() % (MAX - 16);
        uint32_t want = sl_crc32c_portable(0, buf + off, len);
        cr_assert_eq(sl_crc32c(0, buf + off, len), want, "len %zu off %zu", len, off);
        size_t cut = len ? (size_t)rand() % len : 0;
        cr_assert_eq(sl_crc32c(sl_crc32c(0, buf + off, cut), buf + off + cut, len - cut), want);
    }
    /* A whole MiB against the bit-at-a-time definition, once. */
    cr_assert_eq(sl_crc32c(0, buf, 1 << 20), crc_reference(buf, 1 << 20));
    free(buf);
}
