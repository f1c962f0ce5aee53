/*
 * server_epoll.c - the hand-written HTTP/1.1 engine of sl_http_server (see
 * server.h), behind sl_http_server_start_epoll; the collector uses it.
 *
 * Its reason to exist is the cost per request on the collector's hot path
 * (a tracking-pixel GET on a keep-alive connection): one recv, one send,
 * and nothing else the kernel sees, where libmicrohttpd also removes and
 * re-adds the socket to epoll around each suspended request and writes an
 * eventfd per resume.
 *
 *   accept ──> worker k (round robin) ──> epoll set of worker k
 *                                            │ EPOLLIN (edge-triggered)
 *              ┌──── recv into rbuf ◄────────┘
 *              │ parse the head in place ── on_headers ── body ── on_request
 *              │                                                    │ suspend
 *              │   resume (any thread) ─> k's queue ─> eventfd ─────┘ (once per batch)
 *              └──── response appended to `out` ── one send per batch
 *
 * Each worker thread owns an epoll set, its connections and a resume queue;
 * the listening socket is in every set (EPOLLEXCLUSIVE), and the worker
 * that accepts hands a new connection to the next worker in turn, so
 * long-lived keep-alive connections spread evenly. A connection is
 * registered once, edge-triggered for input and output, and never touched
 * with epoll_ctl again: while its request is suspended its readiness is
 * only noted, and the bytes behind the request (pipelined ones) wait in
 * its read buffer until the resume.
 *
 * A connection's read buffer holds the current request's head, which the
 * request's strings point into, followed by bytes not parsed yet; its
 * output buffer gathers the responses to send. Both, and the request and
 * response structs, are reused from one request to the next.
 */
#include "http/parse.h"
#include "http/server_int.h"
#include "core/alloc.h"
#include "core/logging.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_CAP           (SL_HTTP_MAX_HEAD + 4096) /* a full head leaves room for its body */
#define MAX_CONNECTIONS    2048
#define IDLE_TIMEOUT_US    (120 * 1000000LL)  /* keep-alive with no request */
#define REQUEST_TIMEOUT_US (60 * 1000000LL)   /* a request not complete, or output not taken */
#define LINGER_TIMEOUT_US  (2 * 1000000LL)    /* reading what follows our last answer */
#define KEEP_BUF_CAP       65536              /* larger request/response buffers are freed */
#define OUTPUT_BACKLOG     65536              /* pipelined requests wait while this is unsent */
#define EVENTS_PER_WAIT    256
#define TICK_MS            250

typedef enum {
    ST_HEAD,        /* waiting for (the rest of) a request head */
    ST_BODY,        /* reading a body */
    ST_SUSPENDED,   /* on_request suspended: waiting for sl_http_resume */
    ST_CLOSING,     /* the last answer is queued: close once it is sent */
    ST_LINGER,      /* sent, write side shut: drain the client's bytes until it closes */
    ST_DEAD,        /* closed; freed at the end of the event batch */
} conn_state;

typedef struct worker worker;
typedef struct epoll_server epoll_server;

typedef struct conn {
    sl_http_exchange x;         /* first: a request pointer is a conn pointer */
    worker *w;
    int fd;
    conn_state state;
    struct conn *prev, *next;   /* the worker's connections */
    struct conn *queue_next;    /* in a worker's queue */
    bool queued_new;            /* queued as a new connection, not a resume */
    /* what the socket said */
    bool readable;              /* edge-triggered: bytes may be waiting */
    bool rdhup;                 /* the client shut its side: read until EOF */
    bool peer_eof;              /* recv returned 0 */
    bool broken;                /* reset or a send failed: nothing more can be sent */
    /* the current request */
    bool in_request;            /* on_headers ran, on_done not yet */
    bool in_handler;            /* on_request is running */
    bool resumed_inline;        /* on_request resumed its own suspension */
    bool discard_body;          /* answered before the body: read it, keep nothing */
    bool keep_alive, http10, head_method;
    int64_t accepted;           /* body bytes on_headers accepts */
    int64_t body_left;          /* Content-Length bytes still to come */
    sl_http_chunked dec;
    /* timers (monotonic µs) */
    int64_t idle_since_us, request_since_us, last_write_us;
    /* output */
    sl_buf out;
    size_t out_pos;
    /* input: rbuf[0, head_len) the current head, [rpos, rlen) not consumed */
    size_t head_len, rpos, rlen, scanned;
    sl_http_head head;
    char ip[INET6_ADDRSTRLEN];
    char rbuf[READ_CAP];
} conn;

