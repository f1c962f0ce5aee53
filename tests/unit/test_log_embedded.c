/*
 * test_log_embedded.c - the embedded log through the public API (log.h):
 * appends and reads across rolled segments, routing, the fsync modes and
 * group commit, recovery of torn and corrupt tails, retention, groups and
 * consumers, waiting reads, read-only opens beside a writer, backpressure
 * and a failed write. Each test works in its own temporary directory.
 */
#include "core/metrics.h"
#include "core/murmur2.h"
#include "log/embedded/embedded.h"
#include "log/log.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void setup(void)
{
    strcpy(dir, "/tmp/sluice-log-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    sl_metrics_reset();
}

TestSuite(log, .init = setup, .fini = teardown, .timeout = 60);

static sl_topic_spec topics[] = {
    { .name = "t", .partitions = 3, .segment_bytes = 4096 },
    { .name = "tz", .partitions = 2, .segment_bytes = 4096, .compress = true },
    { .name = "one", .partitions = 1 },
};

static sl_log *open_log(sl_fsync_mode mode)
{
    sl_log_options o = { .data_dir = dir, .fsync = mode, .topics = topics,
                         .ntopics = SL_ARRAY_LEN(topics) };
    sl_log *log = NULL;
    int rc = sl_log_open(&o, &log);
    cr_assert_eq(rc, 0, "open: %s", sl_strerror(rc));
    return log;
}

static char *path_of(const char *rel)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/log/%s", dir, rel);
    return p;
}

