/*
 * murmur2.h - MurmurHash2 exactly as Apache Kafka's Java client computes it
 * (seed 0x9747b28c), so that sluice places a keyed record on the same
 * partition a Kafka producer would.
 *
 * Kafka's default partitioner is toPositive(murmur2(key)) % partitions with
 * toPositive(x) = x & 0x7fffffff; sl_murmur2_partition does that.
 */
#ifndef SL_MURMUR2_H
#define SL_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/* The 32-bit hash; cast to int32_t to compare with Java's int result. */
uint32_t sl_murmur2(const void *key, size_t n);

/* toPositive(murmur2(key)) % partitions; partitions must be > 0. */
int32_t sl_murmur2_partition(const void *key, size_t n, int32_t partitions);

#endif
