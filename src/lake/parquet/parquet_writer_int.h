/*
 * parquet_writer_int.h - the Parquet writer's private state, shared by
 * parquet_writer.c (rows, row groups, the file) and json_flatten.c (JSON
 * events to rows). Not for use outside src/lake/parquet/.
 */
#ifndef SL_PARQUET_WRITER_INT_H
#define SL_PARQUET_WRITER_INT_H

#include "lake/parquet/column_writer.h"
#include "lake/parquet/parquet_writer.h"

/* One value may not exceed this (it must fit a page, whose sizes are int32). */
#define SL_PARQUET_MAX_VALUE_BYTES (256u << 20)

typedef struct encoded_row_group {
    sl_parquet_chunk *chunks; /* one per column that existed when it was encoded */
    size_t n_chunks;
    int64_t num_rows;
} encoded_row_group;

typedef struct kv_entry {
    char *key;
    sl_buf value;
} kv_entry;

struct sl_parquet_writer {
    sl_parquet_writer_options o;
    char *ts_column;
    size_t ts_len;
    sl_parquet_schema schema;         /* column order and the widest type so far */
    sl_parquet_column_writer *cols;   /* the row group being built, parallel to schema */
    size_t cols_cap;
    size_t rg_rows;                   /* rows in the row group being built */
    bool in_row;
    size_t row_cols;                  /* columns when the row began (for abandoning it) */
    bool finished;
    uint64_t total_rows;
    encoded_row_group *groups;
    size_t n_groups, groups_cap;
    uint64_t encoded_bytes;
    sl_parquet_codec_ctx *codec_ctx;
    sl_parquet_encode_ctx ectx;
    kv_entry *kv;
    size_t n_kv;
    /* JSON flattening */
    sl_buf name;                      /* the dotted name being built */
    sl_buf text;                      /* a decoded string */
    sl_buf conv;                      /* a value converted to text */
    int32_t *pred;                    /* column of the k-th leaf of the previous event */
    size_t pred_cap;
    size_t leaf;
};


/*
 * The column for name in the current row: found, or created for a non-null
 * value (with the value's type). -1 when the name is new and v is null (no
 * column for a field seen only as null); 0 is the event-time column.
 */
int sl_parquet_writer_column_for(sl_parquet_writer *w, const char *name, size_t len, const sl_parquet_value *v);
/* Put v into column idx of the current row, widening the column if v does not fit. */
void sl_parquet_writer_put(sl_parquet_writer *w, int idx, const sl_parquet_value *v);
/* Undo the row being built: its values and the columns it created (widenings stay). */
void sl_parquet_writer_row_abandon(sl_parquet_writer *w);

#endif
