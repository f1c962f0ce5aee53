/*
 * schema.c - column types, widening, the name index, and the schema's JSON
 * form (see schema.h).
 */
#include "lake/parquet/schema.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/timestamp.h"
#include "lake/parquet/encoding.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const struct {
    const char *name;
    sl_parquet_type type;
} type_names[] = {
    { "boolean", SL_PARQUET_BOOLEAN },     { "int32", SL_PARQUET_INT32 },
    { "int64", SL_PARQUET_INT64 },         { "double", SL_PARQUET_DOUBLE },
    { "string", SL_PARQUET_STRING },       { "timestamp", SL_PARQUET_TIMESTAMP },
    /* aliases accepted when parsing */
    { "bool", SL_PARQUET_BOOLEAN },        { "int", SL_PARQUET_INT64 },
    { "float", SL_PARQUET_DOUBLE },        { "utf8", SL_PARQUET_STRING },
};

const char *sl_parquet_type_name(sl_parquet_type t)
{
    for (size_t i = 0; i < 6; i++)
        if (type_names[i].type == t)
            return type_names[i].name;
    return "unknown";
}

int sl_parquet_type_parse(sl_view name, sl_parquet_type *out)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(type_names); i++) {
        if (sl_view_eq_str(name, type_names[i].name)) {
            *out = type_names[i].type;
            return 0;
        }
    }
    return SL_ERR_PARSE;
}

static int numeric_rank(sl_parquet_type t)
{
    switch (t) {
    case SL_PARQUET_INT32: return 1;
    case SL_PARQUET_INT64: return 2;
    case SL_PARQUET_DOUBLE: return 3;
    default: return 0;
    }
}

sl_parquet_type sl_parquet_type_join(sl_parquet_type a, sl_parquet_type b)
{
    if (a == b)
        return a;
    int ra = numeric_rank(a), rb = numeric_rank(b);
    if (ra && rb)
        return ra > rb ? a : b;
    return SL_PARQUET_STRING;
}

void sl_parquet_value_to_text(const sl_parquet_value *v, sl_buf *out)
{
    char tmp[40];
    switch (v->type) {
    case SL_PARQUET_BOOLEAN:
        sl_buf_append_str(out, v->u.b ? "true" : "false");
        return;
    case SL_PARQUET_INT32:
    case SL_PARQUET_INT64:
        sl_buf_printf(out, "%" PRId64, v->u.i64);
        return;
    case SL_PARQUET_DOUBLE: {
        double d = v->u.f64;
        if (isnan(d)) {
            sl_buf_append_str(out, "NaN");
            return;
        }
        if (isinf(d)) {
            sl_buf_append_str(out, d < 0 ? "-Infinity" : "Infinity");
            return;
        }
        /* The shortest of %.15g..%.17g that reads back as the same double. */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, d);
            if (strtod(tmp, NULL) == d)
                break;
        }
        sl_buf_append_str(out, tmp);
        return;
    }
    case SL_PARQUET_STRING:
        sl_buf_append(out, v->u.str.ptr, v->u.str.len);
        return;
    case SL_PARQUET_TIMESTAMP:
        sl_timestamp_format_iso(v->u.i64, tmp, sizeof tmp);
        sl_buf_append_str(out, tmp);
        return;
    }
}

/* ---- the schema -------------------------------------------------------- */

void sl_parquet_schema_free(sl_parquet_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->cols[i].name);
    free(s->cols);
    free(s->slots);
    *s = SL_PARQUET_SCHEMA_INIT;
}

static void index_insert(sl_parquet_schema *s, size_t col)
{
    size_t mask = s->n_slots - 1;
    size_t i = (size_t)sl_parquet_hash_bytes(s->cols[col].name, s->cols[col].name_len) & mask;
    while (s->slots[i])
        i = (i + 1) & mask;
    s->slots[i] = (uint32_t)col + 1;
}

static void index_rebuild(sl_parquet_schema *s, size_t n_slots)
{
    free(s->slots);
    s->slots = sl_calloc(n_slots, sizeof *s->slots);
    s->n_slots = n_slots;
    for (size_t c = 0; c < s->n; c++)
        index_insert(s, c);
}

