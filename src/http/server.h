/*
 * server.h - the small HTTP server layer under the collector and admin
 * listeners, over libmicrohttpd.
 *
 * A listener has two callbacks. on_headers runs once the request line and
 * headers are in, before any body byte is read: it may answer at once (401,
 * 404, 413 from Content-Length) or return how many body bytes it accepts.
 * on_request runs once the whole body is buffered (or was refused) and must
 * set a response. Handlers may block (threads == 0 gives each connection
 * its own thread), which is how the collector waits for the log's fsync.
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
} sl_http_response;

typedef struct sl_http_handlers {
    /* Return the accepted body size (0 = none); set resp->status to answer now. */
    int64_t (*on_headers)(void *arg, sl_http_request *req, sl_http_response *resp);
    void (*on_request)(void *arg, sl_http_request *req, sl_http_response *resp);
    /* Optional: free req->user. */
    void (*on_done)(void *arg, sl_http_request *req);
    void *arg;
} sl_http_handlers;

/*
 * Start listening on "host:port" (port 0 = any free port; see
 * sl_http_server_port). threads 0 = a thread per connection, else a pool.
 * tag names the listener in logs. Returns 0, or a negative code with a
 * logged reason (address in use, ...).
 */
int sl_http_server_start(const char *tag, const char *listen, int threads,
                         const sl_http_handlers *handlers, sl_http_server **out);
int sl_http_server_port(const sl_http_server *srv);
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
