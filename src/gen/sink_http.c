/*
 * sink_http.c - the collector target: one JSON array per POST, libcurl.
 *
 * Each sender thread owns one easy handle and reuses it for every batch,
 * so libcurl keeps the connection alive across requests and reconnects by
 * itself after an error. A batch counts as acknowledged only on a 2xx;
 * the collector answers {"accepted":N,"rejected":M,"errors":[{"index":i,
 * ...}]} and the indexes named there are marked in the batch so --truth
 * leaves them out.
 *
 * What is worth retrying (the driver does the waiting):
 *
 *   connection refused/reset, timeout        retry (the server may be restarting)
 *   408, 429, 5xx                            retry; Retry-After (seconds) honoured
 *   other 4xx (400, 401, 413, ...)           rejected: the same bytes will fail again
 *
 * Every POST carries `Idempotency-Key: gen-<seed>-<first index>-<count>`,
 * the same on each retry of a batch: when the collector appended a batch
 * but died before answering, the retry is a duplicate it can recognise.
 *
 * The handle's progress callback aborts a transfer when a second stop
 * request arrives, so a hung server cannot keep Ctrl-C waiting for the
 * request timeout.
 */
#include "gen/gen_int.h"

#include "core/alloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* A collector's answer is small; anything beyond this is not worth keeping. */
#define RESPONSE_MAX (1 << 20)

struct gen_sink {
    CURL *curl;
    struct curl_slist *headers;     /* fixed headers; the key node is linked last */
    struct curl_slist *last_header;
    struct curl_slist key_node;     /* ours, not curl's: unlinked before freeing */
    char key[96];
    uint64_t seed;
    sl_buf response;
    int64_t retry_after_ms;
    char curl_error[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code;

static void curl_init(void)
{
    curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    gen_sink *s = arg;
    size_t n = size * nmemb;
    if (s->response.len < RESPONSE_MAX)
        sl_buf_append(&s->response, data, SL_MIN(n, RESPONSE_MAX - s->response.len));
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    gen_sink *s = arg;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        /* Only delta-seconds; an HTTP-date falls back to our own backoff. */
        char tmp[32];
        size_t k = SL_MIN(n - (sizeof name - 1), sizeof tmp - 1);
        memcpy(tmp, data + sizeof name - 1, k);
        tmp[k] = '\0';
        char *end;
        long secs = strtol(tmp, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n' || *end == '\t')
            end++;
        if (end != tmp && *end == '\0' && secs >= 0)
            s->retry_after_ms = (int64_t)secs * 1000;
    }
    return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    SL_UNUSED(arg);
    SL_UNUSED(dltotal);
    SL_UNUSED(dlnow);
    SL_UNUSED(ultotal);
    SL_UNUSED(ulnow);
    return gen_stop_level() >= 2;
}

static void http_close(gen_sink *s)
{
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    if (s->last_header)
        s->last_header->next = NULL;
    curl_slist_free_all(s->headers);
    sl_buf_free(&s->response);
    free(s);
}

static int http_open(gen_sink **out, const sl_gen_options *o, char *err, size_t errlen)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_code != CURLE_OK) {
        snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(curl_init_code));
        return SL_ERR;
    }
    gen_sink *s = sl_calloc(1, sizeof *s);
    s->curl = curl_easy_init();
    if (!s->curl) {
        snprintf(err, errlen, "libcurl: cannot create a handle");
        http_close(s);
        return SL_ERR;
    }
    s->headers = curl_slist_append(s->headers, "Content-Type: application/json");
    /* Without this libcurl sends "Expect: 100-continue" for bodies over
     * 1 KiB and waits a round trip (or a second) before every POST. */
    s->headers = curl_slist_append(s->headers, "Expect:");
    if (o->token && *o->token) {
        char *h = sl_asprintf("Authorization: Bearer %s", o->token);
        s->headers = curl_slist_append(s->headers, h);
        free(h);
    }
    if (!s->headers) {
        snprintf(err, errlen, "libcurl: out of memory");
        http_close(s);
        return -ENOMEM;
    }
    for (s->last_header = s->headers; s->last_header->next;)
        s->last_header = s->last_header->next;
    s->key_node.data = s->key;
    s->key_node.next = NULL;
    s->last_header->next = &s->key_node;
    s->seed = o->seed;
    CURL *c = s->curl;
    int64_t connect_ms = SL_MIN(o->timeout_ms, 10000);
    if (curl_easy_setopt(c, CURLOPT_URL, o->url) != CURLE_OK) {
        snprintf(err, errlen, "bad URL %s", o->url);
        http_close(s);
        return -EINVAL;
    }
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->curl_error);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "sluice-gen/" SLUICE_VERSION);
    *out = s;
    return 0;
}

