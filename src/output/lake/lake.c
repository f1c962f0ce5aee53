/*
 * lake.c - the `lake` output: topics into a Parquet data lake partitioned
 * by event-time hour, exactly once, readable by DuckDB, Spark and Hive.
 *
 *   outputs:
 *     - { type: lake, from: [logs.raw, events.activity], compression: zstd }
 *
 * The lake it writes (path: default <data_dir>/lake):
 *
 *   <path>/
 *   +-- .sluice-lake.lock                          compaction's commit lock
 *   +-- logs.raw/                                  one directory per topic
 *   |   +-- year=2026/                             event time, in `timezone`,
 *   |       +-- month=1/                           numbers unpadded
 *   |           +-- day=11/
 *   |               +-- hour=9/
 *   |               |   +-- logs.raw+0+0000000000+0000004999.parquet
 *   |               |   +-- logs.raw+0+0000005000+0000006210.parquet
 *   |               |   +-- logs.raw+1+0000000000+0000003999.parquet
 *   |               |   +-- .logs.raw+2+0000000000+0000001234.parquet.tmp
 *   |               +-- hour=10/ ...
 *   +-- events.activity/ ...
 *
 *   <topic>+<partition>+<first offset>+<last offset>.parquet
 *            |            |              '-- inclusive, zero-padded to 10 digits
 *            |            '-- the file holds the rows of exactly these offsets
 *            '-- of this hour (other offsets of the range: other hours, or
 *                records rejected to _dlq)
 *
 * A file is written under a dot-prefixed temporary name, synced, renamed
 * (never over an existing file) and its directory synced; only then are
 * the offsets committed. At assignment the output resumes each partition
 * at 1 + the highest end offset in the lake (or the group's committed
 * offset when that is further), so a crash anywhere neither loses nor
 * repeats a record. Rolling, schema and recovery are in
 * src/lake/lake_writer.c; names and directories in src/lake/lake.c.
 *
 * Values from events never become path components: paths are built from
 * `path`, topic names from the configuration and numbers.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/logging.h"
#include "input/http/ingest.h"
#include "lake/lake.h"
#include "lake/lake_writer.h"
#include "pipeline/stage.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lake_conf {
    char **from;
    char *group;
    char *path;
    char *compression;
    int64_t compression_level;
    char *timezone;
    int64_t max_rows;
    int64_t max_bytes;
    int64_t flush_interval_ms;
    char **schema;
    int64_t row_group_rows;
    bool optional;
} lake_conf;

static const sl_conf_key lake_keys[] = {
    { "from", SL_KEY_LIST, NULL, SL_CONF_FIELD(lake_conf, from), 0, NULL,
      "Topics to write into the lake." },
    { "group", SL_KEY_STRING, "", SL_CONF_FIELD(lake_conf, group), 0, NULL,
      "Consumer group; default `sluice.<name>`." },
    { "path", SL_KEY_STRING, "", SL_CONF_FIELD(lake_conf, path), 0, NULL,
      "The lake directory; empty = `<data_dir>/lake`. Files go to "
      "`<path>/<topic>/year=Y/month=M/day=D/hour=H/<topic>+<partition>+<start>+<end>.parquet`." },
    { "compression", SL_KEY_ENUM, "zstd", SL_CONF_FIELD(lake_conf, compression), 0,
      "zstd|snappy|gzip|none", "Parquet page compression." },
    { "compression_level", SL_KEY_INT, "0", SL_CONF_FIELD(lake_conf, compression_level), 0, NULL,
      "Codec level; 0 = the codec's default (zstd 1, gzip 6)." },
    { "timezone", SL_KEY_STRING, "UTC", SL_CONF_FIELD(lake_conf, timezone), 0, NULL,
      "Zone of the hour directories: UTC or a fixed offset such as +09:00 (no daylight "
      "saving: each directory must be one hour)." },
    { "max_rows", SL_KEY_INT, "1000000", SL_CONF_FIELD(lake_conf, max_rows), 0, NULL,
      "Roll a file at this many rows." },
    { "max_bytes", SL_KEY_SIZE, "128MiB", SL_CONF_FIELD(lake_conf, max_bytes), 0, NULL,
      "Roll a file when its data in memory (encoded row groups plus the raw values being "
      "buffered) reach this size; files come out smaller." },
    { "flush_interval", SL_KEY_DURATION, "5s", SL_CONF_FIELD(lake_conf, flush_interval_ms), 1000,
      NULL, "Close a partition's file after this long without a new record (idle flush)." },
    { "schema", SL_KEY_MAP, NULL, SL_CONF_FIELD(lake_conf, schema), 0, NULL,
      "Declared columns: dotted field name to boolean, int32, int64, double, string or "
      "timestamp; every file starts with them, other fields are inferred." },
    { "row_group_rows", SL_KEY_INT, "131072", SL_CONF_FIELD(lake_conf, row_group_rows), 0, NULL,
      "Rows per Parquet row group." },
    { "optional", SL_KEY_BOOL, "false", SL_CONF_FIELD(lake_conf, optional), 0, NULL,
      "Leave out `from` topics that are not declared instead of refusing the configuration "
      "(the embedded default sets it, so files declaring other topics still load)." },
    { 0 },
};

typedef struct lake_state {
    const sl_stage_env *env;
    const lake_conf *conf;
    char **topics;            /* the declared ones of `from` (NULL-terminated; borrowed names) */
    char *root;
    char *group;
    sl_lake_writer *writer;
    sl_sink *sink;            /* of the callback running now */
    int fatal;                /* a resume that cannot be made right */
    int64_t retry_at_us;      /* after a failed file: no reading before this */
    int64_t backoff_us;
    uint64_t files_at_failure; /* files written when the last one failed */
    sl_buf dlq;
} lake_state;

