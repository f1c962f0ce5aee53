/*
 * codec.c - page compression through libzstd, zlib and (optionally) snappy.
 */
#include "lake/parquet/codec.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#ifdef SL_HAVE_SNAPPY
#include <snappy-c.h>
#endif

struct sl_parquet_codec_ctx {
    ZSTD_CCtx *zc;
    ZSTD_DCtx *zd;
    z_stream deflate;
    bool deflate_ready;
    int deflate_level;
    z_stream inflate;
    bool inflate_ready;
};

int sl_parquet_codec_parse(const char *name, sl_parquet_codec *out)
{
    if (!name)
        return SL_ERR_CONFIG;
    if (!strcasecmp(name, "zstd"))
        *out = SL_PARQUET_ZSTD;
    else if (!strcasecmp(name, "snappy"))
        *out = SL_PARQUET_SNAPPY;
    else if (!strcasecmp(name, "gzip"))
        *out = SL_PARQUET_GZIP;
    else if (!strcasecmp(name, "none") || !strcasecmp(name, "uncompressed"))
        *out = SL_PARQUET_UNCOMPRESSED;
    else
        return SL_ERR_CONFIG;
    return 0;
}

const char *sl_parquet_codec_name(sl_parquet_codec c)
{
    switch (c) {
    case SL_PARQUET_UNCOMPRESSED: return "none";
    case SL_PARQUET_SNAPPY: return "snappy";
    case SL_PARQUET_GZIP: return "gzip";
    case SL_PARQUET_ZSTD: return "zstd";
    }
    return "unknown";
}

bool sl_parquet_codec_available(sl_parquet_codec c)
{
    switch (c) {
    case SL_PARQUET_UNCOMPRESSED:
    case SL_PARQUET_GZIP:
    case SL_PARQUET_ZSTD:
        return true;
    case SL_PARQUET_SNAPPY:
#ifdef SL_HAVE_SNAPPY
        return true;
#else
        return false;
#endif
    }
    return false;
}

sl_parquet_codec_ctx *sl_parquet_codec_ctx_new(void)
{
    return sl_calloc(1, sizeof(sl_parquet_codec_ctx));
}

void sl_parquet_codec_ctx_free(sl_parquet_codec_ctx *ctx)
{
    if (!ctx)
        return;
    ZSTD_freeCCtx(ctx->zc);
    ZSTD_freeDCtx(ctx->zd);
    if (ctx->deflate_ready)
        deflateEnd(&ctx->deflate);
    if (ctx->inflate_ready)
        inflateEnd(&ctx->inflate);
    free(ctx);
}

static int compress_zstd(sl_parquet_codec_ctx *ctx, int level, const void *src, size_t n, sl_buf *out)
{
    if (!ctx->zc) {
        ctx->zc = ZSTD_createCCtx();
        if (!ctx->zc)
            return SL_ERR;
    }
    size_t bound = ZSTD_compressBound(n);
    sl_buf_reserve(out, bound);
    size_t r = ZSTD_compressCCtx(ctx->zc, out->data + out->len, bound, src, n, level ? level : 1);
    if (ZSTD_isError(r))
        return SL_ERR;
    out->len += r;
    out->data[out->len] = '\0';
    return 0;
}

