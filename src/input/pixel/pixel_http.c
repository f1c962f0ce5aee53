/*
 * pixel_http.c - the collector's GET /{scenario_id} handler (see pixel.h):
 * one hit becomes one event on web.raw, built by pixel.c's builder.
 *
 * The handler builds the event on the worker thread, suspends the
 * connection and appends one record; the log's completion answers, so the
 * GIF goes out only once the event is durable, exactly as for POST
 * /api/collect, and with fsync: group thousands of pixel hits share each
 * fsync while a few worker threads serve every connection. A refused hit
 * is kept in _dlq (durably) before the 400 goes out, so "bad input is
 * answered, counted and kept" holds for the pixel too.
 */
#include "input/pixel/pixel.h"

#include "core/alloc.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "input/http/ingest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "collector"

/* ---- the HTTP handler -------------------------------------------------------- */

typedef struct pixel_pending pixel_pending;

/* Hits gathered for one append: their records' bytes, back to back. */
typedef struct hit_slot {
    size_t key_off, key_len, value_off, value_len;
    bool has_key;
    int64_t ts_us;
    pixel_pending *p;
} hit_slot;

typedef struct hit_batch {
    sl_buf bytes;
    hit_slot *hits;
    size_t n, cap;
} hit_batch;

struct sl_pixel {
    sl_log *log;
    pthread_key_t thread_key;  /* a pixel_thread per worker thread, freed at its exit */
    sl_metric_family *results;
    sl_metric *ok, *accepted, *bytes;
    sl_metric_family *rejected_requests;
    sl_http_prebuilt *gif;     /* 200, the GIF, Cache-Control: no-store */
    /* Accepted hits wait here for the flusher, which appends them together. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    hit_batch filling;
    int inflight;              /* batch appends not completed yet */
    bool stopping;
    pthread_t flusher;
};

/* What a worker thread reuses for every hit it serves. */
typedef struct pixel_thread {
    sl_pixel_builder *builder;
    sl_buf event;
} pixel_thread;

static void thread_state_free(void *arg)
{
    pixel_thread *th = arg;
    sl_pixel_builder_free(th->builder);
    sl_buf_free(&th->event);
    free(th);
}

static pixel_thread *thread_state(sl_pixel *px)
{
    pixel_thread *th = pthread_getspecific(px->thread_key);
    if (!th) {
        th = sl_calloc(1, sizeof *th);
        th->builder = sl_pixel_builder_new();
        pthread_setspecific(px->thread_key, th);
    }
    return th;
}

static void *flusher_main(void *arg);

static void hit_batch_free(hit_batch *b)
{
    sl_buf_free(&b->bytes);
    free(b->hits);
    memset(b, 0, sizeof *b);
}

sl_pixel *sl_pixel_new(sl_log *log)
{
    sl_pixel *px = sl_calloc(1, sizeof *px);
    px->log = log;
    px->gif = sl_http_prebuilt_new(200, "image/gif", sl_pixel_gif, sl_pixel_gif_len,
                                   "Cache-Control: no-store\r\n");
    pthread_key_create(&px->thread_key, thread_state_free);
    pthread_mutex_init(&px->lock, NULL);
    pthread_cond_init(&px->cond, NULL);
    px->results = sl_metrics_family(
        "sluice_collector_pixel_requests_total",
        "Tracking-pixel requests (GET /{scenario_id}) by result: ok, or why they were refused.",
        SL_COUNTER, "result");
    px->ok = sl_metric_get1(px->results, "ok");
    /* The collector's own families: pixel events count as accepted events,
       refused pixel requests as rejected requests. */
    px->accepted = sl_metric_get1(
        sl_metrics_family("sluice_collector_events_accepted_total",
                          "Events appended to the log by the collector.", SL_COUNTER, "topic"),
        SL_PIXEL_TOPIC);
    px->bytes = sl_metric_get1(sl_metrics_family("sluice_collector_event_bytes_total",
                                                 "Bytes of accepted events.", SL_COUNTER, "topic"),
                               SL_PIXEL_TOPIC);
    px->rejected_requests = sl_metrics_family(
        "sluice_collector_requests_rejected_total",
        "Whole requests refused by the collector, by reason.", SL_COUNTER, "reason");
    if (pthread_create(&px->flusher, NULL, flusher_main, px) != 0) {
        SL_ERROR(TAG, "cannot start the pixel's flusher thread");
        abort(); /* as for memory: no thread left to run anything */
    }
    return px;
}

