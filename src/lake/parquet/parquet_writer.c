/*
 * parquet_writer.c - the Parquet encoder: rows in, one file out
 * (see parquet_writer.h for the contract).
 *
 * The file sluice writes:
 *
 *   offset 0
 *   +--------------------------------------------------------------------+
 *   | "PAR1"                                              4-byte magic    |
 *   +====================================================================+
 *   | row group 0                                                        |
 *   |  +--------------------------------------------------------------+  |
 *   |  | column chunk "ts"          (INT64 TIMESTAMP(MICROS, UTC))    |  |
 *   |  |   [page header | data page] ...                              |  |
 *   |  +--------------------------------------------------------------+  |
 *   |  | column chunk "level"       (BYTE_ARRAY STRING, dictionary)   |  |
 *   |  |   [page header | dictionary page]                            |  |
 *   |  |   [page header | data page: def levels + RLE_DICTIONARY] ... |  |
 *   |  +--------------------------------------------------------------+  |
 *   |  | column chunk "metadata.status_code"   (INT64, PLAIN)         |  |
 *   |  |   [page header | data page: def levels + PLAIN values] ...   |  |
 *   |  +--------------------------------------------------------------+  |
 *   |  | ... one chunk per column, in schema order                    |  |
 *   |  +--------------------------------------------------------------+  |
 *   +====================================================================+
 *   | row group 1 ... (a new one every row_group_rows / _bytes)         |
 *   +====================================================================+
 *   | FileMetaData (Thrift compact)                                     |
 *   |   version 1, schema [root "schema" + one OPTIONAL leaf per       |
 *   |   column], num_rows, row_groups [columns [ColumnMetaData: type,  |
 *   |   encodings, path, codec, sizes, page offsets, Statistics]],     |
 *   |   key_value_metadata [sluice.schema, caller's keys],             |
 *   |   created_by "sluice version X", column_orders [TYPE_ORDER ...]  |
 *   +--------------------------------------------------------------------+
 *   | footer length                                    4 bytes LE        |
 *   | "PAR1"                                           4-byte magic      |
 *   +--------------------------------------------------------------------+
 *
 * Each page is a Thrift PageHeader followed by its body compressed on its
 * own (column_writer.c draws a chunk's pages). Offsets in the footer are
 * absolute; chunks are position-independent until then, which is what lets
 * finish re-encode or insert chunks (a column widened or added after some
 * row groups were encoded) before a single offset is fixed.
 */
#include "lake/parquet/parquet_writer.h"
#include "core/alloc.h"
#include "lake/parquet/column_reader.h"
#include "lake/parquet/column_writer.h"
#include "lake/parquet/metadata.h"
#include "lake/parquet/parquet_writer_int.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

#define DEFAULT_ROW_GROUP_ROWS  131072
#define DEFAULT_ROW_GROUP_BYTES (128u << 20)
#define MAX_ROW_GROUP_BYTES     (1u << 30)
#define DEFAULT_PAGE_BYTES      (1u << 20)
#define DEFAULT_PAGE_ROWS       20000
#define DEFAULT_DICT_LIMIT      (1u << 20)

void sl_parquet_writer_options_default(sl_parquet_writer_options *o)
{
    memset(o, 0, sizeof *o);
    o->codec = SL_PARQUET_ZSTD;
}

void sl_parquet_writer_set_metadata(sl_parquet_writer *w, const char *key, sl_view value)
{
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            sl_buf_reset(&w->kv[i].value);
            sl_buf_append(&w->kv[i].value, value.ptr, value.len);
            return;
        }
    }
    w->kv = sl_realloc(w->kv, (w->n_kv + 1) * sizeof *w->kv);
    kv_entry *e = &w->kv[w->n_kv++];
    e->key = sl_strdup(key);
    e->value = SL_BUF_INIT;
    sl_buf_append(&e->value, value.ptr, value.len);
}

static size_t dict_limit(const sl_parquet_writer *w)
{
    return w->o.no_dictionary ? 0 : w->o.dict_limit;
}

/* Append a column to the schema and its buffer; returns its index. */
static int add_column(sl_parquet_writer *w, const char *name, size_t len, sl_parquet_type t)
{
    int idx = sl_parquet_schema_add(&w->schema, name, len, t);
    if (idx < 0)
        return idx;
    if (w->schema.n > w->cols_cap) {
        w->cols_cap = w->cols_cap ? w->cols_cap * 2 : 32;
        w->cols = sl_realloc(w->cols, w->cols_cap * sizeof *w->cols);
    }
    sl_parquet_column_writer_init(&w->cols[idx], t, dict_limit(w));
    return idx;
}

