/*
 * test_http_server.c - the HTTP server layer: answers given at once, and
 * answers given later by sl_http_resume (from another thread, or before
 * the suspending handler has even returned), on a pool of epoll workers;
 * on_done sees every answer; stop waits for suspended requests. Every
 * test runs against both engines: libmicrohttpd and server_epoll.c.
 */
#include "http/server.h"
#include "core/alloc.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
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

/* ---- the handlers under test ------------------------------------------------ */

typedef struct later {
    sl_http_request *req;
    sl_http_response *resp;
    int delay_ms;
} later;

static atomic_int done_count, done_200, resumed_count, suspended_count;

static void *resume_later(void *arg)
{
    later *l = arg;
    sleep_ms(l->delay_ms);
    l->resp->status = 200;
    sl_buf_printf(&l->resp->body, "later %s\n", l->req->raw_query);
    sl_http_request *req = l->req;
    free(l);
    atomic_fetch_add(&resumed_count, 1);
    sl_http_resume(req);
    return NULL;
}

static int64_t on_headers(void *arg, sl_http_request *req, sl_http_response *resp)
{
    (void)arg;
    if (strcmp(req->path, "/early") == 0) {
        resp->status = 403;
        sl_buf_append_str(&resp->body, "early\n");
    }
    return 1024;
}

static void on_request(void *arg, sl_http_request *req, sl_http_response *resp)
{
    (void)arg;
    if (strcmp(req->path, "/now") == 0) {
        resp->status = 200;
        sl_buf_append_str(&resp->body, "now\n");
    } else if (strcmp(req->path, "/later") == 0 || strcmp(req->path, "/slow") == 0) {
        /* Suspended; a thread answers after a while, as a log completion does. */
        later *l = sl_calloc(1, sizeof *l);
        *l = (later){ req, resp, strcmp(req->path, "/slow") == 0 ? 300 : 5 };
        sl_http_suspend(req);
        atomic_fetch_add(&suspended_count, 1);
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, resume_later, l), 0);
        pthread_detach(t);
    } else if (strcmp(req->path, "/inline") == 0) {
        /* The completion runs before the handler returns. */
        sl_http_suspend(req);
        resp->status = 201;
        sl_buf_append_str(&resp->body, "inline\n");
        sl_http_resume(req);
    } else if (strcmp(req->path, "/unset") == 0) {
        sl_http_suspend(req);
        sl_http_resume(req); /* no status set: the layer answers 500 */
    } else {
        sl_http_error(resp, 404, "no %s", req->path);
    }
}

static void on_done(void *arg, sl_http_request *req, const sl_http_response *resp)
{
    (void)arg;
    (void)req;
    atomic_fetch_add(&done_count, 1);
    if (resp->status == 200)
        atomic_fetch_add(&done_200, 1);
}

static sl_http_server *start(bool epoll)
{
    atomic_store(&done_count, 0);
    atomic_store(&done_200, 0);
    atomic_store(&resumed_count, 0);
    atomic_store(&suspended_count, 0);
    sl_http_handlers h = { .on_headers = on_headers, .on_request = on_request,
                           .on_done = on_done };
    sl_http_server *srv = NULL;
    int rc = epoll ? sl_http_server_start_epoll("test", "127.0.0.1:0", 2, &h, &srv)
                   : sl_http_server_start("test", "127.0.0.1:0", 2, &h, &srv);
    cr_assert_eq(rc, 0);
    cr_assert_gt(sl_http_server_port(srv), 0);
    return srv;
}

/* ---- a minimal keep-alive client ---------------------------------------------- */

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Send GET target, read one whole response; returns its status, body in body. */
static int get(int fd, const char *target, char *body, size_t cap)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", target);
    cr_assert_eq(write(fd, req, (size_t)n), n);
    char buf[8192];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        cr_assert_gt(r, 0, "connection closed or timed out waiting for %s", target);
        len += (size_t)r;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        char *cl = strcasestr(buf, "Content-Length:");
        cr_assert(cl && cl < end, "no Content-Length in %s", buf);
        size_t want = (size_t)atol(cl + 15);
        if (len < (size_t)(end + 4 - buf) + want)
            continue;
        snprintf(body, cap, "%.*s", (int)want, end + 4);
        return atoi(buf + 9);
    }
}

/* ---- tests ------------------------------------------------------------------- */