struct worker {
    epoll_server *srv;
    pthread_t thread;
    pthread_t self;             /* set by the thread itself, for sl_http_resume */
    int epfd, wakefd;
    bool listening, left_listen;
    int64_t accept_retry_us;    /* out of descriptors: accepting paused until then */
    _Atomic(conn *) queue;      /* resumed and handed-over connections, newest first */
    conn *conns;                /* every open connection of this worker */
    conn *graveyard;            /* closed during this event batch */
    int64_t now_us, next_scan_us;
    time_t date_s;
    char date[64];
    size_t date_len;
};

struct epoll_server {
    sl_http_server base;        /* first: the engine-independent part */
    int listen_fd;
    int nworkers;
    worker *workers;
    atomic_int nconns;
    atomic_uint next_worker;
    atomic_bool quiescing, stopping;
    atomic_int left_listen;     /* workers that have dropped the listening socket */
};

static void conn_run(worker *w, conn *c);

/* ---- small helpers -------------------------------------------------------------- */

static void worker_wake(worker *w)
{
    uint64_t one = 1;
    ssize_t rc = write(w->wakefd, &one, sizeof one);
    (void)rc; /* EAGAIN: the counter is already non-zero, the wake-up is pending */
}

/* The Date header, formatted again only when the second changes. */
static void worker_date(worker *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec == w->date_s)
        return;
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    w->date_s = ts.tv_sec;
    w->date_len = strftime(w->date, sizeof w->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

static void append_uint(sl_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sl_buf_append(b, tmp + i, sizeof tmp - i);
}

/* ---- the queue: resumes and new connections from other threads ------------------- */

/*
 * A lock-free stack: resuming threads push, the worker takes the whole
 * stack at once (an exchange, so no ABA) and serves it oldest first. Only
 * the push that finds the stack empty writes the eventfd: one wake-up
 * serves every resume that arrives before the worker drains it. The
 * release of the push publishes the response the resuming thread set.
 */
static void queue_push(worker *w, conn *c, bool is_new)
{
    c->queued_new = is_new;
    conn *old = atomic_load_explicit(&w->queue, memory_order_relaxed);
    do {
        c->queue_next = old;
    } while (!atomic_compare_exchange_weak_explicit(&w->queue, &old, c, memory_order_release,
                                                    memory_order_relaxed));
    if (!old)
        worker_wake(w);
}

/* Take the whole queue, oldest first. The eventfd is read before this, so
   a push that comes after finds the stack empty and wakes us again. */
static conn *queue_take(worker *w)
{
    conn *c = atomic_exchange_explicit(&w->queue, NULL, memory_order_acquire), *fifo = NULL;
    while (c) {
        conn *next = c->queue_next;
        c->queue_next = fifo;
        fifo = c;
        c = next;
    }
    return fifo;
}

/* ---- connections: life and death ----------------------------------------------------- */

static void conn_attach(worker *w, conn *c)
{
    c->w = w;
    c->idle_since_us = c->last_write_us = w->now_us;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    /* Registered once for both directions, edge-triggered: no epoll_ctl
       per request, and a write that would block is resumed by EPOLLOUT. */
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                              .data.ptr = c };
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        SL_LOG_ERRNO(SL_LOG_WARN, w->srv->base.tag, -errno, "epoll_ctl(ADD) of a connection");
        c->broken = true;
        c->state = ST_CLOSING;
    }
}

/* Forget the request's per-request state; its buffers are kept for the next. */
static void request_reset(conn *c)
{
    sl_http_request *req = &c->x.req;
    sl_http_response *resp = &c->x.resp;
    if (req->body.cap > KEEP_BUF_CAP)
        sl_buf_free(&req->body);
    sl_buf_reset(&req->body);
    if (resp->body.cap > KEEP_BUF_CAP)
        sl_buf_free(&resp->body);
    sl_buf_reset(&resp->body);
    req->body_too_large = false;
    req->ready_us = 0;
    req->user = NULL;
    resp->status = 0;
    resp->content_type = NULL;
    resp->static_body = NULL;
    resp->static_len = 0;
    resp->extra_headers[0] = '\0';
    resp->prebuilt = NULL;
}

