/*
 * server_mhd.c - the libmicrohttpd engine of sl_http_server (see
 * server.h), behind sl_http_server_start; the admin listener uses it.
 *
 * MHD calls the access handler several times per request: first with the
 * headers (we run on_headers), then with body chunks (we buffer up to the
 * accepted size and count the rest as excess), then once with no data
 * (we run on_request and queue the response). A handler that suspends
 * gets its connection parked with MHD_suspend_connection; the resume makes
 * MHD call the access handler once more, and that call queues the response.
 */
#include "http/server_int.h"
#include "core/alloc.h"
#include "core/logging.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct mhd_server {
    sl_http_server base;        /* first: the engine-independent part */
    struct MHD_Daemon *daemon;
    atomic_int answering;       /* resumed, response not sent yet */
} mhd_server;

typedef struct request_state {
    sl_http_exchange x;         /* first: req, resp, srv */
    int64_t accepted_body;
    bool headers_done;
    bool suspended;             /* on_request suspended: the next call answers */
    bool resumed;               /* counted in mhd_server.answering */
    char *path;
    char *query;
    char ip[64];
} request_state;

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    SL_WARN((const char *)cls, "http: %s", line);
}

/* Add "Name: value\r\n" lines to r. */
static void add_extra_headers(struct MHD_Response *r, const char *extra)
{
    char *save = NULL, *copy = sl_strdup(extra);
    for (char *line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        const char *value = colon + 1;
        while (*value == ' ')
            value++;
        MHD_add_response_header(r, line, value);
    }
    free(copy);
}

struct MHD_Response *sl_http_mhd_prebuilt(int status, const char *content_type, const void *body,
                                          size_t len, const char *extra_headers)
{
    (void)status;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return NULL;
    MHD_add_response_header(r, "Content-Type", content_type);
    if (extra_headers)
        add_extra_headers(r, extra_headers);
    return r;
}

void sl_http_mhd_prebuilt_free(struct MHD_Response *r)
{
    MHD_destroy_response(r);
}

static enum MHD_Result queue_response(struct MHD_Connection *conn, sl_http_response *resp)
{
    if (resp->prebuilt)
        return MHD_queue_response(conn, (unsigned)resp->prebuilt->status, resp->prebuilt->mhd);
    struct MHD_Response *r;
    if (resp->static_body)
        r = MHD_create_response_from_buffer(resp->static_len, (void *)resp->static_body,
                                            MHD_RESPMEM_PERSISTENT);
    else
        r = MHD_create_response_from_buffer(resp->body.len, resp->body.data,
                                            MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type",
                            resp->content_type ? resp->content_type : "application/json");
    if (resp->extra_headers[0])
        add_extra_headers(r, resp->extra_headers);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static void split_url(request_state *st, const char *url)
{
    const char *q = strchr(url, '?');
    st->path = q ? sl_strndup(url, (size_t)(q - url)) : sl_strdup(url);
    st->query = sl_strdup(q ? q + 1 : "");
}

/* MHD hands the access handler the path without its query; the URI log
   callback sees the raw request target first, and its result becomes the
   request's state. */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    request_state *st = sl_calloc(1, sizeof *st);
    split_url(st, uri ? uri : "/");
    st->x.req.conn = conn;
    return st;
}

