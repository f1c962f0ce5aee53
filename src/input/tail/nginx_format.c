/*
 * nginx_format.c - compile an NGINX log_format and parse access-log lines
 * with it (see nginx_format.h).
 *
 * A compiled format is a prefix literal and a list of variables, each
 * carrying the literal that follows it:
 *
 *   "$remote_addr - $remote_user [$time_local] ..."
 *
 *   prefix ""  | remote_addr " - " | remote_user " [" | time_local "] \"" | ...
 *
 * Matching walks the line once: check the prefix, then for each variable
 * search the first occurrence of its following literal (memchr on the
 * literal's first byte, memcmp on the rest); the variable's value is what
 * lies before it. The last variable with no literal after it takes the rest
 * of the line. First occurrence is right for lines NGINX writes: it escapes
 * '"' inside values, so a quoted value cannot contain its closing quote.
 *
 * The hot path touches each byte about twice (the search and, for typed
 * fields, the conversion) and allocates nothing: values with escapes are
 * decoded into the caller's scratch, the others are views into the line.
 * Error messages are only formatted on failure.
 */
#include "input/tail/nginx_format.h"
#include "core/utf8.h"

#include "core/alloc.h"
#include "core/timestamp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef struct fmt_var {
    sl_view name;       /* into spec, without '$' or braces */
    sl_view lit;        /* the literal text that follows; empty only at the end */
    sl_nginx_type type;
} fmt_var;

struct sl_nginx_format {
    char *spec;         /* the format as written, NUL-terminated; views point here */
    sl_view prefix;     /* literal text before the first variable */
    size_t nvars;
    fmt_var vars[SL_NGINX_MAX_FIELDS];
};

#define COMBINED_SPEC                                                            \
    "$remote_addr - $remote_user [$time_local] \"$request\" $status "           \
    "$body_bytes_sent \"$http_referer\" \"$http_user_agent\""

static const struct {
    const char *name;
    const char *spec;
} builtin_formats[] = {
    { "combined", COMBINED_SPEC },
    { "main", COMBINED_SPEC " \"$http_x_forwarded_for\"" },
};

/* Variables with a type other than text. Anything else is SL_NGINX_STRING. */
static const struct {
    const char *name;
    sl_nginx_type type;
} typed_vars[] = {
    { "time_local", SL_NGINX_TIME_LOCAL },
    { "time_iso8601", SL_NGINX_TIME_ISO8601 },
    { "msec", SL_NGINX_MSEC },
    { "request", SL_NGINX_REQUEST },
    { "status", SL_NGINX_INT },
    { "body_bytes_sent", SL_NGINX_INT },
    { "bytes_sent", SL_NGINX_INT },
    { "request_length", SL_NGINX_INT },
    { "connection", SL_NGINX_INT },
    { "connection_requests", SL_NGINX_INT },
    { "pid", SL_NGINX_INT },
    { "remote_port", SL_NGINX_INT },
    { "server_port", SL_NGINX_INT },
    { "request_time", SL_NGINX_DECIMAL },
    { "connection_time", SL_NGINX_DECIMAL },
};

#define US_PER_SEC INT64_C(1000000)
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: what ts can show. */
#define MIN_US (INT64_C(-62167219200) * US_PER_SEC)
#define MAX_US (INT64_C(253402300800) * US_PER_SEC - 1)

/* ---- errors ------------------------------------------------------------ */

