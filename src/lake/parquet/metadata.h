/*
 * metadata.h - Parquet's footer and page headers as C structs, and their
 * Thrift-compact encoding and decoding.
 *
 * These mirror the structs of parquet.thrift (apache/parquet-format) that a
 * flat file needs: FileMetaData, SchemaElement, RowGroup, ColumnChunk,
 * ColumnMetaData, Statistics, KeyValue and PageHeader with its data page
 * (v1 and v2) and dictionary page headers. Fields sluice does not use are
 * skipped when decoding and never written.
 *
 * Strings and binaries are views. When encoding they point at the caller's
 * bytes; when decoding they point into the bytes decoded from, which must
 * outlive the structs. Decoded arrays come from an sl_parquet_arena that
 * the caller frees in one call.
 */
#ifndef SL_PARQUET_METADATA_H
#define SL_PARQUET_METADATA_H

#include "core/buf.h"
#include "core/common.h"

/* parquet.thrift enums (the subset sluice names). */
enum { /* Type */
    SL_PQ_BOOLEAN = 0,
    SL_PQ_INT32 = 1,
    SL_PQ_INT64 = 2,
    SL_PQ_INT96 = 3,
    SL_PQ_FLOAT = 4,
    SL_PQ_DOUBLE = 5,
    SL_PQ_BYTE_ARRAY = 6,
    SL_PQ_FIXED_LEN_BYTE_ARRAY = 7,
};
enum { /* ConvertedType */
    SL_PQ_CT_UTF8 = 0,
    SL_PQ_CT_TIMESTAMP_MILLIS = 9,
    SL_PQ_CT_TIMESTAMP_MICROS = 10,
    SL_PQ_CT_JSON = 19,
};
enum { /* FieldRepetitionType */
    SL_PQ_REQUIRED = 0,
    SL_PQ_OPTIONAL = 1,
    SL_PQ_REPEATED = 2,
};
enum { /* Encoding */
    SL_PQ_ENC_PLAIN = 0,
    SL_PQ_ENC_PLAIN_DICTIONARY = 2,
    SL_PQ_ENC_RLE = 3,
    SL_PQ_ENC_BIT_PACKED = 4,
    SL_PQ_ENC_RLE_DICTIONARY = 8,
};
enum { /* CompressionCodec */
    SL_PQ_CODEC_UNCOMPRESSED = 0,
    SL_PQ_CODEC_SNAPPY = 1,
    SL_PQ_CODEC_GZIP = 2,
    SL_PQ_CODEC_ZSTD = 6,
};
enum { /* PageType */
    SL_PQ_PAGE_DATA = 0,
    SL_PQ_PAGE_INDEX = 1,
    SL_PQ_PAGE_DICTIONARY = 2,
    SL_PQ_PAGE_DATA_V2 = 3,
};
enum { /* LogicalType union member ids */
    SL_PQ_LT_NONE = 0,
    SL_PQ_LT_STRING = 1,
    SL_PQ_LT_ENUM = 4,
    SL_PQ_LT_TIMESTAMP = 8,
    SL_PQ_LT_INTEGER = 10,
    SL_PQ_LT_JSON = 12,
    SL_PQ_LT_OTHER = 99, /* present but not one sluice interprets */
};
enum { /* TimeUnit */
    SL_PQ_UNIT_MILLIS = 1,
    SL_PQ_UNIT_MICROS = 2,
    SL_PQ_UNIT_NANOS = 3,
};

/* A bump allocator for decoded metadata: freed all at once. */
typedef struct sl_parquet_arena {
    struct sl_parquet_arena_block *head;
} sl_parquet_arena;

void *sl_parquet_arena_alloc(sl_parquet_arena *a, size_t n); /* zeroed; aborts on OOM */
void sl_parquet_arena_free(sl_parquet_arena *a);             /* NULL-safe */

typedef struct sl_parquet_statistics {
    bool has_null_count;
    int64_t null_count;
    bool has_min, has_max;     /* min_value / max_value (fields 6 / 5) */
    sl_view min_value, max_value;
    bool has_min_exact, has_max_exact;
    bool min_exact, max_exact; /* is_min_value_exact / is_max_value_exact */
    bool has_nan_count;        /* floating point columns: written even when 0 */
    int64_t nan_count;
    /* Deprecated min/max (fields 2 / 1): decoded for old files, not written. */
    bool has_legacy_min, has_legacy_max;
    sl_view legacy_min, legacy_max;
} sl_parquet_statistics;

