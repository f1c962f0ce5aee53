/*
 * tail.h - the NGINX access-log tail input, inside: what its files share.
 * Not for the rest of sluice, which sees only the plugin (`type: tail`).
 *
 *   tail_plugin.c   the plugin: key table, check, the run loop, metrics
 *   tail_input.c    one instance: its files, batches in flight, completions,
 *                   when the position file is written
 *   tail_watch.c    which files: globs, identity (dev, inode), rotation by
 *                   rename, copytruncate, fingerprints, finding a rotated
 *                   file or a copy again by inode or by its first bytes
 *   tail_batch.c    reading a file into batches cut at deterministic line
 *                   boundaries, lines into events, the idempotency key
 *   tail_pos.c      the position file (format drawn above its encoder)
 *
 * Exactly once, in one paragraph: a batch is the lines [start, end) of one
 * file. It is appended with an idempotency key derived from its content
 * (the CRC of the file's first bytes, start, end, the CRC of the batch's
 * bytes), so appending it again - from the same file or from a copy of it
 * made by copytruncate - is recognised by the log
 * and stores nothing. The position file only moves past a batch once the
 * log has made it durable, so a crash re-reads from a batch boundary. A
 * re-read must cut the same batches, or the keys would differ: batches are
 * cut by content (a fixed number of lines or bytes, or after an overlong
 * line), and a batch cut short by the end of the file - whose end depends
 * on how much NGINX had written - is announced in the position file (its
 * end, "pending") before it is appended. Lost: nothing. Twice: nothing.
 */
#ifndef SL_TAIL_H
#define SL_TAIL_H

#include "core/buf.h"
#include "core/common.h"
#include "core/metrics.h"
#include "input/pixel/pixel.h"
#include "input/tail/nginx_format.h"
#include "log/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* ---- the position file (tail_pos.c) ------------------------------------- */

/* One followed file as the position file keeps it. */
typedef struct tail_pos_entry {
    char *path;            /* where it was last seen (owned) */
    uint64_t dev, ino;     /* its identity */
    int64_t offset;        /* every line before it is durably in the log */
    int64_t pending;       /* > offset: the batch [offset, pending) may be in the
                              log already; re-read exactly that batch first */
    uint32_t fp_len;       /* fingerprint: CRC-32C of the first fp_len bytes */
    uint32_t fp_crc;
} tail_pos_entry;

/* Encode entries as the position file's text (appended to out). */
void tail_pos_encode(const tail_pos_entry *e, size_t n, sl_buf *out);
/*
 * Decode a position file's text. On success *out (n entries) is the
 * caller's: tail_pos_free. SL_ERR_CORRUPT with a message in err (line
 * number and what is wrong) when the text is not a complete position file.
 */
int  tail_pos_decode(const char *text, size_t len, tail_pos_entry **out, size_t *n, char *err,
                     size_t errlen);
/* Write atomically: path.tmp, fsync, rename, fsync the directory. */
int  tail_pos_write(const char *path, const tail_pos_entry *e, size_t n);
/* Read and decode; -ENOENT when there is no file yet. */
int  tail_pos_read(const char *path, tail_pos_entry **out, size_t *n, char *err, size_t errlen);
void tail_pos_free(tail_pos_entry *e, size_t n);

/* ---- one instance ------------------------------------------------------- */

typedef struct tail_options {
    const char *name;             /* instance name: metric label, log tag, keys */
    char *const *paths;           /* globs, NULL-terminated */
    const char *format;           /* "combined", "main" or a log_format spec */
    const char *topic;            /* events; default web.raw */
    const char *pos_file;
    int64_t max_line_size;        /* longer lines go to _dlq */
    bool read_from_head;          /* files found at the very first start */
    int64_t refresh_us;           /* glob re-scan interval */
    int64_t rotate_wait_us;       /* keep reading a rotated file this long after it stops growing */
    uint32_t batch_lines;         /* a batch ends after this many lines ... */
    int64_t batch_bytes;          /* ... or once it holds this many bytes */
    int max_inflight;             /* batches cut but not yet durable */
    int workers;                  /* threads converting lines into events; 0 = the tail thread */
    int64_t pos_interval_us;      /* position file written at most this often (idle) */
} tail_options;

typedef struct tail_input tail_input;
typedef struct tail_file tail_file;
typedef struct tail_batch tail_batch;

/* Fill o with the defaults (the plugin's key table has the same ones). */
void tail_options_defaults(tail_options *o);

