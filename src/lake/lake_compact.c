/*
 * lake_compact.c - `sluice lake compact`: merge the small files of closed
 * hours (see lake_compact.h for the swap and why it is crash safe).
 *
 * Rows are copied through sluice's own reader and writer: each input is
 * read whole (inputs are the small files), its rows set column by column
 * into one writer whose declared schema is the union of the inputs'
 * columns with the widest type of each, so the merged file has every
 * column any input had, in first-seen order.
 */
#include "lake/lake_compact.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "lake/lake.h"
#include "lake/parquet/parquet_reader.h"
#include "lake/parquet/parquet_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TARGET_BYTES (256u << 20)

typedef struct compact_ctx {
    const sl_lake_compact_options *o;
    sl_lake_compact_stats *st;
    int64_t now_us;
    uint64_t target;
    sl_buf line, path, tmp, final;
} compact_ctx;

static void say(compact_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(compact_ctx *c, const char *fmt, ...)
{
    if (!c->o->report)
        return;
    va_list ap;
    va_start(ap, fmt);
    sl_buf_reset(&c->line);
    sl_buf_vprintf(&c->line, fmt, ap);
    va_end(ap);
    c->o->report(c->o->arg, c->line.data);
}

/* Order: partition, hour directory, start offset. */
static int cmp_entry(const void *a, const void *b)
{
    const sl_lake_entry *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    if (x->hour != y->hour)
        return x->hour < y->hour ? -1 : 1;
    int d = strcmp(x->dir, y->dir);
    if (d)
        return d;
    return x->start < y->start ? -1 : x->start > y->start;
}

static bool crash_here(compact_ctx *c, int step)
{
    return c->o->crash_after == step;
}

/* The union of the inputs' columns, widest types, without the ts column. */
static void union_schema(sl_parquet_reader **r, size_t n, sl_parquet_schema *out)
{
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < sl_parquet_reader_num_columns(r[k]); i++) {
            const sl_parquet_column_info *ci = sl_parquet_reader_column(r[k], i);
            if (ci->type == SL_PARQUET_TIMESTAMP && !strcmp(ci->name, "ts"))
                continue;
            int idx = sl_parquet_schema_find(out, ci->name, ci->name_len);
            if (idx < 0)
                sl_parquet_schema_add(out, ci->name, ci->name_len, ci->type);
            else
                out->cols[idx].type = sl_parquet_type_join(out->cols[idx].type, ci->type);
        }
}

/* Copy every row of r into w. Returns rows copied or < 0. */
static int64_t copy_rows(sl_parquet_reader *r, sl_parquet_writer *w)
{
    size_t ncols = sl_parquet_reader_num_columns(r);
    int ts_col = -1;
    for (size_t i = 0; i < ncols; i++) {
        const sl_parquet_column_info *ci = sl_parquet_reader_column(r, i);
        if (ci->type == SL_PARQUET_TIMESTAMP && !strcmp(ci->name, "ts"))
            ts_col = (int)i;
    }
    int64_t rows = 0;
    const sl_parquet_value *v;
    int rc;
    while ((rc = sl_parquet_reader_next_row(r, &v)) == 1) {
        int64_t ts = ts_col >= 0 && !v[ts_col].is_null ? v[ts_col].u.i64 : SL_PARQUET_TS_NULL;
        if ((rc = sl_parquet_writer_row_begin(w, ts)) < 0)
            return rc;
        for (size_t i = 0; i < ncols; i++) {
            if ((int)i == ts_col || v[i].is_null)
                continue;
            const sl_parquet_column_info *ci = sl_parquet_reader_column(r, i);
            if ((rc = sl_parquet_writer_set_value(w, (sl_view){ ci->name, ci->name_len }, &v[i])) < 0)
                return rc;
        }
        if ((rc = sl_parquet_writer_row_end(w)) < 0)
            return rc;
        rows++;
    }
    return rc < 0 ? rc : rows;
}

static bool same_file(const char *path, const sl_lake_entry *e)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == e->size;
}