typedef struct sl_parquet_schema_element {
    int type;            /* SL_PQ_BOOLEAN..., or -1 for a group */
    int32_t type_length; /* -1 when absent */
    int repetition;      /* SL_PQ_OPTIONAL..., or -1 when absent (the root) */
    sl_view name;
    int32_t num_children; /* -1 when absent (a leaf) */
    int converted_type;   /* -1 when absent */
    int logical_type;     /* SL_PQ_LT_* */
    int ts_unit;          /* SL_PQ_UNIT_* for SL_PQ_LT_TIMESTAMP */
    bool ts_utc;
} sl_parquet_schema_element;

typedef struct sl_parquet_key_value {
    sl_view key;
    bool has_value;
    sl_view value;
} sl_parquet_key_value;

typedef struct sl_parquet_page_encoding_stats {
    int page_type;
    int encoding;
    int32_t count;
} sl_parquet_page_encoding_stats;

typedef struct sl_parquet_column_meta {
    int type;
    int *encodings;
    size_t n_encodings;
    sl_view *path;
    size_t n_path;
    int codec;
    int64_t num_values;
    int64_t total_uncompressed_size;
    int64_t total_compressed_size;
    int64_t data_page_offset;
    bool has_dictionary_page_offset;
    int64_t dictionary_page_offset;
    bool has_statistics;
    sl_parquet_statistics statistics;
    sl_parquet_page_encoding_stats *encoding_stats;
    size_t n_encoding_stats;
} sl_parquet_column_meta;

typedef struct sl_parquet_column_chunk {
    int64_t file_offset;
    bool has_meta;
    sl_parquet_column_meta meta;
} sl_parquet_column_chunk;

typedef struct sl_parquet_row_group {
    sl_parquet_column_chunk *columns;
    size_t n_columns;
    int64_t total_byte_size;
    int64_t num_rows;
    bool has_file_offset;
    int64_t file_offset;
    bool has_total_compressed_size;
    int64_t total_compressed_size;
    bool has_ordinal;
    int16_t ordinal;
} sl_parquet_row_group;

typedef struct sl_parquet_file_meta {
    int32_t version;
    sl_parquet_schema_element *schema;
    size_t n_schema;
    int64_t num_rows;
    sl_parquet_row_group *row_groups;
    size_t n_row_groups;
    sl_parquet_key_value *kv;
    size_t n_kv;
    bool has_created_by;
    sl_view created_by;
    size_t n_column_orders; /* written as TYPE_ORDER for every column */
} sl_parquet_file_meta;

typedef struct sl_parquet_page_header {
    int type;
    int32_t uncompressed_page_size;
    int32_t compressed_page_size;
    bool has_crc;
    int32_t crc;
    /* DATA_PAGE (v1) */
    bool has_data;
    int32_t num_values;
    int encoding;
    int def_encoding;
    int rep_encoding;
    bool has_statistics;
    sl_parquet_statistics statistics;
    /* DICTIONARY_PAGE */
    bool has_dict;
    int32_t dict_num_values;
    int dict_encoding;
    bool has_dict_sorted;
    bool dict_sorted;
    /* DATA_PAGE_V2 (num_values, encoding and statistics shared with v1) */
    bool has_data_v2;
    int32_t v2_num_nulls;
    int32_t v2_num_rows;
    int32_t v2_def_length;
    int32_t v2_rep_length;
    bool v2_is_compressed; /* defaults to true */
} sl_parquet_page_header;

void sl_parquet_file_meta_encode(const sl_parquet_file_meta *m, sl_buf *out);
void sl_parquet_page_header_encode(const sl_parquet_page_header *h, sl_buf *out);

/*
 * Decode from p[0..n). Returns 0 or SL_ERR_CORRUPT. Views point into p;
 * arrays are allocated from arena (the caller frees it, also on failure).
 * sl_parquet_page_header_decode sets *used to the header's length.
 */
int sl_parquet_file_meta_decode(const void *p, size_t n, sl_parquet_arena *arena,
                                sl_parquet_file_meta *m);
int sl_parquet_page_header_decode(const void *p, size_t n, sl_parquet_page_header *h,
                                  size_t *used);

#endif
