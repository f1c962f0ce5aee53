/*
 * kafka_consume.c - the `kafka` input's consumer: messages of an existing
 * cluster's topics into ranges, ranges into the log, commits after the log
 * made them durable (the scheme is in kafka_input.h).
 *
 * One source partition, as this file keeps it:
 *
 *   committed on the cluster           durable          seen
 *        |                                |               |
 *        v                                v               v
 *   ... [ range ][ range ][ range ]......[ range ][ range ][ open range ... )
 *        '-- popped: durable, counted --'  '-- fifo: handed to   '-- taking messages;
 *            (committed every                  the log, in          closed by content
 *             commit_interval)                 offset order)        or, after linger,
 *                                                                   by an announcement
 *
 * A range's life: open (taking messages) -> closed, in the fifo (its end
 * is fixed) -> its appends sent (events to `to`, rejects to _dlq, each an
 * idempotent append with the range's key) -> both answered OK -> popped at
 * the head of the fifo, which moves the partition's durable offset to its
 * end. A failed append is sent again, same key, after a backoff; the fifo
 * keeps its place, so the durable offset never passes a range the log
 * does not hold.
 *
 * Threads: one stage thread does everything above and runs librdkafka's
 * rebalance callback (inside rd_kafka_consumer_poll). Append completions
 * come on the log's threads: they only set the append's state under
 * in->lock, signal in->cond and wake the poll (rd_kafka_queue_yield).
 *
 * Rebalances (cooperative-sticky by default, like the Kafka backend's
 * groups): a partition being revoked drops its open range and the closed
 * ranges not yet sent (the next owner reads them again), waits up to
 * revoke_timeout for the appends in flight, commits what became durable
 * and lets the partition go. Appends still in flight after that are kept
 * as orphans until the log answers them; whatever they wrote, the next
 * owner's replay of the same ranges is recognised by the embedded log.
 */
#include "input/kafka/kafka_input.h"

#include "core/alloc.h"
#include "core/logging.h"
#include "core/metrics.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KIN_REQUEST_TIMEOUT_MS 10000   /* commits and committed-offset lookups */
#define KIN_POLL_MS            100     /* longest wait in poll (completions wake it) */
#define KIN_DRAIN              1000    /* messages taken per wake-up */
#define KIN_LAG_EVERY_US       1000000

const char *const kin_forced_settings[] = {
    "bootstrap.servers", "metadata.broker.list", "group.id", "enable.auto.commit",
    "enable.auto.offset.store", "enable.partition.eof", "auto.offset.reset", NULL,
};

typedef enum { APP_NONE, APP_PENDING, APP_OK, APP_FAILED } app_state;
enum { APP_EVENTS, APP_DLQ };

typedef struct kin_range kin_range;
typedef struct kin_part kin_part;

/* One accepted event or one envelope: offsets into the range's buffers. */
typedef struct kin_rec {
    uint32_t voff, vlen, koff, klen;
    int64_t ts_us;
    const char *reason;          /* envelopes: the metric label */
} kin_rec;

/* What an append's callback gets: which append of which range. */
typedef struct kin_append {
    kin_range *range;
    int which;
} kin_append;

struct kin_range {
    kin_input *in;
    int64_t start, end;          /* [start, end); end moves while open */
    sl_buf values, keys;         /* accepted events and their keys, back to back */
    sl_buf dlq;                  /* envelopes, back to back */
    kin_rec *recs, *dlqs;
    size_t nrec, ndlq, cap_rec, cap_dlq;
    int64_t bytes;               /* key + value bytes of its messages (cuts, backpressure) */
    app_state app[2];            /* in->lock */
    int status[2];               /* in->lock */
    kin_append ctx[2];
    char key[256];               /* the idempotency key, once closed */
    kin_range *next;             /* the partition's fifo, or the orphans */
};

struct kin_part {
    char *topic;
    int32_t partition;
    bool anchored;               /* the chain of ranges starts at a committed offset */
    int64_t anchor;              /* that offset */
    int64_t cut;                 /* announced end of the range starting at anchor; -1 */
    int64_t next_start;          /* where the next range starts; -1 before any message */
    int64_t seen;                /* offset after the last message taken; -1 */
    int64_t durable;             /* every offset below is in the log; -1 = nothing yet */
    int64_t committed;           /* last offset committed by this member; -1 */
    kin_range *open;
    int64_t open_since_us;
    kin_range *head, *tail;      /* closed ranges, oldest first */
    int64_t retry_at_us;         /* no commit attempt, no resend before */
    bool retry_armed;            /* a failed append waits for retry_at_us */
    sl_metric *m_lag;
};

struct kin_input {
    const sl_stage_env *env;
    const kin_conf *conf;
    char *group, *brokers;
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;     /* the consumer queue, for yields */
    bool subscribed, closed;
    bool ever_assigned;          /* see park_handle */
    kin_converter conv;
    sl_buf keybuf;
    sl_record *scratch;
    size_t scratch_cap;

    kin_part **parts;
    size_t nparts, cap_parts;

    pthread_mutex_t lock;        /* append states, orphans */
    pthread_cond_t cond;
    kin_range *orphans;
    _Atomic bool stop;
    int fatal;

