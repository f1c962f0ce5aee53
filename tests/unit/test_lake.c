/*
 * test_lake.c - the lake's layout (src/lake/lake.c): topic names that are
 * safe path components, file names and their parser, event-time hours and
 * their directories, time zones, scanning a lake (with traps: padded
 * numbers, symbolic links, other topics), resume offsets, recovery of an
 * interrupted compaction, durable moves and footers.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "lake/lake.h"
#include "lake/parquet/parquet_writer.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    strcpy(dir, "/tmp/sluice-lake-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(lake, .init = setup, .fini = teardown, .timeout = 30);

/* ---- names ------------------------------------------------------------------ */

Test(lake, topic_names_are_safe_path_components)
{
    cr_assert(sl_lake_topic_ok("logs.raw"));
    cr_assert(sl_lake_topic_ok("events.activity"));
    cr_assert(sl_lake_topic_ok("_dlq"));
    cr_assert(sl_lake_topic_ok("a-b_c.9"));
    const char *bad[] = { "", ".", "..", ".hidden", "../etc", "a/b", "/abs", "a b", "a+b",
                          "x\\y", "é", "a\nb", NULL };
    for (int i = 0; bad[i]; i++)
        cr_assert(!sl_lake_topic_ok(bad[i]), "accepted '%s'", bad[i]);
    cr_assert(!sl_lake_topic_ok(NULL));
    char longname[202];
    memset(longname, 'a', 201);
    longname[201] = 0;
    cr_assert(!sl_lake_topic_ok(longname));
    longname[200] = 0;
    cr_assert(sl_lake_topic_ok(longname));
}

Test(lake, file_names_round_trip)
{
    static const struct {
        sl_lake_file_kind kind;
        const char *text;
    } want[] = {
        { SL_LAKE_DATA, "logs.raw+2+0000000100+0000000199.parquet" },
        { SL_LAKE_TMP, ".logs.raw+2+0000000100+0000000199.parquet.tmp" },
        { SL_LAKE_MERGING, ".logs.raw+2+0000000100+0000000199.parquet.merging" },
        { SL_LAKE_COMPACTED, ".logs.raw+2+0000000100+0000000199.parquet.compacted" },
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(want); i++) {
        sl_buf b = SL_BUF_INIT;
        sl_lake_name_format(&b, want[i].kind, "logs.raw", 2, 100, 199);
        cr_assert_str_eq(b.data, want[i].text);
        sl_lake_name n;
        cr_assert_eq(sl_lake_name_parse(b.data, b.len, &n), 0);
        cr_assert_eq(n.kind, want[i].kind);
        cr_assert(sl_view_eq_str(n.topic, "logs.raw"));
        cr_assert_eq(n.partition, 2);
        cr_assert_eq(n.start, 100);
        cr_assert_eq(n.end, 199);
        sl_buf_free(&b);
    }
    /* Offsets past ten digits grow the name; it still parses. */
    sl_buf b = SL_BUF_INIT;
    sl_lake_name_format(&b, SL_LAKE_DATA, "t", 0, 12345678901LL, 99999999999LL);
    cr_assert_str_eq(b.data, "t+0+12345678901+99999999999.parquet");
    sl_lake_name n;
    cr_assert_eq(sl_lake_name_parse(b.data, b.len, &n), 0);
    cr_assert_eq(n.end, 99999999999LL);
    sl_buf_free(&b);
    /* Unpadded names written by hand parse too. */
    cr_assert_eq(sl_lake_name_parse("t+1+5+9.parquet", 15, &n), 0);
    cr_assert_eq(n.start, 5);
}

