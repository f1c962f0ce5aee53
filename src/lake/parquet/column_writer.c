/*
 * column_writer.c - buffering one column of a row group and encoding it
 * into compressed pages (see column_writer.h).
 *
 * A column chunk as this file lays it out (pages are Parquet data pages v1):
 *
 *   +------------------------------------------------------------------+
 *   | PageHeader (DICTIONARY_PAGE, num_values = entries, PLAIN)         |  only for
 *   | compressed: len0 bytes0 len1 bytes1 ...  (PLAIN BYTE_ARRAY)       |  dictionary
 *   +------------------------------------------------------------------+  strings
 *   | PageHeader (DATA_PAGE, num_values = rows, encoding, Statistics)   |
 *   | compressed: +--------------------------------------------------+ |
 *   |             | u32 LE length | definition levels, RLE/bit-packed | |
 *   |             +--------------------------------------------------+ |
 *   |             | values: PLAIN, or RLE_DICTIONARY =                | |
 *   |             |   1 byte bit width, dictionary indices RLE/packed | |
 *   |             +--------------------------------------------------+ |
 *   +------------------------------------------------------------------+
 *   | ... more data pages, each at most page_rows rows / ~page_bytes    |
 *   +------------------------------------------------------------------+
 *
 * No repetition levels: every column is a flat OPTIONAL leaf.
 */
#include "lake/parquet/column_writer.h"
#include "core/alloc.h"
#include "lake/parquet/encoding.h"
#include "lake/parquet/metadata.h"

#include <math.h>
#include <stdlib.h>

#define RATIO_CHECK_AT 8192 /* values after which a mostly-distinct dictionary is dropped */

void sl_parquet_chunk_free(sl_parquet_chunk *c)
{
    if (!c)
        return;
    sl_buf_free(&c->bytes);
    sl_buf_free(&c->min);
    sl_buf_free(&c->max);
}

/* ---- buffering --------------------------------------------------------- */

static bool uses_i64(sl_parquet_type t)
{
    return t == SL_PARQUET_INT32 || t == SL_PARQUET_INT64 || t == SL_PARQUET_TIMESTAMP;
}

static void grow_values_slow(sl_parquet_column_writer *cw, size_t need)
{
    size_t cap = cw->vcap;
    while (cap < need)
        cap = cap ? cap * 2 : 1024;
    bool grew = cap != cw->vcap;
    sl_parquet_type t = cw->type;
    if (uses_i64(t) || cw->i64)
        if (grew || !cw->i64)
            cw->i64 = sl_realloc(cw->i64, cap * sizeof *cw->i64);
    if (t == SL_PARQUET_DOUBLE || cw->f64)
        if (grew || !cw->f64)
            cw->f64 = sl_realloc(cw->f64, cap * sizeof *cw->f64);
    if (t == SL_PARQUET_BOOLEAN || cw->bools)
        if (grew || !cw->bools)
            cw->bools = sl_realloc(cw->bools, cap);
    if (t == SL_PARQUET_STRING || cw->idx) {
        if (grew || !cw->idx)
            cw->idx = sl_realloc(cw->idx, cap * sizeof *cw->idx);
        if (grew || !cw->str_off) {
            bool fresh = !cw->str_off;
            cw->str_off = sl_realloc(cw->str_off, (cap + 1) * sizeof *cw->str_off);
            if (fresh)
                cw->str_off[0] = 0;
        }
    }
    cw->vcap = cap;
}

static bool has_array(const sl_parquet_column_writer *cw)
{
    switch (cw->type) {
    case SL_PARQUET_BOOLEAN: return cw->bools != NULL;
    case SL_PARQUET_DOUBLE: return cw->f64 != NULL;
    case SL_PARQUET_STRING: return cw->idx != NULL && cw->str_off != NULL;
    default: return cw->i64 != NULL;
    }
}

static inline void grow_values(sl_parquet_column_writer *cw, size_t need)
{
    if (__builtin_expect(need <= cw->vcap && has_array(cw), 1))
        return;
    grow_values_slow(cw, need);
}

static void grow_defs(sl_parquet_column_writer *cw, size_t need)
{
    if (need <= cw->defs_cap)
        return;
    size_t cap = cw->defs_cap ? cw->defs_cap : 1024;
    while (cap < need)
        cap *= 2;
    cw->defs = sl_realloc(cw->defs, cap);
    cw->defs_cap = cap;
}

