/*
 * processor.c - the `scenario` processor: seed 001's scenario engine and
 * its 5-second success ratios.
 *
 *   processors:
 *     - { type: scenario, from: web.raw, to: scenario.results,
 *         stats_topic: scenario.stats, window: 5s, lateness: 1s }
 *
 * It runs the shared consumer loop (sl_sink_run): write() turns each
 * record of `from` into a result on `to` (or an envelope on _dlq when its
 * scenario is unknown) and counts it in its window; flush() makes all of
 * it durable in the order the exactness argument of scenario.h needs:
 *
 *   1. partitions whose current results range has records: the range is
 *      cut at the next offset, the cut written to the catalogue
 *      (scenario_progress.results_cut), then the range appended
 *   2. wait until every results append is durable
 *   3. partials of closed windows appended to stats_topic (durable)
 *   4. one catalogue transaction: the partials upserted, each partition's
 *      results base moved to its current range start
 *   5. source offsets committed at min(results base, the first offset of
 *      any window whose counts are not durable)
 *
 * A crash anywhere repeats work whose effects are idempotent: results
 * ranges are re-appended under the same idempotency keys (the log keeps
 * the first copy), partials are rewritten with the same or larger counts,
 * stats records repeat with replace-by-key meaning. An append that fails
 * after it was accepted fails the stage, and its restart is that replay.
 *
 * The catalogue's change counters are polled every second; a change of
 * scenarios rebuilds the compiled set and a change of members rebuilds
 * the member cache, both swapped in between two batches.
 */
#include "catalogue/catalogue.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "core/timestamp.h"
#include "input/http/ingest.h"
#include "pipeline/stage.h"
#include "processor/scenario/scenario.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Source offsets per results append (and per idempotency key). */
#define CHUNK_OFFSETS 4096
#define POLL_US 1000000
#define PRUNE_US (3600 * INT64_C(1000000))

/*
 * Crash points for the end-to-end tests: SLUICE_TEST_CRASH=after_cut,
 * after_stats or after_catalogue makes the process _exit(99) (as abruptly
 * as kill -9) at that step of the first flush that has something to do
 * there, so the tests can check that a restart repairs each one.
 */
enum { CRASH_NONE, CRASH_AFTER_CUT, CRASH_AFTER_STATS, CRASH_AFTER_CATALOGUE };

static int crash_point(void)
{
    const char *v = getenv("SLUICE_TEST_CRASH");
    return !v                            ? CRASH_NONE
         : !strcmp(v, "after_cut")       ? CRASH_AFTER_CUT
         : !strcmp(v, "after_stats")     ? CRASH_AFTER_STATS
         : !strcmp(v, "after_catalogue") ? CRASH_AFTER_CATALOGUE
                                         : CRASH_NONE;
}

static void crash_now(const char *tag, const char *where)
{
    SL_WARN(tag, "SLUICE_TEST_CRASH: exiting %s", where);
    _exit(99);
}

typedef struct scenario_conf {
    char *from;
    char *to;
    char *stats_topic;
    char *group;
    char *member_key;
    int64_t window_us;
    int64_t lateness_us;
    int64_t idle_us;
    int64_t flush_interval_ms;
    int64_t stats_retention_us;
    bool validate;
    bool optional;
} scenario_conf;

#define F(field) SL_CONF_FIELD(scenario_conf, field)

static const sl_conf_key scenario_keys[] = {
    { "from", SL_KEY_STRING, "web.raw", F(from), 0, NULL,
      "Topic of tracking events (each with scenario_id and memberId)." },
    { "to", SL_KEY_STRING, "scenario.results", F(to), 0, NULL,
      "Topic of results: the projected event plus success, scenario_id, date; keyed by "
      "scenario_id." },
    { "stats_topic", SL_KEY_STRING, "scenario.stats", F(stats_topic), 0, NULL,
      "Topic of window partials (the Redis output reads it); empty = catalogue only." },
    { "group", SL_KEY_STRING, "", F(group), 0, NULL, "Consumer group; default sluice.<name>." },
    { "member_key", SL_KEY_STRING, "memberId", F(member_key), 0, NULL,
      "Event field holding the member id used to look up age, gender, ..." },
    { "window", SL_KEY_DURATION, "5s", F(window_us), 1, NULL,
      "Length of the success-ratio windows (event time)." },
    { "lateness", SL_KEY_DURATION, "1s", F(lateness_us), 1, NULL,
      "A window closes once its partition has seen an event this much past its end; later "
      "events still count (the window's partial is emitted again)." },
    { "idle", SL_KEY_DURATION, "2s", F(idle_us), 1, NULL,
      "A partition that received nothing for this long closes its open windows." },
    { "flush_interval", SL_KEY_DURATION, "1s", F(flush_interval_ms), 1000, NULL,
      "How often results are completed, closed windows emitted and offsets committed." },
    { "stats_retention", SL_KEY_DURATION, "7d", F(stats_retention_us), 1, NULL,
      "Partials older than this are deleted from the catalogue (hourly); 0 = keep." },
    { "validate", SL_KEY_BOOL, "false", F(validate), 0, NULL,
      "Validate every event as JSON first (sluice's own inputs already do)." },
    { "optional", SL_KEY_BOOL, "false", F(optional), 0, NULL,
      "When a topic named here is not declared, skip the stage instead of refusing the "
      "configuration (the embedded default sets it)." },
    { 0 },
};

