/* admin.c - health, metrics and topic inspection over HTTP (see admin.h). */
#include "admin/admin.h"
#include "admin/auth.h"
#include "core/alloc.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "http/server.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "admin"

typedef struct admin_route {
    char *prefix;
    bool open;
    sl_admin_handler handler;
    void *arg;
} admin_route;

#define MAX_ROUTES 32

struct sl_admin {
    const sl_config *const *cfg_ref;
    sl_log *log;
    sl_http_server *http;
    admin_route routes[MAX_ROUTES];
    _Atomic int nroutes;
};

int sl_admin_add_route(sl_admin *a, const char *prefix, bool open, sl_admin_handler handler,
                       void *arg)
{
    int n = atomic_load(&a->nroutes);
    if (n >= MAX_ROUTES)
        return SL_ERR_TOOBIG;
    a->routes[n] = (admin_route){ sl_strdup(prefix), open, handler, arg };
    atomic_store(&a->nroutes, n + 1); /* publish after the entry is written */
    return 0;
}

static const admin_route *find_route(sl_admin *a, const char *path)
{
    const admin_route *best = NULL;
    size_t best_len = 0;
    int n = atomic_load(&a->nroutes);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(a->routes[i].prefix);
        bool match = strncmp(path, a->routes[i].prefix, len) == 0 &&
                     (path[len] == '\0' || path[len] == '/' || a->routes[i].prefix[len - 1] == '/');
        if (match && len >= best_len) {
            best = &a->routes[i];
            best_len = len;
        }
    }
    return best;
}

void sl_admin_topics_json(sl_log *log, sl_buf *out)
{
    sl_topic_info *topics = NULL;
    size_t ntopics = 0;
    sl_buf_append_str(out, "{\"topics\":[");
    if (sl_log_topics(log, &topics, &ntopics) == 0) {
        for (size_t t = 0; t < ntopics; t++) {
            const char *name = topics[t].name;
            sl_buf_printf(out, "%s{\"name\":", t ? "," : "");
            sl_buf_append_json_string(out, name, strlen(name));
            sl_buf_printf(out, ",\"partitions\":[");
            int64_t *ends = sl_calloc((size_t)topics[t].partitions, sizeof *ends);
            for (int32_t p = 0; p < topics[t].partitions; p++) {
                int64_t start = 0, end = 0;
                sl_log_offsets(log, name, p, &start, &end);
                ends[p] = end;
                sl_buf_printf(out, "%s{\"partition\":%d,\"start\":%lld,\"end\":%lld}",
                              p ? "," : "", p, (long long)start, (long long)end);
            }
            sl_buf_append_str(out, "],\"groups\":[");
            char **groups = NULL;
            size_t ngroups = 0;
            if (sl_log_groups(log, name, &groups, &ngroups) == 0) {
                for (size_t g = 0; g < ngroups; g++) {
                    int64_t total_lag = 0;
                    sl_buf part = SL_BUF_INIT;
                    for (int32_t p = 0; p < topics[t].partitions; p++) {
                        int64_t committed = 0;
                        bool has = sl_log_committed(log, groups[g], name, p, &committed) == 0;
                        int64_t lag = has ? ends[p] - committed : ends[p];
                        total_lag += lag;
                        sl_buf_printf(&part, "%s{\"partition\":%d,\"committed\":", p ? "," : "", p);
                        if (has)
                            sl_buf_printf(&part, "%lld", (long long)committed);
                        else
                            sl_buf_append_str(&part, "null");
                        sl_buf_printf(&part, ",\"lag\":%lld}", (long long)lag);
                    }
                    sl_buf_printf(out, "%s{\"group\":", g ? "," : "");
                    sl_buf_append_json_string(out, groups[g], strlen(groups[g]));
                    sl_buf_printf(out, ",\"lag\":%lld,\"partitions\":[%s]}", (long long)total_lag,
                                  part.data ? part.data : "");
                    sl_buf_free(&part);
                    free(groups[g]);
                }
                free(groups);
            }
            sl_buf_append_str(out, "]}");
            free(ends);
        }
        sl_log_topics_free(topics, ntopics);
    }
    sl_buf_append_str(out, "]}\n");
}