/* Steps 2-5 of the swap (lake_compact.h), with the lock held. */
static int swap_in(compact_ctx *c, const char *topic, const sl_lake_entry *in, size_t n,
                   const char *tmp, const char *final, ino_t tmp_ino, bool *crashed)
{
    const char *dir = in[0].dir;
    struct stat st;
    if (stat(tmp, &st) < 0 || st.st_ino != tmp_ino)
        return 1; /* removed meanwhile (recovery of another compaction) */
    for (size_t k = 0; k < n; k++) {
        sl_lake_entry_path(&in[k], &c->path);
        if (!same_file(c->path.data, &in[k]))
            return 1; /* another compaction took it */
    }
    sl_buf hidden = SL_BUF_INIT;
    size_t nhidden = 0;
    int rc = 0;
    for (; nhidden < n; nhidden++) {
        sl_lake_entry_path(&in[nhidden], &c->path);
        sl_buf_reset(&hidden);
        sl_buf_printf(&hidden, "%s/", dir);
        sl_lake_name_format(&hidden, SL_LAKE_COMPACTED, topic, in[nhidden].partition,
                            in[nhidden].start, in[nhidden].end);
        if ((rc = sl_lake_rename_noreplace(c->path.data, hidden.data)) < 0)
            break;
        if (nhidden == 0 && crash_here(c, 2)) {
            *crashed = true;
            goto out;
        }
    }
    if (rc == 0)
        rc = sl_lake_fsync_dir(dir);
    if (rc == 0 && crash_here(c, 3)) {
        *crashed = true;
        goto out;
    }
    if (rc == 0)
        rc = sl_lake_rename_noreplace(tmp, final);
    if (rc < 0) {
        /* Undo: the inputs become visible again, the merged file never was. */
        for (size_t k = 0; k < nhidden; k++) {
            sl_lake_entry_path(&in[k], &c->path);
            sl_buf_reset(&hidden);
            sl_buf_printf(&hidden, "%s/", dir);
            sl_lake_name_format(&hidden, SL_LAKE_COMPACTED, topic, in[k].partition, in[k].start,
                                in[k].end);
            rename(hidden.data, c->path.data);
        }
        sl_lake_fsync_dir(dir);
        goto out;
    }
    if ((rc = sl_lake_fsync_dir(dir)) < 0)
        goto out;
    if (crash_here(c, 4)) {
        *crashed = true;
        goto out;
    }
    for (size_t k = 0; k < n; k++) {
        sl_buf_reset(&hidden);
        sl_buf_printf(&hidden, "%s/", dir);
        sl_lake_name_format(&hidden, SL_LAKE_COMPACTED, topic, in[k].partition, in[k].start,
                            in[k].end);
        if (unlink(hidden.data) < 0 && errno != ENOENT && rc == 0)
            rc = -errno;
        if (k == 0 && crash_here(c, 5)) {
            *crashed = true;
            goto out;
        }
    }
    int frc = sl_lake_fsync_dir(dir);
    if (rc == 0)
        rc = frc;
out:
    sl_buf_free(&hidden);
    return rc;
}