Test(lake, malformed_names_are_not_lake_files)
{
    const char *bad[] = {
        "logs.raw+0+5+3.parquet",            /* start > end */
        "logs.raw+0+-1+3.parquet",           /* sign */
        "logs.raw+x+1+3.parquet",
        "logs.raw+0+1+3.parquet.tmp",        /* temporary without the dot */
        ".logs.raw+0+1+3.parquet",           /* dot without a temporary suffix */
        "logs.raw+0+1+3.Parquet",
        "logs.raw+0+1+3",
        "+0+1+3.parquet",                    /* no topic */
        "..+0+1+3.parquet",
        ".hidden+0+1+3.parquet",
        "a/b+0+1+3.parquet",
        "logs.raw+0+1++3.parquet",
        "logs.raw+0+1+3 .parquet",
        "logs.raw+99999999999+1+3.parquet",  /* partition beyond int32 */
        "logs.raw+0+1+1234567890123456789.parquet", /* 19 digits */
        "0+1+3.parquet",
        ".parquet",
        ".parquet.tmp",                      /* found by fuzz_lake */
        "..parquet.compacted",
        "",
        NULL,
    };
    for (int i = 0; bad[i]; i++) {
        sl_lake_name n;
        cr_assert_eq(sl_lake_name_parse(bad[i], strlen(bad[i]), &n), SL_ERR_PARSE, "parsed '%s'",
                     bad[i]);
    }
    /* A NUL inside the topic (found by fuzz_lake). */
    static const char nul[] = "logs\0raw+0+0000000000+0000000099.parquet";
    sl_lake_name n;
    cr_assert_eq(sl_lake_name_parse(nul, sizeof nul - 1, &n), SL_ERR_PARSE);
}

/* ---- hours ------------------------------------------------------------------- */

Test(lake, seed_004_pitfall_iso_and_epoch_land_in_the_same_hour)
{
    /* 1768123166.291045 s = 2026-01-11T09:19:26.291045Z, seed 004's example. */
    int64_t epoch_us = 1768123166291045LL;
    sl_lake_hour h;
    sl_lake_hour_civil(sl_lake_hour_of(epoch_us, 0), &h);
    cr_assert_eq(h.year, 2026);
    cr_assert_eq(h.month, 1);
    cr_assert_eq(h.day, 11);
    cr_assert_eq(h.hour, 9);
    sl_buf b = SL_BUF_INIT;
    cr_assert_eq(sl_lake_hour_dir(&b, "/lake", "logs.raw", sl_lake_hour_of(epoch_us, 0)), 0);
    cr_assert_str_eq(b.data, "/lake/logs.raw/year=2026/month=1/day=11/hour=9");
    sl_buf_reset(&b);
    /* The same instant in +09:00 is 18:19 local. */
    cr_assert_eq(sl_lake_hour_dir(&b, "/lake", "logs.raw", sl_lake_hour_of(epoch_us, 9 * 3600)), 0);
    cr_assert_str_eq(b.data, "/lake/logs.raw/year=2026/month=1/day=11/hour=18");
    sl_buf_reset(&b);
    /* -05:30 crosses back a day. */
    cr_assert_eq(sl_lake_hour_dir(&b, "/lake", "t", sl_lake_hour_of(1768089600000000LL, -19800)), 0);
    cr_assert_str_eq(b.data, "/lake/t/year=2026/month=1/day=10/hour=18");
    sl_buf_free(&b);
}