    int64_t inflight_bytes;      /* in ranges not yet durable (stage thread) */
    bool paused;
    int64_t last_commit_us, last_lag_us;
    int backoff_ms;
    bool failing;

    sl_metric *m_records;
    sl_metric_family *f_rejected, *f_lag;
};

/* ---- librdkafka's log and errors -------------------------------------------- */

static void on_rdkafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    kin_input *in = rd_kafka_opaque(rk);
    sl_log_level lvl = level <= 3 ? SL_LOG_ERROR : level == 4 ? SL_LOG_WARN
                     : level <= 6 ? SL_LOG_INFO : SL_LOG_DEBUG;
    if (lvl == SL_LOG_ERROR && !strcmp(fac, "FAIL"))
        lvl = SL_LOG_WARN; /* a broker connection failed: retried */
    if (!strcmp(fac, "CONFWARN") && strstr(buf, "is a producer property"))
        lvl = SL_LOG_DEBUG; /* inherited from the log's kafka: settings */
    SL_LOG_AT(lvl, in ? in->env->tag : "input:kafka", 0, "%s: %s", fac, buf);
}

static void on_rdkafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kin_input *in = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(rk, why, sizeof why);
        SL_ERROR(in->env->tag, "the consumer stopped: %s", why);
        in->fatal = SL_ERR;
        return;
    }
    sl_log_level lvl = err == RD_KAFKA_RESP_ERR__TRANSPORT ? SL_LOG_DEBUG : SL_LOG_WARN;
    SL_LOG_AT(lvl, in->env->tag, 0, "%s: %s", rd_kafka_err2name(err), reason);
}

/* ---- partitions and ranges ----------------------------------------------------- */

static kin_part *part_find(kin_input *in, const char *topic, int32_t partition, size_t *at)
{
    for (size_t i = 0; i < in->nparts; i++)
        if (in->parts[i]->partition == partition && !strcmp(in->parts[i]->topic, topic)) {
            if (at)
                *at = i;
            return in->parts[i];
        }
    return NULL;
}

static kin_range *range_new(kin_input *in, int64_t start)
{
    kin_range *r = sl_calloc(1, sizeof *r);
    r->in = in;
    r->start = r->end = start;
    for (int k = 0; k < 2; k++)
        r->ctx[k] = (kin_append){ .range = r, .which = k };
    return r;
}

static void range_free(kin_range *r)
{
    if (!r)
        return;
    sl_buf_free(&r->values);
    sl_buf_free(&r->keys);
    sl_buf_free(&r->dlq);
    free(r->recs);
    free(r->dlqs);
    free(r);
}

static void range_drop(kin_input *in, kin_range *r)
{
    if (r)
        in->inflight_bytes -= r->bytes;
    range_free(r);
}

static kin_rec *rec_push(kin_rec **v, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = sl_realloc(*v, *cap * sizeof **v);
    }
    kin_rec *r = &(*v)[(*n)++];
    memset(r, 0, sizeof *r);
    return r;
}

/* The end a range starting at start may reach at most. */
static int64_t range_limit(const kin_input *in, const kin_part *p, int64_t start)
{
    if (p->cut >= 0 && start == p->anchor)
        return p->cut;
    return start + in->conf->batch;
}

/* Close the open range at end: it joins the fifo, to be sent. */
static void range_close(kin_input *in, kin_part *p, int64_t end)
{
    kin_range *r = p->open;
    p->open = NULL;
    r->end = end;
    p->next_start = end;
    kin_range_key(in->group, p->topic, p->partition, r->start, r->end, r->key, sizeof r->key);
    if (p->tail)
        p->tail->next = r;
    else
        p->head = r;
    p->tail = r;
}

