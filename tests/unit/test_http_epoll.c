/*
 * test_http_epoll.c - the epoll engine (src/http/server_epoll.c) over real
 * sockets on 127.0.0.1: chunked bodies, pipelining with a suspended request
 * in the middle, 100-continue, the limits (431, 413 from on_headers, 400),
 * HTTP/1.0, a client that leaves while its request is suspended, and many
 * connections at once. Every wait is bounded; nothing asserts on timing.
 */
#include "http/server.h"
#include "core/alloc.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The test clients write to sockets the server may have closed (an error
   answer closes the connection): an EPIPE, not a death, as in `sluice run`. */
__attribute__((constructor)) static void ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

static void sleep_ms(int ms)
{
    nanosleep(&(struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L }, NULL);
}

/* ---- handlers ------------------------------------------------------------------ */

static atomic_int done_count, done_zero, resumed_count, suspended_count;

typedef struct later {
    sl_http_request *req;
    sl_http_response *resp;
    int delay_ms;
} later;

static void *resume_later(void *arg)
{
    later *l = arg;
    sleep_ms(l->delay_ms);
    l->resp->status = 200;
    sl_buf_printf(&l->resp->body, "later %s", l->req->raw_query);
    sl_http_request *req = l->req;
    free(l);
    atomic_fetch_add(&resumed_count, 1);
    sl_http_resume(req);
    return NULL;
}

static int64_t on_headers(void *arg, sl_http_request *req, sl_http_response *resp)
{
    (void)arg;
    if (strcmp(req->path, "/limited") == 0 && req->content_length > 100) {
        sl_http_error(resp, 413, "too big");
        return 0;
    }
    if (strcmp(req->path, "/upload") == 0)
        return 4 << 20;
    return 1024;
}

static void on_request(void *arg, sl_http_request *req, sl_http_response *resp)
{
    (void)arg;
    if (strncmp(req->path, "/later", 6) == 0) {
        later *l = sl_calloc(1, sizeof *l);
        *l = (later){ req, resp, strcmp(req->path, "/later/slow") == 0 ? 300 : 20 };
        sl_http_suspend(req);
        atomic_fetch_add(&suspended_count, 1);
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, resume_later, l), 0);
        pthread_detach(t);
        return;
    }
    if (strcmp(req->path, "/big") == 0) { /* more than a socket buffer holds */
        resp->status = 200;
        sl_buf_reserve(&resp->body, 4 << 20);
        for (int i = 0; i < (4 << 20) / 64; i++)
            sl_buf_printf(&resp->body, "%063d\n", i);
        return;
    }
    if (strcmp(req->path, "/upload") == 0) { /* the body's length and a checksum */
        uint64_t sum = 0;
        for (size_t i = 0; i < req->body.len; i++)
            sum = sum * 31 + (unsigned char)req->body.data[i];
        resp->status = 200;
        sl_buf_printf(&resp->body, "%zu %llu", req->body.len, (unsigned long long)sum);
        return;
    }
    /* Echo what the request looked like. */
    const char *x = sl_http_header(req, "x-test");
    resp->status = 200;
    resp->content_type = "text/plain";
    sl_buf_printf(&resp->body, "%s %s?%s tl=%d x=%s body=%.*s", req->method, req->path,
                  req->raw_query, req->body_too_large, x ? x : "-", (int)req->body.len,
                  req->body.data ? req->body.data : "");
}

static void on_done(void *arg, sl_http_request *req, const sl_http_response *resp)
{
    (void)arg;
    (void)req;
    atomic_fetch_add(&done_count, 1);
    if (resp->status == 0)
        atomic_fetch_add(&done_zero, 1);
}

static sl_http_server *start(void)
{
    atomic_store(&done_count, 0);
    atomic_store(&done_zero, 0);
    atomic_store(&resumed_count, 0);
    atomic_store(&suspended_count, 0);
    sl_http_handlers h = { .on_headers = on_headers, .on_request = on_request,
                           .on_done = on_done };
    sl_http_server *srv = NULL;
    cr_assert_eq(sl_http_server_start_epoll("test", "127.0.0.1:0", 2, &h, &srv), 0);
    return srv;
}

