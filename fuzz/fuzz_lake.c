/*
 * fuzz_lake.c - libFuzzer target for what the lake reads from disk and
 * from its configuration (src/lake/lake.c): directory entry names, time
 * zones, event times turned into hour directories, and file footers (the
 * lake's own footer reader behind `sluice lake ls`, resume and compaction;
 * the full reader has fuzz_parquet_reader.c).
 *
 * The first byte picks what the rest is:
 *
 *   0  a directory entry name: if it parses, formatting the parsed fields
 *      gives a name that parses to the same fields, with no '/' in it;
 *   1  a time zone: if it parses, its canonical text parses to the same
 *      offset, within +-18 hours;
 *   2  event times (8 bytes each) and zone offsets: the hour directory of
 *      an event time the lake accepts (sl_lake_ts_ok) is root/topic/ and
 *      four numbers, and its date maps back to the same hour;
 *   3  a whole file for sl_lake_footer_read (through a memfd): a file that
 *      reads has a schema and a non-negative row count.
 *
 * Invariant failures abort, so libFuzzer reports them like crashes.
 * Seeds: fuzz/corpus/lake/.
 */
#include "core/buf.h"
#include "lake/lake.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile uint64_t sink;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "fuzz_lake: check failed: %s: ", #cond);     \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
            abort();                                                      \
        }                                                                 \
    } while (0)

static void fuzz_name(const uint8_t *p, size_t n)
{
    sl_lake_name a;
    if (sl_lake_name_parse((const char *)p, n, &a) < 0)
        return;
    char topic[256];
    CHECK(a.topic.len < sizeof topic, "topic of %zu bytes", a.topic.len);
    memcpy(topic, a.topic.ptr, a.topic.len);
    topic[a.topic.len] = 0;
    CHECK(sl_lake_topic_ok(topic), "parsed an unsafe topic");
    CHECK(a.start >= 0 && a.start <= a.end && a.partition >= 0, "bad numbers");
    sl_buf b = SL_BUF_INIT;
    sl_lake_name_format(&b, a.kind, topic, a.partition, a.start, a.end);
    CHECK(!memchr(b.data, '/', b.len), "a '/' in %s", b.data);
    sl_lake_name c;
    CHECK(sl_lake_name_parse(b.data, b.len, &c) == 0, "%s does not parse back", b.data);
    CHECK(c.kind == a.kind && c.partition == a.partition && c.start == a.start &&
              c.end == a.end && sl_view_eq(c.topic, (sl_view){ topic, a.topic.len }),
          "%s parses to other fields", b.data);
    sink += b.len;
    sl_buf_free(&b);
}

static void fuzz_timezone(const uint8_t *p, size_t n)
{
    char text[64];
    if (n >= sizeof text)
        n = sizeof text - 1;
    memcpy(text, p, n);
    text[n] = 0;
    int32_t off, again;
    if (sl_lake_timezone_parse(text, &off) < 0)
        return;
    CHECK(off >= -18 * 3600 && off <= 18 * 3600, "offset %d", (int)off);
    char canon[16];
    sl_lake_timezone_format(off, canon, sizeof canon);
    CHECK(sl_lake_timezone_parse(canon, &again) == 0 && again == off, "%s", canon);
}

static void fuzz_hours(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 10 <= n; i += 10) {
        int64_t ts;
        int16_t tzq;
        memcpy(&ts, p + i, 8);
        memcpy(&tzq, p + i + 8, 2);
        int32_t tz = (int32_t)(tzq % (18 * 60)) * 60;
        if (!sl_lake_ts_ok(ts, tz))
            continue;
        int64_t key = sl_lake_hour_of(ts, tz);
        sl_lake_hour h;
        sl_lake_hour_civil(key, &h);
        int64_t back;
        CHECK(sl_lake_hour_key(&h, &back) == 0 && back == key, "hour %lld", (long long)key);
        sl_buf b = SL_BUF_INIT;
        CHECK(sl_lake_hour_dir(&b, "/r", "t", key) == 0, "dir");
        int y, mo, d, hh;
        char tail;
        CHECK(sscanf(b.data, "/r/t/year=%d/month=%d/day=%d/hour=%d%c", &y, &mo, &d, &hh, &tail) == 4,
              "%s", b.data);
        CHECK(y == h.year && mo == h.month && d == h.day && hh == h.hour, "%s", b.data);
        sink += b.len;
        sl_buf_free(&b);
    }
}

static void fuzz_footer(const uint8_t *p, size_t n)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz_lake", 0);
        CHECK(fd >= 0, "memfd_create");
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    CHECK(ftruncate(fd, 0) == 0, "ftruncate");
    CHECK(pwrite(fd, p, n, 0) == (ssize_t)n, "pwrite");
    sl_lake_footer f;
    if (sl_lake_footer_read(path, &f) < 0)
        return;
    for (size_t i = 0; i < f.schema.n; i++)
        sink += f.schema.cols[i].name_len + (uint64_t)f.schema.cols[i].type;
    CHECK(f.rows >= 0, "rows %lld", (long long)f.rows);
    sink += (uint64_t)f.rows + f.row_groups + (uint64_t)f.codec;
    if (f.has_ts)
        sink += (uint64_t)f.max_ts - (uint64_t)f.min_ts;
    sl_lake_footer_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0: fuzz_name(data + 1, size - 1); break;
    case 1: fuzz_timezone(data + 1, size - 1); break;
    case 2: fuzz_hours(data + 1, size - 1); break;
    default: fuzz_footer(data + 1, size - 1); break;
    }
    return 0;
}
