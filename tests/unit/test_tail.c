/*
 * test_tail.c - the NGINX tail input against a real embedded log in a
 * temporary directory: the position file's format and its refusals; lines
 * into pixel events and NGINX events; a partial last line that waits; an
 * overlong line kept in _dlq while the file goes on; rotation by rename
 * and by copytruncate (with and without the copy), also while sluice was
 * down; crashes before the position file moved (the re-read is recognised
 * by the log: nothing twice), also with an announced short batch.
 */
#include "core/crc32c.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "input/tail/tail.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char path_log[128], path_pos[128];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    strcpy(dir, "/tmp/sluice-tail-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path_log, sizeof path_log, "%s/access.log", dir);
    snprintf(path_pos, sizeof path_pos, "%s/pos/tail.pos", dir);
    sl_log_set_level(SL_LOG_ERROR);
    /* A hard bound (SIGALRM kills the test's process); Criterion's .timeout
       leaks under ASan when tests run in parallel. */
    alarm(60);
}

static void teardown(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    sl_metrics_reset();
}

TestSuite(tail, .init = setup, .fini = teardown);
TestSuite(tail_pos, .init = setup, .fini = teardown);

/* ---- helpers ----------------------------------------------------------------- */

static sl_topic_spec topics[] = { { .name = "web.raw", .partitions = 3, .segment_bytes = 8 << 20 } };

static sl_log *open_log(void)
{
    char logdir[128];
    snprintf(logdir, sizeof logdir, "%s/data", dir);
    mkdir(logdir, 0755);
    sl_log_options o = { .data_dir = logdir, .fsync = SL_FSYNC_GROUP, .topics = topics,
                         .ntopics = 1, .max_pending_bytes = 64 << 20 };
    sl_log *log = NULL;
    cr_assert_eq(sl_log_open(&o, &log), 0);
    return log;
}

static char *paths[2];

static tail_options options(void)
{
    tail_options o;
    tail_options_defaults(&o);
    paths[0] = path_log;
    paths[1] = NULL;
    o.paths = paths;
    o.pos_file = path_pos;
    o.refresh_us = 0;          /* every poll re-scans */
    o.rotate_wait_us = 50000;
    o.pos_interval_us = 0;
    return o;
}

static tail_input *open_tail(sl_log *log, const tail_options *o)
{
    tail_input *t = NULL;
    char err[512] = "";
    int rc = tail_input_open(o, log, &t, err, sizeof err);
    cr_assert_eq(rc, 0, "open: %s", err);
    return t;
}

static void append_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* A combined line for GET /{sid}?uid=<n>... (n makes every line unique). */
static void line(char *out, size_t cap, int sid, int n, const char *extra)
{
    snprintf(out, cap,
             "10.0.0.%d - - [18/Jun/2025:12:50:%02d +0900] \"GET /%d?e_c=buttonClick&memberId=%d"
             "&uid=u%d%s HTTP/1.1\" 200 43 \"http://shop/p\" \"Mozilla/5.0\"\n",
             n % 250 + 1, n % 60, sid, 100000 + n % 17, n, extra ? extra : "");
}

static void write_lines(const char *path, int from, int to)
{
    sl_buf b = SL_BUF_INIT;
    char l[512];
    for (int i = from; i < to; i++) {
        line(l, sizeof l, 5, i, NULL);
        sl_buf_append_str(&b, l);
    }
    append_text(path, b.data ? b.data : "");
    sl_buf_free(&b);
}

/* Poll until the input committed `lines` lines (in total) or 10 s pass. */
static void poll_until(tail_input *t, uint64_t lines)
{
    int64_t deadline = sl_mono_us() + 10000000;
    tail_stats st;
    for (;;) {
        bool progress;
        cr_assert_eq(tail_input_poll(t, &progress), 0);
        tail_input_stats(t, &st);
        if (st.lines >= lines && st.inflight == 0)
            break;
        cr_assert(sl_mono_us() < deadline, "timed out: %llu of %llu lines committed",
                  (unsigned long long)st.lines, (unsigned long long)lines);
        if (!progress)
            tail_input_wait(t, 5);
    }
}

/* Poll for a while (for things that must NOT happen, and rotate_wait). */
static void poll_for(tail_input *t, int ms)
{
    int64_t until = sl_mono_us() + (int64_t)ms * 1000;
    while (sl_mono_us() < until) {
        bool progress;
        cr_assert_eq(tail_input_poll(t, &progress), 0);
        if (!progress)
            tail_input_wait(t, 5);
    }
}

