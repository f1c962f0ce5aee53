/*
 * test_lake_writer.c - the lake's file rolling and exactly-once writing
 * (src/lake/lake_writer.c): files per partition and hour with the right
 * names and rows, rolling on hour changes (out-of-order events included),
 * on rows and on idleness, commits only after the rename, resume from the
 * lake after a crash at any moment, stale temporary files, rejected
 * records, schema carried across files, and a failed write read again.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/metrics.h"
#include "lake/lake.h"
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

static char dir[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void setup(void)
{
    strcpy(dir, "/tmp/sluice-lakew-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    sl_metrics_reset();
}

static void teardown(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(lake_writer, .init = setup, .fini = teardown, .timeout = 60);

/* What the hooks saw. */
typedef struct seen {
    int64_t committed[4];
    int ncommits;
    int64_t rewound[4];
    int nrewinds;
    int nrejected;
    char reasons[256];
} seen;

static int on_commit(void *arg, const char *topic, int32_t p, int64_t next)
{
    seen *s = arg;
    cr_assert_str_eq(topic, "t");
    cr_assert(next > s->committed[p], "commits only move forward");
    s->committed[p] = next;
    s->ncommits++;
    return 0;
}

static void on_rewind(void *arg, const char *topic, int32_t p, int64_t offset)
{
    (void)topic;
    seen *s = arg;
    s->rewound[p] = offset;
    s->nrewinds++;
}

static void on_rejected(void *arg, const char *topic, const sl_message *m, const char *reason,
                        const char *error)
{
    (void)topic, (void)m, (void)error;
    seen *s = arg;
    s->nrejected++;
    strncat(s->reasons, reason, sizeof s->reasons - strlen(s->reasons) - 2);
    strcat(s->reasons, " ");
}

static sl_lake_writer *new_writer(seen *s, uint64_t max_rows)
{
    memset(s, 0, sizeof *s);
    sl_lake_writer_options o = { .root = dir, .codec = SL_PARQUET_ZSTD, .max_rows = max_rows };
    sl_lake_writer_hooks h = { on_commit, on_rewind, on_rejected, s };
    sl_lake_writer *w;
    cr_assert_eq(sl_lake_writer_new(&w, &o, &h), 0);
    return w;
}

#define HOUR_US 3600000000LL
#define T9      (1768122000000000LL) /* 2026-01-11T09:00:00Z */

/* Messages with offsets from `first`, event times given in seconds after 09:00. */
static void feed(sl_lake_writer *w, int32_t p, int64_t first, const int *secs, size_t n)
{
    sl_message *m = sl_calloc(n, sizeof *m);
    char (*text)[64] = sl_calloc(n, 64);
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(text[i], 64, "{\"o\":%" PRId64 ",\"p\":%d}", first + (int64_t)i, p);
        m[i] = (sl_message){ p, first + (int64_t)i, T9 + (int64_t)secs[i] * 1000000,
                             SL_VIEW_NULL, { text[i], (size_t)len } };
    }
    cr_assert_eq(sl_lake_writer_add(w, "t", p, m, n), 0);
    free(m);
    free(text);
}

/* The finished files of the lake as "hour=H/name" lines, sorted. */
static void files(char *out, size_t cap)
{
    sl_lake_list l = { 0 };
    cr_assert_eq(sl_lake_scan(dir, "t", &l), 0);
    char **lines = sl_calloc(l.n + 1, sizeof *lines);
    size_t n = 0;
    for (size_t i = 0; i < l.n; i++) {
        const char *h = strstr(l.v[i].dir, "hour=");
        lines[n++] = sl_asprintf("%s/%s", h, l.v[i].name);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(lines[i], lines[j]) > 0) {
                char *t = lines[i];
                lines[i] = lines[j];
                lines[j] = t;
            }
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        strncat(out, lines[i], cap - strlen(out) - 2);
        strcat(out, "\n");
        free(lines[i]);
    }
    free(lines);
    sl_lake_list_free(&l);
}