int sl_parquet_schema_find(const sl_parquet_schema *s, const char *name, size_t len)
{
    if (!s->n_slots)
        return -1;
    size_t mask = s->n_slots - 1;
    size_t i = (size_t)sl_parquet_hash_bytes(name, len) & mask;
    for (;;) {
        uint32_t slot = s->slots[i];
        if (!slot)
            return -1;
        const sl_parquet_column_def *c = &s->cols[slot - 1];
        if (c->name_len == len && memcmp(c->name, name, len) == 0)
            return (int)(slot - 1);
        i = (i + 1) & mask;
    }
}

int sl_parquet_schema_add(sl_parquet_schema *s, const char *name, size_t len, sl_parquet_type t)
{
    if (sl_parquet_schema_find(s, name, len) >= 0)
        return SL_ERR_CONFIG;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->cols = sl_realloc(s->cols, s->cap * sizeof *s->cols);
    }
    size_t col = s->n++;
    s->cols[col].name = sl_strndup(name, len);
    s->cols[col].name_len = len;
    s->cols[col].type = t;
    if (s->n * 2 > s->n_slots)
        index_rebuild(s, s->n_slots ? s->n_slots * 2 : 32);
    else
        index_insert(s, col);
    return (int)col;
}

void sl_parquet_schema_truncate(sl_parquet_schema *s, size_t n)
{
    if (n >= s->n)
        return;
    for (size_t i = n; i < s->n; i++)
        free(s->cols[i].name);
    s->n = n;
    index_rebuild(s, s->n_slots ? s->n_slots : 32);
}

void sl_parquet_schema_copy(sl_parquet_schema *dst, const sl_parquet_schema *src)
{
    sl_parquet_schema_free(dst);
    for (size_t i = 0; i < src->n; i++)
        sl_parquet_schema_add(dst, src->cols[i].name, src->cols[i].name_len, src->cols[i].type);
}

void sl_parquet_schema_to_json(const sl_parquet_schema *s, sl_buf *out)
{
    sl_buf_append_str(out, "{\"columns\":[");
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            sl_buf_append_char(out, ',');
        sl_buf_append_str(out, "{\"name\":");
        sl_buf_append_json_string(out, s->cols[i].name, s->cols[i].name_len);
        sl_buf_printf(out, ",\"type\":\"%s\"}", sl_parquet_type_name(s->cols[i].type));
    }
    sl_buf_append_str(out, "]}");
}

int sl_parquet_schema_from_json(sl_parquet_schema *s, sl_view json)
{
    size_t end;
    if (sl_json_validate(json.ptr, json.len, SL_JSON_DEFAULT_MAX_DEPTH, &end, NULL) < 0)
        return SL_ERR_PARSE;
    sl_view columns;
    if (sl_json_type_of(json) != SL_JSON_OBJECT || !sl_json_get(json, "columns", &columns) ||
        sl_json_type_of(columns) != SL_JSON_ARRAY)
        return SL_ERR_PARSE;
    sl_json_iter it;
    sl_view col;
    sl_buf name = SL_BUF_INIT, type = SL_BUF_INIT;
    int rc = 0;
    sl_json_iter_init(&it, columns);
    while (sl_json_array_next(&it, &col)) {
        sl_view vn, vt;
        sl_parquet_type t;
        sl_buf_reset(&name);
        sl_buf_reset(&type);
        if (sl_json_type_of(col) != SL_JSON_OBJECT || !sl_json_get(col, "name", &vn) ||
            !sl_json_get(col, "type", &vt) || sl_json_type_of(vn) != SL_JSON_STRING ||
            sl_json_type_of(vt) != SL_JSON_STRING || sl_json_string_decode(vn, &name) < 0 ||
            sl_json_string_decode(vt, &type) < 0 || sl_parquet_type_parse(sl_buf_view(&type), &t) < 0 ||
            sl_parquet_schema_add(s, name.data ? name.data : "", name.len, t) < 0) {
            rc = SL_ERR_PARSE;
            break;
        }
    }
    sl_buf_free(&name);
    sl_buf_free(&type);
    return rc;
}
