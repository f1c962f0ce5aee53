/*
 * json.c - the in-place JSON scanner (see json.h).
 *
 * Validation is a single pass over the bytes driven by a small state
 * machine (value / key / after-value) instead of recursion: each open
 * container pushes one bit (object or array) onto a fixed bit stack, so a
 * 10,000-deep "[[[[" costs no C stack and is refused by one comparison.
 *
 * Almost all of an event's bytes sit inside strings, so that is where the
 * time goes. A string body is scanned 16 bytes at a time (SSE2) for the only
 * bytes that need a closer look: the closing quote, a backslash, a control
 * character or a byte >= 0x80. One signed compare catches the last two at
 * once (as signed chars they are all < 0x20). UTF-8 is then checked against
 * Table 3-7 of the Unicode standard (well-formed byte sequences), which
 * rules out overlongs, encoded surrogates and code points past U+10FFFF.
 *
 * The access functions trust that the text was validated: they find the
 * end of a value by skipping strings and counting brackets, never re-check
 * grammar, and are only careful never to step outside the view they got.
 */
#include "core/json.h"
#include "core/alloc.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define JSON_SSE2 1
#endif

/*
 * The bit stack bounds how large max_depth may be: 4096 levels cost 512
 * bytes of stack. Larger requests are clamped; nothing legitimate nests
 * that deep (jansson itself stops at 2048).
 */
#define DEPTH_LIMIT 4096

/* 256-entry tables built from a predicate, so no entry is written twice. */
#define T4(f, b)   f((b)), f((b) + 1), f((b) + 2), f((b) + 3)
#define T16(f, b)  T4(f, b), T4(f, (b) + 4), T4(f, (b) + 8), T4(f, (b) + 12)
#define T64(f, b)  T16(f, b), T16(f, (b) + 16), T16(f, (b) + 32), T16(f, (b) + 48)
#define T256(f)    T64(f, 0), T64(f, 64), T64(f, 128), T64(f, 192)

#define IS_WS(c)    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')
/* String bytes that need no attention: printable ASCII except '"' and '\'. */
#define IS_PLAIN(c) ((c) >= 0x20 && (c) < 0x80 && (c) != '"' && (c) != '\\')
#define HEXVAL(c)   ((c) >= '0' && (c) <= '9' ? (c) - '0'              \
                     : (c) >= 'a' && (c) <= 'f' ? (c) - 'a' + 10       \
                     : (c) >= 'A' && (c) <= 'F' ? (c) - 'A' + 10 : -1)
/* Bytes that end a scalar (number or literal) in validated text. */
#define ENDS_SCALAR(c) (IS_WS(c) || (c) == ',' || (c) == '}' || (c) == ']')

static const uint8_t ws_table[256]       = { T256(IS_WS) };
static const uint8_t plain_table[256]    = { T256(IS_PLAIN) };
static const int8_t  hex_table[256]      = { T256(HEXVAL) };
static const uint8_t scalar_end[256]     = { T256(ENDS_SCALAR) };

static inline bool is_digit(uint8_t c)
{
    return (unsigned)(c - '0') < 10;
}

/* ---- errors ------------------------------------------------------------ */

__attribute__((cold, format(printf, 3, 4)))
static int fail(sl_json_error *err, size_t offset, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->offset = offset;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return SL_ERR_PARSE;
}

/* "unexpected character 'x'", or the byte in hex when it is not printable. */
__attribute__((cold))
static int fail_unexpected(sl_json_error *err, size_t offset, uint8_t c)
{
    if (c > 0x20 && c < 0x7f)
        return fail(err, offset, "unexpected character '%c'", c);
    return fail(err, offset, "unexpected byte 0x%02x", c);
}

/* ---- validation ---------------------------------------------------------- */

static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
    /* Compact JSON has no whitespace between tokens: test once, leave. */
    if (p < end && *p > ' ')
        return p;
    while (p < end && ws_table[*p])
        p++;
    return p;
}

/*
 * One UTF-8 sequence starting at p (p[0] >= 0x80). Returns the byte after
 * it, or NULL with *err filled; the offset is that of the lead byte.
 */
