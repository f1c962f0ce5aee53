/*
 * test_kafka_input.c - the `kafka` input: how a message is judged (the
 * collector's rules, one event per message, the Kafka time and key), the
 * announcement metadata and range keys, `sluice check` of its keys; and
 * end to end against librdkafka's mock cluster hosted in the test process
 * with a real embedded log in a temporary directory: messages into the
 * topic and _dlq, offsets committed after the appends, and re-reads after
 * a lost commit (deterministic ranges, then an announced one) that the
 * log recognises: nothing twice.
 */
#include "core/config.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "input/kafka/kafka_input.h"
#include "pipeline/stage.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the converter ---------------------------------------------------------------- */

static const char CONF_YAML[] =
    "topics:\n"
    "  events.activity:\n"
    "    partitions: 3\n"
    "    key: user_id\n"
    "    require: { event_id: string, user_id: string }\n"
    "  loose: { partitions: 1, on_missing_timestamp: ingest_time }\n";

static sl_config *cfg;

static void conv_setup(void)
{
    sl_buf errors = SL_BUF_INIT;
    cr_assert_eq(sl_config_parse("t.yaml", CONF_YAML, strlen(CONF_YAML), &cfg, &errors), 0, "%s",
                 errors.data);
    sl_buf_free(&errors);
}

static void conv_teardown(void)
{
    sl_config_free(cfg);
}

TestSuite(convert, .init = conv_setup, .fini = conv_teardown);

static kin_message msg(const char *value, const char *key, int64_t ts_us)
{
    return (kin_message){ .topic = "orders", .partition = 2, .offset = 41,
                          .key = key ? sl_view_of(key) : SL_VIEW_NULL,
                          .value = value ? sl_view_of(value) : SL_VIEW_NULL, .ts_us = ts_us };
}

static void convert(const char *topic, const char *key_field, const kin_message *m,
                    kin_result *r, sl_buf *key)
{
    kin_converter c;
    kin_converter_init(&c, cfg, sl_config_topic(cfg, topic), key_field);
    kin_convert(&c, m, 5000000, key, r);
}

Test(convert, accepted_event_keeps_its_bytes_time_and_kafka_key)
{
    const char *v = " {\"event_id\":\"e1\",\"user_id\":\"u7\",\"timestamp\":\"2026-01-11T09:19:26Z\"} ";
    kin_message m = msg(v, "kafka-key", 1000);
    kin_result r;
    sl_buf key = SL_BUF_INIT;
    convert("events.activity", NULL, &m, &r, &key);
    cr_assert_null(r.reason, "%s", r.error);
    cr_assert_eq(r.value.ptr, v + 1);
    cr_assert_eq(r.value.len, strlen(v) - 2);
    cr_assert_eq(r.ts_us, 1768123166000000LL);
    cr_assert(r.has_key);
    cr_assert_eq(key.len, 9);
    cr_assert_eq(memcmp(key.data, "kafka-key", 9), 0);

    /* key: a field of the event instead (the topic's own key is not used). */
    convert("events.activity", "user_id", &m, &r, &key);
    cr_assert_null(r.reason);
    cr_assert_eq(key.len, 2);
    cr_assert_eq(memcmp(key.data, "u7", 2), 0);

    /* No Kafka key and no field: keyless. */
    m = msg(v, NULL, 1000);
    convert("events.activity", NULL, &m, &r, &key);
    cr_assert_null(r.reason);
    cr_assert_not(r.has_key);
    convert("events.activity", "no.such", &m, &r, &key);
    cr_assert_not(r.has_key);
    sl_buf_free(&key);
}

