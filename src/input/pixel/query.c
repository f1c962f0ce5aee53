/*
 * query.c - decode the tracking pixel's query string (see query.h).
 *
 * One pass over the raw query finds the parameters ('&'-separated, the first
 * '=' splitting name from value). Each name and value is then decoded into
 * the scratch buffer in three steps that never make it longer:
 *
 *   raw       e_n=%5Cuace0+%ED%95%98\uD83D\uDE00
 *   1. %, +   e_n=\uace0 [ED 95 98]\uD83D\uDE00     %XX -> byte, '+' -> ' '
 *   2. UTF-8  checked on what step 1 gave
 *   3. \u     e_n=[EA B3 A0] [ED 95 98][F0 9F 98 80]  in place, left to right
 *                 U+ACE0      U+D558    U+1F600
 *
 * Step 3 can only replace six or twelve ASCII bytes with a complete UTF-8
 * character of at most four, so text valid after step 2 stays valid, and
 * writing in place never overtakes reading.
 *
 * Errors are rare, so their offsets are computed only then: an offset in
 * step 1's output is mapped back to the raw query by walking the raw text
 * again (a valid %XX is three raw bytes for one decoded byte).
 */
#include "input/pixel/query.h"
#include "core/utf8.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- errors ------------------------------------------------------------------ */

/* Up to 32 bytes, printable ASCII as is, the rest as \xHH. */
static void snippet(char *out, size_t cap, const char *p, size_t n)
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
static int fail(sl_query_error *err, int code, size_t offset, const char *fmt, ...)
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

/* Hex digit values plus one, 0 for any other byte: one load instead of
   branches. */
static const unsigned char hex_digits[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
    ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static inline int hex_value(unsigned char c)
{
    return (int)hex_digits[c] - 1;
}

/* Raw offset (from the part's start) of decoded offset d of step 1. */
static size_t raw_offset(const char *raw, size_t n, size_t d)
{
    size_t i = 0;
    for (size_t k = 0; k < d && i < n; k++)
        i += raw[i] == '%' ? 3 : 1;
    return i;
}



/* Four hex digits at s (n bytes available) as a code unit, or -1. */
static long hex4(const char *s, size_t n)
{
    if (n < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value((unsigned char)s[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

static size_t put_utf8(char *out, unsigned long cp)
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
static const char *param_label(char *out, size_t cap, const sl_view *key, const char *raw,
                               size_t n)
{
    char shown[100];
    if (key)
        snippet(shown, sizeof shown, key->ptr, key->len);
    else
        snippet(shown, sizeof shown, raw, n);
    snprintf(out, cap, "parameter %s'%s'", key ? "" : "name ", shown);
    return out;
}

/* ---- scanning ------------------------------------------------------------------ */

/*
 * The query is read once, sixteen bytes at a time where SSE2 is there
 * (eight without), into three masks per block: '&' and '=' (structure),
 * '%', '+', '\\' and bytes >= 0x80 (the part needs decoding), '"' and
 * bytes below 0x20 (the part needs JSON escaping; whether a backslash is
 * left to escape is only known once the part is decoded). Only the structure
 * bytes are visited one by one; for the stretch of a name or value
 * between them, the other two masks say at once whether it needs
 * decoding or escaping. The bulk of a query is never looked at one byte
 * at a time.
 */
/* Which bytes of a block matter, bit k for byte k, by kind. */
typedef struct block_masks {
    unsigned structure; /* '&' and '=' */
    unsigned decode;    /* '%', '+', '\\', >= 0x80 */
    unsigned escape;    /* '"', < 0x20 ('\\' is decoding's: see decode_part) */
} block_masks;

#if defined(__SSE2__)
#define BLOCK 16
static inline block_masks block_scan(const char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i bslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    __m128i st = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('&')),
                              _mm_cmpeq_epi8(v, _mm_set1_epi8('=')));
    __m128i dec = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('%')),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('+'))), bslash);
    /* Signed compare: below 0x20 or >= 0x80 (negative); the latter are
       taken out again with the sign bits. */
    __m128i low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
    __m128i esc = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    unsigned high = (unsigned)_mm_movemask_epi8(v);
    return (block_masks){ (unsigned)_mm_movemask_epi8(st),
                          (unsigned)_mm_movemask_epi8(dec) | high,
                          (unsigned)_mm_movemask_epi8(esc) |
                              ((unsigned)_mm_movemask_epi8(low) & ~high) };
}
#else
#define BLOCK 8
static inline block_masks block_scan(const char *p)
{
    block_masks m = { 0, 0, 0 };
    for (unsigned k = 0; k < BLOCK; k++) {
        unsigned char c = (unsigned char)p[k];
        m.structure |= (unsigned)(c == '&' || c == '=') << k;
        m.decode |= (unsigned)(c == '%' || c == '+' || c == '\\' || c >= 0x80) << k;
        m.escape |= (unsigned)(c == '"' || c < 0x20) << k;
    }
    return m;
}
#endif