/* A record waiting in the current range: bytes in the partition's buffer. */
typedef struct pending_record {
    uint32_t value_at, value_len;
    uint32_t key_at, key_len;    /* key_len 0 = keyless */
    int64_t ts_us;
} pending_record;

typedef struct pending_list {
    sl_buf bytes;
    pending_record *v;
    size_t n, cap;
} pending_list;

/* What the processor keeps per source partition. */
typedef struct part_state {
    int32_t partition;
    int64_t base, cut;            /* results ranges (scenario.h); cut -1 = none */
    int64_t stored_base;          /* base as the catalogue has it (-1: never stored) */
    int64_t chunk_start, chunk_end;
    bool chunk_used;              /* a record landed in the current range */
    bool cutting;                 /* flush: this range is cut now */
    bool fresh_cut;               /* ... at a cut this flush chose (not a recorded one) */
    int64_t next_offset;          /* after the last record seen */
    int64_t committed;            /* last committed (-1: none this session) */
    int64_t last_record_us;       /* monotonic */
    int64_t max_stored_start;     /* newest window with a stored partial */
    pending_list results, dlq;
    scenario_windows windows;
} part_state;

typedef struct scenario_state {
    const sl_stage_env *env;
    const scenario_conf *conf;
    char *group;
    bool skip;
    int crash;                    /* SLUICE_TEST_CRASH */
    sl_catalogue *cat;
    scenario_set *set;
    scenario_members members;
    int64_t scenarios_version, members_version;
    int64_t last_poll_us, last_prune_us;
    uint64_t local_changes;       /* sl_catalogue_local_changes at the last poll */

    part_state **parts;
    size_t nparts;

    scenario_eval_ctx eval;
    sl_buf scratch, key, error;
    sl_record *recs;
    size_t recs_cap;

    /* results appends in flight */
    pthread_mutex_t lock;
    pthread_cond_t done;
    int inflight;
    int append_error;

    /* per-batch counts, added to the metrics once per batch */
    uint64_t n_success, n_failure, n_unknown, n_invalid, n_missing;

    sl_metric *m_success, *m_failure, *m_rejected_unknown, *m_rejected_invalid,
        *m_rejected_missing, *m_partials, *m_reload_scenarios,
        *m_reload_members, *m_scenarios, *m_members, *m_late;
} scenario_state;

/* ---- configuration ----------------------------------------------------------- */

static bool declared(const sl_config *cfg, const char *topic)
{
    return sl_config_topic(cfg, topic) || !strcmp(topic, SL_DLQ_TOPIC);
}

static int scenario_check(const void *conf, const sl_stage_config *entry, const sl_config *cfg,
                          sl_buf *errors)
{
    const scenario_conf *c = conf;
    int rc = 0;
    const char *names[] = { "from", "to", "stats_topic" };
    const char *topics[] = { c->from, c->to, c->stats_topic };
    for (int i = 0; i < 3; i++) {
        if (i == 2 && !*topics[i])
            continue;
        if (!*topics[i]) {
            sl_buf_printf(errors, "%s:%d: processor '%s': %s must name a topic\n", cfg->path,
                          entry->line, entry->name, names[i]);
            rc = SL_ERR_CONFIG;
        } else if (!declared(cfg, topics[i]) && !c->optional) {
            sl_buf_printf(errors, "%s:%d: processor '%s': %s names undeclared topic '%s'\n",
                          cfg->path, entry->line, entry->name, names[i], topics[i]);
            rc = SL_ERR_CONFIG;
        }
    }
    if (*c->from && !strcmp(c->from, c->to)) {
        sl_buf_printf(errors, "%s:%d: processor '%s': from and to are the same topic '%s'\n",
                      cfg->path, entry->line, entry->name, c->from);
        rc = SL_ERR_CONFIG;
    }
    if (c->window_us < 1000) {
        sl_buf_printf(errors, "%s:%d: processor '%s': window must be at least 1ms\n", cfg->path,
                      entry->line, entry->name);
        rc = SL_ERR_CONFIG;
    }
    if (c->lateness_us < 0 || c->idle_us <= 0) {
        sl_buf_printf(errors, "%s:%d: processor '%s': lateness must be >= 0 and idle > 0\n",
                      cfg->path, entry->line, entry->name);
        rc = SL_ERR_CONFIG;
    }
    if (!*c->member_key) {
        sl_buf_printf(errors, "%s:%d: processor '%s': member_key must name a field\n", cfg->path,
                      entry->line, entry->name);
        rc = SL_ERR_CONFIG;
    }
    return rc;
}

