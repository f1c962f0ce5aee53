/*
 * test_log_segment.c - the embedded log's on-disk pieces in isolation:
 * batch encoding and decoding (plain and zstd), header checks, the segment
 * scanner on cut and corrupted files, and the sparse index.
 */
#include "log/embedded/index.h"
#include "log/embedded/segment.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sl_record recs[5];
static uint32_t idx[5] = { 0, 1, 2, 3, 4 };

static void fill_records(void)
{
    static char big[3000];
    memset(big, 'x', sizeof big);
    recs[0] = (sl_record){ SL_VIEW_LIT("api-gateway"), SL_VIEW_LIT("{\"a\":1}"), 1700000000000000, 0 };
    recs[1] = (sl_record){ SL_VIEW_NULL, SL_VIEW_LIT("{\"b\":2}"), 1699999999000000, 0 };
    recs[2] = (sl_record){ SL_VIEW_LIT("k"), SL_VIEW_NULL, INT64_MIN / 4, 0 };
    recs[3] = (sl_record){ SL_VIEW_NULL, (sl_view){ big, sizeof big }, INT64_MAX / 4, 0 };
    recs[4] = (sl_record){ SL_VIEW_LIT("last"), SL_VIEW_LIT("v"), 1700000000000001, 0 };
}

static void check_round_trip(bool compress)
{
    fill_records();
    sl_buf b = SL_BUF_INIT, scratch = SL_BUF_INIT, plain = SL_BUF_INIT;
    ZSTD_CCtx *cctx = compress ? ZSTD_createCCtx() : NULL;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    sl_buf_append(&b, "junk", 4); /* a batch need not start at 0 */
    int64_t len = log_batch_encode(&b, recs, idx, 5, SL_VIEW_NULL, cctx, &scratch);
    cr_assert_gt(len, LOG_BATCH_HEADER_SIZE);
    cr_assert_eq((size_t)len + 4, b.len);
    uint8_t *batch = (uint8_t *)b.data + 4;
    log_batch_set_base_offset(batch, 1000);

    log_batch_header h;
    cr_assert_eq(log_batch_header_parse(batch, (size_t)len, &h), LOG_BATCH_OK);
    cr_assert_eq(h.base_offset, 1000);
    cr_assert_eq(h.length, (uint32_t)len);
    cr_assert_eq(h.record_count, 5);
    cr_assert_eq(h.first_ts_us, recs[0].ts_us);
    cr_assert_eq(h.max_ts_us, INT64_MAX / 4);
    cr_assert_eq(!!(h.attributes & LOG_BATCH_ATTR_ZSTD), compress);
    if (compress)
        cr_assert_lt(len, 3000, "the 3000 x's compress");
    cr_assert_eq(log_batch_check_crc(batch, &h), LOG_BATCH_OK);

    const uint8_t *rec;
    cr_assert_eq(log_batch_records(batch, &h, dctx, &plain, &rec), LOG_BATCH_OK);
    sl_message msgs[5];
    size_t n;
    cr_assert_eq(log_records_decode(rec, &h, 7, 0, msgs, 5, &n), LOG_BATCH_OK);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(msgs[i].offset, 1000 + (int64_t)i);
        cr_assert_eq(msgs[i].partition, 7);
        cr_assert_eq(msgs[i].ts_us, recs[i].ts_us);
        cr_assert(sl_view_eq(msgs[i].key, recs[i].key));
        cr_assert(sl_view_eq(msgs[i].value, recs[i].value));
        cr_assert_eq(msgs[i].key.ptr == NULL, recs[i].key.len == 0);
    }
    /* From the middle, and bounded. */
    cr_assert_eq(log_records_decode(rec, &h, 7, 1002, msgs, 2, &n), LOG_BATCH_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(msgs[0].offset, 1002);
    cr_assert_eq(msgs[1].offset, 1003);

    /* Any flipped bit after the CRC field is caught. */
    for (size_t at = 20; at < (size_t)len; at += 7) {
        batch[at] ^= 0x10;
        log_batch_status st = log_batch_header_parse(batch, (size_t)len, &h);
        if (st == LOG_BATCH_OK)
            st = log_batch_check_crc(batch, &h);
        cr_assert_neq(st, LOG_BATCH_OK, "flip at %zu", at);
        batch[at] ^= 0x10;
    }
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
    sl_buf_free(&b);
    sl_buf_free(&scratch);
    sl_buf_free(&plain);
}

Test(segment, batch_round_trip_plain)
{
    check_round_trip(false);
}

Test(segment, batch_round_trip_zstd)
{
    check_round_trip(true);
}

