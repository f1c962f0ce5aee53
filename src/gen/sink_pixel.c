/*
 * sink_pixel.c - the tracking-pixel target: one GET per event
 * (`sluice gen web --to http://HOST:PORT`).
 *
 * A batch of the PIXEL wire (kind.h) is lines of TARGET TAB REFERER TAB
 * USER-AGENT; each becomes `GET http://HOST:PORT/TARGET` with those two
 * headers, on the sender's keep-alive connection. The URL's own path, if
 * any, is ignored: the pixel lives at the root.
 *
 * A pixel request has no idempotency key (a browser's image request
 * carries none), so a batch is not resent whole: the batch remembers how
 * many of its events were answered (delivered) and a retry goes on from
 * the first unanswered one. A request whose answer was lost (the server
 * died after appending) is sent again and may be kept twice; --truth still
 * lists it once.
 *
 *   200                    kept
 *   400 and other 4xx      refused (the event is marked rejected: not in --truth)
 *   408, 429, 5xx, no answer   retry from this event (Retry-After honoured)
 */
#include "gen/gen_int.h"

#include "core/alloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

struct gen_sink {
    CURL *curl;
    char *base;             /* scheme://host:port */
    sl_buf url;
    int64_t retry_after_ms;
    char curl_error[CURL_ERROR_SIZE];
};

static size_t discard_body(char *data, size_t size, size_t nmemb, void *arg)
{
    SL_UNUSED(data);
    SL_UNUSED(arg);
    return size * nmemb;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    gen_sink *s = arg;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        char tmp[32];
        size_t k = SL_MIN(n - (sizeof name - 1), sizeof tmp - 1);
        memcpy(tmp, data + sizeof name - 1, k);
        tmp[k] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        if (end != tmp && v >= 0)
            s->retry_after_ms = (int64_t)v * 1000;
    }
    return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void pixel_close(gen_sink *s)
{
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    free(s->base);
    sl_buf_free(&s->url);
    free(s);
}

static int pixel_open(gen_sink **out, const sl_gen_options *o, char *err, size_t errlen)
{
    pthread_once(&curl_once, curl_init);
    gen_sink *s = sl_calloc(1, sizeof *s);
    const char *scheme_end = strstr(o->url, "://");
    if (!scheme_end) {
        snprintf(err, errlen, "bad URL %s", o->url);
        free(s);
        return -EINVAL;
    }
    const char *path = strchr(scheme_end + 3, '/');
    s->base = path ? sl_strndup(o->url, (size_t)(path - o->url)) : sl_strdup(o->url);
    s->curl = curl_easy_init();
    if (!s->curl) {
        snprintf(err, errlen, "libcurl: cannot create a handle");
        pixel_close(s);
        return -ENOMEM;
    }
    CURL *c = s->curl;
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->curl_error);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)SL_MIN(o->timeout_ms, 10000));
    /* The target is sent as the tracker wrote it: no path squashing. */
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    *out = s;
    return 0;
}

/* Line i of the batch: [*start, *end) split at its two TABs. */
static const char *field(const char *p, const char *end, const char **next)
{
    const char *tab = memchr(p, '\t', (size_t)(end - p));
    *next = tab ? tab + 1 : end;
    return tab ? tab : end;
}

static void pixel_send(gen_sink *s, gen_batch *b, gen_send_result *r)
{
    const char *p = b->body.data, *body_end = b->body.data + b->body.len;
    /* Skip what an earlier attempt delivered. */
    for (uint32_t i = 0; i < b->delivered && p < body_end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(body_end - p));
        p = nl ? nl + 1 : body_end;
    }
    char referer[1024], agent[512];
    for (uint32_t i = b->delivered; i < b->n; i++) {
        const char *nl = memchr(p, '\n', (size_t)(body_end - p));
        const char *line_end = nl ? nl : body_end, *next;
        const char *target_end = field(p, line_end, &next);
        const char *ref = next, *ref_end = field(ref, line_end, &next);
        const char *ua = next, *ua_end = line_end;
        sl_buf_reset(&s->url);
        sl_buf_append_str(&s->url, s->base);
        sl_buf_append(&s->url, p, (size_t)(target_end - p));
        snprintf(referer, sizeof referer, "%.*s", (int)(ref_end - ref), ref);
        snprintf(agent, sizeof agent, "%.*s", (int)(ua_end > ua ? ua_end - ua : 0), ua);
        curl_easy_setopt(s->curl, CURLOPT_URL, s->url.data);
        curl_easy_setopt(s->curl, CURLOPT_REFERER, referer[0] ? referer : NULL);
        curl_easy_setopt(s->curl, CURLOPT_USERAGENT, agent[0] ? agent : "sluice-gen/" SLUICE_VERSION);
        s->retry_after_ms = -1;
        s->curl_error[0] = '\0';
        CURLcode rc = curl_easy_perform(s->curl);
        if (rc != CURLE_OK) {
            r->outcome = GEN_SEND_RETRY;
            snprintf(r->detail, sizeof r->detail, "%s",
                     s->curl_error[0] ? s->curl_error : curl_easy_strerror(rc));
            return;
        }
        long status = 0;
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status == 408 || status == 429 || status >= 500) {
            r->outcome = GEN_SEND_RETRY;
            r->retry_after_ms = s->retry_after_ms;
            snprintf(r->detail, sizeof r->detail, "HTTP %ld for %.100s", status, s->url.data);
            return;
        }
        if (status < 200 || status >= 300)
            b->rejected[i] = 1;
        b->delivered = i + 1;
        p = nl ? nl + 1 : body_end;
    }
    uint64_t rejected = 0;
    for (uint32_t i = 0; i < b->n; i++)
        rejected += b->rejected[i];
    r->outcome = GEN_SEND_ACKED;
    r->accepted = b->n - rejected;
    r->rejected = rejected;
}

const gen_sink_ops gen_sink_pixel = {
    .name = "pixel",
    .open_text = "",
    .separator = "\n",
    .close_text = "",
    .open = pixel_open,
    .send = pixel_send,
    .close = pixel_close,
};
