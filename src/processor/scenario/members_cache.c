/*
 * members_cache.c - the scenario processor's copy of the members table:
 * member id -> enrichment object, looked up once per event (see
 * scenario.h).
 *
 * Everything lives in one arena (ids and objects back to back) indexed by
 * an open-addressing table of offsets, so a cache of a million members is
 * two allocations and a lookup touches one slot and one arena line. The
 * processor rebuilds the whole cache when the catalogue's member counter
 * moves: imports are bulk operations, and a rebuild keeps no stale entry.
 */
#include "processor/scenario/scenario.h"
#include "core/alloc.h"
#include "core/json.h"

#include <stdlib.h>
#include <string.h>

/* Member ids are short (digits, mostly): eight bytes per multiply rather
   than one, since this runs once per event. */
static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)(unsigned char)p[i] << (8 * i);
    /* murmur3's finalizer: every input bit reaches the low bits that pick
       the slot (ids differ in their last digits, the high bytes of w). */
    h ^= w;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

void scenario_members_init(scenario_members *m)
{
    memset(m, 0, sizeof *m);
}

void scenario_members_free(scenario_members *m)
{
    free(m->slots);
    sl_buf_free(&m->arena);
    memset(m, 0, sizeof *m);
}

static scenario_member_slot *find_slot(const scenario_members *m, sl_view id, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        scenario_member_slot *s = &m->slots[i];
        if (s->key_len == 0)
            return s;
        if (s->hash == h && s->key_len == id.len &&
            same_bytes(m->arena.data + s->key_at, id.ptr, id.len))
            return s;
    }
}

static void grow(scenario_members *m)
{
    size_t old_cap = m->cap;
    scenario_member_slot *old = m->slots;
    m->cap = old_cap ? old_cap * 2 : 1024;
    m->slots = sl_calloc(m->cap, sizeof *m->slots);
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key_len == 0)
            continue;
        sl_view id = { m->arena.data + old[i].key_at, old[i].key_len };
        *find_slot(m, id, old[i].hash) = old[i];
    }
    free(old);
}

void scenario_members_put(scenario_members *m, sl_view id, sl_view object)
{
    if (id.len == 0 || id.len > UINT32_MAX || m->arena.len + id.len + object.len > UINT32_MAX)
        return;
    if ((m->n + 1) * 2 > m->cap)
        grow(m);
    uint64_t h = hash_bytes(id.ptr, id.len);
    scenario_member_slot *s = find_slot(m, id, h);
    if (s->key_len == 0) {
        s->hash = h;
        s->key_at = (uint32_t)m->arena.len;
        s->key_len = (uint32_t)id.len;
        sl_buf_append(&m->arena, id.ptr, id.len);
        m->n++;
    }
    s->value_at = (uint32_t)m->arena.len;
    s->value_len = (uint32_t)object.len;
    sl_buf_append(&m->arena, object.ptr, object.len);
}

uint64_t scenario_members_prefetch(const scenario_members *m, sl_view id)
{
    uint64_t h = hash_bytes(id.ptr, id.len);
    if (m->cap)
        __builtin_prefetch(&m->slots[(size_t)h & (m->cap - 1)]);
    return h;
}

sl_view scenario_members_find_hashed(const scenario_members *m, sl_view id, uint64_t hash)
{
    if (!m->n || id.len == 0)
        return SL_VIEW_NULL;
    const scenario_member_slot *s = find_slot(m, id, hash);
    if (s->key_len == 0)
        return SL_VIEW_NULL;
    return (sl_view){ m->arena.data + s->value_at, s->value_len };
}

sl_view scenario_members_find(const scenario_members *m, sl_view id)
{
    return scenario_members_find_hashed(m, id, hash_bytes(id.ptr, id.len));
}

bool scenario_member_id(sl_view value, sl_buf *scratch, sl_view *id)
{
    if (value.len == 0)
        return false;
    char c = value.ptr[0];
    if (c == '"') {
        sl_view inner = { value.ptr + 1, value.len - 2 };
        if (!memchr(inner.ptr, '\\', inner.len)) {
            *id = inner;
            return true;
        }
        sl_buf_reset(scratch);
        if (sl_json_string_decode(value, scratch) < 0)
            return false;
        *id = sl_buf_view(scratch);
        return true;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        *id = value;
        return true;
    }
    return false;
}