static const uint8_t *scan_utf8(const uint8_t *base, const uint8_t *p,
                                const uint8_t *end, sl_json_error *err)
{
    uint8_t c = p[0];
    uint8_t lo = 0x80, hi = 0xbf;  /* allowed range of the second byte */
    int need;
    const char *why_lo = "overlong encoding", *why_hi = NULL;

    if (c < 0xc2) {
        fail(err, (size_t)(p - base), c < 0xc0
             ? "invalid UTF-8 in string: unexpected continuation byte 0x%02x"
             : "invalid UTF-8 in string: overlong encoding (0x%02x)", c);
        return NULL;
    }
    if (c < 0xe0) {
        need = 1;
    } else if (c < 0xf0) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed) {
            hi = 0x9f;
            why_hi = "UTF-16 surrogate encoded in UTF-8";
        }
    } else if (c < 0xf5) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4) {
            hi = 0x8f;
            why_hi = "code point above U+10FFFF";
        }
    } else {
        fail(err, (size_t)(p - base), c < 0xf8
             ? "invalid UTF-8 in string: code point above U+10FFFF"
             : "invalid UTF-8 in string: invalid byte 0x%02x", c);
        return NULL;
    }
    if (end - p <= need) {
        fail(err, (size_t)(p - base), "invalid UTF-8 in string: truncated sequence");
        return NULL;
    }
    for (int i = 1; i <= need; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            fail(err, (size_t)(p - base), "invalid UTF-8 in string: truncated sequence");
            return NULL;
        }
    }
    if (p[1] < lo || p[1] > hi) {
        fail(err, (size_t)(p - base), "invalid UTF-8 in string: %s",
             p[1] < lo ? why_lo : why_hi);
        return NULL;
    }
    return p + need + 1;
}

/* Four hex digits at p, or -1 when they are missing or not hex. */
static inline int hex4(const uint8_t *p, const uint8_t *end)
{
    if (end - p < 4)
        return -1;
    int a = hex_table[p[0]], b = hex_table[p[1]], c = hex_table[p[2]], d = hex_table[p[3]];
    if ((a | b | c | d) < 0)
        return -1;
    return a << 12 | b << 8 | c << 4 | d;
}

/* An escape at p (p[0] == '\'); returns the byte after it. */
static const uint8_t *scan_escape(const uint8_t *base, const uint8_t *p,
                                  const uint8_t *end, const uint8_t *start,
                                  sl_json_error *err)
{
    size_t off = (size_t)(p - base);
    if (end - p < 2) {
        fail(err, (size_t)(end - base), "unterminated string starting at offset %zu",
             (size_t)(start - base));
        return NULL;
    }
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u': {
        int cp = hex4(p + 2, end);
        if (cp < 0) {
            fail(err, off, "invalid \\u escape in string: expected 4 hex digits");
            return NULL;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            /* A high surrogate only means something with a low one after it. */
            if (end - p >= 12 && p[6] == '\\' && p[7] == 'u') {
                int low = hex4(p + 8, end);
                if (low < 0) {
                    fail(err, off + 6, "invalid \\u escape in string: expected 4 hex digits");
                    return NULL;
                }
                if (low >= 0xdc00 && low <= 0xdfff)
                    return p + 12;
            }
            fail(err, off, "unpaired high surrogate \\u%04X in string", (unsigned)cp);
            return NULL;
        }
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            fail(err, off, "unpaired low surrogate \\u%04X in string", (unsigned)cp);
            return NULL;
        }
        return p + 6;
    }
    default:
        if (p[1] > 0x20 && p[1] < 0x7f)
            fail(err, off, "invalid escape '\\%c' in string", p[1]);
        else
            fail(err, off, "invalid escape in string (byte 0x%02x after '\\')", p[1]);
        return NULL;
    }
}

/* A string at p (p[0] == '"'); returns the byte after its closing quote. */
static const uint8_t *scan_string(const uint8_t *base, const uint8_t *p,
                                  const uint8_t *end, sl_json_error *err)
{
    const uint8_t *start = p++;

    for (;;) {
#ifdef JSON_SSE2
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i bslash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20);
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                  _mm_cmpeq_epi8(v, bslash)),
                                     _mm_cmplt_epi8(v, space));
            unsigned bits = (unsigned)_mm_movemask_epi8(m);
            if (bits) {
                p += __builtin_ctz(bits);
                goto special;
            }
            p += 16;
        }
#endif
        while (p < end && plain_table[*p])
            p++;
        if (p == end) {
            fail(err, (size_t)(end - base), "unterminated string starting at offset %zu",
                 (size_t)(start - base));
            return NULL;
        }
