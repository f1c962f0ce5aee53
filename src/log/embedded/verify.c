/*
 * verify.c - `sluice log verify`: check a log directory batch by batch
 * without opening it for writing (a server may be running on it).
 *
 * For every partition it scans each segment with full decoding (length,
 * magic, CRC, every record, zstd frames), checks that base offsets are
 * contiguous within and across segments, and checks every entry of the
 * offset and time indexes against what the scan found. It does not repair
 * anything: opening the log for writing does (recovery in partition.c).
 */
#include "log/embedded/embedded_int.h"

#include "core/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct loc_list {
    log_batch_loc *v;
    size_t n, cap;
    int64_t running_max;
} loc_list;

static int loc_collect(void *arg, const log_batch_header *h, int64_t pos, const uint8_t *batch)
{
    (void)batch;
    loc_list *l = arg;
    if (h->max_ts_us > l->running_max)
        l->running_max = h->max_ts_us;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = sl_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (log_batch_loc){ h->base_offset, pos, l->running_max };
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* True when another process holds the log's writer lock. */
static bool writer_running(const char *log_dir)
{
    char *path = sl_asprintf("%s/.lock", log_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return false;
    bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

static void verify_partition(const char *dir, const char *label, bool writer,
                             sl_buf *report, sl_log_verify_stats *st)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    int64_t *bases = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t base;
        if (log_segment_parse_name(e->d_name, ".log", &base) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            bases = sl_realloc(bases, cap * sizeof *bases);
        }
        bases[n++] = base;
    }
    closedir(d);
    if (n)
        qsort(bases, n, sizeof *bases, cmp_i64);

    int64_t expected = n ? bases[0] : 0;
    for (size_t i = 0; i < n; i++) {
        bool last = i + 1 == n;
        char path[4096];
        log_segment_path(path, sizeof path, dir, bases[i], ".log");
        st->segments++;
        if (bases[i] != expected) {
            sl_buf_printf(report, "%s: %020" PRId64 ".log starts at offset %" PRId64
                          " but the previous segment ends at %" PRId64 "\n",
                          label, bases[i], bases[i], expected);
            st->problems++;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0) {
            sl_buf_printf(report, "%s: %s: %s\n", label, path, strerror(errno));
            st->problems++;
            if (fd >= 0)
                close(fd);
            continue;
        }
        loc_list locs = { .running_max = INT64_MIN };
        log_scan sc;
        int rc = log_segment_scan(fd, 0, sb.st_size, bases[i], LOG_SCAN_DECODE, loc_collect,
                                  &locs, &sc);
        close(fd);
        if (rc) {
            sl_buf_printf(report, "%s: %020" PRId64 ".log: %s\n", label, bases[i],
                          sl_strerror(rc));
            st->problems++;
        }
        st->batches += sc.batches;
        st->records += sc.records;
        st->bytes += sc.valid_bytes;
        if (!rc && sc.stop != LOG_BATCH_OK) {
            bool in_progress = last && writer && sc.stop == LOG_BATCH_TORN;
            if (!in_progress) {
                sl_buf_printf(report, "%s: %020" PRId64 ".log: %s at position %" PRId64
                              " (offset %" PRId64 "); %" PRId64 " bytes after it are unreadable\n",
                              label, bases[i], log_batch_status_name(sc.stop), sc.valid_bytes,
                              sc.next_offset, (int64_t)sb.st_size - sc.valid_bytes);
                st->problems++;
            }
        }
        if (!(last && writer)) /* a running writer rewrites its active index */
            st->problems += log_index_verify(dir, bases[i], locs.v, locs.n, label, report);
        free(locs.v);
        expected = sc.next_offset;
    }
    free(bases);
}

int sl_log_embedded_verify(const char *data_dir, sl_buf *report, sl_log_verify_stats *stats)
{
    sl_log_verify_stats st = { 0 };
    char *log_dir = sl_asprintf("%s/log", data_dir);
    int rc = 0;
    DIR *d = opendir(log_dir);
    if (!d) {
        rc = -errno;
        goto out;
    }
    bool writer = writer_running(log_dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "_groups") == 0)
            continue;
        char *tdir = sl_asprintf("%s/%s", log_dir, e->d_name);
        DIR *td = opendir(tdir);
        if (!td) {
            free(tdir);
            continue;
        }
        st.topics++;
        struct dirent *pe;
        while ((pe = readdir(td))) {
            char *endp;
            long id = strtol(pe->d_name, &endp, 10);
            if (*endp || endp == pe->d_name || id < 0)
                continue;
            char *pdir = sl_asprintf("%s/%s", tdir, pe->d_name);
            char *label = sl_asprintf("%s/%ld", e->d_name, id);
            st.partitions++;
            verify_partition(pdir, label, writer, report, &st);
            free(label);
            free(pdir);
        }
        closedir(td);
        free(tdir);
    }
    closedir(d);
out:
    free(log_dir);
    if (stats)
        *stats = st;
    return rc;
}
