/*
 * ingest.c - split, route, validate and stamp the events of a request body
 * (see ingest.h). Everything here works on views into the body; only keys
 * with escapes and error messages are allocated.
 */
#include "input/http/ingest.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/timestamp.h"
#include "core/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sl_ingest_item *plan_push(sl_ingest_plan *plan, size_t index, sl_view json)
{
    if (plan->n == plan->cap) {
        plan->cap = plan->cap ? plan->cap * 2 : 128;
        plan->items = sl_realloc(plan->items, plan->cap * sizeof *plan->items);
    }
    sl_ingest_item *it = &plan->items[plan->n++];
    memset(it, 0, sizeof *it);
    it->index = index;
    it->json = json;
    return it;
}

static void item_reject(sl_ingest_item *it, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void item_reject(sl_ingest_item *it, const char *reason, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    it->reason = reason;
    free(it->error);
    it->error = sl_strdup(msg);
}

static void plan_fail(sl_ingest_plan *plan, int status, const char *reason, size_t offset,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void plan_fail(sl_ingest_plan *plan, int status, const char *reason, size_t offset,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(plan->error, sizeof plan->error, fmt, ap);
    va_end(ap);
    plan->status = status;
    plan->reason = reason;
    plan->error_offset = offset;
}

static const char *json_error_reason(const sl_json_error *err)
{
    if (strstr(err->message, "UTF-8"))
        return "invalid_utf8";
    if (strstr(err->message, "nesting") || strstr(err->message, "deep"))
        return "too_deep";
    return "malformed_json";
}

static bool route_matches(const sl_route *r, sl_view event)
{
    sl_view v;
    switch (r->kind) {
    case SL_ROUTE_ALWAYS:
        return true;
    case SL_ROUTE_HAS:
        return sl_json_get_path(event, r->field, &v) && sl_json_type_of(v) != SL_JSON_NULL;
    case SL_ROUTE_EQUALS: {
        sl_view plain;
        if (!sl_json_get_path(event, r->field, &v) || sl_json_type_of(v) != SL_JSON_STRING)
            return false;
        if (sl_json_string_plain(v, &plain))
            return sl_view_eq_str(plain, r->value);
        sl_buf decoded = SL_BUF_INIT;
        bool eq = sl_json_string_decode(v, &decoded) == 0 && decoded.data &&
                  strcmp(decoded.data, r->value) == 0;
        sl_buf_free(&decoded);
        return eq;
    }
    }
    return false;
}

static bool type_ok(sl_field_type want, sl_view v)
{
    sl_json_type t = sl_json_type_of(v);
    int64_t ts;
    switch (want) {
    case SL_FIELD_ANY:       return t != SL_JSON_NULL;
    case SL_FIELD_STRING:    return t == SL_JSON_STRING;
    case SL_FIELD_NUMBER:    return t == SL_JSON_NUMBER;
    case SL_FIELD_INTEGER:   return t == SL_JSON_NUMBER && !memchr(v.ptr, '.', v.len) &&
                                    !memchr(v.ptr, 'e', v.len) && !memchr(v.ptr, 'E', v.len);
    case SL_FIELD_BOOLEAN:   return t == SL_JSON_TRUE || t == SL_JSON_FALSE;
    case SL_FIELD_OBJECT:    return t == SL_JSON_OBJECT;
    case SL_FIELD_ARRAY:     return t == SL_JSON_ARRAY;
    case SL_FIELD_TIMESTAMP: return sl_timestamp_parse_json(v, &ts) == 0;
    }
    return false;
}

static const char *field_type_name(sl_field_type t)
{
    static const char *names[] = { "any value", "string", "number", "integer",
                                   "boolean", "object", "array", "timestamp" };
    return names[t];
}

/* Route, validate, stamp and key one event that is known to be valid JSON. */
static void plan_event(const sl_config *cfg, const sl_topic_config *forced, int64_t now_us,
                       sl_ingest_item *it)
{
    sl_view ev = it->json, v;
    if (sl_json_type_of(ev) != SL_JSON_OBJECT) {
        item_reject(it, "not_object", "event %zu is a JSON %s, not an object", it->index,
                    sl_json_type_name(sl_json_type_of(ev)));
        return;
    }
    const sl_topic_config *topic = forced;
    for (size_t r = 0; !topic && r < cfg->nroutes; r++)
        if (route_matches(&cfg->routes[r], ev))
            topic = sl_config_topic(cfg, cfg->routes[r].topic);
    if (!topic) {
        item_reject(it, "no_route",
                    "no collector route matches event %zu (add ?topic=NAME or a route)", it->index);
        return;
    }
    it->topic = topic;

    for (size_t i = 0; i < topic->nrequired; i++) {
        const sl_field_rule *rule = &topic->required[i];
        if (!sl_json_get_path(ev, rule->path, &v) || sl_json_type_of(v) == SL_JSON_NULL) {
            item_reject(it, "missing_field", "event %zu: required field '%s' is missing",
                        it->index, rule->path);
            return;
        }
        if (!type_ok(rule->type, v)) {
            item_reject(it, "wrong_type", "event %zu: field '%s' must be a %s, got %s", it->index,
                        rule->path, field_type_name(rule->type),
                        sl_json_type_name(sl_json_type_of(v)));
            return;
        }
    }

    if (sl_json_get_path(ev, topic->timestamp_field, &v) && sl_json_type_of(v) != SL_JSON_NULL) {
        if (sl_timestamp_parse_json(v, &it->ts_us) < 0) {
            if (!topic->ingest_time_fallback) {
                item_reject(it, "bad_timestamp",
                            "event %zu: '%s' is not an ISO-8601 time or epoch s/ms/us/ns: %.*s",
                            it->index, topic->timestamp_field, (int)SL_MIN(v.len, 64), v.ptr);
                return;
            }
            it->ts_us = now_us;
        }
    } else if (topic->ingest_time_fallback) {
        it->ts_us = now_us;
    } else {
        item_reject(it, "bad_timestamp", "event %zu: timestamp field '%s' is missing", it->index,
                    topic->timestamp_field);
        return;
    }

    if (topic->key && sl_json_get_path(ev, topic->key, &v) && sl_json_type_of(v) != SL_JSON_NULL) {
        if (sl_json_type_of(v) == SL_JSON_STRING) {
            if (!sl_json_string_plain(v, &it->key)) {
                sl_buf decoded = SL_BUF_INIT;
                sl_json_string_decode(v, &decoded);
                it->key.len = decoded.len;
                it->key_owned = sl_buf_steal(&decoded);
                it->key.ptr = it->key_owned;
            }
        } else {
            it->key = v; /* numbers and others: their JSON text */
        }
    }
}

static void plan_ndjson(const sl_config *cfg, const sl_topic_config *forced, sl_view body,
                        const sl_ingest_limits *lim, int64_t now_us, sl_ingest_plan *plan)
{
    size_t pos = 0, index = 0;
    while (pos < body.len) {
        const char *nl = memchr(body.ptr + pos, '\n', body.len - pos);
        size_t line_end = nl ? (size_t)(nl - body.ptr) : body.len;
        size_t start = sl_json_skip_ws(body.ptr, line_end, pos);
        if (start < line_end) {
            if (plan->n >= lim->max_events) {
                plan_fail(plan, 413, "too_many_events", start,
                          "more than %zu events in one request", lim->max_events);
                return;
            }
            sl_view line = { body.ptr + start, line_end - start };
            sl_json_error err;
            size_t end = 0;
            sl_ingest_item *it = plan_push(plan, index++, line);
            if (sl_json_validate(line.ptr, line.len, lim->max_depth, &end, &err) < 0) {
                item_reject(it, json_error_reason(&err), "line %zu (byte %zu): %s", it->index + 1,
                            start + err.offset, err.message);
            } else if (sl_json_skip_ws(line.ptr, line.len, end) != line.len) {
                item_reject(it, "malformed_json",
                            "line %zu (byte %zu): unexpected data after the JSON value",
                            it->index + 1, start + end);
            } else {
                it->json.len = end;
                plan_event(cfg, forced, now_us, it);
            }
        }
        pos = line_end + 1;
    }
}

int sl_ingest_plan_body(const sl_config *cfg, const sl_topic_config *forced_topic, sl_view body,
                        const sl_ingest_limits *lim, int64_t now_us, sl_ingest_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    size_t start = sl_json_skip_ws(body.ptr, body.len, 0);
    if (start == body.len) {
        plan_fail(plan, 400, "empty_body", 0, "the body is empty: send a JSON object, an array "
                                              "of objects or NDJSON");
        return 0;
    }
    sl_json_error err;
    size_t end = 0;
    /* The array form gets one more level of depth for the array itself. */
    int depth = body.ptr[start] == '[' ? lim->max_depth + 1 : lim->max_depth;
    if (sl_json_validate(body.ptr + start, body.len - start, depth, &end, &err) < 0) {
        /* An object that fails may still be the first line of NDJSON whose
           later lines are the broken ones: NDJSON is judged line by line. */
        const char *nl = memchr(body.ptr + start, '\n', body.len - start);
        if (body.ptr[start] == '{' && nl && (size_t)(nl - body.ptr) < start + err.offset) {
            plan_ndjson(cfg, forced_topic, body, lim, now_us, plan);
            return 0;
        }
        plan_fail(plan, 400, json_error_reason(&err), start + err.offset,
                  "malformed JSON at byte %zu: %s", start + err.offset, err.message);
        return 0;
    }
    end += start;
    size_t after = sl_json_skip_ws(body.ptr, body.len, end);
    if (after != body.len) {
        if (body.ptr[start] == '{') { /* more values follow: NDJSON */
            plan_ndjson(cfg, forced_topic, body, lim, now_us, plan);
            return 0;
        }
        plan_fail(plan, 400, "malformed_json", after,
                  "malformed JSON at byte %zu: unexpected data after the array", after);
        return 0;
    }
    sl_view value = { body.ptr + start, end - start };
    if (body.ptr[start] == '[') {
        sl_json_iter it;
        sl_view elem;
        size_t index = 0;
        sl_json_iter_init(&it, value);
        while (sl_json_array_next(&it, &elem)) {
            if (plan->n >= lim->max_events) {
                plan_fail(plan, 413, "too_many_events", (size_t)(elem.ptr - body.ptr),
                          "more than %zu events in one request", lim->max_events);
                return 0;
            }
            plan_event(cfg, forced_topic, now_us, plan_push(plan, index++, elem));
        }
        return 0;
    }
    plan_event(cfg, forced_topic, now_us, plan_push(plan, 0, value));
    return 0;
}

void sl_ingest_plan_free(sl_ingest_plan *plan)
{
    for (size_t i = 0; i < plan->n; i++) {
        free(plan->items[i].key_owned);
        free(plan->items[i].error);
    }
    free(plan->items);
    memset(plan, 0, sizeof *plan);
}


static void append_base64(sl_buf *out, sl_view v)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)v.ptr;
    sl_buf_reserve(out, (v.len + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < v.len; i += 3) {
        unsigned x = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        char q[4] = { tbl[x >> 18], tbl[(x >> 12) & 63], tbl[(x >> 6) & 63], tbl[x & 63] };
        sl_buf_append(out, q, 4);
    }
    if (i < v.len) {
        unsigned x = (unsigned)p[i] << 16 | (i + 1 < v.len ? (unsigned)p[i + 1] << 8 : 0);
        char q[4] = { tbl[x >> 18], tbl[(x >> 12) & 63], i + 1 < v.len ? tbl[(x >> 6) & 63] : '=',
                      '=' };
        sl_buf_append(out, q, 4);
    }
}

void sl_dlq_envelope(sl_buf *out, const char *source, const char *reason, const char *error,
                     const char *topic, long index, sl_view original, int64_t now_us)
{
    char when[40];
    sl_timestamp_format_iso(now_us, when, sizeof when);
    sl_buf_append_str(out, "{\"reason\":");
    sl_buf_append_json_string(out, reason, strlen(reason));
    sl_buf_append_str(out, ",\"error\":");
    sl_buf_append_json_string(out, error ? error : "", error ? strlen(error) : 0);
    sl_buf_append_str(out, ",\"topic\":");
    if (topic)
        sl_buf_append_json_string(out, topic, strlen(topic));
    else
        sl_buf_append_str(out, "null");
    sl_buf_append_str(out, ",\"source\":");
    sl_buf_append_json_string(out, source, strlen(source));
    if (index >= 0)
        sl_buf_printf(out, ",\"index\":%ld", index);
    else
        sl_buf_append_str(out, ",\"index\":null");
    sl_buf_printf(out, ",\"received\":\"%s\"", when);
    if (sl_utf8_valid(original.ptr, original.len)) {
        sl_buf_append_str(out, ",\"original\":");
        sl_buf_append_json_string(out, original.ptr, original.len);
    } else {
        sl_buf_append_str(out, ",\"original_base64\":\"");
        append_base64(out, original);
        sl_buf_append_char(out, '"');
    }
    sl_buf_append_char(out, '}');
}
