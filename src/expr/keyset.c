/*
 * keyset.c - a set of top-level key names and the one-pass scan that finds
 * all of them in an object (see expr_int.h).
 *
 * This is where evaluation spends most of its time: an event of fifteen
 * members is walked once, and each member key is checked against the set.
 * Most keys are not wanted, so the check is built to say no quickly: a
 * bitmap of the first bytes of the wanted keys rejects most of them with
 * one test, a length compare most of the rest. Sets of more than
 * LINEAR_MAX keys (a scenario that keeps many fields) go through a hash
 * table instead of a list.
 *
 * Keys in events are raw JSON: a key may spell a character as an escape
 * ("\u0061ge" is "age"). Such keys are rare and take the slow path through
 * sl_json_key_eq, which decodes as it compares.
 */
#include "expr/expr_int.h"

#include "core/alloc.h"
#include "core/json.h"

#include <stdlib.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define KEYSET_SSE2 1
#endif

#define LINEAR_MAX 8

static inline uint32_t hash_bytes(const char *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 16777619u;
    }
    return h;
}

void sl_expr_keyset_init(sl_expr_keyset *ks)
{
    memset(ks, 0, sizeof *ks);
    ks->empty_key = -1;
}

uint32_t sl_expr_keyset_add(sl_expr_keyset *ks, const char *name, size_t len)
{
    for (uint32_t i = 0; i < ks->n; i++)
        if (ks->keys[i].len == len && memcmp(ks->keys[i].name, name, len) == 0)
            return i;
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 8;
        ks->keys = sl_realloc(ks->keys, ks->cap * sizeof *ks->keys);
    }
    struct sl_expr_key *k = &ks->keys[ks->n];
    k->name = sl_malloc(len + 1);
    memcpy(k->name, name, len);
    k->name[len] = '\0';
    k->len = (uint32_t)len;
    k->hash = hash_bytes(name, len);
    return ks->n++;
}

void sl_expr_keyset_finish(sl_expr_keyset *ks)
{
    memset(ks->first, 0, sizeof ks->first);
    ks->empty_key = -1;
    for (uint32_t i = 0; i < ks->n; i++) {
        if (ks->keys[i].len == 0) {
            ks->empty_key = (int32_t)i;
            continue;
        }
        uint8_t c = (uint8_t)ks->keys[i].name[0];
        ks->first[c >> 6] |= UINT64_C(1) << (c & 63);
    }
    /* A raw key that starts with an escape may decode to any first byte. */
    ks->first['\\' >> 6] |= UINT64_C(1) << ('\\' & 63);

    free(ks->table);
    ks->table = NULL;
    if (ks->n <= LINEAR_MAX)
        return;
    uint32_t size = 16;
    while (size < ks->n * 2)
        size *= 2;
    ks->table = sl_calloc(size, sizeof *ks->table);
    ks->mask = size - 1;
    for (uint32_t i = 0; i < ks->n; i++) {
        uint32_t h = ks->keys[i].hash & ks->mask;
        while (ks->table[h])
            h = (h + 1) & ks->mask;
        ks->table[h] = i + 1;
    }
}

void sl_expr_keyset_free(sl_expr_keyset *ks)
{
    for (uint32_t i = 0; i < ks->n; i++)
        free(ks->keys[i].name);
    free(ks->keys);
    free(ks->table);
    sl_expr_keyset_init(ks);
}

/* The slow path: a raw key with escapes, compared decoding as it goes. */
static int32_t find_escaped(const sl_expr_keyset *ks, sl_view raw)
{
    int32_t found = -1;
    for (uint32_t i = 0; i < ks->n; i++)
        if (sl_json_key_eq(raw, ks->keys[i].name, ks->keys[i].len))
            found = (int32_t)i;
    return found;
}

