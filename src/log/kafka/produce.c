/*
 * produce.c - appends on Kafka: partitioning like the embedded log,
 * reservations against the producer's queue, one completion per call
 * after the delivery report of every record, and the poller thread that
 * serves the reports.
 *
 * Partitioning is sluice's, not librdkafka's: a keyed record goes to
 * sl_log_partition_for_key (murmur2, as Kafka's Java client and the
 * embedded log place it), the records of a keyless call go together to one
 * partition, rotating between calls, or with an idempotency key to the
 * key's murmur2 partition; the partition is then given to produce
 * explicitly. Timestamps go on the wire in milliseconds (µs / 1000,
 * rounded down); a timestamp of 0 lets the producer stamp the current time.
 *
 * One call, from the caller's view:
 *
 *   kafka_append ──reserve n records, their bytes──▶ full? SL_ERR_FULL, nothing produced
 *        │ producev × n (copies the bytes)
 *        ▼
 *   remaining = n + 1 (the call holds one) ──▶ each delivery report: record its
 *        │                                     offset, or keep the first error;
 *        ▼                                     remaining - 1
 *   call returns 0, drops its hold        ──▶ remaining hits 0: cb(status, ...),
 *                                             reservation released, memory freed
 *
 * What a failed call may leave behind:
 *   - an error returned by the call itself (SL_ERR_NOTOPIC, SL_ERR_FULL,
 *     SL_ERR_NOPARTITION, SL_ERR_TOOBIG, SL_ERR_CLOSED, ...) means no
 *     record was handed to the producer and the callback never fires.
 *     SL_ERR_FULL comes from sluice's own reservation (log.max_pending
 *     bytes, or queue.buffering.max.messages records still undelivered),
 *     which is checked before the first record is produced;
 *   - librdkafka can still refuse a record in the middle of a call (its
 *     queue filled up between the reservation and the produce: a race with
 *     other appenders, or its own byte limit below log.max_pending). The
 *     call then waits up to KAFKA_PRODUCE_WAIT_MS for room, and if none
 *     comes it stops producing, returns 0 and completes with SL_ERR_FULL
 *     once the records already handed over have reported. The records
 *     before the refusal may well be on Kafka: exactly the log.h contract
 *     "nothing may be assumed about which records were kept";
 *   - a completion with an error (a delivery failed: broker errors past
 *     retries, message.timeout.ms, close) likewise says nothing about the
 *     other records of the call, some of which may be stored.
 * A sender that retries after an error may therefore duplicate records on
 * Kafka. The idempotent producer only removes the duplicates of its own
 * internal retries, not a retried request: sl_log_append_idempotent's key
 * is not checked against earlier calls here; it is written to every record
 * as the header "sluice.idempotency-key" so that consumers can drop
 * duplicates, and it still decides the partition of keyless records, so a
 * retry lands next to its original.
 */
#include "log/kafka/kafka_int.h"

#include "core/alloc.h"
#include "core/logging.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct append_call append_call;

/* A record's delivery report finds its call and its index through this. */
typedef struct kafka_msg_ref {
    append_call *a;
    uint32_t i;
} kafka_msg_ref;

/* One append call in flight (one allocation with its arrays). */
struct append_call {
    kafka_log *log;
    kafka_topic *t;
    sl_append_cb cb;
    void *opaque;
    size_t n;
    _Atomic size_t remaining; /* reports still to come, + 1 while the call runs */
    _Atomic int status;       /* the first error wins */
    bool abandoned;           /* the call failed before producing: no callback */
    int64_t bytes;            /* reserved */
    int64_t t0_us;
    int32_t *partitions;
    int64_t *offsets;
    kafka_msg_ref *refs;
};

static bool reserve(kafka_log *log, int64_t msgs, int64_t bytes)
{
    int64_t m = atomic_fetch_add(&log->pending_msgs, msgs) + msgs;
    int64_t b = atomic_fetch_add(&log->pending_bytes, bytes) + bytes;
    /* A lone call larger than the byte limit still goes (it would never fit). */
    bool alone = m == msgs && b == bytes;
    if (!alone && (m > log->max_pending_msgs || b > log->max_pending_bytes)) {
        atomic_fetch_sub(&log->pending_msgs, msgs);
        atomic_fetch_sub(&log->pending_bytes, bytes);
        return false;
    }
    return true;
}

static void append_finish(append_call *a)
{
    kafka_log *log = a->log;
    if (!a->abandoned) {
        a->cb(a->opaque, atomic_load(&a->status), a->partitions, a->offsets, a->n);
        sl_histogram_observe(a->t->m_append_seconds, (double)(sl_mono_us() - a->t0_us) / 1e6);
    }
    atomic_fetch_sub(&log->pending_msgs, (int64_t)a->n);
    atomic_fetch_sub(&log->pending_bytes, a->bytes);
    free(a);
}