static int compress_gzip(sl_parquet_codec_ctx *ctx, int level, const void *src, size_t n, sl_buf *out)
{
    level = level ? level : 6;
    if (ctx->deflate_ready && ctx->deflate_level != level) {
        deflateEnd(&ctx->deflate);
        ctx->deflate_ready = false;
    }
    if (!ctx->deflate_ready) {
        memset(&ctx->deflate, 0, sizeof ctx->deflate);
        /* windowBits 15 + 16: a gzip header and trailer around the deflate stream */
        if (deflateInit2(&ctx->deflate, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return SL_ERR;
        ctx->deflate_ready = true;
        ctx->deflate_level = level;
    } else if (deflateReset(&ctx->deflate) != Z_OK) {
        return SL_ERR;
    }
    z_stream *z = &ctx->deflate;
    size_t bound = deflateBound(z, (uLong)n) + 32;
    sl_buf_reserve(out, bound);
    z->next_in = (Bytef *)(uintptr_t)src;
    z->avail_in = (uInt)n;
    z->next_out = (Bytef *)out->data + out->len;
    z->avail_out = (uInt)bound;
    int rc = deflate(z, Z_FINISH);
    if (rc != Z_STREAM_END)
        return SL_ERR;
    out->len += bound - z->avail_out;
    out->data[out->len] = '\0';
    return 0;
}

int sl_parquet_compress(sl_parquet_codec_ctx *ctx, sl_parquet_codec c, int level,
                        const void *src, size_t n, sl_buf *out)
{
    switch (c) {
    case SL_PARQUET_UNCOMPRESSED:
        sl_buf_append(out, src, n);
        return 0;
    case SL_PARQUET_ZSTD:
        return compress_zstd(ctx, level, src, n, out);
    case SL_PARQUET_GZIP:
        if (n > UINT32_MAX / 2)
            return SL_ERR_TOOBIG;
        return compress_gzip(ctx, level, src, n, out);
    case SL_PARQUET_SNAPPY: {
#ifdef SL_HAVE_SNAPPY
        size_t bound = snappy_max_compressed_length(n);
        sl_buf_reserve(out, bound);
        size_t len = bound;
        if (snappy_compress(src, n, out->data + out->len, &len) != SNAPPY_OK)
            return SL_ERR;
        out->len += len;
        out->data[out->len] = '\0';
        return 0;
#else
        return SL_ERR_CONFIG;
#endif
    }
    }
    return SL_ERR_CONFIG;
}

static int decompress_gzip(sl_parquet_codec_ctx *ctx, const void *src, size_t n, void *dst, size_t dst_len)
{
    if (n > UINT32_MAX / 2 || dst_len > UINT32_MAX / 2)
        return SL_ERR_CORRUPT;
    if (!ctx->inflate_ready) {
        memset(&ctx->inflate, 0, sizeof ctx->inflate);
        /* windowBits 15 + 32: accept gzip or zlib framing */
        if (inflateInit2(&ctx->inflate, 15 + 32) != Z_OK)
            return SL_ERR;
        ctx->inflate_ready = true;
    } else if (inflateReset(&ctx->inflate) != Z_OK) {
        return SL_ERR;
    }
    z_stream *z = &ctx->inflate;
    z->next_in = (Bytef *)(uintptr_t)src;
    z->avail_in = (uInt)n;
    z->next_out = dst;
    z->avail_out = (uInt)dst_len;
    for (;;) {
        int rc = inflate(z, Z_FINISH);
        if (rc == Z_STREAM_END) {
            /* concatenated gzip members: go on while input and room remain */
            if (z->avail_in > 0 && z->avail_out > 0) {
                uInt in = z->avail_in, outl = z->avail_out;
                Bytef *ni = z->next_in, *no = z->next_out;
                if (inflateReset(z) != Z_OK)
                    return SL_ERR;
                z->next_in = ni;
                z->avail_in = in;
                z->next_out = no;
                z->avail_out = outl;
                continue;
            }
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return SL_ERR_CORRUPT;
        if (z->avail_out == 0)
            break; /* all the bytes the header promised */
        if (z->avail_in == 0 || rc == Z_BUF_ERROR)
            return SL_ERR_CORRUPT;
    }
    return z->avail_out == 0 ? 0 : SL_ERR_CORRUPT;
}

int sl_parquet_decompress(sl_parquet_codec_ctx *ctx, int codec, const void *src, size_t n,
                          void *dst, size_t dst_len)
{
    switch (codec) {
    case SL_PARQUET_UNCOMPRESSED:
        if (n != dst_len)
            return SL_ERR_CORRUPT;
        if (n)
            memcpy(dst, src, n);
        return 0;
    case SL_PARQUET_ZSTD: {
        if (!ctx->zd) {
            ctx->zd = ZSTD_createDCtx();
            if (!ctx->zd)
                return SL_ERR;
        }
        size_t r = ZSTD_decompressDCtx(ctx->zd, dst, dst_len, src, n);
        if (ZSTD_isError(r) || r != dst_len)
            return SL_ERR_CORRUPT;
        return 0;
    }
    case SL_PARQUET_GZIP:
        return decompress_gzip(ctx, src, n, dst, dst_len);
    case SL_PARQUET_SNAPPY: {
#ifdef SL_HAVE_SNAPPY
        size_t len;
        if (snappy_uncompressed_length(src, n, &len) != SNAPPY_OK || len != dst_len)
            return SL_ERR_CORRUPT;
        if (snappy_uncompress(src, n, dst, &len) != SNAPPY_OK || len != dst_len)
            return SL_ERR_CORRUPT;
        return 0;
#else
        return SL_ERR_CONFIG;
#endif
    }
    }
    return SL_ERR_CONFIG;
}
