/*
 * lake_writer.c - the lake's file rolling and exactly-once writing (see
 * lake_writer.h for the rules, lake.h for the layout).
 *
 * A file's life:
 *
 *   first record        sl_parquet_writer_new (topic schema declared),
 *                       start = end = its offset, hour = its hour
 *   each record         add_json; end = offset; roll checks
 *   close               finish into .<name>.parquet.tmp in the hour
 *                       directory, fsync, rename to <name>.parquet without
 *                       replacing, fsync the directory, commit end + 1
 *
 * A failure at any step of the close unlinks the temporary file, drops the
 * rows and rewinds the partition to the file's start, so the next attempt
 * writes the same file again.
 */
#include "lake/lake_writer.h"
#include "core/alloc.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "core/timestamp.h"
#include "lake/lake.h"
#include "lake/parquet/parquet_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_ROWS    1000000u
#define DEFAULT_MAX_BYTES   (128u << 20)
#define DEFAULT_MAX_CARRIED 1024u
#define BYTES_CHECK_EVERY   256u /* rows between memory-size checks */

typedef struct lake_topic {
    char *name;
    sl_parquet_schema schema; /* columns carried forward, widest types */
    sl_metric *m_files, *m_rows, *m_bytes, *m_rejected;
} lake_topic;

typedef struct lake_part {
    lake_topic *topic;
    int32_t partition;
    int64_t next;             /* the next offset to take; -1 = any */
    int64_t committed;        /* the last next_offset handed to hooks.commit */
    sl_parquet_writer *pw;    /* the open file, or NULL */
    int64_t start, end;       /* its offsets (inclusive) */
    int64_t hour;             /* its event-time hour */
    uint64_t rows;            /* rows in it (rejected records are not rows) */
    int64_t last_add_us;      /* monotonic time of the last record */
} lake_part;

struct sl_lake_writer {
    sl_lake_writer_options o;
    sl_lake_writer_hooks hooks;
    char *root, *tag;
    char tz_text[16];
    sl_parquet_schema declared;
    lake_topic **topics;
    size_t ntopics;
    lake_part **parts;
    size_t nparts;
    sl_lake_writer_stats stats;
    sl_metric *m_flush;
    sl_buf dir, name, tmp, final, text; /* scratch */
};

int sl_lake_writer_new(sl_lake_writer **out, const sl_lake_writer_options *o,
                       const sl_lake_writer_hooks *hooks)
{
    *out = NULL;
    if (!o->root || !sl_parquet_codec_available(o->codec))
        return SL_ERR_CONFIG;
    sl_lake_writer *w = sl_calloc(1, sizeof *w);
    w->o = *o;
    w->hooks = *hooks;
    w->root = sl_strdup(o->root);
    w->tag = sl_strdup(o->tag ? o->tag : "lake");
    w->o.root = w->root;
    w->o.tag = w->tag;
    if (!w->o.max_rows)
        w->o.max_rows = DEFAULT_MAX_ROWS;
    if (!w->o.max_bytes)
        w->o.max_bytes = DEFAULT_MAX_BYTES;
    if (!w->o.max_carried_columns)
        w->o.max_carried_columns = DEFAULT_MAX_CARRIED;
    w->declared = SL_PARQUET_SCHEMA_INIT;
    if (o->declared)
        sl_parquet_schema_copy(&w->declared, o->declared);
    w->o.declared = NULL;
    sl_lake_timezone_format(o->tz_offset_s, w->tz_text, sizeof w->tz_text);
    sl_metric_family *f = sl_metrics_family(
        "sluice_lake_flush_seconds",
        "Time to write, sync and rename one lake file.", SL_HISTOGRAM, "");
    w->m_flush = sl_metric_get0(f);
    *out = w;
    return 0;
}

static void part_abandon(lake_part *p)
{
    sl_parquet_writer_free(p->pw);
    p->pw = NULL;
    p->rows = 0;
}