/* ---- catalogue reloads -------------------------------------------------------- */

static int load_member(void *arg, const sl_catalogue_member *m)
{
    void **a = arg;
    scenario_members *cache = a[0];
    sl_buf *scratch = a[1];
    sl_buf_reset(scratch);
    sl_catalogue_member_json(m, scratch);
    scenario_members_put(cache, sl_view_of(m->member_id), sl_buf_view(scratch));
    return 0;
}

/*
 * Poll the change counters (every second, and at once after a write in
 * this process); rebuild what changed. Returns 0 or <0.
 */
static int reload(scenario_state *s, bool force)
{
    int64_t now = sl_mono_us();
    uint64_t local = sl_catalogue_local_changes();
    if (!force && now - s->last_poll_us < POLL_US && local == s->local_changes)
        return 0;
    s->last_poll_us = now;
    s->local_changes = local;
    int64_t sv = 0, mv = 0;
    int rc = sl_catalogue_versions(s->cat, &sv, &mv);
    if (rc < 0)
        return rc;
    if (force || sv != s->scenarios_version || !s->set) {
        sl_catalogue_scenario *v = NULL;
        size_t n = 0;
        rc = sl_catalogue_scenario_list(s->cat, &v, &n);
        if (rc < 0)
            return rc;
        const char **defs = sl_calloc(n ? n : 1, sizeof *defs);
        for (size_t i = 0; i < n; i++)
            defs[i] = v[i].definition;
        size_t skipped = 0;
        scenario_set *fresh = scenario_set_build(defs, n, s->conf->member_key, &skipped);
        free(defs);
        sl_catalogue_scenarios_free(v, n);
        if (skipped)
            SL_WARN(s->env->tag, "%zu stored scenario%s do not compile and are ignored", skipped,
                    skipped == 1 ? "" : "s");
        scenario_set_free(s->set);
        s->set = fresh;
        if (s->scenarios_version != sv)
            SL_INFO(s->env->tag, "scenarios loaded: %zu (catalogue version %" PRId64 ")",
                    fresh->n, sv);
        s->scenarios_version = sv;
        sl_counter_add(s->m_reload_scenarios, 1);
        sl_gauge_set(s->m_scenarios, (double)fresh->n);
    }
    if (force || mv != s->members_version) {
        scenario_members fresh;
        scenario_members_init(&fresh);
        void *arg[2] = { &fresh, &s->scratch };
        rc = sl_catalogue_member_each(s->cat, load_member, arg);
        if (rc < 0) {
            scenario_members_free(&fresh);
            return rc;
        }
        scenario_members_free(&s->members);
        s->members = fresh;
        if (s->members_version != mv)
            SL_INFO(s->env->tag, "members loaded: %zu (catalogue version %" PRId64 ")",
                    fresh.n, mv);
        s->members_version = mv;
        sl_counter_add(s->m_reload_members, 1);
        sl_gauge_set(s->m_members, (double)fresh.n);
    }
    return 0;
}

/* ---- partitions ------------------------------------------------------------------ */

static void pending_free(pending_list *l)
{
    sl_buf_free(&l->bytes);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void pending_reset(pending_list *l)
{
    sl_buf_reset(&l->bytes);
    l->n = 0;
}

static pending_record *pending_push(pending_list *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->v = sl_realloc(l->v, l->cap * sizeof *l->v);
    }
    return &l->v[l->n++];
}

static void part_free(part_state *p)
{
    if (!p)
        return;
    pending_free(&p->results);
    pending_free(&p->dlq);
    scenario_windows_free(&p->windows);
    free(p);
}

static void drop_parts(scenario_state *s)
{
    for (size_t i = 0; i < s->nparts; i++)
        part_free(s->parts[i]);
    free(s->parts);
    s->parts = NULL;
    s->nparts = 0;
}

/* Leave a range behind when o passes its end (a recorded cut moves the base). */
static void range_for(part_state *p, int64_t o)
{
    while (p->cut > p->base && o >= p->cut) {
        p->base = p->cut;
        p->cut = -1;
    }
    scenario_chunk_range(p->base, p->cut, CHUNK_OFFSETS, o < p->base ? p->base : o,
                         &p->chunk_start, &p->chunk_end);
}

