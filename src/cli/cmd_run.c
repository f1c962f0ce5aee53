/*
 * cmd_run.c - `sluice run`: open the log, start the stages, wait for
 * signals.
 *
 * Signals are blocked in every thread and taken synchronously here with
 * sigwait, so no stage ever runs inside a signal handler:
 *   SIGTERM, SIGINT  stop accepting, finish in-flight requests, sync, exit 0
 *   SIGHUP           reload the config file; what cannot change live is
 *                    reported and keeps its old value
 */
#include "admin/admin.h"
#include "admin/dashboard.h"
#include "catalogue/api.h"
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/config.h"
#include "core/logging.h"
#include "input/http/collector.h"
#include "log/log.h"
#include "pipeline/stage.h"

#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "run"


static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: sluice run [-c FILE] [--data DIR] [--only STAGE,...]\n\n"
            "Runs the pipeline. Without -c it runs the embedded default: data in\n"
            "./sluice-data, seed 004's topics, the collector on 127.0.0.1:8081 and the\n"
            "admin listener on 127.0.0.1:8080 (`sluice check --default` prints it).\n\n"
            "  -c, --config FILE   configuration file (YAML)\n"
            "      --data DIR      override data_dir\n"
            "      --only LIST     run only these stages: collector, admin, and the names\n"
            "                      (or types) of inputs, processors and outputs\n"
            "      --log-level L   debug, info, warn, error\n\n"
            "Signals: SIGTERM/SIGINT stop cleanly (exit 0); SIGHUP reloads the file.\n");
}

