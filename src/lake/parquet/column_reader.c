/*
 * column_reader.c - page-by-page decoding of a flat column chunk
 * (see column_reader.h).
 */
#include "lake/parquet/column_reader.h"
#include "core/alloc.h"
#include "lake/parquet/metadata.h"

#include <stdlib.h>

enum { MODE_PLAIN, MODE_DICT, MODE_RLE_BOOL };

static size_t plain_width(const sl_parquet_column_reader_config *c)
{
    switch (c->physical) {
    case SL_PQ_INT32:
    case SL_PQ_FLOAT:
        return 4;
    case SL_PQ_INT64:
    case SL_PQ_DOUBLE:
        return 8;
    case SL_PQ_INT96:
        return 12;
    case SL_PQ_FIXED_LEN_BYTE_ARRAY:
        return c->type_length > 0 ? (size_t)c->type_length : 0;
    default:
        return 0;
    }
}

void sl_parquet_column_reader_init(sl_parquet_column_reader *cr, const void *chunk, size_t len,
                                   const sl_parquet_column_reader_config *cfg)
{
    memset(cr, 0, sizeof *cr);
    cr->cfg = *cfg;
    cr->p = chunk;
    cr->end = cr->p + len;
    cr->values_left = cfg->num_values;
    cr->width = plain_width(cfg);
}

void sl_parquet_column_reader_free(sl_parquet_column_reader *cr)
{
    if (!cr)
        return;
    sl_buf_free(&cr->dict_buf);
    sl_buf_free(&cr->page_buf);
    free(cr->dict_str);
    memset(cr, 0, sizeof *cr);
}

/* Decompress body[0..n) into buf as exactly size bytes. */
static int inflate_into(sl_parquet_column_reader *cr, const uint8_t *body, size_t n, size_t size, sl_buf *buf)
{
    sl_buf_reset(buf);
    if (sl_buf_try_reserve(buf, size) < 0)
        return SL_ERR_TOOBIG;
    int rc = sl_parquet_decompress(cr->cfg.codec_ctx, cr->cfg.codec, body, n, buf->data, size);
    if (rc < 0)
        return rc;
    buf->len = size;
    buf->data[size] = '\0';
    return 0;
}

static int load_dictionary(sl_parquet_column_reader *cr, const sl_parquet_page_header *h,
                           const uint8_t *body, size_t n)
{
    if (cr->has_dict || h->dict_num_values < 0 || cr->cfg.physical == SL_PQ_BOOLEAN)
        return SL_ERR_CORRUPT;
    if (h->dict_encoding != SL_PQ_ENC_PLAIN && h->dict_encoding != SL_PQ_ENC_PLAIN_DICTIONARY)
        return SL_PARQUET_ERR_UNSUPPORTED;
    int rc = inflate_into(cr, body, n, (size_t)h->uncompressed_page_size, &cr->dict_buf);
    if (rc < 0)
        return rc;
    const uint8_t *p = (const uint8_t *)cr->dict_buf.data, *end = p + cr->dict_buf.len;
    size_t count = (size_t)h->dict_num_values;
    if (cr->cfg.physical == SL_PQ_BYTE_ARRAY) {
        if (count > cr->dict_buf.len / 4)
            return SL_ERR_CORRUPT;
        cr->dict_str = sl_malloc((count ? count : 1) * sizeof *cr->dict_str);
        for (size_t i = 0; i < count; i++) {
            if (end - p < 4)
                return SL_ERR_CORRUPT;
            uint32_t len = sl_parquet_get_le32(p);
            p += 4;
            if (len > (size_t)(end - p))
                return SL_ERR_CORRUPT;
            cr->dict_str[i] = (sl_view){ (const char *)p, len };
            p += len;
        }
    } else {
        if (cr->width == 0 || count > cr->dict_buf.len / cr->width)
            return SL_ERR_CORRUPT;
        cr->dict_fixed = p;
    }
    cr->dict_n = count;
    cr->has_dict = true;
    return 0;
}

/* Set up the value decoder for the page's values region vp..vend. */
static int start_values(sl_parquet_column_reader *cr, int encoding)
{
    switch (encoding) {
    case SL_PQ_ENC_PLAIN:
        cr->value_mode = MODE_PLAIN;
        cr->bool_bit = 0;
        if (cr->cfg.physical == SL_PQ_FIXED_LEN_BYTE_ARRAY && cr->width == 0)
            return SL_ERR_CORRUPT;
        return 0;
    case SL_PQ_ENC_PLAIN_DICTIONARY:
    case SL_PQ_ENC_RLE_DICTIONARY: {
        if (!cr->has_dict)
            return SL_ERR_CORRUPT;
        if (cr->vp >= cr->vend) {
            /* a page of nulls may carry no index bytes at all */
            sl_parquet_rle_decoder_init(&cr->idx, cr->vp, 0, 0);
        } else {
            int bw = *cr->vp;
            if (bw > 32)
                return SL_ERR_CORRUPT;
            sl_parquet_rle_decoder_init(&cr->idx, cr->vp + 1, (size_t)(cr->vend - cr->vp - 1), bw);
        }
        cr->value_mode = MODE_DICT;
        return 0;
    }
    case SL_PQ_ENC_RLE:
        if (cr->cfg.physical != SL_PQ_BOOLEAN)
            return SL_PARQUET_ERR_UNSUPPORTED;
        if (cr->vend - cr->vp < 4)
            return SL_ERR_CORRUPT;
        {
            uint32_t len = sl_parquet_get_le32(cr->vp);
            if (len > (size_t)(cr->vend - cr->vp - 4))
                return SL_ERR_CORRUPT;
            sl_parquet_rle_decoder_init(&cr->idx, cr->vp + 4, len, 1);
        }
        cr->value_mode = MODE_RLE_BOOL;
        return 0;
    default:
        return SL_PARQUET_ERR_UNSUPPORTED;
    }
}