static void dict_clear(sl_parquet_column_writer *cw)
{
    cw->dict_n = 0;
    sl_buf_reset(&cw->dict_bytes);
    if (cw->slots)
        memset(cw->slots, 0, cw->n_slots * sizeof *cw->slots);
}

static void strings_start(sl_parquet_column_writer *cw)
{
    cw->dict = cw->dict_limit > 0 && !cw->dict_hopeless;
    dict_clear(cw);
    sl_buf_reset(&cw->str_bytes);
    grow_values(cw, 1);
    cw->str_off[0] = 0;
}

void sl_parquet_column_writer_init(sl_parquet_column_writer *cw, sl_parquet_type type, size_t dict_limit)
{
    memset(cw, 0, sizeof *cw);
    cw->dict_limit = dict_limit;
    sl_parquet_column_writer_reset(cw, type);
}

void sl_parquet_column_writer_reset(sl_parquet_column_writer *cw, sl_parquet_type type)
{
    cw->type = type;
    cw->rows = 0;
    cw->nvalues = 0;
    cw->plain_bytes = 0;
    if (type == SL_PARQUET_STRING)
        strings_start(cw);
}

void sl_parquet_column_writer_free(sl_parquet_column_writer *cw)
{
    if (!cw)
        return;
    free(cw->defs);
    free(cw->i64);
    free(cw->f64);
    free(cw->bools);
    free(cw->idx);
    sl_buf_free(&cw->dict_bytes);
    free(cw->dict_off);
    free(cw->dict_hash);
    free(cw->slots);
    free(cw->str_off);
    sl_buf_free(&cw->str_bytes);
    memset(cw, 0, sizeof *cw);
}

static void dict_grow_slots(sl_parquet_column_writer *cw)
{
    size_t n = cw->n_slots ? cw->n_slots * 2 : 1024;
    free(cw->slots);
    cw->slots = sl_calloc(n, sizeof *cw->slots);
    cw->n_slots = n;
    size_t mask = n - 1;
    for (size_t e = 0; e < cw->dict_n; e++) {
        size_t i = cw->dict_hash[e] & mask;
        while (cw->slots[i])
            i = (i + 1) & mask;
        cw->slots[i] = (uint32_t)e + 1;
    }
}

/* The dictionary index of bytes p[0..n), added if new. */
static uint32_t dict_intern(sl_parquet_column_writer *cw, const char *p, size_t n)
{
    if ((cw->dict_n + 1) * 2 > cw->n_slots)
        dict_grow_slots(cw);
    uint32_t h = (uint32_t)sl_parquet_hash_bytes(p, n);
    size_t mask = cw->n_slots - 1;
    size_t i = h & mask;
    for (;;) {
        uint32_t s = cw->slots[i];
        if (!s)
            break;
        uint32_t e = s - 1;
        if (cw->dict_hash[e] == h && cw->dict_off[e + 1] - cw->dict_off[e] == n &&
            sl_parquet_bytes_eq(cw->dict_bytes.data + cw->dict_off[e], p, n))
            return e;
        i = (i + 1) & mask;
    }
    if (cw->dict_n + 2 > cw->dict_cap) {
        cw->dict_cap = cw->dict_cap ? cw->dict_cap * 2 : 1024;
        cw->dict_off = sl_realloc(cw->dict_off, (cw->dict_cap + 1) * sizeof *cw->dict_off);
        cw->dict_hash = sl_realloc(cw->dict_hash, cw->dict_cap * sizeof *cw->dict_hash);
    }
    uint32_t e = (uint32_t)cw->dict_n++;
    cw->dict_off[e] = (uint32_t)cw->dict_bytes.len;
    sl_buf_append(&cw->dict_bytes, p, n);
    cw->dict_off[e + 1] = (uint32_t)cw->dict_bytes.len;
    cw->dict_hash[e] = h;
    cw->slots[i] = e + 1;
    return e;
}

/* Leave dictionary mode: expand the indices into plain strings. */
static void dict_fallback(sl_parquet_column_writer *cw)
{
    sl_buf_reset(&cw->str_bytes);
    sl_buf_reserve(&cw->str_bytes, cw->plain_bytes);
    cw->str_off[0] = 0;
    for (size_t i = 0; i < cw->nvalues; i++) {
        uint32_t e = cw->idx[i];
        sl_buf_append(&cw->str_bytes, cw->dict_bytes.data + cw->dict_off[e],
                      cw->dict_off[e + 1] - cw->dict_off[e]);
        cw->str_off[i + 1] = (uint32_t)cw->str_bytes.len;
    }
    cw->dict = false;
    dict_clear(cw);
}