/* Convert one message into the partition's open range, closing ranges by content. */
static void take_message(kin_input *in, kin_part *p, const rd_kafka_message_t *m)
{
    int64_t o = m->offset;
    if (p->seen >= 0 && o < p->seen)
        return; /* delivered again after a seek: already taken */
    if (p->next_start < 0)
        p->next_start = o; /* no commit yet: the chain starts here (anchored before sending) */
    for (;;) {
        int64_t start = p->open ? p->open->start : p->next_start;
        int64_t limit = range_limit(in, p, start);
        if (o < limit)
            break;
        if (p->open) {
            range_close(in, p, limit); /* every offset of it has been seen */
        } else if (p->cut >= 0 && start == p->anchor) {
            p->next_start = limit;     /* the announced range is empty (retention) */
        } else {
            p->next_start = start + (o - start) / in->conf->batch * in->conf->batch;
            break;
        }
    }
    if (!p->open) {
        p->open = range_new(in, p->next_start);
        p->open_since_us = sl_mono_us();
    }
    kin_range *r = p->open;

    kin_message km = {
        .topic = p->topic, .partition = p->partition, .offset = o,
        .key = m->key ? (sl_view){ m->key, m->key_len } : SL_VIEW_NULL,
        .value = m->payload ? (sl_view){ m->payload, m->len } : SL_VIEW_NULL, .ts_us = -1,
    };
    rd_kafka_timestamp_type_t tstype;
    int64_t ts_ms = rd_kafka_message_timestamp(m, &tstype);
    if (ts_ms >= 0 && tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
        km.ts_us = ts_ms * 1000;
    int64_t now = sl_now_us();
    kin_result res;
    kin_convert(&in->conv, &km, now, &in->keybuf, &res);
    if (!res.reason) {
        kin_rec *rec = rec_push(&r->recs, &r->nrec, &r->cap_rec);
        rec->voff = (uint32_t)r->values.len;
        rec->vlen = (uint32_t)res.value.len;
        rec->koff = (uint32_t)r->keys.len;
        rec->klen = (uint32_t)in->keybuf.len;
        rec->ts_us = res.ts_us;
        sl_buf_append(&r->values, res.value.ptr, res.value.len);
        if (in->keybuf.len)
            sl_buf_append(&r->keys, in->keybuf.data, in->keybuf.len);
    } else {
        kin_rec *rec = rec_push(&r->dlqs, &r->ndlq, &r->cap_dlq);
        rec->voff = (uint32_t)r->dlq.len;
        kin_dlq_envelope(&in->conv, &km, &res, now, &r->dlq);
        rec->vlen = (uint32_t)(r->dlq.len - rec->voff);
        rec->ts_us = now;
        rec->reason = res.reason;
    }
    int64_t bytes = (int64_t)(m->len + m->key_len);
    r->bytes += bytes;
    in->inflight_bytes += bytes;
    r->end = o + 1;
    p->seen = o + 1;
    if (o + 1 >= range_limit(in, p, r->start) || r->bytes >= in->conf->batch_bytes)
        range_close(in, p, o + 1);
}

/* ---- appends ---------------------------------------------------------------------- */

static void on_appended(void *opaque, int status, const int32_t *partitions,
                        const int64_t *offsets, size_t n)
{
    (void)partitions;
    (void)offsets;
    (void)n;
    kin_append *a = opaque;
    kin_input *in = a->range->in;
    pthread_mutex_lock(&in->lock);
    a->range->app[a->which] = status == 0 ? APP_OK : APP_FAILED;
    a->range->status[a->which] = status;
    pthread_cond_broadcast(&in->cond);
    /* Under the lock: once the state is seen, close may free everything. */
    if (in->queue)
        rd_kafka_queue_yield(in->queue);
    pthread_mutex_unlock(&in->lock);
}

/* Send one of a range's appends (events or envelopes) with its key. */
static void range_send(kin_input *in, kin_range *r, int which)
{
    size_t n = which == APP_EVENTS ? r->nrec : r->ndlq;
    const kin_rec *v = which == APP_EVENTS ? r->recs : r->dlqs;
    const sl_buf *vals = which == APP_EVENTS ? &r->values : &r->dlq;
    if (n > in->scratch_cap) {
        in->scratch_cap = n;
        in->scratch = sl_realloc(in->scratch, n * sizeof *in->scratch);
    }
    for (size_t i = 0; i < n; i++)
        in->scratch[i] = (sl_record){
            .key = v[i].klen ? (sl_view){ r->keys.data + v[i].koff, v[i].klen } : SL_VIEW_NULL,
            .value = { vals->data + v[i].voff, v[i].vlen },
            .ts_us = v[i].ts_us,
            .partition = SL_PARTITION_AUTO,
        };
    pthread_mutex_lock(&in->lock);
    r->app[which] = APP_PENDING;
    pthread_mutex_unlock(&in->lock);
    const char *topic = which == APP_EVENTS ? in->conf->to : SL_DLQ_TOPIC;
    int rc = sl_log_append_idempotent(in->env->log, topic, in->scratch, n, sl_view_of(r->key),
                                      on_appended, &r->ctx[which]);
    if (rc < 0) { /* the callback never fires */
        pthread_mutex_lock(&in->lock);
        r->app[which] = APP_FAILED;
        r->status[which] = rc;
        pthread_mutex_unlock(&in->lock);
    }
}

/* ---- commits ------------------------------------------------------------------------ */

/*
 * Commit offsets (and metadata: an announcement, or "" to clear one) of
 * partitions, waiting at most KIN_REQUEST_TIMEOUT_MS. Returns 0 when every
 * partition's commit was taken.
 */
static int commit_offsets(kin_input *in, kin_part *const *ps, const int64_t *offsets,
                          const char *const *metadata, size_t n)
{
    if (!n)
        return 0;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *e =
            rd_kafka_topic_partition_list_add(list, ps[i]->topic, ps[i]->partition);
        e->offset = offsets[i];
        const char *md = metadata && metadata[i] ? metadata[i] : "";
        e->metadata = sl_strdup(md); /* the list frees it */
        e->metadata_size = strlen(md);
    }
    int rc = 0;
    rd_kafka_queue_t *q = rd_kafka_queue_new(in->rk);
    rd_kafka_resp_err_t err = rd_kafka_commit_queue(in->rk, list, q, NULL, NULL);
    if (!err) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, KIN_REQUEST_TIMEOUT_MS);
        if (!ev) {
            err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        } else {
            err = rd_kafka_event_error(ev);
            const rd_kafka_topic_partition_list_t *res = rd_kafka_event_topic_partition_list(ev);
            for (int i = 0; !err && res && i < res->cnt; i++)
                err = res->elems[i].err;
            rd_kafka_event_destroy(ev);
        }
    }
    if (err) {
        SL_WARN(in->env->tag, "group %s: commit of %zu partition%s (%s/%d at %" PRId64 "%s): %s",
                in->group, n, n == 1 ? "" : "s", ps[0]->topic, ps[0]->partition, offsets[0],
                n > 1 ? ", ..." : "", rd_kafka_err2str(err));
        rc = SL_ERR;
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* Commit every partition whose durable offset passed its last commit. */
static void commit_progress(kin_input *in, kin_part *const *only, size_t nonly)
{
    size_t cand = only ? nonly : in->nparts;
    kin_part **ps = sl_malloc((cand + 1) * sizeof *ps);
    int64_t *offs = sl_malloc((cand + 1) * sizeof *offs);
    size_t n = 0;
    for (size_t i = 0; i < cand; i++) {
        kin_part *p = only ? only[i] : in->parts[i];
        if (p->durable >= 0 && p->durable > p->committed && p->anchored) {
            ps[n] = p;
            offs[n++] = p->durable;
        }
    }
    if (commit_offsets(in, ps, offs, NULL, n) == 0)
        for (size_t i = 0; i < n; i++) {
            ps[i]->committed = offs[i];
            ps[i]->anchor = offs[i];
            ps[i]->cut = -1;
        }
    free(ps);
    free(offs);
    in->last_commit_us = sl_mono_us();
}

/* ---- the pump: durable ranges out, closed ranges in, retries, announcements ---- */

static void count_durable(kin_input *in, const kin_range *r)
{
    sl_counter_add(in->m_records, r->nrec);
    for (size_t i = 0; i < r->ndlq; i++)
        sl_counter_add(sl_metric_get2(in->f_rejected, in->env->name, r->dlqs[i].reason), 1);
}

static bool range_durable(const kin_range *r)
{
    return (r->app[APP_EVENTS] == APP_OK || r->nrec == 0) &&
           (r->app[APP_DLQ] == APP_OK || r->ndlq == 0);
}

/* Pop the ranges at the head of the fifo that the log holds. in->lock held. */
static void pop_durable_locked(kin_input *in, kin_part *p)
{
    while (p->head && range_durable(p->head)) {
        kin_range *r = p->head;
        p->head = r->next;
        if (!p->head)
            p->tail = NULL;
        p->durable = r->end;
        count_durable(in, r);
        range_drop(in, r);
    }
}

static void set_failing(kin_input *in, bool failing, const char *why)
{
    if (failing == in->failing)
        return;
    in->failing = failing;
    sl_stage_set_health(in->env->stage, failing ? SL_STAGE_RETRYING : SL_STAGE_UP, why);
}

static void pump_part(kin_input *in, kin_part *p, int64_t now)
{
    pthread_mutex_lock(&in->lock);
    pop_durable_locked(in, p);
    bool idle_fifo = !p->head;
    pthread_mutex_unlock(&in->lock);

    /* Linger passed: the open range is cut where it is, announced first. */
    if (p->open && idle_fifo && now - p->open_since_us >= in->conf->linger_ms * 1000 &&
        now >= p->retry_at_us) {
        char md[64];
        kin_cut_format(p->seen, md, sizeof md);
        const char *mds[1] = { md };
        int64_t start = p->open->start;
        if (commit_offsets(in, &p, &start, mds, 1) == 0) {
            p->anchored = true;
            p->anchor = p->committed = start;
            p->cut = p->seen;
            range_close(in, p, p->seen);
        } else {
            p->retry_at_us = now + 1000000;
        }
    }
    /* The first range of a partition the group never committed: anchor it. */
    if (p->head && !p->anchored && now >= p->retry_at_us) {
        int64_t start = p->head->start;
        if (commit_offsets(in, &p, &start, NULL, 1) == 0) {
            p->anchored = true;
            p->anchor = p->committed = start;
            p->cut = -1;
        } else {
            p->retry_at_us = now + 1000000;
        }
    }
    if (!p->anchored)
        return;
    bool retry_due = p->retry_armed && now >= p->retry_at_us;
    if (retry_due)
        p->retry_armed = false;
    for (kin_range *r = p->head; r; r = r->next) {
        for (int k = 0; k < 2; k++) {
            size_t n = k == APP_EVENTS ? r->nrec : r->ndlq;
            pthread_mutex_lock(&in->lock);
            app_state st = r->app[k];
            int status = r->status[k];
            pthread_mutex_unlock(&in->lock);
            if (n == 0 || st == APP_PENDING || st == APP_OK)
                continue;
            if (st == APP_FAILED) {
                if (!retry_due)
                    continue;
                SL_WARN(in->env->tag, "%s/%d: offsets %" PRId64 "-%" PRId64 " into %s: %s; "
                        "sending again", p->topic, p->partition, r->start, r->end - 1,
                        k == APP_EVENTS ? in->conf->to : SL_DLQ_TOPIC, sl_strerror(status));
            }
            range_send(in, r, k);
        }
    }
}

/* After sends: note failures (backoff) and successes (health). */
static void pump_outcomes(kin_input *in, int64_t now)
{
    bool failed = false, armed = false;
    int next_backoff_ms = in->backoff_ms ? SL_MIN(in->backoff_ms * 2, 5000) : 100;
    pthread_mutex_lock(&in->lock);
    for (size_t i = 0; i < in->nparts; i++) {
        kin_part *p = in->parts[i];
        bool part_failed = false;
        for (kin_range *r = p->head; r; r = r->next)
            part_failed |= r->app[APP_EVENTS] == APP_FAILED || r->app[APP_DLQ] == APP_FAILED;
        if (part_failed && !p->retry_armed) {
            p->retry_at_us = now + (int64_t)next_backoff_ms * 1000;
            p->retry_armed = true;
            armed = true;
        }
        failed |= part_failed;
    }
    /* Orphans the log has answered can go. */
    for (kin_range **pp = &in->orphans; *pp;) {
        kin_range *r = *pp;
        if (r->app[APP_EVENTS] != APP_PENDING && r->app[APP_DLQ] != APP_PENDING) {
            *pp = r->next;
            range_free(r);
        } else {
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&in->lock);
    if (armed)
        in->backoff_ms = next_backoff_ms;
    if (failed) {
        set_failing(in, true, "appends to the log failed, retrying");
    } else {
        in->backoff_ms = 0;
        set_failing(in, false, "appends go through again");
    }
}

/* Pause reading while too much is held; resume at half. */
static void backpressure(kin_input *in)
{
    bool want = in->inflight_bytes >= in->conf->max_inflight ||
                (in->paused && in->inflight_bytes > in->conf->max_inflight / 2);
    if (want == in->paused)
        return;
    rd_kafka_topic_partition_list_t *list = NULL;
    if (rd_kafka_assignment(in->rk, &list) == 0 && list) {
        if (want)
            rd_kafka_pause_partitions(in->rk, list);
        else
            rd_kafka_resume_partitions(in->rk, list);
        rd_kafka_topic_partition_list_destroy(list);
    }
    in->paused = want;
    SL_DEBUG(in->env->tag, "%s reading (%" PRId64 " bytes held)", want ? "paused" : "resumed",
             in->inflight_bytes);
}

static void update_lag(kin_input *in)
{
    for (size_t i = 0; i < in->nparts; i++) {
        kin_part *p = in->parts[i];
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(in->rk, p->topic, p->partition, &lo, &hi) ||
            hi < 0)
            continue;
        int64_t pos = p->durable >= 0 ? p->durable : p->anchored ? p->anchor : lo;
        sl_gauge_set(p->m_lag, (double)(hi > pos ? hi - pos : 0));
    }
}

/* ---- rebalances --------------------------------------------------------------------- */

static void part_add(kin_input *in, const char *topic, int32_t partition, int64_t committed,
                     int64_t cut)
{
    if (part_find(in, topic, partition, NULL))
        return;
    kin_part *p = sl_calloc(1, sizeof *p);
    p->topic = sl_strdup(topic);
    p->partition = partition;
    p->anchored = committed >= 0;
    p->anchor = committed;
    p->committed = committed;
    p->cut = committed >= 0 && cut > committed ? cut : -1;
    p->next_start = committed;
    p->seen = -1;
    p->durable = -1;
    char id[16];
    snprintf(id, sizeof id, "%d", partition);
    const char *labels[3] = { in->env->name, topic, id };
    p->m_lag = sl_metric_get(in->f_lag, labels);
    if (in->nparts == in->cap_parts) {
        in->cap_parts = in->cap_parts ? in->cap_parts * 2 : 8;
        in->parts = sl_realloc(in->parts, in->cap_parts * sizeof *in->parts);
    }
    in->parts[in->nparts++] = p;
    if (p->cut >= 0)
        SL_INFO(in->env->tag, "%s/%d: resuming at %" PRId64 " with the announced range %" PRId64
                "-%" PRId64, topic, partition, committed, committed, p->cut - 1);
}

static bool part_pending_locked(const kin_part *p)
{
    for (const kin_range *r = p->head; r; r = r->next)
        if (r->app[APP_EVENTS] == APP_PENDING || r->app[APP_DLQ] == APP_PENDING)
            return true;
    return false;
}

/* Let partitions go: wait for their appends, commit what is durable, free. */
static void parts_revoke(kin_input *in, const rd_kafka_topic_partition_list_t *list, bool lost)
{
    kin_part **ps = sl_calloc((size_t)list->cnt + 1, sizeof *ps);
    size_t n = 0;
    for (int i = 0; i < list->cnt; i++) {
        kin_part *p = part_find(in, list->elems[i].topic, list->elems[i].partition, NULL);
        if (!p)
            continue;
        ps[n++] = p;
        range_drop(in, p->open); /* read again by the next owner */
        p->open = NULL;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ms = in->conf->revoke_timeout_ms;
    until.tv_sec += ms / 1000 + (until.tv_nsec + (ms % 1000) * 1000000L) / 1000000000L;
    until.tv_nsec = (until.tv_nsec + (ms % 1000) * 1000000L) % 1000000000L;
    pthread_mutex_lock(&in->lock);
    for (;;) {
        bool pending = false;
        for (size_t i = 0; i < n; i++)
            pending |= part_pending_locked(ps[i]);
        if (!pending || pthread_cond_timedwait(&in->cond, &in->lock, &until) != 0)
            break;
    }
    for (size_t i = 0; i < n; i++)
        pop_durable_locked(in, ps[i]);
    pthread_mutex_unlock(&in->lock);
    if (!lost)
        commit_progress(in, ps, n);
    pthread_mutex_lock(&in->lock);
    for (size_t i = 0; i < n; i++) {
        kin_part *p = ps[i];
        while (p->head) {
            kin_range *r = p->head;
            p->head = r->next;
            in->inflight_bytes -= r->bytes;
            if (r->app[APP_EVENTS] == APP_PENDING || r->app[APP_DLQ] == APP_PENDING) {
                r->next = in->orphans; /* freed once the log answers */
                in->orphans = r;
                SL_WARN(in->env->tag, "%s/%d: offsets %" PRId64 "-%" PRId64 " still on their way "
                        "into the log when the partition went; the next owner reads them again",
                        p->topic, p->partition, r->start, r->end - 1);
            } else {
                range_free(r);
            }
        }
        sl_gauge_set(p->m_lag, 0);
        size_t at;
        if (part_find(in, p->topic, p->partition, &at))
            in->parts[at] = in->parts[--in->nparts];
        free(p->topic);
        free(p);
    }
    pthread_mutex_unlock(&in->lock);
    free(ps);
}

/* Committed offsets and announcements of newly assigned partitions; the
   list's offsets are set to them, so fetching starts where the chain does. */
static int parts_assign(kin_input *in, rd_kafka_topic_partition_list_t *list)
{
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(list);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 0; attempt < 3; attempt++) {
        err = rd_kafka_committed(in->rk, c, KIN_REQUEST_TIMEOUT_MS);
        for (int i = 0; !err && i < c->cnt; i++)
            err = c->elems[i].err;
        if (!err)
            break;
        SL_WARN(in->env->tag, "group %s: committed offsets: %s", in->group, rd_kafka_err2str(err));
    }
    if (err) {
        rd_kafka_topic_partition_list_destroy(c);
        return SL_ERR;
    }
    for (int i = 0; i < c->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &c->elems[i];
        int64_t committed = e->offset >= 0 ? e->offset : -1;
        int64_t cut = kin_cut_parse(e->metadata, e->metadata_size);
        part_add(in, e->topic, e->partition, committed, cut);
        rd_kafka_topic_partition_t *le =
            rd_kafka_topic_partition_list_find(list, e->topic, e->partition);
        if (le)
            le->offset = committed >= 0 ? committed : RD_KAFKA_OFFSET_INVALID;
    }
    rd_kafka_topic_partition_list_destroy(c);
    return 0;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    kin_input *in = opaque;
    const char *protocol = rd_kafka_rebalance_protocol(rk);
    bool cooperative = protocol && !strcmp(protocol, "COOPERATIVE");
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        in->ever_assigned = true;
        if (parts_assign(in, list) < 0) {
            SL_ERROR(in->env->tag, "group %s: cannot read the committed offsets of the assigned "
                     "partitions; restarting the input", in->group);
            in->fatal = SL_ERR;
        }
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, list);
        else
            aerr = rd_kafka_assign(rk, list);
        if (in->paused) /* reading is held back: the new partitions too */
            rd_kafka_pause_partitions(rk, list);
        SL_INFO(in->env->tag, "group %s: %d partition%s assigned, %zu held", in->group,
                list->cnt, list->cnt == 1 ? "" : "s", in->nparts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        bool lost = rd_kafka_assignment_lost(rk);
        if (lost)
            SL_WARN(in->env->tag, "group %s: partitions lost (out of the group too long); their "
                    "progress is not committed", in->group);
        parts_revoke(in, list, lost);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, list);
        else
            aerr = rd_kafka_assign(rk, NULL);
        SL_INFO(in->env->tag, "group %s: %d partition%s revoked, %zu held", in->group,
                list->cnt, list->cnt == 1 ? "" : "s", in->nparts);
    } else {
        SL_ERROR(in->env->tag, "group %s: rebalance failed: %s", in->group, rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_t *all = NULL;
        if (rd_kafka_assignment(rk, &all) == 0 && all) {
            parts_revoke(in, all, true);
            rd_kafka_topic_partition_list_destroy(all);
        }
        aerr = rd_kafka_assign(rk, NULL);
    }
    if (error) {
        SL_ERROR(in->env->tag, "group %s: %s", in->group, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    if (aerr)
        SL_ERROR(in->env->tag, "group %s: assign: %s", in->group, rd_kafka_err2str(aerr));
}

/* ---- the handle ---------------------------------------------------------------------- */

/*
 * librdkafka before 2.3.0 (Debian 12 ships 2.0.2) aborts in rd_kafka_destroy
 * of a cooperative-sticky consumer that got its JoinGroup answer but no
 * assignment yet (librdkafka issue #4312). A consumer closed that early is
 * kept, reachable, until the process exits instead of being destroyed; it
 * has left its group already.
 */
static void destroy_handle(rd_kafka_t *rk, bool ever_assigned)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static rd_kafka_t **parked;
    static size_t nparked;
    if (ever_assigned || rd_kafka_version() >= 0x020300ff) {
        rd_kafka_destroy(rk);
        return;
    }
    pthread_mutex_lock(&lock);
    parked = sl_realloc(parked, (nparked + 1) * sizeof *parked);
    parked[nparked++] = rk;
    pthread_mutex_unlock(&lock);
}

static bool conf_set(kin_input *in, rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) == RD_KAFKA_CONF_OK)
        return true;
    SL_ERROR(in->env->tag, "settings: %s: %s", key, err);
    return false;
}