/*
 * Open an instance: compile the format, read the position file, find the
 * files. Nothing is read yet. log must outlive it. On failure (bad format,
 * corrupt position file) returns a negative code with a message in err.
 */
int  tail_input_open(const tail_options *o, sl_log *log, tail_input **out, char *err,
                     size_t errlen);
/*
 * One round: re-scan the globs when due, notice rotations and truncations,
 * read what the files have, hand complete batches to the log, advance
 * positions over what became durable and write the position file when
 * due. *progress is true when it read or committed anything. Returns 0,
 * or a negative code for a failure that should restart the stage.
 */
int  tail_input_poll(tail_input *t, bool *progress);
/* Wait up to timeout_ms for a completion or tail_input_wake. */
void tail_input_wait(tail_input *t, int timeout_ms);
void tail_input_wake(tail_input *t);
/* Ask a poll blocked on backpressure (the log answering "full") to return. */
void tail_input_request_stop(tail_input *t);
/*
 * Stop: wait until the log has answered every batch in flight (failed ones
 * are not retried any more: they are re-read at the next start), write the
 * position file, close everything. NULL-safe.
 */
void tail_input_close(tail_input *t);
/*
 * For crash tests: free without waiting and without writing the position
 * file, as a kill -9 would leave things (batches already handed to the log
 * still complete there).
 */
void tail_input_abandon(tail_input *t);

/* Numbers for tests and metrics. */
typedef struct tail_stats {
    uint64_t lines, bytes, events, rejected, batches, pos_writes, rotations, truncations;
    uint64_t backpressure_waits;
    size_t files;
    size_t inflight;
} tail_stats;
void tail_input_stats(tail_input *t, tail_stats *out);

/* ---- inside an instance (tail_input.c, tail_watch.c, tail_batch.c) ------ */

#define TAIL_HEAD_MAX 256        /* bytes of a file's start kept as its fingerprint */
#define TAIL_LONG_HEAD 1024      /* bytes of an overlong line kept in _dlq */

struct tail_file {
    char *path;                  /* where it was opened (a rotated file keeps its old name) */
    uint64_t dev, ino;
    int fd;
    bool rotated;                /* no longer at a watched path: drain, then drop */
    bool gone;                   /* finished: dropped once nothing is in flight */
    bool paused;                 /* truncated: wait for in-flight batches, then restart at 0 */
    bool seen;                   /* a glob matched it in the current scan */
    int64_t quiet_since_us;      /* rotated: when it last grew (monotonic) */

    int64_t committed;           /* every line before is durable in the log */
    int64_t issued;              /* end of the last batch handed to the log */
    int64_t pending;             /* > committed: a short batch's end, announced */
    bool must_cut_at_pending;    /* restart: the first batch must end at pending */

    char head[TAIL_HEAD_MAX];    /* the file's first bytes: the fingerprint */
    uint32_t head_len;

    char *buf;                   /* bytes [issued, issued + len) of the file */
    size_t len, cap;
    size_t scanned;              /* bytes of buf already searched for '\n' */
    size_t line_end;             /* end of the last complete line in buf */
    uint32_t nlines;             /* complete lines in buf[0, line_end) */
    bool at_eof;                 /* the last read found nothing more */

    bool skipping;               /* inside an overlong line */
    int64_t long_start;          /* its offset in the file */
    int64_t long_len;            /* bytes of it so far */
    char long_head[TAIL_LONG_HEAD];
    size_t long_head_len;

    tail_batch *fifo_head, *fifo_tail; /* batches in flight, in file order */
    int inflight;
    tail_file *next;
};

/* An append's worth of one file's lines, from cut to durable. */
struct tail_batch {
    tail_input *input;
    tail_file *file;
    int64_t start, end;
    char *raw;                   /* the complete lines (owned) */
    size_t raw_len, raw_cap;
    bool announce;               /* cut short: its end goes into the position file first */
    bool has_long;               /* ends with an overlong line (long_* of the file copied) */
    int64_t long_len;
    char long_head[TAIL_LONG_HEAD];
    size_t long_head_len;
    uint32_t head_crc;           /* CRC-32C of the file's first min(256, end) bytes */

    /* converted */
    sl_buf values, keys;         /* event JSON and record keys, back to back */
    sl_buf dlq_values;
    size_t nrec, ndlq;
    struct tail_rec { uint32_t voff, vlen, koff, klen; int64_t ts_us; } *recs, *dlq;
    size_t cap_rec, cap_dlq;
    uint64_t lines, bytes;
    char idem[200];

