/*
 * kafka_int.h - the Kafka backend's shared internals: the log handle, its
 * topics, groups and consumers, and the functions the files of
 * src/log/kafka/ call on each other.
 *
 *   kafka.c     open and close, topic creation and checks, metrics and the
 *               refresher thread, the ops table
 *   conf.c      sluice.* keys, librdkafka configurations per role, the log
 *               and error callbacks, error-code mapping
 *   produce.c   the append path: partitioning, reservations, delivery
 *               reports, the poller thread
 *   read.c      sl_log_read (one reader handle, a queue per partition),
 *               offsets, group offsets and the groups this process knows
 *   consumer.c  sl_consumer_*: a member of a Kafka consumer group
 *
 * librdkafka handles, one role each:
 *   producer     appends; also metadata and watermark queries
 *   reader       a consumer with partitions assigned by sl_log_read
 *   group        per group, lazily: commits and committed offsets from
 *                outside a member (it never joins the group)
 *   member       per sl_consumer: subscribes and takes part in rebalances
 *
 * Locking, outermost first:
 *   groups_lock     the list of groups (never held across a network call)
 *   group->lock     a group's member list and its standalone handle; held
 *                   while another thread uses a member's handle, so a
 *                   member cannot be destroyed under it
 *   member->lock    a member's assignment, for lookups from other threads
 *   rpart->lock     one reader partition (held while a read waits)
 *   cache_lock      offsets and commits cached for /metrics
 * Topics and their partition counts never change after open.
 */
#ifndef SL_LOG_KAFKA_INT_H
#define SL_LOG_KAFKA_INT_H

#include "core/metrics.h"
#include "log/kafka/kafka.h"
#include "log/log_int.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>

#define TAG "kafka"

#define KAFKA_DEFAULT_TIMEOUT_MS  10000
#define KAFKA_DEFAULT_REFRESH_MS  5000
#define KAFKA_DEFAULT_PENDING     (64LL << 20)
/* A call that has produced part of its records waits this long for queue
   space for the rest before it gives up (see produce.c). */
#define KAFKA_PRODUCE_WAIT_MS     1000
/* The header that carries sl_log_append_idempotent's key. */
#define KAFKA_IDEMPOTENCY_HEADER  "sluice.idempotency-key"
/* group.id of the reader handle; it never joins or commits. */
#define KAFKA_READER_GROUP        "sluice.reader"

typedef struct kafka_log kafka_log;
typedef struct kafka_group kafka_group;
typedef struct kafka_consumer kafka_consumer;

typedef struct kafka_settings {
    bool accept_mismatch;
    int timeout_ms;
    int refresh_ms;
} kafka_settings;

/* A reader partition: assigned to the reader on first read. */
typedef struct kafka_rpart {
    pthread_mutex_t lock;
    bool assigned;
    rd_kafka_queue_t *queue;       /* the partition's own queue (not forwarded) */
    int64_t next;                  /* where the next sequential read starts */
    rd_kafka_message_t **left;     /* consumed but not returned (max_bytes) */
    size_t nleft, lhead, lcap;
} kafka_rpart;

typedef struct kafka_topic {
    char *name;
    int32_t partitions;        /* in use: declared, or the cluster's if accepted */
    int32_t declared;
    int16_t replication;
    _Atomic uint32_t rr;       /* keyless rotation */
    rd_kafka_topic_t *rkt;     /* the producer's handle */
    kafka_rpart *rparts;       /* [partitions] */
    _Atomic int64_t *end_seen; /* [partitions]: highest delivered offset + 1 */
    int64_t *start_cache, *end_cache; /* [partitions], cache_lock; -1 = unknown */
    sl_metric *m_records, *m_bytes, *m_append_seconds, *m_delivery_errors;
} kafka_topic;

/* A committed offset known to this process (cache for lag). */
typedef struct kafka_commit_entry {
    kafka_topic *topic;
    int32_t partition;
    int64_t next_offset;
} kafka_commit_entry;

struct kafka_group {
    kafka_group *next;
    char *name;
    pthread_mutex_t lock;
    rd_kafka_t *rk;            /* standalone handle, lazily; NULL until needed */
    kafka_consumer *members;   /* this process's members, linked by next_member */
    kafka_topic **topics;      /* subscribed or committed on (sl_log_groups) */
    size_t ntopics, tcap;
    kafka_commit_entry *commits;     /* cache_lock */
    size_t ncommits, ccap;
};

/* A partition of a member's assignment with the messages polled ahead. */
typedef struct kafka_cpart {
    kafka_topic *topic;
    int32_t partition;
    rd_kafka_message_t **msgs;
    size_t head, n, cap;
} kafka_cpart;

struct kafka_consumer {
    sl_consumer base;
    kafka_log *log;
    kafka_group *group;
    kafka_consumer *next_member;
    rd_kafka_t *rk;
    sl_consumer_hooks hooks;
    pthread_mutex_t lock;      /* parts and nparts, for other threads */
    kafka_cpart *parts;
    size_t nparts, cap;
    sl_topic_partition *tps;   /* sl_consumer_assignment's answer */
    size_t rr;
    /* While the assigned hook runs: the partitions being taken, so a seek
       in the hook sets their starting offsets. */
    rd_kafka_topic_partition_list_t *assigning;
    bool ever_assigned;        /* an assignment came (see kafka_consumer_close) */
};

struct kafka_log {
    sl_log base;
    kafka_settings set;
    char **conf;               /* librdkafka key, value pairs (sluice.* removed) */
    size_t nconf;
    bool read_only;

    rd_kafka_t *producer;
    kafka_topic *topics;
    size_t ntopics;

