/*
 * log.h - the log: the only road between stages.
 *
 * Inputs append records to topics; processors and outputs read them back as
 * members of consumer groups and commit offsets when their own writes are
 * durable. Two backends implement this interface: the embedded segment log
 * (src/log/embedded/, the default, no server needed) and Apache Kafka
 * through librdkafka (log.backend: kafka). Nothing in sluice touches a
 * backend except through these functions.
 *
 * Lifecycle: sl_log_open -> append/read/consume ... -> sl_log_close.
 * Every function is thread-safe unless it says otherwise.
 *
 * Timestamps are microseconds since the Unix epoch (the Kafka backend keeps
 * milliseconds on the wire). Offsets are per partition, dense from 0; a
 * "next offset" is the offset of the next record to read, as in Kafka.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include "core/common.h"

#include <stdint.h>

typedef struct sl_log sl_log;
typedef struct sl_consumer sl_consumer;

/* How appends reach the disk before they are acknowledged (embedded). */
typedef enum {
    SL_FSYNC_ALWAYS, /* fsync after every append, before its completion */
    SL_FSYNC_GROUP,  /* one fsync every group_commit_us shared by all waiting appends */
    SL_FSYNC_OS,     /* acknowledge after write(2); the OS flushes when it likes */
} sl_fsync_mode;

/* A declared topic, as the log needs it (config adds routing and schema). */
typedef struct sl_topic_spec {
    const char *name;
    int32_t partitions;
    int16_t replication;      /* Kafka only; the embedded log has one copy */
    int64_t retention_ms;     /* delete closed segments older than this; 0 = keep */
    int64_t retention_bytes;  /* per partition; 0 = no limit */
    int64_t segment_bytes;    /* roll the active segment past this size */
    int64_t segment_ms;       /* roll the active segment past this age */
    bool compress;            /* zstd-compress record batches */
} sl_topic_spec;

/* The dead-letter topic every sluice has: rejected input with its reason. */
#define SL_DLQ_TOPIC "_dlq"

typedef struct sl_log_options {
    const char *backend;          /* "embedded" (default) or "kafka" */
    const char *data_dir;         /* embedded: the log lives in <data_dir>/log */
    sl_fsync_mode fsync;
    int64_t group_commit_us;      /* SL_FSYNC_GROUP interval; default 2000 */
    const sl_topic_spec *topics;  /* declared topics (copied by open) */
    size_t ntopics;
    int64_t max_pending_bytes;    /* appends beyond this un-synced volume get SL_ERR_FULL */
    bool read_only;               /* inspection (CLI): no lock, no writes, no recovery truncation */
    const char *const *kafka_conf; /* kafka: NULL-terminated key, value, key, value, ... */
} sl_log_options;

/*
 * Open the log. The embedded backend takes an exclusive lock on its
 * directory (unless read_only), recovers every partition (a torn or corrupt
 * tail is truncated to the last valid batch and reported at warn level) and
 * creates declared topics that do not exist yet. On success *out owns
 * everything; free it with sl_log_close.
 */
int  sl_log_open(const sl_log_options *opts, sl_log **out);
/* Wait for pending appends to complete (their callbacks fire), sync, free. */
void sl_log_close(sl_log *log);

/* ---- appending ------------------------------------------------------- */

#define SL_PARTITION_AUTO (-1)

typedef struct sl_record {
    sl_view key;        /* empty = keyless */
    sl_view value;
    int64_t ts_us;      /* the record timestamp (event time) */
    int32_t partition;  /* SL_PARTITION_AUTO: murmur2(key) % partitions, or
                           for keyless records one partition per append call,
                           rotating between calls */
} sl_record;

/*
 * Completion of an append. status is 0 when every record is durable under
 * the configured fsync mode (or delivered, on Kafka), else a negative code
 * and nothing may be assumed about which records were kept. partitions and
 * offsets (n entries, in record order) are valid only during the call.
 * Called from a backend thread: do not block in it.
 */
typedef void (*sl_append_cb)(void *opaque, int status, const int32_t *partitions,
                             const int64_t *offsets, size_t n);

/*
 * Append n records to a topic. The records' bytes are copied before this
 * returns. If it returns 0, cb is called exactly once, later or from
 * within the call. If it returns an error (SL_ERR_NOTOPIC, SL_ERR_FULL,
 * SL_ERR_NOPARTITION, -EIO, ...) cb is never called and nothing was
 * appended.
 */
int sl_log_append(sl_log *log, const char *topic, const sl_record *records, size_t n,
                  sl_append_cb cb, void *opaque);

/*
 * sl_log_append with an idempotency key (1 to 255 bytes) chosen by the
 * sender, the same on every retry of one request. The key is stored with
 * each batch the call writes; a later call with the same key is not
 * written again to a partition that holds the key, and its callback
 * reports the offsets of the original. The first copy stands even when the
 * retry's records differ (a replay under other conditions): records past
 * the original's count get offset -1, and a warning names the key. Keyless records follow the key's
 * murmur2 partition, so a retry lands where the original did. The embedded
 * log remembers the keys of its active segments and the last 65,536 keyed
 * batches per partition, across restarts.
 */
