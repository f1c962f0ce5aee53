/*
 * segment.h - the bytes of the embedded log: record batches and the
 * segment files that hold them (the diagrams are in segment.c, above the
 * encoder).
 *
 * This module knows nothing of partitions or locks. It encodes a batch
 * into a caller's buffer, parses and checks one, decodes its records into
 * sl_message views, and scans a segment file batch by batch (the one loop
 * that recovery, read-only discovery, `sluice log verify` and the fuzz
 * target share). All integers on disk are little-endian.
 */
#ifndef SL_LOG_SEGMENT_H
#define SL_LOG_SEGMENT_H

#include "core/buf.h"
#include "log/log.h"

#include <stdint.h>
#include <zstd.h>

#define LOG_BATCH_HEADER_SIZE 48
#define LOG_BATCH_MAGIC       0x4C53u /* "SL" */
#define LOG_BATCH_VERSION     1
#define LOG_BATCH_ATTR_ZSTD   0x0001u
#define LOG_BATCH_ATTR_PRODUCER 0x0002u /* an idempotency key precedes the records */
#define LOG_PRODUCER_KEY_MAX  255
/* No batch is larger (appends beyond it get SL_ERR_TOOBIG): bounds what a
   reader allocates for a length field it has not checked yet. */
#define LOG_BATCH_MAX_BYTES   (64u << 20)
/* Worst-case encoded size of one record beyond its key and value bytes. */
#define LOG_RECORD_OVERHEAD   30

typedef struct log_batch_header {
    int64_t base_offset;   /* offset of the first record */
    uint32_t length;       /* whole batch, header included */
    uint32_t crc;          /* CRC-32C of bytes [20, length) */
    uint16_t attributes;   /* LOG_BATCH_ATTR_* */
    uint32_t record_count; /* >= 1 */
    uint32_t records_size; /* size of the records section before compression */
    int64_t first_ts_us;   /* timestamp of the first record; deltas are from it */
    int64_t max_ts_us;     /* largest record timestamp in the batch */
} log_batch_header;

/* Why a batch (and so the rest of a segment) is not valid. */
typedef enum {
    LOG_BATCH_OK = 0,
    LOG_BATCH_TORN,        /* the file ends inside the header or the body */
    LOG_BATCH_BAD_MAGIC,
    LOG_BATCH_BAD_LENGTH,
    LOG_BATCH_BAD_CRC,
    LOG_BATCH_BAD_OFFSET,  /* base offset does not follow the previous batch */
    LOG_BATCH_BAD_RECORDS, /* CRC fine but records do not decode (or decompress) */
} log_batch_status;

const char *log_batch_status_name(log_batch_status s);

/* ---- encoding ---------------------------------------------------------- */

/* Append the records section for records[i] (i in idx[0..n)) to b; returns
   the timestamp range through *first_ts / *max_ts. */
void log_records_encode(sl_buf *b, const sl_record *records, const uint32_t *idx, size_t n,
                        int64_t *first_ts, int64_t *max_ts);

/*
 * Encode one batch of the records records[idx[0..n)] at the end of b,
 * zstd-compressed when cctx is not NULL (scratch then holds the plain
 * records; both buffers are the caller's). The base offset is left 0:
 * the appender patches it with log_batch_set_base_offset under the
 * partition lock, which is why it lies outside the CRC. A non-empty
 * producer_key (at most LOG_PRODUCER_KEY_MAX bytes) is stored between the
 * header and the records, inside the CRC. Returns the
 * batch length, or SL_ERR_TOOBIG / SL_ERR if compression failed.
 */
int64_t log_batch_encode(sl_buf *b, const sl_record *records, const uint32_t *idx, size_t n,
                         sl_view producer_key, ZSTD_CCtx *cctx, sl_buf *scratch);

void log_batch_set_base_offset(void *batch, int64_t base_offset);

/* ---- decoding ---------------------------------------------------------- */

/* Parse and bound-check the header at p (avail bytes there). TORN when
   avail < 48; the body is not looked at. */
log_batch_status log_batch_header_parse(const uint8_t *p, size_t avail, log_batch_header *h);

/* The idempotency key of a checked batch, if it has one (a view into batch). */
bool log_batch_producer_key(const uint8_t *batch, const log_batch_header *h, sl_view *key);

/* Check the CRC of a whole batch (h->length bytes at batch). */
log_batch_status log_batch_check_crc(const uint8_t *batch, const log_batch_header *h);

/*
 * The plain records section of a checked batch: a pointer into the batch,
 * or, when compressed, into out (decompressed there with dctx, appended at
 * out->len). Returns 0 or LOG_BATCH_BAD_RECORDS.
 */
log_batch_status log_batch_records(const uint8_t *batch, const log_batch_header *h,
                                   ZSTD_DCtx *dctx, sl_buf *out, const uint8_t **records);

/*
 * Decode the records section (h->records_size bytes at rec) into msgs:
 * records with offset < from_offset are skipped, at most max are stored.
 * Keys and values are views into rec. *nout receives how many were stored.
 * When all records are walked (max not reached) the section must hold
 * exactly record_count records. Returns 0 or LOG_BATCH_BAD_RECORDS.
 */
log_batch_status log_records_decode(const uint8_t *rec, const log_batch_header *h,
                                    int32_t partition, int64_t from_offset, sl_message *msgs,
                                    size_t max, size_t *nout);

/* ---- segment files ------------------------------------------------------ */

/* "<dir>/<20-digit base><ext>" into out. */
void log_segment_path(char *out, size_t n, const char *dir, int64_t base, const char *ext);
/* Parse "<20 digits><ext>"; returns 0 and the base offset, or -1. */
int log_segment_parse_name(const char *name, const char *ext, int64_t *base);

typedef struct log_scan {
    int64_t valid_bytes;   /* file position after the last valid batch */
    int64_t next_offset;   /* offset after the last valid batch */
    int64_t max_ts_us;     /* INT64_MIN when no batch was valid */
    int64_t batches;       /* valid batches seen */
    int64_t records;
    log_batch_status stop; /* LOG_BATCH_OK: stopped at exactly the end */
} log_scan;

/* Called for each valid batch; a non-zero return stops the scan with it.
   batch holds the whole batch with LOG_SCAN_DECODE, and at least its
   header and producer key (the first LOG_SCAN_HEAD bytes, or the whole
   batch if shorter) without. */
typedef int (*log_scan_fn)(void *arg, const log_batch_header *h, int64_t pos,
                           const uint8_t *batch);
#define LOG_SCAN_HEAD (LOG_BATCH_HEADER_SIZE + 1 + LOG_PRODUCER_KEY_MAX)

enum { LOG_SCAN_DECODE = 1 }; /* also decompress and decode every record */

/*
 * Walk the batches of fd from pos to end (exclusive), expecting the first
 * to start at next_offset, checking length, magic, CRC and contiguity (and
 * records with LOG_SCAN_DECODE). Stops at the first invalid batch and says
 * why in out->stop. Returns 0, -errno on a read error, or fn's non-zero.
 */
int log_segment_scan(int fd, int64_t pos, int64_t end, int64_t next_offset, unsigned flags,
                     log_scan_fn fn, void *arg, log_scan *out);

#endif