void sl_lake_writer_free(sl_lake_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nparts; i++) {
        part_abandon(w->parts[i]);
        free(w->parts[i]);
    }
    free(w->parts);
    for (size_t i = 0; i < w->ntopics; i++) {
        free(w->topics[i]->name);
        sl_parquet_schema_free(&w->topics[i]->schema);
        free(w->topics[i]);
    }
    free(w->topics);
    sl_parquet_schema_free(&w->declared);
    sl_buf_free(&w->dir);
    sl_buf_free(&w->name);
    sl_buf_free(&w->tmp);
    sl_buf_free(&w->final);
    sl_buf_free(&w->text);
    free(w->root);
    free(w->tag);
    free(w);
}

static lake_topic *topic_get(sl_lake_writer *w, const char *name)
{
    for (size_t i = 0; i < w->ntopics; i++)
        if (!strcmp(w->topics[i]->name, name))
            return w->topics[i];
    lake_topic *t = sl_calloc(1, sizeof *t);
    t->name = sl_strdup(name);
    t->schema = SL_PARQUET_SCHEMA_INIT;
    sl_parquet_schema_copy(&t->schema, &w->declared);
    static sl_metric_family *f_files, *f_rows, *f_bytes, *f_rej;
    f_files = sl_metrics_family("sluice_lake_files_written_total",
                                "Parquet files the lake output renamed into place.", SL_COUNTER,
                                "topic");
    f_rows = sl_metrics_family("sluice_lake_rows_written_total",
                               "Rows in the Parquet files the lake output wrote.", SL_COUNTER,
                               "topic");
    f_bytes = sl_metrics_family("sluice_lake_bytes_written_total",
                                "Bytes of the Parquet files the lake output wrote.", SL_COUNTER,
                                "topic");
    f_rej = sl_metrics_family("sluice_lake_records_rejected_total",
                              "Records the lake output could not store (sent to _dlq).",
                              SL_COUNTER, "topic");
    t->m_files = sl_metric_get1(f_files, name);
    t->m_rows = sl_metric_get1(f_rows, name);
    t->m_bytes = sl_metric_get1(f_bytes, name);
    t->m_rejected = sl_metric_get1(f_rej, name);
    w->topics = sl_realloc(w->topics, (w->ntopics + 1) * sizeof *w->topics);
    w->topics[w->ntopics++] = t;
    return t;
}

static lake_part *part_find(sl_lake_writer *w, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < w->nparts; i++) {
        lake_part *p = w->parts[i];
        if (p->partition == partition && !strcmp(p->topic->name, topic))
            return p;
    }
    return NULL;
}

static lake_part *part_get(sl_lake_writer *w, const char *topic, int32_t partition)
{
    lake_part *p = part_find(w, topic, partition);
    if (p)
        return p;
    p = sl_calloc(1, sizeof *p);
    p->topic = topic_get(w, topic);
    p->partition = partition;
    p->next = -1;
    p->committed = -1;
    w->parts = sl_realloc(w->parts, (w->nparts + 1) * sizeof *w->parts);
    w->parts[w->nparts++] = p;
    return p;
}

/* Fold a file's columns into the topic's carried schema. */
static void schema_merge(sl_lake_writer *w, lake_topic *t, const sl_parquet_schema *s)
{
    for (size_t c = 0; c < s->n; c++) {
        const sl_parquet_column_def *d = &s->cols[c];
        if (d->type == SL_PARQUET_TIMESTAMP && !strcmp(d->name, "ts"))
            continue; /* the event-time column, always first */
        int idx = sl_parquet_schema_find(&t->schema, d->name, d->name_len);
        if (idx >= 0)
            t->schema.cols[idx].type = sl_parquet_type_join(t->schema.cols[idx].type, d->type);
        else if (t->schema.n < w->o.max_carried_columns)
            sl_parquet_schema_add(&t->schema, d->name, d->name_len, d->type);
    }
}

