/*
 * engine.c - the scenario processor's per-event path (see scenario.h):
 * find scenario_id and memberId, look up the scenario and the member,
 * evaluate and project.
 *
 * This runs for every event, so the event is walked once: the set's key
 * union (expr/scenario.h) holds scenario_id, the member key and every
 * field any scenario reads, and one pass over the event's top-level
 * members fills them all. The scenario named by the id then evaluates
 * over what that pass found, reading the member record only for fields
 * the event lacks. For scenario_id and the member key the first
 * occurrence of a repeated key counts (sluice's own inputs never write a
 * key twice; the pixel keeps the last of repeated query parameters); for
 * the scenario's own fields the last does, as for any expression.
 */
#include "processor/scenario/scenario.h"
#include "core/json.h"

#include <string.h>

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

void scenario_eval_ctx_free(scenario_eval_ctx *c)
{
    sl_buf_free(&c->scratch);
    sl_scenario_event_free(&c->event);
}

scenario_outcome scenario_eval(scenario_eval_ctx *c, sl_view *event, int64_t ts_us, sl_buf *out,
                               int64_t *sid, const scenario_entry **entry, bool *success)
{
    if (!trim_object(event) ||
        (c->validate && sl_json_validate(event->ptr, event->len, 0, NULL, NULL) < 0))
        return SCENARIO_NOT_OBJECT;
    const scenario_set *set = c->set;
    sl_scenario_keys_scan(set->keys, *event, &c->event);
    /* The member's slot starts loading while the scenario is looked up. */
    sl_view midv = sl_scenario_event_extra(&c->event, set->member_extra);
    sl_view mid = SL_VIEW_NULL, member = SL_VIEW_NULL;
    uint64_t mhash = 0;
    if (midv.ptr && c->members && scenario_member_id(midv, &c->scratch, &mid))
        mhash = scenario_members_prefetch(c->members, mid);
    sl_view sidv = sl_scenario_event_extra(&c->event, SCENARIO_KEY_ID);
    if (!sidv.ptr)
        return SCENARIO_NO_ID;
    if (!scenario_parse_id(sidv, sid))
        return SCENARIO_BAD_ID;
    const scenario_entry *e = scenario_set_find(set, *sid);
    if (!e)
        return SCENARIO_UNKNOWN;
    if (mid.ptr)
        member = scenario_members_find_hashed(c->members, mid, mhash);
    if (out)
        scenario_result_append(set, e, &c->event, member, ts_us, &c->dates, out, success);
    else
        sl_scenario_keys_apply(set->keys, e->keys_index, &c->event, member, NULL, success);
    *entry = e;
    return SCENARIO_RESULT;
}
