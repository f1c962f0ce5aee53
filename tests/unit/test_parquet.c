/*
 * test_parquet.c - sluice's Parquet encoder and reader.
 *
 * Bottom up: the Thrift compact protocol (values, structs, skipping,
 * truncation), the RLE / bit-packed hybrid against a naive reference
 * written here from the spec, then whole files through the writer and back
 * through the reader: types, nulls, widening, new columns, dictionary and
 * its fallbacks, statistics, every codec, page and row-group splitting,
 * key-value metadata, and a damaged-file loop that must never crash.
 * Independent readers (DuckDB, hyparquet) check the same files in
 * tests/e2e/parquet.test.mjs.
 */
#include "core/buf.h"
#include "lake/parquet/codec.h"
#include "lake/parquet/column_writer.h"
#include "lake/parquet/encoding.h"
#include "lake/parquet/metadata.h"
#include "lake/parquet/parquet_reader.h"
#include "lake/parquet/parquet_writer.h"
#include "lake/parquet/schema.h"
#include "lake/parquet/thrift_compact.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Write events (NUL-terminated JSON strings) with ts = 1000 * index, return the file. */
static sl_buf write_events(const sl_parquet_writer_options *o, const char *const *events, size_t n)
{
    sl_parquet_writer *w;
    cr_assert_eq(sl_parquet_writer_new(&w, o), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(sl_parquet_writer_add_json(w, sl_view_of(events[i]), (int64_t)i * 1000), 0,
                     "event %zu: %s", i, events[i]);
    sl_buf file = SL_BUF_INIT;
    cr_assert_eq(sl_parquet_writer_finish_buf(w, &file), 0);
    sl_parquet_writer_free(w);
    return file;
}

static sl_parquet_reader *open_buf(const sl_buf *file)
{
    sl_parquet_reader *r;
    char err[160] = "";
    int rc = sl_parquet_reader_open_mem(&r, file->data, file->len, NULL, err, sizeof err);
    cr_assert_eq(rc, 0, "open: %d %s", rc, err);
    return r;
}

/* All rows as JSON lines (nulls left out). */
static sl_buf rows_json(sl_parquet_reader *r)
{
    sl_buf out = SL_BUF_INIT;
    int rc;
    while ((rc = sl_parquet_reader_next_json(r, 0, &out)) == 1)
        sl_buf_append_char(&out, '\n');
    cr_assert_eq(rc, 0, "read: %d %s", rc, sl_parquet_reader_message(r));
    return out;
}

static int column_index(sl_parquet_reader *r, const char *name)
{
    for (size_t i = 0; i < sl_parquet_reader_num_columns(r); i++)
        if (strcmp(sl_parquet_reader_column(r, i)->name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- Thrift compact -------------------------------------------------------- */

Test(thrift, values_round_trip)
{
    sl_buf b = SL_BUF_INIT;
    sl_parquet_thrift_writer w;
    sl_parquet_thrift_writer_init(&w, &b);
    sl_parquet_thrift_struct_begin(&w);
    sl_parquet_thrift_field_i32(&w, 1, -1);
    sl_parquet_thrift_field_i64(&w, 2, INT64_MIN);
    sl_parquet_thrift_field_bool(&w, 3, true);
    sl_parquet_thrift_field_bool(&w, 4, false);
    sl_parquet_thrift_field_binary(&w, 20, "hello", 5); /* delta 16: long form */
    sl_parquet_thrift_field_double(&w, 21, -2.5);
    sl_parquet_thrift_field_list(&w, 22, SL_THRIFT_I32, 40); /* > 14: long list header */
    for (int i = 0; i < 40; i++)
        sl_parquet_thrift_write_i32(&w, i * 1000 - 20000);
    sl_parquet_thrift_field_struct(&w, 23);
    sl_parquet_thrift_field_i16(&w, 1, -300);
    sl_parquet_thrift_struct_end(&w);
    sl_parquet_thrift_field_i32(&w, 5, INT32_MAX); /* ids may go down: long form again */
    sl_parquet_thrift_struct_end(&w);

    sl_parquet_thrift_reader r;
    sl_parquet_thrift_reader_init(&r, b.data, b.len);
    int16_t last = 0, id;
    int t, seen = 0;
    while (sl_parquet_thrift_next_field(&r, &last, &t, &id)) {
        seen++;
        switch (id) {
        case 1: cr_assert_eq(sl_parquet_thrift_read_i32(&r), -1); break;
        case 2: cr_assert_eq(sl_parquet_thrift_read_i64(&r), INT64_MIN); break;
        case 3: cr_assert(sl_parquet_thrift_read_bool(&r, t)); break;
        case 4: cr_assert_not(sl_parquet_thrift_read_bool(&r, t)); break;
        case 20: {
            sl_view v = sl_parquet_thrift_read_binary(&r);
            cr_assert(sl_view_eq_str(v, "hello"));
            break;
        }
        case 21: cr_assert_eq(sl_parquet_thrift_read_double(&r), -2.5); break;
        case 22: {
            int et;
            size_t n = sl_parquet_thrift_read_list(&r, &et);
            cr_assert_eq(n, 40);
            cr_assert_eq(et, SL_THRIFT_I32);
            for (int i = 0; i < 40; i++)
                cr_assert_eq(sl_parquet_thrift_read_i32(&r), i * 1000 - 20000);
            break;
        }
        case 23: {
            int16_t l2 = 0, id2;
            int t2;
            sl_parquet_thrift_struct_enter(&r);
            cr_assert(sl_parquet_thrift_next_field(&r, &l2, &t2, &id2));
            cr_assert_eq(t2, SL_THRIFT_I16);
            cr_assert_eq(sl_parquet_thrift_read_i32(&r), -300);
            cr_assert_not(sl_parquet_thrift_next_field(&r, &l2, &t2, &id2));
            sl_parquet_thrift_struct_leave(&r);
            break;
        }
        case 5: cr_assert_eq(sl_parquet_thrift_read_i32(&r), INT32_MAX); break;
        default: cr_assert_fail("unexpected field %d", id);
        }
    }
    cr_assert_eq(r.err, 0);
    cr_assert_eq(seen, 9);
    cr_assert_eq(r.p, r.end);

    /* The same bytes skipped as one unknown struct; and every truncation fails cleanly. */
    sl_parquet_thrift_reader_init(&r, b.data, b.len);
    sl_parquet_thrift_skip(&r, SL_THRIFT_STRUCT);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.p, r.end);
    for (size_t cut = 0; cut < b.len; cut++) {
        sl_parquet_thrift_reader_init(&r, b.data, cut);
        sl_parquet_thrift_skip(&r, SL_THRIFT_STRUCT);
        cr_assert_neq(r.err, 0, "truncated at %zu", cut);
    }
    sl_buf_free(&b);
}

Test(thrift, nesting_and_lengths_are_bounded)
{
    /* 100 nested structs: over the depth limit, an error rather than recursion. */
    uint8_t deep[200];
    for (int i = 0; i < 100; i++)
        deep[i] = 0x1C; /* field delta 1, type struct */
    memset(deep + 100, 0, 100);
    sl_parquet_thrift_reader r;
    sl_parquet_thrift_reader_init(&r, deep, sizeof deep);
    sl_parquet_thrift_skip(&r, SL_THRIFT_STRUCT);
    cr_assert_neq(r.err, 0);

    /* A binary claiming more bytes than exist; a list claiming more elements than bytes. */
    uint8_t bin[] = { 0xFF, 0xFF, 0x03, 'a' };
    sl_parquet_thrift_reader_init(&r, bin, sizeof bin);
    sl_parquet_thrift_read_binary(&r);
    cr_assert_neq(r.err, 0);
    uint8_t list[] = { 0xF5, 0xFF, 0xFF, 0xFF, 0x0F, 0x02 };
    int et;
    sl_parquet_thrift_reader_init(&r, list, sizeof list);
    cr_assert_eq(sl_parquet_thrift_read_list(&r, &et), 0);
    cr_assert_neq(r.err, 0);
}

Test(thrift, file_metadata_round_trip)
{
    sl_parquet_schema_element schema[3] = {
        { .type = -1, .type_length = -1, .repetition = -1, .name = SL_VIEW_LIT("schema"), .num_children = 2,
          .converted_type = -1 },
        { .type = SL_PQ_INT64, .type_length = -1, .repetition = SL_PQ_OPTIONAL, .name = SL_VIEW_LIT("ts"),
          .num_children = -1, .converted_type = SL_PQ_CT_TIMESTAMP_MICROS, .logical_type = SL_PQ_LT_TIMESTAMP,
          .ts_unit = SL_PQ_UNIT_MICROS, .ts_utc = true },
        { .type = SL_PQ_BYTE_ARRAY, .type_length = -1, .repetition = SL_PQ_OPTIONAL,
          .name = SL_VIEW_LIT("metadata.endpoint"), .num_children = -1, .converted_type = SL_PQ_CT_UTF8,
          .logical_type = SL_PQ_LT_STRING },
    };
    int encs[] = { SL_PQ_ENC_PLAIN, SL_PQ_ENC_RLE, SL_PQ_ENC_RLE_DICTIONARY };
    sl_view path = SL_VIEW_LIT("metadata.endpoint");
    sl_parquet_page_encoding_stats es[2] = { { SL_PQ_PAGE_DICTIONARY, SL_PQ_ENC_PLAIN, 1 },
                                             { SL_PQ_PAGE_DATA, SL_PQ_ENC_RLE_DICTIONARY, 7 } };
    sl_parquet_column_chunk cols[2] = { 0 };
    for (int c = 0; c < 2; c++) {
        cols[c].has_meta = true;
        sl_parquet_column_meta *m = &cols[c].meta;
        m->type = c ? SL_PQ_BYTE_ARRAY : SL_PQ_INT64;
        m->encodings = encs;
        m->n_encodings = 3;
        m->path = &path;
        m->n_path = 1;
        m->codec = SL_PQ_CODEC_ZSTD;
        m->num_values = 123456789012LL;
        m->total_uncompressed_size = 5000 + c;
        m->total_compressed_size = 3000 + c;
        m->data_page_offset = 4 + 100 * c;
        m->has_dictionary_page_offset = c == 1;
        m->dictionary_page_offset = 77;
        m->has_statistics = true;
        m->statistics.has_null_count = true;
        m->statistics.null_count = 42;
        m->statistics.has_min = m->statistics.has_max = true;
        m->statistics.min_value = SL_VIEW_LIT("/api/a");
        m->statistics.max_value = SL_VIEW_LIT("/api/z");
        m->statistics.has_min_exact = m->statistics.has_max_exact = true;
        m->statistics.min_exact = true;
        m->statistics.max_exact = false;
        m->encoding_stats = es;
        m->n_encoding_stats = 2;
    }
    sl_parquet_row_group rg = { .columns = cols, .n_columns = 2, .total_byte_size = 999, .num_rows = 3,
                                .has_file_offset = true, .file_offset = 4, .has_total_compressed_size = true,
                                .total_compressed_size = 555, .has_ordinal = true, .ordinal = 0 };
    sl_parquet_key_value kv[2] = { { SL_VIEW_LIT("sluice.offsets"), true, SL_VIEW_LIT("{\"start\":100}") },
                                   { SL_VIEW_LIT("novalue"), false, SL_VIEW_NULL } };
    sl_parquet_file_meta m = { .version = 1, .schema = schema, .n_schema = 3, .num_rows = 3,
                               .row_groups = &rg, .n_row_groups = 1, .kv = kv, .n_kv = 2,
                               .has_created_by = true, .created_by = SL_VIEW_LIT("sluice version 1"),
                               .n_column_orders = 2 };
    sl_buf b = SL_BUF_INIT;
    sl_parquet_file_meta_encode(&m, &b);

    sl_parquet_arena arena = { 0 };
    sl_parquet_file_meta d;
    cr_assert_eq(sl_parquet_file_meta_decode(b.data, b.len, &arena, &d), 0);
    cr_assert_eq(d.version, 1);
    cr_assert_eq(d.n_schema, 3);
    cr_assert_eq(d.schema[0].num_children, 2);
    cr_assert_eq(d.schema[0].type, -1);
    cr_assert_eq(d.schema[1].logical_type, SL_PQ_LT_TIMESTAMP);
    cr_assert_eq(d.schema[1].ts_unit, SL_PQ_UNIT_MICROS);
    cr_assert(d.schema[1].ts_utc);
    cr_assert_eq(d.schema[1].converted_type, SL_PQ_CT_TIMESTAMP_MICROS);
    cr_assert_eq(d.schema[2].logical_type, SL_PQ_LT_STRING);
    cr_assert(sl_view_eq_str(d.schema[2].name, "metadata.endpoint"));
    cr_assert_eq(d.num_rows, 3);
    cr_assert_eq(d.n_row_groups, 1);
    const sl_parquet_row_group *drg = &d.row_groups[0];
    cr_assert_eq(drg->n_columns, 2);
    cr_assert_eq(drg->total_compressed_size, 555);
    const sl_parquet_column_meta *dm = &drg->columns[1].meta;
    cr_assert_eq(dm->num_values, 123456789012LL);
    cr_assert_eq(dm->n_encodings, 3);
    cr_assert_eq(dm->encodings[2], SL_PQ_ENC_RLE_DICTIONARY);
    cr_assert(dm->has_dictionary_page_offset);
    cr_assert_eq(dm->dictionary_page_offset, 77);
    cr_assert_not(drg->columns[0].meta.has_dictionary_page_offset);
    cr_assert(sl_view_eq_str(dm->statistics.min_value, "/api/a"));
    cr_assert(sl_view_eq_str(dm->statistics.max_value, "/api/z"));
    cr_assert_eq(dm->statistics.null_count, 42);
    cr_assert(dm->statistics.min_exact);
    cr_assert_not(dm->statistics.max_exact);
    cr_assert_eq(d.n_kv, 2);
    cr_assert(sl_view_eq_str(d.kv[0].value, "{\"start\":100}"));
    cr_assert_not(d.kv[1].has_value);
    cr_assert(sl_view_eq_str(d.created_by, "sluice version 1"));
    cr_assert_eq(d.n_column_orders, 2);
    sl_parquet_arena_free(&arena);

    /* Every truncation of the footer is refused, none crashes. */
    for (size_t cut = 0; cut < b.len; cut++) {
        sl_parquet_arena a2 = { 0 };
        cr_assert_neq(sl_parquet_file_meta_decode(b.data, cut, &a2, &d), 0, "cut %zu", cut);
        sl_parquet_arena_free(&a2);
    }
    sl_buf_free(&b);
}

Test(thrift, page_header_round_trip)
{
    sl_parquet_page_header h = { .type = SL_PQ_PAGE_DATA, .uncompressed_page_size = 1 << 20,
                                 .compressed_page_size = 12345, .has_data = true, .num_values = 20000,
                                 .encoding = SL_PQ_ENC_RLE_DICTIONARY, .def_encoding = SL_PQ_ENC_RLE,
                                 .rep_encoding = SL_PQ_ENC_RLE, .has_statistics = true };
    h.statistics.has_null_count = true;
    h.statistics.null_count = 7;
    sl_buf b = SL_BUF_INIT;
    sl_parquet_page_header_encode(&h, &b);
    sl_buf_append(&b, "trailing", 8);
    sl_parquet_page_header d;
    size_t used;
    cr_assert_eq(sl_parquet_page_header_decode(b.data, b.len, &d, &used), 0);
    cr_assert_eq(used, b.len - 8);
    cr_assert_eq(d.type, SL_PQ_PAGE_DATA);
    cr_assert_eq(d.uncompressed_page_size, 1 << 20);
    cr_assert_eq(d.compressed_page_size, 12345);
    cr_assert_eq(d.num_values, 20000);
    cr_assert_eq(d.encoding, SL_PQ_ENC_RLE_DICTIONARY);
    cr_assert_eq(d.statistics.null_count, 7);
    sl_buf_free(&b);
}

/* ---- RLE / bit-packed hybrid -------------------------------------------- */

/* A reference decoder written straight from the spec, one bit at a time. */
static size_t naive_decode(const uint8_t *p, size_t n, int bw, uint32_t *out, size_t max)
{
    size_t pos = 0, got = 0;
    while (pos < n && got < max) {
        uint64_t h = 0;
        int shift = 0;
        uint8_t byte;
        do {
            byte = p[pos++];
            h |= (uint64_t)(byte & 0x7F) << shift;
            shift += 7;
        } while (byte & 0x80);
        if (h & 1) {
            size_t count = (size_t)(h >> 1) * 8;
            for (size_t i = 0; i < count; i++) {
                uint32_t v = 0;
                for (int b = 0; b < bw; b++) {
                    size_t bit = i * (size_t)bw + (size_t)b;
                    if ((p[pos + bit / 8] >> (bit % 8)) & 1)
                        v |= 1u << b;
                }
                if (got < max)
                    out[got++] = v;
            }
            pos += (size_t)(h >> 1) * (size_t)bw;
        } else {
            uint32_t v = 0;
            for (int i = 0; i < (bw + 7) / 8; i++)
                v |= (uint32_t)p[pos++] << (8 * i);
            for (size_t i = 0; i < (size_t)(h >> 1) && got < max; i++)
                out[got++] = v;
        }
    }
    return got;
}

/* A reference encoder: only bit-packed runs, then a trailing RLE run. */
static void naive_encode(const uint32_t *v, size_t n, int bw, sl_buf *out)
{
    size_t groups = n / 8;
    if (groups) {
        uint8_t h = (uint8_t)(groups << 1 | 1);
        cr_assert(groups < 64);
        sl_buf_append_char(out, (char)h);
        size_t bytes = groups * (size_t)bw;
        uint8_t *buf = calloc(bytes ? bytes : 1, 1);
        for (size_t i = 0; i < groups * 8; i++)
            for (int b = 0; b < bw; b++)
                if ((v[i] >> b) & 1)
                    buf[(i * (size_t)bw + (size_t)b) / 8] |= (uint8_t)(1u << ((i * (size_t)bw + (size_t)b) % 8));
        sl_buf_append(out, buf, bytes);
        free(buf);
    }
    for (size_t i = groups * 8; i < n; i++) { /* leftovers as RLE runs of one */
        sl_buf_append_char(out, 2);
        for (int k = 0; k < (bw + 7) / 8; k++)
            sl_buf_append_char(out, (char)(v[i] >> (8 * k)));
    }
}

static void gen_values(uint32_t *v, size_t n, int bw, int pattern)
{
    uint32_t mask = bw == 32 ? 0xFFFFFFFFu : (1u << bw) - 1;
    for (size_t i = 0; i < n;) {
        uint32_t x = (uint32_t)rnd() & mask;
        size_t run = pattern == 0 ? 1 : pattern == 1 ? 1 + rnd() % 20 : 1 + rnd() % 3;
        if (pattern == 2 && rnd() % 4 == 0)
            run = 8 + rnd() % 100;
        for (size_t k = 0; k < run && i < n; k++)
            v[i++] = x;
    }
}

Test(rle, matches_a_naive_reference_both_ways)
{
    static const int widths[] = { 0, 1, 2, 3, 5, 7, 8, 9, 13, 16, 20, 31, 32 };
    static const size_t sizes[] = { 0, 1, 7, 8, 9, 63, 64, 100, 503, 504, 505, 1000, 4099 };
    uint32_t *v = malloc(5000 * sizeof *v), *got = malloc(5000 * sizeof *got);
    for (size_t wi = 0; wi < SL_ARRAY_LEN(widths); wi++) {
        int bw = widths[wi];
        for (size_t si = 0; si < SL_ARRAY_LEN(sizes); si++) {
            for (int pattern = 0; pattern < 3; pattern++) {
                size_t n = sizes[si];
                gen_values(v, n, bw, pattern);
                if (bw == 0)
                    memset(v, 0, n * sizeof *v);
                sl_buf enc = SL_BUF_INIT;
                sl_parquet_rle_encode_u32(v, n, bw, &enc);
                /* ours -> reference decoder */
                size_t k = naive_decode((const uint8_t *)enc.data, enc.len, bw, got, n);
                cr_assert_eq(k, n, "bw %d n %zu pattern %d", bw, n, pattern);
                cr_assert_arr_eq(got, v, n * sizeof *v, "bw %d n %zu pattern %d", bw, n, pattern);
                /* ours -> our decoder, one at a time and batched */
                sl_parquet_rle_decoder d;
                sl_parquet_rle_decoder_init(&d, enc.data, enc.len, bw);
                for (size_t i = 0; i < n; i++) {
                    uint32_t x;
                    cr_assert_eq(sl_parquet_rle_decoder_next(&d, &x), 0);
                    cr_assert_eq(x, v[i], "bw %d n %zu at %zu", bw, n, i);
                }
                sl_parquet_rle_decoder_init(&d, enc.data, enc.len, bw);
                cr_assert_eq(sl_parquet_rle_decoder_batch(&d, got, n), n);
                cr_assert_arr_eq(got, v, n * sizeof *v);
                /* reference encoder (n small enough) -> our decoder */
                if (n < 500) {
                    sl_buf ref = SL_BUF_INIT;
                    naive_encode(v, n, bw, &ref);
                    sl_parquet_rle_decoder_init(&d, ref.data, ref.len, bw);
                    cr_assert_eq(sl_parquet_rle_decoder_batch(&d, got, n), n);
                    cr_assert_arr_eq(got, v, n * sizeof *v);
                    sl_buf_free(&ref);
                }
                sl_buf_free(&enc);
            }
        }
    }
    free(v);
    free(got);
}

Test(rle, runs_are_compact_and_u8_matches_u32)
{
    uint8_t ones[100000];
    memset(ones, 1, sizeof ones);
    sl_buf enc = SL_BUF_INIT;
    sl_parquet_rle_encode_u8(ones, sizeof ones, 1, &enc);
    cr_assert_leq(enc.len, 5, "one RLE run, got %zu bytes", enc.len);
    sl_buf_free(&enc);

    uint8_t mixed[3000];
    uint32_t wide[3000];
    for (size_t i = 0; i < 3000; i++)
        wide[i] = mixed[i] = (uint8_t)(rnd() % 7 < 5 ? 1 : 0);
    sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT;
    sl_parquet_rle_encode_u8(mixed, 3000, 1, &a);
    sl_parquet_rle_encode_u32(wide, 3000, 1, &b);
    cr_assert_eq(a.len, b.len);
    cr_assert_arr_eq(a.data, b.data, a.len);
    sl_buf_free(&a);
    sl_buf_free(&b);
}

Test(rle, decoder_stops_at_the_end_of_input)
{
    uint8_t junk[] = { 0x03, 0xFF }; /* one bit-packed group of width 3 promised, one byte there */
    sl_parquet_rle_decoder d;
    sl_parquet_rle_decoder_init(&d, junk, sizeof junk, 3);
    uint32_t x;
    int ok = 0;
    while (sl_parquet_rle_decoder_next(&d, &x) == 0)
        ok++;
    cr_assert_leq(ok, 2);
    uint8_t rle_short[] = { 0x10 }; /* RLE run whose value byte is missing */
    sl_parquet_rle_decoder_init(&d, rle_short, sizeof rle_short, 8);
    cr_assert_neq(sl_parquet_rle_decoder_next(&d, &x), 0);
}

/* ---- schema ---------------------------------------------------------------- */

Test(schema, join_widens_as_documented)
{
    cr_assert_eq(sl_parquet_type_join(SL_PARQUET_INT64, SL_PARQUET_INT64), SL_PARQUET_INT64);
    cr_assert_eq(sl_parquet_type_join(SL_PARQUET_INT32, SL_PARQUET_INT64), SL_PARQUET_INT64);
    cr_assert_eq(sl_parquet_type_join(SL_PARQUET_INT64, SL_PARQUET_DOUBLE), SL_PARQUET_DOUBLE);
    cr_assert_eq(sl_parquet_type_join(SL_PARQUET_DOUBLE, SL_PARQUET_INT32), SL_PARQUET_DOUBLE);
    cr_assert_eq(sl_parquet_type_join(SL_PARQUET_DOUBLE, SL_PARQUET_STRING), SL_PARQUET_STRING);
    cr_assert_eq(sl_parquet_type_join(SL_PARQUET_BOOLEAN, SL_PARQUET_INT64), SL_PARQUET_STRING);
    cr_assert_eq(sl_parquet_type_join(SL_PARQUET_TIMESTAMP, SL_PARQUET_INT64), SL_PARQUET_STRING);
}

Test(schema, json_round_trip_and_index)
{
    sl_parquet_schema s = SL_PARQUET_SCHEMA_INIT;
    char name[32];
    for (int i = 0; i < 300; i++) { /* grows the index several times */
        snprintf(name, sizeof name, "col.%d", i);
        cr_assert_eq(sl_parquet_schema_add(&s, name, strlen(name), (sl_parquet_type)(1 + i % 6)), i);
    }
    cr_assert_lt(sl_parquet_schema_add(&s, "col.7", 5, SL_PARQUET_STRING), 0);
    cr_assert_eq(sl_parquet_schema_find(&s, "col.299", 7), 299);
    cr_assert_eq(sl_parquet_schema_find(&s, "col.300", 7), -1);
    sl_parquet_schema_add(&s, "quote\"d", 7, SL_PARQUET_STRING);
    sl_buf j = SL_BUF_INIT;
    sl_parquet_schema_to_json(&s, &j);
    sl_parquet_schema back = SL_PARQUET_SCHEMA_INIT;
    cr_assert_eq(sl_parquet_schema_from_json(&back, sl_buf_view(&j)), 0, "%s", j.data);
    cr_assert_eq(back.n, s.n);
    for (size_t i = 0; i < s.n; i++) {
        cr_assert_str_eq(back.cols[i].name, s.cols[i].name);
        cr_assert_eq(back.cols[i].type, s.cols[i].type);
    }
    cr_assert_lt(sl_parquet_schema_from_json(&back, SL_VIEW_LIT("{\"columns\":[{\"name\":\"x\",\"type\":\"blob\"}]}")), 0);
    sl_buf_free(&j);
    sl_parquet_schema_free(&s);
    sl_parquet_schema_free(&back);
}

Test(schema, value_text)
{
    sl_buf b = SL_BUF_INIT;
    sl_parquet_value v = { .type = SL_PARQUET_DOUBLE, .u.f64 = 0.1 };
    sl_parquet_value_to_text(&v, &b);
    cr_assert_str_eq(b.data, "0.1");
    sl_buf_reset(&b);
    v.u.f64 = 1.0 / 3;
    sl_parquet_value_to_text(&v, &b);
    cr_assert_eq(strtod(b.data, NULL), 1.0 / 3);
    sl_buf_reset(&b);
    v = (sl_parquet_value){ .type = SL_PARQUET_TIMESTAMP, .u.i64 = 1705314600123456LL };
    sl_parquet_value_to_text(&v, &b);
    cr_assert_str_eq(b.data, "2024-01-15T10:30:00.123456Z");
    sl_buf_free(&b);
}

/* ---- files: writer -> reader ---------------------------------------------- */

Test(file, types_nulls_dotted_names_and_metadata)
{
    const char *events[] = {
        "{\"level\":\"INFO\",\"n\":1,\"ok\":true,\"metadata\":{\"status_code\":200,\"x\":1.5},\"tags\":[1, \"a\"]}",
        "{\"level\":\"ERROR\",\"n\":-2,\"ok\":false,\"metadata\":{\"status_code\":500,\"x\":null},\"msg\":\"\\u00e9 \\\"q\\\" \xed\x95\x9c \xf0\x9f\x98\x80\"}",
        "  {\"level\":null,\"ts\":\"ignored: the caller's ts wins\",\"empty\":{}}  ",
    };
    sl_parquet_kv kv[] = { { "sluice.offsets", "{\"topic\":\"logs.raw\",\"partition\":0,\"start\":100,\"end\":102}" } };
    sl_parquet_writer_options o;
    sl_parquet_writer_options_default(&o);
    o.kv = kv;
    o.n_kv = 1;
    sl_buf file = write_events(&o, events, 3);
    sl_parquet_reader *r = open_buf(&file);

    cr_assert_eq(sl_parquet_reader_num_rows(r), 3);
    const char *names[] = { "ts", "level", "n", "ok", "metadata.status_code", "metadata.x", "tags", "msg" };
    sl_parquet_type types[] = { SL_PARQUET_TIMESTAMP, SL_PARQUET_STRING, SL_PARQUET_INT64, SL_PARQUET_BOOLEAN,
                                SL_PARQUET_INT64, SL_PARQUET_DOUBLE, SL_PARQUET_STRING, SL_PARQUET_STRING };
    cr_assert_eq(sl_parquet_reader_num_columns(r), 8);
    for (size_t i = 0; i < 8; i++) {
        cr_assert_str_eq(sl_parquet_reader_column(r, i)->name, names[i]);
        cr_assert_eq(sl_parquet_reader_column(r, i)->type, types[i], "column %s", names[i]);
        cr_assert(sl_parquet_reader_column(r, i)->optional);
    }
    sl_view v;
    cr_assert(sl_parquet_reader_find_metadata(r, "sluice.offsets", &v));
    cr_assert(sl_view_eq_str(v, kv[0].value));
    cr_assert(sl_parquet_reader_find_metadata(r, "sluice.schema", &v));
    cr_assert(memmem(v.ptr, v.len, "{\"name\":\"metadata.status_code\",\"type\":\"int64\"}", 46));
    sl_view cb = sl_parquet_reader_created_by(r);
    cr_assert(cb.len > 15 && memcmp(cb.ptr, "sluice version ", 15) == 0);

    sl_buf rows = rows_json(r);
    const char *want =
        "{\"ts\":\"1970-01-01T00:00:00.000000Z\",\"level\":\"INFO\",\"n\":1,\"ok\":true,"
        "\"metadata.status_code\":200,\"metadata.x\":1.5,\"tags\":\"[1, \\\"a\\\"]\"}\n"
        "{\"ts\":\"1970-01-01T00:00:00.001000Z\",\"level\":\"ERROR\",\"n\":-2,\"ok\":false,"
        "\"metadata.status_code\":500,\"msg\":\"\xc3\xa9 \\\"q\\\" \xed\x95\x9c \xf0\x9f\x98\x80\"}\n"
        "{\"ts\":\"1970-01-01T00:00:00.002000Z\"}\n";
    cr_assert_str_eq(rows.data, want);
    sl_buf_free(&rows);

    /* statistics of the only row group */
    sl_parquet_column_stats st;
    cr_assert_eq(sl_parquet_reader_column_stats(r, 0, (size_t)column_index(r, "level"), &st), 0);
    cr_assert(st.has_min_max);
    cr_assert(st.dictionary);
    cr_assert(sl_view_eq_str(st.min.u.str, "ERROR"));
    cr_assert(sl_view_eq_str(st.max.u.str, "INFO"));
    cr_assert_eq(st.null_count, 1);
    cr_assert_eq(sl_parquet_reader_column_stats(r, 0, (size_t)column_index(r, "metadata.status_code"), &st), 0);
    cr_assert_eq(st.min.u.i64, 200);
    cr_assert_eq(st.max.u.i64, 500);
    cr_assert_eq(st.null_count, 1);
    cr_assert_eq(sl_parquet_reader_column_stats(r, 0, (size_t)column_index(r, "ok"), &st), 0);
    cr_assert_eq(st.min.u.b, false);
    cr_assert_eq(st.max.u.b, true);
    cr_assert_eq(sl_parquet_reader_column_stats(r, 0, 0, &st), 0);
    cr_assert_eq(st.min.type, SL_PARQUET_TIMESTAMP);
    cr_assert_eq(st.min.u.i64, 0);
    cr_assert_eq(st.max.u.i64, 2000);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);
}

Test(file, invalid_events_are_refused_whole)
{
    sl_parquet_writer *w;
    cr_assert_eq(sl_parquet_writer_new(&w, NULL), 0);
    cr_assert_eq(sl_parquet_writer_add_json(w, SL_VIEW_LIT("{\"a\":1"), 0), SL_ERR_PARSE);
    cr_assert_eq(sl_parquet_writer_add_json(w, SL_VIEW_LIT("[1,2]"), 0), SL_ERR_PARSE);
    cr_assert_eq(sl_parquet_writer_add_json(w, SL_VIEW_LIT("{\"a\":1} x"), 0), SL_ERR_PARSE);
    cr_assert_eq(sl_parquet_writer_add_json(w, SL_VIEW_LIT("{\"a\":1}"), 0), 0);
    sl_parquet_writer_stats st;
    sl_parquet_writer_stats_get(w, &st);
    cr_assert_eq(st.rows, 1);
    sl_parquet_writer_free(w); /* unfinished: abandoned */
}

Test(file, trusted_input_that_is_damaged_abandons_the_row)
{
    sl_parquet_writer_options o;
    sl_parquet_writer_options_default(&o);
    o.trusted_json = true;
    sl_parquet_writer *w;
    cr_assert_eq(sl_parquet_writer_new(&w, &o), 0);
    cr_assert_eq(sl_parquet_writer_add_json(w, SL_VIEW_LIT("{\"a\":1,\"s\":\"x\"}"), 1), 0);
    /* cut short, a bad literal, garbage after the object, a string that never ends */
    const char *bad[] = { "{\"a\":2,\"new\":\"n\",\"b\":{\"c\":", "{\"a\":tru}", "{\"a\":3} {", "{\"a\":\"\\",
                          "{\"new2\":[1,{\"x\":\"]}\"}" };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        cr_assert_eq(sl_parquet_writer_add_json(w, sl_view_of(bad[i]), 2), SL_ERR_PARSE, "%s", bad[i]);
    cr_assert_eq(sl_parquet_writer_add_json(w, SL_VIEW_LIT("{\"s\":\"y\",\"a\":4}"), 3), 0);
    sl_buf file = SL_BUF_INIT;
    cr_assert_eq(sl_parquet_writer_finish_buf(w, &file), 0);
    sl_parquet_writer_free(w);
    sl_parquet_reader *r = open_buf(&file);
    cr_assert_eq(sl_parquet_reader_num_columns(r), 3, "columns of abandoned rows are gone");
    sl_buf rows = rows_json(r);
    cr_assert_str_eq(rows.data, "{\"ts\":\"1970-01-01T00:00:00.000001Z\",\"a\":1,\"s\":\"x\"}\n"
                                "{\"ts\":\"1970-01-01T00:00:00.000003Z\",\"a\":4,\"s\":\"y\"}\n");
    sl_buf_free(&rows);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);
}

Test(file, numbers_at_the_edges)
{
    const char *events[] = {
        "{\"n\":9223372036854775807,\"m\":-9223372036854775808,\"x\":123456789012345678}",
        "{\"n\":-0,\"m\":0,\"x\":-123456789012345678}",
        "{\"f\":1e400,\"g\":1E2,\"h\":-2.5e-3}",
    };
    sl_buf file = write_events(NULL, events, 3);
    sl_parquet_reader *r = open_buf(&file);
    sl_buf rows = rows_json(r);
    cr_assert_str_eq(rows.data,
                     "{\"ts\":\"1970-01-01T00:00:00.000000Z\",\"n\":9223372036854775807,\"m\":-9223372036854775808,\"x\":123456789012345678}\n"
                     "{\"ts\":\"1970-01-01T00:00:00.001000Z\",\"n\":0,\"m\":0,\"x\":-123456789012345678}\n"
                     "{\"ts\":\"1970-01-01T00:00:00.002000Z\",\"f\":\"1e400\",\"g\":100,\"h\":-0.0025}\n");
    cr_assert_eq(sl_parquet_reader_column(r, (size_t)column_index(r, "g"))->type, SL_PARQUET_DOUBLE);
    sl_buf_free(&rows);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);
}