static part_state *part_get(scenario_state *s, int32_t partition, int64_t first_offset, int *rc)
{
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i]->partition == partition)
            return s->parts[i];
    part_state *p = sl_calloc(1, sizeof *p);
    p->partition = partition;
    p->committed = -1;
    p->next_offset = first_offset;
    p->last_record_us = sl_mono_us();
    scenario_windows_init(&p->windows);
    int64_t base = 0, cut = -1;
    *rc = sl_catalogue_progress_get(s->cat, s->group, s->conf->from, partition, &base, &cut);
    if (*rc == -ENOENT) {
        base = first_offset; /* nothing produced yet: ranges start here */
        cut = -1;
        p->stored_base = -1;
        *rc = 0;
    } else
        p->stored_base = base;
    if (*rc == 0) {
        *rc = sl_catalogue_stats_latest(s->cat, s->conf->from, partition, &p->max_stored_start);
        if (*rc == -ENOENT) {
            p->max_stored_start = INT64_MIN;
            *rc = 0;
        }
    }
    if (*rc < 0) {
        part_free(p);
        return NULL;
    }
    p->base = base;
    p->cut = cut > base ? cut : -1;
    range_for(p, first_offset);
    SL_DEBUG(s->env->tag, "partition %d: results base %" PRId64 ", cut %" PRId64
                          ", reading from %" PRId64,
             partition, p->base, p->cut, first_offset);
    s->parts = sl_realloc(s->parts, (s->nparts + 1) * sizeof *s->parts);
    s->parts[s->nparts++] = p;
    return p;
}

/* ---- appends ----------------------------------------------------------------------- */

static void on_appended(void *opaque, int status, const int32_t *partitions,
                        const int64_t *offsets, size_t n)
{
    (void)partitions;
    (void)offsets;
    (void)n;
    scenario_state *s = opaque;
    pthread_mutex_lock(&s->lock);
    if (status < 0 && !s->append_error)
        s->append_error = status;
    s->inflight--;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
}

/* Wait for every append in flight; returns the first failure or 0. */
static int wait_appends(scenario_state *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->inflight > 0)
        pthread_cond_wait(&s->done, &s->lock);
    int rc = s->append_error;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static sl_record *records_of(scenario_state *s, const pending_list *l)
{
    if (l->n > s->recs_cap) {
        s->recs_cap = l->n;
        s->recs = sl_realloc(s->recs, s->recs_cap * sizeof *s->recs);
    }
    for (size_t i = 0; i < l->n; i++) {
        const pending_record *r = &l->v[i];
        s->recs[i] = (sl_record){
            .key = r->key_len ? (sl_view){ l->bytes.data + r->key_at, r->key_len } : SL_VIEW_NULL,
            .value = { l->bytes.data + r->value_at, r->value_len },
            .ts_us = r->ts_us,
            .partition = SL_PARTITION_AUTO,
        };
    }
    return s->recs;
}

/* Append asynchronously, waiting out backpressure (the log is full). */
static int append_list(scenario_state *s, const char *topic, const pending_list *l)
{
    if (l->n == 0)
        return 0;
    sl_record *recs = records_of(s, l);
    int backoff_ms = 5;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        s->inflight++;
        pthread_mutex_unlock(&s->lock);
        int rc = sl_log_append_idempotent(s->env->log, topic, recs, l->n, sl_buf_view(&s->key),
                                          on_appended, s);
        if (rc == 0)
            return 0;
        pthread_mutex_lock(&s->lock);
        s->inflight--;
        pthread_mutex_unlock(&s->lock);
        if (rc != SL_ERR_FULL)
            return rc;
        /* Nothing was appended: wait and try the same range again. */
        sl_stage_set_health(s->env->stage, SL_STAGE_RETRYING, "the log is full, waiting");
        if (sl_stage_sleep(s->env->stage, backoff_ms))
            return SL_ERR_CLOSED;
        backoff_ms = SL_MIN(backoff_ms * 2, 1000);
    }
}

/* Append the current range's results and rejects, and start the next range at `next`. */
static int append_range(scenario_state *s, part_state *p, int64_t end)
{
    int rc = 0;
    if (p->chunk_used) {
        scenario_chunk_key(s->group, s->conf->from, p->partition, p->chunk_start, end, &s->key);
        rc = append_list(s, s->conf->to, &p->results);
        if (rc == 0)
            rc = append_list(s, SL_DLQ_TOPIC, &p->dlq);
    }
    pending_reset(&p->results);
    pending_reset(&p->dlq);
    p->chunk_used = false;
    return rc;
}

/* ---- the per-event path ------------------------------------------------------------- */

typedef struct load_ctx {
    scenario_state *s;
    part_state *p;
} load_ctx;

/* The stored partial of a window (scenario_load_fn). */
static int load_partial(void *arg, int64_t sid, int64_t start, int64_t *success, int64_t *total,
                        int64_t *last_offset)
{
    load_ctx *c = arg;
    if (start > c->p->max_stored_start)
        return 0; /* newer than anything stored: no row to look up */
    sl_catalogue_partial row;
    int rc = sl_catalogue_stats_find(c->s->cat, sid, start, c->s->conf->from, c->p->partition,
                                     &row);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    *success = row.success_count;
    *total = row.total_count;
    *last_offset = row.last_offset;
    sl_counter_add(c->s->m_late, 1);
    return 1;
}