/* Merge in[0..n) (one partition, one hour directory, offset order). */
static int merge(compact_ctx *c, const char *topic, const sl_lake_entry *in, size_t n,
                 const sl_lake_footer *first, bool *crashed)
{
    int64_t start = in[0].start, end = in[n - 1].end;
    uint64_t bytes_in = 0;
    for (size_t k = 0; k < n; k++)
        bytes_in += (uint64_t)in[k].size;
    sl_buf_reset(&c->final);
    sl_buf_printf(&c->final, "%s/", in[0].dir);
    sl_lake_name_format(&c->final, SL_LAKE_DATA, topic, in[0].partition, start, end);
    if (c->o->dry_run) {
        say(c, "would merge %zu files (%" PRIu64 " bytes) into %s", n, bytes_in, c->final.data);
        return 0;
    }
    sl_buf_reset(&c->tmp);
    sl_buf_printf(&c->tmp, "%s/", in[0].dir);
    sl_lake_name_format(&c->tmp, SL_LAKE_MERGING, topic, in[0].partition, start, end);

    sl_parquet_reader **r = sl_calloc(n, sizeof *r);
    sl_parquet_writer *w = NULL;
    sl_parquet_schema schema = SL_PARQUET_SCHEMA_INIT;
    int fd, rc = 0;
    int64_t rows = 0, want_rows = 0;
    char err[200] = "";
    for (size_t k = 0; k < n && rc == 0; k++) {
        sl_lake_entry_path(&in[k], &c->path);
        rc = sl_parquet_reader_open_file(&r[k], c->path.data, NULL, err, sizeof err);
        if (rc == 0)
            want_rows += sl_parquet_reader_num_rows(r[k]);
        else
            say(c, "skipping %s: %s", c->path.data, err[0] ? err : sl_strerror(rc));
    }
    if (rc < 0)
        goto skip;
    union_schema(r, n, &schema);

    sl_parquet_writer_options po;
    sl_parquet_writer_options_default(&po);
    if (first->codec >= 0 && sl_parquet_codec_available((sl_parquet_codec)first->codec))
        po.codec = (sl_parquet_codec)first->codec;
    po.schema = &schema;
    char part_text[16], start_text[24], end_text[24], tz_text[16], n_text[24];
    snprintf(part_text, sizeof part_text, "%" PRId32, in[0].partition);
    snprintf(start_text, sizeof start_text, "%" PRId64, start);
    snprintf(end_text, sizeof end_text, "%" PRId64, end);
    snprintf(n_text, sizeof n_text, "%zu", n);
    sl_lake_timezone_format(first->tz_offset_s, tz_text, sizeof tz_text);
    sl_parquet_kv kv[] = {
        { SL_LAKE_KV_TOPIC, topic },        { SL_LAKE_KV_PARTITION, part_text },
        { SL_LAKE_KV_START, start_text },   { SL_LAKE_KV_END, end_text },
        { SL_LAKE_KV_TIMEZONE, tz_text },   { SL_LAKE_KV_COMPACTED, n_text },
    };
    po.kv = kv;
    po.n_kv = SL_ARRAY_LEN(kv);
    if ((rc = sl_parquet_writer_new(&w, &po)) < 0)
        goto fail;
    for (size_t k = 0; k < n; k++) {
        int64_t got = copy_rows(r[k], w);
        if (got < 0) {
            sl_lake_entry_path(&in[k], &c->path);
            say(c, "skipping a merge: %s: %s", c->path.data, sl_parquet_reader_message(r[k]));
            rc = (int)got;
            goto skip;
        }
        rows += got;
        sl_parquet_reader_free(r[k]);
        r[k] = NULL; /* inputs are small, but free each once copied */
    }
    if (rows != want_rows) {
        say(c, "skipping a merge into %s: read %" PRId64 " rows, footers say %" PRId64,
            c->final.data, rows, want_rows);
        rc = SL_ERR_CORRUPT;
        goto skip;
    }
    fd = open(c->tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        if (rc == -EEXIST) { /* another compaction is writing the same merge */
            rc = 0;
            goto skip;
        }
        goto fail;
    }
    struct stat st;
    if ((rc = sl_parquet_writer_finish_fd(w, fd)) < 0 || (fsync(fd) < 0 && (rc = -errno)) ||
        (fstat(fd, &st) < 0 && (rc = -errno))) {
        close(fd);
        unlink(c->tmp.data);
        goto fail;
    }
    close(fd);
    if (crash_here(c, 1)) {
        *crashed = true;
        goto done;
    }

    int lock = sl_lake_lock(c->o->root, true);
    if (lock < 0) {
        rc = lock;
        unlink(c->tmp.data);
        goto fail;
    }
    rc = swap_in(c, topic, in, n, c->tmp.data, c->final.data, st.st_ino, crashed);
    sl_lake_unlock(lock);
    if (*crashed)
        goto done;
    if (rc != 0) {
        unlink(c->tmp.data);
        if (rc > 0) {
            say(c, "skipping %s: its inputs changed meanwhile", c->final.data);
            rc = 0;
            c->st->skipped++;
            goto done;
        }
        goto fail;
    }
    c->st->merges++;
    c->st->inputs += n;
    c->st->rows += (uint64_t)rows;
    c->st->bytes_in += bytes_in;
    c->st->bytes_out += (uint64_t)st.st_size;
    say(c, "merged %zu files (%" PRId64 " rows, %" PRIu64 " -> %lld bytes) into %s", n, rows,
        bytes_in, (long long)st.st_size, c->final.data);
    goto done;
skip:
    /* An input that vanished or cannot be read leaves its group as it is. */
    c->st->skipped++;
    rc = 0;
    goto done;
fail:
    say(c, "cannot merge into %s: %s", c->final.data, sl_strerror(rc));
done:
    for (size_t k = 0; k < n; k++)
        sl_parquet_reader_free(r[k]);
    free(r);
    sl_parquet_writer_free(w);
    sl_parquet_schema_free(&schema);
    return rc;
}