static bool forced_key(const char *key)
{
    for (const char *const *f = kin_forced_settings; *f; f++)
        if (!strcmp(key, *f))
            return true;
    return false;
}

static rd_kafka_conf_t *consumer_conf(kin_input *in)
{
    static const char *const defaults[] = {
        "client.id", "sluice", "partition.assignment.strategy", "cooperative-sticky",
        "queued.max.messages.kbytes", "16384", NULL,
    };
    const sl_config *cfg = in->env->cfg;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bool ok = true;
    for (size_t i = 0; ok && defaults[i]; i += 2)
        ok = conf_set(in, conf, defaults[i], defaults[i + 1]);
    /* Reading the log's own cluster: its settings (TLS, SASL, ...) too. */
    if (!*in->conf->brokers)
        for (size_t i = 0; ok && cfg->kafka_conf && cfg->kafka_conf[i]; i += 2) {
            const char *k = cfg->kafka_conf[i];
            if (strncmp(k, "sluice.", 7) && !forced_key(k))
                ok = conf_set(in, conf, k, cfg->kafka_conf[i + 1]);
        }
    for (size_t i = 0; ok && in->conf->settings && in->conf->settings[i]; i += 2)
        if (!forced_key(in->conf->settings[i]))
            ok = conf_set(in, conf, in->conf->settings[i], in->conf->settings[i + 1]);
    const char *forced[] = {
        "bootstrap.servers", in->brokers, "group.id", in->group, "enable.auto.commit", "false",
        "enable.auto.offset.store", "false", "enable.partition.eof", "false",
        "auto.offset.reset", in->conf->start, NULL,
    };
    for (size_t i = 0; ok && forced[i]; i += 2)
        ok = conf_set(in, conf, forced[i], forced[i + 1]);
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, in);
    rd_kafka_conf_set_log_cb(conf, on_rdkafka_log);
    rd_kafka_conf_set_error_cb(conf, on_rdkafka_error);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    return conf;
}