/* The line of key in the entry, for messages (the entry's line without it). */
static int key_line(const sl_stage_config *entry, const char *key)
{
    for (size_t i = 0; i < entry->npairs; i++)
        if (!strcmp(entry->pairs[i].key, key))
            return entry->pairs[i].line;
    return entry->line;
}

static int declared_schema(char **map, sl_parquet_schema *out, sl_buf *bad)
{
    int rc = 0;
    for (size_t i = 0; map && map[i] && map[i + 1]; i += 2) {
        sl_parquet_type t;
        if (sl_parquet_type_parse(sl_view_of(map[i + 1]), &t) < 0 || !*map[i] ||
            !strcmp(map[i], "ts")) {
            if (bad && !bad->len)
                sl_buf_printf(bad, "%s: %s", map[i], map[i + 1]);
            rc = SL_ERR_CONFIG;
            continue;
        }
        if (sl_parquet_schema_find(out, map[i], strlen(map[i])) < 0)
            sl_parquet_schema_add(out, map[i], strlen(map[i]), t);
    }
    return rc;
}

static int lake_check(const void *conf, const sl_stage_config *entry, const sl_config *cfg,
                      sl_buf *errors)
{
    const lake_conf *c = conf;
    const char *file = cfg->path;
    int rc = 0;
    if (!c->optional)
        rc = sl_stage_check_topics(c->from, "from", entry, cfg, errors);
    else if (!c->from || !c->from[0]) {
        sl_buf_printf(errors, "%s:%d: output '%s' needs from: the topics it reads\n", file,
                      entry->line, entry->name);
        rc = SL_ERR_CONFIG;
    }
    for (size_t i = 0; c->from && c->from[i]; i++)
        if (!sl_lake_topic_ok(c->from[i])) {
            sl_buf_printf(errors, "%s:%d: output '%s': topic '%s' cannot name a lake directory "
                          "(a leading '.' hides it from readers)\n", file,
                          key_line(entry, "from"), entry->name, c->from[i]);
            rc = SL_ERR_CONFIG;
        }
    sl_parquet_codec codec;
    if (sl_parquet_codec_parse(c->compression, &codec) < 0 || !sl_parquet_codec_available(codec)) {
        sl_buf_printf(errors, "%s:%d: output '%s': compression %s is not built into this sluice\n",
                      file, key_line(entry, "compression"), entry->name, c->compression);
        rc = SL_ERR_CONFIG;
    } else if ((codec == SL_PARQUET_ZSTD && (c->compression_level < -7 || c->compression_level > 22)) ||
               (codec == SL_PARQUET_GZIP && (c->compression_level < -1 || c->compression_level > 9))) {
        sl_buf_printf(errors, "%s:%d: output '%s': compression_level %" PRId64 " is out of range "
                      "for %s\n", file, key_line(entry, "compression_level"), entry->name,
                      c->compression_level, c->compression);
        rc = SL_ERR_CONFIG;
    }
    int32_t tz;
    if (sl_lake_timezone_parse(c->timezone, &tz) < 0) {
        sl_buf_printf(errors, "%s:%d: output '%s': timezone must be UTC or a fixed offset such as "
                      "+09:00 or -05:30 (near '%.40s')\n", file, key_line(entry, "timezone"),
                      entry->name, c->timezone);
        rc = SL_ERR_CONFIG;
    }
    if (c->max_rows < 1) {
        sl_buf_printf(errors, "%s:%d: output '%s': max_rows must be at least 1\n", file,
                      key_line(entry, "max_rows"), entry->name);
        rc = SL_ERR_CONFIG;
    }
    if (c->max_bytes < (1 << 20)) {
        sl_buf_printf(errors, "%s:%d: output '%s': max_bytes must be at least 1MiB\n", file,
                      key_line(entry, "max_bytes"), entry->name);
        rc = SL_ERR_CONFIG;
    }
    if (c->row_group_rows < 1 || c->row_group_rows > INT32_MAX) {
        sl_buf_printf(errors, "%s:%d: output '%s': row_group_rows must be between 1 and %d\n",
                      file, key_line(entry, "row_group_rows"), entry->name, INT32_MAX);
        rc = SL_ERR_CONFIG;
    }
    if (c->flush_interval_ms < 1) {
        sl_buf_printf(errors, "%s:%d: output '%s': flush_interval must be positive\n", file,
                      key_line(entry, "flush_interval"), entry->name);
        rc = SL_ERR_CONFIG;
    }
    sl_parquet_schema s = SL_PARQUET_SCHEMA_INIT;
    sl_buf bad = SL_BUF_INIT;
    if (declared_schema(c->schema, &s, &bad) < 0) {
        sl_buf_printf(errors, "%s:%d: output '%s': schema maps field names (not ts) to boolean, "
                      "int32, int64, double, string or timestamp (near '%s')\n", file,
                      key_line(entry, "schema"), entry->name, bad.data);
        rc = SL_ERR_CONFIG;
    }
    sl_buf_free(&bad);
    sl_parquet_schema_free(&s);
    return rc;
}