Test(segment, header_rejects)
{
    fill_records();
    sl_buf b = SL_BUF_INIT;
    int64_t len = log_batch_encode(&b, recs, idx, 2, SL_VIEW_NULL, NULL, NULL);
    log_batch_header h;
    cr_assert_eq(log_batch_header_parse((uint8_t *)b.data, 47, &h), LOG_BATCH_TORN);
    b.data[12] = 'X';
    cr_assert_eq(log_batch_header_parse((uint8_t *)b.data, (size_t)len, &h), LOG_BATCH_BAD_MAGIC);
    b.data[12] = 'S';
    b.data[8] = 3, b.data[9] = b.data[10] = b.data[11] = 0; /* length 3 */
    cr_assert_eq(log_batch_header_parse((uint8_t *)b.data, (size_t)len, &h), LOG_BATCH_BAD_LENGTH);
    sl_buf_free(&b);
}

Test(segment, names)
{
    char path[128];
    int64_t base;
    log_segment_path(path, sizeof path, "/d", 4567, ".log");
    cr_assert_str_eq(path, "/d/00000000000000004567.log");
    cr_assert_eq(log_segment_parse_name("00000000000000004567.log", ".log", &base), 0);
    cr_assert_eq(base, 4567);
    cr_assert_neq(log_segment_parse_name("00000000000000004567.index", ".log", &base), 0);
    cr_assert_neq(log_segment_parse_name("0000000000000000456x.log", ".log", &base), 0);
    cr_assert_neq(log_segment_parse_name("4567.log", ".log", &base), 0);
}

/* Write 3 batches of 2 records to a temporary file; returns its fd. */
static int segment_file(int64_t *sizes)
{
    fill_records();
    char path[] = "/tmp/sluice-seg-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    sl_buf b = SL_BUF_INIT;
    for (int i = 0; i < 3; i++) {
        size_t at = b.len;
        int64_t len = log_batch_encode(&b, recs, idx + i, 2, SL_VIEW_NULL, NULL, NULL);
        log_batch_set_base_offset(b.data + at, 10 + 2 * i);
        sizes[i] = len;
    }
    cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
    sl_buf_free(&b);
    return fd;
}

static int count_batches(void *arg, const log_batch_header *h, int64_t pos, const uint8_t *batch)
{
    (void)h, (void)pos, (void)batch;
    (*(int *)arg)++;
    return 0;
}

Test(segment, scan_stops_at_torn_and_corrupt_tails)
{
    int64_t sizes[3];
    int fd = segment_file(sizes);
    int64_t total = sizes[0] + sizes[1] + sizes[2];
    log_scan sc;
    int calls = 0;
    cr_assert_eq(log_segment_scan(fd, 0, total, 10, LOG_SCAN_DECODE, count_batches, &calls, &sc), 0);
    cr_assert_eq(sc.stop, LOG_BATCH_OK);
    cr_assert_eq(calls, 3);
    cr_assert_eq(sc.batches, 3);
    cr_assert_eq(sc.records, 6);
    cr_assert_eq(sc.next_offset, 16);
    cr_assert_eq(sc.valid_bytes, total);

    /* Cut inside the last batch. */
    cr_assert_eq(log_segment_scan(fd, 0, total - 5, 10, 0, NULL, NULL, &sc), 0);
    cr_assert_eq(sc.stop, LOG_BATCH_TORN);
    cr_assert_eq(sc.valid_bytes, sizes[0] + sizes[1]);
    cr_assert_eq(sc.next_offset, 14);
    /* Cut inside a header. */
    cr_assert_eq(log_segment_scan(fd, 0, sizes[0] + 10, 10, 0, NULL, NULL, &sc), 0);
    cr_assert_eq(sc.stop, LOG_BATCH_TORN);
    cr_assert_eq(sc.valid_bytes, sizes[0]);
    /* Wrong expected offset. */
    cr_assert_eq(log_segment_scan(fd, 0, total, 9, 0, NULL, NULL, &sc), 0);
    cr_assert_eq(sc.stop, LOG_BATCH_BAD_OFFSET);
    cr_assert_eq(sc.valid_bytes, 0);
    /* A flipped byte in the second batch's records. */
    uint8_t c;
    int64_t at = sizes[0] + LOG_BATCH_HEADER_SIZE + 3;
    cr_assert_eq(pread(fd, &c, 1, at), 1);
    c ^= 0xFF;
    cr_assert_eq(pwrite(fd, &c, 1, at), 1);
    cr_assert_eq(log_segment_scan(fd, 0, total, 10, 0, NULL, NULL, &sc), 0);
    cr_assert_eq(sc.stop, LOG_BATCH_BAD_CRC);
    cr_assert_eq(sc.valid_bytes, sizes[0]);
    cr_assert_eq(sc.next_offset, 12);
    close(fd);
}

