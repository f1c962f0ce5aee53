/*
 * kafka.c - the Kafka backend: open and close, the declared topics
 * (created through the Admin API when missing, checked against the
 * cluster's metadata), metrics with a refresher thread, and the ops table.
 *
 * Opening, in order:
 *   1. split the kafka conf into sluice.* settings and librdkafka keys and
 *      create the producer (it also serves metadata and offset queries);
 *   2. read the cluster's metadata (every topic: a request for named
 *      topics would let a broker with auto-creation create them with its
 *      defaults, seed 004's first pitfall);
 *   3. create the missing topics with CreateTopics (request and operation
 *      timeouts = sluice.timeout.ms) and wait until metadata shows them.
 *      Where CreateTopics is not available (the librdkafka mock cluster
 *      answers nothing and the request times out) the metadata decides:
 *      a topic still missing is reported with the command-line facts an
 *      operator needs, and open fails;
 *   4. compare partition counts: a difference is reported as "topic
 *      logs.raw has 1 partition on the cluster, the config declares 3" and
 *      open fails with SL_ERR_CONFIG, unless sluice.accept.partition.mismatch
 *      is true; then keys are placed by the cluster's count, as every other
 *      Kafka client places them.
 *
 * Metrics: the appended record and byte counters, the append latency and
 * the delivery error counter are updated by the delivery reports; start
 * and end offsets and group commits are fetched by the refresher thread
 * every sluice.metrics.refresh.ms (network calls never run inside a
 * scrape), and the scrape hook copies them into gauges together with the
 * producer's queue length.
 */
#include "log/kafka/kafka_int.h"

#include "core/alloc.h"
#include "core/logging.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const sl_log_ops kafka_ops;

/* ---- lookups ------------------------------------------------------------------------ */

kafka_topic *kafka_topic_find(kafka_log *log, const char *name)
{
    for (size_t i = 0; i < log->ntopics; i++)
        if (strcmp(log->topics[i].name, name) == 0)
            return &log->topics[i];
    return NULL;
}

kafka_topic *kafka_partition_check(kafka_log *log, const char *topic, int32_t partition,
                                   int *err)
{
    kafka_topic *t = kafka_topic_find(log, topic);
    if (!t) {
        *err = SL_ERR_NOTOPIC;
        return NULL;
    }
    if (partition < 0 || partition >= t->partitions) {
        *err = SL_ERR_NOPARTITION;
        return NULL;
    }
    *err = 0;
    return t;
}

/*
 * Start and end offsets of a partition. rd_kafka_query_watermark_offsets
 * would be the natural call, but in librdkafka 2.0.2 it waits for its
 * ListOffsets answers without a deadline (a broker that is down holds it
 * for socket.timeout.ms, and close behind it); rd_kafka_offsets_for_times
 * honours its timeout, and the "timestamps" BEGINNING and END ask the same
 * two questions.
 */
static int watermarks_query(kafka_log *log, kafka_topic *t, int32_t partition, int64_t *lo,
                            int64_t *hi, bool quiet)
{
    int64_t asks[2] = { RD_KAFKA_OFFSET_BEGINNING, RD_KAFKA_OFFSET_END }, got[2];
    int64_t deadline = sl_mono_us() + (int64_t)log->set.timeout_ms * 1000;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; i < 2 && !err; i++) {
        int64_t left_ms = (deadline - sl_mono_us()) / 1000;
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, t->name, partition)->offset = asks[i];
        err = left_ms > 0 ? rd_kafka_offsets_for_times(log->producer, list, (int)left_ms)
                          : RD_KAFKA_RESP_ERR__TIMED_OUT;
        if (!err)
            err = list->elems[0].err;
        got[i] = list->elems[0].offset;
        rd_kafka_topic_partition_list_destroy(list);
    }
    if (err) {
        if (!quiet)
            SL_WARN(TAG, "offsets of %s/%d: %s", t->name, partition, rd_kafka_err2str(err));
        return kafka_err_code(err);
    }
    *hi = got[1];
    *lo = got[0] < 0 ? got[1] : got[0]; /* an empty partition answers only the end */
    return 0;
}

