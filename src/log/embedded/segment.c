/*
 * segment.c - encode, check and decode record batches; scan segment files.
 *
 * A partition directory holds segments, each named by the offset of its
 * first record, with two sparse indexes beside it (index.c):
 *
 *   <data_dir>/log/<topic>/<partition>/
 *       00000000000000000000.log        batches with offsets 0 .. 4566
 *       00000000000000000000.index      offset -> file position, every ~4 KiB
 *       00000000000000000000.timeindex  max timestamp -> offset
 *       00000000000000004567.log        the active segment (appends go here)
 *       ...
 *
 * A segment file is nothing but record batches back to back; there is no
 * file header, so a file cut anywhere is a valid prefix plus a torn tail:
 *
 *   +---------+---------+---------+-- ... --+---------+
 *   | batch 0 | batch 1 | batch 2 |         | batch k |   (EOF)
 *   +---------+---------+---------+-- ... --+---------+
 *   base offsets: b, b + count0, b + count0 + count1, ...  (dense)
 *
 * One append call writes one batch per partition it touches, with a single
 * pwrite(2). A batch (all integers little-endian):
 *
 *    0               8       12      14  15  16      20      22      24
 *   +---------------+-------+-------+---+---+-------+-------+-------+
 *   | base_offset   |length | magic |ver|rsv| crc32c| attrs | rsv   |
 *   | u64           | u32   | "SL"  | 1 | 0 | u32   | u16   | u16   |
 *   +---------------+-------+-------+---+---+-------+-------+-------+
 *   24      28      32              40              48
 *   +-------+-------+---------------+---------------+----------------- -
 *   | count | rsize | first_ts_us   | max_ts_us     | records section ...
 *   | u32   | u32   | i64           | i64           | (zstd frame if attrs&1)
 *   +-------+-------+---------------+---------------+----------------- -
 *                   |<------------ covered by crc32c: bytes [20, length) -->|
 *
 *   length  whole batch, header included (48 + records section as stored)
 *   rsize   size of the records section before compression
 *   crc32c  Castagnoli, over everything after the crc field. base_offset is
 *           outside it (as in Kafka) so the batch is encoded and summed
 *           before the partition lock and only the offset is patched under
 *           it; contiguity of base offsets is what checks that field.
 *
 * The records section is count records, each:
 *
 *   +-------------+------------+---------+-------------+-----------+
 *   | ts_delta    | key_len    | key     | value_len   | value     |
 *   | zigzag vint | zigzag vint| key_len | varint      | value_len |
 *   +-------------+------------+---------+-------------+-----------+
 *   ts_delta = ts_us - first_ts_us; key_len = -1 for a keyless record.
 *   The offset of record i is base_offset + i.
 *
 * With attrs & 2 (LOG_BATCH_ATTR_PRODUCER) the batch carries the
 * idempotency key of the append that wrote it, between the header and the
 * records section (inside the CRC; producers.h says why):
 *
 *   48      49            49 + klen
 *   +-------+-------------+---------------------- -
 *   | klen  | key bytes   | records section ...
 *   | u8    | klen <= 255 |
 *   +-------+-------------+---------------------- -
 */
#include "log/embedded/segment.h"

#include "core/alloc.h"
#include "core/crc32c.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CRC_START 20

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

const char *log_batch_status_name(log_batch_status s)
{
    switch (s) {
    case LOG_BATCH_OK:          return "ok";
    case LOG_BATCH_TORN:        return "torn batch";
    case LOG_BATCH_BAD_MAGIC:   return "bad magic";
    case LOG_BATCH_BAD_LENGTH:  return "bad length";
    case LOG_BATCH_BAD_CRC:     return "crc mismatch";
    case LOG_BATCH_BAD_OFFSET:  return "offset out of sequence";
    case LOG_BATCH_BAD_RECORDS: return "bad records";
    }
    return "?";
}

/* ---- varints ----------------------------------------------------------- */