/* Load the next data page (skipping dictionary and index pages). 1, 0 at the end, or < 0. */
static int load_page(sl_parquet_column_reader *cr)
{
    for (;;) {
        if (cr->p >= cr->end)
            return 0;
        sl_parquet_page_header h;
        size_t used;
        if (sl_parquet_page_header_decode(cr->p, (size_t)(cr->end - cr->p), &h, &used) < 0)
            return SL_ERR_CORRUPT;
        cr->p += used;
        if (h.compressed_page_size < 0 || h.uncompressed_page_size < 0 ||
            (size_t)h.compressed_page_size > (size_t)(cr->end - cr->p))
            return SL_ERR_CORRUPT;
        if ((size_t)h.uncompressed_page_size > cr->cfg.max_page_bytes)
            return SL_ERR_TOOBIG;
        const uint8_t *body = cr->p;
        size_t n = (size_t)h.compressed_page_size;
        size_t size = (size_t)h.uncompressed_page_size;
        cr->p += n;

        if (h.type == SL_PQ_PAGE_DICTIONARY && h.has_dict) {
            int rc = load_dictionary(cr, &h, body, n);
            if (rc < 0)
                return rc;
            continue;
        }
        if (h.type == SL_PQ_PAGE_DATA && h.has_data) {
            if (h.num_values < 0)
                return SL_ERR_CORRUPT;
            int rc = inflate_into(cr, body, n, size, &cr->page_buf);
            if (rc < 0)
                return rc;
            const uint8_t *p = (const uint8_t *)cr->page_buf.data, *end = p + cr->page_buf.len;
            if (cr->cfg.max_def > 0) {
                if (h.def_encoding != SL_PQ_ENC_RLE)
                    return SL_PARQUET_ERR_UNSUPPORTED;
                if (end - p < 4)
                    return SL_ERR_CORRUPT;
                uint32_t len = sl_parquet_get_le32(p);
                p += 4;
                if (len > (size_t)(end - p))
                    return SL_ERR_CORRUPT;
                sl_parquet_rle_decoder_init(&cr->defs, p, len, 1);
                p += len;
            }
            cr->vp = p;
            cr->vend = end;
            if ((rc = start_values(cr, h.encoding)) < 0)
                return rc;
            cr->page_left = h.num_values;
            if (cr->page_left == 0)
                continue;
            return 1;
        }
        if (h.type == SL_PQ_PAGE_DATA_V2 && h.has_data_v2) {
            if (h.num_values < 0 || h.v2_def_length < 0 || h.v2_rep_length < 0 ||
                (size_t)h.v2_def_length + (size_t)h.v2_rep_length > n ||
                (size_t)h.v2_def_length + (size_t)h.v2_rep_length > size)
                return SL_ERR_CORRUPT;
            if (h.v2_rep_length > 0)
                return SL_PARQUET_ERR_UNSUPPORTED; /* repeated fields */
            size_t lv = (size_t)h.v2_def_length;
            /* levels are never compressed in v2; the values may be */
            sl_buf_reset(&cr->page_buf);
            if (sl_buf_try_reserve(&cr->page_buf, size) < 0)
                return SL_ERR_TOOBIG;
            memcpy(cr->page_buf.data, body, lv);
            if (h.v2_is_compressed && cr->cfg.codec != SL_PQ_CODEC_UNCOMPRESSED) {
                int rc = sl_parquet_decompress(cr->cfg.codec_ctx, cr->cfg.codec, body + lv, n - lv,
                                               cr->page_buf.data + lv, size - lv);
                if (rc < 0)
                    return rc;
            } else {
                if (n != size)
                    return SL_ERR_CORRUPT;
                memcpy(cr->page_buf.data + lv, body + lv, n - lv);
            }
            cr->page_buf.len = size;
            const uint8_t *p = (const uint8_t *)cr->page_buf.data;
            if (cr->cfg.max_def > 0)
                sl_parquet_rle_decoder_init(&cr->defs, p, lv, 1);
            cr->vp = p + lv;
            cr->vend = p + size;
            int rc = start_values(cr, h.encoding);
            if (rc < 0)
                return rc;
            cr->page_left = h.num_values;
            if (cr->page_left == 0)
                continue;
            return 1;
        }
        /* index pages and unknown page types: skip */
    }
}

