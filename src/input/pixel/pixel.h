/*
 * pixel.h - the tracking pixel: `GET /{scenario_id}?<params>` on the
 * collector listener becomes one event on web.raw, answered with a 1x1
 * transparent GIF once the event is durable.
 *
 *   GET /5?e_c=buttonClick&e_n=\uace0\uba74&memberId=123456 HTTP/1.1
 *   User-Agent: Mozilla/5.0 ...            Referer: http://shop/p/1
 *
 *   -> web.raw, key "123456":
 *   {"scenario_id":5,"e_c":"buttonClick","e_n":"고면","memberId":"123456",
 *    "ip":"203.0.113.9","user_agent":"Mozilla/5.0 ...","referer":"http://shop/p/1",
 *    "ts":"2025-06-18T03:50:10.123456Z"}
 *
 * The same event comes out of an NGINX access-log line with that request
 * (src/input/tail/), so traffic taken from the pixel and traffic taken from
 * NGINX's log are interchangeable downstream. The builder below is what
 * both share: it takes the request's path and query plus the few things a
 * request carries besides them (client address, User-Agent, Referer, time)
 * and writes the event.
 *
 * The event's rules:
 *
 *   scenario_id   a JSON number, from the path (sl_query_scenario_id)
 *   parameters    decoded strings, in the order of their last occurrence
 *                 (query.h: last key wins, numbers stay strings)
 *   ip, user_agent, referer
 *                 strings; left out when the request had none (a '-' in
 *                 NGINX's log). Bytes that are not UTF-8 (a Latin-1
 *                 User-Agent) become U+FFFD: the event is always valid JSON
 *   ts            the request time, ISO-8601 UTC with microseconds
 *   reserved      the five names above are the pixel's own: a query
 *                 parameter called scenario_id, ip, user_agent, referer or
 *                 ts is left out rather than written twice into one object
 *   key           the decoded memberId when present and non-empty, so one
 *                 member's events stay in one partition, in order
 *
 * A path that is not '/' + digits, or a query that does not decode (broken
 * %-escape, invalid \u escape, bytes that are not UTF-8), is refused with a
 * reason (the metric label and _dlq reason) and a message naming the
 * parameter and byte.
 */
#ifndef SL_PIXEL_H
#define SL_PIXEL_H

#include "core/buf.h"
#include "core/config.h"
#include "http/server.h"
#include "input/pixel/query.h"
#include "log/log.h"

/* The topic pixel events go to. */
#define SL_PIXEL_TOPIC "web.raw"

/* A 1x1 transparent GIF, the pixel's answer. */
extern const unsigned char sl_pixel_gif[];
extern const size_t sl_pixel_gif_len;

/* What one hit carries; views are borrowed for the call. ptr NULL = absent. */
typedef struct sl_pixel_hit {
    sl_view path;        /* "/5" (raw) */
    sl_view query;       /* "e_c=a&..." raw, without '?' (empty: no parameters) */
    sl_view ip;
    sl_view user_agent;
    sl_view referer;
    int64_t ts_us;       /* the request time, µs since the epoch */
} sl_pixel_hit;

typedef struct sl_pixel_error {
    const char *reason;  /* static: "bad_scenario_id" or "bad_query" */
    size_t offset;       /* byte offset in the path or the query */
    char message[224];   /* "query: parameter 'e_n' at byte 23: broken %-escape ..." */
} sl_pixel_error;

/*
 * Reusable decoding state, so building an event allocates nothing once the
 * scratch has grown to the longest query seen. One builder per thread.
 */
typedef struct sl_pixel_builder {
    sl_query query;      /* the parsed parameters (large: keep it off the stack) */
    sl_buf scratch;      /* decoded bytes of the current query */
    int64_t iso_sec;     /* the last ts's second, and its ISO text up to the seconds */
    char iso[32];
    size_t iso_len;
    bool iso_valid;
} sl_pixel_builder;

/* Heap-allocated (sl_query is ~7 KiB); free with sl_pixel_builder_free. */
sl_pixel_builder *sl_pixel_builder_new(void);
void sl_pixel_builder_free(sl_pixel_builder *b); /* NULL-safe */

/*
 * Append the event of hit to out ('{' ... '}'). On success *key is the
 * decoded memberId (a view into the builder, valid until its next call;
 * empty when there is none). On failure returns SL_ERR_PARSE with *err
 * filled and out unchanged.
 */
int sl_pixel_event_build(sl_pixel_builder *b, const sl_pixel_hit *hit, sl_buf *out, sl_view *key,
                         sl_pixel_error *err);

/* Append text as a JSON string, bytes that are not UTF-8 as U+FFFD. */
void sl_pixel_append_json_text(sl_buf *out, sl_view text);

/*
 * Whether the collector should route `path` (raw, without the query) to the
 * pixel: '/' followed by one non-empty segment that is not one of the
 * listener's own names (/health, /favicon.ico, /robots.txt, /api...).
 * "/", "/a/b" and those names are not pixel paths (404); "/abc" is one and
 * is refused with 400 (a non-numeric scenario id).
 */
bool sl_pixel_path_is_candidate(const char *path);

/* ---- the HTTP side (the collector hands pixel requests here) ------------ */

typedef struct sl_pixel sl_pixel;

/* A pixel appending to log (which must outlive it). Free with sl_pixel_free. */
sl_pixel *sl_pixel_new(sl_log *log);
void sl_pixel_free(sl_pixel *px); /* NULL-safe */

/*
 * Answer one pixel request (any method; only GET is accepted). A GET
 * suspends the request (sl_http_suspend) and is answered from the log's
 * completion once the event (or, for a refused request, its _dlq envelope)
 * is durable: 200 + GIF, 400 with {"error","reason","offset"}, 404 when
 * web.raw is not declared, 503 + Retry-After when the log cannot accept.
 * Other methods get 405 at once. cfg is the config in force (retry_after).
 */
void sl_pixel_handle(sl_pixel *px, const sl_config *cfg, sl_http_request *req,
                     sl_http_response *resp);

#endif