Test(file, duplicate_keys_and_escaped_keys)
{
    const char *events[] = {
        "{\"a\":1,\"a\":2,\"b.c\":\"flat\",\"b\":{\"c\":\"nested wins, it comes last\"},\"k\\u0065y\":true}",
        "{\"a\":3,\"a\":null}",
    };
    sl_buf file = write_events(NULL, events, 2);
    sl_parquet_reader *r = open_buf(&file);
    sl_buf rows = rows_json(r);
    cr_assert_str_eq(rows.data,
                     "{\"ts\":\"1970-01-01T00:00:00.000000Z\",\"a\":2,\"b.c\":\"nested wins, it comes last\",\"key\":true}\n"
                     "{\"ts\":\"1970-01-01T00:00:00.001000Z\"}\n");
    sl_buf_free(&rows);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);
}

/* Build n events where field "v" changes kind at `switch_at`. */
static char **widening_events(size_t n, size_t switch_at, const char *late_fmt)
{
    char **ev = malloc(n * sizeof *ev);
    for (size_t i = 0; i < n; i++) {
        char buf[128];
        if (i < switch_at)
            snprintf(buf, sizeof buf, "{\"v\":%zu,\"s\":\"x%zu\"}", i, i % 3);
        else
            snprintf(buf, sizeof buf, late_fmt, i);
        ev[i] = strdup(buf);
    }
    return ev;
}

