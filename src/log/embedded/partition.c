/*
 * partition.c - one topic-partition of the embedded log: its segments,
 * recovery at open, the locked steps of an append, rolling, retention,
 * reads (waiting for data) and, in read-only mode, following a log that
 * another process is writing.
 *
 * The segments of a partition are an array ordered by base offset; the
 * last one is active. Readers never see past a segment's `size`, which
 * only moves forward once a batch is fully written (publish), so they need
 * no more than the partition lock to find their place and then read from a
 * dup(2) of the segment's descriptor without any lock: a later retention
 * pass may unlink and close the segment, and the dup still reads it.
 */
#include "log/embedded/embedded_int.h"

#include "core/alloc.h"
#include "core/logging.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static log_segment *segment_new(int64_t base, int fd)
{
    log_segment *s = sl_calloc(1, sizeof *s);
    s->base = s->end = s->last_batch_base = base;
    s->created_us = sl_now_us();
    s->fd = fd;
    log_index_init(&s->index);
    return s;
}

static void segment_free(log_segment *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    log_index_free(&s->index);
    free(s);
}

static void segs_push(log_partition *p, log_segment *s)
{
    if (p->nsegs == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->segs = sl_realloc(p->segs, p->cap * sizeof *p->segs);
    }
    p->segs[p->nsegs++] = s;
}

static log_segment *active(log_partition *p)
{
    return p->nsegs ? p->segs[p->nsegs - 1] : NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The base offsets of the .log files in dir, sorted; -ENOENT if no dir. */
static int list_bases(const char *dir, int64_t **out, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int64_t *bases = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t base;
        if (log_segment_parse_name(e->d_name, ".log", &base) != 0)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            bases = sl_realloc(bases, cap * sizeof *bases);
        }
        bases[cnt++] = base;
    }
    closedir(d);
    if (cnt)
        qsort(bases, cnt, sizeof *bases, cmp_i64);
    *out = bases;
    *n = cnt;
    return 0;
}

typedef struct scan_ctx {
    log_segment *s;
    log_partition *p; /* NULL: do not collect idempotency keys */
} scan_ctx;

static int scan_note(void *arg, const log_batch_header *h, int64_t pos, const uint8_t *batch)
{
    scan_ctx *c = arg;
    log_index_note_batch(&c->s->index, c->s->base, h, pos);
    c->s->last_batch_base = h->base_offset;
    sl_view key;
    if (c->p && log_batch_producer_key(batch, h, &key))
        log_producers_insert(&c->p->producers, key, h->base_offset, h->record_count);
    return 0;
}

/*
 * Scan a segment from its start, rebuilding its in-memory index, and cut
 * an invalid tail (not in read-only mode, where the tail of the last
 * segment may be a batch being written by the owner of the log).
 */
static int segment_recover(embedded_log *log, log_partition *p, log_segment *s,
                           int64_t file_size, bool last)
{
    log_scan sc;
    log_index_free(&s->index);
    s->size = 0;
    /* The last segment's keys are what a retry after a crash is checked against. */
    scan_ctx ctx = { .s = s, .p = last && !log->read_only ? p : NULL };
    int rc = log_segment_scan(s->fd, 0, file_size, s->base, 0, scan_note, &ctx, &sc);
    if (rc)
        return rc;
    s->size = sc.valid_bytes;
    s->end = sc.next_offset;
    if (sc.stop == LOG_BATCH_OK)
        return 0;
    int64_t dropped = file_size - sc.valid_bytes;
    char where[64];
    if (sc.batches)
        snprintf(where, sizeof where, "after offset %" PRId64, sc.next_offset - 1);
    else
        snprintf(where, sizeof where, "at offset %" PRId64, s->base);
    if (!log->read_only) {
        if (ftruncate(s->fd, sc.valid_bytes) != 0 || fdatasync(s->fd) != 0)
            return -errno;
        log_report(log, "recovered %s: dropped %" PRId64 " bytes %s in %020" PRId64 ".log (%s)",
                   p->label, dropped, where, s->base, log_batch_status_name(sc.stop));
        char id[16];
        snprintf(id, sizeof id, "%d", p->id);
        sl_counter_add(sl_metric_get2(log->f_recovered, p->topic->name, id), (uint64_t)dropped);
    } else if (!last) {
        log_report(log, "%s: %" PRId64 " invalid bytes %s in %020" PRId64
                   ".log (%s); a writable open will drop them",
                   p->label, dropped, where, s->base, log_batch_status_name(sc.stop));
    }
    return 0;
}

