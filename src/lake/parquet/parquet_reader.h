/*
 * parquet_reader.h - read a flat Parquet file: schema, metadata, rows.
 *
 * Behind `sluice lake schema FILE` and `sluice lake cat FILE`, compaction,
 * and the tests. It reads what sluice writes and any other flat file of
 * OPTIONAL or REQUIRED leaf columns: BOOLEAN, INT32, INT64, INT96 (legacy
 * timestamps), FLOAT, DOUBLE, BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY; PLAIN,
 * dictionary and RLE (boolean) encodings; data pages v1 and v2; codecs
 * none, zstd, gzip and (when built with it) snappy. Nested groups and
 * repeated fields are refused with SL_PARQUET_ERR_UNSUPPORTED.
 *
 * Rows come out as typed values, or as one JSON object per row whose keys
 * are the column names as stored: sluice's dotted names stay dotted
 * ({"metadata.status_code":200}, not re-nested), timestamps are ISO-8601
 * UTC strings with microseconds, and null columns are left out unless
 * asked for.
 *
 * The file is untrusted input: every offset, length and count in it is
 * checked before use, allocations are bounded by the bytes present and by
 * max_page_bytes, and a damaged file yields an error code (SL_ERR_CORRUPT
 * mostly), never a crash. fuzz/fuzz_parquet_reader.c holds it to that.
 */
#ifndef SL_PARQUET_READER_H
#define SL_PARQUET_READER_H

#include "core/buf.h"
#include "core/common.h"
#include "lake/parquet/column_reader.h" /* SL_PARQUET_ERR_UNSUPPORTED */
#include "lake/parquet/schema.h"

typedef struct sl_parquet_reader sl_parquet_reader;

typedef struct sl_parquet_reader_options {
    size_t max_page_bytes; /* largest uncompressed page accepted; 0 = 256 MiB */
} sl_parquet_reader_options;

typedef struct sl_parquet_column_info {
    const char *name;     /* NUL-terminated copy, owned by the reader */
    size_t name_len;      /* (a name could hold a NUL) */
    sl_parquet_type type; /* the type its values come out as */
    int physical;         /* Parquet physical type (SL_PQ_* in metadata.h) */
    bool optional;
} sl_parquet_column_info;

/*
 * Open a file held in memory; data is borrowed and must outlive the
 * reader. Returns 0, SL_ERR_CORRUPT (not Parquet, or a damaged footer) or
 * SL_PARQUET_ERR_UNSUPPORTED (nested schema). err (may be NULL) receives a
 * one-line reason on failure.
 */
int sl_parquet_reader_open_mem(sl_parquet_reader **out, const void *data, size_t len,
                               const sl_parquet_reader_options *o, char *err, size_t err_len);
/* Read the whole file at path into memory (owned by the reader) and open it. -errno on I/O errors. */
int sl_parquet_reader_open_file(sl_parquet_reader **out, const char *path,
                                const sl_parquet_reader_options *o, char *err, size_t err_len);
void sl_parquet_reader_free(sl_parquet_reader *r); /* NULL-safe */

int64_t sl_parquet_reader_num_rows(const sl_parquet_reader *r);       /* as the footer says */
size_t sl_parquet_reader_num_row_groups(const sl_parquet_reader *r);
int64_t sl_parquet_reader_row_group_rows(const sl_parquet_reader *r, size_t rg);
size_t sl_parquet_reader_num_columns(const sl_parquet_reader *r);
const sl_parquet_column_info *sl_parquet_reader_column(const sl_parquet_reader *r, size_t i);
/* Key-value metadata and created_by; views into the file's bytes. */
size_t sl_parquet_reader_num_metadata(const sl_parquet_reader *r);
void sl_parquet_reader_metadata(const sl_parquet_reader *r, size_t i, sl_view *key, sl_view *value);
bool sl_parquet_reader_find_metadata(const sl_parquet_reader *r, const char *key, sl_view *value);
sl_view sl_parquet_reader_created_by(const sl_parquet_reader *r);

/* Statistics of one column chunk, decoded (min/max only when present and readable). */
typedef struct sl_parquet_column_stats {
    bool has_null_count;
    int64_t null_count;
    bool has_nan_count;
    int64_t nan_count;
    bool has_min_max;
    sl_parquet_value min, max; /* strings point into the file's bytes */
    bool dictionary;           /* the chunk has a dictionary page */
    int codec;
} sl_parquet_column_stats;

int sl_parquet_reader_column_stats(const sl_parquet_reader *r, size_t rg, size_t col,
                                   sl_parquet_column_stats *st);

/*
 * The next row: 1 with *values pointing at num_columns values (valid until
 * the next call), 0 after the last row, or a negative code (then the
 * reader stays failed; sl_parquet_reader_message says where).
 */
int sl_parquet_reader_next_row(sl_parquet_reader *r, const sl_parquet_value **values);
const char *sl_parquet_reader_message(const sl_parquet_reader *r);

#define SL_PARQUET_JSON_NULLS 1u /* include null columns as "name":null */

/* Append one row as a JSON object (see the file comment for the shape). */
void sl_parquet_reader_row_json(const sl_parquet_reader *r, const sl_parquet_value *values,
                                unsigned flags, sl_buf *out);
/* next_row + row_json: 1 with a row appended to out, 0 at the end, < 0 on error. */
int sl_parquet_reader_next_json(sl_parquet_reader *r, unsigned flags, sl_buf *out);

/* Append v as a JSON value (strings made valid UTF-8, U+FFFD for bad bytes). */
void sl_parquet_value_to_json(const sl_parquet_value *v, sl_buf *out);

#endif
