/*
 * groups.c - consumer groups of the embedded log: committed offsets (in
 * memory, and durably in <data_dir>/log/_groups/<group>.json) and the
 * members of a group inside this process, which share the partitions of
 * their topics by range assignment.
 *
 * A commit rewrites the group's whole file: write a temporary, fsync it,
 * rename it over the old one, fsync the directory. Files are small (one
 * line per partition) and commits follow output flushes, so this is cheap
 * enough and never leaves a half-written file:
 *
 *   {"group":"lake","offsets":[{"topic":"logs.raw","partition":0,"next_offset":812}, ...]}
 *
 * Membership is cooperative: when a member joins or leaves, the group's
 * generation moves on and every member, at its next poll, computes its new
 * share; it first gives up (revoked hook, then release) what is no longer
 * its, then takes what is newly its once the previous owner has released
 * it (assigned hook), so two members never consume a partition at once.
 * A partition taken over starts at the group's committed offset, else at
 * the partition's start.
 */
#include "log/embedded/embedded_int.h"

#include "core/alloc.h"
#include "core/logging.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct log_commit {
    char *topic;
    int32_t partition;
    int64_t next_offset;
} log_commit;

typedef struct embedded_consumer embedded_consumer;

typedef struct log_group {
    struct log_group *next;
    char *name;
    log_commit *commits;
    size_t ncommits, cap;
    pthread_mutex_t file_lock;   /* one writer of the group's file at a time */
    embedded_consumer **members; /* in join order */
    size_t nmembers, mcap;
    uint64_t generation;
    uint64_t next_member_id;
    embedded_consumer ***owners; /* [topic index][partition], lazily */
} log_group;

struct log_groups {
    char *dir;
    log_group *list;
};

typedef struct owned_tp {
    log_partition *p;
    int64_t position;
} owned_tp;

struct embedded_consumer {
    sl_consumer base;
    embedded_log *log;
    log_group *group;
    uint64_t member_id;
    log_topic **topics;
    size_t ntopics;
    sl_consumer_hooks hooks;
    uint64_t generation; /* the group generation this member last acted on */
    bool want_pending;   /* some of its share is still held by another member */
    owned_tp *owned;
    size_t nowned, owned_cap;
    sl_topic_partition *tps;
    size_t rr;
};

/* Batches read per poll stop after the one that reaches this (it is
   returned whole: a batch is read and checked once). */
#define POLL_MAX_BYTES (1u << 20)

/* ---- groups and commits in memory (groups_lock held) ---------------------------- */

static log_group *group_find(embedded_log *log, const char *name, bool create)
{
    for (log_group *g = log->groups->list; g; g = g->next)
        if (strcmp(g->name, name) == 0)
            return g;
    if (!create)
        return NULL;
    log_group *g = sl_calloc(1, sizeof *g);
    g->name = sl_strdup(name);
    pthread_mutex_init(&g->file_lock, NULL);
    g->owners = sl_calloc(log->ntopics ? log->ntopics : 1, sizeof *g->owners);
    g->next = log->groups->list;
    log->groups->list = g;
    return g;
}

static log_commit *commit_find(log_group *g, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < g->ncommits; i++)
        if (g->commits[i].partition == partition && strcmp(g->commits[i].topic, topic) == 0)
            return &g->commits[i];
    return NULL;
}

static void commit_set(log_group *g, const char *topic, int32_t partition, int64_t next_offset)
{
    log_commit *c = commit_find(g, topic, partition);
    if (!c) {
        if (g->ncommits == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 8;
            g->commits = sl_realloc(g->commits, g->cap * sizeof *g->commits);
        }
        c = &g->commits[g->ncommits++];
        c->topic = sl_strdup(topic);
        c->partition = partition;
    }
    c->next_offset = next_offset;
}

static void commit_remove(log_group *g, const char *topic, int32_t partition)
{
    log_commit *c = commit_find(g, topic, partition);
    if (!c)
        return;
    free(c->topic);
    *c = g->commits[--g->ncommits];
}