static void answers_now_later_inline_on_one_connection(bool epoll)
{
    sl_http_server *srv = start(epoll);
    int fd = connect_to(sl_http_server_port(srv));
    char body[256];
    for (int i = 0; i < 20; i++) {
        char target[64];
        snprintf(target, sizeof target, "/later?i=%d", i);
        cr_assert_eq(get(fd, target, body, sizeof body), 200);
        char want[64];
        snprintf(want, sizeof want, "later i=%d\n", i);
        cr_assert_str_eq(body, want);
        cr_assert_eq(get(fd, "/now", body, sizeof body), 200);
        cr_assert_str_eq(body, "now\n");
        cr_assert_eq(get(fd, "/inline", body, sizeof body), 201);
        cr_assert_str_eq(body, "inline\n");
    }
    cr_assert_eq(get(fd, "/unset", body, sizeof body), 500);
    cr_assert(strstr(body, "handler set no response"), "%s", body);
    cr_assert_eq(get(fd, "/early", body, sizeof body), 403);
    cr_assert_str_eq(body, "early\n");
    close(fd);
    sl_http_server_stop(srv);
    cr_assert_eq(atomic_load(&done_count), 62);
    cr_assert_eq(atomic_load(&done_200), 40);
}

typedef struct client_arg {
    int port, requests, ok;
} client_arg;

static void *client(void *arg)
{
    client_arg *c = arg;
    int fd = connect_to(c->port);
    char body[256], target[64], want[64];
    for (int i = 0; i < c->requests; i++) {
        snprintf(target, sizeof target, "/later?c=%d&i=%d", c->port, i);
        snprintf(want, sizeof want, "later c=%d&i=%d\n", c->port, i);
        if (get(fd, target, body, sizeof body) == 200 && strcmp(body, want) == 0)
            c->ok++;
    }
    close(fd);
    return NULL;
}

/* More waiting connections than worker threads: none blocks another. */
static void many_suspended_connections_on_two_workers(bool epoll)
{
    sl_http_server *srv = start(epoll);
    enum { CLIENTS = 32, EACH = 10 };
    pthread_t t[CLIENTS];
    client_arg args[CLIENTS];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < CLIENTS; i++) {
        args[i] = (client_arg){ .port = sl_http_server_port(srv), .requests = EACH };
        pthread_create(&t[i], NULL, client, &args[i]);
    }
    int ok = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(t[i], NULL);
        ok += args[i].ok;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sl_http_server_stop(srv);
    cr_assert_eq(ok, CLIENTS * EACH);
    cr_assert_eq(atomic_load(&done_200), CLIENTS * EACH);
    /* Serialised on two threads, 320 waits of 5 ms would take 800 ms. */
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    cr_log_info("%d suspended requests on 2 workers in %.0f ms", CLIENTS * EACH, ms);
}

static void *slow_client(void *arg)
{
    int *status = arg;
    int fd = connect_to(status[0]);
    char body[256];
    status[1] = get(fd, "/slow?x=1", body, sizeof body);
    close(fd);
    return NULL;
}

/* Stopping while a request is suspended waits for its resume. */
static void stop_waits_for_suspended_requests(bool epoll)
{
    sl_http_server *srv = start(epoll);
    int status[2] = { sl_http_server_port(srv), 0 };
    pthread_t t;
    pthread_create(&t, NULL, slow_client, status);
    for (int i = 0; i < 500 && atomic_load(&suspended_count) == 0; i++)
        sleep_ms(10);
    cr_assert_eq(atomic_load(&suspended_count), 1);
    cr_assert_eq(atomic_load(&resumed_count), 0); /* it waits 300 ms */
    sl_http_server_quiesce(srv);
    sl_http_server_stop(srv);
    cr_assert_eq(atomic_load(&resumed_count), 1, "stop returned before the resume");
    pthread_join(t, NULL);
}

/* ---- each test, on each engine -------------------------------------------------- */

Test(http_server, mhd_answers_now_later_inline_on_one_connection)
{
    answers_now_later_inline_on_one_connection(false);
}
Test(http_server, epoll_answers_now_later_inline_on_one_connection)
{
    answers_now_later_inline_on_one_connection(true);
}
Test(http_server, mhd_many_suspended_connections_on_two_workers)
{
    many_suspended_connections_on_two_workers(false);
}
Test(http_server, epoll_many_suspended_connections_on_two_workers)
{
    many_suspended_connections_on_two_workers(true);
}
Test(http_server, mhd_stop_waits_for_suspended_requests)
{
    stop_waits_for_suspended_requests(false);
}
Test(http_server, epoll_stop_waits_for_suspended_requests)
{
    stop_waits_for_suspended_requests(true);
}