static void reject(scenario_state *s, part_state *p, const sl_message *m, const char *reason,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void reject(scenario_state *s, part_state *p, const sl_message *m, const char *reason,
                   const char *fmt, ...)
{
    sl_buf_reset(&s->error);
    sl_buf_printf(&s->error, "%s/%d@%" PRId64 ": ", s->conf->from, m->partition, m->offset);
    va_list ap;
    va_start(ap, fmt);
    sl_buf_vprintf(&s->error, fmt, ap);
    va_end(ap);
    pending_record *r = pending_push(&p->dlq);
    r->value_at = (uint32_t)p->dlq.bytes.len;
    sl_dlq_envelope(&p->dlq.bytes, "scenario", reason, s->error.data, s->conf->from, -1,
                    m->value, sl_now_us());
    r->value_len = (uint32_t)(p->dlq.bytes.len - r->value_at);
    r->key_at = r->key_len = 0;
    r->ts_us = m->ts_us;
}

static int scenario_write(void *state, sl_sink *sink, const sl_fetch *f)
{
    (void)sink;
    scenario_state *s = state;
    if (f->n == 0)
        return 0;
    int rc = 0;
    /* A failed poll keeps the scenarios and members in use (the catalogue
       logged why); the next batch tries again. */
    (void)reload(s, false);
    part_state *p = part_get(s, f->partition, f->msgs[0].offset, &rc);
    if (!p)
        return rc;
    load_ctx lc = { s, p };
    const scenario_conf *c = s->conf;
    scenario_eval_ctx *ev = &s->eval;
    ev->set = s->set;
    ev->members = &s->members;
    for (size_t i = 0; i < f->n; i++) {
        const sl_message *m = &f->msgs[i];
        int64_t o = m->offset;
        bool produce = o >= p->base;
        if (produce && o >= p->chunk_end) {
            rc = append_range(s, p, p->chunk_end);
            if (rc < 0)
                return rc;
            range_for(p, o);
        }
        p->next_offset = o + 1;

        sl_view event = m->value;
        int64_t sid = 0;
        const scenario_entry *e = NULL;
        bool success = false;
        pending_record *r = NULL;
        if (produce) {
            p->chunk_used = true;
            r = pending_push(&p->results);
            r->value_at = (uint32_t)p->results.bytes.len;
        }
        scenario_outcome out = scenario_eval(ev, &event, m->ts_us, r ? &p->results.bytes : NULL,
                                             &sid, &e, &success);
        if (out != SCENARIO_RESULT) {
            if (r)
                p->results.n--; /* nothing was appended for it */
            switch (out) {
            case SCENARIO_NOT_OBJECT:
                s->n_invalid++;
                if (produce)
                    reject(s, p, m, "invalid_json", "the event is not a JSON object");
                break;
            case SCENARIO_NO_ID:
                s->n_missing++;
                if (produce)
                    reject(s, p, m, "missing_scenario_id", "the event has no scenario_id");
                break;
            case SCENARIO_BAD_ID:
                s->n_invalid++;
                if (produce)
                    reject(s, p, m, "invalid_scenario_id",
                           "scenario_id must be a positive integer");
                break;
            default:
                s->n_unknown++;
                if (produce)
                    reject(s, p, m, "unknown_scenario",
                           "scenario_id %" PRId64 " is not in the catalogue", sid);
                break;
            }
            continue;
        }
        if (r) {
            r->value_len = (uint32_t)(p->results.bytes.len - r->value_at);
            r->key_at = (uint32_t)p->results.bytes.len;
            r->key_len = (uint32_t)e->key_len;
            sl_buf_append(&p->results.bytes, e->key, e->key_len);
            r->ts_us = m->ts_us;
        }
        if (success)
            s->n_success++;
        else
            s->n_failure++;
        bool counted;
        if (!scenario_windows_count(&p->windows, sid, m->ts_us, c->window_us, o, success,
                                    load_partial, &lc, &counted))
            return SL_ERR;
    }
    p->last_record_us = sl_mono_us();
    scenario_windows_close(&p->windows, c->window_us, c->lateness_us, false);

    sl_counter_add(s->m_success, s->n_success);
    sl_counter_add(s->m_failure, s->n_failure);
    sl_counter_add(s->m_rejected_unknown, s->n_unknown);
    sl_counter_add(s->m_rejected_invalid, s->n_invalid);
    sl_counter_add(s->m_rejected_missing, s->n_missing);
    s->n_success = s->n_failure = s->n_unknown = s->n_invalid = s->n_missing = 0;
    return 0;
}

/* ---- flush ---------------------------------------------------------------------------- */

typedef struct emission {
    scenario_state *s;
    part_state *p;
    sl_catalogue_partial *rows;
    size_t n, cap;
    pending_list records;
} emission;

static void collect_partial(void *arg, const scenario_window *w)
{
    emission *em = arg;
    scenario_state *s = em->s;
    if (em->n == em->cap) {
        em->cap = em->cap ? em->cap * 2 : 64;
        em->rows = sl_realloc(em->rows, em->cap * sizeof *em->rows);
    }
    int64_t now = sl_now_us();
    sl_catalogue_partial *row = &em->rows[em->n++];
    *row = (sl_catalogue_partial){
        .scenario_id = w->scenario_id,     .window_start_us = w->start_us,
        .window_end_us = w->start_us + s->conf->window_us,
        .source_topic = s->conf->from,     .partition = em->p->partition,
        .success_count = w->success,       .total_count = w->total,
        .last_offset = w->last_offset,     .updated_us = now,
    };
    if (!*s->conf->stats_topic)
        return;
    /* The scenario.stats record: the contract docs/scenarios.md states. */
    pending_list *l = &em->records;
    pending_record *r = pending_push(l);
    char start[48], end[48], at[48];
    sl_timestamp_format_iso(row->window_start_us, start, sizeof start);
    sl_timestamp_format_iso(row->window_end_us, end, sizeof end);
    sl_timestamp_format_iso(now, at, sizeof at);
    /* Whole seconds print without the fraction. */
    char *dot;
    if ((dot = strstr(start, ".000000Z")))
        strcpy(dot, "Z");
    if ((dot = strstr(end, ".000000Z")))
        strcpy(dot, "Z");
    r->value_at = (uint32_t)l->bytes.len;
    sl_buf_printf(&l->bytes,
                  "{\"scenario_id\":%" PRId64 ",\"window_start\":\"%s\",\"window_end\":\"%s\","
                  "\"partition\":%d,\"source_topic\":",
                  row->scenario_id, start, end, row->partition);
    sl_buf_append_json_string(&l->bytes, s->conf->from, strlen(s->conf->from));
    sl_buf_printf(&l->bytes,
                  ",\"success_count\":%" PRId64 ",\"total_count\":%" PRId64
                  ",\"last_offset\":%" PRId64 ",\"updated_at\":\"%s\"}",
                  row->success_count, row->total_count, row->last_offset, at);
    r->value_len = (uint32_t)(l->bytes.len - r->value_at);
    r->key_at = (uint32_t)l->bytes.len;
    sl_buf_printf(&l->bytes, "%" PRId64, row->scenario_id);
    r->key_len = (uint32_t)(l->bytes.len - r->key_at);
    r->ts_us = row->window_start_us;
}

static sl_flush_result scenario_flush(void *state, sl_sink *sink, bool revoking)
{
    scenario_state *s = state;
    const scenario_conf *c = s->conf;
    int64_t now = sl_mono_us();
    int rc = 0;
    sl_catalogue_progress *prog = sl_calloc(s->nparts + 1, sizeof *prog);
    size_t nprog = 0;
    emission em = { .s = s };
    sl_flush_result result = SL_FLUSH_OK;
    (void)reload(s, false); /* keeps the caches fresh while idle; write() reports failures */

    /* Windows: all of them when the partitions go away, those of idle
       partitions, and (already done in write) those the watermark passed. */
    for (size_t i = 0; i < s->nparts; i++) {
        part_state *p = s->parts[i];
        if (revoking || now - p->last_record_us >= c->idle_us)
            scenario_windows_close(&p->windows, c->window_us, c->lateness_us, true);
    }

    /* 1. Cut the ranges that have records, record the cuts, append them.
       A partition replaying up to a cut recorded before a crash keeps its
       range open until it reaches that cut: cutting elsewhere would name
       the range differently from the copy already in the log (reaching
       the cut exactly closes the range there, as recorded). */
    for (size_t i = 0; i < s->nparts; i++) {
        part_state *p = s->parts[i];
        bool recorded = p->cut > p->base;
        p->cutting = p->chunk_used && (!recorded || p->cut == p->next_offset);
        p->fresh_cut = p->cutting && !recorded;
        if (p->fresh_cut) {
            p->cut = p->next_offset;
            prog[nprog++] = (sl_catalogue_progress){ s->group, c->from, p->partition, p->base,
                                                     p->cut };
        }
    }
    if (nprog && sl_catalogue_progress_put(s->cat, prog, nprog) < 0) {
        for (size_t i = 0; i < s->nparts; i++) /* nothing was cut after all */
            if (s->parts[i]->fresh_cut)
                s->parts[i]->cut = -1;
        result = SL_FLUSH_RETRY;
        goto out;
    }
    for (size_t i = 0; i < s->nparts; i++) {
        part_state *p = s->parts[i];
        if (!p->cutting)
            continue;
        rc = append_range(s, p, p->cut);
        if (rc < 0) {
            SL_ERROR(s->env->tag, "appending results failed: %s", sl_strerror(rc));
            result = SL_FLUSH_ERROR;
            goto out;
        }
        range_for(p, p->cut); /* moves the base to the cut */
        p->cutting = false;
    }

    /* 2. Every results append durable. */
    rc = wait_appends(s);
    if (rc < 0) {
        SL_ERROR(s->env->tag, "a results append failed: %s (restarting from the last commit)",
                 sl_strerror(rc));
        result = SL_FLUSH_ERROR;
        goto out;
    }
    if (s->crash == CRASH_AFTER_CUT && nprog)
        crash_now(s->env->tag, "after recording and appending a cut");

    /* 3. Partials of closed windows to stats_topic. */
    for (size_t i = 0; i < s->nparts; i++) {
        em.p = s->parts[i];
        scenario_windows_each_closed(&s->parts[i]->windows, collect_partial, &em);
    }
    if (em.records.n) {
        sl_record *recs = records_of(s, &em.records);
        rc = sl_log_append_sync(s->env->log, c->stats_topic, recs, em.records.n, NULL, NULL);
        if (rc < 0) {
            SL_WARN(s->env->tag, "appending %zu partials to %s failed: %s", em.records.n,
                    c->stats_topic, sl_strerror(rc));
            result = SL_FLUSH_RETRY;
            goto out;
        }
        if (s->crash == CRASH_AFTER_STATS)
            crash_now(s->env->tag, "after appending partials to the stats topic");
    }

    /* 4. Partials and the new results bases in one transaction. */
    nprog = 0;
    for (size_t i = 0; i < s->nparts; i++) {
        part_state *p = s->parts[i];
        if (p->cut > p->base)
            continue; /* still replaying up to a recorded cut */
        /* The current range holds nothing: results below its start are
           durable, and ranges go on from it. */
        p->base = p->chunk_start;
        if (p->base != p->stored_base)
            prog[nprog++] = (sl_catalogue_progress){ s->group, c->from, p->partition, p->base, -1 };
    }
    if ((em.n || nprog) && sl_catalogue_stats_put(s->cat, em.rows, em.n, prog, nprog) < 0) {
        result = SL_FLUSH_RETRY;
        goto out;
    }
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i]->cut <= s->parts[i]->base)
            s->parts[i]->stored_base = s->parts[i]->base;
    for (size_t i = 0; i < em.n; i++)
        for (size_t j = 0; j < s->nparts; j++)
            if (s->parts[j]->partition == em.rows[i].partition &&
                em.rows[i].window_start_us > s->parts[j]->max_stored_start)
                s->parts[j]->max_stored_start = em.rows[i].window_start_us;
    for (size_t i = 0; i < s->nparts; i++)
        scenario_windows_emitted(&s->parts[i]->windows);
    sl_counter_add(s->m_partials, em.n);
    if (s->crash == CRASH_AFTER_CATALOGUE && em.n)
        crash_now(s->env->tag, "after storing partials, before committing offsets");

    /* 5. Commit up to what is durable. */
    for (size_t i = 0; i < s->nparts; i++) {
        part_state *p = s->parts[i];
        int64_t upto = SL_MIN(p->base, p->next_offset);
        upto = SL_MIN(upto, scenario_windows_pending_from(&p->windows));
        if (upto <= p->committed)
            continue;
        rc = sl_sink_commit(sink, c->from, p->partition, upto);
        if (rc < 0) {
            SL_WARN(s->env->tag, "commit of %s/%d at %" PRId64 " failed: %s", c->from,
                    p->partition, upto, sl_strerror(rc));
            result = SL_FLUSH_RETRY;
            goto out;
        }
        p->committed = upto;
    }
    if (revoking)
        drop_parts(s); /* reassigned partitions start again from the catalogue */

    if (c->stats_retention_us > 0 && now - s->last_prune_us >= PRUNE_US) {
        s->last_prune_us = now;
        int64_t deleted = 0;
        if (sl_catalogue_stats_prune(s->cat, sl_now_us() - c->stats_retention_us, &deleted) == 0 &&
            deleted)
            SL_INFO(s->env->tag, "pruned %" PRId64 " partials older than the retention", deleted);
    }
    sl_stage_set_health(s->env->stage, SL_STAGE_UP, NULL);