/* ---- the group files ------------------------------------------------------------ */

/* Group names may hold any byte; file names keep [A-Za-z0-9._-] and %XX the rest. */
static char *group_path(const char *dir, const char *group, const char *suffix)
{
    sl_buf b = SL_BUF_INIT;
    sl_buf_printf(&b, "%s/", dir);
    for (const unsigned char *p = (const unsigned char *)group; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '_' || *p == '-')
            sl_buf_append_char(&b, (char)*p);
        else
            sl_buf_printf(&b, "%%%02X", *p);
    }
    sl_buf_append_str(&b, suffix);
    return sl_buf_steal(&b);
}

static void group_serialize(const log_group *g, sl_buf *out)
{
    sl_buf_append_str(out, "{\"group\":");
    sl_buf_append_json_string(out, g->name, strlen(g->name));
    sl_buf_append_str(out, ",\"offsets\":[");
    for (size_t i = 0; i < g->ncommits; i++) {
        sl_buf_append_str(out, i ? ",\n  {\"topic\":" : "\n  {\"topic\":");
        sl_buf_append_json_string(out, g->commits[i].topic, strlen(g->commits[i].topic));
        sl_buf_printf(out, ",\"partition\":%d,\"next_offset\":%" PRId64 "}",
                      g->commits[i].partition, g->commits[i].next_offset);
    }
    sl_buf_append_str(out, "]}\n");
}

