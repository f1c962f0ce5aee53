/*
 * read.c - reading on Kafka outside a consumer group: sl_log_read through
 * one reader handle, watermark offsets, group offsets from outside a
 * member, and the groups this process knows.
 *
 * The reader is a consumer created on the first read. Each partition read
 * is assigned to it once (incremental assign, at the offset asked) and
 * gets its own queue, unhooked from the consumer queue, so reads of
 * different partitions neither see nor wait for each other's messages and
 * can run at once. A read that continues where the previous read of the
 * partition stopped takes what the reader has prefetched; any other offset
 * is first checked against the watermarks (SL_ERR_RANGE outside [start,
 * end]) and then sought to. Messages fetched beyond max_records/max_bytes
 * stay with the partition for the next sequential read. A read of records
 * that exist (offset below the end) waits up to sluice.timeout.ms for them
 * even when timeout_ms is 0, since a freshly assigned partition needs a
 * fetch round trip; only waiting for records not yet written is bounded by
 * timeout_ms.
 *
 * Group offsets: a commit for a partition that a member in this process
 * has assigned goes through that member's handle (Kafka refuses commits
 * from outside the generation of a group that has members); otherwise
 * through a standalone handle of the group, created on first use, which
 * never joins. Every commit waits at most sluice.timeout.ms.
 *
 * sl_log_groups: Kafka's ListGroups (the 2.0.2 mock has none) is not
 * used; the answer is the groups this process has used on the topic (a
 * consumer subscribed to it, or a commit or committed offset on it).
 */
#include "log/kafka/kafka_int.h"

#include "core/alloc.h"
#include "core/logging.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- fetches ------------------------------------------------------------------------ */

typedef struct kafka_fetch_priv {
    rd_kafka_message_t **msgs;
    size_t n;
} kafka_fetch_priv;

static void kafka_fetch_release(sl_fetch *f)
{
    kafka_fetch_priv *p = f->priv;
    if (p) {
        for (size_t i = 0; i < p->n; i++)
            rd_kafka_message_destroy(p->msgs[i]);
        free(p->msgs);
        free(p);
    }
    free(f->msgs);
}

void kafka_fetch_fill(sl_fetch *f, kafka_topic *t, int32_t partition, rd_kafka_message_t **msgs,
                      size_t n)
{
    f->topic = t->name;
    f->partition = partition;
    if (n == 0) {
        free(msgs);
        return;
    }
    kafka_fetch_priv *p = sl_malloc(sizeof *p);
    p->msgs = msgs;
    p->n = n;
    f->msgs = sl_calloc(n, sizeof *f->msgs);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = msgs[i];
        rd_kafka_timestamp_type_t type;
        int64_t ms = rd_kafka_message_timestamp(m, &type);
        f->msgs[i] = (sl_message){
            .partition = m->partition,
            .offset = m->offset,
            .ts_us = ms >= 0 ? ms * 1000 : 0,
            .key = { m->key, m->key ? m->key_len : 0 },
            .value = { m->payload, m->payload ? m->len : 0 },
        };
    }
    f->n = n;
    f->next_offset = msgs[n - 1]->offset + 1;
    f->priv = p;
    f->release = kafka_fetch_release;
}

/* ---- the reader ---------------------------------------------------------------------- */

static rd_kafka_t *reader_get(kafka_log *log)
{
    pthread_mutex_lock(&log->reader_lock);
    if (!log->reader) {
        rd_kafka_conf_t *conf = kafka_conf_new(log, KAFKA_READER, NULL);
        if (conf)
            log->reader = kafka_handle_new(RD_KAFKA_CONSUMER, conf, "Kafka reader");
    }
    rd_kafka_t *rk = log->reader;
    pthread_mutex_unlock(&log->reader_lock);
    return rk;
}

static void rpart_drop_left(kafka_rpart *rp)
{
    for (size_t i = 0; i < rp->nleft; i++)
        rd_kafka_message_destroy(rp->left[(rp->lhead + i) % rp->lcap]);
    rp->nleft = rp->lhead = 0;
}