out:
    free(prog);
    free(em.rows);
    pending_free(&em.records);
    return result;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static int scenario_init(const sl_stage_env *env, const void *conf, void **state)
{
    const scenario_conf *c = conf;
    scenario_state *s = sl_calloc(1, sizeof *s);
    s->env = env;
    s->conf = c;
    s->group = c->group && *c->group ? sl_strdup(c->group) : sl_asprintf("sluice.%s", env->name);
    s->crash = crash_point();
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->done, NULL);
    scenario_members_init(&s->members);
    scenario_date_init(&s->eval.dates);
    s->eval.validate = c->validate;
    s->last_prune_us = sl_mono_us() - PRUNE_US + 60 * INT64_C(1000000); /* first prune after 1 min */
    *state = s;

    const char *missing = !declared(env->cfg, c->from) ? c->from
                        : !declared(env->cfg, c->to)   ? c->to
                        : *c->stats_topic && !declared(env->cfg, c->stats_topic) ? c->stats_topic
                                                                                 : NULL;
    if (missing) { /* only with optional: true, or check would have refused it */
        s->skip = true;
        SL_INFO(env->tag, "topic %s is not declared: the scenario processor does not run", missing);
        return 0;
    }

    static const char *const outcomes[] = { "success", "failure" };
    sl_metric_family *f_events = sl_metrics_family(
        "sluice_scenario_events_total",
        "Events the scenario processor evaluated, by outcome (success: its filters held).",
        SL_COUNTER, "stage,outcome");
    sl_metric_family *f_rejected = sl_metrics_family(
        "sluice_scenario_events_rejected_total",
        "Events the scenario processor sent to _dlq, by reason.", SL_COUNTER, "stage,reason");
    s->m_success = sl_metric_get2(f_events, env->name, outcomes[0]);
    s->m_failure = sl_metric_get2(f_events, env->name, outcomes[1]);
    s->m_rejected_unknown = sl_metric_get2(f_rejected, env->name, "unknown_scenario");
    s->m_rejected_invalid = sl_metric_get2(f_rejected, env->name, "invalid");
    s->m_rejected_missing = sl_metric_get2(f_rejected, env->name, "missing_scenario_id");
    s->m_partials = sl_metric_get1(
        sl_metrics_family("sluice_scenario_partials_total",
                          "Window partials emitted (to the catalogue and stats_topic).",
                          SL_COUNTER, "stage"),
        env->name);
    s->m_late = sl_metric_get1(
        sl_metrics_family("sluice_scenario_windows_reopened_total",
                          "Windows continued from a stored partial (late events, restarts).",
                          SL_COUNTER, "stage"),
        env->name);
    sl_metric_family *f_reload = sl_metrics_family(
        "sluice_scenario_reloads_total",
        "Reloads of scenarios or members after the catalogue changed.", SL_COUNTER, "stage,what");
    s->m_reload_scenarios = sl_metric_get2(f_reload, env->name, "scenarios");
    s->m_reload_members = sl_metric_get2(f_reload, env->name, "members");
    s->m_scenarios = sl_metric_get1(
        sl_metrics_family("sluice_scenario_scenarios", "Compiled scenarios in use.", SL_GAUGE,
                          "stage"),
        env->name);
    s->m_members = sl_metric_get1(
        sl_metrics_family("sluice_scenario_members", "Members in the enrichment cache.",
                          SL_GAUGE, "stage"),
        env->name);

    sl_buf err = SL_BUF_INIT;
    int rc = sl_catalogue_open(env->cfg, &s->cat, &err);
    if (rc < 0) {
        SL_ERROR(env->tag, "cannot open the catalogue: %s", err.data ? err.data : sl_strerror(rc));
        sl_buf_free(&err);
        return rc; /* destroy frees the state */
    }
    sl_buf_free(&err);
    rc = reload(s, true);
    if (rc < 0)
        SL_ERROR(env->tag, "cannot load scenarios and members: %s", sl_strerror(rc));
    return rc;
}

