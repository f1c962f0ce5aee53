/*
 * log_int.h - what a log backend implements (private to src/log/).
 *
 * log.c owns the public entry points of log.h and dispatches through the
 * backend's ops table, so adding a backend (Kafka) means one more static
 * table and one more line in log.c's open. A backend's log handle starts
 * with struct sl_log, and its consumer handle with struct sl_consumer, so
 * it can cast between the public and its own type.
 *
 * Each op has the contract of the log.h function of the same name; log.c
 * checks the arguments that do not depend on a backend (NULL pointers,
 * empty names) before calling.
 */
#ifndef SL_LOG_INT_H
#define SL_LOG_INT_H

#include "log/log.h"

typedef struct sl_log_ops {
    const char *name;
    void (*close)(sl_log *log);
    int (*append)(sl_log *log, const char *topic, const sl_record *records, size_t n,
                  sl_view idempotency_key, sl_append_cb cb, void *opaque);
    int (*read)(sl_log *log, const char *topic, int32_t partition, int64_t offset,
                size_t max_records, size_t max_bytes, int timeout_ms, sl_fetch *f);
    int (*offsets)(sl_log *log, const char *topic, int32_t partition, int64_t *start,
                   int64_t *end);
    int (*topics)(sl_log *log, sl_topic_info **out, size_t *n);
    int (*commit)(sl_log *log, const char *group, const char *topic, int32_t partition,
                  int64_t next_offset);
    int (*committed)(sl_log *log, const char *group, const char *topic, int32_t partition,
                     int64_t *next_offset);
    int (*groups)(sl_log *log, const char *topic, char ***groups, size_t *n);

    int (*consumer_open)(sl_log *log, const char *group, const char *const *topics,
                         size_t ntopics, const sl_consumer_hooks *hooks, sl_consumer **out);
    int (*consumer_poll)(sl_consumer *c, int timeout_ms, sl_fetch *f);
    int (*consumer_commit)(sl_consumer *c, const char *topic, int32_t partition,
                           int64_t next_offset);
    int (*consumer_seek)(sl_consumer *c, const char *topic, int32_t partition, int64_t offset);
    int (*consumer_assignment)(sl_consumer *c, const sl_topic_partition **tps, size_t *n);
    void (*consumer_close)(sl_consumer *c);
} sl_log_ops;

struct sl_log {
    const sl_log_ops *ops;
};

struct sl_consumer {
    sl_log *log;
};

#endif