/* The request is over: tell on_done, then move the bytes behind it (the
   next, pipelined, request) to the start of the buffer. */
static void request_finish(worker *w, conn *c)
{
    const sl_http_handlers *h = &w->srv->base.handlers;
    if (c->in_request && h->on_done)
        h->on_done(h->arg, &c->x.req, &c->x.resp);
    c->in_request = false;
    request_reset(c);
    c->head_len = 0;
    c->scanned = 0;
    if (c->rpos) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    c->idle_since_us = c->request_since_us = w->now_us;
}

static void conn_close(worker *w, conn *c)
{
    if (c->state == ST_DEAD)
        return;
    if (c->state == ST_SUSPENDED) {
        c->broken = true; /* the resume frees it: the handler still holds the request */
        return;
    }
    if (c->in_request) {
        c->x.resp.status = 0; /* not answered */
        request_finish(w, c);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->state = ST_DEAD;
    c->next = w->graveyard; /* events later in this batch may still name it */
    w->graveyard = c;
    atomic_fetch_sub(&w->srv->nconns, 1);
}

static void conn_free(conn *c)
{
    sl_buf_free(&c->x.req.body);
    sl_buf_free(&c->x.resp.body);
    sl_buf_free(&c->out);
    free(c);
}

static void worker_bury(worker *w)
{
    while (w->graveyard) {
        conn *c = w->graveyard;
        w->graveyard = c->next;
        conn_free(c);
    }
}

/* ---- output -------------------------------------------------------------------------------- */

/*
 *   HTTP/1.1 200 OK\r\n                 ┐ prebuilt: one copy of
 *   Content-Type: image/gif\r\n         │ sl_http_prebuilt.head
 *   Content-Length: 43\r\n              │
 *   <extra headers>\r\n                 ┘
 *   Date: Sun, 22 Nov 2026 01:46:33 GMT\r\n
 *   [Connection: close | keep-alive]\r\n
 *   \r\n
 *   <body>                               (not for HEAD)
 */
static void response_serialise(worker *w, conn *c, const sl_http_response *resp)
{
    sl_buf *o = &c->out;
    const void *body;
    size_t len;
    if (resp->prebuilt) {
        sl_buf_append(o, resp->prebuilt->head, resp->prebuilt->head_len);
        body = resp->prebuilt->body;
        len = resp->prebuilt->len;
    } else {
        body = resp->static_body ? resp->static_body : resp->body.data;
        len = resp->static_body ? resp->static_len : resp->body.len;
        sl_buf_append(o, "HTTP/1.1 ", 9);
        append_uint(o, (uint64_t)resp->status);
        sl_buf_append_char(o, ' ');
        sl_buf_append_str(o, sl_http_reason(resp->status));
        sl_buf_append_str(o, "\r\nContent-Type: ");
        sl_buf_append_str(o, resp->content_type ? resp->content_type : "application/json");
        sl_buf_append_str(o, "\r\nContent-Length: ");
        append_uint(o, len);
        sl_buf_append(o, "\r\n", 2);
        size_t extra = strnlen(resp->extra_headers, sizeof resp->extra_headers);
        if (extra) {
            sl_buf_append(o, resp->extra_headers, extra);
            if (resp->extra_headers[extra - 1] != '\n')
                sl_buf_append(o, "\r\n", 2);
        }
    }
    sl_buf_append(o, w->date, w->date_len);
    if (!c->keep_alive)
        sl_buf_append_str(o, "Connection: close\r\n");
    else if (c->http10)
        sl_buf_append_str(o, "Connection: keep-alive\r\n");
    sl_buf_append(o, "\r\n", 2);
    if (!c->head_method && len)
        sl_buf_append(o, body, len);
}

/* The request's response is set: queue it and end the request. */
static void conn_respond(worker *w, conn *c)
{
    sl_http_response *resp = &c->x.resp;
    if (resp->prebuilt && !resp->status)
        resp->status = resp->prebuilt->status;
    if (!resp->status)
        sl_http_error(resp, 500, "handler set no response");
    if (c->broken)
        resp->status = 0; /* the client is gone: not answered */
    else
        response_serialise(w, c, resp);
    request_finish(w, c);
    c->state = c->keep_alive && !c->broken ? ST_HEAD : ST_CLOSING;
}

/* Refuse what cannot be parsed: an error answer, then the connection closes. */
static void conn_refuse(worker *w, conn *c, int status, const char *msg)
{
    sl_http_error(&c->x.resp, status, "%s", msg);
    c->keep_alive = false;
    c->http10 = c->head_method = false;
    if (c->in_request) {
        conn_respond(w, c);
    } else {
        response_serialise(w, c, &c->x.resp);
        request_reset(c);
    }
    c->state = ST_CLOSING;
}

/* Send what is queued. False when the connection was closed. */
static bool conn_flush(worker *w, conn *c)
{
    while (c->out_pos < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_pos, c->out.len - c->out_pos, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_pos += (size_t)n;
            c->last_write_us = w->now_us;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true; /* EPOLLOUT brings us back */
        c->broken = true; /* EPIPE, ECONNRESET: the client is gone */
        c->out.len = c->out_pos = 0;
        if (c->state == ST_SUSPENDED)
            return true;
        conn_close(w, c);
        return false;
    }
    c->out_pos = 0;
    if (c->out.cap > KEEP_BUF_CAP)
        sl_buf_free(&c->out);
    sl_buf_reset(&c->out);
    return true;
}

/* ---- input ------------------------------------------------------------------------------- */

/* Read what the socket holds into the free end of rbuf. True when bytes came. */
static bool conn_read(worker *w, conn *c)
{
    /* Consumed body bytes make room; the head stays where its strings point. */
    size_t keep = c->in_request ? c->head_len : 0;
    if (c->rpos > keep) {
        memmove(c->rbuf + keep, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos - keep;
        c->rpos = keep;
    }
    size_t space = READ_CAP - c->rlen;
    if (!space)
        return false;
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, space, 0);
    if (n > 0) {
        if (c->rlen == 0 && c->state == ST_HEAD)
            c->request_since_us = w->now_us; /* a new request starts */
        c->rlen += (size_t)n;
        /* Edge-triggered: a short read emptied the socket, and bytes that
           arrive later raise a new event, so no recv just to see EAGAIN.
           After a FIN the EOF is only seen by reading on. */
        if ((size_t)n < space && !c->rdhup)
            c->readable = false;
        return true;
    }
    c->readable = false;
    if (n == 0) {
        c->peer_eof = true;
    } else if (errno == EINTR) {
        c->readable = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        c->peer_eof = c->broken = true;
    }
    return false;
}

/* Body bytes: kept up to the accepted size, counted as excess beyond it. */
static void body_data(void *arg, const char *p, size_t n)
{
    conn *c = arg;
    sl_http_request *req = &c->x.req;
    if (c->discard_body || req->body_too_large || !n)
        return;
    if ((int64_t)(req->body.len + n) > c->accepted || sl_buf_try_reserve(&req->body, n) < 0) {
        req->body_too_large = true;
        sl_buf_free(&req->body); /* keep draining, keep nothing */
        return;
    }
    sl_buf_append(&req->body, p, n);
}

/* on_headers has run and wants the body (or it is to be dropped). */
static void body_start(conn *c)
{
    sl_http_request *req = &c->x.req;
    c->state = ST_BODY;
    c->body_left = c->head.chunked ? 0 : SL_MAX(c->head.content_length, 0);
    memset(&c->dec, 0, sizeof c->dec);
    if (c->discard_body)
        return;
    if (c->head.content_length > c->accepted) {
        req->body_too_large = true;
    } else if (c->body_left > 0 && sl_buf_try_reserve(&req->body, (size_t)c->body_left) < 0) {
        req->body_too_large = true; /* out of memory: shed it */
    }
    if (c->head.expect_continue && (c->head.chunked || c->body_left > 0))
        sl_buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
}

/*
 * A whole head is buffered: parse it and run on_headers. False when the
 * connection cannot go on now (more bytes needed, or it is closing).
 */
static bool conn_start_request(worker *w, conn *c)
{
    size_t end = sl_http_head_end(c->rbuf, c->rlen, &c->scanned);
    if (!end || end > SL_HTTP_MAX_HEAD) {
        if (end || c->rlen >= SL_HTTP_MAX_HEAD)
            conn_refuse(w, c, 431, "the request line and headers exceed 16 KiB");
        return false;
    }
    c->scanned = 0;
    int rc = sl_http_head_parse(c->rbuf, end, &c->head);
    if (rc) {
        conn_refuse(w, c, rc, rc == 431   ? "more than 100 header fields"
                              : rc == 501 ? "the only transfer coding supported is chunked"
                              : rc == 505 ? "the HTTP version must be 1.0 or 1.1"
                                          : "malformed request");
        return false;
    }
    c->head_len = c->rpos = end;
    const sl_http_head *h = &c->head;
    sl_http_request *req = &c->x.req;
    sl_http_response *resp = &c->x.resp;
    req->method = h->method;
    req->path = h->path;
    req->raw_query = h->query;
    req->content_length = h->chunked ? -1 : h->content_length;
    req->received_us = sl_mono_us();
    c->keep_alive = h->keep_alive;
    c->http10 = h->minor == 0;
    c->head_method = strcmp(h->method, "HEAD") == 0;
    c->in_request = true;
    c->discard_body = false;

    const sl_http_handlers *hd = &w->srv->base.handlers;
    c->accepted = hd->on_headers ? hd->on_headers(hd->arg, req, resp) : 0;
    bool has_body = h->chunked || h->content_length > 0;
    if (!resp->status && has_body && h->expect_continue && h->content_length > c->accepted)
        sl_http_error(resp, 413, "request body of %lld bytes exceeds the %lld accepted",
                      (long long)h->content_length, (long long)c->accepted);
    if (resp->status) { /* answered before the body */
        /* A client that waits for 100 Continue will not send the body, and
           could send its next request where we would look for it. */
        if (has_body && h->expect_continue)
            c->keep_alive = false;
        conn_respond(w, c);
        if (!has_body || c->state != ST_HEAD)
            return c->state == ST_HEAD;
        c->discard_body = true; /* read past the body to the next request */
    }
    body_start(c);
    return true;
}

/* Consume body bytes; once the body is in, run on_request. False when
   the connection cannot go on now. */
static bool conn_read_body(worker *w, conn *c)
{
    const char *p = c->rbuf + c->rpos;
    size_t n = c->rlen - c->rpos;
    if (c->head.chunked) {
        ssize_t used = sl_http_chunked_feed(&c->dec, p, n, body_data, c);
        if (used < 0) {
            if (c->discard_body) /* answered already: just close */
                c->state = ST_CLOSING;
            else
                conn_refuse(w, c, 400, "malformed chunked body");
            return false;
        }
        c->rpos += (size_t)used;
        if (!c->dec.done)
            return false;
    } else {
        size_t take = (size_t)SL_MIN((int64_t)n, c->body_left);
        body_data(c, p, take);
        c->rpos += take;
        c->body_left -= (int64_t)take;
        if (c->body_left)
            return false;
    }
    c->state = ST_HEAD;
    if (c->discard_body) { /* answered already */
        c->discard_body = false;
        request_finish(w, c);
        return true;
    }

    sl_http_request *req = &c->x.req;
    const sl_http_handlers *hd = &w->srv->base.handlers;
    req->ready_us = sl_mono_us();
    c->in_handler = true;
    hd->on_request(hd->arg, req, &c->x.resp);
    c->in_handler = false;
    if (c->state == ST_SUSPENDED && !c->resumed_inline)
        return false; /* sl_http_resume brings it back */
    c->resumed_inline = false;
    conn_respond(w, c);
    return c->state == ST_HEAD;
}

/* Serve the requests buffered, in order, until one needs more bytes or
   suspends, or the output waits for the client: then true, since the
   requests left must be served once it is sent. */
static bool conn_serve(worker *w, conn *c)
{
    while (c->state == ST_HEAD || c->state == ST_BODY) {
        if (c->out.len - c->out_pos > OUTPUT_BACKLOG)
            return true;
        if (c->state == ST_HEAD && !conn_start_request(w, c))
            return false;
        if (c->state == ST_BODY && !conn_read_body(w, c))
            return false;
    }
    return false;
}

/* Read and drop what the client still sends after our last answer, so
   that closing does not reset the connection under that answer. */
static void conn_linger(worker *w, conn *c)
{
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(c->fd, c->rbuf, READ_CAP, 0);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        break; /* EOF or error: done */
    }
    conn_close(w, c);
}