static int count_files(const char *rel, const char *suffix)
{
    DIR *d = opendir(path_of(rel));
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name), s = strlen(suffix);
        n += l > s && strcmp(e->d_name + l - s, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* Read everything of a partition from `from`; checks dense offsets. */
static size_t read_all(sl_log *log, const char *topic, int32_t p, int64_t from,
                       void (*each)(const sl_message *, void *), void *arg)
{
    size_t total = 0;
    int64_t off = from, start, end;
    cr_assert_eq(sl_log_offsets(log, topic, p, &start, &end), 0);
    while (off < end) {
        sl_fetch f;
        int rc = sl_log_read(log, topic, p, off, 37, 1 << 20, 0, &f);
        cr_assert_eq(rc, 0, "read %s/%d@%lld: %s", topic, p, (long long)off, sl_strerror(rc));
        cr_assert_gt(f.n, 0);
        cr_assert_leq(f.n, 37);
        for (size_t i = 0; i < f.n; i++) {
            cr_assert_eq(f.msgs[i].offset, off + (int64_t)i, "dense offsets");
            cr_assert_eq(f.msgs[i].partition, p);
            if (each)
                each(&f.msgs[i], arg);
        }
        off += (int64_t)f.n;
        cr_assert_eq(f.next_offset, off);
        total += f.n;
        sl_fetch_release(&f);
    }
    return total;
}

/* ---- append and read ---------------------------------------------------- */

typedef struct check_ctx {
    const char *topic;
    int nparts;
    int seen;
} check_ctx;

/* Values are {"i":N,"k":"key-M"} with key-M the key (or no key for odd N). */
static void check_value(const sl_message *m, void *arg)
{
    check_ctx *c = arg;
    int i;
    cr_assert_eq(sscanf(m->value.ptr, "{\"i\":%d", &i), 1);
    cr_assert_eq(m->ts_us, 1700000000000000LL + i);
    if (i % 2 == 0) {
        char key[32];
        int n = snprintf(key, sizeof key, "key-%d", i % 17);
        cr_assert(sl_view_eq(m->key, (sl_view){ key, (size_t)n }));
        cr_assert_eq(sl_murmur2_partition(key, (size_t)n, c->nparts), m->partition,
                     "keyed records land on the murmur2 partition");
    } else {
        cr_assert_null(m->key.ptr);
    }
    c->seen++;
}

static void append_many(sl_log *log, const char *topic, int calls, int per_call)
{
    static char values[64][64], keys[64][16];
    sl_record recs[64];
    int i = 0;
    for (int c = 0; c < calls; c++) {
        for (int r = 0; r < per_call; r++, i++) {
            int vn = snprintf(values[r], sizeof values[r], "{\"i\":%d,\"pad\":\"%0*d\"}", i,
                              i % 40, 0);
            recs[r] = (sl_record){ .value = { values[r], (size_t)vn },
                                   .ts_us = 1700000000000000LL + i,
                                   .partition = SL_PARTITION_AUTO };
            if (i % 2 == 0) {
                int kn = snprintf(keys[r], sizeof keys[r], "key-%d", i % 17);
                recs[r].key = (sl_view){ keys[r], (size_t)kn };
            }
        }
        int rc = sl_log_append_sync(log, topic, recs, (size_t)per_call, NULL, NULL);
        cr_assert_eq(rc, 0, "append: %s", sl_strerror(rc));
    }
}

static void round_trip(const char *topic, int nparts)
{
    sl_log *log = open_log(SL_FSYNC_OS);
    append_many(log, topic, 150, 10);
    check_ctx c = { topic, nparts, 0 };
    for (int p = 0; p < nparts; p++)
        read_all(log, topic, p, 0, check_value, &c);
    cr_assert_eq(c.seen, 1500);
    char rel[16];
    snprintf(rel, sizeof rel, "%s/0", topic);
    cr_assert_gt(count_files(rel, ".log"), 2, "small segment_bytes rolls segments");
    sl_log_close(log);

    /* The same after a reopen (indexes from disk, recovery of the active segment). */
    log = open_log(SL_FSYNC_OS);
    c.seen = 0;
    for (int p = 0; p < nparts; p++)
        read_all(log, topic, p, 0, check_value, &c);
    cr_assert_eq(c.seen, 1500);
    sl_buf report = SL_BUF_INIT;
    cr_assert_eq(sl_log_embedded_recovery_report(log, &report), 0, "%s", report.data);
    sl_buf_free(&report);
    sl_log_close(log);
}

Test(log, round_trip_with_rolling)
{
    round_trip("t", 3);
}

Test(log, round_trip_compressed)
{
    round_trip("tz", 2);
}

static int32_t cb_partitions[8];
static int64_t cb_offsets[8];
static int cb_calls, cb_status;

static void record_cb(void *opaque, int status, const int32_t *partitions,
                      const int64_t *offsets, size_t n)
{
    (void)opaque;
    cb_calls++;
    cb_status = status;
    memcpy(cb_partitions, partitions, n * sizeof *partitions);
    memcpy(cb_offsets, offsets, n * sizeof *offsets);
}

Test(log, routing_and_errors)
{
    sl_log *log = open_log(SL_FSYNC_OS);
    sl_record r[4] = {
        { .value = SL_VIEW_LIT("{}"), .partition = 2 },
        { .value = SL_VIEW_LIT("{}"), .partition = SL_PARTITION_AUTO },
        { .key = SL_VIEW_LIT("abc"), .value = SL_VIEW_LIT("{}"), .partition = SL_PARTITION_AUTO },
        { .value = SL_VIEW_LIT("{}"), .partition = SL_PARTITION_AUTO },
    };
    cr_assert_eq(sl_log_append(log, "t", r, 4, record_cb, NULL), 0);
    cr_assert_eq(cb_calls, 1, "OS mode completes within the call");
    cr_assert_eq(cb_status, 0);
    cr_assert_eq(cb_partitions[0], 2);
    cr_assert_eq(cb_partitions[2], sl_murmur2_partition("abc", 3, 3));
    cr_assert_eq(cb_partitions[1], cb_partitions[3], "keyless: one partition per call");
    int32_t first_keyless = cb_partitions[1];
    cr_assert_eq(sl_log_append(log, "t", r + 1, 1, record_cb, NULL), 0);
    cr_assert_neq(cb_partitions[0], first_keyless, "keyless: rotates between calls");

    cb_calls = 0;
    cr_assert_eq(sl_log_append(log, "nope", r, 1, record_cb, NULL), SL_ERR_NOTOPIC);
    sl_record bad = { .value = SL_VIEW_LIT("{}"), .partition = 3 };
    cr_assert_eq(sl_log_append(log, "t", &bad, 1, record_cb, NULL), SL_ERR_NOPARTITION);
    cr_assert_eq(cb_calls, 0, "no callback when the call fails");
    sl_fetch f;
    cr_assert_eq(sl_log_read(log, "t", 7, 0, 10, 1000, 0, &f), SL_ERR_NOPARTITION);
    cr_assert_eq(sl_log_read(log, "nope", 0, 0, 10, 1000, 0, &f), SL_ERR_NOTOPIC);
    cr_assert_eq(sl_log_read(log, "t", 2, 5, 10, 1000, 0, &f), SL_ERR_RANGE);

    /* _dlq is always there, with one partition. */
    sl_topic_info *ti;
    size_t nt;
    cr_assert_eq(sl_log_topics(log, &ti, &nt), 0);
    cr_assert_eq(nt, 4);
    bool dlq = false;
    for (size_t i = 0; i < nt; i++)
        dlq |= strcmp(ti[i].name, "_dlq") == 0 && ti[i].partitions == 1;
    cr_assert(dlq);
    sl_log_topics_free(ti, nt);
    cr_assert_eq(sl_log_append_sync(log, "_dlq", r + 1, 1, NULL, NULL), 0);
    sl_log_close(log);
}

Test(log, kafka_backend_is_not_built)
{
    sl_log_options o = { .backend = "kafka", .data_dir = dir };
    sl_log *log;
    cr_assert_eq(sl_log_open(&o, &log), SL_ERR_CONFIG);
    o.backend = "nonsense";
    cr_assert_eq(sl_log_open(&o, &log), SL_ERR_CONFIG);
}

Test(log, second_writer_is_refused)
{
    sl_log *log = open_log(SL_FSYNC_OS);
    sl_log_options o = { .data_dir = dir, .topics = topics, .ntopics = 1 };
    sl_log *other;
    cr_assert_eq(sl_log_open(&o, &other), -EBUSY);
    sl_log_close(log);
}

/* ---- fsync modes and group commit --------------------------------------- */

Test(log, all_fsync_modes_complete)
{
    sl_fsync_mode modes[] = { SL_FSYNC_ALWAYS, SL_FSYNC_GROUP, SL_FSYNC_OS };
    for (int m = 0; m < 3; m++) {
        sl_log *log = open_log(modes[m]);
        sl_record r[2] = { { .key = SL_VIEW_LIT("a"), .value = SL_VIEW_LIT("1"), .partition = -1 },
                           { .key = SL_VIEW_LIT("b"), .value = SL_VIEW_LIT("2"), .partition = -1 } };
        int32_t parts[2];
        int64_t offs[2];
        for (int i = 0; i < 5; i++) {
            cr_assert_eq(sl_log_append_sync(log, "one", r, 2, parts, offs), 0);
            cr_assert_eq(offs[0], m * 12 + i * 2);
            cr_assert_eq(offs[1], m * 12 + i * 2 + 1);
            cr_assert_eq(parts[0], 0);
        }
        if (modes[m] != SL_FSYNC_OS)
            cr_assert_gt(sl_log_embedded_fsync_count(log), 0);
        /* An asynchronous append pending at close completes during close. */
        cb_calls = 0;
        cr_assert_eq(sl_log_append(log, "one", r, 2, record_cb, NULL), 0);
        sl_log_close(log);
        cr_assert_eq(cb_calls, 1);
        cr_assert_eq(cb_status, 0);
    }
}

typedef struct appender {
    sl_log *log;
    const char *topic;
    int calls;
    int records;
    size_t value_size;
} appender;

static void *append_thread(void *arg)
{
    appender *a = arg;
    char *values = malloc((size_t)a->records * a->value_size);
    sl_record *recs = calloc((size_t)a->records, sizeof *recs);
    char keys[100][16];
    for (int i = 0; i < a->records; i++) {
        memset(values + (size_t)i * a->value_size, 'v', a->value_size);
        int kn = snprintf(keys[i % 100], 16, "svc-%d", i % 7);
        recs[i] = (sl_record){ .key = { keys[i % 100], (size_t)kn },
                               .value = { values + (size_t)i * a->value_size, a->value_size },
                               .ts_us = 1700000000000000LL, .partition = SL_PARTITION_AUTO };
    }
    for (int c = 0; c < a->calls; c++) {
        int rc = sl_log_append_sync(a->log, a->topic, recs, (size_t)a->records, NULL, NULL);
        if (rc == SL_ERR_FULL) {
            usleep(200);
            continue;
        }
        cr_assert_eq(rc, 0, "%s", sl_strerror(rc));
    }
    free(values);
    free(recs);
    return NULL;
}

Test(log, group_commit_shares_fsyncs)
{
    sl_log *log = open_log(SL_FSYNC_GROUP);
    enum { THREADS = 8, CALLS = 60 };
    appender a[THREADS];
    pthread_t th[THREADS];
    uint64_t before = sl_log_embedded_fsync_count(log);
    for (int i = 0; i < THREADS; i++) {
        a[i] = (appender){ .log = log, .topic = "one", .calls = CALLS, .records = 3,
                           .value_size = 20 };
        pthread_create(&th[i], NULL, append_thread, &a[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    uint64_t fsyncs = sl_log_embedded_fsync_count(log) - before;
    cr_log_info("%d appends, %llu fsyncs", THREADS * CALLS, (unsigned long long)fsyncs);
    /* One partition: one fsync per round, shared by the appends queued in between. */
    cr_assert_lt(fsyncs, THREADS * CALLS / 2, "%llu fsyncs for %d appends",
                 (unsigned long long)fsyncs, THREADS * CALLS);
    int64_t s, e;
    sl_log_offsets(log, "one", 0, &s, &e);
    cr_assert_eq(e - s, THREADS * CALLS * 3);
    sl_log_close(log);
}

/* Up to `window` appends in flight per thread, as a collector with many
   connections has; completions come back on the syncer thread. */
typedef struct window {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int inflight;
} window;

static void window_done(void *opaque, int status, const int32_t *partitions,
                        const int64_t *offsets, size_t n)
{
    (void)partitions, (void)offsets, (void)n;
    window *w = opaque;
    cr_assert_eq(status, 0);
    pthread_mutex_lock(&w->lock);
    w->inflight--;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

typedef struct pipeliner {
    sl_log *log;
    int window;
    int64_t deadline_us;
    long done;
} pipeliner;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void *pipeline_thread(void *arg)
{
    pipeliner *a = arg;
    static __thread char values[100][250];
    char keys[100][16];
    sl_record recs[100];
    for (int i = 0; i < 100; i++) {
        memset(values[i], 'a' + i % 26, 250);
        int kn = snprintf(keys[i], 16, "svc-%d", (i * 7) % 50);
        recs[i] = (sl_record){ .key = { keys[i], (size_t)kn }, .value = { values[i], 250 },
                               .ts_us = 1700000000000000LL + i, .partition = SL_PARTITION_AUTO };
    }
    window w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    while (mono_us() < a->deadline_us) {
        pthread_mutex_lock(&w.lock);
        while (w.inflight >= a->window)
            pthread_cond_wait(&w.cond, &w.lock);
        w.inflight++;
        pthread_mutex_unlock(&w.lock);
        int rc = sl_log_append(a->log, "t", recs, 100, window_done, &w);
        if (rc) {
            cr_assert_eq(rc, SL_ERR_FULL, "%s", sl_strerror(rc));
            pthread_mutex_lock(&w.lock);
            w.inflight--;
            pthread_mutex_unlock(&w.lock);
            usleep(200);
            continue;
        }
        a->done++;
    }
    pthread_mutex_lock(&w.lock);
    while (w.inflight)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    return NULL;
}

Test(log, throughput_group_4_threads_100x250B, .timeout = 60)
{
    /* Figures, not assertions: 4 threads appending 100-record batches of 250 B,
       waiting for each append (window 1) or with 16 in flight per thread. */
    topics[0].segment_bytes = 64 << 20;
    int windows[] = { 1, 16 };
    for (int k = 0; k < 2; k++) {
        sl_log *log = open_log(SL_FSYNC_GROUP);
        pipeliner a[4];
        pthread_t th[4];
        int64_t t0 = mono_us();
        for (int i = 0; i < 4; i++) {
            a[i] = (pipeliner){ .log = log, .window = windows[k], .deadline_us = t0 + 1000000 };
            pthread_create(&th[i], NULL, pipeline_thread, &a[i]);
        }
        long calls = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            calls += a[i].done;
        }
        double secs = (double)(mono_us() - t0) / 1e6;
        uint64_t fsyncs = sl_log_embedded_fsync_count(log);
        sl_log_close(log);
        fprintf(stderr, "throughput: %.0f records/s, fsync group, 4 threads x window %d "
                "(%ld appends of 100 x 250 B in %.2f s, %llu fsyncs)\n",
                (double)calls * 100 / secs, windows[k], calls, secs, (unsigned long long)fsyncs);
        cr_assert_gt(calls, 0);
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        mkdir(dir, 0700);
    }
}

Test(log, backpressure_when_unsynced_bytes_pile_up)
{
    sl_log_options o = { .data_dir = dir, .fsync = SL_FSYNC_GROUP, .topics = topics, .ntopics = 1,
                         .group_commit_us = 300000, .max_pending_bytes = 2000 };
    sl_log *log;
    cr_assert_eq(sl_log_open(&o, &log), 0);
    char v[500];
    memset(v, 'x', sizeof v);
    sl_record r = { .value = { v, sizeof v }, .partition = 0 };
    int ok = 0, full = 0;
    cb_calls = 0;
    for (int i = 0; i < 20; i++) {
        int rc = sl_log_append(log, "t", &r, 1, record_cb, NULL);
        if (rc == 0)
            ok++;
        else if (rc == SL_ERR_FULL)
            full++;
    }
    cr_assert_gt(full, 0);
    cr_assert_lt(ok, 6);
    sl_log_close(log);
    cr_assert_eq(cb_calls, ok);
}

/* ---- recovery ------------------------------------------------------------- */

static char *last_segment(const char *rel)
{
    static char path[512];
    DIR *d = opendir(path_of(rel));
    char best[64] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l == 24 && strcmp(e->d_name + 20, ".log") == 0 && strcmp(e->d_name, best) > 0)
            strcpy(best, e->d_name);
    }
    closedir(d);
    snprintf(path, sizeof path, "%s/%s", path_of(rel), best);
    return path;
}

static void fill_one(sl_log *log, int n)
{
    char v[64];
    for (int i = 0; i < n; i++) {
        int k = snprintf(v, sizeof v, "{\"n\":%d}", i);
        sl_record r = { .value = { v, (size_t)k }, .ts_us = i, .partition = 0 };
        cr_assert_eq(sl_log_append_sync(log, "one", &r, 1, NULL, NULL), 0);
    }
}

/* Partition one/0 holds n records; the first `checked` are fill_one's {"n":i}. */
static void check_one(sl_log *log, int64_t n, int64_t checked)
{
    int64_t s, e;
    cr_assert_eq(sl_log_offsets(log, "one", 0, &s, &e), 0);
    cr_assert_eq(e, n);
    int64_t off = 0;
    while (off < e) {
        sl_fetch f;
        cr_assert_eq(sl_log_read(log, "one", 0, off, 1000, 1 << 20, 0, &f), 0);
        for (size_t i = 0; i < f.n; i++) {
            char want[32];
            int k = snprintf(want, sizeof want, "{\"n\":%lld}", (long long)(off + (int64_t)i));
            if (off + (int64_t)i < checked)
                cr_assert(sl_view_eq(f.msgs[i].value, (sl_view){ want, (size_t)k }));
        }
        off += (int64_t)f.n;
        sl_fetch_release(&f);
    }
}

Test(log, recovery_truncates_a_torn_tail)
{
    sl_log *log = open_log(SL_FSYNC_OS);
    fill_one(log, 10);
    sl_log_close(log);
    char *seg = last_segment("one/0");
    struct stat st;
    stat(seg, &st);
    cr_assert_eq(truncate(seg, st.st_size - 5), 0);

    log = open_log(SL_FSYNC_OS);
    sl_buf report = SL_BUF_INIT;
    cr_assert_eq(sl_log_embedded_recovery_report(log, &report), 1);
    cr_log_info("%s", report.data);
    cr_assert(strstr(report.data, "recovered one/0: dropped"), "%s", report.data);
    cr_assert(strstr(report.data, "after offset 8 in 00000000000000000000.log (torn batch)"),
              "%s", report.data);
    sl_buf_free(&report);
    check_one(log, 9, 9);
    fill_one(log, 1); /* continues at 9 */
    check_one(log, 10, 9);
    sl_buf m = SL_BUF_INIT;
    sl_metrics_render(&m);
    cr_assert(strstr(m.data, "sluice_log_recovered_bytes_dropped_total{topic=\"one\",partition=\"0\"}"),
              "%s", m.data);
    sl_buf_free(&m);
    sl_log_close(log);
}

Test(log, recovery_drops_a_corrupt_last_batch)
{
    sl_log *log = open_log(SL_FSYNC_ALWAYS);
    fill_one(log, 10);
    sl_log_close(log);
    char *seg = last_segment("one/0");
    struct stat st;
    stat(seg, &st);
    int fd = open(seg, O_RDWR);
    uint8_t c;
    cr_assert_eq(pread(fd, &c, 1, st.st_size - 2), 1);
    c ^= 0x55;
    cr_assert_eq(pwrite(fd, &c, 1, st.st_size - 2), 1);
    close(fd);

    /* verify sees it before recovery does. */
    sl_buf vr = SL_BUF_INIT;
    sl_log_verify_stats vs;
    cr_assert_eq(sl_log_embedded_verify(dir, &vr, &vs), 0);
    cr_assert_geq(vs.problems, 1, "%s", vr.data);
    cr_assert(strstr(vr.data, "00000000000000000000.log: crc mismatch at position"), "%s", vr.data);
    sl_buf_free(&vr);

    log = open_log(SL_FSYNC_ALWAYS);
    sl_buf report = SL_BUF_INIT;
    cr_assert_eq(sl_log_embedded_recovery_report(log, &report), 1);
    cr_assert(strstr(report.data, "after offset 8 in 00000000000000000000.log (crc mismatch)"),
              "%s", report.data);
    sl_buf_free(&report);
    check_one(log, 9, 9);
    fill_one(log, 3);
    check_one(log, 12, 9);
    sl_log_close(log);

    vr = (sl_buf)SL_BUF_INIT;
    cr_assert_eq(sl_log_embedded_verify(dir, &vr, &vs), 0);
    cr_assert_eq(vs.problems, 0, "%s", vr.data);
    cr_assert_eq(vs.records, 12);
    sl_buf_free(&vr);
}

Test(log, missing_index_is_rebuilt)
{
    sl_log *log = open_log(SL_FSYNC_OS);
    append_many(log, "t", 100, 10);
    sl_log_close(log);
    char path[512];
    snprintf(path, sizeof path, "%s/00000000000000000000.index", path_of("t/1"));
    cr_assert_eq(unlink(path), 0);
    snprintf(path, sizeof path, "%s/00000000000000000000.timeindex", path_of("t/2"));
    cr_assert_eq(truncate(path, 5), 0); /* not a whole entry: stale */

    log = open_log(SL_FSYNC_OS);
    sl_buf report = SL_BUF_INIT;
    cr_assert_eq(sl_log_embedded_recovery_report(log, &report), 2, "%s", report.data);
    cr_assert(strstr(report.data, "t/1: rebuilt the missing index of 00000000000000000000.log"),
              "%s", report.data);
    cr_assert(strstr(report.data, "t/2: rebuilt the stale index of 00000000000000000000.log"),
              "%s", report.data);
    sl_buf_free(&report);
    snprintf(path, sizeof path, "%s/00000000000000000000.index", path_of("t/1"));
    cr_assert_eq(access(path, F_OK), 0);
    check_ctx c = { "t", 3, 0 };
    for (int p = 0; p < 3; p++)
        read_all(log, "t", p, 0, check_value, &c);
    cr_assert_eq(c.seen, 1000);
    sl_log_close(log);

    sl_buf vr = SL_BUF_INIT;
    sl_log_verify_stats vs;
    cr_assert_eq(sl_log_embedded_verify(dir, &vr, &vs), 0);
    cr_assert_eq(vs.problems, 0, "%s", vr.data);
    cr_assert_eq(vs.records, 1000);
    sl_buf_free(&vr);
}

/* ---- a write that fails part-way (RLIMIT_FSIZE: EFBIG) -------------------- */

Test(log, failed_write_is_truncated_away)
{
    sl_log *log = open_log(SL_FSYNC_OS);
    fill_one(log, 10);
    struct stat st;
    stat(last_segment("one/0"), &st);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = { (rlim_t)st.st_size + 100, RLIM_INFINITY };
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    char big[400];
    memset(big, 'b', sizeof big);
    sl_record r = { .value = { big, sizeof big }, .partition = 0 };
    cb_calls = 0;
    int rc = sl_log_append(log, "one", &r, 1, record_cb, NULL);
    cr_assert_eq(rc, -EFBIG, "%s", sl_strerror(rc));
    cr_assert_eq(cb_calls, 0);
    struct stat st2;
    stat(last_segment("one/0"), &st2);
    cr_assert_eq(st2.st_size, st.st_size, "the partial batch is gone");
    rl.rlim_cur = RLIM_INFINITY;
    setrlimit(RLIMIT_FSIZE, &rl);
    fill_one(log, 1);
    check_one(log, 11, 10);
    sl_log_close(log);
    log = open_log(SL_FSYNC_OS);
    sl_buf report = SL_BUF_INIT;
    cr_assert_eq(sl_log_embedded_recovery_report(log, &report), 0, "%s", report.data);
    sl_buf_free(&report);
    check_one(log, 11, 10);
    sl_log_close(log);
}

/* ---- retention -------------------------------------------------------------- */

Test(log, retention_by_bytes_and_age)
{
    sl_topic_spec spec[] = {
        { .name = "bytes", .partitions = 1, .segment_bytes = 1024, .retention_bytes = 3000 },
        { .name = "age", .partitions = 1, .segment_bytes = 1024, .retention_ms = 3600 * 1000 },
    };
    sl_log_options o = { .data_dir = dir, .fsync = SL_FSYNC_OS, .topics = spec, .ntopics = 2 };
    sl_log *log;
    cr_assert_eq(sl_log_open(&o, &log), 0);
    char v[200];
    memset(v, 'r', sizeof v);
    int64_t now = (int64_t)time(NULL) * 1000000;
    for (int i = 0; i < 60; i++) {
        /* The first 30 records of "age" are two hours old. */
        sl_record r = { .value = { v, sizeof v }, .ts_us = i < 30 ? now - 7200000000LL : now };
        cr_assert_eq(sl_log_append_sync(log, "bytes", &r, 1, NULL, NULL), 0);
        cr_assert_eq(sl_log_append_sync(log, "age", &r, 1, NULL, NULL), 0);
    }
    int before = count_files("bytes/0", ".log");
    cr_assert_gt(before, 5);
    cr_assert_gt(sl_log_embedded_retention_run(log), 0);

    int64_t s, e;
    sl_log_offsets(log, "bytes", 0, &s, &e);
    cr_assert_gt(s, 0, "start moved");
    cr_assert_eq(e, 60);
    int after = count_files("bytes/0", ".log");
    cr_assert_lt(after, before);
    cr_assert_leq(after, 4, "about retention_bytes / segment_bytes segments kept");
    sl_fetch f;
    cr_assert_eq(sl_log_read(log, "bytes", 0, s - 1, 10, 1 << 20, 0, &f), SL_ERR_RANGE);
    cr_assert_eq(sl_log_read(log, "bytes", 0, s, 10, 1 << 20, 0, &f), 0);
    cr_assert_eq(f.msgs[0].offset, s);
    sl_fetch_release(&f);

    sl_log_offsets(log, "age", 0, &s, &e);
    cr_assert_gt(s, 20, "old segments gone: start %lld", (long long)s);
    cr_assert_leq(s, 30, "recent records kept: start %lld", (long long)s);
    sl_log_close(log);

    /* Retention also runs at open. */
    spec[0].retention_bytes = 1000;
    cr_assert_eq(sl_log_open(&o, &log), 0);
    int64_t s2;
    sl_log_offsets(log, "bytes", 0, &s2, &e);
    cr_assert_gt(s2, s);
    sl_log_close(log);
}

/* ---- groups and consumers ------------------------------------------------------ */

Test(log, commits_survive_reopen_and_lag_is_exported)
{
    sl_log *log = open_log(SL_FSYNC_OS);
    append_many(log, "t", 10, 10);
    int64_t next;
    cr_assert_eq(sl_log_committed(log, "lake", "t", 0, &next), -ENOENT);
    cr_assert_eq(sl_log_commit(log, "lake", "t", 0, 5), 0);
    cr_assert_eq(sl_log_commit(log, "lake", "t", 1, 2), 0);
    cr_assert_eq(sl_log_commit(log, "lake", "t", 1, 3), 0);
    cr_assert_eq(sl_log_commit(log, "odd/name \"x\"", "t", 2, 1), 0);
    cr_assert_eq(sl_log_commit(log, "lake", "t", 0, 100000), SL_ERR_RANGE);
    cr_assert_eq(sl_log_commit(log, "lake", "nope", 0, 1), SL_ERR_NOTOPIC);
    sl_log_close(log);

    log = open_log(SL_FSYNC_OS);
    cr_assert_eq(sl_log_committed(log, "lake", "t", 0, &next), 0);
    cr_assert_eq(next, 5);
    cr_assert_eq(sl_log_committed(log, "lake", "t", 1, &next), 0);
    cr_assert_eq(next, 3);
    cr_assert_eq(sl_log_committed(log, "odd/name \"x\"", "t", 2, &next), 0);
    cr_assert_eq(next, 1);
    char **groups;
    size_t ng;
    cr_assert_eq(sl_log_groups(log, "t", &groups, &ng), 0);
    cr_assert_eq(ng, 2);
    for (size_t i = 0; i < ng; i++)
        free(groups[i]);
    free(groups);
    cr_assert_eq(sl_log_groups(log, "one", &groups, &ng), 0);
    cr_assert_eq(ng, 0);
    free(groups);

    int64_t s, e;
    sl_log_offsets(log, "t", 0, &s, &e);
    sl_buf m = SL_BUF_INIT;
    sl_metrics_render(&m);
    char want[128];
    snprintf(want, sizeof want, "sluice_consumer_lag{group=\"lake\",topic=\"t\",partition=\"0\"} %lld\n",
             (long long)(e - 5));
    cr_assert(strstr(m.data, want), "%s\n%s", want, m.data);
    snprintf(want, sizeof want, "sluice_log_end_offset{topic=\"t\",partition=\"0\"} %lld\n",
             (long long)e);
    cr_assert(strstr(m.data, want), "%s", m.data);
    cr_assert(strstr(m.data, "sluice_log_appended_records_total{topic=\"t\"}") ||
              strstr(m.data, "sluice_log_pending_bytes 0"), "%s", m.data);
    sl_buf_free(&m);
    sl_log_close(log);
}

typedef struct hook_log {
    int assigned, revoked;
    int nassigned_parts;
} hook_log;

static void on_assigned(void *arg, const sl_topic_partition *tps, size_t n)
{
    hook_log *h = arg;
    h->assigned++;
    h->nassigned_parts += (int)n;
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(tps[i].topic, "t");
}

static void on_revoked(void *arg, const sl_topic_partition *tps, size_t n)
{
    (void)tps;
    hook_log *h = arg;
    h->revoked++;
    h->nassigned_parts -= (int)n;
}

static size_t owned(sl_consumer *c)
{
    const sl_topic_partition *tps;
    size_t n;
    cr_assert_eq(sl_consumer_assignment(c, &tps, &n), 0);
    return n;
}

Test(log, consumers_share_partitions_and_rebalance)
{
    sl_log *log = open_log(SL_FSYNC_OS);
    append_many(log, "t", 30, 10); /* 300 records over 3 partitions */
    const char *subs[] = { "t" };
    hook_log h1 = { 0 }, h2 = { 0 };
    sl_consumer_hooks k1 = { on_assigned, on_revoked, &h1 }, k2 = { on_assigned, on_revoked, &h2 };
    sl_consumer *c1, *c2;
    cr_assert_eq(sl_consumer_open(log, "g", subs, 1, &k1, &c1), 0);
    sl_fetch f;
    cr_assert_eq(sl_consumer_poll(c1, 0, &f), 0);
    cr_assert_eq(h1.assigned, 1);
    cr_assert_eq(owned(c1), 3);
    int consumed = (int)f.n;
    cr_assert_eq(sl_consumer_commit(c1, f.topic, f.partition, f.next_offset), 0);
    sl_fetch_release(&f);

    cr_assert_eq(sl_consumer_open(log, "g", subs, 1, &k2, &c2), 0);
    /* c2 wants partition 2, which c1 still holds until c1 polls. */
    cr_assert_eq(sl_consumer_poll(c2, 0, &f), 0);
    cr_assert_eq(f.n, 0);
    cr_assert_eq(owned(c2), 0);
    cr_assert_eq(sl_consumer_poll(c1, 0, &f), 0);
    cr_assert_eq(h1.revoked, 1);
    cr_assert_eq(owned(c1), 2);
    consumed += (int)f.n;
    cr_assert_eq(sl_consumer_commit(c1, f.topic, f.partition, f.next_offset), 0);
    sl_fetch_release(&f);
    cr_assert_eq(sl_consumer_poll(c2, 0, &f), 0);
    cr_assert_eq(h2.assigned, 1);
    cr_assert_eq(owned(c2), 1);
    const sl_topic_partition *tps;
    size_t n;
    sl_consumer_assignment(c2, &tps, &n);
    cr_assert_eq(tps[0].partition, 2, "range assignment: the last member gets the last range");
    consumed += (int)f.n;
    cr_assert_eq(sl_consumer_commit(c2, f.topic, f.partition, f.next_offset), 0);
    cr_assert_eq(sl_consumer_commit(c2, "t", 0, 0), SL_ERR_NOPARTITION, "not c2's");
    sl_fetch_release(&f);

    /* Drain: every record exactly once between the two. */
    for (int i = 0; i < 100; i++) {
        sl_consumer *c = i % 2 ? c1 : c2;
        cr_assert_eq(sl_consumer_poll(c, 0, &f), 0);
        consumed += (int)f.n;
        if (f.n)
            cr_assert_eq(sl_consumer_commit(c, f.topic, f.partition, f.next_offset), 0);
        sl_fetch_release(&f);
    }
    cr_assert_eq(consumed, 300);

    sl_consumer_close(c1);
    cr_assert_eq(h1.revoked, 2, "close revokes");
    cr_assert_eq(sl_consumer_poll(c2, 0, &f), 0);
    cr_assert_eq(f.n, 0, "nothing new: c2 starts at c1's commits");
    cr_assert_eq(owned(c2), 3);
    cr_assert_eq(h2.assigned, 2);
    cr_assert_eq(h2.nassigned_parts, 3);
    cr_assert_eq(sl_consumer_seek(c2, "t", 0, 0), 0);
    cr_assert_eq(sl_consumer_seek(c2, "t", 0, 1000000), SL_ERR_RANGE);
    sl_consumer_close(c2);
    sl_log_close(log);
}

typedef struct poller {
    sl_consumer *c;
    int got;
    int want;
} poller;

static void *poll_thread(void *arg)
{
    poller *p = arg;
    for (int i = 0; i < 200 && p->got < p->want; i++) {
        sl_fetch f;
        cr_assert_eq(sl_consumer_poll(p->c, 50, &f), 0);
        p->got += (int)f.n;
        if (f.n)
            sl_consumer_commit(p->c, f.topic, f.partition, f.next_offset);
        sl_fetch_release(&f);
    }
    return NULL;
}

Test(log, consumers_poll_in_threads_and_wake_on_append)
{
    sl_log *log = open_log(SL_FSYNC_GROUP);
    const char *subs[] = { "t" };
    sl_consumer *c1, *c2;
    cr_assert_eq(sl_consumer_open(log, "g", subs, 1, NULL, &c1), 0);
    cr_assert_eq(sl_consumer_open(log, "g", subs, 1, NULL, &c2), 0);
    poller p1 = { c1, 0, 0 }, p2 = { c2, 0, 0 };
    p1.want = p2.want = 1 << 30;
    pthread_t t1, t2;
    pthread_create(&t1, NULL, poll_thread, &p1);
    pthread_create(&t2, NULL, poll_thread, &p2);
    append_many(log, "t", 20, 10);
    for (int i = 0; i < 200 && p1.got + p2.got < 200; i++)
        usleep(10000);
    cr_assert_eq(p1.got + p2.got, 200);
    p1.want = p2.want = 0; /* stop */
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    sl_consumer_close(c1);
    sl_consumer_close(c2);
    sl_log_close(log);
}

/* ---- waiting reads --------------------------------------------------------------- */

static void *late_append(void *arg)
{
    usleep(100000);
    sl_record r = { .value = SL_VIEW_LIT("{\"late\":true}"), .partition = 0 };
    cr_assert_eq(sl_log_append_sync(arg, "one", &r, 1, NULL, NULL), 0);
    return NULL;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(log, read_waits_for_an_append)
{
    sl_log *log = open_log(SL_FSYNC_GROUP);
    sl_fetch f;
    int64_t t0 = mono_ms();
    cr_assert_eq(sl_log_read(log, "one", 0, 0, 10, 1000, 150, &f), 0);
    cr_assert_eq(f.n, 0);
    cr_assert_geq(mono_ms() - t0, 140, "waited the timeout");

    pthread_t th;
    pthread_create(&th, NULL, late_append, log);
    t0 = mono_ms();
    cr_assert_eq(sl_log_read(log, "one", 0, 0, 10, 1000, 5000, &f), 0);
    int64_t waited = mono_ms() - t0;
    cr_assert_eq(f.n, 1);
    cr_assert(sl_view_eq_str(f.msgs[0].value, "{\"late\":true}"));
    cr_assert_lt(waited, 3000, "woke up on the append, not the timeout");
    sl_fetch_release(&f);
    pthread_join(th, NULL);
    sl_log_close(log);
}

/* ---- read-only beside a writer ------------------------------------------------------ */

Test(log, read_only_open_beside_a_writer)
{
    sl_log *w = open_log(SL_FSYNC_OS);
    fill_one(w, 10);
    append_many(w, "t", 50, 10);

    sl_log_options o = { .data_dir = dir, .read_only = true }; /* no topics: discover */
    sl_log *r;
    cr_assert_eq(sl_log_open(&o, &r), 0);
    sl_topic_info *ti;
    size_t nt;
    cr_assert_eq(sl_log_topics(r, &ti, &nt), 0);
    int found = 0;
    for (size_t i = 0; i < nt; i++) {
        if (strcmp(ti[i].name, "t") == 0)
            found += ti[i].partitions == 3;
        if (strcmp(ti[i].name, "tz") == 0)
            found += ti[i].partitions == 2;
    }
    cr_assert_eq(found, 2);
    sl_log_topics_free(ti, nt);
    check_one(r, 10, 10);
    check_ctx c = { "t", 3, 0 };
    for (int p = 0; p < 3; p++)
        read_all(r, "t", p, 0, check_value, &c);
    cr_assert_eq(c.seen, 500);

    /* The reader follows what the writer appends, across segment rolls. */
    fill_one(w, 5);
    append_many(w, "t", 50, 10);
    check_one(r, 15, 10);
    c.seen = 0;
    for (int p = 0; p < 3; p++)
        read_all(r, "t", p, 0, check_value, &c);
    cr_assert_eq(c.seen, 1000);

    /* A half-written batch at the tail is not an error for a reader. */
    char *seg = last_segment("one/0");
    int fd = open(seg, O_WRONLY | O_APPEND);
    cr_assert_eq(write(fd, "\x10\0\0\0\0\0\0\0\x99\0\0\0SL\x01", 15), 15);
    close(fd);
    sl_fetch f;
    cr_assert_eq(sl_log_read(r, "one", 0, 15, 10, 1000, 20, &f), 0);
    cr_assert_eq(f.n, 0);
    int64_t s, e;
    cr_assert_eq(sl_log_offsets(r, "one", 0, &s, &e), 0);
    cr_assert_eq(e, 15);
    sl_buf report = SL_BUF_INIT;
    cr_assert_eq(sl_log_embedded_recovery_report(r, &report), 0, "%s", report.data);
    sl_buf_free(&report);
    /* and verify knows a writer is running: an in-progress tail is fine. */
    sl_buf vr = SL_BUF_INIT;
    sl_log_verify_stats vs;
    cr_assert_eq(sl_log_embedded_verify(dir, &vr, &vs), 0);
    cr_assert_eq(vs.problems, 0, "%s", vr.data);
    sl_buf_free(&vr);
    int64_t next;
    cr_assert_eq(sl_log_commit(r, "g", "one", 0, 1), -EROFS);
    cr_assert_eq(sl_log_committed(r, "g", "one", 0, &next), -ENOENT);
    sl_log_close(r);
    sl_log_close(w);
}

/* ---- big batches ------------------------------------------------------------------ */

/*
 * Three batches of 1.5 MiB (past the consumer's 1 MiB per poll): a
 * consumer gets each whole in one poll, read and CRC-checked once, while
 * sl_log_read still stops at its max_bytes inside a batch and goes on
 * from there.
 */
Test(log, consumer_polls_return_big_batches_whole)
{
    sl_log *log = open_log(SL_FSYNC_OS);
    enum { PER = 1500, SIZE = 1024 };
    char *v = malloc(SIZE);
    sl_record *recs = calloc(PER, sizeof *recs);
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < PER; i++) {
            char *x = malloc(SIZE);
            memset(x, 'a' + b, SIZE);
            snprintf(x, 16, "%05d", b * PER + i);
            recs[i] = (sl_record){ .value = { x, SIZE }, .ts_us = i, .partition = 0 };
        }
        cr_assert_eq(sl_log_append_sync(log, "one", recs, PER, NULL, NULL), 0);
        for (int i = 0; i < PER; i++)
            free((void *)recs[i].value.ptr);
    }
    const char *subs[] = { "one" };
    sl_consumer *c;
    cr_assert_eq(sl_consumer_open(log, "g", subs, 1, NULL, &c), 0);
    int64_t next = 0;
    for (int b = 0; b < 3; b++) {
        sl_fetch f;
        cr_assert_eq(sl_consumer_poll(c, 1000, &f), 0);
        cr_assert_eq(f.n, PER, "poll %d returned %zu records", b, f.n);
        for (size_t i = 0; i < f.n; i++) {
            cr_assert_eq(f.msgs[i].offset, next);
            snprintf(v, 16, "%05d", (int)next);
            cr_assert(memcmp(f.msgs[i].value.ptr, v, 6) == 0);
            next++;
        }
        sl_fetch_release(&f);
    }
    sl_consumer_close(c);

    sl_fetch f;
    cr_assert_eq(sl_log_read(log, "one", 0, 0, 0, 1 << 20, 0, &f), 0);
    cr_assert_lt(f.n, PER);
    cr_assert_geq(f.n, (1 << 20) / SIZE - 1);
    int64_t from = f.next_offset;
    sl_fetch_release(&f);
    cr_assert_eq(sl_log_read(log, "one", 0, from, 0, 1 << 20, 0, &f), 0);
    cr_assert_eq(f.msgs[0].offset, from);
    cr_assert_eq(f.n, (size_t)(PER - from), "the rest of the first batch");
    sl_fetch_release(&f);
    free(recs);
    free(v);
    sl_log_close(log);
}