Test(lake, hour_boundaries_and_negative_times)
{
    cr_assert_eq(sl_lake_hour_of(0, 0), 0);
    cr_assert_eq(sl_lake_hour_of(3599999999LL, 0), 0);
    cr_assert_eq(sl_lake_hour_of(3600000000LL, 0), 1);
    cr_assert_eq(sl_lake_hour_of(-1, 0), -1);
    cr_assert_eq(sl_lake_hour_of(-3600000000LL, 0), -1);
    cr_assert_eq(sl_lake_hour_of(-3600000001LL, 0), -2);
    sl_lake_hour h;
    sl_lake_hour_civil(-1, &h);
    cr_assert(h.year == 1969 && h.month == 12 && h.day == 31 && h.hour == 23);
    sl_lake_hour_civil(sl_lake_hour_of(SL_LAKE_TS_MIN, 0), &h);
    cr_assert(h.year == 1 && h.month == 1 && h.day == 1 && h.hour == 0);
    sl_lake_hour_civil(sl_lake_hour_of(SL_LAKE_TS_MAX, 0), &h);
    cr_assert(h.year == 9999 && h.month == 12 && h.day == 31 && h.hour == 23);
    /* The range is of local times: year 9999 ends earlier in UTC at +09:00. */
    cr_assert(sl_lake_ts_ok(SL_LAKE_TS_MAX, 0));
    cr_assert(sl_lake_ts_ok(SL_LAKE_TS_MIN, 0));
    cr_assert(!sl_lake_ts_ok(SL_LAKE_TS_MAX + 1, 0));
    cr_assert(!sl_lake_ts_ok(SL_LAKE_TS_MAX, 9 * 3600), "year 10000 in +09:00");
    cr_assert(sl_lake_ts_ok(SL_LAKE_TS_MAX - 9 * 3600 * 1000000LL, 9 * 3600));
    cr_assert(!sl_lake_ts_ok(SL_LAKE_TS_MIN, -3600), "year 0 in -01:00");
    cr_assert(!sl_lake_ts_ok(INT64_MIN + 1, 0) && !sl_lake_ts_ok(INT64_MAX, 0));
}

Test(lake, civil_hours_agree_with_gmtime_and_round_trip)
{
    /* Every 7th hour from 1900 to 2200, against the C library. */
    for (int64_t key = -613608; key < 2016000; key += 7) {
        sl_lake_hour h;
        sl_lake_hour_civil(key, &h);
        time_t t = (time_t)(key * 3600);
        struct tm tm;
        gmtime_r(&t, &tm);
        cr_assert(h.year == tm.tm_year + 1900 && h.month == tm.tm_mon + 1 && h.day == tm.tm_mday &&
                      h.hour == tm.tm_hour,
                  "hour %lld", (long long)key);
        int64_t back;
        cr_assert_eq(sl_lake_hour_key(&h, &back), 0);
        cr_assert_eq(back, key);
    }
    sl_lake_hour feb29 = { 2024, 2, 29, 0 }, not29 = { 2023, 2, 29, 0 }, bad = { 2024, 4, 31, 0 };
    int64_t k;
    cr_assert_eq(sl_lake_hour_key(&feb29, &k), 0);
    cr_assert_eq(sl_lake_hour_key(&not29, &k), SL_ERR_PARSE);
    cr_assert_eq(sl_lake_hour_key(&bad, &k), SL_ERR_PARSE);
}

Test(lake, hour_directories_never_leave_the_root)
{
    const char *hostile[] = { "..", "../..", "a/../../b", "/etc", ".", "", "x\ny", NULL };
    for (int i = 0; hostile[i]; i++) {
        sl_buf b = SL_BUF_INIT;
        cr_assert_eq(sl_lake_hour_dir(&b, "/lake", hostile[i], 0), SL_ERR_CONFIG, "'%s'",
                     hostile[i]);
        cr_assert_eq(b.len, 0);
        sl_buf_free(&b);
    }
    /* Whatever the event time, the path is root/topic/ + four numbers. */
    for (int64_t ts = SL_LAKE_TS_MIN; ts < SL_LAKE_TS_MAX - 999999999999LL; ts += 8765432109876543LL) {
        sl_buf b = SL_BUF_INIT;
        cr_assert_eq(sl_lake_hour_dir(&b, "/lake", "t", sl_lake_hour_of(ts, 0)), 0);
        int y, m, d, h;
        char tail;
        cr_assert_eq(sscanf(b.data, "/lake/t/year=%d/month=%d/day=%d/hour=%d%c", &y, &m, &d, &h,
                            &tail), 4, "%s", b.data);
        cr_assert(strstr(b.data, "..") == NULL && strstr(b.data, "-") == NULL);
        sl_buf_free(&b);
    }
}

