/*
 * encoding.c - PLAIN helpers and the RLE / bit-packed hybrid (see encoding.h).
 */
#include "lake/parquet/encoding.h"

int sl_parquet_bit_width(uint64_t max)
{
    int w = 0;
    while (max) {
        w++;
        max >>= 1;
    }
    return w;
}

static void put_uvarint(sl_buf *out, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    sl_buf_append(out, tmp, n);
}

static void put_rle_run(sl_buf *out, size_t count, uint32_t value, int bw)
{
    put_uvarint(out, (uint64_t)count << 1);
    uint8_t t[4];
    int nbytes = (bw + 7) / 8;
    for (int i = 0; i < nbytes; i++)
        t[i] = (uint8_t)(value >> (8 * i));
    sl_buf_append(out, t, (size_t)nbytes);
}

/*
 * Bit-packed runs are capped at 63 groups (504 values) so the header is one
 * byte, as parquet-mr writes them; readers accept longer runs, but nothing
 * is gained by testing that.
 */
#define MAX_GROUPS_PER_RUN 63

#define DEFINE_PACKED(NAME, T)                                                    \
    static void NAME(sl_buf *out, const T *v, size_t n, int bw)                   \
    {                                                                             \
        while (n > 0) {                                                           \
            size_t take = n < MAX_GROUPS_PER_RUN * 8 ? n : MAX_GROUPS_PER_RUN * 8; \
            size_t groups = (take + 7) / 8;                                       \
            put_uvarint(out, (uint64_t)groups << 1 | 1);                          \
            sl_buf_reserve(out, groups * (size_t)bw);                             \
            uint8_t *o = (uint8_t *)out->data + out->len;                         \
            uint64_t acc = 0;                                                     \
            int nbits = 0;                                                        \
            for (size_t i = 0; i < groups * 8; i++) {                             \
                uint64_t x = i < take ? (uint64_t)v[i] : 0;                       \
                acc |= x << nbits;                                                \
                nbits += bw;                                                      \
                while (nbits >= 8) {                                              \
                    *o++ = (uint8_t)acc;                                          \
                    acc >>= 8;                                                    \
                    nbits -= 8;                                                   \
                }                                                                 \
            }                                                                     \
            out->len += groups * (size_t)bw;                                      \
            out->data[out->len] = '\0';                                           \
            v += take;                                                            \
            n -= take;                                                            \
        }                                                                         \
    }

DEFINE_PACKED(put_packed_u32, uint32_t)
DEFINE_PACKED(put_packed_u8, uint8_t)

#define DEFINE_RLE_ENCODE(NAME, T, PACKED)                                        \
    void NAME(const T *values, size_t n, int bw, sl_buf *out)                     \
    {                                                                             \
        size_t i = 0, lit_start = 0;                                              \
        while (i < n) {                                                           \
            T v = values[i];                                                      \
            size_t j = i + 1;                                                     \
            while (j < n && values[j] == v)                                       \
                j++;                                                              \
            size_t run = j - i;                                                   \
            if (run >= 8) {                                                       \
                size_t lit = i - lit_start;                                       \
                size_t pad = (8 - lit % 8) % 8;                                   \
                if (lit > 0 && pad > 0) {                                         \
                    /* complete the last group with values of this run */         \
                    lit += pad;                                                   \
                    run -= pad;                                                   \
                }                                                                 \
                if (lit > 0)                                                      \
                    PACKED(out, values + lit_start, lit, bw);                     \
                put_rle_run(out, run, (uint32_t)v, bw);                           \
                lit_start = j;                                                    \
            }                                                                     \
            i = j;                                                                \
        }                                                                         \
        if (n > lit_start)                                                        \
            PACKED(out, values + lit_start, n - lit_start, bw);                   \
    }

DEFINE_RLE_ENCODE(sl_parquet_rle_encode_u32, uint32_t, put_packed_u32)
DEFINE_RLE_ENCODE(sl_parquet_rle_encode_u8, uint8_t, put_packed_u8)

void sl_parquet_rle_decoder_init(sl_parquet_rle_decoder *d, const void *p, size_t n, int bit_width)
{
    memset(d, 0, sizeof *d);
    d->p = p;
    d->end = d->p + n;
    d->bit_width = bit_width;
}

