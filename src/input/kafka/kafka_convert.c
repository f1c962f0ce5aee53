/*
 * kafka_convert.c - one Kafka message into one event of the `to` topic, or
 * into a _dlq envelope with the reason (see kafka_input.h).
 *
 * A message value is judged exactly as the collector judges one event
 * sent with ?topic=<to>: the same planner (input/http/ingest.c) validates
 * the JSON, checks the topic's required fields and types, reads the event
 * time and the key. Two things differ, because a Kafka record is not an
 * HTTP body:
 *   - one message is one event: an array, or several JSON values on
 *     several lines, is refused instead of being split;
 *   - an event without the topic's timestamp field takes the Kafka
 *     record's timestamp (every record since Kafka 0.10 has one) instead
 *     of being refused; a field that is there but unreadable is still
 *     refused, unless the topic says on_missing_timestamp: ingest_time.
 */
#include "input/kafka/kafka_input.h"

#include "core/crc32c.h"
#include "core/json.h"
#include "core/timestamp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kin_converter_init(kin_converter *c, const sl_config *cfg, const sl_topic_config *to,
                        const char *key_field)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->kafka_key = !key_field || !*key_field;
    c->as_is = *to;
    c->as_is.key = c->kafka_key ? NULL : (char *)key_field;
    c->stamped = c->as_is;
    c->stamped.ingest_time_fallback = true;
    c->limits.max_depth = (int)(cfg->collector_max_depth > 0 ? cfg->collector_max_depth
                                                             : SL_JSON_DEFAULT_MAX_DEPTH);
    c->limits.max_events = 2; /* a second value is enough to refuse the message */
}

static void reject(kin_result *out, const kin_message *m, const char *reason, const char *what)
{
    out->reason = reason;
    snprintf(out->error, sizeof out->error, "%s/%d@%" PRId64 ": %s", m->topic, m->partition,
             m->offset, what);
}

void kin_convert(const kin_converter *c, const kin_message *m, int64_t now_us, sl_buf *key,
                 kin_result *out)
{
    memset(out, 0, sizeof *out);
    sl_buf_reset(key);
    if (!m->value.ptr) {
        reject(out, m, "null_value", "the message has no value (a tombstone)");
        return;
    }
    size_t first = sl_json_skip_ws(m->value.ptr, m->value.len, 0);
    if (first < m->value.len && m->value.ptr[first] == '[') {
        reject(out, m, "not_object",
               "the value is a JSON array; one message is one event, a JSON object");
        return;
    }
    int64_t kafka_ts = m->ts_us >= 0 ? m->ts_us : now_us;
    sl_ingest_plan plan;
    sl_ingest_plan_body(c->cfg, &c->stamped, m->value, &c->limits, kafka_ts, &plan);
    if (plan.status == 413 || (!plan.status && plan.n > 1)) {
        /* NDJSON-looking values: several events in one message. */
        reject(out, m, "not_one_event",
               "the value holds several JSON values; one message is one event");
    } else if (plan.status) {
        reject(out, m, plan.reason, plan.error);
    } else if (plan.items[0].reason) {
        reject(out, m, plan.items[0].reason, plan.items[0].error);
    } else {
        const sl_ingest_item *it = &plan.items[0];
        sl_view v;
        int64_t ts;
        /* The planner stamped the Kafka time on a field that is there but
           unreadable too; the topic may want that refused. */
        if (!c->as_is.ingest_time_fallback &&
            sl_json_get_path(it->json, c->as_is.timestamp_field, &v) &&
            sl_json_type_of(v) != SL_JSON_NULL && sl_timestamp_parse_json(v, &ts) < 0) {
            char what[200];
            snprintf(what, sizeof what, "'%s' is not an ISO-8601 time or epoch s/ms/us/ns: %.*s",
                     c->as_is.timestamp_field, (int)SL_MIN(v.len, 64), v.ptr);
            reject(out, m, "bad_timestamp", what);
        } else {
            out->value = it->json;
            out->ts_us = it->ts_us;
            if (c->kafka_key) {
                if (m->key.ptr && m->key.len)
                    sl_buf_append(key, m->key.ptr, m->key.len);
            } else if (it->key.len) {
                sl_buf_append(key, it->key.ptr, it->key.len);
            }
            out->has_key = key->len > 0;
        }
    }
    sl_ingest_plan_free(&plan);
}

void kin_dlq_envelope(const kin_converter *c, const kin_message *m, const kin_result *r,
                      int64_t now_us, sl_buf *out)
{
    sl_view original = m->value.ptr ? m->value : SL_VIEW_LIT("");
    sl_dlq_envelope(out, "kafka", r->reason, r->error, c->as_is.spec.name, -1, original, now_us);
}

/* ---- announcements and range keys ---------------------------------------- */

#define CUT_PREFIX "sluice.cut="

void kin_cut_format(int64_t end, char *out, size_t n)
{
    snprintf(out, n, CUT_PREFIX "%" PRId64, end);
}

int64_t kin_cut_parse(const char *metadata, size_t len)
{
    size_t k = sizeof CUT_PREFIX - 1;
    if (!metadata || len <= k || len > k + 18 || memcmp(metadata, CUT_PREFIX, k) != 0)
        return -1;
    int64_t v = 0;
    for (size_t i = k; i < len; i++) {
        if (metadata[i] < '0' || metadata[i] > '9')
            return -1;
        v = v * 10 + (metadata[i] - '0');
    }
    return v;
}

void kin_range_key(const char *group, const char *topic, int32_t partition, int64_t start,
                   int64_t end, char *out, size_t n)
{
    int len = snprintf(out, n, "kin|%s|%s|%d|%" PRId64 "-%" PRId64, group, topic, partition,
                       start, end);
    if (len >= 0 && (size_t)len < n && len <= 255)
        return;
    /* Names too long for a log key (255 bytes): their CRC stands for them. */
    uint32_t crc = sl_crc32c(0, group, strlen(group));
    crc = sl_crc32c(crc, "|", 1);
    crc = sl_crc32c(crc, topic, strlen(topic));
    snprintf(out, n, "kin|#%08x|%d|%" PRId64 "-%" PRId64, crc, partition, start, end);
}
