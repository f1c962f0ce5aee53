/*
 * thrift_compact.c - the Thrift compact protocol writer and bounded reader
 * (see thrift_compact.h for the wire format).
 */
#include "lake/parquet/thrift_compact.h"

/* ---- writer ------------------------------------------------------------ */

static void put_byte(sl_parquet_thrift_writer *w, uint8_t b)
{
    sl_buf_append_char(w->out, (char)b);
}

static void put_varint(sl_parquet_thrift_writer *w, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    sl_buf_append(w->out, tmp, n);
}

static uint64_t zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

void sl_parquet_thrift_writer_init(sl_parquet_thrift_writer *w, sl_buf *out)
{
    w->out = out;
    w->depth = 0;
    w->last_id[0] = 0;
}

static void push(sl_parquet_thrift_writer *w)
{
    /* Parquet's structs nest a handful of levels; deeper is a sluice bug. */
    if (w->depth + 1 >= SL_THRIFT_MAX_DEPTH)
        __builtin_trap();
    w->last_id[++w->depth] = 0;
}

void sl_parquet_thrift_struct_begin(sl_parquet_thrift_writer *w)
{
    push(w);
}

void sl_parquet_thrift_struct_end(sl_parquet_thrift_writer *w)
{
    put_byte(w, SL_THRIFT_STOP);
    if (w->depth > 0)
        w->depth--;
}

static void field_header(sl_parquet_thrift_writer *w, int16_t id, int type)
{
    int16_t delta = (int16_t)(id - w->last_id[w->depth]);
    if (delta > 0 && delta <= 15) {
        put_byte(w, (uint8_t)((delta << 4) | type));
    } else {
        put_byte(w, (uint8_t)type);
        put_varint(w, zigzag64(id));
    }
    w->last_id[w->depth] = id;
}

void sl_parquet_thrift_field_bool(sl_parquet_thrift_writer *w, int16_t id, bool v)
{
    field_header(w, id, v ? SL_THRIFT_TRUE : SL_THRIFT_FALSE);
}

void sl_parquet_thrift_field_i8(sl_parquet_thrift_writer *w, int16_t id, int8_t v)
{
    field_header(w, id, SL_THRIFT_I8);
    put_byte(w, (uint8_t)v);
}

void sl_parquet_thrift_field_i16(sl_parquet_thrift_writer *w, int16_t id, int16_t v)
{
    field_header(w, id, SL_THRIFT_I16);
    put_varint(w, zigzag64(v));
}

void sl_parquet_thrift_field_i32(sl_parquet_thrift_writer *w, int16_t id, int32_t v)
{
    field_header(w, id, SL_THRIFT_I32);
    put_varint(w, zigzag64(v));
}

void sl_parquet_thrift_field_i64(sl_parquet_thrift_writer *w, int16_t id, int64_t v)
{
    field_header(w, id, SL_THRIFT_I64);
    put_varint(w, zigzag64(v));
}

void sl_parquet_thrift_field_double(sl_parquet_thrift_writer *w, int16_t id, double v)
{
    field_header(w, id, SL_THRIFT_DOUBLE);
    uint64_t bits;
    memcpy(&bits, &v, 8);
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(bits >> (8 * i));
    sl_buf_append(w->out, le, 8);
}

void sl_parquet_thrift_field_binary(sl_parquet_thrift_writer *w, int16_t id, const void *p, size_t n)
{
    field_header(w, id, SL_THRIFT_BINARY);
    sl_parquet_thrift_write_binary(w, p, n);
}

void sl_parquet_thrift_field_struct(sl_parquet_thrift_writer *w, int16_t id)
{
    field_header(w, id, SL_THRIFT_STRUCT);
    push(w);
}

void sl_parquet_thrift_field_list(sl_parquet_thrift_writer *w, int16_t id, int elem_type, size_t count)
{
    field_header(w, id, SL_THRIFT_LIST);
    if (count < 15) {
        put_byte(w, (uint8_t)((count << 4) | (size_t)elem_type));
    } else {
        put_byte(w, (uint8_t)(0xF0 | elem_type));
        put_varint(w, count);
    }
}

