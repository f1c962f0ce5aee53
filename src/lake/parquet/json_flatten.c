/*
 * json_flatten.c - JSON events to Parquet rows, in one pass.
 *
 * sl_parquet_writer_add_json validates the event with sluice's scanner
 * (unless the writer trusts its input), then walks the text once: keys are
 * appended to a dotted name as objects nest, and each scalar leaf goes
 * straight into its column; nothing is allocated per value. The walk is
 * written here rather than with the sl_json iterators because those find
 * the end of a nested object by scanning it and then the caller scans it
 * again; the lake turns millions of events a second and each scan counts.
 *
 * Mapping (what the docs promise):
 *   {"a":{"b":1}}   column "a.b"; objects nest into dotted names, no groups
 *   integers        int64 (no fraction, no exponent, within int64)
 *   other numbers   double; beyond a double's range, the number's text
 *   true / false    boolean
 *   strings         string (escapes decoded)
 *   arrays          string: the array's JSON text as it arrived
 *   null, {}        nothing (a null column value; an empty object adds no column)
 *   top-level `ts`  (the writer's ts_column) skipped: the caller's ts_us is the event time
 * A key repeated in an event (or "a.b" next to {"a":{"b":..}}) keeps the last value.
 *
 * The walker checks every step against the end of the text even after
 * validation, so a trusted writer fed a damaged event fails that event
 * (SL_ERR_PARSE, the row abandoned) instead of reading past it.
 */
#include "core/alloc.h"
#include "core/json.h"
#include "lake/parquet/encoding.h"
#include "lake/parquet/parquet_writer_int.h"

#define WALK_MAX_DEPTH SL_JSON_DEFAULT_MAX_DEPTH

typedef struct walk {
    sl_parquet_writer *w;
    const char *end;
    int depth;
} walk;

/*
 * The column of the current leaf (name in w->name). Events of one topic
 * mostly share their shape, so the column the k-th leaf of the previous
 * event went to is tried first: one memcmp instead of a hash lookup.
 */
static int leaf_column(sl_parquet_writer *w, const sl_parquet_value *v)
{
    size_t k = w->leaf++;
    if (k >= w->pred_cap) {
        size_t cap = w->pred_cap ? w->pred_cap * 2 : 64;
        while (cap <= k)
            cap *= 2;
        w->pred = sl_realloc(w->pred, cap * sizeof *w->pred);
        for (size_t i = w->pred_cap; i < cap; i++)
            w->pred[i] = -1;
        w->pred_cap = cap;
    }
    int guess = w->pred[k];
    if (guess >= 0 && (size_t)guess < w->schema.n) {
        const sl_parquet_column_def *c = &w->schema.cols[guess];
        if (c->name_len == w->name.len && sl_parquet_bytes_eq(c->name, w->name.data, w->name.len))
            return guess;
    }
    int idx = sl_parquet_writer_column_for(w, w->name.data ? w->name.data : "", w->name.len, v);
    if (idx >= 0)
        w->pred[k] = idx;
    return idx;
}

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at an opening quote: the closing quote, or NULL. *escaped if a backslash was seen. */
static inline const char *string_end(const char *p, const char *end, bool *escaped)
{
    *escaped = false;
    p++;
    /* Eight bytes at a time while no quote or backslash is among them (SWAR). */
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t q = x ^ 0x2222222222222222ull, b = x ^ 0x5c5c5c5c5c5c5c5cull;
        uint64_t hit = ((q - 0x0101010101010101ull) & ~q) | ((b - 0x0101010101010101ull) & ~b);
        if (hit & 0x8080808080808080ull)
            break;
        p += 8;
    }
    for (; p < end; p++) {
        char c = *p;
        if (c == '"')
            return p;
        if (c == '\\') {
            *escaped = true;
            if (++p >= end)
                return NULL;
        }
    }
    return NULL;
}

/* p at '[' or '{': one past the matching bracket, or NULL. */
static const char *container_skip(const char *p, const char *end)
{
    int depth = 0;
    bool esc;
    for (; p < end; p++) {
        char c = *p;
        if (c == '"') {
            if (!(p = string_end(p, end, &esc)))
                return NULL;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (--depth == 0)
                return p + 1;
        }
    }
    return NULL;
}

/* A number's text to a value: int64 when it is an integer that fits, else double, else its text. */
static void number_value(sl_view text, sl_parquet_value *v)
{
    const char *p = text.ptr, *e = text.ptr + text.len;
    bool neg = p < e && *p == '-';
    p += neg;
    size_t digits = (size_t)(e - p);
    if (digits > 0 && digits <= 18) {
        int64_t x = 0;
        const char *q = p;
        for (; q < e && *q >= '0' && *q <= '9'; q++)
            x = x * 10 + (*q - '0');
        if (q == e) {
            v->type = SL_PARQUET_INT64;
            v->u.i64 = neg ? -x : x;
            return;
        }
    }
    if (sl_json_int64(text, &v->u.i64) == 0) {
        v->type = SL_PARQUET_INT64;
    } else if (sl_json_double(text, &v->u.f64) == 0) {
        v->type = SL_PARQUET_DOUBLE;
    } else {
        v->type = SL_PARQUET_STRING;
        v->u.str = text;
    }
}

