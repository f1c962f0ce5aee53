/*
 * tail_input.c - one tail input: its files, the batches it has handed to
 * the log, and the position file that only ever moves past what the log
 * made durable (see tail.h for the exactly-once argument).
 *
 *   tail thread                     workers            log threads
 *   -----------                     -------            -----------
 *   scan globs (every refresh_interval)
 *   per file: check truncation,
 *     read, cut a batch (a short
 *     batch: announce its end in
 *     the position file first) ---> lines -> events
 *                                   (in parallel), then
 *                                   append converted
 *                                   batches in cut order -------> append (key)
 *   completed batches, in file                                     |
 *     order: committed = end  <-------------------------------- durable
 *   write the position file (every pos_interval, and for announcements)
 *
 * Appends follow the order batches were cut in, whatever order the
 * workers finish them in, so the events of one member keep their order
 * in their partition: the worker that finds converted batches at the head
 * of the cut order appends them (and only one worker appends at a time),
 * while the others go on converting. Appending is the log's encoding, CRC
 * and write: on the tail thread it made that thread the bottleneck, so it
 * runs where the CPU time is spread over the workers. Without workers
 * (workers: 0) the tail thread does all of it.
 *
 * At most max_inflight batches are in the log's hands at once; when the
 * log answers "full" (its un-synced bytes are over log.max_pending) the
 * tail thread waits and retries the same append: the tailer pauses, the
 * files wait on disk, and nothing grows in memory.
 */
#include "input/tail/tail.h"

#include "core/alloc.h"
#include "core/crc32c.h"
#include "core/logging.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void tail_options_defaults(tail_options *o)
{
    memset(o, 0, sizeof *o);
    o->name = "tail";
    o->format = "combined";
    o->topic = SL_PIXEL_TOPIC;
    o->max_line_size = 64 * 1024;
    o->read_from_head = true;
    o->refresh_us = 1000000;
    o->rotate_wait_us = 5000000;
    o->batch_lines = 4096;
    o->batch_bytes = 1 << 20;
    o->max_inflight = 16;
    o->workers = 2;
    o->pos_interval_us = 500000;
}

static void conv_init(tail_conv *cv, int64_t max_line_size)
{
    cv->builder = sl_pixel_builder_new();
    cv->scratch_cap = (size_t)max_line_size + 64;
    cv->scratch = sl_malloc(cv->scratch_cap);
}

static void conv_free(tail_conv *cv)
{
    sl_pixel_builder_free(cv->builder);
    free(cv->scratch);
}

/* ---- metrics ------------------------------------------------------------------ */

static void metrics_init(tail_input *t)
{
    sl_metric_family *lines = sl_metrics_family(
        "sluice_tail_lines_total", "Lines read by a tail input and made durable in the log.",
        SL_COUNTER, "input");
    sl_metric_family *bytes = sl_metrics_family(
        "sluice_tail_bytes_total", "Bytes of lines read by a tail input and made durable.",
        SL_COUNTER, "input");
    sl_metric_family *rejected = sl_metrics_family(
        "sluice_tail_rejected_total",
        "Lines a tail input sent to _dlq, by reason (malformed_line, line_too_long, bad_query).",
        SL_COUNTER, "input,reason");
    sl_metric_family *files = sl_metrics_family(
        "sluice_tail_files", "Files a tail input follows (rotated ones still being read included).",
        SL_GAUGE, "input");
    sl_metric_family *rotations = sl_metrics_family(
        "sluice_tail_rotations_total", "Rotations a tail input noticed, by kind (rename, truncate).",
        SL_COUNTER, "input,kind");
    t->m_lines = sl_metric_get1(lines, t->name);
    t->m_bytes = sl_metric_get1(bytes, t->name);
    t->m_files = sl_metric_get1(files, t->name);
    t->m_rej_malformed = sl_metric_get2(rejected, t->name, "malformed_line");
    t->m_rej_long = sl_metric_get2(rejected, t->name, "line_too_long");
    t->m_rej_query = sl_metric_get2(rejected, t->name, "bad_query");
    t->m_rot_rename = sl_metric_get2(rotations, t->name, "rename");
    t->m_rot_truncate = sl_metric_get2(rotations, t->name, "truncate");
}

void tail_note_rotation(tail_input *t, bool truncation)
{
    sl_counter_add(truncation ? t->m_rot_truncate : t->m_rot_rename, 1);
    if (truncation)
        t->stats.truncations++;
    else
        t->stats.rotations++;
}