/* The log's kafka.bootstrap.servers, or NULL. */
static const char *log_bootstrap(const sl_config *cfg)
{
    if (strcmp(cfg->log_backend, "kafka") != 0)
        return NULL;
    for (size_t i = 0; cfg->kafka_conf && cfg->kafka_conf[i]; i += 2)
        if (!strcmp(cfg->kafka_conf[i], "bootstrap.servers"))
            return cfg->kafka_conf[i + 1];
    return NULL;
}

int kin_input_open(const sl_stage_env *env, const kin_conf *conf, kin_input **out)
{
    const sl_topic_config *to = sl_config_topic(env->cfg, conf->to);
    const char *brokers = *conf->brokers ? conf->brokers : log_bootstrap(env->cfg);
    if (!to || !brokers || !*brokers) {
        SL_ERROR(env->tag, "%s", !to ? "`to` names no declared topic"
                                     : "no brokers: set brokers, or run on log.backend: kafka");
        return SL_ERR_CONFIG;
    }
    kin_input *in = sl_calloc(1, sizeof *in);
    in->env = env;
    in->conf = conf;
    in->group = *conf->group ? sl_strdup(conf->group) : sl_asprintf("sluice.%s", env->name);
    in->brokers = sl_strdup(brokers);
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->cond, NULL);
    kin_converter_init(&in->conv, env->cfg, to, conf->key);
    in->m_records = sl_metric_get1(
        sl_metrics_family("sluice_kafka_input_records_total",
                          "Kafka messages appended to their sluice topic (durable).", SL_COUNTER,
                          "input"),
        env->name);
    in->f_rejected = sl_metrics_family(
        "sluice_kafka_input_rejected_total",
        "Kafka messages refused by validation and kept in _dlq, by reason.", SL_COUNTER,
        "input,reason");
    in->f_lag = sl_metrics_family(
        "sluice_kafka_input_lag",
        "Messages of a source partition not yet durable in sluice (high watermark - durable "
        "offset), for the partitions this process holds.", SL_GAUGE, "input,topic,partition");

    rd_kafka_conf_t *rc_conf = consumer_conf(in);
    char err[512];
    if (rc_conf && !(in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rc_conf, err, sizeof err))) {
        SL_ERROR(env->tag, "cannot create the Kafka consumer: %s", err);
        rd_kafka_conf_destroy(rc_conf);
    }
    if (!in->rk) {
        kin_input_close(in);
        return SL_ERR_CONFIG;
    }
    rd_kafka_poll_set_consumer(in->rk);
    in->queue = rd_kafka_queue_get_consumer(in->rk);
    *out = in;
    return 0;
}

