/*
 * parquet_reader.c - open a flat Parquet file and walk its rows
 * (see parquet_reader.h).
 *
 * Opening reads only the footer: the last 8 bytes give its length, the
 * FileMetaData is decoded with views into the file, and the schema is
 * checked to be one root with leaf children. Rows are produced by one
 * column reader per column of the current row group, advanced in lockstep;
 * a row group's chunk ranges and value counts are checked when it starts.
 */
#include "lake/parquet/parquet_reader.h"
#include "core/alloc.h"
#include "core/timestamp.h"
#include "lake/parquet/codec.h"
#include "lake/parquet/metadata.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_PAGE_BYTES (256u << 20)

struct sl_parquet_reader {
    const uint8_t *data;
    size_t len;
    void *owned;                  /* the file's bytes when we read them */
    size_t footer_start;          /* end of the column data */
    sl_parquet_reader_options o;
    sl_parquet_arena arena;
    sl_parquet_file_meta meta;
    sl_parquet_column_info *cols;
    const sl_parquet_schema_element **leaf;
    size_t ncols;
    sl_parquet_codec_ctx *codec_ctx;
    /* row iteration */
    size_t rg;                    /* next row group to start */
    int64_t rows_left;            /* in the current row group */
    sl_parquet_column_reader *readers;
    bool readers_live;
    sl_parquet_value *values;
    int failed;
    char message[160];
};

