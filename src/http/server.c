/*
 * server.c - libmicrohttpd glue for sl_http_server (see server.h).
 *
 * MHD calls the access handler several times per request: first with the
 * headers (we run on_headers), then with body chunks (we buffer up to the
 * accepted size and count the rest as excess), then once with no data
 * (we run on_request and queue the response). A handler that suspends
 * gets its connection parked with MHD_suspend_connection; the resume makes
 * MHD call the access handler once more, and that call queues the response.
 */
#include "http/server.h"
#include "core/alloc.h"
#include "core/logging.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct sl_http_server {
    struct MHD_Daemon *daemon;
    sl_http_handlers handlers;
    char *tag;
    int port;
    atomic_int suspended;       /* requests between sl_http_suspend and sl_http_resume */
};

struct sl_http_prebuilt {
    struct MHD_Response *mhd;
    int status;
};

typedef struct request_state {
    sl_http_request req;
    sl_http_response resp;
    int64_t accepted_body;
    bool headers_done;
    bool suspended;             /* on_request suspended: the next call answers */
    sl_http_server *srv;
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

sl_http_prebuilt *sl_http_prebuilt_new(int status, const char *content_type, const void *body,
                                       size_t len, const char *extra_headers)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return NULL;
    MHD_add_response_header(r, "Content-Type", content_type);
    if (extra_headers)
        add_extra_headers(r, extra_headers);
    sl_http_prebuilt *p = sl_calloc(1, sizeof *p);
    p->mhd = r;
    p->status = status;
    return p;
}

void sl_http_prebuilt_free(sl_http_prebuilt *p)
{
    if (!p)
        return;
    MHD_destroy_response(p->mhd);
    free(p);
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
    st->req.conn = conn;
    return st;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)version;
    sl_http_server *srv = cls;
    request_state *st = *con_cls;

    if (!st) { /* no URI callback ran (should not happen): use what MHD gives */
        st = uri_logger(NULL, url, conn);
        *con_cls = st;
    }
    if (st->suspended) { /* resumed: the response is set */
        st->suspended = false;
        return queue_response(conn, &st->resp);
    }
    if (!st->headers_done) {
        st->headers_done = true;
        st->srv = srv;
        st->req.method = method;
        st->req.path = st->path;
        st->req.conn = conn;
        st->req.received_us = sl_mono_us();
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
        st->req.client_ip = st->ip;
        st->req.raw_query = st->query;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        st->req.content_length = cl ? strtoll(cl, NULL, 10) : -1;
        st->accepted_body = srv->handlers.on_headers
                                ? srv->handlers.on_headers(srv->handlers.arg, &st->req, &st->resp)
                                : 0;
        if (st->resp.status)
            return queue_response(conn, &st->resp); /* answered before the body */
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (!st->req.body_too_large && (int64_t)(st->req.body.len + n) <= st->accepted_body) {
            if (sl_buf_try_reserve(&st->req.body, n) == 0)
                sl_buf_append(&st->req.body, upload_data, n);
            else
                st->req.body_too_large = true; /* out of memory: shed it */
        } else {
            st->req.body_too_large = true;
            sl_buf_free(&st->req.body); /* keep draining, keep nothing */
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (st->resp.status)
        return MHD_YES; /* already answered in on_headers */
    st->req.ready_us = sl_mono_us();
    srv->handlers.on_request(srv->handlers.arg, &st->req, &st->resp);
    if (st->suspended)
        return MHD_YES; /* sl_http_resume brings us back here */
    if (!st->resp.status)
        sl_http_error(&st->resp, 500, "handler set no response");
    return queue_response(conn, &st->resp);
}

void sl_http_suspend(sl_http_request *req)
{
    request_state *st = (request_state *)req; /* req is the first member */
    st->suspended = true;
    atomic_fetch_add(&st->srv->suspended, 1);
    MHD_suspend_connection(req->conn);
}

void sl_http_resume(sl_http_request *req)
{
    request_state *st = (request_state *)req;
    sl_http_server *srv = st->srv;
    if (!st->resp.status)
        sl_http_error(&st->resp, 500, "handler set no response");
    /* MHD's lock in resume publishes the response to the worker thread. */
    MHD_resume_connection(req->conn);
    atomic_fetch_sub(&srv->suspended, 1);
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
    if (srv->handlers.on_done)
        srv->handlers.on_done(srv->handlers.arg, &st->req, &st->resp);
    sl_buf_free(&st->req.body);
    sl_buf_free(&st->resp.body);
    free(st->path);
    free(st->query);
    free(st);
    *con_cls = NULL;
}

static int resolve_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return SL_ERR_CONFIG;
    char *host = sl_strndup(listen, (size_t)(colon - listen));
    if (host[0] == '[') { /* [::1]:8080 */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res = NULL;
    int rc = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res);
    free(host);
    if (rc != 0 || !res)
        return SL_ERR_CONFIG;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int sl_http_server_start(const char *tag, const char *listen, int threads,
                         const sl_http_handlers *handlers, sl_http_server **out)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (resolve_listen(listen, &ss, &sslen) < 0) {
        SL_ERROR(tag, "cannot resolve listen address %s", listen);
        return SL_ERR_CONFIG;
    }
    sl_http_server *srv = sl_calloc(1, sizeof *srv);
    srv->handlers = *handlers;
    srv->tag = sl_strdup(tag);
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
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, srv->tag,
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
        free(srv->tag);
        free(srv);
        return -EADDRINUSE;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : 0;
    *out = srv;
    return 0;
}