void kin_input_request_stop(kin_input *in)
{
    atomic_store(&in->stop, true);
    pthread_mutex_lock(&in->lock);
    if (in->queue)
        rd_kafka_queue_yield(in->queue);
    pthread_mutex_unlock(&in->lock);
}

static bool stopping(kin_input *in)
{
    return atomic_load(&in->stop) || sl_stage_stopping(in->env->stage);
}

/* How long the poll may wait: until the first open range's linger ends. */
static int poll_timeout_ms(kin_input *in, int64_t now)
{
    int64_t wait_us = KIN_POLL_MS * 1000;
    for (size_t i = 0; i < in->nparts; i++) {
        kin_part *p = in->parts[i];
        if (p->open && !p->head) {
            int64_t left = p->open_since_us + in->conf->linger_ms * 1000 - now;
            wait_us = SL_MIN(wait_us, SL_MAX(left, 0));
        }
    }
    return (int)((wait_us + 999) / 1000);
}

int kin_input_run(kin_input *in)
{
    int ntopics = 0;
    while (in->conf->topics[ntopics])
        ntopics++;
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(ntopics);
    for (int i = 0; i < ntopics; i++)
        rd_kafka_topic_partition_list_add(subs, in->conf->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(in->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err) {
        SL_ERROR(in->env->tag, "cannot subscribe to the topics: %s", rd_kafka_err2str(err));
        return SL_ERR;
    }
    in->subscribed = true;
    SL_INFO(in->env->tag, "reading %s from %s as group %s into %s", in->conf->topics[0],
            in->brokers, in->group, in->conf->to);
    in->last_commit_us = sl_mono_us();
    while (!stopping(in) && !in->fatal) {
        int64_t now = sl_mono_us();
        for (size_t i = 0; i < in->nparts; i++)
            pump_part(in, in->parts[i], now);
        pump_outcomes(in, now);
        if (now - in->last_commit_us >= in->conf->commit_interval_ms * 1000)
            commit_progress(in, NULL, 0);
        if (now - in->last_lag_us >= KIN_LAG_EVERY_US) {
            update_lag(in);
            in->last_lag_us = now;
        }
        backpressure(in);
        /* Rebalances (and so the hooks above) run inside this poll. */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, poll_timeout_ms(in, now));
        for (int k = 0; m; k++) {
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    SL_WARN(in->env->tag, "%s", rd_kafka_message_errstr(m));
            } else {
                kin_part *p = part_find(in, rd_kafka_topic_name(m->rkt), m->partition, NULL);
                if (p)
                    take_message(in, p, m);
            }
            rd_kafka_message_destroy(m);
            m = k + 1 < KIN_DRAIN ? rd_kafka_consumer_poll(in->rk, 0) : NULL;
        }
    }
    int rc = in->fatal;
    /* Leave the group: the revoke above waits for appends and commits. */
    commit_progress(in, NULL, 0);
    err = rd_kafka_consumer_close(in->rk);
    if (err)
        SL_WARN(in->env->tag, "closing the consumer: %s", rd_kafka_err2str(err));
    in->closed = true;
    return rc;
}