static int commit(sl_lake_writer *w, lake_part *p, int64_t next)
{
    if (next <= p->committed)
        return 0;
    int rc = w->hooks.commit ? w->hooks.commit(w->hooks.arg, p->topic->name, p->partition, next)
                             : 0;
    if (rc < 0)
        SL_LOG_ERRNO(SL_LOG_WARN, w->tag, rc, "cannot commit %s/%d at %" PRId64
                     " (the lake has the rows; a restart resumes from the lake)",
                     p->topic->name, p->partition, next);
    else
        p->committed = next;
    return rc;
}

/* The open file of p is lost: drop it and have its records read again. */
static void part_rewind(sl_lake_writer *w, lake_part *p)
{
    int64_t from = p->start;
    part_abandon(p);
    p->next = from;
    if (w->hooks.rewind)
        w->hooks.rewind(w->hooks.arg, p->topic->name, p->partition, from);
}

/* Write p's open file into the lake and commit it; see the file comment. */
static int part_close(sl_lake_writer *w, lake_part *p)
{
    if (!p->pw)
        return 0;
    if (p->rows == 0) { /* only rejected records: nothing to write */
        part_abandon(p);
        commit(w, p, p->end + 1);
        return 0;
    }
    int64_t t0 = sl_mono_us();
    const char *topic = p->topic->name;
    sl_buf_reset(&w->text);
    sl_buf_printf(&w->text, "%" PRId64, p->end);
    sl_parquet_writer_set_metadata(p->pw, SL_LAKE_KV_END, sl_buf_view(&w->text));

    sl_buf_reset(&w->dir);
    int rc = sl_lake_hour_dir(&w->dir, w->root, topic, p->hour);
    sl_buf_reset(&w->tmp);
    sl_buf_reset(&w->final);
    if (rc == 0) {
        sl_buf_printf(&w->tmp, "%s/", w->dir.data);
        sl_lake_name_format(&w->tmp, SL_LAKE_TMP, topic, p->partition, p->start, p->end);
        sl_buf_printf(&w->final, "%s/", w->dir.data);
        sl_lake_name_format(&w->final, SL_LAKE_DATA, topic, p->partition, p->start, p->end);
        rc = sl_lake_mkdirs(w->dir.data);
    }
    int fd = -1;
    bool tmp_made = false;
    struct stat st = { 0 };
    if (rc == 0) {
        fd = open(w->tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            rc = -errno;
        else
            tmp_made = true;
    }
    sl_parquet_schema final_schema = SL_PARQUET_SCHEMA_INIT;
    if (rc == 0) {
        sl_parquet_schema_copy(&final_schema, sl_parquet_writer_schema(p->pw));
        rc = sl_parquet_writer_finish_fd(p->pw, fd);
    }
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (rc == 0 && fstat(fd, &st) < 0)
        rc = -errno;
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0) {
        rc = sl_lake_rename_noreplace(w->tmp.data, w->final.data);
        if (rc == -EEXIST)
            SL_ERROR(w->tag, "%s already exists: the lake and the log disagree (was the log "
                     "reset under an existing lake?)", w->final.data);
        else if (rc == 0)
            tmp_made = false;
    }
    if (rc == 0)
        rc = sl_lake_fsync_dir(w->dir.data);
    if (rc < 0) {
        if (tmp_made)
            unlink(w->tmp.data);
        SL_LOG_ERRNO(SL_LOG_ERROR, w->tag, rc, "cannot write %s+%d+%" PRId64 "+%" PRId64
                     " into %s; will read its records again", topic, p->partition, p->start,
                     p->end, w->dir.data ? w->dir.data : w->root);
        sl_parquet_schema_free(&final_schema);
        part_rewind(w, p);
        return rc;
    }
    uint64_t rows = p->rows;
    int64_t end = p->end;
    part_abandon(p);
    schema_merge(w, p->topic, &final_schema);
    sl_parquet_schema_free(&final_schema);
    sl_histogram_observe(w->m_flush, (double)(sl_mono_us() - t0) / 1e6);
    sl_counter_add(p->topic->m_files, 1);
    sl_counter_add(p->topic->m_rows, rows);
    sl_counter_add(p->topic->m_bytes, (uint64_t)st.st_size);
    w->stats.files++;
    w->stats.rows += rows;
    w->stats.bytes += (uint64_t)st.st_size;
    SL_DEBUG(w->tag, "wrote %s (%" PRIu64 " rows, %lld bytes)", w->final.data, rows,
             (long long)st.st_size);
    commit(w, p, end + 1);
    return 0;
}

