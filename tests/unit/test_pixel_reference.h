/*
 * test_pixel_reference.h - the pixel's query decoder and event builder as
 * they were before their fast paths (commit 3e6dbf7), kept verbatim apart
 * from a ref_ / refp_ prefix on every name: the oracle test_pixel_fast.c
 * compares the optimised code with, byte for byte, over many generated
 * queries and hits. Not to be changed except to follow a deliberate change
 * of behaviour.
 */
#ifndef TEST_PIXEL_REFERENCE_H
#define TEST_PIXEL_REFERENCE_H

#include "core/timestamp.h"
#include "core/utf8.h"
#include "input/pixel/pixel.h"
#include "input/pixel/query.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

/* ---- errors ------------------------------------------------------------------ */

/* Up to 32 bytes, printable ASCII as is, the rest as \xHH. */
static void ref_snippet(char *out, size_t cap, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0, i;
    for (i = 0; i < n && i < 32 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\'') {
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
static int ref_fail(sl_query_error *err, int code, size_t offset, const char *fmt, ...)
{
    if (err) {
        err->offset = offset;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- decoding ------------------------------------------------------------------ */

static int ref_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Raw offset (from the part's start) of decoded offset d of step 1. */
static size_t ref_raw_offset(const char *raw, size_t n, size_t d)
{
    size_t i = 0;
    for (size_t k = 0; k < d && i < n; k++)
        i += raw[i] == '%' ? 3 : 1;
    return i;
}



/* Four hex digits at s (n bytes available) as a code unit, or -1. */
static long ref_hex4(const char *s, size_t n)
{
    if (n < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = ref_hex_value((unsigned char)s[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

static size_t ref_put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* "parameter 'e_n'" (key decoded) or "parameter name 'e%G1'" (raw name). */
static const char *ref_param_label(char *out, size_t cap, const sl_view *key, const char *raw,
                               size_t n)
{
    char shown[100];
    if (key)
        ref_snippet(shown, sizeof shown, key->ptr, key->len);
    else
        ref_snippet(shown, sizeof shown, raw, n);
    snprintf(out, cap, "parameter %s'%s'", key ? "" : "name ", shown);
    return out;
}

/* True when none of the eight bytes is '%', '+', '\\' or >= 0x80. */
static inline bool ref_word_needs_no_decoding(uint64_t w)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t pct = w ^ (ones * '%'), plus = w ^ (ones * '+'), bslash = w ^ (ones * '\\');
    uint64_t hits = ((pct - ones) & ~pct) | ((plus - ones) & ~plus) | ((bslash - ones) & ~bslash);
    return ((hits | w) & highs) == 0;
}

static bool ref_part_is_plain(const char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (!ref_word_needs_no_decoding(w))
            return false;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%' || c == '+' || c == '\\' || c >= 0x80)
            return false;
    }
    return true;
}

typedef struct ref_decode_ctx {
    const char *query;       /* the whole raw query, for offsets */
    char *scratch;
    size_t scratch_cap;
    size_t scratch_used;
    sl_query_error *err;
} ref_decode_ctx;

/*
 * Decode raw part [raw, raw + n) (a name when key is NULL, else the value
 * of parameter *key) into the scratch; *out views the result.
 */
static int ref_decode_part(ref_decode_ctx *c, const char *raw, size_t n, const sl_view *key,
                       sl_view *out)
{
    char label[160], bad[48];
    size_t base = (size_t)(raw - c->query);
#define LABEL ref_param_label(label, sizeof label, key, raw, n)

    /* Most parts are plain ASCII with nothing to decode: view them in place. */
    if (ref_part_is_plain(raw, n)) {
        *out = (sl_view){ raw, n };
        return 0;
    }

    if (n > c->scratch_cap - c->scratch_used)
        return ref_fail(c->err, SL_ERR_TOOBIG, base,
                    "no room to decode the query: the scratch buffer has %zu of the %zu bytes needed",
                    c->scratch_cap - c->scratch_used, n);
    char *dst = c->scratch + c->scratch_used;


    /* 1. '+' and %XX. */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = raw[i];
        if (ch == '+') {
            dst[o++] = ' ';
        } else if (ch == '%') {
            int hi = i + 2 < n ? ref_hex_value((unsigned char)raw[i + 1]) : -1;
            int lo = i + 2 < n ? ref_hex_value((unsigned char)raw[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                ref_snippet(bad, sizeof bad, raw + i, SL_MIN(n - i, (size_t)3));
                return ref_fail(c->err, SL_ERR_PARSE, base + i,
                            "%s at byte %zu: broken %%-escape '%s' (expected two hex digits after '%%')",
                            LABEL, base + i, bad);
            }
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            dst[o++] = ch;
        }
    }

    /* 2. UTF-8. */
    size_t at = sl_utf8_check(dst, o);
    if (at < o) {
        size_t r = base + ref_raw_offset(raw, n, at);
        ref_snippet(bad, sizeof bad, dst + at, SL_MIN(o - at, (size_t)4));
        return ref_fail(c->err, SL_ERR_PARSE, r,
                    "%s at byte %zu: not valid UTF-8 after %%-decoding (bytes '%s')", LABEL, r, bad);
    }

    /* 3. \uXXXX, in place. */
    char *bs = memchr(dst, '\\', o);
    if (bs) {
        size_t w = (size_t)(bs - dst), i = w;
        while (i < o) {
            if (dst[i] != '\\' || i + 1 >= o || dst[i + 1] != 'u') {
                dst[w++] = dst[i++];
                continue;
            }
            size_t r = base + ref_raw_offset(raw, n, i);
            long u = ref_hex4(dst + i + 2, o - i - 2);
            if (u < 0) {
                ref_snippet(bad, sizeof bad, dst + i, SL_MIN(o - i, (size_t)6));
                return ref_fail(c->err, SL_ERR_PARSE, r,
                            "%s at byte %zu: invalid \\u escape '%s' (expected four hex digits)",
                            LABEL, r, bad);
            }
            unsigned long cp = (unsigned long)u;
            size_t used = 6;
            if (u >= 0xDC00 && u <= 0xDFFF)
                return ref_fail(c->err, SL_ERR_PARSE, r,
                            "%s at byte %zu: lone low surrogate \\u%04lX (it must follow a high "
                            "surrogate \\uD800-\\uDBFF)", LABEL, r, (unsigned long)u);
            if (u >= 0xD800 && u <= 0xDBFF) {
                long lo = -1;
                if (i + 7 < o && dst[i + 6] == '\\' && dst[i + 7] == 'u')
                    lo = ref_hex4(dst + i + 8, o - i - 8);
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    if (lo < 0)
                        return ref_fail(c->err, SL_ERR_PARSE, r,
                                    "%s at byte %zu: lone high surrogate \\u%04lX (it must be "
                                    "followed by a low surrogate \\uDC00-\\uDFFF)",
                                    LABEL, r, (unsigned long)u);
                    return ref_fail(c->err, SL_ERR_PARSE, r,
                                "%s at byte %zu: high surrogate \\u%04lX followed by \\u%04lX, "
                                "not by a low surrogate \\uDC00-\\uDFFF",
                                LABEL, r, (unsigned long)u, (unsigned long)lo);
                }
                cp = 0x10000 + (((unsigned long)u - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
                used = 12;
            }
            w += ref_put_utf8(dst + w, cp);
            i += used;
        }
        o = w;
    }
    *out = (sl_view){ dst, o };
    c->scratch_used += o;
    return 0;
#undef LABEL
}

static int ref_sl_query_parse(const char *query, size_t len, sl_query *out, char *scratch,
                   size_t scratch_cap, sl_query_error *err)
{
    out->count = 0;
    ref_decode_ctx c = { query, scratch, scratch ? scratch_cap : 0, 0, err };
    size_t i = 0;
    if (len > 0 && query[0] == '?')
        i = 1;
    while (i < len) {
        const char *seg = query + i;
        const char *amp = memchr(seg, '&', len - i);
        size_t n = amp ? (size_t)(amp - seg) : len - i;
        size_t start = i;
        i += n + 1;
        if (n == 0)
            continue;
        const char *eq = memchr(seg, '=', n);
        size_t klen = eq ? (size_t)(eq - seg) : n;
        if (klen == 0)
            continue; /* "=x": no name, skipped (see query.h) */
        if (out->count == SL_QUERY_MAX_PARAMS)
            return ref_fail(err, SL_ERR_TOOBIG, start,
                        "more than %d parameters (the next starts at byte %zu)",
                        SL_QUERY_MAX_PARAMS, start);
        sl_query_param *p = &out->params[out->count];
        int rc = ref_decode_part(&c, seg, klen, NULL, &p->key);
        if (rc != 0)
            return rc;
        p->value = (sl_view){ p->key.ptr + p->key.len, 0 };
        p->has_equals = eq != NULL;
        p->offset = start;
        p->shadowed = false;
        if (eq) {
            rc = ref_decode_part(&c, eq + 1, n - klen - 1, &p->key, &p->value);
            if (rc != 0)
                return rc;
        }
        out->count++;
    }
    /* Last one wins: mark every earlier parameter with a repeated key. */
    for (size_t a = 0; a < out->count; a++)
        for (size_t b = a + 1; b < out->count; b++)
            if (sl_view_eq(out->params[a].key, out->params[b].key)) {
                out->params[a].shadowed = true;
                break;
            }
    return 0;
}

static bool ref_sl_query_get(const sl_query *q, const char *key, sl_view *value)
{
    sl_view k = sl_view_of(key);
    for (size_t i = q->count; i-- > 0;) {
        if (sl_view_eq(q->params[i].key, k)) {
            *value = q->params[i].value;
            return true;
        }
    }
    return false;
}

/* True when none of the eight bytes is '"', '\\', a control byte or >= 0x80. */
static inline bool ref_word_is_plain(uint64_t w)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    uint64_t control = (w - ones * 0x20) & ~w;
    uint64_t is_quote = (quote - ones) & ~quote, is_bslash = (bslash - ones) & ~bslash;
    return ((control | is_quote | is_bslash | w) & highs) == 0;
}

/* Append the separator sep (when not '\0') and v as a JSON string:
   printable ASCII is copied as is, the rest goes through
   sl_buf_append_json_string. */
static void ref_append_string(sl_buf *b, char sep, sl_view v)
{
    size_t i = 0;
    for (; i + 8 <= v.len; i += 8) {
        uint64_t w;
        memcpy(&w, v.ptr + i, 8);
        if (!ref_word_is_plain(w))
            break;
    }
    for (; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.ptr[i];
        if (ch < 0x20 || ch >= 0x80 || ch == '"' || ch == '\\')
            break;
    }
    if (i < v.len) {
        if (sep)
            sl_buf_append_char(b, sep);
        sl_buf_append_json_string(b, v.ptr, v.len);
        return;
    }
    sl_buf_reserve(b, v.len + 3);
    char *d = b->data + b->len;
    if (sep)
        *d++ = sep;
    d[0] = '"';
    memcpy(d + 1, v.ptr, v.len);
    d[v.len + 1] = '"';
    b->len = (size_t)(d + v.len + 2 - b->data);
    b->data[b->len] = '\0';
}

static void ref_sl_query_append_json(const sl_query *q, sl_buf *out, bool *comma)
{
    for (size_t i = 0; i < q->count; i++) {
        const sl_query_param *p = &q->params[i];
        if (p->shadowed)
            continue;
        ref_append_string(out, *comma ? ',' : '\0', p->key);
        ref_append_string(out, ':', p->value);
        *comma = true;
    }
}

static void ref_sl_query_split_target(sl_view target, sl_view *path, sl_view *query)
{
    size_t n = target.len;
    const char *hash = n ? memchr(target.ptr, '#', n) : NULL;
    if (hash)
        n = (size_t)(hash - target.ptr);
    const char *q = n ? memchr(target.ptr, '?', n) : NULL;
    if (!q) {
        *path = (sl_view){ target.ptr, n };
        *query = SL_VIEW_NULL;
        return;
    }
    *path = (sl_view){ target.ptr, (size_t)(q - target.ptr) };
    *query = (sl_view){ q + 1, n - (size_t)(q - target.ptr) - 1 };
}

static int ref_sl_query_scenario_id(sl_view path, int64_t *id, sl_query_error *err)
{
    char shown[160];
    ref_snippet(shown, sizeof shown, path.ptr ? path.ptr : "", path.len);
    if (path.len == 0 || path.ptr[0] != '/')
        return ref_fail(err, SL_ERR_PARSE, 0, "path '%s' does not start with '/'", shown);
    if (path.len == 1)
        return ref_fail(err, SL_ERR_PARSE, 1, "path '/' has no scenario id (expected /{scenario_id})");
    uint64_t v = 0;
    for (size_t i = 1; i < path.len; i++) {
        unsigned d = (unsigned char)path.ptr[i] - '0';
        if (d > 9)
            return ref_fail(err, SL_ERR_PARSE, i,
                        "path '%s': the scenario id must be decimal digits (byte %zu is not)",
                        shown, i);
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return ref_fail(err, SL_ERR_PARSE, i,
                        "path '%s': the scenario id is larger than %lld", shown,
                        (long long)INT64_MAX);
        v = v * 10 + d;
    }
    if (v == 0)
        return ref_fail(err, SL_ERR_PARSE, 1, "path '%s': the scenario id must be positive", shown);
    *id = (int64_t)v;
    return 0;
}

/* ---- JSON text ------------------------------------------------------------- */

/* True when none of the eight bytes is '"', '\\', a control byte or >= 0x80. */
static inline bool refp_word_is_plain(uint64_t w)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    uint64_t control = (w - ones * 0x20) & ~w;
    uint64_t is_quote = (quote - ones) & ~quote, is_bslash = (bslash - ones) & ~bslash;
    return ((control | is_quote | is_bslash | w) & highs) == 0;
}

static void refp_sl_pixel_append_json_text(sl_buf *out, sl_view text)
{
    const unsigned char *s = (const unsigned char *)text.ptr;
    size_t i = 0;
    /* The common case, printable ASCII, is one copy; checked 8 bytes at a time. */
    for (; i + 8 <= text.len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (!refp_word_is_plain(w))
            break;
    }
    while (i < text.len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
        i++;
    if (i == text.len) {
        sl_buf_reserve(out, text.len + 2);
        char *d = out->data + out->len;
        d[0] = '"';
        memcpy(d + 1, text.ptr, text.len);
        d[text.len + 1] = '"';
        out->len += text.len + 2;
        out->data[out->len] = '\0';
        return;
    }
    if (sl_utf8_check(text.ptr + i, text.len - i) == text.len - i) {
        sl_buf_append_json_string(out, text.ptr, text.len);
        return;
    }
    sl_buf clean = SL_BUF_INIT;
    sl_buf_reserve(&clean, text.len + 16);
    for (size_t k = 0; k < text.len;) {
        size_t n = sl_utf8_sequence(s + k, text.len - k);
        if (n == 0) {
            sl_buf_append(&clean, "\xEF\xBF\xBD", 3);
            k++;
        } else {
            sl_buf_append(&clean, s + k, n);
            k += n;
        }
    }
    sl_buf_append_json_string(out, clean.data, clean.len);
    sl_buf_free(&clean);
}

/* ---- the event --------------------------------------------------------------- */


static bool refp_is_reserved(sl_view key)
{
    switch (key.len) {
    case 2: return memcmp(key.ptr, "ip", 2) == 0 || memcmp(key.ptr, "ts", 2) == 0;
    case 7: return memcmp(key.ptr, "referer", 7) == 0;
    case 10: return memcmp(key.ptr, "user_agent", 10) == 0;
    case 11: return memcmp(key.ptr, "scenario_id", 11) == 0;
    default: return false;
    }
}

/* ,"name": then value as a JSON string; nothing when the value is absent. */
static void refp_append_member(sl_buf *out, const char *member, size_t member_len, sl_view value)
{
    if (!value.ptr)
        return;
    sl_buf_append(out, member, member_len);
    refp_sl_pixel_append_json_text(out, value);
}
#define refp_APPEND_MEMBER(out, lit, value) refp_append_member((out), (lit), sizeof(lit) - 1, (value))

/* ,"ts":"2025-06-18T03:50:10.123456Z"; the part up to the seconds is kept
   from the previous call, as consecutive events are mostly in one second. */
static void refp_append_ts(sl_pixel_builder *b, sl_buf *out, int64_t ts_us)
{
    int64_t sec = ts_us >= 0 ? ts_us / 1000000 : (ts_us - 999999) / 1000000;
    if (!b->iso_valid || sec != b->iso_sec) {
        char iso[40];
        sl_timestamp_format_iso(sec * 1000000, iso, sizeof iso);
        char *dot = strchr(iso, '.');
        b->iso_len = dot ? (size_t)(dot - iso) : strlen(iso);
        memcpy(b->iso, iso, b->iso_len);
        b->iso_sec = sec;
        b->iso_valid = true;
    }
    uint32_t frac = (uint32_t)(ts_us - sec * 1000000);
    sl_buf_reserve(out, b->iso_len + 20);
    char *d = out->data + out->len;
    memcpy(d, ",\"ts\":\"", 7);
    memcpy(d + 7, b->iso, b->iso_len);
    d += 7 + b->iso_len;
    *d++ = '.';
    for (int k = 5; k >= 0; k--, frac /= 10)
        d[k] = (char)('0' + frac % 10);
    d += 6;
    memcpy(d, "Z\"}", 3);
    out->len = (size_t)(d + 3 - out->data);
    out->data[out->len] = '\0';
}

static int refp_sl_pixel_event_build(sl_pixel_builder *b, const sl_pixel_hit *hit, sl_buf *out, sl_view *key,
                         sl_pixel_error *err)
{
    sl_query_error qerr = { 0 };
    int64_t sid = 0;
    *key = SL_VIEW_NULL;
    if (ref_sl_query_scenario_id(hit->path, &sid, &qerr) < 0) {
        err->reason = "bad_scenario_id";
        err->offset = qerr.offset;
        snprintf(err->message, sizeof err->message, "%s", qerr.message);
        return SL_ERR_PARSE;
    }
    b->query.count = 0;
    if (hit->query.len) {
        sl_buf_reset(&b->scratch);
        sl_buf_reserve(&b->scratch, hit->query.len + 1);
        int rc = ref_sl_query_parse(hit->query.ptr, hit->query.len, &b->query, b->scratch.data,
                                b->scratch.cap, &qerr);
        if (rc < 0) {
            err->reason = "bad_query";
            err->offset = qerr.offset;
            snprintf(err->message, sizeof err->message, "query: %s", qerr.message);
            return SL_ERR_PARSE;
        }
    }
    for (size_t i = 0; i < b->query.count; i++)
        if (!b->query.params[i].shadowed && refp_is_reserved(b->query.params[i].key))
            b->query.params[i].shadowed = true;

    char num[40] = "{\"scenario_id\":";
    size_t k = 15, digits = 0;
    char rev[20];
    for (uint64_t v = (uint64_t)sid; v; v /= 10)
        rev[digits++] = (char)('0' + v % 10);
    while (digits)
        num[k++] = rev[--digits];
    sl_buf_append(out, num, k);
    bool comma = true;
    ref_sl_query_append_json(&b->query, out, &comma);
    refp_APPEND_MEMBER(out, ",\"ip\":", hit->ip);
    refp_APPEND_MEMBER(out, ",\"user_agent\":", hit->user_agent);
    refp_APPEND_MEMBER(out, ",\"referer\":", hit->referer);
    refp_append_ts(b, out, hit->ts_us);

    sl_view member;
    if (ref_sl_query_get(&b->query, "memberId", &member))
        *key = member;
    return 0;
}


#pragma GCC diagnostic pop

#endif
