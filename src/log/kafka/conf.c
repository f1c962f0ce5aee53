/*
 * conf.c - the Kafka backend's configuration: the sluice.* keys, one
 * librdkafka configuration per handle role, librdkafka's log and error
 * callbacks routed to sluice's log (tag "kafka"), and the mapping of
 * librdkafka errors to sluice codes.
 *
 * A handle's configuration is built in three layers: sluice's defaults
 * (the user may override them), the user's `kafka:` keys verbatim, and the
 * settings sluice's guarantees depend on (the user may not override them;
 * a conflicting value is reported once at open and ignored):
 *
 *   role       defaults                          forced
 *   producer   linger.ms 5, compression.type     enable.idempotence true, acks all,
 *              lz4, message.timeout.ms 30000,    allow.auto.create.topics false
 *              client.id sluice
 *   reader     client.id sluice                  group.id sluice.reader,
 *                                                auto.offset.reset error,
 *   group      client.id sluice                  group.id <group>,
 *   member     partition.assignment.strategy     auto.offset.reset earliest,
 *              cooperative-sticky, client.id     and for all three: enable.auto.commit
 *              sluice                            false, enable.auto.offset.store false,
 *                                                enable.partition.eof false,
 *                                                allow.auto.create.topics false
 *
 * The user's keys go to every handle, so a consumer property reaches the
 * producer and the other way round; librdkafka ignores those and says so
 * in a CONFWARN line, which is logged at debug level here.
 */
#include "log/kafka/kafka_int.h"

#include "core/alloc.h"
#include "core/logging.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---------------------------------------------------------------- */

int kafka_err_code(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return 0;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return SL_ERR_FULL;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return SL_ERR_NOTOPIC;
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return SL_ERR_NOPARTITION;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return SL_ERR_TIMEOUT;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return SL_ERR_TOOBIG;
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
        return SL_ERR_RANGE;
    case RD_KAFKA_RESP_ERR__DESTROY:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
        return SL_ERR_CLOSED;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return -EINVAL;
    default:
        return SL_ERR;
    }
}

/* ---- librdkafka's log and errors ------------------------------------------------ */

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    sl_log_level lvl = level <= 3 ? SL_LOG_ERROR : level == 4 ? SL_LOG_WARN
                     : level <= 6 ? SL_LOG_INFO : SL_LOG_DEBUG;
    /* Connection failures are transient and retried: a warning, not an error. */
    if (lvl == SL_LOG_ERROR && strcmp(fac, "FAIL") == 0)
        lvl = SL_LOG_WARN;
    /* Every handle gets the user's keys; the ones meant for the other kind
       of client are expected here. */
    if (strcmp(fac, "CONFWARN") == 0 &&
        (strstr(buf, "is a producer property") || strstr(buf, "is a consumer property")))
        lvl = SL_LOG_DEBUG;
    /* Brokers before 0.11 (and the mock cluster) cannot honour
       allow.auto.create.topics=false; sluice only reads declared topics. */
    if (strcmp(fac, "AUTOCREATE") == 0 && lvl == SL_LOG_WARN)
        lvl = SL_LOG_INFO;
    SL_LOG_AT(lvl, TAG, 0, "%s %s: %s", rk ? rd_kafka_name(rk) : "rdkafka", fac, buf);
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
        SL_ERROR(TAG, "%s: fatal error %s: %s; this client stops working", rd_kafka_name(rk),
                 rd_kafka_err2name(orig), why);
        return;
    }
    /* Transport errors were already logged by librdkafka's log callback. */
    sl_log_level lvl = err == RD_KAFKA_RESP_ERR__TRANSPORT ? SL_LOG_DEBUG : SL_LOG_WARN;
    SL_LOG_AT(lvl, TAG, 0, "%s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
}

/* ---- the sluice.* keys ------------------------------------------------------------- */

static int parse_ms(const char *key, const char *value, int min, int *out)
{
    char *end;
    long v = strtol(value, &end, 10);
    if (*value == '\0' || *end || v < min || v > 3600000) {
        SL_ERROR(TAG, "kafka.%s: \"%s\" is not a number of milliseconds (%d..3600000)", key,
                 value, min);
        return SL_ERR_CONFIG;
    }
    *out = (int)v;
    return 0;
}

static int parse_sluice_key(kafka_log *log, const char *key, const char *value)
{
    if (strcmp(key, "sluice.accept.partition.mismatch") == 0) {
        if (strcmp(value, "true") == 0)
            log->set.accept_mismatch = true;
        else if (strcmp(value, "false") == 0)
            log->set.accept_mismatch = false;
        else {
            SL_ERROR(TAG, "kafka.%s: \"%s\" is not true or false", key, value);
            return SL_ERR_CONFIG;
        }
        return 0;
    }
    if (strcmp(key, "sluice.timeout.ms") == 0)
        return parse_ms(key, value, 10, &log->set.timeout_ms);
    if (strcmp(key, "sluice.metrics.refresh.ms") == 0)
        return parse_ms(key, value, 10, &log->set.refresh_ms);
    SL_ERROR(TAG, "kafka.%s is not a sluice setting (sluice.accept.partition.mismatch, "
             "sluice.timeout.ms, sluice.metrics.refresh.ms)", key);
    return SL_ERR_CONFIG;
}