static const char *walk_object(walk *k, const char *p, size_t prefix, bool top);

/* Walk one member value starting at p (the name is in w->name); returns the end or NULL. */
static const char *walk_value(walk *k, const char *p, bool is_ts)
{
    sl_parquet_writer *w = k->w;
    const char *end = k->end;
    sl_parquet_value v = { 0 };
    const char *next;
    bool esc;
    switch (*p) {
    case '{':
        if (is_ts)
            return container_skip(p, end);
        return walk_object(k, p, w->name.len, false);
    case '[':
        if (!(next = container_skip(p, end)))
            return NULL;
        v.type = SL_PARQUET_STRING;
        v.u.str = (sl_view){ p, (size_t)(next - p) };
        break;
    case '"': {
        const char *q = string_end(p, end, &esc);
        if (!q)
            return NULL;
        next = q + 1;
        v.type = SL_PARQUET_STRING;
        if (!esc) {
            v.u.str = (sl_view){ p + 1, (size_t)(q - p - 1) };
        } else if (!is_ts) {
            sl_buf_reset(&w->text);
            if (sl_json_string_decode((sl_view){ p, (size_t)(next - p) }, &w->text) < 0)
                return NULL;
            v.u.str = (sl_view){ w->text.data ? w->text.data : "", w->text.len };
        }
        break;
    }
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0)
            return NULL;
        next = p + 4;
        v.type = SL_PARQUET_BOOLEAN;
        v.u.b = true;
        break;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0)
            return NULL;
        next = p + 5;
        v.type = SL_PARQUET_BOOLEAN;
        v.u.b = false;
        break;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0)
            return NULL;
        next = p + 4;
        v.type = SL_PARQUET_STRING;
        v.is_null = true;
        break;
    default: {
        const char *q = p;
        while (q < end && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.' || *q == 'e' ||
                           *q == 'E'))
            q++;
        if (q == p)
            return NULL;
        next = q;
        number_value((sl_view){ p, (size_t)(q - p) }, &v);
        break;
    }
    }
    if (is_ts)
        return next; /* the event time has its own column */
    int idx = leaf_column(w, &v);
    if (idx > 0)
        sl_parquet_writer_put(w, idx, &v);
    return next;
}

/* p at '{': walk its members with names under prefix; one past '}' or NULL. */
static const char *walk_object(walk *k, const char *p, size_t prefix, bool top)
{
    sl_parquet_writer *w = k->w;
    const char *end = k->end;
    if (++k->depth > WALK_MAX_DEPTH)
        return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        k->depth--;
        return p + 1;
    }
    for (;;) {
        if (p >= end || *p != '"')
            return NULL;
        bool esc;
        const char *q = string_end(p, end, &esc);
        if (!q)
            return NULL;
        size_t klen = (size_t)(q - p - 1);
        w->name.len = prefix;
        sl_buf_reserve(&w->name, 1 + klen);
        if (prefix)
            w->name.data[w->name.len++] = '.';
        if (!esc) {
            memcpy(w->name.data + w->name.len, p + 1, klen);
            w->name.len += klen;
            w->name.data[w->name.len] = '\0';
        } else if (sl_json_string_decode((sl_view){ p, (size_t)(q + 1 - p) }, &w->name) < 0) {
            return NULL;
        }
        bool is_ts = top && w->name.len == w->ts_len && memcmp(w->name.data, w->ts_column, w->ts_len) == 0;
        p = skip_ws(q + 1, end);
        if (p >= end || *p != ':')
            return NULL;
        p = skip_ws(p + 1, end);
        if (p >= end || !(p = walk_value(k, p, is_ts)))
            return NULL;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') {
            k->depth--;
            return p + 1;
        }
        return NULL;
    }
}

int sl_parquet_writer_add_json(sl_parquet_writer *w, sl_view event, int64_t ts_us)
{
    if (w->finished)
        return SL_ERR_CLOSED;
    if (!event.ptr)
        return SL_ERR_PARSE;
    if (!w->o.trusted_json) {
        size_t end;
        if (sl_json_validate(event.ptr, event.len, SL_JSON_DEFAULT_MAX_DEPTH, &end, NULL) < 0 ||
            sl_json_skip_ws(event.ptr, event.len, end) != event.len)
            return SL_ERR_PARSE;
    }
    const char *end = event.ptr + event.len;
    const char *p = skip_ws(event.ptr, end);
    if (p >= end || *p != '{')
        return SL_ERR_PARSE;
    /* Every value is a slice of the event, so the event's size bounds them all. */
    if (event.len > SL_PARQUET_MAX_VALUE_BYTES)
        return SL_ERR_TOOBIG;
    int rc = sl_parquet_writer_row_begin(w, ts_us);
    if (rc < 0)
        return rc;
    w->leaf = 0;
    sl_buf_reset(&w->name);
    walk k = { w, end, 0 };
    p = walk_object(&k, p, 0, true);
    if (!p || skip_ws(p, end) != end) {
        sl_parquet_writer_row_abandon(w);
        return SL_ERR_PARSE;
    }
    return sl_parquet_writer_row_end(w);
}