static void push_string(sl_parquet_column_writer *cw, const char *p, size_t n)
{
    grow_values(cw, cw->nvalues + 1);
    cw->plain_bytes += 4 + n;
    if (cw->dict) {
        cw->idx[cw->nvalues++] = dict_intern(cw, p, n);
        if (cw->dict_bytes.len + 4 * cw->dict_n > cw->dict_limit ||
            cw->dict_n > SL_PARQUET_DICT_MAX_ENTRIES) {
            dict_fallback(cw);
        } else if (cw->nvalues == RATIO_CHECK_AT && cw->dict_n * 4 > cw->nvalues * 3) {
            cw->dict_hopeless = true;
            dict_fallback(cw);
        }
        return;
    }
    sl_buf_append(&cw->str_bytes, p, n);
    cw->str_off[++cw->nvalues] = (uint32_t)cw->str_bytes.len;
}

static size_t fixed_size(sl_parquet_type t)
{
    switch (t) {
    case SL_PARQUET_BOOLEAN: return 1;
    case SL_PARQUET_INT32: return 4;
    default: return 8;
    }
}

static void push_value(sl_parquet_column_writer *cw, const sl_parquet_value *v)
{
    switch (cw->type) {
    case SL_PARQUET_STRING:
        push_string(cw, v->u.str.ptr, v->u.str.len);
        return;
    case SL_PARQUET_BOOLEAN:
        grow_values(cw, cw->nvalues + 1);
        cw->bools[cw->nvalues++] = v->u.b;
        break;
    case SL_PARQUET_DOUBLE:
        grow_values(cw, cw->nvalues + 1);
        cw->f64[cw->nvalues++] = v->u.f64;
        break;
    default:
        grow_values(cw, cw->nvalues + 1);
        cw->i64[cw->nvalues++] = v->u.i64;
        break;
    }
    cw->plain_bytes += fixed_size(cw->type);
}

static void pop_value(sl_parquet_column_writer *cw)
{
    size_t last = cw->nvalues - 1;
    if (cw->type == SL_PARQUET_STRING) {
        size_t n;
        if (cw->dict) {
            uint32_t e = cw->idx[last];
            n = cw->dict_off[e + 1] - cw->dict_off[e];
        } else {
            n = cw->str_off[last + 1] - cw->str_off[last];
            cw->str_bytes.len = cw->str_off[last];
        }
        cw->plain_bytes -= 4 + n;
    } else {
        cw->plain_bytes -= fixed_size(cw->type);
    }
    cw->nvalues = last;
}

void sl_parquet_column_writer_put(sl_parquet_column_writer *cw, size_t row, const sl_parquet_value *v)
{
    if (cw->rows == row + 1) { /* this row already has a value: replace it */
        if (cw->defs[row])
            pop_value(cw);
        cw->rows = row;
    }
    if (cw->rows > row)
        return; /* rows only move forward; an older row is not reopened */
    grow_defs(cw, row + 1);
    if (cw->rows < row) {
        memset(cw->defs + cw->rows, 0, row - cw->rows);
        cw->rows = row;
    }
    if (v->is_null) {
        cw->defs[cw->rows++] = 0;
        return;
    }
    cw->defs[cw->rows++] = 1;
    push_value(cw, v);
}

void sl_parquet_column_writer_unset(sl_parquet_column_writer *cw, size_t row)
{
    if (cw->rows != row + 1)
        return;
    if (cw->defs[row])
        pop_value(cw);
    cw->rows = row;
}

static void pad_rows(sl_parquet_column_writer *cw, size_t nrows)
{
    if (cw->rows >= nrows)
        return;
    grow_defs(cw, nrows);
    memset(cw->defs + cw->rows, 0, nrows - cw->rows);
    cw->rows = nrows;
}