int sl_parquet_writer_new(sl_parquet_writer **out, const sl_parquet_writer_options *opts)
{
    sl_parquet_writer_options o;
    if (opts)
        o = *opts;
    else
        sl_parquet_writer_options_default(&o);
    *out = NULL;
    if (!sl_parquet_codec_available(o.codec))
        return SL_ERR_CONFIG;
    if (!o.row_group_rows)
        o.row_group_rows = DEFAULT_ROW_GROUP_ROWS;
    if (!o.row_group_bytes)
        o.row_group_bytes = DEFAULT_ROW_GROUP_BYTES;
    if (o.row_group_bytes > MAX_ROW_GROUP_BYTES)
        o.row_group_bytes = MAX_ROW_GROUP_BYTES;
    if (!o.page_bytes)
        o.page_bytes = DEFAULT_PAGE_BYTES;
    if (!o.page_rows)
        o.page_rows = DEFAULT_PAGE_ROWS;
    if (!o.dict_limit)
        o.dict_limit = DEFAULT_DICT_LIMIT;
    if (o.row_group_rows > INT32_MAX || o.compression_level < -7 || o.compression_level > 22 ||
        (o.codec == SL_PARQUET_GZIP && (o.compression_level > 9 || o.compression_level < -1)))
        return SL_ERR_CONFIG;

    sl_parquet_writer *w = sl_calloc(1, sizeof *w);
    w->ts_column = sl_strdup(o.ts_column ? o.ts_column : "ts");
    w->ts_len = strlen(w->ts_column);
    w->o = o;
    w->o.ts_column = w->ts_column;
    w->o.schema = NULL;
    w->o.kv = NULL;
    w->o.n_kv = 0;
    w->codec_ctx = sl_parquet_codec_ctx_new();
    w->ectx.codec = o.codec;
    w->ectx.level = o.compression_level;
    w->ectx.codec_ctx = w->codec_ctx;
    w->ectx.page_bytes = o.page_bytes;
    w->ectx.page_rows = o.page_rows;

    add_column(w, w->ts_column, strlen(w->ts_column), SL_PARQUET_TIMESTAMP);
    if (o.schema) {
        for (size_t i = 0; i < o.schema->n; i++) {
            const sl_parquet_column_def *c = &o.schema->cols[i];
            if (strcmp(c->name, w->ts_column) == 0)
                continue;
            add_column(w, c->name, c->name_len, c->type);
        }
    }
    for (size_t i = 0; i < o.n_kv; i++)
        if (o.kv[i].key)
            sl_parquet_writer_set_metadata(w, o.kv[i].key, sl_view_of(o.kv[i].value));
    *out = w;
    return 0;
}

void sl_parquet_writer_free(sl_parquet_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->schema.n; i++)
        sl_parquet_column_writer_free(&w->cols[i]);
    free(w->cols);
    for (size_t g = 0; g < w->n_groups; g++) {
        for (size_t c = 0; c < w->groups[g].n_chunks; c++)
            sl_parquet_chunk_free(&w->groups[g].chunks[c]);
        free(w->groups[g].chunks);
    }
    free(w->groups);
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        sl_buf_free(&w->kv[i].value);
    }
    free(w->kv);
    sl_parquet_schema_free(&w->schema);
    sl_parquet_codec_ctx_free(w->codec_ctx);
    sl_buf_free(&w->ectx.body);
    sl_buf_free(&w->ectx.packed);
    sl_buf_free(&w->ectx.header);
    sl_buf_free(&w->name);
    sl_buf_free(&w->text);
    sl_buf_free(&w->conv);
    free(w->pred);
    free(w->ts_column);
    free(w);
}

/* ---- row groups -------------------------------------------------------- */