int sl_log_append_idempotent(sl_log *log, const char *topic, const sl_record *records, size_t n,
                             sl_view idempotency_key, sl_append_cb cb, void *opaque);

/*
 * The blocking form: returns 0 once every record is durable. partitions and
 * offsets may be NULL, or point to n entries that receive where each record
 * landed.
 */
int sl_log_append_sync(sl_log *log, const char *topic, const sl_record *records, size_t n,
                       int32_t *partitions, int64_t *offsets);

/* The partition a key lands on: murmur2 as Kafka's Java client does it. */
int32_t sl_log_partition_for_key(sl_view key, int32_t partitions);

/* ---- reading --------------------------------------------------------- */

typedef struct sl_message {
    int32_t partition;
    int64_t offset;
    int64_t ts_us;
    sl_view key;     /* ptr NULL when keyless */
    sl_view value;
} sl_message;

/* Messages read from one topic-partition; owns their bytes until released. */
typedef struct sl_fetch {
    const char *topic;      /* valid while the log is open */
    int32_t partition;
    sl_message *msgs;
    size_t n;
    int64_t next_offset;    /* where the following read should start */
    void *priv;             /* backend's memory */
    void (*release)(struct sl_fetch *);
} sl_fetch;

void sl_fetch_release(sl_fetch *f); /* NULL-safe; leaves f empty */

/*
 * Read up to max_records / max_bytes (at least one record, whatever its
 * size) from topic/partition starting at offset. With nothing to read it
 * waits up to timeout_ms for new records, then returns 0 with f->n == 0.
 * An offset below the partition's start (deleted by retention) or above its
 * end returns SL_ERR_RANGE.
 */
int sl_log_read(sl_log *log, const char *topic, int32_t partition, int64_t offset,
                size_t max_records, size_t max_bytes, int timeout_ms, sl_fetch *f);

/* First available and next-to-be-written offsets of a partition. */
int sl_log_offsets(sl_log *log, const char *topic, int32_t partition, int64_t *start,
                   int64_t *end);

/* ---- topics and groups ----------------------------------------------- */

typedef struct sl_topic_info {
    char *name;
    int32_t partitions;
} sl_topic_info;

/* The declared topics (including _dlq). Free with sl_log_topics_free. */
int  sl_log_topics(sl_log *log, sl_topic_info **out, size_t *n);
void sl_log_topics_free(sl_topic_info *topics, size_t n);

/* Group offsets: commit stores next_offset durably before returning. */
int sl_log_commit(sl_log *log, const char *group, const char *topic, int32_t partition,
                  int64_t next_offset);
/* -ENOENT when the group never committed on this partition. */
int sl_log_committed(sl_log *log, const char *group, const char *topic, int32_t partition,
                     int64_t *next_offset);
/* Groups that committed on a topic; free each name and the array. */
int sl_log_groups(sl_log *log, const char *topic, char ***groups, size_t *n);

/* ---- consumers (a member of a group) ----------------------------------- */

typedef struct sl_topic_partition {
    const char *topic;
    int32_t partition;
} sl_topic_partition;

/*
 * Rebalance hooks, both called from inside sl_consumer_poll on the
 * polling thread. revoked: the partitions are about to go to another
 * member; flush and commit what was processed before returning.
 */
typedef struct sl_consumer_hooks {
    void (*assigned)(void *arg, const sl_topic_partition *tps, size_t n);
    void (*revoked)(void *arg, const sl_topic_partition *tps, size_t n);
    void *arg;
} sl_consumer_hooks;

/*
 * Join group on the given topics. Partitions are spread over the members of
 * the group (range assignment on the embedded log, the group protocol on
 * Kafka). A newly assigned partition starts at the group's committed offset,
 * or at the partition's start when the group has none. hooks may be NULL.
 */
int sl_consumer_open(sl_log *log, const char *group, const char *const *topics, size_t ntopics,
                     const sl_consumer_hooks *hooks, sl_consumer **out);
/*
 * Fetch the next messages of one assigned partition (round robin over the
 * assignment). Waits up to timeout_ms; returns 0 with f->n == 0 when nothing
 * came. Not thread-safe: one thread polls a consumer.
 */
int sl_consumer_poll(sl_consumer *c, int timeout_ms, sl_fetch *f);
/* Commit next_offset for one assigned partition (durable on return). */
int sl_consumer_commit(sl_consumer *c, const char *topic, int32_t partition, int64_t next_offset);
/* Move the read position of an assigned partition (the lake resumes from its files). */
int sl_consumer_seek(sl_consumer *c, const char *topic, int32_t partition, int64_t offset);
/* The current assignment; valid until the next poll. */
int sl_consumer_assignment(sl_consumer *c, const sl_topic_partition **tps, size_t *n);
/* Leave the group (revoked hook runs) and free. */
void sl_consumer_close(sl_consumer *c);

#endif
