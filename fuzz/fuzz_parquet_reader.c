/*
 * fuzz_parquet_reader.c - libFuzzer target for the Parquet reader behind
 * `sluice lake schema|cat` and compaction.
 *
 * The input is a whole file, handed to sl_parquet_reader_open_mem from a
 * buffer of exactly its size (AddressSanitizer catches a read of one byte
 * past the end). A file that opens is walked completely:
 *
 *   - every column's name and type, the key-value metadata, created_by,
 *     and the statistics of every column chunk (capped at 4096 chunks);
 *   - rows, as JSON with nulls (capped at 5000 rows): every row must be
 *     valid JSON by sluice's own scanner, whatever bytes the file held;
 *   - the first 200 rows are copied, value by value, into a Parquet writer
 *     (the compaction path); the file it writes must open again and hold
 *     the same number of rows.
 *
 * Invariant failures abort, so libFuzzer reports them like crashes.
 * Seeds: small sluice-written files in fuzz/corpus/parquet_reader/.
 */
#include "core/buf.h"
#include "core/json.h"
#include "lake/parquet/parquet_reader.h"
#include "lake/parquet/parquet_writer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink; /* keeps results alive for the optimiser */

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_parquet_reader: check failed: %s: ", #cond); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            abort();                                                          \
        }                                                                     \
    } while (0)

#define MAX_ROWS   5000
#define COPY_ROWS  200
#define MAX_CHUNKS 4096

static void walk_metadata(sl_parquet_reader *r)
{
    size_t ncols = sl_parquet_reader_num_columns(r);
    for (size_t c = 0; c < ncols; c++) {
        const sl_parquet_column_info *ci = sl_parquet_reader_column(r, c);
        CHECK(ci && ci->name, "column %zu", c);
        sink += ci->name_len + (uint64_t)ci->type + (uint64_t)ci->physical;
        sink += strlen(sl_parquet_type_name(ci->type));
    }
    for (size_t i = 0; i < sl_parquet_reader_num_metadata(r); i++) {
        sl_view k, v;
        sl_parquet_reader_metadata(r, i, &k, &v);
        sink += k.len + v.len;
    }
    sl_view v;
    if (sl_parquet_reader_find_metadata(r, "sluice.schema", &v)) {
        sl_parquet_schema s = SL_PARQUET_SCHEMA_INIT;
        sink += (uint64_t)sl_parquet_schema_from_json(&s, v);
        sl_parquet_schema_free(&s);
    }
    sink += sl_parquet_reader_created_by(r).len;
    sink += (uint64_t)sl_parquet_reader_num_rows(r);

    size_t chunks = 0;
    sl_buf text = SL_BUF_INIT;
    for (size_t g = 0; g < sl_parquet_reader_num_row_groups(r) && chunks < MAX_CHUNKS; g++) {
        sink += (uint64_t)sl_parquet_reader_row_group_rows(r, g);
        for (size_t c = 0; c < ncols && chunks < MAX_CHUNKS; c++, chunks++) {
            sl_parquet_column_stats st;
            if (sl_parquet_reader_column_stats(r, g, c, &st) < 0)
                continue;
            if (st.has_min_max) {
                sl_buf_reset(&text);
                sl_parquet_value_to_json(&st.min, &text);
                sl_parquet_value_to_json(&st.max, &text);
                sink += text.len;
            }
            sink += (uint64_t)st.null_count;
        }
    }
    sl_buf_free(&text);
}

/* Copy a row into the writer the way compaction would. */
static void copy_row(sl_parquet_writer *w, sl_parquet_reader *r, const sl_parquet_value *vals)
{
    size_t ncols = sl_parquet_reader_num_columns(r);
    int64_t ts = SL_PARQUET_TS_NULL;
    for (size_t c = 0; c < ncols; c++)
        if (vals[c].type == SL_PARQUET_TIMESTAMP && !vals[c].is_null) {
            ts = vals[c].u.i64;
            break;
        }
    CHECK(sl_parquet_writer_row_begin(w, ts) == 0, "row_begin");
    for (size_t c = 0; c < ncols; c++) {
        const sl_parquet_column_info *ci = sl_parquet_reader_column(r, c);
        sl_view name = { ci->name, ci->name_len };
        int rc = sl_parquet_writer_set_value(w, name, &vals[c]);
        CHECK(rc == 0 || rc == SL_ERR_TOOBIG, "set_value %d", rc);
    }
    CHECK(sl_parquet_writer_row_end(w) == 0, "row_end");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    sl_parquet_reader_options o = { .max_page_bytes = 4u << 20 };
    sl_parquet_reader *r;
    char err[160];
    int rc = sl_parquet_reader_open_mem(&r, copy, size, &o, err, sizeof err);
    if (rc < 0) {
        CHECK(err[0] != '\0', "an open failure names its reason");
        free(copy);
        return 0;
    }
    walk_metadata(r);

    sl_parquet_writer *w;
    sl_parquet_writer_options wo;
    sl_parquet_writer_options_default(&wo);
    wo.codec = SL_PARQUET_UNCOMPRESSED;
    wo.row_group_rows = 64;
    wo.page_rows = 16;
    CHECK(sl_parquet_writer_new(&w, &wo) == 0, "writer");

    sl_buf line = SL_BUF_INIT;
    const sl_parquet_value *vals;
    size_t rows = 0, copied = 0;
    while (rows < MAX_ROWS && (rc = sl_parquet_reader_next_row(r, &vals)) == 1) {
        sl_buf_reset(&line);
        sl_parquet_reader_row_json(r, vals, SL_PARQUET_JSON_NULLS, &line);
        size_t end;
        sl_json_error jerr;
        CHECK(sl_json_validate(line.data, line.len, 0, &end, &jerr) == 0 && end == line.len,
              "row %zu is not valid JSON (%s at %zu): %.200s", rows, jerr.message, jerr.offset, line.data);
        sink += line.len;
        if (copied < COPY_ROWS) {
            copy_row(w, r, vals);
            copied++;
        }
        rows++;
    }
    if (rc < 0)
        CHECK(sl_parquet_reader_message(r)[0] != '\0', "a read failure names its place");
    sl_buf_free(&line);

    sl_buf out = SL_BUF_INIT;
    CHECK(sl_parquet_writer_finish_buf(w, &out) == 0, "finish");
    sl_parquet_writer_free(w);
    sl_parquet_reader *again;
    CHECK(sl_parquet_reader_open_mem(&again, out.data, out.len, NULL, err, sizeof err) == 0,
          "our own file does not open: %s", err);
    size_t back = 0;
    while ((rc = sl_parquet_reader_next_row(again, &vals)) == 1)
        back++;
    CHECK(rc == 0, "our own file does not read: %s", sl_parquet_reader_message(again));
    CHECK(back == copied, "wrote %zu rows, read %zu", copied, back);
    sl_parquet_reader_free(again);
    sl_buf_free(&out);

    sl_parquet_reader_free(r);
    free(copy);
    return 0;
}
