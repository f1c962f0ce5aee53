/*
 * redis.c - the `redis` output: topics into Redis, committed only once
 * Redis has acknowledged them.
 *
 *   outputs:
 *     - { type: redis, url: redis://127.0.0.1:6379/0 }     # scenario.stats -> ratios
 *
 * It runs the shared consumer loop (sl_sink_run). `write` hands records to
 * the mode (redis_mode, redis_int.h), which holds them; `flush` (every
 * flush_interval, or as soon as max_buffer entries are held) writes what
 * the mode holds, and only when Redis acknowledged all of it commits the
 * offsets read so far.
 *
 * Redis down is not a failure of the stage: the flush answers RETRY, the
 * loop stops reading and retries with backoff (100 ms doubling to 5 s),
 * what was read stays in the mode's bounded buffer and nothing is
 * committed. sluice_redis_up goes to 0 and one warning says so (repeated
 * once a minute while it lasts). When Redis is back the buffer is written
 * and committed; writes are idempotent, so whatever was written twice
 * (acknowledged before a connection broke, re-read after a restart) lands
 * the same. A restart of sluice while Redis is down loses nothing either:
 * the uncommitted records are read again.
 *
 * A record the mode cannot use is dead-lettered to _dlq with the reason,
 * counted, and skipped.
 */
#include "output/redis/redis_int.h"
#include "core/alloc.h"
#include "core/logging.h"
#include "input/http/ingest.h"
#include "pipeline/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct redis_output_conf {
    char *url;
    char **from;
    char *group;
    char *mode;
    int64_t history;
    char *key_prefix;
    int64_t timeout_ms;
    int64_t max_buffer;
    int64_t flush_interval_ms;
} redis_output_conf;

static const sl_conf_key redis_keys[] = {
    { "url", SL_KEY_STRING, "redis://127.0.0.1:6379/0", SL_CONF_FIELD(redis_output_conf, url), 0,
      NULL, "`redis://[[user]:password@]host[:port][/db]` or `unix:/path/to/sock[?db=N]`." },
    { "from", SL_KEY_LIST, "scenario.stats", SL_CONF_FIELD(redis_output_conf, from), 0, NULL,
      "Topics to read (scenario_ratio: the scenario processor's partial window counts)." },
    { "group", SL_KEY_STRING, "", SL_CONF_FIELD(redis_output_conf, group), 0, NULL,
      "Consumer group; default sluice.<name>." },
    { "mode", SL_KEY_ENUM, "scenario_ratio", SL_CONF_FIELD(redis_output_conf, mode), 0,
      "scenario_ratio",
      "`scenario_ratio`: `<key_prefix><sid>:success_ratio` as in seed 001, plus a history "
      "(docs/redis.md)." },
    { "history", SL_KEY_INT, "720", SL_CONF_FIELD(redis_output_conf, history), 0, NULL,
      "Windows kept in `<key_prefix><sid>:history` (720 = one hour of 5-second windows)." },
    { "key_prefix", SL_KEY_STRING, "scenario:", SL_CONF_FIELD(redis_output_conf, key_prefix), 0,
      NULL, "Prefix of every key written." },
    { "timeout", SL_KEY_DURATION, "2s", SL_CONF_FIELD(redis_output_conf, timeout_ms), 1000, NULL,
      "Connect and command timeout." },
    { "max_buffer", SL_KEY_INT, "100000", SL_CONF_FIELD(redis_output_conf, max_buffer), 0, NULL,
      "Updates held between flushes (and while Redis is down); when full, reading pauses." },
    { "flush_interval", SL_KEY_DURATION, "1s", SL_CONF_FIELD(redis_output_conf, flush_interval_ms),
      1000, NULL, "How often held updates are written and offsets committed." },
    { 0 },
};

static const redis_mode *const redis_modes[] = {
    &redis_mode_scenario_ratio,
    NULL,
};

/* Offsets read but not yet committed, per topic-partition. */
typedef struct redis_offset {
    char *topic;
    int32_t partition;
    int64_t next;
} redis_offset;

