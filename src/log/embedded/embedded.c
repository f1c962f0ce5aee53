/*
 * embedded.c - the embedded log backend: open and close, topics, the
 * append path (route, encode, write under the partition locks, complete
 * per fsync mode), the syncer thread (group commit, retention), zstd
 * context pools, metrics and the recovery report.
 *
 * An append encodes one batch per partition it touches into a per-call
 * buffer before taking any lock (CRC included; only the base offset is
 * patched later), then takes the touched partitions' locks in ascending
 * order, writes each batch with one pwrite, and publishes them together,
 * so a failure in one partition leaves no trace in the others. With
 * fsync: group the call then queues its completion; the syncer wakes at
 * most every group_commit_us, fdatasyncs each partition written since its
 * last round (one fsync shared by every append in between; the fsyncs of
 * one round run in parallel on the syncer and up to three helper threads,
 * which lets the filesystem journal commit them together) and fires the
 * queued callbacks.
 */
#include "log/embedded/embedded_int.h"

#include "core/alloc.h"
#include "core/logging.h"
#include "core/murmur2.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const sl_log_ops embedded_ops;

/* ---- small helpers shared by the backend's files ------------------------ */

int log_mkdirs(const char *path)
{
    char *copy = sl_strdup(path);
    int rc = 0;
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            rc = -errno;
            break;
        }
        *p = c;
        if (!c)
            break;
    }
    free(copy);
    return rc;
}

int log_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int log_fsync_fd(embedded_log *log, int fd)
{
    int64_t t0 = sl_mono_us();
    int rc = fdatasync(fd) == 0 ? 0 : -errno;
    atomic_fetch_add(&log->fsyncs, 1);
    sl_histogram_observe(log->m_fsync, (double)(sl_mono_us() - t0) / 1e6);
    return rc;
}

void log_report(embedded_log *log, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    SL_WARN(TAG, "%s", line);
    pthread_mutex_lock(&log->report_lock);
    sl_buf_printf(&log->report, "%s\n", line);
    log->report_lines++;
    pthread_mutex_unlock(&log->report_lock);
}

void log_notify(embedded_log *log)
{
    atomic_fetch_add(&log->poll_seq, 1);
    if (atomic_load(&log->poll_waiters) > 0) {
        pthread_mutex_lock(&log->poll_lock);
        pthread_cond_broadcast(&log->poll_cond);
        pthread_mutex_unlock(&log->poll_lock);
    }
}

log_topic *log_topic_find(embedded_log *log, const char *name)
{
    for (size_t i = 0; i < log->ntopics; i++)
        if (strcmp(log->topics[i].name, name) == 0)
            return &log->topics[i];
    return NULL;
}

log_partition *log_partition_find(embedded_log *log, const char *topic, int32_t partition,
                                  int *err)
{
    log_topic *t = log_topic_find(log, topic);
    if (!t) {
        *err = SL_ERR_NOTOPIC;
        return NULL;
    }
    if (partition < 0 || partition >= t->spec.partitions) {
        *err = SL_ERR_NOPARTITION;
        return NULL;
    }
    *err = 0;
    return &t->parts[partition];
}

static ZSTD_CCtx *cctx_get(embedded_log *log)
{
    ZSTD_CCtx *c = NULL;
    pthread_mutex_lock(&log->pool_lock);
    if (log->ncctx)
        c = log->cctx[--log->ncctx];
    pthread_mutex_unlock(&log->pool_lock);
    if (!c) {
        c = ZSTD_createCCtx();
        if (c)
            ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
    }
    return c;
}

static void cctx_put(embedded_log *log, ZSTD_CCtx *c)
{
    pthread_mutex_lock(&log->pool_lock);
    if (log->ncctx == log->cctx_cap) {
        log->cctx_cap = log->cctx_cap ? log->cctx_cap * 2 : 4;
        log->cctx = sl_realloc(log->cctx, log->cctx_cap * sizeof *log->cctx);
    }
    log->cctx[log->ncctx++] = c;
    pthread_mutex_unlock(&log->pool_lock);
}

ZSTD_DCtx *log_dctx_get(embedded_log *log)
{
    ZSTD_DCtx *d = NULL;
    pthread_mutex_lock(&log->pool_lock);
    if (log->ndctx)
        d = log->dctx[--log->ndctx];
    pthread_mutex_unlock(&log->pool_lock);
    return d ? d : ZSTD_createDCtx();
}