#ifdef JSON_SSE2
    special:
#endif
        if (*p == '"')
            return p + 1;
        if (*p == '\\') {
            p = scan_escape(base, p, end, start, err);
            if (!p)
                return NULL;
            continue;
        }
        if (*p < 0x20) {
            fail(err, (size_t)(p - base),
                 "unescaped control character 0x%02x in string", *p);
            return NULL;
        }
        /* Non-ASCII text tends to come in runs: stay here while it lasts. */
        do {
            p = scan_utf8(base, p, end, err);
            if (!p)
                return NULL;
        } while (p < end && *p >= 0x80);
    }
}

/* A number at p (p[0] is '-' or a digit); RFC 8259 section 6. */
static const uint8_t *scan_number(const uint8_t *base, const uint8_t *p,
                                  const uint8_t *end, sl_json_error *err)
{
    if (*p == '-')
        p++;
    if (p == end || !is_digit(*p)) {
        fail(err, (size_t)(p - base), "invalid number: expected a digit");
        return NULL;
    }
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p)) {
            fail(err, (size_t)(p - base), "invalid number: leading zero");
            return NULL;
        }
    } else {
        do
            p++;
        while (p < end && is_digit(*p));
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p)) {
            fail(err, (size_t)(p - base), "invalid number: expected a digit after '.'");
            return NULL;
        }
        do
            p++;
        while (p < end && is_digit(*p));
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p)) {
            fail(err, (size_t)(p - base), "invalid number: expected a digit in the exponent");
            return NULL;
        }
        do
            p++;
        while (p < end && is_digit(*p));
    }
    return p;
}

static int fail_literal(sl_json_error *err, size_t offset, const char *word)
{
    return fail(err, offset, "invalid literal, expected '%s'", word);
}

int sl_json_validate(const char *text, size_t len, int max_depth, size_t *end_out,
                     sl_json_error *err)
{
    static const uint8_t empty[1];
    const uint8_t *base = text ? (const uint8_t *)text : empty;
    const uint8_t *p = base, *end = base + (text ? len : 0);
    uint64_t kinds[DEPTH_LIMIT / 64]; /* bit set = object, clear = array */
    int depth = 0;
    bool in_object = false;           /* kind of the innermost container */

    if (max_depth <= 0)
        max_depth = SL_JSON_DEFAULT_MAX_DEPTH;
    if (max_depth > DEPTH_LIMIT)
        max_depth = DEPTH_LIMIT;

value:
    p = skip_ws(p, end);
    if (p == end)
        return fail(err, (size_t)(p - base), "unexpected end of input, expected a value");
    switch (*p) {
    case '"':
        p = scan_string(base, p, end, err);
        if (!p)
            return SL_ERR_PARSE;
        goto after_value;
    case '{':
    case '[':
        if (depth >= max_depth)
            return fail(err, (size_t)(p - base), "nesting deeper than %d levels", max_depth);
        in_object = *p == '{';
        if (in_object)
            kinds[depth >> 6] |= UINT64_C(1) << (depth & 63);
        else
            kinds[depth >> 6] &= ~(UINT64_C(1) << (depth & 63));
        depth++;
        p = skip_ws(p + 1, end);
        if (p < end && *p == (in_object ? '}' : ']')) {
            p++;
            goto close;
        }
        if (in_object)
            goto key;
        goto value;
    case 't':
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            p += 4;
            goto after_value;
        }
        return fail_literal(err, (size_t)(p - base), "true");
    case 'f':
        if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            p += 5;
            goto after_value;
        }
        return fail_literal(err, (size_t)(p - base), "false");
    case 'n':
        if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            p += 4;
            goto after_value;
        }
        return fail_literal(err, (size_t)(p - base), "null");
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        p = scan_number(base, p, end, err);
        if (!p)
            return SL_ERR_PARSE;
        goto after_value;
    default:
        return fail_unexpected(err, (size_t)(p - base), *p);
    }

close: /* p is just past a closing bracket */
    depth--;
    if (depth > 0)
        in_object = (kinds[(depth - 1) >> 6] >> ((depth - 1) & 63)) & 1;
