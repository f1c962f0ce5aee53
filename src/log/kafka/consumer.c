/*
 * consumer.c - sl_consumer on Kafka: a member of a real consumer group.
 *
 * Each sl_consumer is its own librdkafka consumer with group.id = the
 * group's name, manual commits only (enable.auto.commit false) and
 * auto.offset.reset earliest, subscribed to the stage's topics; Kafka's
 * group protocol spreads the partitions over every member of every sluice
 * process. The assignment strategy is "cooperative-sticky" unless the
 * kafka conf sets partition.assignment.strategy: only the partitions that
 * move are revoked, and the member that gives one up does it (revoked
 * hook, commit) while the group is stable, so the commit is accepted (the
 * librdkafka mock cluster refuses commits while an eager rebalance is in
 * progress). "range" places partitions as the embedded log does and works
 * too: it is an eager protocol, so every rebalance revokes every partition
 * of a member and assigns its new share afterwards. The callback below
 * follows whichever protocol is in use.
 *
 * The rebalance callback runs inside rd_kafka_consumer_poll, i.e. inside
 * sl_consumer_poll on the polling thread (and inside rd_kafka_consumer_close
 * at close), which is where log.h wants the hooks:
 *   revoke: revoked hook first (the partitions are still assigned, so the
 *           stage's sl_consumer_commit goes through), then drop what was
 *           polled ahead for them, then unassign;
 *   assign: the partitions join the assignment, the assigned hook runs (a
 *           sl_consumer_seek inside it sets the partition's starting offset,
 *           e.g. the lake resuming from its files), then librdkafka starts
 *           fetching at the committed offset or the sought one.
 *
 * sl_consumer_poll returns the messages of one partition per call:
 * librdkafka hands out messages of every assigned partition interleaved,
 * so they are sorted into per-partition buffers and served round robin.
 * Buffers are refilled only when all are empty, which bounds them to one
 * drain (KAFKA_POLL_DRAIN messages) beyond librdkafka's own prefetch.
 */
#include "log/kafka/kafka_int.h"

#include "core/alloc.h"
#include "core/logging.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KAFKA_POLL_DRAIN     1000      /* messages taken from librdkafka per refill */
#define KAFKA_POLL_MAX_BYTES (1u << 20) /* per sl_consumer_poll answer */

/* ---- the assignment ----------------------------------------------------------------- */

static kafka_cpart *cpart_find(kafka_consumer *c, const kafka_topic *t, int32_t partition)
{
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].topic == t && c->parts[i].partition == partition)
            return &c->parts[i];
    return NULL;
}

static void cpart_drop(kafka_cpart *cp)
{
    for (size_t i = 0; i < cp->n; i++)
        rd_kafka_message_destroy(cp->msgs[cp->head + i]);
    cp->head = cp->n = 0;
}

static void cpart_push(kafka_cpart *cp, rd_kafka_message_t *m)
{
    if (cp->head + cp->n == cp->cap) {
        if (cp->head > 0) {
            memmove(cp->msgs, cp->msgs + cp->head, cp->n * sizeof *cp->msgs);
            cp->head = 0;
        } else {
            cp->cap = cp->cap ? cp->cap * 2 : 64;
            cp->msgs = sl_realloc(cp->msgs, cp->cap * sizeof *cp->msgs);
        }
    }
    cp->msgs[cp->head + cp->n++] = m;
}

kafka_consumer *kafka_member_owning(kafka_group *g, kafka_topic *t, int32_t partition)
{
    for (kafka_consumer *c = g->members; c; c = c->next_member) {
        pthread_mutex_lock(&c->lock);
        bool owns = cpart_find(c, t, partition) != NULL;
        pthread_mutex_unlock(&c->lock);
        if (owns)
            return c;
    }
    return NULL;
}

static sl_topic_partition *tps_of(kafka_consumer *c, const rd_kafka_topic_partition_list_t *l,
                                  size_t *n)
{
    sl_topic_partition *tps = sl_malloc(((size_t)l->cnt + 1) * sizeof *tps);
    *n = 0;
    for (int i = 0; i < l->cnt; i++) {
        kafka_topic *t = kafka_topic_find(c->log, l->elems[i].topic);
        if (t)
            tps[(*n)++] = (sl_topic_partition){ t->name, l->elems[i].partition };
    }
    return tps;
}

