/*
 * metadata.c - encode and decode Parquet's Thrift structs (see metadata.h).
 *
 * The field ids are those of parquet.thrift. The decoders read what they
 * know, skip what they do not, and reject wrong wire types for known fields
 * rather than guess; a reader of untrusted files needs nothing more.
 */
#include "lake/parquet/metadata.h"
#include "core/alloc.h"
#include "lake/parquet/thrift_compact.h"

#include <stdlib.h>

/* ---- arena ------------------------------------------------------------- */

struct sl_parquet_arena_block {
    struct sl_parquet_arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

void *sl_parquet_arena_alloc(sl_parquet_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct sl_parquet_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = sl_malloc(sizeof *b + cap);
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void sl_parquet_arena_free(sl_parquet_arena *a)
{
    if (!a)
        return;
    struct sl_parquet_arena_block *b = a->head;
    while (b) {
        struct sl_parquet_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/* ---- encoding ---------------------------------------------------------- */

typedef sl_parquet_thrift_writer tw;

static void encode_statistics(tw *w, int16_t id, const sl_parquet_statistics *s)
{
    sl_parquet_thrift_field_struct(w, id);
    if (s->has_legacy_max)
        sl_parquet_thrift_field_binary(w, 1, s->legacy_max.ptr, s->legacy_max.len);
    if (s->has_legacy_min)
        sl_parquet_thrift_field_binary(w, 2, s->legacy_min.ptr, s->legacy_min.len);
    if (s->has_null_count)
        sl_parquet_thrift_field_i64(w, 3, s->null_count);
    if (s->has_max)
        sl_parquet_thrift_field_binary(w, 5, s->max_value.ptr, s->max_value.len);
    if (s->has_min)
        sl_parquet_thrift_field_binary(w, 6, s->min_value.ptr, s->min_value.len);
    if (s->has_max_exact)
        sl_parquet_thrift_field_bool(w, 7, s->max_exact);
    if (s->has_min_exact)
        sl_parquet_thrift_field_bool(w, 8, s->min_exact);
    if (s->has_nan_count)
        sl_parquet_thrift_field_i64(w, 9, s->nan_count);
    sl_parquet_thrift_struct_end(w);
}

static void encode_schema_element(tw *w, const sl_parquet_schema_element *e)
{
    sl_parquet_thrift_struct_begin(w);
    if (e->type >= 0)
        sl_parquet_thrift_field_i32(w, 1, e->type);
    if (e->type_length >= 0)
        sl_parquet_thrift_field_i32(w, 2, e->type_length);
    if (e->repetition >= 0)
        sl_parquet_thrift_field_i32(w, 3, e->repetition);
    sl_parquet_thrift_field_binary(w, 4, e->name.ptr, e->name.len);
    if (e->num_children >= 0)
        sl_parquet_thrift_field_i32(w, 5, e->num_children);
    if (e->converted_type >= 0)
        sl_parquet_thrift_field_i32(w, 6, e->converted_type);
    if (e->logical_type == SL_PQ_LT_STRING || e->logical_type == SL_PQ_LT_JSON) {
        sl_parquet_thrift_field_struct(w, 10);            /* LogicalType union */
        sl_parquet_thrift_field_struct(w, (int16_t)e->logical_type); /* StringType {} */
        sl_parquet_thrift_struct_end(w);
        sl_parquet_thrift_struct_end(w);
    } else if (e->logical_type == SL_PQ_LT_TIMESTAMP) {
        sl_parquet_thrift_field_struct(w, 10);
        sl_parquet_thrift_field_struct(w, SL_PQ_LT_TIMESTAMP); /* TimestampType */
        sl_parquet_thrift_field_bool(w, 1, e->ts_utc);
        sl_parquet_thrift_field_struct(w, 2);                  /* TimeUnit union */
        sl_parquet_thrift_field_struct(w, (int16_t)e->ts_unit);
        sl_parquet_thrift_struct_end(w);
        sl_parquet_thrift_struct_end(w);
        sl_parquet_thrift_struct_end(w);
        sl_parquet_thrift_struct_end(w);
    }
    sl_parquet_thrift_struct_end(w);
}

static void encode_column_meta(tw *w, const sl_parquet_column_meta *m)
{
    sl_parquet_thrift_field_struct(w, 3);
    sl_parquet_thrift_field_i32(w, 1, m->type);
    sl_parquet_thrift_field_list(w, 2, SL_THRIFT_I32, m->n_encodings);
    for (size_t i = 0; i < m->n_encodings; i++)
        sl_parquet_thrift_write_i32(w, m->encodings[i]);
    sl_parquet_thrift_field_list(w, 3, SL_THRIFT_BINARY, m->n_path);
    for (size_t i = 0; i < m->n_path; i++)
        sl_parquet_thrift_write_binary(w, m->path[i].ptr, m->path[i].len);
    sl_parquet_thrift_field_i32(w, 4, m->codec);
    sl_parquet_thrift_field_i64(w, 5, m->num_values);
    sl_parquet_thrift_field_i64(w, 6, m->total_uncompressed_size);
    sl_parquet_thrift_field_i64(w, 7, m->total_compressed_size);
    sl_parquet_thrift_field_i64(w, 9, m->data_page_offset);
    if (m->has_dictionary_page_offset)
        sl_parquet_thrift_field_i64(w, 11, m->dictionary_page_offset);
    if (m->has_statistics)
        encode_statistics(w, 12, &m->statistics);
    if (m->n_encoding_stats) {
        sl_parquet_thrift_field_list(w, 13, SL_THRIFT_STRUCT, m->n_encoding_stats);
        for (size_t i = 0; i < m->n_encoding_stats; i++) {
            sl_parquet_thrift_struct_begin(w);
            sl_parquet_thrift_field_i32(w, 1, m->encoding_stats[i].page_type);
            sl_parquet_thrift_field_i32(w, 2, m->encoding_stats[i].encoding);
            sl_parquet_thrift_field_i32(w, 3, m->encoding_stats[i].count);
            sl_parquet_thrift_struct_end(w);
        }
    }
    sl_parquet_thrift_struct_end(w);
}

void sl_parquet_file_meta_encode(const sl_parquet_file_meta *m, sl_buf *out)
{
    tw w;
    sl_parquet_thrift_writer_init(&w, out);
    sl_parquet_thrift_struct_begin(&w);
    sl_parquet_thrift_field_i32(&w, 1, m->version);
    sl_parquet_thrift_field_list(&w, 2, SL_THRIFT_STRUCT, m->n_schema);
    for (size_t i = 0; i < m->n_schema; i++)
        encode_schema_element(&w, &m->schema[i]);
    sl_parquet_thrift_field_i64(&w, 3, m->num_rows);
    sl_parquet_thrift_field_list(&w, 4, SL_THRIFT_STRUCT, m->n_row_groups);
    for (size_t g = 0; g < m->n_row_groups; g++) {
        const sl_parquet_row_group *rg = &m->row_groups[g];
        sl_parquet_thrift_struct_begin(&w);
        sl_parquet_thrift_field_list(&w, 1, SL_THRIFT_STRUCT, rg->n_columns);
        for (size_t c = 0; c < rg->n_columns; c++) {
            const sl_parquet_column_chunk *cc = &rg->columns[c];
            sl_parquet_thrift_struct_begin(&w);
            sl_parquet_thrift_field_i64(&w, 2, cc->file_offset);
            if (cc->has_meta)
                encode_column_meta(&w, &cc->meta);
            sl_parquet_thrift_struct_end(&w);
        }
        sl_parquet_thrift_field_i64(&w, 2, rg->total_byte_size);
        sl_parquet_thrift_field_i64(&w, 3, rg->num_rows);
        if (rg->has_file_offset)
            sl_parquet_thrift_field_i64(&w, 5, rg->file_offset);
        if (rg->has_total_compressed_size)
            sl_parquet_thrift_field_i64(&w, 6, rg->total_compressed_size);
        if (rg->has_ordinal)
            sl_parquet_thrift_field_i16(&w, 7, rg->ordinal);
        sl_parquet_thrift_struct_end(&w);
    }
    if (m->n_kv) {
        sl_parquet_thrift_field_list(&w, 5, SL_THRIFT_STRUCT, m->n_kv);
        for (size_t i = 0; i < m->n_kv; i++) {
            sl_parquet_thrift_struct_begin(&w);
            sl_parquet_thrift_field_binary(&w, 1, m->kv[i].key.ptr, m->kv[i].key.len);
            if (m->kv[i].has_value)
                sl_parquet_thrift_field_binary(&w, 2, m->kv[i].value.ptr, m->kv[i].value.len);
            sl_parquet_thrift_struct_end(&w);
        }
    }
    if (m->has_created_by)
        sl_parquet_thrift_field_binary(&w, 6, m->created_by.ptr, m->created_by.len);
    if (m->n_column_orders) {
        sl_parquet_thrift_field_list(&w, 7, SL_THRIFT_STRUCT, m->n_column_orders);
        for (size_t i = 0; i < m->n_column_orders; i++) {
            sl_parquet_thrift_struct_begin(&w);   /* ColumnOrder union */
            sl_parquet_thrift_field_struct(&w, 1); /* TYPE_ORDER {} */
            sl_parquet_thrift_struct_end(&w);
            sl_parquet_thrift_struct_end(&w);
        }
    }
    sl_parquet_thrift_struct_end(&w);
}

void sl_parquet_page_header_encode(const sl_parquet_page_header *h, sl_buf *out)
{
    tw w;
    sl_parquet_thrift_writer_init(&w, out);
    sl_parquet_thrift_struct_begin(&w);
    sl_parquet_thrift_field_i32(&w, 1, h->type);
    sl_parquet_thrift_field_i32(&w, 2, h->uncompressed_page_size);
    sl_parquet_thrift_field_i32(&w, 3, h->compressed_page_size);
    if (h->has_crc)
        sl_parquet_thrift_field_i32(&w, 4, h->crc);
    if (h->has_data) {
        sl_parquet_thrift_field_struct(&w, 5);
        sl_parquet_thrift_field_i32(&w, 1, h->num_values);
        sl_parquet_thrift_field_i32(&w, 2, h->encoding);
        sl_parquet_thrift_field_i32(&w, 3, h->def_encoding);
        sl_parquet_thrift_field_i32(&w, 4, h->rep_encoding);
        if (h->has_statistics)
            encode_statistics(&w, 5, &h->statistics);
        sl_parquet_thrift_struct_end(&w);
    }
    if (h->has_dict) {
        sl_parquet_thrift_field_struct(&w, 7);
        sl_parquet_thrift_field_i32(&w, 1, h->dict_num_values);
        sl_parquet_thrift_field_i32(&w, 2, h->dict_encoding);
        if (h->has_dict_sorted)
            sl_parquet_thrift_field_bool(&w, 3, h->dict_sorted);
        sl_parquet_thrift_struct_end(&w);
    }
    if (h->has_data_v2) {
        sl_parquet_thrift_field_struct(&w, 8);
        sl_parquet_thrift_field_i32(&w, 1, h->num_values);
        sl_parquet_thrift_field_i32(&w, 2, h->v2_num_nulls);
        sl_parquet_thrift_field_i32(&w, 3, h->v2_num_rows);
        sl_parquet_thrift_field_i32(&w, 4, h->encoding);
        sl_parquet_thrift_field_i32(&w, 5, h->v2_def_length);
        sl_parquet_thrift_field_i32(&w, 6, h->v2_rep_length);
        sl_parquet_thrift_field_bool(&w, 7, h->v2_is_compressed);
        if (h->has_statistics)
            encode_statistics(&w, 8, &h->statistics);
        sl_parquet_thrift_struct_end(&w);
    }
    sl_parquet_thrift_struct_end(&w);
}

/* ---- decoding ---------------------------------------------------------- */

typedef sl_parquet_thrift_reader tr;

/* A known field arrived with an unexpected wire type: skip it, keep going. */
#define EXPECT(r, t, want)                           \
    if ((t) != (want)) {                              \
        sl_parquet_thrift_skip((r), (t));             \
        break;                                        \
    }

static bool is_int_type(int t)
{
    return t == SL_THRIFT_I8 || t == SL_THRIFT_I16 || t == SL_THRIFT_I32;
}

static int32_t read_int(tr *r, int t)
{
    if (t == SL_THRIFT_I8)
        return sl_parquet_thrift_read_i8(r);
    return sl_parquet_thrift_read_i32(r);
}

static bool is_bool_type(int t)
{
    return t == SL_THRIFT_TRUE || t == SL_THRIFT_FALSE;
}

static void decode_statistics(tr *r, sl_parquet_statistics *s)
{
    int16_t last = 0, id;
    int t;
    sl_parquet_thrift_struct_enter(r);
    while (sl_parquet_thrift_next_field(r, &last, &t, &id)) {
        switch (id) {
        case 1:
            EXPECT(r, t, SL_THRIFT_BINARY);
            s->legacy_max = sl_parquet_thrift_read_binary(r);
            s->has_legacy_max = true;
            break;
        case 2:
            EXPECT(r, t, SL_THRIFT_BINARY);
            s->legacy_min = sl_parquet_thrift_read_binary(r);
            s->has_legacy_min = true;
            break;
        case 3:
            EXPECT(r, t, SL_THRIFT_I64);
            s->null_count = sl_parquet_thrift_read_i64(r);
            s->has_null_count = true;
            break;
        case 5:
            EXPECT(r, t, SL_THRIFT_BINARY);
            s->max_value = sl_parquet_thrift_read_binary(r);
            s->has_max = true;
            break;
        case 6:
            EXPECT(r, t, SL_THRIFT_BINARY);
            s->min_value = sl_parquet_thrift_read_binary(r);
            s->has_min = true;
            break;
        case 7:
            if (!is_bool_type(t)) {
                sl_parquet_thrift_skip(r, t);
                break;
            }
            s->has_max_exact = true;
            s->max_exact = sl_parquet_thrift_read_bool(r, t);
            break;
        case 8:
            if (!is_bool_type(t)) {
                sl_parquet_thrift_skip(r, t);
                break;
            }
            s->has_min_exact = true;
            s->min_exact = sl_parquet_thrift_read_bool(r, t);
            break;
        case 9:
            EXPECT(r, t, SL_THRIFT_I64);
            s->nan_count = sl_parquet_thrift_read_i64(r);
            s->has_nan_count = true;
            break;
        default:
            sl_parquet_thrift_skip(r, t);
        }
    }
    sl_parquet_thrift_struct_leave(r);
}

/* TimestampType / TimeUnit inside a LogicalType. */
static void decode_timestamp_type(tr *r, sl_parquet_schema_element *e)
{
    int16_t last = 0, id;
    int t;
    sl_parquet_thrift_struct_enter(r);
    while (sl_parquet_thrift_next_field(r, &last, &t, &id)) {
        if (id == 1 && is_bool_type(t)) {
            e->ts_utc = sl_parquet_thrift_read_bool(r, t);
        } else if (id == 2 && t == SL_THRIFT_STRUCT) {
            int16_t l2 = 0, id2;
            int t2;
            sl_parquet_thrift_struct_enter(r);
            while (sl_parquet_thrift_next_field(r, &l2, &t2, &id2)) {
                if (t2 == SL_THRIFT_STRUCT && id2 >= 1 && id2 <= 3)
                    e->ts_unit = id2;
                sl_parquet_thrift_skip(r, t2);
            }
            sl_parquet_thrift_struct_leave(r);
        } else {
            sl_parquet_thrift_skip(r, t);
        }
    }
    sl_parquet_thrift_struct_leave(r);
}

static void decode_logical_type(tr *r, sl_parquet_schema_element *e)
{
    int16_t last = 0, id;
    int t;
    sl_parquet_thrift_struct_enter(r);
    while (sl_parquet_thrift_next_field(r, &last, &t, &id)) {
        if (t != SL_THRIFT_STRUCT) {
            sl_parquet_thrift_skip(r, t);
            continue;
        }
        if (id == SL_PQ_LT_TIMESTAMP) {
            e->logical_type = SL_PQ_LT_TIMESTAMP;
            decode_timestamp_type(r, e);
        } else {
            e->logical_type = (id == SL_PQ_LT_STRING || id == SL_PQ_LT_ENUM ||
                               id == SL_PQ_LT_JSON || id == SL_PQ_LT_INTEGER)
                                  ? id
                                  : SL_PQ_LT_OTHER;
            sl_parquet_thrift_skip(r, t);
        }
    }
    sl_parquet_thrift_struct_leave(r);
}

static void decode_schema_element(tr *r, sl_parquet_schema_element *e)
{
    e->type = -1;
    e->type_length = -1;
    e->repetition = -1;
    e->num_children = -1;
    e->converted_type = -1;
    e->logical_type = SL_PQ_LT_NONE;
    bool has_name = false;
    int16_t last = 0, id;
    int t;
    sl_parquet_thrift_struct_enter(r);
    while (sl_parquet_thrift_next_field(r, &last, &t, &id)) {
        switch (id) {
        case 1:
        case 2:
        case 3:
        case 5:
        case 6: {
            if (!is_int_type(t)) {
                sl_parquet_thrift_skip(r, t);
                break;
            }
            int32_t v = read_int(r, t);
            if (id == 1)
                e->type = v < 0 ? 99 : v;
            else if (id == 2)
                e->type_length = v;
            else if (id == 3)
                e->repetition = v < 0 ? 99 : v;
            else if (id == 5)
                e->num_children = v < 0 ? 0 : v;
            else
                e->converted_type = v < 0 ? 999 : v;
            break;
        }
        case 4:
            EXPECT(r, t, SL_THRIFT_BINARY);
            e->name = sl_parquet_thrift_read_binary(r);
            has_name = true;
            break;
        case 10:
            EXPECT(r, t, SL_THRIFT_STRUCT);
            decode_logical_type(r, e);
            break;
        default:
            sl_parquet_thrift_skip(r, t);
        }
    }
    sl_parquet_thrift_struct_leave(r);
    if (!has_name)
        sl_parquet_thrift_fail(r);
}

static void decode_column_meta(tr *r, sl_parquet_arena *a, sl_parquet_column_meta *m)
{
    int16_t last = 0, id;
    int t, et;
    unsigned seen = 0;
    sl_parquet_thrift_struct_enter(r);
    while (sl_parquet_thrift_next_field(r, &last, &t, &id)) {
        switch (id) {
        case 1:
            EXPECT(r, t, SL_THRIFT_I32);
            m->type = sl_parquet_thrift_read_i32(r);
            seen |= 1;
            break;
        case 2: {
            EXPECT(r, t, SL_THRIFT_LIST);
            size_t n = sl_parquet_thrift_read_list(r, &et);
            m->encodings = sl_parquet_arena_alloc(a, (n ? n : 1) * sizeof(int));
            for (size_t i = 0; i < n && !r->err; i++) {
                if (!is_int_type(et)) {
                    sl_parquet_thrift_fail(r);
                    break;
                }
                m->encodings[i] = read_int(r, et);
            }
            m->n_encodings = n;
            break;
        }
        case 3: {
            EXPECT(r, t, SL_THRIFT_LIST);
            size_t n = sl_parquet_thrift_read_list(r, &et);
            m->path = sl_parquet_arena_alloc(a, (n ? n : 1) * sizeof(sl_view));
            for (size_t i = 0; i < n && !r->err; i++) {
                if (et != SL_THRIFT_BINARY) {
                    sl_parquet_thrift_fail(r);
                    break;
                }
                m->path[i] = sl_parquet_thrift_read_binary(r);
            }
            m->n_path = n;
            break;
        }
        case 4:
            EXPECT(r, t, SL_THRIFT_I32);
            m->codec = sl_parquet_thrift_read_i32(r);
            seen |= 2;
            break;
        case 5:
            EXPECT(r, t, SL_THRIFT_I64);
            m->num_values = sl_parquet_thrift_read_i64(r);
            seen |= 4;
            break;
        case 6:
            EXPECT(r, t, SL_THRIFT_I64);
            m->total_uncompressed_size = sl_parquet_thrift_read_i64(r);
            break;
        case 7:
            EXPECT(r, t, SL_THRIFT_I64);
            m->total_compressed_size = sl_parquet_thrift_read_i64(r);
            seen |= 8;
            break;
        case 9:
            EXPECT(r, t, SL_THRIFT_I64);
            m->data_page_offset = sl_parquet_thrift_read_i64(r);
            seen |= 16;
            break;
        case 11:
            EXPECT(r, t, SL_THRIFT_I64);
            m->dictionary_page_offset = sl_parquet_thrift_read_i64(r);
            m->has_dictionary_page_offset = true;
            break;
        case 12:
            EXPECT(r, t, SL_THRIFT_STRUCT);
            decode_statistics(r, &m->statistics);
            m->has_statistics = true;
            break;
        default:
            sl_parquet_thrift_skip(r, t);
        }
    }
    sl_parquet_thrift_struct_leave(r);
    if (seen != 31)
        sl_parquet_thrift_fail(r);
}

static void decode_row_group(tr *r, sl_parquet_arena *a, sl_parquet_row_group *rg)
{
    int16_t last = 0, id;
    int t, et;
    sl_parquet_thrift_struct_enter(r);
    while (sl_parquet_thrift_next_field(r, &last, &t, &id)) {
        switch (id) {
        case 1: {
            EXPECT(r, t, SL_THRIFT_LIST);
            size_t n = sl_parquet_thrift_read_list(r, &et);
            if (et != SL_THRIFT_STRUCT && n) {
                sl_parquet_thrift_fail(r);
                break;
            }
            rg->columns = sl_parquet_arena_alloc(a, (n ? n : 1) * sizeof *rg->columns);
            rg->n_columns = n;
            for (size_t i = 0; i < n && !r->err; i++) {
                sl_parquet_column_chunk *cc = &rg->columns[i];
                int16_t l2 = 0, id2;
                int t2;
                sl_parquet_thrift_struct_enter(r);
                while (sl_parquet_thrift_next_field(r, &l2, &t2, &id2)) {
                    if (id2 == 2 && t2 == SL_THRIFT_I64) {
                        cc->file_offset = sl_parquet_thrift_read_i64(r);
                    } else if (id2 == 3 && t2 == SL_THRIFT_STRUCT) {
                        decode_column_meta(r, a, &cc->meta);
                        cc->has_meta = true;
                    } else {
                        sl_parquet_thrift_skip(r, t2);
                    }
                }
                sl_parquet_thrift_struct_leave(r);
            }
            break;
        }
        case 2:
            EXPECT(r, t, SL_THRIFT_I64);
            rg->total_byte_size = sl_parquet_thrift_read_i64(r);
            break;
        case 3:
            EXPECT(r, t, SL_THRIFT_I64);
            rg->num_rows = sl_parquet_thrift_read_i64(r);
            break;
        case 5:
            EXPECT(r, t, SL_THRIFT_I64);
            rg->file_offset = sl_parquet_thrift_read_i64(r);
            rg->has_file_offset = true;
            break;
        case 6:
            EXPECT(r, t, SL_THRIFT_I64);
            rg->total_compressed_size = sl_parquet_thrift_read_i64(r);
            rg->has_total_compressed_size = true;
            break;
        case 7:
            if (!is_int_type(t)) {
                sl_parquet_thrift_skip(r, t);
                break;
            }
            rg->ordinal = (int16_t)read_int(r, t);
            rg->has_ordinal = true;
            break;
        default:
            sl_parquet_thrift_skip(r, t);
        }
    }
    sl_parquet_thrift_struct_leave(r);
}

int sl_parquet_file_meta_decode(const void *p, size_t n, sl_parquet_arena *a,
                                sl_parquet_file_meta *m)
{
    memset(m, 0, sizeof *m);
    tr rd, *r = &rd;
    sl_parquet_thrift_reader_init(r, p, n);
    int16_t last = 0, id;
    int t, et;
    unsigned seen = 0;
    sl_parquet_thrift_struct_enter(r);
    while (sl_parquet_thrift_next_field(r, &last, &t, &id)) {
        switch (id) {
        case 1:
            EXPECT(r, t, SL_THRIFT_I32);
            m->version = sl_parquet_thrift_read_i32(r);
            break;
        case 2: {
            EXPECT(r, t, SL_THRIFT_LIST);
            size_t cnt = sl_parquet_thrift_read_list(r, &et);
            if (et != SL_THRIFT_STRUCT && cnt) {
                sl_parquet_thrift_fail(r);
                break;
            }
            m->schema = sl_parquet_arena_alloc(a, (cnt ? cnt : 1) * sizeof *m->schema);
            m->n_schema = cnt;
            for (size_t i = 0; i < cnt && !r->err; i++)
                decode_schema_element(r, &m->schema[i]);
            seen |= 1;
            break;
        }
        case 3:
            EXPECT(r, t, SL_THRIFT_I64);
            m->num_rows = sl_parquet_thrift_read_i64(r);
            seen |= 2;
            break;
        case 4: {
            EXPECT(r, t, SL_THRIFT_LIST);
            size_t cnt = sl_parquet_thrift_read_list(r, &et);
            if (et != SL_THRIFT_STRUCT && cnt) {
                sl_parquet_thrift_fail(r);
                break;
            }
            m->row_groups = sl_parquet_arena_alloc(a, (cnt ? cnt : 1) * sizeof *m->row_groups);
            m->n_row_groups = cnt;
            for (size_t i = 0; i < cnt && !r->err; i++)
                decode_row_group(r, a, &m->row_groups[i]);
            seen |= 4;
            break;
        }
        case 5: {
            EXPECT(r, t, SL_THRIFT_LIST);
            size_t cnt = sl_parquet_thrift_read_list(r, &et);
            if (et != SL_THRIFT_STRUCT && cnt) {
                sl_parquet_thrift_fail(r);
                break;
            }
            m->kv = sl_parquet_arena_alloc(a, (cnt ? cnt : 1) * sizeof *m->kv);
            m->n_kv = cnt;
            for (size_t i = 0; i < cnt && !r->err; i++) {
                int16_t l2 = 0, id2;
                int t2;
                sl_parquet_thrift_struct_enter(r);
                while (sl_parquet_thrift_next_field(r, &l2, &t2, &id2)) {
                    if (id2 == 1 && t2 == SL_THRIFT_BINARY) {
                        m->kv[i].key = sl_parquet_thrift_read_binary(r);
                    } else if (id2 == 2 && t2 == SL_THRIFT_BINARY) {
                        m->kv[i].value = sl_parquet_thrift_read_binary(r);
                        m->kv[i].has_value = true;
                    } else {
                        sl_parquet_thrift_skip(r, t2);
                    }
                }
                sl_parquet_thrift_struct_leave(r);
            }
            break;
        }
        case 6:
            EXPECT(r, t, SL_THRIFT_BINARY);
            m->created_by = sl_parquet_thrift_read_binary(r);
            m->has_created_by = true;
            break;
        case 7: {
            EXPECT(r, t, SL_THRIFT_LIST);
            size_t cnt = sl_parquet_thrift_read_list(r, &et);
            for (size_t i = 0; i < cnt && !r->err; i++)
                sl_parquet_thrift_skip(r, et);
            m->n_column_orders = cnt;
            break;
        }
        default:
            sl_parquet_thrift_skip(r, t);
        }
    }
    sl_parquet_thrift_struct_leave(r);
    if (!r->err && seen != 7)
        return SL_ERR_CORRUPT;
    return r->err ? SL_ERR_CORRUPT : 0;
}

int sl_parquet_page_header_decode(const void *p, size_t n, sl_parquet_page_header *h,
                                  size_t *used)
{
    memset(h, 0, sizeof *h);
    h->v2_is_compressed = true;
    tr rd, *r = &rd;
    sl_parquet_thrift_reader_init(r, p, n);
    int16_t last = 0, id;
    int t;
    unsigned seen = 0;
    sl_parquet_thrift_struct_enter(r);
    while (sl_parquet_thrift_next_field(r, &last, &t, &id)) {
        switch (id) {
        case 1:
            EXPECT(r, t, SL_THRIFT_I32);
            h->type = sl_parquet_thrift_read_i32(r);
            seen |= 1;
            break;
        case 2:
            EXPECT(r, t, SL_THRIFT_I32);
            h->uncompressed_page_size = sl_parquet_thrift_read_i32(r);
            seen |= 2;
            break;
        case 3:
            EXPECT(r, t, SL_THRIFT_I32);
            h->compressed_page_size = sl_parquet_thrift_read_i32(r);
            seen |= 4;
            break;
        case 4:
            EXPECT(r, t, SL_THRIFT_I32);
            h->crc = sl_parquet_thrift_read_i32(r);
            h->has_crc = true;
            break;
        case 5: {
            EXPECT(r, t, SL_THRIFT_STRUCT);
            int16_t l2 = 0, id2;
            int t2;
            unsigned s2 = 0;
            sl_parquet_thrift_struct_enter(r);
            while (sl_parquet_thrift_next_field(r, &l2, &t2, &id2)) {
                if (id2 >= 1 && id2 <= 4 && t2 == SL_THRIFT_I32) {
                    int32_t v = sl_parquet_thrift_read_i32(r);
                    if (id2 == 1)
                        h->num_values = v;
                    else if (id2 == 2)
                        h->encoding = v;
                    else if (id2 == 3)
                        h->def_encoding = v;
                    else
                        h->rep_encoding = v;
                    s2 |= 1u << id2;
                } else if (id2 == 5 && t2 == SL_THRIFT_STRUCT) {
                    decode_statistics(r, &h->statistics);
                    h->has_statistics = true;
                } else {
                    sl_parquet_thrift_skip(r, t2);
                }
            }
            sl_parquet_thrift_struct_leave(r);
            if ((s2 & 0x6) != 0x6) /* num_values and encoding at least */
                sl_parquet_thrift_fail(r);
            h->has_data = true;
            break;
        }
        case 7: {
            EXPECT(r, t, SL_THRIFT_STRUCT);
            int16_t l2 = 0, id2;
            int t2;
            bool got_n = false;
            sl_parquet_thrift_struct_enter(r);
            while (sl_parquet_thrift_next_field(r, &l2, &t2, &id2)) {
                if (id2 == 1 && t2 == SL_THRIFT_I32) {
                    h->dict_num_values = sl_parquet_thrift_read_i32(r);
                    got_n = true;
                } else if (id2 == 2 && t2 == SL_THRIFT_I32) {
                    h->dict_encoding = sl_parquet_thrift_read_i32(r);
                } else if (id2 == 3 && is_bool_type(t2)) {
                    h->has_dict_sorted = true;
                    h->dict_sorted = sl_parquet_thrift_read_bool(r, t2);
                } else {
                    sl_parquet_thrift_skip(r, t2);
                }
            }
            sl_parquet_thrift_struct_leave(r);
            if (!got_n)
                sl_parquet_thrift_fail(r);
            h->has_dict = true;
            break;
        }
        case 8: {
            EXPECT(r, t, SL_THRIFT_STRUCT);
            int16_t l2 = 0, id2;
            int t2;
            unsigned s2 = 0;
            sl_parquet_thrift_struct_enter(r);
            while (sl_parquet_thrift_next_field(r, &l2, &t2, &id2)) {
                if (id2 >= 1 && id2 <= 6 && t2 == SL_THRIFT_I32) {
                    int32_t v = sl_parquet_thrift_read_i32(r);
                    switch (id2) {
                    case 1: h->num_values = v; break;
                    case 2: h->v2_num_nulls = v; break;
                    case 3: h->v2_num_rows = v; break;
                    case 4: h->encoding = v; break;
                    case 5: h->v2_def_length = v; break;
                    case 6: h->v2_rep_length = v; break;
                    }
                    s2 |= 1u << id2;
                } else if (id2 == 7 && is_bool_type(t2)) {
                    h->v2_is_compressed = sl_parquet_thrift_read_bool(r, t2);
                } else if (id2 == 8 && t2 == SL_THRIFT_STRUCT) {
                    decode_statistics(r, &h->statistics);
                    h->has_statistics = true;
                } else {
                    sl_parquet_thrift_skip(r, t2);
                }
            }
            sl_parquet_thrift_struct_leave(r);
            if ((s2 & 0x7E) != 0x7E)
                sl_parquet_thrift_fail(r);
            h->has_data_v2 = true;
            break;
        }
        default:
            sl_parquet_thrift_skip(r, t);
        }
    }
    sl_parquet_thrift_struct_leave(r);
    if (r->err || seen != 7)
        return SL_ERR_CORRUPT;
    *used = (size_t)(r->p - (const uint8_t *)p);
    return 0;
}
