/*
 * crc32c.c - CRC-32C with a hardware path and a slicing-by-8 fallback
 * (see crc32c.h).
 *
 * The hardware path feeds 8 bytes per instruction; that is a few GB/s on
 * one core, far above what the log writes, so the simpler single stream is
 * kept instead of three interleaved streams and a combine step. The choice
 * of implementation is made once, on first use, and cached in an atomic
 * function pointer (a benign race: every thread computes the same value).
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
__attribute__((target("sse4.2"))) static uint32_t crc32c_x86(uint32_t crc, const void *data,
                                                             size_t n)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    while (n >= 32) {
        uint64_t w[4];
        memcpy(w, p, 32);
        c = _mm_crc32_u64(c, w[0]);
        c = _mm_crc32_u64(c, w[1]);
        c = _mm_crc32_u64(c, w[2]);
        c = _mm_crc32_u64(c, w[3]);
        p += 32;
        n -= 32;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
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
    if (__builtin_cpu_supports("sse4.2"))
        return crc32c_x86;
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