static void rpart_push_left(kafka_rpart *rp, rd_kafka_message_t *m)
{
    if (rp->nleft == rp->lcap) {
        size_t cap = rp->lcap ? rp->lcap * 2 : 64;
        rd_kafka_message_t **v = sl_malloc(cap * sizeof *v);
        for (size_t i = 0; i < rp->nleft; i++)
            v[i] = rp->left[(rp->lhead + i) % rp->lcap];
        free(rp->left);
        rp->left = v;
        rp->lcap = cap;
        rp->lhead = 0;
    }
    rp->left[(rp->lhead + rp->nleft++) % rp->lcap] = m;
}

/* Start (or move) the reader's fetching of a partition at offset. */
static int rpart_position(kafka_log *log, rd_kafka_t *rk, kafka_topic *t, int32_t partition,
                          kafka_rpart *rp, int64_t offset)
{
    int rc = 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, t->name, partition)->offset = offset;
    if (!rp->assigned) {
        rp->queue = rd_kafka_queue_get_partition(rk, t->name, partition);
        if (!rp->queue) {
            rc = SL_ERR;
            goto out;
        }
        /* The partition's messages stay in its own queue. */
        rd_kafka_queue_forward(rp->queue, NULL);
        error = rd_kafka_incremental_assign(rk, list);
        if (!error) {
            rd_kafka_queue_forward(rp->queue, NULL);
            rp->assigned = true;
        }
    } else {
        rpart_drop_left(rp);
        error = rd_kafka_seek_partitions(rk, list, log->set.timeout_ms);
        if (!error && list->elems[0].err)
            error = rd_kafka_error_new(list->elems[0].err, "%s",
                                       rd_kafka_err2str(list->elems[0].err));
    }
    if (error) {
        SL_ERROR(TAG, "cannot read %s/%d from offset %lld: %s", t->name, partition,
                 (long long)offset, rd_kafka_error_string(error));
        rc = kafka_err_code(rd_kafka_error_code(error));
        if (rc == 0)
            rc = SL_ERR;
        rd_kafka_error_destroy(error);
    } else {
        rp->next = offset;
    }
out:
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* The messages one read collects, within its limits. */
typedef struct read_batch {
    rd_kafka_message_t **msgs;
    size_t n, cap, bytes;
    size_t max_records, max_bytes;
    bool full;
} read_batch;

/* Keep m if it fits; else leave it, and everything after it, to the
   partition for the next sequential read. */
static void batch_take(read_batch *b, kafka_rpart *rp, rd_kafka_message_t *m)
{
    size_t size = m->len + m->key_len;
    if (b->full || b->n == b->max_records || (b->n && b->bytes + size > b->max_bytes)) {
        b->full = true;
        rpart_push_left(rp, m);
        return;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->msgs = sl_realloc(b->msgs, b->cap * sizeof *b->msgs);
    }
    b->bytes += size;
    b->msgs[b->n++] = m;
}

/* An error delivered in place of a message: SL_ERR_RANGE when the offset is
   gone, else 0 (logged; librdkafka retries on its own). */
static int read_error(kafka_topic *t, int32_t partition, rd_kafka_message_t *m)
{
    int rc = 0;
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
        rc = SL_ERR_RANGE;
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        SL_WARN(TAG, "reading %s/%d: %s", t->name, partition, rd_kafka_message_errstr(m));
    rd_kafka_message_destroy(m);
    return rc;
}

