/*
 * test_lake_compact.c - compaction (src/lake/lake_compact.c): the merged
 * files hold exactly the rows of their inputs, their names span the union
 * of the ranges so resume offsets do not move, the current hour is never
 * touched, and a compaction killed after any step leaves a lake whose
 * readers never see a row twice and which recovery puts back in order.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/metrics.h"
#include "lake/lake.h"
#include "lake/lake_compact.h"
#include "lake/lake_writer.h"
#include "lake/parquet/parquet_reader.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[64];
static char dir[128];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void setup(void)
{
    strcpy(base, "/tmp/sluice-compact-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(dir, sizeof dir, "%s/lake", base);
    sl_metrics_reset();
}

static void teardown(void)
{
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(lake_compact, .init = setup, .fini = teardown, .timeout = 120);

#define T9 (1768122000000000LL) /* 2026-01-11T09:00:00Z */
#define N  60

static int commit_ok(void *arg, const char *t, int32_t p, int64_t next)
{
    (void)arg, (void)t, (void)p, (void)next;
    return 0;
}

/* Two partitions, N records each alternating between hours 9 and 10 in runs
   of 5, files of at most 3 rows: many small files per partition and hour. */
static void make_lake(const char *root)
{
    sl_lake_writer_options o = { .root = root, .codec = SL_PARQUET_ZSTD, .max_rows = 3 };
    sl_lake_writer_hooks h = { .commit = commit_ok };
    sl_lake_writer *w;
    cr_assert_eq(sl_lake_writer_new(&w, &o, &h), 0);
    for (int32_t p = 0; p < 2; p++) {
        sl_message m[N];
        char text[N][96];
        for (int i = 0; i < N; i++) {
            int len = snprintf(text[i], sizeof text[i],
                               "{\"o\":%d,\"p\":%d,\"s\":\"row %d of %d\",\"x\":{\"y\":%d.5}}", i,
                               p, i, p, i);
            int64_t hour = (i / 5) % 2;
            m[i] = (sl_message){ p, i, T9 + hour * 3600000000LL + i * 1000000LL, SL_VIEW_NULL,
                                 { text[i], (size_t)len } };
        }
        cr_assert_eq(sl_lake_writer_add(w, "t", p, m, N), 0);
    }
    cr_assert_eq(sl_lake_writer_close_all(w), 0);
    sl_lake_writer_free(w);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every row of every visible file, as sorted JSON lines (with the hour
   directory, so a row moved to another hour would show). */
static char *visible_rows(const char *root, size_t *files)
{
    sl_lake_list l = { 0 };
    cr_assert_eq(sl_lake_scan(root, "t", &l), 0);
    char **rows = NULL;
    size_t n = 0, cap = 0;
    *files = 0;
    sl_buf path = SL_BUF_INIT, row = SL_BUF_INIT;
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].kind != SL_LAKE_DATA)
            continue;
        (*files)++;
        sl_lake_entry_path(&l.v[i], &path);
        sl_parquet_reader *r;
        cr_assert_eq(sl_parquet_reader_open_file(&r, path.data, NULL, NULL, 0), 0);
        for (;;) {
            sl_buf_reset(&row);
            sl_buf_printf(&row, "%s ", strstr(l.v[i].dir, "hour="));
            int rc = sl_parquet_reader_next_json(r, 0, &row);
            cr_assert_geq(rc, 0);
            if (rc == 0)
                break;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                rows = sl_realloc(rows, cap * sizeof *rows);
            }
            rows[n++] = sl_strdup(row.data);
        }
        sl_parquet_reader_free(r);
    }
    qsort(rows, n, sizeof *rows, cmp_str);
    sl_buf all = SL_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        sl_buf_append_str(&all, rows[i]);
        sl_buf_append_char(&all, '\n');
        free(rows[i]);
    }
    free(rows);
    sl_buf_free(&path);
    sl_buf_free(&row);
    sl_lake_list_free(&l);
    if (!all.data)
        sl_buf_append_str(&all, "");
    return sl_buf_steal(&all);
}

static int64_t resume_of(const char *root, int32_t p)
{
    sl_lake_list l = { 0 };
    cr_assert_eq(sl_lake_scan(root, "t", &l), 0);
    int64_t r = sl_lake_resume_offset(&l, p, NULL);
    sl_lake_list_free(&l);
    return r;
}