/* Keys are short: a loop beats a call to memcmp. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* The index of a raw key whose escapes are known to be there or not. */
static inline __attribute__((always_inline))
int32_t find_key(const sl_expr_keyset *ks, const char *k, size_t n, bool escaped)
{
    if (escaped)
        return find_escaped(ks, (sl_view){ k, n });
    if (n == 0)
        return ks->empty_key;
    uint8_t c0 = (uint8_t)k[0];
    if (!(ks->first[c0 >> 6] >> (c0 & 63) & 1))
        return -1;
    if (!ks->table) {
        for (uint32_t i = 0; i < ks->n; i++)
            if (ks->keys[i].len == n && same_bytes(ks->keys[i].name, k, n))
                return (int32_t)i;
        return -1;
    }
    uint32_t h = hash_bytes(k, n);
    for (uint32_t s = h & ks->mask; ks->table[s]; s = (s + 1) & ks->mask) {
        const struct sl_expr_key *key = &ks->keys[ks->table[s] - 1];
        if (key->hash == h && key->len == n && same_bytes(key->name, k, n))
            return (int32_t)(ks->table[s] - 1);
    }
    return -1;
}

int32_t sl_expr_keyset_find_raw(const sl_expr_keyset *ks, sl_view raw)
{
    return find_key(ks, raw.ptr, raw.len, raw.len && memchr(raw.ptr, '\\', raw.len));
}

/* ---- the scan ------------------------------------------------------------- */

/*
 * A window of 64 bytes classified at once into a mask of quotes and
 * backslashes: the strings of an event (nearly all of its bytes) are then
 * stepped over with shifts and bit scans instead of byte by byte. This is
 * the idea core/json.c uses for sl_json_get, here inlined into a loop that
 * also matches keys, which makes a whole pass over a typical event about
 * twice as fast as sl_json_object_next.
 */
typedef struct quote_window {
    const char *base;
    uint64_t mask;
    size_t len;
    const char *start;  /* the object's first byte: loads never begin before it */
} quote_window;

#ifdef KEYSET_SSE2
static inline unsigned quote_mask16(const char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
}
#endif

/*
 * Classify the 64 bytes at p (fewer at the end of the object). The last
 * window of an object is usually short, and a member record is shorter
 * than one window: its whole 16-byte pieces are classified as usual, and
 * the bytes left over by one load of the 16 bytes that end the object,
 * overlapping bytes already seen, so no load reaches past the object.
 * Only objects under 16 bytes are classified byte by byte.
 */
static inline void window_fill(quote_window *w, const char *p, const char *end)
{
    w->base = p;
    w->len = (size_t)(end - p) < 64 ? (size_t)(end - p) : 64;
    uint64_t m = 0;
    size_t i = 0;
#ifdef KEYSET_SSE2
    for (; i + 16 <= w->len; i += 16)
        m |= (uint64_t)quote_mask16(p + i) << i;
    if (i < w->len && end - w->start >= 16) {
        size_t rest = w->len - i; /* 1..15 bytes, the last of the object */
        m |= (uint64_t)(quote_mask16(end - 16) >> (16 - rest)) << i;
        i = w->len;
    }
#endif
    for (; i < w->len; i++)
        if (p[i] == '"' || p[i] == '\\')
            m |= UINT64_C(1) << i;
    w->mask = m;
}

/* The first quote or backslash at or after p (p >= w->base), or NULL. */
static inline const char *window_next(quote_window *w, const char *p, const char *end)
{
    for (;;) {
        size_t off = (size_t)(p - w->base);
        if (off < w->len) {
            uint64_t m = w->mask >> off;
            if (m)
                return p + __builtin_ctzll(m);
            p = w->base + w->len;
        }
        if (p >= end)
            return NULL;
        window_fill(w, p, end);
    }
}

/* From just past an opening quote, its closing quote; *escaped if any '\'. */
static inline const char *string_close(quote_window *w, const char *p, const char *end,
                                       bool *escaped)
{
    for (;;) {
        const char *q = window_next(w, p, end);
        if (!q || *q == '"')
            return q;
        *escaped = true;
        if (end - q < 2)
            return NULL;
        p = q + 2; /* the escaped byte is never the closing quote */
    }
}

