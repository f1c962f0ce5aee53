/*
 * kafka_input.h - the `kafka` input, inside: what its files share. The rest
 * of sluice sees only the plugin (`type: kafka`, registry.c).
 *
 *   kafka_plugin.c   the key table, `sluice check`, the stage's lifecycle
 *   kafka_convert.c  one Kafka message into a record of `to` (validated like
 *                    a collector event, time and key picked) or a _dlq
 *                    envelope with its reason; no Kafka, no log: unit-tested
 *   kafka_consume.c  the consumer: ranges of offsets, appends, the commits
 *                    that follow them, rebalances, backpressure, metrics
 *
 * Exactly once, in one paragraph. The messages of one source partition are
 * appended in *ranges* of offsets [start, end), each with an idempotency
 * key naming it (`kin|<group>|<topic>|<partition>|<start>-<end>`), and the
 * partition's Kafka offset is committed only up to the end of the ranges
 * the log made durable. A crash re-reads from the committed offset; if the
 * ranges are cut again at the same places, the embedded log recognises
 * every range it already holds and stores nothing twice. Ranges are cut by
 * content, from the committed offset on: a range ends after `batch`
 * offsets or once it holds `batch_bytes`. The one cut that depends on time
 * - a range appended because no more messages came for `linger` - is
 * announced before it is appended, in the metadata of a commit of its
 * start ("sluice.cut=<end>"), so a re-read cuts it at the same end. A
 * partition's first range, when the group has no commit yet, is likewise
 * anchored by committing its start first. On the Kafka backend the log
 * does not check idempotency keys: there the input is at least once, and
 * each record carries the range key as the header sluice.idempotency-key.
 */
#ifndef SL_KAFKA_INPUT_H
#define SL_KAFKA_INPUT_H

#include "core/buf.h"
#include "core/config.h"
#include "input/http/ingest.h"
#include "pipeline/stage.h"

#include <stdint.h>

/* ---- configuration (kafka_plugin.c) ------------------------------------- */

typedef struct kin_conf {
    char *brokers;            /* bootstrap list; "" = the log's kafka.bootstrap.servers */
    char **topics;            /* source topics (NULL-terminated) */
    char *group;              /* "" = sluice.<name> */
    char *to;                 /* a declared sluice topic */
    char *key;                /* dotted field for the record key; "" = the Kafka key */
    char **settings;          /* librdkafka key, value, ... (NULL-terminated) */
    char *start;              /* earliest | latest: a partition the group never committed */
    int64_t batch;            /* offsets per range at most */
    int64_t batch_bytes;      /* a range ends once it holds this many bytes */
    int64_t linger_ms;        /* a range waits this long for more messages */
    int64_t commit_interval_ms; /* progress commits at most this often */
    int64_t max_inflight;     /* bytes read and not yet durable; beyond: pause */
    int64_t revoke_timeout_ms; /* a rebalance waits this long for appends in flight */
} kin_conf;

/* ---- conversion (kafka_convert.c) --------------------------------------- */

/* What conversion needs of a Kafka message (views into it). */
typedef struct kin_message {
    const char *topic;
    int32_t partition;
    int64_t offset;
    sl_view key;              /* ptr NULL: no key */
    sl_view value;            /* ptr NULL: a null value (tombstone) */
    int64_t ts_us;            /* the Kafka record's timestamp; < 0 = none */
} kin_message;

typedef struct kin_converter {
    const sl_config *cfg;
    sl_topic_config as_is;     /* `to`, its key replaced by the input's */
    sl_topic_config stamped;   /* the same, stamping the Kafka time when the field is missing */
    bool kafka_key;            /* keep the Kafka key (no `key` configured) */
    sl_ingest_limits limits;
} kin_converter;

typedef struct kin_result {
    const char *reason;        /* NULL = accepted; else a metric label */
    char error[320];           /* rejects: "<topic>/<partition>@<offset>: what is wrong" */
    sl_view value;             /* accepted: the event's bytes, a view into the message */
    bool has_key;
    int64_t ts_us;
} kin_result;

/*
 * Prepare conversion into topic `to` of cfg (both must outlive c).
 * key_field: a dotted field whose value becomes the record key, or NULL /
 * "" to keep the Kafka message's key.
 */
void kin_converter_init(kin_converter *c, const sl_config *cfg, const sl_topic_config *to,
                        const char *key_field);
/*
 * Convert one message. An accepted event keeps the message's bytes as they
 * are (out->value views into m->value), its key goes to *key (reset first;
 * out->has_key says whether there is one) and its time is the topic's
 * timestamp field, or the Kafka timestamp when the field is missing (or
 * unparseable and the topic says on_missing_timestamp: ingest_time), or
 * now_us when the record has none.
 */
void kin_convert(const kin_converter *c, const kin_message *m, int64_t now_us, sl_buf *key,
                 kin_result *out);
/* The _dlq envelope of a rejected message (source "kafka"), appended to out. */
void kin_dlq_envelope(const kin_converter *c, const kin_message *m, const kin_result *r,
                      int64_t now_us, sl_buf *out);

/* The commit metadata that announces a range's end, and its parser. */
void kin_cut_format(int64_t end, char *out, size_t n);
/* The announced end, or -1 when the metadata is not an announcement. */
int64_t kin_cut_parse(const char *metadata, size_t len);
/* The idempotency key of a range (at most 255 bytes; long names are hashed). */
void kin_range_key(const char *group, const char *topic, int32_t partition, int64_t start,
                   int64_t end, char *out, size_t n);

/* ---- the consumer (kafka_consume.c) -------------------------------------- */

typedef struct kin_input kin_input;

/*
 * Create the consumer for a stage (nothing is read yet). librdkafka
 * settings that it refuses are logged under the stage's tag; returns
 * SL_ERR_CONFIG then.
 */
int  kin_input_open(const sl_stage_env *env, const kin_conf *conf, kin_input **out);
/* Subscribe and run until the stage stops; 0 then, or a failure code. */
int  kin_input_run(kin_input *in);
/* Ask kin_input_run to return (any thread). */
void kin_input_request_stop(kin_input *in);
/* Wait for every append in flight to be answered, free. NULL-safe. */
void kin_input_close(kin_input *in);

/* The librdkafka settings sluice sets itself (the `settings` map may not). */
extern const char *const kin_forced_settings[];

#endif
