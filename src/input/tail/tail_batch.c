/*
 * tail_batch.c - a followed file's bytes into batches, and a batch's lines
 * into events.
 *
 * Where a batch ends must depend on the file's content only, never on how
 * the bytes happened to arrive, so that a re-read after a crash cuts the
 * same batches and their idempotency keys match what the log already
 * holds (see tail.h). The rules, from the batch's first byte:
 *
 *   full    after the line that makes batch_lines lines, or the line that
 *           reaches batch_bytes bytes, or after an overlong line
 *   short   at the end of the file, when fewer lines than that are there;
 *           only when nothing else of the file is in flight, and the
 *           input announces its end in the position file before it
 *           appends it (the end depends on how much NGINX had written)
 *
 * The read buffer holds batch_bytes + max_line_size + 2 bytes at most, so a
 * full cut is always decidable inside it. An overlong line is never held
 * whole: its first TAIL_LONG_HEAD bytes are kept for _dlq and the rest is
 * skipped until its newline. A partial last line waits for its newline,
 * except in a rotated file given up after rotate_wait (it will never get
 * one): there it counts as a line.
 */
#include "input/tail/tail.h"

#include "core/alloc.h"
#include "core/crc32c.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "input/http/ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_MIN (64 * 1024)

static size_t buffer_limit(const tail_input *t)
{
    return (size_t)t->o.batch_bytes + (size_t)t->o.max_line_size + 2;
}

int tail_file_fill(tail_input *t, tail_file *f, size_t *got)
{
    *got = 0;
    if (f->fd < 0)
        return 0;
    size_t limit = buffer_limit(t);
    /* Grow before a read that would be small; never past the limit. */
    if (f->cap - f->len < READ_MIN && f->cap < limit) {
        size_t cap = f->cap ? f->cap * 2 : READ_MIN * 2;
        if (cap < f->len + READ_MIN)
            cap = f->len + READ_MIN;
        if (cap > limit)
            cap = limit;
        f->buf = sl_realloc(f->buf, cap + 1);
        f->cap = cap;
    }
    size_t room = f->cap - f->len;
    /* Where the next byte comes from: after the buffered bytes, or inside an
       overlong line after what was skipped of it. */
    int64_t at = f->skipping ? f->long_start + f->long_len + (int64_t)(f->len - f->line_end)
                             : f->issued + (int64_t)f->len;
    if (f->must_cut_at_pending) {
        /* Re-reading an announced batch: not one byte past its end. */
        int64_t left = f->pending - at;
        if (left <= 0)
            room = 0;
        else if ((int64_t)room > left)
            room = (size_t)left;
    }
    if (room == 0) {
        f->at_eof = true;
        return 0;
    }
    ssize_t r;
    do
        r = pread(f->fd, f->buf + f->len, room, at);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    f->len += (size_t)r;
    f->at_eof = (size_t)r < room || r == 0;
    *got = (size_t)r;
    return 0;
}

/* ---- cutting ----------------------------------------------------------------- */

/* Largest number of spare batches an instance keeps. */
#define SPARES_MAX 64

/*
 * A batch with nothing in it, from the instance's spares when it has one:
 * a spare keeps the memory of the batch it was (read buffer, events, keys,
 * records), so steady tailing allocates nothing and touches no fresh page
 * - freeing megabytes per batch let the allocator hand them back to the
 * kernel and fault them in again for the next one. Tail thread only.
 */
static tail_batch *batch_take(tail_input *t)
{
    tail_batch *spare = t->spares;
    if (!spare)
        return sl_calloc(1, sizeof(tail_batch));
    t->spares = spare->next;
    t->nspares--;
    tail_batch kept = *spare;
    memset(spare, 0, sizeof *spare);
    spare->raw = kept.raw;
    spare->raw_cap = kept.raw_cap;
    spare->values = kept.values;
    spare->keys = kept.keys;
    spare->dlq_values = kept.dlq_values;
    spare->recs = kept.recs;
    spare->cap_rec = kept.cap_rec;
    spare->dlq = kept.dlq;
    spare->cap_dlq = kept.cap_dlq;
    return spare;
}

