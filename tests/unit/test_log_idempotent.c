/*
 * test_log_idempotent.c - appends with an idempotency key: a retry is
 * answered with the original offsets and not written again, also after a
 * restart; keyless records follow the key's partition.
 */
#include "core/metrics.h"
#include "core/murmur2.h"
#include "log/log.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static char dir[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void setup(void)
{
    strcpy(dir, "/tmp/sluice-idem-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    sl_metrics_reset();
}

TestSuite(idempotent, .init = setup, .fini = teardown, .timeout = 60);

static sl_topic_spec topics[] = { { .name = "t", .partitions = 3, .segment_bytes = 1 << 20 } };

static sl_log *open_log(void)
{
    sl_log_options o = { .data_dir = dir, .fsync = SL_FSYNC_GROUP, .topics = topics, .ntopics = 1 };
    sl_log *log = NULL;
    cr_assert_eq(sl_log_open(&o, &log), 0);
    return log;
}

typedef struct result {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int status;
    int32_t parts[8];
    int64_t offsets[8];
} result;

static void on_done(void *opaque, int status, const int32_t *p, const int64_t *o, size_t n)
{
    result *r = opaque;
    pthread_mutex_lock(&r->lock);
    r->status = status;
    memcpy(r->parts, p, n * sizeof *p);
    memcpy(r->offsets, o, n * sizeof *o);
    r->done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void append_key(sl_log *log, const char *key, const sl_record *recs, size_t n, result *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    cr_assert_eq(sl_log_append_idempotent(log, "t", recs, n, sl_view_of(key), on_done, r), 0);
    pthread_mutex_lock(&r->lock);
    while (!r->done)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
    cr_assert_eq(r->status, 0);
}

static int64_t total_end(sl_log *log)
{
    int64_t sum = 0, start, end;
    for (int p = 0; p < 3; p++) {
        sl_log_offsets(log, "t", p, &start, &end);
        sum += end;
    }
    return sum;
}

static sl_record rec(const char *key, const char *value)
{
    return (sl_record){ .key = sl_view_of(key), .value = sl_view_of(value), .ts_us = 1,
                        .partition = SL_PARTITION_AUTO };
}

Test(idempotent, a_retry_gets_the_original_offsets_and_writes_nothing)
{
    sl_log *log = open_log();
    sl_record recs[4] = { rec("a", "1"), rec("b", "2"), rec("c", "3"), rec("a", "4") };
    result first, retry, other;
    append_key(log, "req-1", recs, 4, &first);
    cr_assert_eq(total_end(log), 4);
    append_key(log, "req-1", recs, 4, &retry);
    cr_assert_eq(total_end(log), 4, "the retry was written again");
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(retry.parts[i], first.parts[i]);
        cr_assert_eq(retry.offsets[i], first.offsets[i]);
    }
    append_key(log, "req-2", recs, 4, &other);
    cr_assert_eq(total_end(log), 8, "another key is another batch");
    sl_log_close(log);

    /* After a restart the keys of the active segment are known again. */
    log = open_log();
    append_key(log, "req-1", recs, 4, &retry);
    append_key(log, "req-2", recs, 4, &retry);
    cr_assert_eq(total_end(log), 8, "a retry after a restart was written again");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(retry.offsets[i], other.offsets[i]);
    sl_log_close(log);
}

/* A replay that computes other records under the same key (a scenario
   edited between a crash and the restart) keeps the first copy. */
Test(idempotent, a_retry_with_other_records_keeps_the_first_copy)
{
    sl_log *log = open_log();
    sl_record two[2] = { rec("k", "1"), rec("k", "2") };
    sl_record three[3] = { rec("k", "1"), rec("k", "2"), rec("k", "3") };
    sl_record one[1] = { rec("k", "9") };
    result first, more, fewer;
    append_key(log, "range-0", two, 2, &first);
    cr_assert_eq(total_end(log), 2);
    append_key(log, "range-0", three, 3, &more);
    cr_assert_eq(total_end(log), 2, "a longer replay was written again");
    cr_assert_eq(more.offsets[0], first.offsets[0]);
    cr_assert_eq(more.offsets[1], first.offsets[1]);
    cr_assert_eq(more.offsets[2], -1, "a record the original did not hold has no offset");
    append_key(log, "range-0", one, 1, &fewer);
    cr_assert_eq(total_end(log), 2, "a shorter replay was written again");
    cr_assert_eq(fewer.offsets[0], first.offsets[0]);
    sl_log_close(log);
}

Test(idempotent, keyless_records_follow_the_key)
{
    sl_log *log = open_log();
    sl_record recs[2] = { rec("", "x"), rec("", "y") };
    const char *keys[] = { "k-1", "k-2", "k-3", "k-4", "k-5", "k-6" };
    for (size_t i = 0; i < SL_ARRAY_LEN(keys); i++) {
        result r;
        append_key(log, keys[i], recs, 2, &r);
        int32_t want = sl_murmur2_partition(keys[i], strlen(keys[i]), 3);
        cr_assert_eq(r.parts[0], want);
        cr_assert_eq(r.parts[1], want);
    }
    sl_log_close(log);
}

Test(idempotent, oversized_key_is_refused)
{
    sl_log *log = open_log();
    char big[300];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sl_record r = rec("a", "1");
    cr_assert_eq(sl_log_append_idempotent(log, "t", &r, 1, sl_view_of(big), on_done, NULL),
                 SL_ERR_TOOBIG);
    sl_log_close(log);
}
