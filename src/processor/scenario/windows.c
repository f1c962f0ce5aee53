/*
 * windows.c - per-partition window counts of the scenario processor (see
 * scenario.h for the fields and the exactness argument).
 *
 * A window lives here from its first record until the partial it closed
 * with is durable; a record that comes for it later (a late event) opens
 * it again, continuing from the stored partial. The table is small (open
 * windows of the scenarios one partition sees), so emitted windows are
 * dropped by rebuilding it rather than with tombstones.
 */
#include "processor/scenario/scenario.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_of(const scenario_windows *w, int64_t sid, int64_t start)
{
    uint64_t h = (uint64_t)sid * 0x9E3779B97F4A7C15ull ^ (uint64_t)start * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 31)) & (w->cap - 1);
}

static scenario_window *lookup(scenario_windows *w, int64_t sid, int64_t start, bool *found)
{
    size_t mask = w->cap - 1;
    for (size_t i = slot_of(w, sid, start);; i = (i + 1) & mask) {
        scenario_window *s = &w->slots[i];
        if (s->scenario_id == 0) {
            *found = false;
            return s;
        }
        if (s->scenario_id == sid && s->start_us == start) {
            *found = true;
            return s;
        }
    }
}

/* Rebuild with room for at least `need` windows, keeping those `keep` accepts. */
static void rebuild(scenario_windows *w, size_t need, bool drop_emitted)
{
    size_t cap = 16;
    while (cap < need * 2 + 2)
        cap *= 2;
    scenario_window *old = w->slots;
    size_t old_cap = w->cap;
    w->slots = sl_calloc(cap, sizeof *w->slots);
    w->cap = cap;
    w->n = 0;
    w->last = NULL;
    for (size_t i = 0; i < old_cap; i++) {
        const scenario_window *o = &old[i];
        if (o->scenario_id == 0 || (drop_emitted && o->state == WINDOW_CLOSED))
            continue;
        bool found;
        *lookup(w, o->scenario_id, o->start_us, &found) = *o;
        w->n++;
    }
    free(old);
}

void scenario_windows_init(scenario_windows *w)
{
    memset(w, 0, sizeof *w);
    w->watermark_us = INT64_MIN;
    rebuild(w, 8, false);
}

void scenario_windows_free(scenario_windows *w)
{
    free(w->slots);
    memset(w, 0, sizeof *w);
}

scenario_window *scenario_windows_count(scenario_windows *w, int64_t sid, int64_t ts_us,
                                        int64_t window_us, int64_t offset, bool success,
                                        scenario_load_fn load, void *load_arg, bool *counted)
{
    int64_t start = scenario_window_start(ts_us, window_us);
    scenario_window *win = w->last;
    if (!win || win->scenario_id != sid || win->start_us != start) {
        bool found;
        win = lookup(w, sid, start, &found);
        if (!found) {
            int64_t s = 0, t = 0, last = -1;
            int got = load ? load(load_arg, sid, start, &s, &t, &last) : 0;
            if (got < 0)
                return NULL;
            if ((w->n + 1) * 2 > w->cap) {
                rebuild(w, w->n + 1, false);
                win = lookup(w, sid, start, &found);
            }
            *win = (scenario_window){ .scenario_id = sid, .start_us = start, .last_offset = -1,
                                      .stored_offset = -1, .first_pending = -1,
                                      .state = WINDOW_OPEN };
            w->n++;
            if (got > 0) {
                win->success = s;
                win->total = t;
                win->stored_offset = last;
                win->last_offset = last;
            }
        }
        w->last = win;
    }
    if (ts_us > w->watermark_us)
        w->watermark_us = ts_us;
    if (offset <= win->stored_offset) {
        *counted = false;
        return win;
    }
    win->state = WINDOW_OPEN; /* a late record opens a closed window again */
    win->total++;
    win->success += success;
    win->last_offset = offset;
    if (win->first_pending < 0)
        win->first_pending = offset;
    *counted = true;
    return win;
}

size_t scenario_windows_close(scenario_windows *w, int64_t window_us, int64_t lateness_us,
                              bool everything)
{
    size_t closed = 0;
    for (size_t i = 0; i < w->cap; i++) {
        scenario_window *s = &w->slots[i];
        if (s->scenario_id == 0 || s->state != WINDOW_OPEN)
            continue;
        /* watermark - lateness >= end, written so that it cannot overflow */
        if (everything || (w->watermark_us != INT64_MIN &&
                           w->watermark_us - lateness_us >= s->start_us + window_us)) {
            s->state = WINDOW_CLOSED;
            closed++;
        }
    }
    return closed;
}

void scenario_windows_each_closed(scenario_windows *w,
                                  void (*fn)(void *arg, const scenario_window *win), void *arg)
{
    for (size_t i = 0; i < w->cap; i++) {
        const scenario_window *s = &w->slots[i];
        if (s->scenario_id && s->state == WINDOW_CLOSED && s->first_pending >= 0)
            fn(arg, s);
    }
}

void scenario_windows_emitted(scenario_windows *w)
{
    size_t open = 0;
    for (size_t i = 0; i < w->cap; i++)
        open += w->slots[i].scenario_id && w->slots[i].state == WINDOW_OPEN;
    rebuild(w, open, true);
}

int64_t scenario_windows_pending_from(const scenario_windows *w)
{
    int64_t from = INT64_MAX;
    for (size_t i = 0; i < w->cap; i++) {
        const scenario_window *s = &w->slots[i];
        if (s->scenario_id && s->first_pending >= 0 && s->first_pending < from)
            from = s->first_pending;
    }
    return from;
}
