/*
 * schema.h - the column schema of a sluice Parquet file, and how it evolves.
 *
 * A sluice lake file is flat: one OPTIONAL leaf column per field, nested JSON
 * objects flattened to dotted names ("metadata.status_code"), no groups. A
 * column has one of six types:
 *
 *   boolean    BOOLEAN
 *   int32      INT32                  (declared schemas and foreign files only)
 *   int64      INT64                  JSON integers
 *   double     DOUBLE                 other JSON numbers
 *   string     BYTE_ARRAY, STRING     JSON strings; arrays as their JSON text
 *   timestamp  INT64, TIMESTAMP(MICROS, isAdjustedToUTC = true)
 *                                     the event-time column (`ts`)
 *
 * Evolution never fails: a new field adds a column, and a value whose type
 * does not fit its column widens the column by sl_parquet_type_join:
 * int32 -> int64 -> double -> string, and any other mix -> string.
 *
 * The schema keeps columns in first-seen order with a hash index by name,
 * so a lookup costs one hash of the name.
 */
#ifndef SL_PARQUET_SCHEMA_H
#define SL_PARQUET_SCHEMA_H

#include "core/buf.h"
#include "core/common.h"

typedef enum sl_parquet_type {
    SL_PARQUET_BOOLEAN = 1,
    SL_PARQUET_INT32,
    SL_PARQUET_INT64,
    SL_PARQUET_DOUBLE,
    SL_PARQUET_STRING,
    SL_PARQUET_TIMESTAMP,
} sl_parquet_type;

/* "boolean", "int32", "int64", "double", "string", "timestamp". */
const char *sl_parquet_type_name(sl_parquet_type t);
/* The inverse; 0 or SL_ERR_PARSE. Also accepts "bool", "int", "float", "utf8". */
int sl_parquet_type_parse(sl_view name, sl_parquet_type *out);
/* The narrowest type that holds values of both a and b. */
sl_parquet_type sl_parquet_type_join(sl_parquet_type a, sl_parquet_type b);

/* One value, typed, as the writer takes it and the reader hands it out. */
typedef struct sl_parquet_value {
    sl_parquet_type type;
    bool is_null;
    union {
        bool b;
        int64_t i64;   /* int32, int64, and timestamp (microseconds, UTC) */
        double f64;
        sl_view str;   /* borrowed */
    } u;
} sl_parquet_value;

/*
 * Append value v converted to a string column's text: true/false, decimal
 * integers, the shortest decimal that reads back as the same double, and
 * timestamps as ISO-8601 UTC with microseconds (2024-01-15T10:30:00.123456Z).
 */
void sl_parquet_value_to_text(const sl_parquet_value *v, sl_buf *out);

typedef struct sl_parquet_column_def {
    char *name;     /* owned, NUL-terminated */
    size_t name_len;
    sl_parquet_type type;
} sl_parquet_column_def;

typedef struct sl_parquet_schema {
    sl_parquet_column_def *cols;
    size_t n, cap;
    uint32_t *slots; /* open addressing: column index + 1, 0 = empty */
    size_t n_slots;  /* a power of two */
} sl_parquet_schema;

#define SL_PARQUET_SCHEMA_INIT ((sl_parquet_schema){ NULL, 0, 0, NULL, 0 })

void sl_parquet_schema_free(sl_parquet_schema *s); /* frees the columns; NULL-safe */
/* Replace dst with a copy of src. */
void sl_parquet_schema_copy(sl_parquet_schema *dst, const sl_parquet_schema *src);
/* Index of the column called name, or -1. */
int sl_parquet_schema_find(const sl_parquet_schema *s, const char *name, size_t len);
/* Append a column (the name is copied); returns its index, or SL_ERR_CONFIG if it exists. */
int sl_parquet_schema_add(sl_parquet_schema *s, const char *name, size_t len, sl_parquet_type t);

/* Drop the columns from index n on. */
void sl_parquet_schema_truncate(sl_parquet_schema *s, size_t n);

/*
 * The schema as the JSON that sluice stores under the key `sluice.schema`:
 *   {"columns":[{"name":"ts","type":"timestamp"},{"name":"level","type":"string"}]}
 */
void sl_parquet_schema_to_json(const sl_parquet_schema *s, sl_buf *out);
/* Parse that JSON (appending its columns to s). 0 or SL_ERR_PARSE. */
int sl_parquet_schema_from_json(sl_parquet_schema *s, sl_view json);

#endif
