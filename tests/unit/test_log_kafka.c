/*
 * test_log_kafka.c - the Kafka backend through the public API (log.h),
 * against librdkafka's mock cluster hosted in the test process (3 brokers
 * on loopback, a fresh cluster per test): appends and reads, keys on the
 * same murmur2 partitions as the embedded log, completion only after
 * delivery, injected broker errors, backpressure, topic checks at open,
 * group offsets, consumer groups splitting and rebalancing partitions with
 * their hooks, seeks, metrics, and a throughput figure (printed, not
 * asserted). Data stays small: the mock keeps ~5 MB per partition.
 */
#include "core/metrics.h"
#include "log/log.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static rd_kafka_t *host;
static rd_kafka_mock_cluster_t *mc;
static char bootstrap[512];

static void setup(void)
{
    char err[256];
    /* As `sluice run` does: the mock brokers write to sockets that clients
       have closed, and SIGPIPE would kill the test process. */
    signal(SIGPIPE, SIG_IGN);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(host, "%s", err);
    mc = rd_kafka_mock_cluster_new(host, 3);
    cr_assert_not_null(mc);
    snprintf(bootstrap, sizeof bootstrap, "%s", rd_kafka_mock_cluster_bootstraps(mc));
    cr_assert_eq(rd_kafka_mock_topic_create(mc, "logs.raw", 3, 3), 0);
    cr_assert_eq(rd_kafka_mock_topic_create(mc, "one", 1, 3), 0);
    cr_assert_eq(rd_kafka_mock_topic_create(mc, "_dlq", 1, 3), 0);
}

static void teardown(void)
{
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
    sl_metrics_reset();
}

TestSuite(kafka, .init = setup, .fini = teardown, .timeout = 60);

static sl_topic_spec topics[] = {
    { .name = "logs.raw", .partitions = 3, .replication = 3 },
    { .name = "one", .partitions = 1, .replication = 3 },
};

/* Open on the mock with extra kafka conf pairs (NULL-terminated, may be NULL). */
static int open_kafka(sl_log **log, const sl_topic_spec *specs, size_t n, const char *const *extra,
                      int64_t max_pending)
{
    const char *conf[64];
    size_t k = 0;
    conf[k++] = "bootstrap.servers";
    conf[k++] = bootstrap;
    conf[k++] = "sluice.timeout.ms";
    conf[k++] = "3000";
    conf[k++] = "sluice.metrics.refresh.ms";
    conf[k++] = "100";
    /* A rebalance on the mock waits for heartbeats: make them quick. */
    conf[k++] = "heartbeat.interval.ms";
    conf[k++] = "100";
    conf[k++] = "session.timeout.ms";
    conf[k++] = "6000";
    for (size_t i = 0; extra && extra[i]; i++)
        conf[k++] = extra[i];
    conf[k] = NULL;
    sl_log_options o = { .backend = "kafka", .topics = specs, .ntopics = n, .kafka_conf = conf,
                         .max_pending_bytes = max_pending };
    *log = NULL;
    return sl_log_open(&o, log);
}