int kafka_read(sl_log *base, const char *topic, int32_t partition, int64_t offset,
               size_t max_records, size_t max_bytes, int timeout_ms, sl_fetch *f)
{
    kafka_log *log = (kafka_log *)base;
    int rc;
    kafka_topic *t = kafka_partition_check(log, topic, partition, &rc);
    if (!t)
        return rc;
    rd_kafka_t *rk = reader_get(log);
    if (!rk)
        return SL_ERR;

    kafka_rpart *rp = &t->rparts[partition];
    pthread_mutex_lock(&rp->lock);
    int64_t lo = -1, hi = -1;
    if (!rp->assigned || rp->next != offset) {
        rc = kafka_watermarks(log, t, partition, &lo, &hi);
        if (rc == 0 && (offset < lo || offset > hi))
            rc = SL_ERR_RANGE;
        if (rc == 0)
            rc = rpart_position(log, rk, t, partition, rp, offset);
        if (rc) {
            pthread_mutex_unlock(&rp->lock);
            return rc;
        }
    } else {
        rd_kafka_get_watermark_offsets(rk, t->name, partition, &lo, &hi);
    }

    int wait_ms = timeout_ms > 0 ? timeout_ms : 0;
    if (hi >= 0 && offset < hi && wait_ms < log->set.timeout_ms)
        wait_ms = log->set.timeout_ms; /* they exist: they must come */
    int64_t deadline = sl_mono_us() + (int64_t)wait_ms * 1000;
    read_batch b = { .max_records = max_records ? max_records : 10000,
                     .max_bytes = max_bytes ? max_bytes : SIZE_MAX };

    /* What an earlier read fetched beyond its limits comes first. */
    size_t left = rp->nleft;
    if (left) {
        rd_kafka_message_t **old = sl_malloc(left * sizeof *old);
        for (size_t i = 0; i < left; i++)
            old[i] = rp->left[(rp->lhead + i) % rp->lcap];
        rp->nleft = rp->lhead = 0;
        for (size_t i = 0; i < left; i++)
            batch_take(&b, rp, old[i]);
        free(old);
    }
    while (!b.full && rc == 0) {
        rd_kafka_message_t *got[256];
        ssize_t k;
        if (b.n == 0) { /* wait for the first */
            int64_t now = sl_mono_us();
            int ms = now < deadline ? (int)((deadline - now + 999) / 1000) : 0;
            got[0] = rd_kafka_consume_queue(rp->queue, ms);
            k = got[0] ? 1 : 0;
        } else { /* then take what is there */
            size_t want = b.max_records - b.n < 256 ? b.max_records - b.n : 256;
            k = rd_kafka_consume_batch_queue(rp->queue, 0, got, want);
        }
        if (k <= 0) {
            if (b.n > 0 || sl_mono_us() >= deadline)
                break;
            continue;
        }
        for (ssize_t i = 0; i < k; i++) {
            if (got[i]->err) {
                int err = read_error(t, partition, got[i]);
                if (rc == 0)
                    rc = err;
            } else if (got[i]->offset < rp->next || rc) {
                rd_kafka_message_destroy(got[i]); /* from before a seek, or after an error */
            } else {
                batch_take(&b, rp, got[i]);
            }
        }
    }
    if (rc) {
        for (size_t i = 0; i < b.n; i++)
            rd_kafka_message_destroy(b.msgs[i]);
        free(b.msgs);
        rpart_drop_left(rp);
        rp->next = -1; /* position again on the next read */
        pthread_mutex_unlock(&rp->lock);
        return rc;
    }
    kafka_fetch_fill(f, t, partition, b.msgs, b.n);
    if (b.n == 0)
        f->next_offset = offset;
    rp->next = f->next_offset;
    pthread_mutex_unlock(&rp->lock);
    return 0;
}

void kafka_reader_close(kafka_log *log)
{
    for (size_t i = 0; i < log->ntopics; i++) {
        kafka_topic *t = &log->topics[i];
        for (int32_t p = 0; t->rparts && p < t->partitions; p++) {
            kafka_rpart *rp = &t->rparts[p];
            rpart_drop_left(rp);
            free(rp->left);
            rp->left = NULL;
            if (rp->queue)
                rd_kafka_queue_destroy(rp->queue);
            rp->queue = NULL;
        }
    }
    if (log->reader) {
        rd_kafka_consumer_close(log->reader);
        rd_kafka_destroy(log->reader);
        log->reader = NULL;
    }
}

int kafka_offsets(sl_log *base, const char *topic, int32_t partition, int64_t *start,
                  int64_t *end)
{
    kafka_log *log = (kafka_log *)base;
    int rc;
    kafka_topic *t = kafka_partition_check(log, topic, partition, &rc);
    if (!t)
        return rc;
    return kafka_watermarks(log, t, partition, start, end);
}

/* ---- groups -------------------------------------------------------------------------- */

kafka_group *kafka_group_get(kafka_log *log, const char *name)
{
    pthread_mutex_lock(&log->groups_lock);
    kafka_group *g = log->groups;
    while (g && strcmp(g->name, name) != 0)
        g = g->next;
    if (!g) {
        g = sl_calloc(1, sizeof *g);
        g->name = sl_strdup(name);
        pthread_mutex_init(&g->lock, NULL);
        g->next = log->groups;
        log->groups = g;
    }
    pthread_mutex_unlock(&log->groups_lock);
    return g;
}