void sl_parquet_thrift_write_i32(sl_parquet_thrift_writer *w, int32_t v)
{
    put_varint(w, zigzag64(v));
}

void sl_parquet_thrift_write_i64(sl_parquet_thrift_writer *w, int64_t v)
{
    put_varint(w, zigzag64(v));
}

void sl_parquet_thrift_write_binary(sl_parquet_thrift_writer *w, const void *p, size_t n)
{
    put_varint(w, n);
    sl_buf_append(w->out, p, n);
}

void sl_parquet_thrift_write_bool(sl_parquet_thrift_writer *w, bool v)
{
    put_byte(w, v ? SL_THRIFT_TRUE : SL_THRIFT_FALSE);
}

/* ---- reader ------------------------------------------------------------ */

void sl_parquet_thrift_reader_init(sl_parquet_thrift_reader *r, const void *p, size_t n)
{
    r->p = p;
    r->end = r->p + n;
    r->depth = 0;
    r->err = 0;
}

void sl_parquet_thrift_fail(sl_parquet_thrift_reader *r)
{
    if (!r->err)
        r->err = SL_ERR_CORRUPT;
    r->p = r->end;
}

static uint8_t get_byte(sl_parquet_thrift_reader *r)
{
    if (r->err || r->p >= r->end) {
        sl_parquet_thrift_fail(r);
        return 0;
    }
    return *r->p++;
}

static uint64_t get_varint(sl_parquet_thrift_reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = get_byte(r);
        if (r->err)
            return 0;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return v;
    }
    sl_parquet_thrift_fail(r); /* more than 10 bytes */
    return 0;
}