static int64_t admin_on_headers(void *arg, sl_http_request *req, sl_http_response *resp)
{
    sl_admin *a = arg;
    const sl_config *cfg = atomic_load((_Atomic(const sl_config *) *)a->cfg_ref);
    bool builtin = !strcmp(req->path, "/health") || !strcmp(req->path, "/metrics") ||
                   !strcmp(req->path, "/api/topics");
    const admin_route *route = builtin ? NULL : find_route(a, req->path);
    bool open = strcmp(req->path, "/health") == 0 ||
                (strcmp(req->path, "/metrics") == 0 && cfg->admin_metrics_open) ||
                (route && route->open);
    if (!open && !sl_auth_request_ok(req, cfg->admin.token)) {
        if (sl_auth_wants_login(req)) { /* a browser asking for a page: the login form */
            sl_auth_redirect_login(resp);
            return 0;
        }
        sl_http_error(resp, 401, "missing or wrong bearer token (admin.token)");
        snprintf(resp->extra_headers, sizeof resp->extra_headers,
                 "WWW-Authenticate: Bearer realm=\"sluice-admin\"\r\n");
        return 0;
    }
    return 1 << 20; /* admin bodies (scenarios, members) are small */
}

static void admin_on_request(void *arg, sl_http_request *req, sl_http_response *resp)
{
    sl_admin *a = arg;
    bool builtin = !strcmp(req->path, "/health") || !strcmp(req->path, "/metrics") ||
                   !strcmp(req->path, "/api/topics");
    const admin_route *route = builtin ? NULL : find_route(a, req->path);
    if (route) { /* built-ins first: a dashboard route on "/" must not shadow them */
        if (req->body_too_large) {
            sl_http_error(resp, 413, "request body over 1 MiB");
            return;
        }
        route->handler(route->arg, req, resp);
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        sl_http_error(resp, 405, "%s is not allowed on %s", req->method, req->path);
        return;
    }
    if (strcmp(req->path, "/health") == 0) {
        resp->status = 200;
        sl_buf_append_str(&resp->body, "{\"status\":\"ok\"}\n");
    } else if (strcmp(req->path, "/metrics") == 0) {
        resp->status = 200;
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        sl_metrics_render(&resp->body);
    } else if (strcmp(req->path, "/api/topics") == 0) {
        resp->status = 200;
        sl_admin_topics_json(a->log, &resp->body);
    } else {
        sl_http_error(resp, 404, "no such endpoint: %s", req->path);
    }
}

int sl_admin_start(const sl_config *const *cfg_ref, sl_log *log, sl_admin **out)
{
    sl_admin *a = sl_calloc(1, sizeof *a);
    a->cfg_ref = cfg_ref;
    a->log = log;
    sl_http_handlers h = { .on_headers = admin_on_headers, .on_request = admin_on_request,
                           .arg = a };
    const sl_config *cfg = *cfg_ref;
    int rc = sl_http_server_start(TAG, cfg->admin.listen, cfg->admin.threads, &h, &a->http);
    if (rc < 0) {
        free(a);
        return rc;
    }
    SL_INFO(TAG, "listening on %s (port %d)", cfg->admin.listen, sl_http_server_port(a->http));
    *out = a;
    return 0;
}

int sl_admin_port(const sl_admin *a)
{
    return sl_http_server_port(a->http);
}

void sl_admin_stop(sl_admin *a)
{
    if (!a)
        return;
    sl_http_server_stop(a->http);
    for (int i = 0; i < atomic_load(&a->nroutes); i++)
        free(a->routes[i].prefix);
    free(a);
}