static int file_replace(const char *dir, const char *path, const sl_buf *content)
{
    int rc = 0;
    char *tmp = sl_asprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    size_t done = 0;
    while (done < content->len) {
        ssize_t k = write(fd, content->data + done, content->len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        done += (size_t)k;
    }
    if (!rc && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (!rc)
        rc = log_fsync_dir(dir);
    if (rc)
        unlink(tmp);
out:
    free(tmp);
    return rc;
}

static void group_file_load(embedded_log *log, const char *path)
{
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    const char *name = root ? json_string_value(json_object_get(root, "group")) : NULL;
    json_t *offsets = root ? json_object_get(root, "offsets") : NULL;
    if (!name || !json_is_array(offsets)) {
        SL_WARN(TAG, "ignoring %s: %s", path, root ? "not a group offsets file" : err.text);
        json_decref(root);
        return;
    }
    log_group *g = group_find(log, name, true);
    size_t i;
    json_t *o;
    json_array_foreach(offsets, i, o)
    {
        const char *topic = json_string_value(json_object_get(o, "topic"));
        json_t *part = json_object_get(o, "partition"), *next = json_object_get(o, "next_offset");
        if (!topic || !json_is_integer(part) || !json_is_integer(next))
            continue;
        commit_set(g, topic, (int32_t)json_integer_value(part), json_integer_value(next));
    }
    json_decref(root);
}

int log_groups_open(embedded_log *log)
{
    log->groups = sl_calloc(1, sizeof *log->groups);
    log->groups->dir = sl_asprintf("%s/_groups", log->log_dir);
    DIR *d = opendir(log->groups->dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        char *path = sl_asprintf("%s/%s", log->groups->dir, e->d_name);
        if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0)
            group_file_load(log, path);
        else if (n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0 && !log->read_only)
            unlink(path); /* a commit interrupted before its rename */
        free(path);
    }
    closedir(d);
    return 0;
}

void log_groups_close(embedded_log *log)
{
    if (!log->groups)
        return;
    while (log->groups->list) {
        log_group *g = log->groups->list;
        log->groups->list = g->next;
        for (size_t i = 0; i < g->ncommits; i++)
            free(g->commits[i].topic);
        free(g->commits);
        for (size_t i = 0; i < log->ntopics; i++)
            free(g->owners[i]);
        free(g->owners);
        free(g->members);
        pthread_mutex_destroy(&g->file_lock);
        free(g->name);
        free(g);
    }
    free(log->groups->dir);
    free(log->groups);
    log->groups = NULL;
}

int log_groups_commit(embedded_log *log, const char *group, const char *topic,
                      int32_t partition, int64_t next_offset)
{
    int rc;
    if (log->read_only)
        return -EROFS;
    log_partition *p = log_partition_find(log, topic, partition, &rc);
    if (!p)
        return rc;
    int64_t start, end;
    log_partition_offsets(log, p, &start, &end);
    if (next_offset < 0 || next_offset > end)
        return SL_ERR_RANGE;

    pthread_mutex_lock(&log->groups_lock);
    log_group *g = group_find(log, group, true);
    pthread_mutex_unlock(&log->groups_lock);

    sl_buf content = SL_BUF_INIT;
    pthread_mutex_lock(&g->file_lock);
    pthread_mutex_lock(&log->groups_lock);
    log_commit *old = commit_find(g, topic, partition);
    bool had = old != NULL;
    int64_t previous = had ? old->next_offset : 0;
    commit_set(g, topic, partition, next_offset);
    group_serialize(g, &content);
    pthread_mutex_unlock(&log->groups_lock);

    rc = log_mkdirs(log->groups->dir);
    if (rc == 0) {
        char *path = group_path(log->groups->dir, group, ".json");
        rc = file_replace(log->groups->dir, path, &content);
        free(path);
    }
    if (rc) {
        SL_LOG_ERRNO(SL_LOG_ERROR, TAG, rc, "cannot store the offsets of group %s", group);
        pthread_mutex_lock(&log->groups_lock);
        if (had)
            commit_set(g, topic, partition, previous);
        else
            commit_remove(g, topic, partition);
        pthread_mutex_unlock(&log->groups_lock);
    }
    pthread_mutex_unlock(&g->file_lock);
    sl_buf_free(&content);
    return rc;
}

int log_groups_committed(embedded_log *log, const char *group, const char *topic,
                         int32_t partition, int64_t *next_offset)
{
    int rc = -ENOENT;
    pthread_mutex_lock(&log->groups_lock);
    log_group *g = group_find(log, group, false);
    log_commit *c = g ? commit_find(g, topic, partition) : NULL;
    if (c) {
        *next_offset = c->next_offset;
        rc = 0;
    }
    pthread_mutex_unlock(&log->groups_lock);
    return rc;
}

int log_groups_list(embedded_log *log, const char *topic, char ***groups, size_t *n)
{
    size_t cnt = 0, cap = 0;
    char **v = NULL;
    pthread_mutex_lock(&log->groups_lock);
    for (log_group *g = log->groups->list; g; g = g->next) {
        bool has = false;
        for (size_t i = 0; i < g->ncommits && !has; i++)
            has = strcmp(g->commits[i].topic, topic) == 0;
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

void log_groups_scrape(embedded_log *log)
{
    pthread_mutex_lock(&log->groups_lock);
    for (log_group *g = log->groups->list; g; g = g->next)
        for (size_t i = 0; i < g->ncommits; i++) {
            int err;
            log_partition *p = log_partition_find(log, g->commits[i].topic,
                                                  g->commits[i].partition, &err);
            if (!p)
                continue;
            pthread_mutex_lock(&p->lock);
            int64_t end = p->end;
            pthread_mutex_unlock(&p->lock);
            char id[16];
            snprintf(id, sizeof id, "%d", p->id);
            const char *labels[3] = { g->name, g->commits[i].topic, id };
            int64_t lag = end - g->commits[i].next_offset;
            sl_gauge_set(sl_metric_get(log->f_lag, labels), (double)(lag > 0 ? lag : 0));
        }
    pthread_mutex_unlock(&log->groups_lock);
}

/* ---- members ------------------------------------------------------------------------ */

static embedded_consumer **owner_slot(embedded_log *log, log_group *g, log_partition *p)
{
    size_t ti = (size_t)(p->topic - log->topics);
    if (!g->owners[ti])
        g->owners[ti] = sl_calloc((size_t)p->topic->spec.partitions, sizeof **g->owners);
    return &g->owners[ti][p->id];
}

static bool subscribes(const embedded_consumer *c, const log_topic *t)
{
    for (size_t i = 0; i < c->ntopics; i++)
        if (c->topics[i] == t)
            return true;
    return false;
}

static bool owns(const embedded_consumer *c, const log_partition *p, size_t *at)
{
    for (size_t i = 0; i < c->nowned; i++)
        if (c->owned[i].p == p) {
            if (at)
                *at = i;
            return true;
        }
    return false;
}

/* This member's range share of every topic it reads (groups_lock held). */
static size_t target_compute(embedded_consumer *c, log_partition ***out)
{
    size_t n = 0, cap = 0;
    log_partition **v = NULL;
    for (size_t i = 0; i < c->ntopics; i++) {
        log_topic *t = c->topics[i];
        size_t m = 0, k = 0;
        for (size_t j = 0; j < c->group->nmembers; j++) {
            embedded_consumer *o = c->group->members[j];
            if (!subscribes(o, t))
                continue;
            if (o == c)
                k = m;
            m++;
        }
        size_t parts = (size_t)t->spec.partitions, per = parts / m, extra = parts % m;
        size_t first = k * per + (k < extra ? k : extra), count = per + (k < extra ? 1 : 0);
        for (size_t q = first; q < first + count; q++) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                v = sl_realloc(v, cap * sizeof *v);
            }
            v[n++] = &t->parts[q];
        }
    }
    *out = v;
    return n;
}

static void tps_fill(sl_topic_partition *tps, log_partition *const *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tps[i] = (sl_topic_partition){ parts[i]->topic->name, parts[i]->id };
}

/* Give up what another member should now have; revoked hook first. */
static void consumer_release(embedded_consumer *c, log_partition **parts, size_t n)
{
    if (!n)
        return;
    if (c->hooks.revoked) {
        sl_topic_partition *tps = sl_malloc(n * sizeof *tps);
        tps_fill(tps, parts, n);
        c->hooks.revoked(c->hooks.arg, tps, n);
        free(tps);
    }
    embedded_log *log = c->log;
    pthread_mutex_lock(&log->groups_lock);
    for (size_t i = 0; i < n; i++) {
        size_t at;
        if (owns(c, parts[i], &at))
            c->owned[at] = c->owned[--c->nowned];
        embedded_consumer **slot = owner_slot(log, c->group, parts[i]);
        if (*slot == c)
            *slot = NULL;
    }
    pthread_mutex_unlock(&log->groups_lock);
    log_notify(log);
}

static void consumer_rebalance(embedded_consumer *c)
{
    embedded_log *log = c->log;
    log_group *g = c->group;
    log_partition **target = NULL, **revoke = NULL, **added = NULL;
    size_t nrevoke = 0, nadded = 0;

    pthread_mutex_lock(&log->groups_lock);
    if (c->generation == g->generation && !c->want_pending) {
        pthread_mutex_unlock(&log->groups_lock);
        return;
    }
    size_t ntarget = target_compute(c, &target);
    revoke = sl_malloc((c->nowned + 1) * sizeof *revoke);
    for (size_t i = 0; i < c->nowned; i++) {
        bool keep = false;
        for (size_t j = 0; j < ntarget && !keep; j++)
            keep = target[j] == c->owned[i].p;
        if (!keep)
            revoke[nrevoke++] = c->owned[i].p;
    }
    c->generation = g->generation;
    pthread_mutex_unlock(&log->groups_lock);

    consumer_release(c, revoke, nrevoke);

    added = sl_malloc((ntarget + 1) * sizeof *added);
    pthread_mutex_lock(&log->groups_lock);
    c->want_pending = false;
    for (size_t j = 0; j < ntarget; j++) {
        log_partition *p = target[j];
        if (owns(c, p, NULL))
            continue;
        embedded_consumer **slot = owner_slot(log, g, p);
        if (*slot) {
            c->want_pending = true; /* its owner has not released it yet */
            continue;
        }
        *slot = c;
        int64_t start, end, position;
        log_partition_offsets(log, p, &start, &end);
        log_commit *cm = commit_find(g, p->topic->name, p->id);
        position = cm ? cm->next_offset : start;
        if (position < start)
            position = start;
        if (position > end)
            position = end;
        if (c->nowned == c->owned_cap) {
            c->owned_cap = c->owned_cap ? c->owned_cap * 2 : 8;
            c->owned = sl_realloc(c->owned, c->owned_cap * sizeof *c->owned);
        }
        c->owned[c->nowned++] = (owned_tp){ p, position };
        added[nadded++] = p;
    }
    pthread_mutex_unlock(&log->groups_lock);

    if (nadded && c->hooks.assigned) {
        sl_topic_partition *tps = sl_malloc(nadded * sizeof *tps);
        tps_fill(tps, added, nadded);
        c->hooks.assigned(c->hooks.arg, tps, nadded);
        free(tps);
    }
    if (nrevoke || nadded)
        SL_INFO(TAG, "group %s member %" PRIu64 ": %zu partitions assigned (%zu revoked, %zu "
                "added%s)", g->name, c->member_id, c->nowned, nrevoke, nadded,
                c->want_pending ? ", waiting for others to release" : "");
    free(target);
    free(revoke);
    free(added);
}

int log_consumer_open(sl_log *base, const char *group, const char *const *topics, size_t ntopics,
                      const sl_consumer_hooks *hooks, sl_consumer **out)
{
    embedded_log *log = (embedded_log *)base;
    log_topic **tv = sl_calloc(ntopics, sizeof *tv);
    size_t n = 0;
    for (size_t i = 0; i < ntopics; i++) {
        log_topic *t = topics[i] ? log_topic_find(log, topics[i]) : NULL;
        if (!t) {
            free(tv);
            return SL_ERR_NOTOPIC;
        }
        bool dup = false;
        for (size_t j = 0; j < n; j++)
            dup |= tv[j] == t;
        if (!dup)
            tv[n++] = t;
    }
    embedded_consumer *c = sl_calloc(1, sizeof *c);
    c->base.log = base;
    c->log = log;
    c->topics = tv;
    c->ntopics = n;
    if (hooks)
        c->hooks = *hooks;

    pthread_mutex_lock(&log->groups_lock);
    log_group *g = group_find(log, group, true);
    c->group = g;
    c->member_id = g->next_member_id++;
    if (g->nmembers == g->mcap) {
        g->mcap = g->mcap ? g->mcap * 2 : 4;
        g->members = sl_realloc(g->members, g->mcap * sizeof *g->members);
    }
    g->members[g->nmembers++] = c;
    g->generation++;
    c->generation = g->generation - 1; /* so the first poll assigns */
    pthread_mutex_unlock(&log->groups_lock);
    log_notify(log);
    *out = &c->base;
    return 0;
}

int log_consumer_poll(sl_consumer *base, int timeout_ms, sl_fetch *f)
{
    embedded_consumer *c = (embedded_consumer *)base;
    embedded_log *log = c->log;
    int64_t deadline = sl_mono_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;

    for (;;) {
        uint64_t seq = atomic_load(&log->poll_seq);
        consumer_rebalance(c);
        for (size_t k = 0; k < c->nowned; k++) {
            size_t i = (c->rr + k) % c->nowned;
            owned_tp *o = &c->owned[i];
            int rc = log_partition_read(log, o->p, o->position, 0, POLL_MAX_BYTES, 0,
                                        LOG_READ_WHOLE_BATCHES, f);
            if (rc == SL_ERR_RANGE) {
                int64_t start, end;
                log_partition_offsets(log, o->p, &start, &end);
                int64_t fixed = o->position < start ? start : end;
                SL_WARN(TAG, "group %s: %s offset %" PRId64 " is out of range [%" PRId64
                        ", %" PRId64 "]; continuing at %" PRId64, c->group->name, o->p->label,
                        o->position, start, end, fixed);
                o->position = fixed;
                rc = log_partition_read(log, o->p, o->position, 0, POLL_MAX_BYTES, 0,
                                        LOG_READ_WHOLE_BATCHES, f);
            }
            if (rc < 0)
                return rc;
            if (f->n) {
                o->position = f->next_offset;
                c->rr = i + 1;
                return 0;
            }
            sl_fetch_release(f);
        }
        int64_t now = sl_mono_us();
        if (now >= deadline || atomic_load(&log->closing))
            return 0;
        struct timespec ts = { deadline / 1000000, (deadline % 1000000) * 1000 };
        pthread_mutex_lock(&log->poll_lock);
        atomic_fetch_add(&log->poll_waiters, 1);
        if (atomic_load(&log->poll_seq) == seq)
            pthread_cond_timedwait(&log->poll_cond, &log->poll_lock, &ts);
        atomic_fetch_sub(&log->poll_waiters, 1);
        pthread_mutex_unlock(&log->poll_lock);
    }
}

static log_partition *consumer_owned(embedded_consumer *c, const char *topic, int32_t partition,
                                     size_t *at)
{
    for (size_t i = 0; i < c->nowned; i++)
        if (c->owned[i].p->id == partition && strcmp(c->owned[i].p->topic->name, topic) == 0) {
            *at = i;
            return c->owned[i].p;
        }
    return NULL;
}

int log_consumer_commit(sl_consumer *base, const char *topic, int32_t partition,
                        int64_t next_offset)
{
    embedded_consumer *c = (embedded_consumer *)base;
    size_t at;
    if (!consumer_owned(c, topic, partition, &at))
        return log_topic_find(c->log, topic) ? SL_ERR_NOPARTITION : SL_ERR_NOTOPIC;
    return log_groups_commit(c->log, c->group->name, topic, partition, next_offset);
}

int log_consumer_seek(sl_consumer *base, const char *topic, int32_t partition, int64_t offset)
{
    embedded_consumer *c = (embedded_consumer *)base;
    size_t at;
    log_partition *p = consumer_owned(c, topic, partition, &at);
    if (!p)
        return log_topic_find(c->log, topic) ? SL_ERR_NOPARTITION : SL_ERR_NOTOPIC;
    int64_t start, end;
    log_partition_offsets(c->log, p, &start, &end);
    if (offset < start || offset > end)
        return SL_ERR_RANGE;
    c->owned[at].position = offset;
    return 0;
}

int log_consumer_assignment(sl_consumer *base, const sl_topic_partition **tps, size_t *n)
{
    embedded_consumer *c = (embedded_consumer *)base;
    free(c->tps);
    c->tps = sl_malloc((c->nowned + 1) * sizeof *c->tps);
    for (size_t i = 0; i < c->nowned; i++)
        c->tps[i] = (sl_topic_partition){ c->owned[i].p->topic->name, c->owned[i].p->id };
    *tps = c->tps;
    *n = c->nowned;
    return 0;
}

void log_consumer_close(sl_consumer *base)
{
    embedded_consumer *c = (embedded_consumer *)base;
    embedded_log *log = c->log;
    log_partition **all = sl_malloc((c->nowned + 1) * sizeof *all);
    size_t n = c->nowned;
    for (size_t i = 0; i < n; i++)
        all[i] = c->owned[i].p;
    consumer_release(c, all, n);
    free(all);

    pthread_mutex_lock(&log->groups_lock);
    log_group *g = c->group;
    for (size_t i = 0; i < g->nmembers; i++)
        if (g->members[i] == c) {
            memmove(&g->members[i], &g->members[i + 1], (g->nmembers - i - 1) * sizeof *g->members);
            g->nmembers--;
            break;
        }
    for (size_t t = 0; t < log->ntopics; t++) /* anything still marked ours */
        for (int32_t k = 0; g->owners[t] && k < log->topics[t].spec.partitions; k++)
            if (g->owners[t][k] == c)
                g->owners[t][k] = NULL;
    g->generation++;
    pthread_mutex_unlock(&log->groups_lock);
    log_notify(log);
    SL_INFO(TAG, "group %s member %" PRIu64 " left", g->name, c->member_id);
    free(c->owned);
    free(c->tps);
    free(c->topics);
    free(c);
}