int sl_parquet_writer_flush_row_group(sl_parquet_writer *w)
{
    if (w->finished)
        return SL_ERR_CLOSED;
    if (w->rg_rows == 0)
        return 0;
    size_t n = w->schema.n;
    sl_parquet_chunk *chunks = sl_calloc(n, sizeof *chunks);
    for (size_t c = 0; c < n; c++) {
        int rc = sl_parquet_column_writer_encode(&w->cols[c], w->rg_rows, &w->ectx, &chunks[c]);
        if (rc < 0) {
            for (size_t k = 0; k < c; k++)
                sl_parquet_chunk_free(&chunks[k]);
            free(chunks);
            return rc;
        }
    }
    for (size_t c = 0; c < n; c++) {
        w->encoded_bytes += chunks[c].bytes.len;
        sl_parquet_column_writer_reset(&w->cols[c], w->schema.cols[c].type);
    }
    if (w->n_groups == w->groups_cap) {
        w->groups_cap = w->groups_cap ? w->groups_cap * 2 : 8;
        w->groups = sl_realloc(w->groups, w->groups_cap * sizeof *w->groups);
    }
    w->groups[w->n_groups++] = (encoded_row_group){ chunks, n, (int64_t)w->rg_rows };
    w->rg_rows = 0;
    return 0;
}

static uint64_t buffered_bytes(const sl_parquet_writer *w)
{
    uint64_t sum = 0;
    for (size_t c = 0; c < w->schema.n; c++)
        sum += w->cols[c].plain_bytes;
    return sum;
}

int sl_parquet_writer_row_begin(sl_parquet_writer *w, int64_t ts_us)
{
    if (w->finished)
        return SL_ERR_CLOSED;
    if (w->in_row)
        sl_parquet_writer_row_end(w);
    /* The byte limit is checked every 64 rows: summing the columns costs one add each. */
    if (w->rg_rows >= w->o.row_group_rows ||
        (w->rg_rows % 64 == 0 && w->rg_rows > 0 && buffered_bytes(w) >= w->o.row_group_bytes)) {
        int rc = sl_parquet_writer_flush_row_group(w);
        if (rc < 0)
            return rc;
    }
    w->in_row = true;
    w->row_cols = w->schema.n;
    sl_parquet_value v = { .type = SL_PARQUET_TIMESTAMP, .is_null = ts_us == SL_PARQUET_TS_NULL };
    v.u.i64 = ts_us;
    sl_parquet_column_writer_put(&w->cols[0], w->rg_rows, &v);
    return 0;
}

void sl_parquet_writer_row_abandon(sl_parquet_writer *w)
{
    if (!w->in_row)
        return;
    for (size_t c = w->row_cols; c < w->schema.n; c++)
        sl_parquet_column_writer_free(&w->cols[c]);
    sl_parquet_schema_truncate(&w->schema, w->row_cols);
    for (size_t c = 0; c < w->schema.n; c++)
        sl_parquet_column_writer_unset(&w->cols[c], w->rg_rows);
    w->in_row = false;
}

int sl_parquet_writer_row_end(sl_parquet_writer *w)
{
    if (!w->in_row)
        return w->finished ? SL_ERR_CLOSED : 0;
    w->in_row = false;
    w->rg_rows++;
    w->total_rows++;
    return 0;
}

/* Put v (any type) into column idx of the current row, widening the column if needed. */
void sl_parquet_writer_put(sl_parquet_writer *w, int idx, const sl_parquet_value *v)
{
    sl_parquet_column_def *def = &w->schema.cols[idx];
    sl_parquet_column_writer *cw = &w->cols[idx];
    if (v->is_null) {
        sl_parquet_column_writer_put(cw, w->rg_rows, v);
        return;
    }
    if (v->type != def->type) {
        sl_parquet_type joined = sl_parquet_type_join(def->type, v->type);
        if (joined != def->type) {
            sl_parquet_column_writer_widen(cw, joined);
            def->type = joined;
        }
        sl_parquet_value conv;
        sl_parquet_value_convert(v, joined, &conv, &w->conv);
        sl_parquet_column_writer_put(cw, w->rg_rows, &conv);
        return;
    }
    sl_parquet_column_writer_put(cw, w->rg_rows, v);
}

/* The column for name, created for a non-null value; -1 to drop the value. */
int sl_parquet_writer_column_for(sl_parquet_writer *w, const char *name, size_t len, const sl_parquet_value *v)
{
    int idx = sl_parquet_schema_find(&w->schema, name, len);
    if (idx < 0 && !v->is_null)
        idx = add_column(w, name, len, v->type);
    return idx;
}