static size_t count_kind(const char *root, sl_lake_file_kind kind)
{
    sl_lake_list l = { 0 };
    cr_assert_eq(sl_lake_scan(root, "t", &l), 0);
    size_t n = 0;
    for (size_t i = 0; i < l.n; i++)
        n += l.v[i].kind == kind;
    sl_lake_list_free(&l);
    return n;
}

static bool has_duplicates(const char *rows)
{
    const char *prev = NULL;
    size_t prev_len = 0;
    for (const char *p = rows; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = (size_t)(nl - p);
        if (prev && len == prev_len && !memcmp(prev, p, len))
            return true;
        prev = p;
        prev_len = len;
        p = nl + 1;
    }
    return false;
}

Test(lake_compact, merges_closed_hours_and_keeps_every_row)
{
    make_lake(dir);
    size_t before_files, after_files;
    char *before = visible_rows(dir, &before_files);
    cr_assert_gt(before_files, 30);
    int64_t r0 = resume_of(dir, 0), r1 = resume_of(dir, 1);
    cr_assert_eq(r0, N);

    sl_lake_compact_options o = { .root = dir, .older_than_us = 3600000000LL,
                                  .now_us = T9 + 48 * 3600000000LL };
    sl_lake_compact_stats st;
    cr_assert_eq(sl_lake_compact(&o, &st), 0);
    cr_assert_eq(st.merges, 4, "one per partition and hour");
    cr_assert_eq(st.inputs, before_files);
    cr_assert_eq(st.rows, 2 * N);
    char *after = visible_rows(dir, &after_files);
    cr_assert_eq(after_files, 4);
    cr_assert_str_eq(after, before, "the same rows in the same hours");
    cr_assert(!has_duplicates(after));
    cr_assert_eq(resume_of(dir, 0), r0);
    cr_assert_eq(resume_of(dir, 1), r1);
    /* Hour 9 of partition 0 held offsets 0..4, 10..14, ..., 50..54. */
    char path[512];
    snprintf(path, sizeof path,
             "%s/t/year=2026/month=1/day=11/hour=9/t+0+0000000000+0000000054.parquet", dir);
    cr_assert_eq(access(path, F_OK), 0, "the union of the ranges names the file");
    sl_lake_footer f;
    cr_assert_eq(sl_lake_footer_read(path, &f), 0);
    cr_assert_eq(f.rows, 30);
    sl_lake_footer_free(&f);
    /* Again: nothing left to merge. */
    cr_assert_eq(sl_lake_compact(&o, &st), 0);
    cr_assert_eq(st.merges, 0);
    free(before);
    free(after);
}

Test(lake_compact, never_touches_an_hour_that_has_not_ended)
{
    make_lake(dir);
    size_t files;
    free(visible_rows(dir, &files));
    /* 10:30: hour 9 ended 30 minutes ago, hour 10 is still running. */
    sl_lake_compact_options o = { .root = dir, .older_than_us = 0,
                                  .now_us = T9 + 3600000000LL + 1800000000LL };
    sl_lake_compact_stats st;
    cr_assert_eq(sl_lake_compact(&o, &st), 0);
    cr_assert_eq(st.merges, 2, "hour 9 of both partitions only");
    o.older_than_us = 3600000000LL; /* and with the default threshold, nothing yet */
    cr_assert_eq(sl_lake_compact(&o, &st), 0);
    cr_assert_eq(st.merges, 0);
    size_t files_now, files_dry;
    free(visible_rows(dir, &files_now));
    cr_assert_lt(files_now, files);
    o.dry_run = true;
    o.older_than_us = 0;
    o.now_us = T9 + 48 * 3600000000LL;
    cr_assert_eq(sl_lake_compact(&o, &st), 0);
    free(visible_rows(dir, &files_dry));
    cr_assert_eq(files_dry, files_now, "dry run changes nothing");
}