void sl_pixel_free(sl_pixel *px)
{
    if (!px)
        return;
    pthread_mutex_lock(&px->lock);
    px->stopping = true;
    pthread_cond_signal(&px->cond);
    pthread_mutex_unlock(&px->lock);
    pthread_join(px->flusher, NULL);
    pthread_key_delete(px->thread_key);
    sl_http_prebuilt_free(px->gif);
    hit_batch_free(&px->filling);
    pthread_cond_destroy(&px->cond);
    pthread_mutex_destroy(&px->lock);
    free(px);
}

static void count_result(sl_pixel *px, const char *result)
{
    sl_counter_add(sl_metric_get1(px->results, result), 1);
}

static void respond_unavailable(sl_pixel *px, int64_t retry_after_s, sl_http_response *resp,
                                int rc)
{
    count_result(px, "unavailable");
    sl_http_error(resp, 503, "the log cannot accept events now (%s); retry later",
                  sl_strerror(rc));
    snprintf(resp->extra_headers, sizeof resp->extra_headers, "Retry-After: %lld\r\n",
             (long long)(retry_after_s > 0 ? retry_after_s : 1));
}

/*
 * A hit waiting for its append: the connection is suspended meanwhile and
 * the log's completion (from a log thread) answers it. A refused hit waits
 * the same way for its _dlq envelope.
 */
struct pixel_pending {
    sl_pixel *px;
    sl_http_request *req;
    sl_http_response *resp;
    int64_t retry_after_s;
    size_t event_len;
    bool refused;               /* the record is the _dlq envelope of a bad hit */
    sl_pixel_error perr;
};

static void pixel_answer(pixel_pending *p, int status)
{
    sl_pixel *px = p->px;
    sl_http_response *resp = p->resp;
    if (status < 0 && !(status == SL_ERR_NOTOPIC && !p->refused)) {
        if (!p->refused)
            SL_LOG_ERRNO(SL_LOG_WARN, TAG, status, "pixel append failed, answering 503");
        respond_unavailable(px, p->retry_after_s, resp, status);
    } else if (status < 0) {
        count_result(px, "no_topic");
        sl_http_error(resp, 404, "the tracking pixel's topic '%s' is not declared in the "
                                 "configuration", SL_PIXEL_TOPIC);
    } else if (p->refused) {
        count_result(px, p->perr.reason);
        sl_counter_add(sl_metric_get1(px->rejected_requests, p->perr.reason), 1);
        resp->status = 400;
        sl_buf_reset(&resp->body);
        sl_buf_append_str(&resp->body, "{\"error\":");
        sl_buf_append_json_string(&resp->body, p->perr.message, strlen(p->perr.message));
        sl_buf_printf(&resp->body, ",\"reason\":\"%s\",\"offset\":%zu}\n", p->perr.reason,
                      p->perr.offset);
    } else {
        sl_counter_add(px->ok, 1);
        sl_counter_add(px->accepted, 1);
        sl_counter_add(px->bytes, p->event_len);
        resp->prebuilt = px->gif;
    }
    sl_http_request *req = p->req;
    free(p);
    sl_http_resume(req);
}

static void pixel_appended(void *opaque, int status, const int32_t *partitions,
                           const int64_t *offsets, size_t n)
{
    SL_UNUSED(partitions);
    SL_UNUSED(offsets);
    SL_UNUSED(n);
    pixel_answer(opaque, status);
}