void kafka_group_add_topic(kafka_log *log, kafka_group *g, kafka_topic *t)
{
    pthread_mutex_lock(&log->groups_lock);
    bool have = false;
    for (size_t i = 0; i < g->ntopics && !have; i++)
        have = g->topics[i] == t;
    if (!have) {
        if (g->ntopics == g->tcap) {
            g->tcap = g->tcap ? g->tcap * 2 : 4;
            g->topics = sl_realloc(g->topics, g->tcap * sizeof *g->topics);
        }
        g->topics[g->ntopics++] = t;
    }
    pthread_mutex_unlock(&log->groups_lock);
}

/* With g->lock held: a handle that speaks for the group (a member's, else
   the standalone one, created now). */
static rd_kafka_t *group_handle_locked(kafka_log *log, kafka_group *g, bool members_ok)
{
    if (members_ok && g->members)
        return g->members->rk;
    if (!g->rk) {
        rd_kafka_conf_t *conf = kafka_conf_new(log, KAFKA_GROUP, g->name);
        if (conf)
            g->rk = kafka_handle_new(RD_KAFKA_CONSUMER, conf, "Kafka group handle");
    }
    return g->rk;
}

int kafka_commit_via(kafka_log *log, rd_kafka_t *rk, const char *group, kafka_topic *t,
                     int32_t partition, int64_t next_offset)
{
    int rc = 0;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, t->name, partition)->offset = next_offset;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_resp_err_t err = rd_kafka_commit_queue(rk, list, q, NULL, NULL);
    if (!err) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, log->set.timeout_ms);
        if (!ev) {
            SL_ERROR(TAG, "group %s: commit of %s/%d got no answer within %d ms", group,
                     t->name, partition, log->set.timeout_ms);
            rc = SL_ERR_TIMEOUT;
        } else {
            err = rd_kafka_event_error(ev);
            const rd_kafka_topic_partition_list_t *res = rd_kafka_event_topic_partition_list(ev);
            if (!err && res && res->cnt > 0)
                err = res->elems[0].err;
            rd_kafka_event_destroy(ev);
        }
    }
    if (err) {
        SL_ERROR(TAG, "group %s: commit of %s/%d at %lld failed: %s", group, t->name, partition,
                 (long long)next_offset, rd_kafka_err2str(err));
        rc = kafka_err_code(err);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

int kafka_commit(sl_log *base, const char *group, const char *topic, int32_t partition,
                 int64_t next_offset)
{
    kafka_log *log = (kafka_log *)base;
    int rc;
    if (log->read_only)
        return -EROFS;
    kafka_topic *t = kafka_partition_check(log, topic, partition, &rc);
    if (!t)
        return rc;
    int64_t lo, hi;
    rc = kafka_watermarks(log, t, partition, &lo, &hi);
    if (rc)
        return rc;
    if (next_offset < 0 || next_offset > hi)
        return SL_ERR_RANGE;

    kafka_group *g = kafka_group_get(log, group);
    pthread_mutex_lock(&g->lock);
    kafka_consumer *owner = kafka_member_owning(g, t, partition);
    rd_kafka_t *rk = owner ? owner->rk : group_handle_locked(log, g, false);
    if (!rk)
        rc = SL_ERR;
    else
        rc = kafka_commit_via(log, rk, g->name, t, partition, next_offset);
    if (rc && !owner && g->members)
        SL_ERROR(TAG, "group %s has members in this process, none with %s/%d assigned: Kafka "
                 "takes commits of a group with members only from its members", g->name,
                 t->name, partition);
    pthread_mutex_unlock(&g->lock);
    if (rc == 0) {
        kafka_group_add_topic(log, g, t);
        kafka_commit_cache(log, g, t, partition, next_offset);
    }
    return rc;
}

int kafka_committed(sl_log *base, const char *group, const char *topic, int32_t partition,
                    int64_t *next_offset)
{
    kafka_log *log = (kafka_log *)base;
    int rc;
    kafka_topic *t = kafka_partition_check(log, topic, partition, &rc);
    if (!t)
        return rc;
    kafka_group *g = kafka_group_get(log, group);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, t->name, partition);
    pthread_mutex_lock(&g->lock);
    rd_kafka_t *rk = group_handle_locked(log, g, true);
    rd_kafka_resp_err_t err = rk ? rd_kafka_committed(rk, list, log->set.timeout_ms)
                                 : RD_KAFKA_RESP_ERR__FAIL;
    pthread_mutex_unlock(&g->lock);
    if (!err)
        err = list->elems[0].err;
    int64_t off = list->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        SL_ERROR(TAG, "group %s: committed offset of %s/%d: %s", group, t->name, partition,
                 rd_kafka_err2str(err));
        return kafka_err_code(err);
    }
    if (off < 0)
        return -ENOENT;
    *next_offset = off;
    kafka_group_add_topic(log, g, t);
    kafka_commit_cache(log, g, t, partition, off);
    return 0;
}