/* After serving: close what is over, or start the lingering close. */
static void conn_settle(worker *w, conn *c)
{
    if (c->state == ST_DEAD || c->state == ST_SUSPENDED || c->out_pos < c->out.len)
        return;
    if ((c->peer_eof || c->broken) && c->state != ST_LINGER) {
        /* Whatever is still buffered can never become a whole request. */
        conn_close(w, c);
        return;
    }
    if (c->state == ST_CLOSING) {
        shutdown(c->fd, SHUT_WR);
        c->state = ST_LINGER;
        c->idle_since_us = w->now_us;
        conn_linger(w, c);
    }
}

static void conn_run(worker *w, conn *c)
{
    for (;;) {
        bool held_back = conn_serve(w, c);
        if (!conn_flush(w, c))
            return;
        if (c->state != ST_HEAD && c->state != ST_BODY)
            break;
        if (c->out_pos < c->out.len)
            break; /* EPOLLOUT brings us back */
        if (held_back)
            continue; /* sent: serve the pipelined requests that waited */
        if (!c->readable || c->peer_eof || !conn_read(w, c))
            break;
    }
    conn_settle(w, c);
}

static void conn_event(worker *w, conn *c, uint32_t events)
{
    if (c->state == ST_DEAD)
        return;
    if (events & (EPOLLERR | EPOLLHUP))
        c->broken = true; /* reset: nothing can be sent any more */
    if (events & EPOLLRDHUP)
        c->rdhup = true;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
        c->readable = true;
    if (c->state == ST_LINGER) {
        conn_linger(w, c);
        return;
    }
    if (c->state == ST_SUSPENDED)
        return; /* noted; the resume carries on */
    if (c->broken) {
        conn_close(w, c);
        return;
    }
    conn_run(w, c);
}

