/*
 * test_http_parse.c - the epoll engine's request parser (src/http/parse.c):
 * heads found across reads, parsed in place, refused with the right
 * status; chunked bodies with extensions and trailers, fed whole or a
 * byte at a time.
 */
#include "http/parse.h"
#include "core/buf.h"

#include <criterion/criterion.h>
#include <string.h>

/* Parse text as a whole head; returns the parser's status. */
static int parse(const char *text, sl_http_head *h, char *copy, size_t cap)
{
    size_t len = strlen(text);
    cr_assert_lt(len, cap);
    memcpy(copy, text, len + 1);
    size_t scanned = 0;
    size_t end = sl_http_head_end(copy, len, &scanned);
    cr_assert_eq(end, len, "head end %zu of %zu in %s", end, len, text);
    return sl_http_head_parse(copy, end, h);
}

static sl_http_head head;
static char copy[32768];

Test(http_parse, request_line_fields_and_query)
{
    cr_assert_eq(parse("GET /5?e_c=x&y=%20 HTTP/1.1\r\nHost: a\r\nUser-Agent:  ua 1 \r\n"
                       "X-Empty:\r\n\r\n", &head, copy, sizeof copy), 0);
    cr_assert_str_eq(head.method, "GET");
    cr_assert_str_eq(head.path, "/5");
    cr_assert_str_eq(head.query, "e_c=x&y=%20");
    cr_assert_eq(head.minor, 1);
    cr_assert(head.keep_alive);
    cr_assert_eq(head.content_length, -1);
    cr_assert_str_eq(sl_http_head_field(&head, "user-agent"), "ua 1");
    cr_assert_str_eq(sl_http_head_field(&head, "HOST"), "a");
    cr_assert_str_eq(sl_http_head_field(&head, "x-empty"), "");
    cr_assert_null(sl_http_head_field(&head, "Referer"));
}

Test(http_parse, bare_lf_leading_blank_lines_absolute_form)
{
    cr_assert_eq(parse("\r\n\r\nPOST http://h:1/api/collect?topic=t HTTP/1.0\nContent-Length: 5\n\n",
                       &head, copy, sizeof copy), 0);
    cr_assert_str_eq(head.method, "POST");
    cr_assert_str_eq(head.path, "/api/collect");
    cr_assert_str_eq(head.query, "topic=t");
    cr_assert_eq(head.content_length, 5);
    cr_assert_not(head.keep_alive);
    cr_assert_eq(parse("GET http://h HTTP/1.1\r\n\r\n", &head, copy, sizeof copy), 0);
    cr_assert_str_eq(head.path, "/");
}

Test(http_parse, connection_and_expect)
{
    cr_assert_eq(parse("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n", &head, copy,
                       sizeof copy), 0);
    cr_assert_not(head.keep_alive);
    cr_assert_eq(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &head, copy,
                       sizeof copy), 0);
    cr_assert(head.keep_alive);
    cr_assert_eq(parse("PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 9\r\n\r\n",
                       &head, copy, sizeof copy), 0);
    cr_assert(head.expect_continue);
    cr_assert_eq(parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &head, copy,
                       sizeof copy), 0);
    cr_assert_not(head.expect_continue, "HTTP/1.0 has no 100 Continue");
}

Test(http_parse, framing_headers)
{
    cr_assert_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &head, copy,
                       sizeof copy), 0);
    cr_assert(head.chunked);
    cr_assert_eq(parse("POST / HTTP/1.1\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n",
                       &head, copy, sizeof copy), 0);
    cr_assert_eq(head.content_length, 7);
    /* Ambiguous framing is refused (request smuggling). */
    cr_assert_eq(parse("POST / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n", &head,
                       copy, sizeof copy), 400);
    cr_assert_eq(parse("POST / HTTP/1.1\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n",
                       &head, copy, sizeof copy), 400);
    cr_assert_eq(parse("POST / HTTP/1.1\r\nContent-Length: +7\r\n\r\n", &head, copy, sizeof copy),
                 400);
    cr_assert_eq(parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", &head,
                       copy, sizeof copy), 400);
    cr_assert_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", &head,
                       copy, sizeof copy), 400);
    cr_assert_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &head, copy,
                       sizeof copy), 501);
}