int sl_parquet_writer_set_value(sl_parquet_writer *w, sl_view name, const sl_parquet_value *v)
{
    if (!w->in_row)
        return w->finished ? SL_ERR_CLOSED : SL_ERR;
    if (!v->is_null && v->type == SL_PARQUET_STRING && v->u.str.len > SL_PARQUET_MAX_VALUE_BYTES)
        return SL_ERR_TOOBIG;
    int idx = sl_parquet_writer_column_for(w, name.ptr ? name.ptr : "", name.len, v);
    if (idx <= 0) /* absent and null, or the ts column */
        return 0;
    sl_parquet_writer_put(w, idx, v);
    return 0;
}

int sl_parquet_writer_set_bool(sl_parquet_writer *w, sl_view name, bool b)
{
    sl_parquet_value v = { .type = SL_PARQUET_BOOLEAN, .u.b = b };
    return sl_parquet_writer_set_value(w, name, &v);
}

int sl_parquet_writer_set_int64(sl_parquet_writer *w, sl_view name, int64_t i)
{
    sl_parquet_value v = { .type = SL_PARQUET_INT64, .u.i64 = i };
    return sl_parquet_writer_set_value(w, name, &v);
}

int sl_parquet_writer_set_double(sl_parquet_writer *w, sl_view name, double d)
{
    sl_parquet_value v = { .type = SL_PARQUET_DOUBLE, .u.f64 = d };
    return sl_parquet_writer_set_value(w, name, &v);
}

int sl_parquet_writer_set_string(sl_parquet_writer *w, sl_view name, sl_view s)
{
    sl_parquet_value v = { .type = SL_PARQUET_STRING, .u.str = s };
    if (!s.ptr)
        v.u.str.ptr = "";
    return sl_parquet_writer_set_value(w, name, &v);
}

/* ---- finishing --------------------------------------------------------- */

void sl_parquet_writer_stats_get(const sl_parquet_writer *w, sl_parquet_writer_stats *st)
{
    st->rows = w->total_rows;
    st->row_groups = w->n_groups;
    st->buffered_rows = w->rg_rows;
    st->buffered_bytes = buffered_bytes(w);
    st->encoded_bytes = w->encoded_bytes;
    st->columns = w->schema.n;
}

const sl_parquet_schema *sl_parquet_writer_schema(const sl_parquet_writer *w)
{
    return &w->schema;
}

static int physical_of(sl_parquet_type t)
{
    switch (t) {
    case SL_PARQUET_BOOLEAN: return SL_PQ_BOOLEAN;
    case SL_PARQUET_INT32: return SL_PQ_INT32;
    case SL_PARQUET_DOUBLE: return SL_PQ_DOUBLE;
    case SL_PARQUET_STRING: return SL_PQ_BYTE_ARRAY;
    default: return SL_PQ_INT64;
    }
}

/*
 * Make chunk c of a row group match the final schema: a column added after
 * the group was encoded gets a chunk of nulls; a column widened since is
 * decoded and encoded again with the wider type.
 */
static int conform_chunk(sl_parquet_writer *w, encoded_row_group *g, size_t c)
{
    if (g->n_chunks < w->schema.n) { /* columns added later: empty placeholders */
        g->chunks = sl_realloc(g->chunks, w->schema.n * sizeof *g->chunks);
        memset(g->chunks + g->n_chunks, 0, (w->schema.n - g->n_chunks) * sizeof *g->chunks);
        g->n_chunks = w->schema.n;
    }
    sl_parquet_type want = w->schema.cols[c].type;
    sl_parquet_chunk *old = &g->chunks[c];
    if (old->type == want)
        return 0;
    sl_parquet_column_writer cw;
    sl_parquet_column_writer_init(&cw, want, dict_limit(w));
    int rc = 0;
    if (old->num_values > 0) {
        sl_parquet_column_reader_config cfg = {
            .physical = physical_of(old->type), .type = old->type, .ts_unit = SL_PQ_UNIT_MICROS,
            .max_def = 1, .codec = w->o.codec, .num_values = old->num_values,
            .max_page_bytes = SIZE_MAX, .codec_ctx = w->codec_ctx,
        };
        sl_parquet_column_reader cr;
        sl_parquet_column_reader_init(&cr, old->bytes.data, old->bytes.len, &cfg);
        for (size_t row = 0; row < (size_t)old->num_values; row++) {
            sl_parquet_value v, conv;
            rc = sl_parquet_column_reader_next(&cr, &v);
            if (rc <= 0) {
                rc = rc < 0 ? rc : SL_ERR; /* our own chunk: cannot happen */
                break;
            }
            rc = 0;
            sl_parquet_value_convert(&v, want, &conv, &w->conv);
            sl_parquet_column_writer_put(&cw, row, &conv);
        }
        sl_parquet_column_reader_free(&cr);
    }
    sl_parquet_chunk fresh;
    if (rc == 0)
        rc = sl_parquet_column_writer_encode(&cw, (size_t)g->num_rows, &w->ectx, &fresh);
    sl_parquet_column_writer_free(&cw);
    if (rc < 0)
        return rc;
    sl_parquet_chunk_free(old);
    *old = fresh;
    return 0;
}