/* Open segment base of p and bring it into the partition. */
static int segment_load(embedded_log *log, log_partition *p, int64_t base, bool last)
{
    char path[4096];
    log_segment_path(path, sizeof path, p->dir, base, ".log");
    int fd = open(path, (log->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    log_segment *s = segment_new(base, fd), *prev = active(p);
    if (prev && base < prev->end) {
        log_report(log, "%s: segment %020" PRId64 ".log overlaps offsets up to %" PRId64
                   "; ignored", p->label, base, prev->end - 1);
        segment_free(s);
        return 0;
    }
    if (prev && base > prev->end)
        log_report(log, "%s: offsets %" PRId64 "..%" PRId64 " are missing before %020" PRId64
                   ".log", p->label, prev->end, base - 1, base);

    int rc = -ENOENT;
    if (!last) {
        int64_t end;
        rc = log_index_load(&s->index, p->dir, base, fd, st.st_size, &end);
        if (rc == 0) {
            s->size = st.st_size;
            s->end = end;
        }
    }
    if (rc != 0) {
        int err = segment_recover(log, p, s, st.st_size, last);
        if (err) {
            segment_free(s);
            return err;
        }
        if (!log->read_only) {
            err = log_index_write(&s->index, p->dir, base, s->last_batch_base, false);
            if (err)
                SL_LOG_ERRNO(SL_LOG_WARN, TAG, err, "%s: cannot write the index of %020" PRId64
                             ".log", p->label, base);
            else if (!last)
                log_report(log, "%s: rebuilt the %s index of %020" PRId64 ".log", p->label,
                           rc == -ENOENT ? "missing" : "stale", base);
        }
    }
    segs_push(p, s);
    return 0;
}

static int segment_create(embedded_log *log, log_partition *p, int64_t base)
{
    char path[4096];
    log_segment_path(path, sizeof path, p->dir, base, ".log");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (log->fsync != SL_FSYNC_OS)
        log_fsync_dir(p->dir);
    segs_push(p, segment_new(base, fd));
    return 0;
}

int log_partition_open(embedded_log *log, log_topic *t, log_partition *p, int32_t id)
{
    int64_t *bases = NULL;
    size_t nbases = 0;
    int rc;
    char idtext[16];

    p->topic = t;
    p->id = id;
    p->dir = sl_asprintf("%s/%d", t->dir, id);
    p->label = sl_asprintf("%s/%d", t->name, id);
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->data_cond, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(idtext, sizeof idtext, "%d", id);
    p->m_start = sl_metric_get2(log->f_start, t->name, idtext);
    p->m_end = sl_metric_get2(log->f_end, t->name, idtext);

    if (!log->read_only) {
        rc = log_mkdirs(p->dir);
        if (rc)
            goto out;
    }
    rc = list_bases(p->dir, &bases, &nbases);
    if (rc == -ENOENT && log->read_only)
        rc = 0;
    if (rc)
        goto out;
    for (size_t i = 0; i < nbases; i++) {
        rc = segment_load(log, p, bases[i], i + 1 == nbases);
        if (rc) {
            SL_LOG_ERRNO(SL_LOG_ERROR, TAG, rc, "%s: cannot open segment %020" PRId64 ".log",
                         p->label, bases[i]);
            goto out;
        }
    }
    if (!p->nsegs && !log->read_only) {
        rc = segment_create(log, p, 0);
        if (rc)
            goto out;
    }
    p->start = p->nsegs ? p->segs[0]->base : 0;
    p->end = p->nsegs ? active(p)->end : 0;
out:
    free(bases);
    return rc;
}

void log_partition_close(embedded_log *log, log_partition *p)
{
    if (!p->dir)
        return; /* never opened */
    log_segment *last = active(p);
    if (last && !log->read_only && last->size > 0) {
        int rc = log_index_write(&last->index, p->dir, last->base, last->last_batch_base,
                                 log->fsync != SL_FSYNC_OS);
        if (rc)
            SL_LOG_ERRNO(SL_LOG_WARN, TAG, rc, "%s: cannot write the index", p->label);
    }
    for (size_t i = 0; i < p->nsegs; i++)
        segment_free(p->segs[i]);
    log_producers_free(&p->producers);
    free(p->segs);
    free(p->dir);
    free(p->label);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->data_cond);
    memset(p, 0, sizeof *p);
}

/* ---- appending (p->lock held) ------------------------------------------- */

static int partition_roll_locked(embedded_log *log, log_partition *p)
{
    log_segment *old = active(p);
    int rc;
    if (log->fsync != SL_FSYNC_OS) {
        rc = log_fsync_fd(log, old->fd);
        if (rc) {
            atomic_store(&p->broken, rc);
            return rc;
        }
    }
    rc = log_index_write(&old->index, p->dir, old->base, old->last_batch_base,
                         log->fsync != SL_FSYNC_OS);
    if (rc)
        SL_LOG_ERRNO(SL_LOG_WARN, TAG, rc, "%s: cannot write the index of %020" PRId64 ".log",
                     p->label, old->base);
    rc = segment_create(log, p, p->end);
    if (rc) {
        SL_LOG_ERRNO(SL_LOG_ERROR, TAG, rc, "%s: cannot create segment %020" PRId64 ".log",
                     p->label, p->end);
        return rc;
    }
    SL_DEBUG(TAG, "%s: rolled to segment %020" PRId64 ".log", p->label, p->end);
    return 0;
}

int log_partition_prepare_locked(embedded_log *log, log_partition *p, int64_t len)
{
    int broken = atomic_load(&p->broken);
    if (broken)
        return broken;
    log_segment *s = active(p);
    const sl_topic_spec *spec = &p->topic->spec;
    bool full = s->size > 0 && s->size + len > spec->segment_bytes;
    bool old = s->size > 0 && spec->segment_ms > 0 &&
               sl_now_us() - s->created_us >= spec->segment_ms * 1000;
    return full || old ? partition_roll_locked(log, p) : 0;
}

int log_partition_write_locked(embedded_log *log, log_partition *p, uint8_t *batch, size_t len)
{
    (void)log;
    log_segment *s = active(p);
    log_batch_set_base_offset(batch, p->end);
    size_t done = 0;
    int rc = 0;
    while (done < len) {
        ssize_t k = pwrite(s->fd, batch + done, len - done, s->size + (int64_t)done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = k < 0 ? -errno : -EIO;
            break;
        }
        done += (size_t)k;
    }
    if (rc) {
        SL_LOG_ERRNO(SL_LOG_ERROR, TAG, rc, "%s: write to %020" PRId64 ".log failed", p->label,
                     s->base);
        if (ftruncate(s->fd, s->size) != 0) {
            SL_LOG_ERRNO(SL_LOG_ERROR, TAG, errno, "%s: cannot truncate a failed write; "
                         "appends stop until the log is reopened", p->label);
            atomic_store(&p->broken, -EIO);
        }
        return rc;
    }
    p->written_len = (int64_t)len;
    return 0;
}

void log_partition_unwrite_locked(embedded_log *log, log_partition *p)
{
    (void)log;
    log_segment *s = active(p);
    if (p->written_len && ftruncate(s->fd, s->size) != 0) {
        SL_LOG_ERRNO(SL_LOG_ERROR, TAG, errno, "%s: cannot truncate an unfinished append; "
                     "appends stop until the log is reopened", p->label);
        atomic_store(&p->broken, -EIO);
    }
    p->written_len = 0;
}

void log_partition_publish_locked(log_partition *p, const uint8_t *batch, size_t len)
{
    log_segment *s = active(p);
    log_batch_header h;
    log_batch_header_parse(batch, len, &h);
    log_index_note_batch(&s->index, s->base, &h, s->size);
    s->size += (int64_t)len;
    s->last_batch_base = h.base_offset;
    s->end = p->end = h.base_offset + h.record_count;
    p->written_len = 0;
    p->dirty = true;
    pthread_cond_broadcast(&p->data_cond);
}

int log_partition_sync_begin(log_partition *p)
{
    pthread_mutex_lock(&p->lock);
    int fd = p->dirty && p->nsegs ? active(p)->fd : -1;
    p->dirty = false;
    pthread_mutex_unlock(&p->lock);
    return fd;
}

int log_partition_sync_end(embedded_log *log, log_partition *p, int fd)
{
    /* fd stays open without the lock: only housekeeping closes segments,
       and it holds maint_lock, as the syncer does for the whole round. */
    int rc = log_fsync_fd(log, fd);
    if (rc) {
        SL_LOG_ERRNO(SL_LOG_ERROR, TAG, rc, "%s: fsync failed; appends stop until the log is "
                     "reopened", p->label);
        int zero = 0;
        atomic_compare_exchange_strong(&p->broken, &zero, rc);
    }
    return rc;
}

/* ---- retention ------------------------------------------------------------ */

static void segment_unlink(log_partition *p, log_segment *s)
{
    static const char *const exts[] = { ".log", ".index", ".timeindex" };
    char path[4096];
    for (int i = 0; i < 3; i++) {
        log_segment_path(path, sizeof path, p->dir, s->base, exts[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            SL_LOG_ERRNO(SL_LOG_WARN, TAG, errno, "cannot delete %s", path);
    }
}

int log_partition_housekeeping(embedded_log *log, log_partition *p, int64_t now_us)
{
    const sl_topic_spec *spec = &p->topic->spec;
    int deleted = 0;

    pthread_mutex_lock(&p->lock);
    log_segment *s = active(p);
    if (s && s->size > 0 && spec->segment_ms > 0 && now_us - s->created_us >= spec->segment_ms * 1000 &&
        !atomic_load(&p->broken))
        partition_roll_locked(log, p);

    int64_t total = 0;
    for (size_t i = 0; i < p->nsegs; i++)
        total += p->segs[i]->size;
    while (p->nsegs > 1) {
        log_segment *first = p->segs[0];
        bool aged = spec->retention_ms > 0 && first->index.max_ts_us != INT64_MIN &&
                    first->index.max_ts_us < now_us - spec->retention_ms * 1000;
        bool over = spec->retention_bytes > 0 && total - first->size >= spec->retention_bytes;
        if (!aged && !over && first->size > 0)
            break;
        segment_unlink(p, first);
        SL_INFO(TAG, "%s: deleted segment %020" PRId64 ".log (offsets %" PRId64 "..%" PRId64
                ", %s)", p->label, first->base, first->base, first->end - 1,
                aged ? "retention.ms" : over ? "retention.bytes" : "empty");
        total -= first->size;
        memmove(p->segs, p->segs + 1, (p->nsegs - 1) * sizeof *p->segs);
        p->nsegs--;
        segment_free(first);
        deleted++;
    }
    if (deleted) {
        p->start = p->segs[0]->base;
        log_fsync_dir(p->dir);
    }
    pthread_mutex_unlock(&p->lock);
    return deleted;
}

/* ---- following another process's writes (read-only) ------------------------ */

static void partition_refresh_locked(embedded_log *log, log_partition *p)
{
    log_segment *s = active(p);
    bool clean_end = true;
    if (s) {
        struct stat st;
        if (fstat(s->fd, &st) == 0 && st.st_size > s->size) {
            log_scan sc;
            scan_ctx ctx = { .s = s };
            if (log_segment_scan(s->fd, s->size, st.st_size, s->end, 0, scan_note, &ctx, &sc) == 0) {
                s->size = sc.valid_bytes;
                s->end = sc.next_offset;
            }
            clean_end = s->size == st.st_size;
        }
    }
    if (clean_end) {
        /* Segments the writer rolled to since (or the first one it created). */
        int64_t *bases = NULL;
        size_t n = 0;
        if (list_bases(p->dir, &bases, &n) == 0) {
            for (size_t i = 0; i < n; i++)
                if (!s || bases[i] > s->base)
                    if (segment_load(log, p, bases[i], i + 1 == n) != 0)
                        break;
            free(bases);
        }
    }
    if (p->nsegs) {
        p->start = p->segs[0]->base;
        p->end = active(p)->end;
    }
}

void log_partition_offsets(embedded_log *log, log_partition *p, int64_t *start, int64_t *end)
{
    pthread_mutex_lock(&p->lock);
    if (log->read_only)
        partition_refresh_locked(log, p);
    *start = p->start;
    *end = p->end;
    pthread_mutex_unlock(&p->lock);
}

/* ---- reading ------------------------------------------------------------------ */

typedef struct fetch_mem {
    sl_buf raw;      /* batches as read from the file */
    sl_buf plain;    /* decompressed records sections */
    sl_message *msgs;
    size_t msgs_cap;
} fetch_mem;

static void fetch_mem_free(void *arg)
{
    fetch_mem *m = arg;
    if (!m)
        return;
    sl_buf_free(&m->raw);
    sl_buf_free(&m->plain);
    free(m->msgs);
    free(m);
}

/*
 * The memory of the last released fetch, kept per thread for its next
 * read. A consumer polls and releases on one thread, batch after batch of
 * about the same size: reusing the buffers spares malloc a megabyte-sized
 * allocation per poll and the kernel the fresh pages behind it, and the
 * next read lands in memory that is already mapped and cached. Buffers
 * past FETCH_SPARE_MAX are not kept; a thread's spare is freed when it
 * exits.
 */
#define FETCH_SPARE_MAX (16u << 20)
static pthread_key_t fetch_spare_key;
static pthread_once_t fetch_spare_once = PTHREAD_ONCE_INIT;

static void fetch_spare_init(void)
{
    pthread_key_create(&fetch_spare_key, fetch_mem_free);
}

static fetch_mem *fetch_mem_get(void)
{
    pthread_once(&fetch_spare_once, fetch_spare_init);
    fetch_mem *m = pthread_getspecific(fetch_spare_key);
    if (!m)
        return sl_calloc(1, sizeof *m);
    pthread_setspecific(fetch_spare_key, NULL);
    return m;
}

static void fetch_release(sl_fetch *f)
{
    fetch_mem *m = f->priv;
    if (!m)
        return;
    if (m->raw.cap + m->plain.cap > FETCH_SPARE_MAX ||
        pthread_getspecific(fetch_spare_key) != NULL) {
        fetch_mem_free(m);
        return;
    }
    sl_buf_reset(&m->raw);
    sl_buf_reset(&m->plain);
    if (pthread_setspecific(fetch_spare_key, m) != 0)
        fetch_mem_free(m);
}

/* Read [pos, pos + n) at the end of b; a short file is SL_ERR_CORRUPT. */
static int pread_append(int fd, sl_buf *b, int64_t pos, size_t n)
{
    if (sl_buf_try_reserve(b, n) != 0)
        return -ENOMEM;
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, b->data + b->len + got, n - got, pos + (int64_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            return SL_ERR_CORRUPT;
        got += (size_t)k;
    }
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/*
 * Fill f from the batches in [pos, limit) of fd with records from offset
 * `from` on. In read-only mode an invalid batch ends the read quietly (it
 * can be one the writer has not finished); otherwise it is SL_ERR_CORRUPT.
 *
 * Batches are chosen whole (pass 1 stops after the one that reaches
 * max_bytes) and each is checked against its CRC once per read. With
 * LOG_READ_WHOLE_BATCHES the records are returned whole batches at a time
 * too; without it pass 2 stops at max_bytes of keys and values, as
 * sl_log_read promises, and the next read checks the cut batch again.
 */
static int read_batches(embedded_log *log, log_partition *p, int fd, int64_t pos, int64_t limit,
                        int64_t from, size_t max_records, size_t max_bytes, unsigned flags,
                        sl_fetch *f)
{
    fetch_mem *m = fetch_mem_get();
    ZSTD_DCtx *dctx = NULL;
    int rc = 0;
    size_t first_q = SIZE_MAX, end_q = 0, nrec = 0, plain_need = 0, want_records = 0;
    size_t batch_bytes = 0;
    bool compressed = false;

    size_t chunk = max_bytes > (8u << 20) ? (8u << 20) : max_bytes < (64u << 10) ? (64u << 10)
                                                                                   : max_bytes;
    size_t first_read = (int64_t)chunk < limit - pos ? chunk : (size_t)(limit - pos);
    rc = pread_append(fd, &m->raw, pos, first_read);
    if (rc)
        goto out;

    /* Pass 1: find the batches to return and what decoding them needs. */
    size_t q = 0;
    while ((int64_t)q < limit - pos) {
        const uint8_t *b = (const uint8_t *)m->raw.data + q;
        size_t avail = m->raw.len - q;
        log_batch_header h;
        log_batch_status st = log_batch_header_parse(b, avail, &h);
        size_t need = st == LOG_BATCH_TORN ? LOG_BATCH_HEADER_SIZE
                                           : st == LOG_BATCH_OK ? h.length : 0;
        if (need > avail) {
            if (first_q != SIZE_MAX)
                break; /* enough for this fetch */
            if ((int64_t)(q + need) > limit - pos) {
                st = LOG_BATCH_TORN;
            } else {
                /* Exactly up to the end of this batch: a batch longer than
                   a chunk is read once, and nothing after it is read only
                   to be thrown away. */
                rc = pread_append(fd, &m->raw, pos + (int64_t)m->raw.len, q + need - m->raw.len);
                if (rc)
                    goto out;
                continue;
            }
        }
        if (st == LOG_BATCH_OK)
            st = log_batch_check_crc(b, &h);
        if (st != LOG_BATCH_OK) {
            if (log->read_only)
                break;
            SL_ERROR(TAG, "%s: %s at position %" PRId64 " while reading offset %" PRId64,
                     p->label, log_batch_status_name(st), pos + (int64_t)q, from);
            rc = SL_ERR_CORRUPT;
            goto out;
        }
        q += h.length;
        int64_t last = h.base_offset + h.record_count;
        if (last <= from)
            continue;
        if (first_q == SIZE_MAX)
            first_q = q - h.length;
        end_q = q;
        nrec += h.record_count;
        want_records += (size_t)(last - (h.base_offset > from ? h.base_offset : from));
        if (h.attributes & LOG_BATCH_ATTR_ZSTD) {
            compressed = true;
            plain_need += h.records_size;
        }
        batch_bytes += h.length;
        if (want_records >= max_records || batch_bytes >= max_bytes)
            break;
    }
    if (first_q == SIZE_MAX)
        goto out;

    /* Pass 2: decode. plain is sized once so record views stay valid. */
    if (m->msgs_cap < nrec) {
        free(m->msgs);
        m->msgs = sl_malloc(nrec * sizeof *m->msgs);
        m->msgs_cap = nrec;
    }
    if (compressed) {
        sl_buf_reserve(&m->plain, plain_need);
        dctx = log_dctx_get(log);
    }
    size_t n = 0, bytes = 0;
    for (q = first_q; q < end_q && n < max_records;) {
        const uint8_t *b = (const uint8_t *)m->raw.data + q;
        log_batch_header h;
        log_batch_header_parse(b, m->raw.len - q, &h);
        q += h.length;
        const uint8_t *rec;
        size_t got;
        log_batch_status st = log_batch_records(b, &h, dctx, &m->plain, &rec);
        if (st == LOG_BATCH_OK)
            st = log_records_decode(rec, &h, p->id, from, m->msgs + n, max_records - n, &got);
        if (st != LOG_BATCH_OK) {
            SL_ERROR(TAG, "%s: batch at offset %" PRId64 ": %s", p->label, h.base_offset,
                     log_batch_status_name(st));
            rc = SL_ERR_CORRUPT;
            goto out;
        }
        for (size_t i = 0; i < got; i++) {
            size_t sz = m->msgs[n].key.len + m->msgs[n].value.len;
            if (n > 0 && bytes + sz > max_bytes && !(flags & LOG_READ_WHOLE_BATCHES)) {
                q = end_q;
                break;
            }
            bytes += sz;
            n++;
        }
    }
    f->msgs = m->msgs;
    f->n = n;
    if (n)
        f->next_offset = m->msgs[n - 1].offset + 1;
out:
    if (dctx)
        log_dctx_put(log, dctx);
    if (rc || !f->n) {
        fetch_release(&(sl_fetch){ .priv = m });
        f->msgs = NULL;
        f->n = 0;
    } else {
        f->priv = m;
        f->release = fetch_release;
    }
    return rc;
}

static size_t segment_for_offset(const log_partition *p, int64_t offset)
{
    size_t lo = 0, hi = p->nsegs; /* first segment with base > offset */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->segs[mid]->base <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t i = lo ? lo - 1 : 0;
    while (i + 1 < p->nsegs && p->segs[i]->end <= offset)
        i++; /* a gap (offsets lost to a repaired segment): skip forward */
    return i;
}

int log_partition_read(embedded_log *log, log_partition *p, int64_t offset, size_t max_records,
                       size_t max_bytes, int timeout_ms, unsigned flags, sl_fetch *f)
{
    if (max_records == 0)
        max_records = SIZE_MAX;
    if (max_bytes == 0)
        max_bytes = SIZE_MAX;
    f->topic = p->topic->name;
    f->partition = p->id;
    f->next_offset = offset;

    int64_t deadline = sl_mono_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (log->read_only && offset >= p->end)
            partition_refresh_locked(log, p);
        if (offset < p->start || offset > p->end) {
            pthread_mutex_unlock(&p->lock);
            return SL_ERR_RANGE;
        }
        if (offset < p->end)
            break;
        int64_t now = sl_mono_us();
        if (now >= deadline || atomic_load(&log->closing)) {
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
        if (log->read_only) {
            /* Another process writes: no condvar reaches us, so look again soon. */
            int64_t nap = deadline - now < 50000 ? deadline - now : 50000;
            pthread_mutex_unlock(&p->lock);
            usleep((useconds_t)nap);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        struct timespec ts = { deadline / 1000000, (deadline % 1000000) * 1000 };
        pthread_cond_timedwait(&p->data_cond, &p->lock, &ts);
    }

    log_segment *s = p->segs[segment_for_offset(p, offset)];
    int64_t from = offset > s->base ? offset : s->base;
    int64_t pos = log_index_lookup(&s->index, s->base, from);
    int64_t limit = s->size;
    int fd = dup(s->fd);
    pthread_mutex_unlock(&p->lock);
    if (fd < 0)
        return -errno;
    f->next_offset = from;
    int rc = read_batches(log, p, fd, pos, limit, from, max_records, max_bytes, flags, f);
    close(fd);
    return rc;
}
