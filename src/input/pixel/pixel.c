/*
 * pixel.c - the tracking pixel (see pixel.h): the event builder shared with
 * the NGINX tail input, and the collector's GET /{scenario_id} handler.
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
#include "core/timestamp.h"
#include "core/utf8.h"
#include "input/http/ingest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define TAG "collector"

/*
 * The smallest transparent GIF: GIF89a, a 1x1 logical screen with a
 * two-colour global table, a graphic control extension marking colour 0
 * transparent, and one 1x1 image whose LZW data (minimum code size 2) is
 * clear, index 0, end: the codes 4, 0, 5 in three bits each, packed LSB
 * first into 0x44 0x01.
 */
const unsigned char sl_pixel_gif[] = {
    'G', 'I', 'F', '8', '9', 'a',
    0x01, 0x00, 0x01, 0x00,         /* width 1, height 1 */
    0x80, 0x00, 0x00,               /* global colour table of 2, background 0, aspect 0 */
    0x00, 0x00, 0x00,               /* colour 0: black (transparent below) */
    0xFF, 0xFF, 0xFF,               /* colour 1: white */
    0x21, 0xF9, 0x04, 0x01,         /* graphic control extension: transparency on */
    0x00, 0x00, 0x00, 0x00,         /* delay 0, transparent index 0, terminator */
    0x2C, 0x00, 0x00, 0x00, 0x00,   /* image descriptor at (0,0) */
    0x01, 0x00, 0x01, 0x00, 0x00,   /* 1x1, no local table */
    0x02, 0x02, 0x44, 0x01, 0x00,   /* LZW min code size 2; one 2-byte block; end */
    0x3B,                           /* trailer */
};
const size_t sl_pixel_gif_len = sizeof sl_pixel_gif;

/* ---- JSON text ------------------------------------------------------------- */

/* True when none of the eight bytes is '"', '\\', a control byte or >= 0x80. */
static inline bool word_is_plain(uint64_t w)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    uint64_t control = (w - ones * 0x20) & ~w;
    uint64_t is_quote = (quote - ones) & ~quote, is_bslash = (bslash - ones) & ~bslash;
    return ((control | is_quote | is_bslash | w) & highs) == 0;
}

