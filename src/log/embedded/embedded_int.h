/*
 * embedded_int.h - the embedded log's shared internals: the log, its
 * topics and partitions, the append waiting for a group fsync, and the
 * functions the files of src/log/embedded/ call on each other.
 *
 * Locking, outermost first (never take an earlier one while holding a
 * later one):
 *   groups_lock      committed offsets in memory, group membership
 *   partition lock   segments, end offset, dirty flag (an append takes the
 *                    locks of every partition it touches, in ascending
 *                    partition order, so one call's batches land together)
 *   sync_lock        the queue of appends waiting for the group fsync
 *   poll_lock        the "something changed" condvar consumers wait on
 *   pool_lock        zstd contexts
 * Topics, their partitions array and the options never change after open.
 */
#ifndef SL_LOG_EMBEDDED_INT_H
#define SL_LOG_EMBEDDED_INT_H

#include "core/buf.h"
#include "core/metrics.h"
#include "log/embedded/embedded.h"
#include "log/embedded/index.h"
#include "log/embedded/producers.h"
#include "log/embedded/segment.h"
#include "log/log_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <zstd.h>

#define TAG "log"

#define LOG_DEFAULT_SEGMENT_BYTES (256LL << 20)
#define LOG_MAX_SEGMENT_BYTES     (2047LL << 20) /* index positions are u32 */
#define LOG_DEFAULT_SEGMENT_MS    (7LL * 24 * 3600 * 1000)
#define LOG_DEFAULT_GROUP_US      2000
#define LOG_DEFAULT_PENDING_BYTES (64LL << 20)
#define LOG_HOUSEKEEPING_US       (5LL * 1000 * 1000)

typedef struct embedded_log embedded_log;
typedef struct log_topic log_topic;
typedef struct log_groups log_groups;

typedef struct log_segment {
    int64_t base;            /* offset of its first record (the file name) */
    int64_t end;             /* offset after its last valid batch */
    int64_t size;            /* bytes of valid batches: readers stop here */
    int64_t last_batch_base; /* base offset of its last batch */
    int64_t created_us;      /* wall clock, for segment_ms */
    int fd;
    log_index index;
} log_segment;

typedef struct log_partition {
    log_topic *topic;
    int32_t id;
    char *dir;
    char *label;             /* "topic/partition", for messages */
    pthread_mutex_t lock;
    pthread_cond_t data_cond; /* broadcast when end grows or on close */
    log_segment **segs;       /* by base offset; the last is the active one */
    size_t nsegs, cap;
    int64_t start, end;
    bool dirty;               /* written since the syncer last looked */
    int64_t written_len;      /* bytes written by write_locked, not yet published */
    _Atomic int broken;             /* -errno after a failed fsync or rollback:
                                 appends fail until the log is reopened */
    log_producers producers;  /* recent idempotency keys (writable opens only) */
    sl_metric *m_start, *m_end;
} log_partition;

struct log_topic {
    sl_topic_spec spec;       /* spec.name is name */
    char *name;
    char *dir;
    log_partition *parts;     /* spec.partitions of them */
    _Atomic uint32_t rr;      /* keyless rotation */
    sl_metric *m_records, *m_bytes, *m_append_seconds;
};

/* An append waiting for the group fsync (one allocation with its arrays). */
typedef struct log_pending {
    struct log_pending *next;
    sl_append_cb cb;
    void *opaque;
    log_topic *topic;
    size_t n;
    int32_t *partitions;
    int64_t *offsets;
    log_partition **touched;
    size_t ntouched;
    int64_t bytes;
    int64_t t0_us;
} log_pending;

struct embedded_log {
    sl_log base;
    char *data_dir, *log_dir;
    sl_fsync_mode fsync;
    int64_t group_commit_us, max_pending_bytes;
    bool read_only;
    int lock_fd;

    log_topic *topics;
    size_t ntopics;

    pthread_t syncer;
    bool syncer_started;
    pthread_mutex_t sync_lock;
    pthread_cond_t sync_cond;
    log_pending *queue, **queue_tail;
    bool stopping;
    _Atomic int closing;
    _Atomic int64_t pending_bytes;
    _Atomic uint64_t fsyncs;

    pthread_mutex_t maint_lock; /* the syncer's fsync round vs. segment deletion */

    /* fsyncs of one round run in parallel (the filesystem journal then
       commits them together): the syncer and its helpers take jobs. */
    struct log_sync_job *jobs;  /* one per partition */
    _Atomic size_t njobs;
    _Atomic uint64_t job_ticket; /* round << 32 | next job to take */
    _Atomic size_t job_done;
    uint64_t job_round;
    pthread_mutex_t job_lock;
    pthread_cond_t job_cond, job_done_cond;
    pthread_t *helpers;
    size_t nhelpers;
    bool helpers_stop;

    pthread_mutex_t poll_lock;
    pthread_cond_t poll_cond;
    _Atomic uint64_t poll_seq;
    _Atomic int poll_waiters;

