/*
 * kafka_plugin.c - the `kafka` input: topics of an existing Kafka cluster
 * into a sluice topic, for users who already have producers.
 *
 *   inputs:
 *     - type: kafka
 *       brokers: kafka-1:9092,kafka-2:9092     # default: the log's cluster
 *       topics: [orders, payments]
 *       group: sluice.orders                   # default sluice.<name>
 *       to: events.activity                    # a declared topic
 *       key: user_id                           # default: keep the Kafka key
 *       settings: { security.protocol: SASL_SSL, sasl.mechanisms: PLAIN }
 *
 * Each message value is one JSON event, validated like a collector event
 * for `to` (invalid ones go to _dlq with the reason, source "kafka"); the
 * Kafka offsets are committed only once the log holds the events. The
 * machinery is in kafka_consume.c, the judging of a message in
 * kafka_convert.c; this file is the configuration and the stage.
 */
#include "core/alloc.h"
#include "core/logging.h"
#include "input/kafka/kafka_input.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_conf_key kafka_keys[] = {
    { "brokers", SL_KEY_STRING, "", SL_CONF_FIELD(kin_conf, brokers), 0, NULL,
      "Bootstrap list of the cluster to read (`host:port,host:port`); empty = the log's own "
      "cluster (`kafka.bootstrap.servers`, with the log's other `kafka.*` settings)." },
    { "topics", SL_KEY_LIST, NULL, SL_CONF_FIELD(kin_conf, topics), 0, NULL,
      "Topics to read: a name or a list of names." },
    { "group", SL_KEY_STRING, "", SL_CONF_FIELD(kin_conf, group), 0, NULL,
      "Consumer group on that cluster; default `sluice.<name>`. Several sluice processes with "
      "the same input share the partitions." },
    { "to", SL_KEY_STRING, NULL, SL_CONF_FIELD(kin_conf, to), 0, NULL,
      "The sluice topic the events go to; they are validated against its `require` and "
      "`timestamp`." },
    { "key", SL_KEY_STRING, "", SL_CONF_FIELD(kin_conf, key), 0, NULL,
      "Dotted field whose value becomes the record key; empty = keep the Kafka message's key." },
    { "settings", SL_KEY_MAP, NULL, SL_CONF_FIELD(kin_conf, settings), 0, NULL,
      "librdkafka consumer properties (`security.protocol`, `sasl.*`, `ssl.*`, `fetch.*`, ...), "
      "passed through; `group.id`, `bootstrap.servers` and the commit settings are sluice's." },
    { "start", SL_KEY_ENUM, "earliest", SL_CONF_FIELD(kin_conf, start), 0, "earliest|latest",
      "Where a partition the group has never committed starts." },
    { "batch", SL_KEY_INT, "4096", SL_CONF_FIELD(kin_conf, batch), 0, NULL,
      "Offsets of one partition per append at most." },
    { "batch_bytes", SL_KEY_SIZE, "1MiB", SL_CONF_FIELD(kin_conf, batch_bytes), 0, NULL,
      "An append also ends once its messages hold this many bytes." },
    { "linger", SL_KEY_DURATION, "100ms", SL_CONF_FIELD(kin_conf, linger_ms), 1000, NULL,
      "How long messages wait for more before they are appended anyway." },
    { "commit_interval", SL_KEY_DURATION, "1s", SL_CONF_FIELD(kin_conf, commit_interval_ms),
      1000, NULL, "How often the offsets of what the log holds are committed to Kafka." },
    { "max_inflight", SL_KEY_SIZE, "32MiB", SL_CONF_FIELD(kin_conf, max_inflight), 0, NULL,
      "Bytes read and not yet durable in the log; beyond it reading pauses." },
    { "revoke_timeout", SL_KEY_DURATION, "10s", SL_CONF_FIELD(kin_conf, revoke_timeout_ms), 1000,
      NULL, "How long a rebalance waits for appends in flight before it lets a partition go." },
    { 0 },
};

static int key_line(const sl_stage_config *entry, const char *key)
{
    for (size_t i = 0; i < entry->npairs; i++)
        if (!strcmp(entry->pairs[i].key, key))
            return entry->pairs[i].line;
    return entry->line;
}