Test(convert, the_kafka_time_stands_in_for_a_missing_field_only)
{
    sl_buf key = SL_BUF_INIT;
    kin_result r;
    kin_message m = msg("{\"event_id\":\"e1\",\"user_id\":\"u7\"}", NULL, 1768123166123000LL);
    convert("events.activity", NULL, &m, &r, &key);
    cr_assert_null(r.reason, "%s", r.error);
    cr_assert_eq(r.ts_us, 1768123166123000LL);
    /* A record without a timestamp: now. */
    m.ts_us = -1;
    convert("events.activity", NULL, &m, &r, &key);
    cr_assert_eq(r.ts_us, 5000000);
    /* Epoch seconds in the field win over the Kafka time. */
    m = msg("{\"event_id\":\"e1\",\"user_id\":\"u7\",\"timestamp\":1768123166.5}", NULL, 1);
    convert("events.activity", NULL, &m, &r, &key);
    cr_assert_eq(r.ts_us, 1768123166500000LL);
    /* There but unreadable: refused, unless the topic stamps instead. */
    m = msg("{\"event_id\":\"e1\",\"user_id\":\"u7\",\"timestamp\":\"yesterday\"}", NULL, 77);
    convert("events.activity", NULL, &m, &r, &key);
    cr_assert_str_eq(r.reason, "bad_timestamp");
    cr_assert(strstr(r.error, "orders/2@41: 'timestamp' is not an ISO-8601 time"), "%s", r.error);
    convert("loose", NULL, &m, &r, &key);
    cr_assert_null(r.reason, "%s", r.error);
    cr_assert_eq(r.ts_us, 77);
    sl_buf_free(&key);
}

Test(convert, rejects_name_their_reason_and_the_message)
{
    static const struct {
        const char *value, *reason, *needle;
    } cases[] = {
        { "{\"event_id\":\"e1\"", "malformed_json", "orders/2@41: malformed JSON" },
        { "{\"event_id\":\"e1\",\"user_id\":5}", "wrong_type", "'user_id' must be a string" },
        { "{\"user_id\":\"u\"}", "missing_field", "required field 'event_id'" },
        { "[{\"event_id\":\"e1\",\"user_id\":\"u\"}]", "not_object", "JSON array" },
        { "\"just a string\"", "not_object", "not an object" },
        { "{\"event_id\":\"a\",\"user_id\":\"u\"}\n{\"event_id\":\"b\",\"user_id\":\"u\"}",
          "not_one_event", "holds several JSON values" },
        { "   ", "empty_body", "empty" },
        { "{\"event_id\":\"\xff\",\"user_id\":\"u\"}", "invalid_utf8", "UTF-8" },
        { NULL, "null_value", "tombstone" },
    };
    sl_buf key = SL_BUF_INIT;
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        kin_message m = msg(cases[i].value, "k", 1);
        kin_result r;
        convert("events.activity", NULL, &m, &r, &key);
        cr_assert_str_eq(r.reason, cases[i].reason, "case %zu: %s", i, r.error);
        cr_assert(strstr(r.error, cases[i].needle), "case %zu: %s", i, r.error);
        cr_assert_not(r.has_key);
    }
    sl_buf_free(&key);
}

Test(convert, dlq_envelope_keeps_the_original)
{
    kin_converter c;
    kin_converter_init(&c, cfg, sl_config_topic(cfg, "events.activity"), NULL);
    kin_message m = msg("{\"event_id\":\"\xff\"}", NULL, 1);
    kin_result r;
    sl_buf key = SL_BUF_INIT, env = SL_BUF_INIT;
    kin_convert(&c, &m, 1, &key, &r);
    kin_dlq_envelope(&c, &m, &r, 1768123166000000LL, &env);
    cr_assert(strstr(env.data, "\"reason\":\"invalid_utf8\""), "%s", env.data);
    cr_assert(strstr(env.data, "\"source\":\"kafka\""));
    cr_assert(strstr(env.data, "\"topic\":\"events.activity\""));
    cr_assert(strstr(env.data, "\"original_base64\":\"eyJldmVudF9pZCI6Iv8ifQ==\""), "%s", env.data);
    sl_buf_reset(&env);
    m = msg(NULL, NULL, 1);
    kin_convert(&c, &m, 1, &key, &r);
    kin_dlq_envelope(&c, &m, &r, 1, &env);
    cr_assert(strstr(env.data, "\"original\":\"\""), "%s", env.data);
    sl_buf_free(&env);
    sl_buf_free(&key);
}