/* ---- hooks from the engine ------------------------------------------------ */

static int on_commit(void *arg, const char *topic, int32_t partition, int64_t next)
{
    lake_state *s = arg;
    return s->sink ? sl_sink_commit(s->sink, topic, partition, next) : SL_ERR;
}

static void on_rewind(void *arg, const char *topic, int32_t partition, int64_t offset)
{
    lake_state *s = arg;
    int rc = s->sink ? sl_sink_seek(s->sink, topic, partition, offset) : SL_ERR;
    if (rc < 0) {
        /* Cannot read them again in this run: fail the stage; the restart resumes
           from the lake, which does not have them. */
        SL_LOG_ERRNO(SL_LOG_ERROR, s->env->tag, rc, "cannot rewind %s/%d to %" PRId64, topic,
                     partition, offset);
        s->fatal = rc;
    }
    sl_lake_writer_stats st;
    sl_lake_writer_stats_get(s->writer, &st);
    s->files_at_failure = st.files;
    s->backoff_us = s->backoff_us ? SL_MIN(s->backoff_us * 2, 30000000) : 500000;
    s->retry_at_us = sl_mono_us() + s->backoff_us;
}

static void on_rejected(void *arg, const char *topic, const sl_message *m, const char *reason,
                        const char *error)
{
    lake_state *s = arg;
    sl_buf_reset(&s->dlq);
    sl_dlq_envelope(&s->dlq, "lake", reason, error, topic, (long)m->offset, m->value, sl_now_us());
    sl_record r = { .value = sl_buf_view(&s->dlq), .ts_us = sl_now_us(),
                    .partition = SL_PARTITION_AUTO };
    int rc = sl_log_append_sync(s->env->log, SL_DLQ_TOPIC, &r, 1, NULL, NULL);
    if (rc < 0)
        SL_LOG_ERRNO(SL_LOG_ERROR, s->env->tag, rc, "cannot keep a rejected record of %s in _dlq",
                     topic);
}