/* Every record value of a topic, as one JSON array text per record. */
typedef struct records {
    char **v;
    size_t n;
} records;

static records read_topic(sl_log *log, const char *topic, int partitions)
{
    records r = { 0 };
    for (int p = 0; p < partitions; p++) {
        int64_t off = 0, start, end;
        cr_assert_eq(sl_log_offsets(log, topic, p, &start, &end), 0);
        while (off < end) {
            sl_fetch f = { 0 };
            cr_assert_eq(sl_log_read(log, topic, p, off, 1000, 1 << 24, 0, &f), 0);
            for (size_t i = 0; i < f.n; i++) {
                r.v = realloc(r.v, (r.n + 1) * sizeof *r.v);
                r.v[r.n++] = strndup(f.msgs[i].value.ptr, f.msgs[i].value.len);
            }
            off = f.next_offset;
            sl_fetch_release(&f);
        }
    }
    return r;
}

static void records_free(records *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i]);
    free(r->v);
}

/* Each uid u<from>..u<to-1> exactly once among the records. */
static void uids_exactly_once(const records *r, int from, int to)
{
    int n = to - from;
    int *seen = calloc((size_t)n, sizeof *seen);
    for (size_t i = 0; i < r->n; i++) {
        const char *u = strstr(r->v[i], "\"uid\":\"u");
        cr_assert_not_null(u, "no uid in %s", r->v[i]);
        int k = atoi(u + 8);
        cr_assert(k >= from && k < to, "uid u%d out of range", k);
        seen[k - from]++;
    }
    for (int k = 0; k < n; k++)
        cr_assert_eq(seen[k], 1, "uid u%d seen %d times", k + from, seen[k]);
    cr_assert_eq(r->n, (size_t)n);
    free(seen);
}

/* ---- the position file ---------------------------------------------------------- */