/* A suspended request's response is set (sl_http_resume): answer it and
   carry on with what the connection has buffered since. */
static void conn_resumed(worker *w, conn *c)
{
    conn_respond(w, c);
    if (c->broken) {
        c->state = ST_CLOSING;
        conn_close(w, c);
        return;
    }
    conn_run(w, c);
}

/* ---- the worker ---------------------------------------------------------------------------- */

static conn *conn_new(epoll_server *srv, int fd, const struct sockaddr_storage *ss)
{
    conn *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, offsetof(conn, rbuf));
    c->fd = fd;
    c->x.srv = &srv->base;
    c->x.req.conn = c;
    c->x.req.client_ip = c->ip;
    c->x.req.raw_query = "";
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, c->ip, sizeof c->ip);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, c->ip, sizeof c->ip);
    return c;
}

static void worker_accept(worker *w)
{
    epoll_server *srv = w->srv;
    for (int i = 0; i < 64 && !atomic_load(&srv->quiescing); i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The listening socket stays readable: leave it for a while
                   instead of spinning on it. */
                SL_LOG_ERRNO(SL_LOG_WARN, srv->base.tag, -errno,
                             "cannot accept a connection; pausing accepts");
                epoll_ctl(w->epfd, EPOLL_CTL_DEL, srv->listen_fd, NULL);
                w->listening = false;
                w->accept_retry_us = w->now_us + 200000;
            }
            return;
        }
        if (atomic_fetch_add(&srv->nconns, 1) >= MAX_CONNECTIONS) {
            atomic_fetch_sub(&srv->nconns, 1);
            close(fd);
            continue;
        }
        conn *c = conn_new(srv, fd, &ss);
        if (!c) {
            atomic_fetch_sub(&srv->nconns, 1);
            close(fd);
            continue;
        }
        int one = 1; /* responses are single writes: never hold one back */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        worker *to = &srv->workers[atomic_fetch_add(&srv->next_worker, 1) % (unsigned)srv->nworkers];
        if (to == w) {
            conn_attach(w, c);
            if (c->state == ST_CLOSING)
                conn_close(w, c);
        } else {
            queue_push(to, c, true);
        }
    }
}