static int part_open(sl_lake_writer *w, lake_part *p, int64_t offset, int64_t hour)
{
    sl_parquet_writer_options po;
    sl_parquet_writer_options_default(&po);
    po.codec = w->o.codec;
    po.compression_level = w->o.compression_level;
    po.row_group_rows = w->o.row_group_rows;
    /* Encode a row group before the file's memory limit, so the limit bounds
       compressed data plus at most a quarter of it in raw values. */
    po.row_group_bytes = (size_t)SL_MAX(w->o.max_bytes / 4, 1u << 20);
    po.schema = &p->topic->schema;
    po.trusted_json = true; /* records were validated when they entered the log */
    char part_text[16], start_text[24];
    snprintf(part_text, sizeof part_text, "%" PRId32, p->partition);
    snprintf(start_text, sizeof start_text, "%" PRId64, offset);
    sl_parquet_kv kv[] = {
        { SL_LAKE_KV_TOPIC, p->topic->name },
        { SL_LAKE_KV_PARTITION, part_text },
        { SL_LAKE_KV_START, start_text },
        { SL_LAKE_KV_TIMEZONE, w->tz_text },
    };
    po.kv = kv;
    po.n_kv = SL_ARRAY_LEN(kv);
    int rc = sl_parquet_writer_new(&p->pw, &po);
    if (rc < 0)
        return rc;
    p->start = p->end = offset;
    p->hour = hour;
    p->rows = 0;
    return 0;
}

static void reject(sl_lake_writer *w, lake_part *p, const sl_message *m, const char *reason,
                   const char *error)
{
    w->stats.rejected++;
    sl_counter_add(p->topic->m_rejected, 1);
    SL_WARN(w->tag, "%s/%d offset %" PRId64 ": %s; sent to _dlq", p->topic->name, p->partition,
            m->offset, error);
    if (w->hooks.rejected)
        w->hooks.rejected(w->hooks.arg, p->topic->name, m, reason, error);
}

static bool over_bytes(const sl_lake_writer *w, const lake_part *p)
{
    sl_parquet_writer_stats st;
    sl_parquet_writer_stats_get(p->pw, &st);
    return st.encoded_bytes + st.buffered_bytes >= w->o.max_bytes;
}

int sl_lake_writer_add(sl_lake_writer *w, const char *topic, int32_t partition,
                       const sl_message *msgs, size_t n)
{
    lake_part *p = part_get(w, topic, partition);
    int32_t tz = w->o.tz_offset_s;
    for (size_t i = 0; i < n; i++) {
        const sl_message *m = &msgs[i];
        if (p->next >= 0 && m->offset < p->next)
            continue; /* already in the lake */
        bool bad_time = !sl_lake_ts_ok(m->ts_us, tz);
        int64_t hour = bad_time ? (p->pw ? p->hour : 0) : sl_lake_hour_of(m->ts_us, tz);
        if (p->pw && hour != p->hour) {
            int rc = part_close(w, p);
            if (rc < 0)
                return rc;
        }
        if (!p->pw) {
            int rc = part_open(w, p, m->offset, hour);
            if (rc < 0)
                return rc;
        }
        p->end = m->offset;
        p->next = m->offset + 1;
        if (bad_time) {
            char err[96];
            snprintf(err, sizeof err, "event time %" PRId64 " us is outside years 1..9999 (in %s)",
                     m->ts_us, w->tz_text);
            reject(w, p, m, "bad_timestamp", err);
        } else if (sl_parquet_writer_add_json(p->pw, m->value, m->ts_us) < 0) {
            reject(w, p, m, "malformed_json", "the record is not a JSON object");
        } else {
            p->rows++;
        }
        if (p->rows >= w->o.max_rows ||
            (p->rows % BYTES_CHECK_EVERY == 0 && p->rows > 0 && over_bytes(w, p))) {
            int rc = part_close(w, p);
            if (rc < 0)
                return rc;
        }
    }
    if (n)
        p->last_add_us = sl_mono_us();
    return 0;
}

