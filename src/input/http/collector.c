/*
 * collector.c - the HTTP collector: requests in, records appended, answers
 * only once the log holds them (see collector.h).
 *
 * A few epoll worker threads serve every connection. A request that
 * appends suspends its connection; the log's completion callbacks answer
 * it once everything it appended is durable, so with fsync: group many
 * requests share one fsync and no thread waits for it.
 */
#include "input/http/collector.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "http/server.h"
#include "input/http/ingest.h"
#include "input/pixel/pixel.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#define TAG "collector"
#define MAX_ERRORS_LISTED 100

struct sl_collector {
    const sl_config *const *cfg_ref; /* swapped by a SIGHUP reload */
    sl_log *log;
    sl_http_server *http;
    sl_pixel *pixel;         /* GET /{scenario_id}: src/input/pixel/ */
    sl_metric_family *requests, *accepted, *rejected, *bytes, *latency, *rejected_requests;
    sl_metric *requests_200;
};

/* The config in force; a request keeps the one it started with. */
static const sl_config *live_config(const sl_collector *c)
{
    return atomic_load((_Atomic(const sl_config *) *)c->cfg_ref);
}

/* ---- responses ---------------------------------------------------------- */

static void respond_unavailable(int64_t retry_after_s, sl_http_response *resp, int rc)
{
    sl_http_error(resp, 503, "the log cannot accept events now (%s); retry later",
                  sl_strerror(rc));
    snprintf(resp->extra_headers, sizeof resp->extra_headers, "Retry-After: %lld\r\n",
             (long long)(retry_after_s > 0 ? retry_after_s : 1));
}

static void count_request(sl_collector *c, int status)
{
    if (status == 200) { /* nearly every request: no formatting, no lookup */
        sl_counter_add(c->requests_200, 1);
        return;
    }
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    sl_counter_add(sl_metric_get1(c->requests, code), 1);
}

static void count_rejected_request(sl_collector *c, const char *reason)
{
    sl_counter_add(sl_metric_get1(c->rejected_requests, reason), 1);
}

/* ---- a request waiting for its appends ------------------------------------ */

/*
 * POST /api/collect suspends its connection while its appends (one per
 * topic, one for _dlq) become durable; the last completion answers. The
 * pending request owns what the answer needs: the plan (its rejects are
 * listed) and the inflated body the plan points into.
 */
typedef struct collect_pending {
    sl_collector *c;
    sl_http_request *req;
    sl_http_response *resp;
    int64_t retry_after_s;
    pthread_mutex_t lock;
    int outstanding;            /* appends not completed, + 1 while starting them */
    int status;                 /* the first failure, or 0 */
    /* The whole body was refused (plan.status or bad gzip) and is kept in
       _dlq: answer refusal_status with refusal (+ offset) once it is. */
    int refusal_status;
    char refusal[300];
    bool refusal_offset;
    sl_ingest_plan plan;
    sl_buf inflated;
    size_t nrej;
} collect_pending;

static void collect_answer(collect_pending *p)
{
    sl_http_response *resp = p->resp;
    if (p->status < 0) {
        SL_LOG_ERRNO(SL_LOG_WARN, TAG, p->status, "append failed, answering 503");
        respond_unavailable(p->retry_after_s, resp, p->status);
    } else if (p->refusal_status) {
        sl_http_error(resp, p->refusal_status, "%s", p->refusal);
        if (p->refusal_offset) { /* add the offset as a number too */
            resp->body.len -= 2; /* drop "}\n" */
            sl_buf_printf(&resp->body, ",\"offset\":%zu}\n", p->plan.error_offset);
        }
    } else {
        sl_ingest_plan *plan = &p->plan;
        resp->status = 200;
        sl_buf_printf(&resp->body, "{\"accepted\":%zu,\"rejected\":%zu,\"errors\":[",
                      plan->n - p->nrej, p->nrej);
        size_t listed = 0;
        for (size_t i = 0; i < plan->n && listed < MAX_ERRORS_LISTED; i++) {
            sl_ingest_item *it = &plan->items[i];
            if (!it->reason)
                continue;
            sl_buf_printf(&resp->body, "%s{\"index\":%zu,\"reason\":\"%s\",\"error\":",
                          listed ? "," : "", it->index, it->reason);
            sl_buf_append_json_string(&resp->body, it->error, strlen(it->error));
            sl_buf_append_char(&resp->body, '}');
            listed++;
        }
        sl_buf_append_str(&resp->body, "]}\n");
    }
    sl_http_request *req = p->req;
    sl_ingest_plan_free(&p->plan);
    sl_buf_free(&p->inflated);
    pthread_mutex_destroy(&p->lock);
    free(p);
    sl_http_resume(req);
}

