/*
 * server.h - the small HTTP server layer under the collector and admin
 * listeners, with two engines behind one API: libmicrohttpd
 * (sl_http_server_start, the admin listener) and a hand-written HTTP/1.1
 * epoll engine (sl_http_server_start_epoll, the collector), whose cost per
 * request is a read, a write and the handlers' own work.
 *
 * A listener has two callbacks. on_headers runs once the request line and
 * headers are in, before any body byte is read: it may answer at once (401,
 * 404, 413 from Content-Length) or return how many body bytes it accepts.
 * on_request runs once the whole body is buffered (or was refused) and sets
 * a response, either before it returns or later: a handler that waits on
 * something (the collector waits for the log's fsync) calls
 * sl_http_suspend, starts the work and returns; whatever completes the
 * work fills the response and calls sl_http_resume, from any thread. A
 * worker thread thus serves its other connections meanwhile, and thousands
 * of requests can wait on one fsync with a handful of threads.
 */
#ifndef SL_HTTP_SERVER_H
#define SL_HTTP_SERVER_H

#include "core/buf.h"

typedef struct sl_http_server sl_http_server;

typedef struct sl_http_request {
    const char *method;
    const char *path;           /* without the query string */
    const char *raw_query;      /* after '?', undecoded; "" when none */
    const char *client_ip;
    sl_buf body;                /* the request body (capped at the accepted size) */
    bool body_too_large;        /* more arrived than on_headers accepted */
    int64_t content_length;     /* -1 when not given (chunked) */
    int64_t received_us;        /* when the headers arrived (monotonic) */
    int64_t ready_us;           /* when the whole body was in (monotonic); 0 before */
    void *conn;                 /* internal */
    void *user;                 /* for the handlers, between the two callbacks */
} sl_http_request;

typedef struct sl_http_response {
    int status;                 /* 0 = not set yet */
    sl_buf body;
    const char *content_type;   /* static string; default application/json */
    const void *static_body;    /* a static body instead of `body` (pixel GIF) */
    size_t static_len;
    char extra_headers[256];    /* "Name: value\r\n..." added verbatim */
    const struct sl_http_prebuilt *prebuilt; /* a ready answer instead of all of the above */
} sl_http_response;

/*
 * A response built once and sent many times (the pixel's GIF): no copy or
 * header parsing per request. Its body must outlive it.
 */
typedef struct sl_http_prebuilt sl_http_prebuilt;
sl_http_prebuilt *sl_http_prebuilt_new(int status, const char *content_type, const void *body,
                                       size_t len, const char *extra_headers);
void sl_http_prebuilt_free(sl_http_prebuilt *p); /* NULL-safe; after the server stops */

typedef struct sl_http_handlers {
    /* Return the accepted body size (0 = none); set resp->status to answer now. */
    int64_t (*on_headers)(void *arg, sl_http_request *req, sl_http_response *resp);
    void (*on_request)(void *arg, sl_http_request *req, sl_http_response *resp);
    /* Optional: the request is over, answered (resp->status) or not (0, the
       client left); free req->user here. */
    void (*on_done)(void *arg, sl_http_request *req, const sl_http_response *resp);
    void *arg;
} sl_http_handlers;

/*
 * Start listening on "host:port" (port 0 = any free port; see
 * sl_http_server_port). threads 0 = a thread per connection, else a pool
 * of that many epoll workers (handlers that wait should then suspend).
 * tag names the listener in logs. Returns 0, or a negative code with a
 * logged reason (address in use, ...).
 */
int sl_http_server_start(const char *tag, const char *listen, int threads,
                         const sl_http_handlers *handlers, sl_http_server **out);
/*
 * The same over the epoll engine (server_epoll.c): threads workers (at
 * least 1), each with its own epoll set, sharing one listening socket.
 * HTTP/1.0 and 1.1, keep-alive, pipelining, Content-Length and chunked
 * bodies, Expect: 100-continue; headers up to 16 KiB (431 beyond), at most
 * 100 of them; idle connections closed after 120 s, incomplete requests
 * after 60 s; at most 2048 connections.
 */
int sl_http_server_start_epoll(const char *tag, const char *listen, int threads,
                               const sl_http_handlers *handlers, sl_http_server **out);
int sl_http_server_port(const sl_http_server *srv);
/*
 * Answer later (from on_request only, on a server with worker threads):
 * the connection waits, without its worker thread, until sl_http_resume. Every suspend needs exactly one
 * resume; sl_http_server_stop waits for the outstanding ones.
 */
void sl_http_suspend(sl_http_request *req);
/* The response of a suspended request is set: send it. Any thread; may run
   before the suspending on_request has returned. */
void sl_http_resume(sl_http_request *req);

/* Stop accepting new connections (shutdown starts). */
void sl_http_server_quiesce(sl_http_server *srv);
/* Finish in-flight requests, close connections, free. NULL-safe. */
void sl_http_server_stop(sl_http_server *srv);

/* A header value of the request (case-insensitive name), or NULL. */
const char *sl_http_header(const sl_http_request *req, const char *name);
/* Find a query parameter, percent-decoded into out; false if absent. */
bool sl_http_query_param(const sl_http_request *req, const char *name, sl_buf *out);

/* Set a JSON error body {"error": msg} with status. */
void sl_http_error(sl_http_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Check "Authorization: Bearer <token>" (constant time); true when token is empty. */
bool sl_http_token_ok(const sl_http_request *req, const char *token);

#endif