    /* appends: [0] events, [1] _dlq */
    bool converted;              /* under the input's lock: a worker finished it */
    bool submitted[2];
    int outstanding;
    int status;
    bool done;
    tail_batch *next;            /* the file's FIFO */
    tail_batch *order_next;      /* every batch in cut order: appends follow it */
    tail_batch *work_next;       /* the workers' queue */
};

/* What converting lines needs, one per converting thread. */
typedef struct tail_conv {
    sl_pixel_builder *builder;
    char *scratch;               /* nginx decoding (max_line_size + 64) */
    size_t scratch_cap;
    sl_nginx_line line;          /* the line being converted */
} tail_conv;

/* tail_batch.c */
/* Read what f has into its buffer; 0, or -errno. *got: bytes read. */
int  tail_file_fill(tail_input *t, tail_file *f, size_t *got);
/* Cut the next batch of f if one is ready (full, or short when allowed);
   NULL when none. final: the file ends here (a rotated file given up),
   so a partial last line counts as a line. */
tail_batch *tail_file_cut(tail_input *t, tail_file *f, bool allow_short, bool final);
/* Turn the batch's lines into records and _dlq envelopes, and set its key.
   Thread-safe for different batches with different cv. */
void tail_batch_convert(const tail_input *t, tail_conv *cv, tail_batch *b);
void tail_batch_free(tail_batch *b);
/* A batch done with: kept as a spare (its memory reused by the next cut)
   or freed. Tail thread only. */
void tail_batch_recycle(tail_input *t, tail_batch *b);
void tail_batch_spares_free(tail_input *t);

/* tail_watch.c */
/* Re-scan the globs: start new files, notice renamed/removed ones. */
int  tail_watch_scan(tail_input *t, bool first);
/* Check one file before reading: truncated or replaced? (true = handled) */
bool tail_watch_check(tail_input *t, tail_file *f);
/* Refresh f's fingerprint after the file grew. */
void tail_watch_grow_head(tail_file *f);
/* A file structure for fd at offset (takes the fd). */
tail_file *tail_file_new(const char *path, int fd, uint64_t dev, uint64_t ino, int64_t offset);
void tail_file_free(tail_file *f);

/* The instance (tail_input.c); the other files use these fields. */
struct tail_input {
    tail_options o;
    char **paths;                /* owned copies of o.paths */
    char *name, *format_text, *topic, *pos_path;
    sl_log *log;
    sl_nginx_format *format;
    tail_conv conv;              /* the tail thread's own (workers: 0) */
    int idx_addr, idx_ua, idx_referer; /* $remote_addr, $http_user_agent, $http_referer or -1 */
    char tag[96];

    tail_file *files;
    size_t nfiles;
    tail_batch *spares;          /* batches done with, memory kept (tail thread) */
    int nspares;
    bool pos_existed;            /* a position file was there at open */
    tail_pos_entry *restored;    /* entries read at open, matched during the first scan */
    size_t nrestored;

    pthread_mutex_t lock;        /* guards completions (batch done/status), the work
                                    queue, converted flags and wakeups */
    pthread_cond_t cond;         /* the tail thread waits here */
    bool woken;
    int inflight;                /* batches cut and not yet committed (tail thread) */
    tail_batch *order_head, *order_tail; /* cut, not yet appended, in cut order (lock) */
    bool appending;              /* a thread is appending from order_head (lock) */
    bool appended_any;           /* appends happened since the tail thread last looked */
    int append_error;            /* first append the log refused outright (lock) */
    atomic_uint_fast64_t backpressure_waits;

    pthread_cond_t work_cond;    /* workers wait here */
    tail_batch *work_head, *work_tail;
    bool workers_quit;
    pthread_t *worker_threads;
    int nworkers;

    int64_t last_scan_us, last_pos_us;
    bool pos_dirty;

    atomic_bool stop;            /* tail_input_request_stop: leave backpressure waits */

    sl_metric *m_lines, *m_bytes, *m_files, *m_rej_malformed, *m_rej_long, *m_rej_query;
    sl_metric *m_rot_rename, *m_rot_truncate;
    tail_stats stats;
};

/* tail_input.c: log with the instance's tag. */
void tail_note_rotation(tail_input *t, bool truncation);

#endif