static void free_events(char **ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ev[i]);
    free(ev);
}

Test(file, widening_within_and_across_row_groups)
{
    /* int -> double after 3 row groups of 100 rows, int -> string later, a new column late. */
    struct {
        const char *fmt;
        sl_parquet_type want;
    } cases[] = {
        { "{\"v\":%zu.5,\"late\":1}", SL_PARQUET_DOUBLE },
        { "{\"v\":\"s%zu\",\"late\":1}", SL_PARQUET_STRING },
        { "{\"v\":true,\"late\":%zu}", SL_PARQUET_STRING },
    };
    for (size_t k = 0; k < SL_ARRAY_LEN(cases); k++) {
        for (size_t switch_at = 50; switch_at <= 350; switch_at += 300) { /* inside the first group, or after 3 */
            size_t n = 420;
            char **ev = widening_events(n, switch_at, cases[k].fmt);
            sl_parquet_writer_options o;
            sl_parquet_writer_options_default(&o);
            o.row_group_rows = 100;
            sl_buf file = write_events(&o, (const char *const *)ev, n);
            sl_parquet_reader *r = open_buf(&file);
            cr_assert_eq(sl_parquet_reader_num_row_groups(r), 5);
            int vi = column_index(r, "v"), li = column_index(r, "late");
            cr_assert_eq(sl_parquet_reader_column(r, (size_t)vi)->type, cases[k].want);
            cr_assert_geq(li, 0);
            const sl_parquet_value *vals;
            size_t row = 0;
            sl_buf text = SL_BUF_INIT;
            while (sl_parquet_reader_next_row(r, &vals) == 1) {
                const sl_parquet_value *v = &vals[vi];
                cr_assert_not(v->is_null);
                sl_buf_reset(&text);
                sl_parquet_value_to_text(v, &text);
                char want[64];
                if (row < switch_at)
                    snprintf(want, sizeof want, "%zu", row);
                else if (k == 0)
                    snprintf(want, sizeof want, "%zu.5", row);
                else if (k == 1)
                    snprintf(want, sizeof want, "s%zu", row);
                else
                    snprintf(want, sizeof want, "true");
                cr_assert_str_eq(text.data, want, "case %zu switch %zu row %zu", k, switch_at, row);
                cr_assert_eq(vals[li].is_null, row < switch_at, "row %zu", row);
                row++;
            }
            cr_assert_eq(row, n);
            sl_buf_free(&text);
            sl_parquet_reader_free(r);
            sl_buf_free(&file);
            free_events(ev, n);
        }
    }
}