void log_dctx_put(embedded_log *log, ZSTD_DCtx *d)
{
    pthread_mutex_lock(&log->pool_lock);
    if (log->ndctx == log->dctx_cap) {
        log->dctx_cap = log->dctx_cap ? log->dctx_cap * 2 : 4;
        log->dctx = sl_realloc(log->dctx, log->dctx_cap * sizeof *log->dctx);
    }
    log->dctx[log->ndctx++] = d;
    pthread_mutex_unlock(&log->pool_lock);
}

/* ---- appending -------------------------------------------------------------- */

/* One partition's share of an append call. */
typedef struct touched {
    log_partition *p;
    uint32_t first, count; /* its records: idx[first .. first + count) */
    size_t start;          /* its batch in the encode buffer */
    size_t len;
} touched;

static void complete(embedded_log *log, log_pending *pd, int status)
{
    pd->cb(pd->opaque, status, pd->partitions, pd->offsets, pd->n);
    sl_histogram_observe(pd->topic->m_append_seconds, (double)(sl_mono_us() - pd->t0_us) / 1e6);
    (void)log;
    free(pd);
}

static int embedded_append(sl_log *base, const char *topic, const sl_record *records, size_t n,
                           sl_view idem_key, sl_append_cb cb, void *opaque)
{
    embedded_log *log = (embedded_log *)base;
    sl_buf enc = SL_BUF_INIT, scratch = SL_BUF_INIT;
    ZSTD_CCtx *cctx = NULL;
    log_pending *pd = NULL;
    size_t nlocked = 0, nwritten = 0;
    int rc = 0;
    int64_t t0 = sl_mono_us();

    if (log->read_only)
        return -EROFS;
    if (atomic_load(&log->closing))
        return SL_ERR_CLOSED;
    log_topic *t = log_topic_find(log, topic);
    if (!t)
        return SL_ERR_NOTOPIC;
    if (n > UINT32_MAX)
        return SL_ERR_TOOBIG;
    if (log->fsync == SL_FSYNC_GROUP &&
        atomic_load(&log->pending_bytes) >= log->max_pending_bytes)
        return SL_ERR_FULL;

    /* One allocation: the pending record and every per-call array. */
    uint32_t nparts = (uint32_t)t->spec.partitions;
    size_t ntouch_max = n < nparts ? n : nparts;
    if (idem_key.len > LOG_PRODUCER_KEY_MAX)
        return SL_ERR_TOOBIG;
    size_t sz = sizeof *pd + n * sizeof(int64_t) + 2 * ntouch_max * sizeof(int64_t) +
                ntouch_max * sizeof(touched) +
                ntouch_max * sizeof(log_partition *) + n * sizeof(int32_t) +
                n * sizeof(uint32_t) + ((size_t)nparts + 1) * sizeof(uint32_t);
    pd = sl_try_malloc(sz);
    if (!pd)
        return SL_ERR_FULL;
    char *mem = (char *)(pd + 1);
    pd->offsets = (int64_t *)mem;
    mem += n * sizeof(int64_t);
    int64_t *dup_base = (int64_t *)mem; /* per touched partition: -1, or the retried batch */
    int64_t *dup_count = dup_base + ntouch_max; /* ... and its record count */
    mem += 2 * ntouch_max * sizeof(int64_t);
    touched *tv = (touched *)mem;
    mem += ntouch_max * sizeof(touched);
    pd->touched = (log_partition **)mem;
    mem += ntouch_max * sizeof(log_partition *);
    pd->partitions = (int32_t *)mem;
    mem += n * sizeof(int32_t);
    uint32_t *idx = (uint32_t *)mem;
    mem += n * sizeof(uint32_t);
    uint32_t *counts = (uint32_t *)mem;
    pd->next = NULL;
    pd->cb = cb;
    pd->opaque = opaque;
    pd->topic = t;
    pd->n = n;
    pd->t0_us = t0;
    pd->bytes = 0;
    pd->ntouched = 0;

    /* Route every record, then group them by partition (counting sort). */
    int32_t keyless = -1;
    memset(counts, 0, ((size_t)nparts + 1) * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        int32_t part = records[i].partition;
        if (part == SL_PARTITION_AUTO) {
            if (records[i].key.len) {
                part = sl_murmur2_partition(records[i].key.ptr, records[i].key.len,
                                            (int32_t)nparts);
            } else {
                /* A retry must land where the original did: with an
                   idempotency key the keyless partition follows the key. */
                if (keyless < 0)
                    keyless = idem_key.len ? sl_murmur2_partition(idem_key.ptr, idem_key.len,
                                                                  (int32_t)nparts)
                                           : (int32_t)(atomic_fetch_add(&t->rr, 1) % nparts);
                part = keyless;
            }
        } else if (part < 0 || (uint32_t)part >= nparts) {
            rc = SL_ERR_NOPARTITION;
            goto fail;
        }
        pd->partitions[i] = part;
        counts[part + 1]++;
    }
    for (uint32_t k = 0; k < nparts; k++) {
        if (counts[k + 1]) {
            tv[pd->ntouched] = (touched){ .p = &t->parts[k], .first = counts[k],
                                          .count = counts[k + 1] };
            pd->touched[pd->ntouched++] = &t->parts[k];
        }
        counts[k + 1] += counts[k];
    }
    for (size_t i = 0; i < n; i++)
        idx[counts[pd->partitions[i]]++] = (uint32_t)i;

    /* Encode every batch (CRC included) before taking any lock. */
    if (t->spec.compress) {
        cctx = cctx_get(log);
        if (!cctx) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    for (size_t k = 0; k < pd->ntouched; k++) {
        tv[k].start = enc.len;
        int64_t len = log_batch_encode(&enc, records, idx + tv[k].first, tv[k].count, idem_key,
                                       cctx, &scratch);
        if (len < 0) {
            rc = (int)len;
            goto fail;
        }
        tv[k].len = (size_t)len;
        pd->bytes += len;
    }

    /* Write under the locks of every touched partition, in ascending order. */
    for (; nlocked < pd->ntouched; nlocked++)
        pthread_mutex_lock(&tv[nlocked].p->lock);
    /* A batch this key already wrote (a retry) is not written again, even
       when the retry's records differ: a replay computed under other
       conditions (a scenario edited between a crash and the restart) must
       not add a second copy. The first copy stands. */
    for (size_t k = 0; k < pd->ntouched; k++) {
        int64_t b;
        uint32_t cnt;
        dup_base[k] = -1;
        if (idem_key.len && log_producers_find(&tv[k].p->producers, idem_key, &b, &cnt)) {
            dup_base[k] = b;
            dup_count[k] = cnt;
            pd->bytes -= (int64_t)tv[k].len;
            if (cnt != tv[k].count)
                SL_WARN(TAG, "%s: a retry of idempotency key '%.*s' holds %u records, the "
                        "original %u: the original is kept", tv[k].p->label,
                        (int)idem_key.len, idem_key.ptr, (unsigned)tv[k].count, cnt);
        }
    }
    for (; nwritten < pd->ntouched; nwritten++) {
        log_partition *p = tv[nwritten].p;
        if (dup_base[nwritten] >= 0)
            continue;
        rc = log_partition_prepare_locked(log, p, (int64_t)tv[nwritten].len);
        if (rc == 0)
            rc = log_partition_write_locked(log, p, (uint8_t *)enc.data + tv[nwritten].start,
                                            tv[nwritten].len);
        if (rc)
            goto fail;
    }
    int status = 0;
    size_t retried = 0;
    for (size_t k = 0; k < pd->ntouched; k++) {
        log_partition *p = tv[k].p;
        int64_t base_offset = dup_base[k];
        if (base_offset >= 0) {
            retried += tv[k].count;
        } else {
            base_offset = p->end;
            log_partition_publish_locked(p, (uint8_t *)enc.data + tv[k].start, tv[k].len);
            log_producers_insert(&p->producers, idem_key, base_offset, tv[k].count);
        }
        /* A retry's records past the original's count were not stored: -1. */
        for (uint32_t j = 0; j < tv[k].count; j++)
            pd->offsets[idx[tv[k].first + j]] =
                dup_base[k] >= 0 && j >= dup_count[k] ? -1 : base_offset + j;
        if (log->fsync == SL_FSYNC_ALWAYS && dup_base[k] < 0) {
            int err = log_fsync_fd(log, p->segs[p->nsegs - 1]->fd);
            if (err) {
                SL_LOG_ERRNO(SL_LOG_ERROR, TAG, err, "%s: fsync failed; appends stop until "
                             "the log is reopened", p->label);
                atomic_store(&p->broken, err);
                status = err;
            }
            p->dirty = false;
        }
    }
    for (size_t k = 0; k < nlocked; k++)
        pthread_mutex_unlock(&tv[k].p->lock);
    nlocked = 0;
    log_notify(log);

    sl_counter_add(t->m_records, n - retried);
    sl_counter_add(t->m_bytes, (uint64_t)pd->bytes);
    if (retried)
        sl_counter_add(log->m_retried, retried);
    if (cctx)
        cctx_put(log, cctx);
    sl_buf_free(&enc);
    sl_buf_free(&scratch);

    if (log->fsync != SL_FSYNC_GROUP) {
        complete(log, pd, status);
        return 0;
    }
    atomic_fetch_add(&log->pending_bytes, pd->bytes);
    pthread_mutex_lock(&log->sync_lock);
    bool was_empty = !log->queue;
    *log->queue_tail = pd;
    log->queue_tail = &pd->next;
    if (was_empty)
        pthread_cond_signal(&log->sync_cond);
    pthread_mutex_unlock(&log->sync_lock);
    return 0;

fail:
    for (size_t k = 0; k < nwritten; k++)
        log_partition_unwrite_locked(log, tv[k].p);
    for (size_t k = 0; k < nlocked; k++)
        pthread_mutex_unlock(&tv[k].p->lock);
    if (cctx)
        cctx_put(log, cctx);
    sl_buf_free(&enc);
    sl_buf_free(&scratch);
    free(pd);
    return rc;
}

/* ---- the syncer thread ---------------------------------------------------------- */

typedef struct log_sync_job {
    log_partition *p;
    int fd;
} log_sync_job;

#define LOG_SYNC_HELPERS 3

/* Take jobs of round `round` until none is left. A helper that wakes late
   finds the ticket of a later round and takes nothing from it. */
static void sync_jobs_run(embedded_log *log, uint64_t round)
{
    for (;;) {
        uint64_t t = atomic_load(&log->job_ticket);
        size_t n = atomic_load(&log->njobs), i = (size_t)(t & 0xFFFFFFFFu);
        if (t >> 32 != (round & 0xFFFFFFFFu) || i >= n)
            return;
        if (!atomic_compare_exchange_weak(&log->job_ticket, &t, t + 1))
            continue;
        log_partition_sync_end(log, log->jobs[i].p, log->jobs[i].fd);
        if (atomic_fetch_add(&log->job_done, 1) + 1 == n) {
            pthread_mutex_lock(&log->job_lock);
            pthread_cond_broadcast(&log->job_done_cond);
            pthread_mutex_unlock(&log->job_lock);
        }
    }
}

static void *sync_helper_main(void *arg)
{
    embedded_log *log = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&log->job_lock);
    for (;;) {
        while (!log->helpers_stop && log->job_round == seen)
            pthread_cond_wait(&log->job_cond, &log->job_lock);
        if (log->helpers_stop)
            break;
        seen = log->job_round;
        pthread_mutex_unlock(&log->job_lock);
        sync_jobs_run(log, seen);
        pthread_mutex_lock(&log->job_lock);
    }
    pthread_mutex_unlock(&log->job_lock);
    return NULL;
}