/* ---- sink callbacks -------------------------------------------------------- */

static void lake_assigned(void *state, sl_sink *sink, const sl_topic_partition *tps, size_t n)
{
    lake_state *s = state;
    s->sink = sink;
    for (size_t i = 0; i < n && !s->fatal; i++) {
        const char *topic = tps[i].topic;
        int32_t p = tps[i].partition;
        int64_t lake_next, committed = -1, start = 0, end = 0;
        int rc = sl_lake_writer_resume(s->writer, topic, p, &lake_next);
        if (rc < 0) {
            s->fatal = rc;
            break;
        }
        if (sl_log_committed(s->env->log, s->group, topic, p, &committed) < 0)
            committed = -1;
        int64_t target = SL_MAX(lake_next, committed);
        if (target < 0)
            continue; /* nothing in the lake, nothing committed: from the start */
        if (committed > lake_next)
            SL_INFO(s->env->tag, "%s/%d: resuming at the committed offset %" PRId64
                    " (the lake ends at %" PRId64 ")", topic, p, committed, lake_next - 1);
        rc = sl_sink_seek(sink, topic, p, target);
        if (rc == SL_ERR_RANGE && sl_log_offsets(s->env->log, topic, p, &start, &end) == 0) {
            if (target < start) {
                SL_WARN(s->env->tag, "%s/%d: the lake ends at offset %" PRId64 " but the log "
                        "starts at %" PRId64 " (retention removed records the lake never got); "
                        "continuing there", topic, p, target - 1, start);
                rc = sl_sink_seek(sink, topic, p, start);
            } else {
                SL_ERROR(s->env->tag, "%s/%d: the lake holds offsets up to %" PRId64 " but the "
                         "log ends at %" PRId64 ": this lake belongs to another log; use a new "
                         "lake path", topic, p, target - 1, end);
            }
        }
        if (rc < 0)
            s->fatal = rc;
        else
            SL_DEBUG(s->env->tag, "%s/%d: resuming at offset %" PRId64, topic, p, target);
    }
}

static int lake_write(void *state, sl_sink *sink, const sl_fetch *f)
{
    lake_state *s = state;
    s->sink = sink;
    if (s->fatal)
        return s->fatal;
    int rc = sl_lake_writer_add(s->writer, f->topic, f->partition, f->msgs, f->n);
    if (s->fatal)
        return s->fatal;
    return rc < 0 ? SL_ERR_FULL : 0; /* a file failed: back off in flush */
}

static sl_flush_result lake_flush(void *state, sl_sink *sink, bool revoking)
{
    lake_state *s = state;
    s->sink = sink;
    if (s->fatal)
        return SL_FLUSH_ERROR;
    if (revoking) {
        /* A file that fails now is simply not committed: whoever owns the
           partition next resumes from the lake and reads it again. */
        sl_lake_writer_close_all(s->writer);
        return s->fatal ? SL_FLUSH_ERROR : SL_FLUSH_OK;
    }
    if (sl_mono_us() < s->retry_at_us)
        return SL_FLUSH_RETRY; /* reading waits: the disk just failed us */
    int rc = sl_lake_writer_flush_idle(s->writer, s->conf->flush_interval_ms * 1000);
    if (s->fatal)
        return SL_FLUSH_ERROR;
    if (rc < 0)
        return SL_FLUSH_RETRY; /* rewound; reading waits for retry_at */
    sl_lake_writer_stats st;
    sl_lake_writer_stats_get(s->writer, &st);
    if (st.files > s->files_at_failure)
        s->backoff_us = 0; /* a file made it since the last failure */
    return SL_FLUSH_OK;
}

