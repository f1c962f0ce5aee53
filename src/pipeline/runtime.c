/*
 * runtime.c - starts, supervises and stops the stages of a pipeline (see
 * stage.h). Each stage has a supervisor thread: init, run, destroy, and on
 * failure a backoff before the next attempt. The supervisor owns the
 * stage's state; stop requests only set a flag and wake sleepers.
 */
#include "pipeline/stage.h"
#include "core/alloc.h"
#include "core/logging.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sl_stage {
    sl_stage_env env;
    const sl_plugin *plugin;
    void *conf;
    void *state;                 /* while init..destroy; guarded by lock */
    pthread_t thread;
    bool started;
    _Atomic bool stopping;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    char tag[160];
    sl_metric *m_up, *m_restarts;
};

struct sl_pipeline {
    sl_stage **stages;
    size_t n;
};

static const char *const kind_names[] = { "input", "processor", "output" };

bool sl_stage_stopping(const sl_stage *stage)
{
    return atomic_load(&((sl_stage *)stage)->stopping);
}

bool sl_stage_sleep(sl_stage *stage, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&stage->lock);
    while (!atomic_load(&stage->stopping))
        if (pthread_cond_timedwait(&stage->wake, &stage->lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&stage->lock);
    return atomic_load(&stage->stopping);
}

void sl_stage_set_health(sl_stage *stage, sl_stage_health health, const char *why)
{
    double was = sl_metric_value(stage->m_up);
    sl_gauge_set(stage->m_up, health == SL_STAGE_UP ? 1 : 0);
    if (health != SL_STAGE_UP && was == 1)
        SL_WARN(stage->tag, "%s%s%s", health == SL_STAGE_RETRYING ? "retrying" : "failing",
                why ? ": " : "", why ? why : "");
    else if (health == SL_STAGE_UP && was == 0 && why)
        SL_INFO(stage->tag, "recovered: %s", why);
}

static void *supervise(void *arg)
{
    sl_stage *st = arg;
    int backoff_ms = 1000;
    while (!sl_stage_stopping(st)) {
        void *state = NULL;
        int rc = st->plugin->init(&st->env, st->conf, &state);
        if (rc == 0) {
            pthread_mutex_lock(&st->lock);
            st->state = state;
            pthread_mutex_unlock(&st->lock);
            sl_gauge_set(st->m_up, 1);
            rc = st->plugin->run(state);
            pthread_mutex_lock(&st->lock);
            st->state = NULL;
            pthread_mutex_unlock(&st->lock);
            st->plugin->destroy(state);
            if (rc == 0 || sl_stage_stopping(st))
                break;
            backoff_ms = 1000;
        }
        sl_gauge_set(st->m_up, 0);
        sl_counter_add(st->m_restarts, 1);
        SL_ERROR(st->tag, "stage failed (%s); restarting in %d ms", sl_strerror(rc), backoff_ms);
        if (sl_stage_sleep(st, backoff_ms))
            break;
        backoff_ms = backoff_ms < 30000 ? backoff_ms * 2 : 60000;
    }
    sl_gauge_set(st->m_up, 0);
    return NULL;
}

