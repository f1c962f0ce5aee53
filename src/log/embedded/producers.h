/*
 * producers.h - the recent idempotency keys of one partition.
 *
 * A sender that got no answer retries its request with the same
 * Idempotency-Key; the collector passes the key to the log, which writes it
 * into the batch header region of every batch of that append. This table
 * remembers, per partition, the last LOG_PRODUCERS_CAP keys with the
 * batch each one produced (base offset, record count), so a retry is
 * answered with the original offsets instead of being written twice.
 *
 * The table is rebuilt at open from the batches of the last segment, so
 * the guarantee survives a crash for as long as the original batch is in
 * the active segment or among the last LOG_PRODUCERS_CAP keyed batches.
 * Keys are compared byte for byte (no hashing shortcuts: a false match
 * would silently drop data). Callers hold the partition lock.
 */
#ifndef SL_LOG_PRODUCERS_H
#define SL_LOG_PRODUCERS_H

#include "core/common.h"

#include <stdint.h>

#define LOG_PRODUCERS_CAP 65536

typedef struct log_producer_entry {
    char *key;
    uint32_t len;
    uint32_t count;
    int64_t base;
    int32_t next;  /* next entry in the same bucket, -1 = none */
    uint32_t hash;
} log_producer_entry;

typedef struct log_producers {
    log_producer_entry *ring;  /* allocated on first insert */
    int32_t *buckets;
    uint32_t head;             /* next slot to (over)write */
    uint32_t used;
} log_producers;

/* Find key; returns true with its batch's base offset and record count. */
bool log_producers_find(const log_producers *t, sl_view key, int64_t *base, uint32_t *count);
/* Remember key -> (base, count), evicting the oldest entry when full. */
void log_producers_insert(log_producers *t, sl_view key, int64_t base, uint32_t count);
/* Forget every key from offset `from` on (a truncated tail). */
void log_producers_forget_from(log_producers *t, int64_t from);
void log_producers_free(log_producers *t);

#endif
