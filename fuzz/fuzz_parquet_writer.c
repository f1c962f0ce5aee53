/*
 * fuzz_parquet_writer.c - libFuzzer target for the JSON side of the Parquet
 * writer: the one-pass flattener (json_flatten.c), schema evolution and the
 * encoder, on arbitrary events.
 *
 * The input is split into lines; each line is one event, added to two
 * writers: one that validates events first and one that trusts them (as
 * the lake may for events it already validated). Checks:
 *
 *   - an event the validating writer accepts, the trusting one accepts too
 *     (the flattener handles all valid JSON);
 *   - the trusting writer never reads outside the event (each line sits in
 *     a buffer of exactly its size, for AddressSanitizer);
 *   - both files open in sluice's reader and hold one row per accepted
 *     event, every row valid JSON;
 *   - when both writers accepted every event, the two files read back
 *     identically. (An event the trusting writer abandons halfway may
 *     already have widened a column; parquet_writer_int.h documents that,
 *     so files with a rejected event are not compared.)
 *
 * Small row groups and pages make the later-row-group widening and the
 * page splitting happen on small inputs. Seeds: fuzz/corpus/parquet_writer/.
 */
#include "core/buf.h"
#include "core/json.h"
#include "lake/parquet/parquet_reader.h"
#include "lake/parquet/parquet_writer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_parquet_writer: check failed: %s: ", #cond); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            abort();                                                          \
        }                                                                     \
    } while (0)

#define MAX_EVENTS 256

static sl_parquet_writer *new_writer(bool trusted)
{
    sl_parquet_writer_options o;
    sl_parquet_writer_options_default(&o);
    o.codec = SL_PARQUET_UNCOMPRESSED;
    o.row_group_rows = 8;
    o.page_rows = 3;
    o.dict_limit = 64;
    o.trusted_json = trusted;
    sl_parquet_writer *w;
    CHECK(sl_parquet_writer_new(&w, &o) == 0, "writer");
    return w;
}

/* Finish w and read it back: every row as JSON lines into out; returns the row count. */
static size_t finish_and_read(sl_parquet_writer *w, sl_buf *out)
{
    sl_buf file = SL_BUF_INIT;
    CHECK(sl_parquet_writer_finish_buf(w, &file) == 0, "finish");
    sl_parquet_reader *r;
    char err[160];
    CHECK(sl_parquet_reader_open_mem(&r, file.data, file.len, NULL, err, sizeof err) == 0, "open: %s", err);
    size_t rows = 0;
    int rc;
    size_t start = out->len;
    while ((rc = sl_parquet_reader_next_json(r, SL_PARQUET_JSON_NULLS, out)) == 1) {
        size_t end;
        CHECK(sl_json_validate(out->data + start, out->len - start, 0, &end, NULL) == 0, "row %zu", rows);
        sl_buf_append_char(out, '\n');
        start = out->len;
        rows++;
    }
    CHECK(rc == 0, "read: %s", sl_parquet_reader_message(r));
    sl_parquet_reader_free(r);
    sl_buf_free(&file);
    return rows;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_parquet_writer *checked = new_writer(false), *trusting = new_writer(true);
    size_t accepted_checked = 0, accepted_trusting = 0, events = 0;
    bool all = true;
    const uint8_t *p = data, *end = data + size;
    while (p < end && events < MAX_EVENTS) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *ev = malloc(n ? n : 1);
        memcpy(ev, p, n);
        int64_t ts = (int64_t)events * 1000 - 5000;
        int a = sl_parquet_writer_add_json(checked, (sl_view){ ev, n }, ts);
        int b = sl_parquet_writer_add_json(trusting, (sl_view){ ev, n }, ts);
        CHECK(a != 0 || b == 0, "valid event %zu refused by the trusting writer (%d): %.*s", events, b,
              (int)SL_MIN(n, 200), ev);
        accepted_checked += a == 0;
        accepted_trusting += b == 0;
        all = all && a == 0 && b == 0;
        free(ev);
        events++;
        p += n + (nl != NULL);
    }
    sl_buf ra = SL_BUF_INIT, rb = SL_BUF_INIT;
    size_t rows_a = finish_and_read(checked, &ra);
    size_t rows_b = finish_and_read(trusting, &rb);
    CHECK(rows_a == accepted_checked, "checked: %zu rows for %zu events", rows_a, accepted_checked);
    CHECK(rows_b == accepted_trusting, "trusting: %zu rows for %zu events", rows_b, accepted_trusting);
    if (all)
        CHECK(ra.len == rb.len && (ra.len == 0 || memcmp(ra.data, rb.data, ra.len) == 0), "files differ:\n%s\n--\n%s",
              ra.data ? ra.data : "", rb.data ? rb.data : "");
    sl_buf_free(&ra);
    sl_buf_free(&rb);
    sl_parquet_writer_free(checked);
    sl_parquet_writer_free(trusting);
    return 0;
}