int sl_lake_writer_flush_idle(sl_lake_writer *w, int64_t idle_us)
{
    int64_t now = sl_mono_us();
    int first = 0;
    for (size_t i = 0; i < w->nparts; i++) {
        lake_part *p = w->parts[i];
        if (!p->pw || now - p->last_add_us < idle_us)
            continue;
        int rc = part_close(w, p);
        if (rc < 0 && !first)
            first = rc;
    }
    return first;
}

int sl_lake_writer_close_all(sl_lake_writer *w)
{
    int first = 0;
    for (size_t i = 0; i < w->nparts; i++) {
        int rc = part_close(w, w->parts[i]);
        if (rc < 0 && !first)
            first = rc;
    }
    return first;
}

void sl_lake_writer_drop(sl_lake_writer *w, const char *topic, int32_t partition)
{
    lake_part *p = part_find(w, topic, partition);
    if (!p)
        return;
    part_abandon(p);
    p->next = -1;
    p->committed = -1;
}

/* Remove the partition's temporary files a crash left behind. */
static int remove_stale(sl_lake_writer *w, const sl_lake_list *l, int32_t partition)
{
    int rc = 0;
    for (size_t i = 0; i < l->n; i++) {
        const sl_lake_entry *e = &l->v[i];
        if (e->partition != partition || e->kind != SL_LAKE_TMP)
            continue;
        sl_lake_entry_path(e, &w->tmp);
        if (unlink(w->tmp.data) < 0 && errno != ENOENT) {
            rc = -errno;
            continue;
        }
        SL_INFO(w->tag, "removed %s (a file being written when sluice stopped)", w->tmp.data);
    }
    return rc;
}

int sl_lake_writer_resume(sl_lake_writer *w, const char *topic, int32_t partition,
                          int64_t *next)
{
    *next = -1;
    lake_part *p = part_get(w, topic, partition);
    part_abandon(p);
    int lock = sl_lake_lock(w->root, true);
    if (lock < 0) {
        SL_LOG_ERRNO(SL_LOG_ERROR, w->tag, lock, "cannot lock the lake %s", w->root);
        return lock;
    }
    size_t fixed = 0;
    int rc = sl_lake_recover(w->root, topic, partition, false, &fixed);
    if (fixed)
        SL_INFO(w->tag, "%s/%d: finished %zu steps of an interrupted compaction", topic,
                partition, fixed);
    sl_lake_list l = { 0 };
    if (rc == 0)
        rc = sl_lake_scan(w->root, topic, &l);
    sl_lake_unlock(lock);
    if (rc == 0)
        rc = remove_stale(w, &l, partition);
    if (rc < 0) {
        SL_LOG_ERRNO(SL_LOG_ERROR, w->tag, rc, "cannot scan the lake %s for %s/%d", w->root,
                     topic, partition);
        sl_lake_list_free(&l);
        return rc;
    }
    *next = sl_lake_resume_offset(&l, partition, &w->final);
    if (w->final.len) {
        sl_lake_footer f;
        if (sl_lake_footer_read(w->final.data, &f) == 0) {
            schema_merge(w, p->topic, &f.schema);
            sl_lake_footer_free(&f);
        }
    }
    sl_lake_list_free(&l);
    p->next = *next;
    p->committed = -1;
    return 0;
}

void sl_lake_writer_stats_get(const sl_lake_writer *w, sl_lake_writer_stats *st)
{
    *st = w->stats;
    st->open_files = 0;
    for (size_t i = 0; i < w->nparts; i++)
        st->open_files += w->parts[i]->pw != NULL;
}

const sl_parquet_schema *sl_lake_writer_topic_schema(const sl_lake_writer *w, const char *topic)
{
    for (size_t i = 0; i < w->ntopics; i++)
        if (!strcmp(w->topics[i]->name, topic))
            return &w->topics[i]->schema;
    return NULL;
}