after_value:
    if (depth == 0) {
        if (end_out)
            *end_out = (size_t)(p - base);
        return 0;
    }
    p = skip_ws(p, end);
    if (p == end)
        return fail(err, (size_t)(p - base), in_object
                    ? "unexpected end of input, expected ',' or '}' in object"
                    : "unexpected end of input, expected ',' or ']' in array");
    if (*p == ',') {
        p++;
        if (!in_object)
            goto value;
        p = skip_ws(p, end);
        goto key;
    }
    if (*p == (in_object ? '}' : ']')) {
        p++;
        goto close;
    }
    return fail(err, (size_t)(p - base), in_object ? "expected ',' or '}' in object"
                                                   : "expected ',' or ']' in array");

key: /* p is at the first non-blank byte where a member must start */
    if (p == end)
        return fail(err, (size_t)(p - base), "unexpected end of input, expected a key in object");
    if (*p != '"')
        return fail(err, (size_t)(p - base), "expected a string key in object");
    p = scan_string(base, p, end, err);
    if (!p)
        return SL_ERR_PARSE;
    p = skip_ws(p, end);
    if (p == end || *p != ':')
        return fail(err, (size_t)(p - base), "expected ':' after object key");
    p++;
    goto value;
}

size_t sl_json_skip_ws(const char *text, size_t len, size_t offset)
{
    if (!text || offset >= len)
        return offset;
    const uint8_t *base = (const uint8_t *)text;
    return (size_t)(skip_ws(base + offset, base + len) - base);
}

/* ---- walking validated text ---------------------------------------------- */

static inline const char *ws_c(const char *p, const char *end)
{
    return (const char *)skip_ws((const uint8_t *)p, (const uint8_t *)end);
}

/*
 * From just past an opening quote, the closing quote (or NULL when the view
 * ends first). Escapes are stepped over as pairs, which is enough in
 * validated text: the four digits of a \u escape are plain bytes.
 */
static inline __attribute__((always_inline))
const char *string_close(const char *p, const char *end)
{
#ifdef JSON_SSE2
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned bits = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
        if (!bits) {
            p += 16;
            continue;
        }
        p += __builtin_ctz(bits);
        if (*p == '"')
            return p;
        if (end - p < 2)
            return NULL;
        p += 2;
    }
#endif
    while (p < end) {
        if (*p == '"')
            return p;
        if (*p == '\\') {
            if (end - p < 2)
                return NULL;
            p += 2;
        } else {
            p++;
        }
    }
    return NULL;
}

/* Where the interesting bytes of 64 bytes of text are, one bit per byte. */
typedef struct block_masks {
    uint64_t quote, backslash, open, close;
} block_masks;

static inline void classify64(const char *p, block_masks *m)
{
#ifdef JSON_SSE2
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    /* '[' '{' are 0x5b 0x7b and ']' '}' 0x5d 0x7d: clearing bit 5 folds each pair. */
    const __m128i fold = _mm_set1_epi8((char)0xdf);
    const __m128i open = _mm_set1_epi8(0x5b);
    const __m128i close = _mm_set1_epi8(0x5d);
    *m = (block_masks){ 0 };
    for (int i = 0; i < 4; i++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
        __m128i f = _mm_and_si128(v, fold);
        int shift = 16 * i;
        m->quote |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) << shift;
        m->backslash |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, bslash)) << shift;
        m->open |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(f, open)) << shift;
        m->close |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(f, close)) << shift;
    }
#else
    *m = (block_masks){ 0 };
    for (int i = 0; i < 64; i++) {
        uint64_t bit = UINT64_C(1) << i;
        switch (p[i]) {
        case '"': m->quote |= bit; break;
        case '\\': m->backslash |= bit; break;
        case '[': case '{': m->open |= bit; break;
        case ']': case '}': m->close |= bit; break;
        }
    }
#endif
}

static inline unsigned popcount64(uint64_t x)
{
    /* Baseline x86-64 has no popcnt instruction; this is a dozen ALU ops. */
    x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (unsigned)((x * UINT64_C(0x0101010101010101)) >> 56);
}

