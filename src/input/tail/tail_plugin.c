/*
 * tail_plugin.c - the `tail` input: follow NGINX access logs (Fluentd's
 * in_tail with its pos_file), one event per line, exactly once.
 *
 *   inputs:
 *     - type: tail
 *       path: /var/log/nginx/access.log        # a glob, or a list of globs
 *       format: combined                       # combined | main | a log_format spec
 *       topic: web.raw
 *
 * A line whose request is `GET /{scenario_id}?...` becomes the tracking
 * pixel's event (src/input/pixel/pixel.h) with ip, user_agent and referer
 * from $remote_addr, $http_user_agent and $http_referer and ts from
 * $time_local; any other line becomes its NGINX fields as JSON. The
 * machinery is in tail_input.c; this file is the configuration and the
 * stage's loop.
 */
#include "core/alloc.h"
#include "core/logging.h"
#include "input/tail/tail.h"
#include "pipeline/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tail_conf {
    char **path;
    char *format;
    char *topic;
    char *pos_file;
    int64_t max_line_size;
    bool read_from_head;
    int64_t refresh_interval_us;
    int64_t rotate_wait_us;
    int64_t poll_interval_ms;
    int64_t batch;
    int64_t batch_bytes;
    int64_t workers;
} tail_conf;

static const sl_conf_key tail_keys[] = {
    { "path", SL_KEY_LIST, NULL, SL_CONF_FIELD(tail_conf, path), 0, NULL,
      "Files to follow: a glob or a list of globs (`/var/log/nginx/access.log`). Name the live "
      "files, not their rotated names: a renamed file is still read to its end by inode." },
    { "format", SL_KEY_STRING, "combined", SL_CONF_FIELD(tail_conf, format), 0, NULL,
      "`combined`, `main` (combined + \"$http_x_forwarded_for\"), or a format in NGINX's own "
      "`log_format` syntax." },
    { "topic", SL_KEY_STRING, "web.raw", SL_CONF_FIELD(tail_conf, topic), 0, NULL,
      "Topic of the events (rejected lines go to `_dlq`)." },
    { "pos_file", SL_KEY_STRING, "", SL_CONF_FIELD(tail_conf, pos_file), 0, NULL,
      "Position file (inode and offset per file); default `<data_dir>/tail/<name>.pos`." },
    { "max_line_size", SL_KEY_SIZE, "64KiB", SL_CONF_FIELD(tail_conf, max_line_size), 0, NULL,
      "Longer lines go to `_dlq` (reason `line_too_long`, first 1 KiB kept) and the file goes "
      "on after them." },
    { "read_from_head", SL_KEY_BOOL, "true", SL_CONF_FIELD(tail_conf, read_from_head), 0, NULL,
      "At the very first start (no position file yet), read existing files from their start "
      "(true) or only what is written from now on (false). Files appearing later are always read "
      "whole." },
    { "refresh_interval", SL_KEY_DURATION, "1s", SL_CONF_FIELD(tail_conf, refresh_interval_us),
      1, NULL, "How often the globs are expanded again to find new and rotated files." },
    { "rotate_wait", SL_KEY_DURATION, "5s", SL_CONF_FIELD(tail_conf, rotate_wait_us), 1, NULL,
      "How long a rotated file is still read after it stops growing (NGINX writes to it until "
      "it reopens its logs)." },
    { "poll_interval", SL_KEY_DURATION, "100ms", SL_CONF_FIELD(tail_conf, poll_interval_ms),
      1000, NULL, "How long the input sleeps when every file is at its end." },
    { "batch", SL_KEY_INT, "4096", SL_CONF_FIELD(tail_conf, batch), 0, NULL,
      "Lines per append (a batch also ends at `batch_bytes`)." },
    { "batch_bytes", SL_KEY_SIZE, "1MiB", SL_CONF_FIELD(tail_conf, batch_bytes), 0, NULL,
      "Bytes of lines per append at most (plus the line that crosses it)." },
    { "workers", SL_KEY_INT, "2", SL_CONF_FIELD(tail_conf, workers), 0, NULL,
      "Threads turning lines into events (0 = the tail thread itself). Appends keep the order "
      "of the lines whatever the number." },
    { 0 },
};

typedef struct tail_state {
    const sl_stage_env *env;
    tail_input *input;
    int idle_ms;
} tail_state;