static void sync_round(embedded_log *log, log_pending *batch)
{
    pthread_mutex_lock(&log->maint_lock);
    size_t n = 0;
    for (size_t i = 0; i < log->ntopics; i++)
        for (int32_t k = 0; k < log->topics[i].spec.partitions; k++) {
            log_partition *p = &log->topics[i].parts[k];
            int fd = log_partition_sync_begin(p);
            if (fd >= 0)
                log->jobs[n++] = (log_sync_job){ p, fd };
        }
    if (n == 1 || !log->nhelpers) {
        for (size_t i = 0; i < n; i++)
            log_partition_sync_end(log, log->jobs[i].p, log->jobs[i].fd);
    } else if (n > 1) {
        pthread_mutex_lock(&log->job_lock);
        uint64_t round = ++log->job_round;
        atomic_store(&log->job_done, 0);
        atomic_store(&log->njobs, n);
        atomic_store(&log->job_ticket, (round & 0xFFFFFFFFu) << 32);
        pthread_cond_broadcast(&log->job_cond);
        pthread_mutex_unlock(&log->job_lock);
        sync_jobs_run(log, round);
        pthread_mutex_lock(&log->job_lock);
        while (atomic_load(&log->job_done) < n)
            pthread_cond_wait(&log->job_done_cond, &log->job_lock);
        atomic_store(&log->njobs, 0);
        pthread_mutex_unlock(&log->job_lock);
    }
    pthread_mutex_unlock(&log->maint_lock);
    while (batch) {
        log_pending *next = batch->next;
        int status = 0;
        for (size_t k = 0; k < batch->ntouched; k++) {
            int broken = atomic_load(&batch->touched[k]->broken);
            if (broken)
                status = broken;
        }
        atomic_fetch_sub(&log->pending_bytes, batch->bytes);
        complete(log, batch, status);
        batch = next;
    }
}