int kafka_groups(sl_log *base, const char *topic, char ***groups, size_t *n)
{
    kafka_log *log = (kafka_log *)base;
    size_t cnt = 0, cap = 0;
    char **v = NULL;
    kafka_topic *t = kafka_topic_find(log, topic);
    pthread_mutex_lock(&log->groups_lock);
    for (kafka_group *g = log->groups; g && t; g = g->next) {
        bool has = false;
        for (size_t i = 0; i < g->ntopics && !has; i++)
            has = g->topics[i] == t;
        if (!has)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 4;
            v = sl_realloc(v, cap * sizeof *v);
        }
        v[cnt++] = sl_strdup(g->name);
    }
    pthread_mutex_unlock(&log->groups_lock);
    *groups = v;
    *n = cnt;
    return 0;
}

void kafka_groups_refresh(kafka_log *log)
{
    pthread_mutex_lock(&log->groups_lock);
    kafka_group *first = log->groups; /* groups are only freed at close */
    pthread_mutex_unlock(&log->groups_lock);
    for (kafka_group *g = first; g; g = g->next) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
        pthread_mutex_lock(&log->groups_lock);
        for (size_t i = 0; i < g->ntopics; i++)
            for (int32_t p = 0; p < g->topics[i]->partitions; p++)
                rd_kafka_topic_partition_list_add(list, g->topics[i]->name, p);
        pthread_mutex_unlock(&log->groups_lock);
        pthread_mutex_lock(&g->lock);
        rd_kafka_t *rk = g->members ? g->members->rk : g->rk;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__FAIL;
        if (rk && list->cnt > 0)
            err = rd_kafka_committed(rk, list, log->set.timeout_ms);
        pthread_mutex_unlock(&g->lock);
        for (int i = 0; !err && i < list->cnt; i++) {
            rd_kafka_topic_partition_t *e = &list->elems[i];
            kafka_topic *t = kafka_topic_find(log, e->topic);
            if (t && !e->err && e->offset >= 0)
                kafka_commit_cache(log, g, t, e->partition, e->offset);
        }
        rd_kafka_topic_partition_list_destroy(list);
    }
}

void kafka_handles_serve(kafka_log *log)
{
    pthread_mutex_lock(&log->reader_lock);
    if (log->reader)
        rd_kafka_poll(log->reader, 0);
    pthread_mutex_unlock(&log->reader_lock);
    pthread_mutex_lock(&log->groups_lock);
    kafka_group *first = log->groups;
    pthread_mutex_unlock(&log->groups_lock);
    for (kafka_group *g = first; g; g = g->next) {
        pthread_mutex_lock(&g->lock);
        if (g->rk)
            rd_kafka_poll(g->rk, 0);
        pthread_mutex_unlock(&g->lock);
    }
}

void kafka_groups_close(kafka_log *log)
{
    while (log->groups) {
        kafka_group *g = log->groups;
        log->groups = g->next;
        if (g->members)
            SL_ERROR(TAG, "group %s: a consumer is still open at log close (close consumers "
                     "first)", g->name);
        if (g->rk) {
            rd_kafka_consumer_close(g->rk);
            rd_kafka_destroy(g->rk);
        }
        pthread_mutex_destroy(&g->lock);
        free(g->topics);
        free(g->commits);
        free(g->name);
        free(g);
    }
}
