/*
 * test_murmur2.c - sluice's key partitioning against librdkafka's
 * Java-compatible murmur2 partitioner (an independent implementation) over
 * random keys and partition counts, and against murmur2 values published
 * by the Kafka Java client's tests.
 */
#include "core/murmur2.h"
#include "log/log.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

static rd_kafka_t *rk;
static rd_kafka_topic_t *rkt;

static void kafka_setup(void)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    rkt = rd_kafka_topic_new(rk, "murmur", NULL);
    cr_assert_not_null(rkt);
}

static void kafka_teardown(void)
{
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

static int32_t kafka_partition(const void *key, size_t n, int32_t partitions)
{
    return rd_kafka_msg_partitioner_murmur2(rkt, key, n, partitions, NULL, NULL);
}

Test(murmur2, java_client_known_values, .init = kafka_setup, .fini = kafka_teardown)
{
    static const struct {
        const char *key;
        int32_t hash;
    } known[] = {
        { "21", -973932308 },
        { "foobar", -790332482 },
        { "a-little-bit-long-string", -985981536 },
        { "a-little-bit-longer-string", -1486304829 },
        { "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971 },
        { "abc", 479470107 },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        size_t n = strlen(known[i].key);
        int32_t h = (int32_t)sl_murmur2(known[i].key, n);
        cr_expect_eq(h, known[i].hash, "murmur2(%s) = %d, want %d", known[i].key, h,
                     known[i].hash);
        /* librdkafka: (h & 0x7fffffff) % INT32_MAX is the positive hash itself. */
        int32_t positive = (int32_t)((uint32_t)known[i].hash & 0x7fffffffu);
        cr_expect_eq(kafka_partition(known[i].key, n, INT32_MAX), positive % INT32_MAX,
                     "librdkafka disagrees with the published value for %s", known[i].key);
    }
}

Test(murmur2, same_partitions_as_librdkafka, .init = kafka_setup, .fini = kafka_teardown)
{
    unsigned seed = 42;
    char key[64];
    for (int i = 0; i < 100000; i++) {
        size_t n = 1 + (size_t)(rand_r(&seed) % 63);
        for (size_t k = 0; k < n; k++)
            key[k] = (char)rand_r(&seed);
        int32_t partitions = 1 + i % 64;
        int32_t want = kafka_partition(key, n, partitions);
        cr_assert_eq(sl_murmur2_partition(key, n, partitions), want, "key #%d", i);
        cr_assert_eq(sl_log_partition_for_key((sl_view){ key, n }, partitions), want);
    }
}