static bool listed(const char *only, const char *word)
{
    if (!only)
        return true;
    size_t n = strlen(word);
    for (const char *p = only; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && !strncmp(p, word, n))
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

int sl_stage_check_topics(char *const *topics, const char *key, const sl_stage_config *entry,
                          const sl_config *cfg, sl_buf *errors)
{
    int rc = 0;
    if (!topics || !topics[0]) {
        sl_buf_printf(errors, "%s:%d: %s '%s' needs %s: the topics it reads\n", cfg->path,
                      entry->line, kind_names[entry->kind], entry->name, key);
        return SL_ERR_CONFIG;
    }
    for (size_t i = 0; topics[i]; i++)
        if (!sl_config_topic(cfg, topics[i]) && strcmp(topics[i], SL_DLQ_TOPIC) != 0) {
            sl_buf_printf(errors, "%s:%d: %s '%s': %s names undeclared topic '%s'\n", cfg->path,
                          entry->line, kind_names[entry->kind], entry->name, key, topics[i]);
            rc = SL_ERR_CONFIG;
        }
    return rc;
}

/* Read a stage entry into its plugin's config struct (allocated). */
static int stage_conf(const sl_config *cfg, const sl_stage_config *entry, const sl_plugin **pl,
                      void **conf, sl_buf *errors)
{
    *pl = sl_plugin_find(entry->kind, entry->type);
    if (!*pl) {
        sl_buf_printf(errors, "%s:%d: unknown %s type '%s' (available:", cfg->path, entry->line,
                      kind_names[entry->kind], entry->type);
        for (const sl_plugin *const *p = sl_plugins(); *p; p++)
            if ((*p)->kind == entry->kind)
                sl_buf_printf(errors, " %s", (*p)->type);
        sl_buf_append_str(errors, ")\n");
        return SL_ERR_CONFIG;
    }
    *conf = sl_calloc(1, (*pl)->conf_size ? (*pl)->conf_size : 1);
    int rc = sl_conf_apply((*pl)->keys, *conf, entry, cfg->path, errors);
    if (rc == 0 && (*pl)->check)
        rc = (*pl)->check(*conf, entry, cfg, errors);
    if (rc != 0) {
        sl_conf_release((*pl)->keys, *conf);
        free(*conf);
        *conf = NULL;
    }
    return rc;
}

int sl_pipeline_check(const sl_config *cfg, sl_buf *errors)
{
    int rc = 0;
    for (size_t i = 0; i < cfg->nstages; i++) {
        const sl_plugin *pl;
        void *conf;
        if (stage_conf(cfg, &cfg->stages[i], &pl, &conf, errors) != 0) {
            rc = SL_ERR_CONFIG;
            continue;
        }
        sl_conf_release(pl->keys, conf);
        free(conf);
    }
    return rc;
}

int sl_pipeline_load_config(const char *path, sl_config **out, sl_buf *errors)
{
    sl_config *cfg = NULL;
    int rc = sl_config_load(path, &cfg, errors);
    if (rc == 0 && (rc = sl_pipeline_check(cfg, errors)) < 0)
        sl_config_free(cfg);
    if (rc == 0)
        *out = cfg;
    return rc;
}

static void stage_free(sl_stage *st)
{
    if (st->conf) {
        sl_conf_release(st->plugin->keys, st->conf);
        free(st->conf);
    }
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->wake);
    free(st);
}

int sl_pipeline_start(const sl_config *cfg, sl_log *log, const char *only, sl_pipeline **out)
{
    sl_pipeline *p = sl_calloc(1, sizeof *p);
    sl_buf errors = SL_BUF_INIT;
    sl_metric_family *f_up = sl_metrics_family(
        "sluice_stage_up", "1 while a stage runs, 0 while it fails or waits to restart.",
        SL_GAUGE, "stage,kind");
    sl_metric_family *f_restarts = sl_metrics_family(
        "sluice_stage_restarts_total", "Times a stage failed and was started again.", SL_COUNTER,
        "stage,kind");
    for (size_t i = 0; i < cfg->nstages; i++) {
        const sl_stage_config *entry = &cfg->stages[i];
        if (!listed(only, entry->name) && !listed(only, entry->type))
            continue;
        sl_stage *st = sl_calloc(1, sizeof *st);
        pthread_mutex_init(&st->lock, NULL);
        pthread_cond_init(&st->wake, NULL);
        if (stage_conf(cfg, entry, &st->plugin, &st->conf, &errors) != 0) {
            SL_ERROR("run", "%s", errors.data ? errors.data : "invalid stage");
            stage_free(st);
            sl_buf_free(&errors);
            sl_pipeline_stop(p);
            return SL_ERR_CONFIG;
        }
        snprintf(st->tag, sizeof st->tag, "%s:%s", kind_names[entry->kind], entry->name);
        st->env = (sl_stage_env){ .name = entry->name, .tag = st->tag, .log = log, .cfg = cfg,
                                  .config_file = cfg->path, .stage = st };
        st->m_up = sl_metric_get2(f_up, entry->name, kind_names[entry->kind]);
        st->m_restarts = sl_metric_get2(f_restarts, entry->name, kind_names[entry->kind]);
        p->stages = sl_realloc(p->stages, (p->n + 1) * sizeof *p->stages);
        p->stages[p->n++] = st;
        if (pthread_create(&st->thread, NULL, supervise, st) != 0) {
            SL_ERROR(st->tag, "cannot start a thread");
            sl_buf_free(&errors);
            sl_pipeline_stop(p);
            return SL_ERR;
        }
        st->started = true;
        SL_INFO(st->tag, "started (%s)", st->plugin->description);
    }
    sl_buf_free(&errors);
    *out = p;
    return 0;
}

void sl_pipeline_stop(sl_pipeline *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        sl_stage *st = p->stages[i];
        pthread_mutex_lock(&st->lock);
        atomic_store(&st->stopping, true);
        pthread_cond_broadcast(&st->wake);
        if (st->state && st->plugin->stop)
            st->plugin->stop(st->state);
        pthread_mutex_unlock(&st->lock);
    }
    for (size_t i = 0; i < p->n; i++) {
        sl_stage *st = p->stages[i];
        if (st->started)
            pthread_join(st->thread, NULL);
        stage_free(st);
    }
    free(p->stages);
    free(p);
}
