/*
 * kafka.h - the Kafka backend of the log (log.backend: kafka): topics,
 * appends, reads, group offsets and consumer groups on an Apache Kafka
 * cluster through librdkafka. log.c opens it; nothing else calls into it.
 *
 * The options it reads from sl_log_options: topics (created with their
 * partitions and replication if missing, checked against the cluster
 * otherwise; `_dlq` is added with one partition), max_pending_bytes (the
 * volume of undelivered records beyond which appends get SL_ERR_FULL),
 * read_only (inspection: no topic creation, appends refused) and
 * kafka_conf, the librdkafka properties passed through verbatim except for
 * the keys of sluice's own, which start with "sluice." and are removed
 * before librdkafka sees the rest:
 *
 *   sluice.accept.partition.mismatch  true: run with a topic whose partition
 *                                     count on the cluster differs from the
 *                                     declared one (keys then follow the
 *                                     cluster's count); default false
 *   sluice.timeout.ms                 bound of every metadata, admin, offset,
 *                                     commit and seek request; default 10000
 *   sluice.metrics.refresh.ms         how often start/end offsets and group
 *                                     commits are fetched for /metrics;
 *                                     default 5000
 *
 * docs/kafka.md describes the behaviour seen by users; the differences from
 * the embedded log are listed there and in the file headers of
 * src/log/kafka/.
 */
#ifndef SL_LOG_KAFKA_H
#define SL_LOG_KAFKA_H

#include "log/log.h"

/* sl_log_open for backend "kafka" (log.c calls it; see log.h). */
int sl_log_kafka_open(const sl_log_options *opts, sl_log **out);

#endif
