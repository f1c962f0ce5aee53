/*
 * index.h - the two sparse indexes of a segment, in memory and on disk
 * (the file layouts are drawn in index.c).
 *
 * The offset index maps an offset to the file position of the batch that
 * holds it, with one entry per ~4 KiB of batches, so a read seeks there
 * and walks at most a few batch headers. The time index maps the largest
 * timestamp seen so far to an offset; its last entry is the segment's max
 * timestamp, which is what retention by age looks at.
 *
 * The active segment keeps its entries in memory and writes them out when
 * it is rolled or the log is closed; index files are a cache of what a
 * scan of the segment would give, so a missing or invalid one is rebuilt.
 * Not thread-safe: the partition lock covers it.
 */
#ifndef SL_LOG_INDEX_H
#define SL_LOG_INDEX_H

#include "log/embedded/segment.h"

#include <stdbool.h>
#include <stdint.h>

#define LOG_INDEX_INTERVAL 4096

typedef struct log_index_entry {
    uint32_t rel_offset; /* batch base offset - segment base */
    uint32_t position;   /* file position of that batch */
} log_index_entry;

typedef struct log_time_entry {
    int64_t ts_us;       /* largest timestamp up to and including that batch */
    uint32_t rel_offset; /* base offset of the batch - segment base */
} log_time_entry;

typedef struct log_index {
    log_index_entry *entries;
    size_t n, cap;
    log_time_entry *times;
    size_t nt, tcap;
    int64_t bytes_since; /* batch bytes since the last offset entry */
    int64_t max_ts_us;   /* INT64_MIN until a batch is noted */
} log_index;

void log_index_init(log_index *ix);
void log_index_free(log_index *ix); /* leaves it empty and reusable */

/* Account for a batch just placed at pos in a segment whose base is base. */
void log_index_note_batch(log_index *ix, int64_t base, const log_batch_header *h, int64_t pos);

/* File position to start from to find offset (the floor entry, else 0). */
int64_t log_index_lookup(const log_index *ix, int64_t base, int64_t offset);

/*
 * Write <base>.index and <base>.timeindex in dir from ix (replacing them),
 * with a final time entry for max_ts_us at last_batch_base when it is newer
 * than the last one. fsync them when sync. Returns 0 or -errno.
 */
int log_index_write(log_index *ix, const char *dir, int64_t base, int64_t last_batch_base,
                    bool sync);

/*
 * Load and check the index files of a closed segment (fd, size bytes):
 * entries in order and in bounds, the last one pointing at a batch header
 * with the right base offset, and the batches after it reaching exactly the
 * end of the file. On success *end_offset is the offset after the segment.
 * Returns 0, -ENOENT when a file is missing, SL_ERR_CORRUPT when stale or
 * invalid (the caller rebuilds by scanning), or another -errno.
 */
int log_index_load(log_index *ix, const char *dir, int64_t base, int fd, int64_t size,
                   int64_t *end_offset);

/* Where a batch of a segment is, as a scan found it (for verify). */
typedef struct log_batch_loc {
    int64_t base_offset;
    int64_t position;
    int64_t running_max_ts; /* largest timestamp up to and including it */
} log_batch_loc;

/*
 * Check every entry of the index files of segment base in dir against the
 * batches a scan found (locs, in file order): each offset entry must point
 * at the start of the batch with that base offset, each time entry at a
 * batch base with the running max timestamp there. Appends one line per
 * problem to report (prefixed by label) and returns the number of problems.
 * A missing file is a problem only when the segment has batches.
 */
int log_index_verify(const char *dir, int64_t base, const log_batch_loc *locs, size_t n,
                     const char *label, sl_buf *report);

#endif
