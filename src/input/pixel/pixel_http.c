/*
 * pixel_http.c - the collector's GET /{scenario_id} handler (see pixel.h):
 * one hit becomes one event on web.raw, built by pixel.c's builder.
 *
 * The handler runs on the connection's own thread (the collector is
 * thread-per-connection), appends one record and blocks until the log
 * reports it durable, exactly as POST /api/collect does; with fsync: group
 * thousands of pixel hits share each fsync. A refused hit is kept in _dlq
 * (durably) before the 400 goes out, so "bad input is answered, counted and
 * kept" holds for the pixel too.
 */
#include "input/pixel/pixel.h"

#include "core/alloc.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "input/http/ingest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define TAG "collector"

/* ---- the HTTP handler -------------------------------------------------------- */

struct sl_pixel {
    sl_log *log;
    pthread_key_t builder_key; /* one builder per connection thread, freed at its exit */
    sl_metric_family *results;
    sl_metric *ok, *accepted, *bytes;
    sl_metric_family *rejected_requests;
};

sl_pixel *sl_pixel_new(sl_log *log)
{
    sl_pixel *px = sl_calloc(1, sizeof *px);
    px->log = log;
    pthread_key_create(&px->builder_key, (void (*)(void *))sl_pixel_builder_free);
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
    return px;
}

void sl_pixel_free(sl_pixel *px)
{
    if (!px)
        return;
    pthread_key_delete(px->builder_key);
    free(px);
}

typedef struct pixel_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int status;
} pixel_wait;

static void pixel_done(void *opaque, int status, const int32_t *partitions,
                       const int64_t *offsets, size_t n)
{
    SL_UNUSED(partitions);
    SL_UNUSED(offsets);
    SL_UNUSED(n);
    pixel_wait *w = opaque;
    pthread_mutex_lock(&w->lock);
    w->done = true;
    w->status = status;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Append one record and wait until it is durable: 0 or a negative code. */
static int append_durable(sl_log *log, const char *topic, const sl_record *rec)
{
    pixel_wait w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
    int rc = sl_log_append(log, topic, rec, 1, pixel_done, &w);
    if (rc < 0)
        return rc; /* the callback will not run */
    pthread_mutex_lock(&w.lock);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    return w.status;
}

static void count_result(sl_pixel *px, const char *result)
{
    sl_counter_add(sl_metric_get1(px->results, result), 1);
}

static void respond_unavailable(sl_pixel *px, const sl_config *cfg, sl_http_response *resp,
                                int rc)
{
    count_result(px, "unavailable");
    sl_http_error(resp, 503, "the log cannot accept events now (%s); retry later",
                  sl_strerror(rc));
    snprintf(resp->extra_headers, sizeof resp->extra_headers, "Retry-After: %lld\r\n",
             (long long)(cfg->collector_retry_after_s > 0 ? cfg->collector_retry_after_s : 1));
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
    /* One builder per connection thread, reused for every request on it. */
    sl_pixel_builder *builder = pthread_getspecific(px->builder_key);
    if (!builder) {
        builder = sl_pixel_builder_new();
        pthread_setspecific(px->builder_key, builder);
    }

    sl_buf event = SL_BUF_INIT;
    sl_view key;
    sl_pixel_error perr = { 0 };
    int rc = sl_pixel_event_build(builder, &hit, &event, &key, &perr);
    if (rc < 0) {
        /* Keep the request target as it came, for whoever debugs the tracker. */
        sl_buf target = SL_BUF_INIT, env = SL_BUF_INIT;
        sl_buf_append_str(&target, req->path);
        if (req->raw_query && *req->raw_query) {
            sl_buf_append_char(&target, '?');
            sl_buf_append_str(&target, req->raw_query);
        }
        sl_dlq_envelope(&env, "pixel", perr.reason, perr.message, SL_PIXEL_TOPIC, -1,
                        sl_buf_view(&target), now);
        sl_record dlq = { .value = sl_buf_view(&env), .ts_us = now,
                          .partition = SL_PARTITION_AUTO };
        rc = append_durable(px->log, SL_DLQ_TOPIC, &dlq);
        sl_buf_free(&target);
        sl_buf_free(&env);
        if (rc < 0) {
            respond_unavailable(px, cfg, resp, rc);
            return;
        }
        count_result(px, perr.reason);
        sl_counter_add(sl_metric_get1(px->rejected_requests, perr.reason), 1);
        resp->status = 400;
        sl_buf_reset(&resp->body);
        sl_buf_append_str(&resp->body, "{\"error\":");
        sl_buf_append_json_string(&resp->body, perr.message, strlen(perr.message));
        sl_buf_printf(&resp->body, ",\"reason\":\"%s\",\"offset\":%zu}\n", perr.reason,
                      perr.offset);
        return;
    }

    sl_record rec = { .key = key, .value = sl_buf_view(&event), .ts_us = now,
                      .partition = SL_PARTITION_AUTO };
    rc = append_durable(px->log, SL_PIXEL_TOPIC, &rec);
    size_t len = event.len;
    sl_buf_free(&event);
    if (rc == SL_ERR_NOTOPIC) {
        count_result(px, "no_topic");
        sl_http_error(resp, 404, "the tracking pixel's topic '%s' is not declared in the "
                                 "configuration", SL_PIXEL_TOPIC);
        return;
    }
    if (rc < 0) {
        SL_LOG_ERRNO(SL_LOG_WARN, TAG, rc, "pixel append failed, answering 503");
        respond_unavailable(px, cfg, resp, rc);
        return;
    }
    sl_counter_add(px->ok, 1);
    sl_counter_add(px->accepted, 1);
    sl_counter_add(px->bytes, len);
    resp->status = 200;
    resp->content_type = "image/gif";
    resp->static_body = sl_pixel_gif;
    resp->static_len = sl_pixel_gif_len;
    snprintf(resp->extra_headers, sizeof resp->extra_headers, "Cache-Control: no-store\r\n");
}