static size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Read a varint from [*p, end); false when it runs past end or 10 bytes. */
static bool varint_get(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* ---- encoding ---------------------------------------------------------- */

void log_records_encode(sl_buf *b, const sl_record *records, const uint32_t *idx, size_t n,
                        int64_t *first_ts, int64_t *max_ts)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        const sl_record *r = &records[idx[i]];
        need += LOG_RECORD_OVERHEAD + r->key.len + r->value.len;
    }
    sl_buf_reserve(b, need);
    int64_t first = n ? records[idx[0]].ts_us : 0, max = first;
    uint8_t *p = (uint8_t *)b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        const sl_record *r = &records[idx[i]];
        if (r->ts_us > max)
            max = r->ts_us;
        p += varint_put(p, zigzag((int64_t)((uint64_t)r->ts_us - (uint64_t)first)));
        if (r->key.len) {
            p += varint_put(p, zigzag((int64_t)r->key.len));
            memcpy(p, r->key.ptr, r->key.len);
            p += r->key.len;
        } else {
            p += varint_put(p, zigzag(-1));
        }
        p += varint_put(p, r->value.len);
        if (r->value.len)
            memcpy(p, r->value.ptr, r->value.len);
        p += r->value.len;
    }
    b->len = (size_t)(p - (uint8_t *)b->data);
    b->data[b->len] = '\0';
    *first_ts = first;
    *max_ts = max;
}

int64_t log_batch_encode(sl_buf *b, const sl_record *records, const uint32_t *idx, size_t n,
                         sl_view producer_key, ZSTD_CCtx *cctx, sl_buf *scratch)
{
    size_t start = b->len;
    int64_t first_ts, max_ts;
    uint16_t attrs = 0;
    size_t records_size;

    if (producer_key.len > LOG_PRODUCER_KEY_MAX)
        return SL_ERR_TOOBIG;
    sl_buf_reserve(b, LOG_BATCH_HEADER_SIZE);
    b->len += LOG_BATCH_HEADER_SIZE;
    if (producer_key.len) {
        attrs |= LOG_BATCH_ATTR_PRODUCER;
        sl_buf_append_char(b, (char)producer_key.len);
        sl_buf_append(b, producer_key.ptr, producer_key.len);
    }
    size_t body = b->len - start;
    if (!cctx) {
        log_records_encode(b, records, idx, n, &first_ts, &max_ts);
        records_size = b->len - start - body;
    } else {
        sl_buf_reset(scratch);
        log_records_encode(scratch, records, idx, n, &first_ts, &max_ts);
        records_size = scratch->len;
        size_t bound = ZSTD_compressBound(scratch->len);
        sl_buf_reserve(b, bound);
        size_t z = ZSTD_compress2(cctx, b->data + b->len, bound, scratch->data, scratch->len);
        if (ZSTD_isError(z)) {
            b->len = start;
            return SL_ERR;
        }
        b->len += z;
        attrs |= LOG_BATCH_ATTR_ZSTD;
    }
    size_t length = b->len - start;
    if (length > LOG_BATCH_MAX_BYTES || records_size > LOG_BATCH_MAX_BYTES || n > UINT32_MAX) {
        b->len = start;
        return SL_ERR_TOOBIG;
    }
    uint8_t *h = (uint8_t *)b->data + start;
    put_u64(h + 0, 0);
    put_u32(h + 8, (uint32_t)length);
    put_u16(h + 12, LOG_BATCH_MAGIC);
    h[14] = LOG_BATCH_VERSION;
    h[15] = 0;
    put_u16(h + 20, attrs);
    put_u16(h + 22, 0);
    put_u32(h + 24, (uint32_t)n);
    put_u32(h + 28, (uint32_t)records_size);
    put_u64(h + 32, (uint64_t)first_ts);
    put_u64(h + 40, (uint64_t)max_ts);
    put_u32(h + 16, sl_crc32c(0, h + CRC_START, length - CRC_START));
    return (int64_t)length;
}

void log_batch_set_base_offset(void *batch, int64_t base_offset)
{
    put_u64(batch, (uint64_t)base_offset);
}

/* ---- decoding ---------------------------------------------------------- */