static bool stage_enabled(const char *only, const char *stage)
{
    if (!only)
        return true;
    size_t n = strlen(stage);
    for (const char *p = only; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && !strncmp(p, stage, n))
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

static int check_only(const char *only, const sl_config *cfg)
{
    for (const char *p = only; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        bool ok = (len == 9 && !strncmp(p, "collector", 9)) || (len == 5 && !strncmp(p, "admin", 5));
        for (size_t i = 0; i < cfg->nstages && !ok; i++)
            ok = (strlen(cfg->stages[i].name) == len && !strncmp(p, cfg->stages[i].name, len)) ||
                 (strlen(cfg->stages[i].type) == len && !strncmp(p, cfg->stages[i].type, len));
        if (!ok) {
            fprintf(stderr, "sluice run: unknown stage '%.*s' in --only (collector, admin, or "
                            "a stage of the configuration)\n", (int)len, p);
            return -1;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* Keep a setting that cannot change live; report it. */
static void keep_string(char **fresh, char *const *old, const char *name, int *kept)
{
    if (strcmp(*fresh ? *fresh : "", *old ? *old : "") == 0)
        return;
    SL_WARN(TAG, "reload: %s cannot change while running (keeping %s; restart to apply %s)",
            name, *old ? *old : "", *fresh ? *fresh : "");
    free(*fresh);
    *fresh = sl_strdup(*old);
    (*kept)++;
}

static void keep_int(int64_t *fresh, const int64_t *old, const char *name, int *kept)
{
    if (*fresh == *old)
        return;
    SL_WARN(TAG, "reload: %s cannot change while running (keeping %lld; restart to apply)",
            name, (long long)*old);
    *fresh = *old;
    (*kept)++;
}

/* Topics must match exactly: the open log knows only the ones it was given. */
static bool topics_compatible(const sl_config *old, const sl_config *fresh)
{
    bool ok = old->ntopics == fresh->ntopics;
    for (size_t i = 0; i < fresh->ntopics; i++) {
        const sl_topic_config *o = sl_config_topic(old, fresh->topics[i].spec.name);
        if (!o) {
            SL_WARN(TAG, "reload: new topic %s needs a restart", fresh->topics[i].spec.name);
            ok = false;
        } else if (o->spec.partitions != fresh->topics[i].spec.partitions) {
            SL_WARN(TAG, "reload: topic %s: partitions cannot change while running (%d -> %d)",
                    o->spec.name, o->spec.partitions, fresh->topics[i].spec.partitions);
            ok = false;
        }
    }
    if (old->ntopics > fresh->ntopics)
        SL_WARN(TAG, "reload: removing topics needs a restart");
    return ok;
}

static bool stages_equal(const sl_config *a, const sl_config *b)
{
    if (a->nstages != b->nstages)
        return false;
    for (size_t i = 0; i < a->nstages; i++) {
        const sl_stage_config *x = &a->stages[i], *y = &b->stages[i];
        if (x->kind != y->kind || strcmp(x->type, y->type) || strcmp(x->name, y->name) ||
            x->npairs != y->npairs)
            return false;
        for (size_t j = 0; j < x->npairs; j++) {
            const sl_conf_pair *p = &x->pairs[j], *q = &y->pairs[j];
            if (strcmp(p->key, q->key) || p->kind != q->kind || p->nitems != q->nitems ||
                strcmp(p->scalar ? p->scalar : "", q->scalar ? q->scalar : ""))
                return false;
            for (size_t k = 0; k < p->nitems; k++)
                if (strcmp(p->items[k], q->items[k]))
                    return false;
        }
    }
    return true;
}

/* Load the file again; returns the new config or NULL (old one stays). */
static sl_config *reload(const char *path, const sl_config *old)
{
    sl_buf errors = SL_BUF_INIT;
    sl_config *fresh = NULL;
    int rc = sl_pipeline_load_config(path, &fresh, &errors);
    if (rc < 0) {
        SL_ERROR(TAG, "reload failed, keeping the running configuration:\n%s",
                 errors.data ? errors.data : "");
        sl_buf_free(&errors);
        return NULL;
    }
    sl_buf_free(&errors);
    if (!topics_compatible(old, fresh)) {
        SL_ERROR(TAG, "reload refused: topic changes need a restart");
        sl_config_free(fresh);
        return NULL;
    }
    int kept = 0;
    if (!stages_equal(old, fresh)) {
        SL_WARN(TAG, "reload: inputs, processors and outputs cannot change while running "
                     "(the running ones go on; restart to apply)");
        kept++;
    }
    keep_string(&fresh->data_dir, &old->data_dir, "data_dir", &kept);
    keep_string(&fresh->log_backend, &old->log_backend, "log.backend", &kept);
    keep_string(&fresh->log_fsync, &old->log_fsync, "log.fsync", &kept);
    keep_string(&fresh->collector.listen, &old->collector.listen, "collector.listen", &kept);
    keep_string(&fresh->admin.listen, &old->admin.listen, "admin.listen", &kept);
    keep_int(&fresh->log_group_commit_us, &old->log_group_commit_us, "log.group_commit", &kept);
    keep_int(&fresh->log_max_pending_bytes, &old->log_max_pending_bytes, "log.max_pending", &kept);
    SL_INFO(TAG, "reloaded %s (%d setting%s need a restart)", path, kept, kept == 1 ? "" : "s");
    return fresh;
}

int sl_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "data", required_argument, NULL, 'd' },
        { "only", required_argument, NULL, 'o' },   { "log-level", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },         { 0 },
    };
    const char *path = NULL, *data = NULL, *only = NULL, *level = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'd': data = optarg; break;
        case 'o': only = optarg; break;
        case 'l': level = optarg; break;
        case 'h': run_usage(stdout); return 0;
        default: run_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sluice run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    sl_buf errors = SL_BUF_INIT;
    sl_config *cfg = NULL;
    if (sl_pipeline_load_config(path, &cfg, &errors) < 0) {
        fputs(errors.data ? errors.data : "invalid configuration\n", stderr);
        sl_buf_free(&errors);
        return 1;
    }
    sl_buf_free(&errors);
    if (only && check_only(only, cfg) < 0) {
        sl_config_free(cfg);
        return 2;
    }
    if (data) {
        free(cfg->data_dir);
        cfg->data_dir = sl_strdup(data);
    }
    sl_log_level lvl;
    if (sl_log_parse_level(level ? level : cfg->log_level, &lvl) == 0)
        sl_log_set_level(lvl);

    /* Block the signals before any thread starts, so every thread inherits it. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int status = 1;
    sl_log *log = NULL;
    sl_collector *collector = NULL;
    sl_admin *admin = NULL;
    sl_catalogue_api *catalogue = NULL;
    sl_pipeline *pipeline = NULL;
    sl_config **retired = NULL;
    size_t nretired = 0;
    _Atomic(const sl_config *) live = cfg;

    sl_log_options lo;
    sl_topic_spec *specs = NULL;
    sl_config_log_options(cfg, &lo, &specs);
    int rc = sl_log_open(&lo, &log);
    if (rc < 0) {
        SL_ERROR(TAG, "cannot open the log in %s: %s", cfg->data_dir, sl_strerror(rc));
        goto out;
    }
    /* The catalogue (scenarios, members, stats) for the admin API. */
    if (stage_enabled(only, "admin") && sl_catalogue_api_open(cfg, &catalogue) < 0)
        goto out;
    if (stage_enabled(only, "collector") &&
        sl_collector_start((const sl_config *const *)&live, log, &collector) < 0)
        goto out;
    if (stage_enabled(only, "admin") &&
        sl_admin_start((const sl_config *const *)&live, log, &admin) < 0)
        goto out;
    if (admin && sl_dashboard_register(admin, (const sl_config *const *)&live) < 0)
        goto out; /* the dashboard, /login and /api/lake on the admin listener */
    if (admin && sl_catalogue_api_register(catalogue, admin) < 0)
        goto out;
    if (sl_pipeline_start(cfg, log, only, &pipeline) < 0)
        goto out;
    SL_INFO(TAG, "sluice %s running (config %s, data in %s); SIGTERM stops, SIGHUP reloads",
            SLUICE_VERSION, cfg->path, cfg->data_dir);

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            if (!path) {
                SL_WARN(TAG, "SIGHUP: running the embedded default, nothing to reload");
                continue;
            }
            sl_config *fresh = reload(path, atomic_load(&live));
            if (fresh) {
                if (data) {
                    free(fresh->data_dir);
                    fresh->data_dir = sl_strdup(data);
                }
                /* In-flight requests may still use the old config: retire it. */
                retired = sl_realloc(retired, (nretired + 1) * sizeof *retired);
                retired[nretired++] = (sl_config *)atomic_exchange(&live, fresh);
            }
            continue;
        }
        SL_INFO(TAG, "%s: stopping (finishing in-flight requests, syncing the log)",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    sl_collector_quiesce(collector);
    status = 0;

out:
    /* Inputs first (nothing new comes in), then the stages flush and
       commit, then the admin listener, then the log. */
    sl_collector_stop(collector);
    sl_pipeline_stop(pipeline);
    sl_admin_stop(admin);
    sl_catalogue_api_stop(catalogue);
    sl_log_close(log);
    free(specs);
    sl_config_free((sl_config *)atomic_load(&live));
    for (size_t i = 0; i < nretired; i++)
        sl_config_free(retired[i]);
    free(retired);
    if (status == 0)
        SL_INFO(TAG, "stopped");
    return status;
}