static void worker_listen(worker *w, bool on)
{
    epoll_server *srv = w->srv;
    if (on) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &srv->listen_fd };
        w->listening = epoll_ctl(w->epfd, EPOLL_CTL_ADD, srv->listen_fd, &ev) == 0;
    } else {
        if (w->listening)
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, srv->listen_fd, NULL);
        w->listening = false;
    }
}

static void worker_drain_queue(worker *w)
{
    conn *c = queue_take(w);
    while (c) {
        conn *next = c->queue_next;
        if (c->queued_new) {
            conn_attach(w, c);
            if (c->state == ST_CLOSING)
                conn_close(w, c);
        } else {
            conn_resumed(w, c);
        }
        c = next;
    }
}

/* Once a second: close idle and stalled connections. */
static void worker_scan(worker *w)
{
    int64_t now = w->now_us;
    w->next_scan_us = now + 1000000;
    if (!w->listening && !w->left_listen && !atomic_load(&w->srv->quiescing) &&
        now >= w->accept_retry_us)
        worker_listen(w, true);
    for (conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        bool expired;
        if (c->state == ST_SUSPENDED)
            continue;
        if (c->state == ST_LINGER)
            expired = now - c->idle_since_us > LINGER_TIMEOUT_US;
        else if (c->out_pos < c->out.len)
            expired = now - c->last_write_us > REQUEST_TIMEOUT_US;
        else if (c->state == ST_HEAD && c->rlen == 0)
            expired = now - c->idle_since_us > IDLE_TIMEOUT_US;
        else
            expired = now - c->request_since_us > REQUEST_TIMEOUT_US;
        if (expired)
            conn_close(w, c);
    }
}