static void value_at(const sl_parquet_column_writer *cw, size_t i, sl_parquet_value *v)
{
    v->type = cw->type;
    v->is_null = false;
    switch (cw->type) {
    case SL_PARQUET_BOOLEAN:
        v->u.b = cw->bools[i];
        break;
    case SL_PARQUET_DOUBLE:
        v->u.f64 = cw->f64[i];
        break;
    case SL_PARQUET_STRING:
        if (cw->dict) {
            uint32_t e = cw->idx[i];
            v->u.str = (sl_view){ cw->dict_bytes.data + cw->dict_off[e], cw->dict_off[e + 1] - cw->dict_off[e] };
        } else {
            v->u.str = (sl_view){ cw->str_bytes.data + cw->str_off[i], cw->str_off[i + 1] - cw->str_off[i] };
        }
        break;
    default:
        v->u.i64 = cw->i64[i];
    }
}

void sl_parquet_value_convert(const sl_parquet_value *v, sl_parquet_type to, sl_parquet_value *out,
                              sl_buf *text)
{
    if (v->is_null || v->type == to) {
        *out = *v;
        out->type = to;
        return;
    }
    out->type = to;
    out->is_null = false;
    switch (to) {
    case SL_PARQUET_INT64:
    case SL_PARQUET_INT32:
        out->u.i64 = v->u.i64; /* int32 -> int64 */
        return;
    case SL_PARQUET_DOUBLE:
        out->u.f64 = v->type == SL_PARQUET_DOUBLE ? v->u.f64 : (double)v->u.i64;
        return;
    case SL_PARQUET_STRING:
        sl_buf_reset(text);
        sl_parquet_value_to_text(v, text);
        out->u.str = (sl_view){ text->data ? text->data : "", text->len };
        return;
    default:
        *out = *v; /* not a widening; the caller's mistake, keep the bits */
        out->type = to;
        return;
    }
}

void sl_parquet_column_writer_widen(sl_parquet_column_writer *cw, sl_parquet_type to)
{
    sl_parquet_type from = cw->type;
    if (from == to)
        return;
    if (uses_i64(from) && uses_i64(to)) { /* int32 -> int64: same storage */
        cw->type = to;
        cw->plain_bytes = cw->nvalues * fixed_size(to);
        return;
    }
    if (uses_i64(from) && to == SL_PARQUET_DOUBLE) {
        cw->type = to;
        grow_values(cw, cw->nvalues ? cw->nvalues : 1);
        for (size_t i = 0; i < cw->nvalues; i++)
            cw->f64[i] = (double)cw->i64[i];
        cw->plain_bytes = cw->nvalues * 8;
        return;
    }
    /* Anything else becomes text: take the old values out and push them again. */
    size_t n = cw->nvalues;
    int64_t *i64 = cw->i64;
    double *f64 = cw->f64;
    uint8_t *bools = cw->bools;
    cw->i64 = NULL;
    cw->f64 = NULL;
    cw->bools = NULL;
    sl_parquet_column_writer widened_from = *cw; /* for value_at on the old arrays */
    widened_from.i64 = i64;
    widened_from.f64 = f64;
    widened_from.bools = bools;

    cw->nvalues = 0;
    cw->plain_bytes = 0;
    cw->type = SL_PARQUET_STRING;
    strings_start(cw);
    grow_values(cw, n ? n : 1);
    sl_buf text = SL_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        sl_parquet_value v, conv;
        value_at(&widened_from, i, &v);
        sl_parquet_value_convert(&v, SL_PARQUET_STRING, &conv, &text);
        push_string(cw, conv.u.str.ptr, conv.u.str.len);
    }
    sl_buf_free(&text);
    free(i64);
    free(f64);
    free(bools);
}

/* ---- statistics -------------------------------------------------------- */

typedef struct stats_acc {
    bool any;
    int64_t nans;
    int64_t imin, imax;
    double dmin, dmax;
    sl_view smin, smax;
} stats_acc;