/* Bit i of the result is the XOR of bits 0..i: set from an opening quote up to its closing one. */
static inline uint64_t prefix_xor64(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/*
 * From just past the opening bracket of a container, the byte after its
 * closing bracket (NULL if the view ends first). This is what lookups
 * spend their time on: sl_json_get steps over every member it does not
 * want, nested objects included.
 *
 * 64 bytes are classified at a time. A backslash escapes the byte after
 * it; in validated text backslashes only occur inside strings, so walking
 * the (rare) backslash bits in order yields the escaped bytes, and the
 * quotes left over delimit strings: their prefix XOR, carried from the
 * window before, marks the bytes inside strings. Brackets outside strings
 * then move the depth by popcounts, and only a window that may close the
 * container is walked bit by bit. The last, partial window is read as the
 * 64 bytes that end at the view's end when they all lie at or after lo
 * (bytes known to be readable), with the bits shifted into place, and
 * otherwise copied into a zeroed buffer: nothing outside the view is read.
 */
static const char *container_end(const char *lo, const char *p, const char *end)
{
    size_t depth = 1;
    uint64_t in_string = 0;     /* all ones while inside a string */
    uint64_t first_escaped = 0; /* the window before ended with an escaping backslash */
    char tail[64];

    while (p < end) {
        size_t n = (size_t)(end - p) < 64 ? (size_t)(end - p) : 64;
        block_masks m;
        if (n == 64) {
            classify64(p, &m);
        } else if (end - lo >= 64) {
            classify64(end - 64, &m);
            unsigned shift = (unsigned)(64 - n);
            m.quote >>= shift;
            m.backslash >>= shift;
            m.open >>= shift;
            m.close >>= shift;
        } else {
            memset(tail, 0, sizeof tail);
            memcpy(tail, p, n);
            classify64(tail, &m);
        }

        uint64_t escaped = first_escaped;
        uint64_t bs = m.backslash & ~first_escaped;
        first_escaped = 0;
        while (bs) {
            int i = __builtin_ctzll(bs);
            if (i == 63) {
                first_escaped = 1;
                break;
            }
            escaped |= UINT64_C(2) << i;
            bs &= ~(UINT64_C(3) << i); /* the escaped byte escapes nothing */
        }

        uint64_t inside = prefix_xor64(m.quote & ~escaped) ^ in_string;
        in_string = (uint64_t)0 - (inside >> 63);
        uint64_t open = m.open & ~inside, close = m.close & ~inside;
        if (close && popcount64(close) >= depth) {
            for (uint64_t all = open | close; all; all &= all - 1) {
                int i = __builtin_ctzll(all);
                if (open >> i & 1)
                    depth++;
                else if (--depth == 0)
                    return p + i + 1;
            }
        } else {
            depth = depth + popcount64(open) - popcount64(close);
        }
        p += n;
    }
    return NULL;
}

/* From the first byte of a value, the byte after it (NULL if cut short). */
static inline __attribute__((always_inline))
const char *value_end(const char *p, const char *end)
{
    switch (*p) {
    case '"':
        p = string_close(p + 1, end);
        return p ? p + 1 : NULL;
    case '{':
    case '[':
        return container_end(p, p + 1, end);
    default: {
        const uint8_t *u = (const uint8_t *)p;
        while (u < (const uint8_t *)end && !scalar_end[*u])
            u++;
        return (const char *)u;
    }
    }
}

sl_json_type sl_json_type_of(sl_view value)
{
    if (!value.ptr)
        return SL_JSON_INVALID;
    const char *p = ws_c(value.ptr, value.ptr + value.len);
    if (p == value.ptr + value.len)
        return SL_JSON_INVALID;
    switch (*p) {
    case '{': return SL_JSON_OBJECT;
    case '[': return SL_JSON_ARRAY;
    case '"': return SL_JSON_STRING;
    case 't': return SL_JSON_TRUE;
    case 'f': return SL_JSON_FALSE;
    case 'n': return SL_JSON_NULL;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return SL_JSON_NUMBER;
    default:
        return SL_JSON_INVALID;
    }
}

const char *sl_json_type_name(sl_json_type t)
{
    switch (t) {
    case SL_JSON_NULL:   return "null";
    case SL_JSON_FALSE:
    case SL_JSON_TRUE:   return "boolean";
    case SL_JSON_NUMBER: return "number";
    case SL_JSON_STRING: return "string";
    case SL_JSON_ARRAY:  return "array";
    case SL_JSON_OBJECT: return "object";
    default:             return "invalid";
    }
}

void sl_json_iter_init(sl_json_iter *it, sl_view container)
{
    const char *end = container.ptr ? container.ptr + container.len : NULL;
    const char *p = container.ptr ? ws_c(container.ptr, end) : NULL;
    if (p && p < end && (*p == '{' || *p == '[')) {
        it->p = p + 1;
        it->end = end;
    } else {
        /* Not a container: an iterator that is already exhausted. */
        it->p = it->end = end;
    }
}

/* Step over blanks and one separating comma; NULL at the closing bracket. */
static inline const char *member_start(sl_json_iter *it)
{
    const char *p = ws_c(it->p, it->end);
    if (p < it->end && *p == ',')
        p = ws_c(p + 1, it->end);
    if (p >= it->end || *p == '}' || *p == ']') {
        it->p = it->end;
        return NULL;
    }
    return p;
}

bool sl_json_object_next(sl_json_iter *it, sl_view *key, sl_view *value)
{
    if (!it->p)
        return false;
    const char *p = member_start(it);
    if (!p || *p != '"')
        goto done;
    const char *k = p + 1;
    const char *q = string_close(k, it->end);
    if (!q)
        goto done;
    p = ws_c(q + 1, it->end);
    if (p >= it->end || *p != ':')
        goto done;
    p = ws_c(p + 1, it->end);
    if (p >= it->end)
        goto done;
    const char *v = value_end(p, it->end);
    if (!v)
        goto done;
    if (key)
        *key = (sl_view){ k, (size_t)(q - k) };
    if (value)
        *value = (sl_view){ p, (size_t)(v - p) };
    it->p = v;
    return true;
done:
    it->p = it->end;
    return false;
}

bool sl_json_array_next(sl_json_iter *it, sl_view *value)
{
    if (!it->p)
        return false;
    const char *p = member_start(it);
    if (!p)
        return false;
    const char *v = value_end(p, it->end);
    if (!v) {
        it->p = it->end;
        return false;
    }
    if (value)
        *value = (sl_view){ p, (size_t)(v - p) };
    it->p = v;
    return true;
}

static inline int utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Decode the escape at p (p[0] == '\') into out; returns the number of
 * bytes written (1-4) and advances *pp, or -1 when the escape is malformed.
 */
static int decode_escape(const char **pp, const char *end, char out[4])
{
    const uint8_t *p = (const uint8_t *)*pp, *e = (const uint8_t *)end;
    if (e - p < 2)
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
        int cp = hex4(p + 2, e);
        if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
            return -1;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (e - p < 12 || p[6] != '\\' || p[7] != 'u')
                return -1;
            int low = hex4(p + 8, e);
            if (low < 0xdc00 || low > 0xdfff)
                return -1;
            *pp += 12;
            return utf8_encode(0x10000 + ((uint32_t)(cp - 0xd800) << 10) +
                               (uint32_t)(low - 0xdc00), out);
        }
        *pp += 6;
        return utf8_encode((uint32_t)cp, out);
    }
    default:
        return -1;
    }
    out[0] = c;
    *pp += 2;
    return 1;
}

