/*
 * log.c - the public log API (log.h): argument checks, dispatch to the
 * configured backend's ops table (log_int.h), and the helpers that are the
 * same for every backend: the blocking append, fetch release and Kafka's
 * key partitioning.
 */
#include "log/log_int.h"

#include "core/logging.h"
#include "core/murmur2.h"
#include "log/embedded/embedded.h"
#include "log/kafka/kafka.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TAG "log"

int sl_log_open(const sl_log_options *opts, sl_log **out)
{
    if (!opts || !out)
        return -EINVAL;
    *out = NULL;
    const char *backend = opts->backend && *opts->backend ? opts->backend : "embedded";
    if (strcmp(backend, "embedded") == 0)
        return sl_log_embedded_open(opts, out);
    if (strcmp(backend, "kafka") == 0)
        return sl_log_kafka_open(opts, out);
    SL_ERROR(TAG, "log.backend \"%s\" is unknown (embedded or kafka)", backend);
    return SL_ERR_CONFIG;
}

void sl_log_close(sl_log *log)
{
    if (log)
        log->ops->close(log);
}

int sl_log_append(sl_log *log, const char *topic, const sl_record *records, size_t n,
                  sl_append_cb cb, void *opaque)
{
    if (!log || !topic || (n && !records) || !cb)
        return -EINVAL;
    return log->ops->append(log, topic, records, n, SL_VIEW_NULL, cb, opaque);
}

int sl_log_append_idempotent(sl_log *log, const char *topic, const sl_record *records, size_t n,
                             sl_view idempotency_key, sl_append_cb cb, void *opaque)
{
    if (!log || !topic || (n && !records) || !cb)
        return -EINVAL;
    return log->ops->append(log, topic, records, n, idempotency_key, cb, opaque);
}

/* sl_log_append_sync waits on this until the callback has run. */
typedef struct append_waiter {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    bool done;
    int status;
    int32_t *partitions;
    int64_t *offsets;
} append_waiter;

static void append_sync_done(void *opaque, int status, const int32_t *partitions,
                             const int64_t *offsets, size_t n)
{
    append_waiter *w = opaque;
    pthread_mutex_lock(&w->lock);
    if (status == 0) {
        if (w->partitions)
            memcpy(w->partitions, partitions, n * sizeof *partitions);
        if (w->offsets)
            memcpy(w->offsets, offsets, n * sizeof *offsets);
    }
    w->status = status;
    w->done = true;
    pthread_cond_signal(&w->done_cond);
    pthread_mutex_unlock(&w->lock);
}

int sl_log_append_sync(sl_log *log, const char *topic, const sl_record *records, size_t n,
                       int32_t *partitions, int64_t *offsets)
{
    append_waiter w = { .partitions = partitions, .offsets = offsets };
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.done_cond, NULL);
    int rc = sl_log_append(log, topic, records, n, append_sync_done, &w);
    if (rc == 0) {
        pthread_mutex_lock(&w.lock);
        while (!w.done)
            pthread_cond_wait(&w.done_cond, &w.lock);
        rc = w.status;
        pthread_mutex_unlock(&w.lock);
    }
    pthread_cond_destroy(&w.done_cond);
    pthread_mutex_destroy(&w.lock);
    return rc;
}

int32_t sl_log_partition_for_key(sl_view key, int32_t partitions)
{
    if (partitions <= 0)
        return SL_ERR_NOPARTITION;
    return sl_murmur2_partition(key.ptr ? key.ptr : "", key.len, partitions);
}

void sl_fetch_release(sl_fetch *f)
{
    if (!f)
        return;
    if (f->release)
        f->release(f);
    memset(f, 0, sizeof *f);
}

int sl_log_read(sl_log *log, const char *topic, int32_t partition, int64_t offset,
                size_t max_records, size_t max_bytes, int timeout_ms, sl_fetch *f)
{
    if (!log || !topic || !f)
        return -EINVAL;
    memset(f, 0, sizeof *f);
    return log->ops->read(log, topic, partition, offset, max_records, max_bytes, timeout_ms, f);
}

int sl_log_offsets(sl_log *log, const char *topic, int32_t partition, int64_t *start,
                   int64_t *end)
{
    if (!log || !topic)
        return -EINVAL;
    int64_t s, e;
    int rc = log->ops->offsets(log, topic, partition, &s, &e);
    if (rc == 0) {
        if (start)
            *start = s;
        if (end)
            *end = e;
    }
    return rc;
}

int sl_log_topics(sl_log *log, sl_topic_info **out, size_t *n)
{
    if (!log || !out || !n)
        return -EINVAL;
    return log->ops->topics(log, out, n);
}

void sl_log_topics_free(sl_topic_info *topics, size_t n)
{
    if (!topics)
        return;
    for (size_t i = 0; i < n; i++)
        free(topics[i].name);
    free(topics);
}

int sl_log_commit(sl_log *log, const char *group, const char *topic, int32_t partition,
                  int64_t next_offset)
{
    if (!log || !group || !*group || !topic)
        return -EINVAL;
    return log->ops->commit(log, group, topic, partition, next_offset);
}

int sl_log_committed(sl_log *log, const char *group, const char *topic, int32_t partition,
                     int64_t *next_offset)
{
    if (!log || !group || !topic || !next_offset)
        return -EINVAL;
    return log->ops->committed(log, group, topic, partition, next_offset);
}

int sl_log_groups(sl_log *log, const char *topic, char ***groups, size_t *n)
{
    if (!log || !topic || !groups || !n)
        return -EINVAL;
    return log->ops->groups(log, topic, groups, n);
}

int sl_consumer_open(sl_log *log, const char *group, const char *const *topics, size_t ntopics,
                     const sl_consumer_hooks *hooks, sl_consumer **out)
{
    if (!log || !group || !*group || !topics || !ntopics || !out)
        return -EINVAL;
    *out = NULL;
    return log->ops->consumer_open(log, group, topics, ntopics, hooks, out);
}

int sl_consumer_poll(sl_consumer *c, int timeout_ms, sl_fetch *f)
{
    if (!c || !f)
        return -EINVAL;
    memset(f, 0, sizeof *f);
    return c->log->ops->consumer_poll(c, timeout_ms, f);
}

int sl_consumer_commit(sl_consumer *c, const char *topic, int32_t partition, int64_t next_offset)
{
    if (!c || !topic)
        return -EINVAL;
    return c->log->ops->consumer_commit(c, topic, partition, next_offset);
}

int sl_consumer_seek(sl_consumer *c, const char *topic, int32_t partition, int64_t offset)
{
    if (!c || !topic)
        return -EINVAL;
    return c->log->ops->consumer_seek(c, topic, partition, offset);
}

int sl_consumer_assignment(sl_consumer *c, const sl_topic_partition **tps, size_t *n)
{
    if (!c || !tps || !n)
        return -EINVAL;
    return c->log->ops->consumer_assignment(c, tps, n);
}

void sl_consumer_close(sl_consumer *c)
{
    if (c)
        c->log->ops->consumer_close(c);
}