static int64_t to_micros(int64_t v, int unit)
{
    int64_t r;
    switch (unit) {
    case SL_PQ_UNIT_MILLIS:
        if (__builtin_mul_overflow(v, 1000, &r))
            return v < 0 ? INT64_MIN : INT64_MAX;
        return r;
    case SL_PQ_UNIT_NANOS:
        return v / 1000 - (v % 1000 < 0); /* floor */
    default:
        return v;
    }
}

/* Decode one fixed-width value at p (width bytes, in bounds). */
static void decode_fixed(const sl_parquet_column_reader *cr, const uint8_t *p, sl_parquet_value *v)
{
    switch (cr->cfg.physical) {
    case SL_PQ_INT32: {
        int32_t x = (int32_t)sl_parquet_get_le32(p);
        if (cr->cfg.type == SL_PARQUET_DOUBLE)
            v->u.f64 = x;
        else
            v->u.i64 = x;
        return;
    }
    case SL_PQ_INT64: {
        int64_t x = (int64_t)sl_parquet_get_le64(p);
        if (cr->cfg.type == SL_PARQUET_TIMESTAMP)
            v->u.i64 = to_micros(x, cr->cfg.ts_unit);
        else if (cr->cfg.type == SL_PARQUET_DOUBLE)
            v->u.f64 = (double)x;
        else
            v->u.i64 = x;
        return;
    }
    case SL_PQ_FLOAT: {
        uint32_t bits = sl_parquet_get_le32(p);
        float f;
        memcpy(&f, &bits, 4);
        v->u.f64 = f;
        return;
    }
    case SL_PQ_DOUBLE: {
        uint64_t bits = sl_parquet_get_le64(p);
        memcpy(&v->u.f64, &bits, 8);
        return;
    }
    case SL_PQ_INT96: {
        /* legacy Impala/Spark timestamps: nanoseconds of the day, then the Julian day */
        int64_t nanos = (int64_t)sl_parquet_get_le64(p);
        int64_t jday = (int32_t)sl_parquet_get_le32(p + 8);
        v->u.i64 = (jday - 2440588) * INT64_C(86400000000) + to_micros(nanos, SL_PQ_UNIT_NANOS);
        return;
    }
    default: /* FIXED_LEN_BYTE_ARRAY */
        v->u.str = (sl_view){ (const char *)p, cr->width };
        return;
    }
}

int sl_parquet_column_reader_next(sl_parquet_column_reader *cr, sl_parquet_value *v)
{
    if (cr->values_left <= 0)
        return 0;
    while (cr->page_left <= 0) {
        int rc = load_page(cr);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return SL_ERR_CORRUPT; /* the metadata promised more values */
    }
    cr->page_left--;
    cr->values_left--;
    v->type = cr->cfg.type;
    v->is_null = false;
    if (cr->cfg.max_def > 0) {
        uint32_t d;
        if (sl_parquet_rle_decoder_next(&cr->defs, &d) < 0)
            return SL_ERR_CORRUPT;
        if (d > (uint32_t)cr->cfg.max_def)
            return SL_ERR_CORRUPT;
        if (d < (uint32_t)cr->cfg.max_def) {
            v->is_null = true;
            return 1;
        }
    }
    if (cr->value_mode == MODE_DICT) {
        uint32_t i;
        if (sl_parquet_rle_decoder_next(&cr->idx, &i) < 0 || i >= cr->dict_n)
            return SL_ERR_CORRUPT;
        if (cr->cfg.physical == SL_PQ_BYTE_ARRAY)
            v->u.str = cr->dict_str[i];
        else
            decode_fixed(cr, cr->dict_fixed + (size_t)i * cr->width, v);
        return 1;
    }
    if (cr->value_mode == MODE_RLE_BOOL) {
        uint32_t b;
        if (sl_parquet_rle_decoder_next(&cr->idx, &b) < 0)
            return SL_ERR_CORRUPT;
        v->u.b = b != 0;
        return 1;
    }
    switch (cr->cfg.physical) {
    case SL_PQ_BOOLEAN: {
        uint64_t byte = cr->bool_bit >> 3;
        if (byte >= (uint64_t)(cr->vend - cr->vp))
            return SL_ERR_CORRUPT;
        v->u.b = (cr->vp[byte] >> (cr->bool_bit & 7)) & 1;
        cr->bool_bit++;
        return 1;
    }
    case SL_PQ_BYTE_ARRAY: {
        if (cr->vend - cr->vp < 4)
            return SL_ERR_CORRUPT;
        uint32_t len = sl_parquet_get_le32(cr->vp);
        if (len > (size_t)(cr->vend - cr->vp - 4))
            return SL_ERR_CORRUPT;
        v->u.str = (sl_view){ (const char *)cr->vp + 4, len };
        cr->vp += 4 + (size_t)len;
        return 1;
    }
    default:
        if ((size_t)(cr->vend - cr->vp) < cr->width || cr->width == 0)
            return SL_ERR_CORRUPT;
        decode_fixed(cr, cr->vp, v);
        cr->vp += cr->width;
        return 1;
    }
}
