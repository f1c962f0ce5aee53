/*
 * fuzz_http_request.c - libFuzzer target for the epoll engine's request
 * parser (src/http/parse.c), fed as a connection would feed it.
 *
 * Byte 0 picks the size of the pieces the stream arrives in; the rest is
 * the stream: requests one after another, as a pipelining client sends
 * them. For each, what must hold:
 *
 *   - the head's end is found at the same place whether the bytes come
 *     whole or in pieces, and only once the whole head is there;
 *   - every string the parsed head hands out lies inside the head and is
 *     NUL-terminated there; at most 100 fields; a refusal is one of the
 *     statuses parse.h names;
 *   - a chunked body decodes to the same bytes, consumed up to the same
 *     place, whole or in pieces, and never to more bytes than came in.
 *
 * The stream is copied into a buffer of exactly its size, so that
 * AddressSanitizer sees any read past the end.
 */
#include "core/buf.h"
#include "http/parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_http_request: check failed: %s: ", #cond);   \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

static sl_http_head head;

static void inside(const char *s, const char *buf, size_t len, const char *what)
{
    if (strcmp(s, "/") == 0 || *s == '\0')
        if (s < buf || s >= buf + len)
            return; /* the parser's own constants for "/" and "" */
    CHECK(s >= buf && s < buf + len, "%s outside the head", what);
    CHECK(memchr(s, '\0', (size_t)(buf + len - s)) != NULL, "%s not terminated", what);
}

static void collect(void *arg, const char *p, size_t n)
{
    sl_buf_append(arg, p, n);
}

/* Decode a chunked body from in[0, n) in pieces of step; -1 malformed,
   -2 incomplete, else the bytes consumed. */
static ssize_t dechunk(const char *in, size_t n, size_t step, sl_buf *out)
{
    sl_http_chunked d = { 0 };
    size_t pos = 0;
    while (pos < n && !d.done) {
        size_t piece = n - pos < step ? n - pos : step;
        ssize_t used = sl_http_chunked_feed(&d, in + pos, piece, collect, out);
        if (used < 0)
            return -1;
        CHECK((size_t)used <= piece, "consumed more than fed");
        CHECK((size_t)used == piece || d.done, "stopped early without being done");
        pos += (size_t)used;
    }
    return d.done ? (ssize_t)pos : -2;
}

/* One request at the start of buf[0, len); returns the bytes it used, 0 to stop. */
static size_t one_request(char *buf, size_t len, size_t step)
{
    size_t scanned = 0, whole = sl_http_head_end(buf, len, &scanned);
    size_t end = 0, have = 0;
    scanned = 0;
    while (!end && have < len) {
        have = have + step < len ? have + step : len;
        end = sl_http_head_end(buf, have, &scanned);
        CHECK(end <= have, "end past the bytes");
    }
    CHECK(end == whole, "pieces of %zu: end %zu, whole %zu", step, end, whole);
    if (!end)
        return 0;
    int rc = sl_http_head_parse(buf, end, &head);
    CHECK(rc == 0 || rc == 400 || rc == 431 || rc == 501 || rc == 505, "status %d", rc);
    if (rc)
        return 0;
    CHECK(head.nfields <= SL_HTTP_MAX_HEADERS, "%zu fields", head.nfields);
    CHECK(head.minor == 0 || head.minor == 1, "minor %d", head.minor);
    CHECK(head.content_length >= -1, "content length %lld", (long long)head.content_length);
    CHECK(!(head.chunked && head.content_length >= 0), "two framings");
    inside(head.method, buf, end, "method");
    inside(head.path, buf, end, "path");
    inside(head.query, buf, end, "query");
    for (size_t i = 0; i < head.nfields; i++) {
        inside(head.fields[i].name, buf, end, "name");
        inside(head.fields[i].value, buf, end, "value");
        CHECK(sl_http_head_field(&head, head.fields[i].name) != NULL, "field not found");
    }
    size_t used = end;
    if (head.chunked) {
        sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT;
        ssize_t ra = dechunk(buf + end, len - end, len, &a);
        ssize_t rb = dechunk(buf + end, len - end, step, &b);
        CHECK(ra == rb, "whole %zd, pieces %zd", ra, rb);
        CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0),
              "decoded bytes differ");
        CHECK(a.len <= len - end, "more data out than in");
        sl_buf_free(&a);
        sl_buf_free(&b);
        if (ra < 0)
            return 0;
        used += (size_t)ra;
    } else if (head.content_length > 0) {
        if ((uint64_t)head.content_length > len - end)
            return 0;
        used += (size_t)head.content_length;
    }
    return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    size_t step = (size_t)data[0] % 17 + 1;
    size_t len = size - 1;
    char *buf = malloc(len ? len : 1);
    memcpy(buf, data + 1, len);
    size_t pos = 0;
    for (int i = 0; i < 64 && pos < len; i++) {
        size_t used = one_request(buf + pos, len - pos, step);
        if (!used)
            break;
        pos += used;
    }
    free(buf);
    return 0;
}