/* Index of the first '%' or '+' in p[0, n), or n; bytes up to end (the end
   of the query) may be read past n. */
static size_t find_percent_or_plus(const char *p, size_t n, const char *end)
{
    size_t i = 0;
#if defined(__SSE2__)
    for (; i < n && end - (p + i) >= 16; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('%')), _mm_cmpeq_epi8(v, _mm_set1_epi8('+'))));
        if (m)
            return SL_MIN(n, i + (size_t)__builtin_ctz(m));
    }
    if (i >= n)
        return n;
#else
    SL_UNUSED(end);
#endif
    while (i < n && p[i] != '%' && p[i] != '+')
        i++;
    return i;
}

/* Whether a byte needs escaping in a JSON string. */
static inline bool json_special(unsigned char c)
{
    return c == '"' || c == '\\' || c < 0x20;
}

typedef struct decode_ctx {
    const char *query;       /* the whole raw query, for offsets */
    size_t len;
    char *scratch;
    size_t scratch_cap;
    size_t scratch_used;
    sl_query_error *err;
} decode_ctx;

/*
 * Decode raw part [raw, raw + n) (a name when key is NULL, else the value
 * of parameter *key), which has something to decode, into the scratch;
 * *out views the result. *escape is set when the result holds a byte JSON
 * must escape that decoding made or left (a %XX or \u byte, a backslash
 * that starts no \u); raw '"' and control bytes are the scan's business.
 */