Test(lake_compact, target_size_splits_into_contiguous_runs)
{
    make_lake(dir);
    size_t files;
    char *before = visible_rows(dir, &files);
    sl_lake_list l = { 0 };
    cr_assert_eq(sl_lake_scan(dir, "t", &l), 0);
    uint64_t one = (uint64_t)l.v[0].size;
    sl_lake_list_free(&l);
    sl_lake_compact_options o = { .root = dir, .now_us = T9 + 48 * 3600000000LL,
                                  .target_bytes = one * 3 + one / 2 };
    sl_lake_compact_stats st;
    cr_assert_eq(sl_lake_compact(&o, &st), 0);
    cr_assert_gt(st.merges, 4);
    size_t after_files;
    char *after = visible_rows(dir, &after_files);
    cr_assert_str_eq(after, before);
    cr_assert_lt(after_files, files);
    cr_assert_eq(resume_of(dir, 0), N);
    free(before);
    free(after);
}

/* Kill the compaction after each step; what readers and resume see, then recovery. */
Test(lake_compact, a_crash_after_any_step_never_shows_a_row_twice)
{
    for (int step = 1; step <= 5; step++) {
        char root[256];
        snprintf(root, sizeof root, "%s/crash%d", base, step);
        make_lake(root);
        size_t files;
        char *orig = visible_rows(root, &files);
        int64_t r0 = resume_of(root, 0);

        sl_lake_compact_options o = { .root = root, .now_us = T9 + 48 * 3600000000LL,
                                      .crash_after = step };
        sl_lake_compact_stats st;
        cr_assert_eq(sl_lake_compact(&o, &st), 0);
        size_t n;
        char *mid = visible_rows(root, &n);
        cr_assert(!has_duplicates(mid), "step %d: a reader sees a row twice", step);
        if (step >= 4)
            cr_assert_str_eq(mid, orig, "step %d: the merged file is in place", step);
        cr_assert_eq(resume_of(root, 0), r0, "step %d: resume moved", step);

        /* What the lake output does when it takes partition 0 and 1. */
        int lock = sl_lake_lock(root, true);
        cr_assert_geq(lock, 0);
        cr_assert_eq(sl_lake_recover(root, "t", 0, false, NULL), 0);
        cr_assert_eq(sl_lake_recover(root, "t", 1, false, NULL), 0);
        sl_lake_unlock(lock);
        char *fixed = visible_rows(root, &n);
        cr_assert_str_eq(fixed, orig, "step %d: recovery restores every row once", step);
        cr_assert_eq(count_kind(root, SL_LAKE_COMPACTED), 0, "step %d", step);

        /* The next compaction cleans up and finishes the job. */
        o.crash_after = 0;
        cr_assert_eq(sl_lake_compact(&o, &st), 0);
        char *done = visible_rows(root, &n);
        cr_assert_str_eq(done, orig, "step %d", step);
        cr_assert_eq(n, 4, "step %d", step);
        cr_assert_eq(count_kind(root, SL_LAKE_MERGING), 0, "step %d", step);
        cr_assert_eq(count_kind(root, SL_LAKE_COMPACTED), 0, "step %d", step);
        cr_assert_eq(resume_of(root, 0), r0);
        free(orig);
        free(mid);
        free(fixed);
        free(done);
    }
}

Test(lake_compact, the_next_compaction_alone_repairs_a_crash)
{
    for (int step = 1; step <= 5; step++) {
        char root[256];
        snprintf(root, sizeof root, "%s/again%d", base, step);
        make_lake(root);
        size_t files, n;
        char *orig = visible_rows(root, &files);
        sl_lake_compact_options o = { .root = root, .now_us = T9 + 48 * 3600000000LL,
                                      .crash_after = step };
        sl_lake_compact_stats st;
        cr_assert_eq(sl_lake_compact(&o, &st), 0);
        o.crash_after = 0;
        cr_assert_eq(sl_lake_compact(&o, &st), 0);
        cr_assert_geq(st.recovered, 1, "step %d: leftovers found", step);
        char *done = visible_rows(root, &n);
        cr_assert_str_eq(done, orig, "step %d", step);
        cr_assert_eq(n, 4, "step %d", step);
        cr_assert_eq(count_kind(root, SL_LAKE_MERGING) + count_kind(root, SL_LAKE_COMPACTED), 0);
        free(orig);
        free(done);
    }
}