Test(file, dictionary_and_its_fallbacks)
{
    size_t n = 20000;
    char **ev = malloc(n * sizeof *ev);
    for (size_t i = 0; i < n; i++) {
        char buf[160];
        /* low: 4 values; unique: all distinct (ratio rule); big: 200 distinct x 100 bytes */
        snprintf(buf, sizeof buf, "{\"low\":\"L%zu\",\"unique\":\"u-%zu\",\"big\":\"%0100zu\"}", i % 4, i, i % 200);
        ev[i] = strdup(buf);
    }
    sl_parquet_writer_options o;
    sl_parquet_writer_options_default(&o);
    o.dict_limit = 10000; /* "big" needs ~20 KB of dictionary */
    o.row_group_rows = 10000;
    sl_buf file = write_events(&o, (const char *const *)ev, n);
    sl_parquet_reader *r = open_buf(&file);
    sl_parquet_column_stats st;
    for (size_t g = 0; g < 2; g++) {
        cr_assert_eq(sl_parquet_reader_column_stats(r, g, (size_t)column_index(r, "low"), &st), 0);
        cr_assert(st.dictionary, "low cardinality keeps its dictionary");
        cr_assert_eq(sl_parquet_reader_column_stats(r, g, (size_t)column_index(r, "unique"), &st), 0);
        cr_assert_not(st.dictionary, "mostly distinct values fall back to PLAIN");
        cr_assert_eq(sl_parquet_reader_column_stats(r, g, (size_t)column_index(r, "big"), &st), 0);
        cr_assert_not(st.dictionary, "a dictionary past its limit falls back to PLAIN");
    }
    const sl_parquet_value *vals;
    size_t row = 0;
    int li = column_index(r, "low"), ui = column_index(r, "unique"), bi = column_index(r, "big");
    while (sl_parquet_reader_next_row(r, &vals) == 1) {
        char want[128];
        snprintf(want, sizeof want, "L%zu", row % 4);
        cr_assert(sl_view_eq_str(vals[li].u.str, want));
        snprintf(want, sizeof want, "u-%zu", row);
        cr_assert(sl_view_eq_str(vals[ui].u.str, want));
        snprintf(want, sizeof want, "%0100zu", row % 200);
        cr_assert(sl_view_eq_str(vals[bi].u.str, want));
        row++;
    }
    cr_assert_eq(row, n);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);

    /* With no_dictionary nothing is dictionary-encoded. */
    o.no_dictionary = true;
    file = write_events(&o, (const char *const *)ev, 100);
    r = open_buf(&file);
    cr_assert_eq(sl_parquet_reader_column_stats(r, 0, (size_t)column_index(r, "low"), &st), 0);
    cr_assert_not(st.dictionary);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);
    free_events(ev, n);
}

