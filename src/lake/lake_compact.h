/*
 * lake_compact.h - merge the small files of closed hours (`sluice lake
 * compact`), safely next to a running lake output.
 *
 * Per topic, partition and hour directory, consecutive files (in offset
 * order) are merged into one file named by the union of their offset
 * ranges, so resuming from the highest end offset still works. Only hours
 * that ended at least older_than ago (in the zone the files were written
 * in) are touched, never the current one.
 *
 * The swap, under the lake lock (lake.h), so that no reader ever sees a
 * row twice:
 *
 *   1. write .<merged>.parquet.merging, fsync         (no lock; invisible)
 *   2. lock; check every input is still there
 *   3. rename each input to .<input>.parquet.compacted, fsync the directory
 *   4. rename the merged file into place, fsync the directory
 *   5. unlink the hidden inputs, fsync the directory; unlock
 *
 * A crash before 4 leaves hidden inputs and no merged file: the next
 * compaction, or the lake output when it next takes the partition, renames
 * them back (sl_lake_recover). A crash after 4 leaves hidden inputs covered
 * by the merged file: they are removed. Between 3 and 4 a reader sees the
 * inputs' rows missing for the time of a few renames (or, after a crash,
 * until that recovery), never duplicated; resume counts hidden inputs, so
 * the output neither rewrites nor skips their offsets.
 */
#ifndef SL_LAKE_COMPACT_H
#define SL_LAKE_COMPACT_H

#include "core/common.h"

typedef struct sl_lake_compact_options {
    const char *root;
    const char *topic;          /* NULL = every topic of the lake */
    int64_t older_than_us;      /* only hours that ended at least this long ago */
    int64_t now_us;             /* 0 = the clock (tests pass a fixed time) */
    uint64_t target_bytes;      /* a merged file gathers inputs up to this size; 0 = 256 MiB */
    bool dry_run;               /* say what would be merged, change nothing */
    /* Tests: return as if killed right after this step (1: temp written,
       2: one input hidden, 3: all hidden, 4: merged file renamed, 5: one
       hidden input removed); 0 = off. */
    int crash_after;
    /* A line per merge, recovery or skip (may be NULL). */
    void (*report)(void *arg, const char *line);
    void *arg;
} sl_lake_compact_options;

typedef struct sl_lake_compact_stats {
    size_t merges;          /* merged files written */
    size_t inputs;          /* files they replaced */
    size_t recovered;       /* leftovers of interrupted compactions fixed */
    size_t skipped;         /* groups left alone (changed meanwhile, unreadable) */
    uint64_t rows, bytes_in, bytes_out;
} sl_lake_compact_stats;

/* 0, or the first error (-errno, SL_ERR_CORRUPT for an unreadable input). */
int sl_lake_compact(const sl_lake_compact_options *o, sl_lake_compact_stats *st);

#endif