/* Up to 32 bytes of text, printable ASCII as is and the rest as \xHH. */
static void snippet(char *out, size_t cap, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0, i;
    for (i = 0; i < n && i < 32 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (i < n && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

__attribute__((format(printf, 4, 5)))
static int fail(sl_nginx_error *err, int code, size_t offset, const char *fmt, ...)
{
    if (err) {
        err->offset = offset;
        int k = snprintf(err->message, sizeof err->message, "at byte %zu: ", offset);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message + k, sizeof err->message - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- compiling a format -------------------------------------------------- */

static bool is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

static sl_nginx_type type_of_var(sl_view name)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(typed_vars); i++)
        if (sl_view_eq_str(name, typed_vars[i].name))
            return typed_vars[i].type;
    return SL_NGINX_STRING;
}

int sl_nginx_format_compile(const char *spec, size_t len, sl_nginx_format **out,
                            sl_nginx_error *err)
{
    *out = NULL;
    sl_nginx_format *f = sl_calloc(1, sizeof *f);
    f->spec = sl_strndup(spec, len);
    const char *s = f->spec;
    size_t i = 0, lit_start = 0;
    int rc;

    while (i <= len) {
        if (i < len && s[i] != '$') {
            i++;
            continue;
        }
        /* The literal [lit_start, i) closes the previous variable (or is the prefix). */
        sl_view lit = { s + lit_start, i - lit_start };
        if (f->nvars == 0)
            f->prefix = lit;
        else
            f->vars[f->nvars - 1].lit = lit;
        if (i == len)
            break;

        size_t dollar = i++;
        sl_view name;
        if (i < len && s[i] == '{') {
            size_t start = ++i;
            while (i < len && is_name_char((unsigned char)s[i]))
                i++;
            if (i >= len || s[i] != '}') {
                rc = fail(err, SL_ERR_PARSE, dollar,
                          "variable '${' is not closed by '}' after a name of letters, digits and '_'");
                goto fail;
            }
            name = (sl_view){ s + start, i - start };
            i++;
        } else {
            size_t start = i;
            while (i < len && is_name_char((unsigned char)s[i]))
                i++;
            name = (sl_view){ s + start, i - start };
        }
        if (name.len == 0) {
            rc = fail(err, SL_ERR_PARSE, dollar, "'$' is not followed by a variable name");
            goto fail;
        }
        if (f->nvars > 0 && f->vars[f->nvars - 1].lit.len == 0) {
            sl_view prev = f->vars[f->nvars - 1].name;
            rc = fail(err, SL_ERR_PARSE, dollar,
                      "$%.*s follows $%.*s with no text between them, so where one ends is unknown",
                      (int)name.len, name.ptr, (int)prev.len, prev.ptr);
            goto fail;
        }
        for (size_t k = 0; k < f->nvars; k++) {
            if (sl_view_eq(f->vars[k].name, name)) {
                rc = fail(err, SL_ERR_PARSE, dollar, "$%.*s appears twice in the format",
                          (int)name.len, name.ptr);
                goto fail;
            }
        }
        if (f->nvars == SL_NGINX_MAX_FIELDS) {
            rc = fail(err, SL_ERR_PARSE, dollar, "more than %d variables in the format",
                      SL_NGINX_MAX_FIELDS);
            goto fail;
        }
        f->vars[f->nvars++] = (fmt_var){ name, SL_VIEW_NULL, type_of_var(name) };
        lit_start = i;
    }
    if (f->nvars == 0) {
        rc = fail(err, SL_ERR_PARSE, 0, "the format has no $variable");
        goto fail;
    }
    *out = f;
    return 0;

fail:
    sl_nginx_format_free(f);
    return rc;
}

int sl_nginx_format_new(const char *name_or_spec, sl_nginx_format **out, sl_nginx_error *err)
{
    const char *spec = name_or_spec;
    for (size_t i = 0; i < SL_ARRAY_LEN(builtin_formats); i++)
        if (strcmp(name_or_spec, builtin_formats[i].name) == 0)
            spec = builtin_formats[i].spec;
    return sl_nginx_format_compile(spec, strlen(spec), out, err);
}

void sl_nginx_format_free(sl_nginx_format *f)
{
    if (!f)
        return;
    free(f->spec);
    free(f);
}

const char *sl_nginx_format_spec(const sl_nginx_format *f)
{
    return f->spec;
}

size_t sl_nginx_format_nfields(const sl_nginx_format *f)
{
    return f->nvars;
}

int sl_nginx_format_index(const sl_nginx_format *f, const char *name)
{
    for (size_t i = 0; i < f->nvars; i++)
        if (sl_view_eq_str(f->vars[i].name, name))
            return (int)i;
    return -1;
}

/* ---- parsing values -------------------------------------------------------- */

typedef struct parse_state {
    const char *line;
    char *scratch;
    size_t scratch_cap;
    size_t scratch_used;
    sl_nginx_error *err;
} parse_state;

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode the field's \xHH escapes into the scratch (only when it has any). */
static int decode_escapes(parse_state *st, const fmt_var *v, sl_nginx_field *fld)
{
    const char *raw = fld->raw.ptr;
    size_t n = fld->raw.len;
    const char *bs = memchr(raw, '\\', n);
    if (!bs)
        return 0;
    size_t start = (size_t)(raw - st->line);
    if (n > st->scratch_cap - st->scratch_used)
        return fail(st->err, SL_ERR_TOOBIG, start,
                    "no room to decode $%.*s: the scratch buffer has %zu of the %zu bytes needed",
                    (int)v->name.len, v->name.ptr, st->scratch_cap - st->scratch_used, n);
    char *out = st->scratch + st->scratch_used;
    size_t o = 0, i = 0;
    while (bs) {
        size_t k = (size_t)(bs - raw);
        memcpy(out + o, raw + i, k - i);
        o += k - i;
        int hi = k + 3 < n ? hex_value((unsigned char)raw[k + 2]) : -1;
        int lo = k + 3 < n ? hex_value((unsigned char)raw[k + 3]) : -1;
        if (k + 3 >= n || raw[k + 1] != 'x' || hi < 0 || lo < 0) {
            char found[40];
            snippet(found, sizeof found, raw + k, SL_MIN(n - k, (size_t)4));
            return fail(st->err, SL_ERR_PARSE, start + k,
                        "invalid escape '%s' in $%.*s (NGINX writes \\xHH)", found,
                        (int)v->name.len, v->name.ptr);
        }
        out[o++] = (char)(hi << 4 | lo);
        i = k + 4;
        bs = i < n ? memchr(raw + i, '\\', n - i) : NULL;
    }
    memcpy(out + o, raw + i, n - i);
    o += n - i;
    fld->value = (sl_view){ out, o };
    st->scratch_used += o;
    return 0;
}

/* Digits: 0 and *num, or -1 (not digits) or -2 (too many for int64). */
static int parse_digits(const char *s, size_t n, int64_t *num)
{
    if (n == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return -1;
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    *num = (int64_t)v;
    return 0;
}

/* digits[.digits] into millionths. 0, -1 (not a decimal), -2 (too large). */
static int parse_decimal(const char *s, size_t n, int64_t *millionths)
{
    const char *dot = memchr(s, '.', n);
    size_t int_len = dot ? (size_t)(dot - s) : n;
    int64_t ip = 0;
    int rc = parse_digits(s, int_len, &ip);
    if (rc != 0)
        return rc;
    if (ip > INT64_MAX / US_PER_SEC - 1)
        return -2;
    int64_t frac = 0;
    if (dot) {
        size_t flen = n - int_len - 1;
        if (flen == 0)
            return -1;
        int64_t scale = 100000;
        for (size_t i = 0; i < flen; i++) {
            unsigned d = (unsigned char)dot[1 + i] - '0';
            if (d > 9)
                return -1;
            frac += (int64_t)d * scale;
            scale /= 10;
        }
    }
    *millionths = ip * US_PER_SEC + frac;
    return 0;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil: March-based years make leap days last. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned month_of(const char *s)
{
    /* Three letters, English, as strftime's %b in the C locale writes them. */
    uint32_t k = (uint32_t)(unsigned char)s[0] << 16 | (uint32_t)(unsigned char)s[1] << 8 |
                 (unsigned char)s[2];
#define M3(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
    switch (k) {
    case M3('J', 'a', 'n'): return 1;
    case M3('F', 'e', 'b'): return 2;
    case M3('M', 'a', 'r'): return 3;
    case M3('A', 'p', 'r'): return 4;
    case M3('M', 'a', 'y'): return 5;
    case M3('J', 'u', 'n'): return 6;
    case M3('J', 'u', 'l'): return 7;
    case M3('A', 'u', 'g'): return 8;
    case M3('S', 'e', 'p'): return 9;
    case M3('O', 'c', 't'): return 10;
    case M3('N', 'o', 'v'): return 11;
    case M3('D', 'e', 'c'): return 12;
    }
#undef M3
    return 0;
}

static bool digits_at(const char *s, const unsigned *pos, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned)((unsigned char)s[pos[i]] - '0') > 9)
            return false;
    return true;
}

#define D2(s, i) (((s)[i] - '0') * 10 + ((s)[(i) + 1] - '0'))

/*
 *   10/Oct/2000:13:55:36 -0700
 *   0  3   7    12 15 18 21
 */
static bool parse_time_local(const char *s, size_t n, int64_t *us)
{
    static const unsigned digit_pos[] = { 0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25 };
    static const unsigned char mdays[] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (n != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' ||
        s[17] != ':' || s[20] != ' ' || (s[21] != '+' && s[21] != '-') ||
        !digits_at(s, digit_pos, SL_ARRAY_LEN(digit_pos)))
        return false;
    unsigned mon = month_of(s + 3);
    int day = D2(s, 0), year = D2(s, 7) * 100 + D2(s, 9);
    int hour = D2(s, 12), min = D2(s, 15), sec = D2(s, 18);
    int oh = D2(s, 22), om = D2(s, 24);
    if (mon == 0 || day < 1 || day > mdays[mon] || hour > 23 || min > 59 || sec > 60 ||
        oh > 23 || om > 59)
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon == 2 && day == 29 && !leap)
        return false;
    int64_t offset = (int64_t)(oh * 3600 + om * 60) * (s[21] == '-' ? -1 : 1);
    int64_t secs = days_from_civil(year, mon, (unsigned)day) * 86400 + hour * 3600 + min * 60 +
                   sec - offset;
    *us = secs * US_PER_SEC;
    return *us >= MIN_US && *us <= MAX_US;
}

/*
 * Map raw offsets pos[0] <= pos[1] <= ... (n of them) of a value whose
 * \xHH escapes are all valid onto its decoded value, in one walk over the
 * escapes: each escape before an offset made 4 raw bytes into 1.
 */
static void decoded_offsets(const char *raw, size_t len, size_t *pos, size_t n)
{
    size_t escapes = 0;
    const char *p = raw, *end = raw + len;
    for (size_t k = 0; k < n; k++) {
        while (p < end) {
            const char *bs = memchr(p, '\\', (size_t)(end - p));
            if (!bs || (size_t)(bs - raw) >= pos[k])
                break;
            escapes++;
            p = bs + 4;
        }
        pos[k] -= 3 * escapes;
    }
}

/*
 * $request: method, then spaces, then the path up to the last run of
 * spaces, then the protocol - the split Fluentd's nginx regex makes
 * ("(?<method>\S+)(?: +(?<path>[^\"]*?)(?: +\S*)?)?"), so a path with
 * spaces in it keeps them. Split on the raw bytes (NGINX never escapes a
 * space), then mapped onto the decoded value.
 */
static void split_request(const sl_nginx_field *fld, sl_nginx_line *out)
{
    const char *r = fld->raw.ptr;
    size_t n = fld->raw.len;
    const char *sp = memchr(r, ' ', n);
    size_t m = sp ? (size_t)(sp - r) : n;
    if (m == 0)
        return; /* empty, or starts with a space: no method */
    size_t s = m;
    while (s < n && r[s] == ' ')
        s++;
    size_t path_end = n, proto = n;
    if (s < n) {
        const char *last = memrchr(r + s, ' ', n - s);
        if (last) {
            proto = (size_t)(last - r) + 1;
            path_end = (size_t)(last - r);
            while (r[path_end - 1] == ' ')
                path_end--;
        }
    }
    const char *v = fld->value.ptr;
    if (v == r) { /* no escapes: offsets are the same */
        out->method = (sl_view){ v, m };
        if (s < n)
            out->path = (sl_view){ v + s, path_end - s };
        if (proto < n)
            out->protocol = (sl_view){ v + proto, n - proto };
        return;
    }
    size_t pos[4] = { m, s, path_end, proto };
    decoded_offsets(r, n, pos, 4);
    size_t dm = pos[0], ds = pos[1], dpe = pos[2], dpr = pos[3];
    out->method = (sl_view){ v, dm };
    if (s < n)
        out->path = (sl_view){ v + ds, dpe - ds };
    if (proto < n)
        out->protocol = (sl_view){ v + dpr, fld->value.len - dpr };
}

static int set_field(parse_state *st, const fmt_var *v, size_t start, size_t end, bool escaped,
                     sl_nginx_field *fld, sl_nginx_line *out)
{
    const char *raw = st->line + start;
    size_t n = end - start;
    /* Stored from locals, not copied field to field: reading back a view just
       written as two halves stalls store forwarding. */
    bool absent = n == 1 && raw[0] == '-';
    sl_view rv = { raw, n };
    fld->name = v->name;
    fld->type = v->type;
    fld->raw = rv;
    fld->value = (sl_view){ raw, absent ? 0 : n };
    fld->num = 0;
    fld->absent = absent;
    if (absent)
        return 0;
    const char *what = NULL;
    int rc;
    switch (v->type) {
    case SL_NGINX_STRING:
        return escaped ? decode_escapes(st, v, fld) : 0;
    case SL_NGINX_REQUEST:
        rc = escaped ? decode_escapes(st, v, fld) : 0;
        if (rc == 0)
            split_request(fld, out);
        return rc;
    case SL_NGINX_INT:
        rc = parse_digits(raw, n, &fld->num);
        what = rc == -2 ? "is out of range" : "is not a number";
        break;
    case SL_NGINX_DECIMAL:
        rc = parse_decimal(raw, n, &fld->num);
        what = rc == -2 ? "is out of range" : "is not a decimal number";
        break;
    case SL_NGINX_MSEC:
        rc = parse_decimal(raw, n, &fld->num);
        if (rc == 0 && fld->num > MAX_US)
            rc = -2;
        what = "is not epoch seconds with milliseconds like 971211336.123";
        break;
    case SL_NGINX_TIME_LOCAL:
        rc = parse_time_local(raw, n, &fld->num) ? 0 : -1;
        what = "is not a time like 10/Oct/2000:13:55:36 -0700";
        break;
    case SL_NGINX_TIME_ISO8601:
        rc = sl_timestamp_parse_iso(raw, n, &fld->num) == 0 ? 0 : -1;
        what = "is not a time like 2000-10-10T13:55:36-07:00";
        break;
    default:
        rc = -1;
        what = "has an unknown type";
    }
    if (rc != 0) {
        char found[120];
        snippet(found, sizeof found, raw, n);
        return fail(st->err, SL_ERR_PARSE, start, "$%.*s %s: '%s'", (int)v->name.len,
                    v->name.ptr, what, found);
    }
    if (v->type >= SL_NGINX_TIME_LOCAL && v->type <= SL_NGINX_MSEC && !out->has_ts) {
        out->has_ts = true;
        out->ts_us = fld->num;
    }
    return 0;
}

/* Whether lit (non-empty) starts at p; lit.len bytes are there. Literals
   are a few bytes: compared inline, not through memcmp. */
static inline bool literal_at(const char *p, sl_view lit)
{
    size_t k = 1;
    while (k < lit.len && p[k] == lit.ptr[k])
        k++;
    return k == lit.len;
}

/*
 * First occurrence of lit (non-empty) in [h, h + n). On the way it notes
 * whether a backslash comes before it (*escaped), so a value without
 * escapes is never searched again: one pass finds where a value ends and
 * whether it needs decoding, sixteen bytes at a time where SSE2 is there.
 */
static const char *find_literal(const char *h, size_t n, sl_view lit, bool *escaped)
{
    *escaped = false;
    if (lit.len > n)
        return NULL;
    unsigned char first = (unsigned char)lit.ptr[0];
    const char *p = h, *last = h + (n - lit.len), *end = h + n; /* last possible start */
    while (p <= last) {
#if defined(__SSE2__)
        if (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            unsigned m = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)first)),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
            if (!m) {
                p += 16;
                continue;
            }
            p += __builtin_ctz(m);
            if (p > last)
                return NULL;
        }
#endif
        unsigned char c = (unsigned char)*p;
        if (c == first && literal_at(p, lit))
            return p;
        if (c == '\\')
            *escaped = true;
        p++;
    }
    SL_UNUSED(end);
    return NULL;
}