/* ---- lifecycle ------------------------------------------------------------- */

static int lake_init(const sl_stage_env *env, const void *conf, void **state)
{
    const lake_conf *c = conf;
    lake_state *s = sl_calloc(1, sizeof *s);
    s->env = env;
    s->conf = c;
    size_t n = 0;
    while (c->from[n])
        n++;
    s->topics = sl_calloc(n + 1, sizeof *s->topics);
    n = 0;
    sl_buf names = SL_BUF_INIT;
    for (size_t i = 0; c->from[i]; i++) {
        if (sl_config_topic(env->cfg, c->from[i]) || !strcmp(c->from[i], SL_DLQ_TOPIC)) {
            s->topics[n++] = c->from[i];
            sl_buf_printf(&names, "%s%s", names.len ? ", " : "", c->from[i]);
        } else {
            SL_INFO(env->tag, "topic %s is not declared: left out (optional)", c->from[i]);
        }
    }
    s->root = *c->path ? sl_strdup(c->path) : sl_asprintf("%s/lake", env->cfg->data_dir);
    s->group = *c->group ? sl_strdup(c->group) : sl_asprintf("sluice.%s", env->name);
    sl_lake_writer_options o = {
        .root = s->root,
        .compression_level = (int)c->compression_level,
        .max_rows = (uint64_t)c->max_rows,
        .max_bytes = (uint64_t)c->max_bytes,
        .row_group_rows = (size_t)c->row_group_rows,
        .tag = env->tag,
    };
    sl_parquet_codec_parse(c->compression, &o.codec);
    sl_lake_timezone_parse(c->timezone, &o.tz_offset_s);
    sl_parquet_schema declared = SL_PARQUET_SCHEMA_INIT;
    declared_schema(c->schema, &declared, NULL);
    o.declared = &declared;
    sl_lake_writer_hooks h = { .commit = on_commit, .rewind = on_rewind,
                               .rejected = on_rejected, .arg = s };
    int rc = sl_lake_writer_new(&s->writer, &o, &h);
    sl_parquet_schema_free(&declared);
    if (rc == 0 && n) /* nothing to write: leave the disk alone */
        rc = sl_lake_mkdirs(s->root);
    if (rc < 0) {
        SL_LOG_ERRNO(SL_LOG_ERROR, env->tag, rc, "cannot open the lake %s", s->root);
        sl_lake_writer_free(s->writer);
        sl_buf_free(&names);
        free(s->topics);
        free(s->root);
        free(s->group);
        free(s);
        return rc;
    }
    if (n)
        SL_INFO(env->tag, "writing %s into %s (%s, hours in %s)", names.data, s->root,
                c->compression, c->timezone);
    sl_buf_free(&names);
    *state = s;
    return 0;
}

static int lake_run(void *state)
{
    lake_state *s = state;
    if (!s->topics[0]) { /* optional, and none of its topics is declared */
        while (!sl_stage_sleep(s->env->stage, 1000))
            ;
        return 0;
    }
    static const sl_sink_ops ops = { .assigned = lake_assigned, .write = lake_write,
                                     .flush = lake_flush };
    /* The loop's flush is the idle check: run it a few times per interval. */
    int64_t tick = SL_MAX(s->conf->flush_interval_ms / 4, 10);
    sl_sink_options o = { .group = s->group, .topics = (const char *const *)s->topics,
                          .flush_interval_ms = tick };
    return sl_sink_run(s->env, &o, &ops, s);
}

static void lake_destroy(void *state)
{
    lake_state *s = state;
    sl_lake_writer_free(s->writer);
    sl_buf_free(&s->dlq);
    free(s->topics);
    free(s->root);
    free(s->group);
    free(s);
}

const sl_plugin sl_output_lake = {
    .type = "lake",
    .kind = SL_STAGE_OUTPUT,
    .description = "Parquet files partitioned by event-time hour, exactly once",
    .keys = lake_keys,
    .conf_size = sizeof(lake_conf),
    .check = lake_check,
    .init = lake_init,
    .run = lake_run,
    .destroy = lake_destroy,
};
