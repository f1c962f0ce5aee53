/*
 * fuzz_segment.c - libFuzzer target for the embedded log's segment reader.
 *
 * The input is taken as the bytes of a segment file and goes through every
 * path that reads one:
 *
 *   1. the recovery scan (length, magic, CRC, contiguity) that rebuilds the
 *      sparse index, then an index lookup for every offset it found;
 *   2. the verify scan, which also decompresses and decodes every record;
 *   3. a real open of a log directory holding the file as partition f/0
 *      (recovery truncates what is invalid), a read of every record through
 *      sl_log_read, and a read-only open of the repaired directory.
 *
 * What must hold: scans never claim more bytes than the file has; the
 * decoding scan accepts no more than the plain one; recovery leaves exactly
 * the valid prefix; reads return exactly the records the scan counted, in
 * dense offsets, with keys and values inside the fetch. Results feed a
 * volatile sink so the optimiser keeps every parser call.
 */
#include "core/logging.h"
#include "core/metrics.h"
#include "log/embedded/embedded.h"
#include "log/embedded/index.h"
#include "log/embedded/segment.h"
#include "log/log.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile uint64_t sink;
static char dir[64];
static char seg_path[256];

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            fprintf(stderr, "check failed: " __VA_ARGS__); \
            fputc('\n', stderr);                          \
            abort();                                      \
        }                                                 \
    } while (0)

static int note(void *arg, const log_batch_header *h, int64_t pos, const uint8_t *batch)
{
    log_index *ix = arg;
    log_index_note_batch(ix, 0, h, pos);
    sink += batch[h->length - 1];
    return 0;
}

static void write_all(int fd, const uint8_t *data, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t k = write(fd, data + done, size - done);
        if (k <= 0)
            abort();
        done += (size_t)k;
    }
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    sl_log_set_level(SL_LOG_OFF);
    /* tmpfs when there is one: recovery fsyncs, and that is not what is fuzzed. */
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/sluice-fuzz-segment-%d", base, (int)getpid());
    char p[256];
    snprintf(p, sizeof p, "%s/log/f/0", dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", p);
    if (system(cmd) != 0)
        abort();
    snprintf(seg_path, sizeof seg_path, "%s/00000000000000000000.log", p);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 1 and 2: the scanners over an in-memory file. */
    int fd = memfd_create("segment", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    write_all(fd, data, size);

    log_index ix;
    log_index_init(&ix);
    log_scan plain, decoded;
    CHECK(log_segment_scan(fd, 0, (int64_t)size, 0, 0, note, &ix, &plain) == 0, "scan I/O");
    CHECK(plain.valid_bytes >= 0 && plain.valid_bytes <= (int64_t)size, "valid bytes in range");
    CHECK(plain.stop != LOG_BATCH_OK || plain.valid_bytes == (int64_t)size, "clean end");
    CHECK(plain.records == plain.next_offset, "dense offsets");
    for (int64_t off = 0; off < plain.next_offset && off < 4096; off++) {
        int64_t pos = log_index_lookup(&ix, 0, off);
        CHECK(pos >= 0 && pos < plain.valid_bytes, "index points inside");
        sink += (uint64_t)pos;
    }
    CHECK(log_segment_scan(fd, 0, (int64_t)size, 0, LOG_SCAN_DECODE, NULL, NULL, &decoded) == 0,
          "decode scan I/O");
    CHECK(decoded.valid_bytes <= plain.valid_bytes, "decoding is stricter");
    sink += (uint64_t)decoded.records + (uint64_t)decoded.stop;
    log_index_free(&ix);
    close(fd);

    /* 3: recovery and reads through the public API. */
    char p[300];
    snprintf(p, sizeof p, "%s/log/f/0/00000000000000000000.index", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/log/f/0/00000000000000000000.timeindex", dir);
    unlink(p);
    fd = open(seg_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        abort();
    write_all(fd, data, size);
    close(fd);

    sl_topic_spec t = { .name = "f", .partitions = 1 };
    sl_log_options o = { .data_dir = dir, .fsync = SL_FSYNC_OS, .topics = &t, .ntopics = 1 };
    sl_log *log;
    CHECK(sl_log_open(&o, &log) == 0, "open");
    struct stat st;
    CHECK(stat(seg_path, &st) == 0 && st.st_size == plain.valid_bytes, "recovery keeps the prefix");
    int64_t start, end, off = 0, got = 0;
    CHECK(sl_log_offsets(log, "f", 0, &start, &end) == 0 && end == plain.next_offset, "end");
    while (off < end) {
        sl_fetch f;
        int rc = sl_log_read(log, "f", 0, off, 1 + (size_t)(size % 50), 1 << 16, 0, &f);
        if (rc == SL_ERR_CORRUPT)
            break; /* CRC-valid batch whose records do not decode */
        CHECK(rc == 0 && f.n > 0, "read at %lld: %d", (long long)off, rc);
        for (size_t i = 0; i < f.n; i++) {
            CHECK(f.msgs[i].offset == off + (int64_t)i, "dense read");
            if (f.msgs[i].key.len)
                sink += (uint8_t)f.msgs[i].key.ptr[f.msgs[i].key.len - 1];
            if (f.msgs[i].value.len)
                sink += (uint8_t)f.msgs[i].value.ptr[f.msgs[i].value.len - 1];
            sink += (uint64_t)f.msgs[i].ts_us;
        }
        off = f.next_offset;
        got += (int64_t)f.n;
        sl_fetch_release(&f);
    }
    CHECK(decoded.stop != LOG_BATCH_OK || decoded.valid_bytes != plain.valid_bytes ||
              got == plain.records,
          "every record read");
    sl_log_close(log);

    o.read_only = true;
    o.topics = NULL;
    o.ntopics = 0;
    CHECK(sl_log_open(&o, &log) == 0, "read-only open");
    CHECK(sl_log_offsets(log, "f", 0, &start, &end) == 0 && end == plain.next_offset, "ro end");
    sl_log_close(log);
    sl_metrics_reset();
    return 0;
}