/* quiesce: the last worker to drop the listening socket closes it. */
static void worker_leave_listen(worker *w)
{
    epoll_server *srv = w->srv;
    if (w->left_listen)
        return;
    worker_listen(w, false);
    w->left_listen = true;
    if (atomic_fetch_add(&srv->left_listen, 1) + 1 == srv->nworkers) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
}

static void worker_shutdown(worker *w)
{
    worker_drain_queue(w); /* the last resumes: answer them */
    for (conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (c->out_pos < c->out.len)
            conn_flush(w, c); /* best effort: it may be closed already */
        if (c->state != ST_DEAD)
            conn_close(w, c);
    }
    worker_bury(w);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    epoll_server *srv = w->srv;
    struct epoll_event events[EVENTS_PER_WAIT];
    w->self = pthread_self();
    pthread_setname_np(w->self, "http-worker");
    for (;;) {
        int n = epoll_wait(w->epfd, events, EVENTS_PER_WAIT, TICK_MS);
        w->now_us = sl_mono_us();
        worker_date(w);
        for (int i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &srv->listen_fd) {
                if (!atomic_load(&srv->quiescing))
                    worker_accept(w);
            } else if (tag == &w->wakefd) {
                uint64_t count;
                ssize_t rc = read(w->wakefd, &count, sizeof count);
                (void)rc; /* reset before draining: a later push wakes us again */
                worker_drain_queue(w);
            } else {
                conn_event(w, tag, events[i].events);
            }
        }
        worker_bury(w);
        if (atomic_load(&srv->quiescing))
            worker_leave_listen(w);
        if (atomic_load(&srv->stopping))
            break;
        if (w->now_us >= w->next_scan_us) {
            worker_scan(w);
            worker_bury(w);
        }
    }
    worker_shutdown(w);
    return NULL;
}

/* ---- the engine ------------------------------------------------------------------------------ */

static const char *epoll_header(const sl_http_request *req, const char *name)
{
    const conn *c = (const conn *)req;
    return sl_http_head_field(&c->head, name);
}

static void epoll_suspend(sl_http_request *req)
{
    conn *c = (conn *)req;
    c->state = ST_SUSPENDED;
}

static void epoll_resume(sl_http_request *req)
{
    conn *c = (conn *)req;
    worker *w = c->w;
    /* Resumed by its own on_request (the work completed at once): the
       worker answers as soon as the handler returns. */
    if (pthread_equal(pthread_self(), w->self) && c->in_handler) {
        c->resumed_inline = true;
        return;
    }
    queue_push(w, c, false);
}