static int decode_part(decode_ctx *c, const char *raw, size_t n, const sl_view *key,
                       sl_view *out, bool *escape)
{
    char label[160], bad[48];
    size_t base = (size_t)(raw - c->query);
#define LABEL param_label(label, sizeof label, key, raw, n)

    if (n > c->scratch_cap - c->scratch_used)
        return fail(c->err, SL_ERR_TOOBIG, base,
                    "no room to decode the query: the scratch buffer has %zu of the %zu bytes needed",
                    c->scratch_cap - c->scratch_used, n);
    char *dst = c->scratch + c->scratch_used;

    /* 1. '+' and %XX; the runs between them are copied whole. */
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (raw[i] != '%' && raw[i] != '+') {
            size_t k = i + find_percent_or_plus(raw + i, n - i, c->query + c->len);
            if (k - i < 16) {
                /* Short runs (between %XX of a URL) inline, not via memcpy. */
                while (i < k)
                    dst[o++] = raw[i++];
            } else {
                memcpy(dst + o, raw + i, k - i);
                o += k - i;
                i = k;
            }
            if (i == n)
                break;
        }
        if (raw[i] == '+') {
            dst[o++] = ' ';
            i++;
            continue;
        }
        int hi = i + 2 < n ? hex_value((unsigned char)raw[i + 1]) : -1;
        int lo = i + 2 < n ? hex_value((unsigned char)raw[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            snippet(bad, sizeof bad, raw + i, SL_MIN(n - i, (size_t)3));
            return fail(c->err, SL_ERR_PARSE, base + i,
                        "%s at byte %zu: broken %%-escape '%s' (expected two hex digits after '%%')",
                        LABEL, base + i, bad);
        }
        unsigned char b = (unsigned char)(hi << 4 | lo);
        *escape |= json_special(b);
        dst[o++] = (char)b;
        i += 3;
    }

    /* 2. UTF-8. */
    size_t at = sl_utf8_check(dst, o);
    if (at < o) {
        size_t r = base + raw_offset(raw, n, at);
        snippet(bad, sizeof bad, dst + at, SL_MIN(o - at, (size_t)4));
        return fail(c->err, SL_ERR_PARSE, r,
                    "%s at byte %zu: not valid UTF-8 after %%-decoding (bytes '%s')", LABEL, r, bad);
    }

    /* 3. \uXXXX, in place. Offsets in the raw part are only worked out for
       an error message. */
    char *bs = memchr(dst, '\\', o);
    if (bs) {
        size_t w = (size_t)(bs - dst), i = w;
        while (i < o) {
            if (dst[i] != '\\' || i + 1 >= o || dst[i + 1] != 'u') {
                dst[w++] = dst[i++];
                continue;
            }
            long u = hex4(dst + i + 2, o - i - 2);
            if (u < 0) {
                size_t r = base + raw_offset(raw, n, i);
                snippet(bad, sizeof bad, dst + i, SL_MIN(o - i, (size_t)6));
                return fail(c->err, SL_ERR_PARSE, r,
                            "%s at byte %zu: invalid \\u escape '%s' (expected four hex digits)",
                            LABEL, r, bad);
            }
            unsigned long cp = (unsigned long)u;
            size_t used = 6;
            if (u >= 0xDC00 && u <= 0xDFFF) {
                size_t r = base + raw_offset(raw, n, i);
                return fail(c->err, SL_ERR_PARSE, r,
                            "%s at byte %zu: lone low surrogate \\u%04lX (it must follow a high "
                            "surrogate \\uD800-\\uDBFF)", LABEL, r, (unsigned long)u);
            }
            if (u >= 0xD800 && u <= 0xDBFF) {
                long lo = -1;
                if (i + 7 < o && dst[i + 6] == '\\' && dst[i + 7] == 'u')
                    lo = hex4(dst + i + 8, o - i - 8);
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    size_t r = base + raw_offset(raw, n, i);
                    if (lo < 0)
                        return fail(c->err, SL_ERR_PARSE, r,
                                    "%s at byte %zu: lone high surrogate \\u%04lX (it must be "
                                    "followed by a low surrogate \\uDC00-\\uDFFF)",
                                    LABEL, r, (unsigned long)u);
                    return fail(c->err, SL_ERR_PARSE, r,
                                "%s at byte %zu: high surrogate \\u%04lX followed by \\u%04lX, "
                                "not by a low surrogate \\uDC00-\\uDFFF",
                                LABEL, r, (unsigned long)u, (unsigned long)lo);
                }
                cp = 0x10000 + (((unsigned long)u - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
                used = 12;
            }
            *escape |= cp < 0x80 && json_special((unsigned char)cp);
            w += put_utf8(dst + w, cp);
            i += used;
        }
        o = w;
        /* A backslash left as it was still needs escaping. */
        *escape |= memchr(dst, '\\', o) != NULL;
    }
    *out = (sl_view){ dst, o };
    c->scratch_used += o;
    return 0;
#undef LABEL
}

/* What the scan saw in one part of a parameter. */
enum { PART_DECODE = 1, PART_ESCAPE = 2 };

/* The parameter query[start, end) whose first '=' is at eq (or none:
   SIZE_MAX), with what the scan saw in its name and value, into out. */
static inline int add_param(decode_ctx *c, sl_query *out, size_t start, size_t end, size_t eq,
                     unsigned key_seen, unsigned value_seen)
{
    const char *q = c->query;
    size_t klen = (eq != SIZE_MAX ? eq : end) - start;
    if (klen == 0)
        return 0; /* "=x": no name, skipped (see query.h) */
    if (out->count == SL_QUERY_MAX_PARAMS)
        return fail(c->err, SL_ERR_TOOBIG, start,
                    "more than %d parameters (the next starts at byte %zu)",
                    SL_QUERY_MAX_PARAMS, start);
    sl_query_param *p = &out->params[out->count];
    bool escape = (key_seen | value_seen) & PART_ESCAPE;
    p->key = (sl_view){ q + start, klen };
    if (key_seen & PART_DECODE) {
        int rc = decode_part(c, q + start, klen, NULL, &p->key, &escape);
        if (rc != 0)
            return rc;
    }
    p->value = (sl_view){ p->key.ptr + p->key.len, 0 };
    p->has_equals = eq != SIZE_MAX;
    p->offset = start;
    p->shadowed = false;
    if (eq != SIZE_MAX) {
        p->value = (sl_view){ q + eq + 1, end - eq - 1 };
        if (value_seen & PART_DECODE) {
            int rc = decode_part(c, q + eq + 1, end - eq - 1, &p->key, &p->value, &escape);
            if (rc != 0)
                return rc;
        }
    }
    p->json_escape = escape;
    out->count++;
    return 0;
}

/* Two views of a key's bytes (first and last four, or three single bytes
   when shorter) in one word: keys of equal length up to eight bytes are
   equal exactly when their words are, longer ones only may be. */
static uint64_t key_word(sl_view k)
{
    const unsigned char *s = (const unsigned char *)k.ptr;
    if (k.len >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + k.len - 4, 4);
        return (uint64_t)a << 32 | b;
    }
    if (k.len == 0)
        return 0;
    return (uint64_t)s[0] << 16 | (uint64_t)s[k.len / 2] << 8 | s[k.len - 1];
}

