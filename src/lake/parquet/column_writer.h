/*
 * column_writer.h - one column of the row group being built, and its
 * encoding into a column chunk (internal to the Parquet writer).
 *
 * Values arrive row by row and are kept column-wise in flat arrays: a
 * definition level per row (1 = value, 0 = null) and the non-null values
 * densely. Rows a column did not get are filled with nulls lazily, so a
 * sparse column costs nothing on the rows it is absent from.
 *
 * Strings are dictionary-encoded as they arrive: a hash table maps each
 * distinct string to an index and a row stores 4 bytes. The column falls
 * back to plain storage (and PLAIN pages) when the dictionary passes its
 * byte limit, has more than SL_PARQUET_DICT_MAX_ENTRIES entries, or when
 * after 8192 values three in four were distinct (ids, timestamps: a
 * dictionary would only cost time); that last verdict is remembered for the
 * next row groups of the file.
 *
 * A finished column becomes an sl_parquet_chunk: its pages, compressed,
 * with headers, ready to be copied into the file at any offset (nothing in
 * a chunk refers to its own position).
 */
#ifndef SL_PARQUET_COLUMN_WRITER_H
#define SL_PARQUET_COLUMN_WRITER_H

#include "core/buf.h"
#include "lake/parquet/codec.h"
#include "lake/parquet/schema.h"

#define SL_PARQUET_DICT_MAX_ENTRIES (1u << 20)
#define SL_PARQUET_STATS_MAX_BYTES 64 /* string min/max longer than this are truncated */

/* An encoded column chunk. */
typedef struct sl_parquet_chunk {
    sl_parquet_type type;
    sl_buf bytes;             /* dictionary page (if any), then data pages */
    size_t dict_page_len;     /* bytes of the dictionary page, header included; 0 = none */
    int64_t num_values;       /* rows, nulls included */
    int64_t null_count;
    int64_t uncompressed_size; /* page headers + uncompressed page bodies */
    int data_encoding;        /* SL_PQ_ENC_PLAIN or SL_PQ_ENC_RLE_DICTIONARY */
    int32_t n_data_pages;
    bool has_min_max;
    bool min_exact, max_exact;
    int64_t nan_count;        /* double columns */
    sl_buf min, max;          /* PLAIN-encoded statistics (no length prefix for strings) */
} sl_parquet_chunk;

void sl_parquet_chunk_free(sl_parquet_chunk *c); /* frees the buffers; NULL-safe */

/* What encoding needs besides the values; scratch buffers are reused. */
typedef struct sl_parquet_encode_ctx {
    sl_parquet_codec codec;
    int level;
    sl_parquet_codec_ctx *codec_ctx; /* borrowed */
    size_t page_bytes;               /* target uncompressed page size */
    size_t page_rows;                /* at most this many rows per page */
    sl_buf body, packed, header;     /* scratch */
} sl_parquet_encode_ctx;

typedef struct sl_parquet_column_writer {
    sl_parquet_type type;
    size_t rows;            /* definition levels so far */
    uint8_t *defs;
    size_t defs_cap;
    size_t nvalues;         /* non-null values so far */
    size_t vcap;
    int64_t *i64;           /* int32, int64, timestamp */
    double *f64;
    uint8_t *bools;
    /* strings, dictionary mode */
    bool dict;
    uint32_t *idx;
    sl_buf dict_bytes;
    uint32_t *dict_off;     /* dict_n + 1 offsets into dict_bytes */
    uint32_t *dict_hash;
    size_t dict_n, dict_cap;
    uint32_t *slots;        /* entry + 1, 0 = empty */
    size_t n_slots;
    /* strings, plain mode */
    uint32_t *str_off;      /* nvalues + 1 offsets into str_bytes */
    sl_buf str_bytes;
    /* policy */
    size_t dict_limit;      /* 0 = no dictionary */
    bool dict_hopeless;     /* too many distinct values in an earlier row group */
    size_t plain_bytes;     /* PLAIN-encoded size of the values so far */
} sl_parquet_column_writer;

/* dict_limit: dictionary byte limit, 0 to never use a dictionary. */
void sl_parquet_column_writer_init(sl_parquet_column_writer *cw, sl_parquet_type type, size_t dict_limit);
void sl_parquet_column_writer_free(sl_parquet_column_writer *cw);
/* Empty it for the next row group (memory kept), with this type. */
void sl_parquet_column_writer_reset(sl_parquet_column_writer *cw, sl_parquet_type type);

/*
 * Set the value of row `row` (rows before it that got nothing become null;
 * a second value for the same row replaces the first). v must already have
 * the column's type, or be null. Strings are copied.
 */
void sl_parquet_column_writer_put(sl_parquet_column_writer *cw, size_t row, const sl_parquet_value *v);

/* Remove row `row`'s level and value if it has one (it must be the last row). */
void sl_parquet_column_writer_unset(sl_parquet_column_writer *cw, size_t row);

/* Convert the values buffered so far to a wider type (sl_parquet_type_join). */
void sl_parquet_column_writer_widen(sl_parquet_column_writer *cw, sl_parquet_type to);

/*
 * Encode the first nrows rows (padding with nulls) into *out, which is
 * initialised here; on failure *out is freed. Returns 0 or a negative code
 * from the codec. The column writer is left as it was (call _reset after).
 */
int sl_parquet_column_writer_encode(sl_parquet_column_writer *cw, size_t nrows,
                                    sl_parquet_encode_ctx *ctx, sl_parquet_chunk *out);

/*
 * Convert v to type `to` (sl_parquet_type_join(v->type, to) == to, or v is
 * null). A string result may point into *text, which is reset first.
 */
void sl_parquet_value_convert(const sl_parquet_value *v, sl_parquet_type to, sl_parquet_value *out,
                              sl_buf *text);

#endif