static int tail_check(const void *conf, const sl_stage_config *entry, const sl_config *cfg,
                      sl_buf *errors)
{
    const tail_conf *c = conf;
    int rc = 0;
    if (!c->path || !c->path[0] || !c->path[0][0]) {
        sl_buf_printf(errors, "%s:%d: input '%s' needs path: the files to follow (a glob or a "
                              "list)\n", cfg->path, entry->line, entry->name);
        rc = SL_ERR_CONFIG;
    }
    char *topics[] = { c->topic, NULL };
    if (sl_stage_check_topics(topics, "topic", entry, cfg, errors) < 0)
        rc = SL_ERR_CONFIG;
    sl_nginx_format *f = NULL;
    sl_nginx_error nerr = { 0 };
    if (sl_nginx_format_new(c->format, &f, &nerr) < 0) {
        sl_buf_printf(errors, "%s:%d: input '%s': format: %s\n", cfg->path, entry->line,
                      entry->name, nerr.message);
        rc = SL_ERR_CONFIG;
    }
    sl_nginx_format_free(f);
    if (c->max_line_size < 64 || c->max_line_size > (64 << 20)) {
        sl_buf_printf(errors, "%s:%d: input '%s': max_line_size must be 64B..64MiB\n", cfg->path,
                      entry->line, entry->name);
        rc = SL_ERR_CONFIG;
    }
    if (c->workers < 0 || c->workers > 16) {
        sl_buf_printf(errors, "%s:%d: input '%s': workers must be 0..16\n", cfg->path,
                      entry->line, entry->name);
        rc = SL_ERR_CONFIG;
    }
    if (c->batch < 1 || c->batch > 1000000 || c->batch_bytes < 1 || c->batch_bytes > (256 << 20)) {
        sl_buf_printf(errors, "%s:%d: input '%s': batch must be 1..1000000 lines and batch_bytes "
                              "at most 256MiB\n", cfg->path, entry->line, entry->name);
        rc = SL_ERR_CONFIG;
    }
    return rc;
}

static int tail_init(const sl_stage_env *env, const void *conf, void **state)
{
    const tail_conf *c = conf;
    tail_options o;
    tail_options_defaults(&o);
    o.name = env->name;
    o.paths = c->path;
    o.format = c->format;
    o.topic = c->topic;
    char *pos = c->pos_file && *c->pos_file
                    ? sl_strdup(c->pos_file)
                    : sl_asprintf("%s/tail/%s.pos", env->cfg->data_dir, env->name);
    o.pos_file = pos;
    o.max_line_size = c->max_line_size;
    o.read_from_head = c->read_from_head;
    o.refresh_us = c->refresh_interval_us;
    o.rotate_wait_us = c->rotate_wait_us;
    o.batch_lines = (uint32_t)c->batch;
    o.batch_bytes = c->batch_bytes;
    o.workers = (int)c->workers;
    tail_state *s = sl_calloc(1, sizeof *s);
    s->env = env;
    s->idle_ms = (int)SL_MAX(c->poll_interval_ms, 1);
    char err[512] = "";
    int rc = tail_input_open(&o, env->log, &s->input, err, sizeof err);
    free(pos);
    if (rc < 0) {
        SL_ERROR(env->tag, "%s", err);
        free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int tail_run(void *state)
{
    tail_state *s = state;
    while (!sl_stage_stopping(s->env->stage)) {
        bool progress = false;
        int rc = tail_input_poll(s->input, &progress);
        if (rc < 0) {
            sl_stage_set_health(s->env->stage, SL_STAGE_FAILING, sl_strerror(rc));
            return rc;
        }
        if (!progress)
            tail_input_wait(s->input, s->idle_ms);
    }
    return 0;
}

static void tail_stop(void *state)
{
    tail_state *s = state;
    tail_input_request_stop(s->input);
}

static void tail_destroy(void *state)
{
    tail_state *s = state;
    tail_input_close(s->input);
    free(s);
}

const sl_plugin sl_input_tail = {
    .type = "tail",
    .kind = SL_STAGE_INPUT,
    .description = "follow NGINX access logs (globs, rotation, position file), one event per "
                   "line, exactly once",
    .keys = tail_keys,
    .conf_size = sizeof(tail_conf),
    .check = tail_check,
    .init = tail_init,
    .run = tail_run,
    .stop = tail_stop,
    .destroy = tail_destroy,
};