void tail_batch_recycle(tail_input *t, tail_batch *b)
{
    if (!b)
        return;
    if (t->nspares >= SPARES_MAX || t->nspares >= t->o.max_inflight + 2) {
        tail_batch_free(b);
        return;
    }
    b->next = t->spares;
    t->spares = b;
    t->nspares++;
}

void tail_batch_spares_free(tail_input *t)
{
    while (t->spares) {
        tail_batch *b = t->spares;
        t->spares = b->next;
        tail_batch_free(b);
    }
    t->nspares = 0;
}

/* Hand buf[0, lines_end) (and the overlong line, when has_long) to a new
   batch and keep buf[consumed, len) for the next one. */
static tail_batch *make_batch(tail_input *t, tail_file *f, size_t lines_end, size_t consumed,
                              bool has_long)
{
    tail_batch *b = batch_take(t);
    b->file = f;
    b->start = f->issued;
    b->raw_len = lines_end;
    size_t rest = f->len - consumed;
    if (f->buf && lines_end > 0 && lines_end >= rest) {
        /* The batch takes the read buffer itself and the file gets the
           batch's old one with the few bytes after the cut: copying those
           is cheaper than copying the batch's (the buffer is mostly batch). */
        char *spare = b->raw;
        size_t spare_cap = b->raw_cap;
        b->raw = f->buf;
        b->raw_cap = f->cap + 1;
        if (spare_cap < f->cap + 1) {
            free(spare);
            spare = sl_malloc(f->cap + 1);
        }
        f->buf = spare;
        memcpy(f->buf, b->raw + consumed, rest);
    } else {
        if (b->raw_cap < lines_end || !b->raw) {
            free(b->raw);
            b->raw_cap = lines_end ? lines_end : 1;
            b->raw = sl_malloc(b->raw_cap);
        }
        memcpy(b->raw, f->buf, lines_end);
        memmove(f->buf, f->buf + consumed, rest);
    }
    if (has_long) {
        b->has_long = true;
        b->long_len = f->long_len;
        b->long_head_len = f->long_head_len;
        memcpy(b->long_head, f->long_head, f->long_head_len);
        b->end = f->long_start + f->long_len;
        f->skipping = false;
        f->long_len = 0;
        f->long_head_len = 0;
    } else {
        b->end = f->issued + (int64_t)lines_end;
    }
    f->len -= consumed;
    f->issued = b->end;
    f->scanned = 0;
    f->line_end = 0;
    f->nlines = 0;
    uint32_t head = (uint32_t)SL_MIN((int64_t)f->head_len, b->end);
    b->head_crc = sl_crc32c(0, f->head, head);
    SL_UNUSED(t);
    return b;
}

/* Enter the overlong line that starts at buf[line_end] (n bytes of it in buf). */
static void start_long(tail_file *f, size_t n)
{
    f->skipping = true;
    f->long_start = f->issued + (int64_t)f->line_end;
    f->long_head_len = SL_MIN(n, (size_t)TAIL_LONG_HEAD);
    memcpy(f->long_head, f->buf + f->line_end, f->long_head_len);
    f->long_len = 0;
}