Test(http_parse, malformed_heads)
{
    const char *bad[] = {
        "garbage\r\n\r\n",
        "GET /\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "GET / HTTQ/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\n: novalue\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(parse(bad[i], &head, copy, sizeof copy), 400, "%zu: %s", i, bad[i]);
    cr_assert_eq(parse("GET / HTTP/2.0\r\n\r\n", &head, copy, sizeof copy), 505);
    cr_assert_eq(parse("GET / HTTP/1.2\r\n\r\n", &head, copy, sizeof copy), 505);
}

Test(http_parse, at_most_100_fields)
{
    sl_buf b = SL_BUF_INIT;
    sl_buf_append_str(&b, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++)
        sl_buf_printf(&b, "X-%d: %d\r\n", i, i);
    sl_buf_append_str(&b, "\r\n");
    cr_assert_eq(parse(b.data, &head, copy, sizeof copy), 0);
    cr_assert_eq(head.nfields, 100);
    cr_assert_str_eq(sl_http_head_field(&head, "x-99"), "99");
    b.len -= 2;
    sl_buf_append_str(&b, "X-100: 1\r\n\r\n");
    cr_assert_eq(parse(b.data, &head, copy, sizeof copy), 431);
    sl_buf_free(&b);
}

/* The end is found whatever the pieces, and only once it is there. */
Test(http_parse, head_end_across_reads)
{
    const char *text = "\r\nGET / HTTP/1.1\r\nA: b\r\n\r\nGET /next";
    size_t whole = strlen("\r\nGET / HTTP/1.1\r\nA: b\r\n\r\n");
    for (size_t step = 1; step < 8; step++) {
        size_t scanned = 0, end = 0, len = 0;
        while (!end && len < strlen(text)) {
            len = len + step < strlen(text) ? len + step : strlen(text);
            end = sl_http_head_end(text, len, &scanned);
            cr_assert(end == 0 || len >= whole);
        }
        cr_assert_eq(end, whole, "step %zu", step);
    }
    size_t scanned = 0;
    cr_assert_eq(sl_http_head_end("GET / HTTP/1.1\n\n", 16, &scanned), 16);
    scanned = 0;
    cr_assert_eq(sl_http_head_end("\r\n\r\n\r\n", 6, &scanned), 0);
}

/* ---- chunked -------------------------------------------------------------------- */

static void collect(void *arg, const char *p, size_t n)
{
    sl_buf_append(arg, p, n);
}

/* Decode text in pieces of step bytes; returns the bytes consumed or -1. */
static ssize_t decode(const char *text, size_t step, sl_buf *out)
{
    sl_http_chunked d = { 0 };
    size_t len = strlen(text), pos = 0;
    sl_buf_reset(out);
    while (pos < len && !d.done) {
        size_t n = len - pos < step ? len - pos : step;
        ssize_t used = sl_http_chunked_feed(&d, text + pos, n, collect, out);
        if (used < 0)
            return -1;
        pos += (size_t)used;
        if ((size_t)used < n)
            cr_assert(d.done);
    }
    return d.done ? (ssize_t)pos : -2;
}

Test(http_parse, chunked_bodies)
{
    sl_buf out = SL_BUF_INIT;
    const char *body = "5;name=value;x\r\nhello\r\nA\r\n world 123\r\n0\r\n\r\nGET /";
    for (size_t step = 1; step <= strlen(body); step++) {
        cr_assert_eq(decode(body, step, &out), (ssize_t)(strlen(body) - 5), "step %zu", step);
        cr_assert_eq(out.len, 15);
        cr_assert(memcmp(out.data, "hello world 123", 15) == 0);
    }
    const char *trailers = "3\r\nabc\r\n0;last\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n";
    for (size_t step = 1; step < 6; step++) {
        cr_assert_eq(decode(trailers, step, &out), (ssize_t)strlen(trailers));
        cr_assert_eq(out.len, 3);
    }
    cr_assert_eq(decode("3\nabc\n0\n\n", 1, &out), 9, "bare LF");
    cr_assert_eq(decode("0\r\n", 4, &out), -2, "not over without the final line");
    cr_assert_eq(decode("x\r\n", 4, &out), -1);
    cr_assert_eq(decode("3\r\nabcd\r\n", 4, &out), -1);
    cr_assert_eq(decode("1000000000000000\r\n", 4, &out), -1, "size overflow");
    cr_assert_eq(decode("0\r\nX\r\r\n", 4, &out), -2);
    sl_buf_free(&out);
}
