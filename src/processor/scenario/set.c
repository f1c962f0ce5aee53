/*
 * set.c - the compiled scenarios of one processor, by id (see scenario.h).
 *
 * The processor builds a new set whenever the catalogue's scenario counter
 * moves and swaps it in between two batches: a batch is evaluated against
 * one set from its first record to its last. With the set comes the union
 * of its scenarios' keys (expr/scenario.h), so that an event is scanned
 * once for its scenario_id, its member id and the fields of whichever
 * scenario it names.
 */
#include "processor/scenario/scenario.h"
#include "core/alloc.h"
#include "core/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void insert(scenario_set *s, sl_scenario *compiled)
{
    size_t mask = s->cap - 1;
    int64_t id = compiled->id;
    size_t i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 40) & mask;
    for (;; i = (i + 1) & mask) {
        scenario_entry *e = &s->entries[i];
        if (e->id == id) { /* the same id twice: the later definition wins */
            sl_scenario_free(e->compiled);
            break;
        }
        if (e->id == 0) {
            s->n++;
            break;
        }
    }
    scenario_entry *e = &s->entries[i];
    e->id = id;
    e->compiled = compiled;
    e->key_len = (size_t)snprintf(e->key, sizeof e->key, "%" PRId64, id);
    for (int ok = 0; ok < 2; ok++)
        e->tail_len[ok] = (size_t)snprintf(e->tail[ok], sizeof e->tail[ok],
                                           "\"success\":%d,\"scenario_id\":%" PRId64 ",\"date\":\"",
                                           ok, id);
}

scenario_set *scenario_set_build(const char *const *definitions, size_t n, const char *member_key,
                                 size_t *skipped)
{
    scenario_set *s = sl_calloc(1, sizeof *s);
    s->cap = 16;
    while (s->cap < n * 2 + 2)
        s->cap *= 2;
    s->entries = sl_calloc(s->cap, sizeof *s->entries);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        sl_scenario *compiled = NULL;
        if (sl_scenario_parse(sl_view_of(definitions[i]), &compiled, NULL) < 0) {
            bad++;
            continue;
        }
        insert(s, compiled);
    }
    if (skipped)
        *skipped = bad;
    sl_view extra[2] = { SL_VIEW_LIT("scenario_id"), sl_view_of(member_key) };
    s->keys = sl_scenario_keys_new(extra, 2);
    s->member_extra = sl_view_eq(extra[0], extra[1]) ? SCENARIO_KEY_ID : 1;
    for (size_t i = 0; i < s->cap; i++)
        if (s->entries[i].id)
            s->entries[i].keys_index = sl_scenario_keys_add(s->keys, s->entries[i].compiled);
    sl_scenario_keys_finish(s->keys);
    return s;
}

void scenario_set_free(scenario_set *s)
{
    if (!s)
        return;
    sl_scenario_keys_free(s->keys); /* before the scenarios it points to */
    for (size_t i = 0; i < s->cap; i++)
        if (s->entries[i].id)
            sl_scenario_free(s->entries[i].compiled);
    free(s->entries);
    free(s);
}

bool scenario_parse_id(sl_view v, int64_t *id)
{
    const char *p = v.ptr, *end = v.ptr + v.len;
    if (v.len >= 2 && *p == '"') { /* "5": the digits between the quotes */
        p++;
        end--;
    }
    if (p >= end || end - p > 18)
        return false;
    int64_t x = 0;
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9)
            return false;
        x = x * 10 + d;
    }
    *id = x;
    return x > 0;
}
