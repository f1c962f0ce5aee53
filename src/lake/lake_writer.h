/*
 * lake_writer.h - records of topic partitions in, lake files out, exactly
 * once. The engine behind the `lake` output (src/output/lake/), kept apart
 * from the consumer loop so its rolling and naming can be tested alone.
 *
 * One file is open per topic partition at a time. A file covers a
 * contiguous range of offsets of one partition and holds the rows of one
 * event-time hour; it is closed (written, synced, renamed into place) when
 *
 *   - a record of another hour arrives (out-of-order events close it too:
 *     see "Out of order" below),
 *   - it reaches max_rows rows or max_bytes bytes in memory,
 *   - it has had no new record for the idle interval (flush_idle),
 *   - the caller closes everything (partitions revoked, sluice stopping).
 *
 * Never by wall clock otherwise: the same records always make the same
 * files, whenever they are replayed.
 *
 * Out of order. Keeping one open file per (partition, hour) would let a
 * stream that alternates between two hours write fewer files, but then a
 * partition's durable offsets would no longer be a prefix: a closed file of
 * hour 9 covering offsets 100..200 says nothing about the hour-10 records
 * among them still in memory, and resuming after a crash from the highest
 * end offset would skip those. With one open file per partition, every
 * finished file's range is complete, the lake's highest end offset is the
 * exact resume point, and a late event costs one more small file, which
 * `sluice lake compact` merges later.
 *
 * Exactly once. Offsets are committed (hooks.commit) only after a file is
 * renamed into place and its directory synced. At assignment the engine
 * repairs what a crash left (stale temporary files of the partition, a
 * compaction caught midway) and returns 1 + the highest end offset in the
 * lake, where reading must resume: a crash between the rename and the
 * commit neither loses nor repeats a record. A file that cannot be written
 * (disk full, I/O error) is dropped and hooks.rewind asks the caller to read
 * its records again.
 *
 * Schema. Each file's columns are inferred from its events by the Parquet
 * writer (dotted names for nested objects, widening int -> double ->
 * string within the file). Per topic the engine keeps the union of the
 * columns written so far, with their widest types, seeded from the
 * declared schema and from the newest file found at assignment, and
 * declares it to every new file: a new field adds a column from its file
 * on, a widened type stays wide, and neither ever starts a file of its
 * own. (At most max_carried_columns columns are carried forward, so a topic
 * whose field names are data cannot grow every file without bound.)
 *
 * Single-threaded: one thread calls everything.
 */
#ifndef SL_LAKE_WRITER_H
#define SL_LAKE_WRITER_H

#include "core/common.h"
#include "lake/parquet/codec.h"
#include "lake/parquet/schema.h"
#include "log/log.h"

typedef struct sl_lake_writer sl_lake_writer;

typedef struct sl_lake_writer_options {
    const char *root;                  /* the lake directory (copied) */
    sl_parquet_codec codec;            /* default zstd */
    int compression_level;             /* 0 = the codec's default */
    int32_t tz_offset_s;               /* hour directories in UTC + this offset */
    uint64_t max_rows;                 /* per file; 0 = 1,000,000 */
    uint64_t max_bytes;                /* per file in memory; 0 = 128 MiB */
    size_t row_group_rows;             /* 0 = the Parquet writer's default */
    const sl_parquet_schema *declared; /* columns every file starts with (copied); NULL = none */
    size_t max_carried_columns;        /* 0 = 1024 */
    const char *tag;                   /* for log lines ("output:lake"), copied */
} sl_lake_writer_options;

typedef struct sl_lake_writer_hooks {
    /* Everything of topic/partition below next_offset is durable in the
       lake (or rejected): commit it. A negative return is logged. */
    int (*commit)(void *arg, const char *topic, int32_t partition, int64_t next_offset);
    /* A file could not be written: read topic/partition again from offset. */
    void (*rewind)(void *arg, const char *topic, int32_t partition, int64_t offset);
    /* A record the lake cannot hold (not a JSON object, event time outside
       years 1..9999). Optional. */
    void (*rejected)(void *arg, const char *topic, const sl_message *m, const char *reason,
                     const char *error);
    void *arg;
} sl_lake_writer_hooks;

/* 0 or SL_ERR_CONFIG (codec not built in). hooks is copied. */
int sl_lake_writer_new(sl_lake_writer **out, const sl_lake_writer_options *o,
                       const sl_lake_writer_hooks *hooks);
/* Abandons open files (their records were never committed). NULL-safe. */
void sl_lake_writer_free(sl_lake_writer *w);

/*
 * A partition of topic is now ours: under the lake lock, finish or undo a
 * compaction caught midway, remove the partition's stale temporary files,
 * and find where it resumes. *next = 1 + the highest end offset in the
 * lake, or -1 when the lake has no file of it. Also seeds the topic's
 * schema from its newest file. A file still open for it is dropped (its
 * records are read again from the resume point).
 */
int sl_lake_writer_resume(sl_lake_writer *w, const char *topic, int32_t partition,
                          int64_t *next);

/*
 * Add records of one partition, in offset order (offsets below the resume
 * point or already added are skipped). May close files (hour change, size
 * limits). Returns 0, or a negative code when a file failed: its records
 * were dropped and hooks.rewind was called; the caller should stop feeding
 * this batch.
 */
int sl_lake_writer_add(sl_lake_writer *w, const char *topic, int32_t partition,
                       const sl_message *msgs, size_t n);

/* Close the files that got no record for idle_us. 0, or the first failure. */
int sl_lake_writer_flush_idle(sl_lake_writer *w, int64_t idle_us);
/* Close every open file (revocation, stop). 0, or the first failure. */
int sl_lake_writer_close_all(sl_lake_writer *w);
/* Forget a partition (after revocation); closes nothing. */
void sl_lake_writer_drop(sl_lake_writer *w, const char *topic, int32_t partition);

typedef struct sl_lake_writer_stats {
    uint64_t files, rows, bytes, rejected, open_files;
} sl_lake_writer_stats;

void sl_lake_writer_stats_get(const sl_lake_writer *w, sl_lake_writer_stats *st);
/* The columns carried forward for topic (borrowed), or NULL. */
const sl_parquet_schema *sl_lake_writer_topic_schema(const sl_lake_writer *w, const char *topic);

#endif