static int64_t unzigzag64(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

void sl_parquet_thrift_struct_enter(sl_parquet_thrift_reader *r)
{
    if (++r->depth > SL_THRIFT_MAX_DEPTH)
        sl_parquet_thrift_fail(r);
}

void sl_parquet_thrift_struct_leave(sl_parquet_thrift_reader *r)
{
    if (r->depth > 0)
        r->depth--;
}

bool sl_parquet_thrift_next_field(sl_parquet_thrift_reader *r, int16_t *last_id, int *type, int16_t *id)
{
    uint8_t b = get_byte(r);
    if (r->err || b == SL_THRIFT_STOP)
        return false;
    int t = b & 0x0F;
    int delta = b >> 4;
    int64_t fid;
    if (delta) {
        fid = (int64_t)*last_id + delta;
    } else {
        fid = unzigzag64(get_varint(r));
    }
    if (r->err || t > SL_THRIFT_STRUCT || t == SL_THRIFT_STOP || fid < INT16_MIN || fid > INT16_MAX) {
        sl_parquet_thrift_fail(r);
        return false;
    }
    *last_id = (int16_t)fid;
    *id = (int16_t)fid;
    *type = t;
    return true;
}

bool sl_parquet_thrift_read_bool(sl_parquet_thrift_reader *r, int type)
{
    if (type == SL_THRIFT_TRUE)
        return true;
    if (type == SL_THRIFT_FALSE)
        return false;
    uint8_t b = get_byte(r); /* list element */
    if (b != SL_THRIFT_TRUE && b != SL_THRIFT_FALSE && b != 0)
        sl_parquet_thrift_fail(r);
    return b == SL_THRIFT_TRUE;
}

int8_t sl_parquet_thrift_read_i8(sl_parquet_thrift_reader *r)
{
    return (int8_t)get_byte(r);
}

int32_t sl_parquet_thrift_read_i32(sl_parquet_thrift_reader *r)
{
    int64_t v = unzigzag64(get_varint(r));
    if (v < INT32_MIN || v > INT32_MAX) {
        sl_parquet_thrift_fail(r);
        return 0;
    }
    return (int32_t)v;
}

int64_t sl_parquet_thrift_read_i64(sl_parquet_thrift_reader *r)
{
    return unzigzag64(get_varint(r));
}

double sl_parquet_thrift_read_double(sl_parquet_thrift_reader *r)
{
    if (r->err || r->end - r->p < 8) {
        sl_parquet_thrift_fail(r);
        return 0;
    }
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

sl_view sl_parquet_thrift_read_binary(sl_parquet_thrift_reader *r)
{
    uint64_t n = get_varint(r);
    if (r->err || n > (uint64_t)(r->end - r->p)) {
        sl_parquet_thrift_fail(r);
        return SL_VIEW_NULL;
    }
    sl_view v = { (const char *)r->p, (size_t)n };
    r->p += n;
    return v;
}

size_t sl_parquet_thrift_read_list(sl_parquet_thrift_reader *r, int *elem_type)
{
    uint8_t b = get_byte(r);
    uint64_t n = b >> 4;
    *elem_type = b & 0x0F;
    if (n == 15)
        n = get_varint(r);
    if (r->err || n > (uint64_t)(r->end - r->p) || *elem_type == SL_THRIFT_STOP ||
        *elem_type > SL_THRIFT_STRUCT) {
        sl_parquet_thrift_fail(r);
        return 0;
    }
    return (size_t)n;
}

void sl_parquet_thrift_skip(sl_parquet_thrift_reader *r, int type)
{
    if (r->err)
        return;
    switch (type) {
    case SL_THRIFT_TRUE:
    case SL_THRIFT_FALSE:
        return; /* the value was in the field header */
    case -1:    /* bool as a list element */
    case SL_THRIFT_I8:
        get_byte(r);
        return;
    case SL_THRIFT_I16:
    case SL_THRIFT_I32:
    case SL_THRIFT_I64:
        get_varint(r);
        return;
    case SL_THRIFT_DOUBLE:
        sl_parquet_thrift_read_double(r);
        return;
    case SL_THRIFT_BINARY:
        sl_parquet_thrift_read_binary(r);
        return;
    case SL_THRIFT_LIST:
    case SL_THRIFT_SET: {
        int et;
        size_t n = sl_parquet_thrift_read_list(r, &et);
        if (et == SL_THRIFT_TRUE || et == SL_THRIFT_FALSE)
            et = -1;
        sl_parquet_thrift_struct_enter(r);
        for (size_t i = 0; i < n && !r->err; i++)
            sl_parquet_thrift_skip(r, et);
        sl_parquet_thrift_struct_leave(r);
        return;
    }
    case SL_THRIFT_MAP: {
        uint64_t n = get_varint(r);
        if (n == 0)
            return;
        uint8_t kv = get_byte(r);
        int kt = kv >> 4, vt = kv & 0x0F;
        if (r->err || n > (uint64_t)(r->end - r->p) || kt == 0 || vt == 0 ||
            kt > SL_THRIFT_STRUCT || vt > SL_THRIFT_STRUCT) {
            sl_parquet_thrift_fail(r);
            return;
        }
        if (kt == SL_THRIFT_TRUE || kt == SL_THRIFT_FALSE)
            kt = -1;
        if (vt == SL_THRIFT_TRUE || vt == SL_THRIFT_FALSE)
            vt = -1;
        sl_parquet_thrift_struct_enter(r);
        for (uint64_t i = 0; i < n && !r->err; i++) {
            sl_parquet_thrift_skip(r, kt);
            sl_parquet_thrift_skip(r, vt);
        }
        sl_parquet_thrift_struct_leave(r);
        return;
    }
    case SL_THRIFT_STRUCT: {
        sl_parquet_thrift_struct_enter(r);
        int16_t last = 0, id;
        int t;
        while (sl_parquet_thrift_next_field(r, &last, &t, &id))
            sl_parquet_thrift_skip(r, t);
        sl_parquet_thrift_struct_leave(r);
        return;
    }
    default:
        sl_parquet_thrift_fail(r);
        return;
    }
}