static int scenario_run(void *state)
{
    scenario_state *s = state;
    if (s->skip)
        return 0;
    static const sl_sink_ops ops = { .write = scenario_write, .flush = scenario_flush };
    const char *topics[] = { s->conf->from, NULL };
    sl_sink_options o = { .group = s->group, .topics = topics,
                          .flush_interval_ms = s->conf->flush_interval_ms };
    return sl_sink_run(s->env, &o, &ops, s);
}

static void scenario_destroy(void *state)
{
    scenario_state *s = state;
    if (!s)
        return;
    wait_appends(s); /* callbacks must not outlive the state */
    drop_parts(s);
    scenario_set_free(s->set);
    scenario_members_free(&s->members);
    sl_catalogue_close(s->cat);
    sl_buf_free(&s->scratch);
    scenario_eval_ctx_free(&s->eval);
    sl_buf_free(&s->key);
    sl_buf_free(&s->error);
    free(s->recs);
    free(s->group);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->done);
    free(s);
}

const sl_plugin sl_processor_scenario = {
    .type = "scenario",
    .kind = SL_STAGE_PROCESSOR,
    .description = "seed-001 scenarios: filter, enrich by member and project tracking events "
                   "into results, and count per-scenario success ratios per window",
    .keys = scenario_keys,
    .conf_size = sizeof(scenario_conf),
    .check = scenario_check,
    .init = scenario_init,
    .run = scenario_run,
    .destroy = scenario_destroy,
};