static void assignment_add(kafka_consumer *c, const rd_kafka_topic_partition_list_t *l)
{
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < l->cnt; i++) {
        kafka_topic *t = kafka_topic_find(c->log, l->elems[i].topic);
        if (!t || cpart_find(c, t, l->elems[i].partition))
            continue;
        if (c->nparts == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 8;
            c->parts = sl_realloc(c->parts, c->cap * sizeof *c->parts);
        }
        c->parts[c->nparts++] = (kafka_cpart){ .topic = t, .partition = l->elems[i].partition };
    }
    pthread_mutex_unlock(&c->lock);
}

/* Remove the listed partitions (all of them when l is NULL). */
static void assignment_remove(kafka_consumer *c, const rd_kafka_topic_partition_list_t *l)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nparts;) {
        kafka_cpart *cp = &c->parts[i];
        bool drop = !l;
        for (int k = 0; l && k < l->cnt && !drop; k++)
            drop = l->elems[k].partition == cp->partition &&
                   strcmp(l->elems[k].topic, cp->topic->name) == 0;
        if (!drop) {
            i++;
            continue;
        }
        cpart_drop(cp);
        free(cp->msgs);
        c->parts[i] = c->parts[--c->nparts];
    }
    pthread_mutex_unlock(&c->lock);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kafka_consumer *c = opaque;
    const char *protocol = rd_kafka_rebalance_protocol(rk);
    bool cooperative = protocol && strcmp(protocol, "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    size_t n;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        c->ever_assigned = true;
        assignment_add(c, parts);
        sl_topic_partition *tps = tps_of(c, parts, &n);
        if (n && c->hooks.assigned) {
            c->assigning = parts;
            c->hooks.assigned(c->hooks.arg, tps, n);
            c->assigning = NULL;
        }
        free(tps);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
        SL_INFO(TAG, "group %s: %d partition%s assigned, %zu held", c->group->name, parts->cnt,
                parts->cnt == 1 ? "" : "s", c->nparts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        if (rd_kafka_assignment_lost(rk))
            SL_WARN(TAG, "group %s: partitions lost (the member was out of the group too "
                    "long); commits for them will be refused", c->group->name);
        sl_topic_partition *tps = tps_of(c, parts, &n);
        if (n && c->hooks.revoked)
            c->hooks.revoked(c->hooks.arg, tps, n);
        free(tps);
        assignment_remove(c, parts);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
        SL_INFO(TAG, "group %s: %d partition%s revoked, %zu held", c->group->name, parts->cnt,
                parts->cnt == 1 ? "" : "s", c->nparts);
    } else {
        SL_ERROR(TAG, "group %s: rebalance failed: %s", c->group->name, rd_kafka_err2str(err));
        assignment_remove(c, NULL);
        aerr = rd_kafka_assign(rk, NULL);
    }
    if (error) {
        SL_ERROR(TAG, "group %s: %s", c->group->name, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    if (aerr)
        SL_ERROR(TAG, "group %s: assign: %s", c->group->name, rd_kafka_err2str(aerr));
}

/* ---- librdkafka before 2.3.0: members that never got an assignment ------------------- */

/*
 * librdkafka up to 2.2 (Debian 12 ships 2.0.2) aborts in rd_kafka_destroy
 * of a cooperative-sticky member that has received its JoinGroup answer
 * but no assignment yet ("rd_kafka_sticky_assignor_state_destroy:
 * Assertion `assignor_state' failed", librdkafka issue #4312, fixed in
 * 2.3.0): a sluice stopped during its first rebalance, or while the
 * cluster is unreachable, would die instead of exiting. Such a handle is
 * closed (it has left the group) but not destroyed: it is parked here,
 * reachable, until the process exits. It happens at most once per stage
 * start, and only before the stage ever read anything.
 */
bool kafka_destroy_would_abort(void)
{
    return rd_kafka_version() < 0x020300ff;
}

void kafka_handle_park(rd_kafka_t *rk)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static rd_kafka_t **parked;
    static size_t n;
    pthread_mutex_lock(&lock);
    parked = sl_realloc(parked, (n + 1) * sizeof *parked);
    parked[n++] = rk;
    pthread_mutex_unlock(&lock);
    SL_DEBUG(TAG, "a consumer closed before its first assignment is kept until exit "
             "(librdkafka < 2.3.0 would abort destroying it)");
}

/* ---- the ops -------------------------------------------------------------------------- */

int kafka_consumer_open(sl_log *base, const char *group, const char *const *topics,
                        size_t ntopics, const sl_consumer_hooks *hooks, sl_consumer **out)
{
    kafka_log *log = (kafka_log *)base;
    for (size_t i = 0; i < ntopics; i++)
        if (!topics[i] || !kafka_topic_find(log, topics[i]))
            return SL_ERR_NOTOPIC;
    if (atomic_load(&log->closing))
        return SL_ERR_CLOSED;

    kafka_consumer *c = sl_calloc(1, sizeof *c);
    c->base.log = base;
    c->log = log;
    if (hooks)
        c->hooks = *hooks;
    pthread_mutex_init(&c->lock, NULL);
    c->group = kafka_group_get(log, group);
    rd_kafka_conf_t *conf = kafka_conf_new(log, KAFKA_MEMBER, group);
    if (conf) {
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
        rd_kafka_conf_set_opaque(conf, c);
        c->rk = kafka_handle_new(RD_KAFKA_CONSUMER, conf, "Kafka consumer");
    }
    if (!c->rk) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return SL_ERR_CONFIG;
    }
    rd_kafka_poll_set_consumer(c->rk);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)ntopics);
    for (size_t i = 0; i < ntopics; i++)
        if (!rd_kafka_topic_partition_list_find(list, topics[i], RD_KAFKA_PARTITION_UA))
            rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        SL_ERROR(TAG, "group %s: cannot subscribe: %s", group, rd_kafka_err2str(err));
        rd_kafka_destroy(c->rk);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return kafka_err_code(err);
    }
    for (size_t i = 0; i < ntopics; i++)
        kafka_group_add_topic(log, c->group, kafka_topic_find(log, topics[i]));
    pthread_mutex_lock(&c->group->lock);
    c->next_member = c->group->members;
    c->group->members = c;
    pthread_mutex_unlock(&c->group->lock);
    *out = &c->base;
    return 0;
}