/* From an opening bracket, the byte after its closing one. */
static const char *container_skip(quote_window *w, const char *p, const char *end)
{
    size_t depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            bool e;
            const char *q = string_close(w, p + 1, end, &e);
            if (!q)
                return NULL;
            p = q + 1;
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

/* Blanks are rare between members (sluice's inputs write none): one test
   turns every other byte away. */
static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (unsigned char)*p <= ' ' &&
           (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static inline bool scalar_byte(char c)
{
    return c != ',' && c != '}' && c != ']' && c != ' ' && c != '\n' && c != '\r' && c != '\t';
}

/* The end of a number or literal: the first , } ] or blank (or end).
   Sixteen bytes at a time: an epoch in milliseconds has 13 digits. */
static inline const char *scalar_end(const char *p, const char *end)
{
#ifdef KEYSET_SSE2
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')),
                                      _mm_cmpeq_epi8(v, _mm_set1_epi8('}'))),
                         _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(']')),
                                      _mm_cmpeq_epi8(v, _mm_set1_epi8(' ')))),
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')),
                                      _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'))),
                         _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return p + __builtin_ctz(bits);
        p += 16;
    }
#endif
    while (p < end && scalar_byte(*p))
        p++;
    return p;
}

/*
 * Where a scan puts what it finds. Plain scans (sl_expr_keyset_scan) fill
 * slots that an earlier object did not fill, tagged with the object's
 * index. Stamped scans (sl_expr_keyset_scan_stamped) tag every value with
 * the event's stamp instead, so that slots never need clearing between
 * events, and also keep the first value of keys [0, nfirst).
 */
typedef struct scan_sink {
    sl_expr_slot *slots;
    int32_t tag;              /* the object's index, or the stamp */
    sl_expr_slot *first;      /* stamped: first values */
    uint32_t nfirst;
} scan_sink;

static inline __attribute__((always_inline))
void scan_object(const sl_expr_keyset *ks, sl_view object, const scan_sink *sink, bool stamped)
{
    const char *p = object.ptr, *end = object.ptr + object.len;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return;
    p++;
    quote_window w = { .start = object.ptr };
    window_fill(&w, p, end);
    for (;;) {
        /* Between members: blanks, a comma, blanks. Sluice's inputs write
           no blanks, so each step tests its one expected byte first. */
        if (p < end && (unsigned char)*p <= ' ')
            p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            if (p < end && (unsigned char)*p <= ' ')
                p = skip_ws(p, end);
        }
        if (p >= end || *p != '"')
            return;
        const char *k = p + 1;
        bool escaped = false;
        const char *q = string_close(&w, k, end, &escaped);
        if (!q)
            return;
        p = q + 1;
        if (p < end && *p != ':')
            p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return;
        p++;
        if (p < end && (unsigned char)*p <= ' ')
            p = skip_ws(p, end);
        if (p >= end)
            return;
        const char *v = p;
        if (*p == '"') {
            bool e;
            p = string_close(&w, p + 1, end, &e);
            if (!p)
                return;
            p++;
        } else if (*p == '{' || *p == '[') {
            p = container_skip(&w, p, end);
            if (!p)
                return;
        } else {
            p = scalar_end(p, end);
        }
        int32_t i = find_key(ks, k, (size_t)(q - k), escaped);
        if (i < 0)
            continue;
        sl_expr_slot found = { { v, (size_t)(p - v) }, sink->tag };
        if (stamped) {
            if ((uint32_t)i < sink->nfirst && sink->first[i].object != sink->tag)
                sink->first[i] = found;
            sink->slots[i] = found;
        } else {
            sl_expr_slot *s = &sink->slots[i];
            if (s->object < 0 || s->object == sink->tag)
                *s = found;
        }
    }
}

void sl_expr_keyset_scan(const sl_expr_keyset *ks, sl_view object, int32_t object_index,
                         sl_expr_slot *slots)
{
    if (!object.ptr || ks->n == 0)
        return;
    scan_sink sink = { slots, object_index, NULL, 0 };
    scan_object(ks, object, &sink, false);
}

void sl_expr_keyset_scan_stamped(const sl_expr_keyset *ks, sl_view object, int32_t stamp,
                                 sl_expr_slot *slots, sl_expr_slot *first, uint32_t nfirst)
{
    if (!object.ptr || ks->n == 0)
        return;
    scan_sink sink = { slots, stamp, first, nfirst };
    scan_object(ks, object, &sink, true);
}