static int housekeeping_all(embedded_log *log)
{
    int deleted = 0;
    int64_t now = sl_now_us();
    pthread_mutex_lock(&log->maint_lock);
    for (size_t i = 0; i < log->ntopics; i++)
        for (int32_t k = 0; k < log->topics[i].spec.partitions; k++) {
            int rc = log_partition_housekeeping(log, &log->topics[i].parts[k], now);
            if (rc > 0)
                deleted += rc;
        }
    pthread_mutex_unlock(&log->maint_lock);
    return deleted;
}

static void *syncer_main(void *arg)
{
    embedded_log *log = arg;
    int64_t last_sync = 0, next_housekeeping = sl_mono_us() + LOG_HOUSEKEEPING_US;

    pthread_mutex_lock(&log->sync_lock);
    for (;;) {
        int64_t now = sl_mono_us();
        if (log->queue && (log->stopping || now >= last_sync + log->group_commit_us)) {
            log_pending *batch = log->queue;
            log->queue = NULL;
            log->queue_tail = &log->queue;
            last_sync = now;
            pthread_mutex_unlock(&log->sync_lock);
            sync_round(log, batch);
            pthread_mutex_lock(&log->sync_lock);
            continue;
        }
        if (log->stopping)
            break;
        if (now >= next_housekeeping) {
            pthread_mutex_unlock(&log->sync_lock);
            housekeeping_all(log);
            pthread_mutex_lock(&log->sync_lock);
            next_housekeeping = sl_mono_us() + LOG_HOUSEKEEPING_US;
            continue;
        }
        int64_t deadline = log->queue ? last_sync + log->group_commit_us : next_housekeeping;
        struct timespec ts = { deadline / 1000000, (deadline % 1000000) * 1000 };
        pthread_cond_timedwait(&log->sync_cond, &log->sync_lock, &ts);
    }
    pthread_mutex_unlock(&log->sync_lock);
    return NULL;
}