int sl_nginx_parse(const sl_nginx_format *f, const char *line, size_t len,
                   sl_nginx_line *out, char *scratch, size_t scratch_cap,
                   sl_nginx_error *err)
{
    if (len > 0 && line[len - 1] == '\n') {
        len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;
    }
    out->nfields = 0;
    out->method = out->path = out->protocol = SL_VIEW_NULL;
    out->has_ts = false;
    out->ts_us = 0;
    parse_state st = { line, scratch, scratch ? scratch_cap : 0, 0, err };
    char want[120], found[120];

    size_t p = f->prefix.len;
    if (p > 0 && (len < p || memcmp(line, f->prefix.ptr, p) != 0)) {
        snippet(want, sizeof want, f->prefix.ptr, f->prefix.len);
        snippet(found, sizeof found, line, SL_MIN(len, f->prefix.len));
        return fail(err, SL_ERR_PARSE, 0, "expected '%s' at the start of the line, found '%s'",
                    want, found);
    }
    for (size_t i = 0; i < f->nvars; i++) {
        const fmt_var *v = &f->vars[i];
        size_t end = len, next = len;
        bool escaped = true; /* the last value: decode_escapes looks */
        if (v->lit.len > 0) {
            const char *hit = find_literal(line + p, len - p, v->lit, &escaped);
            if (!hit) {
                snippet(want, sizeof want, v->lit.ptr, v->lit.len);
                return fail(err, SL_ERR_PARSE, p, "expected '%s' after $%.*s", want,
                            (int)v->name.len, v->name.ptr);
            }
            end = (size_t)(hit - line);
            next = end + v->lit.len;
        }
        int rc = set_field(&st, v, p, end, escaped, &out->fields[i], out);
        if (rc != 0)
            return rc;
        p = next;
    }
    if (p != len) {
        const fmt_var *v = &f->vars[f->nvars - 1];
        snippet(want, sizeof want, v->lit.ptr, v->lit.len);
        snippet(found, sizeof found, line + p, len - p);
        return fail(err, SL_ERR_PARSE, p, "expected the end of the line after $%.*s%s%s%s, found '%s'",
                    (int)v->name.len, v->name.ptr, v->lit.len ? " and '" : "", want,
                    v->lit.len ? "'" : "", found);
    }
    out->nfields = f->nvars;
    return 0;
}