/* ---- a raw client ---------------------------------------------------------------- */

static int connect_to(sl_http_server *srv)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t)sl_http_server_port(srv)) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        cr_assert_gt(w, 0);
        p += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

typedef struct reply {
    int status;
    bool close;                 /* Connection: close */
    bool keep_alive;            /* Connection: keep-alive */
    char body[2048];
} reply;

/* Per connection: bytes read past the last response. */
typedef struct client {
    int fd;
    char buf[65536];
    size_t len;
} client;

/* Read one response (a 100 Continue counts as one); false on EOF. */
static bool read_reply(client *c, reply *r, bool head_request)
{
    memset(r, 0, sizeof *r);
    for (int rounds = 0; rounds < 1000; rounds++) {
        c->buf[c->len] = '\0';
        char *end = strstr(c->buf, "\r\n\r\n");
        if (end) {
            size_t head = (size_t)(end + 4 - c->buf);
            r->status = atoi(c->buf + 9);
            *end = '\0';
            r->close = strcasestr(c->buf, "\r\nConnection: close") != NULL;
            r->keep_alive = strcasestr(c->buf, "\r\nConnection: keep-alive") != NULL;
            char *cl = strcasestr(c->buf, "\r\nContent-Length:");
            size_t want = cl && !head_request ? (size_t)atol(cl + 17) : 0;
            *end = '\r';
            if (c->len >= head + want) {
                snprintf(r->body, sizeof r->body, "%.*s", (int)want, c->buf + head);
                memmove(c->buf, c->buf + head + want, c->len - head - want);
                c->len -= head + want;
                return true;
            }
        }
        cr_assert_lt(c->len, sizeof c->buf - 1);
        ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
        if (n <= 0)
            return false;
        c->len += (size_t)n;
    }
    cr_assert_fail("no whole response");
    return false;
}

/* Read one answer of any size, keeping none of its body; returns its length. */
static size_t read_big(client *c)
{
    char *end = NULL;
    for (int rounds = 0; rounds < 1000 && !end; rounds++) {
        c->buf[c->len] = '\0';
        end = strstr(c->buf, "\r\n\r\n");
        if (!end) {
            ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
            cr_assert_gt(n, 0);
            c->len += (size_t)n;
        }
    }
    cr_assert_not_null(end);
    size_t head = (size_t)(end + 4 - c->buf);
    char *cl = strcasestr(c->buf, "Content-Length:");
    cr_assert(cl && cl < end);
    size_t total = (size_t)atol(cl + 15), buffered = c->len - head;
    size_t from_buf = buffered < total ? buffered : total;
    memmove(c->buf, c->buf + head + from_buf, c->len - head - from_buf);
    c->len -= head + from_buf;
    char scratch[65536];
    for (size_t left = total - from_buf; left;) { /* exactly the rest: nothing of the next */
        ssize_t n = read(c->fd, scratch, left < sizeof scratch ? left : sizeof scratch);
        cr_assert_gt(n, 0);
        left -= (size_t)n;
    }
    return total;
}

/* After the server's last answer the connection ends (EOF, or a reset). */
static bool closed_by_server(client *c)
{
    char b[256];
    ssize_t n = read(c->fd, b, sizeof b);
    return n <= 0;
}

/* ---- tests -------------------------------------------------------------------------- */