static int kafka_check(const void *conf, const sl_stage_config *entry, const sl_config *cfg,
                       sl_buf *errors)
{
    const kin_conf *c = conf;
    const char *file = cfg->path;
    int rc = 0;
#define BAD(key, ...)                                                                     \
    do {                                                                                  \
        sl_buf_printf(errors, "%s:%d: input '%s': ", file, key_line(entry, key), entry->name); \
        sl_buf_printf(errors, __VA_ARGS__);                                               \
        sl_buf_append_char(errors, '\n');                                                 \
        rc = SL_ERR_CONFIG;                                                               \
    } while (0)
    if (!c->topics || !c->topics[0] || !*c->topics[0])
        BAD("topics", "needs topics: the Kafka topics to read");
    if (!c->to || !*c->to)
        BAD("to", "needs to: the sluice topic the events go to");
    else if (!strcmp(c->to, SL_DLQ_TOPIC))
        BAD("to", "to cannot be %s", SL_DLQ_TOPIC);
    else if (!sl_config_topic(cfg, c->to))
        BAD("to", "to names undeclared topic '%s'", c->to);

    bool own_cluster = !*c->brokers;
    if (own_cluster && strcmp(cfg->log_backend, "kafka") != 0)
        BAD("brokers", "needs brokers: the bootstrap list of the cluster to read (only on "
                       "log.backend: kafka may it default to the log's cluster)");
    /* Reading the log's own cluster: never the topic the input writes. */
    for (size_t i = 0; own_cluster && c->to && c->topics && c->topics[i]; i++)
        if (!strcmp(c->topics[i], c->to))
            BAD("topics", "reads '%s' from the log's own cluster and writes it: a loop", c->to);

    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    for (size_t i = 0; c->settings && c->settings[i]; i += 2) {
        bool forced = false;
        for (const char *const *f = kin_forced_settings; *f && !forced; f++)
            forced = !strcmp(c->settings[i], *f);
        char why[256];
        if (forced)
            BAD("settings", "settings: %s is set by sluice (brokers, group and start are the "
                            "input's own keys)", c->settings[i]);
        else if (rd_kafka_conf_set(scratch, c->settings[i], c->settings[i + 1], why,
                                   sizeof why) != RD_KAFKA_CONF_OK)
            BAD("settings", "settings: %s", why);
    }
    rd_kafka_conf_destroy(scratch);

    if (c->batch < 1 || c->batch > 1000000)
        BAD("batch", "batch must be 1..1000000 offsets");
    if (c->batch_bytes < 1024 || c->batch_bytes > (64 << 20))
        BAD("batch_bytes", "batch_bytes must be 1KiB..64MiB");
    if (c->linger_ms < 1 || c->commit_interval_ms < 1 || c->revoke_timeout_ms < 1)
        BAD("linger", "linger, commit_interval and revoke_timeout must be positive");
    if (c->max_inflight < c->batch_bytes)
        BAD("max_inflight", "max_inflight must be at least batch_bytes");
#undef BAD
    return rc;
}

typedef struct kafka_state {
    kin_input *input;
} kafka_state;

static int kafka_init(const sl_stage_env *env, const void *conf, void **state)
{
    kafka_state *s = sl_calloc(1, sizeof *s);
    int rc = kin_input_open(env, conf, &s->input);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int kafka_run(void *state)
{
    kafka_state *s = state;
    return kin_input_run(s->input);
}

static void kafka_stop(void *state)
{
    kafka_state *s = state;
    kin_input_request_stop(s->input);
}

static void kafka_destroy(void *state)
{
    kafka_state *s = state;
    kin_input_close(s->input);
    free(s);
}

const sl_plugin sl_input_kafka = {
    .type = "kafka",
    .kind = SL_STAGE_INPUT,
    .description = "consume topics of an existing Kafka cluster (JSON values) into a sluice "
                   "topic; offsets committed once the log holds them",
    .keys = kafka_keys,
    .conf_size = sizeof(kin_conf),
    .check = kafka_check,
    .init = kafka_init,
    .run = kafka_run,
    .stop = kafka_stop,
    .destroy = kafka_destroy,
};