static void append_release(append_call *a, size_t count)
{
    if (atomic_fetch_sub(&a->remaining, count) == count)
        append_finish(a);
}

static void status_set(append_call *a, int code)
{
    int expected = 0;
    atomic_compare_exchange_strong(&a->status, &expected, code);
}

void kafka_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    kafka_msg_ref *ref = m->_private;
    if (!ref)
        return;
    append_call *a = ref->a;
    kafka_topic *t = a->t;
    if (m->err) {
        status_set(a, kafka_err_code(m->err));
        sl_counter_add(t->m_delivery_errors, 1);
        SL_WARN(TAG, "delivery to %s/%d failed: %s", t->name, m->partition,
                rd_kafka_err2str(m->err));
    } else {
        a->offsets[ref->i] = m->offset;
        sl_counter_add(t->m_records, 1);
        sl_counter_add(t->m_bytes, (uint64_t)(m->len + m->key_len));
        if (m->partition >= 0 && m->partition < t->partitions) {
            _Atomic int64_t *end = &t->end_seen[m->partition];
            int64_t seen = atomic_load(end);
            while (m->offset + 1 > seen && !atomic_compare_exchange_weak(end, &seen, m->offset + 1))
                ;
        }
    }
    append_release(a, 1);
}

static int64_t ms_of(int64_t ts_us)
{
    if (ts_us <= 0)
        return 0;
    return ts_us / 1000;
}

static rd_kafka_resp_err_t produce_one(kafka_log *log, append_call *a, const sl_record *r,
                                       size_t i, sl_view idem)
{
    const void *key = r->key.len ? r->key.ptr : NULL;
    void *value = (void *)r->value.ptr;
    if (idem.len)
        return rd_kafka_producev(
            log->producer, RD_KAFKA_V_RKT(a->t->rkt), RD_KAFKA_V_PARTITION(a->partitions[i]),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, r->key.len),
            RD_KAFKA_V_VALUE(value, r->value.len), RD_KAFKA_V_TIMESTAMP(ms_of(r->ts_us)),
            RD_KAFKA_V_OPAQUE(&a->refs[i]),
            RD_KAFKA_V_HEADER(KAFKA_IDEMPOTENCY_HEADER, idem.ptr, (ssize_t)idem.len),
            RD_KAFKA_V_END);
    return rd_kafka_producev(
        log->producer, RD_KAFKA_V_RKT(a->t->rkt), RD_KAFKA_V_PARTITION(a->partitions[i]),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, r->key.len),
        RD_KAFKA_V_VALUE(value, r->value.len), RD_KAFKA_V_TIMESTAMP(ms_of(r->ts_us)),
        RD_KAFKA_V_OPAQUE(&a->refs[i]), RD_KAFKA_V_END);
}

/* librdkafka refused a record for lack of room: wait (bounded) for the poller
   to serve delivery reports, then try again. */
static rd_kafka_resp_err_t produce_wait(kafka_log *log, append_call *a, const sl_record *r,
                                        size_t i, sl_view idem)
{
    int64_t deadline = sl_mono_us() + KAFKA_PRODUCE_WAIT_MS * 1000LL;
    rd_kafka_resp_err_t err;
    do {
        usleep(1000);
        err = produce_one(log, a, r, i, idem);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && sl_mono_us() < deadline &&
             !atomic_load(&log->closing));
    return err;
}