/* ---- metrics ----------------------------------------------------------------------- */

static void embedded_scrape(void *arg)
{
    embedded_log *log = arg;
    for (size_t i = 0; i < log->ntopics; i++)
        for (int32_t k = 0; k < log->topics[i].spec.partitions; k++) {
            log_partition *p = &log->topics[i].parts[k];
            pthread_mutex_lock(&p->lock);
            sl_gauge_set(p->m_start, (double)p->start);
            sl_gauge_set(p->m_end, (double)p->end);
            pthread_mutex_unlock(&p->lock);
        }
    sl_gauge_set(log->m_pending, (double)atomic_load(&log->pending_bytes));
    log_groups_scrape(log);
}

static void metrics_register(embedded_log *log)
{
    static const double fsync_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                            0.025,  0.05,    0.1,    0.25,  0.5,    1,    2.5 };
    sl_metric_family *f = sl_metrics_family(
        "sluice_log_fsync_seconds", "Time spent in fdatasync of log segments.", SL_HISTOGRAM, "");
    sl_metrics_histogram_buckets(f, fsync_bounds, (int)SL_ARRAY_LEN(fsync_bounds));
    log->m_fsync = sl_metric_get0(f);
    log->m_pending = sl_metric_get0(sl_metrics_family(
        "sluice_log_pending_bytes", "Appended bytes waiting for the group fsync.", SL_GAUGE, ""));
    log->m_retried = sl_metric_get0(sl_metrics_family(
        "sluice_log_idempotent_retries_total",
        "Records of retried appends (same idempotency key) answered from the log instead of "
        "written again.", SL_COUNTER, ""));
    log->f_recovered = sl_metrics_family(
        "sluice_log_recovered_bytes_dropped_total",
        "Bytes of torn or corrupt batches truncated by recovery at open.", SL_COUNTER,
        "topic,partition");
    log->f_start = sl_metrics_family("sluice_log_start_offset",
                                     "First offset still in the log (retention moves it).",
                                     SL_GAUGE, "topic,partition");
    log->f_end = sl_metrics_family("sluice_log_end_offset", "Offset the next record will get.",
                                   SL_GAUGE, "topic,partition");
    log->f_lag = sl_metrics_family("sluice_consumer_lag",
                                   "Records between a group's committed offset and the end.",
                                   SL_GAUGE, "group,topic,partition");
}

static void topic_metrics(log_topic *t)
{
    t->m_records = sl_metric_get1(sl_metrics_family("sluice_log_appended_records_total",
                                                    "Records appended to the log.", SL_COUNTER,
                                                    "topic"),
                                  t->name);
    t->m_bytes = sl_metric_get1(sl_metrics_family("sluice_log_appended_bytes_total",
                                                  "Batch bytes appended to the log.", SL_COUNTER,
                                                  "topic"),
                                t->name);
    t->m_append_seconds = sl_metric_get1(
        sl_metrics_family("sluice_log_append_seconds",
                          "Time from an append call to its durable completion.", SL_HISTOGRAM,
                          "topic"),
        t->name);
}