Test(tail_pos, encode_decode_round_trip)
{
    tail_pos_entry e[3] = {
        { .path = "/var/log/nginx/access.log", .dev = 0x803, .ino = 0xa31c2, .offset = 1234567,
          .pending = 0, .fp_len = 256, .fp_crc = 0xdeadbeef },
        { .path = "/tmp/odd\tname\n100%.log", .dev = 1, .ino = 2, .offset = 0, .pending = 77,
          .fp_len = 0, .fp_crc = 0 },
        { .path = "/a", .dev = UINT64_MAX, .ino = UINT64_MAX, .offset = INT64_MAX,
          .pending = 0, .fp_len = 12, .fp_crc = 1 },
    };
    sl_buf text = SL_BUF_INIT;
    tail_pos_encode(e, 3, &text);
    cr_assert(strncmp(text.data, "sluice-tail-pos 1\n", 18) == 0);
    /* One line per entry: the odd path is escaped. */
    cr_assert_not_null(strstr(text.data, "/tmp/odd%09name%0a100%25.log\t"));
    tail_pos_entry *d = NULL;
    size_t n = 0;
    char err[256] = "";
    cr_assert_eq(tail_pos_decode(text.data, text.len, &d, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(d[i].path, e[i].path);
        cr_assert_eq(d[i].dev, e[i].dev);
        cr_assert_eq(d[i].ino, e[i].ino);
        cr_assert_eq(d[i].offset, e[i].offset);
        cr_assert_eq(d[i].pending, e[i].pending);
        cr_assert_eq(d[i].fp_len, e[i].fp_len);
        cr_assert_eq(d[i].fp_crc, e[i].fp_crc);
    }
    tail_pos_free(d, n);
    /* An empty set is a valid file too. */
    sl_buf_reset(&text);
    tail_pos_encode(NULL, 0, &text);
    cr_assert_eq(tail_pos_decode(text.data, text.len, &d, &n, err, sizeof err), 0);
    cr_assert_eq(n, 0);
    free(d);
    sl_buf_free(&text);
}

static void refused(const char *text, const char *want)
{
    tail_pos_entry *d = NULL;
    size_t n = 0;
    char err[256] = "";
    cr_assert_eq(tail_pos_decode(text, strlen(text), &d, &n, err, sizeof err), SL_ERR_CORRUPT,
                 "accepted: %s", text);
    cr_assert_not_null(strstr(err, want), "message '%s' lacks '%s'", err, want);
    cr_assert_null(d);
}

Test(tail_pos, damaged_files_are_refused_with_the_line)
{
    tail_pos_entry e = { .path = "/x.log", .dev = 1, .ino = 2, .offset = 300, .fp_len = 4,
                         .fp_crc = 9 };
    sl_buf text = SL_BUF_INIT;
    tail_pos_encode(&e, 1, &text);
    refused("", "line 1: not a sluice position file");
    refused("sluice-tail-pos 2\nend 0 00000000\n", "not a sluice position file");
    /* Cut short: no trailer. */
    char *cut = strndup(text.data, text.len - 10);
    refused(cut, "ends without its 'end' line");
    free(cut);
    /* One digit changed: the checksum says so. */
    char *bad = strdup(text.data);
    char *off = strstr(bad, "000000000000012c");
    cr_assert_not_null(off);
    off[15] = 'd';
    refused(bad, "line 3: checksum mismatch");
    free(bad);
    refused("sluice-tail-pos 1\n/x\t1\t2\nend 1 00000000\n", "line 2: expected 16 hex digits");
    refused("sluice-tail-pos 1\nend 3 00000000\n", "counts 3 entries");
    /* pending must lie after offset. */
    tail_pos_entry p = { .path = "/y", .offset = 10, .pending = 11 };
    sl_buf_reset(&text);
    tail_pos_encode(&p, 1, &text);
    char *q = strdup(text.data);
    char *pend = strstr(q, "000000000000000b");
    memcpy(pend, "0000000000000005", 16);
    /* (the CRC now fails first; rebuild the trailer to reach the check) */
    char *endl = strstr(q, "end ");
    *endl = '\0';
    sl_buf fixed = SL_BUF_INIT;
    sl_buf_append_str(&fixed, q);
    sl_buf_printf(&fixed, "end 1 %08x\n", sl_crc32c(0, fixed.data, fixed.len));
    refused(fixed.data, "impossible offsets");
    free(q);
    sl_buf_free(&fixed);
    sl_buf_free(&text);
}

Test(tail_pos, write_is_atomic_and_read_back)
{
    char posdir[128];
    snprintf(posdir, sizeof posdir, "%s/pos", dir);
    mkdir(posdir, 0755);
    tail_pos_entry *none = NULL;
    size_t nnone = 0;
    cr_assert_eq(tail_pos_read(path_pos, &none, &nnone, NULL, 0), -ENOENT);
    tail_pos_entry e = { .path = "/x.log", .dev = 1, .ino = 2, .offset = 300 };
    cr_assert_eq(tail_pos_write(path_pos, &e, 1), 0);
    e.offset = 400;
    cr_assert_eq(tail_pos_write(path_pos, &e, 1), 0);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path_pos);
    cr_assert_eq(access(tmp, F_OK), -1, "the temporary file is left behind");
    tail_pos_entry *d;
    size_t n;
    char err[128];
    cr_assert_eq(tail_pos_read(path_pos, &d, &n, err, sizeof err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(d[0].offset, 400);
    tail_pos_free(d, n);
}

/* ---- lines into events ------------------------------------------------------------ */

Test(tail, pixel_lines_and_other_lines_become_events)
{
    sl_log *log = open_log();
    append_text(path_log,
                "127.0.0.1 - - [18/Jun/2025:12:50:10 +0900] \"GET /5?e_c=buttonClick&e_n=\\x5Cuace0"
                "\\x5Cuba74&memberId=123456&h=14 HTTP/1.1\" 200 43 \"http://shop/p\" \"Mozilla/5.0\"\n"
                "127.0.0.1 - - [18/Jun/2025:12:50:11 +0900] \"GET /index.html HTTP/1.1\" 200 1043 "
                "\"-\" \"curl/8.0\"\n"
                "\n"
                "not an nginx line\n"
                "127.0.0.1 - - [18/Jun/2025:12:50:12 +0900] \"GET /5?e_n=%G1 HTTP/1.1\" 200 43 \"-\" "
                "\"-\"\n");
    tail_options o = options();
    tail_input *t = open_tail(log, &o);
    poll_until(t, 4);
    tail_input_close(t);

    records ev = read_topic(log, "web.raw", 3), dlq = read_topic(log, "_dlq", 1);
    cr_assert_eq(ev.n, 2);
    bool pixel = false, other = false;
    for (size_t i = 0; i < ev.n; i++) {
        if (strstr(ev.v[i], "\"scenario_id\":5")) {
            cr_assert_str_eq(ev.v[i],
                             "{\"scenario_id\":5,\"e_c\":\"buttonClick\",\"e_n\":\"\xea\xb3\xa0\xeb\xa9\xb4\","
                             "\"memberId\":\"123456\",\"h\":\"14\",\"ip\":\"127.0.0.1\","
                             "\"user_agent\":\"Mozilla/5.0\",\"referer\":\"http://shop/p\","
                             "\"ts\":\"2025-06-18T03:50:10.000000Z\"}");
            pixel = true;
        } else {
            cr_assert_not_null(strstr(ev.v[i], "\"path\":\"/index.html\""), "%s", ev.v[i]);
            cr_assert_not_null(strstr(ev.v[i], "\"status\":200"), "%s", ev.v[i]);
            other = true;
        }
    }
    cr_assert(pixel && other);
    cr_assert_eq(dlq.n, 2);
    cr_assert_not_null(strstr(dlq.v[0], "\"reason\":\"malformed_line\""), "%s", dlq.v[0]);
    cr_assert_not_null(strstr(dlq.v[0], "\"original\":\"not an nginx line\""), "%s", dlq.v[0]);
    cr_assert_not_null(strstr(dlq.v[0], "\"source\":\"tail\""));
    cr_assert_not_null(strstr(dlq.v[1], "\"reason\":\"bad_query\""), "%s", dlq.v[1]);
    cr_assert_not_null(strstr(dlq.v[1], "broken %-escape"), "%s", dlq.v[1]);
    records_free(&ev);
    records_free(&dlq);
    sl_log_close(log);
}

Test(tail, a_partial_last_line_waits_for_its_newline)
{
    sl_log *log = open_log();
    write_lines(path_log, 0, 3);
    char l[512];
    line(l, sizeof l, 5, 3, NULL);
    l[strlen(l) - 1] = '\0';
    size_t half = strlen(l) / 2;
    char first[512];
    memcpy(first, l, half);
    first[half] = '\0';
    append_text(path_log, first);
    tail_options o = options();
    tail_input *t = open_tail(log, &o);
    poll_until(t, 3);
    poll_for(t, 100);
    tail_stats st;
    tail_input_stats(t, &st);
    cr_assert_eq(st.lines, 3, "the half line was taken: %llu lines", (unsigned long long)st.lines);
    append_text(path_log, l + half);
    append_text(path_log, "\n");
    poll_until(t, 4);
    tail_input_close(t);
    records ev = read_topic(log, "web.raw", 3);
    uids_exactly_once(&ev, 0, 4);
    records_free(&ev);
    sl_log_close(log);
}

Test(tail, an_overlong_line_goes_to_dlq_and_the_file_goes_on)
{
    sl_log *log = open_log();
    tail_options o = options();
    o.max_line_size = 1024;
    o.batch_bytes = 4096;     /* a buffer far smaller than the long line */
    write_lines(path_log, 0, 5);
    /* 200 KB without a newline, written in pieces while the input reads. */
    tail_input *t = open_tail(log, &o);
    poll_until(t, 5);
    char chunk[10001];
    memset(chunk, 'x', 10000);
    chunk[10000] = '\0';
    memcpy(chunk, "LONG", 4);
    for (int i = 0; i < 20; i++) {
        append_text(path_log, chunk);
        poll_for(t, 5);
    }
    append_text(path_log, "\n");
    write_lines(path_log, 5, 10);
    /* A complete line over the limit in one write, too. */
    append_text(path_log, chunk);
    append_text(path_log, "\n");
    write_lines(path_log, 10, 12);
    poll_until(t, 5 + 1 + 5 + 1 + 2);
    tail_input_close(t);
    records ev = read_topic(log, "web.raw", 3), dlq = read_topic(log, "_dlq", 1);
    uids_exactly_once(&ev, 0, 12);
    cr_assert_eq(dlq.n, 2);
    cr_assert_not_null(strstr(dlq.v[0], "\"reason\":\"line_too_long\""));
    cr_assert_not_null(strstr(dlq.v[0], "line of 200001 bytes exceeds max_line_size (1024)"),
                       "%s", dlq.v[0]);
    cr_assert_not_null(strstr(dlq.v[0], "\"original\":\"LONGxxx"));
    cr_assert_not_null(strstr(dlq.v[1], "line of 10001 bytes"), "%s", dlq.v[1]);
    records_free(&ev);
    records_free(&dlq);
    sl_log_close(log);
}

/* ---- rotation ---------------------------------------------------------------------- */

Test(tail, rotation_by_rename_reads_the_old_file_to_its_end_then_the_new_one)
{
    sl_log *log = open_log();
    tail_options o = options();
    write_lines(path_log, 0, 100);
    tail_input *t = open_tail(log, &o);
    poll_until(t, 100);
    /* NGINX keeps writing to the renamed file until it reopens its log. */
    int fd = open(path_log, O_WRONLY | O_APPEND);
    char rotated[160];
    snprintf(rotated, sizeof rotated, "%s.1", path_log);
    cr_assert_eq(rename(path_log, rotated), 0);
    poll_for(t, 20); /* the input notices */
    sl_buf b = SL_BUF_INIT;
    char l[512];
    for (int i = 100; i < 150; i++) {
        line(l, sizeof l, 5, i, NULL);
        sl_buf_append_str(&b, l);
    }
    cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
    close(fd);
    write_lines(path_log, 150, 200);
    poll_until(t, 200);
    poll_for(t, 200); /* past rotate_wait: the old file is let go */
    tail_stats st;
    tail_input_stats(t, &st);
    cr_assert_eq(st.files, 1, "the rotated file is still followed");
    cr_assert_eq(st.rotations, 1);
    tail_input_close(t);
    records ev = read_topic(log, "web.raw", 3);
    uids_exactly_once(&ev, 0, 200);
    records_free(&ev);
    sl_buf_free(&b);
    sl_log_close(log);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out);
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, k, out);
    fclose(in);
    fclose(out);
}

