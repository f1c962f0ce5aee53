/*
 * server.c - the engine-independent half of sl_http_server (see server.h):
 * query parameters, error bodies, the token check, prebuilt responses,
 * and the dispatch of the calls that depend on the engine serving the
 * request (server_int.h): server_mhd.c or server_epoll.c.
 */
#include "http/server_int.h"
#include "core/alloc.h"
#include "core/logging.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- dispatch to the engine ------------------------------------------------------ */

int sl_http_server_port(const sl_http_server *srv)
{
    return srv->port;
}

void sl_http_suspend(sl_http_request *req)
{
    sl_http_exchange *x = sl_http_exchange_of(req);
    atomic_fetch_add(&x->srv->suspended, 1);
    x->srv->engine->suspend(req);
}

void sl_http_resume(sl_http_request *req)
{
    sl_http_exchange *x = sl_http_exchange_of(req);
    if (x->resp.prebuilt && !x->resp.status)
        x->resp.status = x->resp.prebuilt->status; /* what on_done reports */
    else if (!x->resp.status)
        sl_http_error(&x->resp, 500, "handler set no response");
    /* The engine may free the request once it is resumed: read srv first. */
    sl_http_server *srv = x->srv;
    srv->engine->resume(req);
    atomic_fetch_sub(&srv->suspended, 1);
}

void sl_http_server_quiesce(sl_http_server *srv)
{
    if (srv)
        srv->engine->quiesce(srv);
}

void sl_http_server_stop(sl_http_server *srv)
{
    if (!srv)
        return;
    sl_http_wait_suspended(srv);
    srv->engine->stop(srv);
}

const char *sl_http_header(const sl_http_request *req, const char *name)
{
    return sl_http_exchange_of(req)->srv->engine->header(req, name);
}

/* ---- shared by the engines ---------------------------------------------------------- */

void sl_http_wait_suspended(sl_http_server *srv)
{
    /* Their completions are owed by whoever suspended them (the log always
       reports an append); stopping before would free what they answer. */
    for (int waited_ms = 0; atomic_load(&srv->suspended) > 0; waited_ms++) {
        if (waited_ms == 5000)
            SL_WARN(srv->tag, "still waiting for %d suspended requests to complete",
                    atomic_load(&srv->suspended));
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    }
}

int sl_http_resolve_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
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

const char *sl_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

/* ---- prebuilt responses -------------------------------------------------------------- */

sl_http_prebuilt *sl_http_prebuilt_new(int status, const char *content_type, const void *body,
                                       size_t len, const char *extra_headers)
{
    struct MHD_Response *mhd = sl_http_mhd_prebuilt(status, content_type, body, len,
                                                    extra_headers);
    if (!mhd)
        return NULL;
    sl_http_prebuilt *p = sl_calloc(1, sizeof *p);
    p->status = status;
    p->body = body;
    p->len = len;
    p->mhd = mhd;
    sl_buf head = SL_BUF_INIT;
    sl_buf_printf(&head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n", status,
                  sl_http_reason(status), content_type, len);
    if (extra_headers && *extra_headers) {
        sl_buf_append_str(&head, extra_headers);
        if (head.data[head.len - 1] != '\n')
            sl_buf_append_str(&head, "\r\n");
    }
    p->head_len = head.len;
    p->head = sl_buf_steal(&head);
    return p;
}

void sl_http_prebuilt_free(sl_http_prebuilt *p)
{
    if (!p)
        return;
    sl_http_mhd_prebuilt_free(p->mhd);
    free(p->head);
    free(p);
}

/* ---- requests and responses ------------------------------------------------------------ */

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