static void acc_value(stats_acc *a, const sl_parquet_value *v)
{
    switch (v->type) {
    case SL_PARQUET_DOUBLE:
        if (isnan(v->u.f64)) {
            a->nans++;
            return;
        }
        if (!a->any || v->u.f64 < a->dmin)
            a->dmin = v->u.f64;
        if (!a->any || v->u.f64 > a->dmax)
            a->dmax = v->u.f64;
        break;
    case SL_PARQUET_STRING: {
        sl_view s = v->u.str;
        if (!a->any) {
            a->smin = a->smax = s;
            break;
        }
        size_t k = SL_MIN(s.len, a->smin.len);
        int c = memcmp(s.ptr, a->smin.ptr, k);
        if (c < 0 || (c == 0 && s.len < a->smin.len))
            a->smin = s;
        k = SL_MIN(s.len, a->smax.len);
        c = memcmp(s.ptr, a->smax.ptr, k);
        if (c > 0 || (c == 0 && s.len > a->smax.len))
            a->smax = s;
        break;
    }
    case SL_PARQUET_BOOLEAN:
        if (!a->any || v->u.b < a->imin)
            a->imin = v->u.b;
        if (!a->any || v->u.b > a->imax)
            a->imax = v->u.b;
        break;
    default:
        if (!a->any || v->u.i64 < a->imin)
            a->imin = v->u.i64;
        if (!a->any || v->u.i64 > a->imax)
            a->imax = v->u.i64;
    }
    a->any = true;
}

static void acc_merge(stats_acc *into, const stats_acc *page, sl_parquet_type t)
{
    into->nans += page->nans;
    if (!page->any)
        return;
    sl_parquet_value v = { .type = t };
    if (t == SL_PARQUET_DOUBLE) {
        v.u.f64 = page->dmin;
        acc_value(into, &v);
        v.u.f64 = page->dmax;
    } else if (t == SL_PARQUET_STRING) {
        v.u.str = page->smin;
        acc_value(into, &v);
        v.u.str = page->smax;
    } else if (t == SL_PARQUET_BOOLEAN) {
        v.u.b = page->imin;
        acc_value(into, &v);
        v.u.b = page->imax;
    } else {
        v.u.i64 = page->imin;
        acc_value(into, &v);
        v.u.i64 = page->imax;
    }
    acc_value(into, &v);
}

static bool utf8_continuation(uint8_t c)
{
    return (c & 0xC0) == 0x80;
}

/* The longest prefix of s of at most max bytes that ends on a character boundary. */
static size_t utf8_prefix(sl_view s, size_t max)
{
    if (s.len <= max)
        return s.len;
    size_t k = max;
    while (k > 0 && utf8_continuation((uint8_t)s.ptr[k]))
        k--;
    return k;
}

/*
 * An upper bound of s in at most max bytes: a prefix whose last character
 * is incremented (its last byte, staying valid UTF-8). False if none.
 */
static bool utf8_upper_bound(sl_view s, size_t max, sl_buf *out)
{
    size_t k = utf8_prefix(s, max);
    sl_buf_reset(out);
    sl_buf_append(out, s.ptr, k);
    uint8_t *p = (uint8_t *)out->data;
    while (k > 0) {
        size_t start = k - 1;
        while (start > 0 && utf8_continuation(p[start]))
            start--;
        uint8_t last = p[k - 1];
        bool ascii = k - 1 == start && last < 0x80;
        if ((ascii && last < 0x7F) || (!ascii && utf8_continuation(last) && last < 0xBF)) {
            p[k - 1]++;
            out->len = k;
            return true;
        }
        k = start; /* drop this character, try the one before */
    }
    return false;
}

/* Encode the accumulated min/max as PLAIN statistics bytes. */
static bool acc_encode(const stats_acc *a, sl_parquet_type t, sl_buf *min, sl_buf *max,
                       bool *min_exact, bool *max_exact)
{
    sl_buf_reset(min);
    sl_buf_reset(max);
    *min_exact = *max_exact = true;
    if (!a->any)
        return false;
    switch (t) {
    case SL_PARQUET_BOOLEAN:
        sl_buf_append_char(min, (char)a->imin);
        sl_buf_append_char(max, (char)a->imax);
        return true;
    case SL_PARQUET_INT32:
        sl_parquet_put_le32(min, (uint32_t)a->imin);
        sl_parquet_put_le32(max, (uint32_t)a->imax);
        return true;
    case SL_PARQUET_DOUBLE: {
        /* Parquet's rule for zeros: a zero min is -0.0, a zero max is +0.0. */
        double dmin = a->dmin == 0 ? -0.0 : a->dmin;
        double dmax = a->dmax == 0 ? 0.0 : a->dmax;
        uint64_t bits;
        memcpy(&bits, &dmin, 8);
        sl_parquet_put_le64(min, bits);
        memcpy(&bits, &dmax, 8);
        sl_parquet_put_le64(max, bits);
        return true;
    }
    case SL_PARQUET_STRING: {
        size_t k = utf8_prefix(a->smin, SL_PARQUET_STATS_MAX_BYTES);
        sl_buf_append(min, a->smin.ptr, k);
        *min_exact = k == a->smin.len;
        if (a->smax.len <= SL_PARQUET_STATS_MAX_BYTES) {
            sl_buf_append(max, a->smax.ptr, a->smax.len);
        } else {
            *max_exact = false;
            if (!utf8_upper_bound(a->smax, SL_PARQUET_STATS_MAX_BYTES, max))
                return false;
        }
        return true;
    }
    default:
        sl_parquet_put_le64(min, (uint64_t)a->imin);
        sl_parquet_put_le64(max, (uint64_t)a->imax);
        return true;
    }
}

