/*
 * thrift_compact.h - the Thrift compact protocol, as Parquet's metadata uses it.
 *
 * Parquet stores its footer (FileMetaData) and every page header as Thrift
 * structs in the compact protocol. sluice needs only the part of Thrift that
 * those structs use, so this is a small hand-written encoder and a
 * bounds-checked decoder rather than generated code:
 *
 *   field header   one byte (delta << 4 | type) when the field id grows by
 *                  1..15 since the previous field of the same struct, else
 *                  the type byte followed by the id as a zigzag varint
 *   i8             one byte;  i16 / i32 / i64: zigzag varint
 *   double         8 bytes little-endian
 *   binary/string  varint length, bytes
 *   bool           in a field: the type nibble itself (1 = true, 2 = false);
 *                  in a list: one byte, 1 or 2
 *   list           one byte (size << 4 | element type) for sizes < 15, else
 *                  0xF0 | element type followed by the size as a varint
 *   struct         fields, then a stop byte 0
 *
 * The writer appends to an sl_buf and cannot fail (sl_buf aborts on OOM).
 * The reader never trusts the bytes: every length is checked against what
 * is left, nesting is limited, and an error is sticky (once r->err is set
 * every call returns zeros), so a decoder can read a whole struct and check
 * the error once at the end.
 */
#ifndef SL_PARQUET_THRIFT_COMPACT_H
#define SL_PARQUET_THRIFT_COMPACT_H

#include "core/buf.h"
#include "core/common.h"

/* Compact protocol wire types. */
enum {
    SL_THRIFT_STOP = 0,
    SL_THRIFT_TRUE = 1,
    SL_THRIFT_FALSE = 2,
    SL_THRIFT_I8 = 3,
    SL_THRIFT_I16 = 4,
    SL_THRIFT_I32 = 5,
    SL_THRIFT_I64 = 6,
    SL_THRIFT_DOUBLE = 7,
    SL_THRIFT_BINARY = 8,
    SL_THRIFT_LIST = 9,
    SL_THRIFT_SET = 10,
    SL_THRIFT_MAP = 11,
    SL_THRIFT_STRUCT = 12,
};

#define SL_THRIFT_MAX_DEPTH 32

/* ---- writer ------------------------------------------------------------ */

typedef struct sl_parquet_thrift_writer {
    sl_buf *out;                          /* borrowed; bytes are appended */
    int depth;
    int16_t last_id[SL_THRIFT_MAX_DEPTH]; /* previous field id per open struct */
} sl_parquet_thrift_writer;

void sl_parquet_thrift_writer_init(sl_parquet_thrift_writer *w, sl_buf *out);

/* Structs: begin opens one (top level or as a list element), end writes the stop byte. */
void sl_parquet_thrift_struct_begin(sl_parquet_thrift_writer *w);
void sl_parquet_thrift_struct_end(sl_parquet_thrift_writer *w);

/* Fields of the innermost open struct; ids must increase within a struct. */
void sl_parquet_thrift_field_bool(sl_parquet_thrift_writer *w, int16_t id, bool v);
void sl_parquet_thrift_field_i8(sl_parquet_thrift_writer *w, int16_t id, int8_t v);
void sl_parquet_thrift_field_i16(sl_parquet_thrift_writer *w, int16_t id, int16_t v);
void sl_parquet_thrift_field_i32(sl_parquet_thrift_writer *w, int16_t id, int32_t v);
void sl_parquet_thrift_field_i64(sl_parquet_thrift_writer *w, int16_t id, int64_t v);
void sl_parquet_thrift_field_double(sl_parquet_thrift_writer *w, int16_t id, double v);
void sl_parquet_thrift_field_binary(sl_parquet_thrift_writer *w, int16_t id, const void *p, size_t n);
/* A struct-valued field: follow with its fields and sl_parquet_thrift_struct_end. */
void sl_parquet_thrift_field_struct(sl_parquet_thrift_writer *w, int16_t id);
/* A list-valued field of count elements; then write the elements below. */
void sl_parquet_thrift_field_list(sl_parquet_thrift_writer *w, int16_t id, int elem_type, size_t count);

/* List elements (struct elements use sl_parquet_thrift_struct_begin/end). */
void sl_parquet_thrift_write_i32(sl_parquet_thrift_writer *w, int32_t v);
void sl_parquet_thrift_write_i64(sl_parquet_thrift_writer *w, int64_t v);
void sl_parquet_thrift_write_binary(sl_parquet_thrift_writer *w, const void *p, size_t n);
void sl_parquet_thrift_write_bool(sl_parquet_thrift_writer *w, bool v);

/* ---- reader ------------------------------------------------------------ */

typedef struct sl_parquet_thrift_reader {
    const uint8_t *p;   /* next byte */
    const uint8_t *end; /* one past the last readable byte */
    int depth;          /* open structs and containers, for the nesting limit */
    int err;            /* 0, or the first error (SL_ERR_CORRUPT); sticky */
} sl_parquet_thrift_reader;

void sl_parquet_thrift_reader_init(sl_parquet_thrift_reader *r, const void *p, size_t n);

/*
 * Read the next field header of the struct being read. *last_id is the
 * previous field id of that struct (start at 0). Returns true with *type and
 * *id set, or false at the stop byte or on error (check r->err).
 * Entering a struct (sl_parquet_thrift_struct_enter) and leaving it
 * (sl_parquet_thrift_struct_leave, after the false) keep the depth limit.
 */
bool sl_parquet_thrift_next_field(sl_parquet_thrift_reader *r, int16_t *last_id, int *type, int16_t *id);
void sl_parquet_thrift_struct_enter(sl_parquet_thrift_reader *r);
void sl_parquet_thrift_struct_leave(sl_parquet_thrift_reader *r);

/* Values. A bool field's value is in its type (pass it); in a list use type -1. */
bool    sl_parquet_thrift_read_bool(sl_parquet_thrift_reader *r, int type);
int8_t  sl_parquet_thrift_read_i8(sl_parquet_thrift_reader *r);
int32_t sl_parquet_thrift_read_i32(sl_parquet_thrift_reader *r);  /* i16 and i32 */
int64_t sl_parquet_thrift_read_i64(sl_parquet_thrift_reader *r);
double  sl_parquet_thrift_read_double(sl_parquet_thrift_reader *r);
/* A view into the reader's bytes (borrowed: valid while they are). */
sl_view sl_parquet_thrift_read_binary(sl_parquet_thrift_reader *r);
/*
 * A list header: element type and count. The count is checked against the
 * bytes left (every element takes at least one byte, except bool... which
 * also takes one in a list), so a caller may allocate count elements.
 */
size_t sl_parquet_thrift_read_list(sl_parquet_thrift_reader *r, int *elem_type);

/* Skip a value of the given wire type (depth-limited). */
void sl_parquet_thrift_skip(sl_parquet_thrift_reader *r, int type);

/* Mark the reader failed (for a decoder that finds a bad value). */
void sl_parquet_thrift_fail(sl_parquet_thrift_reader *r);

#endif