/* One append (or the starting guard) is over; the last one answers. */
static void collect_release(collect_pending *p, int status)
{
    pthread_mutex_lock(&p->lock);
    if (status < 0 && p->status == 0)
        p->status = status;
    bool last = --p->outstanding == 0;
    pthread_mutex_unlock(&p->lock);
    if (last)
        collect_answer(p);
}

static void collect_appended(void *opaque, int status, const int32_t *partitions,
                             const int64_t *offsets, size_t n)
{
    (void)partitions;
    (void)offsets;
    (void)n;
    collect_release(opaque, status);
}

static void collect_append(collect_pending *p, const char *topic, const sl_record *records,
                           size_t n, sl_view idem_key)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&p->lock);
    p->outstanding++;
    pthread_mutex_unlock(&p->lock);
    int rc = sl_log_append_idempotent(p->c->log, topic, records, n, idem_key,
                                      collect_appended, p);
    if (rc < 0) /* the callback will not run */
        collect_release(p, rc);
}

/* Keep a whole refused body in _dlq (bounded by collector.max_body), then
   answer status with the message. */
static void refuse_body(collect_pending *p, int status, const char *reason, const char *error,
                        sl_view body, const char *topic, sl_view idem_key)
{
    p->refusal_status = status;
    snprintf(p->refusal, sizeof p->refusal, "%s", error);
    sl_buf env = SL_BUF_INIT;
    sl_dlq_envelope(&env, "collector", reason, error, topic, -1, body, sl_now_us());
    sl_record rec = { .value = sl_buf_view(&env), .ts_us = sl_now_us(),
                      .partition = SL_PARTITION_AUTO };
    collect_append(p, SL_DLQ_TOPIC, &rec, 1, idem_key);
    sl_buf_free(&env);
}

/* ---- gzip --------------------------------------------------------------- */

/* Inflate a gzip body into out, refusing to grow past max. */
static int gunzip(sl_view in, int64_t max, sl_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return SL_ERR;
    zs.next_in = (Bytef *)in.ptr;
    zs.avail_in = (uInt)in.len;
    int rc;
    do {
        if (sl_buf_try_reserve(out, 65536) < 0) {
            inflateEnd(&zs);
            return -ENOMEM;
        }
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = (uInt)(out->cap - out->len - 1);
        size_t before = zs.avail_out;
        rc = inflate(&zs, Z_NO_FLUSH);
        out->len += before - zs.avail_out;
        out->data[out->len] = '\0';
        if ((int64_t)out->len > max) {
            inflateEnd(&zs);
            return SL_ERR_TOOBIG;
        }
    } while (rc == Z_OK);
    inflateEnd(&zs);
    return rc == Z_STREAM_END && zs.avail_in == 0 ? 0 : SL_ERR_PARSE;
}

/* ---- POST /api/collect --------------------------------------------------- */

/* Answer at once what can be refused without touching the log. */
static bool refuse_now(sl_collector *c, const sl_config *cfg, sl_http_request *req,
                       sl_http_response *resp)
{
    if (req->body_too_large) {
        count_rejected_request(c, "body_too_large");
        sl_http_error(resp, 413, "request body exceeds collector.max_body (%lld bytes)",
                      (long long)cfg->collector_max_body);
        return true;
    }
    return false;
}