/* Read the next run header; 0, or SL_ERR_CORRUPT at the end of input. */
static int next_run(sl_parquet_rle_decoder *d)
{
    for (;;) {
        uint64_t h = 0;
        int shift = 0;
        for (;;) {
            if (d->p >= d->end || shift > 28)
                return SL_ERR_CORRUPT;
            uint8_t b = *d->p++;
            h |= (uint64_t)(b & 0x7F) << shift;
            shift += 7;
            if (!(b & 0x80))
                break;
        }
        if (h > UINT32_MAX)
            return SL_ERR_CORRUPT;
        int bw = d->bit_width;
        if (h & 1) {
            uint64_t groups = h >> 1;
            uint64_t count = groups * 8;
            uint64_t bytes = groups * (uint64_t)bw;
            uint64_t avail = (uint64_t)(d->end - d->p);
            if (bytes > avail) {
                /* a truncated last run: keep the values that are there */
                bytes = avail;
                count = bytes * 8 / (uint64_t)bw;
            }
            if (count > UINT32_MAX)
                count = UINT32_MAX;
            d->packed = d->p;
            d->packed_bit = 0;
            d->packed_left = (uint32_t)count;
            d->p += bytes;
            if (count)
                return 0;
        } else {
            int nbytes = (bw + 7) / 8;
            if (d->end - d->p < nbytes)
                return SL_ERR_CORRUPT;
            uint32_t v = 0;
            for (int i = 0; i < nbytes; i++)
                v |= (uint32_t)d->p[i] << (8 * i);
            d->p += nbytes;
            d->rle_value = v;
            d->rle_left = (uint32_t)(h >> 1);
            if (d->rle_left)
                return 0;
        }
    }
}

static inline uint32_t unpack_one(sl_parquet_rle_decoder *d)
{
    int bw = d->bit_width;
    if (bw == 0)
        return 0;
    uint64_t bit = d->packed_bit;
    const uint8_t *q = d->packed + (bit >> 3);
    int shift = (int)(bit & 7);
    int need = (shift + bw + 7) / 8; /* bytes spanned, at most 5; all inside the run */
    uint64_t acc = 0;
    for (int i = 0; i < need; i++)
        acc |= (uint64_t)q[i] << (8 * i);
    d->packed_bit += (uint64_t)bw;
    return (uint32_t)((acc >> shift) & ((bw == 32) ? 0xFFFFFFFFu : ((1u << bw) - 1)));
}

int sl_parquet_rle_decoder_next(sl_parquet_rle_decoder *d, uint32_t *v)
{
    if (d->rle_left) {
        d->rle_left--;
        *v = d->rle_value;
        return 0;
    }
    if (!d->packed_left) {
        int rc = next_run(d);
        if (rc < 0)
            return rc;
        if (d->rle_left) {
            d->rle_left--;
            *v = d->rle_value;
            return 0;
        }
    }
    d->packed_left--;
    *v = unpack_one(d);
    return 0;
}

size_t sl_parquet_rle_decoder_batch(sl_parquet_rle_decoder *d, uint32_t *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        if (d->rle_left) {
            size_t k = SL_MIN((size_t)d->rle_left, n - got);
            for (size_t i = 0; i < k; i++)
                out[got + i] = d->rle_value;
            d->rle_left -= (uint32_t)k;
            got += k;
        } else if (d->packed_left) {
            size_t k = SL_MIN((size_t)d->packed_left, n - got);
            for (size_t i = 0; i < k; i++)
                out[got + i] = unpack_one(d);
            d->packed_left -= (uint32_t)k;
            got += k;
        } else if (next_run(d) < 0) {
            break;
        }
    }
    return got;
}

void sl_parquet_plain_encode_bools(const uint8_t *values, size_t n, sl_buf *out)
{
    size_t nbytes = (n + 7) / 8;
    sl_buf_reserve(out, nbytes);
    uint8_t *o = (uint8_t *)out->data + out->len;
    memset(o, 0, nbytes);
    for (size_t i = 0; i < n; i++)
        if (values[i])
            o[i >> 3] |= (uint8_t)(1u << (i & 7));
    out->len += nbytes;
    out->data[out->len] = '\0';
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

uint64_t sl_parquet_hash_bytes(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        h ^= load64(p) * 0x87c37b91114253d5ull;
        h = rotl64(h, 31) * 0x4cf5ad432745937full;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t t = 0;
        memcpy(&t, p, n);
        h ^= t * 0x87c37b91114253d5ull;
        h = rotl64(h, 31) * 0x4cf5ad432745937full;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}