/* Offsets ("o") of the rows of one file, comma-separated. */
static void rows_of(const char *rel, char *out, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/t/year=2026/month=1/day=11/%s", dir, rel);
    sl_parquet_reader *r;
    char err[128];
    cr_assert_eq(sl_parquet_reader_open_file(&r, path, NULL, err, sizeof err), 0, "%s: %s", path, err);
    int o_col = -1;
    for (size_t i = 0; i < sl_parquet_reader_num_columns(r); i++)
        if (!strcmp(sl_parquet_reader_column(r, i)->name, "o"))
            o_col = (int)i;
    cr_assert_geq(o_col, 0);
    out[0] = 0;
    const sl_parquet_value *v;
    while (sl_parquet_reader_next_row(r, &v) == 1)
        snprintf(out + strlen(out), cap - strlen(out), "%s%" PRId64, out[0] ? "," : "",
                 v[o_col].u.i64);
    sl_parquet_reader_free(r);
}

Test(lake_writer, one_file_per_hour_run_out_of_order_included)
{
    seen s;
    sl_lake_writer *w = new_writer(&s, 1000);
    int64_t next;
    cr_assert_eq(sl_lake_writer_resume(w, "t", 0, &next), 0);
    cr_assert_eq(next, -1);
    /* 09:10 x3, 10:05 x2, a late 09:59, 10:06, then 11:00. */
    int secs[] = { 600, 601, 602, 3900, 3901, 3599, 3960, 7200 };
    feed(w, 0, 0, secs, SL_ARRAY_LEN(secs));
    cr_assert_eq(s.committed[0], 7, "four files closed by hour changes");
    cr_assert_eq(s.ncommits, 4);
    cr_assert_eq(sl_lake_writer_close_all(w), 0);
    cr_assert_eq(s.committed[0], 8);
    char list[2048];
    files(list, sizeof list);
    cr_assert_str_eq(list,
                     "hour=10/t+0+0000000003+0000000004.parquet\n"
                     "hour=10/t+0+0000000006+0000000006.parquet\n"
                     "hour=11/t+0+0000000007+0000000007.parquet\n"
                     "hour=9/t+0+0000000000+0000000002.parquet\n"
                     "hour=9/t+0+0000000005+0000000005.parquet\n");
    char rows[256];
    rows_of("hour=9/t+0+0000000000+0000000002.parquet", rows, sizeof rows);
    cr_assert_str_eq(rows, "0,1,2");
    rows_of("hour=10/t+0+0000000003+0000000004.parquet", rows, sizeof rows);
    cr_assert_str_eq(rows, "3,4");
    sl_lake_writer_stats st;
    sl_lake_writer_stats_get(w, &st);
    cr_assert_eq(st.files, 5);
    cr_assert_eq(st.rows, 8);
    cr_assert_eq(st.open_files, 0);
    sl_lake_writer_free(w);
}

Test(lake_writer, rolls_by_rows_and_when_idle)
{
    seen s;
    sl_lake_writer *w = new_writer(&s, 4);
    int secs[10] = { 0 };
    feed(w, 1, 0, secs, 10);
    cr_assert_eq(s.committed[1], 8, "two full files");
    cr_assert_eq(sl_lake_writer_flush_idle(w, 60 * 1000000LL), 0);
    cr_assert_eq(s.committed[1], 8, "not idle yet");
    cr_assert_eq(sl_lake_writer_flush_idle(w, 0), 0);
    cr_assert_eq(s.committed[1], 10, "idle: closed");
    char list[2048];
    files(list, sizeof list);
    cr_assert_str_eq(list,
                     "hour=9/t+1+0000000000+0000000003.parquet\n"
                     "hour=9/t+1+0000000004+0000000007.parquet\n"
                     "hour=9/t+1+0000000008+0000000009.parquet\n");
    sl_lake_writer_free(w);
}