/* ---- encoding ---------------------------------------------------------- */

static int cmp_entries(const void *a, const void *b, void *arg)
{
    const sl_parquet_column_writer *cw = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    size_t lx = cw->dict_off[x + 1] - cw->dict_off[x], ly = cw->dict_off[y + 1] - cw->dict_off[y];
    int c = memcmp(cw->dict_bytes.data + cw->dict_off[x], cw->dict_bytes.data + cw->dict_off[y],
                   SL_MIN(lx, ly));
    if (c)
        return c;
    return lx < ly ? -1 : lx > ly;
}

/* Compress ctx->body as one page with header h into out. */
static int emit_page(sl_parquet_encode_ctx *ctx, sl_parquet_page_header *h, sl_parquet_chunk *out)
{
    if (ctx->body.len > INT32_MAX)
        return SL_ERR_TOOBIG;
    sl_buf_reset(&ctx->packed);
    int rc = sl_parquet_compress(ctx->codec_ctx, ctx->codec, ctx->level, ctx->body.data ? ctx->body.data : "",
                                 ctx->body.len, &ctx->packed);
    if (rc < 0)
        return rc;
    if (ctx->packed.len > INT32_MAX)
        return SL_ERR_TOOBIG;
    h->uncompressed_page_size = (int32_t)ctx->body.len;
    h->compressed_page_size = (int32_t)ctx->packed.len;
    sl_buf_reset(&ctx->header);
    sl_parquet_page_header_encode(h, &ctx->header);
    sl_buf_append(&out->bytes, ctx->header.data, ctx->header.len);
    sl_buf_append(&out->bytes, ctx->packed.data, ctx->packed.len);
    out->uncompressed_size += (int64_t)(ctx->header.len + ctx->body.len);
    return 0;
}

static void encode_plain_values(const sl_parquet_column_writer *cw, size_t v0, size_t v1, sl_buf *b)
{
    size_t n = v1 - v0;
    if (n == 0)
        return; /* a page of nulls; the value arrays may not even exist */
    switch (cw->type) {
    case SL_PARQUET_BOOLEAN:
        sl_parquet_plain_encode_bools(cw->bools + v0, n, b);
        return;
    case SL_PARQUET_INT32:
        sl_buf_reserve(b, 4 * n);
        for (size_t i = v0; i < v1; i++)
            sl_parquet_put_le32(b, (uint32_t)cw->i64[i]);
        return;
    case SL_PARQUET_DOUBLE:
    case SL_PARQUET_INT64:
    case SL_PARQUET_TIMESTAMP: {
        const void *src = cw->type == SL_PARQUET_DOUBLE ? (const void *)(cw->f64 + v0) : (const void *)(cw->i64 + v0);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        sl_buf_append(b, src, 8 * n);
#else
        sl_buf_reserve(b, 8 * n);
        for (size_t i = 0; i < n; i++) {
            uint64_t x;
            memcpy(&x, (const char *)src + 8 * i, 8);
            sl_parquet_put_le64(b, x);
        }
#endif
        return;
    }
    case SL_PARQUET_STRING:
        sl_buf_reserve(b, cw->str_off[v1] - cw->str_off[v0] + 4 * n);
        for (size_t i = v0; i < v1; i++) {
            uint32_t len = cw->str_off[i + 1] - cw->str_off[i];
            sl_parquet_put_le32(b, len);
            sl_buf_append(b, cw->str_bytes.data + cw->str_off[i], len);
        }
        return;
    }
}