static sl_log *open_default(void)
{
    sl_log *log;
    int rc = open_kafka(&log, topics, SL_ARRAY_LEN(topics), NULL, 0);
    cr_assert_eq(rc, 0, "open: %s", sl_strerror(rc));
    return log;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read a whole partition [from, end) in order; returns the record count. */
static size_t read_all(sl_log *log, const char *topic, int32_t p, int64_t from, int64_t end,
                       void (*each)(const sl_message *m, void *arg), void *arg)
{
    size_t n = 0;
    int64_t pos = from;
    while (pos < end) {
        sl_fetch f;
        int rc = sl_log_read(log, topic, p, pos, 100, 1 << 20, 1000, &f);
        cr_assert_eq(rc, 0, "read %s/%d at %lld: %s", topic, p, (long long)pos, sl_strerror(rc));
        cr_assert_gt(f.n, 0, "nothing read at %s/%d:%lld (end %lld)", topic, p, (long long)pos,
                     (long long)end);
        for (size_t i = 0; i < f.n; i++) {
            cr_assert_eq(f.msgs[i].offset, pos + (int64_t)i);
            cr_assert_eq(f.msgs[i].partition, p);
            if (each)
                each(&f.msgs[i], arg);
        }
        n += f.n;
        pos = f.next_offset;
        sl_fetch_release(&f);
    }
    return n;
}

/* ---- open and topics ----------------------------------------------------------------- */

Test(kafka, open_needs_bootstrap_and_known_sluice_keys)
{
    sl_log *log = NULL;
    const char *none[] = { NULL };
    sl_log_options o = { .backend = "kafka", .topics = topics, .ntopics = 1, .kafka_conf = none };
    cr_assert_eq(sl_log_open(&o, &log), SL_ERR_CONFIG);
    cr_assert_null(log);
    const char *bad[] = { "sluice.no.such.key", "1", NULL };
    cr_assert_eq(open_kafka(&log, topics, 1, bad, 0), SL_ERR_CONFIG);
    const char *bad_bool[] = { "sluice.accept.partition.mismatch", "yes", NULL };
    cr_assert_eq(open_kafka(&log, topics, 1, bad_bool, 0), SL_ERR_CONFIG);
    const char *bad_rdkafka[] = { "no.such.librdkafka.key", "1", NULL };
    cr_assert_eq(open_kafka(&log, topics, 1, bad_rdkafka, 0), SL_ERR_CONFIG);
    const char *odd[] = { "linger.ms", NULL };
    cr_assert_eq(open_kafka(&log, topics, 1, odd, 0), SL_ERR_CONFIG);
}

Test(kafka, topics_are_the_declared_ones_with_dlq)
{
    sl_log *log = open_default();
    sl_topic_info *ti;
    size_t n;
    cr_assert_eq(sl_log_topics(log, &ti, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(ti[0].name, "logs.raw");
    cr_assert_eq(ti[0].partitions, 3);
    cr_assert_str_eq(ti[1].name, "one");
    cr_assert_eq(ti[1].partitions, 1);
    cr_assert_str_eq(ti[2].name, "_dlq");
    cr_assert_eq(ti[2].partitions, 1);
    sl_log_topics_free(ti, n);
    sl_record r = { .value = SL_VIEW_LIT("x"), .partition = SL_PARTITION_AUTO };
    cr_assert_eq(sl_log_append_sync(log, "undeclared", &r, 1, NULL, NULL), SL_ERR_NOTOPIC);
    int64_t s, e;
    cr_assert_eq(sl_log_offsets(log, "undeclared", 0, &s, &e), SL_ERR_NOTOPIC);
    cr_assert_eq(sl_log_offsets(log, "logs.raw", 3, &s, &e), SL_ERR_NOPARTITION);
    sl_log_close(log);
}

Test(kafka, partition_mismatch_is_refused_unless_accepted)
{
    /* "one" exists with 1 partition; declare it with 3. */
    sl_topic_spec specs[] = { { .name = "one", .partitions = 3, .replication = 1 } };
    sl_log *log;
    int64_t t0 = mono_ms();
    cr_assert_eq(open_kafka(&log, specs, 1, NULL, 0), SL_ERR_CONFIG);
    cr_assert_null(log);
    cr_assert_lt(mono_ms() - t0, 3000, "a mismatch is found from metadata, without waiting");

    const char *accept[] = { "sluice.accept.partition.mismatch", "true", NULL };
    cr_assert_eq(open_kafka(&log, specs, 1, accept, 0), 0);
    sl_topic_info *ti;
    size_t n;
    cr_assert_eq(sl_log_topics(log, &ti, &n), 0);
    cr_assert_eq(ti[0].partitions, 1, "the cluster's count is used");
    sl_log_topics_free(ti, n);
    int32_t part;
    sl_record r = { .key = SL_VIEW_LIT("some-key"), .value = SL_VIEW_LIT("v"),
                    .partition = SL_PARTITION_AUTO };
    cr_assert_eq(sl_log_append_sync(log, "one", &r, 1, &part, NULL), 0);
    cr_assert_eq(part, 0);
    sl_log_close(log);
}

Test(kafka, missing_topic_without_create_topics_fails_clearly)
{
    /* The 2.0.2 mock does not answer CreateTopics: the request times out
       (bounded by sluice.timeout.ms) and the metadata check reports it. */
    sl_topic_spec specs[] = { { .name = "not.there", .partitions = 2, .replication = 1 } };
    sl_log *log;
    const char *quick[] = { "sluice.timeout.ms", "500", NULL };
    int64_t t0 = mono_ms();
    cr_assert_eq(open_kafka(&log, specs, 1, quick, 0), SL_ERR_CONFIG);
    cr_assert_lt(mono_ms() - t0, 10000);
}

/* ---- appends and reads ----------------------------------------------------------------- */

typedef struct seen {
    size_t n;
    char keys[64][32];
    char values[64][32];
    int64_t ts[64];
} seen;

static void collect(const sl_message *m, void *arg)
{
    seen *s = arg;
    if (s->n < 64) {
        snprintf(s->keys[s->n], 32, "%.*s", (int)m->key.len, m->key.ptr ? m->key.ptr : "");
        snprintf(s->values[s->n], 32, "%.*s", (int)m->value.len, m->value.ptr);
        s->ts[s->n] = m->ts_us;
    }
    s->n++;
}

Test(kafka, append_read_round_trip)
{
    sl_log *log = open_default();
    sl_record recs[10];
    char keys[10][24], vals[10][24];
    int64_t ts0 = 1767700000123456LL;
    for (int i = 0; i < 10; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        snprintf(vals[i], sizeof vals[i], "value-%d", i);
        recs[i] = (sl_record){ .key = sl_view_of(keys[i]), .value = sl_view_of(vals[i]),
                               .ts_us = ts0 + i * 1000, .partition = SL_PARTITION_AUTO };
    }
    int32_t parts[10];
    int64_t offs[10];
    cr_assert_eq(sl_log_append_sync(log, "logs.raw", recs, 10, parts, offs), 0);
    for (int p = 0; p < 3; p++) {
        int64_t start, end;
        cr_assert_eq(sl_log_offsets(log, "logs.raw", p, &start, &end), 0);
        seen s = { 0 };
        read_all(log, "logs.raw", p, start, end, collect, &s);
        size_t expect = 0;
        for (int i = 0; i < 10; i++)
            if (parts[i] == p) {
                cr_assert_lt(offs[i], end);
                cr_assert_str_eq(s.keys[offs[i]], keys[i]);
                cr_assert_str_eq(s.values[offs[i]], vals[i]);
                /* Kafka keeps milliseconds. */
                cr_assert_eq(s.ts[offs[i]], (ts0 + i * 1000) / 1000 * 1000);
                expect++;
            }
        cr_assert_eq(s.n, expect);
        cr_assert_eq(end - start, (int64_t)expect);
    }
    /* Offsets out of range, and waiting at the end. */
    sl_fetch f;
    int64_t start, end;
    sl_log_offsets(log, "one", 0, &start, &end);
    cr_assert_eq(sl_log_read(log, "one", 0, end + 5, 10, 1 << 20, 0, &f), SL_ERR_RANGE);
    int64_t t0 = mono_ms();
    cr_assert_eq(sl_log_read(log, "one", 0, end, 10, 1 << 20, 200, &f), 0);
    cr_assert_eq(f.n, 0);
    cr_assert_eq(f.next_offset, end);
    cr_assert_geq(mono_ms() - t0, 150);
    sl_fetch_release(&f);
    sl_log_close(log);
}

Test(kafka, read_limits_keep_the_rest_for_the_next_read)
{
    sl_log *log = open_default();
    sl_record recs[50];
    char vals[50][24];
    for (int i = 0; i < 50; i++) {
        snprintf(vals[i], sizeof vals[i], "v%02d", i);
        recs[i] = (sl_record){ .value = sl_view_of(vals[i]), .partition = 0 };
    }
    cr_assert_eq(sl_log_append_sync(log, "one", recs, 50, NULL, NULL), 0);
    int64_t pos = 0;
    size_t total = 0, calls = 0;
    while (pos < 50) {
        sl_fetch f;
        cr_assert_eq(sl_log_read(log, "one", 0, pos, 7, 1 << 20, 0, &f), 0);
        cr_assert_gt(f.n, 0);
        cr_assert_leq(f.n, 7);
        for (size_t i = 0; i < f.n; i++) {
            char want[24];
            snprintf(want, sizeof want, "v%02d", (int)(pos + (int64_t)i));
            cr_assert_eq(f.msgs[i].value.len, strlen(want));
            cr_assert_eq(memcmp(f.msgs[i].value.ptr, want, f.msgs[i].value.len), 0);
            cr_assert_null(f.msgs[i].key.ptr, "keyless");
        }
        total += f.n;
        calls++;
        pos = f.next_offset;
        sl_fetch_release(&f);
    }
    cr_assert_eq(total, 50);
    cr_assert_geq(calls, 8);
    /* max_bytes: at least one record, and no more than fit. */
    sl_fetch f;
    cr_assert_eq(sl_log_read(log, "one", 0, 10, 100, 1, 0, &f), 0);
    cr_assert_eq(f.n, 1);
    cr_assert_eq(f.msgs[0].offset, 10);
    sl_fetch_release(&f);
    /* A jump back is a seek. */
    cr_assert_eq(sl_log_read(log, "one", 0, 3, 2, 1 << 20, 0, &f), 0);
    cr_assert_eq(f.n, 2);
    cr_assert_eq(f.msgs[0].offset, 3);
    sl_fetch_release(&f);
    sl_log_close(log);
}

Test(kafka, keys_land_on_the_murmur2_partitions_of_the_embedded_log)
{
    sl_log *log = open_default();
    /* The embedded log, on disk, with the same topic. */
    char dir[64];
    strcpy(dir, "/tmp/sluice-kafka-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    sl_log_options eo = { .data_dir = dir, .fsync = SL_FSYNC_OS, .topics = topics, .ntopics = 1 };
    sl_log *emb;
    cr_assert_eq(sl_log_open(&eo, &emb), 0);

    enum { N = 60 };
    sl_record recs[N];
    char keys[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "service-%d", i * 7919);
        recs[i] = (sl_record){ .key = sl_view_of(keys[i]), .value = SL_VIEW_LIT("{}"),
                               .partition = SL_PARTITION_AUTO };
    }
    int32_t kp[N], ep[N];
    cr_assert_eq(sl_log_append_sync(log, "logs.raw", recs, N, kp, NULL), 0);
    cr_assert_eq(sl_log_append_sync(emb, "logs.raw", recs, N, ep, NULL), 0);
    int used[3] = { 0 };
    for (int i = 0; i < N; i++) {
        cr_assert_eq(kp[i], ep[i], "key %s: kafka %d, embedded %d", keys[i], kp[i], ep[i]);
        cr_assert_eq(kp[i], sl_log_partition_for_key(sl_view_of(keys[i]), 3));
        used[kp[i]]++;
    }
    cr_assert(used[0] && used[1] && used[2]);
    /* And the broker has them where the completion said. */
    for (int p = 0; p < 3; p++) {
        int64_t s, e;
        cr_assert_eq(sl_log_offsets(log, "logs.raw", p, &s, &e), 0);
        cr_assert_eq(e - s, used[p]);
    }
    sl_log_close(emb);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    sl_log_close(log);
}

Test(kafka, keyless_calls_rotate_and_idempotency_key_decides)
{
    sl_log *log = open_default();
    sl_record recs[4];
    for (int i = 0; i < 4; i++)
        recs[i] = (sl_record){ .value = SL_VIEW_LIT("x"), .partition = SL_PARTITION_AUTO };
    int32_t first[4], second[4];
    cr_assert_eq(sl_log_append_sync(log, "logs.raw", recs, 4, first, NULL), 0);
    cr_assert_eq(sl_log_append_sync(log, "logs.raw", recs, 4, second, NULL), 0);
    for (int i = 1; i < 4; i++) {
        cr_assert_eq(first[i], first[0], "one partition per call");
        cr_assert_eq(second[i], second[0]);
    }
    cr_assert_eq(second[0], (first[0] + 1) % 3, "rotating between calls");
    sl_log_close(log);
}

/* ---- completion ------------------------------------------------------------------------- */

typedef struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int calls;
    int status;
    int32_t partitions[64];
    int64_t offsets[64];
    int64_t at_ms;
} waiter;

static void waiter_init(waiter *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
}

static void on_done(void *opaque, int status, const int32_t *partitions, const int64_t *offsets,
                    size_t n)
{
    waiter *w = opaque;
    pthread_mutex_lock(&w->lock);
    w->status = status;
    for (size_t i = 0; i < n && i < 64; i++) {
        w->partitions[i] = partitions[i];
        w->offsets[i] = offsets[i];
    }
    w->at_ms = mono_ms();
    atomic_fetch_add(&w->calls, 1);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static bool waiter_wait(waiter *w, int ms)
{
    int64_t deadline = mono_ms() + ms;
    pthread_mutex_lock(&w->lock);
    while (atomic_load(&w->calls) == 0 && mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    pthread_mutex_unlock(&w->lock);
    return atomic_load(&w->calls) > 0;
}

/* A header of the record at offset of topic/partition, read with a plain
   librdkafka consumer (the test's own client, not sluice's reader). Returns
   the value's length (copied into out), or -1 when the header is absent. */
static ssize_t raw_header(const char *topic, int32_t partition, int64_t offset, const char *name,
                          char *out, size_t cap)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "test-raw", err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
    cr_assert_eq(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    ssize_t len = -2;
    for (int64_t deadline = mono_ms() + 10000; len == -2 && mono_ms() < deadline;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m && !m->err) {
            cr_assert_eq(m->offset, offset);
            rd_kafka_headers_t *hdrs = NULL;
            const void *v;
            size_t vlen;
            len = -1;
            if (rd_kafka_message_headers(m, &hdrs) == 0 &&
                rd_kafka_header_get_last(hdrs, name, &v, &vlen) == 0 && vlen <= cap) {
                memcpy(out, v, vlen);
                len = (ssize_t)vlen;
            }
        }
        if (m)
            rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    cr_assert_neq(len, -2, "nothing read from %s/%d at %lld", topic, partition, (long long)offset);
    return len;
}

Test(kafka, idempotency_key_is_a_header_and_places_keyless_records)
{
    sl_log *log = open_default();
    sl_record recs[3];
    for (int i = 0; i < 3; i++)
        recs[i] = (sl_record){ .value = SL_VIEW_LIT("{}"), .partition = SL_PARTITION_AUTO };
    sl_view key = SL_VIEW_LIT("req-7-000042");
    int32_t want = sl_log_partition_for_key(key, 3);
    waiter w;
    waiter_init(&w);
    cr_assert_eq(sl_log_append_idempotent(log, "logs.raw", recs, 3, key, on_done, &w), 0);
    cr_assert(waiter_wait(&w, 10000));
    cr_assert_eq(w.status, 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(w.partitions[i], want, "keyless records follow the key's partition");

    char got[64];
    ssize_t glen = raw_header("logs.raw", want, w.offsets[1], "sluice.idempotency-key", got,
                              sizeof got);
    cr_assert_eq(glen, (ssize_t)key.len, "the record carries the key as a header");
    cr_assert_eq(memcmp(got, key.ptr, key.len), 0);

    /* A retry of the same request is written again on Kafka (documented):
       the header lets a consumer drop it. */
    waiter w2;
    waiter_init(&w2);
    cr_assert_eq(sl_log_append_idempotent(log, "logs.raw", recs, 3, key, on_done, &w2), 0);
    cr_assert(waiter_wait(&w2, 10000));
    cr_assert_eq(w2.status, 0);
    cr_assert_eq(w2.partitions[0], want);
    cr_assert_eq(w2.offsets[0], w.offsets[2] + 1);
    sl_log_close(log);
}

Test(kafka, completion_fires_once_after_every_delivery)
{
    sl_log *log = open_default();
    /* Every broker answers 300 ms late: the callback must wait for that. */
    rd_kafka_mock_broker_set_rtt(mc, -1, 300);
    sl_record recs[30];
    char keys[30][24];
    for (int i = 0; i < 30; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        recs[i] = (sl_record){ .key = sl_view_of(keys[i]), .value = SL_VIEW_LIT("v"),
                               .partition = SL_PARTITION_AUTO };
    }
    waiter w;
    waiter_init(&w);
    int64_t t0 = mono_ms();
    cr_assert_eq(sl_log_append(log, "logs.raw", recs, 30, on_done, &w), 0);
    cr_assert_eq(atomic_load(&w.calls), 0, "not before delivery");
    cr_assert(waiter_wait(&w, 10000));
    cr_assert_eq(w.status, 0);
    cr_assert_geq(w.at_ms - t0, 250, "completed after %lld ms, before the brokers answered",
                  (long long)(w.at_ms - t0));
    int64_t per[3] = { 0 };
    for (int i = 0; i < 30; i++) {
        cr_assert_eq(w.partitions[i], sl_log_partition_for_key(sl_view_of(keys[i]), 3));
        cr_assert_eq(w.offsets[i], per[w.partitions[i]]++, "offsets in record order");
    }
    usleep(200 * 1000);
    cr_assert_eq(atomic_load(&w.calls), 1, "exactly once");
    rd_kafka_mock_broker_set_rtt(mc, -1, 0);
    sl_log_close(log);
}

Test(kafka, broker_errors_fail_the_completion_and_the_log_recovers)
{
    sl_log *log = open_default();
    sl_record r = { .value = SL_VIEW_LIT("v"), .partition = 0 };
    /* A permanent error: the delivery fails at once. */
    rd_kafka_mock_push_request_errors(mc, 0, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
    cr_assert_lt(sl_log_append_sync(log, "one", &r, 1, NULL, NULL), 0);
    /* Retriable errors beyond message.timeout.ms: a timeout. */
    sl_log_close(log);
    const char *quick[] = { "message.timeout.ms", "700", NULL };
    cr_assert_eq(open_kafka(&log, topics, SL_ARRAY_LEN(topics), quick, 0), 0);
    rd_kafka_resp_err_t many[300];
    for (int i = 0; i < 300; i++)
        many[i] = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS;
    rd_kafka_mock_push_request_errors_array(mc, 0, 300, many);
    cr_assert_eq(sl_log_append_sync(log, "one", &r, 1, NULL, NULL), SL_ERR_TIMEOUT);
    rd_kafka_mock_clear_request_errors(mc, 0);
    /* A few retriable errors are absorbed by the producer's own retries. */
    rd_kafka_mock_push_request_errors(mc, 0, 2, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    int64_t off;
    cr_assert_eq(sl_log_append_sync(log, "one", &r, 1, NULL, &off), 0);
    sl_fetch f;
    cr_assert_eq(sl_log_read(log, "one", 0, off, 10, 1 << 20, 0, &f), 0);
    cr_assert_eq(f.n, 1);
    sl_fetch_release(&f);
    /* The errors were counted. */
    sl_buf text = SL_BUF_INIT;
    sl_metrics_render(&text);
    cr_assert_not_null(strstr(text.data, "sluice_kafka_delivery_errors_total{topic=\"one\"} "));
    sl_buf_free(&text);
    sl_log_close(log);
}

Test(kafka, backpressure_refuses_whole_calls)
{
    sl_log *log;
    cr_assert_eq(open_kafka(&log, topics, SL_ARRAY_LEN(topics), NULL, 4096), 0);
    rd_kafka_mock_broker_set_down(mc, -1);
    static char big[1000];
    memset(big, 'x', sizeof big);
    sl_record recs[3];
    for (int i = 0; i < 3; i++)
        recs[i] = (sl_record){ .value = { big, sizeof big }, .partition = SL_PARTITION_AUTO };
    waiter w1, w2;
    waiter_init(&w1);
    waiter_init(&w2);
    cr_assert_eq(sl_log_append(log, "logs.raw", recs, 3, on_done, &w1), 0);
    /* 3000 bytes undelivered + 3000 more > 4096: refused, nothing produced. */
    cr_assert_eq(sl_log_append(log, "logs.raw", recs, 3, on_done, &w2), SL_ERR_FULL);
    rd_kafka_mock_broker_set_up(mc, -1);
    cr_assert(waiter_wait(&w1, 20000));
    cr_assert_eq(w1.status, 0);
    usleep(100 * 1000);
    cr_assert_eq(atomic_load(&w2.calls), 0, "a refused call never completes");
    int64_t total = 0;
    for (int p = 0; p < 3; p++) {
        int64_t s, e;
        cr_assert_eq(sl_log_offsets(log, "logs.raw", p, &s, &e), 0);
        total += e - s;
    }
    cr_assert_eq(total, 3, "only the accepted call's records are on the cluster");
    sl_log_close(log);
}

Test(kafka, a_call_refused_midway_completes_with_the_error)
{
    /* librdkafka's own queue (1 KiB) is smaller than one call: a lone call
       still goes, and when the queue fills in its middle it waits for room. */
    sl_log *log;
    const char *tiny[] = { "queue.buffering.max.kbytes", "1", "message.timeout.ms", "3000",
                           NULL };
    cr_assert_eq(open_kafka(&log, topics, SL_ARRAY_LEN(topics), tiny, 0), 0);
    static char big[200];
    memset(big, 'y', sizeof big);
    sl_record recs[20];
    for (int i = 0; i < 20; i++)
        recs[i] = (sl_record){ .value = { big, sizeof big }, .partition = 0 };
    /* Brokers up: room comes back as records are delivered; all 20 make it. */
    waiter w;
    waiter_init(&w);
    cr_assert_eq(sl_log_append(log, "one", recs, 20, on_done, &w), 0);
    cr_assert(waiter_wait(&w, 10000));
    cr_assert_eq(w.status, 0);
    cr_assert_eq(w.offsets[19], w.offsets[0] + 19);

    /* Brokers down: no room comes; the call stops producing and completes
       with SL_ERR_FULL once the records it handed over have reported. */
    rd_kafka_mock_broker_set_down(mc, -1);
    waiter w2;
    waiter_init(&w2);
    int64_t t0 = mono_ms();
    cr_assert_eq(sl_log_append(log, "one", recs, 20, on_done, &w2), 0);
    cr_assert_geq(mono_ms() - t0, 900, "it waited for room");
    cr_assert(waiter_wait(&w2, 10000));
    cr_assert_eq(w2.status, SL_ERR_FULL, "status %s", sl_strerror(w2.status));
    usleep(100 * 1000);
    cr_assert_eq(atomic_load(&w2.calls), 1);
    rd_kafka_mock_broker_set_up(mc, -1);
    sl_log_close(log);
}

Test(kafka, close_completes_pending_appends)
{
    sl_log *log;
    const char *quick[] = { "sluice.timeout.ms", "300", NULL };
    cr_assert_eq(open_kafka(&log, topics, SL_ARRAY_LEN(topics), quick, 0), 0);
    rd_kafka_mock_broker_set_down(mc, -1);
    sl_record r = { .value = SL_VIEW_LIT("v"), .partition = SL_PARTITION_AUTO };
    waiter w;
    waiter_init(&w);
    cr_assert_eq(sl_log_append(log, "logs.raw", &r, 1, on_done, &w), 0);
    int64_t t0 = mono_ms();
    sl_log_close(log);
    cr_assert_lt(mono_ms() - t0, 5000, "close is bounded");
    cr_assert_eq(atomic_load(&w.calls), 1);
    cr_assert_lt(w.status, 0);
    rd_kafka_mock_broker_set_up(mc, -1);
}

/* ---- group offsets ------------------------------------------------------------------------ */

Test(kafka, group_commit_and_committed)
{
    sl_log *log = open_default();
    sl_record recs[5];
    for (int i = 0; i < 5; i++)
        recs[i] = (sl_record){ .value = SL_VIEW_LIT("v"), .partition = 1 };
    cr_assert_eq(sl_log_append_sync(log, "logs.raw", recs, 5, NULL, NULL), 0);
    int64_t next;
    cr_assert_eq(sl_log_committed(log, "lake", "logs.raw", 1, &next), -ENOENT);
    cr_assert_eq(sl_log_commit(log, "lake", "logs.raw", 1, 3), 0);
    cr_assert_eq(sl_log_committed(log, "lake", "logs.raw", 1, &next), 0);
    cr_assert_eq(next, 3);
    cr_assert_eq(sl_log_commit(log, "lake", "logs.raw", 1, 5), 0);
    cr_assert_eq(sl_log_committed(log, "lake", "logs.raw", 1, &next), 0);
    cr_assert_eq(next, 5);
    cr_assert_eq(sl_log_commit(log, "lake", "logs.raw", 1, 6), SL_ERR_RANGE, "beyond the end");
    cr_assert_eq(sl_log_commit(log, "lake", "nope", 1, 1), SL_ERR_NOTOPIC);
    cr_assert_eq(sl_log_commit(log, "lake", "logs.raw", 7, 1), SL_ERR_NOPARTITION);
    cr_assert_eq(sl_log_committed(log, "other", "logs.raw", 1, &next), -ENOENT);

    char **groups;
    size_t n;
    cr_assert_eq(sl_log_groups(log, "logs.raw", &groups, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(groups[0], "lake");
    free(groups[0]);
    free(groups);
    cr_assert_eq(sl_log_groups(log, "one", &groups, &n), 0);
    cr_assert_eq(n, 0);
    free(groups);
    sl_log_close(log);

    /* Durable on the cluster: a new process sees it. */
    log = open_default();
    cr_assert_eq(sl_log_committed(log, "lake", "logs.raw", 1, &next), 0);
    cr_assert_eq(next, 5);
    sl_log_close(log);
}

/* ---- consumers ------------------------------------------------------------------------------ */

typedef struct hook_log {
    sl_log *log;
    sl_consumer **self;      /* to commit from the revoked hook */
    int assigned_calls, revoked_calls;
    int held[3];             /* logs.raw partitions held now */
    int64_t position[3];     /* next offset to commit per partition */
    int64_t seek_to[3];      /* >= 0: seek there when assigned */
    int commit_errors;
} hook_log;

static void on_assigned(void *arg, const sl_topic_partition *tps, size_t n)
{
    hook_log *h = arg;
    h->assigned_calls++;
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(tps[i].topic, "logs.raw");
        h->held[tps[i].partition] = 1;
        if (h->seek_to[tps[i].partition] >= 0)
            cr_assert_eq(sl_consumer_seek(*h->self, "logs.raw", tps[i].partition,
                                          h->seek_to[tps[i].partition]), 0);
    }
}

static void on_revoked(void *arg, const sl_topic_partition *tps, size_t n)
{
    hook_log *h = arg;
    h->revoked_calls++;
    for (size_t i = 0; i < n; i++) {
        int32_t p = tps[i].partition;
        /* Still ours: the stage flushes and commits here. */
        if (h->position[p] > 0 &&
            sl_consumer_commit(*h->self, "logs.raw", p, h->position[p]) != 0)
            h->commit_errors++;
        h->held[p] = 0;
    }
}

static void hook_init(hook_log *h, sl_log *log, sl_consumer **self)
{
    memset(h, 0, sizeof *h);
    h->log = log;
    h->self = self;
    for (int p = 0; p < 3; p++)
        h->seek_to[p] = -1;
}

static int held_count(const hook_log *h)
{
    return h->held[0] + h->held[1] + h->held[2];
}

/* One poll: every message is from one held partition, in order. */
static size_t poll_once(sl_consumer *c, hook_log *h, int timeout_ms, int32_t *counted)
{
    sl_fetch f;
    int rc = sl_consumer_poll(c, timeout_ms, &f);
    cr_assert_eq(rc, 0, "poll: %s", sl_strerror(rc));
    size_t n = f.n;
    if (n) {
        cr_assert_str_eq(f.topic, "logs.raw");
        cr_assert(h->held[f.partition], "a message of partition %d, not held", f.partition);
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(f.msgs[i].partition, f.partition, "one partition per poll");
            cr_assert_eq(f.msgs[i].offset, h->position[f.partition] > f.msgs[0].offset
                                               ? f.msgs[i].offset
                                               : f.msgs[0].offset + (int64_t)i);
        }
        h->position[f.partition] = f.next_offset;
        if (counted)
            counted[f.partition] += (int32_t)n;
    }
    sl_fetch_release(&f);
    return n;
}

static void append_keyed(sl_log *log, int count, int base)
{
    sl_record *recs = calloc((size_t)count, sizeof *recs);
    char (*keys)[24] = calloc((size_t)count, sizeof *keys);
    for (int i = 0; i < count; i++) {
        snprintf(keys[i], sizeof keys[i], "user-%d", base + i);
        recs[i] = (sl_record){ .key = sl_view_of(keys[i]), .value = SL_VIEW_LIT("{\"a\":1}"),
                               .partition = SL_PARTITION_AUTO };
    }
    cr_assert_eq(sl_log_append_sync(log, "logs.raw", recs, (size_t)count, NULL, NULL), 0);
    free(keys);
    free(recs);
}

Test(kafka, consumer_gets_every_partition_and_commits)
{
    sl_log *log = open_default();
    append_keyed(log, 90, 0);
    sl_consumer *c = NULL;
    hook_log h;
    hook_init(&h, log, &c);
    sl_consumer_hooks hooks = { on_assigned, on_revoked, &h };
    const char *tl[] = { "logs.raw" };
    cr_assert_eq(sl_consumer_open(log, "g1", tl, 1, &hooks, &c), 0);
    int32_t counted[3] = { 0 };
    size_t total = 0;
    int64_t deadline = mono_ms() + 20000;
    while (total < 90 && mono_ms() < deadline)
        total += poll_once(c, &h, 100, counted);
    cr_assert_eq(total, 90);
    cr_assert_eq(h.assigned_calls, 1);
    cr_assert_eq(held_count(&h), 3);
    const sl_topic_partition *tps;
    size_t n;
    cr_assert_eq(sl_consumer_assignment(c, &tps, &n), 0);
    cr_assert_eq(n, 3);
    for (int p = 0; p < 3; p++) {
        int64_t s, e;
        sl_log_offsets(log, "logs.raw", p, &s, &e);
        cr_assert_eq(counted[p], e - s);
        cr_assert_eq(sl_consumer_commit(c, "logs.raw", p, h.position[p]), 0);
        int64_t next;
        cr_assert_eq(sl_log_committed(log, "g1", "logs.raw", p, &next), 0);
        cr_assert_eq(next, h.position[p]);
    }
    cr_assert_eq(sl_consumer_commit(c, "one", 0, 0), SL_ERR_NOPARTITION, "not assigned");
    cr_assert_eq(sl_consumer_commit(c, "nope", 0, 0), SL_ERR_NOTOPIC);
    /* Nothing more: a poll waits and returns empty. */
    cr_assert_eq(poll_once(c, &h, 200, NULL), 0);
    sl_consumer_close(c);
    cr_assert_eq(h.revoked_calls, 1, "close revokes");
    cr_assert_eq(h.commit_errors, 0);

    /* A new member of the group starts at the committed offsets. */
    append_keyed(log, 30, 1000);
    hook_init(&h, log, &c);
    cr_assert_eq(sl_consumer_open(log, "g1", tl, 1, &hooks, &c), 0);
    total = 0;
    deadline = mono_ms() + 20000;
    while (total < 30 && mono_ms() < deadline)
        total += poll_once(c, &h, 100, NULL);
    cr_assert_eq(total, 30);
    cr_assert_eq(poll_once(c, &h, 300, NULL), 0, "nothing before the commits again");
    sl_consumer_close(c);
    sl_log_close(log);
}

Test(kafka, two_consumers_split_partitions_and_rebalance_on_close)
{
    sl_log *log = open_default();
    append_keyed(log, 120, 0);
    sl_consumer *a = NULL, *b = NULL;
    hook_log ha, hb;
    hook_init(&ha, log, &a);
    hook_init(&hb, log, &b);
    sl_consumer_hooks hooks_a = { on_assigned, on_revoked, &ha };
    sl_consumer_hooks hooks_b = { on_assigned, on_revoked, &hb };
    const char *tl[] = { "logs.raw" };
    cr_assert_eq(sl_consumer_open(log, "split", tl, 1, &hooks_a, &a), 0);
    cr_assert_eq(sl_consumer_open(log, "split", tl, 1, &hooks_b, &b), 0);

    /* Poll both until they share the three partitions. */
    int32_t ca[3] = { 0 }, cb[3] = { 0 };
    int64_t deadline = mono_ms() + 30000;
    while (mono_ms() < deadline &&
           !(held_count(&ha) + held_count(&hb) == 3 && held_count(&ha) && held_count(&hb))) {
        poll_once(a, &ha, 50, ca);
        poll_once(b, &hb, 50, cb);
    }
    cr_assert_eq(held_count(&ha) + held_count(&hb), 3, "a %d, b %d", held_count(&ha),
                 held_count(&hb));
    cr_assert(held_count(&ha) >= 1 && held_count(&hb) >= 1);
    for (int p = 0; p < 3; p++)
        cr_assert(!(ha.held[p] && hb.held[p]), "partition %d held twice", p);

    /* Drain: a, b between them see every record once (after the last
       rebalance; the revoked hooks committed what was seen before it). */
    size_t total = 0;
    for (int p = 0; p < 3; p++)
        total += (size_t)(ha.held[p] ? ca[p] : 0) + (size_t)(hb.held[p] ? cb[p] : 0);
    deadline = mono_ms() + 20000;
    int idle = 0;
    while (mono_ms() < deadline && idle < 6) {
        size_t got = poll_once(a, &ha, 50, ca) + poll_once(b, &hb, 50, cb);
        idle = got ? 0 : idle + 1;
    }
    for (int p = 0; p < 3; p++) {
        int64_t s, e;
        sl_log_offsets(log, "logs.raw", p, &s, &e);
        hook_log *owner = ha.held[p] ? &ha : &hb;
        cr_assert_eq(owner->position[p], e, "partition %d read to its end", p);
        cr_assert_eq(sl_consumer_commit(owner == &ha ? a : b, "logs.raw", p, e), 0);
    }
    (void)total;

    /* b leaves: its revoked hook runs inside close, a takes everything. */
    int b_revoked = hb.revoked_calls;
    int a_assigned = ha.assigned_calls;
    sl_consumer_close(b);
    cr_assert_eq(hb.revoked_calls, b_revoked + 1);
    cr_assert_eq(hb.commit_errors, 0);
    append_keyed(log, 30, 5000);
    size_t fresh = 0;
    deadline = mono_ms() + 30000;
    while (mono_ms() < deadline && held_count(&ha) < 3)
        fresh += poll_once(a, &ha, 50, NULL);
    cr_assert_eq(held_count(&ha), 3, "a holds every partition after b left");
    cr_assert_gt(ha.assigned_calls, a_assigned, "assigned hook ran again");
    deadline = mono_ms() + 20000;
    while (fresh < 30 && mono_ms() < deadline)
        fresh += poll_once(a, &ha, 100, NULL);
    cr_assert_eq(poll_once(a, &ha, 300, NULL), 0);
    cr_assert_eq(fresh, 30, "only the new records (the old ones were committed): %zu", fresh);
    sl_consumer_close(a);
    sl_log_close(log);
}

Test(kafka, a_late_member_takes_partitions_after_the_revoked_commit)
{
    sl_log *log = open_default();
    append_keyed(log, 60, 0);
    sl_consumer *a = NULL, *b = NULL;
    hook_log ha, hb;
    hook_init(&ha, log, &a);
    hook_init(&hb, log, &b);
    sl_consumer_hooks hooks_a = { on_assigned, on_revoked, &ha };
    sl_consumer_hooks hooks_b = { on_assigned, on_revoked, &hb };
    const char *tl[] = { "logs.raw" };
    cr_assert_eq(sl_consumer_open(log, "late", tl, 1, &hooks_a, &a), 0);
    size_t seen = 0;
    int64_t deadline = mono_ms() + 20000;
    while (seen < 60 && mono_ms() < deadline)
        seen += poll_once(a, &ha, 100, NULL);
    cr_assert_eq(seen, 60);
    cr_assert_eq(held_count(&ha), 3);

    /* b joins: a gives up what moves to b, committing it in its hook first
       (the group is stable then, so the commit is taken). */
    cr_assert_eq(sl_consumer_open(log, "late", tl, 1, &hooks_b, &b), 0);
    size_t old_by_b = 0;
    deadline = mono_ms() + 30000;
    while (mono_ms() < deadline && !(held_count(&hb) > 0 && held_count(&ha) + held_count(&hb) == 3)) {
        poll_once(a, &ha, 50, NULL);
        old_by_b += poll_once(b, &hb, 50, NULL);
    }
    cr_assert_eq(held_count(&ha) + held_count(&hb), 3);
    cr_assert_gt(held_count(&hb), 0);
    cr_assert_gt(ha.revoked_calls, 0);
    cr_assert_eq(ha.commit_errors, 0, "the revoked hook's commits were refused");
    for (int p = 0; p < 3; p++)
        cr_assert(!(ha.held[p] && hb.held[p]));
    /* b starts where a committed: nothing old comes again. */
    for (int k = 0; k < 6; k++) {
        poll_once(a, &ha, 50, NULL);
        old_by_b += poll_once(b, &hb, 50, NULL);
    }
    cr_assert_eq(old_by_b, 0, "b re-read %zu records a had committed", old_by_b);
    sl_consumer_close(b);
    sl_consumer_close(a);
    sl_log_close(log);
}

Test(kafka, range_strategy_rebalances_too)
{
    /* The eager protocol: every rebalance revokes everything, then assigns. */
    sl_log *log;
    const char *range[] = { "partition.assignment.strategy", "range", NULL };
    cr_assert_eq(open_kafka(&log, topics, SL_ARRAY_LEN(topics), range, 0), 0);
    sl_consumer *a = NULL, *b = NULL;
    hook_log ha, hb;
    hook_init(&ha, log, &a);
    hook_init(&hb, log, &b);
    sl_consumer_hooks hooks_a = { on_assigned, on_revoked, &ha };
    sl_consumer_hooks hooks_b = { on_assigned, on_revoked, &hb };
    const char *tl[] = { "logs.raw" };
    cr_assert_eq(sl_consumer_open(log, "ranged", tl, 1, &hooks_a, &a), 0);
    cr_assert_eq(sl_consumer_open(log, "ranged", tl, 1, &hooks_b, &b), 0);
    int64_t deadline = mono_ms() + 30000;
    while (mono_ms() < deadline &&
           !(held_count(&ha) + held_count(&hb) == 3 && held_count(&ha) && held_count(&hb))) {
        poll_once(a, &ha, 50, NULL);
        poll_once(b, &hb, 50, NULL);
    }
    cr_assert(held_count(&ha) && held_count(&hb) && held_count(&ha) + held_count(&hb) == 3);
    /* Range: the first member by id gets partitions 0-1, the other 2. */
    cr_assert(held_count(&ha) == 2 || held_count(&hb) == 2);
    sl_consumer_close(b);
    deadline = mono_ms() + 30000;
    while (mono_ms() < deadline && held_count(&ha) < 3)
        poll_once(a, &ha, 50, NULL);
    cr_assert_eq(held_count(&ha), 3);
    cr_assert_geq(ha.revoked_calls, 1, "eager: a gave everything back before taking it all");
    sl_consumer_close(a);
    sl_log_close(log);
}

Test(kafka, seek_in_the_assigned_hook_and_later)
{
    sl_log *log = open_default();
    sl_record recs[20];
    for (int i = 0; i < 20; i++)
        recs[i] = (sl_record){ .value = SL_VIEW_LIT("v"), .partition = 2 };
    cr_assert_eq(sl_log_append_sync(log, "logs.raw", recs, 20, NULL, NULL), 0);
    sl_consumer *c = NULL;
    hook_log h;
    hook_init(&h, log, &c);
    h.seek_to[2] = 15; /* the lake resumes where its files end */
    sl_consumer_hooks hooks = { on_assigned, NULL, &h };
    const char *tl[] = { "logs.raw" };
    cr_assert_eq(sl_consumer_open(log, "seeker", tl, 1, &hooks, &c), 0);
    sl_fetch f;
    int64_t deadline = mono_ms() + 20000;
    do {
        cr_assert_eq(sl_consumer_poll(c, 100, &f), 0);
    } while (f.n == 0 && mono_ms() < deadline && (sl_fetch_release(&f), 1));
    cr_assert_eq(f.partition, 2);
    cr_assert_eq(f.msgs[0].offset, 15, "started at the sought offset, got %lld",
                 (long long)f.msgs[0].offset);
    sl_fetch_release(&f);
    /* Later: back to 4. */
    cr_assert_eq(sl_consumer_seek(c, "logs.raw", 2, 4), 0);
    cr_assert_eq(sl_consumer_seek(c, "logs.raw", 2, 21), SL_ERR_RANGE);
    deadline = mono_ms() + 20000;
    do {
        cr_assert_eq(sl_consumer_poll(c, 100, &f), 0);
    } while (f.n == 0 && mono_ms() < deadline && (sl_fetch_release(&f), 1));
    cr_assert_eq(f.msgs[0].offset, 4);
    sl_fetch_release(&f);
    sl_consumer_close(c);
    sl_log_close(log);
}

Test(kafka, metrics_offsets_lag_and_queue)
{
    sl_log *log = open_default();
    append_keyed(log, 40, 0);
    cr_assert_eq(sl_log_commit(log, "lagging", "logs.raw", 0, 0), 0);
    int64_t s, e;
    sl_log_offsets(log, "logs.raw", 0, &s, &e);
    cr_assert_gt(e, 0);
    /* The refresher runs every 100 ms in these tests. */
    char want_end[128], want_lag[128];
    snprintf(want_end, sizeof want_end,
             "sluice_log_end_offset{topic=\"logs.raw\",partition=\"0\"} %lld", (long long)e);
    snprintf(want_lag, sizeof want_lag,
             "sluice_consumer_lag{group=\"lagging\",topic=\"logs.raw\",partition=\"0\"} %lld",
             (long long)e);
    bool ok = false;
    sl_buf text = SL_BUF_INIT;
    for (int64_t deadline = mono_ms() + 5000; !ok && mono_ms() < deadline; usleep(50 * 1000)) {
        sl_buf_reset(&text);
        sl_metrics_render(&text);
        ok = strstr(text.data, want_end) && strstr(text.data, want_lag);
    }
    cr_assert(ok, "missing\n%s\n%s\nin\n%s", want_end, want_lag, text.data);
    cr_assert_not_null(strstr(text.data, "sluice_kafka_producer_queue_messages 0"));
    cr_assert_not_null(strstr(text.data, "sluice_log_appended_records_total{topic=\"logs.raw\"} 40"));
    cr_assert_not_null(strstr(text.data, "sluice_log_start_offset{topic=\"logs.raw\",partition=\"0\"} 0"));
    cr_assert_not_null(strstr(text.data, "sluice_log_append_seconds_count{topic=\"logs.raw\"} 1"));
    sl_buf_free(&text);
    sl_log_close(log);
}

/* ---- throughput (a figure, not an assertion) ---------------------------------------------- */

typedef struct counter {
    atomic_long done;
    atomic_int errors;
} counter;

static void count_done(void *opaque, int status, const int32_t *p, const int64_t *o, size_t n)
{
    (void)p, (void)o, (void)n;
    counter *c = opaque;
    if (status)
        atomic_fetch_add(&c->errors, 1);
    atomic_fetch_add(&c->done, 1);
}

Test(kafka, throughput_figure, .timeout = 120)
{
    sl_log *log = open_default();
    enum { BATCH = 100, CALLS = 1000 };
    static char vals[BATCH][100];
    sl_record recs[BATCH];
    char keys[BATCH][24];
    for (int i = 0; i < BATCH; i++) {
        snprintf(keys[i], sizeof keys[i], "svc-%d", i % 17);
        memset(vals[i], 'x', sizeof vals[i]);
        recs[i] = (sl_record){ .key = sl_view_of(keys[i]), .value = { vals[i], sizeof vals[i] },
                               .partition = SL_PARTITION_AUTO };
    }
    counter c = { 0 };
    int64_t t0 = mono_ms();
    for (int k = 0; k < CALLS; k++) {
        int rc;
        while ((rc = sl_log_append(log, "logs.raw", recs, BATCH, count_done, &c)) == SL_ERR_FULL)
            usleep(1000);
        cr_assert_eq(rc, 0);
    }
    while (atomic_load(&c.done) < CALLS && mono_ms() - t0 < 100000)
        usleep(1000);
    int64_t ms = mono_ms() - t0;
    cr_assert_eq(atomic_load(&c.done), CALLS);
    cr_assert_eq(atomic_load(&c.errors), 0);
    printf("kafka append throughput (mock, 100 B records, batches of %d, delivered): "
           "%.0f records/s\n", BATCH, (double)BATCH * CALLS * 1000.0 / (double)(ms ? ms : 1));
    sl_log_close(log);
}