int kafka_append(sl_log *base, const char *topic, const sl_record *records, size_t n,
                 sl_view idem, sl_append_cb cb, void *opaque)
{
    kafka_log *log = (kafka_log *)base;
    int64_t t0 = sl_mono_us();
    if (log->read_only)
        return -EROFS;
    if (atomic_load(&log->closing))
        return SL_ERR_CLOSED;
    kafka_topic *t = kafka_topic_find(log, topic);
    if (!t)
        return SL_ERR_NOTOPIC;
    if (n > UINT32_MAX || (int64_t)n > log->max_pending_msgs || idem.len > 255)
        return SL_ERR_TOOBIG;

    append_call *a = sl_try_malloc(sizeof *a + n * (sizeof(int64_t) + sizeof(kafka_msg_ref) +
                                                     sizeof(int32_t)));
    if (!a)
        return SL_ERR_FULL;
    memset(a, 0, sizeof *a);
    a->log = log;
    a->t = t;
    a->cb = cb;
    a->opaque = opaque;
    a->n = n;
    a->t0_us = t0;
    a->offsets = (int64_t *)(a + 1);
    a->refs = (kafka_msg_ref *)(a->offsets + n);
    a->partitions = (int32_t *)(a->refs + n);

    int32_t keyless = -1;
    for (size_t i = 0; i < n; i++) {
        const sl_record *r = &records[i];
        int32_t part = r->partition;
        if (part == SL_PARTITION_AUTO) {
            if (r->key.len) {
                part = sl_log_partition_for_key(r->key, t->partitions);
            } else {
                if (keyless < 0)
                    keyless = idem.len ? sl_log_partition_for_key(idem, t->partitions)
                                       : (int32_t)(atomic_fetch_add(&t->rr, 1) %
                                                   (uint32_t)t->partitions);
                part = keyless;
            }
        } else if (part < 0 || part >= t->partitions) {
            free(a);
            return SL_ERR_NOPARTITION;
        }
        a->partitions[i] = part;
        a->offsets[i] = -1;
        a->refs[i] = (kafka_msg_ref){ a, (uint32_t)i };
        a->bytes += (int64_t)(r->key.len + r->value.len + (idem.len ? idem.len + 32 : 0));
    }
    if (n == 0) {
        cb(opaque, 0, a->partitions, a->offsets, 0);
        free(a);
        return 0;
    }
    if (!reserve(log, (int64_t)n, a->bytes)) {
        free(a);
        return SL_ERR_FULL;
    }

    pthread_rwlock_rdlock(&log->append_lock);
    int rc = 0;
    size_t produced = 0;
    char why[256];
    if (atomic_load(&log->closing)) {
        rc = SL_ERR_CLOSED;
    } else if (rd_kafka_fatal_error(log->producer, why, sizeof why)) {
        SL_ERROR(TAG, "append to %s refused: the producer stopped after a fatal error (%s); "
                 "restart sluice", t->name, why);
        rc = SL_ERR;
    }
    atomic_store(&a->remaining, n + 1);
    for (; rc == 0 && produced < n; produced++) {
        rd_kafka_resp_err_t err = produce_one(log, a, &records[produced], produced, idem);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && produced > 0)
            err = produce_wait(log, a, &records[produced], produced, idem);
        if (err) {
            rc = kafka_err_code(err);
            if (rc == SL_ERR)
                SL_ERROR(TAG, "cannot produce to %s/%d: %s", t->name, a->partitions[produced],
                         rd_kafka_err2str(err));
            break;
        }
    }
    pthread_rwlock_unlock(&log->append_lock);

    if (rc && produced == 0) {
        /* Nothing handed over: the call fails and the callback never fires. */
        a->abandoned = true;
        append_release(a, n + 1);
        return rc;
    }
    if (rc) {
        SL_WARN(TAG, "append to %s stopped after %zu of %zu records (%s); it completes with "
                "that error once they have reported", t->name, produced, n, sl_strerror(rc));
        status_set(a, rc);
    }
    append_release(a, n - produced + 1);
    return 0;
}

/* ---- the poller thread ------------------------------------------------------------ */

static void *poller_main(void *arg)
{
    kafka_log *log = arg;
    while (!atomic_load(&log->poller_stop))
        rd_kafka_poll(log->producer, 100);
    return NULL;
}

int kafka_poller_start(kafka_log *log)
{
    int rc = pthread_create(&log->poller, NULL, poller_main, log);
    if (rc)
        return -rc;
    log->poller_started = true;
    return 0;
}

void kafka_producer_drain(kafka_log *log)
{
    if (!log->read_only && rd_kafka_outq_len(log->producer) > 0) {
        rd_kafka_resp_err_t err = rd_kafka_flush(log->producer, log->set.timeout_ms);
        if (err) {
            SL_WARN(TAG, "%d records still undelivered %d ms into close; failing their appends",
                    rd_kafka_outq_len(log->producer), log->set.timeout_ms);
            rd_kafka_purge(log->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            /* Purged records report (as errors) through the poll. */
            int64_t deadline = sl_mono_us() + (int64_t)log->set.timeout_ms * 1000;
            while (atomic_load(&log->pending_msgs) > 0 && sl_mono_us() < deadline)
                rd_kafka_poll(log->producer, 50);
        }
    }
    if (log->poller_started) {
        atomic_store(&log->poller_stop, 1);
        pthread_join(log->poller, NULL);
        log->poller_started = false;
    }
    rd_kafka_poll(log->producer, 0);
    if (atomic_load(&log->pending_msgs) > 0)
        SL_ERROR(TAG, "%lld records of unfinished appends at close",
                 (long long)atomic_load(&log->pending_msgs));
}