static void client_address(request_state *st, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, st->ip,
                      sizeof st->ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, st->ip,
                      sizeof st->ip);
    }
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)version;
    sl_http_server *srv = cls;
    request_state *st = *con_cls;
    sl_http_request *req;

    if (!st) { /* no URI callback ran (should not happen): use what MHD gives */
        st = uri_logger(NULL, url, conn);
        *con_cls = st;
    }
    req = &st->x.req;
    if (st->suspended) { /* resumed: the response is set */
        st->suspended = false;
        return queue_response(conn, &st->x.resp);
    }
    if (!st->headers_done) {
        st->headers_done = true;
        st->x.srv = srv;
        req->method = method;
        req->path = st->path;
        req->conn = conn;
        req->received_us = sl_mono_us();
        client_address(st, conn);
        req->client_ip = st->ip;
        req->raw_query = st->query;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        req->content_length = cl ? strtoll(cl, NULL, 10) : -1;
        st->accepted_body = srv->handlers.on_headers
                                ? srv->handlers.on_headers(srv->handlers.arg, req, &st->x.resp)
                                : 0;
        if (st->x.resp.status)
            return queue_response(conn, &st->x.resp); /* answered before the body */
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (!req->body_too_large && (int64_t)(req->body.len + n) <= st->accepted_body) {
            if (sl_buf_try_reserve(&req->body, n) == 0)
                sl_buf_append(&req->body, upload_data, n);
            else
                req->body_too_large = true; /* out of memory: shed it */
        } else {
            req->body_too_large = true;
            sl_buf_free(&req->body); /* keep draining, keep nothing */
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (st->x.resp.status)
        return MHD_YES; /* already answered in on_headers */
    req->ready_us = sl_mono_us();
    srv->handlers.on_request(srv->handlers.arg, req, &st->x.resp);
    if (st->suspended)
        return MHD_YES; /* sl_http_resume brings us back here */
    if (!st->x.resp.status)
        sl_http_error(&st->x.resp, 500, "handler set no response");
    return queue_response(conn, &st->x.resp);
}

static void mhd_suspend(sl_http_request *req)
{
    request_state *st = (request_state *)req;
    st->suspended = true;
    MHD_suspend_connection(req->conn);
}

static void mhd_resume(sl_http_request *req)
{
    request_state *st = (request_state *)req;
    st->resumed = true;
    atomic_fetch_add(&((mhd_server *)st->x.srv)->answering, 1);
    /* MHD's lock in resume publishes the response to the worker thread. */
    MHD_resume_connection(req->conn);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    sl_http_server *srv = cls;
    request_state *st = *con_cls;
    if (!st)
        return;
    if (srv->handlers.on_done && st->headers_done)
        srv->handlers.on_done(srv->handlers.arg, &st->x.req, &st->x.resp);
    if (st->resumed)
        atomic_fetch_sub(&((mhd_server *)srv)->answering, 1);
    sl_buf_free(&st->x.req.body);
    sl_buf_free(&st->x.resp.body);
    free(st->path);
    free(st->query);
    free(st);
    *con_cls = NULL;
}

static const char *mhd_header(const sl_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static void mhd_quiesce(sl_http_server *base)
{
    mhd_server *srv = (mhd_server *)base;
    if (srv->daemon)
        MHD_quiesce_daemon(srv->daemon);
}

static void mhd_stop(sl_http_server *base)
{
    mhd_server *srv = (mhd_server *)base;
    /* A resumed request's answer is sent by an MHD thread a moment later:
       stopping first would close its connection unanswered. Bounded, in
       case a client does not read. */
    for (int waited_ms = 0; atomic_load(&srv->answering) > 0 && waited_ms < 2000; waited_ms++)
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    MHD_stop_daemon(srv->daemon);
    free(srv->base.tag);
    free(srv);
}

static const sl_http_engine mhd_engine = {
    .header = mhd_header,
    .suspend = mhd_suspend,
    .resume = mhd_resume,
    .quiesce = mhd_quiesce,
    .stop = mhd_stop,
};

int sl_http_server_start(const char *tag, const char *listen, int threads,
                         const sl_http_handlers *handlers, sl_http_server **out)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (sl_http_resolve_listen(listen, &ss, &sslen) < 0) {
        SL_ERROR(tag, "cannot resolve listen address %s", listen);
        return SL_ERR_CONFIG;
    }
    mhd_server *srv = sl_calloc(1, sizeof *srv);
    srv->base.engine = &mhd_engine;
    srv->base.handlers = *handlers;
    srv->base.tag = sl_strdup(tag);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (threads <= 0)
        flags |= MHD_USE_THREAD_PER_CONNECTION;
    else /* suspending is what lets a few workers serve waiting requests */
        flags |= MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;
    /* The logger must be the first option, or MHD prints early messages itself. */
    struct MHD_OptionItem pool[] = {
        { threads > 0 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads > 0 ? threads : 0,
          NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, access_handler, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, srv->base.tag,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv,
        MHD_OPTION_URI_LOG_CALLBACK, uri_logger, srv,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)2048,
        /* Per connection: the request line and headers must fit (bodies
           stream through the handler). MHD clears it for every request. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_ARRAY, pool,
        MHD_OPTION_END);
    if (!srv->daemon) {
        SL_ERROR(tag, "cannot listen on %s (address in use or not permitted)", listen);
        free(srv->base.tag);
        free(srv);
        return -EADDRINUSE;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->base.port = di ? di->port : 0;
    *out = &srv->base;
    return 0;
}
