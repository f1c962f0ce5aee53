/*
 * scenario_keys.c - the keys of many scenarios in one key set, so that an
 * event is scanned once whatever scenario it names (see scenario.h).
 *
 * The union is an ordinary key set (keyset.c) holding the caller's extra
 * keys first, then every scenario's lookup keys; each scenario keeps a map
 * from its own key numbers to the union's. An event is scanned into the
 * caller's slots, one per union key, each value tagged with the event's
 * stamp, so slots are never cleared: a slot belongs to this event when its
 * tag is the current stamp. Applying scenario j copies its few slots out
 * through the map, marking them as found in object 0 (the event), and
 * runs the scenario's own evaluation and projection over them; the member
 * record, object 1, is scanned only if a field is missing from the event,
 * exactly as sl_scenario_apply would.
 */
#include "expr/scenario.h"
#include "expr/expr_int.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

struct sl_scenario_keys {
    sl_expr_keyset keys;
    uint32_t nextra;
    const sl_scenario **scenarios;
    uint32_t **maps;       /* maps[j][i]: union key of scenario j's lookup key i */
    size_t n, cap;
};

sl_scenario_keys *sl_scenario_keys_new(const sl_view *extra, size_t nextra)
{
    sl_scenario_keys *k = sl_calloc(1, sizeof *k);
    sl_expr_keyset_init(&k->keys);
    for (size_t i = 0; i < nextra; i++)
        sl_expr_keyset_add(&k->keys, extra[i].ptr ? extra[i].ptr : "", extra[i].len);
    /* The same name twice is one key: count what the set holds. */
    k->nextra = k->keys.n;
    return k;
}

size_t sl_scenario_keys_add(sl_scenario_keys *k, const sl_scenario *s)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 8;
        k->scenarios = sl_realloc(k->scenarios, k->cap * sizeof *k->scenarios);
        k->maps = sl_realloc(k->maps, k->cap * sizeof *k->maps);
    }
    const sl_expr_keyset *own = &s->lookup->keys;
    uint32_t *map = sl_calloc(own->n ? own->n : 1, sizeof *map);
    for (uint32_t i = 0; i < own->n; i++)
        map[i] = sl_expr_keyset_add(&k->keys, own->keys[i].name, own->keys[i].len);
    k->scenarios[k->n] = s;
    k->maps[k->n] = map;
    return k->n++;
}

void sl_scenario_keys_finish(sl_scenario_keys *k)
{
    sl_expr_keyset_finish(&k->keys);
}

void sl_scenario_keys_free(sl_scenario_keys *k)
{
    if (!k)
        return;
    for (size_t j = 0; j < k->n; j++)
        free(k->maps[j]);
    free(k->maps);
    free(k->scenarios);
    sl_expr_keyset_free(&k->keys);
    free(k);
}

void sl_scenario_event_init(sl_scenario_event *ev)
{
    memset(ev, 0, sizeof *ev);
}

void sl_scenario_event_free(sl_scenario_event *ev)
{
    free(ev->slots);
    free(ev->first);
    sl_scenario_event_init(ev);
}

/* Room for n slots; new ones are zeroed, and tag 0 is never a stamp. */
static void event_reserve(sl_scenario_event *ev, size_t n)
{
    if (n <= ev->cap)
        return;
    ev->slots = sl_realloc(ev->slots, n * sizeof *ev->slots);
    ev->first = sl_realloc(ev->first, n * sizeof *ev->first);
    memset(ev->slots + ev->cap, 0, (n - ev->cap) * sizeof *ev->slots);
    memset(ev->first + ev->cap, 0, (n - ev->cap) * sizeof *ev->first);
    ev->cap = n;
}

void sl_scenario_keys_scan(const sl_scenario_keys *k, sl_view event, sl_scenario_event *ev)
{
    event_reserve(ev, k->keys.n ? k->keys.n : 1);
    if (ev->stamp == INT32_MAX) { /* wrapped: old tags could come back */
        memset(ev->slots, 0, ev->cap * sizeof *ev->slots);
        memset(ev->first, 0, ev->cap * sizeof *ev->first);
        ev->stamp = 0;
    }
    ev->stamp++;
    ev->object = event;
    sl_expr_keyset_scan_stamped(&k->keys, event, ev->stamp, ev->slots, ev->first, k->nextra);
}

sl_view sl_scenario_event_extra(const sl_scenario_event *ev, size_t i)
{
    if (i >= ev->cap || ev->stamp == 0 || ev->first[i].object != ev->stamp)
        return SL_VIEW_NULL;
    return ev->first[i].value;
}

int sl_scenario_keys_apply(const sl_scenario_keys *k, size_t which, const sl_scenario_event *ev,
                           sl_view member, sl_buf *out, bool *matched)
{
    const sl_scenario *s = k->scenarios[which];
    const uint32_t *map = k->maps[which];
    const sl_expr_keyset *own = &s->lookup->keys;
    sl_expr_slot slots[SL_SCENARIO_MAX_KEYS];
    for (uint32_t i = 0; i < own->n; i++) {
        const sl_expr_slot *u = &ev->slots[map[i]];
        slots[i].value = u->value;
        slots[i].object = u->object == ev->stamp ? 0 : -1;
    }
    sl_view objects[2] = { ev->object, member };
    /* The event is already in the slots: scanning resumes at the member. */
    sl_expr_scan scan = { own, objects, member.ptr ? 2 : 1, 1, slots };
    *matched = sl_expr_eval_bool_scan(s->filter, &scan);
    return out ? sl_scenario_project_scan(s, &scan, out) : 0;
}