/* Read the collector's counts and mark the rejected indexes. A 2xx without
 * a readable body still acknowledges the whole batch. */
static void read_answer(gen_sink *s, gen_batch *b, gen_send_result *r)
{
    r->accepted = b->n;
    r->rejected = 0;
    json_t *root = json_loadb(s->response.data ? s->response.data : "", s->response.len, 0, NULL);
    if (!root)
        return;
    uint64_t marked = 0;
    json_t *errors = json_object_get(root, "errors");
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        json_t *idx = json_object_get(e, "index");
        if (json_is_integer(idx)) {
            json_int_t k = json_integer_value(idx);
            if (k >= 0 && (uint64_t)k < b->n && !b->rejected[k]) {
                b->rejected[k] = 1;
                marked++;
            }
        }
    }
    json_t *rej = json_object_get(root, "rejected");
    uint64_t rejected = marked;
    if (json_is_integer(rej) && json_integer_value(rej) >= 0)
        rejected = SL_MIN((uint64_t)json_integer_value(rej), (uint64_t)b->n);
    r->rejected = SL_MAX(rejected, marked);
    r->accepted = b->n - r->rejected;
    if (r->rejected > marked)
        snprintf(r->detail, sizeof r->detail,
                 "collector rejected %llu events but named only %llu; --truth may list some",
                 (unsigned long long)r->rejected, (unsigned long long)marked);
    json_decref(root);
}

/* The start of the answer body, printable, for messages. */
static void body_excerpt(const gen_sink *s, char *out, size_t n)
{
    size_t k = SL_MIN(s->response.len, n - 1);
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s->response.data[i];
        out[i] = (c < 0x20 || c >= 0x7f) ? ' ' : (char)c;
    }
    out[k] = '\0';
}

static void http_send(gen_sink *s, gen_batch *b, gen_send_result *r)
{
    sl_buf_reset(&s->response);
    s->retry_after_ms = -1;
    s->curl_error[0] = '\0';
    snprintf(s->key, sizeof s->key, "Idempotency-Key: gen-%llu-%llu-%u",
             (unsigned long long)s->seed, (unsigned long long)b->first, b->n);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, b->body.data);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->body.len);
    CURLcode rc = curl_easy_perform(s->curl);
    r->retry_after_ms = -1;
    if (rc != CURLE_OK) {
        r->outcome = GEN_SEND_RETRY;
        snprintf(r->detail, sizeof r->detail, "%s",
                 s->curl_error[0] ? s->curl_error : curl_easy_strerror(rc));
        return;
    }
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        r->outcome = GEN_SEND_ACKED;
        read_answer(s, b, r);
        return;
    }
    char excerpt[160];
    body_excerpt(s, excerpt, sizeof excerpt);
    snprintf(r->detail, sizeof r->detail, "HTTP %ld %s", status, excerpt);
    if (status == 408 || status == 429 || status >= 500) {
        r->outcome = GEN_SEND_RETRY;
        if (status == 429 || status == 503)
            r->retry_after_ms = s->retry_after_ms;
        return;
    }
    r->outcome = GEN_SEND_REJECTED;
}

const gen_sink_ops gen_sink_http = {
    .name = "http",
    .open_text = "[",
    .separator = ",",
    .close_text = "]",
    .open = http_open,
    .send = http_send,
    .close = http_close,
};