log_batch_status log_batch_header_parse(const uint8_t *p, size_t avail, log_batch_header *h)
{
    if (avail < LOG_BATCH_HEADER_SIZE)
        return LOG_BATCH_TORN;
    if (get_u16(p + 12) != LOG_BATCH_MAGIC || p[14] != LOG_BATCH_VERSION)
        return LOG_BATCH_BAD_MAGIC;
    h->base_offset = (int64_t)get_u64(p);
    h->length = get_u32(p + 8);
    h->crc = get_u32(p + 16);
    h->attributes = get_u16(p + 20);
    h->record_count = get_u32(p + 24);
    h->records_size = get_u32(p + 28);
    h->first_ts_us = (int64_t)get_u64(p + 32);
    h->max_ts_us = (int64_t)get_u64(p + 40);
    if (h->length < LOG_BATCH_HEADER_SIZE || h->length > LOG_BATCH_MAX_BYTES)
        return LOG_BATCH_BAD_LENGTH;
    if (h->base_offset < 0 || h->base_offset > INT64_MAX / 2)
        return LOG_BATCH_BAD_OFFSET;
    /* Every record takes at least 3 bytes: bounds what a decoder allocates. */
    if (h->record_count == 0 || h->records_size > LOG_BATCH_MAX_BYTES ||
        h->record_count > h->records_size / 3)
        return LOG_BATCH_BAD_RECORDS;
    return LOG_BATCH_OK;
}

/* Where the records section starts; 0 when the producer key overruns the batch. */
static size_t batch_body_offset(const uint8_t *batch, const log_batch_header *h)
{
    if (!(h->attributes & LOG_BATCH_ATTR_PRODUCER))
        return LOG_BATCH_HEADER_SIZE;
    if (h->length < LOG_BATCH_HEADER_SIZE + 1)
        return 0;
    size_t off = LOG_BATCH_HEADER_SIZE + 1 + batch[LOG_BATCH_HEADER_SIZE];
    return off <= h->length ? off : 0;
}

bool log_batch_producer_key(const uint8_t *batch, const log_batch_header *h, sl_view *key)
{
    size_t off = batch_body_offset(batch, h);
    if (!(h->attributes & LOG_BATCH_ATTR_PRODUCER) || off == 0)
        return false;
    key->ptr = (const char *)batch + LOG_BATCH_HEADER_SIZE + 1;
    key->len = off - LOG_BATCH_HEADER_SIZE - 1;
    return key->len > 0;
}

log_batch_status log_batch_check_crc(const uint8_t *batch, const log_batch_header *h)
{
    uint32_t crc = sl_crc32c(0, batch + CRC_START, h->length - CRC_START);
    return crc == h->crc ? LOG_BATCH_OK : LOG_BATCH_BAD_CRC;
}

log_batch_status log_batch_records(const uint8_t *batch, const log_batch_header *h,
                                   ZSTD_DCtx *dctx, sl_buf *out, const uint8_t **records)
{
    size_t body = batch_body_offset(batch, h);
    if (body == 0 || h->record_count == 0 || h->records_size > LOG_BATCH_MAX_BYTES ||
        (h->attributes & ~(LOG_BATCH_ATTR_ZSTD | LOG_BATCH_ATTR_PRODUCER)))
        return LOG_BATCH_BAD_RECORDS;
    const uint8_t *stored = batch + body;
    size_t stored_len = h->length - body;
    if (!(h->attributes & LOG_BATCH_ATTR_ZSTD)) {
        if (stored_len != h->records_size)
            return LOG_BATCH_BAD_RECORDS;
        *records = stored;
        return LOG_BATCH_OK;
    }
    unsigned long long content = ZSTD_getFrameContentSize(stored, stored_len);
    if (content != h->records_size)
        return LOG_BATCH_BAD_RECORDS;
    if (sl_buf_try_reserve(out, h->records_size) != 0)
        return LOG_BATCH_BAD_RECORDS;
    size_t z = ZSTD_decompressDCtx(dctx, out->data + out->len, h->records_size, stored,
                                   stored_len);
    if (ZSTD_isError(z) || z != h->records_size)
        return LOG_BATCH_BAD_RECORDS;
    *records = (const uint8_t *)out->data + out->len;
    out->len += z;
    out->data[out->len] = '\0';
    return LOG_BATCH_OK;
}