Test(file, every_codec_round_trips)
{
    sl_parquet_codec codecs[] = { SL_PARQUET_ZSTD, SL_PARQUET_GZIP, SL_PARQUET_SNAPPY, SL_PARQUET_UNCOMPRESSED };
    size_t n = 5000;
    char **ev = malloc(n * sizeof *ev);
    for (size_t i = 0; i < n; i++) {
        char buf[200];
        snprintf(buf, sizeof buf, "{\"i\":%zu,\"d\":%zu.25,\"b\":%s,\"s\":\"message %zu\",\"maybe\":%s}", i, i,
                 i % 2 ? "true" : "false", i % 10, i % 3 ? "null" : "\"here\"");
        ev[i] = strdup(buf);
    }
    for (size_t c = 0; c < SL_ARRAY_LEN(codecs); c++) {
        if (!sl_parquet_codec_available(codecs[c])) {
            sl_parquet_writer *w;
            sl_parquet_writer_options o;
            sl_parquet_writer_options_default(&o);
            o.codec = codecs[c];
            cr_assert_eq(sl_parquet_writer_new(&w, &o), SL_ERR_CONFIG);
            continue;
        }
        sl_parquet_writer_options o;
        sl_parquet_writer_options_default(&o);
        o.codec = codecs[c];
        o.row_group_rows = 2000;
        o.page_rows = 700;
        sl_buf file = write_events(&o, (const char *const *)ev, n);
        sl_parquet_reader *r = open_buf(&file);
        sl_parquet_column_stats st;
        cr_assert_eq(sl_parquet_reader_column_stats(r, 0, 1, &st), 0);
        cr_assert_eq(st.codec, (int)codecs[c]);
        sl_buf rows = rows_json(r);
        sl_buf want = SL_BUF_INIT;
        for (size_t i = 0; i < n; i++) {
            char ts[40];
            snprintf(ts, sizeof ts, "1970-01-01T00:00:%02zu.%06zuZ", i / 1000, (i % 1000) * 1000);
            sl_buf_printf(&want, "{\"ts\":\"%s\",\"i\":%zu,\"d\":%zu.25,\"b\":%s,\"s\":\"message %zu\"%s}\n", ts, i, i,
                          i % 2 ? "true" : "false", i % 10, i % 3 ? "" : ",\"maybe\":\"here\"");
        }
        cr_assert_str_eq(rows.data, want.data, "codec %s", sl_parquet_codec_name(codecs[c]));
        sl_buf_free(&rows);
        sl_buf_free(&want);
        sl_parquet_reader_free(r);
        sl_buf_free(&file);
    }
    free_events(ev, n);
}

