/*
 * pixel.c - the tracking pixel's event builder (see pixel.h), shared by the
 * collector's GET /{scenario_id} handler (pixel_http.c) and the NGINX tail
 * input: query parameters, client fields and the time become one JSON event.
 */
#include "input/pixel/pixel.h"

#include "core/alloc.h"
#include "core/timestamp.h"
#include "core/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * The smallest transparent GIF: GIF89a, a 1x1 logical screen with a
 * two-colour global table, a graphic control extension marking colour 0
 * transparent, and one 1x1 image whose LZW data (minimum code size 2) is
 * clear, index 0, end: the codes 4, 0, 5 in three bits each, packed LSB
 * first into 0x44 0x01.
 */
const unsigned char sl_pixel_gif[] = {
    'G', 'I', 'F', '8', '9', 'a',
    0x01, 0x00, 0x01, 0x00,         /* width 1, height 1 */
    0x80, 0x00, 0x00,               /* global colour table of 2, background 0, aspect 0 */
    0x00, 0x00, 0x00,               /* colour 0: black (transparent below) */
    0xFF, 0xFF, 0xFF,               /* colour 1: white */
    0x21, 0xF9, 0x04, 0x01,         /* graphic control extension: transparency on */
    0x00, 0x00, 0x00, 0x00,         /* delay 0, transparent index 0, terminator */
    0x2C, 0x00, 0x00, 0x00, 0x00,   /* image descriptor at (0,0) */
    0x01, 0x00, 0x01, 0x00, 0x00,   /* 1x1, no local table */
    0x02, 0x02, 0x44, 0x01, 0x00,   /* LZW min code size 2; one 2-byte block; end */
    0x3B,                           /* trailer */
};
const size_t sl_pixel_gif_len = sizeof sl_pixel_gif;

/* ---- JSON text ------------------------------------------------------------- */

/* True when none of the eight bytes is '"', '\\', a control byte or >= 0x80. */
static inline bool word_is_plain(uint64_t w)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    uint64_t control = (w - ones * 0x20) & ~w;
    uint64_t is_quote = (quote - ones) & ~quote, is_bslash = (bslash - ones) & ~bslash;
    return ((control | is_quote | is_bslash | w) & highs) == 0;
}

/* Text that is not UTF-8: each byte that starts no valid sequence becomes
   U+FFFD, then the result is written as a JSON string. Rare (a Latin-1
   User-Agent), so simple. */
static void append_json_cleaned(sl_buf *out, sl_view text)
{
    const unsigned char *s = (const unsigned char *)text.ptr;
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

void sl_pixel_append_json_text(sl_buf *out, sl_view text)
{
    const unsigned char *s = (const unsigned char *)text.ptr;
    size_t i = 0;
    /* The common case, printable ASCII, is one copy; checked 16 or 8 bytes
       at a time. */
#if defined(__SSE2__)
    for (; i + 16 <= text.len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        /* Signed: below 0x20 or >= 0x80 (negative) in one compare. */
        __m128i m = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                              _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
        if (_mm_movemask_epi8(m))
            break;
    }
#endif
    for (; i + 8 <= text.len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (!word_is_plain(w))
            break;
    }
    while (i < text.len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
        i++;
    if (i == text.len) {
        if (out->cap - out->len < text.len + 3)
            sl_buf_reserve(out, text.len + 2);
        char *d = out->data + out->len;
        d[0] = '"';
        memcpy(d + 1, text.ptr, text.len);
        d[text.len + 1] = '"';
        out->len += text.len + 2;
        out->data[out->len] = '\0';
        return;
    }
    if (sl_utf8_check(text.ptr + i, text.len - i) == text.len - i)
        sl_query_append_json_utf8(out, text);
    else
        append_json_cleaned(out, text);
}

/* ---- the event --------------------------------------------------------------- */

sl_pixel_builder *sl_pixel_builder_new(void)
{
    return sl_calloc(1, sizeof(sl_pixel_builder));
}

void sl_pixel_builder_free(sl_pixel_builder *b)
{
    if (!b)
        return;
    sl_buf_free(&b->scratch);
    free(b);
}

static bool is_reserved(sl_view key)
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
static void append_member(sl_buf *out, const char *member, size_t member_len, sl_view value)
{
    if (!value.ptr)
        return;
    sl_buf_append(out, member, member_len);
    sl_pixel_append_json_text(out, value);
}
#define APPEND_MEMBER(out, lit, value) append_member((out), (lit), sizeof(lit) - 1, (value))

/* ,"ts":"2025-06-18T03:50:10.123456Z"; the part up to the seconds is kept
   from the previous call, as consecutive events are mostly in one second. */
static void append_ts(sl_pixel_builder *b, sl_buf *out, int64_t ts_us)
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

int sl_pixel_event_build(sl_pixel_builder *b, const sl_pixel_hit *hit, sl_buf *out, sl_view *key,
                         sl_pixel_error *err)
{
    sl_query_error qerr = { 0 };
    int64_t sid;
    *key = SL_VIEW_NULL;
    if (sl_query_scenario_id(hit->path, &sid, &qerr) < 0) {
        err->reason = "bad_scenario_id";
        err->offset = qerr.offset;
        snprintf(err->message, sizeof err->message, "%s", qerr.message);
        return SL_ERR_PARSE;
    }
    b->query.count = 0;
    if (hit->query.len) {
        sl_buf_reset(&b->scratch);
        sl_buf_reserve(&b->scratch, hit->query.len + 1);
        int rc = sl_query_parse(hit->query.ptr, hit->query.len, &b->query, b->scratch.data,
                                b->scratch.cap, &qerr);
        if (rc < 0) {
            err->reason = "bad_query";
            err->offset = qerr.offset;
            snprintf(err->message, sizeof err->message, "query: %s", qerr.message);
            return SL_ERR_PARSE;
        }
    }
    for (size_t i = 0; i < b->query.count; i++)
        if (!b->query.params[i].shadowed && is_reserved(b->query.params[i].key))
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
    sl_query_append_json(&b->query, out, &comma);
    APPEND_MEMBER(out, ",\"ip\":", hit->ip);
    APPEND_MEMBER(out, ",\"user_agent\":", hit->user_agent);
    APPEND_MEMBER(out, ",\"referer\":", hit->referer);
    append_ts(b, out, hit->ts_us);

    sl_view member;
    if (sl_query_get(&b->query, "memberId", &member))
        *key = member;
    return 0;
}

bool sl_pixel_path_is_candidate(const char *path)
{
    if (!path || path[0] != '/' || path[1] == '\0')
        return false;
    if (strchr(path + 1, '/'))
        return false;
    static const char *const own[] = { "/health", "/favicon.ico", "/robots.txt", "/api",
                                       "/metrics" };
    for (size_t i = 0; i < SL_ARRAY_LEN(own); i++)
        if (strcmp(path, own[i]) == 0)
            return false;
    return true;
}