/* Has this hour (in the files' zone) ended at least older_than ago? */
static bool hour_closed(compact_ctx *c, int64_t hour, int32_t tz_offset_s)
{
    int64_t end_us = (hour + 1) * 3600000000LL - (int64_t)tz_offset_s * 1000000;
    return end_us + c->o->older_than_us <= c->now_us;
}

/* The files of one partition in one hour directory: runs of small files. */
static int compact_group(compact_ctx *c, const char *topic, sl_lake_entry *g, size_t n,
                         bool *crashed)
{
    if (n < 2)
        return 0;
    sl_lake_footer first;
    sl_lake_entry_path(&g[0], &c->path);
    if (sl_lake_footer_read(c->path.data, &first) < 0) {
        say(c, "skipping %s: not a readable Parquet file", c->path.data);
        c->st->skipped++;
        return 0;
    }
    int rc = 0;
    if (hour_closed(c, g[0].hour, first.tz_offset_s)) {
        size_t run = 0;
        uint64_t run_bytes = 0;
        for (size_t k = 0; k <= n && rc == 0 && !*crashed; k++) {
            bool take = k < n && (uint64_t)g[k].size < c->target &&
                        run_bytes + (uint64_t)g[k].size <= c->target;
            if (take) {
                run_bytes += (uint64_t)g[k].size;
                continue;
            }
            if (k - run >= 2)
                rc = merge(c, topic, &g[run], k - run, &first, crashed);
            /* A file too big to join starts nothing; one that did not fit starts the next run. */
            if (k < n && (uint64_t)g[k].size < c->target) {
                run = k;
                run_bytes = (uint64_t)g[k].size;
            } else {
                run = k + 1;
                run_bytes = 0;
            }
        }
    }
    sl_lake_footer_free(&first);
    return rc;
}

static int compact_topic(compact_ctx *c, const char *topic, bool *crashed)
{
    sl_lake_list l = { 0 };
    int rc = sl_lake_scan(c->o->root, topic, &l);
    if (rc < 0)
        return rc;
    /* Keep finished files only, grouped by partition and hour directory. */
    size_t kept = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].kind == SL_LAKE_DATA) {
            l.v[kept++] = l.v[i];
        } else {
            free(l.v[i].dir);
            free(l.v[i].name);
        }
    }
    l.n = kept;
    qsort(l.v, l.n, sizeof *l.v, cmp_entry);
    for (size_t i = 0; i < l.n && rc == 0 && !*crashed;) {
        size_t j = i + 1;
        while (j < l.n && l.v[j].partition == l.v[i].partition && !strcmp(l.v[j].dir, l.v[i].dir))
            j++;
        rc = compact_group(c, topic, &l.v[i], j - i, crashed);
        i = j;
    }
    sl_lake_list_free(&l);
    return rc;
}

int sl_lake_compact(const sl_lake_compact_options *o, sl_lake_compact_stats *st)
{
    memset(st, 0, sizeof *st);
    compact_ctx c = { .o = o, .st = st, .now_us = o->now_us ? o->now_us : sl_now_us(),
                      .target = o->target_bytes ? o->target_bytes : DEFAULT_TARGET_BYTES };
    char **topics = NULL;
    size_t ntopics = 0;
    int rc;
    if (o->topic) {
        if (!sl_lake_topic_ok(o->topic))
            return SL_ERR_CONFIG;
        topics = sl_malloc(sizeof *topics);
        topics[0] = sl_strdup(o->topic);
        ntopics = 1;
    } else if ((rc = sl_lake_topics(o->root, &topics, &ntopics)) < 0) {
        return rc;
    }
    rc = 0;
    if (!o->dry_run) {
        /* First put back whatever an interrupted compaction left. */
        int lock = sl_lake_lock(o->root, true);
        if (lock < 0) {
            rc = lock;
        } else {
            for (size_t i = 0; i < ntopics && rc == 0; i++)
                rc = sl_lake_recover(o->root, topics[i], -1, true, &st->recovered);
            sl_lake_unlock(lock);
        }
        if (st->recovered)
            say(&c, "cleaned up %zu leftovers of an interrupted compaction", st->recovered);
    }
    bool crashed = false;
    for (size_t i = 0; i < ntopics && rc == 0 && !crashed; i++)
        rc = compact_topic(&c, topics[i], &crashed);
    for (size_t i = 0; i < ntopics; i++)
        free(topics[i]);
    free(topics);
    sl_buf_free(&c.line);
    sl_buf_free(&c.path);
    sl_buf_free(&c.tmp);
    sl_buf_free(&c.final);
    return rc;
}
