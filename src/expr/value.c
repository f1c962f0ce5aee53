/*
 * value.c - values of the expression language: reading them out of JSON,
 * reading strings as numbers, and writing them back as text.
 *
 * Numbers are 64-bit integers when they are written as integers and fit,
 * doubles otherwise. A string "reads as a number" when it is nothing but a
 * number ("20", "-3.5", "1e3", "09"; not " 20", "0x10", "inf" or "20px"):
 * that reading is what lets the seed's `"right": "20"` and a pixel's
 * `"h": "9"` compare as numbers. It is computed at most once per value and
 * cached in the value (sl_expr_value.numeric); for the literals of an
 * expression it is computed at compile time, so `gender == 'MALE'` never
 * tries to read the event's gender as a number.
 */
#include "expr/expr_int.h"

#include "core/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- UTF-8 and escapes --------------------------------------------------- */

size_t sl_expr_utf8_check(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        } else {
            return i;
        }
        if (n - i <= need || p[i + 1] < lo || p[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return i;
        i += need + 1;
    }
    return n;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int hex4(const char *p)
{
    int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3]);
    return (a | b | c | d) < 0 ? -1 : a << 12 | b << 8 | c << 4 | d;
}

static int utf8_put(uint32_t cp, char o[4])
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * The escape at *pp (a backslash) of validated JSON text, decoded into
 * out; returns its length and advances *pp, or -1 when malformed (then
 * *pp does not move).
 */
int sl_expr_unescape_one(const char **pp, const char *end, char out[4])
{
    const char *p = *pp;
    if (end - p < 2)
        return -1;
    char c;
    switch (p[1]) {
    case '"':  c = '"'; break;
    case '\\': c = '\\'; break;
    case '/':  c = '/'; break;
    case 'b':  c = '\b'; break;
    case 'f':  c = '\f'; break;
    case 'n':  c = '\n'; break;
    case 'r':  c = '\r'; break;
    case 't':  c = '\t'; break;
    case 'u': {
        int cp = end - p >= 6 ? hex4(p + 2) : -1;
        if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
            return -1;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            int low = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
            if (low < 0xdc00 || low > 0xdfff)
                return -1;
            *pp = p + 12;
            return utf8_put(0x10000 + ((uint32_t)(cp - 0xd800) << 10) + (uint32_t)(low - 0xdc00),
                            out);
        }
        *pp = p + 6;
        return utf8_put((uint32_t)cp, out);
    }
    default:
        return -1;
    }
    out[0] = c;
    *pp = p + 2;
    return 1;
}

bool sl_expr_unescape(sl_view body, sl_buf *out)
{
    const char *p = body.ptr, *end = body.ptr + body.len;
    sl_buf_reserve(out, body.len);
    while (p < end) {
        const char *q = memchr(p, '\\', (size_t)(end - p));
        if (!q)
            q = end;
        sl_buf_append(out, p, (size_t)(q - p));
        if (q == end)
            break;
        char u[4];
        int n = sl_expr_unescape_one(&q, end, u);
        if (n < 0)
            return false;
        sl_buf_append(out, u, (size_t)n);
        p = q;
    }
    return true;
}

/* ---- numbers ------------------------------------------------------------- */

/*
 * Read number text: [+-]? (digits ('.' digits?)? | '.' digits) ([eE] [+-]? digits)?
 * Integers that fit in int64 stay integers; the rest become doubles, by
 * way of sl_json_double on a copy rewritten into JSON's stricter grammar
 * (no '+', no leading zeros, a digit on both sides of the point).
 * Returns 0, SL_ERR_PARSE when the text is not a number, SL_ERR_RANGE
 * when it is beyond a double.
 */