/* ---- open and close ------------------------------------------------------------------ */

static bool topic_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strcmp(name, "_groups") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void topic_add(embedded_log *log, size_t *cap, const sl_topic_spec *spec)
{
    if (log->ntopics == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        log->topics = sl_realloc(log->topics, *cap * sizeof *log->topics);
    }
    log_topic *t = &log->topics[log->ntopics++];
    memset(t, 0, sizeof *t);
    t->spec = *spec;
    t->name = sl_strdup(spec->name);
    t->spec.name = t->name;
    if (t->spec.segment_bytes <= 0)
        t->spec.segment_bytes = LOG_DEFAULT_SEGMENT_BYTES;
    if (t->spec.segment_bytes > LOG_MAX_SEGMENT_BYTES)
        t->spec.segment_bytes = LOG_MAX_SEGMENT_BYTES;
    if (t->spec.segment_ms <= 0) {
        t->spec.segment_ms = LOG_DEFAULT_SEGMENT_MS;
        if (t->spec.retention_ms > 0 && t->spec.retention_ms < t->spec.segment_ms)
            t->spec.segment_ms = t->spec.retention_ms;
    }
}

/* Read-only with no declared topics: every <topic>/<n>/ directory. */
static int topics_discover(embedded_log *log, size_t *cap)
{
    DIR *d = opendir(log->log_dir);
    if (!d)
        return -errno;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!topic_name_valid(e->d_name))
            continue;
        char *dir = sl_asprintf("%s/%s", log->log_dir, e->d_name);
        DIR *pd = opendir(dir);
        free(dir);
        if (!pd)
            continue;
        int32_t partitions = 0;
        struct dirent *pe;
        while ((pe = readdir(pd))) {
            char *endp;
            long id = strtol(pe->d_name, &endp, 10);
            if (*endp || endp == pe->d_name || id < 0 || id > 100000)
                continue;
            if (id + 1 > partitions)
                partitions = (int32_t)id + 1;
        }
        closedir(pd);
        if (partitions > 0)
            topic_add(log, cap, &(sl_topic_spec){ .name = e->d_name, .partitions = partitions });
    }
    closedir(d);
    return 0;
}

static void embedded_close(sl_log *base);