/* Settings sluice's guarantees depend on: a user value is ignored. */
static const char *const forced_keys[] = {
    "enable.idempotence", "acks", "request.required.acks", "allow.auto.create.topics",
    "enable.auto.commit", "enable.auto.offset.store", "enable.partition.eof", "group.id",
    "auto.offset.reset", NULL,
};

int kafka_conf_parse(kafka_log *log, const char *const *pairs)
{
    bool have_bootstrap = false;
    size_t cap = 0;
    log->set.timeout_ms = KAFKA_DEFAULT_TIMEOUT_MS;
    log->set.refresh_ms = KAFKA_DEFAULT_REFRESH_MS;
    for (size_t i = 0; pairs && pairs[i]; i += 2) {
        const char *key = pairs[i], *value = pairs[i + 1];
        if (!value) {
            SL_ERROR(TAG, "kafka.%s has no value", key);
            return SL_ERR_CONFIG;
        }
        if (strncmp(key, "sluice.", 7) == 0) {
            int rc = parse_sluice_key(log, key, value);
            if (rc)
                return rc;
            continue;
        }
        for (const char *const *f = forced_keys; *f; f++)
            if (strcmp(key, *f) == 0)
                SL_WARN(TAG, "kafka.%s is set by sluice (see docs/kafka.md); the configured "
                        "value \"%s\" is ignored", key, value);
        if (strcmp(key, "bootstrap.servers") == 0 || strcmp(key, "metadata.broker.list") == 0)
            have_bootstrap = *value != '\0';
        if (log->nconf + 2 > cap) {
            cap = cap ? cap * 2 : 16;
            log->conf = sl_realloc(log->conf, cap * sizeof *log->conf);
        }
        log->conf[log->nconf++] = sl_strdup(key);
        log->conf[log->nconf++] = sl_strdup(value);
    }
    if (!have_bootstrap) {
        SL_ERROR(TAG, "kafka.bootstrap.servers is not set (log.backend: kafka needs the "
                 "brokers to talk to)");
        return SL_ERR_CONFIG;
    }
    return 0;
}

/* ---- one configuration per handle ---------------------------------------------------- */

static bool conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) == RD_KAFKA_CONF_OK)
        return true;
    SL_ERROR(TAG, "kafka.%s: %s", key, err);
    return false;
}

rd_kafka_conf_t *kafka_conf_new(kafka_log *log, kafka_role role, const char *group)
{
    static const char *const producer_defaults[] = {
        "client.id", "sluice", "linger.ms", "5", "compression.type", "lz4",
        "message.timeout.ms", "30000", NULL,
    };
    static const char *const consumer_defaults[] = { "client.id", "sluice", NULL };
    static const char *const member_defaults[] = {
        "client.id", "sluice", "partition.assignment.strategy", "cooperative-sticky", NULL,
    };
    static const char *const producer_forced[] = {
        "enable.idempotence", "true", "acks", "all", "allow.auto.create.topics", "false", NULL,
    };
    static const char *const consumer_forced[] = {
        "enable.auto.commit", "false", "enable.auto.offset.store", "false",
        "enable.partition.eof", "false", "allow.auto.create.topics", "false", NULL,
    };

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *const *defaults = role == KAFKA_PRODUCER ? producer_defaults
                                  : role == KAFKA_MEMBER ? member_defaults
                                                         : consumer_defaults;
    bool ok = true;
    for (size_t i = 0; ok && defaults[i]; i += 2)
        ok = conf_set(conf, defaults[i], defaults[i + 1]);
    for (size_t i = 0; ok && i < log->nconf; i += 2) {
        bool forced = false;
        for (const char *const *f = forced_keys; *f && !forced; f++)
            forced = strcmp(log->conf[i], *f) == 0;
        if (!forced)
            ok = conf_set(conf, log->conf[i], log->conf[i + 1]);
    }
    const char *const *forced = role == KAFKA_PRODUCER ? producer_forced : consumer_forced;
    for (size_t i = 0; ok && forced[i]; i += 2)
        ok = conf_set(conf, forced[i], forced[i + 1]);
    if (ok && role != KAFKA_PRODUCER) {
        ok = conf_set(conf, "group.id", role == KAFKA_READER ? KAFKA_READER_GROUP : group) &&
             conf_set(conf, "auto.offset.reset", role == KAFKA_READER ? "error" : "earliest");
    }
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    if (role == KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, kafka_delivery_report);
    return conf;
}

rd_kafka_t *kafka_handle_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        SL_ERROR(TAG, "cannot create the %s: %s", what, err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}