/* Answer with buffered messages of the next partition that has some. */
static bool serve_buffered(kafka_consumer *c, sl_fetch *f)
{
    for (size_t k = 0; k < c->nparts; k++) {
        size_t i = (c->rr + k) % c->nparts;
        kafka_cpart *cp = &c->parts[i];
        if (cp->n == 0)
            continue;
        size_t take = 0, bytes = 0;
        while (take < cp->n) {
            rd_kafka_message_t *m = cp->msgs[cp->head + take];
            if (take && bytes + m->len + m->key_len > KAFKA_POLL_MAX_BYTES)
                break;
            bytes += m->len + m->key_len;
            take++;
        }
        rd_kafka_message_t **msgs = sl_malloc(take * sizeof *msgs);
        memcpy(msgs, cp->msgs + cp->head, take * sizeof *msgs);
        pthread_mutex_lock(&c->lock);
        cp->head += take;
        cp->n -= take;
        if (cp->n == 0)
            cp->head = 0;
        pthread_mutex_unlock(&c->lock);
        kafka_fetch_fill(f, cp->topic, cp->partition, msgs, take);
        c->rr = i + 1;
        return true;
    }
    return false;
}

/* File a message under its partition; false when it is not (any more) ours. */
static void buffer_message(kafka_consumer *c, rd_kafka_message_t *m)
{
    kafka_topic *t = kafka_topic_find(c->log, rd_kafka_topic_name(m->rkt));
    kafka_cpart *cp = t ? cpart_find(c, t, m->partition) : NULL;
    if (!cp) {
        rd_kafka_message_destroy(m);
        return;
    }
    pthread_mutex_lock(&c->lock);
    cpart_push(cp, m);
    pthread_mutex_unlock(&c->lock);
}

/* An error event from the consumer: 0 to go on, or the code to return. */
static int consumer_error(kafka_consumer *c, rd_kafka_message_t *m)
{
    int rc = 0;
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(c->rk, why, sizeof why);
        SL_ERROR(TAG, "group %s: the consumer stopped: %s", c->group->name, why);
        rc = SL_ERR;
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        SL_WARN(TAG, "group %s: %s", c->group->name, rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
    return rc;
}

int kafka_consumer_poll(sl_consumer *base, int timeout_ms, sl_fetch *f)
{
    kafka_consumer *c = (kafka_consumer *)base;
    int64_t deadline = sl_mono_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
    for (;;) {
        if (serve_buffered(c, f))
            return 0;
        int64_t now = sl_mono_us();
        int ms = now < deadline ? (int)((deadline - now + 999) / 1000) : 0;
        /* Rebalance callbacks (and so the hooks) run inside this call. */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, ms);
        if (!m) {
            if (sl_mono_us() >= deadline)
                return 0;
            continue;
        }
        /* Take what else is ready, up to one drain. */
        for (int k = 1; m; k++) {
            if (m->err) {
                int rc = consumer_error(c, m);
                if (rc)
                    return rc;
            } else {
                buffer_message(c, m);
            }
            m = k < KAFKA_POLL_DRAIN ? rd_kafka_consumer_poll(c->rk, 0) : NULL;
        }
        if (serve_buffered(c, f) || sl_mono_us() >= deadline)
            return 0;
    }
}