void kin_input_close(kin_input *in)
{
    if (!in)
        return;
    if (in->rk && in->subscribed && !in->closed)
        rd_kafka_consumer_close(in->rk);
    /* Every append in flight must be answered before its range goes. */
    pthread_mutex_lock(&in->lock);
    for (;;) {
        bool pending = false;
        for (size_t i = 0; i < in->nparts; i++)
            pending |= part_pending_locked(in->parts[i]);
        for (kin_range *r = in->orphans; r && !pending; r = r->next)
            pending = r->app[APP_EVENTS] == APP_PENDING || r->app[APP_DLQ] == APP_PENDING;
        if (!pending)
            break;
        pthread_cond_wait(&in->cond, &in->lock);
    }
    if (in->queue)
        rd_kafka_queue_destroy(in->queue);
    in->queue = NULL;
    pthread_mutex_unlock(&in->lock);
    for (size_t i = 0; i < in->nparts; i++) {
        kin_part *p = in->parts[i];
        range_free(p->open);
        while (p->head) {
            kin_range *r = p->head;
            p->head = r->next;
            range_free(r);
        }
        free(p->topic);
        free(p);
    }
    while (in->orphans) {
        kin_range *r = in->orphans;
        in->orphans = r->next;
        range_free(r);
    }
    if (in->rk)
        destroy_handle(in->rk, in->ever_assigned || !in->subscribed);
    free(in->parts);
    free(in->scratch);
    sl_buf_free(&in->keybuf);
    pthread_mutex_destroy(&in->lock);
    pthread_cond_destroy(&in->cond);
    free(in->group);
    free(in->brokers);
    free(in);
}