/* Plan the body and start its appends; the last completion answers. */
static void collect_body(collect_pending *p, const sl_config *cfg, sl_view body,
                         sl_view idem_key)
{
    sl_collector *c = p->c;
    sl_http_request *req = p->req;
    sl_buf topic_name = SL_BUF_INIT;
    int64_t now = sl_now_us();

    const sl_topic_config *forced = NULL;
    if (sl_http_query_param(req, "topic", &topic_name)) {
        forced = sl_config_topic(cfg, topic_name.data);
        if (!forced) {
            count_rejected_request(c, "undeclared_topic");
            p->refusal_status = 404;
            snprintf(p->refusal, sizeof p->refusal,
                     "topic '%s' is not declared in the configuration", topic_name.data);
            sl_buf_free(&topic_name);
            return;
        }
    }
    sl_buf_free(&topic_name);

    sl_ingest_plan *plan = &p->plan;
    sl_ingest_limits limits = { .max_depth = (int)cfg->collector_max_depth,
                                .max_events = (size_t)cfg->collector_max_events };
    sl_ingest_plan_body(cfg, forced, body, &limits, now, plan);
    if (plan->status) {
        count_rejected_request(c, plan->reason);
        p->refusal_offset = plan->status == 400;
        refuse_body(p, plan->status, plan->reason, plan->error, body,
                    forced ? forced->spec.name : NULL, idem_key);
        return;
    }

    /* Group accepted records by topic, rejects into one _dlq batch. The
       appends copy the records' bytes, so the arrays go at once. */
    sl_record *records = sl_calloc(plan->n ? plan->n : 1, sizeof *records);
    sl_buf *dlq_values = sl_calloc(plan->n ? plan->n : 1, sizeof *dlq_values);
    size_t nrej = 0;
    for (size_t t = 0; t < cfg->ntopics; t++) {
        const sl_topic_config *topic = &cfg->topics[t];
        size_t n = 0, bytes = 0;
        for (size_t i = 0; i < plan->n; i++) {
            sl_ingest_item *it = &plan->items[i];
            if (it->reason || it->topic != topic)
                continue;
            records[n++] = (sl_record){ .key = it->key, .value = it->json, .ts_us = it->ts_us,
                                        .partition = SL_PARTITION_AUTO };
            bytes += it->json.len;
        }
        collect_append(p, topic->spec.name, records, n, idem_key);
        if (n) {
            sl_counter_add(sl_metric_get1(c->accepted, topic->spec.name), n);
            sl_counter_add(sl_metric_get1(c->bytes, topic->spec.name), bytes);
        }
    }
    for (size_t i = 0; i < plan->n; i++) {
        sl_ingest_item *it = &plan->items[i];
        if (!it->reason)
            continue;
        const char *tname = it->topic ? it->topic->spec.name : NULL;
        sl_dlq_envelope(&dlq_values[nrej], "collector", it->reason, it->error, tname,
                        (long)it->index, it->json, now);
        records[nrej] = (sl_record){ .value = sl_buf_view(&dlq_values[nrej]), .ts_us = now,
                                     .partition = SL_PARTITION_AUTO };
        nrej++;
        sl_counter_add(sl_metric_get2(c->rejected, tname ? tname : "", it->reason), 1);
    }
    p->nrej = nrej;
    collect_append(p, SL_DLQ_TOPIC, records, nrej, idem_key);
    for (size_t i = 0; i < nrej; i++)
        sl_buf_free(&dlq_values[i]);
    free(dlq_values);
    free(records);
}

static void handle_collect(sl_collector *c, sl_http_request *req, sl_http_response *resp)
{
    const sl_config *cfg = live_config(c);
    if (refuse_now(c, cfg, req, resp))
        return;
    /* A retry of an unanswered request carries the same key: the log
       answers it with the original offsets instead of storing it twice. */
    sl_view idem_key = sl_view_of(sl_http_header(req, "Idempotency-Key"));
    sl_view body = sl_buf_view(&req->body);

    collect_pending *p = sl_calloc(1, sizeof *p);
    p->c = c;
    p->req = req;
    p->resp = resp;
    p->retry_after_s = cfg->collector_retry_after_s;
    p->outstanding = 1; /* held until every append is started */
    pthread_mutex_init(&p->lock, NULL);
    sl_http_suspend(req);

    const char *encoding = sl_http_header(req, "Content-Encoding");
    if (encoding && strcasecmp(encoding, "gzip") == 0) {
        int rc = gunzip(body, cfg->collector_max_body, &p->inflated);
        if (rc == SL_ERR_TOOBIG) {
            count_rejected_request(c, "body_too_large");
            p->refusal_status = 413;
            snprintf(p->refusal, sizeof p->refusal,
                     "decompressed body exceeds collector.max_body (%lld bytes)",
                     (long long)cfg->collector_max_body);
        } else if (rc == -ENOMEM) {
            p->status = rc;
        } else if (rc < 0) {
            count_rejected_request(c, "bad_gzip");
            refuse_body(p, 400, "bad_gzip",
                        "Content-Encoding is gzip but the body is not valid gzip", body, NULL,
                        idem_key);
        } else {
            collect_body(p, cfg, sl_buf_view(&p->inflated), idem_key);
        }
    } else {
        collect_body(p, cfg, body, idem_key);
    }
    collect_release(p, 0); /* drop the guard: answers now if nothing was appended */
}

/* ---- routing -------------------------------------------------------------- */

