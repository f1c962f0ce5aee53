/*
 * test_cmd_log.c - `sluice log` (topics, offsets, tail, verify) run in
 * process against a log written through the API, with stdout captured.
 */
#include "cli/cli.h"
#include "core/metrics.h"
#include "log/log.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char out[1 << 16];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void setup(void)
{
    strcpy(dir, "/tmp/sluice-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    sl_topic_spec t[] = { { .name = "logs.raw", .partitions = 2 } };
    sl_log_options o = { .data_dir = dir, .fsync = SL_FSYNC_OS, .topics = t, .ntopics = 1 };
    sl_log *log;
    cr_assert_eq(sl_log_open(&o, &log), 0);
    for (int i = 0; i < 6; i++) {
        char v[32];
        int n = snprintf(v, sizeof v, "{\"i\":%d}", i);
        sl_record r = { .key = i ? SL_VIEW_LIT("api-gateway") : SL_VIEW_NULL,
                        .value = { v, (size_t)n }, .ts_us = 1705314600123000LL, .partition = i % 2 };
        cr_assert_eq(sl_log_append_sync(log, "logs.raw", &r, 1, NULL, NULL), 0);
    }
    cr_assert_eq(sl_log_commit(log, "lake", "logs.raw", 1, 1), 0);
    sl_log_close(log);
    sl_metrics_reset();
}

static void teardown(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(cmd_log, .init = setup, .fini = teardown, .timeout = 30);

/* Run `sluice log ARGS... --data dir`; stdout lands in out. */
static int run(const char *const *args)
{
    char *argv[16];
    int argc = 0;
    argv[argc++] = "log";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    argv[argc++] = "--data";
    argv[argc++] = dir;
    argv[argc] = NULL;
    fflush(stdout);
    char path[] = "/tmp/sluice-cli-out-XXXXXX";
    int fd = mkstemp(path), saved = dup(1);
    dup2(fd, 1);
    int rc = sl_cmd_log(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

Test(cmd_log, topics_and_offsets)
{
    cr_assert_eq(run((const char *[]){ "topics", NULL }), 0);
    cr_assert(strstr(out, "logs.raw"), "%s", out);
    cr_assert(strstr(out, "_dlq"), "%s", out);
    cr_assert_eq(run((const char *[]){ "offsets", NULL }), 0);
    cr_assert(strstr(out, "lake"), "%s", out);
    /* partition 1 holds 3 records; lake committed 1: lag 2 */
    char *row = strstr(out, "lake");
    long part, committed, end, lag;
    cr_assert_eq(sscanf(row, "lake logs.raw %ld %ld %ld %ld", &part, &committed, &end, &lag), 4,
                 "%s", row);
    cr_assert_eq(part, 1);
    cr_assert_eq(committed, 1);
    cr_assert_eq(end, 3);
    cr_assert_eq(lag, 2);
}

Test(cmd_log, tail_values_and_meta)
{
    cr_assert_eq(run((const char *[]){ "tail", "logs.raw", NULL }), 0);
    cr_assert_str_eq(out, "", "starts at the end");
    cr_assert_eq(run((const char *[]){ "tail", "logs.raw", "--from-beginning", "--partition", "0",
                                       NULL }),
                 0);
    cr_assert_str_eq(out, "{\"i\":0}\n{\"i\":2}\n{\"i\":4}\n");
    cr_assert_eq(run((const char *[]){ "tail", "logs.raw", "-n", "1", "-p", "0", "--meta", NULL }), 0);
    cr_assert_str_eq(out, "{\"topic\":\"logs.raw\",\"partition\":0,\"offset\":2,"
                          "\"timestamp\":\"2024-01-15T10:30:00.123000Z\",\"key\":\"api-gateway\","
                          "\"value\":{\"i\":4}}\n");
    cr_assert_eq(run((const char *[]){ "tail", "logs.raw", "--from-beginning", "-p", "0", "--meta",
                                       "-n", "3", NULL }),
                 0);
    cr_assert(strstr(out, "\"offset\":0,\"timestamp\":\"2024-01-15T10:30:00.123000Z\",\"key\":null"),
              "%s", out);
    cr_assert_eq(run((const char *[]){ "tail", "nope", NULL }), 1);
}

Test(cmd_log, usage_errors_and_help)
{
    cr_assert_eq(run((const char *[]){ "tail", NULL }), 2);
    cr_assert_eq(run((const char *[]){ "tail", "logs.raw", "-n", "x", NULL }), 2);
    cr_assert_eq(run((const char *[]){ "topics", "--meta", NULL }), 2);
    cr_assert_eq(run((const char *[]){ "frobnicate", NULL }), 2);
    /* --data (which run() always passes) wins over -c, so the file is not read */
    cr_assert_eq(run((const char *[]){ "topics", "-c", "/nonexistent/sluice.yaml", NULL }), 0);
    cr_assert_eq(run((const char *[]){ "tail", "--help", NULL }), 0);
    cr_assert(strstr(out, "--from-beginning"));
    cr_assert_eq(run((const char *[]){ "verify", "--help", NULL }), 0);
    cr_assert(strstr(out, "usage: sluice log verify"));
    cr_assert_eq(run((const char *[]){ "--help", NULL }), 0);
    cr_assert(strstr(out, "sluice log offsets"));
}

Test(cmd_log, verify_passes_then_finds_corruption)
{
    cr_assert_eq(run((const char *[]){ "verify", NULL }), 0);
    cr_assert(strstr(out, "6 records"), "%s", out);
    cr_assert(strstr(out, ": ok\n"), "%s", out);

    char seg[256];
    snprintf(seg, sizeof seg, "%s/log/logs.raw/1/00000000000000000000.log", dir);
    int fd = open(seg, O_RDWR);
    char c;
    cr_assert_eq(pread(fd, &c, 1, 60), 1);
    c ^= 1;
    cr_assert_eq(pwrite(fd, &c, 1, 60), 1);
    close(fd);
    cr_assert_eq(run((const char *[]){ "verify", NULL }), 1);
    cr_assert(strstr(out, "logs.raw/1: 00000000000000000000.log: crc mismatch at position 0"),
              "%s", out);
    cr_assert(strstr(out, "problem"), "%s", out);
}
