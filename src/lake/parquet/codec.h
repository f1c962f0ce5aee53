/*
 * codec.h - page compression: ZSTD, SNAPPY, GZIP and none.
 *
 * Parquet compresses each page body on its own (the page header stays
 * plain). The numeric codec ids are Parquet's CompressionCodec values.
 * GZIP pages are gzip members (RFC 1952), as parquet-mr and Arrow write
 * them; on reading, zlib framing is accepted too. SNAPPY is the raw snappy
 * block format and needs the build to define SL_HAVE_SNAPPY (and link
 * -lsnappy); without it the codec reports itself unavailable.
 *
 * A context holds the compressor and decompressor states so they are
 * allocated once per writer or reader, not once per page.
 */
#ifndef SL_PARQUET_CODEC_H
#define SL_PARQUET_CODEC_H

#include "core/buf.h"
#include "core/common.h"

typedef enum sl_parquet_codec {
    SL_PARQUET_UNCOMPRESSED = 0,
    SL_PARQUET_SNAPPY = 1,
    SL_PARQUET_GZIP = 2,
    SL_PARQUET_ZSTD = 6,
} sl_parquet_codec;

/* "zstd", "snappy", "gzip", "none" (or "uncompressed"). 0 or SL_ERR_CONFIG. */
int sl_parquet_codec_parse(const char *name, sl_parquet_codec *out);
const char *sl_parquet_codec_name(sl_parquet_codec c);
/* Whether this build can write and read the codec. */
bool sl_parquet_codec_available(sl_parquet_codec c);

typedef struct sl_parquet_codec_ctx sl_parquet_codec_ctx;

/* Allocate an (empty) context; states are created on first use. Free with _free (NULL-safe). */
sl_parquet_codec_ctx *sl_parquet_codec_ctx_new(void);
void sl_parquet_codec_ctx_free(sl_parquet_codec_ctx *ctx);

/*
 * Append the compressed form of src[0..n) to out. level 0 is the codec's
 * default (zstd 1, gzip 6). Returns 0, or SL_ERR_CONFIG for a codec this
 * build lacks, or SL_ERR on a library failure.
 */
int sl_parquet_compress(sl_parquet_codec_ctx *ctx, sl_parquet_codec c, int level,
                        const void *src, size_t n, sl_buf *out);

/*
 * Decompress src[0..n) into dst, which must come out exactly dst_len bytes
 * long (the page header's uncompressed size). Returns 0, SL_ERR_CORRUPT, or
 * SL_ERR_CONFIG for a codec this build cannot read.
 */
int sl_parquet_decompress(sl_parquet_codec_ctx *ctx, int codec, const void *src, size_t n,
                          void *dst, size_t dst_len);

#endif
