/*
 * sink.c - the consumer loop shared by processors and outputs (see
 * stage.h): poll the group, hand records to the plugin, flush on time, on
 * demand, before a rebalance and at stop.
 */
#include "pipeline/stage.h"
#include "core/alloc.h"
#include "core/logging.h"

#include <stdlib.h>
#include <string.h>

struct sl_sink {
    const sl_stage_env *env;
    const sl_sink_ops *ops;
    void *state;
    sl_consumer *consumer;
    int failed;           /* a flush inside a rebalance hook failed */
};

/* Flush until OK; RETRY waits with backoff (reading pauses meanwhile). At
   stop a RETRY gives up: nothing is committed, so nothing is lost. */
static int sink_flush(sl_sink *s, bool revoking)
{
    int backoff_ms = 100;
    for (;;) {
        sl_flush_result r = s->ops->flush(s->state, s, revoking);
        if (r == SL_FLUSH_OK) {
            if (backoff_ms > 100)
                sl_stage_set_health(s->env->stage, SL_STAGE_UP, "flush succeeded");
            return 0;
        }
        if (r == SL_FLUSH_ERROR)
            return SL_ERR;
        sl_stage_set_health(s->env->stage, SL_STAGE_RETRYING, "flush failed, retrying");
        if (sl_stage_stopping(s->env->stage))
            return SL_ERR_CLOSED;
        sl_stage_sleep(s->env->stage, backoff_ms);
        backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
    }
}

static void on_assigned(void *arg, const sl_topic_partition *tps, size_t n)
{
    sl_sink *s = arg;
    if (s->ops->assigned)
        s->ops->assigned(s->state, s, tps, n);
}

static void on_revoked(void *arg, const sl_topic_partition *tps, size_t n)
{
    (void)tps;
    (void)n;
    sl_sink *s = arg;
    int rc = sink_flush(s, true);
    if (rc < 0 && rc != SL_ERR_CLOSED)
        s->failed = rc;
}

int sl_sink_commit(sl_sink *sink, const char *topic, int32_t partition, int64_t next_offset)
{
    return sl_consumer_commit(sink->consumer, topic, partition, next_offset);
}

int sl_sink_seek(sl_sink *sink, const char *topic, int32_t partition, int64_t offset)
{
    return sl_consumer_seek(sink->consumer, topic, partition, offset);
}

int sl_sink_run(const sl_stage_env *env, const sl_sink_options *opts, const sl_sink_ops *ops,
                void *state)
{
    sl_sink s = { .env = env, .ops = ops, .state = state };
    size_t ntopics = 0;
    while (opts->topics && opts->topics[ntopics])
        ntopics++;
    char *group = opts->group && *opts->group ? sl_strdup(opts->group)
                                              : sl_asprintf("sluice.%s", env->name);
    sl_consumer_hooks hooks = { .assigned = on_assigned, .revoked = on_revoked, .arg = &s };
    int rc = sl_consumer_open(env->log, group, opts->topics, ntopics, &hooks, &s.consumer);
    if (rc < 0) {
        SL_LOG_ERRNO(SL_LOG_ERROR, env->tag, rc, "cannot join group %s", group);
        free(group);
        return rc;
    }
    int64_t interval_us = (opts->flush_interval_ms > 0 ? opts->flush_interval_ms : 1000) * 1000;
    int64_t last_flush = sl_mono_us();
    while (!sl_stage_stopping(env->stage) && rc == 0) {
        sl_fetch f = { 0 };
        rc = sl_consumer_poll(s.consumer, 100, &f);
        if (rc < 0)
            break;
        if (s.failed) {
            rc = s.failed;
            break;
        }
        bool flush_now = false;
        if (f.n) {
            int w = ops->write(state, &s, &f);
            if (w == SL_ERR_FULL)
                flush_now = true;
            else if (w < 0)
                rc = w;
        }
        sl_fetch_release(&f);
        if (rc == 0 && (flush_now || sl_mono_us() - last_flush >= interval_us)) {
            rc = sink_flush(&s, false);
            if (rc == SL_ERR_CLOSED)
                rc = 0;
            last_flush = sl_mono_us();
        }
    }
    if (rc == 0) {
        int frc = sink_flush(&s, true);
        if (frc < 0 && frc != SL_ERR_CLOSED)
            rc = frc;
    }
    sl_consumer_close(s.consumer);
    free(group);
    return rc;
}