int kafka_watermarks(kafka_log *log, kafka_topic *t, int32_t partition, int64_t *lo,
                     int64_t *hi)
{
    return watermarks_query(log, t, partition, lo, hi, false);
}

void kafka_commit_cache(kafka_log *log, kafka_group *g, kafka_topic *t, int32_t partition,
                        int64_t next_offset)
{
    pthread_mutex_lock(&log->cache_lock);
    kafka_commit_entry *c = NULL;
    for (size_t i = 0; i < g->ncommits && !c; i++)
        if (g->commits[i].topic == t && g->commits[i].partition == partition)
            c = &g->commits[i];
    if (!c) {
        if (g->ncommits == g->ccap) {
            g->ccap = g->ccap ? g->ccap * 2 : 8;
            g->commits = sl_realloc(g->commits, g->ccap * sizeof *g->commits);
        }
        c = &g->commits[g->ncommits++];
        c->topic = t;
        c->partition = partition;
    }
    c->next_offset = next_offset;
    pthread_mutex_unlock(&log->cache_lock);
}

/* ---- topics at open ------------------------------------------------------------------ */

static bool topic_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void topic_add(kafka_log *log, size_t *cap, const char *name, int32_t partitions,
                      int16_t replication)
{
    if (log->ntopics == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        log->topics = sl_realloc(log->topics, *cap * sizeof *log->topics);
    }
    kafka_topic *t = &log->topics[log->ntopics++];
    memset(t, 0, sizeof *t);
    t->name = sl_strdup(name);
    t->partitions = t->declared = partitions;
    t->replication = replication;
}

/* The partition count of a topic in the metadata; 0 when absent or in error. */
static int32_t md_partitions(const struct rd_kafka_metadata *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0)
            return md->topics[i].err ? 0 : md->topics[i].partition_cnt;
    return 0;
}

static int metadata_all(kafka_log *log, const struct rd_kafka_metadata **md)
{
    rd_kafka_resp_err_t err = rd_kafka_metadata(log->producer, 1, NULL, md, log->set.timeout_ms);
    if (err) {
        *md = NULL;
        SL_ERROR(TAG, "cannot read the cluster's metadata within %d ms: %s",
                 log->set.timeout_ms, rd_kafka_err2str(err));
        return kafka_err_code(err) == SL_ERR_TIMEOUT ? SL_ERR_TIMEOUT : SL_ERR;
    }
    return 0;
}

/* Read-only with no declared topics: every topic of the cluster except the
   internal ones. */
static int topics_discover(kafka_log *log, size_t *cap)
{
    const struct rd_kafka_metadata *md;
    int rc = metadata_all(log, &md);
    if (rc)
        return rc;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!md->topics[i].err && md->topics[i].partition_cnt > 0 &&
            strncmp(md->topics[i].topic, "__", 2) != 0)
            topic_add(log, cap, md->topics[i].topic, md->topics[i].partition_cnt, 1);
    rd_kafka_metadata_destroy(md);
    return 0;
}

/*
 * CreateTopics for the topics in need[]. Returns 0 when the cluster took
 * the request (each topic created or already there), SL_ERR_TIMEOUT / SL_ERR
 * when the request itself failed (why says how), SL_ERR_CONFIG when the
 * cluster refused a topic (logged).
 */