Test(file, long_strings_pages_and_truncated_statistics)
{
    size_t big = 200 * 1024;
    char *s = malloc(big + 64);
    /* Korean text (3-byte characters) past 64 KiB, then a 4-byte emoji */
    size_t k = 0;
    while (k + 3 < big) {
        memcpy(s + k, "\xed\x95\x9c", 3);
        k += 3;
    }
    memcpy(s + k, "\xf0\x9f\x98\x80", 4);
    k += 4;
    s[k] = '\0';
    sl_buf ev1 = SL_BUF_INIT, ev2 = SL_BUF_INIT;
    sl_buf_printf(&ev1, "{\"long\":\"%s\"}", s);
    sl_buf_printf(&ev2, "{\"long\":\"%s\"}", "zzzz-short");
    const char *events[] = { ev1.data, ev2.data, ev1.data };
    sl_parquet_writer_options o;
    sl_parquet_writer_options_default(&o);
    o.page_bytes = 1000; /* one value per page */
    o.no_dictionary = true;
    sl_buf file = write_events(&o, events, 3);
    sl_parquet_reader *r = open_buf(&file);
    const sl_parquet_value *vals;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sl_parquet_reader_next_row(r, &vals), 1);
        cr_assert(sl_view_eq_str(vals[1].u.str, i == 1 ? "zzzz-short" : s));
    }
    cr_assert_eq(sl_parquet_reader_next_row(r, &vals), 0);
    sl_parquet_column_stats st;
    cr_assert_eq(sl_parquet_reader_column_stats(r, 0, 1, &st), 0);
    cr_assert(st.has_min_max);
    cr_assert(sl_view_eq_str(st.min.u.str, "zzzz-short"), "byte-wise: 'z' (0x7a) sorts before 0xed");
    cr_assert_leq(st.max.u.str.len, SL_PARQUET_STATS_MAX_BYTES);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);

    /* A long max is cut and its last character bumped: still an upper bound, still UTF-8. */
    const char *events2[] = { ev1.data };
    file = write_events(&o, events2, 1);
    r = open_buf(&file);
    cr_assert_eq(sl_parquet_reader_column_stats(r, 0, 1, &st), 0);
    cr_assert(st.has_min_max);
    sl_view mx = st.max.u.str;
    cr_assert_leq(mx.len, SL_PARQUET_STATS_MAX_BYTES);
    cr_assert_gt(memcmp(mx.ptr, s, mx.len), 0);
    cr_assert_eq(mx.len % 3, 0);
    cr_assert_eq((uint8_t)mx.ptr[mx.len - 1], 0x9d); /* 한 (ED 95 9C) became 핝 (ED 95 9D) */
    sl_view mn = st.min.u.str;
    cr_assert(mn.len > 0 && mn.len <= SL_PARQUET_STATS_MAX_BYTES && memcmp(mn.ptr, s, mn.len) == 0,
              "a long min is cut to a prefix on a character boundary");
    cr_assert_eq(mn.len % 3, 0);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);
    sl_buf_free(&ev1);
    sl_buf_free(&ev2);
    free(s);
}