/* Suspend the request and append rec alone; its completion answers. */
static void append_then_answer(pixel_pending *p, const char *topic, const sl_record *rec)
{
    sl_http_suspend(p->req);
    int rc = sl_log_append(p->px->log, topic, rec, 1, pixel_appended, p);
    if (rc < 0) /* the callback will not run */
        pixel_answer(p, rc);
}

/* ---- batching hits ------------------------------------------------------------ */

/*
 * A hit costs one record, but an append per hit would cost a write(2), a
 * batch header and a completion each. The worker threads queue accepted
 * hits; one flusher thread appends whatever has gathered as one call, with
 * at most PIXEL_MAX_INFLIGHT calls outstanding. An idle collector appends a
 * hit at once; a busy one gathers the hits that arrive while earlier
 * appends wait for their fsync, so batches grow with the load and no
 * linger delay is ever added.
 */
#define PIXEL_MAX_INFLIGHT 8

typedef struct hit_flight {
    sl_pixel *px;
    size_t n;
    pixel_pending *p[];
} hit_flight;

static void flight_appended(void *opaque, int status, const int32_t *partitions,
                            const int64_t *offsets, size_t n)
{
    SL_UNUSED(partitions);
    SL_UNUSED(offsets);
    SL_UNUSED(n);
    hit_flight *f = opaque;
    sl_pixel *px = f->px;
    for (size_t i = 0; i < f->n; i++)
        pixel_answer(f->p[i], status);
    free(f);
    pthread_mutex_lock(&px->lock);
    px->inflight--;
    pthread_cond_signal(&px->cond);
    pthread_mutex_unlock(&px->lock);
}

/* Append the hits of b as one call (px->inflight already counts it). */
static void flush_batch(sl_pixel *px, hit_batch *b, sl_record **records, size_t *records_cap)
{
    if (b->n > *records_cap) {
        *records_cap = b->n;
        *records = sl_realloc(*records, *records_cap * sizeof **records);
    }
    hit_flight *f = sl_malloc(sizeof *f + b->n * sizeof f->p[0]);
    f->px = px;
    f->n = b->n;
    for (size_t i = 0; i < b->n; i++) {
        hit_slot *h = &b->hits[i];
        (*records)[i] = (sl_record){
            .key = h->has_key ? (sl_view){ b->bytes.data + h->key_off, h->key_len }
                              : SL_VIEW_NULL,
            .value = { b->bytes.data + h->value_off, h->value_len },
            .ts_us = h->ts_us,
            .partition = SL_PARTITION_AUTO,
        };
        f->p[i] = h->p;
    }
    int rc = sl_log_append(px->log, SL_PIXEL_TOPIC, *records, b->n, flight_appended, f);
    if (rc < 0) /* the callback will not run */
        flight_appended(f, rc, NULL, NULL, 0);
    b->n = 0;
    sl_buf_reset(&b->bytes);
}

static void *flusher_main(void *arg)
{
    sl_pixel *px = arg;
    hit_batch sending = { 0 };
    sl_record *records = NULL;
    size_t records_cap = 0;
    pthread_setname_np(pthread_self(), "pixel-flush");
    pthread_mutex_lock(&px->lock);
    for (;;) {
        while (!px->stopping && !(px->filling.n && px->inflight < PIXEL_MAX_INFLIGHT))
            pthread_cond_wait(&px->cond, &px->lock);
        if (px->stopping && !px->filling.n)
            break; /* the server has stopped: no hit can arrive any more */
        if (px->inflight >= PIXEL_MAX_INFLIGHT) {
            pthread_cond_wait(&px->cond, &px->lock);
            continue;
        }
        hit_batch t = sending; /* swap: the workers fill the emptied one */
        sending = px->filling;
        px->filling = t;
        px->inflight++;
        pthread_mutex_unlock(&px->lock);
        flush_batch(px, &sending, &records, &records_cap);
        pthread_mutex_lock(&px->lock);
    }
    while (px->inflight > 0) /* completions still owed by the log */
        pthread_cond_wait(&px->cond, &px->lock);
    pthread_mutex_unlock(&px->lock);
    hit_batch_free(&sending);
    free(records);
    return NULL;
}