Test(tail, copytruncate_reads_the_rest_from_the_copy_then_the_file_from_zero)
{
    sl_log *log = open_log();
    tail_options o = options();
    write_lines(path_log, 0, 100);
    tail_input *t = open_tail(log, &o);
    poll_until(t, 100);
    /* Lines the input has not read yet when logrotate copies and truncates. */
    write_lines(path_log, 100, 130);
    char copy[160];
    snprintf(copy, sizeof copy, "%s-20250618", path_log);
    copy_file(path_log, copy);
    cr_assert_eq(truncate(path_log, 0), 0);
    write_lines(path_log, 130, 140);
    poll_until(t, 140);
    poll_for(t, 200);
    tail_stats st;
    tail_input_stats(t, &st);
    cr_assert_eq(st.truncations, 1);
    tail_input_close(t);
    records ev = read_topic(log, "web.raw", 3);
    uids_exactly_once(&ev, 0, 140);
    records_free(&ev);
    sl_log_close(log);
}

Test(tail, copytruncate_without_a_copy_starts_over_and_says_what_is_lost)
{
    sl_log *log = open_log();
    tail_options o = options();
    write_lines(path_log, 0, 50);
    tail_input *t = open_tail(log, &o);
    poll_until(t, 50);
    cr_assert_eq(truncate(path_log, 0), 0);
    write_lines(path_log, 50, 60);
    poll_until(t, 60);
    tail_input_close(t);
    records ev = read_topic(log, "web.raw", 3);
    uids_exactly_once(&ev, 0, 60);
    records_free(&ev);
    sl_log_close(log);
}