Test(file, double_statistics_follow_the_zero_rule)
{
    const char *events[] = { "{\"d\":0.0}", "{\"d\":-0.0}", "{\"d\":0.5}" };
    sl_buf file = write_events(NULL, events, 3);
    sl_parquet_reader *r = open_buf(&file);
    sl_parquet_column_stats st;
    cr_assert_eq(sl_parquet_reader_column_stats(r, 0, 1, &st), 0);
    cr_assert(st.has_min_max);
    cr_assert_eq(st.min.u.f64, 0.0);
    cr_assert(signbit(st.min.u.f64), "a zero min is -0.0");
    cr_assert_eq(st.max.u.f64, 0.5);
    cr_assert(st.has_nan_count);
    cr_assert_eq(st.nan_count, 0);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);

    /* NaN (only through the typed API: JSON has none) is counted, not a min or max. */
    sl_parquet_writer *w;
    cr_assert_eq(sl_parquet_writer_new(&w, NULL), 0);
    double ds[] = { NAN, 2.0, NAN, -1.0 };
    for (int i = 0; i < 4; i++) {
        sl_parquet_writer_row_begin(w, i);
        sl_parquet_writer_set_double(w, SL_VIEW_LIT("d"), ds[i]);
        sl_parquet_writer_row_end(w);
    }
    cr_assert_eq(sl_parquet_writer_finish_buf(w, &file), 0);
    sl_parquet_writer_free(w);
    r = open_buf(&file);
    cr_assert_eq(sl_parquet_reader_column_stats(r, 0, 1, &st), 0);
    cr_assert_eq(st.nan_count, 2);
    cr_assert_eq(st.min.u.f64, -1.0);
    cr_assert_eq(st.max.u.f64, 2.0);
    sl_buf rows = rows_json(r);
    cr_assert(strstr(rows.data, "\"d\":null") != NULL, "NaN prints as null in JSON");
    sl_buf_free(&rows);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);
}