Test(lake, time_zones)
{
    static const struct {
        const char *text;
        int32_t offset;
    } ok[] = {
        { "UTC", 0 }, { "utc", 0 }, { "Z", 0 }, { "+00:00", 0 }, { "+09:00", 32400 },
        { "-05:30", -19800 }, { "+0930", 34200 }, { "+09", 32400 }, { "-12:00", -43200 },
        { "+14:00", 50400 },
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(ok); i++) {
        int32_t off;
        cr_assert_eq(sl_lake_timezone_parse(ok[i].text, &off), 0, "%s", ok[i].text);
        cr_assert_eq(off, ok[i].offset, "%s", ok[i].text);
    }
    const char *bad[] = { "", "+9", "09:00", "+19:00", "+09:60", "Asia/Seoul", "+09:00:00",
                          "+0:900", "++09", "-", NULL };
    for (int i = 0; bad[i]; i++) {
        int32_t off;
        cr_assert_eq(sl_lake_timezone_parse(bad[i], &off), SL_ERR_PARSE, "accepted '%s'", bad[i]);
    }
    char t[16];
    sl_lake_timezone_format(0, t, sizeof t);
    cr_assert_str_eq(t, "UTC");
    sl_lake_timezone_format(-19800, t, sizeof t);
    cr_assert_str_eq(t, "-05:30");
    sl_lake_timezone_format(32400, t, sizeof t);
    cr_assert_str_eq(t, "+09:00");
}

/* ---- scanning, resume, recovery ------------------------------------------------- */

static void touch(const char *rel, int bytes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    cr_assert_eq(sl_lake_mkdirs(path), 0, "%s", path);
    *slash = '/';
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    for (int i = 0; i < bytes; i++)
        fputc('x', f);
    fclose(f);
}

static bool exists(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    struct stat st;
    return lstat(path, &st) == 0;
}

#define H9  "t/year=2026/month=1/day=11/hour=9/"
#define H10 "t/year=2026/month=1/day=11/hour=10/"

Test(lake, scan_finds_lake_files_only)
{
    touch(H9 "t+0+0000000000+0000000099.parquet", 10);
    touch(H9 "t+1+0000000000+0000000049.parquet", 10);
    touch(H10 "t+0+0000000100+0000000199.parquet", 10);
    touch(H10 ".t+0+0000000200+0000000250.parquet.tmp", 10);
    touch(H10 "other+0+0000000000+0000009999.parquet", 10);      /* another topic's name */
    touch(H10 "t+0+0000000300+0000000200.parquet", 10);          /* start > end */
    touch(H10 "notes.txt", 10);
    touch("t/year=2026/month=01/day=11/hour=9/t+0+0000000500+0000000599.parquet", 10); /* padded */
    touch("t/year=2026/month=2/day=30/hour=9/t+0+0000000600+0000000699.parquet", 10);  /* no such day */
    touch("t/year=x/month=1/day=1/hour=1/t+0+0000000700+0000000799.parquet", 10);
    touch("t/year=2026/month=1/day=11/t+0+0000000800+0000000899.parquet", 10);         /* wrong depth */
    /* A symbolic link to a directory outside the lake is not followed. */
    char outside[128], link[512];
    snprintf(outside, sizeof outside, "%s/outside", dir);
    cr_assert_eq(mkdir(outside, 0755), 0);
    snprintf(link, sizeof link, "%s/outside/t+0+0000000900+0000000999.parquet", dir);
    fclose(fopen(link, "w"));
    snprintf(link, sizeof link, "%s/t/year=2026/month=1/day=12", dir);
    cr_assert_eq(mkdir(link, 0755), 0);
    snprintf(link, sizeof link, "%s/t/year=2026/month=1/day=12/hour=1", dir);
    cr_assert_eq(symlink(outside, link), 0);

    sl_lake_list l = { 0 };
    cr_assert_eq(sl_lake_scan(dir, "t", &l), 0);
    cr_assert_eq(l.n, 4, "found %zu", l.n);
    size_t data = 0, tmp = 0;
    for (size_t i = 0; i < l.n; i++) {
        data += l.v[i].kind == SL_LAKE_DATA;
        tmp += l.v[i].kind == SL_LAKE_TMP;
        cr_assert(l.v[i].end < 500);
        cr_assert_eq(l.v[i].size, 10);
    }
    cr_assert_eq(data, 3);
    cr_assert_eq(tmp, 1);
    cr_assert_eq(sl_lake_resume_offset(&l, 0, NULL), 200);
    cr_assert_eq(sl_lake_resume_offset(&l, 1, NULL), 50);
    cr_assert_eq(sl_lake_resume_offset(&l, 2, NULL), -1);
    sl_buf newest = SL_BUF_INIT;
    sl_lake_resume_offset(&l, 0, &newest);
    cr_assert(strstr(newest.data, "hour=10/t+0+0000000100+0000000199.parquet"), "%s", newest.data);
    sl_buf_free(&newest);
    sl_lake_list_free(&l);

    /* A missing topic is an empty lake; a bad topic is refused. */
    cr_assert_eq(sl_lake_scan(dir, "nothing", &l), 0);
    cr_assert_eq(l.n, 0);
    cr_assert_eq(sl_lake_scan(dir, "..", &l), SL_ERR_CONFIG);

    char **topics;
    size_t n;
    cr_assert_eq(sl_lake_topics(dir, &topics, &n), 0);
    cr_assert_eq(n, 2); /* outside, t */
    cr_assert_str_eq(topics[0], "outside");
    cr_assert_str_eq(topics[1], "t");
    for (size_t i = 0; i < n; i++)
        free(topics[i]);
    free(topics);
}