int sl_log_embedded_open(const sl_log_options *opts, sl_log **out)
{
    int rc = 0;
    size_t cap = 0;
    if (!opts->data_dir || !*opts->data_dir) {
        SL_ERROR(TAG, "data_dir is not set");
        return SL_ERR_CONFIG;
    }
    embedded_log *log = sl_calloc(1, sizeof *log);
    log->base.ops = &embedded_ops;
    log->lock_fd = -1;
    log->data_dir = sl_strdup(opts->data_dir);
    log->log_dir = sl_asprintf("%s/log", opts->data_dir);
    log->fsync = opts->fsync;
    log->group_commit_us = opts->group_commit_us > 0 ? opts->group_commit_us : LOG_DEFAULT_GROUP_US;
    log->max_pending_bytes =
        opts->max_pending_bytes > 0 ? opts->max_pending_bytes : LOG_DEFAULT_PENDING_BYTES;
    log->read_only = opts->read_only;
    log->queue_tail = &log->queue;

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&log->sync_lock, NULL);
    pthread_cond_init(&log->sync_cond, &ca);
    pthread_mutex_init(&log->poll_lock, NULL);
    pthread_cond_init(&log->poll_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&log->maint_lock, NULL);
    pthread_mutex_init(&log->pool_lock, NULL);
    pthread_mutex_init(&log->groups_lock, NULL);
    pthread_mutex_init(&log->report_lock, NULL);
    pthread_mutex_init(&log->job_lock, NULL);
    pthread_cond_init(&log->job_cond, NULL);
    pthread_cond_init(&log->job_done_cond, NULL);
    metrics_register(log);

    if (!log->read_only) {
        rc = log_mkdirs(log->log_dir);
        if (rc) {
            SL_LOG_ERRNO(SL_LOG_ERROR, TAG, rc, "cannot create %s", log->log_dir);
            goto fail;
        }
        char *lock_path = sl_asprintf("%s/.lock", log->log_dir);
        log->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        free(lock_path);
        if (log->lock_fd < 0 || flock(log->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
            SL_LOG_ERRNO(SL_LOG_ERROR, TAG, rc, "cannot lock %s/.lock%s", log->log_dir,
                         rc == -EBUSY ? " (another sluice is writing this log)" : "");
            goto fail;
        }
    } else {
        struct stat st;
        if (stat(log->log_dir, &st) != 0) {
            rc = -errno;
            SL_LOG_ERRNO(SL_LOG_ERROR, TAG, rc, "no log at %s", log->log_dir);
            goto fail;
        }
    }

    if (log->read_only && opts->ntopics == 0) {
        rc = topics_discover(log, &cap);
        if (rc)
            goto fail;
    }
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
        if (log_topic_find(log, spec->name)) {
            SL_ERROR(TAG, "topic %s is declared twice", spec->name);
            rc = SL_ERR_CONFIG;
            goto fail;
        }
        topic_add(log, &cap, spec);
    }
    if (!log_topic_find(log, SL_DLQ_TOPIC))
        topic_add(log, &cap, &(sl_topic_spec){ .name = SL_DLQ_TOPIC, .partitions = 1 });

    for (size_t i = 0; i < log->ntopics; i++) {
        log_topic *t = &log->topics[i];
        t->dir = sl_asprintf("%s/%s", log->log_dir, t->name);
        topic_metrics(t);
        t->parts = sl_calloc((size_t)t->spec.partitions, sizeof *t->parts);
    }
    for (size_t i = 0; i < log->ntopics; i++) {
        log_topic *t = &log->topics[i];
        for (int32_t k = 0; k < t->spec.partitions; k++) {
            rc = log_partition_open(log, t, &t->parts[k], k);
            if (rc) {
                SL_LOG_ERRNO(SL_LOG_ERROR, TAG, rc, "cannot open partition %s/%d", t->name, k);
                goto fail;
            }
        }
    }
    rc = log_groups_open(log);
    if (rc)
        goto fail;

    if (!log->read_only) {
        housekeeping_all(log);
        size_t nparts = 0;
        for (size_t i = 0; i < log->ntopics; i++)
            nparts += (size_t)log->topics[i].spec.partitions;
        log->jobs = sl_calloc(nparts, sizeof *log->jobs);
        if (log->fsync == SL_FSYNC_GROUP && nparts > 1) {
            size_t want = nparts - 1 < LOG_SYNC_HELPERS ? nparts - 1 : LOG_SYNC_HELPERS;
            log->helpers = sl_calloc(want, sizeof *log->helpers);
            for (; log->nhelpers < want; log->nhelpers++)
                if (pthread_create(&log->helpers[log->nhelpers], NULL, sync_helper_main, log))
                    break;
        }
        rc = pthread_create(&log->syncer, NULL, syncer_main, log);
        if (rc) {
            rc = -rc;
            goto fail;
        }
        log->syncer_started = true;
    }
    sl_metrics_on_scrape(embedded_scrape, log);
    *out = &log->base;
    return 0;

fail:
    embedded_close(&log->base);
    return rc;
}

static void embedded_close(sl_log *base)
{
    embedded_log *log = (embedded_log *)base;
    atomic_store(&log->closing, 1);
    sl_metrics_remove_hook(embedded_scrape, log);
    if (log->syncer_started) {
        pthread_mutex_lock(&log->sync_lock);
        log->stopping = true;
        pthread_cond_signal(&log->sync_cond);
        pthread_mutex_unlock(&log->sync_lock);
        pthread_join(log->syncer, NULL);
        /* An append that raced with close may have queued after the syncer's
           last round: its callback still fires, once. */
        if (log->queue) {
            log_pending *late = log->queue;
            log->queue = NULL;
            log->queue_tail = &log->queue;
            sync_round(log, late);
        }
    }
    if (log->nhelpers) {
        pthread_mutex_lock(&log->job_lock);
        log->helpers_stop = true;
        pthread_cond_broadcast(&log->job_cond);
        pthread_mutex_unlock(&log->job_lock);
        for (size_t i = 0; i < log->nhelpers; i++)
            pthread_join(log->helpers[i], NULL);
    }
    free(log->helpers);
    free(log->jobs);
    for (size_t i = 0; i < log->ntopics; i++) {
        log_topic *t = &log->topics[i];
        for (int32_t k = 0; t->parts && k < t->spec.partitions; k++) {
            log_partition *p = &t->parts[k];
            if (!p->dir)
                continue;
            if (!log->read_only && log->fsync == SL_FSYNC_OS && p->nsegs)
                log_fsync_fd(log, p->segs[p->nsegs - 1]->fd); /* a clean stop is durable */
            log_partition_close(log, p);
        }
        free(t->parts);
        free(t->dir);
        free(t->name);
    }
    free(log->topics);
    log_groups_close(log);
    for (size_t i = 0; i < log->ncctx; i++)
        ZSTD_freeCCtx(log->cctx[i]);
    for (size_t i = 0; i < log->ndctx; i++)
        ZSTD_freeDCtx(log->dctx[i]);
    free(log->cctx);
    free(log->dctx);
    if (log->lock_fd >= 0)
        close(log->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&log->sync_lock);
    pthread_cond_destroy(&log->sync_cond);
    pthread_mutex_destroy(&log->poll_lock);
    pthread_cond_destroy(&log->poll_cond);
    pthread_mutex_destroy(&log->maint_lock);
    pthread_mutex_destroy(&log->pool_lock);
    pthread_mutex_destroy(&log->groups_lock);
    pthread_mutex_destroy(&log->report_lock);
    pthread_mutex_destroy(&log->job_lock);
    pthread_cond_destroy(&log->job_cond);
    pthread_cond_destroy(&log->job_done_cond);
    sl_buf_free(&log->report);
    free(log->data_dir);
    free(log->log_dir);
    free(log);
}