log_batch_status log_records_decode(const uint8_t *rec, const log_batch_header *h,
                                    int32_t partition, int64_t from_offset, sl_message *msgs,
                                    size_t max, size_t *nout)
{
    const uint8_t *p = rec, *end = rec + h->records_size;
    size_t stored = 0;
    *nout = 0;
    for (uint32_t i = 0; i < h->record_count; i++) {
        uint64_t ts_delta, key_zz, value_len;
        if (!varint_get(&p, end, &ts_delta) || !varint_get(&p, end, &key_zz))
            return LOG_BATCH_BAD_RECORDS;
        int64_t key_len = unzigzag(key_zz);
        if (key_len < -1 || (key_len > 0 && (uint64_t)key_len > (uint64_t)(end - p)))
            return LOG_BATCH_BAD_RECORDS;
        const uint8_t *key = key_len > 0 ? p : NULL;
        if (key_len > 0)
            p += key_len;
        if (!varint_get(&p, end, &value_len) || value_len > (uint64_t)(end - p))
            return LOG_BATCH_BAD_RECORDS;
        const uint8_t *value = p;
        p += value_len;
        int64_t offset = h->base_offset + i;
        if (offset < from_offset)
            continue;
        if (stored == max) {
            *nout = stored;
            return LOG_BATCH_OK;
        }
        sl_message *m = &msgs[stored++];
        m->partition = partition;
        m->offset = offset;
        m->ts_us = (int64_t)((uint64_t)h->first_ts_us + (uint64_t)unzigzag(ts_delta));
        m->key = (sl_view){ (const char *)key, key_len > 0 ? (size_t)key_len : 0 };
        m->value = (sl_view){ (const char *)value, (size_t)value_len };
    }
    *nout = stored;
    return p == end ? LOG_BATCH_OK : LOG_BATCH_BAD_RECORDS;
}

/* ---- segment files ------------------------------------------------------ */

void log_segment_path(char *out, size_t n, const char *dir, int64_t base, const char *ext)
{
    snprintf(out, n, "%s/%020" PRId64 "%s", dir, base, ext);
}

int log_segment_parse_name(const char *name, const char *ext, int64_t *base)
{
    size_t len = strlen(name), elen = strlen(ext);
    if (len != 20 + elen || strcmp(name + 20, ext) != 0)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    *base = v;
    return 0;
}

/* Reads a file through one buffer so a scan costs a pread per ~1 MiB. */
typedef struct scan_reader {
    int fd;
    uint8_t *buf;
    size_t cap;
    int64_t buf_pos; /* file position of buf[0] */
    size_t buf_len;
} scan_reader;

/* Make [pos, pos + n) available (short at EOF); returns a pointer and the
   bytes available there, or -errno. */