typedef struct redis_output {
    const sl_stage_env *env;
    const redis_output_conf *conf;
    redis_url url;
    char where[200];               /* the address, for log lines */
    redis_conn conn;
    const redis_mode *mode;
    redis_mode_conf mode_conf;
    void *mode_state;
    redis_offset *offsets;
    size_t noffsets;
    sl_buf dlq;
    int64_t down_since_us;         /* 0 while up (or never tried) */
    int64_t down_logged_us;
    int64_t refused_logged_us;
    sl_metric *m_up, *m_errors, *m_writes, *m_buffered, *m_invalid;
} redis_output;

/* ---- configuration ---------------------------------------------------------- */

static int key_line(const sl_stage_config *entry, const char *key)
{
    for (size_t i = 0; i < entry->npairs; i++)
        if (!strcmp(entry->pairs[i].key, key))
            return entry->pairs[i].line;
    return entry->line;
}

static int redis_check(const void *conf, const sl_stage_config *entry, const sl_config *cfg,
                       sl_buf *errors)
{
    const redis_output_conf *c = conf;
    int rc = sl_stage_check_topics(c->from, "from", entry, cfg, errors);
    redis_url u;
    char why[200];
    if (redis_url_parse(c->url, &u, why, sizeof why) < 0) {
        sl_buf_printf(errors, "%s:%d: output '%s': url: %s (near '%.60s')\n", cfg->path,
                      key_line(entry, "url"), entry->name, why, c->url);
        rc = SL_ERR_CONFIG;
    } else {
        redis_url_free(&u);
    }
    if (c->history < 1 || c->history > 10000000) {
        sl_buf_printf(errors, "%s:%d: output '%s': history must be from 1 to 10000000\n",
                      cfg->path, key_line(entry, "history"), entry->name);
        rc = SL_ERR_CONFIG;
    }
    if (c->max_buffer < 1) {
        sl_buf_printf(errors, "%s:%d: output '%s': max_buffer must be at least 1\n", cfg->path,
                      key_line(entry, "max_buffer"), entry->name);
        rc = SL_ERR_CONFIG;
    }
    if (c->timeout_ms < 1) {
        sl_buf_printf(errors, "%s:%d: output '%s': timeout must be at least 1ms\n", cfg->path,
                      key_line(entry, "timeout"), entry->name);
        rc = SL_ERR_CONFIG;
    }
    return rc;
}

/* ---- up and down ------------------------------------------------------------ */

#define REMIND_US (60 * INT64_C(1000000))

static void mark_up(redis_output *s)
{
    sl_gauge_set(s->m_up, 1);
    if (s->down_since_us) {
        SL_INFO(s->env->tag, "redis %s is reachable again after %.1f s", s->where,
                (double)(sl_mono_us() - s->down_since_us) / 1e6);
        s->down_since_us = 0;
    }
}

static void mark_down(redis_output *s)
{
    int64_t now = sl_mono_us();
    size_t held = s->mode->pending(s->mode_state);
    sl_gauge_set(s->m_up, 0);
    sl_counter_add(s->m_errors, 1);
    if (!s->down_since_us) {
        s->down_since_us = s->down_logged_us = now;
        SL_WARN(s->env->tag,
                "redis %s is down (%s); holding %zu updates, committing nothing, retrying with "
                "backoff", s->where, s->conn.error, held);
    } else if (now - s->down_logged_us >= REMIND_US) {
        s->down_logged_us = now;
        SL_WARN(s->env->tag, "redis %s still down after %.0f s (%s); holding %zu updates",
                s->where, (double)(now - s->down_since_us) / 1e6, s->conn.error, held);
    }
}

/* The server answered with an error (a refused script, WRONGTYPE, OOM...). */
static void note_refused(redis_output *s)
{
    int64_t now = sl_mono_us();
    sl_counter_add(s->m_errors, 1);
    if (!s->refused_logged_us || now - s->refused_logged_us >= REMIND_US) {
        s->refused_logged_us = now;
        SL_WARN(s->env->tag, "redis %s refused a write: %s; retrying with backoff", s->where,
                s->conn.error);
    }
}

/* ---- the consumer loop ---------------------------------------------------------- */