tail_batch *tail_file_cut(tail_input *t, tail_file *f, bool allow_short, bool final)
{
    size_t max_line = (size_t)t->o.max_line_size;
    if (f->skipping) {
        /* Inside an overlong line: skip to its newline. */
        char *nl = memchr(f->buf + f->line_end, '\n', f->len - f->line_end);
        if (!nl) {
            f->long_len += (int64_t)(f->len - f->line_end);
            f->len = f->line_end;
            if (!final || f->committed != f->issued)
                return NULL;
            /* A rotated file given up inside an overlong line: its end is
               where the file ends, so it is announced like a short batch. */
            tail_batch *b = make_batch(t, f, f->line_end, f->line_end, true);
            b->announce = true;
            return b;
        }
        size_t le = (size_t)(nl - f->buf) + 1;
        f->long_len += (int64_t)(le - f->line_end);
        return make_batch(t, f, f->line_end, le, true);
    }
    while (f->scanned < f->len) {
        char *nl = memchr(f->buf + f->scanned, '\n', f->len - f->scanned);
        if (!nl) {
            f->scanned = f->len;
            break;
        }
        size_t le = (size_t)(nl - f->buf) + 1;
        if (le - f->line_end - 1 > max_line) {
            /* A complete line, but too long: it ends the batch. */
            start_long(f, le - f->line_end);
            f->long_len = (int64_t)(le - f->line_end);
            return make_batch(t, f, f->line_end, le, true);
        }
        f->line_end = le;
        f->scanned = le;
        f->nlines++;
        if (f->nlines >= t->o.batch_lines || (int64_t)f->line_end >= t->o.batch_bytes ||
            (f->must_cut_at_pending && f->issued + (int64_t)f->line_end >= f->pending)) {
            f->must_cut_at_pending = false;
            return make_batch(t, f, f->line_end, f->line_end, false);
        }
    }
    if (f->len - f->line_end > max_line) {
        /* The line in progress is already too long: skip the rest of it. */
        size_t n = f->len - f->line_end;
        start_long(f, n);
        f->long_len = (int64_t)n;
        f->len = f->line_end;
        return tail_file_cut(t, f, allow_short, final);
    }
    if (final && f->len > f->line_end) {
        /* The last line of a file that will not grow again. */
        f->line_end = f->len;
        f->nlines++;
    }
    if ((allow_short || final) && f->nlines > 0 && f->committed == f->issued &&
        !f->must_cut_at_pending) {
        tail_batch *b = make_batch(t, f, f->line_end, f->line_end, false);
        b->announce = true;
        return b;
    }
    return NULL;
}

/* ---- converting -------------------------------------------------------------- */

static struct tail_rec *rec_slot(struct tail_rec **v, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        *v = sl_realloc(*v, *cap * sizeof **v);
    }
    return &(*v)[(*n)++];
}

static void reject(const tail_input *t, tail_batch *b, const char *reason, const char *error,
                   sl_view original, int64_t now)
{
    size_t off = b->dlq_values.len;
    sl_dlq_envelope(&b->dlq_values, "tail", reason, error, t->topic, -1, original, now);
    struct tail_rec *r = rec_slot(&b->dlq, &b->ndlq, &b->cap_dlq);
    *r = (struct tail_rec){ .voff = (uint32_t)off, .vlen = (uint32_t)(b->dlq_values.len - off),
                            .ts_us = now };
    if (!strcmp(reason, "malformed_line"))
        sl_counter_add(t->m_rej_malformed, 1);
    else if (!strcmp(reason, "line_too_long"))
        sl_counter_add(t->m_rej_long, 1);
    else
        sl_counter_add(t->m_rej_query, 1);
}

static sl_view field_value(const sl_nginx_line *l, int idx)
{
    if (idx < 0 || (size_t)idx >= l->nfields || l->fields[idx].absent)
        return SL_VIEW_NULL;
    sl_view v = l->fields[idx].value;
    return v.ptr ? v : SL_VIEW_LIT("");
}