Test(file, typed_rows_declared_schema_and_empty_file)
{
    sl_parquet_schema decl = SL_PARQUET_SCHEMA_INIT;
    sl_parquet_schema_add(&decl, "status", 6, SL_PARQUET_INT32);
    sl_parquet_schema_add(&decl, "never", 5, SL_PARQUET_STRING);
    sl_parquet_writer_options o;
    sl_parquet_writer_options_default(&o);
    o.schema = &decl;
    o.ts_column = "event_time";
    sl_parquet_writer *w;
    cr_assert_eq(sl_parquet_writer_new(&w, &o), 0);
    sl_parquet_schema_free(&decl);
    cr_assert_eq(sl_parquet_writer_row_begin(w, SL_PARQUET_TS_NULL), 0);
    cr_assert_eq(sl_parquet_writer_set_value(w, SL_VIEW_LIT("status"),
                                             &(sl_parquet_value){ .type = SL_PARQUET_INT32, .u.i64 = 404 }), 0);
    cr_assert_eq(sl_parquet_writer_set_double(w, SL_VIEW_LIT("x"), 2.5), 0);
    cr_assert_eq(sl_parquet_writer_set_int64(w, SL_VIEW_LIT("event_time"), 5), 0); /* ignored */
    cr_assert_eq(sl_parquet_writer_row_end(w), 0);
    cr_assert_eq(sl_parquet_writer_row_begin(w, 7), 0);
    cr_assert_eq(sl_parquet_writer_set_bool(w, SL_VIEW_LIT("flag"), true), 0);
    cr_assert_eq(sl_parquet_writer_set_string(w, SL_VIEW_LIT("status"), SL_VIEW_LIT("gone")), 0); /* int32 -> string */
    cr_assert_eq(sl_parquet_writer_row_end(w), 0);
    sl_buf file = SL_BUF_INIT;
    cr_assert_eq(sl_parquet_writer_finish_buf(w, &file), 0);
    cr_assert_eq(sl_parquet_writer_row_begin(w, 0), SL_ERR_CLOSED);
    sl_parquet_writer_free(w);

    sl_parquet_reader *r = open_buf(&file);
    cr_assert_str_eq(sl_parquet_reader_column(r, 0)->name, "event_time");
    cr_assert_str_eq(sl_parquet_reader_column(r, 1)->name, "status");
    cr_assert_eq(sl_parquet_reader_column(r, 1)->type, SL_PARQUET_STRING);
    cr_assert_str_eq(sl_parquet_reader_column(r, 2)->name, "never");
    sl_buf out = SL_BUF_INIT;
    while (sl_parquet_reader_next_json(r, SL_PARQUET_JSON_NULLS, &out) == 1)
        sl_buf_append_char(&out, '\n');
    cr_assert_str_eq(out.data,
                     "{\"event_time\":null,\"status\":\"404\",\"never\":null,\"x\":2.5,\"flag\":null}\n"
                     "{\"event_time\":\"1970-01-01T00:00:00.000007Z\",\"status\":\"gone\",\"never\":null,\"x\":null,\"flag\":true}\n");
    sl_buf_free(&out);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);

    /* No rows at all: still a valid file with the ts column. */
    cr_assert_eq(sl_parquet_writer_new(&w, NULL), 0);
    cr_assert_eq(sl_parquet_writer_finish_buf(w, &file), 0);
    sl_parquet_writer_free(w);
    r = open_buf(&file);
    cr_assert_eq(sl_parquet_reader_num_rows(r), 0);
    cr_assert_eq(sl_parquet_reader_num_columns(r), 1);
    const sl_parquet_value *vals;
    cr_assert_eq(sl_parquet_reader_next_row(r, &vals), 0);
    sl_parquet_reader_free(r);
    sl_buf_free(&file);
}

Test(file, damaged_files_fail_cleanly)
{
    size_t n = 300;
    char **ev = malloc(n * sizeof *ev);
    for (size_t i = 0; i < n; i++) {
        char buf[200];
        snprintf(buf, sizeof buf, "{\"i\":%zu,\"s\":\"v%zu\",\"u\":\"%zu-%zu\",\"d\":%zu.5,\"b\":%s}", i, i % 5, i, i * 7,
                 i, i % 3 ? "true" : "null");
        ev[i] = strdup(buf);
    }
    sl_parquet_writer_options o;
    sl_parquet_writer_options_default(&o);
    o.row_group_rows = 100;
    o.page_rows = 40;
    o.codec = SL_PARQUET_UNCOMPRESSED; /* damage reaches the encodings, not just the codec */
    sl_buf file = write_events(&o, (const char *const *)ev, n);
    free_events(ev, n);

    sl_parquet_reader_options ro = { .max_page_bytes = 1 << 20 };
    unsigned opened = 0, finished = 0;
    for (int round = 0; round < 3000; round++) {
        sl_buf copy = SL_BUF_INIT;
        sl_buf_append(&copy, file.data, file.len);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = (size_t)(rnd() % copy.len);
            if (rnd() % 2)
                copy.data[at] = (char)rnd();
            else
                copy.data[at] ^= (char)(1u << (rnd() % 8));
        }
        if (round % 10 == 0)
            copy.len = (size_t)(rnd() % copy.len); /* truncated */
        sl_parquet_reader *r;
        if (sl_parquet_reader_open_mem(&r, copy.data, copy.len, &ro, NULL, 0) == 0) {
            opened++;
            sl_buf out = SL_BUF_INIT;
            int rc;
            size_t rows = 0;
            while ((rc = sl_parquet_reader_next_json(r, SL_PARQUET_JSON_NULLS, &out)) == 1 && rows++ < 10000)
                sl_buf_reset(&out);
            finished += rc == 0;
            sl_buf_free(&out);
            sl_parquet_reader_free(r);
        }
        sl_buf_free(&copy);
    }
    cr_assert_gt(opened, 100);
    cr_assert_gt(finished, 10);
    sl_buf_free(&file);

    /* Not Parquet at all. */
    sl_parquet_reader *r;
    char err[160];
    cr_assert_eq(sl_parquet_reader_open_mem(&r, "PAR1PAR1", 8, NULL, err, sizeof err), SL_ERR_CORRUPT);
    cr_assert(strstr(err, "PAR1"));
}
