/*
 * stdout.c - the `stdout` output: print the records of topics on standard
 * output, one per line (Vector's console sink, Fluent Bit's stdout). For
 * debugging a pipeline and for piping sluice into other tools.
 *
 *   outputs:
 *     - { type: stdout, from: [logs.raw], format: meta }
 *
 * Offsets are committed after each flush of stdout, so a restart goes on
 * where the last flushed line ended.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/timestamp.h"
#include "pipeline/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct stdout_conf {
    char **from;
    char *group;
    char *format;
    int64_t flush_interval_ms;
} stdout_conf;

static const sl_conf_key stdout_keys[] = {
    { "from", SL_KEY_LIST, NULL, SL_CONF_FIELD(stdout_conf, from), 0, NULL,
      "Topics to print." },
    { "group", SL_KEY_STRING, "", SL_CONF_FIELD(stdout_conf, group), 0, NULL,
      "Consumer group; default sluice.<name>." },
    { "format", SL_KEY_ENUM, "value", SL_CONF_FIELD(stdout_conf, format), 0, "value|meta",
      "`value`: each record's value; `meta`: a JSON object with topic, partition, offset, "
      "timestamp, key and value." },
    { "flush_interval", SL_KEY_DURATION, "1s", SL_CONF_FIELD(stdout_conf, flush_interval_ms),
      1000, NULL, "How often output is flushed and offsets committed." },
    { 0 },
};

/* Offsets written but not yet committed, per topic-partition. */
typedef struct pending {
    char *topic;
    int32_t partition;
    int64_t next;
} pending;

typedef struct stdout_state {
    const sl_stage_env *env;
    const stdout_conf *conf;
    bool meta;
    sl_buf line;
    pending *pend;
    size_t npend;
} stdout_state;

static int stdout_check(const void *conf, const sl_stage_config *entry, const sl_config *cfg,
                        sl_buf *errors)
{
    const stdout_conf *c = conf;
    return sl_stage_check_topics(c->from, "from", entry, cfg, errors);
}

static int stdout_init(const sl_stage_env *env, const void *conf, void **state)
{
    stdout_state *s = sl_calloc(1, sizeof *s);
    s->env = env;
    s->conf = conf;
    s->meta = strcmp(s->conf->format, "meta") == 0;
    *state = s;
    return 0;
}

static void note_offset(stdout_state *s, const char *topic, int32_t partition, int64_t next)
{
    for (size_t i = 0; i < s->npend; i++)
        if (s->pend[i].partition == partition && !strcmp(s->pend[i].topic, topic)) {
            s->pend[i].next = next;
            return;
        }
    s->pend = sl_realloc(s->pend, (s->npend + 1) * sizeof *s->pend);
    s->pend[s->npend++] = (pending){ sl_strdup(topic), partition, next };
}

static int stdout_write(void *state, sl_sink *sink, const sl_fetch *f)
{
    (void)sink;
    stdout_state *s = state;
    for (size_t i = 0; i < f->n; i++) {
        const sl_message *m = &f->msgs[i];
        sl_buf_reset(&s->line);
        if (s->meta) {
            char ts[40];
            sl_timestamp_format_iso(m->ts_us, ts, sizeof ts);
            sl_buf_append_str(&s->line, "{\"topic\":");
            sl_buf_append_json_string(&s->line, f->topic, strlen(f->topic));
            sl_buf_printf(&s->line, ",\"partition\":%d,\"offset\":%lld,\"timestamp\":\"%s\",\"key\":",
                          m->partition, (long long)m->offset, ts);
            if (m->key.ptr)
                sl_buf_append_json_string(&s->line, m->key.ptr, m->key.len);
            else
                sl_buf_append_str(&s->line, "null");
            sl_buf_append_str(&s->line, ",\"value\":");
            sl_buf_append(&s->line, m->value.ptr, m->value.len);
            sl_buf_append_char(&s->line, '}');
        } else {
            sl_buf_append(&s->line, m->value.ptr, m->value.len);
        }
        sl_buf_append_char(&s->line, '\n');
        if (fwrite(s->line.data, 1, s->line.len, stdout) != s->line.len)
            return SL_ERR;
    }
    if (f->n)
        note_offset(s, f->topic, f->partition, f->msgs[f->n - 1].offset + 1);
    return 0;
}

static sl_flush_result stdout_flush(void *state, sl_sink *sink, bool revoking)
{
    (void)revoking;
    stdout_state *s = state;
    if (fflush(stdout) != 0)
        return SL_FLUSH_RETRY;
    for (size_t i = 0; i < s->npend; i++) {
        if (sl_sink_commit(sink, s->pend[i].topic, s->pend[i].partition, s->pend[i].next) < 0)
            return SL_FLUSH_RETRY;
        free(s->pend[i].topic);
    }
    s->npend = 0;
    return SL_FLUSH_OK;
}

static int stdout_run(void *state)
{
    stdout_state *s = state;
    static const sl_sink_ops ops = { .write = stdout_write, .flush = stdout_flush };
    sl_sink_options o = { .group = s->conf->group, .topics = (const char *const *)s->conf->from,
                          .flush_interval_ms = s->conf->flush_interval_ms };
    return sl_sink_run(s->env, &o, &ops, s);
}

static void stdout_destroy(void *state)
{
    stdout_state *s = state;
    for (size_t i = 0; i < s->npend; i++)
        free(s->pend[i].topic);
    free(s->pend);
    sl_buf_free(&s->line);
    free(s);
}

const sl_plugin sl_output_stdout = {
    .type = "stdout",
    .kind = SL_STAGE_OUTPUT,
    .description = "print records on standard output",
    .keys = stdout_keys,
    .conf_size = sizeof(stdout_conf),
    .check = stdout_check,
    .init = stdout_init,
    .run = stdout_run,
    .destroy = stdout_destroy,
};