Test(convert, announcements_and_range_keys)
{
    char md[64], k[256];
    kin_cut_format(4711, md, sizeof md);
    cr_assert_str_eq(md, "sluice.cut=4711");
    cr_assert_eq(kin_cut_parse(md, strlen(md)), 4711);
    cr_assert_eq(kin_cut_parse("", 0), -1);
    cr_assert_eq(kin_cut_parse(NULL, 0), -1);
    cr_assert_eq(kin_cut_parse("sluice.cut=", 11), -1);
    cr_assert_eq(kin_cut_parse("sluice.cut=12x", 14), -1);
    cr_assert_eq(kin_cut_parse("other app's metadata", 20), -1);
    cr_assert_eq(kin_cut_parse("sluice.cut=12", 12), 1); /* the length given counts */

    kin_range_key("sluice.kafka", "orders", 2, 0, 4096, k, sizeof k);
    cr_assert_str_eq(k, "kin|sluice.kafka|orders|2|0-4096");
    char longname[250];
    memset(longname, 't', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    kin_range_key("sluice.kafka", longname, 2, 123456789, 123460000, k, sizeof k);
    cr_assert_leq(strlen(k), 255);
    cr_assert_eq(strncmp(k, "kin|#", 5), 0, "%s", k);
    cr_assert(strstr(k, "|2|123456789-123460000"), "%s", k);
    char k2[256];
    longname[0] = 'u';
    kin_range_key("sluice.kafka", longname, 2, 123456789, 123460000, k2, sizeof k2);
    cr_assert_str_neq(k, k2);
}

/* ---- sluice check --------------------------------------------------------------- */

static int check(const char *inputs, sl_buf *errors)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%sinputs:\n%s", CONF_YAML, inputs);
    sl_config *c = NULL;
    int rc = sl_config_parse("in.yaml", yaml, strlen(yaml), &c, errors);
    if (rc == 0) {
        rc = sl_pipeline_check(c, errors);
        sl_config_free(c);
    }
    return rc;
}

TestSuite(check);

Test(check, keys_are_checked_with_their_lines)
{
    sl_buf e = SL_BUF_INIT;
    cr_assert_eq(check("  - { type: kafka, brokers: 'h:9092', topics: orders, to: events.activity,\n"
                       "      settings: { fetch.min.bytes: 1, security.protocol: PLAINTEXT } }\n",
                       &e), 0, "%s", e.data);
    cr_assert_eq(check("  - { type: kafka, brokers: 'h:9092', to: events.activity }\n", &e),
                 SL_ERR_CONFIG);
    cr_assert(strstr(e.data, "in.yaml:8: input 'kafka': needs topics"), "%s", e.data);
    sl_buf_reset(&e);
    cr_assert_eq(check("  - type: kafka\n    brokers: 'h:9092'\n    topics: [a, b]\n"
                       "    to: nowhere\n", &e), SL_ERR_CONFIG);
    cr_assert(strstr(e.data, "in.yaml:11: input 'kafka': to names undeclared topic 'nowhere'"),
              "%s", e.data);
    sl_buf_reset(&e);
    cr_assert_eq(check("  - { type: kafka, topics: orders, to: events.activity }\n", &e),
                 SL_ERR_CONFIG);
    cr_assert(strstr(e.data, "needs brokers"), "%s", e.data);
    sl_buf_reset(&e);
    cr_assert_eq(check("  - type: kafka\n    brokers: 'h:9092'\n    topics: orders\n"
                       "    to: events.activity\n"
                       "    settings: { group.id: mine, no.such.property: 1 }\n", &e),
                 SL_ERR_CONFIG);
    cr_assert(strstr(e.data, "in.yaml:12: input 'kafka': settings: group.id is set by sluice"),
              "%s", e.data);
    cr_assert(strstr(e.data, "No such configuration property: \"no.such.property\""), "%s",
              e.data);
    sl_buf_reset(&e);
    cr_assert_eq(check("  - { type: kafka, brokers: 'h:9092', topics: orders, to: _dlq }\n", &e),
                 SL_ERR_CONFIG);
    cr_assert_eq(check("  - { type: kafka, brokers: 'h:9092', topics: orders, to: loose,\n"
                       "      batch: 0, batch_bytes: 1MiB, max_inflight: 1KiB }\n", &e),
                 SL_ERR_CONFIG);
    cr_assert(strstr(e.data, "batch must be"), "%s", e.data);
    cr_assert(strstr(e.data, "max_inflight must be"), "%s", e.data);
    sl_buf_free(&e);
}

