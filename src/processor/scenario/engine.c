/*
 * engine.c - the scenario processor's per-event path (see scenario.h):
 * find scenario_id and memberId, look up the scenario and the member,
 * evaluate and project.
 *
 * This runs for every event, so finding the two ids is a scan of its own
 * rather than two sl_json_get calls or an sl_json_object_next walk: a
 * 64-byte window of the event is classified at once into a bit mask of
 * quotes and backslashes, and strings (most of an event's bytes) are
 * stepped over with bit scans. Only top-level keys are compared; nested
 * containers are skipped by bracket depth. The walk stops as soon as both
 * keys are found, so when a key is repeated its first occurrence counts
 * (sluice's own inputs never write a key twice; the pixel keeps the last
 * of repeated query parameters).
 */
#include "processor/scenario/scenario.h"
#include "core/json.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef struct marks {
    const char *base;   /* the window starts here */
    size_t len;         /* 64, or less at the end */
    uint64_t bits;      /* bit i: base[i] is '"' or '\\' */
} marks;

static inline void marks_fill(marks *m, const char *p, const char *end)
{
    m->base = p;
    m->len = (size_t)(end - p) < 64 ? (size_t)(end - p) : 64;
    uint64_t bits = 0;
#if defined(__SSE2__)
    if (m->len == 64) {
        const __m128i q = _mm_set1_epi8('"'), b = _mm_set1_epi8('\\');
        for (int i = 0; i < 4; i++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
            unsigned hit = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, b)));
            bits |= (uint64_t)hit << (16 * i);
        }
        m->bits = bits;
        return;
    }
#endif
    for (size_t i = 0; i < m->len; i++)
        if (p[i] == '"' || p[i] == '\\')
            bits |= UINT64_C(1) << i;
    m->bits = bits;
}

/* The first quote or backslash at or after p, or NULL. */
static inline const char *marks_next(marks *m, const char *p, const char *end)
{
    for (;;) {
        size_t off = (size_t)(p - m->base);
        if (off < m->len) {
            uint64_t rest = m->bits >> off;
            if (rest)
                return p + __builtin_ctzll(rest);
            p = m->base + m->len;
        }
        if (p >= end)
            return NULL;
        marks_fill(m, p, end);
    }
}

/* From just past an opening quote to its closing quote (or NULL). */
static inline const char *close_quote(marks *m, const char *p, const char *end)
{
    for (;;) {
        const char *q = marks_next(m, p, end);
        if (!q || *q == '"')
            return q;
        if (end - q < 2)
            return NULL;
        p = q + 2; /* a backslash and the byte it escapes */
    }
}

static inline const char *blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* From an opening bracket to just past its closing one (or NULL). */
static const char *skip_container(marks *m, const char *p, const char *end)
{
    size_t depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            p = close_quote(m, p + 1, end);
            if (!p)
                return NULL;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            return p + 1;
        }
        p++;
    }
    return NULL;
}

void scenario_find_two(sl_view object, const char *k1, size_t n1, sl_view *v1, const char *k2,
                       size_t n2, sl_view *v2)
{
    *v1 = *v2 = SL_VIEW_NULL;
    const char *p = object.ptr, *end = object.ptr + object.len;
    p = blanks(p, end);
    if (p >= end || *p != '{')
        return;
    p++;
    marks m;
    marks_fill(&m, p, end);
    for (;;) {
        p = blanks(p, end);
        if (p < end && *p == ',')
            p = blanks(p + 1, end);
        if (p >= end || *p != '"')
            return;
        const char *k = p + 1, *q = close_quote(&m, k, end);
        if (!q)
            return;
        size_t klen = (size_t)(q - k);
        p = blanks(q + 1, end);
        if (p >= end || *p != ':')
            return;
        p = blanks(p + 1, end);
        if (p >= end)
            return;
        const char *v = p;
        if (*p == '"') {
            p = close_quote(&m, p + 1, end);
            if (!p)
                return;
            p++;
        } else if (*p == '{' || *p == '[') {
            p = skip_container(&m, p, end);
            if (!p)
                return;
        } else {
            while (p < end && *p != ',' && *p != '}' && *p != ' ' && *p != '\n' && *p != '\r' &&
                   *p != '\t')
                p++;
        }
        if (!v1->ptr && klen == n1 && !memcmp(k, k1, n1))
            *v1 = (sl_view){ v, (size_t)(p - v) };
        else if (!v2->ptr && klen == n2 && !memcmp(k, k2, n2))
            *v2 = (sl_view){ v, (size_t)(p - v) };
        else
            continue;
        if (v1->ptr && v2->ptr)
            return; /* both found: the rest of the event is not read */
    }
}

/* The event without surrounding blanks, when it is an object at all. */
static bool trim_object(sl_view *v)
{
    while (v->len && (v->ptr[0] == ' ' || v->ptr[0] == '\n' || v->ptr[0] == '\r' ||
                      v->ptr[0] == '\t'))
        v->ptr++, v->len--;
    while (v->len && (v->ptr[v->len - 1] == ' ' || v->ptr[v->len - 1] == '\n' ||
                      v->ptr[v->len - 1] == '\r' || v->ptr[v->len - 1] == '\t'))
        v->len--;
    return v->len >= 2 && v->ptr[0] == '{' && v->ptr[v->len - 1] == '}';
}

scenario_outcome scenario_eval(scenario_eval_ctx *c, sl_view *event, int64_t ts_us, sl_buf *out,
                               int64_t *sid, const scenario_entry **entry, bool *success)
{
    if (!trim_object(event) ||
        (c->validate && sl_json_validate(event->ptr, event->len, 0, NULL, NULL) < 0))
        return SCENARIO_NOT_OBJECT;
    sl_view sidv, midv;
    scenario_find_two(*event, "scenario_id", 11, &sidv, c->member_key, c->member_key_len, &midv);
    if (!sidv.ptr)
        return SCENARIO_NO_ID;
    if (!scenario_parse_id(sidv, sid))
        return SCENARIO_BAD_ID;
    const scenario_entry *e = scenario_set_find(c->set, *sid);
    if (!e)
        return SCENARIO_UNKNOWN;
    sl_view mid, member = SL_VIEW_NULL;
    if (midv.ptr && c->members && scenario_member_id(midv, &c->scratch, &mid))
        member = scenario_members_find(c->members, mid);
    if (out)
        scenario_result_append(e, *event, member, ts_us, &c->dates, out, success);
    else {
        sl_view objects[2] = { *event, member };
        *success = sl_scenario_match(e->compiled, objects, member.ptr ? 2 : 1);
    }
    *entry = e;
    return SCENARIO_RESULT;
}