static int owned_check(kafka_consumer *c, const char *topic, int32_t partition,
                       kafka_topic **t, kafka_cpart **cp)
{
    *t = kafka_topic_find(c->log, topic);
    if (!*t)
        return SL_ERR_NOTOPIC;
    pthread_mutex_lock(&c->lock);
    *cp = cpart_find(c, *t, partition);
    pthread_mutex_unlock(&c->lock);
    return *cp ? 0 : SL_ERR_NOPARTITION;
}

int kafka_consumer_commit(sl_consumer *base, const char *topic, int32_t partition,
                          int64_t next_offset)
{
    kafka_consumer *c = (kafka_consumer *)base;
    kafka_topic *t;
    kafka_cpart *cp;
    int rc = owned_check(c, topic, partition, &t, &cp);
    if (rc)
        return rc;
    if (next_offset < 0)
        return SL_ERR_RANGE;
    rc = kafka_commit_via(c->log, c->rk, c->group->name, t, partition, next_offset);
    if (rc == 0)
        kafka_commit_cache(c->log, c->group, t, partition, next_offset);
    return rc;
}

int kafka_consumer_seek(sl_consumer *base, const char *topic, int32_t partition, int64_t offset)
{
    kafka_consumer *c = (kafka_consumer *)base;
    kafka_topic *t;
    kafka_cpart *cp;
    int rc = owned_check(c, topic, partition, &t, &cp);
    if (rc)
        return rc;
    int64_t lo, hi;
    rc = kafka_watermarks(c->log, t, partition, &lo, &hi);
    if (rc)
        return rc;
    if (offset < lo || offset > hi)
        return SL_ERR_RANGE;
    pthread_mutex_lock(&c->lock);
    cpart_drop(cp);
    pthread_mutex_unlock(&c->lock);
    if (c->assigning) { /* inside the assigned hook: the starting offset */
        rd_kafka_topic_partition_t *e =
            rd_kafka_topic_partition_list_find(c->assigning, t->name, partition);
        if (e) {
            e->offset = offset;
            return 0;
        }
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, t->name, partition)->offset = offset;
    rd_kafka_error_t *error = rd_kafka_seek_partitions(c->rk, list, c->log->set.timeout_ms);
    rd_kafka_resp_err_t err = error ? rd_kafka_error_code(error) : list->elems[0].err;
    if (err) {
        SL_ERROR(TAG, "group %s: seek of %s/%d to %lld failed: %s", c->group->name, t->name,
                 partition, (long long)offset,
                 error ? rd_kafka_error_string(error) : rd_kafka_err2str(err));
        rc = kafka_err_code(err);
    }
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

int kafka_consumer_assignment(sl_consumer *base, const sl_topic_partition **tps, size_t *n)
{
    kafka_consumer *c = (kafka_consumer *)base;
    pthread_mutex_lock(&c->lock);
    free(c->tps);
    c->tps = sl_malloc((c->nparts + 1) * sizeof *c->tps);
    for (size_t i = 0; i < c->nparts; i++)
        c->tps[i] = (sl_topic_partition){ c->parts[i].topic->name, c->parts[i].partition };
    *n = c->nparts;
    pthread_mutex_unlock(&c->lock);
    *tps = c->tps;
    return 0;
}

void kafka_consumer_close(sl_consumer *base)
{
    kafka_consumer *c = (kafka_consumer *)base;
    kafka_group *g = c->group;
    pthread_mutex_lock(&g->lock);
    for (kafka_consumer **pp = &g->members; *pp; pp = &(*pp)->next_member)
        if (*pp == c) {
            *pp = c->next_member;
            break;
        }
    pthread_mutex_unlock(&g->lock);
    /* Leaves the group; the revoked hook runs here through the callback. */
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(c->rk);
    if (err)
        SL_WARN(TAG, "group %s: closing the consumer: %s", g->name, rd_kafka_err2str(err));
    assignment_remove(c, NULL);
    if (c->ever_assigned || !kafka_destroy_would_abort())
        rd_kafka_destroy(c->rk);
    else
        kafka_handle_park(c->rk);
    SL_INFO(TAG, "group %s: member left", g->name);
    pthread_mutex_destroy(&c->lock);
    free(c->parts);
    free(c->tps);
    free(c);
}