    /* appends */
    pthread_rwlock_t append_lock; /* appends read-lock it; close write-locks it */
    _Atomic int closing;
    _Atomic int64_t pending_msgs, pending_bytes;
    int64_t max_pending_msgs, max_pending_bytes;
    pthread_t poller;
    bool poller_started;
    _Atomic int poller_stop;

    /* reads */
    pthread_mutex_t reader_lock; /* creation of the reader handle */
    rd_kafka_t *reader;

    /* groups */
    pthread_mutex_t groups_lock;
    kafka_group *groups;

    /* the refresher thread: offsets and commits for /metrics */
    pthread_mutex_t cache_lock;
    pthread_t refresher;
    bool refresher_started;
    pthread_mutex_t refresh_lock;
    pthread_cond_t refresh_cond;
    bool refresh_stop;

    sl_metric *m_queue;
    sl_metric_family *f_start, *f_end, *f_lag;
};

/* ---- conf.c ------------------------------------------------------------ */

typedef enum { KAFKA_PRODUCER, KAFKA_READER, KAFKA_GROUP, KAFKA_MEMBER } kafka_role;

/* Split the configured pairs into sluice.* settings and librdkafka pairs
   (copied into log->conf). Errors are logged; returns SL_ERR_CONFIG. */
int kafka_conf_parse(kafka_log *log, const char *const *pairs);
/* A configuration for a handle of this role (group: group.id for group and
   member roles). NULL with the reason logged when librdkafka refuses a key. */
rd_kafka_conf_t *kafka_conf_new(kafka_log *log, kafka_role role, const char *group);
/* A librdkafka error as a sluice code (see the table in conf.c). */
int kafka_err_code(rd_kafka_resp_err_t err);
/* rd_kafka_new with the conf (consumed either way); NULL with a log line. */
rd_kafka_t *kafka_handle_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what);

/* ---- kafka.c ----------------------------------------------------------- */

kafka_topic *kafka_topic_find(kafka_log *log, const char *name);
/* The topic and a checked partition, or NULL with *err set. */
kafka_topic *kafka_partition_check(kafka_log *log, const char *topic, int32_t partition,
                                   int *err);
/* Watermarks through the producer handle, bounded by sluice.timeout.ms. */
int kafka_watermarks(kafka_log *log, kafka_topic *t, int32_t partition, int64_t *lo,
                     int64_t *hi);
/* Remember a committed offset (for lag). */
void kafka_commit_cache(kafka_log *log, kafka_group *g, kafka_topic *t, int32_t partition,
                        int64_t next_offset);

/* ---- produce.c --------------------------------------------------------- */

int kafka_append(sl_log *log, const char *topic, const sl_record *records, size_t n,
                 sl_view idempotency_key, sl_append_cb cb, void *opaque);
/* The delivery report callback (installed on the producer conf). */
void kafka_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
int kafka_poller_start(kafka_log *log);
/* Deliver or fail everything pending (each callback fires once), stop the
   poller. Appends must already be refused. */
void kafka_producer_drain(kafka_log *log);

/* ---- read.c ------------------------------------------------------------ */

int kafka_read(sl_log *log, const char *topic, int32_t partition, int64_t offset,
               size_t max_records, size_t max_bytes, int timeout_ms, sl_fetch *f);
void kafka_reader_close(kafka_log *log);
int kafka_offsets(sl_log *log, const char *topic, int32_t partition, int64_t *start,
                  int64_t *end);
int kafka_commit(sl_log *log, const char *group, const char *topic, int32_t partition,
                 int64_t next_offset);
int kafka_committed(sl_log *log, const char *group, const char *topic, int32_t partition,
                    int64_t *next_offset);
int kafka_groups(sl_log *log, const char *topic, char ***groups, size_t *n);
kafka_group *kafka_group_get(kafka_log *log, const char *name);
void kafka_group_add_topic(kafka_log *log, kafka_group *g, kafka_topic *t);
void kafka_groups_close(kafka_log *log);
/* Commit one offset through a handle, waiting at most sluice.timeout.ms. */
int kafka_commit_via(kafka_log *log, rd_kafka_t *rk, const char *group, kafka_topic *t,
                     int32_t partition, int64_t next_offset);
/* Refresh the committed offsets of every known group (refresher thread). */
void kafka_groups_refresh(kafka_log *log);
/* Serve the main queues of the reader and the standalone group handles
   (their error events), which nothing else polls (refresher thread). */
void kafka_handles_serve(kafka_log *log);
/* A fetch that owns librdkafka messages: fills f from msgs[0..n). */
void kafka_fetch_fill(sl_fetch *f, kafka_topic *t, int32_t partition, rd_kafka_message_t **msgs,
                      size_t n);

/* ---- consumer.c -------------------------------------------------------- */

int kafka_consumer_open(sl_log *log, const char *group, const char *const *topics,
                        size_t ntopics, const sl_consumer_hooks *hooks, sl_consumer **out);
int kafka_consumer_poll(sl_consumer *c, int timeout_ms, sl_fetch *f);
int kafka_consumer_commit(sl_consumer *c, const char *topic, int32_t partition,
                          int64_t next_offset);
int kafka_consumer_seek(sl_consumer *c, const char *topic, int32_t partition, int64_t offset);
int kafka_consumer_assignment(sl_consumer *c, const sl_topic_partition **tps, size_t *n);
void kafka_consumer_close(sl_consumer *c);
/* librdkafka < 2.3.0 aborts destroying a cooperative member that never got an
   assignment (consumer.c); such handles are parked until exit instead. */
bool kafka_destroy_would_abort(void);
void kafka_handle_park(rd_kafka_t *rk);
/* With g->lock held: the member that has topic/partition assigned, or NULL. */
kafka_consumer *kafka_member_owning(kafka_group *g, kafka_topic *t, int32_t partition);

#endif
