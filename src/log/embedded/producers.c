/* producers.c - recent idempotency keys of a partition (see producers.h). */
#include "log/embedded/producers.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

#define NBUCKETS (LOG_PRODUCERS_CAP / 2)

static uint32_t hash_key(sl_view key)
{
    uint32_t h = 2166136261u; /* FNV-1a, only to pick a bucket */
    for (size_t i = 0; i < key.len; i++)
        h = (h ^ (uint8_t)key.ptr[i]) * 16777619u;
    return h;
}

bool log_producers_find(const log_producers *t, sl_view key, int64_t *base, uint32_t *count)
{
    if (!t->ring || key.len == 0)
        return false;
    uint32_t h = hash_key(key);
    for (int32_t i = t->buckets[h % NBUCKETS]; i >= 0; i = t->ring[i].next) {
        const log_producer_entry *e = &t->ring[i];
        if (e->hash == h && e->len == key.len && memcmp(e->key, key.ptr, key.len) == 0) {
            *base = e->base;
            *count = e->count;
            return true;
        }
    }
    return false;
}

static void unlink_entry(log_producers *t, int32_t slot)
{
    log_producer_entry *e = &t->ring[slot];
    int32_t *link = &t->buckets[e->hash % NBUCKETS];
    while (*link >= 0 && *link != slot)
        link = &t->ring[*link].next;
    if (*link == slot)
        *link = e->next;
    free(e->key);
    e->key = NULL;
}

void log_producers_insert(log_producers *t, sl_view key, int64_t base, uint32_t count)
{
    if (key.len == 0)
        return;
    if (!t->ring) {
        t->ring = sl_calloc(LOG_PRODUCERS_CAP, sizeof *t->ring);
        t->buckets = sl_malloc(NBUCKETS * sizeof *t->buckets);
        memset(t->buckets, 0xff, NBUCKETS * sizeof *t->buckets); /* all -1 */
    }
    int32_t slot = (int32_t)t->head;
    if (t->ring[slot].key)
        unlink_entry(t, slot);
    else
        t->used++;
    log_producer_entry *e = &t->ring[slot];
    e->key = sl_strndup(key.ptr, key.len);
    e->len = (uint32_t)key.len;
    e->base = base;
    e->count = count;
    e->hash = hash_key(key);
    e->next = t->buckets[e->hash % NBUCKETS];
    t->buckets[e->hash % NBUCKETS] = slot;
    t->head = (t->head + 1) % LOG_PRODUCERS_CAP;
}

void log_producers_forget_from(log_producers *t, int64_t from)
{
    if (!t->ring)
        return;
    for (int32_t i = 0; i < LOG_PRODUCERS_CAP; i++)
        if (t->ring[i].key && t->ring[i].base >= from) {
            unlink_entry(t, i);
            t->used--;
        }
}

void log_producers_free(log_producers *t)
{
    if (t->ring)
        for (int32_t i = 0; i < LOG_PRODUCERS_CAP; i++)
            free(t->ring[i].key);
    free(t->ring);
    free(t->buckets);
    memset(t, 0, sizeof *t);
}