Test(lake, resume_counts_hidden_compaction_inputs)
{
    touch(H9 "t+0+0000000000+0000000099.parquet", 1);
    touch(H9 ".t+0+0000000100+0000000149.parquet.compacted", 1);
    touch(H9 ".t+0+0000000000+0000000999.parquet.merging", 1);
    sl_lake_list l = { 0 };
    cr_assert_eq(sl_lake_scan(dir, "t", &l), 0);
    cr_assert_eq(sl_lake_resume_offset(&l, 0, NULL), 150, "a hidden input holds rows");
    sl_lake_list_free(&l);
}

Test(lake, recovery_after_an_interrupted_compaction)
{
    /* Hour 9: merged file in place, inputs still hidden -> remove them.
       Hour 10: inputs hidden, merged file never renamed -> restore them. */
    touch(H9 "t+0+0000000000+0000000199.parquet", 5);
    touch(H9 ".t+0+0000000000+0000000099.parquet.compacted", 1);
    touch(H9 ".t+0+0000000100+0000000199.parquet.compacted", 1);
    touch(H10 ".t+0+0000000200+0000000249.parquet.compacted", 1);
    touch(H10 ".t+0+0000000250+0000000299.parquet.compacted", 1);
    touch(H10 ".t+0+0000000200+0000000299.parquet.merging", 1);
    /* Hour 10 partition 1 is not ours in this call. */
    touch(H10 ".t+1+0000000000+0000000009.parquet.compacted", 1);
    size_t fixed = 0;
    cr_assert_eq(sl_lake_recover(dir, "t", 0, false, &fixed), 0);
    cr_assert_eq(fixed, 4);
    cr_assert(!exists(H9 ".t+0+0000000000+0000000099.parquet.compacted"));
    cr_assert(!exists(H9 ".t+0+0000000100+0000000199.parquet.compacted"));
    cr_assert(exists(H9 "t+0+0000000000+0000000199.parquet"));
    cr_assert(exists(H10 "t+0+0000000200+0000000249.parquet"));
    cr_assert(exists(H10 "t+0+0000000250+0000000299.parquet"));
    cr_assert(exists(H10 ".t+0+0000000200+0000000299.parquet.merging"), "kept without remove_merging");
    cr_assert(exists(H10 ".t+1+0000000000+0000000009.parquet.compacted"));
    fixed = 0;
    cr_assert_eq(sl_lake_recover(dir, "t", -1, true, &fixed), 0);
    cr_assert_eq(fixed, 2);
    cr_assert(!exists(H10 ".t+0+0000000200+0000000299.parquet.merging"));
    cr_assert(exists(H10 "t+1+0000000000+0000000009.parquet"));
}