static void note_offset(redis_output *s, const char *topic, int32_t partition, int64_t next)
{
    for (size_t i = 0; i < s->noffsets; i++)
        if (s->offsets[i].partition == partition && !strcmp(s->offsets[i].topic, topic)) {
            s->offsets[i].next = next;
            return;
        }
    s->offsets = sl_realloc(s->offsets, (s->noffsets + 1) * sizeof *s->offsets);
    s->offsets[s->noffsets++] = (redis_offset){ sl_strdup(topic), partition, next };
}

/* Keep an unusable record in _dlq before its offset can be committed. */
static int dead_letter(redis_output *s, const char *topic, const sl_message *m, const char *why)
{
    sl_buf_reset(&s->dlq);
    sl_dlq_envelope(&s->dlq, s->env->tag, "bad_record", why, topic, (long)m->offset, m->value,
                    sl_now_us());
    sl_record rec = { .value = sl_buf_view(&s->dlq), .ts_us = sl_now_us(),
                      .partition = SL_PARTITION_AUTO };
    int rc = sl_log_append_sync(s->env->log, SL_DLQ_TOPIC, &rec, 1, NULL, NULL);
    if (rc < 0) {
        SL_LOG_ERRNO(SL_LOG_ERROR, s->env->tag, rc, "cannot keep a bad record in _dlq");
        return rc;
    }
    sl_counter_add(s->m_invalid, 1);
    SL_WARN(s->env->tag, "%s/%d offset %lld: %s; kept in _dlq", topic, m->partition,
            (long long)m->offset, why);
    return 0;
}

static int redis_write(void *state, sl_sink *sink, const sl_fetch *f)
{
    (void)sink;
    redis_output *s = state;
    char why[160];
    for (size_t i = 0; i < f->n; i++) {
        int rc = s->mode->add(s->mode_state, &f->msgs[i], why, sizeof why);
        if (rc == SL_ERR_PARSE)
            rc = dead_letter(s, f->topic, &f->msgs[i], why);
        if (rc < 0)
            return rc;
    }
    if (f->n)
        note_offset(s, f->topic, f->partition, f->msgs[f->n - 1].offset + 1);
    size_t held = s->mode->pending(s->mode_state);
    sl_gauge_set(s->m_buffered, (double)held);
    return held >= (size_t)s->conf->max_buffer ? SL_ERR_FULL : 0;
}

static sl_flush_result redis_flush(void *state, sl_sink *sink, bool revoking)
{
    (void)revoking; /* every flush writes everything held */
    redis_output *s = state;
    if (s->mode->pending(s->mode_state)) {
        int rc = redis_conn_ensure(&s->conn);
        if (rc == 0) {
            uint64_t acked = 0;
            rc = s->mode->write(s->mode_state, &s->conn, &acked);
            sl_counter_add(s->m_writes, acked);
        }
        sl_gauge_set(s->m_buffered, (double)s->mode->pending(s->mode_state));
        if (rc == REDIS_E_DOWN || (rc < 0 && !s->conn.ctx)) {
            mark_down(s);
            return SL_FLUSH_RETRY;
        }
        mark_up(s);
        if (rc < 0) {
            note_refused(s);
            return SL_FLUSH_RETRY;
        }
    } else {
        /* Idle: keep sluice_redis_up true to the server, without blocking reading. */
        int rc = s->conn.ctx ? redis_conn_ping(&s->conn) : redis_conn_ensure(&s->conn);
        if (rc < 0)
            mark_down(s);
        else
            mark_up(s);
    }
    for (size_t i = 0; i < s->noffsets; i++) {
        if (sl_sink_commit(sink, s->offsets[i].topic, s->offsets[i].partition,
                           s->offsets[i].next) < 0)
            return SL_FLUSH_RETRY; /* written again after a retry: harmless */
    }
    for (size_t i = 0; i < s->noffsets; i++)
        free(s->offsets[i].topic);
    s->noffsets = 0;
    return SL_FLUSH_OK;
}

/* ---- the plugin ------------------------------------------------------------------ */

