/*
 * index.c - sparse offset and time indexes of a segment (see index.h).
 *
 * Both files are flat arrays of fixed-size little-endian entries, sorted,
 * with no header (a cut file is a shorter valid index):
 *
 *   <base>.index       one entry per ~4 KiB of batches, the first at 0
 *   +--------------+--------------+--------------+--------------+---
 *   | rel_offset 0 | position 0   | rel_offset   | position     | ...
 *   | u32          | u32          | u32          | u32          |
 *   +--------------+--------------+--------------+--------------+---
 *     rel_offset = base offset of a batch - segment base (strictly rising)
 *     position   = where that batch starts in <base>.log (strictly rising)
 *
 *   <base>.timeindex   an entry when the max timestamp grows at an index point,
 *   +------------------------------+--------------+---  and a last one for
 *   | ts_us  i64                   | rel_offset   | ...  the segment's max
 *   +------------------------------+--------------+---  when it is closed
 *     ts_us      = largest record timestamp up to and including that batch
 *     rel_offset = base offset of that batch - segment base
 *
 * Positions are u32, which is why a segment is at most 2 GiB.
 */
#include "log/embedded/index.h"

#include "core/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OFFSET_ENTRY_SIZE 8
#define TIME_ENTRY_SIZE   12

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void log_index_init(log_index *ix)
{
    memset(ix, 0, sizeof *ix);
    ix->max_ts_us = INT64_MIN;
}

void log_index_free(log_index *ix)
{
    free(ix->entries);
    free(ix->times);
    log_index_init(ix);
}

static void time_entry_add(log_index *ix, int64_t ts, uint32_t rel)
{
    if (ix->nt && (ix->times[ix->nt - 1].ts_us >= ts || ix->times[ix->nt - 1].rel_offset >= rel))
        return;
    if (ix->nt == ix->tcap) {
        ix->tcap = ix->tcap ? ix->tcap * 2 : 16;
        ix->times = sl_realloc(ix->times, ix->tcap * sizeof *ix->times);
    }
    ix->times[ix->nt++] = (log_time_entry){ ts, rel };
}

void log_index_note_batch(log_index *ix, int64_t base, const log_batch_header *h, int64_t pos)
{
    uint32_t rel = (uint32_t)(h->base_offset - base);
    if (h->max_ts_us > ix->max_ts_us)
        ix->max_ts_us = h->max_ts_us;
    if (ix->n == 0 || ix->bytes_since >= LOG_INDEX_INTERVAL) {
        if (ix->n == ix->cap) {
            ix->cap = ix->cap ? ix->cap * 2 : 16;
            ix->entries = sl_realloc(ix->entries, ix->cap * sizeof *ix->entries);
        }
        ix->entries[ix->n++] = (log_index_entry){ rel, (uint32_t)pos };
        ix->bytes_since = 0;
        time_entry_add(ix, ix->max_ts_us, rel);
    }
    ix->bytes_since += h->length;
}

int64_t log_index_lookup(const log_index *ix, int64_t base, int64_t offset)
{
    if (ix->n == 0 || offset < base)
        return 0;
    uint64_t rel = (uint64_t)(offset - base);
    size_t lo = 0, hi = ix->n; /* first entry with rel_offset > rel */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->entries[mid].rel_offset <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? ix->entries[lo - 1].position : 0;
}

static int write_file(const char *path, const uint8_t *data, size_t n, bool sync)
{
    int rc = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(fd, data + done, n - done);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        done += (size_t)k;
    }
    if (sync && fdatasync(fd) != 0)
        rc = -errno;
out:
    close(fd);
    return rc;
}

int log_index_write(log_index *ix, const char *dir, int64_t base, int64_t last_batch_base,
                    bool sync)
{
    char path[4096];
    int rc;
    uint8_t *buf;

    if (ix->n && ix->max_ts_us != INT64_MIN)
        time_entry_add(ix, ix->max_ts_us, (uint32_t)(last_batch_base - base));

    size_t n = ix->n * OFFSET_ENTRY_SIZE, nt = ix->nt * TIME_ENTRY_SIZE;
    buf = sl_malloc((n > nt ? n : nt) + 1);
    for (size_t i = 0; i < ix->n; i++) {
        put_u32(buf + i * OFFSET_ENTRY_SIZE, ix->entries[i].rel_offset);
        put_u32(buf + i * OFFSET_ENTRY_SIZE + 4, ix->entries[i].position);
    }
    log_segment_path(path, sizeof path, dir, base, ".index");
    rc = write_file(path, buf, n, sync);
    if (rc)
        goto out;
    for (size_t i = 0; i < ix->nt; i++) {
        uint8_t *p = buf + i * TIME_ENTRY_SIZE;
        uint64_t ts = (uint64_t)ix->times[i].ts_us;
        put_u32(p, (uint32_t)ts);
        put_u32(p + 4, (uint32_t)(ts >> 32));
        put_u32(p + 8, ix->times[i].rel_offset);
    }
    log_segment_path(path, sizeof path, dir, base, ".timeindex");
    rc = write_file(path, buf, nt, sync);
out:
    free(buf);
    return rc;
}

/* Read a whole (small) file; -ENOENT when it is missing. */
static int read_file(const char *path, uint8_t **out, size_t *n)
{
    int rc = 0;
    uint8_t *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    buf = sl_malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t k = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = k < 0 ? -errno : SL_ERR_CORRUPT;
            goto out;
        }
        got += (size_t)k;
    }
    *out = buf;
    *n = got;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

static int read_header_at(int fd, int64_t pos, log_batch_header *h)
{
    uint8_t hb[LOG_BATCH_HEADER_SIZE];
    ssize_t k = pread(fd, hb, sizeof hb, pos);
    if (k < 0)
        return -errno;
    return log_batch_header_parse(hb, (size_t)k, h) == LOG_BATCH_OK ? 0 : SL_ERR_CORRUPT;
}

