/*
 * embedded.h - the embedded segment log: sluice's own durable, partitioned
 * log on local disk (the default log.backend). log.c opens it; tests and
 * the CLI use the extra functions below.
 *
 * Layout: <data_dir>/log/<topic>/<partition>/<base>.{log,index,timeindex},
 * committed group offsets in <data_dir>/log/_groups/, and an exclusive
 * flock on <data_dir>/log/.lock held by the one writing process. The
 * formats are drawn in segment.c and index.c.
 */
#ifndef SL_LOG_EMBEDDED_H
#define SL_LOG_EMBEDDED_H

#include "core/buf.h"
#include "log/log.h"

/* sl_log_open for backend "embedded" (log.c calls it; see log.h). */
int sl_log_embedded_open(const sl_log_options *opts, sl_log **out);

/*
 * What recovery did at open, one line per event (a dropped tail with its
 * byte count, offset, file and reason; a rebuilt index), appended to out.
 * Empty when every partition was clean. Returns the number of lines.
 */
int sl_log_embedded_recovery_report(sl_log *log, sl_buf *out);

/* Run the retention and time-roll pass now instead of waiting for the
   background thread (tests, and the admin API later). Returns segments
   deleted, or a negative code. */
int sl_log_embedded_retention_run(sl_log *log);

/* The number of fsync calls made so far on segment files (tests check
   that group commit shares them). */
uint64_t sl_log_embedded_fsync_count(sl_log *log);

/* Summary of sl_log_embedded_verify. */
typedef struct sl_log_verify_stats {
    int64_t topics, partitions, segments, batches, records, bytes;
    int64_t problems;
} sl_log_verify_stats;

/*
 * Check a log directory (<data_dir>/log) without opening it for writing:
 * every batch's length, CRC and records, offsets contiguous within and
 * across segments, every index and time index entry. One line per problem
 * is appended to report. An incomplete batch at the very end of a
 * partition is a problem only when no writer holds the lock (a writer may
 * be in the middle of writing it). Returns 0 or -errno (no such dir).
 */
int sl_log_embedded_verify(const char *data_dir, sl_buf *report, sl_log_verify_stats *stats);

#endif