static int redis_init(const sl_stage_env *env, const void *conf, void **state)
{
    const redis_output_conf *c = conf;
    redis_output *s = sl_calloc(1, sizeof *s);
    s->env = env;
    s->conf = c;
    char why[200];
    if (redis_url_parse(c->url, &s->url, why, sizeof why) < 0) {
        SL_ERROR(env->tag, "url: %s", why); /* check() refuses it first */
        free(s);
        return SL_ERR_CONFIG;
    }
    redis_url_describe(&s->url, s->where, sizeof s->where);
    s->conn = (redis_conn){ .url = &s->url, .timeout_ms = (int)c->timeout_ms };
    for (const redis_mode *const *m = redis_modes; *m; m++)
        if (!strcmp((*m)->name, c->mode))
            s->mode = *m;
    s->mode_conf = (redis_mode_conf){ .key_prefix = c->key_prefix, .history = c->history,
                                      .max_buffer = (size_t)c->max_buffer };
    int rc = s->mode ? s->mode->create(&s->mode_conf, &s->mode_state) : SL_ERR_CONFIG;
    if (rc < 0) {
        redis_url_free(&s->url);
        free(s);
        return rc;
    }
    sl_metric_family *up = sl_metrics_family(
        "sluice_redis_up", "1 while the redis output reaches its server, 0 while it cannot.",
        SL_GAUGE, "output");
    sl_metric_family *errors = sl_metrics_family(
        "sluice_redis_errors_total",
        "Failed connections, broken connections and writes Redis refused, per redis output.",
        SL_COUNTER, "output");
    sl_metric_family *writes = sl_metrics_family(
        "sluice_redis_writes_total",
        "Updates Redis acknowledged (scenario_ratio: one per scenario window written).",
        SL_COUNTER, "output");
    sl_metric_family *buffered = sl_metrics_family(
        "sluice_redis_buffered", "Updates read and not yet acknowledged by Redis.", SL_GAUGE,
        "output");
    sl_metric_family *invalid = sl_metrics_family(
        "sluice_redis_invalid_records_total",
        "Records the redis output could not use (kept in _dlq with the reason).", SL_COUNTER,
        "output");
    s->m_up = sl_metric_get1(up, env->name);
    s->m_errors = sl_metric_get1(errors, env->name);
    s->m_writes = sl_metric_get1(writes, env->name);
    s->m_buffered = sl_metric_get1(buffered, env->name);
    s->m_invalid = sl_metric_get1(invalid, env->name);
    sl_gauge_set(s->m_buffered, 0);
    *state = s;
    return 0;
}

static int redis_run(void *state)
{
    redis_output *s = state;
    /* Say at once whether Redis is there; a missing server is not a reason not to read. */
    if (redis_conn_ensure(&s->conn) == 0) {
        mark_up(s);
        SL_INFO(s->env->tag, "connected to redis %s (mode %s)", s->where, s->mode->name);
    } else {
        mark_down(s);
    }
    static const sl_sink_ops ops = { .write = redis_write, .flush = redis_flush };
    sl_sink_options o = { .group = s->conf->group,
                          .topics = (const char *const *)s->conf->from,
                          .flush_interval_ms = s->conf->flush_interval_ms };
    int rc = sl_sink_run(s->env, &o, &ops, s);
    redis_conn_close(&s->conn);
    return rc;
}

static void redis_destroy(void *state)
{
    redis_output *s = state;
    if (!s)
        return;
    redis_conn_close(&s->conn);
    if (s->mode && s->mode_state)
        s->mode->destroy(s->mode_state);
    for (size_t i = 0; i < s->noffsets; i++)
        free(s->offsets[i].topic);
    free(s->offsets);
    sl_buf_free(&s->dlq);
    redis_url_free(&s->url);
    if (s->m_up)
        sl_gauge_set(s->m_up, 0);
    free(s);
}

const sl_plugin sl_output_redis = {
    .type = "redis",
    .kind = SL_STAGE_OUTPUT,
    .description = "scenario success ratios and their history in Redis",
    .keys = redis_keys,
    .conf_size = sizeof(redis_output_conf),
    .check = redis_check,
    .init = redis_init,
    .run = redis_run,
    .destroy = redis_destroy,
};