Test(lake_writer, crash_and_resume_exactly_once)
{
    seen s;
    sl_lake_writer *w = new_writer(&s, 5);
    int secs[12] = { 0 };
    feed(w, 2, 0, secs, 12);          /* files 0-4, 5-9 durable; 10-11 open */
    sl_lake_writer_free(w);           /* crash: the open file is gone */
    /* and a temporary file a crash left, as if killed during a close */
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s/t/year=2026/month=1/day=11/hour=9/.t+2+0000000010+0000000011.parquet.tmp", dir);
    FILE *f = fopen(tmp, "w");
    fputs("half a file", f);
    fclose(f);

    w = new_writer(&s, 5);
    int64_t next;
    cr_assert_eq(sl_lake_writer_resume(w, "t", 2, &next), 0);
    cr_assert_eq(next, 10, "resume after the last durable file");
    cr_assert_eq(access(tmp, F_OK), -1, "stale temporary file removed");
    /* The consumer re-reads from its committed offset, say 5: the engine skips
       what the lake has. */
    feed(w, 2, 5, secs, 7);
    cr_assert_eq(sl_lake_writer_close_all(w), 0);
    char list[2048];
    files(list, sizeof list);
    cr_assert_str_eq(list,
                     "hour=9/t+2+0000000000+0000000004.parquet\n"
                     "hour=9/t+2+0000000005+0000000009.parquet\n"
                     "hour=9/t+2+0000000010+0000000011.parquet\n");
    sl_lake_writer_free(w);
}

Test(lake_writer, rejected_records_are_reported_and_covered)
{
    seen s;
    sl_lake_writer *w = new_writer(&s, 100);
    sl_message m[4] = {
        { 0, 0, T9, SL_VIEW_NULL, SL_VIEW_LIT("not json") },
        { 0, 1, INT64_MAX, SL_VIEW_NULL, SL_VIEW_LIT("{\"o\":1}") },
        { 0, 2, T9, SL_VIEW_NULL, SL_VIEW_LIT("{\"o\":2}") },
        { 0, 3, T9, SL_VIEW_NULL, SL_VIEW_LIT("[1,2]") },
    };
    cr_assert_eq(sl_lake_writer_add(w, "t", 0, m, 2), 0);
    cr_assert_eq(sl_lake_writer_flush_idle(w, 0), 0);
    cr_assert_eq(s.committed[0], 2, "only rejected records: committed, no file");
    char list[2048];
    files(list, sizeof list);
    cr_assert_str_eq(list, "");
    cr_assert_eq(sl_lake_writer_add(w, "t", 0, m + 2, 2), 0);
    cr_assert_eq(sl_lake_writer_close_all(w), 0);
    files(list, sizeof list);
    cr_assert_str_eq(list, "hour=9/t+0+0000000002+0000000003.parquet\n");
    cr_assert_eq(s.nrejected, 3);
    cr_assert_str_eq(s.reasons, "malformed_json bad_timestamp malformed_json ");
    cr_assert_eq(s.committed[0], 4);
    sl_lake_writer_free(w);
}