/* One line (without its newline) into a record or a _dlq envelope. */
static void convert_line(const tail_input *t, tail_conv *cv, tail_batch *b, const char *line,
                         size_t len, int64_t offset, int64_t now, const int *idx)
{
    sl_nginx_line *l = &cv->line;
    sl_nginx_error nerr = { 0 };
    char msg[384];
    if (sl_nginx_parse(t->format, line, len, l, cv->scratch, cv->scratch_cap, &nerr) < 0) {
        snprintf(msg, sizeof msg, "%s, line at byte %" PRId64 ": %s", b->file->path, offset,
                 nerr.message);
        reject(t, b, "malformed_line", msg, (sl_view){ line, len }, now);
        return;
    }
    int64_t ts = l->has_ts ? l->ts_us : now;
    size_t voff = b->values.len;
    sl_view key = SL_VIEW_NULL;
    bool pixel = false;
    if (l->path.ptr && l->method.len == 3 && memcmp(l->method.ptr, "GET", 3) == 0) {
        sl_pixel_hit hit = { .ip = field_value(l, idx[0]), .user_agent = field_value(l, idx[1]),
                             .referer = field_value(l, idx[2]), .ts_us = ts };
        sl_query_split_target(l->path, &hit.path, &hit.query);
        int64_t sid;
        if (sl_query_scenario_id(hit.path, &sid, NULL) == 0) {
            pixel = true;
            sl_pixel_error perr = { 0 };
            if (sl_pixel_event_build(cv->builder, &hit, &b->values, &key, &perr) < 0) {
                snprintf(msg, sizeof msg, "%s, line at byte %" PRId64 ": %s", b->file->path,
                         offset, perr.message);
                reject(t, b, perr.reason, msg, (sl_view){ line, len }, now);
                return;
            }
        }
    }
    if (!pixel) {
        bool comma = false;
        sl_buf_append_char(&b->values, '{');
        sl_nginx_line_append_json(l, &b->values, &comma);
        sl_buf_append_char(&b->values, '}');
    }
    size_t koff = b->keys.len;
    if (key.len)
        sl_buf_append(&b->keys, key.ptr, key.len);
    struct tail_rec *r = rec_slot(&b->recs, &b->nrec, &b->cap_rec);
    *r = (struct tail_rec){ .voff = (uint32_t)voff, .vlen = (uint32_t)(b->values.len - voff),
                            .koff = (uint32_t)koff, .klen = (uint32_t)key.len, .ts_us = ts };
}

void tail_batch_convert(const tail_input *t, tail_conv *cv, tail_batch *b)
{
    int64_t now = sl_now_us();
    b->nrec = b->ndlq = 0;
    sl_buf_reset(&b->values);
    sl_buf_reset(&b->keys);
    sl_buf_reset(&b->dlq_values);
    sl_buf_reserve(&b->values, b->raw_len + b->raw_len / 2 + 64);
    const int idx[3] = { t->idx_addr, t->idx_ua, t->idx_referer };
    uint64_t lines = 0;
    const char *p = b->raw, *end = b->raw + b->raw_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n > 0) { /* blank lines carry nothing */
            convert_line(t, cv, b, p, n, b->start + (p - b->raw), now, idx);
            lines++;
        }
        p = nl ? nl + 1 : end;
    }
    if (b->has_long) {
        char msg[384];
        snprintf(msg, sizeof msg,
                 "%s, line at byte %" PRId64 ": line of %" PRId64 " bytes exceeds max_line_size "
                 "(%" PRId64 "); its first %zu bytes are kept",
                 b->file->path, b->end - b->long_len, b->long_len, t->o.max_line_size,
                 b->long_head_len);
        reject(t, b, "line_too_long", msg, (sl_view){ b->long_head, b->long_head_len }, now);
        lines++;
    }
    b->lines = lines;
    b->bytes = (uint64_t)(b->end - b->start);

    /* The key a re-read of these same bytes would give: the range and CRCs
       of its bytes and of the file's first bytes. Not the inode: a file
       copied by copytruncate while sluice was down is re-read from the copy,
       another inode with the same bytes at the same offsets, and must give
       the same keys. */
    uint32_t crc = sl_crc32c(0, b->raw, b->raw_len);
    if (b->has_long) {
        crc = sl_crc32c(crc, b->long_head, b->long_head_len);
        crc = sl_crc32c(crc, &b->long_len, sizeof b->long_len);
    }
    snprintf(b->idem, sizeof b->idem, "tail:%.64s:%08" PRIx32 ":%" PRIx64 "-%" PRIx64 ":%08" PRIx32,
             t->name, b->head_crc, (uint64_t)b->start, (uint64_t)b->end, crc);
}

void tail_batch_free(tail_batch *b)
{
    if (!b)
        return;
    free(b->raw);
    sl_buf_free(&b->values);
    sl_buf_free(&b->keys);
    sl_buf_free(&b->dlq_values);
    free(b->recs);
    free(b->dlq);
    free(b);
}