static int read_number(const char *s, size_t n, bool *is_int, int64_t *iv, double *dv)
{
    const char *p = s, *end = s + n;
    bool neg = false;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    const char *int0 = p;
    while (p < end && (unsigned)(*p - '0') < 10)
        p++;
    const char *int1 = p, *frac0 = NULL, *frac1 = NULL, *exp0 = NULL;
    if (p < end && *p == '.') {
        frac0 = ++p;
        while (p < end && (unsigned)(*p - '0') < 10)
            p++;
        frac1 = p;
    }
    if (int1 == int0 && (!frac0 || frac1 == frac0))
        return SL_ERR_PARSE; /* no digit at all */
    if (p < end && (*p == 'e' || *p == 'E')) {
        exp0 = ++p;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *d = p;
        while (p < end && (unsigned)(*p - '0') < 10)
            p++;
        if (p == d)
            return SL_ERR_PARSE;
    }
    if (p != end)
        return SL_ERR_PARSE;

    if (!frac0 && !exp0) {
        uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
        const char *q = int0;
        for (; q < int1; q++) {
            unsigned d = (unsigned)(*q - '0');
            if (v > (limit - d) / 10)
                break;
            v = v * 10 + d;
        }
        if (q == int1) {
            *is_int = true;
            *iv = neg ? (int64_t)(0 - v) : (int64_t)v;
            return 0;
        }
    }

    /* A double: rewrite into JSON's grammar, then sl_json_double. */
    char buf[160];
    size_t w = 0;
    if (n + 4 > sizeof buf)
        return SL_ERR_RANGE; /* over 150 characters: not worth reading */
    if (neg)
        buf[w++] = '-';
    const char *q = int0;
    while (q + 1 < int1 && *q == '0')
        q++;
    if (q == int1)
        buf[w++] = '0';
    while (q < int1)
        buf[w++] = *q++;
    if (frac0 && frac1 > frac0) {
        buf[w++] = '.';
        for (q = frac0; q < frac1; q++)
            buf[w++] = *q;
    }
    if (exp0) {
        buf[w++] = 'e';
        for (q = exp0; q < end; q++)
            buf[w++] = *q;
    }
    double d;
    int rc = sl_json_double((sl_view){ buf, w }, &d);
    if (rc < 0 || !isfinite(d))
        return SL_ERR_RANGE;
    *is_int = false;
    *dv = d;
    return 0;
}

int sl_expr_parse_number(const char *p, size_t n, sl_expr_value *out)
{
    bool is_int = false;
    int64_t i = 0;
    double d = 0;
    int rc = read_number(p, n, &is_int, &i, &d);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof *out);
    out->type = is_int ? SL_EXPR_INT : SL_EXPR_FLOAT;
    out->i = i;
    out->f = d;
    return 0;
}

bool sl_expr_string_number(sl_expr_value *v)
{
    if (v->numeric != NUM_UNKNOWN)
        return v->numeric != NUM_NONE;
    bool is_int = false;
    int64_t i = 0;
    double d = 0;
    int rc;
    if (!v->escaped) {
        rc = read_number(v->s.ptr, v->s.len, &is_int, &i, &d);
    } else {
        /* Escapes in a number are odd but legal JSON: decode a short one. */
        char buf[64];
        size_t w = 0;
        const char *p = v->s.ptr, *end = p + v->s.len;
        rc = 0;
        while (p < end && rc == 0) {
            char u[4];
            int k = 1;
            if (*p == '\\')
                k = sl_expr_unescape_one(&p, end, u);
            else
                u[0] = *p++;
            if (k < 0 || w + (size_t)k > sizeof buf)
                rc = SL_ERR_PARSE;
            else
                memcpy(buf + w, u, (size_t)k), w += (size_t)k;
        }
        if (rc == 0)
            rc = read_number(buf, w, &is_int, &i, &d);
    }
    if (rc < 0) {
        v->numeric = NUM_NONE;
        return false;
    }
    v->numeric = is_int ? NUM_INT : NUM_FLOAT;
    v->i = i;
    v->f = d;
    return true;
}

/* A JSON number of the event: integers up to 18 digits without a call. */
static void json_number(sl_view j, sl_expr_value *v)
{
    const char *p = j.ptr, *end = j.ptr + j.len;
    bool neg = p < end && *p == '-';
    p += neg;
    uint64_t m = 0;
    const char *d0 = p;
    while (p < end && (unsigned)(*p - '0') < 10 && p - d0 < 18)
        m = m * 10 + (uint64_t)(*p++ - '0');
    if (p == end) {
        v->type = SL_EXPR_INT;
        v->i = neg ? -(int64_t)m : (int64_t)m;
        return;
    }
    int64_t i;
    if (sl_json_int64(j, &i) == 0) {
        v->type = SL_EXPR_INT;
        v->i = i;
        return;
    }
    double d;
    if (sl_json_double(j, &d) == 0 && isfinite(d)) {
        v->type = SL_EXPR_FLOAT;
        v->f = d;
        return;
    }
    v->type = SL_EXPR_MISSING; /* beyond a double: no usable value */
}