static void set_message(sl_parquet_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_message(sl_parquet_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

/* The type values of a leaf come out as; 0 when sluice cannot read it. */
static sl_parquet_type value_type(const sl_parquet_schema_element *e, int *ts_unit)
{
    *ts_unit = 0;
    switch (e->type) {
    case SL_PQ_BOOLEAN:
        return SL_PARQUET_BOOLEAN;
    case SL_PQ_INT32:
        return SL_PARQUET_INT32;
    case SL_PQ_INT64:
        if (e->logical_type == SL_PQ_LT_TIMESTAMP && e->ts_unit >= SL_PQ_UNIT_MILLIS &&
            e->ts_unit <= SL_PQ_UNIT_NANOS) {
            *ts_unit = e->ts_unit;
            return SL_PARQUET_TIMESTAMP;
        }
        if (e->converted_type == SL_PQ_CT_TIMESTAMP_MICROS) {
            *ts_unit = SL_PQ_UNIT_MICROS;
            return SL_PARQUET_TIMESTAMP;
        }
        if (e->converted_type == SL_PQ_CT_TIMESTAMP_MILLIS) {
            *ts_unit = SL_PQ_UNIT_MILLIS;
            return SL_PARQUET_TIMESTAMP;
        }
        return SL_PARQUET_INT64;
    case SL_PQ_INT96:
        return SL_PARQUET_TIMESTAMP;
    case SL_PQ_FLOAT:
    case SL_PQ_DOUBLE:
        return SL_PARQUET_DOUBLE;
    case SL_PQ_BYTE_ARRAY:
        return SL_PARQUET_STRING;
    case SL_PQ_FIXED_LEN_BYTE_ARRAY:
        return e->type_length > 0 ? SL_PARQUET_STRING : 0;
    default:
        return 0;
    }
}

static int open_fail(sl_parquet_reader *r, int rc, char *err, size_t err_len)
{
    if (err && err_len)
        snprintf(err, err_len, "%s", r->message);
    sl_parquet_reader_free(r);
    return rc;
}

int sl_parquet_reader_open_mem(sl_parquet_reader **out, const void *data, size_t len,
                               const sl_parquet_reader_options *o, char *err, size_t err_len)
{
    *out = NULL;
    sl_parquet_reader *r = sl_calloc(1, sizeof *r);
    r->data = data;
    r->len = len;
    if (o)
        r->o = *o;
    if (!r->o.max_page_bytes)
        r->o.max_page_bytes = DEFAULT_MAX_PAGE_BYTES;

    if (!data || len < 12 || memcmp(r->data, "PAR1", 4) != 0 || memcmp(r->data + len - 4, "PAR1", 4) != 0) {
        set_message(r, "not a Parquet file (no PAR1 magic at both ends)");
        return open_fail(r, SL_ERR_CORRUPT, err, err_len);
    }
    uint32_t flen = sl_parquet_get_le32(r->data + len - 8);
    if (flen > len - 12) {
        set_message(r, "footer length %u exceeds the file", flen);
        return open_fail(r, SL_ERR_CORRUPT, err, err_len);
    }
    r->footer_start = len - 8 - flen;
    if (sl_parquet_file_meta_decode(r->data + r->footer_start, flen, &r->arena, &r->meta) < 0) {
        set_message(r, "damaged footer (FileMetaData)");
        return open_fail(r, SL_ERR_CORRUPT, err, err_len);
    }
    const sl_parquet_file_meta *m = &r->meta;
    if (m->n_schema < 1 || m->schema[0].num_children < 0 ||
        (size_t)m->schema[0].num_children != m->n_schema - 1) {
        set_message(r, "unsupported schema: only a root with leaf columns is read");
        return open_fail(r, m->n_schema < 1 ? SL_ERR_CORRUPT : SL_PARQUET_ERR_UNSUPPORTED, err, err_len);
    }
    r->ncols = m->n_schema - 1;
    r->cols = sl_calloc(r->ncols ? r->ncols : 1, sizeof *r->cols);
    r->leaf = sl_calloc(r->ncols ? r->ncols : 1, sizeof *r->leaf);
    for (size_t i = 0; i < r->ncols; i++) {
        const sl_parquet_schema_element *e = &m->schema[i + 1];
        int unit;
        if (e->num_children > 0 || e->type < 0) {
            set_message(r, "unsupported schema: column %zu is a group (nested data)", i);
            return open_fail(r, SL_PARQUET_ERR_UNSUPPORTED, err, err_len);
        }
        if (e->repetition == SL_PQ_REPEATED || (e->repetition != SL_PQ_OPTIONAL && e->repetition != SL_PQ_REQUIRED)) {
            set_message(r, "unsupported schema: column %zu is repeated", i);
            return open_fail(r, SL_PARQUET_ERR_UNSUPPORTED, err, err_len);
        }
        sl_parquet_type t = value_type(e, &unit);
        if (!t) {
            set_message(r, "unsupported physical type %d in column %zu", e->type, i);
            return open_fail(r, SL_PARQUET_ERR_UNSUPPORTED, err, err_len);
        }
        r->cols[i].name = sl_strndup(e->name.ptr ? e->name.ptr : "", e->name.len);
        r->cols[i].name_len = e->name.len;
        r->cols[i].type = t;
        r->cols[i].physical = e->type;
        r->cols[i].optional = e->repetition == SL_PQ_OPTIONAL;
        r->leaf[i] = e;
    }
    r->codec_ctx = sl_parquet_codec_ctx_new();
    r->readers = sl_calloc(r->ncols ? r->ncols : 1, sizeof *r->readers);
    r->values = sl_calloc(r->ncols ? r->ncols : 1, sizeof *r->values);
    *out = r;
    return 0;
}

int sl_parquet_reader_open_file(sl_parquet_reader **out, const char *path,
                                const sl_parquet_reader_options *o, char *err, size_t err_len)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (err && err_len)
            snprintf(err, err_len, "%s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    size_t size = (size_t)st.st_size;
    char *buf = sl_try_malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    int rc = sl_parquet_reader_open_mem(out, buf, got, o, err, err_len);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    (*out)->owned = buf;
    return 0;
}

static void readers_free(sl_parquet_reader *r)
{
    if (!r->readers_live)
        return;
    for (size_t c = 0; c < r->ncols; c++)
        sl_parquet_column_reader_free(&r->readers[c]);
    r->readers_live = false;
}

void sl_parquet_reader_free(sl_parquet_reader *r)
{
    if (!r)
        return;
    readers_free(r);
    for (size_t i = 0; i < r->ncols; i++)
        free((char *)r->cols[i].name);
    free(r->cols);
    free(r->leaf);
    free(r->readers);
    free(r->values);
    sl_parquet_codec_ctx_free(r->codec_ctx);
    sl_parquet_arena_free(&r->arena);
    free(r->owned);
    free(r);
}

int64_t sl_parquet_reader_num_rows(const sl_parquet_reader *r) { return r->meta.num_rows; }
size_t sl_parquet_reader_num_row_groups(const sl_parquet_reader *r) { return r->meta.n_row_groups; }
size_t sl_parquet_reader_num_columns(const sl_parquet_reader *r) { return r->ncols; }
size_t sl_parquet_reader_num_metadata(const sl_parquet_reader *r) { return r->meta.n_kv; }
const char *sl_parquet_reader_message(const sl_parquet_reader *r) { return r->message; }

int64_t sl_parquet_reader_row_group_rows(const sl_parquet_reader *r, size_t rg)
{
    return rg < r->meta.n_row_groups ? r->meta.row_groups[rg].num_rows : 0;
}

const sl_parquet_column_info *sl_parquet_reader_column(const sl_parquet_reader *r, size_t i)
{
    return i < r->ncols ? &r->cols[i] : NULL;
}

void sl_parquet_reader_metadata(const sl_parquet_reader *r, size_t i, sl_view *key, sl_view *value)
{
    *key = *value = SL_VIEW_NULL;
    if (i >= r->meta.n_kv)
        return;
    *key = r->meta.kv[i].key;
    if (r->meta.kv[i].has_value)
        *value = r->meta.kv[i].value;
}

bool sl_parquet_reader_find_metadata(const sl_parquet_reader *r, const char *key, sl_view *value)
{
    for (size_t i = r->meta.n_kv; i-- > 0;) {
        if (sl_view_eq_str(r->meta.kv[i].key, key)) {
            *value = r->meta.kv[i].has_value ? r->meta.kv[i].value : SL_VIEW_NULL;
            return true;
        }
    }
    return false;
}

sl_view sl_parquet_reader_created_by(const sl_parquet_reader *r)
{
    return r->meta.has_created_by ? r->meta.created_by : SL_VIEW_NULL;
}

/* Decode a PLAIN statistics value of column col. */
static bool stat_value(const sl_parquet_reader *r, size_t col, sl_view raw, sl_parquet_value *v)
{
    const sl_parquet_column_info *c = &r->cols[col];
    const uint8_t *p = (const uint8_t *)raw.ptr;
    int unit;
    value_type(r->leaf[col], &unit);
    v->type = c->type;
    v->is_null = false;
    switch (c->physical) {
    case SL_PQ_BOOLEAN:
        if (raw.len != 1)
            return false;
        v->u.b = p[0] != 0;
        return true;
    case SL_PQ_INT32:
        if (raw.len != 4)
            return false;
        v->u.i64 = (int32_t)sl_parquet_get_le32(p);
        return true;
    case SL_PQ_INT64:
        if (raw.len != 8)
            return false;
        v->u.i64 = (int64_t)sl_parquet_get_le64(p);
        if (unit == SL_PQ_UNIT_MILLIS && !__builtin_mul_overflow(v->u.i64, 1000, &v->u.i64))
            return true;
        if (unit == SL_PQ_UNIT_MILLIS)
            return false;
        if (unit == SL_PQ_UNIT_NANOS)
            v->u.i64 = v->u.i64 / 1000 - (v->u.i64 % 1000 < 0);
        return true;
    case SL_PQ_FLOAT: {
        if (raw.len != 4)
            return false;
        uint32_t bits = sl_parquet_get_le32(p);
        float f;
        memcpy(&f, &bits, 4);
        v->u.f64 = f;
        return true;
    }
    case SL_PQ_DOUBLE: {
        if (raw.len != 8)
            return false;
        uint64_t bits = sl_parquet_get_le64(p);
        memcpy(&v->u.f64, &bits, 8);
        return true;
    }
    case SL_PQ_BYTE_ARRAY:
    case SL_PQ_FIXED_LEN_BYTE_ARRAY:
        v->u.str = raw;
        return true;
    default:
        return false;
    }
}

int sl_parquet_reader_column_stats(const sl_parquet_reader *r, size_t rg, size_t col,
                                   sl_parquet_column_stats *st)
{
    memset(st, 0, sizeof *st);
    if (rg >= r->meta.n_row_groups || col >= r->ncols || col >= r->meta.row_groups[rg].n_columns)
        return SL_ERR_RANGE;
    const sl_parquet_column_chunk *cc = &r->meta.row_groups[rg].columns[col];
    if (!cc->has_meta)
        return SL_ERR_CORRUPT;
    const sl_parquet_column_meta *m = &cc->meta;
    st->codec = m->codec;
    st->dictionary = m->has_dictionary_page_offset;
    if (!m->has_statistics)
        return 0;
    const sl_parquet_statistics *s = &m->statistics;
    st->has_null_count = s->has_null_count;
    st->null_count = s->null_count;
    st->has_nan_count = s->has_nan_count;
    st->nan_count = s->nan_count;
    if (s->has_min && s->has_max)
        st->has_min_max = stat_value(r, col, s->min_value, &st->min) &&
                          stat_value(r, col, s->max_value, &st->max);
    return 0;
}

/* Check row group g and set up a column reader per column. */
static int start_row_group(sl_parquet_reader *r, size_t g)
{
    const sl_parquet_row_group *rg = &r->meta.row_groups[g];
    if (rg->num_rows < 0) {
        set_message(r, "row group %zu: negative row count", g);
        return SL_ERR_CORRUPT;
    }
    if (r->ncols == 0 && rg->num_rows > 0) {
        set_message(r, "row group %zu has rows but the schema no columns", g);
        return SL_ERR_CORRUPT;
    }
    if (rg->n_columns != r->ncols) {
        set_message(r, "row group %zu has %zu columns, the schema %zu", g, rg->n_columns, r->ncols);
        return SL_ERR_CORRUPT;
    }
    for (size_t c = 0; c < r->ncols; c++) {
        const sl_parquet_column_chunk *cc = &rg->columns[c];
        const sl_parquet_column_meta *m = &cc->meta;
        if (!cc->has_meta) {
            set_message(r, "row group %zu column %zu: no ColumnMetaData", g, c);
            return SL_ERR_CORRUPT;
        }
        if (m->type != r->cols[c].physical || m->num_values != rg->num_rows) {
            set_message(r, "row group %zu column '%s': type or value count disagrees with the schema",
                        g, r->cols[c].name);
            return SL_ERR_CORRUPT;
        }
        if (!sl_parquet_codec_available((sl_parquet_codec)m->codec)) {
            set_message(r, "row group %zu column '%s': compression codec %d is not supported by this build",
                        g, r->cols[c].name, m->codec);
            return SL_PARQUET_ERR_UNSUPPORTED;
        }
        int64_t start = m->data_page_offset;
        if (m->has_dictionary_page_offset && m->dictionary_page_offset > 0 &&
            m->dictionary_page_offset < start)
            start = m->dictionary_page_offset;
        if (start < 4 || m->total_compressed_size < 0 || (uint64_t)start > r->footer_start ||
            (uint64_t)m->total_compressed_size > r->footer_start - (uint64_t)start) {
            set_message(r, "row group %zu column '%s': column chunk outside the file", g, r->cols[c].name);
            return SL_ERR_CORRUPT;
        }
    }
    readers_free(r);
    for (size_t c = 0; c < r->ncols; c++) {
        const sl_parquet_column_meta *m = &rg->columns[c].meta;
        int64_t start = m->data_page_offset;
        if (m->has_dictionary_page_offset && m->dictionary_page_offset > 0 &&
            m->dictionary_page_offset < start)
            start = m->dictionary_page_offset;
        int unit;
        value_type(r->leaf[c], &unit);
        sl_parquet_column_reader_config cfg = {
            .physical = r->cols[c].physical, .type = r->cols[c].type, .ts_unit = unit,
            .type_length = r->leaf[c]->type_length, .max_def = r->cols[c].optional ? 1 : 0,
            .codec = m->codec, .num_values = m->num_values, .max_page_bytes = r->o.max_page_bytes,
            .codec_ctx = r->codec_ctx,
        };
        sl_parquet_column_reader_init(&r->readers[c], r->data + start, (size_t)m->total_compressed_size, &cfg);
    }
    r->readers_live = true;
    r->rows_left = rg->num_rows;
    return 0;
}

int sl_parquet_reader_next_row(sl_parquet_reader *r, const sl_parquet_value **values)
{
    if (r->failed)
        return r->failed;
    while (r->rows_left == 0) {
        if (r->rg >= r->meta.n_row_groups)
            return 0;
        int rc = start_row_group(r, r->rg++);
        if (rc < 0)
            return r->failed = rc;
    }
    for (size_t c = 0; c < r->ncols; c++) {
        int rc = sl_parquet_column_reader_next(&r->readers[c], &r->values[c]);
        if (rc <= 0) {
            if (rc == 0)
                rc = SL_ERR_CORRUPT;
            set_message(r, "row group %zu column '%s': %s", r->rg - 1, r->cols[c].name,
                        rc == SL_PARQUET_ERR_UNSUPPORTED ? "unsupported encoding" : sl_strerror(rc));
            return r->failed = rc;
        }
    }
    r->rows_left--;
    *values = r->values;
    return 1;
}

/* ---- JSON -------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 if invalid. */
static size_t utf8_sequence(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    uint32_t cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static void append_json_text(sl_buf *out, sl_view s)
{
    const uint8_t *p = (const uint8_t *)s.ptr;
    size_t i = 0;
    while (i < s.len) {
        size_t k = utf8_sequence(p + i, s.len - i);
        if (!k)
            break;
        i += k;
    }
    if (i == s.len) {
        sl_buf_append_json_string(out, s.ptr ? s.ptr : "", s.len);
        return;
    }
    sl_buf clean = SL_BUF_INIT;
    for (i = 0; i < s.len;) {
        size_t k = utf8_sequence(p + i, s.len - i);
        if (k) {
            sl_buf_append(&clean, p + i, k);
            i += k;
        } else {
            sl_buf_append(&clean, "\xEF\xBF\xBD", 3); /* U+FFFD */
            i++;
        }
    }
    sl_buf_append_json_string(out, clean.data, clean.len);
    sl_buf_free(&clean);
}

void sl_parquet_value_to_json(const sl_parquet_value *v, sl_buf *out)
{
    if (v->is_null) {
        sl_buf_append_str(out, "null");
        return;
    }
    switch (v->type) {
    case SL_PARQUET_DOUBLE:
        if (!isfinite(v->u.f64)) {
            sl_buf_append_str(out, "null");
            return;
        }
        sl_parquet_value_to_text(v, out);
        return;
    case SL_PARQUET_STRING:
        append_json_text(out, v->u.str);
        return;
    case SL_PARQUET_TIMESTAMP: {
        char tmp[48];
        sl_timestamp_format_iso(v->u.i64, tmp, sizeof tmp);
        append_json_text(out, sl_view_of(tmp));
        return;
    }
    default:
        sl_parquet_value_to_text(v, out);
        return;
    }
}

void sl_parquet_reader_row_json(const sl_parquet_reader *r, const sl_parquet_value *values,
                                unsigned flags, sl_buf *out)
{
    sl_buf_append_char(out, '{');
    bool first = true;
    for (size_t c = 0; c < r->ncols; c++) {
        if (values[c].is_null && !(flags & SL_PARQUET_JSON_NULLS))
            continue;
        if (!first)
            sl_buf_append_char(out, ',');
        first = false;
        append_json_text(out, (sl_view){ r->cols[c].name, r->cols[c].name_len });
        sl_buf_append_char(out, ':');
        sl_parquet_value_to_json(&values[c], out);
    }
    sl_buf_append_char(out, '}');
}

int sl_parquet_reader_next_json(sl_parquet_reader *r, unsigned flags, sl_buf *out)
{
    const sl_parquet_value *values;
    int rc = sl_parquet_reader_next_row(r, &values);
    if (rc <= 0)
        return rc;
    sl_parquet_reader_row_json(r, values, flags, out);
    return 1;
}