    pthread_mutex_t pool_lock;
    ZSTD_CCtx **cctx;
    size_t ncctx, cctx_cap;
    ZSTD_DCtx **dctx;
    size_t ndctx, dctx_cap;

    pthread_mutex_t groups_lock;
    log_groups *groups;

    pthread_mutex_t report_lock;
    sl_buf report;
    int report_lines;

    sl_metric *m_fsync, *m_pending;
    sl_metric_family *f_recovered, *f_start, *f_end, *f_lag;
    sl_metric *m_retried;
};

/* ---- embedded.c ---------------------------------------------------------- */

log_topic *log_topic_find(embedded_log *log, const char *name);
log_partition *log_partition_find(embedded_log *log, const char *topic, int32_t partition,
                                  int *err);
/* Wake consumers waiting in poll (data appended, ownership released). */
void log_notify(embedded_log *log);
/* Add a line to the recovery report (and log it at warn level). */
void log_report(embedded_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ZSTD_DCtx *log_dctx_get(embedded_log *log);
void log_dctx_put(embedded_log *log, ZSTD_DCtx *d);
/* fdatasync with the fsync histogram and counter. */
int log_fsync_fd(embedded_log *log, int fd);
/* mkdir -p (0755). Returns 0 or -errno. */
int log_mkdirs(const char *path);
/* fsync a directory, so a created, renamed or deleted entry is durable. */
int log_fsync_dir(const char *path);

/* ---- partition.c --------------------------------------------------------- */

/* Open (and, unless read_only, create and recover) one partition. */
int log_partition_open(embedded_log *log, log_topic *t, log_partition *p, int32_t id);
/* Write the active index, close files, free (no lock needed: log closing). */
void log_partition_close(embedded_log *log, log_partition *p);

/* With p->lock held: make room for a batch of len bytes (roll the active
   segment when due) and fail early on a broken partition. */
int log_partition_prepare_locked(embedded_log *log, log_partition *p, int64_t len);
/* With p->lock held: write the batch at the end of the active segment,
   patching its base offset (p->end). Nothing is published yet; on failure
   the bytes are truncated away. Returns 0 or -errno. */
int log_partition_write_locked(embedded_log *log, log_partition *p, uint8_t *batch,
                               size_t len);
/* With p->lock held: undo a write_locked that is not published (another
   partition of the same append failed). */
void log_partition_unwrite_locked(embedded_log *log, log_partition *p);
/* With p->lock held: make the written batch visible to readers and index it. */
void log_partition_publish_locked(log_partition *p, const uint8_t *batch, size_t len);

/*
 * Read records from offset on (sl_log_read's contract). With
 * LOG_READ_WHOLE_BATCHES max_bytes only bounds how many batches are read:
 * the last one is returned whole even past it (consumers, which promise no
 * byte limit, so that a batch is read and checked once, not once per cut).
 */
#define LOG_READ_WHOLE_BATCHES 1u
int log_partition_read(embedded_log *log, log_partition *p, int64_t offset, size_t max_records,
                       size_t max_bytes, int timeout_ms, unsigned flags, sl_fetch *f);
void log_partition_offsets(embedded_log *log, log_partition *p, int64_t *start, int64_t *end);
/* The syncer's two steps: take the active segment's descriptor if it was
   written since the last call (-1 if not), then fdatasync it without the
   partition lock, marking the partition broken on failure. */
int log_partition_sync_begin(log_partition *p);
int log_partition_sync_end(embedded_log *log, log_partition *p, int fd);
/* Delete segments beyond retention, roll a segment past segment_ms. Returns
   segments deleted or -errno. */
int log_partition_housekeeping(embedded_log *log, log_partition *p, int64_t now_us);

/* ---- groups.c ------------------------------------------------------------ */

int log_groups_open(embedded_log *log);
void log_groups_close(embedded_log *log);
int log_groups_commit(embedded_log *log, const char *group, const char *topic,
                      int32_t partition, int64_t next_offset);
int log_groups_committed(embedded_log *log, const char *group, const char *topic,
                         int32_t partition, int64_t *next_offset);
int log_groups_list(embedded_log *log, const char *topic, char ***groups, size_t *n);
/* Set the consumer lag gauges (scrape hook). */
void log_groups_scrape(embedded_log *log);

int log_consumer_open(sl_log *log, const char *group, const char *const *topics, size_t ntopics,
                      const sl_consumer_hooks *hooks, sl_consumer **out);
int log_consumer_poll(sl_consumer *c, int timeout_ms, sl_fetch *f);
int log_consumer_commit(sl_consumer *c, const char *topic, int32_t partition,
                        int64_t next_offset);
int log_consumer_seek(sl_consumer *c, const char *topic, int32_t partition, int64_t offset);
int log_consumer_assignment(sl_consumer *c, const sl_topic_partition **tps, size_t *n);
void log_consumer_close(sl_consumer *c);

#endif