/* Compare an escaped raw key with a name, decoding as it goes. */
static bool key_eq_escaped(sl_view raw, const char *name, size_t name_len)
{
    const char *p = raw.ptr, *end = raw.ptr + raw.len;
    size_t i = 0;
    while (p < end) {
        if (*p != '\\') {
            if (i >= name_len || name[i] != *p)
                return false;
            i++;
            p++;
            continue;
        }
        char u[4];
        int n = decode_escape(&p, end, u);
        if (n < 0 || name_len - i < (size_t)n || memcmp(name + i, u, (size_t)n) != 0)
            return false;
        i += (size_t)n;
    }
    return i == name_len;
}

bool sl_json_key_eq(sl_view raw_key, const char *name, size_t name_len)
{
    /*
     * Escapes only ever shrink a key: a raw key as long as the name matches
     * only byte for byte and without escapes, a shorter one never does, and
     * a longer one must be decoded as it is compared (which also gives up
     * at the first differing byte, so non-matching keys cost little).
     */
    if (raw_key.len == name_len)
        return memcmp(raw_key.ptr, name, name_len) == 0 &&
               !memchr(raw_key.ptr, '\\', raw_key.len);
    if (raw_key.len < name_len)
        return false;
    return key_eq_escaped(raw_key, name, name_len);
}

/*
 * Lookups step over every member of an object, and most members are two
 * short strings. Finding each closing quote with its own 16-byte load puts
 * a load, a compare and a bit scan in a row per string, each waiting for
 * the one before. A window instead classifies 64 bytes at once (four
 * independent loads) into a mask of quotes and backslashes, and the
 * strings inside it are then found with shifts and bit scans on a register.
 */