/* ---- crashes and restarts ------------------------------------------------------------ */

Test(tail, a_crash_before_the_position_file_moved_stores_nothing_twice)
{
    sl_log *log = open_log();
    tail_options o = options();
    o.batch_lines = 64;           /* 16 full batches, none cut short */
    o.pos_interval_us = 3600000000LL; /* the position file is never written */
    write_lines(path_log, 0, 1024);
    tail_input *t = open_tail(log, &o);
    poll_until(t, 1024);
    tail_input_abandon(t);        /* kill -9: appended, position file not written */
    cr_assert_eq(access(path_pos, F_OK), -1);
    write_lines(path_log, 1024, 1100);
    t = open_tail(log, &o);
    poll_until(t, 1100);          /* it re-reads from the start of the file */
    tail_input_close(t);
    records ev = read_topic(log, "web.raw", 3);
    uids_exactly_once(&ev, 0, 1100);
    records_free(&ev);
    sl_log_close(log);
}

Test(tail, an_announced_short_batch_is_cut_the_same_after_a_crash)
{
    sl_log *log = open_log();
    tail_options o = options();
    o.pos_interval_us = 3600000000LL;
    write_lines(path_log, 0, 7);  /* a short batch: the file ends */
    tail_input *t = open_tail(log, &o);
    poll_until(t, 7);
    tail_input_abandon(t);
    /* More lines arrive: a re-read without the announcement would cut
       [0, 12) and store lines 0-6 twice. */
    write_lines(path_log, 7, 12);
    tail_pos_entry *d;
    size_t n;
    char err[128];
    cr_assert_eq(tail_pos_read(path_pos, &d, &n, err, sizeof err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(d[0].offset, 0);
    cr_assert_gt(d[0].pending, 0, "the short batch was not announced");
    tail_pos_free(d, n);
    t = open_tail(log, &o);
    poll_until(t, 12);
    tail_input_close(t);
    records ev = read_topic(log, "web.raw", 3);
    uids_exactly_once(&ev, 0, 12);
    records_free(&ev);
    sl_log_close(log);
}

Test(tail, a_rotation_while_down_is_found_by_inode)
{
    sl_log *log = open_log();
    tail_options o = options();
    write_lines(path_log, 0, 40);
    tail_input *t = open_tail(log, &o);
    poll_until(t, 40);
    tail_input_close(t);
    /* While sluice is down: more lines, rename, a new file. */
    write_lines(path_log, 40, 60);
    char rotated[160];
    snprintf(rotated, sizeof rotated, "%s.1", path_log);
    cr_assert_eq(rename(path_log, rotated), 0);
    write_lines(path_log, 60, 70);
    t = open_tail(log, &o);
    poll_until(t, 30);
    tail_input_close(t);
    records ev = read_topic(log, "web.raw", 3);
    uids_exactly_once(&ev, 0, 70);
    records_free(&ev);
    sl_log_close(log);
}

Test(tail, a_copytruncate_while_down_reads_the_copy)
{
    sl_log *log = open_log();
    tail_options o = options();
    write_lines(path_log, 0, 40);
    tail_input *t = open_tail(log, &o);
    poll_until(t, 40);
    tail_input_close(t);
    write_lines(path_log, 40, 60);
    char copy[160];
    snprintf(copy, sizeof copy, "%s.1", path_log);
    copy_file(path_log, copy);
    cr_assert_eq(truncate(path_log, 0), 0);
    write_lines(path_log, 60, 65);
    t = open_tail(log, &o);
    poll_until(t, 25);
    tail_input_close(t);
    records ev = read_topic(log, "web.raw", 3);
    uids_exactly_once(&ev, 0, 65);
    records_free(&ev);
    sl_log_close(log);
}

Test(tail, read_from_head_false_skips_what_was_there_at_the_first_start)
{
    sl_log *log = open_log();
    tail_options o = options();
    o.read_from_head = false;
    write_lines(path_log, 0, 10);
    tail_input *t = open_tail(log, &o);
    poll_for(t, 50);
    write_lines(path_log, 10, 15);
    poll_until(t, 5);
    tail_input_close(t);
    records ev = read_topic(log, "web.raw", 3);
    uids_exactly_once(&ev, 10, 15);
    records_free(&ev);
    sl_log_close(log);
}

Test(tail, several_files_by_glob_and_a_file_created_later)
{
    sl_log *log = open_log();
    tail_options o = options();
    char glob_path[160], a[160], b[160];
    snprintf(glob_path, sizeof glob_path, "%s/*.access.log", dir);
    snprintf(a, sizeof a, "%s/a.access.log", dir);
    snprintf(b, sizeof b, "%s/b.access.log", dir);
    paths[0] = glob_path;
    write_lines(a, 0, 30);
    tail_input *t = open_tail(log, &o);
    poll_until(t, 30);
    write_lines(b, 30, 50);       /* appears after the start: read whole */
    write_lines(a, 50, 60);
    poll_until(t, 60);
    tail_stats st;
    tail_input_stats(t, &st);
    cr_assert_eq(st.files, 2);
    tail_input_close(t);
    records ev = read_topic(log, "web.raw", 3);
    uids_exactly_once(&ev, 0, 60);
    records_free(&ev);
    sl_log_close(log);
}

Test(tail, workers_keep_a_members_events_in_order)
{
    sl_log *log = open_log();
    tail_options o = options();
    o.batch_lines = 50;
    o.workers = 3;
    write_lines(path_log, 0, 5000);
    tail_input *t = open_tail(log, &o);
    poll_until(t, 5000);
    tail_input_close(t);
    /* Within each partition, a member's uids ascend. */
    for (int p = 0; p < 3; p++) {
        int last[17];
        for (int k = 0; k < 17; k++)
            last[k] = -1;
        int64_t off = 0, start, end;
        sl_log_offsets(log, "web.raw", p, &start, &end);
        while (off < end) {
            sl_fetch f = { 0 };
            cr_assert_eq(sl_log_read(log, "web.raw", p, off, 1000, 1 << 24, 0, &f), 0);
            for (size_t i = 0; i < f.n; i++) {
                const char *v = f.msgs[i].value.ptr;
                int member = atoi(strstr(v, "\"memberId\":\"") + 12) - 100000;
                int uid = atoi(strstr(v, "\"uid\":\"u") + 8);
                cr_assert_gt(uid, last[member], "member %d: u%d after u%d", member, uid,
                             last[member]);
                last[member] = uid;
            }
            off = f.next_offset;
            sl_fetch_release(&f);
        }
    }
    records ev = read_topic(log, "web.raw", 3);
    uids_exactly_once(&ev, 0, 5000);
    records_free(&ev);
    sl_log_close(log);
}

/* A log in its own directory under dir (open_log's is "data"). */
static sl_log *open_log_in(const char *sub)
{
    static sl_topic_spec both[] = {
        { .name = "web.raw", .partitions = 3, .segment_bytes = 8 << 20 },
        { .name = SL_DLQ_TOPIC, .partitions = 1, .segment_bytes = 8 << 20 },
    };
    char logdir[160];
    snprintf(logdir, sizeof logdir, "%s/%s", dir, sub);
    mkdir(logdir, 0755);
    sl_log_options o = { .data_dir = logdir, .fsync = SL_FSYNC_GROUP, .topics = both,
                         .ntopics = 2, .max_pending_bytes = 64 << 20 };
    sl_log *log = NULL;
    cr_assert_eq(sl_log_open(&o, &log), 0);
    return log;
}

Test(tail, workers_appending_give_the_log_the_tail_thread_gives)
{
    /* Many small batches (far more than the spares kept, so batch memory is
       reused many times over), lines for _dlq among them: converted and
       appended by the tail thread alone, then by three workers taking
       turns at appending. Every partition must hold the same events in
       the same order. */
    sl_buf b = SL_BUF_INIT;
    char l[512];
    for (int i = 0; i < 6000; i++) {
        line(l, sizeof l, 5 + i % 3, i, NULL);
        sl_buf_append_str(&b, l);
        if (i % 97 == 0)
            sl_buf_append_str(&b, i % 2 ? "not a combined line\n" : "1.2.3.4 - - [18/Jun/2025:"
                              "12:50:00 +0900] \"GET /5?e_n=%G1 HTTP/1.1\" 200 43 \"-\" \"-\"\n");
    }
    append_text(path_log, b.data);
    sl_buf_free(&b);
    const size_t lines = 6000 + 6000 / 97 + 1;
    records got[2];
    uint64_t rejected[2];
    for (int run = 0; run < 2; run++) {
        char sub[16], pos[160];
        snprintf(sub, sizeof sub, "data%d", run);
        snprintf(pos, sizeof pos, "%s/pos/tail%d.pos", dir, run);
        sl_log *log = open_log_in(sub);
        tail_options o = options();
        o.pos_file = pos;
        o.batch_lines = 37;
        o.workers = run == 0 ? 0 : 3;
        tail_input *t = open_tail(log, &o);
        poll_until(t, lines);
        tail_stats st;
        tail_input_stats(t, &st);
        rejected[run] = st.rejected;
        tail_input_close(t);
        got[run] = read_topic(log, "web.raw", 3);
        sl_log_close(log);
    }
    cr_assert_eq(rejected[0], 6000 / 97 + 1);
    cr_assert_eq(rejected[1], rejected[0]);
    cr_assert_eq(got[0].n, 6000);
    cr_assert_eq(got[1].n, got[0].n);
    for (size_t i = 0; i < got[0].n; i++)
        cr_assert_str_eq(got[1].v[i], got[0].v[i], "record %zu", i);
    records_free(&got[0]);
    records_free(&got[1]);
}