Test(segment, sparse_index_lookup)
{
    log_index ix;
    log_index_init(&ix);
    int64_t pos = 0;
    for (int i = 0; i < 100; i++) {
        log_batch_header h = { .base_offset = 1000 + i * 10, .length = 1000, .record_count = 10,
                               .max_ts_us = i * 5 };
        log_index_note_batch(&ix, 1000, &h, pos);
        pos += 1000;
    }
    cr_assert_eq(ix.n, 20, "one entry per ~4 KiB: %zu", ix.n);
    cr_assert_eq(ix.max_ts_us, 99 * 5);
    cr_assert_eq(log_index_lookup(&ix, 1000, 1000), 0);
    for (int64_t off = 1000; off < 2000; off += 7) {
        int64_t p = log_index_lookup(&ix, 1000, off);
        int64_t batch_pos = (off - 1000) / 10 * 1000;
        cr_assert_leq(p, batch_pos);
        cr_assert_lt(batch_pos - p, 5 * 1000, "at most ~4 KiB to walk");
    }
    log_index_free(&ix);
}

/* The producer key a scan callback sees. */
static int note_key(void *arg, const log_batch_header *h, int64_t pos, const uint8_t *batch)
{
    (void)pos;
    sl_view key;
    if (log_batch_producer_key(batch, h, &key))
        snprintf(arg, 64, "%.*s", (int)key.len, key.ptr);
    return 0;
}

/*
 * Batches of about 1 MiB, longer than the scanner's piece: a scan that
 * only checks reads them in pieces, and still finds a flipped byte deep
 * inside one, a cut in one, and hands its callback the producer key.
 */
Test(segment, scan_checks_big_batches_in_pieces)
{
    enum { N = 1200, SIZE = 1000 };
    static char value[SIZE];
    static sl_record big[N];
    static uint32_t order[N];
    memset(value, 'v', sizeof value);
    for (int i = 0; i < N; i++) {
        big[i] = (sl_record){ SL_VIEW_NULL, { value, SIZE }, 1700000000000000 + i, 0 };
        order[i] = (uint32_t)i;
    }
    char path[] = "/tmp/sluice-seg-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    sl_buf b = SL_BUF_INIT;
    int64_t sizes[2];
    for (int i = 0; i < 2; i++) {
        size_t at = b.len;
        sizes[i] = log_batch_encode(&b, big, order, N, i ? SL_VIEW_LIT("idem-key-2") : SL_VIEW_NULL,
                                    NULL, NULL);
        cr_assert_gt(sizes[i], 1 << 20);
        log_batch_set_base_offset(b.data + at, (int64_t)i * N);
    }
    cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
    int64_t total = sizes[0] + sizes[1];
    log_scan sc;
    char key[64] = "";
    cr_assert_eq(log_segment_scan(fd, 0, total, 0, 0, note_key, key, &sc), 0);
    cr_assert_eq(sc.stop, LOG_BATCH_OK);
    cr_assert_eq(sc.batches, 2);
    cr_assert_eq(sc.valid_bytes, total);
    cr_assert_str_eq(key, "idem-key-2");
    /* Cut inside the second batch, past its first piece. */
    cr_assert_eq(log_segment_scan(fd, 0, total - 1000, 0, 0, NULL, NULL, &sc), 0);
    cr_assert_eq(sc.stop, LOG_BATCH_TORN);
    cr_assert_eq(sc.valid_bytes, sizes[0]);
    /* A byte flipped in the first batch's fourth piece. */
    uint8_t c;
    int64_t at = 3 * (256 << 10) + 17;
    cr_assert_eq(pread(fd, &c, 1, at), 1);
    c ^= 0x01;
    cr_assert_eq(pwrite(fd, &c, 1, at), 1);
    cr_assert_eq(log_segment_scan(fd, 0, total, 0, 0, NULL, NULL, &sc), 0);
    cr_assert_eq(sc.stop, LOG_BATCH_BAD_CRC);
    cr_assert_eq(sc.valid_bytes, 0);
    /* The decoding scan reads whole batches and agrees. */
    cr_assert_eq(log_segment_scan(fd, 0, total, 0, LOG_SCAN_DECODE, NULL, NULL, &sc), 0);
    cr_assert_eq(sc.stop, LOG_BATCH_BAD_CRC);
    sl_buf_free(&b);
    close(fd);
}