/* Queue an accepted hit for the flusher; its append's completion answers. */
static void queue_hit(pixel_pending *p, sl_view key, sl_view value, int64_t ts_us)
{
    sl_pixel *px = p->px;
    sl_http_suspend(p->req);
    pthread_mutex_lock(&px->lock);
    hit_batch *b = &px->filling;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->hits = sl_realloc(b->hits, b->cap * sizeof *b->hits);
    }
    hit_slot *h = &b->hits[b->n++];
    *h = (hit_slot){ .has_key = key.ptr != NULL, .ts_us = ts_us, .p = p };
    h->key_off = b->bytes.len;
    h->key_len = key.len;
    sl_buf_append(&b->bytes, key.ptr ? key.ptr : "", key.len);
    h->value_off = b->bytes.len;
    h->value_len = value.len;
    sl_buf_append(&b->bytes, value.ptr, value.len);
    /* Only the first hit of a batch wakes the flusher: the later ones
       ride along with it, instead of a wake-up each. */
    if (b->n == 1 && px->inflight < PIXEL_MAX_INFLIGHT)
        pthread_cond_signal(&px->cond);
    pthread_mutex_unlock(&px->lock);
}

void sl_pixel_handle(sl_pixel *px, const sl_config *cfg, sl_http_request *req,
                     sl_http_response *resp)
{
    if (strcmp(req->method, "GET") != 0) {
        count_result(px, "method_not_allowed");
        sl_http_error(resp, 405, "the tracking pixel answers GET only");
        snprintf(resp->extra_headers, sizeof resp->extra_headers, "Allow: GET\r\n");
        return;
    }
    int64_t now = sl_now_us();
    const char *ua = sl_http_header(req, "User-Agent");
    const char *referer = sl_http_header(req, "Referer");
    sl_pixel_hit hit = {
        .path = sl_view_of(req->path),
        .query = sl_view_of(req->raw_query),
        .ip = req->client_ip && *req->client_ip ? sl_view_of(req->client_ip) : SL_VIEW_NULL,
        .user_agent = ua ? sl_view_of(ua) : SL_VIEW_NULL,
        .referer = referer ? sl_view_of(referer) : SL_VIEW_NULL,
        .ts_us = now,
    };
    pixel_thread *th = thread_state(px);
    sl_pixel_builder *builder = th->builder;
    pixel_pending *p = sl_calloc(1, sizeof *p);
    *p = (pixel_pending){ .px = px, .req = req, .resp = resp,
                          .retry_after_s = cfg->collector_retry_after_s };

    /* The append copies the record's bytes: one buffer per thread will do. */
    sl_buf *event = &th->event;
    sl_buf_reset(event);
    sl_view key;
    int rc = sl_pixel_event_build(builder, &hit, event, &key, &p->perr);
    if (rc < 0) {
        /* Keep the request target as it came, for whoever debugs the tracker. */
        sl_buf target = SL_BUF_INIT;
        sl_buf_append_str(&target, req->path);
        if (req->raw_query && *req->raw_query) {
            sl_buf_append_char(&target, '?');
            sl_buf_append_str(&target, req->raw_query);
        }
        sl_buf_reset(event);
        sl_dlq_envelope(event, "pixel", p->perr.reason, p->perr.message, SL_PIXEL_TOPIC, -1,
                        sl_buf_view(&target), now);
        sl_buf_free(&target);
        p->refused = true;
        sl_record dlq = { .value = sl_buf_view(event), .ts_us = now,
                          .partition = SL_PARTITION_AUTO };
        append_then_answer(p, SL_DLQ_TOPIC, &dlq);
        return;
    }
    p->event_len = event->len;
    queue_hit(p, key, sl_buf_view(event), now);
}