static int reader_window(scan_reader *r, int64_t pos, size_t n, int64_t end,
                         const uint8_t **p, size_t *avail)
{
    if (pos >= r->buf_pos && pos + (int64_t)n <= r->buf_pos + (int64_t)r->buf_len) {
        *p = r->buf + (pos - r->buf_pos);
        *avail = r->buf_len - (size_t)(pos - r->buf_pos);
        return 0;
    }
    size_t want = n > r->cap ? n : r->cap;
    if ((int64_t)want > end - pos)
        want = (size_t)(end - pos);
    if (want > r->cap) {
        uint8_t *nb = sl_try_realloc(r->buf, want);
        if (!nb)
            return -ENOMEM;
        r->buf = nb;
        r->cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t k = pread(r->fd, r->buf + got, want - got, pos + (int64_t)got);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    r->buf_pos = pos;
    r->buf_len = got;
    *p = r->buf;
    *avail = got;
    return 0;
}

/*
 * Check a batch's CRC reading it in pieces of the reader's size, for a
 * batch longer than that: a scan that only checks (recovery, at every
 * open) then copies each byte once into a buffer that stays in cache,
 * instead of into a buffer as large as the largest batch. head receives
 * the batch's first LOG_SCAN_HEAD bytes (or all of it) for the callback.
 */
static int crc_in_pieces(scan_reader *r, int64_t pos, const log_batch_header *h, int64_t end,
                         uint8_t head[LOG_SCAN_HEAD], log_batch_status *st)
{
    uint32_t crc = 0;
    for (size_t off = 0; off < h->length;) {
        size_t n = h->length - off < r->cap ? h->length - off : r->cap;
        const uint8_t *p;
        size_t avail;
        int rc = reader_window(r, pos + (int64_t)off, n, end, &p, &avail);
        if (rc)
            return rc;
        if (avail < n) {
            *st = LOG_BATCH_TORN;
            return 0;
        }
        if (off == 0) {
            memcpy(head, p, n < LOG_SCAN_HEAD ? n : LOG_SCAN_HEAD);
            crc = sl_crc32c(0, p + CRC_START, n - CRC_START);
        } else {
            crc = sl_crc32c(crc, p, n);
        }
        off += n;
    }
    *st = crc == h->crc ? LOG_BATCH_OK : LOG_BATCH_BAD_CRC;
    return 0;
}

/* The reader's size when the scan only checks (crc_in_pieces): within a
   core's L2 cache. */
#define SCAN_PIECE (256u << 10)

int log_segment_scan(int fd, int64_t pos, int64_t end, int64_t next_offset, unsigned flags,
                     log_scan_fn fn, void *arg, log_scan *out)
{
    scan_reader r = { .fd = fd, .cap = (flags & LOG_SCAN_DECODE) ? 1u << 20 : SCAN_PIECE };
    uint8_t head[LOG_SCAN_HEAD];
    ZSTD_DCtx *dctx = NULL;
    sl_buf plain = SL_BUF_INIT;
    sl_message *msgs = NULL;
    size_t msgs_cap = 0;
    int rc = 0;

    memset(out, 0, sizeof *out);
    out->valid_bytes = pos;
    out->next_offset = next_offset;
    out->max_ts_us = INT64_MIN;
    if (end - pos < (int64_t)r.cap)
        r.cap = end - pos > LOG_BATCH_HEADER_SIZE ? (size_t)(end - pos) : LOG_BATCH_HEADER_SIZE;
    r.buf = sl_try_malloc(r.cap);
    if (!r.buf) {
        rc = -ENOMEM;
        goto done;
    }
    if (flags & LOG_SCAN_DECODE)
        dctx = ZSTD_createDCtx();

    while (pos < end) {
        const uint8_t *p;
        size_t avail;
        log_batch_header h;
        rc = reader_window(&r, pos, LOG_BATCH_HEADER_SIZE, end, &p, &avail);
        if (rc)
            goto done;
        log_batch_status st = log_batch_header_parse(p, avail, &h);
        if (st == LOG_BATCH_OK && h.length > (uint64_t)(end - pos))
            st = LOG_BATCH_TORN;
        if (st == LOG_BATCH_OK && !(flags & LOG_SCAN_DECODE) && h.length > r.cap) {
            rc = crc_in_pieces(&r, pos, &h, end, head, &st);
            if (rc)
                goto done;
            p = head;
        } else if (st == LOG_BATCH_OK) {
            rc = reader_window(&r, pos, h.length, end, &p, &avail);
            if (rc)
                goto done;
            if (avail < h.length)
                st = LOG_BATCH_TORN;
            if (st == LOG_BATCH_OK)
                st = log_batch_check_crc(p, &h);
        }
        if (st == LOG_BATCH_OK && h.base_offset != out->next_offset)
            st = LOG_BATCH_BAD_OFFSET;
        if (st == LOG_BATCH_OK && (flags & LOG_SCAN_DECODE)) {
            const uint8_t *rec;
            sl_buf_reset(&plain);
            st = log_batch_records(p, &h, dctx, &plain, &rec);
            if (st == LOG_BATCH_OK) {
                if (msgs_cap < h.record_count) {
                    sl_message *nm = sl_try_realloc(msgs, h.record_count * sizeof *msgs);
                    if (!nm) {
                        rc = -ENOMEM;
                        goto done;
                    }
                    msgs = nm;
                    msgs_cap = h.record_count;
                }
                size_t got;
                st = log_records_decode(rec, &h, 0, 0, msgs, h.record_count, &got);
                if (st == LOG_BATCH_OK && got != h.record_count)
                    st = LOG_BATCH_BAD_RECORDS;
            }
        }
        if (st != LOG_BATCH_OK) {
            out->stop = st;
            goto done;
        }
        if (fn) {
            rc = fn(arg, &h, pos, p);
            if (rc)
                goto done;
        }
        pos += h.length;
        out->valid_bytes = pos;
        out->next_offset = h.base_offset + h.record_count;
        if (h.max_ts_us > out->max_ts_us)
            out->max_ts_us = h.max_ts_us;
        out->batches++;
        out->records += h.record_count;
    }
done:
    free(msgs);
    sl_buf_free(&plain);
    ZSTD_freeDCtx(dctx);
    free(r.buf);
    return rc;
}