/* ---- the rest of the ops table ----------------------------------------------------------- */

static int embedded_read(sl_log *base, const char *topic, int32_t partition, int64_t offset,
                         size_t max_records, size_t max_bytes, int timeout_ms, sl_fetch *f)
{
    embedded_log *log = (embedded_log *)base;
    int err;
    log_partition *p = log_partition_find(log, topic, partition, &err);
    if (!p)
        return err;
    return log_partition_read(log, p, offset, max_records, max_bytes, timeout_ms, 0, f);
}

static int embedded_offsets(sl_log *base, const char *topic, int32_t partition, int64_t *start,
                            int64_t *end)
{
    embedded_log *log = (embedded_log *)base;
    int err;
    log_partition *p = log_partition_find(log, topic, partition, &err);
    if (!p)
        return err;
    log_partition_offsets(log, p, start, end);
    return 0;
}

static int embedded_topics(sl_log *base, sl_topic_info **out, size_t *n)
{
    embedded_log *log = (embedded_log *)base;
    sl_topic_info *v = sl_calloc(log->ntopics ? log->ntopics : 1, sizeof *v);
    for (size_t i = 0; i < log->ntopics; i++) {
        v[i].name = sl_strdup(log->topics[i].name);
        v[i].partitions = log->topics[i].spec.partitions;
    }
    *out = v;
    *n = log->ntopics;
    return 0;
}

static int embedded_commit(sl_log *base, const char *group, const char *topic,
                           int32_t partition, int64_t next_offset)
{
    return log_groups_commit((embedded_log *)base, group, topic, partition, next_offset);
}

static int embedded_committed(sl_log *base, const char *group, const char *topic,
                              int32_t partition, int64_t *next_offset)
{
    return log_groups_committed((embedded_log *)base, group, topic, partition, next_offset);
}

static int embedded_groups(sl_log *base, const char *topic, char ***groups, size_t *n)
{
    return log_groups_list((embedded_log *)base, topic, groups, n);
}

static const sl_log_ops embedded_ops = {
    .name = "embedded",
    .close = embedded_close,
    .append = embedded_append,
    .read = embedded_read,
    .offsets = embedded_offsets,
    .topics = embedded_topics,
    .commit = embedded_commit,
    .committed = embedded_committed,
    .groups = embedded_groups,
    .consumer_open = log_consumer_open,
    .consumer_poll = log_consumer_poll,
    .consumer_commit = log_consumer_commit,
    .consumer_seek = log_consumer_seek,
    .consumer_assignment = log_consumer_assignment,
    .consumer_close = log_consumer_close,
};

/* ---- extras for tests and the CLI (embedded.h) ----------------------------------------------- */

static embedded_log *as_embedded(sl_log *log)
{
    return log && log->ops == &embedded_ops ? (embedded_log *)log : NULL;
}

int sl_log_embedded_recovery_report(sl_log *base, sl_buf *out)
{
    embedded_log *log = as_embedded(base);
    if (!log)
        return -EINVAL;
    pthread_mutex_lock(&log->report_lock);
    if (log->report.len)
        sl_buf_append(out, log->report.data, log->report.len);
    int lines = log->report_lines;
    pthread_mutex_unlock(&log->report_lock);
    return lines;
}

int sl_log_embedded_retention_run(sl_log *base)
{
    embedded_log *log = as_embedded(base);
    if (!log)
        return -EINVAL;
    if (log->read_only)
        return -EROFS;
    return housekeeping_all(log);
}

uint64_t sl_log_embedded_fsync_count(sl_log *base)
{
    embedded_log *log = as_embedded(base);
    return log ? atomic_load(&log->fsyncs) : 0;
}
