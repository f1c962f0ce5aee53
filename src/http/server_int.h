/*
 * server_int.h - what the HTTP engines share behind server.h.
 *
 * server.c holds what does not depend on how bytes reach us (query
 * parameters, errors, the token check, prebuilt responses) and dispatches
 * the calls that do to the engine that owns the request: server_mhd.c
 * (libmicrohttpd, the admin listener) or server_epoll.c (the collector).
 *
 * Every engine keeps a request in a struct that begins with an
 * sl_http_exchange, so a bare sl_http_request * leads to its server and
 * from there to the engine's functions.
 */
#ifndef SL_HTTP_SERVER_INT_H
#define SL_HTTP_SERVER_INT_H

#include "http/server.h"

#include <stdatomic.h>
#include <sys/socket.h>

struct MHD_Response;

typedef struct sl_http_engine {
    const char *(*header)(const sl_http_request *req, const char *name);
    void (*suspend)(sl_http_request *req);
    void (*resume)(sl_http_request *req);
    void (*quiesce)(sl_http_server *srv);
    void (*stop)(sl_http_server *srv); /* after the suspended requests are resumed; frees */
} sl_http_engine;

/* The first member of each engine's server struct. */
struct sl_http_server {
    const sl_http_engine *engine;
    sl_http_handlers handlers;
    char *tag;
    int port;
    atomic_int suspended;       /* requests between sl_http_suspend and sl_http_resume */
};

/* The first member of each engine's per-request state. */
typedef struct sl_http_exchange {
    sl_http_request req;        /* first: a request pointer is an exchange pointer */
    sl_http_response resp;
    sl_http_server *srv;
} sl_http_exchange;

static inline sl_http_exchange *sl_http_exchange_of(const sl_http_request *req)
{
    return (sl_http_exchange *)req;
}

/*
 * A prebuilt response holds what each engine needs to send it without
 * work per request: the MHD response object, and the whole wire form up
 * to the end of the headers it always carries (status line, Content-Type,
 * Content-Length, extras), which server_epoll.c copies as it is.
 */
struct sl_http_prebuilt {
    int status;
    const void *body;
    size_t len;
    struct MHD_Response *mhd;
    char *head;                 /* "HTTP/1.1 200 OK\r\n...\r\n" without the blank line */
    size_t head_len;
};

struct MHD_Response *sl_http_mhd_prebuilt(int status, const char *content_type, const void *body,
                                          size_t len, const char *extra_headers);
void sl_http_mhd_prebuilt_free(struct MHD_Response *r);

/* "OK", "Not Found", ...; "Unknown" for codes we never send. */
const char *sl_http_reason(int status);
/* Resolve "host:port" (or "[v6]:port") for bind(2). */
int sl_http_resolve_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len);
/* The common part of stop: wait for every suspended request's resume. */
void sl_http_wait_suspended(sl_http_server *srv);

#endif