typedef struct quote_window {
    const char *base;
    uint64_t mask; /* bit i: base[i] is '"' or '\' */
    size_t len;    /* bytes covered, at most 64 */
} quote_window;

static inline void quote_window_fill(quote_window *w, const char *p, const char *end)
{
    w->base = p;
    w->len = end - p < 64 ? (size_t)(end - p) : 64;
#ifdef JSON_SSE2
    if (w->len == 64) {
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i bslash = _mm_set1_epi8('\\');
        uint64_t m = 0;
        for (int i = 0; i < 4; i++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
            uint64_t b = (uint64_t)(unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
            m |= b << (16 * i);
        }
        w->mask = m;
        return;
    }
#endif
    uint64_t m = 0;
    for (size_t i = 0; i < w->len; i++)
        if (p[i] == '"' || p[i] == '\\')
            m |= UINT64_C(1) << i;
    w->mask = m;
}

/* The first quote or backslash at or after p (p never moves backwards). */
static inline const char *quote_window_next(quote_window *w, const char *p, const char *end)
{
    for (;;) {
        size_t off = (size_t)(p - w->base);
        if (off < w->len) {
            uint64_t m = w->mask >> off;
            if (m)
                return p + __builtin_ctzll(m);
            if ((size_t)(end - w->base) <= w->len)
                return NULL;
            p = w->base + w->len;
        }
        if (p >= end)
            return NULL;
        quote_window_fill(w, p, end);
    }
}

/* From just past an opening quote, the closing quote (NULL if cut short). */
static inline const char *quote_window_close(quote_window *w, const char *p, const char *end)
{
    for (;;) {
        const char *q = quote_window_next(w, p, end);
        if (!q || *q == '"')
            return q;
        if (end - q < 2)
            return NULL;
        p = q + 2; /* an escape: its second byte is never the closing quote */
    }
}

static bool get_n(sl_view object, const char *key, size_t key_len, sl_view *value)
{
    if (!object.ptr)
        return false;
    const char *end = object.ptr + object.len;
    const char *p = ws_c(object.ptr, end);
    if (p >= end || *p != '{')
        return false;
    p++;
    quote_window w;
    quote_window_fill(&w, p, end);
    bool found = false;
    /* No early exit: with duplicate keys the last one wins, as in jansson. */
    for (;;) {
        p = ws_c(p, end);
        if (p < end && *p == ',')
            p = ws_c(p + 1, end);
        if (p >= end || *p != '"')
            break;
        const char *k = p + 1;
        const char *q = quote_window_close(&w, k, end);
        if (!q)
            break;
        p = ws_c(q + 1, end);
        if (p >= end || *p != ':')
            break;
        p = ws_c(p + 1, end);
        if (p >= end)
            break;
        const char *v;
        if (*p == '"') {
            v = quote_window_close(&w, p + 1, end);
            v = v ? v + 1 : NULL;
        } else {
            v = value_end(p, end);
        }
        if (!v)
            break;
        if (sl_json_key_eq((sl_view){ k, (size_t)(q - k) }, key, key_len)) {
            if (value)
                *value = (sl_view){ p, (size_t)(v - p) };
            found = true;
        }
        p = v;
    }
    return found;
}

bool sl_json_get(sl_view object, const char *key, sl_view *value)
{
    return key && get_n(object, key, strlen(key), value);
}

bool sl_json_get_path(sl_view object, const char *path, sl_view *value)
{
    if (!path)
        return false;
    sl_view cur = object;
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (!get_n(cur, path, n, &cur))
            return false;
        if (!dot)
            break;
        path = dot + 1;
    }
    if (value)
        *value = cur;
    return true;
}

/* The opening quote of a string value, or NULL when it is not a string. */
static const char *string_open(sl_view value)
{
    if (!value.ptr)
        return NULL;
    const char *p = ws_c(value.ptr, value.ptr + value.len);
    return p < value.ptr + value.len && *p == '"' ? p : NULL;
}