static int64_t collector_on_headers(void *arg, sl_http_request *req, sl_http_response *resp)
{
    sl_collector *c = arg;
    const sl_config *cfg = live_config(c);
    bool is_collect = strcmp(req->path, "/api/collect") == 0;
    if (!is_collect)
        return 0;
    if (strcmp(req->method, "POST") != 0) {
        sl_http_error(resp, 405, "use POST for /api/collect");
        snprintf(resp->extra_headers, sizeof resp->extra_headers, "Allow: POST\r\n");
        return 0;
    }
    if (!sl_http_token_ok(req, cfg->collector.token)) {
        count_rejected_request(c, "unauthorized");
        sl_http_error(resp, 401, "missing or wrong bearer token");
        snprintf(resp->extra_headers, sizeof resp->extra_headers,
                 "WWW-Authenticate: Bearer realm=\"sluice\"\r\n");
        return 0;
    }
    /* Refuse an announced oversize body before reading any of it. */
    if (req->content_length > cfg->collector_max_body) {
        count_rejected_request(c, "body_too_large");
        sl_http_error(resp, 413, "request body of %lld bytes exceeds collector.max_body (%lld)",
                      (long long)req->content_length, (long long)cfg->collector_max_body);
        return 0;
    }
    const char *idem = sl_http_header(req, "Idempotency-Key");
    if (idem && (!*idem || strlen(idem) > 255)) {
        count_rejected_request(c, "bad_idempotency_key");
        sl_http_error(resp, 400, "Idempotency-Key must be 1 to 255 bytes");
        return 0;
    }
    const char *encoding = sl_http_header(req, "Content-Encoding");
    if (encoding && strcasecmp(encoding, "gzip") != 0 && strcasecmp(encoding, "identity") != 0) {
        count_rejected_request(c, "unsupported_encoding");
        sl_http_error(resp, 415, "Content-Encoding '%s' is not supported (use gzip or none)",
                      encoding);
        return 0;
    }
    return cfg->collector_max_body;
}

static void collector_on_request(void *arg, sl_http_request *req, sl_http_response *resp)
{
    sl_collector *c = arg;
    if (strcmp(req->path, "/api/collect") == 0) {
        handle_collect(c, req, resp);
    } else if (strcmp(req->path, "/health") == 0) {
        resp->status = 200;
        sl_buf_append_str(&resp->body, "{\"status\":\"ok\"}\n");
    } else if (sl_pixel_path_is_candidate(req->path)) {
        sl_pixel_handle(c->pixel, live_config(c), req, resp);
    } else {
        sl_http_error(resp, 404, "no such endpoint: %s (the collector serves POST /api/collect, "
                                 "GET /{scenario_id} and GET /health)", req->path);
    }
}

/* Every answered request, sent at once or after its appends. */
static void collector_on_done(void *arg, sl_http_request *req, const sl_http_response *resp)
{
    sl_collector *c = arg;
    if (!resp->status)
        return; /* the client left before an answer */
    count_request(c, resp->status);
    if (req->ready_us && strcmp(req->path, "/api/collect") == 0)
        sl_histogram_observe(sl_metric_get0(c->latency),
                             (double)(sl_mono_us() - req->ready_us) / 1e6);
}

int sl_collector_start(const sl_config *const *cfg_ref, sl_log *log, sl_collector **out)
{
    const sl_config *cfg = *cfg_ref;
    sl_collector *c = sl_calloc(1, sizeof *c);
    c->cfg_ref = cfg_ref;
    c->log = log;
    c->requests = sl_metrics_family("sluice_collector_requests_total",
                                    "HTTP requests answered by the collector, by status code.",
                                    SL_COUNTER, "code");
    c->requests_200 = sl_metric_get1(c->requests, "200");
    c->accepted = sl_metrics_family("sluice_collector_events_accepted_total",
                                    "Events appended to the log by the collector.", SL_COUNTER,
                                    "topic");
    c->rejected = sl_metrics_family("sluice_collector_events_rejected_total",
                                    "Events rejected by the collector (kept in _dlq), by reason.",
                                    SL_COUNTER, "topic,reason");
    c->rejected_requests = sl_metrics_family(
        "sluice_collector_requests_rejected_total",
        "Whole requests refused by the collector, by reason.", SL_COUNTER, "reason");
    c->bytes = sl_metrics_family("sluice_collector_event_bytes_total",
                                 "Bytes of accepted events.", SL_COUNTER, "topic");
    c->latency = sl_metrics_family("sluice_collector_request_seconds",
                                   "Time from a complete request to its acknowledgement.",
                                   SL_HISTOGRAM, "");
    c->pixel = sl_pixel_new(log);
    sl_http_handlers h = { .on_headers = collector_on_headers,
                           .on_request = collector_on_request,
                           .on_done = collector_on_done,
                           .arg = c };
    /* Requests that wait are suspended, so a few workers serve everyone. */
    int threads = (int)cfg->collector.threads;
    if (threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (int)cores : 2;
    }
    int rc = sl_http_server_start_epoll(TAG, cfg->collector.listen, threads, &h, &c->http);
    if (rc < 0) {
        sl_pixel_free(c->pixel);
        free(c);
        return rc;
    }
    SL_INFO(TAG, "listening on %s (port %d)", cfg->collector.listen,
            sl_http_server_port(c->http));
    *out = c;
    return 0;
}

int sl_collector_port(const sl_collector *c)
{
    return sl_http_server_port(c->http);
}

void sl_collector_quiesce(sl_collector *c)
{
    if (c)
        sl_http_server_quiesce(c->http);
}

void sl_collector_stop(sl_collector *c)
{
    if (!c)
        return;
    sl_http_server_stop(c->http);
    sl_pixel_free(c->pixel);
    free(c);
}