Test(check, the_logs_own_cluster_is_the_default_and_no_loop)
{
    sl_buf e = SL_BUF_INIT;
    const char *yaml =
        "log: { backend: kafka }\n"
        "kafka: { bootstrap.servers: 'h:9092' }\n"
        "topics: { a: { partitions: 1 }, b: { partitions: 1 } }\n"
        "inputs:\n"
        "  - { type: kafka, topics: [x, b], to: b }\n";
    sl_config *c = NULL;
    cr_assert_eq(sl_config_parse("own.yaml", yaml, strlen(yaml), &c, &e), 0, "%s", e.data);
    cr_assert_eq(sl_pipeline_check(c, &e), SL_ERR_CONFIG);
    cr_assert(strstr(e.data, "reads 'b' from the log's own cluster and writes it: a loop"), "%s",
              e.data);
    sl_config_free(c);
    sl_buf_free(&e);
}

/* ---- against the mock cluster ---------------------------------------------------------- */

static rd_kafka_t *host;
static rd_kafka_mock_cluster_t *mc;
static char bootstrap[512];
static char dir[64];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* The hard bound below: say so before dying, or the log shows only a signal. */
static void over_time(int sig)
{
    (void)sig;
    static const char msg[] = "test_kafka_input: the test ran past its 170 s bound\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
        _exit(3);
    _exit(2);
}

static void mock_setup(void)
{
    char err[256];
    sl_log_set_level(getenv("KIN_DEBUG") ? SL_LOG_INFO : SL_LOG_ERROR);
    /* As `sluice run` does: the mock brokers write to sockets that clients
       have closed, and SIGPIPE would kill the test process. */
    signal(SIGPIPE, SIG_IGN);
    /* A hard bound above the test's own deadlines (3 x 40 s + 10 s);
       Criterion's .timeout leaks under ASan. */
    signal(SIGALRM, over_time);
    alarm(170);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(host, "%s", err);
    mc = rd_kafka_mock_cluster_new(host, 3);
    cr_assert_not_null(mc);
    snprintf(bootstrap, sizeof bootstrap, "%s", rd_kafka_mock_cluster_bootstraps(mc));
    cr_assert_eq(rd_kafka_mock_topic_create(mc, "orders", 1, 3), 0);
    cr_assert_eq(rd_kafka_mock_topic_create(mc, "payments", 2, 3), 0);
    strcpy(dir, "/tmp/sluice-kin-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void mock_teardown(void)
{
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    sl_metrics_reset();
}

TestSuite(mock, .init = mock_setup, .fini = mock_teardown);

/* Produce value (and key) to topic/partition, waiting for delivery. */
static void produce(const char *topic, int32_t partition, const char *key, const char *value)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    static rd_kafka_t *p;
    static char for_bootstrap[512];
    if (!p || strcmp(for_bootstrap, bootstrap) != 0) {
        if (p)
            rd_kafka_destroy(p);
        p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        cr_assert_not_null(p, "%s", err);
        snprintf(for_bootstrap, sizeof for_bootstrap, "%s", bootstrap);
    } else {
        rd_kafka_conf_destroy(conf);
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(e, 0, "%s", rd_kafka_err2str(e));
    cr_assert_eq(rd_kafka_flush(p, 10000), 0);
}

typedef struct running {
    sl_config *cfg;
    sl_log *log;
    sl_topic_spec *specs;
    sl_pipeline *p;
} running;

static void start(running *r, const char *extra)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "data_dir: %s/data\n"
             "topics:\n"
             "  events.activity: { partitions: 3, key: user_id, require: { event_id: string } }\n"
             "outputs: []\nprocessors: []\n"
             "inputs:\n"
             "  - type: kafka\n"
             "    brokers: '%s'\n"
             "    topics: orders\n"
             "    to: events.activity\n"
             "    batch: 10\n"
             "    linger: 50ms\n"
             "    commit_interval: 50ms\n"
             "    settings: { session.timeout.ms: 6000, heartbeat.interval.ms: 100 }\n%s",
             dir, bootstrap, extra ? extra : "");
    sl_buf e = SL_BUF_INIT;
    memset(r, 0, sizeof *r);
    cr_assert_eq(sl_config_parse("t.yaml", yaml, strlen(yaml), &r->cfg, &e), 0, "%s", e.data);
    cr_assert_eq(sl_pipeline_check(r->cfg, &e), 0, "%s", e.data);
    sl_buf_free(&e);
    sl_log_options o;
    sl_config_log_options(r->cfg, &o, &r->specs);
    cr_assert_eq(sl_log_open(&o, &r->log), 0);
    cr_assert_eq(sl_pipeline_start(r->cfg, r->log, NULL, &r->p), 0);
}

