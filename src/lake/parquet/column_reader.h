/*
 * column_reader.h - streaming decoder of one flat column chunk (internal to
 * the Parquet reader, and used by the writer to re-encode a chunk whose
 * column was widened later in the file).
 *
 * It walks the chunk page by page: a dictionary page (PLAIN entries), then
 * data pages v1 or v2 whose values are PLAIN, dictionary indices
 * (PLAIN_DICTIONARY / RLE_DICTIONARY) or, for booleans, RLE. Definition
 * levels are RLE/bit-packed hybrid; repetition levels are not supported
 * (flat files only). One page is decompressed at a time, and values are
 * decoded one by one as the caller asks, so memory never depends on a count
 * the file claims, only on the page size, which is capped.
 *
 * Nothing in the chunk is trusted: sizes are checked against the bytes
 * present and the cap, dictionary indices against the dictionary, every
 * PLAIN value against the end of its page.
 */
#ifndef SL_PARQUET_COLUMN_READER_H
#define SL_PARQUET_COLUMN_READER_H

#include "core/buf.h"
#include "lake/parquet/codec.h"
#include "lake/parquet/encoding.h"
#include "lake/parquet/schema.h"

/* An encoding, codec or layout this reader does not implement (not corruption). */
#define SL_PARQUET_ERR_UNSUPPORTED (-95) /* -EOPNOTSUPP */

typedef struct sl_parquet_column_reader_config {
    int physical;            /* SL_PQ_BOOLEAN ... SL_PQ_FIXED_LEN_BYTE_ARRAY */
    sl_parquet_type type;    /* the type values are handed out as */
    int ts_unit;             /* for a TIMESTAMP: SL_PQ_UNIT_* of the stored values */
    int32_t type_length;     /* FIXED_LEN_BYTE_ARRAY width */
    int max_def;             /* 0 (REQUIRED) or 1 (OPTIONAL) */
    int codec;
    int64_t num_values;      /* from ColumnMetaData */
    size_t max_page_bytes;   /* refuse pages larger than this uncompressed */
    sl_parquet_codec_ctx *codec_ctx; /* borrowed */
} sl_parquet_column_reader_config;

typedef struct sl_parquet_column_reader {
    sl_parquet_column_reader_config cfg;
    const uint8_t *p, *end;  /* the chunk's remaining bytes (next page header) */
    int64_t values_left;
    /* dictionary */
    bool has_dict;
    sl_buf dict_buf;
    size_t dict_n;
    sl_view *dict_str;       /* BYTE_ARRAY entries, into dict_buf */
    const uint8_t *dict_fixed;
    size_t width;            /* fixed width of a PLAIN value, 0 for BYTE_ARRAY / BOOLEAN */
    /* current page */
    sl_buf page_buf;
    int64_t page_left;
    sl_parquet_rle_decoder defs;
    int value_mode;          /* PLAIN, dictionary indices, or RLE booleans */
    sl_parquet_rle_decoder idx;
    const uint8_t *vp, *vend;
    uint64_t bool_bit;
} sl_parquet_column_reader;

/* Start reading chunk[0..len) (borrowed: it must outlive the reader). */
void sl_parquet_column_reader_init(sl_parquet_column_reader *cr, const void *chunk, size_t len,
                                   const sl_parquet_column_reader_config *cfg);
void sl_parquet_column_reader_free(sl_parquet_column_reader *cr);

/*
 * The next value. Returns 1 with *v set (v->is_null for a null), 0 at the
 * end of the chunk (num_values read), or SL_ERR_CORRUPT / SL_ERR_TOOBIG /
 * SL_PARQUET_ERR_UNSUPPORTED / SL_ERR_CONFIG (codec not built in).
 * A string value points into the reader's buffers and stays valid until the
 * next call.
 */
int sl_parquet_column_reader_next(sl_parquet_column_reader *cr, sl_parquet_value *v);

#endif