static void epoll_quiesce(sl_http_server *base)
{
    epoll_server *srv = (epoll_server *)base;
    if (atomic_exchange(&srv->quiescing, true))
        return;
    for (int i = 0; i < srv->nworkers; i++)
        worker_wake(&srv->workers[i]);
}

static void workers_free(epoll_server *srv, int started)
{
    for (int i = 0; i < started; i++)
        pthread_join(srv->workers[i].thread, NULL);
    for (int i = 0; i < srv->nworkers; i++) {
        worker *w = &srv->workers[i];
        /* A connection handed over while its new worker was stopping. */
        for (conn *c = queue_take(w), *next; c; c = next) {
            next = c->queue_next;
            if (!c->queued_new)
                continue; /* a resume: worker_shutdown answered it */
            close(c->fd);
            conn_free(c);
        }
        if (w->epfd >= 0)
            close(w->epfd);
        if (w->wakefd >= 0)
            close(w->wakefd);
    }
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    free(srv->workers);
    free(srv->base.tag);
    free(srv);
}

static void epoll_stop(sl_http_server *base)
{
    epoll_server *srv = (epoll_server *)base;
    epoll_quiesce(base);
    atomic_store(&srv->stopping, true);
    for (int i = 0; i < srv->nworkers; i++)
        worker_wake(&srv->workers[i]);
    workers_free(srv, srv->nworkers);
}

static const sl_http_engine epoll_engine = {
    .header = epoll_header,
    .suspend = epoll_suspend,
    .resume = epoll_resume,
    .quiesce = epoll_quiesce,
    .stop = epoll_stop,
};

static int listen_socket(const char *tag, const char *listen_addr, int *port)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (sl_http_resolve_listen(listen_addr, &ss, &sslen) < 0) {
        SL_ERROR(tag, "cannot resolve listen address %s", listen_addr);
        return SL_ERR_CONFIG;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* restart over TIME_WAIT */
    if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, 1024) < 0) {
        int rc = -errno;
        SL_ERROR(tag, "cannot listen on %s (%s)", listen_addr, strerror(-rc));
        close(fd);
        return rc;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &blen);
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    return fd;
}

static int worker_init(epoll_server *srv, worker *w)
{
    w->srv = srv;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->epfd < 0 || w->wakefd < 0)
        return -errno;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->wakefd };
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) < 0)
        return -errno;
    worker_listen(w, true);
    return w->listening ? 0 : -errno;
}

int sl_http_server_start_epoll(const char *tag, const char *listen_addr, int threads,
                               const sl_http_handlers *handlers, sl_http_server **out)
{
    int port = 0;
    int fd = listen_socket(tag, listen_addr, &port);
    if (fd < 0)
        return fd;
    epoll_server *srv = sl_calloc(1, sizeof *srv);
    srv->base.engine = &epoll_engine;
    srv->base.handlers = *handlers;
    srv->base.tag = sl_strdup(tag);
    srv->base.port = port;
    srv->listen_fd = fd;
    srv->nworkers = threads > 0 ? threads : 1;
    srv->workers = sl_calloc((size_t)srv->nworkers, sizeof *srv->workers);
    for (int i = 0; i < srv->nworkers; i++)
        srv->workers[i].epfd = srv->workers[i].wakefd = -1;
    int rc = 0, started = 0;
    for (int i = 0; i < srv->nworkers && rc == 0; i++)
        rc = worker_init(srv, &srv->workers[i]);
    for (; rc == 0 && started < srv->nworkers; started++)
        if (pthread_create(&srv->workers[started].thread, NULL, worker_main,
                           &srv->workers[started]) != 0)
            rc = -EAGAIN;
    if (rc < 0) {
        SL_LOG_ERRNO(SL_LOG_ERROR, tag, rc, "cannot start the HTTP workers");
        atomic_store(&srv->stopping, true);
        for (int i = 0; i < started; i++)
            worker_wake(&srv->workers[i]);
        workers_free(srv, started);
        return rc;
    }
    *out = &srv->base;
    return 0;
}