static void stop(running *r)
{
    sl_pipeline_stop(r->p);
    sl_log_close(r->log);
    free(r->specs);
    sl_config_free(r->cfg);
}

static int64_t records(sl_log *log, const char *topic, int32_t partitions)
{
    int64_t n = 0;
    for (int32_t p = 0; p < partitions; p++) {
        int64_t s, e;
        cr_assert_eq(sl_log_offsets(log, topic, p, &s, &e), 0);
        n += e - s;
    }
    return n;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait (bounded) until the topic holds n records. */
static void wait_records(sl_log *log, const char *topic, int32_t partitions, int64_t n)
{
    int64_t deadline = mono_ms() + 40000;
    while (records(log, topic, partitions) < n && mono_ms() < deadline)
        usleep(20000);
    cr_assert_eq(records(log, topic, partitions), n);
}

/* The group's committed offset and metadata of orders/0. */
static int64_t committed(const char *group, char *md, size_t mdlen)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    cr_assert_not_null(c);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "orders", 0);
    cr_assert_eq(rd_kafka_committed(c, l, 10000), 0);
    int64_t off = l->elems[0].offset;
    snprintf(md, mdlen, "%.*s", (int)l->elems[0].metadata_size,
             l->elems[0].metadata ? (const char *)l->elems[0].metadata : "");
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(c);
    return off;
}

/* Commit orders/0 for the group (as a crash would have left it). The 2.0.2
   mock takes commits of a group that has existed only from a member, so
   this joins the group, waits for the partition, commits and leaves. */