typedef struct sink {
    sl_parquet_write_fn fn;
    void *ctx;
    int64_t offset;
    int err;
} sink;

static void sink_write(sink *s, const void *p, size_t n)
{
    if (s->err || n == 0)
        return;
    int rc = s->fn(s->ctx, p, n);
    if (rc < 0)
        s->err = rc;
    s->offset += (int64_t)n;
}

int sl_parquet_writer_finish(sl_parquet_writer *w, sl_parquet_write_fn fn, void *ctx)
{
    if (w->finished)
        return SL_ERR_CLOSED;
    if (w->in_row)
        sl_parquet_writer_row_end(w);
    int rc = sl_parquet_writer_flush_row_group(w);
    w->finished = true;
    if (rc < 0)
        return rc;
    size_t ncols = w->schema.n;
    for (size_t g = 0; g < w->n_groups; g++)
        for (size_t c = 0; c < ncols; c++)
            if ((rc = conform_chunk(w, &w->groups[g], c)) < 0)
                return rc;

    sl_parquet_arena arena = { 0 };
    sl_parquet_file_meta m = { 0 };
    m.version = 1;
    m.num_rows = (int64_t)w->total_rows;

    m.n_schema = ncols + 1;
    m.schema = sl_parquet_arena_alloc(&arena, m.n_schema * sizeof *m.schema);
    m.schema[0] = (sl_parquet_schema_element){ .type = -1, .type_length = -1, .repetition = -1,
                                                .name = SL_VIEW_LIT("schema"),
                                                .num_children = (int32_t)ncols, .converted_type = -1 };
    for (size_t c = 0; c < ncols; c++) {
        const sl_parquet_column_def *d = &w->schema.cols[c];
        sl_parquet_schema_element *e = &m.schema[c + 1];
        *e = (sl_parquet_schema_element){ .type = physical_of(d->type), .type_length = -1,
                                          .repetition = SL_PQ_OPTIONAL,
                                          .name = { d->name, d->name_len },
                                          .num_children = -1, .converted_type = -1 };
        if (d->type == SL_PARQUET_STRING) {
            e->converted_type = SL_PQ_CT_UTF8;
            e->logical_type = SL_PQ_LT_STRING;
        } else if (d->type == SL_PARQUET_TIMESTAMP) {
            e->converted_type = SL_PQ_CT_TIMESTAMP_MICROS;
            e->logical_type = SL_PQ_LT_TIMESTAMP;
            e->ts_unit = SL_PQ_UNIT_MICROS;
            e->ts_utc = true;
        }
    }

    sink s = { fn, ctx, 0, 0 };
    sink_write(&s, "PAR1", 4);
    static const int enc_dict[] = { SL_PQ_ENC_PLAIN, SL_PQ_ENC_RLE, SL_PQ_ENC_RLE_DICTIONARY };
    static const int enc_plain[] = { SL_PQ_ENC_PLAIN, SL_PQ_ENC_RLE };
    m.n_row_groups = w->n_groups;
    m.row_groups = sl_parquet_arena_alloc(&arena, (w->n_groups ? w->n_groups : 1) * sizeof *m.row_groups);
    for (size_t g = 0; g < w->n_groups; g++) {
        encoded_row_group *eg = &w->groups[g];
        sl_parquet_row_group *rg = &m.row_groups[g];
        rg->n_columns = ncols;
        rg->columns = sl_parquet_arena_alloc(&arena, ncols * sizeof *rg->columns);
        rg->num_rows = eg->num_rows;
        rg->has_file_offset = true;
        rg->file_offset = s.offset;
        rg->has_ordinal = g <= INT16_MAX;
        rg->ordinal = (int16_t)g;
        for (size_t c = 0; c < ncols; c++) {
            sl_parquet_chunk *ch = &eg->chunks[c];
            sl_parquet_column_meta *cm = &rg->columns[c].meta;
            rg->columns[c].has_meta = true;
            rg->columns[c].file_offset = 0; /* deprecated; 0 says no metadata outside the footer */
            cm->type = physical_of(ch->type);
            bool dict = ch->dict_page_len > 0;
            cm->encodings = (int *)(dict ? enc_dict : enc_plain);
            cm->n_encodings = dict ? 3 : 2;
            cm->path = &m.schema[c + 1].name;
            cm->n_path = 1;
            cm->codec = w->o.codec;
            cm->num_values = ch->num_values;
            cm->total_uncompressed_size = ch->uncompressed_size;
            cm->total_compressed_size = (int64_t)ch->bytes.len;
            if (dict) {
                cm->has_dictionary_page_offset = true;
                cm->dictionary_page_offset = s.offset;
            }
            cm->data_page_offset = s.offset + (int64_t)ch->dict_page_len;
            cm->has_statistics = true;
            cm->statistics.has_null_count = true;
            cm->statistics.null_count = ch->null_count;
            cm->statistics.has_nan_count = ch->type == SL_PARQUET_DOUBLE;
            cm->statistics.nan_count = ch->nan_count;
            if (ch->has_min_max) {
                cm->statistics.has_min = cm->statistics.has_max = true;
                cm->statistics.min_value = sl_buf_view(&ch->min);
                cm->statistics.max_value = sl_buf_view(&ch->max);
                cm->statistics.has_min_exact = cm->statistics.has_max_exact = true;
                cm->statistics.min_exact = ch->min_exact;
                cm->statistics.max_exact = ch->max_exact;
            }
            cm->n_encoding_stats = dict ? 2 : 1;
            cm->encoding_stats = sl_parquet_arena_alloc(&arena, 2 * sizeof *cm->encoding_stats);
            size_t k = 0;
            if (dict)
                cm->encoding_stats[k++] = (sl_parquet_page_encoding_stats){ SL_PQ_PAGE_DICTIONARY, SL_PQ_ENC_PLAIN, 1 };
            cm->encoding_stats[k] = (sl_parquet_page_encoding_stats){ SL_PQ_PAGE_DATA, ch->data_encoding,
                                                                      ch->n_data_pages };
            rg->total_byte_size += ch->uncompressed_size;
            sink_write(&s, ch->bytes.data, ch->bytes.len);
        }
        rg->has_total_compressed_size = true;
        rg->total_compressed_size = s.offset - rg->file_offset;
    }

    sl_buf schema_json = SL_BUF_INIT;
    sl_parquet_schema_to_json(&w->schema, &schema_json);
    sl_parquet_writer_set_metadata(w, "sluice.schema", sl_buf_view(&schema_json));
    sl_buf_free(&schema_json);
    m.n_kv = w->n_kv;
    m.kv = sl_parquet_arena_alloc(&arena, (w->n_kv ? w->n_kv : 1) * sizeof *m.kv);
    for (size_t i = 0; i < w->n_kv; i++)
        m.kv[i] = (sl_parquet_key_value){ sl_view_of(w->kv[i].key), true,
                                          { w->kv[i].value.data ? w->kv[i].value.data : "", w->kv[i].value.len } };
    m.has_created_by = true;
    m.created_by = SL_VIEW_LIT("sluice version " SLUICE_VERSION);
    m.n_column_orders = ncols;

    sl_buf footer = SL_BUF_INIT;
    sl_parquet_file_meta_encode(&m, &footer);
    uint8_t tail[8];
    for (int i = 0; i < 4; i++)
        tail[i] = (uint8_t)(footer.len >> (8 * i));
    memcpy(tail + 4, "PAR1", 4);
    sink_write(&s, footer.data, footer.len);
    sink_write(&s, tail, 8);
    sl_buf_free(&footer);
    sl_parquet_arena_free(&arena);
    return s.err;
}

static int write_to_buf(void *ctx, const void *p, size_t n)
{
    sl_buf_append(ctx, p, n);
    return 0;
}

int sl_parquet_writer_finish_buf(sl_parquet_writer *w, sl_buf *out)
{
    return sl_parquet_writer_finish(w, write_to_buf, out);
}

static int write_to_fd(void *ctx, const void *p, size_t n)
{
    int fd = *(int *)ctx;
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

int sl_parquet_writer_finish_fd(sl_parquet_writer *w, int fd)
{
    return sl_parquet_writer_finish(w, write_to_fd, &fd);
}