Test(http_epoll, chunked_body_with_extensions_and_trailers)
{
    sl_http_server *srv = start();
    client c = { .fd = connect_to(srv) };
    reply r;
    send_str(c.fd, "POST /echo?q=1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                   "X-Test: yes\r\n\r\n5;ext=\"v\"\r\nhello\r\n6\r\n world\r\n");
    sleep_ms(20); /* the body in two reads */
    send_str(c.fd, "0\r\nX-Trailer: t\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "POST /echo?q=1 tl=0 x=yes body=hello world");
    /* More than accepted (1024): the handler sees body_too_large. */
    send_str(c.fd, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[600];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 3; i++) {
        send_str(c.fd, "258\r\n");
        send_all(c.fd, chunk, sizeof chunk);
        send_str(c.fd, "\r\n");
    }
    send_str(c.fd, "0\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_str_eq(r.body, "POST /echo? tl=1 x=- body=");
    /* A malformed chunk size: 400 and the connection closes. */
    send_str(c.fd, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 400);
    cr_assert(r.close);
    cr_assert(closed_by_server(&c));
    close(c.fd);
    sl_http_server_stop(srv);
    cr_assert_eq(atomic_load(&done_count), 3);
}

/* Three pipelined requests, the middle one suspended: answered in order. */
Test(http_epoll, pipelined_with_a_suspended_request_in_the_middle)
{
    sl_http_server *srv = start();
    client c = { .fd = connect_to(srv) };
    reply r;
    for (int round = 0; round < 20; round++) {
        char req[512];
        snprintf(req, sizeof req,
                 "GET /echo?a=%d HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /later?b=%d HTTP/1.1\r\nHost: t\r\n\r\n"
                 "POST /echo?c=%d HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz",
                 round, round, round);
        send_str(c.fd, req);
        char want[64];
        cr_assert(read_reply(&c, &r, false));
        snprintf(want, sizeof want, "GET /echo?a=%d tl=0 x=- body=", round);
        cr_assert_str_eq(r.body, want);
        cr_assert(read_reply(&c, &r, false));
        snprintf(want, sizeof want, "later b=%d", round);
        cr_assert_str_eq(r.body, want);
        cr_assert(read_reply(&c, &r, false));
        snprintf(want, sizeof want, "POST /echo?c=%d tl=0 x=- body=xyz", round);
        cr_assert_str_eq(r.body, want);
    }
    close(c.fd);
    sl_http_server_stop(srv);
    cr_assert_eq(atomic_load(&done_count), 60);
}

Test(http_epoll, expect_100_continue)
{
    sl_http_server *srv = start();
    client c = { .fd = connect_to(srv) };
    reply r;
    send_str(c.fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                   "Expect: 100-continue\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 100);
    send_str(c.fd, "abcde");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "POST /echo? tl=0 x=- body=abcde");
    /* Refused by on_headers: no 100, a 413, and the connection closes
       (the client still holds the body). */
    send_str(c.fd, "POST /limited HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
                   "Expect: 100-continue\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 413);
    cr_assert(r.close);
    cr_assert(closed_by_server(&c));
    close(c.fd);
    /* Announced beyond what on_headers accepts: 413 at once. */
    c = (client){ .fd = connect_to(srv) };
    send_str(c.fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
                   "Expect: 100-continue\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 413);
    cr_assert(closed_by_server(&c));
    close(c.fd);
    sl_http_server_stop(srv);
}

/* 413 from on_headers for a body the client sends anyway: the body is
   read and dropped, and the connection serves the next request. */
Test(http_epoll, refused_body_is_skipped_on_keep_alive)
{
    sl_http_server *srv = start();
    client c = { .fd = connect_to(srv) };
    reply r;
    char body[3000];
    memset(body, 'b', sizeof body);
    send_str(c.fd, "POST /limited HTTP/1.1\r\nHost: t\r\nContent-Length: 3000\r\n\r\n");
    send_all(c.fd, body, sizeof body);
    send_str(c.fd, "GET /echo?after HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 413);
    cr_assert_not(r.close);
    cr_assert(read_reply(&c, &r, false));
    cr_assert_str_eq(r.body, "GET /echo?after tl=0 x=- body=");
    close(c.fd);
    sl_http_server_stop(srv);
}

Test(http_epoll, oversized_head_is_431)
{
    sl_http_server *srv = start();
    client c = { .fd = connect_to(srv) };
    reply r;
    send_str(c.fd, "GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: ");
    char big[17000];
    memset(big, 'x', sizeof big);
    send_all(c.fd, big, sizeof big);
    send_str(c.fd, "\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 431);
    cr_assert(r.close);
    cr_assert(closed_by_server(&c));
    close(c.fd);
    /* Just under the limit is fine. */
    c = (client){ .fd = connect_to(srv) };
    send_str(c.fd, "GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: ");
    send_all(c.fd, big, 16000);
    send_str(c.fd, "\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 200);
    close(c.fd);
    sl_http_server_stop(srv);
    cr_assert_eq(atomic_load(&done_count), 1, "a refused head is no request");
}

Test(http_epoll, garbage_is_400_and_closes)
{
    sl_http_server *srv = start();
    const char *bad[] = { "garbage\r\n\r\n", "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
                          "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                          "\x16\x03\x01\x02\xfc\x03\x03 / HTTP/1.1\r\n\r\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        client c = { .fd = connect_to(srv) };
        reply r;
        send_str(c.fd, bad[i]);
        cr_assert(read_reply(&c, &r, false), "%zu", i);
        cr_assert_eq(r.status, 400, "%zu", i);
        cr_assert(r.close);
        cr_assert(closed_by_server(&c));
        close(c.fd);
    }
    client c = { .fd = connect_to(srv) };
    reply r;
    send_str(c.fd, "GET / HTTP/3.0\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 505);
    close(c.fd);
    sl_http_server_stop(srv);
}

Test(http_epoll, http10_closes_unless_keep_alive)
{
    sl_http_server *srv = start();
    client c = { .fd = connect_to(srv) };
    reply r;
    send_str(c.fd, "GET /echo?v=10 HTTP/1.0\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 200);
    cr_assert(r.close);
    cr_assert(closed_by_server(&c));
    close(c.fd);
    c = (client){ .fd = connect_to(srv) };
    for (int i = 0; i < 3; i++) {
        send_str(c.fd, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        cr_assert(read_reply(&c, &r, false));
        cr_assert(r.keep_alive);
    }
    send_str(c.fd, "HEAD /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    cr_assert(read_reply(&c, &r, true));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "");
    cr_assert(closed_by_server(&c), "HEAD sends no body, and close closes");
    close(c.fd);
    sl_http_server_stop(srv);
}

/* The client goes away while its request waits: the connection is kept
   until the resume, on_done runs once, and stop completes. */
Test(http_epoll, client_leaves_while_suspended)
{
    sl_http_server *srv = start();
    for (int i = 0; i < 4; i++) {
        int fd = connect_to(srv);
        send_str(fd, "GET /later/slow?gone HTTP/1.1\r\nHost: t\r\n\r\n");
        for (int t = 0; t < 500 && atomic_load(&suspended_count) <= i; t++)
            sleep_ms(5);
        if (i % 2) { /* a reset rather than a FIN */
            struct linger lg = { 1, 0 };
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(fd);
    }
    for (int t = 0; t < 500 && atomic_load(&done_count) < 4; t++)
        sleep_ms(10);
    cr_assert_eq(atomic_load(&resumed_count), 4);
    cr_assert_eq(atomic_load(&done_count), 4);
    /* And the server still serves. */
    client c = { .fd = connect_to(srv) };
    reply r;
    send_str(c.fd, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    close(c.fd);
    sl_http_server_stop(srv);
    cr_assert_eq(atomic_load(&done_count), 5);
}

/* A client that sends a request then half-closes still gets its answer. */
Test(http_epoll, half_closed_client_gets_answers)
{
    sl_http_server *srv = start();
    client c = { .fd = connect_to(srv) };
    reply r;
    send_str(c.fd, "GET /later?x HTTP/1.1\r\nHost: t\r\n\r\nGET /echo?y HTTP/1.1\r\nHost: t\r\n\r\n");
    shutdown(c.fd, SHUT_WR);
    cr_assert(read_reply(&c, &r, false));
    cr_assert_str_eq(r.body, "later x");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_str_eq(r.body, "GET /echo?y tl=0 x=- body=");
    cr_assert(closed_by_server(&c));
    close(c.fd);
    sl_http_server_stop(srv);
}

/* Many connections open at once, each answered; an incomplete request on
   each when the server stops is not answered (on_done sees 0). */
Test(http_epoll, many_connections)
{
    enum { N = 300 };
    sl_http_server *srv = start();
    static client cs[N];
    reply r;
    for (int i = 0; i < N; i++) {
        cs[i] = (client){ .fd = connect_to(srv) };
        char req[128];
        snprintf(req, sizeof req, "GET /%s?i=%d HTTP/1.1\r\nHost: t\r\n\r\n",
                 i % 3 ? "echo" : "later", i);
        send_str(cs[i].fd, req);
    }
    for (int i = 0; i < N; i++) {
        cr_assert(read_reply(&cs[i], &r, false));
        cr_assert_eq(r.status, 200, "%d", i);
        send_str(cs[i].fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    }
    for (int t = 0; t < 500 && atomic_load(&done_count) < N; t++)
        sleep_ms(5);
    sl_http_server_quiesce(srv);
    sl_http_server_stop(srv);
    cr_assert_eq(atomic_load(&done_count), 2 * N);
    cr_assert_eq(atomic_load(&done_zero), N);
    for (int i = 0; i < N; i++) {
        cr_assert(closed_by_server(&cs[i]));
        close(cs[i].fd);
    }
}

/* After quiesce, no new connection is accepted; open ones are served. */
Test(http_epoll, quiesce_stops_accepting)
{
    sl_http_server *srv = start();
    client c = { .fd = connect_to(srv) };
    reply r;
    send_str(c.fd, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n"); /* accepted for sure */
    cr_assert(read_reply(&c, &r, false));
    sl_http_server_quiesce(srv);
    int port = sl_http_server_port(srv);
    bool refused = false;
    for (int t = 0; t < 200 && !refused; t++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        refused = connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0;
        close(fd);
        if (!refused)
            sleep_ms(5);
    }
    cr_assert(refused);
    send_str(c.fd, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert(read_reply(&c, &r, false));
    cr_assert_eq(r.status, 200);
    close(c.fd);
    sl_http_server_stop(srv);
}

/* Big bodies both ways: an upload read across many reads (the head stays
   put), and pipelined answers larger than the socket buffer, sent as the
   client takes them (EPOLLOUT). */
Test(http_epoll, large_bodies_and_partial_writes)
{
    sl_http_server *srv = start();
    client c = { .fd = connect_to(srv) };
    reply r;
    size_t n = 3 << 20;
    char *body = malloc(n);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        body[i] = (char)('a' + i % 26);
        sum = sum * 31 + (unsigned char)body[i];
    }
    char head[128], want[64];
    snprintf(head, sizeof head, "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
    send_str(c.fd, head);
    send_all(c.fd, body, n);
    cr_assert(read_reply(&c, &r, false));
    snprintf(want, sizeof want, "%zu %llu", n, (unsigned long long)sum);
    cr_assert_str_eq(r.body, want);
    free(body);

    send_str(c.fd, "GET /big HTTP/1.1\r\nHost: t\r\n\r\nGET /big HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /echo?last HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_ms(100); /* the server fills the socket and waits */
    for (int k = 0; k < 2; k++)
        cr_assert_eq(read_big(&c), 4u << 20);
    cr_assert(read_reply(&c, &r, false));
    cr_assert_str_eq(r.body, "GET /echo?last tl=0 x=- body=");
    close(c.fd);
    sl_http_server_stop(srv);
}

/* A client that leaves in the middle of a body: on_done sees status 0. */
Test(http_epoll, client_leaves_mid_body)
{
    sl_http_server *srv = start();
    int fd = connect_to(srv);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    sleep_ms(20);
    close(fd);
    for (int t = 0; t < 500 && atomic_load(&done_count) < 1; t++)
        sleep_ms(5);
    cr_assert_eq(atomic_load(&done_count), 1);
    cr_assert_eq(atomic_load(&done_zero), 1);
    sl_http_server_stop(srv);
    cr_assert_eq(atomic_load(&done_count), 1);
}