Test(lake_writer, schema_is_carried_and_widened_across_files)
{
    seen s;
    sl_lake_writer *w = new_writer(&s, 1);
    sl_message m[] = {
        { 0, 0, T9, SL_VIEW_NULL, SL_VIEW_LIT("{\"a\":1}") },
        { 0, 1, T9, SL_VIEW_NULL, SL_VIEW_LIT("{\"b\":true}") },
        { 0, 2, T9, SL_VIEW_NULL, SL_VIEW_LIT("{\"a\":2.5}") },
        { 0, 3, T9, SL_VIEW_NULL, SL_VIEW_LIT("{\"c\":{\"d\":\"x\"}}") },
    };
    cr_assert_eq(sl_lake_writer_add(w, "t", 0, m, 4), 0);
    const sl_parquet_schema *sch = sl_lake_writer_topic_schema(w, "t");
    cr_assert_eq(sch->n, 3);
    cr_assert_str_eq(sch->cols[0].name, "a");
    cr_assert_eq(sch->cols[0].type, SL_PARQUET_DOUBLE, "int widened by a later double");
    cr_assert_str_eq(sch->cols[2].name, "c.d");
    /* The fourth file has every column seen before, in first-seen order. */
    char path[512];
    snprintf(path, sizeof path, "%s/t/year=2026/month=1/day=11/hour=9/t+0+0000000003+0000000003.parquet", dir);
    sl_lake_footer f;
    cr_assert_eq(sl_lake_footer_read(path, &f), 0);
    cr_assert_eq(f.schema.n, 4);
    cr_assert_str_eq(f.schema.cols[0].name, "ts");
    cr_assert_str_eq(f.schema.cols[1].name, "a");
    cr_assert_eq(f.schema.cols[1].type, SL_PARQUET_DOUBLE);
    cr_assert_str_eq(f.schema.cols[2].name, "b");
    cr_assert_str_eq(f.schema.cols[3].name, "c.d");
    sl_lake_footer_free(&f);
    sl_lake_writer_free(w);

    /* A new writer learns the carried schema back from the newest file. */
    w = new_writer(&s, 1);
    int64_t next;
    cr_assert_eq(sl_lake_writer_resume(w, "t", 0, &next), 0);
    cr_assert_eq(next, 4);
    cr_assert_eq(sl_lake_writer_topic_schema(w, "t")->n, 3);
    sl_lake_writer_free(w);
}

Test(lake_writer, a_failed_write_rewinds_and_succeeds_later)
{
    seen s;
    sl_lake_writer *w = new_writer(&s, 100);
    /* A regular file where the hour directory must go. */
    char block[512];
    snprintf(block, sizeof block, "%s/t/year=2026/month=1/day=11", dir);
    cr_assert_eq(sl_lake_mkdirs(block), 0);
    strcat(block, "/hour=9");
    fclose(fopen(block, "w"));
    int secs[3] = { 0, 1, 2 };
    feed(w, 3, 40, secs, 3);
    cr_assert_lt(sl_lake_writer_close_all(w), 0);
    cr_assert_eq(s.nrewinds, 1);
    cr_assert_eq(s.rewound[3], 40, "read again from the file's first offset");
    cr_assert_eq(s.ncommits, 0, "nothing committed");
    unlink(block);
    feed(w, 3, 40, secs, 3);          /* the records, read again */
    cr_assert_eq(sl_lake_writer_close_all(w), 0);
    cr_assert_eq(s.committed[3], 43);
    char list[2048];
    files(list, sizeof list);
    cr_assert_str_eq(list, "hour=9/t+3+0000000040+0000000042.parquet\n");
    sl_lake_writer_free(w);
}

Test(lake_writer, resume_after_a_crash_between_rename_and_commit)
{
    seen s;
    sl_lake_writer *w = new_writer(&s, 3);
    int secs[3] = { 0 };
    feed(w, 0, 0, secs, 3);           /* renamed and committed */
    cr_assert_eq(s.committed[0], 3);
    sl_lake_writer_free(w);
    /* The group says 0 (say the commit was lost): the lake still says 3. */
    w = new_writer(&s, 3);
    int64_t next;
    cr_assert_eq(sl_lake_writer_resume(w, "t", 0, &next), 0);
    cr_assert_eq(next, 3);
    feed(w, 0, 0, secs, 3);           /* re-delivered from 0: all skipped */
    cr_assert_eq(sl_lake_writer_close_all(w), 0);
    char list[2048];
    files(list, sizeof list);
    cr_assert_str_eq(list, "hour=9/t+0+0000000000+0000000002.parquet\n");
    sl_lake_writer_free(w);
}