/*
 * Last one wins: mark every earlier parameter with a repeated key. Walked
 * from the last parameter back, with a 64-bit set of the key words' hashes
 * seen so far: a key whose bit is not in it has no later twin, so the
 * pairwise comparison only runs on a (rare) hit, and compares lengths and
 * words before bytes.
 */
static void mark_shadowed(sl_query *q)
{
    uint64_t words[SL_QUERY_MAX_PARAMS];
    uint64_t later = 0;
    for (size_t a = q->count; a-- > 0;) {
        sl_view ka = q->params[a].key;
        words[a] = key_word(ka);
        unsigned bit = (unsigned)(((words[a] ^ ka.len) * UINT64_C(0x9E3779B97F4A7C15)) >> 58);
        if (later >> bit & 1) {
            for (size_t b = a + 1; b < q->count; b++) {
                sl_view kb = q->params[b].key;
                if (words[a] == words[b] && ka.len == kb.len &&
                    (ka.len <= 8 || memcmp(ka.ptr, kb.ptr, ka.len) == 0)) {
                    q->params[a].shadowed = true;
                    break;
                }
            }
        }
        later |= UINT64_C(1) << bit;
    }
}

/* Masks of a stretch of up to 64 bytes: bit k for byte k. */
typedef struct span_masks {
    uint64_t structure, decode, escape;
} span_masks;

/* The masks of p[0, n), n <= 64; a short stretch goes through a
   zero-padded copy, and bits past n are cleared. */
static span_masks span_scan(const char *p, size_t n)
{
    char padded[64];
    if (n < 64) {
        memset(padded, 0, sizeof padded);
        memcpy(padded, p, n);
        p = padded;
    }
    span_masks m = { 0, 0, 0 };
    for (unsigned k = 0; k < 64; k += BLOCK) {
        block_masks b = block_scan(p + k);
        m.structure |= (uint64_t)b.structure << k;
        m.decode |= (uint64_t)b.decode << k;
        m.escape |= (uint64_t)b.escape << k;
    }
    if (n < 64) {
        uint64_t valid = (UINT64_C(1) << n) - 1;
        m.structure &= valid;
        m.decode &= valid;
        m.escape &= valid;
    }
    return m;
}

/* PART_* for the bytes of m selected by bits. */
static inline unsigned seen_in(const span_masks *m, uint64_t bits)
{
    return (m->decode & bits ? PART_DECODE : 0) | (m->escape & bits ? PART_ESCAPE : 0);
}

int sl_query_parse(const char *query, size_t len, sl_query *out, char *scratch,
                   size_t scratch_cap, sl_query_error *err)
{
    out->count = 0;
    decode_ctx c = { query, len, scratch, scratch ? scratch_cap : 0, 0, err };
    size_t i = len > 0 && query[0] == '?' ? 1 : 0;
    /* The parameter begun at start, its first '=' (SIZE_MAX until one is
       seen), what was seen in its name (once the '=' is there) and in the
       part being read. */
    size_t start = i, eq = SIZE_MAX;
    unsigned key_seen = 0, cur = 0;
    int rc;
    for (; i < len; i += 64) {
        span_masks m = span_scan(query + i, SL_MIN(len - i, (size_t)64));
        uint64_t rest = ~UINT64_C(0); /* bits not yet given to a part */
        for (uint64_t st = m.structure; st; st &= st - 1) {
            unsigned k = (unsigned)__builtin_ctzll(st);
            uint64_t upto = (UINT64_C(2) << k) - 1; /* bits 0..k; 0 - 1 for k = 63 */
            cur |= seen_in(&m, rest & upto);
            rest &= ~upto;
            size_t at = i + k;
            if (query[at] == '&') {
                rc = eq == SIZE_MAX ? add_param(&c, out, start, at, eq, cur, 0)
                                    : add_param(&c, out, start, at, eq, key_seen, cur);
                if (rc != 0)
                    return rc;
                start = at + 1;
                eq = SIZE_MAX;
                key_seen = cur = 0;
            } else if (eq == SIZE_MAX) {
                eq = at;
                key_seen = cur;
                cur = 0;
            }
        }
        cur |= seen_in(&m, rest);
    }
    if (start < len) {
        rc = eq == SIZE_MAX ? add_param(&c, out, start, len, eq, cur, 0)
                            : add_param(&c, out, start, len, eq, key_seen, cur);
        if (rc != 0)
            return rc;
    }
    mark_shadowed(out);
    return 0;
}