int log_index_load(log_index *ix, const char *dir, int64_t base, int fd, int64_t size,
                   int64_t *end_offset)
{
    char path[4096];
    uint8_t *raw = NULL, *traw = NULL;
    size_t n = 0, nt = 0;
    int rc;

    log_index_free(ix);
    log_segment_path(path, sizeof path, dir, base, ".index");
    rc = read_file(path, &raw, &n);
    if (rc)
        goto out;
    log_segment_path(path, sizeof path, dir, base, ".timeindex");
    rc = read_file(path, &traw, &nt);
    if (rc)
        goto out;
    rc = SL_ERR_CORRUPT;
    if (n % OFFSET_ENTRY_SIZE || nt % TIME_ENTRY_SIZE || (size > 0) != (n > 0) ||
        (size > 0) != (nt > 0))
        goto out;

    ix->n = ix->cap = n / OFFSET_ENTRY_SIZE;
    ix->entries = sl_malloc((ix->cap ? ix->cap : 1) * sizeof *ix->entries);
    for (size_t i = 0; i < ix->n; i++) {
        log_index_entry e = { get_u32(raw + i * 8), get_u32(raw + i * 8 + 4) };
        if (i == 0 ? (e.rel_offset || e.position)
                   : (e.rel_offset <= ix->entries[i - 1].rel_offset ||
                      e.position <= ix->entries[i - 1].position))
            goto out;
        if ((int64_t)e.position >= size)
            goto out;
        ix->entries[i] = e;
    }
    ix->nt = ix->tcap = nt / TIME_ENTRY_SIZE;
    ix->times = sl_malloc((ix->tcap ? ix->tcap : 1) * sizeof *ix->times);
    for (size_t i = 0; i < ix->nt; i++) {
        const uint8_t *p = traw + i * TIME_ENTRY_SIZE;
        log_time_entry e = { (int64_t)((uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32),
                             get_u32(p + 8) };
        if (i && (e.ts_us <= ix->times[i - 1].ts_us ||
                  e.rel_offset <= ix->times[i - 1].rel_offset))
            goto out;
        ix->times[i] = e;
    }
    ix->max_ts_us = ix->nt ? ix->times[ix->nt - 1].ts_us : INT64_MIN;

    /* Walk the headers from the last entry to the end of the file. */
    int64_t pos = ix->n ? ix->entries[ix->n - 1].position : 0;
    int64_t next = base + (ix->n ? ix->entries[ix->n - 1].rel_offset : 0);
    int64_t bytes_since = 0;
    while (pos < size) {
        log_batch_header h;
        int k = read_header_at(fd, pos, &h);
        if (k) {
            rc = k;
            goto out;
        }
        if (h.base_offset != next || h.length > size - pos) {
            rc = SL_ERR_CORRUPT;
            goto out;
        }
        if (h.max_ts_us > ix->max_ts_us)
            ix->max_ts_us = h.max_ts_us;
        next = h.base_offset + h.record_count;
        pos += h.length;
        bytes_since += h.length;
    }
    if (ix->nt && (int64_t)ix->times[ix->nt - 1].rel_offset >= next - base)
        goto out;
    ix->bytes_since = bytes_since;
    *end_offset = next;
    rc = 0;
out:
    if (rc)
        log_index_free(ix);
    free(raw);
    free(traw);
    return rc;
}

static const log_batch_loc *loc_find(const log_batch_loc *locs, size_t n, int64_t base_offset)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (locs[mid].base_offset < base_offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && locs[lo].base_offset == base_offset ? &locs[lo] : NULL;
}

int log_index_verify(const char *dir, int64_t base, const log_batch_loc *locs, size_t n,
                     const char *label, sl_buf *report)
{
    char path[4096];
    uint8_t *raw = NULL;
    size_t len = 0;
    int problems = 0;

    static const char *const exts[] = { ".index", ".timeindex" };
    for (int f = 0; f < 2; f++) {
        size_t esize = f == 0 ? OFFSET_ENTRY_SIZE : TIME_ENTRY_SIZE;
        log_segment_path(path, sizeof path, dir, base, exts[f]);
        int rc = read_file(path, &raw, &len);
        if (rc) {
            if (n) {
                sl_buf_printf(report, "%s: %020lld%s: %s\n", label, (long long)base, exts[f],
                              sl_strerror(rc));
                problems++;
            }
            continue;
        }
        if (len % esize) {
            sl_buf_printf(report, "%s: %020lld%s: size %zu is not a multiple of %zu\n", label,
                          (long long)base, exts[f], len, esize);
            problems++;
        }
        int64_t prev_ts = INT64_MIN;
        for (size_t i = 0; i + esize <= len; i += esize) {
            const uint8_t *p = raw + i;
            int64_t rel = f == 0 ? get_u32(p) : get_u32(p + 8);
            const log_batch_loc *loc = loc_find(locs, n, base + rel);
            const char *why = NULL;
            if (!loc)
                why = "names no batch start";
            else if (f == 0 && loc->position != get_u32(p + 4))
                why = "points at the wrong position";
            else if (f == 1) {
                int64_t ts = (int64_t)((uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32);
                if (ts != loc->running_max_ts || ts < prev_ts)
                    why = "has a wrong timestamp";
                prev_ts = ts;
            }
            if (why) {
                sl_buf_printf(report, "%s: %020lld%s: entry %zu (offset %lld) %s\n", label,
                              (long long)base, exts[f], i / esize, (long long)(base + rel), why);
                problems++;
            }
        }
        free(raw);
        raw = NULL;
    }
    return problems;
}