/* ---- durable moves ----------------------------------------------------------------- */

Test(lake, mkdirs_and_rename_without_replacing)
{
    char d[256], a[300], b[300];
    snprintf(d, sizeof d, "%s/x/y/z", dir);
    cr_assert_eq(sl_lake_mkdirs(d), 0);
    cr_assert_eq(sl_lake_mkdirs(d), 0, "idempotent");
    snprintf(a, sizeof a, "%s/a", d);
    snprintf(b, sizeof b, "%s/b", d);
    fclose(fopen(a, "w"));
    fclose(fopen(b, "w"));
    cr_assert_eq(sl_lake_rename_noreplace(a, b), -EEXIST);
    cr_assert(exists("x/y/z/a"));
    unlink(b);
    cr_assert_eq(sl_lake_rename_noreplace(a, b), 0);
    cr_assert(!exists("x/y/z/a") && exists("x/y/z/b"));
    /* A file where a directory should be. */
    snprintf(a, sizeof a, "%s/b/c", d);
    cr_assert_eq(sl_lake_mkdirs(a), -ENOTDIR);
    int fd = sl_lake_lock(dir, false);
    cr_assert_geq(fd, 0);
    cr_assert_eq(sl_lake_lock(dir, false), -EWOULDBLOCK, "a second lock waits");
    sl_lake_unlock(fd);
    fd = sl_lake_lock(dir, false);
    cr_assert_geq(fd, 0);
    sl_lake_unlock(fd);
}

/* ---- footers -------------------------------------------------------------------------- */

Test(lake, footer_without_reading_the_data)
{
    sl_parquet_writer_options o;
    sl_parquet_writer_options_default(&o);
    sl_parquet_kv kv[] = { { SL_LAKE_KV_TIMEZONE, "+09:00" } };
    o.kv = kv;
    o.n_kv = 1;
    o.row_group_rows = 100;
    sl_parquet_writer *w;
    cr_assert_eq(sl_parquet_writer_new(&w, &o), 0);
    for (int i = 0; i < 250; i++) {
        char ev[64];
        int n = snprintf(ev, sizeof ev, "{\"i\":%d,\"s\":\"v%d\"}", i, i % 3);
        cr_assert_eq(sl_parquet_writer_add_json(w, (sl_view){ ev, (size_t)n }, 1000000LL * (500 - i)), 0);
    }
    char path[256];
    snprintf(path, sizeof path, "%s/f.parquet", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_eq(sl_parquet_writer_finish_fd(w, fd), 0);
    close(fd);
    sl_parquet_writer_free(w);

    sl_lake_footer f;
    cr_assert_eq(sl_lake_footer_read(path, &f), 0);
    cr_assert_eq(f.rows, 250);
    cr_assert_eq(f.row_groups, 3);
    cr_assert_eq(f.tz_offset_s, 32400);
    cr_assert_eq(f.codec, SL_PARQUET_ZSTD);
    cr_assert(f.has_ts);
    cr_assert_eq(f.min_ts, 251000000LL);
    cr_assert_eq(f.max_ts, 500000000LL);
    cr_assert_eq(f.schema.n, 3);
    cr_assert_str_eq(f.schema.cols[1].name, "i");
    cr_assert_eq(f.schema.cols[1].type, SL_PARQUET_INT64);
    sl_lake_footer_free(&f);

    /* Not Parquet, truncated, missing. */
    snprintf(path, sizeof path, "%s/junk.parquet", dir);
    FILE *j = fopen(path, "w");
    fputs("this is not a parquet file at all", j);
    fclose(j);
    cr_assert_eq(sl_lake_footer_read(path, &f), SL_ERR_CORRUPT);
    snprintf(path, sizeof path, "%s/none.parquet", dir);
    cr_assert_eq(sl_lake_footer_read(path, &f), -ENOENT);
}
