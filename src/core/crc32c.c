/*
 * crc32c.c - CRC-32C with a hardware path and a slicing-by-8 fallback
 * (see crc32c.h).
 *
 * The x86 path runs the crc32 instruction on three independent streams.
 * One stream is bound by the instruction's latency (3 cycles per 8 bytes);
 * three streams over three adjacent blocks keep the unit busy every cycle,
 * which triples the rate on the log's read path (every batch read is
 * checked, and recovery checks whole segments at open). The three CRCs are
 * then joined: the CRC register is linear, so the register after block A
 * followed by block B is zeros(A's register) ^ B's register started from
 * zero, where zeros() is the effect of feeding as many zero bytes as B
 * holds. zeros() for the two fixed block sizes is a 4 x 256 table each,
 * built once from the bytewise table. Inputs too short for a 3-block round
 * take the single stream.
 *
 * The choice of implementation is made once, on first use, and cached in
 * an atomic function pointer (a benign race: every thread computes the
 * same value).
 */
#include "core/crc32c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define CRC32C_HAVE_X86 1
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#define CRC32C_HAVE_ARM 1
#endif

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1)));
        table[0][i] = c;
    }
    for (int s = 1; s < 8; s++)
        for (int i = 0; i < 256; i++)
            table[s][i] = (table[s - 1][i] >> 8) ^ table[0][table[s - 1][i] & 0xFF];
}

uint32_t sl_crc32c_portable(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&table_once, table_build);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xFF];
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        uint32_t lo = (uint32_t)w ^ c, hi = (uint32_t)(w >> 32);
        c = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^
            table[4][lo >> 24] ^ table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^
            table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xFF];
    return ~c;
}

#if defined(CRC32C_HAVE_X86)
/* Block sizes of the three-stream rounds: long ones for batches, short
   ones for the tail of a buffer and for records-sized inputs. */
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256

/* zeros_long[k][b]: the register after LONG_BLOCK zero bytes fed from b << 8k. */
static uint32_t zeros_long[4][256], zeros_short[4][256];

/* The register after n zero bytes, bit by bit from the bytewise table. */
static uint32_t register_after_zeros(uint32_t c, size_t n)
{
    while (n--)
        c = (c >> 8) ^ table[0][c & 0xFF];
    return c;
}

static void zeros_table_build(uint32_t out[4][256], size_t n)
{
    uint32_t bit[32];
    for (int i = 0; i < 32; i++)
        bit[i] = register_after_zeros(UINT32_C(1) << i, n);
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int i = 0; i < 8; i++)
                if (b >> i & 1)
                    v ^= bit[8 * k + i];
            out[k][b] = v;
        }
}

static pthread_once_t zeros_once = PTHREAD_ONCE_INIT;

static void zeros_build(void)
{
    pthread_once(&table_once, table_build);
    zeros_table_build(zeros_long, LONG_BLOCK);
    zeros_table_build(zeros_short, SHORT_BLOCK);
}

static inline uint32_t zeros_apply(const uint32_t z[4][256], uint32_t c)
{
    return z[0][c & 0xFF] ^ z[1][(c >> 8) & 0xFF] ^ z[2][(c >> 16) & 0xFF] ^ z[3][c >> 24];
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Rounds of three blocks of `block` bytes each, while n holds one. */
__attribute__((target("sse4.2"))) static inline uint64_t
crc32c_x86_rounds(uint64_t c0, const uint8_t **pp, size_t *np, size_t block,
                  const uint32_t zeros[4][256])
{
    const uint8_t *p = *pp;
    size_t n = *np;
    while (n >= 3 * block) {
        uint64_t c1 = 0, c2 = 0;
        const uint8_t *end = p + block;
        do {
            c0 = _mm_crc32_u64(c0, load64(p));
            c1 = _mm_crc32_u64(c1, load64(p + block));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * block));
            p += 8;
        } while (p < end);
        c0 = zeros_apply(zeros, (uint32_t)c0) ^ c1;
        c0 = zeros_apply(zeros, (uint32_t)c0) ^ c2;
        p += 2 * block;
        n -= 3 * block;
    }
    *pp = p;
    *np = n;
    return c0;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_x86(uint32_t crc, const void *data,
                                                             size_t n)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    c = crc32c_x86_rounds(c, &p, &n, LONG_BLOCK, zeros_long);
    c = crc32c_x86_rounds(c, &p, &n, SHORT_BLOCK, zeros_short);
    while (n >= 8) {
        c = _mm_crc32_u64(c, load64(p));
        p += 8;
        n -= 8;
    }
    while (n--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
#endif

#if defined(CRC32C_HAVE_ARM)
__attribute__((target("+crc"))) static uint32_t crc32c_arm(uint32_t crc, const void *data,
                                                           size_t n)
{
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_aarch64_crc32cx(c, w);
        p += 8;
        n -= 8;
    }
    while (n--)
        c = __builtin_aarch64_crc32cb(c, *p++);
    return ~c;
}
#endif

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
static _Atomic(crc_fn) chosen;

static crc_fn crc_choose(void)
{
#if defined(CRC32C_HAVE_X86)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        pthread_once(&zeros_once, zeros_build);
        return crc32c_x86;
    }
#elif defined(CRC32C_HAVE_ARM)
    if (getauxval(AT_HWCAP) & HWCAP_CRC32)
        return crc32c_arm;
#endif
    return sl_crc32c_portable;
}

uint32_t sl_crc32c(uint32_t crc, const void *data, size_t n)
{
    crc_fn f = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (!f) {
        f = crc_choose();
        atomic_store_explicit(&chosen, f, memory_order_relaxed);
    }
    return f(crc, data, n);
}

int sl_crc32c_hardware(void)
{
    sl_crc32c(0, "", 0);
    return atomic_load(&chosen) != sl_crc32c_portable;
}
