/*
 * encoding.h - Parquet's value encodings: PLAIN, and the RLE / bit-packed
 * hybrid that carries definition levels and dictionary indices.
 *
 * The hybrid is a sequence of runs, each introduced by a ULEB128 header:
 *
 *   header & 1 == 0   RLE run:        count = header >> 1, then the repeated
 *                                     value in ceil(bit_width / 8) bytes LE
 *   header & 1 == 1   bit-packed run: groups = header >> 1, then groups * 8
 *                                     values packed LSB first, bit_width bits
 *                                     each (groups * bit_width bytes)
 *
 * The encoder uses an RLE run for 8 or more equal values and bit-packs the
 * rest, padding the bit-packed stretch before an RLE run with values taken
 * from that run so every bit-packed run but the last holds whole groups of 8.
 * The decoder streams (no allocation, one value or a batch at a time) and
 * checks every byte against the end of its input.
 *
 * PLAIN is little-endian fixed width for numbers, 4-byte length + bytes for
 * BYTE_ARRAY, and LSB-first bits for BOOLEAN.
 */
#ifndef SL_PARQUET_ENCODING_H
#define SL_PARQUET_ENCODING_H

#include "core/buf.h"
#include "core/common.h"

/* Bits needed to represent max (0 for 0). */
int sl_parquet_bit_width(uint64_t max);

/* Append the hybrid encoding of values[0..n) with bit_width (0..32) to out. */
void sl_parquet_rle_encode_u32(const uint32_t *values, size_t n, int bit_width, sl_buf *out);
void sl_parquet_rle_encode_u8(const uint8_t *values, size_t n, int bit_width, sl_buf *out);

typedef struct sl_parquet_rle_decoder {
    const uint8_t *p, *end;
    int bit_width;
    uint32_t rle_left;      /* values left in the current RLE run */
    uint32_t rle_value;
    uint32_t packed_left;   /* values left in the current bit-packed run */
    const uint8_t *packed;  /* start of the current bit-packed run's bytes */
    uint64_t packed_bit;    /* bit offset of the next packed value */
} sl_parquet_rle_decoder;

/* bit_width must be 0..32 (the caller checks what it read from a file). */
void sl_parquet_rle_decoder_init(sl_parquet_rle_decoder *d, const void *p, size_t n, int bit_width);
/* Next value: 0, or SL_ERR_CORRUPT when the input ends or is malformed. */
int sl_parquet_rle_decoder_next(sl_parquet_rle_decoder *d, uint32_t *v);
/* Up to n values into out; returns how many (fewer only at the end of input). */
size_t sl_parquet_rle_decoder_batch(sl_parquet_rle_decoder *d, uint32_t *out, size_t n);

/* Little-endian helpers for PLAIN. */
static inline void sl_parquet_put_le32(sl_buf *b, uint32_t v)
{
    uint8_t t[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    sl_buf_append(b, t, 4);
}

static inline void sl_parquet_put_le64(sl_buf *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    sl_buf_append(b, t, 8);
}

static inline uint32_t sl_parquet_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t sl_parquet_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* PLAIN booleans: values[0..n) as 0/1 bytes, packed LSB first. */
void sl_parquet_plain_encode_bools(const uint8_t *values, size_t n, sl_buf *out);

/* Equality of two n-byte strings, without a call for the short keys and values events carry. */
static inline bool sl_parquet_bytes_eq(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    if (n >= 8 && n <= 16) {
        uint64_t a0, b0, a1, b1;
        memcpy(&a0, x, 8);
        memcpy(&b0, y, 8);
        memcpy(&a1, x + n - 8, 8);
        memcpy(&b1, y + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t a0, b0, a1, b1;
        memcpy(&a0, x, 4);
        memcpy(&b0, y, 4);
        memcpy(&a1, x + n - 4, 4);
        memcpy(&b1, y + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n < 4) {
        for (size_t i = 0; i < n; i++)
            if (x[i] != y[i])
                return false;
        return true;
    }
    return memcmp(a, b, n) == 0;
}

/* A fast 64-bit hash of bytes (for the dictionary; not cryptographic). */
uint64_t sl_parquet_hash_bytes(const void *p, size_t n);

#endif