static void commit_back(const char *group, int64_t offset, const char *md)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "session.timeout.ms", "6000", err, sizeof err);
    rd_kafka_conf_set(conf, "heartbeat.interval.ms", "100", err, sizeof err);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    cr_assert_not_null(c);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, "orders", RD_KAFKA_PARTITION_UA);
    cr_assert_eq(rd_kafka_subscribe(c, sub), 0);
    rd_kafka_topic_partition_list_destroy(sub);
    int64_t deadline = mono_ms() + 40000;
    rd_kafka_topic_partition_list_t *have = NULL;
    while (mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (m)
            rd_kafka_message_destroy(m);
        cr_assert_eq(rd_kafka_assignment(c, &have), 0);
        int cnt = have->cnt;
        rd_kafka_topic_partition_list_destroy(have);
        if (cnt)
            break;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_add(l, "orders", 0);
    e->offset = offset;
    if (md) {
        e->metadata = strdup(md);
        e->metadata_size = strlen(md);
    }
    rd_kafka_resp_err_t rc = rd_kafka_commit(c, l, 0);
    cr_assert_eq(rc, 0, "%s", rd_kafka_err2str(rc));
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

static double metric(const char *needle)
{
    sl_buf out = SL_BUF_INIT;
    sl_metrics_render(&out);
    const char *at = strstr(out.data, needle);
    double v = at ? atof(at + strlen(needle)) : 0;
    sl_buf_free(&out);
    return v;
}

Test(mock, messages_in_rejects_kept_commits_follow_and_rereads_store_nothing_twice)
{
    /* 100 messages on one partition: with batch 10 every range is cut by
       content, [0,10) ... [90,100). */
    char v[160], k[16];
    for (int i = 0; i < 100; i++) {
        if (i == 37)
            snprintf(v, sizeof v, "{\"user_id\":\"u%d\"}", i); /* no event_id */
        else
            snprintf(v, sizeof v, "{\"event_id\":\"e%d\",\"user_id\":\"u%d\",\"timestamp\":%d}",
                     i, i % 7, 1768123166 + i);
        snprintf(k, sizeof k, "k%d", i % 5);
        produce("orders", 0, k, v);
    }
    running r;
    start(&r, NULL);
    wait_records(r.log, "events.activity", 3, 99);
    wait_records(r.log, SL_DLQ_TOPIC, 1, 1);
    /* Keys: the Kafka ones, placed by murmur2. */
    for (int32_t p = 0; p < 3; p++) {
        sl_fetch f;
        cr_assert_eq(sl_log_read(r.log, "events.activity", p, 0, 1000, 1 << 20, 0, &f), 0);
        for (size_t i = 0; i < f.n; i++) {
            cr_assert_eq(f.msgs[i].key.len, 2);
            cr_assert_eq(sl_log_partition_for_key(f.msgs[i].key, 3), p);
            cr_assert_geq(f.msgs[i].ts_us, 1768123166000000LL);
        }
        sl_fetch_release(&f);
    }
    int64_t deadline = mono_ms() + 10000;
    char md[64];
    while (committed("sluice.kafka", md, sizeof md) != 100 && mono_ms() < deadline)
        usleep(50000);
    cr_assert_eq(committed("sluice.kafka", md, sizeof md), 100);
    cr_assert_str_eq(md, "");
    cr_assert_eq(metric("sluice_kafka_input_records_total{input=\"kafka\"} "), 99);
    cr_assert_eq(metric("sluice_kafka_input_rejected_total{input=\"kafka\",reason=\"missing_field\"} "),
                 1);
    stop(&r);

    /* The commit lost (a crash before it): everything is read again, and
       the log keeps its first copies. */
    commit_back("sluice.kafka", 0, NULL);
    start(&r, NULL);
    deadline = mono_ms() + 40000;
    while (committed("sluice.kafka", md, sizeof md) != 100 && mono_ms() < deadline)
        usleep(50000);
    cr_assert_eq(committed("sluice.kafka", md, sizeof md), 100);
    cr_assert_eq(records(r.log, "events.activity", 3), 99);
    cr_assert_eq(records(r.log, SL_DLQ_TOPIC, 1), 1);
    cr_assert_gt(metric("\nsluice_log_idempotent_retries_total "), 0);

    /* Five more: no content cut, so after linger the range [100,105) is
       announced in the commit metadata before it is appended. */
    for (int i = 100; i < 105; i++) {
        snprintf(v, sizeof v, "{\"event_id\":\"e%d\",\"user_id\":\"u1\"}", i);
        produce("orders", 0, "k1", v);
    }
    wait_records(r.log, "events.activity", 3, 104);
    stop(&r);

    /* A crash right after the announcement, and five more messages since:
       the re-read must cut [100,105) where the announcement says (batch
       alone would make it [100,110)), so the log recognises it. */
    for (int i = 105; i < 110; i++) {
        snprintf(v, sizeof v, "{\"event_id\":\"e%d\",\"user_id\":\"u1\"}", i);
        produce("orders", 0, "k1", v);
    }
    commit_back("sluice.kafka", 100, "sluice.cut=105");
    start(&r, NULL);
    deadline = mono_ms() + 40000;
    while (committed("sluice.kafka", md, sizeof md) != 110 && mono_ms() < deadline)
        usleep(50000);
    cr_assert_eq(committed("sluice.kafka", md, sizeof md), 110);
    cr_assert_eq(records(r.log, "events.activity", 3), 109);
    stop(&r);
}