/* ---- the position file ---------------------------------------------------------- */

static int write_positions(tail_input *t)
{
    tail_pos_entry *e = sl_calloc(t->nfiles ? t->nfiles : 1, sizeof *e);
    size_t n = 0;
    for (tail_file *f = t->files; f; f = f->next) {
        if (f->gone && f->inflight == 0)
            continue;
        e[n++] = (tail_pos_entry){ .path = f->path, .dev = f->dev, .ino = f->ino,
                                   .offset = f->committed,
                                   .pending = f->pending > f->committed ? f->pending : 0,
                                   .fp_len = f->head_len,
                                   .fp_crc = sl_crc32c(0, f->head, f->head_len) };
    }
    int rc = tail_pos_write(t->pos_path, e, n);
    free(e);
    if (rc < 0) {
        SL_LOG_ERRNO(SL_LOG_ERROR, t->tag, rc, "cannot write the position file %s", t->pos_path);
        return rc;
    }
    t->stats.pos_writes++;
    t->pos_dirty = false;
    t->last_pos_us = sl_mono_us();
    return 0;
}

/* ---- appending -------------------------------------------------------------------- */

static void batch_done(void *opaque, int status, const int32_t *partitions,
                       const int64_t *offsets, size_t n)
{
    SL_UNUSED(partitions);
    SL_UNUSED(offsets);
    SL_UNUSED(n);
    tail_batch *b = opaque;
    tail_input *t = b->input;
    pthread_mutex_lock(&t->lock);
    if (status < 0 && b->status == 0)
        b->status = status;
    if (--b->outstanding == 0) {
        b->done = true;
        t->woken = true;
        pthread_cond_signal(&t->cond);
    }
    pthread_mutex_unlock(&t->lock);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Hand b's appends that are not yet with the log to it. 0, or the error of
   an append the log refused outright (b is then marked failed). b is not
   done before this returns (it holds a reference of its own in
   outstanding), so a retry never runs on a batch still being appended. */
static int batch_append(tail_input *t, tail_batch *b)
{
    const char *topics[2] = { t->topic, SL_DLQ_TOPIC };
    size_t counts[2] = { b->nrec, b->ndlq };
    int pending = 0;
    for (int k = 0; k < 2; k++)
        if (counts[k] && !b->submitted[k])
            pending++;
    pthread_mutex_lock(&t->lock);
    b->outstanding = pending + 1;
    b->status = 0;
    b->done = false;
    pthread_mutex_unlock(&t->lock);
    int result = 0;
    for (int k = 0; k < 2; k++) {
        if (!counts[k] || b->submitted[k])
            continue;
        struct tail_rec *src = k == 0 ? b->recs : b->dlq;
        const sl_buf *vals = k == 0 ? &b->values : &b->dlq_values;
        sl_record *recs = sl_malloc(counts[k] * sizeof *recs);
        for (size_t i = 0; i < counts[k]; i++)
            recs[i] = (sl_record){ .key = { b->keys.data + src[i].koff, src[i].klen },
                                   .value = { vals->data + src[i].voff, src[i].vlen },
                                   .ts_us = src[i].ts_us, .partition = SL_PARTITION_AUTO };
        int rc;
        for (int waited = 0;; waited++) {
            rc = sl_log_append_idempotent(t->log, topics[k], recs, counts[k],
                                          sl_view_of(b->idem), batch_done, b);
            if (rc != SL_ERR_FULL || atomic_load(&t->stop))
                break;
            /* Backpressure: the log is behind on its fsyncs. Pause. */
            if (waited == 0)
                atomic_fetch_add(&t->backpressure_waits, 1);
            sleep_ms(waited < 10 ? 2 : 20);
        }
        free(recs);
        if (rc < 0) { /* the callback will not run */
            pthread_mutex_lock(&t->lock);
            if (b->status == 0)
                b->status = rc;
            b->outstanding--;
            pthread_mutex_unlock(&t->lock);
            if (result == 0)
                result = rc;
            continue;
        }
        b->submitted[k] = true;
    }
    pthread_mutex_lock(&t->lock);
    if (--b->outstanding == 0) {
        b->done = true;
        t->woken = true;
        pthread_cond_signal(&t->cond);
    }
    pthread_mutex_unlock(&t->lock);
    return result;
}

/*
 * A short batch's end depends on how much NGINX had written: make it known
 * in the position file before the log can hold the batch, so a re-read
 * after a crash cuts the same batch. Done when it is cut, on the tail
 * thread, which owns every file's positions.
 */
static int announce(tail_input *t, tail_batch *b)
{
    tail_file *f = b->file;
    int64_t before = f->pending;
    f->pending = b->end;
    int rc = write_positions(t);
    if (rc < 0)
        f->pending = before;
    return rc;
}

/* A freshly cut batch: in line for its append, and to the workers (or
   converted here). When its announcement cannot be written it is never
   converted nor appended: the stage restarts and re-reads it. */
static int dispatch(tail_input *t, tail_batch *b)
{
    tail_file *f = b->file;
    b->input = t;
    b->next = NULL;
    if (f->fifo_tail)
        f->fifo_tail->next = b;
    else
        f->fifo_head = b;
    f->fifo_tail = b;
    f->inflight++;
    t->inflight++;
    t->stats.batches++;
    int rc = b->announce ? announce(t, b) : 0;
    pthread_mutex_lock(&t->lock);
    b->order_next = NULL;
    if (t->order_tail)
        t->order_tail->order_next = b;
    else
        t->order_head = b;
    t->order_tail = b;
    if (rc == 0 && t->nworkers > 0) {
        b->work_next = NULL;
        if (t->work_tail)
            t->work_tail->work_next = b;
        else
            t->work_head = b;
        t->work_tail = b;
        pthread_cond_signal(&t->work_cond);
    }
    pthread_mutex_unlock(&t->lock);
    if (rc == 0 && t->nworkers == 0) {
        tail_batch_convert(t, &t->conv, b);
        b->converted = true;
    }
    return rc;
}

/*
 * Append the converted batches at the head of the cut order, from any
 * thread; one appender at a time (t->appending), so appends keep the cut
 * order. A thread that finds another appending leaves the work to it: that
 * one re-checks the head after each append. Called with t->lock held;
 * returns with it held. The first error of an append the log refused
 * outright is kept in t->append_error for the tail thread.
 */
static void append_ready_locked(tail_input *t)
{
    if (t->appending)
        return;
    t->appending = true;
    for (;;) {
        tail_batch *b = t->order_head;
        if (!b || !b->converted)
            break;
        t->order_head = b->order_next;
        if (!t->order_head)
            t->order_tail = NULL;
        pthread_mutex_unlock(&t->lock);
        int rc = batch_append(t, b);
        pthread_mutex_lock(&t->lock);
        t->appended_any = true;
        if (rc < 0 && rc != SL_ERR_FULL && t->append_error == 0)
            t->append_error = rc;
    }
    t->appending = false;
}

/* The tail thread's turn at appending (workers: 0, closing), and the
   errors appends met. */
static int append_ready(tail_input *t, bool *progress)
{
    pthread_mutex_lock(&t->lock);
    append_ready_locked(t);
    if (t->appended_any) {
        t->appended_any = false;
        *progress = true;
    }
    int rc = t->append_error;
    t->append_error = 0;
    pthread_mutex_unlock(&t->lock);
    if (rc < 0)
        SL_LOG_ERRNO(SL_LOG_ERROR, t->tag, rc, "cannot append to %s", t->topic);
    return rc;
}

static void *worker_main(void *arg)
{
    tail_input *t = arg;
    tail_conv cv;
    conv_init(&cv, t->o.max_line_size);
    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (!t->work_head && !t->workers_quit)
            pthread_cond_wait(&t->work_cond, &t->lock);
        tail_batch *b = t->work_head;
        if (!b)
            break; /* quitting, nothing left */
        t->work_head = b->work_next;
        if (!t->work_head)
            t->work_tail = NULL;
        pthread_mutex_unlock(&t->lock);
        tail_batch_convert(t, &cv, b);
        pthread_mutex_lock(&t->lock);
        b->converted = true;
        append_ready_locked(t);
        t->woken = true;
        pthread_cond_signal(&t->cond);
    }
    pthread_mutex_unlock(&t->lock);
    conv_free(&cv);
    return NULL;
}