int sl_http_server_port(const sl_http_server *srv)
{
    return srv->port;
}

void sl_http_server_quiesce(sl_http_server *srv)
{
    if (srv && srv->daemon)
        MHD_quiesce_daemon(srv->daemon);
}

void sl_http_server_stop(sl_http_server *srv)
{
    if (!srv)
        return;
    /* MHD must not stop with connections suspended; their completions are
       owed by whoever suspended them (the log always reports an append). */
    for (int waited_ms = 0; atomic_load(&srv->suspended) > 0; waited_ms++) {
        if (waited_ms == 5000)
            SL_WARN(srv->tag, "still waiting for %d suspended requests to complete",
                    atomic_load(&srv->suspended));
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    }
    MHD_stop_daemon(srv->daemon);
    free(srv->tag);
    free(srv);
}

const char *sl_http_header(const sl_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool sl_http_query_param(const sl_http_request *req, const char *name, sl_buf *out)
{
    size_t nlen = strlen(name);
    for (const char *p = req->raw_query; p && *p;) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        if ((size_t)(kend - p) == nlen && memcmp(p, name, nlen) == 0) {
            sl_buf_reset(out);
            for (const char *v = eq ? eq + 1 : end; v < end; v++) {
                if (*v == '+')
                    sl_buf_append_char(out, ' ');
                else if (*v == '%' && v + 2 < end && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                    sl_buf_append_char(out, (char)(hexval(v[1]) * 16 + hexval(v[2])));
                    v += 2;
                } else
                    sl_buf_append_char(out, *v);
            }
            if (!out->data)
                sl_buf_append(out, "", 0);
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

void sl_http_error(sl_http_response *resp, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp->status = status;
    sl_buf_reset(&resp->body);
    sl_buf_append_str(&resp->body, "{\"error\":");
    sl_buf_append_json_string(&resp->body, msg, strlen(msg));
    sl_buf_append_str(&resp->body, "}\n");
}

bool sl_http_token_ok(const sl_http_request *req, const char *token)
{
    if (!token || !*token)
        return true;
    const char *auth = sl_http_header(req, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *given = auth + 7;
    size_t n = strlen(token), m = strlen(given);
    unsigned char diff = (unsigned char)(n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(token[i] ^ given[i < m ? i : 0]);
    return diff == 0;
}