const sl_nginx_field *sl_nginx_line_get(const sl_nginx_line *l, const char *name)
{
    for (size_t i = 0; i < l->nfields; i++)
        if (sl_view_eq_str(l->fields[i].name, name))
            return &l->fields[i];
    return NULL;
}

/* ---- JSON ------------------------------------------------------------------ */



/* True when none of the eight bytes is '"', '\\', a control byte or >= 0x80. */
static inline bool word_is_plain(uint64_t w)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    uint64_t control = (w - ones * 0x20) & ~w;
    uint64_t is_quote = (quote - ones) & ~quote, is_bslash = (bslash - ones) & ~bslash;
    return ((control | is_quote | is_bslash | w) & highs) == 0;
}

static bool text_is_plain(const char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (!word_is_plain(w))
            return false;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return false;
    }
    return true;
}

/* A JSON string of text; bytes that are not UTF-8 become U+FFFD. */
static void append_text(sl_buf *b, sl_view v)
{
    /* Printable ASCII needs no escaping: one copy, no per-byte branches. */
    if (text_is_plain(v.ptr, v.len)) {
        sl_buf_reserve(b, v.len + 2);
        char *d = b->data + b->len;
        d[0] = '"';
        memcpy(d + 1, v.ptr, v.len);
        d[v.len + 1] = '"';
        b->len += v.len + 2;
        b->data[b->len] = '\0';
        return;
    }
    if (sl_utf8_valid(v.ptr, v.len)) {
        sl_buf_append_json_string(b, v.ptr, v.len);
        return;
    }
    sl_buf clean = SL_BUF_INIT;
    const unsigned char *s = (const unsigned char *)v.ptr;
    for (size_t i = 0; i < v.len;) {
        size_t k = sl_utf8_sequence(s + i, v.len - i);
        if (k == 0) {
            sl_buf_append(&clean, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            sl_buf_append(&clean, s + i, k);
            i += k;
        }
    }
    sl_buf_append_json_string(b, clean.data, clean.len);
    sl_buf_free(&clean);
}

static void append_key(sl_buf *b, const char *name, size_t n, bool *comma)
{
    sl_buf_reserve(b, n + 4);
    if (*comma)
        b->data[b->len++] = ',';
    b->data[b->len++] = '"';
    memcpy(b->data + b->len, name, n);
    b->len += n;
    b->data[b->len++] = '"';
    b->data[b->len++] = ':';
    b->data[b->len] = '\0';
    *comma = true;
}

static void append_int(sl_buf *b, int64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    sl_buf_append(b, tmp + i, sizeof tmp - i);
}

/* A validated digits[.digits] as a JSON number: no leading zeros. */
static void append_decimal(sl_buf *b, sl_view raw)
{
    size_t i = 0;
    while (i + 1 < raw.len && raw.ptr[i] == '0' && raw.ptr[i + 1] != '.')
        i++;
    sl_buf_append(b, raw.ptr + i, raw.len - i);
}

void sl_nginx_line_append_json(const sl_nginx_line *l, sl_buf *out, bool *comma)
{
    bool ts_done = false;
    for (size_t i = 0; i < l->nfields; i++) {
        const sl_nginx_field *fld = &l->fields[i];
        if (fld->absent)
            continue;
        switch (fld->type) {
        case SL_NGINX_STRING:
            append_key(out, fld->name.ptr, fld->name.len, comma);
            append_text(out, fld->value);
            break;
        case SL_NGINX_INT:
            append_key(out, fld->name.ptr, fld->name.len, comma);
            append_int(out, fld->num);
            break;
        case SL_NGINX_DECIMAL:
        case SL_NGINX_MSEC:
            append_key(out, fld->name.ptr, fld->name.len, comma);
            append_decimal(out, fld->raw);
            break;
        case SL_NGINX_TIME_LOCAL:
        case SL_NGINX_TIME_ISO8601:
            append_key(out, fld->name.ptr, fld->name.len, comma);
            append_text(out, fld->raw);
            break;
        case SL_NGINX_REQUEST:
            if (!l->method.ptr) {
                append_key(out, fld->name.ptr, fld->name.len, comma);
                append_text(out, fld->value);
                break;
            }
            append_key(out, "method", 6, comma);
            append_text(out, l->method);
            if (l->path.ptr) {
                append_key(out, "path", 4, comma);
                append_text(out, l->path);
            }
            if (l->protocol.ptr) {
                append_key(out, "protocol", 8, comma);
                append_text(out, l->protocol);
            }
            break;
        }
        if (fld->type >= SL_NGINX_TIME_LOCAL && fld->type <= SL_NGINX_MSEC && !ts_done) {
            char iso[32];
            sl_timestamp_format_iso(fld->num, iso, sizeof iso);
            append_key(out, "ts", 2, comma);
            append_text(out, sl_view_of(iso));
            ts_done = true;
        }
    }
}

void sl_nginx_line_to_json(const sl_nginx_line *l, sl_buf *out)
{
    bool comma = false;
    sl_buf_append_char(out, '{');
    sl_nginx_line_append_json(l, out, &comma);
    sl_buf_append_char(out, '}');
}