static void workers_start(tail_input *t)
{
    int n = t->o.workers < 0 ? 0 : SL_MIN(t->o.workers, 16);
    t->worker_threads = sl_calloc((size_t)(n ? n : 1), sizeof *t->worker_threads);
    for (int i = 0; i < n; i++) {
        if (pthread_create(&t->worker_threads[i], NULL, worker_main, t) != 0)
            break;
        t->nworkers++;
    }
}

/* Let the workers finish what is queued, then end them. */
static void workers_stop(tail_input *t)
{
    pthread_mutex_lock(&t->lock);
    t->workers_quit = true;
    pthread_cond_broadcast(&t->work_cond);
    pthread_mutex_unlock(&t->lock);
    for (int i = 0; i < t->nworkers; i++)
        pthread_join(t->worker_threads[i], NULL);
    free(t->worker_threads);
    t->worker_threads = NULL;
    t->nworkers = 0;
}

/* Advance files over their completed batches, in order; retry failed ones. */
static int process_completions(tail_input *t, bool *progress)
{
    bool may_retry = !atomic_load(&t->stop);
    tail_batch *finished = NULL, *retry[64];
    int nretry = 0;
    pthread_mutex_lock(&t->lock);
    for (tail_file *f = t->files; f; f = f->next) {
        while (f->fifo_head && f->fifo_head->done) {
            tail_batch *b = f->fifo_head;
            if (b->status < 0) {
                /* Stopping: left for the next start to re-read. */
                if (may_retry && nretry < (int)SL_ARRAY_LEN(retry))
                    retry[nretry++] = b;
                break;
            }
            f->fifo_head = b->next;
            if (!f->fifo_head)
                f->fifo_tail = NULL;
            f->committed = b->end;
            f->inflight--;
            t->inflight--;
            t->pos_dirty = true;
            t->stats.lines += b->lines;
            t->stats.bytes += b->bytes;
            t->stats.events += b->nrec;
            t->stats.rejected += b->ndlq;
            b->next = finished;
            finished = b;
        }
    }
    pthread_mutex_unlock(&t->lock);
    while (finished) {
        tail_batch *next = finished->next;
        sl_counter_add(t->m_lines, finished->lines);
        sl_counter_add(t->m_bytes, finished->bytes);
        tail_batch_recycle(t, finished);
        finished = next;
        *progress = true;
    }
    for (int i = 0; i < nretry; i++) {
        /* Appending the same batch again with its key cannot store it twice. */
        SL_LOG_ERRNO(SL_LOG_WARN, t->tag, retry[i]->status, "append of %s bytes %" PRId64
                     "..%" PRId64 " failed; retrying", retry[i]->file->path, retry[i]->start,
                     retry[i]->end);
        sleep_ms(100);
        int rc = batch_append(t, retry[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- one file per round ------------------------------------------------------------ */

static void restart_truncated(tail_input *t, tail_file *f)
{
    f->committed = f->issued = f->pending = 0;
    f->len = f->scanned = f->line_end = 0;
    f->nlines = 0;
    f->skipping = false;
    f->must_cut_at_pending = false;
    f->paused = false;
    f->at_eof = false;
    f->head_len = 0;
    tail_watch_grow_head(f);
    t->pos_dirty = true;
}

static int pump_file(tail_input *t, tail_file *f, int64_t now, bool *progress)
{
    if (f->paused) {
        /* Truncated without a copy: what was read before still counts. */
        tail_batch *b = tail_file_cut(t, f, true, false);
        if (b)
            return dispatch(t, b);
        if (f->inflight == 0)
            restart_truncated(t, f);
        return 0;
    }
    bool checked = false, read_nothing = false;
    for (int round = 0; round < 64; round++) {
        if (t->inflight >= t->o.max_inflight)
            return 0;
        bool final = f->rotated && f->at_eof && now - f->quiet_since_us >= t->o.rotate_wait_us;
        tail_batch *b = tail_file_cut(t, f, f->at_eof, final);
        if (b) {
            *progress = true;
            int rc = dispatch(t, b);
            if (rc < 0)
                return rc; /* the stage restarts and re-reads from the file */
            continue;
        }
        if (final) {
            if (f->inflight == 0 && f->len == 0 && !f->skipping) {
                SL_INFO(t->tag, "finished %s (inode %" PRIu64 ") at byte %" PRId64, f->path,
                        f->ino, f->committed);
                f->gone = true;
                t->pos_dirty = true;
            }
            return 0;
        }
        if (read_nothing)
            return 0;
        if (!checked) {
            checked = true;
            if (tail_watch_check(t, f))
                return 0; /* truncated: handled from the next round on */
        }
        size_t got = 0;
        int rc = tail_file_fill(t, f, &got);
        if (rc < 0) {
            SL_LOG_ERRNO(SL_LOG_WARN, t->tag, rc, "cannot read %s", f->path);
            return 0;
        }
        if (got) {
            *progress = true;
            f->quiet_since_us = now;
            if (f->head_len < TAIL_HEAD_MAX)
                tail_watch_grow_head(f);
        } else {
            read_nothing = true;
            if (f->must_cut_at_pending && f->issued + (int64_t)f->len < f->pending &&
                f->at_eof && f->len == f->line_end) {
                /* The announced batch is not all there any more. */
                f->must_cut_at_pending = false;
            }
        }
    }
    return 0;
}

int tail_input_poll(tail_input *t, bool *progress)
{
    *progress = false;
    int64_t now = sl_mono_us();
    if (now - t->last_scan_us >= t->o.refresh_us) {
        tail_watch_scan(t, false);
        t->last_scan_us = now;
    }
    int rc = process_completions(t, progress);
    if (rc < 0)
        return rc;
    for (tail_file *f = t->files; f; f = f->next) {
        if (f->gone)
            continue;
        rc = pump_file(t, f, now, progress);
        if (rc < 0)
            return rc;
        rc = append_ready(t, progress);
        if (rc < 0)
            return rc;
    }
    rc = append_ready(t, progress);
    if (rc < 0)
        return rc;
    /* Forget finished files. */
    for (tail_file **pp = &t->files; *pp;) {
        tail_file *f = *pp;
        if (f->gone && f->inflight == 0) {
            *pp = f->next;
            t->nfiles--;
            tail_file_free(f);
            t->pos_dirty = true;
        } else {
            pp = &f->next;
        }
    }
    sl_gauge_set(t->m_files, (double)t->nfiles);
    if (t->pos_dirty && sl_mono_us() - t->last_pos_us >= t->o.pos_interval_us) {
        rc = write_positions(t);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void tail_input_wait(tail_input *t, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    while (!t->woken)
        if (pthread_cond_timedwait(&t->cond, &t->lock, &until) != 0)
            break;
    t->woken = false;
    pthread_mutex_unlock(&t->lock);
}

void tail_input_wake(tail_input *t)
{
    pthread_mutex_lock(&t->lock);
    t->woken = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

void tail_input_request_stop(tail_input *t)
{
    atomic_store(&t->stop, true);
    tail_input_wake(t);
}

void tail_input_stats(tail_input *t, tail_stats *out)
{
    *out = t->stats;
    out->backpressure_waits = atomic_load(&t->backpressure_waits);
    out->files = t->nfiles;
    out->inflight = (size_t)t->inflight;
}

/* ---- open and close ------------------------------------------------------------------ */

static int mkdir_p(const char *dir)
{
    char *p = sl_strdup(dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            int e = -errno;
            free(p);
            return e;
        }
        *s = '/';
    }
    int rc = mkdir(p, 0755) < 0 && errno != EEXIST ? -errno : 0;
    free(p);
    return rc;
}

static void free_input(tail_input *t)
{
    for (tail_file *f = t->files; f;) {
        tail_file *next = f->next;
        for (tail_batch *b = f->fifo_head; b;) {
            tail_batch *bn = b->next;
            tail_batch_free(b);
            b = bn;
        }
        tail_file_free(f);
        f = next;
    }
    tail_batch_spares_free(t);
    tail_pos_free(t->restored, t->nrestored);
    for (size_t i = 0; t->paths && t->paths[i]; i++)
        free(t->paths[i]);
    free(t->paths);
    free(t->name);
    free(t->format_text);
    free(t->topic);
    free(t->pos_path);
    sl_nginx_format_free(t->format);
    conv_free(&t->conv);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    pthread_cond_destroy(&t->work_cond);
    free(t);
}

int tail_input_open(const tail_options *o, sl_log *log, tail_input **out, char *err,
                    size_t errlen)
{
    tail_input *t = sl_calloc(1, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    pthread_cond_init(&t->work_cond, NULL);
    t->o = *o;
    t->log = log;
    t->name = sl_strdup(o->name);
    t->format_text = sl_strdup(o->format);
    t->topic = sl_strdup(o->topic);
    t->pos_path = sl_strdup(o->pos_file);
    size_t np = 0;
    while (o->paths && o->paths[np])
        np++;
    t->paths = sl_calloc(np + 1, sizeof *t->paths);
    for (size_t i = 0; i < np; i++)
        t->paths[i] = sl_strdup(o->paths[i]);
    t->o.name = t->name;
    t->o.format = t->format_text;
    t->o.topic = t->topic;
    t->o.pos_file = t->pos_path;
    t->o.paths = t->paths;
    if (t->o.max_inflight < 1)
        t->o.max_inflight = 1;
    if (t->o.batch_lines < 1)
        t->o.batch_lines = 1;
    if (t->o.batch_bytes < 1)
        t->o.batch_bytes = 1;
    snprintf(t->tag, sizeof t->tag, "input:%s", t->name);

    sl_nginx_error nerr = { 0 };
    if (sl_nginx_format_new(o->format, &t->format, &nerr) < 0) {
        snprintf(err, errlen, "format: %s", nerr.message);
        free_input(t);
        return SL_ERR_CONFIG;
    }
    t->idx_addr = sl_nginx_format_index(t->format, "remote_addr");
    t->idx_ua = sl_nginx_format_index(t->format, "http_user_agent");
    t->idx_referer = sl_nginx_format_index(t->format, "http_referer");
    conv_init(&t->conv, o->max_line_size);

    char *dir_copy = sl_strdup(t->pos_path);
    int rc = mkdir_p(dirname(dir_copy));
    free(dir_copy);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", t->pos_path,
                 sl_strerror(rc));
        free_input(t);
        return rc;
    }
    char perr[256] = "";
    rc = tail_pos_read(t->pos_path, &t->restored, &t->nrestored, perr, sizeof perr);
    if (rc == -ENOENT) {
        t->pos_existed = false;
    } else if (rc < 0) {
        snprintf(err, errlen, "position file %s: %s%s(move it away to start over: the "
                 "input would then read every file from the start)", t->pos_path,
                 perr[0] ? perr : sl_strerror(rc), perr[0] ? " " : "");
        free_input(t);
        return rc;
    } else {
        t->pos_existed = true;
    }
    metrics_init(t);
    tail_watch_scan(t, true);
    t->last_scan_us = t->last_pos_us = sl_mono_us();
    t->pos_dirty = true;
    workers_start(t);
    *out = t;
    return 0;
}

/* Wait until the log has answered every batch in flight; with commit,
   advance over the completed ones as usual. */
static void drain(tail_input *t, bool commit)
{
    int64_t warned = sl_mono_us();
    for (;;) {
        bool progress;
        if (commit)
            process_completions(t, &progress);
        pthread_mutex_lock(&t->lock);
        int open = 0;
        for (tail_file *f = t->files; f; f = f->next)
            for (tail_batch *b = f->fifo_head; b; b = b->next)
                open += !b->done;
        pthread_mutex_unlock(&t->lock);
        if (open == 0)
            return;
        if (sl_mono_us() - warned > 5000000) {
            SL_WARN(t->tag, "waiting for %d batches the log has not acknowledged", open);
            warned = sl_mono_us();
        }
        tail_input_wait(t, 20);
    }
}

/* Batches cut but never handed to the log (stopping): forget them; their
   lines are read again at the next start. */
static void drop_unappended(tail_input *t)
{
    for (tail_batch *b = t->order_head; b; b = b->order_next) {
        pthread_mutex_lock(&t->lock);
        b->done = true;
        b->status = SL_ERR_CLOSED;
        b->outstanding = 0;
        pthread_mutex_unlock(&t->lock);
    }
    t->order_head = t->order_tail = NULL;
}

void tail_input_close(tail_input *t)
{
    if (!t)
        return;
    atomic_store(&t->stop, true);
    workers_stop(t);
    bool progress;
    append_ready(t, &progress); /* what was cut goes in; "full" now gives up */
    drop_unappended(t);
    drain(t, true);
    write_positions(t);
    free_input(t);
}

void tail_input_abandon(tail_input *t)
{
    if (!t)
        return;
    atomic_store(&t->stop, true);
    /* Hold the appender's turn: the workers finish converting what they
       have but hand nothing more to the log, as after a kill -9. Appends
       already under way complete. */
    pthread_mutex_lock(&t->lock);
    while (t->appending) {
        pthread_mutex_unlock(&t->lock);
        sleep_ms(1);
        pthread_mutex_lock(&t->lock);
    }
    t->appending = true;
    pthread_mutex_unlock(&t->lock);
    workers_stop(t);
    drop_unappended(t);
    drain(t, false);
    free_input(t);
}