void sl_pixel_append_json_text(sl_buf *out, sl_view text)
{
    const unsigned char *s = (const unsigned char *)text.ptr;
    size_t i = 0;
    /* The common case, printable ASCII, is one copy; checked 8 bytes at a time. */
    for (; i + 8 <= text.len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (!word_is_plain(w))
            break;
    }
    while (i < text.len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
        i++;
    if (i == text.len) {
        sl_buf_reserve(out, text.len + 2);
        char *d = out->data + out->len;
        d[0] = '"';
        memcpy(d + 1, text.ptr, text.len);
        d[text.len + 1] = '"';
        out->len += text.len + 2;
        out->data[out->len] = '\0';
        return;
    }
    if (sl_utf8_check(text.ptr + i, text.len - i) == text.len - i) {
        sl_buf_append_json_string(out, text.ptr, text.len);
        return;
    }
    sl_buf clean = SL_BUF_INIT;
    sl_buf_reserve(&clean, text.len + 16);
    for (size_t k = 0; k < text.len;) {
        size_t n = sl_utf8_sequence(s + k, text.len - k);
        if (n == 0) {
            sl_buf_append(&clean, "\xEF\xBF\xBD", 3);
            k++;
        } else {
            sl_buf_append(&clean, s + k, n);
            k += n;
        }
    }
    sl_buf_append_json_string(out, clean.data, clean.len);
    sl_buf_free(&clean);
}

/* ---- the event --------------------------------------------------------------- */

sl_pixel_builder *sl_pixel_builder_new(void)
{
    return sl_calloc(1, sizeof(sl_pixel_builder));
}

void sl_pixel_builder_free(sl_pixel_builder *b)
{
    if (!b)
        return;
    sl_buf_free(&b->scratch);
    free(b);
}

static bool is_reserved(sl_view key)
{
    switch (key.len) {
    case 2: return memcmp(key.ptr, "ip", 2) == 0 || memcmp(key.ptr, "ts", 2) == 0;
    case 7: return memcmp(key.ptr, "referer", 7) == 0;
    case 10: return memcmp(key.ptr, "user_agent", 10) == 0;
    case 11: return memcmp(key.ptr, "scenario_id", 11) == 0;
    default: return false;
    }
}

/* ,"name": then value as a JSON string; nothing when the value is absent. */
static void append_member(sl_buf *out, const char *member, size_t member_len, sl_view value)
{
    if (!value.ptr)
        return;
    sl_buf_append(out, member, member_len);
    sl_pixel_append_json_text(out, value);
}
#define APPEND_MEMBER(out, lit, value) append_member((out), (lit), sizeof(lit) - 1, (value))

/* ,"ts":"2025-06-18T03:50:10.123456Z"; the part up to the seconds is kept
   from the previous call, as consecutive events are mostly in one second. */
static void append_ts(sl_pixel_builder *b, sl_buf *out, int64_t ts_us)
{
    int64_t sec = ts_us >= 0 ? ts_us / 1000000 : (ts_us - 999999) / 1000000;
    if (!b->iso_valid || sec != b->iso_sec) {
        char iso[40];
        sl_timestamp_format_iso(sec * 1000000, iso, sizeof iso);
        char *dot = strchr(iso, '.');
        b->iso_len = dot ? (size_t)(dot - iso) : strlen(iso);
        memcpy(b->iso, iso, b->iso_len);
        b->iso_sec = sec;
        b->iso_valid = true;
    }
    uint32_t frac = (uint32_t)(ts_us - sec * 1000000);
    sl_buf_reserve(out, b->iso_len + 20);
    char *d = out->data + out->len;
    memcpy(d, ",\"ts\":\"", 7);
    memcpy(d + 7, b->iso, b->iso_len);
    d += 7 + b->iso_len;
    *d++ = '.';
    for (int k = 5; k >= 0; k--, frac /= 10)
        d[k] = (char)('0' + frac % 10);
    d += 6;
    memcpy(d, "Z\"}", 3);
    out->len = (size_t)(d + 3 - out->data);
    out->data[out->len] = '\0';
}

int sl_pixel_event_build(sl_pixel_builder *b, const sl_pixel_hit *hit, sl_buf *out, sl_view *key,
                         sl_pixel_error *err)
{
    sl_query_error qerr = { 0 };
    int64_t sid;
    *key = SL_VIEW_NULL;
    if (sl_query_scenario_id(hit->path, &sid, &qerr) < 0) {
        err->reason = "bad_scenario_id";
        err->offset = qerr.offset;
        snprintf(err->message, sizeof err->message, "%s", qerr.message);
        return SL_ERR_PARSE;
    }
    b->query.count = 0;
    if (hit->query.len) {
        sl_buf_reset(&b->scratch);
        sl_buf_reserve(&b->scratch, hit->query.len + 1);
        int rc = sl_query_parse(hit->query.ptr, hit->query.len, &b->query, b->scratch.data,
                                b->scratch.cap, &qerr);
        if (rc < 0) {
            err->reason = "bad_query";
            err->offset = qerr.offset;
            snprintf(err->message, sizeof err->message, "query: %s", qerr.message);
            return SL_ERR_PARSE;
        }
    }
    for (size_t i = 0; i < b->query.count; i++)
        if (!b->query.params[i].shadowed && is_reserved(b->query.params[i].key))
            b->query.params[i].shadowed = true;

    char num[40] = "{\"scenario_id\":";
    size_t k = 15, digits = 0;
    char rev[20];
    for (uint64_t v = (uint64_t)sid; v; v /= 10)
        rev[digits++] = (char)('0' + v % 10);
    while (digits)
        num[k++] = rev[--digits];
    sl_buf_append(out, num, k);
    bool comma = true;
    sl_query_append_json(&b->query, out, &comma);
    APPEND_MEMBER(out, ",\"ip\":", hit->ip);
    APPEND_MEMBER(out, ",\"user_agent\":", hit->user_agent);
    APPEND_MEMBER(out, ",\"referer\":", hit->referer);
    append_ts(b, out, hit->ts_us);

    sl_view member;
    if (sl_query_get(&b->query, "memberId", &member))
        *key = member;
    return 0;
}

bool sl_pixel_path_is_candidate(const char *path)
{
    if (!path || path[0] != '/' || path[1] == '\0')
        return false;
    if (strchr(path + 1, '/'))
        return false;
    static const char *const own[] = { "/health", "/favicon.ico", "/robots.txt", "/api",
                                       "/metrics" };
    for (size_t i = 0; i < SL_ARRAY_LEN(own); i++)
        if (strcmp(path, own[i]) == 0)
            return false;
    return true;
}

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
