/*
 * ingest.h - turning a collector request body into records, without HTTP.
 *
 * A body is one JSON object, a JSON array of objects, or NDJSON (objects
 * separated by newlines). sl_ingest_plan validates and splits it, routes
 * every event to a topic (?topic= or the first matching collector route),
 * checks the topic's required fields, normalises the event time and
 * extracts the record key. It never touches the log: the collector appends
 * what the plan accepted and sends the rejects to _dlq. Keeping it apart
 * lets the unit tests and the fuzz target drive it directly.
 *
 * A malformed array or object body is rejected whole (HTTP 400 with the
 * byte offset); in NDJSON each line stands alone, so a malformed line is one
 * rejected event and the others go on.
 */
#ifndef SL_INGEST_H
#define SL_INGEST_H

#include "core/buf.h"
#include "core/config.h"

typedef struct sl_ingest_item {
    size_t index;                 /* position in the request, from 0 */
    sl_view json;                 /* the event's bytes inside the body */
    const sl_topic_config *topic; /* NULL when no route matched */
    sl_view key;                  /* view into the body or into key_owned */
    char *key_owned;              /* decoded key when it had escapes */
    int64_t ts_us;
    const char *reason;           /* NULL = accepted; else a metric label */
    char *error;                  /* human message for rejects */
} sl_ingest_item;

typedef struct sl_ingest_plan {
    sl_ingest_item *items;
    size_t n;
    size_t cap;
    /* Whole-body outcome: 0 = per-item results apply; else the HTTP status
       (400 malformed, 413 too many events) with error/reason set. */
    int status;
    const char *reason;
    char error[256];
    size_t error_offset;
} sl_ingest_plan;

typedef struct sl_ingest_limits {
    int max_depth;
    size_t max_events;
} sl_ingest_limits;

/*
 * Plan a body. forced_topic (from ?topic=) bypasses the routes. now_us is
 * the ingest time for topics that stamp it. Items view into body, which must
 * outlive the plan. Always returns 0; outcomes are in the plan.
 */
int  sl_ingest_plan_body(const sl_config *cfg, const sl_topic_config *forced_topic, sl_view body,
                         const sl_ingest_limits *limits, int64_t now_us, sl_ingest_plan *plan);
void sl_ingest_plan_free(sl_ingest_plan *plan);

/*
 * The dead-letter envelope for rejected bytes: a JSON object with reason,
 * error, topic (or null), source, index (or null), received time, and the
 * original bytes as "original" (valid UTF-8) or "original_base64".
 */
void sl_dlq_envelope(sl_buf *out, const char *source, const char *reason, const char *error,
                     const char *topic, long index, sl_view original, int64_t now_us);

#endif