int sl_json_string_decode(sl_view value, sl_buf *out)
{
    const char *p = string_open(value);
    if (!p)
        return SL_ERR_PARSE;
    const char *end = value.ptr + value.len;
    p++;
    /* The decoded text is never longer than the raw one: reserve once. */
    sl_buf_reserve(out, (size_t)(end - p));
    char *w = out->data + out->len;
    for (;;) {
        const char *q = p;
        while (q < end && *q != '"' && *q != '\\')
            q++;
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        if (q == end)
            goto bad;
        if (*q == '"')
            break;
        int n = decode_escape(&q, end, w);
        if (n < 0)
            goto bad;
        w += n;
        p = q;
    }
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return 0;
bad:
    out->data[out->len] = '\0'; /* leave the buffer as it was */
    return SL_ERR_PARSE;
}

bool sl_json_string_plain(sl_view value, sl_view *out)
{
    const char *p = string_open(value);
    if (!p)
        return false;
    const char *end = value.ptr + value.len;
    const char *q = string_close(p + 1, end);
    if (!q || memchr(p + 1, '\\', (size_t)(q - p - 1)))
        return false;
    if (out)
        *out = (sl_view){ p + 1, (size_t)(q - p - 1) };
    return true;
}

/* ---- numbers ------------------------------------------------------------- */

/* The text of a number value: its first byte and its end. */
static bool number_text(sl_view value, const char **start, const char **stop)
{
    if (!value.ptr)
        return false;
    const char *end = value.ptr + value.len;
    const char *p = ws_c(value.ptr, end);
    if (p == end || (*p != '-' && !is_digit((uint8_t)*p)))
        return false;
    *start = p;
    *stop = value_end(p, end);
    return true;
}

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

int sl_json_double(sl_view value, double *out)
{
    static const double pow10[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    };
    const char *s, *e;
    if (!number_text(value, &s, &e))
        return SL_ERR_PARSE;

    /*
     * Clinger's fast path: a mantissa below 2^53 and a power of ten up to
     * 1e22 are both exact doubles, so one multiplication or division is
     * correctly rounded and equals what strtod would return. Event numbers
     * (latencies, status codes, prices) nearly always qualify.
     */
    const char *p = s;
    bool neg = *p == '-';
    p += neg;
    uint64_t mant = 0;
    int digits = 0, exp10 = 0;
    for (; p < e && is_digit((uint8_t)*p); p++, digits++)
        mant = mant * 10 + (uint64_t)(*p - '0');
    if (p < e && *p == '.') {
        for (p++; p < e && is_digit((uint8_t)*p); p++, digits++, exp10--)
            mant = mant * 10 + (uint64_t)(*p - '0');
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = p < e && *p == '-';
        p += p < e && (*p == '-' || *p == '+');
        int x = 0;
        for (; p < e && is_digit((uint8_t)*p); p++)
            x = x < 10000 ? x * 10 + (*p - '0') : x;
        exp10 += eneg ? -x : x;
    }
    if (p == e && digits <= 19 && mant <= (UINT64_C(1) << 53) &&
        exp10 >= -22 && exp10 <= 22) {
        double d = (double)mant;
        d = exp10 < 0 ? d / pow10[-exp10] : d * pow10[exp10];
        *out = neg ? -d : d;
        return 0;
    }

    /* Everything else through strtod, on a NUL-terminated copy. */
    size_t n = (size_t)(e - s);
    char small[128];
    char *copy = n < sizeof small ? small : sl_try_malloc(n + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, s, n);
    copy[n] = '\0';
    char *stop;
    pthread_once(&c_locale_once, c_locale_init);
    errno = 0;
    double d = c_locale ? strtod_l(copy, &stop, c_locale) : strtod(copy, &stop);
    int rc = 0;
    if (stop != copy + n)
        rc = SL_ERR_PARSE;
    else if (errno == ERANGE && isinf(d))
        rc = SL_ERR_RANGE; /* beyond DBL_MAX; *out is +-HUGE_VAL */
    if (copy != small)
        free(copy);
    if (rc != SL_ERR_PARSE)
        *out = d;
    return rc;
}

int sl_json_int64(sl_view value, int64_t *out)
{
    const char *p, *e;
    if (!number_text(value, &p, &e))
        return SL_ERR_PARSE;
    bool neg = *p == '-';
    p += neg;
    if (p == e || !is_digit((uint8_t)*p))
        return SL_ERR_PARSE;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; p < e && is_digit((uint8_t)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10)
            return SL_ERR_RANGE;
        v = v * 10 + d;
    }
    if (p != e)
        return *p == '.' || *p == 'e' || *p == 'E' ? SL_ERR_RANGE : SL_ERR_PARSE;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}