static int topics_create(kafka_log *log, kafka_topic **need, size_t n, char *why, size_t whylen)
{
    char err[256];
    int rc = 0;
    rd_kafka_NewTopic_t **nts = sl_calloc(n, sizeof *nts);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(log->producer,
                                                            RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(log->producer);
    rd_kafka_event_t *ev = NULL;
    for (size_t i = 0; i < n; i++) {
        nts[i] = rd_kafka_NewTopic_new(need[i]->name, need[i]->declared,
                                       need[i]->replication > 0 ? need[i]->replication : -1,
                                       err, sizeof err);
        if (!nts[i]) {
            SL_ERROR(TAG, "topic %s: %s", need[i]->name, err);
            rc = SL_ERR_CONFIG;
            goto out;
        }
    }
    /* Both timeouts, or a cluster that never answers keeps the request and
       rd_kafka_destroy waits for it. */
    if (rd_kafka_AdminOptions_set_request_timeout(ao, log->set.timeout_ms, err, sizeof err) ||
        rd_kafka_AdminOptions_set_operation_timeout(ao, log->set.timeout_ms, err, sizeof err)) {
        snprintf(why, whylen, "%s", err);
        rc = SL_ERR;
        goto out;
    }
    rd_kafka_CreateTopics(log->producer, nts, n, ao, q);
    ev = rd_kafka_queue_poll(q, log->set.timeout_ms + 2000);
    if (!ev) {
        snprintf(why, whylen, "no answer within %d ms", log->set.timeout_ms + 2000);
        rc = SL_ERR_TIMEOUT;
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(why, whylen, "%s", rd_kafka_event_error_string(ev));
        rc = kafka_err_code(rd_kafka_event_error(ev)) == SL_ERR_TIMEOUT ? SL_ERR_TIMEOUT : SL_ERR;
        goto out;
    }
    size_t nres = 0;
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &nres)
                                             : NULL;
    for (size_t i = 0; i < nres; i++) {
        rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(tr[i]);
        const char *name = rd_kafka_topic_result_name(tr[i]);
        if (terr == RD_KAFKA_RESP_ERR_NO_ERROR) {
            SL_INFO(TAG, "created topic %s", name);
        } else if (terr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            kafka_topic *t = kafka_topic_find(log, name);
            SL_ERROR(TAG, "cannot create topic %s with %d partitions and replication %d: %s",
                     name, t ? t->declared : 0, t ? t->replication : 0,
                     rd_kafka_topic_result_error_string(tr[i]) ?
                         rd_kafka_topic_result_error_string(tr[i]) : rd_kafka_err2str(terr));
            rc = SL_ERR_CONFIG;
        }
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    for (size_t i = 0; i < n; i++)
        if (nts[i])
            rd_kafka_NewTopic_destroy(nts[i]);
    free(nts);
    return rc;
}

/* Create what is missing, then hold every declared topic against the cluster. */
static int topics_setup(kafka_log *log)
{
    const struct rd_kafka_metadata *md = NULL;
    kafka_topic **need = sl_calloc(log->ntopics, sizeof *need);
    size_t nneed = 0;
    int rc = metadata_all(log, &md);
    if (rc)
        goto out;
    for (size_t i = 0; i < log->ntopics; i++)
        if (md_partitions(md, log->topics[i].name) == 0)
            need[nneed++] = &log->topics[i];

    if (nneed && log->read_only) {
        /* Left out: a read of a missing topic asks the brokers for it by
           name, and one with auto.create.topics.enable (the mock cluster)
           would create it with its own partition count. */
        size_t kept = 0;
        for (size_t i = 0; i < log->ntopics; i++) {
            if (md_partitions(md, log->topics[i].name) == 0) {
                SL_WARN(TAG, "topic %s does not exist on the cluster", log->topics[i].name);
                free(log->topics[i].name);
            } else {
                log->topics[kept++] = log->topics[i];
            }
        }
        log->ntopics = kept;
        nneed = 0;
    } else if (nneed) {
        char why[256] = "";
        int crc = topics_create(log, need, nneed, why, sizeof why);
        if (crc == SL_ERR_CONFIG) {
            rc = crc;
            goto out;
        }
        if (crc)
            SL_WARN(TAG, "cannot create topics through the Admin API (%s); checking them "
                    "through metadata", why);
        /* Creation is asynchronous on a real cluster: wait until metadata
           shows every topic with its partitions. */
        int64_t deadline = sl_mono_us() + (int64_t)log->set.timeout_ms * 1000;
        for (;;) {
            rd_kafka_metadata_destroy(md);
            rc = metadata_all(log, &md);
            if (rc)
                goto out;
            size_t still = 0;
            for (size_t i = 0; i < nneed; i++)
                if (md_partitions(md, need[i]->name) == 0)
                    still++;
            if (still == 0)
                break;
            if (crc || sl_mono_us() >= deadline) {
                for (size_t i = 0; i < nneed; i++)
                    if (md_partitions(md, need[i]->name) == 0)
                        SL_ERROR(TAG, "topic %s does not exist on the cluster and could not be "
                                 "created (%s); create it with %d partition%s and replication "
                                 "factor %d", need[i]->name,
                                 crc ? why : "not visible in metadata yet", need[i]->declared,
                                 need[i]->declared == 1 ? "" : "s",
                                 need[i]->replication > 0 ? need[i]->replication : 1);
                rc = SL_ERR_CONFIG;
                goto out;
            }
            usleep(100 * 1000);
        }
    }

    bool refused = false;
    for (size_t i = 0; i < log->ntopics; i++) {
        kafka_topic *t = &log->topics[i];
        int32_t have = md_partitions(md, t->name);
        if (have == 0 || have == t->declared)
            continue;
        if (log->set.accept_mismatch || log->read_only) {
            SL_WARN(TAG, "topic %s has %d partition%s on the cluster, the config declares %d; "
                    "using the cluster's %d (keys are placed by it)", t->name, have,
                    have == 1 ? "" : "s", t->declared, have);
            t->partitions = have;
        } else {
            SL_ERROR(TAG, "topic %s has %d partition%s on the cluster, the config declares %d",
                     t->name, have, have == 1 ? "" : "s", t->declared);
            refused = true;
        }
    }
    if (refused) {
        SL_ERROR(TAG, "not starting: fix the topics' partitions, or set "
                 "kafka.sluice.accept.partition.mismatch: true to run with the cluster's counts");
        rc = SL_ERR_CONFIG;
    }
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    free(need);
    return rc;
}

/* ---- metrics and the refresher ------------------------------------------------------------ */

static void kafka_scrape(void *arg)
{
    kafka_log *log = arg;
    sl_gauge_set(log->m_queue, (double)rd_kafka_outq_len(log->producer));
    pthread_mutex_lock(&log->groups_lock);
    pthread_mutex_lock(&log->cache_lock);
    for (size_t i = 0; i < log->ntopics; i++) {
        kafka_topic *t = &log->topics[i];
        for (int32_t p = 0; p < t->partitions; p++) {
            int64_t seen = atomic_load(&t->end_seen[p]);
            if (seen > t->end_cache[p])
                t->end_cache[p] = seen;
            char id[16];
            snprintf(id, sizeof id, "%d", p);
            const char *labels[2] = { t->name, id };
            if (t->start_cache[p] >= 0)
                sl_gauge_set(sl_metric_get(log->f_start, labels), (double)t->start_cache[p]);
            if (t->end_cache[p] >= 0)
                sl_gauge_set(sl_metric_get(log->f_end, labels), (double)t->end_cache[p]);
        }
    }
    for (kafka_group *g = log->groups; g; g = g->next)
        for (size_t i = 0; i < g->ncommits; i++) {
            kafka_commit_entry *c = &g->commits[i];
            int64_t end = c->topic->end_cache[c->partition];
            if (end < 0)
                continue;
            char id[16];
            snprintf(id, sizeof id, "%d", c->partition);
            const char *labels[3] = { g->name, c->topic->name, id };
            int64_t lag = end - c->next_offset;
            sl_gauge_set(sl_metric_get(log->f_lag, labels), (double)(lag > 0 ? lag : 0));
        }
    pthread_mutex_unlock(&log->cache_lock);
    pthread_mutex_unlock(&log->groups_lock);
}

static bool refresh_stopping(kafka_log *log)
{
    pthread_mutex_lock(&log->refresh_lock);
    bool stop = log->refresh_stop;
    pthread_mutex_unlock(&log->refresh_lock);
    return stop;
}

static void refresh_offsets(kafka_log *log)
{
    for (size_t i = 0; i < log->ntopics; i++) {
        kafka_topic *t = &log->topics[i];
        for (int32_t p = 0; p < t->partitions && !refresh_stopping(log); p++) {
            int64_t lo, hi;
            if (watermarks_query(log, t, p, &lo, &hi, true))
                continue; /* keep the last known values */
            pthread_mutex_lock(&log->cache_lock);
            t->start_cache[p] = lo;
            t->end_cache[p] = hi;
            pthread_mutex_unlock(&log->cache_lock);
        }
    }
}

static void *refresher_main(void *arg)
{
    kafka_log *log = arg;
    pthread_mutex_lock(&log->refresh_lock);
    while (!log->refresh_stop) {
        pthread_mutex_unlock(&log->refresh_lock);
        refresh_offsets(log);
        kafka_groups_refresh(log);
        kafka_handles_serve(log);
        pthread_mutex_lock(&log->refresh_lock);
        int64_t deadline = sl_mono_us() + (int64_t)log->set.refresh_ms * 1000;
        struct timespec ts = { deadline / 1000000, (deadline % 1000000) * 1000 };
        while (!log->refresh_stop && sl_mono_us() < deadline)
            pthread_cond_timedwait(&log->refresh_cond, &log->refresh_lock, &ts);
    }
    pthread_mutex_unlock(&log->refresh_lock);
    return NULL;
}

static void metrics_register(kafka_log *log)
{
    log->m_queue = sl_metric_get0(sl_metrics_family(
        "sluice_kafka_producer_queue_messages",
        "Records handed to the Kafka producer and not yet delivered (rd_kafka_outq_len).",
        SL_GAUGE, ""));
    log->f_start = sl_metrics_family("sluice_log_start_offset",
                                     "First offset still in the log (retention moves it).",
                                     SL_GAUGE, "topic,partition");
    log->f_end = sl_metrics_family("sluice_log_end_offset", "Offset the next record will get.",
                                   SL_GAUGE, "topic,partition");
    log->f_lag = sl_metrics_family("sluice_consumer_lag",
                                   "Records between a group's committed offset and the end.",
                                   SL_GAUGE, "group,topic,partition");
    sl_metric_family *records = sl_metrics_family("sluice_log_appended_records_total",
                                                  "Records appended to the log.", SL_COUNTER,
                                                  "topic");
    sl_metric_family *bytes = sl_metrics_family("sluice_log_appended_bytes_total",
                                                "Batch bytes appended to the log.", SL_COUNTER,
                                                "topic");
    sl_metric_family *seconds = sl_metrics_family(
        "sluice_log_append_seconds", "Time from an append call to its durable completion.",
        SL_HISTOGRAM, "topic");
    sl_metric_family *errors = sl_metrics_family(
        "sluice_kafka_delivery_errors_total",
        "Records the Kafka producer could not deliver (their appends failed).", SL_COUNTER,
        "topic");
    for (size_t i = 0; i < log->ntopics; i++) {
        kafka_topic *t = &log->topics[i];
        t->m_records = sl_metric_get1(records, t->name);
        t->m_bytes = sl_metric_get1(bytes, t->name);
        t->m_append_seconds = sl_metric_get1(seconds, t->name);
        t->m_delivery_errors = sl_metric_get1(errors, t->name);
    }
}

/* ---- open and close ---------------------------------------------------------------------- */

static void kafka_close(sl_log *base);

/* The producer's queue limits bound sluice's own reservations (produce.c). */
static void pending_limits(kafka_log *log, const sl_log_options *opts, rd_kafka_conf_t *conf)
{
    char v[64];
    size_t vlen = sizeof v;
    long long msgs = 100000, kbytes = 1048576;
    if (rd_kafka_conf_get(conf, "queue.buffering.max.messages", v, &vlen) == RD_KAFKA_CONF_OK)
        msgs = atoll(v);
    vlen = sizeof v;
    if (rd_kafka_conf_get(conf, "queue.buffering.max.kbytes", v, &vlen) == RD_KAFKA_CONF_OK)
        kbytes = atoll(v);
    log->max_pending_msgs = msgs > 0 ? msgs : INT64_MAX;
    log->max_pending_bytes = opts->max_pending_bytes > 0 ? opts->max_pending_bytes
                                                         : KAFKA_DEFAULT_PENDING;
    if (kbytes > 0 && kbytes * 1024 < log->max_pending_bytes)
        log->max_pending_bytes = kbytes * 1024;
}

int sl_log_kafka_open(const sl_log_options *opts, sl_log **out)
{
    int rc;
    size_t cap = 0;
    kafka_log *log = sl_calloc(1, sizeof *log);
    log->base.ops = &kafka_ops;
    log->read_only = opts->read_only;
    pthread_rwlock_init(&log->append_lock, NULL);
    pthread_mutex_init(&log->reader_lock, NULL);
    pthread_mutex_init(&log->groups_lock, NULL);
    pthread_mutex_init(&log->cache_lock, NULL);
    pthread_mutex_init(&log->refresh_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&log->refresh_cond, &ca);
    pthread_condattr_destroy(&ca);

    rc = kafka_conf_parse(log, opts->kafka_conf);
    if (rc)
        goto fail;

    int16_t max_replication = 1;
    for (size_t i = 0; i < opts->ntopics; i++) {
        const sl_topic_spec *spec = &opts->topics[i];
        if (!spec->name || !topic_name_valid(spec->name)) {
            SL_ERROR(TAG, "topic name \"%s\" is not valid (letters, digits, '.', '_', '-')",
                     spec->name ? spec->name : "");
            rc = SL_ERR_CONFIG;
            goto fail;
        }
        if (spec->partitions < 1 || spec->partitions > 100000) {
            SL_ERROR(TAG, "topic %s: partitions must be 1..100000", spec->name);
            rc = SL_ERR_CONFIG;
            goto fail;
        }
        if (kafka_topic_find(log, spec->name)) {
            SL_ERROR(TAG, "topic %s is declared twice", spec->name);
            rc = SL_ERR_CONFIG;
            goto fail;
        }
        topic_add(log, &cap, spec->name, spec->partitions, spec->replication);
        if (spec->replication > max_replication)
            max_replication = spec->replication;
    }

    rd_kafka_conf_t *conf = kafka_conf_new(log, KAFKA_PRODUCER, NULL);
    if (!conf) {
        rc = SL_ERR_CONFIG;
        goto fail;
    }
    pending_limits(log, opts, conf);
    log->producer = kafka_handle_new(RD_KAFKA_PRODUCER, conf, "Kafka producer");
    if (!log->producer) {
        rc = SL_ERR_CONFIG;
        goto fail;
    }

    if (log->read_only && opts->ntopics == 0) {
        rc = topics_discover(log, &cap);
        if (rc)
            goto fail;
    } else if (!kafka_topic_find(log, SL_DLQ_TOPIC)) {
        /* The dead-letter topic is as safe as the best-replicated topic. */
        topic_add(log, &cap, SL_DLQ_TOPIC, 1, max_replication);
    }
    rc = topics_setup(log);
    if (rc)
        goto fail;

    for (size_t i = 0; i < log->ntopics; i++) {
        kafka_topic *t = &log->topics[i];
        size_t np = (size_t)t->partitions;
        t->rkt = rd_kafka_topic_new(log->producer, t->name, NULL);
        if (!t->rkt) {
            SL_ERROR(TAG, "topic %s: %s", t->name, rd_kafka_err2str(rd_kafka_last_error()));
            rc = SL_ERR;
            goto fail;
        }
        t->rparts = sl_calloc(np, sizeof *t->rparts);
        for (size_t p = 0; p < np; p++)
            pthread_mutex_init(&t->rparts[p].lock, NULL);
        t->end_seen = sl_calloc(np, sizeof *t->end_seen);
        t->start_cache = sl_malloc(np * sizeof *t->start_cache);
        t->end_cache = sl_malloc(np * sizeof *t->end_cache);
        for (size_t p = 0; p < np; p++)
            t->start_cache[p] = t->end_cache[p] = -1;
    }
    metrics_register(log);

    rc = kafka_poller_start(log);
    if (rc)
        goto fail;
    rc = pthread_create(&log->refresher, NULL, refresher_main, log);
    if (rc) {
        rc = -rc;
        goto fail;
    }
    log->refresher_started = true;
    sl_metrics_on_scrape(kafka_scrape, log);
    SL_INFO(TAG, "log on Kafka: %zu topics checked%s", log->ntopics,
            log->read_only ? " (read-only)" : "");
    *out = &log->base;
    return 0;

fail:
    kafka_close(&log->base);
    return rc;
}

static void kafka_close(sl_log *base)
{
    kafka_log *log = (kafka_log *)base;
    atomic_store(&log->closing, 1);
    if (log->refresher_started)
        sl_metrics_remove_hook(kafka_scrape, log);
    /* Appends in progress finish their produce calls first. */
    pthread_rwlock_wrlock(&log->append_lock);
    pthread_rwlock_unlock(&log->append_lock);

    if (log->refresher_started) {
        pthread_mutex_lock(&log->refresh_lock);
        log->refresh_stop = true;
        pthread_cond_broadcast(&log->refresh_cond);
        pthread_mutex_unlock(&log->refresh_lock);
        pthread_join(log->refresher, NULL);
    }
    if (log->producer)
        kafka_producer_drain(log);
    kafka_reader_close(log);
    kafka_groups_close(log);
    for (size_t i = 0; i < log->ntopics; i++) {
        kafka_topic *t = &log->topics[i];
        if (t->rkt)
            rd_kafka_topic_destroy(t->rkt);
        for (int32_t p = 0; t->rparts && p < t->partitions; p++)
            pthread_mutex_destroy(&t->rparts[p].lock);
        free(t->rparts);
        free(t->end_seen);
        free(t->start_cache);
        free(t->end_cache);
        free(t->name);
    }
    free(log->topics);
    if (log->producer)
        rd_kafka_destroy(log->producer);
    for (size_t i = 0; i < log->nconf; i++)
        free(log->conf[i]);
    free(log->conf);
    pthread_rwlock_destroy(&log->append_lock);
    pthread_mutex_destroy(&log->reader_lock);
    pthread_mutex_destroy(&log->groups_lock);
    pthread_mutex_destroy(&log->cache_lock);
    pthread_mutex_destroy(&log->refresh_lock);
    pthread_cond_destroy(&log->refresh_cond);
    free(log);
}

/* ---- the rest of the ops table ------------------------------------------------------------ */

/* The declared topics with the partition counts in use. The metadata is
   asked again, so a topic grown on the cluster since open is reported. */
static int kafka_topics(sl_log *base, sl_topic_info **out, size_t *n)
{
    kafka_log *log = (kafka_log *)base;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(log->producer, 0, NULL, &md, log->set.timeout_ms))
        md = NULL;
    sl_topic_info *v = sl_calloc(log->ntopics ? log->ntopics : 1, sizeof *v);
    for (size_t i = 0; i < log->ntopics; i++) {
        kafka_topic *t = &log->topics[i];
        int32_t have = md ? md_partitions(md, t->name) : 0;
        if (have > t->partitions)
            SL_WARN(TAG, "topic %s now has %d partitions on the cluster; this process keeps "
                    "using %d until it restarts", t->name, have, t->partitions);
        v[i].name = sl_strdup(t->name);
        v[i].partitions = t->partitions;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    *out = v;
    *n = log->ntopics;
    return 0;
}

static const sl_log_ops kafka_ops = {
    .name = "kafka",
    .close = kafka_close,
    .append = kafka_append,
    .read = kafka_read,
    .offsets = kafka_offsets,
    .topics = kafka_topics,
    .commit = kafka_commit,
    .committed = kafka_committed,
    .groups = kafka_groups,
    .consumer_open = kafka_consumer_open,
    .consumer_poll = kafka_consumer_poll,
    .consumer_commit = kafka_consumer_commit,
    .consumer_seek = kafka_consumer_seek,
    .consumer_assignment = kafka_consumer_assignment,
    .consumer_close = kafka_consumer_close,
};
