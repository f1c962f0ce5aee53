/*
 * parquet_writer.h - write one Parquet file from events, row by row.
 *
 * The lake output feeds a writer the JSON events of one file (one topic
 * partition, one event-time hour, one offset range) and finishes it into a
 * temporary file it then syncs and renames. The writer:
 *
 *   - flattens each JSON object to columns with dotted names
 *     ({"metadata":{"status_code":200}} -> column "metadata.status_code"),
 *     not nested groups; arrays become their JSON text in a string column;
 *     integers are int64, other numbers double, true/false boolean, strings
 *     string; null (or an absent field) is a null;
 *   - keeps an event-time column first (`ts`, TIMESTAMP(MICROS, UTC)), filled
 *     from the ts_us the caller passes, not from the event (an event member
 *     with the same name is not a separate column);
 *   - evolves the schema within the file: a new field adds a column (earlier
 *     rows null); a value that does not fit its column widens the whole
 *     column in this file (int -> double -> string, other mixes -> string);
 *     a field that is null in every row has no column;
 *   - buffers a row group column-wise, encodes and compresses it when it
 *     reaches row_group_rows rows or row_group_bytes bytes, and keeps the
 *     encoded row groups in memory until sl_parquet_writer_finish writes
 *     the whole file. So memory is about the compressed file so far plus
 *     one raw row group; and a column widened after some row groups were
 *     encoded has those chunks re-encoded at finish, so no schema change
 *     ever forces a new file.
 *
 * A writer is used by one thread. Lifecycle: _new, then any number of rows
 * (sl_parquet_writer_add_json, or _row_begin / _set_* / _row_end), then
 * exactly one _finish* (or none, to abandon), then _free.
 */
#ifndef SL_PARQUET_WRITER_H
#define SL_PARQUET_WRITER_H

#include "core/buf.h"
#include "core/common.h"
#include "lake/parquet/codec.h"
#include "lake/parquet/schema.h"

typedef struct sl_parquet_writer sl_parquet_writer;

/* ts_us value meaning "no event time": the ts column is null for that row. */
#define SL_PARQUET_TS_NULL INT64_MIN

typedef struct sl_parquet_kv {
    const char *key;
    const char *value;
} sl_parquet_kv;

typedef struct sl_parquet_writer_options {
    sl_parquet_codec codec;          /* default SL_PARQUET_ZSTD */
    int compression_level;           /* 0 = the codec's default (zstd 1, gzip 6) */
    size_t row_group_rows;           /* 0 = 131072 */
    size_t row_group_bytes;          /* PLAIN bytes of buffered values; 0 = 128 MiB (capped at 1 GiB) */
    size_t page_bytes;               /* target uncompressed data page; 0 = 1 MiB */
    size_t page_rows;                /* at most this many rows per page; 0 = 20000 */
    size_t dict_limit;               /* dictionary bytes per column chunk; 0 = 1 MiB */
    bool no_dictionary;              /* PLAIN strings only */
    const char *ts_column;           /* NULL = "ts" */
    const sl_parquet_schema *schema; /* declared columns in order (copied); NULL = infer */
    const sl_parquet_kv *kv;         /* key-value metadata (copied) */
    size_t n_kv;
    bool trusted_json;               /* add_json skips validation (events validated upstream) */
} sl_parquet_writer_options;

/* Fill *o with the defaults (all zero but the codec). */
void sl_parquet_writer_options_default(sl_parquet_writer_options *o);

/*
 * Create a writer. Returns 0, or SL_ERR_CONFIG (codec not built in, bad
 * option). The options and everything they point to are copied.
 */
int sl_parquet_writer_new(sl_parquet_writer **out, const sl_parquet_writer_options *o);
void sl_parquet_writer_free(sl_parquet_writer *w); /* NULL-safe; abandons an unfinished file */

/* Set (or replace) a key-value metadata entry, copied. Any time before finish. */
void sl_parquet_writer_set_metadata(sl_parquet_writer *w, const char *key, sl_view value);

/*
 * Add one JSON object as a row with event time ts_us (microseconds since the
 * epoch, UTC; SL_PARQUET_TS_NULL for none). Returns 0, or SL_ERR_PARSE when
 * event is not a valid JSON object (nothing is added).
 */
int sl_parquet_writer_add_json(sl_parquet_writer *w, sl_view event, int64_t ts_us);

/*
 * Rows from typed values (compaction copies rows between files this way).
 * Setting a column twice in a row keeps the last value; setting the ts
 * column by name is ignored (its value is row_begin's ts_us).
 */
int sl_parquet_writer_row_begin(sl_parquet_writer *w, int64_t ts_us);
int sl_parquet_writer_set_value(sl_parquet_writer *w, sl_view name, const sl_parquet_value *v);
int sl_parquet_writer_set_bool(sl_parquet_writer *w, sl_view name, bool v);
int sl_parquet_writer_set_int64(sl_parquet_writer *w, sl_view name, int64_t v);
int sl_parquet_writer_set_double(sl_parquet_writer *w, sl_view name, double v);
int sl_parquet_writer_set_string(sl_parquet_writer *w, sl_view name, sl_view v); /* copied */
int sl_parquet_writer_row_end(sl_parquet_writer *w);

/* Encode the buffered rows as a row group now (no-op when there are none). */
int sl_parquet_writer_flush_row_group(sl_parquet_writer *w);

typedef struct sl_parquet_writer_stats {
    uint64_t rows;           /* rows added */
    uint64_t row_groups;     /* row groups encoded so far */
    uint64_t buffered_rows;  /* rows in the row group being built */
    uint64_t buffered_bytes; /* their values' PLAIN size */
    uint64_t encoded_bytes;  /* compressed pages of the encoded row groups */
    uint64_t columns;
} sl_parquet_writer_stats;

void sl_parquet_writer_stats_get(const sl_parquet_writer *w, sl_parquet_writer_stats *st);
/* The current schema (borrowed; valid until the next row or finish). */
const sl_parquet_schema *sl_parquet_writer_schema(const sl_parquet_writer *w);

/*
 * Write the whole file through fn (called with consecutive pieces; a
 * negative return aborts and is returned). After finish, whatever it
 * returned, the writer only accepts _free. The key `sluice.schema` holds
 * sl_parquet_schema_to_json of the final schema.
 */
typedef int (*sl_parquet_write_fn)(void *ctx, const void *p, size_t n);
int sl_parquet_writer_finish(sl_parquet_writer *w, sl_parquet_write_fn fn, void *ctx);
/* Finish into a buffer (appended) or to a file descriptor (no fsync: the caller syncs). */
int sl_parquet_writer_finish_buf(sl_parquet_writer *w, sl_buf *out);
int sl_parquet_writer_finish_fd(sl_parquet_writer *w, int fd);

#endif