void sl_expr_value_of_json(sl_view j, sl_expr_value *v)
{
    v->escaped = false;
    v->numeric = NUM_UNKNOWN;
    if (!j.ptr || j.len == 0) {
        v->type = SL_EXPR_MISSING;
        return;
    }
    switch (j.ptr[0]) {
    case '"':
        v->type = SL_EXPR_STRING;
        v->s = (sl_view){ j.ptr + 1, j.len >= 2 ? j.len - 2 : 0 };
        if (v->s.len < 16) { /* most compared values: no call for them */
            for (size_t i = 0; i < v->s.len; i++)
                v->escaped |= v->s.ptr[i] == '\\';
        } else {
            v->escaped = memchr(v->s.ptr, '\\', v->s.len) != NULL;
        }
        return;
    case 't':
    case 'f':
        v->type = SL_EXPR_BOOL;
        v->b = j.ptr[0] == 't';
        return;
    case 'n':
        v->type = SL_EXPR_NULL;
        return;
    case '[':
        v->type = SL_EXPR_ARRAY;
        v->s = j;
        return;
    case '{':
        v->type = SL_EXPR_OBJECT;
        v->s = j;
        return;
    default:
        json_number(j, v);
        return;
    }
}

size_t sl_expr_format_double(double d, char out[40])
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, 40, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (!strpbrk(out, ".eEn")) { /* keep it a float when read back: 2.0 */
        out[n++] = '.';
        out[n++] = '0';
        out[n] = '\0';
    }
    return (size_t)n;
}

/* ---- public helpers ------------------------------------------------------ */

bool sl_expr_value_truthy(const sl_expr_value *v)
{
    switch (v->type) {
    case SL_EXPR_BOOL:  return v->b;
    case SL_EXPR_INT:   return v->i != 0;
    case SL_EXPR_FLOAT: return v->f != 0;
    default:            return false;
    }
}

bool sl_expr_value_number(const sl_expr_value *v, double *out)
{
    if (v->type == SL_EXPR_INT) {
        *out = (double)v->i;
        return true;
    }
    if (v->type == SL_EXPR_FLOAT) {
        *out = v->f;
        return true;
    }
    if (v->type == SL_EXPR_STRING) {
        sl_expr_value copy = *v;
        if (!sl_expr_string_number(&copy))
            return false;
        *out = copy.numeric == NUM_INT ? (double)copy.i : copy.f;
        return true;
    }
    return false;
}

int sl_expr_value_text(const sl_expr_value *v, sl_buf *out)
{
    char num[40];
    switch (v->type) {
    case SL_EXPR_NULL:
        sl_buf_append_str(out, "null");
        return 0;
    case SL_EXPR_BOOL:
        sl_buf_append_str(out, v->b ? "true" : "false");
        return 0;
    case SL_EXPR_INT:
        sl_buf_printf(out, "%lld", (long long)v->i);
        return 0;
    case SL_EXPR_FLOAT:
        sl_buf_append(out, num, sl_expr_format_double(v->f, num));
        return 0;
    case SL_EXPR_STRING:
        if (!v->escaped) {
            sl_buf_append(out, v->s.ptr, v->s.len);
            return 0;
        } else {
            size_t len0 = out->len;
            if (sl_expr_unescape(v->s, out))
                return 0;
            out->len = len0;
            if (out->data)
                out->data[len0] = '\0';
            return SL_ERR_PARSE;
        }
    case SL_EXPR_ARRAY:
    case SL_EXPR_OBJECT:
        sl_buf_append(out, v->s.ptr, v->s.len);
        return 0;
    default:
        return SL_ERR_PARSE;
    }
}

int sl_expr_value_json(const sl_expr_value *v, sl_buf *out)
{
    if (v->type != SL_EXPR_STRING) {
        if (v->type == SL_EXPR_FLOAT && !isfinite(v->f))
            return SL_ERR_PARSE;
        return sl_expr_value_text(v, out);
    }
    if (v->escaped) { /* already JSON string content */
        sl_buf_append_char(out, '"');
        sl_buf_append(out, v->s.ptr, v->s.len);
        sl_buf_append_char(out, '"');
        return 0;
    }
    sl_buf_append_json_string(out, v->s.ptr, v->s.len);
    return 0;
}