bool sl_query_get(const sl_query *q, const char *key, sl_view *value)
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

/* Whether a byte in p[0, n) needs escaping in a JSON string. */
static bool has_json_special(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (json_special((unsigned char)p[i]))
            return true;
    return false;
}

/* Append v, valid UTF-8 with nothing to escape, as a JSON string after
   sep (when not '\0'). */
static void append_plain(sl_buf *b, char sep, sl_view v)
{
    if (b->cap - b->len < v.len + 4)
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

/* Append sep (when not '\0') and v, valid UTF-8, as a JSON string. */
static void append_string(sl_buf *b, char sep, sl_view v)
{
    if (!has_json_special(v.ptr, v.len)) {
        append_plain(b, sep, v);
        return;
    }
    if (sep)
        sl_buf_append_char(b, sep);
    sl_buf_append_json_string(b, v.ptr, v.len);
}

void sl_query_append_json_utf8(sl_buf *out, sl_view text)
{
    append_string(out, '\0', text);
}

/*
 * Copy n bytes; names and values are mostly a few bytes long, where a call
 * to memcpy costs more than the copy. Up to 16 bytes take two loads and
 * two stores that may overlap (never a byte outside either range).
 */
static inline char *copy_short(char *d, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    } else {
        memcpy(d, s, n);
    }
    return d + n;
}

void sl_query_append_json(const sl_query *q, sl_buf *out, bool *comma)
{
    for (size_t i = 0; i < q->count; i++) {
        const sl_query_param *p = &q->params[i];
        if (p->shadowed)
            continue;
        if (!p->json_escape) {
            /* ,"key":"value" in one reservation and two copies. */
            size_t need = p->key.len + p->value.len + 6;
            if (out->cap - out->len < need + 1)
                sl_buf_reserve(out, need);
            char *d = out->data + out->len;
            if (*comma)
                *d++ = ',';
            *d++ = '"';
            d = copy_short(d, p->key.ptr, p->key.len);
            memcpy(d, "\":\"", 3);
            d += 3;
            d = copy_short(d, p->value.ptr, p->value.len);
            *d++ = '"';
            *d = '\0';
            out->len = (size_t)(d - out->data);
        } else {
            append_string(out, *comma ? ',' : '\0', p->key);
            append_string(out, ':', p->value);
        }
        *comma = true;
    }
}

void sl_query_split_target(sl_view target, sl_view *path, sl_view *query)
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

int sl_query_scenario_id(sl_view path, int64_t *id, sl_query_error *err)
{
    char shown[160];
#define SHOWN (snippet(shown, sizeof shown, path.ptr ? path.ptr : "", path.len), shown)
    if (path.len == 0 || path.ptr[0] != '/')
        return fail(err, SL_ERR_PARSE, 0, "path '%s' does not start with '/'", SHOWN);
    if (path.len == 1)
        return fail(err, SL_ERR_PARSE, 1, "path '/' has no scenario id (expected /{scenario_id})");
    uint64_t v = 0;
    for (size_t i = 1; i < path.len; i++) {
        unsigned d = (unsigned char)path.ptr[i] - '0';
        if (d > 9)
            return fail(err, SL_ERR_PARSE, i,
                        "path '%s': the scenario id must be decimal digits (byte %zu is not)",
                        SHOWN, i);
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return fail(err, SL_ERR_PARSE, i,
                        "path '%s': the scenario id is larger than %lld", SHOWN,
                        (long long)INT64_MAX);
        v = v * 10 + d;
    }
    if (v == 0)
        return fail(err, SL_ERR_PARSE, 1, "path '%s': the scenario id must be positive", SHOWN);
    *id = (int64_t)v;
    return 0;
#undef SHOWN
}