int sl_parquet_column_writer_encode(sl_parquet_column_writer *cw, size_t nrows,
                                    sl_parquet_encode_ctx *ctx, sl_parquet_chunk *out)
{
    memset(out, 0, sizeof *out);
    pad_rows(cw, nrows);
    out->type = cw->type;
    out->num_values = (int64_t)nrows;
    out->null_count = (int64_t)(nrows - cw->nvalues);

    bool dict = cw->type == SL_PARQUET_STRING && cw->dict && cw->nvalues > 0;
    out->data_encoding = dict ? SL_PQ_ENC_RLE_DICTIONARY : SL_PQ_ENC_PLAIN;
    uint32_t *rank = NULL;
    int bw = 0;
    int rc = 0;
    sl_buf pmin = SL_BUF_INIT, pmax = SL_BUF_INIT;
    stats_acc chunk_acc = { 0 };

    if (dict) {
        /* Rank the entries so a page's min/max is a min/max of integers. */
        uint32_t *order = sl_malloc(cw->dict_n * sizeof *order);
        for (size_t e = 0; e < cw->dict_n; e++)
            order[e] = (uint32_t)e;
        qsort_r(order, cw->dict_n, sizeof *order, cmp_entries, cw);
        rank = sl_malloc(cw->dict_n * sizeof *rank);
        for (size_t r = 0; r < cw->dict_n; r++)
            rank[order[r]] = (uint32_t)r;
        uint32_t *by_rank = order; /* rank -> entry */
        sl_buf_reset(&ctx->body);
        sl_buf_reserve(&ctx->body, cw->dict_bytes.len + 4 * cw->dict_n);
        for (size_t e = 0; e < cw->dict_n; e++) {
            uint32_t len = cw->dict_off[e + 1] - cw->dict_off[e];
            sl_parquet_put_le32(&ctx->body, len);
            sl_buf_append(&ctx->body, cw->dict_bytes.data + cw->dict_off[e], len);
        }
        sl_parquet_page_header h = { .type = SL_PQ_PAGE_DICTIONARY, .has_dict = true,
                                     .dict_num_values = (int32_t)cw->dict_n,
                                     .dict_encoding = SL_PQ_ENC_PLAIN };
        rc = emit_page(ctx, &h, out);
        out->dict_page_len = out->bytes.len;
        bw = sl_parquet_bit_width(cw->dict_n - 1);
        if (bw == 0)
            bw = 1;
        if (rc < 0) {
            free(by_rank);
            goto done;
        }
        size_t r0 = 0, v0 = 0;
        while (r0 < nrows && rc == 0) {
            size_t r1 = r0, v1 = v0;
            size_t limit = SL_MIN(nrows, r0 + ctx->page_rows);
            /* dictionary pages are small (indices): only the row cap applies */
            while (r1 < limit) {
                v1 += cw->defs[r1];
                r1++;
            }
            sl_buf_reset(&ctx->body);
            sl_buf_append(&ctx->body, "\0\0\0\0", 4);
            sl_parquet_rle_encode_u8(cw->defs + r0, r1 - r0, 1, &ctx->body);
            uint32_t dlen = (uint32_t)(ctx->body.len - 4);
            for (int i = 0; i < 4; i++)
                ctx->body.data[i] = (char)(dlen >> (8 * i));
            sl_buf_append_char(&ctx->body, (char)bw);
            sl_parquet_rle_encode_u32(cw->idx + v0, v1 - v0, bw, &ctx->body);

            stats_acc acc = { 0 };
            if (v1 > v0) {
                uint32_t lo = UINT32_MAX, hi = 0;
                for (size_t i = v0; i < v1; i++) {
                    uint32_t r = rank[cw->idx[i]];
                    lo = r < lo ? r : lo;
                    hi = r > hi ? r : hi;
                }
                sl_parquet_value v = { .type = SL_PARQUET_STRING };
                uint32_t e = by_rank[lo];
                v.u.str = (sl_view){ cw->dict_bytes.data + cw->dict_off[e], cw->dict_off[e + 1] - cw->dict_off[e] };
                acc_value(&acc, &v);
                e = by_rank[hi];
                v.u.str = (sl_view){ cw->dict_bytes.data + cw->dict_off[e], cw->dict_off[e + 1] - cw->dict_off[e] };
                acc_value(&acc, &v);
            }
            acc_merge(&chunk_acc, &acc, cw->type);
            sl_parquet_page_header h2 = { .type = SL_PQ_PAGE_DATA, .has_data = true,
                                          .num_values = (int32_t)(r1 - r0),
                                          .encoding = SL_PQ_ENC_RLE_DICTIONARY,
                                          .def_encoding = SL_PQ_ENC_RLE, .rep_encoding = SL_PQ_ENC_RLE,
                                          .has_statistics = true };
            h2.statistics.has_null_count = true;
            h2.statistics.null_count = (int64_t)((r1 - r0) - (v1 - v0));
            h2.statistics.has_nan_count = cw->type == SL_PARQUET_DOUBLE;
            h2.statistics.nan_count = acc.nans;
            bool mine, maxe;
            if (acc_encode(&acc, cw->type, &pmin, &pmax, &mine, &maxe)) {
                h2.statistics.has_min = h2.statistics.has_max = true;
                h2.statistics.min_value = sl_buf_view(&pmin);
                h2.statistics.max_value = sl_buf_view(&pmax);
                h2.statistics.has_min_exact = h2.statistics.has_max_exact = true;
                h2.statistics.min_exact = mine;
                h2.statistics.max_exact = maxe;
            }
            rc = emit_page(ctx, &h2, out);
            out->n_data_pages++;
            r0 = r1;
            v0 = v1;
        }
        free(by_rank);
        goto stats;
    }

    {
        size_t r0 = 0, v0 = 0;
        size_t fsz = cw->type == SL_PARQUET_STRING ? 0 : fixed_size(cw->type);
        do {
            size_t r1 = r0, v1 = v0, bytes = 0;
            size_t limit = SL_MIN(nrows, r0 + ctx->page_rows);
            while (r1 < limit && bytes < ctx->page_bytes) {
                if (cw->defs[r1]) {
                    bytes += fsz ? fsz : 4 + (cw->str_off[v1 + 1] - cw->str_off[v1]);
                    v1++;
                }
                r1++;
            }
            sl_buf_reset(&ctx->body);
            sl_buf_append(&ctx->body, "\0\0\0\0", 4);
            sl_parquet_rle_encode_u8(cw->defs + r0, r1 - r0, 1, &ctx->body);
            uint32_t dlen = (uint32_t)(ctx->body.len - 4);
            for (int i = 0; i < 4; i++)
                ctx->body.data[i] = (char)(dlen >> (8 * i));
            encode_plain_values(cw, v0, v1, &ctx->body);

            stats_acc acc = { 0 };
            for (size_t i = v0; i < v1; i++) {
                sl_parquet_value v;
                value_at(cw, i, &v);
                acc_value(&acc, &v);
            }
            acc_merge(&chunk_acc, &acc, cw->type);
            sl_parquet_page_header h = { .type = SL_PQ_PAGE_DATA, .has_data = true,
                                         .num_values = (int32_t)(r1 - r0),
                                         .encoding = SL_PQ_ENC_PLAIN,
                                         .def_encoding = SL_PQ_ENC_RLE, .rep_encoding = SL_PQ_ENC_RLE,
                                         .has_statistics = true };
            h.statistics.has_null_count = true;
            h.statistics.null_count = (int64_t)((r1 - r0) - (v1 - v0));
            h.statistics.has_nan_count = cw->type == SL_PARQUET_DOUBLE;
            h.statistics.nan_count = acc.nans;
            bool mine, maxe;
            if (acc_encode(&acc, cw->type, &pmin, &pmax, &mine, &maxe)) {
                h.statistics.has_min = h.statistics.has_max = true;
                h.statistics.min_value = sl_buf_view(&pmin);
                h.statistics.max_value = sl_buf_view(&pmax);
                h.statistics.has_min_exact = h.statistics.has_max_exact = true;
                h.statistics.min_exact = mine;
                h.statistics.max_exact = maxe;
            }
            rc = emit_page(ctx, &h, out);
            out->n_data_pages++;
            r0 = r1;
            v0 = v1;
        } while (r0 < nrows && rc == 0);
    }

stats:
    out->nan_count = chunk_acc.nans;
    if (rc == 0)
        out->has_min_max = acc_encode(&chunk_acc, cw->type, &out->min, &out->max, &out->min_exact,
                                      &out->max_exact);
done:
    free(rank);
    sl_buf_free(&pmin);
    sl_buf_free(&pmax);
    if (rc < 0)
        sl_parquet_chunk_free(out);
    return rc;
}
